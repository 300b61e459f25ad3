"""Tests for benchmark.rank.scoring: the published NTIRE 2023 table is reproduced, the exp-score years (2024 on)
score and rank as their records in benchmark/core/years.toml say, sub-tracks and the PSNR rounding included."""

from __future__ import annotations

import math
import tomllib
from types import MappingProxyType

import pandas as pd
import pytest
from helpers import shared_file

from benchmark.core import years
from benchmark.core.years import get_year
from benchmark.rank.scoring import (
    RANK_SUM_COLUMNS,
    ScoringError,
    exp_score,
    floor_columns,
    printed_psnr,
    psnr_check,
    rank_sum,
    rank_year,
)


@pytest.fixture(scope="module")
def published_2023() -> pd.DataFrame:
    return pd.read_csv(shared_file("reference", "ntire2023_esr_results.tsv"), sep="\t")


def _table(rows: list[tuple], columns: str) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns.split())


def _ranks(ranks: pd.Series) -> dict[str, int | None]:
    """team → rank, None where the row is not ranked (NA)."""
    return {team: None if pd.isna(rank) else int(rank) for team, rank in ranks.items()}


# --- NTIRE 2023: the published table ---------------------------------------------------------------


def test_published_2023_ranks_reproduced(published_2023: pd.DataFrame) -> None:
    raw = published_2023.drop(columns=list(RANK_SUM_COLUMNS))
    # Shuffle so that the published row order (already by runtime) cannot help the tie-breaking.
    got = rank_sum(raw.sample(frac=1.0, random_state=7), 2023)
    assert len(got) == len(published_2023)
    merged = published_2023.merge(got, on="team", suffixes=("_published", ""), validate="one_to_one")
    failures = []
    for col in RANK_SUM_COLUMNS:
        bad = merged[merged[f"{col}_published"] != merged[col]]
        for _, row in bad.iterrows():
            failures.append(f"{row['team']}: {col} published {row[f'{col}_published']}, computed {row[col]}")
    assert not failures, "published ranks not reproduced:\n" + "\n".join(failures)
    assert list(got["ave_r"]) == list(range(1, len(got) + 1))
    assert all(str(got[col].dtype) == "int64" for col in RANK_SUM_COLUMNS)


def test_published_2023_floor_is_a_flag_only(published_2023: pd.DataFrame) -> None:
    got = rank_sum(published_2023.drop(columns=list(RANK_SUM_COLUMNS)), 2023)
    assert len(got) == len(published_2023)  # nobody removed
    below = set(got.loc[~got["psnr_ok"], "team"])
    expected = set(
        published_2023.loc[(published_2023["val_psnr"] < 29.00) | (published_2023["test_psnr"] < 27.00), "team"]
    )
    assert below == expected and "MegSR" in below  # the runtime winner has test PSNR 26.95


def test_input_not_modified(published_2023: pd.DataFrame) -> None:
    before = published_2023.copy()
    rank_sum(published_2023, 2023)
    pd.testing.assert_frame_equal(published_2023, before)


# --- NTIRE 2023: hand-worked tables ----------------------------------------------------------------


def test_metric_ties_broken_by_runtime() -> None:
    # a and c share params and flops; c is faster, so c takes the better rank in both and in mc.
    df = _table(
        [("a", 30.0, 0.2, 10.0, 50.0, 300.0), ("b", 10.0, 0.3, 20.0, 60.0, 100.0), ("c", 20.0, 0.2, 10.0, 70.0, 200.0)],
        "team ave params flops acts mem",
    )
    got = rank_sum(df, 2023).set_index("team")
    assert list(rank_sum(df, 2023)["team"]) == ["b", "c", "a"]  # sorted by ave_r
    assert got.loc[["a", "b", "c"], "ave_r"].tolist() == [3, 1, 2]
    assert got.loc[["a", "b", "c"], "params_r"].tolist() == [2, 3, 1]
    assert got.loc[["a", "b", "c"], "flops_r"].tolist() == [2, 3, 1]
    assert got.loc[["a", "b", "c"], "mc"].tolist() == [4, 6, 2]


