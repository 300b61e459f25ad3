"""The deployment matrix: each model run by every backend × precision side by side, at fixed input sizes, each output
set against the FP32 eager one and each time against the hardware's limit measured in the same run.

Per model and input size every available way of running it is built and settled first (exported,
compiled: outside the timer), then timed round-robin, one forward each per round, the order
rotated every round, so that all see the same machine; the median and the interquartile range of
the rounds are kept. The peak of each precision is measured in the same process, with the same
clock (``benchmark.measure.roofline``: the best rate of a large matmul and of a large 3×3
convolution), before the first model and again after the last, the higher kept: on a shared machine
one measurement can fall in a busy moment, and a peak below what the models reach is no roof. Rates count a multiply-add once, as the FLOPs counters of record (the official hooks,
fvcore) do, so a model's achieved rate (the year's FLOPs of record at that input over its median
time) and the peak share one unit. With ``profile``, the memory bandwidth is measured too and each
model's eager FP32 forward is timed operator by operator against both roofs.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import models
from benchmark.core.errors import HarnessError
from benchmark.core.years import YEARS, get_year
from benchmark.imaging.images import to_tensor
from benchmark.measure.backend import REFERENCE, Backend, PeakMemory, Unavailable, first_line, timed
from benchmark.measure.complexity import counter, measure
from benchmark.measure.deploy import make_backend
from benchmark.measure.roofline import bandwidth, judge, peak, roofline


@dataclass(frozen=True)
class Entry:
    """One model of the matrix: a registered team, its fast variant or not."""

    spec: models.ModelSpec
    fast: bool = False

    @property
    def label(self) -> str:
        return f"{self.spec.display_name}{' (fast)' if self.fast else ''}"


def default_entries() -> list[Entry]:
    """Every year's baseline, and the fast SRneXt (the fast variant of every team that has one)."""
    baselines = [Entry(s) for s in models.list_models() if s.display_name == get_year(s.year).baseline]
    return baselines + [Entry(s, fast=True) for s in models.list_models() if s.fast_builder is not None]


def parse_entry(text: str) -> Entry:
    """``YEAR:ID`` or ``YEAR:ID:fast`` (``2023:5:fast``), as ``--models`` takes them."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts[:2]) or parts[2:] not in ([], ["fast"]):
        raise HarnessError(f"--models {text}: write YEAR:ID or YEAR:ID:fast, e.g. 2026:0 2023:5:fast")
    spec = models.get_spec(int(parts[1]), int(parts[0]))
    if len(parts) == 3 and spec.fast_builder is None:
        raise HarnessError(f"--models {text}: {spec.display_name} has no fast variant; drop :fast")
    return Entry(spec, fast=len(parts) == 3)


LARGEST_LR = 2048 * 2048
"""The most LR pixels ``--sizes`` takes: an 8192×8192 SR image (a 2K LR is the challenge's largest; beyond it one
float32 feature map of 48 channels alone outgrows most machines' memory)."""


def parse_size(text: str) -> tuple[int, int]:
    """``HxW`` (``339x510``): an LR height and width of at least 16 pixels, at most :data:`LARGEST_LR` in all."""
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) >= 16 for p in parts):
        raise HarnessError(f"--sizes {text}: write HEIGHTxWIDTH of at least 16 pixels each, e.g. 256x256 339x510")
    h, w = int(parts[0]), int(parts[1])
    if h * w > LARGEST_LR:
        raise HarnessError(f"--sizes {text}: {h * w:,} LR pixels, over the {LARGEST_LR:,} (2048x2048) the matrix "
                           "times; choose a smaller size")
    return h, w


def photograph(h: int, w: int) -> np.ndarray:
    """An ``h``×``w`` RGB crop of a natural photograph (scikit-image's ``coffee``, mirrored where it is too small):
    activations as a real image makes them, which random noise does not."""
    from skimage import data as skdata

    img = skdata.coffee()
    grow = ((0, max(0, h - img.shape[0])), (0, max(0, w - img.shape[1])), (0, 0))
    return np.ascontiguousarray(np.pad(img, grow, mode="symmetric")[:h, :w])


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise OSError("no VmRSS")


