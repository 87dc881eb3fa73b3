"""``make bench``: every figure measured in the same run on the same machine, reported as ratios.

1. bare VADER ``polarity_scores`` on every sentence of each article (the scoring floor);
2. the naive pipeline (``bench/naive.py``): one Faust agent, VADER on the whole article;
3. ``pipeline analyze``'s analyzer, offline;
4. the full pipeline through a real broker (Apache Kafka when Java 17+ and Maven are here, as compose deploys;
   else the embedded Tansu, whose fetches wait much longer: latency is not comparable): sustained articles/s
   of one worker process, end-to-end latency p50/p99 at half that rate, peak RSS;
5. two workers against one;
6. state memory (``bench/state.py``): the tables' growth for a million articles counted within a week, and the
   worker RSS that makes with the peak measured in 4.

Writes ``bench/results.json`` (git-ignored) with the raw figures and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from bench.corpus import make_corpus
from bench.procfs import status_mb
from pipeline.admin import create_topics
from pipeline.analysis import Analyzer, ArticleInput, build, compiled
from pipeline.analysis.text import split_sentences
from pipeline.broker import ApacheKafka, EmbeddedBroker, assemble_apache_kafka, free_port
from pipeline.demo import DEV_ENV, WorkerProcess
from pipeline.settings import Settings
from pipeline.topics import ENRICHED, RAW, WINDOW_INPUT

RESULTS = Path(__file__).resolve().parent / "results.json"
STAGE_TIMEOUT_SECONDS = 240.0  # a stage that cannot finish in this long is reported as unfinished, not waited for


def offline(articles: list[dict[str, Any]]) -> dict[str, float]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader, analyzer = SentimentIntensityAnalyzer(), Analyzer()
    inputs = [ArticleInput(a["id"], a["text"], a["title"], a["url"], a["published_at"], a["source"],
                           a.get("language")) for a in articles]
    texts = [f"{a['title']}\n\n{a['text']}" for a in articles]

    def vader_every_sentence() -> None:
        for text in texts:
            for start, end in split_sentences(text):
                vader.polarity_scores(text[start:end])

    def analyze() -> None:
        for item in inputs:
            analyzer.analyze(item)

    best = {"vader_every_sentence": float("inf"), "analyze": float("inf")}
    runs: dict[str, Callable[[], None]] = {"vader_every_sentence": vader_every_sentence, "analyze": analyze}
    for _ in range(3):  # interleaved, best of three: noise hits both alike
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    return {f"{name}_articles_per_second": round(len(articles) / seconds, 1) for name, seconds in best.items()}


def produce(bootstrap: str, articles: list[dict[str, Any]], rate: float | None = None) -> None:
    """All at once (a backlog), or paced at ``rate`` per second. Paced, each is sent at once: a raw record's
    timestamp is taken when it is handed to the producer, so a linger would count as pipeline latency."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=0 if rate else 20,
                             batch_size=256 * 1024)
    # The topic's metadata first: the records sent while the producer fetched it would carry timestamps from
    # before the broker could take them, counted as pipeline latency.
    producer.partitions_for(RAW.name)
    started = time.perf_counter()
    for index, article in enumerate(articles):
        if rate:
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        producer.send(RAW.name, key=article["id"].encode(), value=json.dumps(article).encode())
    producer.flush()
    producer.close()


def topic_count(bootstrap: str, topic: str, consumer: KafkaConsumer | None = None) -> int:
    """Records in ``topic`` (the sum of its end offsets); pass a consumer to poll without reconnecting."""
    client = consumer or KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partitions = client.partitions_for_topic(topic) or set()
        ends = client.end_offsets([TopicPartition(topic, p) for p in partitions])
        return int(sum(ends.values()))
    finally:
        if consumer is None:
            client.close()


