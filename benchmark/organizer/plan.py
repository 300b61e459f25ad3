"""What a sweep runs: one job per team (a challenge repository's or this project's registered ones), and whether a
team's recorded entry is still up to date (complete, same settings, same inputs, harness and device)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark import __version__
from benchmark.core.errors import HarnessError
from benchmark.core.years import get_year
from benchmark.data.splits import Split
from benchmark.measure.settings import Settings
from benchmark.organizer import teamenv
from benchmark.organizer.challenge import Repository
from benchmark.organizer.tracing import digest_of, split_digest
from benchmark.record.keys import REFERENCE, results_name, splits_of

if TYPE_CHECKING:
    from models import ModelSpec


@dataclass
class Job:
    label: str
    """The team's key in the failures file and its log's name: ``09`` (a repository's), ``2023-05`` (registered)."""
    title: str
    """How the console names the team: ``team 09``, ``2023 team 05``."""
    team_id: int
    year: int
    payload: dict[str, Any]
    """What the worker is given (``benchmark.organizer.worker``), less the device."""
    conditions: dict[str, Any] | None = None
    """What its run depends on besides the files it opens (``benchmark.organizer.lasting``), kept with a failure."""


def team_label(team_id: int) -> str:
    """A repository team's label: its key in the failures file and its log's name (``09``, ``-1``)."""
    return f"{team_id:02}"


def network_label(name: str) -> str:
    """A network given as a file's label (``model-MyNet``), from its results name."""
    return f"model-{name}"


def _split_payload(splits: list[Split]) -> list[dict[str, Any]]:
    return [{"name": s.name, "pairs": [[p.name, str(p.hr.resolve()), str(p.lr.resolve())] for p in s.pairs]}
            for s in splits]


def repository_jobs(repo: Repository, year: int, splits: list[Split], settings: Settings, *,
                    model_ids: list[int] | None = None, trust_checkpoint: bool = False, data_dir: Path | None = None,
                    include_test: bool = False, options: dict[str, Any] | None = None,
                    model_zoo: Path | None = None, offline: bool = False, zoo_url: str | None = None) -> list[Job]:
    """One job per team of ``repo`` (``model_ids``, or every team its ``select_model`` names); ``options`` join each
    job's payload (``dry_run``, ``profile_only``, ``team_env``); ``model_zoo``, ``offline`` and ``zoo_url`` say where
    the baseline's checkpoint comes from (``settings.vs_baseline``)."""
    ids = model_ids or repo.team_ids
    unknown = [i for i in ids if i not in repo.branches]
    if unknown:
        raise HarnessError(f"--model_id {unknown[0]}: {repo.test_demo}'s select_model has no such team; its teams: "
                           f"{', '.join(map(str, repo.team_ids))}")
    common = {"source": "challenge", "repo": str(repo.root), "year": year, "splits": _split_payload(splits),
              "settings": settings.as_dict(), "trust_checkpoint": trust_checkpoint,
              "data_dir": str(data_dir.resolve()) if data_dir else None, "include_test": include_test,
              "model_zoo": str(model_zoo.resolve()) if model_zoo else None, "offline": offline, "zoo_url": zoo_url,
              **(options or {})}
    return [Job(team_label(i), f"team {i:02}", i, year, {**common, "team_id": i}) for i in dict.fromkeys(ids)]


def registered_jobs(splits: list[Split], settings: Settings, *, year: int | None = None,
                    model_ids: list[int] | None = None, runs: int | None = None, model_zoo: Path | None = None,
                    offline: bool = False, zoo_url: str | None = None, trust_checkpoint: bool = False,
                    options: dict[str, Any] | None = None) -> list[Job]:
    """One job per registered team of ``year`` (every year when None); ``runs`` defaults to each team's year's."""
    import models

    specs = models.list_models(year)
    if model_ids:
        specs = [s for s in specs if s.team_id in model_ids]
        found = {s.team_id for s in specs}
        missing = [i for i in model_ids if i not in found]
        if missing:
            where = f"{year}" if year else "any year"
            raise HarnessError(f"--model_id {missing[0]}: no registered team of {where} has this id; see "
                               "python test_demo.py --list")
    if not specs:
        raise HarnessError(f"no registered team for {year}; see python test_demo.py --list")
    zoo = (model_zoo or models.spec.MODEL_ZOO).resolve()
    out = []
    for spec in specs:
        own = replace(settings, runs=runs or get_year(spec.year).runs)
        payload = {"source": "registered", "team_id": spec.team_id, "year": spec.year, "splits": _split_payload(splits),
                   "settings": own.as_dict(), "model_zoo": str(zoo), "offline": offline, "zoo_url": zoo_url,
                   "trust_checkpoint": trust_checkpoint,
                   "name": results_name(spec.display_name, settings.backend, settings.precision), **(options or {})}
        out.append(Job(f"{spec.year}-{spec.team_id:02}", f"{spec.year} team {spec.team_id:02}", spec.team_id,
                       spec.year, payload))
    return out


def results_file_name(stem: str, dry_run: bool, profile_only: bool) -> str:
    """A sweep's default results file name (the atlas's too): ``<stem>.json``; ``.dry-run`` and ``.profile`` in it
    keep those runs' entries apart from the full ones (a profile-only build never makes a full one's entries out of
    date, nor the other way round)."""
    return f"{stem}{'.dry-run' if dry_run else ''}{'.profile' if profile_only else ''}.json"


def recorded_team(sweep: Any) -> int | None:
    """The team id an entry's ``sweep`` block records; None where it records none, or no team number (a hand-edited
    ``"0"`` or ``true``): such an entry is no team's, never taken for team 00's own nor for another's."""
    team_id = sweep.get("team_id") if isinstance(sweep, dict) else None
    return team_id if type(team_id) is int else None


def network_job(spec: ModelSpec, checkpoint: Path | None, splits: list[Split], settings: Settings, *,
                runs: int | None = None, model_zoo: Path | None = None, offline: bool = False,
                zoo_url: str | None = None, trust_checkpoint: bool = False,
                options: dict[str, Any] | None = None) -> Job:
    """The job of a network given as a file (``--model FILE:Class``, a ``models.file_spec``) with ``checkpoint``."""
    import models

    code = Path(inspect.getfile(spec.builder)).resolve()
    own = replace(settings, runs=runs or get_year(spec.year).runs)
    payload = {"source": "file", "team_id": spec.team_id, "year": spec.year, "splits": _split_payload(splits),
               "model": f"{code}:{spec.name}", "kwargs": spec.kwargs, "data_range": spec.data_range,
               "label": spec.label, "checkpoint": None if checkpoint is None else str(Path(checkpoint).resolve()),
               "settings": own.as_dict(), "model_zoo": str((model_zoo or models.spec.MODEL_ZOO).resolve()),
               "offline": offline, "zoo_url": zoo_url, "trust_checkpoint": trust_checkpoint,
               "name": results_name(spec.display_name, settings.backend, settings.precision), **(options or {})}
    return Job(network_label(spec.display_name), f"{spec.display_name} (--model)", spec.team_id, spec.year, payload)


def entry_of(job: Job, results: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    """The results entry this job wrote before, if any (run with the same backend and precision)."""
    p = job.payload
    way = (p["settings"].get("backend", REFERENCE[0]), p["settings"].get("precision", REFERENCE[1]))
    for name, entry in results.items():
        sweep = entry.get("sweep")
        if not isinstance(sweep, dict) or sweep.get("source") != p["source"] or recorded_team(sweep) != job.team_id \
                or entry.get("year") != job.year or bool(entry.get("dry_run")) != bool(p.get("dry_run")) \
                or (entry.get("backend") or REFERENCE[0], entry.get("precision") or REFERENCE[1]) != way:
            continue
        if p["source"] == "challenge" and sweep.get("repository") == p["repo"]:
            return name, entry
        if p["source"] in ("registered", "file") and name == p["name"]:
            return name, entry
    return None


class Freshness:
    """Decides whether a team's recorded entry still stands (hashes are computed once per file)."""

    def __init__(self, repo: Repository | None, device_names: Callable[[], set[str]]) -> None:
        self.repo, self._device_names, self._names, self._hashes = repo, device_names, None, {}

    def device_names(self) -> set[str]:
        if self._names is None:
            self._names = self._device_names()
        return self._names

    def sha(self, path: Path) -> str | None:
        path = Path(path)
        if path not in self._hashes:
            self._hashes[path] = digest_of(path)
        return self._hashes[path]

    def stale(self, job: Job, entry: dict[str, Any]) -> str | None:
        """Why ``entry`` must be measured again, or None when it is complete and its inputs are unchanged.

        Hand-edited entries (a block that is a list, a figure that is text) are out of date, never an error."""
        p, sweep = job.payload, _dict(entry.get("sweep"))
        if entry.get("harness_version") != __version__:
            return "another harness version"
        if bool(entry.get("dry_run")) != bool(p.get("dry_run")):
            return "a CPU dry run" if entry.get("dry_run") else "not a CPU dry run"
        want = {k: p["settings"][k] for k in Settings.RECORDED}
        if {k: _dict(sweep.get("settings")).get(k) for k in Settings.RECORDED} != want:
            return "other settings"
        if p["source"] == "file":  # the file's hash is in its inputs; its class, arguments and range are not
            if sweep.get("model") != p["model"]:
                return f"another class ({sweep.get('model')} then)"
            if sweep.get("kwargs", {}) != p["kwargs"] or entry.get("data_range") != p["data_range"]:
                return "other --model-args or --data-range"
        recorded = splits_of(entry)
        for split in p["splits"]:
            s = split["name"]
            stats = _dict(entry.get(f"{s}_runtime_stats"))
            if s not in recorded or entry.get(f"{s}_images") != [n for n, _, _ in split["pairs"]] \
                    or stats.get("runs") != want["runs"] or f"{s}_ave_runtime" not in entry:
                return f"split {s} missing"
            if _dict(sweep.get("data")).get(s) != split_digest(split["pairs"], self.sha):
                return f"the images of split {s} changed"
        inputs = sweep.get("inputs")
        if not isinstance(inputs, dict) or not inputs:
            return "no record of its inputs"
        if p["source"] == "challenge":
            branch = self.repo.branches.get(job.team_id)
            if branch is None or sweep.get("select_model_sha256") != branch.sha256:
                return "its select_model branch changed"
            base = self.repo.root
        else:
            if p["source"] == "file":
                checkpoint = p["checkpoint"]
            else:
                import models

                checkpoint = models.get_spec(job.team_id, job.year).checkpoint_in(Path(p["model_zoo"]))
            expected = {str(Path(checkpoint).resolve())} if checkpoint else set()
            if {k for k in inputs if not k.endswith(".py")} != expected:
                return "another checkpoint"
            base = Path("/")
        for name, digest in inputs.items():
            if self.sha(base / name) != digest:
                return f"{name} changed"
        if _dict(entry.get("environment")).get("device_name") not in self.device_names():
            return "another device"
        return teamenv.stale(sweep.get("team_env"))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def triage(job_list: list[Job], existing: dict[str, dict[str, Any]], freshness: Freshness, force: bool,
           failed: dict[str, str] | None = None) -> tuple[list[Job], dict[str, tuple[str, dict[str, Any]]], list[str]]:
    """The jobs to run; the up-to-date ones (label → their name and entry); and a line for each recorded entry
    that runs again, saying why. ``failed``: the failures on file (label → reason) that do not stand: a team's run
    failed after its entry was made (a --timeout, a busy machine), so the entry is an earlier run's and it runs again
    (skipped, its failure would stay on file beside an entry said to be up to date, and the atlas leave it out)."""
    pending, fresh, again = [], {}, []
    for job in job_list:
        found = entry_of(job, existing)
        why = "--force" if force and found else \
            f"its latest run failed: {failed[job.label]}" if found and job.label in (failed or {}) else \
            freshness.stale(job, found[1]) if found else "no entry"
        if found and why is None:
            fresh[job.label] = found
            continue
        pending.append(job)
        if found:
            if not force:
                again.append(f"{job.title}: {found[0]}'s entry is out of date ({why}); it runs again")
            imports = _dict(_dict(found[1].get("sweep")).get("team_env")).get("imports")
            if isinstance(imports, list):  # --team-env auto makes what it needed last time before it starts
                job.payload["team_env_hint"] = imports
    return pending, fresh, again
