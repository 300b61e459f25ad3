"""The leaderboard page and the trade-off plots page.

The table is compare's printed view (``benchmark.report.leaderboard_columns``, with the split runtimes and the
per-figure scores the console leaves out for width), followed by every other column of the leaderboard frame
(the device, and whatever is added to the frame later: score intervals, tie markers …) as ``leaderboard.csv``
writes it. Each cell keeps compare's text; its ``data-sort`` holds the frame's unrounded figure, so a click on a
header sorts numbers as numbers, with n/a last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from benchmark.core.years import get_year
from benchmark.rank.board import measured_on
from benchmark.rank.scoring import floor_columns
from benchmark.report.leaderboard import leaderboard_columns
from benchmark.web import svg
from benchmark.web.inputs import Standing
from benchmark.web.markup import Pages, esc, link, name, notes

HEADERS = {"device": "Device"}
"""Headers of the frame's columns that compare does not print (any other is shown under its own name)."""
FIRST = ("Team", "Rank", "Score", "ave_r", "overall_r")
"""Led by the name, then the rank and score (or, in a rank-sum year, the runtime and overall ranks); the other
columns in compare's order."""
AXES = {"ave": "runtime [ms, {where}]", "flops": "FLOPs [G, {counter}]", "params": "params [M]"}
"""The cost each trade-off plot puts on x, as the frame names it."""
TIES_SHOWN = 12
"""The most tied models a cell names: a leaderboard of thousands can tie one model with hundreds, and every page
would grow with the whole board (compare's leaderboard.csv lists them all)."""


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    """The frame's column the cells show (and sort on)."""
    cells: pd.Series
    sort: pd.Series | None
    """``data-sort`` per cell: the figure unrounded (``""`` for none); None to sort on the text."""


def _csv_cells(values: pd.Series) -> pd.Series:
    """A column as ``leaderboard.csv`` writes it (the site adds no rounding of its own), ``n/a`` where empty."""
    if pd.api.types.is_bool_dtype(values):
        return values.map({True: "yes", False: "no"})
    return values.map(lambda v: "n/a" if v is None or pd.isna(v) else str(v))


def _sort_key(value: float) -> str:
    """A figure as the script's ``Number()`` reads it: unrounded, ``""`` for none (sorted last)."""
    if pd.isna(value):
        return ""
    return repr(float(value)) if math.isfinite(value) else "Infinity" if value > 0 else "-Infinity"


def _sort_keys(values: pd.Series) -> pd.Series | None:
    if pd.api.types.is_bool_dtype(values):
        return values.map({True: "1", False: "0"})
    return values.map(_sort_key) if pd.api.types.is_numeric_dtype(values) else None


def _few_ties(text: str) -> str:
    """A cell of tied models, at most :data:`TIES_SHOWN` of them named, and how many there are in all."""
    names = text.split("; ")
    return text if len(names) <= TIES_SHOWN else "; ".join(names[:TIES_SHOWN]) + f"; … ({len(names):,} in all)"


def columns(standing: Standing) -> list[Column]:
    """The leaderboard's columns in page order: :data:`FIRST`, then compare's, then the frame's others."""
    board = standing.ranking.board
    view = leaderboard_columns(board, standing.year, every_figure=True)
    shown = [Column(c.header, c.shows[0], c.cells.map(_few_ties) if c.shows[0] == "tie" else c.cells,
                    None if c.shows[0] == "team" else _sort_keys(board[c.shows[0]])) for c in view]
    used = {col for c in view for col in c.shows}
    shown += [Column(HEADERS.get(col, col), col, _csv_cells(board[col]), _sort_keys(board[col]))
              for col in board.columns if col not in used]
    return sorted(shown, key=lambda c: FIRST.index(c.header) if c.header in FIRST else len(FIRST))


def _counter(standing: Standing) -> str:
    return get_year(standing.year).flops_counter


def cell(text: str) -> str:
    """compare's cell, its difference or ratio to the baseline set apart: ``26.92 <span>(-0.02)</span>``."""
    figure, sep, rest = text.partition(" (")
    return esc(figure) + (f' <span class="diff">({esc(rest)}</span>' if sep else "")


