"""The enrich stage's seen table in memory: about 24 bytes an id instead of about 200 as Python objects. Pure.

The table maps an article's seen key (``pipeline.dedup.seen_key``: 16 hex characters of a hash of its id) to
its seen entry (``"<content hash, 16 hex> <first seen> <raw partition>"``, ``pipeline.dedup.seen_entry``). It is
kept for every article of the dedup retention (two weeks by default), so per id it is what bounds a worker's
memory: as a dict of strings it took about 200 bytes an id (the key and value objects and the dict's slot),
here three 64-bit integers in sorted ``array('Q')`` columns, bucketed by the key's top bits and looked up by
bisection. Keys and entries in any other form (an article id as key, a three-value list: what earlier versions
wrote, read back from the changelog after an upgrade) are kept as they are in a plain dict beside, until they
expire.
"""

from __future__ import annotations

import bisect
import math
import re
from array import array
from collections.abc import Collection, Iterator, MutableMapping
from typing import Any

from pipeline.dedup import parse_seen

_BUCKET_BITS = 10  # 1,024 buckets: at a million ids an insert moves about 8 KB a column
_SHIFT = 64 - _BUCKET_BITS
_HEX16 = re.compile(r"[0-9a-f]{16}")
_ENTRY = re.compile(r"([0-9a-f]{16}) (0|[1-9][0-9]{0,14}) (0|[1-9][0-9]{0,4})")  # ASCII digits, no leading zeros
_PARTITION_BITS = 16
_PARTITION_MASK = (1 << _PARTITION_BITS) - 1


def _key_number(key: str) -> int | None:
    """The 64-bit integer of a key in seen_key's form, else None."""
    return int(key, 16) if len(key) == 16 and _HEX16.fullmatch(key) else None


def _compact(key: str, entry: Any) -> tuple[int, int, int] | None:
    """(key, content hash, first seen << 16 | partition) if both are in the exact form ``seen_key`` and
    ``seen_entry`` write (so the entry read back is the same string); else None."""
    number = _key_number(key)
    parts = _ENTRY.fullmatch(entry) if isinstance(entry, str) else None
    if number is None or parts is None:
        return None
    first_seen, partition = int(parts[2]), int(parts[3])
    if partition >> _PARTITION_BITS or first_seen >> 47:
        return None
    return number, int(parts[1], 16), first_seen << _PARTITION_BITS | partition


class SeenIndex(MutableMapping[str, Any]):
    """Seen key -> seen entry; reads give back exactly what was written."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        buckets = range(1 << _BUCKET_BITS)
        self._keys = [array("Q") for _ in buckets]
        self._hashes = [array("Q") for _ in buckets]
        self._meta = [array("Q") for _ in buckets]  # first seen << 16 | raw partition
        self._size = 0
        self.other: dict[str, Any] = {}  # entries not in today's form, as written

    def _find(self, key: int) -> tuple[int, int, bool]:
        bucket = key >> _SHIFT
        keys = self._keys[bucket]
        index = bisect.bisect_left(keys, key)
        return bucket, index, index < len(keys) and keys[index] == key

    def __getitem__(self, key: str) -> Any:
        number = _key_number(key)
        if number is not None:
            bucket, index, found = self._find(number)
            if found:
                meta = self._meta[bucket][index]
                return f"{self._hashes[bucket][index]:016x} {meta >> _PARTITION_BITS} {meta & _PARTITION_MASK}"
        return self.other[key]

    def __contains__(self, key: object) -> bool:
        # Faust's table asks "in" before it reads: without this, MutableMapping's would format the entry first
        number = _key_number(key) if isinstance(key, str) else None
        return (number is not None and self._find(number)[2]) or key in self.other

    def __setitem__(self, key: str, entry: Any) -> None:
        compact = _compact(key, entry)
        if compact is None:
            self._remove_compact(_key_number(key))
            self.other[key] = entry
            return
        number, content_hash, meta = compact
        bucket, index, found = self._find(number)
        if found:
            self._hashes[bucket][index], self._meta[bucket][index] = content_hash, meta
        else:
            self._keys[bucket].insert(index, number)
            self._hashes[bucket].insert(index, content_hash)
            self._meta[bucket].insert(index, meta)
            self._size += 1
        self.other.pop(key, None)

    def _remove_compact(self, number: int | None) -> bool:
        if number is None:
            return False
        bucket, index, found = self._find(number)
        if found:
            for column in (self._keys, self._hashes, self._meta):
                del column[bucket][index]
            self._size -= 1
        return found

    def __delitem__(self, key: str) -> None:
        if not self._remove_compact(_key_number(key)):
            del self.other[key]

    def may_hold_earlier_key(self, article_id: str) -> bool:
        """Whether an entry an earlier version keyed by the article id itself can be here: one in ``other``, or
        among the columns when the id happens to have a seen key's form (16 lowercase hex characters)."""
        return bool(self.other) or _key_number(article_id) is not None

    def __iter__(self) -> Iterator[str]:
        for keys in self._keys:
            yield from [f"{key:016x}" for key in keys]  # a copy: the caller may delete as it goes
        yield from list(self.other)

    def __len__(self) -> int:
        return self._size + len(self.other)

    def expired_by_partition(self, horizon: float) -> dict[int, list[str]]:
        """Raw partition -> its keys first seen before ``horizon``: one scan of the columns for all partitions,
        without building an entry per id (it runs once a minute over every id)."""
        bound = math.ceil(horizon) << _PARTITION_BITS  # first seen < horizon <=> meta < bound, for whole seconds
        found: dict[int, list[str]] = {}
        for keys, metas in zip(self._keys, self._meta, strict=True):
            for number, meta in zip(keys, metas, strict=True):
                if meta < bound:
                    found.setdefault(meta & _PARTITION_MASK, []).append(f"{number:016x}")
        for key, entry in self.other.items():
            parsed = _parsed(entry)
            if parsed is not None and parsed[1] < horizon:
                found.setdefault(parsed[2], []).append(key)
        return found

    def keep_partitions(self, partitions: Collection[int]) -> None:
        """Forget the ids of every raw partition not in ``partitions`` (after a rebalance took them away)."""
        for bucket, metas in enumerate(self._meta):
            kept = [index for index, meta in enumerate(metas) if meta & _PARTITION_MASK in partitions]
            if len(kept) < len(metas):
                for columns in (self._keys, self._hashes, self._meta):
                    columns[bucket] = array("Q", [columns[bucket][index] for index in kept])
                self._size -= len(metas) - len(kept)
        for key in [key for key, entry in self.other.items()
                    if (parsed := _parsed(entry)) is None or parsed[2] not in partitions]:
            del self.other[key]


def _parsed(entry: Any) -> tuple[str, float, int] | None:
    """``parse_seen(entry)``, or None for an entry it cannot read (dropped with its partition, never expired)."""
    try:
        return parse_seen(entry)
    except (TypeError, ValueError):
        return None
