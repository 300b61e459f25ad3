"""The results file: official keys and units, one consistent record per model, written so that nothing is lost.

``results.json`` maps a model name (``05_SRneXt``) to its figures. A model's entry is one record:
it says what it was measured with (checkpoint path and sha256, variant, year, harness version,
device, team code), and every figure in it comes from a run with that identity. A run whose
identity differs replaces the entry instead of merging into it; the replaced record is appended to
``<stem>.superseded.json`` beside the file, never lost. Re-running a split replaces all of that
split's keys, so no figure of an earlier run survives beside fresh ones.

Each update takes a lock file, re-reads the file, changes one model's entry, and replaces the file
atomically (through a symlink, keeping the file's mode). A split is recorded only once complete. A
file that cannot be parsed is kept aside, never overwritten; a single malformed entry is set aside
alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import platform
import statistics
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import torch

from benchmark import __version__, host
from benchmark.data import OFFICIAL_SPLITS
from benchmark.errors import HarnessError
from benchmark.inference import SplitResult
from benchmark.years import get_year

PROJECT = Path(__file__).resolve().parents[1]
IDENTITY_KEYS = ("checkpoint_sha256", "variant", "year", "harness_version", "device_name", "code_sha256")
"""What makes two runs of a model one record; any difference starts a new record."""
IDENTITY_LABELS = {"checkpoint_sha256": "checkpoint", "variant": "variant", "year": "year",
                   "harness_version": "harness version", "device_name": "device", "code_sha256": "team code"}
SPLIT_SUFFIXES = ("runtime", "psnr", "ssim", "psnr_y", "ssim_y", "memory", "ave_runtime", "ave_psnr", "ave_ssim",
                  "ave_psnr_y", "ave_ssim_y", "runs_ave_runtime", "peak_memory", "images", "runtime_stats",
                  "memory_kind", "wall_seconds", "forward_seconds", "tiled", "saved")
"""Every key a split writes is ``{split}_{suffix}`` with one of these suffixes."""


class ResultsWarning(UserWarning):
    """Something about the results file needs the user's attention (a corrupt file or entry was kept aside)."""


def sha256_of(path: str | Path) -> str:
    """The file's sha256, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def companion(results: str | Path, suffix: str) -> Path:
    """A file named after the results file (``R.json`` → ``R.txt``, ``R.log``), so two results files never share one."""
    results = Path(results)
    return results.with_name(results.stem + suffix)


def shown(value: Any, limit: int = 40) -> str:
    """``repr(value)`` of a value read from a user's file, on one line and at most ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def why_not_a_figure(value: Any) -> str | None:
    """Why ``value`` read from a results file is not a figure (a finite number ≥ 0), or None when it is one."""
    if value is None:
        return "null"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{shown(value)}, not a number"
    try:
        number = float(value)
    except OverflowError:
        return f"{shown(value)}, too large for a number"
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "infinite"
    return f"negative ({value!r})" if number < 0 else None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def runtime_stats(runtimes_ms: list[float]) -> dict[str, float | None]:
    """Mean (the official figure), median, standard deviation, and the first (cold) image apart."""
    rest = runtimes_ms[1:]
    return {
        "mean": statistics.fmean(runtimes_ms),
        "median": statistics.median(runtimes_ms),
        "std": statistics.pstdev(runtimes_ms),
        "first": runtimes_ms[0],
        "mean_without_first": statistics.fmean(rest) if rest else None,
    }


