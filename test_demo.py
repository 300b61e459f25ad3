"""NTIRE Efficient Super-Resolution (x4): evaluate team models as the organizers do.

    python test_demo.py                      # every registered model of 2023 on the embedded demo set
    python test_demo.py --model_id 5 --data_dir DATA --include_test --ssim
    python test_demo.py --year 2026 --model_id 0 --dataset ../shared/data/Set5 --runs 5
    python test_demo.py --year 2026 --model_id 0 --dataset ../shared/data/Set5 --vs-baseline
    python test_demo.py --list               # the registered teams of every year
    python test_demo.py --year 2026 --model path/to/arch.py:MyNet --checkpoint w.pth --data-range 1 --dataset DIR

Flow: models → splits (checked before any forward) → per model: complexity at 256×256, then per
split: ``--runs`` × (forward, time), cold, the first run scored and saved → results file (after each
split); with ``--vs-baseline`` each split again beside the year's baseline, A B B A, and the
predicted score and rank → Table 1 with each runtime's spread.
"""

from __future__ import annotations

from benchmark.core import host

host.sleeping_threads()  # before anything loads PyTorch's OpenMP threads

import argparse
import contextlib
import logging
import sys
import warnings
from pathlib import Path

from rich.markup import escape
from rich.table import Table

import models
from benchmark import cli
from benchmark.core.errors import HarnessError
from benchmark.core.files import companion
from benchmark.core.years import DEFAULT_YEAR, YEARS, get_year
from benchmark.data.splits import Split
from benchmark.measure.backend import Unavailable, cap_gpu_memory, pick_device
from benchmark.measure.complexity import measure
from benchmark.measure.deploy import DeploymentFailed, make_backend
from benchmark.measure.loop import ImageResult
from benchmark.measure.paired import Baseline, load_baseline
from benchmark.measure.profiler import profile_model
from benchmark.measure.settings import Settings
from benchmark.rank.predict import prediction
from benchmark.record.keys import REFERENCE, results_name, splits_of
from benchmark.record.run import measure_and_record
from benchmark.record.store import check_results_path, merge_failures, read_results, update_results, withdraw
from benchmark.report.noise import pair_line, prediction_line, ratio_warning, split_warnings
from benchmark.report.progress import ProgressBars, image_line
from benchmark.report.results_txt import write_results_txt
from benchmark.report.tables import (
    complexity_table,
    factsheet_table,
    layers_table,
    profile_view,
    table1_comparison,
    unseen_table,
)

console = cli.console()
log = logging.getLogger("test_demo")


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("python test_demo.py", __doc__)
    cli.add_official(p, save_dir=Path("results"))
    p.add_argument("--year", type=int, default=DEFAULT_YEAR, choices=YEARS, metavar="YEAR",  # read when parsed
                   help="challenge year (%(choices)s): its teams, --data_dir layout, FLOPs figure of record and runs")
    p.add_argument("--list", action="store_true", help="list the registered teams of every year and stop")
    cli.add_measurement(p)
    p.add_argument("--results", type=Path, default=Path("results/results.json"),
                   help="results file, one record per model (R.txt and R.log are written beside it)")
    p.add_argument("--checkpoint", type=Path, help="checkpoint for the single --model_id (default: model_zoo/<file>) "
                   "or for --model")
    cli.add_checkpoints(p, model_zoo=models.spec.MODEL_ZOO)
    cli.add_network(p)
    p.add_argument("--tile", type=int, help="run in overlapping LR tiles of this size (overlap 32)")
    p.add_argument("--no-save", action="store_true", help="do not write SR images")
    p.add_argument("--fast", action="store_true", help="time the team's output-equivalent fast variant where it has one")
    p.add_argument("--profile", action="store_true", help="print each module's share of forward time and the "
                   "host-side work inside forward (torch.profiler, 1×3×256×256)")
    p.add_argument("--profile-only", action="store_true", help="print the complexity figures and stop (no data needed)")
    p.add_argument("--reproduce-table1", action="store_true", help="set SRneXt's figures beside its published Table 1")
    p.add_argument("--all-splits", action="store_true", help="Table 1 shows every split recorded for the models, not "
                   "only this run's")
    return p


