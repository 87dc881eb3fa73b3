"""Reciprocity evidence: the taxonomy of what a mainland actor can do about crypto, and its detection.

A sentence is evidence when a mainland actor (CN or CN-SH, directly or carried over from the previous
sentence of the same paragraph) appears with crypto policy content. Each kind has a direction; a
negation before the trigger ("will not ban", "has no plans to ease") flips it.

| kind                  | direction | triggers (examples)                                        |
|-----------------------|-----------|------------------------------------------------------------|
| ban                   | -1        | ban, prohibit, illegal, outlaw                             |
| crackdown             | -1        | crackdown, crack down, clamp down, shut down, rectify      |
| enforcement           | -1        | arrest, prosecute, seize, money laundering case            |
| halt_order            | -1        | ordered to halt / stop / suspend / cease                   |
| censorship            | -1        | pulled, removed, deleted, censored, blocked                |
| warning               | -1        | warn, risk alert, caution                                  |
| state_media_coverage  | +1        | a state outlet airs / reports / features crypto (tone may flip it) |
| cross_border_connect  | +1        | connect, link, channel, cross-border access with Hong Kong |
| regulatory_easing     | +1        | ease, relax, allow, approve, support, study, explore       |
| pilot                 | +1        | pilot, trial, sandbox, cross-border e-CNY tests            |
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache

from pipeline.analysis.patterns import CaseFreePattern, blanked, blanking_table, lowered_matches_alike

KINDS: dict[str, int] = {
    "ban": -1,
    "crackdown": -1,
    "enforcement": -1,
    "halt_order": -1,
    "censorship": -1,
    "warning": -1,
    "state_media_coverage": 1,
    "cross_border_connect": 1,
    "regulatory_easing": 1,
    "pilot": 1,
}

# Triggers are matched on words (cached per distinct word) and word pairs: far faster than running
# one regex per kind over every sentence. Single words:
_WORD_PATTERNS: dict[str, str] = {
    "ban": r"ban(?:s|ned|ning)?|prohibit\w*|illegal|outlaw\w*|forbid\w*|forbade",
    "crackdown": r"crackdowns?|clampdown|rectif\w+|purge[sd]?|tighten\w*|intervention|intervened|pressure",
    "enforcement": r"arrest\w*|detain\w*|prosecut\w*|seiz\w*|confiscat\w*|sentenced|busted|raid(?:s|ed)?",
    "halt_order": r"(?:halt|suspend|paus|ceas)(?:e|es|ed|ing|s|ion)?",
    "censorship": r"censor\w*|pulled|scrubbed|deleted",
    "warning": r"warn(?:s|ed|ing|ings)?|caution(?:ed|s)?|wary",
    "state_media_coverage": r"aired|broadcast\w*|segment|featured|coverage|programme|program|editorial|commentary",
    "cross_border_connect": r"connect|link(?:s|age)?|channel|cross-border|corridor|bridge",
    # Verb forms only: "researcher", "supporters" name people, not a policy move.
    "regulatory_easing": r"eas(?:e|es|ed|ing)|relax\w*|loosen\w*|allow\w*|permit\w*|approv\w*|legali[sz]\w*|"
                         r"support(?:s|ed|ing|ive)?|encourag\w*|explor(?:e|es|ed|ing)|stud(?:y|ies|ied|ying)|"
                         r"research(?:es|ed|ing)?|consider(?:s|ed|ing)?|"
                         r"embrac\w*|welcom\w*|recogni[sz]\w*",
    "pilot": r"pilot\w*|trials?|sandbox\w*|tests?|testing",
}
# Word pairs:
_PAIR_PATTERNS: dict[str, str] = {
    "crackdown": r"(?:crack|clamp|shut)(?:s|ed|ing|ting)? down",
    "enforcement": r"money laundering|(?:break|breaks|broke|breaking) up",
    "censorship": r"(?:taken|took) down|removed from",
    "warning": r"risk alerts?",
    "state_media_coverage": r"report(?:s|ed)? on|ran an?|published an?",
    "cross_border_connect": r"mutual (?:access|recognition)",
    "regulatory_easing": r"open(?:s|ed|ing)? up|protected by",
}
# "ordered brokers to stop", "told platforms to wind down": an instruction followed closely by a stop word.
_INSTRUCTION = re.compile(r"(?:order|instruct|direct|told|tell|advis|ask|requir|urg)\w*")
_STOP_WORDS = re.compile(r"(?:halt|stop|suspend|cease|end|exit|pause|wind|withdraw)\w*")
_WORD = re.compile(r"[a-z]+(?:[-'][a-z]+)*")
# What _WORD can match ([a-z], "-", "'"): a sentence blanked with it has the same length, _WORD finds the same words
# at the same places in it, and most of them are simply its space-separated runs.
_WORD_BYTES = blanking_table(string.ascii_lowercase + "-'")
# Where a "-" or "'" touches a space or another one: a run of plain that is not one word.
_LONE_SEPARATORS = (" -", "- ", " '", "' ", "--", "''", "-'", "'-")
_WORD_RE = {kind: re.compile(pattern) for kind, pattern in _WORD_PATTERNS.items()}
_PAIR_RE = {kind: re.compile(pattern) for kind, pattern in _PAIR_PATTERNS.items()}


_PAIR_FIRST = re.compile(r"(?:crack|clamp|shut|break|broke|money|taken|took|removed|risk|report|ran|published|"
                         r"mutual|open|protected)\w*")


@lru_cache(maxsize=65536)
def _word_info(word: str) -> tuple[tuple[str, ...], bool, bool, bool]:
    """(kinds the word triggers, starts a trigger pair, is an instruction, is a stop word)."""
    kinds = tuple(kind for kind, pattern in _WORD_RE.items() if pattern.fullmatch(word))
    return (kinds, _PAIR_FIRST.fullmatch(word) is not None, _INSTRUCTION.fullmatch(word) is not None,
            _STOP_WORDS.fullmatch(word) is not None)


@lru_cache(maxsize=65536)
def _pair_kinds(pair: str) -> tuple[str, ...]:
    return tuple(kind for kind, pattern in _PAIR_RE.items() if pattern.fullmatch(pair))


# Words known to start no trigger (no kind, no pair, no instruction): most words of most sentences, checked in
# one set operation. Bounded like _word_info's cache.
_INERT: set[str] = set()
_INERT_MAX = 65536


def _plain(lowered: str) -> str:
    """``lowered`` with every character _WORD cannot match a space (see _WORD_BYTES)."""
    return blanked(lowered, _WORD_BYTES)


def _words(plain: str) -> list[str]:
    """``_WORD.findall(plain)`` for ``plain`` from :func:`_plain`: its space-separated runs (2.9 against 4.2 µs a
    sentence of the bench corpus, _plain included), unless a "-" or "'" in one does not stand between two letters
    (1.7% of the bench and eval sentences), where only the pattern splits the run alike."""
    if "-" not in plain and "'" not in plain:
        return plain.split()
    padded = f" {plain} "
    if any(pair in padded for pair in _LONE_SEPARATORS):
        return _WORD.findall(plain)
    return plain.split()


def _triggers(lowered: str) -> dict[str, int]:
    """Each kind's first trigger position in the (lower-cased) sentence."""
    first: dict[str, int] = {}
    plain = _plain(lowered)
    found = _words(plain)
    live = [word for word in found if word not in _INERT]  # only these can start a trigger
    if not live:
        return first  # most sentences: no trigger at all, no need for positions
    if len(_INERT) > _INERT_MAX:
        _INERT.clear()
    infos: dict[str, tuple[tuple[str, ...], bool, bool, bool]] = {}  # the words that start something
    for word in live:
        info = _word_info(word)
        if info[0] or info[1] or info[2]:
            infos[word] = info
        else:
            _INERT.add(word)
    if not infos:
        return first
    position = 0
    for index, word in enumerate(found):
        # Where each word starts: the matches are in order and no other [a-z] lies between them
        start = plain.find(word, position)
        position = start + len(word)
        found_info = infos.get(word)
        if found_info is None:
            continue
        kinds, pair_first, instruction, _ = found_info
        for kind in kinds:
            first.setdefault(kind, start)
        if pair_first and index + 1 < len(found):
            for kind in _pair_kinds(f"{word} {found[index + 1]}"):
                first.setdefault(kind, start)
        if instruction and "halt_order" not in first and \
                any(_word_info(after)[3] for after in found[index + 1:index + 8]):
            first["halt_order"] = start
    return first


