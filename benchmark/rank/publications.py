"""What the organizers published, row by row, from any of the forms it comes in: the project's own files
(``published/ntire<year>.toml``, shipped with the harness), an organizers' ``results.json``, or a transcribed report
table (``{"rows": [...]}``, as ``ntire2024_table1.json``).

Each row keeps its figures under the keys a record uses (``num_parameters``, ``flops``, ``activations``,
``num_conv``) with the precision they were published at, the figures that cannot be compared with a run on other
data or another device (PSNR on the challenge splits, GPU runtimes, rank) as reported, and where it came from.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmark.core.errors import HarnessError, shown
from benchmark.core.files import json_of, read_regular
from benchmark.record.checks import why_not_a_count, why_not_a_figure

PUBLISHED = Path(__file__).with_name("published")
"""One file per year whose organizers published anything: ``ntire<year>.toml``; and ``bridges.toml``."""
FIGURES = {"num_parameters": "params [M]", "flops": "FLOPs [G]", "activations": "acts [M]", "num_conv": "conv"}
"""The complexity figures a row may publish, under the keys a record uses."""
TOML_KEYS = {"params": "num_parameters", "flops": "flops", "activations": "activations", "num_conv": "num_conv"}
REPORTED = ("val_psnr", "test_psnr", "val_t", "test_t", "ave_t", "rank", "ranked")
"""What a row reports beyond complexity: PSNR on the challenge splits, GPU runtimes [ms], the main-track rank."""
TABLE_COLUMNS = {"params_M": ("num_parameters", 3), "flops_G": ("flops", 2), "val_psnr": ("val_psnr", 2),
                 "test_psnr": ("test_psnr", 2), "val_runtime_ms": ("val_t", 2), "test_runtime_ms": ("test_t", 2),
                 "ave_runtime_ms": ("ave_t", 2), "main_rank": ("rank", 0), "ranked": ("ranked", 0)}
"""A transcribed report table's columns: the key each becomes and the decimals the report prints it with."""


@dataclass(frozen=True)
class Row:
    """One published row: a team's (or the baseline's) figures as one source printed them."""

    team: str
    """The name the source gives (``00_SPAN``, ``XiaomiMM``)."""
    team_id: int | None
    """The repository id, where the source gives it or the name begins with it; None: match by figures."""
    source: str
    figures: dict[str, float]
    decimals: dict[str, int]
    """Per figure (and reported value), the decimals it was published with."""
    reported: dict[str, Any] = field(default_factory=dict)
    id_from: str | None = None
    """How the id is known: ``official``, ``stated`` (the team's own repository), ``inferred``, ``name``."""
    note: str | None = None
    """Why this harness's figure differs from the published one, where that is known."""
    primary: bool = True
    """A row of the source's table (False: the same entry published elsewhere too, e.g. the baseline's own run)."""
    gpu: str | None = None
    team_name: str | None = None
    """The team's name, where a shipped file's rows are teams (``names = "teams"``: Table 1 of 2024, ``XiaomiMM``, its
    baseline row as printed, ``RLFN (Baseline)``); None where they name models (2026's results.json: ``00_SPAN``)."""


def decimals(value: float | int) -> int:
    """How many decimals a published number is written with (``9.833807872`` → 9, ``22`` → 0)."""
    exponent = Decimal(repr(value)).as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0


def _number(value: Any) -> bool:
    """A published figure: a finite number ≥ 0 (NaN, infinity, a negative or an int past a float's range is none)."""
    return why_not_a_figure(value) is None


MAX_DECIMALS = 15
"""The most decimals a figure is taken to be printed with (a float holds about 16 significant digits)."""


