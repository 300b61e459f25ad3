"""Team 00 of 2024: RLFN (residual local feature network, ``RLFN_Prune``), the NTIRE 2024 ESR baseline.

Module for module the network the 2024 harness builds, so that the official hook counter, fvcore
and ptflops give the organizers' figures and the official checkpoint ``team00_rlfn.pth`` loads
strictly. Two quirks of the official module tree are kept because the counters see them: each
block has ONE LeakyReLU module called three times (the hook counter counts it three times), and
each ESA defines a ReLU that it never calls. The forward does the same float32 operations in the
same order as the official code, so the outputs agree up to CPU round-off.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.registry import register
from models.spec import ModelSpec


def _conv(in_ch: int, out_ch: int, kernel: int, stride: int = 1, padding: int | None = None) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2 if padding is None else padding)


class ESA(nn.Module):
    """RLFN's lighter enhanced spatial attention: one 3×3 conv after the pooling, no ReLU in use."""

    def __init__(self, channels: int, esa_channels: int = 16) -> None:
        super().__init__()
        f = esa_channels
        self.conv1 = _conv(channels, f, 1)
        self.conv_f = _conv(f, f, 1)
        self.conv2 = _conv(f, f, 3, stride=2, padding=0)
        self.conv3 = _conv(f, f, 3)
        self.conv4 = _conv(f, channels, 1)
        self.sigmoid = nn.Sigmoid()
        self.relu = nn.ReLU(inplace=True)  # defined, never called: kept so the module tree is the official one

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1_ = self.conv1(x)
        c1 = self.conv2(c1_)
        v_max = F.max_pool2d(c1, kernel_size=7, stride=3)
        c3 = self.conv3(v_max)
        c3 = F.interpolate(c3, (x.size(2), x.size(3)), mode="bilinear", align_corners=False)
        cf = self.conv_f(c1_)
        c4 = self.conv4(c3 + cf)
        return x * self.sigmoid(c4)


class RLFB(nn.Module):
    """Residual local feature block: three 3×3 convs with a skip, a 1×1 conv, then ESA."""

    def __init__(self, channels: int, mid_channels: int, esa_channels: int = 16) -> None:
        super().__init__()
        self.c1_r = _conv(channels, mid_channels, 3)
        self.c2_r = _conv(mid_channels, mid_channels, 3)
        self.c3_r = _conv(mid_channels, channels, 3)
        self.c5 = _conv(channels, channels, 1)
        self.esa = ESA(channels, esa_channels)
        self.act = nn.LeakyReLU(negative_slope=0.05, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.c1_r(x))
        out = self.act(self.c2_r(out))
        out = self.act(self.c3_r(out))
        out = out + x
        return self.esa(self.c5(out))


class RLFN_Prune(nn.Module):
    """RLFN with the pruned widths of the NTIRE 2024 baseline (features 46, middle 48)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, feature_channels: int = 46,
                 mid_channels: int = 48, upscale: int = 4) -> None:
        super().__init__()
        self.conv_1 = _conv(in_channels, feature_channels, 3)
        self.block_1 = RLFB(feature_channels, mid_channels)
        self.block_2 = RLFB(feature_channels, mid_channels)
        self.block_3 = RLFB(feature_channels, mid_channels)
        self.block_4 = RLFB(feature_channels, mid_channels)
        self.conv_2 = _conv(feature_channels, feature_channels, 3)
        self.upsampler = nn.Sequential(_conv(feature_channels, out_channels * upscale**2, 3), nn.PixelShuffle(upscale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fea = self.conv_1(x)
        b1 = self.block_1(fea)
        b2 = self.block_2(b1)
        b3 = self.block_3(b2)
        b4 = self.block_4(b3)
        return self.upsampler(self.conv_2(b4) + fea)


register(ModelSpec(year=2024, team_id=0, name="RLFN_baseline", builder=RLFN_Prune, checkpoint="team00_rlfn.pth",
                   kwargs=dict(in_channels=3, out_channels=3, feature_channels=46, mid_channels=48, upscale=4),
                   data_range=255.0,
                   url="https://raw.githubusercontent.com/Amazingren/NTIRE2024_ESR/main/model_zoo/team00_rlfn.pth",
                   sha256="3c9be7b9d7a4bece9b68c83a56a1ffb38010f76413d5f215be6b4be842e18fb2", size=1294011))
