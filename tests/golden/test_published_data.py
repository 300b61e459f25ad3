"""The published figures the harness ships (benchmark/rank/published/) are the organizers' to the digit: checked
against their files in ../shared (the report's Table 1 as transcribed, results.json, the 2025 log and README)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import shared_file

from benchmark.rank.publications import read_file, shipped

TABLE_KEYS = {"val_psnr": "val_psnr", "test_psnr": "test_psnr", "val_runtime_ms": "val_t", "test_runtime_ms": "test_t",
              "ave_runtime_ms": "ave_t"}


def test_2024_rows_are_table_1_as_transcribed() -> None:
    transcribed = json.loads(shared_file("reference", "published", "ntire2024_table1.json").read_text())["rows"]
    ours = [r for r in shipped(2024) if r.primary]
    assert len(ours) == len(transcribed)
    for row, theirs in zip(ours, transcribed):
        assert row.team == ("00_RLFN_baseline" if theirs.get("baseline") else theirs["team"])
        assert row.team_id == theirs["team_id"] and row.reported.get("rank") == theirs["main_rank"]
        assert row.reported["ranked"] == theirs["ranked"]
        assert row.figures == {"num_parameters": theirs["params_M"], "flops": theirs["flops_G"]}
        assert {ours_key: row.reported[ours_key] for ours_key in TABLE_KEYS.values()} == {
            ours_key: theirs[key] for key, ours_key in TABLE_KEYS.items()}
    # the same rows read from the transcription itself match the same way
    assert [(r.team_id, r.figures) for r in read_file(shared_file("reference", "published", "ntire2024_table1.json"))] \
        == [(r.team_id, r.figures) for r in ours]


def test_2024_baseline_run_and_2026_rows_are_the_organizers_results_json() -> None:
    for year, path in ((2024, shared_file("reference", "official", "ntire2024_results.json")),
                       (2026, shared_file("reference", "official", "ntire2026_results.json"))):
        theirs = {r.team_id: r for r in read_file(path)}
        ours = [r for r in shipped(year) if r.figures.get("activations") is not None]
        assert {r.team_id for r in ours} == set(theirs)
        for row in ours:
            assert row.figures == theirs[row.team_id].figures, row.team
            for key in ("val_t", "test_t", "val_psnr", "test_psnr"):
                assert row.reported[key] == theirs[row.team_id].reported[key], (row.team, key)


def test_2025_is_the_readme_and_the_last_run_of_the_organizers_log(shared: Path) -> None:
    log = shared_file("reference", "official", "ntire2025_organizer_log.txt").read_text()
    runs = log.split("00_EFDN_baseline")
    last = runs[-1]

    def figure(pattern: str) -> float:
        return float(re.search(pattern, last)[1])

    readme, logged = shipped(2025)
    assert logged.reported == pytest.approx({
        "val_t": figure(r"runtime of \(valid\) is : ([\d.]+)"), "test_t": figure(r"runtime of \(test\) is : ([\d.]+)"),
        "val_psnr": figure(r"PSNR of \(valid\) is : ([\d.]+)"), "test_psnr": figure(r"PSNR of \(test\) is : ([\d.]+)"),
        "ave_t": (figure(r"runtime of \(valid\) is : ([\d.]+)") + figure(r"runtime of \(test\) is : ([\d.]+)")) / 2},
        abs=0)
    assert logged.figures == {"num_parameters": figure(r"#Params : ([\d.]+)"), "flops": figure(r"FLOPs : ([\d.]+)"),
                              "activations": figure(r"#Activations : ([\d.]+)"),
                              "num_conv": int(figure(r"#Conv2d : (\d+)"))}
    text = (shared / "challenges" / "NTIRE2025_ESR" / "README.md")
    if text.is_file():
        readme_text = text.read_text()
        for value in ("26.93 dB", "27.01 dB", "0.276 M", "16.69 ms", "18.77 ms", "14.61 ms", "16.70 G"):
            assert value in readme_text
    assert readme.reported == {"val_psnr": 26.93, "test_psnr": 27.01, "val_t": 18.77, "test_t": 14.61, "ave_t": 16.69}
    assert readme.figures == {"num_parameters": 0.276, "flops": 16.70}
