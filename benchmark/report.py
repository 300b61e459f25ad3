"""Views of the measured figures: rich tables for the console, and the factsheet's Table 1 beside the published one.

Nothing here measures anything: every function takes the plain data that ``complexity.measure``
or the results file holds and returns a table to print; the exports at the end write the same views
to files (the leaderboard of ``benchmark.compare``, the factsheet's Table 1 in LaTeX).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from benchmark.complexity import fold_indices
from benchmark.results import format_cell, ordered_splits
from benchmark.scoring import SCORE_NAMES

PUBLISHED_TABLE1: dict[str, dict[str, float]] = {
    # Table 1 of the FRL Team 05 (SRneXt) factsheet, NTIRE 2023 ESR: the team's own RTX 3090.
    "factsheet": {"psnr_val": 29.02, "psnr_test": 27.02, "params_m": 0.2445, "flops_g": 15.376,
                  "mem_m": 448.6826, "activations_m": 422.903, "runtime_ms": 91.16, "conv": 158},
    # The organizers' row for the same model in the NTIRE 2023 ESR report (their GPU and protocol).
    "organizers": {"psnr_val": 29.02, "psnr_test": 27.02, "params_m": 0.245, "flops_g": 15.37,
                   "mem_m": 355.94, "activations_m": 422.90, "runtime_ms": 282.42, "conv": 158},
}
"""The published figures that ``--reproduce-table1`` compares against (model 05_SRneXt)."""


def _g(value: int | float) -> str:
    return f"{value / 1e9:.4f}"


def complexity_table(name: str, figures: dict[str, Any], counter: str) -> Table:
    """The three counters side by side for one model; ``counter`` (hooks or fvcore) is the year's figure of record."""
    shape = "×".join(str(d) for d in figures["input_shape"])
    table = Table(title=escape(f"{name}: complexity at 1×{shape}"), title_justify="left")
    for column in ("counter", "FLOPs/MACs [G]", "activations [M]", "conv", "params [M]", ""):
        table.add_column(escape(column), justify="left" if column in ("counter", "") else "right")
    params = f"{figures['params'] / 1e6:.6f}"
    record = {"hooks": "", "fvcore": ""} | {counter: "figure of record"}
    table.add_row("official hooks (NTIRE 2022/2023)", _g(figures["flops"]), f"{figures['activations'] / 1e6:.6f}",
                  str(figures["conv"]), params, record["hooks"])
    table.add_row("fvcore (NTIRE 2024 on)", _g(figures["fvcore_flops"]), "", "", params, record["fvcore"])
    table.add_row("ptflops, aten backend", _g(figures["ptflops_macs"]), "", "", params, "")
    return table


def unseen_table(figures: dict[str, Any], limit: int = 8) -> Table | None:
    """Functional convolutions and matmuls the hook counter misses (the cause of most disagreements)."""
    rows = [u for u in figures["unseen"] if u["macs"]]
    if not rows:
        return None
    table = Table(title="MACs the official hook counter does not see", title_justify="left")
    for column in ("operator", "inside module", "calls", "MACs [G]"):
        table.add_column(escape(column), justify="right" if column in ("calls", "MACs [G]") else "left")
    for u in rows[:limit]:
        table.add_row(u["op"], escape(u["module"]), str(u["calls"]), _g(u["macs"]))
    return table


def layers_table(figures: dict[str, Any], limit: int = 10) -> Table:
    """The module calls with the most official MACs, and any flagged by the official Linear rule."""
    rows = sorted(figures["layers"], key=lambda r: -r["macs"])[:limit]
    rows += [r for r in figures["layers"] if r["note"] and r not in rows]
    table = Table(title=f"Largest layers (official hook counter, {len(figures['layers'])} counted calls)",
                  title_justify="left")
    for column in ("module", "type", "output", "MACs [G]", "share", "note"):
        table.add_column(escape(column), justify="right" if column in ("MACs [G]", "share") else "left")
    for r in rows:
        table.add_row(escape(r["name"]), r["type"], "×".join(map(str, r["output_shape"])), _g(r["macs"]),
                      f"{r['share']:.1%}", escape(r["note"]))
    return table


