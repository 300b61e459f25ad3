"""The seam between the timed loop and the hardware: the device, how a model is prepared and called on it, and
how its time and memory are read.

The official protocol is eager PyTorch in FP32: the model is called as it is, timed with CUDA events
(then synchronised) on a GPU or with ``perf_counter`` on a CPU, and its memory is the CUDA
allocator's peak (the process's peak RSS on a CPU). :class:`Backend` is that protocol. A deployment
backend (channels-last, compiled, exported: ``benchmark.measure.deploy``, whose ``BACKENDS`` names
them all) is a subclass that changes how the model is prepared and called, in a precision of its
own; the device's clock and memory stay the same, so its figures compare with the official ones.
"""

from __future__ import annotations

import copy
import re
import resource
import time
from pathlib import Path
from typing import Any, Callable, ClassVar

import torch
from torch import nn

from benchmark.core import host
from benchmark.core.errors import HarnessError, plain

DEVICE_FORMS = "auto, cpu, cuda, cuda:N"
PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
"""Every ``--precision`` by name; ``fp32`` is the official one."""
REFERENCE = ("eager", "fp32")
"""The backend and precision of the official protocol, whose figures the official keys mean."""


class Unavailable(HarnessError):
    """A backend or precision this machine cannot run: one line saying why (``tensorrt fp16: needs …``)."""


def pick_device(name: str) -> torch.device:
    """``auto`` (CUDA when there is one), ``cpu``, ``cuda`` or ``cuda:N``; a HarnessError for anything else
    (``mps``, ``cpu:1``, ``cuda:abc`` …) and for a GPU this machine does not have."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::([0-9]+))?", name)
    if match is None:
        raise HarnessError(f"--device {name!r}: not a device this harness runs on; use one of {DEVICE_FORMS}")
    if not torch.cuda.is_available():
        raise HarnessError(f"--device {name}: no CUDA device is available here; use --device cpu")
    if match[1] is None:
        return torch.device("cuda")
    index, count = int(match[1]), torch.cuda.device_count()
    if index >= count:
        raise HarnessError(f"--device {name}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}; "
                           "use one of them")
    return torch.device("cuda", index)


class PeakMemory:
    """Peak memory over a split: CUDA ``max_memory_allocated``, or the process's peak RSS on CPU.

    On CUDA only the forwards count, as in the official loop, which scores on the host: the peak is
    reset before each forward and read after it, so the harness's on-device scoring (float64 copies
    of SR and HR) never inflates the figure.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.kind = "cuda_max_memory_allocated" if device.type == "cuda" else "cpu_peak_rss"
        self.peak = 0

    def reset(self) -> None:
        if self.device.type == "cuda":
            self.peak = 0
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        host.release_freed_memory()  # memory kept from earlier work would count in this split's peak
        try:  # Linux: writing 5 resets the VmHWM high-water mark of this process
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass

    def before_forward(self) -> None:
        """CUDA: start the peak afresh at what is allocated now, so the scoring of earlier images is not counted."""
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def after_forward(self) -> None:
        """CUDA: keep the forward's peak."""
        if self.device.type == "cuda":
            self.peak = max(self.peak, torch.cuda.max_memory_allocated(self.device))

    def read_mib(self) -> float:
        if self.device.type == "cuda":  # the forwards' peak: what the scoring after the last forward took is not in it
            return self.peak / 1024**2
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cap_gpu_memory(device: torch.device, gib: float) -> None:
    """Let this process allocate at most ``gib`` GiB on ``device``: whether a model fits a smaller GPU than this one
    (the organizers' card, say), out-of-memory retries in tiles included."""
    if device.type != "cuda":
        raise HarnessError(f"--gpu-memory {gib:g}: caps a GPU's memory, and this run is on the {device.type}; drop it or "
                           "run with --device cuda")
    total = torch.cuda.get_device_properties(device).total_memory
    if gib * 2**30 > total:
        raise HarnessError(f"--gpu-memory {gib:g}: more than this GPU's {total / 2**30:.1f} GiB; give at most that")
    torch.cuda.set_per_process_memory_fraction(gib * 2**30 / total, device)


