from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.analysis import text as text_module
from pipeline.analysis.text import detect_language, normalise, split_sentences


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def test_abbreviations_and_initials_do_not_end_sentences() -> None:
    text = "Mr. Chan met U.S. officials on Jan. 5 at 3 p.m. in Washington. J. Smith said the SEC agreed."
    assert sentences(text) == [
        "Mr. Chan met U.S. officials on Jan. 5 at 3 p.m. in Washington.",
        "J. Smith said the SEC agreed.",
    ]


def test_quotes_and_paragraphs() -> None:
    text = 'He said: "The ban stays." Officials agreed.\nA new paragraph starts here'
    assert sentences(text) == ['He said: "The ban stays."', "Officials agreed.", "A new paragraph starts here"]


def test_chinese_punctuation() -> None:
    text = "中国人民银行表示，虚拟货币交易属于非法金融活动。香港证监会发出牌照！市场反应积极？"
    assert sentences(text) == [
        "中国人民银行表示，虚拟货币交易属于非法金融活动。", "香港证监会发出牌照！", "市场反应积极？"]


def test_spans_point_into_the_text() -> None:
    text = "  First one.   Second one!  "
    for start, end in split_sentences(text):
        assert text[start:end].strip() == text[start:end]


def test_markup_is_removed_and_spans_map_back_to_the_original() -> None:
    original = "<p>Hong&nbsp;Kong&#39;s <b>SFC</b> acted.</p><p>Beijing &amp; Shanghai watched.</p>"
    clean = normalise(original)
    assert "Hong Kong's SFC acted." in clean.text
    assert "Beijing & Shanghai watched." in clean.text
    start = clean.text.index("SFC")
    a, b = clean.original_span(start, start + 3)
    assert original[a:b] == "SFC"
    start = clean.text.index("Shanghai")
    a, b = clean.original_span(start, start + len("Shanghai"))
    assert original[a:b] == "Shanghai"


def test_plain_text_needs_no_offset_map() -> None:
    clean = normalise("No markup here.")
    assert clean.offsets is None and clean.original_span(3, 9) == (3, 9)


def test_language_detection() -> None:
    assert detect_language("The central bank said that the ban on crypto trading would stay in place.") == "en"
    assert detect_language("香港证监会周二向第二家虚拟资产交易平台发出牌照。") == "zh"
    assert detect_language("La banque centrale a déclaré que l'interdiction resterait en vigueur pour les "
                           "cryptomonnaies et les plateformes d'échange en France.") == "und"


_WORD = re.compile(r"[A-Za-z]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_FUNCTION_WORDS = {word.decode() for word in text_module._ENGLISH_FUNCTION_WORDS}  # the list; the counting is tested


def _language_by_regex(text: str) -> str:
    """The rule as first written: Latin words are ``[A-Za-z]+`` runs, counted by a regex."""
    sample = text[:4000]
    cjk, words = len(_CJK.findall(sample)), _WORD.findall(sample)
    if cjk and cjk >= len(words):
        return "zh"
    if not words:
        return "und"
    english = sum(1 for w in words if w.lower() in _FUNCTION_WORDS)
    if len(words) < 12:
        return "en" if english else "und"
    return "en" if english / len(words) >= 0.12 else "und"


_PIECES = st.sampled_from(["the", "The", "OF", "and", "said", "crypto", "e", "é", "İ", "\u212a", "’", "中文",
                           "\u3400", "\uf900", " ", "  ", "\n", ".", "-", "x1"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=60).map("".join) | st.text(max_size=300))
def test_language_detection_counts_words_as_the_regex_rule_does(text: str) -> None:
    # detect_language finds the words in ASCII bytes, not with the regex: non-ASCII letters, the Kelvin sign
    # (which lower-cases to "k") and dotted capitals must still split and count as the regex rule does.
    assert detect_language(text) == _language_by_regex(text)


_END_PIECES = st.sampled_from(["word", "U.S", "e.g", " ", "\n", "\u00a0", "\u3000", ".", "...", "!", "?", '"', "'",
                               ")", "]", "”", "’", "」", "』", "）", "。", "！", "？", "；", "中文", "é"])


@settings(max_examples=600, deadline=None)
@given(st.lists(_END_PIECES, max_size=40).map("".join) | st.text(max_size=200))
def test_candidate_ends_are_both_patterns_match_ends(paragraph: str) -> None:
    # _latin_ends tries its pattern only at each "." when there is no "!" or "?", and the CJK pattern runs only
    # when one of its marks is there: still the ends of both patterns searched over every character.
    latin = [m.end() for m in text_module._LATIN_END.finditer(paragraph)]
    assert text_module._latin_ends(paragraph) == latin
    cjk = [m.end() for m in text_module._CJK_END.finditer(paragraph)]
    assert text_module._candidate_ends(paragraph) == sorted(latin + cjk)
