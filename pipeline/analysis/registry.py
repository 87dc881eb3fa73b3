"""Jurisdiction registry (package data) and the one-pass alias matcher built from it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import ahocorasick_rs

SUPPRESS = "__suppress__"
AMBIGUOUS = "__ambiguous__"

# "Hong Kong-listed", "US-traded": the place is a listing venue, not a jurisdiction under discussion.
_VENUE_SUFFIX = re.compile(r"-(listed|traded|quoted)\b", re.IGNORECASE)
# "an analyst based in Singapore", "a Singapore-based fund": where someone sits. Kept as a weak mention.
_LOCATION_BEFORE = re.compile(r"(?:based|headquartered|located|domiciled)\s+in\s+(?:the\s+)?$", re.IGNORECASE)
_LOCATION_AFTER = re.compile(r"-(?:based|headquartered|born)\b", re.IGNORECASE)
# A demonym names an actor only when a government noun follows: "Chinese regulators", not "a Chinese fund".
_ACTOR_NOUN = re.compile(
    r"\s+(?:(?:central|state|securities|financial|banking|market|local|national|top|provincial|municipal)\s+)?"
    r"(?:government|authorities|authority|regulators?|officials|central\s+bank|state\s+media|courts?|police|"
    r"leaders(?:hip)?|president|premier|ministry|ministries|lawmakers|policymakers|watchdogs?|cabinet|"
    r"prosecutors|agencies|bank\s+regulator|securities\s+regulator)\b",
    re.IGNORECASE,
)
WEAK_KINDS = frozenset({"demonym", "location"})
# A dateline opens a paragraph: "HONG KONG, June 1 (Agency) —" or "SHANGHAI/HONG KONG -". It says where
# the reporter sat, not what the article is about.
_DATELINE = re.compile(
    r"\s*(?:\([^)]{1,40}\)\s*)?[A-Z][A-Z .'/,]{1,60}?(?:,\s*[A-Z][a-z]{2,8}\.?\s+\d{1,2}(?:,\s*\d{4})?)?"
    r"\s*(?:\([^)]{1,40}\))?\s*(?:--|—|–|-)\s"
)


@dataclass(frozen=True, slots=True)
class Alias:
    text: str
    code: str  # a jurisdiction code, SUPPRESS or AMBIGUOUS
    kind: str
    case_sensitive: bool
    latin: bool  # whole-word boundaries apply


class Mention:
    """About twenty an article. A class with its own ``__init__``, which mypyc compiles: a NamedTuple's or a
    dataclass's constructor is generated at run time and runs interpreted."""

    def __init__(self, code: str, start: int, end: int, kind: str) -> None:
        self.code = code
        self.start = start
        self.end = end
        self.kind = kind


@dataclass(frozen=True)
class Ambiguity:
    text: str
    default: str
    prefer_when_comentioned: dict[str, tuple[str, ...]]


