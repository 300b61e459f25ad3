"""Parameters, FLOPs, activations and conv count, as the organizers compute them, and why counters differ.

Three counters give three answers for the same network, and a team needs all of them:

- ``flops`` / ``activations`` / ``conv``: the official NTIRE 2022/2023 hook counter. Forward hooks
  on modules only, every call counted; conv MACs = prod(kernel) × in × (out // groups) × batch ×
  prod(output spatial), no bias; ReLU-family modules count their output elements; ``nn.Linear``
  counts batch × in × out from the first two input dimensions (wrong for >2-D inputs, reproduced
  and flagged); ``nn.BatchNorm2d`` counts input elements, ×2 when affine; everything else is 0.
  ``activations`` sums the output elements of every Conv2d/ConvTranspose2d call; ``conv`` counts them.
- ``fvcore_flops``: fvcore's ``FlopCountAnalysis(...).total()``, the 2024/2025 harness's figure.
- ``ptflops_macs``: ptflops with the ``aten`` backend (counts conv bias, sees functional convs).

Functional calls (``F.conv2d`` on a tensor that is not a conv module's weight, matmuls outside
``nn.Linear``) are invisible to the hook counter; :func:`measure` lists them under ``unseen``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import re
import warnings
from collections import defaultdict
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from benchmark.core.errors import HarnessError
from benchmark.core.years import RECORDS, YEARS

CONV_TYPES = (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)
RELU_TYPES = (nn.ReLU, nn.PReLU, nn.ELU, nn.LeakyReLU, nn.ReLU6)
ACTIVATION_TYPES = (nn.Conv2d, nn.ConvTranspose2d)
COUNTED_TYPES = CONV_TYPES + RELU_TYPES + (nn.Linear, nn.BatchNorm2d)

_aten = torch.ops.aten
_CONV_OPS = {_aten.convolution, _aten._convolution, _aten.conv2d, _aten.conv1d, _aten.conv3d}
_MATMUL_OPS = {_aten.mm, _aten.bmm, _aten.addmm, _aten.matmul, _aten.baddbmm, _aten.linear}
_SHAPE_OPS = {"view", "_unsafe_view", "reshape", "permute", "expand", "transpose", "t", "contiguous",
              "clone", "detach", "unsqueeze", "squeeze", "slice", "select", "alias", "empty", "zeros",
              "ones", "lift_fresh", "_to_copy", "copy_", "new_empty", "empty_like", "zero_", "fill_", "split",
              "cat", "stack", "pixel_shuffle", "eye", "as_strided", "_reshape_alias", "unbind", "index_put_",
              "lift_fresh_copy", "scalar_tensor", "_local_scalar_dense", "view_as_real", "resolve_conj"}


def fold_indices(path: str) -> str:
    """``body.3.mlp.fc1`` → ``body.*.mlp.fc1``: one name for a module repeated in every layer."""
    return re.sub(r"(^|\.)\d+(?=\.|$)", r"\1*", path)


def _hook_macs(module: nn.Module, inputs: tuple, output: torch.Tensor) -> tuple[int, str]:
    """MACs the official counter adds for one call of ``module``, and a note where it is not the true cost."""
    if isinstance(module, CONV_TYPES):
        per_position = math.prod(module.kernel_size) * module.in_channels * (module.out_channels // module.groups)
        return per_position * output.shape[0] * math.prod(output.shape[2:]), ""
    if isinstance(module, RELU_TYPES):
        return output.numel(), ""
    if isinstance(module, nn.Linear):
        x = inputs[0]
        if x.dim() == 1:
            return x.shape[0] * output.shape[0], ""
        official = x.shape[0] * x.shape[1] * output.shape[1]
        if x.dim() > 2:
            true = x.numel() // x.shape[-1] * module.in_features * module.out_features
            return official, f"official rule batch×in×out reads dims 0-1 of a {x.dim()}-D input; true MACs {true:,}"
        return official, ""
    if isinstance(module, nn.BatchNorm2d):
        return inputs[0].numel() * (2 if module.affine else 1), ""
    return 0, ""


class _OpRecorder(TorchDispatchMode):
    """Records the aten operators that run outside any counted module call: what the hooks miss.

    A convolution whose weight is not a conv module's weight is a functional call, unseen even
    inside a counted module (e.g. a shift done by ``F.conv2d`` inside an ``nn.Conv2d`` subclass).
    Rows are grouped by operator and module path, with layer indices folded to ``*``.
    """

    def __init__(self, module_stack: list[tuple[str, nn.Module]], counted_weights: set[int]) -> None:
        super().__init__()
        self.module_stack = module_stack
        self.counted_weights = counted_weights
        self.unseen: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"calls": 0, "macs": 0, "elements": 0})

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 - torch's protocol
        out = func(*args, **(kwargs or {}))
        packet = func._overloadpacket
        first = out[0] if isinstance(out, (tuple, list)) else out
        if not isinstance(first, torch.Tensor) or packet.__name__ in _SHAPE_OPS:
            return out
        where, module = self.module_stack[-1] if self.module_stack else ("model", None)
        macs = 0
        if packet in _CONV_OPS:
            if args[1].data_ptr() in self.counted_weights:
                return out
            macs = math.prod(args[1].shape) * first.shape[0] * math.prod(first.shape[2:])
        elif isinstance(module, COUNTED_TYPES):
            return out
        elif packet in _MATMUL_OPS:
            a, b = (args[1], args[2]) if packet in {_aten.addmm, _aten.baddbmm} else (args[0], args[1])
            macs = a.numel() * b.shape[-1]
        row = self.unseen[(f"aten.{packet.__name__}", where)]
        row["calls"] += 1
        row["macs"] += macs
        row["elements"] += first.numel()
        return out


def _hook_count(model: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    """One forward with the official hooks (and an operator recorder); removes every hook it added."""
    layers: list[dict[str, Any]] = []
    activations = conv = 0
    module_stack: list[tuple[str, nn.Module]] = []
    handles = []

    def pre_hook(name: str):
        label = fold_indices(name) or "model"

        def hook(module: nn.Module, _inputs: tuple) -> None:
            module_stack.append((f"{label} ({type(module).__name__})", module))
        return hook

    def post_hook(name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            nonlocal activations, conv
            module_stack.pop()
            if not isinstance(module, COUNTED_TYPES):
                return
            macs, note = _hook_macs(module, inputs, output)
            if isinstance(module, ACTIVATION_TYPES):
                activations += output.numel()
                conv += 1
            layers.append({"name": name, "type": type(module).__name__, "output_shape": list(output.shape),
                           "macs": macs, "note": note})
        return hook

    counted_weights = {m.weight.data_ptr() for m in model.modules() if isinstance(m, CONV_TYPES)}
    recorder = _OpRecorder(module_stack, counted_weights)
    try:
        for name, module in model.named_modules():
            handles.append(module.register_forward_pre_hook(pre_hook(name)))
            handles.append(module.register_forward_hook(post_hook(name)))
        with torch.no_grad(), recorder:
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    flops = sum(row["macs"] for row in layers)
    for row in layers:
        row["share"] = row["macs"] / flops if flops else 0.0
    unseen = [{"op": op, "module": where, **figures} for (op, where), figures in recorder.unseen.items()]
    unseen.sort(key=lambda r: (-r["macs"], -r["elements"]))
    return {"flops": flops, "activations": activations, "conv": conv, "layers": layers, "unseen": unseen}


def _fvcore_flops(model: nn.Module, x: torch.Tensor) -> int:
    with warnings.catch_warnings():
        # fvcore.nn scripts a loss function at import, which torch 2.13 reports as deprecated
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=DeprecationWarning)
        from fvcore.nn import FlopCountAnalysis

    logging.getLogger("fvcore").setLevel(logging.ERROR)
    analysis = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    with torch.no_grad():
        return int(analysis.total())


def _ptflops_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """ptflops 0.7 counts the model itself and leaves forward hooks on its children: they are removed afterwards
    (a copy would not do: a weight-normalised convolution, for one, cannot be deep-copied)."""
    from ptflops import get_model_complexity_info

    sink = io.StringIO()
    before = {id(m): (set(m._forward_pre_hooks), set(m._forward_hooks)) for m in model.children()}
    try:
        with torch.no_grad(), contextlib.redirect_stdout(sink):
            macs, _ = get_model_complexity_info(model, input_shape, as_strings=False, print_per_layer_stat=False,
                                                backend="aten", ost=sink)
    finally:
        for child in model.children():
            pre, post = before.get(id(child), (set(), set()))
            for hooks, kept in ((child._forward_pre_hooks, pre), (child._forward_hooks, post)):
                for key in [k for k in hooks if k not in kept]:
                    del hooks[key]
    if macs is None:
        raise RuntimeError(f"ptflops failed on {type(model).__name__}: {sink.getvalue().strip()[-300:]}")
    return int(macs)


@dataclass(frozen=True)
class Counter:
    """One FLOPs counter: where its exact count lies (``field``, in ``measure()``'s figures and in a record's
    ``complexity``), how it is labelled, and what it does not count, so that every table can say why they differ."""

    key: str
    """The name a year's record uses for its figure of record (``flops_counter`` in years.toml)."""
    field: str
    label: str
    name: str
    """In a sentence: ``FLOPs of the organizers: {name}``."""
    misses: str
    count: Callable[[nn.Module, torch.Tensor], int] | None
    """None for the hook counter, whose figure comes from the same forward as activations and conv count."""


