"""Team 05 (FRL Team 05): SRneXt, code name EXnet.

``SRneXt`` is the team's network operator for operator: the mean shifts are functional 1×1
convolutions and the MLP's spatial shift is a functional depthwise 3×3 convolution whose kernel is
built on the CPU at every call, as in the team's code. That structure is what the official hook
counter, fvcore and ptflops count, so the factsheet's complexity figures are measured on it. It is
also why the network is slow (issue: host-side tensors and copies in every forward).

``SRneXtFast`` is the output-equivalent fast implementation (``create_model(5, fast=True)``). It has
the same parameters under the same state-dict keys, so it loads the official checkpoint, and
differs from ``SRneXt`` only by float32 round-off (see its docstring for what changed and why).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from models.kernels.srnext import SOURCES, cpu_kernel
from models.registry import register
from models.spec import ModelSpec

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


def shift(x: torch.Tensor) -> torch.Tensor:
    """What the depthwise convolution with ``shift_kernel`` computes, as data movement: zero-padded slices of the
    five channel groups, concatenated, which a compiler fuses into the operator that produces or consumes it."""
    g, height, width = x.shape[1] // 5, x.shape[2], x.shape[3]
    p = F.pad(x, (1, 1, 1, 1))
    return torch.cat([p[:, :g, 1:-1, 2:], p[:, g:2 * g, 1:-1, :width], p[:, 2 * g:3 * g, 2:, 1:-1],
                      p[:, 3 * g:4 * g, :height, 1:-1], p[:, 4 * g:, 1:-1, 1:-1]], 1)


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
    # the component classes; the fast layer swaps in its own under the same state-dict keys
    norm_class, gate_class, mlp_class = LayerNorm, SelfGate, MLP

    def __init__(self, dim: int, kernel_size: int) -> None:
        super().__init__()
        self.norm1 = self.norm_class(dim)
        self.sg = self.gate_class(dim, kernel_size)
        self.norm2 = self.norm_class(dim)
        self.mlp = self.mlp_class(dim)

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


# --------------------------------------------------------------------------------------------------
# Fast implementation


def _to_channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


class _FastLayerNorm(LayerNorm):
    """``LayerNorm`` as one ``F.layer_norm`` over the channels of a channels-last tensor.

    A channels-last N×C×H×W tensor is a contiguous N×H×W×C array, so its channel dimension is the
    innermost one and ``permute(0, 2, 3, 1)`` is a free view that ``F.layer_norm`` normalizes in one
    pass (instead of six element-wise passes). The result is permuted back, still channels-last.

    Exported, the permutes would be two Transpose nodes around each norm (an ONNX graph has no memory format): the
    norm is the reductions over the channels instead, which ONNX Runtime's CPU provider ran in 0.67 times the
    time with the shifts as convolutions (:class:`_FastMLP`; the whole network, 256², interleaved).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.compiler.is_exporting():
            centred = x - x.mean(1, keepdim=True)
            scale = torch.rsqrt(centred.square().mean(1, keepdim=True) + self.eps)
            return torch.addcmul(self.bias[:, None, None], self.weight[:, None, None], centred * scale)
        y = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


