"""One row per measured entry of the atlas, from the sweeps' results files: its quality on every set, every
complexity counter, its runtime as a ratio to the reference network timed beside it, and the figures its year's
organizers published beside them (matched by name, id or figures, compared at the printed precision, the published
runtime put on the reference year's scale through bridge networks where one joins the years)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.core.errors import one_line, shown
from benchmark.measure.paired import no_interval_reason, paired_ratio
from benchmark.organizer.plan import network_label, recorded_team, team_label
from benchmark.organizer.published import compare, disambiguate
from benchmark.rank.bridges import Scale, scale
from benchmark.rank.publications import PUBLISHED, Row, shipped
from benchmark.record.checks import why_not_a_count, why_not_a_figure, why_not_an_interval, why_not_pairs
from benchmark.record.store import read_results
from benchmark.web.inputs import read_failures

COUNTERS = {"flops_fvcore": "fvcore_flops", "flops_hooks": "flops", "macs_ptflops": "ptflops_macs"}
"""Each FLOP counter's column and its exact count in a record's ``complexity`` (divided by 1e9: G)."""


@dataclass(frozen=True)
class Swept:
    """One sweep's results file and what it swept: a repository of ``year``, or a network given as a file."""

    results: Path
    year: int | None
    source: str
    """The repository's folder name, or ``--model``."""
    mine: bool = False
    """The network given with ``--model``: the one placed among the others."""
    teams: tuple[int, ...] | None = None
    """The repository's team ids now (None: not known): an entry of a team no longer there is left out."""
    chosen: tuple[int, ...] | None = None
    """The teams the atlas was asked for (``--model_id``; None: every one): the others' entries and failures, kept in
    the file from an earlier build, are left out of this one."""
    network: str | None = None
    """The ``--model`` network's results name: the file's entries of networks given in earlier builds are left out."""


@dataclass
class Atlas:
    """Every row, every team that could not run, and where each came from."""

    sets: list[str]
    reference_year: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    scales: dict[int, Scale] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    """One line per value of a results file that is not what the atlas reads (shown n/a) and per entry left out."""


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _figure(record: dict[str, Any], key: str, problems: list[str], label: str = "", *, count: bool = False,
            signed: bool = False) -> float | None:
    """``record[key]`` as the atlas reads it: None where absent or null (not measured); a value that is not a finite
    number ≥ 0 (a ``count``: a whole one, of either sign if ``signed``; ``checks.why_not_a_count``) is None too, and
    one line in ``problems`` (``label``: the key's path)."""
    value = record.get(key)
    if value is None:
        return None
    why = why_not_a_count(value, signed=signed) if count else why_not_a_figure(value)
    if why is not None:
        problems.append(f"{label or key} is {why}")
        return None
    return int(value) if count else float(value)


def _object(entry: dict[str, Any], key: str, problems: list[str]) -> dict[str, Any]:
    value = entry.get(key)
    if value is not None and not isinstance(value, dict):
        problems.append(f"{key} is {shown(value)}, not an object")
    return value if isinstance(value, dict) else {}


