"""The official tab-separated summary ``R.txt`` written beside a results file."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

from benchmark.core.errors import HarnessError
from benchmark.core.files import write_atomic
from benchmark.record.keys import ordered_splits


def format_cell(value: Any, spec: str, missing: str = "n/a") -> str:
    """A figure for a table cell: ``format(value, spec)``, or ``missing`` where the run has none."""
    return missing if value is None else format(value, spec)


def dash_cell(value: Any, spec: str) -> str:
    """A figure of a report table (the backend matrix, the roofline): a dash where there is none."""
    return format_cell(value, spec, missing="–")


def shown_name(name: str) -> str:
    """A model name on one cell: a tab or line break inside it (a hand-edited or hostile key) is shown escaped."""
    return "".join(repr(c)[1:-1] if unicodedata.category(c)[0] in "CZ" and c != " " else c for c in name)


def write_results_txt(results: dict[str, dict[str, Any]], path: str | Path) -> None:
    """The official tab-separated summary: PSNR and runtime per split, then the complexity figures.

    With ``valid`` and ``test`` this is the official layout (ave_time is their mean); entries that
    lack a split or a figure get ``n/a`` instead of stopping the export. The FLOPs column is each
    entry's figure of record, and its counter is named beside it.
    """
    splits = ordered_splits(list(results.values()))
    header = ["model"] + [f"{s}_psnr" for s in splits] + [f"{s}_time" for s in splits]
    both = {"valid", "test"} <= set(splits)
    if both:
        header.append("ave_time")
    header += ["params", "flops", "flops_counter", "acts", "mem", "conv"]
    lines = ["\t".join(header)]
    for name, v in results.items():
        row = [shown_name(name)] + [format_cell(v.get(f"{s}_ave_psnr"), ".2f") for s in splits]
        row += [format_cell(v.get(f"{s}_ave_runtime"), ".2f") for s in splits]
        if both:
            times = [v.get("valid_ave_runtime"), v.get("test_ave_runtime")]
            row.append(format_cell(None if None in times else sum(times) / 2, ".2f"))
        memory = [v[f"{s}_memory"] for s in splits if v.get(f"{s}_memory") is not None]
        row += [format_cell(v.get("num_parameters"), ".3f"), format_cell(v.get("flops"), ".2f"),
                v.get("flops_counter", "n/a"), format_cell(v.get("activations"), ".2f"),
                format_cell(max(memory) if memory else None, ".2f"), format_cell(v.get("num_conv"), "d")]
        lines.append("\t".join(row))
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, "\n".join(lines) + "\n")
    except OSError as err:
        raise HarnessError(f"{path}: cannot write ({err.strerror}); choose another --results folder") from None
