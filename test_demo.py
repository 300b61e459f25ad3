"""NTIRE Efficient Super-Resolution (x4): evaluate team models as the organizers do.

    python test_demo.py                      # every registered model on the embedded demo set
    python test_demo.py --model_id 5 --data_dir DATA --include_test --ssim
    python test_demo.py --model_id 5 --dataset ../shared/data/Set5 --checkpoint model_zoo/team05_exnet.pth
    python test_demo.py --model_id 5 --profile-only

Flow: models → splits (checked before any forward) → per model: complexity at 256×256, then per
split: forward, time, score, save → results file (after each split) → Table 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

import torch
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import models
from benchmark import data, host, report
from benchmark.complexity import measure
from benchmark.errors import HarnessError
from benchmark.inference import TILE_OVERLAP, ImageResult, RunOptions, SplitResult, evaluate, pick_device
from benchmark.profile import profile_model
from benchmark.results import (complexity_entry, environment, read_results, split_entry, update_results,
                               write_results_txt)

console = Console(width=None if sys.stdout.isatty() else 160)
log = logging.getLogger("test_demo")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    official = p.add_argument_group("official flags")
    official.add_argument("--data_dir", type=Path, help="challenge data: DIV2K_valid_HR/… (2023) or DIV2K_LSDIR_valid_HR/…")
    official.add_argument("--save_dir", type=Path, default=Path("results"), help="SR images go to SAVE_DIR/<model>/<split>/")
    official.add_argument("--model_id", type=int, nargs="+", help="team ids (default: every registered model)")
    official.add_argument("--include_test", action="store_true", help="also run the test split")
    official.add_argument("--hybrid_test", action="store_true", help="run the 2023 LSDIR+DIV2K test split instead")
    official.add_argument("--ssim", action="store_true", help="also compute SSIM")
    p.add_argument("--dataset", type=Path, action="append", default=[], help="a folder with HR/ and LR_bicubic/X4/ (repeatable)")
    p.add_argument("--checkpoint", type=Path, help="checkpoint for the single --model_id (default: model_zoo/<file>)")
    p.add_argument("--model_zoo", type=Path, default=models.registry.MODEL_ZOO, help="folder of teamNN_name.pth files")
    p.add_argument("--trust-checkpoint", action="store_true", help="allow checkpoints holding pickled objects (can run code)")
    p.add_argument("--offline", action="store_true", help="never download; a missing checkpoint means a timing-only run")
    p.add_argument("--zoo-url", metavar="BASE", help="fetch missing checkpoints from BASE/<file> instead of each team's "
                   "official url (default: $ESR_ZOO_URL); every file is checked against its published sha256")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--results", type=Path, default=Path("results/results.json"), help="results file (merged per model)")
    p.add_argument("--warmup", type=int, default=3, help="untimed forwards before each split (0: official cold timing)")
    p.add_argument("--repeat", type=int, default=1, help="timed forwards per image; the median is kept")
    p.add_argument("--tile", type=int, help="run in overlapping LR tiles of this size (overlap 32)")
    p.add_argument("--no-save", action="store_true", help="do not write SR images")
    p.add_argument("--y-channel", action="store_true", help="also compute PSNR/SSIM on the Y channel")
    p.add_argument("--fast", action="store_true", help="time the team's output-equivalent fast variant where it has one")
    p.add_argument("--profile", action="store_true", help="print each module's share of forward time and the "
                   "host-side work inside forward (torch.profiler, 1×3×256×256)")
    p.add_argument("--profile-only", action="store_true", help="print the complexity figures and stop (no data needed)")
    p.add_argument("--reproduce-table1", action="store_true", help="set SRneXt's figures beside its published Table 1")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    args = p.parse_args(argv)
    if args.checkpoint and (not args.model_id or len(args.model_id) > 1):
        p.error("--checkpoint needs exactly one --model_id")
    if args.reproduce_table1 and args.model_id and 5 not in args.model_id:
        p.error("--reproduce-table1 compares SRneXt's figures: add --model_id 5")
    if args.tile is not None and args.tile <= TILE_OVERLAP:
        p.error(f"--tile must be larger than the {TILE_OVERLAP}-pixel overlap")
    return args


def pick_splits(args: argparse.Namespace) -> list[data.Split]:
    splits = [data.benchmark_split(path) for path in args.dataset]
    if args.data_dir is not None:
        splits += data.official_splits(args.data_dir, args.include_test, args.hybrid_test)
    if not splits:
        splits = [data.demo_split()]
    for split in splits:
        data.check_split(split)
    return splits


def pick_checkpoint(spec: models.ModelSpec, args: argparse.Namespace) -> Path | None:
    if args.checkpoint is not None:
        return args.checkpoint
    return models.fetch_checkpoint(spec, args.model_zoo, base_url=args.zoo_url, offline=args.offline)


def run_split(model: torch.nn.Module, split: data.Split, opts: RunOptions) -> SplitResult:
    """One split under a progress bar that shows the running PSNR and ms per image."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(split.name, total=len(split.pairs), info="")
        psnrs: list[float] = []

        def on_image(index: int, result: ImageResult) -> None:
            if result.psnr is not None:
                psnrs.append(result.psnr)
            running = f"PSNR {sum(psnrs) / len(psnrs):.2f} dB  " if psnrs else ""
            progress.update(task, advance=1, info=f"{running}{result.runtime_ms:.1f} ms/image")
            log.info("%s %s runtime %.2f ms psnr %s%s", split.name, result.name, result.runtime_ms,
                     "n/a" if result.psnr is None else f"{result.psnr:.4f}", " (tiled)" if result.tiled else "")

        return evaluate(model, split, opts, on_image)