def _memory_label(entries: list[dict[str, Any]], splits: list[str]) -> str:
    kinds = {e.get(f"{s}_memory_kind") for e in entries for s in splits} - {None}
    return "CPU peak RSS [MiB]" if kinds == {"cpu_peak_rss"} else "GPU Mem. [M]"


def _runtime_label(entries: list[dict[str, Any]]) -> str:
    devices = {e.get("environment", {}).get("device", "") for e in entries}
    return "Average Runtime [ms, CPU]" if devices and all(d.startswith("cpu") for d in devices) else "Average Runtime [ms]"


def _psnr_header(split: str) -> str:
    return {"valid": "PSNR[val]", "test": "PSNR[test]", "hybrid_test": "PSNR[test]"}.get(split, f"PSNR[{split}]")


def _whole(value: Any) -> Any:
    """A count written as a float (``36.0``) as the int it is, so that it prints as a count."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def factsheet_row(entry: dict[str, Any], splits: list[str]) -> dict[str, Any]:
    """One model's Table 1 figures: PSNR per split, complexity, worst-split memory, mean of split runtimes.

    ``flops_g`` is the entry's figure of record (its year's counter, ``counter``); ``hooks_g`` and
    ``fvcore_g`` are the two counters' figures, where the entry has them.
    """
    runtimes = [entry[f"{s}_ave_runtime"] for s in splits if f"{s}_ave_runtime" in entry]
    memory = [entry[f"{s}_memory"] for s in splits if entry.get(f"{s}_memory") is not None]
    complexity = entry.get("complexity", {})
    return {
        "psnr": {s: entry.get(f"{s}_ave_psnr") for s in splits},
        "ssim": {s: entry.get(f"{s}_ave_ssim") for s in splits},
        "params_m": entry.get("num_parameters"),
        "flops_g": entry.get("flops"),
        "counter": entry.get("flops_counter", "hooks"),
        "hooks_g": complexity["flops"] / 1e9 if "flops" in complexity else None,
        "fvcore_g": complexity["fvcore_flops"] / 1e9 if "fvcore_flops" in complexity else None,
        "mem_m": max(memory) if memory else None,
        "activations_m": entry.get("activations"),
        "runtime_ms": sum(runtimes) / len(runtimes) if runtimes else None,
        "conv": _whole(entry.get("num_conv")),
        "variant": entry.get("variant", "faithful"),
        "checkpoint": entry.get("checkpoint"),
    }


def _table(title: str, headers: list[str], rows: list[list[str]]) -> Table:
    """A rich table whose cells are never cut: each column is at least as wide as its widest cell, headers fold."""
    table = Table(title=escape(title), title_justify="left")
    for i, header in enumerate(headers):
        width = max((len(row[i]) for row in rows), default=1)
        table.add_column(escape(header), justify="left" if i == 0 else "right", min_width=width, overflow="fold")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table


def factsheet_table(results: dict[str, dict[str, Any]]) -> Group:
    """Table 1 of the factsheet, one row per model, as two tables (quality per split, then efficiency) so that
    no cell is ever cut on a narrow console; both FLOPs counters, the figure of record marked."""
    entries = list(results.values())
    splits = ordered_splits(entries)
    with_ssim = [s for s in splits if any(e.get(f"{s}_ave_ssim") is not None for e in entries)]
    quality, efficiency, unscored = [], [], []
    for name, entry in results.items():
        row = factsheet_row(entry, splits)
        if row["checkpoint"] is None:
            unscored.append(name)
        quality.append([name, *[format_cell(row["psnr"][s], ".2f") for s in splits],
                        *[format_cell(row["ssim"][s], ".4f") for s in with_ssim]])
        timed = f" ({row['variant']})" if row["variant"] != "faithful" else ""
        flops = {c: format_cell(row[f"{c}_g"], ".3f") + ("*" if row["counter"] == c else "") for c in ("hooks", "fvcore")}
        efficiency.append([name, format_cell(row["params_m"], ".4f"), flops["hooks"], flops["fvcore"],
                           format_cell(row["mem_m"], ".2f"), format_cell(row["activations_m"], ".3f"),
                           format_cell(row["runtime_ms"], ".2f") + timed, format_cell(row["conv"], "d")])
    headers = ["Model", *[_psnr_header(s) for s in splits], *[_psnr_header(s).replace("PSNR", "SSIM") for s in with_ssim]]
    notes = ["* the FLOPs figure of record of the model's year (official hooks in 2023, fvcore from 2024); "
             "FLOPs and activations at a 256×256 input"]
    if unscored:
        notes.append(f"PSNR n/a: no checkpoint for {', '.join(unscored)} (timed and profiled with random weights)")
    return Group(
        _table("Factsheet Table 1: quality", headers, quality),
        _table("Factsheet Table 1: efficiency", ["Model", "Params[M]", "FLOPs[G] hooks", "FLOPs[G] fvcore",
                                                 _memory_label(entries, splits), "Activation[M]",
                                                 _runtime_label(entries), "Conv2d"], efficiency),
        Text("\n".join(notes)))


def table1_comparison(entry: dict[str, Any]) -> Group:
    """SRneXt's measured Table 1 beside the factsheet and the organizers' row, with why each differs."""
    splits = ordered_splits([entry])
    row = factsheet_row(entry, splits)
    on_cpu = entry.get("environment", {}).get("device", "cpu").startswith("cpu")
    test_split = "test" if "test" in splits else "hybrid_test"
    # Functional convolutions called by the network itself, outside any module: SRneXt's two mean shifts.
    unseen = sum(u["macs"] for u in entry["complexity"].get("unseen", []) if u["module"].startswith("model ("))
    measured = {
        "psnr_val": row["psnr"].get("valid"),
        "psnr_test": row["psnr"].get(test_split),
        "params_m": row["params_m"],
        "flops_g": row["flops_g"],
        "mem_m": row["mem_m"],
        "activations_m": row["activations_m"],
        "runtime_ms": row["runtime_ms"],
        "conv": row["conv"],
    }
    no_data = "needs the official data: --data_dir with DIV2K_valid / --include_test (--hybrid_test for 2023's test)"
    reasons = {
        "psnr_val": no_data if measured["psnr_val"] is None else "same images, same official PSNR: differences are round-off",
        "psnr_test": no_data if measured["psnr_test"] is None else "same images, same official PSNR: differences are round-off",
        "params_m": "the factsheet cuts 244,558 to four decimals (0.2445); the organizers round to three",
        "flops_g": (f"official hooks miss the two functional mean-shift 1×1 convs; hooks + those {unseen:,} MACs = "
                    f"{(entry['complexity']['flops'] + unseen) / 1e9:.4f} G, the factsheet's figure"
                    if unseen else "official hook counter; functional convolutions are not counted"),
        "mem_m": ("CPU peak RSS of the whole process, not comparable with a GPU's max_memory_allocated" if on_cpu
                  else "depends on the GPU, the allocator and the largest test image; the organizers measured on their GPU"),
        "activations_m": "same counter, same module tree",
        "runtime_ms": ("CPU timing; the published figures are GPU runtimes (factsheet: RTX 3090; organizers: their GPU, "
                       "cold first image)" if on_cpu else
                       "depends on the GPU (factsheet: RTX 3090) and the protocol (warm-up, synchronisation, cold start)"),
        "conv": "same counter, same module tree (26 layers × 6 + head + tail)",
    }
    labels = {"psnr_val": "PSNR[val]", "psnr_test": "PSNR[test]", "params_m": "Params[M]", "flops_g": "FLOPs[G]",
              "mem_m": "CPU peak RSS [MiB]" if on_cpu else "GPU Mem.[M]", "activations_m": "Activation[M]",
              "runtime_ms": "Average Runtime[ms]" + (" (CPU)" if on_cpu else ""), "conv": "Conv2d"}
    formats = {"psnr_val": ".2f", "psnr_test": ".2f", "params_m": ".6f", "flops_g": ".4f", "mem_m": ".2f",
               "activations_m": ".6f", "runtime_ms": ".2f", "conv": "d"}
    table = Table(title="Table 1 of the SRneXt factsheet, reproduced", title_justify="left")
    for column in ("figure", "measured", "factsheet", "Δ factsheet", "organizers", "Δ organizers", "note"):
        table.add_column(escape(column), justify="left" if column == "figure" else "right")
    notes = []
    for index, (key, label) in enumerate(labels.items(), start=1):
        value, spec = measured[key], formats[key]
        cells = [escape(label), format_cell(value, spec)]
        for source in ("factsheet", "organizers"):
            published = PUBLISHED_TABLE1[source][key]
            cells += [format(published, spec if spec != ".6f" else ".4f"),
                      "" if value is None else format(value - published, "+.4g")]
        table.add_row(*cells, escape(f"[{index}]"))
        notes.append(f"[{index}] {label}: {reasons[key]}")
    return Group(table, Text("\n".join(notes)))


def profile_view(name: str, result: dict[str, Any], top_ops: int = 8) -> Group:
    """``profile.profile_model``'s data as tables: time per module (repeated layers folded), top ops, host work."""
    folded: dict[tuple[str, str], dict[str, Any]] = {}
    for row in result["modules"]:
        if 0 < row["depth"] <= 3:
            entry = folded.setdefault((fold_indices(row["module"]), row["type"]), {"calls": 0, "ms": 0.0, "share": 0.0})
            entry["calls"] += row["calls"]
            entry["ms"] += row["ms"]
            entry["share"] += row["share"]
    shape = "×".join(map(str, result["input_shape"]))
    modules = Table(title=escape(f"{name}: forward time by module, 1×{shape} on {result['device']} "
                                 f"({result['wall_ms']:.1f} ms wall, profiled)"), title_justify="left")
    for column in ("module", "type", "calls", "ms", "share"):
        modules.add_column(column, justify="left" if column in ("module", "type") else "right")
    for (path, type_name), row in folded.items():
        if row["share"] >= 0.005:
            modules.add_row(escape(path), type_name, str(row["calls"]), f"{row['ms']:.2f}", f"{row['share']:.1%}")
    ops = Table(title="Operators by self time", title_justify="left")
    for column in ("operator", "in module", "calls", "self ms", "share"):
        ops.add_column(column, justify="left" if column in ("operator", "in module") else "right")
    for row in result["ops"][:top_ops]:
        ops.add_row(row["op"], escape(row["module"] or "(model)"), str(row["calls"]), f"{row['self_ms']:.2f}",
                    f"{row['share']:.1%}")
    if not result["host_work"]:
        return Group(modules, ops, Text("host-side work inside forward: none"))
    host = Table(title="Host-side work inside forward (build it once, as a buffer, outside forward)",
                 title_justify="left")
    for column in ("kind", "operator", "module", "per forward", "source"):
        host.add_column(column, justify="right" if column == "per forward" else "left")
    for row in result["host_work"]:
        host.add_row(row["kind"], row["op"], escape(row["module"] or "(model)"), str(row["calls"]),
                     escape(row["source"]))
    return Group(modules, ops, host)


