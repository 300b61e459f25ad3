"""Which images a run evaluates: the official challenge layouts, benchmark folders, and the demo set.

A split is a name (the key prefix of the results file: ``valid``, ``test``, ``Set5`` …) and an
ordered list of HR/LR pairs. Every split is checked before any forward: each HR has its LR, and
the LR is exactly a quarter of the HR cut to a multiple of 4, so that a half-downloaded data set
fails in a second with the file's name instead of after an hour with a shape error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from benchmark.core.errors import HarnessError
from benchmark.core.years import DEFAULT_YEAR, YEARS, SplitLayout, get_year
from benchmark.data.folders import find_images, write_pair
from benchmark.imaging.images import IMAGE_EXTENSIONS, SCALE, png_header

OFFICIAL_SPLITS = ("valid", "test", "hybrid_test")
"""Split names of the official layouts; any other split is a benchmark folder named after itself."""
DEMO_IMAGES = ("astronaut", "chelsea", "coffee", "rocket")
"""Colour photographs shipped with scikit-image: a demo set that needs no download."""
DEMO_ROOT = Path(__file__).resolve().parents[2] / "results" / "demo_data"
BORDER = SCALE
"""Pixels the official metrics shave from every side of the HR (and SR) image."""
SSIM_WINDOW = 11
"""The official SSIM's Gaussian window: the shaved image must hold at least one window."""


@dataclass(frozen=True)
class ImagePair:
    name: str
    """The HR file's stem: the SR image is saved as ``<name>.png``."""
    hr: Path
    lr: Path


@dataclass(frozen=True)
class Split:
    name: str
    pairs: tuple[ImagePair, ...]
    folder: Path | None = None
    """The ``--dataset`` folder the split was read from (None for the official layouts and the demo set)."""


def _layout_split(data_dir: Path, name: str, layout: SplitLayout) -> Split:
    """One official split: numbered images (``0801.png`` … with the layout's LR suffix), or every HR ``*.png``
    with the LR at the HR's path with ``_HR`` → ``_LR`` and ``.png`` → ``x4.png``, as the official code globs them."""
    if layout.first is not None and layout.last is not None:
        pairs = tuple(ImagePair(f"{i:04}", data_dir / layout.hr / f"{i:04}.png",
                                data_dir / layout.lr / f"{i:04}{layout.lr_suffix}.png")
                      for i in range(layout.first, layout.last + 1))
        return Split(name, pairs)
    folder = data_dir / layout.hr
    if not folder.is_dir():
        raise HarnessError(f"{folder}: split folder not found; download the challenge data into --data_dir {data_dir}")
    pairs = tuple(
        ImagePair(hr.stem, hr, Path(str(hr).replace("_HR", "_LR").replace(".png", f"{layout.lr_suffix}.png")))
        for hr in sorted(folder.glob("*.png"))
    )
    return Split(name, pairs)


def official_splits(data_dir: str | Path, year: int = DEFAULT_YEAR, include_test: bool = False,
                    hybrid_test: bool = False) -> list[Split]:
    """``year``'s official splits under ``data_dir``, with the official flags' meaning.

    ``valid`` runs, and ``include_test`` adds ``test``; ``hybrid_test`` (2023 only) runs the
    LSDIR+DIV2K test set alone. Data laid out as another year's gets an error naming that year.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise HarnessError(f"{data_dir}: data folder not found; pass --data_dir with the challenge data, or --dataset PATH")
    if (data_dir / "HR").is_dir():
        raise HarnessError(f"--data_dir {data_dir}: a benchmark folder (it has HR/); pass it with --dataset {data_dir}")
    layouts = get_year(year).splits
    if hybrid_test:
        if "hybrid_test" not in layouts:
            raise HarnessError(f"--hybrid_test: {year} has no hybrid test split (only 2023 had); drop it")
        return [_layout_split(data_dir, "hybrid_test", layouts["hybrid_test"])]
    names = ["valid", "test"] if include_test else ["valid"]
    if not (data_dir / layouts["valid"].hr).is_dir():
        other = [y for y, record in YEARS.items() if (data_dir / record.splits["valid"].hr).is_dir()]
        if other:
            years = ", ".join(map(str, other))
            raise HarnessError(f"--data_dir {data_dir}: laid out as in {years} ({YEARS[other[-1]].splits['valid'].hr}), "
                               f"not as in {year} ({layouts['valid'].hr}); pass --year with one of {years}")
    return [_layout_split(data_dir, name, layouts[name]) for name in names]


def benchmark_split(path: str | Path) -> Split:
    """A folder in the benchmark layout: ``HR/<stem>.<ext>`` with ``LR_bicubic/X4/<stem>x4.png``."""
    path = Path(path)
    hr_dir = path / "HR"
    if not hr_dir.is_dir():
        raise HarnessError(f"{hr_dir}: not found; a --dataset folder needs HR/ and LR_bicubic/X4/ "
                           "(make them with python -m benchmark.prepare)")
    hrs = sorted(p for p in hr_dir.iterdir()
                 if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file())
    if hrs:  # one stem, one image (a.png and a.bmp would share the LR ax4.png and the SR a.png): prepare's rule
        hrs = find_images(hr_dir)
    pairs = tuple(ImagePair(hr.stem, hr, path / "LR_bicubic" / f"X{SCALE}" / f"{hr.stem}x{SCALE}.png") for hr in hrs)
    return Split(path.resolve().name, pairs, folder=path)


def find_split(path: str | Path, name: str, year: int = DEFAULT_YEAR) -> Split:
    """Split ``name`` as a run found it: ``path`` itself when it holds ``HR/``, else the official layouts under it.

    For tools that come after a run (submission, visual comparison) and are given the data again.
    """
    path = Path(path)
    if (path / "HR").is_dir():
        split = benchmark_split(path)
    elif name in OFFICIAL_SPLITS:
        found = official_splits(path, year, include_test=name == "test", hybrid_test=name == "hybrid_test")
        split = next(s for s in found if s.name == name)
    else:
        raise HarnessError(f"--data {path}: no HR/ folder, and {name} is not an official split; "
                           f"pass the {name} folder (with HR/ and LR_bicubic/X4/)")
    check_split(split)
    return split


def demo_split(root: Path = DEMO_ROOT) -> Split:
    """The embedded ``demo`` set, written once under ``root`` from scikit-image's bundled photographs."""
    from skimage import data as skdata

    for name in DEMO_IMAGES:
        if not (root / "HR" / f"{name}.png").is_file() or not (root / "LR_bicubic" / "X4" / f"{name}x4.png").is_file():
            write_pair(name, np.asarray(getattr(skdata, name)()), root)
    split = benchmark_split(root)
    return Split("demo", split.pairs)