def drain_rate(bootstrap: str, topic: str, total: int, timeout: float, already: int = 0) -> float:
    """Articles/s from the first output record (after ``already``) to the last, polling the topic's end offsets."""
    deadline = time.monotonic() + timeout
    first_time = first_count = None
    count = 0
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)  # one connection: polling must not load the machine
    try:
        while time.monotonic() < deadline:
            count = topic_count(bootstrap, topic, consumer)
            now = time.perf_counter()
            if count > already and first_time is None:
                first_time, first_count = now, count
            if count >= total:
                assert first_time is not None and first_count is not None
                return (count - first_count) / max(now - first_time, 1e-6)
            time.sleep(0.25)
    finally:
        consumer.close()
    raise TimeoutError(f"{topic}: {count} of {total} records after {timeout:.0f}s")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class CpuMeter:
    """CPU seconds the workers (and the broker, when it is a process here) use from construction on."""

    def __init__(self, pids: list[int], broker_pid: int | None) -> None:
        self.pids, self.broker_pid = pids, broker_pid
        self._workers, self._broker = self._now()

    def _now(self) -> tuple[float, float]:
        return sum(cpu_seconds(pid) for pid in self.pids), cpu_seconds(self.broker_pid) if self.broker_pid else 0.0

    def ms_per_article(self, articles: int, prefix: str = "") -> dict[str, float]:
        workers, broker = self._now()
        result = {f"{prefix}worker_cpu_ms_per_article": round((workers - self._workers) * 1000 / articles, 2)}
        if self.broker_pid:
            result[f"{prefix}broker_cpu_ms_per_article"] = round((broker - self._broker) * 1000 / articles, 2)
        return result


@contextmanager
def a_broker(workdir: Path, name: str) -> Iterator[Any]:
    """A fresh broker for one measurement: Apache Kafka when it can run here, else the embedded Tansu."""
    if BROKER == "apache-kafka":
        kafka = ApacheKafka(workdir / f"kafka-{name}").start()
        try:
            yield kafka
        finally:
            kafka.stop()
    else:
        with EmbeddedBroker(log_path=workdir / f"broker-{name}.log") as broker:
            yield broker


def choose_broker() -> str:
    if shutil.which("java") and shutil.which("mvn") and assemble_apache_kafka().returncode == 0:
        return "apache-kafka"
    return "tansu"


BROKER = "tansu"


def pipeline_settings(broker: Any, workdir: Path) -> Settings:
    base = Settings.from_env({**DEV_ENV, "PIPELINE_LOG_LEVEL": "WARNING"})
    return replace(base, broker_url=broker.url, web_port=free_port(), data_dir=workdir / "data")


def full_pipeline(articles: list[dict[str, Any]], workers: int, workdir: Path, latency: bool) -> dict[str, float]:
    """The corpus first, then the workers; the rate is timed from when every worker is processing (the group
    has settled) to the last record: the steady rate users size a deployment from, not a rebalance pause."""
    with a_broker(workdir, f"pipeline-{workers}") as broker:
        settings = pipeline_settings(broker, workdir)
        create_topics(settings)
        produce(broker.bootstrap, articles)
        group = [WorkerProcess(replace(settings, web_port=free_port()), workdir / f"worker-{workers}-{i}.log")
                 .start() for i in range(workers)]
        try:
            settled = wait_all_processing(broker.bootstrap, group)
            meter = CpuMeter([w.process.pid for w in group if w.process], broker.pid)
            rate = drain_rate(broker.bootstrap, ENRICHED.name, len(articles), STAGE_TIMEOUT_SECONDS, settled)
            # CPU time per article: what a core buys, less moved by a shared machine's noise
            result = {"articles_per_second": round(rate, 1), **meter.ms_per_article(max(len(articles) - settled, 1))}
            if latency:
                # Steady state, not the backlog's tail: the window stage still had the drained backlog's
                # contributions to apply (and the worker its offsets to commit), and those first seconds had
                # decided the p99.
                wait_caught_up(broker.bootstrap, settings.app_id)
                extra = make_corpus(max(200, int(rate * 10)), start_index=len(articles))
                meter = CpuMeter(meter.pids, meter.broker_pid)
                produce(broker.bootstrap, extra, rate=rate / 2)
                wait_caught_up(broker.bootstrap, settings.app_id)
                # At half the rate a batch holds an article or two: what each costs then, not when draining.
                # Taken before the latency is read back, which loads the broker.
                result.update(meter.ms_per_article(len(extra), prefix="latency_"))
                result.update(measure_latency(broker.bootstrap, extra, rate / 2))
                result["peak_rss_mb"] = round(max(status_mb(pid, "VmHWM") for pid in meter.pids), 1)
            return result
        finally:
            for worker in group:
                worker.stop()


