"""The thread the worker's consumer runs aiokafka in (faust-streaming 0.15.3): Faust's, changed in three ways.

1. Each fetch reports, per partition it returned records of or moved the position of, its *span*: aiokafka's
   fetch position before and after it. aiokafka returns the records of a span in order and steps over every
   offset in it that holds no record a consumer may read (a transaction marker, an aborted or compacted record),
   so an offset in the span that no returned record has holds none: :class:`pipeline.consumer.RebalanceSafeConsumer`
   credits exactly those as acked. An offset *before* a span that was never handed over is not such a hole:
   Faust dropped its record unseen (see the consumer's ``getmany``), and it has to be read again.
2. :meth:`ConsumerThread.seek_to_committed_or_first` seeks every partition in one step, with no await between
   the seeks: aiokafka's ``seek_to_committed`` sought each partition right after its own round trip to the
   broker, so during a rebalance's last seek (the flow runs) records came from some new positions while the
   consumer still counted the old epochs.
3. A latency fix: Faust has the fetcher wait up to 1.5 s for data (``fetch_max_wait_ms``), and aiokafka leaves
   out of a fetch every partition whose fetched records are not all taken yet. A batch that takes longer than
   aiokafka's 100 ms prefetch backoff to analyse sends a fetch for only the partitions with no data (the group
   leader's assignor topic): it waits out the whole 1.5 s, and no input is fetched until it returns. The next
   fetch then brings 1.5 s of input, whose analysis again outlasts the backoff: measured at 175 articles/s,
   every run stayed at a p50 of 1.5-1.7 s behind, where a 200 ms wait gave 74-229 ms. :data:`FETCH_MAX_WAIT_MS`
   bounds it.
4. Under exactly_once the highwaters table recovery reads are the broker's last stable offsets, asked for. Faust
   took the last stable offset aiokafka noted from its last fetch, which it does not know for a partition
   assigned since (a rebalance makes every assignment new): the highwater came out as -1, and a worker that
   kept a changelog partition it had restored before crashed on recovery's consistency check (``ConsistencyError``:
   the persisted offset "is higher than the last offset in that topic"). Seen in a survivor of a SIGKILLed peer.
   Recovery reads at read_committed too, so what it restored never passes the last stable offset the broker
   reports (an open transaction, such as a killed peer's until its transactional id is taken over, holds both).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Transport
from faust.types import TP

# The longest a fetch waits for data before it returns empty: the longest the input can wait behind a fetch for
# partitions without data (above). At most the 100 ms prefetch backoff, so that the input such a wait lets pile up
# is analysed within the backoff whenever the worker keeps up at all, and the next fetch includes the input again.
# The cost: an idle worker makes 10 empty fetches a second (1.0% more of a core for the worker, 2.2% for the broker).
FETCH_MAX_WAIT_MS = 100

Span = tuple[int | None, int | None]  # the fetch position before and after; None where aiokafka had none


class Fetched(NamedTuple):
    """One partition's part of a fetch: the offsets of its first and last record, and the fetch's span."""

    first: int
    last: int
    span: Span


class FetchedRecords(dict[Any, list[Any]]):
    """One fetch's records by partition (Faust's record map), with the span of each partition in it."""

    spans: dict[TP, Span]


class ConsumerThread(AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Transport) -> Any:  # an aiokafka.AIOKafkaConsumer
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by start(), which makes the fetcher
        return consumer

    async def _highwaters(self, partitions: list[TP]) -> Any:  # Mapping[TP, int]
        # aiokafka's ListOffsets carries the consumer's isolation level: under read_committed (exactly_once) the
        # broker answers with each partition's last stable offset, otherwise with its high watermark.
        return await self._ensure_consumer().end_offsets(partitions)

    async def _fetch_records(self, consumer: Any, active_partitions: set[TP], timeout: float | None = None,
                             max_records: int | None = None) -> FetchedRecords:
        # Runs in this thread's loop, where only this call takes records out of the fetcher. A seek while it
        # waits for data makes a start stale; the seek's epoch then drops the records anyway (the consumer).
        before = fetch_positions(consumer)
        records = await super()._fetch_records(consumer, active_partitions, timeout=timeout,
                                               max_records=max_records)
        after = fetch_positions(consumer)  # no await since the fetcher handed the records over: exact
        fetched = FetchedRecords(records)
        # Also where the position moved with no record returned: aiokafka stepped over markers or aborted records.
        moved = {tp for tp, position in after.items() if position != before.get(tp)}
        fetched.spans = {TP(tp.topic, tp.partition): (before.get(tp), after.get(tp)) for tp in moved | set(records)}
        return fetched

    async def seek_to_committed_or_first(self, is_input: Callable[[TP], bool]) \
            -> tuple[dict[TP, int | None], dict[TP, int], dict[TP, int]]:
        """Seek each assigned partition to its committed offset, and each input partition with none to the first
        offset of its log. Returns the committed offsets (None where there is none), those first offsets, and
        where the input partitions were sought to."""
        sought: tuple[dict[TP, int | None], dict[TP, int], dict[TP, int]] = await self.call_thread(
            self._seek_to_committed_or_first, is_input)
        return sought

    async def _seek_to_committed_or_first(self, is_input: Callable[[TP], bool]) \
            -> tuple[dict[TP, int | None], dict[TP, int], dict[TP, int]]:
        consumer = self._ensure_consumer()
        assigned = list(consumer.assignment())
        # One request for them all (aiokafka's committed() makes one a partition); -1: nothing committed.
        found = await consumer._coordinator.fetch_committed_offsets(assigned) if assigned else {}
        committed = {tp: found[tp].offset if tp in found and found[tp].offset != -1 else None for tp in assigned}
        never = [tp for tp, offset in committed.items() if not offset and is_input(TP(tp.topic, tp.partition))]
        # An explicit seek to each log's first offset: not aiokafka's seek_to_beginning, a reset that completes
        # later, while records already flow (measured: with it a worker that joined and took over a killed one
        # skipped 10-17 records on every partition).
        firsts = await consumer.beginning_offsets(never) if never else {}
        targets = {tp: offset for tp, offset in committed.items() if offset} | firsts
        for tp, offset in targets.items():
            consumer.seek(tp, offset)  # every seek at once: no await in this loop
        return ({TP(tp.topic, tp.partition): offset for tp, offset in committed.items()},
                {TP(tp.topic, tp.partition): offset for tp, offset in firsts.items()},
                {TP(tp.topic, tp.partition): offset for tp, offset in targets.items()
                 if is_input(TP(tp.topic, tp.partition))})


def fetch_positions(consumer: Any) -> dict[Any, int]:
    """aiokafka's fetch position of every assigned partition that has one (none while it awaits an offset
    reset)."""
    subscription = consumer._subscription.subscription
    assignment = subscription.assignment if subscription is not None else None
    if assignment is None:
        return {}
    positions = {}
    for tp in assignment.tps:
        state = assignment.state_value(tp)
        if state is not None and state.has_valid_position:
            positions[tp] = state.position
    return positions