# Exports of benchmark.compare: the leaderboard for the console, as CSV, Markdown and LaTeX, and the
# factsheet's Table 1 as a LaTeX snippet.

_LEADERBOARD_FIGURES = {"ave": ("Runtime [ms]", ".2f"), "params": ("Params [M]", ".3f"), "flops": ("FLOPs [G]", ".2f"),
                        "acts": ("Acts [M]", ".2f"), "mem": ("Mem [M]", ".2f"), "conv": ("Conv", ".0f")}
_LEADERBOARD_RANKS = ("ave_r", "params_r", "flops_r", "acts_r", "mem_r", "mc_r", "overall_r")
_SUBTRACK_HEADERS = {"runtime_rank": "Runtime rank", "flops_rank": "FLOPs rank", "params_rank": "Params rank"}
_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
                   "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _latex_text(text: str) -> str:
    return "".join(_LATEX_SPECIALS.get(c, c) for c in text)


def _with_suffix(cells: pd.Series, extra: pd.Series, template: str) -> pd.Series:
    """``cells`` followed by ``extra`` in ``template`` (e.g. `` (×{:.2f})``) where ``extra`` has a value."""
    return cells + extra.map(lambda v: "" if pd.isna(v) else template.format(v))


def flops_header(flops_counter: str | None) -> str:
    """The FLOPs column's header, naming the counter its figures are in: ``FLOPs [G, fvcore]``."""
    return f"FLOPs [G, {flops_counter}]" if flops_counter else "FLOPs [G]"


