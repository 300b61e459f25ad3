"""benchmark.site: the leaderboard as a static web site, built from the organizers' 2026 file, from this harness's
records and from a sweep with failures; escaping of hostile names; bad input; and the pages in a real Chromium
(Playwright, the distribution's browser at /usr/bin/chromium or $ESR_CHROMIUM), served over HTTP and from file://.

Screenshots of the leaderboard and a team page at 1280 and 390 pixels wide are kept in tests/artifacts/site/
(ignored by git).
"""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import pytest
from helpers import SHARED, opened, served

from benchmark import compare, site
from benchmark.imaging.images import write_png
from benchmark.rank.board import Ranking, rank_inputs
from benchmark.web import markup, svg
from benchmark.core.files import MARKER

OFFICIAL_2026 = SHARED / "reference" / "official" / "ntire2026_results.json"
OFFICIAL_2024 = SHARED / "reference" / "official" / "ntire2024_results.json"
TABLE_2023 = SHARED / "reference" / "ntire2023_esr_results.tsv"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "site"
HOSTILE = ["<script>window.__pwned = 1</script>", '"><img src=x onerror="window.__pwned = 2">',
           "\u202eexe.evil\u202c", "' onmouseover='window.__pwned = 3", "CON", "../../etc/passwd", "Tiny", "tiny"]
"""Team names as an attacker would send them: markup, attribute breakouts, right-to-left override, reserved and
path-like file names, two names that differ only by case."""


# --- reading a built site ------------------------------------------------------------------------------------------


class Board(HTMLParser):
    """The leaderboard table of a page: each header's frame column, each row's team and cell texts."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.keys: list[str] = []
        self.headers: list[str] = []
        self.rows: list[dict[str, Any]] = []
        self._in_board = self._in_cell = self._in_header = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("id") == "board":
            self._in_board = True
        elif self._in_board and tag == "th":
            self.keys.append(a["data-key"])
            self.headers.append("")
            self._in_header = True
        elif self._in_board and tag == "tr" and "data-team" in a:
            self.rows.append({"team": a["data-team"], "class": a.get("class", ""), "cells": []})
        elif self._in_board and tag == "td":
            self._in_cell = True
            self.rows[-1]["cells"].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_board = False
        elif tag in ("td", "th"):
            self._in_cell = self._in_header = False

    def handle_data(self, data: str) -> None:
        if self._in_header:
            self.headers[-1] += data
        elif self._in_cell:
            self.rows[-1]["cells"][-1] += data

    def column(self, key: str) -> list[str]:
        index = self.keys.index(key)
        return [row["cells"][index] for row in self.rows]


class Links(HTMLParser):
    """Every href and src of a page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.targets += [value for key, value in attrs if key in ("href", "src") and value]


def pages(root: Path) -> list[Path]:
    return sorted(root.rglob("*.html"))


