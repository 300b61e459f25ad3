"""Published runtimes of different years on one scale, through bridge networks (``published/bridges.toml``).

Each year's organizers timed on their own GPU (an RTX 3090 in 2024, an RTX A6000 in 2025 and 2026), so a
published runtime of one year does not compare with another year's. A network published in two years (SPAN: the
2024 winner, 5.59 ms on the RTX 3090; the 2026 baseline, 7.74 ms on the RTX A6000) gives the ratio between the two
scales; a chain of bridges joins further years. A year no chain reaches is never converted: the conversion is
None, with the reason.
"""

from __future__ import annotations

import tomllib
from collections import deque
from dataclasses import dataclass

from benchmark.rank.publications import PUBLISHED, shipped, shipped_header


@dataclass(frozen=True)
class Bridge:
    """One network's published mean runtime [ms] in two years, and why the two entries are one network."""

    network: str
    ms: dict[int, float]
    """Year → its published ``ave_t`` (the mean of the valid and test runtimes)."""
    why: str


def bridges() -> list[Bridge]:
    """Every bridge the harness ships, each year's runtime read from that year's published entry."""
    data = tomllib.loads((PUBLISHED / "bridges.toml").read_text(encoding="utf-8"))
    found = []
    for item in data.get("bridge", []):
        ms = {}
        for year_text, team in item["entries"].items():
            row = next(r for r in shipped(int(year_text)) if r.primary and r.team == team)
            ms[int(year_text)] = float(row.reported["ave_t"])
        found.append(Bridge(item["network"], ms, " ".join(item["why"].split())))
    return found


@dataclass(frozen=True)
class Scale:
    """How a year's published runtimes convert to ``target``'s scale: a factor and the bridges used, or why not."""

    year: int
    target: int
    factor: float | None
    path: tuple[str, ...]
    """The bridges crossed, ``SPAN 2024→2026``; empty for the target itself."""
    why: str

    def convert(self, ms: float | None) -> float | None:
        return None if ms is None or self.factor is None else ms * self.factor


def _gpu(year: int) -> str:
    return (shipped_header(year) or {}).get("gpu") or f"the {year} GPU"


def scale(year: int, target: int, known: list[Bridge] | None = None) -> Scale:
    """The factor that puts ``year``'s published runtimes on ``target``'s scale, through the fewest bridges."""
    if year == target:
        return Scale(year, target, 1.0, (), f"published in {target}: its own scale")
    links = known if known is not None else bridges()
    queue: deque[tuple[int, float, tuple[str, ...]]] = deque([(year, 1.0, ())])
    seen = {year}
    while queue:
        at, factor, path = queue.popleft()
        for bridge in links:
            if at not in bridge.ms:
                continue
            for other, ms in bridge.ms.items():
                if other in seen:
                    continue
                step = (factor * ms / bridge.ms[at], (*path, f"{bridge.network} {at}→{other}"))
                if other == target:
                    return Scale(year, target, step[0], step[1],
                                 f"through {', '.join(step[1])} ({_gpu(year)} → {_gpu(target)})")
                seen.add(other)
                queue.append((other, *step))
    return Scale(year, target, None, (), f"no bridge network joins {year} to {target}: its published runtimes are "
                                           f"not converted")
