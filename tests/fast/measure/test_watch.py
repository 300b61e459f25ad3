"""Was the machine quiet while a split was timed (``benchmark.measure.watch``): other processes' CPU cores from fixed
readings, and the GPU's state through a stand-in for NVML (``pynvml``), absent where it cannot be read."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from benchmark.measure import watch

CPU = torch.device("cpu")


def test_busy_cpu_readings(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter([100.0, 113.0])  # the machine's busy CPU seconds at the start and end
    own = iter([50.0, 55.0])  # this process's own
    clock = iter([0.0, 10.0])
    monkeypatch.setattr(watch, "_cpu_busy_seconds", lambda: next(readings))
    monkeypatch.setattr(watch, "_own_seconds", lambda: next(own))
    monkeypatch.setattr(watch.time, "perf_counter", lambda: next(clock))
    state = watch.Watch(CPU).finish()
    assert state["cpu"]["other_cores"] == pytest.approx(0.8)  # (13 - 5) s over 10 s
    assert watch.busy_reasons(state) == [f"other processes used 0.8 of {watch.os.cpu_count()} CPU cores"]
    assert watch.busy_reasons({"cpu": {"other_cores": 0.2, "cpus": 2}}) == []


def fake_nvml(reasons: int, processes: int, sm_clock: int) -> types.ModuleType:
    """A stand-in for ``pynvml`` (nvidia-ml-py) describing one GPU."""
    nvml = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    values = {"NVML_CLOCK_SM": 0, "NVML_CLOCK_MEM": 1, "NVML_TEMPERATURE_GPU": 0, "NVMLError": NVMLError,
              "nvmlClocksThrottleReasonGpuIdle": 0x1, "nvmlClocksThrottleReasonSwPowerCap": 0x4,
              "nvmlClocksThrottleReasonHwThermalSlowdown": 0x40}
    calls = {"nvmlInit": lambda: None, "nvmlShutdown": lambda: None,
             "nvmlDeviceGetHandleByUUID": lambda uuid: uuid,
             "nvmlDeviceGetCurrentClocksThrottleReasons": lambda h: reasons,
             "nvmlDeviceGetComputeRunningProcesses": lambda h: [types.SimpleNamespace(pid=p) for p in range(processes)],
             "nvmlDeviceGetClockInfo": lambda h, kind: sm_clock if kind == 0 else 7000,
             "nvmlDeviceGetMaxClockInfo": lambda h, kind: 2100 if kind == 0 else 8001,
             "nvmlDeviceGetTemperature": lambda h, kind: 71, "nvmlDeviceGetPowerUsage": lambda h: 250_500,
             "nvmlDeviceGetEnforcedPowerLimit": lambda h: 300_000}
    for name, value in {**values, **calls}.items():
        setattr(nvml, name, value)
    return nvml


def test_gpu_state_through_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = torch.device("cuda", 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda d: types.SimpleNamespace(uuid="1234"))
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(reasons=0x4 | 0x40, processes=3, sm_clock=1500))
    state = watch.gpu_state(cuda)
    assert state == {"sm_clock_mhz": 1500, "sm_clock_max_mhz": 2100, "memory_clock_mhz": 7000,
                     "memory_clock_max_mhz": 8001, "temperature_c": 71, "power_w": 250.5, "power_limit_w": 300.0,
                     "throttle_reasons": ["SwPowerCap", "HwThermalSlowdown"], "other_processes": 2}
    reasons = watch.busy_reasons({"cpu": {}, "gpu": {"start": state, "end": None}})
    assert reasons == ["2 other process(es) on the GPU at the split's start",
                       "GPU throttled at the split's start (software power cap, hardware thermal slowdown)",
                       "GPU clock 1500 MHz at the split's start, below its maximum 2100 MHz"]
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(reasons=0x1, processes=1, sm_clock=300))
    idle = watch.gpu_state(cuda)
    assert watch.busy_reasons({"gpu": {"start": idle, "end": idle}}) == []  # an idle GPU's low clock is no warning
    assert watch.gpu_state(CPU) is None
    monkeypatch.setitem(sys.modules, "pynvml", None)  # nvidia-ml-py not installed: absent, not made up
    assert watch.gpu_state(cuda) is None
