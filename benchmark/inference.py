"""Run a model over a split: tiled forward, synchronised timing, peak memory, and a loop that keeps it busy.

The official loop reads, runs, scores and saves each image in turn, so the model waits for the disk
and for the metrics. Here the main thread only uploads, runs and times the forward; reader threads
decode the next images and post-processing threads quantise, score and save the previous outputs
(NumPy and OpenCV release the GIL). On CUDA the output is quantised and scored on the device right
after the timed forward, outside the CUDA events, so nothing else is queued between the events.
The figures are the official ones; only the waiting is gone. ``wall_seconds`` (first image read
to last image written) against the summed forward times shows what the loop still costs.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from benchmark import host, metrics
from benchmark.data import ImagePair, Split
from benchmark.errors import HarnessError
from benchmark.images import SCALE, modcrop, quantize, read_image, to_tensor, to_uint8, write_png

TILE_OVERLAP = 32
PREFETCH = 3
"""Images decoded ahead of the forward."""
MAX_PENDING = 4
"""Outputs waiting for post-processing before the forward loop waits for them (bounds memory)."""


@dataclass(frozen=True)
class RunOptions:
    device: torch.device
    data_range: float = 255.0
    score: bool = True
    """False when the model has no checkpoint: forwards are timed, nothing is scored or saved."""
    ssim: bool = False
    y_channel: bool = False
    tile: int | None = None
    warmup: int = 3
    repeat: int = 1
    save_dir: Path | None = None
    """Folder for this split's SR images (``<save_dir>/<model>/<split>``), or None to save nothing."""


@dataclass
class ImageResult:
    name: str
    runtime_ms: float
    """Median of the ``repeat`` timed forwards of this image."""
    psnr: float | None = None
    ssim: float | None = None
    psnr_y: float | None = None
    ssim_y: float | None = None
    tiled: bool = False
    saved_sha256: str | None = None
    """The sha256 of the SR image file this run wrote, when it saved one."""


@dataclass
class SplitResult:
    split: str
    images: list[ImageResult]
    memory_mib: float
    """The split's own peak: around the forwards on CUDA (as in the official loop), the process's RSS on CPU."""
    memory_kind: str
    wall_seconds: float
    clock: str
    save_dir: Path | None = None
    forward_seconds: float = field(init=False)

    def __post_init__(self) -> None:
        self.forward_seconds = sum(r.runtime_ms for r in self.images) / 1000

    @property
    def saved(self) -> dict[str, Any] | None:
        """Where this run wrote its SR images and each file's sha256: what ``submit`` may package."""
        if self.save_dir is None:
            return None
        return {"dir": str(self.save_dir), "sha256": {r.name: r.saved_sha256 for r in self.images}}


def forward(model: nn.Module, lr: torch.Tensor, tile: int | None = None, overlap: int = TILE_OVERLAP) -> torch.Tensor:
    """The official ``forward``: whole image, or overlapping ``tile``×``tile`` patches averaged."""
    if tile is None:
        return model(lr)
    if tile <= overlap:
        raise HarnessError(f"--tile {tile}: tiles must be larger than their {overlap}-pixel overlap")
    b, c, h, w = lr.shape
    tile = min(tile, h, w)
    stride = max(tile - overlap, 1)  # an image smaller than a tile is one tile
    h_starts = list(range(0, h - tile, stride)) + [h - tile]
    w_starts = list(range(0, w - tile, stride)) + [w - tile]
    total = torch.zeros(b, c, h * SCALE, w * SCALE, dtype=lr.dtype, device=lr.device)
    weight = torch.zeros_like(total)
    for top in h_starts:
        for left in w_starts:
            out = model(lr[..., top : top + tile, left : left + tile])
            rows = slice(top * SCALE, (top + tile) * SCALE)
            cols = slice(left * SCALE, (left + tile) * SCALE)
            total[..., rows, cols].add_(out)
            weight[..., rows, cols].add_(1)
    return total.div_(weight)


