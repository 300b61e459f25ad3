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
from benchmark.measure.stats import model_first

PAIR_WARMUP = 1
"""Untimed forwards of each model on the split's first image before the pairs are timed."""


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

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "checkpoint_sha256": self.checkpoint_sha256, "params": self.params,
                "flops": self.flops, "flops_counter": self.flops_counter, "data_range": self.data_range}

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
                    figures["params"], figures[counter(flops_counter).field], flops_counter)


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
