"""Organizer mode: evaluate every team of a challenge repository (or of this project's registry), each team in a
process of its own, resumable, on this machine, on several GPUs, or on a Ray cluster.

    python -m benchmark.sweep --challenge-repo ../NTIRE2026_ESR --data_dir DATA --include_test
    python -m benchmark.sweep --challenge-repo REPO --model_id 0 9 15 --dataset ../shared/data/Set5 --device cpu
    python -m benchmark.sweep --challenge-repo REPO --data_dir DATA --devices cuda:0,cuda:1
    python -m benchmark.sweep --challenge-repo REPO --data_dir DATA --ray auto
    python -m benchmark.sweep --year 2023 --dataset ../shared/data/Set5      # this project's registered teams

The teams are the ids ``select_model`` compares ``model_id`` with in the repository's test_demo.py
(read with ``ast``); each is built by that ``select_model`` in a worker process
(``benchmark.worker``) with the repository as working directory, then measured as
``test_demo.py`` measures a registered team. A team whose code cannot be imported here, needs
CUDA, lacks its checkpoint, crashes, outlives ``--timeout`` or outgrows ``--memory-cap`` ends
with one line, kept in ``<results stem>.failures.json``; the sweep goes on. Only the driver
writes the results file, one complete entry per team. A re-run skips every team whose entry is
complete for the same splits and settings and whose inputs (checkpoint and code sha256, its
``select_model`` branch, harness version, device) are unchanged; ``--force`` runs them again.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from benchmark import __version__, data, jobs
from benchmark.challenge import Repository, known_year, read_repository
from benchmark.errors import HarnessError, OneLineParser, error_line
from benchmark.results import (companion, read_results, sha256_of, splits_of, update_results, write_results_txt,
                               write_atomic)
from benchmark.years import get_year

console = Console(width=None if sys.stdout.isatty() else 160)
SETTING_KEYS = ("runs", "warmup", "repeat", "ssim", "y_channel")


@dataclass
class Job:
    label: str
    """The team's key in the failures file and its log's name: ``09`` (a repository's), ``2023-05`` (registered)."""
    title: str
    """How the console names the team: ``team 09``, ``2023 team 05``."""
    team_id: int
    year: int
    payload: dict[str, Any]
    """What the worker is given (``benchmark.worker``), less the device."""


@dataclass
class Row:
    job: Job
    status: str = "pending"
    name: str = ""
    detail: str = ""
    wall: float | None = None


@dataclass
class Slot:
    """One device that runs one team at a time: the device the worker is told and the environment it gets."""

    label: str
    worker_device: str
    env: dict[str, str] = field(default_factory=dict)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = OneLineParser(prog="python -m benchmark.sweep", description=__doc__.split("\n\n")[0],
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--challenge-repo", type=Path, metavar="PATH",
                   help="an official challenge repository (test_demo.py with select_model), read in place; "
                        "without it, this project's registered teams are swept")
    p.add_argument("--model_id", type=int, nargs="+", help="only these team ids (default: every team)")
    p.add_argument("--dataset", type=Path, nargs="+", action="extend", default=[],
                   help="folders with HR/ and LR_bicubic/X4/")
    p.add_argument("--data_dir", type=Path, help="challenge data in the year's official layout (valid split)")
    p.add_argument("--include_test", action="store_true", help="with --data_dir: also the test split")
    p.add_argument("--results", type=Path, help="results file (default: results/<repository>.json, or "
                                                "results/results.json for registered teams)")
    p.add_argument("--save_dir", type=Path, help="write SR images to SAVE_DIR/<model>/<split>/ (default: none)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N: one team at a time on it")
    p.add_argument("--devices", help="comma-separated devices (cuda:0,cuda:1): one team per device at a time")
    p.add_argument("--runs", type=int, help="time each split N times (default: the year's)")
    p.add_argument("--warmup", type=int, default=3, help="untimed forwards before each split (0: cold timing)")
    p.add_argument("--repeat", type=int, default=1, help="timed forwards per image; the median is kept")
    p.add_argument("--ssim", action="store_true", help="also compute SSIM")
    p.add_argument("--y-channel", action="store_true", help="also compute PSNR/SSIM on the Y channel")
    p.add_argument("--year", type=int, help="challenge year (default: the one the repository names; without "
                                            "--challenge-repo: every year's registered teams)")
    p.add_argument("--timeout", type=float, metavar="S", help="kill a team's worker after S seconds (default: none)")
    p.add_argument("--memory-cap", type=float, metavar="GB",
                   help="kill a team's worker whose processes hold more than GB of memory (default: none)")
    p.add_argument("--force", action="store_true", help="run every team, even those whose entry is up to date")
    p.add_argument("--ray", metavar="ADDRESS", help="run the teams as tasks on a running Ray cluster (auto or "
                                                    "HEAD:6379), one whole GPU each (one CPU with --device cpu)")
    p.add_argument("--model_zoo", type=Path, help="registered teams: folder of checkpoints (default: model_zoo/)")
    p.add_argument("--offline", action="store_true", help="registered teams: never download a checkpoint")
    p.add_argument("--zoo-url", metavar="BASE", help="registered teams: fetch missing checkpoints from BASE/<file>")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="let checkpoints hold pickled objects (as torch.load did before 2.6); they can run code")
    p.add_argument("--site", type=Path, help="also write the results and failures as a static web site into SITE "
                                             "(python -m benchmark.site)")
    p.add_argument("--debug", action="store_true", help="show the driver's tracebacks")
    args = p.parse_args(argv)
    if args.include_test and args.data_dir is None:
        p.error("--include_test needs --data_dir")
    if args.devices and args.device != "auto":
        p.error("give --device or --devices, not both")
    if args.ray and args.devices:
        p.error("--ray places each team on a GPU of the cluster itself; drop --devices")
    if args.ray and args.device not in ("auto", "cpu", "cuda"):
        p.error("with --ray, --device is auto, cpu or cuda (Ray picks the GPU)")
    for flag, value in (("--runs", args.runs), ("--repeat", args.repeat)):
        if value is not None and value < 1:
            p.error(f"{flag} must be at least 1")
    if args.warmup < 0:
        p.error("--warmup must be 0 or more")
    if args.timeout is not None and args.timeout <= 0:
        p.error("--timeout must be a positive number of seconds")
    if args.memory_cap is not None and args.memory_cap <= 0:
        p.error("--memory-cap must be a positive number of GB")
    if args.challenge_repo is not None and (args.model_zoo or args.offline or args.zoo_url):
        p.error("--model_zoo, --offline and --zoo-url are for registered teams; a repository's teams load their own "
                "checkpoints")
    return args


