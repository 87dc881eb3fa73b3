"""The bench's side of the broker: which broker to run, a fresh one per measurement, and the reads and writes
every stage makes against it (publishing the corpus, counting records, waiting for a consumer group)."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.partitioner.default import murmur2

from bench.procfs import cpu_seconds
from pipeline.broker import ApacheKafka, assemble_apache_kafka, free_port
from pipeline.demo import DEV_ENV
from pipeline.settings import Settings
from pipeline.topics import ENRICHED, RAW, WINDOW_INPUT

BROKER = "apache-kafka"  # what results.json names as the broker


def require_apache_kafka() -> None:
    """Apache Kafka's jars assembled (``scripts/apache-kafka.sh``, from Maven Central): the bench measures on
    Apache Kafka only, as compose deploys. The embedded Tansu reports a partition's end offset as the base offset
    of its last record batch plus one (see "Guarantees" in the README), and the bench counts records and waits
    for the workers to catch up by end offsets: on Tansu it would count record batches, not records."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"the bench runs on Apache Kafka, which needs Java 17+ and Maven: {', '.join(missing)} "
                         "not found on PATH")
    assembled = assemble_apache_kafka()
    if assembled.returncode != 0:
        raise SystemExit(f"assembling Apache Kafka failed ({assembled.returncode}):\n{assembled.stderr[-2000:]}")


@contextmanager
def a_broker(workdir: Path, name: str) -> Iterator[ApacheKafka]:
    """A fresh Apache Kafka node for one measurement, its files under ``workdir``."""
    kafka = ApacheKafka(workdir / f"kafka-{name}").start()
    try:
        yield kafka
    finally:
        kafka.stop()


def pipeline_settings(broker: Any, workdir: Path, name: str) -> Settings:
    """The workers' settings for measurement ``name``: their own data directory, so that no measurement starts
    from another's local state."""
    base = Settings.from_env({**DEV_ENV, "PIPELINE_LOG_LEVEL": "WARNING"})
    return replace(base, broker_url=broker.url, web_port=free_port(), data_dir=workdir / f"data-{name}")


def produce(bootstrap: str, articles: list[dict[str, Any]], rate: float | None = None) -> None:
    """All at once (a backlog), or paced at ``rate`` per second, with kafka-python. Paced, each is sent at once:
    a raw record's timestamp is taken when it is handed to the producer, so a linger would count as pipeline
    latency."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=0 if rate else 20,
                             batch_size=256 * 1024)
    # The topic's metadata first: the records sent while the producer fetched it would carry timestamps from
    # before the broker could take them, counted as pipeline latency.
    partitions = len(producer.partitions_for(RAW.name))
    started = time.perf_counter()
    for index, article in enumerate(articles):
        if rate:
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        key = article["id"].encode()
        producer.send(RAW.name, key=key, value=json.dumps(article).encode(), partition=raw_partition(key, partitions))
    producer.flush()
    producer.close()


def raw_partition(key: bytes, partitions: int) -> int:
    """The raw partition :func:`produce` sends ``key`` to: murmur2, as Java's and kafka-python's producers (and kcat
    with ``murmur2_random``) place a key, so that the bench can tell an article's partition without reading it."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def paced_publisher() -> str:
    """kcat (librdkafka, C) where it is installed (``make deps``), else kafka-python. The publisher shares this
    machine's cores with the worker and the broker while the latency is measured, and at 430 articles/s
    kafka-python's producer took 0.8-0.9 ms of CPU an article, kcat and the writes to it 0.2 ms: the rest was
    taken from the pipeline, which a deployment's publishers, on other hosts, do not take."""
    return "kcat" if shutil.which("kcat") else "kafka-python"


def produce_paced(bootstrap: str, articles: list[dict[str, Any]], rate: float) -> float:
    """``articles`` at ``rate`` per second, each sent at once (no linger), by ``paced_publisher()``; returns
    the publisher's CPU milliseconds an article."""
    own = cpu_seconds(os.getpid())
    if paced_publisher() != "kcat":
        produce(bootstrap, articles, rate)
        return (cpu_seconds(os.getpid()) - own) * 1000 / len(articles)
    # Key and value separated by a tab: JSON escapes the tabs and newlines inside strings. Keys partitioned as
    # Java's and kafka-python's producers do (murmur2), not librdkafka's default CRC32 hash.
    process = subprocess.Popen(["kcat", "-P", "-b", bootstrap, "-t", RAW.name, "-K", "\t", "-X", "linger.ms=0",
                                "-X", "acks=1", "-X", "partitioner=murmur2_random"], stdin=subprocess.PIPE)
    assert process.stdin is not None
    # librdkafka connects and fetches the topic's metadata as kcat starts: a record handed over before that would
    # carry a timestamp from before the broker could take it, counted as pipeline latency.
    time.sleep(1.0)
    started = time.perf_counter()
    try:
        for index, article in enumerate(articles):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            process.stdin.write(article["id"].encode() + b"\t" + json.dumps(article).encode() + b"\n")
            process.stdin.flush()
    finally:
        process.stdin.close()  # kcat delivers what it holds and exits
    os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: its CPU time is still readable
    kcat_cpu = cpu_seconds(process.pid)
    if process.wait() != 0:
        raise RuntimeError(f"kcat exited with {process.returncode} publishing the latency articles")
    return (kcat_cpu + cpu_seconds(os.getpid()) - own) * 1000 / len(articles)


