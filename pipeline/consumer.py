"""The Faust consumer the worker uses: Faust's aiokafka consumer, fixed so that it never commits past input it did
not process (faust-streaming 0.15.3).

The defects, each of which lost input in our fault tests:

1. After a rebalance Faust seeks each partition to its committed offset with aiokafka's ``seek_to_committed``,
   which does not seek at all when the partition has no committed offset: the fetch position stays where the
   records fetched before the rebalance left it (a backlog of 6000, two workers: 465 lost). Fixed by seeking
   such a partition to the first offset of its log.
2. Records fetched *before* a seek are still delivered *after* it. aiokafka runs in its own thread; Faust hands a
   fetched batch to the main loop and walks it across awaits, stamps each record with the generation current when
   it is walked (not when it was fetched), and seeks from the main loop. A stale record ahead of the new position
   moves Faust's read offset past the records about to be read again, so they are dropped as already read; the
   offsets in between are credited as a "gap" (offsets that hold no record); and the head check lets one missing
   record through (``min(acked) - committed > 1``), none at all when nothing was committed yet. Measured: 1-17
   records lost per takeover in a few runs in ten, more with the enrich stage in batches.

   Fixed by a *seek epoch* per partition, bumped when a partition is sought, revoked or assigned. A fetched batch
   carries the epochs current when it was requested; a record whose partition was sought since is dropped (and
   the partition sought again, so nothing the new position returned is skipped); a record read in an older epoch
   is processed but its ack does not count (it is read again from the new position, where the dedup table drops
   it). Every seek goes through the consumer thread's queue, not a direct call from the main loop.

   Changelog partitions have the same race when table recovery seeks them (``seek_wait``): a standby changelog
   batch walked across the seek can leave the read offset at its last record; the same epochs drop such records
   and seek again. And Faust's ``getmany`` throws a fetched batch away unseen when the flow stopped or the
   generation changed while the fetch was out, which for input partitions its seek to the committed offsets
   repairs, but for changelogs nothing did: a fetch out when recovery sought a standby changelog back to the
   start of its restore returned the whole restore during the rebalance, and recovery then waited forever for
   records the fetcher had passed, every partition paused (the CI failure of Nov 29; 3 of about 60 two-worker
   failovers under load on Nov 30). Such changelog records are fetched again (:meth:`_refetch_changelogs`).
   (The workers keep no standby copies, ``app.py``: no standby fetch is out when a restore begins. Both fixes stay.)
3. Offsets the fetcher steps over hold no record (transaction markers, aborted or expired records). Faust credits
   them as a "gap" only between two records it hands over, and not after a record at offset 0.
4. And it credits every offset between its read offset and the record it hands over, that record included, as
   holding none; so did our first fix for 3 (every offset stepped over within an epoch). Records a fetch
   returned that were never handed over in the current epoch were committed past: 157 of 1,200 articles never
   reached the windows in one CI run. :meth:`seek_to_committed` moved the epochs on only after more round trips
   to the broker (aiokafka seeks each partition after its own), so a fetch from a committed offset was handed
   over in the old epoch, and the new one expected that offset where the fetcher was already past it.

   Fixed: the consumer thread seeks every partition in one step after all the round trips, and the epochs move
   on right after it; Faust's crediting is off; an offset is credited only where a fetch's span
   (:mod:`pipeline.consumerthread`) shows aiokafka stepped over it; and a fetch that begins past the next offset
   expected means records were dropped unseen: the partition is read again from its committed offset.

:meth:`RebalanceSafeConsumer.reread_holes` stays as the net under all of it: a partition whose committed offset
stays below acked records at two checks in a row is read again from its committed offset.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, cast

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP, Message

from pipeline.commits import TransactionalCommits
from pipeline.consumerthread import ConsumerThread, Fetched, FetchedRecords, Span
from pipeline.offsets import committable_offset


class RebalanceSafeConsumer(TransactionalCommits):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._epochs: dict[TP, int] = {}  # bumped on every seek, revoke and assignment of the partition
        self._fetch_epochs: dict[TP, int] = {}  # the epochs when the batch being delivered was requested
        self._message_epochs: weakref.WeakKeyDictionary[Message, int] = weakref.WeakKeyDictionary()
        self._targets: dict[TP, int] = {}  # where the partition was last sought to
        self._next_offset: dict[TP, int] = {}  # per partition: the offset after the last record read in this epoch
        self._holes: set[tuple[TP, int]] = set()  # holes seen at the last check
        self._stale_records = 0  # dropped since the last take_stale_records()
        self._fetched: dict[TP, Fetched] = {}  # of the fetch being handed over
        self._stepped: dict[TP, Span] = {}  # of the same fetch: the spans of partitions with no record in them
        self._rereads: dict[str, int] = {}  # by topic, since the last take_rereads()

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    # -- seek epochs ---------------------------------------------------------------------------------------
    def _new_epoch(self, tps: Iterable[TP], target: Mapping[TP, int] | None = None) -> None:
        """Everything read of ``tps`` before now is stale; acks and gaps from before are forgotten (what was
        processed is read again from the new position and dropped there as a duplicate)."""
        for tp in tps:
            self._epochs[tp] = self._epochs.get(tp, 0) + 1
            self._acked.pop(tp, None)
            self._acked_index.pop(tp, None)
            self._gap.pop(tp, None)
            if target is not None and tp in target:
                self._targets[tp] = self._next_offset[tp] = target[tp]
            else:
                self._targets.pop(tp, None)
                self._next_offset.pop(tp, None)

    def _sought(self, targets: Mapping[TP, int]) -> None:
        """The partitions were sought to ``targets``: a new epoch from there, and Faust's read offsets with it (a
        record walked in the old epoch may have left one past the new position)."""
        self._new_epoch(targets, targets)
        for tp, offset in targets.items():
            self._read_offset[tp] = offset or None

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        # Faust forgets the committed offsets of ``revoked`` first, then waits for the events in flight and
        # commits what they acked (the next owner starts there): keep each head for that commit's check. The
        # epoch moves on only after, so those acks count. Under exactly_once that commit found nothing (Faust
        # forgets the acks too) and left the transactions open: commit first (pipeline/commits.py).
        if self.in_transaction:
            try:
                await self.commit_before_revoke()
            except Exception:  # the revoke must go on: what was not committed is read again
                self.log.exception("commit before giving partitions up failed")
        for tp in revoked:
            head = self._head(tp)
            if head is not None:
                self._targets[tp] = head
        await super().on_partitions_revoked(revoked)
        self._new_epoch(revoked)

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        self._new_epoch(assigned)
        await super().on_partitions_assigned(assigned, generation_id)

    async def _seek(self, partition: TP, offset: int) -> None:
        # Through the consumer thread's queue (Faust's own ``_seek`` calls aiokafka from the main loop, across
        # threads, while a fetch may be running there).
        await self.seek_wait({partition: offset})

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        # Table recovery positions the changelogs here (to where each table's restore starts): the same race as
        # defect 2. A standby changelog batch walked while the seek ran left the read offset at its last record,
        # so the records from the new position were dropped as already read and the restore waited forever for
        # the changelog's end (seen: a survivor stuck in recovery after its peer was SIGKILLed).
        await super().seek_wait(partitions)
        self._sought(partitions)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        # Faust seeks the stream partitions here at the end of a rebalance, after it resumed them: records flow.
        thread = cast(ConsumerThread, self._thread)
        committed, firsts, targets = await thread.seek_to_committed_or_first(
            lambda tp: not self._is_changelog_tp(tp))
        if firsts:
            names = ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in firsts))
            self.log.info("no committed offset yet, reading from the start: %s", names)
        # At once, with no await since the thread sought them all: a fetch from the new positions handed over in
        # the old epoch would leave the new one expecting the committed offset where the fetcher is already past
        # it (and the old epoch's acks do not count).
        self._sought(targets)
        return cast(Mapping[TP, int], committed)  # None where nothing is committed, as aiokafka's

    async def _wait_next_records(self, timeout: float) -> Any:
        self._fetch_epochs = dict(self._epochs)
        records, active = await super()._wait_next_records(timeout)
        if not isinstance(records, FetchedRecords):  # Faust's own empty map when nothing was fetched
            if records:  # what to credit would be unknown
                raise TypeError(f"fetched {type(records).__name__}, not FetchedRecords: is the thread ours?")
            return records, active
        self._fetched = {TP(tp.topic, tp.partition): Fetched(batch[0].offset, batch[-1].offset, records.spans[tp])
                         for tp, batch in records.items() if batch}
        # Partitions whose position moved with no record returned: only markers or aborted records were there.
        self._stepped = {tp: span for tp, span in records.spans.items() if tp not in self._fetched}
        return records, active

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        stale: dict[TP, int] = {}
        unseen: dict[TP, int] = {}  # input partition -> the first offset a fetch returned but Faust never handed
        self._fetched, self._stepped = {}, {}
        handed: dict[TP, int] = {}  # partition -> the last offset handed over, in the current epoch
        async for tp, message in super().getmany(timeout):
            epoch = self._fetch_epochs.get(tp, 0)
            if epoch != self._epochs.get(tp, 0):
                stale[tp] = stale.get(tp, 0) + 1
                continue
            if not self._is_changelog_tp(tp):  # changelogs are restored, not acked: only the read offset matters
                if tp in unseen or not self._account(tp, message.offset, first=tp not in handed):
                    if tp not in unseen:
                        unseen[tp] = self._next_offset[tp]
                    continue
                self._message_epochs[message] = epoch
            handed[tp] = message.offset
            yield tp, message
            if self._epochs.get(tp, 0) != epoch:
                # Sought while the drain loop handed this record over; it then set its read offset to this
                # record's, past the new position: put it back, or the records read again are dropped as read.
                self._read_offset[tp] = self._targets.get(tp) or None
        # The dropped records may have come from the new position (fetched after the seek ran in the thread,
        # requested before it returned here): seek there again so none is skipped. So may a position moved
        # with no record returned (_account_tails).
        for tp in self._account_tails(handed):
            stale.setdefault(tp, 0)
        for tp, count in stale.items():
            self._stale_records += count
            target = self._targets.get(tp)
            if count:
                self.log.info("%s[%d]: dropped %d records fetched before the partition was sought", tp.topic,
                              tp.partition, count)
            if target is not None and tp in self.assignment():
                await self.seek(tp, target)
        for tp, offset in unseen.items():
            if self._epochs.get(tp, 0) != self._fetch_epochs.get(tp, 0):
                continue  # sought or revoked since: read from the new position anyway
            # From the head, not from the first record missed: the seek's new epoch forgets the acks of what
            # this epoch handed over, so that is read again too (and dropped as a duplicate).
            head = self._head(tp)
            start = offset if head is None else head
            self._rereads[tp.topic] = self._rereads.get(tp.topic, 0) + 1
            self.log.warning("%s[%d]: records from offset %d were fetched but never handed over; reading again "
                             "from %d", tp.topic, tp.partition, offset, start)
            if tp in self.assignment():
                await self.seek(tp, start)
        await self._refetch_changelogs(handed, stale)

    def _account(self, tp: TP, offset: int, first: bool) -> bool:
        """Note an input record about to be handed over, crediting the offsets before it that hold no record.
        False when offsets before it may hold records that were fetched but never handed over: the first record
        of a fetch whose span begins past the next offset expected."""
        expected = self._next_offset.get(tp)
        if expected is not None and offset > expected:
            start = self._fetched[tp].span[0] if first else expected  # within a fetch, aiokafka stepped over them
            if start is not None and start > expected:
                return False
            # (No start: aiokafka was resetting an out-of-range position; what lies before is gone from the log.)
            self._gap[tp].addi(expected, offset)
        self._next_offset[tp] = offset + 1
        return True

    def _account_tails(self, handed: Mapping[TP, int]) -> list[TP]:
        """Credit the offsets after the last record of an input fetch that was handed over whole, up to the end
        of its span, and the spans of input partitions the fetch returned no record of, where they begin at the
        next offset expected: they hold no record (transaction markers, aborted records). Returns the input
        partitions whose position such a fetch moved before a seek since: no evidence for the new epoch (the
        seek may have run while the fetch waited), so they are sought again."""
        ends = {tp: (fetched.last + 1, fetched.span[1]) for tp, fetched in self._fetched.items()
                if handed.get(tp) == fetched.last}
        sought_since = []
        for tp, (start, end) in self._stepped.items():
            if self._is_changelog_tp(tp):
                continue
            if self._fetch_epochs.get(tp, 0) != self._epochs.get(tp, 0):
                sought_since.append(tp)
            elif start is not None and start <= self._next_offset.get(tp, -1):
                ends[tp] = (self._next_offset[tp], end)
        for tp, (start, end) in ends.items():
            same_epoch = self._fetch_epochs.get(tp, 0) == self._epochs.get(tp, 0)
            if same_epoch and end is not None and end > start and not self._is_changelog_tp(tp):
                self._gap[tp].addi(start, end)
                self._next_offset[tp] = end
        return sought_since

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        # Faust's drain loop credits every offset between its read offset and the record it hands over, that
        # record included, as holding none: records a fetch returned but Faust dropped unseen were committed
        # past. getmany credits only what a fetch's span shows.
        return None

    async def _refetch_changelogs(self, handed: Mapping[TP, int], stale: Mapping[TP, int]) -> None:
        """Seek back changelog partitions whose fetched records Faust's ``getmany`` threw away unseen.

        It does so when the flow stopped (a rebalance) or the generation changed while the fetch was out; for
        input partitions Faust then seeks to the committed offsets, for changelogs nothing does. A fetch that
        was out when recovery sought a standby changelog back to the start of its restore returned the whole
        restore, the flow was still stopped, and recovery then waited for records the fetcher had passed."""
        for tp, (first, last, _) in self._fetched.items():
            start = first if tp not in handed else handed[tp] + 1  # the first record not handed over
            if tp in stale or start > last or not self._is_changelog_tp(tp) or tp not in self.assignment():
                continue
            # Sought since the fetch was requested: read again from where it was sought to.
            same_epoch = self._fetch_epochs.get(tp, 0) == self._epochs.get(tp, 0)
            offset = start if same_epoch else self._targets.get(tp)
            if offset is not None:
                self.log.info("%s[%d]: %d fetched records were not handed over; reading them again", tp.topic,
                              tp.partition, last - start + 1)
                await self.seek(tp, offset)

    def take_stale_records(self) -> int:
        """Records dropped because their partition was sought after they were fetched, since the last call."""
        count, self._stale_records = self._stale_records, 0
        return count

    def take_rereads(self) -> dict[str, int]:
        """By topic: times input records a fetch returned were found never handed over, since the last call."""
        rereads, self._rereads = self._rereads, {}
        return rereads

    def ack(self, message: Message) -> bool:
        epoch = self._message_epochs.get(message)
        if epoch is not None and epoch != self._epochs.get(message.tp, 0):
            # Read before its partition was sought: it is read again from the new position, and that read
            # counts. (Faust also acks records it skips after a rebalance without processing them.)
            message.acked = True
            self._unacked_messages.discard(message)
            return False
        return bool(super().ack(message))

    # -- commits -------------------------------------------------------------------------------------------
    def _head(self, tp: TP) -> int | None:
        """The first offset not yet committed: the committed offset, or where a never-committed partition was
        sought to. (Faust keeps a committed offset of 0 as None.)"""
        committed = self._committed_offset.get(tp)
        return committed if committed else self._targets.get(tp, committed)

    def _new_offset(self, tp: TP) -> int | None:
        """Faust's, with a strict head (see :func:`committable_offset`)."""
        return committable_offset(self._acked[tp], self._acked_index[tp], self._gap[tp], self._head(tp))

    def reread_holes(self, topics: frozenset[str]) -> list[tuple[TP, int]]:
        """Partitions of ``topics`` whose input has a hole: records after the head were processed (acked) but
        the one at the head never came, at this check and the last one too. The seek epochs should leave no such
        hole; if one appears, reading again from the head fills it (what is read twice is dropped as a
        duplicate). Returns ``(partition, offset)`` pairs to seek to."""
        holes = set()
        for tp, acked in list(self._acked.items()):
            head = self._head(tp)
            if tp.topic in topics and acked and head is not None and min(acked) > head:
                holes.add((tp, head))
        persistent = list(holes & self._holes)
        self._holes = holes
        return persistent
