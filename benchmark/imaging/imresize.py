"""MATLAB-compatible bicubic resizing (``imresize(img, scale, 'bicubic')``), bit for bit on uint8.

The benchmark LR files (Set5, Set14, B100, DIV2K) were made with MATLAB's ``imresize``, whose
antialiased kernel, symmetric borders and per-pass rounding differ from OpenCV and PIL; any other
downscaler gives LR inputs that are off by one grey level here and there, and PSNR figures that
are not comparable with the published ones.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from benchmark.imaging.images import SCALE, modcrop

_KERNEL_WIDTH = 4.0  # support of the bicubic kernel, before antialiasing widens it


def _cubic(x: np.ndarray) -> np.ndarray:
    """MATLAB's cubic convolution kernel (Keys, a = -0.5), written with the same operations."""
    absx = np.abs(x)
    absx2 = absx**2
    absx3 = absx**3
    return (1.5 * absx3 - 2.5 * absx2 + 1) * (absx <= 1) + (-0.5 * absx3 + 2.5 * absx2 - 4 * absx + 2) * (
        (1 < absx) & (absx <= 2)
    )


@lru_cache(maxsize=64)
def _contributions(in_len: int, out_len: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights (out_len × taps, float64) and 0-based source indices, as MATLAB's ``contributions``."""
    kernel_width = _KERNEL_WIDTH
    antialias = scale < 1
    if antialias:
        kernel_width = kernel_width / scale
    x = np.arange(1, out_len + 1, dtype=np.float64)[:, None]
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    indices = left + np.arange(taps, dtype=np.float64)[None, :]  # 1-based, as in MATLAB
    dist = u - indices
    weights = scale * _cubic(scale * dist) if antialias else _cubic(dist)
    # Row sums taken tap by tap, left to right, as MATLAB does for short rows.
    total = np.zeros(out_len, dtype=np.float64)
    for k in range(taps):
        total = total + weights[:, k]
    weights = weights / total[:, None]
    # Symmetric borders: MATLAB's aux = [1:in_len, in_len:-1:1]; indices = aux(mod(indices-1, 2*in_len)+1).
    j = np.mod(indices.astype(np.int64) - 1, 2 * in_len)
    src = np.where(j < in_len, j, 2 * in_len - 1 - j)
    keep = np.any(weights != 0, axis=0)
    weights = np.ascontiguousarray(weights[:, keep])
    src = np.ascontiguousarray(src[:, keep])
    weights.flags.writeable = False
    src.flags.writeable = False
    return weights, src


def _round_uint8(x: np.ndarray) -> np.ndarray:
    """MATLAB's double → uint8: round half away from zero, saturate to 0..255."""
    return np.clip(np.floor(x + 0.5), 0, 255).astype(np.uint8)


def _resize_along(img: np.ndarray, axis: int, out_len: int, scale: float) -> np.ndarray:
    """Resize float64 ``img`` along ``axis``; taps are accumulated in order, as MATLAB's mex does."""
    weights, src = _contributions(img.shape[axis], out_len, scale)
    moved = np.moveaxis(img, axis, 0)
    bshape = (out_len,) + (1,) * (moved.ndim - 1)
    out = np.zeros((out_len,) + moved.shape[1:], dtype=np.float64)
    for k in range(weights.shape[1]):
        out += weights[:, k].reshape(bshape) * moved[src[:, k]]
    return np.moveaxis(out, 0, axis)


def imresize(img: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB ``imresize(img, scale, 'bicubic')`` for an H×W or H×W×C array.

    uint8 input is rounded back to uint8 after each of the two passes (as MATLAB does) and
    returned as uint8; floating-point input is resized in float64 without rounding.
    The output size is ``ceil(scale * size)``; the dimension with the smaller scale is resized
    first (rows first when both are equal, which is always the case here).
    """
    img = np.asarray(img)
    if img.ndim not in (2, 3):
        raise ValueError(f"imresize expects an H×W or H×W×C array, got shape {img.shape}")
    if not scale > 0 or not math.isfinite(scale):
        raise ValueError(f"imresize scale must be positive and finite, got {scale}")
    is_uint8 = img.dtype == np.uint8
    if not is_uint8 and not np.issubdtype(img.dtype, np.floating):
        raise TypeError(f"imresize supports uint8 or floating-point images, got {img.dtype}")
    if min(img.shape[:2]) == 0:
        raise ValueError(f"imresize got an empty image of shape {img.shape}")
    out_shape = [math.ceil(scale * n) for n in img.shape[:2]]
    # Both dimensions share one scale, so MATLAB's stable sort of the scales puts rows first.
    result = img
    for axis in (0, 1):
        result = _resize_along(result.astype(np.float64, copy=False), axis, out_shape[axis], scale)
        if is_uint8:
            result = _round_uint8(result)
    return result


def downscale_x4(hr: np.ndarray) -> np.ndarray:
    """The benchmark LR image: MATLAB ``imresize(modcrop(hr, 4), 1/4, 'bicubic')``."""
    return imresize(modcrop(hr, SCALE), 1 / SCALE)
