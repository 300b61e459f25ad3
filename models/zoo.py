"""Official checkpoints fetched by URL and checked by sha256, as timm, torchvision and BasicSR do.

A fresh clone has an empty ``model_zoo/``, so without this every model would be timed on random
weights and score no PSNR. Each team's spec says where its official checkpoint is published
(``url``) and its ``sha256``; :func:`fetch_checkpoint` downloads it once into ``model_zoo/``, from
there or from a mirror (``ESR_ZOO_URL`` / ``--zoo-url BASE``: ``BASE/<file name>``). The file gets its
loadable name only once complete and verified: an interrupted download leaves nothing behind, and a
file whose hash differs is kept aside as ``<name>.sha256-mismatch`` and never loaded. Offline
(``ESR_OFFLINE=1`` / ``--offline``) or with the server out of reach, the run goes on timing only and
one line says where the official file comes from.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import requests
import urllib3

from benchmark.core.errors import HarnessError
from benchmark.core.files import sha256_of
from models.spec import ModelSpec

OFFLINE_ENV = "ESR_OFFLINE"
"""Set to 1 (or true/yes/on) to never download, like ``HF_HUB_OFFLINE``."""
ZOO_URL_ENV = "ESR_ZOO_URL"
"""A mirror: checkpoints are fetched from ``$ESR_ZOO_URL/<file name>`` instead of each spec's url."""
MISMATCH_SUFFIX = ".sha256-mismatch"
STALL_SECONDS = 60.0
"""A server that accepts no connection, or sends nothing, for this long counts as unreachable."""


class _Unavailable(Exception):
    """The checkpoint cannot be had; the message says why (no newline)."""


def _offline_from_env() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _reason(err: BaseException) -> str:
    """One short line for a failed download: the innermost cause (``IncompleteRead(…)``, ``Connection refused``)."""
    if isinstance(err, _TooMuch):
        return str(err)
    inner = err
    while True:
        nested = [a for a in getattr(inner, "args", ()) if isinstance(a, BaseException)]
        cause = nested[-1] if nested else inner.__cause__ or inner.__context__
        if cause is None or cause is inner or not isinstance(cause, Exception):
            break
        inner = cause
    if isinstance(inner, OSError) and inner.strerror:
        text = inner.strerror
    else:
        text = f"{type(inner).__name__}: {inner}" if str(inner) else type(inner).__name__
    return " ".join(text.split())


class _TooMuch(Exception):
    """A download over its size bound or its deadline (a mirror that never ends, or drips)."""


DOWNLOAD_CAP = 1 << 30
"""Bytes a download may read when neither the spec nor the server says how large the file is."""
DOWNLOAD_SECONDS = 900.0
"""The longest a whole download may take, however the bytes trickle in."""
CHUNK = 1 << 16


def _copy(chunks: Iterator[bytes], tmp: Path, limit: int, deadline: float, source: str) -> None:
    with open(tmp, "wb") as f:
        total = 0
        for chunk in chunks:
            total += len(chunk)
            if total > limit:
                raise _TooMuch(f"{source} sent more than the {limit:,} bytes expected; stopped reading")
            if time.monotonic() > deadline:
                raise _TooMuch(f"not complete within {DOWNLOAD_SECONDS:g} s; stopped")
            f.write(chunk)


def _download(url: str, tmp: Path, size: int | None) -> None:
    """``url`` into ``tmp`` with ``requests``: connect and stall timeouts, at most ``size`` bytes (else the server's
    Content-Length, else :data:`DOWNLOAD_CAP`), all within :data:`DOWNLOAD_SECONDS`. ``file://`` is read alike."""
    deadline = time.monotonic() + DOWNLOAD_SECONDS
    if url.startswith("file://"):
        path = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
        with open(path, "rb") as f:
            _copy(iter(lambda: f.read(CHUNK), b""), tmp, size or DOWNLOAD_CAP, deadline, url)
        return
    with requests.get(url, stream=True, timeout=(STALL_SECONDS, STALL_SECONDS)) as response:
        if response.status_code != 200:
            raise _TooMuch(f"HTTP {response.status_code} {response.reason}")
        announced = response.headers.get("Content-Length", "")
        limit = size or (int(announced) if announced.isdigit() else DOWNLOAD_CAP)
        _copy(iter(lambda: response.raw.read1(CHUNK, decode_content=True), b""), tmp, limit, deadline, url)


