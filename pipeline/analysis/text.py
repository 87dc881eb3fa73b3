"""Text preparation: markup normalisation with an offset map, sentence splitting, language detection.

Everything downstream works on the *clean* text; spans are mapped back to the original text with
``CleanText.original_span`` so evidence points at what the producer sent.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

_MARKUP = re.compile(
    r"<!--.*?-->|<(script|style)\b.*?</\1\s*>|<[^<>]{0,500}>"
    r"|&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});",
    re.DOTALL | re.IGNORECASE,
)
_BLOCK_TAG = re.compile(r"</?(p|div|br|li|h[1-6]|tr|section|article|blockquote|ul|ol|table)\b", re.IGNORECASE)
# Inline tags vanish without a trace ("<b>SFC</b>'s" stays one word); other tags become a space.
_INLINE_TAG = re.compile(r"</?(b|i|em|strong|span|a|u|sup|sub|font|small|mark|abbr|cite|q|time)\b",
                         re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CleanText:
    text: str
    # offsets[i] is the index in the original of clean character i; None when clean == original.
    offsets: list[int] | None
    original_length: int

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        if self.offsets is None:
            return start, end
        if start >= len(self.offsets):
            return self.original_length, self.original_length
        last = self.offsets[end - 1] + 1 if end > start else self.offsets[start]
        return self.offsets[start], last


def normalise(original: str) -> CleanText:
    """Strip HTML tags and decode entities, keeping a map from clean to original offsets."""
    if "<" not in original and "&" not in original:
        return CleanText(original, None, len(original))
    pieces: list[str] = []
    offsets: list[int] = []
    pos = 0
    for match in _MARKUP.finditer(original):
        if match.start() > pos:
            pieces.append(original[pos:match.start()])
            offsets.extend(range(pos, match.start()))
        token = match.group(0)
        if token.startswith("&"):
            decoded = html.unescape(token)
            replacement = " " if decoded == "\xa0" else decoded
        else:
            replacement = "\n" if _BLOCK_TAG.match(token) else ("" if _INLINE_TAG.match(token) else " ")
        pieces.append(replacement)
        offsets.extend([match.start()] * len(replacement))
        pos = match.end()
    pieces.append(original[pos:])
    offsets.extend(range(pos, len(original)))
    return CleanText("".join(pieces), offsets, len(original))


# --- sentences -----------------------------------------------------------------------------------

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt gov sen rep gen col lt sgt inc ltd co corp plc llc no nos vs "
    "etc jan feb mar apr jun jul aug sep sept oct nov dec approx est dept univ fig al e.g i.e "
    "u.s u.k u.n a.m p.m u.s.a u.a.e".split()
)
# A candidate boundary: terminal punctuation, optional closing quotes/brackets, then whitespace.
_LATIN_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)")
_CJK_END = re.compile(r"[。！？；!?]+[”’」』）)]*")
_CJK_MARKS = "。！？；!?"  # what every _CJK_END match starts with
_PARAGRAPH = re.compile(r"\n\s*")


def _latin_ends(text: str) -> list[int]:
    """The ends of ``_LATIN_END.finditer(text)``'s matches. Without "!" or "?" a match can only start at a ".",
    which ``str.find`` reaches at memory-scan speed, and the pattern is tried there alone: the same matches, where
    a search tried it at every character (most of the 80 µs an article took to split, now 24 µs in all)."""
    if "!" in text or "?" in text:
        return [m.end() for m in _LATIN_END.finditer(text)]
    ends = []
    dot = text.find(".")
    while dot >= 0:
        match = _LATIN_END.match(text, dot)
        if match is None:
            dot = text.find(".", dot + 1)
        else:
            ends.append(match.end())
            dot = text.find(".", match.end())
    return ends


def _candidate_ends(text: str) -> list[int]:
    """Where a sentence of the paragraph ``text`` may end, in order: both patterns' match ends."""
    candidates = _latin_ends(text)
    # The other pattern's ends: most paragraphs have none of its marks.
    if (not text.isascii() and any(mark in text for mark in _CJK_MARKS)) or "!" in text or "?" in text:
        candidates = sorted(candidates + [m.end() for m in _CJK_END.finditer(text)])
    return candidates


def _split_paragraph(text: str, offset: int, spans: list[tuple[int, int]]) -> None:
    start = 0
    for end in _candidate_ends(text):
        if end <= start:
            continue
        if text[end - 1] == "." and _is_abbreviation(text, end - 1):
            continue
        following = text[end:end + 3].lstrip()
        if following and text[end - 1] in ".!?\"'”’)]" and following[0].islower():
            continue  # "e.g. the" or a quote that continues the sentence
        _add(text, start, end, offset, spans)
        start = end
    _add(text, start, len(text), offset, spans)


def _is_abbreviation(text: str, dot: int) -> bool:
    word_start = dot
    while word_start > 0 and (text[word_start - 1].isalpha() or text[word_start - 1] == "."):
        word_start -= 1
    word = text[word_start:dot].lower()
    if word in _ABBREVIATIONS:
        return True
    # Single capital initials ("J. Smith") and dotted acronyms ("U.S.") are not sentence ends.
    return len(word) == 1 or (len(word) <= 5 and "." in word)


