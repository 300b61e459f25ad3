"""The organizers' published figures beside a sweep's own (``--published FILE``), compared at the published precision.

The organizers publish their results file (``results.json``: model name → figures, as their harness
writes it, e.g. ``ntire2026_results.json``). Each team's entry is matched to its published one by the
name its ``select_model`` wrote (``"         11_VSCINet"`` included), else the name stripped, else
its id (the leading number); params, FLOPs, activations and conv count are then compared at the
precision the published value is written with: ours rounded to as many decimals equals theirs.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmark.core.errors import HarnessError
from benchmark.record.store import read_results

FIGURES = {"num_parameters": "params [M]", "flops": "FLOPs [G]", "activations": "acts [M]", "num_conv": "conv"}
"""The published complexity figures, each under the key the organizers' file and ours share."""


def read_published(path: Path) -> dict[str, dict[str, Any]]:
    """The organizers' results file; a HarnessError (one line) when it is not one."""
    entries = read_results(path)
    if not any(any(k in e for k in FIGURES) for e in entries.values()):
        raise HarnessError(f"--published {path}: no entry has {', '.join(FIGURES)}; pass the organizers' results.json")
    return entries


def published_entry(published: dict[str, dict[str, Any]], name_as_written: str, team_id: int
                    ) -> tuple[str, dict[str, Any]] | None:
    """The published entry of a team: by the name as written, the name stripped, else its id."""
    if name_as_written in published:
        return name_as_written, published[name_as_written]
    for key, entry in published.items():
        if key.strip() == name_as_written.strip():
            return key, entry
    for key, entry in published.items():
        match = re.match(r"\s*(\d+)_", key)
        if match and int(match[1]) == team_id:
            return key, entry
    return None


def decimals(value: float | int) -> int:
    """How many decimals a published number is written with (``9.833807872`` → 9, ``22`` → 0)."""
    exponent = Decimal(repr(value)).as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0


def compare(record: dict[str, Any], published: dict[str, dict[str, Any]], name_as_written: str, team_id: int,
            source: Path) -> dict[str, Any]:
    """The ``published`` block of an entry: each figure ours and theirs, the precision, and whether they match."""
    found = published_entry(published, name_as_written, team_id)
    if found is None:
        return {"file": str(source), "name": None, "match": None, "figures": {}}
    key, theirs = found
    figures = {}
    for figure in FIGURES:
        value, ours = theirs.get(figure), record.get(figure)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        places = decimals(value)
        same = isinstance(ours, (int, float)) and round(ours, places) == round(value, places)
        figures[figure] = {"ours": ours, "published": value, "decimals": places, "match": same}
    return {"file": str(source), "name": key, "match": all(f["match"] for f in figures.values()) if figures else None,
            "figures": figures}


def verdict(block: dict[str, Any] | None) -> str:
    """The summary's match column: ``= 4/4``, ``≠ flops 9.8338 (published 9.8339)``, or why there is none."""
    if not block:
        return "-"
    if block["name"] is None:
        return "not published"
    figures = block["figures"]
    wrong = [f"{k} {f['ours']:.{f['decimals']}f} (published {f['published']:.{f['decimals']}f})"
             for k, f in figures.items() if not f["match"] and isinstance(f["ours"], (int, float))]
    wrong += [f"{k} n/a" for k, f in figures.items() if not isinstance(f["ours"], (int, float))]
    return f"= {len(figures)}/{len(figures)}" if not wrong else "≠ " + "; ".join(wrong)
