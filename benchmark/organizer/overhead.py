"""What organizer mode costs: a sweep's wall time against the same teams run one ``test_demo.py`` process each.

    python -m benchmark.speed --sweep                      # the year baselines on ../shared/data/B100
    python -m benchmark.speed --sweep --data DIR --device cpu

The teams are this project's registered teams with id 0 (the baseline of every year: RFDN 2023,
RLFN 2024, EFDN 2025, SPAN 2026). Each is run alone, as an organizer's bash loop runs them
(``python test_demo.py --year Y --model_id N --dataset B100``, one process each, timed from start
to exit); then the same teams in one ``python -m benchmark.sweep`` (local), and once more through
Ray: a Ray instance started here with one CPU (or one GPU), so that one team runs at a time as in
the other two, and the sweep as a second process that joins it with ``--ray ADDRESS``. Two rounds,
the second in the reverse order, so that a machine that speeds up or slows down during the
measurement weighs on both sides. The figure is the sweep's wall time over the sum of the single
runs: what process start, model build and the driver add (goal ≤ 1.15).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmark.core.files import PROJECT


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    begin = time.perf_counter()
    proc = subprocess.run(cmd, cwd=PROJECT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - begin
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"{' '.join(cmd[1:4])}… failed: {tail[0]}")
    return wall


def sweep_overhead(split: Path, teams: list[tuple[int, int]], model_zoo: Path, device: str, runs: int, warmup: int,
                   ray: bool = True, rounds: int = 2) -> pd.DataFrame:
    """Rows: each round's single test_demo.py runs (summed), local sweep and Ray sweep, each sweep against the
    round's sum of single runs; a last row per mode over all rounds.

    The order alternates between rounds (singles first, then last), so that a machine that speeds up or slows
    down over the measurement (page faults of a fresh VM, another tenant) weighs on both sides alike.
    """
    env = {**os.environ, "ESR_OFFLINE": "1"}
    common = ["--dataset", str(split), "--model_zoo", str(model_zoo), "--device", device, "--runs", str(runs),
              "--warmup", str(warmup)]
    ids = sorted({team for _, team in teams})
    years = sorted({year for year, _ in teams})
    selection = ["--model_id", *map(str, ids)] + (["--year", str(years[0])] if len(years) == 1 else [])
    sweep = [sys.executable, "-m", "benchmark.sweep", *selection, "--offline", *common]
    walls: dict[str, list[float]] = {"single": [], "local": [], "ray": []}
    rows = []
    with tempfile.TemporaryDirectory(prefix="esr-sweep-speed-") as tmp:

        def singles(k: int) -> None:
            total = 0.0
            for year, team in teams:
                total += _timed([sys.executable, "test_demo.py", "--year", str(year), "--model_id", str(team),
                                 "--no-save", "--results", f"{tmp}/single{k}.json", *common], env)
            walls["single"].append(total)

        def local(k: int) -> None:
            walls["local"].append(_timed([*sweep, "--results", f"{tmp}/local{k}.json"], env))

        def on_ray(k: int) -> None:
            import ray as ray_module

            resources = {"num_gpus": 1, "num_cpus": 1} if device.startswith("cuda") else {"num_cpus": 1}
            ray_module.init(include_dashboard=False, log_to_driver=False, **resources)  # one team at a time
            try:
                address = ray_module.get_runtime_context().gcs_address
                ray_cmd = [a if a != device else ("cuda" if device.startswith("cuda") else "cpu") for a in sweep]
                ray_env = {**os.environ, "ESR_OFFLINE": "1"}  # as ray.init left it: the instance's auth mode included
                walls["ray"].append(_timed([*ray_cmd, "--results", f"{tmp}/ray{k}.json", "--ray", address], ray_env))
            finally:
                ray_module.shutdown()

        steps = [singles, local] + ([on_ray] if ray else [])
        for k in range(rounds):
            for step in (steps if k % 2 == 0 else steps[::-1]):
                step(k)
            for mode, label in (("local", "benchmark.sweep"), ("ray", "benchmark.sweep --ray (1 team at a time)")):
                if walls[mode]:
                    rows.append({"round": str(k + 1), "run": label, "teams": len(teams), "sweep s": walls[mode][k],
                                 "sum of single runs s": walls["single"][k],
                                 "sweep / single runs": walls[mode][k] / walls["single"][k]})
        for mode, label in (("local", "benchmark.sweep"), ("ray", "benchmark.sweep --ray (1 team at a time)")):
            if walls[mode]:
                rows.append({"round": "all", "run": label, "teams": len(teams), "sweep s": sum(walls[mode]),
                             "sum of single runs s": sum(walls["single"]),
                             "sweep / single runs": sum(walls[mode]) / sum(walls["single"])})
    return pd.DataFrame(rows)


def default_teams() -> list[tuple[int, int]]:
    import models

    return [(spec.year, spec.team_id) for spec in models.list_models() if spec.team_id == 0]


def main(args) -> int:  # noqa: ANN001 - benchmark.speed's parsed arguments
    """``python -m benchmark.speed --sweep``: print the table and write ``<out stem>_sweep.md`` (+ ``.json``)."""
    import json

    from rich.console import Console

    from benchmark.core.errors import HarnessError, error_line
    from benchmark.core.files import write_report
    from benchmark.data.splits import benchmark_split, check_split
    from benchmark.measure.backend import pick_device
    from benchmark.measure.speed import B100
    from benchmark.record.environment import environment
    from benchmark.report.tables import frame_table

    console = Console(width=None if sys.stdout.isatty() else 160)
    try:
        device = pick_device(args.device)
        folder = args.data or (B100 if B100.is_dir() else None)
        if folder is None:
            raise HarnessError("--sweep needs a benchmark folder: --data DIR (../shared/data/B100 is not here)")
        split = benchmark_split(folder)
        check_split(split)
        env = environment(device)
        teams = default_teams()
        frame = sweep_overhead(Path(folder).resolve(), teams, Path(args.model_zoo).resolve(), str(device), runs=1,
                               warmup=0, rounds=2)  # the protocol of record; a warm-up would add a second timing
    except (HarnessError, RuntimeError) as err:
        print(error_line(err), file=sys.stderr)
        return 2
    names = ", ".join(f"{year}/{team:02}" for year, team in teams)
    title = (f"Organizer sweep against single test_demo.py runs: teams {names} on {split.name} "
             f"({len(split.pairs)} images), {env['device_name']}, 1 run, warm-up 3, 2 rounds")
    console.print(frame_table(frame, title))
    out = args.out.with_name(args.out.stem + "_sweep.md")
    try:
        write_report(out, f"# {title}\n\n{json.dumps(env)}\n\n{frame.to_markdown(index=False, floatfmt='.3f')}\n",
                     json.dumps({"environment": env, "sweep": frame.to_dict("records")}, indent=2))
    except HarnessError as err:
        print(error_line(err), file=sys.stderr)
        return 2
    console.print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0
