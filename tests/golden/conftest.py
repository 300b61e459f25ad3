"""The golden tier's shared, expensive work, done once per session: every year's baseline (and SRneXt) measured by
every counter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from benchmark.measure.complexity import measure
from models import create_model


@pytest.fixture(scope="session")
def measured() -> Callable[[int, int], dict[str, Any]]:
    """``measured(year, team_id)``: ``measure()`` of that registered team's faithful network, computed once (the
    weights do not change any count, so no checkpoint is needed)."""
    cache: dict[tuple[int, int], dict[str, Any]] = {}

    def get(year: int, team_id: int) -> dict[str, Any]:
        if (year, team_id) not in cache:
            cache[year, team_id] = measure(create_model(team_id, year=year))
        return cache[year, team_id]
    return get
