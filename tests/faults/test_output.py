"""Output faults on Apache Kafka: exactly_once processing through a worker crash, and a send the broker
rejects (the record must be retried and counted, never dropped)."""

from __future__ import annotations

from typing import Any

import pytest
from faust.types.settings import Settings as FaustSettings
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from pipeline.broker import ApacheKafka
from pipeline.topics import ENRICHED
from tests.faults.conftest import Stack
from tests.faults.harness import (
    check_exactly_once,
    chunks,
    feed_until_shared,
    keyed,
    make_articles,
    produce,
    wait_metric,
)

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


def test_exactly_once_two_workers_then_the_first_sigkilled_on_apache_kafka(
        apache_kafka: ApacheKafka, stack_for: Any, figures: dict[str, Any]) -> None:
    """Two workers under exactly_once: each has a transactional producer per input partition it owns; the owner
    of the window input sends the signals in that partition's transactions, and both send ticks outside any. The
    second joins while the first is busy (transactions move with the partitions, and the second restores the
    seen entries of those it takes over), then the first is SIGKILLed mid-stream: its open transactions are
    aborted when the survivor takes its partitions over, and the survivor keeps the ones it restored. Every
    window counts each article once, and the enriched topic, read committed, holds each id once. In a first form
    of this test (the window owner killed, after a backlog) the survivor crashed on its recovery in 2 runs of 11
    (``ConsistencyError``; pipeline/consumerthread.py). Whether it does depends on what each worker restored
    before: this test does not provoke it every time (with that fix undone it passed 5 of 5 once the commit
    before a revoke, pipeline/commits.py, was in), so tests/unit/test_commits.py checks where the highwaters
    come from."""
    stack: Stack = stack_for(apache_kafka, processing_guarantee="exactly_once")
    articles = make_articles(400, "eos-pair")
    batches = chunks(articles, 20)
    first, second = stack.worker(), stack.worker()
    sent, owner = feed_until_shared(apache_kafka.bootstrap, [first, second], batches, len(batches) // 2)
    produce(apache_kafka.bootstrap, keyed(batches[sent]))
    first.kill()
    for batch in batches[sent + 1:]:
        produce(apache_kafka.bootstrap, keyed(batch))
    figures.update(sent=len(articles), faults="SIGKILL the first of two workers, exactly_once",
                   killed_after_batches=sent + 1, killed_owned_the_window_stage=owner[0])
    check_exactly_once(apache_kafka.bootstrap, articles, figures, isolation_level="read_committed",
                       enriched_exactly_once=True)
    assert second.process is not None and second.process.poll() is None


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
    failures = wait_metric(worker, SEND_FAILURES, 2, ENRICHED_LABEL, timeout=90)
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
    # The whole config is replaced (alter_configs is not incremental): the changelog stays compacted.
    _set_topic_config(apache_kafka.bootstrap, changelog, {"max.message.bytes": "20", "cleanup.policy": "compact"})
    worker = stack.worker()
    articles = make_articles(20, "unseen")
    produce(apache_kafka.bootstrap, keyed(articles))
    failures = wait_metric(worker, SEND_FAILURES, 1, f'topic="{changelog}"', timeout=90)
    figures.update(sent=len(articles), faults=f"{changelog} max.message.bytes=20",
                   changelog_send_failures=int(failures))
    assert failures >= 1
    check_exactly_once(apache_kafka.bootstrap, articles, figures, timeout=60)
    assert worker.process is not None and worker.process.poll() is None, "the worker died on a refused record"


def test_a_backlog_under_exactly_once_logs_the_producer_buffer_only_at_debug_on_apache_kafka(
        apache_kafka: ApacheKafka, stack_for: Any, figures: dict[str, Any]) -> None:
    """A worker that starts on a backlog takes batches of ``batch_max_events``, each writing as many seen-table
    entries at once. Under exactly_once they take Faust's path, its producer buffer (under at_least_once the
    enrich stage hands them to the producer itself, pipeline/seentable.py): above 100 queued Faust holds the
    stream and logs "producer buffer full" and "producer flush took", every batch while a backlog drains. The
    worker logs both at DEBUG, not as warnings (app.RoutineBackpressure). It runs at DEBUG here, so that the
    messages must appear: a backlog that never filled the buffer fails here, not passes.

    Faust looks at the buffer only as it hands a fetched record to the stream. A backlog that fits the stream's
    buffer (``stream_buffer_maxsize``, 4,096) can be handed over whole before the first batch writes anything,
    and then nothing looks: 3,000 articles gave no message in one CI run (40-55 in three runs here). This backlog
    overfills it by 15 batches, so that thousands of records are handed over while batches write."""
    stack: Stack = stack_for(apache_kafka, processing_guarantee="exactly_once", log_level="DEBUG")
    backlog = FaustSettings("probe").stream_buffer_maxsize + 15 * stack.settings.batch_max_events
    articles = make_articles(backlog, "backlog")
    produce(apache_kafka.bootstrap, keyed(articles))
    worker = stack.worker()
    assert wait_metric(worker, "pipeline_articles_valid_total", len(articles), timeout=180) == len(articles)
    assert worker.log_path is not None
    routine = [line for line in worker.log_path.read_text(errors="replace").splitlines()
               if "producer buffer full" in line or "producer flush took" in line]
    figures.update(sent=len(articles), faults="a backlog under exactly_once, worker at DEBUG",
                   producer_buffer_messages=len(routine))
    assert {"producer buffer full", "producer flush took"} <= {" ".join(line.split()[4:7]) for line in routine}
    assert [line for line in routine if "[DEBUG]" not in line] == []