# --- what to run ----------------------------------------------------------------------------------------------------


def _split_payload(splits: list[data.Split]) -> list[dict[str, Any]]:
    return [{"name": s.name, "pairs": [[p.name, str(p.hr.resolve()), str(p.lr.resolve())] for p in s.pairs]}
            for s in splits]


def _settings(args: argparse.Namespace, runs: int) -> dict[str, Any]:
    return {"runs": runs, "warmup": args.warmup, "repeat": args.repeat, "ssim": args.ssim,
            "y_channel": args.y_channel, "save_dir": str(args.save_dir.resolve()) if args.save_dir else None}


def repository_jobs(args: argparse.Namespace, repo: Repository, year: int, splits: list[data.Split]) -> list[Job]:
    ids = args.model_id or repo.team_ids
    unknown = [i for i in ids if i not in repo.branches]
    if unknown:
        raise HarnessError(f"--model_id {unknown[0]}: {repo.test_demo}'s select_model has no such team; its teams: "
                           f"{', '.join(map(str, repo.team_ids))}")
    runs = args.runs or get_year(year).runs
    common = {"source": "challenge", "repo": str(repo.root), "year": year, "splits": _split_payload(splits),
              "settings": _settings(args, runs), "trust_checkpoint": args.trust_checkpoint,
              "data_dir": str(args.data_dir.resolve()) if args.data_dir else None, "include_test": args.include_test}
    return [Job(f"{i:02}", f"team {i:02}", i, year, {**common, "team_id": i}) for i in dict.fromkeys(ids)]