class _FastSelfGate(SelfGate):
    """``SelfGate`` with its two products and sums each one ``addcmul`` pass over memory instead of two."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.addcmul(x, self.h_mixer(x), self.w_mixer(x))
        return self.proj(torch.addcmul(a, a, self.c_mixer(a)))


class _FastMLP(nn.Module):
    """``MLP`` with its shifts' kernels built once (non-persistent buffers), not in every call.

    Eager or exported, each shift is the depthwise convolution with that kernel: on a channels-last map oneDNN runs
    it in one pass, where the slices of :func:`shift` are a padded copy and a gather of five strided slices (about
    five times slower on a CPU, measured), and ONNX Runtime runs the convolution faster than the slices as copies.
    Compiled, they are the slices, which the compiler fuses into their neighbours. Both are exact: a 0/1 tap moves a
    value unchanged.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(dim, dim * 2, 1)
        self.fc2 = nn.Conv2d(dim * 2, dim, 1)
        self.register_buffer("shift1", shift_kernel(dim), persistent=False)
        self.register_buffer("shift2", shift_kernel(dim * 2), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.compiler.is_compiling() and not torch.compiler.is_exporting():
            return self.fc2(shift(F.silu(self.fc1(shift(x)))))
        y = F.silu(self.fc1(F.conv2d(x, self.shift1, padding=1, groups=x.shape[1])), inplace=True)
        return self.fc2(F.conv2d(y, self.shift2, padding=1, groups=y.shape[1]))


class _FastLayer(Layer):
    norm_class, gate_class, mlp_class = _FastLayerNorm, _FastSelfGate, _FastMLP

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.sg(self.norm1(x)).add_(x)
        return self.mlp(self.norm2(x)).add_(x)


class _FastBody(nn.Sequential):
    """The layers: on a CPU in float32 one call of the compiled kernel (:func:`cpu_kernel`), elsewhere the layers'
    PyTorch operators (a GPU, another precision, a graph being exported, a machine without a C++ compiler)."""

    use_cpu_kernel = True
    """False runs the PyTorch operators on a CPU too (how the tests compare the two)."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.use_cpu_kernel and h.device.type == "cpu" and h.dtype == torch.float32 and not h.requires_grad \
                and not torch.compiler.is_exporting():  # the kernel has no backward: autograd gets the operators
            out = self._kernel(h)
            if out is not None:
                return out
        for layer in self:
            h = layer(h)
        return h

    @torch.compiler.disable  # an opaque operator to a compiler: torch.compile compiles the head and the tail around it
    def _kernel(self, h: torch.Tensor) -> torch.Tensor | None:
        first = self[0]
        kernel = cpu_kernel(h.shape[1], first.sg.h_mixer.kernel_size[0])
        if kernel is None:
            return None
        params = []
        for layer in self:
            sg, mlp = layer.sg, layer.mlp
            params += [layer.norm1.weight, layer.norm1.bias, sg.h_mixer.weight, sg.h_mixer.bias, sg.w_mixer.weight,
                       sg.w_mixer.bias, sg.c_mixer.weight, sg.c_mixer.bias, sg.proj.weight, sg.proj.bias,
                       layer.norm2.weight, layer.norm2.bias, mlp.fc1.weight, mlp.fc1.bias, mlp.fc2.weight, mlp.fc2.bias]
        return kernel(h, [p.contiguous() for p in params])


class _OffsetConv2d(nn.Conv2d):
    """A convolution followed by adding a constant per output channel, folded into its bias.

    ``conv(x) + offset`` equals a convolution with bias ``bias + offset`` at every pixel, borders
    included (the offset is added after the convolution, not under its padding); only the float32
    rounding of the bias sum differs. The folded bias is a non-persistent buffer recomputed from
    the parameters after every ``load_state_dict`` (a post hook), so the state dict keeps the
    checkpoint's ``weight`` and ``bias``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, offset: torch.Tensor, **kwargs) -> None:
        super().__init__(in_channels, out_channels, kernel_size, **kwargs)
        self.register_buffer("offset", offset.detach().clone().reshape(out_channels), persistent=False)
        self.register_buffer("folded_bias", torch.empty(out_channels), persistent=False)
        self.refresh_folded_bias()
        self.register_load_state_dict_post_hook(_refresh_after_load)

    @torch.no_grad()
    def refresh_folded_bias(self) -> None:
        """Recompute ``folded_bias``; call it after changing ``bias`` in place."""
        self.folded_bias.copy_(self.bias + self.offset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight, self.folded_bias)


def _refresh_after_load(module: _OffsetConv2d, _incompatible_keys: object) -> None:
    """``load_state_dict`` post hook (a module-level function, so the model stays picklable)."""
    module.refresh_folded_bias()


class SRneXtFast(nn.Module):
    """SRneXt for inference, output-equivalent to ``SRneXt`` up to float32 round-off.

    Same parameters under the same state-dict keys. What differs from the faithful network:

    - on a CPU in float32 the 26 layers are one compiled operator (``kernels/srnext_body.cpp``, built with the
      network: :func:`cpu_kernel`) that runs each layer row by row while the row is in the cache, instead of a
      dozen PyTorch operators per layer, each a pass over memory (measured on a 2-core Intel Xeon: 0.3 times the
      time of eager RFDN, where the faithful network compiled takes 1.0; the README's speed section);
    - elsewhere (a GPU, an export, no C++ compiler) the layers are PyTorch operators without the faithful
      network's per-call work: no tensor is built in ``forward`` (the input mean, the shifts' kernels and the
      tail's folded bias are non-persistent buffers), layer norm is one ``F.layer_norm`` pass, Swish is
      ``F.silu``, the gate's products are ``addcmul`` (:class:`_FastMLP` says how the shifts run), and the maps
      and weights are channels-last, where oneDNN's depthwise and 1×1 kernels are several times faster than in
      NCHW;
    - the output mean shift is folded into the tail conv's bias (:class:`_OffsetConv2d`): the
      pixel shuffle only moves values, so adding 255·mean of RGB channel c after it equals adding
      it to the 16 conv output channels that land in channel c.

    Not folded, because it would not be exact: the input mean shift into the head conv's bias (the
    head zero-pads the mean-shifted image, so at the border the fold would count the mean under
    the padding), and the layer norms' affine parameters into the convolutions that follow them
    (the depthwise mixers and the shifts zero-pad the normalised map, so a folded bias would be
    wrong at the image border).

    ``torch.export`` (ONNX Runtime, TensorRT) traces the PyTorch operators, one graph for every input size;
    ``torch.compile`` compiles them on a GPU, and on a CPU compiles the head and the tail around the kernel.
    For inference: ``forward`` runs without autograd, whether the parameters require gradients or not, unless the
    input requires them (an attribution map, an adversarial input): then the layers run as PyTorch operators under
    autograd, as the kernel has no backward, and gradients reach the input and the parameters. The output is a
    contiguous NCHW tensor, like the faithful network's.
    """

    deployment_notes: ClassVar[dict[str, str]] = {
        "compile": "on a CPU, torch.compile compiles the head and the tail around the body's compiled kernel, so "
                   "compile equals eager within the noise",
        "onnxruntime": "the exported graph holds the body's PyTorch operators, not the CPU kernel that eager runs"}
    """What the speed matrix says of a backend that runs this network no faster than eager."""

    sources: ClassVar[tuple[Path, ...]] = SOURCES
    """Files beyond this module that a forward runs: a run's ``code_sha256`` covers them (``ModelSpec.code``)."""

    def __init__(self, upscale: int = 4, num_in_ch: int = 3, num_out_ch: int = 3, task: str = "lsr",
                 n_l: int = 26, dim: int = 35, kernel_size: int = 15) -> None:
        super().__init__()
        if num_in_ch != len(DF2K_MEAN) or num_out_ch != len(DF2K_MEAN):
            raise ValueError(f"SRneXt's mean shift is defined for RGB; got {num_in_ch} in, {num_out_ch} out channels")
        self.task = task
        mean = 255.0 * torch.tensor(DF2K_MEAN)
        self.register_buffer("mean", mean.view(1, -1, 1, 1), persistent=False)
        self.head = nn.Sequential(nn.Conv2d(num_in_ch, dim, 3, padding=1))
        self.body = _FastBody(*[_FastLayer(dim, kernel_size) for _ in range(n_l)])
        offset = mean.repeat_interleave(upscale**2)  # conv channel c·r² + i becomes RGB channel c
        self.tail = nn.Sequential(_OffsetConv2d(dim, num_out_ch * upscale**2, 3, offset, padding=1),
                                  nn.PixelShuffle(upscale))
        self.to(memory_format=torch.channels_last)  # the weights in the maps' layout: see the class docstring
        cpu_kernel(dim, kernel_size)  # built (or found built) here, so no timed forward ever includes the build

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:  # gradients for the input: PyTorch operators, under autograd
            return self._forward(x)
        with torch.no_grad():
            return self._forward(x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(_to_channels_last(x - self.mean))
        return self.tail(_to_channels_last(self.body(h) + h)).contiguous()


register(ModelSpec(year=2023, team_id=5, name="SRneXt", builder=SRneXt, checkpoint="team05_exnet.pth",
                   kwargs=dict(upscale=4, num_in_ch=3, num_out_ch=3, task="lsr", n_l=26, dim=35, kernel_size=15),
                   fast_builder=SRneXtFast,
                   url="https://raw.githubusercontent.com/Zhang9317112/NTIRE2023_ESR/main/model_zoo/team05_exnet.pth",
                   sha256="1497301076bdc255c92c734687dd25330cb32709a2083e0f2ca991ad0f7c815d", size=1107717))
