"""The leaderboard: every model of a results file (and/or a published table) ranked by one year's NTIRE rules.

    python -m benchmark.compare --results results/results.json --baseline 00_RFDN_baseline --scoring ntire2024 --out DIR
    python -m benchmark.compare --table ../shared/reference/ntire2023_esr_results.tsv --scoring ntire2023 --out DIR

Flow: results file → one row per model in the published table's columns (``team, ave, val_t,
test_t, val_psnr, test_psnr, params, flops, acts, mem, conv``), appended to ``--table`` if given →
the year's ranks or scores from :mod:`benchmark.scoring` (the rules live there only) → each figure
beside the baseline's → the console table, ``leaderboard.csv/.md/.tex``, the trade-off plots, and on
request the factsheet's Table 1 (``--factsheet``) and one image model by model (``--visual``).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.markup import escape

from benchmark import data, plots, report
from benchmark.errors import HarnessError
from benchmark.images import read_image
from benchmark.results import ordered_splits, read_results
from benchmark.scoring import RANK_2023_COLUMNS, SCORINGS, get_scoring, rank_ntire2023, score_ntire2024

OFFICIAL_PREFIXES = {"valid": "val", "test": "test", "hybrid_test": "test"}
"""The published table's column prefix of each official split (2023's test was the hybrid test set)."""
BASELINE_RATIOS = ("ave", "params", "flops", "acts", "mem", "conv")


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


def results_table(results: dict[str, dict[str, Any]], year: str) -> pd.DataFrame:
    """One row per model in the published table's columns, FLOPs counted as ``year``'s organizers counted them.

    ``ave`` is the mean runtime of the official splits when the file has any (the official
    (valid + test) / 2), else of every split; ``mem`` the largest memory of those same splits, which
    every model must have run. Other splits get their own ``<split>_t`` and ``<split>_psnr`` columns;
    ``device`` records where each model was timed.
    """
    hook_flops = get_scoring(year).flops_counter == "hooks"
    splits = ordered_splits(list(results.values()))
    prefixes = _prefixes(splits)
    timed = [s for s in splits if s in OFFICIAL_PREFIXES] or splits
    rows = []
    for name, entry in results.items():
        absent = [s for s in timed if f"{s}_ave_runtime" not in entry]
        if absent:
            raise HarnessError(f"model {name} has no {absent[0]} run in the results file while others have; run it "
                               f"on {absent[0]} too, so that every model is timed on the same images")
        flops = _figure(entry, "flops", name) if hook_flops else _figure(entry, "complexity.fvcore_flops", name) / 1e9
        rows.append({
            "team": name,
            "ave": statistics.fmean(entry[f"{s}_ave_runtime"] for s in timed),
            **{f"{prefixes[s]}_t": entry.get(f"{s}_ave_runtime", math.nan) for s in splits},
            **{f"{prefixes[s]}_psnr": entry.get(f"{s}_ave_psnr", math.nan) for s in splits},
            "params": _figure(entry, "num_parameters", name),
            "flops": flops,
            "acts": _figure(entry, "activations", name),
            "mem": max(_figure(entry, f"{s}_memory", name) for s in timed),
            "conv": _figure(entry, "num_conv", name),
            "device": entry.get("environment", {}).get("device_name"),
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
        elif col in BASELINE_RATIOS:
            columns[f"{col}_ratio"] = board[col] / base[col]
    return pd.DataFrame(columns)


def leaderboard(table: pd.DataFrame, year: str, baseline: str | None = None) -> pd.DataFrame:
    """``year``'s ranks (2023) or scores and ranks (2024 on) by :mod:`benchmark.scoring`, figures beside the baseline's.

    A baseline is required by the exp-score years (the score is relative to it) and optional in 2023.
    """
    scoring = get_scoring(year)
    teams = table["team"].astype(str)
    doubled = list(teams[teams.duplicated()].unique())
    if doubled:
        raise HarnessError(f"team {doubled[0]!r} is in the table twice; give every model and team its own name")
    if baseline is not None and baseline not in set(teams):
        raise HarnessError(f"--baseline {baseline}: no such model or team (found: {_listed(list(teams))}); "
                           "pass one of them")
    if scoring.method == "rank-sum":
        board = rank_ntire2023(table)
    elif baseline is None:
        raise HarnessError(f"--scoring {year} scores every model against a baseline: pass --baseline NAME "
                           f"(the {year} baseline was {scoring.baseline_model})")
    else:
        board = score_ntire2024(table, baseline, year)
    return board if baseline is None else _versus(board, baseline)


def floor_note(board: pd.DataFrame, year: str) -> str:
    """Which of ``year``'s PSNR floors the leaderboard checks, which it cannot, and which splits have none."""
    scoring = get_scoring(year)
    checked = [f"{col} ≥ {floor:.2f} dB" for col, floor in scoring.psnr_floors.items() if col in board]
    unchecked = [col for col in scoring.psnr_floors if col not in board]
    others = [col.removesuffix("_psnr") for col in board.columns
              if col.endswith("_psnr") and col not in scoring.psnr_floors]
    parts = []
    if checked:
        effect = ("reported only: the published 2023 table ranks teams below them" if scoring.method == "rank-sum"
                  else "rows below a floor are listed but not ranked")
        parts.append(f"PSNR floors of {year} checked (PSNR ok): {', '.join(checked)}; {effect}")
    if unchecked:
        plural = "s" if len(unchecked) > 1 else ""
        parts.append(f"{' and '.join(unchecked)} floor{plural} not checked (no such split in the results)")
    if others:
        parts.append(f"{', '.join(others)}: not an official split, so no PSNR floor applies")
    return "; ".join(parts)


