"""Reproduce the open two-worker stall (README, "Performance"): a backlog, two workers started together.

    python -m bench.stall [ARTICLES]      # default 6000; Apache Kafka from scripts/apache-kafka.sh

Prints the enriched-topic count every second and ``STALLED`` with each worker's received counter when the
count has not moved for 20 s. Seen so far: stuck at 5788 of 6000, after one worker logged ~120 "producer
buffer full" warnings and a commit of 17 s (Faust flushes its changelog buffer, about three window-table
records per article, one at a time, before committing).
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.corpus import make_corpus
from bench.run import pipeline_settings, produce, topic_count
from pipeline.admin import create_topics
from pipeline.broker import ApacheKafka, free_port
from pipeline.demo import WorkerProcess
from pipeline.topics import ENRICHED

QUIET_SECONDS = 20


def main() -> int:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 6000
    workdir = Path(tempfile.mkdtemp(prefix="stall-"))
    kafka = ApacheKafka(workdir / "kafka").start()
    try:
        settings = pipeline_settings(kafka, workdir)
        create_topics(settings)
        produce(kafka.bootstrap, make_corpus(total))
        workers = [WorkerProcess(replace(settings, web_port=free_port(), data_dir=workdir / f"data-{i}"),
                                 workdir / f"worker-{i}.log").start() for i in range(2)]
        last, quiet = -1, 0
        try:
            while True:
                count = topic_count(kafka.bootstrap, ENRICHED.name)
                print(time.strftime("%H:%M:%S"), count, flush=True)
                quiet = quiet + 1 if count == last else 0
                last = count
                if count >= total:
                    print(f"done: {count} of {total}; logs in {workdir}")
                    return 0
                if quiet >= QUIET_SECONDS:
                    received = [[line for line in (w.scrape() or "").splitlines()
                                 if line.startswith("pipeline_articles_received_total")] for w in workers]
                    print(f"STALLED at {count} of {total}; received {received}; logs in {workdir}")
                    return 1
                time.sleep(1)
        finally:
            for worker in workers:
                worker.stop()
    finally:
        kafka.stop()


if __name__ == "__main__":
    sys.exit(main())
