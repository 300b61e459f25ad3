"""Official checkpoints fetched by URL and checked by sha256, from a local mirror of ``shared/reference/model_zoo``.

Every server here listens on 127.0.0.1: no test reaches outside the machine. conftest sets
ESR_OFFLINE=1 for the session; the tests that download unset it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.hub
from torch import nn

import models
import test_demo
from benchmark.core.errors import HarnessError
from benchmark.imaging.images import write_png
from benchmark.imaging.imresize import downscale_x4
from benchmark.record.store import read_results
from models import ModelSpec, create_model, fetch_checkpoint, get_spec, load_state_dict

RFDN = get_spec(0)
NAME = RFDN.display_name  # 00_RFDN_baseline
FILE = RFDN.checkpoint  # team00_rfdn.pth
OFFICIAL = f"the official file is {RFDN.url} (sha256 11af8ec8…)"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def recording(base: type[BaseHTTPRequestHandler], requests: list[str], **kwargs: str
              ) -> Callable[..., BaseHTTPRequestHandler]:
    """``base`` that records each GET path in ``requests`` and logs nothing."""

    class Handler(base):  # type: ignore[misc,valid-type]
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            requests.append(self.path)
            super().do_GET()

    return functools.partial(Handler, **kwargs)


class CutChunked(BaseHTTPRequestHandler):
    """Announces the whole file in one chunk, sends half of it, and closes: the client sees an error mid-stream."""

    protocol_version = "HTTP/1.1"
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(f"{len(self.body):x}\r\n".encode() + self.body[: len(self.body) // 2])
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True


class CutLength(CutChunked):
    """Announces the file's Content-Length, sends half of it, and closes: the client sees a short file, no error."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body[: len(self.body) // 2])
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True


class QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-transfer (as some tests do) is no error worth a traceback on stderr."""

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """Start a threaded HTTP server on 127.0.0.1 (any free port) with a handler; returns its base URL."""
    servers: list[QuietServer] = []

    def start(handler: Callable[..., BaseHTTPRequestHandler]) -> str:
        server = QuietServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def mirror(shared: Path, serve: Callable[..., str]) -> tuple[str, list[str]]:
    """``shared/reference/model_zoo`` served in place; the base URL and the paths requested."""
    requests: list[str] = []
    url = serve(recording(SimpleHTTPRequestHandler, requests, directory=str(shared / "reference" / "model_zoo")))
    return url, requests


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ESR_OFFLINE", raising=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-image split (64×64 HR) for the runs that end timing only: they need no real photographs."""
    root = tmp_path_factory.mktemp("data") / "Tiny"
    hr = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    write_png(root / "HR" / "a.png", hr)
    write_png(root / "LR_bicubic" / "X4" / "ax4.png", downscale_x4(hr))
    return root


def demo(dataset: Path, tmp: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, list[str], dict]:
    """test_demo.main with RFDN on ``dataset`` into ``tmp/zoo``; exit status, stderr lines, RFDN's results entry."""
    argv = ["--model_id", "0", "--dataset", str(dataset), "--model_zoo", str(tmp / "zoo"),
            "--device", "cpu", "--warmup", "0", "--results", str(tmp / "R.json"), "--save_dir", str(tmp / "S"), *extra]
    code = test_demo.main(argv)
    err = capsys.readouterr().err
    entry = read_results(tmp / "R.json").get(NAME, {}) if (tmp / "R.json").is_file() else {}
    return code, err.splitlines(), entry


def checkpoint_path(entry: dict) -> str | None:
    """The loaded checkpoint's path as the results entry records it (a path, or ``{"path", "sha256"}``)."""
    checkpoint = entry["checkpoint"]
    return checkpoint["path"] if isinstance(checkpoint, dict) else checkpoint


def assert_timing_only(tmp: Path, entry: dict) -> None:
    assert entry["checkpoint"] is None
    assert len(entry["Tiny_runtime"]) == 1 and "Tiny_psnr" not in entry and "Tiny_ave_psnr" not in entry
    assert not (tmp / "S").exists()


def zoo_files(tmp: Path) -> list[str]:
    return sorted(p.name for p in (tmp / "zoo").iterdir()) if (tmp / "zoo").is_dir() else []


