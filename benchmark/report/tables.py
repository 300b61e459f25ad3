"""Views of the measured figures: rich tables for the console, and the factsheet's Table 1 beside the published one.

Nothing here measures anything: every function takes the plain data that ``complexity.measure``
or the results file holds and returns a table to print; the exports at the end write the same views
to files (the leaderboard of ``benchmark.compare``, the factsheet's Table 1 in LaTeX).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from benchmark.measure.complexity import COUNTERS, fold_indices, record_counters
from benchmark.record.keys import ordered_splits
from benchmark.report.noise import runtime_table
from benchmark.report.results_txt import format_cell

PUBLISHED_TABLE1: dict[str, dict[str, float]] = {
    # Table 1 of the FRL Team 05 (SRneXt) factsheet, NTIRE 2023 ESR: the team's own RTX 3090.
    "factsheet": {"psnr_val": 29.02, "psnr_test": 27.02, "params_m": 0.2445, "flops_g": 15.376,
                  "mem_m": 448.6826, "activations_m": 422.903, "runtime_ms": 91.16, "conv": 158},
    # The organizers' row for the same model in the NTIRE 2023 ESR report (their GPU and protocol).
    "organizers": {"psnr_val": 29.02, "psnr_test": 27.02, "params_m": 0.245, "flops_g": 15.37,
                   "mem_m": 355.94, "activations_m": 422.90, "runtime_ms": 282.42, "conv": 158},
}
"""The published figures that ``--reproduce-table1`` compares against (model 05_SRneXt)."""


def _g(value: int | float) -> str:
    return f"{value / 1e9:.4f}"


def complexity_table(name: str, figures: dict[str, Any], counter: str) -> Table:
    """The three counters side by side for one model; ``counter`` (hooks or fvcore) is the year's figure of record."""
    shape = "×".join(str(d) for d in figures["input_shape"])
    table = Table(title=escape(f"{name}: complexity at 1×{shape}"), title_justify="left")
    for column in ("counter", "FLOPs/MACs [G]", "activations [M]", "conv", "params [M]", ""):
        table.add_column(escape(column), justify="left" if column in ("counter", "") else "right")
    params = f"{figures['params'] / 1e6:.6f}"
    for c in COUNTERS.values():  # activations and conv count come from the hook pass
        hooks = c.key == "hooks"
        table.add_row(c.label, _g(figures[c.field]), f"{figures['activations'] / 1e6:.6f}" if hooks else "",
                      str(figures["conv"]) if hooks else "", params, "figure of record" if c.key == counter else "")
    return table


def unseen_table(figures: dict[str, Any], limit: int = 8) -> Table | None:
    """Functional convolutions and matmuls the hook counter misses (the cause of most disagreements)."""
    rows = [u for u in figures["unseen"] if u["macs"]]
    if not rows:
        return None
    table = Table(title="MACs the official hook counter does not see", title_justify="left")
    for column in ("operator", "inside module", "calls", "MACs [G]"):
        table.add_column(escape(column), justify="right" if column in ("calls", "MACs [G]") else "left")
    for u in rows[:limit]:
        table.add_row(u["op"], escape(u["module"]), str(u["calls"]), _g(u["macs"]))
    return table


def layers_table(figures: dict[str, Any], limit: int = 10) -> Table:
    """The module calls with the most official MACs, and any flagged by the official Linear rule."""
    rows = sorted(figures["layers"], key=lambda r: -r["macs"])[:limit]
    rows += [r for r in figures["layers"] if r["note"] and r not in rows]
    table = Table(title=f"Largest layers (official hook counter, {len(figures['layers'])} counted calls)",
                  title_justify="left")
    for column in ("module", "type", "output", "MACs [G]", "share", "note"):
        table.add_column(escape(column), justify="right" if column in ("MACs [G]", "share") else "left")
    for r in rows:
        table.add_row(escape(r["name"]), r["type"], "×".join(map(str, r["output_shape"])), _g(r["macs"]),
                      f"{r['share']:.1%}", escape(r["note"]))
    return table