def registered_jobs(args: argparse.Namespace, splits: list[data.Split]) -> list[Job]:
    import models

    specs = models.list_models(args.year)
    if args.model_id:
        specs = [s for s in specs if s.team_id in args.model_id]
        found = {s.team_id for s in specs}
        missing = [i for i in args.model_id if i not in found]
        if missing:
            where = f"{args.year}" if args.year else "any year"
            raise HarnessError(f"--model_id {missing[0]}: no registered team of {where} has this id; see "
                               "python test_demo.py --list")
    if not specs:
        raise HarnessError(f"no registered team for {args.year}; see python test_demo.py --list")
    zoo = (args.model_zoo or models.registry.MODEL_ZOO).resolve()
    out = []
    for spec in specs:
        runs = args.runs or get_year(spec.year).runs
        payload = {"source": "registered", "team_id": spec.team_id, "year": spec.year, "splits": _split_payload(splits),
                   "settings": _settings(args, runs), "model_zoo": str(zoo), "offline": args.offline,
                   "zoo_url": args.zoo_url, "trust_checkpoint": args.trust_checkpoint,
                   "name": spec.display_name}
        out.append(Job(f"{spec.year}-{spec.team_id:02}", f"{spec.year} team {spec.team_id:02}", spec.team_id,
                       spec.year, payload))
    return out


# --- resume: is a team's entry complete and its inputs unchanged? ---------------------------------------------------


def entry_of(job: Job, results: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    """The results entry this job wrote before, if any."""
    p = job.payload
    for name, entry in results.items():
        sweep = entry.get("sweep")
        if not isinstance(sweep, dict) or sweep.get("source") != p["source"] or sweep.get("team_id") != job.team_id \
                or entry.get("year") != job.year:
            continue
        if p["source"] == "challenge" and sweep.get("repository") == p["repo"]:
            return name, entry
        if p["source"] == "registered" and name == p["name"]:
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

    def _sha(self, path: Path) -> str | None:
        if path not in self._hashes:
            self._hashes[path] = sha256_of(path) if path.is_file() else None
        return self._hashes[path]

    def stale(self, job: Job, entry: dict[str, Any]) -> str | None:
        """Why ``entry`` must be measured again, or None when it is complete and its inputs are unchanged."""
        p, sweep = job.payload, entry.get("sweep") or {}
        if entry.get("harness_version") != __version__:
            return "another harness version"
        want = {k: p["settings"][k] for k in SETTING_KEYS}
        if {k: (sweep.get("settings") or {}).get(k) for k in SETTING_KEYS} != want:
            return "other settings"
        recorded = splits_of(entry)
        for split in p["splits"]:
            s = split["name"]
            stats = entry.get(f"{s}_runtime_stats") or {}
            if s not in recorded or entry.get(f"{s}_images") != [n for n, _, _ in split["pairs"]] \
                    or stats.get("runs") != want["runs"] or f"{s}_ave_runtime" not in entry:
                return f"split {s} missing"
        inputs = sweep.get("inputs")
        if not isinstance(inputs, dict) or not inputs:
            return "no record of its inputs"
        if p["source"] == "challenge":
            branch = self.repo.branches.get(job.team_id)
            if branch is None or sweep.get("select_model_sha256") != branch.sha256:
                return "its select_model branch changed"
            base = self.repo.root
        else:
            import models

            spec = models.get_spec(job.team_id, job.year)
            checkpoint = spec.checkpoint_in(Path(p["model_zoo"]))
            expected = {str(Path(checkpoint).resolve())} if checkpoint else set()
            if {k for k in inputs if not k.endswith(".py")} != expected:
                return "another checkpoint"
            base = Path("/")
        for name, digest in inputs.items():
            if self._sha(base / name) != digest:
                return f"{name} changed"
        if (entry.get("environment") or {}).get("device_name") not in self.device_names():
            return "another device"
        return None


# --- the driver -------------------------------------------------------------------------------------------------------


class Driver:
    """Merges each finished team into the results and failures files, the console and the final table."""

    def __init__(self, results: Path, rows: dict[str, Row]) -> None:
        self.results, self.rows = results, rows
        self.failures_path = companion(results, ".failures.json")
        self.logs = companion(results, ".sweep")
        self.lock = threading.Lock()
        self.failures: dict[str, str] = {}
        if self.failures_path.is_file():
            try:
                loaded = json.loads(self.failures_path.read_text())
                self.failures = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                self.failures = {}

    def log_path(self, job: Job) -> Path:
        return self.logs / f"{job.label}.log"

    def _write_failures(self) -> None:
        self.failures_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.failures_path, json.dumps(dict(sorted(self.failures.items())), indent=2) + "\n")

    def finish(self, job: Job, outcome: dict[str, Any]) -> None:
        with self.lock:
            row = self.rows[job.label]
            row.wall = outcome.get("wall_seconds")
            if "log" in outcome:
                self.logs.mkdir(parents=True, exist_ok=True)
                self.log_path(job).write_text(outcome["log"], encoding="utf-8")
            if outcome.get("ok"):
                reason = self._clash(job, outcome["name"])
                if reason is None:
                    update = update_results(self.results, outcome["name"], outcome["record"], outcome["splits"])
                    write_results_txt(update.results, companion(self.results, ".txt"))
                    replaced = update.replaced_line(outcome["name"])
                    if replaced:
                        console.print(escape(f"{job.title}: {replaced}"), soft_wrap=True)
                    self.failures.pop(job.label, None)
                    self._write_failures()
                    row.status, row.name = "ran", outcome["name"]
                    row.detail = figures(outcome["splits"], [s["name"] for s in job.payload["splits"]])
                    console.print(escape(f"{job.title}: ran {row.name} ({row.detail}) in {row.wall:.1f} s"),
                                  soft_wrap=True)
                    return
                outcome = {"ok": False, "reason": reason}
            self.failures[job.label] = outcome["reason"]
            self._write_failures()
            row.status, row.detail = "failed", outcome["reason"]
            console.print(escape(f"{job.title}: {outcome['reason']}"), soft_wrap=True)

    def _clash(self, job: Job, name: str) -> str | None:
        if not self.results.is_file():
            return None
        try:
            entry = read_results(self.results).get(name)
        except HarnessError:
            return None
        sweep = (entry or {}).get("sweep") or {}
        other = sweep.get("team_id")
        if entry is not None and sweep.get("source") == job.payload["source"] and \
                sweep.get("repository") == job.payload.get("repo") and other is not None and other != job.team_id:
            return (f"select_model names it {name}, the name of team {other:02}'s entry; give it its own name in its "
                    "select_model branch")
        return None


