"""Shared test fixtures: where the read-only reference data lives, and skipping when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
"""``../shared`` beside the checkout: real test sets and figures measured with the official harness."""


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared folder; tests that need it skip, with the reason, when it is absent."""
    if not (SHARED / "reference").is_dir() or not (SHARED / "data").is_dir():
        pytest.skip(f"{SHARED} not found: the reference data and figures live beside the checkout")
    return SHARED
