"""Articles through the real worker on a real broker: produced and consumed with kafka-python."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from pipeline.aggregate import window_key, window_start
from pipeline.broker import EmbeddedBroker
from pipeline.demo import WorkerProcess, expected_windows
from pipeline.io import sample_corpus_path
from pipeline.settings import Settings
from pipeline.topics import DLQ, ENRICHED, RAW, SIGNALS
from pipeline.validation import parse_timestamp
from tests.helpers import ROOT, assert_valid, encode
from tests.integration.conftest import consume, metric, produce, values

pytestmark = pytest.mark.integration
MAX_BYTES = 20_000


def corpus(n: int) -> list[dict[str, Any]]:
    lines = sample_corpus_path().read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:n]]


def test_articles_flow_to_enriched_signals_dlq_and_metrics(
        broker: EmbeddedBroker, settings_for: Callable[..., Settings],
        start_worker: Callable[[Settings], WorkerProcess]) -> None:
    settings = settings_for(broker, max_article_bytes=MAX_BYTES)
    worker = start_worker(settings)
    articles = corpus(12)
    good = [(a["id"].encode(), encode(a)) for a in articles]
    resent = good[:3]
    bad = {
        "invalid_json": (b"bad-1", b'{"id": "bad-1", "title": '),
        "invalid_utf8": (b"bad-2", b'{"id": "bad-2", "text": "\xff\xfe"}'),
        "missing_field": (b"bad-3", encode({"id": "bad-3", "text": "No url, title, date or source."})),
        "oversize": (b"bad-4", encode({**articles[0], "id": "bad-4", "text": "x " * MAX_BYTES})),
    }
    produce(settings, RAW.name, good)
    produce(settings, RAW.name, resent)
    bad_meta = dict(zip(bad, produce(settings, RAW.name, list(bad.values())), strict=True))

    enriched = values(consume(settings, ENRICHED.name, lambda m: len(m) >= len(articles)))
    assert sorted(e["id"] for e in enriched) == sorted(a["id"] for a in articles)
    for record in enriched:
        assert_valid("article.enriched.v1.json", record)

    letters = values(consume(settings, DLQ.name, lambda m: len(m) >= len(bad)))
    assert len(letters) == len(bad)
    for letter in letters:
        assert_valid("article.dlq.v1.json", letter)
        meta = bad_meta[letter["reason"]]
        assert (letter["source_topic"], letter["source_partition"], letter["source_offset"]) == (
            RAW.name, meta.partition, meta.offset)
    invalid_utf8 = next(x for x in letters if x["reason"] == "invalid_utf8")
    assert invalid_utf8["original_encoding"] == "base64"

    expected = expected_windows_for(articles, settings.window_sizes)
    signals = consume(settings, SIGNALS.name, lambda m: expected <= {x.key.decode() for x in m})
    for message in signals:
        assert_valid("signal.reciprocity.v1.json", json.loads(message.value))
    daily_counts = sum(v["articles"] for v in values(signals) if v["window_seconds"] == 86400)
    assert daily_counts == len(articles)  # the re-sent articles were counted once

    text = _scrape_until(worker, lambda t: metric(t, "pipeline_articles_received_total") >= 19)
    assert metric(text, "pipeline_articles_received_total") == len(good) + len(resent) + len(bad)
    assert metric(text, "pipeline_articles_valid_total") == len(articles)
    assert metric(text, "pipeline_articles_duplicate_total") == len(resent)
    for reason in bad:
        assert metric(text, "pipeline_articles_dead_lettered_total", f'reason="{reason}"') == 1
    assert metric(text, "pipeline_processing_seconds_count") == len(articles)
    assert metric(text, "pipeline_window_articles_total", 'window="1d"') == len(articles)
    # The outbox sends past Faust's Topic.send, so its sends are counted by the pipeline's own counter.
    assert metric(text, "pipeline_messages_sent_total", f'topic="{ENRICHED.name}"') == len(articles)
    assert metric(text, "pipeline_messages_sent_total", f'topic="{DLQ.name}"') == len(bad)
    assert metric(text, "faust_messages_received_total") > 0  # Faust's own sensor on the same registry


def expected_windows_for(articles: list[dict[str, Any]], sizes: tuple[int, ...]) -> set[str]:
    keys: set[str] = set()
    for article in articles:
        ts = parse_timestamp(article["published_at"])
        assert ts is not None
        keys.update(window_key(window_start(ts, size), size) for size in sizes)
    return keys


def _scrape_until(worker: WorkerProcess, ready: Callable[[str], bool], timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = worker.scrape() or ""
        if ready(text):
            return text
        time.sleep(0.3)
    return text


def test_ingest_cli_and_example_consumer(broker: EmbeddedBroker, settings_for: Callable[..., Settings],
                                         start_worker: Callable[[Settings], WorkerProcess]) -> None:
    settings = settings_for(broker)
    start_worker(settings)
    corpus_path = str(sample_corpus_path())
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "ingest", corpus_path, "--broker", broker.bootstrap],
                          capture_output=True, text=True, timeout=120, check=True)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["sent"] == len(corpus(1000)) and summary["rejected_locally"] == 0
    expected = expected_windows(corpus_path, settings)
    consume(settings, SIGNALS.name, lambda m: expected <= {x.key.decode() for x in m}, timeout=120)

    example = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "consumer.py"), "--bootstrap", broker.bootstrap,
         "--topic", SIGNALS.name, "--group", "example-test", "--idle-timeout", "10",
         "--rebalance-timeout", "3"],
        capture_output=True, text=True, timeout=120,
    )
    assert example.returncode == 0, example.stderr
    lines = [json.loads(line) for line in example.stdout.splitlines()]
    assert {line["key"] for line in lines} >= expected
    for line in lines:
        assert_valid("signal.reciprocity.v1.json", line["value"])


def test_topics_create_is_idempotent_and_the_worker_refuses_wrong_partitions(
        broker: EmbeddedBroker, settings_for: Callable[..., Settings]) -> None:
    env_broker = ["--broker", broker.bootstrap]
    first = subprocess.run([sys.executable, "-m", "pipeline.cli", "topics", "create", *env_broker],
                           capture_output=True, text=True, timeout=60, check=True)
    assert RAW.name in first.stdout
    again = subprocess.run([sys.executable, "-m", "pipeline.cli", "topics", "create", *env_broker],
                           capture_output=True, text=True, timeout=60, check=True)
    assert "none (all present)" in again.stdout

    wrong = WorkerProcess(settings_for(broker, partitions=6))
    with pytest.raises(RuntimeError, match="exited with status 2"):
        wrong.start(ready_timeout=60)
    check = subprocess.run([sys.executable, "-m", "pipeline.cli", "topics", "check", *env_broker],
                           capture_output=True, text=True, timeout=60,
                           env={"PIPELINE_PARTITIONS": "6", "PATH": "/usr/bin:/bin"})
    assert check.returncode == 1 and "articles.raw.v1: has 4 partitions" in check.stderr


def test_demo_once_prints_valid_signals() -> None:
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "demo", "--once", "--timeout", "150"],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert records
    for record in records:
        assert_valid("signal.reciprocity.v1.json", record)
