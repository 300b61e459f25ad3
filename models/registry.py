"""The team registry: one file per team registers a :class:`ModelSpec`; everyone builds with ``create_model``.

A team file (``models/teamNN_Name.py``) holds its network and one ``register(ModelSpec(...))``
call that says everything the harness needs to know about the team: its challenge year, id,
display name, data range, constructor arguments and checkpoint file. Every year numbers its teams
from 00, so a team is known by (year, id). Nothing else is edited to add a team: the package
imports every ``team*.py`` module it finds.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from benchmark.errors import HarnessError
from benchmark.years import DEFAULT_YEAR, get_year
from models.zoo import fetch_checkpoint

MODEL_ZOO = Path(__file__).resolve().parents[1] / "model_zoo"
"""Where the harness looks for ``teamNN_name.pth`` when no checkpoint path is given."""

CHECKPOINT_KEYS = ("params_ema", "params", "state_dict")
"""Keys under which training toolboxes nest the state dict, in order of preference (EMA first)."""
_REFUSED_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+)|not an allowed global|safe_globals")
"""What ``torch.load(weights_only=True)`` says when it refuses a pickled object (as opposed to a damaged file)."""


@dataclass(frozen=True)
class ModelSpec:
    """Everything the harness knows about one team's network."""

    team_id: int
    name: str
    """Display name without the id, e.g. ``RFDN_baseline``; the official pattern adds ``NN_``."""
    builder: Callable[..., nn.Module]
    checkpoint: str
    """File name in ``model_zoo/``, official naming ``teamNN_name.pth``."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    data_range: float = 255.0
    """The value range the network expects: 255 (uint8 scale) or 1."""
    fast_builder: Callable[..., nn.Module] | None = None
    """An output-equivalent faster implementation that loads the same checkpoint, if the team has one."""
    year: int = DEFAULT_YEAR
    """The challenge year whose team ``team_id`` this is."""
    url: str | None = None
    """Where the official checkpoint is published; ``models.zoo.fetch_checkpoint`` downloads it from there."""
    sha256: str | None = None
    """The official checkpoint's sha256 (64 hex digits); a downloaded file that differs is never loaded."""

    def __post_init__(self) -> None:
        if self.url is not None and not (isinstance(self.sha256, str) and len(self.sha256) == 64
                                         and all(c in "0123456789abcdef" for c in self.sha256)):
            raise HarnessError(f"{self.display_name}: a checkpoint url needs its sha256 (64 lowercase hex digits) "
                               "so that the download can be verified")

    @property
    def display_name(self) -> str:
        return f"{self.team_id:02}_{self.name}"

    def checkpoint_in(self, model_zoo: Path = MODEL_ZOO) -> Path | None:
        """The team's checkpoint file in ``model_zoo``, or None when it is not there (timing-only runs)."""
        path = Path(model_zoo) / self.checkpoint
        return path if path.is_file() else None


_REGISTRY: dict[tuple[int, int], ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a team. Two files claiming one (year, id), or one results name, are a mistake worth stopping for."""
    get_year(spec.year)
    key = (spec.year, spec.team_id)
    if key in _REGISTRY and _REGISTRY[key].builder is not spec.builder:
        raise HarnessError(f"team {spec.team_id} of {spec.year} is registered twice: {_REGISTRY[key].name} and "
                           f"{spec.name}")
    same_name = [s for k, s in _REGISTRY.items() if k != key and s.display_name == spec.display_name]
    if same_name:
        raise HarnessError(f"{spec.display_name} of {spec.year} has the results name of team {same_name[0].team_id} of "
                           f"{same_name[0].year}; give one of them another name")
    _REGISTRY[key] = spec
    return spec


def list_models(year: int | None = None) -> list[ModelSpec]:
    """The registered teams of ``year`` (all years when None), ordered by year and id."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY) if year is None or k[0] == year]


def get_spec(model_id: int, year: int = DEFAULT_YEAR) -> ModelSpec:
    """The spec of ``year``'s team ``model_id``, or a HarnessError listing that year's registered ids."""
    if (year, model_id) not in _REGISTRY:
        known = ", ".join(f"{s.team_id} ({s.display_name})" for s in list_models(year)) or "none"
        raise HarnessError(f"unknown model id {model_id} for {year}; registered models of {year}: {known}")
    return _REGISTRY[(year, model_id)]


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