@pytest.mark.usefixtures("online")
def test_download_once_verified_then_scored(shared: Path, tiny: Path, tmp_path: Path, mirror: tuple[str, list[str]],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    url, requests = mirror
    code, err, entry = demo(shared / "data" / "Set5", tmp_path, capsys, "--zoo-url", url)
    path = tmp_path / "zoo" / FILE
    assert code == 0, err
    assert err == [f"{NAME}: downloaded {path} from {url}/{FILE} (sha256 verified)"]
    assert requests == [f"/{FILE}"]
    assert zoo_files(tmp_path) == [FILE]  # no temporary file left
    assert sha256(path) == RFDN.sha256
    reference = json.loads((shared / "reference" / "metrics.json").read_text())["rfdn"]["Set5"]["mean_psnr"]
    assert checkpoint_path(entry) == str(path)
    assert isinstance(entry["Set5_ave_psnr"], float) and abs(entry["Set5_ave_psnr"] - reference) < 1e-4

    before = path.stat()
    code, err, entry = demo(tiny, tmp_path, capsys, "--zoo-url", url)  # the second run: any split will do
    assert code == 0 and err == []
    assert requests == [f"/{FILE}"]  # the server saw no second request
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size)
    assert checkpoint_path(entry) == str(path) and isinstance(entry["Tiny_ave_psnr"], float)


