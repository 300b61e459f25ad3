"""The five networks' complexity by every counter, against the organizers' own measurements."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

COUNTERS = ("params", "flops", "activations", "conv", "fvcore_flops", "ptflops_macs")
ISSUE_FIGURES = {
    0: dict(params=433448, flops=27102622560, activations=112034240, conv=64, fvcore_flops=27046231296,
            ptflops_macs=27145682624),
    5: dict(params=244558, flops=15365898240, activations=422903808, conv=158, fvcore_flops=16986144768,
            ptflops_macs=17412390912),
}


@pytest.fixture(scope="module")
def reference_networks(measured: Callable[[int, int], dict]) -> dict[int, dict]:
    return {model_id: measured(2023, model_id) for model_id in (0, 5)}


@pytest.mark.parametrize("model_id", [0, 5])
def test_reference_networks_give_the_organizers_figures(reference_networks: dict, model_id: int) -> None:
    r = reference_networks[model_id]
    assert {k: r[k] for k in COUNTERS} == ISSUE_FIGURES[model_id]
    assert sum(row["macs"] for row in r["layers"]) == r["flops"]
    assert abs(sum(row["share"] for row in r["layers"]) - 1) < 1e-9


def test_figures_match_the_official_harness_measurements(shared: Path, reference_networks: dict) -> None:
    reference = json.loads((shared / "reference" / "complexity.json").read_text())
    for model_id, key in ((0, "team00_rfdn"), (5, "team05_srnext")):
        ref, r = reference[key], reference_networks[model_id]
        assert r["params"] == ref["params"]
        assert (r["flops"], r["activations"], r["conv"]) == tuple(ref["official_hooks"][k] for k in ("flops", "activations", "conv"))
        assert r["fvcore_flops"] == ref["fvcore"]["flops"]
        assert r["ptflops_macs"] == ref["ptflops_aten"]["macs"]


def test_srnext_unseen_operators_explain_the_factsheet_and_fvcore_gaps(reference_networks: dict) -> None:
    unseen = {(u["op"], u["module"]): u for u in reference_networks[5]["unseen"]}
    mean_shifts = unseen[("aten.convolution", "model (SRneXt)")]
    assert mean_shifts["calls"] == 2 and mean_shifts["macs"] == 10_027_008  # factsheet 15.376 G = hooks + these
    shifts = sum(u["macs"] for (op, where), u in unseen.items() if "ShiftConv2d" in where)
    assert reference_networks[5]["flops"] + mean_shifts["macs"] + shifts == reference_networks[5]["fvcore_flops"]
