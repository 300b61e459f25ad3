"""The atlas as files: ``atlas.json`` (everything, for the site and for scripts), ``atlas.csv`` (one flat row per
entry, for pandas) and ``atlas.tex`` (chosen entries in the style of the factsheet's Table 1, every set)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.core.files import locked, write_atomic
from benchmark.report.leaderboard import csv_text, latex_text

FILES = ("atlas.json", "atlas.csv", "atlas.tex")
"""What the atlas writes into its folder beside the sweeps' results files."""
PUBLISHED_COLUMNS = {"name": "published_team", "matched_by": "published_matched_by", "match": "published_match"}
REPORTED_COLUMNS = {"val_psnr": "published_val_psnr", "test_psnr": "published_test_psnr", "ave_t": "published_ave_ms",
                    "gpu": "published_gpu"}
FIGURE_COLUMNS = {"num_parameters": "published_params", "flops": "published_flops",
                  "activations": "published_activations", "num_conv": "published_conv"}


def write(out: Path, texts: dict[str, str]) -> None:
    """The atlas's files, each made before any is written (never one new beside two stale), written under one lock:
    two builds into one folder at once leave one build's three files, not a mix of both."""
    with locked(out / FILES[0]):
        for name, text in texts.items():
            write_atomic(out / name, text)


def flat(row: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    """One CSV row: every figure in its own column (PSNR and SSIM per set, the ratio's interval, the published)."""
    out = {k: row[k] for k in ("year", "source", "team_id", "team", "model", "mine", "dry_run", "device", "params",
                               "flops_fvcore", "flops_hooks", "macs_ptflops", "flops_counter", "activations", "conv")}
    for s in sets:
        out[f"psnr_{s}"], out[f"ssim_{s}"] = row["psnr"].get(s), row["ssim"].get(s)
    low, high = row["ratio_ci95"] or (None, None)
    out.update({"ratio": row["ratio"], "ratio_ci95_low": low, "ratio_ci95_high": high, "reference": row["reference"]})
    block = row["published"] or {}
    out.update({column: block.get(key) for key, column in PUBLISHED_COLUMNS.items()})
    out.update({column: (block.get("reported") or {}).get(key) for key, column in REPORTED_COLUMNS.items()})
    out.update({column: ((block.get("figures") or {}).get(key) or {}).get("published")
                for key, column in FIGURE_COLUMNS.items()})
    out["published_ave_ms_on_reference_scale"] = block.get("ave_t_on_reference_scale")
    out["published_ratio"] = block.get("ratio_on_reference_scale")
    out["published_explanation"] = block.get("explanation")
    return out


INTEGERS = ("year", "team_id", "conv", "published_conv")
"""Whole numbers, kept whole where a row has none (pandas would make the column float)."""


def frame(rows: list[dict[str, Any]], sets: list[str]) -> pd.DataFrame:
    table = pd.DataFrame([flat(row, sets) for row in rows])
    for column in INTEGERS:
        if column in table:
            table[column] = table[column].astype("Int64")
    return table


def _clean(value: Any) -> Any:
    """JSON without NaN: a float that is not finite is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def json_text(atlas: dict[str, Any]) -> str:
    return json.dumps(_clean(atlas), indent=1, ensure_ascii=False) + "\n"


def table_csv(rows: list[dict[str, Any]], sets: list[str]) -> str:
    """``atlas.csv``; a name a spreadsheet would run as a formula is text (``report.leaderboard.csv_text``)."""
    return csv_text(frame(rows, sets))


def chosen(rows: list[dict[str, Any]], names: list[str] | None, winners: list[dict[str, Any]],
           baselines: dict[int, str]) -> list[dict[str, Any]]:
    """The rows of the LaTeX table: ``names`` (models, as the atlas names them), else each year's baseline and
    winner and every network given as a file."""
    if names:
        return [r for r in rows if r["model"] in names]
    won = {(w["year"], w.get("model")) for w in winners}
    return [r for r in rows if r["mine"] or (r["year"], r["model"]) in won or baselines.get(r["year"]) == r["model"]]


def unknown(rows: list[dict[str, Any]], names: list[str] | None) -> list[str]:
    """A warning line for the ``--latex`` names that no entry has (a typo would leave the table silently short)."""
    missing = [n for n in dict.fromkeys(names or []) if n not in {r["model"] for r in rows}]
    return [f"warning: --latex {', '.join(missing)}: no entry of the atlas has that name, so atlas.tex leaves it out "
            "(the names are atlas.csv's model column)"] if missing else []


def _cell(value: Any, spec: str) -> str:
    return "--" if not isinstance(value, (int, float)) or isinstance(value, bool) else format(value, spec)


def latex(rows: list[dict[str, Any]], sets: list[str], reference: str, device: str) -> str:
    """Table 1 style: the method (the entry's model name, as atlas.csv names it), its team where the published table
    names one (else --), year, params, FLOPs, runtime ratio to the reference, PSNR / SSIM on every set."""
    records = []
    for row in sorted(rows, key=lambda r: (r["year"], r["model"])):
        cells = {"Method": row["model"], "Team": row["team"] or "--", "Year": str(row["year"]),
                 "Params [M]": _cell(row["params"], ".3f"), "FLOPs [G]": _cell(row["flops_fvcore"], ".2f"),
                 f"Runtime [x {reference}]": _cell(row["ratio"], ".2f")}
        for s in sets:
            psnr, ssim = row["psnr"].get(s), row["ssim"].get(s)
            cells[s] = f"{_cell(psnr, '.2f')} / {_cell(ssim, '.4f')}" if ssim is not None else _cell(psnr, ".2f")
        records.append(cells)
    table = pd.DataFrame(records, columns=["Method", "Team", "Year", "Params [M]", "FLOPs [G]",
                                           f"Runtime [x {reference}]", *sets])  # the header even where none is chosen
    styler = table.style.hide(axis="index").format(escape="latex").format_index(escape="latex", axis=1)
    # a row's first cell right after \\ or \midrule: a name starting with [ would be read as their optional argument
    styler = styler.format(lambda text: "{}" + text if text.startswith("[") else text, escape="latex",
                           subset=["Method"])
    caption = (f"PSNR [dB] / SSIM on each set (RGB, border 4); params and FLOPs (fvcore) at a 256x256 input; "
               f"runtime as a ratio to {reference} timed beside each model, image by image, on {device}; team: as "
               f"the year's published table names it, where it names teams")
    return styler.to_latex(column_format="ll" + "r" * (len(table.columns) - 2), hrules=True, position="t",
                           position_float="centering", caption=latex_text(caption), label="tab:atlas")
