"""The vocabulary of a results file: what makes a record one run (identity keys), the keys each split writes, and
split names that would mix those keys up."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from benchmark.core.errors import HarnessError
from benchmark.data.splits import OFFICIAL_SPLITS, Split
from benchmark.imaging.metrics import METRICS
from benchmark.measure.backend import REFERENCE

IDENTITY_KEYS = ("checkpoint_sha256", "variant", "year", "harness_version", "device_name", "code_sha256", "dry_run",
                 "backend", "precision")
"""What makes two runs of a model one record; any difference starts a new record."""


IDENTITY_LABELS = {"checkpoint_sha256": "checkpoint", "variant": "variant", "year": "year",
                   "harness_version": "harness version", "device_name": "device", "code_sha256": "team code",
                   "dry_run": "kind of run (CPU dry run or not)", "backend": "backend", "precision": "precision"}


def results_name(name: str, backend: str, precision: str) -> str:
    """Where a run is recorded: ``name`` for the official eager FP32 protocol, ``name@backend-precision``
    (``05_SRneXt@onnxruntime-fp32``) for any other, so a deployment run never replaces or mixes with the figures
    of record."""
    return name if (backend, precision) == REFERENCE else f"{name}@{backend}-{precision}"


SPLIT_SUFFIXES = ("runtime", *(m.key for m in METRICS), "memory", "ave_runtime", *(f"ave_{m.key}" for m in METRICS),
                  "runs_ave_runtime", "peak_memory", "images", "runtime_stats", "memory_kind", "wall_seconds",
                  "forward_seconds", "tiled", "saved", "warm_runtime", "warm_runtime_stats", "baseline_ratio",
                  "baseline_ratio_ci95", "baseline_runtime", "baseline", "baseline_pairs", "reference_ratio",
                  "reference_ratio_ci95", "reference_runtime", "reference", "reference_pairs", "machine", "difference",
                  "max_difference", "reference_psnr", "ave_reference_psnr", "psnr_change", "tolerance", "psnr_floor",
                  "floor_holds")
"""Every key a split writes is ``{split}_{suffix}`` with one of these suffixes."""

DERIVED_KEYS = ("predicted_score", "predicted_score_ci95", "predicted_rank", "prediction")
"""Keys computed from a whole entry (its splits timed beside the baseline): recomputed whenever a split changes."""


def split_names(value: Any) -> bool:
    """Whether ``value`` is what a ``splits`` key holds: a list of split names (non-empty strings)."""
    return isinstance(value, list) and all(isinstance(s, str) and s for s in value)


def splits_of(entry: dict[str, Any]) -> list[str]:
    """The splits an entry holds, in run order: its ``splits`` list, or (organizers' files, and a list edited into
    something else) its ``*_ave_runtime`` keys.

    A key such as ``tiny_runs_ave_runtime`` ends in ``_ave_runtime`` too; it names split ``tiny``'s
    ``runs_ave_runtime``, not a split ``tiny_runs``, wherever ``tiny`` has a key of its own that ends so.
    """
    if split_names(entry.get("splits")):
        return list(entry["splits"])
    found = [key.removesuffix("_ave_runtime") for key in entry if isinstance(key, str) and key.endswith("_ave_runtime")]
    inner = [x.removesuffix("_ave_runtime") for x in SPLIT_SUFFIXES if x.endswith("_ave_runtime")]  # ["runs"]
    return [s for s in found if not any(s.endswith(f"_{x}") and s.removesuffix(f"_{x}") in found for x in inner)]


def ordered_splits(entries: list[dict[str, Any]]) -> list[str]:
    """The splits the entries were run on: the official ones first, then the others in run order."""
    seen: dict[str, None] = {}
    for entry in entries:
        for split in splits_of(entry):
            seen[split] = None
    official = [s for s in OFFICIAL_SPLITS if s in seen]
    return official + [s for s in seen if s not in official]


def _described(split: Split) -> str:
    return f"{split.name} (--dataset {split.folder})" if split.folder is not None else split.name


def check_split_names(splits: list[Split], recorded: Mapping[str, str] | Iterable[str] = ()) -> None:
    """Refuse, before any forward, split names that would mix up results keys.

    A split's keys are ``{split}_{suffix}`` (``benchmark.record.keys.SPLIT_SUFFIXES``), so two splits of
    one name, a ``--dataset`` folder named like an official split, or two names whose keys coincide
    (``X``'s ``X_ave_runtime`` is ``X_ave``'s runtime list) would overwrite each other's figures.
    ``recorded`` holds the splits already in the results file for the models about to run (split →
    where it is recorded, for the message); re-running one of them under its own name is fine.
    """
    where = dict(recorded) if isinstance(recorded, Mapping) else {name: "already recorded" for name in recorded}
    by_name: dict[str, Split] = {}
    for split in splits:
        if not split.name or split.name.strip() != split.name:
            raise HarnessError(f"{_described(split)}: {split.name!r} cannot name a split (its results keys); "
                               "use a folder with a plain name")
        if split.folder is not None and split.name in OFFICIAL_SPLITS:
            raise HarnessError(f"--dataset {split.folder}: named like the official split {split.name}, whose results "
                               f"keys it would take; rename the folder, or pass the challenge data with --data_dir")
        if split.name in by_name:
            raise HarnessError(f"{_described(by_name[split.name])} and {_described(split)}: two splits named "
                               f"{split.name} (a split is named after its folder) would share their results keys; "
                               "rename one of the folders")
        by_name[split.name] = split

    owner: dict[str, str] = {}
    for name in [*by_name, *(n for n in where if isinstance(n, str) and n not in by_name)]:
        for suffix in SPLIT_SUFFIXES:
            key = f"{name}_{suffix}"
            other = owner.setdefault(key, name)
            if other == name or (other not in by_name and name not in by_name):
                continue
            first = _described(by_name[other])
            if name in by_name:
                raise HarnessError(f"splits {first} and {_described(by_name[name])} would share the results key "
                                   f"{key} (keys are <split>_<figure>); rename one of the folders")
            raise HarnessError(f"split {first} would share the results key {key} with split {name}, "
                               f"{where[name]}; rename the folder, or pass another --results")
