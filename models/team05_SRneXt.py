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

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

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
    five channel groups, concatenated. A compiler fuses it into the operator that produces or consumes it, and an
    ONNX graph runs it as slices, where a grouped convolution would be a convolution."""
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
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


BAND_PIXELS = 32768
"""Pixels per row band in the fast network's layers (128 rows of a 256-wide image, 64 of a 510-wide
one); see ``_FastLayer``. Measured best of 8192-65536 at 256×256 and 339×510 on a 2-core AMD EPYC;
on a 2-core Intel Xeon 16384-65536 were within the noise of one another, 8192 and less slower (the
calls' own cost grows faster than what the caches save)."""


try:  # oneDNN's convolutions with a fused element-wise step, which torch.compile's CPU backend calls
    _CONV_THEN = torch.ops.mkldnn._convolution_pointwise
    _CONV_THEN_INTO = torch.ops.mkldnn._convolution_pointwise_
except (AttributeError, RuntimeError):  # a PyTorch built without oneDNN
    _CONV_THEN = _CONV_THEN_INTO = None


def _fused(x: torch.Tensor) -> bool:
    """Whether ``x`` runs through oneDNN's fused convolutions: a float32 CPU tensor, oneDNN present."""
    return _CONV_THEN is not None and x.device.type == "cpu" and x.dtype == torch.float32


def conv_then(conv: nn.Conv2d, x: torch.Tensor, step: str, other: torch.Tensor | None = None,
              out: torch.Tensor | None = None, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``conv(x)`` and one element-wise ``step`` in one pass over memory where oneDNN runs ``x``, in two otherwise.

    ``swish``: ``silu(conv(x))``; ``mul``: ``conv(x) · other``; ``add``: ``other + conv(x)`` written into ``out``.
    ``bias`` replaces the convolution's own. oneDNN applies the step to each output value as it is made, the same
    float32 operation as the separate element-wise one.
    """
    bias = conv.bias if bias is None else bias
    if not _fused(x):
        y = F.conv2d(x, conv.weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)
        if step == "add":
            return torch.add(other, y, out=out)
        return F.silu(y, inplace=True) if step == "swish" else y.mul_(other)
    geometry = (conv.weight, bias, list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups)
    if step == "swish":
        return _CONV_THEN(x, *geometry, "swish", [], "")
    if step == "mul":
        return _CONV_THEN.binary(x, other, *geometry, "mul", None, None, [], None)
    out.copy_(other)
    return _CONV_THEN_INTO.binary(out, x, *geometry, "add", None, None, [], None)


def _band_rows(x: torch.Tensor) -> int:
    return max(1, BAND_PIXELS // (x.shape[0] * x.shape[3]))


class _FastSelfGate(SelfGate):
    """``SelfGate`` on one row band; ``forward`` writes ``x + gate(n)`` for the band into ``out``.

    ``n`` is the layer norm of a slab of rows: the band plus up to ``kernel_size // 2`` rows above
    and below (fewer only at the image border), ``[b0, b1)`` the band's rows within it. The
    vertical mixer runs unpadded on the slab, so each band row sees its real neighbours; a band at
    the image border runs it zero-padded, exactly as the whole-image convolution, and drops the
    rows computed past the halo on the other side (cheaper than copying the slab into a padded one).
    ``n + h·w`` and ``a + a·c`` update the band in place (``n`` is the slab's own tensor); where oneDNN's
    fused convolutions run (:func:`conv_then`), ``h·w`` is the w-mixer's fused step and ``a + a·c`` is
    ``a·(1 + c)``, the c-mixer with its bias plus one and a fused product.
    """

    def forward(self, n: torch.Tensor, b0: int, b1: int, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        pad = self.h_mixer.padding[0]
        if b0 == pad and n.shape[2] - b1 == pad:  # a full halo on both sides: the unpadded convolution
            h = F.conv2d(n, self.h_mixer.weight, self.h_mixer.bias, groups=self.h_mixer.groups)
        else:  # at the image border: zero-padded as on the whole image, the rows past the halo dropped
            h = self.h_mixer(n)[:, :, b0:b1]
        a = n[:, :, b0:b1]
        a = a.add_(conv_then(self.w_mixer, a, "mul", h))  # a = n + h(n)·w(n)
        if _fused(a):  # b = a·(1 + c(a)), one pass
            b = conv_then(self.c_mixer, a, "mul", a, bias=self.c_mixer.bias + 1)
        else:  # b = a + a·c(a): an element-wise op may read and write one element
            b = a.addcmul_(a, self.c_mixer(a))
        return conv_then(self.proj, b, "add", x, out)

    def whole(self, n: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``x + gate(n)`` on the whole image, out of place: what a compiler or an exporter traces."""
        a = torch.addcmul(n, self.h_mixer(n), self.w_mixer(n))
        return x + self.proj(torch.addcmul(a, a, self.c_mixer(a)))


class _FastMLP(nn.Module):
    """``MLP`` on one row band; ``forward`` writes ``x + mlp(n)`` for the band into ``out``.

    The MLP is pointwise except for its two one-pixel shifts, so band rows need ``fc1`` on one row
    more above and below, and that needs ``n`` on two rows more: ``n`` is that slab, ``[b0, b1)``
    the band within it. Rows a shift reads across a band edge are real data from the slab, and
    zeros only at the image border, as in the whole-image computation. The shifts stay depthwise
    3×3 convolutions with kernels built once as buffers: on channels-last tensors oneDNN's
    depthwise kernel is faster than five slice copies (measured), and its 0/1 taps make it exact.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(dim, dim * 2, 1)
        self.fc2 = nn.Conv2d(dim * 2, dim, 1)
        self.register_buffer("shift1", shift_kernel(dim), persistent=False)
        self.register_buffer("shift2", shift_kernel(dim * 2), persistent=False)

    def forward(self, n: torch.Tensor, b0: int, b1: int, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        f0, f1 = max(0, b0 - 1), min(n.shape[2], b1 + 1)  # the fc1 rows the band reads
        y = F.conv2d(n, self.shift1, padding=1, groups=self.fc1.in_channels)
        y = conv_then(self.fc1, y[:, :, f0:f1], "swish")
        y = F.conv2d(y, self.shift2, padding=1, groups=self.fc2.in_channels)
        return conv_then(self.fc2, y[:, :, b0 - f0 : b1 - f0], "add", x, out)

    def whole(self, n: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``x + mlp(n)`` on the whole image, out of place, the shifts as data movement (:func:`shift`)."""
        return x + self.fc2(shift(F.silu(self.fc1(shift(n)))))


class _FastLayer(Layer):
    """One SRneXt layer computed in row bands, from ``x`` through ``mid`` into ``out``.

    ``mid = x + gate(norm1(x))`` and ``out = mid + mlp(norm2(mid))`` are written band by band into
    two image-sized buffers the caller reuses for every layer, so no image-sized tensor is
    allocated per layer: the intermediates are band-sized (a few MB), and glibc keeps reusing
    their memory, whereas fresh image-sized arrays (9 MB at 256×256, 24 MB at 339×510, twice that
    for the MLP's 2×-wide ones) are handed back to the OS and page-faulted again, layer after
    layer, which cost up to a quarter of the run time (measured). A gate band needs the layer norm
    of its rows ± ``kernel_size // 2`` (recomputed for those halo rows: a per-pixel operation), an
    MLP band needs ``mid`` on its rows ± 2, so each MLP band runs as soon as the gate has completed
    ``mid`` that far. Every output pixel is computed from the same values by the same operations
    as on the whole image.
    """

    norm_class, gate_class, mlp_class = _FastLayerNorm, _FastSelfGate, _FastMLP

    def forward(self, x: torch.Tensor, mid: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        height, rows, pad = x.shape[2], _band_rows(x), self.sg.h_mixer.padding[0]
        bands = [(r0, min(height, r0 + rows)) for r0 in range(0, height, rows)]
        pending = iter(bands)
        next_mlp = next(pending)
        for r0, r1 in bands:
            s0, s1 = max(0, r0 - pad), min(height, r1 + pad)
            self.sg(self.norm1(x[:, :, s0:s1]), r0 - s0, r1 - s0, x[:, :, r0:r1], mid[:, :, r0:r1])
            while next_mlp is not None and min(height, next_mlp[1] + 2) <= r1:
                m0, m1 = next_mlp
                t0, t1 = max(0, m0 - 2), min(height, m1 + 2)
                self.mlp(self.norm2(mid[:, :, t0:t1]), m0 - t0, m1 - t0, mid[:, :, m0:m1], out[:, :, m0:m1])
                next_mlp = next(pending, None)
        return out

    def whole(self, x: torch.Tensor) -> torch.Tensor:
        """The layer on the whole image, out of place (:meth:`SRneXtFast.forward` says when)."""
        mid = self.sg.whole(self.norm1(x), x)
        return self.mlp.whole(self.norm2(mid), mid)


class _FastBody(nn.Sequential):
    """The layers, writing alternately into two image-sized buffers, with a third for ``mid``; never compiled
    (:class:`SRneXtFast` says why)."""

    @torch.compiler.disable
    def forward(self, h: torch.Tensor) -> torch.Tensor:
        mid, even, odd = torch.empty_like(h), torch.empty_like(h), torch.empty_like(h)
        x = h  # the head's output stays untouched for the long skip connection
        for i, layer in enumerate(self):
            x = layer(x, mid, odd if i % 2 else even)
        return x


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

    - no tensor is built in ``forward``: the input mean, the shift kernels and the tail's folded
      bias are non-persistent buffers (they move with ``.to()`` and stay out of the state dict);
    - every feature map is channels-last, where oneDNN's depthwise and 1×1 kernels are several
      times faster than in NCHW, and so is every convolution weight (loading a state dict copies
      into them and keeps the layout): oneDNN picks its kernels by the weight's layout too, and
      with NCHW weights the fused convolutions below ran 1.6 times slower (measured);
    - layer norm is one ``F.layer_norm`` pass, Swish is ``F.silu``, ``n + h·w`` and ``a + a·c`` are
      in-place updates, and the residual sums write straight into their destination;
    - each layer runs in row bands (:class:`_FastLayer`) between three image-sized buffers
      allocated once per forward, so the intermediates are band-sized and no image-sized tensor
      is allocated, and page-faulted, per layer;
    - on a CPU in float32, a convolution and the element-wise step after it (Swish, the gate's
      products, the residual sums) are one oneDNN call (:func:`conv_then`), one pass over memory;
    - the output mean shift is folded into the tail conv's bias (:class:`_OffsetConv2d`): the
      pixel shuffle only moves values, so adding 255·mean of RGB channel c after it equals adding
      it to the 16 conv output channels that land in channel c.

    Not folded, because it would not be exact: the input mean shift into the head conv's bias (the
    head zero-pads the mean-shifted image, so at the border the fold would count the mean under
    the padding), and the layer norms' affine parameters into the convolutions that follow them
    (the depthwise mixers and the shifts zero-pad the normalised map, so a folded bias would be
    wrong at the image border).

    Traced, it runs whole-image operators (:meth:`_FastLayer.whole`, the shifts as slices): the row
    bands are a Python loop over the input's size, which a graph would fix to one size. So
    ``torch.export`` (ONNX Runtime, TensorRT) gets one graph for every size, and so does
    ``torch.compile`` on a GPU. On a CPU ``torch.compile`` compiles the head and the tail and leaves
    the banded body to eager PyTorch: compiled, the whole-image graph ran twice as slow as the
    banded body (measured on a 2-core Xeon), its maps streamed through memory layer after layer.

    Inference only: ``forward`` runs without autograd (in-place and ``out=`` updates). The output
    is a contiguous NCHW tensor, like the faithful network's.
    """

    deployment_notes: ClassVar[dict[str, str]] = {
        "compile": "on a CPU, torch.compile compiles the head and the tail and leaves the banded body eager, so compile "
                   "equals eager within the noise (compiled whole-image, the body ran 2.1× slower, its maps streamed "
                   "through memory layer after layer: measured on a 2-core Intel Xeon)"}
    """What the speed matrix says of a backend that runs this network no faster than eager."""

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

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(_to_channels_last(x - self.mean))
        if torch.compiler.is_exporting() or (torch.compiler.is_compiling() and x.device.type != "cpu"):
            body = h
            for layer in self.body:
                body = layer.whole(body)
            return self.tail(body + h).contiguous()
        return self.tail(self.body(h).add_(h)).contiguous()


register(ModelSpec(year=2023, team_id=5, name="SRneXt", builder=SRneXt, checkpoint="team05_exnet.pth",
                   kwargs=dict(upscale=4, num_in_ch=3, num_out_ch=3, task="lsr", n_l=26, dim=35, kernel_size=15),
                   fast_builder=SRneXtFast,
                   url="https://raw.githubusercontent.com/Zhang9317112/NTIRE2023_ESR/main/model_zoo/team05_exnet.pth",
                   sha256="1497301076bdc255c92c734687dd25330cb32709a2083e0f2ca991ad0f7c815d", size=1107717))
