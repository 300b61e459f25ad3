"""The atlas on the "Across years" page (``python -m benchmark.atlas --site``): every entry of every year in one
sortable, filterable table (quality on every set, every complexity counter, the runtime ratio to the one reference
network with its interval, the published figures and whether they match), PSNR against each cost with the Pareto
front across all years and the points coloured by year, each year's published winner, where a network of your own
stands, and every team that could not run with its one line.

Built from ``atlas.json`` as ``benchmark.atlas`` writes it; every name and reason in it comes from team code or
users' files and is escaped (:func:`benchmark.web.markup.esc`).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from benchmark.core.errors import HarnessError, shown
from benchmark.core.files import json_of
from benchmark.rank.board import clean_name
from benchmark.record.checks import why_not_a_figure, why_not_an_interval
from benchmark.web import svg
from benchmark.web.markup import Pages, esc, grid, link, name, notes
from benchmark.web.values import COUNT, FIGURE, TEAM_ID, TEXT, Fields, Items, Leaf, Schema, clean

YEAR_COLOURS = {2023: "#8c510a", 2024: "#1f5fa8", 2025: "#e08214", 2026: "#c2185b"}
"""Each year's colour on the plots and in the table (none green: the Pareto front is); a year not listed is grey."""
OTHER = "#9aa3ad"
COSTS = {"ratio": "runtime [× {reference}, {device}]", "flops_fvcore": "FLOPs [G, fvcore]", "params": "params [M]"}


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else shown(value)


def _matches(value: Any) -> str | None:
    return None if isinstance(value, dict) and all(isinstance(f, dict) for f in value.values()) else shown(value)


def _row(sets: list[str]) -> Fields:
    """What the page reads of a row (``benchmark.atlas.rows``)."""
    per_set = Fields({s: FIGURE for s in sets}, "an object of set → figure", na={})
    reported = Fields({"val_psnr": FIGURE, "test_psnr": FIGURE, "ave_t": FIGURE, "gpu": TEXT},
                      "the published figures", na={})
    published = Fields({"name": TEXT, "matched_by": TEXT, "explanation": TEXT, "candidates": Items(TEXT, "names"),
                        "reported": reported, "figures": Leaf(_matches, "an object of figure → its match"),
                        "ave_t_on_reference_scale": FIGURE, "ratio_on_reference_scale": FIGURE},
                       "the published block")
    return Fields({"year": COUNT, "source": TEXT, "model": TEXT, "team": TEXT, "mine": Leaf(_flag, "true or false"),
                   "psnr": per_set, "ssim": per_set, "conv": COUNT,
                   "ratio_ci95": Leaf(why_not_an_interval, "[low, high]"), "ratio_ci95_why": TEXT,
                   **{k: FIGURE for k in ("params", "flops_fvcore", "flops_hooks", "macs_ptflops", "activations",
                                          "ratio")}, "published": published}, "an object")


PARTS: dict[str, tuple[Schema, tuple[str, ...]]] = {
    "failures": (Fields({"year": COUNT, "source": TEXT, "label": TEXT, "reason": TEXT}, "an object"),
                 ("source", "label", "reason")),
    "winners": (Fields({"year": COUNT, "team": TEXT, "team_id": TEAM_ID, "model": TEXT,
                        "why": TEXT}, "an object"), ("year", "why")),
    "verdicts": (Fields({"line": TEXT}, "an object"), ("line",)),
    "bridges": (Fields({"network": TEXT, "why": TEXT, "ms": Leaf(lambda v: None if isinstance(v, dict) and all(
        why_not_a_figure(x) is None for x in v.values()) else shown(v), "an object of year → ms")}, "an object"),
                ("network", "why", "ms")),
}
"""The lists beside the rows: each item's schema and the keys without which it is left out."""


