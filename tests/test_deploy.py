"""Deployment backends: the same pictures as FP32 eager (Set5), records kept apart from the figures of record, one
line for whatever cannot run here, and the matrix's share of the measured peak."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

import models
import test_demo
from benchmark.core.errors import HarnessError
from benchmark.data.splits import benchmark_split
from benchmark.measure.backend import PRECISIONS, Unavailable
from benchmark.measure.deploy import BACKENDS, make_backend
from benchmark.measure.loop import ImageResult, SplitResult
from benchmark.measure.matrix import parse_entry
from benchmark.measure.settings import Settings
from benchmark.record.entry import comparison_keys, identity
from benchmark.record.keys import results_name
from benchmark.record.run import run_splits
from benchmark.record.store import read_results, update_results
from benchmark.speed import main as speed_main

TOLERANCE = 1e-4
"""Largest output difference allowed for an FP32 backend, as a fraction of the data range: float32 round-off."""
PSNR_TOLERANCE = 0.001


def _set5_keys(shared: Path, year: int, backend: str) -> dict:
    spec = models.get_spec(0, year)
    model = models.create_model(0, spec.checkpoint_in(shared / "reference" / "model_zoo"), year=year)
    settings = Settings(warmup=0, backend=backend)
    split = benchmark_split(shared / "data" / "Set5")
    return run_splits(model, spec.display_name, spec.data_range, [split], settings, scored=True,
                      floors={"Set5": 26.0})["Set5"]


@pytest.mark.parametrize("backend", ["onnxruntime", "channels_last", "compile"])
@pytest.mark.parametrize("year", [2026, 2023], ids=["SPAN", "RFDN"])
def test_fp32_backends_give_the_eager_pictures_on_set5(shared: Path, year: int, backend: str) -> None:
    why = BACKENDS[backend].missing(torch.device("cpu"), "fp32")
    if why is not None:
        pytest.skip(f"{backend}: {why}")
    keys = _set5_keys(shared, year, backend)
    assert len(keys["Set5_difference"]) == 5
    assert 0 < keys["Set5_max_difference"] <= TOLERANCE  # not the eager model itself: some round-off is expected
    assert abs(keys["Set5_psnr_change"]) <= PSNR_TOLERANCE
    assert keys["Set5_ave_reference_psnr"] == pytest.approx(keys["Set5_ave_psnr"], abs=PSNR_TOLERANCE)
    assert keys["Set5_psnr_floor"] == 26.0
    assert keys["Set5_floor_holds"] is (keys["Set5_ave_psnr"] >= 26.0)


def _result(name: str, psnr: float | None, reference: float | None, difference: float | None) -> ImageResult:
    return ImageResult(name, 1.0, scores={} if psnr is None else {"psnr": psnr}, difference=difference,
                       reference_psnr=reference)


def test_comparison_keys_set_the_psnr_against_the_floor_and_say_null_when_unmeasured() -> None:
    run = SplitResult("valid", [_result("a", 27.0, 27.5, 0.01), _result("b", 26.0, 26.5, 0.03)], 1.0, "rss", 1.0, "c")
    keys = comparison_keys(run, 26.9)
    assert keys["valid_max_difference"] == 0.03
    assert keys["valid_psnr_change"] == pytest.approx(-0.5)
    assert keys["valid_floor_holds"] is False  # 26.5 < 26.9, though the reference (27.0) held it
    assert comparison_keys(run, 26.0)["valid_floor_holds"] is True
    unscored = SplitResult("valid", [_result("a", None, None, 0.2), _result("b", None, None, None)], 1.0, "rss", 1.0,
                           "c")
    keys = comparison_keys(unscored, 26.9)
    assert keys["valid_max_difference"] is None  # one image's reference did not fit: no maximum to state
    assert keys["valid_difference"] == [0.2, None]
    assert keys["valid_psnr_change"] is None and keys["valid_floor_holds"] is None


class _Tiny(nn.Module):
    """A 3×3 conv and a pixel shuffle: an x4 network every backend can build in seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 48, 3, padding=1)
        self.up = nn.PixelShuffle(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.conv(x))


@pytest.mark.parametrize("precision", list(PRECISIONS))
@pytest.mark.parametrize("name", [n for n in BACKENDS if n != "compile"])  # compile: the Set5 test above
def test_every_backend_and_precision_runs_or_says_why_in_one_line(name: str, precision: str) -> None:
    model = _Tiny().eval().requires_grad_(False)
    x = torch.rand(1, 3, 20, 24)
    try:
        backend = make_backend(name, torch.device("cpu"), precision)
        call = backend.prepare(model)
        backend.settle(lambda: call(x), tuple(x.shape))
        with torch.inference_mode():
            out = call(x)
    except Unavailable as err:
        message = str(err)
        assert message.startswith(f"{name} {precision}: ") and "\n" not in message and "Traceback" not in message
        return
    assert out.dtype == torch.float32 and tuple(out.shape) == (1, 3, 80, 96)
    with torch.inference_mode():
        reference = model(x)
    limit = TOLERANCE if precision == "fp32" else 0.1  # half precisions: 8 or 11 significant bits
    assert float((out - reference).abs().max()) / float(reference.abs().max()) <= limit


