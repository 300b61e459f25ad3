"""The atlas's logic on results files written here (no sweep): each entry's row with its published figures, the
published runtime through the SPAN bridge, entries that claim one row by figures, the ratio over every set, the
Pareto fronts and verdicts, and the CSV and LaTeX views."""

from __future__ import annotations

import io
import json
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import make_repo, run_main

from benchmark.atlas import output, placement, sweeps
from benchmark.atlas.__main__ import build_parser, network_flags, no_intervals, shared_flags, summary
from benchmark.atlas.__main__ import main as atlas_main
from benchmark.atlas.rows import Swept, build, reference_ratio
from benchmark.core.errors import HarnessError
from benchmark.measure.stats import ratio_ci
from benchmark.report.leaderboard import csv_text

SETS = ["Set5", "Set14"]
TIMES = [10.0, 12.0, 11.0, 13.0, 9.0]
"""The reference's times on each image of a set [ms]: five images × two sets make the ten pairs an interval needs."""


def entry(team_id: int, name: str, params: float, fvcore: float, psnr: float, ratio: float) -> dict:
    """A 2024 sweep's entry timed beside the reference on two sets (five images, one run each)."""
    record = {"year": 2024, "num_parameters": params, "flops": fvcore, "activations": 1.0, "num_conv": 10,
              "flops_counter": "fvcore", "dry_run": True, "environment": {"device_name": "Test CPU"},
              "complexity": {"params": round(params * 1e6), "flops": round(fvcore * 1.1e9),
                             "fvcore_flops": round(fvcore * 1e9), "ptflops_macs": round(fvcore * 1.2e9)},
              "sweep": {"source": "challenge", "team_id": team_id, "name_as_written": name, "wall_seconds": 30.0}}
    for k, s in enumerate(SETS):
        model = [[t * ratio * (k + 1) for t in TIMES]]
        reference = [[t * (k + 1) for t in TIMES]]
        record.update({f"{s}_ave_psnr": psnr - k, f"{s}_ave_ssim": 0.8, f"{s}_reference_ratio": ratio,
                       f"{s}_reference_ratio_ci95": [ratio * 0.9, ratio * 1.1],
                       f"{s}_reference": {"name": "00_SPAN"},
                       f"{s}_reference_pairs": {"model": model, "baseline": reference}})
    return record


@pytest.fixture
def atlas(tmp_path: Path):
    results = tmp_path / "NTIRE2024_ESR.dry-run.json"
    results.write_text(json.dumps({
        "38_SPAN": entry(38, "38_SPAN", 0.150688, 9.833807872, 30.0, 1.0),
        "29_R2Net": entry(29, "29_R2Net", 0.2151, 13.0461, 30.2, 1.4),
        "40_Copy": entry(40, "40_Copy", 0.2149, 13.054, 29.0, 1.5),  # Cao Group's figures as well: ambiguous
        "03_Small": entry(3, "03_Small", 0.09, 5.81, 29.5, 0.7),  # ZHEstar's figures, alone
    }))
    (tmp_path / "NTIRE2024_ESR.dry-run.failures.json").write_text(json.dumps({"07": "needs CUDA (x)"}))
    mine = tmp_path / "network.dry-run.json"
    mine.write_text(json.dumps({"Mine": {**entry(0, "Mine", 0.2, 5.0, 29.9, 1.2), "year": 2026,
                                         "sweep": {"source": "file", "team_id": 0, "wall_seconds": 20.0}}}))
    return build([Swept(results, 2024, "NTIRE2024_ESR"), Swept(mine, 2026, sweeps.NETWORK_SOURCE, mine=True)],
                 SETS, 2026)


