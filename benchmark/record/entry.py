"""Building a model's entry: its identity and complexity (the record), and each split's keys from its runs.

As the organizers publish repeated runs: each image's time is its mean over the runs, and
``{split}_ave_runtime`` the mean of the run means. The identity keys (``record.keys.IDENTITY_KEYS``)
decide whether two runs belong to one record."""

from __future__ import annotations

import hashlib
import statistics
from pathlib import Path
from typing import Any

import torch

from benchmark import __version__
from benchmark.core.files import sha256_of
from benchmark.core.years import get_year
from benchmark.imaging.metrics import METRICS
from benchmark.measure.complexity import COUNTERS, counter
from benchmark.measure.deploy import Tolerance
from benchmark.measure.loop import SplitResult
from benchmark.measure.paired import Baseline, Paired, paired_ratio
from benchmark.measure.stats import mean_ci, spread
from benchmark.record.environment import environment
from benchmark.record.keys import IDENTITY_KEYS, REFERENCE


def runtime_stats(runtimes_ms: list[float], run_means: list[float] | None = None) -> dict[str, Any]:
    """Mean (the official figure), median and quartiles, standard deviation, the first (cold) image apart, and with
    several runs the 95% interval of the mean over ``run_means`` (null for one run)."""
    rest = runtimes_ms[1:]
    interval = mean_ci(run_means or [])
    return {
        "mean": statistics.fmean(runtimes_ms),
        **spread(runtimes_ms),
        "std": statistics.pstdev(runtimes_ms),
        "first": runtimes_ms[0],
        "mean_without_first": statistics.fmean(rest) if rest else None,
        "runs_ci95": None if interval is None else list(interval),
    }


def split_entry(runs: list[SplitResult], official_memory: float, repeat: int, tolerance: Tolerance | None = None,
                floor: float | None = None) -> dict[str, Any]:
    """The keys of one split measured ``len(runs)`` times, the first run scored: official keys first.

    As the organizers publish repeated runs: each image's time is its mean over the runs, and
    ``{split}_ave_runtime`` the mean of the run means, which ``{split}_runs_ave_runtime`` lists.
    ``official_memory`` is the organizers' never-reset peak (this model's earlier splits included);
    ``{split}_peak_memory`` is this split's own. A run with a ``tolerance`` (not the official protocol,
    its first run compared with the FP32 eager reference) adds :func:`comparison_keys` against it and the
    split's PSNR ``floor``.
    """
    first = runs[0]
    s = first.split
    per_run = [[r.runtime_ms for r in run.images] for run in runs]
    runtimes = [statistics.fmean(times) for times in zip(*per_run)]
    entry: dict[str, Any] = {f"{s}_runtime": runtimes}
    for metric in METRICS:
        values = [r.scores.get(metric.key) for r in first.images]
        if all(v is not None for v in values):
            entry[f"{s}_{metric.key}"] = values
            entry[f"{s}_ave_{metric.key}"] = statistics.fmean(values)
    entry[f"{s}_memory"] = official_memory
    run_means = [statistics.fmean(times) for times in per_run]
    entry[f"{s}_ave_runtime"] = statistics.fmean(run_means)
    entry.update({
        f"{s}_runs_ave_runtime": run_means,
        f"{s}_peak_memory": max(run.memory_mib for run in runs),
        f"{s}_images": [r.name for r in first.images],
        f"{s}_runtime_stats": {**runtime_stats(per_run[0], run_means), "clock": first.clock, "warmup": 0,
                               "repeat": repeat, "runs": len(runs), "of": "the first run"},
        f"{s}_memory_kind": first.memory_kind,
        f"{s}_wall_seconds": sum(run.wall_seconds for run in runs),
        f"{s}_forward_seconds": sum(run.forward_seconds for run in runs),
        f"{s}_tiled": sorted({r.name for run in runs for r in run.images if r.tiled}),
        f"{s}_saved": first.saved,
    })
    if tolerance is not None:
        entry.update(comparison_keys(first, floor, tolerance))
    return entry


def warm_entry(runs: list[SplitResult], warmup: int) -> dict[str, Any]:
    """The keys of a split timed again after ``warmup`` untimed forwards, beside the official cold keys: each image's
    mean over the runs, and the statistics of the first warm run (``mean`` over every run)."""
    s = runs[0].split
    per_run = [[r.runtime_ms for r in run.images] for run in runs]
    run_means = [statistics.fmean(times) for times in per_run]
    return {f"{s}_warm_runtime": [statistics.fmean(times) for times in zip(*per_run)],
            f"{s}_warm_runtime_stats": {**runtime_stats(per_run[0], run_means), "mean": statistics.fmean(run_means),
                                        "warmup": warmup, "runs": len(runs), "of": "the first warm run"}}


def paired_entry(paired: Paired, baseline: Baseline, beside: str = "baseline") -> dict[str, Any]:
    """The keys of a split timed beside ``baseline``: the ratio of means (the organizers' statistic), its bootstrap
    95% interval over images and runs (null from too few pairs: ``measure.paired.MIN_PAIRS``), the baseline's mean,
    what the baseline was, and every paired time; under ``{split}_{beside}_*``: ``baseline`` for the year's,
    ``reference`` for the reference network of every year."""
    s = paired.split
    estimate = paired_ratio([paired.model_ms], [paired.baseline_ms])
    return {
        f"{s}_{beside}_ratio": estimate.ratio,
        f"{s}_{beside}_ratio_ci95": None if estimate.interval is None else list(estimate.interval),
        f"{s}_{beside}_runtime": statistics.fmean(t for run in paired.baseline_ms for t in run),
        f"{s}_{beside}": {**baseline.identity(), "runs": len(paired.model_ms), "order": "ABBA"},
        f"{s}_{beside}_pairs": {"model": paired.model_ms, "baseline": paired.baseline_ms},
    }


