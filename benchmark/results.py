"""The results file: official keys and units, merged per model, written so that nothing is ever lost.

``results.json`` maps a model name (``05_SRneXt``) to its figures. The official harness rewrites the
file in place, so a crash mid-write or two runs at once lose every team's numbers. Here each update
takes a lock file, re-reads the file, merges one model's keys, and replaces the file atomically.
A split's keys are written only once the split is complete, so an interrupted run never leaves a
half-measured split behind. A file that cannot be parsed is kept aside, never overwritten.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import platform
import statistics
import subprocess
import tempfile
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import torch

from benchmark import host
from benchmark.data import OFFICIAL_SPLITS
from benchmark.errors import HarnessError
from benchmark.inference import SplitResult

PROJECT = Path(__file__).resolve().parents[1]


class ResultsWarning(UserWarning):
    """Something about the results file needs the user's attention (a corrupt file was kept aside)."""


def runtime_stats(runtimes_ms: list[float]) -> dict[str, float]:
    """Mean (the official figure), median, standard deviation, and the first (cold) image apart."""
    rest = runtimes_ms[1:]
    return {
        "mean": statistics.fmean(runtimes_ms),
        "median": statistics.median(runtimes_ms),
        "std": statistics.pstdev(runtimes_ms),
        "first": runtimes_ms[0],
        "mean_without_first": statistics.fmean(rest) if rest else math.nan,
    }


def split_entry(result: SplitResult, warmup: int, repeat: int) -> dict[str, Any]:
    """The keys one split adds to a model's entry: the official ones first, then the harness's own."""
    s = result.split
    runtimes = [r.runtime_ms for r in result.images]
    entry: dict[str, Any] = {f"{s}_runtime": runtimes}
    for metric in ("psnr", "ssim", "psnr_y", "ssim_y"):
        values = [getattr(r, metric) for r in result.images]
        if all(v is not None for v in values):
            entry[f"{s}_{metric}"] = values
            entry[f"{s}_ave_{metric}"] = statistics.fmean(values)
    entry[f"{s}_memory"] = result.memory_mib
    entry[f"{s}_ave_runtime"] = statistics.fmean(runtimes)
    entry.update({
        f"{s}_images": [r.name for r in result.images],
        f"{s}_runtime_stats": {**runtime_stats(runtimes), "clock": result.clock, "warmup": warmup, "repeat": repeat},
        f"{s}_memory_kind": result.memory_kind,
        f"{s}_wall_seconds": result.wall_seconds,
        f"{s}_forward_seconds": result.forward_seconds,
        f"{s}_tiled": [r.name for r in result.images if r.tiled],
    })
    return entry


def complexity_entry(figures: dict[str, Any]) -> dict[str, Any]:
    """Official units (params [M], FLOPs [G], activations [M]) plus the exact integers of all counters."""
    return {
        "num_parameters": figures["params"] / 1e6,
        "flops": figures["flops"] / 1e9,
        "activations": figures["activations"] / 1e6,
        "num_conv": figures["conv"],
        "complexity": {
            **{k: figures[k] for k in ("input_shape", "params", "flops", "activations", "conv", "fvcore_flops",
                                       "ptflops_macs")},
            "unseen": [u for u in figures["unseen"] if u["macs"]],
        },
    }


