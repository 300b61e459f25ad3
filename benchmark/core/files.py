"""Files written so that nothing is lost: sha256, atomic replacement (through symlinks, keeping the mode), a lock,
plain names, and output folders built whole that replace only a folder the same command made."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import stat
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.core.errors import HarnessError

PROJECT = Path(__file__).resolve().parents[2]
"""The checkout's root: the harness, its ``.venv`` and its caches."""


def sha256_of(path: str | Path) -> str:
    """The file's sha256, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_regular(path: str | Path, limit: int = 1 << 26, *, follow: bool = True) -> bytes:
    """The first ``limit`` bytes of ``path`` when it is a regular file; an ``OSError`` otherwise (FileNotFoundError when
    absent). Opened without waiting: a FIFO put where a file is read (by a team, whose files these are) would hold
    the reader for ever. ``follow=False`` refuses a link (in a folder a team may write, to what the reader may
    read and it may not)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        chunks, left = [], limit
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def json_of(text: str | bytes) -> Any:
    """The JSON value of ``text`` from a file a person may have edited; a ``ValueError`` when it is not JSON, also
    when it is nested past the parser's stack (a ``RecursionError`` that every reader's ``except ValueError`` would
    let through as a traceback)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def why_not_a_file(path: str | Path) -> str | None:
    """Why ``path`` is no regular file to read (``not found``, ``a folder``, ``a symlink loop``, ``not a regular file
    (a FIFO, socket or device)``), or None where it is one: a FIFO or a loop named as such, not as absent."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        if err.errno in (errno.ENOENT, errno.ENOTDIR):
            return "not found"
        return "a symlink loop" if err.errno == errno.ELOOP else f"cannot be reached ({err.strerror})"
    if stat.S_ISDIR(mode):
        return "a folder"
    return None if stat.S_ISREG(mode) else "not a regular file (a FIFO, socket or device)"


def tail_of(path: str | Path, size: int = 16384) -> str:
    """The last ``size`` bytes of a file as text (a log a team may have filled with gigabytes), "" when unreadable."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(f.tell() - size, 0))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def name_under(path: str | Path, base: Path | None) -> str:
    """``path`` relative to ``base`` where it lies inside it (a repository, the checkout: which may move between
    machines, or is shown shorter), else as it is."""
    path = Path(path)
    return str(path.relative_to(base)) if base is not None and path.is_relative_to(base) else str(path)


def small_text(path: Path, inside: Path, limit: int) -> str:
    """The text of ``path``, a file of the folder ``inside`` (a repository) that untrusted code may have made a link
    to anything, a FIFO that never ends or a device without end: a regular file within ``inside`` of at most ``limit``
    bytes, else a HarnessError naming it (relative to ``inside``)."""
    shown = name_under(path, inside)
    real = path.resolve()
    if not real.is_relative_to(inside.resolve()):
        raise HarnessError(f"{shown}: a link to {real}, outside {inside}; only a file of its own is read")
    if not real.is_file():
        kind = "a folder" if real.is_dir() else "not a regular file (a FIFO, socket or device)"
        raise HarnessError(f"{shown}: {kind}; only a text file is read")
    size = real.stat().st_size
    if size > limit:
        raise HarnessError(f"{shown}: {size:,} bytes, over the {limit:,} such a file may hold")
    return real.read_text(encoding="utf-8", errors="replace")


def companion(results: str | Path, suffix: str) -> Path:
    """A file named after the results file (``R.json`` → ``R.txt``, ``R.log``), so two results files never share one."""
    results = Path(results)
    return results.with_name(results.stem + suffix)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside ``path`` so that two runs writing the same results file both land."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path``'s target with ``text``: through a symlink, keeping the mode (umask's for a new file)."""
    target = path.resolve()
    try:
        mode = target.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o666 & ~umask()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def plain_name(name: Any) -> bool:
    """Whether ``name`` is one file or folder name: a non-empty string without a path separator, NUL, ``.`` or
    ``..``, so that ``folder / name`` always lies directly inside ``folder``."""
    return isinstance(name, str) and name not in ("", ".", "..") and not any(c in name for c in "/\\\0")


