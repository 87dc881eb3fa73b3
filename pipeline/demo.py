"""``pipeline demo``: embedded broker, a worker process, the sample corpus, signals as windows close.

``WorkerProcess`` and ``expected_windows`` are also what the integration tests use to run a real worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from pipeline.aggregate import window_key, window_start
from pipeline.broker import EmbeddedBroker, free_port
from pipeline.io import InputError, read_articles, sample_corpus_path
from pipeline.settings import Settings
from pipeline.topics import SIGNALS
from pipeline.validation import ValidArticle, validate_fields

# Fast settings for a worker on the embedded broker: a short group join, windows close soon after input.
DEV_ENV = {
    "PIPELINE_REBALANCE_TIMEOUT_SECONDS": "3",
    "PIPELINE_IDLE_CLOSE_SECONDS": "2",
    "PIPELINE_TICK_SECONDS": "1",
    "PIPELINE_STALL_EXIT_SECONDS": "60",
}


class WorkerProcess:
    """``pipeline worker`` in a child process, with its own web port and data directory."""

    def __init__(self, settings: Settings, log_path: Path | None = None) -> None:
        self.settings = settings
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_timeout: float = 60.0) -> WorkerProcess:
        env = {**os.environ, **self.settings.to_env()}
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker"], env=env,
                                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with status {self.process.returncode}; log: {self.log_path}")
            if self.scrape() is not None:
                return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"worker did not serve /metrics within {ready_timeout:.0f}s; log: {self.log_path}")

    def scrape(self) -> str | None:
        try:
            with urllib.request.urlopen(self.settings.metrics_url, timeout=2) as response:
                return str(response.read().decode())
        except OSError:
            return None

    def stop(self, timeout: float = 30.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL: a crash, for fault tests."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()


def expected_windows(path: str, settings: Settings) -> set[str]:
    """Signal keys the articles under ``path`` that a worker with ``settings`` accepts fall into."""
    keys = set()
    not_after = time.time() + settings.max_future_seconds  # as the worker bounds published_at
    for _, item in read_articles(path):
        if isinstance(item, InputError):
            continue
        result = validate_fields(item, not_after)
        if isinstance(result, ValidArticle):
            for size in settings.window_sizes:
                keys.add(window_key(window_start(result.published_ts, size), size))
    return keys


def consume_signals(settings: Settings, timeout: float) -> Generator[tuple[str, dict[str, Any]], None, None]:
    """Yield (key, signal) from the beginning of signals.reciprocity.v1 until ``timeout`` passes idle."""
    from kafka import KafkaConsumer

    from pipeline.connection import kafka_python_options

    consumer = KafkaConsumer(SIGNALS.name, **kafka_python_options(settings), group_id=None,
                             auto_offset_reset="earliest", consumer_timeout_ms=int(timeout * 1000))
    try:
        for message in consumer:
            yield message.key.decode(), json.loads(message.value)
    finally:
        consumer.close()


def collect_signals(settings: Settings, expected: set[str], timeout: float,
                    on_signal: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Read signals from the beginning until every ``expected`` window key has been seen (or ``timeout``
    passes); returns every record read, revisions included."""
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    signals = consume_signals(settings, timeout=timeout)
    for key, record in signals:
        seen.add(key)
        records.append(record)
        if on_signal is not None:
            on_signal(record)
        if expected <= seen or time.monotonic() > deadline:
            break
    signals.close()
    missing = expected - seen
    if missing:
        raise TimeoutError(f"{len(missing)} windows were not emitted within {timeout:.0f}s, "
                           f"e.g. {sorted(missing)[:3]}")
    return records


@contextmanager
def embedded_stack(settings: Settings, info: TextIO, extra_env: Mapping[str, str] | None = None
                   ) -> Iterator[Settings]:
    """The embedded broker and one worker with fast dev timings; yields the settings that reach them."""
    from pipeline.admin import create_topics

    workdir = Path(tempfile.mkdtemp(prefix="pipeline-"))
    with EmbeddedBroker(settings, log_path=workdir / "broker.log") as broker:
        dev = Settings.from_env({**DEV_ENV, **(extra_env or {})})
        settings = replace(settings, broker_url=broker.url, web_port=free_port(), data_dir=workdir / "data",
                           rebalance_timeout_seconds=dev.rebalance_timeout_seconds,
                           idle_close_seconds=dev.idle_close_seconds, tick_seconds=dev.tick_seconds)
        create_topics(settings)
        print(f"embedded broker: {broker.bootstrap}   worker log: {workdir / 'worker.log'}", file=info)
        worker = WorkerProcess(settings, log_path=workdir / "worker.log").start()
        try:
            print(f"metrics: {settings.metrics_url}", file=info)
            yield settings
        finally:
            worker.stop()


def run_demo(settings: Settings, corpus: str | None = None, once: bool = False, timeout: float = 180.0) -> int:
    from pipeline.cli import ingest

    corpus = corpus or str(sample_corpus_path())
    info = sys.stderr if once else sys.stdout
    with embedded_stack(settings, info) as settings:
        summary = ingest(corpus, settings, progress=None if once else sys.stdout)
        print(f"ingested: {json.dumps(summary)}", file=info)
        if not once:
            print("signals as windows close (Ctrl-C to stop):", file=info)
            for _, record in consume_signals(settings, timeout=10**6):
                print(_describe(record), flush=True)
            return 0
        expected = expected_windows(corpus, settings)
        try:
            records = collect_signals(settings, expected, timeout,
                                      lambda r: print(json.dumps(r, ensure_ascii=False), flush=True))
        except TimeoutError as exc:
            print(f"demo: {exc}", file=sys.stderr)
            return 1
        print(f"demo: {len(records)} signals for {len(expected)} windows of {summary['sent']} articles", file=info)
        return 0


def _describe(record: dict[str, Any]) -> str:
    index = record["reciprocity_index"]
    shown = "   n/a" if index is None else f"{index:+.3f}"
    return (f"{record['window_start']} {record['window_seconds']:>6}s rev {record['revision']}  "
            f"index {shown}  articles {record['articles']:3}  mainland {record['mainland_articles']:3}  "
            f"sources {record['sources']}")
