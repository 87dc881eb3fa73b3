"""The app's stream class (pipeline/batching.py): batches as Faust's ``take_events`` makes them, without a timer
spinning while the stream waits for input."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import faust

from pipeline.batching import BatchingStream


class Collector:
    """An agent that records each batch's values, and whether each event was still unacked in the loop body."""

    def __init__(self, max_: int, within: float) -> None:
        self.app = faust.App("batching-test", store="memory://", Stream=BatchingStream, autodiscover=False)
        self.batches: list[list[Any]] = []
        self.unacked_in_body: list[bool] = []
        self.acked_after_body: list[bool] = []
        self.sent = 0
        self.agent = self.app.agent(self.app.channel(), name="collect")(self._collect(max_, within))

    def _collect(self, max_: int, within: float) -> Callable[[Any], Awaitable[None]]:
        async def collect(stream: Any) -> None:
            assert isinstance(stream, BatchingStream)
            acked: list[Any] = []
            ack = stream.ack

            async def recording_ack(event: Any) -> bool:
                acked.append(event.value)
                return await ack(event)

            stream.ack = recording_ack  # type: ignore[method-assign]
            previous: list[Any] = []
            async for events in stream.take_events(max_, within):
                self.acked_after_body.extend(value in acked for value in previous)
                self.batches.append([e.value for e in events])
                self.unacked_in_body.extend(e.value not in acked for e in events)
                previous = [e.value for e in events]
                await asyncio.sleep(0)
        return collect

    async def put(self, agent: Any, *values: Any, handed_over: bool = True) -> None:
        """Put ``values`` without waiting for each; then, unless told not to, wait until batches have carried
        every value put so far."""
        for value in values:
            await agent.put(value, wait=False)
        self.sent += len(values)
        if handed_over:
            await self.until(self.sent)

    async def until(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while sum(len(b) for b in self.batches) < count:
                await asyncio.sleep(0.005)


async def test_a_batch_holds_at_most_max_events_in_order() -> None:
    collector = Collector(max_=3, within=0.2)
    async with collector.agent.test_context() as agent:
        await collector.put(agent, *range(7))
    assert collector.batches == [[0, 1, 2], [3, 4, 5], [6]]


async def test_events_arriving_within_the_wait_join_the_first_one() -> None:
    collector = Collector(max_=100, within=0.5)
    async with collector.agent.test_context() as agent:
        await collector.put(agent, "first", handed_over=False)
        await asyncio.sleep(0.1)
        await collector.put(agent, "second")
        await collector.put(agent, "third")
    assert collector.batches == [["first", "second"], ["third"]]


async def test_events_already_queued_when_the_wait_ends_join_the_batch() -> None:
    # 150 events queued at once: the 0.1 ms wait ends long before they have all moved into the batch.
    collector = Collector(max_=200, within=0.0001)
    async with collector.agent.test_context() as agent:
        await collector.put(agent, *range(150))
    assert collector.batches == [list(range(150))]


async def test_events_are_acked_only_after_the_loop_body_returns() -> None:
    collector = Collector(max_=2, within=0.05)
    async with collector.agent.test_context() as agent:
        await collector.put(agent, *range(4))
        await collector.put(agent, 4)  # a third batch: the second is acked by the time it is handed over
    assert collector.unacked_in_body == [True] * 5
    assert collector.acked_after_body == [True] * 4


async def test_an_idle_stream_does_not_spin() -> None:
    # Faust's take_events wakes every `within` seconds, input or not, and makes three tasks each time: about
    # 180 in this test's 0.3 s.
    loop = asyncio.get_running_loop()
    created = 0

    def counting_factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        nonlocal created
        created += 1
        return asyncio.Task(coro, loop=loop, **kwargs)

    collector = Collector(max_=100, within=0.005)
    async with collector.agent.test_context() as agent:
        await collector.put(agent, "one")
        await asyncio.sleep(0.05)
        loop.set_task_factory(counting_factory)
        try:
            await asyncio.sleep(0.3)
        finally:
            loop.set_task_factory(None)
        await collector.put(agent, "two")
    assert created <= 3
    assert collector.batches == [["one"], ["two"]]


async def test_a_stopping_stream_hands_over_the_batch_it_holds() -> None:
    collector = Collector(max_=100, within=30.0)
    async with collector.agent.test_context() as agent:
        await agent.put("held", wait=True)
        await asyncio.sleep(0.05)
        assert collector.batches == []
    await collector.until(1, timeout=2.0)
    assert collector.batches == [["held"]]
