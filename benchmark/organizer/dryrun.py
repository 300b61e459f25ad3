"""``--cpu-dry-run``: a team written for a GPU, built, profiled and scored on a CPU.

Team code calls ``.cuda()`` while it is built (SPAN's constructor runs a forward on the GPU), passes
``device="cuda"`` to factories, loads checkpoints saved on a GPU and synchronises CUDA. Inside
:func:`cpu_only` every such device becomes the CPU: a :class:`~torch.overrides.TorchFunctionMode` rewrites
the device of every torch call (``Tensor.cuda`` returns the tensor where it is), and the CUDA calls that need no GPU to mean nothing (synchronize, current_device)
do nothing; the worker's ``torch.load`` maps storages to the CPU. Figures that depend on the device (runtime, memory) are not of record in such a run: its
entry says ``dry_run: true`` and holds none.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
from collections.abc import Iterator
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from benchmark.core.errors import HarnessError
from models.factory import refused


def _is_cuda(value: Any) -> bool:
    if isinstance(value, torch.device):
        return value.type == "cuda"
    return isinstance(value, str) and value.split(":")[0] == "cuda"


def _cpu(value: Any) -> Any:
    return "cpu" if _is_cuda(value) else value


class CpuDevices(TorchFunctionMode):
    """Every CUDA device named in a torch call becomes the CPU."""

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 - torch's protocol
        kwargs = dict(kwargs or {})
        name = getattr(func, "__name__", "")
        if name == "cuda" and args and isinstance(args[0], torch.Tensor):
            return args[0]
        if "device" in kwargs:
            kwargs["device"] = _cpu(kwargs["device"])
        if name == "to":
            args = tuple(_cpu(a) for a in args)
        return func(*args, **kwargs)


@contextlib.contextmanager
def cpu_only() -> Iterator[None]:
    """Run team code with CUDA mapped to the CPU (see the module's docstring)."""
    patched = {"synchronize": lambda *a, **k: None, "current_device": lambda: 0}
    saved = {name: getattr(torch.cuda, name) for name in patched}
    for name, replacement in patched.items():
        setattr(torch.cuda, name, replacement)
    try:
        with CpuDevices():
            yield
    finally:
        for name, value in saved.items():
            setattr(torch.cuda, name, value)


def _told(err: Exception) -> bool:
    """torch.load errors that already say what is wrong: pickled objects refused, storages on a missing CUDA."""
    return bool(re.search(r"weights.only|cuda|pickle", str(err), re.IGNORECASE)) and not isinstance(err, IndexError)


def not_a_checkpoint(path: str, err: Exception) -> HarnessError:
    """One line for a file torch.load cannot read at all (a link to a system file, a truncated download)."""
    real = os.path.realpath(path)
    link = f" (a link to {real})" if real != os.path.abspath(path) else ""
    return HarnessError(f"checkpoint {os.path.normpath(path)}{link} is not a file torch.load can read "
                        f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no message'})")


class Loads:
    """``torch.load`` for the team's code: pickles allowed with ``--trust-checkpoint``, storages mapped to the CPU in a
    dry run; the paths it was asked for (for the line that says a checkpoint is missing)."""

    def __init__(self, trust: bool, cpu: bool = False) -> None:
        self.trust, self.cpu = trust, cpu
        self.attempted: list[str] = []

    @contextlib.contextmanager
    def recording(self):
        original = torch.load

        def load(f, *args, **kwargs):  # torch.load's signature
            if isinstance(f, (str, os.PathLike)):
                self.attempted.append(os.fspath(f))
            if self.trust:
                kwargs.setdefault("weights_only", False)
            else:  # the team's own weights_only=False or pickle_module does not lift it: --trust-checkpoint does
                args, kwargs = args[:1], {**kwargs, "weights_only": True}
                kwargs.pop("pickle_module", None)
            if self.cpu:
                args, kwargs = args[1:] if args else args, {**kwargs, "map_location": "cpu"}
            try:
                return original(f, *args, **kwargs)
            except pickle.UnpicklingError as err:
                line = refused(os.fspath(f), err) if isinstance(f, (str, os.PathLike)) and not self.trust else None
                if line is None:
                    raise
                raise line from err
            except Exception as err:
                if not isinstance(f, (str, os.PathLike)) or isinstance(err, OSError) or _told(err):
                    raise
                raise not_a_checkpoint(os.fspath(f), err) from err

        torch.load = load
        try:
            yield self
        finally:
            torch.load = original


DEVICE_KEYS = ("runtime", "ave_runtime", "runs_ave_runtime", "memory", "peak_memory", "forward_seconds")
"""Split keys a dry run holds no figure of record for (null): they would be the CPU's, not the team's device's."""
STATS_DESCRIPTION = ("clock", "warmup", "repeat", "runs", "of")
"""The keys of ``runtime_stats`` that describe how it was timed rather than hold a time."""


def dry_keys(keys: dict[str, Any], split: str) -> dict[str, Any]:
    """A split's keys as a dry run records them: no figure the CPU gave in place of the team's device."""
    keys = {**keys, **{f"{split}_{k}": None for k in DEVICE_KEYS}}
    stats = keys.get(f"{split}_runtime_stats")
    if isinstance(stats, dict):  # every figure of the CPU's times, the protocol's description kept
        keys[f"{split}_runtime_stats"] = {k: (v if k in STATS_DESCRIPTION else None) for k, v in stats.items()}
    return keys