COUNTERS: Mapping[str, Counter] = MappingProxyType({c.key: c for c in (
    Counter("hooks", "flops", "official hooks (NTIRE 2022/2023)", "the official hook counter",
            "functional convolutions and matrix products outside nn.Linear (listed as unseen), and every operator "
            "that is not a Conv, ReLU-family, Linear or BatchNorm module; it reads a >2-D nn.Linear input's first "
            "two dimensions only", None),
    Counter("fvcore", "fvcore_flops", "fvcore (NTIRE 2024 on)", "fvcore",
            "operators without one of its handlers (element-wise additions, multiplications and activations) and "
            "convolution bias; one FLOP per MAC", lambda model, x: _fvcore_flops(model, x)),
    Counter("ptflops", "ptflops_macs", "ptflops, aten backend", "ptflops (aten backend)",
            "operators other than the convolutions and matrix products it counts (element-wise work); it does count "
            "convolution bias and functional convolutions", lambda model, x: _ptflops_macs(model, tuple(x.shape[1:]))),
)})
"""Every FLOPs counter the harness runs; ``hooks`` and ``fvcore`` are the figures of record of the years."""


def record_counters() -> tuple[str, ...]:
    """The counters some year takes its figure of record from (Table 1 shows these)."""
    return tuple(k for k in COUNTERS if any(y.flops_counter == k for y in YEARS.values()))


