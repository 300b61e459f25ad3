"""SRneXt's fused CPU body (``srnext_body.cpp``): built with g++ and ninja the first time a fast SRneXt is built on a
machine, cached by PyTorch, safe against builders running at once, killed builds and damaged caches."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.flop_counter import register_flop_formula

from benchmark.core.files import locked

KERNEL_SOURCE = Path(__file__).with_name("srnext_body.cpp")
"""The fused body for a CPU (see its header for how and why), compiled when the fast network is first built
(:func:`cpu_kernel`)."""

SOURCES = (KERNEL_SOURCE, Path(__file__))
"""What decides the kernel's output: its source and how it is compiled (the flags here)."""

_KERNEL_FLAGS = {"AVX512": ["-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq", "-mavx2", "-mfma"],
                 "AVX2": ["-mavx2", "-mfma"]}
"""Instruction sets by PyTorch's CPU capability: the kernel runs wherever PyTorch's own vector code runs."""

_kernels: dict[tuple[int, int], Callable[..., torch.Tensor] | None] = {}
_kernels_lock = threading.Lock()


def cpu_kernel(dim: int, kernel_size: int) -> Callable[..., torch.Tensor] | None:
    """The compiled body operator for these widths, or None, with one warning, where it cannot be built.

    Built once per machine, PyTorch version and width (about 12 s with g++), then cached in PyTorch's extensions
    folder (``TORCH_EXTENSIONS_DIR``, else ``~/.cache/torch_extensions``); the name carries the instruction set, so
    a cache shared by machines of different processors never runs code a processor lacks.
    """
    with _kernels_lock:
        if (dim, kernel_size) not in _kernels:
            _kernels[dim, kernel_size] = _build_kernel(dim, kernel_size)
        return _kernels[dim, kernel_size]


def kernel_folder(dim: int, kernel_size: int) -> Path:
    """Where the kernel for these widths is built and cached: a folder of PyTorch's extensions folder named by the
    widths, the instruction set and the PyTorch version."""
    from torch.utils.cpp_extension import get_default_build_root

    name = f"srnext_d{dim}_k{kernel_size}_{torch.backends.cpu.get_cpu_capability()}_torch{torch.__version__}"
    root = os.environ.get("TORCH_EXTENSIONS_DIR") or get_default_build_root()
    return Path(root) / "".join(c if c.isalnum() else "_" for c in name.lower())


def _build_kernel(dim: int, kernel_size: int) -> Callable[..., torch.Tensor] | None:
    from torch.utils import cpp_extension  # imported here: it is slow to import and only needed once

    library = f"srnext_d{dim}_k{kernel_size}"
    folder = kernel_folder(dim, kernel_size)
    name = folder.name
    threads = ["-fopenmp"] if torch.backends.openmp.is_available() else []  # ATen's parallel_for is OpenMP there
    flags = ["-O3", "-fno-math-errno", f"-DSRNEXT_DIM={dim}", f"-DSRNEXT_KS={kernel_size}",
             f"-DSRNEXT_LIBRARY={library}", *threads, *_KERNEL_FLAGS.get(torch.backends.cpu.get_cpu_capability(), [])]

    try:
        with locked(folder / "build"):  # released by the OS if this process dies, unlike PyTorch's own lock file
            # PyTorch's lock file, present here only if a build was killed: PyTorch would wait for it forever
            (folder / "lock").unlink(missing_ok=True)
            built = folder / f"{name}.so"
            if _damaged(built):  # removed, so that the build makes it afresh
                built.unlink()
            cpp_extension.load(name, [str(KERNEL_SOURCE)], extra_cflags=flags, extra_ldflags=threads,
                               build_directory=str(folder), is_python_module=False)
            op = getattr(getattr(torch.ops, library), "srnext_body", None)
            if op is None:  # another library in the cache under its name, which ninja finds up to date
                raise OSError(f"{built.name} holds no srnext_body operator (another library under its name); remove "
                              f"{folder} to build it again")
    except (OSError, RuntimeError, ImportError, subprocess.SubprocessError) as error:
        reason = str(error).strip().splitlines()[-1:] or [type(error).__name__]
        warnings.warn(f"SRneXt's CPU kernel ({KERNEL_SOURCE.name}) could not be built or loaded in {folder}: "
                      f"{reason[0]}; the fast network runs PyTorch operators instead, 5 to 7 times slower",
                      RuntimeWarning, stacklevel=3)
        return None
    register_flop_formula(op)(_body_flops)
    return op


def _damaged(library: Path) -> bool:
    """Whether a cached library on Linux is not an ELF file or is shorter than its header says (a copy cut short,
    a damaged disk): the build sees it up to date, and loading it would fail, or crash the process (SIGBUS)."""
    if not sys.platform.startswith("linux") or not library.is_file():
        return False
    with open(library, "rb") as f:
        header = f.read(64)
        size = os.fstat(f.fileno()).st_size
    if len(header) < 64 or header[:4] != b"\x7fELF":
        return True
    if header[4] != 2:  # not 64-bit: not judged further
        return False
    order = "<" if header[5] == 1 else ">"
    (sections,) = struct.unpack_from(order + "Q", header, 40)
    entry, count = struct.unpack_from(order + "HH", header, 58)
    return size < sections + entry * count  # the section table, which the linker writes last


def _body_flops(x_shape: torch.Size, params_shapes: list[torch.Size], **_: object) -> int:
    """What the kernel computes, for PyTorch's FLOP counter (the roofline): per pixel and layer, the two mixers'
    taps and the four 1×1 convolutions, a multiply-add counted as two as that counter does."""
    n, dim, height, width = x_shape
    taps = params_shapes[2].numel() // dim
    return 2 * n * height * width * len(params_shapes) // 16 * (2 * dim * taps + 6 * dim * dim)
