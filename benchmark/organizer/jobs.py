"""One team's job: its worker process, watched from outside — time limit, memory cap, crash — on this machine or
as a Ray task.

:func:`execute` starts ``python -m benchmark.organizer.worker JOBFILE`` in a session of its own (so that the
team's code and anything it starts can be killed together), polls it, and returns the outcome as a
dict: ``ok`` with the entry (``name``, ``record``, ``splits``), or ``ok: False`` with one line of
``reason``. A worker past ``timeout`` seconds, or whose processes together hold more than
``memory_cap_gb`` of resident memory (read from ``/proc``), is killed with its process group. The
same function runs inside a Ray task (:func:`execute_remote`), so both paths isolate a team alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmark.core.errors import HarnessError
from benchmark.core.files import PROJECT, read_regular, tail_of
from benchmark.organizer.account import Account, resolve

POLL_SECONDS = 0.1
MEMORY_POLL_SECONDS = 0.25
LOG_TAIL = 1 << 20
"""A Ray task returns at most this much of the worker's log (its end)."""
LOG_BYTES = 256 << 20
"""The most a team may print: its worker is killed past it (a team printing without end would fill the disk)."""
PHASE = "[sweep] "
"""Lines of the worker's log that say what it is doing; the driver quotes the last one when it has to kill it."""
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


THREAD_VARIABLES = ("OMP_NUM_THREADS",)
"""Ray sets these to a task's CPU count; a Ray task gives its worker the driver's values instead, so that the
worker runs (and rounds) exactly as it would on the driver's machine."""