def wait_all_processing(bootstrap: str, group: list[WorkerProcess], timeout: float = 120.0) -> int:
    """Wait until every worker has received articles; returns the enriched count at that moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(metric_value(w.scrape() or "", "pipeline_articles_received_total") for w in group):
            return topic_count(bootstrap, ENRICHED.name)
        time.sleep(0.1)
    raise TimeoutError(f"not every worker received articles within {timeout:.0f}s")


def wait_caught_up(bootstrap: str, group: str, timeout: float = 60.0) -> None:
    """Wait until ``group`` has committed every record of both stages' inputs (the raw topic and the window
    input): the workers have nothing left to do."""
    topics = (RAW.name, WINDOW_INPUT.name)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    deadline = time.monotonic() + timeout
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        if not partitions:  # no metadata: "all of nothing committed" would pass at once
            raise RuntimeError(f"no partitions found for {', '.join(topics)}")
        while time.monotonic() < deadline:
            committed = admin.list_group_offsets({group: partitions})[group]
            ends = consumer.end_offsets(partitions)
            if all(tp in committed and committed[tp].offset >= end for tp, end in ends.items()):
                return
            time.sleep(0.25)
    finally:
        consumer.close()
        admin.close()
    raise TimeoutError(f"group {group} still behind its input after {timeout:.0f}s")


def metric_value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def measure_latency(bootstrap: str, articles: list[dict[str, Any]], rate: float) -> dict[str, float]:
    """Compare each enriched record's broker timestamp with its raw one (``articles`` produced at ``rate``)."""
    wanted = {a["id"] for a in articles}
    raw_ts = read_timestamps(bootstrap, RAW.name, wanted)
    enriched_ts = read_timestamps(bootstrap, ENRICHED.name, wanted)
    latencies = sorted(enriched_ts[k] - raw_ts[k] for k in wanted if k in raw_ts and k in enriched_ts)
    if len(latencies) < len(wanted) * 0.99:
        raise RuntimeError(f"latency: only {len(latencies)} of {len(wanted)} articles came through")
    return {"latency_rate": round(rate, 1), "latency_p50_ms": round(statistics.median(latencies), 1),
            "latency_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1)}


def read_timestamps(bootstrap: str, topic: str, wanted: set[str], timeout: float = 120) -> dict[str, int]:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                             consumer_timeout_ms=2000)
    found: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(found) < len(wanted) and time.monotonic() < deadline:
            for message in consumer:
                key = message.key.decode()
                if key in wanted:
                    found.setdefault(key, message.timestamp)
    finally:
        consumer.close()
    return found


