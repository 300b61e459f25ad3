"""The worker's ``torch.load`` for team code: a checkpoint's pickled objects are refused unless ``--trust-checkpoint``
says otherwise, whatever the team's own call asks for (``weights_only=False``, its own ``pickle_module``)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from helpers import Payload, TinySR

from benchmark.core.errors import HarnessError
from benchmark.organizer.dryrun import Loads


@pytest.mark.parametrize("call", [
    lambda path: torch.load(path),
    lambda path: torch.load(path, weights_only=False),
    lambda path: torch.load(path, pickle_module=pickle, weights_only=False),
    lambda path: torch.load(path, None, pickle, weights_only=False),
])
def test_a_team_cannot_lift_weights_only_for_a_checkpoint_that_runs_code(tmp_path: Path, call) -> None:  # noqa: ANN001
    target, checkpoint = tmp_path / "ran", tmp_path / "team.pth"
    torch.save(Payload(target), checkpoint)
    with Loads(trust=False).recording(), pytest.raises(HarnessError) as err:
        call(str(checkpoint))
    assert str(err.value) == (f"checkpoint {checkpoint} holds pickled objects besides tensors (getattr) and was not "
                              "loaded (it could run code); re-save it as a plain state dict, or pass "
                              "--trust-checkpoint if you trust its author")
    assert not target.exists()
    with Loads(trust=True).recording():
        call(str(checkpoint))
    assert target.exists()  # --trust-checkpoint: as the team's code asks


def test_a_plain_state_dict_loads_whatever_the_team_asks(tmp_path: Path) -> None:
    checkpoint = tmp_path / "team.pth"
    torch.save(TinySR().state_dict(), checkpoint)
    with Loads(trust=False).recording():
        state = torch.load(str(checkpoint), pickle_module=pickle, weights_only=False)
    assert set(state) == {"conv.weight", "conv.bias"}
