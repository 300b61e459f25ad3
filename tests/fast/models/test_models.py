"""The team registry, checkpoint loading, and the two reference networks against the official outputs."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers import Payload
from torch import nn

from benchmark.core.errors import HarnessError
from models import ModelSpec, create_model, get_spec, list_models, load_state_dict, register
from models.registry import registered
from models.team05_SRneXt import shift_kernel


def test_registry_discovers_team_files() -> None:
    names = {spec.team_id: spec.display_name for spec in list_models(2023)}
    assert names == {0: "00_RFDN_baseline", 5: "05_SRneXt"}
    assert [(s.year, s.team_id) for s in list_models()] == sorted((s.year, s.team_id) for s in list_models())
    assert get_spec(5).checkpoint == "team05_exnet.pth"
    assert get_spec(0).data_range == 255


def test_unknown_model_lists_registered_ids() -> None:
    with pytest.raises(HarnessError, match=r"unknown model id 42 for 2023; registered models of 2023: 0 \(00_RFDN_baseline\), 5 \(05_SRneXt\)"):
        create_model(42)


def test_adding_a_team_needs_only_a_spec() -> None:
    class Tiny(nn.Module):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3 * 16 * width, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.pixel_shuffle(self.conv(x), 4)

    with registered(ModelSpec(team_id=97, name="Tiny", builder=Tiny, checkpoint="team97_tiny.pth",
                              kwargs={"width": 1})) as spec:
        model = create_model(97)
        assert spec.display_name == "97_Tiny"
        assert model(torch.zeros(1, 3, 5, 6)).shape == (1, 3, 20, 24)
        with pytest.raises(HarnessError, match="registered twice"):
            register(ModelSpec(team_id=97, name="Other", builder=nn.Identity, checkpoint="x.pth"))
    with pytest.raises(HarnessError, match="unknown model id 97"):
        get_spec(97)


def test_create_model_is_frozen_and_in_eval_mode() -> None:
    model = create_model(0)
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())


@pytest.fixture(scope="module")
def rfdn_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return create_model(0).state_dict()


@pytest.mark.parametrize("layout", ["plain", "params", "state_dict", "module_prefix"])
def test_checkpoint_layouts_load_strictly(tmp_path: Path, rfdn_state: dict, layout: str) -> None:
    wrapped = {
        "plain": rfdn_state,
        "params": {"params": rfdn_state},
        "state_dict": {"state_dict": rfdn_state},
        "module_prefix": {f"module.{k}": v for k, v in rfdn_state.items()},
    }[layout]
    path = tmp_path / "ckpt.pth"
    torch.save(wrapped, path)
    model = create_model(0, checkpoint=path)
    assert torch.equal(model.state_dict()["fea_conv.weight"], rfdn_state["fea_conv.weight"])


def test_params_ema_is_preferred(tmp_path: Path, rfdn_state: dict) -> None:
    other = {k: v + 1 for k, v in rfdn_state.items()}
    path = tmp_path / "ckpt.pth"
    torch.save({"params": other, "params_ema": rfdn_state}, path)
    assert torch.equal(load_state_dict(path)["LR_conv.bias"], rfdn_state["LR_conv.bias"])


def test_checkpoint_that_does_not_fit_names_the_keys(tmp_path: Path, rfdn_state: dict) -> None:
    state = dict(rfdn_state)
    del state["fea_conv.bias"]
    state["extra.weight"] = torch.zeros(1)
    state["LR_conv.weight"] = torch.zeros(50, 50, 1, 1)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(HarnessError) as err:
        create_model(0, checkpoint=path)
    message = str(err.value)
    assert "missing 1: fea_conv.bias" in message
    assert "unexpected 1: extra.weight" in message
    assert "LR_conv.weight (50, 50, 1, 1) vs (50, 50, 3, 3)" in message
    assert "\n" not in message


def test_missing_checkpoint_says_where_it_belongs(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"not found; pass --checkpoint PATH or put the team's file in .*model_zoo"):
        create_model(5, checkpoint=tmp_path / "team05_exnet.pth")
    with pytest.raises(HarnessError, match=r"tmp.* is a folder; pass --checkpoint PATH"):
        create_model(5, checkpoint=tmp_path)
    os.mkfifo(tmp_path / "fifo.pth")  # each was called 'not found'
    with pytest.raises(HarnessError, match=r"fifo\.pth is not a regular file \(a FIFO, socket or device\); pass"):
        create_model(5, checkpoint=tmp_path / "fifo.pth")
    (tmp_path / "a.pth").symlink_to(tmp_path / "b.pth")
    (tmp_path / "b.pth").symlink_to(tmp_path / "a.pth")
    with pytest.raises(HarnessError, match=r"a\.pth is a symlink loop; pass --checkpoint PATH"):
        create_model(5, checkpoint=tmp_path / "a.pth")


def test_pickle_payload_is_refused_and_never_runs(tmp_path: Path, rfdn_state: dict) -> None:
    marker = tmp_path / "payload_ran"
    path = tmp_path / "evil.pth"
    torch.save({"params": rfdn_state, "hook": Payload(marker)}, path)
    with pytest.raises(HarnessError, match="holds pickled objects besides tensors.*--trust-checkpoint"):
        create_model(0, checkpoint=path)
    assert not marker.exists()


def test_trusted_checkpoint_may_hold_objects(tmp_path: Path, rfdn_state: dict) -> None:
    path = tmp_path / "meta.pth"
    torch.save({"params": rfdn_state, "args": argparse.Namespace(lr=1e-3)}, path)
    with pytest.raises(HarnessError):
        create_model(0, checkpoint=path)
    model = create_model(0, checkpoint=path, trust_checkpoint=True)
    assert torch.equal(model.state_dict()["c.0.bias"], rfdn_state["c.0.bias"])


def test_shift_kernel_moves_each_channel_group_as_specified() -> None:
    x = torch.arange(5 * 4 * 4, dtype=torch.float32).reshape(1, 5, 4, 4)
    out = F.conv2d(x, shift_kernel(5), padding=1, groups=5)[0]
    x = x[0]
    assert torch.equal(out[0, :, :3], x[0, :, 1:]) and not out[0, :, 3].any()  # in(y, x+1)
    assert torch.equal(out[1, :, 1:], x[1, :, :3]) and not out[1, :, 0].any()  # in(y, x-1)
    assert torch.equal(out[2, :3], x[2, 1:]) and not out[2, 3].any()  # in(y+1, x)
    assert torch.equal(out[3, 1:], x[3, :3]) and not out[3, 0].any()  # in(y-1, x)
    assert torch.equal(out[4], x[4])


def test_a_runs_code_covers_what_the_variant_executes() -> None:
    """The record's code_sha256 hashes these files: the fast SRneXt's compiled kernel is part of its code."""
    import models.kernels.srnext as kernels
    import models.team05_SRneXt as team05

    spec = get_spec(5, 2023)
    assert spec.code() == [Path(team05.__file__)]
    assert spec.code(fast=True) == [Path(team05.__file__), kernels.KERNEL_SOURCE, Path(kernels.__file__)]
    assert kernels.KERNEL_SOURCE.is_file()
    assert get_spec(0, 2023).code(fast=True) == get_spec(0, 2023).code()  # no fast variant: the network's own file
