"""A page per model: its leaderboard row, Table 1, the three FLOP counters with what each misses, the runtime
distribution, memory, the record's identity and environment, its sweep log and its visual crops; and a page per
team a sweep could not measure, with its reason and log. Every figure is read from the model's record as the
harness wrote it (or the organizers' file as published) and printed as the reports print it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.core.files import companion, tail_of
from benchmark.core.years import get_year
from benchmark.measure.complexity import COUNTERS
from benchmark.rank.board import entry_flops
from benchmark.record.keys import ordered_splits
from benchmark.report.leaderboard import table1_cells
from benchmark.report.results_txt import format_cell
from benchmark.web import board, svg
from benchmark.web.inputs import Failure, Source, Standing
from benchmark.web.markup import esc, facts, grid, name, notes

LOG_LINES = 30
"""How much of a sweep log a page shows: the end, where a team's failure or last figures are."""
LINE_CHARS = 400
"""The most of one log line a page shows (read from the log's last LOG_LINES × LINE_CHARS bytes only)."""


def _g(count: Any) -> str:
    """An exact count in G, as the console's complexity table prints it."""
    return "n/a" if not isinstance(count, (int, float)) else f"{count / 1e9:.4f}"


def _text(value: Any) -> str:
    return "n/a" if value is None else esc(value)


def leaderboard_rows(standing: Standing) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each model's row of the leaderboard, one figure per line, exactly as the leaderboard page shows it, beside
    the frame's row: the columns computed once for every model (a site of thousands of models builds in linear
    time)."""
    frame = standing.ranking.board
    shown = [(esc(c.header), list(c.cells)) for c in board.columns(standing)[1:]]
    return {team: (facts((header, board.cell(cells[i])) for header, cells in shown), row)
            for i, (team, row) in enumerate(zip(frame["team"].astype(str), frame.to_dict("records")))}


def table1(team: str, entry: dict[str, Any], year: int) -> str:
    """Table 1 of the factsheet for this model, FLOPs by the year's counter (as published for an organizers' file)."""
    counter = get_year(year).flops_counter
    flops, published = entry_flops(entry, team, counter)
    cells = table1_cells(entry, counter, flops)
    how = f"FLOPs by {counter}" + (", as published in the file" if published else "") + "; at a 256×256 input"
    return grid(list(cells), [[esc(v) for v in cells.values()]]) + notes([how])


def counters(entry: dict[str, Any], year: int) -> str:
    """The three counters side by side, the year's figure of record marked, and what each one misses."""
    complexity = entry.get("complexity")
    if not isinstance(complexity, dict):
        return ("<p>The file holds only the FLOPs of record "
                f"({esc(format_cell(entry.get('flops'), '.2f'))} G, as published): no exact counts to compare.</p>")
    record = get_year(year).flops_counter
    rows = [[esc(c.label), esc(_g(complexity.get(c.field))), "figure of record" if c.key == record else "",
             esc(c.misses)] for c in COUNTERS.values()]
    parts = [grid(["counter", "FLOPs/MACs [G]", "", "what it does not count"], rows, text=(2, 3))]
    unseen = [u for u in complexity.get("unseen") or [] if isinstance(u, dict) and u.get("macs")]
    if unseen:
        parts.append("<h3>MACs the official hook counter does not see</h3>")
        rows = [[esc(u.get("op")), esc(u.get("module")), esc(u.get("calls")), esc(_g(u.get("macs")))] for u in unseen]
        parts.append(grid(["operator", "inside module", "calls", "MACs [G]"], rows, text=(1,)))
    shape = "×".join(map(str, complexity.get("input_shape") or [])) or "n/a"
    counts = (f"counted at 1×{shape}; params {format_cell(complexity.get('params'), ',')}, "
              f"activations {format_cell(complexity.get('activations'), ',')}, "
              f"conv {format_cell(complexity.get('conv'), ',')} (official hooks)")
    parts.append(notes([counts]))
    return "".join(parts)