def timed(fn: Callable[[], torch.Tensor], device: torch.device) -> tuple[torch.Tensor, float]:
    """Run ``fn`` once; milliseconds from CUDA events (then synchronise), or ``perf_counter`` on CPU (wall clock)."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        out = fn()
        end.record()
        torch.cuda.synchronize(device)
        return out, start.elapsed_time(end)
    begin = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - begin) * 1000


def out_of_memory(err: BaseException) -> str | None:
    """``"CUDA"`` or ``"CPU"`` when ``err`` says the forward did not fit in that memory, else None."""
    if isinstance(err, torch.cuda.OutOfMemoryError):
        return "CUDA"
    if isinstance(err, MemoryError) or (isinstance(err, RuntimeError) and "can't allocate memory" in str(err)):
        return "CPU"  # MemoryError, or the DefaultCPUAllocator's RuntimeError
    return None


class Backend:
    """Eager PyTorch, the official protocol in FP32: the model is called as it is on ``device``.

    In another ``precision`` a copy of the model is cast to it, the input cast on the way in and
    the output returned as float32 (inside the timed forward, as a deployment would have them), so
    the loop quantises and scores as it always does.
    """

    name: ClassVar[str] = "eager"
    allocator: ClassVar[str] = "torch"
    """Whose allocator holds the forward's memory on a GPU: ``torch`` (seen by its peak), or the backend's ``own``."""

    def __init__(self, device: torch.device, precision: str = "fp32", fixed_shape: bool = False) -> None:
        """``fixed_shape``: every input will have one shape (the speed matrix), which a compiler may specialise on."""
        if precision not in PRECISIONS:
            raise HarnessError(f"--precision {precision}: not a precision; use one of {', '.join(PRECISIONS)}")
        self.device, self.precision, self.dtype = device, precision, PRECISIONS[precision]
        self.fixed_shape = fixed_shape
        self._prepared: tuple[nn.Module, Callable[[torch.Tensor], torch.Tensor]] | None = None
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = False  # the official harness leaves cuDNN's autotuner off

    @classmethod
    def missing(cls, device: torch.device, precision: str) -> str | None:
        """Why this machine cannot run this backend in ``precision``, or None. Whether PyTorch has kernels in a
        precision is tried on a tiny convolution, not looked up."""
        dtype = PRECISIONS[precision]
        if precision == "fp32":
            return None
        if device.type == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
            return f"{torch.cuda.get_device_name(device)} has no bfloat16 arithmetic"
        try:
            ones = torch.ones(1, 3, 8, 8, dtype=dtype, device=device)
            torch.nn.functional.conv2d(ones, ones[:, :, :3, :3].expand(4, 3, 3, 3))
        except (RuntimeError, NotImplementedError) as err:
            return f"PyTorch has no {precision} convolution on {device.type} ({first_line(err)})"
        return None

    @property
    def label(self) -> str:
        """``eager fp32``, ``onnxruntime fp16``: how messages and tables name this way of running."""
        return f"{self.name} {self.precision}"

    @property
    def reference(self) -> bool:
        """Whether this is the official protocol (eager FP32), whose figures are the figures of record."""
        return (self.name, self.precision) == REFERENCE

    @property
    def scores_on_device(self) -> bool:
        """Whether outputs are quantised and scored where they were made (a GPU), not copied to the host first."""
        return self.device.type == "cuda"

    @property
    def clock(self) -> str:
        """What ``timed`` reads, as a results file names it."""
        return "cuda_events" if self.device.type == "cuda" else "cpu_perf_counter"

    def describe(self) -> dict[str, Any]:
        """What a record states of the backend: its name, precision and the versions or options it ran with."""
        return {"backend": self.name, "precision": self.precision}

    def prepare(self, model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
        """What the timed forward calls (built once per model: an export or a compilation is not repeated).

        A failure to build it (an exporter or a compiler that refuses the network, a missing kernel)
        is :class:`Unavailable`, one line.
        """
        if self._prepared is None or self._prepared[0] is not model:
            try:
                call = self.build(model)
            except HarnessError:
                raise
            except Exception as err:  # noqa: BLE001 - whatever the exporter or compiler raises, it is one line
                raise Unavailable(f"{self.label}: {first_line(err)}") from None
            self._prepared = (model, call)
        return self._prepared[1]

    def build(self, model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
        """The model itself in FP32; a cast copy in another precision."""
        if self.precision == "fp32":
            return model
        cast = copy.deepcopy(model).to(self.dtype)
        return lambda x: cast(x.to(self.dtype)).float()

    def settle(self, fn: Callable[[], torch.Tensor], shape: tuple) -> None:
        """Before the first timed forward of an input ``shape``: nothing in eager mode (the official first image
        is timed cold); a compiling backend compiles here, so compilation never counts as forward time."""

    def upload(self, lr: torch.Tensor) -> torch.Tensor:
        """An LR batch where the model runs (before the timer starts, as in the official loop)."""
        return lr.to(self.device)

    def timed(self, fn: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, float]:
        return timed(fn, self.device)

    def memory(self) -> PeakMemory:
        return PeakMemory(self.device)

    def release(self) -> None:
        """Give back what a forward that ran out of memory left cached, before it is tried again in tiles."""
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def first_line(err: BaseException, limit: int = 200) -> str:
    """``Type: first line of the message``, at most ``limit`` characters: how a failure is told in one line."""
    lines = [line.strip() for line in plain(str(err)).splitlines() if line.strip()]
    text = f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
