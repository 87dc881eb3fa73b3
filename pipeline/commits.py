"""When the worker commits under ``exactly_once``, where a commit is also the Kafka transaction's commit.

Two defects of Faust's commits (faust-streaming 0.15.3), both seen with two workers under exactly_once:

1. **A commit that finds another one running waits for it and is skipped**, and the enrich stage holds commits
   while a batch's outputs are half sent (:meth:`TransactionalCommits.hold_commits`: a transaction must never
   hold part of an event's outputs without its offset). With batches back to back, as when a backlog drains,
   nearly every commit found a batch holding them and was skipped: a worker's transactions stayed open for ten
   seconds and more (the default transaction timeout, 60 s, aborts them). Fixed: a commit skipped for a batch
   runs before the next batch takes the hold, when the last batch's events are acked.
2. **At a rebalance Faust forgets what the revoked partitions acked (every partition: the rebalance is eager)
   before its commit at revoke**, which then finds nothing to commit and leaves the transactions open: what
   they hold stays invisible to read_committed consumers (and to table recovery) until a later commit, and
   the input is read again. :meth:`commit_before_revoke` commits what is acked before Faust forgets. That
   narrows the window rather than closing it: the window stage does not hold commits, so what it acks during
   that commit's round trips is still forgotten (and read again, where its fingerprints drop it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from faust.transport.drivers.aiokafka import Consumer


class TransactionalCommits(Consumer):
    """Faust's aiokafka consumer with commits that a batch delays but never skips, and one before a revoke."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._batch_hold: asyncio.Future[None] | None = None  # set while a batch holds commits
        self._commit_deferred = False  # a commit was skipped because a batch held them

    @asynccontextmanager
    async def hold_commits(self) -> AsyncIterator[None]:
        """No offset commit (under exactly_once, no transaction commit) until the block is done: a batch's
        outputs are settled inside it, and its events acked right after it."""
        if self._commit_deferred:
            # The last batch's events are acked by now: commit what the held commit would have.
            self._commit_deferred = False
            await self.commit()
        async with self._hold() as hold:
            self._batch_hold = hold
            try:
                yield
            finally:
                self._batch_hold = None

    async def maybe_wait_for_commit_to_finish(self) -> bool:
        held = self._batch_hold is not None and self._commit_fut is self._batch_hold
        skipped = bool(await super().maybe_wait_for_commit_to_finish())
        if skipped and held:
            self._commit_deferred = True
        return skipped

    async def commit_before_revoke(self) -> None:
        """Commit what is acked now, the changelog records still in Faust's producer buffer with it, once no
        commit runs and no batch holds them; the next batch waits until it is done. (It begins the next
        transactions at once, as every commit of Faust's does: empty until the next output.)"""
        async with self._hold():
            await self.app.producer.flush()
            await self.force_commit()

    @asynccontextmanager
    async def _hold(self) -> AsyncIterator[asyncio.Future[None]]:
        """Take Faust's one-commit-at-a-time future once no commit runs and no batch holds it. Waited for with
        ``asyncio.wait``, which neither cancels the future when the waiter is cancelled nor raises what it holds;
        a future cancelled by one of Faust's waiters counts as released. Taken with no await after the check."""
        while (running := self._commit_fut) is not None and not running.done():
            await asyncio.wait([running])
        hold = self._commit_fut = asyncio.get_running_loop().create_future()
        try:
            yield hold
        finally:
            if self._commit_fut is hold:
                self._commit_fut = None
            if not hold.done():
                hold.set_result(None)
