"""Every topic the pipeline touches, declared once: name, partitions, config, key, schema, record."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import faust

from pipeline.records import DeadLetter, EnrichedArticle, RawArticle, ReciprocitySignal
from pipeline.settings import Settings

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

DAY_MS = 86_400_000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    partitions: int | None  # None: PIPELINE_PARTITIONS (or PIPELINE_WINDOW_SHARDS, see window_sharded)
    config: dict[str, str] = field(default_factory=dict)
    schema: str | None = None
    record: type[faust.Record] | None = None
    internal: bool = False
    window_sharded: bool = False  # one partition per window shard (PIPELINE_WINDOW_SHARDS)

    def partition_count(self, settings: Settings) -> int:
        if self.partitions is not None:
            return self.partitions
        return settings.window_shards if self.window_sharded else settings.partitions

    @property
    def partition_setting(self) -> str | None:
        """The variable that sets the partition count (None: fixed)."""
        if self.partitions is not None:
            return None
        return "PIPELINE_WINDOW_SHARDS" if self.window_sharded else "PIPELINE_PARTITIONS"


RAW = TopicSpec(
    "articles.raw.v1", "article id", None, {"retention.ms": str(7 * DAY_MS)},
    "article.raw.v1.json", RawArticle,
)
ENRICHED = TopicSpec(
    "articles.enriched.v1", "article id", None, {"retention.ms": str(30 * DAY_MS)},
    "article.enriched.v1.json", EnrichedArticle,
)
# One partition: signals are few, and consumers read the windows of each size in the order they closed. Compacted, so a
# later revision of a window replaces the earlier one for a consumer that reads from the beginning.
SIGNALS = TopicSpec(
    "signals.reciprocity.v1", "<window_start>/<window_seconds>", 1,
    {"cleanup.policy": "compact"}, "signal.reciprocity.v1.json", ReciprocitySignal,
)
DLQ = TopicSpec(
    "articles.dlq.v1", "original key", None, {"retention.ms": str(30 * DAY_MS)},
    "article.dlq.v1.json", DeadLetter,
)
# Internal: per-article window contributions and in-band ticks, one partition per window shard (a set of window
# sizes). Every contribution and tick goes to every shard: each keeps one event-time clock over all articles and
# counts only its own sizes, so up to PIPELINE_WINDOW_SHARDS workers share the window stage. (With one partition its
# owner did all of it, 1.05-1.39 times the other's CPU in two-worker drains, while the other waited.)
WINDOW_INPUT = TopicSpec("pipeline.window-input.v1", "constant", None, {"retention.ms": str(7 * DAY_MS)},
                         internal=True, window_sharded=True)

PUBLIC_TOPICS = (RAW, ENRICHED, SIGNALS, DLQ)
ALL_TOPICS = (*PUBLIC_TOPICS, WINDOW_INPUT)

# Faust tables: name -> whether partitioned like the window input (else like the raw topic). A table's changelog
# must have as many partitions as the topic its agent reads, so they are created here, not left to broker
# auto-creation.
TABLES: dict[str, bool] = {"seen-articles": False, "windows": True}
# The largest record the worker produces: a window's changelog value holds the fingerprints of what it counted
# (packed, about 21 bytes an article; pipeline/dedup.py), so a daily window of about 47,000 articles passes Kafka's
# default 1 MB. 16 MiB takes a day of about 790,000; the windows changelog allows it (Faust's producer limit is
# raised to match, app.py).
MAX_RECORD_BYTES = 16 * 1024 * 1024
_CHANGELOG_CONFIG = {"cleanup.policy": "compact"}
_TABLE_CONFIG: dict[str, dict[str, str]] = {"windows": {"max.message.bytes": str(MAX_RECORD_BYTES)}}


def changelog_topics(settings: Settings) -> tuple[TopicSpec, ...]:
    return tuple(
        TopicSpec(f"{settings.app_id}-{table}-changelog", "table key", None,
                  {**_CHANGELOG_CONFIG, **_TABLE_CONFIG.get(table, {})}, internal=True, window_sharded=sharded)
        for table, sharded in TABLES.items()
    )


def declared_topics(settings: Settings) -> tuple[TopicSpec, ...]:
    """Every topic a worker with ``settings`` needs, public, internal and changelog."""
    return (*ALL_TOPICS, *changelog_topics(settings))
