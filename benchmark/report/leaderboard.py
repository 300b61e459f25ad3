"""The leaderboard for the console (never cutting a figure), as CSV, Markdown and LaTeX, and the factsheet's
Table 1 as a LaTeX snippet: views of the ranked table that ``rank.board`` computes."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from benchmark.core.years import get_year
from benchmark.measure.complexity import COUNTERS
from benchmark.rank.board import measured_on
from benchmark.rank.scoring import SCORE_NAMES, floor_columns
from benchmark.record.keys import ordered_splits
from benchmark.report.results_txt import format_cell
from benchmark.report.tables import _psnr_header, factsheet_row

_LEADERBOARD_FIGURES = {"ave": ("Runtime [ms, {where}]", ".2f"), "params": ("Params [M]", ".3f"),
                        "flops": ("FLOPs [G, {counter}]", ".2f"), "acts": ("Acts [M]", ".2f"),
                        "mem": ("Mem [MiB, {where}]", ".2f"), "conv": ("Conv", ".0f")}
"""Each figure's header (its unit, where it was measured, the FLOPs counter) and how it is printed."""


_LEADERBOARD_RANKS = ("ave_r", "params_r", "flops_r", "acts_r", "mem_r", "mc_r", "overall_r")


_SUBTRACK_HEADERS = {"runtime_rank": "Runtime rank", "flops_rank": "FLOPs rank", "params_rank": "Params rank"}


