"""``make bench``'s drain rate against Apache Kafka: a drain ends at its last record's timestamp, not at the poll
that saw it, which came up to a poll interval (0.25 s) later: 8% of a two-worker drain."""

from __future__ import annotations

import threading
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from bench.brokers import drain_rate, last_record_time
from pipeline.broker import ApacheKafka

pytestmark = pytest.mark.integration

TOPIC = "drained"


def test_a_drain_ends_at_its_last_record_not_at_the_poll_that_saw_it(apache_kafka: ApacheKafka) -> None:
    bootstrap = apache_kafka.bootstrap
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(TOPIC, 3, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        assert last_record_time(consumer, TOPIC) is None  # nothing to read: the caller keeps its poll's time

        # The latest timestamp of the partitions' last records, wherever it is: here the middle partition's.
        base = 1_700_000_000_000
        for partition, stamps in enumerate(([base + 5, base + 1], [base + 2, base + 9_000], [base + 7])):
            for stamp in stamps:
                producer.send(TOPIC, b"x", partition=partition, timestamp_ms=stamp)
        producer.flush()
        assert last_record_time(consumer, TOPIC) == (base + 9_000) / 1000

        # A drain whose last 50 records come 1 s after its first poll: timed to their timestamp. The poll that
        # saw them came later by up to its interval; timed to it, the rate would be lower.
        sent: list[float] = []

        def last_records() -> None:
            time.sleep(1.0)
            futures = [producer.send(TOPIC, b"y", partition=i % 3) for i in range(50)]
            producer.flush()
            sent.append(max(future.get(timeout=30).timestamp for future in futures) / 1000)

        late = threading.Thread(target=last_records)
        started = time.time()
        late.start()
        rate = drain_rate(bootstrap, TOPIC, total=55, timeout=30.0)
        late.join()
        # The drain started at its first poll, just after ``started``: 50 records between then and the last.
        assert 50 / (sent[0] - started) <= rate <= 50 / (sent[0] - started - 0.4)
    finally:
        consumer.close()
        producer.close()
