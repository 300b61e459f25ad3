"""What the console says is true and whole: Table 1 shows the splits of this run (and what it averages, where it was
timed), no table cuts a value at 80 columns, and PSNR ok reads n/a where no floor applies."""

from __future__ import annotations

import io
import json
import re
import statistics
from pathlib import Path

import pytest
from helpers import run_main, tiny_team, write_set
from rich.console import Console

import test_demo
from benchmark import compare
from benchmark.record.store import read_results
from benchmark.report.tables import factsheet_table


@pytest.fixture()
def tiny(tmp_path: Path):
    """A registered tiny team of 2023 and two small benchmark folders."""
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    with tiny_team(zoo) as spec:
        yield {"spec": spec, "zoo": zoo, "one": write_set(tmp_path / "One", {"a": (32, 32), "b": (32, 48)}),
               "two": write_set(tmp_path / "Two", {"c": (48, 32)}), "results": tmp_path / "R.json"}


def _demo(tiny: dict, *argv: str) -> tuple[int, str, str]:
    return run_main(test_demo.main, ["--model_id", str(tiny["spec"].team_id), "--model_zoo", str(tiny["zoo"]),
                                     "--results", str(tiny["results"]), "--no-save", "--device", "cpu", *argv])


def _wide(renderable: object) -> str:
    console = Console(width=400, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_table1_shows_this_runs_splits_and_says_what_it_averages(tiny: dict) -> None:
    assert _demo(tiny, "--dataset", str(tiny["one"]))[0] == 0
    code, out, err = _demo(tiny, "--dataset", str(tiny["two"]))
    assert code == 0, err
    assert "PSNR[Two]" in out and "PSNR[One]" not in out
    assert "not shown: One (test_demo.py --all-splits shows every recorded split)" in " ".join(out.split())
    code, out, err = _demo(tiny, "--dataset", str(tiny["two"]), "--all-splits")
    assert code == 0, err
    assert "PSNR[One]" in out and "PSNR[Two]" in out
    results = read_results(tiny["results"])
    entry = results[tiny["spec"].display_name]
    assert entry["splits"] == ["One", "Two"]  # both kept in the record: the console chose what to show
    device = entry["environment"]["device_name"]
    this_run = _wide(factsheet_table(results, ["Two"]))
    assert f"Runtime [ms, {device} (CPU, wall clock), mean of Two]" in this_run
    assert f"{statistics.fmean([entry['Two_ave_runtime']]):.2f}" in this_run
    both = _wide(factsheet_table(results))
    assert f"Runtime [ms, {device} (CPU, wall clock), mean of One, Two]" in both
    assert f"{statistics.fmean([entry['One_ave_runtime'], entry['Two_ave_runtime']]):.2f}" in both


@pytest.mark.parametrize("width", [80, 100])
def test_the_team_list_folds_and_never_cuts(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                           width: int) -> None:
    monkeypatch.setattr(test_demo, "console", Console(width=width, file=None))
    code = test_demo.main(["--list"])
    out = capsys.readouterr().out
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= width
    cells = re.sub(r"\s*│\s*", "", "".join(line for line in out.splitlines() if "│" in line))
    for spec in test_demo.models.list_models():
        assert spec.display_name in out  # names never fold at these widths
        assert spec.url in cells  # urls fold over lines, whole once joined


def test_psnr_ok_is_n_a_where_no_floor_applies(tiny: dict, tmp_path: Path) -> None:
    assert _demo(tiny, "--dataset", str(tiny["one"]))[0] == 0
    code, out, err = run_main(compare.main, ["--results", str(tiny["results"]), "--out", str(tmp_path / "cmp"),
                                             "--baseline", tiny["spec"].display_name])
    assert code == 0, err
    view = (tmp_path / "cmp" / "leaderboard.md").read_text()
    header = next(line for line in view.splitlines() if line.startswith("| Team"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    row = next(line for line in view.splitlines() if line.startswith(f"| {tiny['spec'].display_name}"))
    cells = dict(zip(columns, (c.strip() for c in row.strip("|").split("|"))))
    assert cells["PSNR ok"] == "n/a"
    assert "One: not an official split, so no PSNR floor applies" in " ".join(out.split())
    runtime = next(c for c in columns if c.startswith("Runtime"))
    device = json.loads(tiny["results"].read_text())[tiny["spec"].display_name]["environment"]["device_name"]
    assert runtime == f"Runtime [ms, {device}]"
    assert f"Mem [MiB, {device}]" in columns


def test_one_pair_beside_the_baseline_is_a_point_with_a_warning(tmp_path: Path) -> None:
    """``--vs-baseline`` on one image and one run: the ratio, score and rank are points, no "[a–b] … 95% interval"
    and no rank range, and a warning says 1 pair was timed where the year's protocol times 5 runs × 1 image."""
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    with tiny_team(zoo, year=2026) as spec:
        data = write_set(tmp_path / "One", {"a": (32, 32)})
        code, out, err = run_main(test_demo.main, [
            "--year", "2026", "--model_id", str(spec.team_id), "--model_zoo", str(zoo), "--results",
            str(tmp_path / "R.json"), "--no-save", "--device", "cpu", "--dataset", str(data), "--runs", "1",
            "--vs-baseline", "--offline"])
    assert code == 0, err
    text = " ".join(out.split())
    name = spec.display_name
    assert re.search(rf"{name} on One: ×[\d.]+ the runtime of 00_SPAN timed beside it \([\d.]+ ms; 1 run × 1 image, "
                     r"A B B A; no interval from 1 pair\)", text), text
    assert re.search(rf"warning: {name} on One: the ratio to the baseline, ×[\d.]+, has no interval: 1 pair \(1 run × "
                     r"1 image\), fewer than the 10 a 95% interval needs; the year's protocol gives 5 pairs \(5 runs × "
                     r"1 image\); time it with --runs 10 or on more images", text), text
    assert "warning: point figures, no interval and no rank range: 1 pair (1 run × 1 image)" in text
    assert "95% interval)" not in text and "(no CI: 1 pair)" in text
    entry = read_results(tmp_path / "R.json")[name]
    assert entry["One_baseline_ratio_ci95"] is None and entry["predicted_score_ci95"] is None
    assert entry["predicted_rank"]["best"] is None and entry["One_baseline"]["protocol_runs"] == 5
