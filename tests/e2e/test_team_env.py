"""``--team-env auto`` against a fake package index on 127.0.0.1 (no test here reaches any other address): packages
installed into a team's overlay, requirement lines that are not registry names, an index that never answers, a cached
environment changed behind the sweep's back, and full environments (a torchvision importer, a ``+cu117`` pin, an
environment that changes the baseline's figures) made with a stand-in for the gigabytes of a real torch pair.

The one test that makes a real full environment (torch 2.14.1 + torchvision 0.29.1, minutes and ~6 GB) runs a
team of the shared 2024 repository in it, at the end of this file.
"""

from __future__ import annotations

import json
import os
import re
import sys
import sysconfig
import tarfile
import time
from pathlib import Path

import pytest
import torch
from helpers import TINY, FakeIndex, failures, ran, shared_file, sweep_here, wheel

from benchmark.organizer import envcache, fullenv
from benchmark.record.store import read_results

SELECT = '''\
# NTIRE2025: a repository whose teams need packages
import torch


def _tiny(feats=8):
    from models.team00_Tiny import Tiny
    return Tiny(feats)


def select_model(args, device):
    model_id = args.model_id
    if model_id == 1:
        import esr_fake_pkg
        model, name = _tiny(esr_fake_pkg.FEATS), "01_Packaged"
    elif model_id == 2:
        import esr_own_pkg
        model, name = _tiny(esr_own_pkg.FEATS), "02_OwnRequirements"
    elif model_id == 3:
        import esr_cuda_pkg
    elif model_id == 4:
        import json.nothere
    elif model_id == 5:
        import esr_slow_pkg
    elif model_id == 6:
        import torchvision
        model, name = _tiny(), "06_Vision"
    elif model_id == 7:
        import torchvision
        import esr_fake_pkg
        model, name = _tiny(esr_fake_pkg.FEATS), "07_VisionPackaged"
    elif model_id == 8:
        import esr_pin_pkg
        model, name = _tiny(esr_pin_pkg.FEATS), "08_Pinned"
    elif model_id == 9:
        import esr_writer_pkg
        model, name = _tiny(esr_writer_pkg.FEATS), "09_ImportWrites"
    elif model_id == 10:
        import os
        import esr_fake_pkg
        with open(os.path.join(os.path.dirname(esr_fake_pkg.__file__), "planted.py"), "w") as f:
            f.write("FEATS = 1")
        model, name = _tiny(esr_fake_pkg.FEATS), "10_RunWrites"
    model.eval()
    return model, name, 1.0, None
'''


