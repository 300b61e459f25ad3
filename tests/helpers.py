"""What tests share besides fixtures: the reference data beside the checkout (skipped, with the reason, when absent),
a tiny registered team, the round-off rule between CPUs, hooks and pickles."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.imaging.images import read_image, to_tensor, to_uint8, write_png
from benchmark.imaging.imresize import downscale_x4
from models import ModelSpec, registered

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
"""``../shared`` beside the checkout: real test sets and figures measured with the official harness."""
SET5 = ("baby", "bird", "butterfly", "head", "woman")
AT_HALF = 16 * 2.0**-16
"""How near x.5 a value must be to round the other way on another CPU: 16 float32 ulps at 128…255."""


def shared_file(*parts: str) -> Path:
    """``../shared/<parts>``; the test skips, saying what is missing, when it is absent (CI has it, a bare clone not)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not found: the reference data and figures live in ../shared beside the checkout")
    return path


def run_main(main: Callable[[list[str]], int], argv: list[str]) -> tuple[int, str, str]:
    """A command's ``main(argv)`` run in-process: exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def write_set(root: Path, sizes: dict[str, tuple[int, int]]) -> Path:
    """A benchmark folder of random HR images of ``sizes`` (name → H, W) and their MATLAB-bicubic LR."""
    rng = np.random.default_rng(0)
    for name, size in sizes.items():
        hr = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        write_png(root / "HR" / f"{name}.png", hr)
        write_png(root / "LR_bicubic" / "X4" / f"{name}x4.png", downscale_x4(hr))
    return root


class TinySR(nn.Module):
    """An x4 network small enough for any test: one 3×3 convolution and a pixel shuffle."""

    def __init__(self, feats: int = 48) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, feats, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.conv(x), 4)


@contextlib.contextmanager
def tiny_team(zoo: Path, team_id: int = 90, year: int = 2023, name: str = "Tiny") -> Iterator[ModelSpec]:
    """A registered team of ``year`` with a TinySR checkpoint in ``zoo``, removed from the registry afterwards."""
    torch.manual_seed(team_id)
    checkpoint = f"team{team_id}_tiny.pth"
    torch.save(TinySR().state_dict(), zoo / checkpoint)
    with registered(ModelSpec(team_id=team_id, name=name, builder=TinySR, checkpoint=checkpoint, year=year)) as spec:
        yield spec


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
