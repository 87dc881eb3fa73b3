"""What ``make bench`` reports from its rounds: pure functions over the figures each round measured.

The throughput stages run in several rounds spread over the bench (``round_order``). A stage's figure is its best
round, the same rule for the baselines as for the pipeline, because this machine's slow minutes only ever make
a stage slower: the best round is the nearest to what the code does on an undisturbed machine, and a slow
minute in one stage no longer decides a ratio. Each latency figure is its median over the rounds, not the best:
what users should expect, not the luckiest. (Per figure: the p50 and the p99 may come from different rounds, and
of two rounds the median is their mean.) Every round's figures and ratios are kept beside the summary.
"""

from __future__ import annotations

import statistics
from typing import Any

STAGES = ("offline", "naive", "pipeline_1", "pipeline_2")
RATE = "articles_per_second"
VADER, ANALYZE = "vader_every_sentence_articles_per_second", "analyze_articles_per_second"
# Where the latency is measured: SHARED, the worker, the broker and the publisher on whichever cores the kernel
# picks (docker-compose on one host); APART, the worker on a core of its own (the broker on other hosts). WARMUP
# is a shorter pass sharing the cores before both, reported but no target's figure: the first seconds at the new
# pace after the drain were the disturbed ones in either setup (the broker's work after a backlog), and without
# it the setup measured first took that disturbance, which decided more of its p99 than the setup did.
SHARED, APART, WARMUP = "shared", "apart", "warmup"
LATENCY_PREFIX = {SHARED: "latency_", APART: "latency_apart_", WARMUP: "latency_warmup_"}  # of each one's figures
APART_SKIPPED = LATENCY_PREFIX[APART] + "skipped"  # why a round could not measure the apart setup
_LATENCY_FIGURES = ("rate", "p50_ms", "p99_ms", "worker_cpu_ms_per_article", "broker_cpu_ms_per_article",
                    "publisher_cpu_ms_per_article", "steal_percent", "steal_percent_worst_second")
LATENCY_KEYS = tuple(prefix + figure for prefix in LATENCY_PREFIX.values() for figure in _LATENCY_FIGURES)

Round = dict[str, dict[str, Any]]


def round_order(index: int) -> tuple[str, ...]:
    """Forward in even rounds, backward in odd: no stage always runs at the same point of the bench, so a drift
    in the machine's speed over the run does not favour one stage."""
    return STAGES if index % 2 == 0 else STAGES[::-1]


def latency_order(index: int) -> tuple[str, ...]:
    """The latency passes of round ``index`` in the order measured: the warm-up, then the two setups alternating
    (the second runs on a worker that has run longer, and neither should always have that)."""
    return (WARMUP, SHARED, APART) if index % 2 == 0 else (WARMUP, APART, SHARED)


def ratios(offline: dict[str, float], naive: dict[str, Any], one: dict[str, Any], two: dict[str, Any]
           ) -> dict[str, float]:
    """Issue 7's four throughput ratios (higher is better)."""
    vader, one_rate = offline[VADER], one[RATE]
    return {
        "analyze_vs_vader": round(offline[ANALYZE] / vader, 3),
        "pipeline_vs_vader": round(one_rate / vader, 3),
        "pipeline_vs_naive": round(one_rate / naive[RATE], 3),
        "two_workers_vs_one": round(two[RATE] / one_rate, 3),
    }


def scale_out(one: dict[str, Any], two: dict[str, Any], cores: int) -> dict[str, float]:
    """What bounds 5/4 on this machine, from the CPU the two drains used (empty without the broker's CPU):
    ``ceiling`` is the machine's cores over the cores one worker's drain kept busy (its worker and the broker):
    5/4 with every core busy if an article cost two workers what it cost one; ``sharing_cost`` is the CPU an
    article of the two-worker drain (workers and broker) over the one-worker drain's (above 1 where sharing the
    cores costs; below where each of two workers, having processed half as many articles, is the cheaper). With
    every core busy, 5/4 is about ``ceiling / sharing_cost``; below it, the two workers left cores idle."""
    keys = ("worker_cpu_ms_per_article", "broker_cpu_ms_per_article")
    if not all(key in run for run in (one, two) for key in keys) or not one[RATE]:
        return {}
    one_ms, two_ms = (sum(run[key] for key in keys) for run in (one, two))
    if not one_ms:  # CPU figures are rounded to 0.01 ms
        return {}
    ceiling = cores / (one[RATE] * one_ms / 1000)
    return {"ceiling": round(ceiling, 3), "sharing_cost": round(two_ms / one_ms, 3),
            "ceiling_over_sharing_cost": round(ceiling * one_ms / two_ms, 3)}


def _best(stage_rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the highest rate among those that finished (``unfinished`` marks one that did not)."""
    finished = [r for r in stage_rounds if "unfinished" not in r]
    if not finished:
        return stage_rounds[0]
    best = max(finished, key=lambda r: r[RATE])
    return {**best, "round": stage_rounds.index(best) + 1}


def latency(one_rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Each latency figure's median over the rounds (taken figure by figure), and each round's."""
    summary: dict[str, Any] = {}
    for key in LATENCY_KEYS:
        values = [r[key] for r in one_rounds if key in r]
        if values:
            summary[key] = round(statistics.median(values), 2)
            summary[f"{key}_per_round"] = values
    skipped = [r[APART_SKIPPED] for r in one_rounds if APART_SKIPPED in r]
    if skipped:
        summary[APART_SKIPPED] = skipped[0]
    return summary


def summarise(rounds: list[Round], cores: int) -> dict[str, Any]:
    """Each stage's best round (offline: each of its two figures' best), the median latency, the peak RSS of any
    round, the ratios of the bests and of each round, and what bounds 5/4 on a machine of ``cores``."""
    if not rounds:
        raise ValueError("no rounds to summarise")
    offline = {key: max(r["offline"][key] for r in rounds) for key in (VADER, ANALYZE)}
    naive = _best([r["naive"] for r in rounds])
    one_rounds = [r["pipeline_1"] for r in rounds]
    one = {k: v for k, v in _best(one_rounds).items()
           if not k.startswith(LATENCY_PREFIX[SHARED]) and k != "peak_rss_mb"}  # every setup's prefix starts so
    two = _best([r["pipeline_2"] for r in rounds])
    return {
        "offline": offline, "naive": naive, "pipeline_1": one, "pipeline_2": two,
        "latency": latency(one_rounds),
        "peak_rss_mb": max(r.get("peak_rss_mb", 0.0) for r in one_rounds),
        "ratios": ratios(offline, naive, one, two),
        "ratios_per_round": [ratios(r["offline"], r["naive"], r["pipeline_1"], r["pipeline_2"]) for r in rounds],
        "scale_out": scale_out(one, two, cores),
        "scale_out_per_round": [scale_out(r["pipeline_1"], r["pipeline_2"], cores) for r in rounds],
    }
