"""Image files and the official pixel conversions.

The official NTIRE utilities read every image with OpenCV as 3-channel RGB uint8, feed the network
``uint8 / (255 / data_range)`` in float32, and turn its output back into uint8 by clamping to
``[0, data_range]``, scaling by ``255 / data_range`` and rounding half to even. Every figure the
harness reports is computed on those uint8 images, so these conversions are reproduced operation
for operation (including the float32 ``x * 255.0 / data_range`` that is not an exact identity).

Policy for files the official reader would silently alter:
- grayscale (one channel): replicated to G,G,G, exactly as the official reader does;
- an alpha channel: dropped with a warning, which is what the official reader does too;
- 16 bits per channel, or floating point: refused, because the official reader would quietly keep
  only the top 8 bits and the figures would not be comparable; convert the file to 8-bit PNG.
"""

from __future__ import annotations

import hashlib
import struct
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from benchmark.core.errors import HarnessError

SCALE = 4
"""The challenge's upscaling factor: HR sizes are cut to a multiple of it, LR files are 1/SCALE."""
IMAGE_EXTENSIONS = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg")
PNG_COLOUR_TYPES = {0: "grayscale", 2: "RGB", 3: "palette", 4: "grayscale+alpha", 6: "RGBA"}


class ImageWarning(UserWarning):
    """An image was converted on reading (its alpha channel dropped)."""


def read_image(path: str | Path) -> np.ndarray:
    """Read ``path`` as an H×W×3 RGB uint8 array, following the policy in the module docstring."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{path}: no such image file; check the data folder")
    if path.stat().st_size == 0:
        raise HarnessError(f"{path}: the file is empty; re-download or re-create it")
    try:
        img = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except (cv2.error, OSError) as err:
        raise HarnessError(f"{path}: cannot be decoded ({type(err).__name__}); re-download or re-create it") from None
    if img is None or img.size == 0:
        raise HarnessError(
            f"{path}: not a readable image (truncated or not an image file); re-download or re-create it"
        )
    if img.dtype != np.uint8:
        raise HarnessError(
            f"{path}: {img.dtype} pixels ({8 * img.dtype.itemsize} bits per channel); the challenge "
            "images are 8-bit: convert the file to an 8-bit PNG"
        )
    if img.ndim == 2:
        img = img[:, :, None]
    channels = img.shape[2]
    if channels == 1:
        return np.ascontiguousarray(np.repeat(img, 3, axis=2))
    if channels == 4:
        warnings.warn(
            f"{path}: alpha channel dropped (as the official reader does); save it as RGB to silence this",
            ImageWarning,
            stacklevel=2,
        )
        img = img[:, :, :3]
    elif channels != 3:
        raise HarnessError(f"{path}: {channels} channels; expected an RGB or grayscale image")
    return np.ascontiguousarray(img[:, :, ::-1])


def png_header(path: str | Path) -> tuple[int, int, int, int] | None:
    """(width, height, bit depth, colour type) from a PNG's IHDR chunk; None if the file is not a PNG.

    Read from the bytes themselves because Pillow reports a 16-bit RGB PNG as 8-bit ``RGB``.
    """
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    return width, height, depth, colour


def image_size(path: str | Path) -> tuple[int, int] | None:
    """(width, height) from the file's header, nothing decoded; None when Pillow cannot read it. Pillow's own
    decompression-bomb check is set aside here: the caller applies its own bound to the size returned."""
    bound, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with Image.open(path) as img:
            return img.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = bound


def write_png(path: str | Path, img: np.ndarray) -> str:
    """Write an H×W×3 RGB uint8 array as PNG, creating the folder; an atomic rename keeps no half file.

    Returns the sha256 of the bytes written, so a results file can tell its own images from others.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise HarnessError(f"{path.parent}: cannot create the folder ({err.strerror}); choose a writable output folder") from None
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(img[:, :, ::-1]))
    if not ok:
        raise HarnessError(f"{path}: OpenCV could not encode the image as PNG")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        data = encoded.tobytes()
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise HarnessError(f"{path}: cannot write ({err.strerror}); choose a writable output folder with free space") from None
    return hashlib.sha256(data).hexdigest()


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Cut the bottom and right edges so that height and width are multiples of ``scale``."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def to_tensor(img: np.ndarray, data_range: float) -> torch.Tensor:
    """H×W×3 uint8 → 1×3×H×W float32 in ``[0, data_range]``, as the official ``uint2tensor4``."""
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div(255.0 / data_range).unsqueeze(0)


def quantize(out: torch.Tensor, data_range: float) -> torch.Tensor:
    """1×3×H×W network output → H×W×3 uint8 tensor on the output's device, as the official ``tensor2uint``.

    Clamp to ``[0, data_range]``, then ``x * 255.0 / data_range`` in float32 and round half to even:
    the same IEEE operations as the official NumPy code, so the GPU gives the official pixels.
    """
    img = out.detach().squeeze(0).float().clamp(0, data_range)
    return (img * 255.0 / data_range).round().to(torch.uint8).permute(1, 2, 0)


def to_uint8(out: torch.Tensor, data_range: float) -> np.ndarray:
    """The official ``tensor2uint`` on the host, in NumPy (``np.clip`` is torch's clamp for finite values).

    Single-threaded on purpose: it runs on a worker thread beside a forward, where a torch op would
    wait for the intra-op threads the forward is using.
    """
    img = np.clip(out.detach().squeeze(0).float().cpu().numpy(), 0, data_range)
    return np.uint8((np.transpose(img, (1, 2, 0)) * 255.0 / data_range).round())
