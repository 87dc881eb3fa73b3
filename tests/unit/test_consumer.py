"""The commit arithmetic of pipeline/consumer.py: never past a record that was not processed."""

from __future__ import annotations

from intervaltree import IntervalTree

from pipeline.consumer import committable_offset


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
