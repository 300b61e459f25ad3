"""How a run measures, as one value: the same for every model of a run, sent as it is to a sweep's workers, and
stated in the records it produces."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from benchmark.core.errors import HarnessError


@dataclass(frozen=True)
class Settings:
    """Every choice that shapes a run's figures, besides the model and the data."""

    device: torch.device = torch.device("cpu")
    runs: int = 1
    """Timed passes over each split; the organizers report the mean of five since 2024."""
    warmup: int = 0
    """Untimed forwards before a second, warm timing of each split, recorded beside the official cold one (0: none)."""
    repeat: int = 1
    """Timed forwards per image; the median is kept."""
    ssim: bool = False
    y_channel: bool = False
    tile: int | None = None
    """Run in overlapping LR tiles of this size (a team's own, or ``--tile``); None runs whole images."""
    save_dir: Path | None = None
    """SR images go to ``save_dir/<model>/<split>/``; None saves nothing."""
    gpu_memory: float | None = None
    """GiB this process may allocate on the GPU (``--gpu-memory``), to see whether a model fits a smaller card."""
    vs_baseline: bool = False
    """Also time the year's baseline beside the model, image by image (``measure.paired``)."""
    reference: int | None = None
    """Also time this year's baseline beside the model as the reference network of every year (the atlas: 2026's
    SPAN), its ratio recorded apart from the year's baseline's; None: none."""
    backend: str = "eager"
    """How the model is run (``benchmark.measure.deploy.BACKENDS``); ``eager`` in ``fp32`` is the official protocol."""
    precision: str = "fp32"
    """The backend's arithmetic (``benchmark.measure.backend.PRECISIONS``)."""

    RECORDED = ("runs", "warmup", "repeat", "ssim", "y_channel", "vs_baseline", "gpu_memory", "reference")
    """What a record states of its settings (a sweep's resume check compares these)."""

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON values, the device left out: where a worker runs is decided where it is started."""
        out = {k: v for k, v in asdict(self).items() if k != "device"}
        out["save_dir"] = None if self.save_dir is None else str(self.save_dir)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any], device: torch.device) -> Settings:
        """The settings ``as_dict`` wrote, on ``device``."""
        known = {f.name for f in fields(cls)} - {"device"}
        unknown = set(values) - known
        if unknown:
            raise HarnessError(f"settings: unknown keys {sorted(unknown)}; the job was written by another harness version")
        save_dir = values.get("save_dir")
        return cls(device=device, **{**values, "save_dir": None if save_dir is None else Path(save_dir)})

    def recorded(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.RECORDED}
