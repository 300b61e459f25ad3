"""Build the site: read the inputs, rank each year, write every page into a fresh folder beside ``--out``, and
move it in place only when complete, so that a failed build leaves ``--out`` as it was.

``--out`` is replaced whole, so it must be new, empty, or a site this command built (it holds the marker file
:data:`MARKER`): a folder of anything else is refused, never emptied.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.core.errors import HarnessError
from benchmark.core.files import check_out_path, folder_beside, replace_folder
from benchmark.core.years import get_year
from benchmark.web import across, atlas, board, crops, team
from benchmark.web.inputs import Standing, main_standing, read_sources, standing
from benchmark.web.markup import ASSETS, STATIC, TEAMS, Pages, esc, notes, page

MARKER = ".benchmark-site"
"""The file that marks a folder as a site built here (and so one that a new build may replace)."""


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
    """A written site: where, how many pages, files and bytes (small enough to attach to a report?)."""

    out: Path
    pages: int
    files: int
    size: int

    def line(self) -> str:
        return f"site: {self.out}/index.html ({self.pages} pages, {self.files} files, {self.size / 1024:.0f} KiB)"


def check_out(out: Path, flag: str = "--out") -> None:
    """``out`` can take the site: new, an empty folder, or a site built before; a HarnessError naming ``flag``
    otherwise."""
    check_out_path(out, flag, "choose another folder for the site")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise HarnessError(f"{flag} {out}: a folder that is not a site built by benchmark.site (it would be "
                           "replaced whole); pass a new or empty folder")


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


def _write_pages(folder: Path, inputs: SiteInputs, main: Standing, standings: dict[int, Standing],
                 atlas_document: dict | None = None) -> int:
    """Every page and asset of the site into ``folder``; returns the number of pages."""
    models = list(main.ranking.board["team"].astype(str)) if main.ranking is not None else []
    pages = Pages.of(models, {f.label: f.title for f in main.failures})
    sources = [s.path for st in standings.values() for s in st.sources]
    year = get_year(main.year).label
    written: dict[str, tuple[str, str, str]] = {
        "index.html": (f"{year} ESR leaderboard", f"{year} Efficient SR leaderboard",
                       _index(main, pages, across.other_years(standings, main.year))),
        "years.html": ("NTIRE ESR across years", "The years side by side", across.body(standings, main.year, pages)
                       + (atlas.section(atlas_document, pages, main.year) if atlas_document else "")),
        "plots.html": (f"{year} trade-offs", f"{year}: PSNR against cost",
                       board.plots(main, pages) if main.ranking is not None else "<p>No model was measured.</p>"),
    }
    stems = {team_name: Path(href).stem for team_name, href in pages.models.items()}
    visual = crops.write(main, inputs.data, folder, stems) if main.entries else {}
    for team_name, href in pages.models.items():
        written[href] = team.model_page(main, team_name, visual.get(team_name, ""))
    for failure in main.failures:
        written[pages.failures[failure.label]] = team.failure_page(failure)
    (folder / TEAMS).mkdir(exist_ok=True)
    for path, (title, heading, body) in written.items():
        root = "../" if path.startswith(f"{TEAMS}/") else ""
        (folder / path).write_text(page(title, heading, body, root=root, sources=sources), encoding="utf-8",
                                   errors="replace")
    for asset in STATIC:
        (folder / asset).write_bytes((ASSETS / asset).read_bytes())
    (folder / MARKER).write_text("built by python -m benchmark.site; a new build replaces this folder whole\n")
    return len(written)


def build_site(inputs: SiteInputs, out: Path, flag: str = "--out") -> Built:
    """The whole site from ``inputs`` at ``out`` (``flag`` names ``out`` in errors), written only when complete."""
    check_out(out, flag)
    sources = read_sources(inputs.results, inputs.table, inputs.year)
    atlas_document = atlas.read(inputs.atlas) if inputs.atlas is not None else None
    main = main_standing(sources, inputs.year, baseline=inputs.baseline, psnr_rounded=inputs.psnr_rounded)
    standings = {inputs.year: main}
    standings.update({y: standing(sources, y) for y in sorted({s.year for s in sources} - {inputs.year})})
    created = [p for p in (out, *out.parents) if not p.exists()]
    tmp = folder_beside(out, flag, "building")
    try:
        count = _write_pages(tmp, inputs, main, standings, atlas_document)
        replace_folder(tmp, out)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if created[1:]:
            shutil.rmtree(created[-1], ignore_errors=True)
        if isinstance(err, OSError):
            raise HarnessError(f"{flag} {out}: cannot write the site ({err.strerror}); choose a writable folder "
                               "with free space") from None
        raise
    files = [p for p in out.rglob("*") if p.is_file()]
    return Built(out, count, len(files), sum(p.stat().st_size for p in files))
