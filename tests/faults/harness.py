"""What the fault tests share: generated articles, producing and reading topics, and the exactly-once check.

The check compares what the topics hold with what was sent: for every window key the article's
``published_at`` falls in, the highest ``revision`` of its signal must count exactly the distinct valid
articles of that window (none lost, none counted twice); every valid article id must be on the enriched
topic. Under ``at_least_once`` the enriched topic may hold an id more than once after a crash (a record sent
again because its offset was not committed yet); that is counted and reported, not failed, unless the test
asks for exactly once there too.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from pipeline.aggregate import iso, window_key, window_start
from pipeline.demo import WorkerProcess
from pipeline.io import sample_corpus_path
from pipeline.topics import DLQ, ENRICHED, RAW, SIGNALS
from pipeline.validation import parse_timestamp
from tests.integration.conftest import metric, produce_to

BASE_TS = 1_709_251_200  # 2024-03-01T00:00:00Z
SPAN_SECONDS = 4 * 86_400  # articles spread over four days: ~100 hourly and 5 daily windows
SIZES = (3600, 86400)
SETTLE_SECONDS = 4.0  # > idle close (2 s) + tick (1 s) of the dev settings
# > a consumer-group session timeout (10 s) + rebalance (3 s): a restarted worker resumed. Tansu's join alone
# waits 5 s and a killed member's session takes about 13 s to expire there, so twice that, for a busy VM: a
# passing run never waits for it, only a count that stays wrong.
QUIET_SECONDS = 45.0


@cache
def _samples() -> tuple[dict[str, Any], ...]:
    lines = sample_corpus_path().read_text(encoding="utf-8").splitlines()
    return tuple(json.loads(line) for line in lines if line.strip())


def make_articles(n: int, prefix: str) -> list[dict[str, Any]]:
    """``n`` distinct articles (own id and URL) from the sample corpus texts, ``published_at`` shuffled over
    four days so windows close and are revised by late articles while the stream runs."""
    samples = _samples()
    articles = []
    for i in range(n):
        article = dict(samples[i % len(samples)])
        article["id"] = f"{prefix}-{i:04d}"
        article["url"] = f"https://faults.example.org/{prefix}/{i:04d}"
        article["published_at"] = iso(BASE_TS + (i * 7919 % n) * SPAN_SECONDS // n)
        articles.append(article)
    return articles


def chunks(items: list[Any], n: int) -> list[list[Any]]:
    size = -(-len(items) // n)
    return [items[i:i + size] for i in range(0, len(items), size)]


def feed_until_shared(bootstrap: str, workers: list[WorkerProcess], batches: list[list[dict[str, Any]]],
                      at_most: int, timeout: float = 90.0) -> tuple[int, list[bool]]:
    """Produce ``batches`` one at a time, about every 3 s (at most ``at_most`` of them), until every worker has
    received articles (the group settles a few seconds after the second joins) and one applies window
    contributions. Returns how many batches were sent and which worker owns the window stage; fails if that did
    not happen within ``timeout`` (a test that went on would not know which worker it kills). Once ``at_most``
    are sent it only waits: a rebalance slowed by a busy VM gets the whole timeout, not the batches' 30 s."""
    sent, owner = 0, [False] * len(workers)
    started = next_batch = time.monotonic()
    while time.monotonic() - started < timeout:
        if sent < at_most and time.monotonic() >= next_batch:
            produce(bootstrap, keyed(batches[sent]))
            sent, next_batch = sent + 1, time.monotonic() + 3
        texts = [w.scrape() or "" for w in workers]
        owner = [metric(t, "pipeline_window_articles_total", 'window="1d"') > 0 for t in texts]
        if all(metric(t, "pipeline_articles_received_total") > 0 for t in texts) and any(owner):
            return sent, owner
        time.sleep(0.1)
    raise AssertionError(f"within {timeout:.0f} s ({sent} batches) a worker had received nothing, or none applied "
                         "a contribution")


def encode(article: dict[str, Any]) -> bytes:
    return json.dumps(article, ensure_ascii=False).encode()


def keyed(articles: Iterable[dict[str, Any]]) -> list[tuple[bytes | None, bytes | None]]:
    return [(a["id"].encode(), encode(a)) for a in articles]


def produce(bootstrap: str, items: list[tuple[bytes | None, bytes | None]], topic: str = RAW.name,
            partition: int | None = None) -> list[Any]:
    """Send and wait for every ack (to ``partition``, else by key); returns the RecordMetadata (partition, offset)
    of each."""
    return produce_to([bootstrap], topic, items, partition)


