"""Which failures last (kept across sweeps), and what a failed run is said to have read."""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import json
import os
from pathlib import Path

import pytest
import torch
from helpers import make_repo

from benchmark.core.errors import HarnessError
from benchmark.core.files import sha256_of
from benchmark.measure.settings import Settings
from benchmark.organizer import lasting as kept_failures
from benchmark.organizer.challenge import read_repository
from benchmark.organizer.plan import Freshness, Job, repository_jobs
from benchmark.organizer.reasons import lasting
from benchmark.organizer.tracing import Opened, digest_of


@pytest.mark.parametrize(("err", "lasts"), [
    (ModuleNotFoundError("No module named 'mamba_ssm'", name="mamba_ssm"), True),
    (FileNotFoundError(errno.ENOENT, "No such file", "model_zoo/w.pth"), True),
    (HarnessError("select_model builds no model for team 05"), True),
    (RuntimeError("Jiterator is only supported on CUDA"), True),
    (SystemExit(1), True),
    (MemoryError(), False),
    (torch.cuda.OutOfMemoryError("CUDA out of memory"), False),
    (OSError(errno.ENOSPC, "No space left on device"), False),
    (ConnectionError("network unreachable"), False),
])
def test_only_what_the_inputs_decide_lasts(err: BaseException, lasts: bool) -> None:
    assert lasting(err) is lasts


def test_a_failed_run_reads_absent_files_as_none_and_modules_as_their_source(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "models" / "__pycache__").mkdir(parents=True)
    source = repo / "models" / "team01.py"
    source.write_text("X = 1\n")
    (repo / "test_demo.py").write_text("")
    opened = Opened()
    opened.active = True
    try:
        for name in (importlib.util.cache_from_source(str(source)), repo / "model_zoo" / "gone.pth",
                     repo / "test_demo.py", tmp_path / "elsewhere.txt"):
            try:
                open(name).close()
            except FileNotFoundError:
                pass
    finally:
        opened.active = False
    assert opened.tried([repo], repo, {repo / "test_demo.py"}) == {"models/team01.py": sha256_of(source),
                                                                    "model_zoo/gone.pth": None}


def test_the_identities_sit_beside_the_failures_file_which_keeps_its_format(tmp_path: Path) -> None:
    failures = tmp_path / "R.failures.json"
    failures.write_text(json.dumps({"05": "needs CUDA (x)"}))
    kept_failures.record(failures, "05", {"reason": "needs CUDA (x)", "inputs": {}})
    kept_failures.record(failures, "07", None)  # nothing kept for it: nothing written
    assert kept_failures.read(failures) == {"05": {"reason": "needs CUDA (x)", "inputs": {}}}
    assert json.loads(failures.read_text()) == {"05": "needs CUDA (x)"}
    kept_failures.record(failures, "05", None)
    assert json.loads((tmp_path / "R.failures.inputs.json").read_text()) == {}


def _conditions(repo: Path, trust: bool = False, **settings: object) -> dict:
    parsed = read_repository(repo)
    job = repository_jobs(parsed, 2025, [], Settings(device=torch.device("cpu"), **settings), model_ids=[9],
                          trust_checkpoint=trust)[0]
    conditions = kept_failures.conditions(job, Freshness(parsed, lambda: {"cpu"}))
    assert conditions is not None
    return conditions


def test_every_setting_and_option_a_failure_depends_on_is_in_its_conditions(tmp_path: Path) -> None:
    """A failure a flag decides (a pickled checkpoint refused without --trust-checkpoint, a forward that fails only
    in channels_last or fp16) does not stand when the flag changes."""
    repo = make_repo(tmp_path / "repo")
    plain = _conditions(repo)
    assert plain == _conditions(repo) and plain["settings"]["backend"] == "eager"
    for other in (_conditions(repo, trust=True), _conditions(repo, backend="channels_last"),
                  _conditions(repo, precision="fp16"), _conditions(repo, tile=64)):
        assert other != plain


