"""The machine's limits, and each operator of a forward set against them: a roofline.

:func:`peak` and :func:`bandwidth` measure the limits in the process that uses them, with the same
clock: the best rate of a large matmul and of a large 3×3 convolution, and the copy bandwidth of a
buffer larger than the caches (read plus write, as STREAM counts it). Rates count a multiply-add
once, as the FLOPs counters of record (the official hooks, fvcore) do.

:func:`roofline` times one forward operator by operator: a dispatch mode sees every aten operator as
it runs (after the Python layers, so ``F.conv2d`` is one ``aten.convolution``, a layer norm one
``native_layer_norm``), times it on the device's clock, and counts its multiply-adds (PyTorch's own
formulas, ``torch.utils.flop_counter``, halved) and its compulsory memory traffic: every distinct
input read once and every output written once. An operator's arithmetic intensity (multiply-adds
per byte) then says which roof bounds it: compute where intensity × bandwidth exceeds the compute
peak, memory otherwise; its achieved rate over that roof says how far it is from its limit. An
operator on data that stays in the caches can exceed the memory roof, which is measured beyond them.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import conv_flop_count, flop_registry

from benchmark.measure.backend import PRECISIONS, timed
from benchmark.measure.complexity import fold_indices
from benchmark.measure.profiler import module_stack

PROBE_SECONDS = 0.5
"""A probe grows (doubling) while its rate rises, until one call takes this long or it reaches its limit: large
enough for the device and precision that what each call costs besides the arithmetic (a busy machine's scheduling
of threads, a kernel launch) is amortised."""
PROBE_LIMITS = {"cpu": (2048, 256), "cuda": (16384, 2048)}
"""Per device type, the largest matmul side and 3×3 convolution side (64 channels in and out) a probe grows to."""
BANDWIDTH_BYTES = 256 * 2**20
"""The copy probe's buffer (each of source and destination): beyond a CPU's or a GPU's last-level cache."""


def _probe(kind: str, side: int, dtype: torch.dtype, device: torch.device) -> tuple[int, Callable[[], torch.Tensor]]:
    """A matmul of two ``side``×``side`` matrices, or a 64→64-channel 3×3 convolution of a ``side``×``side`` input:
    its multiply-adds, and the call."""
    if kind == "matmul":
        a, b = (torch.rand(side, side, device=device).to(dtype) for _ in range(2))
        return side**3, lambda: a @ b
    x = torch.rand(1, 64, side, side, device=device).to(dtype)
    weight = torch.rand(64, 64, 3, 3, device=device).to(dtype)
    return 64 * 64 * 9 * side * side, lambda: torch.nn.functional.conv2d(x, weight, padding=1)


def peak(device: torch.device, precision: str, rounds: int) -> dict[str, float | None]:
    """The device's measured rate in ``precision`` [G multiply-adds/s]: the best of ``rounds`` timings of a large
    matmul and of a large 3×3 convolution (each grown to its best rate, see ``PROBE_SECONDS``), and ``peak``, the
    higher of the two (None where it cannot run)."""
    dtype = PRECISIONS[precision]
    limits = dict(zip(("matmul", "conv3x3"), PROBE_LIMITS["cuda" if device.type == "cuda" else "cpu"]))
    rates: dict[str, float | None] = {}
    with torch.inference_mode():
        for kind, limit in limits.items():
            side, best = 64, (0.0, 64)
            try:
                while side <= limit:
                    work, fn = _probe(kind, side, dtype, device)
                    fn()
                    ms = min(timed(fn, device)[1] for _ in range(2))
                    if work / ms <= best[0] * 1.1 and ms >= PROBE_SECONDS * 100:  # no longer rising
                        break
                    best = max(best, (work / ms, side))
                    if ms >= PROBE_SECONDS * 1000:
                        break
                    side *= 2
                work, fn = _probe(kind, best[1], dtype, device)
                rates[kind] = max(best[0], work / min(timed(fn, device)[1] for _ in range(rounds))) / 1e6
            except (RuntimeError, NotImplementedError):
                rates[kind] = None
    found = [r for r in rates.values() if r is not None]
    return {**rates, "peak": max(found) if found else None}


