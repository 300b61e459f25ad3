"""The Codalab submission: one split's SR images and the NTIRE ``readme.txt`` in a zip, checked before it is written.

Codalab scores whatever the zip holds and reports a missing or mis-sized image only after the
upload, as a failed or silently lower score. So every image of the split (the stems listed in the
results file; with the data given, every image of the split there) must be present once, as an 8-bit
RGB PNG, at 4× its LR size (read from the data when given; without it, the size must at least be a
multiple of 4), and must be the very file the record's run wrote; otherwise nothing is written. The
zip is built beside its destination and renamed into place, so a failed run never leaves a half-written
zip, and never replaces a good one."""

from __future__ import annotations

import collections
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from benchmark.core.errors import HarnessError, shown
from benchmark.core.files import check_out_path, plain_name, sha256_of
from benchmark.core.years import DEFAULT_YEAR, YEARS
from benchmark.data.splits import find_split
from benchmark.imaging.images import PNG_COLOUR_TYPES, SCALE, png_header
from benchmark.record.checks import why_not_a_figure
from benchmark.record.store import read_results


def _pick(kind: str, value: str | None, choices: list[str], where: str, flag: str) -> str:
    """``value`` if ``where`` holds it; the only choice when ``value`` is None; a HarnessError otherwise."""
    listed = ", ".join(choices) or "none"
    if value is None:
        if len(choices) == 1:
            return choices[0]
        raise HarnessError(f"{where} holds {len(choices)} {kind}s ({listed}); choose one with {flag}")
    if value not in choices:
        raise HarnessError(f"{where}: no {kind} {value!r} (found: {listed}); pass one of them with {flag}")
    return value


def _check_entry(results_path: Path, model: str, entry: dict[str, Any], split: str, by_folder: bool) -> None:
    """The fields of ``model``'s results entry that the submission reads, checked before any image is opened.

    ``{split}_images`` a non-empty list of plain image names (none may lead outside the SR folder),
    ``{split}_saved`` the record of the images its run wrote, ``{split}_ave_runtime`` a runtime in ms and
    ``environment.device`` for the readme, ``year`` a challenge year; with ``by_folder`` (``--save_dir``)
    the model and split names must be folder names.
    """
    where, rerun = f"{results_path}: {model}'s", f"re-run test_demo.py on {split}"
    if by_folder:
        for kind, name in (("model", model), ("split", split)):
            if not plain_name(name):
                raise HarnessError(f"{results_path}: {kind} name {name!r} is not a folder name, so its SR images "
                                   f"cannot lie in --save_dir/MODEL/SPLIT; rename it in the results file")
    stems = entry.get(f"{split}_images")
    if not isinstance(stems, list) or not all(isinstance(stem, str) for stem in stems):
        raise HarnessError(f"{where} {split}_images is {shown(stems)}, not a list of image names; {rerun}")
    if not stems:
        raise HarnessError(f"{where} {split}_images is empty: its run recorded no image, so there is nothing to "
                           f"submit; {rerun}")
    bad = next((stem for stem in stems if not plain_name(stem)), None)
    if bad is not None:
        raise HarnessError(f"{where} {split}_images lists {bad!r}, which is not an image name (a file name without "
                           f"folders) and would be read outside the SR folder; {rerun}")
    saved = entry.get(f"{split}_saved")
    if not isinstance(saved, dict):
        reason = ("ran with --no-save" if saved is None and f"{split}_saved" in entry else
                  f"has {split}_saved = {shown(saved)}, not the record of the SR images its run wrote"
                  if f"{split}_saved" in entry else
                  "does not record which SR images its run wrote (made by an older harness)")
        raise HarnessError(f"{results_path}: {model}'s {split} run {reason}; {rerun}")
    digests = saved.get("sha256")
    if not isinstance(digests, dict) or not all(isinstance(d, str) for d in digests.values()):
        raise HarnessError(f"{where} {split}_saved.sha256 is {shown(digests)}, not the sha256 of each SR image its "
                           f"run wrote; {rerun}")
    if not by_folder and not (isinstance(saved.get("dir"), str) and saved["dir"]):
        raise HarnessError(f"{where} {split}_saved.dir is {shown(saved.get('dir'))}, not the folder its run saved "
                           "the SR images in; pass that folder's parent with --save_dir")
    runtime = entry.get(f"{split}_ave_runtime")
    if why_not_a_figure(runtime) is not None:
        raise HarnessError(f"{where} {split}_ave_runtime is {shown(runtime)}, not a runtime in ms (the readme's "
                           f"runtime per image); {rerun}")
    environment = entry.get("environment")
    if not isinstance(environment, dict):
        raise HarnessError(f"{where} environment is {shown(environment)}, not an object with the device; "
                           "re-run test_demo.py to record it")
    if not isinstance(environment.get("device"), str):
        raise HarnessError(f"{where} environment.device is {shown(environment.get('device'))}, not a device name "
                           "such as 'cuda:0' (the readme's CPU/GPU field); re-run test_demo.py to record it")
    year = entry.get("year", DEFAULT_YEAR)
    if not isinstance(year, int) or isinstance(year, bool) or year not in YEARS:
        raise HarnessError(f"{where} year is {shown(year)}, not a challenge year ({', '.join(map(str, YEARS))}); "
                           "re-run test_demo.py to record it")


