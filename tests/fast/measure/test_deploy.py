"""Deployment backends, without the challenge data: the comparison keys, one line for whatever backend or
precision cannot run here, and the matrix's flags."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import FP32_TOLERANCE, TinySR

import test_demo
from benchmark.core.errors import HarnessError
from benchmark.measure.backend import PRECISIONS, Unavailable
from benchmark.measure.deploy import BACKENDS, make_backend
from benchmark.measure.loop import ImageResult, SplitResult
from benchmark.measure.matrix import parse_entry
from benchmark.record.entry import comparison_keys
from benchmark.speed import main as speed_main


def test_comparison_keys_set_the_psnr_against_the_floor_and_say_null_when_unmeasured() -> None:
    run = SplitResult("valid", [_result("a", 27.0, 27.5, 0.01), _result("b", 26.0, 26.5, 0.03)], 1.0, "rss", 1.0, "c")
    keys = comparison_keys(run, 26.9)
    assert keys["valid_max_difference"] == 0.03
    assert keys["valid_psnr_change"] == pytest.approx(-0.5)
    assert keys["valid_floor_holds"] is False  # 26.5 < 26.9, though the reference (27.0) held it
    assert comparison_keys(run, 26.0)["valid_floor_holds"] is True
    unscored = SplitResult("valid", [_result("a", None, None, 0.2), _result("b", None, None, None)], 1.0, "rss", 1.0,
                           "c")
    keys = comparison_keys(unscored, 26.9)
    assert keys["valid_max_difference"] is None  # one image's reference did not fit: no maximum to state
    assert keys["valid_difference"] == [0.2, None]
    assert keys["valid_psnr_change"] is None and keys["valid_floor_holds"] is None


@pytest.mark.parametrize("precision", list(PRECISIONS))
@pytest.mark.parametrize("name", [n for n in BACKENDS if n != "compile"])  # compile: the Set5 test above
def test_every_backend_and_precision_runs_or_says_why_in_one_line(name: str, precision: str) -> None:
    model = TinySR().eval().requires_grad_(False)
    x = torch.rand(1, 3, 20, 24)
    try:
        backend = make_backend(name, torch.device("cpu"), precision)
        call = backend.prepare(model)
        backend.settle(lambda: call(x), tuple(x.shape))
        with torch.inference_mode():
            out = call(x)
    except Unavailable as err:
        message = str(err)
        assert message.startswith(f"{name} {precision}: ") and "\n" not in message and "Traceback" not in message
        return
    assert out.dtype == torch.float32 and tuple(out.shape) == (1, 3, 80, 96)
    with torch.inference_mode():
        reference = model(x)
    limit = FP32_TOLERANCE if precision == "fp32" else 0.1  # half precisions: 8 or 11 significant bits
    assert float((out - reference).abs().max()) / float(reference.abs().max()) <= limit


def test_a_backend_this_machine_cannot_run_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert test_demo.main(["--backend", "tensorrt", "--device", "cpu", "--model_id", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: tensorrt fp32: needs a CUDA device and the tensorrt package (pip install -r " \
                  "requirements-gpu.txt)"


def test_bad_matrix_flags_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert speed_main(["--matrix", "--models", "2026"]) == 2
    assert capsys.readouterr().err.strip() == "error: --models 2026: write YEAR:ID or YEAR:ID:fast, e.g. 2026:0 " \
                                              "2023:5:fast"
    with pytest.raises(HarnessError, match="has no fast variant"):
        parse_entry("2026:0:fast")


class _SizeDependent(TinySR):
    """A forward that depends on the input's size (a Python loop over bands of its rows): the exporter fixes it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(torch.cat([self.conv(x[:, :, r : r + 8]) for r in range(0, x.shape[2], 8)], 2), 4)


@pytest.mark.parametrize("fixed_shape", [False, True])
def test_onnxruntime_exports_once_per_input_size_where_the_graph_depends_on_it(fixed_shape: bool) -> None:
    """No refusal: each size gets its own export when it is settled, kept for later forwards of that size."""
    model = _SizeDependent().eval().requires_grad_(False)
    backend = make_backend("onnxruntime", torch.device("cpu"), "fp32", fixed_shape=fixed_shape)
    call = backend.prepare(model)
    assert backend.describe()["export"] == "per input size"
    for shape in [(1, 3, 18, 20), (1, 3, 16, 21), (1, 3, 18, 20)]:
        x = torch.rand(shape)
        backend.settle(lambda: call(x), shape)
        with torch.inference_mode():
            assert float((call(x) - model(x)).abs().max()) <= FP32_TOLERANCE
    assert sorted(backend.sessions) == [(1, 3, 16, 21), (1, 3, 18, 20)]


def test_onnxruntime_exports_a_size_independent_graph_once() -> None:
    backend = make_backend("onnxruntime", torch.device("cpu"), "fp32")
    call = backend.prepare(TinySR().eval())
    with torch.inference_mode():
        assert call(torch.rand(1, 3, 16, 17)).shape == (1, 3, 64, 68)
        assert call(torch.rand(1, 3, 19, 16)).shape == (1, 3, 76, 64)
    assert list(backend.sessions) == [None] and backend.describe()["export"] == "dynamic height and width"


def _result(name: str, psnr: float | None, reference: float | None, difference: float | None) -> ImageResult:
    return ImageResult(name, 1.0, scores={} if psnr is None else {"psnr": psnr}, difference=difference,
                       reference_psnr=reference)