def test_rows_hold_every_counter_the_published_figures_and_the_bridged_runtime(atlas) -> None:
    rows = {r["model"]: r for r in atlas.rows}
    span = rows["38_SPAN"]
    assert span["team"] == "XiaomiMM" and span["published"]["matched_by"] == "id" and span["published"]["match"]
    assert span["flops_hooks"] == pytest.approx(9.833807872 * 1.1) and span["macs_ptflops"] == pytest.approx(
        9.833807872 * 1.2)
    assert span["published"]["ave_t_on_reference_scale"] == pytest.approx(7.736398064196109)  # 5.59 ms × 7.74 / 5.59
    assert span["published"]["ratio_on_reference_scale"] == pytest.approx(1.0)
    assert rows["03_Small"]["team"] == "ZHEstar" and rows["03_Small"]["published"]["matched_by"] == "figures"
    for twin in ("29_R2Net", "40_Copy"):  # both claim Cao Group by figures: the figures do not tell them apart
        block = rows[twin]["published"]
        assert block["name"] is None and block["candidates"] == ["Cao Group"] and rows[twin]["team"] is None
        assert "ambiguous: 2 entries of 2024" in block["explanation"]
    assert rows["Mine"]["published"] is None and rows["Mine"]["mine"] and rows["Mine"]["team_id"] is None
    assert atlas.failures == [{"year": 2024, "source": "NTIRE2024_ESR", "label": "07", "reason": "needs CUDA (x)"}]
    assert atlas.scales[2024].factor == pytest.approx(7.736398064196109 / 5.59) and atlas.scales[2026].factor == 1


def test_the_ratio_is_over_every_set_as_the_organizers_average_splits(atlas) -> None:
    row = next(r for r in atlas.rows if r["model"] == "29_R2Net")
    assert row["ratio"] == pytest.approx(1.4) and row["ratio_sets"]["Set14"]["ratio"] == 1.4
    model = [np.array([TIMES]) * 1.4 * (k + 1) for k in range(2)]
    reference = [np.array([TIMES]) * (k + 1) for k in range(2)]
    assert row["ratio_ci95"] == pytest.approx(list(ratio_ci(model, reference)[1:]))
    assert row["ratio_ci95_why"] is None
    assert reference_ratio({"Set5_reference_pairs": None}, SETS) == (None, None, None)
    few = {"Set5_reference_pairs": {"model": [[14.0, 16.8]], "baseline": [[10.0, 12.0]]}}
    assert reference_ratio(few, SETS) == (pytest.approx(1.4), None,  # 2 pairs: a ratio, no interval, and why
                                          "2 pairs (1 run × 2 images), fewer than the 10 a 95% interval needs; time "
                                          "it with --runs 5 or on more images")


def test_ratios_without_an_interval_say_why_in_one_line_per_reason(tmp_path: Path) -> None:
    """Set5 timed once (a small atlas): five pairs, no interval; the table showed n/a and nothing said why."""
    once = {name: {**entry(i, name, 0.1, 5.0, 30.0, 1.1), "Set14_reference_pairs": None}
            for i, name in enumerate(["01_A", "02_B\x1b[31m"])}
    results = tmp_path / "NTIRE2024_ESR.dry-run.json"
    results.write_text(json.dumps(once))
    rows = build([Swept(results, 2024, "NTIRE2024_ESR")], SETS, 2026).rows
    assert [(r["ratio_ci95"], r["ratio_ci95_why"]) for r in rows] == [(None, "5 pairs (1 run × 5 images), fewer than "
                                                                       "the 10 a 95% interval needs; time it with "
                                                                       "--runs 2 or on more images")] * 2
    assert no_intervals(rows) == ["warning: the runtime ratio of 2 entries (01_A, 02_B) has no 95% interval: 5 "
                                  "pairs (1 run × 5 images), fewer than the 10 a 95% interval needs; time it with "
                                  "--runs 2 or on more images"]


