"""What every command shares: the console, the one-line error wrapper, flag groups, settings and the splits to run.

Each command (``test_demo.py``, ``python -m benchmark.{compare,submit,prepare,speed,sweep,site}``)
parses its own flags with these groups and hands plain values to the packages below; nothing
below imports this module.
"""

from __future__ import annotations

import argparse
import inspect
import math
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch
from rich.console import Console

from benchmark.core.errors import HarnessError, OneLineParser, error_line
from benchmark.core.files import key_of, why_not_a_file
from benchmark.core.years import DEFAULT_YEAR, get_year
from benchmark.data.splits import Split, check_split, gather_splits
from benchmark.measure.backend import DEVICE_FORMS, PRECISIONS
from benchmark.measure.deploy import BACKENDS
from benchmark.measure.loop import TILE_OVERLAP, forwards_per_image
from benchmark.measure.settings import Settings
from benchmark.organizer.account import resolve as resolve_account
from benchmark.record.keys import REFERENCE, check_split_names, splits_of
from benchmark.record.store import read_results

if TYPE_CHECKING:
    from models import ModelSpec

TILE_WARN_FORWARDS = 1000
"""A ``--tile`` that means this many forwards for one image is warned about before any forward."""


def console(width: int = 160) -> Console:
    """The console every command prints to: the terminal's width, or ``width`` columns when piped to a file."""
    return Console(width=None if sys.stdout.isatty() else width, highlight=False)


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The description as written, and each flag's default after its help (where it has a value to show)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default == [] \
                or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def parser(prog: str, doc: str) -> OneLineParser:
    """A command's parser: its docstring's first paragraph as the description, defaults shown, mistakes one line."""
    return OneLineParser(prog=prog, description=doc.split("\n\n")[0], formatter_class=HelpFormatter)


def run(p: argparse.ArgumentParser, argv: list[str] | None, body: Callable[[argparse.Namespace], int],
        interrupted: str | None = None) -> int:
    """Parse ``argv`` and run ``body``: a user's mistake (a HarnessError) is one ``error:`` line and exit status 2
    (its traceback with ``--debug``); Ctrl-C prints ``interrupted: …`` and exits 130 when ``interrupted`` says
    what was kept."""
    try:
        args = p.parse_args(argv)
    except HarnessError as err:
        print(error_line(err), file=sys.stderr)
        return 2
    try:
        return body(args)
    except HarnessError as err:
        if getattr(args, "debug", False):
            raise
        print(error_line(err), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if interrupted is None:
            raise
        print(f"interrupted: {interrupted}", file=sys.stderr)
        return 130


def add_official(p: argparse.ArgumentParser, save_dir: Path | None) -> None:
    """The official harness's flags, with their meaning: ``--data_dir --save_dir --model_id --include_test
    --hybrid_test --ssim``."""
    g = p.add_argument_group("official flags")
    g.add_argument("--data_dir", type=Path, help="challenge data: DIV2K_valid_HR/… (2023) or DIV2K_LSDIR_valid_HR/…")
    g.add_argument("--save_dir", type=Path, default=save_dir, help="SR images go to SAVE_DIR/<model>/<split>/")
    g.add_argument("--model_id", type=int, nargs="+", action="extend",
                   help="team ids of --year, each once; repeat the flag to add more (default: every one)")
    g.add_argument("--include_test", action="store_true", help="also run the test split")
    g.add_argument("--hybrid_test", action="store_true", help="run the 2023 LSDIR+DIV2K test split instead")
    g.add_argument("--ssim", action="store_true", help="also compute SSIM")


def add_measurement(p: argparse.ArgumentParser) -> None:
    """How a run measures: the data folders, device, runs, warm-up, the baseline beside, repeats, Y channel."""
    p.add_argument("--dataset", type=Path, nargs="+", action="extend", default=[],
                   help="folders with HR/ and LR_bicubic/X4/")
    p.add_argument("--device", default="auto", help=f"one of {DEVICE_FORMS}")
    p.add_argument("--runs", type=int, help="time each split N times and report the mean (default: the year's, "
                   "1 in 2023, 5 from 2024)")
    p.add_argument("--warmup", type=int, default=0, help="also time each split after N untimed forwards, recorded "
                   "beside the official cold timing (0: the official timing only)")
    p.add_argument("--vs-baseline", action="store_true", help="also time the year's baseline (team 00) beside the "
                   "model, image by image, for the runtime ratio, the predicted score and rank")
    p.add_argument("--repeat", type=int, default=1, help="timed forwards per image, at least 1; the median is kept")
    p.add_argument("--y-channel", action="store_true", help="also compute PSNR/SSIM on the Y channel")
    p.add_argument("--gpu-memory", type=float, metavar="GIB", help="let the run allocate at most GIB on the GPU, to see "
                   "whether the model fits a smaller card (the organizers'); an image that does not fit runs in tiles")
    p.add_argument("--backend", choices=list(BACKENDS), default="eager",
                   help="run the model as it would ship (recorded as NAME@BACKEND-PRECISION, compared with FP32 eager "
                        "on every image); eager in fp32 is the official protocol")
    p.add_argument("--precision", choices=list(PRECISIONS), default="fp32", help="the backend's arithmetic")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def add_checkpoints(p: argparse.ArgumentParser, model_zoo: Path | None) -> None:
    """Where registered teams' checkpoints come from."""
    p.add_argument("--model_zoo", type=Path, default=model_zoo, help="folder of teamNN_name.pth files")
    p.add_argument("--offline", action="store_true", help="never download; a missing checkpoint means a timing-only run")
    p.add_argument("--zoo-url", metavar="BASE", help="fetch missing checkpoints from BASE/<file> instead of each team's "
                   "official url (default: $ESR_ZOO_URL); every file is checked against its published sha256")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="let checkpoints hold pickled objects (as torch.load did before 2.6); they can run code")


