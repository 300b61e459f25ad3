"""The speed matrix run end to end on a tiny model: every backend and precision, and its share of the measured
peak is a share."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.speed import main as speed_main


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