def test_fronts_and_where_your_network_stands(atlas) -> None:
    fronts = placement.fronts(atlas.rows, SETS)  # Mine: 0.2 M, 5.0 G, 1.2 × SPAN, 29.9 dB on Set5
    assert fronts["Set5"]["params"] == ["NTIRE2024_ESR/03_Small", "NTIRE2024_ESR/38_SPAN", "NTIRE2024_ESR/29_R2Net"]
    assert fronts["Set5"]["flops_fvcore"][0] == f"{sweeps.NETWORK_SOURCE}/Mine"
    verdicts = {(v["set"], v["cost"]): v for v in placement.verdicts(atlas.rows, SETS)}
    flops = verdicts[("Set5", "flops_fvcore")]  # the fewest FLOPs of all
    assert flops["year"] == 2024 and flops["on_front"] and flops["dominated_by"] == flops["all_years"] == []
    assert placement.verdict_line(flops, "00_SPAN") == ("Mine, PSNR[Set5] against FLOPs [G, fvcore]: would be on the "
                                                        "2024 Pareto front; on the front across every year")
    for cost in ("params", "ratio"):  # SPAN (0.151 M, 1.0 ×, 30.0 dB) is cheaper and better
        verdict = verdicts[("Set5", cost)]
        assert verdict["on_front"] is False and verdict["dominated_by"] == ["NTIRE2024_ESR/38_SPAN"]
        assert "dominated on the 2024 Pareto front by 38_SPAN" in placement.verdict_line(verdict, "00_SPAN")


def test_csv_and_latex_views(atlas) -> None:
    table = output.frame(atlas.rows, SETS)
    assert list(table["model"]) == ["03_Small", "29_R2Net", "38_SPAN", "40_Copy", "Mine"]  # by name in each sweep
    assert str(table["team_id"].dtype) == "Int64" and table["team_id"].isna().tolist() == [False] * 4 + [True]
    assert table.loc[2, "published_team"] == "XiaomiMM" and table.loc[2, "published_ratio"] == pytest.approx(1.0)
    assert table.loc[0, "psnr_Set14"] == 28.5 and table.loc[1, "ratio_ci95_low"] <= 1.4 <= table.loc[1, "ratio_ci95_high"]
    chosen = output.chosen(atlas.rows, None, [{"year": 2024, "team": "XiaomiMM", "model": "38_SPAN"}],
                           {2024: "00_RLFN_baseline"})
    assert [r["model"] for r in chosen] == ["38_SPAN", "Mine"]
    tex = output.latex(chosen, SETS, "00_SPAN", "Test CPU")
    assert "38\\_SPAN & XiaomiMM & 2024 & 0.151 & 9.83 & 1.00 & 30.00 / 0.8000 & 29.00 / 0.8000" in tex
    assert "Mine & -- & 2026" in tex and "00\\_SPAN" in tex
    bracket = dict(chosen[0], model="[FEAN]")  # right after \\ or \midrule, [ opens their optional argument
    assert "\n{}[FEAN] & XiaomiMM & 2024 & " in output.latex([bracket], SETS, "00_SPAN", "Test CPU")
    assert "\\toprule\nMethod & Team & Year & " in output.latex([], SETS, "00_SPAN", "Test CPU")  # the header
    assert output.unknown(atlas.rows, ["Mine", "Nope", "38_span", "Nope"]) == [
        "warning: --latex Nope, 38_span: no entry of the atlas has that name, so atlas.tex leaves it out (the names "
        "are atlas.csv's model column)"] and output.unknown(atlas.rows, None) == []


