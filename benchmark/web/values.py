"""The values of a record that the site shows beyond the leaderboard's figures, checked where they are read.

``benchmark.rank.board.read_checked`` leaves out a model whose leaderboard figures are not figures (compare refuses
its file). A model page also shows a record's per-image runtimes, runtime statistics, own peak memory, exact counts,
checkpoint, environment and sweep inputs; a hand-edited or foreign file may hold anything there (a string where a
number goes, NaN, a list for an object). Each such value is one warning line naming the model, the key and the
file, and is shown as n/a (it is set to None in the entry the pages read); the rest of the site is built. A null
is a value not measured (a CPU dry run's runtimes and memory, SR images not saved): n/a, no warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from benchmark.core.errors import shown
from benchmark.record.checks import why_not_a_count, why_not_a_figure
from benchmark.record.keys import splits_of


@dataclass(frozen=True)
class Leaf:
    """One value: ``check`` says why it is not what ``kind`` names (None when it is)."""

    check: Callable[[Any], str | None]
    kind: str
    na: Any = None
    """What is shown in place of a refused value."""


@dataclass(frozen=True)
class Fields:
    """An object whose ``fields`` are checked one by one (a bad field is n/a, the others stay); a value of one of
    the ``plain`` types is kept as it is (a checkpoint that is ``null`` or a path). A refused checkpoint becomes
    ``{}`` (path and sha256 n/a), never ``null``, which would read as random weights."""

    fields: dict[str, Schema]
    kind: str
    plain: tuple[type, ...] = ()
    na: Any = None


@dataclass(frozen=True)
class Items:
    """A list of ``item``: a list of figures with one bad item is n/a whole (a histogram without that image would
    mislead); objects are checked one by one."""

    item: Schema
    kind: str
    na: Any = None


Schema = Union[Leaf, Fields, Items]


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else shown(value)


def _scalar(value: Any) -> str | None:
    return None if value is None or isinstance(value, (str, int, float)) else shown(value)


FIGURE = Leaf(why_not_a_figure, "a finite number ≥ 0")
COUNT = Leaf(why_not_a_count, "a whole number ≥ 0")
TEAM_ID = Leaf(lambda v: why_not_a_count(v, signed=True), "a whole number (a team id)")
TEXT = Leaf(_text, "text")
FILE = Fields({"path": TEXT, "sha256": TEXT}, "an object of path and sha256")

ENTRY: dict[str, Schema] = {
    "checkpoint": Fields({"path": TEXT, "sha256": TEXT, "all": Items(FILE, "a list of files")},
                         "null, a path or an object of path and sha256", plain=(type(None), str), na={}),
    "variant": TEXT, "harness_version": TEXT, "code_sha256": TEXT, "year": COUNT,
    "data_range": Leaf(why_not_a_figure, "the data range, a number"),
    "complexity": Fields({"params": COUNT, "activations": COUNT, "conv": COUNT,
                          "input_shape": Items(COUNT, "a list of sizes"),
                          "unseen": Items(Fields({"op": TEXT, "module": TEXT, "calls": COUNT, "macs": FIGURE},
                                                 "an object of operator, module, calls and MACs"),
                                          "a list of operators")}, "the object of exact counts"),
    "sweep": Fields({"source": TEXT, "repository": TEXT, "team_id": TEAM_ID, "select_model": TEXT, "host": TEXT,
                     "inputs": Leaf(lambda v: None if isinstance(v, dict) and all(isinstance(x, str)
                                                                                  for x in v.values()) else shown(v),
                                    "an object of path → sha256")},
                    "the sweep's object"),
}
"""What a model page reads of an entry, beside its splits (``environment``'s values are checked as single values)."""

SPLIT: dict[str, Schema] = {
    "runtime": Items(Leaf(why_not_a_figure, "a runtime in ms"), "a list of per-image runtimes [ms]"),
    "psnr": Items(Leaf(why_not_a_figure, "a PSNR in dB"), "a list of per-image PSNRs [dB]"),
    "peak_memory": Leaf(why_not_a_figure, "a memory figure in MiB"),
    "runtime_stats": Fields({**{k: Leaf(why_not_a_figure, "a runtime in ms")
                                for k in ("mean", "median", "std", "first", "mean_without_first")},
                             "clock": TEXT, "of": TEXT, "warmup": COUNT, "repeat": COUNT, "runs": COUNT},
                            "the object of runtime statistics"),
    "saved": Fields({"dir": TEXT, "sha256": Leaf(lambda v: None if isinstance(v, dict) else shown(v),
                                                 "an object of image → sha256")},
                    "the object of saved SR images"),
}
"""What a model page reads of each split ``{split}_{suffix}``, beside the figures the leaderboard checks."""


def clean(value: Any, schema: Schema, key: str, problems: list[tuple[str, str, str]]) -> Any:
    """``value`` with every part that ``schema`` refuses set to None, each refusal added to ``problems``. A null is
    what was not measured (a dry run's runtimes, images not saved): n/a without a warning."""
    if value is None:
        return None
    if isinstance(schema, Leaf):
        why = schema.check(value)
        if why is not None:
            problems.append((key, why, schema.kind))
            return schema.na
        return value
    if isinstance(schema, Fields):
        if isinstance(value, schema.plain):
            return value
        if not isinstance(value, dict):
            problems.append((key, shown(value), schema.kind))
            return schema.na
        return {**value, **{name: clean(value[name], sub, f"{key}.{name}", problems)
                            for name, sub in schema.fields.items() if name in value}}
    if not isinstance(value, list):
        problems.append((key, shown(value), schema.kind))
        return schema.na
    if isinstance(schema.item, Leaf):
        for i, item in enumerate(value):
            why = schema.item.check(item)
            if why is not None:
                problems.append((key, f"a list holding {why} (item {i + 1} of {len(value)})", schema.kind))
                return schema.na
        return value
    return [clean(item, schema.item, f"{key}[{i}]", problems) for i, item in enumerate(value)]


def checked(name: str, entry: dict[str, Any], path: Path) -> tuple[dict[str, Any], list[str]]:
    """``entry`` as the pages may read it (every value :data:`ENTRY` and :data:`SPLIT` refuse set to None, shown
    n/a), and one warning line per refused value, naming the model, key and file."""
    problems: list[tuple[str, str, str]] = []
    cleaned = dict(entry)
    for key, schema in ENTRY.items():
        if key in entry:
            cleaned[key] = clean(entry[key], schema, key, problems)
    environment = entry.get("environment")
    if isinstance(environment, dict):
        cleaned["environment"] = {k: clean(v, Leaf(_scalar, "a single value"), f"environment.{k}", problems)
                                  for k, v in environment.items()}
    for split in splits_of(entry):
        for suffix, schema in SPLIT.items():
            key = f"{split}_{suffix}"
            if key in entry:
                cleaned[key] = clean(entry[key], schema, key, problems)
    lines = [f"warning: model {name}: {key} is {why} in {path}, not {kind}; shown as n/a on the site"
             for key, why, kind in problems]
    return cleaned, lines