def counter(key: str) -> Counter:
    """The counter a year names as its figure of record; an unknown one is a mistake in years.toml."""
    try:
        return COUNTERS[key]
    except KeyError:
        raise HarnessError(f"{RECORDS}: flops_counter {key!r} is not a counter of the harness; use one of "
                           f"{', '.join(COUNTERS)}") from None


def measure(model: nn.Module, input_shape: tuple[int, ...] = (3, 256, 256)) -> dict[str, Any]:
    """Complexity figures of ``model`` for one batch-1 input of ``input_shape``.

    Returns the integers ``params``, ``flops`` (official hook MACs), ``activations``, ``conv``,
    ``fvcore_flops``, ``ptflops_macs``; ``layers``: one row per counted module call (name, type,
    output shape, MACs, share of ``flops``, note); ``unseen``: operators the hook counter misses,
    grouped by operator and innermost module, with MACs for convolutions and matmuls.
    """
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        x = torch.rand(1, *input_shape, device=device)
        figures = _hook_count(model, x)
        result = {
            "input_shape": list(input_shape),
            "params": sum(p.numel() for p in model.parameters()),
            "flops": figures["flops"],
            "activations": figures["activations"],
            "conv": figures["conv"],
            **{c.field: c.count(model, x) for c in COUNTERS.values() if c.count is not None},
            "layers": figures["layers"],
            "unseen": figures["unseen"],
        }
    finally:
        model.train(was_training)
    return result