def table(standing: Standing, pages: Pages) -> str:
    """The sortable, filterable leaderboard; each team links to its page, the baseline's row is marked."""
    board, baseline = standing.ranking.board, standing.ranking.baseline
    cols = columns(standing)
    head = "".join(f'<th scope="col" data-key="{esc(c.key)}" data-type="{"text" if c.sort is None else "num"}">'
                   f'<button type="button">{esc(c.header)}</button></th>' for c in cols)
    rows = []
    ranked = list(board["rank"].notna()) if "rank" in board else [True] * len(board)
    shown = [(list(c.cells), None if c.sort is None else list(c.sort)) for c in cols[1:]]  # lists: linear in the rows
    for i, team in enumerate(board["team"].astype(str)):
        classes = " ".join(c for c, on in (("baseline", team == baseline), ("unranked", not ranked[i])) if on)
        cells = [f'<td class="team" data-sort="{esc(team)}">{link(pages.models[team], name(team), title=team)}</td>']
        for texts, sort in shown:
            key = "" if sort is None else f' data-sort="{esc(sort[i])}"'
            cells.append(f"<td{key}>{cell(texts[i])}</td>")
        rows.append(f'<tr class="{classes}" data-team="{esc(team)}">{"".join(cells)}</tr>')
    count = len(board)
    return (f'<div class="filter"><label>Filter <input type="search" data-filter="board" '
            f'placeholder="team name" aria-label="filter by team name"></label>'
            f'<span class="count" data-count="board">{count} of {count} shown</span></div>'
            f'<div class="scroll"><table id="board" class="board sortable"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def failures_table(standing: Standing, pages: Pages) -> str:
    """Every team the sweep could not measure, with its one-line reason, each linking to its page."""
    rows = "".join(f'<tr><td>{link(pages.failures[f.label], esc(f.title))}</td><td class="failed">{esc(f.reason)}</td>'
                   "</tr>" for f in standing.failures)
    return (f'<div class="scroll"><table class="facts failures"><thead><tr><th scope="col">team</th>'
            f'<th scope="col">why it was not measured</th></tr></thead><tbody>{rows}</tbody></table></div>')


def plots(standing: Standing, pages: Pages) -> str:
    """PSNR against runtime, FLOPs and params, one plot per PSNR column of the frame and cost."""
    board, baseline = standing.ranking.board, standing.ranking.baseline
    floors = floor_columns(standing.year)
    ranked = board["rank"].notna() if "rank" in board else board["psnr_ok"]
    figures, left_out = [], []
    for psnr in (c for c in board.columns if c.endswith("_psnr")):
        for cost, label in AXES.items():
            shown = board[psnr].notna() & board[cost].notna() & (board[cost] > 0)
            left_out += list(board.loc[~shown, "team"].astype(str))
            points = [svg.Point(team, float(x), float(y), pages.models[team],
                                "baseline" if team == baseline else "ranked" if ok else "unranked")
                      for team, x, y, ok in zip(board.loc[shown, "team"].astype(str), board.loc[shown, cost],
                                                board.loc[shown, psnr], ranked[shown])]
            if not points:
                continue
            x_label = label.format(counter=_counter(standing), where=measured_on(board, standing.year))
            y_label = f"PSNR[{psnr.removesuffix('_psnr')}] [dB]"
            title = f"{y_label} against {x_label}"
            figures.append(f"<figure>{svg.scatter(points, x_label, y_label, floors.get(psnr), title)}"
                           f"<figcaption>{esc(title)}: {len(points)} models</figcaption></figure>")
    if not figures:
        return "<p>No model has a PSNR: nothing to plot (a model without a checkpoint is timed, not scored).</p>"
    legend = notes([
        "Each point links to its model's page and is named on hover; lower cost and higher PSNR are better.",
        ("Green staircase: the Pareto frontier (no other model is both cheaper and better). Dashed: the year's "
         "PSNR floor."),
        f"Red: the baseline{' ' + baseline if baseline else ''}; blue: ranked; grey: not ranked.",
        *([f"Not plotted (no PSNR or no such figure): {', '.join(sorted(set(left_out)))}"] if left_out else []),
    ])
    return legend + f'<div class="plots">{"".join(figures)}</div>'
