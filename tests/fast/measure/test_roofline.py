"""benchmark.measure.roofline: each operator's multiply-adds, bytes and time, and the roof that bounds it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import hooks_left
from torch import nn

from benchmark.measure.roofline import bandwidth, roofline, signature
from benchmark.report.roofline import roofline_frame


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pointwise = nn.Conv2d(8, 16, 1)
        self.depthwise = nn.Conv2d(16, 16, (5, 1), padding=(2, 0), groups=16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.silu(self.depthwise(self.pointwise(x)))


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.Sequential(_Block(), _Block())
        self.blocks[1].pointwise = nn.Conv2d(16, 16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x).add_(1.0)


def test_signatures_name_convolutions_by_kernel_and_channels() -> None:
    x, w1, wd = torch.rand(1, 8, 4, 4), torch.rand(16, 8, 1, 1), torch.rand(16, 1, 5, 1)
    conv = (None, [1, 1], [0, 0], [1, 1], False, [0, 0])
    aten = torch.ops.aten
    assert signature(aten.convolution.default, (x, w1, *conv, 1), {}) == "conv 1×1 8→16"
    assert signature(aten.convolution.default, (x, wd, *conv, 16), {}) == "depthwise 5×1 ×16"
    assert signature(aten.mm.default, (torch.rand(6, 8), torch.rand(8, 3)), {}) == "matmul 8→3"
    assert signature(aten.addmm.default, (torch.rand(3), torch.rand(6, 8), torch.rand(8, 3)), {}) == "matmul 8→3"
    assert signature(aten.silu.default, (x,), {}) == "silu"


@pytest.mark.skipif(not hasattr(torch.ops.mkldnn, "_convolution_pointwise"), reason="this PyTorch has no oneDNN")
def test_onednn_fused_convolutions_have_their_multiply_adds_and_step() -> None:
    class Fused(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(8, 8, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            geometry = (self.conv.weight, self.conv.bias, [0, 0], [1, 1], [1, 1], 1)
            y = torch.ops.mkldnn._convolution_pointwise(x, *geometry, "swish", [], "")
            return torch.ops.mkldnn._convolution_pointwise.binary(y, x, *geometry, "mul", None, None, [], None)

    x = torch.rand(1, 8, 6, 5).contiguous(memory_format=torch.channels_last)
    rows = {r["op"]: r for r in roofline(Fused().eval(), x, 100.0, 10.0)["operators"]}
    assert rows["conv 1×1 8→8 + swish"]["macs"] == rows["conv 1×1 8→8 + mul"]["macs"] == 8 * 8 * 6 * 5


def test_each_operator_has_its_multiply_adds_bytes_and_module() -> None:
    torch.manual_seed(0)
    model = _Net().eval()
    x = torch.rand(1, 8, 12, 10)
    result = roofline(model, x, peak_macs=100.0, peak_gbs=10.0, runs=2)
    rows = {(r["op"], r["module"]): r for r in result["rows"]}
    pixels = 12 * 10
    first = rows[("conv 1×1 8→16", "blocks.*.pointwise")]  # layer indices folded; the signature tells them apart
    assert first["calls"] == 1
    assert first["macs"] == 8 * 16 * pixels
    assert first["bytes"] == 4 * (8 * pixels + 16 * 8 + 16 + 16 * pixels)  # input, weight, bias, output
    depthwise = rows[("depthwise 5×1 ×16", "blocks.*.depthwise")]  # the two blocks folded into one row
    assert depthwise["calls"] == 2 and depthwise["macs"] == 2 * 16 * 5 * pixels
    silu = rows[("silu", "blocks.*")]
    assert silu["gmacs"] is None and silu["bound"] == "memory" and silu["bytes"] == 2 * 2 * 4 * 16 * pixels
    assert silu["of_roof"] == pytest.approx(silu["gbs"] / 10.0)
    for row in result["rows"]:
        if row["intensity"] is not None:
            roof = min(100.0, row["intensity"] * 10.0)
            assert row["bound"] == ("compute" if roof == 100.0 else "memory")
            assert row["of_roof"] == pytest.approx(row["gmacs"] / roof)
    by_op = {r["op"]: r for r in result["operators"]}
    assert by_op["conv 1×1 8→16"]["calls"] == 1 and by_op["conv 1×1 16→16"]["calls"] == 1
    assert by_op["depthwise 5×1 ×16"]["ms"] == pytest.approx(depthwise["ms"])
    assert by_op["add_"]["module"] == "" and rows[("add_", "")]["calls"] == 1
    assert 0 < result["operators_ms"] <= result["wall_ms"]
    assert sum(r["ms"] for r in result["operators"]) == pytest.approx(result["operators_ms"])
    assert hooks_left(model) == 0


def test_a_high_bandwidth_makes_a_convolution_compute_bound() -> None:
    model = nn.Conv2d(32, 32, 3, padding=1).eval()
    x = torch.rand(1, 32, 16, 16)
    row = roofline(model, x, peak_macs=50.0, peak_gbs=1e6)["rows"][0]
    assert row["op"] == "conv 3×3 32→32" and row["bound"] == "compute"
    row = roofline(model, x, peak_macs=50.0, peak_gbs=1e-3)["rows"][0]
    assert row["bound"] == "memory"


def test_bandwidth_is_measured_beyond_the_caches() -> None:
    assert 0.1 < bandwidth(torch.device("cpu"), 1) < 10_000


def test_the_table_keeps_the_slowest_and_sums_the_rest_and_the_time_outside_operators() -> None:
    def row(op: str, ms: float) -> dict:
        return {"op": op, "module": "", "calls": 2, "ms": ms, "share": ms / 20.0, "gmacs": None, "gbs": 1.0,
                "intensity": None, "bound": "memory", "of_roof": 0.5}

    profile = {"wall_ms": 20.0, "operators_ms": 16.0, "operators": [row("a", 8.0), row("b", 5.0), row("c", 3.0)]}
    frame = roofline_frame(profile, top=1)
    assert list(frame["operator"]) == ["a", "2 more", "outside operators (Python, dispatch, the timer)"]
    assert list(frame["calls"]) == [2, 4, ""] and list(frame["ms"]) == ["8.0", "8.0", "4.0"]
    assert list(frame["share"]) == ["40.0%", "40.0%", "20.0%"] and list(frame["% of roof"]) == ["50", "", ""]
    assert "module" not in frame.columns
