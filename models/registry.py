"""The team registry: one file per team registers a :class:`ModelSpec`; everyone builds with ``create_model``.

A team file (``models/teamNN_Name.py``) holds its network and one ``register(ModelSpec(...))``
call that says everything the harness needs to know about the team: its challenge year, id,
display name, data range, constructor arguments and checkpoint file. Every year numbers its teams
from 00, so a team is known by (year, id). Nothing else is edited to add a team: the package
imports every ``team*.py`` module it finds.
"""

from __future__ import annotations

import pickle
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


def load_state_dict(path: str | Path, device: str | torch.device = "cpu", trust: bool = False) -> dict[str, torch.Tensor]:
    """Read a checkpoint's tensors without running code from it.

    ``torch.load(weights_only=True)`` refuses any pickled object other than tensors and plain
    containers, so a checkpoint cannot execute code on load. ``trust=True`` lifts that for a
    checkpoint whose author you trust. The state dict may be nested under ``params_ema``,
    ``params`` or ``state_dict``; a ``module.`` prefix (DataParallel) is stripped.
    """
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"checkpoint {path} not found; pass --checkpoint PATH or put the team's file in {MODEL_ZOO}/")
    try:
        obj = torch.load(path, map_location=device, weights_only=not trust)
    except pickle.UnpicklingError as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if trust:
            raise HarnessError(f"checkpoint {path} cannot be read: {reason}") from err
        raise HarnessError(
            f"checkpoint {path} holds pickled objects besides tensors and was not loaded (it could run code); "
            "re-save it as a plain state dict, or pass --trust-checkpoint if you trust its author"
        ) from err
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise HarnessError(f"checkpoint {path} cannot be read ({type(err).__name__}); is it a complete torch .pth file?") from err
    if isinstance(obj, dict):
        for key in CHECKPOINT_KEYS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise HarnessError(f"checkpoint {path} is not a state dict (a dict of tensors, possibly under {'/'.join(CHECKPOINT_KEYS)})")
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
    if not (missing or unexpected or mismatched):
        return

    def few(items: list[str]) -> str:
        return ", ".join(items[:3]) + (f" (+{len(items) - 3} more)" if len(items) > 3 else "")

    parts = [f"{label} {len(items)}: {few(items)}" for label, items in
             (("missing", missing), ("unexpected", unexpected), ("shape mismatch (file vs model)", mismatched)) if items]
    raise HarnessError(f"checkpoint {path} does not fit {type(model).__name__}: " + "; ".join(parts))


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
