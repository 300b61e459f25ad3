"""The NTIRE ESR challenge years as data: everything the harness needs to act as one year's organizers.

The records live in ``years.toml`` beside this file, one per year; this module only reads and
checks them. Adding a year is adding a record there (and its baseline as a team file).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from benchmark.core.errors import HarnessError, shown

RECORDS = Path(__file__).with_name("years.toml")
DEFAULT_YEAR = 2023
"""The year of every command that is given none: the official 2023 flags keep their meaning."""
RANKINGS = ("rank-sum", "exp-score")
SCORED_FIGURES = ("runtime", "flops", "params")
"""The figures an exp-score year weighs, in the order the reports list them."""


@dataclass(frozen=True)
class SplitLayout:
    """Where one official split lies under ``--data_dir``."""

    hr: str
    lr: str
    first: int | None = None
    """With ``last``: the images are numbered ``first``…``last`` (``0801.png``); otherwise every HR ``*.png``."""
    last: int | None = None
    lr_suffix: str = "x4"


@dataclass(frozen=True)
class Year:
    """One challenge year: its baseline, layout, figure of record, ranking rule, floors, GPU and runs."""

    year: int
    baseline: str
    """The official results name of that year's team 00, e.g. ``00_SPAN``."""
    flops_counter: str
    ranking: str
    psnr_floors: Mapping[str, float]
    """Lowest PSNR [dB] per official split name (``valid``, ``test``)."""
    floors_applied: bool
    subtracks: bool
    gpu: str
    runs: int
    source: str
    splits: Mapping[str, SplitLayout]
    weights: Mapping[str, float]
    """Weight of each exp-score figure (``runtime``, ``flops``, ``params``); empty for rank-sum years."""

    @property
    def label(self) -> str:
        return f"NTIRE {self.year}"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_TYPES = {"str": (str, "a string"), "int": (int, "an integer"), "bool": (bool, "true or false"),
          "int | None": ((int, type(None)), "an integer")}


def _check_types(where: str, record: Any) -> None:
    """Each plain field of a record has its declared type (a ``runs = "five"`` is named, not run)."""
    for f in fields(record):
        kind, said = _TYPES.get(str(f.type), (None, ""))
        value = getattr(record, f.name)
        if kind is not None and (not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))):
            raise HarnessError(f"{where}: {f.name} is {shown(value)}, not {said}")


_TABLES = {"psnr_floors": "{ valid = 26.90, test = 26.99 }", "weights": "{ runtime = 0.8, flops = 0.1, params = 0.1 }",
           "splits": "splits.valid = { hr = \"…_HR\", lr = \"…_LR\" }"}
"""The fields of a record that are TOML tables, each with an example for the message."""


def _check_tables(where: str, raw: dict[str, Any]) -> None:
    """``psnr_floors``, ``weights`` and ``splits`` are tables (each split a table too) before the record is built:
    a ``psnr_floors = "29"`` is named with the form it should have, never an AttributeError."""
    for key, example in _TABLES.items():
        if key in raw and not isinstance(raw[key], dict):
            raise HarnessError(f"{where}: {key} is {shown(raw[key])}, not a table such as {key} = {example}"
                               if key != "splits" else f"{where}: splits is {shown(raw[key])}, not a table of "
                               f"split layouts such as {example}")
    for name, layout in (raw.get("splits") or {}).items():
        if not isinstance(layout, dict):
            raise HarnessError(f"{where}: splits.{name} is {shown(layout)}, not a table such as {_TABLES['splits']}")


def _check_fields(where: str, raw: dict[str, Any], kind: type, given: tuple[str, ...] = ()) -> None:
    """Every field ``raw`` names is one of ``kind``'s, and every field it needs is there (``given`` are filled in)."""
    known = [f.name for f in fields(kind) if f.name not in given]
    unknown = [k for k in raw if k not in known]
    if unknown:
        raise HarnessError(f"{where}: {unknown[0]} is not a field of this record (its fields: {', '.join(known)})")
    needed = [f.name for f in fields(kind) if f.name not in given and f.default is MISSING and f.name not in raw]
    if needed:
        raise HarnessError(f"{where}: {needed[0]} is missing; compare the record with the other years'")


