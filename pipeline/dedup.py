"""Dedup state in a compact form: the windows' fingerprint sets and the enrich stage's seen entries. Pure.

Both are kept for every article of the retention period (a week of windows, two weeks of ids), in the worker's
memory and in their changelogs, so their size per article is what bounds a worker's memory:

- A window's fingerprints (two per article: its id and its normalised URL) are 64-bit integers. While a batch is
  applied they are sorted ``array('Q')`` buckets (8 bytes each, looked up by bisection); in the table and its
  changelog, one sorted array, big-endian and base64-encoded (about 11 bytes each). Windows written before kept
  them as JSON hex strings, in a list or as the keys of an object: those are read too.
- A seen entry is one string, ``"<content hash, 16 hex> <first seen, epoch seconds> <raw partition>"``, instead of
  a list of three JSON values, under a key of 16 hex characters of the article id's hash (:func:`seen_key`); in
  memory both are three 64-bit integers (``pipeline.seenindex``). Entries written before, ``[content hash, first
  seen, partition]`` under the article id itself, are read too.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import sys
from array import array
from collections.abc import Iterable, Iterator
from typing import Any

assert array("Q").itemsize == 8, "array('Q') must hold 64-bit integers"
_SWAP = sys.byteorder == "little"  # packed big-endian, whatever the machine
HASH_CHARS = 16  # of the content hash kept in a seen entry: 64 bits tell a re-sent article from a reused id
_BUCKET_SIZE = 1024  # fingerprints a bucket holds about: an insert moves at most a few kilobytes


class Fingerprints:
    """A window's fingerprints while a batch is applied: sorted ``array('Q')`` buckets by the top bits, looked up
    by bisection; as many buckets as the set had thousands of fingerprints when read (a power of two, at most 256),
    so a small window is one array. In bucket order they are the whole set sorted, which is what is packed."""

    __slots__ = ("buckets", "shift")

    def __init__(self, values: Iterable[int] = ()) -> None:
        self._split(values if isinstance(values, array) else array("Q", sorted(set(values))))

    def _split(self, ordered: array[int]) -> None:
        bits = min(8, (len(ordered) // _BUCKET_SIZE).bit_length())
        self.shift = 64 - bits
        self.buckets: list[array[int]] = []
        low = 0
        for top in range(1, 2**bits):
            high = bisect.bisect_left(ordered, top << self.shift)
            self.buckets.append(ordered[low:high])
            low = high
        self.buckets.append(ordered[low:] if low else ordered)

    def add_new(self, keys: Iterable[int]) -> bool:
        """Insert ``keys`` unless any of them is here already; True if inserted."""
        wanted = set(keys)
        places = []
        for key in wanted:
            bucket = self.buckets[key >> self.shift]
            index = bisect.bisect_left(bucket, key)
            if index < len(bucket) and bucket[index] == key:
                return False
            places.append((bucket, key))
        grown = False
        for bucket, key in places:
            bucket.insert(bisect.bisect_left(bucket, key), key)
            grown = grown or len(bucket) > 4 * _BUCKET_SIZE
        if grown and self.shift > 56:
            # Grown within one batch (a new window taking a large backlog): split again, or inserts move ever more
            self._split(self._sorted())
        return True

    def _sorted(self) -> array[int]:
        whole = array("Q")
        for bucket in self.buckets:
            whole.extend(bucket)
        return whole

    def __iter__(self) -> Iterator[int]:
        for bucket in self.buckets:
            yield from bucket

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self.buckets)

    def pack(self) -> str:
        big_endian = self._sorted()
        if _SWAP:
            big_endian.byteswap()
        return base64.b64encode(big_endian.tobytes()).decode("ascii")


def fingerprints(value: Any) -> Fingerprints:
    """The working form of a window's ``seen`` value, whichever form it was stored in."""
    if isinstance(value, Fingerprints):
        return value
    if isinstance(value, str):
        packed = array("Q")
        packed.frombytes(base64.b64decode(value))
        if _SWAP:
            packed.byteswap()
        return Fingerprints(packed)
    # Written before: hex strings, in a list or as the keys of an object
    return Fingerprints(int(item, 16) for item in value)


def packed_window(value: Any) -> Any:
    """What a window table write stores: the value with its fingerprints packed (other values unchanged)."""
    if isinstance(value, dict) and isinstance(value.get("seen"), Fingerprints):
        return {**value, "seen": value["seen"].pack()}
    return value


# -- seen entries ------------------------------------------------------------------------------------------
def hash64(text: str) -> int:
    """A 64-bit hash of ``text`` (blake2b): the windows' fingerprints and the seen table's keys."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def seen_key(article_id: str) -> str:
    """The seen table's key for an article id: 16 hex characters of its hash, a fixed size however long the id
    (:class:`pipeline.seenindex.SeenIndex` keeps it as one 64-bit integer). Two ids of a million share one
    with odds of about 1 in 37 million; the later would be taken for a reused id (dead-lettered)."""
    return f"{hash64(article_id):016x}"


def seen_entry(content_hash: str, first_seen: float, partition: int) -> str:
    return f"{content_hash[:HASH_CHARS]} {int(first_seen)} {partition}"


def parse_seen(entry: Any) -> tuple[str, float, int]:
    """(content hash or its first 16 characters, first seen, partition) of an entry in either form."""
    if isinstance(entry, str):
        content_hash, first_seen, partition = entry.split(" ")
        return content_hash, float(first_seen), int(partition)
    content_hash, first_seen, partition = entry
    return str(content_hash), float(first_seen), int(partition)


def same_content(stored_hash: str, content_hash: str) -> bool:
    return content_hash.startswith(stored_hash) and len(stored_hash) >= HASH_CHARS


def expired_in(entry: Any, partition: int, horizon: float) -> bool:
    """Whether ``entry`` (in either form) was first seen before ``horizon`` on raw partition ``partition``."""
    _, first_seen, owner = parse_seen(entry)
    return owner == partition and first_seen < horizon