def figures(entry: dict[str, Any], splits: list[str]) -> str:
    """``Set5 32.17 dB 41.2 ms``: PSNR and mean runtime per split, from split keys or an entry."""
    parts = []
    for s in splits:
        keys = entry.get(s, entry) if isinstance(entry.get(s), dict) else entry
        psnr, ms = keys.get(f"{s}_ave_psnr"), keys.get(f"{s}_ave_runtime")
        psnr_text = "PSNR n/a" if psnr is None else f"{psnr:.2f} dB"
        parts.append(f"{s} {psnr_text} {'n/a' if ms is None else f'{ms:.1f}'} ms")
    return "; ".join(parts)


def _slot(device: str) -> Slot:
    from benchmark.inference import pick_device

    dev = pick_device(device)
    if dev.type == "cpu":
        return Slot("cpu", "cpu")
    index = dev.index or 0
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    physical = visible[index] if index < len(visible) else str(index)
    return Slot(f"cuda:{index}", "cuda", {"CUDA_VISIBLE_DEVICES": physical})


def local_slots(args: argparse.Namespace) -> list[Slot]:
    if args.devices:
        names = [d.strip() for d in args.devices.split(",") if d.strip()]
        slots = [_slot(name) for name in names]
        labels = [s.label for s in slots]
        if len(set(labels)) != len(labels):
            raise HarnessError(f"--devices {args.devices}: a device is named twice; one timed team per device")
        return slots
    return [_slot(args.device)]


