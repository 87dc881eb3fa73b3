"""What one enriched article brings to the window stage: the compact record that crosses the internal window-input
topic (see :mod:`pipeline.aggregate` for what the windows do with it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one enriched article brings to a window (compact: it crosses the internal topic)."""

    article_id: str
    url_key: str
    source: str
    ts: float
    crypto_relevant: bool
    mainland_stance: str
    reciprocity_score: float
    tones: dict[str, float]  # per jurisdiction code: crypto tone of its sentences
    evidence: list[tuple[str, int, str]] = field(default_factory=list)  # (kind, polarity, sentence)
    partition: int = 0  # the raw-topic partition it came from: each has its own event-time clock

    @classmethod
    def from_enriched(cls, enriched: dict[str, Any], ts: float, partition: int = 0) -> Contribution:
        recip = enriched["reciprocity"]
        return cls(
            article_id=enriched["id"],
            url_key=normalise_url(enriched.get("url", "")),
            source=enriched.get("source", "") or "unknown",
            ts=ts,
            crypto_relevant=bool(enriched["crypto"]["relevant"]),
            mainland_stance=enriched["mainland"]["stance"],
            reciprocity_score=float(recip["score"]),
            tones={code: float(v["sentiment"]) for code, v in enriched["by_jurisdiction"].items()},
            evidence=[(e["kind"], int(e["polarity"]), e["sentence"][:500]) for e in recip["evidence"][:3]],
            partition=partition,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.article_id, "u": self.url_key, "s": self.source, "t": self.ts,
                "c": self.crypto_relevant, "m": self.mainland_stance, "r": self.reciprocity_score,
                "j": self.tones, "e": [list(e) for e in self.evidence], "p": self.partition}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Contribution:
        return cls(d["a"], d["u"], d["s"], float(d["t"]), bool(d["c"]), d["m"], float(d["r"]),
                   dict(d["j"]), [(str(k), int(p), str(s)) for k, p, s in d["e"]], int(d.get("p", 0)))


def normalise_url(url: str) -> str:
    """Scheme-, www-, query- and fragment-free URL, so the same story under two ids dedups."""
    if not url:
        return ""
    parts = urlsplit(url.strip())
    host = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/")
    return f"{host}{path}" if host else ""
