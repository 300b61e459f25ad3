"""The noise of every runtime in plain sight: the official mean beside its median and quartiles, the cold first image
apart, the interval of the mean over runs and the ratio to the baseline timed beside it; one warning line when a
split's times are noisy or the machine was busy; the predicted score and rank in one line."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from benchmark.measure.paired import interval_from, no_interval_reason, pair_count
from benchmark.measure.watch import busy_reasons
from benchmark.report.results_txt import format_cell

NOISY_RUNS = 0.05
"""A mean whose 95% interval over the runs is wider than ±5% of it is called noisy."""
NOISY_RATIO = 0.10
"""A baseline ratio whose 95% interval is wider than ±10% of it is called uncertain."""


def _range(pair: Any, spec: str, prefix: str = "") -> str:
    if not isinstance(pair, (list, tuple)) or len(pair) != 2 or None in pair:
        return "n/a"
    return f"{prefix}{format(pair[0], spec)}–{format(pair[1], spec)}"


def _half_width(pair: Any, centre: Any) -> float | None:
    if not isinstance(pair, (list, tuple)) or None in pair or not isinstance(centre, (int, float)) or centre <= 0:
        return None
    return (pair[1] - pair[0]) / 2 / centre


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _ratio_interval(keys: dict[str, Any], split: str) -> tuple[float, float] | None:
    """A split's ratio interval as recorded, if it means something (``measure.paired.interval_from``: records written
    before the rule may hold one from a single pair)."""
    ci = keys.get(f"{split}_baseline_ratio_ci95")
    low, high = ci if isinstance(ci, list) and len(ci) == 2 else (None, None)
    return interval_from(low, high, pair_count(keys.get(f"{split}_baseline_pairs")))


def runtime_table(results: dict[str, dict[str, Any]], splits: list[str], where: str) -> Table:
    """Each of ``splits``' runtime per model, timed on ``where``: the official mean (of the runs), then the first
    run's median, quartiles and cold first image, the mean's 95% interval over the runs, the warm timing when asked
    for, and the ratio to the baseline timed beside it with its 95% interval."""
    entries = list(results.values())
    warm = any(f"{s}_warm_runtime_stats" in e for e in entries for s in splits)
    paired = any(f"{s}_baseline_ratio" in e for e in entries for s in splits)
    table = Table(title=escape(f"Runtime [ms, {where}]: the official mean, its spread and the cold first image"),
                  title_justify="left")
    headers = ["Model", "split", "mean (official)", "95% CI (runs)", "median", "IQR", "first (cold)",
               *(["warm mean"] if warm else []), *(["vs baseline (95% CI)"] if paired else [])]
    for header in headers:
        table.add_column(escape(header), justify="left" if header in ("Model", "split") else "right", no_wrap=True)
    for name, entry in results.items():
        for s in splits:
            if f"{s}_ave_runtime" not in entry:
                continue
            stats = entry.get(f"{s}_runtime_stats") or {}
            cells = [escape(name), escape(s), format_cell(entry[f"{s}_ave_runtime"], ".2f"),
                     _range(stats.get("runs_ci95"), ".2f"), format_cell(stats.get("median"), ".2f"),
                     _range([stats.get("q25"), stats.get("q75")], ".2f"), format_cell(stats.get("first"), ".2f")]
            if warm:
                warm_stats = entry.get(f"{s}_warm_runtime_stats") or {}
                cells.append(format_cell(warm_stats.get("mean"), ".2f"))
            if paired:
                ratio, interval = entry.get(f"{s}_baseline_ratio"), _ratio_interval(entry, s)
                cells.append("n/a" if ratio is None else f"×{ratio:.3f} [{_range(interval, '.3f')}]" if interval else
                             f"×{ratio:.3f} (no CI: {_plural(pair_count(entry.get(f'{s}_baseline_pairs')), 'pair')})")
            table.add_row(*cells)
    return table


def split_warnings(name: str, split: str, keys: dict[str, Any]) -> list[str]:
    """The warning lines a split's official keys call for: a mean that varies over the runs, a busy machine, a
    deployment on random weights whose output is beyond its tolerance (with weights it would be refused)."""
    lines = []
    difference, tolerance = keys.get(f"{split}_max_difference"), keys.get(f"{split}_tolerance")
    bound = tolerance.get("max_difference") if isinstance(tolerance, dict) else None
    if isinstance(difference, float) and isinstance(bound, float) and difference > bound:
        lines.append(f"warning: {name} on {split}: its output is {difference:.3g} of the data range from FP32 eager, "
                     f"beyond its tolerance of {bound:.3g}; on random weights (no checkpoint) that is not judged, "
                     "give the checkpoint to judge the trained network")
    stats = keys.get(f"{split}_runtime_stats") or {}
    noise = _half_width(stats.get("runs_ci95"), keys.get(f"{split}_ave_runtime"))
    if noise is not None and noise > NOISY_RUNS:
        lines.append(f"warning: {name} on {split}: the mean runtime is only known to ±{noise:.0%} over "
                     f"{stats.get('runs')} runs (95% interval); time it on a quiet machine or with more --runs")
    reasons = busy_reasons(keys.get(f"{split}_machine") or {})
    if reasons:
        lines.append(f"warning: {name} on {split}: the machine was busy while it was timed ({'; '.join(reasons)}); "
                     "its times may be slow and noisy")
    return lines


def ratio_warning(name: str, split: str, keys: dict[str, Any]) -> str | None:
    """The warning line for a ratio to the baseline without an interval (too few pairs) or with a wide one, else
    None."""
    ratio, interval = keys[f"{split}_baseline_ratio"], _ratio_interval(keys, split)
    if interval is None:
        times = (keys.get(f"{split}_baseline_pairs") or {}).get("model") or [[]]
        baseline = keys.get(f"{split}_baseline")
        protocol = baseline.get("protocol_runs") if isinstance(baseline, dict) else None
        reason = no_interval_reason(pair_count(keys.get(f"{split}_baseline_pairs")), len(times), len(times[0]),
                                    protocol if isinstance(protocol, int) else None)
        return f"warning: {name} on {split}: the ratio to the baseline, ×{ratio:.3f}, has no interval: {reason}"
    uncertain = _half_width(interval, ratio)
    if uncertain is None or uncertain <= NOISY_RATIO:
        return None
    return (f"warning: {name} on {split}: the ratio to the baseline, ×{ratio:.3f} "
            f"[{_range(interval, '.3f')}], is only known to ±{uncertain:.0%}; "
            "time it on a quiet machine or with more --runs")


def pair_line(name: str, split: str, keys: dict[str, Any]) -> str:
    """``05_X on Set5: ×1.234 [1.201–1.270] the runtime of 00_SPAN timed beside it (3 runs × 5 images, A B B A)``;
    without an interval (too few pairs) the ratio alone."""
    baseline, times = keys[f"{split}_baseline"], keys[f"{split}_baseline_pairs"]["model"]
    interval = _ratio_interval(keys, split)
    shown = f" [{_range(interval, '.3f')}]" if interval else ""
    pairs = pair_count(keys[f"{split}_baseline_pairs"])
    said = "95% interval" if interval else f"no interval from {_plural(pairs, 'pair')}"
    return (f"{name} on {split}: ×{keys[f'{split}_baseline_ratio']:.3f}{shown} the runtime of {baseline['name']} "
            f"timed beside it ({keys[f'{split}_baseline_runtime']:.2f} ms; {_plural(len(times), 'run')} × "
            f"{_plural(len(times[0]), 'image')}, A B B A; {said})")


def prediction_line(name: str, entry: dict[str, Any]) -> str | None:
    """The predicted score, sub-scores, PSNR verdict and rank of ``entry`` in one line; None without a prediction."""
    details = entry.get("prediction")
    if not isinstance(details, dict):
        return None
    if entry.get("predicted_score") is None:
        return f"{name}: no predicted score ({details.get('note')})"
    verdict = details["psnr_floors"]
    floors = ("" if verdict is None else "PSNR floors met; " if verdict["ok"] else
              "PSNR floors met only as printed (2 decimals); " if verdict["ok_printed"] else "PSNR below the floors; ")
    rank = entry.get("predicted_rank")
    bounded = entry.get("predicted_score_ci95") is not None
    score_ci = f" [{_range(entry['predicted_score_ci95'], '.4f')}]" if bounded else ""
    ratio_ci = f" [{_range(details['runtime_ratio_ci95'], '.3f')}]" if bounded else ""
    pairs = details.get("pairs")
    warning = "" if bounded or not isinstance(pairs, dict) else "; warning: point figures, no interval and no rank " \
        "range: " + no_interval_reason(pairs["timed"], pairs["timed"] // max(pairs["images"], 1), pairs["images"],
                                       pairs["protocol_runs"], details["year"])
    return (f"{name}: predicted NTIRE {details['year']} score {entry['predicted_score']:.4f}{score_ci} "
            f"(runtime ×{details['runtime_ratio']:.3f}{ratio_ci}, FLOPs ×{details['flops_ratio']:.3f}, params "
            f"×{details['params_ratio']:.3f} of {details['baseline']}; sub-scores runtime "
            f"{details['score_runtime']:.4f}, FLOPs {details['score_flops']:.4f}, params "
            f"{details['score_params']:.4f}); {floors}{details['note']}"
            + (f"; predicted rank {rank['text']}" if rank else "") + warning)
