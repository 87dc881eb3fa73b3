"""The producer-buffer messages Faust logs while a batch's table writes drain (pipeline.app.RoutineBackpressure):
demoted to DEBUG, everything else on that logger untouched. Driven through Faust's own ``wait_until_ebb``, so
that a Faust upgrade which rewords or moves the messages fails here, not only in the integration test."""

from __future__ import annotations

import logging

import pytest
from faust.transport.producer import ProducerBuffer

from pipeline.app import app  # importing the app module installs the filter, as the worker does

LOGGER = "faust.transport.producer"


@pytest.fixture()
def full_buffer() -> ProducerBuffer:
    """Faust's producer buffer, 101 messages queued and "running" with nothing sending them: its backpressure
    then logs its warning, waits 0.1 s for a send that never comes, and logs how long it took."""
    buffer = ProducerBuffer()
    buffer.app = app
    for _ in range(buffer.max_messages + 1):
        buffer.pending.put_nowait(object())
    buffer._started.set()  # running as far as flush_atmost asks; its sending task is never started
    return buffer


def _producer_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == LOGGER]


async def test_buffer_full_messages_are_dropped_below_debug(full_buffer: ProducerBuffer,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    await full_buffer.wait_until_ebb()
    assert _producer_records(caplog) == []


async def test_buffer_full_messages_are_kept_at_debug_when_debug_is_on(full_buffer: ProducerBuffer,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    await full_buffer.wait_until_ebb()
    records = _producer_records(caplog)
    assert [record.getMessage().split(" ")[:3] for record in records] == [
        ["producer", "buffer", "full"], ["producer", "flush", "took"]]
    assert {record.levelname for record in records} == {"DEBUG"}


def test_other_producer_messages_keep_their_level(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    logging.getLogger(LOGGER).warning("producer send failed: %s", "broker gone")
    assert [(record.levelname, record.getMessage()) for record in _producer_records(caplog)] == [
        ("WARNING", "producer send failed: broker gone")]
