"""FastVader must give exactly vaderSentiment's compound score: on generated sentences built from the words
VADER's rules react to, and on every sentence of the sample corpus, with our domain lexicon merged in."""

from __future__ import annotations

import json
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE, SPECIAL_CASES, SentimentIntensityAnalyzer

from pipeline.analysis.text import split_sentences
from pipeline.analysis.tone import default_scorer
from pipeline.analysis.vader import FastVader
from pipeline.io import sample_corpus_path

# Words VADER's rules look at: negations, boosters, "but", "no", "least", idiom parts, and lexicon words.
RULE_WORDS = sorted({*NEGATE, *BOOSTER_DICT, *" ".join(SPECIAL_CASES).split(), "but", "no", "least", "at", "very",
                     "kind", "of", "or", "nor", "never", "so", "this", "without", "doubt"})
LEXICON_WORDS = ["good", "bad", "ban", "great", "fraud", "win", "crisis", "support", "illegal", "approve",
                 "xcrackdownx", "xgreenlightx", "risk", "hope", "welcome", "panic", "lol", ":)", "<3"]
PLAIN_WORDS = ["bitcoin", "the", "exchange", "Hong", "Kong", "regulator", "said", "on", "Tuesday", "token"]


def word() -> st.SearchStrategy[str]:
    base = st.sampled_from(RULE_WORDS + LEXICON_WORDS + PLAIN_WORDS)
    case = st.sampled_from(["lower", "upper", "title"])
    punctuation = st.sampled_from(["", ",", ".", "!", "?", "'"])
    return st.tuples(base, case, punctuation).map(lambda t: getattr(t[0], t[1])() + t[2])


@cache
def reference() -> tuple[SentimentIntensityAnalyzer, FastVader]:
    """Both analyzers with the same lexicon as the pipeline's scorer uses."""
    lexicon = default_scorer()._vader.lexicon
    plain, fast = SentimentIntensityAnalyzer(), FastVader()
    plain.lexicon, fast.lexicon = dict(lexicon), dict(lexicon)
    return plain, fast


def phrase() -> st.SearchStrategy[list[str]]:
    """Up to three rule words, then a lexicon word: where VADER's rules fire."""
    return st.tuples(st.lists(word(), max_size=3), word()).map(lambda t: [*t[0], t[1]])


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.one_of(phrase(), st.lists(word(), max_size=3)), max_size=6))
def test_same_compound_as_vader_on_generated_sentences(parts: list[list[str]]) -> None:
    plain, fast = reference()
    text = " ".join(w for part in parts for w in part)
    assert fast.compound(text) == plain.polarity_scores(text)["compound"], text


@pytest.mark.parametrize("text", [
    "It was never so good", "It was never this bad", "never so very good", "at least good", "the very least good",
    "least good", "at the least bad", "without doubt good", "without any doubt good", "no good", "no no good",
    "no way or bad", "not bad", "isn't great", "kind of good", "sort of bad", "just enough good", "the bomb",
    "the shit", "bad ass", "yeah right", "kiss of death", "GOOD news for the rest", "VERY good", "Good but bad",
    "good but but bad", "bad, but good!!!", "good?? really?", "No. Good.", "", "   ",
    # the idiom and "no ... or" rules look three words back: only a sentence that long reaches them
    "we all think it is the bomb", "they all said it was the shit", "the new fund is bad ass",
    "they said it is a kiss of death", "the plan seems like a kiss of death today", "no cash nor bad",
    "no cash or bad", "no cash and bad", "so they said yeah right",
])
def test_same_compound_as_vader_on_vaders_special_rules(text: str) -> None:
    plain, fast = reference()
    assert fast.compound(text) == plain.polarity_scores(text)["compound"], text


def test_same_compound_as_vader_on_every_sample_sentence() -> None:
    plain, fast = reference()
    checked = 0
    for line in sample_corpus_path().read_text(encoding="utf-8").splitlines():
        article = json.loads(line)
        text = f"{article['title']}\n\n{article['text']}"
        for start, end in split_sentences(text):
            sentence = text[start:end]
            assert fast.compound(sentence) == plain.polarity_scores(sentence)["compound"], sentence
            checked += 1
    assert checked > 300


def test_emoji_fall_back_to_vaders_own_pass() -> None:
    plain, fast = reference()
    for text in ("Bitcoin rallied!!! Great news :)", "Not good, but not BAD either 😀", "kind of fine", ""):
        assert fast.compound(text) == plain.polarity_scores(text)["compound"]
