"""Crypto relevance and tone: VADER per sentence, extended with a policy-language lexicon.

VADER looks up single tokens, so multi-word policy phrases ("crack down", "lifted the ban") are first
rewritten to one synthetic token that the domain lexicon scores. VADER's own negation handling then
applies to them ("will not ban" flips the sign of "ban").
"""

from __future__ import annotations

import bisect
import json
import re
import string
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import ahocorasick_rs

from pipeline.analysis.patterns import CaseFreePattern, blanked, blanking_table, lowered_matches_alike
from pipeline.analysis.vader import FastVader

_TOKEN_CHARS = frozenset(string.ascii_lowercase + string.digits)
_TOKEN = re.compile(f"[{''.join(sorted(_TOKEN_CHARS))}]+")
# A sentence blanked with it, split, gives the tokens _TOKEN finds in it (see _tokens)
_TOKEN_BYTES = blanking_table("".join(sorted(_TOKEN_CHARS)))
# What an anchor token found in a sentence says (ToneScorer.crypto_contents): it is a whole crypto / adjacent term,
# or part of a multi-token one (only the sentence's tokens can tell whether the rest is there).
_CRYPTO_TERM, _CRYPTO_PART, _ADJACENT_TERM, _ADJACENT_PART = 1, 2, 4, 8
_PUNCTUATION = string.punctuation


def _tokens(lowered: str) -> list[str]:
    """``_TOKEN.findall(lowered)``, split from a copy instead of found by the pattern at every character."""
    return blanked(lowered, _TOKEN_BYTES).split()


class TermSet:
    """Literal terms found in one tokenising pass: Latin terms as whole tokens or token sequences,
    Chinese terms (no spaces to split on) as substrings. Much faster than one big regex."""

    def __init__(self, terms: list[str]) -> None:
        self.single: set[str] = set()
        self.multi: list[str] = []
        self.cjk: list[str] = []
        self.multi_first: set[str] = set()
        for term in terms:
            if not term.isascii():
                self.cjk.append(term)
                continue
            tokens = _TOKEN.findall(term.lower())
            if len(tokens) == 1:
                self.single.add(tokens[0])
            else:
                self.multi.append(" " + " ".join(tokens) + " ")
                self.multi_first.add(tokens[0])

    def search_chinese(self, lowered: str) -> bool:
        """Whether a Chinese term of the set is in ``lowered``."""
        return bool(self.cjk) and not lowered.isascii() and any(term in lowered for term in self.cjk)

    @property
    def first_tokens(self) -> set[str]:
        """A sentence in which a Latin term of the set matches holds one of these tokens."""
        return self.single | self.multi_first

    @property
    def multi_anchors(self) -> set[str]:
        """A token each multi-token term needs: its longest (the "e" of "e-CNY" is in most sentences, "cny" in few)."""
        return {max(term.split(), key=lambda token: (len(token), token)) for term in self.multi}

    def search(self, lowered: str, tokens: list[str]) -> bool:
        """``tokens``: :func:`_tokens` of ``lowered``, shared between term sets."""
        if self.search_chinese(lowered):
            return True
        if not self.single.isdisjoint(tokens):
            return True
        if not self.multi_first.isdisjoint(tokens):
            joined = " " + " ".join(tokens) + " "
            return any(term in joined for term in self.multi)
        return False


@dataclass(frozen=True)
class Lexicon:
    version: str
    crypto_terms: TermSet
    adjacent_terms: TermSet
    words: dict[str, float]
    # (pattern, synthetic token, hints): a phrase can only match where one of its hints occurs
    phrases: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...]
    neutralise: frozenset[str]


def load_lexicon(data: dict[str, Any]) -> Lexicon:
    words = {k.lower(): float(v) for k, v in data["words"].items()}
    phrases = []
    for phrase in data["phrases"]:
        words[phrase["token"]] = float(phrase["valence"])
        phrases.append((re.compile(phrase["pattern"], re.IGNORECASE), f" {phrase['token']} ",
                        tuple(phrase["hints"])))
    return Lexicon(data["version"], TermSet(data["crypto_terms"]), TermSet(data["adjacent_terms"]), words,
                   tuple(phrases), frozenset(data.get("neutralise", [])))


@cache
def default_lexicon() -> Lexicon:
    raw = resources.files("pipeline.data").joinpath("lexicon.json").read_text(encoding="utf-8")
    return load_lexicon(json.loads(raw))


