"""The sweep's driver: merges each finished team into the results and failures files, the console and the final table."""

from __future__ import annotations

import threading
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from benchmark.core.errors import HarnessError
from benchmark.core.files import companion
from benchmark.organizer import lasting
from benchmark.organizer.plan import Job, recorded_team
from benchmark.organizer.published import compare, disambiguate, read_published, verdict
from benchmark.rank.predict import prediction
from benchmark.record.keys import REFERENCE
from benchmark.record.store import Update, merge_failures, read_results, update_results
from benchmark.report.noise import prediction_line, ratio_warning, split_warnings
from benchmark.report.results_txt import write_results_txt


@dataclass
class Row:
    job: Job
    status: str = "pending"
    name: str = ""
    detail: str = ""
    wall: float | None = None
    findings: list[str] = field(default_factory=list)
    """Preflight findings, one line each."""
    published: dict[str, Any] | None = None


class Driver:
    """Merges each finished team into the results and failures files, the console and the final table.

    Only the driver writes the results file. It keeps a copy of every entry it has written (and of those the
    file held when the sweep began), and before each write, under the file's lock, puts back any that the file
    no longer holds as written: a team that truncates or edits the file while it runs loses nothing, and one line
    says so. Failures merge under their own lock, so that two sweeps on one results file keep both's.
    """

    def __init__(self, results: Path, rows: dict[str, Row], console: Console,
                 kept: dict[str, dict[str, Any]] | None = None, published: Published | None = None) -> None:
        self.results, self.rows, self.console = results, rows, console
        self.failures_path = companion(results, ".failures.json")
        self.logs = companion(results, ".sweep")
        self.lock = threading.Lock()
        self.kept: dict[str, dict[str, Any]] = dict(kept or {})
        self.published = published
        self.writer = uuid.uuid4().hex
        self.failures: dict[str, str] = {}
        self._merge_failures({}, set())

    def log_path(self, job: Job) -> Path:
        return self.logs / f"{job.label}.log"

    def _merge_failures(self, failed: dict[str, str], cleared: set[str]) -> None:
        """Re-read the failures file under its lock, apply this sweep's changes, write it back."""
        self.failures = merge_failures(self.failures_path, failed, cleared)

    def _keep(self, job: Job, outcome: dict[str, Any]) -> None:
        """Keep what a lasting failure ran on, so that a later sweep skips it while that is unchanged; forget it for a
        team that ran, or failed for a reason that does not last."""
        identity = outcome.get("identity") if not outcome.get("ok") and job.conditions is not None else None
        try:
            lasting.record(self.failures_path, job.label, None if not isinstance(identity, dict) else
                           {"reason": outcome["reason"], "conditions": job.conditions, **identity})
        except HarnessError as err:  # a team replaced the file with a folder: the others go on
            self.console.print(escape(f"note: {err}"), soft_wrap=True)

    def _write(self, job: Job, outcome: dict[str, Any], renamed: list[str]) -> Update:
        name, record = outcome["name"], outcome["record"]
        sweep = record.setdefault("sweep", {})
        sweep["written_by"] = self.writer
        sweep["wall_seconds"] = outcome.get("wall_seconds")
        if self.published is not None:
            record["published"] = self.published.compare(record, sweep.get("name_as_written", name), job.team_id)
        for old in renamed:
            self.kept.pop(old, None)
        update = update_results(self.results, name, record, outcome["splits"], keep=self.kept,
                                supersedes=tuple(renamed), derive=prediction)
        self.kept[name] = update.results[name]
        return update

    def settle_published(self) -> dict[str, dict[str, Any]]:
        """At the end of a sweep with ``--published``: every entry of the results file that a sweep of these teams
        wrote (this repository's, these years') compared with it, the teams run now and the others alike (none keeps
        a comparison with another file or an older content of it), a row matched by figures to several entries
        ambiguous for each of them, whichever run matched it; their figures as they were (the same identity, so
        nothing is set aside). Entry name → its block."""
        if self.published is None:
            return {}
        scope = {(row.job.payload["source"], row.job.payload.get("repo"), row.job.year) for row in self.rows.values()}
        with self.lock:
            try:
                entries = read_results(self.results) if self.results.is_file() else {}
            except HarnessError:
                return {}
            blocks = {name: self.published.compare(entry, str(sweep.get("name_as_written", name)), recorded_team(sweep))
                      for name, entry in entries.items() if isinstance(sweep := entry.get("sweep"), dict)
                      and (sweep.get("source"), sweep.get("repository"), entry.get("year")) in scope}
            disambiguate(blocks, self.results.name)
            for name, block in blocks.items():
                if entries[name].get("published") != block:
                    update = update_results(self.results, name, {**entries[name], "published": block},
                                            keep=self.kept, derive=prediction)
                    self.kept[name] = update.results[name]
                    self._say_restored(update)
        return blocks

    def _renamed(self, job: Job, name: str) -> list[str]:
        """Entries of the same team (same id, same repository) under another name: a team renamed in select_model.
        Its run with another ``--backend`` or ``--precision`` (``NAME@compile-fp16``) is another run, not a name."""
        if job.payload["source"] != "challenge":
            return []
        settings = job.payload["settings"]
        way = (settings.get("backend", REFERENCE[0]), settings.get("precision", REFERENCE[1]))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                entries = read_results(self.results) if self.results.is_file() else {}
        except HarnessError:
            return []
        return [other for other, entry in entries.items() if other != name and isinstance(entry.get("sweep"), dict)
                and entry["sweep"].get("source") == "challenge" and recorded_team(entry["sweep"]) == job.team_id
                and entry["sweep"].get("repository") == job.payload.get("repo")
                and bool(entry.get("dry_run")) == bool(job.payload.get("dry_run"))
                and (entry.get("backend") or REFERENCE[0], entry.get("precision") or REFERENCE[1]) == way]

    def _say_restored(self, update: Update) -> None:
        if update.restored:
            self.console.print(escape(f"note: {self.results} was changed behind the sweep's back; restored "
                                      f"{', '.join(update.restored)} from the sweep's own copy"), soft_wrap=True)

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
                    renamed = self._renamed(job, outcome["name"])
                    update = self._write(job, outcome, renamed)
                    self._say_restored(update)
                    write_results_txt(update.results, companion(self.results, ".txt"))
                    if renamed:
                        self.console.print(escape(f"{job.title}: now named {outcome['name']}; its entry as "
                                                  f"{', '.join(renamed)} is replaced (kept in the superseded file)"),
                                           soft_wrap=True)
                    replaced = update.replaced_line(outcome["name"])
                    if replaced:
                        self.console.print(escape(f"{job.title}: {replaced}"), soft_wrap=True)
                    self._merge_failures({}, {job.label})
                    self._keep(job, outcome)
                    row.status, row.name = "ran", outcome["name"]
                    row.findings = list(outcome.get("findings") or [])
                    row.published = outcome["record"].get("published")
                    row.detail = figures(outcome["splits"], [s["name"] for s in job.payload["splits"]]) or \
                        complexity(outcome["record"])
                    self.console.print(escape(f"{job.title}: ran {row.name} ({row.detail}) in {row.wall:.1f} s"
                                              + "".join(f"; preflight: {line}" for line in row.findings)),
                                       soft_wrap=True)
                    self._noise(job, row.name, outcome["splits"], update.results[row.name])
                    return
                outcome = {"ok": False, "reason": reason}
            self._merge_failures({job.label: outcome["reason"]}, set())
            self._keep(job, outcome)
            row.status, row.detail = "failed", outcome["reason"]
            self.console.print(escape(f"{job.title}: {outcome['reason']}"), soft_wrap=True)

    def close(self) -> None:
        """At the end of the sweep: the results file still holds every entry as written (else it is put back)."""
        if not self.kept:
            return
        with self.lock:
            update = update_results(self.results, None, keep=self.kept)
            if update.restored:
                self._say_restored(update)
                write_results_txt(update.results, companion(self.results, ".txt"))

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
        sweep = (entry or {}).get("sweep")
        sweep = sweep if isinstance(sweep, dict) else {}
        other = recorded_team(sweep)
        if entry is not None and sweep.get("source") == job.payload["source"] and \
                sweep.get("repository") == job.payload.get("repo") and other is not None and other != job.team_id:
            return (f"select_model names it {name}, the name of team {other:02}'s entry; give it its own name in its "
                    "select_model branch")
        return None


