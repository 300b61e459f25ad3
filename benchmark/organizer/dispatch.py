"""Where teams run: one worker at a time per local device, or each team a Ray task holding one whole GPU."""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.core.errors import HarnessError
from benchmark.organizer import jobs
from benchmark.organizer.driver import Driver
from benchmark.organizer.plan import Job


@dataclass
class Slot:
    """One device that runs one team at a time: the device the worker is told and the environment it gets."""

    label: str
    worker_device: str
    env: dict[str, str] = field(default_factory=dict)


def _slot(device: str) -> Slot:
    from benchmark.measure.backend import pick_device

    dev = pick_device(device)
    if dev.type == "cpu":
        return Slot("cpu", "cpu")
    index = dev.index or 0
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    physical = visible[index] if index < len(visible) else str(index)
    return Slot(f"cuda:{index}", "cuda", {"CUDA_VISIBLE_DEVICES": physical})


@dataclass(frozen=True)
class Limits:
    """What confines a team's worker: what it may take before it is killed (None is no limit), and the account it
    runs as (None: the sweep's own)."""

    timeout: float | None = None
    """Seconds."""
    memory_cap_gb: float | None = None
    run_as: str | None = None


def local_slots(device: str, devices: str | None) -> list[Slot]:
    """The slots of ``--devices`` (comma-separated), else the one ``--device``."""
    if devices is not None:
        names = [d.strip() for d in devices.split(",") if d.strip()]
        if not names:
            raise HarnessError(f"--devices {devices!r} names no device; give them comma-separated: cuda:0,cuda:1")
        slots = [_slot(name) for name in names]
        labels = [s.label for s in slots]
        if len(set(labels)) != len(labels):
            raise HarnessError(f"--devices {devices}: a device is named twice; one timed team per device")
        return slots
    return [_slot(device)]


def run_local(pending: list[Job], slots: list[Slot], driver: Driver, limits: Limits) -> None:
    """One thread per device, each running its next team's worker process until none is left."""
    queue: deque[Job] = deque(pending)
    stop = threading.Event()
    active: dict[str, int] = {}
    errors: list[BaseException] = []

    def serve(slot: Slot) -> None:
        try:
            take(slot)
        except Exception as err:  # noqa: BLE001 - the driver's own error (an unwritable results folder): stop, say it once
            errors.append(err)
            stop.set()

    def take(slot: Slot) -> None:
        while not stop.is_set():
            with driver.lock:
                if not queue:
                    return
                job = queue.popleft()
            outcome = jobs.execute({**job.payload, "device": slot.worker_device}, timeout=limits.timeout,
                                   memory_cap_gb=limits.memory_cap_gb, log_path=driver.log_path(job), env=slot.env,
                                   started=lambda pid, s=slot.label: active.__setitem__(s, pid),
                                   run_as=limits.run_as)
            active.pop(slot.label, None)
            if not stop.is_set():
                driver.finish(job, outcome)

    if len(slots) == 1:
        take(slots[0])
        return
    threads = [threading.Thread(target=serve, args=(slot,), name=f"slot-{slot.label}", daemon=True) for slot in slots]
    for thread in threads:
        thread.start()
    try:
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(0.2)
        if errors:
            raise errors[0]
    except KeyboardInterrupt:
        stop.set()
        for pid in list(active.values()):
            jobs.kill_group(pid)
        raise


def run_ray(pending: list[Job], device: str, driver: Driver, limits: Limits) -> None:
    """Each team a Ray task holding one whole GPU (one CPU on cpu) that runs the same worker process."""
    import ray

    resources = {"num_gpus": 1} if device == "cuda" else {"num_cpus": 1}
    task = ray.remote(jobs.execute_remote).options(max_retries=0, runtime_env=ray_runtime_env(), **resources)
    threads = jobs.driver_threads()
    refs = {task.remote({**job.payload, "device": device}, limits.timeout, limits.memory_cap_gb, threads,
                        limits.run_as): job for job in pending}
    try:
        waiting = list(refs)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            for ref in done:
                try:
                    outcome = ray.get(ref)
                except Exception as err:  # noqa: BLE001 - a lost node or task is that team's failure
                    lines = [line for line in str(err).splitlines() if line.strip()]
                    outcome = {"ok": False, "reason": f"the Ray task failed ({type(err).__name__}: "
                                                      f"{lines[-1].strip() if lines else ''})"}
                driver.finish(refs[ref], outcome)
    except KeyboardInterrupt:
        for ref in refs:
            ray.cancel(ref, force=True)
        raise