def split_entry(runs: list[SplitResult], official_memory: float, warmup: int, repeat: int) -> dict[str, Any]:
    """The keys of one split measured ``len(runs)`` times, the first run scored: official keys first.

    As the organizers publish repeated runs: each image's time is its mean over the runs, and
    ``{split}_ave_runtime`` the mean of the run means, which ``{split}_runs_ave_runtime`` lists.
    ``official_memory`` is the organizers' never-reset peak (this model's earlier splits included);
    ``{split}_peak_memory`` is this split's own.
    """
    first = runs[0]
    s = first.split
    per_run = [[r.runtime_ms for r in run.images] for run in runs]
    runtimes = [statistics.fmean(times) for times in zip(*per_run)]
    entry: dict[str, Any] = {f"{s}_runtime": runtimes}
    for metric in ("psnr", "ssim", "psnr_y", "ssim_y"):
        values = [getattr(r, metric) for r in first.images]
        if all(v is not None for v in values):
            entry[f"{s}_{metric}"] = values
            entry[f"{s}_ave_{metric}"] = statistics.fmean(values)
    entry[f"{s}_memory"] = official_memory
    entry[f"{s}_ave_runtime"] = statistics.fmean(statistics.fmean(times) for times in per_run)
    entry.update({
        f"{s}_runs_ave_runtime": [statistics.fmean(times) for times in per_run],
        f"{s}_peak_memory": max(run.memory_mib for run in runs),
        f"{s}_images": [r.name for r in first.images],
        f"{s}_runtime_stats": {**runtime_stats(per_run[0]), "clock": first.clock, "warmup": warmup, "repeat": repeat,
                               "runs": len(runs), "of": "the first run"},
        f"{s}_memory_kind": first.memory_kind,
        f"{s}_wall_seconds": sum(run.wall_seconds for run in runs),
        f"{s}_forward_seconds": sum(run.forward_seconds for run in runs),
        f"{s}_tiled": sorted({r.name for run in runs for r in run.images if r.tiled}),
        f"{s}_saved": first.saved,
    })
    return entry


