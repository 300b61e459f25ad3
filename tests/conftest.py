"""Fixtures every tier uses: no downloads, the shared reference folder (skipped when absent), and a guard that fails
any test writing into the checkout's results/ folder. Helpers that are not fixtures live in tests/helpers.py.

Parallel workers (pytest-xdist) share the cores: each, and every process it starts, gets its share of the threads,
and idle OpenMP threads sleep instead of spinning (set before torch is imported), so that two workers do not hold
each other's cores; a sweep's workers and an in-process run then compute with the same thread count."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):  # inherited by the processes tests start: one thread count for all
    share = (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, share)))

import pytest  # noqa: E402
from helpers import SHARED  # noqa: E402

CHECKOUT_RESULTS = Path(__file__).resolve().parents[1] / "results"
"""The checkout's own results folder: no test writes there (every output goes to ``tmp_path``)."""
DEMO_DATA = CHECKOUT_RESULTS / "demo_data"
"""Except the embedded demo set, which the harness writes there once, by design, and reuses."""
_WRITES: dict[str, list[str] | None] = {"into_checkout": None}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _audit(event: str, args: tuple) -> None:
    """Note every file this process creates, writes, renames or removes under the checkout's results folder."""
    seen = _WRITES["into_checkout"]
    if seen is None:
        return
    if event == "open":
        path, mode, flags = args
        writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE_FLAGS)
        paths = [path] if writing else []
    elif event in ("os.mkdir", "os.remove", "os.rmdir", "os.truncate", "os.chmod", "os.utime", "shutil.rmtree"):
        paths = [args[0]]
    elif event in ("os.rename", "os.symlink", "os.link"):
        paths = [args[0], args[1]]
    else:
        return
    for path in paths:
        if isinstance(path, (str, bytes, os.PathLike)):
            full = os.path.abspath(os.fsdecode(path))
            inside = full == str(CHECKOUT_RESULTS) or full.startswith(str(CHECKOUT_RESULTS) + os.sep)
            making_demo = event == "os.mkdir" and full == str(CHECKOUT_RESULTS)  # a fresh clone has no results/
            if inside and not making_demo and not (full == str(DEMO_DATA) or full.startswith(str(DEMO_DATA) + os.sep)):
                seen.append(f"{event} {full}")


sys.addaudithook(_audit)


@pytest.fixture(autouse=True)
def nothing_written_into_the_checkout() -> Iterator[None]:
    """Every test writes under its tmp_path only: a write under the checkout's results/ fails the test."""
    _WRITES["into_checkout"] = seen = []
    try:
        yield
    finally:
        _WRITES["into_checkout"] = None
    assert not seen, f"wrote into the checkout: {seen[:3]}"



@pytest.fixture(scope="session", autouse=True)
def no_downloads() -> Iterator[None]:
    """No test reaches outside the machine: checkpoints are never downloaded (ESR_OFFLINE=1) unless a
    test unsets it to fetch from its own local server (tests/e2e/test_zoo.py)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ESR_OFFLINE", "1")
        mp.delenv("ESR_ZOO_URL", raising=False)
        yield


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared folder; tests that need it skip, with the reason, when it is absent."""
    if not (SHARED / "reference").is_dir() or not (SHARED / "data").is_dir():
        pytest.skip(f"{SHARED} not found: the reference data and figures live beside the checkout")
    return SHARED


