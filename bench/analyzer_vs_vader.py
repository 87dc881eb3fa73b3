"""The analyzer against bare VADER on every sentence of the same articles (the bundled sample corpus).

    python -m bench.analyzer_vs_vader [--rounds N] [--json]

Both run interleaved in one process, best round of N each, so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from bench.rounds import ANALYZE, VADER
from pipeline.analysis import Analyzer, ArticleInput
from pipeline.analysis.text import split_sentences
from pipeline.io import sample_corpus_path


def best_rates(articles: list[dict[str, Any]], rounds: int) -> dict[str, float]:
    """Bare VADER on every sentence and the analyzer over ``articles``, interleaved, each one's best of ``rounds``
    (noise hits both alike and only ever slows a run), in articles per second. ``make bench``'s stages 1 and 3."""
    inputs = [ArticleInput(a["id"], a["text"], a["title"], a["url"], a["published_at"], a["source"],
                           a.get("language")) for a in articles]
    texts = [f"{a['title']}\n\n{a['text']}" for a in articles]
    analyzer, vader = Analyzer(), SentimentIntensityAnalyzer()

    def vader_every_sentence() -> None:
        for text in texts:
            for start, end in split_sentences(text):
                vader.polarity_scores(text[start:end])

    def analyze() -> None:
        for item in inputs:
            analyzer.analyze(item)

    runs: dict[str, Callable[[], None]] = {VADER: vader_every_sentence, ANALYZE: analyze}
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    return {name: round(len(articles) / seconds, 1) for name, seconds in best.items()}


def measure(rounds: int = 15) -> dict[str, float]:
    """:func:`best_rates` on the bundled sample corpus, with its ratio."""
    articles = [json.loads(line) for line in sample_corpus_path().read_text(encoding="utf-8").splitlines()]
    result = best_rates(articles, rounds)
    return {**result, "articles": len(articles), "analyze_vs_vader": round(result[ANALYZE] / result[VADER], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.rounds)
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:40} {value}")


if __name__ == "__main__":
    main()
