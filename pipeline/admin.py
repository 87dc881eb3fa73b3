"""Create and verify the declared topics on a broker (kafka-python admin client)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from pipeline.connection import kafka_python_options
from pipeline.settings import Settings
from pipeline.topics import TopicSpec, declared_topics

TOPIC_METADATA_WAIT_SECONDS = 15.0


class TopicMismatchError(RuntimeError):
    """A topic exists on the broker with a partition count the pipeline cannot run with."""


@dataclass(frozen=True)
class TopicStatus:
    name: str
    expected_partitions: int
    actual_partitions: int | None  # None: missing
    setting: str | None = None  # the variable that sets expected_partitions (None: fixed)

    @property
    def ok(self) -> bool:
        return self.actual_partitions == self.expected_partitions


def _admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(**kafka_python_options(settings), client_id=f"{settings.app_id}-admin",
                            request_timeout_ms=15000)


def describe(settings: Settings, specs: tuple[TopicSpec, ...] | None = None) -> list[TopicStatus]:
    specs = specs or declared_topics(settings)
    admin = _admin(settings)
    try:
        existing = set(admin.list_topics())
        present = [s.name for s in specs if s.name in existing]
        counts = {d["name"]: len(d["partitions"]) for d in admin.describe_topics(present)} if present else {}
    finally:
        admin.close()
    return [TopicStatus(s.name, s.partition_count(settings), counts.get(s.name), s.partition_setting) for s in specs]


def create_topics(settings: Settings, specs: tuple[TopicSpec, ...] | None = None) -> list[str]:
    """Create missing topics (idempotent); returns the names created."""
    specs = specs or declared_topics(settings)
    missing = [s for s, status in zip(specs, describe(settings, specs), strict=True)
               if status.actual_partitions is None]
    created = []
    if missing:
        admin = _admin(settings)
        try:
            for spec in missing:
                try:
                    admin.create_topics([NewTopic(spec.name, spec.partition_count(settings),
                                                  settings.replication_factor, topic_configs=dict(spec.config))])
                    created.append(spec.name)
                except TopicAlreadyExistsError:
                    pass
        finally:
            admin.close()
        # A created topic reaches the broker's metadata a moment after the controller acknowledged it (Apache
        # Kafka, KRaft): wait for it rather than report it missing.
        deadline = time.monotonic() + TOPIC_METADATA_WAIT_SECONDS
        while time.monotonic() < deadline and any(
                status.actual_partitions is None for status in describe(settings, specs)):
            time.sleep(0.2)
    verify_topics(settings, specs)
    return created


def verify_topics(settings: Settings, specs: tuple[TopicSpec, ...] | None = None) -> None:
    """Raise TopicMismatchError naming every topic that is missing or has the wrong partition count."""
    problems = []
    for status in describe(settings, specs):
        if status.actual_partitions is None:
            problems.append(f"{status.name}: missing (run `pipeline topics create`)")
        elif not status.ok:
            fix = f"recreate it or set {status.setting}={status.actual_partitions}" if status.setting else "recreate it"
            problems.append(f"{status.name}: has {status.actual_partitions} partitions, the pipeline needs "
                            f"{status.expected_partitions}; {fix}")
    if problems:
        raise TopicMismatchError("topic check failed:\n  " + "\n  ".join(problems))
