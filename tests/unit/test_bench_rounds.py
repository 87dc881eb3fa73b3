"""``bench/rounds.py``: what ``make bench`` reports from its rounds (best throughput, each latency figure's median)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from bench.rounds import APART, SHARED, STAGES, WARMUP, latency_order, round_order, scale_out, summarise


def a_round(vader: float, analyze: float, naive: float, one: float, two: float, p99: float,
            rss: float = 100.0, apart_p99: float | None = None, **two_extra: Any) -> dict[str, dict[str, Any]]:
    apart = {} if apart_p99 is None else {"latency_apart_rate": one / 2, "latency_apart_p50_ms": apart_p99 / 3,
                                          "latency_apart_p99_ms": apart_p99,
                                          "latency_apart_worker_cpu_ms_per_article": 2.5,
                                          "latency_apart_broker_cpu_ms_per_article": 1.0,
                                          "latency_apart_publisher_cpu_ms_per_article": 0.2}
    return {
        "offline": {"vader_every_sentence_articles_per_second": vader, "analyze_articles_per_second": analyze},
        "naive": {"articles_per_second": naive},
        "pipeline_1": {"articles_per_second": one, "worker_cpu_ms_per_article": 1000 / one, "latency_rate": one / 2,
                       "latency_p50_ms": p99 / 3, "latency_p99_ms": p99, "latency_worker_cpu_ms_per_article": 2.6,
                       "peak_rss_mb": rss, **apart},
        "pipeline_2": {"articles_per_second": two, **two_extra},
    }


def test_rounds_alternate_direction_over_every_stage() -> None:
    assert round_order(0) == STAGES
    assert round_order(1) == tuple(reversed(STAGES))
    assert round_order(2) == STAGES


def test_each_stage_is_its_best_round_and_the_ratios_are_of_the_bests() -> None:
    rounds = [a_round(800, 1600, 200, 700, 1000, p99=90),
              a_round(850, 1500, 180, 800, 1300, p99=300, rss=110),
              a_round(700, 1700, 210, 650, 900, p99=120)]
    summary = summarise(rounds, cores=2)

    assert summary["offline"] == {"vader_every_sentence_articles_per_second": 850,
                                  "analyze_articles_per_second": 1700}
    assert summary["naive"]["articles_per_second"] == 210 and summary["naive"]["round"] == 3
    # the best round's own CPU figure goes with its rate; its latency is not the headline
    assert summary["pipeline_1"] == {"articles_per_second": 800, "worker_cpu_ms_per_article": 1.25, "round": 2}
    assert summary["ratios"] == {"analyze_vs_vader": 2.0, "pipeline_vs_vader": 0.941,
                                 "pipeline_vs_naive": 3.81, "two_workers_vs_one": 1.625}
    assert summary["ratios_per_round"][0] == {"analyze_vs_vader": 2.0, "pipeline_vs_vader": 0.875,
                                              "pipeline_vs_naive": 3.5, "two_workers_vs_one": 1.429}
    assert summary["peak_rss_mb"] == 110


def test_latency_is_each_figures_median_over_the_rounds_not_the_best() -> None:
    summary = summarise([a_round(800, 1600, 200, 700, 1000, p99=p99) for p99 in (300, 60, 150)], cores=2)
    latency = summary["latency"]
    assert latency["latency_p99_ms"] == 150
    assert latency["latency_p99_ms_per_round"] == [300, 60, 150]
    assert latency["latency_p50_ms"] == 50


def test_both_latency_setups_are_summarised_apart_and_measured_in_alternating_order() -> None:
    rounds = [a_round(800, 1600, 200, 700, 1000, p99=p99, apart_p99=apart)
              for p99, apart in ((300, 90), (60, 120), (150, 80))]
    summary = summarise(rounds, cores=2)
    assert summary["latency"]["latency_p99_ms"] == 150
    assert summary["latency"]["latency_apart_p99_ms"] == 90
    assert summary["latency"]["latency_apart_p99_ms_per_round"] == [90, 120, 80]
    assert summary["latency"]["latency_apart_worker_cpu_ms_per_article"] == 2.5
    assert summary["latency"]["latency_apart_publisher_cpu_ms_per_article_per_round"] == [0.2, 0.2, 0.2]
    # a latency figure is never the best round's
    assert not [key for key in summary["pipeline_1"] if key.startswith("latency")]
    assert "latency_warmup_p99_ms" not in summary["latency"]  # measured in no round
    assert latency_order(0) == (WARMUP, SHARED, APART)
    assert latency_order(1) == (WARMUP, APART, SHARED)
    assert latency_order(2) == (WARMUP, SHARED, APART)


def test_the_warm_up_is_summarised_under_its_own_prefix_apart_from_both_setups() -> None:
    rounds = [a_round(800, 1600, 200, 700, 1000, p99=p99, apart_p99=80) for p99 in (90, 100, 110)]
    for warmup_p99, one_round in zip((400, 150, 200), rounds, strict=True):
        one_round["pipeline_1"].update(latency_warmup_p99_ms=warmup_p99, latency_warmup_rate=350.0)
    latency = summarise(rounds, cores=2)["latency"]
    assert latency["latency_warmup_p99_ms"] == 200 and latency["latency_warmup_p99_ms_per_round"] == [400, 150, 200]
    assert latency["latency_p99_ms"] == 100 and latency["latency_apart_p99_ms"] == 80
    assert "latency_warmup_p99_ms" not in summarise(rounds, cores=2)["pipeline_1"]


def test_an_unfinished_two_worker_round_is_never_the_best() -> None:
    rounds = [a_round(800, 1600, 200, 700, 0.0, p99=90, unfinished="timed out"),
              a_round(800, 1600, 200, 700, 900, p99=90)]
    assert summarise(rounds, cores=2)["pipeline_2"]["articles_per_second"] == 900
    only_unfinished = summarise(rounds[:1], cores=2)["pipeline_2"]
    assert only_unfinished["unfinished"] == "timed out"
    assert summarise(rounds[:1], cores=2)["ratios"]["two_workers_vs_one"] == 0.0


def test_no_rounds_is_an_error_not_an_empty_report() -> None:
    with pytest.raises(ValueError):
        summarise([], cores=2)


def test_scale_out_bounds_two_workers_by_the_cores_one_worker_left_and_what_sharing_cost() -> None:
    # One worker at 1,000/s on 1.0 ms and the broker on 0.25: 1.25 of 2 cores busy, so two could reach 1.6x at
    # best; they spent 1.5 ms an article between them (1.2x), so about 1.333x with both cores busy.
    one = {"articles_per_second": 1000.0, "worker_cpu_ms_per_article": 1.0, "broker_cpu_ms_per_article": 0.25}
    two = {"articles_per_second": 1300.0, "worker_cpu_ms_per_article": 1.25, "broker_cpu_ms_per_article": 0.25}
    assert scale_out(one, two, cores=2) == {"ceiling": 1.6, "sharing_cost": 1.2, "ceiling_over_sharing_cost": 1.333}
    assert scale_out(one, two, cores=4)["ceiling"] == 3.2


def test_scale_out_is_left_out_without_the_brokers_cpu_or_a_two_worker_drain() -> None:
    one = {"articles_per_second": 1000.0, "worker_cpu_ms_per_article": 1.0}
    assert scale_out(one, {**one, "broker_cpu_ms_per_article": 0.2}, cores=2) == {}
    unfinished = {"articles_per_second": 0.0, "unfinished": "timed out"}
    assert scale_out({**one, "broker_cpu_ms_per_article": 0.2}, unfinished, cores=2) == {}
    rounds = [a_round(800, 1600, 200, 700, 1000, p99=90)]
    assert summarise(rounds, cores=2)["scale_out"] == {}


def test_a_skipped_apart_setup_is_reported_not_summarised_as_a_figure() -> None:
    rounds = [a_round(800, 1600, 200, 700, 1000, p99=90) for _ in range(2)]
    rounds[0]["pipeline_1"]["latency_apart_skipped"] = "needs two cores"
    summary = summarise(rounds, cores=1)
    assert summary["latency"]["latency_apart_skipped"] == "needs two cores"
    assert "latency_apart_p99_ms" not in summary["latency"]
    assert "latency_apart_skipped" not in summary["pipeline_1"]


def test_one_latency_setup_reads_back_under_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.run as run

    published: list[tuple[str, float]] = []

    def produce_paced(bootstrap: str, articles: list[dict[str, Any]], rate: float) -> float:
        published.extend((a["id"], rate) for a in articles)
        return 0.25

    monkeypatch.setattr(run, "wait_caught_up", lambda bootstrap, group: None)
    monkeypatch.setattr(run, "produce_paced", produce_paced)
    monkeypatch.setattr(run, "latency_topics_end", lambda bootstrap: {"raw": len(published)})
    monkeypatch.setattr(run, "measure_latency", lambda bootstrap, articles, rate, since: {
        "latency_rate": rate, "latency_p50_ms": 20.0 + since["raw"], "latency_p99_ms": 80.0})

    class Broker:
        bootstrap, pid = "localhost:1", None

    figures = run.latency_at_half_rate(Broker(), "app", [os.getpid()], 400.0, published=6000, setup=SHARED)
    assert figures["articles"] == 3200 == len(published)  # 16 s at 200/s
    assert published[0] == ("bench-0006000", 200.0)  # after the drained corpus, at half the rate
    assert figures["latency_p99_ms"] == 80.0 and figures["latency_rate"] == 200.0
    assert figures["latency_p50_ms"] == 20.0  # read back from where the topics ended before publishing
    assert figures["latency_publisher_cpu_ms_per_article"] == 0.25
    assert "latency_worker_cpu_ms_per_article" in figures
    with pytest.raises(ValueError):
        run.latency_at_half_rate(Broker(), "app", [1, 2], 400.0, published=0, setup=APART)

    warmup = run.latency_at_half_rate(Broker(), "app", [os.getpid()], 400.0, published=9200, setup=WARMUP)
    assert warmup["articles"] == 1000  # the shorter pass: 5 s at 200/s
    assert published[3200] == ("bench-0009200", 200.0)
    assert warmup["latency_warmup_p99_ms"] == 80.0 and "latency_p99_ms" not in warmup
