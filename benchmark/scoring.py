"""The NTIRE Efficient Super-Resolution (x4) ranking rules, as pure functions on DataFrames.

Two families of rules are implemented, because the challenge changed its ranking in 2024:

- **NTIRE 2023** (RFDN baseline): every efficiency metric is ranked on its own (runtime is the main
  track), and the "overall" ranking sums five per-metric ranks. :func:`rank_ntire2023` reproduces
  every rank column of the published results table from the raw values; the tie-breaking rules
  it needs were read off that table and are listed in the function's docstring.
- **NTIRE 2024 / 2025** (RLFN / EFDN baselines): each metric X in runtime, FLOPs and parameters
  scores ``exp(2 * X / X_baseline)`` and the final score is their 0.7 / 0.15 / 0.15 weighted sum;
  lower is better, so the baseline itself scores ``e**2``. See :func:`score_ntire2024`.

Column names follow the published tables: ``team``; ``ave`` average runtime [ms]; ``params`` [M];
``flops`` [G]; ``acts`` activations [M]; ``mem`` GPU memory [M]; ``val_psnr`` / ``test_psnr`` [dB].

Every function returns a new DataFrame and leaves its input untouched. Mistakes in the input (a
missing column, a missing baseline row, an unknown year) raise :class:`ScoringError`, which is both
the harness's :class:`~benchmark.errors.HarnessError` and a :class:`ValueError`, with a one-line
message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np
import pandas as pd

from benchmark.errors import HarnessError


class ScoringError(HarnessError, ValueError):
    """The results table cannot be scored as given; the message names the column, row or year."""


@dataclass(frozen=True)
class Scoring:
    """One year's ranking rules, kept as data so that a new edition is a new entry, not new code.

    ``psnr_floors`` maps a PSNR column to the lowest value [dB] that may be ranked; ``weights`` maps a
    metric column to its weight in the final score (exp-score years only); ``metrics`` are the
    efficiency columns the rules use, main-track metric first.
    """

    year: str
    method: str  # "rank-sum" (2023) or "exp-score" (2024 onwards)
    baseline_model: str
    psnr_floors: Mapping[str, float]
    metrics: tuple[str, ...]
    weights: Mapping[str, float]
    source: str
    flops_counter: str = "fvcore"
    """How the organizers counted FLOPs: ``hooks`` (the 2022/2023 module-hook counter) or ``fvcore``
    (NTIRE2024_ESR ``test_demo.py``: "fvcore is used in NTIRE2024_ESR for FLOPs calculation")."""


_NTIRE2024 = Scoring(
    year="ntire2024",
    method="exp-score",
    baseline_model="RLFN",
    psnr_floors=MappingProxyType({"val_psnr": 26.90, "test_psnr": 26.99}),
    metrics=("ave", "flops", "params"),
    weights=MappingProxyType({"ave": 0.7, "flops": 0.15, "params": 0.15}),
    source="NTIRE 2024 ESR challenge report (arXiv:2404.10343)",
)

SCORINGS: Mapping[str, Scoring] = MappingProxyType(
    {
        # NTIRE 2023 ESR (Li et al., "NTIRE 2023 Challenge on Efficient Super-Resolution: Methods and
        # Results", CVPRW 2023): RFDN baseline, separate rankings per metric, overall = sum of ranks.
        # Floors 29.00 dB (DIV2K validation) and 27.00 dB (test) as given for this harness. The
        # published table nevertheless ranks 15 teams with validation PSNR 28.91-28.99 and 4 with test
        # PSNR 26.95-26.99, so rank_ntire2023 only reports the floor check as the psnr_ok flag.
        "ntire2023": Scoring(
            year="ntire2023",
            method="rank-sum",
            baseline_model="RFDN",
            psnr_floors=MappingProxyType({"val_psnr": 29.00, "test_psnr": 27.00}),
            metrics=("ave", "params", "flops", "acts", "mem"),
            weights=MappingProxyType({}),
            source="NTIRE 2023 ESR challenge report (CVPRW 2023)",
            flops_counter="hooks",
        ),
        # NTIRE 2024 ESR (Ren et al., "The Ninth NTIRE 2024 Efficient Super-Resolution Challenge
        # Report", CVPRW 2024, arXiv:2404.10343): RLFN baseline; PSNR of at least 26.90 dB on
        # DIV2K_LSDIR_valid and 26.99 dB on DIV2K_LSDIR_test; Score_X = exp(2 X / X_baseline),
        # final = 0.7 runtime + 0.15 FLOPs + 0.15 params.
        "ntire2024": _NTIRE2024,
        # NTIRE 2025 ESR ("The Tenth NTIRE 2025 Efficient Super-Resolution Challenge Report", CVPRW
        # 2025): EFDN baseline; same floors, score formula and weights as 2024.
        "ntire2025": replace(_NTIRE2024, year="ntire2025", baseline_model="EFDN",
                             source="NTIRE 2025 ESR challenge report (CVPRW 2025)"),
    }
)

# Published PSNRs carry two decimals; this only absorbs floating-point noise in a value that
# equals its floor (26.99 read from text is 26.99 exactly as a float, but a computed mean may not be).
_PSNR_EPS = 1e-9

RANK_2023_COLUMNS = ("ave_r", "params_r", "flops_r", "acts_r", "mem_r", "mc", "mc_r", "overall", "overall_r")
SCORE_COLUMNS = ("score_runtime", "score_flops", "score_params", "score", "rank")
_SCORE_NAMES = {"ave": "score_runtime", "flops": "score_flops", "params": "score_params"}


def get_scoring(year: str) -> Scoring:
    """The rules for ``year`` (e.g. ``"ntire2024"``); an unknown year is a user error, not a KeyError."""
    try:
        return SCORINGS[year]
    except KeyError:
        raise ScoringError(f"unknown challenge year {year!r}; expected one of {', '.join(SCORINGS)}") from None


def _require(df: pd.DataFrame, columns: tuple[str, ...], numeric: tuple[str, ...] = ()) -> None:
    """Fail early with the missing column's name, so that nothing is ranked on partial data."""
    expected = ", ".join(columns)
    for col in columns:
        if col not in df.columns:
            raise ScoringError(f"results table has no column {col!r}; expected columns: {expected}")
    for col in numeric:
        if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            raise ScoringError(f"column {col!r} is {df[col].dtype}, not numeric; expected numbers in: {expected}")
        missing = df[col].isna()
        if missing.any():
            teams = ", ".join(map(str, df.loc[missing, "team"])) if "team" in df.columns else ""
            raise ScoringError(f"column {col!r} has missing values (teams: {teams}); every row needs a value")