def test_latex_names_every_row_by_its_model_and_its_team_where_the_published_table_names_teams(
        tmp_path: Path) -> None:
    """Table 1 of 2024 names teams (its baseline "RLFN (Baseline)"); 2026's results.json names models: the Method
    column is the model in every row, the Team column the 2024 team however it was matched, -- where none is known."""
    old, new = tmp_path / "NTIRE2024_ESR.dry-run.json", tmp_path / "NTIRE2026_ESR.dry-run.json"
    old.write_text(json.dumps({"00_RLFN_baseline": entry(0, "00_RLFN_baseline", 0.317218, 19.67485952, 29.0, 1.9),
                               "38_SPAN": entry(38, "38_SPAN", 0.150688, 9.833807872, 30.0, 1.0),  # by id
                               "03_Small": entry(3, "03_Small", 0.09, 5.81, 29.5, 0.7)}))  # ZHEstar's, by figures
    new.write_text(json.dumps({"00_SPAN": {**entry(0, "00_SPAN", 0.150688, 9.833807872, 30.0, 1.0), "year": 2026},
                               "09_RFDN_SPAN": {**entry(9, "09_RFDN_SPAN", 0.2, 5.0, 29.0, 1.1), "year": 2026}}))
    rows = build([Swept(old, 2024, "NTIRE2024_ESR"), Swept(new, 2026, "NTIRE2026_ESR")], SETS, 2026).rows
    assert [(r["model"], r["team"], r["published"]["matched_by"], r["published"]["name"]) for r in rows] == [
        ("00_RLFN_baseline", "RLFN (Baseline)", "name", "00_RLFN_baseline"), ("03_Small", "ZHEstar", "figures",
        "ZHEstar"), ("38_SPAN", "XiaomiMM", "id", "XiaomiMM"), ("00_SPAN", None, "name", "00_SPAN"),
        ("09_RFDN_SPAN", None, "name", "09_RFDN_SPAN")]  # 2026's results.json names models, not teams
    lines = [line for line in output.latex(rows, SETS, "00_SPAN", "Test CPU").splitlines() if " & " in line]
    assert [line.split(" & ")[:3] for line in lines] == [
        ["Method", "Team", "Year"], ["00\\_RLFN\\_baseline", "RLFN (Baseline)", "2024"], ["03\\_Small", "ZHEstar", "2024"],
        ["38\\_SPAN", "XiaomiMM", "2024"], ["00\\_SPAN", "--", "2026"], ["09\\_RFDN\\_SPAN", "--", "2026"]]
    assert lines[1].endswith("& 0.317 & 19.67 & 1.90 & 29.00 / 0.8000 & 28.00 / 0.8000 \\\\")


def test_a_hand_edited_results_file_is_one_line_per_bad_value_and_loses_no_entry(tmp_path: Path) -> None:
    """Between two builds the sweep's file in ``--out`` was edited by hand: each value that is not what the atlas
    reads is n/a with one line naming the file, the model and the key; the other entries stay whole; an entry of a
    team no longer in the repository is left out, said so, never shown beside the fresh ones."""
    good = entry(3, "03_Small", 0.09, 5.81, 29.5, 0.7)
    bad = {**entry(29, "29_R2Net", 0.2151, 13.0461, 30.2, 1.4), "num_parameters": "0.2", "num_conv": 10.5,
           "activations": float("inf"), "year": "2024", "Set5_ave_psnr": float("nan"), "Set14_ave_ssim": [0.8],
           "complexity": ["fvcore"], "environment": "cpu", "Set5_reference_ratio_ci95": [1.0]}
    bad["Set14_reference_pairs"] = {"model": "x", "baseline": [[1.0]]}
    gone = entry(99, "99_Gone", 0.1, 5.0, 29.0, 1.0)
    results = tmp_path / "NTIRE2024_ESR.json"
    results.write_text(json.dumps({"03_Small": good, "29_R2Net": bad, "99_Gone\x1b[2J\n": gone}, allow_nan=True))
    atlas = build([Swept(results, 2024, "NTIRE2024_ESR", teams=(3, 29))], SETS, 2026)
    rows = {r["model"]: r for r in atlas.rows}
    assert sorted(rows) == ["03_Small", "29_R2Net"]
    assert rows["03_Small"]["params"] == 0.09 and rows["03_Small"]["ratio"] == pytest.approx(0.7)
    r2 = rows["29_R2Net"]
    assert r2["year"] == 2024 and r2["params"] is r2["conv"] is r2["activations"] is r2["flops_fvcore"] is None
    assert r2["psnr"] == {"Set5": None, "Set14": 29.2} and r2["ssim"] == {"Set5": 0.8, "Set14": None}
    assert r2["ratio"] is None and r2["ratio_ci95"] is None and r2["device"] is None  # no ratio of Set5 alone
    assert r2["ratio_sets"]["Set5"] == {"ratio": 1.4, "ci95": None}
    where = f"warning: {results}: model 29_R2Net: "
    assert atlas.warnings == [
        *(where + line + "; n/a in the atlas" for line in (
            "year is '2024', not a number", "complexity is ['fvcore'], not an object",
            "environment is 'cpu', not an object",
            "Set14_reference_pairs is {'model': 'x', 'baseline': [[1.0]]}, not an object of model and baseline times",
            "Set5_ave_psnr is NaN", "Set14_ave_ssim is [0.8], not a number", "num_parameters is '0.2', not a number",
            "activations is infinite", "num_conv is 10.5, not a whole number",
            "Set5_reference_ratio_ci95 is [1.0], not an interval of two figures")),
        f"warning: {results}: model 99_Gone\\n: team 99 is not in NTIRE2024_ESR any more; left out of the atlas (its "
        "entry stays in the file)"]
    table = output.frame(atlas.rows, SETS)  # a count that is not whole no longer stops the CSV
    assert table["conv"].isna().tolist() == [False, True]


