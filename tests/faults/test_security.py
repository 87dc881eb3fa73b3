"""SASL/SCRAM on Apache Kafka: the worker, ingest and topic admin connect with the PIPELINE_KAFKA_* settings,
wrong credentials are refused with a clear error, and the password shows in no log or printed setting."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer

from pipeline.broker import ApacheKafka
from pipeline.cli import ingest
from pipeline.connection import kafka_python_options
from pipeline.settings import Settings
from pipeline.topics import ENRICHED
from tests.faults.conftest import Stack
from tests.faults.harness import make_articles, wait_metric

pytestmark = pytest.mark.integration
USER, PASSWORD = "pipeline", "scram-Pa55word-for-tests"


@pytest.fixture
def sasl_kafka(kafka_assembled: None, tmp_path: Path) -> Iterator[ApacheKafka]:
    options = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
               "sasl_plain_username": USER, "sasl_plain_password": PASSWORD}
    broker = ApacheKafka(tmp_path / "kafka", scram_users={USER: PASSWORD}, client_options=options)
    try:
        yield broker.start()
    finally:
        broker.stop()


def sasl_env(broker: ApacheKafka, password: str = PASSWORD) -> dict[str, str]:
    return {"PIPELINE_BROKER_URL": broker.url, "PIPELINE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "PIPELINE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "PIPELINE_KAFKA_SASL_USERNAME": USER,
            "PIPELINE_KAFKA_SASL_PASSWORD": password}


def test_worker_ingest_and_admin_over_sasl_scram(sasl_kafka: ApacheKafka, stack_for: Any, tmp_path: Path,
                                                 figures: dict[str, Any]) -> None:
    secured = Settings.from_env(sasl_env(sasl_kafka))
    stack: Stack = stack_for(sasl_kafka, **{k: getattr(secured, k) for k in (
        "kafka_security_protocol", "kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password")})
    assert PASSWORD not in repr(stack.settings) and "***" in repr(stack.settings)
    worker = stack.worker()
    articles = make_articles(20, "sasl")
    path = tmp_path / "articles.jsonl"
    path.write_text("".join(json.dumps(a) + "\n" for a in articles), encoding="utf-8")
    summary = ingest(str(path), stack.settings)
    assert summary["sent"] == len(articles) and not summary["failed"]
    assert wait_metric(worker, "pipeline_articles_valid_total", len(articles)) == len(articles)

    consumer = KafkaConsumer(ENRICHED.name, **kafka_python_options(stack.settings), group_id=None,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    try:
        ids = {message.key.decode() for message in consumer}
    finally:
        consumer.close()
    assert ids == {a["id"] for a in articles}
    worker.stop()
    logs = "".join(p.read_text(errors="replace") for p in Path(stack.workdir).glob("worker-*.log"))
    assert logs and PASSWORD not in logs, "the SASL password appeared in a worker log"
    figures.update(sent=len(articles), enriched=len(ids), faults="none (SASL/SCRAM-SHA-512 listener)")


def test_a_wrong_password_and_a_plaintext_client_are_refused_with_a_clear_error(sasl_kafka: ApacheKafka) -> None:
    """Both wait out kafka-python's 30 s bootstrap timeout (Kafka drops the connection after a bad SCRAM proof,
    and a plaintext request on the SASL listener, with no reply kafka-python reports), so they run side by side."""
    wrong = "not-the-password"

    def topics_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pipeline.cli", "topics", "check"], env=env, capture_output=True,
                              text=True, timeout=180)

    with ThreadPoolExecutor(2) as pool:
        wrong_password, plaintext_client = pool.map(topics_check, [
            {**sasl_env(sasl_kafka, wrong), "PATH": "/usr/bin:/bin"},
            {"PIPELINE_BROKER_URL": sasl_kafka.url, "PATH": "/usr/bin:/bin"}])
    for done in (wrong_password, plaintext_client):
        assert done.returncode == 3, done.stderr[-2000:]
        assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert f"broker {sasl_kafka.url} (SASL_PLAINTEXT) failed" in wrong_password.stderr
    assert wrong not in wrong_password.stderr + wrong_password.stdout
    assert f"broker {sasl_kafka.url} (PLAINTEXT) failed" in plaintext_client.stderr
