"""The speed benchmark: forward time of each network variant, and what the evaluation loop adds to it.

    python -m benchmark.speed                     # on ../shared/data/B100 when present, else the demo set
    python -m benchmark.speed --data DIR --rounds 7 --out results/speed.md
    python -m benchmark.speed --sweep             # organizer mode (benchmark.sweep) against single test_demo.py runs
    python -m benchmark.speed --matrix --model_zoo ../shared/reference/model_zoo   # backends × precisions

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

``--matrix`` instead runs every backend × precision side by side for every year's baseline and the
fast SRneXt (``--models``), at 1×3×256×256 and 1×3×339×510 (``--sizes``), and writes
``results/speed_matrix.md`` and ``.json`` (``benchmark.measure.matrix``); ``--profile`` adds each
model's roofline: its eager FP32 forward operator by operator against the compute and memory peaks
measured in the same run (``benchmark.measure.roofline``).

A benchmark, not a test: the numbers depend on the machine, and the table says which.
"""

from __future__ import annotations

from benchmark.core import host

host.sleeping_threads()  # timed as test_demo.py times: idle OpenMP threads sleep (set before PyTorch loads)

import json
import os
import sys
from pathlib import Path

import torch
from rich.console import Console
from rich.markup import escape

import models
from benchmark.core.errors import HarnessError, OneLineParser, error_line
from benchmark.core.files import check_out_path, json_of, read_regular, write_report
from benchmark.data.splits import benchmark_split, check_split, demo_split
from benchmark.measure.backend import PRECISIONS, pick_device
from benchmark.measure.deploy import BACKENDS
from benchmark.measure.matrix import default_entries, matrix, parse_entry, parse_size
from benchmark.measure.speed import B100, SIZES, forward_table, loop_table
from benchmark.record.environment import environment
from benchmark.report.deploy import (
    best_frame,
    beyond_tolerance,
    matrix_markdown,
    peaks_frame,
    ran_frame,
    unavailable_lines,
)
from benchmark.report.roofline import roofline_frame, roofline_markdown, roofline_title
from benchmark.report.tables import frame_table


def run_matrix(args, console: Console) -> None:  # noqa: ANN001 - the parsed flags
    """The deployment matrix, printed and written to ``--out`` (default ``results/speed_matrix.md``) and .json."""
    device = pick_device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)  # PyTorch's intra-op threads; ONNX Runtime is given as many
    entries = [parse_entry(m) for m in args.models] if args.models else default_entries()
    sizes = [parse_size(s) for s in args.sizes] if args.sizes else list(SIZES.values())
    out = args.out
    env = environment(device)
    load = os.getloadavg()[0]
    console.print(f"matrix: {len(entries)} model(s) × {len(sizes)} size(s) × {len(args.backend)} backend(s) × "
                  f"{len(args.precision)} precision(s) on {env['device_name']}, {args.rounds} rounds; load {load:.2f}")
    result = matrix(entries, sizes, args.backend, args.precision, device, args.rounds, args.model_zoo,
                    on_line=lambda line: console.print(escape(line), soft_wrap=True), profile=args.profile)
    result["load"] = [load, os.getloadavg()[0]]
    rows = result["rows"]
    console.print(frame_table(peaks_frame(result["peaks"]), "Peak, measured (GFLOP/s, a multiply-add counted once)"))
    console.print(frame_table(ran_frame(rows, device), f"Deployment matrix, medians of {args.rounds} (compilation "
                                                       "and export not timed)"), crop=False)
    console.print(frame_table(best_frame(rows), "Best FP32 way"))
    for line in unavailable_lines(rows):
        console.print(escape(f"cannot run here: {line}"), soft_wrap=True)
    for row in rows:
        if beyond_tolerance(row, device):
            console.print(escape(f"FAILED: {row['model']} {row['input']} {row['backend']} {row['precision']}: its "
                                 f"output is {row['max_difference']:.3g} of the data range from FP32 eager's, beyond "
                                 "its precision's tolerance; its time is not that of the network"), soft_wrap=True)
    for profile in result.get("profiles", []):
        console.print(frame_table(roofline_frame(profile, top=14), roofline_title(profile, result["roofs"])),
                      crop=False)
    write_report(out, matrix_markdown(result, env) + roofline_markdown(result),
                 json.dumps({"environment": env, **result}, indent=2, default=str))
    console.print(escape(f"wrote {out} and {out.with_suffix('.json')}"))


def _speed_json(path: Path) -> bool:
    """Whether ``path`` holds a report's JSON as this command writes it (an object with its ``environment``)."""
    try:
        document = json_of(read_regular(path))
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and isinstance(document.get("environment"), dict)