def add_network(p: argparse.ArgumentParser) -> None:
    """A network given as a file outside the checkout, measured without a team file: ``--model FILE:Class``."""
    g = p.add_argument_group("a network given as a file (no team file, nothing in the checkout edited)")
    g.add_argument("--model", metavar="FILE:CLASS", help="the file that defines the network and its class, e.g. "
                   "path/to/arch.py:MyNet (its weights: --checkpoint)")
    g.add_argument("--data-range", type=float, default=255.0, choices=(1.0, 255.0),
                   help="the input range the network takes: 1 ([0, 1]) or 255")
    g.add_argument("--model-args", metavar="JSON", help="the class's constructor arguments as a JSON object, e.g. "
                   "'{\"dim\": 48}' (default: none)")
    g.add_argument("--name", help="the network's results name (default: the class's name)")


def network_spec(p: OneLineParser, args: argparse.Namespace, year: int) -> ModelSpec | None:
    """The spec of ``--model`` (None without it); a mistake in the flags is one line."""
    if args.model is None:
        for flag, value in (("--model-args", args.model_args), ("--name", args.name)):
            if value is not None:
                p.error(f"{flag} is for a network given with --model FILE:Class")
        return None
    import json

    import models

    try:
        kwargs = json.loads(args.model_args) if args.model_args else {}
    except ValueError as err:
        p.error(f"--model-args {args.model_args}: not JSON ({err})")
    if not isinstance(kwargs, dict):
        p.error(f"--model-args {args.model_args}: expected a JSON object of argument names and values")
    if args.name is not None and key_of(args.name, "") != args.name:
        p.error(f"--name {args.name!r}: give a plain name (letters, digits, _ . -), without separators")
    checkpoint = getattr(args, "checkpoint", None)
    why = None if checkpoint is None else why_not_a_file(checkpoint)
    if why is not None:  # the atlas would find it after every repository
        p.error(f"--checkpoint {checkpoint}: {why}; pass the file of the --model network's weights")
    where = Path(args.model.rpartition(":")[0])
    if where.is_file() and where.suffix != ".py":  # Python's importer reads a module only from a .py file
        p.error(f"--model {args.model}: {where.name} is not named .py; copy or link it as {where.stem}.py and pass "
                "that")
    spec = models.file_spec(args.model, data_range=args.data_range, kwargs=kwargs, name=args.name, year=year)
    _check_builder(p, args.model, spec.builder, kwargs)
    return spec


def _check_builder(p: OneLineParser, target: str, builder: Callable, kwargs: dict) -> None:
    """A class that is no network, or arguments its constructor does not take: one line before anything is built
    (the atlas would otherwise sweep every repository before the network's own sweep said so)."""
    name = target.rpartition(":")[2]
    if isinstance(builder, type) and not issubclass(builder, torch.nn.Module):
        p.error(f"--model {target}: {name} is not a torch.nn.Module; name the network's class")
    try:
        signature = inspect.signature(builder)
    except ValueError:  # no signature to read (a builtin): building it will say
        return
    try:
        signature.bind(**kwargs)
    except TypeError as err:
        missing = [n for n, a in signature.parameters.items() if a.default is a.empty and n not in kwargs
                   and a.kind in (a.POSITIONAL_OR_KEYWORD, a.KEYWORD_ONLY)]
        why = f"missing {', '.join(map(repr, missing))}" if missing else str(err)
        p.error(f"--model {target}: {name} cannot be built with {kwargs or 'no arguments'} ({why}); pass its "
                "constructor's arguments with --model-args JSON")


