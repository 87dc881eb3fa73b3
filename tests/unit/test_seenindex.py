"""The seen table's compact in-memory form: reads give back what was written, in any form, at about 24 bytes an id."""

from __future__ import annotations

import random
import tracemalloc
from typing import Any

from pipeline.dedup import expired_in, seen_entry, seen_key
from pipeline.seenindex import SeenIndex


def _key(rng: random.Random) -> str:
    return f"{rng.getrandbits(64):016x}"


def test_reads_give_back_what_was_written() -> None:
    index = SeenIndex()
    today = seen_entry("0123456789abcdef0123", 1_700_000_000.9, 3)
    index[seen_key("a")] = today
    index["an-article-id"] = ["0123456789abcdef0123", 1_700_000_000.5, 2]  # an earlier version's key and entry
    index[seen_key("b")] = ["0123456789abcdef", 5.0, 1]  # today's key, an earlier entry
    index[seen_key("c")] = "0123456789abcdef 0017 2"  # not the exact form seen_entry writes: kept as written
    index[seen_key("d")] = "0123456789abcdef 17 \u00b2"  # a digit int() refuses
    assert index[seen_key("a")] == today == "0123456789abcdef 1700000000 3"
    assert index["an-article-id"] == ["0123456789abcdef0123", 1_700_000_000.5, 2]
    assert index[seen_key("b")] == ["0123456789abcdef", 5.0, 1]
    assert index[seen_key("c")] == "0123456789abcdef 0017 2"
    assert index[seen_key("d")] == "0123456789abcdef 17 \u00b2"
    del index[seen_key("d")]
    assert len(index) == 4 and set(index) == {seen_key("a"), "an-article-id", seen_key("b"), seen_key("c")}
    assert index.get(seen_key("missing")) is None and index.get("missing") is None
    index[seen_key("b")] = seen_entry("fedcba9876543210", 7, 1)  # rewritten in today's form: moves over
    assert index[seen_key("b")] == "fedcba9876543210 7 1" and seen_key("b") not in index.other
    index[seen_key("a")] = ["x", 1, 1]  # and back
    assert index[seen_key("a")] == ["x", 1, 1] and len(index) == 4
    del index[seen_key("a")], index["an-article-id"]
    assert len(index) == 2 and seen_key("a") not in index and "an-article-id" not in index


def test_behaves_as_a_dict_under_random_writes_and_deletes() -> None:
    rng = random.Random(5)
    index, model = SeenIndex(), dict[str, Any]()
    keys = [_key(rng) for _ in range(3000)] + [f"old-id-{n}" for n in range(50)]
    for _ in range(20_000):
        key = rng.choice(keys)
        if rng.random() < 0.3:
            assert index.pop(key, None) == model.pop(key, None)
        else:
            entry = seen_entry(_key(rng), rng.randrange(2**40), rng.randrange(64))
            index[key] = model[key] = entry if rng.random() < 0.95 else [entry, 1, 2]
    assert len(index) == len(model) and dict(index.items()) == model
    assert sorted(index) == sorted(model)


def test_expired_matches_the_entry_by_entry_rule() -> None:
    rng = random.Random(9)
    index = SeenIndex()
    for _ in range(5000):
        index[_key(rng)] = seen_entry(_key(rng), rng.randrange(1000, 1100), rng.randrange(4))
    index["old-id"] = ["0123456789abcdef0123", 1050.5, 2]
    for partition, horizon in [(2, 1050.5), (2, 1050.0), (0, 1100.0), (3, 999.0)]:
        expected = {key for key, entry in index.items() if expired_in(entry, partition, horizon)}
        assert set(index.expired_by_partition(horizon).get(partition, [])) == expected
    assert "old-id" in index.expired_by_partition(1051.0)[2] and "old-id" not in index.expired_by_partition(1050.5)[2]


def test_keep_partitions_forgets_the_others() -> None:
    rng = random.Random(3)
    index = SeenIndex()
    for partition in range(4):
        for _ in range(100):
            index[_key(rng)] = seen_entry(_key(rng), 10, partition)
    index["old-id"] = ["0123456789abcdef", 10.0, 3]
    index["older-id"] = ["0123456789abcdef", 10.0, 1]
    index.keep_partitions({1, 2})
    partitions = {entry.split(" ")[2] for entry in index.values() if isinstance(entry, str)}
    assert len(index) == 201 and partitions == {"1", "2"}
    assert "older-id" in index and "old-id" not in index


def test_an_id_costs_about_24_bytes() -> None:
    rng = random.Random(1)
    items = [(_key(rng), seen_entry(_key(rng), 1_700_000_000 + n, n % 8)) for n in range(40_000)]
    index = SeenIndex()  # its empty buckets: about 200 KB, once
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for key, entry in items:
        index[key] = entry
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(index) == 40_000 and used / 40_000 < 40  # as a dict: its slot, key and entry, about 200
