"""Visual crops for the model pages: one window of one image of each split, from bicubic, the model and HR.

Only a model whose record says it saved SR images (``{split}_saved``: the folder and each file's sha256) has
crops, and only the very files its run wrote are shown (sha256 checked). The HR and LR come from ``--data``,
which the records do not name; the window is the one with the most HR detail (``plots.detail_crop``), the same
for every model of a split so that the crops compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from benchmark.core.errors import HarnessError
from benchmark.core.files import sha256_of
from benchmark.data.splits import ImagePair, find_split
from benchmark.imaging.images import SCALE, modcrop, read_image, write_png
from benchmark.rank.plots import detail_crop
from benchmark.record.keys import ordered_splits
from benchmark.report.results_txt import format_cell
from benchmark.web.inputs import Standing
from benchmark.web.markup import esc, file_stem, notes

SIZE = 96
"""The window's side in HR pixels: shown at twice its size, pixel for pixel."""
FOLDER = "crops"
"""Each model's crops; the bicubic and HR crops, shared by every model, in its ``data`` folder."""


@dataclass
class _Shared:
    """One split's image: its pair, the window, and the bicubic and HR crops written once for every model."""

    pair: ImagePair
    hr: np.ndarray
    window: tuple[int, int, int]
    files: dict[str, str]


def _pair(data: list[Path], split: str, image_names: list[str], year: int) -> ImagePair | None:
    """The first of ``image_names`` found in split ``split`` of one of the ``--data`` folders."""
    for path in data:
        if (path / "HR").is_dir() and path.name != split:
            continue
        try:
            pairs = {p.name: p for p in find_split(path, split, year).pairs}
        except HarnessError:
            continue
        found = next((pairs[n] for n in image_names if n in pairs), None)
        if found is not None:
            return found
    return None


def _shared(split: str, pair: ImagePair, out: Path) -> _Shared:
    hr = modcrop(read_image(pair.hr), SCALE)
    size = min(SIZE, *hr.shape[:2])
    x, y = detail_crop(hr, size)
    lr = read_image(pair.lr)
    bicubic = cv2.resize(lr, (lr.shape[1] * SCALE, lr.shape[0] * SCALE), interpolation=cv2.INTER_CUBIC)
    files = {}
    for label, img in (("bicubic", bicubic), ("HR", hr)):
        stem = file_stem(f"{split}_{pair.name}_{label}")
        write_png(out / FOLDER / "data" / f"{stem}.png", img[y:y + size, x:x + size])
        files[label] = f"{FOLDER}/data/{stem}.png"
    return _Shared(pair, hr, (x, y, size), files)


def _figure(src: str, caption: str) -> str:
    return (f'<figure><img src="../{esc(src)}" alt="{esc(caption)}" width="{2 * SIZE}" height="{2 * SIZE}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def write(standing: Standing, data: list[Path], out: Path, stems: dict[str, str]) -> dict[str, str]:
    """Each model's visual comparison as HTML for its page (in ``teams/``), writing the crops under ``out``;
    ``stems`` names each model's files. A model without saved SR images, or without ``--data``, gets one line
    saying so."""
    shared: dict[str, _Shared | None] = {}
    html = {}
    for team, entry in standing.entries.items():
        parts, why = [], []
        for split in (s for s in ordered_splits([entry]) if isinstance(entry.get(f"{s}_saved"), dict)):
            saved, names = entry[f"{split}_saved"], entry.get(f"{split}_images") or []
            if split not in shared:
                pair = _pair(data, split, names, standing.year)
                shared[split] = None if pair is None else _shared(split, pair, out)
            common = shared[split]
            if common is None:
                why.append(f"{split}: its HR and LR images are not in --data"
                           if data else f"{split}: SR images saved; pass --data (the split's folder) to show crops")
                continue
            image = Path(str(saved.get("dir", ""))) / f"{common.pair.name}.png"
            expected = (saved.get("sha256") or {}).get(common.pair.name)
            if not image.is_file() or sha256_of(image) != expected:
                why.append(f"{split}: {image} is {'not the file its run wrote' if image.is_file() else 'missing'}")
                continue
            sr = read_image(image)
            x, y, size = common.window
            if sr.shape != common.hr.shape:
                why.append(f"{split}: {image} is not the size of the HR in --data")
                continue
            crop = file_stem(f"{stems[team]}_{split}")
            write_png(out / FOLDER / f"{crop}.png", sr[y:y + size, x:x + size])
            scores = dict(zip(names, entry.get(f"{split}_psnr") or []))
            psnr = format_cell(scores.get(common.pair.name), ".2f")
            parts.append(f"<h3>{esc(split)}: {esc(common.pair.name)}, window ({x}, {y}), {size}×{size} HR pixels</h3>"
                         f'<div class="crops">{_figure(common.files["bicubic"], "bicubic (cv2, from the LR)")}'
                         f'{_figure(f"{FOLDER}/{crop}.png", f"{team}: {psnr} dB on the whole image")}'
                         f'{_figure(common.files["HR"], "HR")}</div>')
        if not parts and not why:
            why.append("its record names no saved SR images (test_demo.py and the sweep keep them with --save_dir)")
        html[team] = "".join(parts) + notes(why)
    return html
