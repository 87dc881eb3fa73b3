"""VADER's compound score, computed the way vaderSentiment 3.3.2 computes it, in a fraction of its time.

``SentimentIntensityAnalyzer.polarity_scores`` spends most of its time lower-casing: for every lexicon word it
lower-cases the whole sentence again (twice, in its negation and idiom checks), and before that it rebuilds the
text one character at a time looking for emoji. This scorer lower-cases each sentence once and skips the emoji
pass when the text has no emoji; the rules and their order are VADER's own (MIT licence), so the compound score
is identical. ``tests/unit/test_vader.py`` checks that against vaderSentiment on generated sentences and on
every sentence of the sample corpus.

It wraps VADER's analyzer rather than subclassing it: a class compiled with mypyc (see setup.py) cannot
derive from an interpreted one.
"""

from __future__ import annotations

import math
import string

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    C_INCR,
    N_SCALAR,
    NEGATE,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
    allcap_differential,
    scalar_inc_dec,
)

_NEGATE = frozenset(NEGATE)
# The first and last words of VADER's multi-word idioms and boosters ("kiss of death", "kind of").
_MULTI_WORD = [key.split() for key in (*SPECIAL_CASES, *BOOSTER_DICT) if " " in key]
_IDIOM_FIRST = frozenset(words[0] for words in _MULTI_WORD)
_IDIOM_LAST = frozenset(words[-1] for words in _MULTI_WORD)
_PUNCTUATION = string.punctuation


def _negated(lowered: str) -> bool:
    return lowered in _NEGATE or "n't" in lowered


class FastVader:
    """``compound(text)`` == ``polarity_scores(text)["compound"]``; the lexicon can be edited as VADER's."""

    def __init__(self) -> None:
        self._reference = SentimentIntensityAnalyzer()
        self._emoji_chars = frozenset(key for key in self._reference.emojis if len(key) == 1)

    @property
    def lexicon(self) -> dict[str, float]:
        """VADER's own lexicon: this scorer and its emoji fallback read the same one."""
        return self._reference.lexicon  # type: ignore[no-any-return]

    @lexicon.setter
    def lexicon(self, words: dict[str, float]) -> None:
        self._reference.lexicon = words

    def compound(self, text: str) -> float:
        if not text.isascii() and not self._emoji_chars.isdisjoint(text):
            return float(self._reference.polarity_scores(text)["compound"])
        text = text.strip()
        # SentiText's tokens: punctuation stripped unless that leaves two characters or fewer (emoticons)
        words = [stripped if len(stripped := token.strip(_PUNCTUATION)) > 2 else token for token in text.split()]
        lower = [word.lower() for word in words]
        sentiments = self._sentiments(words, lower)
        if "but" in lower:
            _but_check(lower, sentiments)
        if not sentiments:
            return 0.0
        # score_valence's compound (its pos/neg/neu shares are not needed)
        total = float(sum(sentiments))
        emphasis = _punctuation_emphasis(text)
        if total > 0:
            total += emphasis
        elif total < 0:
            total -= emphasis
        return round(_normalize(total), 4)

    def _sentiments(self, words: list[str], lower: list[str]) -> list[float]:
        lexicon = self.lexicon
        last = len(words) - 1
        # Only lexicon words carry valence (boosters and "kind of" score 0): visit just those.
        sentiments: list[float] = [0.0] * len(words)
        hits = [i for i, low in enumerate(lower) if low in lexicon and low not in BOOSTER_DICT
                and not (low == "kind" and i < last and lower[i + 1] == "of")]
        cap_diff: bool | None = None  # allcap_differential(words), computed only if a capitalised word asks
        for i in hits:
            low = lower[i]
            valence = lexicon[low]
            if low == "no" and i != last and lower[i + 1] in lexicon:
                valence = 0.0
            if (i > 0 and lower[i - 1] == "no") or (i > 1 and lower[i - 2] == "no") or (
                    i > 2 and lower[i - 3] == "no" and lower[i - 1] in ("or", "nor")):
                valence = lexicon[low] * N_SCALAR
            if words[i].isupper():
                cap_diff = allcap_differential(words) if cap_diff is None else cap_diff
                if cap_diff:
                    valence = valence + C_INCR if valence > 0 else valence - C_INCR
            for start_i in range(3):
                before = i - (start_i + 1)
                if i > start_i and lower[before] not in lexicon:
                    s = 0.0
                    if lower[before] in BOOSTER_DICT:
                        # scalar_inc_dec looks at the cap differential only for an all-caps booster
                        if words[before].isupper():
                            cap_diff = allcap_differential(words) if cap_diff is None else cap_diff
                        s = scalar_inc_dec(words[before], valence, bool(cap_diff))
                    if start_i == 1 and s != 0:
                        s = s * 0.95
                    if start_i == 2 and s != 0:
                        s = s * 0.9
                    valence = valence + s
                    valence = _negation_check(valence, lower, start_i, i)
                    if start_i == 2:
                        valence = _special_idioms_check(valence, lower, i)
            sentiments[i] = _least_check(valence, lower, lexicon, i)
        return sentiments


