"""Benchmark folders (HR plus MATLAB-bicubic x4 LR) made from a folder of high-resolution images.

``OUT/HR/<stem>.png`` is the image cut to a multiple of 4 and ``OUT/LR_bicubic/X4/<stem>x4.png`` is
``imresize(HR, 1/4, 'bicubic')`` as MATLAB computes it, the layout of the official benchmark sets.
Images are written as 3-channel RGB PNG; a grayscale source gives three equal channels, whose LR
equals the LR of the gray image. The set is built beside its destination and moved in place whole; it replaces
only a set this command prepared, and no image over a pixel bound is decoded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from benchmark.core.errors import HarnessError
from benchmark.core.files import out_folder
from benchmark.imaging.images import IMAGE_EXTENSIONS, SCALE, image_size, modcrop, read_image, write_png
from benchmark.imaging.imresize import downscale_x4


def find_images(hr_dir: Path) -> list[Path]:
    """The image files directly in ``hr_dir``, sorted by name; HarnessError if there are none."""
    hr_dir = Path(hr_dir)
    if not hr_dir.exists():
        raise HarnessError(f"{hr_dir}: no such folder; pass the folder of HR images with --hr")
    if not hr_dir.is_dir():
        raise HarnessError(f"{hr_dir}: not a folder; pass the folder of HR images with --hr")
    files = sorted(
        p
        for p in hr_dir.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not files:
        raise HarnessError(
            f"{hr_dir}: no images found (looked for {', '.join(e[1:] for e in IMAGE_EXTENSIONS)})"
        )
    stems: dict[str, Path] = {}
    for p in files:
        if p.stem in stems:
            raise HarnessError(
                f"{p}: same name as {stems[p.stem].name}, both would be written as {p.stem}.png; rename one"
            )
        stems[p.stem] = p
    return files


def write_pair(stem: str, img: np.ndarray, out_dir: Path, source: Path | None = None) -> Path:
    """Write ``out_dir/HR/<stem>.png`` (``img`` cut to a multiple of 4) and its MATLAB-bicubic x4 LR."""
    out_dir = Path(out_dir)
    hr = modcrop(img, SCALE)
    if hr.shape[0] == 0 or hr.shape[1] == 0:
        raise HarnessError(
            f"{source or stem}: {img.shape[1]}×{img.shape[0]} pixels is too small; both sides must be at least {SCALE}"
        )
    hr_path = out_dir / "HR" / f"{stem}.png"
    write_png(hr_path, hr)  # write_png turns a failed write into a HarnessError naming the file
    write_png(out_dir / "LR_bicubic" / f"X{SCALE}" / f"{stem}x{SCALE}.png", downscale_x4(hr))
    return hr_path


MAX_PIXELS = 89_478_485
"""The largest image ``prepare`` decodes unless told otherwise: Pillow's own decompression-bomb bound (a 9,459 ×
9,459 image, 256 MiB as 8-bit RGB; DIV2K images are at most 2,040 pixels a side). A PNG of 20,000 × 20,000 fits
in a few hundred KB and would take 1.2 GB decoded, several times that while resized."""


def _check_pixels(path: Path, max_pixels: int) -> None:
    """``path``'s size from its header, before any decoding: more than ``max_pixels`` is one line naming the file
    and ``--max-pixels``."""
    size = image_size(path)
    if size is None and path.stat().st_size == 0:
        raise HarnessError(f"{path}: the file is empty; re-download or re-create it")
    if size is None:
        raise HarnessError(f"{path}: not an image whose size can be read (PNG, BMP, TIFF or JPEG); re-download or "
                           "re-create it")
    width, height = size
    if width * height > max_pixels:
        raise HarnessError(f"{path}: {width:,} × {height:,} = {width * height:,} pixels, over the bound of "
                           f"{max_pixels:,} checked before decoding; pass --max-pixels {width * height} if the image "
                           "is what you meant to prepare")


def prepare(hr_dir: Path, out_dir: Path, *, show_progress: bool = True, max_pixels: int = MAX_PIXELS) -> list[Path]:
    """Write ``out_dir/HR`` and ``out_dir/LR_bicubic/X4`` from the images in ``hr_dir``.

    ``out_dir`` is new, empty, or a set this command prepared before (:func:`benchmark.core.files.out_folder`);
    a folder holding anything else (an earlier data set made by other means, the input) is refused before any
    image is read. Every image's size is checked against ``max_pixels`` before it is decoded. The set is built in
    a hidden folder beside ``out_dir`` and renamed to ``out_dir`` only once every pair is written, so a failed or
    interrupted run leaves no half-built set that a run would take for the data (and an earlier set at
    ``out_dir`` as it was). Returns the HR paths written, in order; the LR of ``HR/<stem>.png`` is
    ``LR_bicubic/X4/<stem>x4.png``.
    """
    hr_dir, out_dir = Path(hr_dir), Path(out_dir)
    files = find_images(hr_dir)
    out = out_folder(out_dir, "--out", "benchmark.prepare", "choose a new or empty folder for HR/ and LR_bicubic/",
                     [("--hr", hr_dir)])
    for src in files:
        _check_pixels(src, max_pixels)
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]prepare[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not show_progress or not console.is_terminal,  # a log gets no bar, only the outcome's line
        transient=True,  # on a terminal too, a failed run's only output is its error line
    )
    with progress, out.building() as tmp:
        task = progress.add_task(escape(hr_dir.name), total=len(files))
        for src in files:
            write_pair(src.stem, read_image(src), tmp, source=src)
            progress.advance(task)
    return [out_dir / "HR" / f"{src.stem}.png" for src in files]
