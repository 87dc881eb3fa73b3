"""The analysis's shortcuts around its regexes find what the regexes alone find (property tests)."""

from __future__ import annotations

import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.analysis import evidence, tone
from pipeline.analysis.patterns import (
    FOLDS_TO_ASCII,
    CaseFreePattern,
    found_at_starts,
    lowered_matches_alike,
    pattern_for_lowered,
    start_words,
)
from pipeline.analysis.tone import default_scorer

_NEGATION_PIECES = st.sampled_from([
    "will", "not", "NOT", "no", "never", "ruled", "out", "ruled out", "won't", "n't", "ban", "cannot", "lifted",
    "end", "ending", "x", " ", "  ", "\t", "\n", "\u00a0", "\u3000", ".", ",", "-", "(", "“", "\u212a", "中文", "İ",
    "NEVER", "ſcrapped",
])


@settings(max_examples=500, deadline=None)
@given(st.lists(_NEGATION_PIECES, max_size=40).map("".join) | st.text(max_size=120))
def test_negation_is_the_regex_searched_over_the_whole_window(sentence: str) -> None:
    # _negation starts its search at the window's fifth-last word, on the lower-cased sentence where that matches
    # alike: the same leftmost match at every trigger position.
    for start in range(len(sentence) + 1):
        expected = evidence._NEGATION.search(sentence, max(0, start - 60), start)
        found = evidence._negation(sentence, sentence.lower(), start, lowered_matches_alike(sentence))
        assert (found.span() if found else None) == (expected.span() if expected else None), start


_WORD_PIECES = st.sampled_from([
    "ban", "cross-border", "china's", "-", "'", "--", "''", "-ban", "ban-", " ", "\n", "é", "İ", "\u212a", "中文",
    "?", ".", "3", "_", "\ud800", "“", "’", "ſ",
])


@settings(max_examples=800, deadline=None)
@given(st.lists(_WORD_PIECES, max_size=30).map("".join) | st.text(max_size=120))
def test_trigger_words_are_the_word_regex_matches(sentence: str) -> None:
    # _triggers finds its words with str.split on a same-length ASCII copy (_plain), and their places by searching
    # that copy: the copy must hold the same matches at the same places, and _words must list exactly them.
    lowered = sentence.lower()
    plain = evidence._plain(lowered)
    assert len(plain) == len(lowered)
    matches = [(m.group(), m.start()) for m in evidence._WORD.finditer(lowered)]
    assert [(m.group(), m.start()) for m in evidence._WORD.finditer(plain)] == matches
    assert evidence._words(plain) == [word for word, _ in matches]


_TRIGGER_PIECES = st.sampled_from([
    "ban", "Banned", "bank", "urban", "crack", "down", "ordered", "told", "to", "halt", "wind", "stop", "money",
    "laundering", "china's", "cross-border", "risk", "alerts", "report", "on", "pilot", "eased", "the", "brokers",
    "-", "'", " ", "  ", ", ", ". ", "é", "中文", "2024",
])


def _triggers_as_first_written(lowered: str) -> dict[str, int]:
    """evidence._triggers without its shortcuts: every word the pattern finds, at the place it finds it."""
    words = [(match.group(), match.start()) for match in evidence._WORD.finditer(lowered)]
    first: dict[str, int] = {}
    for index, (word, start) in enumerate(words):
        kinds, pair_first, instruction, _ = evidence._word_info(word)
        for kind in kinds:
            first.setdefault(kind, start)
        if pair_first and index + 1 < len(words):
            for kind in evidence._pair_kinds(f"{word} {words[index + 1][0]}"):
                first.setdefault(kind, start)
        if instruction and "halt_order" not in first and \
                any(evidence._word_info(after)[3] for after, _ in words[index + 1:index + 8]):
            first["halt_order"] = start
    return first


