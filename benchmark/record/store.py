"""The results file: official keys and units, one consistent record per model, written so that nothing is lost.

``results.json`` maps a model name (``05_SRneXt``) to its figures. A model's entry is one record:
it says what it was measured with (checkpoint path and sha256, variant, year, harness version,
device, team code), and every figure in it comes from a run with that identity. A run whose
identity differs replaces the entry instead of merging into it; the replaced record is appended to
``<stem>.superseded.json`` beside the file, never lost. Re-running a split replaces all of that
split's keys, so no figure of an earlier run survives beside fresh ones.

Each update takes a lock file, re-reads the file, changes one model's entry, and replaces the file
atomically (through a symlink, keeping the file's mode). A split is recorded only once complete. A
file that cannot be parsed is kept aside, never overwritten; a single malformed entry is set aside
alone.
"""

from __future__ import annotations

import contextlib
import json
import math
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from benchmark.core.errors import HarnessError
from benchmark.core.files import companion, json_of, locked, why_not_a_file, write_atomic
from benchmark.record.entry import differences, identity
from benchmark.record.keys import DERIVED_KEYS, IDENTITY_LABELS, SPLIT_SUFFIXES, splits_of

Derive = Callable[[dict[str, Any]], dict[str, Any]]
"""Computes an entry's ``DERIVED_KEYS`` from the whole entry (``rank.predict.prediction``)."""


class ResultsWarning(UserWarning):
    """Something about the results file needs the user's attention (a corrupt file or entry was kept aside)."""


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _drop_split(entry: dict[str, Any], split: str) -> None:
    for suffix in SPLIT_SUFFIXES:
        entry.pop(f"{split}_{suffix}", None)


def check_results_path(path: Path) -> None:
    """Refuse, before anything is read or written, a results path that is no regular file: a folder, a FIFO (reading
    blocks) or a device (``/dev/full`` reads without end) is never opened, renamed or replaced, and a path under a
    file (``R.json/x.json``) is named as such. A command checks its ``--results`` with this before it writes anything
    beside it (``R.log``)."""
    why = why_not_a_file(path)
    if why not in (None, "not found"):
        raise HarnessError(f"{path}: {why}; pass a results .json file (it is created when missing)")
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise HarnessError(f"{path}: {parent} is a file, not a folder; pass a results .json file in a folder")


def _parse(path: Path) -> Any:
    check_results_path(path)
    try:
        return json_of(path.read_text())
    except FileNotFoundError:
        raise HarnessError(f"{path}: results file not found; run test_demo.py --results {path} first") from None
    except IsADirectoryError:
        raise HarnessError(f"{path}: a folder, not a results file; pass the results .json file") from None
    except ValueError as err:  # not JSON, nested too deeply, or not UTF-8
        raise HarnessError(f"{path}: not a valid results file ({err}); re-run test_demo.py or restore a copy") from None
    except OSError as err:
        raise HarnessError(f"{path}: cannot be read ({err.strerror}); check the path and its permissions") from None


