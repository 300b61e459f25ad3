"""Deployment backends on the official checkpoints: the same pictures as FP32 eager on Set5, and records kept apart
from the figures of record."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

import models
import test_demo
from benchmark.data.splits import benchmark_split
from benchmark.measure.deploy import BACKENDS, FP32_TOLERANCE
from benchmark.measure.settings import Settings
from benchmark.record.entry import identity
from benchmark.record.keys import results_name
from benchmark.record.run import run_splits
from benchmark.record.store import read_results, update_results

PSNR_TOLERANCE = 0.001


def _set5_keys(shared: Path, year: int, backend: str, precision: str = "fp32") -> dict:
    spec = models.get_spec(0, year)
    model = models.create_model(0, spec.checkpoint_in(shared / "reference" / "model_zoo"), year=year)
    settings = Settings(warmup=0, backend=backend, precision=precision)
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
    assert 0 < keys["Set5_max_difference"] <= FP32_TOLERANCE  # not the eager model itself: some round-off is expected
    assert abs(keys["Set5_psnr_change"]) <= PSNR_TOLERANCE
    assert keys["Set5_ave_reference_psnr"] == pytest.approx(keys["Set5_ave_psnr"], abs=PSNR_TOLERANCE)
    assert keys["Set5_psnr_floor"] == 26.0
    assert keys["Set5_floor_holds"] is (keys["Set5_ave_psnr"] >= 26.0)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("year", [2023, 2024, 2025, 2026], ids=["RFDN", "RLFN", "EFDN", "SPAN"])
def test_every_baseline_in_half_precision_is_within_its_tolerance_on_set5(shared: Path, year: int,
                                                                          precision: str) -> None:
    """The tolerances of docs/RESULTS.md hold for every shipped baseline (run_splits raises DeploymentFailed beyond
    them); measured here: FP16 largest difference 1.6e-3–6.1e-3 of the range, BF16 0.021–0.038."""
    keys = _set5_keys(shared, year, "eager", precision)
    bounds = keys["Set5_tolerance"]
    assert bounds["arithmetic"] == precision
    assert 10 * FP32_TOLERANCE < keys["Set5_max_difference"] <= bounds["max_difference"]  # it ran in that precision
    assert abs(keys["Set5_psnr_change"]) <= bounds["psnr_change"]


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
    assert deployed["Two_max_difference"] <= FP32_TOLERANCE
    assert not results.with_name("results.superseded.json").exists()
    assert "Two_max_difference" not in eager

    old = {k: v for k, v in eager.items() if k not in ("backend", "precision", "deployment")}
    assert identity(old) == identity(eager)  # written before there were backends: eager FP32, not replaced
    record = {k: v for k, v in eager.items() if not k.startswith("Two_") and k != "splits"}
    update = update_results(results, "00_SPAN", {**record, "backend": "onnxruntime"})
    assert update.changed == ["backend"]  # one name holding another backend's run replaces, never mixes
    assert "Two_ave_psnr" not in read_results(results)["00_SPAN"]