def test_a_negative_team_id_is_a_team_and_counts_past_2_53_or_zero_times_are_one_line(tmp_path: Path) -> None:
    """A ``model_id == -1`` branch is a team the sweep runs (team_id -1): the atlas shows its id, no warning. A count
    of 1e308 (a hand-edited file) is one line and n/a, never an OverflowError from the CSV's integer column; paired
    times of 0 ms make no ratio (0 or infinite), one line instead."""
    negative = {**entry(-1, "-1_Negative", 0.09, 5.81, 29.5, 0.7)}
    negative["sweep"] = {**negative["sweep"], "team_id": -1}
    huge = {**entry(3, "03_Huge", 0.2, 5.0, 29.0, 1.0), "num_conv": 1e308, "year": 1e308}
    zero = entry(4, "04_Zero", 0.2, 5.0, 29.0, 1.0)
    zero["Set5_reference_pairs"] = {"model": [[1.0] * 5], "baseline": [[0.0] * 5]}
    results = tmp_path / "NTIRE2024_ESR.json"
    results.write_text(json.dumps({"-1_Negative": negative, "03_Huge": huge, "04_Zero": zero}))
    atlas = build([Swept(results, 2024, "NTIRE2024_ESR", teams=(-1, 3, 4))], SETS, 2026)
    rows = {r["model"]: r for r in atlas.rows}
    assert rows["-1_Negative"]["team_id"] == -1 and rows["-1_Negative"]["ratio"] == pytest.approx(0.7)
    assert rows["03_Huge"]["conv"] is None and rows["03_Huge"]["year"] == 2024
    assert rows["04_Zero"]["ratio"] is None and rows["04_Zero"]["ratio_ci95"] is None
    where = f"warning: {results}: model "
    assert atlas.warnings == [
        where + "03_Huge: year is 1e+308, too large for a count; n/a in the atlas",
        where + "03_Huge: num_conv is 1e+308, too large for a count; n/a in the atlas",
        where + "04_Zero: Set5_reference_pairs is a list holding a time of 0 ms (a timed forward takes longer: no "
                "ratio is made of it); n/a in the atlas"]
    table = pd.read_csv(io.StringIO(output.table_csv(atlas.rows, SETS)))
    assert table["team_id"].tolist() == [-1, 3, 4] and table["conv"].isna().tolist() == [False, True, False]


