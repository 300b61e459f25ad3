"""benchmark.compare: the published 2023 ranks, the exp-score years (the organizers' 2024 and 2026 files
included), sub-tracks, PSNR rounding, name cleaning, FLOPs counters, the exports and the plots."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from helpers import SHARED, shared_file
from PIL import Image
from rich.console import Console

from benchmark import compare
from benchmark.compare import main
from benchmark.core.errors import HarnessError
from benchmark.core.files import MARKER
from benchmark.rank.board import clean_name, clean_names, leaderboard, load_table, results_table
from benchmark.rank.scoring import RANK_SUM_COLUMNS
from benchmark.record.checks import check_table
from benchmark.record.store import read_results
from benchmark.report.leaderboard import _console_header, _leaderboard_view, leaderboard_table

TABLE_2023 = SHARED / "reference" / "ntire2023_esr_results.tsv"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _entry(runtime: float, psnr: tuple[float, float] | None, params: float, flops: float, fvcore: float,
           splits: tuple[str, ...] = ("valid", "test")) -> dict:
    """A results entry as test_demo.py writes it, with only the keys the comparison reads."""
    entry = {"num_parameters": params, "flops": flops, "activations": 10 * params, "num_conv": 20,
             "complexity": {"flops": round(flops * 1e9), "fvcore_flops": round(fvcore * 1e9)}, "checkpoint": "x.pth",
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
    shared_file("reference", "ntire2023_esr_results.tsv")
    code, out, err = _run(tmp_path, capsys, "--table", str(TABLE_2023), "--year", "2023")
    assert code == 0, err
    published = pd.read_csv(TABLE_2023, sep="\t")
    written = pd.read_csv(tmp_path / "out" / "leaderboard.csv")
    assert "team" in written.columns and set(RANK_SUM_COLUMNS) <= set(written.columns)
    merged = published.merge(written, on="team", suffixes=("_published", ""), validate="one_to_one")
    assert len(merged) == len(published) == 32
    for col in RANK_SUM_COLUMNS:
        assert (merged[f"{col}_published"] == merged[col]).all(), col
    assert "every published rank" in out and "reproduced (9 rank columns × 32 teams)" in out


@pytest.mark.parametrize("year", ["2024", "2025", "2026"])
def test_exp_score_years_score_the_baseline_e_squared(tmp_path: Path, capsys: pytest.CaptureFixture[str], results: Path,
                                                      year: str) -> None:
    code, out, err = _run(tmp_path, capsys, "--results", str(results), "--baseline", "RLFN", "--year", year)
    assert code == 0, err
    board = pd.read_csv(tmp_path / "out" / "leaderboard.csv").set_index("team")
    assert board.loc["RLFN", "score"] == pytest.approx(math.exp(2), rel=1e-12)
    ratios = ["ave_ratio", "params_ratio", "flops_ratio", "acts_ratio", "mem_ratio", "conv_ratio"]
    assert board.loc["RLFN", ratios].tolist() == [1.0] * 6
    assert board.loc["fast", "ave"] == 8.0 and board.loc["fast", "ave_ratio"] == pytest.approx(8 / 15)
    assert board.loc["fast", "flops"] == pytest.approx(9.5)  # fvcore's figure: the organizers' counter from 2024
    assert board.loc["fast", "val_psnr_diff"] == pytest.approx(-0.01)
    assert board.loc["fast", "rank"] == 1 and board.loc["RLFN", "rank"] == 2
    assert not board.loc["blurry", "psnr_ok"] and pd.isna(board.loc["blurry", "rank"])  # 26.80 < 26.90: not ranked
    assert "val_psnr ≥ 26.90 dB, test_psnr ≥ 26.99 dB" in out


def test_results_mapped_to_the_published_columns() -> None:
    official = _entry(10.0, (29.0, 27.0), 0.2, 12.0, 11.0)
    table = results_table({"a": official}, 2023).iloc[0]
    assert (table["ave"], table["val_t"], table["test_t"]) == (11.0, 10.0, 12.0)  # official: (valid + test) / 2
    assert (table["val_psnr"], table["test_psnr"], table["mem"], table["flops"]) == (29.0, 27.0, 110.0, 12.0)
    hybrid = results_table({"h": _entry(20.0, (28.0,), 0.3, 15.0, 14.0, ("hybrid_test",))}, 2024).iloc[0]
    assert (hybrid["test_t"], hybrid["test_psnr"], hybrid["flops"]) == (20.0, 28.0, 14.0)


def test_a_split_that_is_not_official_has_no_floor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "R.json"
    path.write_text(json.dumps({"base": _entry(20.0, (30.0,), 0.4, 27.0, 27.0, ("Set5",)),
                                "other": _entry(10.0, (20.0,), 0.2, 15.0, 17.0, ("Set5",))}))
    code, out, err = _run(tmp_path, capsys, "--results", str(path), "--baseline", "base", "--year", "2024")
    assert code == 0, err
    assert "Set5: not an official split, so no PSNR floor applies" in out
    board = pd.read_csv(tmp_path / "out" / "leaderboard.csv")
    assert list(board["team"]) == ["other", "base"] and list(board["rank"]) == [1, 2]
    assert "Set5_psnr" in board.columns and "val_psnr" not in board.columns


def test_table_with_results_appended(tmp_path: Path, capsys: pytest.CaptureFixture[str], results: Path) -> None:
    shared_file("reference", "ntire2023_esr_results.tsv")
    code, _, err = _run(tmp_path, capsys, "--table", str(TABLE_2023), "--results", str(results), "--year", "2023",
                          "--baseline", "RLFN")
    assert code == 0, err
    board = pd.read_csv(tmp_path / "out" / "leaderboard.csv").set_index("team")
    assert len(board) == 35 and sorted(board["ave_r"]) == list(range(1, 36))
    assert board.loc["blurry", "ave_r"] == 1  # 5.5 ms beats MegSR's 18.30 ms
    assert board.loc["MegSR", "ave_ratio"] == pytest.approx(18.30 / 15.0)


def test_exports_hold_the_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str], results: Path) -> None:
    code, _, err = _run(tmp_path, capsys, "--results", str(results), "--baseline", "RLFN", "--year", "2024",
                        "--factsheet", "fast")
    assert code == 0, err
    out = tmp_path / "out"
    markdown = (out / "leaderboard.md").read_text()
    assert "| fast " in markdown and "8.00 (×0.53)" in markdown and "7.3891" in markdown
    assert "- PSNR floors of NTIRE 2024 checked on the raw PSNR" in markdown
    header = [cell.strip() for cell in markdown.splitlines()[2].strip("|").split("|")]
    assert "FLOPs [G, fvcore]" in header and "PSNR ok rounded only" in header
    assert header[-3:] == ["Runtime rank", "FLOPs rank", "Params rank"]
    latex = (out / "leaderboard.tex").read_text()
    assert r"\begin{tabular}" in latex and r"8.00 ($\times$0.53)" in latex and "×" not in latex
    assert "FLOPs [G, fvcore]" in latex
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


def test_plots_written(tmp_path: Path, capsys: pytest.CaptureFixture[str], results: Path, visual: dict) -> None:
    data = visual["data"]
    code, _, err = _run(tmp_path, capsys, "--results", str(results), "--baseline", "RLFN", "--year", "2024",
                        "--visual", "img", "--save_dir", str(tmp_path / "S"), "--data", str(data))
    assert code == 2 and "--visual img: in splits valid, test; choose one with --split" in err
    code, _, err = _run(tmp_path, capsys, "--results", str(results), "--baseline", "RLFN", "--year", "2024",
                        "--visual", "img", "--save_dir", str(tmp_path / "S"), "--data", str(data), "--split", "valid")
    assert code == 0, err
    for name in ("psnr_vs_runtime.png", "psnr_vs_flops.png", "visual_img.png"):
        _assert_png(tmp_path / "out" / name)
    code, _, err = _run(tmp_path, capsys, "--results", str(results), "--baseline", "RLFN", "--year", "2024",
                        "--visual", "img", "--save_dir", str(tmp_path / "S"), "--data", str(data), "--split", "valid",
                        "--crop", "40,0,32")
    assert code == 2 and "--crop 40,0,32: outside the 64×48 HR" in err


@pytest.mark.parametrize("argv, message", [
    (["--year", "2099"], "error: unknown challenge year 2099; known years: 2023, 2024, 2025, 2026\n"),
    (["--year", "2024"], "the 2024 baseline 00_RLFN_baseline is not in "),
    (["--year", "2024", "--baseline", "EFDN"], "--baseline EFDN: no such model or team (found: RLFN, fast"),
    (["--year", "2023", "--factsheet", "nope"], "--factsheet nope: no such model in --results"),
    (["--year", "2023", "--visual", "img"], "--visual needs --results, --save_dir"),
])
def test_user_mistakes_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], results: Path,
                                            argv: list[str], message: str) -> None:
    code, _, err = _run(tmp_path, capsys, "--results", str(results), *argv)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert message in err


def test_missing_baseline_names_the_year_baseline_and_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               results: Path) -> None:
    code, _, err = _run(tmp_path, capsys, "--results", str(results), "--year", "2026")
    assert code == 2
    assert err == (f"error: the 2026 baseline 00_SPAN is not in {results}; add its results (team 00 of 2026) or pass "
                   "--baseline NAME\n")


def test_scoring_option_is_gone(tmp_path: Path, capsys: pytest.CaptureFixture[str], results: Path) -> None:
    code = main(["--results", str(results), "--baseline", "RLFN", "--year", "2024", "--scoring", "ntire2024",
                 "--out", str(tmp_path / "out")])
    assert code == 2 and "unrecognized arguments: --scoring ntire2024" in capsys.readouterr().err


def test_the_year_comes_from_the_records_when_they_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        results: Path) -> None:
    entries = json.loads(results.read_text())
    for entry in entries.values():
        entry["year"] = 2024
    results.write_text(json.dumps(entries))
    code, out, err = _run(tmp_path, capsys, "--results", str(results), "--baseline", "RLFN")
    assert code == 0, err
    assert "NTIRE 2024 rules because its records were measured under the NTIRE 2024 rules (--year overrides)" in out
    assert "Score" in out  # 2024 scores every model against the baseline
    entries["fast"]["year"] = 2026
    results.write_text(json.dumps(entries))
    code, _, err = _run(tmp_path, capsys, "--results", str(results), "--baseline", "RLFN")
    assert code == 2
    assert err == "error: which year's rules? the records name 2024, 2026; pass --year YEAR (one of 2023, 2024, " \
                  "2025, 2026)\n"


def test_an_organizers_file_is_of_the_year_whose_baseline_it_holds(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(tmp_path, capsys, "--results", str(shared_file("reference", "official",
                                                                         "ntire2026_results.json")))
    assert code == 0, err
    assert "NTIRE 2026 rules because it holds the NTIRE 2026 baseline 00_SPAN (--year overrides)" in out


def test_models_timed_on_different_splits_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "R.json"
    path.write_text(json.dumps({"a": _entry(10.0, (29.0, 27.0), 0.2, 12.0, 11.0),
                                "b": _entry(10.0, (29.0,), 0.2, 12.0, 11.0, ("valid",))}))
    code, _, err = _run(tmp_path, capsys, "--results", str(path), "--year", "2023")
    assert code == 2 and "model b has no test run in the results file while others have" in err


# --- the organizers' results files, as published ----------------------------------------------------


def _ranks(ranks: pd.Series) -> dict[str, int | None]:
    """team → rank, None where the model is not ranked (NA, an empty cell in leaderboard.csv)."""
    return {team: None if pd.isna(rank) else int(rank) for team, rank in ranks.items()}


# The 2026 ranking worked out by hand from the raw values of ntire2026_results.json and RULES.md (plain
# Python, not this harness): ave = (valid_ave_runtime + test_ave_runtime) / 2; Score_X = exp(2 X / X_SPAN)
# for ave, flops (as published, fvcore), num_parameters; score = 0.8 Score_runtime + 0.1 Score_flops +
# 0.1 Score_params; floors valid ≥ 26.90, test ≥ 26.99 dB, on the raw mean or on format(psnr, ".2f").
#
#   team (cleaned)               ave [ms]    score               valid PSNR → .2f     test PSNR → .2f
#   22_SPANV2_ESR_C2              5.24147    3.873283031662049   26.918728 → 26.92    27.003516 → 27.00
#   01_PDS                        6.70035    5.83519715332204    26.896448 → 26.90    26.993600 → 26.99  rounded only
#   16_PKDSR_FINAL_CKPT           6.79849    5.989983249869649   26.908662 → 26.91    26.998381 → 27.00
#   18_DISP                       6.51217    6.066888152692062   26.901709 → 26.90    27.015727 → 27.02
#   15_DSCF_Fused                 7.88082    7.200658511954577   26.921331 → 26.92    26.985641 → 26.99  rounded only
#   00_SPAN                       7.73640    7.38905609893065    26.940388 → 26.94    27.012206 → 27.01
#   20_ERRN2                      9.37256    14.262965245474613  26.900914 → 26.90    27.007830 → 27.01
#   09_RFDN_SPAN                 16.66009    79.17634353588986   26.912533 → 26.91    26.982053 → 26.98  fails both
#   17_AMCANet                   18.25874    90.35942267404964   26.897179 → 26.90    27.017596 → 27.02  rounded only
#   10_HFENet                    33.63885    4785.668862826447   26.918958 → 26.92    27.027774 → 27.03
#   04_ZenoSR                    45.46066    101647.89161627658  26.897060 → 26.90    27.006071 → 27.01  rounded only
#   05_SPANMamba_single_1_4T05   38.52759    254331.12796375944  26.902246 → 26.90    27.004362 → 27.00
#   11_VSCINet                   50.78623    402730.5503162323   26.896725 → 26.90    27.027901 → 27.03  rounded only
#   06_HAESR                     86.08407    3698373350.8904634  27.076204 → 27.08    27.222649 → 27.22
#   12_DWMamba                  106.48965    722781173465.0295   26.936981 → 26.94    27.064562 → 27.06
#   21_SAFMN                    129.69545    291335517497950.6   26.802364 → 26.80    26.914250 → 26.91  fails both
#
# Sub-tracks (SPAN: 7.73640 ms, 9.833807872 G, 0.150688 M; the other two figures ≤ SPAN's, floors passed):
#   runtime (FLOPs ≤ 9.8338 G and params ≤ 0.150688 M): 22_SPANV2, 01_PDS, 16_PKDSR, 15_DSCF, 00_SPAN,
#     17_AMCANet, 10_HFENet, 04_ZenoSR, 11_VSCINet (18_DISP 10.69 G, 20_ERRN2, 09, 05, 06, 12 exceed);
#     by Score_runtime, i.e. by runtime: 22 (5.24) < 01 (6.70) < 16 (6.80) < 00 (7.74) < 15 (7.88) < 17 (18.26)
#     < 10 (33.64) < 04 (45.46) < 11 (50.79)
#   FLOPs (runtime ≤ 7.7364 ms and params ≤ SPAN's): 22, 01, 16, 00 (15_DSCF 7.88 ms and 18_DISP 0.164 M exceed);
#     by FLOPs: 22 (1.59) < 01 (9.25) < 16 (9.40) < 00 (9.83)
#   params (runtime ≤ SPAN's and FLOPs ≤ SPAN's): 22, 01, 16, 00 (18_DISP: 10.69 G); by params:
#     22 (0.1391) < 01 (0.1417) < 16 (0.1439) < 00 (0.1507)
# Only models that pass the floors take part: 01_PDS, 15_DSCF, 17_AMCANet, 04_ZenoSR, 11_VSCINet only rounded.
ORDER_2026 = ["22_SPANV2_ESR_C2", "01_PDS", "16_PKDSR_FINAL_CKPT", "18_DISP", "15_DSCF_Fused", "00_SPAN", "20_ERRN2",
              "09_RFDN_SPAN", "17_AMCANet", "10_HFENet", "04_ZenoSR", "05_SPANMamba_single_1_4T05", "11_VSCINet",
              "06_HAESR", "12_DWMamba", "21_SAFMN"]
SCORES_2026 = [3.873283031662049, 5.83519715332204, 5.989983249869649, 6.066888152692062, 7.200658511954577,
               7.38905609893065, 14.262965245474613, 79.17634353588986, 90.35942267404964, 4785.668862826447,
               101647.89161627658, 254331.12796375944, 402730.5503162323, 3698373350.8904634, 722781173465.0295,
               291335517497950.6]
ROUNDED_ONLY_2026 = {"01_PDS", "15_DSCF_Fused", "17_AMCANet", "04_ZenoSR", "11_VSCINet"}
#                      rank  runtime  FLOPs  params     (raw PSNR)
RAW_2026 = {
    "22_SPANV2_ESR_C2":    (1,    1,    1,    1),
    "01_PDS":              (None, None, None, None),
    "16_PKDSR_FINAL_CKPT": (2,    2,    2,    2),
    "18_DISP":             (3,    None, None, None),
    "15_DSCF_Fused":       (None, None, None, None),
    "00_SPAN":             (4,    3,    3,    3),
    "20_ERRN2":            (5,    None, None, None),
    "09_RFDN_SPAN":        (None, None, None, None),
    "17_AMCANet":          (None, None, None, None),
    "10_HFENet":           (6,    4,    None, None),
    "04_ZenoSR":           (None, None, None, None),
    "05_SPANMamba_single_1_4T05": (7, None, None, None),
    "11_VSCINet":          (None, None, None, None),
    "06_HAESR":            (8,    None, None, None),
    "12_DWMamba":          (9,    None, None, None),
    "21_SAFMN":            (None, None, None, None),
}
#                      rank  runtime  FLOPs  params     (--psnr-rounded)
ROUNDED_2026 = {
    "22_SPANV2_ESR_C2":    (1,    1,    1,    1),
    "01_PDS":              (2,    2,    2,    2),
    "16_PKDSR_FINAL_CKPT": (3,    3,    3,    3),
    "18_DISP":             (4,    None, None, None),
    "15_DSCF_Fused":       (5,    5,    None, None),
    "00_SPAN":             (6,    4,    4,    4),
    "20_ERRN2":            (7,    None, None, None),
    "09_RFDN_SPAN":        (None, None, None, None),
    "17_AMCANet":          (8,    6,    None, None),
    "10_HFENet":           (9,    7,    None, None),
    "04_ZenoSR":           (10,   8,    None, None),
    "05_SPANMamba_single_1_4T05": (11, None, None, None),
    "11_VSCINet":          (12,   9,    None, None),
    "06_HAESR":            (13,   None, None, None),
    "12_DWMamba":          (14,   None, None, None),
    "21_SAFMN":            (None, None, None, None),
}


@pytest.mark.parametrize("rounded, expected", [(False, RAW_2026), (True, ROUNDED_2026)], ids=["raw", "rounded"])
def test_official_2026_ranking(tmp_path: Path, capsys: pytest.CaptureFixture[str], rounded: bool,
                               expected: dict[str, tuple[int | None, ...]]) -> None:
    path = shared_file("reference", "official", "ntire2026_results.json")
    code, out, err = _run(tmp_path, capsys, "--results", str(path), "--year", "2026",
                          *(["--psnr-rounded"] if rounded else []))
    assert code == 0, err
    board = pd.read_csv(tmp_path / "out" / "leaderboard.csv")
    assert board["team"].tolist() == ORDER_2026
    assert board["score"].tolist() == pytest.approx(SCORES_2026, rel=1e-12)
    board = board.set_index("team")
    assert abs(board.loc["00_SPAN", "score"] - 7.3890560989306495) < 1e-12  # e²: the baseline against itself
    assert board.loc["00_SPAN", ["score_runtime", "score_flops", "score_params"]].tolist() == pytest.approx(
        [math.exp(2)] * 3, abs=1e-12)
    for i, column in enumerate(("rank", "runtime_rank", "flops_rank", "params_rank")):
        assert _ranks(board[column]) == {team: ranks[i] for team, ranks in expected.items()}, column
    assert set(board.index[board["psnr_ok_rounded_only"]]) == ROUNDED_ONLY_2026
    assert set(board.index[board["psnr_ok"]]) == {team for team, ranks in expected.items() if ranks[0] is not None}
    assert board.loc["00_SPAN", "ave"] == pytest.approx((8.00402544260025 + 7.468770685791969) / 2, rel=1e-15)
    assert board.loc["09_RFDN_SPAN", "flops"] == 22.600876032  # as published (fvcore, the 2026 counter)
    assert ("names cleaned as the organizers' tables print them: '009_RFDN_SPAN' → '09_RFDN_SPAN', "
            "'         11_VSCINet' → '11_VSCINet'") in " ".join(out.split("\n"))
    reading = "the PSNR printed to 2 decimals" if rounded else "the raw PSNR"
    assert f"PSNR floors of NTIRE 2026 checked on {reading}" in out
    assert "01_PDS, 15_DSCF_Fused, 17_AMCANet, 04_ZenoSR, 11_VSCINet" in out
    markdown = (tmp_path / "out" / "leaderboard.md").read_text()
    assert f"- FLOPs of every model of {path}: as published in the file" in markdown
    assert "- names cleaned as the organizers' tables print them: '009_RFDN_SPAN' → '09_RFDN_SPAN'" in markdown
    assert "FLOPs [G, fvcore]" in (tmp_path / "out" / "leaderboard.tex").read_text()


def test_official_2024_baseline_scores_e_squared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(tmp_path, capsys, "--results", str(shared_file("reference", "official", "ntire2024_results.json")), "--year", "2024")
    assert code == 0, err
    board = pd.read_csv(tmp_path / "out" / "leaderboard.csv").set_index("team")
    assert list(board.index) == ["00_RLFN_baseline"]
    assert abs(board.loc["00_RLFN_baseline", "score"] - 7.3890560989306495) < 1e-12
    # (14.942999551296234 + 9.486487839221954) / 2, the published table's 12.21 ms
    assert board.loc["00_RLFN_baseline", "ave"] == pytest.approx(12.214743695259095, rel=1e-15)
    assert board.loc["00_RLFN_baseline", ["rank", "runtime_rank", "flops_rank", "params_rank"]].tolist() == [1] * 4
    assert "baseline 00_RLFN_baseline" in out


def test_official_2026_factsheet_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(tmp_path, capsys, "--results", str(shared_file("reference", "official", "ntire2026_results.json")), "--year", "2026",
                        "--factsheet", "009_RFDN_SPAN")
    assert code == 0, err
    table1 = (tmp_path / "out" / "table1_09_RFDN_SPAN.tex").read_text()
    # valid/test PSNR 26.91/26.98, 0.346152 M, 22.600876032 G as published, max memory 1138.43, 84.54414 M acts,
    # (17.359219675064086 + 15.960957615375518) / 2 = 16.66 ms, 36 convolutions
    assert "26.91 & 26.98 & 0.3462 & 22.601 & 1138.43 & 84.541 & 16.66 & 36" in table1
    assert r"\caption{09\_RFDN\_SPAN: FLOPs (fvcore, as published)" in table1
    for name in ("psnr_vs_runtime.png", "psnr_vs_flops.png"):
        _assert_png(tmp_path / "out" / name)


def _console_tables(out: str) -> list[dict[str, list[str]]]:
    """Each table printed in ``out`` as {header: the column's body pieces, top to bottom, stripped}; the header is its
    pieces joined by spaces, as it reads."""
    lines, tables = out.splitlines(), []
    for top in (i for i, line in enumerate(lines) if line.startswith("┏")):
        rule = next(i for i in range(top, len(lines)) if lines[i].startswith("┡"))
        bottom = next(i for i in range(rule, len(lines)) if lines[i].startswith("└"))
        heads = list(zip(*(line.strip("┃").split("┃") for line in lines[top + 1:rule])))
        body = list(zip(*(line.strip("│").split("│") for line in lines[rule + 1:bottom])))
        assert len(heads) == len(body)
        tables.append({" ".join(p.strip() for p in head if p.strip()): [p.strip() for p in column]
                       for head, column in zip(heads, body)})
    return tables


def _assert_shown_whole(out: str, board: pd.DataFrame, year: int, width: int | None) -> None:
    """Every column of the leaderboard's view is in exactly one table, under its whole header (``PSNR [val]``, never
    ``PSNR[…``), and its pieces are its cells' lines in full: a figure is never folded or cut (no ``7.3…``), only a
    team name may fold; Team leads every table; no line is wider than ``width`` (when given)."""
    assert "…" not in out
    if width is not None:
        assert max(len(line) for line in out.splitlines()) <= width
    view = _leaderboard_view(board, year)
    tables = _console_tables(out)
    assert tables
    names = "".join(view["Team"]).replace(" ", "")  # a name may fold at a space: the pieces lose that space
    for table in tables:
        assert next(iter(table)) == "Team" and "".join(table["Team"]).replace(" ", "") == names
    for column in view.columns[1:]:
        header = _console_header(column)
        holding = [table for table in tables if header in table]
        assert len(holding) == 1, f"{header!r} in {len(holding)} tables: {[list(t) for t in tables]}"
        expected = [line for cell in view[column] for line in cell.replace(" (", "\n(").split("\n") if line]
        assert [piece for piece in holding[0][header] if piece] == expected, column
    assert sum(len(table) - 1 for table in tables) == len(view.columns) - 1


def _board_2026() -> pd.DataFrame:
    results, _ = clean_names(read_results(shared_file("reference", "official", "ntire2026_results.json")))
    return leaderboard(results_table(results, 2026), 2026, "00_SPAN")


@pytest.mark.parametrize("width", [80, 100, 160, 200])
def test_console_tables_never_cut_a_cell_or_a_header(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    monkeypatch.setattr(compare, "Console", lambda **kwargs: Console(**{**kwargs, "width": width}))
    code, out, err = _run(tmp_path, capsys, "--results", str(shared_file("reference", "official", "ntire2026_results.json")), "--year", "2026")
    assert code == 0, err
    _assert_shown_whole(out, _board_2026(), 2026, width)
    assert len(_console_tables(out)) == {80: 4, 100: 2, 160: 2, 200: 1}[width]  # split into tables of whole groups
    assert "| 05_SPANMamba_single_1_4T05 " in (tmp_path / "out" / "leaderboard.md").read_text()


@pytest.mark.parametrize("width", [80, 100, 160])
def test_console_tables_of_the_2023_table_never_cut(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    shared_file("reference", "ntire2023_esr_results.tsv")
    monkeypatch.setattr(compare, "Console", lambda **kwargs: Console(**{**kwargs, "width": width}))
    code, out, err = _run(tmp_path, capsys, "--table", str(TABLE_2023), "--year", "2023")
    assert code == 0, err
    board = leaderboard(check_table(load_table(TABLE_2023), TABLE_2023), 2023)
    _assert_shown_whole(out, board, 2023, width)


def test_a_table_too_wide_for_the_console_is_printed_at_its_own_width() -> None:
    board = _board_2026()
    console = Console(width=20, file=io.StringIO(), highlight=False)
    console.print(leaderboard_table(board, "title", ["a note"], 2026), crop=False)
    out = console.file.getvalue()
    _assert_shown_whole(out, board, 2026, None)
    assert max(len(line) for line in out.splitlines()) > 20  # wider than the console, rather than cut


def test_markup_in_names_and_paths_prints_literally(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "[bold]R.json"
    path.write_text(json.dumps({"[red]x[/red]": _entry(14.0, (26.96, 27.07), 0.317, 19.67, 19.60),
                                "a[b]": _entry(7.0, (26.95, 27.00), 0.150, 10.00, 9.50),
                                "[/]": _entry(8.0, (26.95, 27.00), 0.150, 10.00, 9.50)}))
    out_dir = tmp_path / "a[b]" / "[bold]out"
    code = main(["--results", str(path), "--baseline", "[red]x[/red]", "--year", "2024", "--out", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    tables = _console_tables(out)
    assert [piece for piece in tables[0]["Team"] if piece] == ["a[b]", "[/]", "[red]x[/red]"]
    assert "baseline [red]x[/red]" in out and f"wrote {out_dir / 'leaderboard.csv'}" in out


# --- every bad input: one line, nothing written -----------------------------------------------------------------


def _refused_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """``main`` refuses: exit 2, one ``error:`` line, nothing on stdout, no --out folder; returns the line."""
    code, out, err = _run(tmp_path, capsys, *argv)
    assert code == 2 and out == "", out
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()
    return err.removeprefix("error: ").removesuffix("\n")


def _results_with(tmp_path: Path, key: str, value: object, model: str = "fast") -> Path:
    entries = {"RLFN": _entry(14.0, (26.96, 27.07), 0.317, 19.67, 19.60),
               "fast": _entry(7.0, (26.95, 27.00), 0.150, 10.00, 9.50)}
    target = entries[model]
    *parents, last = key.split(".")
    for part in parents:
        target = target[part]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    path = tmp_path / "R.json"
    path.write_text(json.dumps(entries))  # NaN and Infinity as Python's json writes and reads them
    return path


@pytest.mark.parametrize("key, value, message", [
    ("valid_ave_runtime", None, ("model fast: valid_ave_runtime is null in {R}, not a runtime in ms; correct it in the "
                                "file or re-run test_demo.py for this model")),
    ("test_ave_runtime", -3.0, "model fast: test_ave_runtime is negative (-3.0) in {R}, not a runtime in ms"),
    ("valid_ave_runtime", "7", "model fast: valid_ave_runtime is '7', not a number in {R}, not a runtime in ms"),
    ("valid_ave_psnr", math.nan, "model fast: valid_ave_psnr is NaN in {R}, not a PSNR in dB"),
    ("test_ave_psnr", math.inf, "model fast: test_ave_psnr is infinite in {R}, not a PSNR in dB"),
    ("valid_memory", True, "model fast: valid_memory is True, not a number in {R}, not a memory figure in MiB"),
    ("num_parameters", -0.1, "model fast: num_parameters is negative (-0.1) in {R}, not a parameter count in M"),
    ("flops", -math.inf, "model fast: flops is infinite in {R}, not a FLOPs figure in G"),
    ("activations", [1], "model fast: activations is [1], not a number in {R}, not an activation count in M"),
    ("num_conv", 20.5, "model fast: num_conv is 20.5 in {R}, not a whole number of convolutions"),
    ("complexity.fvcore_flops", -1, "model fast: complexity.fvcore_flops is negative (-1) in {R}, not a FLOPs count"),
    ("complexity", [1, 2], ("model fast: complexity is [1, 2] in {R}, not the object of exact counts test_demo.py "
                           "writes")),
    ("environment", "gpu", "model fast: environment is 'gpu' in {R}, not an object naming the device"),
    ("splits", ["valid", None], "model fast: splits is ['valid', None] in {R}, not a list of split names"),
    ("valid_images", "img", "model fast: valid_images is 'img' in {R}, not a list of image names"),
    ("flops_counter", "thop", "model fast: flops_counter is 'thop' in {R}, not one of hooks, fvcore"),
])
def test_bad_figures_name_the_model_and_the_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str,
                                                   value: object, message: str) -> None:
    path = _results_with(tmp_path, key, value)
    line = _refused_line(tmp_path, capsys, "--results", str(path), "--year", "2024", "--baseline", "RLFN")
    assert line.startswith(message.format(R=path)), line


def test_a_baseline_figure_of_zero_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _results_with(tmp_path, "num_parameters", 0, model="RLFN")
    assert _refused_line(tmp_path, capsys, "--results", str(path), "--year", "2024", "--baseline", "RLFN") == (
        "baseline 'RLFN' has params = 0.0; a baseline figure must be positive")


@pytest.mark.parametrize("name", ["", "   "])
def test_an_empty_model_name_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    path = tmp_path / "R.json"
    path.write_text(json.dumps({"RLFN": _entry(14.0, (26.96, 27.07), 0.317, 19.67, 19.60),
                                name: _entry(7.0, (26.95, 27.00), 0.150, 10.00, 9.50)}))
    assert _refused_line(tmp_path, capsys, "--results", str(path), "--year", "2023") == (
        f"a model of the results file has an empty name ({name!r}); name it in the file")


def test_an_entry_that_is_not_an_object_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "R.json"
    path.write_text(json.dumps({"RLFN": _entry(14.0, (26.96, 27.07), 0.317, 19.67, 19.60), "fast": None}))
    assert _refused_line(tmp_path, capsys, "--results", str(path), "--year", "2023") == (
        f"{path}: entry 'fast' is null, not an object of figures; remove it from the file or re-run test_demo.py "
        "for it")


def _tsv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "t.tsv"
    path.write_text("team\tave\tval_psnr\ttest_psnr\tparams\tflops\tacts\tmem\tconv\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("row, message", [
    ("\t5.0\t29.0\t27.0\t0.2\t10\t20\t100\t30", "--table {T}: line 3 has no team name; fill in its team column"),
    ("B\tinf\t29.0\t27.0\t0.2\t10\t20\t100\t30", "--table {T}: team B has ave = infinite; correct the row"),
    ("B\t5.0\t29.0\t27.0\t-0.2\t10\t20\t100\t30", "--table {T}: team B has params = negative (-0.2); correct the row"),
    ("B\t5.0\t29.0\t27.0\t0.2\tmany\t20\t100\t30", ("--table {T}: team B has flops = 'many', not a number; "
                                                      "correct the row")),
    ("B\t5.0\tnan\t27.0\t0.2\t10\t20\t100\t30", None),  # an empty or NaN PSNR is shown n/a, and not ranked
])
def test_bad_table_rows_name_the_row_and_the_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str], row: str,
                                                    message: str | None) -> None:
    path = _tsv(tmp_path, ["A\t6.0\t29.1\t27.1\t0.3\t11\t21\t110\t31", row])
    if message is None:
        code, _, err = _run(tmp_path, capsys, "--table", str(path), "--year", "2024", "--baseline", "A")
        assert code == 0, err
        assert not pd.read_csv(tmp_path / "out" / "leaderboard.csv").set_index("team").loc["B", "psnr_ok"]
        return
    assert _refused_line(tmp_path, capsys, "--table", str(path), "--year", "2023") == message.format(T=path)


def test_out_that_is_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], results: Path) -> None:
    out = tmp_path / "out"
    out.write_text("mine")
    code, stdout, err = _run(tmp_path, capsys, "--results", str(results), "--year", "2024", "--baseline", "RLFN")
    assert code == 2 and stdout == "" and out.read_text() == "mine"
    assert err == (f"error: --out {out}: a file, not a folder; choose a new or empty folder for "
                   "leaderboard.csv/.md/.tex and the plots\n")


def test_table_that_is_a_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _refused_line(tmp_path, capsys, "--table", str(tmp_path), "--year", "2023") == (
        f"--table {tmp_path}: a folder, not a table; pass a results table such as "
        "../shared/reference/ntire2023_esr_results.tsv")


def test_a_failed_write_leaves_out_as_it_was(tmp_path: Path, capsys: pytest.CaptureFixture[str], results: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    assert _run(tmp_path, capsys, "--results", str(results), "--year", "2024", "--baseline", "RLFN")[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*args: object, **kwargs: object) -> list[Path]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(compare.plots, "tradeoff_plots", broken)  # after the leaderboard files are written
    code, _, err = _run(tmp_path, capsys, "--results", str(results), "--year", "2024", "--baseline", "RLFN")
    assert code == 2 and err == (f"error: --out {out}: cannot write (No space left on device); choose a writable "
                                 "folder with free space\n")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before and MARKER in before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing left beside it


@pytest.fixture()
def visual(tmp_path: Path, results: Path) -> dict:
    """SR images of the ``results`` models for image ``img`` of split valid, and its data folder."""
    rng = np.random.default_rng(0)
    hr = cv2.GaussianBlur(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), (5, 5), 0)
    data = tmp_path / "tiny"
    (data / "HR").mkdir(parents=True)
    (data / "LR_bicubic" / "X4").mkdir(parents=True)
    cv2.imwrite(str(data / "HR" / "img.png"), hr)
    cv2.imwrite(str(data / "LR_bicubic" / "X4" / "imgx4.png"), cv2.resize(hr, (16, 12), interpolation=cv2.INTER_AREA))
    for name in json.loads(results.read_text()):
        (tmp_path / "S" / name / "valid").mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "S" / name / "valid" / "img.png"), cv2.GaussianBlur(hr, (3, 3), 0))
    return {"args": ["--results", str(results), "--baseline", "RLFN", "--year", "2024", "--split", "valid"],
            "save_dir": tmp_path / "S", "data": data}


@pytest.mark.parametrize("change, message", [
    ({"--save_dir": "nowhere"}, "--save_dir {tmp}/nowhere: no such folder; pass the --save_dir of the run"),
    ({"--data": "nowhere"}, "--data {tmp}/nowhere: no such folder; pass the data the run used"),
    ({"--visual": "nope"}, "--visual nope: no such image in {results}; pass an HR file name without .png"),
    ({"--visual": "../img"}, "--visual '../img': not an image name; pass an HR file name without .png"),
    ({"--crop": "40,0,32"}, "--crop 40,0,32: outside the 64×48 HR; choose x + size ≤ 64, y + size ≤ 48"),
    ({"--factsheet": "nope"}, ("--factsheet nope: no such model in --results (found: RLFN, fast, blurry); pass one "
                              "of them")),
])
def test_visual_checks_every_argument_before_any_output(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        results: Path, visual: dict, change: dict[str, str],
                                                        message: str) -> None:
    options = {"--visual": "img", "--save_dir": str(visual["save_dir"]), "--data": str(visual["data"])}
    options.update({k: str(tmp_path / v) if k in ("--save_dir", "--data") else v for k, v in change.items()})
    argv = [*visual["args"], *(item for pair in options.items() for item in pair)]
    assert _refused_line(tmp_path, capsys, *argv) == message.format(tmp=tmp_path, results=results)


def test_visual_missing_sr_image_is_refused_before_any_output(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              visual: dict) -> None:
    (visual["save_dir"] / "fast" / "valid" / "img.png").unlink()
    line = _refused_line(tmp_path, capsys, *visual["args"], "--visual", "img", "--save_dir", str(visual["save_dir"]),
                         "--data", str(visual["data"]))
    assert line == (f"{visual['save_dir'] / 'fast' / 'valid' / 'img.png'}: SR image missing; pass the --save_dir of "
                    "the run, or re-run test_demo.py")


def test_bad_option_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], results: Path) -> None:
    code = main(["--results", str(results), "--year", "2024", "--crop", "1,2", "--out", str(tmp_path / "out")])
    assert code == 2
    assert capsys.readouterr().err == ("error: argument --crop: '1,2': expected x,y,size in HR pixels, e.g. 64,32,96; "
                                       "see python -m benchmark.compare --help\n")


# --- names, FLOPs counters ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw, cleaned", [("009_RFDN_SPAN", "09_RFDN_SPAN"), ("         11_VSCINet", "11_VSCINet"),
                                          ("00_SPAN", "00_SPAN"), ("0100_X", "100_X"), ("123_Y", "123_Y"),
                                          ("05_SRneXt ", "05_SRneXt"), ("007", "07")])
def test_clean_name(raw: str, cleaned: str) -> None:
    assert clean_name(raw) == cleaned


def test_names_that_clean_alike_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "R.json"
    path.write_text(json.dumps({"base": _entry(10.0, (27.0, 27.1), 0.2, 10.0, 10.0),
                                "009_A": _entry(10.0, (27.0, 27.1), 0.2, 10.0, 10.0),
                                " 09_A": _entry(10.0, (27.0, 27.1), 0.2, 10.0, 10.0)}))
    code, _, err = _run(tmp_path, capsys, "--results", str(path), "--year", "2024", "--baseline", "base")
    assert code == 2 and err.count("\n") == 1
    assert "models '009_A' and ' 09_A' are both '09_A' once their names are cleaned" in err


def test_flops_by_the_year_counter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    harness = _entry(10.0, (29.0, 27.1), 0.2, 12.0, 11.0)
    harness.update(flops=11.0, flops_counter="fvcore", year=2026)  # as test_demo.py now writes a 2026 run
    organizers = {k: v for k, v in _entry(20.0, (29.0, 27.1), 0.3, 14.0, 14.0).items()
                  if k not in ("complexity", "checkpoint", "environment")}
    table = results_table({"h": harness, "o": organizers}, 2023).set_index("team")
    assert table["flops"].to_dict() == {"h": 12.0, "o": 14.0}  # hooks recounted; the organizers' as published
    table = results_table({"h": harness, "o": organizers}, 2026).set_index("team")
    assert table["flops"].to_dict() == {"h": 11.0, "o": 14.0}
    path = tmp_path / "R.json"
    path.write_text(json.dumps({"h": harness, "o": organizers}))
    code, out, err = _run(tmp_path, capsys, "--results", str(path), "--year", "2023")
    assert code == 0, err
    assert "FLOPs of h: the official hook counter, as the NTIRE 2023 organizers counted them" in out
    assert "FLOPs of o: as published in the file (no exact counts to recount by the official hook counter" in out
    assert "FLOPs [G, hooks]" in (tmp_path / "out" / "leaderboard.md").read_text()


def test_flops_of_another_counter_only_are_refused() -> None:
    entry = {k: v for k, v in _entry(10.0, (29.0, 27.1), 0.2, 12.0, 11.0).items() if k != "complexity"}
    entry["flops_counter"] = "hooks"
    with pytest.raises(HarnessError, match="model m has FLOPs by hooks only and the year's figure of record is fvcore"):
        results_table({"m": entry}, 2026)


def test_a_cpu_dry_run_is_shown_untimed_and_unranked(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     results: Path) -> None:
    """A dry run's entry holds null runtime and memory (they would be the CPU's): compare shows its figures, no
    runtime, no rank, and ranks the others as before (none when the baseline is a dry run too); a null runtime
    without dry_run is still refused."""
    entries = json.loads(results.read_text())
    dry = {**_entry(1.0, (26.99, 27.10), 0.1, 4.0, 4.0), "dry_run": True}
    dry.update({"valid_ave_runtime": None, "test_ave_runtime": None, "valid_memory": None, "test_memory": None,
                "valid_runs_ave_runtime": None, "test_runs_ave_runtime": None})
    results.write_text(json.dumps({**entries, "dry": dry}))
    code, _, err = _run(tmp_path, capsys, "--results", str(results), "--baseline", "RLFN", "--year", "2024")
    assert code == 0, err
    board = pd.read_csv(tmp_path / "out" / "leaderboard.csv").set_index("team")
    assert pd.isna(board.loc["dry", "ave"]) and pd.isna(board.loc["dry", "rank"]) and board.loc["dry", "params"] == 0.1
    assert board.loc["fast", "rank"] == 1 and board.loc["RLFN", "rank"] == 2
    every = {name: {**entry, **{k: None for k in dry if k.endswith(("_runtime", "_memory")) and dry[k] is None},
                     "dry_run": True} for name, entry in entries.items()}
    (tmp_path / "every.json").write_text(json.dumps(every))
    code, _, err = _run(tmp_path, capsys, "--results", str(tmp_path / "every.json"), "--year", "2024")
    assert code == 0, err  # the baseline a dry run too: every model shown, none ranked
    assert pd.read_csv(tmp_path / "out" / "leaderboard.csv")["ave"].isna().all()
    results.write_text(json.dumps({**entries, "dry": {**dry, "dry_run": False}}))
    code, _, err = _run(tmp_path, capsys, "--results", str(results), "--baseline", "RLFN", "--year", "2024")
    assert code == 2 and "valid_ave_runtime is null" in err


def test_a_profile_only_results_file_is_shown_unranked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--profile-only`` (the atlas's, a sweep's) records complexity and no split: its models are shown without a
    runtime, not a ``fmean requires at least one data point`` traceback."""
    profile = {"num_parameters": 0.2, "flops": 10.0, "activations": 10.0, "num_conv": 20, "flops_counter": "fvcore"}
    path = tmp_path / "R.profile.json"
    path.write_text(json.dumps({"00_EFDN_baseline": profile, "01_Other": {**profile, "num_parameters": 0.1}}))
    code, _, err = _run(tmp_path, capsys, "--results", str(path), "--year", "2025")
    assert code == 0, err
    board = pd.read_csv(tmp_path / "out" / "leaderboard.csv").set_index("team")
    assert board["ave"].isna().all() and "rank" not in board
    assert list(board.loc[["00_EFDN_baseline", "01_Other"], "params"]) == [0.2, 0.1]