def reference_ratio(entry: dict[str, Any], sets: list[str], problems: list[str] | None = None
                    ) -> tuple[float | None, list[float] | None, str | None]:
    """The runtime ratio to the reference over every set the entry was timed on beside it (the sum of the model's
    set means over the reference's, as the organizers average splits), its bootstrap 95% interval, and why a ratio
    has none (too few pairs: ``measure.paired.MIN_PAIRS``, and what to run). Paired times that are not (a hand-edited
    file) are a line in ``problems``, and no ratio is made of the other sets alone."""
    pairs = [entry.get(f"{s}_reference_pairs") for s in sets]
    bad = [(s, why) for s, p in zip(sets, pairs) if p is not None and (why := why_not_pairs(p)) is not None]
    if bad:
        if problems is not None:
            problems += [f"{s}_reference_pairs is {why}" for s, why in bad]
        return None, None, None
    pairs = [p for p in pairs if isinstance(p, dict) and p.get("model") and p.get("baseline")]
    if not pairs:
        return None, None, None
    estimate = paired_ratio([p["model"] for p in pairs], [p["baseline"] for p in pairs])
    if estimate.interval is not None:
        return estimate.ratio, list(estimate.interval), None
    runs = min(len(p["model"]) for p in pairs)
    return estimate.ratio, None, no_interval_reason(estimate.pairs, runs, estimate.pairs // max(runs, 1))


def reference_ms(year: int) -> float | None:
    """The published mean runtime of ``year``'s baseline (the reference network) on that year's GPU."""
    row = next((r for r in shipped(year) if r.primary and r.team_id == 0), None)
    return None if row is None else _number(row.reported.get("ave_t"))


def _published(entry: dict[str, Any], rows: list[Row], year: int, scales: dict[int, Scale],
               reference: float | None) -> dict[str, Any]:
    """The entry's ``published`` block, with its published runtime on the reference year's scale and, divided by the
    reference's published runtime, the published counterpart of the ratio measured here."""
    sweep = entry.get("sweep") if isinstance(entry.get("sweep"), dict) else {}
    team_id = sweep.get("team_id") if sweep.get("source") == "challenge" else None
    block = compare(entry, rows, str(sweep.get("name_as_written") or ""), team_id, PUBLISHED / f"ntire{year}.toml")
    scaled = scales[year].convert(_number(block["reported"].get("ave_t"))) if year in scales else None
    block["ave_t_on_reference_scale"] = scaled
    block["ratio_on_reference_scale"] = None if scaled is None or not reference else scaled / reference
    return block


def _text(record: dict[str, Any], key: str, problems: list[str], label: str = "") -> str | None:
    value = record.get(key)
    if value is not None and not isinstance(value, str):
        problems.append(f"{label or key} is {shown(value)}, not text")
        return None
    return value


def _interval(entry: dict[str, Any], key: str, problems: list[str]) -> list[float] | None:
    value = entry.get(key)
    if value is None:
        return None
    why = why_not_an_interval(value)
    if why is None:
        return [float(v) for v in value]
    problems.append(f"{key} is {why}, not an interval of two figures")
    return None


def entry_row(name: str, entry: dict[str, Any], swept: Swept, sets: list[str], published: list[Row],
              scales: dict[int, Scale], reference: float | None = None, problems: list[str] | None = None
              ) -> dict[str, Any]:
    """The atlas row of one results entry; each value that is not what the row reads (a hand-edited file) is n/a
    and one line in ``problems``."""
    problems = [] if problems is None else problems
    year = int(_figure(entry, "year", problems, count=True) or swept.year or 0)
    sweep = _object(entry, "sweep", problems)
    complexity = _object(entry, "complexity", problems)
    environment = _object(entry, "environment", problems)
    ratio, interval, no_interval = reference_ratio(entry, sets, problems)
    identity = next((entry[f"{s}_reference"] for s in sets if isinstance(entry.get(f"{s}_reference"), dict)), None)
    counters = {column: _figure(complexity, key, problems, f"complexity.{key}") for column, key in COUNTERS.items()}
    row: dict[str, Any] = {
        "year": year, "source": swept.source,
        "team_id": None if swept.mine else _figure(sweep, "team_id", problems, "sweep.team_id", count=True,
                                                   signed=True),
        "model": name, "mine": swept.mine, "dry_run": bool(entry.get("dry_run")),
        "device": _text(environment, "device_name", problems, "environment.device_name"),
        "psnr": {s: _figure(entry, f"{s}_ave_psnr", problems) for s in sets},
        "ssim": {s: _figure(entry, f"{s}_ave_ssim", problems) for s in sets},
        "params": _figure(entry, "num_parameters", problems),
        **{column: None if count is None else count / 1e9 for column, count in counters.items()},
        "flops_counter": _text(entry, "flops_counter", problems),
        "activations": _figure(entry, "activations", problems),
        "conv": _figure(entry, "num_conv", problems, count=True),
        "ratio": ratio, "ratio_ci95": interval, "ratio_ci95_why": no_interval,
        "ratio_sets": {s: {"ratio": _figure(entry, f"{s}_reference_ratio", problems),
                           "ci95": _interval(entry, f"{s}_reference_ratio_ci95", problems)} for s in sets},
        "reference": None if identity is None else _text(identity, "name", problems, "reference.name"),
        "published": _published(entry, published, year, scales, reference) if published and not swept.mine
        else None,
        "sweep_wall_seconds": _figure(sweep, "wall_seconds", problems, "sweep.wall_seconds"),
    }
    row["team"] = team_name(row["published"], published)
    return row


def team_name(block: dict[str, Any] | None, published: list[Row]) -> str | None:
    """The team's name, where the published row matched names a team (Table 1 of 2024); None where it names the model
    (2026's results.json), where none matched, and for a network given as a file."""
    matched = (block or {}).get("name")
    return next((r.team_name for r in published if r.primary and r.team == matched), None) if matched else None


def _failures(swept: Swept) -> list[dict[str, Any]]:
    """The sweep's failed teams this build asked for: the chosen teams (all without ``--model_id``), or this build's
    ``--model`` network (the failure of a network given in an earlier build stays in the file, out of the atlas)."""
    wanted = ({network_label(swept.network)} if swept.network is not None else
              None if swept.chosen is None else {team_label(i) for i in swept.chosen})
    return [{"year": swept.year, "source": swept.source, "label": f.label, "reason": f.reason}
            for f in sorted(read_failures(swept.results), key=lambda f: f.label) if wanted is None or f.label in wanted]


def _left_out(name: str, team: int | None, swept: Swept, failed: set[str]) -> str | None:
    """Why an entry of the file is not this atlas's (None: it is)."""
    if swept.teams is not None and team is not None and team not in swept.teams:
        return f"team {team} is not in {swept.source} any more"
    if swept.network is not None and name != swept.network:
        return f"not the --model network of this build ({swept.network}) but an earlier one"
    label = network_label(name) if swept.mine else None if team is None else team_label(team)
    if label in failed:  # a failure is cleared when the team runs: this entry is older than it
        return "its latest run failed (the line of its failure is in the atlas), so this entry is an earlier run's"
    return None


def build(sweeps: list[Swept], sets: list[str], reference_year: int) -> Atlas:
    """The atlas of ``sweeps``: a row per entry (a CPU dry run's and a GPU run's alike), a line per failed team."""
    atlas = Atlas(sets, reference_year)
    years = sorted({s.year for s in sweeps if s.year is not None} | {reference_year})
    atlas.scales = {year: scale(year, reference_year) for year in years}
    for swept in sweeps:
        entries = read_results(swept.results) if swept.results.is_file() else {}
        published = shipped(swept.year) if swept.year is not None else []
        failures = _failures(swept)
        failed = {f["label"] for f in failures}
        for name, entry in sorted(entries.items()):  # by name, not by when each team last ran: one order per atlas
            where = f"{swept.results}: model {one_line(name)}"  # a hand-edited key: no terminal codes
            team = recorded_team(entry.get("sweep"))
            if swept.chosen is not None and team not in swept.chosen:
                continue  # not asked for this time: no warning, its entry stays in the file
            gone = _left_out(name, team, swept, failed)
            if gone:
                atlas.warnings.append(f"warning: {where}: {gone}; left out of the atlas (its entry stays in the file)")
                continue
            problems: list[str] = []
            atlas.rows.append(entry_row(name, entry, swept, sets, published, atlas.scales,
                                        reference_ms(reference_year), problems))
            atlas.warnings += [f"warning: {where}: {line}; n/a in the atlas" for line in problems]
        atlas.failures += failures
    for year in years:
        blocks = {f"{r['source']}/{r['model']}": r["published"] for r in atlas.rows if r["year"] == year}
        marked = set(disambiguate(blocks, str(year)))
        for row in atlas.rows:
            if f"{row['source']}/{row['model']}" in marked:
                row["team"] = None
    return atlas