def run_model(spec: models.ModelSpec, splits: list[data.Split], args: argparse.Namespace, device: torch.device) -> str:
    """Measure, run and record one model; returns its results name."""
    name = spec.display_name
    checkpoint = None if args.profile_only else pick_checkpoint(spec, args)
    fast = args.fast and spec.fast_builder is not None
    model = models.create_model(spec.team_id, checkpoint, device, fast=fast, trust_checkpoint=args.trust_checkpoint)
    figures = measure(models.create_model(spec.team_id) if fast else model)  # always the faithful network
    console.print(report.complexity_table(name, figures))
    if args.profile_only:
        for table in (report.unseen_table(figures), report.layers_table(figures)):
            if table is not None:
                console.print(table)
        return name
    if args.profile:
        console.print(report.profile_view(name, profile_model(model, device=device)))
    if checkpoint is None:
        console.print(f"[yellow]{escape(f'{name}: no checkpoint {args.model_zoo / spec.checkpoint}; timing only, PSNR n/a')}[/]")
    update_results(args.results, name, {
        **complexity_entry(figures), "variant": "fast" if fast else "faithful",
        "checkpoint": str(checkpoint) if checkpoint else None, "data_range": spec.data_range,
        "environment": environment(device),
    })
    for split in splits:
        opts = RunOptions(device=device, data_range=spec.data_range, score=checkpoint is not None, ssim=args.ssim,
                          y_channel=args.y_channel, tile=args.tile, warmup=args.warmup, repeat=args.repeat,
                          save_dir=None if args.no_save or checkpoint is None else args.save_dir / name / split.name)
        result = run_split(model, split, opts)
        written = update_results(args.results, name, split_entry(result, args.warmup, args.repeat))
        write_results_txt(written, args.results.with_name("results.txt"))
        ratio = result.wall_seconds / result.forward_seconds if result.forward_seconds else float("nan")
        log.info("%s %s done: wall %.2f s, forward %.2f s (ratio %.2f)", name, split.name, result.wall_seconds,
                 result.forward_seconds, ratio)
    return name


def open_log(path: Path) -> logging.Handler:
    """Append this run's per-image lines to ``path`` (beside the results file)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path)
    except OSError as err:
        raise HarnessError(f"{path}: cannot write the log ({err.strerror}); choose another --results folder") from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    host.keep_freed_memory()
    warnings.showwarning = _one_line_warning
    handler: logging.Handler | None = None
    try:
        device = pick_device(args.device)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = False
        specs = [models.get_spec(i) for i in args.model_id] if args.model_id else models.list_models()
        splits = [] if args.profile_only else pick_splits(args)
        handler = open_log(args.results.with_name("test_demo.log"))
        log.info("run: %s", " ".join(sys.argv))
        names = [run_model(spec, splits, args, device) for spec in specs]
        if args.profile_only:
            return 0
        results = read_results(args.results)
        console.print(report.factsheet_table({n: results[n] for n in names}))
        if args.reproduce_table1:
            console.print(report.table1_comparison(results["05_SRneXt"]))
        console.print(f"results: {args.results} and {args.results.with_name('results.txt')}")
        return 0
    except HarnessError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: completed splits are kept in {args.results}; the split in progress was not recorded",
              file=sys.stderr)
        return 130
    finally:
        if handler is not None:
            log.removeHandler(handler)
            handler.close()


if __name__ == "__main__":
    sys.exit(main())
