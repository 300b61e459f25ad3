"""test_demo.py end to end: a profile without data, the demo set without checkpoints, and a scored run replacing a
timing-only record."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import run_main

import test_demo
from benchmark.record.store import read_results


def run(argv: list[str]) -> tuple[int, str, str]:
    return run_main(test_demo.main, argv)


def test_profile_only_needs_no_data_or_checkpoint() -> None:
    code, out, _ = run(["--model_id", "5", "--profile-only", "--model_zoo", "/nonexistent"])
    assert code == 0
    assert "15.3659" in out and "16.9861" in out and "17.4124" in out and "422.903808" in out
    assert "body.*.mlp.fc2 (ShiftConv2d)" in out  # the shifts the hook counter misses


def test_default_run_on_the_demo_set_without_checkpoints(tmp_path: Path) -> None:
    code, out, _ = run(["--results", str(tmp_path / "R.json"), "--save_dir", str(tmp_path / "S"),
                        "--model_zoo", str(tmp_path), "--warmup", "0"])
    assert code == 0
    results = read_results(tmp_path / "R.json")
    assert set(results) == {"00_RFDN_baseline", "05_SRneXt"}
    assert all(len(e["demo_runtime"]) == 4 and "demo_psnr" not in e for e in results.values())
    assert "PSNR n/a: no checkpoint for 00_RFDN_baseline, 05_SRneXt" in out
    assert not (tmp_path / "S").exists()  # random weights are never saved as SR images


def test_a_scored_run_replaces_a_timing_only_record_and_says_so(shared: Path, tmp_path: Path) -> None:
    """The README's flow: `make demo` without checkpoints, then Set5 with them: compare must see Set5 only."""
    common = ["--model_id", "0", "--results", str(tmp_path / "R.json"), "--save_dir", str(tmp_path / "S"),
              "--warmup", "0", "--device", "cpu"]
    assert run([*common, "--model_zoo", str(tmp_path)])[0] == 0  # the demo set, random weights
    code, out, err = run([*common, "--model_zoo", str(shared / "reference" / "model_zoo"),
                          "--dataset", str(shared / "data" / "Set5")])
    assert code == 0, err
    assert "00_RFDN_baseline: measured with another checkpoint than its recorded run, so that run's splits (demo) " \
           "were replaced" in " ".join(out.split())
    entry = read_results(tmp_path / "R.json")["00_RFDN_baseline"]
    assert entry["splits"] == ["Set5"] and not any(key.startswith("demo_") for key in entry)
    (kept,) = json.loads((tmp_path / "R.superseded.json").read_text())
    assert kept["entry"]["checkpoint"] is None and len(kept["entry"]["demo_runtime"]) == 4
