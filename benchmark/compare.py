"""The leaderboard: every model of a results file (and/or a published table) ranked by one year's NTIRE rules.

    python -m benchmark.compare --results results/results.json --year 2026 --out DIR
    python -m benchmark.compare --results ../shared/reference/official/ntire2026_results.json --year 2026 --out DIR
    python -m benchmark.compare --table ../shared/reference/ntire2023_esr_results.tsv --year 2023 --out DIR

Flow: results file → one row per model in the published table's columns (``team, ave, val_t,
test_t, val_psnr, test_psnr, params, flops, acts, mem, conv``), appended to ``--table`` if given →
the year's ranks or scores from :mod:`benchmark.scoring`, by the year's record in
``benchmark/years.toml`` (the rules live there only) → each figure beside the baseline's (the year's
baseline, e.g. ``00_SPAN`` in 2026, unless ``--baseline``) → the console table,
``leaderboard.csv/.md/.tex``, the trade-off plots, and on request the factsheet's Table 1
(``--factsheet``) and one image model by model (``--visual``).

Results files are read as this harness writes them (FLOPs recounted by the year's counter from the
exact counts under ``complexity``) or as the organizers publish them (no ``complexity``: FLOPs as
published, said so in the notes; names cleaned as their tables print them, e.g. ``009_RFDN_SPAN`` →
``09_RFDN_SPAN``). PSNR floors apply to the raw PSNR, or with ``--psnr-rounded`` to the PSNR printed
to two decimals; ``psnr_ok_rounded_only`` marks the models whose eligibility depends on that choice.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.markup import escape

from benchmark import data, plots, report
from benchmark.errors import HarnessError, OneLineParser, error_line
from benchmark.images import read_image
from benchmark.results import ordered_splits, read_results, shown, splits_of, why_not_a_figure
from benchmark.scoring import RANK_SUM_COLUMNS, SUBTRACK_COLUMNS, floor_columns, psnr_check, rank_year, year_record
from benchmark.submit import plain_name
from benchmark.years import YEARS, Year

OFFICIAL_PREFIXES = {"valid": "val", "test": "test", "hybrid_test": "test"}
"""The published table's column prefix of each official split (2023's test was the hybrid test set)."""
BASELINE_RATIOS = ("ave", "params", "flops", "acts", "mem", "conv")
COUNTER_KEYS = {"hooks": "flops", "fvcore": "fvcore_flops"}
"""Where each FLOPs counter's exact integer lies in an entry's ``complexity``."""
COUNTER_NAMES = {"hooks": "the official hook counter", "fvcore": "fvcore"}
_PADDED_ID = re.compile(r"0\d{2,}(?=_|$)")
_UNSAFE_IN_NAMES = re.compile("[/\\\\\0]")
"""What a model name may hold but a file name may not: in ``table1_NAME.tex`` each becomes ``_``."""
SPLIT_FIGURES = {"ave_runtime": "a runtime in ms", "ave_psnr": "a PSNR in dB", "memory": "a memory figure in MiB"}
"""The per-split figures the leaderboard reads from a results entry, and what each must be."""
ENTRY_FIGURES = {"num_parameters": "a parameter count in M", "flops": "a FLOPs figure in G",
                 "activations": "an activation count in M", "num_conv": "a convolution count"}
TABLE_FIGURES = ("ave", "val_t", "test_t", "params", "flops", "acts", "mem", "conv")
"""The published table's columns of figures (with every ``*_psnr`` and ``*_t``): numbers, never negative."""


