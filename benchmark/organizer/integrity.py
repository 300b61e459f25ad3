"""The harness's own files stay as they were while a team's code runs; otherwise nothing after it is measured.

A team's code runs as the sweep's user, so it can write into the harness's Python environment (``sys.prefix``),
the standard library it runs on, the harness's code (``benchmark/``, ``models/``, ``test_demo.py``) or pip's
configuration, and every team after it would be measured, or its packages installed, by what it left there. A
process per team cannot prevent that (an unprivileged user or a container can: the README says so); this makes it
seen. Around each worker the driver lists those files with their inode, size, modification and change times (the
change time cannot be set back by whoever writes the file). A difference fails that team in one line naming the
file; every later team is refused, in this sweep and in later ones (a marker in ``.cache/``), until the harness is
reinstalled and the marker deleted. Bytecode caches under ``__pycache__`` are written by any import of another
process (two of them may race to replace one): one that appears, changes or goes counts only when it is not what
its source compiles to, which is what a planted cache would be.
"""

from __future__ import annotations

import itertools
import json
import marshal
import os
import re
import stat
import sys
import sysconfig
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark.core.files import PROJECT, name_under, read_regular

MARKER = PROJECT / ".cache" / "harness-changed.json"
"""Written when a team changed the harness's files; while it exists no team is run."""

Snapshot = dict[str, tuple[int, int, int, int] | None]
"""Path → (inode, size, mtime_ns, ctime_ns), :data:`FOLDER` for a folder; None for a watched path that does not
exist."""
FOLDER = (0, -1, 0, 0)
_PYC_WRITE = re.compile(r"\.pyc\.\d+$")
"""The temporary name importlib writes a bytecode cache under (``m.cpython-311.pyc.<id>``), never imported."""

_lock = threading.Lock()
_refusal: list[str] = []
"""This process's reason to run no further team, once a change was seen (several driver threads share it)."""
_runs = itertools.count()
_running: dict[int, tuple[str, set[str]]] = {}
"""Each watched run in this process (one per device slot) → its team and the teams that ran beside it at some
moment: a change seen at its end may be theirs."""


def roots() -> list[Path]:
    """What a team must leave as it found it: the harness's environment and code, its standard library, pip's
    configuration files (a changed index there would send every later install elsewhere)."""
    home = Path.home()
    return [Path(sys.prefix), Path(sysconfig.get_paths()["stdlib"]), PROJECT / "benchmark", PROJECT / "models",
            PROJECT / "test_demo.py", home / ".config" / "pip", home / ".pip", Path("/etc/pip.conf"),
            Path("/etc/xdg/pip")]


def snapshot(where: list[Path] | None = None) -> Snapshot:
    """Every file and folder under ``where`` (default :func:`roots`), symlinks as links; a root that is a link (a
    ``.venv`` linked to a shared environment) as its link and the folder it points to. About 0.35 s for a
    40,000-file venv."""
    found: Snapshot = {}
    for root in roots() if where is None else where:
        try:
            info = os.lstat(root)
            if stat.S_ISLNK(info.st_mode):
                found[str(root)] = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
                root = Path(os.path.realpath(root))
                info = os.stat(root)
        except FileNotFoundError:
            found.setdefault(str(root), None)
            continue
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode):
            _walk(str(root), found)
        else:
            found[str(root)] = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    return found


def _walk(folder: str, found: Snapshot) -> None:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):  # a folder that appears (an empty one is a namespace package);
                if entry.name != "__pycache__":  # not its inode, which a layered file system may change on a write in it
                    found[entry.path] = FOLDER
                _walk(entry.path, found)
            else:
                info = entry.stat(follow_symlinks=False)
                found[entry.path] = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        except OSError:
            continue


def difference(before: Snapshot, after: Snapshot) -> str | None:
    """The first path that differs (``…/torch/__init__.py (changed)``), or None; new bytecode caches are allowed."""
    if before == after:
        return None
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        if f"{os.sep}__pycache__{os.sep}" in path and _PYC_WRITE.search(path):
            continue  # an import's half-written cache (m.cpython-311.pyc.140234), caught before its rename
        if path.endswith(".pyc") and f"{os.sep}__pycache__{os.sep}" in path:
            if new is None or _compiled_from_source(Path(path)):
                continue
            what = "bytecode that is not its source's"
        else:
            what = "added" if old is None else "removed" if new is None else "changed"
        return f"{name_under(path, PROJECT)} ({what})"
    return None


def _compiled_from_source(cache: Path) -> bool:
    """Whether a bytecode cache holds what its source (``a/__pycache__/m.cpython-311[.opt-N].pyc`` → ``a/m.py``)
    compiles to; code objects compare by their bytecode, constants and names, not by file name or time."""
    module, _, rest = cache.name.partition(".")
    level = rest.split(".opt-")[1].split(".")[0] if ".opt-" in rest else "0"
    source = cache.parent.parent / f"{module}.py"
    try:
        code = marshal.loads(cache.read_bytes()[16:])  # after the 16-byte header: magic, flags, source time and size
        return code == compile(source.read_bytes(), str(source), "exec", dont_inherit=True, optimize=int(level))
    except (OSError, ValueError, EOFError, TypeError, SyntaxError):
        return False


def refused() -> str | None:
    """Why no team may run now: a change seen earlier in this process, or the marker an earlier sweep left."""
    with _lock:
        if _refusal:
            return _refusal[0]
    try:  # a FIFO a team put there held every later team's start for ever
        seen = json.loads(read_regular(MARKER, 1 << 16))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        seen = {}
    seen = seen if isinstance(seen, dict) else {}  # a hand-edited marker, a folder or FIFO in its place still refuse
    return _refused_because(str(seen.get("team", "a team")), str(seen.get("file", "?")))


def _refused_because(team: str, file: str) -> str:
    return (f"not run: the harness's own files changed while {team} ran ({file}); reinstall them (rm -rf .venv && "
            f"make demo; git checkout -- benchmark models test_demo.py), then delete {MARKER}")


def watched(team: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``run()`` (one worker of ``team``) between two snapshots; a difference turns its outcome into a failure and
    refuses every later team. Teams run at once (``--devices``) cannot be told apart: each that saw the change fails,
    naming the others that ran beside it."""
    before = snapshot()
    with _lock:  # the teams running now ran beside this one, and this one beside each of them
        key = next(_runs)
        for _, beside in _running.values():
            beside.add(team)
        _running[key] = (team, {name for name, _ in _running.values()})
    try:
        outcome = run()
        changed = difference(before, snapshot())
    finally:
        with _lock:
            others = sorted(_running.pop(key)[1] - {team})
    if changed is None:
        return outcome
    who = team if not others else f"{team} (or {', '.join(others)}, beside it)"
    with _lock:
        _refusal.append(_refused_because(who, changed))
    try:
        MARKER.parent.mkdir(parents=True, exist_ok=True)
        MARKER.write_text(json.dumps({"team": who, "file": changed}))
    except OSError:
        pass  # this process still refuses; the team's line says what to reinstall
    beside_line = f"; {', '.join(others)} ran at the same time and may have changed it instead" if others else ""
    return {"ok": False, "reason": f"changed the harness's own files while it ran ({changed}){beside_line}; its "
                                   f"figures do not count and no later team is run until the harness is reinstalled"}