def _results_notes(results: dict[str, dict[str, Any]], year: str, with_table: bool) -> list[str]:
    counter = "the official hook counter" if get_scoring(year).flops_counter == "hooks" else "fvcore"
    notes = [f"FLOPs of the results file's models: {counter}, as the {year} organizers counted them"]
    on_cpu = [name for name, e in results.items() if e.get("environment", {}).get("device", "").startswith("cpu")]
    if on_cpu:
        gpu = ", not comparable with the table's GPU figures" if with_table else ""
        notes.append(f"timed on CPU (runtime = CPU time, memory = peak RSS){gpu}: {_listed(on_cpu)}")
    return notes


def _published_note(published: pd.DataFrame, board: pd.DataFrame, path: Path) -> str:
    """Whether the recomputed 2023 ranks equal the ones the table was published with."""
    merged = published.merge(board, on="team", suffixes=("_published", ""))
    wrong = [f"{team} {col}" for col in RANK_2023_COLUMNS
             for team in merged.loc[merged[f"{col}_published"] != merged[col], "team"]]
    if wrong:
        return f"published ranks of {path} NOT reproduced in {len(wrong)} cells: {_listed(wrong)}"
    return f"every published rank of {path} reproduced ({len(RANK_2023_COLUMNS)} rank columns × {len(merged)} teams)"


def _crop(text: str) -> tuple[int, int, int]:
    try:
        x, y, size = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected x,y,size in HR pixels, e.g. 64,32,96") from None
    return x, y, size