def check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """The flags' own rules, and ``--runs`` resolved to the year's number when not given."""
    cli.check_measurement(p, args)
    if args.model is not None and (args.model_id or args.reproduce_table1 or args.list):
        p.error("--model measures the network it names; drop --model_id, --list and --reproduce-table1")
    if args.checkpoint and args.model is None and (not args.model_id or len(args.model_id) > 1):
        p.error("--checkpoint needs exactly one --model_id (or --model FILE:Class)")
    args.network = cli.network_spec(p, args, args.year)
    if args.reproduce_table1 and (args.year != 2023 or (args.model_id and 5 not in args.model_id)):
        p.error("--reproduce-table1 compares SRneXt's figures (team 5 of 2023): add --model_id 5")
    if args.reproduce_table1 and (args.backend, args.precision) != REFERENCE:
        p.error("--reproduce-table1 compares the figures of record (eager fp32): drop --backend and --precision")
    if args.runs is None:
        args.runs = get_year(args.year).runs
    return args


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The flags; a HarnessError (one line) for a value that cannot be run."""
    p = build_parser()
    return check_args(p, p.parse_args(argv))


def pick_checkpoint(spec: models.ModelSpec, args: argparse.Namespace) -> Path | None:
    if args.checkpoint is not None or spec.label is not None:  # a network given as a file has no official one
        return args.checkpoint
    return models.fetch_checkpoint(spec, args.model_zoo, base_url=args.zoo_url, offline=args.offline)


def models_table() -> Table:
    """Every registered team, year by year: what ``--year Y --model_id N`` selects."""
    specs = models.list_models()
    rows = [(str(s.year), str(s.team_id), s.display_name, f"{s.data_range:g}", s.checkpoint, s.url or "-") for s in specs]
    table = Table(title="Registered teams (--year Y --model_id N)", title_justify="left")
    for i, column in enumerate(("year", "id", "results name", "range", "checkpoint", "official url")):
        whole = i < 5  # every column but the url keeps its cells whole; the url folds over lines
        table.add_column(column, justify="right" if column in ("year", "id", "range") else "left", overflow="fold",
                         min_width=max(len(row[i]) for row in rows) if whole and rows else None)
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table


def run_model(spec: models.ModelSpec, splits: list[Split], args: argparse.Namespace, settings: Settings) -> str | None:
    """Measure, run and record one model; returns its results name, or None for a deployment run beyond its tolerance
    of FP32 eager (recorded as failed: :func:`record_failed`)."""
    name, device = results_name(spec.display_name, settings.backend, settings.precision), settings.device
    checkpoint = None if args.profile_only else pick_checkpoint(spec, args)
    fast = args.fast and spec.fast_builder is not None
    model = models.build_model(spec, checkpoint, device, fast=fast, trust_checkpoint=args.trust_checkpoint)
    figures = measure(models.build_model(spec) if fast else model)  # always the faithful one
    console.print(complexity_table(name, figures, get_year(spec.year).flops_counter))
    if args.profile_only:
        for table in (unseen_table(figures), layers_table(figures)):
            if table is not None:
                console.print(table)
        return name
    if args.profile:
        console.print(profile_view(name, profile_model(model, device=device)))
    if checkpoint is None and spec.url is None:  # fetch_checkpoint has said where the official file comes from
        what = "no --checkpoint given" if spec.label is not None else f"no checkpoint {args.model_zoo / spec.checkpoint}"
        console.print(f"[yellow]{escape(f'{name}: {what}; timing only, PSNR n/a')}[/]")

    def on_record(record: dict) -> None:
        replaced = update_results(args.results, name, record, derive=prediction).replaced_line(name)
        if replaced:
            console.print(escape(replaced))

    def on_image(split: str, run: int, result: ImageResult) -> None:
        bars(split, run, result)
        log.info("%s", image_line(split, run, result))

    def on_split(split: str, keys: dict) -> None:
        written = update_results(args.results, name, record, {split: keys}, derive=prediction)
        write_results_txt(written.results, companion(args.results, ".txt"))
        if f"{split}_baseline_ratio" in keys:  # called again once the pair is timed
            bars.close()
            console.print(escape(pair_line(name, split, keys)))
            log.info("%s", pair_line(name, split, keys))
            warnings_ = [line for line in [ratio_warning(name, split, keys)] if line]
        else:
            log.info("%s %s done: %d run(s), mean %.2f ms, wall %.2f s, forward %.2f s", name, split, settings.runs,
                     keys[f"{split}_ave_runtime"], keys[f"{split}_wall_seconds"], keys[f"{split}_forward_seconds"])
            warnings_ = split_warnings(name, split, keys)
        for line in warnings_:  # about the figures, not the input: on the console with them
            console.print(f"[yellow]{escape(line)}[/]")
            log.info("%s", line)

    def baseline() -> Baseline:
        console.print(escape(f"{name}: timing {models.get_spec(0, spec.year).display_name} beside it, A B B A"))
        return load_baseline(spec.year, device, args.model_zoo, base_url=args.zoo_url, offline=args.offline,
                             trust_checkpoint=args.trust_checkpoint)

    record: dict = {}
    bars = ProgressBars(console, splits, settings.runs)
    try:
        measured = measure_and_record(
            model, figures, name=name, data_range=spec.data_range, year=spec.year,
            checkpoints=[] if checkpoint is None else [checkpoint], code=spec.code(fast),
            splits=splits, settings=settings, scored=checkpoint is not None, variant="fast" if fast else "faithful",
            on_record=lambda r: (record.update(r), on_record(r)), on_image=on_image, on_split=on_split,
            baseline=baseline if settings.vs_baseline else None)
    except DeploymentFailed as err:
        bars.close()
        record_failed(args.results, name, str(err))
        return None
    except Unavailable:  # the way cannot run this network after all: the record it started holds no figure
        entry = read_results(args.results).get(name) if record else None
        if entry is not None and not splits_of(entry):
            withdraw(args.results, name, "its run could not go on")
        raise
    finally:
        bars.close()
    failures = companion(args.results, ".failures.json")
    if failures.is_file():  # an earlier failed run of this name is one no longer
        merge_failures(failures, {}, {name})
    if settings.vs_baseline:
        line = prediction_line(name, read_results(args.results)[measured.name])
        if line:
            console.print(escape(line))
            log.info("%s", line)
    return name


def record_failed(results: Path, name: str, reason: str) -> None:
    """A deployment run beyond its tolerance: its entry (the record written when it started, and any split of it) is
    taken out of the results file into the superseded file, the failure with its difference and PSNR change goes to
    the failures file (as a sweep's failed team), and the console says so in one line."""
    failures = companion(results, ".failures.json")
    withdrawn = withdraw(results, name, f"run beyond its deployment tolerance: {reason}")
    merge_failures(failures, {name: reason}, set())
    write_results_txt(withdrawn.results, companion(results, ".txt"))
    kept = "" if withdrawn.aside is None else f"; its record is kept in {withdrawn.aside}"
    line = f"{name} failed: {reason}; not recorded as {name}, the failure is in {failures}{kept}"
    console.print(f"[red]{escape(line)}[/]", soft_wrap=True)
    log.info("%s", line)


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


def evaluate(args: argparse.Namespace) -> int:
    if args.list:
        console.print(models_table())
        return 0
    host.keep_freed_memory()
    warnings.showwarning = _one_line_warning
    handler: logging.Handler | None = None
    try:
        if not args.profile_only:  # before anything is written beside it (R.log)
            check_results_path(args.results)
        settings = cli.settings_of(args, pick_device(args.device), args.year)
        if settings.gpu_memory is not None:  # refused before any work when it cannot apply
            cap_gpu_memory(settings.device, settings.gpu_memory)
        make_backend(settings.backend, settings.device, settings.precision)  # one that cannot run here: said first
        specs = [args.network] if args.network is not None else \
            [models.get_spec(i, args.year) for i in args.model_id] if args.model_id else models.list_models(args.year)
        splits = [] if args.profile_only else cli.pick_splits(args, args.year, [
            results_name(spec.display_name, settings.backend, settings.precision) for spec in specs])
        if not args.profile_only:
            handler = open_log(companion(args.results, ".log"))
            log.info("run: %s", " ".join(sys.argv))
        ran = [run_model(spec, splits, args, settings) for spec in specs]
        if args.profile_only:
            return 0
        names = [name for name in ran if name is not None]
        if names:
            results = read_results(args.results)
            shown = None if args.all_splits else [split.name for split in splits]
            console.print(factsheet_table({n: results[n] for n in names}, shown), crop=False)  # never cut a figure
            if args.reproduce_table1:
                console.print(table1_comparison(results["05_SRneXt"]))
            console.print(escape(f"results: {args.results} and {companion(args.results, '.txt')}"))
        return 0 if len(names) == len(ran) else 1
    finally:
        if handler is not None:
            log.removeHandler(handler)
            handler.close()


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    interrupted = "completed splits are kept in the results file; the split in progress was not recorded"
    return cli.run(p, argv, lambda args: evaluate(check_args(p, args)), interrupted=interrupted)


if __name__ == "__main__":
    sys.exit(main())
