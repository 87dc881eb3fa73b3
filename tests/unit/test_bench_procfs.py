"""``bench/procfs.py``'s core placement, on real processes: the latency stage's "apart" setup."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from bench.procfs import apart_possible, cores_apart

pytestmark = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to place apart")

# Two threads, so that placing the main thread alone would show.
SLEEPER = "import threading, time; threading.Thread(target=time.sleep, args=(60,)).start(); time.sleep(60)"


@pytest.fixture
def two_processes() -> Iterator[tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]]:
    worker, broker = (subprocess.Popen([sys.executable, "-c", SLEEPER]) for _ in range(2))
    try:
        yield worker, broker
    finally:
        for process in (worker, broker):
            process.kill()
            process.wait()


def cores_of_every_thread(pid: int) -> list[set[int]]:
    return [os.sched_getaffinity(int(tid)) for tid in sorted(os.listdir(f"/proc/{pid}/task"))]


def test_the_worker_gets_a_core_of_its_own_and_everything_moves_back_after(
        two_processes: tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]) -> None:
    worker, broker = two_processes
    allowed = os.sched_getaffinity(0)
    wait_for_second_thread(worker.pid)
    with cores_apart(worker.pid, broker.pid):
        worker_cores = cores_of_every_thread(worker.pid)
        assert len(worker_cores) == 2 and all(cores == {max(allowed)} for cores in worker_cores)
        assert all(cores == allowed - {max(allowed)} for cores in cores_of_every_thread(broker.pid))
        # this process too, so the publisher it starts
        assert all(cores == allowed - {max(allowed)} for cores in cores_of_every_thread(os.getpid()))
    for pid in (worker.pid, broker.pid, os.getpid()):
        assert all(cores == allowed for cores in cores_of_every_thread(pid))


def test_everything_moves_back_when_the_measurement_fails_or_a_process_ended(
        two_processes: tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]) -> None:
    worker, broker = two_processes
    allowed = os.sched_getaffinity(0)
    wait_for_second_thread(worker.pid)
    with pytest.raises(RuntimeError, match="measurement failed"), cores_apart(worker.pid, broker.pid):
        broker.kill()
        broker.wait()
        raise RuntimeError("measurement failed")
    for pid in (worker.pid, os.getpid()):
        assert all(cores == allowed for cores in cores_of_every_thread(pid))


def wait_for_second_thread(pid: int) -> None:
    deadline = time.monotonic() + 30
    while len(os.listdir(f"/proc/{pid}/task")) < 2:
        assert time.monotonic() < deadline, "the sleeper's second thread never started"
        time.sleep(0.01)


def test_without_a_broker_process_nothing_can_move() -> None:
    assert not apart_possible(None)
    with pytest.raises(ValueError), cores_apart(os.getpid(), None):
        pass
