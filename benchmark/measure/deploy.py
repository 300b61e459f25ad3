"""Ways to run a network as it would ship, beside the official eager FP32: channels-last, ``torch.compile`` (also
with CUDA graphs), ONNX Runtime and TensorRT, each in FP32, FP16 or BF16.

Each is a :class:`~benchmark.measure.backend.Backend`: it builds what the timed forward calls once
per model (a copy of the model: the eager FP32 one stays as it is, the reference every other run
is compared with), takes an FP32 input and returns an FP32 output, and is timed by the device's
clock like the official protocol. A backend that compiles or builds per input shape does so in
``settle``, outside the timer. A backend or precision this machine cannot run is refused with one
line (:class:`~benchmark.measure.backend.Unavailable`) before any figure is written. What any of them outputs is
judged against the FP32 eager output by the :class:`Tolerance` of its precision.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import logging
import math
import os
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar

import torch
from torch import nn

from benchmark.core.errors import HarnessError, plain
from benchmark.imaging.images import SCALE
from benchmark.measure.backend import PRECISIONS, Backend, Unavailable, first_line, out_of_memory

Forward = Callable[[torch.Tensor], torch.Tensor]


class ChannelsLast(Backend):
    """Eager PyTorch with the weights and the input in channels-last (NHWC) memory order."""

    name: ClassVar[str] = "channels_last"

    def build(self, model: nn.Module) -> Forward:
        cast = copy.deepcopy(model).to(self.dtype).to(memory_format=torch.channels_last)
        return lambda x: cast(x.to(self.dtype).contiguous(memory_format=torch.channels_last)).float()


class _Settled(Backend):
    """A backend that builds something per input shape: the first forward of each shape runs in ``settle``."""

    def __init__(self, device: torch.device, precision: str = "fp32", fixed_shape: bool = False) -> None:
        super().__init__(device, precision, fixed_shape)
        self._settled: set[tuple] = set()

    def settle(self, fn: Callable[[], torch.Tensor], shape: tuple) -> None:
        if shape in self._settled:
            return
        try:
            with torch.inference_mode():
                fn()
        except Unavailable:
            raise
        except Exception as err:  # noqa: BLE001 - a compiler's or a runtime's failure is one line
            if out_of_memory(err) is not None:
                raise  # the loop retries in tiles, as for any forward
            raise Unavailable(f"{self.label}: {first_line(err)}") from None
        self._settled.add(shape)


class Compiled(_Settled):
    """``torch.compile`` in its default mode, compiled before the first timed forward: for any input size (one
    compilation for every image of a split) or, with ``fixed_shape``, specialised to the one size."""

    name: ClassVar[str] = "compile"
    mode: ClassVar[str] = "default"

    @classmethod
    def missing(cls, device: torch.device, precision: str) -> str | None:
        if device.type == "cuda" and importlib.util.find_spec("triton") is None:
            return "needs the triton package for CUDA kernels"
        compiler = os.environ.get("CXX", "g++")
        if device.type != "cuda" and shutil.which(compiler) is None:
            return f"needs a C++ compiler on the CPU ({compiler} not found; set CXX)"
        return super().missing(device, precision)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "mode": self.mode, "dynamic": not self.fixed_shape, "torch": torch.__version__}

    def build(self, model: nn.Module) -> Forward:
        cast = copy.deepcopy(model).to(self.dtype)
        compiled = torch.compile(cast, mode=None if self.mode == "default" else self.mode, dynamic=not self.fixed_shape)
        return lambda x: compiled(x.to(self.dtype)).float()


class CudaGraphs(Compiled):
    """``torch.compile(mode="max-autotune")``: Triton kernels autotuned, the forward replayed as a CUDA graph."""

    name: ClassVar[str] = "cudagraphs"
    mode: ClassVar[str] = "max-autotune"

    @classmethod
    def missing(cls, device: torch.device, precision: str) -> str | None:
        return "needs a CUDA device (CUDA graphs)" if device.type != "cuda" else super().missing(device, precision)

    def build(self, model: nn.Module) -> Forward:
        compiled = super().build(model)

        def call(x: torch.Tensor) -> torch.Tensor:
            torch.compiler.cudagraph_mark_step_begin()  # one inference per replay; the graph's output is reused
            return compiled(x).clone()

        return call


def _export_failure(err: BaseException) -> str:
    """Why ``torch.onnx.export`` failed, in one line: the exporter's message opens with the steps of exporting and
    names the cause under ``## Exception summary`` (``GuardOnDataDependentSymNode: Could not guard on …``)."""
    text = plain(str(err))
    _, found, summary = text.partition("## Exception summary")
    cause = next((line.strip() for line in summary.splitlines() if line.strip()), "") if found else ""
    cause = re.sub(r"^<class '(?:[\w.]+\.)?(\w+)'>", r"\1", cause)
    cause = (cause if len(cause) <= 200 else cause[:197] + "...") if cause else first_line(err)
    call = re.search(r"The following call raised this error:\s*File \"([^\"]+)\", line (\d+)[^\n]*\n\s*(\S[^\n]*)",
                     text)
    return cause if call is None else f"{cause}; at {Path(call[1]).name}:{call[2]}: {call[3].strip()[:80]}"