def forward_memory(backend: Backend, fn: Callable[[], torch.Tensor]) -> float | None:
    """MiB one forward takes beyond what is held before it: PyTorch's CUDA allocator peak, or on a CPU the growth
    of the peak RSS (freed heap given back first). None where it cannot be seen (memory that ONNX Runtime or
    TensorRT allocate on a GPU, a CPU without /proc)."""
    device = backend.device
    with torch.inference_mode():
        if device.type == "cuda":
            if backend.allocator != "torch":
                return None
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            before = torch.cuda.memory_allocated(device)
            fn()
            torch.cuda.synchronize(device)
            return (torch.cuda.max_memory_allocated(device) - before) / 1024**2
        memory = PeakMemory(device)
        try:
            memory.reset()
            before = _rss_mib()
        except OSError:
            return None
        fn()
        return memory.read_mib() - before


@dataclass
class Way:
    """One backend × precision of one model at one size: built, settled, then timed each round."""

    backend: str
    precision: str
    call: Callable[[], torch.Tensor] | None = None
    runner: Backend | None = None
    why: str | None = None
    times: list[float] = field(default_factory=list)
    difference: float | None = None
    memory_mib: float | None = None


def _prepare(way: Way, model: torch.nn.Module, x: torch.Tensor, device: torch.device) -> torch.Tensor | None:
    """Build and settle ``way`` (compilation, export: untimed); its output, or None with ``way.why`` set."""
    try:
        backend = make_backend(way.backend, device, way.precision, fixed_shape=True)
        call = backend.prepare(model)
        fn = (lambda: call(x))
        backend.settle(fn, tuple(x.shape))
        with torch.inference_mode():
            out = fn()
            fn()  # a second forward: allocator, caches and lazily made kernels settled before the rounds
        way.memory_mib = forward_memory(backend, fn)
        way.call, way.runner = fn, backend
        return out
    except Unavailable as err:
        way.why = str(err)
    except Exception as err:  # noqa: BLE001 - a way that fails here is one line in the table; the matrix goes on
        way.why = f"{way.backend} {way.precision}: {first_line(err)}"
    return None


def _iqr(times: list[float]) -> float:
    if len(times) < 2:
        return 0.0
    q = statistics.quantiles(times, n=4, method="inclusive")
    return q[2] - q[0]