def test_csv_cells_a_spreadsheet_would_run_are_text(tmp_path: Path) -> None:
    """A team names its model ``=HYPERLINK(…)``: atlas.csv (and compare's leaderboard.csv) write it with a leading
    ``'``, so a spreadsheet shows the name instead of running it; numbers, negative ones too, are unchanged."""
    names = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)", "\tTab", "Plain-name"]
    rows = [{**entry(i, n, 0.1, 5.0, 29.0, 1.0), "sweep": {"source": "challenge", "team_id": i}}
            for i, n in enumerate(names)]
    results = tmp_path / "NTIRE2024_ESR.json"
    results.write_text(json.dumps(dict(zip(names, rows))))
    atlas = build([Swept(results, 2024, "NTIRE2024_ESR")], SETS, 2026)
    text = output.table_csv(atlas.rows, SETS)
    table = pd.read_csv(io.StringIO(text))
    assert sorted(table["model"]) == sorted(["'" + n for n in names[:5]] + ["Plain-name"])
    assert (table["psnr_Set14"] == 28.0).all() and table["ratio"].tolist() == pytest.approx([1.0] * 6)
    assert csv_text(pd.DataFrame({"team": ["=1+1", "ok"], "delta": [-1.5, 2.0]})) == "team,delta\n'=1+1,-1.5\nok,2.0\n"


def test_the_same_repository_twice_is_one_line(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "NTIRE2025_Fake")
    (tmp_path / "link").symlink_to(repo)
    (tmp_path / "x").mkdir()
    for again in (repo, tmp_path / "link", tmp_path / "x" / ".." / "NTIRE2025_Fake"):
        with pytest.raises(HarnessError) as err:
            sweeps.plan([repo, again], tmp_path / "out", False, True, None, 2026)
        assert str(err.value) == f"--challenge-repo {again}: given twice (as {repo}); give each repository once"
    other = tmp_path / "other" / "NTIRE2025_Fake"
    shutil.copytree(repo, other)
    with pytest.raises(HarnessError, match="another repository, .* has the folder name NTIRE2025_Fake"):
        sweeps.plan([repo, other], tmp_path / "out", False, True, None, 2026)


def test_a_repository_whose_results_would_be_the_atlas_s_own_file_is_one_line(tmp_path: Path) -> None:
    """A repository folder named ``atlas`` would have its results in ``atlas.json``, which the atlas then overwrote;
    one named ``network`` shared ``network.json`` with the --model network's sweep."""
    atlas_repo = make_repo(tmp_path / "atlas")
    with pytest.raises(HarnessError) as err:
        sweeps.plan([atlas_repo], tmp_path / "out", False, False, None, 2026)
    assert str(err.value) == (f"atlas: its results would be written to {tmp_path / 'out' / 'atlas.json'}, as the "
                              "atlas's own atlas.json is; give the repository's folder another name")
    assert sweeps.plan([atlas_repo], tmp_path / "out", True, False, None, 2026)  # atlas.dry-run.json: no clash
    network_repo = make_repo(tmp_path / "network")
    with pytest.raises(HarnessError,
                       match=r"^your network: its results would be written to .*network\.json, as network's"):
        sweeps.plan([network_repo], tmp_path / "out", False, False, ["--model", "arch.py:Net"], 2026)


