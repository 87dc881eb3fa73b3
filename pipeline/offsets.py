"""The commit arithmetic of :class:`pipeline.consumer.RebalanceSafeConsumer`: which offset of a partition may be
committed, given the offsets processed (acked) and those known to hold no record. Plain code, unit-tested."""

from __future__ import annotations

from intervaltree import IntervalTree


def committable_offset(acked: list[int], acked_index: set[int], gaps: IntervalTree, head: int | None) -> int | None:
    """The offset to commit for one partition, or None: the end of the run of acked offsets that starts at
    ``head`` (the first offset not yet committed), counting the offsets in ``gaps`` (which hold no record) as
    acked. The run's offsets leave ``acked``, ``acked_index`` and ``gaps``.

    Faust's version let one missing record at the head through (``min(acked) - committed > 1``), and any
    number when the partition had no committed offset: a record not processed was committed past."""
    if not acked:
        return None
    if gaps:
        max_offset = max(acked)
        # Up to a gap that begins right after the last acked offset (a transaction's marker after its last
        # record): else an idle partition's commit would stay one short of its end.
        credited = [offset for interval in sorted(gaps.overlap(0, max_offset + 2), key=lambda i: i.begin)
                    for offset in range(interval.begin, interval.end)]
        if credited:
            acked.extend(offset for offset in credited if offset not in acked_index)
            acked_index.update(credited)
            gaps.chop(0, max(max(credited), max_offset) + 1)
    acked.sort()
    if head is not None:
        while acked and acked[0] < head:  # already committed: a record read again and acked twice
            acked_index.discard(acked.pop(0))
        if not acked or acked[0] > head:
            return None
    end = 1
    while end < len(acked) and acked[end] == acked[end - 1] + 1:
        end += 1
    run = acked[:end]
    del acked[:end]
    acked_index.difference_update(run)
    return run[-1] + 1
