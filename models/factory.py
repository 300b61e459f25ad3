"""Building a team's network: ``create_model`` (the one front door) and loading a checkpoint safely.

Checkpoints are state dicts, plain or nested under the keys training toolboxes use; pickled objects
are refused unless trusted, and a checkpoint that does not fit the network is named with what differs."""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path

import torch
from torch import nn

from benchmark.core.errors import HarnessError
from benchmark.core.years import DEFAULT_YEAR
from models.registry import get_spec
from models.spec import MODEL_ZOO
from models.zoo import fetch_checkpoint

CHECKPOINT_KEYS = ("params_ema", "params", "state_dict")
"""Keys under which training toolboxes nest the state dict, in order of preference (EMA first)."""


_REFUSED_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+)|not an allowed global|safe_globals")
"""What ``torch.load(weights_only=True)`` says when it refuses a pickled object (as opposed to a damaged file)."""


def _reason(err: BaseException) -> str:
    """One line of an exception's message: torch's weights-only errors put theirs after ``WeightsUnpickler error:``."""
    text = str(err)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if len(first) > 100 and ". " in first:  # torch appends paragraphs of advice: keep the first sentence
        first = first.split(". ", 1)[0]
    line = f"{type(err).__name__}: {first}" if first else type(err).__name__
    return line if len(line) <= 160 else line[:157] + "..."


def _damaged(path: Path, reason: str) -> HarnessError:
    return HarnessError(f"checkpoint {path} is damaged or not a torch checkpoint ({reason}); re-download it")


def _from_script(path: Path, what: str) -> HarnessError:
    return HarnessError(f"checkpoint {path} holds a pickled object from the script that saved it ({what}), which "
                        "cannot be rebuilt here; save a state dict instead: torch.save(model.state_dict(), PATH)")


def _check_archive(path: Path) -> None:
    """A zip checkpoint (torch's format since 1.6) whose members fail their CRC is damaged: torch does not check."""
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except Exception as err:  # noqa: BLE001 - whatever a damaged archive makes zipfile raise, it is the file's fault
        raise _damaged(path, _reason(err)) from None
    if bad is not None:
        raise _damaged(path, f"{bad} fails its CRC check")


