"""What a run shows while it runs: a progress bar per split, and one log line per image of each run."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from benchmark.data.splits import Split
from benchmark.measure.loop import ImageResult
from benchmark.measure.stats import spread


def image_line(split: str, run: int, result: ImageResult) -> str:
    """One image of one run, as the logs keep it: ``Set5 baby run 1 runtime 70.12 ms psnr 32.2519``."""
    psnr = "n/a" if result.psnr is None else f"{result.psnr:.4f}"
    return (f"{split} {result.name} run {run + 1} runtime {result.runtime_ms:.2f} ms psnr {psnr}"
            f"{' (tiled)' if result.tiled else ''}")


class ProgressBars:
    """A progress bar per split on ``console``: running PSNR, and the running mean ms/image (the official figure)
    beside its median and interquartile range."""

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
        mean, middle = sum(self.ms[split]) / len(self.ms[split]), spread(self.ms[split])
        self.progress.update(self.tasks[split], advance=1, info=f"{running}{mean:.1f} ms/image mean, median "
                             f"{middle['median']:.1f}, IQR {middle['q25']:.1f}–{middle['q75']:.1f}")

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
