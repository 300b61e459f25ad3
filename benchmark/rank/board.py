"""The leaderboard's table logic: one row per model in the published table's columns (``team, ave, val_t, test_t,
val_psnr, test_psnr, params, flops, acts, mem, conv``), FLOPs by the year's counter, ranked by the year's rules
(:mod:`benchmark.rank.scoring`) and set beside the year's baseline, with the notes that explain the figures.

Results files are read as this harness writes them (FLOPs recounted by the year's counter from the
exact counts under ``complexity``) or as the organizers publish them (no ``complexity``: FLOPs as
published, said so in the notes; names cleaned as their tables print them, e.g. ``009_RFDN_SPAN`` →
``09_RFDN_SPAN``)."""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.core.errors import HarnessError
from benchmark.core.years import YEARS, Year, get_year
from benchmark.measure.complexity import COUNTERS
from benchmark.rank.intervals import interval_columns, interval_note, no_interval_notes, with_intervals
from benchmark.rank.scoring import RANK_SUM_COLUMNS, SUBTRACK_COLUMNS, floor_columns, psnr_check, rank_year, year_record
from benchmark.record.checks import check_entry
from benchmark.record.keys import REFERENCE, ordered_splits
from benchmark.record.store import read_results

OFFICIAL_PREFIXES = {"valid": "val", "test": "test", "hybrid_test": "test"}
"""The published table's column prefix of each official split (2023's test was the hybrid test set)."""


BASELINE_RATIOS = ("ave", "params", "flops", "acts", "mem", "conv")






_PADDED_ID = re.compile(r"0\d{2,}(?=_|$)")


def _listed(names: list[str], limit: int = 6) -> str:
    return ", ".join(names[:limit]) + (f", … ({len(names)} in all)" if len(names) > limit else "")


def _prefixes(splits: list[str]) -> dict[str, str]:
    """Column prefix per split: ``valid`` → ``val``, ``test`` (or ``hybrid_test`` without a ``test``) → ``test``."""
    return {s: s if s == "hybrid_test" and "test" in splits else OFFICIAL_PREFIXES.get(s, s) for s in splits}


def _figure(entry: dict[str, Any], key: str, name: str) -> Any:
    """``entry[key]`` (a split's key may hold a dot: ``Set5.v2_memory``); a HarnessError naming the model when the run
    did not record it."""
    if key not in entry:
        raise HarnessError(f"model {name} has no {key} in the results file; re-run test_demo.py for it")
    return entry[key]


def clean_name(name: str) -> str:
    """A results name as the organizers' tables print it: surrounding spaces stripped, and a zero-padded id of
    more than two digits reduced to two (``"009_RFDN_SPAN"`` → ``"09_RFDN_SPAN"``, ``" 11_VSCINet"`` → ``"11_VSCINet"``)."""
    name = name.strip()
    match = _PADDED_ID.match(name)
    return f"{int(match.group()):02d}{name[match.end():]}" if match else name