def umask() -> int:
    """The process's umask (reading it means setting it; it is set back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_out_path(out: Path, flag: str, fix: str, *, folder: bool = True) -> None:
    """``out`` can be written: a folder where a ``folder`` goes and a regular file where a file goes (a FIFO would
    hold the write for ever, a device such as ``/dev/full`` fail it after the work), under folders (existing or to
    make), and no symlink loop (found only when written, after the work). Each failure is one line naming ``flag``,
    ending with ``fix`` (what to choose instead)."""
    if why_not_a_file(out) == "a symlink loop":
        raise HarnessError(f"{flag} {out}: a symlink loop; {fix}")
    if folder and out.exists() and not out.is_dir():
        raise HarnessError(f"{flag} {out}: a file, not a folder; {fix}")
    if not folder and out.is_dir():
        raise HarnessError(f"{flag} {out}: a folder, not a file; {fix}")
    if not folder and out.exists() and not out.is_file():
        raise HarnessError(f"{flag} {out}: not a regular file (a FIFO, socket or device); {fix}")
    parent = next((p for p in out.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise HarnessError(f"{flag} {out}: {parent} is a file, not a folder; {fix}")


def write_report(out: Path, markdown: str, data: str) -> None:
    """A report and its ``.json`` beside it (``benchmark.speed``'s ``--out``, checked by :func:`check_out_path` before
    the work); a place that still refuses them once the work is done (no space left, a folder that cannot hold files
    such as /proc) is one line that says the tables printed are the run's figures."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(markdown)
        out.with_suffix(".json").write_text(data)
    except OSError as err:
        raise HarnessError(f"--out {out}: cannot be written ({err.strerror or err}); the tables above are the "
                           "run's figures; choose a writable path and run again") from None


MARKER = ".benchmark-output"
"""The file the harness writes into every folder it builds whole (a site, a prepared data set, compare's outputs).
Its first line names the command; a command replaces only a folder whose marker names it."""
COMPANIONS = (".failures.json", ".failures.inputs.json", ".sweep", ".txt", ".log", ".superseded.json")
"""What the harness keeps beside a results file ``R.json`` (``R.failures.json``, the logs in ``R.sweep/`` …)."""


def results_and_companions(results: Path) -> list[Path]:
    """A results file and everything named after it beside it (:data:`COMPANIONS`, its lock)."""
    return [results, *(companion(results, suffix) for suffix in COMPANIONS), results.with_name(results.name + ".lock")]


