"""The seen table: a Faust table whose memory store keeps its entries in a :class:`SeenIndex`.

Keys and values, writes, the changelog and the recovery flow are Faust's; this store holds the entries in a
:class:`SeenIndex`, applies recovered changelog records to it, and drops the ids of partitions this worker lost.
(Faust has no per-table store class setting, so ``SeenTable`` builds its store itself.) Faust's memory store
keeps a key -> changelog partition dict for every key it recovered, to drop the keys of partitions this worker
lost; here the partition is read from the entry itself (the table is co-partitioned with the raw topic, and an
entry names its raw partition).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import faust
from faust.stores import memory
from faust.types import TP, EventT, StoreT

from pipeline.seenindex import SeenIndex


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
    """``app.tables.add(SeenTable(app, name=..., default=None, beacon=app.tables.beacon, partitions=N))``."""

    def _new_store(self) -> StoreT[Any, Any]:
        return SeenStore("memory://", self.app, self, table_name=self.name, key_type=self.key_type,
                         key_serializer=self.key_serializer, value_serializer=self.value_serializer,
                         value_type=self.value_type, loop=self.loop, options=self.options)

    @property
    def index(self) -> SeenIndex:
        store: Any = self.data
        index: SeenIndex = store.data
        return index
