"""Dead letters: what the agents queue to ``articles.dlq.v1`` for input they cannot use, with where it came from
and the input itself (as text, or base64 when it is not UTF-8), so that nothing rejected is lost."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from faust.types import ChannelT, EventT

from pipeline.aggregate import iso
from pipeline.metrics import PipelineMetrics
from pipeline.outbox import Outbox, Pending
from pipeline.records import DeadLetter
from pipeline.topics import RAW
from pipeline.validation import Rejection


class DeadLetters:
    def __init__(self, outbox: Outbox, metrics: PipelineMetrics, analyzer_version: str) -> None:
        self.outbox = outbox
        self.metrics = metrics
        self.analyzer_version = analyzer_version

    def queue(self, channel: ChannelT[Any], event: EventT[Any], rejection: Rejection, original: Any = None
              ) -> Pending:
        """Count and queue ``event``'s dead letter to ``channel`` for the batch's settle. ``original``: the part of
        ``event`` that was rejected, when it was not the whole message."""
        self.metrics.articles_dead_lettered.labels(rejection.reason).inc()
        text, encoding = as_text(event.value if original is None else original)
        message = event.message
        letter = DeadLetter(
            schema_version=1, reason=rejection.reason, error=rejection.error[:2000],
            source_topic=message.topic or RAW.name if message is not None else RAW.name,
            source_partition=max(int(getattr(message, "partition", 0) or 0), 0),
            source_offset=max(int(getattr(message, "offset", 0) or 0), 0),
            original=text, original_encoding=encoding, first_seen_at=iso(time.time()),
            analyzer_version=self.analyzer_version,
        )
        key = event.key if isinstance(event.key, bytes) else None
        return self.outbox.queue(channel, key or b"", letter, event)


def as_text(value: Any) -> tuple[str, str]:
    """``value`` as the dead letter's ``original`` and its ``original_encoding``."""
    if value is None:
        return "", "utf-8"
    if not isinstance(value, bytes):
        return json.dumps(value, ensure_ascii=False), "utf-8"
    try:
        return value.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(value).decode("ascii"), "base64"