class ToneScorer:
    """VADER with the domain lexicon merged in; one instance per process (building it costs ~50 ms)."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._vader = FastVader()
        for word in lexicon.neutralise:
            # Words VADER scores that carry no tone in financial news ("bitcoin mining", "bull" markets).
            self._vader.lexicon.pop(word, None)
        self._vader.lexicon.update(lexicon.words)
        self._lexicon_words = frozenset(word for word, valence in self._vader.lexicon.items() if valence)
        # Tokens that can start any crypto or adjacent term: most sentences have none, one check answers both.
        terms = (lexicon.crypto_terms, lexicon.adjacent_terms)
        self._term_starts = frozenset().union(*(t.first_tokens for t in terms))
        self._cjk_terms = any(t.cjk for t in terms)
        # What finding each anchor token in a sentence says (_CRYPTO_TERM, ... bits), by the automaton's index
        kinds: dict[str, int] = {}
        for token_set, whole, part in ((lexicon.crypto_terms, _CRYPTO_TERM, _CRYPTO_PART),
                                       (lexicon.adjacent_terms, _ADJACENT_TERM, _ADJACENT_PART)):
            for token in token_set.single:
                kinds[token] = kinds.get(token, 0) | whole
            for token in token_set.multi_anchors:
                kinds[token] = kinds.get(token, 0) | part
        anchors = sorted(kinds)
        self._anchor_kinds = [kinds[token] for token in anchors]
        self._anchors = ahocorasick_rs.AhoCorasick(anchors) if anchors else None
        # Which phrases a sentence may hold, from one scan for all their hints (every occurrence, overlaps too)
        hints = sorted({hint for _, _, group in lexicon.phrases for hint in group})
        self._hints = ahocorasick_rs.AhoCorasick(hints) if hints else None
        self._phrases_by_hint = [[index for index, (_, _, group) in enumerate(lexicon.phrases) if hint in group]
                                 for hint in hints]
        self._case_free = [CaseFreePattern(pattern) for pattern, _, _ in lexicon.phrases]

    def crypto_content(self, sentence: str) -> tuple[bool, bool]:
        """(about crypto proper, about crypto or adjacent state-sanctioned technology). A CBDC (e-CNY) is
        state money and blockchain is ledger technology Beijing promotes: news about them is crypto-relevant,
        but an e-CNY pilot or a blockchain push is no evidence that Beijing is warming to crypto."""
        lowered = sentence.lower()
        tokens = _tokens(lowered)
        if self._term_starts.isdisjoint(tokens) and (lowered.isascii() or not self._cjk_terms):
            return False, False
        private = self.lexicon.crypto_terms.search(lowered, tokens)
        return private, private or self.lexicon.adjacent_terms.search(lowered, tokens)

    def crypto_contents(self, text: str, spans: list[tuple[int, int]],
                        lowered: str | None = None) -> list[tuple[bool, bool]]:
        """:meth:`crypto_content` of each sentence span of ``text``. One scan of the whole text finds, per sentence,
        the tokens that some term needs: a sentence with none holds no term, one holding a one-token term needs no
        tokenising. Only the rest (a multi-token term's anchor token alone; a non-ASCII sentence, for the Chinese
        terms) are checked by :meth:`crypto_content`. ``lowered`` is ``text.lower()`` when the caller has it."""
        lowered = text.lower() if lowered is None else lowered
        if self._anchors is None or len(lowered) != len(text):  # lower() lengthened a character: no shared offsets
            return [self.crypto_content(text[start:end]) for start, end in spans]
        starts = [start for start, _ in spans]
        found = [0] * len(spans)
        for anchor, start, end in self._anchors.find_matches_as_indexes(lowered, overlapping=True):
            # A whole token only (a sentence boundary never splits one: spans end at punctuation or a newline)
            if (start == 0 or lowered[start - 1] not in _TOKEN_CHARS) and \
                    (end == len(lowered) or lowered[end] not in _TOKEN_CHARS):
                found[bisect.bisect_right(starts, start) - 1] |= self._anchor_kinds[anchor]
        contents = []
        for (start, end), kinds in zip(spans, found, strict=True):
            if kinds & _CRYPTO_TERM:
                content = (True, True)
            elif kinds & _CRYPTO_PART:
                content = self.crypto_content(text[start:end])
            elif self._cjk_terms and not text[start:end].isascii():  # a Chinese term may be there (or a curly quote)
                content = self.crypto_content(text[start:end]) if kinds else self._chinese_content(lowered[start:end])
            elif kinds & _ADJACENT_TERM:
                content = (False, True)
            elif kinds & _ADJACENT_PART:
                content = self.crypto_content(text[start:end])
            else:
                content = (False, False)
            contents.append(content)
        return contents

    def _chinese_content(self, lowered: str) -> tuple[bool, bool]:
        """:meth:`crypto_content` of a sentence in which no Latin term's anchor token was found: only a Chinese
        term can be there."""
        private = self.lexicon.crypto_terms.search_chinese(lowered)
        return private, private or self.lexicon.adjacent_terms.search_chinese(lowered)

    def is_crypto(self, sentence: str) -> bool:
        return self.crypto_content(sentence)[1]

    def rewrite(self, sentence: str) -> str:
        """``sentence`` with each phrase one of whose hints it holds replaced by the phrase's token, in the
        lexicon's order."""
        return self._rewrite(sentence, sentence.lower())[0]

    def _rewrite(self, sentence: str, lowered: str) -> tuple[str, str]:
        """:meth:`rewrite`, and the result lower-cased: most sentences hold no hint and are lowered only once."""
        found = self._hints.find_matches_as_indexes(lowered, overlapping=True) if self._hints is not None else []
        if not found:
            return sentence, lowered
        alike = lowered_matches_alike(sentence)  # and stays so: the tokens put in are ASCII
        for index in sorted({phrase for hint, _, _ in found for phrase in self._phrases_by_hint[hint]}):
            pattern, token, _ = self.lexicon.phrases[index]
            if self._case_free[index].rules_out(lowered, alike):
                continue  # most hints are in other words ("ban" in "bank"): no match, and no need for the slower sub
            sentence, replaced = pattern.subn(token, sentence)
            if replaced:
                lowered = sentence.lower()
        return sentence, lowered

    def score(self, sentence: str) -> float:
        """Compound tone of one sentence in [-1, 1]."""
        rewritten, lowered = self._rewrite(sentence, sentence.lower())
        raw = lowered.split()
        if self._lexicon_words.isdisjoint(raw) and \
                self._lexicon_words.isdisjoint([token.strip(_PUNCTUATION) for token in raw]):
            # VADER gives valence only to lexicon entries (looked up raw or punctuation-stripped), so a
            # sentence without any scores 0: skip the expensive call, same result.
            return 0.0
        return self._vader.compound(rewritten)


@cache
def default_scorer() -> ToneScorer:
    return ToneScorer(default_lexicon())
