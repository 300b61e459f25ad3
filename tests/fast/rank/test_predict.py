"""Your official score before you submit: the predicted score and rank against the published leaderboard, derived keys
that never outlive their split, intervals and ties in compare, and every new key documented."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark import compare
from benchmark.measure.paired import interval_from, pair_count, paired_ratio
from benchmark.measure.stats import mean_ci, ratio_ci
from benchmark.rank.board import clean_name, leaderboard, results_table
from benchmark.rank.predict import place, prediction, published_table
from benchmark.rank.scoring import exp_score
from benchmark.record.keys import DERIVED_KEYS
from benchmark.record.store import read_results, update_results
from benchmark.report.noise import prediction_line

E2 = math.exp(2)


# --- the baseline beside the model, end to end on the CPU -----------------------------------------------------------


# --- the pair, with a simulated device ------------------------------------------------------------------------------


# --- the predicted score and rank -----------------------------------------------------------------------------------


def test_the_published_2026_figures_are_the_organizers(shared: Path) -> None:
    path = shared / "reference" / "official" / "ntire2026_results.json"
    if not path.is_file():
        pytest.skip(f"the organizers' results file is not available at {path}")
    organizers = {clean_name(name): entry for name, entry in json.loads(path.read_text()).items()}
    table = published_table(2026).set_index("team")
    assert sorted(table.index) == sorted(organizers)
    for team, entry in organizers.items():
        row = table.loc[team]
        assert (row["val_t"], row["test_t"]) == (entry["valid_ave_runtime"], entry["test_ave_runtime"]), team
        assert (row["val_psnr"], row["test_psnr"]) == (entry["valid_ave_psnr"], entry["test_ave_psnr"]), team
        assert (row["params"], row["flops"]) == (entry["num_parameters"], entry["flops"]), team


@pytest.mark.parametrize("rounded", [False, True], ids=["raw", "rounded"])
def test_each_published_entry_fed_its_own_figures_gets_its_published_rank(rounded: bool) -> None:
    table = published_table(2026)
    board = exp_score(table, 2026, "00_SPAN", psnr_rounded=rounded).set_index("team")
    base = table.set_index("team").loc["00_SPAN"]
    for _, entry in table.iterrows():
        ratios = {"runtime": entry["ave"] / base["ave"], "flops": entry["flops"] / base["flops"],
                  "params": entry["params"] / base["params"]}
        rank, of = place(ratios, {"valid": entry["val_psnr"], "test": entry["test_psnr"]}, 2026, psnr_rounded=rounded,
                         exclude=entry["team"])
        published = board.loc[entry["team"], "rank"]
        assert rank == (None if pd.isna(published) else int(published)), entry["team"]
    assert (board.loc["22_SPANV2_ESR_C2", "rank"], board.loc["00_SPAN", "rank"]) == ((1, 6) if rounded else (1, 4))


def _paired_entry(year: int, model: list[list[float]], baseline: list[list[float]], **extra: object) -> dict:
    return {"year": year, "splits": ["Set5"], "complexity": {"params": 150688, "fvcore_flops": 9833807872},
            "Set5_baseline": {"name": "00_SPAN", "params": 150688, "flops": 9833807872, "flops_counter": "fvcore"},
            "Set5_baseline_pairs": {"model": model, "baseline": baseline}, **extra}


def test_prediction_of_a_model_equal_to_the_baseline_is_e_squared() -> None:
    times = [[10.0, 20.0, 30.0, 40.0, 50.0], [11.0, 19.0, 31.0, 39.0, 52.0]]
    derived = prediction(_paired_entry(2026, times, times))
    assert set(derived) == set(DERIVED_KEYS)
    assert derived["predicted_score"] == pytest.approx(E2, rel=1e-12)
    assert derived["predicted_score_ci95"] is None  # every resample gives ×1: an interval of zero width is none
    assert derived["prediction"]["subtracks"] == {"runtime": True, "flops": True, "params": True}
    assert derived["predicted_rank"]["text"].startswith("4th of 10 in 2026")
    assert (derived["predicted_rank"]["best"], derived["predicted_rank"]["worst"]) == (None, None)


def test_one_pair_gives_the_point_figures_and_a_warning_never_an_interval_or_a_rank_range() -> None:
    """The issue's case: one image, one run, ×1.138, printed as "[1.138–1.138] … 95% interval" and "5th of 10"."""
    entry = _paired_entry(2026, [[113.8]], [[100.0]])
    entry.update(prediction(entry))
    assert entry["predicted_score_ci95"] is None and entry["prediction"]["runtime_ratio_ci95"] is None
    assert entry["prediction"]["score_runtime_ci95"] is None
    assert entry["prediction"]["pairs"] == {"timed": 1, "protocol": 5, "protocol_runs": 5, "images": 1, "needed": 10}
    rank = entry["predicted_rank"]
    assert (rank["rank"], rank["best"], rank["worst"]) == (5, None, None) and rank["text"].startswith("5th of 10 in")
    line = prediction_line("m", entry)
    assert "[" not in line and "×1.138," in line and "predicted rank 5th of 10 in 2026" in line
    assert line.endswith("; warning: point figures, no interval and no rank range: 1 pair (1 run × 1 image), fewer "
                         "than the 10 a 95% interval needs; the NTIRE 2026 protocol gives 5 pairs (5 runs × 1 image); "
                         "time it with --runs 10 or on more images")


