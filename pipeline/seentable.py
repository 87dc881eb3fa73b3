"""The seen table: a Faust table whose memory store keeps its entries in a :class:`SeenIndex`.

Keys and values, writes, the changelog and the recovery flow are Faust's; this store holds the entries in a
:class:`SeenIndex`, applies recovered changelog records to it, and drops the ids of partitions this worker lost.
(Faust has no per-table store class setting, so ``SeenTable`` builds its store itself.) Faust's memory store
keeps a key -> changelog partition dict for every key it recovered, to drop the keys of partitions this worker
lost; here the partition is read from the entry itself (the table is co-partitioned with the raw topic, and an
entry names its raw partition).

Its changelog records are handed to the producer a batch at a time (:meth:`SeenTable.send_queued_changelog`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any, cast

import faust
from faust.stores import memory
from faust.types import TP, EventT, StoreT

from pipeline.seenindex import SeenIndex

log = logging.getLogger(__name__)


class SeenStore(memory.Store):  # type: ignore[type-arg]
    def __post_init__(self) -> None:
        self.data: SeenIndex = SeenIndex()  # no _key_partition: see the module docstring

    def apply_changelog_batch(self, batch: Iterable[EventT[Any]], to_key: Callable[[Any], Any],
                              to_value: Callable[[Any], Any]) -> None:
        for event in batch:  # in order: a key deleted and written again (or the reverse) ends as its last record
            key = to_key(event.key)
            if event.message.value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = to_value(event.value)

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        self.data.keep_partitions({partition for _, partition in active_tps})


class SeenTable(faust.Table):  # type: ignore[type-arg]
    """``app.tables.add(SeenTable(app, name=..., default=None, beacon=app.tables.beacon, partitions=N))``.

    A write queues its changelog record, and :meth:`send_queued_changelog` hands the queued ones to the producer
    together; the enrich stage calls it after each batch's writes. Faust sends each write on its own: a future
    and a pending message, a buffer drained by a task of its own, the sensors at the send and again from a
    callback at the acknowledgement. The queued records are sent in order without waiting for the broker, as
    Faust's are, and Faust flushes the producer before it commits the offsets of the input that wrote them.

    Under exactly_once, where Faust puts each record into its partition's transaction, and while the producer is
    not running (agent tests), writes take Faust's own path.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queued: list[tuple[int | None, Any, Any]] = []  # (changelog partition, key, value or None)

    def _queues_changelog(self) -> bool:
        producer = self.app.producer
        # mode's `started` stays set after a stop: a write after that takes Faust's path (its buffer), as before.
        return not self.app.in_transaction and producer.started and not producer.should_stop

    def on_key_set(self, key: Any, value: Any) -> None:
        if not self._queues_changelog():
            super().on_key_set(key, value)
            return
        self._queued.append((self.partition_for_key(key), key, value))
        self._sensor_on_set(self, key, value)

    def on_key_del(self, key: Any) -> None:
        if not self._queues_changelog():
            super().on_key_del(key)
            return
        self._queued.append((self.partition_for_key(key), key, None))
        self._sensor_on_del(self, key)

    async def send_queued_changelog(self, failed: Callable[[str], None]) -> None:
        """Hand the changelog records queued since the last call to the producer, in order; ``failed(topic)`` is
        called for each the producer refuses or the broker does not acknowledge (logged; not sent again: Faust
        does not send its own again either). A lost entry lets a re-sent copy of its article through to analysis
        and to the enriched topic again (a reused id with other content too), never into a window twice."""
        queued, self._queued = self._queued, []
        topic = self.changelog_topic
        name = topic.get_topic_name()
        producer: Any = self.app.producer
        logged = False  # one log line a call: a refusing broker refuses every record of the batch

        def failure(error: BaseException) -> None:
            nonlocal logged
            failed(name)
            if not logged:
                logged = True
                log.error("changelog record to %s not sent (%r); further failures of this batch are only "
                          "counted (pipeline_send_failures_total)", name, error)

        def acknowledged(ack: asyncio.Future[Any]) -> None:
            if not ack.cancelled() and ack.exception() is not None:
                failure(cast(BaseException, ack.exception()))

        sent = 0
        try:
            for partition, key, value in queued:
                try:
                    key_bytes, _ = topic.prepare_key(key, self.key_serializer)
                    value_bytes = None if value is None else topic.prepare_value(value, self.value_serializer)[0]
                    ack = await producer.send(name, key_bytes, value_bytes, partition, None, None)
                except Exception as exc:
                    failure(exc)
                else:
                    ack.add_done_callback(acknowledged)
                sent += 1
        finally:
            # Cancelled mid-way (the agent stopping): what was not handed over waits for the next call.
            self._queued[:0] = queued[sent:]

    def _new_store(self) -> StoreT[Any, Any]:
        return SeenStore("memory://", self.app, self, table_name=self.name, key_type=self.key_type,
                         key_serializer=self.key_serializer, value_serializer=self.value_serializer,
                         value_type=self.value_type, loop=self.loop, options=self.options)

    @property
    def index(self) -> SeenIndex:
        store: Any = self.data
        index: SeenIndex = store.data
        return index