@settings(max_examples=800, deadline=None)
@given(st.lists(_TRIGGER_PIECES, max_size=30).map(" ".join) | st.lists(_TRIGGER_PIECES, max_size=30).map("".join))
def test_trigger_positions_are_those_of_every_word_the_pattern_finds(sentence: str) -> None:
    # The words split from the ASCII copy, the set of words known to start nothing (filled as examples run), and
    # the positions found by searching the copy give what looking at every match in place gives.
    lowered = sentence.lower()
    assert evidence._triggers(lowered) == _triggers_as_first_written(lowered)


_STATUS_PIECES = st.sampled_from([
    "Trading", "remains", "REMAINS", "still", "have long", "Still", "already", "has long", "since", "continues to",
    "keeps",
    "effectively", "maintains", "stays in force", "in place", "ban", "Bans", "banned", "bank", "prohibition",
    "prohibited", "illegal", "outlawed", "forbidden", "is", "are", "had", "cracked", "ſtill", "ı", "İ", "\u212aeeps",
    "中文", " ", "  ", "\u00a0", ".", ",", "in 2019", "2024", "1999", "20", "19", "in 120195", "(2023)",
])


@settings(max_examples=800, deadline=None)
@given(st.lists(_STATUS_PIECES, max_size=30).map(" ".join) | st.text(max_size=120))
def test_background_is_the_status_quo_regex_on_the_sentence(sentence: str) -> None:
    # The word check in front of the regex never hides a match, and the pattern without IGNORECASE on a lower-cased
    # ASCII sentence finds what it found on the sentence.
    expected = evidence._STATUS_QUO.search(sentence) is not None
    if expected and lowered_matches_alike(sentence):
        assert evidence._may_be_status_quo(sentence.lower())
    assert evidence._is_background(sentence, sentence.lower(), None, lowered_matches_alike(sentence)) is expected
    # With the article's year, an older year in the sentence makes it background too.
    years = [int(year) for year in evidence._YEAR.findall(sentence)]
    expected = expected or (bool(years) and max(years) < 2024)
    assert evidence._is_background(sentence, sentence.lower(), 2024, lowered_matches_alike(sentence)) is expected


def test_the_listed_letters_are_all_that_ignorecase_matches_to_ascii_letters() -> None:
    ascii_letter = re.compile("[a-z]", re.IGNORECASE)
    folding = {chr(c) for c in range(128, sys.maxunicode + 1) if ascii_letter.fullmatch(chr(c))}
    assert folding == set(FOLDS_TO_ASCII)


_PHRASE_PIECES = st.sampled_from([
    "Beijing", "LIFTED", "lifted", "the", "ban", "bank", "Bank", "crack", "Cracked", "down", "green-light", "money",
    "Laundering", "put", "plans", "on", "hold", "Pro-Crypto", "warned", "investors", "ſhut", "inveſtors", "“", "’",
    "\u212a", "İ", ".",
])


@settings(max_examples=800, deadline=None)
@given(st.lists(_PHRASE_PIECES, max_size=25).map(" ".join) | st.text(max_size=120))
def test_phrases_are_rewritten_as_by_every_pattern_in_turn(sentence: str) -> None:
    # _rewrite skips a phrase whose pattern, without IGNORECASE, is not in the lower-cased sentence: the same
    # rewriting as every hinted phrase's substitution in the lexicon's order.
    scorer = default_scorer()
    expected = sentence
    for pattern, token, _ in scorer.lexicon.phrases:
        expected = pattern.sub(token, expected)
    assert scorer._rewrite(sentence, sentence.lower()) == (expected, expected.lower())


def test_only_case_free_patterns_are_matched_on_lowered_text() -> None:
    # Every shipped pattern takes the faster search (else these shortcuts would quietly not apply) ...
    assert all(pattern.lowered is not None for pattern in default_scorer()._case_free)
    assert evidence._NEGATION_CASE_FREE.lowered is not None and evidence._STATUS_QUO_CASE_FREE.lowered is not None
    # ... and one that names a capital, a character by its code, a non-ASCII letter or another flag does not.
    for unsafe in (r"\bBan\b", r"[A-Z]an", r"\x42an", r"café"):
        assert pattern_for_lowered(re.compile(unsafe, re.IGNORECASE)) is None, unsafe
    assert pattern_for_lowered(re.compile(r"\bban", re.IGNORECASE | re.ASCII)) is None
    assert pattern_for_lowered(re.compile(r"\bban\s+\w+", re.IGNORECASE)) is not None


