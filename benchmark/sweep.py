"""Organizer mode: evaluate every team of a challenge repository (or of this project's registry), each team in a
process of its own, resumable, on this machine, on several GPUs, or on a Ray cluster.

    python -m benchmark.sweep --challenge-repo ../NTIRE2026_ESR --data_dir DATA --include_test
    python -m benchmark.sweep --challenge-repo REPO --model_id 0 9 15 --dataset ../shared/data/Set5 --device cpu
    python -m benchmark.sweep --challenge-repo REPO --data_dir DATA --devices cuda:0,cuda:1
    python -m benchmark.sweep --challenge-repo REPO --data_dir DATA --ray auto
    python -m benchmark.sweep --year 2023 --dataset ../shared/data/Set5      # this project's registered teams
    python -m benchmark.sweep --challenge-repo REPO --profile-only --cpu-dry-run --team-env auto --published R.json
    python -m benchmark.sweep --model path/to/arch.py:MyNet --checkpoint w.pth --data-range 1 --dataset DIR

The teams are the ids ``select_model`` compares ``model_id`` with in the repository's test_demo.py
(read with ``ast``); each is built by that ``select_model`` in a worker process
(``benchmark.organizer.worker``) with the repository as working directory, then measured as
``test_demo.py`` measures a registered team. A team whose code cannot be imported here, needs
CUDA, lacks its checkpoint, crashes, outlives ``--timeout`` or outgrows ``--memory-cap`` ends
with one line, kept in ``<results stem>.failures.json``; the sweep goes on. Only the driver
writes the results file, one complete entry per team. A re-run skips every team whose entry is
complete for the same splits and settings and whose inputs (checkpoint and code sha256, its
``select_model`` branch, harness version, device) are unchanged, and every team whose failure lasts
(``benchmark.organizer.lasting``) while what it ran on is unchanged; ``--force`` runs them again.
``--profile-only`` measures complexity without data, ``--published`` sets the organizers' figures beside
each team's, ``--cpu-dry-run`` builds and scores GPU teams on the CPU (no runtime or memory of record),
``--team-env auto`` installs what a team lacks into an environment of its own: an overlay, or a full venv with a
torch + torchvision pair when the team needs torchvision or pins torch (see README.md).
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
from benchmark.core.years import DEFAULT_YEAR, get_year
from benchmark.measure.deploy import make_backend
from benchmark.organizer import jobs, lasting
from benchmark.organizer.account import confine
from benchmark.organizer.challenge import Repository, known_year, read_repository
from benchmark.organizer.dispatch import Limits, connect_ray, local_slots, ray_device_names, run_local, run_ray
from benchmark.organizer.driver import Driver, Published, Row, complexity, figures, summary_table
from benchmark.organizer.plan import (
    Freshness,
    network_job,
    registered_jobs,
    repository_jobs,
    results_file_name,
    triage,
)
from benchmark.record.store import check_results_path, read_results
from benchmark.web.build import SiteInputs, build_site, site_folder

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
    p.add_argument("--run-as", metavar="USER", help="run each team's code as USER, an unprivileged account that can "
                   "read the checkout, the repository and the data and write none of them (the sweep runs as root)")
    p.add_argument("--force", action="store_true", help="run every team, even those whose entry is up to date or "
                   "whose failure still stands on unchanged inputs")
    p.add_argument("--ray", metavar="ADDRESS", help="run the teams as tasks on a running Ray cluster (auto or "
                                                    "HEAD:6379), one whole GPU each (one CPU with --device cpu)")
    p.add_argument("--profile-only", action="store_true", help="measure every team's complexity (params, every FLOP "
                   "counter, activations, conv count) without data (default results: "
                   "results/<repository>.profile.json, apart from the runs on data)")
    p.add_argument("--published", type=Path, metavar="FILE", nargs="+", action="extend", help="what the organizers "
                   "published: their results.json, a transcribed report table ({\"rows\": [...]}) or the harness's own "
                   "benchmark/rank/published/ntire<year>.toml; each team's figures beside the published ones, matched "
                   "by name, id or (rows without an id) unique figures, compared at the published precision")
    p.add_argument("--cpu-dry-run", action="store_true", help="build, profile and score teams written for a GPU on "
                   "the CPU (.cuda() and CUDA checkpoints mapped to it); entries say dry_run and hold no runtime or "
                   "memory of record; one run unless --runs (default results: results/<repository>.dry-run.json; "
                   "with --profile-only .dry-run.profile.json)")
    p.add_argument("--team-env", choices=("none", "auto"), default="none", help="auto: a team that imports a package "
                   "the harness lacks gets an environment of its own (its requirements file, or the missing import's "
                   "distribution): an overlay, or a full venv with a torch + torchvision pair checked on the year's "
                   "baseline; cached under .cache/team-envs/, --timeout covers the installs")
    p.add_argument("--reference", type=int, metavar="YEAR", help="also time YEAR's baseline beside every team, "
                   "image by image, as one reference network for every year (the atlas: 2026, SPAN); its ratio is "
                   "recorded apart from the year's baseline's")
    cli.add_checkpoints(p, model_zoo=None)
    cli.add_network(p)
    p.add_argument("--checkpoint", type=Path, help="the weights of the --model network")
    p.add_argument("--site", type=Path, help="also write the results and failures as a static web site into SITE "
                                             "(python -m benchmark.site)")
    return p


def check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    cli.check_measurement(p, args)
    if args.include_test and args.data_dir is None:
        p.error("--include_test needs --data_dir")
    cli.check_sweep_limits(p, args)
    if args.profile_only and (args.dataset or args.data_dir or args.include_test):
        p.error("--profile-only measures complexity without data; drop --dataset, --data_dir and --include_test")
    if args.cpu_dry_run:
        args.device = "cpu"
        args.runs = 1 if args.runs is None else args.runs  # no runtime of record: one run scores
    if args.challenge_repo is not None and not args.vs_baseline and args.reference is None and (
            args.model_zoo or args.offline or args.zoo_url):
        p.error("--model_zoo, --offline and --zoo-url are for registered teams (and the --vs-baseline baseline or the "
                "--reference network); a repository's teams load their own checkpoints")
    if args.reference is not None:
        get_year(args.reference)
    if args.model is not None and (args.challenge_repo is not None or args.model_id):
        p.error("--model measures the network it names; drop --challenge-repo and --model_id")
    if args.checkpoint is not None and args.model is None:
        p.error("--checkpoint is the weights of a --model network; a repository's teams load their own")
    args.network = cli.network_spec(p, args, args.year if args.year is not None else DEFAULT_YEAR)
    return args


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = build_parser()
    return check_args(p, p.parse_args(argv))


def results_path(args: argparse.Namespace, repo: Repository | None) -> Path:
    """The results file, checked before any team runs: a regular file or none yet (nothing is made here). By default
    a dry run's and a profile's are files of their own, as in the atlas: sharing one, a profile would find a team
    measured on data up to date, and the file would hold models timed on different splits."""
    stem = repo.root.name if repo else args.network.display_name if args.network is not None else "results"
    default = Path("results") / results_file_name(stem, args.cpu_dry_run, args.profile_only)
    check_results_path(args.results or default)  # a symlink loop is one line here, resolving it a traceback
    results = (args.results or default).resolve()
    check_results_path(results)
    return results


def make_writable(results: Path) -> None:
    """Make the results file's folder and its lock, once every flag has been checked (a refused sweep leaves nothing
    behind): a folder this user cannot write is one line before any team runs."""
    try:
        results.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise HarnessError(f"--results {results}: its folder cannot be made ({err.strerror}); choose another "
                           "--results") from None
    try:
        with open(results.with_name(results.name + ".lock"), "a"):
            pass
    except OSError as err:
        raise HarnessError(f"--results {results}: cannot be written there ({err.strerror}); choose another "
                           "--results") from None


def sweep(args: argparse.Namespace) -> int:
    ray_started = False
    try:
        repo = read_repository(args.challenge_repo) if args.challenge_repo is not None else None
        year = args.year if args.year is not None else (known_year(repo.year, repo.root) if repo else None)
        year_source = "--year" if args.year is not None else (repo.year_source if repo else "")
        if year is not None:
            get_year(year)
        if args.site is not None and year is None:
            raise HarnessError("--site: pass --year, the year whose rules rank the site's leaderboard")
        results = results_path(args, repo)
        data_folders = [*args.dataset, *([args.data_dir] if args.data_dir else [])]
        site = None if args.site is None else site_folder(args.site, "--site", [results], data=data_folders, others=[
            (flag, path) for flag, path in (("--challenge-repo", args.challenge_repo), ("--save_dir", args.save_dir),
                                            ("--model_zoo", args.model_zoo), ("--checkpoint", args.checkpoint),
                                            *(("--published", p) for p in args.published or []))
            if path is not None])
        published = Published(args.published) if args.published else None
        splits = [] if args.profile_only else cli.pick_splits(args, year)
        settings = cli.settings_of(args, year=year)  # each worker is told its device where it is started
        if settings.save_dir is not None:  # workers run inside the challenge repository
            settings = replace(settings, save_dir=settings.save_dir.resolve())
        options = {"dry_run": args.cpu_dry_run, "profile_only": args.profile_only, "team_env": args.team_env}
        if args.network is not None:
            job_list = [network_job(args.network, args.checkpoint, splits, settings, runs=args.runs,
                                    model_zoo=args.model_zoo, offline=args.offline, zoo_url=args.zoo_url,
                                    trust_checkpoint=args.trust_checkpoint, options=options)]
        elif repo:
            job_list = repository_jobs(repo, year, splits, settings, model_ids=args.model_id,
                                       trust_checkpoint=args.trust_checkpoint, data_dir=args.data_dir,
                                       include_test=args.include_test, options=options, model_zoo=args.model_zoo,
                                       offline=args.offline, zoo_url=args.zoo_url)
        else:
            job_list = registered_jobs(splits, settings, year=year, model_ids=args.model_id, runs=args.runs,
                                       model_zoo=args.model_zoo, offline=args.offline, zoo_url=args.zoo_url,
                                       trust_checkpoint=args.trust_checkpoint, options=options)
        limits = Limits(args.timeout, args.memory_cap, args.run_as)
        if args.run_as is not None:
            network = args.model and args.model.rpartition(":")[0]
            confine(args.run_as, [repo.root] if repo else [],
                    [*args.dataset, args.data_dir, args.model_zoo, args.checkpoint, network])
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
        make_writable(results)
        rows = {job.label: Row(job) for job in job_list}
        existing: dict[str, dict[str, Any]] = {}
        unreadable = None
        if results.is_file():
            try:
                existing = read_results(results)
            except HarnessError as err:
                unreadable = f"note: {err}; every team runs"
        driver = Driver(results, rows, console, kept=existing, published=published)
        freshness = Freshness(repo, names)
        others, still = lasting.split(job_list, driver.failures_path, freshness, args.force)
        pending, fresh, again = triage(others, existing, freshness, args.force, driver.failures)
        for label, reason in still.items():
            rows[label].status, rows[label].detail = "failed", f"still fails, inputs unchanged: {reason}"
        for label, (name, entry) in fresh.items():
            row = rows[label]
            row.status, row.name = "skipped", name
            row.detail = "up to date: " + (figures(entry, [s.name for s in splits]) or complexity(entry))
        source = f"{repo.root} (NTIRE {year}, the year from {year_source})" if repo else \
            f"{args.model} (--model)" if args.network is not None else f"registered teams of {year or 'every year'}"
        mode = "".join([" profile only;" if args.profile_only else "", " CPU dry run;" if args.cpu_dry_run else ""])
        console.print(escape(f"sweep: {len(job_list)} team(s) of {source};{mode} {len(pending)} to run, "
                             f"{len(fresh)} up to date{f', {len(still)} still failing' if still else ''}; on "
                             f"{', '.join(s.name for s in splits) or 'no data'}; "
                             f"device {where}; results {results}; logs {driver.logs}/"))
        if unreadable:
            console.print(escape(unreadable), soft_wrap=True)
        for line in again:
            console.print(escape(line), soft_wrap=True)
        for label, reason in still.items():
            console.print(escape(f"{rows[label].job.title}: still fails, inputs unchanged: {reason}; --force runs it "
                                 "again"), soft_wrap=True)
        begin = time.perf_counter()
        if pending:
            if args.ray:
                run_ray(pending, device, driver, limits)
            else:
                run_local(pending, slots, driver, limits)
        driver.close()
        if published is not None:
            blocks = driver.settle_published()
            for row in rows.values():
                row.published = blocks.get(row.name) if row.status in ("ran", "skipped") else None
        wall = time.perf_counter() - begin
        counts = {s: sum(r.status == s for r in rows.values()) for s in ("ran", "skipped", "failed")}
        title = f"Sweep of {source}: {counts['ran']} ran, {counts['skipped']} up to date, {counts['failed']} failed"
        if published is not None:
            matched = sum(bool(r.published and r.published.get("match")) for r in rows.values())
            title += f"; {matched} match {published.label} at its precision"
        console.print(summary_table(list(rows.values()), f"{title}, {wall:.1f} s", published=published is not None))
        console.print(escape(f"results: {results}; failures: {driver.failures_path}; logs: {driver.logs}/"))
        if site is not None:
            console.print(escape(build_site(SiteInputs([results], year, data=data_folders), site).report()))
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
