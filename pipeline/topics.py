"""Every topic the pipeline touches, declared once: name, partitions, config, key, schema, record."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import faust

from pipeline.records import DeadLetter, EnrichedArticle, RawArticle, ReciprocitySignal
from pipeline.settings import Settings, env_var

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

DAY_MS = 86_400_000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    partitions: int | str  # a fixed count, or the Settings field that sets it ("partitions", "window_shards")
    config: dict[str, str] = field(default_factory=dict)
    schema: str | None = None
    record: type[faust.Record] | None = None
    internal: bool = False

    def partition_count(self, settings: Settings) -> int:
        return self.partitions if isinstance(self.partitions, int) else int(getattr(settings, self.partitions))

    @property
    def partition_setting(self) -> str | None:
        """The environment variable that sets the partition count (None: fixed)."""
        return None if isinstance(self.partitions, int) else env_var(self.partitions)


RAW = TopicSpec(
    "articles.raw.v1", "article id", "partitions", {"retention.ms": str(7 * DAY_MS)},
    "article.raw.v1.json", RawArticle,
)
ENRICHED = TopicSpec(
    "articles.enriched.v1", "article id", "partitions", {"retention.ms": str(30 * DAY_MS)},
    "article.enriched.v1.json", EnrichedArticle,
)
# One partition: signals are few, and consumers read the windows of each size in the order they closed. Compacted, so a
# later revision of a window replaces the earlier one for a consumer that reads from the beginning.
SIGNALS = TopicSpec(
    "signals.reciprocity.v1", "<window_start>/<window_seconds>", 1,
    {"cleanup.policy": "compact"}, "signal.reciprocity.v1.json", ReciprocitySignal,
)
DLQ = TopicSpec(
    "articles.dlq.v1", "original key", "partitions", {"retention.ms": str(30 * DAY_MS)},
    "article.dlq.v1.json", DeadLetter,
)
# Internal: per-article window contributions and in-band ticks, one partition per window shard (a set of window
# sizes). Every contribution and tick goes to every shard: each keeps one event-time clock over all articles and
# counts only its own sizes, so up to PIPELINE_WINDOW_SHARDS workers share the window stage. (With one partition its
# owner did all of it, 1.05-1.39 times the other's CPU in two-worker drains, while the other waited.)
WINDOW_INPUT = TopicSpec("pipeline.window-input.v1", "constant", "window_shards", {"retention.ms": str(7 * DAY_MS)},
                         internal=True)

PUBLIC_TOPICS = (RAW, ENRICHED, SIGNALS, DLQ)
ALL_TOPICS = (*PUBLIC_TOPICS, WINDOW_INPUT)

# Faust tables: name -> partitions, those of the topic its agent reads (a changelog must match it), so their
# changelogs are created here, not left to broker auto-creation.
TABLES: dict[str, int | str] = {"seen-articles": RAW.partitions, "windows": WINDOW_INPUT.partitions}
# The largest record the worker produces: a window's changelog value holds the fingerprints of what it counted
# (packed, about 21 bytes an article; pipeline/dedup.py), so a daily window of about 47,000 articles passes Kafka's
# default 1 MB. 16 MiB takes a day of about 790,000; the windows changelog allows it (Faust's producer limit is
# raised to match, app.py).
MAX_RECORD_BYTES = 16 * 1024 * 1024
_CHANGELOG_CONFIG = {"cleanup.policy": "compact"}
_TABLE_CONFIG: dict[str, dict[str, str]] = {"windows": {"max.message.bytes": str(MAX_RECORD_BYTES)}}


def changelog_topics(settings: Settings) -> tuple[TopicSpec, ...]:
    return tuple(
        TopicSpec(f"{settings.app_id}-{table}-changelog", "table key", partitions,
                  {**_CHANGELOG_CONFIG, **_TABLE_CONFIG.get(table, {})}, internal=True)
        for table, partitions in TABLES.items()
    )


def declared_topics(settings: Settings) -> tuple[TopicSpec, ...]:
    """Every topic a worker with ``settings`` needs, public, internal and changelog."""
    return (*ALL_TOPICS, *changelog_topics(settings))
