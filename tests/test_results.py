"""The results file: official keys, merging per model, atomic writes, locking, corrupt files, results.txt."""

from __future__ import annotations

import json
import math
import multiprocessing
from pathlib import Path

import pytest

from benchmark.errors import HarnessError
from benchmark.inference import ImageResult, SplitResult
from benchmark.results import (
    ResultsWarning,
    complexity_entry,
    read_results,
    runtime_stats,
    split_entry,
    update_results,
    write_results_txt,
)


def _split(name: str = "valid", ssim: bool = True) -> SplitResult:
    images = [ImageResult("0801", 10.0, psnr=30.0, ssim=0.8 if ssim else None),
              ImageResult("0802", 20.0, psnr=28.0, ssim=0.7 if ssim else None, tiled=True),
              ImageResult("0803", 60.0, psnr=29.0, ssim=0.9 if ssim else None)]
    return SplitResult(name, images, memory_mib=123.5, memory_kind="cuda_max_memory_allocated", wall_seconds=0.1,
                       clock="cuda_events")


def test_split_entry_has_the_official_keys_and_units() -> None:
    entry = split_entry(_split(), warmup=3, repeat=1)
    assert entry["valid_runtime"] == [10.0, 20.0, 60.0]
    assert entry["valid_psnr"] == [30.0, 28.0, 29.0]
    assert entry["valid_ave_psnr"] == 29.0
    assert entry["valid_ave_ssim"] == pytest.approx(0.8)
    assert entry["valid_ave_runtime"] == 30.0
    assert entry["valid_memory"] == 123.5
    assert entry["valid_images"] == ["0801", "0802", "0803"]
    assert entry["valid_tiled"] == ["0802"]
    assert entry["valid_forward_seconds"] == pytest.approx(0.09)
    stats = entry["valid_runtime_stats"]
    assert (stats["mean"], stats["median"], stats["first"], stats["mean_without_first"]) == (30.0, 20.0, 10.0, 40.0)
    assert stats["std"] == pytest.approx(math.sqrt(((20**2) + (10**2) + (30**2)) / 3))
    assert "valid_psnr_y" not in entry


def test_ssim_keys_only_when_measured() -> None:
    entry = split_entry(_split(ssim=False), warmup=0, repeat=1)
    assert "valid_ssim" not in entry and "valid_ave_ssim" not in entry


def test_runtime_stats_of_one_image() -> None:
    stats = runtime_stats([5.0])
    assert stats["mean"] == stats["median"] == stats["first"] == 5.0 and stats["std"] == 0.0
    assert math.isnan(stats["mean_without_first"])


def test_complexity_entry_uses_official_units() -> None:
    figures = {"input_shape": [3, 256, 256], "params": 244558, "flops": 15365898240, "activations": 422903808,
               "conv": 158, "fvcore_flops": 1, "ptflops_macs": 2,
               "unseen": [{"op": "aten.convolution", "module": "model (X)", "calls": 2, "macs": 10, "elements": 6},
                          {"op": "aten.add", "module": "model (X)", "calls": 1, "macs": 0, "elements": 6}]}
    entry = complexity_entry(figures)
    assert (entry["num_parameters"], entry["flops"], entry["activations"], entry["num_conv"]) == (
        0.244558, 15.36589824, 422.903808, 158)
    assert entry["complexity"]["params"] == 244558
    assert [u["op"] for u in entry["complexity"]["unseen"]] == ["aten.convolution"]


def test_update_merges_one_model_and_leaves_the_others(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    update_results(path, "00_RFDN_baseline", {"valid_ave_psnr": 29.04, "flops": 27.1})
    update_results(path, "05_SRneXt", {"valid_ave_psnr": 29.02})
    update_results(path, "00_RFDN_baseline", {"test_ave_psnr": 27.11})
    assert read_results(path) == {"00_RFDN_baseline": {"valid_ave_psnr": 29.04, "flops": 27.1, "test_ave_psnr": 27.11},
                                  "05_SRneXt": {"valid_ave_psnr": 29.02}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "results.json.lock"]


def test_corrupt_file_is_kept_aside_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"00_RFDN_baseline": {"valid_ave_psnr": 29.0')  # truncated by a crash
    with pytest.warns(ResultsWarning, match="could not be parsed; kept it as"):
        update_results(path, "05_SRneXt", {"valid_ave_psnr": 29.02})
    (aside,) = tmp_path.glob("results.json.corrupt-*")
    assert aside.read_text().startswith('{"00_RFDN_baseline"')
    assert read_results(path) == {"05_SRneXt": {"valid_ave_psnr": 29.02}}


def test_read_results_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="results.json: results file not found"):
        read_results(tmp_path / "results.json")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(HarnessError, match="bad.json: expected a JSON object"):
        read_results(tmp_path / "bad.json")


def _writer(path: str, prefix: str, count: int) -> None:
    for i in range(count):
        update_results(path, f"{prefix}{i:02}", {"valid_ave_psnr": float(i)})


def test_concurrent_writers_all_land(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(path), prefix, 25)) for prefix in ("a", "b", "c")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert len(read_results(path)) == 75


def test_results_txt_official_layout_and_mixed_entries(tmp_path: Path) -> None:
    results = {
        "00_RFDN_baseline": {"valid_ave_psnr": 29.04, "test_ave_psnr": 27.11, "valid_ave_runtime": 42.41,
                             "test_ave_runtime": 28.66, "valid_memory": 788.13, "test_memory": 700.0,
                             "num_parameters": 0.433448, "flops": 27.10262256, "activations": 112.03424,
                             "num_conv": 64},
        "05_SRneXt": {"valid_ave_runtime": 331.55, "num_conv": 158},  # no checkpoint, no test split
        "07_Other": {"Set5_ave_psnr": 30.1, "Set5_ave_runtime": 5.0},
    }
    write_results_txt(results, tmp_path / "results.txt")
    lines = [line.split("\t") for line in (tmp_path / "results.txt").read_text().splitlines()]
    assert lines[0] == ["model", "valid_psnr", "test_psnr", "Set5_psnr", "valid_time", "test_time", "Set5_time",
                        "ave_time", "params", "flops", "acts", "mem", "conv"]
    assert lines[1] == ["00_RFDN_baseline", "29.04", "27.11", "n/a", "42.41", "28.66", "n/a", "35.53", "0.433",
                        "27.10", "112.03", "788.13", "64"]
    assert lines[2][0] == "05_SRneXt" and lines[2][4] == "331.55" and lines[2][7] == "n/a" and lines[2][-1] == "158"
    assert lines[3][:4] == ["07_Other", "n/a", "n/a", "30.10"]
    assert json.dumps(results)  # the input is left untouched and serialisable
