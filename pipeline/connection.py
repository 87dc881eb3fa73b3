"""How every Kafka client of the pipeline connects: security protocol, SASL credentials, TLS.

The worker (Faust over aiokafka) and the kafka-python clients (``ingest``, ``topics``, ``replay``,
``export-metrics``) read the same ``PIPELINE_KAFKA_*`` settings through this module, so a secured broker
needs the settings once. The password leaves its :class:`~pipeline.settings.Secret` only here, at the
call that hands it to a client.
"""

from __future__ import annotations

import ssl
from typing import Any

from pipeline.settings import Settings


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A verifying TLS context for ``SSL`` / ``SASL_SSL`` (the CA file, else the system CAs), else None."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    context = ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH, cafile=cafile)
    if settings.kafka_ssl_certfile is not None and settings.kafka_ssl_keyfile is not None:
        context.load_cert_chain(str(settings.kafka_ssl_certfile), str(settings.kafka_ssl_keyfile))
    return context


def faust_credentials(settings: Settings) -> Any:
    """``broker_credentials`` for ``faust.App``: None for plaintext (Faust's default)."""
    import faust

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    # SASLCredentials picks SASL_SSL when given a context, SASL_PLAINTEXT otherwise.
    return faust.SASLCredentials(username=settings.kafka_sasl_username,
                                 password=settings.kafka_sasl_password.reveal(),
                                 mechanism=settings.kafka_sasl_mechanism, ssl_context=context)


def kafka_python_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer and KafkaAdminClient."""
    options: dict[str, Any] = {"bootstrap_servers": settings.bootstrap_servers,
                               "security_protocol": settings.kafka_security_protocol}
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL_"):
        options.update(sasl_mechanism=settings.kafka_sasl_mechanism,
                       sasl_plain_username=settings.kafka_sasl_username,
                       sasl_plain_password=settings.kafka_sasl_password.reveal())
    return options


def error_text(exc: BaseException) -> str:
    """``<type>: <message>``, the type once: kafka-python's errors already start their message with it."""
    name, text = type(exc).__name__, str(exc)
    return text if text.startswith(name) else f"{name}: {text}"
