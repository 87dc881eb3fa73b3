"""Benchmark articles from the bundled sample corpus (articles we wrote), re-keyed.

``make_corpus``: stretched to 3-4 KB, mixed crypto and non-crypto as the samples are, published a minute apart
from 2024-01-01, so the window stage closes windows as it goes, as it would on a live feed. ``soak_articles``:
short (title and first paragraph), published evenly over one week, for ``make soak``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from pipeline.io import sample_corpus_path

START = datetime(2024, 1, 1, tzinfo=UTC)
WEEK_SECONDS = 7 * 86400


@cache
def _samples() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(line) for line in sample_corpus_path().read_text(encoding="utf-8").splitlines())


def make_corpus(count: int, start_index: int = 0) -> list[dict[str, Any]]:
    samples = _samples()
    english = [s for s in samples if s.get("language", "en") == "en"]
    articles = []
    for index in range(start_index, start_index + count):
        base = samples[index % len(samples)]
        text = base["text"]
        step = 0
        while len(text.encode()) < 3300:  # paragraphs of other samples bring it to the 3-4 KB of real articles
            other = english[(index * 7 + 3 + step) % len(english)]["text"].split("\n")
            text = f"{text}\n{other[step % len(other)]}"
            step += 1
        published = START + timedelta(minutes=index)
        articles.append({**base, "id": f"bench-{index:07d}", "url": f"https://bench.example.org/a/{index}",
                         "text": text, "published_at": published.strftime("%Y-%m-%dT%H:%M:%SZ")})
    return articles


def soak_articles(start: int, count: int, total: int) -> list[dict[str, Any]]:
    """Articles ``start`` to ``start + count`` of ``total`` published evenly over a week: state grows per article,
    not per byte, so short ones (each sample's title and first paragraph) let a million pass in minutes."""
    samples = _samples()
    articles = []
    for index in range(start, start + count):
        base = samples[index % len(samples)]
        published = START + timedelta(seconds=index * WEEK_SECONDS / total)
        articles.append({**base, "id": f"soak-{index:07d}", "url": f"https://soak.example.org/a/{index}",
                         "text": base["text"].split("\n")[0],
                         "published_at": published.strftime("%Y-%m-%dT%H:%M:%SZ")})
    return articles