def _made_by(folder: Path) -> str | None:
    """The command named by ``folder``'s marker (``benchmark.site`` for a site built before the marker was shared),
    or None when it has none (or one that cannot be read, or is no regular file: a FIFO would hold the command for
    ever before any work)."""
    if (folder / ".benchmark-site").is_file() and not (folder / MARKER).exists():
        return "benchmark.site"
    try:
        return read_regular(folder / MARKER, 4096).decode("utf-8").partition("\n")[0].strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _resolved(path: Path, flag: str) -> Path:
    """``path`` after ``..`` and symlinks (as the system will reach it once its missing folders are made)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError) as err:  # a symlink loop
        raise HarnessError(f"{flag} {path}: cannot be resolved ({err}); remove the symlink loop or choose another "
                           "path") from None


def _refusal(real: Path, made_by: str) -> str | None:
    """Why the folder at ``real`` is not one ``made_by`` may replace (it holds what another made), or None."""
    if not real.is_dir():
        return None
    try:
        entries = sorted(p.name for p in real.iterdir())
    except OSError as err:
        return f"cannot be read ({err.strerror}), so it is left as it is"
    other = _made_by(real) if entries else made_by
    if other == made_by:
        return None
    listed = ", ".join(map(repr, entries[:3])) + (f" … ({len(entries)} entries)" if len(entries) > 3 else "")
    if other is None:
        return f"holds {listed}, which python -m {made_by} did not write, so it is left as it is"
    return f"was made by python -m {other} (it holds {listed}), not by python -m {made_by}, so it is left as it is"


@dataclass(frozen=True)
class OutFolder:
    """An output folder that a command builds whole and then replaces, checked before any work
    (:func:`out_folder`); :meth:`building` builds it."""

    path: Path
    """As the user gave it (for messages)."""
    real: Path
    """After ``..`` and symlinks: where it is built."""
    flag: str
    made_by: str
    """The command, as its marker names it (``benchmark.site``)."""

    def __str__(self) -> str:
        return str(self.path)

    @contextlib.contextmanager
    def building(self) -> Iterator[Path]:
        """A fresh folder beside the output to write into; when the block ends, it is marked and put in place whole
        (:func:`_replace_folder`). A block that fails leaves the output as it was, and no folder it made: an
        ``OSError`` (no space, no permission) is one line naming the flag."""
        created = [p for p in (self.real, *self.real.parents) if not p.exists()]  # deepest first
        tmp = _folder_beside(self.real, self.flag, "building")
        try:
            yield tmp
            _mark(tmp, self.made_by, "replaces this folder whole when it writes it again")
            _replace_folder(tmp, self.real, self.made_by)
        except BaseException as err:
            shutil.rmtree(tmp, ignore_errors=True)
            for parent in created[1:]:  # deepest first; one that now holds anything (not ours) stays
                with contextlib.suppress(OSError):
                    parent.rmdir()
            if isinstance(err, OSError):
                raise HarnessError(f"{self.flag} {self.path}: cannot write ({err.strerror}); choose a writable folder "
                                   "with free space") from None
            raise


    def kept(self) -> Path:
        """The folder itself, made and marked if it is new: for a command that adds to its folder build after build
        (the atlas, whose sweeps resume there) instead of replacing it whole; an ``OSError`` is one line."""
        try:
            self.real.mkdir(parents=True, exist_ok=True)
            if not (self.real / MARKER).exists():
                _mark(self.real, self.made_by, "adds to this folder and replaces its own files in it")
        except OSError as err:
            raise HarnessError(f"{self.flag} {self.path}: cannot write ({err.strerror}); choose a writable folder") \
                from None
        return self.real


def _mark(folder: Path, made_by: str, what: str) -> None:
    (folder / MARKER).write_text(f"{made_by}\nmade by python -m {made_by}, which {what}\n", encoding="utf-8")


def out_folder(out: Path, flag: str, made_by: str, fix: str, inputs: Iterable[tuple[str, Path]] = ()) -> OutFolder:
    """``out`` as a folder ``made_by`` (a command: ``benchmark.site``) may build and replace whole: new, empty, or
    made by that command before (its :data:`MARKER` says so), judged after ``..`` and symlinks; and none of
    ``inputs`` (label, path: what the run reads or keeps) lies in it. Checked before any work: otherwise one line
    naming ``flag``, the folder and ``fix``, and nothing is written or deleted."""
    real = _resolved(out, flag)
    shown_as = f"{out}" if real == out.absolute() else f"{out} (that is {real})"
    check_out_path(out, flag, fix)
    check_out_path(real, flag, fix)
    for label, path in inputs:
        inside = _resolved(path, label)
        if inside == real:
            raise HarnessError(f"{flag} {shown_as}: the same path as {label} {path}; give each a path of its own")
        if real in inside.parents:
            raise HarnessError(f"{flag} {shown_as}: holds {label} {path}, which replacing the folder would delete; "
                               "choose a folder that does not hold it")
    why = _refusal(real, made_by)
    if why is not None:
        raise HarnessError(f"{flag} {shown_as}: {why}; {fix}")
    return OutFolder(out, real, flag, made_by)


def _folder_beside(out: Path, flag: str, purpose: str) -> Path:
    """A new private folder beside ``out`` (its parents made), where a folder is built whole before
    :func:`_replace_folder` puts it in place; a place this user cannot write is one line naming ``flag``."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.{purpose}-"))
    except OSError as err:
        raise HarnessError(f"{flag} {out}: cannot create a folder there ({err.strerror}); choose a writable "
                           "folder") from None


def _replace_folder(tmp: Path, out: Path, made_by: str) -> None:
    """Make the complete folder ``tmp`` the folder ``out``, with the mode a folder made here gets (``mkdtemp`` made
    it private); a folder already at ``out`` is moved aside first, put back if the rename fails, and removed only
    once the new one is in place. Judged again here, the one place that deletes: a folder at ``out`` that
    ``made_by`` may not replace (it changed since :func:`out_folder` looked) is left as it is."""
    why = _refusal(out, made_by)
    if why is not None:
        raise HarnessError(f"{out}: {why} (it changed while the new one was built); nothing was replaced")
    os.chmod(tmp, 0o777 & ~umask())
    old = None
    if out.is_dir() and any(out.iterdir()):
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
        try:
            os.replace(out, old)  # onto the empty folder just made: the previous one, whole
        except BaseException:
            old.rmdir()
            raise
    try:
        os.replace(tmp, out)  # a missing or empty out is replaced by the complete folder
    except BaseException:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


KEY_LENGTH = 100
"""The longest key :func:`key_of` makes (a file name has at most 255 bytes)."""


def key_of(name: Any, fallback: str) -> str:
    """A name from untrusted code (a team's ``select_model``) as a results key and a file name: control and
    format characters, line breaks and path separators become ``_``, runs of spaces one space, the ends stripped;
    ``fallback`` where nothing plain is left (a blank name, ``.``, ``..``)."""
    text = "".join("_" if c in "/\\" or unicodedata.category(c)[0] in "CZ" and c != " " else c for c in str(name))
    text = " ".join(text.split())[:KEY_LENGTH].strip()
    return text if plain_name(text) and text.strip("._") else fallback
