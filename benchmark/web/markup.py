"""HTML pieces of the site: escaping, safe file names for team pages, the page frame and plain tables.

Team names, paths, reasons and log lines come from users' files and are untrusted: every one passes through
:func:`esc` (``html.escape`` with quotes) before it reaches a page, and names are set in ``<bdi>`` so that
right-to-left text cannot reorder what surrounds it. Nothing is ever written into a script.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

ASSETS = resources.files("benchmark.web") / "assets"
STATIC = ("site.css", "site.js", "favicon.svg")
"""The assets copied beside the pages, referenced relatively so that the site works from ``file://``."""
_PAGE = Template((ASSETS / "page.html").read_text(encoding="utf-8"))
TEAMS = "teams"
"""The folder of the pages of every model and failed team."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
"""Names Windows refuses as files whatever their extension: a site may be unpacked there."""
_STEM_LIMIT = 80


def esc(value: object) -> str:
    """``value`` as HTML text: ``&``, ``<``, ``>`` and both quotes escaped (safe in text and in attributes)."""
    return html.escape(str(value), quote=True)


def name(value: object) -> str:
    """A team or model name as HTML: escaped, and isolated from the text around it (``<bdi>``)."""
    return f"<bdi>{esc(value)}</bdi>"


def link(href: str, text_html: str, **attrs: str) -> str:
    """``<a href>`` around already-escaped ``text_html``; ``href`` and the attributes are escaped here."""
    extra = "".join(f' {key.replace("_", "-")}="{esc(value)}"' for key, value in attrs.items())
    return f'<a href="{esc(href)}"{extra}>{text_html}</a>'


def file_stem(text: str) -> str:
    """``text`` as a file name's stem: ASCII letters, digits, ``.``, ``_``, ``-`` only (every other run becomes
    ``_``), no dot, ``_`` or ``-`` at either end, never a name Windows reserves, at most 80 characters; ``model``
    when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    stem = _UNSAFE.sub("_", ascii_text)[:_STEM_LIMIT].strip("._-") or "model"
    return f"_{stem}" if stem.split(".")[0].lower() in _RESERVED else stem


def unique_stems(names: Iterable[str]) -> list[str]:
    """Each name's :func:`file_stem`, in order, made unique without regard to case (``-2``, ``-3`` …), since a
    site may be copied to a file system that does not tell ``A.html`` from ``a.html``."""
    taken: set[str] = set()
    stems = []
    for text in names:
        base = stem = file_stem(text)
        number = 1
        while stem.lower() in taken:
            number += 1
            stem = f"{base}-{number}"
        taken.add(stem.lower())
        stems.append(stem)
    return stems


@dataclass(frozen=True)
class Pages:
    """Where each model's and each failed team's page lies, relative to the site's root (``teams/<stem>.html``)."""

    models: dict[str, str]
    failures: dict[str, str]
    """A failed team's label in the failures file → its page."""

    @classmethod
    def of(cls, models: list[str], failures: dict[str, str]) -> Pages:
        """Pages for ``models`` and for ``failures`` (label → title), every file name safe and unique."""
        stems = unique_stems([*models, *failures.values()])
        hrefs = [f"{TEAMS}/{stem}.html" for stem in stems]
        return cls(dict(zip(models, hrefs)), dict(zip(failures, hrefs[len(models):])))


def page(title: str, heading_html: str, body: str, *, root: str, sources: list[Path]) -> str:
    """A whole page in the site's frame; ``root`` is the way back to the site's root (``""`` or ``"../"``)."""
    listed = ", ".join(f"<code>{esc(path)}</code>" for path in sources)
    return _PAGE.substitute(title=esc(title), heading=heading_html, body=body, root=root, sources=listed)


def facts(rows: Iterable[tuple[str, str]], caption: str = "") -> str:
    """A two-column table of already-escaped ``(label, value)`` pairs."""
    body = "".join(f"<tr><th scope=\"row\">{label}</th><td>{value}</td></tr>" for label, value in rows)
    head = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f'<div class="scroll"><table class="facts">{head}<tbody>{body}</tbody></table></div>'


def grid(headers: list[str], rows: Iterable[list[str]], text: tuple[int, ...] = ()) -> str:
    """A table of already-escaped cells under escaped ``headers``: the first column and the columns ``text`` (by
    index) left-aligned, the figures right-aligned."""
    head = "".join(f'<th scope="col" class="text">{esc(h)}</th>' if i in text else f'<th scope="col">{esc(h)}</th>'
                   for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="text">{cell}</td>' if i in text else f"<td>{cell}</td>"
                                    for i, cell in enumerate(row)) + "</tr>" for row in rows)
    return f'<div class="scroll"><table class="wide"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def notes(lines: Iterable[str]) -> str:
    """Notes as a list, each escaped."""
    items = "".join(f"<li>{esc(line)}</li>" for line in lines)
    return f'<ul class="notes">{items}</ul>' if items else ""
