"""Build a benchmark folder (HR plus MATLAB-bicubic x4 LR) from a folder of high-resolution images.

    python -m benchmark.prepare --hr DIR --out OUT

writes ``OUT/HR/<stem>.png`` (the image cut to a multiple of 4) and
``OUT/LR_bicubic/X4/<stem>x4.png`` (``imresize(HR, 1/4, 'bicubic')`` as MATLAB computes it), the
layout of the official benchmark sets. Images are written as 3-channel RGB PNG; a grayscale source
gives three equal channels, whose LR equals the LR of the gray image. ``OUT`` is new, empty, or a set made here
before (replaced whole); an image over ``--max-pixels`` is refused before it is decoded.
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchmark.core.errors import HarnessError, OneLineParser, error_line
from benchmark.data.folders import MAX_PIXELS, prepare


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 on a user mistake)."""
    parser = OneLineParser(
        prog="python -m benchmark.prepare",
        description="Make HR/ and LR_bicubic/X4/ (MATLAB bicubic x4) from a folder of HR images.",
    )
    parser.add_argument("--hr", required=True, type=Path, help="folder of high-resolution images")
    parser.add_argument("--out", required=True, type=Path, help="output folder (HR/ and LR_bicubic/X4/): new, empty, "
                        "or a set prepared here before (replaced whole; a folder holding anything else is refused)")
    parser.add_argument("--max-pixels", type=int, default=MAX_PIXELS, metavar="N",
                        help=f"refuse, before decoding, an image of more than N pixels (default {MAX_PIXELS:,}, "
                             "Pillow's decompression-bomb bound)")
    try:
        args = parser.parse_args(argv)
        if args.max_pixels < 1:
            raise HarnessError(f"--max-pixels {args.max_pixels}: must be at least 1")
        written = prepare(args.hr, args.out, max_pixels=args.max_pixels)
    except HarnessError as exc:
        print(error_line(exc), file=sys.stderr)
        return 2
    print(f"wrote {len(written)} HR/LR pairs to {args.out}")  # plain print: no markup is read in the path
    return 0


if __name__ == "__main__":
    sys.exit(main())
