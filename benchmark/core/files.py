"""Files written so that nothing is lost: sha256, atomic replacement (through symlinks, keeping the mode), a lock, plain names."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import unicodedata
from pathlib import Path
from typing import Any, Iterator


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
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
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


KEY_LENGTH = 100
"""The longest key :func:`key_of` makes (a file name has at most 255 bytes)."""


def key_of(name: Any, fallback: str) -> str:
    """A name from untrusted code (a team's ``select_model``) as a results key and a file name: control and
    format characters, line breaks and path separators become ``_``, runs of spaces one space, the ends stripped;
    ``fallback`` where nothing plain is left (a blank name, ``.``, ``..``)."""
    text = "".join("_" if c in "/\\" or unicodedata.category(c)[0] in "CZ" and c != " " else c for c in str(name))
    text = " ".join(text.split())[:KEY_LENGTH].strip()
    return text if plain_name(text) and text.strip("._") else fallback
