"""Where a network's forward spends its time, module by module, and the host-side work hidden in it.

:func:`profile_model` runs a few forwards under ``torch.profiler`` (CPU activity, plus CUDA when
the model runs on a CUDA device) with a ``record_function`` scope opened around every module call
by forward pre/post hooks, and returns plain data:

- ``modules``: one row per module (tree order): path, type, calls, time including children and
  self time in ms per forward, share of the forward; on CUDA also the GPU kernel time and the
  host-to-device memcpy kernels launched from the module's own code;
- ``ops``: profiler operators by self time, each attributed to the innermost module that ran it
  (layer indices folded to ``*``);
- ``host_work``: work inside forward that belongs outside it (see below), with the module and the
  source line where it happens.

Host-side work is recorded during the untimed warm-up forward by a dispatch mode that sees every
operator called from Python with its real arguments, so devices are exact (the profiler records
shapes, not devices). Three kinds:

- ``tensor built in forward``: a tensor of one or more dimensions created on the CPU from Python
  data: a factory call that takes no tensor argument (``torch.eye``, ``zeros``, ``ones``, ``full``,
  ``arange``, ``empty``...) or a tensor literal (``torch.tensor(...)``, seen as ``lift_fresh``).
  Nothing in it depends on the input's values, so it can be built once, as a buffer. A factory
  call sized from the input's shape is listed too (``empty_like``/``new_empty`` take a tensor
  and are not). Zero-dimensional tensors (Python scalars wrapped by indexing) are left out;
- ``host-to-device copy``: ``.to(device)`` / ``copy_`` from a CPU tensor into a non-CPU one;
- ``device-to-host copy``: the other direction, including ``.item()`` on a device tensor.

On a CPU-only model only the first kind can occur. Every hook is removed before returning, also
when the forward raises.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function
from torch.utils._python_dispatch import TorchDispatchMode

from benchmark.measure.complexity import fold_indices

SCOPE_PREFIX = "module::"
"""Name of the ``record_function`` scope opened around a module call: prefix + module path."""

KIND_BUILT = "tensor built in forward"
KIND_HTOD = "host-to-device copy"
KIND_DTOH = "device-to-host copy"

_COPY_OPS = {"to", "_to_copy", "copy_", "_local_scalar_dense"}
_SKIP_FILES = (str(Path(torch.__file__).parent), __file__, str(Path(nn.__file__).parent))
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _source_line() -> str:
    """The innermost caller outside torch and this module: ``file:line (function)``."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_SKIP_FILES) and not filename.startswith("<"):
            try:
                shown = Path(filename).resolve().relative_to(_PROJECT_ROOT).as_posix()
            except ValueError:
                shown = filename
            return f"{shown}:{frame.f_lineno} ({frame.f_code.co_name})"
        frame = frame.f_back
    return "?"


def _tensors(obj: Any) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for item in obj for t in _tensors(item)]
    if isinstance(obj, dict):
        return [t for item in obj.values() for t in _tensors(item)]
    return []


class _HostWorkRecorder(TorchDispatchMode):
    """Records tensors built on the CPU and copies between host and device, by innermost module."""

    def __init__(self, module_stack: list[str], types: dict[str, str]) -> None:
        super().__init__()
        self.module_stack = module_stack
        self.types = types
        self.rows: dict[tuple[str, str, str, str], dict[str, Any]] = {}

    def _add(self, kind: str, op: str, shape: list[int], device: str) -> None:
        path = self.module_stack[-1] if self.module_stack else ""
        key = (kind, op, fold_indices(path), _source_line())
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = {"kind": kind, "op": op, "module": key[2], "type": self.types.get(path, "?"),
                                    "example": path, "source": key[3],
                                    "calls": 0, "elements": 0, "shape": shape, "device": device, "_paths": set()}
        row["calls"] += 1
        row["elements"] += int(torch.Size(shape).numel())
        row["_paths"].add(path)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 - torch's protocol
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = func._overloadpacket.__name__
        inputs = _tensors(args) + _tensors(kwargs)
        first = out[0] if isinstance(out, (tuple, list)) and out else out
        op = f"{func.namespace}.{name}"
        if name in _COPY_OPS:
            if name == "_local_scalar_dense":
                src, dst = inputs[0].device, torch.device("cpu")
                shape = []
            elif name == "copy_":
                dst, src = inputs[0].device, inputs[1].device
                shape = list(inputs[0].shape)
            else:  # to, _to_copy
                src, dst = inputs[0].device, first.device
                shape = list(first.shape)
            if src.type == "cpu" and dst.type != "cpu":
                self._add(KIND_HTOD, op, shape, f"{src.type}→{dst.type}")
            elif src.type != "cpu" and dst.type == "cpu":
                self._add(KIND_DTOH, op, shape, f"{src.type}→{dst.type}")
            return out
        built = name == "lift_fresh" or not inputs
        if built and isinstance(first, torch.Tensor) and first.device.type == "cpu" and first.dim() > 0:
            self._add(KIND_BUILT, op, list(first.shape), "cpu")
        return out

    def result(self) -> list[dict[str, Any]]:
        rows = []
        for row in self.rows.values():
            paths = row.pop("_paths")
            rows.append({**row, "instances": len(paths)})
        return rows


