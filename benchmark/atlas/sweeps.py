"""The sweeps an atlas is built from: one ``python -m benchmark.sweep`` per challenge repository (and one for a network
given as a file), each with its own results file in the atlas's folder, every team timed beside the reference
network. A sweep resumes where it stopped and skips every team whose entry is up to date, so a second build redoes
only what changed. Locally the sweeps run one after another (each runs one team at a time per device); on Ray they
run at once, every team a task of the cluster.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmark.atlas.output import FILES
from benchmark.atlas.rows import Swept
from benchmark.core.errors import HarnessError
from benchmark.core.files import PROJECT, results_and_companions
from benchmark.organizer.challenge import known_year, read_repository
from benchmark.organizer.plan import results_file_name
from benchmark.rank.publications import PUBLISHED

NETWORK_SOURCE = "your network"
"""The ``source`` of the ``--model`` network's rows (a repository's rows name its folder)."""


@dataclass(frozen=True)
class Planned:
    swept: Swept
    flags: list[str]
    """The sweep's own flags, less those every sweep of the atlas shares."""


@dataclass
class Ran:
    planned: Planned
    returncode: int
    wall_seconds: float
    load: tuple[list[float], list[float]]
    """The load average (1, 5, 15 min) when the sweep began and when it ended."""


def plan(repos: list[Path], out: Path, dry_run: bool, profile_only: bool, network: list[str] | None,
         reference_year: int, model_ids: list[int] | None = None, say: Callable[[str], None] = print
         ) -> list[Planned]:
    """One sweep per repository (its year read from its code, the year's published figures beside its teams), and
    one for the network given as a file (``network``: its ``--model`` flags), each with its results file in ``out``;
    ``model_ids``: only those teams of each repository (one that has none of them is skipped, in a line to ``say``).
    A repository that cannot be read, or an id that no repository has, is one line before any sweep runs."""
    planned, stems = [], {}
    read = [read_repository(path) for path in repos]
    nowhere = [i for i in dict.fromkeys(model_ids or []) if not any(i in repo.branches for repo in read)]
    if nowhere:
        raise HarnessError(f"--model_id {nowhere[0]}: no --challenge-repo has this team; their teams: "
                           + "; ".join(f"{r.root.name} {', '.join(map(str, r.team_ids))}" for r in read))
    for path, repo in zip(repos, read):
        year = known_year(repo.year, repo.root)
        stem = repo.root.name
        if stems.get(stem) == repo.root:
            raise HarnessError(f"--challenge-repo {path}: given twice (as {stems[stem]}); give each repository once")
        if stem in stems:
            raise HarnessError(f"--challenge-repo {path}: another repository, {stems[stem]}, has the folder name "
                               f"{stem}, which names its results file in the atlas; rename one of them")
        stems[stem] = repo.root
        teams = tuple(i for i in dict.fromkeys(model_ids) if i in repo.branches) if model_ids else None
        if teams == ():
            say(f"atlas: {repo.root.name} has none of --model_id {' '.join(map(str, model_ids))}; not swept")
            continue
        published = PUBLISHED / f"ntire{year}.toml"
        results = out / results_file_name(stem, dry_run, profile_only)
        flags = ["--challenge-repo", str(repo.root), "--results", str(results),
                 *(["--published", str(published)] if published.is_file() else []),
                 *(["--model_id", *map(str, teams)] if teams else [])]
        planned.append(Planned(Swept(results, year, stem, teams=tuple(repo.team_ids), chosen=teams), flags))
    if network:
        results = out / results_file_name("network", dry_run, profile_only)
        name = network[network.index("--name") + 1] if "--name" in network else network[1].rpartition(":")[2]
        planned.append(Planned(Swept(results, reference_year, NETWORK_SOURCE, mine=True, network=name),
                               [*network, "--year", str(reference_year), "--results", str(results)]))
    taken = {out / name: f"the atlas's own {name}" for name in FILES}
    for item in planned:  # a repository named atlas or network, or A and A.dry-run: one file written by two
        for path in results_and_companions(item.swept.results):
            if path in taken:
                raise HarnessError(f"{item.swept.source}: its results would be written to {path}, as {taken[path]} "
                                   "is; give the repository's folder another name")
            taken[path] = f"{item.swept.source}'s results"
    return planned


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def _pump(process: subprocess.Popen, prefix: str, say: Callable[[str], None]) -> None:
    for line in process.stdout:
        say(prefix + line.rstrip("\n"))


def run(planned: list[Planned], shared: list[str], say: Callable[[str], None], at_once: bool) -> list[Ran]:
    """Run every sweep (``shared``: the flags they all take), one after another or ``at_once`` (on Ray), each line
    of their output passed to ``say`` after the sweep's name; returns how each ended."""
    done: list[Ran] = []
    lock = threading.Lock()

    def start(item: Planned) -> tuple[subprocess.Popen, threading.Thread, float, list[float]]:
        command = [sys.executable, "-m", "benchmark.sweep", *item.flags, *shared]
        process = subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   errors="replace", bufsize=1)

        def locked(line: str) -> None:
            with lock:
                say(line)

        pump = threading.Thread(target=_pump, args=(process, f"[{item.swept.source}] ", locked), daemon=True)
        pump.start()
        return process, pump, time.perf_counter(), _load()

    def finish(item: Planned, process: subprocess.Popen, pump: threading.Thread, begin: float,
               load: list[float]) -> None:
        code = process.wait()
        pump.join()
        done.append(Ran(item, code, time.perf_counter() - begin, (load, _load())))

    started: list[tuple[Planned, subprocess.Popen, threading.Thread, float, list[float]]] = []
    try:
        for item in planned:
            started.append((item, *start(item)))
            if not at_once:
                finish(*started.pop())
        for entry in started:
            finish(*entry)
    except BaseException:
        for _, process, *_ in started:
            if process.poll() is None:
                process.terminate()
        raise
    return done
