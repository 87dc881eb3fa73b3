"""The ``pipeline`` command: worker, ingest, analyze, demo, topics."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, TextIO

from kafka.errors import KafkaError

from pipeline.connection import error_text
from pipeline.settings import Settings, SettingsError

GC_YOUNG_THRESHOLD = 10_000  # allocations between young collections in a worker (CPython's default: 700)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        if getattr(args, "broker", None):
            settings = Settings.from_env(broker_url=_as_url(args.broker))
        return int(args.handler(args, settings) or 0)
    except SettingsError as exc:
        print(f"pipeline: configuration error: {exc}", file=sys.stderr)
        return 2
    except KafkaError as exc:  # unreachable broker, refused credentials: say where and how, not a traceback
        print(f"pipeline: broker {settings.broker_url} ({settings.kafka_security_protocol}) failed: "
              f"{error_text(exc)}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pipeline", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    worker = sub.add_parser("worker", help="run the agents against PIPELINE_BROKER_URL")
    worker.set_defaults(handler=_cmd_worker)

    ingest = sub.add_parser("ingest", help="produce articles into articles.raw.v1")
    ingest.add_argument("path", help="JSON Lines file, directory of .json/.txt files, or - for stdin")
    ingest.add_argument("--broker", help="bootstrap host:port (default: PIPELINE_BROKER_URL)")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.set_defaults(handler=_cmd_ingest)

    analyze = sub.add_parser("analyze", help="analyse articles offline, one enriched JSON object per line")
    analyze.add_argument("path", help="JSON Lines with at least id and text, or - for stdin")
    analyze.set_defaults(handler=_cmd_analyze)

    demo = sub.add_parser("demo", help="embedded broker + worker + sample corpus, signals as they close")
    demo.add_argument("--once", action="store_true", help="exit after the corpus's windows are emitted")
    demo.add_argument("--corpus", help="articles to ingest (default: the bundled sample corpus)")
    demo.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for all windows")
    demo.set_defaults(handler=_cmd_demo)

    replay = sub.add_parser("replay", help="feed a historical corpus and print the signal history it produces")
    replay.add_argument("path", help="articles, as for ingest")
    replay.add_argument("--embedded", action="store_true",
                        help="start the embedded broker and a worker for the run (default: a running worker)")
    replay.add_argument("--broker", help="bootstrap host:port (default: PIPELINE_BROKER_URL)")
    replay.add_argument("--table", action="store_true", help="a Markdown table of the daily index instead of JSON")
    replay.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for all windows")
    replay.set_defaults(handler=_cmd_replay)

    export = sub.add_parser("export-metrics",
                            help="signal history as timestamped OpenMetrics, for promtool tsdb create-blocks-from")
    export.add_argument("--input", help="signals as JSON Lines (e.g. from `pipeline replay`); default: the topic")
    export.add_argument("--broker", help="bootstrap host:port (default: PIPELINE_BROKER_URL)")
    export.add_argument("--idle-timeout", type=float, default=5.0, help="stop reading the topic after this idle")
    export.set_defaults(handler=_cmd_export_metrics)

    topics = sub.add_parser("topics", help="create or check the declared topics")
    topics.add_argument("action", choices=["create", "check", "list"])
    topics.add_argument("--broker", help="bootstrap host:port (default: PIPELINE_BROKER_URL)")
    topics.set_defaults(handler=_cmd_topics)
    return parser


def _as_url(broker: str) -> str:
    return broker if "://" in broker else f"kafka://{broker}"


# -- worker ---------------------------------------------------------------------------------------
def _cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.admin import TopicMismatchError, create_topics

    try:
        create_topics(settings)
    except TopicMismatchError as exc:
        print(f"pipeline worker: {exc}", file=sys.stderr)
        return 2
    from pipeline.app import create_app

    run_worker(create_app(settings), settings)
    return 0


def run_worker(app: Any, settings: Settings | None = None) -> None:
    import faust

    from pipeline.heap import LARGE_ALLOCATION_BYTES, map_large_allocations

    # Before the worker allocates: with a heap that kept freed window encodings, one worker's resident set was
    # 235 MB after a million articles, with this 171 MB (pipeline/heap.py).
    mapped = map_large_allocations()

    async def log_heap_setting() -> None:  # a task runs once logging is set up, at worker start
        logging.getLogger(__name__).info(
            "malloc: allocations of %d KiB and more mapped on their own%s", LARGE_ALLOCATION_BYTES // 1024,
            "" if mapped else " NOT SET (malloc is not glibc's): freed large blocks may stay in the heap")

    app.task(log_heap_setting)

    level = (settings or Settings.from_env()).log_level.lower()
    worker = faust.Worker(app, loglevel=level, redirect_stdouts=False)
    # No terminal spinner: a service logs to files and containers. At WARNING and above Faust would add one
    # and set the root logger to DEBUG for it, so every library debug line was built (measured: ~7% of a
    # worker's CPU, with each sent record formatted into a log message).
    worker.spinner = None
    # The app's long-lived objects (Faust's services, the analyzer's lexicons and automata) would otherwise be
    # traversed by every full collection, and the analyzer's short-lived containers trigger a young collection
    # every 700 allocations: freezing the first and collecting less often took the worker's GC time from about
    # 0.07 ms to under 0.01 ms an article (measured with gc.callbacks over a 6,000-article drain).
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 10, 10)
    worker.execute_from_commandline()


# -- topics ---------------------------------------------------------------------------------------
def _cmd_topics(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.admin import TopicMismatchError, create_topics, describe, verify_topics

    if args.action == "create":
        created = create_topics(settings)
        print(f"created: {', '.join(created) or 'none (all present)'}")
        return 0
    if args.action == "check":
        try:
            verify_topics(settings)
        except TopicMismatchError as exc:
            print(exc, file=sys.stderr)
            return 1
        print("all topics present with the declared partition counts")
        return 0
    for status in describe(settings):
        actual = "missing" if status.actual_partitions is None else str(status.actual_partitions)
        print(f"{status.name:32} expected={status.expected_partitions} actual={actual}")
    return 0


# -- ingest ---------------------------------------------------------------------------------------
def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    summary = ingest(args.path, settings, progress=None if args.quiet else sys.stderr)
    print(json.dumps(summary), file=sys.stderr if args.quiet else sys.stdout)
    return 0 if not summary["failed"] else 1


def ingest(path: str, settings: Settings, progress: TextIO | None = None) -> dict[str, Any]:
    """Produce every article under ``path``; validate locally first so obvious mistakes stay here."""
    from kafka import KafkaProducer

    from pipeline.connection import kafka_python_options
    from pipeline.io import InputError, read_articles
    from pipeline.topics import RAW
    from pipeline.validation import Rejection, validate_fields

    producer = KafkaProducer(**kafka_python_options(settings), acks="all", linger_ms=5,
                             client_id=f"{settings.app_id}-ingest")
    sent = 0
    rejected: Counter[str] = Counter()
    failures: list[str] = []
    futures = []
    try:
        for where, item in read_articles(path):
            if isinstance(item, InputError):
                rejected["unreadable"] += 1
                print(f"rejected {item}", file=sys.stderr)
            else:
                check = validate_fields(item, time.time() + settings.max_future_seconds)
                if isinstance(check, Rejection):
                    rejected[check.reason] += 1
                    print(f"rejected {where}: {check.reason}: {check.error}", file=sys.stderr)
                else:
                    value = json.dumps(item, ensure_ascii=False).encode()
                    futures.append(producer.send(RAW.name, key=str(item["id"]).encode(), value=value))
                    sent += 1
            if progress is not None:
                total = sent + sum(rejected.values())
                progress.write(f"\ringest: {total} read, {sent} sent, {sum(rejected.values())} rejected")
                progress.flush()
        producer.flush()
        for future in futures:
            try:
                future.get(timeout=30)
            except Exception as exc:
                failures.append(str(exc))
    finally:
        producer.close()
        if progress is not None:
            progress.write("\n")
    return {"sent": sent - len(failures), "rejected_locally": sum(rejected.values()),
            "rejected_by_reason": dict(rejected), "failed": len(failures)}


# -- analyze --------------------------------------------------------------------------------------
def _cmd_analyze(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.analysis import Analyzer, ArticleInput
    from pipeline.io import InputError, read_articles

    analyzer = Analyzer()
    errors = 0
    out = sys.stdout
    for where, item in read_articles(args.path):
        if isinstance(item, InputError) or not isinstance(item.get("id"), str) \
                or not isinstance(item.get("text"), str):
            errors += 1
            print(f"pipeline analyze: skipped {where}: needs string id and text", file=sys.stderr)
            continue
        article = ArticleInput(
            id=item["id"], text=item["text"], title=str(item.get("title") or ""), url=str(item.get("url") or ""),
            published_at=str(item.get("published_at") or item.get("date") or ""),
            source=str(item.get("source") or ""), language=item.get("language"),
        )
        out.write(json.dumps(analyzer.analyze(article), ensure_ascii=False) + "\n")
    return 1 if errors else 0


# -- replay and history ---------------------------------------------------------------------------
def _cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from contextlib import nullcontext

    from pipeline.demo import collect_signals, embedded_stack, expected_windows
    from pipeline.history import history_table, latest_revisions

    stack = embedded_stack(settings, sys.stderr) if args.embedded else nullcontext(settings)
    with stack as target:
        summary = ingest(args.path, target, progress=None)
        print(f"replay: ingested {json.dumps(summary)}", file=sys.stderr)
        expected = expected_windows(args.path, target)
        try:
            records = collect_signals(target, expected, args.timeout)
        except TimeoutError as exc:
            print(f"pipeline replay: {exc}", file=sys.stderr)
            return 1
    history = latest_revisions(records)
    if args.table:
        sys.stdout.write(history_table(history))
    else:
        for record in history:
            print(json.dumps(record, ensure_ascii=False))
    return 0


def _cmd_export_metrics(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.demo import consume_signals
    from pipeline.history import to_openmetrics

    if args.input:
        with open(args.input, encoding="utf-8") as fh:
            signals = [json.loads(line) for line in fh if line.strip()]
    else:
        signals = [record for _, record in consume_signals(settings, timeout=args.idle_timeout)]
    sys.stdout.write(to_openmetrics(signals))
    return 0


# -- demo -----------------------------------------------------------------------------------------
def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.demo import run_demo

    return run_demo(settings, corpus=args.corpus, once=args.once, timeout=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
