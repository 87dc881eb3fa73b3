"""pipeline/offsets.py, pipeline/consumer.py, pipeline/consumerthread.py: the commit arithmetic (never past a
record that was not processed), the seek epochs, and what a fetch shows of the offsets without records."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.consumer.subscription_state import SubscriptionState
from aiokafka.structs import TopicPartition
from faust.transport.consumer import Consumer as FaustConsumer
from faust.transport.drivers.aiokafka import Transport
from faust.types import TP
from intervaltree import IntervalTree

from pipeline.app import create_app
from pipeline.consumer import RebalanceSafeConsumer
from pipeline.consumerthread import FETCH_MAX_WAIT_MS, ConsumerThread, FetchedRecords, fetch_positions
from pipeline.offsets import committable_offset
from pipeline.settings import Settings


def commit(acked: list[int], head: int | None, gaps: tuple[tuple[int, int], ...] = ()) -> tuple[int | None, list[int]]:
    tree = IntervalTree.from_tuples(gaps)
    pending = list(acked)
    offset = committable_offset(pending, set(pending), tree, head)
    return offset, pending


def test_a_run_from_the_head_is_committed_to_its_end() -> None:
    assert commit([10, 11, 12], head=10) == (13, [])


def test_acks_out_of_order_are_sorted_first() -> None:
    assert commit([12, 10, 11], head=10) == (13, [])


def test_the_run_stops_at_the_first_missing_record() -> None:
    assert commit([10, 11, 13, 14], head=10) == (12, [13, 14])


def test_one_missing_record_at_the_head_blocks_the_commit() -> None:
    # Faust committed 12 here: min(acked) - committed == 1 passed its check, and record 10 was lost.
    assert commit([11], head=10) == (None, [11])


def test_a_partition_never_committed_waits_for_its_first_record() -> None:
    # Faust skipped the head check altogether when nothing was committed yet.
    assert commit([5, 6, 7], head=0) == (None, [5, 6, 7])
    assert commit([0, 1, 2], head=0) == (3, [])


def test_without_a_known_head_the_first_run_is_committed() -> None:
    assert commit([5, 6, 8], head=None) == (7, [8])


def test_offsets_without_records_count_as_acked() -> None:
    # A transaction marker at 10 (the committed offset) and at 13: the records are 11, 12 and 14.
    assert commit([11, 12, 14], head=10, gaps=((10, 11), (13, 14))) == (15, [])


def test_a_gap_beyond_the_acked_records_is_kept_for_later() -> None:
    pending, gaps = [10], IntervalTree.from_tuples([(12, 14)])
    assert committable_offset(pending, set(pending), gaps, 10) == 11
    assert pending == [] and [(i.begin, i.end) for i in gaps] == [(12, 14)]


def test_acks_below_the_head_are_dropped() -> None:
    # A record read again after its offset was committed: its second ack does not move the commit back.
    assert commit([8, 9, 10, 11], head=10) == (12, [])


def test_the_commit_leaves_the_bookkeeping_of_what_is_left() -> None:
    pending = [10, 11, 20]
    index = set(pending)
    gaps = IntervalTree.from_tuples([(12, 13), (30, 31)])
    assert committable_offset(pending, index, gaps, 10) == 13
    assert pending == [20] and index == {20}
    assert [(i.begin, i.end) for i in gaps] == [(30, 31)]


# -- seek epochs, and what a fetch shows ----------------------------------------------------------------------
CHANGELOG = TP("app-windows-changelog", 0)
INPUT = TP("pipeline.window-input.v1", 0)
Batch = list[int] | tuple[TP, list[int], tuple[int, int]]  # changelog offsets, or a partition's with its span
log = logging.getLogger(__name__)


class FakeThread:
    """The consumer thread's seek, recorded (the seek itself is aiokafka's)."""

    def __init__(self) -> None:
        self.seeks: list[dict[TP, int]] = []

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        self.seeks.append(dict(partitions))


class Record:
    """A fetched record as Faust's getmany hands it over: weakly referenced and hashed by identity."""

    def __init__(self, offset: int, tp: TP) -> None:
        self.offset, self.tp = offset, tp