def _rank_cells(ranks: pd.Series) -> pd.Series:
    return ranks.map(lambda r: "n/a" if pd.isna(r) else str(r))


def figure_cells(values: pd.Series, spec: str) -> pd.Series:
    """Figures as the leaderboard prints them: ``format(v, spec)``, ``n/a`` where there is none."""
    return values.map(lambda v: "n/a" if pd.isna(v) else format(v, spec))


def score_cells(scores: pd.Series) -> pd.Series:
    """Scores as the reports print them: four decimals, far-off scores in powers of ten."""
    return scores.map(lambda v: "n/a" if pd.isna(v) else format(v, ".4f" if v < 1e5 else ".4e"))


@dataclass(frozen=True)
class ViewColumn:
    """One column of the leaderboard as printed: its header, its cells, and the frame's columns they show (the
    figure first, then its difference or ratio to the baseline's), so that another view can sort on the figure."""

    header: str
    cells: pd.Series
    shows: tuple[str, ...]


def leaderboard_columns(board: pd.DataFrame, flops_counter: str | None = None, *, every_figure: bool = False
                        ) -> list[ViewColumn]:
    """The leaderboard for reading, column by column: figures rounded as the reports print them, the baseline
    ratio beside each. ``every_figure`` adds what the console leaves out for width: each split's runtime beside
    the average (``Runtime[val] [ms]``) and each figure's score beside the final one (``Score[runtime]``)."""
    columns = [ViewColumn("Team", board["team"].astype(str), ("team",))]
    for col in (c for c in board.columns if c.endswith("_psnr")):
        psnr, diff = figure_cells(board[col], ".2f"), f"{col}_diff"
        columns.append(ViewColumn(f"PSNR[{col.removesuffix('_psnr')}]",
                                  _with_suffix(psnr, board[diff], " ({:+.2f})") if diff in board else psnr,
                                  (col, diff) if diff in board else (col,)))
    for col, (header, spec) in _LEADERBOARD_FIGURES.items():
        if col in board:
            header = flops_header(flops_counter) if col == "flops" else header
            figure, ratio = figure_cells(board[col], spec), f"{col}_ratio"
            columns.append(ViewColumn(header, _with_suffix(figure, board[ratio], " (×{:.2f})") if ratio in board
                                      else figure, (col, ratio) if ratio in board else (col,)))
        if col == "ave" and every_figure:
            columns += [ViewColumn(f"Runtime[{split.removesuffix('_t')}] [ms]", figure_cells(board[split], spec),
                                   (split,)) for split in board.columns if split.endswith("_t")]
    columns.append(ViewColumn("PSNR ok", board["psnr_ok"].map({True: "yes", False: "no"}), ("psnr_ok",)))
    if "psnr_ok_rounded_only" in board:
        columns.append(ViewColumn("PSNR ok rounded only", board["psnr_ok_rounded_only"].map({True: "yes", False: ""}),
                                  ("psnr_ok_rounded_only",)))
    columns += [ViewColumn(col, board[col].astype(str), (col,)) for col in _LEADERBOARD_RANKS if col in board]
    if "score" in board:
        columns.append(ViewColumn("Score", score_cells(board["score"]), ("score",)))
        if every_figure:
            columns += [ViewColumn(f"Score[{col.removeprefix('score_')}]", score_cells(board[col]), (col,))
                        for col in board.columns if col.startswith("score_") and col in SCORE_NAMES.values()]
        columns.append(ViewColumn("Rank", _rank_cells(board["rank"]), ("rank",)))
    columns += [ViewColumn(header, _rank_cells(board[col]), (col,))
                for col, header in _SUBTRACK_HEADERS.items() if col in board]
    return columns


