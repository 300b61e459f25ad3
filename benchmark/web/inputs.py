"""What a site is built from: results files (this harness's or the organizers' as published), a published table,
and a sweep's failures and logs found beside its results file; each assigned to a challenge year and ranked as
``benchmark.compare`` ranks it.

A file's year is the year its records name (every harness record says which year's rules it was measured
under), else the year whose baseline it holds (an organizers' file: ``00_SPAN`` is 2026), else, for a table with
the published rank-sum columns, the rank-sum year (2023), else ``--year``. The leaderboard ranks the files of
``--year`` together, exactly as compare ranks one file; the files of other years feed the across-years page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.core.errors import HarnessError
from benchmark.core.files import companion, json_of
from benchmark.rank.board import Ranking, load_table, rank_inputs, read_checked, year_of
from benchmark.record.checks import REFUSAL_FIX, check_table
from benchmark.web import values


@dataclass(frozen=True)
class Failure:
    """A team a sweep could not measure: its label in the failures file, its one-line reason, its log."""

    label: str
    reason: str
    log: Path | None
    results: Path

    @property
    def title(self) -> str:
        """As the sweep's console names it: ``team 09``, or ``2023 team 05`` for a registered team."""
        year, _, team = self.label.rpartition("-")
        return f"{year} team {team}" if year else f"team {self.label}"


@dataclass
class Source:
    """One input file and the year it belongs to (``why``: how that year was found)."""

    path: Path
    year: int
    why: str
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)
    table: pd.DataFrame | None = None
    failures: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """One line per value the pages show as n/a (:mod:`benchmark.web.values`)."""


@dataclass
class Standing:
    """One year's leaderboard (None when every team of its sweep failed) and where each model came from."""

    year: int
    ranking: Ranking | None
    entries: dict[str, dict[str, Any]]
    """Cleaned name → results entry; a published table's rows have none."""
    origins: dict[str, Source]
    originals: dict[str, str]
    """Cleaned name → the name in its results file, where cleaning changed it (SR images lie under the latter)."""
    failures: list[Failure]
    sources: list[Source]


def read_failures(results: Path) -> list[Failure]:
    """The failures a sweep recorded beside ``results`` (``R.failures.json``), each with its log when kept."""
    path = companion(results, ".failures.json")
    if not path.is_file():
        return []
    try:
        loaded = json_of(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise HarnessError(f"{path}: not a readable failures file ({err}); re-run the sweep or remove it") from None
    if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
        raise HarnessError(f"{path}: expected an object of team label → one-line reason; re-run the sweep or "
                           "remove it")
    logs = companion(results, ".sweep")
    return [Failure(label, reason, log if (log := logs / f"{label}.log").is_file() else None, results)
            for label, reason in loaded.items()]


def _year_of(results: dict[str, dict[str, Any]], table: pd.DataFrame | None, default: int) -> tuple[int, str]:
    """The year a file's models belong to (:func:`benchmark.rank.board.year_of`), else ``--year``."""
    return year_of(results, table) or (default, "--year")


def read_sources(results: list[Path], table: Path | None, year: int) -> list[Source]:
    """Every input read and checked as compare checks it (what the pages read beyond that by
    :func:`benchmark.web.values.checked`), with its year; a model whose leaderboard figures compare would refuse is
    left out, in one warning line. A results file that is missing while its sweep's failures
    file is there is a sweep in which every team failed: it has failures and no models."""
    sources = []
    for path in results:
        failures = read_failures(path)
        if not path.exists() and failures:
            sources.append(Source(path, year, "--year (every team of its sweep failed)", failures=failures))
            continue
        refused: dict[str, str] = {}
        entries, renamed = read_checked(path, refused)
        originals = {new: old for old, new in renamed.items()}
        warnings = [f"warning: {line.removesuffix(REFUSAL_FIX)}; left out of the site" for line in refused.values()]
        for name, entry in entries.items():
            entries[name], lines = values.checked(originals.get(name, name), entry, path)
            warnings += lines
        sources.append(Source(path, *_year_of(entries, None, year), entries, renamed, failures=failures,
                              warnings=warnings))
    if table is not None:
        if table.is_dir():
            raise HarnessError(f"--table {table}: a folder, not a table; pass a results table such as "
                               "../shared/reference/ntire2023_esr_results.tsv")
        rows = check_table(load_table(table), table)
        sources.append(Source(table, *_year_of({}, rows, year), table=rows))
    return sources


class NameClash(HarnessError):
    """One model name in two results files: the site has one row and one page per name."""

    def __init__(self, model: str, first: Path, second: Path) -> None:
        super().__init__(f"model {model} is in both {first} and {second}; rename it in one of them, or pass one of "
                         "the files")
        self.model, self.first, self.second = model, first, second


def _merged(sources: list[Source]) -> tuple[dict[str, dict[str, Any]], dict[str, str], dict[str, Source]]:
    """The results of several files as one: a name in two files is refused (the models would be one row)."""
    entries: dict[str, dict[str, Any]] = {}
    renamed: dict[str, str] = {}
    origins: dict[str, Source] = {}
    for source in sources:
        for model, entry in source.results.items():
            if model in origins:
                raise NameClash(model, origins[model].path, source.path)
            entries[model], origins[model] = entry, source
        renamed.update(source.renamed)
    return entries, renamed, origins


def standing(sources: list[Source], year: int, *, baseline: str | None = None, psnr_rounded: bool = False
             ) -> Standing:
    """``year``'s leaderboard from the sources of that year, ranked by :func:`benchmark.compare.rank_inputs`;
    unscored, said in a note, when the year's baseline is not among them (a sweep whose baseline failed)."""
    own = [s for s in sources if s.year == year]
    entries, renamed, origins = _merged(own)
    tables = [s for s in own if s.table is not None]
    for source in tables:
        origins.update({str(team): source for team in source.table["team"]})
    failures = [failure for s in own for failure in s.failures]
    originals = {new: old for old, new in renamed.items()}
    if not entries and not tables:
        return Standing(year, None, {}, origins, originals, failures, own)
    files = [s.path for s in own if s.results]
    table = pd.concat([s.table for s in tables], ignore_index=True) if tables else None
    ranking = rank_inputs(entries, renamed, table, year, baseline=baseline, psnr_rounded=psnr_rounded,
                          results_path=(files[0] if len(files) == 1 else ", ".join(map(str, files))) if files else None,
                          table_path=tables[0].path if tables else None, unranked=True)
    return Standing(year, ranking, entries, origins, originals, failures, own)


def main_standing(sources: list[Source], year: int, *, baseline: str | None, psnr_rounded: bool) -> Standing:
    """The leaderboard of ``--year``; a HarnessError saying which year each file is when none is of it."""
    if not any(s.year == year for s in sources):
        found = "; ".join(f"{s.path} is NTIRE {s.year} ({s.why})" for s in sources)
        raise HarnessError(f"--year {year}: no results of NTIRE {year} among the inputs ({found}); pass --year of "
                           f"one of them, or the results of {year}")
    return standing(sources, year, baseline=baseline, psnr_rounded=psnr_rounded)