def test_a_backend_this_machine_cannot_run_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert test_demo.main(["--backend", "tensorrt", "--device", "cpu", "--model_id", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: tensorrt fp32: needs a CUDA device and the tensorrt package (pip install -r " \
                  "requirements-gpu.txt)"


def test_a_deployment_run_never_replaces_or_mixes_with_the_record(shared: Path, tmp_path: Path) -> None:
    data = tmp_path / "Two"
    for name in ("butterfly", "woman"):  # the two smallest Set5 images
        for sub, file in (("HR", f"{name}.png"), ("LR_bicubic/X4", f"{name}x4.png")):
            (data / sub).mkdir(parents=True, exist_ok=True)
            shutil.copy(shared / "data" / "Set5" / sub / file, data / sub / file)
    results = tmp_path / "results.json"
    common = ["--year", "2026", "--model_id", "0", "--dataset", str(data), "--runs", "1", "--warmup", "0",
              "--no-save", "--device", "cpu", "--model_zoo", str(shared / "reference" / "model_zoo"),
              "--results", str(results)]
    assert test_demo.main(common) == 0
    eager = read_results(results)["00_SPAN"]
    assert test_demo.main([*common, "--backend", "onnxruntime"]) == 0
    written = read_results(results)
    assert written["00_SPAN"] == eager  # untouched: the official keys keep meaning FP32 eager
    deployed = written[results_name("00_SPAN", "onnxruntime", "fp32")]
    assert (deployed["backend"], deployed["precision"]) == ("onnxruntime", "fp32")
    assert deployed["deployment"]["providers"] == ["CPUExecutionProvider"]
    assert deployed["Two_max_difference"] <= TOLERANCE
    assert not results.with_name("results.superseded.json").exists()
    assert "Two_max_difference" not in eager

    old = {k: v for k, v in eager.items() if k not in ("backend", "precision", "deployment")}
    assert identity(old) == identity(eager)  # written before there were backends: eager FP32, not replaced
    record = {k: v for k, v in eager.items() if not k.startswith("Two_") and k != "splits"}
    update = update_results(results, "00_SPAN", {**record, "backend": "onnxruntime"})
    assert update.changed == ["backend"]  # one name holding another backend's run replaces, never mixes
    assert "Two_ave_psnr" not in read_results(results)["00_SPAN"]


def test_the_matrix_runs_to_the_end_and_its_share_of_peak_is_a_share(tmp_path: Path) -> None:
    out = tmp_path / "matrix.md"
    assert speed_main(["--matrix", "--models", "2026:0", "--sizes", "16x24", "--rounds", "3", "--device", "cpu",
                       "--backend", "eager", "onnxruntime", "tensorrt", "cudagraphs", "--precision", "fp32", "bf16",
                       "--model_zoo", str(tmp_path), "--out", str(out)]) == 0
    result = json.loads(out.with_suffix(".json").read_text())
    rows = result["rows"]
    assert len(rows) == 4 * 2
    ran = [r for r in rows if r["unavailable"] is None]
    assert {(r["backend"], r["precision"]) for r in ran} >= {("eager", "fp32"), ("eager", "bf16"),
                                                             ("onnxruntime", "fp32")}
    for row in ran:
        assert row["rounds"] == 3 and row["weights"] == "random"
        assert 0 < row["peak_share"] <= 1, row
        assert row["gflops"] == pytest.approx(row["flops_g"] / (row["ms"] / 1000))
    assert next(r for r in ran if (r["backend"], r["precision"]) == ("eager", "fp32"))["speedup"] == 1
    for row in rows:
        assert row["unavailable"] is None or "\n" not in row["unavailable"]
    assert {r["backend"] for r in rows if r["unavailable"]} >= {"tensorrt", "cudagraphs"}
    assert result["peaks"]["fp32"]["peak"] > 0
    assert "| 00_SPAN" in out.read_text() and "## Cannot run here" in out.read_text()


def test_bad_matrix_flags_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert speed_main(["--matrix", "--models", "2026"]) == 2
    assert capsys.readouterr().err.strip() == "error: --models 2026: write YEAR:ID or YEAR:ID:fast, e.g. 2026:0 " \
                                              "2023:5:fast"
    with pytest.raises(HarnessError, match="has no fast variant"):
        parse_entry("2026:0:fast")
