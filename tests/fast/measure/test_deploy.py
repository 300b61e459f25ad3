"""Deployment backends, without the challenge data: the comparison keys, one line for whatever backend or
precision cannot run here, and the matrix's flags."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers import TinySR, run_main, write_set

import models
import test_demo
from benchmark.core.errors import HarnessError, error_line, plain
from benchmark.measure.backend import PRECISIONS, Unavailable, first_line
from benchmark.measure.deploy import BACKENDS, FP32_TOLERANCE, Tolerance, make_backend
from benchmark.measure.loop import ImageResult, SplitResult
from benchmark.measure.matrix import parse_entry
from benchmark.record.entry import comparison_keys, judged
from benchmark.record.store import read_results
from benchmark.report.deploy import beyond_tolerance, ran_frame, slower_lines
from benchmark.speed import main as speed_main
from models import ModelSpec
from models.registry import registered


def test_comparison_keys_set_the_psnr_against_the_floor_and_say_null_when_unmeasured() -> None:
    run = SplitResult("valid", [_result("a", 27.0, 27.5, 0.01), _result("b", 26.0, 26.5, 0.03)], 1.0, "rss", 1.0, "c")
    bf16 = Tolerance.of("bf16", CPU)
    keys = comparison_keys(run, 26.9, bf16)
    assert keys["valid_max_difference"] == 0.03
    assert keys["valid_psnr_change"] == pytest.approx(-0.5)
    assert keys["valid_floor_holds"] is False  # 26.5 < 26.9, though the reference (27.0) held it
    assert keys["valid_tolerance"] == {"arithmetic": "bf16", "max_difference": 0.125,
                                       "psnr_change": pytest.approx(10 * math.log10(1 + 2**-14 * 10**2.7))}
    assert judged(keys, "valid", bf16).endswith("PSNR change -0.5000 dB (tolerance ±0.1309 dB)")
    assert comparison_keys(run, 26.0, bf16)["valid_floor_holds"] is True
    unscored = SplitResult("valid", [_result("a", None, None, 0.2), _result("b", None, None, None)], 1.0, "rss", 1.0,
                           "c")
    keys = comparison_keys(unscored, 26.9, bf16)
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
    assert speed_main(["--matrix", "--models", "2026:0", "--sizes", "99999x99999"]) == 2  # was an allocation traceback
    assert capsys.readouterr().err.strip() == "error: --sizes 99999x99999: 9,999,800,001 LR pixels, over the " \
                                              "4,194,304 (2048x2048) the matrix times; choose a smaller size"


CPU = torch.device("cpu")


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


# --- the guard judges -------------------------------------------------------------------------------------------------

def test_tolerances_follow_the_precision() -> None:
    fp32, fp16, bf16 = (Tolerance.of(p, CPU) for p in ("fp32", "fp16", "bf16"))
    assert (fp32.max_difference, fp32.psnr_change(29.85)) == (FP32_TOLERANCE, None)  # FP32: the largest difference
    assert (fp16.max_difference, bf16.max_difference) == (32 * 2**-11, 32 * 2**-8) == (0.015625, 0.125)
    assert fp16.psnr_change(29.85) == 0.01  # 0.0040 dB from 2 u rms: below the printed resolution
    assert bf16.psnr_change(29.85) == pytest.approx(0.2489, abs=1e-4)
    assert bf16.psnr_change(40.0) > bf16.psnr_change(30.0)  # the same error costs more dB on a better reference
    for tolerance in (fp16, bf16):  # 0.175 of the range off is no deployment of the network, in either precision
        assert tolerance.judge(0.175, None, None).startswith(f"the {tolerance.precision} output is beyond its "
                                                             "tolerance of FP32 eager: largest difference 0.175")
    assert bf16.judge(0.038, -0.0345, 29.85) is None  # SPAN in BF16 on Set5, as measured here
    assert fp16.judge(0.0061, -0.0009, 29.85) is None  # SPAN in FP16
    assert fp16.judge(0.01, -0.05, 29.85) == ("the fp16 output is beyond its tolerance of FP32 eager: largest "
                                              "difference 0.01 of the data range (tolerance 0.0156), PSNR change "
                                              "-0.0500 dB (tolerance ±0.0100 dB)")
    assert fp32.judge(2e-4, 0.0, 30.0) is not None and fp32.judge(None, None, None) is None  # unmeasured: unjudged


class _Drift(TinySR):
    """Right in FP32, 0.175 of the data range off in any other precision: a deployment that is not the network."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        return out if x.dtype == torch.float32 else out + 0.175 * 255


