"""Preflight of a built team, before any figure: how its weights loaded, and whether its output is an SR image.

A team's ``load_state_dict(..., strict=False)`` loads whatever matches and says nothing of the rest:
every call made while the team is built is recorded (:class:`LoadedStates`), with the keys a strict
load would have refused. Then two forwards on one small input check the output's shape (×4), dtype,
range (finite, near ``0…data_range``) and that they agree. Each finding is one line for the summary.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

SIDE = 64
"""The preflight input is 1×3×SIDE×SIDE (a multiple of the usual window sizes 8 and 16)."""
SHOWN_KEYS = 3
AGREE = 1e-5
"""Two forwards of one input agree when no value differs by more than this fraction of the data range."""


class LoadedStates:
    """Every ``nn.Module.load_state_dict`` call while :meth:`recording`: its module, strictness and what did not fit."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        original = nn.Module.load_state_dict
        calls = self.calls

        def load_state_dict(module, state_dict, strict=True, *args, **kwargs):  # nn.Module's signature
            result = original(module, state_dict, strict, *args, **kwargs)
            calls.append({"module": type(module).__name__, "strict": bool(strict),
                          "missing_keys": list(result.missing_keys), "unexpected_keys": list(result.unexpected_keys)})
            return result

        nn.Module.load_state_dict = load_state_dict
        try:
            yield
        finally:
            nn.Module.load_state_dict = original


def _keys(keys: list[str]) -> str:
    shown = ", ".join(keys[:SHOWN_KEYS])
    return shown + (f" … ({len(keys)} in all)" if len(keys) > SHOWN_KEYS else "")


def load_findings(calls: list[dict[str, Any]]) -> list[str]:
    """One line per load that a strict load would have refused."""
    lines = []
    for call in calls:
        missing, unexpected = call["missing_keys"], call["unexpected_keys"]
        if missing or unexpected:
            parts = ([f"missing {_keys(missing)}"] if missing else []) + (
                [f"unexpected {_keys(unexpected)}"] if unexpected else [])
            lines.append(f"weights: {call['module']}.load_state_dict(strict=False) left {'; '.join(parts)}")
    return lines


def smooth_image(data_range: float) -> torch.Tensor:
    """1×3×SIDE×SIDE of smooth gradients within 10…90 % of the range: an SR network's output of it stays near that
    range (random noise would not, for any network)."""
    ramp = torch.linspace(0, 1, SIDE)
    y, x = torch.meshgrid(ramp, ramp, indexing="ij")
    channels = [0.5 + 0.4 * torch.sin(torch.pi * (a * x + b * y)) for a, b in ((1, 0.5), (0.5, 1), (1, 1))]
    return torch.stack(channels).unsqueeze(0) * data_range


def output_findings(model: nn.Module, data_range: float, device: torch.device) -> tuple[dict[str, Any], list[str]]:
    """Two forwards on one input: the output's shape, dtype, range and agreement, and a line per problem."""
    x = smooth_image(data_range).to(device)
    with torch.inference_mode():
        first, second = model(x.clone()), model(x.clone())
    if not isinstance(first, torch.Tensor) or not isinstance(second, torch.Tensor):
        return {"type": type(first).__name__}, [f"output: forward returned {type(first).__name__}, not a tensor"]
    first, second = first.float().cpu(), second.float().cpu()
    finite = bool(torch.isfinite(first).all())
    low, high = (float(first.min()), float(first.max())) if first.numel() else (0.0, 0.0)
    report = {"input_shape": list(x.shape), "shape": list(first.shape), "dtype": str(first.dtype).removeprefix("torch."),
              "min": low, "max": high, "finite": finite,
              "repeat_max_abs_diff": float((first - second).abs().max()) if first.shape == second.shape else None}
    lines = []
    if list(first.shape) != [1, 3, SIDE * 4, SIDE * 4]:
        lines.append(f"output: shape {list(first.shape)} for input {list(x.shape)}, not [1, 3, {SIDE * 4}, {SIDE * 4}]")
    if not finite:
        lines.append("output: holds NaN or infinite values")
    elif high > 1.5 * data_range or low < -0.5 * data_range:
        lines.append(f"output: values {low:.3g}…{high:.3g}, far outside 0…{data_range:g} (wrong data range?)")
    if report["repeat_max_abs_diff"] is None or report["repeat_max_abs_diff"] > AGREE * data_range:
        lines.append(f"output: two forwards of one input differ (max |Δ| {report['repeat_max_abs_diff']})")
    return report, lines