class Reader:
    """One topic read from the beginning, incrementally: every partition assigned, no consumer group."""

    def __init__(self, bootstrap: str, topic: str, isolation_level: str = "read_uncommitted") -> None:
        self.topic = topic
        self.consumer = KafkaConsumer(bootstrap_servers=[bootstrap], group_id=None, enable_auto_commit=False,
                                      auto_offset_reset="earliest", isolation_level=isolation_level)
        deadline = time.monotonic() + 30
        partitions = self.consumer.partitions_for_topic(topic)
        while not partitions and time.monotonic() < deadline:
            time.sleep(0.2)
            partitions = self.consumer.partitions_for_topic(topic)
        assert partitions, f"{topic}: no partitions"
        self.consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        self.consumer.seek_to_beginning()
        self.messages: list[Any] = []

    def poll(self) -> list[Any]:
        new = [m for batch in self.consumer.poll(timeout_ms=300, max_records=5000).values() for m in batch]
        self.messages.extend(new)
        return new

    def until(self, done: Callable[[], bool], timeout: float, settle: float = 0.0) -> bool:
        """Poll until ``done()`` holds, then ``settle`` seconds more (a late duplicate would show); False on
        timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll()
            if done():
                end = time.monotonic() + settle
                while time.monotonic() < end:
                    self.poll()
                return done()
        return False

    def close(self) -> None:
        self.consumer.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def expected_windows(articles: Iterable[dict[str, Any]]) -> Counter[str]:
    """Window key -> number of distinct articles it must count."""
    counts: Counter[str] = Counter()
    for article in articles:
        ts = parse_timestamp(article["published_at"])
        assert ts is not None
        for size in SIZES:
            counts[window_key(window_start(ts, size), size)] += 1
    return counts


def latest_signals(messages: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Window key -> its highest revision, as a consumer of the compacted topic keeps it."""
    latest: dict[str, dict[str, Any]] = {}
    for message in messages:
        key, record = message.key.decode(), json.loads(message.value)
        if key not in latest or record["revision"] >= latest[key]["revision"]:
            latest[key] = record
    return latest


def check_exactly_once(bootstrap: str, articles: list[dict[str, Any]], figures: dict[str, Any], *,
                       timeout: float = 120.0, isolation_level: str = "read_uncommitted",
                       enriched_exactly_once: bool = False) -> dict[str, dict[str, Any]]:
    """Wait for the final signals and the enriched records of ``articles``, record the figures, assert."""
    expected = expected_windows(articles)
    ids = {a["id"] for a in articles}
    with Reader(bootstrap, SIGNALS.name) as signals:
        latest = _final_signals(signals, expected, timeout)
    with Reader(bootstrap, ENRICHED.name, isolation_level) as enriched:
        enriched.until(lambda: ids <= {m.key.decode() for m in enriched.messages}, timeout=30.0, settle=1.0)
        counts = Counter(m.key.decode() for m in enriched.messages)
    daily = {k: n for k, n in expected.items() if k.endswith("/86400")}
    got = {k: latest.get(k, {}).get("articles", 0) for k in expected}
    figures.update(
        distinct_valid=len(ids),
        daily_articles_sum=sum(got[k] for k in daily),
        windows_lost=sum(max(0, n - got[k]) for k, n in daily.items()),
        windows_duplicated=sum(max(0, got[k] - n) for k, n in daily.items()),
        enriched_lost=len(ids - set(counts)),
        enriched_duplicated=sum(c - 1 for i, c in counts.items() if i in ids),
    )
    wrong = {k: (got[k], n) for k, n in expected.items() if got[k] != n}
    unexpected = sorted(set(latest) - set(expected))
    assert not wrong, f"{len(wrong)} windows count wrong (got, expected), e.g. {sorted(wrong.items())[:5]}"
    assert not unexpected, f"signals for windows no article falls in: {unexpected[:5]}"
    assert figures["enriched_lost"] == 0, f"ids missing from {ENRICHED.name}: {sorted(ids - set(counts))[:10]}"
    if enriched_exactly_once:
        repeated = sorted(i for i, c in counts.items() if c > 1)
        assert figures["enriched_duplicated"] == 0, f"{ENRICHED.name} repeats {len(repeated)} ids: {repeated[:10]}"
    return latest


def _final_signals(signals: Reader, expected: Counter[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Read until every window counts what it should (then SETTLE more seconds, so a late double count
    shows), or until every window was emitted and nothing new came for QUIET seconds (a count that stays
    wrong: fail without waiting for the whole timeout)."""
    deadline = time.monotonic() + timeout
    last_new = time.monotonic()
    while time.monotonic() < deadline:
        if signals.poll():
            last_new = time.monotonic()
        latest = latest_signals(signals.messages)
        if all(latest.get(k, {}).get("articles") == n for k, n in expected.items()):
            signals.until(lambda: False, timeout=SETTLE_SECONDS)
            break
        if set(expected) <= set(latest) and time.monotonic() - last_new > QUIET_SECONDS:
            break
    return latest_signals(signals.messages)


def dead_letters(bootstrap: str, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    """At least ``count`` DLQ records (waits for them), decoded, with their Kafka key under ``_key``."""
    with Reader(bootstrap, DLQ.name) as dlq:
        dlq.until(lambda: len(dlq.messages) >= count, timeout, settle=1.0)
        return [{**json.loads(m.value), "_key": m.key.decode() if m.key else ""} for m in dlq.messages]


def wait_metric(worker: WorkerProcess, name: str, at_least: float, labels: str = "", timeout: float = 60.0,
                interval: float = 0.05) -> float:
    """Poll the worker's /metrics until ``name{labels}`` reaches ``at_least``; returns the last value seen."""
    deadline = time.monotonic() + timeout
    value = 0.0
    while time.monotonic() < deadline:
        value = metric(worker.scrape() or "", name, labels)
        if value >= at_least:
            return value
        time.sleep(interval)
    return value
