"""Faust records, one per topic schema in ``schemas/`` (tests check the two against each other).

``include_metadata=False`` keeps Faust's ``__faust`` marker out of the JSON, so what other services read
is exactly the documented schema.
"""

from __future__ import annotations

from typing import Any

import faust


class RawArticle(faust.Record, include_metadata=False, serializer="json"):
    """``articles.raw.v1``: what producers send (the validator reads the bytes; this documents them)."""

    id: str
    url: str
    title: str
    text: str
    published_at: str
    source: str
    language: str | None = None
    schema_version: int = 1


class EnrichedArticle(faust.Record, include_metadata=False, serializer="json"):
    """``articles.enriched.v1``: one analysed article."""

    schema_version: int
    analyzer_version: str
    id: str
    url: str
    title: str
    published_at: str
    source: str
    language: str
    jurisdictions: list[dict[str, Any]]
    crypto: dict[str, Any]
    by_jurisdiction: dict[str, dict[str, Any]]
    mainland: dict[str, Any]
    reciprocity: dict[str, Any]
    unscored_reason: str | None = None


class ReciprocitySignal(faust.Record, include_metadata=False, serializer="json"):
    """``signals.reciprocity.v1``: one closed event-time window."""

    schema_version: int
    analyzer_version: str
    window_start: str
    window_end: str
    window_seconds: int
    revision: int
    emitted_at: str
    articles: int
    crypto_articles: int
    mainland_articles: int
    sources: int
    late_articles: int
    reciprocity_index: float | None
    by_jurisdiction: dict[str, dict[str, Any]]
    evidence_by_kind: dict[str, dict[str, int]]
    top_evidence: list[dict[str, Any]]


class DeadLetter(faust.Record, include_metadata=False, serializer="json"):
    """``articles.dlq.v1``: a message the pipeline could not process, with where it came from."""

    schema_version: int
    reason: str
    error: str
    source_topic: str
    source_partition: int
    source_offset: int
    original: str
    original_encoding: str
    first_seen_at: str
    analyzer_version: str