def build(capsys: pytest.CaptureFixture[str], out: Path, *args: object) -> tuple[int, str, str]:
    """``python -m benchmark.site ARGS --out OUT`` in process: its exit status, stdout and stderr."""
    code = site.main([*map(str, args), "--out", str(out)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- records as this harness writes them ----------------------------------------------------------------------------


def record(runtime: float, psnr: float | None, params: float, fvcore: float, *, team_id: int = 1,
           unseen: list[dict] | None = None, saved: dict | None = None) -> dict:
    """A results entry of a sweep of a 2026 repository on one split ``Toy`` (two images), with every key the model
    page reads."""
    entry = {
        "num_parameters": params, "flops": fvcore, "activations": 10 * params, "num_conv": 20,
        "flops_counter": "fvcore",
        "complexity": {"input_shape": [3, 256, 256], "params": int(params * 1e6), "flops": int(fvcore * 0.9e9),
                       "activations": int(10 * params * 1e6), "conv": 20, "fvcore_flops": int(fvcore * 1e9),
                       "ptflops_macs": int(fvcore * 1.01e9), "unseen": unseen or []},
        "checkpoint": {"path": f"model_zoo/team{team_id:02}.pth", "sha256": f"{team_id:064x}"},
        "variant": "faithful", "year": 2026, "harness_version": "0.4.0", "code_sha256": "c" * 64, "data_range": 1.0,
        "environment": {"device": "cuda:0", "device_name": "Test GPU", "torch": "2.13.0"},
        "sweep": {"source": "challenge", "repository": "/repo", "team_id": team_id, "select_model": "test_demo.py:1-9",
                  "inputs": {f"models/team{team_id:02}.py": "d" * 64}},
        "splits": ["Toy"], "Toy_images": ["a", "b"], "Toy_runtime": [runtime - 1, runtime + 1],
        "Toy_ave_runtime": runtime, "Toy_runs_ave_runtime": [runtime - 0.5, runtime + 0.5], "Toy_memory": 100.0,
        "Toy_peak_memory": 90.0, "Toy_memory_kind": "cuda_max_allocated",
        "Toy_runtime_stats": {"mean": runtime, "median": runtime, "std": 1.0, "first": runtime + 1,
                              "mean_without_first": runtime - 1, "clock": "cuda_event", "warmup": 0, "repeat": 1,
                              "runs": 2, "of": "the first run"},
    }
    if psnr is not None:
        entry.update({"Toy_psnr": [psnr - 0.5, psnr + 0.5], "Toy_ave_psnr": psnr})
    if saved is not None:
        entry["Toy_saved"] = saved
    return entry


def toy_data(root: Path) -> Path:
    """A split ``Toy`` of two 64×64 HR images (noise, so that every window has detail) and their ×4 LR."""
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        hr = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        write_png(root / "HR" / f"{name}.png", hr)
        write_png(root / "LR_bicubic" / "X4" / f"{name}x4.png", cv2.resize(hr, (16, 16), interpolation=cv2.INTER_AREA))
    return root


def save_sr(folder: Path, data: Path) -> dict:
    """SR images for the Toy split (the bicubic of each LR) and their record, as a run with --save_dir writes them."""
    digests = {}
    for lr in sorted((data / "LR_bicubic" / "X4").glob("*x4.png")):
        image = cv2.imread(str(lr))
        up = cv2.resize(image, (64, 64), interpolation=cv2.INTER_CUBIC)[:, :, ::-1]
        digests[lr.stem.removesuffix("x4")] = write_png(folder / f"{lr.stem.removesuffix('x4')}.png", up)
    return {"dir": str(folder), "sha256": digests}


@pytest.fixture()
def sweep_results(tmp_path: Path) -> Path:
    """A 2026 sweep of four teams: the baseline and two others ran, three failed (their reasons and logs kept)."""
    data = toy_data(tmp_path / "Toy")
    path = tmp_path / "sweep" / "R.json"
    path.parent.mkdir()
    results = {"00_SPAN": record(10.0, 30.0, 0.15, 9.8, team_id=0),
               "07_Fast": record(6.0, 29.9, 0.10, 6.0, team_id=7, saved=save_sr(tmp_path / "sr" / "07_Fast", data),
                                 unseen=[{"op": "aten.convolution", "module": "model (Fast)", "calls": 2,
                                          "macs": 123_000_000, "elements": 10}]),
               "09_Slow": record(30.0, None, 0.30, 20.0, team_id=9)}
    path.write_text(json.dumps(results))
    failures = {"03": "needs CUDA (AssertionError: Torch not compiled with CUDA enabled, in models/team03.py:5)",
                "04": "needs the package 'einops' (ModuleNotFoundError in models/team04_Zeno.py:5)",
                "05": "<b>crashed</b> & \"quoted\" (RuntimeError in models/team05.py:9)"}
    (tmp_path / "sweep" / "R.failures.json").write_text(json.dumps(failures))
    logs = tmp_path / "sweep" / "R.sweep"
    logs.mkdir()
    (logs / "03.log").write_text("".join(f"line {i}\n" for i in range(100)) + "AssertionError: no CUDA\n")
    (logs / "05.log").write_text("</pre><script>window.__pwned = 4</script>\n")
    (logs / "07.log").write_text("[sweep] done: 07_Fast\n")
    return path


# --- built from files, read as files ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def official(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The site of the organizers' 2026 file, and compare's leaderboard.csv of the same file."""
    root = tmp_path_factory.mktemp("official")
    assert site.main(["--results", str(OFFICIAL_2026), "--year", "2026", "--out", str(root / "site26")]) == 0
    assert compare.main(["--results", str(OFFICIAL_2026), "--year", "2026", "--out", str(root / "cmp")]) == 0
    return {"root": root, "site": root / "site26", "csv": pd.read_csv(root / "cmp" / "leaderboard.csv")}


def compare_ranks(csv: pd.DataFrame) -> list[tuple[str, str]]:
    return [(team, "n/a" if pd.isna(rank) else str(int(rank))) for team, rank in zip(csv["team"], csv["rank"])]


def test_official_2026_site_has_compares_order_and_ranks(official: dict) -> None:
    board = Board((official["site"] / "index.html").read_text())
    assert len(board.rows) == 16
    ranks = [(row["team"], rank) for row, rank in zip(board.rows, board.column("rank"))]
    assert ranks == compare_ranks(official["csv"])
    assert board.rows[0]["team"] == "22_SPANV2_ESR_C2" and board.column("rank")[0] == "1"
    spans = [row for row in board.rows if row["team"] == "00_SPAN"]
    assert spans[0]["class"] == "baseline" and board.column("rank")[board.rows.index(spans[0])] == "4"
    assert {p.stem for p in (official["site"] / "teams").glob("*.html")} == set(official["csv"]["team"])


def test_official_cells_are_compares_printed_cells(official: dict) -> None:
    board = Board((official["site"] / "index.html").read_text())
    row = {key: cell for key, cell in zip(board.keys, board.rows[0]["cells"])}
    # 22_SPANV2_ESR_C2 as compare prints it (tests/fast/rank/test_compare.py holds the same figures)
    assert row["team"] == "22_SPANV2_ESR_C2"
    assert (row["val_psnr"], row["ave"], row["flops"], row["score"]) == ("26.92 (-0.02)", "5.24 (×0.68)",
                                                                         "1.59 (×0.16)", "3.8733")
    assert (row["val_t"], row["test_t"], row["score_runtime"]) == ("5.69", "4.80", "3.8768")
    assert (row["runtime_rank"], row["flops_rank"], row["params_rank"], row["device"]) == ("1", "1", "1", "n/a")
    assert board.keys[:3] == ["team", "rank", "score"]
    text = (official["site"] / "index.html").read_text()
    assert "names cleaned as the organizers&#x27; tables print them" in text and "the RTX A6000" in text
    years = (official["site"] / "years.html").read_text()
    assert "22_SPANV2_ESR_C2" in years and "00_SPAN" in years and "no results given" in years


def test_every_column_compare_prints_is_on_the_page_as_printed(official: dict) -> None:
    """leaderboard.md is compare's printed view: each of its columns is a column of the page, cell for cell."""
    lines = (official["root"] / "cmp" / "leaderboard.md").read_text().splitlines()
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines if line.startswith("|")]
    printed = pd.DataFrame(rows[2:], columns=rows[0])
    board = Board((official["site"] / "index.html").read_text())
    assert len(printed.columns) == 16 and set(printed.columns) <= set(board.headers)
    for header in printed.columns:
        assert board.column(board.keys[board.headers.index(header)]) == list(printed[header]), header


def test_every_link_resolves_and_nothing_is_fetched(official: dict) -> None:
    root = official["site"]
    assert len(pages(root)) == 16 + 3
    for page in pages(root):
        for target in Links(page.read_text()).targets:
            assert not re.match(r"^[a-z]+:|^//", target), f"{page.name} refers outside the site: {target}"
            assert (page.parent / target.split("#")[0]).resolve().is_file(), f"{page.name}: {target} missing"
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert size < 400_000, f"the 2026 site is {size} bytes"


def test_plots_name_and_link_every_point_and_draw_the_frontier(official: dict) -> None:
    plots = (official["site"] / "plots.html").read_text()
    assert plots.count('<svg class="plot"') == 6  # val and test PSNR against runtime, FLOPs and params
    assert plots.count('data-name="22_SPANV2_ESR_C2"') == 6 and 'href="teams/22_SPANV2_ESR_C2.html"' in plots
    assert plots.count('class="frontier"') == 6 and "floor 26.90 dB" in plots and "floor 26.99 dB" in plots


def test_pareto_frontier_is_cheaper_or_better() -> None:
    points = [svg.Point(name, x, y, "", "ranked") for name, x, y in
              [("a", 1, 26.0), ("b", 2, 27.0), ("c", 3, 26.5), ("d", 3, 27.5), ("e", 4, 27.5), ("f", 0.5, 25.0)]]
    assert [p.name for p in svg.pareto(points)] == ["f", "a", "b", "d"]


def test_file_stems_are_safe_unique_and_keep_nothing_hostile() -> None:
    stems = markup.unique_stems(HOSTILE)
    assert len({s.lower() for s in stems}) == len(HOSTILE)
    for stem in stems:
        assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", stem) and ".." not in stem.strip("."), stem
    assert stems[4] == "_CON" and stems[5] == "etc_passwd" and stems[6:] == ["Tiny", "tiny-2"]
    assert markup.file_stem("\u4e2d\u6587") == "model" and markup.file_stem(".hidden\n") == "hidden"


def test_sweep_site_shows_who_ran_who_failed_and_why(sweep_results: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = build(capsys, tmp_path / "site", "--results", sweep_results, "--year", "2026",
                           "--data", tmp_path / "Toy")
    assert code == 0, err
    assert re.fullmatch(r"site: .*index\.html \(9 pages, \d+ files, \d+ KiB\)\n", out)
    index = (tmp_path / "site" / "index.html").read_text()
    board = Board(index)
    assert [row["team"] for row in board.rows] == ["07_Fast", "00_SPAN", "09_Slow"]
    assert board.column("rank") == ["1", "2", "3"]  # Toy is no official split: no PSNR floor, 09_Slow ranks
    assert board.column("Toy_psnr") == ["29.90 (-0.10)", "30.00 (+0.00)", "n/a"]
    for label in ("03", "04", "05"):
        assert f">team {label}</a>" in index
    assert "needs the package &#x27;einops&#x27; (ModuleNotFoundError in models/team04_Zeno.py:5)" in index
    assert "&lt;b&gt;crashed&lt;/b&gt; &amp; &quot;quoted&quot;" in index and "<b>crashed" not in index
    failed = (tmp_path / "site" / "teams" / "team_03.html").read_text()
    assert "AssertionError: no CUDA" in failed and "line 71\n" in failed and "line 70\n" not in failed  # last 30
    hostile_log = (tmp_path / "site" / "teams" / "team_05.html").read_text()
    assert "&lt;/pre&gt;&lt;script&gt;window.__pwned = 4&lt;/script&gt;" in hostile_log
    fast = (tmp_path / "site" / "teams" / "07_Fast.html").read_text()
    assert f"{7:064x}" in fast and "[sweep] done: 07_Fast" in fast  # checkpoint sha256, log tail
    assert "aten.convolution" in fast and "0.1230" in fast  # the MACs the hooks miss, in G
    assert "5.50, 6.50" in fast and "rank 1 of 3 under the NTIRE 2026 rules" in fast  # each run's mean
    assert '<img src="../crops/07_Fast_Toy.png"' in fast and (tmp_path / "site" / "crops" / "07_Fast_Toy.png").is_file()
    assert "29.40 dB on the whole image" in fast  # image a's PSNR
    assert "its record names no saved SR images" in (tmp_path / "site" / "teams" / "09_Slow.html").read_text()


def test_crops_only_from_the_files_the_run_wrote(sweep_results: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sr" / "07_Fast" / "a.png").write_bytes((tmp_path / "sr" / "07_Fast" / "b.png").read_bytes())
    code, _, err = build(capsys, tmp_path / "site", "--results", sweep_results, "--year", "2026",
                         "--data", tmp_path / "Toy")
    assert code == 0, err
    fast = (tmp_path / "site" / "teams" / "07_Fast.html").read_text()
    assert "a.png is not the file its run wrote" in fast
    assert not (tmp_path / "site" / "crops" / "07_Fast_Toy.png").exists()
    code, _, err = build(capsys, tmp_path / "site2", "--results", sweep_results, "--year", "2026")
    without_data = (tmp_path / "site2" / "teams" / "07_Fast.html").read_text()
    assert code == 0 and "pass --data (the split&#x27;s folder) to show crops" in without_data


def test_a_sweep_without_its_baseline_shows_figures_unscored(sweep_results: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    results = json.loads(sweep_results.read_text())
    del results["00_SPAN"]
    sweep_results.write_text(json.dumps(results))
    code, _, err = build(capsys, tmp_path / "site", "--results", sweep_results, "--year", "2026")
    assert code == 0, err
    index = (tmp_path / "site" / "index.html").read_text()
    board = Board(index)
    assert [row["team"] for row in board.rows] == ["07_Fast", "09_Slow"] and "rank" not in board.keys
    assert "Not ranked: every score is relative to the baseline 00_SPAN" in index


def test_every_failed_sweep_still_lists_its_failures(sweep_results: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    sweep_results.unlink()
    code, _, err = build(capsys, tmp_path / "site", "--results", sweep_results, "--year", "2026")
    assert code == 0, err
    index = (tmp_path / "site" / "index.html").read_text()
    assert "No model of NTIRE 2026 was measured" in index and index.count('class="failed"') == 3


def test_frame_columns_added_later_are_shown(sweep_results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Columns the leaderboard frame gains later are columns of the page as the frame holds them (here added to
    compare's ranking the way another module would), beside the score intervals compare computes itself."""
    from benchmark.web import inputs

    def with_more(*args: Any, **kwargs: Any) -> Ranking:
        ranking = rank_inputs(*args, **kwargs)
        board = ranking.board.assign(energy_j=ranking.board["score"] - 0.25, statistical_tie=[True, False, False])
        return Ranking(board, ranking.baseline, ranking.title, ranking.notes)

    monkeypatch.setattr(inputs, "rank_inputs", with_more)
    code, _, err = build(capsys, tmp_path / "site", "--results", sweep_results, "--year", "2026")
    assert code == 0, err
    board = Board((tmp_path / "site" / "index.html").read_text())
    assert board.keys[-2:] == ["energy_j", "statistical_tie"]
    assert {"score_ci95_low", "tie"} <= set(board.keys)
    assert board.column("statistical_tie") == ["yes", "no", "no"]
    fast = board.column("score")[0]
    assert float(board.column("energy_j")[0]) == pytest.approx(float(fast) - 0.25, abs=1e-4)


def test_hostile_names_are_text_everywhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / 'we"ird <dir>' / "R.json"
    results.parent.mkdir()
    entries = {"00_SPAN": record(10.0, 30.0, 0.15, 9.8, team_id=0)}
    entries.update({name: record(5.0 + i, 29.5, 0.1, 5.0, team_id=i + 1) for i, name in enumerate(HOSTILE)})
    results.write_text(json.dumps(entries))
    code, _, err = build(capsys, tmp_path / "site", "--results", results, "--year", "2026")
    assert code == 0, err
    for page in pages(tmp_path / "site"):
        text = page.read_text()
        assert "<script>window" not in text and "<img src=x" not in text and "' onmouseover" not in text, page.name
        assert text.count("<script") == 1, page.name
    board = Board((tmp_path / "site" / "index.html").read_text())
    assert {row["team"] for row in board.rows} == {"00_SPAN", *HOSTILE}
    index = (tmp_path / "site" / "index.html").read_text()
    assert "<bdi>&lt;script&gt;window.__pwned = 1&lt;/script&gt;</bdi>" in index
    assert len(list((tmp_path / "site" / "teams").glob("*.html"))) == len(HOSTILE) + 1


def test_years_side_by_side_from_the_organizers_files(shared: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = build(capsys, tmp_path / "site", "--results", OFFICIAL_2026, OFFICIAL_2024, "--table", TABLE_2023,
                         "--year", "2026")
    assert code == 0, err
    years = (tmp_path / "site" / "years.html").read_text()
    cells = re.findall(r'<tr><th scope="row">winner</th>(.*?)</tr>', years)[0]
    assert re.findall(r"<td>(.*?)</td>", cells)[0] == "<bdi>MegSR</bdi>"  # 2023: first of the runtime track
    assert "<bdi>00_RLFN_baseline</bdi>" in cells and "22_SPANV2_ESR_C2" in cells
    assert "ntire2024_results.json: NTIRE 2024 (it holds the NTIRE 2024 baseline 00_RLFN_baseline)" in \
        (tmp_path / "site" / "index.html").read_text()
    assert len(Board((tmp_path / "site" / "index.html").read_text()).rows) == 16  # 2024 and 2023 are not ranked here


@pytest.mark.parametrize("case", ["missing", "invalid", "out is a file", "out is another folder", "wrong year",
                                  "nothing", "unwritable"])
def test_bad_input_is_one_line_and_leaves_no_site(case: str, sweep_results: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "site"
    args: list[object] = ["--results", sweep_results, "--year", "2026"]
    expected = {"missing": "none.json: results file not found", "invalid": "bad.json: not a valid results file",
                "out is a file": "a file, not a folder",
                "out is another folder": "holds 'thesis.tex', which python -m benchmark.site did not write",
                "wrong year": "--year 2024: no results of NTIRE 2024 among the inputs",
                "nothing": "nothing to show", "unwritable": "cannot create a folder there"}[case]
    if case == "missing":
        args = ["--results", tmp_path / "none.json", "--year", "2026"]
    elif case == "invalid":
        (tmp_path / "bad.json").write_text("{not json")
        args = ["--results", tmp_path / "bad.json", "--year", "2026"]
    elif case == "out is a file":
        out.write_text("mine")
    elif case == "out is another folder":
        out.mkdir()
        (out / "thesis.tex").write_text("mine")
    elif case == "wrong year":
        args = ["--results", sweep_results, "--year", "2024"]
    elif case == "nothing":
        args = ["--year", "2026"]
    elif case == "unwritable":
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        out = locked / "site"
        if os.access(locked, os.W_OK):  # root: permission bits stop nothing, but sysfs takes no new folder
            if not Path("/sys/kernel").is_dir():
                pytest.skip("running as root without /sys: no folder here is unwritable")
            out = Path("/sys/kernel/esr-site-test")
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out_text, err = build(capsys, out, *args)
    assert code == 2 and out_text == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and expected in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no half-built site, no temporary folder
    if case in ("out is a file", "out is another folder"):
        assert "mine" in (out.read_text() if out.is_file() else (out / "thesis.tex").read_text())


def test_a_new_build_replaces_a_site_and_a_failed_one_keeps_it(sweep_results: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "site"
    assert build(capsys, out, "--results", sweep_results, "--year", "2026")[0] == 0
    (out / "teams" / "stale.html").write_text("from an older build")
    assert build(capsys, out, "--results", sweep_results, "--year", "2026")[0] == 0
    assert not (out / "teams" / "stale.html").exists() and (out / MARKER).is_file()
    index = (out / "index.html").read_text()
    assert build(capsys, out, "--results", tmp_path / "none.json", "--year", "2026")[0] == 2
    assert (out / "index.html").read_text() == index
    assert oct(out.stat().st_mode & 0o777) != oct(0o700)  # readable by a web server, not mkdtemp's private mode


def test_compare_takes_site(sweep_results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = compare.main(["--results", str(sweep_results), "--year", "2026", "--out", str(tmp_path / "cmp"),
                         "--site", str(tmp_path / "cmpsite")])
    out = capsys.readouterr().out
    assert code == 0 and "site: " in out and (tmp_path / "cmpsite" / "index.html").is_file()
    assert Board((tmp_path / "cmpsite" / "index.html").read_text()).column("rank") == ["1", "2", "3"]
    code = compare.main(["--results", str(sweep_results), "--year", "2026", "--out", str(tmp_path / "cmp2"),
                         "--site", str(tmp_path / "cmp2")])
    assert code == 2 and "cmp2: the same path as --site" in capsys.readouterr().err and not (tmp_path / "cmp2").exists()


def test_a_sweep_with_site_shows_its_teams_and_failures(shared: Path, tmp_path: Path) -> None:
    """A real sweep (this project's made-up challenge repository: one team runs, one lacks a package) with --site."""
    from helpers import FAST, make_repo, sweep_here

    repo, results = make_repo(tmp_path / "NTIRE_fake_ESR"), tmp_path / "out" / "fake.json"
    swept = sweep_here("--challenge-repo", repo, "--dataset", shared / "data" / "Set5", "--results", results, *FAST,
                       "--model_id", "0", "7", "--save_dir", tmp_path / "sr", "--site", tmp_path / "site")
    assert swept.returncode == 0, swept.stderr
    assert "site: " in swept.stdout
    index = (tmp_path / "site" / "index.html").read_text()
    assert [row["team"] for row in Board(index).rows] == ["00_Tiny"]
    assert ">team 07</a>" in index and "needs the package &#x27;no_such_package_here&#x27;" in index
    tiny = (tmp_path / "site" / "teams" / "00_Tiny.html").read_text()
    assert "Sweep log" in tiny and '<img src="../crops/00_Tiny_Set5.png"' in tiny  # --dataset gives the crops
    refused = sweep_here("--dataset", shared / "data" / "Set5", "--site", tmp_path / "site2")
    assert refused.returncode == 2 and "--site: pass --year" in refused.stderr and not (tmp_path / "site2").exists()


# --- bad values and scale -------------------------------------------------------------------------------------------


BAD_VALUES = {  # model → {dotted key: value}; each value is one warning line and n/a on the page
    "10_NaN": {"Toy_runtime": [float("nan"), 1.0]},
    "11_Inf": {"Toy_runtime": [float("inf"), 1.0]},
    "12_NegBig": {"Toy_runtime": [-1e308, 1.0]},
    "13_Types": {"complexity.params": "many", "complexity.input_shape": "big", "complexity.unseen": [{"macs": "x"}],
                 "Toy_runtime_stats.median": "fast", "Toy_runtime_stats.runs": "<b>runs</b>", "Toy_peak_memory": "big",
                 "checkpoint": 5, "Toy_psnr": "x"},
    "14_Shapes": {"Toy_runtime_stats": "fast", "Toy_peak_memory": [1], "checkpoint.path": 5, "sweep": [1],
                  "environment.torch": {"v": 2}},
}
"""Values a hand-edited or foreign results file may hold where a model page reads them."""
WARNED = {"10_NaN": ["Toy_runtime"], "11_Inf": ["Toy_runtime"], "12_NegBig": ["Toy_runtime"],
          "13_Types": ["checkpoint", "complexity.params", "complexity.input_shape", "complexity.unseen[0].macs",
                       "Toy_psnr", "Toy_peak_memory", "Toy_runtime_stats.median", "Toy_runtime_stats.runs"],
          "14_Shapes": ["checkpoint.path", "sweep", "environment.torch", "Toy_peak_memory", "Toy_runtime_stats"]}
"""The warnings, in the order the site prints them (each model's entry keys, then its splits')."""
LEFT_OUT = {"16_Board": ("Toy_ave_runtime", "fast"), "17_Counts": ("complexity", [1])}
"""Leaderboard figures that compare refuses: the site leaves the model out, in one line, and builds the others."""


def bad_results(path: Path) -> Path:
    """A 2026 results file: the baseline, the :data:`BAD_VALUES` models, and 15_Huge whose figures are 1e308 (finite
    numbers: drawn, on a log scale, never an overflow)."""
    entries = {"00_SPAN": record(10.0, 30.0, 0.15, 9.8, team_id=0)}
    for i, (name, values) in enumerate(BAD_VALUES.items()):
        entry = record(6.0 + i, 29.5, 0.1, 6.0, team_id=10 + i)
        for key, value in values.items():
            *parents, last = key.split(".")
            target = entry
            for part in parents:
                target = target[part]
            target[last] = value
        entries[name] = entry
    huge = record(20.0, 29.0, 0.1, 6.0, team_id=15)
    huge.update({"num_parameters": 1e308, "Toy_ave_runtime": 1e308, "Toy_runtime": [1e308, 1.0],
                 "Toy_runs_ave_runtime": [1e308, 1e308]})
    huge["complexity"]["fvcore_flops"] = 1e308
    entries["15_Huge"] = huge
    for i, (name, (key, value)) in enumerate(LEFT_OUT.items()):
        entries[name] = {**record(7.0, 29.5, 0.1, 6.0, team_id=16 + i), key: value}
    path.write_text(json.dumps(entries))
    return path


def test_bad_values_are_one_line_each_shown_na_and_the_site_is_built(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    results = bad_results(tmp_path / "R.json")
    code, out, err = build(capsys, tmp_path / "site", "--results", results, "--year", "2026")
    assert code == 0 and re.fullmatch(r"site: .*index\.html \(10 pages, \d+ files, \d+ KiB\)\n", out), err
    left_out, lines = err.splitlines()[:len(LEFT_OUT)], err.splitlines()[len(LEFT_OUT):]
    assert left_out == [f"warning: model 16_Board: Toy_ave_runtime is 'fast', not a number in {results}, not a "
                        "runtime in ms; left out of the site",
                        f"warning: model 17_Counts: complexity is [1] in {results}, not the object of exact "
                        "counts test_demo.py writes; left out of the site"]
    assert not any((tmp_path / "site" / "teams" / f"{name}.html").exists() for name in LEFT_OUT)
    assert "17_Counts" not in (tmp_path / "site" / "index.html").read_text()
    assert [re.match(r"warning: model (\S+): (\S+) is ", line).groups() for line in lines] == [
        (model, key) for model, keys in WARNED.items() for key in keys]
    assert all(line.endswith("; shown as n/a on the site") and str(results) in line for line in lines)
    assert ("warning: model 10_NaN: Toy_runtime is a list holding NaN (item 1 of 2) in "
            f"{results}, not a list of per-image runtimes [ms]; shown as n/a on the site") in lines
    assert f"warning: model 13_Types: checkpoint is 5 in {results}, not null, a path or an object of path and " \
           "sha256; shown as n/a on the site" in lines
    teams = tmp_path / "site" / "teams"
    types = (teams / "13_Types.html").read_text()
    assert "random weights" not in types and '<th scope="row">checkpoint</th><td>n/a</td>' in types
    assert "<td>Toy</td><td>9.00</td><td>n/a</td><td>1.00</td>" in types  # the mean as recorded, the median n/a
    assert "counted at 1×n/a; params n/a" in types and "&lt;b&gt;runs" not in types
    shapes = (teams / "14_Shapes.html").read_text()
    assert '<th scope="row">torch</th><td>n/a</td>' in shapes and "n/a / n/a / n/a" not in shapes
    for page_path in pages(tmp_path / "site"):
        for plot in re.findall(r"<svg.*?</svg>", page_path.read_text(), re.S):
            assert not re.search(r"\b(nan|inf)\b", plot, re.I), page_path.name
    for name in ("10_NaN", "11_Inf", "12_NegBig"):
        assert "runtime per image" not in (teams / f"{name}.html").read_text()  # no histogram of a bad list
    huge = (teams / "15_Huge.html").read_text()
    assert "Toy: runtime per image (2 images)" in huge and "runtime [ms] (log scale)" in huge
    assert re.search(r">1e\+2\d\d</text>", huge)  # a tick among the powers of ten, every 56th shown
    assert re.search(r'<td data-sort="1e\+308">1\.0000e\+308</td>', (tmp_path / "site" / "index.html").read_text())
    plots = (tmp_path / "site" / "plots.html").read_text()
    assert plots.count('data-name="15_Huge"') == 3 and "params [M] (log scale)" in plots


def many_models(path: Path, n: int) -> Path:
    """A 2026 results file of ``n`` models made from :func:`record`: runtimes spread from 3 to 30 ms, each with
    three runs ±10% (so that each model ties with its neighbours), the baseline ``00_SPAN`` at 10 ms."""
    entries = {"00_SPAN": record(10.0, 30.0, 0.15, 9.8, team_id=0)}
    for i in range(1, n):
        entry = record(3 + 27 * i / n, 29.0 + (i % 13) * 0.1, 0.1 + (i % 7) * 0.01, 5.0 + i % 11, team_id=i)
        entry["Toy_runs_ave_runtime"] = [entry["Toy_ave_runtime"] * f for f in (0.9, 1.0, 1.1)]
        entries[f"{i:02d}_M{i}"] = entry
    path.write_text(json.dumps(entries))
    return path


def test_hundreds_of_models_build_in_linear_code_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """300 models from the template: a page each, every row on the leaderboard, the progress bar counting the pages;
    the leaderboard's columns are computed a fixed number of times, not once per model (which made 5,000 models
    take hours). Build times at 1,000 and 5,000 models: scripts/site_scale.py (README)."""
    import io

    from rich.console import Console

    from benchmark.web import board as web_board
    from benchmark.web.build import SiteInputs, build_site, site_folder

    n = 300
    results = many_models(tmp_path / "R.json", n)
    calls = []
    columns = web_board.columns
    monkeypatch.setattr(web_board, "columns", lambda standing: calls.append(1) or columns(standing))
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=120)
    built = build_site(SiteInputs([results], 2026), site_folder(tmp_path / "site", "--out", [results]), console)
    assert built.pages == n + 3 and len(calls) == 2  # the leaderboard page, and every model page at once
    assert "site\x1b[0m pages" in stream.getvalue() and f"{n + 3}/{n + 3}" in stream.getvalue()
    index = (tmp_path / "site" / "index.html").read_text()
    rows = Board(index).rows
    assert len(rows) == n and rows[0]["team"] == "01_M1"
    ties = Board(index).column("tie")
    assert max(t.count(";") for t in ties) == web_board.TIES_SHOWN and any(" in all)" in t for t in ties)
    page = (tmp_path / "site" / "teams" / "150_M150.html").read_text()
    assert "rank 151 of 300 under the NTIRE 2026 rules" in page  # 00_SPAN, at 10 ms, ahead and "; … (" in page


# --- in a real browser ---------------------------------------------------------------------------------------------


def visible_teams(page: Any) -> list[str]:
    return page.eval_on_selector_all("#board tbody tr:not([hidden])", "rows => rows.map(r => r.dataset.team)")


def column_keys(page: Any, key: str) -> list[str]:
    index = page.eval_on_selector_all("#board thead th", f"ths => ths.findIndex(th => th.dataset.key === '{key}')")
    return page.eval_on_selector_all("#board tbody tr", f"rows => rows.map(r => r.cells[{index}].dataset.sort)")


def test_browser_leaderboard_ranks_sorts_and_filters(browser: Any, official: dict) -> None:
    with opened(browser, (official["site"] / "index.html").as_uri()) as (page, problems):
        rows = page.eval_on_selector_all("#board tbody tr", "rows => rows.map(r => [r.dataset.team, "
                                         "r.cells[1].textContent])")
        assert [tuple(row) for row in rows] == compare_ranks(official["csv"])  # from file://, as compare ranks
        page.click('#board th[data-key="params"] button')
        params = [float(v) for v in column_keys(page, "params")]
        assert params == sorted(params) and params[0] == pytest.approx(0.037786, abs=1e-6)  # 04_ZenoSR
        assert page.get_attribute('#board th[data-key="params"]', "aria-sort") == "ascending"
        page.click('#board th[data-key="params"] button')
        assert [float(v) for v in column_keys(page, "params")] == sorted(params, reverse=True)
        for direction in ("ascending", "descending"):
            page.click('#board th[data-key="rank"] button')
            ranks = column_keys(page, "rank")
            numbered = [int(float(r)) for r in ranks if r]
            assert ranks[len(numbered):] == [""] * 7, direction  # n/a last whichever the direction
            assert numbered == sorted(numbered, reverse=direction == "descending") and len(numbered) == 9
        page.click('#board th[data-key="team"] button')
        assert visible_teams(page) == sorted(visible_teams(page), key=str.lower)
        page.fill('input[data-filter="board"]', "span")
        assert sorted(visible_teams(page)) == ["00_SPAN", "05_SPANMamba_single_1_4T05", "09_RFDN_SPAN",
                                               "22_SPANV2_ESR_C2"]
        assert page.text_content('[data-count="board"]') == "4 of 16 shown"
        page.fill('input[data-filter="board"]', "")
        assert len(visible_teams(page)) == 16
        assert problems == []


def test_browser_every_link_resolves_and_no_page_logs_an_error(browser: Any, official: dict) -> None:
    with served(official["site"]) as base, opened(browser, base + "index.html") as (page, problems):
        seen, queue, checked = set(), ["index.html"], 0
        while queue:
            path = queue.pop()
            if path in seen:
                continue
            seen.add(path)
            response = page.goto(base + path)
            assert response.status == 200, path
            resolved = ("els => els.map(e => new URL(e.getAttribute(e.hasAttribute('href') ? 'href' : 'src'), "
                        "document.baseURI).href)")
            for target in page.eval_on_selector_all("[href], [src]", resolved):
                assert target.startswith(base), f"{path} refers outside the site: {target}"
                local = target.removeprefix(base).split("#")[0]
                if local.endswith(".html"):
                    queue.append(local)
                else:
                    assert page.request.get(target).status == 200, f"{path}: {target}"
                checked += 1
        assert len(seen) == 19 and checked > 100
        assert problems == []


def test_browser_hovering_a_point_names_it(browser: Any, official: dict) -> None:
    with opened(browser, (official["site"] / "plots.html").as_uri()) as (page, problems):
        assert page.is_hidden("#tip")
        page.hover('svg.plot a[data-name="06_HAESR"] circle >> nth=0')
        assert page.is_visible("#tip") and page.text_content("#tip") == "06_HAESR"
        page.mouse.move(1, 1)
        assert page.is_hidden("#tip")
        page.click('svg.plot a[data-name="06_HAESR"] circle >> nth=0')
        page.wait_for_url("**/teams/06_HAESR.html")
        assert page.text_content("h1").strip() == "06_HAESR"
        assert problems == []


def test_browser_hostile_names_render_as_text(browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "R.json"
    entries = {"00_SPAN": record(10.0, 30.0, 0.15, 9.8, team_id=0)}
    entries.update({name: record(5.0 + i, 29.5, 0.1, 5.0, team_id=i + 1) for i, name in enumerate(HOSTILE)})
    results.write_text(json.dumps(entries))
    (tmp_path / "R.failures.json").write_text(json.dumps({"99": "<img src=x onerror=\"window.__pwned = 5\">"}))
    assert build(capsys, tmp_path / "site", "--results", results, "--year", "2026")[0] == 0
    for page_path in pages(tmp_path / "site"):
        with opened(browser, page_path.as_uri()) as (page, problems):
            assert page.evaluate("window.__pwned") is None, page_path.name
            assert page.evaluate("document.scripts.length") == 1 and page.query_selector("img[src=x]") is None
            if page_path.name == "index.html":
                names = page.eval_on_selector_all("#board td.team bdi", "els => els.map(e => e.textContent)")
                assert sorted(names) == sorted(["00_SPAN", *HOSTILE])
                assert page.text_content(".failures td.failed") == "<img src=x onerror=\"window.__pwned = 5\">"
            if page_path.parent.name == "teams" and not page_path.stem.startswith("team_"):
                assert page.text_content("h1 bdi") in ["00_SPAN", *HOSTILE]
            assert problems == [], page_path.name


@pytest.mark.parametrize("width", [1280, 390])
def test_browser_screenshots_fit_the_screen(browser: Any, official: dict, width: int) -> None:
    """The leaderboard and a team page at a desktop's and a phone's width: the page never scrolls sideways (the
    wide table scrolls in its own box), and the screenshots are kept for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, path in (("leaderboard", "index.html"), ("team", "teams/22_SPANV2_ESR_C2.html")):
        with opened(browser, (official["site"] / path).as_uri(), width) as (page, problems):
            assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} at {width} px"
            if name == "leaderboard":
                box = page.eval_on_selector("#board", "t => [t.parentElement.clientWidth, t.scrollWidth]")
                assert box[0] <= width < box[1]  # every column is there, in a box that scrolls
                assert page.is_visible('#board tr[data-team="22_SPANV2_ESR_C2"] td.team a')
            shot = ARTIFACTS / f"{name}_{width}.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
            assert shot.stat().st_size > 10_000 and problems == []


def test_browser_bad_values_and_huge_figures_render(browser: Any, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The site of :func:`bad_results` in Chromium: every page opens without an error, a bad value reads n/a, and
    the plots of a figure of 1e308 are drawn inside their frame."""
    assert build(capsys, tmp_path / "site", "--results", bad_results(tmp_path / "R.json"), "--year", "2026")[0] == 0
    for page_path in pages(tmp_path / "site"):
        with opened(browser, page_path.as_uri()) as (page, problems):
            if page_path.stem == "13_Types":
                row = page.eval_on_selector_all("table.facts tr", "rows => rows.map(r => r.textContent)")
                assert "checkpointn/a" in row
                cells = page.eval_on_selector_all("h2:has-text('Runtime') + div td",
                                                  "tds => tds.map(t => t.textContent)")
                assert cells[:3] == ["Toy", "9.00", "n/a"]
            if page_path.name in ("plots.html", "15_Huge.html"):
                boxes = page.eval_on_selector_all(
                    "svg.plot", "svgs => svgs.map(s => { const b = s.getBBox(); "
                                "return [b.x, b.y, b.width, b.height]; })")
                assert boxes and all(0 <= x and 0 <= y and x + w <= 640.5 and y + h <= 400.5 for x, y, w, h in boxes)
            assert problems == [], page_path.name


def test_browser_a_board_of_hundreds_sorts_and_filters(browser: Any, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    results = many_models(tmp_path / "R.json", 300)
    assert build(capsys, tmp_path / "site", "--results", results, "--year", "2026")[0] == 0
    with opened(browser, (tmp_path / "site" / "index.html").as_uri()) as (page, problems):
        assert len(visible_teams(page)) == 300
        page.click('#board th[data-key="params"] button')
        params = [float(v) for v in column_keys(page, "params")]
        assert params == sorted(params) and len(params) == 300
        page.fill('input[data-filter="board"]', "_M29")
        assert set(visible_teams(page)) == {"29_M29", *(f"{i}_M{i}" for i in range(290, 300))}
        assert page.text_content('[data-count="board"]') == "11 of 300 shown"
        page.click('#board tr[data-team="295_M295"] td.team a')
        page.wait_for_url("**/teams/295_M295.html")
        assert "rank" in page.text_content(".subtitle") and problems == []
