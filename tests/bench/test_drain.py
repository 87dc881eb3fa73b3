"""``make bench``'s drain timing against Apache Kafka: a drain ends at its last record's timestamp, not at the
poll that saw it, which came up to a poll interval (0.25 s) later; and the sustained rate of a group is timed to
the moment its first member ran dry."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from bench.brokers import raw_partition
from bench.drain import Drain, drain, last_record_time, sustained
from pipeline.broker import ApacheKafka

pytestmark = pytest.mark.integration

TOPIC, SOURCE, GROUP = "drained", "source", "workers"


@pytest.fixture
def producer(apache_kafka: ApacheKafka) -> Iterator[KafkaProducer]:
    admin = KafkaAdminClient(bootstrap_servers=apache_kafka.bootstrap)
    kept = {"retention.ms": "-1"}  # records stamped in 2023 must not be deleted by a retention check mid-test
    admin.create_topics([NewTopic(TOPIC, 3, 1, topic_configs=kept), NewTopic(SOURCE, 4, 1, topic_configs=kept)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=apache_kafka.bootstrap, acks="all")
    yield producer
    producer.close()


def test_a_drain_ends_at_its_last_record_not_at_the_poll_that_saw_it(apache_kafka: ApacheKafka,
                                                                      producer: KafkaProducer) -> None:
    consumer = KafkaConsumer(bootstrap_servers=apache_kafka.bootstrap)
    try:
        assert last_record_time(consumer, TOPIC) is None  # nothing to read: the caller keeps its poll's time

        # The latest timestamp of the partitions' last records, wherever it is: here the middle partition's.
        base = 1_700_000_000_000
        for partition, stamps in enumerate(([base + 5, base + 1], [base + 2, base + 9_000], [base + 7])):
            for stamp in stamps:
                producer.send(TOPIC, b"x", partition=partition, timestamp_ms=stamp)
        producer.flush()
        assert last_record_time(consumer, TOPIC) == (base + 9_000) / 1000
        with pytest.raises(RuntimeError, match="over before its first poll"):  # nothing left to time
            drain(apache_kafka.bootstrap, TOPIC, total=5, timeout=10.0, already=5)
    finally:
        consumer.close()

    # A drain whose last 50 records come 1.5 s after its first poll: timed to their timestamp. The poll that saw
    # them came later by up to its interval; timed to it, the rate would be lower.
    sent: list[float] = []

    def last_records() -> None:
        time.sleep(1.5)
        futures = [producer.send(TOPIC, b"y", partition=i % 3) for i in range(50)]
        producer.flush()
        sent.append(max(future.get(timeout=30).timestamp for future in futures) / 1000)

    late = threading.Thread(target=last_records)
    started = time.time()
    late.start()
    drained = drain(apache_kafka.bootstrap, TOPIC, total=55, timeout=30.0)
    late.join()
    # The drain started at its first poll, just after ``started``: 50 records between then and the last.
    assert drained.articles == 50 and drained.ended == sent[0]
    assert 50 / (sent[0] - started) <= drained.rate <= 50 / (sent[0] - started - 0.8)


def test_the_sustained_rate_is_timed_to_the_first_member_running_dry(apache_kafka: ApacheKafka,
                                                                     producer: KafkaProducer) -> None:
    # Two members of a group share the source's four partitions (two each, by the range assignor), each polling
    # in a thread of its own: one thread polling both would block in one's join while the other must rejoin.
    owned: dict[int, list[int]] = {}
    stop = threading.Event()

    def member(index: int) -> None:
        consumer = KafkaConsumer(SOURCE, bootstrap_servers=apache_kafka.bootstrap, group_id=GROUP,
                                 auto_offset_reset="earliest", enable_auto_commit=False)
        try:
            while not stop.is_set():
                consumer.poll(timeout_ms=100)
                owned[index] = sorted(tp.partition for tp in consumer.assignment())
        finally:
            consumer.close()

    members = [threading.Thread(target=member, args=(index,)) for index in range(2)]
    for thread in members:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while sorted(owned.values()) != [[0, 1], [2, 3]] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sorted(owned.values()) == [[0, 1], [2, 3]]

        # Each source record's output carries its key, ten keys a partition, placed as the bench's producer places
        # them; one member's outputs end 1 s after the drain started, the other's 2 s after, so the sustained rate
        # counts the records up to 1 s, over 1 s.
        keys: dict[int, list[bytes]] = {partition: [] for partition in range(4)}
        for key in (f"article-{n}".encode() for n in range(1000)):
            if len(keys[raw_partition(key, 4)]) < 10:
                keys[raw_partition(key, 4)].append(key)
        started = 1_700_000_000.0
        ends_at = {partition: 1.0 if partition in owned[0] else 2.0 for partition in range(4)}
        expected = 0
        for partition in range(4):
            for index, key in enumerate(keys[partition]):
                producer.send(SOURCE, key=key, value=b"{}", partition=partition)
                offset = ends_at[partition] * (index + 1) / 10
                producer.send(TOPIC, key=key, value=b"{}", timestamp_ms=int((started + offset) * 1000))
                expected += offset <= 1.0
        # Stamped before the drain, though written after its records: left out
        producer.send(TOPIC, key=keys[0][0], value=b"{}", timestamp_ms=int((started - 5) * 1000))
        producer.flush()
        drained = Drain(TOPIC, started, started + 2.0, 40)
        busy = sustained(apache_kafka.bootstrap, GROUP, SOURCE, drained)
        assert busy.rate == pytest.approx(expected / 1.0) and expected == 20 + 10
        assert busy.busy_share == 0.5 and not busy.whole
        assert drained.rate == 20.0

        # Every worker busy for too short a share of the drain to time, or no stable group: the whole drain's rate.
        longer = Drain(TOPIC, started, started + 4.0, 40)
        short = sustained(apache_kafka.bootstrap, GROUP, SOURCE, longer)
        assert (short.rate, short.busy_share) == (10.0, 0.25) and "only 25%" in short.whole
        nobody = sustained(apache_kafka.bootstrap, "no-such-group", SOURCE, drained)
        assert nobody.rate == drained.rate and nobody.whole
    finally:
        stop.set()
        for thread in members:
            thread.join(timeout=30)
