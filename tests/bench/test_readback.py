"""``make bench``'s latency read-back against Apache Kafka: each pass reads back its own articles only, from where
the raw and enriched topics ended before it was published, and stops once it has them all."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from bench.brokers import latency_topics_end, measure_latency, produce, read_timestamps
from bench.corpus import make_corpus
from pipeline.admin import create_topics
from pipeline.broker import ApacheKafka
from pipeline.demo import DEV_ENV
from pipeline.settings import Settings
from pipeline.topics import ENRICHED, RAW
from tests.integration.conftest import produce_to

pytestmark = pytest.mark.integration


def test_a_pass_reads_back_from_where_the_topics_ended_before_it(apache_kafka: ApacheKafka, tmp_path: Path) -> None:
    broker = apache_kafka
    create_topics(replace(Settings.from_env(DEV_ENV), broker_url=broker.url, data_dir=tmp_path / "data"))
    earlier, latest = make_corpus(40), make_corpus(25, start_index=40)

    def publish(articles: list[dict[str, object]]) -> None:
        produce(broker.bootstrap, articles)  # the raw records, then an enriched one for each, keyed alike
        produce_to([broker.bootstrap], ENRICHED.name, [(str(a["id"]).encode(), b"{}") for a in articles])

    publish(earlier)
    since = latency_topics_end(broker.bootstrap)
    assert sum(offset for tp, offset in since.items() if tp.topic == RAW.name) == len(earlier)
    assert sum(offset for tp, offset in since.items() if tp.topic == ENRICHED.name) == len(earlier)
    publish(latest)

    started = time.monotonic()
    figures = measure_latency(broker.bootstrap, latest, 100.0, since)
    assert time.monotonic() - started < 4.0  # not each topic's 2 s consumer timeout waited out (4 s or more)
    assert figures["latency_rate"] == 100.0 and figures["latency_p99_ms"] >= figures["latency_p50_ms"] >= 0
    # From the offsets taken before the latest pass, an earlier pass's articles are not read again; and what is
    # not there is given up on at the topic's end, not after the whole timeout...
    wanted = {str(a["id"]) for a in earlier[:3] + latest[:2]}
    started = time.monotonic()
    found = read_timestamps(broker.bootstrap, RAW.name, wanted, since, timeout=60.0)
    assert set(found) == {str(a["id"]) for a in latest[:2]}
    assert time.monotonic() - started < 30.0
    # ...and with no offsets every record is, from the first.
    assert set(read_timestamps(broker.bootstrap, RAW.name, wanted, {}, timeout=10.0)) == wanted
