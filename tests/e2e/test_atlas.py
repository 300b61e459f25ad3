"""The atlas (``python -m benchmark.atlas``), CI-sized: a made-up 2025 repository of three teams that run and one that
cannot, plus a network given as a file, on Set5 twice (ten pairs, the fewest that give an interval), as a CPU dry run,
every entry timed beside the 2026 baseline SPAN; the files it writes, a second build that redoes only what changed,
the published figures matched by figures in a sweep, one-line mistakes, and the filled "Across years" page in a real
Chromium.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from helpers import PROJECT, Tiny, make_repo, opened, run_main, served, shared_file, sweep_here

from benchmark.atlas.__main__ import main as atlas_main
from benchmark.measure.complexity import measure
from benchmark.record.store import read_results
from benchmark.web.atlas import YEAR_COLOURS
from benchmark.web.svg import COLOURS

ARTIFACTS = PROJECT / "tests" / "artifacts" / "site"
"""Where the browser tests keep their screenshots (ignored by git)."""
NET = '''\
import torch
from torch import nn


class MyNet(nn.Module):
    def __init__(self, feats=6):
        super().__init__()
        self.body = nn.Conv2d(3, feats, 3, padding=1)
        self.tail = nn.Conv2d(feats, 48, 3, padding=1)
        self.up = nn.PixelShuffle(4)

    def forward(self, x):
        return self.up(self.tail(torch.relu(self.body(x))))
'''


def atlas_repo(root: Path) -> Path:
    """The fake repository of tests/helpers.py (a 2025 year), less the teams that hang, hog memory or crash and those
    kept for the sweep's own cases (-1, 05, 08, 09): teams 00, 01, 02 run; 07 needs a package that does not exist."""
    make_repo(root)
    text = (root / "test_demo.py").read_text()
    text = re.sub(r"    elif model_id == (?:[345689]|-1):\n(?:        .*\n)+", "", text)
    (root / "test_demo.py").write_text(text)
    return root


def network(folder: Path, seed: int) -> dict[str, Path]:
    """arch.py (MyNet) in ``folder``, outside the checkout, and MyNet's weights drawn with ``seed``."""
    folder.mkdir(exist_ok=True)
    (folder / "arch.py").write_text(NET)
    torch.manual_seed(seed)
    torch.save(namespace_net(folder / "arch.py").state_dict(), folder / "w.pth")
    return {"arch": folder / "arch.py", "weights": folder / "w.pth"}


def namespace_net(arch: Path, **kwargs: Any) -> torch.nn.Module:
    """MyNet of ``arch`` built with ``kwargs``."""
    namespace: dict[str, Any] = {}
    exec(compile(arch.read_text(), str(arch), "exec"), namespace)  # noqa: S102 - the test's own network
    return namespace["MyNet"](**kwargs)


def run_atlas(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmark.atlas", *map(str, args)], cwd=PROJECT, capture_output=True,
                          text=True, timeout=900)


