"""Your official score before you submit: the year's baseline timed beside the model (``--vs-baseline``), the noise in
plain sight, the predicted score and rank, the protocol of record by default, and intervals and ties in compare."""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import models
from benchmark import compare
from benchmark.data.splits import benchmark_split
from benchmark.measure import watch
from benchmark.measure.backend import Backend
from benchmark.measure.loop import Target, evaluate
from benchmark.measure.paired import Baseline, time_pair
from benchmark.measure.settings import Settings
from benchmark.measure.stats import ratio_ci
from benchmark.rank.board import clean_name, leaderboard, results_table
from benchmark.rank.predict import place, prediction, published_table
from benchmark.rank.scoring import exp_score
from benchmark.record.keys import DERIVED_KEYS
from benchmark.record.store import read_results, update_results

PROJECT = Path(__file__).resolve().parents[1]
E2 = math.exp(2)
CPU = torch.device("cpu")


TWICE = """
import models, torch
from torch import nn

class Twice(nn.Module):  # costs twice the baseline: SPAN's forward, run twice (both used, or fvcore's trace drops one)
    def __init__(self):
        super().__init__()
        self.span = models.create_model(0, {checkpoint!r}, year=2026)

    def forward(self, x):
        return (self.span(x) + self.span(x)) / 2

models.register(models.ModelSpec(year=2026, team_id=98, name="SPAN_twice", builder=Twice,
                                 checkpoint="team98_twice.pth", data_range=1.0))
"""


def span_vs_baseline(shared: Path, tmp: Path, *extra: str, model_id: str = "0", team: str = ""
                     ) -> tuple[dict, str, str]:
    """``python test_demo.py --year 2026 --model_id N --dataset Set5 --runs 3 --vs-baseline`` on the CPU, as a user runs
    it: in a process of its own (whose OpenMP threads sleep while they wait, ``core.host``), after the module ``team``
    (source) registers a test team there. Returns the entry, stdout and stderr."""
    argv = ["--year", "2026", "--model_id", model_id, "--dataset", str(shared / "data" / "Set5"), "--runs", "3",
            "--vs-baseline", "--model_zoo", str(shared / "reference" / "model_zoo"), "--results", str(tmp / "R.json"),
            "--no-save", "--device", "cpu", *extra]
    (tmp / "test_team.py").write_text(team)
    script = (f"import sys, test_demo\nsys.path.insert(0, {str(tmp)!r})\nimport test_team\n"
              "sys.exit(test_demo.main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", script, *argv], cwd=PROJECT, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr
    return next(iter(read_results(tmp / "R.json").values())), proc.stdout, proc.stderr


def half_width(interval: list[float], centre: float) -> float:
    return (interval[1] - interval[0]) / 2 / centre


def others_now(seconds: float = 2.0) -> float:
    """The CPU cores other processes use now (``watch.Watch`` over a sleep of this process)."""
    state = watch.Watch(CPU)
    time.sleep(seconds)
    return state.finish()["cpu"].get("other_cores", 0.0)


def assert_narrow(interval: list[float], centre: float, others: float) -> None:
    """The interval is within ±10% of ``centre``, where no process but the test's own competed for the CPU.

    On a machine other sessions share (``others`` cores busy before the test began) an interval may be
    honestly wider, and that is all it can say: the test then skips with the reading rather than flake.
    """
    if half_width(interval, centre) >= 0.10 and others > watch.BUSY_CORES:
        pytest.skip(f"other processes used {others:.1f} CPU cores before the test: the ±10% target is for a machine "
                    f"where only the test's own load competes (the interval {interval} still held the truth)")
    assert half_width(interval, centre) < 0.10, interval


