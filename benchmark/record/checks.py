"""Checks of records read back from a file (a hand-edited or foreign results file): every figure a table reads is a finite number ≥ 0."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.core.errors import HarnessError, shown
from benchmark.measure.complexity import COUNTERS, record_counters
from benchmark.record.keys import split_names, splits_of


def why_not_a_figure(value: Any) -> str | None:
    """Why ``value`` read from a results file is not a figure (a finite number ≥ 0), or None when it is one."""
    if value is None:
        return "null"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{shown(value)}, not a number"
    try:
        number = float(value)
    except OverflowError:
        return f"{shown(value)}, too large for a number"
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "infinite"
    return f"negative ({value!r})" if number < 0 else None


LARGEST_COUNT = 2**53
"""The largest whole number a count may be: a float holds every whole number up to it, and a table's integer column
(int64) holds it."""


def why_not_a_count(value: Any, *, signed: bool = False) -> str | None:
    """Why ``value`` read from a results file is not a whole number of at most :data:`LARGEST_COUNT` (≥ 0, or of
    either sign when ``signed``: a team id, which a ``model_id == -1`` branch makes negative), or None when it is
    one."""
    why = why_not_a_figure(value)
    if why is not None and not (signed and why.startswith("negative")):
        return why
    if not float(value).is_integer():
        return f"{value!r}, not a whole number"
    return f"{shown(value)}, too large for a count" if abs(value) > LARGEST_COUNT else None


def why_not_an_interval(value: Any) -> str | None:
    """None when ``value`` is an interval ``[low, high]`` of two figures, else the value as a message shows it."""
    if isinstance(value, list) and len(value) == 2 and all(why_not_a_figure(v) is None for v in value):
        return None
    return shown(value)


SPLIT_FIGURES = {"ave_runtime": "a runtime in ms", "ave_psnr": "a PSNR in dB", "memory": "a memory figure in MiB"}
DRY_RUN_NULLS = ("ave_runtime", "memory", "runs_ave_runtime")
"""Split figures a CPU dry run (``dry_run: true``) holds as null: they would be the CPU's, not the team's device's."""
"""The per-split figures the leaderboard reads from a results entry, and what each must be."""


ENTRY_FIGURES = {"num_parameters": "a parameter count in M", "flops": "a FLOPs figure in G",
                 "activations": "an activation count in M", "num_conv": "a convolution count"}


TABLE_FIGURES = ("ave", "val_t", "test_t", "params", "flops", "acts", "mem", "conv")
"""The published table's columns of figures (with every ``*_psnr`` and ``*_t``): numbers, never negative."""


REFUSAL_FIX = "; correct it in the file or re-run test_demo.py for this model"
"""How each refusal of a record's value ends; the site, which leaves the model out instead, says that in its place."""


def _refuse(name: str, path: Path, key: str, why: str, kind: str) -> HarnessError:
    return HarnessError(f"model {name}: {key} is {why} in {path}, not {kind}{REFUSAL_FIX}")


def _times(value: Any, *, timed: bool = False) -> str | None:
    """Why ``value`` is not a list of run times [ms] (figures; each above zero where ``timed``: one forward's time),
    or None when it is one."""
    if not isinstance(value, list) or not value:
        return f"{shown(value)}, not a list of times"
    why = next((f"a list holding {why}" for v in value if (why := why_not_a_figure(v)) is not None), None)
    if why is None and timed and 0 in value:
        why = "a list holding a time of 0 ms (a timed forward takes longer: no ratio is made of it)"
    return why


def why_not_pairs(value: Any) -> str | None:
    """Why ``value`` is not the paired times ``measure.paired`` records (runs × images, model and baseline alike)."""
    if not isinstance(value, dict) or not isinstance(value.get("model"), list) or \
            not isinstance(value.get("baseline"), list):
        return f"{shown(value)}, not an object of model and baseline times"
    runs = value["model"] + value["baseline"]
    shapes = {len(run) if isinstance(run, list) else -1 for run in runs}
    if len(value["model"]) != len(value["baseline"]) or len(shapes) != 1:
        return "a model and a baseline of different runs or images"
    return next((why for run in runs if (why := _times(run, timed=True)) is not None), None)


