"""A model's official score and rank foretold from its record: runtime as its ratio to the year's baseline timed
beside it, FLOPs and parameters as their exact ratios to the baseline's, scored by the year's rule.

The organizers average runtime over their two splits, (valid + test) / 2, and score each figure X
as exp(2·X/X_baseline) with the year's weights (:func:`benchmark.rank.scoring.exp_score`); a ratio
measured side by side on any device stands in for X/X_baseline on theirs. The score rises with the
runtime ratio, so its interval is the scores at the ratio's interval. Where the organizers
published their results (``published/ntire<year>.toml``), the model is placed among those entries
by the same rule: its figures are its ratios times the published baseline's, and the rank range
comes from the ratio's interval. A split that is not official (Set5, demo) gives a runtime ratio
but no PSNR verdict: the rank then assumes the model meets the floors, and says so.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.core.years import YEARS, get_year
from benchmark.measure.complexity import counter
from benchmark.measure.paired import MIN_PAIRS, PairedRatio, paired_ratio
from benchmark.rank.scoring import FIGURE_COLUMNS, PSNR_COLUMNS, SCORE_NAMES, exp_score, psnr_check
from benchmark.record.keys import DERIVED_KEYS, splits_of

PUBLISHED = Path(__file__).with_name("published")
"""One file per year whose organizers published their results: ``ntire<year>.toml``."""
CANDIDATE = "(this model)"
REFERENCE = "(baseline figures)"
"""The row every score is relative to; its PSNR is unknown, so it is never ranked itself."""


def published_table(year: int) -> pd.DataFrame | None:
    """``year``'s published leaderboard in its columns (``ave`` = (val_t + test_t) / 2), or None where none was
    published (a year without a file, or whose file holds the baseline only)."""
    path = PUBLISHED / f"ntire{year}.toml"
    if not path.is_file():
        return None
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    if not data.get("leaderboard", True):  # the baseline's figures only (2025): no table to be placed in
        return None
    table = pd.DataFrame(data["entry"])
    table["ave"] = (table["val_t"] + table["test_t"]) / 2
    table.attrs["source"] = data["source"]
    return table


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def place(ratios: dict[str, float], psnr: dict[str, float], year: int, *, psnr_rounded: bool = False,
          exclude: str | None = None) -> tuple[int | None, int]:
    """Where a model whose runtime, FLOPs and params are ``ratios`` × the baseline's would rank among ``year``'s
    published entries (less ``exclude``), and how many would be ranked with it; None when it would not be ranked.

    ``psnr`` holds its PSNR per official split (``valid``, ``test``); a split it lacks is taken at its floor.
    """
    table = published_table(year)
    if table is None:
        raise ValueError(f"no published results of {year} in {PUBLISHED}")
    record = get_year(year)
    base = table.loc[table["team"] == record.baseline].iloc[0]
    figures = {col: ratios[figure] * base[col] for figure, col in FIGURE_COLUMNS.items()}
    quality = {PSNR_COLUMNS[s]: psnr.get(s, floor) for s, floor in record.psnr_floors.items()}
    rows = pd.concat([table.loc[table["team"] != exclude],
                      pd.DataFrame([{"team": CANDIDATE, **figures, **quality},
                                    {"team": REFERENCE, **{col: base[col] for col in figures},
                                     **dict.fromkeys(quality, math.nan)}])], ignore_index=True)
    board = exp_score(rows, year, REFERENCE, psnr_rounded=psnr_rounded)
    ranked = list(board.loc[board["rank"].notna() & (board["team"] != REFERENCE), "team"])
    return (ranked.index(CANDIDATE) + 1 if CANDIDATE in ranked else None), len(ranked)


def _rank(runtime: PairedRatio, flops: float, params: float, psnr: dict[str, float], year: int
          ) -> dict[str, Any] | None:
    """The predicted rank among ``year``'s published entries (raw PSNR), the range from the runtime interval (none
    without one: the rank alone)."""
    table = published_table(year)
    if table is None:
        return None
    ratios = (runtime.ratio, *(runtime.interval or ()))
    point, *ends = (place({"runtime": r, "flops": flops, "params": params}, psnr, year) for r in ratios)
    if point[0] is None:
        return {"rank": None, "best": None, "worst": None, "of": point[1], "published": len(table),
                "text": f"not ranked in {year}: PSNR below the year's floor"}
    best, worst = ends or ((None, None), (None, None))
    span = ordinal(point[0]) if best[0] is None else \
        ordinal(best[0]) if best[0] == worst[0] else f"{ordinal(best[0])}–{ordinal(worst[0])}"
    assumed = "" if set(psnr) >= set(PSNR_COLUMNS) else ", assuming the PSNR floors are met"
    return {"rank": point[0], "best": best[0], "worst": worst[0], "of": point[1], "published": len(table),
            "text": f"{span} of {point[1]} in {year} (the {len(table)} published entries on the raw PSNR, and this "
                    f"model{assumed})", "source": table.attrs["source"]}


def _psnr(entry: dict[str, Any], year: int) -> tuple[dict[str, float], dict[str, Any] | None]:
    """The entry's PSNR per official split, and the floor verdict (raw and as printed), None without an official one."""
    psnr = {s: entry[f"{s}_ave_psnr"] for s in PSNR_COLUMNS if isinstance(entry.get(f"{s}_ave_psnr"), (int, float))}
    if not psnr:
        return psnr, None
    row = pd.DataFrame([{PSNR_COLUMNS[s]: v for s, v in psnr.items()}])
    return psnr, {"psnr": psnr, "floors": dict(get_year(year).psnr_floors), "ok": bool(psnr_check(row, year)[0]),
                  "ok_printed": bool(psnr_check(row, year, rounded=True)[0])}


