"""A repository's teams read with ast (negative ids, match statements), a team's requirement lines as untrusted input,
the manifest that seals a cached environment, and the worker's own packages that a full environment must hold."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import PROJECT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from benchmark.organizer import envcache, fullenv, teamenv
from benchmark.organizer.challenge import read_repository
from benchmark.organizer.envcache import TeamEnvError

SELECT = '''\
# NTIRE2025
def select_model(args, device):
    model_id = args.model_id
    if model_id == -1:
        model = "negative"
    elif model_id == 0:
        model = "zero"
    elif model_id == 1:
        pass
    match model_id:
        case 7 | -8:
            model = "matched"
        case 9:
            model = "nine"
    return model, "name", 1.0, None
'''


def test_every_branch_is_a_team_negative_ids_and_match_cases_included(tmp_path: Path) -> None:
    (tmp_path / "test_demo.py").write_text(SELECT)
    repo = read_repository(tmp_path)
    assert repo.team_ids == [-8, -1, 0, 1, 7, 9]
    assert repo.branches[-1].where == "test_demo.py:4-5"
    assert repo.branches[1].where == "test_demo.py:8-9"
    assert repo.branches[-8].where == repo.branches[7].where == "test_demo.py:11-12"
    assert "model = \"matched\"" in repo.branches[-8].text and "nine" not in repo.branches[-8].text


@pytest.mark.parametrize(("line", "why"), [
    ("evil @ http://127.0.0.1:9/evil-1.0-py3-none-any.whl", "direct reference"),
    ("evil@ file:///etc/passwd", "direct reference"),
    ("http://127.0.0.1:9/evil.whl", "not a distribution name"),
    ("./local/package", "not a distribution name"),
    ("/abs/path.whl", "not a distribution name"),
    ("--index-url http://127.0.0.1:9/simple", "not a distribution name"),
    ("-e .", "not a distribution name"),
    ("json", "standard library"),
    ("asyncio==3.4.3", "standard library"),
])
def test_a_requirement_that_is_not_a_registry_name_is_refused_in_one_line(line: str, why: str) -> None:
    with pytest.raises(TeamEnvError) as err:
        teamenv.checked(line, "team05_requirements.txt")
    assert why in str(err.value) and "team05_requirements.txt" in str(err.value) and "\n" not in str(err.value)


def test_registry_names_with_versions_extras_and_markers_pass() -> None:
    assert str(teamenv.checked("einops==0.7.0  # pinned", "r.txt")) == "einops==0.7.0"
    assert str(teamenv.checked("timm[extra]>=0.6; python_version >= '3.8'", "r.txt")).startswith("timm[extra]>=0.6")


def test_own_requirements_file_lines_are_checked(tmp_path: Path) -> None:
    (tmp_path / "team05_requirements.txt").write_text("einops==0.7.0\nevil @ https://example.invalid/e.whl\n")
    with pytest.raises(TeamEnvError, match=r"team05_requirements.txt: requirement 'evil @"):
        teamenv.requirements({"repo": str(tmp_path), "team_id": 5}, ["einops"])


@pytest.mark.parametrize(("name", "make", "why"), [
    ("team05_requirements.txt", lambda p: p.symlink_to("/dev/zero"), "a link to /dev/zero, outside {repo}"),
    ("team05_requirements.txt", lambda p: p.symlink_to("/etc/passwd"), "a link to /etc/passwd, outside {repo}"),
    ("team05_requirements.txt", lambda p: os.mkfifo(p), "not a regular file (a FIFO, socket or device)"),
    ("team05_requirements.txt", lambda p: p.mkdir(), "a folder"),
    ("team05_requirements.txt", lambda p: p.write_text("einops\n" * 200_000), "1,400,000 bytes, over the 1,048,576"),
    ("requirements.txt", lambda p: p.symlink_to("/dev/zero"), "a link to /dev/zero, outside {repo}"),
    ("requirements.txt", lambda p: os.mkfifo(p), "not a regular file (a FIFO, socket or device)"),
])
def test_a_requirements_file_that_is_no_file_of_the_repository_is_one_line(
        tmp_path: Path, name: str, make, why: str) -> None:  # noqa: ANN001 - make: a lambda of the parametrization
    """A link to a device without end (the driver read until out of memory), a FIFO (the sweep hung), a folder
    (a traceback), a link out of the repository (its first line was quoted in the record), a file of megabytes."""
    make(tmp_path / name)
    with pytest.raises(TeamEnvError) as err:
        teamenv.requirements({"repo": str(tmp_path), "team_id": 5}, ["einops"])
    assert str(err.value).startswith(f"{name}: {why.format(repo=tmp_path)}")


def test_thousands_of_requirements_or_one_of_megabytes_give_a_short_line(tmp_path: Path) -> None:
    (tmp_path / "team05_requirements.txt").write_text("x" * 1_000_000 + "==1.0\n")
    assert teamenv.requirements({"repo": str(tmp_path), "team_id": 5}, ["x"]) == ["x" * 1_000_000 + "==1.0"]
    assert teamenv._failure(["x" * 1_000_000 + "==1.0"], "ERROR: no such package") == \
        f"needs {'x' * 80}…, which cannot be installed here (no such package)"
    many = [f"pkg{i}==1.0" for i in range(300)]
    assert teamenv._failure(many, "ERROR: no such package") == \
        "needs pkg0==1.0, pkg1==1.0, pkg2==1.0, pkg3==1.0, pkg4==1.0 … (300 in all), which cannot be installed here " \
        "(no such package)"
    with pytest.raises(TeamEnvError) as err:
        teamenv.checked("@" * 100_000, "team05_requirements.txt")
    assert str(err.value) == f"team05_requirements.txt: requirement {'@' * 120 + '…'!r} is refused (not a " \
                             "distribution name with version specifiers)"


def test_an_import_of_the_standard_library_installs_nothing(tmp_path: Path) -> None:
    with pytest.raises(TeamEnvError, match="standard library"):
        teamenv.requirements({"repo": str(tmp_path), "team_id": 5}, ["json"])


def test_pins_choose_the_environment_and_lose_their_cuda_labels(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("torchvision==0.14.1+cu117\neinops==0.7.0\ntimm==0.6.12\n")
    job = {"repo": str(tmp_path), "team_id": 3}
    assert teamenv.requirements(job, ["einops"]) == ["einops==0.7.0"]
    assert not teamenv.needs_full(["einops==0.7.0"])
    wanted = teamenv.requirements(job, ["torchvision", "einops"])
    assert wanted == ["einops==0.7.0", "torchvision==0.14.1+cu117"] and teamenv.needs_full(wanted)
    assert teamenv.needs_full(["timm==0.6.12"]) and teamenv.needs_full(["somepkg==1.0+cu118"])
    lines, replaced = teamenv._installable(wanted, True)
    assert lines == ["einops==0.7.0"]
    assert replaced == {"torchvision==0.14.1+cu117": "torchvision of the full environment"}
    assert teamenv._installable(["somepkg==1.0+cu118"], False) == (["somepkg==1.0"], {"somepkg==1.0+cu118": "somepkg==1.0"})


def test_a_sealed_folder_is_verified_and_any_change_is_seen(tmp_path: Path) -> None:
    folder = tmp_path / "env"
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg" / "__init__.py").write_text("X = 1\n")
    (folder / "pkg" / "data.bin").write_bytes(b"\0" * 10)
    digest = envcache.seal(folder)
    assert envcache.verified(folder) == digest
    envcache._checked.clear()  # another process: hashes every file
    assert envcache.verified(folder) == digest
    (folder / "pkg" / "__init__.py").write_text("X = 2\n")
    assert envcache.verified(folder) is None
    (folder / "pkg" / "__init__.py").write_text("X = 1\n")
    assert envcache.verified(folder) == digest
    (folder / "pkg" / "data.bin").unlink()
    assert envcache.verified(folder) is None
    (folder / "pkg" / "data.bin").write_bytes(b"\0" * 10)
    (folder / "pkg" / "extra.py").write_text("")
    assert envcache.verified(folder) is None
    (folder / "pkg" / "extra.py").unlink()
    (folder / envcache.MANIFEST).unlink()
    assert envcache.verified(folder) is None  # unsealed: never reused
    os.mkfifo(folder / envcache.MANIFEST)  # made by the team's code as it ran: reading it waited for ever
    assert envcache.verified(folder) is None and teamenv.written({"content_sha256": {str(folder): digest}})
    assert teamenv.stale({"content_sha256": {str(folder): digest}}) == "its team environment env changed or is gone"
    assert teamenv.stale(None) is None and teamenv.stale({}) == "no record of its team environment's content"


def test_an_entry_whose_environment_had_no_digest_is_stale(tmp_path: Path) -> None:
    """A folder changed before its digest was recorded (null) is not up to date because it is still changed (null)."""
    (tmp_path / "env").mkdir()
    gone = teamenv.stale({"content_sha256": {str(tmp_path / "env"): None}})
    assert gone == "its team environment env changed or is gone"
    digest = envcache.seal(tmp_path / "env")
    assert teamenv.stale({"content_sha256": {str(tmp_path / "env"): digest}}) is None


def test_an_install_that_outlives_the_deadline_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = f"import subprocess, time; p = subprocess.Popen(['sleep', '60']); open({str(pid_file)!r}, 'w')" \
             ".write(str(p.pid)); time.sleep(60)"
    begin = time.monotonic()
    with pytest.raises(envcache.Deadline, match="the --timeout ran out while installing x"):
        envcache.run([sys.executable, "-c", script], None, time.monotonic() + 2, "installing x")
    assert time.monotonic() - begin < 10
    child = int(pid_file.read_text())
    time.sleep(0.2)
    state = Path(f"/proc/{child}/stat").read_text().split()[2] if Path(f"/proc/{child}").exists() else "gone"
    assert state in ("gone", "Z")
    code, output = envcache.run([sys.executable, "-c", "import time; time.sleep(30)"], None, None, "x", limit=1)
    assert code != 0 and "took over 1 s" in output


def test_a_full_environment_holds_every_package_the_worker_imports() -> None:
    """The worker runs under a full environment's Python: fullenv.WORKER must name what it imports (with their
    dependencies), or a team would fail there for want of the harness's own package."""
    code = ("import sys, json; import benchmark.organizer.worker, benchmark.organizer.envcheck; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True)
    tops = set(json.loads(out.stdout.strip().splitlines()[-1])) - set(sys.stdlib_module_names)
    owners = importlib.metadata.packages_distributions()
    needed = {d for t in tops for d in owners.get(t, [])} - {"torch"}
    covered: set[str] = set()
    todo = list(fullenv.WORKER)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in covered:
            continue
        covered.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        todo += [r.name for r in map(Requirement, requires) if r.marker is None or r.marker.evaluate({"extra": ""})]
    missing = sorted(d for d in needed if canonicalize_name(d) not in covered)
    assert not missing, f"the worker imports {missing}, which fullenv.WORKER does not bring"
