"""pipeline/delivery.py: a record's delivery starts eagerly in Faust's drain loop, and one that must wait is still
cut short by a suspended flow, as Faust's."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP
from mode import Service

from pipeline.app import create_app
from pipeline.consumer import RebalanceSafeConsumer
from pipeline.delivery import FlowSuspension, FlowWait, start_eagerly
from pipeline.settings import Settings

LABEL: contextvars.ContextVar[str] = contextvars.ContextVar("label", default="caller's")


def counting_tasks(loop: asyncio.AbstractEventLoop) -> list[str]:
    """The names of the coroutines of every task the loop makes from now on."""
    made: list[str] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any],
                context: contextvars.Context | None = None) -> asyncio.Task[Any]:
        made.append(getattr(coro, "__qualname__", type(coro).__name__))
        return asyncio.Task(coro, loop=loop, context=context)

    loop.set_task_factory(factory)  # type: ignore[arg-type]  # typeshed's factory type omits the context
    return made


async def test_a_coroutine_that_does_not_wait_finishes_in_its_first_step_without_a_task() -> None:
    made = counting_tasks(asyncio.get_running_loop())

    async def quick() -> str:
        LABEL.set("its own")
        return "done"

    assert start_eagerly(quick(), asyncio.get_running_loop()) == (True, "done")
    assert made == []
    assert LABEL.get() == "caller's"  # its context was a copy, as a task's is


async def test_a_coroutine_that_waits_goes_on_in_a_task_in_the_context_of_its_first_step() -> None:
    loop = asyncio.get_running_loop()
    made = counting_tasks(loop)
    gate: asyncio.Future[int] = loop.create_future()
    made.clear()

    async def slow() -> tuple[int, str]:
        LABEL.set("its own")
        value = await gate
        await asyncio.sleep(0)  # a bare yield too
        return value, LABEL.get()

    finished, task = start_eagerly(slow(), loop)
    assert not finished and made == ["_continue"]
    gate.set_result(7)
    assert await task == (7, "its own")
    assert LABEL.get() == "caller's"


async def test_errors_propagate_from_the_first_step_and_from_the_task() -> None:
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[None] = loop.create_future()

    async def fails_at_once() -> None:
        raise ValueError("first step")

    async def fails_later() -> None:
        await gate
        raise KeyError("after the wait")

    with pytest.raises(ValueError, match="first step"):
        start_eagerly(fails_at_once(), loop)
    _, task = start_eagerly(fails_later(), loop)
    gate.set_result(None)
    with pytest.raises(KeyError, match="after the wait"):
        await task


async def test_cancelling_the_task_cancels_the_coroutine_where_it_waits() -> None:
    loop = asyncio.get_running_loop()
    seen: list[str] = []

    async def waits_forever() -> None:
        try:
            await loop.create_future()
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    _, task = start_eagerly(waits_forever(), loop)
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"] and task.cancelled()


async def test_the_flow_s_suspension_is_awaitable_and_recognisable() -> None:
    flow = FlowSuspension()
    waiting = flow.wait()
    assert isinstance(waiting, FlowWait)
    flow.set()
    assert await waiting is True


# -- in Faust's own drain loop --------------------------------------------------------------------------------
Deliver = Callable[[Any], Awaitable[None]]


async def faust_drain_loop(tmp_path: Path, records: int, deliver: Deliver,
                           faust_wait_first: bool = False) -> RebalanceSafeConsumer:
    """Faust's ``_drain_messages`` on the worker's real consumer (not started), over one fetch of ``records``
    records; ``faust_wait_first`` puts mode's ``wait_first`` back, as before this module."""
    consumer = create_app(Settings.from_env({"PIPELINE_DATA_DIR": str(tmp_path)})).consumer
    assert isinstance(consumer, RebalanceSafeConsumer)
    fetcher = SimpleNamespace(_stopped=asyncio.Event())
    tp = TP("pipeline.articles.raw.v1", 0)

    async def getmany(timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        if fetcher._stopped.is_set():
            return
        fetcher._stopped.set()  # one fetch, then the loop ends
        for offset in range(records):
            yield tp, SimpleNamespace(tp=tp, topic=tp.topic, offset=offset, key=None, value=None)

    consumer.getmany = getmany  # type: ignore[method-assign]
    consumer.callback = deliver  # type: ignore[assignment]
    if faust_wait_first:
        consumer.wait_first = Service.wait_first.__get__(consumer)  # type: ignore[method-assign]
    await consumer._drain_messages(fetcher)  # type: ignore[arg-type]
    return consumer


async def test_deliveries_that_do_not_wait_make_no_task_in_faust_s_drain_loop(tmp_path: Path) -> None:
    delivered: list[int] = []

    async def deliver(message: Any) -> None:
        delivered.append(message.offset)

    made = counting_tasks(asyncio.get_running_loop())
    await faust_drain_loop(tmp_path, 50, deliver)
    assert delivered == list(range(50)) and made == ["Event.wait"]  # the loop's own sleep(0), once a fetch
    # Faust's way made four tasks a record: the delivery, the flow's suspension, the stop and the crash events.
    delivered.clear()
    await faust_drain_loop(tmp_path, 50, deliver, faust_wait_first=True)
    assert delivered == list(range(50)) and len(made) >= 4 * 50


async def test_a_delivery_that_waits_is_cut_short_when_the_flow_is_suspended(tmp_path: Path) -> None:
    # A full stream buffer during a rebalance: Faust stops waiting for the delivery and cancels it, and the drain
    # loop goes on (its next fetch brings what the new assignment holds).
    outcomes: list[str] = []
    holder: list[RebalanceSafeConsumer] = []

    async def deliver(message: Any) -> None:
        if message.offset != 1:
            outcomes.append(f"{message.offset} delivered")
            return
        asyncio.get_running_loop().call_soon(holder[0].suspend_flow.set)
        try:
            await asyncio.get_running_loop().create_future()  # the buffer never has room
        except asyncio.CancelledError:
            outcomes.append("1 cancelled")
            raise

    async def run() -> None:
        original = RebalanceSafeConsumer.__init__

        def keep(self: RebalanceSafeConsumer, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            holder.append(self)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(RebalanceSafeConsumer, "__init__", keep)
            await asyncio.wait_for(faust_drain_loop(tmp_path, 3, deliver), timeout=5)

    await run()
    await asyncio.sleep(0)  # the cancellation's step
    # With the flow suspended, record 2 takes Faust's way (a task), which delivers it at once
    assert outcomes == ["0 delivered", "1 cancelled", "2 delivered"]
