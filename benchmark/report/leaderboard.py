"""The leaderboard for the console (never cutting a figure), as CSV, Markdown and LaTeX, and the factsheet's
Table 1 as a LaTeX snippet: views of the ranked table that ``rank.board`` computes."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pandas as pd
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from benchmark.measure.complexity import COUNTERS
from benchmark.record.keys import ordered_splits
from benchmark.report.results_txt import format_cell
from benchmark.report.tables import _memory_label, _psnr_header, _runtime_label, factsheet_row

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


def _score(value: float) -> str:
    return "n/a" if pd.isna(value) else format(value, ".4f" if value < 1e5 else ".4e")


def _interval(low: float, high: float, text: Any) -> str:
    return "" if pd.isna(low) or pd.isna(high) else f"{text(low)}–{text(high)}"


def flops_header(flops_counter: str | None) -> str:
    """The FLOPs column's header, naming the counter its figures are in: ``FLOPs [G, fvcore]``."""
    return f"FLOPs [G, {flops_counter}]" if flops_counter else "FLOPs [G]"


def _rank_cells(ranks: pd.Series) -> pd.Series:
    return ranks.map(lambda r: "n/a" if pd.isna(r) else str(r))


def _leaderboard_view(board: pd.DataFrame, flops_counter: str | None = None) -> pd.DataFrame:
    """The leaderboard for reading: figures rounded as the reports print them, the baseline ratio beside each."""
    def cells(col: str, spec: str) -> pd.Series:
        return board[col].map(lambda v: "n/a" if pd.isna(v) else format(v, spec))

    view = {"Team": board["team"].astype(str)}
    for col in (c for c in board.columns if c.endswith("_psnr")):
        psnr = cells(col, ".2f")
        view[f"PSNR[{col.removesuffix('_psnr')}]"] = (_with_suffix(psnr, board[f"{col}_diff"], " ({:+.2f})")
                                                      if f"{col}_diff" in board else psnr)
    for col, (header, spec) in _LEADERBOARD_FIGURES.items():
        if col in board:
            header = flops_header(flops_counter) if col == "flops" else header
            figure = cells(col, spec)
            view[header] = (_with_suffix(figure, board[f"{col}_ratio"], " (×{:.2f})")
                            if f"{col}_ratio" in board else figure)
    view["PSNR ok"] = board["psnr_ok"].map({True: "yes", False: "no"})
    if "psnr_ok_rounded_only" in board:
        view["PSNR ok rounded only"] = board["psnr_ok_rounded_only"].map({True: "yes", False: ""})
    view.update({col: board[col].astype(str) for col in _LEADERBOARD_RANKS if col in board})
    if "score" in board:  # four decimals, as the reports print scores; far-off scores in powers of ten
        view["Score"] = board["score"].map(_score)
        if "score_ci95_low" in board:
            view["Score 95% CI"] = [_interval(lo, hi, _score) for lo, hi in zip(board["score_ci95_low"],
                                                                               board["score_ci95_high"])]
        view["Rank"] = _rank_cells(board["rank"])
    elif "ave_ci95_low" in board:
        view["Runtime 95% CI [ms]"] = [_interval(lo, hi, lambda v: format(v, ".2f"))
                                       for lo, hi in zip(board["ave_ci95_low"], board["ave_ci95_high"])]
    if "tie" in board:
        view["Tie with"] = board["tie"].fillna("").astype(str)
    view.update({header: _rank_cells(board[col]) for col, header in _SUBTRACK_HEADERS.items() if col in board})
    return pd.DataFrame(view)


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
    if "Tie with" in view:  # one name a line, so that a long tie does not widen the table
        view["Tie with"] = view["Tie with"].str.replace("; ", "\n", regex=False)
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


def factsheet_latex(name: str, entry: dict[str, Any], flops_counter: str = "hooks", flops_g: float | None = None,
                    flops_published: bool = False) -> str:
    """Table 1 of the factsheet template for one model, with ``\\hline`` rules as the template has (no booktabs).

    The FLOPs column holds ``flops_counter``'s figure (``hooks``, the 2022/2023 counter, or ``fvcore``,
    as the organizers count from 2024): ``flops_g`` when given (``flops_published``: taken as an
    organizers' file publishes it), else the entry's own. A CPU run says so in its memory and runtime
    headers rather than posing as GPU figures.
    """
    splits = ordered_splits([entry])
    row = factsheet_row(entry, splits)
    memory, runtime = _memory_label([entry], splits), _runtime_label([entry])
    if flops_g is None:  # the counter's exact count, else the entry's own figure when it is that counter's
        exact = entry.get("complexity", {}).get(COUNTERS[flops_counter].field)
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
    frame = pd.DataFrame([cells])
    styler = (frame.style.hide(axis="index").format(escape="latex").format_index(escape="latex", axis=1)
              .set_table_styles([{"selector": rule, "props": ":hline;"} for rule in ("toprule", "midrule", "bottomrule")]))
    counter = COUNTERS[flops_counter].name
    counter += ", as published" if flops_published else ""
    caption = (f"{_latex_text(name)}: FLOPs ({counter}) and activations at a $256\\times256$ input; "
               f"runtime averaged over {_latex_text(', '.join(splits))}")
    return styler.to_latex(column_format="|" + "c|" * len(cells), position="h", position_float="centering",
                           caption=caption, label=f"tab:table1_{name}".replace("_", "-"))
