"""The MATLAB-compatible bicubic downscaler and ``python -m benchmark.prepare``."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import SET5, shared_file

from benchmark.core.files import MARKER
from benchmark.data.folders import prepare
from benchmark.imaging.imresize import downscale_x4, imresize
from benchmark.prepare import main

# Image names of the reference sets, so that the parametrisation does not depend on the data being present.
SET14 = [
    "baboon", "barbara", "bridge", "coastguard", "comic", "face", "flowers",
    "foreman", "lenna", "man", "monarch", "pepper", "ppt3", "zebra",
]  # fmt: skip


def _need_data(set_name: str) -> Path:
    return shared_file("data", set_name)


def _raw(path: Path) -> np.ndarray:
    """Decode with no conversion, so that a grayscale file stays H×W."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, path
    return img


# --- bit-exactness against the MATLAB-made LR files ---------------------------------------------


@pytest.mark.parametrize(
    ("set_name", "name"), [("Set5", n) for n in SET5] + [("Set14", n) for n in SET14]
)
def test_downscale_x4_matches_matlab(set_name: str, name: str) -> None:
    root = _need_data(set_name)
    hr = _raw(root / "HR" / f"{name}.png")
    lr = _raw(root / "LR_bicubic" / "X4" / f"{name}x4.png")
    out = downscale_x4(hr)  # per-channel, so OpenCV's BGR order does not matter
    assert out.dtype == np.uint8
    assert out.shape == lr.shape
    assert np.array_equal(out, lr), f"{int((out != lr).sum())} pixels differ"


def test_prepare_set5_matches_reference(tmp_path: Path) -> None:
    root = _need_data("Set5")
    written = prepare(root / "HR", tmp_path, show_progress=False)
    assert [p.name for p in written] == [f"{n}.png" for n in SET5]
    for hr_path in written:
        assert hr_path.parent == tmp_path / "HR"
        hr = _raw(hr_path)
        assert hr.shape[0] % 4 == 0 and hr.shape[1] % 4 == 0
        lr = _raw(tmp_path / "LR_bicubic" / "X4" / f"{hr_path.stem}x4.png")
        ref = _raw(root / "LR_bicubic" / "X4" / f"{hr_path.stem}x4.png")
        assert np.array_equal(lr, ref), hr_path.stem


# --- hand-checked cases (no reference data needed) ----------------------------------------------


@pytest.mark.parametrize("scale", [1 / 4, 1 / 3, 1 / 2, 0.7, 1.0, 1.5, 2.0, 4.0])
def test_constant_image_stays_constant(scale: float) -> None:
    img = np.full((13, 10, 3), 137, dtype=np.uint8)
    out = imresize(img, scale)
    assert out.shape == (math.ceil(13 * scale), math.ceil(10 * scale), 3)
    assert (out == 137).all()


def test_ramp_halved_by_hand() -> None:
    # Scale 1/2: kernel 0.5·cubic(x/2), width 8. For output j, u = 2j - 0.5 and the non-zero taps
    # sit at distances ±0.5, ±1.5, ±2.5, ±3.5, i.e. cubic(0.25), cubic(0.75), cubic(1.25),
    # cubic(1.75) = 111/128, 29/128, -9/128, -3/128; normalised: (111, 29, -9, -3)/256 on each side.
    # Row 10, 20, ..., 80 (1-based i → 10·i), borders mirrored (0 → 1, -1 → 2, 9 → 8, 10 → 7):
    #   j=1: taps 3,2,1,1,2,3,4,5 → (-90-180+290+1110+2220+870-360-150)/256 = 3710/256 = 14.49 → 14
    #   j=2: taps 1,1,2,...,7     → 8930/256  = 34.88 → 35
    #   j=3: taps 2,...,8,8       → 14110/256 = 55.12 → 55
    #   j=4: taps 4,...,8,8,7,6   → 19330/256 = 75.51 → 76
    row = np.arange(10, 90, 10, dtype=np.uint8)
    img = np.repeat(row[None, :], 4, axis=0)
    out = imresize(img, 1 / 2)
    assert out.shape == (2, 4)
    assert out.tolist() == [[14, 35, 55, 76]] * 2
    # The same ramp along the other axis gives the same numbers.
    assert imresize(img.T.copy(), 1 / 2).tolist() == [[14, 14], [35, 35], [55, 55], [76, 76]]


def test_float_input_is_not_rounded() -> None:
    row = np.arange(10, 90, 10, dtype=np.float64)
    out = imresize(np.repeat(row[None, :], 4, axis=0), 1 / 2)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out[0], [3710 / 256, 8930 / 256, 14110 / 256, 19330 / 256], rtol=0, atol=1e-12)


def test_scale_one_is_identity() -> None:
    img = np.random.default_rng(1).integers(0, 256, (17, 11, 3), dtype=np.uint8)
    assert np.array_equal(imresize(img, 1.0), img)


