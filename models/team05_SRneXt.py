"""Team 05 (FRL Team 05): SRneXt, code name EXnet.

``SRneXt`` is the team's network operator for operator: the mean shifts are functional 1×1
convolutions and the MLP's spatial shift is a functional depthwise 3×3 convolution whose kernel is
built on the CPU at every call, as in the team's code. That structure is what the official hook
counter, fvcore and ptflops count, so the factsheet's complexity figures are measured on it. It is
also why the network is slow (issue: host-side tensors and copies in every forward).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.registry import ModelSpec, register

DF2K_MEAN = (0.4690, 0.4490, 0.4036)
"""RGB mean of DF2K, removed before the network and added back after it (data range 255)."""


def _mean_shift(x: torch.Tensor, sign: float) -> torch.Tensor:
    """The team's parameter-free mean shift: a functional 1×1 convolution with identity weight."""
    weight = torch.eye(3).view(3, 3, 1, 1)
    bias = sign * 255.0 * torch.tensor(DF2K_MEAN)
    return F.conv2d(x, weight.to(x.device), bias.to(x.device))


def shift_kernel(channels: int) -> torch.Tensor:
    """Depthwise 3×3 kernel that shifts five channel groups right, left, down, up, and not at all.

    out(c, y, x) = in(c, y, x+1), in(c, y, x−1), in(c, y+1, x), in(c, y−1, x), in(c, y, x) for the
    groups [0, g), [g, 2g), [2g, 3g), [3g, 4g), [4g, C) with g = C // 5, zeros beyond the border.
    """
    g = channels // 5
    kernel = torch.zeros(channels, 1, 3, 3)
    kernel[:g, 0, 1, 2] = 1.0
    kernel[g : 2 * g, 0, 1, 0] = 1.0
    kernel[2 * g : 3 * g, 0, 2, 1] = 1.0
    kernel[3 * g : 4 * g, 0, 0, 1] = 1.0
    kernel[4 * g :, 0, 1, 1] = 1.0
    return kernel


class ShiftConv2d(nn.Conv2d):
    """A fixed spatial shift followed by a 1×1 convolution; counted as one 1×1 conv by module hooks."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel = shift_kernel(self.in_channels).to(x.device)
        x = F.conv2d(x, kernel, padding=1, groups=self.in_channels)
        return F.conv2d(x, self.weight, self.bias)


class LayerNorm(nn.Module):
    """Layer norm over the channels of an NCHW tensor, written element-wise as in the team's code."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class SelfGate(nn.Module):
    """Separable large-kernel gate: a = n + h(n)·w(n); b = a + a·c(a); out = proj(b)."""

    def __init__(self, dim: int, kernel_size: int) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.h_mixer = nn.Conv2d(dim, dim, (kernel_size, 1), padding=(pad, 0), groups=dim)
        self.w_mixer = nn.Conv2d(dim, dim, (1, kernel_size), padding=(0, pad), groups=dim)
        self.c_mixer = nn.Conv2d(dim, dim, 1)
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = x + self.h_mixer(x) * self.w_mixer(x)
        b = a + a * self.c_mixer(a)
        return self.proj(b)


class MLP(nn.Module):
    """Shift-conv expansion ×2, Swish, shift-conv projection."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc1 = ShiftConv2d(dim, dim * 2)
        self.fc2 = ShiftConv2d(dim * 2, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc1(x)
        x = x * torch.sigmoid(x)
        return self.fc2(x)


class Layer(nn.Module):
    def __init__(self, dim: int, kernel_size: int) -> None:
        super().__init__()
        self.norm1 = LayerNorm(dim)
        self.sg = SelfGate(dim, kernel_size)
        self.norm2 = LayerNorm(dim)
        self.mlp = MLP(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.sg(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class SRneXt(nn.Module):
    def __init__(self, upscale: int = 4, num_in_ch: int = 3, num_out_ch: int = 3, task: str = "lsr",
                 n_l: int = 26, dim: int = 35, kernel_size: int = 15) -> None:
        super().__init__()
        self.task = task
        self.head = nn.Sequential(nn.Conv2d(num_in_ch, dim, 3, padding=1))
        self.body = nn.Sequential(*[Layer(dim, kernel_size) for _ in range(n_l)])
        self.tail = nn.Sequential(nn.Conv2d(dim, num_out_ch * upscale**2, 3, padding=1), nn.PixelShuffle(upscale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _mean_shift(x, -1.0)
        h = self.head(x)
        x = self.body(h) + h
        x = self.tail(x)
        return _mean_shift(x, 1.0)


register(ModelSpec(team_id=5, name="SRneXt", builder=SRneXt, checkpoint="team05_exnet.pth",
                   kwargs=dict(upscale=4, num_in_ch=3, num_out_ch=3, task="lsr", n_l=26, dim=35, kernel_size=15)))