def _git_commit() -> str | None:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT, capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _nvidia_driver() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return out.strip().splitlines()[0] if out.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device: torch.device) -> dict[str, Any]:
    """What a runtime figure depends on: the device, its driver and libraries, and the harness version."""
    cuda = device.type == "cuda"
    return {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if cuda else _cpu_name(),
        "driver": _nvidia_driver() if cuda else None,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "torch": torch.__version__,
        "cpu": _cpu_name(),
        "cpu_threads": torch.get_num_threads(),
        "allocator": host.allocator(),
        "python": platform.python_version(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "harness_commit": _git_commit(),
    }


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside ``path`` so that two runs writing the same results file both land."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_results(path: str | Path) -> dict[str, dict[str, Any]]:
    """The results file as a dict; a HarnessError naming the file if it is missing or not valid JSON."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise HarnessError(f"{path}: results file not found; run test_demo.py --results {path} first") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise HarnessError(f"{path}: not a valid results file ({err}); re-run test_demo.py or restore a copy") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise HarnessError(f"{path}: expected a JSON object of model name → figures")
    return data


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def update_results(path: str | Path, model_name: str, entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Merge ``entry`` into ``model_name``'s figures in ``path``, leaving every other key as it was.

    Returns the whole file as written. A file that cannot be parsed is renamed
    ``<name>.corrupt-<time>`` with a warning and a new file is started.
    """
    path = Path(path)
    try:
        return _update(path, model_name, entry)
    except OSError as err:
        raise HarnessError(f"{path}: cannot write the results file ({err.strerror}); choose another --results") from None


def _update(path: Path, model_name: str, entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    with _locked(path):
        results: dict[str, dict[str, Any]] = {}
        if path.exists():
            try:
                results = read_results(path)
            except HarnessError:
                aside = path.with_name(f"{path.name}.corrupt-{datetime.now():%Y%m%d-%H%M%S}")
                path.rename(aside)
                warnings.warn(f"{path} could not be parsed; kept it as {aside} and started a new file", ResultsWarning,
                              stacklevel=2)
        results[model_name] = {**results.get(model_name, {}), **entry}
        _write_atomic(path, json.dumps(results, indent=2, allow_nan=True) + "\n")
    return results


def ordered_splits(entries: list[dict[str, Any]]) -> list[str]:
    """The splits the entries were run on: the official ones first, then the others in run order."""
    seen: dict[str, None] = {}
    for entry in entries:
        for key in entry:
            if key.endswith("_ave_runtime"):
                seen[key.removesuffix("_ave_runtime")] = None
    official = [s for s in OFFICIAL_SPLITS if s in seen]
    return official + [s for s in seen if s not in official]


def format_cell(value: Any, spec: str) -> str:
    """A figure for a table cell: ``format(value, spec)``, or ``n/a`` where the run has none."""
    return "n/a" if value is None else format(value, spec)


def write_results_txt(results: dict[str, dict[str, Any]], path: str | Path) -> None:
    """The official tab-separated ``results.txt``: PSNR and runtime per split, then the complexity figures.

    With ``valid`` and ``test`` this is the official layout (ave_time is their mean); entries that
    lack a split or a figure get ``n/a`` instead of stopping the export.
    """
    splits = ordered_splits(list(results.values()))
    header = ["model"] + [f"{s}_psnr" for s in splits] + [f"{s}_time" for s in splits]
    both = {"valid", "test"} <= set(splits)
    if both:
        header.append("ave_time")
    header += ["params", "flops", "acts", "mem", "conv"]
    lines = ["\t".join(header)]
    for name, v in results.items():
        row = [name] + [format_cell(v.get(f"{s}_ave_psnr"), ".2f") for s in splits]
        row += [format_cell(v.get(f"{s}_ave_runtime"), ".2f") for s in splits]
        if both:
            times = [v.get("valid_ave_runtime"), v.get("test_ave_runtime")]
            row.append(format_cell(None if None in times else sum(times) / 2, ".2f"))
        memory = [v[f"{s}_memory"] for s in splits if f"{s}_memory" in v]
        row += [format_cell(v.get("num_parameters"), ".3f"), format_cell(v.get("flops"), ".2f"),
                format_cell(v.get("activations"), ".2f"), format_cell(max(memory) if memory else None, ".2f"),
                format_cell(v.get("num_conv"), "d")]
        lines.append("\t".join(row))
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, "\n".join(lines) + "\n")
    except OSError as err:
        raise HarnessError(f"{path}: cannot write ({err.strerror}); choose another --results folder") from None
