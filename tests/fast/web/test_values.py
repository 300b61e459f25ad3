"""What a model page reads of a record, checked where it is read (``benchmark.web.values``): the team ids a sweep
writes are shown as they are, a count no table can hold is one line."""

from __future__ import annotations

from pathlib import Path

from benchmark.web.values import checked

R = Path("R.json")


def test_a_negative_team_id_is_shown_without_a_warning() -> None:
    """A ``model_id == -1`` branch is a team the sweep runs and records as team -1: its page shows that id."""
    entry = {"sweep": {"source": "challenge", "team_id": -1}, "splits": []}
    cleaned, lines = checked("-1_Negative", entry, R)
    assert lines == [] and cleaned["sweep"]["team_id"] == -1


def test_a_team_id_or_count_that_is_no_whole_number_or_past_2_53_is_one_line_each() -> None:
    entry = {"sweep": {"team_id": 1.5}, "complexity": {"conv": 1e308, "params": 3728}, "year": 2026, "splits": []}
    cleaned, lines = checked("X", entry, R)
    assert lines == [
        "warning: model X: complexity.conv is 1e+308, too large for a count in R.json, not a whole number ≥ 0; "
        "shown as n/a on the site",
        "warning: model X: sweep.team_id is 1.5, not a whole number in R.json, not a whole number (a team id); "
        "shown as n/a on the site"]
    assert cleaned["complexity"] == {"conv": None, "params": 3728} and cleaned["sweep"]["team_id"] is None
