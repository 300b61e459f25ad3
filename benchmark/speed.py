"""The speed benchmark: forward time of each network variant, and what the evaluation loop adds to it.

    python -m benchmark.speed                     # on ../shared/data/B100 when present, else the demo set
    python -m benchmark.speed --data DIR --rounds 7 --out results/speed.md
    python -m benchmark.speed --sweep             # organizer mode (benchmark.sweep) against single test_demo.py runs

Prints two tables and writes them to ``results/speed.md`` (and ``speed.json``):

1. ms per forward at 1×3×256×256 and at a DIV2K-sized LR (1×3×339×510) for RFDN, SRneXt
   (faithful) and SRneXt (fast): the variants are timed in turn within each round, so that every
   variant sees the same machine state, and the median over the rounds is kept; the speed-up is
   against the faithful SRneXt.
2. the evaluation loop on RFDN over a whole split, SR images saved, with and without SSIM: the
   official order (read, forward, score, save, one image after the other) against the harness's
   pipelined loop, as wall time over the summed forward times. The last column divides the
   pipelined wall time by the serial run's forward sum, which no other work disturbed, so a loop
   that only slowed the forwards down cannot look good.

A benchmark, not a test: the numbers depend on the machine, and the table says which.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import models
from benchmark import data, host, metrics
from benchmark.errors import HarnessError, OneLineParser, error_line
from benchmark.images import SCALE, modcrop, read_image, to_tensor, to_uint8, write_png
from benchmark.inference import RunOptions, evaluate, forward, pick_device, timed
from benchmark.results import environment

SIZES = {"256×256": (256, 256), "339×510": (339, 510)}
VARIANTS = (("00_RFDN_baseline", 0, False), ("05_SRneXt", 5, False), ("05_SRneXt", 5, True))
B100 = Path(__file__).resolve().parents[2] / "shared" / "data" / "B100"


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


def _serial_official_order(model: torch.nn.Module, split: data.Split, device: torch.device, ssim: bool,
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


def loop_table(device: torch.device, split: data.Split, model_zoo: Path) -> pd.DataFrame:
    """Wall time over forward time for RFDN on ``split``, serial against pipelined, without and with SSIM."""
    model = models.create_model(0, models.get_spec(0).checkpoint_in(model_zoo), device)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for ssim in (False, True):
            opts = RunOptions(device=device, ssim=ssim, warmup=3, save_dir=Path(tmp) / "pipelined")
            evaluate(model, data.Split(split.name, split.pairs[:3]), opts)  # warm the caches and the allocator
            serial_wall, serial_forward = _serial_official_order(model, split, device, ssim, Path(tmp) / "serial")
            result = evaluate(model, split, opts)
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


def frame_table(frame: pd.DataFrame, title: str) -> Table:
    """A benchmark's DataFrame as a rich table: floats to three decimals, everything else as text."""
    table = Table(title=escape(title), title_justify="left")
    for column in frame.columns:
        table.add_column(escape(column), justify="right" if frame[column].dtype.kind == "f" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:.3f}" if isinstance(v, float) else escape(str(v)) for v in row))
    return table


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m benchmark.speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="benchmark folder for the loop (default: ../shared/data/B100 "
                                                  "if present, else the demo set)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--rounds", type=int, default=7, help="timed forwards per variant and size (median kept)")
    parser.add_argument("--model_zoo", type=Path, default=models.registry.MODEL_ZOO, help="checkpoints, if any")
    parser.add_argument("--out", type=Path, default=Path("results/speed.md"), help="Markdown report (+ .json)")
    parser.add_argument("--sweep", action="store_true", help="instead: organizer mode's wall time over the same teams' "
                        "single test_demo.py runs, local and on Ray (benchmark.sweep_speed; OUT stem + _sweep.md)")
    try:
        args = parser.parse_args(argv)
    except HarnessError as err:
        print(error_line(err), file=sys.stderr)
        return 2
    if args.sweep:
        from benchmark.sweep_speed import main as sweep_speed

        return sweep_speed(args)
    host.keep_freed_memory()
    console = Console(width=None if sys.stdout.isatty() else 160)
    try:
        device = pick_device(args.device)
        split = data.benchmark_split(args.data) if args.data else (
            data.benchmark_split(B100) if B100.is_dir() else data.demo_split())
        data.check_split(split)
        env = environment(device)
        forwards = forward_table(device, args.rounds, args.model_zoo)
        console.print(frame_table(forwards, f"Forward time, median of {args.rounds} ({env['device_name']}, "
                                      f"{env['cpu_threads']} threads, torch {env['torch']})"))
        loops = loop_table(device, split, args.model_zoo)
        console.print(frame_table(loops, "Evaluation loop, RFDN, SR images saved"))
    except HarnessError as err:
        print(error_line(err), file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(f"# Speed benchmark\n\n{json.dumps(env)}\n\n## Forward time (median of {args.rounds})\n\n"
                        f"{forwards.to_markdown(index=False, floatfmt='.3f')}\n\n## Evaluation loop (RFDN)\n\n"
                        f"{loops.to_markdown(index=False, floatfmt='.3f')}\n")
    args.out.with_suffix(".json").write_text(json.dumps({"environment": env, "forward": forwards.to_dict("records"),
                                                         "loop": loops.to_dict("records")}, indent=2))
    console.print(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
