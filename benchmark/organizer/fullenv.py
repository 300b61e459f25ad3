"""A full environment for the teams an overlay cannot serve: a venv with a matching torch + torchvision pair and the
harness's own runtime packages, made once under ``.cache/team-envs/``, checked on the year's baseline before any
team's figures count.

PyPI's torchvision is built for one torch release; beside the harness's CPU build of torch its
operators do not load (``operator torchvision::nms does not exist``), and a team's ``+cu117`` pin or
``torch==1.13.1`` cannot be had here at all. Such a team runs under this venv's Python instead: torch
and torchvision of :data:`PAIR`, the packages the worker itself imports (:data:`WORKER`) at the harness's
own versions (the same fvcore and ptflops count the same FLOPs), and the team's packages in an overlay
on top. Before a team's figures count, the year's baseline is built in both environments with the same
weights and must give the same output (within :data:`TOLERANCE` of its data range) and the same
complexity figures; the verdict is cached per environment and year.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.files import PROJECT
from benchmark.organizer import envcache
from benchmark.organizer.envcache import TeamEnvError

CACHE = Path(os.environ.get("ESR_TEAM_ENVS") or PROJECT / ".cache" / "team-envs")
"""Where team environments are made and kept (``ESR_TEAM_ENVS``: another disk; a full one takes 5.8 GB)."""
PAIR = ("torch==2.14.1", "torchvision==0.29.1")
"""The torch + torchvision pair of a full environment: one that installs here and runs on a CPU as on a GPU."""
WORKER = ("numpy", "opencv-python-headless", "pillow", "fvcore", "ptflops", "nvidia-ml-py", "requests", "rich",
          "scipy", "tabulate")
"""What the worker imports besides torch (tests/fast/organizer checks this list against the worker's imports)."""
TOLERANCE = 1e-4
"""Largest difference, as a fraction of the data range, between the baseline's output in the two environments."""
INSTALL_SECONDS = 3600
"""A full environment's install (gigabytes of CUDA libraries, from a local disk here) that takes longer has failed."""


@dataclass(frozen=True)
class Base:
    """The environment a worker's interpreter comes from: the harness's own (``folder`` None) or a full venv."""

    folder: Path | None

    @property
    def python(self) -> Path:
        return Path(sys.executable) if self.folder is None else self.folder / "bin" / "python"

    @property
    def site(self) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"

    def packages(self) -> dict[str, str]:
        """Distribution → version of everything the environment holds."""
        found = importlib.metadata.distributions() if self.site is None else \
            importlib.metadata.distributions(path=[str(self.site)])
        return {d.metadata["Name"]: d.version for d in found if d.metadata["Name"]}

    def pins(self) -> str:
        """Every distribution at its installed version: an overlay on this environment changes none."""
        return "".join(sorted({f"{name}=={version}\n" for name, version in self.packages().items()}))

    def torch(self) -> str | None:
        return self.packages().get("torch")


HARNESS = Base(None)


def worker_pins() -> list[str]:
    """The worker's own packages at the harness's versions."""
    return [f"{name}=={importlib.metadata.version(name)}" for name in WORKER]


def key() -> str:
    return "full-" + hashlib.sha256(json.dumps([PAIR, worker_pins(), sys.version]).encode()).hexdigest()[:16]


def ensure(log: Path | None = None, deadline: float | None = None) -> Base:
    """The full environment, made once (minutes, gigabytes) and verified before each reuse; TeamEnvError when it
    cannot be made here."""
    base = Base(CACHE / key())
    doing = f"making the full environment ({', '.join(PAIR)})"
    with envcache.lock(CACHE / f"{key()}.lock", deadline, doing):
        if envcache.verified(base.folder):
            return base
        envcache.discard(base.folder)
        base.folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            install(base, log, deadline, doing)
        except BaseException:
            envcache.discard(base.folder)
            raise
        envcache.seal(base.folder)
    return base


def install(base: Base, log: Path | None, deadline: float | None, doing: str) -> None:
    """Make the venv and install the pair and the worker's packages into it."""
    env = {**os.environ, "PIP_NO_INPUT": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    steps = [[sys.executable, "-m", "venv", str(base.folder)],
             [str(base.python), "-m", "pip", "install", "--no-input", "--disable-pip-version-check",
              "--no-warn-script-location", *PAIR, *worker_pins()]]
    for cmd in steps:
        code, output = envcache.run(cmd, log, deadline, doing, env, INSTALL_SECONDS)
        if code != 0:
            last = [line for line in output.splitlines() if line.startswith("ERROR:")] or \
                output.strip().splitlines()[-1:] or ["no output"]
            raise TeamEnvError(f"needs a full environment ({', '.join(PAIR)}), which cannot be made here "
                               f"({last[-1].removeprefix('ERROR:').strip()[:160]})")


def _reference(year: int, log: Path | None, deadline: float | None) -> Path:
    """The harness environment's baseline run: weights, output and figures (made once per harness and year)."""
    folder = CACHE / "checks" / f"{year}-{hashlib.sha256(HARNESS.pins().encode()).hexdigest()[:16]}"
    with envcache.lock(folder.with_suffix(".lock"), deadline, f"checking the {year} baseline"):
        if not (folder / "harness.json").is_file():
            folder.mkdir(parents=True, exist_ok=True)
            _run_check(HARNESS, year, folder, "harness", log, deadline)
    return folder


def _run_check(base: Base, year: int, folder: Path, tag: str, log: Path | None, deadline: float | None) -> None:
    cmd = [str(base.python), "-m", "benchmark.organizer.envcheck", str(year), str(folder), tag]
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "PYTHONDONTWRITEBYTECODE": "1"}
    code, output = envcache.run(cmd, log, deadline, f"checking the {year} baseline", env, 600)
    if code != 0:
        last = (output.strip().splitlines() or ["no output"])[-1]
        raise TeamEnvError(f"its full environment (torch {base.torch()}) cannot run the {year} baseline ({last[:160]})")


def compare(folder: Path, tag: str) -> str | None:
    """Why the run ``tag`` in ``folder`` differs from the harness's, or None when it gives the same figures."""
    ours, theirs = (json.loads((folder / f"{t}.json").read_text()) for t in ("harness", tag))
    if ours["figures"] != theirs["figures"]:
        keys = [k for k in ours["figures"] if ours["figures"][k] != theirs["figures"].get(k)]
        return "complexity differs (" + ", ".join(f"{k} {theirs['figures'].get(k)} ≠ {ours['figures'][k]}"
                                                for k in keys) + ")"
    a, b = (np.load(folder / f"{t}.npy") for t in ("harness", tag))
    if a.shape != b.shape:
        return f"output shape {list(b.shape)} ≠ {list(a.shape)}"
    diff = float(np.abs(a.astype(np.float64) - b).max()) / ours["data_range"]
    return None if diff <= TOLERANCE else f"output differs by {diff:.2g} of the data range (over {TOLERANCE:g})"


def check(base: Base, year: int, log: Path | None = None, deadline: float | None = None) -> dict[str, Any]:
    """The year's baseline in ``base`` against the harness's own run: the cached verdict, or TeamEnvError."""
    digest = envcache.verified(base.folder)
    verdict_file = CACHE / "checks" / f"{base.folder.name}-{year}-{(digest or '')[:16]}.json"
    if digest is not None and verdict_file.is_file():
        verdict = json.loads(verdict_file.read_text())
    else:
        folder = _reference(year, log, deadline)
        tag = f"{base.folder.name}-{(digest or '')[:16]}"
        _run_check(base, year, folder, tag, log, deadline)
        why = compare(folder, tag)
        run = json.loads((folder / f"{tag}.json").read_text())
        verdict = {"year": year, "baseline": run["baseline"], "torch": run["torch"], "cuda": run["cuda"],
                   "differs": why, "figures": run["figures"]}
        verdict_file.write_text(json.dumps(verdict, indent=1))
    if verdict["differs"]:
        raise TeamEnvError(f"its full environment (torch {verdict['torch']}) gives the {year} baseline other "
                           f"figures than the harness's: {verdict['differs']}; its figures would not count")
    return verdict