def complexity_entry(figures: dict[str, Any], flops_counter: str) -> dict[str, Any]:
    """Official units (params [M], FLOPs [G], activations [M]) and the exact integers of every counter.

    ``flops`` holds the year's figure of record, as that year's organizers' files do: the official
    hook counter's (2023) or fvcore's (from 2024); ``flops_counter`` says which.
    """
    record = figures["flops"] if flops_counter == "hooks" else figures["fvcore_flops"]
    return {
        "num_parameters": figures["params"] / 1e6,
        "flops": record / 1e9,
        "activations": figures["activations"] / 1e6,
        "num_conv": figures["conv"],
        "flops_counter": flops_counter,
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


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's: what a runtime is measured on, and part of a record's identity."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()


def environment(device: torch.device) -> dict[str, Any]:
    """What a runtime figure depends on: the device, its driver and libraries, and the harness version."""
    cuda = device.type == "cuda"
    return {
        "device": str(device),
        "device_name": device_name(device),
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


def run_record(figures: dict[str, Any], *, checkpoint: Path | None, variant: str, year: int, code: list[Path],
               data_range: float, device: torch.device) -> dict[str, Any]:
    """A model's record before any split: its complexity (``year``'s FLOPs of record) and what it was measured
    with, the keys that make its entry one record (see ``IDENTITY_KEYS``)."""
    digest = hashlib.sha256()
    for path in sorted(code):
        digest.update(Path(path).read_bytes())
    return {
        **complexity_entry(figures, get_year(year).flops_counter),
        "checkpoint": None if checkpoint is None else {"path": str(checkpoint), "sha256": sha256_of(checkpoint)},
        "variant": variant,
        "year": year,
        "harness_version": __version__,
        "code_sha256": digest.hexdigest(),
        "data_range": data_range,
        "environment": environment(device),
    }


def identity(entry: dict[str, Any]) -> dict[str, Any]:
    """The identity of a record; entries written before records had one have an empty identity."""
    checkpoint = entry.get("checkpoint")
    values = {
        "checkpoint_sha256": checkpoint.get("sha256") if isinstance(checkpoint, dict) else checkpoint,
        "variant": entry.get("variant"),
        "year": entry.get("year"),
        "harness_version": entry.get("harness_version"),
        "device_name": (entry.get("environment") or {}).get("device_name"),
        "code_sha256": entry.get("code_sha256"),
    }
    return {k: values[k] for k in IDENTITY_KEYS}


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The identity keys on which two records differ, for the console (``checkpoint_sha256``, ``device_name`` …)."""
    a, b = identity(old), identity(new)
    return [k for k in IDENTITY_KEYS if a[k] != b[k]]


def splits_of(entry: dict[str, Any]) -> list[str]:
    """The splits an entry holds, in run order: its ``splits`` list, or (organizers' files) its ``*_ave_runtime`` keys."""
    if isinstance(entry.get("splits"), list):
        return list(entry["splits"])
    return [key.removesuffix("_ave_runtime") for key in entry if key.endswith("_ave_runtime")]


def _drop_split(entry: dict[str, Any], split: str) -> None:
    for suffix in SPLIT_SUFFIXES:
        entry.pop(f"{split}_{suffix}", None)


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


def _parse(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise HarnessError(f"{path}: results file not found; run test_demo.py --results {path} first") from None
    except IsADirectoryError:
        raise HarnessError(f"{path}: a folder, not a results file; pass the results .json file") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        reason = "nested too deeply" if isinstance(err, RecursionError) else str(err)
        raise HarnessError(f"{path}: not a valid results file ({reason}); re-run test_demo.py or restore a copy") from None
    except OSError as err:
        raise HarnessError(f"{path}: cannot be read ({err.strerror}); check the path and its permissions") from None


def read_results(path: str | Path, *, strict: bool = False) -> dict[str, dict[str, Any]]:
    """The results file's valid entries; a HarnessError naming the file if it is missing or not valid JSON.

    Entries that are not JSON objects are left out with a warning (``update_results`` sets them aside);
    with ``strict`` (the tools that rank or submit every entry) such an entry is a HarnessError naming it.
    """
    path = Path(path)
    data = _parse(path)
    if not isinstance(data, dict):
        raise HarnessError(f"{path}: expected a JSON object of model name → figures")
    bad = [name for name, entry in data.items() if not isinstance(entry, dict)]
    if bad and strict:
        kinds = {type(None): "null", bool: "a boolean", str: "a string", list: "a list"}
        kind = kinds.get(type(data[bad[0]]), "a number")
        raise HarnessError(f"{path}: entry {bad[0]!r} is {kind}, not an object of figures; remove it from the file "
                           "or re-run test_demo.py for it")
    if bad:
        warnings.warn(f"{path}: entry {bad[0]!r} is not an object of figures and was left out", ResultsWarning,
                      stacklevel=2)
    return {name: entry for name, entry in data.items() if isinstance(entry, dict)}


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null: JSON has no such numbers, and other readers reject them."""
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path``'s target with ``text``: through a symlink, keeping the mode (umask's for a new file)."""
    target = path.resolve()
    try:
        mode = target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass
class Update:
    """What ``update_results`` did: the file as written, and a record it replaced, if any."""

    results: dict[str, dict[str, Any]]
    replaced: list[str] = field(default_factory=list)
    """Splits of the earlier record that the new identity replaced (moved to ``aside``)."""
    changed: list[str] = field(default_factory=list)
    """The identity keys that differed."""
    aside: Path | None = None

    def replaced_line(self, name: str) -> str | None:
        """What the console says when this update replaced ``name``'s earlier record; None when it did not."""
        if not self.replaced:
            return None
        changed = " and ".join(IDENTITY_LABELS[key] for key in self.changed)
        return (f"{name}: measured with another {changed} than its recorded run, so that run's splits "
                f"({', '.join(self.replaced)}) were replaced; the old record is kept in {self.aside}")


def _set_aside(path: Path, items: dict[str, Any], why: str) -> Path:
    """Append ``items`` (name → entry) to ``<stem>.superseded.json`` with the time and the reason."""
    aside = companion(path, ".superseded.json")
    kept: list[Any] = []
    if aside.exists():
        with contextlib.suppress(HarnessError):
            previous = _parse(aside)
            kept = previous if isinstance(previous, list) else [previous]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    kept += [{"model": name, "set_aside": now, "reason": why, "entry": entry} for name, entry in items.items()]
    write_atomic(aside, json.dumps(_json_safe(kept), indent=2, allow_nan=False) + "\n")
    return aside


def update_results(path: str | Path, model_name: str, record: dict[str, Any],
                   splits: dict[str, dict[str, Any]] | None = None) -> Update:
    """Write ``model_name``'s record and the keys of ``splits`` (split name → its keys) into ``path``.

    Other models are left as they were. With the same identity the record's keys are updated and
    each given split replaces that split's earlier keys; with another identity the earlier entry is
    set aside whole and the new record starts afresh. A file that cannot be parsed is renamed
    ``<name>.corrupt-<time>`` and a new file is started; malformed entries are set aside alone.
    """
    path = Path(path)
    try:
        with _locked(path):
            return _update(path, model_name, record, splits or {})
    except OSError as err:
        raise HarnessError(f"{path}: cannot write the results file ({err.strerror}); choose another --results "
                           "or free some space") from None


def _update(path: Path, name: str, record: dict[str, Any], splits: dict[str, dict[str, Any]]) -> Update:
    results: dict[str, Any] = {}
    if path.exists():
        try:
            results = _parse(path)
            if not isinstance(results, dict):
                raise HarnessError(f"{path}: expected a JSON object")
        except HarnessError:
            aside = path.with_name(f"{path.name}.corrupt-{datetime.now():%Y%m%d-%H%M%S}")
            path.resolve().rename(aside)
            warnings.warn(f"{path} could not be parsed; kept it as {aside} and started a new file", ResultsWarning,
                          stacklevel=3)
            results = {}
    bad = {k: v for k, v in results.items() if not isinstance(v, dict)}
    if bad:
        aside = _set_aside(path, bad, "not an object of figures")
        warnings.warn(f"{path}: malformed entries {', '.join(map(repr, bad))} moved to {aside}", ResultsWarning,
                      stacklevel=3)
        results = {k: v for k, v in results.items() if k not in bad}
    update = Update(results)
    entry = results.get(name)
    if entry is not None and identity(entry) != identity(record):
        update.changed = differences(entry, record)
        update.replaced = splits_of(entry)
        update.aside = _set_aside(path, {name: entry}, "replaced by a run whose " + ", ".join(update.changed)
                                  + " differ")
        entry = None
    entry = {**(entry or {}), **record}
    order = splits_of(entry)
    for split, keys in splits.items():
        _drop_split(entry, split)
        entry.update(keys)
        order = [s for s in order if s != split] + [split]
    entry["splits"] = order
    results[name] = entry
    write_atomic(path, json.dumps(_json_safe(results), indent=2, allow_nan=False) + "\n")
    return update


def ordered_splits(entries: list[dict[str, Any]]) -> list[str]:
    """The splits the entries were run on: the official ones first, then the others in run order."""
    seen: dict[str, None] = {}
    for entry in entries:
        for split in splits_of(entry):
            seen[split] = None
    official = [s for s in OFFICIAL_SPLITS if s in seen]
    return official + [s for s in seen if s not in official]


def format_cell(value: Any, spec: str) -> str:
    """A figure for a table cell: ``format(value, spec)``, or ``n/a`` where the run has none."""
    return "n/a" if value is None else format(value, spec)


def write_results_txt(results: dict[str, dict[str, Any]], path: str | Path) -> None:
    """The official tab-separated summary: PSNR and runtime per split, then the complexity figures.

    With ``valid`` and ``test`` this is the official layout (ave_time is their mean); entries that
    lack a split or a figure get ``n/a`` instead of stopping the export. The FLOPs column is each
    entry's figure of record, and its counter is named beside it.
    """
    splits = ordered_splits(list(results.values()))
    header = ["model"] + [f"{s}_psnr" for s in splits] + [f"{s}_time" for s in splits]
    both = {"valid", "test"} <= set(splits)
    if both:
        header.append("ave_time")
    header += ["params", "flops", "flops_counter", "acts", "mem", "conv"]
    lines = ["\t".join(header)]
    for name, v in results.items():
        row = [name] + [format_cell(v.get(f"{s}_ave_psnr"), ".2f") for s in splits]
        row += [format_cell(v.get(f"{s}_ave_runtime"), ".2f") for s in splits]
        if both:
            times = [v.get("valid_ave_runtime"), v.get("test_ave_runtime")]
            row.append(format_cell(None if None in times else sum(times) / 2, ".2f"))
        memory = [v[f"{s}_memory"] for s in splits if v.get(f"{s}_memory") is not None]
        row += [format_cell(v.get("num_parameters"), ".3f"), format_cell(v.get("flops"), ".2f"),
                v.get("flops_counter", "n/a"), format_cell(v.get("activations"), ".2f"),
                format_cell(max(memory) if memory else None, ".2f"), format_cell(v.get("num_conv"), "d")]
        lines.append("\t".join(row))
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, "\n".join(lines) + "\n")
    except OSError as err:
        raise HarnessError(f"{path}: cannot write ({err.strerror}); choose another --results folder") from None
