"""The Faust application factory: ``create_app(settings) -> faust.App``; module-level ``app`` for the CLI."""

from __future__ import annotations

import logging
from datetime import timedelta

import faust
from faust.sensors.prometheus import setup_prometheus_sensors
from prometheus_client import CollectorRegistry

from pipeline.agents import Channels, Pipeline
from pipeline.analysis import Analyzer, build
from pipeline.analysis.evidence import KINDS
from pipeline.batching import BatchingStream
from pipeline.connection import faust_credentials
from pipeline.consumer import RebalanceSafeConsumer
from pipeline.metrics import PipelineMetrics
from pipeline.settings import Settings
from pipeline.stallwatch import install as install_stall_watch
from pipeline.topics import DLQ, ENRICHED, MAX_RECORD_BYTES, RAW, SIGNALS, WINDOW_INPUT, TopicSpec

log = logging.getLogger(__name__)


class RoutineBackpressure(logging.Filter):
    """Faust's producer-buffer messages, demoted to DEBUG: a table write queues its changelog record in Faust's
    producer buffer, and an enrich batch writes one seen entry per article at once. Above 100 queued, Faust
    holds the stream until 100 are handed to the producer and logs ``producer buffer full`` (WARNING) and
    ``producer flush took`` (INFO): every batch while draining a backlog (4,747 warnings in a million-article
    soak), which buried the warnings that mean something. The hold itself stays: with room for two batches
    instead, the enrich stage ran ahead and the worker's resident set rose by 12-120 MB (two soaks)."""

    MESSAGES = ("producer buffer full", "producer flush took")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith(self.MESSAGES):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


_ROUTINE_BACKPRESSURE = RoutineBackpressure()


def create_app(settings: Settings | None = None, registry: CollectorRegistry | None = None,
               analyzer: Analyzer | None = None) -> faust.App:
    settings = settings or Settings.from_env()
    registry = registry if registry is not None else CollectorRegistry()
    analyzer = analyzer or Analyzer()
    app = faust.App(
        settings.app_id,
        broker=settings.broker_url,
        broker_credentials=faust_credentials(settings),
        store="memory://",
        datadir=str(settings.data_dir),
        autodiscover=False,
        web_enabled=True,
        web_bind=settings.web_bind,
        web_host=settings.web_bind,
        web_port=settings.web_port,
        broker_rebalance_timeout=settings.rebalance_timeout_seconds,
        broker_session_timeout=max(settings.rebalance_timeout_seconds, 10.0),
        broker_heartbeat_interval=min(3.0, settings.rebalance_timeout_seconds / 3),
        processing_guarantee=settings.processing_guarantee,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        consumer_auto_offset_reset="earliest",
        # A daily window's changelog value can pass the default 1,000,000 bytes (see topics.MAX_RECORD_BYTES):
        # over the limit the producer refused it and the worker crashed.
        producer_max_request_size=MAX_RECORD_BYTES + 64 * 1024,
        table_cleanup_interval=timedelta(seconds=30),
        # No standby copies (Faust's default keeps one of each table partition on another worker). With memory
        # stores they would spare nothing: a takeover replays the changelog from its start anyway (a memory store
        # keeps no offset), and each store drops the partitions it does not own at the end of every recovery.
        # Following the other's changelogs cost two draining workers a fifth to a third more CPU an article.
        table_standby_replicas=0,
        # Faust would read some 80 variables of its own (BROKER_URL, TABLE_STANDBY_REPLICAS, ...) over these
        # arguments: only Settings reads the environment.
        env={},
        logging_config=None,
        Stream=BatchingStream,  # batches without a timer spinning while idle (pipeline/batching.py)
        # /metrics takes no body: anything larger than this is refused with 413 before it is read.
        web_application_options={"client_max_size": settings.web_max_body_bytes},
    )
    # Before anything asks for the consumer: a rebalance must not skip input (see pipeline/consumer.py).
    app.transport.Consumer = RebalanceSafeConsumer  # type: ignore[misc]  # this app's transport only
    setup_prometheus_sensors(app, registry=registry, name_prefix="faust")

    def topic(spec: TopicSpec, serializer: str) -> faust.TopicT:
        # internal=False: Faust never creates or alters these; `pipeline topics create` does.
        return app.topic(spec.name, partitions=spec.partition_count(settings), key_serializer="raw",
                         value_serializer=serializer, internal=False)

    channels = Channels(
        raw=topic(RAW, "raw"),
        enriched=topic(ENRICHED, "json"),
        signals=topic(SIGNALS, "json"),
        dlq=topic(DLQ, "json"),
        window_input=topic(WINDOW_INPUT, "json"),
    )
    metrics = PipelineMetrics.create(registry, frozenset(analyzer.registry.codes), frozenset(KINDS))
    app.pipeline = Pipeline(app, settings, channels, metrics, analyzer)  # type: ignore[attr-defined]
    app.prometheus_registry = registry  # type: ignore[attr-defined]
    install_stall_watch(app, settings.stall_exit_seconds)

    async def log_analysis_build() -> None:  # a task runs once logging is set up, at worker start
        log.info("analyzer %s, %s", analyzer.version, build())

    app.task(log_analysis_build)

    logging.getLogger("faust.transport.producer").addFilter(_ROUTINE_BACKPRESSURE)  # once: the same instance

    return app


app = create_app()


def main() -> None:
    """Run the worker for the module-level app (``python -m pipeline.app``)."""
    from pipeline.cli import run_worker

    run_worker(app)


if __name__ == "__main__":
    main()