def _obtain(spec: ModelSpec, target: Path, source: str) -> Path:
    """Download ``source`` to a temporary file beside ``target``, verify it, and rename it into place."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.download")
    try:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if sys.stderr.isatty():
                print(f"{spec.display_name}: downloading {source}", file=sys.stderr)
            _download(source, tmp, spec.size)
        except (OSError, requests.RequestException, urllib3.exceptions.HTTPError, _TooMuch, ValueError) as err:
            raise _Unavailable(f"no checkpoint {target} and the download failed ({_reason(err)})") from err
        try:
            digest, size = sha256_of(tmp), tmp.stat().st_size
            if digest != spec.sha256:
                aside = target.with_name(target.name + MISMATCH_SUFFIX)
                os.replace(tmp, aside)
                raise _Unavailable(f"refused {source}: its sha256 {digest[:12]}… ({size} bytes) is not the published "
                                   f"{spec.sha256[:12]}…; kept aside as {aside}, not loaded")
            os.replace(tmp, target)
        except OSError as err:
            raise _Unavailable(f"no checkpoint {target}: the download could not be stored ({_reason(err)})") from err
    finally:
        tmp.unlink(missing_ok=True)
    print(f"{spec.display_name}: downloaded {target} from {source} (sha256 verified)", file=sys.stderr)
    return target


def fetch_checkpoint(spec: ModelSpec, model_zoo: str | Path, base_url: str | None = None, offline: bool = False,
                     *, required: bool = False) -> Path | None:
    """The team's checkpoint in ``model_zoo``, downloaded and verified first if it is not there.

    The file comes from ``base_url/<spec.checkpoint>`` when a mirror is given (``base_url``, else
    ``$ESR_ZOO_URL``; a URL or a folder), otherwise from ``spec.url``, and must match ``spec.sha256``.
    A file already in ``model_zoo`` is returned as it is (it may be your own weights). A spec without
    ``url`` gives None silently. When the file cannot be had (``offline``, ``$ESR_OFFLINE``, the server out of reach, a
    hash mismatch), one line on stderr says so and where the official file comes from, and the result
    is None; with ``required=True`` that line is raised as a :class:`HarnessError` instead.
    Interrupts (Ctrl-C) propagate, leaving no file behind.
    """
    target = Path(model_zoo) / spec.checkpoint
    if target.is_file():
        return target
    if spec.url is None:
        if required:
            raise HarnessError(f"{spec.display_name} has no published checkpoint (its spec has no url); "
                               f"pass checkpoint=PATH or put {spec.checkpoint} in {model_zoo}")
        return None
    base_url = base_url or os.environ.get(ZOO_URL_ENV) or None
    if base_url and "://" not in base_url:  # a folder: a local mirror
        base_url = Path(base_url).resolve().as_uri()
    source = f"{base_url.rstrip('/')}/{spec.checkpoint}" if base_url else spec.url
    try:
        if offline or _offline_from_env():
            raise _Unavailable(f"no checkpoint {target} and offline (--offline or {OFFLINE_ENV}=1)")
        return _obtain(spec, target, source)
    except _Unavailable as err:
        official = f"the official file is {spec.url} (sha256 {spec.sha256[:8]}…)"
        if required:
            raise HarnessError(f"{spec.display_name}: {err}; {official}") from None
        print(f"{spec.display_name}: {err}; timing only — {official}", file=sys.stderr)
        return None
