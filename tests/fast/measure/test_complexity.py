"""The three complexity counters: every official hook rule on tiny networks worked out by hand, then the
two reference networks against the organizers' figures."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import hooks_left
from torch import nn

from benchmark.measure.complexity import measure


def test_conv_counts_kernel_in_out_and_output_pixels_without_bias() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1))
    r = measure(model, (3, 10, 10))
    assert r["flops"] == 9 * 3 * 8 * 100  # 21,600
    assert r["activations"] == 8 * 100
    assert r["conv"] == 1
    assert r["params"] == 8 * 3 * 9 + 8
    assert r["fvcore_flops"] == 21_600  # fvcore ignores the bias
    assert r["ptflops_macs"] == 21_600 + 8 * 100  # ptflops (aten) adds one MAC per output for the bias
    assert r["layers"] == [{"name": "0", "type": "Conv2d", "output_shape": [1, 8, 10, 10], "macs": 21_600,
                            "note": "", "share": 1.0}]


def test_grouped_strided_and_transposed_convolutions() -> None:
    model = nn.Sequential(
        nn.Conv2d(4, 8, 3, padding=1, groups=2),  # 9 * 4 * (8 // 2) * 100 = 14,400
        nn.Conv2d(8, 8, 3, padding=1, stride=2, groups=8),  # 9 * 8 * 1 * 25 = 1,800
        nn.ConvTranspose2d(8, 2, 2, stride=2),  # 4 * 8 * 2 * 100 = 6,400 (output pixels, as the official rule)
    )
    r = measure(model, (4, 10, 10))
    assert [row["macs"] for row in r["layers"]] == [14_400, 1_800, 6_400]
    assert r["flops"] == 22_600
    assert r["activations"] == 800 + 200 + 200
    assert r["conv"] == 3


def test_conv3d_counts_flops_but_not_activations() -> None:
    r = measure(nn.Conv3d(2, 4, 3, padding=1), (2, 5, 6, 6))
    assert r["flops"] == 27 * 2 * 4 * 180
    assert r["activations"] == 0 and r["conv"] == 0


class _Reused(nn.Module):
    """One conv module called twice, a subclass of Conv2d, and a functional conv the hooks cannot see."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 1)
        self.sub = type("MyConv", (nn.Conv2d,), {})(2, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.conv(x))
        x = F.conv2d(x, torch.ones(2, 1, 3, 3), padding=1, groups=2)
        return self.sub(x)


def test_every_call_counts_subclasses_count_and_functional_calls_are_unseen() -> None:
    model = _Reused()
    r = measure(model, (2, 4, 4))
    assert [row["macs"] for row in r["layers"]] == [2 * 2 * 16, 2 * 2 * 16, 9 * 2 * 2 * 16]
    assert [row["type"] for row in r["layers"]] == ["Conv2d", "Conv2d", "MyConv"]
    assert r["conv"] == 3
    assert r["activations"] == 3 * 32
    functional = [u for u in r["unseen"] if u["op"] == "aten.convolution"]
    assert functional == [{"op": "aten.convolution", "module": "model (_Reused)", "calls": 1, "macs": 9 * 2 * 16,
                           "elements": 32}]
    assert r["fvcore_flops"] == r["flops"] + 9 * 2 * 16


@pytest.mark.parametrize("act", [nn.ReLU(), nn.PReLU(), nn.ELU(), nn.LeakyReLU(0.1), nn.ReLU6()])
def test_relu_family_counts_output_elements(act: nn.Module) -> None:
    assert measure(nn.Sequential(act), (3, 5, 7))["flops"] == 105


@pytest.mark.parametrize("act", [nn.Sigmoid(), nn.GELU(), nn.SiLU(), nn.PixelShuffle(2), nn.MaxPool2d(2),
                                 nn.Upsample(scale_factor=2), nn.LayerNorm(6)])
def test_other_modules_count_zero(act: nn.Module) -> None:
    r = measure(nn.Sequential(act), (4, 6, 6))
    assert r["flops"] == 0 and r["layers"] == []


def test_batchnorm_counts_elements_twice_when_affine() -> None:
    assert measure(nn.BatchNorm2d(8), (8, 5, 5))["flops"] == 2 * 200
    assert measure(nn.BatchNorm2d(8, affine=False), (8, 5, 5))["flops"] == 200


class _Linear1D(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x[0])


def test_linear_follows_the_official_rule_and_flags_it_beyond_2d() -> None:
    r2 = measure(nn.Linear(16, 4), (16,))  # input 1×16
    assert r2["flops"] == 1 * 16 * 4 and r2["layers"][0]["note"] == ""
    r1 = measure(_Linear1D(), (16,))  # the layer sees a 1-D input of 16
    assert r1["flops"] == 16 * 4
    r3 = measure(nn.Linear(16, 4), (7, 16))  # input 1×7×16: official batch × shape[1] × out[1] = 1 × 7 × 7
    assert r3["flops"] == 1 * 7 * 7
    assert "true MACs 448" in r3["layers"][0]["note"]


def test_measuring_leaves_no_hook_and_repeats_exactly() -> None:
    model = _Reused()
    first = measure(model, (2, 8, 8))
    assert hooks_left(model) == 0
    assert measure(model, (2, 8, 8)) == first


class _WeightNormed(nn.Module):
    """A weight-normalised convolution (``torch.nn.utils.weight_norm``, as team code uses it): its ``weight`` is a
    computed tensor, which ``copy.deepcopy`` refuses."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.utils.weight_norm(nn.Conv2d(3, 8, 3, padding=1))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


def test_a_network_that_cannot_be_deep_copied_is_counted_in_place_and_left_as_it_was() -> None:
    import copy
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch deprecates weight_norm for parametrizations
        model = _WeightNormed()
    with pytest.raises(RuntimeError):
        copy.deepcopy(model)
    own = hooks_left(model)  # weight_norm's own pre-hook, which recomputes the weight
    r = measure(model, (3, 10, 10))
    assert r["flops"] == 9 * 3 * 8 * 100 + 8 * 100  # conv, then ReLU's output elements
    assert r["fvcore_flops"] == 9 * 3 * 8 * 100
    assert r["ptflops_macs"] == 9 * 3 * 8 * 100 + 8 * 100  # conv with its bias; ReLU is free in ptflops
    assert hooks_left(model) == own == 1  # ptflops' hooks on the children are gone, the network's own stays
    assert measure(model, (3, 10, 10)) == r
