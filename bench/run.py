"""``make bench``: every figure measured in the same run on the same machine, reported as ratios.

1. bare VADER ``polarity_scores`` on every sentence of each article (the scoring floor);
2. the naive pipeline (``bench/naive.py``): one Faust agent, VADER on the whole article;
3. ``pipeline analyze``'s analyzer, offline;
4. the full pipeline through a real broker (``bench/brokers.py``): sustained articles/s of one worker process
   (timed after a lead-in of ``LEAD_IN_ARTICLES``), end-to-end latency p50/p99 at half that rate, peak RSS;
5. two workers against one;
6. state memory (``bench/state.py``): the tables' growth for a million articles counted within a week, and the
   worker RSS that makes with the peak measured in 4.

Stages 1-5 run in rounds (three unless the time budget runs out first), each stage's figure the best of its
rounds and each latency figure its median over them (``bench/rounds.py`` says why). Writes
``bench/results.json`` (git-ignored) with every round's raw figures, the summary and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.analyzer_vs_vader import best_rates
from bench.brokers import (
    BROKER,
    a_broker,
    latency_topics_end,
    measure_latency,
    paced_publisher,
    pipeline_settings,
    produce,
    produce_paced,
    require_apache_kafka,
    wait_caught_up,
)
from bench.corpus import make_corpus
from bench.drain import drain, sustained, wait_all_processing
from bench.procfs import CpuMeter, StealSampler, apart_possible, cores_apart, status_mb
from bench.report import print_table
from bench.rounds import (
    APART,
    APART_SKIPPED,
    LATENCY_PREFIX,
    SHARED,
    WARMUP,
    Round,
    latency_order,
    round_order,
    summarise,
)
from pipeline.admin import create_topics
from pipeline.analysis import build, compiled
from pipeline.broker import free_port
from pipeline.demo import WorkerProcess
from pipeline.topics import ENRICHED, RAW

RESULTS = Path(__file__).resolve().parent / "results.json"
STAGE_TIMEOUT_SECONDS = 240.0  # a stage that cannot finish in this long is reported as unfinished, not waited for
# make bench must finish within 15 minutes, its setup on a fresh clone (venv, build, Debian packages, Kafka's
# jars: 1-3 minutes) included: another round starts only if one as long as the longest so far still leaves
# the state stage its reserve within this budget: twice the 54 s it took (thirty-eighth session), so that rounds
# of up to 200 s (182 s with 12,000 timed articles) still make three.
BUDGET_SECONDS = 12 * 60
STATE_RESERVE_SECONDS = 2 * 60
# The baselines (stages 1-3) run on the corpus's first 2,000 articles: their rates are steady well within that, and
# the naive pipeline (110-190 articles/s here) took 30-55 s of every round on the whole corpus, which in slow spells
# left no time for a third round once the latency was measured in two setups.
BASELINE_ARTICLES = 2000
OFFLINE_ROUNDS = 3  # within a round, bare VADER and the analyzer interleaved, each one's best of three
# Every drain through a broker is timed after a lead-in: articles of their own, published ahead of the timed ones
# (not the latency's warm-up pass, which follows the drain). Both ends of the pipeline have a start-up cost that is
# not the steady rate users size a deployment from:
# - A fresh broker compiles its request paths and faults in its new index files: 0.52 ms of CPU an article over a
#   one-worker drain's first 1,500-1,700 articles, then 0.09-0.14 ms, 0.07-0.08 by 30,000 (27th, 37th sessions).
# - A worker's CPU an article rises with the articles it has processed (not the event time they span) and levels
#   off: 4-15% less after 2,000 lead-in articles than after 12,000, the same after 12,000 as after 30,000
#   (alternated drains of the same 6,000 articles, thirty-seventh session).
# 12,000 articles a minute apart also span as long as a daily window is kept (8.3 days against 8 days and an hour:
# its day, the hour's grace, 7 days' retention), so the window table holds as many windows as a deployed worker's.
# The naive agent's VADER keeps its one core busy with the broker idle on the other, so a short lead-in does for it.
LEAD_IN_ARTICLES = 12000
NAIVE_LEAD_IN_ARTICLES = 200
# The timed articles after it (6,000 until the thirty-eighth session): two workers had input both for 2.0-2.6 s of
# a drain of 6,000, and each stamps its output a batch at a time (up to 200 articles, a sixth of a second draining),
# so a batch at either end of that span could move their rate by up to 8%, and 5/4's best rounds with it.
DRAIN_ARTICLES = 12000
# How long each latency pass publishes at half the drain rate: the warm-up shorter, its figures no target's.
LATENCY_SECONDS = {WARMUP: 5.0, SHARED: 16.0, APART: 16.0}


@dataclass(frozen=True)
class Bench:
    """What this run's stages share: the directory for their brokers, data and logs, and the corpus."""

    workdir: Path
    articles: list[dict[str, Any]]
    lead_in: list[dict[str, Any]]  # published ahead of the articles, and earlier in event time; untimed

    @property
    def naive_lead_in(self) -> list[dict[str, Any]]:  # the naive stage's: the lead-in's first articles
        return self.lead_in[:NAIVE_LEAD_IN_ARTICLES]