def test_model_id_sweeps_only_those_teams_of_each_repository_and_shows_only_them(tmp_path: Path) -> None:
    """The atlas swept every team of every repository: a researcher placing a network among a few chosen entries had
    to sweep them all. ``--model_id`` picks teams in each repository; one that has none is skipped, in a line; an id
    no repository has is one line; entries and failures of teams not chosen, kept from an earlier build, stay in the
    file and out of this atlas."""
    full = make_repo(tmp_path / "NTIRE2025_Fake")
    small = make_repo(tmp_path / "NTIRE2025_Small")
    demo = small / "test_demo.py"
    demo.write_text(re.sub(r"model_id == (?:0|7):", "model_id == 70:", demo.read_text()))  # no 00, no 07
    said: list[str] = []
    planned = sweeps.plan([full, small], tmp_path / "out", True, False, None, 2026, [7, 0, 7], said.append)
    assert [(p.swept.source, p.swept.chosen, p.flags[-3:]) for p in planned] == [
        ("NTIRE2025_Fake", (7, 0), ["--model_id", "7", "0"])]
    assert said == ["atlas: NTIRE2025_Small has none of --model_id 7 0 7; not swept"]
    assert [p.swept.chosen for p in sweeps.plan([full], tmp_path / "out", True, False, None, 2026)] == [None]
    with pytest.raises(HarnessError) as err:
        sweeps.plan([full, small], tmp_path / "out", True, False, None, 2026, [0, 11])
    assert str(err.value).startswith("--model_id 11: no --challenge-repo has this team; their teams: NTIRE2025_Fake "
                                     "-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9; NTIRE2025_Small -1, 1, 2, 3, 4, 5, 6, 8, 9")
    results = tmp_path / "NTIRE2025_Fake.dry-run.json"  # an earlier build of every team: 00, 02 ran, 07 failed
    results.write_text(json.dumps({"00_A": entry(0, "00_A", 0.1, 5.0, 30.0, 1.0),
                                   "02_B": entry(2, "02_B", 0.2, 6.0, 30.0, 1.1)}))
    (tmp_path / "NTIRE2025_Fake.dry-run.failures.json").write_text(json.dumps({"07": "needs x", "09": "needs y"}))
    teams = tuple(range(-1, 10))
    chosen = build([Swept(results, 2025, "NTIRE2025_Fake", teams=teams, chosen=(7, 0))], SETS, 2026)
    assert [r["model"] for r in chosen.rows] == ["00_A"] and [f["label"] for f in chosen.failures] == ["07"]
    assert chosen.warnings == []  # chosen, not gone from the repository: no line
    every = build([Swept(results, 2025, "NTIRE2025_Fake", teams=teams)], SETS, 2026)
    assert [r["model"] for r in every.rows] == ["00_A", "02_B"] and len(every.failures) == 2


def test_a_failed_run_s_earlier_entry_and_earlier_networks_failures_are_left_out(tmp_path: Path) -> None:
    """MyNet ran once, then failed with a checkpoint that did not fit: the atlas showed the earlier run's row (other
    weights) beside this build's failure, and the failures of networks given in earlier builds; the network's failure
    counted as one of 2026's teams that could not run."""
    mine = tmp_path / "network.dry-run.json"
    mine.write_text(json.dumps({"MyNet": {**entry(0, "MyNet", 0.2, 5.0, 29.9, 1.2), "year": 2026,
                                          "sweep": {"source": "file", "team_id": 0}}}))
    (tmp_path / "network.dry-run.failures.json").write_text(json.dumps({
        "model-MyNet": "checkpoint w.pth does not fit MyNet", "model-Old": "--model Old: building it failed (x)"}))
    repo = tmp_path / "NTIRE2026_ESR.dry-run.json"
    repo.write_text(json.dumps({"00_SPAN": {**entry(0, "00_SPAN", 0.150688, 9.833807872, 30.0, 1.0), "year": 2026},
                                "01_PDS": {**entry(1, "01_PDS", 0.141748, 9.2536832, 29.9, 0.9), "year": 2026}}))
    (tmp_path / "NTIRE2026_ESR.dry-run.failures.json").write_text(json.dumps({"01": "timed out after 5 s"}))
    atlas = build([Swept(repo, 2026, "NTIRE2026_ESR", teams=(0, 1)),
                   Swept(mine, 2026, sweeps.NETWORK_SOURCE, mine=True, network="MyNet")], SETS, 2026)
    assert [r["model"] for r in atlas.rows] == ["00_SPAN"]
    assert [(f["source"], f["label"]) for f in atlas.failures] == [("NTIRE2026_ESR", "01"),
                                                                  (sweeps.NETWORK_SOURCE, "model-MyNet")]
    assert atlas.warnings == [f"warning: {where}: model {name}: its latest run failed (the line of its failure is in "
                              "the atlas), so this entry is an earlier run's; left out of the atlas (its entry stays "
                              "in the file)" for where, name in ((repo, "01_PDS"), (mine, "MyNet"))]
    assert summary(atlas) == ["NTIRE 2026: 1 measured, 1 could not run; published: 1 matched by name or id, 0 by "
                              "figures; 0 equal at the printed precision"]  # activations and conv made up


