"""The analyzer against bare VADER on every sentence of the same articles (the bundled sample corpus).

    python -m bench.analyzer_vs_vader [--rounds N] [--json]

Both run interleaved in one process, best round of N each, so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from pipeline.analysis import Analyzer, ArticleInput
from pipeline.analysis.text import split_sentences
from pipeline.io import sample_corpus_path


def measure(rounds: int = 15) -> dict[str, float]:
    articles = [json.loads(line) for line in sample_corpus_path().read_text(encoding="utf-8").splitlines()]
    inputs = [ArticleInput(a["id"], a["text"], a["title"], a["url"], a["published_at"], a["source"],
                           a.get("language")) for a in articles]
    texts = [f"{a['title']}\n\n{a['text']}" for a in articles]
    analyzer, vader = Analyzer(), SentimentIntensityAnalyzer()

    def analyze() -> None:
        for item in inputs:
            analyzer.analyze(item)

    def vader_every_sentence() -> None:
        for text in texts:
            for start, end in split_sentences(text):
                vader.polarity_scores(text[start:end])

    runs: dict[str, Callable[[], None]] = {"analyzer": analyze, "vader_every_sentence": vader_every_sentence}
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    result = {f"{name}_articles_per_second": round(len(inputs) / seconds, 1) for name, seconds in best.items()}
    result["articles"] = len(inputs)
    result["analyze_vs_vader"] = round(best["vader_every_sentence"] / best["analyzer"], 3)
    return result


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
