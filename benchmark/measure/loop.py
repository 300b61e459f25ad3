"""Run a model over a split once: tiled forward, timed and measured through the backend, and a loop that keeps it busy.

The official loop reads, runs, scores and saves each image in turn, so the model waits for the disk
and for the metrics. Here the main thread only uploads, runs and times the forward; reader threads
decode the next images and post-processing threads quantise, score and save the previous outputs
(NumPy and OpenCV release the GIL). On CUDA the output is quantised and scored on the device right
after the timed forward, outside the CUDA events, so nothing else is queued between the events.
The figures are the official ones; only the waiting is gone. ``wall_seconds`` (first image read
to last image written) against the summed forward times shows what the loop still costs.
"""

from __future__ import annotations

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

from benchmark.core.errors import HarnessError, plain
from benchmark.data.splits import ImagePair, Split
from benchmark.imaging import metrics
from benchmark.imaging.images import SCALE, modcrop, quantize, read_image, to_tensor, to_uint8, write_png
from benchmark.measure.backend import Backend, PeakMemory, Unavailable, first_line, out_of_memory
from benchmark.measure.settings import Settings

TILE_OVERLAP = 32
PREFETCH = 3
"""Images decoded ahead of the forward."""
MAX_PENDING = 4
"""Outputs waiting for post-processing before the forward loop waits for them (bounds memory)."""
PROBE_LIMIT = 128
"""A forward that fails on an LR whose shorter side is below this is probed for the model's smallest input."""


@dataclass
class ImageResult:
    name: str
    runtime_ms: float
    """Median of the ``repeat`` timed forwards of this image."""
    scores: dict[str, float] = field(default_factory=dict)
    """Each scored metric (``imaging.metrics.METRICS`` keys); empty when the run is timed only."""
    tiled: bool = False
    saved_sha256: str | None = None
    """The sha256 of the SR image file this run wrote, when it saved one."""
    difference: float | None = None
    """Compared with the FP32 eager reference: the largest absolute difference of the outputs, as a fraction of the
    data range (None when not compared, or when the reference forward did not fit in memory)."""
    reference_psnr: float | None = None
    """The FP32 eager reference's PSNR on this image, when compared and scored."""

    @property
    def psnr(self) -> float | None:
        return self.scores.get("psnr")


@dataclass(frozen=True)
class Target:
    """What one pass over a split measures besides the settings: the model's results name and data range, whether
    it is scored (a model without weights is timed only), and where its SR images go."""

    name: str
    data_range: float = 255.0
    score: bool = True
    save_dir: Path | None = None
    """Folder for this split's SR images, or None to save nothing."""


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


def tile_grid(h: int, w: int, tile: int, overlap: int = TILE_OVERLAP) -> tuple[int, list[int], list[int]]:
    """The official tiling of an ``h``×``w`` LR: the tile side (at most the shorter side), row and column starts."""
    tile = min(tile, h, w)
    stride = max(tile - overlap, 1)
    return tile, list(range(0, h - tile, stride)) + [h - tile], list(range(0, w - tile, stride)) + [w - tile]


def forwards_per_image(h: int, w: int, tile: int | None, overlap: int = TILE_OVERLAP) -> int:
    """How many forwards ``forward`` makes for an ``h``×``w`` LR: 1 untiled or when the tile covers the image."""
    if tile is None or tile >= max(h, w):
        return 1
    _, rows, cols = tile_grid(h, w, tile, overlap)
    return len(rows) * len(cols)


def forward(model: nn.Module, lr: torch.Tensor, tile: int | None = None, overlap: int = TILE_OVERLAP) -> torch.Tensor:
    """The official ``forward``: whole image, or overlapping ``tile``×``tile`` patches averaged.

    A tile that covers the whole image runs the image whole, so its result is the untiled one.
    """
    if tile is None:
        return model(lr)
    if tile <= overlap:
        raise HarnessError(f"--tile {tile}: tiles must be larger than their {overlap}-pixel overlap")
    b, c, h, w = lr.shape
    if tile >= max(h, w):
        return model(lr)
    tile, h_starts, w_starts = tile_grid(h, w, tile, overlap)
    total = torch.zeros(b, c, h * SCALE, w * SCALE, dtype=lr.dtype, device=lr.device)
    weight = torch.zeros_like(total)
    for top in h_starts:
        for left in w_starts:
            out = model(lr[..., top : top + tile, left : left + tile])
            if tuple(out.shape) != (b, c, tile * SCALE, tile * SCALE):
                raise HarnessError(f"the model returned {tuple(out.shape)} for a {tile}×{tile} tile; an x{SCALE} "
                                   f"model must return {(b, c, tile * SCALE, tile * SCALE)}")
            rows = slice(top * SCALE, (top + tile) * SCALE)
            cols = slice(left * SCALE, (left + tile) * SCALE)
            total[..., rows, cols].add_(out)
            weight[..., rows, cols].add_(1)
    return total.div_(weight)


