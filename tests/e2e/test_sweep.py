"""Organizer mode (``python -m benchmark.sweep``): a challenge repository's whole zoo, each team in its own process,
resumable, locally and on Ray; and this project's registered teams through the same mechanism.

The official 2026 repository is read in place from ``../shared/challenges/NTIRE2026_ESR`` (skipped, with the reason,
when absent); the behaviours no real team shows on demand (a hang, a memory blow-up, a segfault, a changed file) come
from a tiny challenge repository each test writes into its tmp_path.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import py_compile
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import (
    FAST,
    PROJECT,
    TINY,
    Tiny,
    add_branch,
    failures,
    make_repo,
    ran,
    shared_file,
    sweep,
    sweep_here,
)
from rich.console import Console

import test_demo
from benchmark import sweep as sweep_module
from benchmark.cli import pick_splits, settings_of
from benchmark.core.files import sha256_of
from benchmark.measure.complexity import measure
from benchmark.organizer.challenge import read_repository
from benchmark.organizer.dispatch import Limits, Slot, run_local
from benchmark.organizer.driver import Driver, Row
from benchmark.organizer.plan import repository_jobs
from benchmark.record.store import read_results

# --- the official 2026 repository -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def challenge(shared: Path) -> Path:
    return shared_file("challenges", "NTIRE2026_ESR", "test_demo.py").parent


@pytest.fixture(scope="module")
def repo_sweep(challenge: Path, shared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every team of the 2026 repository on Set5, on this machine's CPU."""
    results = tmp_path_factory.mktemp("sweep2026") / "ntire2026.json"
    proc = sweep("--challenge-repo", challenge, "--dataset", shared / "data" / "Set5", "--results", results, *FAST)
    return {"proc": proc, "results": results}


# The official steps of the repository's run(): imread_uint → uint2tensor4 → forward → tensor2uint, HR modcrop,
# calculate_psnr with a 4-pixel border, all from its own utils/utils_image.py, the team built by its select_model.
OFFICIAL_PSNR = r"""
import argparse, importlib.util, json, sys, types
import torch
if importlib.util.find_spec("torchvision") is None:  # utils_image imports make_grid, which none of these steps uses
    tv = types.ModuleType("torchvision"); tv.utils = types.ModuleType("torchvision.utils"); tv.utils.make_grid = None
    sys.modules.update({"torchvision": tv, "torchvision.utils": tv.utils})
from utils import utils_image as util
spec = importlib.util.spec_from_file_location("official_test_demo", "test_demo.py")
demo = importlib.util.module_from_spec(spec)
spec.loader.exec_module(demo)
team, pairs = int(sys.argv[1]), json.loads(sys.argv[2])
args = argparse.Namespace(model_id=team, data_dir="../", save_dir="../results", include_test=False, ssim=False,
                          hybrid_test=False)
model, name, data_range, tile = demo.select_model(args, torch.device("cpu"))
psnr = {}
for image, lr, hr in pairs:
    img_lr = util.uint2tensor4(util.imread_uint(lr, n_channels=3), data_range)
    img_sr = util.tensor2uint(demo.forward(img_lr, model, tile), data_range)
    img_hr = util.modcrop(util.imread_uint(hr, n_channels=3).squeeze(), 4)
    psnr[image] = util.calculate_psnr(img_sr, img_hr, border=4)
print(json.dumps({"name": name, "psnr": psnr}))
"""


