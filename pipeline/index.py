"""The reciprocity index of one window, from per-source sums (see README "How the index is computed").

Each source first gets its own component means; the window then averages sources with equal weight,
so one prolific outlet moves the index no more than any other outlet.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Weights of the three components; renormalised over the components a window actually has.
EVIDENCE_WEIGHT = 0.6
MAINLAND_TONE_WEIGHT = 0.25
GAP_WEIGHT = 0.15


def window_index(sources: Iterable[Any]) -> float | None:
    """Index in [-1, 1], or None when no article in the window carries new mainland evidence: tone
    alone (often from background mentions of standing policy) is context, not a signal.

    ``sources`` yields ``[articles, evidence articles, evidence score sum, CN tone sum, CN n,
    (HK - CN) gap sum, gap n]`` per source.
    """
    evidence: list[float] = []
    mainland_tone: list[float] = []
    gaps: list[float] = []
    for _, ev_n, ev_sum, cn_sum, cn_n, gap_sum, gap_n in sources:
        if ev_n:
            evidence.append(ev_sum / ev_n)
        if cn_n:
            mainland_tone.append(cn_sum / cn_n)
        if gap_n:
            # HK far warmer than the mainland (gap up to 2) reads as Beijing not reciprocating.
            gaps.append(-(gap_sum / gap_n) / 2)
    parts = [(EVIDENCE_WEIGHT, evidence), (MAINLAND_TONE_WEIGHT, mainland_tone), (GAP_WEIGHT, gaps)]
    present = [(w, sum(v) / len(v)) for w, v in parts if v]
    if not evidence:
        return None
    total = sum(w for w, _ in present)
    value = sum(w * v for w, v in present) / total
    return round(max(-1.0, min(1.0, value)), 4)