def make_bench(workdir: Path, articles: int, lead_in: int = LEAD_IN_ARTICLES) -> Bench:
    """``articles`` of the corpus behind ``lead_in`` articles of lead-in, other articles (ids of their own) and
    earlier in event time, a minute apart like the corpus: a later lead-in would move the windows' clock past the
    corpus, and every timed article would reopen a closed window (a revision to emit and store) instead of
    counting into an open one."""
    return Bench(workdir, make_corpus(articles, start_index=lead_in), make_corpus(lead_in))


def full_pipeline(bench: Bench, workers: int, tag: str, latency_setups: tuple[str, ...] = ()) -> dict[str, Any]:
    """The lead-in and the corpus first, then the workers; the rate is timed from when every worker is processing
    (the group has settled) and the lead-in is through, to when the first worker ran dry (``bench/drain.py``; the
    whole drain's rate is kept too): the steady rate users size a deployment from, not a rebalance pause, a fresh
    broker's start or a backlog's tail. Then the latency at half that rate in each of ``latency_setups`` in turn
    (:func:`latency_at_half_rate`)."""
    articles, name = bench.lead_in + bench.articles, f"pipeline-{workers}-{tag}"
    with a_broker(bench.workdir, name) as broker:
        settings = pipeline_settings(broker, bench.workdir, name)
        create_topics(settings)
        produce(broker.bootstrap, articles)
        group = [WorkerProcess(replace(settings, web_port=free_port()), bench.workdir / f"worker-{name}-{i}.log")
                 .start() for i in range(workers)]
        try:
            settled = wait_all_processing(broker.bootstrap, group, at_least=len(bench.lead_in),
                                          timeout=120.0 + len(bench.lead_in) / 50)  # 50/s: a very slow spell
            meter = CpuMeter([w.process.pid for w in group if w.process], broker.pid)
            with StealSampler() as steal:
                drained = drain(broker.bootstrap, ENRICHED.name, len(articles), STAGE_TIMEOUT_SECONDS, settled)
            # CPU time per article: what a core buys, less moved by a shared machine's noise; and how much of
            # the machine the hypervisor took meanwhile, which moves the rates
            cpu = meter.ms_per_article(max(len(articles) - settled, 1))
            busy = sustained(broker.bootstrap, settings.app_id, RAW.name, drained)  # reads the timed output
            rate = busy.rate
            result: dict[str, Any] = {"articles_per_second": round(rate, 1),
                                      "drain_articles_per_second": round(drained.rate, 1),
                                      "busy_share": busy.busy_share, **cpu, **steal.figures()}
            if busy.whole:
                result["busy_not_timed"] = busy.whole  # the whole drain's rate stands in for it
            published = len(articles)
            for setup in latency_setups:
                if setup == APART and not apart_possible(broker.pid):
                    result[APART_SKIPPED] = "needs two cores and a broker process of its own"
                    continue
                figures = latency_at_half_rate(broker, settings.app_id, meter.pids, rate, published, setup)
                published += int(figures.pop("articles"))
                result.update(figures)
            if latency_setups:
                result["peak_rss_mb"] = round(max(status_mb(pid, "VmHWM") for pid in meter.pids), 1)
            return result
        finally:
            for worker in group:
                worker.stop()