def test_mc_ties_broken_by_runtime() -> None:
    # x: params_r 1 + flops_r 2 = 3, y: 2 + 1 = 3; y is faster, so y gets mc_r 1.
    df = _table(
        [("x", 50.0, 0.1, 20.0, 1.0, 1.0), ("y", 40.0, 0.2, 10.0, 2.0, 2.0), ("z", 60.0, 0.3, 30.0, 3.0, 3.0)],
        "team ave params flops acts mem",
    )
    got = rank_sum(df, 2023).set_index("team")
    assert got.loc["x", "mc"] == got.loc["y", "mc"] == 3
    assert got.loc[["y", "x", "z"], "mc_r"].tolist() == [1, 2, 3]


def test_overall_ties_broken_by_mc_rank_not_runtime() -> None:
    # ranks (ave, params, flops, acts, mem):  p (1, 2, 2, 1, 2) = 8, mc 4
    #                                         q (2, 1, 1, 3, 1) = 8, mc 2
    #                                         r (3, 3, 3, 2, 3) = 14, mc 6
    # p is faster, but q wins the overall tie through its better model-complexity rank.
    df = _table(
        [
            ("p", 10.0, 0.2, 20.0, 50.0, 200.0),
            ("q", 20.0, 0.1, 10.0, 70.0, 100.0),
            ("r", 30.0, 0.3, 30.0, 60.0, 300.0),
        ],
        "team ave params flops acts mem",
    )
    got = rank_sum(df, 2023).set_index("team")
    assert got.loc[["p", "q", "r"], "overall"].tolist() == [8, 8, 14]
    assert got.loc[["p", "q", "r"], "mc_r"].tolist() == [2, 1, 3]
    assert got.loc[["q", "p", "r"], "overall_r"].tolist() == [1, 2, 3]


def test_other_columns_kept_and_published_ranks_replaced() -> None:
    df = _table(
        [("a", 20.0, 0.2, 10.0, 5.0, 9.0, 99, "note-a"), ("b", 10.0, 0.1, 20.0, 6.0, 8.0, 99, "note-b")],
        "team ave params flops acts mem ave_r extra",
    )
    got = rank_sum(df, 2023)
    assert got["team"].tolist() == ["b", "a"]
    assert got["ave_r"].tolist() == [1, 2]
    assert got["extra"].tolist() == ["note-b", "note-a"]


# --- exp-score years (2024 on) --------------------------------------------------------------------


def _scores_table() -> pd.DataFrame:
    return _table(
        [
            ("RLFN", 14.0, 20.0, 0.3, 26.96, 27.07),
            ("half", 7.0, 10.0, 0.15, 26.95, 27.00),
            ("double", 28.0, 40.0, 0.6, 27.10, 27.20),
            ("blurry", 1.0, 1.0, 0.01, 26.80, 27.10),
        ],
        "team ave flops params val_psnr test_psnr",
    )


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_baseline_scores_e_squared(year: int) -> None:
    got = exp_score(_scores_table(), year, "RLFN").set_index("team")
    for col in ("score_runtime", "score_flops", "score_params", "score"):
        assert abs(got.loc["RLFN", col] - math.exp(2)) < 1e-12, col


@pytest.mark.parametrize("year", [2024, 2026])
def test_half_the_baseline_scores_e(year: int) -> None:
    got = exp_score(_scores_table(), year, "RLFN").set_index("team")
    assert abs(got.loc["half", "score"] - math.e) < 1e-12  # every figure halved: exp(2 · 1/2), whatever the weights
    assert abs(got.loc["double", "score"] - math.exp(4)) < 1e-9


