"""The harness's own files watched around a team's run (benchmark.organizer.integrity): what a snapshot tells apart."""

from __future__ import annotations

import os
import py_compile
import shutil
import sys
from pathlib import Path

from benchmark.organizer.integrity import difference, roots, snapshot


def test_what_a_snapshot_tells_apart(tmp_path: Path) -> None:
    """Added, removed and changed files are told apart; a watched path that does not exist yet counts once it appears
    (a pip configuration file written by a team); bytecode caches count only when they are not their source's."""
    env, config = tmp_path / "env", tmp_path / "pip.conf"
    env.mkdir()
    kept, other = env / "a.py", env / "b.py"
    kept.write_text("VALUE = 1\n")
    other.write_text("VALUE = 2\n")
    cache = Path(py_compile.compile(str(kept), doraise=True))
    where = [env, config]
    before = snapshot(where)
    assert before[str(config)] is None and str(cache) in before and difference(before, snapshot(where)) is None
    py_compile.compile(str(other), doraise=True)  # another process's import: a new cache of its source
    cache.unlink()
    py_compile.compile(str(kept), doraise=True)  # two imports racing: the cache replaced by the same bytecode
    assert difference(before, snapshot(where)) is None
    optimized = Path(py_compile.compile(str(kept), doraise=True, optimize=1))
    assert optimized.name == "a.cpython-%d%d.opt-1.pyc" % sys.version_info[:2]
    assert difference(before, snapshot(where)) is None
    shutil.copy(Path(py_compile.compile(str(other), cfile=str(tmp_path / "planted.pyc"))), cache)  # b's code as a's
    assert difference(before, snapshot(where)) == f"{cache} (bytecode that is not its source's)"
    cache.unlink()  # gone: Python compiles the source again
    assert difference(before, snapshot(where)) is None
    config.write_text("[global]\nindex-url = http://127.0.0.1:9/\n")
    assert difference(before, snapshot(where)) == f"{config} (added)"
    config.unlink()
    shutil.rmtree(cache.parent)
    kept.write_text("VALUE = 3\n")
    assert difference(before, snapshot(where)) == f"{kept} (changed)"
    other.unlink()
    assert difference(before, snapshot(where)) == f"{kept} (changed)"  # the first in path order
    assert difference(snapshot(where) | {str(other): (1, 2, 3, 4)}, snapshot(where)) == f"{other} (removed)"


def test_the_watched_files_are_the_harness_its_python_and_pip_settings() -> None:
    found = snapshot()
    integrity, stdlib_os = Path(difference.__code__.co_filename), Path(os.__file__)
    assert Path(sys.prefix) in roots() and found[str(integrity)] is not None and found[str(stdlib_os)] is not None
    assert "/etc/pip.conf" in found and Path.home() / ".config" / "pip" in roots()