class Published:
    """The organizers' published results (``--published``, one file or several), to compare each entry with."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths, self.rows = paths, read_published(paths)

    @property
    def label(self) -> str:
        return ", ".join(p.name for p in self.paths)

    def compare(self, record: dict[str, Any], name_as_written: str, team_id: int) -> dict[str, Any]:
        return compare(record, self.rows, name_as_written, team_id, ", ".join(map(str, self.paths)))


def complexity(record: dict[str, Any]) -> str:
    """``params 0.151 M, FLOPs 9.83 G (fvcore), acts 41.68 M, conv 22`` of a record."""
    def cell(key: str, spec: str) -> str:
        value = record.get(key)
        return "n/a" if not isinstance(value, (int, float)) else format(value, spec)

    return (f"params {cell('num_parameters', '.6f')} M, FLOPs {cell('flops', '.4f')} G "
            f"({record.get('flops_counter')}), acts {cell('activations', '.4f')} M, conv {cell('num_conv', 'd')}")


def figures(entry: dict[str, Any], splits: list[str]) -> str:
    """``Set5 32.17 dB 41.2 ms``: PSNR and mean runtime per split, from split keys or an entry (a CPU dry run's,
    which holds no runtime of record: ``Set5 32.17 dB``)."""
    parts = []
    for s in splits:
        keys = entry.get(s, entry) if isinstance(entry.get(s), dict) else entry
        psnr, ms = keys.get(f"{s}_ave_psnr"), keys.get(f"{s}_ave_runtime")
        psnr_text = "PSNR n/a" if psnr is None else f"{psnr:.2f} dB"
        timed = "" if ms is None and entry.get("dry_run") is True else f" {'n/a' if ms is None else f'{ms:.1f}'} ms"
        parts.append(f"{s} {psnr_text}{timed}")
    return "; ".join(parts)


def summary_table(rows: list[Row], title: str, published: bool = False) -> Table:
    """One row per team: its status, figures or reason (and preflight findings, one line each), the published match."""
    table = Table(title=escape(title), title_justify="left")
    columns = ["team", "name", "status", "reason / figures", *(["published"] if published else []), "wall [s]"]
    for column in columns:
        table.add_column(column, justify="right" if column == "wall [s]" else "left",
                         overflow="fold" if column in ("reason / figures", "published") else "ellipsis")
    style = {"ran": "green", "skipped": "cyan", "failed": "red"}
    for row in rows:
        detail = "\n".join([row.detail, *(f"preflight: {line}" for line in row.findings)])
        table.add_row(escape(row.job.title), escape(row.name or "-"), f"[{style.get(row.status, '')}]{row.status}[/]",
                      escape(detail), *([escape(verdict(row.published))] if published else []),
                      "-" if row.wall is None else f"{row.wall:.1f}")
    return table
