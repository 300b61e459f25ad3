"""The Codalab submission: one split's SR images and the NTIRE ``readme.txt`` in a zip, checked before it is written.

    python -m benchmark.submit --results results/results.json --save_dir results --model 05_SRneXt \\
        --split test --data DATA --out submission.zip

Codalab scores whatever the zip holds and reports a missing or mis-sized image only after the
upload, as a failed or silently lower score. So every image of the split (the stems listed in the
results file; with ``--data``, every image of the split there) must be present once, as an 8-bit RGB
PNG, at 4× its LR size (read from ``--data`` when given; without it, the size must at least be a
multiple of 4); otherwise nothing is written.
The zip is built beside its destination and renamed into place, so a failed run never leaves a
half-written zip, and never replaces a good one.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from benchmark.core.errors import HarnessError, OneLineParser, error_line
from benchmark.report.submission import package


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 on a user mistake)."""
    parser = OneLineParser(prog="python -m benchmark.submit",
                           description="Write a checked Codalab zip: a split's SR images and readme.txt.")
    parser.add_argument("--results", type=Path, default=Path("results/results.json"),
                        help="results file (default: results/results.json)")
    parser.add_argument("--save_dir", type=Path, help="test_demo.py's --save_dir (default: where the run saved them, "
                        "as its results entry records)")
    parser.add_argument("--model", help="model name in the results file (default: its only model)")
    parser.add_argument("--split", help="split to submit (default: the model's only split)")
    parser.add_argument("--data", type=Path, help="the split's folder or the official data folder: check 4× LR size")
    parser.add_argument("--out", type=Path, required=True, help="the zip to write")
    parser.add_argument("--extra-data", type=int, choices=(0, 1), default=0, help="1 if trained with extra data")
    parser.add_argument("--description", help="readme's 'Other description' (default: model and device)")
    try:
        args = parser.parse_args(argv)
        out = package(args.results, args.save_dir, args.model, args.split, args.out, bool(args.extra_data),
                      args.description, args.data)
    except HarnessError as err:
        print(error_line(err), file=sys.stderr)
        return 2
    console = Console(highlight=False, soft_wrap=True)
    with zipfile.ZipFile(out) as zf:
        images = [name for name in zf.namelist() if name != "readme.txt"]
        readme = zf.read("readme.txt").decode()
    checked = f"4× the LR of {args.data}, every image of the split" if args.data else \
        "a multiple of 4 (pass --data to check the LR sizes and that every image of the split is there)"
    console.print(escape(f"wrote {out}: {len(images)} SR images, 8-bit RGB PNG, size {checked}"))
    console.print(escape(readme.rstrip("\n")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