def test_start_words_are_what_every_match_begins_with_or_none() -> None:
    # Every shipped pattern has them (else the search at every character would quietly come back).
    assert all(pattern.starts is not None for pattern in default_scorer()._case_free)
    starts = evidence._STATUS_QUO_CASE_FREE.starts
    assert starts is not None and "had" in starts
    cases = {
        r"\bcrack(?:s|ed)?\s+down\b": ("crack",),
        r"\b(?:remains?|still|bans?|ban)\b|\bhad\s": ("ban", "had", "remain", "still"),
        r"\b(?:a\)b|c)d": ("a", "c"),  # an escaped parenthesis does not close the group
        r"\ba[](]|\bc[^]|)]": ("a", "c"),  # nor one in a class, even after a "]" that the class begins with
        r"\b(?:ab)+c": ("ab",),
        r"\bab?c": ("a",), r"\bab*": ("a",), r"\bab{0,2}": ("a",), r"\bgreen[- ]light": ("green",),
    }
    for pattern, words in cases.items():
        assert start_words(re.compile(pattern)) == words, pattern
    # Where a match may begin otherwise, there are none: an optional group, no \b, a class or a nested group
    # first, a comment (it may stand before a "?").
    for pattern in (r"\b(?:a|b)?c", r"\b(?:ab|c)*d", r"\ba*", r"x\bab", r"\bab|cd", r"\b[ab]c",
                    r"\b(?:ab|(?:c|d)e)", r"\b(?=a)ab", r"\b", r"\bab(?#c)?"):
        assert start_words(re.compile(pattern)) is None, pattern
    # A flag changes what matches: VERBOSE ignores the space ("ab ?c" matches "ac"), IGNORECASE the case.
    assert start_words(re.compile(r"\bab ?c", re.VERBOSE)) is None
    assert start_words(re.compile(r"\bab", re.IGNORECASE)) is None


_START_PATTERNS = [r"\b(?:ab|c)d", r"\bab?c", r"\b(?:a\)b|c)d", r"\b(?:ab)+c\b", r"\bc(?:d|)\s+a\b",
                   r"\ba[](]|\bc[^]|)]", r"\bc[d ]a"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "d", "ab", "cd", "a)b", "(", ")", "]", " ", "x", "_", "1", "é"]),
                max_size=20).map("".join))
def test_a_pattern_tried_at_its_start_words_is_found_where_a_search_finds_it(text: str) -> None:
    for pattern in map(re.compile, _START_PATTERNS):
        starts = start_words(pattern)
        assert starts is not None, pattern.pattern
        assert found_at_starts(pattern, text, starts) is (pattern.search(text) is not None), pattern.pattern


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["e-CNY", "bitcoin2", "web3", "İstanbul", "\u212a", "ſ", "中文", "é", "_", " ",
                                 "\ud800", "“", "0", "x"]), max_size=30).map("".join) | st.text(max_size=80))
def test_term_tokens_are_the_token_regex_matches(sentence: str) -> None:
    lowered = sentence.lower()
    assert tone._tokens(lowered) == tone._TOKEN.findall(lowered)


def test_a_case_free_pattern_rules_out_only_where_its_shortcuts_apply() -> None:
    shortcut = CaseFreePattern(re.compile(r"\bcrack(?:s|ed)?\s+down\b", re.IGNORECASE))
    assert shortcut.rules_out("the bank cracked open", alike=True)
    assert not shortcut.rules_out("police cracked down", alike=True)
    assert not shortcut.rules_out("the bank cracked open", alike=False)  # a folding letter: the caller searches
    plain = CaseFreePattern(re.compile(r"\bcafé", re.IGNORECASE))  # no lowered form: never ruled out here
    assert plain.lowered is None and not plain.rules_out("no such word", alike=True)
