"""Process settings that keep CPU timings about the model rather than about the machine's page faults.

PyTorch's CPU tensors come from the C allocator. glibc hands large blocks back to the kernel as
soon as they are freed (``mmap``/heap trimming), so every layer of every forward faults its
output memory in again. On virtual machines that report free pages to the host (Firecracker,
many clouds) a fault costs a VM exit: measured on a 2-core VM, RFDN at 128×128 took 2.4 s per
forward with glibc's defaults and 0.09 s with freed memory kept in the process. Keeping it is what
jemalloc/tcmalloc setups recommended for PyTorch CPU inference do; here it is three ``mallopt``
calls. CUDA tensors use PyTorch's caching allocator and are not affected.
"""

from __future__ import annotations

import ctypes
import ctypes.util

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


def release_freed_memory() -> None:
    """Give the kept memory back once (``malloc_trim``), so that the next peak RSS is the next run's own."""
    libc = _c_library()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def allocator() -> str:
    """The allocator setting in effect, for the environment record of a results file."""
    return _state