def partitions_of(consumer: KafkaConsumer, *topics: str) -> list[TopicPartition]:
    """Every partition of ``topics`` as ``consumer``'s metadata knows them (none for a topic it does not know)."""
    return [TopicPartition(topic, p) for topic in topics for p in consumer.partitions_for_topic(topic) or ()]


def topic_count(bootstrap: str, topic: str, consumer: KafkaConsumer | None = None) -> int:
    """Records in ``topic`` (the sum of its end offsets); pass a consumer to poll without reconnecting."""
    client = consumer or KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        return int(sum(client.end_offsets(partitions_of(client, topic)).values()))
    finally:
        if consumer is None:
            client.close()


def wait_caught_up(bootstrap: str, group: str, timeout: float = 60.0) -> None:
    """Wait until ``group`` has committed every record of both stages' inputs (the raw topic and the window
    input): the workers have nothing left to do."""
    topics = (RAW.name, WINDOW_INPUT.name)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    deadline = time.monotonic() + timeout
    try:
        partitions = partitions_of(consumer, *topics)
        if not partitions:  # no metadata: "all of nothing committed" would pass at once
            raise RuntimeError(f"no partitions found for {', '.join(topics)}")
        while time.monotonic() < deadline:
            committed = admin.list_group_offsets({group: partitions})[group]
            ends = consumer.end_offsets(partitions)
            if all(tp in committed and committed[tp].offset >= end for tp, end in ends.items()):
                return
            time.sleep(0.25)
    finally:
        consumer.close()
        admin.close()
    raise TimeoutError(f"group {group} still behind its input after {timeout:.0f}s")


def latency_topics_end(bootstrap: str) -> dict[TopicPartition, int]:
    """The raw and enriched topics' end offsets: where :func:`measure_latency` reads the articles published next
    from, not the whole topics again (by a round's last pass, 17,000 raw records read for 5,000)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        return dict(consumer.end_offsets(partitions_of(consumer, RAW.name, ENRICHED.name)))
    finally:
        consumer.close()


def measure_latency(bootstrap: str, articles: list[dict[str, Any]], rate: float,
                    since: Mapping[TopicPartition, int] | None = None) -> dict[str, float]:
    """Compare each enriched record's broker timestamp with its raw one (``articles`` produced at ``rate``), both
    read from ``since`` (:func:`latency_topics_end` before they were published) or else from the beginning."""
    wanted = {a["id"] for a in articles}
    raw_ts = read_timestamps(bootstrap, RAW.name, wanted, since or {})
    enriched_ts = read_timestamps(bootstrap, ENRICHED.name, wanted, since or {})
    latencies = sorted(enriched_ts[k] - raw_ts[k] for k in wanted if k in raw_ts and k in enriched_ts)
    if len(latencies) < len(wanted) * 0.99:
        raise RuntimeError(f"latency: only {len(latencies)} of {len(wanted)} articles came through")
    return {"latency_rate": round(rate, 1), "latency_p50_ms": round(statistics.median(latencies), 1),
            "latency_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1)}


def read_timestamps(bootstrap: str, topic: str, wanted: set[str], since: Mapping[TopicPartition, int],
                    timeout: float = 120) -> dict[str, int]:
    """The broker timestamp of each ``wanted`` key's first record in ``topic``, read from ``since`` (else from the
    first offset) up to where the topic ends as the read begins: a key not found by then is not there (the caller
    waited for the workers to catch up), and :func:`measure_latency` tolerates 1% missing without waiting
    ``timeout`` out."""
    found: dict[str, int] = {}
    records = read_to_end(bootstrap, topic, since, timeout)
    try:
        for record in records:
            key = record.key.decode()
            if key in wanted:
                found.setdefault(key, record.timestamp)
                if len(found) == len(wanted):
                    break  # not reading on to the end
    except TimeoutError:
        pass  # what was found in time: measure_latency decides whether it is enough
    finally:
        records.close()
    return found


def read_to_end(bootstrap: str, topic: str, since: Mapping[TopicPartition, int], timeout: float = 120.0
                ) -> Generator[Any, None, None]:
    """``topic``'s records from ``since`` (else from each partition's first offset) up to where the topic ended
    as the read began: stops there, not after the consumer's 2 s timeout (twice a latency pass); TimeoutError if
    it cannot get there within ``timeout``."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                             consumer_timeout_ms=2000)
    deadline = time.monotonic() + timeout
    try:
        partitions = partitions_of(consumer, topic)
        if not partitions:
            raise RuntimeError(f"no partitions found for {topic}")
        consumer.assign(partitions)
        for tp in partitions:
            if tp in since:
                consumer.seek(tp, since[tp])
        ends = consumer.end_offsets(partitions)
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: not read to its end within {timeout:.0f}s")
            for record in consumer:
                if record.offset < ends[TopicPartition(record.topic, record.partition)]:
                    yield record
                if all(consumer.position(tp) >= end for tp, end in ends.items()):
                    break
    finally:
        consumer.close()
