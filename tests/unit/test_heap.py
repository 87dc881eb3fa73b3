"""The worker's malloc setting, checked on the C library itself: each case runs in a fresh interpreter, so that
neither this test process's heap nor its malloc settings take part."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

# A freed 8 MiB block raises glibc's mmap threshold to 8 MiB; the mapped bytes (mallinfo2's hblkhd) then tell
# whether a 1 MiB allocation got a mapping of its own or came from the heap.
_PROBE = """
import ctypes, sys
from pipeline.heap import map_large_allocations

class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]

mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
mallinfo2.restype = Info
block = bytearray(8 << 20)
del block
if sys.argv[1] == "fixed" and not map_large_allocations():
    sys.exit("mallopt refused")
before = mallinfo2().hblkhd
block = bytearray(1 << 20)
mapped = mallinfo2().hblkhd - before
del block
print(mapped, mallinfo2().hblkhd - before)
"""


def _mapped_bytes(mode: str) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True).stdout
    while_held, after_free = out.split()
    return int(while_held), int(after_free)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting is glibc's")
def test_a_large_allocation_gets_its_own_mapping_and_returns_it_when_freed() -> None:
    assert _mapped_bytes("default") == (0, 0)  # glibc's own behaviour: from the heap, kept there when freed
    while_held, after_free = _mapped_bytes("fixed")
    assert while_held >= 1 << 20
    assert after_free == 0
