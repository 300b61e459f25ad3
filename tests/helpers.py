"""What tests share besides fixtures: the reference data beside the checkout (skipped, with the reason, when absent),
commands run in-process, tiny data sets and a tiny registered team, a fake challenge repository and sweeps over it,
the round-off rule between CPUs, hooks and pickles, and a site's pages served and opened in a browser."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from benchmark import sweep as sweep_module
from benchmark.imaging.images import read_image, to_tensor, to_uint8, write_png
from benchmark.imaging.imresize import downscale_x4
from models import ModelSpec, registered

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
"""``../shared`` beside the checkout: real test sets and figures measured with the official harness."""
SET5 = ("baby", "bird", "butterfly", "head", "woman")
AT_HALF = 16 * 2.0**-16
"""How near x.5 a value must be to round the other way on another CPU: 16 float32 ulps at 128…255."""


def shared_file(*parts: str) -> Path:
    """``../shared/<parts>``; the test skips, saying what is missing, when it is absent (CI has it, a bare clone not)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not found: the reference data and figures live in ../shared beside the checkout")
    return path


def run_main(main: Callable[[list[str]], int], argv: list[str]) -> tuple[int, str, str]:
    """A command's ``main(argv)`` run in-process: exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def write_set(root: Path, sizes: dict[str, tuple[int, int]]) -> Path:
    """A benchmark folder of random HR images of ``sizes`` (name → H, W) and their MATLAB-bicubic LR."""
    rng = np.random.default_rng(0)
    for name, size in sizes.items():
        hr = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        write_png(root / "HR" / f"{name}.png", hr)
        write_png(root / "LR_bicubic" / "X4" / f"{name}x4.png", downscale_x4(hr))
    return root


class TinySR(nn.Module):
    """An x4 network small enough for any test: one 3×3 convolution and a pixel shuffle."""

    def __init__(self, feats: int = 48) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, feats, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.conv(x), 4)


@contextlib.contextmanager
def tiny_team(zoo: Path, team_id: int = 90, year: int = 2023, name: str = "Tiny") -> Iterator[ModelSpec]:
    """A registered team of ``year`` with a TinySR checkpoint in ``zoo``, removed from the registry afterwards."""
    torch.manual_seed(team_id)
    checkpoint = f"team{team_id}_tiny.pth"
    torch.save(TinySR().state_dict(), zoo / checkpoint)
    with registered(ModelSpec(team_id=team_id, name=name, builder=TinySR, checkpoint=checkpoint, year=year)) as spec:
        yield spec


def hooks_left(model: nn.Module) -> int:
    """Forward and pre-forward hooks still registered anywhere in ``model``."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