def latency_at_half_rate(broker: Any, app_id: str, pids: list[int], rate: float, published: int,
                         setup: str) -> dict[str, Any]:
    """Articles published at half the drain ``rate`` for ``LATENCY_SECONDS[setup]``, once the workers have caught
    up, each one's latency read back afterwards. ``setup`` is SHARED (the worker, the broker and the publisher on
    whichever cores the kernel picks, as docker-compose on one host runs them), APART (the worker on a core of
    its own, as with the broker on other hosts) or WARMUP (shared, the shorter pass before both); the figures'
    keys start with the setup's ``LATENCY_PREFIX``."""
    if setup == APART and len(pids) != 1:
        raise ValueError("the apart setup gives one worker a core of its own")
    # Steady state, not the backlog's tail: the window stage still had the drained backlog's contributions to
    # apply (and the worker its offsets to commit), and those first seconds had decided the p99.
    wait_caught_up(broker.bootstrap, app_id)
    extra = make_corpus(max(100, int(rate / 2 * LATENCY_SECONDS[setup])), start_index=published)
    prefix = LATENCY_PREFIX[setup]
    with cores_apart(pids[0], broker.pid) if setup == APART else nullcontext():
        since = latency_topics_end(broker.bootstrap)
        meter = CpuMeter(pids, broker.pid)
        # What the publisher takes of the cores (paced_publisher): shared with the worker, or the broker's
        with StealSampler() as steal:
            publisher_ms = produce_paced(broker.bootstrap, extra, rate=rate / 2)
            wait_caught_up(broker.bootstrap, app_id)
        # At half the rate a batch holds a few articles: what each costs then, not when draining. Taken
        # before the latency is read back, which loads the broker.
        result: dict[str, Any] = {f"{prefix}publisher_cpu_ms_per_article": round(publisher_ms, 2),
                                  **meter.ms_per_article(len(extra), prefix=prefix), **steal.figures(prefix)}
    figures = measure_latency(broker.bootstrap, extra, rate / 2, since)
    result.update({prefix + key.removeprefix(LATENCY_PREFIX[SHARED]): value for key, value in figures.items()})
    return {**result, "articles": len(extra)}


