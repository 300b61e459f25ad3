"""benchmark.measure.profiler: module rows from torch.profiler scopes, and host-side work found inside forward."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F
from helpers import hooks_left
from rich.console import Console
from torch import nn

from benchmark.measure.profiler import KIND_BUILT, KIND_DTOH, KIND_HTOD, profile_model
from benchmark.report.tables import profile_view


class _BuildsConstant(nn.Module):
    """Builds its kernel from Python data at every forward, the pattern to flag."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel = torch.eye(3).view(3, 3, 1, 1)
        offset = torch.tensor([1.0, 2.0, 3.0])
        return F.conv2d(self.conv(x), kernel, offset)


class _UsesBuffer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.register_buffer("kernel", torch.eye(3).view(3, 3, 1, 1))
        self.register_buffer("offset", torch.tensor([1.0, 2.0, 3.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.empty_like(x).copy_(x)  # allocations taking a tensor are not construction from data
        y[:, 0] = 0.0  # nor is a Python scalar written by indexing
        return F.conv2d(self.conv(y), self.kernel, self.offset)


class _Net(nn.Module):
    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 3, 3, padding=1)
        self.block = block
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.block(self.stem(x)))


def test_constant_built_in_forward_is_flagged_with_its_module() -> None:
    model = _Net(_BuildsConstant())
    result = profile_model(model, (3, 8, 8), runs=1)
    flagged = {(row["op"], row["module"]) for row in result["host_work"]}
    assert flagged == {("aten.eye", "block"), ("aten.lift_fresh", "block")}
    row = next(r for r in result["host_work"] if r["op"] == "aten.eye")
    assert row["kind"] == KIND_BUILT and row["calls"] == 1 and row["shape"] == [3, 3]
    assert row["type"] == "_BuildsConstant" and row["example"] == "block" and row["device"] == "cpu"
    assert row["source"].startswith("tests/fast/measure/test_profiler.py:") and row["source"].endswith("(forward)")
    assert hooks_left(model) == 0


def test_buffers_are_not_flagged() -> None:
    model = _Net(_UsesBuffer())
    result = profile_model(model, (3, 8, 8), runs=1)
    assert result["host_work"] == []
    assert hooks_left(model) == 0


def test_module_rows_cover_children_with_times_and_shares() -> None:
    model = _Net(_UsesBuffer())
    result = profile_model(model, (3, 16, 16), runs=2)
    rows = {row["module"]: row for row in result["modules"]}
    assert set(rows) == {"", "stem", "block", "block.conv", "act"}
    assert rows[""]["type"] == "_Net" and rows[""]["share"] == pytest.approx(1.0)
    assert rows["block.conv"]["type"] == "Conv2d" and rows["block.conv"]["depth"] == 2
    assert all(rows[name]["calls"] == 1 for name in rows)
    assert all(rows[name]["ms"] > 0 for name in rows)
    assert sum(rows[name]["ms"] for name in ("stem", "block", "act")) <= rows[""]["ms"]
    assert rows["block"]["self_ms"] <= rows["block"]["ms"]
    assert result["forward_ms"] == pytest.approx(rows[""]["ms"])
    assert {op["module"] for op in result["ops"] if "conv" in op["op"]} >= {"stem", "block.conv"}
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(profile_view("net", result))
    text = console.export_text()
    assert "block.conv" in text and "host-side work inside forward: none" in text


def test_hooks_are_removed_when_forward_raises() -> None:
    class Fails(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("boom")

    model = _Net(Fails())
    with pytest.raises(RuntimeError, match="boom"):
        profile_model(model, (3, 8, 8), runs=1)
    assert hooks_left(model) == 0


def test_model_on_another_device_is_refused() -> None:
    with pytest.raises(ValueError, match="the model is on cpu"):
        profile_model(nn.Conv2d(3, 3, 1), (3, 4, 4), device="meta")


def test_copies_between_host_and_device_are_flagged() -> None:
    """Exercised on the meta device, which stands in for CUDA: any non-CPU device counts as device."""

    class Moves(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            bias = torch.ones(3).to(x.device)  # built on the CPU, then copied to the device
            scale = torch.empty(1, 3, 1, 1, device=x.device).fill_(2.0)  # built on the device: not host work
            return self.conv(x) * scale + bias.view(1, 3, 1, 1)

    model = Moves().to("meta")
    result = profile_model(model, (3, 4, 4), device="meta", runs=1)
    kinds = {(row["kind"], row["op"].replace("_to_copy", "to"), row["module"]) for row in result["host_work"]}
    assert kinds == {(KIND_BUILT, "aten.ones", ""), (KIND_HTOD, "aten.to", "")}
    copy = next(row for row in result["host_work"] if row["kind"] == KIND_HTOD)
    assert copy["device"] == "cpu→meta" and copy["shape"] == [3] and "forward" in copy["source"]
    assert KIND_DTOH not in {row["kind"] for row in result["host_work"]}


