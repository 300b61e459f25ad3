"""Each team's worker run as another, unprivileged account (``--run-as USER``).

A process per team contains crashes, hangs and memory blow-ups; an account of its own also keeps the team's code from
writing what the sweep's user owns: the harness, its environment, the repository, the other teams' results. Only
root can start a process as another user, so the sweep runs as root and the team does not. The worker gets a folder
of its own (its home and its result); the job file and the logs stay in folders the team cannot write, so that it
cannot put a link where the sweep later writes as root.
"""

from __future__ import annotations

import getpass
import os
import pwd
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.core.errors import HarnessError
from benchmark.core.files import PROJECT

_PROBE = """import os, sys
for role, path in zip(sys.argv[1::2], sys.argv[2::2]):
    if role == "read" and not os.access(path, os.R_OK | (os.X_OK if os.path.isdir(path) else 0)):
        print("cannot read", path); break
    if role == "keep" and os.access(path, os.W_OK):
        print("can write", path); break
"""
"""Run as the account: the first path it cannot read, or can write though it must not."""


@dataclass(frozen=True)
class Account:
    """The user a team's worker runs as."""

    name: str
    uid: int
    gid: int

    def popen_options(self) -> dict[str, Any]:
        """``subprocess.Popen`` arguments that start a process as this account, with no supplementary groups (root's
        would otherwise be kept)."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def environment(self, home: Path) -> dict[str, str]:
        """Variables that point the worker's caches at ``home`` (the sweep user's home is not the account's)."""
        return {"HOME": str(home), "USER": self.name, "LOGNAME": self.name, "XDG_CACHE_HOME": str(home / ".cache")}

    def enters(self, folder: Path) -> bool:
        """Whether the account may pass through ``folder``, by its mode bits (what the kernel checks first)."""
        st = folder.stat()
        bit = stat.S_IXUSR if st.st_uid == self.uid else stat.S_IXGRP if st.st_gid == self.gid else stat.S_IXOTH
        return bool(st.st_mode & bit)

    def own(self, folder: Path) -> None:
        """Give ``folder`` (made by the sweep, empty) to the account: the only place it may write."""
        os.chown(folder, self.uid, self.gid)

    def take_back(self, folder: Path) -> None:
        """Give everything under ``folder`` (what the account installed there) back to the sweep's user, writable by
        no one else and with no set-id bit, so that the team's code, run as the account, cannot change it later."""
        uid, gid = os.getuid(), os.getgid()
        for path in [folder, *(Path(root, name) for root, dirs, files in os.walk(folder) for name in [*dirs, *files])]:
            os.chown(path, uid, gid, follow_symlinks=False)
            mode = path.lstat().st_mode
            if not stat.S_ISLNK(mode):
                os.chmod(path, stat.S_IMODE(mode) & ~(stat.S_ISUID | stat.S_ISGID | stat.S_IWGRP | stat.S_IWOTH))


def resolve(user: str) -> Account:
    """The account ``--run-as`` names (a name or a uid), refused in one line when it cannot confine a team."""
    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except (KeyError, OverflowError):
        raise HarnessError(f"--run-as {user}: no such user on {os.uname().nodename}; make one for the teams "
                           "(useradd --system --no-create-home esr-team) or name another") from None
    if entry.pw_uid == 0:
        raise HarnessError(f"--run-as {user}: that is root, which the team's code would then be; name an "
                           "unprivileged user (useradd --system --no-create-home esr-team)")
    if os.geteuid() != 0:
        raise HarnessError(f"--run-as {user}: only root can start a team as another user, and this sweep runs as "
                           f"{getpass.getuser()}; run the sweep as root, or drop --run-as and sweep as an unprivileged "
                           "user, in a container")
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def check_reach(account: Account, readable: list[Path], kept: list[Path]) -> None:
    """Before any team runs: the account runs this Python, reads every path of ``readable`` (the harness, the
    repository, the data) and writes none of ``kept`` (the harness and its environment, which it would otherwise
    change as the sweep's user could); else one line naming the path and the fix."""
    args = [arg for path in readable for arg in ("read", str(path))] + [
        arg for path in kept for arg in ("keep", str(path))]
    fix = "(chmod -R o+rX on it and the folders above it, or --run-as a user who can read it)"
    try:
        probe = subprocess.run([sys.executable, "-I", "-c", _PROBE, *args], check=False, cwd="/", capture_output=True,
                               text=True, timeout=60, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                               **account.popen_options())
    except (OSError, subprocess.SubprocessError) as err:
        probe = subprocess.CompletedProcess([], 1, "", str(err))
    if probe.returncode != 0:
        python = Path(sys.executable).resolve()
        closed = next((folder for folder in reversed(python.parents) if not account.enters(folder)), None)
        if closed is not None:
            raise HarnessError(f"--run-as {account.name}: {account.name} cannot run {python}: it cannot enter {closed} "
                               f"(chmod o+x {closed}, or make the harness's environment with a Python outside it)")
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        raise HarnessError(f"--run-as {account.name}: {account.name} cannot run {python} ({last}) {fix}")
    said = probe.stdout.strip()
    if said.startswith("cannot read"):
        raise HarnessError(f"--run-as {account.name}: {account.name} {said} {fix}")
    if said.startswith("can write"):
        raise HarnessError(f"--run-as {account.name}: {account.name} {said}, so the account would keep nothing from "
                           "the team's code; take its write permission away (chmod -R o-w) or name another user")


def confine(user: str, repositories: list[Path], inputs: list[Path | str | None]) -> None:
    """``--run-as USER`` before any team runs (a sweep's, or an atlas's before its first sweep): USER is an account
    that reads the harness, the ``repositories`` and the ``inputs`` (data, checkpoints; None left out) and writes none
    of the harness, its Python or the repositories; one line otherwise."""
    account = resolve(user)
    kept = [PROJECT, Path(sys.prefix), Path(sys.base_prefix), *repositories]
    check_reach(account, [PROJECT, *repositories, *(Path(p).resolve() for p in inputs if p)], kept)