@pytest.mark.parametrize("year, runtime_weight", [(2024, 0.7), (2025, 0.7), (2026, 0.8)])
def test_weights_come_from_the_year_record(year: int, runtime_weight: float) -> None:
    # "slow" doubles the runtime only: runtime_weight · e⁴ + (1 - runtime_weight) · e²
    # (2024/2025: 0.7 e⁴ + 0.15 e² + 0.15 e²; 2026: 0.8 e⁴ + 0.1 e² + 0.1 e², RULES.md).
    df = _table([("base", 10.0, 10.0, 1.0), ("slow", 20.0, 10.0, 1.0)], "team ave flops params")
    got = exp_score(df, year, "base").set_index("team")
    rest = (1 - runtime_weight) / 2
    assert abs(got.loc["slow", "score"] - (runtime_weight * math.exp(4) + 2 * rest * math.exp(2))) < 1e-12
    assert dict(get_year(year).weights) == pytest.approx({"runtime": runtime_weight, "flops": rest, "params": rest})


def test_below_psnr_floor_is_kept_but_not_ranked() -> None:
    got = exp_score(_scores_table(), 2024, "RLFN")
    assert got["team"].tolist() == ["blurry", "half", "RLFN", "double"]  # sorted by score
    ranked = got.set_index("team")
    assert not ranked.loc["blurry", "psnr_ok"]  # 26.80 dB < 26.90 dB on the validation set
    assert pd.isna(ranked.loc["blurry", "rank"])
    assert ranked.loc[["half", "RLFN", "double"], "rank"].tolist() == [1, 2, 3]
    assert str(got["rank"].dtype) == "Int64"


def test_psnr_floor_boundaries() -> None:
    df = _table(
        [("at", 26.90, 26.99), ("val_low", 26.89, 27.5), ("test_low", 27.5, 26.98), ("none", None, 27.5)],
        "team val_psnr test_psnr",
    )
    assert floor_columns(2024) == {"val_psnr": 26.90, "test_psnr": 26.99}
    assert psnr_check(df, 2024).tolist() == [True, False, False, False]
    assert psnr_check(df[["team", "test_psnr"]], 2025).tolist() == [True, True, False, True]


def _rounding_table() -> pd.DataFrame:
    # PSNRs and what format(x, ".2f") prints for them (floors 26.90 valid, 26.99 test):
    #   pds        26.896448047711953 → "26.90", 26.993599827477215 → "26.99"  (01_PDS of the 2026 file)
    #   val_up     26.8951 → "26.90"                                          (passes only rounded)
    #   half_down  26.895 → "26.89": the double nearest 26.895 is 26.89499999999999957…, so it stays below
    #   test_half  26.985 → "26.98": likewise 26.98499999999999943…, below the test floor either way
    return _table(
        [
            ("base", 10.0, 10.0, 1.0, 26.95, 27.05),
            ("pds", 8.0, 10.0, 1.0, 26.896448047711953, 26.993599827477215),
            ("val_up", 9.0, 10.0, 1.0, 26.8951, 27.00),
            ("half_down", 7.0, 10.0, 1.0, 26.895, 27.00),
            ("test_half", 6.0, 10.0, 1.0, 26.95, 26.985),
        ],
        "team ave flops params val_psnr test_psnr",
    )


def test_psnr_floors_on_raw_or_printed_psnr() -> None:
    df = _rounding_table()
    assert [printed_psnr(v) for v in df["val_psnr"]] == [26.95, 26.90, 26.90, 26.89, 26.95]
    assert psnr_check(df, 2026).tolist() == [True, False, False, False, False]
    assert psnr_check(df, 2026, rounded=True).tolist() == [True, True, True, False, False]
    raw = exp_score(df, 2026, "base").set_index("team")
    rounded = exp_score(df, 2026, "base", psnr_rounded=True).set_index("team")
    for got in (raw, rounded):  # the flag is the same whichever reading ranks
        assert got["psnr_ok_rounded_only"].to_dict() == {"base": False, "pds": True, "val_up": True,
                                                         "half_down": False, "test_half": False}
    # runtime decides (same FLOPs and params): pds 8 ms < val_up 9 ms < base 10 ms
    assert raw["rank"].dropna().to_dict() == {"base": 1}
    assert rounded["rank"].dropna().to_dict() == {"pds": 1, "val_up": 2, "base": 3}