# A negator among the last few words before a trigger flips it ("will not ban", "has no plans to ease").
# Reversal verbs work the same way: "lifted the ban", "scrapped its restrictions" are easing.
_NEGATION = re.compile(
    r"(?:\b(?:not|no|never|without|refus\w+|reject\w*|denied|denies|ruled\s+out|unlikely|"
    r"lift(?:s|ed|ing)?|scrap(?:s|ped|ping)?|repeal(?:s|ed|ing)?|overturn(?:s|ed|ing)?|revers(?:e|es|ed|ing)|"
    r"end(?:s|ed|ing)?)\b|n't)"
    r"(?:\s+\S+){0,3}?\s*$",
    re.IGNORECASE,
)
_YEAR = re.compile(r"(?<!\d)(19[89]\d|20[0-4]\d)(?!\d)")
_STATUS_QUO = re.compile(
    r"\b(?:remains?|still|already|has\s+long|have\s+long|since|continues?\s+to|effectively|maintains?|"
    r"keeps?)\b[^.]{0,40}\b(?:ban\w*|prohibit\w*|illegal|outlaw\w*)"
    r"|\b(?:ban|bans|prohibition)\b[^.]{0,50}\b(?:remains?|stays?)\s+in\s+(?:place|force|effect)\b"
    # a state, not an event: "where crypto trading is banned", "trading is illegal"
    r"|\b(?:is|are)\s+(?:\w+\s+)?(?:banned|illegal|prohibited|outlawed|forbidden)\b"
    # past perfect narrates what happened before the story: "after the PBoC had cracked down"
    r"|\bhad\s+(?:already\s+|previously\s+|long\s+)?(?:been\s+)?\w+ed\b",
    re.IGNORECASE,
)
# Positive kinds in a sentence that reads negative are hedges, not easing ("so that projects do not
# progress faster than risk controls allow").
_HEDGED_TONE = -0.2