def test_output_shape_is_ceil() -> None:
    img = np.zeros((361, 250, 3), dtype=np.uint8)
    assert imresize(img, 1 / 4).shape == (91, 63, 3)  # ceil(90.25), ceil(62.5)
    assert imresize(img[:, :, 0], 1 / 3).shape == (121, 84)
    assert downscale_x4(img).shape == (90, 62, 3)  # modcrop first


def test_gray_equals_each_channel_and_extremes_saturate() -> None:
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (40, 36), dtype=np.uint8)
    gray[::2, ::2] = 0  # a checkerboard of 0/255 overshoots: results must clip, not wrap
    gray[1::2, 1::2] = 255
    rgb = np.stack([gray, gray, gray], axis=2)
    out_gray = downscale_x4(gray)
    out_rgb = downscale_x4(rgb)
    assert out_gray.shape == (10, 9)
    for c in range(3):
        assert np.array_equal(out_rgb[:, :, c], out_gray)
    step = np.zeros((8, 16), dtype=np.uint8)
    step[:, 8:] = 255
    exact = imresize(step.astype(np.float64), 2.0)
    assert exact.min() < -0.5 and exact.max() > 255.5  # the cubic kernel overshoots a step...
    up = imresize(step, 2.0)
    assert np.array_equal(up, np.clip(np.floor(exact + 0.5), 0, 255))  # ...and uint8 saturates, not wraps


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        imresize(np.zeros((4, 4), np.uint8), 0)
    with pytest.raises(ValueError):
        imresize(np.zeros((4,), np.uint8), 0.5)
    with pytest.raises(TypeError):
        imresize(np.zeros((4, 4), np.int32), 0.5)


# --- prepare: files and user mistakes -----------------------------------------------------------


def test_prepare_gray_and_odd_size(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    gray = np.random.default_rng(2).integers(0, 256, (10, 9), dtype=np.uint8)
    cv2.imwrite(str(src / "g.png"), gray)
    cv2.imwrite(str(src / "b.bmp"), np.dstack([gray, gray, gray]))
    (src / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    assert main(["--hr", str(src), "--out", str(out)]) == 0
    assert sorted(p.name for p in (out / "HR").iterdir()) == ["b.png", "g.png"]
    hr = _raw(out / "HR" / "g.png")
    lr = _raw(out / "LR_bicubic" / "X4" / "gx4.png")
    assert hr.shape == (8, 8, 3) and lr.shape == (2, 2, 3)
    assert np.array_equal(hr[:, :, 0], gray[:8, :8])
    assert np.array_equal(lr[:, :, 1], downscale_x4(gray))


def _run_main_expect_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ")
    return err


def test_prepare_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing"
    err = _run_main_expect_error(["--hr", str(missing), "--out", str(tmp_path / "out")], capsys)
    assert err.count("\n") == 1  # exactly one line
    assert str(missing) in err


def test_prepare_no_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "readme.txt").write_text("x")
    err = _run_main_expect_error(["--hr", str(tmp_path), "--out", str(tmp_path / "out")], capsys)
    assert "no images found" in err


def test_prepare_unreadable_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "broken.png").write_bytes(b"not a png")
    err = _run_main_expect_error(["--hr", str(src), "--out", str(tmp_path / "out")], capsys)
    assert "broken.png" in err.strip().splitlines()[-1]


# --- prepare: built beside --out, renamed into place only when complete ------------------------------------------


def _sources(folder: Path, names: str = "abcd") -> Path:
    folder.mkdir(parents=True)
    for i, name in enumerate(names):
        cv2.imwrite(str(folder / f"{name}.png"), np.random.default_rng(i).integers(0, 256, (12, 16, 3), np.uint8))
    return folder


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
    return captured.err.removeprefix("error: ").removesuffix("\n")


