"""Thin agents: decode -> call pure code -> send -> count; bad input -> the DLQ.

Two stages:
- ``enrich`` reads ``articles.raw.v1`` (N partitions), validates, drops re-sent duplicates, analyses, and
  sends ``articles.enriched.v1`` plus a compact window contribution; an id is remembered as seen only after
  the broker acknowledged its outputs (see :meth:`Pipeline.handle_raw_batch`);
- ``windows`` reads the one-partition window input (contributions and in-band ticks), updates the
  changelogged window table through :class:`pipeline.aggregate.WindowBook` and sends
  ``signals.reciprocity.v1`` for every window that closes (or is revised by a late article).
"""

from __future__ import annotations

import base64
import logging
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.streams import _current_event
from faust.types import ChannelT, EventT, StreamT

from pipeline.aggregate import Contribution, WindowBook, iso, window_key
from pipeline.analysis import Analyzer
from pipeline.metrics import PipelineMetrics, window_label
from pipeline.outbox import Outbox, PartitionRevoked, Pending
from pipeline.records import DeadLetter, EnrichedArticle, ReciprocitySignal
from pipeline.settings import Settings
from pipeline.topics import RAW, TABLES, WINDOW_INPUT
from pipeline.validation import Rejection, validate_raw

log = logging.getLogger(__name__)
PRUNE_INTERVAL_SECONDS = 60.0


