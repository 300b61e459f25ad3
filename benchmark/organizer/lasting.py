"""Failures that last: a team that failed for a lasting reason is not run again while nothing it depends on changed.

Which failures last is decided by :func:`benchmark.organizer.reasons.lasting` (in the worker, from what the team's
code raised); a failure the worker did not report itself (a timeout, the memory cap, a crash by signal, an
unreadable result, a team that wrote into its environment, a name clash) carries no identity and is never kept.

Beside ``R.failures.json`` (label → one-line reason, read by the site, compare and the atlas as it always was),
``R.failures.inputs.json`` holds, for each kept failure, its reason and the identity of what it ran on: the
sweep's conditions (:func:`conditions`: harness version and code, the harness's installed packages, the year, every
setting (``--backend`` and ``--precision`` too), ``--cpu-dry-run``, ``--profile-only``, ``--team-env``,
``--trust-checkpoint``, the ``select_model`` branch, the data), every file the team's process opened or tried to open
(a missing checkpoint recorded as absent), the device and the team environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import sysconfig
from functools import cache
from importlib import metadata
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Any

from benchmark import __version__
from benchmark.core.errors import HarnessError
from benchmark.core.files import PROJECT, json_of, locked, read_regular, write_atomic
from benchmark.organizer import teamenv
from benchmark.organizer.plan import Freshness, Job
from benchmark.organizer.tracing import split_digest

SUFFIX = ".failures.inputs.json"
OPTIONS = ("dry_run", "profile_only", "team_env", "include_test", "data_dir", "trust_checkpoint", "model_zoo",
           "offline", "zoo_url")
"""The job's options a failure can depend on (``--trust-checkpoint`` lifts a refused checkpoint; the baseline's
checkpoint is looked for where ``--model_zoo`` says)."""


@cache
def harness_sha256() -> str:
    """One sha256 over the harness's own code (``benchmark/``, ``models/``, ``test_demo.py``): a fix in the harness can
    make a failing team run, without a new version number."""
    digest = hashlib.sha256()
    files = sorted(p for folder in ("benchmark", "models") for p in (PROJECT / folder).rglob("*.py"))
    for path in [*files, PROJECT / "test_demo.py"]:
        digest.update(f"{path.relative_to(PROJECT)}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()


@cache
def packages_sha256() -> str:
    """One sha256 over the name and version of every distribution installed in this Python's site-packages: a package
    installed by hand into the harness's environment can make a team run."""
    paths = list(dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib")))
    names = sorted({f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions(path=paths)})
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def conditions(job: Job, freshness: Freshness) -> dict[str, Any] | None:
    """What a challenge team's run depends on besides the files it opens, as this sweep would run it (None for
    registered teams and ``--model`` networks, whose failures are never kept)."""
    p = job.payload
    if p["source"] != "challenge":
        return None
    branch = freshness.repo.branches.get(job.team_id)
    return {"harness_version": __version__, "harness_sha256": harness_sha256(), "packages_sha256": packages_sha256(),
            "year": job.year, "settings": dict(p["settings"]), "options": {k: p.get(k) for k in OPTIONS},
            "repository": p["repo"], "select_model_sha256": None if branch is None else branch.sha256,
            "data": {s["name"]: split_digest(s["pairs"], freshness.sha) for s in p["splits"]}}


def read(failures: Path) -> dict[str, dict[str, Any]]:
    """The kept failures' identities beside the failures file ``failures``; unreadable content counts as none."""
    loaded = _loaded(companion_of(failures))
    return {str(k): v for k, v in loaded.items() if isinstance(v, dict)} if isinstance(loaded, dict) else {}


def _loaded(path: Path) -> Any:
    """A JSON file's content; None when it is absent, unreadable or no regular file (a FIFO would block the read)."""
    try:
        return json_of(read_regular(path))
    except (OSError, ValueError):
        return None


def check(failures: Path) -> None:
    """Before any team runs: the failures file and its identities are regular files (or absent), else one line."""
    for path in (failures, companion_of(failures)):
        if path.exists() and not path.is_file():
            raise HarnessError(f"{path}: a folder, FIFO or device, not a file the sweep can keep its failures in; "
                               "move it away or choose another --results")


def companion_of(failures: Path) -> Path:
    """``R.failures.inputs.json`` beside ``R.failures.json``."""
    return failures.with_name(failures.name.removesuffix(".failures.json") + SUFFIX)


def record(failures: Path, label: str, identity: dict[str, Any] | None) -> None:
    """Keep ``identity`` for ``label`` (None: forget it, the team ran or failed for a reason that does not last),
    under the failures file's lock."""
    with locked(failures):
        kept = read(failures)
        if identity is None and label not in kept:
            return
        kept.pop(label, None)
        if identity is not None:
            kept[label] = identity
        try:
            write_atomic(companion_of(failures), json.dumps(dict(sorted(kept.items())), indent=2) + "\n")
        except OSError as err:
            raise HarnessError(f"{companion_of(failures)}: cannot be written ({err.strerror}); team {label}'s failure "
                               "is not kept (it runs again next time)") from None


def split(pending: list[Job], failures: Path, freshness: Freshness, force: bool) -> tuple[list[Job], dict[str, str]]:
    """The jobs whose kept failure does not stand (to run, or skipped if their entry is up to date), and those whose
    does (label → its reason): the last run on these very inputs failed. Each challenge job is given its
    :func:`conditions`, which the driver keeps with a failure that lasts."""
    check(failures)
    reasons = _reasons(failures)
    kept = read(failures)
    run, still = [], {}
    for job in pending:
        job.conditions = conditions(job, freshness)
        if not force and still_fails(job, kept.get(job.label), reasons.get(job.label), freshness):
            still[job.label] = reasons[job.label]
        else:
            run.append(job)
    return run, still


def _reasons(failures: Path) -> dict[str, str]:
    loaded = _loaded(failures)
    return {str(k): v for k, v in loaded.items() if isinstance(v, str)} if isinstance(loaded, dict) else {}


def still_fails(job: Job, kept: dict[str, Any] | None, reason: str | None, freshness: Freshness) -> bool:
    """Whether ``job``'s recorded failure (``reason`` in the failures file, ``kept`` its identity) still stands: the
    same reason, the same conditions, every file it opened (or missed) as it was, the same device and environment,
    and no package it lacked importable now."""
    if not isinstance(kept, dict) or reason is None or kept.get("reason") != reason or job.conditions is None \
            or kept.get("conditions") != job.conditions:
        return False
    inputs = kept.get("inputs")
    if not isinstance(inputs, dict):
        return False
    base = Path(job.payload["repo"])
    if any(not isinstance(name, str) or freshness.sha(base / name) != digest for name, digest in inputs.items()):
        return False
    return isinstance(kept.get("device_name"), str) and kept["device_name"] in freshness.device_names() \
        and teamenv.stale(kept.get("team_env")) is None and not found_now(kept.get("missing", []),
                                                                          kept.get("search_path", []))


def found_now(missing: Any, search_path: Any) -> bool:
    """Whether a package the failure lacked can be imported now: from where the team's process looked for it (its
    repository first, a package dropped into the environment or the repository opens no file the run traced) or from
    a folder ``PYTHONPATH`` adds now. A hand-edited list that is not one of names counts as found."""
    if not isinstance(missing, list) or not isinstance(search_path, list) or \
            not all(isinstance(n, str) and n.isidentifier() for n in missing) or \
            not all(isinstance(p, str) for p in search_path):
        return True
    path = [*search_path, *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
    return any(PathFinder.find_spec(name, path) is not None for name in missing)
