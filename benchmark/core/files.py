"""Files written so that nothing is lost: sha256, atomic replacement (through symlinks, keeping the mode), a lock, plain names."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
import unicodedata
from pathlib import Path
from typing import Any, Iterator

from benchmark.core.errors import HarnessError


def sha256_of(path: str | Path) -> str:
    """The file's sha256, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def companion(results: str | Path, suffix: str) -> Path:
    """A file named after the results file (``R.json`` → ``R.txt``, ``R.log``), so two results files never share one."""
    results = Path(results)
    return results.with_name(results.stem + suffix)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside ``path`` so that two runs writing the same results file both land."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path``'s target with ``text``: through a symlink, keeping the mode (umask's for a new file)."""
    target = path.resolve()
    try:
        mode = target.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o666 & ~umask()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def plain_name(name: Any) -> bool:
    """Whether ``name`` is one file or folder name: a non-empty string without a path separator, NUL, ``.`` or
    ``..``, so that ``folder / name`` always lies directly inside ``folder``."""
    return isinstance(name, str) and name not in ("", ".", "..") and not any(c in name for c in "/\\\0")


def umask() -> int:
    """The process's umask (reading it means setting it; it is set back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_out_path(out: Path, flag: str, fix: str, *, folder: bool = True) -> None:
    """``out`` can be written: not a file where a ``folder`` goes, and under folders (existing or to make).
    Either failure is one line naming ``flag``, ending with ``fix`` (what to choose instead)."""
    if folder and out.exists() and not out.is_dir():
        raise HarnessError(f"{flag} {out}: a file, not a folder; {fix}")
    parent = next((p for p in out.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise HarnessError(f"{flag} {out}: {parent} is a file, not a folder; {fix}")


def folder_beside(out: Path, flag: str, purpose: str) -> Path:
    """A new private folder beside ``out`` (its parents made), where a folder is built whole before
    :func:`replace_folder` puts it in place; a place this user cannot write is one line naming ``flag``."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.{purpose}-"))
    except OSError as err:
        raise HarnessError(f"{flag} {out}: cannot create a folder there ({err.strerror}); choose a writable "
                           "folder") from None


def replace_folder(tmp: Path, out: Path) -> None:
    """Make the complete folder ``tmp`` the folder ``out``, with the mode a folder made here gets (``mkdtemp`` made
    it private); a folder already at ``out`` is moved aside first, put back if the rename fails, and removed only
    once the new one is in place."""
    os.chmod(tmp, 0o777 & ~umask())
    old = None
    if out.is_dir() and any(out.iterdir()):
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
        try:
            os.replace(out, old)  # onto the empty folder just made: the previous one, whole
        except BaseException:
            old.rmdir()
            raise
    try:
        os.replace(tmp, out)  # a missing or empty out is replaced by the complete folder
    except BaseException:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


KEY_LENGTH = 100
"""The longest key :func:`key_of` makes (a file name has at most 255 bytes)."""


def key_of(name: Any, fallback: str) -> str:
    """A name from untrusted code (a team's ``select_model``) as a results key and a file name: control and
    format characters, line breaks and path separators become ``_``, runs of spaces one space, the ends stripped;
    ``fallback`` where nothing plain is left (a blank name, ``.``, ``..``)."""
    text = "".join("_" if c in "/\\" or unicodedata.category(c)[0] in "CZ" and c != " " else c for c in str(name))
    text = " ".join(text.split())[:KEY_LENGTH].strip()
    return text if plain_name(text) and text.strip("._") else fallback
