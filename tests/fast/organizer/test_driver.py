"""The sweep's one-line figures of an entry, and which entries of a team its new one replaces."""

import io
from pathlib import Path

import torch
from helpers import make_repo
from rich.console import Console

from benchmark.measure.settings import Settings
from benchmark.organizer.challenge import read_repository
from benchmark.organizer.driver import Driver, figures
from benchmark.organizer.plan import repository_jobs
from benchmark.record.store import update_results


def test_figures_say_n_a_for_a_missing_runtime_and_nothing_for_a_dry_run() -> None:
    entry = {"Set5_ave_psnr": 30.1242, "Set5_ave_runtime": 41.25, "Set14_ave_psnr": None, "Set14_ave_runtime": None}
    assert figures(entry, ["Set5", "Set14"]) == "Set5 30.12 dB 41.2 ms; Set14 PSNR n/a n/a ms"
    dry = {"dry_run": True, "Set5_ave_psnr": 30.1242, "Set5_ave_runtime": None}
    assert figures(dry, ["Set5"]) == "Set5 30.12 dB"  # a CPU dry run holds no runtime of record: none is shown


def test_a_run_with_another_backend_is_not_the_team_renamed(tmp_path: Path) -> None:
    """Team 21 swept in channels_last, then in eager under its own name: two runs, both kept; an eager entry under
    another name of the same team is a rename."""
    repo = make_repo(tmp_path / "repo")
    results = tmp_path / "R.json"
    sweep = {"source": "challenge", "team_id": 0, "repository": str(repo)}
    update_results(results, "00_Tiny@channels_last-fp32", {"backend": "channels_last", "precision": "fp32",
                                                            "sweep": sweep})
    update_results(results, "00_Old", {"sweep": sweep})
    job = repository_jobs(read_repository(repo), 2025, [], Settings(device=torch.device("cpu")), model_ids=[0])[0]
    driver = Driver(results, {}, Console(file=io.StringIO()))
    assert driver._renamed(job, "00_Tiny") == ["00_Old"]
