"""The NTIRE Efficient Super-Resolution (x4) ranking rules, as pure functions on DataFrames.

Every function takes the challenge year as an int (2023, 2024, …) and reads that year's record,
:func:`benchmark.core.years.get_year` (``benchmark/core/years.toml``): baseline, ranking rule, weights, PSNR
floors, whether the floors are applied, whether there are sub-tracks. Nothing about a year is
written here, so a new year is a new record in ``years.toml``, not new code. Two rules exist:

- **rank-sum** (2023, RFDN baseline): every efficiency metric is ranked on its own (runtime is the
  main track), and the "overall" ranking sums five per-metric ranks. :func:`rank_sum` reproduces
  every rank column of the published NTIRE 2023 table from the raw values; the tie-breaking rules
  it needs were read off that table and are listed in the function's docstring.
- **exp-score** (2024 on): each figure X in runtime, FLOPs and parameters scores
  ``exp(2 * X / X_baseline)`` and the final score is their weighted sum with the year's weights
  (2024/2025: 0.7 / 0.15 / 0.15; 2026: 0.8 / 0.1 / 0.1); lower is better, so the baseline itself
  scores ``e**2``. Years with sub-tracks also rank runtime, FLOPs and parameters on their own. See
  :func:`exp_score`.

Column names follow the published tables: ``team``; ``ave`` average runtime [ms]; ``params`` [M];
``flops`` [G]; ``acts`` activations [M]; ``mem`` GPU memory [M]; ``val_psnr`` / ``test_psnr`` [dB]
(the floors of the splits ``valid`` / ``test``).

PSNR floors apply to the raw PSNR; with ``psnr_rounded=True`` to the PSNR as results.txt prints it
(two decimals, ``format(x, ".2f")``). Which of the two the organizers used is not published, so
every result also says, in ``psnr_ok_rounded_only``, which rows pass only when rounded.

Every function returns a new DataFrame and leaves its input untouched. Mistakes in the input (a
missing column, a missing baseline row, an unknown year) raise :class:`ScoringError`, which is both
the harness's :class:`~benchmark.core.errors.HarnessError` and a :class:`ValueError`, with a one-line
message.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from benchmark.core import years
from benchmark.core.errors import HarnessError
from benchmark.core.years import SCORED_FIGURES, Year


class ScoringError(HarnessError, ValueError):
    """The results table cannot be scored as given; the message names the column, row or year."""


# Published PSNRs carry two decimals; this only absorbs floating-point noise in a value that
# equals its floor (26.99 read from text is 26.99 exactly as a float, but a computed mean may not be).
_PSNR_EPS = 1e-9

FIGURE_COLUMNS = {"runtime": "ave", "flops": "flops", "params": "params"}
"""The table column of each scored figure (``years.SCORED_FIGURES``)."""
SCORE_NAMES = {figure: f"score_{figure}" for figure in SCORED_FIGURES}
SUBTRACK_COLUMNS = {figure: f"{figure}_rank" for figure in SCORED_FIGURES}
"""The rank column of each sub-track: ``runtime_rank``, ``flops_rank``, ``params_rank``."""
RANK_SUM_COLUMNS = ("ave_r", "params_r", "flops_r", "acts_r", "mem_r", "mc", "mc_r", "overall", "overall_r")
PSNR_COLUMNS = {"valid": "val_psnr", "test": "test_psnr"}
"""The table column of each official split's PSNR; a split not named here reads ``<split>_psnr``."""


def year_record(year: int) -> Year:
    """``get_year(year)``, its error as a :class:`ScoringError` (one line listing the known years)."""
    try:
        return years.get_year(year)
    except HarnessError as err:
        raise ScoringError(str(err)) from None


def floor_columns(year: int) -> dict[str, float]:
    """``year``'s PSNR floors keyed by the table column they apply to, e.g. ``{"val_psnr": 26.9, ...}``."""
    return {PSNR_COLUMNS.get(split, f"{split}_psnr"): floor for split, floor in year_record(year).psnr_floors.items()}


def printed_psnr(value: float) -> float:
    """The PSNR as results.txt prints it: two decimals, rounded as ``format(value, ".2f")`` rounds."""
    return value if pd.isna(value) else float(format(value, ".2f"))


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


