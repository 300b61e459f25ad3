"""Process settings that keep CPU timings about the model rather than about the machine's page faults.

PyTorch's CPU tensors come from the C allocator. glibc hands large blocks back to the kernel as
soon as they are freed (``mmap``/heap trimming), so every layer of every forward faults its
output memory in again. On virtual machines that report free pages to the host (Firecracker,
many clouds) a fault costs a VM exit: measured on a 2-core VM, RFDN at 128×128 took 2.4 s per
forward with glibc's defaults and 0.09 s with freed memory kept in the process. Keeping it is what
jemalloc/tcmalloc setups recommended for PyTorch CPU inference do; here it is three ``mallopt``
calls. CUDA tensors use PyTorch's caching allocator and are not affected.

PyTorch's CPU threads are OpenMP threads, which by default spin while they wait for each other.
When another process wants a core, a spinning thread holds the core that the thread it waits for
needs: measured on the 2-core VM beside other work, SPAN on a Set5 image took 0.4–3 s per forward
with spinning threads and 0.27–0.48 s with sleeping ones (``OMP_WAIT_POLICY=PASSIVE``), about what
one thread alone takes. The commands set that policy before PyTorch loads OpenMP, unless the user
chose one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4
_SETTINGS = {_M_MMAP_MAX: 0, _M_TRIM_THRESHOLD: 2**31 - 1, _M_TOP_PAD: 256 * 2**20}
_state = "system default"
_libc: ctypes.CDLL | None = None


def _c_library() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c"))
        except (OSError, TypeError):
            return None
    return _libc


def keep_freed_memory() -> str:
    """Tell glibc malloc never to return freed memory to the kernel; returns what is in effect.

    Idempotent; a no-op (reported as such) where the C library is not glibc.
    """
    global _state
    if _state != "system default":
        return _state
    libc = _c_library()
    if libc is None or not hasattr(libc, "mallopt"):
        return _state
    if all(libc.mallopt(option, value) == 1 for option, value in _SETTINGS.items()):
        _state = "glibc malloc: mmap_max=0, trim_threshold=2GiB, top_pad=256MiB (freed memory kept)"
    return _state


def sleeping_threads() -> None:
    """Let idle OpenMP threads sleep rather than spin (``OMP_WAIT_POLICY=PASSIVE``) unless the user chose a policy.

    OpenMP reads the policy when PyTorch loads it: once ``torch`` is imported this does nothing, so that
    ``wait_policy`` stays true.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def wait_policy() -> str | None:
    """The OpenMP wait policy in effect (None: OpenMP's own default, spinning a while), for the environment record."""
    return os.environ.get("OMP_WAIT_POLICY")


def release_freed_memory() -> None:
    """Give the kept memory back once (``malloc_trim``), so that the next peak RSS is the next run's own."""
    libc = _c_library()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def allocator() -> str:
    """The allocator setting in effect, for the environment record of a results file."""
    return _state
