"""Build the site: read the inputs, rank each year, write every page into a fresh folder beside ``--out``, and
move it in place only when complete, so that a failed build leaves ``--out`` as it was.

``--out`` is replaced whole, so it must be new, empty, or a site built before (its marker names
``benchmark.site``: :func:`benchmark.core.files.out_folder`), and must hold none of the inputs: anything else is
refused before any work, never emptied. Time and memory grow linearly with the models (a page each, a progress bar
on a terminal).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from benchmark.core.errors import one_line
from benchmark.core.files import OutFolder, out_folder, results_and_companions
from benchmark.core.years import get_year
from benchmark.web import across, atlas, board, crops, team
from benchmark.web.inputs import Standing, main_standing, read_sources, standing
from benchmark.web.markup import ASSETS, STATIC, TEAMS, Pages, esc, notes, page

MADE_BY = "benchmark.site"
"""What a site's marker names (compare and the sweep write the same site with ``--site``)."""


@dataclass(frozen=True)
class SiteInputs:
    """What ``python -m benchmark.site`` is given (``--site`` on compare and the sweep fill in the same)."""

    results: list[Path]
    year: int
    table: Path | None = None
    baseline: str | None = None
    psnr_rounded: bool = False
    data: list[Path] = field(default_factory=list)
    atlas: Path | None = None
    """``atlas.json`` (``python -m benchmark.atlas``): the across-years page then holds every entry of every year."""


@dataclass(frozen=True)
class Built:
    """A written site: where, how many pages, files and bytes (small enough to attach to a report?), and one
    warning line per value of the records shown as n/a."""

    out: Path
    pages: int
    files: int
    size: int
    warnings: list[str] = field(default_factory=list)

    def report(self) -> str:
        """The site's line, after printing each warning on stderr (one line each, whatever a value holds)."""
        for warning in self.warnings:
            print(one_line(warning), file=sys.stderr)
        return f"site: {self.out}/index.html ({self.pages} pages, {self.files} files, {self.size / 1024:.0f} KiB)"


def site_folder(out: Path, flag: str, results: Iterable[Path], table: Path | None = None, data: Iterable[Path] = (),
                others: Iterable[tuple[str, Path]] = ()) -> OutFolder:
    """``out`` checked as the site's folder before any work (:func:`benchmark.core.files.out_folder`): none of
    the inputs (the results files and what lies beside them, the table, ``--data``) nor ``others`` (label, path:
    what the command also reads or writes) may lie in it."""
    read = [("--results" if p == path else "what is kept beside --results,", p)
            for path in results for p in results_and_companions(path)]
    read += [("--table", table)] if table is not None else []
    read += [("--data", p) for p in data]
    return out_folder(out, flag, MADE_BY, "choose a new or empty folder for the site", [*read, *others])


def _index(main: Standing, pages: Pages, others: list[str]) -> str:
    record = get_year(main.year)
    parts = []
    if main.ranking is None:
        parts.append(f"<p>No model of NTIRE {main.year} was measured: every team below failed.</p>")
    else:
        parts.append(f'<p class="subtitle">{esc(main.ranking.title)}</p>')
        if "score" not in main.ranking.board and record.ranking == "exp-score":
            parts.append(f'<p class="failed">Not ranked: every score is relative to the baseline '
                         f"{esc(record.baseline)}, which is not among the models measured; figures and the PSNR "
                         "verdict only.</p>")
        parts.append(board.table(main, pages))
        lines = list(main.ranking.notes)
        if "device" in main.ranking.board and main.ranking.board["device"].isna().all():
            lines.append(f"Device n/a: the file does not name it; the {record.label} organizers measured on their "
                         f"GPU of record, the {record.gpu}")
        parts.append(notes(lines + others))
    if main.failures:
        parts += [f"<h2>Not measured ({len(main.failures)})</h2>", board.failures_table(main, pages)]
    return "".join(parts)


def _progress(console: Console) -> Progress:
    """The bar of pages written, on a terminal only (a log gets the outcome's line), gone when the site is done."""
    return Progress(TextColumn("[bold]site[/bold] {task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=not console.is_terminal,
                    transient=True)


def _write_pages(folder: Path, inputs: SiteInputs, main: Standing, standings: dict[int, Standing],
                 progress: Progress, atlas_document: dict | None = None) -> int:
    """Every page and asset of the site into ``folder`` (the atlas's entries on the across-years page, if given),
    each page counted on ``progress``; returns the number of pages."""
    models = list(main.ranking.board["team"].astype(str)) if main.ranking is not None else []
    pages = Pages.of(models, {f.label: f.title for f in main.failures})
    sources = [s.path for st in standings.values() for s in st.sources]
    task = progress.add_task("pages", total=3 + len(pages.models) + len(main.failures))
    (folder / TEAMS).mkdir(exist_ok=True)

    def write(path: str, title: str, heading: str, body: str) -> None:
        root = "../" if path.startswith(f"{TEAMS}/") else ""
        (folder / path).write_text(page(title, heading, body, root=root, sources=sources), encoding="utf-8",
                                   errors="replace")
        progress.advance(task)

    year = get_year(main.year).label
    write("index.html", f"{year} ESR leaderboard", f"{year} Efficient SR leaderboard",
          _index(main, pages, across.other_years(standings, main.year)))
    write("years.html", "NTIRE ESR across years", "The years side by side", across.body(standings, main.year, pages)
          + (atlas.section(atlas_document, pages, main.year) if atlas_document else ""))
    write("plots.html", f"{year} trade-offs", f"{year}: PSNR against cost",
          board.plots(main, pages) if main.ranking is not None else "<p>No model was measured.</p>")
    stems = {team_name: Path(href).stem for team_name, href in pages.models.items()}
    visual = crops.write(main, inputs.data, folder, stems) if main.entries else {}
    rows = team.leaderboard_rows(main) if pages.models else {}
    for team_name, href in pages.models.items():
        write(href, *team.model_page(main, team_name, rows[team_name], visual.get(team_name, "")))
    for failure in main.failures:
        write(pages.failures[failure.label], *team.failure_page(failure))
    for asset in STATIC:
        (folder / asset).write_bytes((ASSETS / asset).read_bytes())
    return 3 + len(pages.models) + len(main.failures)


def build_site(inputs: SiteInputs, out: OutFolder, console: Console | None = None) -> Built:
    """The whole site from ``inputs`` at ``out`` (checked by :func:`site_folder` before any other work), written
    only when complete; a bar on ``console`` (default: stderr) counts the pages."""
    sources = read_sources(inputs.results, inputs.table, inputs.year)
    atlas_document, atlas_warnings = atlas.read(inputs.atlas) if inputs.atlas is not None else (None, [])
    main = main_standing(sources, inputs.year, baseline=inputs.baseline, psnr_rounded=inputs.psnr_rounded)
    standings = {inputs.year: main}
    standings.update({y: standing(sources, y) for y in sorted({s.year for s in sources} - {inputs.year})})
    with _progress(console or Console(stderr=True)) as progress, out.building() as folder:
        count = _write_pages(folder, inputs, main, standings, progress, atlas_document)
    files = [p for p in out.real.rglob("*") if p.is_file()]
    return Built(out.path, count, len(files), sum(p.stat().st_size for p in files),
                 [*(line for source in sources for line in source.warnings), *atlas_warnings])
