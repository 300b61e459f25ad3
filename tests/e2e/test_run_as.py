"""``sweep --run-as USER``: each team's code runs as an unprivileged account, so what it must not write (the
repository, the sweep's files, anything the account does not own) stays as it was, and the other teams run."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import FAST, PROJECT, FakeIndex, add_branch, failures, make_repo, ran, wheel, write_set

from benchmark.organizer.account import Account

MASK = ('mkdir -p "$3" && mount --bind "$2" "$3" && mount -t tmpfs -o mode=755 tmpfs "$1" && mkdir "$2" && '
        'mount --bind "$3" "$2" && shift 3 && exec "$@"')
"""In a mount namespace of its own: folder $1 (closed to others) replaced by an open one holding only $2, its child
on the way to Python (bound back from $3): the account reaches the harness's Python, and nothing else of $1."""


def _nobody() -> Account:
    if os.geteuid() != 0:
        pytest.skip(f"--run-as starts processes as another user, which only root can do (this test runs as uid "
                    f"{os.geteuid()})")
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("this machine has no user 'nobody' to run teams as")
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _launcher(account: Account, scratch: Path) -> list[str]:
    """How to start the sweep so that the account can run the harness's Python: as it is, or (a Python under a closed
    folder such as /root) in a mount namespace where that folder shows only the way to it."""
    python = Path(sys.executable).resolve()
    closed = next((f for f in reversed(python.parents) if not account.enters(f)), None)
    if closed is None:
        return []
    if any(not account.enters(f) for f in PROJECT.resolve().parents):
        pytest.skip(f"the checkout {PROJECT} is inside a folder the account cannot enter")
    namespace = shutil.which("unshare") and subprocess.run(["unshare", "-m", "true"], check=False, capture_output=True)
    if not namespace or namespace.returncode:
        pytest.skip(f"the harness's Python is inside {closed}, closed to other users, and no mount namespace can be "
                    "made here to open the way to it")
    child = closed / python.relative_to(closed).parts[0]
    return ["unshare", "-m", "sh", "-c", MASK, "mask", str(closed), str(child), str(scratch / "bound")]


@pytest.fixture
def open_repo() -> Iterator[Path]:
    """A fake repository and data in a folder every user can read (pytest's own temporary folders are closed)."""
    root = Path(tempfile.mkdtemp(prefix="esr-run-as-"))
    try:
        root.chmod(0o755)
        yield root
    finally:
        shutil.rmtree(root)