@dataclass(frozen=True, slots=True)
class Evidence:
    kind: str
    polarity: int
    background: bool  # describes an old or standing policy, not a new move


def detect(sentence: str, has_state_media: bool, mentions_hk: bool, tone: float,
           published_year: int | None) -> list[Evidence]:
    """Evidence kinds in one sentence that already has a mainland actor and crypto policy content."""
    found: list[Evidence] = []
    lowered = sentence.lower()
    first = _triggers(lowered)
    if not has_state_media:
        first.pop("state_media_coverage", None)
    if not mentions_hk:
        first.pop("cross_border_connect", None)
    if not first:
        return found
    alike = lowered_matches_alike(sentence)
    background = _is_background(sentence, lowered, published_year, alike)
    matches = sorted((start, kind) for kind, start in first.items())
    starts = sorted(start for start, _ in matches)
    for start, kind in matches:
        polarity = KINDS[kind]
        if kind == "state_media_coverage" and tone <= -0.3:
            polarity = -1  # a state outlet attacking crypto is pushback, not warming
        negation = _negation(sentence, lowered, start, alike)
        # A negation scopes over the first trigger after it only: "will not ban research" negates the ban.
        if negation and not any(negation.start() < other < start for other in starts):
            polarity = -polarity
        elif polarity > 0 and kind != "state_media_coverage" and tone < _HEDGED_TONE:
            continue
        found.append(Evidence(kind, polarity, background))
    if any(e.kind == "halt_order" for e in found):
        # "ordered to halt trading" also reads as "trading"; the order is the evidence.
        found = [e for e in found if e.kind not in ("regulatory_easing", "pilot")]
    return found


_NEGATION_CASE_FREE = CaseFreePattern(_NEGATION)


def _negation(sentence: str, lowered: str, start: int, alike: bool) -> re.Match[str] | None:
    """_NEGATION's leftmost match among the 60 characters before ``start`` (on ``lowered`` when ``alike``: the same
    span). A match holds at most four runs of whitespace ("ruled out" and three words after it), so it starts within
    the window's last five words, and the search starts there: the same match, without trying the alternation at
    every character before. (``\\b`` still sees the character before the search's start.)"""
    window_start = max(0, start - 60)
    words = sentence[window_start:start].rsplit(None, 5)
    if len(words) == 6:  # words[0] is what comes before the last five words, without the whitespace after it
        window_start += len(words[0])
    return _NEGATION_CASE_FREE.search(sentence, lowered, alike, window_start, start)


# Every match of _STATUS_QUO holds the words of one of its alternatives: a lower-cased sentence without them
# cannot match, and most sentences are spared the regex. Its first two alternatives need a prohibition word *and* a word
# of duration ("still", "remains"): "ban" alone is in every sentence about a central bank.
_PROHIBITION_WORDS = ("ban", "prohibit", "illegal", "outlaw")
_DURATION_WORDS = ("remain", "still", "already", "long", "since", "continue", "effectively", "maintain", "keep",
                   "stay")
_STATE_WORDS = ("banned", "illegal", "prohibited", "outlawed", "forbidden")  # "is banned"


def _may_be_status_quo(lowered: str) -> bool:
    """Whether the lower-cased sentence holds the words one of _STATUS_QUO's alternatives needs."""
    if "had" in lowered or any(word in lowered for word in _STATE_WORDS):
        return True
    return any(word in lowered for word in _PROHIBITION_WORDS) and any(word in lowered for word in _DURATION_WORDS)


_STATUS_QUO_CASE_FREE = CaseFreePattern(_STATUS_QUO)


def _is_background(sentence: str, lowered: str, published_year: int | None, alike: bool) -> bool:
    """``alike``: :func:`patterns.lowered_matches_alike` of ``sentence``."""
    # Unless alike, a letter IGNORECASE folds to an ASCII one ("ſtill") may spell the words: no word check then
    if (not alike or _may_be_status_quo(lowered)) and _STATUS_QUO_CASE_FREE.found(sentence, lowered, alike):
        return True
    if published_year is None or ("19" not in sentence and "20" not in sentence):
        return False  # every year _YEAR matches starts so; it too has no literal start
    years = [int(y) for y in _YEAR.findall(sentence)]
    return bool(years) and max(years) < published_year
