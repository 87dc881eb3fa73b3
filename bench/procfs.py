"""A process's memory as Linux's /proc reports it: what every bench stage that measures memory reads."""

from __future__ import annotations

from pathlib import Path


def status_mb(pid: int | str, field: str) -> float:
    """``field`` of ``/proc/<pid>/status`` in MB (``VmRSS``: resident now, ``VmHWM``: peak resident); 0.0 if absent.
    ``pid`` may be ``"self"``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0]) / 1024
    return 0.0