def _leaderboard_view(board: pd.DataFrame, flops_counter: str | None = None) -> pd.DataFrame:
    """The leaderboard for reading (:func:`leaderboard_columns`) as one frame."""
    return pd.DataFrame({column.header: column.cells for column in leaderboard_columns(board, flops_counter)})


_TEAM_FOLD = 12
"""The narrowest a leaderboard's Team column folds to (names are the only cells that ever fold)."""


def _console_header(column: str) -> str:
    """A view column's console header, with a space where it may wrap: ``PSNR[val]`` → ``PSNR [val]``."""
    return re.sub(r"(?<=\w)\[", " [", column)


def _words(text: str) -> int:
    """The terminal cells of ``text``'s longest word (a wide character takes two)."""
    return max((cell_len(word) for line in text.splitlines() for word in line.split()), default=0)


def _lines(text: str) -> int:
    """The terminal cells of ``text``'s longest line."""
    return max((cell_len(line) for line in text.splitlines()), default=0)


class Leaderboard:
    """The leaderboard for the console: title, one or more tables, notes; no cell or header ever cut.

    Each figure column is exactly as wide as its widest cell (the figure above its difference or ratio to the
    baseline's) or header word, so figures never wrap, fold or lose a character; headers wrap at their spaces
    (``PSNR`` over ``[val]``). Team names may fold, to no fewer than ``_TEAM_FOLD`` characters. When the
    columns do not fit the console's width in one table, they are split into tables of whole groups (quality:
    PSNR and its floor checks; ranking: score and ranks; efficiency figures), each led by the Team column,
    a group itself split by columns only when it alone is too wide; a table that cannot fit at all (one
    column too wide beside the names) is rendered at its own width, wider than the console: print it with
    ``crop=False``.
    """

    def __init__(self, view: pd.DataFrame, title: str, notes: list[str]) -> None:
        self.view, self.title, self.notes = view, title, notes
        names = list(view.iloc[:, 0])
        self.team_width = max([_lines(name) for name in names] + [_words("Team")])
        self.columns = list(view.columns[1:])
        self.widths = {col: max([_lines(cell) for cell in view[col]] + [_words(_console_header(col))])
                       for col in self.columns}

    def _group(self, column: str) -> str:
        if column.startswith("PSNR"):
            return "quality"
        return "figures" if column.split(" [")[0] in _FIGURE_HEADERS else "ranking"

    def _needed(self, columns: list[str], team: int) -> int:
        """The width of a table of ``columns`` led by a Team column ``team`` wide: cells, padding, borders."""
        return team + sum(self.widths[col] for col in columns) + 3 * (len(columns) + 1) + 1

    def layout(self, width: int) -> list[list[str]]:
        """The view's columns (Team apart) split into the tables that show them at ``width``."""
        if self._needed(self.columns, min(self.team_width, _TEAM_FOLD)) <= width:
            return [self.columns]
        groups: dict[str, list[str]] = {"quality": [], "ranking": [], "figures": []}
        for col in self.columns:
            groups[self._group(col)].append(col)

        def pack(team: int) -> list[list[str]]:
            tables: list[list[str]] = []
            for group in (g for g in groups.values() if g):
                if tables and self._needed(tables[-1] + group, team) <= width:
                    tables[-1] += group
                    continue
                tables += self._split(group, team, width)
            return tables

        whole, folded = pack(self.team_width), pack(min(self.team_width, _TEAM_FOLD))
        return whole if len(whole) <= len(folded) else folded

    def _split(self, group: list[str], team: int, width: int) -> list[list[str]]:
        """``group`` in as few tables as fit ``width``, of as even a number of columns as can be (one column per
        table where even that is too wide)."""
        for parts in range(1, len(group) + 1):
            size, extra = divmod(len(group), parts)
            bounds = [i * size + min(i, extra) for i in range(parts + 1)]
            tables = [group[a:b] for a, b in itertools.pairwise(bounds)]
            if all(self._needed(table, team) <= width for table in tables):
                return tables
        return [[col] for col in group]

    def _table(self, columns: list[str]) -> Table:
        table = Table(title_justify="left")
        table.add_column("Team", justify="left", overflow="fold", min_width=min(self.team_width, _TEAM_FOLD))
        for col in columns:
            table.add_column(Text(_console_header(col)), justify="right", width=self.widths[col])
        for _, row in self.view.iterrows():
            table.add_row(Text(str(row.iloc[0])), *(Text(row[col]) for col in columns))
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        yield Text(self.title, style="bold")
        for columns in self.layout(width):
            needed = self._needed(columns, min(self.team_width, _TEAM_FOLD))
            yield from console.render(self._table(columns), options.update_width(max(width, needed)))
        if self.notes:
            yield Text("\n".join(self.notes))


