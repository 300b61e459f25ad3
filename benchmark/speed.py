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
import sys
from pathlib import Path

from rich.console import Console

import models
from benchmark.core import host
from benchmark.core.errors import HarnessError, OneLineParser, error_line
from benchmark.data.splits import benchmark_split, check_split, demo_split
from benchmark.measure.backend import pick_device
from benchmark.measure.speed import B100, forward_table, loop_table
from benchmark.record.environment import environment
from benchmark.report.tables import frame_table


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m benchmark.speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="benchmark folder for the loop (default: ../shared/data/B100 "
                                                  "if present, else the demo set)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--rounds", type=int, default=7, help="timed forwards per variant and size (median kept)")
    parser.add_argument("--model_zoo", type=Path, default=models.spec.MODEL_ZOO, help="checkpoints, if any")
    parser.add_argument("--out", type=Path, default=Path("results/speed.md"), help="Markdown report (+ .json)")
    parser.add_argument("--sweep", action="store_true", help="instead: organizer mode's wall time over the same teams' "
                        "single test_demo.py runs, local and on Ray (benchmark.organizer.overhead; OUT stem + _sweep.md)")
    try:
        args = parser.parse_args(argv)
    except HarnessError as err:
        print(error_line(err), file=sys.stderr)
        return 2
    if args.sweep:
        from benchmark.organizer.overhead import main as sweep_speed

        return sweep_speed(args)
    host.keep_freed_memory()
    console = Console(width=None if sys.stdout.isatty() else 160)
    try:
        device = pick_device(args.device)
        split = benchmark_split(args.data) if args.data else (
            benchmark_split(B100) if B100.is_dir() else demo_split())
        check_split(split)
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
