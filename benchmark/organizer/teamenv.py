"""A team's own packages (``--team-env auto``): an overlay on the harness's environment, or on a full one of its own.

A team that imports a package the harness lacks (einops, timm, basicsr, mmcv …) would end with "needs
the package". With ``--team-env auto`` its worker is started again in an environment that has it:

- an **overlay**: a folder that pip installs into with ``--prefix``, put last on the worker's ``sys.path``
  once the harness is imported, on top of the harness's own environment (every distribution of which is
  pinned, so no overlay replaces torch or numpy under the harness's figures);
- on a **full environment** (:mod:`benchmark.organizer.fullenv`: a venv with a matching torch and
  torchvision and the harness's own runtime packages), when the overlay cannot serve: the team needs
  torchvision (itself, or through timm, basicsr …: PyPI's torchvision does not load beside the
  harness's CPU build of torch), pins torch, or pins a ``+cuXXX`` build. Its worker then runs under that
  venv's Python, and its other packages go into an overlay on top of that venv.

What is installed is the team's own requirements file where the repository ships one
(``team05_requirements.txt``, ``models/team05_*/requirements.txt``), else the missing imports mapped
to their distributions, at the version the repository's ``requirements.txt`` pins (``+cu117`` labels
dropped; torch, torchvision and torchaudio come from the full environment). Every line is a
distribution name from the registry with version specifiers: a direct reference (``name @ URL``), a URL,
a path, a pip option or a standard-library name ends the team in one line instead. Environments are
cached under ``.cache/team-envs/`` by what they hold, shared by the teams that need the same, verified
against their manifest before each reuse (:mod:`benchmark.organizer.envcache`). A package that cannot be
installed here (one that compiles CUDA code, such as mamba_ssm) ends the team with one line naming it; that
failure is kept too, and said again without a new attempt while nvcc and ``CUDA_HOME`` are as they were.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from benchmark.core.errors import HarnessError
from benchmark.core.files import small_text
from benchmark.organizer import envcache, fullenv
from benchmark.organizer.account import Account
from benchmark.organizer.envcache import Deadline, TeamEnvError

__all__ = ["Deadline", "TeamEnvError", "prepare", "requirements", "stale"]

ROUNDS = 4
"""Worker runs per team at most: the first, then one after each install of what it was still missing."""
PIP_SECONDS = 1200
"""An install that takes longer than this (a package compiling CUDA code, say) counts as failed."""
DISTRIBUTIONS = {
    "PIL": "pillow", "cv2": "opencv-python-headless", "skimage": "scikit-image", "sklearn": "scikit-learn",
    "yaml": "PyYAML", "mamba_ssm": "mamba-ssm", "causal_conv1d": "causal-conv1d", "huggingface_hub": "huggingface_hub",
    "einops": "einops", "timm": "timm", "basicsr": "basicsr", "torchvision": "torchvision", "thop": "thop",
    "natten": "natten", "kornia": "kornia", "lpips": "lpips", "pywt": "PyWavelets", "fast_pytorch_kernels": None,
    "mmcv": "mmcv-lite",
}
"""Import name → its distribution on PyPI, where the two differ or are known; None: not on PyPI (never installed).
Any other import is taken to be its own distribution's name. ``mmcv`` is mmcv-lite, its pure-Python build (the
full one compiles CUDA operators against one torch build): a team that needs mmcv's operators ends in one line."""
FULL = {"torch", "torchvision", "torchaudio", "timm", "basicsr", "basicsr-fixed", "lpips"}
"""Distributions that need a torch and torchvision pair of their own (they import torchvision, or are torch); any other
that pulls torchvision into its overlay is found there and moves to the full environment too."""
PAIRED = {"torch", "torchvision", "torchaudio"}
"""Provided by the full environment itself, whatever version a team pins."""
REQUIREMENTS_BYTES = 1 << 20
"""The largest requirements file of a repository that is read (a team's file is untrusted input)."""
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Overlay:
    folder: Path
    requirements: tuple[str, ...]

    @property
    def site(self) -> Path:
        return self.folder / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"

    def packages(self) -> dict[str, str]:
        """Distribution → version of everything the overlay holds."""
        return {d.metadata["Name"]: d.version for d in importlib.metadata.distributions(path=[str(self.site)])}


