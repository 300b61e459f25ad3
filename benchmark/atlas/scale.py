"""What an atlas costs: each sweep's wall time in this build (with the machine's load), and the whole atlas from
scratch, from the time each entry's worker took when it was measured (``sweep.wall_seconds`` of its record): serial
on this machine (a sweep runs one team at a time per device) and spread over machines on Ray, where every team is an
independent task, so the time falls as 1/k down to the longest team."""

from __future__ import annotations

import math
from typing import Any

from benchmark.atlas.sweeps import Ran

MACHINES = (1, 2, 4, 8)
"""The Ray cluster sizes the projection is printed for."""


def report(ran: list[Ran], rows: list[dict[str, Any]], failures: list[dict[str, Any]], cpus: int) -> dict[str, Any]:
    """The build's figures and the projection: ``sweeps`` (one per repository), ``entries``, ``team_seconds`` (the
    sum over entries, serial), the longest team, and the hours on 1, 2, 4, 8 machines like this one."""
    walls = [r["sweep_wall_seconds"] for r in rows if isinstance(r.get("sweep_wall_seconds"), (int, float))]
    longest = max(walls, default=0.0)
    total = sum(walls)
    sweeps = [{"source": r.planned.swept.source, "year": r.planned.swept.year, "returncode": r.returncode,
               "wall_seconds": r.wall_seconds, "load_average": {"start": r.load[0], "end": r.load[1]},
               "entries": sum(row["source"] == r.planned.swept.source for row in rows),
               "failed": sum(f["source"] == r.planned.swept.source for f in failures)} for r in ran]
    return {
        "cpus": cpus, "sweeps": sweeps, "entries": len(rows), "timed_entries": len(walls), "failed": len(failures),
        "build_wall_seconds": sum(s["wall_seconds"] for s in sweeps) if ran else 0.0,
        "team_seconds": total, "longest_team_seconds": longest,
        "from_scratch_hours": {str(k): max(total / k, longest) / 3600 for k in MACHINES},
        "note": ("from scratch: the sum of each entry's worker time when it was measured (failed teams, which end "
                 "early, not counted), one team at a time; on k machines of this kind max(sum / k, longest team)"),
    }


def lines(figures: dict[str, Any]) -> list[str]:
    """The report as the console prints it."""
    out = []
    for s in figures["sweeps"]:
        load = s["load_average"]
        out.append(f"{s['source']}: {s['entries']} entries, {s['failed']} failed; this build {s['wall_seconds']:.0f} s "
                   f"(load average {load['start'][0]:.2f} → {load['end'][0]:.2f} on {figures['cpus']} CPUs)"
                   + ("" if s["returncode"] == 0 else f"; the sweep exited with status {s['returncode']}"))
    hours = figures["from_scratch_hours"]
    if figures["timed_entries"]:
        mean = figures["team_seconds"] / figures["timed_entries"]
        out.append(f"from scratch: {figures['timed_entries']} entries, {figures['team_seconds']:.0f} team-seconds "
                   f"(mean {mean:.1f} s, longest {figures['longest_team_seconds']:.0f} s): "
                   + ", ".join(f"{_hours(hours[str(k)])} on {k} machine{'s' if k > 1 else ''}" for k in MACHINES))
    else:
        out.append("from scratch: no entry records its worker time yet (measured before it was recorded)")
    return out


def _hours(value: float) -> str:
    return f"{value * 60:.1f} min" if value < 1 else f"{value:.2f} h" if math.isfinite(value) else "n/a"