def run_local(pending: list[Job], slots: list[Slot], driver: Driver, args: argparse.Namespace) -> None:
    """One thread per device, each running its next team's worker process until none is left."""
    queue: deque[Job] = deque(pending)
    stop = threading.Event()
    active: dict[str, int] = {}

    def serve(slot: Slot) -> None:
        while not stop.is_set():
            with driver.lock:
                if not queue:
                    return
                job = queue.popleft()
            outcome = jobs.execute({**job.payload, "device": slot.worker_device}, timeout=args.timeout,
                                   memory_cap_gb=args.memory_cap, log_path=driver.log_path(job), env=slot.env,
                                   started=lambda pid, s=slot.label: active.__setitem__(s, pid))
            active.pop(slot.label, None)
            if not stop.is_set():
                driver.finish(job, outcome)

    if len(slots) == 1:
        serve(slots[0])
        return
    threads = [threading.Thread(target=serve, args=(slot,), name=f"slot-{slot.label}", daemon=True) for slot in slots]
    for thread in threads:
        thread.start()
    try:
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(0.2)
    except KeyboardInterrupt:
        stop.set()
        for pid in list(active.values()):
            jobs.kill_group(pid)
        raise


def run_ray(pending: list[Job], device: str, driver: Driver, args: argparse.Namespace) -> None:
    """Each team a Ray task holding one whole GPU (one CPU on cpu) that runs the same worker process."""
    import ray

    resources = {"num_gpus": 1} if device == "cuda" else {"num_cpus": 1}
    task = ray.remote(jobs.execute_remote).options(max_retries=0, runtime_env=ray_runtime_env(), **resources)
    threads = jobs.driver_threads()
    refs = {task.remote({**job.payload, "device": device}, args.timeout, args.memory_cap, threads): job
            for job in pending}
    try:
        waiting = list(refs)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            for ref in done:
                try:
                    outcome = ray.get(ref)
                except Exception as err:  # noqa: BLE001 - a lost node or task is that team's failure
                    lines = [line for line in str(err).splitlines() if line.strip()]
                    outcome = {"ok": False, "reason": f"the Ray task failed ({type(err).__name__}: "
                                                      f"{lines[-1].strip() if lines else ''})"}
                driver.finish(refs[ref], outcome)
    except KeyboardInterrupt:
        for ref in refs:
            ray.cancel(ref, force=True)
        raise


def ray_runtime_env() -> dict[str, Any]:
    """What a Ray worker needs to import ``benchmark``: this checkout on its PYTHONPATH (same path on every node)."""
    path = [str(jobs.PROJECT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(path))}}


def connect_ray(address: str) -> tuple[bool, str]:
    """Join the Ray cluster at ``address``; returns whether this call connected, and the device tasks get."""
    try:
        import ray
    except ImportError:
        raise HarnessError("--ray needs the ray package: pip install -r requirements.txt") from None
    started = False
    if not ray.is_initialized():
        try:
            ray.init(address=address, log_to_driver=False, runtime_env=ray_runtime_env(), logging_level="warning")
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise HarnessError(f"--ray {address}: no Ray cluster there ({str(err).splitlines()[0]}); start one with "
                               "ray start --head (and ray start --address HEAD:6379 on the other machines); a cluster "
                               "with token authentication also needs its RAY_AUTH_MODE and token here") from None
        started = True
    gpus = ray.cluster_resources().get("GPU", 0)
    return started, "cuda" if gpus else "cpu"


def ray_device_names(device: str) -> set[str]:
    import ray

    probe = ray.remote(jobs.device_name).options(max_retries=0, runtime_env=ray_runtime_env(),
                                                 **({"num_gpus": 1} if device == "cuda" else {"num_cpus": 1}))
    return {ray.get(probe.remote(device))}


