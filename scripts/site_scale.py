"""How long ``python -m benchmark.site`` takes on a leaderboard of N models (a benchmark, not a test).

    .venv/bin/python scripts/site_scale.py 1000 5000 --repeat 3

Writes a made-up 2026 results file of N harness records (one split of 100 images, five runs, every key a model
page reads; runtimes spread from 3 to 30 ms), builds its site in a fresh process (imports included, as a user
waits for them) ``--repeat`` times, and prints a table: the median wall time with its range, the CPU time, the time
per 1,000 models, the pages and size written, and the load average before and after. On a busy machine compare the
rows of one run (interleaved), not runs of different days.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def record(i: int, n: int) -> dict:
    """Model ``i`` of ``n`` as the harness records a 2026 run on one split of 100 images."""
    runtime = 3 + 27 * i / n
    images = [f"{k:04d}" for k in range(100)]
    return {
        "num_parameters": 0.1 + (i % 7) * 0.01, "flops": 5.0 + i % 11, "activations": 10.0, "num_conv": 20,
        "flops_counter": "fvcore",
        "complexity": {"input_shape": [3, 256, 256], "params": 100_000 + i, "flops": 4_500_000_000,
                       "activations": 10_000_000, "conv": 20, "fvcore_flops": int((5.0 + i % 11) * 1e9),
                       "ptflops_macs": 5_100_000_000, "unseen": []},
        "checkpoint": {"path": f"model_zoo/team{i:04d}.pth", "sha256": f"{i:064x}"},
        "variant": "faithful", "year": 2026, "harness_version": "0.4.0", "code_sha256": "c" * 64, "data_range": 1.0,
        "environment": {"device": "cuda:0", "device_name": "Test GPU", "torch": "2.13.0"},
        "splits": ["valid"], "valid_images": images,
        "valid_runtime": [runtime * (1 + 0.01 * ((k * 7) % 11 - 5)) for k in range(100)],
        "valid_psnr": [29.0 + (k % 5) * 0.1 for k in range(100)], "valid_ave_psnr": 29.0 + (i % 13) * 0.1,
        "valid_ave_runtime": runtime, "valid_runs_ave_runtime": [runtime * f for f in (0.99, 0.995, 1, 1.005, 1.01)],
        "valid_memory": 100.0, "valid_peak_memory": 90.0, "valid_memory_kind": "cuda_max_allocated",
        "valid_runtime_stats": {"mean": runtime, "median": runtime, "std": 0.1, "first": runtime * 2,
                                "mean_without_first": runtime, "clock": "cuda_event", "warmup": 0, "repeat": 1,
                                "runs": 5, "of": "the first run"},
    }


def build(results: Path, out: Path) -> tuple[float, float, str]:
    """Wall and CPU seconds of one build in a fresh process, and its last line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    begin = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "benchmark.site", "--results", str(results), "--year", "2026",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - begin
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", type=int, nargs="+", help="leaderboard sizes, e.g. 1000 5000")
    parser.add_argument("--repeat", type=int, default=3, help="builds per size (the median is kept)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="site-scale-") as tmp:
        files = {}
        for n in args.models:
            files[n] = Path(tmp) / f"R{n}.json"
            entries = {"00_SPAN": record(0, n), **{f"{i:02d}_Model{i}": record(i, n) for i in range(1, n)}}
            files[n].write_text(json.dumps(entries))
        times: dict[int, list[tuple[float, float]]] = {n: [] for n in args.models}
        lines = {}
        load = os.getloadavg()
        for _ in range(args.repeat):  # interleaved: each size sees the same machine
            for n in args.models:
                wall, cpu, lines[n] = build(files[n], Path(tmp) / f"site{n}")
                times[n].append((wall, cpu))
        after = os.getloadavg()
    print(f"| models | wall [s], median (range) of {args.repeat} | CPU [s] | wall per 1,000 models [s] | site |")
    print("|---:|---|---:|---:|---|")
    for n in args.models:
        walls, cpus = [w for w, _ in times[n]], [c for _, c in times[n]]
        wall = statistics.median(walls)
        print(f"| {n:,} | {wall:.1f} ({min(walls):.1f}–{max(walls):.1f}) | {statistics.median(cpus):.1f} | "
              f"{wall / n * 1000:.1f} | {lines[n].removeprefix('site: ')} |")
    print(f"load average (1, 5, 15 min) before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
          f"after {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