def test_a_team_runs_as_the_account_and_cannot_write_what_it_does_not_own(open_repo: Path) -> None:
    account = _nobody()
    launcher = _launcher(account, open_repo)
    repo = make_repo(open_repo / "repo")
    data = write_set(open_repo / "data" / "Tiny", {"a": (12, 16)})
    victim = open_repo / "kept" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text("the sweep user's file\n")
    add_branch(repo, 66, f"open({str(victim)!r}, 'a').write('written by team 66')\n"
                         "from models.team00_Tiny import Tiny\nname, data_range, model = '66_Writer', 1.0, Tiny()")
    add_branch(repo, 67, "open('test_demo.py', 'a').write('# team 67 was here')\n"
                         "from models.team00_Tiny import Tiny\nname, data_range, model = '67_Editor', 1.0, Tiny()")
    demo = (repo / "test_demo.py").read_text()
    results = open_repo / "out" / "r.json"
    proc = subprocess.run([*launcher, sys.executable, "-m", "benchmark.sweep", "--challenge-repo", repo, "--model_id",
                           "0", "66", "67", "--dataset", data, "--results", results, "--run-as", "nobody", *FAST],
                          check=False, cwd=PROJECT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert ran(proc) == {0}
    assert failures(results) == {
        "66": f"PermissionError: [Errno 13] Permission denied: '{victim}' (while building team 66 with select_model "
              "(test_demo.py:49-52); in test_demo.py:50)",
        "67": "PermissionError: [Errno 13] Permission denied: 'test_demo.py' (while building team 67 with select_model "
              "(test_demo.py:53-56); in test_demo.py:54)"}
    assert victim.read_text() == "the sweep user's file\n"
    assert (repo / "test_demo.py").read_text() == demo


@pytest.mark.parametrize("command", ["sweep", "atlas"])
@pytest.mark.parametrize("mistake", ["closed data", "open repository"])
def test_a_path_the_account_cannot_read_or_can_write_is_one_line_before_any_team(open_repo: Path, mistake: str,
                                                                                  command: str) -> None:
    account = _nobody()
    launcher = _launcher(account, open_repo)
    repo = make_repo(open_repo / "repo")
    closed = open_repo / "closed"
    data = write_set(closed / "Tiny", {"a": (12, 16)})
    if mistake == "closed data":
        closed.chmod(0o700)
        said = (f"cannot read {data.resolve()} (chmod -R o+rX on it and the folders above it, or --run-as a user who "
                "can read it)")
    else:
        repo.chmod(0o777)
        said = (f"can write {repo.resolve()}, so the account would keep nothing from the team's code; take its write "
                "permission away (chmod -R o-w) or name another user")
    out = ["--results", open_repo / "r.json", *FAST] if command == "sweep" else ["--out", open_repo / "r.json"]
    proc = subprocess.run([*launcher, sys.executable, "-m", f"benchmark.{command}", "--challenge-repo", repo,
                           "--model_id", "0", "--dataset", data, "--run-as", "nobody", *out],
                          check=False, cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert proc.stderr.strip() == f"error: --run-as nobody: nobody {said}"
    assert not (open_repo / "r.json").exists()


PLANT = """import os
pid = os.getppid()
while pid > 1:  # pip, which installs into --prefix (the overlay): a link there to the victim, where the sweep writes
    args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
    if b"--prefix" in args:  # setup.py runs more than once
        link = os.path.join(args[args.index(b"--prefix") + 1].decode(), "requirements.in")
        os.path.lexists(link) or os.symlink(VICTIM, link)
        break
    pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
"""


def _build_code_sdist(folder: Path, victim: Path, plant: bool) -> None:
    """``esr_fake_pkg`` as a source package whose build code writes into the sweep user's file, or (``plant``) builds
    after leaving a link to that file where the sweep writes once pip is done."""
    base = folder / "src" / "esr_fake_pkg-1.0"
    base.mkdir(parents=True)
    (base / "esr_fake_pkg.py").write_text("FEATS = 6\n")
    code = PLANT.replace("VICTIM", repr(str(victim))) if plant else \
        f"open({str(victim)!r}, 'a').write('written by a package build')\n"
    (base / "setup.py").write_text(code + "from setuptools import setup\n"
                                   "setup(name='esr_fake_pkg', version='1.0', py_modules=['esr_fake_pkg'])\n")
    (base / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: esr_fake_pkg\nVersion: 1.0\n")
    with tarfile.open(folder / "esr_fake_pkg-1.0.tar.gz", "w:gz") as tar:
        tar.add(base, arcname=base.name)


@pytest.mark.parametrize("package", ["build code that writes", "build code that leaves a link", "a wheel"])
def test_a_teams_packages_are_installed_as_the_account(open_repo: Path, package: str) -> None:
    """pip runs a source package's build code, which is the team's as much as its network is; what it installs is
    then the sweep user's, which the team's code cannot change."""
    account = _nobody()
    launcher = _launcher(account, open_repo)
    victim = open_repo / "kept" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text("the sweep user's file\n")
    if package == "a wheel":
        wheel(open_repo / "index", "esr_fake_pkg", "FEATS = 6\n")
    else:
        _build_code_sdist(open_repo / "index", victim, plant=package == "build code that leaves a link")
    index = FakeIndex(open_repo / "index")
    repo = make_repo(open_repo / "repo")
    add_branch(repo, 41, "import esr_fake_pkg\nfrom models.team00_Tiny import Tiny\n"
                         "name, data_range, model = '41_Packaged', 1.0, Tiny(esr_fake_pkg.FEATS)")
    (open_repo / "envs").mkdir()
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": f"{index.url}/simple/", "PIP_RETRIES": "0",
           "PIP_DEFAULT_TIMEOUT": "5", "ESR_TEAM_ENVS": str(open_repo / "envs")}
    try:
        proc = subprocess.run([*launcher, sys.executable, "-m", "benchmark.sweep", "--challenge-repo", repo,
                               "--model_id", "41", "--profile-only", "--team-env", "auto", "--results",
                               open_repo / "r.json", "--run-as", "nobody"], check=False, cwd=PROJECT,
                              capture_output=True, text=True, timeout=300, env=env)
    finally:
        index.close()
    assert proc.returncode == 0, proc.stderr
    assert victim.read_text() == "the sweep user's file\n"
    if package != "build code that writes":
        assert ran(proc) == {41}, proc.stdout
        installed = [p for p in (open_repo / "envs").rglob("*") if "esr_fake_pkg" in str(p)]
        assert installed and all(p.lstat().st_uid == os.getuid() and not p.lstat().st_mode & 0o022 for p in installed)
        return
    assert failures(open_repo / "r.json")["41"].startswith("needs esr_fake_pkg, which cannot be installed here (")
    assert f"PermissionError: [Errno 13] Permission denied: '{victim}'" in next(
        (open_repo / "r.sweep").glob("*41*.log")).read_text()
