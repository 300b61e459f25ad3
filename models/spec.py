"""What the harness knows about one team, as plain data beside its network: id, year, name, data range,
constructor arguments, checkpoint file, and where the official checkpoint is published (url, sha256).

A team file (``models/teamNN_Name.py``) holds its network and one ``register(ModelSpec(...))`` call."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from torch import nn

from benchmark.core.errors import HarnessError
from benchmark.core.years import DEFAULT_YEAR

MODEL_ZOO = Path(__file__).resolve().parents[1] / "model_zoo"
"""Where the harness looks for ``teamNN_name.pth`` when no checkpoint path is given."""


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
    size: int | None = None
    """The official checkpoint's size in bytes: a download never reads more (a mirror streaming without end)."""
    label: str | None = None
    """The results name of a network given as a file (``--model FILE:Class``), which has no team id."""

    def __post_init__(self) -> None:
        if self.url is not None and not (isinstance(self.sha256, str) and len(self.sha256) == 64
                                         and all(c in "0123456789abcdef" for c in self.sha256)):
            raise HarnessError(f"{self.display_name}: a checkpoint url needs its sha256 (64 lowercase hex digits) "
                               "so that the download can be verified")

    @property
    def display_name(self) -> str:
        return self.label or f"{self.team_id:02}_{self.name}"

    def code(self, fast: bool = False) -> list[Path]:
        """The source files a run of the network executes, for its record's ``code_sha256``: the builder's module,
        and the files its class names in ``sources`` (the fast SRneXt's compiled kernel)."""
        builder = self.fast_builder if fast and self.fast_builder is not None else self.builder
        return [Path(inspect.getfile(builder)), *map(Path, getattr(builder, "sources", ()))]

    def checkpoint_in(self, model_zoo: Path = MODEL_ZOO) -> Path | None:
        """The team's checkpoint file in ``model_zoo``, or None when it is not there (timing-only runs)."""
        path = Path(model_zoo) / self.checkpoint
        return path if path.is_file() else None