def _read(pair: ImagePair, score: bool) -> tuple[np.ndarray, np.ndarray | None]:
    lr = read_image(pair.lr)
    return lr, modcrop(read_image(pair.hr), SCALE) if score else None


def _post_cpu(out: torch.Tensor, hr: np.ndarray, pair: ImagePair, target: Target,
              wanted: tuple[metrics.Metric, ...], reference: torch.Tensor | None = None) -> dict[str, Any]:
    """Quantise, score and save one output (and score the reference's, if given) on a worker thread (host path)."""
    sr = to_uint8(out, target.data_range)
    figures: dict[str, Any] = {"scores": metrics.score(sr, hr, wanted, SCALE)}
    if reference is not None:
        figures["reference_psnr"] = metrics.psnr(to_uint8(reference, target.data_range), hr, SCALE)
    if target.save_dir is not None:
        figures["saved_sha256"] = write_png(target.save_dir / f"{pair.name}.png", sr)
    return figures


def _save(path: Path, sr: np.ndarray) -> dict[str, Any]:
    return {"saved_sha256": write_png(path, sr)}


def check_output(out: torch.Tensor, lr: torch.Tensor, pair: ImagePair) -> None:
    """An x4 model's output for ``lr``: one tensor, four times its size, three channels, finite; else one line naming
    the image."""
    if not isinstance(out, torch.Tensor):
        raise HarnessError(f"{pair.lr}: the model returned {type(out).__name__}, not a tensor; an x{SCALE} model "
                           "returns the SR image as one tensor")
    expected = (lr.shape[0], 3, lr.shape[2] * SCALE, lr.shape[3] * SCALE)
    if tuple(out.shape) != expected:
        raise HarnessError(f"{pair.lr}: the model returned {tuple(out.shape)} for input {tuple(lr.shape)}; "
                           f"an x{SCALE} model must return {expected}")
    if not bool(torch.isfinite(out).all()):
        raise HarnessError(f"{pair.lr}: the model output holds NaN or Inf; check the checkpoint and the data range")


def _reason(err: BaseException) -> str:
    """The first line of an exception's message, for a one-line error."""
    text = plain(str(err)).strip()
    line = text.splitlines()[0].strip() if text else type(err).__name__
    return line if len(line) <= 200 else line[:197] + "..."


class Runner:
    """The forward of one image: warm-up, repeats, and a tiled retry when the device runs out of memory."""

    def __init__(self, model: nn.Module, settings: Settings, target: Target, backend: Backend,
                 memory: PeakMemory) -> None:
        self.model, self.settings, self.target, self.backend, self.memory = model, settings, target, backend, memory
        self.call = backend.prepare(model)
        self.smallest: int | None = None
        self.tile = settings.tile
        """The tile the last forward ran in (smaller than ``settings.tile`` after running out of memory)."""

    def run(self, lr: torch.Tensor, pair: ImagePair) -> tuple[torch.Tensor, float, bool]:
        """Median time of ``repeat`` forwards; out of memory (CUDA or CPU), retry in tiles half as large each time."""
        tile = self.settings.tile
        while True:
            try:
                self.backend.settle(lambda: forward(self.call, lr, tile), (tuple(lr.shape), tile))
                times = []
                for _ in range(max(self.settings.repeat, 1)):
                    self.memory.before_forward()
                    with torch.inference_mode():
                        out, ms = self.backend.timed(lambda: forward(self.call, lr, tile))
                    self.memory.after_forward()
                    times.append(ms)
                self.tile = tile
                return out, statistics.median(times), tile is not None and tile < max(lr.shape[-2:])
            except Unavailable:
                raise
            except HarnessError as err:  # a tile's output of the wrong size
                raise HarnessError(f"{pair.lr}: {err}") from None
            except (RuntimeError, MemoryError, ValueError, IndexError) as err:
                memory = out_of_memory(err)
                if memory is None:
                    too_small = self._too_small(err, lr, pair)
                    if too_small is None and not self.backend.reference:  # a network that does not run this way
                        raise Unavailable(f"{self.backend.label}: {self.target.name}'s forward fails on {pair.lr.name} "
                                          f"({first_line(err)})") from None
                    if too_small is None:
                        raise
                    raise too_small from err
                del err  # its traceback holds the failed forward's tensors
                self.backend.release()
                h, w = lr.shape[-2:]
                tried = None if tile is None or tile >= max(h, w) else min(tile, h, w)
                tile = (min(h, w) if tried is None else tried) // 2
                if tile <= TILE_OVERLAP:
                    fix = "free the GPU or run on another device" if memory == "CUDA" else \
                        "free memory (or add swap), or run on a GPU"
                    where = f"even in {tried}-pixel tiles" if tried is not None else \
                        f"and too small to split into tiles larger than their {TILE_OVERLAP}-pixel overlap"
                    raise HarnessError(f"{pair.lr}: {memory} out of memory on LR {w}×{h} {where}; {fix}") from None

    def _too_small(self, err: BaseException, lr: torch.Tensor, pair: ImagePair) -> HarnessError | None:
        """The one-line error for an LR below the smallest input the model takes (found by probing square
        inputs once), or None when the failure is not about size."""
        h, w = lr.shape[-2:]
        if min(h, w) >= PROBE_LIMIT:
            return None
        if self.smallest is None:
            self.smallest = PROBE_LIMIT + 1  # none up to the limit: not a size the probe can name
            for side in range(1, PROBE_LIMIT + 1):
                try:
                    with torch.inference_mode():
                        self.call(lr.new_zeros(1, lr.shape[1], side, side))
                except Exception:  # noqa: BLE001, S112 - any failure means the model does not take this size
                    continue
                self.smallest = side
                break
        tile = self.settings.tile
        side = min(h, w) if tile is None or tile >= max(h, w) else min(tile, h, w)  # what the model was given
        if self.smallest > PROBE_LIMIT or self.smallest <= side:
            return None
        return HarnessError(f"{pair.lr}: LR {w}×{h} is too small for {self.target.name} (its forward failed: "
                            f"{_reason(err)}); its smallest LR is {self.smallest}×{self.smallest}")

    def reference(self, model: nn.Module, lr: torch.Tensor) -> torch.Tensor | None:
        """The FP32 eager output on the same input and tiles (untimed), or None when it does not fit in memory."""
        try:
            with torch.inference_mode():
                return forward(model, lr, self.tile)
        except (RuntimeError, MemoryError) as err:
            if out_of_memory(err) is None:
                raise
        self.backend.release()
        return None

    def warm_up(self, pair: ImagePair) -> None:
        """Untimed forwards on the split's first image (with the same out-of-memory fallback)."""
        if self.settings.warmup <= 0:
            return
        lr = self.backend.upload(to_tensor(read_image(pair.lr), self.target.data_range))
        for _ in range(self.settings.warmup):
            self.run(lr, pair)


