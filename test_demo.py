"""NTIRE Efficient Super-Resolution (x4): evaluate team models as the organizers do.

    python test_demo.py                      # every registered model of 2023 on the embedded demo set
    python test_demo.py --model_id 5 --data_dir DATA --include_test --ssim
    python test_demo.py --year 2026 --model_id 0 --dataset ../shared/data/Set5 --runs 5
    python test_demo.py --list               # the registered teams of every year

Flow: models → splits (checked before any forward) → per model: complexity at 256×256, then per
split: ``--runs`` × (forward, time), the first run scored and saved → results file (after each
split) → Table 1.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import logging
import sys
import warnings
from pathlib import Path

import torch
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import models
from benchmark.cli import _HelpFormatter, pick_splits
from benchmark.core import host
from benchmark.core.errors import HarnessError, OneLineParser, error_line
from benchmark.core.files import companion
from benchmark.core.years import DEFAULT_YEAR, YEARS, get_year
from benchmark.data.splits import Split
from benchmark.measure.complexity import measure
from benchmark.measure.loop import DEVICE_FORMS, TILE_OVERLAP, ImageResult, pick_device
from benchmark.measure.profiler import profile_model
from benchmark.measure.runs import ProgressBars, Settings, image_line, run_splits
from benchmark.record.entry import run_record
from benchmark.record.store import read_results, update_results
from benchmark.report.results_txt import write_results_txt
from benchmark.report.tables import (
    complexity_table,
    factsheet_table,
    layers_table,
    profile_view,
    table1_comparison,
    unseen_table,
)

console = Console(width=None if sys.stdout.isatty() else 160)
log = logging.getLogger("test_demo")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The flags; a HarnessError (one line) for a value that cannot be run."""
    p = OneLineParser(prog="python test_demo.py", description=__doc__.split("\n\n")[0], formatter_class=_HelpFormatter)
    official = p.add_argument_group("official flags")
    official.add_argument("--data_dir", type=Path, help="challenge data: DIV2K_valid_HR/… (2023) or DIV2K_LSDIR_valid_HR/…")
    official.add_argument("--save_dir", type=Path, default=Path("results"), help="SR images go to SAVE_DIR/<model>/<split>/")
    official.add_argument("--model_id", type=int, nargs="+", action="extend",
                          help="team ids of --year, each once; repeat the flag to add more (default: every registered one)")
    official.add_argument("--include_test", action="store_true", help="also run the test split")
    official.add_argument("--hybrid_test", action="store_true", help="run the 2023 LSDIR+DIV2K test split instead")
    official.add_argument("--ssim", action="store_true", help="also compute SSIM")
    p.add_argument("--year", type=int, default=DEFAULT_YEAR, choices=list(YEARS),
                   help="challenge year: its teams, --data_dir layout, FLOPs figure of record and runs")
    p.add_argument("--runs", type=int, help="time each split N times and report the mean (default: the year's, "
                   "1 in 2023, 5 from 2024)")
    p.add_argument("--list", action="store_true", help="list the registered teams of every year and stop")
    p.add_argument("--dataset", type=Path, nargs="+", action="extend", default=[],
                   help="folders with HR/ and LR_bicubic/X4/")
    p.add_argument("--checkpoint", type=Path, help="checkpoint for the single --model_id (default: model_zoo/<file>)")
    p.add_argument("--model_zoo", type=Path, default=models.spec.MODEL_ZOO, help="folder of teamNN_name.pth files")
    p.add_argument("--trust-checkpoint", action="store_true", help="allow checkpoints holding pickled objects (can run code)")
    p.add_argument("--offline", action="store_true", help="never download; a missing checkpoint means a timing-only run")
    p.add_argument("--zoo-url", metavar="BASE", help="fetch missing checkpoints from BASE/<file> instead of each team's "
                   "official url (default: $ESR_ZOO_URL); every file is checked against its published sha256")
    p.add_argument("--device", default="auto", help=f"one of {DEVICE_FORMS}")
    p.add_argument("--results", type=Path, default=Path("results/results.json"),
                   help="results file, one record per model (R.txt and R.log are written beside it)")
    p.add_argument("--warmup", type=int, default=3, help="untimed forwards before each split, 0 or more (0: official "
                   "cold timing)")
    p.add_argument("--repeat", type=int, default=1, help="timed forwards per image, at least 1; the median is kept")
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
    repeated = sorted({i for i in args.model_id or [] if args.model_id.count(i) > 1})
    if repeated:
        p.error(f"--model_id {repeated[0]} is given twice; list each team once")
    if args.checkpoint and (not args.model_id or len(args.model_id) > 1):
        p.error("--checkpoint needs exactly one --model_id")
    if args.reproduce_table1 and (args.year != 2023 or (args.model_id and 5 not in args.model_id)):
        p.error("--reproduce-table1 compares SRneXt's figures (team 5 of 2023): add --model_id 5")
    if args.tile is not None and args.tile <= TILE_OVERLAP:
        p.error(f"--tile {args.tile}: must be larger than the {TILE_OVERLAP}-pixel overlap")
    if args.runs is None:
        args.runs = get_year(args.year).runs
    if args.runs < 1:
        p.error(f"--runs {args.runs}: must be at least 1")
    if args.repeat < 1:
        p.error(f"--repeat {args.repeat}: must be at least 1 (timed forwards per image)")
    if args.warmup < 0:
        p.error(f"--warmup {args.warmup}: must be 0 or more (0 is the official cold timing)")
    return args