def cuda_sdist(folder: Path) -> Path:
    """An sdist whose build needs CUDA, as mamba_ssm's does."""
    base = folder / "src" / "esr_cuda_pkg-1.0"
    base.mkdir(parents=True)
    (base / "setup.py").write_text("raise RuntimeError('CUDA_HOME environment variable is not set (nvcc needed)')\n")
    (base / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: esr_cuda_pkg\nVersion: 1.0\n")
    path = folder / "esr_cuda_pkg-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(base, arcname=base.name)
    return path


def use_index(monkeypatch: pytest.MonkeyPatch, index: FakeIndex, cache: Path) -> None:
    """pip sees the fake index and nothing else (no configuration file, no other index, no local folder)."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", f"{index.url}/simple/")
    for name in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_CONSTRAINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "5")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setattr(fullenv, "CACHE", cache)


def make_needy(root: Path) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "test_demo.py").write_text(SELECT)
    (root / "models" / "team00_Tiny.py").write_text(TINY)
    return root


@pytest.fixture
def needy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    wheels = tmp_path / "index"
    wheel(wheels, "esr_fake_pkg", "FEATS = 6\n")
    wheel(wheels, "esr_own_pkg", "FEATS = 5\n")
    wheel(wheels, "evil", "raise SystemExit('installed from a direct reference')\n")
    wheel(wheels, "esr_pin_pkg", "raise ValueError('does not import on this Python')\n", "1.0")
    wheel(wheels, "esr_pin_pkg", "FEATS = 3\n", "1.1")
    wheel(wheels, "esr_pin_pkg", "FEATS = 2\n", "2.0")
    wheel(wheels, "esr_writer_pkg", "import pathlib\n(pathlib.Path(__file__).parent / 'dropped.py').write_text('')\n"
                                    "FEATS = 4\n")
    cuda_sdist(wheels)
    index = FakeIndex(wheels)
    use_index(monkeypatch, index, tmp_path / "envs")
    repo = make_needy(tmp_path / "NTIRE_needy_ESR")
    results = tmp_path / "out" / "R.json"
    yield {"repo": repo, "results": results, "index": index, "tmp": tmp_path,
           "args": ["--challenge-repo", repo, "--profile-only", "--results", results, "--team-env", "auto"]}
    index.close()


def test_packages_come_from_the_index_and_the_entry_names_its_environment(needy: dict) -> None:
    (needy["repo"] / "team02_requirements.txt").write_text("esr-own-pkg==1.0\n")
    proc = sweep_here(*needy["args"], "--model_id", 1, 2, 3)
    assert proc.returncode == 0, proc.stderr
    assert ran(proc) == {1, 2}
    entries = read_results(needy["results"])
    env = entries["01_Packaged"]["sweep"]["team_env"]
    assert env["kind"] == "overlay" and env["packages"] == {"esr_fake_pkg": "1.0"}
    assert env["python"] == sys.executable and env["requirements"] == ["esr_fake_pkg"]
    folder = Path(env["site"]).parents[2]
    assert env["content_sha256"] == {str(folder): envcache.verified(folder)}
    assert entries["02_OwnRequirements"]["sweep"]["team_env"]["requirements"] == ["esr-own-pkg==1.0"]
    assert entries["01_Packaged"]["num_parameters"] == (3 * 6 * 9 + 6 + 6 * 48 * 9 + 48) / 1e6
    reason = failures(needy["results"])["03"]
    assert reason.startswith("needs esr_cuda_pkg, which cannot be installed here (") and "CUDA_HOME" in reason
    assert all(r.startswith(("/simple/esr-", "/files/esr")) for r in needy["index"].requests)
    cached = sorted(p.name for p in (needy["tmp"] / "envs").iterdir() if p.is_dir())
    asked = len(needy["index"].requests)
    assert ran(sweep_here(*needy["args"], "--model_id", 1, 2, 3, "--force")) == {1, 2}
    assert failures(needy["results"])["03"] == reason  # the failed build is said again, not tried again
    assert len(needy["index"].requests) == asked
    assert sorted(p.name for p in (needy["tmp"] / "envs").iterdir() if p.is_dir()) == cached  # nothing made again


def test_a_pin_that_does_not_import_here_moves_to_the_next_release(needy: dict) -> None:
    (needy["repo"] / "requirements.txt").write_text("esr_pin_pkg==1.0\n")
    proc = sweep_here(*needy["args"], "--model_id", 8)
    assert ran(proc) == {8}, proc.stdout
    entry = read_results(needy["results"])["08_Pinned"]
    env = entry["sweep"]["team_env"]
    assert env["requirements"] == ["esr_pin_pkg==1.0"] and env["replaced"] == {"esr_pin_pkg==1.0": "esr_pin_pkg==1.1"}
    assert env["packages"] == {"esr_pin_pkg": "1.1"}
    assert entry["num_parameters"] == (3 * 3 * 9 + 3 + 3 * 48 * 9 + 48) / 1e6


def test_requirements_that_are_not_registry_names_install_nothing(needy: dict) -> None:
    evil = f"evil @ {needy['index'].url}/files/evil-1.0-py3-none-any.whl"
    (needy["repo"] / "team02_requirements.txt").write_text(f"esr-own-pkg\n{evil}\n")
    proc = sweep_here(*needy["args"], "--model_id", 2, 4)
    assert proc.returncode == 0 and ran(proc) == set()
    failed = failures(needy["results"])
    assert failed["02"] == (f"team02_requirements.txt: requirement {evil!r} is refused (a direct reference "
                            "(name @ URL): only distribution names from the package registry are installed)")
    assert failed["04"] == "imports json.nothere, which Python's standard library does not have (ModuleNotFoundError " \
                           "in test_demo.py:21)"
    assert needy["index"].requests == []  # neither evil's file nor a distribution named json was asked for


def test_an_index_that_never_answers_ends_the_team_at_its_timeout(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    index = FakeIndex(tmp_path / "index", hang=True)
    use_index(monkeypatch, index, tmp_path / "envs")
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "600")  # pip itself would wait ten minutes
    repo = make_needy(tmp_path / "NTIRE_needy_ESR")
    try:
        begin = time.monotonic()
        proc = sweep_here("--challenge-repo", repo, "--profile-only", "--results", tmp_path / "R.json", "--team-env",
                          "auto", "--timeout", 25, "--model_id", 5)
        wall = time.monotonic() - begin
    finally:
        index.close()
    assert proc.returncode == 0, proc.stderr
    reason = failures(tmp_path / "R.json")["05"]
    assert reason == "no result within the --timeout of 25 s (the --timeout ran out while installing esr_slow_pkg)"
    assert index.requests == ["/simple/esr-slow-pkg/"]
    assert wall < 25 + 15  # the sweep's own start and end, not pip's ten minutes
    assert not [p for p in (tmp_path / "envs").iterdir() if p.is_dir()]  # nothing half made is kept


def test_a_changed_or_partly_deleted_environment_is_rebuilt_and_its_entry_runs_again(needy: dict) -> None:
    assert ran(sweep_here(*needy["args"], "--model_id", 1)) == {1}
    env = read_results(needy["results"])["01_Packaged"]["sweep"]["team_env"]
    folder = Path(env["site"]).parents[2]
    assert ran(sweep_here(*needy["args"], "--model_id", 1)) == set()  # intact: up to date
    module = Path(env["site"]) / "esr_fake_pkg" / "__init__.py"
    for harm in (lambda: module.write_text("FEATS = 7\n"), module.unlink):
        harm()
        envcache._checked.clear()  # as a later sweep (another process) finds it
        proc = sweep_here(*needy["args"], "--model_id", 1)
        assert f"01_Packaged's entry is out of date (its team environment {folder.name} changed or is gone)" in \
            proc.stdout
        assert ran(proc) == {1} and "01" not in failures(needy["results"])  # rebuilt; the team is not blamed
        assert module.read_text() == "FEATS = 6\n"
        now = read_results(needy["results"])["01_Packaged"]
        assert now["sweep"]["team_env"]["content_sha256"] == {str(folder): envcache.verified(folder)}
        assert now["num_parameters"] == (3 * 6 * 9 + 6 + 6 * 48 * 9 + 48) / 1e6


def test_a_team_that_writes_into_its_environment_does_not_count_and_the_environment_is_made_anew(needy: dict) -> None:
    """A package that writes into its overlay when imported (the entry recorded the digest null, and null equalled
    null on every resume), and a team whose code writes into the overlay it shares with another team as it runs."""
    proc = sweep_here(*needy["args"], "--model_id", 1, 9, 10)
    assert ran(proc) == {1}, proc.stdout
    failed = failures(needy["results"])
    assert re.fullmatch(r"its team environment \w{20} changed when its packages were imported \(a package writes into "
                        r"it\); its figures would not count", failed["09"]), failed["09"]
    env = read_results(needy["results"])["01_Packaged"]["sweep"]["team_env"]
    folder = Path(env["site"]).parents[2]
    assert failed["10"] == (f"its team environment {folder.name} changed while the team ran (its code wrote into it); "
                            "its figures would not count, and the environment is made anew before it is used again")
    envcache._checked.clear()  # as a later sweep (another process) finds it
    proc = sweep_here(*needy["args"], "--model_id", 1)
    assert f"01_Packaged's entry is out of date (its team environment {folder.name} changed or is gone)" in proc.stdout
    assert ran(proc) == {1} and not (Path(env["site"]) / "esr_fake_pkg" / "planted.py").exists()
    now = read_results(needy["results"])["01_Packaged"]["sweep"]["team_env"]["content_sha256"]
    assert now == {str(folder): envcache.verified(folder)} and isinstance(now[str(folder)], str)


# --- full environments, with a stand-in for the torch pair ------------------------------------------------------


FAKE_VISION = {"torchvision/__init__.py": "__version__ = '0.0+fake'\n",
               "torchvision-0.0+fake.dist-info/METADATA": "Metadata-Version: 2.1\nName: torchvision\nVersion: 0.0+fake\n"}


def fake_install(perturb: bool = False):
    """fullenv.install's stand-in: a venv that sees the harness's own packages (a .pth file), with a torchvision of
    its own; ``perturb``: every convolution's output scaled by 1.01 there (an environment whose torch computes
    otherwise)."""
    def install(base: fullenv.Base, log, deadline, doing) -> None:  # noqa: ANN001 - fullenv.install's signature
        envcache.run([sys.executable, "-m", "venv", "--without-pip", str(base.folder)], log, deadline, doing)
        (base.site / "harness.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        for name, text in FAKE_VISION.items():
            (base.site / name).parent.mkdir(parents=True, exist_ok=True)
            (base.site / name).write_text(text)
        if perturb:
            (base.site / "zz_perturb.pth").write_text(
                "import torch; torch.nn.Conv2d.forward = (lambda f: lambda self, x: f(self, x) * 1.01)"
                "(torch.nn.Conv2d.forward)\n")
    return install


def test_a_torchvision_importer_and_a_cu117_pin_run_in_one_full_environment(needy: dict,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fullenv, "install", fake_install())
    (needy["repo"] / "requirements.txt").write_text("torchvision==0.14.1+cu117\ntorch==1.13.1+cu117\n")
    proc = sweep_here(*needy["args"], "--model_id", 6, 7)
    assert proc.returncode == 0, proc.stderr
    assert ran(proc) == {6, 7}
    entries = read_results(needy["results"])
    vision, both = (entries[n]["sweep"]["team_env"] for n in ("06_Vision", "07_VisionPackaged"))
    full = needy["tmp"] / "envs" / fullenv.key()
    assert vision["kind"] == both["kind"] == "full" and vision["python"] == both["python"] == str(full / "bin/python")
    assert vision["replaced"] == {"torchvision==0.14.1+cu117": "torchvision of the full environment"}
    assert vision["base_packages"] == {"torchvision": "0.0+fake"} and vision["site"] is None
    assert both["packages"] == {"esr_fake_pkg": "1.0"} and set(both["content_sha256"]) == {str(full),
                                                                                           str(Path(both["site"]).parents[2])}
    check = vision["baseline_check"]
    assert check["year"] == 2025 and check["differs"] is None and check["baseline"] == "00_EFDN_baseline"
    assert check["torch"] == torch.__version__


def test_a_team_that_fails_only_in_its_own_environment_ends_in_one_line(needy: dict,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fullenv, "install", fake_install(perturb=True))
    proc = sweep_here(*needy["args"], "--model_id", 6)
    assert proc.returncode == 0 and ran(proc) == set()
    reason = failures(needy["results"])["06"]
    assert re.fullmatch(rf"its full environment \(torch {re.escape(torch.__version__)}\) gives the 2025 baseline "
                        r"other figures than the harness's: output differs by 0\.0\d+ of the data range \(over 0\.0001\); its figures would "
                        r"not count", reason), reason
    calls = []
    monkeypatch.setattr(fullenv, "_run_check", lambda *a: calls.append(a))
    envcache._checked.clear()
    assert ran(sweep_here(*needy["args"], "--model_id", 6, "--force")) == set()
    assert failures(needy["results"])["06"] == reason and calls == []  # the verdict is cached per environment


# --- the one real full environment ------------------------------------------------------------------------------


@pytest.mark.timeout(1800)
def test_a_real_torchvision_team_runs_in_a_real_full_environment_and_equals_table_1(tmp_path: Path) -> None:
    """2024 team 24 imports torchvision.ops and its repository pins torchvision==0.14.1+cu117: it runs in the full
    environment (made once under .cache/team-envs/, minutes and ~6 GB the first time) after the 2024 baseline gave
    the harness's figures there, and its params and FLOPs equal Table 1 of the 2024 report as printed."""
    repo = shared_file("challenges", "NTIRE2024_ESR")
    row = next(r for r in json.loads(shared_file("reference", "published", "ntire2024_table1.json").read_text())["rows"]
               if r["team_id"] == 24)
    results = tmp_path / "R.json"
    proc = sweep_here("--challenge-repo", repo, "--profile-only", "--cpu-dry-run", "--team-env", "auto", "--results",
                      results, "--model_id", 24)
    assert proc.returncode == 0, proc.stderr
    assert ran(proc) == {24}, proc.stdout
    entry = read_results(results)["24_SMFA"]
    env = entry["sweep"]["team_env"]
    assert env["kind"] == "full" and env["base_packages"]["torch"] == fullenv.PAIR[0].split("==")[1]
    assert env["base_packages"]["torchvision"] == fullenv.PAIR[1].split("==")[1]
    assert env["replaced"] == {"torchvision==0.14.1+cu117": "torchvision of the full environment"}
    assert env["baseline_check"]["differs"] is None and env["baseline_check"]["baseline"] == "00_RLFN_baseline"
    assert env["baseline_check"]["torch"].startswith(fullenv.PAIR[0].split("==")[1])
    assert round(entry["num_parameters"], 3) == row["params_M"] and round(entry["flops"], 2) == row["flops_G"]
