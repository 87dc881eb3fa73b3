"""The article analyzer: text -> the ``article.enriched.v1`` body. Pure: no Faust, no I/O."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from pipeline.analysis import evidence as ev
from pipeline.analysis.registry import WEAK_KINDS, Mention, Registry, default_registry
from pipeline.analysis.text import detect_language, normalise, split_sentences
from pipeline.analysis.tone import ToneScorer, default_scorer

ENRICHED_SCHEMA_VERSION = 1
RULES_VERSION = 3  # bump with any rule change, with the lexicon and registry versions in their data files
MAINLAND = frozenset({"CN", "CN-SH"})
NEUTRAL_BAND = 0.05
MAX_SPANS = 20
MAX_EVIDENCE = 10
EVIDENCE_TONE_SHARE = 0.4
ARTICLE_NEUTRAL_BAND = 0.15
BACKGROUND_WEIGHT = 0.5
# Policy words that make a sentence about a mainland actor crypto-policy content even without a crypto
# term, in an article that is about crypto ("The central bank said the ban stays").
_STANCE_THRESHOLD = 0.15


@dataclass(frozen=True, slots=True)
class ArticleInput:
    id: str
    text: str
    title: str = ""
    url: str = ""
    published_at: str = ""
    source: str = ""
    language: str | None = None


class _Sentence:
    # Not a dataclass: mypyc compiles this __init__, where a dataclass's is generated at run time (interpreted).
    def __init__(self, start: int, end: int, codes: frozenset[str], crypto: bool, private_crypto: bool,
                 tone: float | None, state_media: bool, in_title: bool) -> None:
        self.start = start
        self.end = end
        self.codes = codes  # jurisdictions the sentence is about (actors or targets; demonyms excluded)
        self.crypto = crypto  # crypto or CBDC content
        self.private_crypto = private_crypto  # crypto proper (not only a CBDC or blockchain)
        self.tone = tone
        self.state_media = state_media
        self.in_title = in_title


class Analyzer:
    def __init__(self, registry: Registry | None = None, scorer: ToneScorer | None = None) -> None:
        self.registry = registry or default_registry()
        self.scorer = scorer or default_scorer()
        self.version = f"registry-{self.registry.version}+lexicon-{self.scorer.lexicon.version}+rules-{RULES_VERSION}"

    def analyze(self, article: ArticleInput) -> dict[str, Any]:
        full = f"{article.title}\n\n{article.text}" if article.title else article.text
        clean = normalise(full)
        text = clean.text
        language = (article.language or detect_language(text)).lower()
        scored = language == "en" or language.startswith("en-")
        spans = split_sentences(text)
        lowered = text.lower()  # once for both scans of the whole text (11 µs for an article of 3.5 KB)
        mentions = self.registry.find(text, lowered)
        title_end = text.find("\n\n") if article.title else -1
        sentences = self._sentences(text, lowered, spans, mentions, scored, title_end)

        crypto_sentences = [s for s in sentences if s.crypto]
        relevant = len(crypto_sentences) >= 2 or (
            bool(crypto_sentences) and (crypto_sentences[0].in_title
                                        or len(crypto_sentences) / max(len(sentences), 1) >= 0.2))
        unscored = None if scored else ("no_text" if not text.strip() else "unsupported_language")
        year = _year(article.published_at)
        items = self._evidence(text, sentences, relevant, year)
        new_items = [(s, e) for s, e in items if not e.background]

        mainland_in_context = relevant and any(s.codes & MAINLAND for s in crypto_sentences)
        by_jurisdiction = _by_jurisdiction(crypto_sentences)
        return {
            "schema_version": ENRICHED_SCHEMA_VERSION,
            "analyzer_version": self.version,
            "id": article.id,
            "url": article.url,
            "title": article.title,
            "published_at": article.published_at,
            "source": article.source,
            "language": language,
            "jurisdictions": self._jurisdictions(mentions, clean.original_span),
            "crypto": {
                "relevant": relevant,
                "sentiment": _article_tone(crypto_sentences, new_items) if relevant else 0.0,
                "sentences": sum(1 for s in crypto_sentences if s.tone is not None),
            },
            "by_jurisdiction": by_jurisdiction,
            "mainland": _stance(mainland_in_context, items, by_jurisdiction),
            "reciprocity": _reciprocity(new_items, text, clean.original_span),
            "unscored_reason": unscored,
        }

    def _sentences(self, text: str, lowered: str, spans: list[tuple[int, int]], mentions: list[Mention],
                   scored: bool, title_end: int) -> list[_Sentence]:
        starts = [m.start for m in mentions]
        out: list[_Sentence] = []
        previous: _Sentence | None = None
        contents = self.scorer.crypto_contents(text, spans, lowered)
        for (start, end), (private, crypto) in zip(spans, contents, strict=True):
            lo, hi = bisect.bisect_left(starts, start), bisect.bisect_left(starts, end)
            inside = [m for m in mentions[lo:hi] if m.kind not in WEAK_KINDS]
            codes = frozenset(m.code for m in inside)
            if not codes and previous is not None and "\n" not in text[previous.end:start]:
                codes = previous.codes  # "The central bank said ..." continues the previous actor
            sentence = text[start:end]
            tone = self.scorer.score(_mask(sentence, start, mentions[lo:hi])) if crypto and scored else None
            current = _Sentence(start, end, codes, crypto, private, tone,
                                any(m.kind == "state_media" for m in inside), end <= title_end)
            out.append(current)
            previous = current
        return out

    def _evidence(self, text: str, sentences: list[_Sentence], relevant: bool,
                  year: int | None) -> list[tuple[_Sentence, ev.Evidence]]:
        """Evidence needs a mainland actor and crypto-policy content: a sentence about crypto proper, or a
        sentence with no crypto term at all ("The central bank said the ban stays") in an article mostly
        about crypto proper. Sentences only about the e-CNY or blockchain carry none."""
        items: list[tuple[_Sentence, ev.Evidence]] = []
        if not relevant:
            return items
        private = sum(1 for s in sentences if s.private_crypto)
        adjacent_only = sum(1 for s in sentences if s.crypto and not s.private_crypto)
        about_crypto_proper = private > 0 and private >= adjacent_only
        for s in sentences:
            if not (s.codes & MAINLAND):
                continue
            if not (s.private_crypto or (not s.crypto and about_crypto_proper)):
                continue
            for item in ev.detect(text[s.start:s.end], s.state_media, "HK" in s.codes,
                                  s.tone or 0.0, year):
                items.append((s, item))
        return items

    def _jurisdictions(self, mentions: list[Mention], to_original: Any) -> list[dict[str, Any]]:
        """Jurisdictions the text discusses: a place named only as a demonym ("a Chinese fund") or as
        where someone sits ("an analyst based in Singapore") is not discussed."""
        grouped: dict[str, list[Mention]] = {}
        for m in mentions:
            grouped.setdefault(m.code, []).append(m)
        grouped = {code: items for code, items in grouped.items()
                   if any(m.kind not in WEAK_KINDS for m in items)}
        total = len(mentions) or 1
        result = []
        for code, items in sorted(grouped.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            result.append({
                "code": code,
                "name": self.registry.names.get(code, code),
                "mentions": len(items),
                "salience": round(len(items) / total, 4),
                "spans": [list(to_original(m.start, m.end)) for m in items[:MAX_SPANS]],
            })
        return result


def _mask(sentence: str, offset: int, mentions: list[Mention]) -> str:
    """Blank out names before scoring: "Securities", "Authority" or "People's" in a regulator's name
    carry no tone about crypto, but VADER scores them."""
    if not mentions:
        return sentence
    parts, pos = [], 0
    for m in mentions:
        parts.append(sentence[pos:m.start - offset])
        parts.append("X")
        pos = m.end - offset
    parts.append(sentence[pos:])
    return "".join(parts)


def _by_jurisdiction(crypto_sentences: list[_Sentence]) -> dict[str, dict[str, Any]]:
    sums: dict[str, list[float]] = {}
    for s in crypto_sentences:
        if s.tone is None:
            continue
        for code in s.codes:
            sums.setdefault(code, []).append(s.tone)
    return {code: {"sentiment": _clamp(sum(v) / len(v)), "sentences": len(v)}
            for code, v in sorted(sums.items())}


def _article_tone(crypto_sentences: list[_Sentence], evidence: list[tuple[_Sentence, ev.Evidence]]) -> float:
    """Weighted mean of sentence tones: the headline and evidence sentences count double (news puts what
    matters first), then blended with the direction of new evidence, which VADER's general-purpose
    lexicon reads poorly ("advised brokerages to suspend" scores positive)."""
    weighted = total = 0.0
    evidence_sentences = {id(s) for s, _ in evidence}
    for s in crypto_sentences:
        if s.tone is None:
            continue
        weight = 2.0 if s.in_title or id(s) in evidence_sentences else 1.0
        weighted += weight * s.tone
        total += weight
    if not total:
        return 0.0
    tone = weighted / total
    if evidence:
        net = sum(e.polarity for _, e in evidence) / len(evidence)
        tone = (1 - EVIDENCE_TONE_SHARE) * tone + EVIDENCE_TONE_SHARE * net
    # A mean over many noisy sentence scores needs a wider neutral band than VADER's per-sentence 0.05:
    # mixed and matter-of-fact articles average within +-0.15, one-sided ones beyond it.
    return 0.0 if abs(tone) < ARTICLE_NEUTRAL_BAND else _clamp(tone)


def _stance(in_context: bool, items: list[tuple[_Sentence, ev.Evidence]],
            by_jurisdiction: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if not in_context and not items:
        return {"stance": "absent", "score": 0.0}
    # Background (standing policy, old events) says how the article portrays Beijing, at half weight.
    weights = [BACKGROUND_WEIGHT if e.background else 1.0 for _, e in items]
    # 0.0 starts: compiled (mypyc), an int sum of a float list fails its type check
    net = sum((w * e.polarity for w, (_, e) in zip(weights, items, strict=True)), 0.0) / sum(weights, 0.0) \
        if items else 0.0
    tone = by_jurisdiction.get("CN", {}).get("sentiment", 0.0)
    score = _clamp(0.75 * net + 0.25 * tone)
    if score <= -_STANCE_THRESHOLD:
        stance = "hostile"
    elif score >= _STANCE_THRESHOLD:
        stance = "softening"
    else:
        stance = "neutral"
    return {"stance": stance, "score": round(score, 4)}


def _reciprocity(items: list[tuple[_Sentence, ev.Evidence]], text: str, to_original: Any) -> dict[str, Any]:
    if not items:
        return {"direction": 0, "score": 0.0, "evidence": []}
    score = _clamp(sum(e.polarity for _, e in items) / len(items))
    direction = 0 if abs(score) < _STANCE_THRESHOLD else (1 if score > 0 else -1)
    evidence = [
        {"sentence": text[s.start:s.end], "span": list(to_original(s.start, s.end)),
         "kind": e.kind, "polarity": e.polarity}
        for s, e in items[:MAX_EVIDENCE]
    ]
    return {"direction": direction, "score": round(score, 4), "evidence": evidence}


def _year(published_at: str) -> int | None:
    head = published_at[:4]
    return int(head) if head.isdigit() else None


def _clamp(x: float) -> float:
    return round(max(-1.0, min(1.0, x)), 4)