def check_out(out: Path) -> None:
    """``--out`` can take the zip: a ``.zip`` name that is not a folder, under folders (existing or to make)."""
    if out.suffix.lower() != ".zip":
        raise HarnessError(f"--out {out}: Codalab takes a .zip file; name it {out.with_suffix('.zip').name}")
    if out.is_dir():
        raise HarnessError(f"--out {out}: a folder; pass the zip file to write, e.g. {out / 'submission.zip'}")
    check_out_path(out, "--out", "choose another path for the zip", folder=False)


def _png_rgb8_size(path: Path) -> tuple[int, int]:
    """(width, height) of an 8-bit RGB PNG; a HarnessError for anything Codalab would not score as such.

    Pillow then verifies every chunk's checksum, which finds a truncated file.
    """
    header = png_header(path)
    if header is None:
        raise HarnessError(f"{path}: not a PNG file; Codalab expects PNG images: re-run test_demo.py to save them")
    width, height, depth, colour = header
    if depth != 8 or colour != 2:
        kind = f"{depth}-bit {PNG_COLOUR_TYPES.get(colour, f'colour type {colour}')}"
        raise HarnessError(f"{path}: {kind} PNG; Codalab expects 8-bit RGB: save it as an 8-bit RGB PNG")
    try:
        with Image.open(path) as img:
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise HarnessError(f"{path}: damaged PNG ({err}); re-run test_demo.py to save it again") from None
    return width, height


def check_images(folder: Path, stems: list[str], lr_sizes: dict[str, tuple[int, int]] | None) -> list[Path]:
    """The SR files of ``stems`` in ``folder``, each present once, 8-bit RGB PNG, 4× its LR (or a multiple of 4)."""
    twice = [stem for stem, n in collections.Counter(stems).items() if n > 1]
    if twice:
        raise HarnessError(f"{folder}: the results list image {twice[0]} more than once; re-run the split")
    if not folder.is_dir():
        raise HarnessError(f"{folder}: no SR images; re-run test_demo.py with this --save_dir (and without --no-save)")
    missing = [stem for stem in stems if not (folder / f"{stem}.png").is_file()]
    if missing:
        raise HarnessError(f"{folder / (missing[0] + '.png')}: SR image missing ({len(missing)} of {len(stems)} "
                           "missing); re-run test_demo.py on this split with this --save_dir")
    files = []
    for stem in stems:
        path = folder / f"{stem}.png"
        width, height = _png_rgb8_size(path)
        if lr_sizes is None:
            if width % SCALE or height % SCALE:
                raise HarnessError(f"{path}: {width}×{height} is not {SCALE}× any LR size (not a multiple of "
                                   f"{SCALE}); re-run test_demo.py, or pass --data to check against the LR")
        else:
            lw, lh = lr_sizes[stem]
            if (width, height) != (lw * SCALE, lh * SCALE):
                raise HarnessError(f"{path}: {width}×{height}, but its LR is {lw}×{lh}, so the SR must be "
                                   f"{lw * SCALE}×{lh * SCALE}; re-run test_demo.py on this split")
        files.append(path)
    return files


def check_written_by_the_run(files: list[Path], saved: dict[str, Any]) -> None:
    """Every file is the one the record's run wrote (same sha256): images of another run never get submitted."""
    recorded = saved.get("sha256") or {}
    for path in files:
        if recorded.get(path.stem) is None:
            raise HarnessError(f"{path}: the results entry records no sha256 for it, so it cannot be shown to be "
                               "the image its run wrote; re-run test_demo.py on this split with this --save_dir")
        if recorded.get(path.stem) != sha256_of(path):
            raise HarnessError(f"{path}: not the image this results entry's run wrote (its sha256 differs); "
                               "re-run test_demo.py on this split with this --save_dir")


