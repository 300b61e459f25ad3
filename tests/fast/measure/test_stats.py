"""benchmark.measure.stats with simulated timers: the bootstrap interval of a runtime ratio covers the true ratio
under drift, outliers and a slow first image; A B B A interleaving removes a linear drift that sequential timing turns
into a bias; the spread, the interval over runs and the overlap of intervals."""

from __future__ import annotations

import math
import statistics
import warnings

import numpy as np
import pytest

from benchmark.measure.stats import mean_ci, model_first, overlapping, ratio_ci, spread

TRUE_RATIO = 1.7


class Timer:
    """A simulated device: a forward of cost ``c`` takes ``c`` × a drift linear in the forward count (+``drift`` by
    the last forward) × log-normal noise, × ``outlier`` with probability ``outlier_p`` (another process), and × ``cold``
    for each model's first forward. Every effect weighs on both models alike, so the true ratio of their mean times is
    the ratio of their costs."""

    def __init__(self, rng: np.random.Generator, total: int, drift: float = 0.3, noise: float = 0.05,
                 outlier_p: float = 0.05, outlier: float = 1.5, cold: float = 3.0) -> None:
        self.rng, self.total, self.drift, self.noise = rng, total, drift, noise
        self.outlier_p, self.outlier, self.cold = outlier_p, outlier, cold
        self.count, self.seen = 0, set()

    def __call__(self, who: str, cost: float) -> float:
        factor = (1 + self.drift * self.count / self.total) * self.rng.lognormal(0, self.noise)
        if self.rng.random() < self.outlier_p:
            factor *= self.outlier
        if who not in self.seen:
            self.seen.add(who)
            factor *= self.cold
        self.count += 1
        return cost * factor


def measure(timer: Timer, costs: np.ndarray, runs: int, interleaved: bool) -> tuple[np.ndarray, np.ndarray]:
    """The model's (``TRUE_RATIO`` × ``costs``) and the baseline's times, runs × images: in pairs ordered by
    ``model_first`` (as ``measure.paired`` times them), or every run of the model and then every run of the baseline."""
    model, baseline = np.zeros((runs, costs.size)), np.zeros((runs, costs.size))
    if interleaved:
        for slot in range(runs * costs.size):
            run, image = divmod(slot, costs.size)
            for who in (("model", "baseline") if model_first(slot) else ("baseline", "model")):
                if who == "model":
                    model[run, image] = timer("model", TRUE_RATIO * costs[image])
                else:
                    baseline[run, image] = timer("baseline", costs[image])
        return model, baseline
    for who, times, factor in (("model", model, TRUE_RATIO), ("baseline", baseline, 1.0)):
        for run in range(runs):
            for image, cost in enumerate(costs):
                times[run, image] = timer(who, factor * cost)
    return model, baseline


@pytest.mark.parametrize("runs, images", [(3, 5), (5, 20)], ids=["set5-3-runs", "20-images-5-runs"])
def test_interval_covers_the_true_ratio(runs: int, images: int) -> None:
    rng = np.random.default_rng(7)
    costs = rng.uniform(50.0, 200.0, images)  # images of different sizes
    covered, widths = 0, []
    for _ in range(200):
        model, baseline = measure(Timer(rng, 2 * runs * images), costs, runs, interleaved=True)
        ratio, low, high = ratio_ci([model], [baseline])
        covered += low <= TRUE_RATIO <= high
        widths.append((high - low) / 2 / ratio)
    assert covered >= 180, f"the 95% interval covered the true ratio in {covered} of 200 trials"
    assert np.median(widths) < 0.12  # and it is not covering by being useless


def test_interleaving_removes_a_drift_that_sequential_timing_turns_into_a_bias() -> None:
    costs = np.random.default_rng(3).uniform(50.0, 200.0, 5)
    quiet = {"noise": 0.0, "outlier_p": 0.0, "cold": 1.0}
    sequential = measure(Timer(np.random.default_rng(1), 30, **quiet), costs, 3, interleaved=False)
    interleaved = measure(Timer(np.random.default_rng(1), 30, **quiet), costs, 3, interleaved=True)
    biased, _, _ = ratio_ci([sequential[0]], [sequential[1]])
    paired, _, _ = ratio_ci([interleaved[0]], [interleaved[1]])
    # sequential: the model ran in the first half (drift ×1.07 on average), the baseline in the second (×1.22)
    assert biased == pytest.approx(TRUE_RATIO * 1.0725 / 1.2225, rel=0.02)
    assert abs(biased / TRUE_RATIO - 1) > 0.1
    assert paired == pytest.approx(TRUE_RATIO, rel=0.005)


def test_pairs_alternate_a_b_b_a() -> None:
    order = "".join("AB" if model_first(slot) else "BA" for slot in range(4))
    assert order == "ABBAABBA"


def test_ratio_of_two_splits_is_the_organizers_average_and_reproducible() -> None:
    valid, test = np.full((2, 3), 10.0), np.full((2, 4), 6.0)
    base_valid, base_test = np.full((2, 3), 5.0), np.full((2, 4), 4.0)
    ratio, low, high = ratio_ci([valid, test], [base_valid, base_test])
    assert ratio == pytest.approx((10 + 6) / (5 + 4))  # (valid + test) / 2 over the baseline's
    assert low == pytest.approx(ratio) and high == pytest.approx(ratio)  # no noise: no width
    rng = np.random.default_rng(0)
    a, b = rng.uniform(1, 2, (3, 5)), rng.uniform(1, 2, (3, 5))
    assert ratio_ci([a], [b]) == ratio_ci([a], [b])  # the fixed seed: a record's interval can be recomputed
    assert ratio_ci([a], [b], seed=1) != ratio_ci([a], [b])


def test_ratio_refuses_unpaired_times() -> None:
    with pytest.raises(ValueError, match="paired times"):
        ratio_ci([np.ones((2, 3))], [np.ones((2, 4))])
    with pytest.raises(ValueError, match="same splits"):
        ratio_ci([np.ones((2, 3))], [])


def test_spread_and_interval_of_the_mean() -> None:
    assert spread([1.0, 2.0, 3.0, 4.0, 100.0]) == {"median": 3.0, "q25": 2.0, "q75": 4.0}
    low, high = mean_ci([10.0, 12.0, 14.0])
    half = 4.302652729749464 * 2.0 / math.sqrt(3)  # t(0.975, 2 df) × s / √n
    assert (low, high) == (pytest.approx(12.0 - half), pytest.approx(12.0 + half))
    assert mean_ci([5.0]) is None  # one run: no interval
    cold = [30.0, 2.0, 2.1, 1.9, 2.0]  # one slow cold run among five: Student's t reaches below 0, a runtime cannot
    low, high = mean_ci(cold)
    t = 2.7764451051977987  # t(0.975, 4 df)
    assert low == 0.0 and high == pytest.approx(7.6 + t * statistics.stdev(cold) / math.sqrt(5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning either
        assert mean_ci([1e308, 1e308, 9e307]) is None  # the mean overflows a float: no interval, not inf–inf


def test_overlapping_intervals_are_ties() -> None:
    low, high = [1.0, 1.5, 3.0, 2.0, math.nan], [2.0, 2.5, 4.0, 2.0, 9.0]
    assert overlapping(low, high) == [[1, 3], [0, 3], [], [0, 1], []]
