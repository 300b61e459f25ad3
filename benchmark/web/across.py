"""The years side by side: each year's rules (from ``years.toml``), and its baseline's and winner's rows of that
year's leaderboard, ranked by that year's rules from the inputs of that year (records or organizers' files)."""

from __future__ import annotations

from benchmark.core.years import YEARS, Year
from benchmark.rank.board import Ranking
from benchmark.report.leaderboard import leaderboard_columns
from benchmark.web.board import cell
from benchmark.web.inputs import Standing
from benchmark.web.markup import Pages, esc, link, name, notes

MISSING = "–"


def _rules(record: Year) -> dict[str, str]:
    if record.ranking == "rank-sum":
        ranking = "rank sums (runtime track; overall = sum of five ranks)"
    else:
        ranking = "exp-score: " + ", ".join(f"{figure} {weight:g}" for figure, weight in record.weights.items())
    floors = ", ".join(f"{split} ≥ {floor:.2f} dB" for split, floor in record.psnr_floors.items())
    return {"ranking": ranking, "FLOPs of record": record.flops_counter,
            "PSNR floors": floors + ("" if record.floors_applied else " (reported only)"),
            "GPU of record": record.gpu, "runs per model": str(record.runs), "baseline (team 00)": record.baseline}


def winner(standing: Standing) -> str | None:
    """The year's first place: rank 1 by score, or the runtime track's first (``ave_r`` 1) in a rank-sum year."""
    board = standing.ranking.board
    column = "rank" if "rank" in board else "ave_r" if "ave_r" in board else None
    if column is None:
        return None
    first = board.loc[board[column] == 1, "team"]
    return str(first.iloc[0]) if len(first) else None


def _cells(standing: Standing, team: str) -> dict[str, str]:
    board = standing.ranking.board
    index = list(board["team"].astype(str)).index(team)
    return {c.header: c.cells.iloc[index] for c in leaderboard_columns(board, standing.year)[1:]}


def _unranked(ranking: Ranking, year: int) -> dict[str, str]:
    """Why a year shows no baseline or winner: its baseline is not among its inputs, or is there without a runtime of
    record (a CPU dry run's entries have none, and an entry without one is not ranked)."""
    board, own = ranking.board, YEARS[year].baseline
    untimed = board["ave"].isna() if "ave" in board else None
    listed = own in set(board["team"].astype(str)) if "team" in board else False
    baseline = f"{own}: in the inputs without a runtime of record" if listed else f"{own}: not in the {year} inputs"
    if untimed is not None and len(board) and untimed.all():
        return {"baseline": baseline,
                "winner": "none: no entry has a runtime of record (a CPU dry run times on the CPU), so none is ranked"}
    return {"baseline": baseline, "winner": "none: not ranked without the baseline"}


def body(standings: dict[int, Standing], main: int, pages: Pages) -> str:
    """One column per year: its rules, its inputs, its baseline's and winner's figures as compare prints them."""
    years = list(YEARS)
    rows: dict[str, dict[int, str]] = {}
    for year in years:
        for label, value in _rules(YEARS[year]).items():
            rows.setdefault(label, {})[year] = esc(value)
        standing = standings.get(year)
        inputs = [f"<code>{esc(s.path.name)}</code>" for s in standing.sources] if standing else []
        rows.setdefault("inputs", {})[year] = ", ".join(inputs) or "no results given"
    for role in ("baseline", "winner"):
        for year in years:
            standing = standings.get(year)
            ranking = standing.ranking if standing else None
            team = None if ranking is None else ranking.baseline if role == "baseline" else winner(standing)
            if team is None:
                rows.setdefault(role, {})[year] = MISSING if ranking is None else _unranked(ranking, year)[role]
                continue
            text = name(team)
            rows.setdefault(role, {})[year] = link(pages.models[team], text) if year == main else text
            for header, value in _cells(standing, team).items():
                rows.setdefault(f"{role}: {header}", {})[year] = cell(value)
    head = "".join(f'<th scope="col">NTIRE {year}</th>' for year in years)
    lines = "".join(f'<tr><th scope="row">{esc(label)}</th>'
                    + "".join(f"<td>{cells.get(year, MISSING)}</td>" for year in years) + "</tr>"
                    for label, cells in rows.items())
    explained = notes([
        ("Each year is ranked by its own rules against its own baseline, from the inputs of that year: a harness "
         "record names its year; an organizers' file is the year whose baseline it holds; a table with published "
         "rank sums is 2023."),
        "Figures as compare prints them: each beside the ratio (×) or difference to that year's baseline.",
        "Pass every year's results file to --results (and the 2023 table to --table) to fill every column.",
    ])
    table = (f'<div class="scroll"><table class="facts across"><thead><tr><th scope="col"></th>{head}</tr></thead>'
             f"<tbody>{lines}</tbody></table></div>")
    return table + explained


def other_years(standings: dict[int, Standing], main: int) -> list[str]:
    """What the leaderboard page says of the inputs that belong to other years."""
    return [f"{source.path}: NTIRE {year} ({source.why}); shown on the across-years page"
            for year, standing in standings.items() if year != main for source in standing.sources]