def comparison_keys(run: SplitResult, floor: float | None, tolerance: Tolerance) -> dict[str, Any]:
    """How far a deployment run's outputs are from the FP32 eager reference on the same images: each image's
    largest absolute difference as a fraction of the data range and their maximum, the reference's PSNR, the
    PSNR change (this run's mean minus the reference's, dB), the bounds of its ``tolerance`` at that PSNR, and
    whether the year's PSNR floor of the split holds (raw PSNR, as ranked). None where it cannot be said: no
    weights, a reference that did not fit in memory, a split without a floor."""
    s = run.split
    differences = [r.difference for r in run.images]
    reference = [r.reference_psnr for r in run.images]
    psnr = [r.psnr for r in run.images]
    measured = all(v is not None for v in reference) and all(v is not None for v in psnr)
    ave_reference = statistics.fmean(reference) if measured else None
    ave = statistics.fmean(psnr) if measured else None
    return {
        f"{s}_difference": differences,
        f"{s}_max_difference": max(differences) if all(d is not None for d in differences) else None,
        f"{s}_reference_psnr": reference if measured else None,
        f"{s}_ave_reference_psnr": ave_reference,
        f"{s}_psnr_change": None if ave is None else ave - ave_reference,
        f"{s}_tolerance": tolerance.describe(ave_reference),
        f"{s}_psnr_floor": floor,
        f"{s}_floor_holds": None if ave is None or floor is None else ave >= floor,
    }


def complexity_entry(figures: dict[str, Any], flops_counter: str) -> dict[str, Any]:
    """Official units (params [M], FLOPs [G], activations [M]) and the exact integers of every counter.

    ``flops`` holds the year's figure of record, as that year's organizers' files do: the official
    hook counter's (2023) or fvcore's (from 2024); ``flops_counter`` says which.
    """
    record = figures[counter(flops_counter).field]
    return {
        "num_parameters": figures["params"] / 1e6,
        "flops": record / 1e9,
        "activations": figures["activations"] / 1e6,
        "num_conv": figures["conv"],
        "flops_counter": flops_counter,
        "complexity": {
            **{k: figures[k] for k in ("input_shape", "params", "flops", "activations", "conv",
                                       *(c.field for c in COUNTERS.values() if c.field != "flops"))},
            "unseen": [u for u in figures["unseen"] if u["macs"]],
        },
    }


def run_record(figures: dict[str, Any], *, checkpoints: list[Path], variant: str, year: int, code: list[Path],
               data_range: float, device: torch.device, backend: dict[str, Any] | None = None) -> dict[str, Any]:
    """A model's record before any split: its complexity (``year``'s FLOPs of record) and what it was measured
    with, the keys that make its entry one record (see ``IDENTITY_KEYS``). The first of ``checkpoints`` is the
    record's; a team that loaded several has them all listed under ``checkpoint.all``. ``backend`` is
    ``Backend.describe()`` (eager FP32 when None): its name and precision, and what else it ran with."""
    digest = hashlib.sha256()
    for path in sorted(code):
        digest.update(Path(path).read_bytes())
    files = [{"path": str(path), "sha256": sha256_of(path)} for path in checkpoints]
    checkpoint = None if not files else {**files[0], **({"all": files} if len(files) > 1 else {})}
    return {
        **complexity_entry(figures, get_year(year).flops_counter),
        "checkpoint": checkpoint,
        "variant": variant,
        "year": year,
        "harness_version": __version__,
        "code_sha256": digest.hexdigest(),
        "data_range": data_range,
        "environment": environment(device),
        "backend": (backend or {}).get("backend", REFERENCE[0]),
        "precision": (backend or {}).get("precision", REFERENCE[1]),
        "deployment": backend,
    }


def identity(entry: dict[str, Any]) -> dict[str, Any]:
    """The identity of a record; entries written before records had one have an empty identity."""
    checkpoint = entry.get("checkpoint")
    values = {
        "checkpoint_sha256": checkpoint.get("sha256") if isinstance(checkpoint, dict) else checkpoint,
        "variant": entry.get("variant"),
        "year": entry.get("year"),
        "harness_version": entry.get("harness_version"),
        "device_name": environment.get("device_name") if isinstance(environment := entry.get("environment"), dict)
        else None,
        "code_sha256": entry.get("code_sha256"),
        "dry_run": bool(entry.get("dry_run")),
        "backend": entry.get("backend") or REFERENCE[0],  # records written before there were backends: eager FP32
        "precision": entry.get("precision") or REFERENCE[1],
    }
    return {k: values[k] for k in IDENTITY_KEYS}


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The identity keys on which two records differ, for the console (``checkpoint_sha256``, ``device_name`` …)."""
    a, b = identity(old), identity(new)
    return [k for k in IDENTITY_KEYS if a[k] != b[k]]


def judged(keys: dict[str, Any], split: str, tolerance: Tolerance) -> str | None:
    """Why a deployment run's split is beyond its ``tolerance`` of FP32 eager (its comparison keys' one line), or
    None."""
    return tolerance.judge(keys[f"{split}_max_difference"], keys[f"{split}_psnr_change"],
                           keys[f"{split}_ave_reference_psnr"])
