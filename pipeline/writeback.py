"""A write-back view of a mapping: reads see pending writes, and each changed key reaches the store once.

The window stage applies a batch of inputs to its changelogged table through this view. A daily window can
count thousands of articles (its dedup fingerprints among them), and every table write sends the whole value
to the changelog: written once per batch instead of once per article, that cost no longer grows with the
batch. A value read from the store is a shallow copy (kept until the flush, so the batch sees its own changes):
a top-level key a reader replaces without writing the value back, such as a window's fingerprints unpacked to
look up a duplicate, never reaches the store or its changelog. (Nested values are shared: the window stage
writes back every window it changes below the top level.) Pure: no Faust import;
unit-tested against a dict.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

_DELETED = object()


class WriteBack(MutableMapping[str, Any]):
    def __init__(self, store: MutableMapping[str, Any], encode: Callable[[Any], Any] = lambda value: value) -> None:
        self.store = store
        self.encode = encode  # applied to each value as it is written to the store
        self._pending: dict[str, Any] = {}  # key -> new value, or _DELETED
        self._read: dict[str, Any] = {}  # key -> the copy read from the store this batch

    def __getitem__(self, key: str) -> Any:
        if key in self._pending:
            value = self._pending[key]
            if value is _DELETED:
                raise KeyError(key)
            return value
        if key not in self._read:
            self._read[key] = copy.copy(self.store[key])
        return self._read[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._pending[key] = value
        self._read.pop(key, None)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._pending[key] = _DELETED

    def __iter__(self) -> Iterator[str]:
        for key in self.store:
            if self._pending.get(key) is not _DELETED:
                yield key
        for key, value in list(self._pending.items()):
            if value is not _DELETED and key not in self.store:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, key: object) -> bool:
        if key in self._pending:
            return self._pending[key] is not _DELETED
        return key in self.store

    def flush(self) -> int:
        """Write every changed key to the store (deletes too); returns how many keys were written."""
        pending, self._pending = self._pending, {}
        self._read.clear()
        for key, value in pending.items():
            if value is _DELETED:
                if key in self.store:
                    del self.store[key]
            else:
                self.store[key] = self.encode(value)
        return len(pending)
