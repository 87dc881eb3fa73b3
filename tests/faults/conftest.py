"""Fault-test fixtures: Apache Kafka (scripts/apache-kafka.sh) or the embedded Tansu broker, workers, figures.

``apache_kafka`` is a real Apache Kafka 4 broker (KRaft) with a persistent log in the test's tmp dir, so it can
be stopped, killed and restarted; ``any_broker`` runs a test once on each broker (ids ``[tansu]`` and
``[apache_kafka]``). Each test fills ``figures`` (articles sent, faults injected, lost, duplicated), printed in
a "fault figures" section at the end of the run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import pytest

from pipeline.admin import create_topics
from pipeline.broker import ApacheKafka, EmbeddedBroker, assemble_apache_kafka, free_port
from pipeline.demo import DEV_ENV, WorkerProcess
from pipeline.settings import Settings
from pipeline.stallwatch import EXIT_STALLED
from tests.helpers import FIGURES_PROPERTY

pytestmark = pytest.mark.integration
NEEDS = "Apache Kafka tests need Java 17+ and Maven"
_CALL_FAILED = pytest.StashKey[bool]()
LOG_TAIL = 80
NOTABLE_LEVELS = ("WARNING", "ERROR", "CRITICAL")


class Broker(Protocol):
    @property
    def bootstrap(self) -> str: ...

    @property
    def url(self) -> str: ...


def _java_major() -> int:
    done = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if not match:
        return 0
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


@pytest.fixture(scope="session")
def kafka_assembled() -> None:
    """``scripts/apache-kafka.sh assemble`` once per session (a no-op when the jars are cached)."""
    # Skipped, loudly, on a developer machine without them; under CI=true (CI always has them) a failure.
    missing = shutil.which("java") is None or shutil.which("mvn") is None
    reason = f"{NEEDS}: java or mvn not on PATH" if missing else (
        f"{NEEDS}: java -version reports {_java_major()}" if _java_major() < 17 else "")
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the Apache Kafka tests must run)", pytrace=False)
        pytest.skip(reason)
    done = assemble_apache_kafka()
    if done.returncode != 0:
        pytest.fail(f"scripts/apache-kafka.sh assemble failed:\n{done.stderr[-3000:]}")


@pytest.fixture
def apache_kafka(kafka_assembled: None, tmp_path: Path) -> Iterator[ApacheKafka]:
    """A fresh Apache Kafka node per test (state never leaks between tests); stopped at teardown."""
    broker = ApacheKafka(tmp_path / "kafka")
    try:
        yield broker.start()
    finally:
        broker.stop()


@pytest.fixture
def tansu(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(Settings.from_env(), log_path=tmp_path / "tansu.log") as started:
        yield started


@pytest.fixture(params=["tansu", "apache_kafka"])
def any_broker(request: pytest.FixtureRequest) -> Broker:
    """The test runs once per broker: the embedded Tansu (memory-only) and Apache Kafka."""
    broker: Broker = request.getfixturevalue(request.param)
    return broker


class Stack:
    """Workers of one app on one broker, each with its own web port, data dir and log; stopped at teardown.

    Like Compose's ``restart: unless-stopped``, the stack starts again a worker that exited with
    :data:`~pipeline.stallwatch.EXIT_STALLED` (its stall watch gave up on a rebalance); ``restarts`` counts them
    and the tests report it with their figures. Any other exit stays an exit."""

    def __init__(self, broker: Broker, workdir: Path, **overrides: Any) -> None:
        self.broker = broker
        self.workdir = workdir
        self.settings = replace(Settings.from_env(DEV_ENV), broker_url=broker.url, **overrides)
        self.workers: list[WorkerProcess] = []
        self.restarts = 0
        create_topics(self.settings)
        self._stopping = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="stack-supervisor", daemon=True)
        self._supervisor.start()

    def _supervise(self) -> None:
        while not self._stopping.wait(1.0):
            for worker in list(self.workers):
                process = worker.process
                if process is not None and process.poll() == EXIT_STALLED:
                    self.restarts += 1
                    worker.start(ready_timeout=90)

    def worker(self, **overrides: Any) -> WorkerProcess:
        index = len(self.workers)
        data_dir = self.workdir / f"worker-{index}"
        data_dir.mkdir(parents=True, exist_ok=True)
        settings = replace(self.settings, web_port=free_port(), data_dir=data_dir / "data", **overrides)
        worker = WorkerProcess(settings, log_path=self.workdir / f"worker-{index}.log")
        self.workers.append(worker)
        return worker.start(ready_timeout=90)

    def stop(self) -> None:
        self._stopping.set()
        self._supervisor.join()
        for worker in self.workers:
            worker.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


def worker_report(worker: WorkerProcess, tail: int = LOG_TAIL) -> str:
    """Whether the worker runs, its warnings and errors, and the end of its log: what a failed fault test
    prints, since CI keeps no tmp dir."""
    process = worker.process
    state = "not running (never started, stopped or killed)" if process is None else (
        "running" if process.poll() is None else f"exited with status {process.returncode}")
    lines = worker.log_path.read_text(errors="replace").splitlines() if worker.log_path else []
    notable = [line for line in lines[:-tail] if any(f"[{level}]" in line for level in NOTABLE_LEVELS)]
    return "\n".join([f"== {worker.log_path}: {state}; {len(notable)} warnings/errors before the last {tail} lines",
                      *notable[-tail:], f"-- last {tail} lines", *lines[-tail:]])


@pytest.fixture
def stack_for(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """``stack_for(broker, **settings overrides)`` -> a Stack whose workers are stopped after the test (their
    logs printed first when the test failed)."""
    stacks: list[Stack] = []

    def make(broker: Broker, **overrides: Any) -> Stack:
        stack = Stack(broker, tmp_path, **overrides)
        stacks.append(stack)
        return stack

    yield make
    restarts = sum(stack.restarts for stack in stacks)
    if restarts:
        request.node.user_properties.append((FIGURES_PROPERTY, {"workers_restarted_after_a_stall": restarts}))
    if request.node.stash.get(_CALL_FAILED, False):
        for stack in stacks:
            for worker in stack.workers:
                print(worker_report(worker))
    for stack in stacks:
        stack.stop()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """What a test sent, injected and observed; reported even when the test fails."""
    data: dict[str, Any] = {}
    yield data
    if data:
        request.node.user_properties.append((FIGURES_PROPERTY, data))