def runtime(entry: dict[str, Any]) -> str:
    """Each split's runtime as recorded: the official mean, the spread of the first run, each run's mean, and a
    histogram of the per-image times (the mean over the runs of each image)."""
    rows, plots = [], []
    for split in ordered_splits([entry]):
        stats = entry.get(f"{split}_runtime_stats")
        stats = stats if isinstance(stats, dict) else {}
        runs = entry.get(f"{split}_runs_ave_runtime")
        per_run = ", ".join(format_cell(v, ".2f") for v in runs) if isinstance(runs, list) else "n/a"
        rows.append([esc(split), esc(format_cell(entry.get(f"{split}_ave_runtime"), ".2f")),
                     *(esc(format_cell(stats.get(k), ".2f")) for k in ("median", "std", "first", "mean_without_first")),
                     esc(per_run), esc(" / ".join(f"{k} {stats[k]}" for k in ("clock", "warmup", "repeat", "runs")
                                                  if stats.get(k) is not None) or "n/a")])
        times = entry.get(f"{split}_runtime")
        if isinstance(times, list) and times and all(isinstance(t, (int, float)) for t in times):
            title = f"{split}: runtime per image ({len(times)} images)"
            plots.append(f"<figure>{svg.histogram([float(t) for t in times], 'runtime [ms]', title)}"
                         f"<figcaption>{esc(title)}</figcaption></figure>")
    if not rows:
        return "<p>No split was timed.</p>"
    table = grid(["split", "mean [ms]", "median", "std", "first (cold)", "mean without first", "each run's mean",
                  "timing"], rows, text=(7,))
    return table + (f'<div class="plots">{"".join(plots)}</div>' if plots else "")


def memory(entry: dict[str, Any]) -> str:
    """Each split's memory: the organizers' never-reset figure and, where recorded, the split's own peak."""
    rows = [[esc(split), esc(format_cell(entry.get(f"{split}_memory"), ".2f")),
             esc(format_cell(entry.get(f"{split}_peak_memory"), ".2f")), _text(entry.get(f"{split}_memory_kind"))]
            for split in ordered_splits([entry])]
    how = ("official: CUDA max_memory_allocated read after the split and never reset (earlier splits included); "
           "cpu_peak_rss: the process's peak resident memory on CPU")
    return grid(["split", "memory [MiB] (official)", "split's own peak [MiB]", "kind"], rows, text=(3,)) + notes([how])


def identity(entry: dict[str, Any]) -> str:
    """What the figures were measured with: checkpoint and its sha256, code, harness, environment, sweep inputs."""
    checkpoint = entry.get("checkpoint")
    if not any(k in entry for k in ("checkpoint", "environment", "harness_version")):
        return "<p>Not in the file: an organizers' results file holds figures only (no checkpoint, no environment).</p>"
    rows = []
    if isinstance(checkpoint, dict):
        rows += [("checkpoint", _text(checkpoint.get("path"))),
                 ("checkpoint sha256", f'<span class="mono">{_text(checkpoint.get("sha256"))}</span>')]
        rows += [("also loaded", f'{_text(c.get("path"))} <span class="mono">{_text(c.get("sha256"))}</span>')
                 for c in (checkpoint.get("all") or [])[1:] if isinstance(c, dict)]
    else:
        rows.append(("checkpoint", "none: random weights, timed and profiled, PSNR n/a" if checkpoint is None
                     else _text(checkpoint)))
    for key in ("variant", "year", "harness_version", "data_range"):
        if key in entry:
            rows.append((esc(key.replace("_", " ")), _text(entry[key])))
    if "code_sha256" in entry:
        rows.append(("team code sha256", f'<span class="mono">{_text(entry["code_sha256"])}</span>'))
    environment = entry.get("environment")
    if isinstance(environment, dict):
        rows += [(esc(key.replace("_", " ")), _text(value)) for key, value in environment.items()]
    sweep = entry.get("sweep")
    if isinstance(sweep, dict):
        rows += [(esc(f"sweep {key.replace('_', ' ')}"), _text(sweep[key]))
                 for key in ("repository", "team_id", "select_model", "host") if key in sweep]
        inputs = sweep.get("inputs")
        if isinstance(inputs, dict):
            rows += [(esc(path), f'<span class="mono">{_text(digest)}</span>') for path, digest in inputs.items()]
    return facts(rows)


