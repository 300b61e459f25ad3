"""Runtime statistics as pure functions on arrays: the spread of a split's times, the order that interleaves two
models, the interval of a mean over runs, the bootstrap interval of a runtime ratio, and which intervals overlap.

Per-image times are skewed (a cold first image, spikes when another process runs) and the organizers'
statistic is a ratio of means, so the ratio's interval is a bootstrap: images and runs are resampled,
paired (a model's and the baseline's time of one image in one run were taken side by side, so they
share that moment's clocks and load), with numpy's generator and a fixed seed, so that a record's
interval can be recomputed to the digit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as scipy_stats

LEVEL = 0.95
RESAMPLES = 4000
SEED = 20260417
"""The bootstrap's seed: the same times always give the same interval."""


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median and interquartile range of ``values`` (numpy's linear percentiles)."""
    q25, median, q75 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return {"median": float(median), "q25": float(q25), "q75": float(q75)}


def mean_ci(values: Sequence[float], level: float = LEVEL) -> tuple[float, float] | None:
    """Student's t interval of the mean of ``values`` (the means of repeated runs: runtimes, so its lower end is at
    least 0, where one slow cold run among five would put it below); None for fewer than two, for values that are
    all equal (an interval of zero width is no interval) and where the figures overflow a float.

    With five runs a bootstrap over runs would cover far less than its level; Student's t is exact for
    normal run means and honest for few of them (its width grows as they get fewer).
    """
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return None
    with np.errstate(over="ignore", invalid="ignore"):  # figures near 1e308 (a foreign file) overflow: no interval
        mean, half = x.mean(), scipy_stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    if not (half > 0 and np.isfinite(half) and np.isfinite(mean)):
        return None
    return max(0.0, float(mean - half)), float(mean + half)


def model_first(slot: int) -> bool:
    """Whether the model goes before the baseline in pair ``slot`` (0, 1, 2 … over every image of every run):
    A B, B A, A B, B A … (A B B A A B B A), so that a drift linear in time weighs on both alike."""
    return slot % 2 == 0


def ratio_ci(model: Sequence[np.ndarray], baseline: Sequence[np.ndarray], level: float = LEVEL,
             resamples: int = RESAMPLES, seed: int = SEED) -> tuple[float, float, float]:
    """The ratio of mean runtimes and its bootstrap interval: ``(ratio, low, high)``.

    ``model[s]`` and ``baseline[s]`` are split ``s``'s times, runs × images, taken in pairs. The
    ratio is ``Σ_s mean(model[s]) / Σ_s mean(baseline[s])``: for one split the model's mean over the
    baseline's, for valid and test the organizers' (valid + test) / 2 against the baseline's. Each
    resample draws, per split, images and runs with replacement, the same ones for both models; the
    interval is the percentile interval of the resampled ratios.
    """
    if len(model) != len(baseline) or not model:
        raise ValueError("ratio_ci needs the model's and the baseline's times of the same splits")
    rng = np.random.default_rng(seed)
    num, den = np.zeros(resamples), np.zeros(resamples)
    point_num = point_den = 0.0
    for a, b in zip(model, baseline):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        if a.shape != b.shape or a.ndim != 2 or a.size == 0:
            raise ValueError(f"paired times must be runs × images of one shape, got {a.shape} and {b.shape}")
        runs, images = a.shape
        w_run = rng.multinomial(runs, np.full(runs, 1 / runs), size=resamples)
        w_img = rng.multinomial(images, np.full(images, 1 / images), size=resamples)
        num += np.einsum("br,ri,bi->b", w_run, a, w_img) / a.size
        den += np.einsum("br,ri,bi->b", w_run, b, w_img) / b.size
        point_num, point_den = point_num + a.mean(), point_den + b.mean()
    low, high = np.percentile(num / den, [50 - 50 * level, 50 + 50 * level])
    return point_num / point_den, float(low), float(high)


def overlapping(low: Sequence[float], high: Sequence[float]) -> list[list[int]]:
    """For each interval ``[low[i], high[i]]``, the other intervals it overlaps (statistical ties), by index.

    An interval with a NaN bound overlaps nothing: a figure without an interval cannot be called a tie.
    """
    lo, hi = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    known = ~(np.isnan(lo) | np.isnan(hi))
    touch = (lo[:, None] <= hi[None, :]) & (lo[None, :] <= hi[:, None]) & known[:, None] & known[None, :]
    np.fill_diagonal(touch, False)
    return [list(np.flatnonzero(row)) for row in touch]