def prediction(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry's ``DERIVED_KEYS``: {} when no split was timed beside the baseline; null figures, with the reason
    under ``prediction.note``, when they cannot be predicted."""
    paired = [s for s in splits_of(entry) if isinstance(entry.get(f"{s}_baseline_pairs"), dict)]
    if not paired:
        return {}
    nulls: dict[str, Any] = dict.fromkeys(DERIVED_KEYS)
    if entry.get("year") not in YEARS:
        return {**nulls, "prediction": {"note": f"the record's year {entry.get('year')!r} is not a challenge year"}}
    year = get_year(entry["year"])
    if year.ranking != "exp-score":
        return {**nulls, "prediction": {"note": f"{year.label} ranks by rank sums: there is no score to predict"}}
    timed = [s for s in paired if s in PSNR_COLUMNS] or paired
    baseline = entry[f"{timed[0]}_baseline"]
    complexity = entry.get("complexity") or {}
    field = counter(baseline["flops_counter"]).field
    if field not in complexity or "params" not in complexity:
        return {**nulls, "prediction": {"note": "the record has no exact FLOPs and parameter counts; re-run it"}}
    runtime = paired_ratio([entry[f"{s}_baseline_pairs"]["model"] for s in timed],
                           [entry[f"{s}_baseline_pairs"]["baseline"] for s in timed])
    flops, params = complexity[field] / baseline["flops"], complexity["params"] / baseline["params"]
    ends = zip(("low", "high"), runtime.interval or ())
    rows = pd.DataFrame([{"team": "base", "ave": 1.0, "flops": 1.0, "params": 1.0},
                         *({"team": label, "ave": r, "flops": flops, "params": params}
                           for label, r in (("point", runtime.ratio), *ends))])
    scores = exp_score(rows, entry["year"], "base").set_index("team")

    def interval(column: str) -> list[float] | None:
        return None if runtime.interval is None else [scores.loc["low", column], scores.loc["high", column]]

    psnr, verdict = _psnr(entry, entry["year"])
    official = [s for s in timed if s in PSNR_COLUMNS]
    note = (f"runtime on {', '.join(timed)}, not the official splits; PSNR floors not checked" if not official
            else f"runtime on {', '.join(official)} (the official average is over valid and test)"
            if set(official) != set(PSNR_COLUMNS) else "runtime averaged over valid and test, as the organizers do")
    eligible = verdict is None or verdict["ok"]
    images = sum(len(entry[f"{s}_baseline_pairs"]["model"][0]) for s in timed)
    return {
        "predicted_score": scores.loc["point", "score"],
        "predicted_score_ci95": interval("score"),
        "predicted_rank": _rank(runtime, flops, params, psnr, entry["year"]),
        "prediction": {
            "year": entry["year"], "baseline": baseline["name"], "splits": timed, "weights": dict(year.weights),
            "runtime_ratio": runtime.ratio, "runtime_ratio_ci95": None if runtime.interval is None else
            list(runtime.interval), "flops_ratio": flops,
            "params_ratio": params, **{SCORE_NAMES[f]: scores.loc["point", SCORE_NAMES[f]] for f in SCORE_NAMES},
            "score_runtime_ci95": interval("score_runtime"),
            "pairs": {"timed": runtime.pairs, "protocol": year.runs * images, "protocol_runs": year.runs,
                      "images": images, "needed": MIN_PAIRS},
            "subtracks": {f: eligible and all(r <= 1 for g, r in (("runtime", runtime.ratio), ("flops", flops),
                                                                  ("params", params)) if g != f)
                          for f in SCORE_NAMES},
            "psnr_floors": verdict, "note": note,
        },
    }
