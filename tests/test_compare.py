"""benchmark.compare: the published 2023 ranks, the 2024/2025 scores, the exports and the plots."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from benchmark.compare import main, results_table
from benchmark.scoring import RANK_2023_COLUMNS

from conftest import SHARED

TABLE_2023 = SHARED / "reference" / "ntire2023_esr_results.tsv"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _entry(runtime: float, psnr: tuple[float, float] | None, params: float, flops: float, fvcore: float,
           splits: tuple[str, ...] = ("valid", "test")) -> dict:
    """A results entry as test_demo.py writes it, with only the keys the comparison reads."""
    entry = {"num_parameters": params, "flops": flops, "activations": 10 * params, "num_conv": 20,
             "complexity": {"fvcore_flops": int(fvcore * 1e9)}, "checkpoint": "x.pth",
             "environment": {"device": "cuda:0", "device_name": "Test GPU"}}
    for i, split in enumerate(splits):
        entry.update({f"{split}_ave_runtime": runtime + 2 * i, f"{split}_memory": 100.0 + 10 * i,
                      f"{split}_images": ["img"]})
        if psnr is not None:
            entry[f"{split}_ave_psnr"] = psnr[i]
    return entry


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    """RLFN (the baseline), a faster and smaller model, and one below the 2024 validation floor."""
    path = tmp_path / "R.json"
    path.write_text(json.dumps({
        "RLFN": _entry(14.0, (26.96, 27.07), 0.317, 19.67, 19.60),
        "fast": _entry(7.0, (26.95, 27.00), 0.150, 10.00, 9.50),
        "blurry": _entry(5.0, (26.80, 27.10), 0.100, 5.00, 4.90),
    }))
    return path


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_published_2023_table_ranks_reproduced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not TABLE_2023.is_file():
        pytest.skip(f"published NTIRE 2023 results table not available at {TABLE_2023}")
    code, out, err = _run(tmp_path, capsys, "--table", str(TABLE_2023), "--scoring", "ntire2023")
    assert code == 0, err
    published = pd.read_csv(TABLE_2023, sep="\t")
    written = pd.read_csv(tmp_path / "out" / "leaderboard.csv")
    assert "team" in written.columns and set(RANK_2023_COLUMNS) <= set(written.columns)
    merged = published.merge(written, on="team", suffixes=("_published", ""), validate="one_to_one")
    assert len(merged) == len(published) == 32
    for col in RANK_2023_COLUMNS:
        assert (merged[f"{col}_published"] == merged[col]).all(), col
    assert "every published rank" in out and "reproduced (9 rank columns × 32 teams)" in out


@pytest.mark.parametrize("year", ["ntire2024", "ntire2025"])
def test_exp_score_years_score_the_baseline_e_squared(tmp_path: Path, capsys: pytest.CaptureFixture[str], results: Path,
                                                      year: str) -> None:
    code, out, err = _run(tmp_path, capsys, "--results", str(results), "--baseline", "RLFN", "--scoring", year)
    assert code == 0, err
    board = pd.read_csv(tmp_path / "out" / "leaderboard.csv").set_index("team")
    assert board.loc["RLFN", "score"] == pytest.approx(math.exp(2), rel=1e-12)
    ratios = ["ave_ratio", "params_ratio", "flops_ratio", "acts_ratio", "mem_ratio", "conv_ratio"]
    assert board.loc["RLFN", ratios].tolist() == [1.0] * 6
    assert board.loc["fast", "ave"] == 8.0 and board.loc["fast", "ave_ratio"] == pytest.approx(8 / 15)
    assert board.loc["fast", "flops"] == pytest.approx(9.5)  # fvcore's figure: the 2024/2025 organizers' counter
    assert board.loc["fast", "val_psnr_diff"] == pytest.approx(-0.01)
    assert board.loc["fast", "rank"] == 1 and board.loc["RLFN", "rank"] == 2
    assert not board.loc["blurry", "psnr_ok"] and pd.isna(board.loc["blurry", "rank"])  # 26.80 < 26.90: not ranked
    assert "val_psnr ≥ 26.90 dB, test_psnr ≥ 26.99 dB" in out


def test_results_mapped_to_the_published_columns() -> None:
    official = _entry(10.0, (29.0, 27.0), 0.2, 12.0, 11.0)
    table = results_table({"a": official}, "ntire2023").iloc[0]
    assert (table["ave"], table["val_t"], table["test_t"]) == (11.0, 10.0, 12.0)  # official: (valid + test) / 2
    assert (table["val_psnr"], table["test_psnr"], table["mem"], table["flops"]) == (29.0, 27.0, 110.0, 12.0)
    hybrid = results_table({"h": _entry(20.0, (28.0,), 0.3, 15.0, 14.0, ("hybrid_test",))}, "ntire2024").iloc[0]
    assert (hybrid["test_t"], hybrid["test_psnr"], hybrid["flops"]) == (20.0, 28.0, 14.0)


def test_a_split_that_is_not_official_has_no_floor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "R.json"
    path.write_text(json.dumps({"base": _entry(20.0, (30.0,), 0.4, 27.0, 27.0, ("Set5",)),
                                "other": _entry(10.0, (20.0,), 0.2, 15.0, 17.0, ("Set5",))}))
    code, out, err = _run(tmp_path, capsys, "--results", str(path), "--baseline", "base", "--scoring", "ntire2024")
    assert code == 0, err
    assert "Set5: not an official split, so no PSNR floor applies" in out
    board = pd.read_csv(tmp_path / "out" / "leaderboard.csv")
    assert list(board["team"]) == ["other", "base"] and list(board["rank"]) == [1, 2]
    assert "Set5_psnr" in board.columns and "val_psnr" not in board.columns


def test_table_with_results_appended(tmp_path: Path, capsys: pytest.CaptureFixture[str], results: Path) -> None:
    if not TABLE_2023.is_file():
        pytest.skip(f"published NTIRE 2023 results table not available at {TABLE_2023}")
    code, out, err = _run(tmp_path, capsys, "--table", str(TABLE_2023), "--results", str(results), "--scoring",
                          "ntire2023", "--baseline", "RLFN")
    assert code == 0, err
    board = pd.read_csv(tmp_path / "out" / "leaderboard.csv").set_index("team")
    assert len(board) == 35 and sorted(board["ave_r"]) == list(range(1, 36))
    assert board.loc["blurry", "ave_r"] == 1  # 5.5 ms beats MegSR's 18.30 ms
    assert board.loc["MegSR", "ave_ratio"] == pytest.approx(18.30 / 15.0)


def test_exports_hold_the_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str], results: Path) -> None:
    code, _, err = _run(tmp_path, capsys, "--results", str(results), "--baseline", "RLFN", "--scoring", "ntire2024",
                        "--factsheet", "fast")
    assert code == 0, err
    out = tmp_path / "out"
    markdown = (out / "leaderboard.md").read_text()
    assert "| fast " in markdown and "8.00 (×0.53)" in markdown and "7.3891" in markdown
    assert "- PSNR floors of ntire2024 checked" in markdown
    latex = (out / "leaderboard.tex").read_text()
    assert r"\begin{tabular}" in latex and r"8.00 ($\times$0.53)" in latex and "×" not in latex
    table1 = (out / "table1_fast.tex").read_text()
    header = ("PSNR[val] & PSNR[test] & Params[M] & FLOPs[G] & GPU Mem.[M] & Activation[M] & Average Runtime[ms] "
              "& Conv2d")
    assert header in table1
    assert "26.95 & 27.00 & 0.1500 & 9.500 & 110.00 & 1.500 & 8.00 & 20" in table1
    assert table1.count(r"\hline") == 3 and r"\begin{tabular}{|c|c|c|c|c|c|c|c|}" in table1
    assert r"\caption{fast: FLOPs (fvcore)" in table1


def _assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        assert img.width > 200 and img.height > 200


def test_plots_written(tmp_path: Path, capsys: pytest.CaptureFixture[str], results: Path) -> None:
    rng = np.random.default_rng(0)
    hr = cv2.GaussianBlur(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), (5, 5), 0)
    data = tmp_path / "tiny"
    (data / "HR").mkdir(parents=True)
    (data / "LR_bicubic" / "X4").mkdir(parents=True)
    cv2.imwrite(str(data / "HR" / "img.png"), hr)
    cv2.imwrite(str(data / "LR_bicubic" / "X4" / "imgx4.png"), cv2.resize(hr, (16, 12), interpolation=cv2.INTER_AREA))
    entries = json.loads(results.read_text())
    for name in entries:
        (tmp_path / "S" / name / "valid").mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "S" / name / "valid" / "img.png"), cv2.GaussianBlur(hr, (3, 3), 0))
    code, _, err = _run(tmp_path, capsys, "--results", str(results), "--baseline", "RLFN", "--scoring", "ntire2024",
                        "--visual", "img", "--save_dir", str(tmp_path / "S"), "--data", str(data))
    assert code == 2 and "--visual img: in splits valid, test; choose one with --split" in err
    code, _, err = _run(tmp_path, capsys, "--results", str(results), "--baseline", "RLFN", "--scoring", "ntire2024",
                        "--visual", "img", "--save_dir", str(tmp_path / "S"), "--data", str(data), "--split", "valid")
    assert code == 0, err
    for name in ("psnr_vs_runtime.png", "psnr_vs_flops.png", "visual_img.png"):
        _assert_png(tmp_path / "out" / name)
    code, _, err = _run(tmp_path, capsys, "--results", str(results), "--baseline", "RLFN", "--scoring", "ntire2024",
                        "--visual", "img", "--save_dir", str(tmp_path / "S"), "--data", str(data), "--split", "valid",
                        "--crop", "40,0,32")
    assert code == 2 and "--crop 40,0,32: outside the 64×48 HR" in err


@pytest.mark.parametrize("argv, message", [
    (["--scoring", "ntire2024"], "pass --baseline NAME (the ntire2024 baseline was RLFN)"),
    (["--scoring", "ntire2024", "--baseline", "EFDN"], "--baseline EFDN: no such model or team (found: RLFN, fast"),
    (["--scoring", "ntire2023", "--factsheet", "nope"], "--factsheet nope: no such model in --results"),
    (["--scoring", "ntire2023", "--visual", "img"], "--visual needs --results, --save_dir"),
])
def test_user_mistakes_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], results: Path,
                                            argv: list[str], message: str) -> None:
    code, _, err = _run(tmp_path, capsys, "--results", str(results), *argv)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert message in err


def test_models_timed_on_different_splits_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "R.json"
    path.write_text(json.dumps({"a": _entry(10.0, (29.0, 27.0), 0.2, 12.0, 11.0),
                                "b": _entry(10.0, (29.0,), 0.2, 12.0, 11.0, ("valid",))}))
    code, _, err = _run(tmp_path, capsys, "--results", str(path), "--scoring", "ntire2023")
    assert code == 2 and "model b has no test run in the results file while others have" in err