def _team_id(value: Any, where: str) -> int | None:
    """A row's repository id (None: none given); one that is no integer (``"3"``, ``3.0``, ``true``, which Python
    takes for 1) is one line: it would match no team, or the wrong one."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or why_not_a_count(value, signed=True) is not None:
        raise HarnessError(f"{where}: team_id {shown(value)} is not a whole number; give the repository id, or leave "
                           "it out to match the row by its figures")
    return value


def _places(printed: Any, where: str) -> dict[str, int]:
    """A ``printed_decimals`` table: figure → decimals, each a whole number from 0 to :data:`MAX_DECIMALS`."""
    if not isinstance(printed, dict):
        raise HarnessError(f"{where}: printed_decimals is {shown(printed)}, not a table of figure = decimals")
    for key, places in printed.items():
        if isinstance(places, bool) or not isinstance(places, int) or not 0 <= places <= MAX_DECIMALS:
            raise HarnessError(f"{where}: printed_decimals.{key} is {shown(places)}, not a whole number of decimals "
                               f"from 0 to {MAX_DECIMALS}")
    return printed


def _once(rows: list[Row], where: str) -> list[Row]:
    """``rows``, one line where two rows of the table give one team id (a team's other publications, ``also``, may)."""
    seen: dict[int, str] = {}
    for row in rows:
        if row.primary and row.team_id is not None:
            if row.team_id in seen:
                raise HarnessError(f"{where}: team id {row.team_id} is given to two rows, {seen[row.team_id]} and "
                                   f"{row.team}; give each row its own id")
            seen[row.team_id] = row.team
    return rows


def _leading_id(name: str) -> int | None:
    match = re.match(r"\s*(\d+)_", name)
    return int(match[1]) if match else None


def _toml_row(item: dict[str, Any], source: str, printed: dict[str, int], primary: bool, gpu: str | None,
              teams: bool, where: str) -> Row:
    where = f"{where}: entry {shown(item['team'])}"
    figures = {ours: item[key] for key, ours in TOML_KEYS.items() if _number(item.get(key))}
    printed = {TOML_KEYS.get(k, k): v for k, v in {**printed, **_places(item.get("printed_decimals", {}), where)
                                                    }.items()}
    reported = {k: item[k] for k in REPORTED if k in item}
    if "ave_t" not in reported and _number(item.get("val_t")) and _number(item.get("test_t")):
        reported["ave_t"] = (item["val_t"] + item["test_t"]) / 2
    exact = {k: printed.get(k, decimals(v)) for k, v in {**figures, **reported}.items() if _number(v)}
    team_id = _team_id(item.get("team_id", _leading_id(item["team"])), where)
    id_from = item.get("id_from") or ("name" if team_id is not None else None)
    return Row(item["team"], team_id, item.get("source", source), figures, exact, reported, id_from,
               item.get("differs"), primary, gpu, item.get("printed", item["team"]) if teams else None)


LARGEST_FILE = 1 << 24
"""The most bytes a published-results file may hold (16 MiB; a year's table is a few kB): a file of gigabytes would
be parsed for minutes, in memory ten times its size, before any team ran."""


def _text(path: Path) -> str:
    """The text of a published-results file; one line for a path that is no regular file (a FIFO would never end
    reading), that cannot be read, is not UTF-8 or is over :data:`LARGEST_FILE`."""
    if path.exists() and not path.is_file():
        raise HarnessError(f"{path}: not a regular file (a folder, FIFO or device); pass a published-results file")
    try:
        data = read_regular(path, LARGEST_FILE + 1)
        if len(data) > LARGEST_FILE:
            raise HarnessError(f"{path}: over {LARGEST_FILE >> 20} MiB, not a published-results file (a year's table "
                               "is a few kB); pass the organizers' results.json or a transcribed report table")
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise HarnessError(f"{path}: not a readable published-results file ({err})") from None


def read_toml(path: Path) -> tuple[dict[str, Any], list[Row]]:
    """A file in the project's format: its header and its rows (the table's ``entry``, then ``also``)."""
    try:
        data = tomllib.loads(_text(path))
    except (tomllib.TOMLDecodeError, RecursionError) as err:
        reason = "nested too deeply" if isinstance(err, RecursionError) else str(err)
        raise HarnessError(f"{path}: not a readable published-results file ({reason})") from None
    printed = _places(data.get("printed_decimals", {}), str(path))
    teams = data.get("names") == "teams"  # a report's table names teams; an organizers' results file, models
    rows = [_toml_row(item, data["source"], printed, True, data.get("gpu"), teams, str(path))
            for item in data.get("entry", [])]
    rows += [_toml_row(item, data["source"], {}, False, data.get("gpu"), False, str(path))
             for item in data.get("also", [])]
    return data, _once(rows, str(path))


def shipped(year: int) -> list[Row]:
    """``year``'s published rows as the harness ships them (empty for a year with nothing published)."""
    path = PUBLISHED / f"ntire{year}.toml"
    return read_toml(path)[1] if path.is_file() else []


def shipped_header(year: int) -> dict[str, Any] | None:
    """``year``'s file header (``source``, ``gpu``, ``leaderboard``), or None when nothing is shipped for it."""
    path = PUBLISHED / f"ntire{year}.toml"
    if not path.is_file():
        return None
    return {k: v for k, v in read_toml(path)[0].items() if not isinstance(v, list)}


def _results_rows(entries: dict[str, Any], source: str) -> list[Row]:
    """An organizers' results.json: model name → figures (``num_parameters``, ``flops`` …, ``valid_ave_runtime``)."""
    rows = []
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            continue
        figures = {k: entry[k] for k in FIGURES if _number(entry.get(k))}
        reported = {ours: entry[theirs] for theirs, ours in (("valid_ave_psnr", "val_psnr"), ("test_ave_psnr",
                    "test_psnr"), ("valid_ave_runtime", "val_t"), ("test_ave_runtime", "test_t"))
                    if _number(entry.get(theirs))}
        if "val_t" in reported and "test_t" in reported:
            reported["ave_t"] = (reported["val_t"] + reported["test_t"]) / 2
        team_id = _leading_id(name)
        rows.append(Row(name, team_id, source, figures, {k: decimals(v) for k, v in {**figures, **reported}.items()},
                        reported, "name" if team_id is not None else None))
    return rows


def _table_rows(data: dict[str, Any], source: str) -> list[Row]:
    """A transcribed report table: ``rows`` with ``team``, ``team_id`` (or null) and the columns of
    :data:`TABLE_COLUMNS`, printed with the decimals given there."""
    rows = []
    for item in data["rows"]:
        if not isinstance(item, dict) or not isinstance(item.get("team"), str):
            raise HarnessError(f"{source}: a row without a team name; expected rows of a transcribed report table")
        values = {ours: item[theirs] for theirs, (ours, _) in TABLE_COLUMNS.items() if item.get(theirs) is not None}
        printed = {ours: places for ours, places in TABLE_COLUMNS.values()}
        figures = {k: v for k, v in values.items() if k in FIGURES and _number(v)}
        reported = {k: v for k, v in values.items() if k not in FIGURES}
        team_id = _team_id(item.get("team_id"), f"{source}: row {shown(item['team'])}")
        basis = item.get("team_id_basis")
        id_from = basis.split(":")[0].split(" ")[0] if isinstance(basis, str) and team_id is not None else None
        places = {k: printed[k] for k, v in values.items() if _number(v)}
        rows.append(Row(item["team"], team_id, source, figures, places, reported, id_from))
    return _once(rows, source)


def read_file(path: Path) -> list[Row]:
    """The rows of a published-results file in any of the forms above; a HarnessError (one line) otherwise."""
    if path.suffix == ".toml":
        try:
            rows = read_toml(path)[1]
        except (KeyError, TypeError, AttributeError, ValueError) as err:  # a row or header not as the format has it
            raise HarnessError(f"--published {path}: not in the project's format ({type(err).__name__}: {err}); "
                               f"write it as {PUBLISHED / 'ntire2026.toml'} is written") from None
        return _with_figures(path, rows)
    try:
        data = json_of(_text(path))
    except ValueError as err:
        raise HarnessError(f"--published {path}: not a readable JSON file ({err}); pass the organizers' "
                           "results.json or a transcribed report table") from None
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        rows = _table_rows(data, str(path))
    elif isinstance(data, dict):
        rows = _results_rows(data, str(path))
    else:
        rows = []
    return _with_figures(path, rows)


def _with_figures(path: Path, rows: list[Row]) -> list[Row]:
    """``rows``, or one line when none holds a figure to compare with (a file of another kind)."""
    if not any(row.figures for row in rows):
        raise HarnessError(f"--published {path}: no entry has {', '.join(FIGURES)}; pass the organizers' "
                           "results.json or a transcribed report table ({\"rows\": [...]})")
    return rows
