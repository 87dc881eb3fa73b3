"""bench/run.py's lead-in (other articles than the corpus's and the latency passes', earlier in event time) and
the timed drain after it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bench.corpus import make_corpus
from bench.run import DRAIN_ARTICLES, LEAD_IN_ARTICLES, make_bench, parse_args
from pipeline.demo import DEV_ENV
from pipeline.settings import Settings


def test_the_lead_in_is_other_articles_earlier_in_event_time_than_the_corpus(tmp_path: Path) -> None:
    bench = make_bench(tmp_path, 40)
    assert len(bench.lead_in) == LEAD_IN_ARTICLES and len(bench.articles) == 40
    # The latency passes' articles start where the drain's end (full_pipeline counts both)
    latency = make_corpus(10, start_index=len(bench.lead_in) + len(bench.articles))
    ids = [a["id"] for a in bench.lead_in + bench.articles + latency]
    assert len(set(ids)) == len(ids)
    # RFC 3339 UTC stamps of one format: the string order is the time order
    assert max(a["published_at"] for a in bench.lead_in) < min(a["published_at"] for a in bench.articles)
    assert max(a["published_at"] for a in bench.articles) < min(a["published_at"] for a in latency)


def test_the_lead_in_spans_the_window_retention_so_the_window_table_is_at_its_deployed_size(tmp_path: Path) -> None:
    settings = Settings.from_env(DEV_ENV)
    lead_in = make_bench(tmp_path, 1).lead_in
    first, last = (datetime.fromisoformat(lead_in[i]["published_at"]) for i in (0, -1))
    kept = max(settings.window_sizes) + settings.window_grace_seconds + settings.window_retention_seconds
    assert (last - first).total_seconds() >= kept


def test_a_shorter_lead_in_can_be_asked_for(tmp_path: Path) -> None:
    bench = make_bench(tmp_path, 5, lead_in=3)
    assert [a["id"] for a in bench.lead_in] == ["bench-0000000", "bench-0000001", "bench-0000002"]
    assert bench.articles[0]["id"] == "bench-0000003"
    assert bench.naive_lead_in == bench.lead_in  # the naive stage's 200 at most, all 3 here


def test_the_bench_refuses_a_negative_lead_in_and_an_empty_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args([]).lead_in == LEAD_IN_ARTICLES
    assert parse_args(["--lead-in", "0"]).lead_in == 0
    for argv in (["--lead-in", "-1"], ["--articles", "0"]):
        with pytest.raises(SystemExit):
            parse_args(argv)
        assert "--lead-in must be 0 or more" in capsys.readouterr().err


# The fastest two-worker drain measured on the bench's machine (2,683.2 articles/s, run (bh)), and about the least of
# such a drain that both workers had input (0.726 of it, run (bc))
FASTEST_TWO_WORKERS = 2700.0
LEAST_BUSY_SHARE = 0.7


def test_a_batch_at_either_end_of_the_timed_span_is_a_small_part_of_it() -> None:
    # Each worker stamps its output a batch at a time, so either end of the span 5 is timed over (every worker with
    # input) is uncertain by up to a batch of one worker's work: 9.5% of it with the 6,000 timed articles of before
    assert parse_args([]).articles == DRAIN_ARTICLES
    span = DRAIN_ARTICLES / FASTEST_TWO_WORKERS * LEAST_BUSY_SHARE
    batch = Settings.from_env(DEV_ENV).batch_max_events / (FASTEST_TWO_WORKERS / 2)
    assert batch / span < 0.05