def probe(path: Path) -> tuple[int, int]:
    """(width, height) from the file's header, refusing what ``images.read_image`` would refuse.

    Catches a half-downloaded or mislabelled data set before any forward: unreadable or truncated
    files (a PNG's chunks are checked to its end, a JPEG must end with its end-of-image marker),
    and 16-bit or floating-point pixels (see ``benchmark.imaging.images`` for why those are refused).
    """
    try:
        if path.stat().st_size == 0:
            raise HarnessError(f"{path}: the file is empty; re-download or re-create it")
        with Image.open(path) as img:
            size, mode, fmt = img.size, img.mode, img.format
            if fmt == "PNG":
                img.verify()
    except HarnessError:
        raise
    except Exception as err:  # noqa: BLE001 - whatever a damaged file makes the decoder raise, it is the file's fault
        raise HarnessError(f"{path}: not a readable image ({type(err).__name__}: {err}); re-download or re-create it") from None
    header = png_header(path) if fmt == "PNG" else None
    wide = header[2] == 16 if header else mode.startswith("I") or mode == "F"
    if wide:
        raise HarnessError(f"{path}: 16-bit or floating-point pixels; the challenge images are 8-bit: convert it to an "
                           "8-bit PNG")
    if fmt == "JPEG":
        with open(path, "rb") as f:
            f.seek(-2, 2)
            if f.read(2) != b"\xff\xd9":
                raise HarnessError(f"{path}: truncated JPEG (no end-of-image marker); re-download or re-create it")
    return size


def smallest_hr(ssim: bool = False) -> int:
    """The smallest HR side the official metrics can measure, cut to a multiple of 4: PSNR needs a pixel left
    inside the 4-pixel border (12), SSIM an 11×11 window (2·4 + 11 = 19, so 20)."""
    need = 2 * BORDER + (SSIM_WINDOW if ssim else 1)
    return -(-need // SCALE) * SCALE


def check_split(split: Split, ssim: bool = False) -> list[tuple[int, int]]:
    """Raise a HarnessError naming the first file that breaks the pairing rules, or is too small to measure
    (PSNR, and SSIM when ``ssim``); returns each LR's (width, height) in the split's order."""
    if not split.pairs:
        raise HarnessError(f"split {split.name}: no HR images found; check the data folder")
    least, metric = smallest_hr(ssim), "SSIM" if ssim else "PSNR"
    sizes = []
    for pair in split.pairs:
        if not pair.hr.is_file():
            raise HarnessError(f"{pair.hr}: HR image missing (its LR is {pair.lr}); complete the download")
        if not pair.lr.is_file():
            raise HarnessError(f"{pair.lr}: LR image missing for {pair.hr}; add it or run python -m benchmark.prepare")
        (hw, hh), (lw, lh) = probe(pair.hr), probe(pair.lr)
        expected = (hw - hw % SCALE, hh - hh % SCALE)
        if min(expected) < least:
            raise HarnessError(
                f"{pair.hr}: HR {hw}×{hh} is too small for the official {metric} (a {BORDER}-pixel border is shaved"
                f"{f', then an {SSIM_WINDOW}×{SSIM_WINDOW} window' if ssim else ''}); the smallest HR is {least}×{least} "
                f"(LR {least // SCALE}×{least // SCALE}): drop the image or use larger ones"
            )
        if (lw * SCALE, lh * SCALE) != expected:
            raise HarnessError(
                f"{pair.lr}: LR is {lw}×{lh}, so ×{SCALE} gives {lw * SCALE}×{lh * SCALE}, but its HR {pair.hr.name} "
                f"is {hw}×{hh} ({expected[0]}×{expected[1]} cut to a multiple of {SCALE}); re-create the LR"
            )
        sizes.append((lw, lh))
    return sizes


def gather_splits(datasets: Iterable[str | Path], data_dir: str | Path | None, year: int | None,
                  include_test: bool = False, hybrid_test: bool = False) -> list[Split]:
    """The splits a run evaluates: the ``datasets`` folders, then ``year``'s official splits under ``data_dir``, or
    the demo set when neither is given. Not yet checked: see ``check_split`` and ``record.keys.check_split_names``."""
    splits = [benchmark_split(path) for path in datasets]
    if data_dir is not None:
        if year is None:
            raise HarnessError("--data_dir reads a year's official layout; add --year")
        splits += official_splits(data_dir, year, include_test, hybrid_test)
    return splits or [demo_split()]
