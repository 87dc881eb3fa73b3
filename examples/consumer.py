"""Example consumer of the pipeline's output topics (kafka-python), for services that build on them.

    python examples/consumer.py --bootstrap localhost:9092 --topic signals.reciprocity.v1 --group my-service

It joins its own consumer group (so it gets every record, independent of the pipeline), reads from the
earliest offset on first start, validates each value against the topic's JSON Schema when the
``schemas/`` folder is at hand, and prints one JSON object per line. Signals are keyed by
``<window_start>/<window_seconds>``: keep the highest ``revision`` per key.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

SCHEMA_FILES = {
    "signals.reciprocity.v1": "signal.reciprocity.v1.json",
    "articles.enriched.v1": "article.enriched.v1.json",
    "articles.dlq.v1": "article.dlq.v1.json",
}


def load_validator(topic: str, schema_dir: Path) -> Any:
    path = schema_dir / SCHEMA_FILES.get(topic, "")
    if not path.is_file():
        return None
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="localhost:9092")
    parser.add_argument("--topic", default="signals.reciprocity.v1", choices=sorted(SCHEMA_FILES))
    parser.add_argument("--group", default="reciprocity-example-consumer")
    parser.add_argument("--schemas", type=Path, default=Path(__file__).resolve().parent.parent / "schemas")
    parser.add_argument("--max-messages", type=int, default=0, help="stop after this many (0: run forever)")
    parser.add_argument("--idle-timeout", type=float, default=0, help="stop after this many idle seconds")
    parser.add_argument("--rebalance-timeout", type=float, default=30.0,
                        help="seconds a group join may take (the embedded dev broker waits all of it)")
    # kafka-python's newest SyncGroup request makes the embedded dev broker (Tansu) drop the connection;
    # the 2.8 protocol level works there and on Apache Kafka 3.x and 4.x. "auto" negotiates.
    parser.add_argument("--api-version", default="2.8", help='protocol level, e.g. "2.8", or "auto"')
    args = parser.parse_args(argv)
    api_version = None if args.api_version == "auto" else tuple(int(p) for p in args.api_version.split("."))

    validator = load_validator(args.topic, args.schemas)
    consumer = KafkaConsumer(
        args.topic, bootstrap_servers=args.bootstrap, group_id=args.group, auto_offset_reset="earliest",
        enable_auto_commit=True, max_poll_interval_ms=int(args.rebalance_timeout * 1000),
        session_timeout_ms=10_000, heartbeat_interval_ms=3_000, api_version=api_version,
        consumer_timeout_ms=int(args.idle_timeout * 1000) if args.idle_timeout else -1,
    )
    count = invalid = 0
    try:
        for message in consumer:
            value = json.loads(message.value)
            if validator is not None:
                errors = list(validator.iter_errors(value))
                if errors:
                    invalid += 1
                    print(f"invalid record at offset {message.offset}: {errors[0].message}", file=sys.stderr)
                    continue
            key = message.key.decode() if message.key else None
            print(json.dumps({"key": key, "value": value}, ensure_ascii=False), flush=True)
            count += 1
            if args.max_messages and count >= args.max_messages:
                break
    finally:
        consumer.close()
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
