"""The challenge years as data: the records, --year, --runs, and team ids numbered per year."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from helpers import run_main

import test_demo
from benchmark.core.errors import HarnessError
from benchmark.core.years import RECORDS, YEARS, _record, get_year, load_years


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
    with pytest.raises(HarnessError, match="years.toml: year 2027: gpu is missing"):
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




BROKEN = {
    "runs = 1\n": ("runs = = 1\n", r"years.toml: not valid TOML \(Invalid value \(at line \d+"),
    "psnr_floors = { valid = 29.00, test = 27.00 }": (
        'psnr_floors = "29"', r"year 2023: psnr_floors is '29', not a table such as psnr_floors = \{ valid"),
    "psnr_floors = { valid = 26.90, test = 26.99 }": (
        "psnr_floors = { valid = 26.90, tset = 26.99 }", r"year 2024: psnr_floors.tset names no split of the year"),
    "weights = { runtime = 0.8, flops = 0.1, params = 0.1 }": ("weights = [0.8]", r"year 2026: weights is \[0.8\], not "
                                                               r"a table"),
    'splits.hybrid_test = { hr = "LSDIR_DIV2K_test_HR", lr = "LSDIR_DIV2K_test_LR" }': (
        'splits.hybrid_test = "x"', r"year 2023: splits.hybrid_test is 'x', not a table"),
    "first = 801,": ("frist = 801,", r"year 2023: splits.valid: frist is not a field of this record"),
    'gpu = "RTX 3090"\nruns = 1': ('gpu = "RTX 3090"\nruns = 1\ncolour = 1', r"year 2023: colour is not a field"),
    "first = 901,": ('first = "901",', r"year 2023: splits.test: first is '901', not an integer"),
}


@pytest.mark.parametrize("wrong", list(BROKEN), ids=[b[0].split("=")[0].strip() for b in BROKEN.values()])
def test_a_malformed_years_file_is_one_line_naming_the_record_and_key(wrong: str, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever is wrong in years.toml, every command says it in one line (the file, the year, the key) where it
    first reads the records, never a traceback: not while its teams are imported, nor while its flags are built."""
    text = RECORDS.read_text()
    assert wrong in text
    replacement, expected = BROKEN[wrong]
    bad = tmp_path / "years.toml"
    bad.write_text(text.replace(wrong, replacement, 1))
    with pytest.raises(HarnessError, match=expected):
        load_years(bad)
    monkeypatch.setattr(YEARS, "path", bad)
    monkeypatch.setattr(YEARS, "_records", None)
    for argv in (["--list"], ["--help"], ["--year", "2026", "--profile-only", "--model_id", "0"]):
        code, out, err = run(argv)
        assert code == 2 and out == "" and len(err.splitlines()) == 1, (argv, err)
        assert re.search(expected, err) and err.startswith(f"error: {bad}"), err


def test_a_years_file_that_is_not_text_or_holds_no_year_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "years.toml"
    bad.write_bytes(b"\xff\xfe[2023]\n")
    with pytest.raises(HarnessError, match="years.toml: not valid TOML .*can't decode byte 0xff"):
        load_years(bad)
    bad.write_text("# nothing\n")
    with pytest.raises(HarnessError, match="years.toml: holds no year's record; restore the file"):
        load_years(bad)
