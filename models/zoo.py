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

import glob
import http.client
import os
import socket
import sys
import uuid
from pathlib import Path
from urllib.error import HTTPError, URLError

import torch.hub

from benchmark.core.errors import HarnessError
from benchmark.core.files import sha256_of
from models.spec import ModelSpec

OFFLINE_ENV = "ESR_OFFLINE"
"""Set to 1 (or true/yes/on) to never download, like ``HF_HUB_OFFLINE``."""
ZOO_URL_ENV = "ESR_ZOO_URL"
"""A mirror: checkpoints are fetched from ``$ESR_ZOO_URL/<file name>`` instead of each spec's url."""
MISMATCH_SUFFIX = ".sha256-mismatch"
STALL_SECONDS = 60.0
"""A server that sends nothing for this long counts as unreachable (the default socket has no timeout)."""


class _Unavailable(Exception):
    """The checkpoint cannot be had; the message says why (no newline)."""


def _offline_from_env() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _reason(err: BaseException) -> str:
    """One short line for a failed download."""
    if isinstance(err, HTTPError):
        text = f"HTTP {err.code} {err.reason}"
    elif isinstance(err, URLError):
        text = str(err.reason)
    else:
        text = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    return " ".join(text.split())


def _download(url: str, tmp: Path) -> None:
    """``torch.hub``'s downloader (its own ``.partial`` file, removed on any failure), with a stall timeout."""
    previous = socket.getdefaulttimeout()
    if previous is None:
        socket.setdefaulttimeout(STALL_SECONDS)
    try:
        torch.hub.download_url_to_file(url, str(tmp), progress=sys.stderr.isatty())
    finally:
        socket.setdefaulttimeout(previous)


def _obtain(spec: ModelSpec, target: Path, source: str) -> Path:
    """Download ``source`` to a temporary file beside ``target``, verify it, and rename it into place."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.download")
    try:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if sys.stderr.isatty():
                print(f"{spec.display_name}: downloading {source}", file=sys.stderr)
            _download(source, tmp)
        except (OSError, http.client.HTTPException, ValueError) as err:  # URLError/HTTPError are OSErrors
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
        for partial in tmp.parent.glob(glob.escape(tmp.name) + ".*.partial"):  # torch.hub leaks it on a bad URL
            partial.unlink(missing_ok=True)
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
