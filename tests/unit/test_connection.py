"""The PIPELINE_KAFKA_* settings become the same connection for Faust (aiokafka) and kafka-python clients."""

from __future__ import annotations

import ssl

import faust
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from kafka.errors import KafkaTimeoutError

from pipeline.app import create_app
from pipeline.connection import error_text, faust_credentials, kafka_python_options, ssl_context
from pipeline.settings import Settings

SASL = {"PIPELINE_BROKER_URL": "kafka://b1:9093,kafka://b2:9093", "PIPELINE_KAFKA_SASL_USERNAME": "svc",
        "PIPELINE_KAFKA_SASL_PASSWORD": "hunter2", "PIPELINE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256"}


def test_plaintext_by_default() -> None:
    settings = Settings.from_env({})
    assert faust_credentials(settings) is None and ssl_context(settings) is None
    assert kafka_python_options(settings) == {"bootstrap_servers": ["127.0.0.1:9092"],
                                              "security_protocol": "PLAINTEXT"}


def test_sasl_plaintext_reaches_both_client_libraries() -> None:
    settings = Settings.from_env({**SASL, "PIPELINE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"})
    options = kafka_python_options(settings)
    assert options == {"bootstrap_servers": ["b1:9093", "b2:9093"], "security_protocol": "SASL_PLAINTEXT",
                       "sasl_mechanism": "SCRAM-SHA-256", "sasl_plain_username": "svc",
                       "sasl_plain_password": "hunter2"}
    aiokafka = credentials_to_aiokafka_auth(faust_credentials(settings))
    assert aiokafka["security_protocol"] == "SASL_PLAINTEXT" and aiokafka["sasl_mechanism"] == "SCRAM-SHA-256"
    assert (aiokafka["sasl_plain_username"], aiokafka["sasl_plain_password"]) == ("svc", "hunter2")
    assert "hunter2" not in repr(faust_credentials(settings))


def test_sasl_ssl_verifies_the_broker() -> None:
    settings = Settings.from_env({**SASL, "PIPELINE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
    aiokafka = credentials_to_aiokafka_auth(faust_credentials(settings))
    assert aiokafka["security_protocol"] == "SASL_SSL"
    context = aiokafka["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert isinstance(kafka_python_options(settings)["ssl_context"], ssl.SSLContext)


def test_ssl_without_sasl() -> None:
    settings = Settings.from_env({"PIPELINE_KAFKA_SECURITY_PROTOCOL": "SSL"})
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials_to_aiokafka_auth(credentials)["security_protocol"] == "SSL"
    assert "sasl_mechanism" not in kafka_python_options(settings)


def test_the_app_carries_the_credentials_and_a_body_limit() -> None:
    settings = Settings.from_env({**SASL, "PIPELINE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                                  "PIPELINE_WEB_MAX_BODY_BYTES": "1024"})
    app = create_app(settings)
    assert isinstance(app.conf.broker_credentials, faust.SASLCredentials)
    assert app.conf.web_application_options == {"client_max_size": 1024}


def test_both_client_libraries_build_records_in_native_code() -> None:
    # Pure-Python fallbacks exist for both and fail nothing, only slow: kafka-python's CRC-32C takes 0.4 ms
    # for a 3.4 KB article without the crc32c package (`pipeline ingest` ran 3x slower); aiokafka, the
    # worker's client, builds and reads record batches in its C extension.
    import crc32c
    from aiokafka.util import NO_EXTENSIONS
    from kafka.record import util

    assert util.calc_crc32c.__defaults__ == (crc32c.crc32c,)
    assert not NO_EXTENSIONS


def test_an_error_is_named_once() -> None:
    assert error_text(KafkaTimeoutError("Unable to bootstrap")) == "KafkaTimeoutError: Unable to bootstrap"
    assert error_text(ValueError("bad")) == "ValueError: bad"
