"""``bench/report.py``: the table ``make bench`` prints, from a summary of rounds as ``bench/run.py`` builds it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.report import print_table
from bench.rounds import Round, summarise
from tests.unit.test_bench_rounds import a_round


def results_of(rounds: list[Round]) -> dict[str, Any]:
    return {"rounds_run": len(rounds), "cores": 2, "seconds": 500, **summarise(rounds, cores=2),
            "state": {"articles": 1000, "state_mb": 85.0, "bytes_per_article": 89, "estimated_worker_rss_mb": 185.0}}


def test_the_table_prints_every_stage_the_latency_with_its_steal_and_the_ratios(
        capsys: pytest.CaptureFixture[str]) -> None:
    rounds = [a_round(800, 1600, 200, 700, 1000, p99=p99, apart_p99=apart) for p99, apart in ((90, 60), (300, 70))]
    for one, steal in zip((r["pipeline_1"] for r in rounds), (4.5, 21.0), strict=True):
        one.update({"steal_percent": 3.0, "latency_steal_percent": steal,
                    "latency_steal_percent_worst_second": 2 * steal})
    rounds[0]["pipeline_2"]["steal_percent"] = 0.4
    rounds[0]["pipeline_1"]["drain_articles_per_second"] = 700.0
    rounds[0]["pipeline_2"].update({"drain_articles_per_second": 950.0, "busy_share": 0.912})
    print_table(results_of(rounds), Path("bench/results.json"))
    out = capsys.readouterr().out
    assert "4. full pipeline, 1 worker                            700.0" in out
    assert "sharing the cores (median of rounds, each round's in brackets): p50 65.0 ms [30.0, 100.0], " \
           "p99 195.0 ms [90, 300]" in out
    assert "the VM's steal each round [4.5, 21.0]%, worst second [9.0, 42.0]%" in out
    assert "the worker on a core of its own" in out and "p99 65.0 ms [60, 70]" in out
    assert "the VM's steal during those drains: 3.0% (1 worker), 0.4% (2 workers) of the machine" in out
    assert "the whole drains, to their last record: 700.0/s and 950.0/s, the first of the two workers dry 91% of " \
           "the way through" in out
    assert "pipeline_vs_naive 3.5" in out and "round 2: analyze_vs_vader 2.0" in out
    assert "500 s; raw figures: bench/results.json" in out


def test_a_two_worker_drain_that_did_not_finish_and_rounds_without_steal_print_no_gaps(
        capsys: pytest.CaptureFixture[str]) -> None:
    rounds = [a_round(800, 1600, 200, 700, 0.0, p99=90, unfinished="12 of 6000 records after 240s")]
    print_table(results_of(rounds), Path("bench/results.json"))
    out = capsys.readouterr().out
    assert any(line.startswith("5. full pipeline, 2 workers") and line.endswith(" 0.0") for line in out.splitlines())
    assert "steal" not in out and "None%" not in out
