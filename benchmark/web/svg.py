"""Plots as SVG text: the PSNR trade-off scatter (Pareto frontier, PSNR floor, a named link per point) and a
runtime histogram. Plain SVG inline in the page: it scales with the screen, and a point's ``<title>`` names it
even without the script, which shows the name beside the pointer on hover.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

from benchmark.web.markup import esc

WIDTH, HEIGHT = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 64, 18, 18, 48
COLOURS = {"baseline": "#b3261e", "ranked": "#1f5fa8", "unranked": "#9aa3ad", "mine": "#111111"}
"""A point's fill: the baseline, a ranked model, a model that is not ranked (below a floor, or no baseline), the
network being placed among the others (the atlas's ``--model``)."""
ON_TOP = ("baseline", "mine")
"""Kinds drawn last and larger, so that no other point hides them."""


@dataclass(frozen=True)
class Point:
    name: str
    x: float
    y: float
    href: str
    kind: str
    """One of ``COLOURS``."""
    fill: str | None = None
    """A colour of its own (the atlas colours points by year) instead of its kind's."""
    ringed: bool = False
    """Drawn on top inside a dark ring (the atlas's winner of each year)."""


def pareto(points: list[Point]) -> list[Point]:
    """The points no other point beats on both axes, by increasing x: lower x and higher y are better."""
    frontier: list[Point] = []
    for point in sorted(points, key=lambda p: (p.x, -p.y)):
        if not frontier or point.y > frontier[-1].y:
            frontier.append(point)
    return frontier


def _nice(span: float) -> float:
    """A round step (1, 2 or 5 × 10^k) that cuts ``span`` into about six parts."""
    raw = span / 6 if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= raw)


def _linear_ticks(low: float, high: float, integer: bool) -> list[float]:
    step = max(_nice(high - low), 1.0) if integer else _nice(high - low)
    first = math.ceil(low / step) * step
    ticks = [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]
    return [0.0 if abs(t) < step * 1e-6 else t for t in ticks]  # no 1.4e-17 where the step crosses zero


def _log_ticks(low: float, high: float) -> list[tuple[float, str]]:
    """(position, label) at 1, 2 and 5 × 10^k between the positions ``low`` and ``high`` (log10 of the values);
    at powers of ten only, every n-th, when the axis spans more than six of them."""
    first, last = max(math.floor(low), -307), min(math.ceil(high), 308)  # only ticks a float can hold
    every = math.ceil((last - first) / 6)
    ticks = []
    for power in range(first, last + 1):
        for m in (1, 2, 5) if every == 1 else (1,) if power % every == 0 else ():
            position, value = power + math.log10(m), m * 10.0 ** power
            if low <= position <= high and math.isfinite(value):
                ticks.append((position, _label(value)))
    return ticks


def _label(value: float) -> str:
    return f"{value:g}"


def _span_label(value: float) -> str:
    """A bar's edge in its tooltip: two decimals, or three significant digits for a figure too large for them."""
    return f"{value:.2f}" if abs(value) < 1e9 else f"{value:.3g}"


class _Axis:
    """Maps data to pixels along one axis, linear or logarithmic, with a margin around the data.

    Positions are computed where no figure a file may hold overflows (up to 1.8e308): log10 of the value on a
    logarithmic axis, the value over a power of ten on a linear axis of large figures."""

    def __init__(self, values: list[float], start: float, end: float, log: bool, integer: bool = False) -> None:
        self.log, self.start, self.end, self.integer = log, start, end, integer
        largest = max(abs(v) for v in values)
        self.unit = 1.0 if log or largest < 1e12 else 10.0 ** math.floor(math.log10(largest))
        self.fit(self.position(min(values)), self.position(max(values)))

    def fit(self, low: float, high: float) -> None:
        """Span the positions ``low`` to ``high``, with a margin."""
        pad = (high - low) * 0.08 or (abs(low) * 0.05 or 1.0)
        self.low, self.high = low - pad, high + pad

    def position(self, value: float) -> float:
        return math.log10(value) if self.log else value / self.unit

    def value(self, position: float) -> float:
        """The figure at ``position`` (the largest float where it lies beyond)."""
        if self.log:
            return 10.0 ** position if position < 308 else sys.float_info.max
        return min(position * self.unit, sys.float_info.max)

    def place(self, position: float) -> float:
        return self.start + (position - self.low) / (self.high - self.low) * (self.end - self.start)

    def __call__(self, value: float) -> float:
        return self.place(self.position(value))

    def ticks(self) -> list[tuple[float, str]]:
        """(pixel, label) of each tick."""
        if self.log:
            return [(self.place(position), label) for position, label in _log_ticks(self.low, self.high)]
        return [(self.place(t), _label(t * self.unit)) for t in _linear_ticks(self.low, self.high, self.integer)
                if math.isfinite(t * self.unit)]