def naive_pipeline(bench: Bench, tag: str) -> dict[str, Any]:
    from kafka.admin import KafkaAdminClient, NewTopic

    from bench.naive import OUTPUT

    articles = bench.naive_lead_in + bench.articles[:BASELINE_ARTICLES]
    with a_broker(bench.workdir, f"naive-{tag}") as broker:
        create_topics(pipeline_settings(broker, bench.workdir, f"naive-{tag}"))
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        admin.create_topics([NewTopic(OUTPUT, 1, 1)])
        admin.close()
        produce(broker.bootstrap, articles)
        log = open(bench.workdir / f"naive-{tag}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen([sys.executable, "-m", "bench.naive", broker.url, str(free_port())],
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            drained = drain(broker.bootstrap, OUTPUT, len(articles), STAGE_TIMEOUT_SECONDS, len(bench.naive_lead_in))
            return {"articles_per_second": round(drained.rate, 1)}
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


def two_workers(bench: Bench, tag: str) -> dict[str, Any]:
    try:
        return full_pipeline(bench, 2, tag)
    except TimeoutError as exc:  # reported, not raised: the figures of the other stages still count
        return {"articles_per_second": 0.0, "unfinished": str(exc)}


def one_round(bench: Bench, index: int) -> Round:
    """Stages 1-5 once, in this round's order."""
    tag = f"r{index + 1}"
    stages: dict[str, Callable[[], dict[str, Any]]] = {
        "offline": lambda: best_rates(bench.articles[:BASELINE_ARTICLES], OFFLINE_ROUNDS),
        "naive": lambda: naive_pipeline(bench, tag),
        "pipeline_1": lambda: full_pipeline(bench, 1, tag, latency_order(index)),
        "pipeline_2": lambda: two_workers(bench, tag),
    }
    figures: Round = {}
    for stage in round_order(index):
        figures[stage] = stages[stage]()
        print(f"  round {index + 1}, {stage}: {figures[stage]}", flush=True)
    return figures


def state_memory(articles: int) -> dict[str, Any]:
    """``bench/state.py`` in its own process: the tables' growth for ``articles`` counted within a week."""
    done = subprocess.run([sys.executable, "-m", "bench.state", "--articles", str(articles)], check=True,
                          capture_output=True, text=True, timeout=STAGE_TIMEOUT_SECONDS)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=DRAIN_ARTICLES,
                        help="articles timed through the pipeline, stages 4-5 (default: %(default)s)")
    parser.add_argument("--lead-in", type=int, default=LEAD_IN_ARTICLES,
                        help="articles each drain through the pipeline processes untimed first (the naive stage: "
                             f"up to {NAIVE_LEAD_IN_ARTICLES} of them; default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of stages 1-5 (fewer if 15 min would not do)")
    parser.add_argument("--state-articles", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    if args.lead_in < 0 or args.articles < 1:
        parser.error("--lead-in must be 0 or more and --articles 1 or more")
    return args


def main() -> None:
    args = parse_args()
    started = time.monotonic()
    require_apache_kafka()
    bench = make_bench(Path(tempfile.mkdtemp(prefix="bench-")), args.articles, args.lead_in)
    sizes = [len(a["text"]) + len(a["title"]) for a in bench.articles]
    print(f"corpus: {len(sizes)} articles, mean {statistics.mean(sizes) / 1024:.1f} KB; logs in {bench.workdir}",
          flush=True)
    print(f"broker: {BROKER}; analysis {build()}; latency articles published by {paced_publisher()}",
          flush=True)
    rounds: list[Round] = []
    longest = 0.0
    for index in range(max(args.rounds, 1)):
        elapsed = time.monotonic() - started
        if rounds and elapsed + longest + STATE_RESERVE_SECONDS > BUDGET_SECONDS:
            print(f"round {index + 1} skipped: {elapsed:.0f} s gone, rounds take up to {longest:.0f} s", flush=True)
            break
        round_started = time.monotonic()
        rounds.append(one_round(bench, index))
        longest = max(longest, time.monotonic() - round_started)
    cores = len(os.sched_getaffinity(0))  # the cores this run may use (a container may allow fewer)
    summary = summarise(rounds, cores)
    state = state_memory(args.state_articles)
    state["estimated_worker_rss_mb"] = round(summary["peak_rss_mb"] + state["state_mb"], 1)
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {cores} cores, Python {platform.python_version()}", "cores": cores,
        "articles": len(bench.articles), "lead_in_articles": len(bench.lead_in),
        "naive_lead_in_articles": len(bench.naive_lead_in), "broker": BROKER, "analysis_compiled": compiled(),
        "latency_publisher": paced_publisher(),
        "rounds_run": len(rounds), **summary, "state": state, "rounds": rounds,
        "seconds": round(time.monotonic() - started),
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results, RESULTS)
    if "unfinished" in results["pipeline_2"]:
        print(f"UNFINISHED: two workers did not drain the corpus: {results['pipeline_2']['unfinished']}")
        sys.exit(1)


if __name__ == "__main__":
    main()
