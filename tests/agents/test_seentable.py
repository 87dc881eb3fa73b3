"""The seen table's queued changelog (pipeline/seentable.py), against a producer that records what it is handed.

The producer here stands in for Faust's transport producer only: what reaches a real broker, and what a
restarted worker recovers from it, is tested on Apache Kafka in tests/faults/test_state.py and test_output.py.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.settings import Settings
from tests.agents.test_agents import Harness, make_harness
from tests.helpers import encode, raw_article
from tests.integration.conftest import metric


class RecordingProducer:
    """Takes what ``send`` is handed and answers with a future the test settles; ``hold`` blocks the next send."""

    def __init__(self) -> None:
        self.started = True
        self.should_stop = False
        self.sent: list[tuple[str, bytes | None, bytes | None, int | None]] = []
        self.acks: list[asyncio.Future[Any]] = []
        self.hold: asyncio.Event | None = None

    async def send(self, topic: str, key: bytes | None, value: bytes | None, partition: int | None,
                   timestamp: float | None, headers: Any, *, transactional_id: str | None = None) -> Any:
        assert transactional_id is None
        if self.hold is not None:
            await self.hold.wait()
        self.sent.append((topic, key, value, partition))
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks.append(ack)
        return ack


@pytest.fixture
async def recorded(tmp_path: Path) -> tuple[Harness, RecordingProducer]:
    harness = make_harness(Settings.from_env({}, data_dir=tmp_path, idle_close_seconds=0.0, window_grace_seconds=0))
    producer = RecordingProducer()
    harness.app._producer = producer  # type: ignore[assignment]  # what app.producer returns
    return harness, producer


async def test_a_batch_hands_its_seen_entries_to_the_producer_after_its_outputs(
        recorded: tuple[Harness, RecordingProducer]) -> None:
    harness, producer = recorded
    seen = harness.pipeline.seen
    async with harness.pipeline.enrich.test_context() as agent:
        await agent.put(encode(raw_article(id="q-1")), key=b"q-1", partition=2)
        await agent.put(encode(raw_article(id="q-2")), key=b"q-2", partition=3)
    await harness.next("enriched")
    name = seen.changelog_topic.get_topic_name()
    # The changelog partition is the raw partition the article came from (the table is co-partitioned).
    assert [(topic, partition) for topic, _, _, partition in producer.sent] == [(name, 2), (name, 3)]
    assert [seen.index.get(json.loads(key or b"")) for _, key, _, _ in producer.sent] == [
        json.loads(value or b"") for _, _, value, _ in producer.sent]  # Faust's json codec, as it would write
    assert seen._queued == []
    producer.acks[0].set_result(None)
    producer.acks[1].set_exception(RuntimeError("NOT_LEADER_OR_FOLLOWER"))
    await asyncio.sleep(0)  # the done callbacks
    assert metric(harness.metrics(), "pipeline_send_failures_total", f'topic="{name}"') == 1.0


async def test_tombstones_keep_their_place_and_failures_are_counted(
        recorded: tuple[Harness, RecordingProducer]) -> None:
    harness, producer = recorded
    seen = harness.pipeline.seen
    name = seen.changelog_topic.get_topic_name()
    seen._queued = [(0, "k1", "v1"), (0, "k1", None), (1, "k2", "v2")]
    failed: list[str] = []
    await seen.send_queued_changelog(failed.append)
    assert [(key, value, partition) for _, key, value, partition in producer.sent] == [
        (b'"k1"', b'"v1"', 0), (b'"k1"', None, 0), (b'"k2"', b'"v2"', 1)]
    producer.acks[0].set_result(None)
    producer.acks[1].set_exception(RuntimeError("MESSAGE_TOO_LARGE"))
    producer.acks[2].set_exception(RuntimeError("MESSAGE_TOO_LARGE"))
    await asyncio.sleep(0)  # the done callbacks
    assert failed == [name, name]


async def test_records_not_handed_over_when_cancelled_wait_for_the_next_call(
        recorded: tuple[Harness, RecordingProducer]) -> None:
    harness, producer = recorded
    seen = harness.pipeline.seen
    seen._queued = [(0, "k1", "v1"), (0, "k2", "v2")]
    producer.hold = asyncio.Event()
    sending = asyncio.create_task(seen.send_queued_changelog(lambda topic: None))
    await asyncio.sleep(0.01)
    seen._queued.append((0, "k3", "v3"))  # a later batch's write
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    assert seen._queued == [(0, "k1", "v1"), (0, "k2", "v2"), (0, "k3", "v3")]
    producer.hold = None
    await seen.send_queued_changelog(lambda topic: None)
    assert [key for _, key, _, _ in producer.sent] == [b'"k1"', b'"k2"', b'"k3"']


async def test_a_stopped_producer_leaves_writes_to_faust(recorded: tuple[Harness, RecordingProducer]) -> None:
    harness, producer = recorded
    producer.should_stop = True  # mode keeps `started` set after a stop
    assert not harness.pipeline.seen._queues_changelog()
    producer.should_stop, producer.started = False, False
    assert not harness.pipeline.seen._queues_changelog()
    producer.started = True
    assert harness.pipeline.seen._queues_changelog()
