"""Team 00: RFDN (residual feature distillation network), the NTIRE 2023 ESR baseline.

Module for module the official network, so that the official hook counter, fvcore and ptflops
give the organizers' figures and the official checkpoint ``team00_rfdn.pth`` loads strictly.
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
    """Enhanced spatial attention: a cheap, strided, pooled branch that gates the features."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        f = channels // 4
        self.conv1 = _conv(channels, f, 1)
        self.conv_f = _conv(f, f, 1)
        self.conv_max = _conv(f, f, 3)
        self.conv2 = _conv(f, f, 3, stride=2, padding=0)
        self.conv3 = _conv(f, f, 3)
        self.conv3_ = _conv(f, f, 3)
        self.conv4 = _conv(f, channels, 1)
        self.sigmoid = nn.Sigmoid()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1_ = self.conv1(x)
        c1 = self.conv2(c1_)
        v_max = F.max_pool2d(c1, kernel_size=7, stride=3)
        v_range = self.relu(self.conv_max(v_max))
        c3 = self.relu(self.conv3(v_range))
        c3 = self.conv3_(c3)
        c3 = F.interpolate(c3, (x.size(2), x.size(3)), mode="bilinear", align_corners=False)
        cf = self.conv_f(c1_)
        c4 = self.conv4(c3 + cf)
        return x * self.sigmoid(c4)


class RFDB(nn.Module):
    """Residual feature distillation block: three distill/refine steps, then fusion and ESA."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        dc = channels // 2
        self.c1_d = _conv(channels, dc, 1)
        self.c1_r = _conv(channels, channels, 3)
        self.c2_d = _conv(channels, dc, 1)
        self.c2_r = _conv(channels, channels, 3)
        self.c3_d = _conv(channels, dc, 1)
        self.c3_r = _conv(channels, channels, 3)
        self.c4 = _conv(channels, dc, 3)
        self.act = nn.LeakyReLU(negative_slope=0.05, inplace=True)
        self.c5 = _conv(dc * 4, channels, 1)
        self.esa = ESA(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d1 = self.act(self.c1_d(x))
        r1 = self.act(self.c1_r(x) + x)
        d2 = self.act(self.c2_d(r1))
        r2 = self.act(self.c2_r(r1) + r1)
        d3 = self.act(self.c3_d(r2))
        r3 = self.act(self.c3_r(r2) + r2)
        r4 = self.act(self.c4(r3))
        return self.esa(self.c5(torch.cat([d1, d2, d3, r4], dim=1)))


class RFDN(nn.Module):
    def __init__(self, in_nc: int = 3, nf: int = 50, num_modules: int = 4, out_nc: int = 3, upscale: int = 4) -> None:
        super().__init__()
        self.fea_conv = _conv(in_nc, nf, 3)
        self.B1 = RFDB(nf)
        self.B2 = RFDB(nf)
        self.B3 = RFDB(nf)
        self.B4 = RFDB(nf)
        self.c = nn.Sequential(_conv(nf * num_modules, nf, 1), nn.LeakyReLU(negative_slope=0.05, inplace=True))
        self.LR_conv = _conv(nf, nf, 3)
        self.upsampler = nn.Sequential(_conv(nf, out_nc * upscale**2, 3), nn.PixelShuffle(upscale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fea = self.fea_conv(x)
        b1 = self.B1(fea)
        b2 = self.B2(b1)
        b3 = self.B3(b2)
        b4 = self.B4(b3)
        out = self.LR_conv(self.c(torch.cat([b1, b2, b3, b4], dim=1))) + fea
        return self.upsampler(out)


register(ModelSpec(year=2023, team_id=0, name="RFDN_baseline", builder=RFDN, checkpoint="team00_rfdn.pth",
                   kwargs=dict(in_nc=3, nf=50, num_modules=4, out_nc=3, upscale=4),
                   url="https://raw.githubusercontent.com/ofsoundof/NTIRE2023_ESR/main/model_zoo/team00_rfdn.pth",
                   sha256="11af8ec8ebd68689e90ef1e29044f9804c72d3bd9f7573820b7b26035782760c", size=1754927))
