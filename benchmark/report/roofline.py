"""The roofline of a forward as tables: each operator's time, rates and distance to the roof that bounds it."""

from __future__ import annotations

from typing import Any

import pandas as pd

from benchmark.report.results_txt import dash_cell as _cell


def roofline_frame(profile: dict[str, Any], by_module: bool = False, top: int | None = None) -> pd.DataFrame:
    """One line per operator (``by_module``: per operator and module), slowest first (the ``top`` slowest, and one
    line for the rest), and one for the time outside operators."""
    rows = profile["rows" if by_module else "operators"]
    shown, rest = (rows, []) if top is None else (rows[:top], rows[top:])
    out = [{"operator": r["op"], "module": r["module"] or "(model)", "calls": r["calls"], "ms": f"{r['ms']:.1f}",
            "share": f"{100 * r['share']:.1f}%", "GMAC/s": _cell(r["gmacs"], ".1f"), "GB/s": _cell(r["gbs"], ".1f"),
            "MAC/B": _cell(r["intensity"], ".1f"), "bound": r["bound"] or "–",
            "% of roof": _cell(None if r["of_roof"] is None else 100 * r["of_roof"], ".0f")} for r in shown]

    def summary(label: str, calls: int | str, ms: float) -> dict[str, Any]:
        blank = dict.fromkeys(("module", "GMAC/s", "GB/s", "MAC/B", "bound", "% of roof"), "")
        return {**blank, "operator": label, "calls": calls, "ms": f"{ms:.1f}",
                "share": f"{100 * ms / profile['wall_ms']:.1f}%"}

    if rest:
        out.append(summary(f"{len(rest)} more", sum(r["calls"] for r in rest), sum(r["ms"] for r in rest)))
    out.append(summary("outside operators (Python, dispatch, the timer)", "",
                       profile["wall_ms"] - profile["operators_ms"]))
    frame = pd.DataFrame(out)
    return frame if by_module else frame.drop(columns="module")


def roofline_title(profile: dict[str, Any], peaks: dict[str, Any]) -> str:
    """What the table is of, and the roofs it is set against."""
    compute, memory = peaks["compute"], peaks["memory"]
    ridge = f", ridge {compute / memory:.1f} MAC/B" if compute else ""
    return (f"{profile['model']} {profile['input']}, eager fp32, one forward operator by operator: "
            f"{profile['wall_ms']:.0f} ms, {profile['operators_ms']:.0f} ms in operators; roofs "
            f"{_cell(compute, '.1f')} GMAC/s and {memory:.1f} GB/s{ridge}")


def roofline_markdown(result: dict[str, Any]) -> str:
    """The ``--profile`` section of the matrix report: how it is measured, then one table per model and input."""
    profiles = result.get("profiles") or []
    if not profiles:
        return ""
    peaks = result["roofs"]
    lines = ["## Roofline (--profile)", "",
             "Each aten operator of one eager FP32 forward, timed as it runs, by operator, then by operator and module "
             "(layer indices folded). GMAC/s: its multiply-adds (PyTorch's formulas, a multiply-add counted once) over its time; "
             "GB/s: every distinct input read once and every output written once, over its time; MAC/B: the ratio "
             "of the two. Bound: the roof that caps it, compute (the FP32 peak above) where MAC/B × the memory "
             f"bandwidth ({peaks['memory']:.1f} GB/s: a copy of 256 MiB, read plus write, the better of a measurement "
             "before the first model and one after the last) "
             "exceeds it, memory otherwise; % of roof: its achieved rate over that roof. Data that stays in the "
             "caches can beat the memory roof.", ""]
    for profile in profiles:
        lines += [f"### {roofline_title(profile, peaks)}", "", roofline_frame(profile).to_markdown(index=False), "",
                  "By module:", "", roofline_frame(profile, by_module=True).to_markdown(index=False), ""]
    return "\n".join(lines)
