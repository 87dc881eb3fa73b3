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
from dataclasses import dataclass

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

_W = r"(?<![\w-])"
_TRIGGERS: dict[str, re.Pattern[str]] = {
    kind: re.compile(_W + pattern + r"(?![\w-])", re.IGNORECASE)
    for kind, pattern in {
        "ban": r"(?:ban(?:s|ned|ning)?|prohibit\w*|illegal|outlaw\w*|forbid\w*|forbade)",
        "crackdown": r"(?:crackdowns?|crack(?:s|ed|ing)?\s+down|clamp(?:s|ed|ing)?\s+down|clampdown|"
                     r"shut(?:s|ting)?\s+down|rectif\w+|purge[sd]?)",
        "enforcement": r"(?:arrest\w*|detain\w*|prosecut\w*|seiz\w*|confiscat\w*|sentenced|"
                       r"money\s+laundering|busted|raid(?:s|ed)?)",
        "halt_order": r"(?:order\w*\s+(?:\w+\s+){0,6}(?:to\s+)?(?:halt|stop|suspend|cease|end|exit)\w*|"
                      r"told\s+(?:\w+\s+){0,4}to\s+(?:halt|stop|suspend|cease)\w*)",
        "censorship": r"(?:censor\w*|pulled|scrubbed|deleted|taken\s+down|took\s+down|removed\s+from)",
        "warning": r"(?:warn(?:s|ed|ing|ings)?|risk\s+alerts?|cautioned)",
        "state_media_coverage": r"(?:aired|broadcast\w*|segment|report(?:s|ed)?\s+on|featured|coverage|"
                                r"programme|program|ran\s+an?|published\s+an?|editorial|commentary)",
        "cross_border_connect": r"(?:connect|link(?:s|age)?|channel|cross-border|mutual\s+(?:access|recognition)|"
                                r"corridor|bridge)",
        "regulatory_easing": r"(?:eas(?:e|es|ed|ing)|relax\w*|loosen\w*|allow\w*|permit\w*|approv\w*|"
                             r"open(?:s|ed|ing)?\s+up|legali[sz]\w*|support\w*|encourag\w*|explor\w*|"
                             r"stud(?:y|ies|ied|ying)|research\w*|consider\w*|embrac\w*|welcom\w*|lift\w*)",
        "pilot": r"(?:pilot\w*|trials?|sandbox\w*|tests?|testing)",
    }.items()
}
# A negator among the last few words before a trigger flips it ("will not ban", "has no plans to ease").
_NEGATION = re.compile(
    r"(?:\b(?:not|no|never|without|refus\w+|reject\w*|denied|denies|ruled\s+out|unlikely)\b|n't)"
    r"(?:\s+\S+){0,3}?\s*$",
    re.IGNORECASE,
)
_YEAR = re.compile(r"(?<!\d)(19[89]\d|20[0-4]\d)(?!\d)")
_STATUS_QUO = re.compile(
    r"\b(?:remains?|still|already|has\s+long|have\s+long|since|continues?\s+to|effectively)\b[^.]{0,40}"
    r"\b(?:ban\w*|prohibit\w*|illegal|outlaw\w*)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Evidence:
    kind: str
    polarity: int
    background: bool  # describes an old or standing policy, not a new move


def detect(sentence: str, has_state_media: bool, mentions_hk: bool, tone: float,
           published_year: int | None) -> list[Evidence]:
    """Evidence kinds in one sentence that already has a mainland actor and crypto policy content."""
    found: list[Evidence] = []
    background = _is_background(sentence, published_year)
    matches = []
    for kind, pattern in _TRIGGERS.items():
        if kind == "state_media_coverage" and not has_state_media:
            continue
        if kind == "cross_border_connect" and not mentions_hk:
            continue
        match = pattern.search(sentence)
        if match:
            matches.append((match.start(), kind))
    starts = sorted(start for start, _ in matches)
    for start, kind in matches:
        polarity = KINDS[kind]
        if kind == "state_media_coverage" and tone <= -0.3:
            polarity = -1  # a state outlet attacking crypto is pushback, not warming
        negation = _NEGATION.search(sentence[:start])
        # A negation scopes over the first trigger after it only: "will not ban research" negates the ban.
        if negation and not any(negation.start() < other < start for other in starts):
            polarity = -polarity
        found.append(Evidence(kind, polarity, background))
    if any(e.kind == "halt_order" for e in found):
        # "ordered to halt trading" also reads as "trading"; the order is the evidence.
        found = [e for e in found if e.kind not in ("regulatory_easing", "pilot")]
    return found


def _is_background(sentence: str, published_year: int | None) -> bool:
    if _STATUS_QUO.search(sentence):
        return True
    if published_year is None:
        return False
    years = [int(y) for y in _YEAR.findall(sentence)]
    return bool(years) and max(years) < published_year
