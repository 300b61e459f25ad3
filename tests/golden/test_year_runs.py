"""A year's protocol on real baselines: repeated runs averaged as the organizers publish them, and a 2026 run that records the organizers' own figures."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from helpers import run_main

import test_demo
from benchmark.record.store import read_results


def run(argv: list[str]) -> tuple[int, str, str]:
    return run_main(test_demo.main, argv)


def test_three_runs_record_three_run_means_whose_mean_is_the_official_figure(shared: Path, tmp_path: Path) -> None:
    code, _, err = run(["--model_id", "0", "--dataset", str(shared / "data" / "Set5"), "--runs", "3", "--warmup", "0",
                        "--model_zoo", str(shared / "reference" / "model_zoo"), "--results", str(tmp_path / "R.json"),
                        "--save_dir", str(tmp_path / "S"), "--device", "cpu"])
    assert code == 0, err
    entry = read_results(tmp_path / "R.json")["00_RFDN_baseline"]
    means = entry["Set5_runs_ave_runtime"]
    assert len(means) == 3 and len(set(means)) == 3
    assert entry["Set5_ave_runtime"] == pytest.approx(statistics.fmean(means), rel=1e-12)
    assert entry["Set5_ave_runtime"] == pytest.approx(statistics.fmean(entry["Set5_runtime"]), rel=1e-12)
    assert entry["Set5_runtime_stats"]["runs"] == 3
    assert len(entry["Set5_psnr"]) == 5  # scored once: the outputs do not change between runs


def test_a_2026_run_records_the_organizers_figures(shared: Path, tmp_path: Path) -> None:
    """The figures of record as the organizers' results file has them for SPAN, and the official PSNR."""
    code, _, err = run(["--year", "2026", "--model_id", "0", "--runs", "1", "--warmup", "0", "--device", "cpu",
                        "--checkpoint", str(shared / "reference" / "model_zoo" / "team00_SPAN.pth"),
                        "--dataset", str(shared / "data" / "Set14"), "--results", str(tmp_path / "R.json"),
                        "--save_dir", str(tmp_path / "S")])
    assert code == 0, err
    entry = read_results(tmp_path / "R.json")["00_SPAN"]
    organizers = json.loads((shared / "reference" / "official" / "ntire2026_results.json").read_text())["00_SPAN"]
    for key in ("flops", "num_parameters", "activations", "num_conv"):
        assert entry[key] == organizers[key], key  # 9.833807872, 0.150688, 41.680896, 22
    assert (entry["year"], entry["flops_counter"]) == (2026, "fvcore")
    assert entry["complexity"]["flops"] == 9833807872  # the hook figure beside it (equal for SPAN)
    official = json.loads((shared / "reference" / "metrics.json").read_text())["span"]["Set14"]["images"]
    for name, psnr in zip(entry["Set14_images"], entry["Set14_psnr"]):
        assert psnr == pytest.approx(official[name]["psnr"], abs=1e-4), name
