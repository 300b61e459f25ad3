"""Organizer mode against hostile teams and careless organizers (issue 20), each case on a challenge repository the
tests build: inputs the resume check must see, names that must not forge rows or escape folders, a team that truncates
the results file or leaves a child in its own session, concurrent sweeps, renamed teams, stale year comments, range()
ids, unreachable Ray heads, endless or dripping mirrors, bad flags and files; then --profile-only, --published,
--cpu-dry-run and the preflight (--team-env auto: tests/e2e/test_team_env.py).

No test reaches the network: the servers listen on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import PROJECT, TINY, Tiny, failures, ran, sweep_here

import models.zoo as zoo
from benchmark.core import years
from benchmark.core.errors import HarnessError
from benchmark.core.files import key_of
from benchmark.imaging.images import write_png
from benchmark.imaging.imresize import downscale_x4
from benchmark.measure.complexity import measure
from benchmark.organizer.challenge import read_repository
from benchmark.organizer.dispatch import check_reachable
from benchmark.organizer.plan import Freshness, repository_jobs
from benchmark.rank.publications import decimals
from benchmark.record.store import read_results, update_results
from benchmark.report.results_txt import write_results_txt
from models.spec import ModelSpec

FAST = ["--runs", "1", "--warmup", "0", "--device", "cpu"]

HOSTILE = '''\
import os
import subprocess
import sys

import torch
from torch import load as imported_load

# NTIRE2023: a comment left over from last year's repository
LOGGER = "NTIRE2025-EfficientSR"


def _tiny(feats=8):
    from models.team00_Tiny import Tiny
    return Tiny(feats)


def select_model(args, device):
    model_id = args.model_id
    if model_id == 0:
        model = _tiny()
        with open("model_zoo/a.pth", "rb") as f:
            model.load_state_dict(torch.load(f))
        name = "00_FileObject"
    elif model_id == 1:
        model = _tiny()
        model.load_state_dict(imported_load("model_zoo/b.pth"))
        name = "01_FastSR"
    elif model_id == 2:
        model, name = _tiny(), "02_Tab\\tForged\\n99_Row\\t99.99"
    elif model_id == 3:
        model, name = _tiny(), "  "
    elif model_id == 4:
        model, name = _tiny(), "../escaped"
    elif model_id == 5:
        model, name = _tiny(), "05_Child"
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
        with open(os.environ["CHILD_PID_FILE"], "w") as f:
            f.write(str(child.pid))
    elif model_id == 6:
        from models.team06_Noisy import Noisy
        model, name = Noisy(), "06_Noisy"
        state = torch.load("model_zoo/a.pth")
        del state["tail.bias"]
        model.load_state_dict(state, strict=False)
    elif model_id == 7:
        model, name = _tiny().cuda(), "07_NeedsGPU"
        torch.randn(1, 3, 8, 8, device="cuda")
        if os.environ.get("CUDA_CKPT"):
            torch.load(os.environ["CUDA_CKPT"])
    elif model_id == 8:
        open(os.environ["TRUNCATE"], "w").close()
        model, name = _tiny(), "08_Truncator"
    elif model_id == 9:
        import esr_fake_pkg
        model, name = _tiny(esr_fake_pkg.FEATS), "09_Packaged"
    elif model_id in range(10, 12):
        model, name = _tiny(), f"{model_id}_Ranged"
    elif model_id == 12:
        import esr_own_pkg
        model, name = _tiny(esr_own_pkg.FEATS), "12_OwnRequirements"
    elif model_id == 13:
        import esr_cuda_pkg
    elif model_id in (20, 21):
        raise RuntimeError(f"team {model_id} is broken")
    model.eval()
    return model, name, 1.0, None
'''

NOISY = '''\
import torch
from models.team00_Tiny import Tiny


class Noisy(Tiny):
    def forward(self, x):
        return super().forward(x) + 1e-3 * torch.rand(1)
'''


def make_hostile(root: Path) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "model_zoo").mkdir()
    (root / "test_demo.py").write_text(HOSTILE)
    (root / "models" / "team00_Tiny.py").write_text(TINY)
    (root / "models" / "team06_Noisy.py").write_text(NOISY)
    for seed, file in enumerate(("a.pth", "b.pth")):
        torch.manual_seed(seed)
        torch.save(Tiny().state_dict(), root / "model_zoo" / file)
    return root


def make_split(root: Path, seed: int = 0) -> Path:
    """Two 32×32 HR images and their MATLAB-bicubic LR: enough to score a team, fast."""
    rng = np.random.default_rng(seed)
    for name in ("a", "b"):
        hr = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        write_png(root / "HR" / f"{name}.png", hr)
        write_png(root / "LR_bicubic" / "X4" / f"{name}x4.png", downscale_x4(hr))
    return root


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A hostile repository, a two-image split, and its first sweep (teams 0–6, 10, 11) with --save_dir."""
    tmp = tmp_path_factory.mktemp("hostile")
    repo = make_hostile(tmp / "NTIRE_hostile_ESR")
    data = make_split(tmp / "Tiny")
    results = tmp / "out" / "R.json"
    base = ["--challenge-repo", repo, "--dataset", data, "--results", results, *FAST]
    pid_file = tmp / "child.pid"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHILD_PID_FILE", str(pid_file))
        first = sweep_here(*base, "--model_id", 0, 1, 2, 3, 4, 5, 6, 10, 11, "--save_dir", tmp / "save")
    return {"tmp": tmp, "repo": repo, "data": data, "results": results, "base": base, "first": first,
            "child": int(pid_file.read_text()), "save": tmp / "save"}


