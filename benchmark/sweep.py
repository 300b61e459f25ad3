"""Organizer mode: evaluate every team of a challenge repository (or of this project's registry), each team in a
process of its own, resumable, on this machine, on several GPUs, or on a Ray cluster.

    python -m benchmark.sweep --challenge-repo ../NTIRE2026_ESR --data_dir DATA --include_test
    python -m benchmark.sweep --challenge-repo REPO --model_id 0 9 15 --dataset ../shared/data/Set5 --device cpu
    python -m benchmark.sweep --challenge-repo REPO --data_dir DATA --devices cuda:0,cuda:1
    python -m benchmark.sweep --challenge-repo REPO --data_dir DATA --ray auto
    python -m benchmark.sweep --year 2023 --dataset ../shared/data/Set5      # this project's registered teams

The teams are the ids ``select_model`` compares ``model_id`` with in the repository's test_demo.py
(read with ``ast``); each is built by that ``select_model`` in a worker process
(``benchmark.organizer.worker``) with the repository as working directory, then measured as
``test_demo.py`` measures a registered team. A team whose code cannot be imported here, needs
CUDA, lacks its checkpoint, crashes, outlives ``--timeout`` or outgrows ``--memory-cap`` ends
with one line, kept in ``<results stem>.failures.json``; the sweep goes on. Only the driver
writes the results file, one complete entry per team. A re-run skips every team whose entry is
complete for the same splits and settings and whose inputs (checkpoint and code sha256, its
``select_model`` branch, harness version, device) are unchanged; ``--force`` runs them again.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from rich.markup import escape

from benchmark import cli
from benchmark.core.errors import HarnessError
from benchmark.core.years import get_year
from benchmark.measure.backend import DEVICE_FORMS
from benchmark.measure.deploy import make_backend
from benchmark.organizer import jobs
from benchmark.organizer.challenge import known_year, read_repository
from benchmark.organizer.dispatch import Limits, connect_ray, local_slots, ray_device_names, run_local, run_ray
from benchmark.organizer.driver import Driver, Row, figures, summary_table
from benchmark.organizer.plan import Freshness, registered_jobs, repository_jobs, triage
from benchmark.record.store import read_results

console = cli.console()


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m benchmark.sweep", __doc__)
    p.add_argument("--challenge-repo", type=Path, metavar="PATH",
                   help="an official challenge repository (test_demo.py with select_model), read in place; "
                        "without it, this project's registered teams are swept")
    cli.add_official(p, save_dir=None)
    p.add_argument("--year", type=int, help="challenge year (default: the one the repository names; without "
                                            "--challenge-repo: every year's registered teams)")
    cli.add_measurement(p)
    p.add_argument("--results", type=Path, help="results file (default: results/<repository>.json, or "
                                                "results/results.json for registered teams)")
    p.add_argument("--devices", help="comma-separated devices (cuda:0,cuda:1): one team per device at a time")
    p.add_argument("--timeout", type=float, metavar="S", help="kill a team's worker after S seconds (default: none)")
    p.add_argument("--memory-cap", type=float, metavar="GB",
                   help="kill a team's worker whose processes hold more than GB of memory (default: none)")
    p.add_argument("--force", action="store_true", help="run every team, even those whose entry is up to date")
    p.add_argument("--ray", metavar="ADDRESS", help="run the teams as tasks on a running Ray cluster (auto or "
                                                    "HEAD:6379), one whole GPU each (one CPU with --device cpu)")
    cli.add_checkpoints(p, model_zoo=None)
    return p


def check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    cli.check_measurement(p, args)
    if args.include_test and args.data_dir is None:
        p.error("--include_test needs --data_dir")
    if args.devices and args.device != "auto":
        p.error("give --device or --devices, not both")
    if args.ray and args.devices:
        p.error("--ray places each team on a GPU of the cluster itself; drop --devices")
    if args.ray and args.device not in ("auto", "cpu", "cuda"):
        p.error(f"with --ray, --device is auto, cpu or cuda (Ray picks the GPU), not one of {DEVICE_FORMS}")
    if args.timeout is not None and args.timeout <= 0:
        p.error("--timeout must be a positive number of seconds")
    if args.memory_cap is not None and args.memory_cap <= 0:
        p.error("--memory-cap must be a positive number of GB")
    if args.challenge_repo is not None and (args.model_zoo or args.offline or args.zoo_url):
        p.error("--model_zoo, --offline and --zoo-url are for registered teams; a repository's teams load their own "
                "checkpoints")
    return args


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = build_parser()
    return check_args(p, p.parse_args(argv))


def sweep(args: argparse.Namespace) -> int:
    ray_started = False
    try:
        repo = read_repository(args.challenge_repo) if args.challenge_repo is not None else None
        year = args.year if args.year is not None else (known_year(repo.year, repo.root) if repo else None)
        if year is not None:
            get_year(year)
        splits = cli.pick_splits(args, year)
        settings = cli.settings_of(args, year=year)  # each worker is told its device where it is started
        if settings.save_dir is not None:  # workers run inside the challenge repository
            settings = replace(settings, save_dir=settings.save_dir.resolve())
        if repo:
            job_list = repository_jobs(repo, year, splits, settings, model_ids=args.model_id,
                                       trust_checkpoint=args.trust_checkpoint, data_dir=args.data_dir,
                                       include_test=args.include_test)
        else:
            job_list = registered_jobs(splits, settings, year=year, model_ids=args.model_id, runs=args.runs,
                                       model_zoo=args.model_zoo, offline=args.offline, zoo_url=args.zoo_url,
                                       trust_checkpoint=args.trust_checkpoint)
        results = (args.results or Path("results") / (f"{repo.root.name}.json" if repo else "results.json")).resolve()
        limits = Limits(args.timeout, args.memory_cap)
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
            slots = local_slots(args.device, args.devices)
            where = ", ".join(s.label for s in slots)
            for slot in slots:  # a backend this machine cannot run: one line before any team, not one per team
                make_backend(settings.backend, torch.device(slot.label), settings.precision)

            def names() -> set[str]:
                return {jobs.device_name(s.label) for s in slots}
        rows = {job.label: Row(job) for job in job_list}
        driver = Driver(results, rows, console)
        existing: dict[str, dict[str, Any]] = {}
        if results.is_file():
            try:
                existing = read_results(results)
            except HarnessError as err:
                console.print(escape(f"note: {err}; every team runs"))
        pending, fresh, again = triage(job_list, existing, Freshness(repo, names), args.force)
        for label, (name, entry) in fresh.items():
            row = rows[label]
            row.status, row.name = "skipped", name
            row.detail = "up to date: " + figures(entry, [s.name for s in splits])
        source = f"{repo.root} (NTIRE {year})" if repo else f"registered teams of {year or 'every year'}"
        console.print(escape(f"sweep: {len(job_list)} team(s) of {source}; {len(pending)} to run, "
                             f"{len(job_list) - len(pending)} up to date; on {', '.join(s.name for s in splits)}; "
                             f"device {where}; results {results}; logs {driver.logs}/"))
        for line in again:
            console.print(escape(line), soft_wrap=True)
        begin = time.perf_counter()
        if pending:
            if args.ray:
                run_ray(pending, device, driver, limits)
            else:
                run_local(pending, slots, driver, limits)
        wall = time.perf_counter() - begin
        counts = {s: sum(r.status == s for r in rows.values()) for s in ("ran", "skipped", "failed")}
        console.print(summary_table(list(rows.values()), f"Sweep of {source}: {counts['ran']} ran, {counts['skipped']} "
                                    f"up to date, {counts['failed']} failed, {wall:.1f} s"))
        console.print(escape(f"results: {results}; failures: {driver.failures_path}; logs: {driver.logs}/"))
        return 0
    finally:
        if ray_started:
            import ray

            ray.shutdown()


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    return cli.run(p, argv, lambda args: sweep(check_args(p, args)),
                   interrupted="finished teams are kept in the results file; a re-run runs the others")


if __name__ == "__main__":
    sys.exit(main())
