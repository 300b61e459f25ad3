"""Build a benchmark folder (HR plus MATLAB-bicubic x4 LR) from a folder of high-resolution images.

    python -m benchmark.prepare --hr DIR --out OUT

writes ``OUT/HR/<stem>.png`` (the image cut to a multiple of 4) and
``OUT/LR_bicubic/X4/<stem>x4.png`` (``imresize(HR, 1/4, 'bicubic')`` as MATLAB computes it), the
layout of the official benchmark sets. Images are written as 3-channel RGB PNG; a grayscale source
gives three equal channels, whose LR equals the LR of the gray image.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from benchmark.errors import HarnessError
from benchmark.images import IMAGE_EXTENSIONS, SCALE, modcrop, read_image, write_png
from benchmark.imresize import downscale_x4


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


def prepare(hr_dir: Path, out_dir: Path, *, show_progress: bool = True) -> list[Path]:
    """Write ``out_dir/HR`` and ``out_dir/LR_bicubic/X4`` from the images in ``hr_dir``.

    Returns the HR paths written, in order; the LR of ``HR/<stem>.png`` is
    ``LR_bicubic/X4/<stem>x4.png``.
    """
    hr_dir, out_dir = Path(hr_dir), Path(out_dir)
    files = find_images(hr_dir)
    if (out_dir / "HR").resolve() == hr_dir.resolve():
        raise HarnessError(f"{out_dir}: its HR folder is the input folder itself; choose another --out")
    written: list[Path] = []
    progress = Progress(
        TextColumn("[bold]prepare[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not show_progress,
        transient=False,
    )
    with progress:
        task = progress.add_task(hr_dir.name, total=len(files))
        for src in files:
            written.append(write_pair(src.stem, read_image(src), out_dir, source=src))
            progress.advance(task)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 on a user mistake)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.prepare",
        description="Make HR/ and LR_bicubic/X4/ (MATLAB bicubic x4) from a folder of HR images.",
    )
    parser.add_argument("--hr", required=True, type=Path, help="folder of high-resolution images")
    parser.add_argument("--out", required=True, type=Path, help="output folder (HR/ and LR_bicubic/X4/)")
    args = parser.parse_args(argv)
    try:
        written = prepare(args.hr, args.out)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} HR/LR pairs to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