class Payload:
    """Unpickling this object creates a file: a stand-in for a checkpoint that runs code."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def set5_against_reference(shared: Path, model: nn.Module, reference: str, data_range: float
                           ) -> tuple[np.ndarray, np.ndarray, int]:
    """``model``'s uint8 Set5 outputs and ``sr/<reference>/Set5``, flattened, and how many of the
    differing values were within ``AT_HALF`` of a rounding boundary (x.5 on the 0…255 scale) before rounding."""
    ours, theirs, near_half = [], [], 0
    for name in SET5:
        lr = read_image(shared / "data" / "Set5" / "LR_bicubic" / "X4" / f"{name}x4.png")
        with torch.inference_mode():
            out = model(to_tensor(lr, data_range))
        sr = to_uint8(out, data_range)
        ref = read_image(shared / "reference" / "sr" / reference / "Set5" / f"{name}.png")
        raw = out[0].permute(1, 2, 0).numpy() * (255.0 / data_range)
        near_half += int((np.abs(raw[sr != ref] % 1 - 0.5) < AT_HALF).sum())
        ours.append(sr.ravel())
        theirs.append(ref.ravel())
    return np.concatenate(ours), np.concatenate(theirs), near_half


def assert_round_off_only(ours: np.ndarray, theirs: np.ndarray, near_half: int) -> None:
    """The only differences allowed between CPUs: one level, on at most 1e-4 of the values, each at x.5.

    Float32 kernels sum in a different order on another processor, so a value that lands within a
    few ulps of x.5 can round the other way; anything more is a real difference.
    """
    differ = ours != theirs
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1
    assert differ.mean() <= 1e-4, f"{int(differ.sum())} of {differ.size} values differ"
    assert near_half == differ.sum(), "a differing value was not at a rounding boundary"


# --- a fake challenge repository, and sweeps over it -----------------------------------------------------------

PROJECT = Path(__file__).resolve().parents[1]


FAST = ["--runs", "1", "--warmup", "0", "--device", "cpu"]


def sweep(*args: object, env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """``python -m benchmark.sweep ARGS`` as a user runs it (from the project's root)."""
    return subprocess.run([sys.executable, "-m", "benchmark.sweep", *map(str, args)], cwd=PROJECT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


class Swept:
    """What an in-process sweep returned and printed (the driver runs here; each team still has its own process)."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def sweep_here(*args: object) -> Swept:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = sweep_module.main([str(a) for a in args])
    return Swept(code, out.getvalue(), err.getvalue())


def ran(proc: subprocess.CompletedProcess | Swept) -> set[int]:
    """The teams a sweep ran (measured), from its one line per finished team."""
    return {int(m) for m in re.findall(r"^team (-?\d+): ran ", proc.stdout, re.MULTILINE)}


def failures(results: Path) -> dict[str, str]:
    return json.loads(results.with_name(results.stem + ".failures.json").read_text())


class Tiny(nn.Module):
    """The fake repository's team network (``TINY`` is its source as the repository holds it), to save its weights."""

    def __init__(self, feats: int = 8) -> None:
        super().__init__()
        self.body = nn.Conv2d(3, feats, 3, padding=1)
        self.act = nn.ReLU()
        self.tail = nn.Conv2d(feats, 48, 3, padding=1)
        self.up = nn.PixelShuffle(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.tail(self.act(self.body(x))))


TINY = '''\
import torch
from torch import nn


class Tiny(nn.Module):
    def __init__(self, feats=8):
        super().__init__()
        self.body = nn.Conv2d(3, feats, 3, padding=1)
        self.act = nn.ReLU()
        self.tail = nn.Conv2d(feats, 48, 3, padding=1)
        self.up = nn.PixelShuffle(4)

    def forward(self, x):
        return self.up(self.tail(self.act(self.body(x))))
'''


NORMED = '''\
import torch
from torch import nn


class Normed(nn.Module):
    """A weight-normalised convolution (the old hook-based weight_norm): copy.deepcopy refuses this network."""

    def __init__(self):
        super().__init__()
        self.conv = nn.utils.weight_norm(nn.Conv2d(3, 48, 3, padding=1))
        self.up = nn.PixelShuffle(4)

    def forward(self, x):
        return self.up(self.conv(x))
'''


TEST_DEMO = '''\
# NTIRE2025-EfficientSR: a made-up repository laid out as the official ones
import os
import time

import torch


def select_model(args, device):
    model_id = args.model_id
    if model_id == 0:
        from models.team00_Tiny import Tiny
        name, data_range = f"{model_id:02}_Tiny", 1.0
        model = Tiny()
        model.load_state_dict(torch.load(os.path.join("model_zoo", "team00_tiny.pth")), strict=True)
    elif model_id == 1:
        from models.team01_Slow import Tiny
        name, data_range = f"{model_id:5}_Spaced", 255.0
        time.sleep(float(os.environ.get("FAKE_SLOW", "0")))
        model = Tiny(feats=4)
        model.load_state_dict(torch.load("./model_zoo/team01_slow.pth"), strict=True)
    elif model_id == 2:
        from models.team02_Other import Tiny
        name, data_range = f"{model_id:03}_Other", 1.0
        model = Tiny()
        model.load_state_dict(torch.load(f"model_zoo/team{model_id:02}_other.pth"), strict=True)
    elif model_id == 3:
        time.sleep(3600)
    elif model_id == 4:
        hog = [torch.ones(2**26) for _ in range(12)]  # 12 x 256 MB, every page written
        time.sleep(3600)
    elif model_id == 6:
        import ctypes
        ctypes.string_at(0)
    elif model_id == 7:
        from models.team07_Needs import Net
    elif model_id == -1:
        from models.team00_Tiny import Tiny
        name, data_range = f"{model_id:02}_Negative", 1.0
        model = Tiny()
    elif model_id == 5:
        pass
    elif model_id == 8:
        from models.team08_Normed import Normed
        name, data_range, model = "08_WeightNormed", 1.0, Normed()
    elif model_id == 9:
        from models.team00_Tiny import Tiny
        name, data_range, model = "09_Gone", 1.0, Tiny()
        model.load_state_dict(torch.load("model_zoo/team09_gone.pth"), strict=True)
    else:
        raise NotImplementedError(f"Model {model_id} is not implemented.")
    model.eval()
    tile = None
    return model, name, data_range, tile
'''


def add_branch(repo: Path, team_id: int, body: str, after: str = "") -> None:
    """Give a fake repository's ``select_model`` a branch for ``team_id`` (``body``: its lines, unindented) before
    its ``else``, and ``after`` at the end of its test_demo.py (a function the branch needs)."""
    demo, otherwise = repo / "test_demo.py", "    else:\n        raise NotImplementedError"
    lines = "".join(f"        {line}\n" for line in body.splitlines())
    demo.write_text(demo.read_text().replace(otherwise, f"    elif model_id == {team_id}:\n{lines}{otherwise}") + after)


def make_repo(root: Path) -> Path:
    """A challenge repository: test_demo.py with a select_model chain, models/ without __init__.py, model_zoo/."""
    (root / "models").mkdir(parents=True)
    (root / "model_zoo").mkdir()
    (root / "test_demo.py").write_text(TEST_DEMO)
    for module in ("team00_Tiny", "team01_Slow", "team02_Other"):
        (root / "models" / f"{module}.py").write_text(TINY)
    (root / "models" / "team07_Needs.py").write_text("import torch\nimport no_such_package_here\n\nNet = None\n")
    (root / "models" / "team08_Normed.py").write_text(NORMED)
    for seed, (file, feats) in enumerate((("team00_tiny.pth", 8), ("team01_slow.pth", 4), ("team02_other.pth", 8))):
        torch.manual_seed(seed)
        torch.save(Tiny(feats).state_dict(), root / "model_zoo" / file)
    return root


# --- a package index on this machine (team environments; no test reaches another address) ---------------------

def wheel(folder: Path, name: str, body: str, version: str = "1.0") -> Path:
    """A pure-Python wheel of one module, made by hand (a wheel is a zip with its metadata)."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": body, f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{info}/RECORD"] = "".join(f"{f},,\n" for f in [*files, f"{info}/RECORD"])
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        for file, text in files.items():
            z.writestr(file, text)
    return path


class FakeIndex:
    """A PEP 503 simple index of the files in ``folder``, on 127.0.0.1; every request is noted. ``hang``: never
    answers (until the test ends)."""

    def __init__(self, folder: Path, hang: bool = False) -> None:
        self.folder, self.requests, self.stop = folder, [], threading.Event()
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                index.requests.append(self.path)
                if hang:
                    index.stop.wait(120)
                    return
                parts = [p for p in self.path.split("/") if p]
                if len(parts) == 2 and parts[0] == "simple":
                    files = [f for f in sorted(index.folder.iterdir()) if f.is_file()
                             and re.sub(r"[-_.]+", "-", f.name.split("-")[0]).lower() == parts[1]]
                    body = "".join(f'<a href="/files/{f.name}">{f.name}</a><br>' for f in files).encode()
                    self._send(200 if files else 404, body, "text/html")
                elif len(parts) == 2 and parts[0] == "files" and (index.folder / parts[1]).is_file():
                    self._send(200, (index.folder / parts[1]).read_bytes(), "application/octet-stream")
                else:
                    self._send(404, b"", "text/html")

            def _send(self, code: int, body: bytes, kind: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()


# --- a site in a real browser (the ``browser`` fixture is in tests/e2e/conftest.py) -------------------------------

CHROMIUM = Path(os.environ.get("ESR_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def served(root: Path) -> Iterator[str]:
    """``root`` on a static HTTP server on this machine (as any web server would serve it); yields its URL."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def opened(browser: Any, url: str, width: int = 1280) -> Iterator[tuple[Any, list[str]]]:
    """A page at ``url`` in a fresh context ``width`` pixels wide, with every console error, uncaught exception
    and dialog (an alert a hostile name could open) it logs."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.goto(url)
    try:
        yield page, problems
    finally:
        context.close()
