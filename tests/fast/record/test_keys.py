"""docs/RESULTS.md documents every key a run can write: a new key without its line there fails here."""

from __future__ import annotations

from helpers import PROJECT

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
