"""Output faults on Apache Kafka: exactly_once processing through a worker crash, and a send the broker
rejects (the record must be retried and counted, never dropped)."""

from __future__ import annotations

from typing import Any

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from pipeline.broker import ApacheKafka
from pipeline.topics import ENRICHED
from tests.faults.conftest import Stack
from tests.faults.harness import check_exactly_once, keyed, make_articles, produce, wait_metric

pytestmark = pytest.mark.integration
SEND_FAILURES = "pipeline_send_failures_total"
ENRICHED_LABEL = f'topic="{ENRICHED.name}"'


def test_exactly_once_through_a_sigkill_on_apache_kafka(
        apache_kafka: ApacheKafka, stack_for: Any, figures: dict[str, Any]) -> None:
    stack: Stack = stack_for(apache_kafka, processing_guarantee="exactly_once")
    articles = make_articles(200, "eos")
    worker = stack.worker()
    produce(apache_kafka.bootstrap, keyed(articles[:100]))
    killed_after = int(wait_metric(worker, "pipeline_articles_received_total", 30))
    worker.kill()
    worker.start(ready_timeout=90)
    produce(apache_kafka.bootstrap, keyed(articles[100:]))
    figures.update(sent=len(articles), faults="1 x SIGKILL worker (exactly_once)", killed_after_received=killed_after)
    # read_committed: records of the transactions the crash aborted must not show; each id exactly once.
    check_exactly_once(apache_kafka.bootstrap, articles, figures, isolation_level="read_committed",
                       enriched_exactly_once=True)


def _set_topic_config(bootstrap: str, topic: str, configs: dict[str, str]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=[bootstrap], request_timeout_ms=15000)
    try:
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs=configs)])
    finally:
        admin.close()


def test_rejected_send_is_retried_and_counted_on_apache_kafka(
        apache_kafka: ApacheKafka, stack_for: Any, figures: dict[str, Any]) -> None:
    stack: Stack = stack_for(apache_kafka)
    # Every enriched record is larger than this: the broker rejects it (MESSAGE_TOO_LARGE, not retriable).
    _set_topic_config(apache_kafka.bootstrap, ENRICHED.name, {"max.message.bytes": "200"})
    worker = stack.worker()
    articles = make_articles(5, "poison")
    produce(apache_kafka.bootstrap, keyed(articles))
    failures = wait_metric(worker, SEND_FAILURES, 2, ENRICHED_LABEL, timeout=30)
    figures.update(sent=len(articles), faults=f"{ENRICHED.name} max.message.bytes=200 for the first sends",
                   pipeline_send_failures=int(failures))
    assert worker.process is not None and worker.process.poll() is None, "the worker died on a rejected send"
    assert failures >= 2, (
        f"{SEND_FAILURES}{{{ENRICHED_LABEL}}} stayed {failures}: the pipeline never saw the broker's rejection")
    _set_topic_config(apache_kafka.bootstrap, ENRICHED.name, {"max.message.bytes": "1048588"})
    check_exactly_once(apache_kafka.bootstrap, articles, figures, timeout=60)
    assert worker.process is not None and worker.process.poll() is None


def test_a_rejected_seen_changelog_record_is_counted_and_the_stream_continues_on_apache_kafka(
        apache_kafka: ApacheKafka, stack_for: Any, figures: dict[str, Any]) -> None:
    """The seen table's changelog records are handed to the producer without waiting for the broker (Faust does
    not wait for its own either): one the broker refuses is logged and counted, and costs no output."""
    stack: Stack = stack_for(apache_kafka)
    changelog = f"{stack.settings.app_id}-seen-articles-changelog"
    _set_topic_config(apache_kafka.bootstrap, changelog, {"max.message.bytes": "20"})
    worker = stack.worker()
    articles = make_articles(20, "unseen")
    produce(apache_kafka.bootstrap, keyed(articles))
    failures = wait_metric(worker, SEND_FAILURES, 1, f'topic="{changelog}"', timeout=30)
    figures.update(sent=len(articles), faults=f"{changelog} max.message.bytes=20",
                   changelog_send_failures=int(failures))
    assert failures >= 1
    check_exactly_once(apache_kafka.bootstrap, articles, figures, timeout=60)
    assert worker.process is not None and worker.process.poll() is None, "the worker died on a refused record"