def _memory_label(entries: list[dict[str, Any]], splits: list[str]) -> str:
    kinds = {e.get(f"{s}_memory_kind") for e in entries for s in splits} - {None}
    return "CPU peak RSS [MiB]" if kinds == {"cpu_peak_rss"} else "GPU Mem. [MiB]"


def _runtime_label(entries: list[dict[str, Any]], splits: list[str]) -> str:
    """``Runtime [ms, <device>, mean of <splits>]``: what the figure averages, and where it was timed."""
    return f"Runtime [ms, {_measured_on(entries)}, mean of {', '.join(splits) or 'no split'}]"


def _psnr_header(split: str) -> str:
    return {"valid": "PSNR[val]", "test": "PSNR[test]", "hybrid_test": "PSNR[test]"}.get(split, f"PSNR[{split}]")


def _whole(value: Any) -> Any:
    """A count written as a float (``36.0``) as the int it is, so that it prints as a count."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def factsheet_row(entry: dict[str, Any], splits: list[str]) -> dict[str, Any]:
    """One model's Table 1 figures: PSNR per split, complexity, worst-split memory, mean of split runtimes.

    ``flops_g`` is the entry's figure of record (its year's counter, ``counter``); ``by_counter`` holds every
    counter's figure [G] where the entry has it.
    """
    runtimes = [entry[f"{s}_ave_runtime"] for s in splits if entry.get(f"{s}_ave_runtime") is not None]
    memory = [entry[f"{s}_memory"] for s in splits if entry.get(f"{s}_memory") is not None]
    complexity = entry.get("complexity", {})
    return {
        "psnr": {s: entry.get(f"{s}_ave_psnr") for s in splits},
        "ssim": {s: entry.get(f"{s}_ave_ssim") for s in splits},
        "params_m": entry.get("num_parameters"),
        "flops_g": entry.get("flops"),
        "counter": entry.get("flops_counter", "hooks"),
        "by_counter": {c.key: complexity[c.field] / 1e9 if c.field in complexity else None for c in COUNTERS.values()},
        "mem_m": max(memory) if memory else None,
        "activations_m": entry.get("activations"),
        "runtime_ms": sum(runtimes) / len(runtimes) if runtimes else None,
        "conv": _whole(entry.get("num_conv")),
        "variant": entry.get("variant", "faithful"),
        "checkpoint": entry.get("checkpoint"),
    }


def _table(title: str, headers: list[str], rows: list[list[str]]) -> Table:
    """A rich table whose cells are never cut: each column is at least as wide as its widest cell, headers fold."""
    table = Table(title=escape(title), title_justify="left")
    for i, header in enumerate(headers):
        width = max((len(row[i]) for row in rows), default=1)
        table.add_column(escape(header), justify="left" if i == 0 else "right", min_width=width, overflow="fold")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table


def _measured_on(entries: list[dict[str, Any]]) -> str:
    """The device(s) the entries were timed on, as a header names them: ``AMD EPYC … (CPU, wall clock)``."""
    names = []
    for entry in entries:
        env = entry.get("environment") if isinstance(entry.get("environment"), dict) else {}
        name = env.get("device_name") or "unknown device"
        names.append(f"{name} (CPU, wall clock)" if str(env.get("device", "")).startswith("cpu") else name)
    return "; ".join(dict.fromkeys(names)) or "unknown device"


def factsheet_table(results: dict[str, dict[str, Any]], splits: list[str] | None = None) -> Group:
    """Table 1 of the factsheet, one row per model, as two tables (quality per split, then efficiency) so that
    no cell is ever cut on a narrow console; both FLOPs counters, the figure of record marked; then each split's
    runtime with its spread (``report.noise.runtime_table``).

    ``splits`` (default: every recorded split) are the splits shown and the ones the runtime averages; splits
    recorded by earlier runs of the same record and left out are named in a note."""
    entries = list(results.values())
    recorded = ordered_splits(entries)
    splits = recorded if splits is None else [s for s in recorded if s in splits]
    hidden = [s for s in recorded if s not in splits]
    with_ssim = [s for s in splits if any(e.get(f"{s}_ave_ssim") is not None for e in entries)]
    quality, efficiency, unscored = [], [], []
    for name, entry in results.items():
        row = factsheet_row(entry, splits)
        if row["checkpoint"] is None:
            unscored.append(name)
        quality.append([name, *[format_cell(row["psnr"][s], ".2f") for s in splits],
                        *[format_cell(row["ssim"][s], ".4f") for s in with_ssim]])
        timed = f" ({row['variant']})" if row["variant"] != "faithful" else ""
        flops = [format_cell(row["by_counter"][c], ".3f") + ("*" if row["counter"] == c else "") for c in record_counters()]
        efficiency.append([name, format_cell(row["params_m"], ".4f"), *flops,
                           format_cell(row["mem_m"], ".2f"), format_cell(row["activations_m"], ".3f"),
                           format_cell(row["runtime_ms"], ".2f") + timed, format_cell(row["conv"], "d")])
    headers = ["Model", *[_psnr_header(s) for s in splits], *[_psnr_header(s).replace("PSNR", "SSIM") for s in with_ssim]]
    notes = ["* the FLOPs figure of record of the model's year (official hooks in 2023, fvcore from 2024); "
             "FLOPs and activations at a 256×256 input"]
    if unscored:
        notes.append(f"PSNR n/a: no checkpoint for {', '.join(unscored)} (timed and profiled with random weights)")
    if hidden:
        notes.append(f"also recorded for these models by earlier runs with the same identity, not shown: "
                     f"{', '.join(hidden)} (test_demo.py --all-splits shows every recorded split)")
    return Group(
        _table("Factsheet Table 1: quality", headers, quality),
        _table("Factsheet Table 1: efficiency", ["Model", "Params[M]", *(f"FLOPs[G] {c}" for c in record_counters()),
                                                 _memory_label(entries, splits), "Activation[M]",
                                                 _runtime_label(entries, splits), "Conv2d"], efficiency),
        Text("\n".join(notes)), runtime_table(results, splits, _measured_on(entries)))


def table1_comparison(entry: dict[str, Any]) -> Group:
    """SRneXt's measured Table 1 beside the factsheet and the organizers' row, with why each differs."""
    splits = ordered_splits([entry])
    row = factsheet_row(entry, splits)
    on_cpu = entry.get("environment", {}).get("device", "cpu").startswith("cpu")
    test_split = "test" if "test" in splits else "hybrid_test"
    # Functional convolutions called by the network itself, outside any module: SRneXt's two mean shifts.
    unseen = sum(u["macs"] for u in entry["complexity"].get("unseen", []) if u["module"].startswith("model ("))
    measured = {
        "psnr_val": row["psnr"].get("valid"),
        "psnr_test": row["psnr"].get(test_split),
        "params_m": row["params_m"],
        "flops_g": row["flops_g"],
        "mem_m": row["mem_m"],
        "activations_m": row["activations_m"],
        "runtime_ms": row["runtime_ms"],
        "conv": row["conv"],
    }
    no_data = "needs the official data: --data_dir with DIV2K_valid / --include_test (--hybrid_test for 2023's test)"
    reasons = {
        "psnr_val": no_data if measured["psnr_val"] is None else "same images, same official PSNR: differences are round-off",
        "psnr_test": no_data if measured["psnr_test"] is None else "same images, same official PSNR: differences are round-off",
        "params_m": "the factsheet cuts 244,558 to four decimals (0.2445); the organizers round to three",
        "flops_g": (f"official hooks miss the two functional mean-shift 1×1 convs; hooks + those {unseen:,} MACs = "
                    f"{(entry['complexity']['flops'] + unseen) / 1e9:.4f} G, the factsheet's figure"
                    if unseen else "official hook counter; functional convolutions are not counted"),
        "mem_m": ("CPU peak RSS of the whole process, not comparable with a GPU's max_memory_allocated" if on_cpu
                  else "depends on the GPU, the allocator and the largest test image; the organizers measured on their GPU"),
        "activations_m": "same counter, same module tree",
        "runtime_ms": ("CPU timing; the published figures are GPU runtimes (factsheet: RTX 3090; organizers: their GPU, "
                       "cold first image)" if on_cpu else
                       "depends on the GPU (factsheet: RTX 3090) and the protocol (warm-up, synchronisation, cold start)"),
        "conv": "same counter, same module tree (26 layers × 6 + head + tail)",
    }
    labels = {"psnr_val": "PSNR[val]", "psnr_test": "PSNR[test]", "params_m": "Params[M]", "flops_g": "FLOPs[G]",
              "mem_m": "CPU peak RSS [MiB]" if on_cpu else "GPU Mem.[M]", "activations_m": "Activation[M]",
              "runtime_ms": "Average Runtime[ms]" + (" (CPU)" if on_cpu else ""), "conv": "Conv2d"}
    formats = {"psnr_val": ".2f", "psnr_test": ".2f", "params_m": ".6f", "flops_g": ".4f", "mem_m": ".2f",
               "activations_m": ".6f", "runtime_ms": ".2f", "conv": "d"}
    table = Table(title="Table 1 of the SRneXt factsheet, reproduced", title_justify="left")
    for column in ("figure", "measured", "factsheet", "Δ factsheet", "organizers", "Δ organizers", "note"):
        table.add_column(escape(column), justify="left" if column == "figure" else "right")
    notes = []
    for index, (key, label) in enumerate(labels.items(), start=1):
        value, spec = measured[key], formats[key]
        cells = [escape(label), format_cell(value, spec)]
        for source in ("factsheet", "organizers"):
            published = PUBLISHED_TABLE1[source][key]
            cells += [format(published, spec if spec != ".6f" else ".4f"),
                      "" if value is None else format(value - published, "+.4g")]
        table.add_row(*cells, escape(f"[{index}]"))
        notes.append(f"[{index}] {label}: {reasons[key]}")
    return Group(table, Text("\n".join(notes)))


def profile_view(name: str, result: dict[str, Any], top_ops: int = 8) -> Group:
    """``profile.profile_model``'s data as tables: time per module (repeated layers folded), top ops, host work."""
    folded: dict[tuple[str, str], dict[str, Any]] = {}
    for row in result["modules"]:
        if 0 < row["depth"] <= 3:
            entry = folded.setdefault((fold_indices(row["module"]), row["type"]), {"calls": 0, "ms": 0.0, "share": 0.0})
            entry["calls"] += row["calls"]
            entry["ms"] += row["ms"]
            entry["share"] += row["share"]
    shape = "×".join(map(str, result["input_shape"]))
    modules = Table(title=escape(f"{name}: forward time by module, 1×{shape} on {result['device']} "
                                 f"({result['wall_ms']:.1f} ms wall, profiled)"), title_justify="left")
    for column in ("module", "type", "calls", "ms", "share"):
        modules.add_column(column, justify="left" if column in ("module", "type") else "right")
    for (path, type_name), row in folded.items():
        if row["share"] >= 0.005:
            modules.add_row(escape(path), type_name, str(row["calls"]), f"{row['ms']:.2f}", f"{row['share']:.1%}")
    ops = Table(title="Operators by self time", title_justify="left")
    for column in ("operator", "in module", "calls", "self ms", "share"):
        ops.add_column(column, justify="left" if column in ("operator", "in module") else "right")
    for row in result["ops"][:top_ops]:
        ops.add_row(row["op"], escape(row["module"] or "(model)"), str(row["calls"]), f"{row['self_ms']:.2f}",
                    f"{row['share']:.1%}")
    if not result["host_work"]:
        return Group(modules, ops, Text("host-side work inside forward: none"))
    host = Table(title="Host-side work inside forward (build it once, as a buffer, outside forward)",
                 title_justify="left")
    for column in ("kind", "operator", "module", "per forward", "source"):
        host.add_column(column, justify="right" if column == "per forward" else "left")
    for row in result["host_work"]:
        host.add_row(row["kind"], row["op"], escape(row["module"] or "(model)"), str(row["calls"]),
                     escape(row["source"]))
    return Group(modules, ops, host)


def frame_table(frame: pd.DataFrame, title: str) -> Table:
    """A benchmark's DataFrame as a rich table: floats to three decimals, everything else as text."""
    table = Table(title=escape(title), title_justify="left")
    for column in frame.columns:
        table.add_column(escape(column), justify="right" if frame[column].dtype.kind == "f" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:.3f}" if isinstance(v, float) else escape(str(v)) for v in row))
    return table
