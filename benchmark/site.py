"""The leaderboard as a static web site (``benchmark.web``): every model ranked by a year's rules, the trade-off
plots, a page per model and the years side by side.

    python -m benchmark.site --results ../shared/reference/official/ntire2026_results.json --year 2026 --out site26
    python -m benchmark.site --results results/NTIRE2026_ESR.json --year 2026 --out site --data ../shared/data/Set5
    python -m benchmark.site --results R2026.json R2024.json --table ntire2023_esr_results.tsv --year 2026 --out site
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchmark.core.errors import HarnessError, OneLineParser, error_line
from benchmark.web.build import SiteInputs, build_site, site_folder


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 on a user mistake)."""
    parser = OneLineParser(prog="python -m benchmark.site", description="Write the leaderboard as a static web site.")
    parser.add_argument("--results", type=Path, nargs="+", default=[], metavar="R.json",
                        help="results files: this harness's (a sweep's failures and logs beside it are shown too) or "
                             "the organizers' as published; files of other years fill the across-years page")
    parser.add_argument("--table", type=Path, help="a published table (NTIRE 2023 columns)")
    parser.add_argument("--year", type=int, required=True, metavar="YEAR",
                        help="the year whose rules rank the leaderboard (a record of benchmark/core/years.toml)")
    parser.add_argument("--baseline", help="model the scores are relative to (default: the year's baseline)")
    parser.add_argument("--psnr-rounded", action="store_true",
                        help="apply the PSNR floors to the PSNR printed to 2 decimals (default: the raw PSNR)")
    parser.add_argument("--data", type=Path, nargs="+", default=[], metavar="DATA",
                        help="the splits' folders (HR/, LR_bicubic/X4/) or the official data folder: visual crops "
                             "of the models that saved SR images")
    parser.add_argument("--atlas", type=Path, metavar="atlas.json", help="an atlas (python -m benchmark.atlas): every "
                        "entry of every year on the across-years page")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for the site: new, empty, or a site built before (replaced whole; a folder "
                             "holding anything else, or the inputs, is refused)")
    try:
        args = parser.parse_args(argv)
        if not args.results and args.table is None:
            raise HarnessError("nothing to show: pass --results R.json, --table FILE, or both")
        inputs = SiteInputs(args.results, args.year, args.table, args.baseline, args.psnr_rounded, args.data, args.atlas)
        built = build_site(inputs, site_folder(args.out, "--out", args.results, args.table, args.data,
                                               others=[("--atlas", args.atlas)] if args.atlas else []))
    except HarnessError as err:
        print(error_line(err), file=sys.stderr)
        return 2
    print(built.report())  # plain print: no markup is read in the paths
    return 0


if __name__ == "__main__":
    sys.exit(main())
