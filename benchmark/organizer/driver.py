"""The sweep's driver: merges each finished team into the results and failures files, the console and the final table."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from benchmark.core.errors import HarnessError
from benchmark.core.files import companion, write_atomic
from benchmark.organizer.plan import Job
from benchmark.rank.predict import prediction
from benchmark.record.store import read_results, update_results
from benchmark.report.noise import prediction_line, ratio_warning, split_warnings
from benchmark.report.results_txt import write_results_txt


@dataclass
class Row:
    job: Job
    status: str = "pending"
    name: str = ""
    detail: str = ""
    wall: float | None = None


class Driver:
    """Merges each finished team into the results and failures files, the console and the final table."""

    def __init__(self, results: Path, rows: dict[str, Row], console: Console) -> None:
        self.results, self.rows, self.console = results, rows, console
        self.failures_path = companion(results, ".failures.json")
        self.logs = companion(results, ".sweep")
        self.lock = threading.Lock()
        self.failures: dict[str, str] = {}
        if self.failures_path.is_file():
            try:
                loaded = json.loads(self.failures_path.read_text())
                self.failures = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self.failures = {}

    def log_path(self, job: Job) -> Path:
        return self.logs / f"{job.label}.log"

    def _write_failures(self) -> None:
        self.failures_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.failures_path, json.dumps(dict(sorted(self.failures.items())), indent=2) + "\n")

    def finish(self, job: Job, outcome: dict[str, Any]) -> None:
        with self.lock:
            row = self.rows[job.label]
            row.wall = outcome.get("wall_seconds")
            if "log" in outcome:
                self.logs.mkdir(parents=True, exist_ok=True)
                self.log_path(job).write_text(outcome["log"], encoding="utf-8")
            if outcome.get("ok"):
                reason = self._clash(job, outcome["name"])
                if reason is None:
                    update = update_results(self.results, outcome["name"], outcome["record"], outcome["splits"],
                                            derive=prediction)
                    write_results_txt(update.results, companion(self.results, ".txt"))
                    replaced = update.replaced_line(outcome["name"])
                    if replaced:
                        self.console.print(escape(f"{job.title}: {replaced}"), soft_wrap=True)
                    self.failures.pop(job.label, None)
                    self._write_failures()
                    row.status, row.name = "ran", outcome["name"]
                    row.detail = figures(outcome["splits"], [s["name"] for s in job.payload["splits"]])
                    self.console.print(escape(f"{job.title}: ran {row.name} ({row.detail}) in {row.wall:.1f} s"),
                                  soft_wrap=True)
                    self._noise(job, row.name, outcome["splits"], update.results[row.name])
                    return
                outcome = {"ok": False, "reason": reason}
            self.failures[job.label] = outcome["reason"]
            self._write_failures()
            row.status, row.detail = "failed", outcome["reason"]
            self.console.print(escape(f"{job.title}: {outcome['reason']}"), soft_wrap=True)

    def _noise(self, job: Job, name: str, splits: dict[str, dict[str, Any]], entry: dict[str, Any]) -> None:
        """The warning lines of a finished team's splits and its predicted score, as test_demo.py prints them."""
        lines = [line for split, keys in splits.items() for line in
                 [*split_warnings(name, split, keys),
                  ratio_warning(name, split, keys) if f"{split}_baseline_ratio" in keys else None] if line]
        predicted = prediction_line(name, entry)
        for line in [*lines, *([predicted] if predicted else [])]:
            self.console.print(escape(f"{job.title}: {line}"), soft_wrap=True)

    def _clash(self, job: Job, name: str) -> str | None:
        if not self.results.is_file():
            return None
        try:
            entry = read_results(self.results).get(name)
        except HarnessError:
            return None
        sweep = (entry or {}).get("sweep") or {}
        other = sweep.get("team_id")
        if entry is not None and sweep.get("source") == job.payload["source"] and \
                sweep.get("repository") == job.payload.get("repo") and other is not None and other != job.team_id:
            return (f"select_model names it {name}, the name of team {other:02}'s entry; give it its own name in its "
                    "select_model branch")
        return None


def figures(entry: dict[str, Any], splits: list[str]) -> str:
    """``Set5 32.17 dB 41.2 ms``: PSNR and mean runtime per split, from split keys or an entry."""
    parts = []
    for s in splits:
        keys = entry.get(s, entry) if isinstance(entry.get(s), dict) else entry
        psnr, ms = keys.get(f"{s}_ave_psnr"), keys.get(f"{s}_ave_runtime")
        psnr_text = "PSNR n/a" if psnr is None else f"{psnr:.2f} dB"
        parts.append(f"{s} {psnr_text} {'n/a' if ms is None else f'{ms:.1f}'} ms")
    return "; ".join(parts)


def summary_table(rows: list[Row], title: str) -> Table:
    table = Table(title=escape(title), title_justify="left")
    for column in ("team", "name", "status", "reason / figures", "wall [s]"):
        table.add_column(column, justify="right" if column == "wall [s]" else "left",
                         overflow="fold" if column == "reason / figures" else "ellipsis")
    style = {"ran": "green", "skipped": "cyan", "failed": "red"}
    for row in rows:
        table.add_row(escape(row.job.title), escape(row.name or "-"), f"[{style.get(row.status, '')}]{row.status}[/]",
                      escape(row.detail), "-" if row.wall is None else f"{row.wall:.1f}")
    return table