def official_psnr(repo: Path, team: int, dataset: Path) -> dict:
    """The team's per-image PSNR as the repository's own code computes it, in a process of its own (cwd = repo)."""
    pairs = [[hr.stem, str(dataset / "LR_bicubic" / "X4" / f"{hr.stem}x4.png"), str(hr)]
             for hr in sorted((dataset / "HR").glob("*.png"))]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # nothing is written into the repository
    proc = subprocess.run([sys.executable, "-c", OFFICIAL_PSNR, str(team), json.dumps(pairs)], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_repository_sweep_runs_every_team_it_can_and_names_why_not_the_others(repo_sweep: dict, challenge: Path,
                                                                                shared: Path) -> None:
    proc, results = repo_sweep["proc"], repo_sweep["results"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    ids = sorted({int(n) for n in re.findall(r"model_id == (\d+)", (challenge / "test_demo.py").read_text())})
    entries = read_results(results)
    built = {e["sweep"]["team_id"]: name for name, e in entries.items()}
    failed = failures(results)
    assert sorted([*built, *map(int, failed)]) == ids  # every team: an entry or a reason, never both
    assert not set(built) & set(map(int, failed))
    assert len(built) >= 3, failed
    names = {img.stem for img in (shared / "data" / "Set5" / "HR").glob("*.png")}
    for name, entry in entries.items():
        assert name == name.strip() and entry["year"] == 2026 and entry["flops_counter"] == "fvcore"
        assert sorted(entry["Set5_images"]) == sorted(names) and len(entry["Set5_psnr"]) == len(names)
        assert entry["num_parameters"] > 0 and entry["complexity"]["fvcore_flops"] > 0
        assert entry["checkpoint"]["path"].startswith(str(challenge / "model_zoo"))
        assert any(p.startswith("models/") for p in entry["sweep"]["inputs"])
    if 9 in built:
        assert built[9] == "009_RFDN_SPAN"  # as the repository writes it
    for team, reason in failed.items():
        assert reason and "\n" not in reason
        assert re.search(rf"^team {team}: ", proc.stdout, re.MULTILINE)
        assert (results.with_name(results.stem + ".sweep") / f"{team}.log").is_file()
    if not torch.cuda.is_available():
        assert failed["00"].startswith("needs CUDA (") and "models/team00_SPAN.py:" in failed["00"]
    assert "mamba_ssm" in failed["05"] or "model_zoo/team05_1_4mamba_single_arch.pth not found" in failed["05"]
    if importlib.util.find_spec("timm") is None:
        assert failed["19"].startswith("needs the package") and "'timm'" in failed["19"]
        assert "models/team19_BVIESR.py:" in failed["19"]


def test_repository_entries_equal_the_repositorys_own_psnr(repo_sweep: dict, challenge: Path, shared: Path) -> None:
    entries = {e["sweep"]["team_id"]: e for e in read_results(repo_sweep["results"]).values()}
    checked = [team for team in (9, 15, 20, 21, 18) if team in entries][:3]
    assert len(checked) == 3, sorted(entries)
    for team in checked:
        official = official_psnr(challenge, team, shared / "data" / "Set5")
        entry = entries[team]
        ours = dict(zip(entry["Set5_images"], entry["Set5_psnr"], strict=True))
        assert ours.keys() == official["psnr"].keys()
        for image, value in official["psnr"].items():
            assert ours[image] == pytest.approx(value, abs=1e-9), (team, image)
        assert official["name"].strip() in read_results(repo_sweep["results"])


def test_a_rerun_skips_the_teams_that_are_up_to_date(repo_sweep: dict, challenge: Path, shared: Path) -> None:
    results = repo_sweep["results"]
    before = results.read_text()
    built = sorted(e["sweep"]["team_id"] for e in read_results(results).values())
    proc = sweep_here("--challenge-repo", challenge, "--dataset", shared / "data" / "Set5", "--results", results,
                      "--model_id", *built, *FAST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ran(proc) == set()
    assert proc.stdout.count("skipped") == len(built)
    assert results.read_text() == before


def test_ray_sweep_gives_the_local_entries(repo_sweep: dict, challenge: Path, shared: Path,
                                           tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="ray is not installed: pip install -r requirements.txt")

    local = {e["sweep"]["team_id"]: (n, e) for n, e in read_results(repo_sweep["results"]).items()}
    teams = [t for t in (9, 20, 15) if t in local][:2] + [0]
    environ = dict(os.environ)  # ray.init sets variables (its auth mode …) that the sweep's driver must see
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        address = ray.get_runtime_context().gcs_address
        results = tmp_path / "ray.json"
        proc = sweep("--challenge-repo", challenge, "--dataset", shared / "data" / "Set5", "--results", results,
                     "--model_id", *teams, "--runs", "1", "--warmup", "0", "--device", "cpu", "--ray", address)
    finally:
        ray.shutdown()
        os.environ.clear()
        os.environ.update(environ)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert ran(proc) == set(teams[:-1])
    remote = read_results(results)
    for team in teams[:-1]:
        name, entry = local[team]
        for key in ("Set5_images", "Set5_psnr", "complexity", "num_parameters", "flops", "activations", "num_conv",
                    "checkpoint", "code_sha256", "data_range"):
            assert remote[name][key] == entry[key], (team, key)
        assert remote[name]["sweep"]["inputs"] == entry["sweep"]["inputs"]
    assert failures(results) == {"00": failures(repo_sweep["results"])["00"]}
    assert (results.with_name("ray.sweep") / "00.log").read_text().strip()  # the log came back from the task


# --- a made-up challenge repository -------------------------------------------------------------------------------


@pytest.fixture
def fake(tmp_path: Path, shared: Path) -> dict:
    repo = make_repo(tmp_path / "NTIRE_fake_ESR")
    results = tmp_path / "out" / "fake.json"
    return {"repo": repo, "results": results, "args": ["--challenge-repo", repo, "--dataset", shared / "data" / "Set5",
                                                       "--results", results, *FAST]}


def test_made_up_repository_ids_year_and_branches(fake: dict) -> None:
    repo = read_repository(fake["repo"])
    assert repo.team_ids == [-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert repo.year == 2025
    assert repo.branches[1].checkpoints == ("model_zoo/team01_slow.pth",)
    assert repo.branches[2].checkpoints == ("model_zoo/team02_other.pth",)
    assert "elif model_id == 1:" in repo.branches[1].text and "model_id == 2" not in repo.branches[1].text


def test_resume_force_and_changed_inputs(fake: dict) -> None:
    results, teams = fake["results"], ["--model_id", "0", "1", "2"]
    first = sweep_here(*fake["args"], *teams)
    assert first.returncode == 0, first.stderr
    assert ran(first) == {0, 1, 2}
    entries = read_results(results)
    assert set(entries) == {"00_Tiny", "1_Spaced", "002_Other"}  # stray spaces gone, 002 as written
    assert entries["1_Spaced"]["data_range"] == 255.0 and entries["1_Spaced"]["year"] == 2025
    assert entries["1_Spaced"]["sweep"]["inputs"].keys() == {"model_zoo/team01_slow.pth", "models/team01_Slow.py"}

    assert ran(sweep_here(*fake["args"], *teams)) == set()
    assert read_results(results) == entries
    assert ran(sweep_here(*fake["args"], *teams[:2], "--force")) == {0}

    torch.manual_seed(99)
    torch.save(Tiny(4).state_dict(), fake["repo"] / "model_zoo" / "team01_slow.pth")
    with open(fake["repo"] / "models" / "team02_Other.py", "a") as f:
        f.write("# a comment changes the team's code\n")
    assert ran(sweep_here(*fake["args"], *teams)) == {1, 2}
    now = read_results(results)
    assert now["1_Spaced"]["sweep"]["inputs"]["model_zoo/team01_slow.pth"] != \
        entries["1_Spaced"]["sweep"]["inputs"]["model_zoo/team01_slow.pth"]
    assert now["002_Other"]["code_sha256"] != entries["002_Other"]["code_sha256"]

    demo = fake["repo"] / "test_demo.py"
    demo.write_text(demo.read_text().replace('f"{model_id:02}_Tiny", 1.0', 'f"{model_id:02}_Tiny", 1.00'))
    assert ran(sweep_here(*fake["args"], *teams)) == {0}


def _workers_of(driver_pid: int) -> list[int]:
    """Worker processes the driver ``driver_pid`` started (they carry its pid in ESR_SWEEP_PARENT)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if f"ESR_SWEEP_PARENT={driver_pid}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
    return found


def test_a_killed_sweep_started_again_runs_only_the_missing_teams(fake: dict, tmp_path: Path) -> None:
    results = fake["results"]
    cmd = [sys.executable, "-m", "benchmark.sweep", *map(str, fake["args"]), "--model_id", "0", "1", "2"]
    (tmp_path / "tmp").mkdir()  # the killed driver's job folder stays behind: here, not in /tmp
    driver = subprocess.Popen(cmd, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "FAKE_SLOW": "120", "TMPDIR": str(tmp_path / "tmp")})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (results.is_file() and "00_Tiny" in read_results(results)):
            time.sleep(0.2)
        assert "00_Tiny" in read_results(results)
        while time.monotonic() < deadline and not _workers_of(driver.pid):  # team 01's worker, asleep in select_model
            time.sleep(0.1)
        assert _workers_of(driver.pid)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    deadline = time.monotonic() + 10
    while _workers_of(driver.pid) and time.monotonic() < deadline:  # the worker dies with its driver
        time.sleep(0.1)
    assert not _workers_of(driver.pid)
    assert set(read_results(results)) == {"00_Tiny"}  # only complete entries

    again = sweep_here(*fake["args"], "--model_id", "0", "1", "2")
    assert again.returncode == 0, again.stderr
    assert ran(again) == {1, 2}
    assert set(read_results(results)) == {"00_Tiny", "1_Spaced", "002_Other"}


def test_hang_memory_crash_and_missing_package_end_one_team_each(fake: dict) -> None:
    results = fake["results"]
    proc = sweep_here(*fake["args"], "--model_id", "0", "3", "4", "6", "7", "2", "--timeout", "20",
                      "--memory-cap", "1.5")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert ran(proc) == {0, 2}
    assert set(read_results(results)) == {"00_Tiny", "002_Other"}
    failed = failures(results)
    assert set(failed) == {"03", "04", "06", "07"}
    assert failed["03"].startswith("no result within the --timeout of 20 s (killed while building team 03")
    assert re.match(r"used \d+\.\d GB of memory, over the --memory-cap of 1\.5 GB \(killed while building team 04",
                    failed["04"])
    assert failed["06"].startswith("crashed with SIGSEGV in test_demo.py:33 while building team 06")
    assert failed["07"] == ("needs the package 'no_such_package_here' (ModuleNotFoundError in "
                            "models/team07_Needs.py:2)")
    for team, reason in failed.items():
        assert f"team {team}: {reason}" in proc.stdout.splitlines()  # one line each
    log = results.with_name("fake.sweep") / "07.log"
    assert "Traceback" in log.read_text()  # the worker's own output goes to the team's log

    (fake["repo"] / "models" / "team07_Needs.py").write_text(TINY.replace("class Tiny", "class Net"))
    demo = fake["repo"] / "test_demo.py"
    demo.write_text(demo.read_text().replace("        from models.team07_Needs import Net\n",
                                             "        from models.team07_Needs import Net\n"
                                             "        name, data_range, model = '07_Fixed', 1.0, Net()\n"))
    fixed = sweep_here(*fake["args"], "--model_id", "7")  # a team that later succeeds leaves the failures file
    assert fixed.returncode == 0
    assert ran(fixed) == {7}
    assert "07" not in failures(results) and "07_Fixed" in read_results(results)


def test_negative_id_empty_branch_weight_norm_and_missing_checkpoint(fake: dict) -> None:
    """Every branch is a team whatever its id; a branch that builds nothing and a checkpoint that is not there end in
    one line each; a network copy.deepcopy refuses is counted all the same."""
    results = fake["results"]
    proc = sweep_here("--challenge-repo", fake["repo"], "--profile-only", "--results", results, "--model_id", "-1", "5",
                      "8", "9")
    assert proc.returncode == 0, proc.stderr
    assert ran(proc) == {-1, 8}
    entries = read_results(results)
    assert set(entries) == {"-1_Negative", "08_WeightNormed"}
    assert entries["-1_Negative"]["sweep"]["team_id"] == -1
    assert entries["08_WeightNormed"]["num_conv"] == 1
    assert entries["08_WeightNormed"]["complexity"]["ptflops_macs"] == 9 * 3 * 48 * 256 * 256 + 48 * 256 * 256
    failed = failures(results)
    assert failed == {"05": "select_model builds no model for team 05 (its branch, test_demo.py:40-41, leaves model "
                            "unset: UnboundLocalError at test_demo.py:51)",
                      "09": "checkpoint model_zoo/team09_gone.pth not found"}
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_lasting_failure_is_skipped_until_its_inputs_change(fake: dict) -> None:
    """A team that failed for a reason that lasts (an empty branch, a missing checkpoint or package) is not run again
    while nothing it depends on changed, and keeps its failure; a timeout is not kept; a file it opened (or missed),
    --cpu-dry-run and --force run it again."""
    repo, results = fake["repo"], fake["results"]
    args = ["--challenge-repo", repo, "--profile-only", "--results", results]
    first = sweep_here(*args, "--model_id", "5", "7", "9")
    assert first.returncode == 0 and ran(first) == set()
    failed = failures(results)
    assert set(failed) == {"05", "07", "09"}
    kept = json.loads(results.with_name("fake.failures.inputs.json").read_text())
    assert {k: v["reason"] for k, v in kept.items()} == failed
    assert kept["09"]["inputs"]["model_zoo/team09_gone.pth"] is None  # tried, absent
    assert kept["07"]["inputs"]["models/team07_Needs.py"] == sha256_of(repo / "models" / "team07_Needs.py")
    hung = ["--model_id", "3", "--timeout", "2"]
    assert sweep_here(*args, *hung).returncode == 0
    assert failures(results)["03"].startswith("no result within the --timeout of 2 s")
    assert "03" not in json.loads(results.with_name("fake.failures.inputs.json").read_text())

    again = sweep_here(*args, "--model_id", "5", "7", "9")
    assert again.returncode == 0 and "0 to run, 0 up to date, 3 still failing" in again.stdout
    for team in ("05", "07", "09"):
        assert f"team {team}: still fails, inputs unchanged: {failed[team]}; --force runs it again" in \
            again.stdout.splitlines()
    assert failures(results) == {**failed, "03": failures(results)["03"]}  # kept, with their reasons
    hung_again = sweep_here(*args, *hung)
    assert "1 to run" in hung_again.stdout and "team 03: no result within the --timeout" in hung_again.stdout
    assert kept["07"]["missing"] == ["no_such_package_here"] and str(repo) in kept["07"]["search_path"]
    (repo / "no_such_package_here.py").write_text("")  # the package it lacked, now beside its code: no file it opened
    found = sweep_here(*args, "--model_id", "7")
    assert "1 to run" in found.stdout and "select_model builds no model for team 07" in failures(results)["07"]
    (repo / "no_such_package_here.py").unlink()

    torch.manual_seed(0)
    torch.save(Tiny().state_dict(), repo / "model_zoo" / "team09_gone.pth")  # its checkpoint appears
    (repo / "models" / "team07_Needs.py").write_text("import torch\nimport another_missing_one\n")  # its module edited
    changed = sweep_here(*args, "--model_id", "5", "7", "9")
    assert changed.returncode == 0 and "2 to run, 0 up to date, 1 still failing" in changed.stdout
    assert ran(changed) == {9} and "09" not in failures(results) and "09_Gone" in read_results(results)
    assert "another_missing_one" in failures(results)["07"]
    kept = json.loads(results.with_name("fake.failures.inputs.json").read_text())
    assert set(kept) == {"05", "07"} and kept["07"]["reason"] == failures(results)["07"]

    dry = sweep_here(*args, "--model_id", "5", "--cpu-dry-run")  # another condition: it runs again
    assert "1 to run" in dry.stdout and "still fails" not in dry.stdout
    forced = sweep_here(*args, "--model_id", "7", "--force")
    assert "1 to run" in forced.stdout and "still fails" not in forced.stdout
    assert set(failures(results)) == {"03", "05", "07"}


def test_a_team_whose_latest_run_failed_runs_again_instead_of_being_up_to_date(fake: dict) -> None:
    """A run that failed for a passing reason (a --timeout) after the team's entry was made: the next sweep said the
    entry was up to date and kept the failure beside it, so the atlas left the team out for ever."""
    results = fake["results"]
    args = ["--challenge-repo", fake["repo"], "--profile-only", "--results", results, "--model_id", "0"]
    assert ran(sweep_here(*args)) == {0}
    timed_out = sweep_here(*args, "--force", "--timeout", "0.5")
    assert ran(timed_out) == set() and failures(results)["00"].startswith("no result within the --timeout")
    again = sweep_here(*args)
    assert ran(again) == {0} and "0 up to date" in again.stdout and failures(results) == {}
    assert "team 00: 00_Tiny's entry is out of date (its latest run failed: no result within the --timeout of 0.5 s" \
        in again.stdout


def test_published_comparisons_are_of_the_file_as_it_is_now_over_every_entry(fake: dict, tmp_path: Path) -> None:
    """A row without an id matched by figures by one run and by another team's run later is ambiguous in both
    entries, not two matches; a --published file changed between runs is what every sweep entry is compared with,
    the teams this run did not run included."""
    figures = measure(Tiny(8))
    row = {"team": "Eights", "team_id": None, "params_M": round(figures["params"] / 1e6, 3),
           "flops_G": round(figures["fvcore_flops"] / 1e9, 2)}
    table, results = tmp_path / "table.json", fake["results"]
    table.write_text(json.dumps({"rows": [row]}))
    args = ["--challenge-repo", fake["repo"], "--profile-only", "--results", results, "--published", table]
    first = sweep_here(*args, "--model_id", "0")
    assert "= 2/2 (by figures: Eights)" in first.stdout and "1 match table.json" in first.stdout
    second = sweep_here(*args, "--model_id", "2")
    assert ran(second) == {2} and "0 match table.json" in second.stdout
    for entry in read_results(results).values():
        block = entry["published"]
        assert (block["name"], block["match"], block["candidates"]) == (None, None, ["Eights"])
        assert block["explanation"] == "ambiguous: 2 entries of fake.json have the figures of Eights"
    table.write_text(json.dumps({"rows": [{**row, "team_id": 2}]}))  # the organizers give the row its team's id
    third = sweep_here(*args, "--model_id", "0")
    assert ran(third) == set() and "0 match table.json" in third.stdout and "not published" in third.stdout
    entries = read_results(results)
    assert entries["00_Tiny"]["published"]["name"] is None and entries["00_Tiny"]["published"]["candidates"] == []
    assert (entries["002_Other"]["published"]["name"], entries["002_Other"]["published"]["matched_by"],
            entries["002_Other"]["published"]["match"]) == ("Eights", "id", True)


def test_links_out_of_the_repository_and_a_package_named_like_the_harness(fake: dict, tmp_path: Path) -> None:
    """A checkpoint reached through a link is recorded and tracked as what was read; a link to a system file is one
    line; a team's own benchmark/ package is its own, not the harness's."""
    repo, zoo = fake["repo"], fake["repo"] / "model_zoo"
    outside = tmp_path / "elsewhere" / "weights.pth"
    outside.parent.mkdir()
    (zoo / "team00_tiny.pth").rename(outside)
    (zoo / "team00_tiny.pth").symlink_to(outside)
    (zoo / "team02_other.pth").unlink()
    (zoo / "team02_other.pth").symlink_to("/etc/passwd")
    (repo / "benchmark").mkdir()
    (repo / "benchmark" / "__init__.py").write_text("")
    (repo / "benchmark" / "teamutil.py").write_text("FEATS = 4\n")
    demo = repo / "test_demo.py"
    demo.write_text(demo.read_text().replace("        model = Tiny(feats=4)\n", "        from benchmark.teamutil import "
                                             "FEATS\n        model = Tiny(feats=FEATS)\n"))
    args = ["--challenge-repo", repo, "--profile-only", "--results", fake["results"], "--model_id", "0", "1", "2"]
    proc = sweep_here(*args)
    assert proc.returncode == 0, proc.stderr
    assert ran(proc) == {0, 1}
    entries = read_results(fake["results"])
    linked = entries["00_Tiny"]
    assert linked["checkpoint"] == {"path": str(zoo / "team00_tiny.pth"), "sha256": sha256_of(outside)}
    assert linked["sweep"]["inputs"]["model_zoo/team00_tiny.pth"] == sha256_of(outside)
    assert linked["sweep"]["input_links"] == {"model_zoo/team00_tiny.pth": str(outside)}
    assert "benchmark/teamutil.py" in entries["1_Spaced"]["sweep"]["inputs"]
    reason = failures(fake["results"])["02"]
    assert reason.startswith("checkpoint model_zoo/team02_other.pth (a link to /etc/passwd) is not a file torch.load "
                             "can read ("), reason
    torch.manual_seed(7)
    torch.save(Tiny().state_dict(), outside)  # what the link points at changes: the team runs again
    assert ran(sweep_here(*args)) == {0}


def test_several_device_slots_share_the_teams(fake: dict) -> None:
    """--devices: a thread per device, each running its next team's worker; here two CPU slots stand in for GPUs."""
    args = sweep_module.parse_args([*map(str, fake["args"]), "--model_id", "0", "1", "2"])
    splits = pick_splits(args, 2025)
    jobs = repository_jobs(read_repository(fake["repo"]), 2025, splits, settings_of(args, year=2025),
                           model_ids=args.model_id)
    quiet = Console(file=io.StringIO())
    driver = Driver(fake["results"].resolve(), {job.label: Row(job) for job in jobs}, quiet)
    slots = [Slot("slot-a", "cpu"), Slot("slot-b", "cpu")]
    run_local(jobs, slots, driver, Limits())
    assert {label: row.status for label, row in driver.rows.items()} == {"00": "ran", "01": "ran", "02": "ran"}
    assert set(read_results(fake["results"])) == {"00_Tiny", "1_Spaced", "002_Other"}


def test_user_mistakes_exit_2_with_one_line(tmp_path: Path, shared: Path) -> None:
    (tmp_path / "norepo").mkdir()
    (tmp_path / "norepo" / "test_demo.py").write_text("def main():\n    pass\n")
    for args, words in ((["--challenge-repo", tmp_path / "absent"], "no such folder"),
                        (["--challenge-repo", tmp_path / "norepo"], "no select_model"),
                        (["--challenge-repo", make_repo(tmp_path / "r"), "--model_id", "55"], "no such team"),
                        (["--devices", "cpu,cpu"], "named twice")):
        proc = sweep_here(*args, "--dataset", shared / "data" / "Set5", "--results", tmp_path / "x.json")
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], proc.stderr


# --- this project's registered teams, through the same mechanism ---------------------------------------------------


def test_registered_teams_sweep_equals_test_demo(shared: Path, tmp_path: Path) -> None:
    zoo, set5 = shared / "reference" / "model_zoo", shared / "data" / "Set5"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = test_demo.main(["--year", "2023", "--dataset", str(set5), "--model_zoo", str(zoo), "--results",
                               str(tmp_path / "demo.json"), "--runs", "1", "--warmup", "0", "--no-save",
                               "--device", "cpu"])
    assert code == 0, err.getvalue()
    proc = sweep_here("--year", "2023", "--dataset", set5, "--model_zoo", zoo, "--results", tmp_path / "sweep.json",
                      *FAST)
    assert proc.returncode == 0, proc.stderr
    demo, swept = read_results(tmp_path / "demo.json"), read_results(tmp_path / "sweep.json")
    assert set(swept) == set(demo) == {"00_RFDN_baseline", "05_SRneXt"}
    for name, entry in demo.items():
        for key in ("Set5_images", "Set5_psnr", "complexity", "num_parameters", "flops", "activations", "num_conv",
                    "code_sha256", "data_range", "year", "variant"):
            assert swept[name][key] == entry[key], (name, key)
        assert swept[name]["checkpoint"]["sha256"] == entry["checkpoint"]["sha256"]
    again = sweep_here("--year", "2023", "--dataset", set5, "--model_zoo", zoo, "--results", tmp_path / "sweep.json",
                       *FAST)
    assert again.returncode == 0 and "0 to run, 2 up to date" in again.stdout


def test_a_team_beyond_its_deployment_tolerance_is_a_failure_with_its_figures(fake: dict) -> None:
    """``--precision fp16``: team 11's network is 0.175 of the data range off in any precision but FP32. It is one
    failure line with its difference and PSNR change, never an entry; team 00 in FP16 is within and recorded."""
    (fake["repo"] / "models" / "team11_Drift.py").write_text(TINY + (
        "\n\nclass Drift(Tiny):\n"
        "    def forward(self, x):\n"
        "        out = super().forward(x)\n"
        "        return out if x.dtype == torch.float32 else out + 0.175\n"))
    add_branch(fake["repo"], 11, "from models.team11_Drift import Drift\nname, data_range = '11_Drift', 1.0\n"
                                 "model = Drift()")
    proc = sweep_here(*fake["args"], "--model_id", "0", "11", "--precision", "fp16")
    assert proc.returncode == 0, proc.stderr
    assert ran(proc) == {0}
    assert set(read_results(fake["results"])) == {"00_Tiny@eager-fp16"}
    reason = failures(fake["results"])["11"]
    assert re.fullmatch(r"on Set5, the fp16 output is beyond its tolerance of FP32 eager: largest difference 0\.17\d* "
                        r"of the data range \(tolerance 0\.0156\), PSNR change [-+]\d+\.\d{4} dB \(tolerance "
                        r"±0\.\d{4} dB\)", reason), reason
    assert f"team 11: {reason}" in proc.stdout.splitlines()


WINDOWED = '''
import torch
from models.team00_Tiny import Tiny


class Windowed(Tiny):
    """A network of 8×8 windows: an input whose sides are not multiples of 8 cannot be viewed as windows."""

    def forward(self, x):
        b, c, h, w = x.shape
        return super().forward(x.view(b, c, h // 8, 8, w // 8, 8).reshape(b, c, h, w))
'''
OWN_FORWARD = '''

def forward_team12(img_lq, model, tile=None):
    h, w = img_lq.shape[2:]
    img = torch.nn.functional.pad(img_lq, (0, (8 - w % 8) % 8, 0, (8 - h % 8) % 8), "reflect")
    return model(img)[:, :, : 4 * h, : 4 * w]


def run(model, model_name, data_range, tile, logger, device, args, mode="test"):
    for img_lr in []:
        if args.model_id == 12:
            img_sr = forward_team12(img_lr, model, tile)
        else:
            img_sr = model(img_lr)
'''


def test_a_team_run_through_its_own_forward_as_the_repository_runs_it(fake: dict) -> None:
    """Like 2024's team 34 (``forward_team34`` pads to the window size): team 12's network takes only sides that are
    multiples of 8, and the repository's ``run`` calls ``forward_team12`` for it. Set5's head (70×70) and woman (86×57)
    run padded; without that function in ``run`` the team fails on them."""
    (fake["repo"] / "models" / "team12_Windowed.py").write_text(WINDOWED)
    add_branch(fake["repo"], 12, "from models.team12_Windowed import Windowed\n"
                                 "name, data_range, model = '12_Windowed', 1.0, Windowed()", after=OWN_FORWARD)
    branch = read_repository(fake["repo"]).branches[12]
    assert branch.forward == "forward_team12" and "def forward_team12(img_lq, model, tile=None):" in branch.text
    assert read_repository(fake["repo"]).branches[0].forward is None
    proc = sweep_here(*fake["args"], "--model_id", "12")
    assert proc.returncode == 0 and ran(proc) == {12}, proc.stdout + proc.stderr
    entry = read_results(fake["results"])["12_Windowed"]
    assert entry["sweep"]["team_forward"] == "forward_team12" and len(entry["Set5_psnr"]) == 5
    assert entry["complexity"]["params"] == measure(Tiny())["params"]  # the network alone, as the official counter
    demo = fake["repo"] / "test_demo.py"  # the same team without the repository's own forward for it
    demo.write_text(demo.read_text().removesuffix(OWN_FORWARD))
    proc = sweep_here(*fake["args"], "--model_id", "12", "--force")
    assert ran(proc) == set() and "is invalid for input of size" in failures(fake["results"])["12"]


def test_a_team_that_changes_the_harness_stops_every_later_team(fake: dict, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A team that writes into the harness's own files (here a stand-in for its environment) fails, and no team after
    it runs, in this sweep or the next, until the marker is deleted: the harness that would measure them is not the
    one installed."""
    from benchmark.organizer import integrity

    harness = tmp_path / "harness"
    (harness / "pkg" / "__pycache__").mkdir(parents=True)
    planted = harness / "pkg" / "core.py"
    planted.write_text("VALUE = 1\n")
    monkeypatch.setattr(integrity, "roots", lambda: [harness])
    monkeypatch.setattr(integrity, "MARKER", tmp_path / "cache" / "harness-changed.json")
    monkeypatch.setattr(integrity, "_refusal", [])
    monkeypatch.setenv("FAKE_HARNESS_FILE", str(planted))
    add_branch(fake["repo"], -5, "open(os.environ['FAKE_HARNESS_FILE'], 'a').write('VALUE = 2\\n')\n"
                                 "from models.team00_Tiny import Tiny\n"
                                 "name, data_range, model = '-5_Planter', 1.0, Tiny()")
    args = ["--challenge-repo", fake["repo"], "--profile-only", "--results", fake["results"]]
    proc = sweep_here(*args, "--model_id", "-5", "0")
    assert proc.returncode == 0, proc.stderr
    assert ran(proc) == set()
    failed = failures(fake["results"])
    refusal = (f"not run: the harness's own files changed while team -5 ran ({planted} (changed)); reinstall them "
               f"(rm -rf .venv && make demo; git checkout -- benchmark models test_demo.py), then delete "
               f"{integrity.MARKER}")
    assert failed == {"-5": f"changed the harness's own files while it ran ({planted} (changed)); its figures do not "
                            "count and no later team is run until the harness is reinstalled", "00": refusal}
    monkeypatch.setattr(integrity, "_refusal", [])  # a later sweep, another process: the marker still refuses
    assert failures(fake["results"])["00"] == refusal and ran(sweep_here(*args, "--model_id", "0")) == set()
    integrity.MARKER.unlink()
    monkeypatch.setattr(integrity, "snapshot", lambda real=integrity.snapshot: (
        py_compile.compile(str(planted), doraise=True), real())[1])  # another process's import adds a cache meanwhile
    assert ran(sweep_here(*args, "--model_id", "0")) == {0}