def test_the_sweeps_get_absolute_paths_wherever_the_atlas_was_started(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweeps run in the checkout: a relative --model, --checkpoint, --dataset or --model_zoo given from another
    folder named files that were not there, and the network's sweep exited with status 2."""
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["--challenge-repo", "repo", "--dataset", "data/Set5", "--model_zoo", "zoo",
                                      "--model", "my nets/arch.py:MyNet", "--checkpoint", "w.pth"])
    assert network_flags(args) == ["--model", f"{tmp_path / 'my nets' / 'arch.py'}:MyNet", "--data-range", "255",
                                   "--checkpoint", str(tmp_path / "w.pth")]
    assert shared_flags(args)[:6] == ["--dataset", str(tmp_path / "data" / "Set5"), "--ssim", "--reference", "2026",
                                      "--model_zoo"] and shared_flags(args)[6] == str(tmp_path / "zoo")
    assert shared_flags(build_parser().parse_args(["--challenge-repo", "repo", "--profile-only", "--run-as", "esr"])) \
        == ["--profile-only", "--team-env", "none", "--run-as", "esr"]


@pytest.mark.parametrize("flags, why", [
    (["--runs", "0"], "--runs 0: must be at least 1"), (["--timeout", "-1"], "--timeout -1.0: must be a positive"),
    (["--memory-cap", "nan"], "--memory-cap nan: must be a positive number of GB"),
    (["--device", "cuda"], "--cpu-dry-run runs every team on the CPU"),
    (["--ray", "auto", "--devices", "cuda:0"], "--ray places each team on a GPU of the cluster itself")])
def test_the_sweeps_flags_are_one_line_before_any_sweep(tmp_path: Path, flags: list[str], why: str) -> None:
    """Each was refused by every sweep in turn, after which the atlas was written anyway, empty, and the build ended
    with 'the sweep … exited with status 2'."""
    code, out, err = run_main(atlas_main, ["--challenge-repo", str(tmp_path), "--cpu-dry-run", "--dataset",
                                           str(tmp_path), "--out", str(tmp_path / "atlas"), *flags])
    assert code == 2 and out == "" and err.startswith(f"error: {why}") and err.count("\n") == 1, err
    assert not (tmp_path / "atlas").exists()


def test_a_winner_names_its_repository_id_so_the_page_can_say_why_it_did_not_run() -> None:
    first = placement.winner(2026, [])  # 2026's first place by its rules: team 22, whose CUDA operator needs a GPU
    assert (first["team"], first["team_id"], first["model"]) == ("22_SPANV2_ESR_C2", 22, None)
    assert placement.winner(2024, [])["team_id"] == 38  # XiaomiMM, SPAN: an id given in Table 1's data


def test_two_builds_into_one_folder_write_their_files_one_after_the_other(tmp_path: Path) -> None:
    """Two atlases built into one --out at once each wrote atlas.json, .csv and .tex as they finished: the folder could
    hold one build's JSON beside the other's CSV and LaTeX. A build writes its three under one lock."""
    from benchmark.core.files import locked

    texts = dict(zip(output.FILES, ("{}\n", "a\n", "t\n")))
    with locked(tmp_path / "atlas.json"):  # another build writing its files
        writer = threading.Thread(target=output.write, args=(tmp_path, texts))
        writer.start()
        writer.join(0.5)
        assert writer.is_alive() and not (tmp_path / "atlas.csv").exists()
    writer.join(10)
    assert {name: (tmp_path / name).read_text() for name in output.FILES} == texts