@dataclass
class _Batch:
    """What one batch of raw messages produced, settled together in :meth:`Pipeline.handle_raw_batch`."""

    sends: list[Pending] = field(default_factory=list)
    new_ids: dict[str, tuple[EventT[Any], list[Any]]] = field(default_factory=dict)  # id -> (event, seen entry)
    started: list[float] = field(default_factory=list)


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
        # Article id -> [content hash, first seen, partition]: dedup at the door, co-partitioned with the raw topic.
        self.seen = app.Table("seen-articles", default=None, partitions=settings.partitions)
        self._last_prune: dict[int, float] = {}
        self.windows = app.Table("windows", default=None, partitions=TABLES["windows"])
        self.book = WindowBook(self.windows, settings.window_sizes, settings.window_grace_seconds,
                               settings.window_retention_seconds, settings.idle_close_seconds,
                               analyzer.version, partitions=settings.partitions)
        self.enrich = app.agent(channels.raw, name="enrich")(self._enrich)
        self.window_agent = app.agent(channels.window_input, name="windows")(self._windows)
        self.tick = app.timer(settings.tick_seconds, name="window-tick")(self._tick)

    # -- stage 1 ----------------------------------------------------------------------------------
    async def _enrich(self, stream: StreamT[Any]) -> None:
        # One event at a time, settled before the next. Not ``take_events``: batches taken that way lost
        # articles when partitions moved between workers (a worker killed during a rebalance; measured).
        async for event in stream.events():
            await self.handle_raw_batch([event])

    async def handle_raw(self, event: EventT[Any]) -> None:
        await self.handle_raw_batch([event])

    async def handle_raw_batch(self, events: Sequence[EventT[Any]]) -> None:
        """Decode, check, analyse and send each message; then wait until the broker has every output (a failed
        send is counted and sent again); only then remember the new ids as seen.

        Why this order: Faust acks an event (and so may commit its offset) only after this returns. A crash
        before that re-reads the event and sends its outputs again (the window stage counts an article once,
        by id); had the id been remembered first, its changelog record could reach the broker before the
        outputs did, and the re-read article would be dropped as a duplicate: lost."""
        batch = _Batch()
        async with self.outbox.batch():
            try:
                for event in events:
                    await self._enrich_one(event, batch)
                await self.outbox.settle(batch.sends)
            except PartitionRevoked as exc:
                log.warning("partition moved mid-batch (%s): its new owner processes the batch again", exc)
                return
            self._remember(batch)

    def _remember(self, batch: _Batch) -> None:
        """Remember the batch's new ids (their outputs are acknowledged); observe the processing time."""
        now = time.time()
        for article_id, (event, entry) in batch.new_ids.items():
            _make_current(event)  # a table write goes to the changelog partition of the current event
            self.seen[article_id] = entry
            self._prune_seen(entry[2], now)
        finished = time.perf_counter()
        for started in batch.started:
            self.metrics.processing_seconds.observe(finished - started)

    async def _enrich_one(self, event: EventT[Any], batch: _Batch) -> None:
        started = time.perf_counter()
        self.metrics.articles_received.inc()
        value = event.value if isinstance(event.value, bytes | None) else str(event.value).encode()
        result = validate_raw(value, self.settings.max_article_bytes)
        if isinstance(result, Rejection):
            batch.sends.append(await self.dead_letter(event, result))
            return
        article = result.article
        earlier = batch.new_ids.get(article.id)
        previous = earlier[1] if earlier is not None else self.seen.get(article.id)
        if previous is not None:
            if previous[0] == result.content_hash:
                self.metrics.articles_duplicate.inc()
            else:
                batch.sends.append(await self.dead_letter(event, Rejection(
                    "id_reused", f"id {article.id!r} was first seen with other content at {iso(previous[1])}")))
            return
        partition = max(int(getattr(event.message, "partition", 0) or 0), 0)
        batch.new_ids[article.id] = (event, [result.content_hash, time.time(), partition])
        self.metrics.articles_valid.inc()
        try:
            enriched = self.analyzer.analyze(article)
        except Exception as exc:  # a rule bug must not stop the stream: the article goes to the DLQ
            log.exception("analysis failed for %r", article.id)
            batch.sends.append(await self.dead_letter(event, Rejection("analysis_error", repr(exc))))
            return
        key = article.id.encode()
        send = self.outbox.send
        batch.sends.append(await send(self.channels.enriched, key, EnrichedArticle(**enriched), event))
        contribution = Contribution.from_enriched(enriched, result.published_ts, partition)
        batch.sends.append(await send(self.channels.window_input, b"w",
                                      {"type": "article", "c": contribution.to_dict()}, event))
        self.metrics.record_enriched(enriched)
        batch.started.append(started)

    def _prune_seen(self, partition: int, now: float) -> None:
        """Forget ids older than the dedup retention, at most once a minute per partition. Only keys of
        the current event's partition: a table delete writes its tombstone to that changelog partition."""
        if now - self._last_prune.get(partition, now - PRUNE_INTERVAL_SECONDS - 1) < PRUNE_INTERVAL_SECONDS:
            return
        self._last_prune[partition] = now
        horizon = now - self.settings.dedup_retention_seconds
        expired = [key for key, (_, first_seen, owner) in list(self.seen.items())
                   if owner == partition and first_seen < horizon]
        for key in expired:
            del self.seen[key]

    # -- stage 2 ----------------------------------------------------------------------------------
    async def _windows(self, stream: StreamT[Any]) -> None:
        async for event in stream.events():
            await self.handle_window_input(event)

    async def handle_window_input(self, event: EventT[Any]) -> None:
        message: dict[str, Any] = event.value  # type: ignore[assignment]  # the json codec decodes to a dict
        now = time.time()
        if message.get("type") == "tick":
            outcome = self.book.tick(now)
        else:
            contribution = Contribution.from_dict(message["c"])
            outcome = self.book.add(contribution, now)
            for size in self.settings.window_sizes:
                label = window_label(size)
                # Counted per window size, so a duplicate shows once per window it was dropped from.
                if outcome.duplicates:
                    self.metrics.window_duplicates.labels(label).inc(outcome.duplicates / len(
                        self.settings.window_sizes))
            if outcome.counted:
                for size in self.settings.window_sizes:
                    self.metrics.window_articles.labels(window_label(size)).inc()
            if outcome.too_late:
                await self.outbox.settle([await self.dead_letter(event, Rejection(
                    "too_late", f"published {iso(contribution.ts)}, older than the windows kept"))])
        for signal in outcome.signals:
            label = window_label(signal["window_seconds"])
            if signal["revision"] > 1:
                self.metrics.late_articles.labels(label).inc()
            key = window_key(_parse_start(signal), signal["window_seconds"]).encode()
            await self.outbox.send_and_settle(self.channels.signals, key, ReciprocitySignal(**signal), event)
            self.metrics.windows_emitted.labels(label).inc()
            if signal["reciprocity_index"] is not None:
                self.metrics.reciprocity_index.labels(label).set(signal["reciprocity_index"])

    async def _tick(self) -> None:
        # From a timer, outside any transaction: a tick changes nothing twice (it only closes what is due).
        await self.outbox.send_and_settle(self.channels.window_input, b"w", {"type": "tick", "now": time.time()}, None)

    # -- shared -----------------------------------------------------------------------------------
    async def dead_letter(self, event: EventT[Any], rejection: Rejection) -> Pending:
        self.metrics.articles_dead_lettered.labels(rejection.reason).inc()
        original, encoding = _original(event.value)
        message = event.message
        letter = DeadLetter(
            schema_version=1, reason=rejection.reason, error=rejection.error[:2000],
            source_topic=message.topic or RAW.name if message is not None else RAW.name,
            source_partition=max(int(getattr(message, "partition", 0) or 0), 0),
            source_offset=max(int(getattr(message, "offset", 0) or 0), 0),
            original=original, original_encoding=encoding, first_seen_at=iso(time.time()),
            analyzer_version=self.analyzer.version,
        )
        key = event.key if isinstance(event.key, bytes) else None
        return await self.outbox.send(self.channels.dlq, key or b"", letter, event)


def _original(value: Any) -> tuple[str, str]:
    if value is None:
        return "", "utf-8"
    if not isinstance(value, bytes):
        import json

        return json.dumps(value, ensure_ascii=False), "utf-8"
    try:
        return value.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(value).decode("ascii"), "base64"


def _parse_start(signal: dict[str, Any]) -> int:
    from pipeline.validation import parse_timestamp

    ts = parse_timestamp(signal["window_start"])
    return int(ts or 0)


def _make_current(event: EventT[Any]) -> None:
    """Make ``event`` Faust's current event, as stream iteration does for each event it yields."""
    _current_event.set(weakref.ref(event))


__all__ = ["WINDOW_INPUT", "Channels", "Pipeline"]
