"""Figures of the leaderboard as PNG: the PSNR/efficiency trade-off, and one image's crop model by model.

Drawn on matplotlib ``Figure`` objects with the Agg canvas, never through ``pyplot``: no global
backend state, no window, safe on a machine without a display and in tests.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from benchmark.core.errors import HarnessError
from benchmark.core.years import get_year
from benchmark.imaging.images import SCALE, modcrop
from benchmark.imaging.metrics import psnr
from benchmark.rank.board import measured_on
from benchmark.rank.scoring import floor_columns

_AXES = {"ave": ("average runtime [ms, {where}]", "psnr_vs_runtime.png"), "flops": ("FLOPs [G, {counter}]", "psnr_vs_flops.png")}


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # a name in a script the font lacks is drawn as boxes; the tables have it whole
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        FigureCanvasAgg(fig).print_png(str(path))
    return path


def _literal(text: object) -> str:
    """``text`` drawn as written: matplotlib reads ``$…$`` as mathematics (and fails on what does not parse)."""
    return str(text).replace("$", r"\$")


def tradeoff_plots(board: pd.DataFrame, year: int, out_dir: str | Path, baseline: str | None = None) -> list[Path]:
    """``psnr_vs_runtime.png`` and ``psnr_vs_flops.png``: one panel per PSNR column, marker area by parameters.

    The baseline is drawn in red, and each panel carries ``year``'s PSNR floor when that column has
    one; the FLOPs axis names ``year``'s counter. Rows without PSNR (no checkpoint) are left out; with
    no PSNR at all nothing is written.
    """
    floors = floor_columns(year)
    counter = get_year(year).flops_counter
    columns = [c for c in board.columns if c.endswith("_psnr") and board[c].notna().any()]
    if not columns:
        return []
    area = 600 * board["params"] / board["params"].max()
    is_base = board["team"].astype(str) == baseline
    written = []
    for x, (label, filename) in _AXES.items():
        label = label.format(counter=counter, where=measured_on(board, year))
        fig = Figure(figsize=(max(6 * len(columns), 7), 5), layout="constrained")
        for ax, col in zip(fig.subplots(1, len(columns), squeeze=False)[0], columns):
            shown = board[col].notna()
            ax.scatter(board.loc[shown, x], board.loc[shown, col], s=area[shown], alpha=0.55,
                       c=np.where(is_base[shown], "tab:red", "tab:blue"), edgecolors="black", linewidths=0.5)
            for team, xv, yv, base in zip(board.loc[shown, "team"], board.loc[shown, x], board.loc[shown, col],
                                          is_base[shown]):
                ax.annotate(_literal(team), (xv, yv), xytext=(4, 3), textcoords="offset points", fontsize=6,
                            fontweight="bold" if base else "normal", color="tab:red" if base else "black")
            if col in floors:
                ax.axhline(floors[col], color="gray", linestyle="--", linewidth=1,
                           label=f"NTIRE {year} floor {floors[col]:.2f} dB")
                ax.legend(loc="lower right", fontsize=7)
            values = board.loc[shown, x]
            if values.min() > 0 and values.max() / values.min() > 10:
                ax.set_xscale("log")
                ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
                ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(label)
            ax.set_ylabel(f"PSNR[{col.removesuffix('_psnr')}] [dB]")
            ax.margins(x=0.12, y=0.08)  # room for the labels of the outermost markers
            ax.grid(alpha=0.3)
        base_text = f", baseline {_literal(baseline)} in red" if baseline else ""
        fig.suptitle(f"PSNR against {label}\nmarker area ∝ parameters "
                     f"(largest {board['params'].max():.3f} M){base_text}", fontsize=10)
        written.append(_save(fig, Path(out_dir) / filename))
    return written


def detail_crop(hr: np.ndarray, size: int) -> tuple[int, int]:
    """(x, y) of the ``size``×``size`` window with the most HR detail: the largest sum of |Laplacian| of gray.

    Where the models differ is in texture and edges; a flat window would show them all alike.
    """
    gray = cv2.cvtColor(hr, cv2.COLOR_RGB2GRAY).astype(np.float64)
    detail = np.abs(cv2.Laplacian(gray, cv2.CV_64F))
    integral = cv2.integral(detail)
    sums = (integral[size:, size:] - integral[:-size, size:] - integral[size:, :-size] + integral[:-size, :-size])
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(x), int(y)


def check_visual(hr: np.ndarray, lr: np.ndarray, sr: dict[str, np.ndarray],
                 crop: tuple[int, int, int] | None = None) -> None:
    """A HarnessError unless every SR image and the bicubic of ``lr`` have the HR's size (cut to a multiple of
    4) and ``crop`` lies inside it: what :func:`visual_comparison` needs, checked before anything is drawn."""
    height, width = modcrop(hr, SCALE).shape[:2]
    shapes = {"bicubic": (lr.shape[0] * SCALE, lr.shape[1] * SCALE, *lr.shape[2:]),
              **{label: img.shape for label, img in sr.items()}}
    for label, shape in shapes.items():
        if tuple(shape) != (height, width, *hr.shape[2:]):
            raise HarnessError(f"{label}: its image is {shape[1]}×{shape[0]} but the HR is {width}×{height}; "
                               "pass the --data the run used")
    if crop is not None:
        x, y, size = crop
        if size <= 0 or x < 0 or y < 0 or x + size > width or y + size > height:
            raise HarnessError(f"--crop {x},{y},{size}: outside the {width}×{height} HR; choose x + size ≤ {width}, "
                               f"y + size ≤ {height}")


def visual_comparison(hr: np.ndarray, lr: np.ndarray, sr: dict[str, np.ndarray], out: str | Path, title: str,
                      crop: tuple[int, int, int] | None = None) -> Path:
    """One crop of bicubic (cv2, from the LR), each model's SR and the HR side by side, each with its PSNR.

    ``crop`` is (x, y, size) in HR pixels; by default the ``min(128, H, W)`` window with the most
    detail. The PSNR is the whole image's, as the official metric computes it; a first panel shows
    where the crop lies.
    """
    check_visual(hr, lr, sr, crop)
    hr = modcrop(hr, SCALE)
    height, width = hr.shape[:2]
    bicubic = cv2.resize(lr, (lr.shape[1] * SCALE, lr.shape[0] * SCALE), interpolation=cv2.INTER_CUBIC)
    panels = {"bicubic": bicubic, **sr}
    if crop is None:
        size = min(128, height, width)
        x, y = detail_crop(hr, size)
    else:
        x, y, size = crop
    labelled = [(f"{_literal(label)}\n{psnr(img, hr):.2f} dB", img) for label, img in panels.items()]
    labelled.append(("HR\n(reference)", hr))
    fig = Figure(figsize=(2.4 * (len(labelled) + 1), 3.0), layout="constrained")
    axes = fig.subplots(1, len(labelled) + 1)
    axes[0].imshow(hr)
    axes[0].add_patch(Rectangle((x, y), size, size, fill=False, edgecolor="red", linewidth=1.5))
    axes[0].set_title(f"HR, crop at ({x}, {y})", fontsize=8)
    for ax, (label, img) in zip(axes[1:], labelled):
        ax.imshow(img[y:y + size, x:x + size], interpolation="nearest")
        ax.set_title(label, fontsize=8)
    for ax in axes:
        ax.set_axis_off()
    fig.suptitle(_literal(title), fontsize=10)
    return _save(fig, Path(out))