@pytest.fixture()
def drift(tmp_path: Path):
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    torch.manual_seed(0)
    torch.save(_Drift().state_dict(), zoo / "team93_drift.pth")
    with registered(ModelSpec(team_id=93, name="Drift", builder=_Drift, checkpoint="team93_drift.pth")):
        yield {"zoo": zoo, "data": write_set(tmp_path / "Two", {"a": (32, 32), "b": (32, 48)}),
               "results": tmp_path / "R.json"}


def _demo(drift: dict, *argv: str) -> tuple[int, str, str]:
    return run_main(test_demo.main, ["--model_id", "93", "--model_zoo", str(drift["zoo"]), "--results",
                                     str(drift["results"]), "--no-save", "--device", "cpu", "--dataset",
                                     str(drift["data"]), *argv])


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_a_deployment_beyond_its_tolerance_is_recorded_as_failed_not_as_an_entry(drift: dict, precision: str) -> None:
    drift["results"].write_text(json.dumps({"99_Earlier": {"Two_ave_runtime": 1.0}}))
    code, out, err = _demo(drift, "--precision", precision)
    assert code == 1, err
    name = f"93_Drift@eager-{precision}"
    failures = drift["results"].with_name("R.failures.json")
    lines = [line for line in out.splitlines() if "failed" in line]
    assert len(lines) == 1 and lines[0].startswith(f"{name} failed: on Two, the {precision} output is beyond its "
                                                   "tolerance of FP32 eager: largest difference 0.17")  # 0.179 in BF16
    assert lines[0].endswith(f"not recorded as {name}, the failure is in {failures}")  # no split: nothing set aside
    assert set(read_results(drift["results"])) == {"99_Earlier"}
    reason = json.loads(failures.read_text())[name]
    assert reason.startswith(f"on Two, the {precision} output is beyond") and "PSNR change" in reason
    assert name not in drift["results"].with_name("R.txt").read_text()


def test_a_deployment_within_its_tolerance_is_recorded_with_its_bounds_and_clears_its_failure(drift: dict) -> None:
    """FP32 channels-last of the same network is round-off only: an entry as today, with the bounds it met; a failure
    recorded earlier under its name is cleared."""
    failures = drift["results"].with_name("R.failures.json")
    failures.write_text(json.dumps({"93_Drift@channels_last-fp32": "earlier", "05_Other": "kept"}))
    code, out, err = _demo(drift, "--backend", "channels_last")
    assert code == 0, err
    entry = read_results(drift["results"])["93_Drift@channels_last-fp32"]
    assert entry["Two_max_difference"] <= FP32_TOLERANCE
    assert entry["Two_tolerance"] == {"arithmetic": "fp32", "max_difference": FP32_TOLERANCE, "psnr_change": None}
    assert json.loads(failures.read_text()) == {"05_Other": "kept"}


def test_a_failed_split_after_a_recorded_one_sets_the_whole_entry_aside(drift: dict, tmp_path: Path) -> None:
    """Split One is recorded as the run goes, then split Two fails: the entry, One's figures included, goes to the
    superseded file (never lost, never read as the deployment's figures)."""
    one = write_set(tmp_path / "One", {"c": (32, 32)})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_Drift, "forward", lambda self, x: TinySR.forward(self, x) + (
            0.175 * 255 if x.dtype != torch.float32 and x.shape[-1] == 12 else 0))  # only b of Two (48 → 12 LR)
        code, out, _ = run_main(test_demo.main, ["--model_id", "93", "--model_zoo", str(drift["zoo"]), "--results",
                                                 str(drift["results"]), "--no-save", "--device", "cpu", "--dataset",
                                                 str(one), "--dataset", str(drift["data"]), "--precision", "fp16"])
    assert code == 1
    aside = json.loads(drift["results"].with_name("R.superseded.json").read_text())
    assert [a["model"] for a in aside] == ["93_Drift@eager-fp16"] and "One_ave_runtime" in aside[0]["entry"]
    assert aside[0]["reason"].startswith("run beyond its deployment tolerance: on Two, the fp16 output")
    assert "its record is kept in" in out and not read_results(drift["results"])


def test_the_matrix_marks_a_way_beyond_its_tolerance() -> None:
    rows = [{"model": "m", "input": "1×3×8×8", "backend": b, "precision": p, "ms": 1.0, "iqr_ms": 0.0, "speedup": 1.0,
             "max_difference": d, "gflops": None, "peak_share": None, "memory_mib": None, "unavailable": None,
             "weights": w}
            for b, p, d, w in (("eager", "fp32", 0.0, "checkpoint"), ("compile", "fp32", 3e-4, "checkpoint"),
                               ("eager", "bf16", 0.04, "checkpoint"), ("eager", "fp16", 0.175, "checkpoint"),
                               ("onnxruntime", "fp16", None, "checkpoint"), ("eager", "fp16", 0.175, "random"))]
    assert list(ran_frame(rows, CPU)["tolerance"]) == ["ok", "FAILED (> 0.0001)", "ok", "FAILED (> 0.0156)", "–", "–"]
    assert [beyond_tolerance(r, CPU) for r in rows] == [False, True, False, True, False, False]


