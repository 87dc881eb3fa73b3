"""Shortcuts around Python's ``re`` that find the same matches in less time; property tests compare each with the
plain pattern (tests/unit/test_regex_shortcuts.py).

- Case: a pattern whose letters are lower-case ASCII finds, without IGNORECASE, the same matches in
  ``text.lower()`` as it finds in ``text`` with it (half the time), unless the text holds a letter IGNORECASE
  folds to an ASCII one.
- Start words: a pattern that begins with ``\\b`` gives ``re`` no literal to scan for, so a search tries it at
  every character; tried only where one of the words its matches begin with is, it answers the same.
- ASCII copies: the runs of some ASCII characters in a text, found by splitting a blanked copy of it.
"""

from __future__ import annotations

import re

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


class CaseFreePattern:
    """An IGNORECASE pattern with both shortcuts: searched without IGNORECASE in the lower-cased text where
    :func:`lowered_matches_alike`, and there tried only at its :func:`start_words`. The plain pattern elsewhere."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.lowered = pattern_for_lowered(pattern)  # None: no shortcut is safe for it
        self.starts = start_words(self.lowered) if self.lowered is not None else None

    def found(self, text: str, lowered: str, alike: bool) -> bool:
        """``pattern.search(text) is not None``; ``lowered`` is ``text.lower()``, ``alike`` whether
        :func:`lowered_matches_alike`."""
        if alike and self.lowered is not None:
            return found_at_starts(self.lowered, lowered, self.starts)
        return self.pattern.search(text) is not None

    def rules_out(self, lowered: str, alike: bool) -> bool:
        """Whether the shortcuts alone tell that ``pattern`` does not match the text ``lowered`` came from; False
        where they do not apply (the caller searches anyway: no search is made here for it to repeat)."""
        return alike and self.lowered is not None and not found_at_starts(self.lowered, lowered, self.starts)

    def search(self, text: str, lowered: str, alike: bool, pos: int, endpos: int) -> re.Match[str] | None:
        """``pattern.search(text, pos, endpos)``, in ``lowered`` where ``alike``: the same span."""
        if alike and self.lowered is not None:
            return self.lowered.search(lowered, pos, endpos)
        return self.pattern.search(text, pos, endpos)


# --- ASCII copies ----------------------------------------------------------------------------------

def blanking_table(keep: str) -> bytes:
    """A ``bytes.translate`` table for :func:`blanked`: the ASCII characters of ``keep`` stay, every other byte
    becomes a space."""
    return bytes(c if chr(c) in keep else 32 for c in range(128)) + b" " * 128


def blanked(text: str, table: bytes) -> str:
    """``text`` with every character ``table`` does not keep turned into a space, at the same length (each
    non-ASCII character is one "?" first): splitting it finds runs of the kept characters without a regex tried at
    every character."""
    return text.encode("ascii", "replace").translate(table).decode("ascii")


# --- where a match can start ---------------------------------------------------------------------

_LEADING_WORD = re.compile("[a-z]+")


def start_words(pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    """The words one of which begins every match of ``pattern``, when it has no flag (a lowered pattern) and each
    of its alternatives is ``\\b`` and a word or a group of alternative words: ``\\bcrack(?:s|ed)?\\s+down`` ->
    ("crack",), ``\\b(?:remains?|still)\\b`` -> ("remain", "still"). None when it cannot tell (a flag, a comment,
    a class or an optional group first): :func:`found_at_starts` then searches."""
    text = pattern.pattern
    if pattern.flags != re.UNICODE or "(?#" in text:
        return None  # VERBOSE reads spaces and "#" otherwise; IGNORECASE matches more than str.find finds
    words: set[str] = set()
    for alternative in _alternatives(text) or [""]:
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
    """``body`` split at each ``|`` outside groups and classes; None if its parentheses do not pair."""
    parts, start, depth = [], 0, 0
    for index, depth in _depths(body):
        if depth < 0:
            return None
        if depth == 0 and body[index] == "|":
            parts.append(body[start:index])
            start = index + 1
    parts.append(body[start:])
    return parts if depth == 0 else None


def _group_end(text: str) -> int:
    """The index after the parenthesis that closes the group opening ``text``; -1 if none does."""
    for index, depth in _depths(text):
        if depth == 0 and text[index] == ")":
            return index + 1
    return -1


def _depths(text: str) -> list[tuple[int, int]]:
    """Each character's index with the group depth after it, escapes and character classes left out (a class
    ends at its first ``]`` but one that comes first or after its ``^``, as ``re`` reads it)."""
    depths, depth, index = [], 0, 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            index += 2 if text.startswith("^", index + 1) else 1
            index += 1 if text.startswith("]", index) else 0
            while index < len(text) and text[index] != "]":
                index += 2 if text[index] == "\\" else 1
            index += 1
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        depths.append((index, depth))
        index += 1
    return depths