def checked(line: str, source: str) -> Requirement:
    """A requirement line that names a registry distribution (with optional extras, versions and markers), or a
    TeamEnvError naming ``source`` and the line."""
    text = line.split("#")[0].strip()
    why = None
    try:
        req = Requirement(text)
    except InvalidRequirement:
        req, why = None, "not a distribution name with version specifiers"
    if req is not None:
        if req.url or "@" in text or "://" in text:
            why = "a direct reference (name @ URL): only distribution names from the package registry are installed"
        elif not _NAME.match(req.name):
            why = "not a distribution name"
        elif req.name.lower().replace("-", "_") in sys.stdlib_module_names:
            why = f"{req.name} is a module of Python's standard library, not a distribution to install"
    if why is not None:
        raise TeamEnvError(f"{source}: requirement {_named([text], chars=120)!r} is refused ({why})")
    return req


def _pins(repo: Path) -> dict[str, str]:
    """Distribution (canonical name) → the requirement line the repository's requirements.txt pins it with."""
    pins = {}
    if os.path.lexists(repo / "requirements.txt"):
        for line in _read(repo / "requirements.txt", repo).splitlines():
            match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*==\s*([\w.+\-]+)\s*$", line)
            if match:
                pins[canonicalize_name(match[1])] = f"{match[1]}=={match[2]}"
    return pins


def _read(path: Path, repo: Path) -> str:
    """A requirements file of the repository (:func:`benchmark.core.files.small_text`), or TeamEnvError."""
    try:
        return small_text(path, repo, REQUIREMENTS_BYTES)
    except HarnessError as err:
        raise TeamEnvError(str(err)) from None
    except OSError as err:
        raise TeamEnvError(f"{path.relative_to(repo)}: cannot be read ({err.strerror or err})") from None


def _named(lines: list[str], limit: int = 5, chars: int = 80) -> str:
    """Requirement lines for a one-line message: the first few, each cut to a bound (a team's file can hold
    thousands, or one line of megabytes)."""
    shown = [x if len(x) <= chars else x[:chars] + "…" for x in lines[:limit]]
    return ", ".join(shown) + (f" … ({len(lines)} in all)" if len(lines) > limit else "")


def own_requirements(repo: Path, team_id: int) -> Path | None:
    """The requirements file the repository ships for this team, if any."""
    team = f"team{team_id:02}"
    for pattern in (f"{team}*requirements*.txt", f"requirements*{team}*.txt", f"models/{team}*requirements*.txt",
                    f"models/{team}*/requirements*.txt"):
        found = sorted(repo.glob(pattern))
        if found:
            return found[0]
    return None


def requirements(job: dict[str, Any], missing: list[str]) -> list[str]:
    """What the team's environment holds: its own requirements file's lines, else each missing import's
    distribution; every line checked (:func:`checked`)."""
    repo = Path(job["repo"]) if job.get("repo") else None
    own = own_requirements(repo, job["team_id"]) if repo is not None else None
    if own is not None:
        lines = [line.split("#")[0].strip() for line in _read(own, repo).splitlines()]
        source = str(own.relative_to(repo))
        return sorted({str(checked(line, source)) for line in lines if line})
    pins = _pins(repo) if repo is not None else {}
    wanted = []
    for name in missing:
        if name in sys.stdlib_module_names:
            raise TeamEnvError(f"imports {name}, a module of Python's standard library; no package to install")
        if name in DISTRIBUTIONS and DISTRIBUTIONS[name] is None:
            raise TeamEnvError(f"needs the package '{name}', which is not published on PyPI; install it by hand")
        dist = DISTRIBUTIONS.get(name, name)
        line = pins.get(canonicalize_name(dist), dist)
        wanted.append(str(checked(line, "requirements.txt" if line != dist else f"import {name}")))
    return sorted(set(wanted))


def needs_full(wanted: list[str]) -> bool:
    """Whether an overlay on the harness's environment cannot serve these requirement lines."""
    reqs = [Requirement(w) for w in wanted]
    return any(canonicalize_name(r.name) in FULL or "+" in str(r.specifier) for r in reqs)


