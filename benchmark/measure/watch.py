"""Was the machine quiet while a split was timed? Other processes' share of the CPUs, and on CUDA the GPU's clocks,
temperature, power limit, throttle reasons and other processes, read through NVML (``nvidia-ml-py``).

The CPU figure is the CPU time every other process took during the split (``/proc/stat`` less this
process's own), in cores: unlike the load average it does not count this process's own threads
and does not lag a minute behind. Where a reading is not available (no ``/proc/stat``, no NVML, no
GPU) its keys are absent, never made up.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

import torch

BUSY_CORES = 0.5
"""Other processes using more than this many cores on average during a split make it a busy split."""
SHORTEST = 0.5
"""Seconds a split must last for its CPU reading to mean anything (the kernel counts CPU time in ticks of 10 ms)."""
SLOW_CLOCK = 0.9
"""An SM clock below this share of its maximum, on a GPU that is not idle, counts as clocks below their maximum."""
SLOWDOWNS = {"SwPowerCap": "software power cap", "HwSlowdown": "hardware slowdown",
             "SwThermalSlowdown": "software thermal slowdown", "HwThermalSlowdown": "hardware thermal slowdown",
             "HwPowerBrakeSlowdown": "power brake"}
"""NVML's clock throttle reasons that slow a forward (``nvmlClocksThrottleReason<name>``), as the warning says them."""
OTHER_REASONS = ("GpuIdle", "ApplicationsClocksSetting", "SyncBoost", "DisplayClockSetting")


def _cpu_busy_seconds() -> float | None:
    """Seconds of CPU time spent outside idle and iowait by the whole machine, from ``/proc/stat``."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if fields[0] != "cpu":
        return None
    ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system


def gpu_state(device: torch.device) -> dict[str, Any] | None:
    """The GPU's clocks, temperature, power and throttle reasons, and how many other processes use it; None when NVML
    cannot say (not CUDA, no ``nvidia-ml-py``, no driver)."""
    if device.type != "cuda":
        return None
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return None
    try:
        uuid = torch.cuda.get_device_properties(device).uuid
        handle = pynvml.nvmlDeviceGetHandleByUUID(f"GPU-{uuid}")
        reasons = pynvml.nvmlDeviceGetCurrentClocksThrottleReasons(handle)
        named = [name for name in (*SLOWDOWNS, *OTHER_REASONS)
                 if reasons & getattr(pynvml, f"nvmlClocksThrottleReason{name}", 0)]
        # this process has a context on the GPU, so one entry is its own (in a container, under a host pid)
        others = max(len(pynvml.nvmlDeviceGetComputeRunningProcesses(handle)) - 1, 0)
        return {
            "sm_clock_mhz": pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_SM),
            "sm_clock_max_mhz": pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_SM),
            "memory_clock_mhz": pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_MEM),
            "memory_clock_max_mhz": pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_MEM),
            "temperature_c": pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU),
            "power_w": pynvml.nvmlDeviceGetPowerUsage(handle) / 1000,
            "power_limit_w": pynvml.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000,
            "throttle_reasons": named,
            "other_processes": others,
        }
    except pynvml.NVMLError:
        return None
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()


class Watch:
    """The machine's state from ``Watch(device)`` to ``finish()``: what a split's ``{split}_machine`` key holds."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.gpu = gpu_state(device)
        self.begin, self.busy, self.own = time.perf_counter(), _cpu_busy_seconds(), _own_seconds()
        self.load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    def finish(self) -> dict[str, Any]:
        wall = time.perf_counter() - self.begin
        busy, own = _cpu_busy_seconds(), _own_seconds()
        cpu: dict[str, Any] = {"cpus": os.cpu_count()}
        if self.busy is not None and busy is not None and wall >= SHORTEST:
            cpu["other_cores"] = max(0.0, (busy - self.busy) - (own - self.own)) / wall
        if self.load is not None:
            cpu["load_average"] = [self.load, os.getloadavg()[0]]
        state: dict[str, Any] = {"cpu": cpu}
        end = gpu_state(self.device)
        if self.gpu is not None or end is not None:
            state["gpu"] = {"start": self.gpu, "end": end}
        return state


def busy_reasons(machine: dict[str, Any]) -> list[str]:
    """Why a split's times may be slow or noisy, from its ``{split}_machine`` record: one phrase per reason."""
    reasons = []
    other = (machine.get("cpu") or {}).get("other_cores")
    if other is not None and other > BUSY_CORES:
        reasons.append(f"other processes used {other:.1f} of {machine['cpu'].get('cpus')} CPU cores")
    gpu = machine.get("gpu") or {}
    for when in ("start", "end"):
        state = gpu.get(when)
        if not state:
            continue
        if state["other_processes"] > 0:
            reasons.append(f"{state['other_processes']} other process(es) on the GPU at the split's {when}")
        slow = [SLOWDOWNS[r] for r in state["throttle_reasons"] if r in SLOWDOWNS]
        if slow:
            reasons.append(f"GPU throttled at the split's {when} ({', '.join(slow)})")
        if "GpuIdle" not in state["throttle_reasons"] and \
                state["sm_clock_mhz"] < SLOW_CLOCK * state["sm_clock_max_mhz"]:
            reasons.append(f"GPU clock {state['sm_clock_mhz']} MHz at the split's {when}, below its maximum "
                           f"{state['sm_clock_max_mhz']} MHz")
    return reasons
