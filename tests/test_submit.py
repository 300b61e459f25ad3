"""benchmark.submit: the zip holds exactly the split's images and the NTIRE readme, and refuses what Codalab would."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from benchmark.errors import HarnessError
from benchmark.results import sha256_of
from benchmark.submit import main, package

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