def test_a_run_that_fails_on_the_third_image_leaves_no_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _sources(tmp_path / "src")
    (src / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n damaged")  # the third image, in name order
    out = tmp_path / "sets" / "Mine"
    line = _refused(["--hr", str(src), "--out", str(out)], capsys)
    assert line.startswith(f"{src / 'c.png'}: ")
    assert not (tmp_path / "sets").exists()  # nor the folder made for it, nor anything beside it


def test_a_failed_run_leaves_an_earlier_set_as_it_was(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _sources(tmp_path / "src")
    out = tmp_path / "Mine"
    assert main(["--hr", str(src), "--out", str(out)]) == 0
    before = _tree(out)
    assert sorted(before) == [MARKER, "HR/a.png", "HR/b.png", "HR/c.png", "HR/d.png", "LR_bicubic/X4/ax4.png",
                              "LR_bicubic/X4/bx4.png", "LR_bicubic/X4/cx4.png", "LR_bicubic/X4/dx4.png"]
    capsys.readouterr()
    cv2.imwrite(str(src / "a.png"), np.zeros((12, 16, 3), np.uint8))  # a change that must not land half-way
    (src / "c.png").write_bytes(b"")
    assert _refused(["--hr", str(src), "--out", str(out)], capsys) == (f"{src / 'c.png'}: the file is empty; "
                                                                      "re-download or re-create it")
    assert _tree(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["Mine", "src"]


def test_a_rerun_replaces_the_whole_set(tmp_path: Path) -> None:
    out = tmp_path / "Mine"
    assert main(["--hr", str(_sources(tmp_path / "src1")), "--out", str(out)]) == 0
    assert main(["--hr", str(_sources(tmp_path / "src2", "xy")), "--out", str(out)]) == 0
    assert sorted(_tree(out)) == [MARKER, "HR/x.png", "HR/y.png", "LR_bicubic/X4/xx4.png", "LR_bicubic/X4/yx4.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Mine", "src1", "src2"]


def test_an_interrupted_run_leaves_no_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmark.data.folders as prepare_module

    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    original = prepare_module.write_pair
    monkeypatch.setattr(prepare_module, "write_pair", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare(_sources(tmp_path / "src"), tmp_path / "Mine", show_progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


@pytest.mark.parametrize("kind", ["file", "parent file", "other files"])
def test_an_out_that_cannot_be_replaced_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   kind: str) -> None:
    src = _sources(tmp_path / "src")
    out = tmp_path / "Mine"
    if kind == "file":
        out.write_text("mine")
        message = f"--out {out}: a file, not a folder; choose a new or empty folder for HR/ and LR_bicubic/"
    elif kind == "parent file":
        out.write_text("mine")
        out = out / "set"
        message = (f"--out {out}: {out.parent} is a file, not a folder; choose a new or empty folder for HR/ and "
                   "LR_bicubic/")
    else:
        (out / "HR").mkdir(parents=True)
        (out / "notes.txt").write_text("mine")
        message = (f"--out {out}: holds 'HR', 'notes.txt', which python -m benchmark.prepare did not write, so it is "
                   "left as it is; choose a new or empty folder for HR/ and LR_bicubic/")
    before = _tree(tmp_path)
    assert _refused(["--hr", str(src), "--out", str(out)], capsys) == message
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("folder", ["[red]x", "a[b]", "[bold]x[i]"])
def test_paths_with_markup_print_literally(tmp_path: Path, capsys: pytest.CaptureFixture[str], folder: str) -> None:
    src = _sources(tmp_path / folder)
    out = tmp_path / f"{folder}out"
    assert main(["--hr", str(src), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"wrote 4 HR/LR pairs to {out}\n" and "error" not in captured.err
    assert sorted(_tree(out))[:3] == [MARKER, "HR/a.png", "HR/b.png"]


def test_progress_description_is_escaped(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    import benchmark.data.folders as prepare_module

    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=100)
    original = prepare_module.Console
    try:
        prepare_module.Console = lambda **kwargs: console  # a terminal: the bar is drawn, its description read
        prepare(_sources(tmp_path / "[bold]x[i]"), tmp_path / "out")
    finally:
        prepare_module.Console = original
    assert "prepare\x1b[0m [bold]x[i] " in stream.getvalue()


# --- prepare: a pixel bound before decoding ------------------------------------------------------------------------


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` × ``height`` and which holds no pixel data (as a bomb's header reads)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IEND", b""))
    return path


def test_an_image_over_the_pixel_bound_is_refused_before_decoding(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmark.data.folders as prepare_module

    src = _sources(tmp_path / "src", "ab")
    _png_header_only(src / "c.png", 20_000, 20_000)

    def no_decoding(path: Path) -> np.ndarray:
        raise AssertionError(f"{path} decoded before every size was checked")

    monkeypatch.setattr(prepare_module, "read_image", no_decoding)
    assert _refused(["--hr", str(src), "--out", str(tmp_path / "out")], capsys) == (
        f"{src / 'c.png'}: 20,000 × 20,000 = 400,000,000 pixels, over the bound of 89,478,485 checked before "
        "decoding; pass --max-pixels 400000000 if the image is what you meant to prepare")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_the_pixel_bound_is_a_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _sources(tmp_path / "src", "a")  # 16 × 12 = 192 pixels
    assert _refused(["--hr", str(src), "--out", str(tmp_path / "out"), "--max-pixels", "191"], capsys).startswith(
        f"{src / 'a.png'}: 16 × 12 = 192 pixels, over the bound of 191")
    assert main(["--hr", str(src), "--out", str(tmp_path / "out"), "--max-pixels", "192"]) == 0
    capsys.readouterr()
    assert _refused(["--hr", str(src), "--out", str(tmp_path / "o2"), "--max-pixels", "0"], capsys) == (
        "--max-pixels 0: must be at least 1")
    (src / "b.png").write_bytes(b"not an image at all")
    assert _refused(["--hr", str(src), "--out", str(tmp_path / "o3")], capsys) == (
        f"{src / 'b.png'}: not an image whose size can be read (PNG, BMP, TIFF or JPEG); re-download or re-create it")
