"""The deployment matrix as tables: what ran (time, spread, speed-up, output difference and whether it is within its
precision's tolerance, rate, share of peak, memory), the best FP32 way per model, the measured peaks, one line per way
slower than eager, and one line per way that cannot run here."""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from benchmark.measure.deploy import Tolerance
from benchmark.measure.matrix import best_fp32
from benchmark.report.results_txt import dash_cell as _cell


def beyond_tolerance(row: dict[str, Any], device: torch.device) -> bool:
    """Whether a way's output is further from FP32 eager than its precision's tolerance (``measure.deploy.Tolerance``,
    on the largest difference: the matrix runs no PSNR); a network on random weights is not judged (its differences
    are not the trained network's)."""
    return row["weights"] != "random" and \
        Tolerance.of(row["precision"], device).judge(row["max_difference"], None, None) is not None


def _checked(row: dict[str, Any], device: torch.device) -> str:
    if row["max_difference"] is None or row["weights"] == "random":
        return "–"
    tolerance = Tolerance.of(row["precision"], device).max_difference
    return f"FAILED (> {tolerance:.3g})" if beyond_tolerance(row, device) else "ok"


def ran_frame(rows: list[dict[str, Any]], device: torch.device) -> pd.DataFrame:
    """One line per way that ran: its figures formatted for reading (the JSON keeps them unrounded), and whether its
    output is within its precision's tolerance of FP32 eager."""
    out = [{"model": r["model"], "input": r["input"], "backend": r["backend"], "precision": r["precision"],
            "ms (median)": _cell(r["ms"], ".1f"), "IQR ms": _cell(r["iqr_ms"], ".1f"),
            "speed-up": _cell(r["speedup"], ".2f") + ("×" if r["speedup"] is not None else ""),
            "max |Δ| / range": _cell(r["max_difference"], ".1e"), "tolerance": _checked(r, device),
            "GFLOP/s": _cell(r["gflops"], ".1f"),
            "% of peak": _cell(None if r["peak_share"] is None else 100 * r["peak_share"], ".1f"),
            "memory MiB": _cell(r["memory_mib"], ".0f")}
           for r in rows if r["unavailable"] is None]
    return pd.DataFrame(out)


def unavailable_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Each reason a way cannot run, once, with the models and inputs it stopped."""
    reasons: dict[str, list[str]] = {}
    for r in rows:
        if r["unavailable"] is not None:
            where = f"{r['model']} {r['input'].removeprefix('1×3×')}"
            reasons.setdefault(r["unavailable"], [])
            if where not in reasons[r["unavailable"]]:
                reasons[r["unavailable"]].append(where)
    everywhere = {f"{r['model']} {r['input'].removeprefix('1×3×')}" for r in rows}
    return [reason if len(where) == len(everywhere) else f"{reason} ({', '.join(where)})"
            for reason, where in reasons.items()]


def slower_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Each way that ran slower than FP32 eager of the same model and input, and why where the network says so (its
    ``deployment_notes``, by backend)."""
    return [f"{r['model']} {r['input'].removeprefix('1×3×')} {r['backend']} {r['precision']}: {r['speedup']:.2f}× "
            f"eager ({r['ms']:.1f} against {r['ms'] * r['speedup']:.1f} ms): "
            + (r.get("note") or "the network gives no reason (its deployment_notes)")
            for r in rows if r["unavailable"] is None and r["speedup"] is not None and r["speedup"] < 1]


def peaks_frame(peaks: dict[str, dict[str, float | None]]) -> pd.DataFrame:
    """The higher of two measurements (before the first model, after the last), and each of them."""
    return pd.DataFrame([{"precision": p, "matmul GFLOP/s": _cell(v["matmul"], ".1f"),
                          "3×3 conv GFLOP/s": _cell(v["conv3x3"], ".1f"), "peak GFLOP/s": _cell(v["peak"], ".1f"),
                          "before / after": f"{_cell(v['before'], '.1f')} / {_cell(v['after'], '.1f')}"}
                         for p, v in peaks.items()])


def best_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{**b, "speed-up over eager fp32": f"{b['speed-up over eager fp32']:.2f}×",
                          "max |Δ| / range": _cell(b["max |Δ| / range"], ".1e")} for b in best_fp32(rows)])


def matrix_markdown(result: dict[str, Any], environment: dict[str, Any]) -> str:
    """The whole report: how it was measured, the peaks, the matrix, the best FP32 way, the ways slower than eager
    and why, what cannot run."""
    rows = result["rows"]
    device = torch.device(environment.get("device", "cpu"))
    random = sorted({r["model"] for r in rows if r["weights"] == "random"})
    lines = [
        "# Deployment matrix", "",
        f"{environment.get('device_name')}, {environment.get('cpu_threads')} threads, torch {environment.get('torch')}; "
        f"load average {result['load'][0]:.2f} before, {result['load'][1]:.2f} after (1 min).", "",
        f"Medians of {result['rounds']} rounds, every way timed once per round in rotating order (IQR: interquartile "
        "range). Compilation, export and engine building happen before the rounds and are not forward time. "
        "Speed-up over FP32 eager of the same model and input; max |Δ| / range: the largest absolute difference "
        "from the FP32 eager output on the same input (a crop of a photograph), over the data range; tolerance: "
        "FAILED where it exceeds its precision's bound (1e-4 in FP32, 32 unit roundoffs in FP16 and BF16: "
        "docs/RESULTS.md), a way whose output is not the network's. GFLOP/s: the "
        "year's FLOPs of record at that input over the median time (a multiply-add counts once, as the counters "
        "count); % of peak: over the peak of the same precision measured in this run (below: the higher of a "
        "measurement before the first model and one after the last). Memory: the "
        "forward's growth of peak RSS on a CPU, PyTorch's allocator peak on a GPU (– where the backend allocates "
        "outside it).", "",
    ]
    if random:
        lines += [f"Random weights (no checkpoint): {', '.join(random)}; their differences are not those of the "
                  "trained network.", ""]
    lines += ["## Peak (measured)", "", peaks_frame(result["peaks"]).to_markdown(index=False), "",
              "## Matrix", "", ran_frame(rows, device).to_markdown(index=False), "",
              "## Best FP32 way", "", best_frame(rows).to_markdown(index=False), ""]
    slower = slower_lines(rows)
    if slower:
        lines += ["## Slower than eager", "", *(f"- {line}" for line in slower), ""]
    cannot = unavailable_lines(rows)
    if cannot:
        lines += ["## Cannot run here", "", *(f"- {line}" for line in cannot), ""]
    return "\n".join(lines)
