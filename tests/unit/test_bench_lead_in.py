"""bench/run.py's lead-in: other articles than the corpus's and the latency passes', and earlier in event time."""

from __future__ import annotations

from pathlib import Path

from bench.corpus import make_corpus
from bench.run import LEAD_IN_ARTICLES, make_bench


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
