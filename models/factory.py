"""Building a team's network: ``create_model`` (the one front door for registered teams), ``build_model`` (any spec,
a network given as a file included: ``file_spec``) and loading a checkpoint safely.

Checkpoints are state dicts, plain or nested under the keys training toolboxes use; pickled objects
are refused unless trusted, and a checkpoint that does not fit the network is named with what differs."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pickle
import re
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from benchmark.core.errors import HarnessError
from benchmark.core.files import why_not_a_file
from benchmark.core.years import DEFAULT_YEAR
from models.registry import get_spec
from models.spec import MODEL_ZOO, ModelSpec
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


def _is(why: str) -> str:
    """``core.files.why_not_a_file``'s reason after a path: ``is a folder``, ``is not a regular file …``,
    ``not found``."""
    return f"is {why}" if why.startswith(("a ", "not a ")) else why


def _damaged(path: Path, reason: str) -> HarnessError:
    return HarnessError(f"checkpoint {path} is damaged or not a torch checkpoint ({reason}); re-download it")


def _from_script(path: Path, what: str) -> HarnessError:
    return HarnessError(f"checkpoint {path} holds a pickled object from the script that saved it ({what}), which "
                        "cannot be rebuilt here; save a state dict instead: torch.save(model.state_dict(), PATH)")


def refused(path: str | Path, err: pickle.UnpicklingError) -> HarnessError | None:
    """The one line for a checkpoint whose pickled objects ``torch.load(weights_only=True)`` refused, or None when
    ``err`` says the file is damaged instead."""
    found = _REFUSED_GLOBAL.search(str(err))
    if found is None:
        return None
    what = found[1].rstrip(".,;") if found[1] else None
    if what and what.startswith("__main__."):
        return _from_script(Path(path), what)
    return HarnessError(
        f"checkpoint {path} holds pickled objects besides tensors{f' ({what})' if what else ''} and was not loaded "
        "(it could run code); re-save it as a plain state dict, or pass --trust-checkpoint if you trust its author")


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
    why = why_not_a_file(path)
    if why is not None:
        raise HarnessError(f"checkpoint {path} {_is(why)}; pass --checkpoint PATH or put the team's file in "
                           f"{MODEL_ZOO}/")
    _check_archive(path)
    try:
        obj = torch.load(path, map_location=device, weights_only=not trust)
    except pickle.UnpicklingError as err:
        line = None if trust else refused(path, err)
        if line is None:
            raise _damaged(path, _reason(err)) from err
        raise line from err
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
    if pretrained and checkpoint is None:
        checkpoint = fetch_checkpoint(spec, model_zoo, required=True)
    return build_model(spec, checkpoint, device, fast=fast, trust_checkpoint=trust_checkpoint)


def build_model(spec: ModelSpec, checkpoint: str | Path | None = None, device: str | torch.device = "cpu", *,
                fast: bool = False, trust_checkpoint: bool = False) -> nn.Module:
    """The network ``spec`` describes (registered or not), ``checkpoint`` loaded strictly if given, in eval mode,
    frozen, on ``device``."""
    if fast and spec.fast_builder is None:
        raise HarnessError(f"model {spec.display_name} has no fast variant; drop --fast")
    builder = spec.fast_builder if fast else spec.builder
    try:
        with _process_exit_refused() if spec.label is not None else contextlib.nullcontext():
            model = builder(**spec.kwargs)
    except TypeError as err:
        if spec.label is None:
            raise
        raise HarnessError(f"--model {spec.name}: cannot be built with {spec.kwargs or 'no arguments'} ({err}); "
                           "pass its constructor's arguments with --model-args JSON") from None
    except (Exception, SystemExit, _ProcessExit) as err:  # the researcher's own code: its mistake, not the harness's
        if spec.label is None:
            raise
        raise HarnessError(f"--model {spec.name}: building it failed ({_failure(err)}); run it with python to see "
                           "the whole error") from err
    if not isinstance(model, nn.Module):
        raise HarnessError(f"{spec.display_name}: {spec.name} built a {type(model).__name__}, not a torch.nn.Module")
    if checkpoint is not None:
        state = load_state_dict(checkpoint, device=device, trust=trust_checkpoint)
        _check_fit(model, state, checkpoint)
        model.load_state_dict(state, strict=True)
    model.eval().requires_grad_(False)
    return model.to(device)


class _ProcessExit(BaseException):
    """Raised instead of ``os._exit`` while a network file is imported: reported, where the process would vanish."""


@contextlib.contextmanager
def _process_exit_refused() -> Iterator[None]:
    """``os._exit`` in this thread raises :class:`_ProcessExit` (other threads, such as a worker's watchdog, keep
    the real one)."""
    real, importer = os._exit, threading.get_ident()

    def refuse(status: int) -> None:
        if threading.get_ident() != importer:
            real(status)
        raise _ProcessExit(status)

    os._exit = refuse
    try:
        yield
    finally:
        os._exit = real


def _failure(err: BaseException) -> str:
    """``ValueError: its first line``, or ``it called sys.exit(3)`` (``os._exit(3)``)."""
    if isinstance(err, SystemExit):
        return f"it called sys.exit({err.code!r})"
    if isinstance(err, _ProcessExit):
        return f"it called os._exit({err.args[0]!r})"
    first = (str(err).strip().splitlines() or [""])[0]
    return f"{type(err).__name__}: {first}"


def _shadowed(err: BaseException, path: Path, target: str) -> None:
    """A HarnessError when ``err`` is the file importing a module of its own folder (``models.py``, ``benchmark/``)
    that the harness's package of that name hides: running the file with python works, so say why it fails here."""
    top = (getattr(err, "name", None) or "").partition(".")[0] if isinstance(err, ImportError) else ""
    loaded = getattr(sys.modules.get(top), "__file__", None) or ""
    own = next((p.name for p in (path.parent / f"{top}.py", path.parent / top) if top and p.exists()), None)
    if own and loaded and not Path(loaded).resolve().is_relative_to(path.parent):
        raise HarnessError(f"--model {target}: {path.name} imports its {own}, but {top} here is the harness's own "
                           f"package ({loaded}); rename your {own} (e.g. {top}_{path.stem}) and its imports") from err