class Registry:
    """Canonical jurisdictions with their aliases, compiled into one Aho-Corasick automaton."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.version: str = data["version"]
        self.names: dict[str, str] = {j["code"]: j["name"] for j in data["jurisdictions"]}
        self.ambiguities = {
            a["text"].lower(): Ambiguity(a["text"], a["default"],
                                 {k: tuple(v) for k, v in a.get("prefer_when_comentioned", {}).items()})
            for a in data.get("ambiguous", [])
        }
        entries: dict[str, list[Alias]] = {}
        for jurisdiction in data["jurisdictions"]:
            for alias in jurisdiction["aliases"]:
                self._add(entries, alias["text"], jurisdiction["code"], alias.get("kind", "name"),
                          bool(alias.get("case_sensitive", False)))
        for rule in self.ambiguities.values():
            self._add(entries, rule.text, AMBIGUOUS, "ambiguous", False)
        for item in data.get("suppress", []):
            self._add(entries, item["text"], SUPPRESS, item.get("why", "suppressed"), False)
        # Every match, overlapping ones too (the longest is chosen below); ahocorasick-rs scans about five times
        # faster than pyahocorasick, which was a tenth of a worker's time.
        keys = list(entries)
        self._aliases = [tuple(entries[key]) for key in keys]
        self._automaton = ahocorasick_rs.AhoCorasick(keys, implementation=ahocorasick_rs.Implementation.DFA)

    @staticmethod
    def _add(entries: dict[str, list[Alias]], text: str, code: str, kind: str, case_sensitive: bool) -> None:
        latin = text[:1].isascii() and text[-1:].isascii()
        entries.setdefault(text.lower(), []).append(Alias(text, code, kind, case_sensitive, latin))

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self.names)

    def find(self, text: str, lowered: str | None = None) -> list[Mention]:
        """All jurisdiction mentions in ``text``: longest match wins, suppressed phrases hide what they
        contain, datelines and listing venues are dropped, ambiguous aliases resolved by co-mentions. ``lowered``
        is ``text.lower()`` when the caller has it already."""
        lowered = text.lower() if lowered is None else lowered
        if len(lowered) != len(text):  # a few characters change length when lowered; keep offsets exact
            lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
        candidates: list[tuple[int, int, Alias]] = []
        for index, start, end in self._automaton.find_matches_as_indexes(lowered, overlapping=True):
            for alias in self._aliases[index]:
                if alias.case_sensitive and text[start:end] != alias.text:
                    continue
                if alias.latin and not _whole_word(text, start, end, alias.text):
                    continue
                candidates.append((start, end, alias))
                break
        candidates.sort(key=lambda c: (c[0], c[0] - c[1]))
        chosen: list[tuple[int, int, Alias]] = []
        covered_until = -1
        for start, end, alias in candidates:
            if start >= covered_until:
                chosen.append((start, end, alias))
                covered_until = end
        datelines = _dateline_ends(text)
        mentions: list[Mention] = []
        ambiguous: list[tuple[int, int, Alias]] = []
        for start, end, alias in chosen:
            hyphen_after = text.startswith("-", end)  # cheap guard before the suffix regexes
            if alias.code == SUPPRESS or _in_dateline(start, datelines) or (
                    hyphen_after and _VENUE_SUFFIX.match(text, end)):
                continue
            if alias.code == AMBIGUOUS:
                ambiguous.append((start, end, alias))
                continue
            kind = alias.kind
            if kind == "demonym" and _ACTOR_NOUN.match(text, end):
                kind = "government_body"
            elif (hyphen_after and _LOCATION_AFTER.match(text, end)) or (
                    text.endswith("in ", 0, start - 4 if text.startswith("the ", start - 4) else start)
                    and _LOCATION_BEFORE.search(text, max(0, start - 40), start)):
                kind = "location"
            mentions.append(Mention(alias.code, start, end, kind))
        if ambiguous:
            mentions.extend(self._resolve(text, ambiguous))
            mentions.sort(key=lambda m: m.start)
        return mentions

    def _resolve(self, text: str, ambiguous: list[tuple[int, int, Alias]]) -> list[Mention]:
        resolved = []
        for start, end, _ in ambiguous:
            rule = self.ambiguities[text[start:end].lower()]
            code = rule.default
            for candidate, cues in rule.prefer_when_comentioned.items():
                if any(cue in text for cue in cues):
                    code = candidate
                    break
            resolved.append(Mention(code, start, end, "ambiguous"))
        return resolved


def _whole_word(text: str, start: int, end: int, alias: str) -> bool:
    """Word boundaries where the alias edge is a word character ("US$" may be followed by a digit)."""
    if start > 0 and alias[0].isalnum():
        before = text[start - 1]
        if before.isalnum() or before == "_":
            return False
    if end < len(text) and alias[-1].isalnum():
        after = text[end]
        if after.isalnum() or after == "_":
            return False
    return True


def _dateline_ends(text: str) -> list[tuple[int, int]]:
    regions = []
    paragraph_start = 0
    while paragraph_start < len(text):
        match = _DATELINE.match(text, paragraph_start)
        if match:
            regions.append((paragraph_start, match.end()))
        newline = text.find("\n", paragraph_start)
        if newline < 0:
            break
        paragraph_start = newline + 1
    return regions


def _in_dateline(position: int, regions: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in regions)


@cache
def default_registry() -> Registry:
    raw = resources.files("pipeline.data").joinpath("jurisdictions.json").read_text(encoding="utf-8")
    return Registry(json.loads(raw))