def _subtrack_table() -> pd.DataFrame:
    # base: 10 ms, 10 G, 1.0 M. Who may enter which sub-track (the other two figures ≤ the baseline's):
    #   fast_big   5 ms, 12 G, 0.9 M: FLOPs > 10 → not runtime, not params; FLOPs sub-track (5 ≤ 10, 0.9 ≤ 1)
    #   small_slow 12 ms, 4 G, 0.4 M: runtime > 10 → not FLOPs, not params; runtime sub-track (4 ≤ 10, 0.4 ≤ 1)
    #   lean       8 ms, 8 G, 0.8 M: every sub-track
    #   blurry     below the 26.90 dB floor: none, though the best on every figure
    return _table(
        [
            ("base", 10.0, 10.0, 1.0, 27.0, 27.1),
            ("fast_big", 5.0, 12.0, 0.9, 27.0, 27.1),
            ("small_slow", 12.0, 4.0, 0.4, 27.0, 27.1),
            ("lean", 8.0, 8.0, 0.8, 27.0, 27.1),
            ("blurry", 2.0, 2.0, 0.2, 26.8, 27.1),
        ],
        "team ave flops params val_psnr test_psnr",
    )


def test_subtracks_rank_by_their_own_score_within_the_baseline() -> None:
    got = exp_score(_subtrack_table(), 2024, "base").set_index("team")
    # final scores, 0.7 / 0.15 / 0.15 of exp(2 X / X_base):
    #   blurry     e^0.4                                   = 1.4918 (not ranked)
    #   fast_big   0.7 e^1.0 + 0.15 e^2.4 + 0.15 e^1.8     = 1.9027973 + 1.6534765 + 0.9074471 = 4.4637209
    #   lean       e^1.6                                   = 4.9530324
    #   base       e^2                                     = 7.3890561
    #   small_slow 0.7 e^2.4 + 0.15 e^0.8 + 0.15 e^0.8     = 7.7162235 + 0.6676623 = 8.3838857
    assert got["score"].to_dict() == pytest.approx({"blurry": 1.4918247, "fast_big": 4.4637209, "lean": 4.9530324,
                                                    "base": 7.3890561, "small_slow": 8.3838857}, abs=1e-6)
    assert _ranks(got["rank"]) == {"blurry": None, "fast_big": 1, "lean": 2, "base": 3, "small_slow": 4}
    # runtime sub-track: lean e^1.6 < base e^2 < small_slow e^2.4
    assert _ranks(got["runtime_rank"]) == {"blurry": None, "fast_big": None, "lean": 1, "base": 2,
                                             "small_slow": 3}
    # FLOPs sub-track: lean e^1.6 < base e^2 < fast_big e^2.4
    assert _ranks(got["flops_rank"]) == {"blurry": None, "fast_big": 3, "lean": 1, "base": 2, "small_slow": None}
    # params sub-track: lean e^1.6 < base e^2
    assert _ranks(got["params_rank"]) == {"blurry": None, "fast_big": None, "lean": 1, "base": 2,
                                            "small_slow": None}
    assert all(str(got[col].dtype) == "Int64" for col in ("runtime_rank", "flops_rank", "params_rank"))


def test_without_psnr_columns_everyone_is_ranked() -> None:
    got = exp_score(_scores_table().drop(columns=["val_psnr", "test_psnr"]), 2024, "RLFN")
    assert got["psnr_ok"].all() and got["rank"].tolist() == [1, 2, 3, 4]
    assert not got["psnr_ok_rounded_only"].any()


