"""Real-broker fixtures: the suite starts its own embedded Kafka-protocol broker (Tansu) and workers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer

from pipeline.admin import create_topics
from pipeline.broker import EmbeddedBroker, free_port
from pipeline.demo import DEV_ENV, WorkerProcess
from pipeline.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A fresh in-memory broker per test: no state leaks between tests."""
    with EmbeddedBroker(Settings.from_env(), log_path=tmp_path / "broker.log") as started:
        yield started


@pytest.fixture
def settings_for(tmp_path: Path) -> Callable[..., Settings]:
    def make(broker: EmbeddedBroker, **overrides: Any) -> Settings:
        base = Settings.from_env(DEV_ENV)
        return replace(base, broker_url=broker.url, web_port=free_port(), data_dir=tmp_path / "data",
                       **overrides)

    return make


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[[Settings], WorkerProcess]]:
    workers: list[WorkerProcess] = []

    def start(settings: Settings) -> WorkerProcess:
        create_topics(settings)
        worker = WorkerProcess(settings, log_path=tmp_path / f"worker-{len(workers)}.log").start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def produce(settings: Settings, topic: str, items: list[tuple[bytes | None, bytes]]) -> list[Any]:
    """Send and wait for every ack; returns the RecordMetadata (partition, offset) of each."""
    return produce_to(settings.bootstrap_servers, topic, items)


def produce_to(bootstrap_servers: list[str], topic: str,
               items: Sequence[tuple[bytes | None, bytes | None]], partition: int | None = None) -> list[Any]:
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", max_request_size=4_000_000)
    try:
        futures = [producer.send(topic, key=key, value=value, partition=partition) for key, value in items]
        producer.flush()
        return [future.get(timeout=60) for future in futures]
    finally:
        producer.close()


def consume(settings: Settings, topic: str, until: Callable[[list[Any]], bool], timeout: float = 90.0) -> list[Any]:
    """Read ``topic`` from the beginning until ``until(messages)`` holds; fail loudly on timeout."""
    consumer = KafkaConsumer(topic, bootstrap_servers=settings.bootstrap_servers, group_id=None,
                             auto_offset_reset="earliest", consumer_timeout_ms=500)
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            messages.extend(consumer)
            if until(messages):
                return messages
        raise AssertionError(f"{topic}: condition not met in {timeout}s; got {len(messages)} messages")
    finally:
        consumer.close()


def values(messages: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(m.value) for m in messages]


def metric(text: str, name: str, labels: str = "") -> float:
    """Value of one sample in a Prometheus exposition (0 when absent)."""
    prefix = f"{name}{{{labels}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    return 0.0