def _installable(wanted: list[str], full: bool) -> tuple[list[str], dict[str, str]]:
    """The lines an overlay installs, and what was asked for but replaced: a ``+cuXXX`` label dropped; torch,
    torchvision and torchaudio given by the full environment's pair."""
    lines, replaced = [], {}
    for text in wanted:
        req = Requirement(text)
        if full and canonicalize_name(req.name) in PAIRED:
            replaced[text] = f"{req.name} of the full environment"
            continue
        specs = [f"{s.operator}{s.version.split('+')[0]}" for s in req.specifier]
        line = req.name + (f"[{','.join(sorted(req.extras))}]" if req.extras else "") + ",".join(specs) + \
            (f"; {req.marker}" if req.marker else "")
        if line != text:
            replaced[text] = line
        lines.append(line)
    return sorted(set(lines)), replaced


def _failure(wanted: list[str], output: str) -> str:
    """One line from pip's output: the package that failed and, where it says so, that it compiles CUDA code."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line.removeprefix("ERROR:").strip() for line in lines if line.startswith("ERROR:")]
    failed = next((e for e in errors if e.startswith("Failed building wheel")), errors[-1] if errors else None)
    hints = [re.sub(r"^[WEI]\d{4} [\d:.]+ +\d+ \S+\] ", "", line) for line in lines
             if re.search(r"CUDA_HOME|nvcc|No CUDA runtime", line)]
    parts = [re.sub(r"^.*?\b\w*(Warning|Error):\s*", "", x).split(". ")[0].strip() for x in
             (failed, hints[-1] if hints else None) if x] or [(lines or ["no output"])[-1]]
    why = "; ".join(dict.fromkeys(parts))
    why = why if len(why) <= 200 else why[:199] + "…"
    return f"needs {_named(wanted)}, which cannot be installed here ({why})"


def ensure(wanted: list[str], base: fullenv.Base, log: Path | None = None, deadline: float | None = None,
           account: Account | None = None) -> Overlay:
    """The overlay holding ``wanted`` on ``base``, installed once, cached and verified; TeamEnvError when pip fails.
    With ``account``, pip (and the build code of what it installs) runs as that user, into a folder given back to
    the sweep's user before it is sealed."""
    pins = base.pins()
    key = hashlib.sha256(json.dumps([sorted(wanted), sys.version, pins]).encode()).hexdigest()[:20]
    overlay = Overlay(fullenv.CACHE / key, tuple(sorted(wanted)))
    doing = f"installing {_named(wanted)}"
    failed = fullenv.CACHE / f"{key}.failed.json"
    toolchain = [shutil.which("nvcc"), os.environ.get("CUDA_HOME")]  # what a build of CUDA code would need
    with envcache.lock(fullenv.CACHE / f"{key}.lock", deadline, doing):
        if envcache.verified(overlay.folder):
            return overlay
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            known = json.loads(failed.read_text())
            if known["toolchain"] == toolchain:  # the same install failed here before: said again, not retried
                raise TeamEnvError(str(known["reason"]))
        envcache.discard(overlay.folder)  # absent, half made, or changed since it was made: made anew
        overlay.folder.mkdir(parents=True)
        (overlay.folder / "constraints.txt").write_text(pins)
        if account is not None:
            account.own(overlay.folder)
        cmd = [str(base.python), "-m", "pip", "install", "--prefix", str(overlay.folder), "--no-build-isolation",
               "--no-input", "--disable-pip-version-check", "--no-warn-script-location", "-c",
               str(overlay.folder / "constraints.txt"), *wanted]
        env = {**os.environ, "PIP_NO_INPUT": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            code, output = envcache.run(cmd, log, deadline, doing, env, PIP_SECONDS, account)
        except envcache.Deadline:
            envcache.discard(overlay.folder)
            raise
        if code != 0:
            envcache.discard(overlay.folder)
            reason = _failure(wanted, output)
            failed.write_text(json.dumps({"reason": reason, "toolchain": toolchain}))
            raise TeamEnvError(reason)
        if account is not None:
            account.take_back(overlay.folder)
            for name in ("requirements.in", envcache.MANIFEST):  # a link it left where the sweep now writes
                (overlay.folder / name).unlink(missing_ok=True)
        (overlay.folder / "requirements.in").write_text("".join(f"{w}\n" for w in sorted(wanted)))
        envcache.seal(overlay.folder)
    return overlay


def _top_modules(dist: importlib.metadata.Distribution) -> list[str]:
    """The top-level modules a distribution installs (``top_level.txt``, else its files)."""
    text = dist.read_text("top_level.txt")
    if text:
        return sorted({t for t in text.split() if t.isidentifier()})
    tops = set()
    for file in dist.files or []:
        first = file.parts[0]
        if len(file.parts) > 1 and first.isidentifier():
            tops.add(first)
        elif len(file.parts) == 1 and first.endswith(".py") and first[:-3].isidentifier():
            tops.add(first[:-3])
    return sorted(tops)


_IMPORT_CHECK = """
import importlib, json, sys
import torch
sys.path.append(sys.argv[1])
broken = {}
for line, modules in json.loads(sys.argv[2]).items():
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as err:
            broken[line] = (type(err).__name__ + ": " + str(err)).splitlines()[0][:200]
            break
print("BROKEN" + json.dumps(broken))
"""


def broken(overlay: Overlay, base: fullenv.Base, lines: list[str], log: Path | None, deadline: float | None,
           account: Account | None = None) -> dict[str, str]:
    """Requirement line → why its distribution does not import under ``base`` with the overlay (cached by content);
    imported as ``account`` where there is one, as the team's code is run."""
    digest = envcache.verified(overlay.folder)
    cached = overlay.folder.with_name(f"{overlay.folder.name}.imports.json")
    with contextlib.suppress(OSError, ValueError):
        found = json.loads(cached.read_text())
        if found.get("digest") == digest and found.get("python") == str(base.python):
            return found["broken"]
    modules = {}
    for line in lines:
        dist = next(iter(importlib.metadata.Distribution.discover(name=Requirement(line).name,
                                                                  path=[str(overlay.site)])), None)
        if dist is not None:
            modules[line] = _top_modules(dist)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": ""}
    _, output = envcache.run([str(base.python), "-c", _IMPORT_CHECK, str(overlay.site), json.dumps(modules)], log,
                             deadline, f"importing {_named(lines)}", env, 300, account)
    result = output[output.rfind("BROKEN") + 6:].strip() if "BROKEN" in output else None
    found = json.loads(result) if result else {line: (output.strip().splitlines() or ["no output"])[-1][:200]
                                                   for line in lines}
    cached.write_text(json.dumps({"digest": digest, "python": str(base.python), "broken": found}))
    return found


ALTERNATIVES = {"basicsr": "basicsr-fixed"}
"""A distribution whose last release does not import beside the full environment's torchvision → the registry's
release of it that does (basicsr 1.4.2 imports ``torchvision.transforms.functional_tensor``, gone since 0.17)."""


def _nearest(line: str, why: str, base: fullenv.Base, log: Path | None, deadline: float | None) -> str:
    """The release nearest ``line``'s that may import here: the next one after a pinned version, else a known
    alternative; TeamEnvError when there is none."""
    req = Requirement(line)
    pinned = [s.version for s in req.specifier if s.operator == "=="]
    if pinned:
        _, output = envcache.run([str(base.python), "-m", "pip", "index", "versions", req.name], log, deadline,
                                 f"looking up {req.name}'s releases",
                                 {**os.environ, "PIP_NO_INPUT": "1", "PYTHONDONTWRITEBYTECODE": "1"}, 120)
        found = re.search(r"Available versions: (.+)", output)
        later = sorted(v for v in (_version(t.strip()) for t in (found[1].split(",") if found else []))
                       if v is not None and not v.is_prerelease and v > _version(pinned[0]))
        if later:
            return f"{req.name}=={later[0]}"
    elif canonicalize_name(req.name) in ALTERNATIVES:
        return ALTERNATIVES[canonicalize_name(req.name)]
    raise TeamEnvError(f"needs {line}, which does not import here ({why})")


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def prepare(job: dict[str, Any], missing: list[str], log: Path | None = None, deadline: float | None = None,
            account: Account | None = None) -> dict[str, Any]:
    """The environment the team's next worker runs in, as the job (and its entry's ``sweep.team_env``) holds it; the
    team's packages are installed and imported as ``account`` (``--run-as``) where there is one."""
    wanted = requirements(job, missing)
    full = needs_full(wanted)
    overlay = None
    if not full:
        lines, replaced = _installable(wanted, False)
        overlay = ensure(lines, fullenv.HARNESS, log, deadline, account)
        if PAIRED & {canonicalize_name(n) for n in overlay.packages()}:
            full = True  # a package that pulled in torchvision (or torch): it needs the pair
    base = fullenv.ensure(log, deadline) if full else fullenv.HARNESS
    check = None
    if full:
        check = fullenv.check(base, job["year"], log, deadline)
        lines, replaced = _installable(wanted, True)
        overlay = ensure(lines, base, log, deadline, account) if lines else None
    for _ in range(ROUNDS):
        failing = broken(overlay, base, lines, log, deadline, account) if overlay is not None else {}
        if not failing:
            break
        for line, why in failing.items():
            nearer = _nearest(line, why, base, log, deadline)
            original = next((k for k, v in replaced.items() if v == line), line)
            replaced[original] = nearer
            lines = sorted({nearer if x == line else x for x in lines})
        overlay = ensure(lines, base, log, deadline, account)
    else:
        raise TeamEnvError(f"needs {_named(lines)}, which do not import here ({'; '.join(failing.values())})")
    return {**describe(base, overlay, wanted, replaced, check), "imports": list(missing)}


def describe(base: fullenv.Base, overlay: Overlay | None, wanted: list[str], replaced: dict[str, str],
             check: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the worker is given and the entry records: the interpreter, the overlay, every package with its version,
    the baseline check of a full environment, and each folder's content digest (part of the entry's resume
    identity)."""
    folders = {str(f): envcache.verified(f) for f in (base.folder, overlay.folder if overlay else None) if f}
    for folder, digest in folders.items():
        if digest is None:  # sealed when made, changed since: by a package that writes into it when imported
            raise TeamEnvError(f"its team environment {Path(folder).name} changed when its packages were imported "
                               "(a package writes into it); its figures would not count")
    return {"kind": "full" if base.folder is not None else "overlay", "python": str(base.python),
            "site": str(overlay.site) if overlay else None, "requirements": wanted, "replaced": replaced,
            "torch": base.torch(), "base_packages": base.packages() if base.folder is not None else {},
            "packages": overlay.packages() if overlay else {}, "content_sha256": folders,
            **({"baseline_check": {k: v for k, v in check.items() if k != "figures"}} if check else {})}


def _changed(folders: dict[str, Any]) -> Path | None:
    """The first environment folder that is gone or differs from the digest recorded for it (a null digest: it had
    changed before it was recorded)."""
    return next((Path(f) for f, digest in folders.items()
                 if not isinstance(digest, str) or envcache.verified(Path(f)) != digest), None)


def stale(team_env: Any) -> str | None:
    """Why an entry measured in ``team_env`` (its recorded block) no longer stands: a folder gone or changed."""
    if team_env is None:
        return None
    folders = team_env.get("content_sha256") if isinstance(team_env, dict) else None
    if not isinstance(folders, dict) or not folders:
        return "no record of its team environment's content"
    folder = _changed(folders)
    return None if folder is None else f"its team environment {folder.name} changed or is gone"


def written(team_env: dict[str, Any] | None) -> str | None:
    """Why a team's run does not count: its code wrote into the environment it ran in (:func:`describe` gave
    ``team_env`` just before), which the next team to need it verifies and makes anew."""
    folder = _changed(team_env["content_sha256"]) if team_env else None
    return None if folder is None else (f"its team environment {folder.name} changed while the team ran (its code "
                                        "wrote into it); its figures would not count, and the environment is made "
                                        "anew before it is used again")
