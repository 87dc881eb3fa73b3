"""Large allocations in mappings of their own, so that the worker's resident set is what it holds.

glibc's malloc serves an allocation from its heap unless it is at least the *mmap threshold* (128 KiB at start),
and raises that threshold to the size of every mapped block that is freed, up to 32 MiB. The window stage makes
such blocks all the time: a daily window's fingerprints are decoded, re-packed and JSON-encoded for its changelog
on every batch, a few megabytes each once the day holds 100,000 articles. After the first is freed, every later
one comes from the heap, and the heap keeps what it frees in the gaps between live blocks. Measured with a
million articles published within a week (``make soak``): at 300,000 the heap held 41 MB free of its 76 MB and
the worker's resident set was 145 MB; with the threshold fixed at 128 KiB, 10 MB free of 39 MB and 118 MB.
A fixed threshold also stops the raising, and a mapped block goes back to the system when it is freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h
LARGE_ALLOCATION_BYTES = 128 * 1024  # glibc's own starting value, kept from then on


def map_large_allocations(threshold: int = LARGE_ALLOCATION_BYTES) -> bool:
    """Fix malloc's mmap threshold at ``threshold`` bytes for this process; False where malloc is not glibc's
    (musl's ``mallopt`` does nothing and says so) or there is no C library to load."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))
