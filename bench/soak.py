"""``make soak``: one worker through a million articles published within a week, its resident set measured.

``make bench`` estimates a worker's memory after a million articles from its peak after 10,000 plus the state a
million leave in the pure core (``bench/state.py``). This runs the real thing: one worker process against a real
broker (as ``make bench`` chooses it) reads a million articles, and its resident set is read from ``/proc`` as it
goes. Anything else that grows with the articles (consumer offsets, Faust's table bookkeeping, buffers) shows up
here and not in the estimate.

The articles are short (each sample's title and first paragraph, about 350 bytes): state grows per article,
not per byte, and the Kafka path, not the analysis, then sets the pace, so a million take minutes, not the best
part of an hour. Published evenly over one week, the worst case of the default retention: no window and no id
has expired when the last one arrives. Writes ``bench/soak.json`` (git-ignored)::

    python -m bench.soak --articles 1000000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from bench.brokers import (
    BROKER,
    a_broker,
    pipeline_settings,
    produce,
    require_apache_kafka,
    topic_count,
    wait_caught_up,
)
from bench.corpus import soak_articles
from bench.procfs import status_mb
from pipeline.admin import create_topics
from pipeline.broker import free_port
from pipeline.demo import WorkerProcess
from pipeline.topics import ENRICHED

RESULTS = Path(__file__).resolve().parent / "soak.json"
CHUNK = 20_000  # articles built and produced at a time: the bench process does not hold a million
SAMPLE_SECONDS = 2.0
TARGET_RSS_MB, TARGET_ARTICLES = 300.0, 1_000_000  # issue 7: worker RSS under 300 MB after a million articles


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set of ``pid`` in MB."""
    return status_mb(pid, "VmRSS"), status_mb(pid, "VmHWM")


def produce_all(bootstrap: str, total: int, failed: list[BaseException]) -> None:
    try:
        for start in range(0, total, CHUNK):
            produce(bootstrap, soak_articles(start, min(CHUNK, total - start), total))
    except BaseException as exc:  # reported by the main thread, which would otherwise wait out its timeout
        failed.append(exc)


def samples_until(bootstrap: str, pid: int, total: int, timeout: float,
                  failed: list[BaseException]) -> Iterator[dict[str, float]]:
    """The worker's enriched count and resident set every couple of seconds until it has enriched ``total``."""
    started = time.monotonic()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)  # one connection for every poll
    try:
        while True:
            if failed:
                raise RuntimeError(f"producing the soak corpus failed: {failed[0]!r}")
            count = topic_count(bootstrap, ENRICHED.name, consumer)
            current, peak = rss_mb(pid)
            yield {"seconds": round(time.monotonic() - started, 1), "enriched": count, "rss_mb": round(current, 1),
                   "peak_rss_mb": round(peak, 1)}
            if count >= total:
                return
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{count} of {total} articles enriched after {timeout:.0f}s")
            time.sleep(SAMPLE_SECONDS)
    finally:
        consumer.close()


def soak(total: int, timeout: float) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    with a_broker(workdir, "soak") as broker:
        settings = pipeline_settings(broker, workdir, "soak")
        create_topics(settings)
        worker = WorkerProcess(replace(settings, web_port=free_port()), workdir / "worker.log").start()
        try:
            assert worker.process is not None
            pid = worker.process.pid
            idle_mb = rss_mb(pid)[0]
            failed: list[BaseException] = []
            producer = threading.Thread(target=produce_all, args=(broker.bootstrap, total, failed), daemon=True)
            producer.start()
            trace = []
            for sample in samples_until(broker.bootstrap, pid, total, timeout, failed):
                trace.append(sample)
                print(f"  {sample['seconds']:7.1f} s  {sample['enriched']:8d} enriched  RSS {sample['rss_mb']} MB "
                      f"(peak {sample['peak_rss_mb']})", flush=True)
            producer.join()
            # The window stage and the commits catch up before the last reading: "after a million".
            wait_caught_up(broker.bootstrap, settings.app_id, timeout=300)
            final_mb, peak_mb = rss_mb(pid)
        finally:
            worker.stop()
    tenth = next(s for s in trace if s["enriched"] >= total // 10)
    return {
        "articles": total, "broker": BROKER, "idle_rss_mb": round(idle_mb, 1),
        "rss_mb": round(final_mb, 1), "peak_rss_mb": round(peak_mb, 1),
        "articles_per_second": round(total / trace[-1]["seconds"], 1),
        # Growth per article past the first tenth, when the worker's own start-up allocations are behind it:
        # what the state costs in the real worker, to compare with bench/state.py's pure-core figure.
        "bytes_per_article_after_first_tenth": round((final_mb - tenth["rss_mb"]) * 1024 * 1024
                                                     / (total - tenth["enriched"])),
        "trace": trace, "logs": str(workdir),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds before the soak gives up")
    args = parser.parse_args()
    require_apache_kafka()
    print(f"soak: {args.articles} articles published within a week, one worker, broker {BROKER}", flush=True)
    result = soak(args.articles, args.timeout)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"after {result['articles']} articles: RSS {result['rss_mb']} MB, peak {result['peak_rss_mb']} MB "
          f"(idle {result['idle_rss_mb']} MB); {result['bytes_per_article_after_first_tenth']} bytes per article "
          f"after the first tenth; {result['articles_per_second']} articles/s; raw figures: {RESULTS}")
    if result["articles"] < TARGET_ARTICLES:
        print(f"target: peak RSS under {TARGET_RSS_MB:.0f} MB through {TARGET_ARTICLES:,} articles: not judged "
              f"on {result['articles']:,}")
    else:
        met = result["peak_rss_mb"] < TARGET_RSS_MB
        print(f"target: peak RSS under {TARGET_RSS_MB:.0f} MB through {result['articles']:,} articles: "
              f"{'met' if met else 'NOT MET'}")


if __name__ == "__main__":
    main()