def load_state_dict(path: str | Path, device: str | torch.device = "cpu", trust: bool = False) -> dict[str, torch.Tensor]:
    """Read a checkpoint's tensors without running code from it.

    ``torch.load(weights_only=True)`` refuses any pickled object other than tensors and plain
    containers, so a checkpoint cannot execute code on load. ``trust=True`` lifts that for a
    checkpoint whose author you trust. The state dict may be nested under ``params_ema``,
    ``params`` or ``state_dict``; a ``module.`` prefix (DataParallel) is stripped. A damaged file
    (bytes flipped or cut off, or not a checkpoint at all) is told apart from a refused object,
    and keys that are not names, sparse or meta tensors are refused naming the key.
    """
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"checkpoint {path} not found; pass --checkpoint PATH or put the team's file in {MODEL_ZOO}/")
    _check_archive(path)
    try:
        obj = torch.load(path, map_location=device, weights_only=not trust)
    except pickle.UnpicklingError as err:
        refused = None if trust else _REFUSED_GLOBAL.search(str(err))
        if refused is None:
            raise _damaged(path, _reason(err)) from err
        what = refused[1].rstrip(".,;") if refused[1] else None
        if what and what.startswith("__main__."):
            raise _from_script(path, what) from err
        raise HarnessError(
            f"checkpoint {path} holds pickled objects besides tensors{f' ({what})' if what else ''} and was not loaded "
            "(it could run code); re-save it as a plain state dict, or pass --trust-checkpoint if you trust its author"
        ) from err
    except AttributeError as err:  # trusted: a class the unpickler cannot find
        if "__main__" in str(err):
            raise _from_script(path, _reason(err).removeprefix("AttributeError: ")) from err
        raise HarnessError(f"checkpoint {path} holds a pickled object whose class is not found here ({_reason(err)}); "
                           "save a state dict instead: torch.save(model.state_dict(), PATH)") from err
    except ImportError as err:  # trusted: an object of a module this machine does not have
        raise HarnessError(f"checkpoint {path} holds a pickled object of a module not found here ({_reason(err)}); "
                           "save a state dict instead: torch.save(model.state_dict(), PATH)") from err
    except Exception as err:  # whatever a damaged file makes the unpickler raise, it is the file's fault
        raise _damaged(path, _reason(err)) from err
    if isinstance(obj, dict):
        for key in CHECKPOINT_KEYS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise HarnessError(f"checkpoint {path} is not a state dict (a dict of tensors, possibly under {'/'.join(CHECKPOINT_KEYS)})")
    for key, value in obj.items():
        if not isinstance(key, str):
            raise HarnessError(f"checkpoint {path}: key {key!r} ({type(key).__name__}) is not a parameter name; a state "
                               "dict maps names to tensors: re-save it with torch.save(model.state_dict(), PATH)")
        if value.layout != torch.strided:
            raise HarnessError(f"checkpoint {path}: {key} is a {str(value.layout).removeprefix('torch.')} tensor; "
                               "weights must be dense: re-save it with each tensor .to_dense()")
        if value.is_meta:
            raise HarnessError(f"checkpoint {path}: {key} is a meta tensor (a shape without values); save the trained "
                               "weights, not a model built on the meta device")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _check_fit(model: nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> None:
    """Name the missing, unexpected and mis-shaped keys, a few of each, instead of torch's wall of text."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]

    def few(items: list[str]) -> str:
        return ", ".join(items[:3]) + (f" (+{len(items) - 3} more)" if len(items) > 3 else "")

    parts = [f"{label} {len(items)}: {few(items)}" for label, items in
             (("missing", missing), ("unexpected", unexpected), ("shape mismatch (file vs model)", mismatched)) if items]
    if parts:
        raise HarnessError(f"checkpoint {path} does not fit {type(model).__name__}: " + "; ".join(parts))
    for key, value in expected.items():  # loading would cast silently: int8 weights would be scored as floats
        if value.is_floating_point() and not state[key].is_floating_point():
            raise HarnessError(f"checkpoint {path}: {key} is {str(state[key].dtype).removeprefix('torch.')}, but "
                               f"{type(model).__name__} takes {str(value.dtype).removeprefix('torch.')} weights; "
                               "integer, bool, complex or quantized weights are not the trained weights: re-save "
                               "the floating-point state dict")


def create_model(
    model_id: int,
    checkpoint: str | Path | None = None,
    device: str | torch.device = "cpu",
    *,
    year: int = DEFAULT_YEAR,
    fast: bool = False,
    trust_checkpoint: bool = False,
    pretrained: bool = False,
    model_zoo: str | Path = MODEL_ZOO,
) -> nn.Module:
    """Build ``year``'s team ``model_id``, load ``checkpoint`` strictly if given, in eval mode, frozen.

    ``fast=True`` builds the team's output-equivalent fast implementation instead; it loads the
    same checkpoint. Complexity figures must always come from the faithful network.
    ``pretrained=True`` without ``checkpoint`` loads the official checkpoint from ``model_zoo``,
    downloading and verifying it first if needed (``models.zoo.fetch_checkpoint``); a HarnessError
    says so when it cannot be had.
    """
    spec = get_spec(model_id, year)
    if fast and spec.fast_builder is None:
        raise HarnessError(f"model {spec.display_name} has no fast variant; drop --fast")
    if pretrained and checkpoint is None:
        checkpoint = fetch_checkpoint(spec, model_zoo, required=True)
    builder = spec.fast_builder if fast else spec.builder
    model = builder(**spec.kwargs)
    if checkpoint is not None:
        state = load_state_dict(checkpoint, device=device, trust=trust_checkpoint)
        _check_fit(model, state, checkpoint)
        model.load_state_dict(state, strict=True)
    model.eval().requires_grad_(False)
    return model.to(device)