def clean_names(results: dict[str, dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """``results`` keyed by :func:`clean_name`, and ``{original: cleaned}`` for each name that changed.

    Two names that clean to the same one are refused: the models would be indistinguishable.
    """
    cleaned: dict[str, dict[str, Any]] = {}
    originals: dict[str, str] = {}
    for name, entry in results.items():
        new = clean_name(name)
        if not new:
            raise HarnessError(f"a model of the results file has an empty name ({name!r}); name it in the file")
        try:
            new.encode("utf-8")
        except UnicodeEncodeError:
            raise HarnessError(f"model {name!r}: its name is not valid Unicode text (it holds a lone surrogate "
                               "escape); rename it in the results file") from None
        if new in cleaned:
            raise HarnessError(f"models {originals[new]!r} and {name!r} are both {new!r} once their names are cleaned "
                               "(spaces stripped, ids to two digits); rename one in the results file")
        cleaned[new], originals[new] = entry, name
    return cleaned, {old: new for new, old in originals.items() if old != new}


def entry_flops(entry: dict[str, Any], name: str, counter: str) -> tuple[float, bool]:
    """The entry's FLOPs [G] by ``counter`` (``hooks``/``fvcore``), and whether they are taken as published.

    A harness entry holds every counter's exact integer under ``complexity``; its own ``flops`` key
    is the counter its ``flops_counter`` names (hooks when absent, as the harness wrote it before it
    recorded the key). An entry without ``complexity`` is an organizers' file: ``flops`` as published,
    already counted by their year's counter.
    """
    complexity = entry.get("complexity")
    if isinstance(complexity, dict) and COUNTERS[counter].field in complexity:
        return complexity[COUNTERS[counter].field] / 1e9, False
    if isinstance(complexity, dict) or "flops_counter" in entry:
        own = entry.get("flops_counter", "hooks")
        if own != counter:
            raise HarnessError(f"model {name} has FLOPs by {own} only and the year's figure of record is {counter}; "
                               "re-run test_demo.py --profile-only for it")
        return _figure(entry, "flops", name), False
    return _figure(entry, "flops", name), True


def _timed(splits: list[str]) -> list[str]:
    """The splits whose runtimes the leaderboard averages: the official ones when there are any, else every one."""
    return [s for s in splits if s in OFFICIAL_PREFIXES] or splits


def _or_nan(value: Any) -> Any:
    return math.nan if value is None else value


def results_table(results: dict[str, dict[str, Any]], year: int) -> pd.DataFrame:
    """One row per model in the published table's columns, FLOPs by ``year``'s counter (:func:`entry_flops`).

    ``ave`` is the mean runtime of the official splits when the file has any (the official
    (valid + test) / 2), else of every split; ``mem`` the largest memory of those same splits, which
    every model must have run. Other splits get their own ``<split>_t`` and ``<split>_psnr`` columns;
    ``device`` records where each model was timed; ``ave_ci95_low``, ``ave_ci95_high`` and ``interval_from`` the
    runtime's interval where a record has one (``rank.intervals``).
    """
    counter = year_record(year).flops_counter
    splits = ordered_splits(list(results.values()))
    prefixes = _prefixes(splits)
    timed = _timed(splits)
    rows = []
    for name, entry in results.items():
        absent = [s for s in timed if f"{s}_ave_runtime" not in entry]
        if absent:
            raise HarnessError(f"model {name} has no {absent[0]} run in the results file while others have; run it "
                               f"on {absent[0]} too, so that every model is timed on the same images")
        environment = entry.get("environment")
        untimed = entry.get("dry_run") is True or not timed  # a CPU dry run or a profile-only file: unranked
        rows.append({
            "team": name,
            "ave": math.nan if untimed else statistics.fmean(entry[f"{s}_ave_runtime"] for s in timed),
            **{f"{prefixes[s]}_t": _or_nan(entry.get(f"{s}_ave_runtime", math.nan)) for s in splits},
            **{f"{prefixes[s]}_psnr": entry.get(f"{s}_ave_psnr", math.nan) for s in splits},
            "params": _figure(entry, "num_parameters", name),
            "flops": entry_flops(entry, name, counter)[0],
            "acts": _figure(entry, "activations", name),
            "mem": math.nan if untimed else max(_figure(entry, f"{s}_memory", name) for s in timed),
            "conv": _figure(entry, "num_conv", name),
            "device": environment.get("device_name") if isinstance(environment, dict) else None,
        })
    return pd.DataFrame(rows).assign(**interval_columns(results, timed))


def load_table(path: str | Path) -> pd.DataFrame:
    """A published results table in the NTIRE 2023 report's columns: tab-separated, or comma-separated as ``.csv``."""
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="," if path.suffix.lower() == ".csv" else "\t")
    except FileNotFoundError:
        raise HarnessError(f"--table {path}: file not found; pass a results table such as "
                           "../shared/reference/ntire2023_esr_results.tsv") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise HarnessError(f"--table {path}: not a readable table ({err}); pass a tab-separated file") from None
    if "team" not in table.columns:
        raise HarnessError(f"--table {path}: no 'team' column (found: {_listed(list(table.columns))}); expected the "
                           "columns team, ave, val_psnr, test_psnr, params, flops, acts, mem, conv")
    return table


def _versus(board: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Each PSNR with its difference to the baseline's (``_diff``), each efficiency figure with its ratio (``_ratio``)."""
    base = board.loc[board["team"].astype(str) == baseline].iloc[0]
    columns: dict[str, pd.Series] = {}
    for col in board.columns:
        columns[col] = board[col]
        if col.endswith("_psnr"):
            columns[f"{col}_diff"] = board[col] - base[col]
        elif col in BASELINE_RATIOS:  # no ratio to a baseline figure of 0 (or none): n/a, not inf
            columns[f"{col}_ratio"] = board[col] / base[col] if base[col] > 0 else board[col] * math.nan
    return pd.DataFrame(columns)


def leaderboard(table: pd.DataFrame, year: int, baseline: str | None = None, *, psnr_rounded: bool = False
                ) -> pd.DataFrame:
    """``year``'s ranks (rank sums) or scores and ranks (exp-score) by :mod:`benchmark.rank.scoring`, beside the
    baseline, with the score intervals and statistical ties of :func:`benchmark.rank.intervals.with_intervals`.

    A baseline is required by the exp-score years (the score is relative to it) and optional in the
    rank-sum years; :func:`find_baseline` picks the year's own.
    """
    record = year_record(year)
    teams = table["team"].astype(str)
    doubled = list(teams[teams.duplicated()].unique())
    if doubled:
        raise HarnessError(f"team {doubled[0]!r} is in the table twice; give every model and team its own name")
    if baseline is not None and baseline not in set(teams):
        raise HarnessError(f"--baseline {baseline}: no such model or team (found: {_listed(list(teams))}); "
                           "pass one of them")
    if record.ranking == "exp-score" and baseline is None:
        raise HarnessError(f"--year {year} scores every model against a baseline: pass --baseline NAME "
                           f"(the {year} baseline is {record.baseline})")
    board = with_intervals(rank_year(table, year, baseline, psnr_rounded=psnr_rounded), year, baseline,
                           psnr_rounded=psnr_rounded)
    return board if baseline is None else _versus(board, baseline)


def find_baseline(table: pd.DataFrame, year: int, baseline: str | None, sources: list[Path]) -> str | None:
    """The baseline to score against: ``baseline`` when given, else the year's own (``00_SPAN`` in 2026).

    The year's own must be in the table when the year scores against it (exp-score); a rank-sum year
    ranks without one, and the figures are then shown without ratios.
    """
    teams = set(table["team"].astype(str))
    if baseline is not None:  # as the results file names it, or as cleaned (009_RFDN → 09_RFDN)
        return clean_name(baseline) if baseline not in teams and clean_name(baseline) in teams else baseline
    record = year_record(year)
    if record.baseline in teams:
        return record.baseline
    if record.ranking == "rank-sum":
        return None
    raise HarnessError(f"the {year} baseline {record.baseline} is not in {' or '.join(map(str, sources))}; add its "
                       f"results (team 00 of {year}) or pass --baseline NAME")


def measured_on(board: pd.DataFrame, year: int) -> str:
    """Where a leaderboard's runtimes and memory were measured, for its headers and plot axes: the one device every
    row names; the year's GPU of record when no row names one (an organizers' file or a published table); or
    "several devices" (the ``device`` column then says which row was measured where)."""
    devices = {d for d in board["device"] if isinstance(d, str) and d} if "device" in board else set()
    if not devices:
        return f"{get_year(year).gpu}, as published"
    unnamed = "device" not in board or board["device"].isna().any()
    return devices.pop() if len(devices) == 1 and not unnamed else "several devices"


def year_of(results: dict[str, dict[str, Any]], table: pd.DataFrame | None = None) -> tuple[int, str] | None:
    """The challenge year the models belong to, and how it was found: the year every record names (a harness
    record says which year's rules it was measured under), else the year whose baseline the file holds (an
    organizers' file: ``00_SPAN`` is 2026), else, for a table with the published rank-sum columns, the rank-sum
    year; None when nothing says."""
    named = {entry.get("year") for entry in results.values()}
    if len(named) == 1 and (year := next(iter(named))) in YEARS:
        return year, f"its records were measured under the NTIRE {year} rules"
    names = set(results) | (set(table["team"].astype(str)) if table is not None else set())
    holders = [year for year, record in YEARS.items() if record.baseline in names]
    if len(holders) == 1 and None in named:
        return holders[0], f"it holds the NTIRE {holders[0]} baseline {get_year(holders[0]).baseline}"
    rank_sum = [year for year, record in YEARS.items() if record.ranking == "rank-sum"]
    if table is not None and set(RANK_SUM_COLUMNS) <= set(table.columns) and len(rank_sum) == 1:
        return rank_sum[0], f"its published ranks are NTIRE {rank_sum[0]}'s rank sums"
    return None


def floor_note(board: pd.DataFrame, year: int, psnr_rounded: bool = False) -> str:
    """Which of ``year``'s PSNR floors the leaderboard checks, and how, which it cannot, which splits have none."""
    record = year_record(year)
    floors = floor_columns(year)
    checked = [f"{col} ≥ {floor:.2f} dB" for col, floor in floors.items() if col in board]
    unchecked = [col for col in floors if col not in board]
    others = [col.removesuffix("_psnr") for col in board.columns if col.endswith("_psnr") and col not in floors]
    parts = []
    if checked:
        effect = ("reported only: the published table ranks teams below them" if not record.floors_applied
                  else "rows below a floor are listed but not ranked")
        reading = "the PSNR printed to 2 decimals" if psnr_rounded else "the raw PSNR"
        parts.append(f"PSNR floors of {record.label} checked on {reading} (PSNR ok): {', '.join(checked)}; {effect}")
    if unchecked:
        plural = "s" if len(unchecked) > 1 else ""
        parts.append(f"{' and '.join(unchecked)} floor{plural} not checked (no such split in the results)")
    if others:
        parts.append(f"{', '.join(others)}: not an official split, so no PSNR floor applies")
    return "; ".join(parts)


def rounding_note(board: pd.DataFrame, psnr_rounded: bool) -> str | None:
    """The models whose eligibility depends on reading the PSNR raw or printed to 2 decimals, by name."""
    teams = list(board.loc[board["psnr_ok_rounded_only"], "team"].astype(str))
    if not teams:
        return None
    how = ("pass the floors only because PSNR is rounded to 2 decimals (--psnr-rounded)" if psnr_rounded else
           "below a floor on the raw PSNR, pass it when PSNR is rounded to 2 decimals (--psnr-rounded)")
    return f"PSNR ok rounded only: {len(teams)} model{'s' if len(teams) > 1 else ''} {how}: {', '.join(teams)}"


def subtrack_note(baseline: str) -> str:
    return (f"sub-tracks ({', '.join(SUBTRACK_COLUMNS.values())}): each ranks, by its own score, the models that "
            f"are ranked and do not exceed the baseline {baseline} on the other two figures (runtime, FLOPs, params)")


def names_note(renamed: dict[str, str]) -> str:
    return "names cleaned as the organizers' tables print them: " + ", ".join(
        f"{old!r} → {new!r}" for old, new in renamed.items())


def _results_notes(results: dict[str, dict[str, Any]], record: Year, path: Path, with_table: bool) -> list[str]:
    counter = record.flops_counter
    published = [name for name, entry in results.items() if entry_flops(entry, name, counter)[1]]
    counted = [name for name in results if name not in published]
    notes = []
    if counted:
        which = "the results file's models" if not published else _listed(counted)
        notes.append(f"FLOPs of {which}: {COUNTERS[counter].name}, as the {record.label} organizers counted them")
    if published:
        which = f"every model of {path}" if not counted else _listed(published)
        notes.append(f"FLOPs of {which}: as published in the file (no exact counts to recount by "
                     f"{COUNTERS[counter].name}, the {record.label} counter)")
    deployed = [name for name, e in results.items()
                if (e.get("backend") or REFERENCE[0], e.get("precision") or REFERENCE[1]) != REFERENCE]
    if deployed:
        notes.append(f"run as deployed, not by the official protocol (eager fp32), so not figures of record: "
                     f"{_listed(deployed)}")
    on_cpu = [name for name, e in results.items()
              if isinstance(e.get("environment"), dict) and str(e["environment"].get("device", "")).startswith("cpu")]
    if on_cpu:
        gpu = ", not comparable with the table's GPU figures" if with_table else ""
        notes.append(f"timed on CPU (runtime = wall-clock time of the forward, memory = peak RSS){gpu}: "
                     f"{_listed(on_cpu)}")
    return notes


def _published_note(published: pd.DataFrame, board: pd.DataFrame, path: Path) -> str:
    """Whether the recomputed rank-sum ranks equal the ones the table was published with."""
    merged = published.merge(board, on="team", suffixes=("_published", ""))
    wrong = [f"{team} {col}" for col in RANK_SUM_COLUMNS
             for team in merged.loc[merged[f"{col}_published"] != merged[col], "team"]]
    if wrong:
        return f"published ranks of {path} NOT reproduced in {len(wrong)} cells: {_listed(wrong)}"
    return f"every published rank of {path} reproduced ({len(RANK_SUM_COLUMNS)} rank columns × {len(merged)} teams)"


def read_checked(path: Path, refused: dict[str, str] | None = None
                 ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """A results file's entries keyed by their cleaned names (:func:`clean_names`), every figure the leaderboard
    reads checked (:func:`check_entry`), and ``{original: cleaned}`` for each name that cleaning changed.

    A bad figure refuses the whole file (compare ranks nothing it cannot trust); with ``refused``, the entry alone is
    left out and its one line kept there under its name, so that the site can build every other model."""
    results, renamed = clean_names(read_results(path, strict=True))
    originals = {new: old for old, new in renamed.items()}

    def check(splits: list[str] | None = None) -> None:
        for name, entry in list(results.items()):
            try:
                check_entry(originals.get(name, name), entry, path, splits)
            except HarnessError as bad:
                if refused is None:
                    raise
                refused[name] = str(bad)
                del results[name]

    check()
    check(ordered_splits(list(results.values())))  # the leaderboard reads every model's splits from every entry
    return results, {old: new for old, new in renamed.items() if new in results}


@dataclass(frozen=True)
class Ranking:
    """A leaderboard as compare prints and writes it: the ranked frame, its baseline, title and notes."""

    board: pd.DataFrame
    baseline: str | None
    title: str
    notes: list[str]


def _unranked(table: pd.DataFrame, year: int, psnr_rounded: bool) -> pd.DataFrame:
    """The figures and the PSNR verdict, fastest first, without the scores that need the year's baseline."""
    raw, printed = psnr_check(table, year), psnr_check(table, year, rounded=True)
    board = table.assign(psnr_ok=printed if psnr_rounded else raw, psnr_ok_rounded_only=printed & ~raw)
    return board.sort_values(["ave", "team"]).reset_index(drop=True)


def rank_inputs(results: dict[str, dict[str, Any]], renamed: dict[str, str], table: pd.DataFrame | None, year: int, *,
                baseline: str | None = None, psnr_rounded: bool = False, results_path: Path | str | None = None,
                table_path: Path | None = None, unranked: bool = False) -> Ranking:
    """The checked results (:func:`read_checked`) and/or a published table (:func:`check_table`) ranked by
    ``year``'s rules against ``baseline`` (default: the year's own), with the notes that say how.

    With ``unranked``, results without the exp-score baseline (a sweep whose baseline failed) give their figures
    and PSNR verdict unscored, said in a note, instead of an error.
    """
    record = year_record(year)
    frames = [table] if table is not None else []
    notes = _results_notes(results, record, results_path, table is not None) if results else []
    if renamed:
        notes.append(names_note(renamed))
    if table is not None:
        notes.append(f"FLOPs of the rows of {table_path}: as published (the {record.label} counter is "
                     f"{COUNTERS[record.flops_counter].name})")
    timed = _timed(ordered_splits(list(results.values())))
    if results:
        frames.append(results_table(results, year))
    table = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    sources = [p for p in (results_path, table_path) if p is not None]
    untimed = table["ave"].isna()  # a CPU dry run's or a profile-only file's entries: no runtime of record, no rank
    table, dry = table.loc[~untimed].reset_index(drop=True), table.loc[untimed].reset_index(drop=True)
    if table.empty:
        board = table
    elif unranked and baseline is None and record.ranking == "exp-score" and \
            record.baseline not in set(table["team"]):
        board = _unranked(table, year, psnr_rounded)
        notes.append(f"not ranked: every {record.label} score is relative to the baseline {record.baseline}, which is "
                     f"not in {' or '.join(map(str, sources))} (pass --baseline NAME to score against another model)")
    else:
        baseline = find_baseline(table, year, baseline, sources)
        board = leaderboard(table, year, baseline, psnr_rounded=psnr_rounded)
    if not dry.empty:
        board = pd.concat([board, _unranked(dry, year, psnr_rounded)], ignore_index=True)
        why = "a CPU dry run times on the CPU, not the team's device" if timed else "profile-only: no split was run"
        notes.append(f"not ranked, no runtime of record ({why}): {_listed(list(dry['team'].astype(str)))}")
    notes.insert(0, floor_note(board, year, psnr_rounded))
    if interval_note(board):
        notes.append(interval_note(board))
    notes += no_interval_notes(results, timed, year)
    rounding = rounding_note(board, psnr_rounded)
    if rounding:
        notes.insert(1, rounding)
    if baseline is None and record.ranking == "rank-sum":
        notes.append(f"no row of the {year} baseline {record.baseline}: figures shown without ratios "
                     "(pass --baseline NAME for them)")
    elif SUBTRACK_COLUMNS["runtime"] in board:
        notes.append(subtrack_note(baseline))
    if not results and record.ranking == "rank-sum" and set(RANK_SUM_COLUMNS) <= set(table.columns):
        notes.append(_published_note(table, board, table_path))
    title = f"Leaderboard under the {record.label} rules ({record.source})"
    return Ranking(board, baseline, title + (f", baseline {baseline}" if baseline else ""), notes)
