"""A results file edited by hand: each edit is read correctly or refused in one line naming the file, entry and key;
never a traceback, a phantom split or another team's entry."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from helpers import run_main, tiny_team, write_set
from rich.console import Console

import test_demo
from benchmark import compare
from benchmark.core.errors import HarnessError
from benchmark.organizer.driver import Driver, Row
from benchmark.organizer.plan import Job, entry_of
from benchmark.record.keys import splits_of
from benchmark.record.store import merge_failures, read_results
from benchmark.web.inputs import read_failures


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory):
    """A tiny team of 2023 run by test_demo.py on a split of two images: its entry as written."""
    tmp = tmp_path_factory.mktemp("edited")
    zoo = tmp / "zoo"
    zoo.mkdir()
    with tiny_team(zoo) as spec:
        data = write_set(tmp / "One", {"a": (32, 32), "b": (32, 48)})
        results = tmp / "R.json"
        argv = ["--model_id", str(spec.team_id), "--model_zoo", str(zoo), "--results", str(results), "--no-save",
                "--device", "cpu", "--dataset", str(data)]
        assert run_main(test_demo.main, argv)[0] == 0
        yield {"argv": argv, "results": results, "name": spec.display_name,
               "entry": read_results(results)[spec.display_name]}


def _file(tmp_path: Path, name: str, entry: dict) -> Path:
    path = tmp_path / "R.json"
    path.write_text(json.dumps({name: entry}))
    return path


def _compare(path: Path, out: Path) -> tuple[int, str, str]:
    return run_main(compare.main, ["--results", str(path), "--out", str(out)])


def test_a_splits_list_of_non_names_is_one_line_in_compare_and_rebuilt_by_a_new_run(recorded: dict,
                                                                                       tmp_path: Path) -> None:
    path = _file(tmp_path, recorded["name"], {**recorded["entry"], "splits": [1, None]})
    code, _, err = _compare(path, tmp_path / "board")
    assert code == 2 and err == (f"error: model {recorded['name']}: splits is [1, None] in {path}, not a list of split "
                                 "names; correct it in the file or re-run test_demo.py for this model\n")
    argv = [*recorded["argv"]]
    argv[argv.index("--results") + 1] = str(path)
    code, out, err = run_main(test_demo.main, argv)  # was: TypeError in Table 1 (sequence item 0: expected str)
    assert code == 0, err
    assert read_results(path)[recorded["name"]]["splits"] == ["One"]
    assert "One" in out


def test_without_a_splits_list_the_splits_are_read_from_their_keys(recorded: dict, tmp_path: Path) -> None:
    entry = {k: v for k, v in recorded["entry"].items() if k != "splits"}
    assert "One_runs_ave_runtime" in entry  # ends in _ave_runtime as One_ave_runtime does: no split "One_runs"
    assert splits_of(entry) == ["One"]
    assert splits_of({"a_runs_ave_runtime": 1.0}) == ["a_runs"]  # an organizers' split of that name stays one
    code, out, err = _compare(_file(tmp_path, recorded["name"], entry), tmp_path / "board")
    assert code == 0, err
    board = (tmp_path / "board" / "leaderboard.csv").read_text()
    assert "One_runs" not in board and recorded["name"] in board


def test_a_split_named_with_a_dot_is_read_as_one_key(recorded: dict, tmp_path: Path) -> None:
    """Keys are ``<split>_<figure>``: ``Set5.v2_memory`` is one key, not ``Set5`` → ``v2_memory``."""
    entry = {(k.replace("One_", "Set5.v2_", 1) if k.startswith("One_") else k): v for k, v in recorded["entry"].items()}
    entry["splits"] = ["Set5.v2"]
    code, out, err = _compare(_file(tmp_path, recorded["name"], entry), tmp_path / "board")
    assert code == 0, err
    assert f"{recorded['entry']['One_ave_runtime']:.2f}" in out.replace(",", "")
    assert "Set5.v2" in (tmp_path / "board" / "leaderboard.csv").read_text().splitlines()[0]


def _job(team_id: int) -> Job:
    return Job(f"{team_id:02}", f"team {team_id:02}", team_id, 2025,
               {"source": "challenge", "repo": "/repo", "settings": {}, "name": "x"})


@pytest.mark.parametrize("edited", ["0", True, None, 0.0])
def test_a_team_id_that_is_no_team_number_is_no_teams_entry(tmp_path: Path, edited: object) -> None:
    """A sweep.team_id edited to "0" (or true, null, 0.0) is neither team 00's entry nor another team's: team 00's next
    run replaces it, instead of being refused as "the name of team 00's entry"."""
    sweep = {"source": "challenge", "repository": "/repo", "team_id": edited}
    results = {"00_SPAN": {"sweep": sweep, "year": 2025}, "01_Other": {"sweep": {**sweep, "team_id": 1}, "year": 2025}}
    assert entry_of(_job(0), results) is None
    assert entry_of(_job(1), results)[0] == "01_Other"
    path = tmp_path / "R.json"
    path.write_text(json.dumps(results))
    driver = Driver(path, {"00": Row(_job(0))}, Console(file=io.StringIO()))
    assert driver._clash(_job(0), "00_SPAN") is None
    assert driver._clash(_job(0), "01_Other") == ("select_model names it 01_Other, the name of team 01's entry; give "
                                                  "it its own name in its select_model branch")


@pytest.mark.parametrize(("content", "kept"), [("[" * 100_000 + "]" * 100_000, {}), ("[1, 2]", {}),
                                               ('{"00": 5}', {"00": "5"}), ("{", {})])
def test_a_hand_edited_failures_file_is_rewritten_in_the_sweep_s_form(tmp_path: Path, content: str,
                                                                       kept: dict) -> None:
    """A failures file nested past the parser's stack was a RecursionError traceback in the sweep and the atlas; one
    that is no object of reasons stopped every later atlas build ('re-run the sweep', which left it as it was)."""
    results = tmp_path / "R.json"
    failures = tmp_path / "R.failures.json"
    failures.write_text(content)
    with pytest.raises(HarnessError, match=r"R\.failures\.json: (not a readable failures file|expected an object)"):
        read_failures(results)
    assert merge_failures(failures, {}, set()) == kept
    assert json.loads(failures.read_text()) == kept
    assert [(f.label, f.reason) for f in read_failures(results)] == list(kept.items())