@pytest.mark.parametrize("runs, images, bounded", [(1, 9, False), (1, 10, True), (3, 3, False), (2, 5, True)])
def test_an_interval_needs_ten_pairs(runs: int, images: int, bounded: bool) -> None:
    rng = np.random.default_rng(runs * 100 + images)
    model = rng.uniform(10, 12, (runs, images)).tolist()
    baseline = rng.uniform(9, 11, (runs, images)).tolist()
    estimate = paired_ratio([model], [baseline])
    assert estimate.pairs == runs * images == pair_count({"model": model})
    ratio, low, high = ratio_ci([model], [baseline])
    assert estimate.ratio == ratio and estimate.interval == ((low, high) if bounded else None)
    assert (prediction(_paired_entry(2026, model, baseline))["predicted_score_ci95"] is not None) is bounded
    assert interval_from(1.0, 1.0, 50) is None and interval_from(None, 2.0, 50) is None  # zero width, none given


def test_prediction_reads_the_floors_on_official_splits_and_the_rank_sum_year_has_none() -> None:
    faster = {"valid_baseline_pairs": {"model": [[5.0, 5.0]], "baseline": [[10.0, 10.0]]},
              "test_baseline_pairs": {"model": [[5.0]], "baseline": [[10.0]]}, "splits": ["valid", "test"],
              "valid_baseline": {"name": "00_SPAN", "params": 150688, "flops": 9833807872, "flops_counter": "fvcore"},
              "valid_ave_psnr": 26.85, "test_ave_psnr": 27.1}
    derived = prediction({**_paired_entry(2026, [[1.0]], [[1.0]]), **faster})
    assert derived["prediction"]["splits"] == ["valid", "test"]  # the official average, not Set5
    assert derived["prediction"]["runtime_ratio"] == 0.5
    assert derived["predicted_score"] == pytest.approx(0.8 * math.e + 0.2 * E2)
    assert derived["prediction"]["psnr_floors"]["ok"] is False  # 26.85 dB < 26.90 dB on valid
    assert derived["predicted_rank"]["rank"] is None and "not ranked" in derived["predicted_rank"]["text"]
    assert prediction(_paired_entry(2025, [[1.0]], [[1.0]]))["predicted_rank"] is None  # no published 2025 table
    rank_sum = prediction(_paired_entry(2023, [[1.0]], [[1.0]]))
    assert rank_sum["predicted_score"] is None and "rank sums" in rank_sum["prediction"]["note"]
    assert prediction({"year": 2026, "splits": ["Set5"], "Set5_ave_runtime": 3.0}) == {}


def test_derived_keys_never_outlive_the_split_they_came_from(tmp_path: Path) -> None:
    path, times = tmp_path / "R.json", [[10.0, 20.0]]
    entry = _paired_entry(2026, times, times)
    record = {k: entry[k] for k in ("year", "complexity")}
    splits = {"Set5": {k: v for k, v in entry.items() if k.startswith("Set5_")}}
    written = update_results(path, "m", record, splits, derive=prediction).results["m"]
    assert written["predicted_score"] == pytest.approx(E2)
    update_results(path, "m", record, {"Set5": {"Set5_ave_runtime": 1.0}}, derive=prediction)  # re-run, no pair
    again = read_results(path)["m"]
    assert not set(DERIVED_KEYS) & set(again) and "Set5_baseline_pairs" not in again
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text


# --- compare: intervals and ties -------------------------------------------------------------------------------------


def _timed(runs: list[float], params: float = 0.15, flops: float = 9.8) -> dict:
    return {"Set5_ave_runtime": float(np.mean(runs)), "Set5_runs_ave_runtime": runs, "Set5_memory": 10.0,
            "num_parameters": params, "flops": flops, "flops_counter": "fvcore", "activations": 1.0, "num_conv": 1,
            "splits": ["Set5"]}