def check_out(out: Path, sweep: bool) -> None:
    """Every file the run will write (the report and its ``.json``; ``<stem>_sweep.md`` with ``--sweep``) can be
    written, checked before any work: a folder in its place, a file among its folders, a ``.json`` report (its
    JSON would overwrite it) or a folder this user cannot write is one line."""
    report = out.with_name(out.stem + "_sweep.md") if sweep else out
    fix = "pass the Markdown file to write, e.g. results/speed.md"
    if report.suffix.lower() == ".json":
        raise HarnessError(f"--out {out}: the JSON beside the report would be the report itself; {fix}")
    beside = report.with_suffix(".json")
    for path in (report, beside):
        check_out_path(path, "--out", fix, folder=False)
    if beside.is_file() and not _speed_json(beside):  # named by no flag: a results file there would be lost
        raise HarnessError(f"--out {out}: {beside} is there and is no speed report's JSON (a results file?), which "
                           f"the JSON written beside the report would replace; {fix} in another folder or under "
                           "another name")
    existing = next(p for p in (report.parent.absolute(), *report.parent.absolute().parents) if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise HarnessError(f"--out {out}: {existing} cannot be written by this user; choose a writable folder")


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m benchmark.speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="benchmark folder for the loop (default: ../shared/data/B100 "
                                                  "if present, else the demo set)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--rounds", type=int, default=7, help="timed forwards per variant and size (median kept)")
    parser.add_argument("--model_zoo", type=Path, default=models.spec.MODEL_ZOO, help="checkpoints, if any")
    parser.add_argument("--out", type=Path, help="Markdown report (+ .json; default: results/speed.md, "
                                                 "results/speed_matrix.md with --matrix)")
    matrix_flags = parser.add_argument_group("--matrix: backends and precisions side by side")
    matrix_flags.add_argument("--matrix", action="store_true", help="time every backend × precision instead")
    matrix_flags.add_argument("--models", nargs="+", metavar="YEAR:ID[:fast]",
                              help="default: every year's baseline and the fast SRneXt")
    matrix_flags.add_argument("--backend", nargs="+", choices=list(BACKENDS), default=list(BACKENDS))
    matrix_flags.add_argument("--precision", nargs="+", choices=list(PRECISIONS), default=list(PRECISIONS))
    matrix_flags.add_argument("--sizes", nargs="+", metavar="HxW", help="LR sizes, of at most 2048x2048 pixels "
                              "(default: 256x256 339x510)")
    matrix_flags.add_argument("--profile", action="store_true", help="also time each model's eager FP32 forward "
                              "operator by operator against the compute and memory peaks (a roofline)")
    matrix_flags.add_argument("--threads", type=int, help="CPU threads of every backend (default: PyTorch's, one per "
                              "core); 1 keeps a busy machine's scheduling out of the figures")
    parser.add_argument("--sweep", action="store_true", help="instead: organizer mode's wall time over the same teams' "
                        "single test_demo.py runs, local and on Ray (benchmark.organizer.overhead; OUT stem + _sweep.md)")
    try:
        args = parser.parse_args(argv)
        if args.rounds < 1:
            raise HarnessError(f"--rounds {args.rounds}: must be at least 1")
        if args.threads is not None and args.threads < 1:
            raise HarnessError(f"--threads {args.threads}: must be at least 1")
        if args.profile and not args.matrix:
            raise HarnessError("--profile goes with --matrix (test_demo.py --profile profiles one model by module)")
        args.out = args.out or Path("results/speed_matrix.md" if args.matrix else "results/speed.md")
        check_out(args.out, args.sweep)
    except HarnessError as err:
        print(error_line(err), file=sys.stderr)
        return 2
    if args.sweep:
        from benchmark.organizer.overhead import main as sweep_speed

        return sweep_speed(args)
    host.keep_freed_memory()
    console = Console(width=None if sys.stdout.isatty() else 160)
    if args.matrix:
        try:
            run_matrix(args, console)
        except HarnessError as err:
            print(error_line(err), file=sys.stderr)
            return 2
        return 0
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
        write_report(args.out, f"# Speed benchmark\n\n{json.dumps(env)}\n\n## Forward time (median of "
                     f"{args.rounds})\n\n{forwards.to_markdown(index=False, floatfmt='.3f')}\n\n## Evaluation loop "
                     f"(RFDN)\n\n{loops.to_markdown(index=False, floatfmt='.3f')}\n",
                     json.dumps({"environment": env, "forward": forwards.to_dict("records"),
                                 "loop": loops.to_dict("records")}, indent=2))
    except HarnessError as err:
        print(error_line(err), file=sys.stderr)
        return 2
    console.print(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