def bandwidth(device: torch.device, rounds: int) -> float:
    """The device memory's measured bandwidth [GB/s]: bytes read plus bytes written by the best of ``rounds`` copies
    of a ``BANDWIDTH_BYTES`` buffer."""
    source = torch.rand(BANDWIDTH_BYTES // 4, device=device)
    target = torch.empty_like(source)
    target.copy_(source)
    best = min(timed(lambda: target.copy_(source), device)[1] for _ in range(max(rounds, 3)))
    return 2 * BANDWIDTH_BYTES / best / 1e6


_FIGURES = ("calls", "ms", "macs", "bytes")
_ALLOCATIONS = {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided"}
"""Operators that allocate without writing: no traffic."""


def _tensors(obj: Any) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in _tensors(item)]
    return []


def _bytes(tensors: list[torch.Tensor]) -> int:
    """Bytes of the distinct elements of distinct tensors (a broadcast dimension holds one element)."""
    seen, total = set(), 0
    for t in tensors:
        key = (t.data_ptr(), tuple(t.shape), tuple(t.stride()))
        if key in seen:
            continue
        seen.add(key)
        total += math.prod(n for n, s in zip(t.shape, t.stride()) if s != 0) * t.element_size()
    return total


def _named(func: Any, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """An operator call's arguments by their names in its schema."""
    return {**{a.name: v for a, v in zip(func._schema.arguments, args)}, **kwargs}


def signature(func: Any, args: tuple, kwargs: dict[str, Any]) -> str:
    """How the table names an operator call: a convolution by its kernel and channels (``conv 1×1 35→70``,
    ``depthwise 15×1 ×35``; oneDNN's fused ones with their step, ``conv 1×1 35→70 + swish``), a matrix product by
    its inner and outer width, anything else by its name."""
    name, named = func._overloadpacket.__name__, _named(func, args, kwargs)
    weight = named.get("weight", named.get("W"))
    if "convolution" in name and isinstance(weight, torch.Tensor) and weight.dim() == 4:
        out_ch, in_per_group, kh, kw = weight.shape
        groups = named.get("groups", 1)
        kind = (f"depthwise {kh}×{kw} ×{out_ch}" if in_per_group == 1 and groups == out_ch > 1
                else f"conv {kh}×{kw} {in_per_group * groups}→{out_ch}")
        step = named.get("binary_attr") or named.get("attr")
        return kind if step in (None, "none") else f"{kind} + {step}"
    if name in ("mm", "addmm", "bmm"):
        second = named.get("mat2")
        if isinstance(second, torch.Tensor):
            return f"matmul {second.shape[-2]}→{second.shape[-1]}"
    return name


def _macs(func: Any, args: tuple, kwargs: dict[str, Any], out: Any) -> int:
    """Multiply-adds of one call: PyTorch's formula where it has one (halved: it counts a multiply-add twice), the
    convolution's for oneDNN's fused convolutions, none otherwise."""
    packet = func._overloadpacket
    if packet in flop_registry:
        return flop_registry[packet](*args, **kwargs, out_val=out) // 2
    named = _named(func, args, kwargs)
    if "convolution" in packet.__name__ and isinstance(named.get("W"), torch.Tensor):
        return conv_flop_count(list(named["X"].shape), list(named["W"].shape), list(_tensors(out)[0].shape)) // 2
    return 0


class _OperatorTimer(TorchDispatchMode):
    """Each aten operator timed as it runs, with its multiply-adds and bytes, by signature and innermost module."""

    def __init__(self, stack: list[str], device: torch.device) -> None:
        super().__init__()
        self.stack, self.device = stack, device
        self.rows: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: dict.fromkeys(_FIGURES, 0))

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 - torch's protocol
        kwargs = kwargs or {}
        if not func.is_view:  # a composite operator (conv2d, layer_norm) is timed as the operators it calls
            with self:
                out = func.decompose(*args, **kwargs)
            if out is not NotImplemented:
                return out
        out, ms = timed(lambda: func(*args, **kwargs), self.device)
        key = ("(views)" if func.is_view else signature(func, args, kwargs),
               fold_indices(self.stack[-1] if self.stack else ""))
        row = self.rows[key]
        row["calls"] += 1
        row["ms"] += ms
        if func.is_view or func._overloadpacket.__name__ in _ALLOCATIONS:
            return out
        row["macs"] += _macs(func, args, kwargs, out)
        reads = _tensors(list(args)) + _tensors([v for k, v in kwargs.items() if k != "out"])
        row["bytes"] += _bytes(reads) + _bytes(_tensors(out))
        return out


def roofline(model: nn.Module, x: torch.Tensor, peak_macs: float | None, peak_gbs: float,
             runs: int = 1) -> dict[str, Any]:
    """``runs`` forwards of ``model`` on ``x`` (after an untimed one), operator by operator, against a compute peak
    [G multiply-adds/s] and a memory bandwidth [GB/s] measured in the same process.

    Returns ``{"wall_ms", "operators_ms", "rows", "operators"}``: the median wall time of a forward under the timer,
    the part of it spent inside operators, one row per operator signature and module (layer indices folded) and one
    per operator signature (``module`` empty), slowest first: calls, ms and share of the forward, multiply-adds,
    bytes, achieved GMAC/s and GB/s, intensity (multiply-adds per byte), ``bound`` (``compute`` or ``memory``: the roof
    that caps it) and ``of_roof`` (its achieved rate over that roof: multiply-adds for an operator that has them,
    bytes otherwise).
    """
    device = x.device
    walls = []
    with torch.inference_mode(), module_stack(model) as stack:
        with _OperatorTimer(stack, device):  # untimed: the hooks' and the mode's first use import and cache
            model(x)
        timer = _OperatorTimer(stack, device)
        for _ in range(runs):
            begin = time.perf_counter()
            with timer:
                model(x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            walls.append((time.perf_counter() - begin) * 1000)
    wall = sorted(walls)[len(walls) // 2]
    by_operator: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: dict.fromkeys(_FIGURES, 0))
    for (op, _module), figures in timer.rows.items():
        for name in _FIGURES:
            by_operator[(op, "")][name] += figures[name]
    rows = _rows(timer.rows, runs, wall, peak_macs, peak_gbs)
    return {"wall_ms": wall, "operators_ms": sum(row["ms"] for row in rows), "rows": rows,
            "operators": _rows(by_operator, runs, wall, peak_macs, peak_gbs)}


def _rows(figures: dict[tuple[str, str], dict[str, float]], runs: int, wall: float, peak_macs: float | None,
          peak_gbs: float) -> list[dict[str, Any]]:
    """Per-forward figures, rates and roofs of each (operator, module), slowest first."""
    rows = []
    for (op, module), r in figures.items():
        ms, macs, nbytes = r["ms"] / runs, r["macs"] / runs, r["bytes"] / runs
        rows.append({"op": op, "module": module, "calls": int(r["calls"]) // runs, "ms": ms, "share": ms / wall,
                     "macs": macs, "bytes": nbytes, "gmacs": macs / ms / 1e6 if macs and ms else None,
                     "gbs": nbytes / ms / 1e6 if nbytes and ms else None,
                     "intensity": macs / nbytes if macs and nbytes else None})
    rows.sort(key=lambda row: -row["ms"])
    return judge(rows, peak_macs, peak_gbs)


def judge(rows: list[dict[str, Any]], peak_macs: float | None, peak_gbs: float) -> list[dict[str, Any]]:
    """Set each row's ``bound`` and ``of_roof`` against these roofs (again, where a later measurement raised them)."""
    for row in rows:
        intensity, gmacs, gbs = row["intensity"], row["gmacs"], row["gbs"]
        if intensity is not None and gmacs is not None and peak_macs is not None:
            roof = min(peak_macs, intensity * peak_gbs)
            row["bound"], row["of_roof"] = ("compute" if roof == peak_macs else "memory"), gmacs / roof
        else:
            row["bound"], row["of_roof"] = ("memory", gbs / peak_gbs) if gbs else (None, None)
    return rows