def check_entry(name: str, entry: dict[str, Any], path: Path, splits: list[str] | None = None) -> None:
    """Every figure of ``name``'s entry that the leaderboard, plots or factsheet read is a finite number ≥ 0, and
    every field they read has its type: a HarnessError naming the model, the key and the value otherwise.

    The split figures checked are those of the entry's own splits and of ``splits`` (every model's: the
    leaderboard reads each of them from every entry). A figure that is absent is not checked here: the
    leaderboard says which model lacks it when it needs it (a model without a checkpoint has no PSNR, shown n/a).
    """
    def refuse(key: str, why: str, kind: str) -> HarnessError:
        return _refuse(name, path, key, why, kind)

    own = entry.get("splits")
    if "splits" in entry and not split_names(own):
        raise refuse("splits", shown(own), "a list of split names")
    for split in dict.fromkeys([*splits_of(entry), *(splits or [])]):
        for suffix, kind in SPLIT_FIGURES.items():
            key = f"{split}_{suffix}"
            if entry.get("dry_run") is True and suffix in DRY_RUN_NULLS and entry.get(key, 0) is None:
                continue  # a CPU dry run measures no runtime or memory of record: null, as documented
            if key in entry and (why := why_not_a_figure(entry[key])) is not None:
                raise refuse(key, why, kind)
        kind_key = f"{split}_memory_kind"
        if entry.get(kind_key) is not None and not isinstance(entry[kind_key], str):
            raise refuse(kind_key, shown(entry[kind_key]), "the kind of memory measured")
        images = entry.get(f"{split}_images")
        if images is not None and (not isinstance(images, list) or not all(isinstance(i, str) for i in images)):
            raise refuse(f"{split}_images", shown(images), "a list of image names")
        for suffix, check, kind in (("runs_ave_runtime", _times, "each run's mean runtime [ms]"),
                                    ("baseline_pairs", why_not_pairs, "the paired times of --vs-baseline")):
            key = f"{split}_{suffix}"
            if entry.get("dry_run") is True and suffix in DRY_RUN_NULLS and entry.get(key, 0) is None:
                continue
            if key in entry and (why := check(entry[key])) is not None:
                raise refuse(key, why, kind)
    for key, kind in ENTRY_FIGURES.items():
        if key in entry and (why := why_not_a_figure(entry[key])) is not None:
            raise refuse(key, why, kind)
    if "num_conv" in entry and not float(entry["num_conv"]).is_integer():
        raise refuse("num_conv", repr(entry["num_conv"]), "a whole number of convolutions")
    complexity = entry.get("complexity")
    if "complexity" in entry and not isinstance(complexity, dict):
        raise refuse("complexity", shown(complexity), "the object of exact counts test_demo.py writes")
    for key in (c.field for c in COUNTERS.values()):
        if isinstance(complexity, dict) and key in complexity and (why := why_not_a_figure(complexity[key])) is not None:
            raise refuse(f"complexity.{key}", why, "a FLOPs count")
    if "flops_counter" in entry and entry["flops_counter"] not in record_counters():
        raise refuse("flops_counter", shown(entry["flops_counter"]), f"one of {', '.join(record_counters())}")
    environment = entry.get("environment")
    if "environment" in entry and not isinstance(environment, dict):
        raise refuse("environment", shown(environment), "an object naming the device")
    if isinstance(environment, dict) and not isinstance(environment.get("device", ""), str):
        raise refuse("environment.device", shown(environment["device"]), "a device name such as 'cuda:0'")


def check_table(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The published table with every figure column numeric: a HarnessError naming the row or team and the
    column for an empty team name, a figure that is not a number, infinite or negative. Empty cells stay NaN
    (the ranking names the teams that lack a figure it needs; a missing PSNR shows n/a)."""
    table = table.copy()
    for row, team in enumerate(table["team"], start=2):  # line 1 is the header
        if pd.isna(team) or not str(team).strip():
            raise HarnessError(f"--table {path}: line {row} has no team name; fill in its team column")
    table["team"] = table["team"].astype(str).str.strip()
    columns = [c for c in table.columns if c in TABLE_FIGURES or str(c).endswith(("_psnr", "_t"))]
    for col in columns:
        values = pd.to_numeric(table[col], errors="coerce").astype(float)
        for team, raw, value in zip(table["team"], table[col], values):
            if pd.isna(value) and not pd.isna(raw):
                why = f"{shown(raw)}, not a number"
            elif math.isinf(value):
                why = "infinite"
            elif value < 0:
                why = f"negative ({value:g})"
            else:
                continue
            raise HarnessError(f"--table {path}: team {team} has {col} = {why}; correct the row")
        table[col] = values
    return table
