"""Crypto relevance and tone: VADER per sentence, extended with a policy-language lexicon.

VADER looks up single tokens, so multi-word policy phrases ("crack down", "lifted the ban") are first
rewritten to one synthetic token that the domain lexicon scores. VADER's own negation handling then
applies to them ("will not ban" flips the sign of "ban").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@dataclass(frozen=True)
class Lexicon:
    version: str
    crypto_terms: re.Pattern[str]
    words: dict[str, float]
    phrases: list[tuple[re.Pattern[str], str]]
    neutralise: frozenset[str]


def load_lexicon(data: dict[str, Any]) -> Lexicon:
    terms = sorted(data["crypto_terms"], key=len, reverse=True)
    latin = [t for t in terms if t.isascii()]
    # Word boundaries for Latin terms only: Chinese has no spaces, so its terms match anywhere.
    crypto = re.compile(r"(?<![\w-])(?:" + "|".join(latin) + r")(?![\w-])|"
                        + "|".join(t for t in terms if not t.isascii()), re.IGNORECASE)
    phrases = [(re.compile(p["pattern"], re.IGNORECASE), p["token"]) for p in data["phrases"]]
    words = {k.lower(): float(v) for k, v in data["words"].items()}
    for phrase in data["phrases"]:
        words[phrase["token"]] = float(phrase["valence"])
    return Lexicon(data["version"], crypto, words, phrases, frozenset(data.get("neutralise", [])))


@cache
def default_lexicon() -> Lexicon:
    raw = resources.files("pipeline.data").joinpath("lexicon.json").read_text(encoding="utf-8")
    return load_lexicon(json.loads(raw))


class ToneScorer:
    """VADER with the domain lexicon merged in; one instance per process (building it costs ~50 ms)."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._vader = SentimentIntensityAnalyzer()
        for word in lexicon.neutralise:
            # Words VADER scores that carry no tone in financial news ("bitcoin mining", "bull" markets).
            self._vader.lexicon.pop(word, None)
        self._vader.lexicon.update(lexicon.words)

    def is_crypto(self, sentence: str) -> bool:
        return self.lexicon.crypto_terms.search(sentence) is not None

    def rewrite(self, sentence: str) -> str:
        for pattern, token in self.lexicon.phrases:
            sentence = pattern.sub(f" {token} ", sentence)
        return sentence

    def score(self, sentence: str) -> float:
        """Compound tone of one sentence in [-1, 1]."""
        return float(self._vader.polarity_scores(self.rewrite(sentence))["compound"])


@cache
def default_scorer() -> ToneScorer:
    return ToneScorer(default_lexicon())