def evaluate(model: nn.Module, split: Split, settings: Settings, target: Target, backend: Backend | None = None,
             on_image: Callable[[int, ImageResult], None] | None = None, compare: bool = False) -> SplitResult:
    """Run ``model`` over ``split`` (already checked with ``data.splits.check_split``) once, and score every image.

    ``backend`` (the official eager one on ``settings.device`` when None) says how the model is
    called and timed. With ``compare``, ``model`` itself (eager FP32) also runs on every image,
    untimed, and each result holds the difference of the outputs and the reference's PSNR.
    ``on_image(index, result)`` is called in image order as each image is finished (progress bars).
    """
    backend = backend or Backend(settings.device)
    memory = backend.memory()
    runner = Runner(model, settings, target, backend, memory)
    wanted = metrics.wanted(settings.ssim, settings.y_channel)
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
        reads = deque(readers.submit(_read, pair, target.score) for pair in split.pairs[:PREFETCH])
        for index, pair in enumerate(split.pairs):
            lr_img, hr_img = reads.popleft().result()
            if index + PREFETCH < len(split.pairs):
                reads.append(readers.submit(_read, split.pairs[index + PREFETCH], target.score))
            lr = backend.upload(to_tensor(lr_img, target.data_range))
            out, ms, tiled = runner.run(lr, pair)
            check_output(out, lr, pair)
            result = ImageResult(pair.name, ms, tiled=tiled)
            ref = runner.reference(model, lr) if compare else None
            if ref is not None:
                result.difference = float((out - ref).abs().max()) / target.data_range
            if not target.score:  # timing only: nothing to quantise, score or save
                pending.append((result, None))
            elif backend.scores_on_device:
                sr = quantize(out, target.data_range)
                hr = torch.from_numpy(hr_img).to(sr.device)
                result.scores = metrics.score(sr, hr, wanted, SCALE)
                if ref is not None:
                    result.reference_psnr = metrics.psnr_torch(quantize(ref, target.data_range), hr, SCALE)
                saved = None if target.save_dir is None else \
                    workers.submit(_save, target.save_dir / f"{pair.name}.png", sr.cpu().numpy())
                pending.append((result, saved))
                del sr  # nothing of this image may stay on the device during the next forward
            else:
                pending.append((result, workers.submit(_post_cpu, out.cpu(), hr_img, pair, target, wanted,
                                                       None if ref is None else ref.cpu())))
            del out, ref
            while len(pending) > MAX_PENDING or (pending and (pending[0][1] is None or pending[0][1].done())):
                finish_oldest()
        while pending:
            finish_oldest()
        wall = time.perf_counter() - begin
    finally:
        readers.shutdown(wait=True, cancel_futures=True)
        workers.shutdown(wait=True, cancel_futures=True)
    return SplitResult(split.name, results, memory.read_mib(), memory.kind, wall, backend.clock, target.save_dir)