def _rank_among(eligible: pd.Series, keys: list[pd.Series]) -> pd.Series:
    """Ordinal ranks (nullable Int64) of the ``eligible`` rows by ``keys``; NA for every other row."""
    rank = pd.Series(pd.NA, index=eligible.index, dtype="Int64")
    if eligible.any():
        rank[eligible] = _ordinal_rank([key[eligible] for key in keys]).astype("Int64")
    return rank


def psnr_check(df: pd.DataFrame, year: int, *, rounded: bool = False) -> pd.Series:
    """True where a row meets every PSNR floor of ``year`` whose column the table has.

    ``rounded`` compares the PSNR printed to two decimals (:func:`printed_psnr`) instead of the raw
    value. A floor whose column is absent is not checked (an efficiency-only table can still be
    scored); a missing value in a present column fails, because an unmeasured model cannot be shown
    to qualify.
    """
    ok = pd.Series(True, index=df.index, dtype=bool)
    for col, floor in floor_columns(year).items():
        if col not in df.columns:
            continue
        if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            raise ScoringError(f"column {col!r} is {df[col].dtype}, not numeric; expected PSNR values in dB")
        values = df[col].map(printed_psnr) if rounded else df[col]
        ok &= (values >= floor - _PSNR_EPS).fillna(False).astype(bool)
    return ok


def _with_psnr_flags(out: pd.DataFrame, year: int, rounded: bool) -> pd.DataFrame:
    """``psnr_ok`` by the chosen reading, and ``psnr_ok_rounded_only``: passes rounded, fails raw.

    Rounding to two decimals never lowers a value below a two-decimal floor it met, so the rows
    whose eligibility depends on the reading are exactly those that pass only when rounded.
    """
    raw, printed = psnr_check(out, year), psnr_check(out, year, rounded=True)
    out["psnr_ok"] = printed if rounded else raw
    out["psnr_ok_rounded_only"] = printed & ~raw
    return out


def rank_sum(df: pd.DataFrame, year: int, *, psnr_rounded: bool = False) -> pd.DataFrame:
    """Recompute a rank-sum year's ranks (2023) from raw ``ave, params, flops, acts, mem``; sorted by ``ave_r``.

    Returns a copy with ``ave_r, params_r, flops_r, acts_r, mem_r, mc, mc_r, overall, overall_r``
    (int64, replacing any such columns already present, e.g. the published ones), ``psnr_ok`` (the
    year's floor check; reported only when the year's ``floors_applied`` is false, as in 2023, whose
    published table ranks teams below the floors) and ``psnr_ok_rounded_only``.
    All ranks are ordinal (1..n, no shared ranks), lower value = better rank. Rules, which reproduce
    every rank column of the published 2023 table:

    - ``ave_r``: by average runtime ``ave``;
    - ``params_r``, ``flops_r``, ``acts_r``, ``mem_r``: by the metric, ties broken by lower runtime;
    - ``mc = params_r + flops_r``, ``mc_r``: by ``mc``, ties broken by lower runtime;
    - ``overall = ave_r + params_r + flops_r + acts_r + mem_r``, ``overall_r``: by ``overall``, ties
      broken by the better (lower) ``mc_r``; ``mc_r`` is unique, so that settles every tie.

    Ties the published table does not exercise (two rows with the same runtime) are broken by team
    name, then input order, so the result does not depend on how the input rows are ordered.
    """
    record = year_record(year)
    if record.ranking != "rank-sum":
        raise ScoringError(f"{record.label} is not ranked by rank sums; use exp_score, or one of the rank-sum years "
                           f"{', '.join(str(y) for y, r in years.YEARS.items() if r.ranking == 'rank-sum')}")
    if record.floors_applied:
        raise ScoringError(f"{record.label}: rank sums with applied PSNR floors are not implemented; "
                           "set floors_applied = false in years.toml or implement the rule")
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
    for col in RANK_SUM_COLUMNS:
        out[col] = ranks[col].astype("int64")
    out = _with_psnr_flags(out, year, psnr_rounded)
    return out.sort_values("ave_r").reset_index(drop=True)


