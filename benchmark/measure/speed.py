"""The harness's own speed: forward times of the 2023 models (faithful and fast SRneXt) and what the evaluation loop
costs beyond the forwards, pipelined against the official serial order."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

import models
from benchmark.data.splits import Split
from benchmark.imaging import metrics
from benchmark.imaging.images import SCALE, modcrop, read_image, to_tensor, to_uint8, write_png
from benchmark.measure.backend import timed
from benchmark.measure.loop import Target, evaluate, forward
from benchmark.measure.settings import Settings

SIZES = {"256×256": (256, 256), "339×510": (339, 510)}


VARIANTS = (("00_RFDN_baseline", 0, False), ("05_SRneXt", 5, False), ("05_SRneXt", 5, True))


B100 = Path(__file__).resolve().parents[3] / "shared" / "data" / "B100"


def forward_table(device: torch.device, rounds: int, model_zoo: Path) -> pd.DataFrame:
    """Median ms per forward of each variant at each size, the variants taking turns within a round."""
    built = {}
    for name, team, fast in VARIANTS:
        checkpoint = models.get_spec(team).checkpoint_in(model_zoo)
        built[(name, fast)] = models.create_model(team, checkpoint, device, fast=fast)
    rows = []
    for size, (h, w) in SIZES.items():
        x = torch.rand(1, 3, h, w, device=device) * 255
        times: dict[tuple[str, bool], list[float]] = {key: [] for key in built}
        with torch.inference_mode():
            for key, model in built.items():  # warm-up: oneDNN primitives, allocator, caches
                model(x)
                model(x)
            for _ in range(rounds):
                for key, model in built.items():
                    times[key].append(timed(lambda m=model: m(x), device)[1])
        faithful = statistics.median(times[("05_SRneXt", False)])
        for (name, fast), ms in times.items():
            median = statistics.median(ms)
            rows.append({"device": str(device), "model": name, "variant": "fast" if fast else "faithful",
                         "input": f"1×3×{h}×{w}", "ms": median, "min ms": min(ms),
                         "speed-up vs faithful SRneXt": faithful / median})
    return pd.DataFrame(rows)


def _serial_official_order(model: torch.nn.Module, split: Split, device: torch.device, ssim: bool,
                           save_dir: Path) -> tuple[float, float]:
    """The official loop: each image read, run, quantised, scored and saved before the next is read."""
    forward_ms = 0.0
    begin = time.perf_counter()
    for pair in split.pairs:
        lr = to_tensor(read_image(pair.lr), 255.0).to(device)
        with torch.inference_mode():
            out, ms = timed(lambda: forward(model, lr), device)
        forward_ms += ms
        sr = to_uint8(out, 255.0)
        hr = modcrop(read_image(pair.hr), SCALE)
        metrics.psnr(sr, hr, SCALE)
        if ssim:
            metrics.ssim(sr, hr, SCALE)
        write_png(save_dir / f"{pair.name}.png", sr)
    return time.perf_counter() - begin, forward_ms / 1000


def loop_table(device: torch.device, split: Split, model_zoo: Path) -> pd.DataFrame:
    """Wall time over forward time for RFDN on ``split``, serial against pipelined, without and with SSIM."""
    model = models.create_model(0, models.get_spec(0).checkpoint_in(model_zoo), device)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for ssim in (False, True):
            settings, target = Settings(device=device, ssim=ssim, warmup=3), Target("00_RFDN_baseline",
                                                                                    save_dir=Path(tmp) / "pipelined")
            evaluate(model, Split(split.name, split.pairs[:3]), settings, target)  # warm the caches and the allocator
            serial_wall, serial_forward = _serial_official_order(model, split, device, ssim, Path(tmp) / "serial")
            result = evaluate(model, split, settings, target)
            label = "with SSIM" if ssim else "PSNR only"
            rows.append({"device": str(device), "split": f"{split.name} ({len(split.pairs)})", "metrics": label,
                         "loop": "serial (official order)", "wall s": serial_wall, "forward s": serial_forward,
                         "wall / forward": serial_wall / serial_forward,
                         "wall / serial forward": serial_wall / serial_forward})
            rows.append({"device": str(device), "split": f"{split.name} ({len(split.pairs)})", "metrics": label,
                         "loop": "pipelined (harness)", "wall s": result.wall_seconds,
                         "forward s": result.forward_seconds,
                         "wall / forward": result.wall_seconds / result.forward_seconds,
                         "wall / serial forward": result.wall_seconds / serial_forward})
    return pd.DataFrame(rows)
