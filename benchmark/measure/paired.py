"""A model and its year's baseline timed side by side: image by image, in the order A B B A …, in one process on one
device, for the year's number of runs.

The absolute runtime does not travel between machines (another GPU, a 2-core CPU, another load);
its ratio to the baseline measured beside it largely does, and since 2024 a team's runtime counts
only as that ratio (Score_runtime = exp(2·T/T_baseline)). Both models go through the official
loop's pieces (:class:`~benchmark.measure.loop.Runner` on the same
:class:`~benchmark.measure.backend.Backend`: the same timer, synchronisation, no-grad, repeats and
out-of-memory tiling, each its own data range), each LR uploaded before its timer starts, each output
checked and dropped: nothing is scored or saved. The pass runs after the model's official runs, so
the baseline is never on the device while they are measured; each model first runs the split's
first image once untimed, so that neither's first timed image is its first forward.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

import models
from benchmark.core.files import sha256_of
from benchmark.core.years import get_year
from benchmark.data.splits import Split
from benchmark.imaging.images import read_image, to_tensor
from benchmark.measure.backend import Backend
from benchmark.measure.complexity import counter, measure
from benchmark.measure.loop import Runner, Target, check_output
from benchmark.measure.settings import Settings
from benchmark.measure.stats import model_first, ratio_ci

PAIR_WARMUP = 1
"""Untimed forwards of each model on the split's first image before the pairs are timed."""
MIN_PAIRS = 10
"""The fewest paired times (runs × images, over every split the ratio is taken on) that give the ratio to the baseline
a 95% interval; from fewer, and for an interval of zero width, only the ratio itself is given.

The interval is a percentile bootstrap over images and runs (``measure.stats.ratio_ci``). Its spread
is the plug-in one, √((n−1)/n) of the sample's, read with normal quantiles where n pairs call for
Student's t: for normal times its "95%" covers P(|t(n−1)| ≤ 1.96·√((n−1)/n)): 60% from 2 pairs, 75%
from 3, 85% from 5, 90% from 10, 93% from 25 (five runs of Set5). Simulated on paired times whose ratio
differs between images (8% noise on each time, 300 splits per shape), it covered 77% from 3 pairs,
81% from 5 and 90–96% from 10. One pair resamples only to itself: an interval of zero width. From 10
pairs an interval holds roughly what it claims; below, it would claim far more than it holds.
"""


@dataclass(frozen=True)
class Baseline:
    """The year's baseline as the pair times it, and what its record says of it."""

    model: nn.Module
    name: str
    data_range: float
    checkpoint_sha256: str | None
    """None when the official checkpoint could not be had: timed on random weights (the time is the same)."""
    params: int
    flops: int
    """Its FLOPs by its year's counter (``flops_counter``), an exact count at 1×3×256×256."""
    flops_counter: str
    protocol_runs: int = 1
    """The runs its year's protocol times each model (``years.toml``): the pairs the protocol gives on a split are
    these runs × the split's images."""

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "checkpoint_sha256": self.checkpoint_sha256, "params": self.params,
                "flops": self.flops, "flops_counter": self.flops_counter, "data_range": self.data_range,
                "protocol_runs": self.protocol_runs}

    def on(self, device: torch.device) -> Baseline:
        return replace(self, model=self.model.to(device))


def load_baseline(year: int, device: torch.device, model_zoo: Path, base_url: str | None = None,
                  offline: bool = False, trust_checkpoint: bool = False) -> Baseline:
    """Team 00 of ``year`` with its official checkpoint (fetched and verified as any team's), on ``device``."""
    spec = models.get_spec(0, year)
    checkpoint = models.fetch_checkpoint(spec, model_zoo, base_url=base_url, offline=offline)
    model = models.create_model(0, checkpoint, device, year=year, trust_checkpoint=trust_checkpoint)
    figures = measure(model)
    flops_counter = get_year(year).flops_counter
    return Baseline(model, spec.display_name, spec.data_range, None if checkpoint is None else sha256_of(checkpoint),
                    figures["params"], figures[counter(flops_counter).field], flops_counter, get_year(year).runs)