def ray_runtime_env() -> dict[str, Any]:
    """What a Ray worker needs to import ``benchmark``: this checkout on its PYTHONPATH (same path on every node)."""
    path = [str(jobs.PROJECT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(path))}}


def connect_ray(address: str) -> tuple[bool, str]:
    """Join the Ray cluster at ``address``; returns whether this call connected, and the device tasks get."""
    try:
        import ray
    except ImportError:
        raise HarnessError("--ray needs the ray package: pip install -r requirements.txt") from None
    started = False
    if not ray.is_initialized():
        check_reachable(address)
        try:
            ray.init(address=address, log_to_driver=False, runtime_env=ray_runtime_env(), logging_level="warning")
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise HarnessError(f"--ray {address}: no Ray cluster there ({str(err).splitlines()[0]}); start one with "
                               "ray start --head (and ray start --address HEAD:6379 on the other machines); a cluster "
                               "with token authentication also needs its RAY_AUTH_MODE and token here") from None
        started = True
    gpus = ray.cluster_resources().get("GPU", 0)
    return started, "cuda" if gpus else "cpu"


RAY_CONNECT_SECONDS = 5.0
"""How long the Ray head may take to accept a TCP connection before ``--ray ADDRESS`` is refused."""


def _head(address: str) -> str | None:
    """The ``host:port`` a Ray address points at: itself, a ``ray://`` client address, or for ``auto`` the cluster
    ``ray start`` left on this machine (``RAY_ADDRESS`` first); None when there is none to check."""
    if address in ("auto", "local"):
        address = os.environ.get("RAY_ADDRESS", "")
        if not address:
            with contextlib.suppress(OSError):
                address = Path(tempfile.gettempdir(), "ray", "ray_current_cluster").read_text().strip()
        if not address:
            return None
    return address.removeprefix("ray://")


def check_reachable(address: str, deadline: float = RAY_CONNECT_SECONDS) -> None:
    """Refuse, within ``deadline`` seconds, a Ray address nothing listens at (``ray.init`` would wait forever)."""
    head = _head(address)
    if head is None:
        if address == "auto":
            raise HarnessError("--ray auto: no Ray cluster was started on this machine (ray start --head); pass "
                               "--ray HEAD:6379")
        return
    host, _, port = head.rpartition(":")
    if not host or not port.isdigit():
        raise HarnessError(f"--ray {address}: not HOST:PORT (e.g. 10.0.0.5:6379)")
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=deadline).close()
            outcome.append(None)
        except (OSError, ValueError) as err:
            outcome.append(err)

    thread = threading.Thread(target=connect, daemon=True)  # a name lookup has no timeout of its own
    thread.start()
    thread.join(deadline)
    if not outcome:
        raise HarnessError(f"--ray {address}: no answer within {deadline:g} s; is the Ray head running there?")
    if outcome[0] is not None:
        err = outcome[0]
        why = err.strerror if isinstance(err, OSError) and err.strerror else str(err) or type(err).__name__
        raise HarnessError(f"--ray {address}: cannot connect ({why}); start the head with ray start --head, or pass "
                           "its address")


def ray_device_names(device: str) -> set[str]:
    import ray

    probe = ray.remote(jobs.device_name).options(max_retries=0, runtime_env=ray_runtime_env(),
                                                 **({"num_gpus": 1} if device == "cuda" else {"num_cpus": 1}))
    return {ray.get(probe.remote(device))}
