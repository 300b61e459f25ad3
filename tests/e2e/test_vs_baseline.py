"""--vs-baseline end to end: the year's baseline timed beside the model (against itself, against a model that costs twice as much, beside a CPU hog, in a sweep), cold official keys, the spread on the console."""

from __future__ import annotations

import contextlib
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import PROJECT
from torch import nn

import models
from benchmark.data.splits import benchmark_split
from benchmark.measure import watch
from benchmark.measure.backend import Backend
from benchmark.measure.loop import Target, evaluate
from benchmark.measure.paired import Baseline, time_pair
from benchmark.measure.settings import Settings
from benchmark.measure.stats import ratio_ci
from benchmark.record.store import read_results

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
                    f"where only the test's own load competes (the interval was {interval})")
    assert half_width(interval, centre) < 0.10, interval


def assert_around(ratio: float, interval: list[float], truth: float) -> None:
    """The interval is an interval about the ratio, and the ratio is the truth within 1.4× either way (a bug, a
    wrong pairing or a missed image, is further off; SPAN against itself gave 0.956–1.255 under load here).

    That the 95% interval holds the truth is not asserted: by design it misses about one run in twenty, and more
    often while other processes load the CPU, so such a test fails without a bug.
    """
    assert interval[0] <= ratio <= interval[1], (ratio, interval)
    assert truth / 1.4 < ratio < truth * 1.4, (ratio, truth)


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


@pytest.fixture(scope="module")
def itself(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, str, float]:
    """SPAN (2026) timed beside SPAN, with a warm timing asked for beside the official cold one; and how many cores
    other processes used just before."""
    others = others_now()
    return (*span_vs_baseline(shared, tmp_path_factory.mktemp("itself"), "--warmup", "1"), others)


def test_the_baseline_against_itself_is_one_and_scores_e_squared(itself: tuple[dict, str, str, float]) -> None:
    entry, out, _, others = itself
    ratio, interval = entry["Set5_baseline_ratio"], entry["Set5_baseline_ratio_ci95"]
    assert_around(ratio, interval, 1.0)
    assert entry["Set5_baseline"]["name"] == "00_SPAN" and entry["Set5_baseline"]["order"] == "ABBA"
    assert entry["Set5_baseline"]["checkpoint_sha256"] == models.get_spec(0, 2026).sha256
    pairs = entry["Set5_baseline_pairs"]
    assert np.shape(pairs["model"]) == np.shape(pairs["baseline"]) == (3, 5)  # --runs 3 × Set5
    assert ratio == pytest.approx(np.mean(pairs["model"]) / np.mean(pairs["baseline"]), rel=1e-12)
    assert entry["Set5_baseline_runtime"] == pytest.approx(np.mean(pairs["baseline"]), rel=1e-12)
    low, high = entry["predicted_score_ci95"]
    assert low <= entry["predicted_score"] <= high and E2 / 2 < entry["predicted_score"] < E2 * 2
    details = entry["prediction"]
    assert (details["flops_ratio"], details["params_ratio"]) == (1.0, 1.0)  # exact counts over exact counts
    assert details["psnr_floors"] is None and "not the official splits" in details["note"]
    rank = entry["predicted_rank"]
    assert rank["of"] == 10 and rank["best"] <= rank["rank"] <= rank["worst"]
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
    assert_around(ratio, interval, 1.0)
    assert entry["Set5_machine"]["cpu"]["other_cores"] > watch.BUSY_CORES
    assert "warning: 00_SPAN on Set5: the machine was busy while it was timed (other processes used" in " ".join(
        out.split())
    assert_narrow(interval, ratio, others)


def test_a_model_that_costs_twice_the_baseline_is_timed_at_two(shared: Path, tmp_path: Path) -> None:
    checkpoint = str(shared / "reference" / "model_zoo" / "team00_SPAN.pth")
    others = others_now()
    entry, _, _ = span_vs_baseline(shared, tmp_path, model_id="98", team=TWICE.format(checkpoint=checkpoint))
    ratio, interval = entry["Set5_baseline_ratio"], entry["Set5_baseline_ratio_ci95"]
    # the truth is a little above 2: two SPAN forwards, then the sum and the halving of two SR images (measured
    # [2.001, 2.079] in one run here)
    assert_around(ratio, interval, 2.04)
    assert entry["prediction"]["runtime_ratio"] == pytest.approx(ratio)
    assert entry["prediction"]["params_ratio"] == 1.0  # the same parameters, run twice
    assert entry["prediction"]["flops_ratio"] == pytest.approx(2.0, rel=1e-3)
    assert_narrow(interval, 2.0, others)


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
