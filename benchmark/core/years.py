"""The NTIRE ESR challenge years as data: everything the harness needs to act as one year's organizers.

The records live in ``years.toml`` beside this file, one per year; this module only reads and
checks them. Adding a year is adding a record there (and its baseline as a team file).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from benchmark.core.errors import HarnessError

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


def _record(year: int, raw: dict[str, Any]) -> Year:
    """One checked record; a mistake in ``years.toml`` names the year and the field."""
    try:
        splits = {name: SplitLayout(**layout) for name, layout in raw.pop("splits").items()}
        record = Year(year=year, splits=MappingProxyType(splits), psnr_floors=MappingProxyType(raw.pop("psnr_floors")),
                      weights=MappingProxyType(raw.pop("weights", {})), **raw)
    except (KeyError, TypeError) as err:
        raise HarnessError(f"{RECORDS}: year {year} is malformed ({err}); compare it with the other records") from None
    if record.ranking not in RANKINGS:
        raise HarnessError(f"{RECORDS}: year {year}: ranking must be one of {', '.join(RANKINGS)}")
    if record.ranking == "exp-score" and set(record.weights) != set(SCORED_FIGURES):
        raise HarnessError(f"{RECORDS}: year {year}: an exp-score year weighs exactly {', '.join(SCORED_FIGURES)}")
    return record


def _load() -> Mapping[int, Year]:
    with RECORDS.open("rb") as f:
        raw = tomllib.load(f)
    return MappingProxyType({int(year): _record(int(year), dict(record)) for year, record in sorted(raw.items())})


YEARS: Mapping[int, Year] = _load()


def get_year(year: int) -> Year:
    """The record of ``year``; an unknown year is a user error that lists the known ones."""
    try:
        return YEARS[year]
    except KeyError:
        raise HarnessError(f"unknown challenge year {year}; known years: {', '.join(map(str, YEARS))}") from None