@contextlib.contextmanager
def module_stack(model: nn.Module, scopes: bool = False) -> Iterator[list[str]]:
    """Forward hooks on every module of ``model`` that keep the paths of the modules running, innermost last, in the
    yielded list (with ``scopes``, a ``record_function`` scope named ``SCOPE_PREFIX`` + path open around each call);
    every hook is removed on exit, also when a forward raised."""
    stack: list[str] = []
    open_scopes: list[record_function] = []
    handles = []

    def pre_hook(path: str):
        def hook(_module: nn.Module, _inputs: tuple) -> None:
            stack.append(path)
            if scopes:
                scope = record_function(SCOPE_PREFIX + path)
                scope.__enter__()
                open_scopes.append(scope)
        return hook

    def post_hook(_module: nn.Module, _inputs: tuple, _output: Any) -> None:
        if stack:
            stack.pop()
        if open_scopes:
            open_scopes.pop().__exit__(None, None, None)

    try:
        for name, module in model.named_modules():
            handles.append(module.register_forward_pre_hook(pre_hook(name)))
            handles.append(module.register_forward_hook(post_hook, always_call=True))
        yield stack
    finally:
        while open_scopes:
            open_scopes.pop().__exit__(None, None, None)
        for handle in handles:
            handle.remove()


def _module_device(model: nn.Module) -> torch.device | None:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return None


def _scope_rows(events: Any, runs: int, paths: dict[str, str], cuda: bool) -> tuple[list, list, float, float]:
    """Module rows and op rows from the profiler's event tree."""
    prefix_len = len(SCOPE_PREFIX)
    total = defaultdict(float)
    child = defaultdict(float)
    device_total = defaultdict(float)
    htod = defaultdict(int)
    calls = defaultdict(int)
    ops: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: {"calls": 0, "self_ms": 0.0})

    def scope_of(event: Any) -> Any:
        parent = event.cpu_parent
        while parent is not None and not parent.name.startswith(SCOPE_PREFIX):
            parent = parent.cpu_parent
        return parent

    for event in events:
        if event.device_type != torch.autograd.DeviceType.CPU:
            continue
        if event.name.startswith(SCOPE_PREFIX):
            path = event.name[prefix_len:]
            total[path] += event.cpu_time_total / 1e3
            calls[path] += 1
            if cuda:
                device_total[path] += event.device_time_total / 1e3
            outer = scope_of(event)
            if outer is not None:
                child[outer.name[prefix_len:]] += event.cpu_time_total / 1e3
            continue
        scope = scope_of(event)
        if scope is None:
            continue
        path = scope.name[prefix_len:]
        row = ops[(event.name, fold_indices(path))]
        row["calls"] += 1
        row["self_ms"] += event.self_cpu_time_total / 1e3
        if cuda:
            htod[path] += sum(1 for k in event.kernels if "HtoD" in k.name)

    forward_ms = total.get("", 0.0) / runs
    forward_device_ms = device_total.get("", 0.0) / runs
    modules = []
    for path, type_name in paths.items():
        ms = total.get(path, 0.0) / runs
        row = {"module": path, "type": type_name, "depth": 0 if path == "" else path.count(".") + 1,
               "calls": calls.get(path, 0) // runs, "ms": ms, "self_ms": ms - child.get(path, 0.0) / runs,
               "share": ms / forward_ms if forward_ms else 0.0}
        if cuda:
            dev = device_total.get(path, 0.0) / runs
            row.update(device_ms=dev, device_share=dev / forward_device_ms if forward_device_ms else 0.0,
                       memcpy_htod=htod.get(path, 0) // runs)
        modules.append(row)
    op_rows = [{"op": op, "module": module, "calls": v["calls"] // runs, "self_ms": v["self_ms"] / runs,
                "share": v["self_ms"] / runs / forward_ms if forward_ms else 0.0}
               for (op, module), v in ops.items()]
    op_rows.sort(key=lambda r: -r["self_ms"])
    return modules, op_rows, forward_ms, forward_device_ms


def profile_model(model: nn.Module, input_shape: tuple[int, ...] = (3, 256, 256), device: str | torch.device = "cpu",
                  runs: int = 3) -> dict[str, Any]:
    """Profile ``runs`` forwards of ``model`` (already on ``device``) on one random batch-1 input.

    Returns ``{"device", "input_shape", "runs", "forward_ms", "wall_ms", "modules", "ops",
    "host_work"}`` (plus ``forward_device_ms`` on CUDA); see the module docstring. ``forward_ms``
    is the host time of one forward under the profiler (which adds overhead to small operators),
    ``wall_ms`` the median wall-clock time of the profiled forwards, device synchronised.
    """
    device = torch.device(device)
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    model_device = _module_device(model)
    if model_device is not None and model_device.type != device.type:
        raise ValueError(f"the model is on {model_device}, not on {device}; "
                         f"move it with model.to({str(device)!r}) first")
    cuda = device.type == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    paths = {name: type(module).__name__ for name, module in model.named_modules()}
    was_training = model.training
    model.eval()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    try:
        with module_stack(model, scopes=True) as stack:
            x = torch.rand(1, *input_shape, device=device)
            recorder = _HostWorkRecorder(stack, paths)
            with torch.inference_mode():
                with recorder:  # the untimed warm-up forward
                    model(x)
                sync()
                wall = []
                with profile(activities=activities) as prof:
                    for _ in range(runs):
                        start = time.perf_counter()
                        model(x)
                        sync()
                        wall.append((time.perf_counter() - start) * 1e3)
    finally:
        model.train(was_training)

    modules, ops, forward_ms, forward_device_ms = _scope_rows(prof.events(), runs, paths, cuda)
    result = {"device": str(device), "input_shape": list(input_shape), "runs": runs, "forward_ms": forward_ms,
              "wall_ms": statistics.median(wall), "modules": modules, "ops": ops, "host_work": recorder.result()}
    if cuda:
        result["forward_device_ms"] = forward_device_ms
    return result
