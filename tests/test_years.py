"""The challenge years as data: the records, --year, --runs, and team ids numbered per year."""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import tomllib
from pathlib import Path

import pytest

import test_demo
from benchmark.core.errors import HarnessError
from benchmark.core.years import RECORDS, YEARS, _record, get_year
from benchmark.record.store import read_results


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = test_demo.main(argv)
    return code, out.getvalue(), err.getvalue()


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
