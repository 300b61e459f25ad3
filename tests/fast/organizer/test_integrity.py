"""The harness's own files watched around a team's run (benchmark.organizer.integrity): what a snapshot tells apart."""

from __future__ import annotations

import os
import py_compile
import shutil
import sys
from pathlib import Path

import pytest

from benchmark.organizer import integrity
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


def test_a_linked_environment_an_empty_folder_and_a_half_written_cache(tmp_path: Path) -> None:
    """A root that is a link (a .venv linked to a shared environment, as sys.prefix then is) is watched through it;
    an empty folder a team makes is a namespace package every later import of its name finds, so it counts; the
    temporary file an import writes its cache under before renaming it does not, nor does a new __pycache__."""
    real, env = tmp_path / "shared-env", tmp_path / ".venv"
    (real / "site-packages").mkdir(parents=True)
    module = real / "site-packages" / "mod.py"
    module.write_text("VALUE = 1\n")
    env.symlink_to(real)
    before = snapshot([env])
    assert str(module) in before and str(env) in before
    (real / "site-packages" / "__pycache__").mkdir()
    (real / "site-packages" / "__pycache__" / "mod.cpython-311.pyc.140234567").write_bytes(b"half")
    assert difference(before, snapshot([env])) is None
    (real / "site-packages" / "torchvision").mkdir()
    assert difference(before, snapshot([env])) == f"{real / 'site-packages' / 'torchvision'} (added)"
    (real / "site-packages" / "torchvision").rmdir()
    module.write_text("VALUE = 2\n")
    assert difference(before, snapshot([env])) == f"{module} (changed)"


def test_a_hand_made_marker_still_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not JSON, a list, a folder, a FIFO (a team can make one there; reading it waited for ever): every later team
    is still refused, in one line, never a traceback."""
    marker = tmp_path / "harness-changed.json"
    monkeypatch.setattr(integrity, "MARKER", marker)
    monkeypatch.setattr(integrity, "_refusal", [])
    assert integrity.refused() is None
    for write in (lambda: marker.write_text("[1, 2]"), lambda: marker.write_text("{not json"), marker.mkdir,
                  lambda: os.mkfifo(marker)):
        write()
        assert integrity.refused() == integrity._refused_because("a team", "?")
        marker.rmdir() if marker.is_dir() else marker.unlink()
    marker.write_text('{"team": "team 07", "file": "benchmark/core/files.py (changed)"}')
    assert integrity.refused() == integrity._refused_because("team 07", "benchmark/core/files.py (changed)")


def test_teams_run_at_once_each_name_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two device slots: team 07 changes a harness file while team 03 runs beside it. Neither snapshot can tell whose
    change it was, so each fails naming the other; a team run later, alone, names no one."""
    import threading

    harness = tmp_path / "harness"
    harness.mkdir()
    (harness / "files.py").write_text("x = 1\n")
    monkeypatch.setattr(integrity, "roots", lambda: [harness])
    monkeypatch.setattr(integrity, "MARKER", tmp_path / "harness-changed.json")
    monkeypatch.setattr(integrity, "_refusal", [])
    both = threading.Barrier(2)
    changed = threading.Event()

    def innocent() -> dict:
        both.wait()
        changed.wait(10)
        return {"ok": True}

    def offender() -> dict:
        both.wait()
        (harness / "files.py").write_text("x = 2  # longer\n")
        changed.set()
        return {"ok": True}

    outcomes: dict[str, dict] = {}
    threads = [threading.Thread(target=lambda t=t, f=f: outcomes.__setitem__(t, integrity.watched(t, f)))
               for t, f in (("team 03", innocent), ("team 07", offender))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not outcomes["team 03"]["ok"] and not outcomes["team 07"]["ok"]
    assert "team 07 ran at the same time and may have changed it instead" in outcomes["team 03"]["reason"]
    assert "team 03 ran at the same time and may have changed it instead" in outcomes["team 07"]["reason"]
    assert integrity._running == {}
    alone = integrity.watched("team 09", lambda: {"ok": True})
    assert alone == {"ok": True}
    assert "(or team" in integrity.refused()
