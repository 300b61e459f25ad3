"""Views of the measured figures: rich tables for the console, and the factsheet's Table 1 beside the published one.

Nothing here measures anything: every function takes the plain data that ``complexity.measure``
or the results file holds and returns a table to print.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

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


def complexity_table(name: str, figures: dict[str, Any]) -> Table:
    """The three counters side by side for one model, with what the hook counter does not see."""
    shape = "×".join(str(d) for d in figures["input_shape"])
    table = Table(title=escape(f"{name}: complexity at 1×{shape}"), title_justify="left")
    for column in ("counter", "FLOPs/MACs [G]", "activations [M]", "conv", "params [M]"):
        table.add_column(escape(column), justify="left" if column == "counter" else "right")
    params = f"{figures['params'] / 1e6:.6f}"
    table.add_row("official hooks (NTIRE 2022/2023)", _g(figures["flops"]), f"{figures['activations'] / 1e6:.6f}",
                  str(figures["conv"]), params)
    table.add_row("fvcore (NTIRE 2024/2025)", _g(figures["fvcore_flops"]), "", "", params)
    table.add_row("ptflops, aten backend", _g(figures["ptflops_macs"]), "", "", params)
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
    return "CPU peak RSS [MiB]" if kinds == {"cpu_peak_rss"} else "GPU Mem. [M]"


def _runtime_label(entries: list[dict[str, Any]]) -> str:
    devices = {e.get("environment", {}).get("device", "") for e in entries}
    return "Average Runtime [ms, CPU]" if devices and all(d.startswith("cpu") for d in devices) else "Average Runtime [ms]"


def table_splits(entries: list[dict[str, Any]]) -> list[str]:
    """The splits to show as PSNR columns: the official ones first, then the rest in run order."""
    seen: dict[str, None] = {}
    for entry in entries:
        for key in entry:
            if key.endswith("_ave_runtime"):
                seen[key.removesuffix("_ave_runtime")] = None
    official = [s for s in ("valid", "test", "hybrid_test") if s in seen]
    return official + [s for s in seen if s not in official]


def _psnr_header(split: str) -> str:
    return {"valid": "PSNR[val]", "test": "PSNR[test]", "hybrid_test": "PSNR[test]"}.get(split, f"PSNR[{split}]")


def factsheet_row(entry: dict[str, Any], splits: list[str]) -> dict[str, Any]:
    """One model's Table 1 figures: PSNR per split, complexity, worst-split memory, mean of split runtimes."""
    runtimes = [entry[f"{s}_ave_runtime"] for s in splits if f"{s}_ave_runtime" in entry]
    memory = [entry[f"{s}_memory"] for s in splits if f"{s}_memory" in entry]
    return {
        "psnr": {s: entry.get(f"{s}_ave_psnr") for s in splits},
        "params_m": entry.get("num_parameters"),
        "flops_g": entry.get("flops"),
        "fvcore_g": entry.get("complexity", {}).get("fvcore_flops", 0) / 1e9 or None,
        "mem_m": max(memory) if memory else None,
        "activations_m": entry.get("activations"),
        "runtime_ms": sum(runtimes) / len(runtimes) if runtimes else None,
        "conv": entry.get("num_conv"),
        "variant": entry.get("variant", "faithful"),
        "checkpoint": entry.get("checkpoint"),
    }


def _cell(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def factsheet_table(results: dict[str, dict[str, Any]]) -> Table:
    """Table 1 in the seed factsheet's layout, one row per model, official FLOPs with fvcore's beside them."""
    entries = list(results.values())
    splits = table_splits(entries)
    table = Table(title="Factsheet Table 1 (FLOPs and activations at 256×256 input)", title_justify="left")
    table.add_column("Model")
    for s in splits:
        table.add_column(escape(_psnr_header(s)), justify="right")
    for column in ("Params[M]", "FLOPs[G]", "FLOPs fvcore[G]", _memory_label(entries, splits), "Activation[M]",
                   _runtime_label(entries), "Conv2d"):
        table.add_column(escape(column), justify="right")
    unscored = []
    for name, entry in results.items():
        row = factsheet_row(entry, splits)
        if row["checkpoint"] is None:
            unscored.append(name)
        timed = f" ({row['variant']})" if row["variant"] != "faithful" else ""
        table.add_row(escape(name), *[_cell(row["psnr"][s], ".2f") for s in splits],
                      _cell(row["params_m"], ".4f"), _cell(row["flops_g"], ".3f"), _cell(row["fvcore_g"], ".3f"),
                      _cell(row["mem_m"], ".2f"), _cell(row["activations_m"], ".3f"),
                      _cell(row["runtime_ms"], ".2f") + timed, _cell(row["conv"], "d"))
    if unscored:
        table.caption = escape(f"PSNR n/a: no checkpoint in model_zoo/ for {', '.join(unscored)} "
                               "(timed and profiled with random weights)")
    return table


def table1_comparison(entry: dict[str, Any]) -> Group:
    """SRneXt's measured Table 1 beside the factsheet and the organizers' row, with why each differs."""
    splits = table_splits([entry])
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
        cells = [escape(label), _cell(value, spec)]
        for source in ("factsheet", "organizers"):
            published = PUBLISHED_TABLE1[source][key]
            cells += [format(published, spec if spec != ".6f" else ".4f"),
                      "" if value is None else format(value - published, "+.4g")]
        table.add_row(*cells, escape(f"[{index}]"))
        notes.append(f"[{index}] {label}: {reasons[key]}")
    return Group(table, Text("\n".join(notes)))
