"""The thread the worker's consumer runs aiokafka in (faust-streaming 0.15.3): Faust's, changed in two ways.

1. Each fetch reports, per partition it returned records of, its *span*: aiokafka's fetch position before and
   after it. aiokafka returns the records of a span in order and steps over every offset in it that holds no
   record a consumer may read (a transaction marker, an aborted or compacted record), so an offset in the span
   that no returned record has holds none: :class:`pipeline.consumer.RebalanceSafeConsumer` credits exactly
   those as acked. An offset *before* a span that was never handed over is not such a hole: Faust dropped its
   record unseen (see the consumer's ``getmany``), and it has to be read again.
2. A latency fix: Faust has the fetcher wait up to 1.5 s for data (``fetch_max_wait_ms``), and aiokafka leaves
   out of a fetch every partition whose fetched records are not all taken yet. A batch that takes longer than
   aiokafka's 100 ms prefetch backoff to analyse sends a fetch for only the partitions with no data (the group
   leader's assignor topic): it waits out the whole 1.5 s, and no input is fetched until it returns. The next
   fetch then brings 1.5 s of input, whose analysis again outlasts the backoff: measured at 175 articles/s,
   every run stayed at a p50 of 1.5-1.7 s behind, where a 200 ms wait gave 74-229 ms. :data:`FETCH_MAX_WAIT_MS`
   bounds it.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Transport
from faust.types import TP

# The longest a fetch waits for data before it returns empty: the longest the input can wait behind a fetch for
# partitions without data (above). At most the 100 ms prefetch backoff, so that the input such a wait lets pile up
# is analysed within the backoff whenever the worker keeps up at all, and the next fetch includes the input again.
# The cost: an idle worker makes 10 empty fetches a second (1.0% more of a core for the worker, 2.2% for the broker).
FETCH_MAX_WAIT_MS = 100

Span = tuple[int | None, int | None]  # the fetch position before and after; None where aiokafka had none


class FetchedRecords(dict[Any, list[Any]]):
    """One fetch's records by partition (Faust's record map), with the span of each partition in it."""

    spans: dict[TP, Span]


class ConsumerThread(AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Transport) -> Any:  # an aiokafka.AIOKafkaConsumer
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by start(), which makes the fetcher
        return consumer

    async def _fetch_records(self, consumer: Any, active_partitions: set[TP], timeout: float | None = None,
                             max_records: int | None = None) -> FetchedRecords:
        # Runs in this thread's loop, where only this call takes records out of the fetcher. A seek while it
        # waits for data makes a start stale; the seek's epoch then drops the records anyway (the consumer).
        before = fetch_positions(consumer)
        records = await super()._fetch_records(consumer, active_partitions, timeout=timeout,
                                               max_records=max_records)
        after = fetch_positions(consumer)  # no await since the fetcher handed the records over: exact
        fetched = FetchedRecords(records)
        fetched.spans = {TP(tp.topic, tp.partition): (before.get(tp), after.get(tp)) for tp in records}
        return fetched


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
