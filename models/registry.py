"""The team registry, lookup only: each team file registers its :class:`models.spec.ModelSpec` here when imported.

Every year numbers its teams from 00, so a team is known by (year, id). Nothing else is edited to
add a team: the package imports every ``team*.py`` module it finds.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from benchmark.core.errors import HarnessError
from benchmark.core.years import DEFAULT_YEAR, get_year
from models.spec import ModelSpec

_REGISTRY: dict[tuple[int, int], ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a team. Two files claiming one (year, id), or one results name, are a mistake worth stopping for. Its year
    is checked when the team is looked up: the years file is not read while the teams are imported, so that a broken
    one is one error line where a command uses it."""
    key = (spec.year, spec.team_id)
    if key in _REGISTRY and _REGISTRY[key].builder is not spec.builder:
        raise HarnessError(f"team {spec.team_id} of {spec.year} is registered twice: {_REGISTRY[key].name} and "
                           f"{spec.name}")
    same_name = [s for k, s in _REGISTRY.items() if k != key and s.display_name == spec.display_name]
    if same_name:
        raise HarnessError(f"{spec.display_name} of {spec.year} has the results name of team {same_name[0].team_id} of "
                           f"{same_name[0].year}; give one of them another name")
    _REGISTRY[key] = spec
    return spec


def list_models(year: int | None = None) -> list[ModelSpec]:
    """The registered teams of ``year`` (all years when None), ordered by year and id; a team of a year that
    ``years.toml`` does not hold is a HarnessError."""
    specs = [_REGISTRY[k] for k in sorted(_REGISTRY) if year is None or k[0] == year]
    for spec in specs:
        get_year(spec.year)
    return specs


def get_spec(model_id: int, year: int = DEFAULT_YEAR) -> ModelSpec:
    """The spec of ``year``'s team ``model_id``, or a HarnessError listing that year's registered ids."""
    get_year(year)
    if (year, model_id) not in _REGISTRY:
        known = ", ".join(f"{s.team_id} ({s.display_name})" for s in list_models(year)) or "none"
        raise HarnessError(f"unknown model id {model_id} for {year}; registered models of {year}: {known}")
    return _REGISTRY[(year, model_id)]




@contextlib.contextmanager
def registered(spec: ModelSpec) -> Iterator[ModelSpec]:
    """``spec`` registered for the duration of a ``with`` block and removed after it (a team that exists only
    while a test or a one-off evaluation needs it)."""
    register(spec)
    try:
        yield spec
    finally:
        _REGISTRY.pop((spec.year, spec.team_id), None)
