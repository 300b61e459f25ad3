"""What a team's process actually read: every file it opened (an audit hook on ``open``), and the data's own hashes.

The resume check trusts nothing the team's code says about its inputs: a checkpoint loaded through a
file object, ``from torch import load``, ``np.load`` or a config read by hand is an ``open`` all the
same. The worker records every file opened for reading under the repository and the data folders;
the split images themselves are covered by one digest per split (:func:`split_digest`), so that other
pixels under the same image names make the team run again.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from benchmark.core.files import name_under, sha256_of

_WRITE_ONLY = os.O_WRONLY


class Opened:
    """Paths opened for reading while :attr:`active`, in order (an audit hook: installed once, for the process's life)."""

    def __init__(self) -> None:
        self.paths: dict[str, None] = {}
        self.active = False
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event != "open" or not self.active:
            return
        try:
            path, mode, flags = args
            if path is None or isinstance(path, int):
                return
            if isinstance(mode, str) and "r" not in mode and "+" not in mode:
                return
            if mode is None and isinstance(flags, int) and flags & os.O_ACCMODE == _WRITE_ONLY:
                return
            self.paths[os.path.abspath(os.fsdecode(path))] = None
        except Exception:  # noqa: BLE001 - an audit hook must never make the team's open fail
            return

    def under(self, roots: Iterable[Path], skip: Callable[[Path], bool] = lambda p: False) -> list[Path]:
        """The regular files opened that lie under one of ``roots``, in the order first opened. A file reached through
        a symlink under a root (``model_zoo/w.pth`` → a file elsewhere, or a ``model_zoo`` that is a link) is given by
        its link's path: the team loaded it from there, and its target's content is what a sha256 of that path reads."""
        roots = [Path(r).resolve() for r in roots]
        found = []
        for name in list(self.paths):
            path = _as_named(Path(name), roots)
            if path is not None and path.is_file() and not skip(Path(name).resolve()) and not skip(path) \
                    and path not in found:
                found.append(path)
        return found

    def tried(self, roots: Iterable[Path], base: Path, skip: set[Path]) -> dict[str, str | None]:
        """Every path opened or tried under one of ``roots`` (a failed run's inputs) → its file's sha256, None where
        there is none (a checkpoint that is missing); named relative to ``base`` where under it. A module read from
        its ``__pycache__`` counts as its source, which is what a change would be made to."""
        roots = [Path(r).resolve() for r in roots]
        found: dict[str, str | None] = {}
        for name in list(self.paths):
            path = Path(name)
            if path.suffix == ".pyc" and path.parent.name == "__pycache__":
                with contextlib.suppress(ValueError):
                    path = Path(importlib.util.source_from_cache(name))
            path = _as_named(path, roots)
            if path is not None and path not in skip:
                found[name_under(path, base)] = digest_of(path)
        return found


def _as_named(opened: Path, roots: list[Path]) -> Path | None:
    """An opened path by the name under one of ``roots`` it was reached by: as the team named it (a folder on the way
    may be a link out of the repository), else with its folder's links resolved, else wholly resolved; None when it
    lies under none."""
    for path in (opened, opened.parent.resolve() / opened.name, opened.resolve()):
        if any(path.is_relative_to(r) for r in roots):
            return path
    return None


def digest_of(path: Path) -> str | None:
    """What a traced input is now: its sha256; None where nothing is (a missing checkpoint, a link to nothing); a
    folder or device in its place, or a file that cannot be read, each told apart from both (a team then fails
    otherwise than it did)."""
    try:
        if not path.exists():
            return None
        return sha256_of(path) if path.is_file() else "not a regular file"
    except (OSError, ValueError) as err:  # a name too long for a path, a file this user cannot read
        return f"unreadable ({type(err).__name__})"


def split_digest(pairs: Iterable[tuple[str, str, str]], sha: Callable[[Path], str | None] = sha256_of) -> str:
    """One sha256 over a split's images: each name with its HR and LR file's sha256, in order."""
    digest = hashlib.sha256()
    for name, hr, lr in pairs:
        digest.update(f"{name}\0{sha(Path(hr))}\0{sha(Path(lr))}\n".encode())
    return digest.hexdigest()
