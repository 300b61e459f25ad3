"""benchmark.submit: the zip holds exactly the split's images and the NTIRE readme, and refuses what Codalab would."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from benchmark.core.errors import HarnessError
from benchmark.core.files import sha256_of
from benchmark.report.submission import package
from benchmark.submit import main

STEMS = ["bird", "baby", "head"]  # results order, not sorted: the zip follows the results file


def _write_rgb(path: Path, height: int, width: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), img)


def _entry(device: str = "cpu", checkpoint: str | None = "model_zoo/x.pth", saved: Path | None = None) -> dict:
    """A results entry; ``saved``: the folder of the SR images its run wrote (their sha256 recorded)."""
    record = None if saved is None else {"dir": str(saved),
                                          "sha256": {s: sha256_of(saved / f"{s}.png") for s in STEMS}}
    return {"tiny_runtime": [250.0, 300.0, 350.0], "tiny_ave_runtime": 300.0, "tiny_images": STEMS,
            "tiny_ave_psnr": 28.0, "checkpoint": checkpoint, "variant": "faithful", "tiny_saved": record,
            "environment": {"device": device, "device_name": "Test CPU"}}


@pytest.fixture()
def run(tmp_path: Path) -> dict:
    """A results file with two models, a data folder ``tiny`` (LR 8×6) and model A's SR images (32×24)."""
    data = tmp_path / "tiny"
    for i, stem in enumerate(STEMS):
        _write_rgb(data / "HR" / f"{stem}.png", 24, 32, i)
        _write_rgb(data / "LR_bicubic" / "X4" / f"{stem}x4.png", 6, 8, 10 + i)
        _write_rgb(tmp_path / "S" / "A" / "tiny" / f"{stem}.png", 24, 32, 20 + i)
    results = tmp_path / "R.json"
    saved = tmp_path / "S" / "A" / "tiny"
    results.write_text(json.dumps({"A": _entry(saved=saved), "B": _entry("cuda:0", checkpoint=None)}))
    return {"results": results, "save_dir": tmp_path / "S", "data": data, "out": tmp_path / "out" / "sub.zip"}


