"""Shared test fixtures and helpers: the read-only reference data (skipped when absent), hooks, pickles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.imaging.images import read_image, to_tensor, to_uint8

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
"""``../shared`` beside the checkout: real test sets and figures measured with the official harness."""
SET5 = ("baby", "bird", "butterfly", "head", "woman")
AT_HALF = 16 * 2.0**-16
"""How near x.5 a value must be to round the other way on another CPU: 16 float32 ulps at 128…255."""


@pytest.fixture(scope="session", autouse=True)
def no_downloads() -> Iterator[None]:
    """No test reaches outside the machine: checkpoints are never downloaded (ESR_OFFLINE=1) unless a
    test unsets it to fetch from its own local server (tests/test_zoo.py)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ESR_OFFLINE", "1")
        mp.delenv("ESR_ZOO_URL", raising=False)
        yield


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


def set5_against_reference(shared: Path, model: nn.Module, reference: str, data_range: float
                           ) -> tuple[np.ndarray, np.ndarray, int]:
    """``model``'s uint8 Set5 outputs and ``sr/<reference>/Set5``, flattened, and how many of the
    differing values were within ``AT_HALF`` of a rounding boundary (x.5 on the 0…255 scale) before rounding."""
    ours, theirs, near_half = [], [], 0
    for name in SET5:
        lr = read_image(shared / "data" / "Set5" / "LR_bicubic" / "X4" / f"{name}x4.png")
        with torch.inference_mode():
            out = model(to_tensor(lr, data_range))
        sr = to_uint8(out, data_range)
        ref = read_image(shared / "reference" / "sr" / reference / "Set5" / f"{name}.png")
        raw = out[0].permute(1, 2, 0).numpy() * (255.0 / data_range)
        near_half += int((np.abs(raw[sr != ref] % 1 - 0.5) < AT_HALF).sum())
        ours.append(sr.ravel())
        theirs.append(ref.ravel())
    return np.concatenate(ours), np.concatenate(theirs), near_half


def assert_round_off_only(ours: np.ndarray, theirs: np.ndarray, near_half: int) -> None:
    """The only differences allowed between CPUs: one level, on at most 1e-4 of the values, each at x.5.

    Float32 kernels sum in a different order on another processor, so a value that lands within a
    few ulps of x.5 can round the other way; anything more is a real difference.
    """
    differ = ours != theirs
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1
    assert differ.mean() <= 1e-4, f"{int(differ.sum())} of {differ.size} values differ"
    assert near_half == differ.sum(), "a differing value was not at a rounding boundary"