@pytest.mark.usefixtures("online")
def test_wrong_hash_is_refused_kept_aside_and_never_loaded(shared: Path, tiny: Path, tmp_path: Path,
                                                          serve: Callable[..., str],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    served = tmp_path / "served"
    served.mkdir()
    body = bytearray((shared / "reference" / "model_zoo" / FILE).read_bytes())
    body[len(body) // 2] ^= 1  # right name and size, one bit of the weights flipped
    (served / FILE).write_bytes(bytes(body))
    requests: list[str] = []
    url = serve(recording(SimpleHTTPRequestHandler, requests, directory=str(served)))
    code, err, entry = demo(tiny, tmp_path, capsys, "--zoo-url", url)
    aside = tmp_path / "zoo" / f"{FILE}.sha256-mismatch"
    assert code == 0
    assert len(err) == 1, err
    assert err[0].startswith(f"{NAME}: refused {url}/{FILE}: its sha256 {sha256(served / FILE)[:12]}… ")
    assert err[0].endswith(f"is not the published 11af8ec8ebd6…; kept aside as {aside}, not loaded; timing only — "
                           f"{OFFICIAL}")
    assert requests == [f"/{FILE}"]
    assert zoo_files(tmp_path) == [aside.name]
    assert aside.read_bytes() == (served / FILE).read_bytes()
    assert_timing_only(tmp_path, entry)


@pytest.mark.usefixtures("online")
@pytest.mark.parametrize("handler", [CutChunked, CutLength], ids=["error-mid-stream", "short-body"])
def test_interrupted_download_leaves_nothing_loadable(shared: Path, tmp_path: Path, serve: Callable[..., str],
                                                      capsys: pytest.CaptureFixture[str], handler: type) -> None:
    body = (shared / "reference" / "model_zoo" / FILE).read_bytes()
    url = serve(type("Handler", (handler,), {"body": body, "log_message": lambda *a: None}))
    assert fetch_checkpoint(RFDN, tmp_path / "zoo", base_url=url) is None
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    assert err[0].endswith(f"; timing only — {OFFICIAL}")
    # the transfer fails, mid-stream or short of its Content-Length: nothing is kept
    assert err[0].startswith(f"{NAME}: no checkpoint {tmp_path / 'zoo' / FILE} and the download failed (")
    assert "IncompleteRead" in err[0]
    assert zoo_files(tmp_path) == []


@pytest.mark.usefixtures("online")
def test_ctrl_c_mid_transfer_leaves_no_file(tmp_path: Path, mirror: tuple[str, list[str]],
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    chunks = []

    def interrupting(path: str, mode: str = "r", *args, **kwargs):  # noqa: ANN002, ANN003 - open's signature
        """Ctrl-C pressed as the first chunk is written."""
        f = open(path, mode, *args, **kwargs)
        if "w" in mode:
            def write(data: bytes) -> int:
                chunks.append(len(data))
                raise KeyboardInterrupt
            f.write = write
        return f

    monkeypatch.setattr(models.zoo, "open", interrupting, raising=False)
    url, requests = mirror
    with pytest.raises(KeyboardInterrupt):
        fetch_checkpoint(RFDN, tmp_path / "zoo", base_url=url)
    assert requests == [f"/{FILE}"] and chunks
    assert zoo_files(tmp_path) == []
    assert capsys.readouterr().err == ""


@pytest.mark.usefixtures("online")
def test_server_down_gives_one_line_and_a_timing_only_run(tiny: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}"
        code, err, entry = demo(tiny, tmp_path, capsys, "--zoo-url", url)
    assert code == 0
    assert len(err) == 1, err
    assert err[0].startswith(f"{NAME}: no checkpoint {tmp_path / 'zoo' / FILE} and the download failed (")
    assert "Connection refused" in err[0] and err[0].endswith(f"); timing only — {OFFICIAL}")
    assert zoo_files(tmp_path) == []
    assert_timing_only(tmp_path, entry)


@pytest.mark.usefixtures("online")
def test_mirror_404_is_unreachable_with_the_reason(tmp_path: Path, serve: Callable[..., str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    url = serve(recording(SimpleHTTPRequestHandler, [], directory=str(tmp_path / "empty")))
    assert fetch_checkpoint(RFDN, tmp_path / "zoo", base_url=url) is None
    assert capsys.readouterr().err.splitlines() == [
        (f"{NAME}: no checkpoint {tmp_path / 'zoo' / FILE} and the download failed (HTTP 404 File not found); "
         f"timing only — {OFFICIAL}")]
    assert zoo_files(tmp_path) == []


def test_offline_flag_never_contacts_the_server(tiny: Path, tmp_path: Path, mirror: tuple[str, list[str]],
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    url, requests = mirror
    monkeypatch.delenv("ESR_OFFLINE", raising=False)
    monkeypatch.setenv("ESR_ZOO_URL", url)  # a mirror from the environment: still not contacted
    code, err, entry = demo(tiny, tmp_path, capsys, "--offline")
    assert code == 0
    assert err == [(f"{NAME}: no checkpoint {tmp_path / 'zoo' / FILE} and offline (--offline or ESR_OFFLINE=1); "
                    f"timing only — {OFFICIAL}")]
    assert requests == []
    assert not (tmp_path / "zoo").exists()
    assert_timing_only(tmp_path, entry)


@pytest.mark.parametrize("value", ["1", "true", "ON"])
def test_offline_environment_never_contacts_the_server(tmp_path: Path, mirror: tuple[str, list[str]],
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str], value: str) -> None:
    url, requests = mirror
    monkeypatch.setenv("ESR_OFFLINE", value)
    assert fetch_checkpoint(RFDN, tmp_path / "zoo", base_url=url) is None
    assert len(capsys.readouterr().err.splitlines()) == 1
    assert requests == []


@pytest.mark.usefixtures("online")
def test_create_model_pretrained_downloads_and_loads(shared: Path, tmp_path: Path, mirror: tuple[str, list[str]],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    url, requests = mirror
    monkeypatch.setenv("ESR_ZOO_URL", url)
    model = create_model(0, pretrained=True, model_zoo=tmp_path)
    official = load_state_dict(shared / "reference" / "model_zoo" / FILE)
    assert all(torch.equal(v, official[k]) for k, v in model.state_dict().items())
    assert requests == [f"/{FILE}"] and sha256(tmp_path / FILE) == RFDN.sha256
    create_model(0, pretrained=True, model_zoo=tmp_path)
    assert requests == [f"/{FILE}"]


@pytest.mark.usefixtures("online")
def test_a_folder_is_a_mirror_too(shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ESR_ZOO_URL", str(shared / "reference" / "model_zoo"))
    spec = get_spec(5)
    assert fetch_checkpoint(spec, tmp_path) == tmp_path / spec.checkpoint
    assert sha256(tmp_path / spec.checkpoint) == spec.sha256
    assert capsys.readouterr().err.endswith("(sha256 verified)\n")


def test_create_model_pretrained_offline_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(HarnessError) as err:
        create_model(5, pretrained=True, model_zoo=tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"05_SRneXt: no checkpoint {tmp_path / 'team05_exnet.pth'} and offline")
    assert message.endswith(f"the official file is {get_spec(5).url} (sha256 14973010…)")


def test_a_file_in_the_zoo_is_used_as_it_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / FILE).write_bytes(b"your own weights")
    assert fetch_checkpoint(RFDN, tmp_path) == tmp_path / FILE
    assert capsys.readouterr().err == ""


def test_spec_without_url_is_silent_and_url_needs_a_hash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = ModelSpec(team_id=96, name="NoUrl", builder=nn.Identity, checkpoint="team96_nourl.pth")
    assert fetch_checkpoint(spec, tmp_path) is None
    assert capsys.readouterr().err == ""
    with pytest.raises(HarnessError, match="has no published checkpoint"):
        fetch_checkpoint(spec, tmp_path, required=True)
    with pytest.raises(HarnessError, match="needs its sha256"):
        ModelSpec(team_id=96, name="NoHash", builder=nn.Identity, checkpoint="x.pth", url="https://example.org/x.pth")


def test_published_hashes_match_the_reference_copies(shared: Path) -> None:
    for spec in models.list_models():
        reference = shared / "reference" / "model_zoo" / spec.checkpoint
        if spec.url is not None and reference.is_file():
            assert spec.url.endswith("/" + spec.checkpoint)
            assert sha256(reference) == spec.sha256, spec.display_name
