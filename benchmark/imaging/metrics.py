"""PSNR and SSIM exactly as the official NTIRE ESR utilities compute them, only faster.

Convention (the official ``utils_image.py`` with the challenge's settings): SR and HR are uint8
images of the same shape (HR already cut to a multiple of the scale by the caller), ``border``
pixels are shaved from every side, everything is computed in float64 with data range 255.

- PSNR: ``20·log10(255 / sqrt(mse))`` with ``mse`` the mean squared difference over all shaved
  pixels and channels; ``inf`` for identical images.
- SSIM: per channel, the 11×11 Gaussian window (σ = 1.5, ``cv2.getGaussianKernel`` weights),
  C1 = (0.01·255)², C2 = (0.03·255)², the SSIM map over the valid region only (5 pixels inside the
  shaved image), its mean; the image's SSIM is the mean over channels.
- Y channel: the official ``rgb2ycbcr(img, only_y=True)`` on uint8 RGB, i.e.
  ``round(dot(RGB, (65.481, 128.553, 24.966)) / 255 + 16)`` on values 0…255, rounded half to even.
  The dot product is where machines disagree: the reference figures were made where NumPy's
  ``np.dot`` goes to an OpenBLAS ``ddot`` that accumulates with fused multiply-adds,
  ``fma(B, wB, fma(G, wG, R·wR))``, while a plain float64 sum (NumPy on other machines) rounds
  some colours the other way (measured: PSNR-Y off by up to 6e-5 dB on B100). The fused chain is
  reproduced exactly, whatever this machine's BLAS does. (The BasicSR variant that scales to
  [0, 1] first gives different figures again.)

Where the official code is slow, the same quantities are computed another way:
- PSNR sums the squared differences in one pass (``einsum``, no BLAS threads). The squares are
  integers and their total stays below 2**53, so the float64 sum is exact in any order and the
  figure is the official one to the last bit.
- SSIM filters with the separable Gaussian (a row pass and a column pass instead of the official
  full 11×11 ``filter2D``) straight from uint16 copies of ``x, y, x², y², x·y`` (all exact), and
  evaluates the map in row strips that stay in cache. It agrees with the official figure to
  ~1e-14; the official ``filter2D`` itself (DFT-based for an 11×11 float64 kernel) is not exact to
  the last bit either.

The ``*_torch`` functions take uint8 tensors on any device and compute the same figures there in
float64, for evaluation loops that keep the images on the GPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, TypeVar

import cv2
import numpy as np
import torch
import torch.nn.functional as F

_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2
_KERNEL = cv2.getGaussianKernel(11, 1.5)  # 11×1 float64; the official window is its outer product
_HALF = _KERNEL.shape[0] // 2  # the SSIM map covers the image less this margin on every side
_Y_WEIGHTS = (65.481, 128.553, 24.966)
_Y_WEIGHTS_EXACT = tuple(Fraction(w) for w in _Y_WEIGHTS)
_STRIP_ROWS = 64  # rows of the SSIM map evaluated at a time (keeps the temporaries in cache)

_Image = TypeVar("_Image", np.ndarray, torch.Tensor)


def _shaved_pair(sr: _Image, hr: _Image, border: int, uint8: object, min_side: int) -> tuple[_Image, _Image]:
    """Check that ``sr`` and ``hr`` (arrays or tensors) fit together and return both shaved."""
    if tuple(sr.shape) != tuple(hr.shape):
        raise ValueError(
            f"SR shape {tuple(sr.shape)} differs from HR shape {tuple(hr.shape)}; "
            "cut the HR image to a multiple of the scale (modcrop) before measuring"
        )
    if sr.dtype != uint8 or hr.dtype != uint8:
        raise ValueError(f"SR is {sr.dtype} and HR is {hr.dtype}; the metrics take uint8 images (0…255)")
    if sr.ndim not in (2, 3):
        raise ValueError(f"image shape {tuple(sr.shape)}: expected H×W or H×W×C")
    h, w = sr.shape[:2]
    if min(h, w) - 2 * border < min_side:
        raise ValueError(
            f"image {h}×{w} with a {border}-pixel border leaves less than {min_side}×{min_side} pixels to measure"
        )
    return sr[border : h - border, border : w - border], hr[border : h - border, border : w - border]


def _check_rgb(img: _Image, uint8: object) -> None:
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != uint8:
        raise ValueError(f"{img.dtype} image of shape {tuple(img.shape)}: expected H×W×3 uint8 RGB")


def _psnr_from_mse(mse: float) -> float:
    return float("inf") if mse == 0 else 20 * math.log10(255.0 / math.sqrt(mse))


def psnr(sr: np.ndarray, hr: np.ndarray, border: int = 4) -> float:
    """PSNR in dB of uint8 images (H×W×C or H×W), ``border`` shaved, as the official ``calculate_psnr``."""
    a, b = _shaved_pair(sr, hr, border, np.uint8, 1)
    diff = np.subtract(a, b, dtype=np.float64).ravel()
    return _psnr_from_mse(float(np.einsum("i,i->", diff, diff)) / diff.size)


def _ssim_map_sum(mu1: np.ndarray, mu2: np.ndarray, s1: np.ndarray, s2: np.ndarray, s12: np.ndarray) -> float:
    """Sum of the SSIM map, given the filtered ``x, y, x², y², x·y`` (overwritten in place).

    Every operation is the official one, in the official order, so each map value is bit-identical
    to the official value for the same filtered inputs.
    """
    mu1_mu2 = mu1 * mu2
    np.square(mu1, out=mu1)
    np.square(mu2, out=mu2)
    s1 -= mu1  # sigma1_sq
    s2 -= mu2  # sigma2_sq
    s12 -= mu1_mu2  # sigma12
    numerator = mu1_mu2
    numerator *= 2
    numerator += _C1
    s12 *= 2
    s12 += _C2
    numerator *= s12
    denominator = mu1
    denominator += mu2
    denominator += _C1
    s1 += s2
    s1 += _C2
    denominator *= s1
    numerator /= denominator
    return float(numerator.sum())


def ssim(sr: np.ndarray, hr: np.ndarray, border: int = 4) -> float:
    """SSIM of uint8 images (H×W×C or H×W), ``border`` shaved, as the official ``calculate_ssim``."""
    a, b = _shaved_pair(sr, hr, border, np.uint8, 2 * _HALF + 1)
    if a.ndim == 2:
        a, b = a[:, :, None], b[:, :, None]
    h, w, channels = a.shape
    filtered = [np.empty((h, w)) for _ in range(5)]
    total = 0.0
    for c in range(channels):
        x = a[:, :, c].astype(np.uint16)  # uint16 holds x² and x·y exactly and filters fastest
        y = b[:, :, c].astype(np.uint16)
        for src, dst in zip((x, y, x * x, y * y, x * y), filtered):
            cv2.sepFilter2D(src, cv2.CV_64F, _KERNEL, _KERNEL, dst=dst)
        for top in range(_HALF, h - _HALF, _STRIP_ROWS):
            rows = slice(top, min(top + _STRIP_ROWS, h - _HALF))
            total += _ssim_map_sum(*(f[rows, _HALF : w - _HALF] for f in filtered))
    return total / (channels * (h - 2 * _HALF) * (w - 2 * _HALF))


def _fused_dot(rgb: tuple[int, int, int]) -> float:
    """``fma(B, wB, fma(G, wG, R·wR))`` in float64, each step rounded once (exact rational arithmetic)."""
    acc = float(rgb[0] * _Y_WEIGHTS[0])
    for value, weight in zip(rgb[1:], _Y_WEIGHTS_EXACT[1:]):
        acc = float(value * weight + Fraction(acc))
    return acc


def _y_from_dot(dot: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """``round(dot / 255 + 16)``, redoing with the fused dot the few pixels whose rounding it can flip.

    The plain and the fused dot differ by a few ulps (< 1e-10 after the division), so only values
    within 1e-9 of a rounding boundary (``k + 0.5``) can change.
    """
    y = dot / 255.0 + 16.0
    near = np.flatnonzero(np.abs(y - np.floor(y) - 0.5) < 1e-9)
    if near.size:
        colours, index = np.unique(rgb.reshape(-1, 3)[near], axis=0, return_inverse=True)
        fused = np.array([_fused_dot(tuple(c)) for c in colours.tolist()])
        y.reshape(-1)[near] = fused[index.reshape(-1)] / 255.0 + 16.0
    return y.round().astype(np.uint8)


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """H×W×3 uint8 RGB → H×W uint8 Y (BT.601, 16…235), as the official ``rgb2ycbcr(img, only_y=True)``."""
    _check_rgb(img, np.uint8)
    dot = img[:, :, 0] * _Y_WEIGHTS[0]
    dot += img[:, :, 1] * _Y_WEIGHTS[1]
    dot += img[:, :, 2] * _Y_WEIGHTS[2]
    return _y_from_dot(dot, img)


def psnr_torch(sr: torch.Tensor, hr: torch.Tensor, border: int = 4) -> float:
    """:func:`psnr` for uint8 tensors (H×W×C or H×W) on any device, computed there in float64."""
    a, b = _shaved_pair(sr, hr, border, torch.uint8, 1)
    diff = (a.double() - b.double()).reshape(-1)
    return _psnr_from_mse(torch.dot(diff, diff).item() / diff.numel())


def ssim_torch(sr: torch.Tensor, hr: torch.Tensor, border: int = 4) -> float:
    """:func:`ssim` for uint8 tensors (H×W×C or H×W) on any device, computed there in float64."""
    a, b = _shaved_pair(sr, hr, border, torch.uint8, 2 * _HALF + 1)
    if a.ndim == 2:
        a, b = a.unsqueeze(2), b.unsqueeze(2)
    x = a.permute(2, 0, 1).unsqueeze(1).double()  # C×1×H×W
    y = b.permute(2, 0, 1).unsqueeze(1).double()
    kernel = torch.from_numpy(_KERNEL).to(x.device).reshape(1, 1, -1, 1)
    stacked = torch.cat((x, y, x * x, y * y, x * y))
    filtered = F.conv2d(F.conv2d(stacked, kernel), kernel.reshape(1, 1, 1, -1))  # valid region only
    mu1, mu2, e11, e22, e12 = filtered.chunk(5)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    ssim_map = ((2 * mu1_mu2 + _C1) * (2 * (e12 - mu1_mu2) + _C2)) / (
        (mu1_sq + mu2_sq + _C1) * ((e11 - mu1_sq) + (e22 - mu2_sq) + _C2)
    )
    return ssim_map.mean().item()


def rgb_to_y_torch(img: torch.Tensor) -> torch.Tensor:
    """:func:`rgb_to_y` for an H×W×3 uint8 tensor on any device; boundary pixels are settled on the host."""
    _check_rgb(img, torch.uint8)
    rgb = img.double()
    dot = rgb[:, :, 0] * _Y_WEIGHTS[0] + rgb[:, :, 1] * _Y_WEIGHTS[1] + rgb[:, :, 2] * _Y_WEIGHTS[2]
    y = dot / 255.0 + 16.0
    near = (y - y.floor() - 0.5).abs() < 1e-9
    out = y.round().to(torch.uint8)
    if bool(near.any()):
        fixed = _y_from_dot(dot[near].cpu().numpy(), img[near].cpu().numpy())
        out[near] = torch.from_numpy(fixed).to(out.device)
    return out


@dataclass(frozen=True)
class Metric:
    """One image-quality figure as the harness records and prints it: the results key (``{split}_{key}`` per
    image, ``{split}_ave_{key}`` their mean), how to compute it on the host and on a device, and when it is asked for."""

    key: str
    label: str
    unit: str
    decimals: int
    """As the reports print it: PSNR to 2 decimals, SSIM to 4."""
    on_host: Callable[[np.ndarray, np.ndarray, int], float]
    on_device: Callable[[torch.Tensor, torch.Tensor, int], float]
    y_channel: bool = False
    """Computed on the Y channel of both images (``--y-channel``)."""
    with_ssim: bool = False
    """Computed only when SSIM is asked for (``--ssim``)."""


METRICS: tuple[Metric, ...] = (
    Metric("psnr", "PSNR", "dB", 2, psnr, psnr_torch),
    Metric("ssim", "SSIM", "", 4, ssim, ssim_torch, with_ssim=True),
    Metric("psnr_y", "PSNR-Y", "dB", 2, psnr, psnr_torch, y_channel=True),
    Metric("ssim_y", "SSIM-Y", "", 4, ssim, ssim_torch, y_channel=True, with_ssim=True),
)
"""Every figure a run can score, in the order the records list them; PSNR is always scored."""


def wanted(ssim: bool, y_channel: bool) -> tuple[Metric, ...]:
    """The metrics a run with these flags scores."""
    return tuple(m for m in METRICS if (ssim or not m.with_ssim) and (y_channel or not m.y_channel))


def score(sr: _Image, hr: _Image, metrics: tuple[Metric, ...], border: int) -> dict[str, float]:
    """``metrics`` of one uint8 SR image against its HR (arrays on the host, or tensors on a device)."""
    on_device = isinstance(sr, torch.Tensor)
    to_y = rgb_to_y_torch if on_device else rgb_to_y
    y_pair = (to_y(sr), to_y(hr)) if any(m.y_channel for m in metrics) else None
    out = {}
    for m in metrics:
        a, b = y_pair if m.y_channel else (sr, hr)
        out[m.key] = (m.on_device if on_device else m.on_host)(a, b, border)
    return out