@contextlib.contextmanager
def cpu_hog():
    """Another process loading the CPU: one busy Python loop, ended by its own pid."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        yield hog
    finally:
        hog.kill()
        hog.wait()


# --- the baseline beside the model, end to end on the CPU -----------------------------------------------------------


@pytest.fixture(scope="module")
def itself(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, str, float]:
    """SPAN (2026) timed beside SPAN, with a warm timing asked for beside the official cold one; and how many cores
    other processes used just before."""
    others = others_now()
    return (*span_vs_baseline(shared, tmp_path_factory.mktemp("itself"), "--warmup", "1"), others)


def test_the_baseline_against_itself_is_one_and_scores_e_squared(itself: tuple[dict, str, str, float]) -> None:
    entry, out, _, others = itself
    ratio, interval = entry["Set5_baseline_ratio"], entry["Set5_baseline_ratio_ci95"]
    assert interval[0] <= 1.0 <= interval[1], interval
    assert entry["Set5_baseline"]["name"] == "00_SPAN" and entry["Set5_baseline"]["order"] == "ABBA"
    assert entry["Set5_baseline"]["checkpoint_sha256"] == models.get_spec(0, 2026).sha256
    pairs = entry["Set5_baseline_pairs"]
    assert np.shape(pairs["model"]) == np.shape(pairs["baseline"]) == (3, 5)  # --runs 3 × Set5
    assert ratio == pytest.approx(np.mean(pairs["model"]) / np.mean(pairs["baseline"]), rel=1e-12)
    assert entry["Set5_baseline_runtime"] == pytest.approx(np.mean(pairs["baseline"]), rel=1e-12)
    low, high = entry["predicted_score_ci95"]
    assert low <= E2 <= high
    details = entry["prediction"]
    assert (details["flops_ratio"], details["params_ratio"]) == (1.0, 1.0)  # exact counts over exact counts
    assert details["psnr_floors"] is None and "not the official splits" in details["note"]
    rank = entry["predicted_rank"]
    assert rank["of"] == 10 and rank["best"] <= 4 <= rank["worst"]  # SPAN is 4th of the 9 ranked 2026 entries
    assert "predicted NTIRE 2026 score" in out and "predicted rank" in out
    assert_narrow(interval, ratio, others)


def test_the_official_keys_are_timed_cold_and_the_warm_timing_goes_beside(itself: tuple[dict, str, str, float]
                                                                            ) -> None:
    entry, _, _, _ = itself
    assert entry["Set5_runtime_stats"]["warmup"] == 0
    assert len(entry["Set5_runs_ave_runtime"]) == 3
    warm = entry["Set5_warm_runtime_stats"]
    assert warm["warmup"] == 1 and warm["runs"] == 3 and len(entry["Set5_warm_runtime"]) == 5
    assert warm["mean"] == pytest.approx(np.mean(entry["Set5_warm_runtime"]), rel=1e-12)


def test_console_tables_show_the_spread(itself: tuple[dict, str, str, float]) -> None:
    entry, out, _, _ = itself
    text = " ".join(out.split())
    for header in ("mean (official)", "95% CI (runs)", "median", "IQR", "first (cold)", "warm mean",
                   "vs baseline (95% CI)"):
        assert header in text, header
    stats = entry["Set5_runtime_stats"]
    assert f"{stats['median']:.2f}" in out and f"{stats['q25']:.2f}–{stats['q75']:.2f}" in out
    assert "ms/image mean, median" in out  # the progress bar
    assert f"×{entry['Set5_baseline_ratio']:.3f}" in out


def test_the_busy_warning_follows_the_machine(itself: tuple[dict, str, str, float]) -> None:
    """A quiet run has no busy warning: here, where other sessions share the CPU, whether it was quiet is what the
    split recorded (the warning logic itself is tested on fixed readings below)."""
    entry, out, _, _ = itself
    cpu = entry["Set5_machine"]["cpu"]
    assert cpu["cpus"] == watch.os.cpu_count() and cpu["other_cores"] >= 0
    assert ("the machine was busy" in " ".join(out.split())) == (cpu["other_cores"] > watch.BUSY_CORES)
    assert "gpu" not in entry["Set5_machine"]  # absent on the CPU, never made up


def test_under_a_cpu_hog_the_ratio_holds_and_the_machine_is_called_busy(shared: Path, tmp_path: Path) -> None:
    others = others_now()
    with cpu_hog():
        entry, out, _ = span_vs_baseline(shared, tmp_path)
    ratio, interval = entry["Set5_baseline_ratio"], entry["Set5_baseline_ratio_ci95"]
    assert interval[0] <= 1.0 <= interval[1], interval
    assert entry["Set5_machine"]["cpu"]["other_cores"] > watch.BUSY_CORES
    assert "warning: 00_SPAN on Set5: the machine was busy while it was timed (other processes used" in " ".join(
        out.split())
    assert_narrow(interval, ratio, others)


def test_a_model_that_costs_twice_the_baseline_is_timed_at_two(shared: Path, tmp_path: Path) -> None:
    checkpoint = str(shared / "reference" / "model_zoo" / "team00_SPAN.pth")
    others = others_now()
    entry, _, _ = span_vs_baseline(shared, tmp_path, model_id="98", team=TWICE.format(checkpoint=checkpoint))
    ratio, interval = entry["Set5_baseline_ratio"], entry["Set5_baseline_ratio_ci95"]
    assert interval[0] <= 2.0 <= interval[1], interval
    assert entry["prediction"]["runtime_ratio"] == pytest.approx(ratio)
    assert entry["prediction"]["params_ratio"] == 1.0  # the same parameters, run twice
    assert entry["prediction"]["flops_ratio"] == pytest.approx(2.0, rel=1e-3)
    assert_narrow(interval, 2.0, others)


# --- the pair, with a simulated device ------------------------------------------------------------------------------


class Priced(nn.Module):
    """Nearest ×4 upscaling whose simulated forward costs ``cost`` ms."""

    def __init__(self, cost: float) -> None:
        super().__init__()
        self.cost = cost

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(4, -2).repeat_interleave(4, -1)


class DriftingDevice(Backend):
    """A CPU whose clock slows linearly with every forward (+1% each): each forward takes its model's cost × that."""

    def __init__(self) -> None:
        super().__init__(CPU)
        self.forwards, self.current = 0, None

    def prepare(self, model: nn.Module):
        def call(x: torch.Tensor) -> torch.Tensor:
            self.current = model
            return model(x)
        return call

    def timed(self, fn):
        out = fn()
        self.forwards += 1
        return out, self.current.cost * (1 + 0.01 * self.forwards)