class PeakMemory:
    """Peak memory over a split: CUDA ``max_memory_allocated``, or the process's peak RSS on CPU.

    On CUDA only the forwards count, as in the official loop, which scores on the host: the peak is
    read after each forward and reset before the next, so the harness's on-device scoring (float64
    copies of SR and HR) never inflates the figure.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.kind = "cuda_max_memory_allocated" if device.type == "cuda" else "cpu_peak_rss"
        self.peak = 0

    def reset(self) -> None:
        if self.device.type == "cuda":
            self.peak = 0
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        host.release_freed_memory()  # memory kept from earlier work would count in this split's peak
        try:  # Linux: writing 5 resets the VmHWM high-water mark of this process
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass

    def after_forward(self) -> None:
        """Keep the forward's peak (CUDA) and start afresh, so what follows the forward is not counted."""
        if self.device.type == "cuda":
            self.peak = max(self.peak, torch.cuda.max_memory_allocated(self.device))
            torch.cuda.reset_peak_memory_stats(self.device)

    def read_mib(self) -> float:
        if self.device.type == "cuda":
            return max(self.peak, torch.cuda.max_memory_allocated(self.device)) / 1024**2
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pick_device(name: str) -> torch.device:
    """``auto`` (CUDA when there is one), ``cpu``, ``cuda`` or ``cuda:N``; a HarnessError for an absent GPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise HarnessError(f"--device {name}: no CUDA device is available here; use --device cpu")
    return device


def timed(fn: Callable[[], torch.Tensor], device: torch.device) -> tuple[torch.Tensor, float]:
    """Run ``fn`` once; milliseconds from CUDA events (then synchronise), or ``perf_counter`` on CPU."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        out = fn()
        end.record()
        torch.cuda.synchronize(device)
        return out, start.elapsed_time(end)
    begin = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - begin) * 1000


def _read(pair: ImagePair, score: bool) -> tuple[np.ndarray, np.ndarray | None]:
    lr = read_image(pair.lr)
    return lr, modcrop(read_image(pair.hr), SCALE) if score else None


def _scores(sr, hr, opts: RunOptions, on_device: bool) -> dict[str, float]:
    """Official PSNR (and SSIM, Y-channel figures) of one image, on the device or on the host."""
    psnr, ssim, to_y = (metrics.psnr_torch, metrics.ssim_torch, metrics.rgb_to_y_torch) if on_device else (
        metrics.psnr, metrics.ssim, metrics.rgb_to_y)
    out = {"psnr": psnr(sr, hr, SCALE)}
    if opts.ssim:
        out["ssim"] = ssim(sr, hr, SCALE)
    if opts.y_channel:
        sr_y, hr_y = to_y(sr), to_y(hr)
        out["psnr_y"] = psnr(sr_y, hr_y, SCALE)
        if opts.ssim:
            out["ssim_y"] = ssim(sr_y, hr_y, SCALE)
    return out


def _post_cpu(out: torch.Tensor, hr: np.ndarray, pair: ImagePair, opts: RunOptions) -> dict[str, Any]:
    """Quantise, score and save one output on a worker thread (host path)."""
    sr = to_uint8(out, opts.data_range)
    figures: dict[str, Any] = _scores(sr, hr, opts, on_device=False)
    if opts.save_dir is not None:
        figures["saved_sha256"] = write_png(opts.save_dir / f"{pair.name}.png", sr)
    return figures


def _save(path: Path, sr: np.ndarray) -> dict[str, Any]:
    return {"saved_sha256": write_png(path, sr)}


def _check_output(out: torch.Tensor, lr: torch.Tensor, pair: ImagePair) -> None:
    expected = (lr.shape[0], 3, lr.shape[2] * SCALE, lr.shape[3] * SCALE)
    if tuple(out.shape) != expected:
        raise HarnessError(f"{pair.lr}: the model returned {tuple(out.shape)} for input {tuple(lr.shape)}; "
                           f"an x{SCALE} model must return {expected}")
    if not bool(torch.isfinite(out).all()):
        raise HarnessError(f"{pair.lr}: the model output holds NaN or Inf; check the checkpoint and the data range")