def _open(title: str) -> str:
    """An SVG element that scales with the page, named for screen readers and on hover."""
    return (f'<svg class="plot" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc(title)}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{esc(title)}</title>')


def _frame(x: _Axis, y: _Axis, x_label: str, y_label: str) -> list[str]:
    """Grid lines, tick labels and axis titles."""
    parts = []
    for px, label in x.ticks():
        parts.append(f'<line class="grid" x1="{px:.1f}" y1="{TOP}" x2="{px:.1f}" y2="{HEIGHT - BOTTOM}"/>'
                     f'<text x="{px:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{esc(label)}</text>')
    for py, label in y.ticks():
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{py:.1f}" x2="{WIDTH - RIGHT}" y2="{py:.1f}"/>'
                     f'<text x="{LEFT - 6}" y="{py + 4:.1f}" text-anchor="end">{esc(label)}</text>')
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" '
                 'fill="none" stroke="#b8c0c8"/>')
    parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 10}" text-anchor="middle">{esc(x_label)}</text>')
    parts.append(f'<text transform="translate(16 {(TOP + HEIGHT - BOTTOM) / 2}) rotate(-90)" '
                 f'text-anchor="middle">{esc(y_label)}</text>')
    return parts


def scatter(points: list[Point], x_label: str, y_label: str, floor: float | None, title: str) -> str:
    """PSNR (y) against a cost (x): each point a link to its model's page named on hover, the Pareto frontier as a
    staircase, the PSNR floor as a dashed line. The x axis is logarithmic when the costs span more than 10×."""
    xs = [p.x for p in points]
    log = min(xs) > 0 and max(xs) / min(xs) > 10
    x = _Axis(xs, LEFT, WIDTH - RIGHT, log)
    y = _Axis([p.y for p in points] + ([floor] if floor is not None else []), HEIGHT - BOTTOM, TOP, False)
    parts = [_open(title)]
    parts += _frame(x, y, x_label + (" (log scale)" if log else ""), y_label)
    if floor is not None:
        py = y(floor)
        parts.append(f'<line class="floor" x1="{LEFT}" y1="{py:.1f}" x2="{WIDTH - RIGHT}" y2="{py:.1f}"/>'
                     f'<text x="{WIDTH - RIGHT - 4}" y="{py - 4:.1f}" text-anchor="end">floor {floor:.2f} dB</text>')
    frontier = pareto(points)
    steps = []
    for i, p in enumerate(frontier):
        steps.append(f"{x(p.x):.1f},{y(p.y):.1f}")
        if i + 1 < len(frontier):
            steps.append(f"{x(frontier[i + 1].x):.1f},{y(p.y):.1f}")
    parts.append(f'<polyline class="frontier" points="{" ".join(steps)}"><title>Pareto frontier</title></polyline>')
    for p in sorted(points, key=lambda p: (p.kind in ON_TOP, p.ringed)):  # the baseline drawn last, on top
        big = p.kind in ON_TOP or p.ringed
        parts.append(f'<a href="{esc(p.href)}" data-name="{esc(p.name)}" aria-label="{esc(p.name)}">'
                     f'<title>{esc(p.name)}</title><circle class="point{" ringed" if p.ringed else ""}" '
                     f'cx="{x(p.x):.1f}" cy="{y(p.y):.1f}" r="{6 if big else 5}" '
                     f'fill="{esc(p.fill or COLOURS[p.kind])}"/></a>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(values: list[float], x_label: str, title: str, bins: int = 24) -> str:
    """How many values fall in each of ``bins`` ranges (per-image runtimes of one split): equal ranges, or equal
    ratios on a logarithmic axis when the values span more than 10× (a cold first image far above the others)."""
    log = min(values) > 0 and max(values) / min(values) > 10
    x = _Axis(values, LEFT, WIDTH - RIGHT, log)
    low, high = x.position(min(values)), x.position(max(values))
    width = (high - low) / bins or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(int((x.position(v) - low) / width), bins - 1)] += 1
    edges = [low + i * width for i in range(bins + 1)]
    x.fit(edges[0], edges[-1])  # the bars' span (24 units wide when every value is the same)
    y = _Axis([0, max(counts)], HEIGHT - BOTTOM, TOP, False, integer=True)
    y.low = 0.0  # bars stand on zero
    parts = [_open(title)]
    parts += _frame(x, y, x_label + (" (log scale)" if log else ""), "images")
    for count, left, right in zip(counts, edges, edges[1:]):
        if count:
            top = y(count)
            parts.append(f'<rect x="{x.place(left):.1f}" y="{top:.1f}" '
                         f'width="{max(x.place(right) - x.place(left) - 1, 1):.1f}" height="{y(0) - top:.1f}" '
                         f'fill="#1f5fa8"><title>{count} image(s), {_span_label(x.value(left))}–'
                         f'{_span_label(x.value(right))}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)
