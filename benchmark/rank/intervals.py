"""Uncertainty on the leaderboard: each model's runtime interval from its record, the score interval it gives under
the year's rule, and which models' intervals overlap (a statistical tie).

A record timed beside the baseline (``--vs-baseline``) carries its paired times: the relative
interval of its runtime ratio (bootstrap over images and runs, ``measure.paired.paired_ratio``) is put
on its mean runtime, where it has the pairs for one (``measure.paired.MIN_PAIRS``; from fewer it has
none, and counts as its point). A record of several runs without a baseline ratio gets Student's t
interval of the mean over its runs (none when they are all equal). The score interval is the year's
score of the interval's ends (:func:`benchmark.rank.scoring.exp_score`, against the baseline's point
figures); a rank-sum year
has no score, so its ties are read on the runtime interval, its main track.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import pandas as pd

from benchmark.measure.paired import no_interval_reason, paired_ratio
from benchmark.measure.stats import mean_ci, overlapping
from benchmark.rank.scoring import exp_score, year_record

REFERENCE = "(baseline point figures)"
"""The row every interval's score is relative to, so that the baseline's own runtime can have an interval too."""


def runtime_interval(entry: dict[str, Any], timed: list[str]) -> tuple[float, float, str] | None:
    """The 95% interval of the entry's runtime (the mean over ``timed`` splits) and what it comes from, or None."""
    if entry.get("dry_run") is True or not timed:  # no runtime of record to put an interval on
        return None
    ave = statistics.fmean(entry[f"{s}_ave_runtime"] for s in timed)
    pairs = [entry.get(f"{s}_baseline_pairs") for s in timed]
    if all(isinstance(p, dict) for p in pairs):
        estimate = paired_ratio([p["model"] for p in pairs], [p["baseline"] for p in pairs])
        if estimate.interval is None:  # too few pairs: the point alone (``measure.paired.MIN_PAIRS``)
            return None
        low, high = estimate.interval
        return ave * low / estimate.ratio, ave * high / estimate.ratio, "baseline ratio"
    runs = [entry.get(f"{s}_runs_ave_runtime") for s in timed]
    if all(isinstance(r, list) for r in runs) and len({len(r) for r in runs}) == 1:
        interval = mean_ci([statistics.fmean(means) for means in zip(*runs)])
        if interval is not None:
            return interval[0], interval[1], "runs"
    return None


def interval_columns(results: dict[str, dict[str, Any]], timed: list[str]) -> dict[str, list[Any]]:
    """The runtime interval columns of every model, in order (``ave_ci95_low``, ``ave_ci95_high``, ``interval_from``);
    empty when no record has an interval."""
    found = [runtime_interval(entry, timed) for entry in results.values()]
    if all(f is None for f in found):
        return {}
    return {"ave_ci95_low": [math.nan if f is None else f[0] for f in found],
            "ave_ci95_high": [math.nan if f is None else f[1] for f in found],
            "interval_from": [None if f is None else f[2] for f in found]}


def with_intervals(board: pd.DataFrame, year: int, baseline: str | None, *, psnr_rounded: bool = False
                   ) -> pd.DataFrame:
    """``board`` with ``score_ci95_low``/``score_ci95_high`` (exp-score years) and ``tie``: the ranked models whose
    intervals overlap this one's (a model without an interval counts as its point); unchanged without intervals."""
    if "ave_ci95_low" not in board or board["ave_ci95_low"].isna().all():
        return board
    out = board.copy()
    if year_record(year).ranking == "exp-score":
        base = out.loc[out["team"].astype(str) == baseline]
        for bound in ("low", "high"):
            shifted = out.assign(ave=out[f"ave_ci95_{bound}"].fillna(out["ave"]))
            table = pd.concat([shifted, base.assign(team=REFERENCE)], ignore_index=True)
            scores = exp_score(table, year, REFERENCE, psnr_rounded=psnr_rounded).set_index("team")["score"]
            out[f"score_ci95_{bound}"] = out["team"].map(scores).where(out["ave_ci95_low"].notna())
        figure, ranked = "score", out["rank"].notna()
    else:
        figure, ranked = "ave", pd.Series(True, index=out.index)
    low = out[f"{figure}_ci95_low"].fillna(out[figure]).where(ranked)
    high = out[f"{figure}_ci95_high"].fillna(out[figure]).where(ranked)
    teams = out["team"].astype(str).tolist()
    out["tie"] = ["; ".join(teams[j] for j in others) for others in overlapping(low, high)]
    return out


def no_interval_notes(results: dict[str, dict[str, Any]], timed: list[str], year: int) -> list[str]:
    """One note per model timed beside the baseline on too few pairs for an interval (``measure.paired.MIN_PAIRS``):
    its runtime is its point figure, and the note says how many pairs it had and the year's protocol gives."""
    notes = []
    for name, entry in results.items():
        pairs = [entry.get(f"{s}_baseline_pairs") for s in timed]
        if not pairs or not all(isinstance(p, dict) for p in pairs):
            continue
        estimate = paired_ratio([p["model"] for p in pairs], [p["baseline"] for p in pairs])
        if estimate.interval is None:
            images = sum(len(p["model"][0]) for p in pairs)
            reason = no_interval_reason(estimate.pairs, len(pairs[0]["model"]), images, year_record(year).runs, year)
            notes.append(f"no runtime interval for {name}: {reason}")
    return notes


def interval_note(board: pd.DataFrame) -> str | None:
    """What the intervals and ties on the leaderboard mean, when it has them."""
    if "tie" not in board:
        return None
    figure = "score" if "score_ci95_low" in board else "runtime"
    return (f"{figure} intervals: 95%, from each model's runtime ratio to the baseline timed beside it (bootstrap over "
            "images and runs) or from the spread of its runs (Student's t); ranked models whose intervals overlap "
            "are a statistical tie (Tie with)")