_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
                   "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_text(text: str) -> str:
    """``text`` as LaTeX text: its special characters escaped."""
    return "".join(_LATEX_SPECIALS.get(c, c) for c in text)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""How a spreadsheet recognises a formula (``=HYPERLINK(…)``, ``+cmd|…``, ``@SUM(…)``) in a CSV cell it opens."""


def csv_text(table: pd.DataFrame) -> str:
    """``table`` as CSV, every text cell that a spreadsheet would run as a formula (a team's name is untrusted)
    prefixed with ``'``, which shows it as the text it is; numbers are written as they are."""
    def safe(value: Any) -> Any:
        return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value

    texts = table.select_dtypes(include=["object", "string"]).columns
    return table.assign(**{c: table[c].map(safe) for c in texts}).to_csv(index=False)


def _with_suffix(cells: pd.Series, extra: pd.Series, template: str) -> pd.Series:
    """``cells`` followed by ``extra`` in ``template`` (e.g. `` (×{:.2f})``) where ``extra`` has a value."""
    return cells + extra.map(lambda v: "" if pd.isna(v) else template.format(v))


def _interval(low: float, high: float, text: Any) -> str:
    return "" if pd.isna(low) or pd.isna(high) else f"{text(low)}–{text(high)}"


def _rank_cells(ranks: pd.Series) -> pd.Series:
    return ranks.map(lambda r: "n/a" if pd.isna(r) else str(r))


def figure_cells(values: pd.Series, spec: str) -> pd.Series:
    """Figures as the leaderboard prints them: ``format(v, spec)``, ``n/a`` where there is none; far-off figures (a
    foreign file's 1e308 would be 309 digits) in powers of ten."""
    return values.map(lambda v: "n/a" if pd.isna(v) else format(v, spec if abs(v) < 1e15 else ".4e"))


def _score_text(value: float) -> str:
    """A score as the reports print it: four decimals, far-off scores in powers of ten."""
    return "n/a" if pd.isna(value) else format(value, ".4f" if value < 1e5 else ".4e")


def score_cells(scores: pd.Series) -> pd.Series:
    """Scores as the reports print them (:func:`_score_text`)."""
    return scores.map(_score_text)


@dataclass(frozen=True)
class ViewColumn:
    """One column of the leaderboard as printed: its header, its cells, and the frame's columns they show (the
    figure first, then its difference or ratio to the baseline's), so that another view can sort on the figure."""

    header: str
    cells: pd.Series
    shows: tuple[str, ...]


def leaderboard_columns(board: pd.DataFrame, year: int, *, every_figure: bool = False) -> list[ViewColumn]:
    """The leaderboard of ``year`` for reading, column by column: figures rounded as the reports print them, the
    baseline ratio beside each, each unit and where runtime and memory were measured in its header, PSNR ok
    ``n/a`` where no floor of the year applies. ``every_figure`` adds what the console leaves out for width: each
    split's runtime beside the average (``Runtime[val] [ms]``) and each figure's score beside the final one
    (``Score[runtime]``)."""
    where, counter = measured_on(board, year), get_year(year).flops_counter
    columns = [ViewColumn("Team", board["team"].astype(str), ("team",))]
    for col in (c for c in board.columns if c.endswith("_psnr")):
        psnr, diff = figure_cells(board[col], ".2f"), f"{col}_diff"
        columns.append(ViewColumn(f"PSNR[{col.removesuffix('_psnr')}]",
                                  _with_suffix(psnr, board[diff], " ({:+.2f})") if diff in board else psnr,
                                  (col, diff) if diff in board else (col,)))
    for col, (header, spec) in _LEADERBOARD_FIGURES.items():
        if col in board:
            header = header.format(where=where, counter=counter)
            figure, ratio = figure_cells(board[col], spec), f"{col}_ratio"
            columns.append(ViewColumn(header, _with_suffix(figure, board[ratio], " (×{:.2f})") if ratio in board
                                      else figure, (col, ratio) if ratio in board else (col,)))
        if col == "ave" and every_figure:
            columns += [ViewColumn(f"Runtime[{split.removesuffix('_t')}] [ms, {where}]", figure_cells(board[split], spec),
                                   (split,)) for split in board.columns if split.endswith("_t")]
    floors = any(col in board for col in floor_columns(year))
    verdict = board["psnr_ok"].map({True: "yes", False: "no"}) if floors else board["psnr_ok"].map(lambda _: "n/a")
    columns.append(ViewColumn("PSNR ok", verdict, ("psnr_ok",)))
    if "psnr_ok_rounded_only" in board:
        columns.append(ViewColumn("PSNR ok rounded only", board["psnr_ok_rounded_only"].map({True: "yes", False: ""}),
                                  ("psnr_ok_rounded_only",)))
    columns += [ViewColumn(col, board[col].astype(str), (col,)) for col in _LEADERBOARD_RANKS if col in board]
    if "score" in board:
        columns.append(ViewColumn("Score", score_cells(board["score"]), ("score",)))
        if "score_ci95_low" in board:
            cells = [_interval(lo, hi, _score_text)
                     for lo, hi in zip(board["score_ci95_low"], board["score_ci95_high"])]
            columns.append(ViewColumn("Score 95% CI", pd.Series(cells, index=board.index),
                                      ("score_ci95_low", "score_ci95_high")))
        if every_figure:
            columns += [ViewColumn(f"Score[{col.removeprefix('score_')}]", score_cells(board[col]), (col,))
                        for col in board.columns if col.startswith("score_") and col in SCORE_NAMES.values()]
        columns.append(ViewColumn("Rank", _rank_cells(board["rank"]), ("rank",)))
    elif "ave_ci95_low" in board:
        cells = [_interval(lo, hi, lambda v: format(v, ".2f")) for lo, hi in zip(board["ave_ci95_low"],
                                                                               board["ave_ci95_high"])]
        columns.append(ViewColumn(f"Runtime 95% CI [ms, {where}]", pd.Series(cells, index=board.index),
                                  ("ave_ci95_low", "ave_ci95_high")))
    if "tie" in board:
        columns.append(ViewColumn("Tie with", board["tie"].fillna("").astype(str), ("tie",)))
    columns += [ViewColumn(header, _rank_cells(board[col]), (col,))
                for col, header in _SUBTRACK_HEADERS.items() if col in board]
    return columns


def _leaderboard_view(board: pd.DataFrame, year: int) -> pd.DataFrame:
    """The leaderboard for reading (:func:`leaderboard_columns`) as one frame."""
    return pd.DataFrame({column.header: column.cells for column in leaderboard_columns(board, year)})


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


def leaderboard_table(board: pd.DataFrame, title: str, notes: list[str], year: int) -> Leaderboard:
    """The leaderboard for the console (:class:`Leaderboard`): print it with ``crop=False``, so that a table wider
    than the console is shown whole rather than cut at the console's edge."""
    view = _leaderboard_view(board, year)
    view = view.apply(lambda col: col.str.replace(" (", "\n(", regex=False) if col.name != "Team" else col)
    if "Tie with" in view:  # one name a line, so that a long tie does not widen the table
        view["Tie with"] = view["Tie with"].str.replace("; ", "\n", regex=False)
    return Leaderboard(view, title, notes)


def write_leaderboard(board: pd.DataFrame, out_dir: str | Path, title: str, notes: list[str], year: int
                      ) -> list[Path]:
    """``leaderboard.csv`` (every figure, unrounded), ``.md`` and ``.tex`` (the rounded view) in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    view = _leaderboard_view(board, year)
    paths = [out_dir / f"leaderboard.{ext}" for ext in ("csv", "md", "tex")]
    paths[0].write_text(csv_text(board), encoding="utf-8")
    bullets = "".join(f"- {note}\n" for note in notes)
    align = ["left"] + ["right"] * (len(view.columns) - 1)
    markdown = view.to_markdown(index=False, disable_numparse=True, colalign=align)
    paths[1].write_text(f"# {title}\n\n{markdown}\n\n{bullets}")
    latex = view.to_latex(index=False, escape=True, caption=latex_text(title), label="tab:leaderboard",
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
    on_cpu = str((entry.get("environment") or {}).get("device", "")).startswith("cpu")
    if flops_g is None:  # the counter's exact count, else the entry's own figure when it is that counter's
        exact = entry.get("complexity", {}).get(COUNTERS[flops_counter].field)
        own = entry.get("flops_counter", "hooks") == flops_counter
        flops_g = exact / 1e9 if exact is not None else row["flops_g"] if own else None
    cells = {_psnr_header(s): format_cell(row["psnr"][s], ".2f") for s in splits}
    cells.update({  # the template's headers, unless the figures are CPU ones
        "Params[M]": format_cell(row["params_m"], ".4f"),
        "FLOPs[G]": format_cell(flops_g, ".3f"),
        "CPU peak RSS [MiB]" if on_cpu else "GPU Mem.[M]": format_cell(row["mem_m"], ".2f"),
        "Activation[M]": format_cell(row["activations_m"], ".3f"),
        "Average Runtime [ms, CPU wall clock]" if on_cpu else "Average Runtime[ms]": format_cell(row["runtime_ms"], ".2f"),
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
    counter = COUNTERS[flops_counter].name
    counter += ", as published" if flops_published else ""
    caption = (f"{latex_text(name)}: FLOPs ({counter}) and activations at a $256\\times256$ input; "
               f"runtime averaged over {latex_text(', '.join(ordered_splits([entry])))}")
    return styler.to_latex(column_format="|" + "c|" * len(cells), position="h", position_float="centering",
                           caption=caption, label=f"tab:table1_{name}".replace("_", "-"))