def _but_check(lower: list[str], sentiments: list[float]) -> None:
    """VADER's ``_but_check``, quirks and all: each value is looked up by value (its first equal) while the list
    is rewritten, exactly as its loop over the list does."""
    but = lower.index("but")
    position = 0
    while position < len(sentiments):  # a list iterator's walk, reading each slot after the writes before it
        sentiment = sentiments[position]
        position += 1
        first = sentiments.index(sentiment)
        if first < but:
            sentiments[first] = sentiment * 0.5
        elif first > but:
            sentiments[first] = sentiment * 1.5


def _punctuation_emphasis(text: str) -> float:
    """VADER's ``_punctuation_emphasis`` (its ``_amplify_ep`` plus ``_amplify_qm``), compiled here: VADER's own is
    three interpreted calls for every scored sentence."""
    questions = text.count("?")
    question_marks = 0.0 if questions <= 1 else (questions * 0.18 if questions <= 3 else 0.96)
    return min(text.count("!"), 4) * 0.292 + question_marks


def _normalize(score: float) -> float:
    """VADER's ``normalize`` with its alpha of 15."""
    return max(-1.0, min(1.0, score / math.sqrt(score * score + 15)))


def _negation_check(valence: float, lower: list[str], start_i: int, i: int) -> float:
    if start_i == 0:
        if _negated(lower[i - 1]):
            valence = valence * N_SCALAR
    elif start_i == 1:
        if lower[i - 2] == "never" and lower[i - 1] in ("so", "this"):
            valence = valence * 1.25
        elif lower[i - 2] == "without" and lower[i - 1] == "doubt":
            pass
        elif _negated(lower[i - 2]):
            valence = valence * N_SCALAR
    else:
        if (lower[i - 3] == "never" and lower[i - 2] in ("so", "this")) or lower[i - 1] in ("so", "this"):
            valence = valence * 1.25
        elif lower[i - 3] == "without" and (lower[i - 2] == "doubt" or lower[i - 1] == "doubt"):
            pass
        elif _negated(lower[i - 3]):
            valence = valence * N_SCALAR
    return valence


def _special_idioms_check(valence: float, lower: list[str], i: int) -> float:
    """VADER's ``_special_idioms_check``: its word sequences around ``lower[i]`` in its order, each joined only
    when its first and last words could make an idiom or a multi-word booster (most never can)."""
    for first, last in ((i - 1, i), (i - 2, i), (i - 2, i - 1), (i - 3, i - 1), (i - 3, i - 2)):
        if lower[first] in _IDIOM_FIRST and lower[last] in _IDIOM_LAST:
            sequence = " ".join(lower[first:last + 1])
            if sequence in SPECIAL_CASES:
                valence = SPECIAL_CASES[sequence]
                break
    for last in (i + 1, i + 2):
        if len(lower) > last and lower[i] in _IDIOM_FIRST and lower[last] in _IDIOM_LAST:
            sequence = " ".join(lower[i:last + 1])
            if sequence in SPECIAL_CASES:
                valence = SPECIAL_CASES[sequence]
    for first, last in ((i - 3, i - 1), (i - 3, i - 2), (i - 2, i - 1)):
        if lower[first] in _IDIOM_FIRST and lower[last] in _IDIOM_LAST:
            n_gram = " ".join(lower[first:last + 1])
            if n_gram in BOOSTER_DICT:
                valence = valence + BOOSTER_DICT[n_gram]
    return valence


def _least_check(valence: float, lower: list[str], lexicon: dict[str, float], i: int) -> float:
    if i > 1 and lower[i - 1] not in lexicon and lower[i - 1] == "least":
        if lower[i - 2] != "at" and lower[i - 2] != "very":
            valence = valence * N_SCALAR
    elif i > 0 and lower[i - 1] not in lexicon and lower[i - 1] == "least":
        valence = valence * N_SCALAR
    return valence