def matrix(entries: list[Entry], sizes: list[tuple[int, int]], backends: list[str], precisions: list[str],
           device: torch.device, rounds: int, model_zoo: Path | None,
           on_line: Callable[[str], None] = lambda line: None, profile: bool = False) -> dict[str, Any]:
    """Every model of ``entries`` at every size, each backend × precision timed side by side; returns the rows
    (one per model, size, backend and precision), the peaks, and what the matrix was run with; with ``profile``,
    also the roofs (``compute``: the FP32 peak, ``memory``: the bandwidth) and each model's eager FP32 forward
    against them (``profiles``, ``benchmark.measure.roofline``). ``on_line`` is told each way that cannot run, in
    one line, and each model as it is done."""
    first = _roofs(device, precisions, rounds, profile)
    profiles: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for entry in entries:
        spec = entry.spec
        checkpoint = spec.checkpoint_in(model_zoo) if model_zoo is not None else None
        model = models.create_model(spec.team_id, checkpoint, device, year=spec.year, fast=entry.fast)
        faithful = models.create_model(spec.team_id, year=spec.year) if entry.fast else model
        record = counter(get_year(spec.year).flops_counter)
        notes: dict[str, str] = getattr(model, "deployment_notes", {})  # the network's own word on a backend
        for h, w in sizes:
            torch._dynamo.reset()  # each size compiled for itself, as a deployment for that resolution would be
            flops = measure(faithful, (3, h, w))[record.field]
            x = to_tensor(photograph(h, w), spec.data_range).to(device)
            ways = [Way(b, p) for b in backends for p in precisions]
            outputs = {(way.backend, way.precision): _prepare(way, model, x, device) for way in ways}
            reference = outputs.get(REFERENCE)
            for way in ways:
                out = outputs[(way.backend, way.precision)]
                if out is not None and reference is not None:
                    way.difference = float((out - reference).abs().max()) / spec.data_range
                if way.why is not None:
                    on_line(way.why)
            live = [way for way in ways if way.call is not None]
            del outputs, reference
            with torch.inference_mode():
                for r in range(rounds):
                    for way in live[r % len(live):] + live[: r % len(live)] if live else []:
                        way.times.append(timed(way.call, device)[1])
            eager = next((statistics.median(w.times) for w in ways if (w.backend, w.precision) == REFERENCE
                          and w.times), None)
            for way in ways:
                median = statistics.median(way.times) if way.times else None
                rate = flops / median / 1e6 if median else None
                rows.append({
                    "model": entry.label, "year": spec.year,
                    "weights": "checkpoint" if checkpoint is not None else "random",
                    "input": f"1×3×{h}×{w}", "backend": way.backend, "precision": way.precision,
                    "ms": median, "iqr_ms": _iqr(way.times) if way.times else None, "rounds": len(way.times),
                    "speedup": eager / median if eager and median else None,
                    "max_difference": way.difference,
                    "gflops": rate, "flops_counter": record.key, "flops_g": flops / 1e9,
                    "memory_mib": way.memory_mib, "unavailable": way.why, "note": notes.get(way.backend),
                    "detail": way.runner.describe() if way.runner is not None else None,
                })
            if profile:
                profiles.append({"model": entry.label, "input": f"1×3×{h}×{w}",
                                 **roofline(model, x, first["compute"], first["memory"])})
        on_line(f"{entry.label}: done")
        del model, faithful
    peaks, roofs = _higher(first, _roofs(device, precisions, rounds, profile), precisions)
    for row in rows:
        top = peaks[row["precision"]]["peak"]
        row["peak_share"] = row["gflops"] / top if row["gflops"] and top else None
    for found in profiles:
        for key in ("rows", "operators"):
            judge(found[key], roofs["compute"], roofs["memory"])
    extra = {"roofs": roofs, "profiles": profiles} if profile else {}
    return {"rows": rows, "peaks": peaks, "rounds": rounds, "sizes": [list(s) for s in sizes],
            "backends": backends, "precisions": precisions, "years": list(YEARS), **extra}


def _roofs(device: torch.device, precisions: list[str], rounds: int, profile: bool) -> dict[str, Any]:
    """One measurement of each precision's peak (``peaks``), and with ``profile`` the FP32 compute roof and the
    memory bandwidth."""
    peaks = {p: peak(device, p, rounds) for p in precisions}
    if not profile:
        return {"peaks": peaks}
    fp32 = peaks["fp32"] if "fp32" in peaks else peak(device, "fp32", rounds)
    return {"peaks": peaks, "compute": fp32["peak"], "memory": bandwidth(device, rounds)}


def _higher(first: dict[str, Any], last: dict[str, Any],
            precisions: list[str]) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
    """The peaks and roofs of the run: the higher of the two measurements, each kept as ``before`` and ``after``."""
    peaks = {}
    for p in precisions:
        a, b = first["peaks"][p], last["peaks"][p]
        peaks[p] = {kind: max((v for v in (a[kind], b[kind]) if v is not None), default=None)
                    for kind in ("matmul", "conv3x3", "peak")} | {"before": a["peak"], "after": b["peak"]}
    if "memory" not in first:
        return peaks, None
    fp32 = [v for v in (first["compute"], last["compute"]) if v is not None]
    return peaks, {"compute": max(fp32) if fp32 else None, "memory": max(first["memory"], last["memory"]),
                   "memory_before_after": [first["memory"], last["memory"]]}


def best_fp32(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model and input: the fastest FP32 way other than eager, and its speed-up over FP32 eager."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if row["precision"] != "fp32" or row["backend"] == "eager" or row["speedup"] is None:
            continue
        key = (row["model"], row["input"])
        if key not in best or row["speedup"] > best[key]["speedup"]:
            best[key] = row
    return [{"model": m, "input": i, "best fp32 backend": r["backend"], "speed-up over eager fp32": r["speedup"],
             "max |Δ| / range": r["max_difference"]} for (m, i), r in best.items()]
