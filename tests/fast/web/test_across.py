"""The across-years page's baseline and winner cells when a year ranks no one."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from benchmark.rank.board import Ranking
from benchmark.web.across import _unranked

BASELINE_CELLS = [(["00_RLFN_baseline", "01_Fast"], "00_RLFN_baseline: in the inputs without a runtime of record"),
                  (["01_Fast"], "00_RLFN_baseline: not in the 2024 inputs")]
"""The 2024 baseline's cell with and without its entry among the inputs."""

@pytest.mark.parametrize("teams, expected", BASELINE_CELLS)
def test_a_dry_run_says_its_baseline_has_no_runtime_not_that_it_is_missing(teams: list[str], expected: str) -> None:
    board = pd.DataFrame({"team": teams, "ave": [math.nan] * len(teams)})
    why = _unranked(Ranking(board, None, "2024", []), 2024)
    assert why["baseline"] == expected
    assert why["winner"].startswith("none: no entry has a runtime of record")


@pytest.mark.parametrize("teams, expected", BASELINE_CELLS)
def test_timed_entries_without_a_timed_baseline_are_not_ranked_for_want_of_it(teams: list[str], expected: str) -> None:
    board = pd.DataFrame({"team": teams, "ave": [math.nan, 12.5][-len(teams):]})
    assert _unranked(Ranking(board, None, "2024", []), 2024) == {
        "baseline": expected, "winner": "none: not ranked without the baseline"}