def test_a_way_slower_than_eager_is_listed_with_the_networks_reason() -> None:
    row = {"model": "05_SRneXt (fast)", "input": "1×3×256×256", "precision": "fp32", "unavailable": None,
           "note": None}
    rows = [{**row, "backend": "eager", "ms": 500.0, "speedup": 1.0},
            {**row, "backend": "compile", "ms": 505.0, "speedup": 500 / 505, "note": "the body stays eager"},
            {**row, "backend": "onnxruntime", "ms": 1000.0, "speedup": 0.5},
            {**row, "backend": "channels_last", "ms": 400.0, "speedup": 1.25},
            {**row, "backend": "tensorrt", "ms": None, "speedup": None, "unavailable": "needs a CUDA device"}]
    assert slower_lines(rows) == [
        "05_SRneXt (fast) 256×256 compile fp32: 0.99× eager (505.0 against 500.0 ms): the body stays eager",
        "05_SRneXt (fast) 256×256 onnxruntime fp32: 0.50× eager (1000.0 against 500.0 ms): the network gives no "
        "reason (its deployment_notes)"]
    assert "compile" in models.get_spec(5, 2023).fast_builder.deployment_notes


def test_a_network_without_weights_is_timed_not_judged(drift: dict, tmp_path: Path) -> None:
    empty = tmp_path / "empty_zoo"
    empty.mkdir()
    code, out, err = _demo({**drift, "zoo": empty}, "--precision", "fp16", "--offline")
    assert code == 0, err
    assert "warning: 93_Drift@eager-fp16 on Two: its output is 0.175 of the data range from FP32 eager, beyond its " \
           "tolerance of 0.0156; on random weights (no checkpoint) that is not judged" in " ".join(out.split())
    entry = read_results(drift["results"])["93_Drift@eager-fp16"]
    assert entry["checkpoint"] is None and entry["Two_max_difference"] > entry["Two_tolerance"]["max_difference"]


class _FloatOnly(TinySR):
    """Casts its own weights to float32, as SRneXt's mean shift does: its forward fails in any other precision."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.pixel_shuffle(torch.conv2d(x, self.conv.weight.float(), self.conv.bias.float(), padding=1), 4)


def test_a_network_whose_forward_fails_in_a_precision_is_one_line_and_no_entry(drift: dict) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_Drift, "forward", _FloatOnly.forward)
        code, _, err = _demo(drift, "--precision", "fp16")
    assert code == 2
    assert err.startswith("error: eager fp16: 93_Drift@eager-fp16's forward fails on ax4.png (RuntimeError: ")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert read_results(drift["results"]) == {}  # the record it started is not left without a figure


def test_the_matrix_sets_every_share_against_the_higher_of_its_two_peak_measurements(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A peak measured in a busy moment is no roof: the second measurement, after the last model, raises it, and
    every share and operator is judged against the higher one."""
    from benchmark.measure import matrix as matrix_module

    peaks = iter([10.0, 40.0])  # GMAC/s: before the first model, after the last
    bandwidths = iter([3.0, 5.0])
    monkeypatch.setattr(matrix_module, "peak", lambda device, precision, rounds: dict.fromkeys(
        ("matmul", "conv3x3", "peak"), next(peaks)))
    monkeypatch.setattr(matrix_module, "bandwidth", lambda device, rounds: next(bandwidths))
    with registered(ModelSpec(team_id=92, name="Tiny", builder=TinySR, checkpoint="team92_tiny.pth")) as spec:
        result = matrix_module.matrix([matrix_module.Entry(spec)], [(12, 16)], ["eager"], ["fp32"],
                                      torch.device("cpu"), 2, tmp_path, profile=True)
    assert result["peaks"]["fp32"] == {"matmul": 40.0, "conv3x3": 40.0, "peak": 40.0, "before": 10.0, "after": 40.0}
    assert result["roofs"] == {"compute": 40.0, "memory": 5.0, "memory_before_after": [3.0, 5.0]}
    row = result["rows"][0]
    assert row["peak_share"] == pytest.approx(row["gflops"] / 40.0)
    judged_rows = [r for p in result["profiles"] for r in p["operators"] if r["gmacs"] is not None]
    assert judged_rows
    for r in judged_rows:
        roof = min(40.0, r["intensity"] * 5.0)
        assert r["of_roof"] == pytest.approx(r["gmacs"] / roof)