def _main(run: dict, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["--results", str(run["results"]), "--save_dir", str(run["save_dir"]), "--out", str(run["out"]),
                 *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_zip_holds_the_images_at_its_root_and_the_ntire_readme(run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _main(run, capsys, "--model", "A", "--data", str(run["data"]), "--extra-data", "1",
                           "--description", "tiny test model")
    assert code == 0, err
    assert f"wrote {run['out']}: 3 SR images" in out
    with zipfile.ZipFile(run["out"]) as zf:
        assert zf.namelist() == [f"{s}.png" for s in STEMS] + ["readme.txt"]
        readme = zf.read("readme.txt").decode()
        assert zf.read("head.png") == (run["save_dir"] / "A" / "tiny" / "head.png").read_bytes()
    assert readme == ("runtime per image [s] : 0.3000\n"
                      "CPU[1] / GPU[0] : 1\n"
                      "Extra Data [1] / No Extra Data [0] : 1\n"
                      "Other description : tiny test model\n")
    assert sorted(p.name for p in run["out"].parent.iterdir()) == ["sub.zip"]  # no temporary file left behind


def test_gpu_run_and_default_description(run: dict) -> None:
    entry = _entry("cuda:0", saved=run["save_dir"] / "A" / "tiny")
    run["results"].write_text(json.dumps({"A": entry}))
    out = package(run["results"], out=run["out"])  # one model, one split, the folder its run recorded
    with zipfile.ZipFile(out) as zf:
        lines = zf.read("readme.txt").decode().splitlines()
    assert lines[1] == "CPU[1] / GPU[0] : 0" and lines[2].endswith(": 0")
    assert lines[3] == "Other description : A, runtime measured with the NTIRE ESR harness on Test CPU"


def _refused(run: dict, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    code, _, err = _main(run, capsys, "--model", "A", *extra)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err  # one line, no traceback
    assert not run["out"].exists()
    return err


def test_missing_image_refused(run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    (run["save_dir"] / "A" / "tiny" / "baby.png").unlink()
    err = _refused(run, capsys)
    assert "baby.png: SR image missing (1 of 3 missing)" in err


def test_a_record_of_part_of_the_split_is_refused_naming_the_missing_images(run: dict,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The run saw one image of the split (a folder of the same name with fewer images): with --data the zip would
    hold 1 of 3 images and Codalab would score it low; the line names the missing ones and no zip is written."""
    entry = json.loads(run["results"].read_text())["A"]
    entry.update(tiny_images=["bird"], tiny_runtime=[250.0])
    run["results"].write_text(json.dumps({"A": entry}))
    err = _refused(run, capsys, "--data", str(run["data"]))
    assert err == (f"error: {run['results']}: A's tiny run holds 1 of the 3 images of split tiny in --data "
                   f"{run['data']}; missing: baby, head; a submission holds every image: re-run test_demo.py on the "
                   "whole split\n")
    code, out, _ = _main(run, capsys, "--model", "A")  # without --data the split's images are unknown: it says so
    assert code == 0 and "pass --data to check the LR sizes and that every image of the split is there" in out


def test_wrong_size_refused_against_the_lr(run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    _write_rgb(run["save_dir"] / "A" / "tiny" / "head.png", 24, 36, 0)  # a multiple of 4, but not 4× the 8×6 LR
    assert "head.png: 36×24, but its LR is 8×6, so the SR must be 32×24" in _refused(run, capsys, "--data",
                                                                                     str(run["data"]))


def test_size_without_data_must_be_a_multiple_of_4(run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    _write_rgb(run["save_dir"] / "A" / "tiny" / "head.png", 24, 30, 0)
    assert "head.png: 30×24 is not 4× any LR size" in _refused(run, capsys)


def test_16_bit_image_refused(run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    img16 = np.random.default_rng(0).integers(0, 65536, (24, 32, 3), dtype=np.uint16)
    cv2.imwrite(str(run["save_dir"] / "A" / "tiny" / "bird.png"), img16)
    assert Image.open(run["save_dir"] / "A" / "tiny" / "bird.png").mode == "RGB"  # why Pillow's mode is not enough
    assert "bird.png: 16-bit RGB PNG; Codalab expects 8-bit RGB" in _refused(run, capsys)


@pytest.mark.parametrize("mode, kind", [("P", "8-bit palette"), ("L", "8-bit grayscale"), ("RGBA", "8-bit RGBA")])
def test_palette_gray_and_alpha_refused(run: dict, capsys: pytest.CaptureFixture[str], mode: str, kind: str) -> None:
    path = run["save_dir"] / "A" / "tiny" / "bird.png"
    Image.open(path).convert(mode).save(path)
    assert f"bird.png: {kind} PNG" in _refused(run, capsys)


def test_truncated_png_refused(run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    path = run["save_dir"] / "A" / "tiny" / "bird.png"
    path.write_bytes(path.read_bytes()[:-40])
    assert "bird.png: damaged PNG" in _refused(run, capsys)


def test_images_the_run_did_not_write_are_refused(run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    _write_rgb(run["save_dir"] / "A" / "tiny" / "baby.png", 24, 32, 99)  # a valid image, from another run
    assert "baby.png: not the image this results entry's run wrote" in _refused(run, capsys)


@pytest.mark.parametrize("saved, reason", [(None, "ran with --no-save"), ("absent", "does not record which SR images")])
def test_a_run_that_recorded_no_images_is_refused(run: dict, capsys: pytest.CaptureFixture[str], saved: str | None,
                                                  reason: str) -> None:
    entry = _entry()
    if saved == "absent":
        del entry["tiny_saved"]
    run["results"].write_text(json.dumps({"A": entry}))
    assert reason in _refused(run, capsys)


def test_failed_check_keeps_the_previous_zip(run: dict) -> None:
    run["out"].parent.mkdir()
    run["out"].write_bytes(b"previous")
    (run["save_dir"] / "A" / "tiny" / "bird.png").unlink()
    with pytest.raises(HarnessError):
        package(run["results"], run["save_dir"], model="A", out=run["out"])
    assert run["out"].read_bytes() == b"previous"


@pytest.mark.parametrize("kwargs, message", [
    ({}, "holds 2 models (A, B); choose one with --model"),
    ({"model": "C"}, "no model 'C' (found: A, B)"),
    ({"model": "A", "split": "valid"}, "no split 'valid' (found: tiny)"),
    ({"model": "B"}, "B was run without a checkpoint"),
    ({"model": "A", "out": "sub.tar"}, "Codalab takes a .zip file"),
    ({"model": "A", "description": "two\nlines"}, "--description must be one line"),
    ({"model": "A", "data_path": "elsewhere"}, "no HR/ folder, and tiny is not an official split"),
])
def test_user_mistakes_name_the_fix(run: dict, kwargs: dict, message: str) -> None:
    kwargs = {"out": run["out"], **kwargs}
    with pytest.raises(HarnessError) as err:
        package(run["results"], run["save_dir"], **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


# --- every bad input: one line, nothing written ---------------------------------------------------------------


def _refused_line(run: dict, capsys: pytest.CaptureFixture[str], entry: dict, *extra: str, model: str = "A") -> str:
    """Submit ``entry`` as ``model`` (the only model of the results file): exit 2, one ``error:`` line, no zip and
    no temporary file anywhere under the zip's folder; returns the line without ``error: ``."""
    run["results"].write_text(json.dumps({model: entry}))
    code = main(["--results", str(run["results"]), "--save_dir", str(run["save_dir"]), "--out", str(run["out"]),
                 *extra])
    captured = capsys.readouterr()
    assert code == 2, captured.out
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
    assert captured.out == ""
    assert not run["out"].parent.exists() or not any(run["out"].parent.iterdir())
    return captured.err.removeprefix("error: ").removesuffix("\n")


def _saved(run: dict) -> dict:
    return _entry(saved=run["save_dir"] / "A" / "tiny")


@pytest.mark.parametrize("key, value, message", [
    ("tiny_images", "bird", "A's tiny_images is 'bird', not a list of image names; re-run test_demo.py on tiny"),
    ("tiny_images", ["bird", 3], ("A's tiny_images is ['bird', 3], not a list of image names; "
                                 "re-run test_demo.py on tiny")),
    ("tiny_images", None, "A's tiny_images is None, not a list of image names; re-run test_demo.py on tiny"),
    ("tiny_ave_runtime", "300", ("A's tiny_ave_runtime is '300', not a runtime in ms (the readme's runtime per image); "
                                "re-run test_demo.py on tiny")),
    ("tiny_ave_runtime", None, "A's tiny_ave_runtime is None, not a runtime in ms"),
    ("tiny_ave_runtime", -1.0, "A's tiny_ave_runtime is -1.0, not a runtime in ms"),
    ("tiny_ave_runtime", float("nan"), "A's tiny_ave_runtime is nan, not a runtime in ms"),
    ("tiny_ave_runtime", True, "A's tiny_ave_runtime is True, not a runtime in ms"),
    ("environment", ["cpu"], ("A's environment is ['cpu'], not an object with the device; "
                             "re-run test_demo.py to record it")),
    ("environment", {"device": 0}, ("A's environment.device is 0, not a device name such as 'cuda:0' (the readme's "
                                   "CPU/GPU field); re-run test_demo.py to record it")),
    ("tiny_saved", "S/A/tiny", ("A's tiny run has tiny_saved = 'S/A/tiny', not the record of the SR images its run "
                               "wrote; re-run test_demo.py on tiny")),
    ("tiny_saved", {"dir": "S/A/tiny", "sha256": ["x"]}, ("A's tiny_saved.sha256 is ['x'], not the sha256 of each SR "
                                                         "image its run wrote; re-run test_demo.py on tiny")),
    ("tiny_saved", {"dir": "S/A/tiny"}, "A's tiny_saved.sha256 is None, not the sha256 of each SR image"),
    ("year", "2024", ("A's year is '2024', not a challenge year (2023, 2024, 2025, 2026); "
                     "re-run test_demo.py to record it")),
])
def test_entry_fields_of_the_wrong_type_are_one_line(run: dict, capsys: pytest.CaptureFixture[str], key: str,
                                                     value: object, message: str) -> None:
    entry = _saved(run)
    entry[key] = value
    assert _refused_line(run, capsys, entry).startswith(f"{run['results']}: {message}")


def test_saved_dir_must_be_a_folder_name_when_no_save_dir_is_given(run: dict, capsys: pytest.CaptureFixture[str]
                                                                   ) -> None:
    entry = _saved(run)
    entry["tiny_saved"]["dir"] = 5
    run["results"].write_text(json.dumps({"A": entry}))
    assert main(["--results", str(run["results"]), "--out", str(run["out"])]) == 2
    assert capsys.readouterr().err == (f"error: {run['results']}: A's tiny_saved.dir is 5, not the folder its run "
                                       "saved the SR images in; pass that folder's parent with --save_dir\n")


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "sub/bird", "..\\bird", "", "..", "bi\0rd"])
def test_image_names_outside_the_save_folder_are_refused(run: dict, capsys: pytest.CaptureFixture[str],
                                                         name: str) -> None:
    (run["save_dir"] / "sub").mkdir()
    _write_rgb(run["save_dir"] / "sub" / "bird.png", 24, 32, 0)  # would pass every other check
    entry = _saved(run)
    entry["tiny_images"] = ["baby", name]
    entry["tiny_saved"]["sha256"][name] = "0" * 64
    assert _refused_line(run, capsys, entry) == (
        f"{run['results']}: A's tiny_images lists {name!r}, which is not an image name (a file name without folders) "
        "and would be read outside the SR folder; re-run test_demo.py on tiny")


def test_empty_image_list_is_refused(run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    entry = _saved(run)
    entry["tiny_images"] = []
    assert _refused_line(run, capsys, entry) == (f"{run['results']}: A's tiny_images is empty: its run recorded no "
                                                 "image, so there is nothing to submit; re-run test_demo.py on tiny")


@pytest.mark.parametrize("model", ["..", "a/b"])
def test_model_names_that_are_not_folder_names_are_refused(run: dict, capsys: pytest.CaptureFixture[str],
                                                           model: str) -> None:
    assert _refused_line(run, capsys, _saved(run), model=model) == (
        f"{run['results']}: model name {model!r} is not a folder name, so its SR images cannot lie in "
        "--save_dir/MODEL/SPLIT; rename it in the results file")


def test_an_entry_that_is_not_an_object_is_refused(run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    run["results"].write_text(json.dumps({"A": _saved(run), "B": [1, 2]}))
    code, _, err = _main(run, capsys, "--model", "A")
    assert code == 2 and err == (f"error: {run['results']}: entry 'B' is a list, not an object of figures; remove it "
                                 "from the file or re-run test_demo.py for it\n")


def test_out_whose_parent_is_a_file_is_refused(run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = run["out"].parent
    blocker.write_bytes(b"a file")
    run["out"] = blocker / "deeper" / "sub.zip"
    code, out, err = _main(run, capsys, "--model", "A")
    assert code == 2 and out == ""
    assert err == f"error: --out {run['out']}: {blocker} is a file, not a folder; choose another path for the zip\n"
    assert blocker.read_bytes() == b"a file"


def test_out_that_is_a_folder_is_refused(run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    run["out"].mkdir(parents=True)
    (run["out"] / "keep.txt").write_text("kept")
    code, out, err = _main(run, capsys, "--model", "A")
    assert code == 2 and out == ""
    assert err == (f"error: --out {run['out']}: a folder; pass the zip file to write, e.g. "
                   f"{run['out'] / 'submission.zip'}\n")
    assert [p.name for p in run["out"].iterdir()] == ["keep.txt"]


def test_bad_option_is_one_line(run: dict, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--results", str(run["results"]), "--out", str(run["out"]), "--extra-data", "2"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err == ("error: argument --extra-data: invalid choice: 2 (choose from 0, 1); "
                   "see python -m benchmark.submit --help\n")


@pytest.mark.parametrize("folder", ["[red]x[/red]", "a[b]", "[/]"])
def test_paths_print_literally(run: dict, capsys: pytest.CaptureFixture[str], folder: str) -> None:
    run["out"] = run["out"].parent / folder / "sub.zip"
    code, out, err = _main(run, capsys, "--model", "A", "--description", "[bold]team[/bold]")
    assert code == 0, err
    assert f"wrote {run['out']}: 3 SR images" in out
    assert "Other description : [bold]team[/bold]" in out