class _Runner:
    """The forward of one image: warm-up, repeats, and a tiled retry when CUDA runs out of memory."""

    def __init__(self, model: nn.Module, opts: RunOptions, memory: PeakMemory) -> None:
        self.model, self.opts, self.memory = model, opts, memory

    def run(self, lr: torch.Tensor, pair: ImagePair) -> tuple[torch.Tensor, float, bool]:
        """Median time of ``repeat`` forwards; on CUDA out of memory, retry in tiles half as large each time."""
        tile = self.opts.tile
        while True:
            try:
                times = []
                for _ in range(max(self.opts.repeat, 1)):
                    with torch.inference_mode():
                        out, ms = timed(lambda: forward(self.model, lr, tile), self.opts.device)
                    self.memory.after_forward()
                    times.append(ms)
                return out, statistics.median(times), tile is not None
            except torch.cuda.OutOfMemoryError:
                if self.opts.device.type == "cuda":
                    torch.cuda.empty_cache()
                tile = (min(lr.shape[-2:]) if tile is None else min(tile, *lr.shape[-2:])) // 2
                if tile <= TILE_OVERLAP:
                    raise HarnessError(f"{pair.lr}: CUDA out of memory even in {2 * tile}-pixel tiles; "
                                       "free the GPU or run on another device") from None

    def warm_up(self, pair: ImagePair) -> None:
        """Untimed forwards on the split's first image (with the same out-of-memory fallback)."""
        if self.opts.warmup <= 0:
            return
        lr = to_tensor(read_image(pair.lr), self.opts.data_range).to(self.opts.device)
        for _ in range(self.opts.warmup):
            self.run(lr, pair)


def evaluate(model: nn.Module, split: Split, opts: RunOptions,
             on_image: Callable[[int, ImageResult], None] | None = None) -> SplitResult:
    """Run ``model`` over ``split`` (already checked with ``data.check_split``) and score every image.

    ``on_image(index, result)`` is called in image order as each image is finished (progress bars).
    """
    device = opts.device
    on_device = device.type == "cuda"
    memory = PeakMemory(device)
    runner = _Runner(model, opts, memory)
    memory.reset()  # before the warm-up: on CPU it trims the heap, which the warm-up then faults back in
    runner.warm_up(split.pairs[0])
    readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="read")
    workers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="post")
    results: list[ImageResult] = []
    pending: deque[tuple[ImageResult, Future | None]] = deque()

    def finish_oldest() -> None:
        result, future = pending.popleft()
        for key, value in (future.result() if future is not None else {}).items():
            setattr(result, key, value)
        results.append(result)
        if on_image is not None:
            on_image(len(results) - 1, result)

    try:
        begin = time.perf_counter()
        reads = deque(readers.submit(_read, pair, opts.score) for pair in split.pairs[:PREFETCH])
        for index, pair in enumerate(split.pairs):
            lr_img, hr_img = reads.popleft().result()
            if index + PREFETCH < len(split.pairs):
                reads.append(readers.submit(_read, split.pairs[index + PREFETCH], opts.score))
            lr = to_tensor(lr_img, opts.data_range).to(device)
            out, ms, tiled = runner.run(lr, pair)
            _check_output(out, lr, pair)
            result = ImageResult(pair.name, ms, tiled=tiled)
            if not opts.score:  # timing only: nothing to quantise, score or save
                pending.append((result, None))
            elif on_device:
                sr = quantize(out, opts.data_range)
                for key, value in _scores(sr, torch.from_numpy(hr_img).to(device), opts, on_device=True).items():
                    setattr(result, key, value)
                saved = None if opts.save_dir is None else \
                    workers.submit(_save, opts.save_dir / f"{pair.name}.png", sr.cpu().numpy())
                pending.append((result, saved))
                del sr  # nothing of this image may stay on the device during the next forward
            else:
                pending.append((result, workers.submit(_post_cpu, out.cpu(), hr_img, pair, opts)))
            del out
            while len(pending) > MAX_PENDING or (pending and (pending[0][1] is None or pending[0][1].done())):
                finish_oldest()
        while pending:
            finish_oldest()
        wall = time.perf_counter() - begin
    finally:
        readers.shutdown(wait=True, cancel_futures=True)
        workers.shutdown(wait=True, cancel_futures=True)
    return SplitResult(split.name, results, memory.read_mib(), memory.kind, wall,
                       "cuda_events" if on_device else "cpu_perf_counter", opts.save_dir)
