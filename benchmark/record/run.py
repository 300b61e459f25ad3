"""The one path from a built model to its record: complexity, then every split ``runs`` times, each split's keys
handed on when complete.

``test_demo.py`` (this project's teams) and the sweep worker (a challenge repository's teams, or
this project's in their own process) both measure through :func:`measure_and_record`, so a team's
figures and keys do not depend on how it was started.

A run in another backend or precision (``settings.backend``/``settings.precision``, built by
``benchmark.measure.deploy.make_backend``) is compared on its first run with the model's own FP32
eager output on every image (untimed), and each split records how far it is (``entry.comparison_keys``);
a split beyond its precision's tolerance (``measure.deploy.Tolerance``) ends the run with
``DeploymentFailed`` before that split is handed on, so its figures are never recorded as the deployment's.

Repeated runs follow the organizers' protocol since 2024 (five runs, the mean reported): each split
is timed ``runs`` times in a row, cold (no warm-up, as every year's official loop); the first run is
also scored and saved (the outputs do not change between runs, the timings do). Memory follows the
official loop too: the official key is the peak never reset since the model's first split, so a
later split's figure includes the earlier ones'. A ``warmup`` asks for a second timing after that
many untimed forwards, recorded beside the official keys (``{split}_warm_*``), never in their place.
With a baseline, once every split's official runs are done, each split is timed again beside it
(``measure.paired``) and its keys gain the ratio (``{split}_baseline_*``); with a reference network (the atlas's
one network for every year), again beside that (``{split}_reference_*``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from torch import nn

from benchmark.core.years import get_year
from benchmark.data.splits import Split
from benchmark.measure.backend import Backend
from benchmark.measure.deploy import DeploymentFailed, Tolerance, make_backend
from benchmark.measure.loop import ImageResult, SplitResult, Target, evaluate
from benchmark.measure.paired import Baseline, time_pair
from benchmark.measure.settings import Settings
from benchmark.measure.watch import Watch
from benchmark.record.entry import judged, paired_entry, run_record, split_entry, warm_entry

OnImage = Callable[[str, int, ImageResult], None]
"""``on_image(split, run, result)``, called as each image of each run is finished."""
OnSplit = Callable[[str, dict[str, Any]], None]
"""``on_split(split, keys)``, called with a split's results keys once all its runs are complete."""


def run_splits(model: nn.Module, name: str, data_range: float, splits: list[Split], settings: Settings,
               scored: bool, on_image: OnImage | None = None, on_split: OnSplit | None = None,
               backend: Backend | None = None, floors: Mapping[str, float] | None = None,
               baseline: Callable[[], Baseline] | None = None, reference: Callable[[], Baseline] | None = None
               ) -> dict[str, dict[str, Any]]:
    """Evaluate ``model`` on every split ``settings.runs`` times; returns split name → its results keys.

    ``scored`` is False for a model without weights: it is timed, never scored or saved. ``backend``
    defaults to the one ``settings`` names; unless it is the official one, the first run is compared
    with ``model`` in eager FP32 and each split's PSNR is set against its floor in ``floors``.
    ``baseline`` builds the model to time beside it once the official runs are done; ``on_split`` is
    then called again for each split, with its keys and the pair's; ``reference`` likewise, after it.
    """
    backend = backend or make_backend(settings.backend, settings.device, settings.precision)
    compared = not backend.reference
    tolerance = Tolerance.of(backend.precision, backend.device) if compared else None
    cold = replace(settings, warmup=0)
    official_memory = 0.0
    recorded: dict[str, dict[str, Any]] = {}
    for split in splits:
        runs: list[SplitResult] = []
        watch = Watch(settings.device)
        for run in range(settings.runs):
            first = run == 0
            save_dir = settings.save_dir / name / split.name if settings.save_dir and scored and first else None
            target = Target(name, data_range, score=scored and first, save_dir=save_dir)
            report = None if on_image is None else (lambda i, r, s=split.name, k=run: on_image(s, k, r))
            runs.append(evaluate(model, split, cold, target, backend, report, compare=compared and first))
        keys = {**split_entry(runs, max(official_memory, *(r.memory_mib for r in runs)), settings.repeat, tolerance,
                              (floors or {}).get(split.name)),
                f"{split.name}_machine": watch.finish()}
        failure = None if tolerance is None or not scored else judged(keys, split.name, tolerance)
        if failure is not None:  # before on_split: the split's figures are never recorded as the deployment's
            raise DeploymentFailed(f"on {split.name}, {failure}")
        official_memory = keys[f"{split.name}_memory"]
        if settings.warmup > 0:
            warm = [evaluate(model, split, settings, Target(name, data_range, score=False), backend)
                    for _ in range(settings.runs)]
            keys.update(warm_entry(warm, settings.warmup))
        recorded[split.name] = keys
        if on_split is not None:
            on_split(split.name, keys)
    for kind, build in (("baseline", baseline), ("reference", reference)):
        if build is None:
            continue
        beside = build()
        for split in splits:
            recorded[split.name].update(paired_entry(time_pair(model, name, data_range, beside, split, settings,
                                                               backend), beside, kind))
            if on_split is not None:
                on_split(split.name, recorded[split.name])
    return recorded


@dataclass
class Measured:
    """A model's finished measurement: its results name, its record (identity and complexity) and each split's keys."""

    name: str
    record: dict[str, Any]
    splits: dict[str, dict[str, Any]]


def measure_and_record(model: nn.Module, figures: dict[str, Any], *, name: str, data_range: float, year: int,
                       checkpoints: list[Path], code: list[Path], splits: list[Split], settings: Settings,
                       scored: bool, variant: str = "faithful", extra: dict[str, Any] | None = None,
                       on_record: Callable[[dict[str, Any]], None] | None = None, on_image: OnImage | None = None,
                       on_split: OnSplit | None = None, baseline: Callable[[], Baseline] | None = None,
                       reference: Callable[[], Baseline] | None = None) -> Measured:
    """Record ``model`` (complexity ``figures`` from ``measure.complexity.measure`` of its faithful network),
    then run it on every split; unless ``scored`` (a network on random weights) it is timed only.

    ``extra`` keys join the record (a sweep's provenance); ``on_record(record)`` is called before
    the first forward, ``on_split(split, keys)`` as each split is complete; ``baseline`` builds the year's
    baseline to time beside the model, ``reference`` the reference network (``run_splits``). The backend is
    built (exported, compiled) before the record is written, so one that cannot run here writes nothing.
    """
    backend = make_backend(settings.backend, settings.device, settings.precision)
    backend.prepare(model)
    record = {**run_record(figures, checkpoints=checkpoints, variant=variant, year=year, code=code,
                           data_range=data_range, device=settings.device, backend=backend.describe()),
              **(extra or {})}
    if on_record is not None:
        on_record(record)
    keys = run_splits(model, name, data_range, splits, settings, scored=scored, on_image=on_image,
                      on_split=on_split, backend=backend, floors=get_year(year).psnr_floors, baseline=baseline,
                      reference=reference)
    return Measured(name, record, keys)
