"""What every command shares: flag groups, the one-line error wrapper, the console, and the splits to run."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from benchmark.core.errors import HarnessError
from benchmark.data.splits import Split, check_split, gather_splits
from benchmark.measure.loop import forwards_per_image
from benchmark.record.keys import check_split_names, splits_of
from benchmark.record.store import read_results

TILE_WARN_FORWARDS = 1000
"""A ``--tile`` that means this many forwards for one image is warned about before any forward."""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The description as written, and each flag's default after its help (where it has a value to show)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, []) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


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
