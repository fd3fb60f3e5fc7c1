"""Keep freed memory in the process instead of handing it back to the OS after every call.

Computing features allocates a few megabytes of short-lived arrays per symbol (TA-Lib's
outputs, the result matrix) and frees them at the end of the call. With glibc's default
thresholds the freed heap top is returned to the OS and the next symbol faults the same pages
back in: on the benchmark machine that page-fault work took as long as the TA-Lib calls
themselves (``benchmarks/features.py``). Raising glibc's trim and mmap thresholds keeps those
pages mapped for reuse, at the price of the process holding up to ``trim_threshold`` bytes of
freed memory. Elsewhere than glibc (macOS, Windows, musl) this does nothing.

It is applied once per process by :func:`alphaforge.core.bootstrap.bootstrap_process` (the CLI
and every worker call it first); ``ALPHAFORGE_MALLOC_TUNING=0`` leaves the allocator alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt parameter numbers from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_done = False


def retain_freed_memory(
    *, trim_threshold: int = 128 * 1024**2, mmap_threshold: int = 32 * 1024**2
) -> bool:
    """Raise glibc's malloc trim and mmap thresholds once per process; return whether applied.

    Parameters
    ----------
    trim_threshold
        Bytes of free memory at the top of the heap kept before any is returned to the OS.
    mmap_threshold
        Allocations at least this large get their own mapping (returned on free); smaller
        ones come from the reusable heap.
    """
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold)) and bool(
        mallopt(_M_MMAP_THRESHOLD, mmap_threshold)
    )
    _done = applied
    return applied
