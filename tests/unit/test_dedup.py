"""The compact dedup state: window fingerprint sets and seen entries, in today's form and the forms before."""

from __future__ import annotations

import json
import random

from pipeline.dedup import Fingerprints, expired_in, fingerprints, packed_window, parse_seen, same_content, seen_entry

CONTENT_HASH = "0123456789abcdef0123456789abcdef"


def _filled(count: int, seed: int) -> tuple[list[int], Fingerprints]:
    """``count`` random 64-bit keys, and a set that took them one at a time (as articles arrive)."""
    rng = random.Random(seed)
    keys = list({rng.getrandbits(64) for _ in range(count)})
    seen = Fingerprints()
    for key in keys:
        assert seen.add_new([key])
    assert list(seen) == sorted(keys) and len(seen) == len(keys)
    return keys, seen


def test_packed_fingerprints_come_back_sorted_and_equal() -> None:
    keys, seen = _filled(1000, seed=7)
    packed = seen.pack()
    assert json.loads(json.dumps(packed)) == packed
    assert len(packed) < 11 * len(keys)  # about 11 characters a fingerprint, against 20 or more as JSON hex
    assert list(fingerprints(packed)) == sorted(keys)
    assert not any(fingerprints(packed).add_new([key]) for key in keys)


def test_add_new_inserts_all_keys_or_none() -> None:
    top = 2**64 - 1
    seen = Fingerprints()
    assert seen.add_new([30, top])
    assert not seen.add_new([20, 30])  # one of them is there: nothing is added
    assert list(seen) == [30, top]
    assert seen.add_new([40, 5, 20, 2**63])
    assert list(seen) == [5, 20, 30, 40, 2**63, top]
    assert seen.add_new([50, 50]) and list(seen).count(50) == 1


def test_fingerprints_written_as_hex_are_read() -> None:
    as_list = ["000000000000000a", "ffffffffffffffff"]
    assert list(fingerprints(as_list)) == [10, 2**64 - 1]
    assert list(fingerprints(dict.fromkeys(as_list, 1))) == [10, 2**64 - 1]


def test_only_window_values_are_packed() -> None:
    clock = {"watermark": 1.0, "open": [], "parts": {}}
    assert packed_window(clock) is clock
    seen = Fingerprints([3])
    window = {"articles": 1, "seen": seen}
    packed = packed_window(window)
    assert isinstance(packed["seen"], str) and list(seen) == [3]  # the working copy is untouched


def test_seen_entries_today_and_before() -> None:
    entry = seen_entry(CONTENT_HASH, 1_700_000_000.7, 3)
    assert entry == "0123456789abcdef 1700000000 3"
    assert parse_seen(entry) == ("0123456789abcdef", 1_700_000_000.0, 3)
    assert parse_seen(json.loads(json.dumps([CONTENT_HASH, 1_700_000_000.7, 3]))) == (CONTENT_HASH, 1_700_000_000.7, 3)


def test_same_content_by_prefix_or_whole_hash() -> None:
    assert same_content("0123456789abcdef", CONTENT_HASH)
    assert same_content(CONTENT_HASH, CONTENT_HASH)
    assert not same_content("0123456789abcdee", CONTENT_HASH)
    assert not same_content("", CONTENT_HASH)


def test_expired_in_checks_partition_and_age() -> None:
    entry = seen_entry(CONTENT_HASH, 100.0, 2)
    assert expired_in(entry, 2, horizon=101.0)
    assert not expired_in(entry, 1, horizon=101.0)
    assert not expired_in(entry, 2, horizon=100.0)
    assert expired_in([CONTENT_HASH, 100.0, 2], 2, horizon=101.0)


def test_a_set_grown_within_one_batch_splits_into_buckets() -> None:
    keys, seen = _filled(20_000, seed=11)
    assert len(seen.buckets) > 1 and max(len(bucket) for bucket in seen.buckets) <= 4 * 1024
    assert not any(seen.add_new([key]) for key in keys[:100])
