"""The module profiler on the faithful and the fast SRneXt: the host-side work of the faithful one is found, the fast one has none."""

from __future__ import annotations

import torch
from helpers import hooks_left

from benchmark.measure.profiler import profile_model
from models import create_model


def test_faithful_srnext_flags_mean_shift_and_shift_kernels_fast_flags_nothing() -> None:
    torch.manual_seed(0)
    faithful = create_model(5)
    result = profile_model(faithful, (3, 24, 24), runs=1)
    by_op = {(row["op"], row["module"]): row for row in result["host_work"]}
    eye = by_op[("aten.eye", "")]  # the mean shift's identity weight, in SRneXt.forward
    assert eye["calls"] == 2 and "_mean_shift" in eye["source"]
    assert by_op[("aten.lift_fresh", "")]["shape"] == [3]  # the mean shift's bias, torch.tensor(DF2K_MEAN)
    for path, channels in (("body.*.mlp.fc1", 35), ("body.*.mlp.fc2", 70)):
        row = by_op[("aten.zeros", path)]  # ShiftConv2d's kernel, built in every call
        assert row["calls"] == 26 and row["instances"] == 26 and row["shape"] == [channels, 1, 3, 3]
        assert "shift_kernel" in row["source"]
    top = {row["module"] for row in result["modules"] if row["depth"] == 1}
    assert top == {"head", "body", "tail"}

    fast = create_model(5, fast=True)
    fast.load_state_dict(faithful.state_dict())
    result = profile_model(fast, (3, 24, 24), runs=1)
    assert result["host_work"] == []
    called = {row["module"] for row in result["modules"] if row["depth"] == 1 and row["calls"] == 1}
    assert called == {"head", "body", "tail"}
    assert hooks_left(faithful) == 0 and hooks_left(fast) == 0
