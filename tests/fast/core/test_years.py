"""The challenge years as data: the records, --year, --runs, and team ids numbered per year."""

from __future__ import annotations

import tomllib

import pytest
from helpers import run_main

import test_demo
from benchmark.core.errors import HarnessError
from benchmark.core.years import RECORDS, YEARS, _record, get_year


def run(argv: list[str]) -> tuple[int, str, str]:
    return run_main(test_demo.main, argv)


def test_each_year_is_one_record_with_its_rules() -> None:
    assert list(YEARS) == [2023, 2024, 2025, 2026]
    assert [YEARS[y].baseline for y in YEARS] == ["00_RFDN_baseline", "00_RLFN_baseline", "00_EFDN_baseline", "00_SPAN"]
    assert [YEARS[y].flops_counter for y in YEARS] == ["hooks", "fvcore", "fvcore", "fvcore"]
    assert [YEARS[y].runs for y in YEARS] == [1, 5, 5, 5]
    assert [YEARS[y].ranking for y in YEARS] == ["rank-sum", "exp-score", "exp-score", "exp-score"]
    assert dict(YEARS[2024].weights) == dict(YEARS[2025].weights) == {"runtime": 0.7, "flops": 0.15, "params": 0.15}
    assert dict(YEARS[2026].weights) == {"runtime": 0.8, "flops": 0.1, "params": 0.1}
    assert dict(YEARS[2026].psnr_floors) == {"valid": 26.90, "test": 26.99}
    assert not YEARS[2023].floors_applied and YEARS[2026].floors_applied
    assert [YEARS[y].gpu for y in YEARS] == ["RTX 3090", "RTX 3090", "RTX A6000", "RTX A6000"]
    assert YEARS[2023].splits["valid"].first == 801 and YEARS[2026].splits["test"].hr == "DIV2K_LSDIR_test_HR"


def test_a_new_year_is_one_more_record() -> None:
    raw = tomllib.loads(RECORDS.read_text())["2026"]
    raw.update(baseline="00_NEXT", runs=3)
    record = _record(2027, raw)
    assert (record.year, record.baseline, record.runs, record.flops_counter) == (2027, "00_NEXT", 3, "fvcore")


def test_a_malformed_record_names_the_year_and_field() -> None:
    raw = tomllib.loads(RECORDS.read_text())["2026"]
    with pytest.raises(HarnessError, match="year 2027: an exp-score year weighs exactly runtime, flops, params"):
        _record(2027, {**raw, "weights": {"runtime": 1.0}})
    with pytest.raises(HarnessError, match="years.toml: year 2027 is malformed"):
        _record(2027, {k: v for k, v in raw.items() if k != "gpu"})
    with pytest.raises(HarnessError, match="unknown challenge year 2019; known years: 2023, 2024, 2025, 2026"):
        get_year(2019)


def test_runs_default_to_the_years_number() -> None:
    assert test_demo.parse_args([]).runs == 1
    assert test_demo.parse_args(["--year", "2025"]).runs == 5
    assert test_demo.parse_args(["--year", "2026", "--runs", "2"]).runs == 2


def test_listing_shows_every_year(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--list"])
    assert code == 0
    rows = [line for line in out.splitlines() if "_" in line and "│" in line]
    assert any("2023" in r and "05_SRneXt" in r for r in rows)
    assert any("2026" in r and "00_SPAN" in r for r in rows)