def test_pairs_remove_the_drift_that_sequential_runs_turn_into_a_bias(shared: Path) -> None:
    split = benchmark_split(shared / "data" / "Set5")
    settings = Settings(device=CPU, runs=3)
    baseline = Baseline(Priced(1.0), "00_Base", 255.0, None, 1, 1, "fvcore")
    paired = time_pair(Priced(2.0), "01_Double", 255.0, baseline, split, settings, DriftingDevice())
    interleaved, _, _ = ratio_ci([paired.model_ms], [paired.baseline_ms])
    assert interleaved == pytest.approx(2.0, rel=0.005)
    device = DriftingDevice()  # the same device timing the model's runs, then the baseline's
    means = [np.mean([[r.runtime_ms for r in evaluate(m, split, settings, Target(m_name, score=False), device).images]
                      for _ in range(3)]) for m, m_name in ((Priced(2.0), "01_Double"), (Priced(1.0), "00_Base"))]
    assert means[0] / means[1] < 2.0 * 0.9  # the drift made the later baseline look slower by over 10%
    assert paired.images == ["baby", "bird", "butterfly", "head", "woman"]


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
    times = [[10.0, 20.0, 30.0], [11.0, 19.0, 31.0]]
    derived = prediction(_paired_entry(2026, times, times))
    assert set(derived) == set(DERIVED_KEYS)
    assert derived["predicted_score"] == pytest.approx(E2, rel=1e-12)
    assert derived["predicted_score_ci95"] == [pytest.approx(E2, rel=1e-12)] * 2
    assert derived["prediction"]["subtracks"] == {"runtime": True, "flops": True, "params": True}
    assert derived["predicted_rank"]["text"].startswith("4th of 10 in 2026")


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
    entry = {**_timed([10.0]), "Set5_baseline_pairs": {"model": [[10.0, 12.0], [9.0, 11.0]],
                                                            "baseline": [[5.0, 6.0], [5.0, 5.0]]}}
    row = results_table({"m": entry}, 2026).iloc[0]
    ratio, low, high = ratio_ci([entry["Set5_baseline_pairs"]["model"]], [entry["Set5_baseline_pairs"]["baseline"]])
    assert row["interval_from"] == "baseline ratio"
    assert (row["ave_ci95_low"], row["ave_ci95_high"]) == (pytest.approx(10.0 * low / ratio),
                                                           pytest.approx(10.0 * high / ratio))


# --- the sweep, and what the README says -----------------------------------------------------------------------------


def test_the_sweep_times_the_baseline_beside_each_team(shared: Path, tmp_path: Path) -> None:
    data = tmp_path / "Two"
    for sub, suffix in (("HR", ""), ("LR_bicubic/X4", "x4")):
        (data / sub).mkdir(parents=True)
        for name in ("baby", "bird"):
            shutil.copy(shared / "data" / "Set5" / sub / f"{name}{suffix}.png", data / sub)
    results = tmp_path / "sweep.json"
    proc = subprocess.run([sys.executable, "-m", "benchmark.sweep", "--year", "2026", "--model_id", "0", "--dataset",
                           str(data), "--runs", "2", "--device", "cpu", "--vs-baseline", "--offline", "--model_zoo",
                           str(shared / "reference" / "model_zoo"), "--results", str(results)],
                          cwd=PROJECT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    entry = read_results(results)["00_SPAN"]
    assert np.shape(entry["Two_baseline_pairs"]["model"]) == (2, 2)
    assert entry["sweep"]["settings"]["vs_baseline"] is True
    assert entry["predicted_score"] == pytest.approx(
        0.8 * math.exp(2 * entry["prediction"]["runtime_ratio"]) + 0.2 * E2)


def test_every_new_key_is_documented() -> None:
    readme = (PROJECT / "README.md").read_text()
    for key in ("{split}_baseline_ratio", "{split}_baseline_ratio_ci95", "{split}_baseline_runtime",
                "{split}_baseline`", "{split}_baseline_pairs", "{split}_warm_runtime", "{split}_warm_runtime_stats",
                "{split}_machine", "predicted_score", "predicted_score_ci95", "predicted_rank", "`prediction`",
                "score_ci95_low", "score_ci95_high", "`tie`", "ave_ci95_low", "interval_from", "--vs-baseline",
                "runs_ci95"):
        assert key in readme, key
