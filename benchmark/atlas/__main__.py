"""The atlas: every team of several NTIRE ESR challenge repositories, and a network of your own, measured under one
protocol, each beside one reference network, with every year's published figures beside its own.

    python -m benchmark.atlas --challenge-repo ../shared/challenges/NTIRE2024_ESR \\
        --challenge-repo ../shared/challenges/NTIRE2025_ESR --challenge-repo ../shared/challenges/NTIRE2026_ESR \\
        --dataset ../shared/data/Set5 ../shared/data/Set14 ../shared/data/B100 --cpu-dry-run --team-env auto \\
        --model_zoo ../shared/reference/model_zoo --site results/atlas/site
    python -m benchmark.atlas --challenge-repo … --model path/to/arch.py:MyNet --checkpoint w.pth --data-range 1 …
    python -m benchmark.atlas --challenge-repo … --profile-only --cpu-dry-run

One sweep per repository (``python -m benchmark.sweep``, its results file in ``--out``), resumable and
incremental: a second build skips every team whose entry is up to date, or whose lasting failure stands on unchanged
inputs, and rebuilds the tables from all of them.
Writes ``atlas.json``, ``atlas.csv``, ``atlas.tex`` into ``--out`` and, with ``--site``, the site whose "Across years"
page holds the atlas. Ends with what the build took and what the whole atlas costs from scratch.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.markup import escape

import models
from benchmark import __version__, cli
from benchmark.atlas import output, placement, rows, scale, sweeps
from benchmark.core.errors import HarnessError, one_line
from benchmark.core.files import MARKER, out_folder
from benchmark.core.years import YEARS, get_year
from benchmark.data.splits import gather_splits
from benchmark.organizer.account import confine
from benchmark.rank.bridges import bridges
from benchmark.record.keys import check_split_names
from benchmark.web.build import SiteInputs, build_site, site_folder
from benchmark.web.inputs import NameClash

console = cli.console()
MADE_BY = "benchmark.atlas"
"""What the marker of the atlas's folder names: ``--out`` is new, empty or one an atlas made (a folder of other
files is refused, never written into)."""
REFERENCE_YEAR = 2026
"""Whose baseline is the reference network by default: SPAN, the 2026 baseline and the 2024 winner."""


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m benchmark.atlas", __doc__)
    p.add_argument("--challenge-repo", type=Path, action="append", default=[], metavar="PATH",
                   help="an official challenge repository, read in place (repeat for each year)")
    p.add_argument("--model_id", type=int, nargs="+", action="extend", metavar="N",
                   help="only these teams of each repository (a repository with none of them is not swept; "
                        "default: every team)")
    p.add_argument("--dataset", type=Path, nargs="+", action="extend", default=[],
                   help="folders with HR/ and LR_bicubic/X4/ (Set5, Set14, B100)")
    p.add_argument("--out", type=Path, default=Path("results/atlas"),
                   help="folder of the sweeps' results files and of atlas.json, atlas.csv, atlas.tex")
    p.add_argument("--reference", type=int, default=REFERENCE_YEAR, metavar="YEAR",
                   help="the year whose baseline is timed beside every entry, the one reference network")
    p.add_argument("--latex", nargs="+", metavar="MODEL", help="the entries of atlas.tex, by model name (default: "
                   "each year's baseline and published winner, and the --model network)")
    p.add_argument("--site", type=Path, help="also write the site (python -m benchmark.site) into SITE, its "
                                             "across-years page filled with the atlas")
    g = p.add_argument_group("passed to every sweep (python -m benchmark.sweep --help)")
    g.add_argument("--device", default="auto", help="where the teams run")
    g.add_argument("--devices", help="comma-separated devices (cuda:0,cuda:1): one team per device at a time")
    g.add_argument("--runs", type=int, help="timed passes over each set (default: each year's; 1 with --cpu-dry-run)")
    g.add_argument("--ray", metavar="ADDRESS", help="run every team as a task of a Ray cluster (auto or HEAD:6379); "
                                                    "the sweeps then run at once")
    g.add_argument("--cpu-dry-run", action="store_true", help="build, profile and score GPU teams on the CPU; the "
                   "runtime ratio to the reference is still measured, the CPU's")
    g.add_argument("--profile-only", action="store_true", help="complexity only, no data")
    g.add_argument("--team-env", choices=("none", "auto"), default="none",
                   help="auto: a team that lacks a package gets an environment of its own")
    g.add_argument("--timeout", type=float, metavar="S", help="kill a team's worker after S seconds")
    g.add_argument("--memory-cap", type=float, metavar="GB", help="kill a team's worker past GB of memory")
    g.add_argument("--run-as", metavar="USER", help="run each team's code as USER, an unprivileged account (the "
                   "atlas runs as root)")
    g.add_argument("--force", action="store_true", help="measure every team again")
    cli.add_checkpoints(p, model_zoo=None)
    cli.add_network(p)
    p.add_argument("--checkpoint", type=Path, help="the weights of the --model network")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    if not args.challenge_repo and args.model is None:
        p.error("nothing to measure: pass --challenge-repo (repeat for each year) and/or --model FILE:Class")
    if args.profile_only and args.dataset:
        p.error("--profile-only measures complexity without data; drop --dataset")
    if not args.profile_only and not args.dataset:
        p.error("pass the sets to run with --dataset (e.g. ../shared/data/Set5 ../shared/data/Set14 "
                "../shared/data/B100), or --profile-only")
    if args.reference not in YEARS:
        p.error(f"--reference {args.reference}: one of {', '.join(map(str, YEARS))}")
    if args.model_id and not args.challenge_repo:
        p.error("--model_id picks teams of a --challenge-repo; add one")
    if args.checkpoint is not None and args.model is None:
        p.error("--checkpoint is the weights of a --model network")
    cli.check_sweep_limits(p, args)  # passed to every sweep: a mistake is one line here, not one per sweep
    spec = cli.network_spec(p, args, args.reference)  # a mistake in the network's flags: one line before any sweep
    if args.run_as is not None:  # what the account cannot reach: one line here, not an empty atlas after a sweep
        network = args.model and args.model.rpartition(":")[0]
        confine(args.run_as, [r.resolve() for r in args.challenge_repo],
                [*args.dataset, args.model_zoo, args.checkpoint, network])
    folders = [*(("--challenge-repo", repo) for repo in args.challenge_repo), *(("--dataset", d) for d in args.dataset),
               *([("--model_zoo", args.model_zoo)] if args.model_zoo else [])]
    unmarked = args.out.is_dir() and not (args.out / MARKER).exists()  # the hint only where it can be the fix
    args.out_folder = out_folder(args.out, "--out", MADE_BY, "choose a new or empty folder for the atlas" + (
        f" (one built before atlas folders were marked: add the line {MADE_BY} to {args.out}/{MARKER})"
        if unmarked else ""))
    for label, folder in folders:  # the atlas writes its sweeps' files into --out (it never deletes it): not into
        real = folder.resolve()  # what it reads
        if real == args.out_folder.real or real in args.out_folder.real.parents:
            raise HarnessError(f"--out {args.out}: in {label} {folder}, which the atlas reads; the sweeps' files would "
                               "be written into it; choose a folder outside it")
    if args.site is not None:
        if not args.challenge_repo:
            p.error("--site shows a repository's leaderboard beside the atlas: add --challenge-repo")
        network = [] if args.model is None else [("--model", Path(args.model.rpartition(":")[0])),
                                                 *([("--checkpoint", args.checkpoint)] if args.checkpoint else [])]
        others = [("--out", args.out), *(("--challenge-repo", repo) for repo in args.challenge_repo), *network,
                  *([("--model_zoo", args.model_zoo)] if args.model_zoo else [])]
        args.site_folder = site_folder(args.site, "--site", [], data=args.dataset, others=others)
    if spec is not None:  # a mistake in its code or weights (a builder that returns no network, weights that do not
        models.build_model(spec, args.checkpoint, trust_checkpoint=args.trust_checkpoint)  # fit) before any sweep too
    return args


def network_flags(args: argparse.Namespace) -> list[str] | None:
    """The ``--model`` network's sweep flags, its files' paths absolute (the sweeps run in the checkout)."""
    if args.model is None:
        return None
    file, _, name = args.model.rpartition(":")
    flags = ["--model", f"{Path(file).resolve()}:{name}", "--data-range", f"{args.data_range:g}"]
    checkpoint = None if args.checkpoint is None else args.checkpoint.resolve()
    for flag, value in (("--checkpoint", checkpoint), ("--model-args", args.model_args), ("--name", args.name)):
        if value is not None:
            flags += [flag, str(value)]
    return flags


def shared_flags(args: argparse.Namespace) -> list[str]:
    """The flags every sweep of the atlas takes: the data, SSIM, the reference network, the mode and limits (paths
    absolute: the sweeps run in the checkout, the atlas wherever it was started)."""
    flags = ["--dataset", *(str(d.resolve()) for d in args.dataset), "--ssim"] if args.dataset else []
    if not args.profile_only:
        flags += ["--reference", str(args.reference)]
        flags += ["--model_zoo", str(args.model_zoo.resolve())] if args.model_zoo else []
        flags += ["--offline"] if args.offline else []
        flags += ["--zoo-url", args.zoo_url] if args.zoo_url else []
    for flag, on in (("--cpu-dry-run", args.cpu_dry_run), ("--profile-only", args.profile_only),
                     ("--force", args.force), ("--trust-checkpoint", args.trust_checkpoint)):
        flags += [flag] if on else []
    for flag, value in (("--team-env", args.team_env), ("--timeout", args.timeout), ("--memory-cap", args.memory_cap),
                        ("--ray", args.ray), ("--devices", args.devices), ("--runs", args.runs),
                        ("--run-as", args.run_as)):
        flags += [flag, str(value)] if value is not None else []
    return flags + (["--device", args.device] if args.device != "auto" else [])


def summary(atlas: rows.Atlas) -> list[str]:
    """Per year: entries, published rows matched (by name/id, by figures), equal at the printed precision, failed."""
    out = []
    teams = [f for f in atlas.failures if f["source"] != sweeps.NETWORK_SOURCE]  # the --model network is no year's
    for year in sorted({r["year"] for r in atlas.rows if not r["mine"]} | {f["year"] for f in teams if f["year"]}):
        own = [r for r in atlas.rows if r["year"] == year and not r["mine"]]
        blocks = [r["published"] for r in own if r["published"]]
        by = {how: sum(b["matched_by"] == how for b in blocks) for how in ("name", "id", "figures")}
        ambiguous = sum(bool(b.get("candidates")) for b in blocks)
        equal = sum(b["match"] is True for b in blocks)
        failed = sum(f["year"] == year for f in teams)
        out.append(f"NTIRE {year}: {len(own)} measured, {failed} could not run; published: "
                   f"{by['name'] + by['id']} matched by name or id, {by['figures']} by figures"
                   f"{f', {ambiguous} ambiguous' if ambiguous else ''}; {equal} equal at the printed precision")
    return out


def no_intervals(rows: list[dict]) -> list[str]:
    """A warning line per reason that ratios have no 95% interval (a small atlas, on Set5 once: five pairs), with the
    entries it holds for: the table would otherwise show n/a with nothing to say why."""
    why: dict[str, list[str]] = {}
    for row in rows:
        if row["ratio_ci95_why"]:
            why.setdefault(row["ratio_ci95_why"], []).append(one_line(row["model"]))  # a name from team code
    return [f"warning: the runtime ratio of {len(models)} entr{'y' if len(models) == 1 else 'ies'} "
            f"({', '.join(models[:4])}{', …' if len(models) > 4 else ''}) has no 95% interval: {reason}"
            for reason, models in why.items()]


def build(args: argparse.Namespace) -> int:
    splits = gather_splits(args.dataset, None, None) if args.dataset else []
    check_split_names(splits)
    sets = [s.name for s in splits]
    planned = sweeps.plan(args.challenge_repo, args.out_folder.real, args.cpu_dry_run, args.profile_only,
                          network_flags(args), args.reference, args.model_id,
                          lambda line: console.print(escape(line), soft_wrap=True))
    args.out_folder.kept()
    console.print(escape(f"atlas: {len(planned)} sweep(s) into {args.out}/ on {', '.join(sets) or 'no data'}; "
                         f"reference network: the {args.reference} baseline {get_year(args.reference).baseline}"))
    ran = sweeps.run(planned, shared_flags(args), lambda line: console.print(escape(line), soft_wrap=True),
                     at_once=bool(args.ray))
    atlas = rows.build([item.swept for item in planned], sets, args.reference)
    years = sorted({item.swept.year for item in planned if not item.swept.mine})
    winners = [placement.winner(year, atlas.rows) for year in years]
    reference = get_year(args.reference).baseline
    verdicts = [{**v, "line": placement.verdict_line(v, reference)} for v in placement.verdicts(atlas.rows, sets)]
    figures = scale.report(ran, atlas.rows, atlas.failures, os.cpu_count() or 1)
    devices = sorted({r["device"] for r in atlas.rows if r["device"]})
    document = {
        "atlas": {"harness_version": __version__, "sets": sets, "reference": {"year": args.reference,
                  "name": reference}, "devices": devices, "dry_run": args.cpu_dry_run,
                  "profile_only": args.profile_only, "results": [str(i.swept.results) for i in planned]},
        "rows": atlas.rows, "failures": atlas.failures, "winners": winners,
        "fronts": placement.fronts(atlas.rows, sets), "verdicts": verdicts,
        "scales": {str(y): {"factor": s.factor, "why": s.why} for y, s in atlas.scales.items()},
        "bridges": [{"network": b.network, "ms": {str(y): v for y, v in b.ms.items()}, "why": b.why}
                    for b in bridges()],
        "build": figures,
    }
    out = args.out
    baselines = {year: get_year(year).baseline for year in years}
    chosen = output.chosen(atlas.rows, args.latex, winners, baselines)
    texts = dict(zip(output.FILES, (output.json_text(document), output.table_csv(atlas.rows, sets),
                                    output.latex(chosen, sets, reference, ", ".join(devices) or "no device"))))
    output.write(out, texts)
    for line in [*atlas.warnings, *output.unknown(atlas.rows, args.latex), *no_intervals(atlas.rows),
                 *summary(atlas), *(v["line"] for v in verdicts),
                 *(f"{r['model']}: not placed, a --profile-only atlas has no PSNR to set against the costs"
                   for r in atlas.rows if r["mine"] and not sets),
                 *(f"your network could not run, so it is not placed: {f['reason']}" for f in atlas.failures
                   if f["source"] == sweeps.NETWORK_SOURCE), *scale.lines(figures)]:
        console.print(escape(line), soft_wrap=True)
    console.print(escape(f"atlas: {out / 'atlas.json'}, {out / 'atlas.csv'}, {out / 'atlas.tex'} "
                         f"({len(chosen)} entries); {len(atlas.rows)} entries, {len(atlas.failures)} failed"))
    if args.site is not None:
        main_year = max(years) if years else args.reference
        results = [item.swept.results for item in planned if not item.swept.mine and (item.swept.results.is_file()
                   or item.swept.results.with_name(item.swept.results.stem + ".failures.json").is_file())]
        try:
            built = build_site(SiteInputs(results, main_year, data=list(args.dataset), atlas=out / "atlas.json"),
                               args.site_folder)
        except NameClash as clash:  # two repositories with one team name: the atlas holds both, a leaderboard cannot
            raise HarnessError(
                f"--site: {clash.first.name} and {clash.second.name} both have a model named {clash.model}, and the "
                f"site's leaderboard has one row per name; the atlas is written, the site is not: build it from one "
                f"of them (python -m benchmark.site --results {clash.first} --atlas {out / 'atlas.json'} --year "
                f"{main_year} --out {args.site})") from None
        console.print(escape(built.report()))
    broken = [r for r in ran if r.returncode != 0]
    if broken:
        raise HarnessError(f"the sweep of {broken[0].planned.swept.source} exited with status "
                           f"{broken[0].returncode} (its output above); the atlas holds what it recorded")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    return cli.run(p, argv, lambda args: build(check_args(p, args)),
                   interrupted="every finished team is kept in its sweep's results file; a re-run measures the rest")


if __name__ == "__main__":
    sys.exit(main())