def exp_score(df: pd.DataFrame, year: int, baseline: str, *, psnr_rounded: bool = False) -> pd.DataFrame:
    """Score every row against the ``baseline`` team's row by ``year``'s exp-score rule, and rank them.

    ``df`` needs ``team, ave, flops, params`` (``val_psnr`` / ``test_psnr`` optional, checked against
    ``year``'s floors when present). Returns a copy sorted by score (lower is better) with

    - ``score_runtime, score_flops, score_params`` = ``exp(2 * X / X_baseline)`` and ``score``, their
      sum weighted by the year's ``weights`` (the baseline scores e**2 ~ 7.389);
    - ``psnr_ok`` (raw PSNR, or printed PSNR with ``psnr_rounded``) and ``psnr_ok_rounded_only``;
    - ``rank``: nullable Int64, NA for rows below a floor (when the year applies its floors), which
      stay in the table but are not ranked;
    - in years with sub-tracks, ``runtime_rank``, ``flops_rank``, ``params_rank``: each ranks, by its
      own score, the rows that are ranked at all and do not exceed the baseline on the other two
      figures (the runtime sub-track: FLOPs and parameters at most the baseline's); NA otherwise.
      The baseline itself takes part.

    Equal scores are ordered by lower runtime, then team name; equal sub-track scores by the final
    score, then runtime, then team name (harness choices: the reports publish no rule for exact ties).
    """
    record = year_record(year)
    if record.ranking != "exp-score":
        raise ScoringError(f"{record.label} is not ranked by exp-scores; use rank_sum, or one of the exp-score years "
                           f"{', '.join(str(y) for y, r in years.YEARS.items() if r.ranking == 'exp-score')}")
    columns = tuple(FIGURE_COLUMNS[figure] for figure in SCORED_FIGURES)
    _require(df, ("team", *columns), numeric=columns)
    is_base = df["team"].astype(str) == baseline
    if not is_base.any():
        raise ScoringError(f"baseline team {baseline!r} is not in the results table's 'team' column")
    if is_base.sum() > 1:
        raise ScoringError(f"baseline team {baseline!r} appears {int(is_base.sum())} times; keep one row")
    out = df.copy()
    base_row = out.loc[is_base].iloc[0]
    total = pd.Series(0.0, index=out.index)
    for figure in SCORED_FIGURES:
        col = FIGURE_COLUMNS[figure]
        ref = float(base_row[col])
        if not math.isfinite(ref) or ref <= 0:
            raise ScoringError(f"baseline {baseline!r} has {col} = {ref}; a baseline figure must be positive")
        with np.errstate(over="ignore"):  # a figure over ~354× the baseline's scores inf: last, as it should
            score = np.exp(2.0 * out[col].astype(float) / ref)
        out[SCORE_NAMES[figure]] = score
        total = total + record.weights[figure] * score
    out["score"] = total
    out = _with_psnr_flags(out, year, psnr_rounded)
    team = out["team"].astype(str)
    ranked = out["psnr_ok"] if record.floors_applied else pd.Series(True, index=out.index, dtype=bool)
    out["rank"] = _rank_among(ranked, [out["score"], out["ave"], team])
    if record.subtracks:
        for figure in SCORED_FIGURES:
            eligible = ranked.copy()
            for other in SCORED_FIGURES:
                if other != figure:
                    col = FIGURE_COLUMNS[other]
                    eligible &= out[col] <= base_row[col]
            out[SUBTRACK_COLUMNS[figure]] = _rank_among(
                eligible, [out[SCORE_NAMES[figure]], out["score"], out["ave"], team])
    order = _ordinal_rank([out["score"], out["ave"], team])
    return out.iloc[np.argsort(order.to_numpy())].reset_index(drop=True)


def rank_year(df: pd.DataFrame, year: int, baseline: str | None = None, *, psnr_rounded: bool = False
              ) -> pd.DataFrame:
    """``df`` ranked by ``year``'s rule: :func:`rank_sum` or :func:`exp_score` (which needs ``baseline``)."""
    record = year_record(year)
    if record.ranking == "rank-sum":
        return rank_sum(df, year, psnr_rounded=psnr_rounded)
    if baseline is None:
        raise ScoringError(f"{record.label} scores every model against a baseline; pass one "
                           f"(the {year} baseline is {record.baseline})")
    return exp_score(df, year, baseline, psnr_rounded=psnr_rounded)
