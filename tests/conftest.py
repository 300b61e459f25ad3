"""Shared test fixtures and helpers: the read-only reference data (skipped when absent), hooks, pickles."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch import nn

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
"""``../shared`` beside the checkout: real test sets and figures measured with the official harness."""


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared folder; tests that need it skip, with the reason, when it is absent."""
    if not (SHARED / "reference").is_dir() or not (SHARED / "data").is_dir():
        pytest.skip(f"{SHARED} not found: the reference data and figures live beside the checkout")
    return SHARED


def hooks_left(model: nn.Module) -> int:
    """Forward and pre-forward hooks still registered anywhere in ``model``."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


class Payload:
    """Unpickling this object creates a file: a stand-in for a checkpoint that runs code."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))
