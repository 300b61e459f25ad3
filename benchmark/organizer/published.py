"""The organizers' published figures beside a team's own, compared at the published precision (``--published``).

A team's entry is matched to a published row (``benchmark.rank.publications``) by, in order:

1. ``name``: the name its ``select_model`` wrote, as written (``"         11_VSCINet"``), then stripped;
2. ``id``: its repository id, where the row gives one (or the row's name begins with it, ``009_RFDN_SPAN``);
3. ``figures``: the one row without an id whose params and FLOPs, each rounded to the decimals it was printed with,
   equal the team's. A report names teams, not repository ids (Table 1 of 2024): such rows are matched so, and
   the match says so. Several rows with those figures: ambiguous, none is taken, the candidates are recorded.

Every complexity figure the matched rows publish (the most precise publication of each) is then compared at its
published precision: ours rounded to as many decimals equals theirs. PSNR and runtime were measured on other data
and another GPU: they stand beside ours as reported, uncompared. A figure that differs carries the reason where it
is known (the row's ``differs`` note: the official code gives another figure, the network was reparameterised, the
repository's checkpoint is not the one measured).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmark.rank.publications import FIGURES, Row, read_file

MATCH_FIGURES = ("num_parameters", "flops")
"""The figures a row without an id is matched by."""
UNEXPLAINED = "not explained: no note in the published data says why this figure differs"


def _same(ours: Any, theirs: float, places: int) -> bool:
    return isinstance(ours, (int, float)) and not isinstance(ours, bool) and \
        round(ours, places) == round(theirs, places)


def _kin(rows: list[Row], row: Row) -> list[Row]:
    """``row`` first, then every other publication of the same team (same id, or same name)."""
    others = [r for r in rows if r is not row and (r.team.strip() == row.team.strip() or
                                                  (r.team_id is not None and r.team_id == row.team_id))]
    return [row, *sorted(others, key=lambda r: not r.primary)]


def find(rows: list[Row], name_as_written: str, team_id: int | None, record: dict[str, Any]
         ) -> tuple[list[Row], str | None, list[str]]:
    """The rows published for this team (its table row first), how they were matched, and the candidates when its
    figures match several rows without an id (then no row is taken)."""
    primaries = sorted(rows, key=lambda r: not r.primary)
    for same in (lambda r: r.team == name_as_written, lambda r: r.team.strip() == name_as_written.strip()):
        hit = next((r for r in primaries if same(r)), None)
        if hit is not None:
            return _kin(rows, hit), "name", []
    hit = next((r for r in primaries if team_id is not None and r.team_id == team_id), None)
    if hit is not None:
        return _kin(rows, hit), "id", []
    candidates = [r for r in primaries if r.team_id is None and all(
        k in r.figures and _same(record.get(k), r.figures[k], r.decimals[k]) for k in MATCH_FIGURES)]
    names = list(dict.fromkeys(r.team for r in candidates))
    if len(names) == 1:
        return _kin(rows, candidates[0]), "figures", []
    return [], None, names


def compare(record: dict[str, Any], rows: list[Row], name_as_written: str, team_id: int | None,
            source: Path | str) -> dict[str, Any]:
    """The ``published`` block of an entry: the row matched and how, each figure ours and theirs at its precision,
    whether all match (None when nothing is published for the team), what was reported, why a figure differs."""
    found, how, candidates = find(rows, name_as_written, team_id, record)
    block: dict[str, Any] = {"file": str(source), "source": None, "name": None, "team_id": None, "matched_by": how,
                             "candidates": candidates, "match": None, "figures": {}, "reported": {},
                             "explanation": None}
    if not found:
        return block
    first = found[0]
    figures = {}
    for figure in FIGURES:
        published = [r for r in found if figure in r.figures]
        if not published:
            continue
        best = max(published, key=lambda r: r.decimals[figure])  # the most precise publication of the figure
        value, places, ours = best.figures[figure], best.decimals[figure], record.get(figure)
        figures[figure] = {"ours": ours, "published": value, "decimals": places, "match": _same(ours, value, places)}
    match = all(f["match"] for f in figures.values()) if figures else None
    notes = [r.note for r in found if r.note]
    block.update({"source": first.source, "name": first.team, "team_id": first.team_id, "match": match,
                  "figures": figures, "reported": {**first.reported, "gpu": first.gpu},
                  "sources": list(dict.fromkeys(r.source for r in found)),
                  "explanation": None if match is not False else "; ".join(notes) or UNEXPLAINED})
    return block


def read_published(paths: Iterable[Path]) -> list[Row]:
    """Every row of the ``--published`` files (a HarnessError, one line, for a file that holds none)."""
    return [row for path in paths for row in read_file(path)]


def claimed_twice(blocks: dict[str, dict[str, Any] | None]) -> dict[str, list[str]]:
    """Rows matched by figures to more than one entry (entry name → its block): row name → the entries. Such a match
    is ambiguous too: the figures do not tell the teams apart."""
    claims: dict[str, list[str]] = {}
    for entry, block in blocks.items():
        if block and block.get("matched_by") == "figures":
            claims.setdefault(block["name"], []).append(entry)
    return {row: entries for row, entries in claims.items() if len(entries) > 1}


def disambiguate(blocks: dict[str, dict[str, Any] | None], of: str) -> list[str]:
    """Each row matched by figures to more than one of ``blocks`` (entry name → its block, entries of ``of``) made
    ambiguous in every such block, in place, as a row whose figures match several rows is; the entries so marked."""
    marked = []
    for row_name, claimants in claimed_twice(blocks).items():
        for entry in claimants:
            blocks[entry].update({"matched_by": None, "name": None, "match": None, "candidates": [row_name],
                                  "explanation": f"ambiguous: {len(claimants)} entries of {of} have the figures of "
                                                 f"{row_name}"})
            marked.append(entry)
    return marked


def verdict(block: dict[str, Any] | None) -> str:
    """The summary's match column: ``= 4/4 (by id)``, ``≠ flops 9.8338 (published 9.8339): why``, or why none."""
    if not block:
        return "-"
    if block["name"] is None:
        candidates = block.get("candidates") or []
        return f"ambiguous: its figures equal {' and '.join(candidates)}" if candidates else "not published"
    figures = block["figures"]
    how = block.get("matched_by")
    by = f" (by {how}{': ' + block['name'] if how == 'figures' else ''})" if how else ""
    wrong = [f"{k} {f['ours']:.{f['decimals']}f} (published {f['published']:.{f['decimals']}f})"
             for k, f in figures.items() if not f["match"] and isinstance(f["ours"], (int, float))]
    wrong += [f"{k} n/a" for k, f in figures.items() if not isinstance(f["ours"], (int, float))]
    if not wrong:
        return f"= {len(figures)}/{len(figures)}{by}"
    return "≠ " + "; ".join(wrong) + by + (f": {block['explanation']}" if block.get("explanation") else "")