def bare_consumer(monkeypatch: pytest.MonkeyPatch,
                  fetched: list[Batch]) -> tuple[RebalanceSafeConsumer, FakeThread]:
    """A RebalanceSafeConsumer with only the state its epoch logic uses, over Faust's ``getmany`` reduced to what
    matters here: each call fetches the next batch of ``fetched`` (offsets of the changelog partition, or of a
    partition with the fetch's span) and hands it over, or throws it away when the flow is stopped (a rebalance),
    as Faust does."""
    consumer = RebalanceSafeConsumer.__new__(RebalanceSafeConsumer)
    thread = FakeThread()
    consumer.__dict__.update(
        _epochs={}, _fetch_epochs={}, _message_epochs=weakref.WeakKeyDictionary(), _targets={}, _next_offset={},
        _holes=set(), _stale_records=0, _acked=defaultdict(list), _acked_index=defaultdict(set),
        _gap=defaultdict(IntervalTree), _read_offset=defaultdict(lambda: None), _thread=thread,
        _fetched={}, _rereads={}, _committed_offset={}, flow_active=True,
        _is_changelog_tp=lambda tp: tp.topic.endswith("-changelog"), assignment=lambda: {CHANGELOG, INPUT},
        log=SimpleNamespace(info=log.info, warning=log.warning, dev=log.debug))
    batches = iter(fetched)

    async def wait_next_records(self: RebalanceSafeConsumer, timeout: float) -> tuple[Any, None]:
        batch = next(batches, [])
        tp, offsets, span = batch if isinstance(batch, tuple) else (CHANGELOG, batch, (None, None))
        records = FetchedRecords({tp: [Record(offset, tp) for offset in offsets]} if offsets else {})  # as aiokafka's
        records.spans = {tp: span}
        return records, None

    async def getmany(self: RebalanceSafeConsumer, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        records, _ = await self._wait_next_records(timeout)
        if not self.flow_active:
            return
        for tp, batch in records.items():
            for record in batch:
                yield tp, record

    monkeypatch.setattr(FaustConsumer, "_wait_next_records", wait_next_records)
    monkeypatch.setattr(FaustConsumer, "getmany", getmany)
    return consumer, thread


async def drain(consumer: RebalanceSafeConsumer, during: Callable[[int], Awaitable[None]],
                kept: list[Any] | None = None) -> list[int]:
    """One pass of Faust's drain loop: hand over each record not below the read offset (to ``kept``, when
    given), then set it."""
    handed = []
    async for tp, message in consumer.getmany(1.0):
        read_offset = consumer._read_offset[tp]
        if read_offset is None or message.offset >= read_offset:
            handed.append(message.offset)
            if kept is not None:
                kept.append(message)
            await during(message.offset)
            consumer._read_offset[tp] = message.offset
    return handed


async def nothing(offset: int) -> None:
    return None


def test_a_changelog_batch_walked_across_a_recovery_seek_does_not_hide_the_restore(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A standby's batch (offsets 10-14) is being handed over when recovery makes the partition active and seeks
    # it to 0. Faust then set the read offset to the walked records' and dropped 0-14 when they came: recovery
    # waited for offset 14 forever.
    consumer, thread = bare_consumer(monkeypatch, [[10, 11, 12, 13, 14], [0, 1, 2, 3]])

    async def recovery_seeks_at_11(offset: int) -> None:
        if offset == 11:
            await consumer.seek_wait({CHANGELOG: 0})

    async def run() -> tuple[list[int], list[int]]:
        return await drain(consumer, recovery_seeks_at_11), await drain(consumer, nothing)

    first, second = asyncio.run(run())
    assert first == [10, 11]  # 12-14 were fetched before the seek: dropped
    assert thread.seeks == [{CHANGELOG: 0}, {CHANGELOG: 0}]  # recovery's seek, then ours again after the drop
    assert second == [0, 1, 2, 3]  # the restore from the new position is handed over
    assert consumer.take_stale_records() == 3


def test_changelog_records_fetched_while_the_flow_was_stopped_are_fetched_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Recovery sought the changelog to 0 while a fetch was out; the fetch returned the whole restore (0-18) with
    # the flow still stopped and Faust threw it away, the fetcher past it: recovery waited for 18 forever.
    consumer, thread = bare_consumer(monkeypatch, [list(range(19)), list(range(19)), [19, 20, 21]])

    async def run() -> list[list[int]]:
        consumer.flow_active = False
        await drain(consumer, nothing)
        consumer.flow_active = True
        handed = [await drain(consumer, nothing)]

        async def stop_at_20(offset: int) -> None:  # a batch cut short (the generation changed) after 20
            if offset == 20:
                consumer.flow_active = False

        async def cut_short(timeout: float) -> AsyncIterator[tuple[TP, Any]]:
            records, _ = await consumer._wait_next_records(timeout)
            for tp, batch in records.items():
                for record in batch:
                    if not consumer.flow_active:
                        return
                    yield tp, record

        monkeypatch.setattr(FaustConsumer, "getmany", lambda self, timeout: cut_short(timeout))
        handed.append(await drain(consumer, stop_at_20))
        consumer.flow_active = True
        return handed

    after_restart, cut = asyncio.run(run())
    assert thread.seeks == [{CHANGELOG: 0}, {CHANGELOG: 21}]  # the whole batch again, then from the first not handed
    assert after_restart == list(range(19))
    assert cut == [19, 20]


def ack_all(consumer: RebalanceSafeConsumer, offsets: list[int]) -> int | None:
    """Ack ``offsets`` of INPUT, then commit what may be: the offset committed, or None."""
    consumer._acked[INPUT].extend(offsets)
    consumer._acked_index[INPUT].update(offsets)
    offset = consumer._new_offset(INPUT)
    if offset is not None:
        consumer._committed_offset[INPUT] = offset
    return offset


def test_input_records_fetched_but_never_handed_over_are_read_again_not_credited(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Sought to the committed offset 24. A fetch returns 25-28 and Faust throws them away unseen (the flow
    # stopped); the next fetch, in the same epoch, begins at 29. Crediting 25-28 as offsets without records
    # committed past them: 157 of 1,200 articles never reached the windows in one CI run.
    consumer, thread = bare_consumer(monkeypatch, [
        (INPUT, [24], (24, 25)), (INPUT, [25, 26, 27, 28], (25, 29)), (INPUT, [29, 30], (29, 31)),
        (INPUT, list(range(24, 31)), (24, 31))])

    async def run() -> list[list[int]]:
        await consumer.seek_wait({INPUT: 24})
        handed = [await drain(consumer, nothing)]
        consumer.flow_active = False
        handed.append(await drain(consumer, nothing))
        consumer.flow_active = True
        handed.append(await drain(consumer, nothing))
        handed.append(await drain(consumer, nothing))
        return handed

    assert asyncio.run(run()) == [[24], [], [], list(range(24, 31))]
    # Read again from the head: the seek's new epoch forgets the ack of 24, read in the old one.
    assert thread.seeks == [{INPUT: 24}, {INPUT: 24}]
    assert consumer.take_rereads() == {INPUT.topic: 1} and consumer.take_rereads() == {}
    assert not consumer._gap[INPUT]
    assert ack_all(consumer, list(range(24, 31))) == 31


def test_offsets_a_fetch_stepped_over_are_credited_at_its_head_inside_and_after_its_last_record(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Transaction markers at 10 (where the partition was sought to), 13 and 14, 16 (the end of the first fetch)
    # and 17 (the head of the next).
    consumer, thread = bare_consumer(monkeypatch, [(INPUT, [11, 12, 15], (10, 17)), (INPUT, [18], (17, 19))])

    async def run() -> list[int]:
        await consumer.seek_wait({INPUT: 10})
        return await drain(consumer, nothing)

    assert asyncio.run(run()) == [11, 12, 15]
    assert ack_all(consumer, [11, 12, 15]) == 17
    assert asyncio.run(drain(consumer, nothing)) == [18]  # the next fetch begins where the last one ended
    assert ack_all(consumer, [18]) == 19 and thread.seeks == [{INPUT: 10}]


def test_a_fetch_that_returned_no_record_but_moved_the_position_credits_what_it_stepped_over(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Records 13-15 of a transaction aborted when its worker was killed: a fetch returns none of them, and the
    # next begins at 16. That is no sign of records dropped unseen.
    consumer, thread = bare_consumer(monkeypatch, [
        (INPUT, [11, 12], (11, 13)), (INPUT, [], (13, 16)), (INPUT, [16], (16, 17))])

    async def run() -> list[list[int]]:
        await consumer.seek_wait({INPUT: 11})
        return [await drain(consumer, nothing) for _ in range(3)]

    assert asyncio.run(run()) == [[11, 12], [], [16]]
    assert thread.seeks == [{INPUT: 11}] and consumer.take_rereads() == {}
    assert ack_all(consumer, [11, 12, 16]) == 17


def test_a_position_moved_by_a_fetch_requested_before_a_seek_is_sought_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A restarted worker under exactly_once seeks the window input to 0 while a fetch is out; the fetch then
    # steps over the killed worker's aborted records (0-7) from the new position and returns none. Its epoch is
    # the old one, so its span proves nothing for the new: seek to 0 again rather than find 8 unexplained.
    consumer, thread = bare_consumer(monkeypatch, [(INPUT, [8, 9], (0, 10))])
    stepped = FetchedRecords({})
    stepped.spans = {INPUT: (0, 8)}

    async def fetch_across_a_seek(self: RebalanceSafeConsumer, timeout: float) -> tuple[Any, None]:
        monkeypatch.setattr(FaustConsumer, "_wait_next_records", wait_next_records)
        await consumer.seek_wait({INPUT: 0})
        return stepped, None

    wait_next_records = FaustConsumer._wait_next_records
    monkeypatch.setattr(FaustConsumer, "_wait_next_records", fetch_across_a_seek)

    async def run() -> list[list[int]]:
        return [await drain(consumer, nothing) for _ in range(2)]

    assert asyncio.run(run()) == [[], [8, 9]]
    assert thread.seeks == [{INPUT: 0}, {INPUT: 0}] and consumer.take_rereads() == {}
    assert ack_all(consumer, [8, 9]) == 10


def test_the_thread_seeks_every_partition_at_once_after_its_round_trips() -> None:
    # aiokafka's seek_to_committed sought each partition right after its own round trip: during a rebalance's
    # last seek (the flow runs) records came from a new position while the consumer still counted the old epoch,
    # and the epoch after expected the committed offset where the fetcher was past it. 157 of 1,200 articles were
    # committed past in one CI run.
    raw, window, changelog = TopicPartition("articles.raw.v1", 0), TopicPartition(INPUT.topic, 0), \
        TopicPartition(CHANGELOG.topic, 0)
    events: list[str] = []

    class Coordinator:
        async def fetch_committed_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, Any]:
            await asyncio.sleep(0)  # a round trip: the thread's loop runs fetches meanwhile
            events.append("committed " + ",".join(sorted(tp.topic for tp in tps)))
            return {window: SimpleNamespace(offset=24), raw: SimpleNamespace(offset=-1)}  # -1: none committed

    class AIOKafkaConsumer:
        _coordinator = Coordinator()

        def assignment(self) -> set[TopicPartition]:
            return {raw, window, changelog}

        async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
            await asyncio.sleep(0)
            events.append("beginning " + ",".join(tp.topic for tp in tps))
            return {tp: 3 for tp in tps}

        def seek(self, tp: TopicPartition, offset: int) -> None:
            events.append(f"seek {tp.topic} {offset}")

    thread = ConsumerThread.__new__(ConsumerThread)
    thread._consumer = AIOKafkaConsumer()  # type: ignore[assignment]
    committed, firsts, targets = asyncio.run(
        thread._seek_to_committed_or_first(lambda tp: not tp.topic.endswith("changelog")))
    assert committed == {TP("articles.raw.v1", 0): None, INPUT: 24, CHANGELOG: None}
    assert firsts == {TP("articles.raw.v1", 0): 3} and targets == {TP("articles.raw.v1", 0): 3, INPUT: 24}
    assert len([event for event in events if event.startswith("committed")]) == 1  # one request for them all
    seeks = [event for event in events if event.startswith("seek")]
    assert sorted(seeks) == ["seek articles.raw.v1 3", f"seek {INPUT.topic} 24"]
    assert events[-2:] == seeks  # after every round trip, none between them


def test_the_epochs_move_on_with_the_committed_offsets_sought_in_one_step(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = TP("articles.raw.v1", 0)
    consumer, thread = bare_consumer(monkeypatch, [(INPUT, list(range(24, 30)), (24, 30)), (INPUT, [30], (30, 31))])
    consumer._read_offset[INPUT] = 40  # left by records handed over in the old epoch
    records: list[Any] = []

    async def seek_to_committed_or_first(
            is_input: Callable[[TP], bool]) -> tuple[dict[TP, int | None], dict[TP, int], dict[TP, int]]:
        assert is_input(INPUT) and not is_input(CHANGELOG)
        return {INPUT: 24, raw: None, CHANGELOG: None}, {raw: 0}, {INPUT: 24, raw: 0}

    thread.seek_to_committed_or_first = seek_to_committed_or_first  # type: ignore[attr-defined]

    async def run() -> list[list[int]]:
        assert await consumer.seek_to_committed() == {INPUT: 24, raw: None, CHANGELOG: None}
        return [await drain(consumer, nothing, records) for _ in range(2)]

    assert asyncio.run(run()) == [list(range(24, 30)), [30]]
    assert consumer._targets == {INPUT: 24, raw: 0} and consumer.take_rereads() == {}
    # Every record handed over was read in the epoch that counts: their acks commit them.
    assert {consumer._message_epochs[record] for record in records} == {consumer._epochs[INPUT]}
    assert ack_all(consumer, list(range(24, 31))) == 31


def test_faust_crediting_offsets_between_its_read_offset_and_a_record_is_off(
        monkeypatch: pytest.MonkeyPatch) -> None:
    consumer, _ = bare_consumer(monkeypatch, [])
    asyncio.run(consumer._add_gap(INPUT, 25, 28))  # Faust's drain loop, on a record at 28 after one at 24
    assert not consumer._gap[INPUT]


def test_the_worker_consumer_waits_at_most_the_prefetch_backoff_for_a_fetch(tmp_path: Path) -> None:
    """A fetch left waiting for partitions without data holds back all other input (pipeline/consumer.py)."""
    app = create_app(Settings.from_env({"PIPELINE_DATA_DIR": str(tmp_path)}))

    async def worker_consumer() -> tuple[int, str]:
        assert isinstance(app.consumer, RebalanceSafeConsumer) and isinstance(app.transport, Transport)
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        await consumer.stop()  # never started: closes its client
        return consumer._fetch_max_wait_ms, consumer._group_id

    wait, group = asyncio.run(worker_consumer())
    assert wait == FETCH_MAX_WAIT_MS <= 100  # aiokafka's prefetch backoff: 100 ms
    assert group == app.conf.id  # Faust's worker consumer, with only the wait changed


def test_fetch_positions_reads_aiokafka_s_position_of_each_partition_that_has_one() -> None:
    async def positions() -> dict[Any, int]:
        state = SubscriptionState()
        state.assign_from_user({TopicPartition("t", 0), TopicPartition("t", 1)})
        state.seek(TopicPartition("t", 0), 7)  # partition 1 awaits an offset reset: no position
        return fetch_positions(SimpleNamespace(_subscription=state))

    assert asyncio.run(positions()) == {TP("t", 0): 7}


def test_each_fetch_reports_the_span_aiokafka_stepped_over_for_each_partition() -> None:
    # Faust's fetch through the consumer thread, over aiokafka's subscription state: the fetcher returns 10 and
    # 11 after a marker at 9, and moves the position past a marker at 12, as aiokafka does.
    tp = TopicPartition("t", 0)

    class Fetcher:
        _closed = False

        def __init__(self, state: SubscriptionState) -> None:
            self._subscriptions = state

        async def fetched_records(self, partitions: Any, timeout: float, max_records: int) -> dict[Any, list[Any]]:
            self._subscriptions.subscription.assignment.state_value(tp).consumed_to(13)
            return {tp: [SimpleNamespace(offset=10), SimpleNamespace(offset=11)]}

    async def fetch() -> FetchedRecords:
        state = SubscriptionState()
        state.assign_from_user({tp})
        state.seek(tp, 9)
        thread = ConsumerThread.__new__(ConsumerThread)
        thread.consumer = SimpleNamespace(flow_active=True)  # type: ignore[assignment]
        consumer = SimpleNamespace(_subscription=state, _fetcher=Fetcher(state), _closed=False)
        return await thread._fetch_records(consumer, {TP("t", 0)}, timeout=0.1, max_records=10)

    fetched = asyncio.run(fetch())
    assert [record.offset for record in fetched[tp]] == [10, 11]
    assert fetched.spans == {TP("t", 0): (9, 13)}
