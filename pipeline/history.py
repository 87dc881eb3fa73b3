"""Signal history: the latest revision of each window, and its OpenMetrics export for backfilling.

Pure: the CLI reads signals from the topic or a file and hands them here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pipeline.metrics import window_label
from pipeline.validation import parse_timestamp

PREFIX = "pipeline_signal_"
_LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.:-]")


def latest_revisions(signals: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per window (the highest revision), ordered by window size, then start."""
    latest: dict[tuple[int, str], dict[str, Any]] = {}
    for signal in signals:
        key = (int(signal["window_seconds"]), str(signal["window_start"]))
        if key not in latest or signal["revision"] >= latest[key]["revision"]:
            latest[key] = signal
    return [latest[key] for key in sorted(latest)]


def _timestamp(signal: dict[str, Any]) -> int:
    """A window's values are known when it ends: that is the sample time."""
    end = parse_timestamp(str(signal["window_end"]))
    if end is None:
        raise ValueError(f"window_end {signal['window_end']!r} is not RFC 3339")
    return int(end)


def _labels(**labels: str) -> str:
    inner = ",".join(f'{k}="{_LABEL_VALUE.sub("_", v)}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def to_openmetrics(signals: Iterable[dict[str, Any]]) -> str:
    """OpenMetrics text with one timestamped sample per window per series, for
    ``promtool tsdb create-blocks-from openmetrics``. Families are contiguous and each series is in time
    order, as the format requires; the index is omitted for windows without mainland content (null)."""
    history = sorted(latest_revisions(signals), key=lambda s: (s["window_seconds"], _timestamp(s)))
    families: dict[str, tuple[str, list[str]]] = {
        "reciprocity_index": ("Reciprocity index of a closed window, in [-1, 1]", []),
        "articles": ("Distinct articles counted in a window", []),
        "mainland_articles": ("Articles in a window that discuss the mainland's stance on crypto", []),
        "sources": ("Distinct sources in a window", []),
        "jurisdiction_tone": ("Mean crypto tone toward a jurisdiction in a window", []),
        "jurisdiction_articles": ("Articles with a crypto tone toward a jurisdiction in a window", []),
        "evidence": ("Reciprocity evidence items in a window", []),
    }

    def add(family: str, labels: str, value: float, ts: int) -> None:
        families[family][1].append(f"{PREFIX}{family}{labels} {value:g} {ts}")

    for signal in history:
        ts = _timestamp(signal)
        window = window_label(int(signal["window_seconds"]))
        base = _labels(window=window)
        if signal["reciprocity_index"] is not None:
            add("reciprocity_index", base, float(signal["reciprocity_index"]), ts)
        for field in ("articles", "mainland_articles", "sources"):
            add(field, base, float(signal[field]), ts)
        for code, tone in signal["by_jurisdiction"].items():
            labels = _labels(window=window, jurisdiction=code)
            add("jurisdiction_tone", labels, float(tone["sentiment"]), ts)
            add("jurisdiction_articles", labels, float(tone["articles"]), ts)
        for kind, counts in signal["evidence_by_kind"].items():
            for direction, field in (("up", "positive"), ("down", "negative")):
                add("evidence", _labels(window=window, kind=kind, direction=direction), float(counts[field]), ts)

    lines: list[str] = []
    for family, (help_text, samples) in families.items():
        if not samples:
            continue
        lines.append(f"# HELP {PREFIX}{family} {help_text}")
        lines.append(f"# TYPE {PREFIX}{family} gauge")
        # Group each series' samples together, in time order (stable sort keeps time order).
        lines.extend(sorted(samples, key=lambda line: line.split(" ", 1)[0]))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def history_table(signals: Iterable[dict[str, Any]], window_seconds: int = 86400) -> str:
    """A Markdown table of one window size's history: the README's index history."""
    rows = ["| window start | articles | mainland | sources | index |", "|---|---|---|---|---|"]
    for signal in latest_revisions(signals):
        if signal["window_seconds"] != window_seconds or not signal["mainland_articles"]:
            continue
        index = signal["reciprocity_index"]
        shown = "n/a" if index is None else f"{index:+.3f}"
        rows.append(f"| {signal['window_start'][:10]} | {signal['articles']} | {signal['mainland_articles']} | "
                    f"{signal['sources']} | {shown} |")
    return "\n".join(rows) + "\n"