def test_a_package_the_failure_lacked_is_looked_for_where_the_team_looked(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A package dropped into the repository or the environment, or on a PYTHONPATH set now, opens no file the failed
    run traced: it is looked for by name; a hand-edited list that is not one of names runs the team again."""
    repo, site, elsewhere = tmp_path / "repo", tmp_path / "site", tmp_path / "elsewhere"
    for folder in (repo, site, elsewhere):
        folder.mkdir()
    monkeypatch.delenv("PYTHONPATH", raising=False)
    looked = [str(repo), str(site)]
    assert not kept_failures.found_now(["mamba_ssm"], looked) and not kept_failures.found_now([], looked)
    (site / "mamba_ssm").mkdir()
    (site / "mamba_ssm" / "__init__.py").write_text("")
    assert kept_failures.found_now(["other", "mamba_ssm"], looked)
    (repo / "local_ops.py").write_text("")
    assert kept_failures.found_now(["local_ops"], [str(repo)])
    (elsewhere / "from_path.py").write_text("")
    assert not kept_failures.found_now(["from_path"], looked)
    monkeypatch.setenv("PYTHONPATH", str(elsewhere))
    assert kept_failures.found_now(["from_path"], looked)
    for missing, path in ((["../x"], looked), ("mamba_ssm", looked), ([1], looked), (["x"], str(repo)), (["x"], [1])):
        assert kept_failures.found_now(missing, path)


def test_a_hand_edited_identities_file_runs_the_team_again_and_never_crashes_or_blocks(tmp_path: Path) -> None:
    """Wrong types, a name too long for a path, a device that is a list: the team runs again. A folder or FIFO where
    the failures or their identities are kept is one line before any team runs (a FIFO would block the sweep), and
    one line, not a traceback, when it appears while the teams run."""
    repo = read_repository(make_repo(tmp_path / "repo"))
    freshness = Freshness(repo, lambda: {"cpu"})

    def job() -> Job:
        return repository_jobs(repo, 2025, [], Settings(device=torch.device("cpu")), model_ids=[9])[0]

    failures, reason = tmp_path / "R.failures.json", "checkpoint model_zoo/team09_gone.pth not found"
    failures.write_text(json.dumps({"09": reason}))
    companion = tmp_path / "R.failures.inputs.json"
    good = {"reason": reason, "conditions": kept_failures.conditions(job(), freshness), "missing": [],
            "search_path": [], "inputs": {"model_zoo/team09_gone.pth": None}, "device_name": "cpu", "team_env": None}
    companion.write_text(json.dumps({"09": good}))
    assert kept_failures.split([job()], failures, freshness, False)[1] == {"09": reason}
    for edit in ({"device_name": ["cpu"]}, {"inputs": {"x" * 5000: None}}, {"inputs": [1]}, {"team_env": "x"}):
        companion.write_text(json.dumps({"09": {**good, **edit}}))
        run, still = kept_failures.split([job()], failures, freshness, False)
        assert [j.label for j in run] == ["09"] and still == {}
    for path in (failures, companion):
        path.unlink()
        os.mkfifo(path)
        with pytest.raises(HarnessError, match=f"^{path}: a folder, FIFO or device"):
            kept_failures.split([job()], failures, freshness, False)
        path.unlink()
        path.write_text("{}")
    companion.unlink()
    companion.mkdir()
    with pytest.raises(HarnessError, match=f"^{companion}: cannot be written .*team 09's failure is not kept"):
        kept_failures.record(failures, "09", good)


def test_a_folder_where_a_checkpoint_was_missing_is_not_the_same_input(tmp_path: Path) -> None:
    """A missing checkpoint (or a link to nothing) is absent; a folder in its place makes the team fail otherwise, so
    its kept 'not found' must not stand: each is told apart, from the worker's trace to the driver's check."""
    zoo = tmp_path / "model_zoo"
    zoo.mkdir()
    missing = zoo / "w.pth"
    missing.symlink_to(tmp_path / "nowhere.pth")
    freshness = Freshness(None, set)
    assert digest_of(missing) is None and digest_of(zoo / "never.pth") is None
    missing.unlink()
    missing.mkdir()
    assert digest_of(missing) == "not a regular file" == Freshness(None, set).sha(missing)
    assert freshness.sha(tmp_path / ("x" * 5000)) == "unreadable (OSError)"


def test_a_model_zoo_that_is_a_link_out_of_the_repository_is_traced_by_its_name_in_it(tmp_path: Path) -> None:
    """Weights under a model_zoo/ linked to a folder elsewhere were read from the repository all the same: a run's
    inputs and a failed run's (the missing checkpoint) name them there, so a change to them, or the missing one
    appearing, runs the team again (they were left out: the entry read as random weights, the failure stood)."""
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    repo.mkdir()
    elsewhere.mkdir()
    (repo / "model_zoo").symlink_to(elsewhere)
    (elsewhere / "w.pth").write_bytes(b"weights")
    opened = Opened()
    opened.active = True
    try:
        for name in ("model_zoo/w.pth", "model_zoo/gone.pth"):
            with contextlib.suppress(FileNotFoundError):
                open(repo / name, "rb").close()
    finally:
        opened.active = False
    assert opened.under([repo]) == [repo / "model_zoo" / "w.pth"]
    assert opened.tried([repo], repo, set()) == {"model_zoo/w.pth": sha256_of(elsewhere / "w.pth"),
                                                 "model_zoo/gone.pth": None}