def _refuse(name: str, path: Path, key: str, why: str, kind: str) -> HarnessError:
    return HarnessError(f"model {name}: {key} is {why} in {path}, not {kind}; correct it in the file or re-run "
                        "test_demo.py for this model")


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
    if "splits" in entry and (not isinstance(own, list) or not all(isinstance(s, str) and s for s in own)):
        raise refuse("splits", shown(own), "a list of split names")
    for split in dict.fromkeys([*splits_of(entry), *(splits or [])]):
        for suffix, kind in SPLIT_FIGURES.items():
            key = f"{split}_{suffix}"
            if key in entry and (why := why_not_a_figure(entry[key])) is not None:
                raise refuse(key, why, kind)
        kind_key = f"{split}_memory_kind"
        if entry.get(kind_key) is not None and not isinstance(entry[kind_key], str):
            raise refuse(kind_key, shown(entry[kind_key]), "the kind of memory measured")
        images = entry.get(f"{split}_images")
        if images is not None and (not isinstance(images, list) or not all(isinstance(i, str) for i in images)):
            raise refuse(f"{split}_images", shown(images), "a list of image names")
    for key, kind in ENTRY_FIGURES.items():
        if key in entry and (why := why_not_a_figure(entry[key])) is not None:
            raise refuse(key, why, kind)
    if "num_conv" in entry and not float(entry["num_conv"]).is_integer():
        raise refuse("num_conv", repr(entry["num_conv"]), "a whole number of convolutions")
    complexity = entry.get("complexity")
    if "complexity" in entry and not isinstance(complexity, dict):
        raise refuse("complexity", shown(complexity), "the object of exact counts test_demo.py writes")
    for key in COUNTER_KEYS.values():
        if isinstance(complexity, dict) and key in complexity and (why := why_not_a_figure(complexity[key])) is not None:
            raise refuse(f"complexity.{key}", why, "a FLOPs count")
    if "flops_counter" in entry and entry["flops_counter"] not in COUNTER_KEYS:
        raise refuse("flops_counter", shown(entry["flops_counter"]), f"one of {', '.join(COUNTER_KEYS)}")
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


def _listed(names: list[str], limit: int = 6) -> str:
    return ", ".join(names[:limit]) + (f", … ({len(names)} in all)" if len(names) > limit else "")


def _prefixes(splits: list[str]) -> dict[str, str]:
    """Column prefix per split: ``valid`` → ``val``, ``test`` (or ``hybrid_test`` without a ``test``) → ``test``."""
    return {s: s if s == "hybrid_test" and "test" in splits else OFFICIAL_PREFIXES.get(s, s) for s in splits}


def _figure(entry: dict[str, Any], key: str, name: str) -> Any:
    """``entry[key]`` (dotted for nested keys); a HarnessError naming the model when the run did not record it."""
    value: Any = entry
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise HarnessError(f"model {name} has no {key} in the results file; re-run test_demo.py for it")
        value = value[part]
    return value


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
    if isinstance(complexity, dict) and COUNTER_KEYS[counter] in complexity:
        return complexity[COUNTER_KEYS[counter]] / 1e9, False
    if isinstance(complexity, dict) or "flops_counter" in entry:
        own = entry.get("flops_counter", "hooks")
        if own != counter:
            raise HarnessError(f"model {name} has FLOPs by {own} only and the year's figure of record is {counter}; "
                               "re-run test_demo.py --profile-only for it")
        return _figure(entry, "flops", name), False
    return _figure(entry, "flops", name), True