@pytest.fixture(scope="module")
def built(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("atlas")
    repo = atlas_repo(tmp / "NTIRE2025_Fake")
    mine = network(tmp / "mine", seed=1)
    args = ["--challenge-repo", repo, "--dataset", shared_file("data", "Set5"), "--cpu-dry-run", "--runs", "2",
            "--model", f"{mine['arch']}:MyNet", "--checkpoint", mine["weights"], "--data-range", "1",
            "--model_zoo", shared / "reference" / "model_zoo", "--out", tmp / "atlas", "--site", tmp / "site"]
    proc = run_atlas(*args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    return {"tmp": tmp, "args": args, "proc": proc, "mine": mine, "out": tmp / "atlas", "site": tmp / "site",
            "atlas": json.loads((tmp / "atlas" / "atlas.json").read_text())}


def test_every_entry_has_its_figures_and_its_ratio_to_span(built: dict) -> None:
    atlas = built["atlas"]
    said = (built["proc"].stderr + built["proc"].stdout).splitlines()  # a dry run's nulls are n/a, not bad values
    assert [line for line in said if "warning" in line and "the machine was busy" not in line] == []  # (load: noise)
    assert atlas["atlas"]["sets"] == ["Set5"] and atlas["atlas"]["reference"] == {"year": 2026, "name": "00_SPAN"}
    rows = {row["model"]: row for row in atlas["rows"]}
    assert sorted(rows) == ["002_Other", "00_Tiny", "1_Spaced", "MyNet"]
    tiny = measure(Tiny())
    for row in rows.values():
        assert row["dry_run"] is True and row["reference"] == "00_SPAN" and row["device"]
        low, high = row["ratio_ci95"]
        assert 0 < low <= row["ratio"] <= high and row["ratio"] == row["ratio_sets"]["Set5"]["ratio"]
        assert row["psnr"]["Set5"] > 0 and 0 < row["ssim"]["Set5"] < 1 and row["sweep_wall_seconds"] > 0
    assert rows["00_Tiny"]["params"] == tiny["params"] / 1e6 and rows["00_Tiny"]["flops_fvcore"] == \
        tiny["fvcore_flops"] / 1e9 and rows["00_Tiny"]["flops_hooks"] == tiny["flops"] / 1e9
    assert rows["MyNet"]["mine"] is True and rows["MyNet"]["year"] == 2026 and rows["MyNet"]["published"] is None
    entries = read_results(built["out"] / "NTIRE2025_Fake.dry-run.json")
    assert entries["00_Tiny"]["Set5_ave_runtime"] is None  # a dry run holds no runtime of record, only the ratio
    assert entries["00_Tiny"]["Set5_reference_ratio"] == rows["00_Tiny"]["ratio"]
    assert entries["00_Tiny"]["sweep"]["settings"]["reference"] == 2026


def test_published_figures_failures_winners_and_your_network(built: dict) -> None:
    atlas, out = built["atlas"], built["proc"].stdout
    rows = {row["model"]: row for row in atlas["rows"]}
    efdn = rows["00_Tiny"]["published"]  # team 00 of a 2025 repository is the EFDN baseline's row, by id
    assert (efdn["name"], efdn["matched_by"], efdn["match"]) == ("00_EFDN_baseline", "id", False)
    assert efdn["explanation"].startswith("not explained") and efdn["ave_t_on_reference_scale"] is None
    assert rows["1_Spaced"]["published"]["name"] is None and rows["1_Spaced"]["team"] is None
    assert atlas["failures"] == [{"year": 2025, "source": "NTIRE2025_Fake", "label": "07", "reason":
                                  "needs the package 'no_such_package_here' (ModuleNotFoundError in "
                                  "models/team07_Needs.py:2)"}]
    assert atlas["winners"] == [{"year": 2025, "team": None, "why": atlas["winners"][0]["why"]}]
    assert "no per-team results of 2025 are published" in atlas["winners"][0]["why"]
    years = (built["site"] / "years.html").read_text()  # a dry run ranks no one: said so, not "no baseline given"
    assert "<td>00_EFDN_baseline: not in the 2025 inputs</td>" in years
    assert "<td>none: no entry has a runtime of record (a CPU dry run times on the CPU), so none is ranked</td>" in years
    assert atlas["scales"]["2025"]["factor"] is None and atlas["bridges"][0]["network"] == "SPAN"
    verdicts = [v for v in atlas["verdicts"] if v["cost"] == "params"]
    assert len(verdicts) == 1 and verdicts[0]["year"] == 2025 and verdicts[0]["line"] in out
    beaten = verdicts[0]["dominated_by"]
    mine = rows["MyNet"]
    for key in beaten:
        other = rows[key.split("/", 1)[1]]
        assert other["params"] <= mine["params"] and other["psnr"]["Set5"] >= mine["psnr"]["Set5"]
    assert verdicts[0]["on_front"] is (not beaten)
    assert "NTIRE 2025: 3 measured, 1 could not run; published: 1 matched by name or id, 0 by figures" in out
    assert re.search(r"from scratch: 4 entries, \d+ team-seconds", out)


def test_csv_and_latex_hold_the_same_figures(built: dict) -> None:
    table = pd.read_csv(built["out"] / "atlas.csv")
    rows = {row["model"]: row for row in built["atlas"]["rows"]}
    assert sorted(table["model"]) == sorted(rows)
    for _, line in table.iterrows():
        row = rows[line["model"]]
        assert line["psnr_Set5"] == pytest.approx(row["psnr"]["Set5"], rel=1e-12)
        assert line["ratio_ci95_low"] == pytest.approx(row["ratio_ci95"][0], rel=1e-12)
    assert table.loc[table["model"] == "00_Tiny", "published_team"].item() == "00_EFDN_baseline"
    tex = (built["out"] / "atlas.tex").read_text()
    assert "\\begin{tabular}" in tex and re.search(r"^MyNet & -- & 2026 & 0\.00\d & ", tex, re.MULTILINE)
    assert "00\\_SPAN" in tex and "Set5" in tex


def test_a_second_build_redoes_only_what_changed(built: dict) -> None:
    again = run_atlas(*built["args"])
    assert again.returncode == 0, again.stderr
    assert "[NTIRE2025_Fake] sweep: 4 team(s)" in again.stdout and "3 up to date" in again.stdout
    assert "[your network] sweep: 1 team(s)" in again.stdout and "0 to run, 1 up to date" in again.stdout
    assert json.loads((built["out"] / "atlas.json").read_text())["rows"] == built["atlas"]["rows"]
    network(built["mine"]["arch"].parent, seed=2)  # new weights for your network: it alone runs again
    changed = run_atlas(*built["args"])
    assert changed.returncode == 0 and "[your network] sweep: 1 team(s)" in changed.stdout
    assert "MyNet's entry is out of date" in changed.stdout and "3 up to date" in changed.stdout
    rows = {r["model"]: r for r in json.loads((built["out"] / "atlas.json").read_text())["rows"]}
    assert rows["MyNet"]["psnr"] != {r["model"]: r for r in built["atlas"]["rows"]}["MyNet"]["psnr"]


def test_a_few_chosen_teams_and_your_network(built: dict, tmp_path: Path) -> None:
    """--model_id: a researcher places a network among chosen entries without sweeping every team; the teams of an
    earlier full build stay in the results file and out of this atlas."""
    out = tmp_path / "atlas"
    shutil.copytree(built["out"], out)
    args = [*built["args"][:built["args"].index("--out")], "--out", out, "--model_id", 0, 7]
    proc = run_atlas(*args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "[NTIRE2025_Fake] sweep: 2 team(s)" in proc.stdout and "1 up to date" in proc.stdout
    atlas = json.loads((out / "atlas.json").read_text())
    assert sorted(r["model"] for r in atlas["rows"]) == ["00_Tiny", "MyNet"]
    assert [f["label"] for f in atlas["failures"]] == ["07"]
    assert sorted(read_results(out / "NTIRE2025_Fake.dry-run.json")) == ["002_Other", "00_Tiny", "1_Spaced"]
    assert "NTIRE 2025: 1 measured, 1 could not run" in proc.stdout
    assert [line for line in proc.stdout.splitlines() if "warning" in line and "the machine was busy" not in line] == []


def test_a_profile_only_atlas_has_complexity_and_no_data(built: dict, tmp_path: Path) -> None:
    code, out, err = run_main(atlas_main, [str(a) for a in (
        "--challenge-repo", built["tmp"] / "NTIRE2025_Fake", "--profile-only", "--out", tmp_path / "atlas")])
    assert code == 0, err
    assert (tmp_path / "atlas" / "NTIRE2025_Fake.profile.json").is_file()  # apart from a full build's entries
    atlas = json.loads((tmp_path / "atlas" / "atlas.json").read_text())
    assert atlas["atlas"]["profile_only"] is True and atlas["atlas"]["sets"] == []
    rows = {row["model"]: row for row in atlas["rows"]}
    assert sorted(rows) == ["002_Other", "00_Tiny", "1_Spaced"] and rows["00_Tiny"]["params"] == \
        measure(Tiny())["params"] / 1e6
    assert all(row["ratio"] is None and row["psnr"] == {} for row in rows.values())
    assert [f["label"] for f in atlas["failures"]] == ["07"] and "from scratch: 3 entries" in out


def test_mistakes_are_one_line_before_any_sweep(built: dict, tmp_path: Path) -> None:
    repo = built["tmp"] / "NTIRE2025_Fake"
    (tmp_path / "file").write_text("")
    for argv, why in (([], "nothing to measure"),
                      (["--challenge-repo", repo, "--profile-only", "--dataset", "x"], "drop --dataset"),
                      (["--challenge-repo", repo], "pass the sets to run with --dataset"),
                      (["--challenge-repo", tmp_path / "nowhere", "--profile-only", "--out", tmp_path / "o"],
                       "nowhere"),
                      (["--model", f"{tmp_path / 'none.py'}:X", "--profile-only"], "none.py not found"),
                      (["--challenge-repo", repo, "--profile-only", "--out", tmp_path / "file"],
                       "a file, not a folder"),
                      (["--challenge-repo", repo, "--profile-only", "--reference", "2019"], "--reference 2019"),
                      (["--model", f"{repo}/models/team00_Tiny.py:Tiny", "--profile-only", "--site", tmp_path / "s"],
                       "add --challenge-repo"),
                      (["--model", f"{repo}/models/team00_Tiny.py:Tiny", "--profile-only", "--model_id", "0"],
                       "--model_id picks teams of a --challenge-repo"),
                      (["--challenge-repo", repo, "--profile-only", "--model_id", "0", "42", "--out", tmp_path / "o"],
                       "--model_id 42: no --challenge-repo has this team; their teams: NTIRE2025_Fake 0, 1, 2, 7")):
        code, out, err = run_main(atlas_main, [str(a) for a in argv])
        assert code == 2 and err.count("\n") == 1 and why in err and "Traceback" not in err, (argv, err)
    assert not (tmp_path / "o").exists()


def test_a_sweep_matches_rows_without_an_id_by_their_unique_figures(built: dict, tmp_path: Path) -> None:
    """Teams 00 and 02 are the same network (Tiny, 8 features): a table with two rows of those figures cannot tell
    them apart; team 01 (4 features) is the one row with its figures."""
    def row(team: str, feats: int) -> dict:
        figures = measure(Tiny(feats))
        return {"team": team, "team_id": None, "params_M": round(figures["params"] / 1e6, 3),
                "flops_G": round(figures["fvcore_flops"] / 1e9, 2), "val_psnr": 26.9, "ave_runtime_ms": 5.0}

    table = tmp_path / "table.json"
    table.write_text(json.dumps({"rows": [row("Fours", 4), row("Eights A", 8), row("Eights B", 8)]}))
    results = tmp_path / "R.json"
    proc = sweep_here("--challenge-repo", built["tmp"] / "NTIRE2025_Fake", "--profile-only", "--results", results,
                      "--published", table, "--model_id", 0, 1)
    assert proc.returncode == 0, proc.stderr
    entries = read_results(results)
    one = entries["1_Spaced"]["published"]
    assert (one["name"], one["matched_by"], one["match"]) == ("Fours", "figures", True)
    assert one["reported"] == {"val_psnr": 26.9, "ave_t": 5.0, "gpu": None}
    zero = entries["00_Tiny"]["published"]
    assert zero["name"] is None and zero["candidates"] == ["Eights A", "Eights B"]
    assert "= 2/2 (by figures: Fours)" in proc.stdout and "ambiguous: its figures equal Eights A and" in proc.stdout


# --- the filled page in a real browser ------------------------------------------------------------------------------


def test_browser_the_atlas_sorts_filters_and_links_every_point(browser: Any, built: dict) -> None:
    with served(built["site"]) as base, opened(browser, base + "years.html") as (page, problems):
        rows = page.eval_on_selector_all("#atlas tbody tr", "rows => rows.map(r => r.dataset.team)")
        assert sorted(rows) == ["002_Other", "00_Tiny", "1_Spaced", "MyNet"]
        page.click('#atlas th[data-key="params"] button')
        index = page.eval_on_selector_all("#atlas thead th", "ths => ths.findIndex(th => th.dataset.key === 'params')")
        params = page.eval_on_selector_all("#atlas tbody tr", f"rows => rows.map(r => Number(r.cells[{index}]"
                                           ".dataset.sort))")
        assert params == sorted(params) and len(set(params)) == 3 and params[0] == measure(Tiny(4))["params"] / 1e6
        page.fill('input[data-filter="atlas"]', "2026")
        visible = page.eval_on_selector_all("#atlas tbody tr:not([hidden])", "rows => rows.map(r => r.dataset.team)")
        assert visible == ["MyNet"] and page.text_content('[data-count="atlas"]') == "1 of 4 shown"
        page.fill('input[data-filter="atlas"]', "ntire2025_fake")
        assert page.text_content('[data-count="atlas"]') == "3 of 4 shown"
        page.fill('input[data-filter="atlas"]', "")
        fills = page.eval_on_selector_all("svg.plot a", "els => els.map(e => [e.dataset.name, "
                                          "e.querySelector('circle').getAttribute('fill')])")
        assert {name: fill for name, fill in fills} == {  # each year's colour; yours black
            **{name: YEAR_COLOURS[2025] for name in ("002_Other", "00_Tiny", "1_Spaced")}, "MyNet": COLOURS["mine"]}
        assert page.locator("svg.plot polyline.frontier").count() == 3  # the front on each cost's plot
        page.hover('svg.plot a[data-name="MyNet"] circle >> nth=0')
        assert page.is_visible("#tip") and page.text_content("#tip") == "MyNet"
        anchors = page.eval_on_selector_all("svg.plot a", "els => els.map(e => e.getAttribute('href'))")
        ids = set(page.eval_on_selector_all("#atlas tbody tr", "rows => rows.map(r => r.id)"))
        assert len(anchors) == 3 * 4 and {a.removeprefix("#") for a in anchors} == ids
        page.click('svg.plot a[data-name="1_Spaced"] circle >> nth=0')
        assert page.evaluate("location.hash") in {f"#{i}" for i in ids}
        assert "needs the package" in page.text_content("body") and "Your network" in page.text_content("body")
        for href in page.eval_on_selector_all("#atlas a[href]", "els => els.map(e => e.href)"):
            assert page.request.get(href).status == 200, href
        assert problems == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with opened(browser, (built["site"] / "years.html").as_uri(), 390) as (page, problems):  # a phone
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the table scrolls in its own box
        page.screenshot(path=str(ARTIFACTS / "atlas_390.png"), full_page=True)
        assert problems == []


def test_your_network_with_other_arguments_runs_again_and_an_earlier_one_is_left_out(tmp_path: Path) -> None:
    """The file's hash was the --model entry's whole identity: new --model-args (or --data-range) kept the figures of
    the old constructor as "up to date", and a network given in an earlier build (another --name) stayed in the
    atlas beside this build's as a second "yours"."""
    mine = network(tmp_path / "mine", seed=1)
    out = tmp_path / "atlas"
    base = ["--profile-only", "--out", str(out), "--model", f"{mine['arch']}:MyNet"]

    def rows(*extra: str) -> tuple[dict[str, Any], str]:
        code, stdout, err = run_main(atlas_main, [*base, *extra])
        assert code == 0, err
        return {r["model"]: r for r in json.loads((out / "atlas.json").read_text())["rows"]}, stdout

    first, log = rows()
    assert "MyNet: not placed, a --profile-only atlas has no PSNR to set against the costs" in log  # was silent
    assert first["MyNet"]["params"] == measure(namespace_net(mine["arch"], feats=6))["params"] / 1e6
    again, log = rows("--model-args", '{"feats": 3}')
    assert "MyNet's entry is out of date (other --model-args or --data-range); it runs again" in log
    assert again["MyNet"]["params"] == measure(namespace_net(mine["arch"], feats=3))["params"] / 1e6
    _, log = rows("--model-args", '{"feats": 3}', "--data-range", "1")
    assert "MyNet's entry is out of date (other --model-args or --data-range)" in log
    renamed, log = rows("--model-args", '{"feats": 3}', "--data-range", "1", "--name", "Renamed")
    assert sorted(renamed) == ["Renamed"] and renamed["Renamed"]["mine"]
    assert (f"warning: {out.resolve() / 'network.profile.json'}: model MyNet: not the --model network of this build "
            "(Renamed) but an earlier one; left out of the atlas (its entry stays in the file)") in log
    assert sorted(read_results(out / "network.profile.json")) == ["MyNet", "Renamed"]  # nothing lost


def test_two_repositories_of_one_year_with_one_team_name_get_the_atlas_and_a_fix_that_works(
        built: dict, tmp_path: Path) -> None:
    """A fork beside the official repository: the atlas holds both, the leaderboard cannot (one row per name), and
    the line says how to build the site from one of them; that command then builds it."""
    fork = tmp_path / "NTIRE2025_Fork"
    shutil.copytree(built["tmp"] / "NTIRE2025_Fake", fork)
    proc = run_atlas("--challenge-repo", built["tmp"] / "NTIRE2025_Fake", "--challenge-repo", fork, "--profile-only",
                     "--out", tmp_path / "atlas", "--site", tmp_path / "site")
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr
    line = proc.stderr.strip()
    assert line.count("\n") == 0 and "Traceback" not in line
    assert "NTIRE2025_Fake.profile.json and NTIRE2025_Fork.profile.json both have a model named 00_Tiny" in line
    assert len(json.loads((tmp_path / "atlas" / "atlas.json").read_text())["rows"]) == 6
    command = line.partition("(python ")[2].removesuffix(")").split()
    assert command[:2] == ["-m", "benchmark.site"]
    fixed = subprocess.run([sys.executable, *command], cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert fixed.returncode == 0, fixed.stderr
    assert (tmp_path / "site" / "index.html").is_file()