def read(path: Path) -> tuple[dict[str, Any], list[str]]:
    """``atlas.json`` as the page reads it, and a warning line per value shown n/a or item left out (a hand-edited
    file: a value that is not what the page reads); a HarnessError (one line) when it is not an atlas at all."""
    def refuse(why: str) -> HarnessError:
        return HarnessError(f"--atlas {path}: {why}; build it with python -m benchmark.atlas")

    try:
        document = json_of(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise refuse(f"not a readable atlas ({err})") from None
    meta = document.get("atlas") if isinstance(document, dict) else None
    if not isinstance(meta, dict) or not isinstance(document.get("rows"), list):
        raise refuse("not an atlas.json (no atlas and rows)")
    reference = meta.get("reference")
    if not isinstance(meta.get("sets"), list) or not all(isinstance(s, str) for s in meta["sets"]) or \
            not isinstance(reference, dict) or not isinstance(reference.get("name"), str):
        raise refuse("its atlas block has no list of sets or no reference name")
    problems: list[tuple[str, str, str]] = []
    kept = {"rows": (_row(meta["sets"]), ("year", "source", "model")), **PARTS}
    lines = []
    for part, (schema, needed) in kept.items():
        items = document.get(part) if isinstance(document.get(part), list) else []
        document[part] = []
        for i, item in enumerate(items):
            item = clean(item, schema, f"{part}[{i}]", problems)
            missing = [k for k in needed if not isinstance(item, dict) or item.get(k) is None]
            if missing:
                lines.append(f"warning: --atlas {path}: {part}[{i}] has no {', '.join(missing)}; left out of the site")
            else:
                document[part].append(item)
    scales = document.get("scales") if isinstance(document.get("scales"), dict) else {}
    document["scales"] = {y: s for y, s in scales.items() if isinstance(s, dict) and isinstance(s.get("why"), str)
                          and (s.get("factor") is None or why_not_a_figure(s["factor"]) is None)}
    meta["devices"] = [d for d in meta.get("devices") or [] if isinstance(d, str)] \
        if isinstance(meta.get("devices"), list) else []
    return document, [f"warning: --atlas {path}: {key} is {why}, not {kind}; shown as n/a on the site"
                      for key, why, kind in problems] + lines


def _fmt(value: Any, spec: str) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return "n/a"
    return format(value, spec)


def _sort(value: Any) -> str:
    return repr(float(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) else ""


def _anchor(index: int) -> str:
    return f"atlas-{index}"


def _colour(year: Any) -> str:
    return YEAR_COLOURS.get(year, OTHER)


def _match(block: dict[str, Any] | None) -> tuple[str, str]:
    """The match cell: its text and its title (what was matched, how, why a figure differs)."""
    if not block:
        return "–", "no published figures (a network given as a file)"
    if block.get("name") is None:
        candidates = block.get("candidates") or []
        return ("ambiguous", "figures equal " + " and ".join(map(str, candidates))) if candidates else \
            ("not published", "no published row for this team")
    figures = block.get("figures") or {}
    how = f"by {block.get('matched_by')}: {block['name']}"
    if block.get("match") is True:
        return f"= {len(figures)}/{len(figures)}", how
    wrong = [k for k, f in figures.items() if isinstance(f, dict) and not f.get("match")]
    return f"≠ {', '.join(wrong)}", f"{how}; {block.get('explanation') or ''}"


def _columns(sets: list[str], reference: str) -> list[tuple[str, str, str]]:
    """(key, header, type) of every column, in order."""
    cols = [("model", "Entry", "text"), ("year", "Year", "num"), ("team", "Team (published)", "text")]
    for s in sets:
        cols += [(f"psnr_{s}", f"PSNR {s}", "num"), (f"ssim_{s}", f"SSIM {s}", "num")]
    cols += [("params", "Params [M]", "num"), ("flops_fvcore", "FLOPs fvcore [G]", "num"),
             ("flops_hooks", "FLOPs hooks [G]", "num"), ("macs_ptflops", "MACs ptflops [G]", "num"),
             ("activations", "Acts [M]", "num"), ("conv", "Conv", "num"),
             ("ratio", f"Runtime [× {reference}]", "num"), ("ratio_ci95", "95% interval", "text"),
             ("published_params", "Params published", "num"), ("published_flops", "FLOPs published", "num"),
             ("published_psnr", "PSNR published (val / test)", "text"),
             ("published_ms", "Runtime published [ms]", "num"), ("published_scaled", "… on the reference scale", "num"),
             ("published_ratio", f"… [× {reference}]", "num"),
             ("match", "Published match", "text")]
    return cols


def _cells(row: dict[str, Any], sets: list[str]) -> dict[str, tuple[str, str]]:
    """Column key → (cell HTML, data-sort)."""
    block = row.get("published") or {}
    reported = block.get("reported") or {}
    figures = block.get("figures") or {}
    low, high = row.get("ratio_ci95") or (None, None)
    cells = {"year": (f'<span class="swatch" style="background:{_colour(row["year"])}"></span>{esc(row["year"])}',
                      _sort(row["year"])),
             "team": (name(row["team"]) if row.get("team") else "–", str(row.get("team") or ""))}
    for s in sets:
        cells[f"psnr_{s}"] = (_fmt(row["psnr"].get(s), ".2f"), _sort(row["psnr"].get(s)))
        cells[f"ssim_{s}"] = (_fmt(row["ssim"].get(s), ".4f"), _sort(row["ssim"].get(s)))
    for key, spec in (("params", ".4f"), ("flops_fvcore", ".3f"), ("flops_hooks", ".3f"), ("macs_ptflops", ".3f"),
                      ("activations", ".2f"), ("conv", "d"), ("ratio", ".3f")):
        cells[key] = (_fmt(row.get(key), spec), _sort(row.get(key)))
    why = row.get("ratio_ci95_why")
    cells["ratio_ci95"] = (f"{_fmt(low, '.3f')}–{_fmt(high, '.3f')}" if low is not None else
                           f'<span title="{esc(why)}">n/a</span>' if why else "n/a", "")
    for key, figure, spec in (("published_params", "num_parameters", ".3f"), ("published_flops", "flops", ".2f")):
        value = (figures.get(figure) or {}).get("published")
        cells[key] = (_fmt(value, spec), _sort(value))
    psnr = [reported.get("val_psnr"), reported.get("test_psnr")]
    cells["published_psnr"] = (" / ".join(_fmt(v, ".2f") for v in psnr) if any(psnr) else "n/a", "")
    gpu = f" ({esc(reported['gpu'])})" if reported.get("gpu") else ""
    cells["published_ms"] = (_fmt(reported.get("ave_t"), ".2f") + (gpu if reported.get("ave_t") else ""),
                             _sort(reported.get("ave_t")))
    for key, figure, spec in (("published_scaled", "ave_t_on_reference_scale", ".2f"),
                              ("published_ratio", "ratio_on_reference_scale", ".3f")):
        cells[key] = (_fmt(block.get(figure), spec), _sort(block.get(figure)))
    text, title = _match(row.get("published"))
    cells["match"] = (f'<span title="{esc(title)}">{esc(text)}</span>', text)
    return cells


def _entry(row: dict[str, Any], pages: Pages, main_year: int) -> str:
    """The entry's name, linked to its model page where the site has one (the leaderboard's year)."""
    own = row["year"] == main_year and not row.get("mine")
    href = pages.models.get(clean_name(row["model"])) if own else None
    label = name(row["model"]) + (' <span class="tag">yours</span>' if row.get("mine") else "")
    return link(href, label, title=row["model"]) if href else label


def table(document: dict[str, Any], pages: Pages, main_year: int) -> str:
    """Every entry, sortable by any column and filterable by entry, team, year or repository."""
    sets = document["atlas"]["sets"]
    reference = document["atlas"]["reference"]["name"]
    cols = _columns(sets, reference)
    head = "".join(f'<th scope="col" data-key="{esc(k)}" data-type="{t}"><button type="button">{esc(h)}</button></th>'
                   for k, h, t in cols)
    body = []
    for i, row in enumerate(document["rows"]):
        cells = _cells(row, sets)
        tds = [f'<td class="team" data-sort="{esc(row["model"])}">{_entry(row, pages, main_year)}</td>']
        tds += [f'<td data-sort="{esc(cells[k][1])}">{cells[k][0]}</td>' for k, _, _ in cols[1:]]
        search = " ".join(str(v) for v in (row["model"], row.get("team") or "", row["year"], row["source"]))
        body.append(f'<tr id="{_anchor(i)}" class="{"mine" if row.get("mine") else ""}" data-team="{esc(row["model"])}"'
                    f' data-filter="{esc(search)}">{"".join(tds)}</tr>')
    count = len(body)
    return (f'<div class="filter"><label>Filter <input type="search" data-filter="atlas" placeholder="entry, team, '
            f'year or repository" aria-label="filter the atlas"></label><span class="count" data-count="atlas">'
            f'{count} of {count} shown</span></div><div class="scroll"><table id="atlas" class="board sortable">'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _point(index: int, row: dict[str, Any], x: float, y: float, first: bool) -> svg.Point:
    """A row on a plot: in its year's colour (black: a network given as a file), ringed where it won its year."""
    if row.get("mine"):
        return svg.Point(row["model"], x, y, f"#{_anchor(index)}", "mine")
    return svg.Point(row["model"] + (f" (first in {row['year']})" if first else ""), x, y, f"#{_anchor(index)}",
                     "ranked", _colour(row["year"]), ringed=first)


def plots(document: dict[str, Any]) -> str:
    """PSNR on each set against each cost, every year's points in its colour, each year's winner ringed, the front
    across all years."""
    meta = document["atlas"]
    won = {(w["year"], w["model"]) for w in document.get("winners", []) if w.get("model")}
    device = ", ".join(meta.get("devices") or []) or "this machine"
    figures = []
    for s in meta["sets"]:
        for cost, label in COSTS.items():
            shown = [(i, r) for i, r in enumerate(document["rows"]) if _sort(r.get(cost)) and r.get(cost) > 0
                     and _sort(r["psnr"].get(s))]
            if not shown:
                continue
            points = [_point(i, r, float(r[cost]), float(r["psnr"][s]), (r["year"], r["model"]) in won)
                      for i, r in shown]
            x_label = label.format(reference=meta["reference"]["name"], device=device)
            title = f"PSNR[{s}] [dB] against {x_label}"
            figures.append(f"<figure>{svg.scatter(points, x_label, f'PSNR[{s}] [dB]', None, title)}"
                           f"<figcaption>{esc(title)}: {len(points)} entries</figcaption></figure>")
    if not figures:
        return "<p>No entry has a PSNR: nothing to plot (a profile-only atlas has none).</p>"
    years = sorted({r["year"] for r in document["rows"]})
    legend = ", ".join(f'<span class="swatch" style="background:{_colour(y)}"></span>{esc(y)}' for y in years)
    return (f"<p>Colours: {legend}; black: a network given as a file; ringed: each year's published winner. Green "
            "staircase: the Pareto front across every year (no other entry both cheaper and better). Each point links "
            "to its row.</p>"
            f'<div class="plots">{"".join(figures)}</div>')


def winners(document: dict[str, Any]) -> str:
    rows = []
    for w in document.get("winners", []):
        at = next((i for i, r in enumerate(document["rows"])
                   if r["year"] == w["year"] and r["model"] == w.get("model")), None)
        failed = next((f for f in document.get("failures", []) if f["year"] == w["year"] and w.get("team_id") is not
                       None and re.fullmatch(r"-?[0-9]{1,18}", f["label"]) and int(f["label"]) == w["team_id"]), None)
        measured = link(f"#{_anchor(at)}", name(w["model"])) if at is not None else \
            f'could not run here: <span class="failed">{esc(failed["reason"])}</span>' if failed else \
            "not measured here"
        rows.append([esc(w["year"]), name(w["team"]) if w.get("team") else "none published",
                     measured if w.get("team") else "–", esc(w["why"])])
    return grid(["year", "first place", "its entry here", "from"], rows, text=(1, 2, 3)) if rows else ""


def failures(document: dict[str, Any]) -> str:
    rows = [[esc(f.get("year") or "–"), esc(f["source"]), esc(f["label"]), f'<span class="failed">{esc(f["reason"])}'
             "</span>"] for f in document.get("failures", [])]
    return grid(["year", "repository", "team", "why it could not run"], rows, text=(1, 2, 3)) if rows else \
        "<p>Every team ran.</p>"


def section(document: dict[str, Any], pages: Pages, main_year: int) -> str:
    """The atlas part of the across-years page."""
    meta = document["atlas"]
    devices = ", ".join(meta.get("devices") or []) or "no device"
    years = sorted({r["year"] for r in document["rows"]})
    year = meta["reference"].get("year")
    reference_year = f" (the {year} baseline)" if isinstance(year, int) and not isinstance(year, bool) else ""
    dry = " (CPU dry run: PSNR and complexity; runtime as the ratio only)" if meta.get("dry_run") else ""
    intro = (f"<p>{len(document['rows'])} entries of {', '.join(map(str, years)) or 'no year'} measured under one "
             f"protocol on {esc(devices)}{dry}, on {esc(', '.join(meta['sets']) or 'no data')}; runtime as the ratio to "
             f"{esc(meta['reference']['name'])}{reference_year} timed beside each "
             f"entry, image by image; {len(document.get('failures', []))} team(s) could not run.</p>")
    scales = [f"{y}: {s['why']}" + (f" (× {s['factor']:.4f})" if s.get("factor") not in (None, 1.0) else "")
              for y, s in sorted(document.get("scales", {}).items())]
    bridge_notes = [f"Bridge {b['network']}: " + ", ".join(f"{y} {ms:.2f} ms" for y, ms in b["ms"].items())
                    + f" ({b['why']})" for b in document.get("bridges", [])]
    verdicts = [v["line"] for v in document.get("verdicts", []) if v.get("line")]
    parts = ["<h2>The atlas</h2>", intro, "<h3>Each year's winner</h3>", winners(document),
             "<h3>Every entry</h3>", table(document, pages, main_year),
             notes(["Published runtimes are each year's organizers' GPU times; on the reference scale through "
                    "bridge networks where one joins the years:", *scales, *bridge_notes,
                    "Published match: each complexity figure ours against the published one at its printed "
                    "precision; hover it for the row matched (by name, id or its unique figures) and why a figure "
                    "differs."]),
             *(["<h3>Your network</h3>", notes(verdicts)] if verdicts else []),
             "<h3>PSNR against cost</h3>", plots(document),
             f"<h3>Could not run ({len(document.get('failures', []))})</h3>", failures(document)]
    return "".join(parts)
