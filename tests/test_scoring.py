"""Tests for benchmark.scoring: the published NTIRE 2023 table is reproduced, and the 2024/2025 score."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from benchmark.scoring import (
    RANK_2023_COLUMNS,
    SCORINGS,
    ScoringError,
    psnr_check,
    rank_ntire2023,
    score_ntire2024,
)

from conftest import SHARED
TABLE_2023 = SHARED / "reference" / "ntire2023_esr_results.tsv"


@pytest.fixture(scope="module")
def published_2023() -> pd.DataFrame:
    if not TABLE_2023.is_file():
        pytest.skip(f"published NTIRE 2023 results table not available at {TABLE_2023}")
    return pd.read_csv(TABLE_2023, sep="\t")


def _table(rows: list[tuple], columns: str) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns.split())


# --- NTIRE 2023: the published table ---------------------------------------------------------------


def test_published_2023_ranks_reproduced(published_2023: pd.DataFrame) -> None:
    raw = published_2023.drop(columns=list(RANK_2023_COLUMNS))
    # Shuffle so that the published row order (already by runtime) cannot help the tie-breaking.
    got = rank_ntire2023(raw.sample(frac=1.0, random_state=7))
    assert len(got) == len(published_2023)
    merged = published_2023.merge(got, on="team", suffixes=("_published", ""), validate="one_to_one")
    failures = []
    for col in RANK_2023_COLUMNS:
        bad = merged[merged[f"{col}_published"] != merged[col]]
        for _, row in bad.iterrows():
            failures.append(f"{row['team']}: {col} published {row[f'{col}_published']}, computed {row[col]}")
    assert not failures, "published ranks not reproduced:\n" + "\n".join(failures)
    assert list(got["ave_r"]) == list(range(1, len(got) + 1))
    assert all(str(got[col].dtype) == "int64" for col in RANK_2023_COLUMNS)


def test_published_2023_floor_is_a_flag_only(published_2023: pd.DataFrame) -> None:
    got = rank_ntire2023(published_2023.drop(columns=list(RANK_2023_COLUMNS)))
    assert len(got) == len(published_2023)  # nobody removed
    below = set(got.loc[~got["psnr_ok"], "team"])
    expected = set(
        published_2023.loc[(published_2023["val_psnr"] < 29.00) | (published_2023["test_psnr"] < 27.00), "team"]
    )
    assert below == expected and "MegSR" in below  # the runtime winner has test PSNR 26.95


def test_input_not_modified(published_2023: pd.DataFrame) -> None:
    before = published_2023.copy()
    rank_ntire2023(published_2023)
    pd.testing.assert_frame_equal(published_2023, before)


# --- NTIRE 2023: hand-worked tables ----------------------------------------------------------------


def test_metric_ties_broken_by_runtime() -> None:
    # a and c share params and flops; c is faster, so c takes the better rank in both and in mc.
    df = _table(
        [("a", 30.0, 0.2, 10.0, 50.0, 300.0), ("b", 10.0, 0.3, 20.0, 60.0, 100.0), ("c", 20.0, 0.2, 10.0, 70.0, 200.0)],
        "team ave params flops acts mem",
    )
    got = rank_ntire2023(df).set_index("team")
    assert list(rank_ntire2023(df)["team"]) == ["b", "c", "a"]  # sorted by ave_r
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
    got = rank_ntire2023(df).set_index("team")
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
    got = rank_ntire2023(df).set_index("team")
    assert got.loc[["p", "q", "r"], "overall"].tolist() == [8, 8, 14]
    assert got.loc[["p", "q", "r"], "mc_r"].tolist() == [2, 1, 3]
    assert got.loc[["q", "p", "r"], "overall_r"].tolist() == [1, 2, 3]


def test_other_columns_kept_and_published_ranks_replaced() -> None:
    df = _table(
        [("a", 20.0, 0.2, 10.0, 5.0, 9.0, 99, "note-a"), ("b", 10.0, 0.1, 20.0, 6.0, 8.0, 99, "note-b")],
        "team ave params flops acts mem ave_r extra",
    )
    got = rank_ntire2023(df)
    assert got["team"].tolist() == ["b", "a"]
    assert got["ave_r"].tolist() == [1, 2]
    assert got["extra"].tolist() == ["note-b", "note-a"]


# --- NTIRE 2024 / 2025 -----------------------------------------------------------------------------


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


@pytest.mark.parametrize("year", ["ntire2024", "ntire2025"])
def test_baseline_scores_e_squared(year: str) -> None:
    got = score_ntire2024(_scores_table(), baseline="RLFN", year=year).set_index("team")
    for col in ("score_runtime", "score_flops", "score_params", "score"):
        assert abs(got.loc["RLFN", col] - math.exp(2)) < 1e-12, col


def test_half_the_baseline_scores_e() -> None:
    got = score_ntire2024(_scores_table(), baseline="RLFN").set_index("team")
    assert abs(got.loc["half", "score"] - math.e) < 1e-12
    assert abs(got.loc["double", "score"] - math.exp(4)) < 1e-9


def test_weights_are_07_015_015() -> None:
    df = _table([("base", 10.0, 10.0, 1.0), ("slow", 20.0, 10.0, 1.0)], "team ave flops params")
    got = score_ntire2024(df, baseline="base").set_index("team")
    assert abs(got.loc["slow", "score"] - (0.7 * math.exp(4) + 0.3 * math.exp(2))) < 1e-12
    assert dict(SCORINGS["ntire2024"].weights) == {"ave": 0.7, "flops": 0.15, "params": 0.15}


def test_below_psnr_floor_is_kept_but_not_ranked() -> None:
    got = score_ntire2024(_scores_table(), baseline="RLFN")
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
    assert psnr_check(df, "ntire2024").tolist() == [True, False, False, False]
    assert psnr_check(df[["team", "test_psnr"]], "ntire2025").tolist() == [True, True, False, True]


def test_without_psnr_columns_everyone_is_ranked() -> None:
    got = score_ntire2024(_scores_table().drop(columns=["val_psnr", "test_psnr"]), baseline="RLFN")
    assert got["psnr_ok"].all() and got["rank"].tolist() == [1, 2, 3, 4]


# --- user errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["team", "ave", "params", "flops", "acts", "mem"])
def test_rank_2023_missing_column(column: str) -> None:
    df = _table([("a", 1.0, 1.0, 1.0, 1.0, 1.0)], "team ave params flops acts mem").drop(columns=[column])
    with pytest.raises(ValueError, match=rf"no column '{column}'; expected columns: team, ave, params"):
        rank_ntire2023(df)


def test_score_missing_column_and_baseline() -> None:
    with pytest.raises(ValueError, match=r"no column 'flops'; expected columns: team, ave, flops, params"):
        score_ntire2024(_scores_table().drop(columns=["flops"]), baseline="RLFN")
    with pytest.raises(ValueError, match=r"baseline team 'EFDN' is not in"):
        score_ntire2024(_scores_table(), baseline="EFDN")
    with pytest.raises(ValueError, match=r"unknown challenge year 'ntire2099'"):
        score_ntire2024(_scores_table(), baseline="RLFN", year="ntire2099")
    with pytest.raises(ValueError, match=r"not ranked by exp-scores"):
        score_ntire2024(_scores_table(), baseline="RLFN", year="ntire2023")


def test_errors_are_harness_errors() -> None:
    from benchmark.errors import HarnessError

    with pytest.raises(HarnessError):
        rank_ntire2023(pd.DataFrame({"team": ["a"]}))
    assert issubclass(ScoringError, ValueError)


def test_missing_value_is_refused() -> None:
    df = _table([("a", 1.0, 1.0, 1.0, 1.0, 1.0), ("b", None, 1.0, 1.0, 1.0, 1.0)], "team ave params flops acts mem")
    with pytest.raises(ValueError, match=r"column 'ave' has missing values \(teams: b\)"):
        rank_ntire2023(df)