def test_a_new_year_is_only_a_record(monkeypatch: pytest.MonkeyPatch) -> None:
    record = years._record(2027, tomllib.loads("""
        baseline = "00_NEW"
        flops_counter = "fvcore"
        ranking = "exp-score"
        weights = { runtime = 0.5, flops = 0.25, params = 0.25 }
        psnr_floors = { valid = 27.00, test = 27.10 }
        floors_applied = true
        subtracks = false
        gpu = "some GPU"
        runs = 3
        source = "a test"
        splits.valid = { hr = "V_HR", lr = "V_LR" }
        splits.test = { hr = "T_HR", lr = "T_LR" }
    """))
    monkeypatch.setattr(years, "YEARS", MappingProxyType({**years.YEARS, 2027: record}))
    df = _table([("00_NEW", 10.0, 10.0, 1.0, 27.0, 27.1), ("slow", 20.0, 10.0, 1.0, 27.0, 27.1),
                 ("low", 1.0, 1.0, 0.1, 27.0, 27.09)], "team ave flops params val_psnr test_psnr")
    got = rank_year(df, 2027, "00_NEW").set_index("team")
    assert floor_columns(2027) == {"val_psnr": 27.00, "test_psnr": 27.10}
    assert abs(got.loc["slow", "score"] - (0.5 * math.exp(4) + 0.5 * math.exp(2))) < 1e-12
    assert _ranks(got["rank"]) == {"low": None, "00_NEW": 1, "slow": 2}  # 27.09 < 27.10
    assert "runtime_rank" not in got  # no sub-tracks that year


# --- user errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["team", "ave", "params", "flops", "acts", "mem"])
def test_rank_2023_missing_column(column: str) -> None:
    df = _table([("a", 1.0, 1.0, 1.0, 1.0, 1.0)], "team ave params flops acts mem").drop(columns=[column])
    with pytest.raises(ValueError, match=rf"no column '{column}'; expected columns: team, ave, params"):
        rank_sum(df, 2023)


def test_score_missing_column_baseline_and_year() -> None:
    with pytest.raises(ValueError, match=r"no column 'flops'; expected columns: team, ave, flops, params"):
        exp_score(_scores_table().drop(columns=["flops"]), 2024, "RLFN")
    with pytest.raises(ValueError, match=r"baseline team 'EFDN' is not in"):
        exp_score(_scores_table(), 2025, "EFDN")
    with pytest.raises(ScoringError, match=r"^unknown challenge year 2099; known years: 2023, 2024, 2025, 2026$"):
        exp_score(_scores_table(), 2099, "RLFN")
    with pytest.raises(ScoringError, match=r"^unknown challenge year ntire2024; known years: 2023, 2024"):
        psnr_check(_scores_table(), "ntire2024")  # type: ignore[arg-type]  # the old string names are gone
    with pytest.raises(ValueError, match=r"NTIRE 2023 is not ranked by exp-scores; use rank_sum"):
        exp_score(_scores_table(), 2023, "RLFN")
    with pytest.raises(ValueError, match=r"NTIRE 2026 is not ranked by rank sums; use exp_score"):
        rank_sum(_scores_table(), 2026)
    with pytest.raises(ValueError, match=r"pass one \(the 2024 baseline is 00_RLFN_baseline\)"):
        rank_year(_scores_table(), 2024)


def test_errors_are_harness_errors() -> None:
    from benchmark.core.errors import HarnessError

    with pytest.raises(HarnessError):
        rank_sum(pd.DataFrame({"team": ["a"]}), 2023)
    assert issubclass(ScoringError, ValueError)


def test_missing_value_is_refused() -> None:
    df = _table([("a", 1.0, 1.0, 1.0, 1.0, 1.0), ("b", None, 1.0, 1.0, 1.0, 1.0)], "team ave params flops acts mem")
    with pytest.raises(ValueError, match=r"column 'ave' has missing values \(teams: b\)"):
        rank_sum(df, 2023)