def results_table(results: dict[str, dict[str, Any]], year: int) -> pd.DataFrame:
    """One row per model in the published table's columns, FLOPs by ``year``'s counter (:func:`entry_flops`).

    ``ave`` is the mean runtime of the official splits when the file has any (the official
    (valid + test) / 2), else of every split; ``mem`` the largest memory of those same splits, which
    every model must have run. Other splits get their own ``<split>_t`` and ``<split>_psnr`` columns;
    ``device`` records where each model was timed.
    """
    counter = year_record(year).flops_counter
    splits = ordered_splits(list(results.values()))
    prefixes = _prefixes(splits)
    timed = [s for s in splits if s in OFFICIAL_PREFIXES] or splits
    rows = []
    for name, entry in results.items():
        absent = [s for s in timed if f"{s}_ave_runtime" not in entry]
        if absent:
            raise HarnessError(f"model {name} has no {absent[0]} run in the results file while others have; run it "
                               f"on {absent[0]} too, so that every model is timed on the same images")
        environment = entry.get("environment")
        rows.append({
            "team": name,
            "ave": statistics.fmean(entry[f"{s}_ave_runtime"] for s in timed),
            **{f"{prefixes[s]}_t": entry.get(f"{s}_ave_runtime", math.nan) for s in splits},
            **{f"{prefixes[s]}_psnr": entry.get(f"{s}_ave_psnr", math.nan) for s in splits},
            "params": _figure(entry, "num_parameters", name),
            "flops": entry_flops(entry, name, counter)[0],
            "acts": _figure(entry, "activations", name),
            "mem": max(_figure(entry, f"{s}_memory", name) for s in timed),
            "conv": _figure(entry, "num_conv", name),
            "device": environment.get("device_name") if isinstance(environment, dict) else None,
        })
    return pd.DataFrame(rows)


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
    """``year``'s ranks (rank sums) or scores and ranks (exp-score) by :mod:`benchmark.scoring`, beside the baseline.

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
    board = rank_year(table, year, baseline, psnr_rounded=psnr_rounded)
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
        notes.append(f"FLOPs of {which}: {COUNTER_NAMES[counter]}, as the {record.label} organizers counted them")
    if published:
        which = f"every model of {path}" if not counted else _listed(published)
        notes.append(f"FLOPs of {which}: as published in the file (no exact counts to recount by "
                     f"{COUNTER_NAMES[counter]}, the {record.label} counter)")
    on_cpu = [name for name, e in results.items()
              if isinstance(e.get("environment"), dict) and str(e["environment"].get("device", "")).startswith("cpu")]
    if on_cpu:
        gpu = ", not comparable with the table's GPU figures" if with_table else ""
        notes.append(f"timed on CPU (runtime = CPU time, memory = peak RSS){gpu}: {_listed(on_cpu)}")
    return notes


def _published_note(published: pd.DataFrame, board: pd.DataFrame, path: Path) -> str:
    """Whether the recomputed rank-sum ranks equal the ones the table was published with."""
    merged = published.merge(board, on="team", suffixes=("_published", ""))
    wrong = [f"{team} {col}" for col in RANK_SUM_COLUMNS
             for team in merged.loc[merged[f"{col}_published"] != merged[col], "team"]]
    if wrong:
        return f"published ranks of {path} NOT reproduced in {len(wrong)} cells: {_listed(wrong)}"
    return f"every published rank of {path} reproduced ({len(RANK_SUM_COLUMNS)} rank columns × {len(merged)} teams)"


def _crop(text: str) -> tuple[int, int, int]:
    try:
        x, y, size = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected x,y,size in HR pixels, e.g. 64,32,96") from None
    return x, y, size


def _visual_inputs(args: argparse.Namespace, results: dict[str, dict[str, Any]], originals: dict[str, str]
                   ) -> Callable[[Path], Path]:
    """Check every argument of ``--visual`` and read its images; returns what writes ``visual_<image>.png`` into a
    folder: the image's crop from bicubic, every model with SR images, and the HR.

    Run before anything else is computed or written, so that a wrong ``--visual`` costs nothing and leaves no
    leaderboard behind. ``originals`` maps a cleaned name to the name in the results file, under which the SR
    images lie.
    """
    if not results or args.save_dir is None or args.data is None:
        raise HarnessError("--visual needs --results, --save_dir (the SR images) and --data (the image's HR and LR)")
    image = args.visual
    if not plain_name(image):
        raise HarnessError(f"--visual {image!r}: not an image name; pass an HR file name without .png")
    if not args.save_dir.is_dir():
        raise HarnessError(f"--save_dir {args.save_dir}: no such folder; pass the --save_dir of the run")
    if not args.data.exists():
        raise HarnessError(f"--data {args.data}: no such folder; pass the data the run used")
    splits = list(dict.fromkeys(key.removesuffix("_images") for entry in results.values()
                                for key, stems in entry.items()
                                if key.endswith("_images") and isinstance(stems, list) and image in stems))
    if not splits:
        raise HarnessError(f"--visual {image}: no such image in {args.results}; pass an HR file name without .png")
    if args.split is not None and args.split not in splits:
        raise HarnessError(f"--split {args.split}: image {image} is not in it (it is in {', '.join(splits)})")
    if args.split is None and len(splits) > 1:
        raise HarnessError(f"--visual {image}: in splits {', '.join(splits)}; choose one with --split")
    split = args.split or splits[0]
    pair = next((p for p in data.find_split(args.data, split, args.year).pairs if p.name == image), None)
    if pair is None:
        raise HarnessError(f"--data {args.data}: no image {image} of split {split}; pass the data the run used")
    sr = {}
    for name, entry in results.items():
        stems = entry.get(f"{split}_images")
        if entry.get("checkpoint") is not None and isinstance(stems, list) and image in stems:
            folder = originals.get(name, name)
            if not plain_name(folder) or not plain_name(split):
                raise HarnessError(f"model {folder!r}, split {split!r}: not folder names, so no SR images can lie "
                                   "in --save_dir/MODEL/SPLIT; rename it in the results file")
            path = args.save_dir / folder / split / f"{image}.png"
            if not path.is_file():
                raise HarnessError(f"{path}: SR image missing; pass the --save_dir of the run, or re-run test_demo.py")
            sr[name] = read_image(path)
    if not sr:
        raise HarnessError(f"--visual {image}: no model of {args.results} saved SR images (none had a checkpoint)")
    hr, lr = read_image(pair.hr), read_image(pair.lr)
    plots.check_visual(hr, lr, sr, args.crop)
    return lambda folder: plots.visual_comparison(hr, lr, sr, folder / f"visual_{image}.png",
                                                  title=f"{image} ({split}, ×4)", crop=args.crop)


def check_out(out: Path) -> None:
    """``--out`` can be the output folder: a folder, or a path under folders (existing or to make)."""
    if out.exists() and not out.is_dir():
        raise HarnessError(f"--out {out}: a file, not a folder; pass a folder for leaderboard.csv/.md/.tex and the "
                           "plots")
    parent = next((p for p in out.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise HarnessError(f"--out {out}: {parent} is a file, not a folder; choose another output folder")


def write_outputs(out: Path, write: Callable[[Path], list[Path]]) -> list[Path]:
    """``write`` the outputs into a fresh hidden folder inside ``out``, then move each complete file into ``out``.

    A run that fails while writing (a full disk, an error in a plot) leaves ``out`` as it was: no half-written
    file, no mix of this run's and the previous run's files, and no ``out`` at all when it did not exist.
    """
    created = [p for p in (out, *out.parents) if not p.exists()]  # the folders this run makes, deepest first
    try:
        out.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=out, prefix=".compare-"))
    except OSError as err:
        raise HarnessError(f"--out {out}: cannot create the folder ({err.strerror}); choose a writable "
                           "folder") from None
    try:
        files = write(tmp)
        for path in files:
            os.replace(path, out / path.name)
        return [out / path.name for path in files]
    except BaseException as err:
        if created:
            shutil.rmtree(created[-1], ignore_errors=True)
        if isinstance(err, OSError):
            raise HarnessError(f"--out {out}: cannot write ({err.strerror}); choose a writable folder with free "
                               "space") from None
        if isinstance(err, UnicodeEncodeError):
            bad = err.object[err.start:err.end]
            raise HarnessError(f"--out {out}: a text of the results cannot be written as UTF-8 ({bad!r} is a lone "
                               "surrogate escape); correct it in the results file") from None
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_checked(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """A results file's entries keyed by their cleaned names (:func:`clean_names`), every figure the leaderboard
    reads checked (:func:`check_entry`), and ``{original: cleaned}`` for each name that cleaning changed."""
    results, renamed = clean_names(read_results(path, strict=True))
    originals = {new: old for old, new in renamed.items()}
    for name, entry in results.items():
        check_entry(originals.get(name, name), entry, path)
    every_split = ordered_splits(list(results.values()))
    for name, entry in results.items():  # the leaderboard reads every model's splits from every entry
        check_entry(originals.get(name, name), entry, path, every_split)
    return results, renamed


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
                     f"{COUNTER_NAMES[record.flops_counter]})")
    if results:
        frames.append(results_table(results, year))
    table = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    sources = [p for p in (results_path, table_path) if p is not None]
    if unranked and baseline is None and record.ranking == "exp-score" and record.baseline not in set(table["team"]):
        board = _unranked(table, year, psnr_rounded)
        notes.append(f"not ranked: every {record.label} score is relative to the baseline {record.baseline}, which is "
                     f"not in {' or '.join(map(str, sources))} (pass --baseline NAME to score against another model)")
    else:
        baseline = find_baseline(table, year, baseline, sources)
        board = leaderboard(table, year, baseline, psnr_rounded=psnr_rounded)
    notes.insert(0, floor_note(board, year, psnr_rounded))
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


def _run(args: argparse.Namespace, console: Console) -> list[Path]:
    if args.results is None and args.table is None:
        raise HarnessError("nothing to compare: pass --results R.json, --table FILE, or both")
    check_out(args.out)
    if args.site is not None:
        from benchmark import web  # the site is built on this module's leaderboard

        if args.site.resolve() == args.out.resolve():
            raise HarnessError(f"--site {args.site}: the folder of --out; give the site a folder of its own")
        web.check_out(args.site, "--site")
    if args.table is not None and args.table.is_dir():
        raise HarnessError(f"--table {args.table}: a folder, not a table; pass a results table such as "
                           "../shared/reference/ntire2023_esr_results.tsv")
    year, counter = args.year, year_record(args.year).flops_counter
    results, renamed = read_checked(args.results) if args.results is not None else ({}, {})
    originals = {new: old for old, new in renamed.items()}
    if args.factsheet is not None and clean_name(args.factsheet) not in results:
        raise HarnessError(f"--factsheet {args.factsheet}: no such model in --results (found: "
                           f"{_listed(list(results)) or 'none'}); pass one of them")
    visual = _visual_inputs(args, results, originals) if args.visual is not None else None
    table = check_table(load_table(args.table), args.table) if args.table is not None else None
    ranking = rank_inputs(results, renamed, table, year, baseline=args.baseline, psnr_rounded=args.psnr_rounded,
                          results_path=args.results, table_path=args.table)
    board, baseline, title, notes = ranking.board, ranking.baseline, ranking.title, ranking.notes

    def write(folder: Path) -> list[Path]:
        written = report.write_leaderboard(board, folder, title, notes, flops_counter=counter)
        written += plots.tradeoff_plots(board, year, folder, baseline)
        if args.factsheet is not None:
            name = clean_name(args.factsheet)
            flops, published = entry_flops(results[name], name, counter)
            path = folder / f"table1_{_UNSAFE_IN_NAMES.sub('_', name)}.tex"
            path.write_text(report.factsheet_latex(name, results[name], flops_counter=counter, flops_g=flops,
                                                   flops_published=published))
            written.append(path)
        if visual is not None:
            written.append(visual(folder))
        return written

    written = write_outputs(args.out, write)
    console.print(report.leaderboard_table(board, title, notes, flops_counter=counter), crop=False)
    if args.site is not None:
        inputs = web.SiteInputs([args.results] if args.results else [], year, args.table, args.baseline,
                                args.psnr_rounded, [args.data] if args.data else [])
        console.print(escape(web.build_site(inputs, args.site, "--site").line()), crop=False)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 on a user mistake)."""
    parser = OneLineParser(prog="python -m benchmark.compare",
                           description="Rank models by an NTIRE ESR year's rules; write tables and plots.")
    parser.add_argument("--results", type=Path, help="results file of test_demo.py, or an organizers' results file "
                                                      "(every model is ranked)")
    parser.add_argument("--table", type=Path, help="a published table (NTIRE 2023 columns); --results rows are added")
    parser.add_argument("--year", type=int, required=True, metavar="YEAR",
                        help=f"the challenge year whose ranking rule, FLOPs counter, baseline and PSNR floors "
                             f"apply ({', '.join(map(str, YEARS))}; records in benchmark/years.toml)")
    parser.add_argument("--baseline", help="model or team the ratios and scores are relative to (default: the year's "
                                           "baseline, e.g. 00_SPAN in 2026)")
    parser.add_argument("--psnr-rounded", action="store_true",
                        help="apply the PSNR floors to the PSNR printed to 2 decimals (default: the raw PSNR)")
    parser.add_argument("--out", type=Path, required=True, help="folder for leaderboard.csv/.md/.tex and the plots")
    parser.add_argument("--site", type=Path, help="also write the leaderboard as a static web site into SITE "
                                                   "(python -m benchmark.site)")
    parser.add_argument("--factsheet", metavar="NAME", help="also write OUT/table1_NAME.tex, Table 1 of model NAME")
    parser.add_argument("--visual", metavar="IMAGE", help="also write OUT/visual_IMAGE.png: one image, model by model")
    parser.add_argument("--save_dir", type=Path, help="with --visual: test_demo.py's --save_dir")
    parser.add_argument("--data", type=Path, help="with --visual: the split's folder or the official data folder")
    parser.add_argument("--split", help="with --visual: the split of the image, when several hold its name")
    parser.add_argument("--crop", type=_crop, help="with --visual: x,y,size in HR pixels (default: most detail)")
    console = Console(width=None if sys.stdout.isatty() else 200, highlight=False)
    try:
        args = parser.parse_args(argv)
        written = _run(args, console)
    except HarnessError as err:
        print(error_line(err), file=sys.stderr)
        return 2
    console.print(escape(f"wrote {', '.join(str(p) for p in written)}"), crop=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
