"""RFDN and the faithful SRneXt reproduce the official harness's Set5 outputs, up to float32 round-off between CPUs."""

from __future__ import annotations

from pathlib import Path

from helpers import assert_round_off_only, set5_against_reference

from models import create_model


def test_rfdn_reproduces_official_set5_outputs(shared: Path) -> None:
    model = create_model(0, checkpoint=shared / "reference" / "model_zoo" / "team00_rfdn.pth")
    assert_round_off_only(*set5_against_reference(shared, model, "rfdn", 255.0))


def test_srnext_reproduces_official_set5_outputs(shared: Path) -> None:
    model = create_model(5, checkpoint=shared / "reference" / "model_zoo" / "team05_exnet.pth")
    assert_round_off_only(*set5_against_reference(shared, model, "exnet", 255.0))
