"""The evaluation loop: official tiling, scores of every image in order, saved images, output checks."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.core.errors import HarnessError
from benchmark.data.splits import benchmark_split, check_split
from benchmark.imaging import metrics
from benchmark.imaging.images import modcrop, read_image, write_png
from benchmark.imaging.imresize import downscale_x4
from benchmark.measure.backend import PeakMemory, cap_gpu_memory
from benchmark.measure.loop import Target, evaluate, forward
from benchmark.measure.settings import Settings

CPU = torch.device("cpu")


class Nearest(nn.Module):
    """A parameter-free x4 'network': nearest-neighbour upscaling, plus an offset."""

    def __init__(self, offset: float = 0.0, scale: int = 4) -> None:
        super().__init__()
        self.offset, self.scale = offset, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="nearest") + self.offset


@pytest.fixture
def split(tmp_path: Path):
    rng = np.random.default_rng(1)
    for name, size in (("b", (40, 36)), ("a", (35, 30)), ("c", (44, 48))):
        hr = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        write_png(tmp_path / "Toy" / "HR" / f"{name}.png", hr)
        write_png(tmp_path / "Toy" / "LR_bicubic" / "X4" / f"{name}x4.png", downscale_x4(hr))
    split = benchmark_split(tmp_path / "Toy")
    check_split(split)
    return split


def test_tiles_cover_the_image_and_overlaps_are_averaged() -> None:
    calls = []

    class Probe(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            calls.append(tuple(x.shape[-2:]))
            return torch.full((1, 3, x.shape[2] * 4, x.shape[3] * 4), float(len(calls)))

    out = forward(Probe(), torch.zeros(1, 3, 10, 7), tile=6, overlap=4)  # stride 2: rows 0,2,4; cols 0,1
    assert calls == [(6, 6)] * 6
    # output row block 0..7 is covered by tile rows starting at 0 only; column 0..3 by tile columns at 0 only
    assert out[0, 0, 0, 0] == 1
    # a pixel inside every tile (rows 16..23, cols 4..23) averages all six tile indices
    assert out[0, 0, 20, 10] == pytest.approx(sum(range(1, 7)) / 6)


def test_tiled_forward_of_a_pointwise_model_equals_the_whole_image() -> None:
    x = torch.randint(0, 256, (1, 3, 100, 70)).float()  # integers: overlapping sums and their means are exact
    assert torch.equal(forward(Nearest(), x, tile=48), forward(Nearest(), x))


def test_tile_must_exceed_the_overlap() -> None:
    with pytest.raises(HarnessError, match="--tile 32: tiles must be larger than their 32-pixel overlap"):
        forward(Nearest(), torch.zeros(1, 3, 64, 64), tile=32)


def test_evaluate_scores_every_image_in_order_and_saves_them(split, tmp_path: Path) -> None:
    seen = []
    settings = Settings(device=CPU, ssim=True, y_channel=True, warmup=1, repeat=2)
    result = evaluate(Nearest(offset=0.4), split, settings, Target("Nearest", save_dir=tmp_path / "sr"),
                      on_image=lambda i, r: seen.append((i, r.name)))
    assert seen == [(0, "a"), (1, "b"), (2, "c")]
    assert [r.name for r in result.images] == ["a", "b", "c"]
    for pair, r in zip(split.pairs, result.images):
        lr = read_image(pair.lr)
        expected = np.repeat(np.repeat(lr, 4, axis=0), 4, axis=1)  # +0.4 rounds back to the same uint8
        saved = read_image(tmp_path / "sr" / f"{pair.name}.png")
        assert np.array_equal(saved, expected)
        hr = modcrop(read_image(pair.hr), 4)
        assert r.psnr == metrics.psnr(expected, hr)
        assert r.scores["ssim"] == metrics.ssim(expected, hr)
        assert r.scores["psnr_y"] == metrics.psnr(metrics.rgb_to_y(expected), metrics.rgb_to_y(hr))
        assert r.scores["ssim_y"] == metrics.ssim(metrics.rgb_to_y(expected), metrics.rgb_to_y(hr))
        assert r.runtime_ms > 0 and not r.tiled
    assert result.memory_kind == "cpu_peak_rss" and result.memory_mib > 0
    assert result.clock == "cpu_perf_counter"
    assert result.wall_seconds >= result.forward_seconds > 0


def test_timing_only_run_scores_and_saves_nothing(split, tmp_path: Path) -> None:
    result = evaluate(Nearest(), split, Settings(device=CPU, warmup=0), Target("Nearest", score=False))
    assert all(r.psnr is None and r.runtime_ms > 0 for r in result.images)


def test_output_of_the_wrong_size_names_the_image(split) -> None:
    with pytest.raises(HarnessError, match=r"ax4\.png: the model returned \(1, 3, 16, 14\) .* must return \(1, 3, 32, 28\)"):
        evaluate(Nearest(scale=2), split, Settings(device=CPU, warmup=0), Target("Nearest"))


class _Pair(nn.Module):
    """An x4 network that returns its output twice, as a tuple (as some training code's networks do)."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = F.interpolate(x, scale_factor=4, mode="nearest")
        return out, out


def test_an_output_that_is_no_tensor_names_the_image(split) -> None:
    with pytest.raises(HarnessError, match=r"ax4\.png: the model returned tuple, not a tensor"):
        evaluate(_Pair(), split, Settings(device=CPU, warmup=0), Target("Pair"))


def test_nan_output_names_the_image(split) -> None:
    with pytest.raises(HarnessError, match=r"ax4\.png: the model output holds NaN or Inf"):
        evaluate(Nearest(offset=float("nan")), split, Settings(device=CPU, warmup=0), Target("Nearest"))


class _FakeCudaMemory:
    """What torch.cuda reports of allocated memory, driven by hand: ``use(n)`` allocates n bytes and frees them."""

    def __init__(self) -> None:
        self.current, self.high = 10, 10

    def use(self, size: int) -> None:
        self.high = max(self.high, self.current + size)

    def reset(self, device: object = None) -> None:
        self.high = self.current

    def peak(self, device: object = None) -> int:
        return self.high


def test_cuda_memory_counts_the_forwards_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The official loop scores on the host: the harness's on-device scoring must not show in the figure."""
    fake = _FakeCudaMemory()
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", fake.reset)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", fake.peak)
    memory = PeakMemory(torch.device("cuda"))
    memory.reset()
    for forward_bytes, scoring_bytes in ((90, 500), (50, 700)):
        memory.before_forward()
        fake.use(forward_bytes)  # the forward
        memory.after_forward()
        fake.use(scoring_bytes)  # quantise and score on the device
    assert memory.read_mib() == 100 / 1024**2  # weights (10) + the larger forward (90)


def test_gpu_memory_caps_the_allocator_by_the_fraction_of_the_card(monkeypatch: pytest.MonkeyPatch) -> None:
    """--gpu-memory 12 on a 48 GiB card lets the caching allocator use a quarter of it; more than the card, or the CPU,
    is refused in one line."""
    fractions = []
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: SimpleNamespace(total_memory=48 * 2**30))
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction", lambda f, device: fractions.append((f, device)))
    gpu = torch.device("cuda", 0)
    cap_gpu_memory(gpu, 12)
    assert fractions == [(0.25, gpu)]
    with pytest.raises(HarnessError, match=r"--gpu-memory 64: more than this GPU's 48\.0 GiB"):
        cap_gpu_memory(gpu, 64)
    with pytest.raises(HarnessError, match="--gpu-memory 1: caps a GPU's memory, and this run is on the cpu"):
        cap_gpu_memory(CPU, 1)