def _ordinal_rank(keys: list[pd.Series]) -> pd.Series:
    """Ranks 1..n ordering rows by ``keys`` (first key primary); later keys only break ties.

    The row's position is appended as a last key, so the result is defined even for rows that tie
    on every key, and does not depend on pandas' sort stability with several keys.
    """
    index = keys[0].index
    table = pd.DataFrame({f"k{i}": k.to_numpy() for i, k in enumerate(keys)})
    table["pos"] = np.arange(len(table))
    order = table.sort_values(list(table.columns))["pos"].to_numpy()
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(1, len(order) + 1, dtype=np.int64)
    return pd.Series(ranks, index=index, dtype="int64")


def psnr_check(df: pd.DataFrame, year: str) -> pd.Series:
    """True where a row meets every PSNR floor of ``year`` whose column the table has.

    A floor whose column is absent is not checked (an efficiency-only table can still be scored); a
    missing value in a present column fails, because an unmeasured model cannot be shown to qualify.
    """
    scoring = get_scoring(year)
    ok = pd.Series(True, index=df.index, dtype=bool)
    for col, floor in scoring.psnr_floors.items():
        if col not in df.columns:
            continue
        if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            raise ScoringError(f"column {col!r} is {df[col].dtype}, not numeric; expected PSNR values in dB")
        ok &= (df[col] >= floor - _PSNR_EPS).fillna(False).astype(bool)
    return ok