def test_first_line_names_where_the_year_came_from_and_range_ids_are_teams(hostile: dict) -> None:
    first = hostile["first"]
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0].startswith(
        f"sweep: 9 team(s) of {hostile['repo']} (NTIRE 2025, the year from test_demo.py's code (NTIRE2025 ×1))")
    assert read_repository(hostile["repo"]).team_ids == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 20, 21]
    assert ran(first) == {0, 1, 2, 3, 4, 5, 6, 10, 11}


def test_stale_comment_loses_to_the_code_and_readme(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    (repo / "test_demo.py").write_text("# NTIRE2023_ESR\ndef select_model(args, device):\n    if args.model_id == 0:\n"
                                       "        pass\n")
    (repo / "README.md").write_text("# NTIRE 2024 Challenge on Efficient Super-Resolution\n")
    found = read_repository(repo)
    assert (found.year, found.year_source) == (2024, "README.md (NTIRE2024 ×1)")
    (repo / "README.md").unlink()
    found = read_repository(repo)
    assert (found.year, found.year_source) == (2023, "only a comment of test_demo.py (NTIRE2023 ×1)")


def test_checkpoints_loaded_through_file_objects_are_inputs(hostile: dict) -> None:
    entries = read_results(hostile["results"])
    for name, file in (("00_FileObject", "a.pth"), ("01_FastSR", "b.pth")):
        entry = entries[name]
        assert entry["checkpoint"]["path"] == str(hostile["repo"] / "model_zoo" / file)
        assert f"model_zoo/{file}" in entry["sweep"]["inputs"]
        assert "models/team00_Tiny.py" in entry["sweep"]["inputs"]
        assert "test_demo.py" not in entry["sweep"]["inputs"]


def test_names_are_keys_without_separators_and_the_written_name_is_kept(hostile: dict) -> None:
    entries = read_results(hostile["results"])
    assert {"02_Tab_Forged_99_Row_99.99", "03_team", ".._escaped"} <= set(entries)
    assert entries["02_Tab_Forged_99_Row_99.99"]["sweep"]["name_as_written"] == "02_Tab\tForged\n99_Row\t99.99"
    assert entries["03_team"]["sweep"]["name_as_written"] == "  "
    rows = hostile["results"].with_name("R.txt").read_text().splitlines()
    assert len(rows) == 1 + len(entries)  # one header, one row per entry: nothing forged
    assert all(len(r.split("\t")) == len(rows[0].split("\t")) for r in rows)
    saved = sorted(p.relative_to(hostile["save"]).parts[0] for p in hostile["save"].rglob("*.png"))
    assert ".._escaped" in saved and not (hostile["tmp"] / "escaped").exists()
    hostile_key = {"a\tb\nc": {"num_parameters": 1.0}}
    write_results_txt(hostile_key, hostile["tmp"] / "x.txt")
    assert (hostile["tmp"] / "x.txt").read_text().splitlines()[1].startswith("a\\tb\\nc\t")
    assert key_of("/abs/path", "x") == "_abs_path" and key_of("..", "07_team") == "07_team"


def test_a_child_in_its_own_session_dies_with_its_team(hostile: dict) -> None:
    pid = hostile["child"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            break
        if state == "Z":
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the team's child {pid} outlived its worker")


def test_preflight_reports_a_lax_load_and_forwards_that_differ(hostile: dict) -> None:
    entry = read_results(hostile["results"])["06_Noisy"]
    findings = entry["sweep"]["preflight"]["findings"]
    assert findings[0] == "weights: Noisy.load_state_dict(strict=False) left missing tail.bias"
    assert findings[1].startswith("output: two forwards of one input differ (max |Δ| ")
    assert entry["sweep"]["preflight"]["output"]["shape"] == [1, 3, 256, 256]
    assert read_results(hostile["results"])["00_FileObject"]["sweep"]["preflight"]["findings"] == []
    line = next(line for line in hostile["first"].stdout.splitlines() if line.startswith("team 06: ran"))
    assert "; preflight: weights: Noisy.load_state_dict(strict=False) left missing tail.bias" in line


def test_changed_checkpoint_and_changed_pixels_run_again(hostile: dict) -> None:
    base, results = hostile["base"], hostile["results"]
    assert ran(sweep_here(*base, "--model_id", 0, 1)) == set()
    torch.manual_seed(7)
    torch.save(Tiny().state_dict(), hostile["repo"] / "model_zoo" / "a.pth")
    again = sweep_here(*base, "--model_id", 0, 1)
    assert ran(again) == {0} and "(model_zoo/a.pth changed)" in again.stdout
    before = read_results(results)["01_FastSR"]["Tiny_ave_psnr"]
    make_split(hostile["data"], seed=1)  # other pixels, the same names
    pixels = sweep_here(*base, "--model_id", 1)
    assert ran(pixels) == {1} and "the images of split Tiny changed" in pixels.stdout
    assert read_results(results)["01_FastSR"]["Tiny_ave_psnr"] != before


def test_a_renamed_team_replaces_its_entry(hostile: dict) -> None:
    demo = hostile["repo"] / "test_demo.py"
    demo.write_text(demo.read_text().replace('name = "01_FastSR"', 'name = "01_FastSR_v2"'))
    proc = sweep_here(*hostile["base"], "--model_id", 1)
    assert ran(proc) == {1}
    entries = read_results(hostile["results"])
    assert "01_FastSR_v2" in entries and "01_FastSR" not in entries
    aside = json.loads(hostile["results"].with_name("R.superseded.json").read_text())
    assert any(a["model"] == "01_FastSR" and "new name" in a["reason"] for a in aside)
    assert ran(sweep_here(*hostile["base"], "--model_id", 1)) == set()


def test_a_team_that_truncates_the_results_file_loses_nothing(hostile: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    results = hostile["results"]
    before = set(read_results(results))
    monkeypatch.setenv("TRUNCATE", str(results))
    proc = sweep_here(*hostile["base"], "--model_id", 8)
    assert proc.returncode == 0 and ran(proc) == {8}
    assert set(read_results(results)) == before | {"08_Truncator"}
    assert f"note: {results} was changed behind the sweep's back; restored " in proc.stdout
    job = repository_jobs(read_repository(hostile["repo"]), 2025, [], _settings(), model_ids=[8])[0]
    assert str(results) not in json.dumps(job.payload)  # the worker is never told where the results are


def _settings():
    from benchmark.measure.settings import Settings

    return Settings()


def test_concurrent_sweeps_keep_both_failures(hostile: dict) -> None:
    results = hostile["tmp"] / "concurrent" / "R.json"
    cmds = [[sys.executable, "-m", "benchmark.sweep", *map(str, hostile["base"][:-len(FAST) - 2]), "--results",
             str(results), *FAST, "--model_id", str(team)] for team in (20, 21)]
    procs = [subprocess.Popen(cmd, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for cmd in cmds]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert failures(results) == {"20": failures(results)["20"], "21": failures(results)["21"]}
    assert failures(results)["21"].startswith("RuntimeError: team 21 is broken")


def test_cpu_dry_run_profile_only_and_published(hostile: dict, shared: Path) -> None:
    tmp = hostile["tmp"]
    figures = measure(Tiny())
    published = {"00_FileObject": {"num_parameters": round(figures["params"] / 1e6, 6),
                                   "flops": round(figures["fvcore_flops"] / 1e9, 4),
                                   "activations": round(figures["activations"] / 1e6, 4) + 0.001,
                                   "num_conv": figures["conv"]}}
    (tmp / "published.json").write_text(json.dumps(published))
    results = tmp / "dry" / "R.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CUDA_CKPT", str(shared / "reference" / "model_zoo" / "team00_SPAN.pth"))  # saved on CUDA
        proc = sweep_here("--challenge-repo", hostile["repo"], "--profile-only", "--cpu-dry-run", "--results", results,
                          "--published", tmp / "published.json", "--model_id", 0, 7)
        assert proc.returncode == 0, proc.stderr
        assert ran(proc) == {0, 7}
        entries = read_results(results)
        assert entries["07_NeedsGPU"]["dry_run"] is True and entries["07_NeedsGPU"]["splits"] == []
        block = entries["00_FileObject"]["published"]
        assert block["match"] is False and block["figures"]["flops"] == {
            "ours": figures["fvcore_flops"] / 1e9, "published": published["00_FileObject"]["flops"], "decimals": 4,
            "match": True}
        assert block["figures"]["activations"]["match"] is False
        assert "≠ activations" in proc.stdout and "0 match published.json at its precision" in proc.stdout
        scored = sweep_here("--challenge-repo", hostile["repo"], "--cpu-dry-run", "--dataset", hostile["data"],
                            "--results", results, "--model_id", 7)
    assert ran(scored) == {7}
    entry = read_results(results)["07_NeedsGPU"]
    assert entry["Tiny_ave_psnr"] > 0 and entry["Tiny_ave_runtime"] is None and entry["Tiny_memory"] is None
    stats = entry["Tiny_runtime_stats"]  # the CPU's times nowhere, their quartiles included
    assert stats["clock"] == "cpu_perf_counter" and {k for k, v in stats.items() if v is not None} == {
        "clock", "warmup", "repeat", "runs", "of"}
    assert decimals(9.833807872) == 9 and decimals(22) == 0
    normal = read_results(hostile["results"])["00_FileObject"]
    record = {k: v for k, v in entries["00_FileObject"].items() if k != "published"}
    update_results(tmp / "mixed.json", "00_FileObject", normal)
    update = update_results(tmp / "mixed.json", "00_FileObject", record)
    assert "dry_run" in update.changed  # a dry run never merges with a real record


def test_a_profile_keeps_its_own_default_file_beside_a_dry_run_on_data(hostile: dict, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's order: a dry run on data, then a profile with --published and --site, each with its default
    results file. Sharing one, the profile found team 0 up to date (its published check never recorded) and the file
    held models timed on different splits, which --site refused; team 20 raises in select_model."""
    monkeypatch.chdir(tmp_path)  # the default results/ is relative to where the sweep runs
    repo, figures = hostile["repo"], measure(Tiny())
    (tmp_path / "published.json").write_text(json.dumps({"00_FileObject": {
        "num_parameters": round(figures["params"] / 1e6, 6), "flops": round(figures["fvcore_flops"] / 1e9, 4),
        "activations": round(figures["activations"] / 1e6, 4), "num_conv": figures["conv"]}}))
    on_data = sweep_here("--challenge-repo", repo, "--cpu-dry-run", "--dataset", hostile["data"], "--model_id", 0,
                         *FAST)
    assert on_data.returncode == 0 and ran(on_data) == {0}, on_data.stderr
    profiled = sweep_here("--challenge-repo", repo, "--profile-only", "--cpu-dry-run", "--published", "published.json",
                          "--model_id", 0, 20, "--device", "cpu", "--site", "site")
    assert profiled.returncode == 0 and ran(profiled) == {0}, profiled.stderr
    data_file, profile_file = (Path("results") / f"{repo.name}.dry-run{s}.json" for s in ("", ".profile"))
    assert read_results(data_file)["00_FileObject"]["splits"] == ["Tiny"]
    entry = read_results(profile_file)["00_FileObject"]
    assert entry["splits"] == [] and entry["published"]["match"] is True
    assert "team 20 is broken" in failures(profile_file)["20"]
    assert (tmp_path / "site" / "index.html").is_file()
    (tmp_path / "other.json").write_text(json.dumps({"00_FileObject": {"num_parameters": 1.0}}))
    again = sweep_here("--challenge-repo", repo, "--profile-only", "--cpu-dry-run", "--published", "other.json",
                       "--model_id", 0, "--device", "cpu")
    assert ran(again) == set() and "1 up to date" in again.stdout, again.stdout
    now = read_results(profile_file)["00_FileObject"]  # skipped, its comparison with the new file written all the same
    assert now["published"]["match"] is False and now["published"]["figures"]["num_parameters"]["published"] == 1.0
    assert {k: v for k, v in now.items() if k != "published"} == {k: v for k, v in entry.items() if k != "published"}


# --- refused in one line, fast -----------------------------------------------------------------------------------


def one_line(proc) -> str:  # noqa: ANN001 - a Swept
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_bad_results_paths_flags_and_ray_addresses_end_in_one_line(hostile: dict, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.json"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    base = ["--challenge-repo", hostile["repo"], "--profile-only", "--model_id", 0]
    cases = [(["--results", fifo], "not a regular file"), (["--results", "/dev/full"], "not a regular file"),
             (["--results", folder], "a folder"), (["--results", "/sys/R.json"], "--results /sys/R.json"),
             (["--timeout", "nan"], "--timeout nan: must be a positive"),
             (["--memory-cap", "inf"], "--memory-cap inf"), (["--devices", ","], "names no device"),
             (["--ray", "127.0.0.1:1"], "--ray 127.0.0.1:1: cannot connect"),
             (["--ray", "no-such-host.invalid:6379"], "--ray no-such-host.invalid:6379: ")]
    for extra, words in cases:
        begin = time.monotonic()
        line = one_line(sweep_here(*base, *extra))
        assert words in line, (extra, line)
        assert time.monotonic() - begin < 30, extra
    assert (folder / "keep.txt").read_text() == "mine" and not list(tmp_path.glob("folder.json.corrupt*"))
    begin = time.monotonic()
    with pytest.raises(HarnessError, match="cannot connect"):
        check_reachable("127.0.0.1:1", deadline=2)
    assert time.monotonic() - begin < 3


def test_hand_edited_records_are_out_of_date_not_a_traceback(hostile: dict, tmp_path: Path) -> None:
    entry = dict(read_results(hostile["results"])["00_FileObject"])
    entry.update(environment=["edited"], Tiny_runtime_stats=["edited"], sweep={**entry["sweep"], "settings": [1]})
    repo = read_repository(hostile["repo"])
    job = repository_jobs(repo, 2025, [], _settings(), model_ids=[0])[0]
    assert Freshness(repo, lambda: {"cpu"}).stale(job, entry) == "other settings"
    update_results(tmp_path / "R.json", "00_FileObject", entry)
    update_results(tmp_path / "R.json", "00_FileObject", {**entry, "environment": {"device_name": "x"}})


@pytest.mark.parametrize("text, words", [
    ("[2026\n", "not valid TOML"),
    (None, "runs is 'five', not an int"),
    ("neg", "weights must be numbers of 0 or more"),
    ("zero", "runs is 0"),
])
def test_years_file_mistakes_are_one_line_at_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str | None,
                                                 words: str) -> None:
    good = years.RECORDS.read_text()
    edits = {None: good.replace("runs = 5", 'runs = "five"', 1),
             "neg": good.replace("runtime = 0.8", "runtime = -0.8"), "zero": good.replace("runs = 1", "runs = 0")}
    bad = tmp_path / "years.toml"
    bad.write_text(edits.get(text, text))
    with pytest.raises(HarnessError, match=words):
        years.load_years(bad)
    monkeypatch.setattr(years.YEARS, "path", bad)
    monkeypatch.setattr(years.YEARS, "_records", None)
    line = one_line(sweep_here("--year", "2026", "--profile-only", "--results", tmp_path / "R.json"))
    assert str(bad) in line and words in line


def test_a_slot_thread_that_cannot_write_stops_the_sweep_in_one_line(hostile: dict) -> None:
    from benchmark.organizer import dispatch
    from benchmark.organizer.driver import Driver, Row

    repo = read_repository(hostile["repo"])
    jobs = repository_jobs(repo, 2025, [], _settings(), model_ids=[20, 21], options={"profile_only": True})
    driver = Driver(hostile["tmp"] / "slots" / "R.json", {j.label: Row(j) for j in jobs}, _quiet())
    driver.failures_path = Path("/proc/esr/R.failures.json")
    with pytest.raises(HarnessError, match="cannot write the failures file"):
        dispatch.run_local(jobs, [dispatch.Slot("a", "cpu"), dispatch.Slot("b", "cpu")], driver, dispatch.Limits())


def _quiet():
    import io

    from rich.console import Console

    return Console(file=io.StringIO())


# --- downloads: bounded in size and time ----------------------------------------------------------------------------


class Endless(BaseHTTPRequestHandler):
    """Streams zeros without end and without a length."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        with_chunks = b"\0" * 65536
        try:
            while True:
                self.wfile.write(with_chunks)
        except OSError:
            pass


class Drip(Endless):
    """Announces a length and sends one byte every half second."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            for _ in range(1000):
                self.wfile.write(b"\0")
                self.wfile.flush()
                time.sleep(0.5)
        except OSError:
            pass


@pytest.mark.parametrize("handler, words", [(Endless, "sent more than the 4,096 bytes expected"),
                                            (Drip, "not complete within 2 s")])
def test_downloads_stop_at_the_known_size_and_the_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str], handler: type,
                                                           words: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("ESR_OFFLINE", raising=False)
    monkeypatch.setattr(zoo, "DOWNLOAD_SECONDS", 2.0)
    spec = ModelSpec(team_id=97, name="Bounded", builder=torch.nn.Identity, checkpoint="x.pth",
                     url=f"http://127.0.0.1:{server.server_address[1]}/x.pth", sha256="0" * 64, size=4096)
    begin = time.monotonic()
    try:
        assert zoo.fetch_checkpoint(spec, tmp_path / "zoo") is None
    finally:
        server.shutdown()
    assert time.monotonic() - begin < 10
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and words in err[0], err
    assert not list((tmp_path / "zoo").iterdir())
