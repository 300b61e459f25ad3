"""Team environments on disk: each built once in place under a lock, then sealed by a manifest of its files' sha256,
and verified against that manifest before every reuse; pip run under the team's deadline.

A cached environment is input to every figure measured in it, so it is treated as the checkpoints are:
a folder that differs from what was recorded when it was made (a file changed, added or deleted) is
not reused but rebuilt, and its content digest (the sha256 of its manifest) is part of each entry's
resume identity. Verifying hashes every file once per process; later reuses in the same process
compare the files' sizes and modification times with that first pass (a full environment holds
gigabytes). Every wait (the lock another sweep holds, pip itself) ends at the team's deadline.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchmark.core.files import read_regular
from benchmark.organizer.account import Account

MANIFEST = ".esr-manifest.json"
"""Inside each sealed environment: its files and their sha256 (the manifest itself left out)."""


class TeamEnvError(Exception):
    """The team's environment cannot be had here; the message is one line naming what it needs."""


class Deadline(TeamEnvError):
    """The team's --timeout ran out while its environment was being made."""


def remaining(deadline: float | None, doing: str) -> float | None:
    """Seconds left before ``deadline`` (``time.monotonic()``), None for no deadline; Deadline when none are left."""
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise Deadline(f"the --timeout ran out while {doing}")
    return left


@contextlib.contextmanager
def lock(path: Path, deadline: float | None, doing: str) -> Iterator[None]:
    """An exclusive lock on ``path`` (another sweep may be making the same environment), waited for until ``deadline``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                remaining(deadline, f"waiting for another sweep {doing}")
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _files(folder: Path) -> Iterator[tuple[str, os.stat_result, Path]]:
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = Path(root, name)
            rel = str(path.relative_to(folder))
            if rel != MANIFEST:
                yield rel, path.lstat(), path


def manifest_of(folder: Path) -> dict[str, str]:
    """Every file under ``folder``: its sha256 (a symlink: ``-> target``)."""
    found = {}
    for rel, stat, path in _files(folder):
        if path.is_symlink():
            found[rel] = "-> " + os.readlink(path)
        elif stat.st_mode & 0o170000 == 0o100000:
            with open(path, "rb") as f:
                found[rel] = hashlib.file_digest(f, "sha256").hexdigest()
        else:
            found[rel] = "special"
    return found


def _stamp(folder: Path) -> str:
    """Sizes and modification times of every file: what a later reuse in this process compares."""
    digest = hashlib.sha256()
    for rel, stat, _ in _files(folder):
        digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ino}\n".encode())
    return digest.hexdigest()


def digest_of(manifest: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def seal(folder: Path) -> str:
    """Record the folder's files as they are now; returns its content digest."""
    manifest = manifest_of(folder)
    (folder / MANIFEST).write_text(json.dumps(manifest, sort_keys=True))
    _checked[folder] = (_stamp(folder), digest_of(manifest))
    return digest_of(manifest)


_checked: dict[Path, tuple[str, str]] = {}
"""Folder → (its stamp, its content digest) when this process last verified it."""


def verified(folder: Path) -> str | None:
    """The folder's content digest when it holds exactly what its manifest recorded, else None (absent, unsealed,
    or changed since it was made)."""
    try:
        recorded = json.loads(read_regular(folder / MANIFEST))  # a FIFO the team's code made there: changed
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict):
        return None
    stamp = _stamp(folder)
    if _checked.get(folder, (None,))[0] == stamp:
        return _checked[folder][1]
    if manifest_of(folder) != recorded:
        _checked.pop(folder, None)
        return None
    _checked[folder] = (stamp, digest_of(recorded))
    return _checked[folder][1]


def discard(folder: Path) -> None:
    _checked.pop(folder, None)
    shutil.rmtree(folder, ignore_errors=True)
    if folder.exists():  # read-only files left by a hostile package: make them writable, try once more
        for root, dirs, _ in os.walk(folder):
            for name in dirs:
                with contextlib.suppress(OSError):
                    os.chmod(Path(root, name), 0o755)
        shutil.rmtree(folder, ignore_errors=True)


def run(cmd: list[str], log: Path | None, deadline: float | None, doing: str,
        env: dict[str, str] | None = None, limit: float | None = None, account: Account | None = None
        ) -> tuple[int, str]:
    """Run an install command in a session of its own, in an empty folder (pip reads a requirement that names a folder
    there as a path), killed with everything it started at ``deadline`` (Deadline) or after ``limit`` seconds
    (returned as a failure); its output goes to ``log``. With ``account`` (``--run-as``) it runs as that user, the
    empty folder its home: a package's build code and its imports are the team's code."""
    left = remaining(deadline, doing)
    wait = min(x for x in (left, limit) if x is not None) if (left, limit) != (None, None) else None
    with tempfile.TemporaryDirectory(prefix="esr-env-") as empty:
        if account is not None:
            account.own(Path(empty))
            env = {**(os.environ if env is None else env), **account.environment(Path(empty))}
        return _run(cmd, log, left, limit, wait, doing, empty, env, {} if account is None else account.popen_options())


def _run(cmd: list[str], log: Path | None, left: float | None, limit: float | None, wait: float | None, doing: str,
         cwd: str, env: dict[str, str] | None, as_account: dict[str, object]) -> tuple[int, str]:
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True, **as_account)
    try:
        output, _ = proc.communicate(timeout=wait)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        _log(log, output)
        if left is not None and (limit is None or left <= limit):
            raise Deadline(f"the --timeout ran out while {doing}") from None
        return -signal.SIGKILL, output + f"\nERROR: took over {limit:g} s\n"
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    _log(log, output)
    return proc.returncode, output


def _log(log: Path | None, text: str) -> None:
    if log is not None and text:
        with open(log, "a", encoding="utf-8") as f:
            f.write(text)
