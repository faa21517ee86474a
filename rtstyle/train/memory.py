"""The C allocator's settings for training on the CPU: keep freed memory for the next step.

PyTorch's CPU tensors come straight from ``malloc``, and glibc serves every block over its mmap threshold (32 MB
at most) with a fresh ``mmap`` and returns it with ``munmap`` when freed, so each training step faults in its
activations page by page again: at 256-px crops the fast tier's run spent ~23 % of its CPU time in the kernel,
~280,000 page faults a second. With mmap off for ``malloc`` and the heap never trimmed, freed blocks stay in the
process for the next step: no faults, and 1.9 -> 2.6 images a second on the same run (docs/training.md). The price
is that the process keeps its peak memory until it ends.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Tell glibc's ``malloc`` to serve every block from its heap and never give the heap's top back
    (``mallopt``: ``M_MMAP_MAX`` 0, ``M_TRIM_THRESHOLD`` the largest value). Returns whether it did: False off
    Linux, where the C library is not glibc, or where the user set any ``MALLOC_*`` variable (their choice
    stands)."""
    if not sys.platform.startswith("linux") or any(k.startswith("MALLOC_") for k in os.environ):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt takes an int; glibc reads the trim threshold as a size_t, so -1 is "never trim"
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, -1))
