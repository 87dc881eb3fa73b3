"""Thin agents: decode -> call pure code -> send -> count; bad input -> the DLQ.

Two stages:
- ``enrich`` reads ``articles.raw.v1`` (N partitions), validates, drops re-sent duplicates, analyses, and
  sends ``articles.enriched.v1`` plus a compact window contribution; an id is remembered as seen only after
  the broker acknowledged its outputs (see :meth:`Pipeline.handle_raw_batch`);
- ``windows`` reads the window input (contributions and in-band ticks; one partition per window shard, see
  :mod:`pipeline.windowshards`) in batches, updates the changelogged window table through each shard's
  :class:`pipeline.aggregate.WindowBook` and sends ``signals.reciprocity.v1`` for every window that closes (or is
  revised by a late article).
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import faust
from faust.streams import _current_event
from faust.types import ChannelT, EventT, StreamT

from pipeline.aggregate import Outcome, WindowBook, iso, signal_key
from pipeline.analysis import Analyzer
from pipeline.consumer import RebalanceSafeConsumer
from pipeline.contribution import Contribution
from pipeline.deadletters import DeadLetters
from pipeline.dedup import packed_window, parse_seen, same_content, seen_entry, seen_key
from pipeline.metrics import PipelineMetrics, window_label
from pipeline.outbox import Outbox, PartitionRevoked, Pending
from pipeline.records import EnrichedArticle, ReciprocitySignal
from pipeline.seentable import SeenTable
from pipeline.settings import Settings
from pipeline.topics import RAW, WINDOW_INPUT
from pipeline.validation import Rejection, validate_raw
from pipeline.windowshards import shard_books
from pipeline.writeback import WriteBack

log = logging.getLogger(__name__)
PRUNE_INTERVAL_SECONDS = 60.0
HOLE_CHECK_SECONDS = 5.0  # > the commit interval (2.8 s): a transaction marker's gap is gone by the next check


@dataclass
class _Outputs:
    """What one raw message produced: outputs queued for the batch's settle, and for a new article its seen
    entry."""

    sends: list[Pending]
    seen_key: str = ""
    seen_entry: str | None = None  # see pipeline.dedup.seen_entry
    partition: int = 0  # the raw partition it came from (where its seen entry is kept)
    enriched: bool = False
    contribution: dict[str, Any] | None = None  # for the window stage, sent with the batch's others


@dataclass(frozen=True)
class Channels:
    """Where the agents read and write: Kafka topics in the worker, in-memory channels in agent tests."""

    raw: ChannelT[Any]
    enriched: ChannelT[Any]
    signals: ChannelT[Any]
    dlq: ChannelT[Any]
    window_input: ChannelT[Any]


class Pipeline:
    """The agents of one app, with what they share (settings, analyzer, metrics, tables)."""

    def __init__(self, app: faust.App, settings: Settings, channels: Channels, metrics: PipelineMetrics,
                 analyzer: Analyzer) -> None:
        self.app = app
        self.settings = settings
        self.channels = channels
        self.metrics = metrics
        self.analyzer = analyzer
        self.outbox = Outbox(app, metrics, settings.processing_guarantee == "exactly_once")
        self.dead_letters = DeadLetters(self.outbox, metrics, analyzer.version)
        # Seen key (a hash of the article id) -> its seen entry (pipeline.dedup): dedup at the door,
        # co-partitioned with the raw topic; held compactly in memory (pipeline.seenindex).
        self.seen = SeenTable(app, name="seen-articles", default=None, beacon=app.tables.beacon,
                              partitions=settings.partitions)
        app.tables.add(self.seen)
        self._last_scan = float("-inf")  # when the seen table was last scanned for expired ids
        self._expired: dict[int, list[str]] = {}  # raw partition -> ids found expired, deleted at its next event
        # Partitioned like the window input: a write goes to the changelog partition of Faust's current event,
        # which handle_window_batch sets to one of the shard's own events when it writes the shard's windows.
        self.windows = app.Table("windows", default=None, partitions=settings.window_shards)
        self.window_stores = [WriteBack(self.windows, encode=packed_window) for _ in range(settings.window_shards)]
        self.books = shard_books(self.window_stores, settings, analyzer.version)
        self.enrich = app.agent(channels.raw, name="enrich")(self._enrich)
        self.window_agent = app.agent(channels.window_input, name="windows")(self._windows)
        self.tick = app.timer(settings.tick_seconds, name="window-tick")(self._tick)
        self.hole_check = app.timer(HOLE_CHECK_SECONDS, name="input-hole-check")(self._reread_holes)

    # -- stage 1 ----------------------------------------------------------------------------------
    async def _enrich(self, stream: StreamT[Any]) -> None:
        # In batches: one wait for the broker's acknowledgements per batch instead of one per article. (Batches
        # once lost articles when partitions moved between workers: Faust delivered records fetched before a
        # seek after it and committed past the ones it then dropped; fixed in pipeline/consumer.py.)
        batches = cast(faust.Stream[Any], stream).take_events(self.settings.batch_max_events,
                                                              within=self.settings.batch_max_wait_seconds)
        async for events in batches:
            await self.handle_raw_batch(events)

    async def handle_raw_batch(self, events: Sequence[EventT[Any]]) -> None:
        """Decode, check and analyse each event, queueing its outputs; then hand them all to the producer and
        wait until the broker has every one (a failed send is counted and sent again); only then remember the new
        ids as seen.

        Why this order: Faust acks the events (and so may commit their offsets) only after this returns. A
        crash before that re-reads them and sends their outputs again (the window stage counts an article
        once, by id); had an id been remembered first, its changelog record could reach the broker before the
        outputs did, and the re-read article would be dropped as a duplicate: lost."""
        started = time.perf_counter()
        self.metrics.articles_received.inc(len(events))
        async with self.outbox.commits_held():
            batch: dict[str, str] = {}  # seen keys new in this batch -> their entries: a later copy is a duplicate
            done: list[tuple[EventT[Any], _Outputs]] = []
            try:
                for event in events:
                    done.append((event, self._queue_outputs(event, batch)))
                sends = [send for _, outputs in done for send in outputs.sends]
                sends.extend(self._queue_contributions(done))
                await self.outbox.settle(sends)
            except PartitionRevoked as exc:
                log.warning("partition moved mid-batch (%s): its new owner processes the batch again", exc)
                return
            enriched = 0
            for event, outputs in done:
                if outputs.seen_entry is not None:
                    # The seen table is co-partitioned with the raw topic: a write goes to the partition of
                    # Faust's current event, this task's context variable. (Not the stream's attribute, which
                    # take_events reads from its own task to pair values with events.)
                    token = _current_event.set(weakref.ref(event))
                    try:
                        self.seen[outputs.seen_key] = outputs.seen_entry
                        self._prune_seen(outputs.partition, time.time())
                    finally:
                        _current_event.reset(token)
                enriched += outputs.enriched
            await self.seen.send_queued_changelog(lambda topic: self.metrics.send_failures.labels(topic).inc())
            elapsed = time.perf_counter() - started  # each article's outputs were settled only now
            for _ in range(enriched):
                self.metrics.processing_seconds.observe(elapsed)

    def _queue_contributions(self, done: list[tuple[EventT[Any], _Outputs]]) -> list[Pending]:
        """One window-input message per raw partition in the batch and window shard, with that partition's
        contributions in order: per message, not per article, is where producing and consuming costs. (Per raw
        partition, because under exactly_once an output belongs to the transaction of its input's partition.)"""
        groups: dict[int, tuple[EventT[Any], list[dict[str, Any]]]] = {}
        for event, outputs in done:
            if outputs.contribution is not None:
                groups.setdefault(outputs.contribution["p"], (event, []))[1].append(outputs.contribution)
        return [self.outbox.queue(self.channels.window_input, b"w", {"type": "articles", "cs": items}, first, shard)
                for first, items in groups.values() for shard in range(len(self.books))]

    def _queue_outputs(self, event: EventT[Any], batch: dict[str, str]) -> _Outputs:
        """The outputs of one raw message, queued for the batch's :meth:`Outbox.settle`."""
        value = event.value if isinstance(event.value, bytes | None) else str(event.value).encode()
        now = time.time()
        result = validate_raw(value, self.settings.max_article_bytes, now + self.settings.max_future_seconds)
        if isinstance(result, Rejection):
            return _Outputs([self.dead_letters.queue(self.channels.dlq, event, result)])
        article = result.article
        key = seen_key(article.id)
        previous = batch.get(key) or self.seen.get(key) or self._seen_before_upgrade(article.id)
        if previous is not None:
            stored_hash, first_seen, _ = parse_seen(previous)
            if same_content(stored_hash, result.content_hash):
                self.metrics.articles_duplicate.inc()
                return _Outputs([])
            return _Outputs([self.dead_letters.queue(self.channels.dlq, event, Rejection(
                "id_reused", f"id {article.id!r} was first seen with other content at {iso(first_seen)}"))])
        partition = max(int(getattr(event.message, "partition", 0) or 0), 0)
        entry = seen_entry(result.content_hash, now, partition)
        batch[key] = entry
        self.metrics.articles_valid.inc()
        try:
            enriched = self.analyzer.analyze(article)
        except Exception as exc:  # a rule bug must not stop the stream: the article goes to the DLQ
            log.exception("analysis failed for %r", article.id)
            letter = self.dead_letters.queue(self.channels.dlq, event, Rejection("analysis_error", repr(exc)))
            return _Outputs([letter], key, entry, partition=partition)
        contribution = Contribution.from_enriched(enriched, result.published_ts, partition)
        sends = [
            self.outbox.queue(self.channels.enriched, article.id.encode(), EnrichedArticle(**enriched), event),
        ]
        self.metrics.record_enriched(enriched)
        return _Outputs(sends, key, entry, partition, enriched=True, contribution=contribution.to_dict())

    def _seen_before_upgrade(self, article_id: str) -> Any:
        """The entry an earlier version wrote for ``article_id`` (keyed by the id itself), until it expires."""
        return self.seen.get(article_id) if self.seen.index.may_hold_earlier_key(article_id) else None

    def _prune_seen(self, partition: int, now: float) -> None:
        """Forget ids older than the dedup retention: one scan a minute finds them for every partition, and each
        partition's are deleted at its next event (a table delete writes its tombstone to the changelog
        partition of the current event)."""
        if now - self._last_scan >= PRUNE_INTERVAL_SECONDS:
            self._last_scan = now
            self._expired = self.seen.index.expired_by_partition(now - self.settings.dedup_retention_seconds)
        for key in self._expired.pop(partition, ()):
            if key in self.seen:  # not dropped since the scan (its partition moved away and back)
                del self.seen[key]

    # -- stage 2 ----------------------------------------------------------------------------------
    async def _windows(self, stream: StreamT[Any]) -> None:
        # In batches: a window's value (its dedup fingerprints among them) goes to the changelog whole, so it
        # is written once per batch, not once per article; a longer wait than the enrich stage's keeps a slow
        # feed from rewriting a large window for every enrich batch. A batch may hold events of several shards.
        batches = cast(faust.Stream[Any], stream).take_events(
            self.settings.batch_max_events, within=self.settings.window_batch_max_wait_seconds)
        async for events in batches:
            await self.handle_window_batch(events)

    async def handle_window_batch(self, events: Sequence[EventT[Any]]) -> None:
        """Apply every input to the windows, write each changed window once, then wait until the broker has
        the batch's signals and dead letters. Faust acks the events (and may commit them) after this returns;
        a crash before that re-reads them, and the windows' fingerprints drop what they counted already."""
        sends: list[Pending] = []
        last: dict[int, EventT[Any]] = {}  # shard -> its last event in the batch
        for event in events:
            shard = self._shard_of(event)
            last[shard] = event
            sends.extend(self._apply_window_input(event, self.books[shard]))
        for shard, event in last.items():
            # Each shard's windows go to its own changelog partition, the one of the event current at the write
            token = _current_event.set(weakref.ref(event))
            try:
                self.window_stores[shard].flush()
            finally:
                _current_event.reset(token)
        try:
            await self.outbox.settle(sends)
        except PartitionRevoked as exc:
            log.warning("window input moved mid-batch (%s): its new owner processes the batch again", exc)

    def _shard_of(self, event: EventT[Any]) -> int:
        partition = int(getattr(event.message, "partition", 0) or 0)
        if partition == -1:  # an in-memory channel (agent tests)
            return 0
        if not 0 <= partition < len(self.books):  # its windows would go to a changelog partition no shard reads
            raise ValueError(f"window input partition {partition}: PIPELINE_WINDOW_SHARDS is {len(self.books)}")
        return partition

    def _apply_window_input(self, event: EventT[Any], book: WindowBook) -> list[Pending]:
        message: dict[str, Any] = event.value  # type: ignore[assignment]  # the json codec decodes to a dict
        now = time.time()
        if message.get("type") == "tick":
            return self._queue_signals(event, book.tick(now))
        # "articles": the contributions of one enrich batch from one raw partition; "article": one (the
        # format before contributions were grouped, still read).
        items = message["cs"] if message.get("type") == "articles" else [message["c"]]
        sends: list[Pending] = []
        counted = duplicates = 0
        for item in items:
            contribution = Contribution.from_dict(item)
            outcome = book.add(contribution, now)
            counted += outcome.counted > 0
            duplicates += outcome.duplicates
            if outcome.too_late:  # by each window shard for its own sizes: one dead letter per shard it missed
                sends.append(self.dead_letters.queue(self.channels.dlq, event, Rejection(
                    "too_late", f"published {iso(contribution.ts)}, older than the "
                    f"{'/'.join(window_label(size) for size in book.sizes)} windows kept"), original=item))
            sends.extend(self._queue_signals(event, outcome))
        # Once per message, not per contribution (label lookups take a lock each)
        for size in book.sizes:
            label = window_label(size)
            # Counted per window size, so a duplicate shows once per window it was dropped from.
            if duplicates:
                self.metrics.window_duplicates.labels(label).inc(duplicates / len(book.sizes))
            if counted:
                self.metrics.window_articles.labels(label).inc(counted)
        return sends

    def _queue_signals(self, event: EventT[Any], outcome: Outcome) -> list[Pending]:
        sends = []
        for signal in outcome.signals:
            label = window_label(signal["window_seconds"])
            if signal["revision"] > 1:
                self.metrics.late_articles.labels(label).inc()
            key = signal_key(signal).encode()
            sends.append(self.outbox.queue(self.channels.signals, key, ReciprocitySignal(**signal), event))
            self.metrics.windows_emitted.labels(label).inc()
            if signal["reciprocity_index"] is not None:
                self.metrics.reciprocity_index.labels(label).set(signal["reciprocity_index"])
        return sends

    async def _reread_holes(self) -> None:
        consumer = self.app.consumer
        if not isinstance(consumer, RebalanceSafeConsumer):
            return
        self.metrics.stale_records.inc(consumer.take_stale_records())
        for topic, count in consumer.take_rereads().items():  # the consumer read these again itself
            self.metrics.input_rereads.labels(topic).inc(count)
        for tp, offset in consumer.reread_holes(frozenset({RAW.name, WINDOW_INPUT.name})):
            log.warning("input %s[%d]: records from offset %d were skipped; reading them again",
                        tp.topic, tp.partition, offset)
            self.metrics.input_rereads.labels(tp.topic).inc()
            await consumer.seek(tp, offset)

    async def _tick(self) -> None:
        # From a timer, outside any transaction: a tick changes nothing twice (it only closes what is due).
        tick = {"type": "tick", "now": time.time()}
        await self.outbox.settle([self.outbox.queue(self.channels.window_input, b"w", tick, None, shard)
                                  for shard in range(len(self.books))])


__all__ = ["WINDOW_INPUT", "Channels", "Pipeline"]
