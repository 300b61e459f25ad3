"""The leaderboard: every model of a results file (and/or a published table) ranked by one year's NTIRE rules.

    python -m benchmark.compare --results results/results.json --year 2026 --out DIR
    python -m benchmark.compare --results ../shared/reference/official/ntire2026_results.json --year 2026 --out DIR
    python -m benchmark.compare --table ../shared/reference/ntire2023_esr_results.tsv --year 2023 --out DIR

Flow: results file → one row per model in the published table's columns (``team, ave, val_t,
test_t, val_psnr, test_psnr, params, flops, acts, mem, conv``), appended to ``--table`` if given →
the year's ranks or scores from :mod:`benchmark.rank.scoring`, by the year's record in
``benchmark/core/years.toml`` (the rules live there only) → each figure beside the baseline's (the year's
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
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from benchmark.core.errors import HarnessError, OneLineParser, error_line
from benchmark.core.files import OutFolder, out_folder, plain_name
from benchmark.core.years import YEARS
from benchmark.data.splits import find_split
from benchmark.imaging.images import read_image
from benchmark.rank import plots
from benchmark.rank.board import (
    _listed,
    clean_name,
    entry_flops,
    load_table,
    rank_inputs,
    read_checked,
    year_of,
)
from benchmark.rank.scoring import year_record
from benchmark.record.checks import check_table
from benchmark.report.leaderboard import factsheet_latex, leaderboard_table, write_leaderboard
from benchmark.web.build import SiteInputs, build_site, site_folder

_UNSAFE_IN_NAMES = re.compile("[/\\\\\0]")
"""What a model name may hold but a file name may not: in ``table1_NAME.tex`` each becomes ``_``."""


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
    pair = next((p for p in find_split(args.data, split, args.year).pairs if p.name == image), None)
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


def write_outputs(out: OutFolder, write: Callable[[Path], list[Path]]) -> list[Path]:
    """``write`` the outputs into a fresh folder beside ``out``, which replaces ``out`` whole once complete.

    A run that fails while writing (a full disk, an error in a plot) leaves ``out`` as it was; a run that succeeds
    leaves only its own files there, none of an earlier run's (another --factsheet, --visual)."""
    try:
        with out.building() as folder:
            names = [path.name for path in write(folder)]
    except UnicodeEncodeError as err:
        bad = err.object[err.start:err.end]
        raise HarnessError(f"--out {out}: a text of the results cannot be written as UTF-8 ({bad!r} is a lone "
                           "surrogate escape); correct it in the results file") from None
    return [out.path / name for name in names]


def _run(args: argparse.Namespace, console: Console) -> list[Path]:
    if args.results is None and args.table is None:
        raise HarnessError("nothing to compare: pass --results R.json, --table FILE, or both")
    paths = {"--results": args.results, "--table": args.table, "--save_dir": args.save_dir, "--data": args.data,
             "--site": args.site}
    out = out_folder(args.out, "--out", "benchmark.compare", "choose a new or empty folder for leaderboard.csv/.md/"
                     ".tex and the plots", [(flag, path) for flag, path in paths.items() if path is not None])
    files, data = [args.results] if args.results else [], [args.data] if args.data else []
    site = None if args.site is None else site_folder(
        args.site, "--site", files, args.table, data,
        [("--out", args.out), *([("--save_dir", args.save_dir)] if args.save_dir else [])])
    if args.table is not None and args.table.is_dir():
        raise HarnessError(f"--table {args.table}: a folder, not a table; pass a results table such as "
                           "../shared/reference/ntire2023_esr_results.tsv")
    results, renamed = read_checked(args.results) if args.results is not None else ({}, {})
    table = check_table(load_table(args.table), args.table) if args.table is not None else None
    year, why = (args.year, None) if args.year is not None else (year_of(results, table) or (None, None))
    if year is None:
        years = sorted({str(e.get("year")) for e in results.values()})
        raise HarnessError(f"which year's rules? the records name {', '.join(years)}; pass --year YEAR (one of "
                           f"{', '.join(map(str, YEARS))})")
    args.year, counter = year, year_record(year).flops_counter
    originals = {new: old for old, new in renamed.items()}
    if args.factsheet is not None and clean_name(args.factsheet) not in results:
        raise HarnessError(f"--factsheet {args.factsheet}: no such model in --results (found: "
                           f"{_listed(list(results)) or 'none'}); pass one of them")
    visual = _visual_inputs(args, results, originals) if args.visual is not None else None
    ranking = rank_inputs(results, renamed, table, year, baseline=args.baseline, psnr_rounded=args.psnr_rounded,
                          results_path=args.results, table_path=args.table)
    board, baseline, title, notes = ranking.board, ranking.baseline, ranking.title, ranking.notes
    if why is not None:
        notes = [f"NTIRE {year} rules because {why} (--year overrides)", *notes]

    def write(folder: Path) -> list[Path]:
        written = write_leaderboard(board, folder, title, notes, year)
        written += plots.tradeoff_plots(board, year, folder, baseline)
        if args.factsheet is not None:
            name = clean_name(args.factsheet)
            flops, published = entry_flops(results[name], name, counter)
            path = folder / f"table1_{_UNSAFE_IN_NAMES.sub('_', name)}.tex"
            path.write_text(factsheet_latex(name, results[name], flops_counter=counter, flops_g=flops,
                                                   flops_published=published))
            written.append(path)
        if visual is not None:
            written.append(visual(folder))
        return written

    written = write_outputs(out, write)
    console.print(leaderboard_table(board, title, notes, year), crop=False)
    if site is not None:
        inputs = SiteInputs(files, year, args.table, args.baseline, args.psnr_rounded, data)
        console.print(escape(build_site(inputs, site).report()), crop=False)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 on a user mistake)."""
    parser = OneLineParser(prog="python -m benchmark.compare",
                           description="Rank models by an NTIRE ESR year's rules; write tables and plots.")
    parser.add_argument("--results", type=Path, help="results file of test_demo.py, or an organizers' results file "
                                                      "(every model is ranked)")
    parser.add_argument("--table", type=Path, help="a published table (NTIRE 2023 columns); --results rows are added")
    parser.add_argument("--year", type=int, metavar="YEAR",
                        help="the challenge year whose ranking rule, FLOPs counter, baseline and PSNR floors "
                             "apply (a record of benchmark/core/years.toml); default: the "
                             "year the records name, or whose baseline the file holds")
    parser.add_argument("--baseline", help="model or team the ratios and scores are relative to (default: the year's "
                                           "baseline, e.g. 00_SPAN in 2026)")
    parser.add_argument("--psnr-rounded", action="store_true",
                        help="apply the PSNR floors to the PSNR printed to 2 decimals (default: the raw PSNR)")
    parser.add_argument("--out", type=Path, required=True, help="folder for leaderboard.csv/.md/.tex and the plots: "
                        "new, empty, or one compare wrote before (replaced whole)")
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
