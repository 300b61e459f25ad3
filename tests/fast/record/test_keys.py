"""docs/RESULTS.md documents every key a run can write: a new key without its line there fails here."""

from __future__ import annotations

import torch
from helpers import PROJECT

from benchmark.measure.loop import ImageResult, SplitResult
from benchmark.rank.predict import prediction
from benchmark.record.entry import split_entry
from benchmark.record.environment import environment
from benchmark.record.keys import DERIVED_KEYS, IDENTITY_KEYS, SPLIT_SUFFIXES

DOC = PROJECT / "docs" / "RESULTS.md"
DERIVED_IDENTITY = {"checkpoint_sha256": "checkpoint", "device_name": "environment"}
"""Identity keys read from inside another key, documented under that key."""


def test_every_split_key_is_documented() -> None:
    doc = DOC.read_text()
    missing = [s for s in SPLIT_SUFFIXES if f"`{{split}}_{s}`" not in doc]
    assert not missing, f"add these keys to {DOC.name}: {missing}"


def test_every_record_key_is_documented() -> None:
    doc = DOC.read_text()
    keys = [*DERIVED_KEYS, *(DERIVED_IDENTITY.get(k, k) for k in IDENTITY_KEYS),
            "num_parameters", "flops", "activations", "num_conv", "flops_counter", "complexity", "deployment", "sweep",
            "ave_ci95_low", "ave_ci95_high", "interval_from", "score_ci95_low", "score_ci95_high", "tie", "runs_ci95"]
    missing = [k for k in keys if f"`{k}`" not in doc]
    assert not missing, f"add these keys to {DOC.name}: {missing}"


def test_every_key_inside_a_record_key_is_documented() -> None:
    """The keys a run writes inside ``environment``, ``{split}_runtime_stats``, ``predicted_rank`` and ``prediction``
    (a 2026 model timed beside SPAN, 2 runs × 5 images: an interval, so every key of the rank is there)."""
    doc = DOC.read_text()
    model = [[10.0, 20.0, 30.0, 40.0, 50.0], [12.0, 18.0, 33.0, 41.0, 49.0]]
    complexity = {"params": 150688, "fvcore_flops": 9833807872}
    derived = prediction({"year": 2026, "splits": ["Set5"], "complexity": complexity,
                          "Set5_baseline": {"name": "00_SPAN", "params": 150688, "flops": 9833807872,
                                            "flops_counter": "fvcore"},
                          "Set5_baseline_pairs": {"model": model, "baseline": [[t * 1.1 for t in r] for r in model]}})
    assert derived["predicted_rank"]["best"] is not None
    run = SplitResult("Set5", [ImageResult("baby", 10.0), ImageResult("bird", 12.0)], 500.0, "cpu_peak_rss", 0.1,
                      "cpu_perf_counter")
    inner = {"environment": environment(torch.device("cpu")),
             "{split}_runtime_stats": split_entry([run], 500.0, 1)["Set5_runtime_stats"],
             "predicted_rank": derived["predicted_rank"], "prediction": derived["prediction"]}
    missing = {key: [k for k in keys if f"`{k}`" not in doc] for key, keys in inner.items()}
    assert not any(missing.values()), f"add these keys to {DOC.name}: {missing}"