def load_class(target: str) -> tuple[Path, Callable[..., Any]]:
    """``path/to/arch.py:ClassName``: the file and the class (or function) in it that builds the network.

    The file is the researcher's own code, outside the checkout: it is imported as running it would (its folder
    goes on ``sys.path``, last, so that a module beside it imports), under a private module name."""
    where, sep, attr = target.rpartition(":")
    if not sep or not where or not attr.isidentifier():
        raise HarnessError(f"--model {target}: expected FILE.py:ClassName (the file that defines the network, and "
                           "the class in it)")
    why = why_not_a_file(Path(where).expanduser())  # before resolving: a symlink loop was a RuntimeError traceback
    if why is not None:
        raise HarnessError(f"--model {target}: {where} {_is(why)}; pass the file that defines the network")
    path = Path(where).expanduser().resolve()
    module_name = "_esr_network_" + hashlib.sha256(str(path).encode()).hexdigest()[:16]
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise HarnessError(f"--model {target}: {path} is not a Python file")
        module = importlib.util.module_from_spec(spec)
        if str(path.parent) not in sys.path:
            sys.path.append(str(path.parent))
        sys.modules[module_name] = module
        try:
            with _process_exit_refused():
                spec.loader.exec_module(module)
        except (Exception, SystemExit, _ProcessExit) as err:  # an exit at import: one line, never a silent exit
            del sys.modules[module_name]
            _shadowed(err, path, target)
            raise HarnessError(f"--model {target}: importing {path.name} failed ({_failure(err)}); run it with python "
                               "to see the whole error") from err
    builder = vars(module).get(attr)  # a name the file defines or imports, not a module's own (__init__, __dir__)
    if not callable(builder):
        found = sorted(n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, nn.Module)
                       and v.__module__ == module_name)
        raise HarnessError(f"--model {target}: {path.name} defines no {attr}; its networks: "
                           f"{', '.join(found) or 'none'}")
    return path, builder


def file_spec(target: str, *, data_range: float = 255.0, kwargs: dict[str, Any] | None = None,
              name: str | None = None, year: int = DEFAULT_YEAR, checkpoint: str | Path | None = None) -> ModelSpec:
    """The spec of a network given as a file (``--model FILE:Class``): not registered, named ``name`` (default: the
    class's name) in results, measured by ``year``'s rules."""
    _, builder = load_class(target)
    attr = target.rpartition(":")[2]
    if data_range not in (1.0, 255.0):
        raise HarnessError(f"--data-range {data_range:g}: the network takes its input in [0, 1] (1) or [0, 255] (255)")
    return ModelSpec(team_id=0, name=attr, builder=builder, checkpoint=str(checkpoint or ""), kwargs=dict(kwargs or {}),
                     data_range=float(data_range), year=year, label=name or attr)