def rank_ntire2023(df: pd.DataFrame) -> pd.DataFrame:
    """Recompute the NTIRE 2023 ranks from raw ``ave, params, flops, acts, mem``; sorted by ``ave_r``.

    Returns a copy with ``ave_r, params_r, flops_r, acts_r, mem_r, mc, mc_r, overall, overall_r``
    (int64, replacing any such columns already present, e.g. the published ones) and ``psnr_ok``
    (the 2023 floor check, reported only: the published table ranks teams below the floors).
    All ranks are ordinal (1..n, no shared ranks), lower value = better rank. Rules, which reproduce
    every rank column of the published table:

    - ``ave_r``: by average runtime ``ave``;
    - ``params_r``, ``flops_r``, ``acts_r``, ``mem_r``: by the metric, ties broken by lower runtime;
    - ``mc = params_r + flops_r``, ``mc_r``: by ``mc``, ties broken by lower runtime;
    - ``overall = ave_r + params_r + flops_r + acts_r + mem_r``, ``overall_r``: by ``overall``, ties
      broken by the better (lower) ``mc_r``; ``mc_r`` is unique, so that settles every tie.

    Ties the published table does not exercise (two rows with the same runtime) are broken by team
    name, then input order, so the result does not depend on how the input rows are ordered.
    """
    _require(df, ("team", "ave", "params", "flops", "acts", "mem"), numeric=("ave", "params", "flops", "acts", "mem"))
    out = df.copy()
    team = out["team"].astype(str)
    ranks: dict[str, pd.Series] = {"ave_r": _ordinal_rank([out["ave"], team])}
    for metric in ("params", "flops", "acts", "mem"):
        ranks[f"{metric}_r"] = _ordinal_rank([out[metric], out["ave"], team])
    ranks["mc"] = ranks["params_r"] + ranks["flops_r"]
    ranks["mc_r"] = _ordinal_rank([ranks["mc"], out["ave"], team])
    ranks["overall"] = ranks["ave_r"] + ranks["params_r"] + ranks["flops_r"] + ranks["acts_r"] + ranks["mem_r"]
    ranks["overall_r"] = _ordinal_rank([ranks["overall"], ranks["mc_r"]])
    for col in RANK_2023_COLUMNS:
        out[col] = ranks[col].astype("int64")
    out["psnr_ok"] = psnr_check(out, "ntire2023")
    return out.sort_values("ave_r").reset_index(drop=True)


def score_ntire2024(df: pd.DataFrame, baseline: str, year: str = "ntire2024") -> pd.DataFrame:
    """Score every row against the ``baseline`` team's row and rank the rows that meet the PSNR floors.

    ``df`` needs ``team, ave, flops, params`` (``val_psnr`` / ``test_psnr`` optional, checked against
    ``year``'s floors when present). Returns a copy sorted by score (lower is better) with
    ``score_runtime, score_flops, score_params`` = ``exp(2 * X / X_baseline)``, the weighted ``score``
    (the baseline scores e**2 ~ 7.389), ``psnr_ok`` and ``rank``: nullable Int64, NA for rows below a
    floor, which stay in the table but are not ranked. Equal scores are ordered by lower runtime,
    then team name (a harness choice: the reports publish no rule for exact score ties).
    """
    scoring = get_scoring(year)
    if scoring.method != "exp-score":
        raise ScoringError(
            f"{year} is not ranked by exp-scores; use rank_ntire2023, or one of "
            f"{', '.join(y for y, s in SCORINGS.items() if s.method == 'exp-score')}"
        )
    metrics = scoring.metrics
    _require(df, ("team", *metrics), numeric=metrics)
    is_base = df["team"].astype(str) == baseline
    if not is_base.any():
        raise ScoringError(f"baseline team {baseline!r} is not in the results table's 'team' column")
    if is_base.sum() > 1:
        raise ScoringError(f"baseline team {baseline!r} appears {int(is_base.sum())} times; keep one row")
    out = df.copy()
    base_row = out.loc[is_base].iloc[0]
    total = pd.Series(0.0, index=out.index)
    for metric in metrics:
        ref = float(base_row[metric])
        if not math.isfinite(ref) or ref <= 0:
            raise ScoringError(f"baseline {baseline!r} has {metric} = {ref}; a baseline metric must be positive")
        score = np.exp(2.0 * out[metric].astype(float) / ref)
        out[_SCORE_NAMES[metric]] = score
        total = total + scoring.weights[metric] * score
    out["score"] = total
    out["psnr_ok"] = psnr_check(out, year)
    team = out["team"].astype(str)
    ok = out["psnr_ok"]
    rank = pd.Series(pd.NA, index=out.index, dtype="Int64")
    if ok.any():
        rank[ok] = _ordinal_rank([out.loc[ok, "score"], out.loc[ok, "ave"], team[ok]]).astype("Int64")
    out["rank"] = rank
    order = _ordinal_rank([out["score"], out["ave"], team])
    return out.iloc[np.argsort(order.to_numpy())].reset_index(drop=True)
