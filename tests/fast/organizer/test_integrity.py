"""The harness's own files watched around a team's run (benchmark.organizer.integrity): what a snapshot tells apart."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from benchmark.organizer.integrity import difference, roots, snapshot


def test_what_a_snapshot_tells_apart(tmp_path: Path) -> None:
    """Added, removed and changed files are told apart; a new bytecode cache is not a change, a replaced one is;
    a watched path that does not exist yet counts once it appears (a pip configuration file written by a team)."""
    (tmp_path / "env" / "__pycache__").mkdir(parents=True)
    kept, cache, config = tmp_path / "env" / "a.py", tmp_path / "env" / "__pycache__" / "a.pyc", tmp_path / "pip.conf"
    kept.write_text("x")
    cache.write_bytes(b"1")
    where = [tmp_path / "env", config]
    before = snapshot(where)
    assert before[str(config)] is None and difference(before, snapshot(where)) is None
    (tmp_path / "env" / "__pycache__" / "b.pyc").write_bytes(b"")
    assert difference(before, snapshot(where)) is None
    config.write_text("[global]\nindex-url = http://127.0.0.1:9/\n")
    assert difference(before, snapshot(where)) == f"{config} (added)"
    config.unlink()
    cache.unlink()
    cache.write_bytes(b"1")
    assert difference(before, snapshot(where)) == f"{cache} (changed)"
    before = snapshot(where)
    kept.unlink()
    assert difference(before, snapshot(where)) == f"{kept} (removed)"



def test_the_watched_files_are_the_harness_its_python_and_pip_settings() -> None:
    found = snapshot()
    integrity, stdlib_os = Path(difference.__code__.co_filename), Path(os.__file__)
    assert Path(sys.prefix) in roots() and found[str(integrity)] is not None and found[str(stdlib_os)] is not None
    assert "/etc/pip.conf" in found and Path.home() / ".config" / "pip" in roots()
