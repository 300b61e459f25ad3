"""Team 00 of 2025: EFDN (edge-enhanced feature distillation network), the NTIRE 2025 ESR baseline.

The re-parameterised deploy form that the 2025 harness builds and its checkpoint ``team00_EFDN.pth``
holds: every edge-enhanced diverse branch block is already folded into one 3×3 ``rep_conv``.
Module for module the official network, so the official hook counter, fvcore and ptflops give the
organizers' figures: the PReLU activations are ``nn.PReLU`` modules (counted by the hooks) and each
ESA calls its one ReLU module twice. Input and output are in [0, 1] (data range 1); the network
clamps its own output.
"""

from __future__ import annotations

import torch
from torch import nn

from models.registry import register
from models.spec import ModelSpec
from models.team00_RFDN import ESA  # EFDN's ESA is RFDN's, module for module


def _conv(in_ch: int, out_ch: int, kernel: int, stride: int = 1, padding: int | None = None) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2 if padding is None else padding)


class Conv1x1PReLU(nn.Module):
    """A 1×1 conv and a per-channel PReLU (the cell's ``conv1``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1x1 = _conv(channels, channels, 1)
        self.act = nn.PReLU(num_parameters=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv1x1(x))


class EDBBDeploy(nn.Module):
    """An edge-enhanced diverse branch block after re-parameterisation: one 3×3 conv and a PReLU."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.rep_conv = _conv(in_ch, out_ch, 3)
        self.act = nn.PReLU(num_parameters=out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.rep_conv(x))


class Cell(nn.Module):
    """Three chained convs, a half-width 1×1 branch off each stage and the input, fused, ESA, skip."""

    def __init__(self, channels: int = 48) -> None:
        super().__init__()
        self.conv1 = Conv1x1PReLU(channels)
        self.conv2 = EDBBDeploy(channels, channels)
        self.conv3 = EDBBDeploy(channels, channels)
        self.fuse = _conv(channels * 2, channels, 1)
        self.att = ESA(channels)
        self.branch = nn.ModuleList([_conv(channels, channels // 2, 1) for _ in range(4)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.conv1(x)
        b = self.conv2(a)
        c = self.conv3(b)
        fused = self.fuse(torch.cat([self.branch[0](x), self.branch[1](a), self.branch[2](b), self.branch[3](c)], dim=1))
        return self.att(fused) + x


class EFDN(nn.Module):
    """Four cells joined by 1×1 local fusions (the last one reuses the second cell's output), long skip, x4 tail."""

    def __init__(self, scale: int = 4, in_channels: int = 3, n_feats: int = 48, out_channels: int = 3) -> None:
        super().__init__()
        self.head = _conv(in_channels, n_feats, 3)
        self.cells = nn.ModuleList([Cell(n_feats) for _ in range(4)])
        self.local_fuse = nn.ModuleList([_conv(n_feats * 2, n_feats, 1) for _ in range(3)])
        self.tail = nn.Sequential(_conv(n_feats, out_channels * scale**2, 3), nn.PixelShuffle(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o0 = self.head(x)
        o1 = self.cells[0](o0)
        o2 = self.cells[1](o1)
        f2 = self.local_fuse[0](torch.cat([o1, o2], dim=1))
        o3 = self.cells[2](f2)
        f3 = self.local_fuse[1](torch.cat([o2, o3], dim=1))
        o4 = self.cells[3](f3)
        f4 = self.local_fuse[2](torch.cat([o2, o4], dim=1))  # o2 again, as in the official network
        return self.tail(f4 + o0).clamp(0, 1)


register(ModelSpec(year=2025, team_id=0, name="EFDN_baseline", builder=EFDN, checkpoint="team00_EFDN.pth",
                   kwargs=dict(scale=4, in_channels=3, n_feats=48, out_channels=3), data_range=1.0,
                   url="https://raw.githubusercontent.com/Amazingren/NTIRE2025_ESR/main/model_zoo/team00_EFDN.pth",
                   sha256="71069f10ef234cd123f45ac8e69099f0a1fdc0c16afcfe2189e50071d47ce477", size=1153119))