def check_sweep_limits(p: OneLineParser, args: argparse.Namespace) -> None:
    """Refuse, in one line, the sweep's device and limit flags that cannot be run (a sweep's, and the atlas's, which
    passes them to each of its sweeps and so checks them before any)."""
    if args.runs is not None and args.runs < 1:
        p.error(f"--runs {args.runs}: must be at least 1")
    if args.devices and args.device != "auto":
        p.error("give --device or --devices, not both")
    if args.ray and args.devices:
        p.error("--ray places each team on a GPU of the cluster itself; drop --devices")
    if args.ray and args.device not in ("auto", "cpu", "cuda"):
        p.error(f"with --ray, --device is auto, cpu or cuda (Ray picks the GPU), not one of {DEVICE_FORMS}")
    if args.timeout is not None and not (math.isfinite(args.timeout) and args.timeout > 0):
        p.error(f"--timeout {args.timeout}: must be a positive number of seconds")
    if args.memory_cap is not None and not (math.isfinite(args.memory_cap) and args.memory_cap > 0):
        p.error(f"--memory-cap {args.memory_cap}: must be a positive number of GB")
    if args.cpu_dry_run and (args.devices or args.device not in ("auto", "cpu")):
        p.error("--cpu-dry-run runs every team on the CPU; drop --device/--devices")
    if args.run_as is not None:
        if getattr(args, "save_dir", None) is not None:
            p.error("--run-as USER: the team's account writes no SR images into --save_dir; drop one of them")
        resolve_account(args.run_as)  # a user who cannot confine a team (none, root, or this is not root): one line now


def check_measurement(p: OneLineParser, args: argparse.Namespace) -> None:
    """Refuse, in one line, values of the shared flags that cannot be run."""
    repeated = sorted({i for i in args.model_id or [] if args.model_id.count(i) > 1})
    if repeated:
        p.error(f"--model_id {repeated[0]} is given twice; list each team once")
    if args.runs is not None and args.runs < 1:
        p.error(f"--runs {args.runs}: must be at least 1")
    if args.repeat < 1:
        p.error(f"--repeat {args.repeat}: must be at least 1 (timed forwards per image)")
    if args.gpu_memory is not None and not (math.isfinite(args.gpu_memory) and args.gpu_memory > 0):
        p.error(f"--gpu-memory {args.gpu_memory}: must be a positive number of GiB")
    if args.vs_baseline and (args.backend, args.precision) != REFERENCE:
        p.error(f"--vs-baseline with --backend {args.backend} --precision {args.precision}: the ratio and the "
                "predicted score are timed as the organizers time, in eager fp32; drop --backend/--precision")
    if args.warmup < 0:
        p.error(f"--warmup {args.warmup}: must be 0 or more (0: the official cold timing only)")
    if getattr(args, "tile", None) is not None and args.tile <= TILE_OVERLAP:
        p.error(f"--tile {args.tile}: must be larger than the {TILE_OVERLAP}-pixel overlap")


def settings_of(args: argparse.Namespace, device: torch.device = Settings.device, year: int | None = None) -> Settings:
    """The run's settings from the shared flags; ``--runs`` defaults to ``year``'s number of runs."""
    runs = args.runs if args.runs is not None else get_year(year if year is not None else DEFAULT_YEAR).runs
    save_dir = None if getattr(args, "no_save", False) or args.save_dir is None else args.save_dir
    return Settings(device=device, runs=runs, warmup=args.warmup, repeat=args.repeat, ssim=args.ssim,
                    y_channel=args.y_channel, tile=getattr(args, "tile", None), save_dir=save_dir,
                    vs_baseline=args.vs_baseline, gpu_memory=args.gpu_memory, backend=args.backend,
                    precision=args.precision, reference=getattr(args, "reference", None))


def recorded_splits(results: Path, names: list[str]) -> dict[str, str]:
    """The splits already recorded in ``results`` for the models ``names`` (split → where, for messages).

    A results file that cannot be read is no obstacle here: the first update keeps it aside and says so.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            entries = read_results(results) if results.is_file() else {}
    except (HarnessError, OSError):
        return {}
    found: dict[str, str] = {}
    for name in names:
        for split in splits_of(entries.get(name) or {}):
            if isinstance(split, str):
                found.setdefault(split, f"recorded for {name} in {results}")
    return found


def warn_tiles(splits: list[Split], sizes: list[list[tuple[int, int]]], tile: int | None) -> None:
    """One warning line, before any forward, when ``--tile`` means thousands of forwards for an image."""
    if tile is None:
        return
    count, pair, (w, h) = max(((forwards_per_image(h, w, tile), pair, (w, h))
                               for split, split_sizes in zip(splits, sizes)
                               for pair, (w, h) in zip(split.pairs, split_sizes)), key=lambda item: item[0])
    if count >= TILE_WARN_FORWARDS:
        print(f"warning: --tile {tile}: {count:,} forwards for the largest image ({pair.lr.name}, {w}×{h}); "
              f"a larger --tile needs far fewer", file=sys.stderr)


def pick_splits(args: argparse.Namespace, year: int | None, names: list[str] | tuple[str, ...] = ()) -> list[Split]:
    """The splits to run (``--dataset``, ``--data_dir`` of ``year``, or the demo set), checked before any forward:
    names (against each other and against the splits recorded in ``--results`` for the models ``names``), pairs and
    sizes; warns when ``--tile`` means thousands of forwards."""
    splits = gather_splits(args.dataset, args.data_dir, year, args.include_test, getattr(args, "hybrid_test", False))
    recorded = recorded_splits(args.results, list(names)) if args.results is not None and names else {}
    check_split_names(splits, recorded)
    sizes = [check_split(split, ssim=args.ssim) for split in splits]
    warn_tiles(splits, sizes, getattr(args, "tile", None))
    return splits
