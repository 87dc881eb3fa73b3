"""A process's memory and CPU time as Linux's /proc reports them, what every bench stage that measures either
reads; and the cores its threads may run on."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import NamedTuple


def status_mb(pid: int | str, field: str) -> float:
    """``field`` of ``/proc/<pid>/status`` in MB (``VmRSS``: resident now, ``VmHWM``: peak resident); 0.0 if absent.
    ``pid`` may be ``"self"``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User and system CPU time ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class CpuMeter:
    """CPU seconds the workers (and the broker, when it is a process here) use from construction on."""

    def __init__(self, pids: list[int], broker_pid: int | None) -> None:
        self.pids, self.broker_pid = pids, broker_pid
        self._workers, self._broker = self._now()

    def _now(self) -> tuple[float, float]:
        return sum(cpu_seconds(pid) for pid in self.pids), cpu_seconds(self.broker_pid) if self.broker_pid else 0.0

    def ms_per_article(self, articles: int, prefix: str = "") -> dict[str, float]:
        workers, broker = self._now()
        result = {f"{prefix}worker_cpu_ms_per_article": round((workers - self._workers) * 1000 / articles, 2)}
        if self.broker_pid:
            result[f"{prefix}broker_cpu_ms_per_article"] = round((broker - self._broker) * 1000 / articles, 2)
        return result


class Ticks(NamedTuple):
    """One reading of the whole machine's clock ticks since boot, every core's, and when it was taken."""

    seconds: float  # time.monotonic() at the reading
    steal: int
    total: int


def parse_ticks(stat: str, seconds: float) -> Ticks:
    """``/proc/stat``'s first line: user, nice, system, idle, iowait, irq, softirq, steal, then guest and
    guest_nice, which user and nice already count. Steal is the time the VM's cores were ready to run while the
    hypervisor ran something else."""
    ticks = [int(value) for value in stat.split("\n", 1)[0].split()[1:9]]
    return Ticks(seconds, ticks[7], sum(ticks))


def machine_ticks() -> Ticks:
    with open("/proc/stat") as stat:
        return parse_ticks(stat.readline(), time.monotonic())


# A pass's "worst second": windows at least this long, not a fixed count of intervals (the sampler's waits drift
# under load, and the last interval, cut short by the block's end, must not stand alone).
WORST_WINDOW_SECONDS = 0.9


def steal_figures(samples: list[Ticks], prefix: str = "") -> dict[str, float]:
    """The percentage of the machine's time the hypervisor took over the span of ``samples``, and in its worst
    second (the worst window of at least ``WORST_WINDOW_SECONDS``; the whole span if it is shorter)."""
    def percent(first: Ticks, last: Ticks) -> float:
        total = last.total - first.total
        return round(100 * (last.steal - first.steal) / total, 1) if total else 0.0

    whole = percent(samples[0], samples[-1])
    windows = []  # each ending at a sample, from the latest one at least WORST_WINDOW_SECONDS before it
    for index, last in enumerate(samples):
        first = next((s for s in reversed(samples[:index]) if last.seconds - s.seconds >= WORST_WINDOW_SECONDS), None)
        if first is not None:
            windows.append(percent(first, last))
    return {f"{prefix}steal_percent": whole, f"{prefix}steal_percent_worst_second": max(windows, default=whole)}


class StealSampler:
    """The machine's steal ticks sampled every ``INTERVAL`` while the block runs, for :func:`steal_figures`. On a
    shared VM a stretch of steal stalls every process at once, which decides a tail of latencies more than any
    one process's CPU time shows."""

    INTERVAL = 0.5

    def __init__(self) -> None:
        self.samples: list[Ticks] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="steal-sampler", daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.INTERVAL):
            self.samples.append(machine_ticks())

    def __enter__(self) -> StealSampler:
        self.samples.append(machine_ticks())
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(machine_ticks())

    def figures(self, prefix: str = "") -> dict[str, float]:
        return steal_figures(self.samples, prefix)


def pin(pid: int, cpus: set[int]) -> None:
    """Every thread of ``pid`` onto ``cpus`` (the affinity of a process's main thread alone leaves its other
    threads where they were). A thread started meanwhile by one not yet moved keeps its starter's old cores, so
    the threads are listed again until no new one turns up (ten times at most: a pool that keeps starting threads
    would never let the listing settle)."""
    done: set[str] = set()
    for _ in range(10):
        todo = set(os.listdir(f"/proc/{pid}/task")) - done
        if not todo:
            return
        for tid in todo:
            with suppress(ProcessLookupError):  # the thread ended meanwhile
                os.sched_setaffinity(int(tid), cpus)
        done |= todo


def apart_possible(broker_pid: int | None) -> bool:
    """Whether :func:`cores_apart` can move anything: a second core, and a broker process to move to it."""
    return len(os.sched_getaffinity(0)) >= 2 and broker_pid is not None


@contextmanager
def cores_apart(worker_pid: int, broker_pid: int | None) -> Iterator[None]:
    """The worker on a core of its own, the broker and this process (every thread of it, and so the publisher it
    starts) on the others; everything back on every allowed core afterwards, whatever happened meanwhile."""
    if broker_pid is None or not apart_possible(broker_pid):
        raise ValueError("cores_apart needs two cores and a broker process")
    allowed = os.sched_getaffinity(0)
    # The highest core: a VM's first often takes most of the device interrupts.
    own = {max(allowed)}
    try:
        pin(worker_pid, own)
        pin(broker_pid, allowed - own)
        pin(os.getpid(), allowed - own)
        yield
    finally:
        for pid in (os.getpid(), worker_pid, broker_pid):
            with suppress(FileNotFoundError, ProcessLookupError):  # a process that has ended needs no cores
                pin(pid, allowed)