def _record(year: int, raw: dict[str, Any], path: Path = RECORDS) -> Year:
    """One checked record; a mistake in ``years.toml`` names the year and the field."""
    where = f"{path}: year {year}"
    _check_tables(where, raw)
    _check_fields(where, {"weights": {}, **raw}, Year, given=("year",))
    for name, layout in raw["splits"].items():
        _check_fields(f"{where}: splits.{name}", layout, SplitLayout)
    splits = {name: SplitLayout(**layout) for name, layout in raw.pop("splits").items()}
    record = Year(year=year, splits=MappingProxyType(splits), psnr_floors=MappingProxyType(raw.pop("psnr_floors")),
                  weights=MappingProxyType(raw.pop("weights", {})), **raw)
    _check_types(where, record)
    for name, layout in record.splits.items():
        _check_types(f"{where}: splits.{name}", layout)
    if record.ranking not in RANKINGS:
        raise HarnessError(f"{where}: ranking must be one of {', '.join(RANKINGS)}")
    if record.runs < 1:
        raise HarnessError(f"{where}: runs is {record.runs}; the organizers run each model at least once")
    for split, floor in record.psnr_floors.items():
        if split not in record.splits:
            raise HarnessError(f"{where}: psnr_floors.{split} names no split of the year (its splits: "
                               f"{', '.join(record.splits)})")
        if not _number(floor):
            raise HarnessError(f"{where}: psnr_floors.{split} is {shown(floor)}, not a number of dB")
    if record.ranking == "exp-score" and set(record.weights) != set(SCORED_FIGURES):
        raise HarnessError(f"{where}: an exp-score year weighs exactly {', '.join(SCORED_FIGURES)}")
    if not all(_number(w) and w >= 0 for w in record.weights.values()) or \
            (record.weights and not sum(record.weights.values()) > 0):
        raise HarnessError(f"{where}: weights must be numbers of 0 or more, not all 0 (a negative weight would rank "
                           "the slowest model first)")
    return record


def load_years(path: Path) -> Mapping[int, Year]:
    """Every record of the years file at ``path``, checked; a HarnessError names the file and what is wrong."""
    try:
        with Path(path).open("rb") as f:
            raw = tomllib.load(f)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise HarnessError(f"{path}: not valid TOML ({err}); fix the file or restore it") from None
    except OSError as err:
        raise HarnessError(f"{path}: cannot be read ({err.strerror})") from None
    records = {}
    for year, record in sorted(raw.items()):
        if not year.isdigit() or not isinstance(record, dict):
            raise HarnessError(f"{path}: [{year}] is not a year's record; each record is a [YYYY] table")
        records[int(year)] = _record(int(year), dict(record), path)
    if not records:
        raise HarnessError(f"{path}: holds no year's record; restore the file")
    return MappingProxyType(records)


class _Years(Mapping[int, Year]):
    """The records of ``years.toml``, read at first use: a broken file is one error line where a command uses it,
    never a traceback while the harness is imported."""

    def __init__(self, path: Path) -> None:
        self.path, self._records = path, None

    def _loaded(self) -> Mapping[int, Year]:
        if self._records is None:
            self._records = load_years(self.path)
        return self._records

    def __getitem__(self, year: int) -> Year:
        return self._loaded()[year]

    def __iter__(self) -> Iterator[int]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


YEARS: Mapping[int, Year] = _Years(RECORDS)


def get_year(year: int) -> Year:
    """The record of ``year``; an unknown year is a user error that lists the known ones."""
    try:
        return YEARS[year]
    except KeyError:
        raise HarnessError(f"unknown challenge year {year}; known years: {', '.join(map(str, YEARS))}") from None