def summary_table(rows: list[Row], title: str) -> Table:
    table = Table(title=escape(title), title_justify="left")
    for column in ("team", "name", "status", "reason / figures", "wall [s]"):
        table.add_column(column, justify="right" if column == "wall [s]" else "left",
                         overflow="fold" if column == "reason / figures" else "ellipsis")
    style = {"ran": "green", "skipped": "cyan", "failed": "red"}
    for row in rows:
        table.add_row(escape(row.job.title), escape(row.name or "-"), f"[{style.get(row.status, '')}]{row.status}[/]",
                      escape(row.detail), "-" if row.wall is None else f"{row.wall:.1f}")
    return table


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except HarnessError as err:
        print(error_line(err), file=sys.stderr)
        return 2
    ray_started = False
    try:
        repo = read_repository(args.challenge_repo) if args.challenge_repo is not None else None
        year = args.year if args.year is not None else (known_year(repo.year, repo.root) if repo else None)
        if year is not None:
            get_year(year)
        if args.site is not None:
            from benchmark import web  # pandas and the report modules: loaded only for a site

            if year is None:
                raise HarnessError("--site: pass --year, the year whose rules rank the site's leaderboard")
            web.check_out(args.site, "--site")
        splits = data.select_splits(args.dataset, args.data_dir, year, args.include_test, ssim=args.ssim)[0]
        job_list = repository_jobs(args, repo, year, splits) if repo else registered_jobs(args, splits)
        results = args.results or Path("results") / (f"{repo.root.name}.json" if repo else "results.json")
        results = results.resolve()
        if args.ray:
            ray_started, device = connect_ray(args.ray)
            if args.device == "cpu":
                device = "cpu"
            elif args.device == "cuda" and device != "cuda":
                raise HarnessError(f"--ray {args.ray} --device cuda: the cluster has no GPU")
            slots, where = [], f"Ray cluster {args.ray} ({device}, one {'GPU' if device == 'cuda' else 'CPU'} per team)"

            def names() -> set[str]:
                return ray_device_names(device)
        else:
            slots = local_slots(args)
            where = ", ".join(s.label for s in slots)

            def names() -> set[str]:
                return {jobs.device_name(s.label) for s in slots}
        rows = {job.label: Row(job) for job in job_list}
        driver = Driver(results, rows)
        existing: dict[str, dict[str, Any]] = {}
        if results.is_file():
            try:
                existing = read_results(results)
            except HarnessError as err:
                console.print(escape(f"note: {err}; every team runs"))
        freshness = Freshness(repo, names)
        pending, again = [], []
        for job in job_list:
            found = None if args.force else entry_of(job, existing)
            why = freshness.stale(job, found[1]) if found else "no entry"
            if found and why is None:
                row = rows[job.label]
                row.status, row.name = "skipped", found[0]
                row.detail = "up to date: " + figures(found[1], [s.name for s in splits])
            else:
                pending.append(job)
                if found:
                    again.append(f"{job.title}: {found[0]}'s entry is out of date ({why}); it runs again")
        source = f"{repo.root} (NTIRE {year})" if repo else f"registered teams of {year or 'every year'}"
        console.print(escape(f"sweep: {len(job_list)} team(s) of {source}; {len(pending)} to run, "
                             f"{len(job_list) - len(pending)} up to date; on {', '.join(s.name for s in splits)}; "
                             f"device {where}; results {results}; logs {driver.logs}/"))
        for line in again:
            console.print(escape(line), soft_wrap=True)
        begin = time.perf_counter()
        if pending:
            if args.ray:
                run_ray(pending, device, driver, args)
            else:
                run_local(pending, slots, driver, args)
        wall = time.perf_counter() - begin
        counts = {s: sum(r.status == s for r in rows.values()) for s in ("ran", "skipped", "failed")}
        console.print(summary_table(list(rows.values()), f"Sweep of {source}: {counts['ran']} ran, {counts['skipped']} "
                                    f"up to date, {counts['failed']} failed, {wall:.1f} s"))
        console.print(escape(f"results: {results}; failures: {driver.failures_path}; logs: {driver.logs}/"))
        if args.site is not None:
            data_folders = [*args.dataset, *([args.data_dir] if args.data_dir else [])]
            console.print(escape(web.build_site(web.SiteInputs([results], year, data=data_folders), args.site,
                                                "--site").line()))
        return 0
    except HarnessError as err:
        if args.debug:
            raise
        print(error_line(err), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished teams are kept in the results file; a re-run runs the others", file=sys.stderr)
        return 130
    finally:
        if ray_started:
            import ray

            ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