def _lr_sizes(data_path: Path, split: str, stems: list[str], year: int, where: str) -> dict[str, tuple[int, int]]:
    """Each LR's size, by image; the record (``where``) must hold every image of the split in ``data_path`` (Codalab
    scores a missing one as a failed or lower score), and no image the split lacks."""
    pairs = {pair.name: pair for pair in find_split(data_path, split, year).pairs}
    absent = [stem for stem in stems if stem not in pairs]
    if absent:
        raise HarnessError(f"--data {data_path}: no image {absent[0]} of split {split} ({len(absent)} absent); "
                           "pass the data the run used")
    missing = [name for name in pairs if name not in set(stems)]
    if missing:
        named = ", ".join(missing[:5]) + (f", … ({len(missing)} in all)" if len(missing) > 5 else "")
        raise HarnessError(f"{where} {split} run holds {len(stems)} of the {len(pairs)} images of split {split} in "
                           f"--data {data_path}; missing: {named}; a submission holds every image: re-run "
                           f"test_demo.py on the whole split")
    sizes = {}
    for stem in stems:
        with Image.open(pairs[stem].lr) as img:
            sizes[stem] = img.size
    return sizes


def readme_text(entry: dict[str, Any], split: str, extra_data: bool, description: str) -> str:
    """``readme.txt`` in the NTIRE format: the split's mean runtime in seconds and the device the run used."""
    environment = entry.get("environment")
    device = environment.get("device") if isinstance(environment, dict) else None
    if not isinstance(device, str):
        raise HarnessError("the results entry has no environment.device; re-run test_demo.py to record it")
    if len(description.splitlines()) > 1 or description.endswith(("\n", "\r")):
        raise HarnessError("--description must be one line; the readme's last field ends at the line break")
    return (f"runtime per image [s] : {entry[f'{split}_ave_runtime'] / 1000:.4f}\n"
            f"CPU[1] / GPU[0] : {1 if device.startswith('cpu') else 0}\n"
            f"Extra Data [1] / No Extra Data [0] : {int(extra_data)}\n"
            f"Other description : {description}\n")


def _write_zip(out: Path, files: list[Path], readme: str) -> None:
    """Images and readme at the zip's root, written beside ``out`` and renamed over it only when complete."""
    check_out(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    except OSError as err:
        raise HarnessError(f"--out {out}: cannot write there ({err.strerror}); choose a writable folder") from None
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:  # PNG is compressed already
                for path in files:
                    zf.write(path, arcname=path.name)
                zf.writestr("readme.txt", readme)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise HarnessError(f"--out {out}: cannot write the zip ({err.strerror}); choose a writable folder with "
                           "free space") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def package(results_path: str | Path, save_dir: str | Path | None = None, model: str | None = None, split: str | None = None,
            out: str | Path = "submission.zip", extra_data: bool = False, description: str | None = None,
            data_path: str | Path | None = None) -> Path:
    """Check one model's SR images of one split and write them with ``readme.txt`` to the zip ``out``; returns it.

    ``model`` and ``split`` may be None when the results file holds only one; ``data_path`` (the
    split's folder or the official data folder) adds the check against each LR's size.
    """
    out = Path(out)
    check_out(out)
    results = read_results(results_path, strict=True)
    model = _pick("model", model, list(results), str(results_path), "--model")
    entry = results[model]
    splits = [key.removesuffix("_images") for key in entry if key.endswith("_images")]
    split = _pick("split", split, splits, f"{results_path} for {model}", "--split")
    if entry.get("checkpoint") is None:
        raise HarnessError(f"{model} was run without a checkpoint, so no SR images were saved; "
                           "run test_demo.py with its checkpoint first")
    _check_entry(Path(results_path), model, entry, split, by_folder=save_dir is not None)
    saved = entry[f"{split}_saved"]
    stems = entry[f"{split}_images"]
    lr_sizes = None if data_path is None else _lr_sizes(Path(data_path), split, stems, entry.get("year", DEFAULT_YEAR),
                                                        f"{results_path}: {model}'s")
    folder = Path(saved["dir"]) if save_dir is None else Path(save_dir) / model / split
    files = check_images(folder, stems, lr_sizes)
    check_written_by_the_run(files, saved)
    if description is None:
        env = entry["environment"]
        variant = " (fast variant)" if entry.get("variant", "faithful") != "faithful" else ""
        description = f"{model}{variant}, runtime measured with the NTIRE ESR harness on {env.get('device_name')}"
        description = " ".join(description.splitlines())  # a line break in a name would end the readme's field
    readme = readme_text(entry, split, extra_data, description)
    try:
        readme.encode("utf-8")
    except UnicodeEncodeError as err:
        raise HarnessError(f"readme.txt: {err.object[err.start:err.end]!r} in its description is not valid Unicode "
                           "text (a lone surrogate escape); pass another --description") from None
    _write_zip(out, files, readme)
    return out