def _visual(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> Path:
    """``visual_<image>.png``: the image's crop from bicubic, every model with SR images, and the HR."""
    if not results or args.save_dir is None or args.data is None:
        raise HarnessError("--visual needs --results, --save_dir (the SR images) and --data (the image's HR and LR)")
    image = args.visual
    splits = list(dict.fromkeys(key.removesuffix("_images") for entry in results.values()
                                for key, stems in entry.items() if key.endswith("_images") and image in stems))
    if not splits:
        raise HarnessError(f"--visual {image}: no such image in {args.results}; pass an HR file name without .png")
    if args.split is not None and args.split not in splits:
        raise HarnessError(f"--split {args.split}: image {image} is not in it (it is in {', '.join(splits)})")
    if args.split is None and len(splits) > 1:
        raise HarnessError(f"--visual {image}: in splits {', '.join(splits)}; choose one with --split")
    split = args.split or splits[0]
    pair = next((p for p in data.find_split(args.data, split).pairs if p.name == image), None)
    if pair is None:
        raise HarnessError(f"--data {args.data}: no image {image} of split {split}; pass the data the run used")
    sr = {}
    for name, entry in results.items():
        if entry.get("checkpoint") is not None and image in entry.get(f"{split}_images", []):
            path = args.save_dir / name / split / f"{image}.png"
            if not path.is_file():
                raise HarnessError(f"{path}: SR image missing; pass the --save_dir of the run, or re-run test_demo.py")
            sr[name] = read_image(path)
    if not sr:
        raise HarnessError(f"--visual {image}: no model of {args.results} saved SR images (none had a checkpoint)")
    return plots.visual_comparison(read_image(pair.hr), read_image(pair.lr), sr, args.out / f"visual_{image}.png",
                                   title=f"{image} ({split}, ×4)", crop=args.crop)


def _run(args: argparse.Namespace, console: Console) -> list[Path]:
    if args.results is None and args.table is None:
        raise HarnessError("nothing to compare: pass --results R.json, --table FILE, or both")
    year, scoring = args.scoring, get_scoring(args.scoring)
    results = read_results(args.results) if args.results is not None else {}
    frames = [load_table(args.table)] if args.table is not None else []
    notes = _results_notes(results, year, args.table is not None) if results else []
    if results:
        frames.append(results_table(results, year))
    table = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    board = leaderboard(table, year, args.baseline)
    notes.insert(0, floor_note(board, year))
    if not results and scoring.method == "rank-sum" and set(RANK_2023_COLUMNS) <= set(table.columns):
        notes.append(_published_note(table, board, args.table))
    title = f"Leaderboard under the {year} rules ({scoring.source})"
    title += f", baseline {args.baseline}" if args.baseline else ""
    console.print(report.leaderboard_table(board, title, notes))
    written = report.write_leaderboard(board, args.out, title, notes)
    written += plots.tradeoff_plots(board, year, args.out, args.baseline)
    if args.factsheet is not None:
        if args.factsheet not in results:
            raise HarnessError(f"--factsheet {args.factsheet}: no such model in --results (found: "
                               f"{_listed(list(results)) or 'none'}); pass one of them")
        path = args.out / f"table1_{args.factsheet}.tex"
        path.write_text(report.factsheet_latex(args.factsheet, results[args.factsheet],
                                               fvcore=scoring.flops_counter == "fvcore"))
        written.append(path)
    if args.visual is not None:
        written.append(_visual(args, results))
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 on a user mistake)."""
    parser = argparse.ArgumentParser(prog="python -m benchmark.compare",
                                     description="Rank models by an NTIRE ESR year's rules; write tables and plots.")
    parser.add_argument("--results", type=Path, help="results file of test_demo.py (every model is ranked)")
    parser.add_argument("--table", type=Path, help="a published table (NTIRE 2023 columns); --results rows are added")
    parser.add_argument("--scoring", required=True, choices=list(SCORINGS), help="the year whose rules rank")
    parser.add_argument("--baseline", help="model or team the ratios (and the 2024/2025 scores) are relative to")
    parser.add_argument("--out", type=Path, required=True, help="folder for leaderboard.csv/.md/.tex and the plots")
    parser.add_argument("--factsheet", metavar="NAME", help="also write OUT/table1_NAME.tex, Table 1 of model NAME")
    parser.add_argument("--visual", metavar="IMAGE", help="also write OUT/visual_IMAGE.png: one image, model by model")
    parser.add_argument("--save_dir", type=Path, help="with --visual: test_demo.py's --save_dir")
    parser.add_argument("--data", type=Path, help="with --visual: the split's folder or the official data folder")
    parser.add_argument("--split", help="with --visual: the split of the image, when several hold its name")
    parser.add_argument("--crop", type=_crop, help="with --visual: x,y,size in HR pixels (default: most detail)")
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 200, highlight=False)
    try:
        written = _run(args, console)
    except HarnessError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    console.print(escape(f"wrote {', '.join(str(p) for p in written)}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
