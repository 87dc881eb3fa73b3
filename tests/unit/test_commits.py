"""pipeline/commits.py and the recovery highwaters of pipeline/consumerthread.py: exactly_once commits that a batch
delays but never skips, a commit before a revoke, and highwaters asked of the broker."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from pipeline.commits import TransactionalCommits
from pipeline.consumerthread import ConsumerThread


def bare_commits(events: list[str]) -> TransactionalCommits:
    """A TransactionalCommits with only what Faust's ``commit`` uses; its commits and producer flushes are noted
    in ``events``."""
    consumer = TransactionalCommits.__new__(TransactionalCommits)

    async def force_commit(topics: Any = None, start_new_transaction: bool = True) -> bool:
        events.append("commit")
        for _ in range(5):  # a commit takes round trips to the broker: others run meanwhile
            await asyncio.sleep(0)
        events.append("committed")
        return True

    async def flush() -> None:
        events.append("flush")
        await asyncio.sleep(0)

    consumer.__dict__.update(_commit_fut=None, _batch_hold=None, _commit_deferred=False,
                             _loop=asyncio.get_running_loop(), force_commit=force_commit,
                             app=SimpleNamespace(client_only=False, producer=SimpleNamespace(flush=flush)))
    return consumer


def test_a_commit_that_finds_a_batch_holding_commits_runs_before_the_next_batch() -> None:
    # Faust's commit timer skips a commit that finds another "commit" running: with batches back to back, every
    # commit, and a transaction stayed open for as long as the backlog lasted.
    events: list[str] = []

    async def scenario() -> bool:
        consumer = bare_commits(events)
        async with consumer.hold_commits():
            timer = asyncio.create_task(consumer.commit())
            await asyncio.sleep(0)
            events.append("batch 1 settled")
        skipped = not await timer
        events.append("batch 1 acked")
        async with consumer.hold_commits():
            events.append("batch 2")
        async with consumer.hold_commits():
            events.append("batch 3")
        return skipped

    assert asyncio.run(scenario())  # the timer's own commit is still skipped, as Faust's ...
    # ... and made before the next batch takes the hold, once: batch 1's events are acked by then.
    assert events == ["batch 1 settled", "batch 1 acked", "commit", "committed", "batch 2", "batch 3"]


def test_a_commit_that_finds_another_commit_running_is_not_repeated() -> None:
    events: list[str] = []

    async def scenario() -> None:
        consumer = bare_commits(events)
        first = asyncio.create_task(consumer.commit())
        await asyncio.sleep(0)
        assert not await consumer.commit()  # waited for the first and skipped: nothing is left to commit
        await first
        async with consumer.hold_commits():
            events.append("batch")

    asyncio.run(scenario())
    assert events == ["commit", "committed", "batch"]


async def batch(consumer: TransactionalCommits, events: list[str], name: str) -> None:
    async with consumer.hold_commits():
        events.append(f"{name} starts")
        await asyncio.sleep(0)  # its outputs are being settled
        events.append(f"{name} settled")


def overlapping(events: list[str]) -> list[str]:
    """Events inside another's span: a batch's ("... starts" to "... settled") or a commit's ("flush" or "commit"
    to "committed")."""
    inside, wrong = None, []
    for event in events:
        if inside is None:
            inside = event if event.endswith(" starts") or event in ("flush", "commit") else None
        elif (inside.endswith(" starts") and event == inside.replace("starts", "settled")) or (
                inside in ("flush", "commit") and event == "committed"):
            inside = None
        elif not (inside == "flush" and event == "commit"):
            wrong.append(event)
    return wrong


def test_the_commit_before_a_revoke_waits_for_the_batch_flushes_and_holds_the_next_batch() -> None:
    events: list[str] = []

    async def scenario() -> None:
        consumer = bare_commits(events)
        first = asyncio.create_task(batch(consumer, events, "batch 1"))
        await asyncio.sleep(0)
        revoke = asyncio.create_task(consumer.commit_before_revoke())
        while "flush" not in events:
            await asyncio.sleep(0)
        await batch(consumer, events, "batch 2")  # starts while the revoke's commit runs: waits for it
        await asyncio.gather(first, revoke)

    asyncio.run(scenario())
    # Faust's buffered changelog records go into the transaction the commit ends.
    assert events == ["batch 1 starts", "batch 1 settled", "flush", "commit", "committed", "batch 2 starts",
                      "batch 2 settled"]


def test_a_revoke_and_a_batch_that_both_wait_for_a_running_commit_do_not_overlap() -> None:
    events: list[str] = []

    async def scenario() -> None:
        consumer = bare_commits(events)
        timer = asyncio.create_task(consumer.commit())
        await asyncio.sleep(0)
        await asyncio.gather(consumer.commit_before_revoke(), batch(consumer, events, "batch"), timer)

    asyncio.run(scenario())
    assert events.count("committed") == 2 and "batch settled" in events
    assert overlapping(events) == []


def test_recovery_highwaters_are_asked_of_the_broker_not_taken_from_the_last_fetch() -> None:
    # Under exactly_once Faust read aiokafka's last stable offset of the last fetch: unknown (-1 to recovery) for
    # a partition assigned since, and recovery then found its restored offsets "higher than the highwater".
    asked: list[list[TP]] = []

    class Consumer:
        async def end_offsets(self, partitions: list[TP]) -> dict[TP, int]:
            asked.append(partitions)
            return dict.fromkeys(partitions, 62)

        def last_stable_offset(self, tp: TP) -> None:
            raise AssertionError("the cached offset of the last fetch was read")

    thread = ConsumerThread.__new__(ConsumerThread)
    thread.__dict__.update(_consumer=Consumer(), consumer=SimpleNamespace(in_transaction=True))
    changelog = TP("app-seen-articles-changelog", 0)
    assert asyncio.run(thread._highwaters([changelog])) == {changelog: 62}
    assert asked == [[changelog]]
