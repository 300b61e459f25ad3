"""Team 00 of 2026: SPAN (swift parameter-free attention network), the NTIRE 2026 ESR baseline.

The deploy form, which is all the official checkpoint ``team00_SPAN.pth`` holds: each
re-parameterisable ``Conv3XC`` is a single 3×3 ``eval_conv``, so the file loads strictly (the 2026
harness loads it with ``strict=False``). Module for module the network the counters see: each
block's ONE ``nn.SiLU`` module is called twice (the hook counter ignores SiLU), the upsampler is
``nn.Sequential(conv, PixelShuffle)``. Unlike the official file, the constructor runs no forward on
CUDA, so the network builds on a CPU. Input in [0, 1]; the mean is subtracted and the result scaled
by 255, with no inverse at the end. The forward does the official float32 operations in the official
order, in-place SiLU included (the first conv's output that SPAN concatenates is the activated one).
"""

from __future__ import annotations

import torch
from torch import nn

from models.registry import register
from models.spec import ModelSpec

RGB_MEAN = (0.4488, 0.4371, 0.4040)
"""RGB mean subtracted from the [0, 1] input before scaling by ``img_range``."""


class Conv3XC(nn.Module):
    """A re-parameterised conv block in deploy form: its only child is the folded 3×3 ``eval_conv``."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.eval_conv = nn.Conv2d(in_ch, out_ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.eval_conv(x)


class SPAB(nn.Module):
    """Swift parameter-free attention block: three convs, then the features gated by sigmoid(o3) − 0.5."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.c1_r = Conv3XC(channels, channels)
        self.c2_r = Conv3XC(channels, channels)
        self.c3_r = Conv3XC(channels, channels)
        self.act1 = nn.SiLU(inplace=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The block's output and its first conv's output, activated in place by ``act1`` (SPAN concatenates
        the last block's)."""
        o1 = self.c1_r(x)
        o2 = self.c2_r(self.act1(o1))  # in place: o1 holds the activated values from here on
        o3 = self.c3_r(self.act1(o2))
        attention = torch.sigmoid(o3) - 0.5
        return (o3 + x) * attention, o1


class SPAN(nn.Module):
    """Six SPAB blocks, a 1×1 fusion of four feature maps, and a pixel-shuffle upsampler."""

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, feature_channels: int = 28, upscale: int = 4,
                 img_range: float = 255.0, rgb_mean: tuple[float, float, float] = RGB_MEAN) -> None:
        super().__init__()
        self.img_range = img_range
        # a buffer so that it follows the model's device; not persistent: the checkpoint has no such entry
        self.register_buffer("mean", torch.tensor(rgb_mean).view(1, 3, 1, 1), persistent=False)
        self.conv_1 = Conv3XC(num_in_ch, feature_channels)
        self.block_1 = SPAB(feature_channels)
        self.block_2 = SPAB(feature_channels)
        self.block_3 = SPAB(feature_channels)
        self.block_4 = SPAB(feature_channels)
        self.block_5 = SPAB(feature_channels)
        self.block_6 = SPAB(feature_channels)
        self.conv_cat = nn.Conv2d(feature_channels * 4, feature_channels, 1)
        self.conv_2 = Conv3XC(feature_channels, feature_channels)
        self.upsampler = nn.Sequential(nn.Conv2d(feature_channels, num_out_ch * upscale**2, 3, padding=1),
                                       nn.PixelShuffle(upscale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean.type_as(x)) * self.img_range
        fea = self.conv_1(x)
        b1, _ = self.block_1(fea)
        b2, _ = self.block_2(b1)
        b3, _ = self.block_3(b2)
        b4, _ = self.block_4(b3)
        b5, _ = self.block_5(b4)
        b6, m6 = self.block_6(b5)
        out = self.conv_cat(torch.cat([fea, self.conv_2(b6), b1, m6], dim=1))
        return self.upsampler(out)


register(ModelSpec(year=2026, team_id=0, name="SPAN", builder=SPAN, checkpoint="team00_SPAN.pth",
                   kwargs=dict(num_in_ch=3, num_out_ch=3, feature_channels=28, upscale=4), data_range=1.0,
                   url="https://raw.githubusercontent.com/Amazingren/NTIRE2026_ESR/main/model_zoo/team00_SPAN.pth",
                   sha256="6c80f05048313289c6526e5fc9726688d7bb3dfdd6ae3c8b1e7dd09f601e5971", size=618658))
