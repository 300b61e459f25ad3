"""The speed matrix run end to end on a tiny model: every backend and precision, and its share of the measured
peak is a share."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import TinySR

from benchmark.speed import main as speed_main
from models import ModelSpec
from models.registry import registered


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
    fp32 = result["peaks"]["fp32"]
    assert fp32["peak"] == max(fp32["before"], fp32["after"]) == max(fp32["matmul"], fp32["conv3x3"]) > 0
    assert "| 00_SPAN" in out.read_text() and "## Cannot run here" in out.read_text()


class _Drift(TinySR):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        return out if x.dtype == torch.float32 else out + 0.175 * 255


def test_the_matrix_marks_a_way_beyond_its_tolerance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.save(_Drift().state_dict(), tmp_path / "team93_drift.pth")
    out = tmp_path / "matrix.md"
    with registered(ModelSpec(team_id=93, name="Drift", builder=_Drift, checkpoint="team93_drift.pth")):
        assert speed_main(["--matrix", "--models", "2023:93", "--sizes", "16x16", "--rounds", "1", "--device", "cpu",
                           "--backend", "eager", "--precision", "fp32", "fp16", "--model_zoo", str(tmp_path),
                           "--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith("| 93_Drift")]
    assert [("FAILED (> 0.0156)" in row, "| ok " in row) for row in rows] == [(False, True), (True, False)]
    console = capsys.readouterr().out
    assert ("FAILED: 93_Drift 1×3×16×16 eager fp16: its output is 0.175 of the data range from FP32 eager's, beyond "
            "its precision's tolerance; its time is not that of the network") in console


def test_profile_adds_each_models_roofline_to_the_report(tmp_path: Path) -> None:
    out = tmp_path / "matrix.md"
    assert speed_main(["--matrix", "--models", "2023:5:fast", "2023:0", "--sizes", "16x20", "--rounds", "1",
                       "--device", "cpu", "--backend", "eager", "--precision", "fp32", "--profile",
                       "--model_zoo", str(tmp_path), "--out", str(out)]) == 0
    result = json.loads(out.with_suffix(".json").read_text())
    roofs = result["roofs"]
    assert roofs["compute"] == result["peaks"]["fp32"]["peak"] and roofs["memory"] == max(roofs["memory_before_after"])
    for profile in result["profiles"]:  # each operator judged against the run's roofs, not the first measurement's
        for row in profile["operators"]:
            if row["bound"] == "compute":
                assert row["of_roof"] == pytest.approx(row["gmacs"] / roofs["compute"])
    assert [(p["model"], p["input"]) for p in result["profiles"]] == [("05_SRneXt (fast)", "1×3×16×20"),
                                                                      ("00_RFDN_baseline", "1×3×16×20")]
    srnext = {r["op"]: r for r in result["profiles"][0]["operators"]}
    body = srnext["srnext_body"]  # the 26 layers as one compiled operator, counted by its FLOP formula
    assert body["calls"] == 1 and body["macs"] == 26 * 16 * 20 * (2 * 35 * 15 + 6 * 35 * 35)
    assert body["bound"] == "compute"
    rfdn = {r["op"]: r for r in result["profiles"][1]["operators"]}
    assert rfdn["conv 3×3 50→50"]["calls"] == 13 and rfdn["conv 3×3 50→50"]["macs"] == 13 * 50 * 50 * 9 * 16 * 20
    text = out.read_text()
    assert "## Roofline (--profile)" in text and "### 05_SRneXt (fast) 1×3×16×20" in text and "By module:" in text


def test_profile_goes_with_the_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    assert speed_main(["--profile"]) == 2
    assert "--profile goes with --matrix" in capsys.readouterr().err