def log_tail(path: Path | None) -> str:
    """The last :data:`LOG_LINES` lines of a sweep log, or why there is none."""
    if path is None:
        return "<p>No sweep log beside the results file.</p>"
    lines = tail_of(path, LOG_LINES * LINE_CHARS).splitlines()[-LOG_LINES:]  # a team may print gigabytes, or one line
    shown = [line if len(line) <= LINE_CHARS else f"{line[:LINE_CHARS]}… (cut)" for line in lines]
    return f"<p>Last {len(lines)} lines of <code>{esc(path)}</code>:</p><pre>{esc(chr(10).join(shown))}</pre>"


def sweep_log(entry: dict[str, Any], source: Source) -> Path | None:
    """The log the sweep kept for this entry's team: ``R.sweep/<label>.log``, labelled as the sweep labels jobs."""
    sweep = entry.get("sweep")
    if not isinstance(sweep, dict) or not isinstance(sweep.get("team_id"), int):
        return None
    team_id = f"{sweep['team_id']:02}"
    label = team_id if sweep.get("source") == "challenge" else f"{entry.get('year')}-{team_id}"
    path = companion(source.path, ".sweep") / f"{label}.log"
    return path if path.is_file() else None


def model_page(standing: Standing, team: str, shown: tuple[str, dict[str, Any]], crops: str) -> tuple[str, str, str]:
    """Title, heading and body of ``team``'s page (``shown``: its entry of :func:`leaderboard_rows`; ``crops``: its
    visual comparison, already HTML)."""
    ranking = standing.ranking
    row_html, row = shown
    label = get_year(standing.year).label
    if "rank" in row:
        verdict = (f"not ranked under the {label} rules (below a PSNR floor)" if pd.isna(row["rank"]) else
                   f"rank {row['rank']} of {int(ranking.board['rank'].notna().sum())} under the {label} rules")
    elif "ave_r" in row:
        verdict = (f"runtime rank {row['ave_r']}, overall rank {row['overall_r']} of {len(ranking.board)} under "
                   f"the {label} rules")
    else:
        verdict = (f"not ranked under the {label} rules (its baseline was not measured); "
                   f"{'PSNR ok' if row['psnr_ok'] else 'below a PSNR floor'}")
    tag = '<span class="tag">baseline</span>' if team == ranking.baseline else ""
    source = standing.origins[team]
    body = [f'<p class="subtitle">{esc(verdict)}; from <code>{esc(source.path)}</code></p>',
            "<h2>On the leaderboard</h2>", row_html]
    entry = standing.entries.get(team)
    if entry is not None:
        body += ["<h2>Table 1</h2>", table1(team, entry, standing.year),
                 "<h2>FLOPs by three counters</h2>", counters(entry, standing.year),
                 "<h2>Runtime</h2>", runtime(entry), "<h2>Memory</h2>", memory(entry),
                 "<h2>Record</h2>", identity(entry)]
        log = sweep_log(entry, source)
        if log is not None:
            body += ["<h2>Sweep log</h2>", log_tail(log)]
        body += ["<h2>Visual comparison</h2>", crops]
    else:
        body.append(f"<p>A row of the published table <code>{esc(source.path)}</code>: no record beyond it.</p>")
    return team, name(team) + tag, "".join(body)


def failure_page(failure: Failure) -> tuple[str, str, str]:
    """Title, heading and body of the page of a team the sweep could not measure."""
    body = [f'<p class="subtitle">not measured; recorded in <code>{esc(failure.results)}</code>\'s failures</p>',
            f'<h2>Why</h2><p class="failed">{esc(failure.reason)}</p>', "<h2>Sweep log</h2>", log_tail(failure.log)]
    return f"{failure.title} (failed)", esc(failure.title) + ' <span class="tag">failed</span>', "".join(body)
