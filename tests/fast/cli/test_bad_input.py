"""Bad input ends in one clear line on stderr and a non-zero exit, and never loses results already written."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import Payload, sweep_here, write_set
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from torch import nn

import models
import test_demo
from benchmark.core.errors import HarnessError
from benchmark.data.splits import OFFICIAL_SPLITS, benchmark_split, check_split
from benchmark.imaging.images import read_image, write_png
from benchmark.imaging.imresize import downscale_x4
from benchmark.measure.loop import forward
from benchmark.record.store import read_results
from models import ModelSpec
from models.registry import registered

EARLIER = {"99_Earlier": {"valid_ave_psnr": 29.0, "num_conv": 1}}
CPU_OOM = ("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried to "
           "allocate 21233664000 bytes. Error code 12 (Cannot allocate memory)")


class TinySR(nn.Module):
    """A 1×1 conv (3×3 when ``wide``) and pixel shuffle; ``mode`` makes it misbehave the way a team's model might."""

    def __init__(self, mode: str = "ok") -> None:
        super().__init__()
        self.mode = mode
        self.conv = nn.Conv2d(3, 48, 3, padding=1) if mode == "wide" else nn.Conv2d(3, 48, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "oom" and 64 < max(x.shape[-2:]) < 256:  # the 256×256 complexity input still fits
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        if self.mode == "cpu_oom" and 64 < max(x.shape[-2:]) < 256:
            raise RuntimeError(CPU_OOM)
        if self.mode == "no_memory" and max(x.shape[-2:]) < 256:  # not even the smallest tile fits
            raise MemoryError
        if self.mode == "interrupt" and tuple(x.shape[-2:]) == (16, 12):  # image c, in the second split
            raise KeyboardInterrupt
        out = F.pixel_shuffle(self.conv(x), 2 if self.mode == "half" else 4)
        return out * float("nan") if self.mode == "nan" else out


MODES = {91: "ok", 92: "half", 93: "nan", 94: "oom", 95: "interrupt", 96: "cpu_oom", 97: "no_memory", 98: "wide"}


@pytest.fixture(scope="module", autouse=True)
def tiny_teams(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    zoo = tmp_path_factory.mktemp("zoo")
    torch.manual_seed(0)
    torch.save(TinySR().state_dict(), zoo / "team91_tiny.pth")
    torch.save(TinySR("wide").state_dict(), zoo / "team98_wide.pth")
    with contextlib.ExitStack() as stack:
        for team_id, mode in MODES.items():
            stack.enter_context(registered(ModelSpec(
                team_id=team_id, name=f"Tiny_{mode}", builder=TinySR, kwargs={"mode": mode},
                checkpoint="team98_wide.pth" if mode == "wide" else "team91_tiny.pth")))
        yield zoo


@pytest.fixture
def workspace(tmp_path: Path, tiny_teams: Path) -> dict[str, Path]:
    results = tmp_path / "out" / "R.json"
    results.parent.mkdir()
    results.write_text(json.dumps(EARLIER))
    return {"tmp": tmp_path, "zoo": tiny_teams, "results": results,
            "data": write_set(tmp_path / "Tiny", {"a": (64, 64), "b": (48, 56)}),
            "more": write_set(tmp_path / "More", {"c": (64, 48), "d": (32, 32)})}


def run_main(argv: list[str]) -> tuple[int, str, str]:
    """``test_demo.main(argv)``: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = test_demo.main(argv)
    return code, out.getvalue(), err.getvalue()


def cli(ws: dict[str, Path], *extra: str, model: str = "91", data: tuple[str, ...] = ("data",)) -> tuple[int, str, str]:
    argv = ["--model_id", model, "--model_zoo", str(ws["zoo"]), "--results", str(ws["results"]),
            "--save_dir", str(ws["tmp"] / "S"), "--device", "cpu", "--warmup", "0", *extra]
    for name in data:
        argv += ["--dataset", str(ws[name])]
    return run_main(argv)


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
    workspace["big"] = write_set(workspace["tmp"] / "Big", {"large": (320, 288), "small": (64, 64)})
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


# --- split names: unique, not an official split's, keys that cannot collide --------------------------

def _refused_before_any_forward(ws: dict, result: tuple[int, str, str], *fragments: str, model: str = "91_Tiny_ok"
                                ) -> None:
    assert_refused(ws, result, *fragments)
    assert model not in read_results(ws["results"])  # the model's record is written when its run starts


def test_two_datasets_with_one_name_are_refused(workspace: dict) -> None:
    workspace["other"] = write_set(workspace["tmp"] / "b" / "Tiny", {"e": (32, 32)})
    _refused_before_any_forward(workspace, cli(workspace, data=("data", "other")),
                                f"Tiny (--dataset {workspace['data']}) and Tiny (--dataset {workspace['other']})",
                                "two splits named Tiny", "rename one of the folders")


@pytest.mark.parametrize("official", OFFICIAL_SPLITS)
def test_dataset_named_like_an_official_split_is_refused(workspace: dict, official: str) -> None:
    workspace["odd"] = write_set(workspace["tmp"] / official, {"e": (32, 32)})
    _refused_before_any_forward(workspace, cli(workspace, data=("data", "odd")),
                                f"--dataset {workspace['odd']}: named like the official split {official}",
                                "rename the folder", "--data_dir")


def test_split_names_whose_results_keys_collide_are_refused(workspace: dict) -> None:
    workspace["x"] = write_set(workspace["tmp"] / "X", {"e": (32, 32)})
    workspace["x_ave"] = write_set(workspace["tmp"] / "X_ave", {"f": (32, 32)})
    _refused_before_any_forward(workspace, cli(workspace, data=("x", "x_ave")),
                                "splits X (--dataset", "and X_ave (--dataset", "share the results key X_ave_runtime",
                                "rename one of the folders")


def test_split_colliding_with_a_recorded_split_is_refused_and_the_record_kept(workspace: dict) -> None:
    workspace["x"] = write_set(workspace["tmp"] / "X", {"e": (32, 32)})
    workspace["x_ave"] = write_set(workspace["tmp"] / "X_ave", {"f": (32, 32)})
    code, _, err = cli(workspace, data=("x_ave",))
    assert code == 0, err
    recorded = read_results(workspace["results"])["91_Tiny_ok"]
    assert_refused(workspace, cli(workspace, data=("x",)), "split X (--dataset",
                   f"share the results key X_ave_runtime with split X_ave, recorded for 91_Tiny_ok in "
                   f"{workspace['results']}", "pass another --results")
    assert read_results(workspace["results"])["91_Tiny_ok"] == recorded
    code, _, err = cli(workspace, data=("x_ave",), model="92")  # another model's entry is another set of keys
    assert "would share" not in err


def test_one_stem_with_two_extensions_is_refused(workspace: dict) -> None:
    hr = workspace["data"] / "HR"
    cv2.imwrite(str(hr / "a.bmp"), cv2.imread(str(hr / "a.png")))
    _refused_before_any_forward(workspace, cli(workspace), "Tiny/HR/a.png: same name as a.bmp",
                                "both would be written as a.png", "rename one")


# --- sizes: the metric's and the model's smallest images ----------------------------------------------

@pytest.mark.parametrize("size, flags, fragments", [
    ((4, 4), (), ("HR 4×4 is too small for the official PSNR", "the smallest HR is 12×12 (LR 3×3)")),
    ((8, 12), (), ("HR 12×8 is too small for the official PSNR", "the smallest HR is 12×12 (LR 3×3)")),
    ((16, 16), ("--ssim",), ("HR 16×16 is too small for the official SSIM", "11×11 window",
                             "the smallest HR is 20×20 (LR 5×5)")),
])
def test_images_too_small_for_the_metric_are_refused(workspace: dict, size: tuple[int, int], flags: tuple,
                                                     fragments: tuple) -> None:
    workspace["small"] = write_set(workspace["tmp"] / "Small", {"s": size})
    _refused_before_any_forward(workspace, cli(workspace, *flags, data=("data", "small")), "Small/HR/s.png: ",
                                *fragments)


def test_16_pixels_are_enough_without_ssim(workspace: dict) -> None:
    workspace["small"] = write_set(workspace["tmp"] / "Small", {"s": (16, 16)})
    code, _, err = cli(workspace, data=("small",))
    assert code == 0, err


def test_lr_too_small_for_the_model_names_its_smallest_input(workspace: dict) -> None:
    torch.manual_seed(0)
    checkpoint = workspace["tmp"] / "rfdn.pth"
    torch.save(models.create_model(0).state_dict(), checkpoint)
    workspace["fine"] = write_set(workspace["tmp"] / "Fine", {"f": (64, 64)})
    # Tiny's b is 48×56: its LR, 14×12, is below the 15×15 that RFDN's ESA max-pool needs
    assert_refused(workspace, cli(workspace, "--checkpoint", str(checkpoint), model="0", data=("fine", "data")),
                   "Tiny/LR_bicubic/X4/bx4.png: LR 14×12 is too small for 00_RFDN_baseline (its forward failed: ",
                   "Output size is too small); its smallest LR is 15×15")
    entry = read_results(workspace["results"])["00_RFDN_baseline"]
    assert entry["splits"] == ["Fine"] and entry["Fine_images"] == ["f"]  # the completed split is kept


# --- memory on the CPU: tiled like CUDA, one line when even small tiles fail --------------------------

def test_cpu_out_of_memory_retries_tiled_and_records_it(workspace: dict) -> None:
    workspace["big"] = write_set(workspace["tmp"] / "Big", {"large": (320, 288), "small": (64, 64)})
    code, _, err = cli(workspace, "--warmup", "1", model="96", data=("big",))
    assert code == 0, err
    assert err == ""
    entry = read_results(workspace["results"])["96_Tiny_cpu_oom"]
    assert entry["Big_tiled"] == ["large"]  # 80×72 LR did not fit whole, then ran in 36-pixel tiles
    assert len(entry["Big_psnr"]) == 2


def test_memory_error_even_in_small_tiles_is_one_line(workspace: dict) -> None:
    workspace["big"] = write_set(workspace["tmp"] / "Big", {"large": (320, 288)})
    workspace["fine"] = write_set(workspace["tmp"] / "Fine", {"f": (16, 16)})
    assert_refused(workspace, cli(workspace, model="97", data=("big",)),
                   "Big/LR_bicubic/X4/largex4.png: CPU out of memory on LR 72×80 even in 36-pixel tiles",
                   "free memory")
    assert_refused(workspace, cli(workspace, "--tile", "40", model="97", data=("big",)),
                   "largex4.png: CPU out of memory on LR 72×80 even in 40-pixel tiles")
    assert_refused(workspace, cli(workspace, model="97", data=("fine",)),
                   "fx4.png: CPU out of memory on LR 4×4 and too small to split into tiles")


# --- --tile: thousands of forwards are warned before any; a tile larger than the image changes nothing --

def test_a_tile_of_thousands_of_forwards_is_warned_before_any_forward(workspace: dict) -> None:
    workspace["big"] = write_set(workspace["tmp"] / "Big", {"big": (256, 320), "small": (64, 64)})
    warning = ("warning: --tile 33: 1,536 forwards for the largest image (bigx4.png, 80×64); "  # 32 rows × 48 columns
               "a larger --tile needs far fewer")
    code, _, err = cli(workspace, "--tile", "33", "--no-save", data=("big",))
    assert code == 0, err
    assert err.strip().splitlines() == [warning]
    code, _, err = cli(workspace, "--tile", "33", model="92", data=("big",))  # fails at its first forward
    assert code == 2 and err.strip().splitlines()[0] == warning and err.strip().splitlines()[1].startswith("error: ")
    code, _, err = cli(workspace, "--tile", "64", "--no-save", data=("big",))  # 1 × 2 tiles: no warning
    assert code == 0 and err == ""


def test_a_tile_larger_than_the_image_changes_nothing(workspace: dict) -> None:
    saved = workspace["tmp"] / "S" / "98_Tiny_wide" / "Tiny"
    outputs = {}
    for flags in ((), ("--tile", "1000"), ("--tile", "33")):  # the LRs are 16×16 and 14×12: each tile covers them
        code, _, err = cli(workspace, *flags, model="98")
        assert code == 0, err
        entry = read_results(workspace["results"])["98_Tiny_wide"]
        outputs[flags] = (entry["Tiny_psnr"], entry["Tiny_tiled"], [(saved / f"{n}.png").read_bytes() for n in "ab"])
    assert outputs[()] == outputs[("--tile", "1000")] == outputs[("--tile", "33")] and outputs[()][1] == []
    lr = torch.rand(1, 3, 12, 14)
    model = TinySR("wide").eval()
    with torch.inference_mode():
        assert torch.equal(forward(model, lr, 1000), model(lr)) and torch.equal(forward(model, lr, 33), model(lr))


# --- flags -------------------------------------------------------------------------------------------

def test_model_id_given_twice_adds_the_models(workspace: dict) -> None:
    code, _, err = cli(workspace, "--model_id", "98")
    assert code == 0, err
    results = read_results(workspace["results"])
    assert "91_Tiny_ok" in results and "98_Tiny_wide" in results


@pytest.mark.parametrize("extra, fragment", [
    (("--model_id", "91"), "--model_id 91 is given twice; list each team once"),
    (("--model_id", "98", "98"), "--model_id 98 is given twice"),
    (("--repeat", "-1"), "--repeat -1: must be at least 1"),
    (("--repeat", "0"), "--repeat 0: must be at least 1"),
    (("--warmup", "-3"), "--warmup -3: must be 0 or more"),
    (("--runs", "0"), "--runs 0: must be at least 1"),
    (("--runs", "-2"), "--runs -2: must be at least 1"),
    (("--runs", "two"), "argument --runs: invalid int value: 'two'"),
    (("--tile", "32"), "--tile 32: must be larger than the 32-pixel overlap"),
    (("--gpu-memory", "0"), "--gpu-memory 0.0: must be a positive number of GiB"),
    (("--gpu-memory", "nan"), "--gpu-memory nan: must be a positive number of GiB"),
    (("--vs-baseline", "--backend", "onnxruntime"), "--vs-baseline with --backend onnxruntime --precision fp32: the "
                                                    "ratio and the predicted score are timed as the organizers time"),
    (("--no-such-flag",), "unrecognized arguments: --no-such-flag"),
])
def test_bad_flags_are_one_line(workspace: dict, extra: tuple, fragment: str) -> None:
    _refused_before_any_forward(workspace, cli(workspace, *extra), fragment, "see python test_demo.py --help")


@pytest.mark.parametrize("device", ["mps", "xla", "cpu:1", "foo", "cuda:abc", "meta", "CPU", "cuda:-1", ""])
def test_unknown_device_lists_the_accepted_forms(workspace: dict, device: str) -> None:
    _refused_before_any_forward(workspace, cli(workspace, "--device", device),
                                f"--device {device!r}: not a device this harness runs on",
                                "use one of auto, cpu, cuda, cuda:N")


def test_data_dir_at_a_benchmark_folder_says_to_use_dataset(workspace: dict) -> None:
    _refused_before_any_forward(workspace, cli(workspace, "--data_dir", str(workspace["data"]), data=()),
                                f"--data_dir {workspace['data']}: a benchmark folder (it has HR/)",
                                f"pass it with --dataset {workspace['data']}")


def test_help_shows_each_default_once(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        test_demo.main(["--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # undo the wrapping
    for shown in ("--warmup WARMUP also time each split after N untimed forwards, recorded beside the official cold "
                  "timing (0: the official timing only) (default: 0)",
                  "(default: auto)", "(default: results/results.json)", "(default: 2023)", "(default: 1)",
                  "--runs RUNS time each split N times and report the mean (default: the year's"):
        assert shown in text, shown
    assert not re.search(r"\(default: (None|False|\[\])\)", text)
    assert not re.search(r"\(default:[^()]*\)\s*\(default:", text)  # no help says its default twice
    assert text.count("default") == text.count("(default: ")  # and none says it in other words


# --- checkpoints: damage is called damage; weights that are not float weights are refused -------------

def _damage(good: bytes, kind: str) -> bytes:
    data = bytearray(good)
    if kind == "random bytes":
        return np.random.default_rng(0).bytes(4096)
    if kind == "weights garbled":  # the middle of the zip: the tensor data
        for i in range(len(data) // 2, len(data) // 2 + 16):
            data[i] ^= 0xFF
    elif kind == "pickle garbled":  # inside data.pkl
        start = data.find(b"collections")
        for i in range(start, start + 20):
            data[i] ^= 0x33
    elif kind in ("legacy pickle garbled", "legacy truncated"):
        buffer = io.BytesIO()
        torch.save(TinySR().state_dict(), buffer, _use_new_zipfile_serialization=False)
        data = bytearray(buffer.getvalue())
        if kind == "legacy truncated":
            return bytes(data[: len(data) // 2])
        for i in range(10, 40):
            data[i] ^= 0x5A
    elif kind == "truncated zip":
        return bytes(data[: len(data) // 2])
    return bytes(data)


@pytest.mark.parametrize("kind", ["random bytes", "weights garbled", "pickle garbled", "legacy pickle garbled",
                                  "truncated zip", "legacy truncated"])
@pytest.mark.parametrize("trust", [False, True])
def test_damaged_checkpoint_is_called_damaged(workspace: dict, kind: str, trust: bool) -> None:
    path = workspace["tmp"] / "damaged.pth"
    path.write_bytes(_damage((workspace["zoo"] / "team91_tiny.pth").read_bytes(), kind))
    result = cli(workspace, "--checkpoint", str(path), *(["--trust-checkpoint"] if trust else []))
    assert_refused(workspace, result, f"checkpoint {path} is damaged or not a torch checkpoint (", "); re-download it")
    assert "pickled" not in result[2]


@pytest.mark.parametrize("kind, fragment", [
    ("int8", "conv.weight is int8, but TinySR takes float32 weights"),
    ("bool", "conv.weight is bool, but TinySR takes float32 weights"),
    ("complex", "conv.weight is complex64, but TinySR takes float32 weights"),
    ("int64 bias", "conv.bias is int64, but TinySR takes float32 weights"),
    ("sparse", "conv.weight is a sparse_coo tensor; weights must be dense"),
    ("meta", "conv.weight is a meta tensor (a shape without values)"),
    ("int key", "key 7 (int) is not a parameter name"),
])
def test_weights_that_are_not_float_weights_are_refused(workspace: dict, kind: str, fragment: str) -> None:
    state = TinySR().state_dict()
    weight = state["conv.weight"]
    state.update({"int8": {"conv.weight": (weight * 100).to(torch.int8)}, "bool": {"conv.weight": weight > 0},
                  "complex": {"conv.weight": weight.to(torch.complex64)},
                  "int64 bias": {"conv.bias": torch.ones(48, dtype=torch.int64)},
                  "sparse": {"conv.weight": weight.to_sparse()},
                  "meta": {"conv.weight": torch.empty(weight.shape, device="meta")},
                  "int key": {7: weight}}.pop(kind))
    path = workspace["tmp"] / "odd.pth"
    torch.save({"params": state}, path)
    _refused_before_any_forward(workspace, cli(workspace, "--checkpoint", str(path)), f"checkpoint {path}: ", fragment)


def test_half_precision_weights_still_load(workspace: dict) -> None:
    path = workspace["tmp"] / "half.pth"
    torch.save({k: v.half() for k, v in TinySR().state_dict().items()}, path)
    code, _, err = cli(workspace, "--checkpoint", str(path))
    assert code == 0, err


@pytest.mark.parametrize("trust", [False, True])
@pytest.mark.filterwarnings("ignore:BuiltinImporter.module_repr:DeprecationWarning")  # pytest-xdist's __main__
def test_model_pickled_from_a_script_is_one_line(workspace: dict, monkeypatch: pytest.MonkeyPatch, trust: bool) -> None:
    class Net(TinySR):
        pass

    Net.__module__, Net.__qualname__ = "__main__", "Net"
    path = workspace["tmp"] / "whole_model.pth"
    with monkeypatch.context() as mp:  # as `python train.py` would have it: the class lives in the script
        mp.setattr(sys.modules["__main__"], "Net", Net, raising=False)
        torch.save(Net(), path)
    result = cli(workspace, "--checkpoint", str(path), *(["--trust-checkpoint"] if trust else []))
    _refused_before_any_forward(workspace, result, f"checkpoint {path} holds a pickled object from the script that "
                                "saved it (", "save a state dict instead: torch.save(model.state_dict(), PATH)")


# --- the log ---------------------------------------------------------------------------------------

def test_a_log_that_cannot_be_opened_is_one_line(workspace: dict) -> None:
    (workspace["results"].parent / "R.log").mkdir()
    _refused_before_any_forward(workspace, cli(workspace), "R.log: cannot write the log (Is a directory)",
                                "choose another --results folder")


@pytest.mark.parametrize("kind", ["folder", "fifo", "under a file", "symlink loop"])
def test_a_refused_results_path_writes_nothing_beside_it(workspace: dict, kind: str) -> None:
    """--results that is a folder, a FIFO, a path under a file or a symlink loop (a RuntimeError traceback in the
    sweep) is refused before anything is written: no R.log, R.txt or SR image beside it or anywhere (as /dev/full gave
    /dev/full.log)."""
    where = workspace["tmp"] / "place"
    where.mkdir()
    target = where / "R.json"
    if kind == "folder":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink loop":
        target.symlink_to(target)
    else:
        (where / "file").write_text("x")
        target = where / "file" / "R.json"
    before = sorted(workspace["tmp"].rglob("*"))
    code, _, err = cli({**workspace, "results": target})
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"error: {target}: "), err
    swept = sweep_here("--model_id", "91", "--dataset", workspace["data"], "--results", target, "--model_zoo",
                       workspace["zoo"], "--runs", "1", "--device", "cpu")
    assert swept.returncode == 2 and swept.stderr.count("\n") == 1 and f"{target}: " in swept.stderr, swept.stderr
    assert sorted(workspace["tmp"].rglob("*")) == before


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full to stand in for a full disk")
def test_a_full_disk_under_the_log_warns_once_and_the_run_goes_on(workspace: dict) -> None:
    log = workspace["results"].parent / "R.log"
    log.symlink_to("/dev/full")  # every write fails with ENOSPC, as on a full disk
    code, _, err = cli(workspace, data=("data", "more"))
    assert code == 0, err
    warning = f"warning: {log}: cannot write the log (No space left on device); the run goes on without it"
    assert err.strip().splitlines() == [warning]
    results = read_results(workspace["results"])
    assert results["99_Earlier"] == EARLIER["99_Earlier"] and results["91_Tiny_ok"]["splits"] == ["Tiny", "More"]


# --- nothing is written into the checkout ------------------------------------------------------------

def test_profile_only_writes_nothing(workspace: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """As tests/e2e/test_demo_flows.py runs it (no --results, no --save_dir): nothing is written, here or anywhere."""
    monkeypatch.chdir(workspace["tmp"])
    code, out, err = run_main(["--model_id", "91", "--profile-only", "--model_zoo", "/nonexistent", "--device", "cpu"])
    assert code == 0, err
    assert "91_Tiny_ok" in out
    assert not (workspace["tmp"] / "results").exists()


# --- property-based: generated flags end in a clean run or one error line ------------------------------

@pytest.fixture(scope="module")
def flag_data(tmp_path_factory: pytest.TempPathFactory, tiny_teams: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("flags")
    return {"Tiny": write_set(root / "Tiny", {"a": (24, 20)}),
            "b/Tiny": write_set(root / "b" / "Tiny", {"c": (20, 20)}),
            "valid": write_set(root / "valid", {"d": (20, 24)}),
            "Other": write_set(root / "Other", {"e": (16, 24)}),
            "zoo": tiny_teams}


VALID_DEVICES = {"cpu", "auto"} | ({"cuda", "cuda:0"} if torch.cuda.is_available() else set())


@st.composite
def flag_sets(draw: st.DrawFn) -> dict:
    """Flags drawn from good values only half the time (so that clean runs are common), else from good and bad."""
    good = draw(st.booleans())

    def pick(ok: list, bad: list) -> object:
        return draw(st.sampled_from(ok if good else ok + bad))

    ids = [91, 98] if good else [91, 98, 42, -1]
    return {"ids": draw(st.lists(st.lists(st.sampled_from(ids), min_size=1, max_size=2, unique=good), min_size=1,
                                 max_size=1 if good else 2)),
            "runs": pick([None, 1, 2], [-1, 0]), "repeat": pick([None, 1, 2], [-1, 0]), "warmup": pick([None, 0, 1], [-1]),
            "tile": pick([None, 33, 40, 1000], [0, 32]),
            "device": pick(["cpu", "auto"], ["cuda", "cuda:0", "mps", "cpu:1", "cuda:abc", "meta", "foo", ""]),
            "datasets": draw(st.lists(st.sampled_from(["Tiny", "Other"] if good else ["Tiny", "b/Tiny", "valid", "Other"]),
                                      min_size=1, max_size=3, unique=good))}


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(flags=flag_sets())
def test_generated_flags_end_in_a_run_or_one_error_line(flag_data: dict, flags: dict) -> None:
    ids, runs, repeat, warmup, tile, device, datasets = (flags[k] for k in ("ids", "runs", "repeat", "warmup", "tile",
                                                                            "device", "datasets"))
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "R.json"
        results.write_text(json.dumps(EARLIER))
        argv = ["--model_zoo", str(flag_data["zoo"]), "--results", str(results), "--save_dir", str(Path(tmp) / "S"),
                "--device", device, "--dataset", *(str(flag_data[d]) for d in datasets)]
        for group in ids:
            argv += ["--model_id", *map(str, group)]
        for flag, value in (("--runs", runs), ("--repeat", repeat), ("--warmup", warmup), ("--tile", tile)):
            if value is not None:
                argv += [flag, str(value)]
        code, _, err = run_main(argv)
        every_id = [i for group in ids for i in group]
        names = [d.split("/")[-1] for d in datasets]
        bad = (len(set(every_id)) < len(every_id) or not set(every_id) <= {91, 98} or (runs is not None and runs < 1)
               or (repeat is not None and repeat < 1) or (warmup is not None and warmup < 0)
               or (tile is not None and tile <= 32) or device not in VALID_DEVICES
               or len(set(names)) < len(names) or "valid" in names)
        lines = err.strip().splitlines()
        event("refused" if bad else "ran")
        assert "Traceback" not in err
        if bad:
            assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (argv, err)
        else:
            assert code == 0 and all(line.startswith("warning: ") for line in lines), (argv, err)
            recorded = read_results(results)
            assert all(recorded[f"{i}_Tiny_{MODES[i]}"]["splits"] == names for i in every_id)
        assert read_results(results)["99_Earlier"] == EARLIER["99_Earlier"]