class FixedSize(Unavailable):
    """The exporter fixed the input size: the graph holds for the example's size only."""


def _onnx(model: nn.Module, dtype: torch.dtype, device: torch.device, label: str,
          shape: tuple[int, ...] | None = None) -> tuple[bytes, str, str]:
    """``model`` in ``dtype`` exported to ONNX by ``torch.onnx.export`` (the torch.export-based exporter) with
    dynamic height and width, or for the one input ``shape``: the serialised model and its input and output names
    (:class:`FixedSize` where a dynamic export came out fixed)."""
    cast = copy.deepcopy(model).to(device=device, dtype=dtype)
    example = torch.rand(*(shape or (1, 3, 64, 64)), dtype=dtype, device=device)
    height, width = torch.export.Dim("height", min=16, max=4096), torch.export.Dim("width", min=16, max=4096)
    # the exporter logs each optional package it does not find; a failed export logs where the shapes failed and
    # prints its traced graph to stderr: the one line below says why
    quiet = [logging.getLogger(name) for name in ("torch.onnx", "torch.fx.experimental.symbolic_shapes")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(cast, (example,), dynamo=True, input_names=["lr"], output_names=["sr"],
                                        dynamic_shapes=None if shape else ({2: height, 3: width},), verbose=False)
    except Exception as err:  # noqa: BLE001 - the exporter's failure is one line
        if out_of_memory(err) is not None:
            raise
        raise Unavailable(f"{label}: the ONNX export failed ({_export_failure(err)})") from None
    finally:
        for logger, level in zip(quiet, levels):
            logger.setLevel(level)
    proto = program.model_proto
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    if shape is None and not (dims[2].dim_param and dims[3].dim_param):
        raise FixedSize(f"{label}: the exporter fixed the input size (the network's forward depends on it); only a "
                        "network whose graph does not depend on the input size exports with dynamic height and width")
    return proto.SerializeToString(), proto.graph.input[0].name, proto.graph.output[0].name


class OnnxRuntime(_Settled):
    """The network exported to ONNX with dynamic height and width, run by ONNX Runtime's best provider for the
    device (TensorRT, then CUDA on a GPU; the CPU provider on a CPU), inputs and outputs bound in place.

    With ``fixed_shape``, or where the exporter fixes the input size (a forward that depends on it), the network is
    exported once per input size instead, when that size is settled (outside the timer), and kept for the process."""

    name: ClassVar[str] = "onnxruntime"
    allocator: ClassVar[str] = "own"

    @classmethod
    def missing(cls, device: torch.device, precision: str) -> str | None:
        """The packages and the provider; whether the provider has kernels in ``precision`` shows when the session
        is made."""
        if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnxscript") is None:
            return "needs the onnxruntime, onnx and onnxscript packages (pip install -r requirements.txt)"
        import onnxruntime

        if device.type == "cuda" and "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            return "a CUDA device needs onnxruntime-gpu (pip install -r requirements-gpu.txt)"
        return None

    def describe(self) -> dict[str, Any]:
        import onnxruntime

        found = next(iter(self.sessions.values()), None) if self._prepared is not None else None
        return {**super().describe(), "onnxruntime": onnxruntime.__version__,
                "providers": found[0].get_providers() if found is not None else None,
                "exporter": f"torch.onnx.export(dynamo=True), torch {torch.__version__}",
                "export": "per input size" if None not in self.sessions else "dynamic height and width",
                "intra_op_threads": torch.get_num_threads()}

    def _providers(self) -> list[Any]:
        import onnxruntime

        if self.device.type != "cuda":
            return ["CPUExecutionProvider"]
        index = self.device.index or 0
        cuda = ("CUDAExecutionProvider", {"device_id": index,
                                          "user_compute_stream": str(torch.cuda.current_stream(self.device).cuda_stream)})
        trt = ("TensorrtExecutionProvider", {"device_id": index})
        return [trt, cuda] if "TensorrtExecutionProvider" in onnxruntime.get_available_providers() else [cuda]

    def _session(self, model: nn.Module, shape: tuple[int, ...] | None) -> tuple[Any, str, str]:
        """A session of the export for ``shape`` (None: dynamic height and width), and its input and output names."""
        import onnxruntime

        onnx_bytes, lr, sr = _onnx(model, self.dtype, torch.device("cpu"), self.label, shape)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()  # as many threads as the PyTorch backends use
        options.enable_cpu_mem_arena = False  # CPU buffers from malloc, as PyTorch's: the peak RSS sees them alike
        options.log_severity_level = 3
        return onnxruntime.InferenceSession(onnx_bytes, options, providers=self._providers()), lr, sr

    def build(self, model: nn.Module) -> Forward:
        self.sessions: dict[tuple[int, ...] | None, Any] = {}  # None: the dynamic export, for every size
        if not self.fixed_shape:
            with contextlib.suppress(FixedSize):
                self.sessions[None] = self._session(model, None)
        element = _numpy_type(self.dtype)
        where = (self.device.type, self.device.index or 0)

        def call(x: torch.Tensor) -> torch.Tensor:
            x = x.to(self.dtype).contiguous()
            found = self.sessions.get(None) or self.sessions.get(tuple(x.shape))
            if found is None:  # a size not settled yet: its export (settle runs this before the timer)
                found = self.sessions[tuple(x.shape)] = self._session(model, tuple(x.shape))
            session, lr, sr = found
            out = torch.empty(x.shape[0], 3, x.shape[2] * SCALE, x.shape[3] * SCALE, dtype=self.dtype, device=x.device)
            binding = session.io_binding()
            binding.bind_input(lr, *where, element, tuple(x.shape), x.data_ptr())
            binding.bind_output(sr, *where, element, tuple(out.shape), out.data_ptr())
            session.run_with_iobinding(binding)
            return out.float()

        return call


def _numpy_type(dtype: torch.dtype) -> Any:
    import numpy as np

    if dtype == torch.bfloat16:
        import ml_dtypes  # installed with onnx

        return ml_dtypes.bfloat16
    return {torch.float32: np.float32, torch.float16: np.float16}[dtype]


TRT_SHAPES = ((16, 16), (256, 256), (1024, 1024))
"""The TensorRT engine's optimisation profile: smallest, optimal and largest LR (height, width)."""


class TensorRT(_Settled):
    """A TensorRT engine built from the ONNX export (dynamic height and width, ``TRT_SHAPES``); FP16 and BF16
    let TensorRT choose those kernels (builder flags), inputs and outputs stay FP32."""

    name: ClassVar[str] = "tensorrt"
    allocator: ClassVar[str] = "own"

    @classmethod
    def missing(cls, device: torch.device, precision: str) -> str | None:
        if device.type != "cuda" or importlib.util.find_spec("tensorrt") is None:
            return "needs a CUDA device and the tensorrt package (pip install -r requirements-gpu.txt)"
        if precision == "bf16" and not torch.cuda.is_bf16_supported():
            return f"{torch.cuda.get_device_name(device)} has no bfloat16 arithmetic"
        return OnnxRuntime.missing(torch.device("cpu"), "fp32")  # the ONNX exporter

    def describe(self) -> dict[str, Any]:
        import tensorrt

        return {**super().describe(), "tensorrt": tensorrt.__version__, "profile": TRT_SHAPES}

    def build(self, model: nn.Module) -> Forward:
        import tensorrt as trt

        onnx_bytes, lr, sr = _onnx(model, torch.float32, torch.device("cpu"), self.label)
        logger = trt.Logger(trt.Logger.ERROR)
        builder = trt.Builder(logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse(onnx_bytes):
            raise Unavailable(f"{self.label}: TensorRT cannot parse the ONNX export ({parser.get_error(0).desc()})")
        config = builder.create_builder_config()
        if self.precision != "fp32":
            config.set_flag(trt.BuilderFlag.FP16 if self.precision == "fp16" else trt.BuilderFlag.BF16)
        profile = builder.create_optimization_profile()
        profile.set_shape(lr, *((1, 3, h, w) for h, w in TRT_SHAPES))
        config.add_optimization_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise Unavailable(f"{self.label}: TensorRT could not build an engine for this network")
        engine = trt.Runtime(logger).deserialize_cuda_engine(serialized)
        context = engine.create_execution_context()

        def call(x: torch.Tensor) -> torch.Tensor:
            x = x.float().contiguous()
            context.set_input_shape(lr, tuple(x.shape))
            out = torch.empty(tuple(context.get_tensor_shape(sr)), dtype=torch.float32, device=x.device)
            context.set_tensor_address(lr, x.data_ptr())
            context.set_tensor_address(sr, out.data_ptr())
            if not context.execute_async_v3(torch.cuda.current_stream(x.device).cuda_stream):
                raise RuntimeError("TensorRT could not run the engine")
            return out

        return call


BACKENDS: dict[str, type[Backend]] = {b.name: b for b in (Backend, ChannelsLast, Compiled, CudaGraphs, OnnxRuntime,
                                                          TensorRT)}
"""Every way a model can be run, by ``--backend`` name; ``eager`` (in ``fp32``) is the official one."""


def make_backend(name: str, device: torch.device, precision: str = "fp32", fixed_shape: bool = False) -> Backend:
    """The backend ``name`` in ``precision`` on ``device`` (``fixed_shape``: see ``Backend``); :class:`Unavailable`
    (one line) when this machine cannot run it: a missing package, compiler or device, or no kernels in that
    precision."""
    if name not in BACKENDS:
        raise Unavailable(f"--backend {name}: not a backend; use one of {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise Unavailable(f"--precision {precision}: not a precision; use one of {', '.join(PRECISIONS)}")
    why = BACKENDS[name].missing(device, precision)
    if why is not None:
        raise Unavailable(f"{name} {precision}: {why}")
    return BACKENDS[name](device, precision, fixed_shape)


FP32_TOLERANCE = 1e-4
"""Largest output difference from FP32 eager allowed for an FP32 way, as a fraction of the data range: round-off of
reordered float32 sums (fused, compiled or exported kernels), far below the 1/255 of a uint8 level."""
UNIT_ROUNDOFF = {"tf32": 2.0**-11, "fp16": 2.0**-11, "bf16": 2.0**-8}
"""The relative error of one rounding in each reduced arithmetic (half its spacing at 1): 11 and 8 significant bits;
TF32 (the float32 convolutions of cuDNN on GPUs from Ampere on) keeps FP16's 10 stored ones."""
MAX_ROUNDOFFS = 32
"""The largest single-value difference a reduced-precision way may show, in units of its ``UNIT_ROUNDOFF``."""
RMS_ROUNDOFFS = 2
"""The root-mean-square output error its PSNR change is allowed, in units of its ``UNIT_ROUNDOFF``."""
PSNR_RESOLUTION = 0.01
"""dB: the organizers print PSNR to two decimals; a smaller change is never a failure."""


class DeploymentFailed(HarnessError):
    """A way whose output is beyond its :class:`Tolerance` of the FP32 eager one: one line with its difference and PSNR
    change; the run is recorded as failed, never as an entry with figures."""


@dataclass(frozen=True)
class Tolerance:
    """How far a way's output may be from the FP32 eager output of the same model on the same input.

    FP32: the largest difference at most ``FP32_TOLERANCE`` of the data range; the uint8 outputs are then
    equal but for values within 1e-4 of a rounding boundary, so the PSNR is not judged apart.

    FP16, BF16 (and FP32 where the reference itself convolves in TF32): the bound follows the precision's
    unit roundoff u (2^-11, 2^-8). On Set5 the shipped baselines (RFDN, RLFN, EFDN, SPAN; eager and
    channels-last, this CPU) differ from FP32 eager by at most 3–13 u at one value (FP16 1.6e-3–6.1e-3 of
    the range, BF16 0.021–0.038) and their PSNR changes by −0.00004 to −0.0009 dB in FP16 and −0.008 to
    −0.035 dB in BF16. An error e of root-mean-square σ (as a fraction of the range) that is independent of
    the reference's own error adds σ² to its MSE, 10^(−PSNR/10), so it changes the PSNR by
    10·log10(1 + σ²·10^(PSNR/10)) dB: the measured changes give σ = 0.5–1.0 u. So a way is within tolerance
    when its largest difference is at most ``MAX_ROUNDOFFS`` u (0.0156 in FP16, 0.125 in BF16: 2.5–3× the
    largest measured) and its PSNR moves by at most the change an rms error of ``RMS_ROUNDOFFS`` u gives
    at the reference's PSNR (at 29.85 dB: 0.0040 dB in FP16, 0.25 dB in BF16), or by ``PSNR_RESOLUTION``
    when that is larger. A network whose output is 0.175 of the range away fails in either precision.
    """

    precision: str
    arithmetic: str
    """``fp32``, ``tf32``, ``fp16`` or ``bf16``: what the bound was derived for."""
    max_difference: float
    rms_difference: float | None
    """None where the PSNR is not judged (FP32)."""

    @classmethod
    def of(cls, precision: str, device: torch.device) -> Tolerance:
        """The tolerance of a way in ``precision`` on ``device``."""
        arithmetic = "tf32" if precision == "fp32" and _tf32_convolutions(device) else precision
        if arithmetic == "fp32":
            return cls(precision, arithmetic, FP32_TOLERANCE, None)
        u = UNIT_ROUNDOFF[arithmetic]
        return cls(precision, arithmetic, MAX_ROUNDOFFS * u, RMS_ROUNDOFFS * u)

    def psnr_change(self, reference_psnr: float | None) -> float | None:
        """The largest PSNR change [dB] allowed at the reference's PSNR; None where the PSNR is not judged."""
        if self.rms_difference is None or reference_psnr is None:
            return None
        return max(PSNR_RESOLUTION, 10 * math.log10(1 + self.rms_difference**2 * 10 ** (reference_psnr / 10)))

    def describe(self, reference_psnr: float | None) -> dict[str, Any]:
        """What a record states of the bounds a split was judged by."""
        return {"arithmetic": self.arithmetic, "max_difference": self.max_difference,
                "psnr_change": self.psnr_change(reference_psnr)}

    def judge(self, max_difference: float | None, psnr_change: float | None, reference_psnr: float | None
              ) -> str | None:
        """Why a way's output is beyond this tolerance (one line, with its difference and PSNR change), or None
        when it is within, or when nothing could be measured (no reference, no weights)."""
        bound = self.psnr_change(reference_psnr)
        beyond = (max_difference is not None and max_difference > self.max_difference) or \
            (psnr_change is not None and bound is not None and abs(psnr_change) > bound)
        if not beyond:
            return None
        said = "n/a" if max_difference is None else f"{max_difference:.3g}"
        change = "" if psnr_change is None else \
            f", PSNR change {psnr_change:+.4f} dB" + ("" if bound is None else f" (tolerance ±{bound:.4f} dB)")
        arithmetic = "" if self.arithmetic == self.precision else f" (convolutions in {self.arithmetic})"
        return (f"the {self.precision} output is beyond its tolerance of FP32 eager{arithmetic}: largest difference "
                f"{said} of the data range (tolerance {self.max_difference:.3g}){change}")


def _tf32_convolutions(device: torch.device) -> bool:
    """Whether float32 convolutions on ``device`` run in TF32 (cuDNN's default on GPUs from Ampere on): the FP32 eager
    reference itself then carries TF32's round-off."""
    return device.type == "cuda" and torch.backends.cudnn.allow_tf32 and \
        torch.cuda.get_device_capability(device)[0] >= 8
