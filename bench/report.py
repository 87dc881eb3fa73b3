"""What ``make bench`` prints at the end: the table of each stage's best round, the latency setups, memory, and
the ratios of the bests and of each round."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.rounds import APART, APART_SKIPPED, LATENCY_PREFIX, SHARED, WARMUP


def print_table(results: dict[str, Any], path: Path) -> None:
    """The summary of ``results`` (``bench/run.py``'s, also written to ``path``) as a table and lines."""
    offline_, naive, one, two = (results[k] for k in ("offline", "naive", "pipeline_1", "pipeline_2"))
    rows = [
        ("1. bare VADER on every sentence", offline_["vader_every_sentence_articles_per_second"]),
        ("2. naive pipeline (whole-article VADER agent)", naive["articles_per_second"]),
        ("3. analyzer offline", offline_["analyze_articles_per_second"]),
        ("4. full pipeline, 1 worker", one["articles_per_second"]),
        ("5. full pipeline, 2 workers", two["articles_per_second"]),
    ]
    print(f"\n{'measurement (best of ' + str(results['rounds_run']) + ' rounds)':48} articles/s")
    for name, value in rows:
        print(f"{name:48} {value:>10.1f}")
    state, latency = results["state"], results["latency"]
    print(f"worker CPU per article: {one['worker_cpu_ms_per_article']} ms (1 worker), "
          f"{two.get('worker_cpu_ms_per_article')} ms (2 workers); broker CPU per article: "
          f"{one.get('broker_cpu_ms_per_article')} ms, {two.get('broker_cpu_ms_per_article')} ms")
    steal = ", ".join(f"{run['steal_percent']}% ({workers})" for run, workers in ((one, "1 worker"), (two, "2 workers"))
                      if "steal_percent" in run)
    if steal:  # not in a two-worker drain that did not finish
        print(f"the VM's steal during those drains: {steal} of the machine")
    if "busy_share" in two:  # 4 and 5 are timed while every worker had input (bench/drain.py)
        busy = (f"5 is the whole drain's: {two['busy_not_timed']}" if "busy_not_timed" in two
                else f"the first of the two workers dry {two['busy_share']:.0%} of the way through")
        print(f"4 and 5 while every worker had input; the whole drains, to their last record: "
              f"{one.get('drain_articles_per_second')}/s and {two['drain_articles_per_second']}/s, {busy}")
    for setup, where in ((WARMUP, "warm-up first (sharing, no target's figure)"), (SHARED, "sharing the cores"),
                         (APART, "the worker on a core of its own")):
        prefix = LATENCY_PREFIX[setup]
        if f"{prefix}p99_ms" not in latency:
            if setup == APART and APART_SKIPPED in latency:
                print(f"latency, {where}: not measured ({latency[APART_SKIPPED]})")
            continue
        print(f"latency at half the rate, {where} (median of rounds, each round's in brackets): "
              f"p50 {latency[prefix + 'p50_ms']} ms {latency[prefix + 'p50_ms_per_round']}, "
              f"p99 {latency[prefix + 'p99_ms']} ms {latency[prefix + 'p99_ms_per_round']} "
              f"at {latency[prefix + 'rate_per_round']}/s; worker CPU {latency[prefix + 'worker_cpu_ms_per_article']}"
              f" ms an article at that rate (publisher {latency.get(prefix + 'publisher_cpu_ms_per_article')} ms, "
              f"broker {latency.get(prefix + 'broker_cpu_ms_per_article')} ms)" + _steal(latency, prefix))
    print(f"worker peak RSS {results['peak_rss_mb']} MB")
    print(f"state of {state['articles']} articles within a week: {state['state_mb']} MB "
          f"({state['bytes_per_article']} bytes each); worker RSS estimate {state['estimated_worker_rss_mb']} MB")
    print("ratios of the best rounds: " + ", ".join(f"{k} {v}" for k, v in results["ratios"].items()))
    for index, (ratios, bound) in enumerate(zip(results["ratios_per_round"], results["scale_out_per_round"],
                                                strict=True), 1):
        print(f"  round {index}: " + ", ".join(f"{k} {v}" for k, v in {**ratios, **bound}.items()))
    if bound := results["scale_out"]:
        print(f"5/4 on this machine: {bound['ceiling']} with every core busy if an article cost two workers what it "
              f"cost one ({results['cores']} cores over those one worker's drain kept busy); two workers spent "
              f"{bound['sharing_cost']}x the CPU an article, so about {bound['ceiling_over_sharing_cost']}")
    print(f"{results['seconds']} s; raw figures: {path}")


def _steal(latency: dict[str, Any], prefix: str) -> str:
    """The VM's steal in each round's pass of one setup, where the rounds have it."""
    if prefix + "steal_percent_per_round" not in latency:
        return ""
    return (f"; the VM's steal each round {latency[prefix + 'steal_percent_per_round']}%, worst second "
            f"{latency[prefix + 'steal_percent_worst_second_per_round']}%")