@dataclass(frozen=True)
class PairedRatio:
    """The ratio of a model's mean runtime to the baseline's timed beside it, and its 95% interval where the pairs
    support one (:data:`MIN_PAIRS`)."""

    ratio: float
    interval: tuple[float, float] | None
    """None from fewer than ``MIN_PAIRS`` pairs, or when the bootstrap's interval has zero width."""
    pairs: int
    """Paired times the ratio comes from (runs × images, summed over the splits)."""


def interval_from(low: float | None, high: float | None, pairs: int) -> tuple[float, float] | None:
    """``(low, high)`` as an interval that means something, else None: from ``pairs`` fewer than ``MIN_PAIRS``, of
    zero width, or not given."""
    if low is None or high is None or pairs < MIN_PAIRS or not high > low:
        return None
    return low, high


def paired_ratio(model: Sequence[Sequence[Sequence[float]]], baseline: Sequence[Sequence[Sequence[float]]]
                 ) -> PairedRatio:
    """The ratio over splits of paired times (each split's runs × images, model and baseline alike: as
    ``{split}_baseline_pairs`` records them) and its interval under the rule of :data:`MIN_PAIRS`."""
    ratio, low, high = ratio_ci(model, baseline)
    pairs = sum(len(run) for split in model for run in split)
    return PairedRatio(ratio, interval_from(low, high, pairs), pairs)


def pair_count(pairs: Any) -> int:
    """The paired times a ``{split}_baseline_pairs`` value holds (runs × images); 0 for anything else."""
    times = pairs.get("model") if isinstance(pairs, dict) else None
    if not isinstance(times, list):
        return 0
    return sum(len(run) for run in times if isinstance(run, list))


@dataclass
class Paired:
    """One split's paired times, runs × images, in milliseconds."""

    split: str
    images: list[str]
    model_ms: list[list[float]]
    baseline_ms: list[list[float]]


def time_pair(model: nn.Module, name: str, data_range: float, baseline: Baseline, split: Split, settings: Settings,
              backend: Backend | None = None) -> Paired:
    """Time ``model`` and ``baseline`` on every image of ``split``, ``settings.runs`` times, in pairs A B, B A …

    ``settings.tile`` (a team's own tiling) applies to the model only; the baseline runs whole images
    as its year's organizers ran it.
    """
    backend = backend or Backend(settings.device)
    memory = backend.memory()  # the runners need one; the pair records no memory
    once = replace(settings, warmup=PAIR_WARMUP)
    runners = (Runner(model, once, Target(name, data_range, score=False), backend, memory),
               Runner(baseline.model, replace(once, tile=None), Target(baseline.name, baseline.data_range, score=False),
                      backend, memory))
    for runner in runners:
        runner.warm_up(split.pairs[0])
    times: tuple[list[list[float]], list[list[float]]] = ([], [])
    slot = 0
    for _ in range(settings.runs):
        for side in times:
            side.append([])
        for pair in split.pairs:
            lr = read_image(pair.lr)
            for which in ((0, 1) if model_first(slot) else (1, 0)):
                runner = runners[which]
                x = backend.upload(to_tensor(lr, runner.target.data_range))
                out, ms, _ = runner.run(x, pair)
                check_output(out, x, pair)
                del out, x
                times[which][-1].append(ms)
            slot += 1
    return Paired(split.name, [p.name for p in split.pairs], *times)


def _counted(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def no_interval_reason(pairs: int, runs: int, images: int, protocol_runs: int | None = None, year: Any = None) -> str:
    """Why a ratio from ``pairs`` paired times (``runs`` × ``images``) has no interval, for a warning: how many pairs
    there were, how many an interval needs and how many the year's protocol gives (its ``protocol_runs`` × the same
    images, when known), and what to run; or that the interval had zero width."""
    said = f"{_counted(pairs, 'pair')} ({_counted(runs, 'run')} × {_counted(images, 'image')})"
    if pairs >= MIN_PAIRS:
        return f"{said} whose times do not vary: an interval of zero width, which is none"
    whose = f"the NTIRE {year}" if year else "the year's"
    protocol = "" if protocol_runs is None else \
        (f"; {whose} protocol gives {_counted(protocol_runs * images, 'pair')} ({_counted(protocol_runs, 'run')} × "
         f"{_counted(images, 'image')})")
    return (f"{said}, fewer than the {MIN_PAIRS} a 95% interval needs{protocol}; time it with --runs "
            f"{-(-MIN_PAIRS // max(images, 1))} or on more images")
