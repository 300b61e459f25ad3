"""Why a team has no entry, in one line: what it needs and where its code asked for it.

The worker (``benchmark.organizer.worker``) hands whatever the team's code raised to :func:`explain`;
the line goes to the failures file, and the packages it names to ``--team-env auto``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Any

import torch

from benchmark.core.errors import HarnessError, plain
from benchmark.organizer.challenge import missing_imports, namespace_folders, read_repository
from benchmark.organizer.dryrun import Loads


def _where(err: BaseException, repo: Path | None) -> str | None:
    """The deepest frame of the traceback inside the repository (``models/team00_SPAN.py:490``), else the deepest."""
    frames = traceback.extract_tb(err.__traceback__)
    for frame in reversed(frames):
        path = Path(frame.filename).resolve()
        if repo is not None and path.is_relative_to(repo):
            return f"{path.relative_to(repo)}:{frame.lineno}"
    if frames and repo is None:
        frame = frames[-1]
        return f"{Path(frame.filename).name}:{frame.lineno}"
    return None


def summary(err: BaseException, limit: int = 300) -> str:
    """``Type: message`` on one line: a long message keeps its first and last lines."""
    lines = [line.strip() for line in plain(str(err)).splitlines() if line.strip()]
    text = lines[0] if len(lines) == 1 else f"{lines[0]} … {lines[-1]}" if lines else ""
    text = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _quoted(names: list[str]) -> str:
    return ("the package " if len(names) == 1 else "the packages ") + ", ".join(f"'{n}'" for n in names)


def explain(err: BaseException, job: dict[str, Any], loads: Loads, phase: str) -> tuple[str, list[str]]:
    """One line saying why the team has no entry, naming what it needs and where its code asked for it; and the
    top-level packages it lacks (for ``--team-env auto``)."""
    line = _explained(err, job, loads, phase)
    if isinstance(err, ModuleNotFoundError) and err.name and line.startswith("needs the package"):
        return line, re.findall(r"'([^']+)'", line.split(" (")[0])
    if isinstance(err, NameError) and line.startswith("needs "):
        return line, [job["_unbound"][err.name]]
    return line, []


def _explained(err: BaseException, job: dict[str, Any], loads: Loads, phase: str) -> str:
    repo = Path(job["repo"]).resolve() if job.get("repo") else None
    where = _where(err, repo)
    at = f" in {where}" if where else ""
    missing_ckpt = ""
    if repo is not None and job["source"] == "challenge":
        with contextlib.suppress(Exception):
            branch = read_repository(repo).branches[job["team_id"]]
            absent = [c for c in branch.checkpoints if not (repo / c).is_file()]
            if absent:
                missing_ckpt = f"; its checkpoint {', '.join(absent)} is missing too"
    if isinstance(err, HarnessError):
        return str(err)
    if isinstance(err, ModuleNotFoundError) and err.name:
        top = err.name.split(".")[0]
        if repo is not None and (repo / top).is_dir():
            return f"imports {err.name}, which is not in the repository (ModuleNotFoundError{at})"
        if top == "mmcv" and err.name.startswith("mmcv._ext"):
            return (f"needs mmcv's compiled operators ({err.name}), which mmcv-lite, the build installable here, "
                    f"does not have; install a full mmcv built for this torch by hand (ModuleNotFoundError{at})")
        if top != err.name and _importable(top):
            module = sys.modules.get(top)
            version = getattr(module, "__version__", None)
            what = "Python's standard library" if top in sys.stdlib_module_names else \
                f"{top}{' ' + str(version) if version else ''} as installed here"
            return f"imports {err.name}, which {what} does not have (ModuleNotFoundError{at})"
        names = [top]
        if repo is not None and where:
            local = set(namespace_folders(repo))
            names += [n for n in missing_imports(repo / where.rsplit(":", 1)[0], local) if n != top]
        return f"needs {_quoted(names)} (ModuleNotFoundError{at}){missing_ckpt}"
    if isinstance(err, NameError) and getattr(err, "name", None) in job.get("_unbound", {}):
        package = job["_unbound"][err.name]
        return f"needs {_quoted([package])} (test_demo.py imports {err.name} from it; NameError{at})"
    if isinstance(err, FileNotFoundError) and err.filename is not None:
        name = os.fspath(err.filename)
        if name in loads.attempted or name.lower().endswith((".pth", ".pt", ".ckpt", ".pkl", ".safetensors")):
            return f"checkpoint {os.path.normpath(name)} not found"
    if job["device"] == "cpu" and re.search(r"cuda|nvidia", str(err), re.IGNORECASE):
        return f"needs CUDA ({summary(err)}{',' if where else ''}{at})"
    if isinstance(err, (MemoryError, torch.cuda.OutOfMemoryError)):
        return f"out of memory while {phase} ({summary(err)}{at})"
    return f"{summary(err)} ({'while ' + phase}{';' if where else ''}{at})"


def lasting(err: BaseException) -> bool:
    """Whether a failure would happen again on the same inputs, so that a later sweep may skip the team while they
    are unchanged (``benchmark.organizer.lasting``): anything the team's code raised (a missing package or checkpoint,
    CUDA needed, a branch that builds nothing, its own bug), except what load or chance can cause — running out of
    memory, and an operating-system error other than a missing file (a full disk, too many open files, the network).
    Timeouts, the memory cap and crashes by signal never reach here and are never kept."""
    if isinstance(err, (MemoryError, torch.cuda.OutOfMemoryError, KeyboardInterrupt)):
        return False
    return not isinstance(err, OSError) or isinstance(err, (FileNotFoundError, NotADirectoryError, IsADirectoryError))