_FIGURE_HEADERS = {header.split(" [")[0] for header, _ in _LEADERBOARD_FIGURES.values()}
"""The efficiency figures' headers without their units (``FLOPs [G, fvcore]`` → ``FLOPs``)."""


def leaderboard_table(board: pd.DataFrame, title: str, notes: list[str], flops_counter: str | None = None
                      ) -> Leaderboard:
    """The leaderboard for the console (:class:`Leaderboard`): print it with ``crop=False``, so that a table wider
    than the console is shown whole rather than cut at the console's edge."""
    view = _leaderboard_view(board, flops_counter)
    view = view.apply(lambda col: col.str.replace(" (", "\n(", regex=False) if col.name != "Team" else col)
    return Leaderboard(view, title, notes)


def write_leaderboard(board: pd.DataFrame, out_dir: str | Path, title: str, notes: list[str],
                      flops_counter: str | None = None) -> list[Path]:
    """``leaderboard.csv`` (every figure, unrounded), ``.md`` and ``.tex`` (the rounded view) in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    view = _leaderboard_view(board, flops_counter)
    paths = [out_dir / f"leaderboard.{ext}" for ext in ("csv", "md", "tex")]
    board.to_csv(paths[0], index=False)
    bullets = "".join(f"- {note}\n" for note in notes)
    align = ["left"] + ["right"] * (len(view.columns) - 1)
    markdown = view.to_markdown(index=False, disable_numparse=True, colalign=align)
    paths[1].write_text(f"# {title}\n\n{markdown}\n\n{bullets}")
    latex = view.to_latex(index=False, escape=True, caption=_latex_text(title), label="tab:leaderboard",
                          column_format="l" + "r" * (len(view.columns) - 1))
    paths[2].write_text(latex.replace("×", r"$\times$"))
    return paths


def table1_cells(entry: dict[str, Any], flops_counter: str = "hooks", flops_g: float | None = None) -> dict[str, str]:
    """One model's Table 1 under the factsheet template's headers, as the template prints each figure.

    The FLOPs column holds ``flops_counter``'s figure (``hooks``, the 2022/2023 counter, or ``fvcore``,
    as the organizers count from 2024): ``flops_g`` when given, else the entry's own. A CPU run says so
    in its memory and runtime headers rather than posing as GPU figures.
    """
    splits = ordered_splits([entry])
    row = factsheet_row(entry, splits)
    memory, runtime = _memory_label([entry], splits), _runtime_label([entry])
    if flops_g is None:  # the counter's exact count, else the entry's own figure when it is that counter's
        exact = entry.get("complexity", {}).get("fvcore_flops" if flops_counter == "fvcore" else "flops")
        own = entry.get("flops_counter", "hooks") == flops_counter
        flops_g = exact / 1e9 if exact is not None else row["flops_g"] if own else None
    cells = {_psnr_header(s): format_cell(row["psnr"][s], ".2f") for s in splits}
    cells.update({  # the template's headers, unless the figures are CPU ones
        "Params[M]": format_cell(row["params_m"], ".4f"),
        "FLOPs[G]": format_cell(flops_g, ".3f"),
        memory if "CPU" in memory else "GPU Mem.[M]": format_cell(row["mem_m"], ".2f"),
        "Activation[M]": format_cell(row["activations_m"], ".3f"),
        runtime if "CPU" in runtime else "Average Runtime[ms]": format_cell(row["runtime_ms"], ".2f"),
        "Conv2d": format_cell(row["conv"], "d"),
    })
    return cells


def factsheet_latex(name: str, entry: dict[str, Any], flops_counter: str = "hooks", flops_g: float | None = None,
                    flops_published: bool = False) -> str:
    """Table 1 of the factsheet template for one model (:func:`table1_cells`), with ``\\hline`` rules as the
    template has (no booktabs); ``flops_published``: ``flops_g`` is taken as an organizers' file publishes it."""
    cells = table1_cells(entry, flops_counter, flops_g)
    frame = pd.DataFrame([cells])
    styler = (frame.style.hide(axis="index").format(escape="latex").format_index(escape="latex", axis=1)
              .set_table_styles([{"selector": rule, "props": ":hline;"} for rule in ("toprule", "midrule", "bottomrule")]))
    counter = "fvcore" if flops_counter == "fvcore" else "the official hook counter"
    counter += ", as published" if flops_published else ""
    caption = (f"{_latex_text(name)}: FLOPs ({counter}) and activations at a $256\\times256$ input; "
               f"runtime averaged over {_latex_text(', '.join(ordered_splits([entry])))}")
    return styler.to_latex(column_format="|" + "c|" * len(cells), position="h", position_float="centering",
                           caption=caption, label=f"tab:table1_{name}".replace("_", "-"))