def read_results(path: str | Path, *, strict: bool = False) -> dict[str, dict[str, Any]]:
    """The results file's valid entries; a HarnessError naming the file if it is missing or not valid JSON.

    Entries that are not JSON objects are left out with a warning (``update_results`` sets them aside);
    with ``strict`` (the tools that rank or submit every entry) such an entry is a HarnessError naming it.
    """
    path = Path(path)
    data = _parse(path)
    if not isinstance(data, dict):
        raise HarnessError(f"{path}: expected a JSON object of model name → figures")
    bad = [name for name, entry in data.items() if not isinstance(entry, dict)]
    if bad and strict:
        kinds = {type(None): "null", bool: "a boolean", str: "a string", list: "a list"}
        kind = kinds.get(type(data[bad[0]]), "a number")
        raise HarnessError(f"{path}: entry {bad[0]!r} is {kind}, not an object of figures; remove it from the file "
                           "or re-run test_demo.py for it")
    if bad:
        warnings.warn(f"{path}: entry {bad[0]!r} is not an object of figures and was left out", ResultsWarning,
                      stacklevel=2)
    return {name: entry for name, entry in data.items() if isinstance(entry, dict)}


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null: JSON has no such numbers, and other readers reject them."""
    if isinstance(value, float):
        return _finite(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


@dataclass
class Update:
    """What ``update_results`` did: the file as written, and a record it replaced, if any."""

    results: dict[str, dict[str, Any]]
    replaced: list[str] = field(default_factory=list)
    """Splits of the earlier record that the new identity replaced (moved to ``aside``)."""
    changed: list[str] = field(default_factory=list)
    """The identity keys that differed."""
    aside: Path | None = None
    restored: list[str] = field(default_factory=list)
    """Entries of ``keep`` that the file no longer held as written, put back (a file changed behind the writer's back)."""

    def replaced_line(self, name: str) -> str | None:
        """What the console says when this update replaced ``name``'s earlier record; None when it did not."""
        if not self.replaced:
            return None
        changed = " and ".join(IDENTITY_LABELS[key] for key in self.changed)
        return (f"{name}: measured with another {changed} than its recorded run, so that run's splits "
                f"({', '.join(self.replaced)}) were replaced; the old record is kept in {self.aside}")


def _set_aside(path: Path, items: dict[str, Any], why: str) -> Path:
    """Append ``items`` (name → entry) to ``<stem>.superseded.json`` with the time and the reason."""
    aside = companion(path, ".superseded.json")
    kept: list[Any] = []
    if aside.exists():
        with contextlib.suppress(HarnessError):
            previous = _parse(aside)
            kept = previous if isinstance(previous, list) else [previous]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    kept += [{"model": name, "set_aside": now, "reason": why, "entry": entry} for name, entry in items.items()]
    write_atomic(aside, json.dumps(_json_safe(kept), indent=2, allow_nan=False) + "\n")
    return aside


def update_results(path: str | Path, model_name: str | None, record: dict[str, Any] | None = None,
                   splits: dict[str, dict[str, Any]] | None = None, *, supersedes: tuple[str, ...] = (),
                   keep: dict[str, dict[str, Any]] | None = None, derive: Derive | None = None) -> Update:
    """Write ``model_name``'s record and the keys of ``splits`` (split name → its keys) into ``path``.

    ``supersedes`` names entries this one replaces (a team renamed since): they are set aside. ``keep``
    holds entries as the caller wrote them before (name → entry): under the lock, each that the file no
    longer holds as written is put back and listed in ``Update.restored``. A ``model_name`` of None only
    checks ``keep``. Other models are left as they were. With the same identity the record's keys are updated and
    each given split replaces that split's earlier keys; with another identity the earlier entry is
    set aside whole and the new record starts afresh. The entry's ``DERIVED_KEYS`` are then computed
    afresh by ``derive`` from the entry as it will be written (dropped without one), so that none
    outlives the figures it came from. A file that cannot be parsed is renamed
    ``<name>.corrupt-<time>`` and a new file is started; malformed entries are set aside alone.
    """
    path = Path(path)
    check_results_path(path)
    try:
        with locked(path):
            return _update(path, model_name, record or {}, splits or {}, supersedes, keep or {}, derive)
    except OSError as err:
        raise HarnessError(f"{path}: cannot write the results file ({err.strerror}); choose another --results "
                           "or free some space") from None


def _writer(entry: dict[str, Any]) -> Any:
    """Who wrote an entry (a sweep's ``sweep.written_by``): another writer's later entry is not put back over."""
    sweep = entry.get("sweep")
    return sweep.get("written_by") if isinstance(sweep, dict) else None


def _as_written(entry: Any) -> Any:
    return json.loads(json.dumps(_json_safe(entry)))


def _update(path: Path, name: str | None, record: dict[str, Any], splits: dict[str, dict[str, Any]],
            supersedes: tuple[str, ...], keep: dict[str, dict[str, Any]], derive: Derive | None) -> Update:
    results: dict[str, Any] = {}
    if path.exists():
        try:
            results = _parse(path)
            if not isinstance(results, dict):
                raise HarnessError(f"{path}: expected a JSON object")
        except HarnessError:
            check_results_path(path)
            aside = path.with_name(f"{path.name}.corrupt-{datetime.now():%Y%m%d-%H%M%S}")
            path.resolve().rename(aside)
            warnings.warn(f"{path} could not be parsed; kept it as {aside} and started a new file", ResultsWarning,
                          stacklevel=3)
            results = {}
    bad = {k: v for k, v in results.items() if not isinstance(v, dict)}
    if bad:
        aside = _set_aside(path, bad, "not an object of figures")
        warnings.warn(f"{path}: malformed entries {', '.join(map(repr, bad))} moved to {aside}", ResultsWarning,
                      stacklevel=3)
        results = {k: v for k, v in results.items() if k not in bad}
    update = Update(results)
    for kept, entry in keep.items():
        now = results.get(kept)
        if now != _as_written(entry) and (not isinstance(now, dict) or _writer(now) in (None, _writer(entry))):
            results[kept] = entry
            update.restored.append(kept)
    gone = {old: results.pop(old) for old in supersedes if old != name and old in results}
    if gone:
        _set_aside(path, gone, f"replaced by {name}, the same team under a new name")
    if name is None:
        if update.restored:
            write_atomic(path, json.dumps(_json_safe(results), indent=2, allow_nan=False) + "\n")
        return update
    entry = results.get(name)
    if entry is not None and identity(entry) != identity(record):
        update.changed = differences(entry, record)
        update.replaced = splits_of(entry)
        update.aside = _set_aside(path, {name: entry}, "replaced by a run whose " + ", ".join(update.changed)
                                  + " differ")
        entry = None
    entry = {**(entry or {}), **record}
    order = splits_of(entry)
    for split, keys in splits.items():
        _drop_split(entry, split)
        entry.update(keys)
        order = [s for s in order if s != split] + [split]
    entry["splits"] = order
    for key in DERIVED_KEYS:
        entry.pop(key, None)
    if derive is not None:
        entry.update(derive(entry))
    results[name] = entry
    write_atomic(path, json.dumps(_json_safe(results), indent=2, allow_nan=False) + "\n")
    return update


def withdraw(path: str | Path, name: str, reason: str) -> Update:
    """Take ``name``'s entry out of the results file, into ``<stem>.superseded.json`` with ``reason`` (a deployment
    run judged beyond its tolerance: what its record held is kept there, never lost, and never read as figures)."""
    path = Path(path)
    check_results_path(path)
    try:
        with locked(path):
            results = read_results(path) if path.exists() else {}
            update = Update(results)
            if name in results:
                entry = results.pop(name)
                if splits_of(entry):  # a record without a split holds no figure to keep
                    update.aside = _set_aside(path, {name: entry}, reason)
                write_atomic(path, json.dumps(_json_safe(results), indent=2, allow_nan=False) + "\n")
            return update
    except OSError as err:
        raise HarnessError(f"{path}: cannot write the results file ({err.strerror}); choose another --results "
                           "or free some space") from None


def merge_failures(path: Path, failed: dict[str, str], cleared: set[str]) -> dict[str, str]:
    """Under its lock, re-read the failures file ``path`` (label → one-line reason), add ``failed``, drop ``cleared``
    and write it back (when either is given, or what it held was not such an object: a file edited by hand is
    rewritten in the sweep's form, so that every later reader reads it); returns what it holds. Unreadable content
    counts as none."""
    try:
        with locked(path):
            try:
                loaded = json_of(path.read_text()) if path.is_file() else {}
            except OSError:  # unreadable: left as it is
                loaded = {}
            except ValueError:  # not JSON: rewritten
                loaded = None
            on_file = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
            merged = {k: v for k, v in {**on_file, **failed}.items() if k not in cleared}
            if failed or cleared or (path.is_file() and loaded != on_file):
                write_atomic(path, json.dumps(dict(sorted(merged.items())), indent=2) + "\n")
    except OSError as err:
        raise HarnessError(f"{path}: cannot write the failures file ({err.strerror}); choose another --results") \
            from None
    return merged