def _add(text: str, start: int, end: int, offset: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((offset + start, offset + end))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``[start, end)`` over ``text``; paragraphs (newlines) always end a sentence."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for match in _PARAGRAPH.finditer(text):
        _split_paragraph(text[pos:match.start()], pos, spans)
        pos = match.end()
    _split_paragraph(text[pos:], pos, spans)
    return spans


# --- case ----------------------------------------------------------------------------------------

# The only letters IGNORECASE matches to ASCII letters ("ſtill", the Kelvin sign; a unit test scans Unicode for
# them). İ is also the only letter that lower() turns into two characters.
FOLDS_TO_ASCII = ("\u0130", "\u0131", "\u017f", "\u212a")


def lowered_matches_alike(text: str) -> bool:
    """Whether a pattern whose letters are lower-case ASCII finds in ``text.lower()`` without IGNORECASE what it
    finds in ``text`` with it (half the time): yes unless ``text`` holds one of FOLDS_TO_ASCII."""
    return text.isascii() or not any(letter in text for letter in FOLDS_TO_ASCII)


def pattern_for_lowered(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """``pattern`` without IGNORECASE, to search lower-cased text where :func:`lowered_matches_alike`, when its
    only flag is IGNORECASE and its letters are lower-case ASCII: no other letter, no character by its code, no
    class but ``\\b \\s \\w \\d`` and their negations. Else None: search the text with ``pattern`` itself."""
    literal = re.sub(r"\\[bBsSwWdD]", "", pattern.pattern)
    if pattern.flags != re.IGNORECASE | re.UNICODE or "\\" in literal or not literal.isascii() \
            or any(c.isupper() for c in literal):
        return None
    return re.compile(pattern.pattern)


# --- where a match can start ---------------------------------------------------------------------

_LEADING_WORD = re.compile("[a-z]+")

def start_words(pattern: str) -> tuple[str, ...] | None:
    """The words one of which begins every match of ``pattern``, when each of its alternatives is ``\\b`` and a word
    or a group of alternative words: ``\\bcrack(?:s|ed)?\\s+down`` -> ("crack",), ``\\b(?:remains?|still)\\b`` ->
    ("remain", "still"). None when it cannot tell. Python's ``re`` finds no literal to scan for in such a pattern and
    tries it at every character; :func:`found_at_starts` tries it where these words are."""
    words: set[str] = set()
    for alternative in _alternatives(pattern) or [""]:
        if not alternative.startswith("\\b"):
            return None
        rest = alternative[2:]
        heads: list[str] | None = [rest]
        if rest.startswith("(?:"):
            end = _group_end(rest)
            heads = None if end < 0 or rest[end:end + 1] in ("?", "*", "{") else _alternatives(rest[3:end - 1])
        for head in heads or [""]:
            leading = _LEADING_WORD.match(head)
            word = leading.group() if leading else ""
            if head[len(word):len(word) + 1] in ("?", "*", "{"):
                word = word[:-1]  # its last letter is optional
            if not word:
                return None
            words.add(word)
    # A word that another starts with is found by that one ("ban" finds "bans")
    return tuple(sorted(w for w in words if not any(w != other and w.startswith(other) for other in words)))


def found_at_starts(pattern: re.Pattern[str], text: str, starts: tuple[str, ...] | None) -> bool:
    """``pattern.search(text) is not None``, with ``pattern`` tried only where one of ``starts`` (its
    :func:`start_words`) is; searched when they are None. (``\\b`` still sees the character before.)"""
    if starts is None:
        return pattern.search(text) is not None
    for word in starts:
        position = text.find(word)
        while position >= 0:
            if pattern.match(text, position) is not None:
                return True
            position = text.find(word, position + 1)
    return False


def _alternatives(body: str) -> list[str] | None:
    """``body`` split at each ``|`` outside groups and character classes; None if its parentheses do not pair."""
    parts, depth, start, index, in_class = [], 0, 0, 0, False
    while index < len(body):
        char = body[index]
        if char == "\\":
            index += 1
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char in "()":
            depth += 1 if char == "(" else -1
            if depth < 0:
                return None
        elif char == "|" and depth == 0:
            parts.append(body[start:index])
            start = index + 1
        index += 1
    parts.append(body[start:])
    return parts if depth == 0 else None


def _group_end(text: str) -> int:
    """The index after the parenthesis that closes the group opening ``text``; -1 if none does."""
    depth, index, in_class = 0, 0, False
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 1
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char in "()":
            depth += 1 if char == "(" else -1
            if depth == 0:
                return index + 1
        index += 1
    return -1


# --- language ------------------------------------------------------------------------------------

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ENGLISH_FUNCTION_WORDS = frozenset(
    b"the of and to in a is that for on with as by it was be are from at has have an its this "
    b"which said will not but or were been their would they".split()
)
# Latin words ([A-Za-z]+ runs) in bytes: other characters become spaces, capitals lower case. (A regex findall of
# the words took twice as long.)
_LATIN_LETTERS = bytes(c if chr(c).isascii() and chr(c).isalpha() else 32 for c in range(256)).lower()


def detect_language(text: str) -> str:
    """'zh', 'en' or 'und': enough to decide whether the English tone model applies."""
    sample = text[:4000]
    cjk = 0 if sample.isascii() else len(_CJK.findall(sample))
    # A character outside ASCII encodes as one "?", which the table turns into a space: it still ends a word.
    words = sample.encode("ascii", "replace").translate(_LATIN_LETTERS).split()
    if cjk and cjk >= len(words):
        return "zh"
    if not words:
        return "und"
    english = sum(map(_ENGLISH_FUNCTION_WORDS.__contains__, words))
    if len(words) < 12:
        return "en" if english else "und"
    return "en" if english / len(words) >= 0.12 else "und"