def test_leaderboard_intervals_and_ties(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = {"00_SPAN": _timed([10.0, 10.4, 9.6]), "01_Near": _timed([10.2, 10.9, 9.8]),
               "02_Far": _timed([20.0, 20.1, 19.9]), "03_Once": _timed([5.0])}
    board = leaderboard(results_table(results, 2026), 2026, "00_SPAN").set_index("team")
    assert board.loc["03_Once", ["score_ci95_low", "ave_ci95_low"]].isna().all()  # one run: no interval
    assert board.loc["00_SPAN", "interval_from"] == "runs"
    assert board.loc["00_SPAN", "score_ci95_low"] < E2 < board.loc["00_SPAN", "score_ci95_high"]
    assert board.loc["00_SPAN", "tie"] == "01_Near" and board.loc["01_Near", "tie"] == "00_SPAN"
    assert board.loc["02_Far", "tie"] == "" and board.loc["03_Once", "tie"] == ""
    path = tmp_path / "R.json"
    path.write_text(json.dumps(results))
    assert compare.main(["--results", str(path), "--year", "2026", "--out", str(tmp_path / "out")]) == 0
    csv = pd.read_csv(tmp_path / "out" / "leaderboard.csv")
    assert {"score_ci95_low", "score_ci95_high", "tie", "ave_ci95_low", "ave_ci95_high"} <= set(csv.columns)
    out = capsys.readouterr().out
    assert "Score 95% CI" in out and "Tie with" in out and "statistical tie" in " ".join(out.split())


@pytest.mark.parametrize("pairs, why", [({"model": [[1.0, 2.0]], "baseline": [[1.0]]}, "different runs or images"),
                                        ({"model": [[1.0, -2.0]], "baseline": [[1.0, 1.0]]}, "negative (-2.0)"),
                                        ([1.0], "not an object of model and baseline times")])
def test_compare_refuses_malformed_paired_times_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            pairs: object, why: str) -> None:
    path = tmp_path / "R.json"
    path.write_text(json.dumps({"00_SPAN": {**_timed([10.0, 10.4]), "Set5_baseline_pairs": pairs}}))
    assert compare.main(["--results", str(path), "--year", "2026", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: model 00_SPAN: Set5_baseline_pairs is ") and why in err and "\n" not in err


def test_a_paired_record_puts_its_ratio_interval_on_its_runtime() -> None:
    entry = {**_timed([10.0]), "Set5_baseline_pairs": {"model": [[10.0, 12.0, 9.0, 8.0, 7.0], [9.0, 11.0, 9.5, 8, 7]],
                                                            "baseline": [[5.0, 6.0, 5, 4, 4], [5.0, 5.0, 5, 4, 3]]}}
    row = results_table({"m": entry}, 2026).iloc[0]
    ratio, low, high = ratio_ci([entry["Set5_baseline_pairs"]["model"]], [entry["Set5_baseline_pairs"]["baseline"]])
    assert row["interval_from"] == "baseline ratio"
    assert (row["ave_ci95_low"], row["ave_ci95_high"]) == (pytest.approx(10.0 * low / ratio),
                                                           pytest.approx(10.0 * high / ratio))


def test_too_few_pairs_give_no_leaderboard_interval_and_a_note(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A model timed beside the baseline on one run of five images is its point on the leaderboard (a tie only where
    that point lies in another's interval), and the notes say why (pairs timed, pairs the year's protocol gives)."""
    few = {**_timed([10.1]), "Set5_baseline_pairs": {"model": [[10.0, 10.5, 9.0, 11.0, 10.0]],
                                                          "baseline": [[10.0, 10.0, 10.0, 10.0, 10.0]]}}
    results = {"00_SPAN": _timed([10.0, 10.4, 9.6]), "01_Few": few}
    board = leaderboard(results_table(results, 2026), 2026, "00_SPAN").set_index("team")
    assert board.loc["01_Few", ["ave_ci95_low", "score_ci95_low"]].isna().all()
    assert board.loc["01_Few", "tie"] == "00_SPAN"  # its point 10.1 ms lies in 00_SPAN's interval of its runs
    assert mean_ci([10.0, 10.0, 10.0]) is None  # runs that are all equal: zero width, no interval either
    path = tmp_path / "R.json"
    path.write_text(json.dumps(results))
    assert compare.main(["--results", str(path), "--year", "2026", "--out", str(tmp_path / "out")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("no runtime interval for 01_Few: 5 pairs (1 run × 5 images), fewer than the 10 a 95% interval "
            "needs; the NTIRE 2026 protocol gives 25 pairs (5 runs × 5 images); time it with --runs 2 or on more "
            "images") in out
