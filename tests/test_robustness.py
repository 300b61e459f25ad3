"""Bad input ends in one clear line on stderr and a non-zero exit, and never loses results already written."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import models
import test_demo
from benchmark.data import benchmark_split, check_split
from benchmark.errors import HarnessError
from benchmark.images import read_image, write_png
from benchmark.imresize import downscale_x4
from benchmark.results import read_results
from models import ModelSpec, register

from conftest import Payload

EARLIER = {"99_Earlier": {"valid_ave_psnr": 29.0, "num_conv": 1}}


class TinySR(nn.Module):
    """A 1×1 conv and pixel shuffle; ``mode`` makes it misbehave the way a team's model might."""

    def __init__(self, mode: str = "ok") -> None:
        super().__init__()
        self.mode = mode
        self.conv = nn.Conv2d(3, 48, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "oom" and 64 < max(x.shape[-2:]) < 256:  # the 256×256 complexity input still fits
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        if self.mode == "interrupt" and tuple(x.shape[-2:]) == (16, 12):  # image c, in the second split
            raise KeyboardInterrupt
        out = F.pixel_shuffle(self.conv(x), 2 if self.mode == "half" else 4)
        return out * float("nan") if self.mode == "nan" else out


MODES = {91: "ok", 92: "half", 93: "nan", 94: "oom", 95: "interrupt"}


@pytest.fixture(scope="module", autouse=True)
def tiny_teams(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    zoo = tmp_path_factory.mktemp("zoo")
    torch.manual_seed(0)
    torch.save(TinySR().state_dict(), zoo / "team91_tiny.pth")
    for team_id, mode in MODES.items():
        register(ModelSpec(team_id=team_id, name=f"Tiny_{mode}", builder=TinySR, checkpoint="team91_tiny.pth",
                           kwargs={"mode": mode}))
    yield zoo
    for team_id in MODES:
        models.registry._REGISTRY.pop((2023, team_id))


def _write_set(root: Path, sizes: dict[str, tuple[int, int]]) -> Path:
    rng = np.random.default_rng(0)
    for name, size in sizes.items():
        hr = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        write_png(root / "HR" / f"{name}.png", hr)
        write_png(root / "LR_bicubic" / "X4" / f"{name}x4.png", downscale_x4(hr))
    return root


@pytest.fixture
def workspace(tmp_path: Path, tiny_teams: Path) -> dict[str, Path]:
    results = tmp_path / "out" / "R.json"
    results.parent.mkdir()
    results.write_text(json.dumps(EARLIER))
    return {"tmp": tmp_path, "zoo": tiny_teams, "results": results,
            "data": _write_set(tmp_path / "Tiny", {"a": (64, 64), "b": (48, 56)}),
            "more": _write_set(tmp_path / "More", {"c": (64, 48), "d": (32, 32)})}


def cli(ws: dict[str, Path], *extra: str, model: str = "91", data: tuple[str, ...] = ("data",)) -> tuple[int, str, str]:
    argv = ["--model_id", model, "--model_zoo", str(ws["zoo"]), "--results", str(ws["results"]),
            "--save_dir", str(ws["tmp"] / "S"), "--device", "cpu", "--warmup", "0", *extra]
    for name in data:
        argv += ["--dataset", str(ws[name])]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = test_demo.main(argv)
    return code, out.getvalue(), err.getvalue()


def assert_refused(ws: dict[str, Path], result: tuple[int, str, str], *fragments: str) -> None:
    """Exit 2, a single 'error:' line naming what is wrong, no traceback, earlier results intact."""
    code, _, err = result
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert read_results(ws["results"])["99_Earlier"] == EARLIER["99_Earlier"]


def test_a_good_run_keeps_earlier_entries(workspace: dict) -> None:
    code, _, err = cli(workspace)
    assert code == 0, err
    results = read_results(workspace["results"])
    assert results["99_Earlier"] == EARLIER["99_Earlier"]
    assert results["91_Tiny_ok"]["Tiny_images"] == ["a", "b"]


def test_missing_data_folder(workspace: dict) -> None:
    assert_refused(workspace, cli(workspace, "--data_dir", str(workspace["tmp"] / "nowhere"), data=()),
                   "nowhere: data folder not found", "--data_dir")


def test_data_of_another_year_names_the_year(workspace: dict) -> None:
    (workspace["tmp"] / "DIV2K_LSDIR_valid_HR").mkdir()
    assert_refused(workspace, cli(workspace, "--data_dir", str(workspace["tmp"]), "--include_test", data=()),
                   "laid out as in 2024, 2025, 2026", "not as in 2023", "pass --year")


def test_hr_without_lr_names_both(workspace: dict) -> None:
    (workspace["data"] / "LR_bicubic" / "X4" / "bx4.png").unlink()
    assert_refused(workspace, cli(workspace), "LR_bicubic/X4/bx4.png: LR image missing for", "HR/b.png")


def test_lr_of_the_wrong_size_gives_both_sizes(workspace: dict) -> None:
    write_png(workspace["data"] / "LR_bicubic" / "X4" / "ax4.png", np.zeros((15, 16, 3), np.uint8))
    assert_refused(workspace, cli(workspace), "ax4.png: LR is 16×15, so ×4 gives 64×60", "is 64×64")


@pytest.mark.parametrize("damage", ["empty", "truncated", "not an image"])
def test_damaged_files(workspace: dict, damage: str) -> None:
    path = workspace["more"] / "HR" / "c.png"
    content = path.read_bytes()
    path.write_bytes({"empty": b"", "truncated": content[: len(content) // 2], "not an image": b"<html>404</html>"}[damage])
    expected = "the file is empty" if damage == "empty" else "not a readable image"
    assert_refused(workspace, cli(workspace, data=("data", "more")), "More/HR/c.png", expected)


def test_sixteen_bit_image_is_refused(workspace: dict) -> None:
    path = workspace["data"] / "HR" / "a.png"
    cv2.imwrite(str(path), (read_image(path).astype(np.uint16) * 257)[:, :, ::-1])
    assert_refused(workspace, cli(workspace), "HR/a.png: 16-bit", "convert it to an 8-bit PNG")


def test_alpha_channel_is_dropped_with_a_warning(workspace: dict) -> None:
    path = workspace["data"] / "HR" / "b.png"
    bgr = read_image(path)[:, :, ::-1]
    cv2.imwrite(str(path), np.dstack([bgr, np.full(bgr.shape[:2], 255, np.uint8)]))
    code, _, err = cli(workspace)
    assert code == 0
    assert "warning: " in err and "HR/b.png: alpha channel dropped" in err


def test_unknown_model_lists_the_registered_ones(workspace: dict) -> None:
    assert_refused(workspace, cli(workspace, model="42"), "unknown model id 42", "0 (00_RFDN_baseline)", "5 (05_SRneXt)")


def test_missing_checkpoint_says_where_it_belongs(workspace: dict) -> None:
    assert_refused(workspace, cli(workspace, "--checkpoint", str(workspace["tmp"] / "team91.pth")),
                   "team91.pth not found", "model_zoo")


def test_checkpoint_that_does_not_fit(workspace: dict) -> None:
    path = workspace["tmp"] / "wrong.pth"
    torch.save({"params": {"conv.weight": torch.zeros(48, 3, 3, 3), "head.bias": torch.zeros(3)}}, path)
    assert_refused(workspace, cli(workspace, "--checkpoint", str(path)), "wrong.pth does not fit TinySR",
                   "missing 1: conv.bias", "unexpected 1: head.bias", "conv.weight (48, 3, 3, 3) vs (48, 3, 1, 1)")


def test_pickle_payload_is_refused_unless_trusted(workspace: dict) -> None:
    marker = workspace["tmp"] / "payload_ran"
    path = workspace["tmp"] / "evil.pth"
    torch.save({"params": TinySR().state_dict(), "x": Payload(marker)}, path)
    assert_refused(workspace, cli(workspace, "--checkpoint", str(path)), "evil.pth holds pickled objects",
                   "--trust-checkpoint")
    assert not marker.exists()


def test_output_of_the_wrong_size_names_the_image(workspace: dict) -> None:
    assert_refused(workspace, cli(workspace, model="92"), "LR_bicubic/X4/ax4.png: the model returned (1, 12, 32, 32)",
                   "must return (1, 3, 64, 64)")


def test_nan_output_names_the_image(workspace: dict) -> None:
    assert_refused(workspace, cli(workspace, model="93"), "ax4.png: the model output holds NaN or Inf")


def test_out_of_memory_retries_tiled_and_records_it(workspace: dict) -> None:
    workspace["big"] = _write_set(workspace["tmp"] / "Big", {"large": (320, 288), "small": (64, 64)})
    code, _, err = cli(workspace, "--warmup", "1", model="94", data=("big",))
    assert code == 0, err
    entry = read_results(workspace["results"])["94_Tiny_oom"]
    assert entry["Big_images"] == ["large", "small"]
    assert entry["Big_tiled"] == ["large"]  # 80×72 LR ran out of memory whole, then ran in 36-pixel tiles
    assert len(entry["Big_psnr"]) == 2


def test_ctrl_c_keeps_finished_splits_and_drops_the_interrupted_one(workspace: dict) -> None:
    code, _, err = cli(workspace, model="95", data=("data", "more"))
    assert code == 130
    assert err.strip().startswith("interrupted: completed splits are kept") and len(err.strip().splitlines()) == 1
    entry = read_results(workspace["results"])["95_Tiny_interrupt"]
    assert entry["Tiny_images"] == ["a", "b"]
    assert not any(key.startswith("More_") for key in entry)
    assert read_results(workspace["results"])["99_Earlier"] == EARLIER["99_Earlier"]


def test_corrupt_results_file_is_kept_aside(workspace: dict) -> None:
    workspace["results"].write_text('{"99_Earlier": {"valid_ave_psnr": 2')
    code, _, err = cli(workspace)
    assert code == 0
    assert "warning: " in err and "could not be parsed; kept it as" in err
    (aside,) = workspace["results"].parent.glob("R.json.corrupt-*")
    assert aside.read_text() == '{"99_Earlier": {"valid_ave_psnr": 2'


def test_debug_shows_the_traceback(workspace: dict) -> None:
    with pytest.raises(HarnessError):
        cli(workspace, "--debug", model="42")


# --- property-based: generated bad files and layouts always end in the clear error -----------------

KINDS = ("valid", "empty", "random bytes", "truncated png", "16-bit png", "text", "wrong lr size", "missing lr",
         "missing hr dir", "hr dir is a file", "jpeg truncated", "directory named like an image")


def _encode(img: np.ndarray, ext: str = ".png") -> bytes:
    return cv2.imencode(ext, img)[1].tobytes()


def _build(root: Path, kinds: list[str], seed: int, cut: float) -> None:
    """A benchmark folder with one image pair per kind, the HR or the LR (in turn) damaged as the kind says."""
    rng = np.random.default_rng(seed)
    hr_dir, lr_dir = root / "HR", root / "LR_bicubic" / "X4"
    lr_dir.mkdir(parents=True)
    if "missing hr dir" in kinds:
        return
    if "hr dir is a file" in kinds:
        hr_dir.write_bytes(b"x")
        return
    hr_dir.mkdir()
    for i, kind in enumerate(kinds):
        hr = rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)
        hr_path, lr_path = hr_dir / f"img{i}.png", lr_dir / f"img{i}x4.png"
        hr_path.write_bytes(_encode(hr))
        lr_path.write_bytes(_encode(downscale_x4(hr)))
        target = lr_path if i % 2 else hr_path
        if kind == "empty":
            target.write_bytes(b"")
        elif kind == "random bytes":
            target.write_bytes(rng.bytes(int(1 + cut * 300)))
        elif kind == "truncated png":
            data = target.read_bytes()
            target.write_bytes(data[: int(len(data) * cut)] or data[:1])
        elif kind == "16-bit png":
            shape = (24, 20, 3) if target is hr_path else (6, 5, 3)
            target.write_bytes(_encode(rng.integers(0, 65536, shape, dtype=np.uint16)))
        elif kind == "text":
            target.write_text("this is not an image\n")
        elif kind == "wrong lr size":
            lr_path.write_bytes(_encode(rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)))
        elif kind == "missing lr":
            lr_path.unlink()
        elif kind == "jpeg truncated":
            jpg = _encode(hr, ".jpg")
            hr_path.unlink()
            (hr_dir / f"img{i}.jpg").write_bytes(jpg[: max(1, int(len(jpg) * min(cut, 0.95)))])
        elif kind == "directory named like an image":
            hr_path.unlink()
            hr_path.mkdir()


def load_everything(root: Path) -> None:
    """What a run does to a data folder before and during the forwards."""
    split = benchmark_split(root)
    check_split(split)
    for pair in split.pairs:
        read_image(pair.hr)
        read_image(pair.lr)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=4), seed=st.integers(0, 2**16),
       cut=st.floats(0.01, 0.99))
def test_generated_bad_data_always_ends_in_the_clear_error(kinds: list[str], seed: int, cut: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "Gen"
        _build(root, kinds, seed, cut)
        bad = [k for k in kinds if k != "valid"]
        if not bad:
            load_everything(root)
            return
        try:
            load_everything(root)
        except HarnessError as err:
            message = str(err)
            assert "\n" not in message and (str(root) in message or "split Gen" in message), message
        else:
            # a folder named like an image is not an image: the split simply does not list it
            assert set(bad) <= {"directory named like an image"} and "valid" in kinds, kinds