def worker_env(extra: dict[str, str | None] | None = None) -> dict[str, str]:
    """The worker's environment: the harness importable, no bytecode written into the repository, logs unbuffered;
    ``extra`` sets variables (None removes one)."""
    env = dict(os.environ)
    extra = dict(extra or {})
    added = [p for p in (extra.pop("PYTHONPATH", None) or "").split(os.pathsep) if p]
    paths = [str(PROJECT), *added] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                      if p and p not in (str(PROJECT), *added)]
    env.update({"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)), "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8", "ESR_SWEEP_PARENT": str(os.getpid())})
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _processes() -> dict[int, tuple[int, int]]:
    """Every process of this machine: pid → (parent pid, start time in clock ticks), from ``/proc``."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
            fields = stat[stat.rfind(b")") + 2:].split()  # after the name: state, ppid, pgrp, ..., starttime (20th)
            table[int(entry.name)] = (int(fields[1]), int(fields[19]))
        except (OSError, ValueError, IndexError):
            continue
    return table


def descendants(pid: int) -> dict[int, int]:
    """The processes below ``pid`` (children, theirs …, whatever session or group they moved to): pid → start time."""
    table = _processes()
    children: dict[int, list[int]] = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)
    found, todo = {}, list(children.get(pid, []))
    while todo:
        child = todo.pop()
        if child not in found:
            found[child] = table[child][1]
            todo += children.get(child, [])
    return found


def kill_processes(pids: dict[int, int]) -> None:
    """SIGKILL to each of ``pids`` (pid → start time) that is still the process seen then (a pid reused since is
    left alone)."""
    now = _processes()
    for pid, started in pids.items():
        if now.get(pid, (0, None))[1] == started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def tree_rss(pid: int, others: dict[int, int]) -> int:
    """Resident bytes of ``pid`` and ``others`` (its descendants)."""
    total = 0
    for member in (pid, *others):
        try:
            with open(f"/proc/{member}/statm", "rb") as f:
                total += int(f.read().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            continue
    return total


def kill_group(pgid: int) -> None:
    """SIGKILL to every process of the group (a worker and whatever it started)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _last_phase(log: str) -> str | None:
    phases = [line[len(PHASE):].strip() for line in log.splitlines() if line.startswith(PHASE)
              and not line[len(PHASE):].startswith("note:")]
    return phases[-1] if phases else None


def _last_line(log: str) -> str | None:
    lines = [line.strip() for line in log.splitlines() if line.strip() and not line.startswith(PHASE)
             and not line.startswith("Extension modules:")]
    if not lines:
        return None
    line = lines[-1]
    return line if len(line) <= 200 else line[:199] + "…"


def _crash_site(log: str, repo: str | None) -> str | None:
    """Where a fatal signal struck, from faulthandler's dump: the innermost frame in the repository
    (``test_demo.py:33``), else the innermost frame."""
    dump = log[log.rfind("Current thread"):] if "Current thread" in log else ""
    frames = re.findall(r'File "(.+?)", line (\d+)', dump)
    for file, line in frames:
        if repo and Path(file).resolve().is_relative_to(repo):
            return f"{Path(file).resolve().relative_to(repo)}:{line}"
    return f"{Path(frames[0][0]).name}:{frames[0][1]}" if frames else None


def _while(log: str) -> str:
    current = _last_phase(log)
    return f" while {current}" if current else ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _watch(proc: subprocess.Popen, begin: float, timeout: float | None, memory_cap_gb: float | None,
           log_file: Path) -> str | None:
    """Wait for the worker; kill it and everything below it (a child in a session of its own included) at the time
    limit, the memory cap, :data:`LOG_BYTES` of output, an interrupt, or its end. Returns why it was killed, or None
    when it ended by itself."""
    seen: dict[int, int] = {}
    try:
        next_memory = 0.0
        while True:
            try:
                proc.wait(timeout=POLL_SECONDS)
                return None
            except subprocess.TimeoutExpired:
                pass
            seen.update(descendants(proc.pid))
            elapsed = time.perf_counter() - begin
            if timeout is not None and elapsed > timeout:
                return f"no result within the --timeout of {timeout:g} s (killed{_while(tail_of(log_file))})"
            printed = _size(log_file)
            if printed > LOG_BYTES:
                return (f"printed {printed / 2**20:.0f} MiB, over the {LOG_BYTES / 2**20:g} MiB a team's log may hold "
                        f"(killed{_while(tail_of(log_file))})")
            if memory_cap_gb is not None and elapsed >= next_memory:
                next_memory = elapsed + MEMORY_POLL_SECONDS
                rss = tree_rss(proc.pid, seen)
                if rss > memory_cap_gb * 1e9:
                    return (f"used {rss / 1e9:.1f} GB of memory, over the --memory-cap of {memory_cap_gb:g} GB "
                            f"(killed{_while(tail_of(log_file))})")
    finally:
        if proc.returncode is None:
            seen.update(descendants(proc.pid))
        kill_group(proc.pid)
        proc.wait()
        kill_processes(seen)  # whatever the team's code started, in the worker's group or out of it


def _run_worker(job: dict[str, Any], tmp_dir: Path, log_file: Path, begin: float, timeout: float | None,
                memory_cap_gb: float | None, env: dict[str, str | None], started: Callable[[int], None] | None,
                account: Account | None) -> dict[str, Any]:
    own = tmp_dir / "team"  # the worker's own folder (its result; with --run-as its home, the account's)
    output = own / "outcome.json"
    output.unlink(missing_ok=True)
    job_file = tmp_dir / "job.json"  # in the sweep's folder, which the team cannot write: no link put in its place
    job_file.write_text(json.dumps({**job, "output": str(output)}))
    job_file.chmod(0o644)
    as_account = {} if account is None else account.popen_options()
    env = {**env, **({} if account is None else account.environment(own))}
    with open(log_file, "a", encoding="utf-8") as log:
        python = (job.get("env") or {}).get("python") or sys.executable  # a full team environment's, or ours
        proc = subprocess.Popen([python, "-m", "benchmark.organizer.worker", str(job_file)], cwd=PROJECT,
                                env=worker_env(env), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, **as_account)
        if started is not None:
            started(proc.pid)
        reason = _watch(proc, begin, timeout, memory_cap_gb, log_file)
    if reason is not None:
        return {"ok": False, "reason": reason}
    try:  # not through a link: the folder is the team's
        return json.loads(read_regular(output, follow=False))
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as err:
        return {"ok": False, "reason": f"the worker's result could not be read ({err})"}
    tail = tail_of(log_file)
    last = _last_line(tail)
    code = proc.returncode
    site = _crash_site(tail, str(Path(job["repo"]).resolve()) if job.get("repo") else None)
    what = f"crashed with {_signal_name(-code)}" if code < 0 else f"exited with status {code} and no result"
    quoted = f" (last output: {last!r})" if last and not site else ""
    return {"ok": False, "reason": what + (f" in {site}" if site else "") + _while(tail) + quoted}


def execute(job: dict[str, Any], *, timeout: float | None = None, memory_cap_gb: float | None = None,
            log_path: str | Path | None = None, env: dict[str, str | None] | None = None,
            started: Callable[[int], None] | None = None, run_as: str | None = None) -> dict[str, Any]:
    """Run ``job`` in a worker process and return its outcome; never raises for anything the team does.

    The worker's output goes to ``log_path`` (or, when None, to a temporary file whose end is
    returned as the outcome's ``log``). ``env`` adds to the worker's environment (``CUDA_VISIBLE_DEVICES``);
    ``started(pid)`` is told the worker's process (group) id, so that a driver can kill it on Ctrl-C; ``run_as`` names
    the account the worker runs as (``benchmark.organizer.account``; the driver then runs as root).
    With ``job["team_env"] == "auto"``, a team that fails for want of a package gets it in an environment of its
    own (``benchmark.organizer.teamenv``: an overlay the worker puts last on ``sys.path``, on the harness's environment
    or on a full one whose Python then runs the worker) and runs again; ``timeout`` bounds the whole team, its
    installs included.
    """
    from benchmark.organizer import integrity, teamenv

    begin = time.perf_counter()
    refusal = integrity.refused()
    if refusal is not None:
        return {"ok": False, "reason": refusal, "wall_seconds": 0.0}
    try:
        account = None if run_as is None else resolve(run_as)  # on this machine: a Ray node's users are its own
    except HarnessError as err:
        return {"ok": False, "reason": str(err), "wall_seconds": 0.0}
    team = job.get("team_id")
    who = job.get("label") or (f"team {team:02}" if isinstance(team, int) else "a team")
    deadline = None if timeout is None else time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="esr-sweep-") as tmp:
        tmp_dir = Path(tmp)
        (tmp_dir / "team").mkdir()
        if account is not None:
            tmp_dir.chmod(0o711)  # the account finds its job and its folder, and lists or changes nothing else
            account.own(tmp_dir / "team")
        log_file = Path(log_path) if log_path is not None else tmp_dir / "worker.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.write_text("")
        wanted: list[str] = []
        hint = [str(n) for n in job.get("team_env_hint") or []] if job.get("team_env") == "auto" else []
        for round_ in range(teamenv.ROUNDS):
            if round_ == 0 and hint:  # what its last entry needed: made (or verified) before its first run
                outcome = {"ok": False, "needs": hint}
            else:
                outcome = integrity.watched(who, lambda j=job: _run_worker(j, tmp_dir, log_file, begin, timeout,
                                                                           memory_cap_gb, env or {}, started, account))
                why = teamenv.written(job.get("env"))  # its code wrote into its environment as it ran
                if why is not None:
                    outcome = {"ok": False, "reason": why}
            needs = [n for n in outcome.get("needs") or [] if n not in wanted]
            if outcome.get("ok") or job.get("team_env") != "auto" or not needs:
                break
            wanted += needs
            with open(log_file, "a", encoding="utf-8") as log:
                print(f"{PHASE}installing {', '.join(wanted)} into the team's own environment", file=log, flush=True)
            try:
                job = {**job, "env": teamenv.prepare(job, wanted, log_file, deadline, account)}
            except teamenv.Deadline as err:
                outcome = {"ok": False, "reason": f"no result within the --timeout of {timeout:g} s ({err})"}
                break
            except teamenv.TeamEnvError as err:  # lasts as the failure that asked for it did (a failed install is
                # cached, not retried); the files that failure opened stand for it
                lasts = {"identity": {**outcome["identity"], "team_env": None}} if "identity" in outcome else {}
                outcome = {"ok": False, "reason": str(err), **lasts}
                break
        log_text = tail_of(log_file, LOG_TAIL) if log_path is None else None
    outcome.pop("needs", None)
    outcome["wall_seconds"] = time.perf_counter() - begin
    if log_text is not None:
        outcome["log"] = log_text
    return outcome


def driver_threads() -> dict[str, str | None]:
    """The thread settings of this (the driver's) environment, for :func:`execute_remote`."""
    return {key: os.environ.get(key) for key in THREAD_VARIABLES}


def execute_remote(job: dict[str, Any], timeout: float | None, memory_cap_gb: float | None,
                   threads: dict[str, str | None] | None = None, run_as: str | None = None) -> dict[str, Any]:
    """:func:`execute` as a Ray task runs it: on the node Ray chose, with the driver's thread settings (``threads``,
    from :func:`driver_threads`) rather than Ray's, the log returned with the outcome."""
    outcome = execute(job, timeout=timeout, memory_cap_gb=memory_cap_gb, env=threads, run_as=run_as)
    outcome["node"] = os.uname().nodename
    return outcome


def device_name(device: str) -> str:
    """The name a worker records for ``device`` here (``environment()['device_name']``); ``cuda:N`` is the N-th
    GPU this process sees. Asked of ``nvidia-smi`` first, so that the driver opens no CUDA context of its own."""
    import torch

    from benchmark.record.environment import device_name as name_of

    dev = torch.device(device)
    if dev.type != "cuda":
        return name_of(dev)
    index = dev.index or 0
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    physical = visible[index] if index < len(visible) else str(index)
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader", "-i", physical],
                             capture_output=True, text=True, timeout=20, check=True).stdout.strip()
        if out:
            return out.splitlines()[0].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return torch.cuda.get_device_name(index)