def pick_checkpoint(spec: models.ModelSpec, args: argparse.Namespace) -> Path | None:
    if args.checkpoint is not None:
        return args.checkpoint
    return models.fetch_checkpoint(spec, args.model_zoo, base_url=args.zoo_url, offline=args.offline)


def models_table() -> Table:
    """Every registered team, year by year: what ``--year Y --model_id N`` selects."""
    table = Table(title="Registered teams (--year Y --model_id N)", title_justify="left")
    for column in ("year", "id", "results name", "data range", "checkpoint", "official url"):
        table.add_column(column, justify="right" if column in ("year", "id", "data range") else "left")
    for spec in models.list_models():
        table.add_row(str(spec.year), str(spec.team_id), escape(spec.display_name), f"{spec.data_range:g}",
                      escape(spec.checkpoint), escape(spec.url or "-"))
    return table


def run_model(spec: models.ModelSpec, splits: list[Split], args: argparse.Namespace, settings: Settings) -> str:
    """Measure, run and record one model; returns its results name."""
    name, device = spec.display_name, settings.device
    checkpoint = None if args.profile_only else pick_checkpoint(spec, args)
    fast = args.fast and spec.fast_builder is not None
    model = models.create_model(spec.team_id, checkpoint, device, year=spec.year, fast=fast,
                                trust_checkpoint=args.trust_checkpoint)
    figures = measure(models.create_model(spec.team_id, year=spec.year) if fast else model)  # always the faithful one
    counter = get_year(spec.year).flops_counter
    console.print(complexity_table(name, figures, counter))
    if args.profile_only:
        for table in (unseen_table(figures), layers_table(figures)):
            if table is not None:
                console.print(table)
        return name
    if args.profile:
        console.print(profile_view(name, profile_model(model, device=device)))
    if checkpoint is None and spec.url is None:  # fetch_checkpoint has said where the official file comes from
        console.print(f"[yellow]{escape(f'{name}: no checkpoint {args.model_zoo / spec.checkpoint}; timing only, PSNR n/a')}[/]")
    record = run_record(figures, checkpoint=checkpoint, variant="fast" if fast else "faithful", year=spec.year,
                        code=[Path(inspect.getfile(spec.builder))], data_range=spec.data_range, device=device)
    replaced = update_results(args.results, name, record).replaced_line(name)
    if replaced:
        console.print(escape(replaced))

    def on_image(split: str, run: int, result: ImageResult) -> None:
        bars(split, run, result)
        log.info("%s", image_line(split, run, result))

    def on_split(split: str, keys: dict) -> None:
        written = update_results(args.results, name, record, {split: keys})
        write_results_txt(written.results, companion(args.results, ".txt"))
        log.info("%s %s done: %d run(s), mean %.2f ms, wall %.2f s, forward %.2f s", name, split, args.runs,
                 keys[f"{split}_ave_runtime"], keys[f"{split}_wall_seconds"], keys[f"{split}_forward_seconds"])

    bars = ProgressBars(console, splits, settings.runs)
    try:
        run_splits(model, name, spec.data_range, splits, settings, scored=checkpoint is not None, on_image=on_image,
                   on_split=on_split)
    finally:
        bars.close()
    return name


class _LogFile(logging.FileHandler):
    """The per-image log. It is a convenience: a log that cannot be written (a full disk) says so once, in one
    line, and the run goes on (the results file is what counts); logging's own traceback is never printed."""

    failed = False

    def handleError(self, record: logging.LogRecord) -> None:  # logging's name
        if not self.failed:
            self.failed = True
            err = sys.exc_info()[1]
            reason = getattr(err, "strerror", None) or (type(err).__name__ if err is not None else "unknown error")
            print(f"warning: {self.baseFilename}: cannot write the log ({reason}); the run goes on without it",
                  file=sys.stderr)

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # flushing what a full disk refused fails again
            super().close()


def open_log(path: Path) -> logging.Handler:
    """Append this run's per-image lines to ``path`` (named after the results file)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = _LogFile(path)
    except OSError as err:
        raise HarnessError(f"{path}: cannot write the log ({err.strerror}); choose another --results folder") from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    return handler


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except HarnessError as err:
        print(error_line(err), file=sys.stderr)
        return 2
    if args.list:
        console.print(models_table())
        return 0
    host.keep_freed_memory()
    warnings.showwarning = _one_line_warning
    handler: logging.Handler | None = None
    try:
        device = pick_device(args.device)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = False
        specs = [models.get_spec(i, args.year) for i in args.model_id] if args.model_id else models.list_models(args.year)
        splits = [] if args.profile_only else pick_splits(args, args.year, [spec.display_name for spec in specs])
        if not args.profile_only:
            handler = open_log(companion(args.results, ".log"))
            log.info("run: %s", " ".join(sys.argv))
        settings = Settings(device=device, runs=args.runs, warmup=args.warmup, repeat=args.repeat, ssim=args.ssim,
                            y_channel=args.y_channel, tile=args.tile, save_dir=None if args.no_save else args.save_dir)
        names = [run_model(spec, splits, args, settings) for spec in specs]
        if args.profile_only:
            return 0
        results = read_results(args.results)
        console.print(factsheet_table({n: results[n] for n in names}), crop=False)  # never cut a figure
        if args.reproduce_table1:
            console.print(table1_comparison(results["05_SRneXt"]))
        console.print(escape(f"results: {args.results} and {companion(args.results, '.txt')}"))
        return 0
    except HarnessError as err:
        if args.debug:
            raise
        print(error_line(err), file=sys.stderr)
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
