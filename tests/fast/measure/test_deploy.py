"""Deployment backends, without the challenge data: the comparison keys, one line for whatever backend or
precision cannot run here, and the matrix's flags."""

from __future__ import annotations

import pytest
import torch
from helpers import FP32_TOLERANCE, TinySR

import test_demo
from benchmark.core.errors import HarnessError, error_line, plain
from benchmark.measure.backend import PRECISIONS, Unavailable, first_line
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


def _result(name: str, psnr: float | None, reference: float | None, difference: float | None) -> ImageResult:
    return ImageResult(name, 1.0, scores={} if psnr is None else {"psnr": psnr}, difference=difference,
                       reference_psnr=reference)


class _BranchOnPixels(TinySR):
    """A network whose graph depends on its input's values: torch.export cannot trace it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        return out * 2 if x.mean() > 0.5 else out


def test_a_failed_onnx_export_is_one_plain_line_naming_the_cause(capfd: pytest.CaptureFixture[str]) -> None:
    """The exporter's message is coloured (ANSI codes around "This is step 1/3") and prints its traced graph: the
    line says the cause and the team's line of code, without escape codes, and nothing else reaches the terminal."""
    pytest.importorskip("onnxscript")
    backend = make_backend("onnxruntime", torch.device("cpu"))
    with pytest.raises(Unavailable) as caught:
        backend.prepare(_BranchOnPixels().eval().requires_grad_(False))
    message = str(caught.value)
    assert message.startswith("onnxruntime fp32: the ONNX export failed (GuardOnDataDependentSymNode: Could not guard "
                              "on data-dependent expression")
    assert message.endswith("; at test_deploy.py:" + str(_BranchOnPixels.forward.__code__.co_firstlineno + 2)
                            + ": return out * 2 if x.mean() > 0.5 else out)")
    assert "\x1b" not in message and "\n" not in message
    assert capfd.readouterr() == ("", "")


def test_terminal_codes_never_reach_a_one_line_message() -> None:
    coloured = RuntimeError("Failed \x1b[96mstep 1/3\x1b[0m\x1b]0;pwned\x07 then \x1b[2Jcleared\nsecond line")
    assert first_line(coloured) == "RuntimeError: Failed step 1/3 then cleared"
    assert error_line(coloured) == "error: Failed step 1/3 then cleared\\nsecond line"
    assert error_line("bell \x07 and \x1b alone") == "error: bell \\x07 and \\x1b alone"  # shown, never sent
    assert plain("no codes: 5 × 4 → 20") == "no codes: 5 × 4 → 20"
