"""One model's evaluation as the organizers run it: every split, ``runs`` times, each split recorded when complete.

``test_demo.py`` (this project's teams) and the sweep worker (a challenge repository's teams, or
this project's in their own process) both measure through here, so a team's figures do not depend
on how it was started.

Repeated runs follow the organizers' protocol since 2024 (five runs, the mean reported): each split
is timed ``runs`` times in a row; the first run is also scored and saved (the outputs do not change
between runs, the timings do). Memory follows the official loop too: the official key is the peak
never reset since the model's first split, so a later split's figure includes the earlier ones'.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn

from benchmark.data.splits import Split
from benchmark.measure.loop import ImageResult, RunOptions, SplitResult, evaluate
from benchmark.record.entry import split_entry


@dataclass(frozen=True)
class Settings:
    """How every split of a run is measured (the same for every model of the run)."""

    device: torch.device
    runs: int = 1
    warmup: int = 3
    repeat: int = 1
    ssim: bool = False
    y_channel: bool = False
    tile: int | None = None
    save_dir: Path | None = None
    """SR images go to ``save_dir/<model>/<split>/``; None saves nothing."""


OnImage = Callable[[str, int, ImageResult], None]
"""``on_image(split, run, result)``, called as each image of each run is finished."""
OnSplit = Callable[[str, dict[str, Any]], None]
"""``on_split(split, keys)``, called with a split's results keys once all its runs are complete."""


def run_splits(model: nn.Module, name: str, data_range: float, splits: list[Split], settings: Settings,
               scored: bool, on_image: OnImage | None = None, on_split: OnSplit | None = None) -> dict[str, dict]:
    """Evaluate ``model`` on every split ``settings.runs`` times; returns split name → its results keys.

    ``scored`` is False for a model without weights: it is timed, never scored or saved.
    """
    official_memory = 0.0
    recorded: dict[str, dict[str, Any]] = {}
    for split in splits:
        runs: list[SplitResult] = []
        for run in range(settings.runs):
            first = run == 0
            save_dir = settings.save_dir / name / split.name if settings.save_dir and scored and first else None
            opts = RunOptions(device=settings.device, data_range=data_range, score=scored and first,
                              ssim=settings.ssim, y_channel=settings.y_channel, tile=settings.tile,
                              warmup=settings.warmup, repeat=settings.repeat, save_dir=save_dir, model_name=name)
            report = None if on_image is None else (lambda i, r, s=split.name, k=run: on_image(s, k, r))
            runs.append(evaluate(model, split, opts, report))
        official_memory = max(official_memory, *(r.memory_mib for r in runs))
        recorded[split.name] = split_entry(runs, official_memory, settings.warmup, settings.repeat)
        if on_split is not None:
            on_split(split.name, recorded[split.name])
    return recorded


def image_line(split: str, run: int, result: ImageResult) -> str:
    """One image of one run, as the logs keep it: ``Set5 baby run 1 runtime 70.12 ms psnr 32.2519``."""
    psnr = "n/a" if result.psnr is None else f"{result.psnr:.4f}"
    return (f"{split} {result.name} run {run + 1} runtime {result.runtime_ms:.2f} ms psnr {psnr}"
            f"{' (tiled)' if result.tiled else ''}")


class ProgressBars:
    """A progress bar per split on ``console``: running PSNR and the running mean ms/image, as the table will show."""

    def __init__(self, console: Console, splits: list[Split], runs: int) -> None:
        self.console, self.sizes, self.runs = console, {s.name: len(s.pairs) for s in splits}, runs
        self.progress: Progress | None = None
        self.tasks: dict[str, Any] = {}
        self.psnr: dict[str, list[float]] = {}
        self.ms: dict[str, list[float]] = {}

    def __call__(self, split: str, run: int, result: ImageResult) -> None:
        if self.progress is None:
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.fields[info]}"), TimeElapsedColumn())
            self.progress = Progress(*columns, console=self.console, transient=False)
            self.progress.start()
        if split not in self.tasks:
            label = split if self.runs == 1 else f"{split} ×{self.runs} runs"
            self.tasks[split] = self.progress.add_task(label, total=self.sizes[split] * self.runs, info="")
            self.psnr[split], self.ms[split] = [], []
        if result.psnr is not None:
            self.psnr[split].append(result.psnr)
        self.ms[split].append(result.runtime_ms)
        psnr = self.psnr[split]
        running = f"PSNR {sum(psnr) / len(psnr):.2f} dB  " if psnr else ""
        mean = sum(self.ms[split]) / len(self.ms[split])
        self.progress.update(self.tasks[split], advance=1, info=f"{running}{mean:.1f} ms/image (mean)")

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
