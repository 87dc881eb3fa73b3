"""``make bench`` times a drain only once the lead-in is enriched (bench/drain.py ``wait_all_processing``), against
Apache Kafka: the enriched topic's count is the broker's."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest

from bench.drain import wait_all_processing
from pipeline.admin import create_topics
from pipeline.broker import ApacheKafka
from pipeline.demo import DEV_ENV, WorkerProcess
from pipeline.settings import Settings
from pipeline.topics import ENRICHED
from tests.integration.conftest import produce_to

pytestmark = pytest.mark.integration


class Receiving:
    """A worker's metrics as the bench reads them: it has received articles (the enriched records come from the
    test, so that their count is the test's to set)."""

    def scrape(self) -> str:
        return "pipeline_articles_received_total 1.0\n"


def enrich(bootstrap: str, first: int, count: int) -> None:
    produce_to([bootstrap], ENRICHED.name, [(f"a{i}".encode(), b"{}") for i in range(first, first + count)])


def test_the_drain_is_timed_only_once_the_lead_in_is_enriched(apache_kafka: ApacheKafka, tmp_path: Path) -> None:
    bootstrap = apache_kafka.bootstrap
    create_topics(replace(Settings.from_env(DEV_ENV), broker_url=apache_kafka.url, data_dir=tmp_path / "data"))
    group = cast(list[WorkerProcess], [Receiving()])
    enrich(bootstrap, 0, 30)
    assert wait_all_processing(bootstrap, group) == 30  # no lead-in: at once
    later = threading.Timer(1.5, enrich, (bootstrap, 30, 20))
    started = time.monotonic()
    later.start()
    try:
        assert wait_all_processing(bootstrap, group, at_least=50) == 50
    finally:
        later.join()
    assert time.monotonic() - started >= 1.5
    with pytest.raises(TimeoutError, match="fewer than 60 were enriched"):
        wait_all_processing(bootstrap, group, at_least=60, timeout=1.0)
