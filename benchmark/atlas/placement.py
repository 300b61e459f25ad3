"""Where the atlas's entries stand: each year's published winner, the Pareto fronts of PSNR against each cost across
all years, and for a network of your own, whether it would be on the front of the latest year or which entries
dominate it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmark.core.years import get_year
from benchmark.rank.predict import published_table
from benchmark.rank.publications import shipped, shipped_header
from benchmark.rank.scoring import exp_score

COSTS = {"ratio": "runtime ratio to {reference}", "flops_fvcore": "FLOPs [G, fvcore]", "params": "params [M]"}
"""The costs PSNR is set against (lower is better): the runtime ratio measured here, fvcore FLOPs, parameters."""


def winner(year: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``year``'s first place by its own rules on its published figures, its repository id where published, and the
    atlas row matched to it (if any);
    ``team`` None with the reason where the year published no per-team results."""
    table = published_table(year)
    if table is None:
        header = shipped_header(year)
        why = (f"no per-team results of {year} are published; shipped: {header['source']}" if header else
               f"nothing of {year} is shipped in benchmark/rank/published/")
        return {"year": year, "team": None, "why": why}
    baseline = get_year(year).baseline
    board = exp_score(table, year, baseline)
    ranked = board.loc[board["rank"].notna() & (board["team"] != baseline)].sort_values("score")
    team = str(ranked.iloc[0]["team"])
    model = next((r["model"] for r in rows if r["year"] == year and (r["published"] or {}).get("name") == team), None)
    team_id = next((r.team_id for r in shipped(year) if r.team == team and r.team_id is not None), None)
    return {"year": year, "team": team, "team_id": team_id, "model": model, "score": float(ranked.iloc[0]["score"]),
            "why": f"first of {len(ranked)} ranked by the {year} rules on its published figures"}


@dataclass(frozen=True)
class Point:
    key: str
    """``source/model``: unique across the atlas."""
    x: float
    y: float


def points(rows: list[dict[str, Any]], psnr_set: str, cost: str) -> list[Point]:
    """The rows that have both figures, as points (cost, PSNR)."""
    found = []
    for row in rows:
        x, y = row.get(cost), row["psnr"].get(psnr_set)
        if isinstance(x, (int, float)) and isinstance(y, (int, float)) and x > 0:
            found.append(Point(f"{row['source']}/{row['model']}", float(x), float(y)))
    return found


def dominated_by(point: Point, others: list[Point]) -> list[str]:
    """The others at most as costly and at least as good, and better on one of the two."""
    return [o.key for o in others if o.key != point.key and o.x <= point.x and o.y >= point.y
            and (o.x < point.x or o.y > point.y)]


def front(found: list[Point]) -> list[str]:
    """The points no other dominates, by increasing cost."""
    return [p.key for p in sorted(found, key=lambda p: (p.x, -p.y)) if not dominated_by(p, found)]


def fronts(rows: list[dict[str, Any]], sets: list[str]) -> dict[str, dict[str, list[str]]]:
    """For each set and cost, the entries on the Pareto front across all years."""
    return {s: {cost: front(points(rows, s, cost)) for cost in COSTS} for s in sets}


def verdicts(rows: list[dict[str, Any]], sets: list[str]) -> list[dict[str, Any]]:
    """For each network given as a file, each set and cost: on the latest year's front (among that year's entries and
    itself), or dominated by which of them; and the same across every year."""
    years = [r["year"] for r in rows if not r["mine"]]
    latest = max(years) if years else None
    found = []
    for row in (r for r in rows if r["mine"]):
        key = f"{row['source']}/{row['model']}"
        for s in sets:
            for cost in COSTS:
                everyone = points(rows, s, cost)
                own = next((p for p in everyone if p.key == key), None)
                if own is None:
                    found.append({"model": row["model"], "set": s, "cost": cost, "year": latest, "on_front": None,
                                  "dominated_by": [], "all_years": []})
                    continue
                that_year = [p for p in everyone if p.key == key or any(
                    f"{r['source']}/{r['model']}" == p.key and r["year"] == latest and not r["mine"] for r in rows)]
                beaten = dominated_by(own, that_year)
                found.append({"model": row["model"], "set": s, "cost": cost, "year": latest, "on_front": not beaten,
                              "dominated_by": beaten, "all_years": dominated_by(own, everyone)})
    return found


def verdict_line(verdict: dict[str, Any], reference: str) -> str:
    """``MyNet, PSNR[Set5] against FLOPs [G, fvcore]: on the 2026 Pareto front`` or ``dominated by …``."""
    what = f"{verdict['model']}, PSNR[{verdict['set']}] against {COSTS[verdict['cost']].format(reference=reference)}"
    if verdict["on_front"] is None:
        return f"{what}: not placed (no such figure)"
    where = f"the {verdict['year']} Pareto front" if verdict["year"] else "the Pareto front"
    if verdict["on_front"]:
        text = f"{what}: would be on {where}"
    else:
        text = f"{what}: dominated on {where} by {', '.join(k.split('/', 1)[1] for k in verdict['dominated_by'])}"
    across = verdict["all_years"]
    return text + ("; on the front across every year" if not across else
                   f"; across every year dominated by {len(across)} entr{'y' if len(across) == 1 else 'ies'}")