def naive_pipeline(articles: list[dict[str, Any]], workdir: Path) -> dict[str, float]:
    from bench.naive import OUTPUT

    with a_broker(workdir, "naive") as broker:
        settings = pipeline_settings(broker, workdir)
        create_topics(settings)
        from kafka.admin import KafkaAdminClient, NewTopic

        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        admin.create_topics([NewTopic(OUTPUT, 1, 1)])
        admin.close()
        produce(broker.bootstrap, articles)
        log = open(workdir / "naive.log", "wb")  # noqa: SIM115
        process = subprocess.Popen([sys.executable, "-m", "bench.naive", broker.url, str(free_port())],
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            rate = drain_rate(broker.bootstrap, OUTPUT, len(articles), STAGE_TIMEOUT_SECONDS)
            return {"articles_per_second": round(rate, 1)}
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


def state_memory(articles: int) -> dict[str, Any]:
    """``bench/state.py`` in its own process: the tables' growth for ``articles`` counted within a week."""
    done = subprocess.run([sys.executable, "-m", "bench.state", "--articles", str(articles)], check=True,
                          capture_output=True, text=True, timeout=STAGE_TIMEOUT_SECONDS)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=int(os.environ.get("BENCH_ARTICLES", "6000")))
    parser.add_argument("--state-articles", type=int, default=1_000_000)
    args = parser.parse_args()
    global BROKER
    BROKER = choose_broker()
    articles = make_corpus(args.articles)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    sizes = [len(a["text"]) + len(a["title"]) for a in articles]
    print(f"corpus: {len(articles)} articles, mean {statistics.mean(sizes) / 1024:.1f} KB; logs in {workdir}",
          flush=True)
    results: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                                          f"{platform.python_version()}", "articles": len(articles),
                               "broker": BROKER, "analysis_compiled": compiled()}
    print(f"broker: {BROKER}; analysis {build()}", flush=True)
    results["offline"] = offline(articles[:2000])
    print(f"offline: {results['offline']}", flush=True)
    results["naive"] = naive_pipeline(articles, workdir)
    print(f"naive pipeline: {results['naive']}", flush=True)
    results["pipeline_1"] = full_pipeline(articles, 1, workdir, latency=True)
    print(f"full pipeline, 1 worker: {results['pipeline_1']}", flush=True)
    try:
        results["pipeline_2"] = full_pipeline(articles, 2, workdir, latency=False)
    except TimeoutError as exc:  # reported, not raised: the figures of the other stages still count
        results["pipeline_2"] = {"articles_per_second": 0.0, "unfinished": str(exc)}
    print(f"full pipeline, 2 workers: {results['pipeline_2']}", flush=True)
    results["state"] = state_memory(args.state_articles)
    results["state"]["estimated_worker_rss_mb"] = round(results["pipeline_1"]["peak_rss_mb"]
                                                        + results["state"]["state_mb"], 1)
    print(f"state memory: {results['state']}", flush=True)
    vader = results["offline"]["vader_every_sentence_articles_per_second"]
    one = results["pipeline_1"]["articles_per_second"]
    results["ratios"] = {
        "analyze_vs_vader": round(results["offline"]["analyze_articles_per_second"] / vader, 3),
        "pipeline_vs_vader": round(one / vader, 3),
        "pipeline_vs_naive": round(one / results["naive"]["articles_per_second"], 3),
        "two_workers_vs_one": round(results["pipeline_2"]["articles_per_second"] / one, 3),
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    if "unfinished" in results["pipeline_2"]:
        print(f"UNFINISHED: two workers did not drain the corpus: {results['pipeline_2']['unfinished']}")
        sys.exit(1)


def print_table(results: dict[str, Any]) -> None:
    offline_, naive, one, two = (results[k] for k in ("offline", "naive", "pipeline_1", "pipeline_2"))
    rows = [
        ("1. bare VADER on every sentence", offline_["vader_every_sentence_articles_per_second"]),
        ("2. naive pipeline (whole-article VADER agent)", naive["articles_per_second"]),
        ("3. analyzer offline", offline_["analyze_articles_per_second"]),
        ("4. full pipeline, 1 worker", one["articles_per_second"]),
        ("5. full pipeline, 2 workers", two["articles_per_second"]),
    ]
    print(f"\n{'measurement':48} articles/s")
    for name, value in rows:
        print(f"{name:48} {value:>10.1f}")
    state = results["state"]
    print(f"worker CPU per article: {one['worker_cpu_ms_per_article']} ms (1 worker), "
          f"{two.get('worker_cpu_ms_per_article')} ms (2 workers); broker CPU per article: "
          f"{one.get('broker_cpu_ms_per_article')} ms, {two.get('broker_cpu_ms_per_article')} ms")
    print(f"latency at {one['latency_rate']}/s: p50 {one['latency_p50_ms']} ms, p99 {one['latency_p99_ms']} ms "
          f"(worker CPU {one['latency_worker_cpu_ms_per_article']} ms, broker "
          f"{one.get('latency_broker_cpu_ms_per_article')} ms per article at that rate); "
          f"worker peak RSS {one['peak_rss_mb']} MB")
    print(f"state of {state['articles']} articles within a week: {state['state_mb']} MB "
          f"({state['bytes_per_article']} bytes each); worker RSS estimate {state['estimated_worker_rss_mb']} MB")
    print("ratios: " + ", ".join(f"{k} {v}" for k, v in results["ratios"].items()))
    print(f"raw figures: {RESULTS}")


if __name__ == "__main__":
    main()
