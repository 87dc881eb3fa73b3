"""Pure event-time window arithmetic: enriched articles -> window aggregates -> reciprocity index.

State lives in a ``MutableMapping[str, dict]`` (a plain dict in tests, a changelogged Faust table in
the worker). Each window is one entry that also holds the fingerprints of the articles it counted (compact, see
:mod:`pipeline.dedup`; JSON-able once :func:`pipeline.dedup.packed_window` packed them), so the aggregate and its
dedup set change together in one write: a redelivered article after a crash finds itself already counted.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline import dedup
from pipeline.contribution import Contribution
from pipeline.index import window_index

CLOCK_KEY = "__clock__"
MAX_TOP_EVIDENCE = 10
SIGNAL_SCHEMA_VERSION = 1
MAINLAND = ("CN", "CN-SH")
# The clock's "due" (the earliest end among its open windows) for a clock written before it was kept: earlier than
# any watermark, so the next input checks every open window, and that check sets it. Never stored.
_DUE_UNKNOWN = float("-inf")


def window_start(ts: float, size: int) -> int:
    return int(ts // size) * size


@functools.lru_cache(maxsize=1024)
def window_key(start: int, size: int) -> str:
    """The signals topic key: ``<window_start RFC 3339>/<window_seconds>`` (cached: every input looks up its
    windows' keys, and formatting the time was an eighth of the window stage). Integers only: the cache takes
    3600.0 for 3600, which would format differently."""
    return _key(iso(start), size)


def signal_key(signal: dict[str, Any]) -> str:
    """:func:`window_key` of the window ``signal`` reports, from the start it already spells: no time to parse."""
    return _key(signal["window_start"], signal["window_seconds"])


def _key(start: str, size: int) -> str:
    return f"{start}/{size}"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fingerprint(kind: str, value: str) -> int:
    # The 64-bit integer of the hex digest windows kept before (so their fingerprints still match)
    return dedup.hash64(f"{kind}:{value}")


def new_window(start: int, size: int) -> dict[str, Any]:
    return {"start": start, "size": size, "revision": 0, "late": 0, "articles": 0, "crypto": 0,
            "mainland": 0, "seen": dedup.Fingerprints(), "sources": {}, "jurisdictions": {}, "kinds": {}, "top": []}


def fingerprint_keys(c: Contribution) -> list[int]:
    """What a window remembers of ``c`` to drop it if it comes again: its id and its normalised URL."""
    keys = [_fingerprint("id", c.article_id)]
    if c.url_key:
        keys.append(_fingerprint("url", c.url_key))
    return keys


def add_to_window(window: dict[str, Any], c: Contribution, late: bool, keys: list[int] | None = None) -> bool:
    """Count ``c`` in ``window`` unless it was counted already (by id or normalised URL); ``keys``: its
    :func:`fingerprint_keys`, if the caller has them already."""
    seen = window["seen"] = dedup.fingerprints(window["seen"])
    if not seen.add_new(fingerprint_keys(c) if keys is None else keys):
        return False
    window["articles"] += 1
    window["late"] += int(late)
    window["crypto"] += int(c.crypto_relevant)
    in_mainland = c.mainland_stance != "absent"
    window["mainland"] += int(in_mainland)
    # Per source: [articles, evidence articles, evidence score sum, CN tone sum, CN n, gap sum, gap n]
    src = window["sources"].setdefault(c.source, [0, 0, 0.0, 0.0, 0, 0.0, 0])
    src[0] += 1
    if c.evidence:
        src[1] += 1
        src[2] += c.reciprocity_score
    cn = _mainland_tone(c.tones)
    if cn is not None:
        src[3] += cn
        src[4] += 1
        if "HK" in c.tones:
            src[5] += c.tones["HK"] - cn
            src[6] += 1
    for code, tone in c.tones.items():
        j = window["jurisdictions"].setdefault(code, [0, 0.0])
        j[0] += 1
        j[1] += tone
    top = window["top"]  # best first (ties: the first counted first), at most MAX_TOP_EVIDENCE long
    for kind, polarity, sentence in c.evidence:
        counts = window["kinds"].setdefault(kind, [0, 0])
        counts[0 if polarity > 0 else 1] += 1
        entry = [abs(c.reciprocity_score), c.article_id, c.source, sentence, kind, polarity]
        # Most entries sort past the last of a full list: dropped without sorting (a sort per input was a
        # twelfth of the window stage)
        if len(top) < MAX_TOP_EVIDENCE or _top_order(entry) < _top_order(top[-1]):
            bisect.insort_right(top, entry, key=_top_order)
            del top[MAX_TOP_EVIDENCE:]
    return True


def _top_order(entry: list[Any]) -> tuple[float, str]:
    return -entry[0], entry[1]


def _mainland_tone(tones: dict[str, float]) -> float | None:
    values = [tones[code] for code in MAINLAND if code in tones]
    return sum(values) / len(values) if values else None


def to_signal(window: dict[str, Any], analyzer_version: str, emitted_at: float) -> dict[str, Any]:
    start, size = window["start"], window["size"]
    return {
        "schema_version": SIGNAL_SCHEMA_VERSION,
        "analyzer_version": analyzer_version,
        "window_start": iso(start),
        "window_end": iso(start + size),
        "window_seconds": size,
        "revision": window["revision"],
        "emitted_at": iso(emitted_at),
        "articles": window["articles"],
        "crypto_articles": window["crypto"],
        "mainland_articles": window["mainland"],
        "sources": len(window["sources"]),
        "late_articles": window["late"],
        "reciprocity_index": window_index(window["sources"].values()),
        "by_jurisdiction": {
            code: {"articles": n, "sentiment": round(max(-1.0, min(1.0, total / n)), 4)}
            for code, (n, total) in sorted(window["jurisdictions"].items())
        },
        "evidence_by_kind": {k: {"positive": p, "negative": n} for k, (p, n) in sorted(window["kinds"].items())},
        "top_evidence": [
            {"article_id": a, "source": s, "sentence": sentence, "kind": kind, "direction": d}
            for _, a, s, sentence, kind, d in window["top"]
        ],
    }


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one input did: signals to emit (revised windows included) and counts for metrics."""

    signals: list[dict[str, Any]]
    counted: int = 0
    duplicates: int = 0
    late: int = 0
    too_late: int = 0


class WindowBook:
    """Tumbling event-time windows over a mapping store, closed by an event-time watermark.

    Articles reach the window stage from several raw partitions, each in its own order, so each
    partition keeps its own clock (latest event time seen). The watermark is the slowest clock among
    partitions heard from in the last ``idle_seconds`` of wall-clock time (a drained partition stops
    holding it back; one not heard from yet holds it back for ``idle_seconds``), and never moves
    backwards. A window ``[start, start+size)`` closes when the
    watermark passes ``end + grace``; when no input at all arrived for ``idle_seconds``, a tick closes
    every window whose ``end + grace`` is in the wall-clock past. An article for a closed window within
    ``retention`` updates it and re-emits it as the next revision; older ones are reported too late.
    """

    def __init__(self, store: MutableMapping[str, Any], sizes: Iterable[int], grace: int,
                 retention: int, idle_seconds: float, analyzer_version: str, partitions: int = 1,
                 clock_key: str = CLOCK_KEY, prunes: Callable[[int], bool] | None = None) -> None:
        self.store = store
        # Several books may share one store (window shards): each has its own clock, and prunes the windows of the
        # sizes ``prunes`` accepts (default: every size)
        self.clock_key = clock_key
        self.prunes = prunes or (lambda size: True)
        self.partitions = partitions
        self._partition_names = tuple(str(index) for index in range(partitions))  # the clock's keys
        self.sizes = tuple(sizes)
        self.grace = grace
        self.retention = retention
        self.idle_seconds = idle_seconds
        self.analyzer_version = analyzer_version
        self.last_input_wall = 0.0

    def _clock(self) -> dict[str, Any]:
        clock = self.store.get(self.clock_key)
        if not clock:
            return {"watermark": 0.0, "open": [], "parts": {}, "due": None}
        return {"watermark": clock["watermark"], "open": list(clock["open"]), "parts": dict(clock["parts"]),
                "due": clock.get("due", _DUE_UNKNOWN)}

    def _advance(self, clock: dict[str, Any], c: Contribution, now: float) -> None:
        heard = [entry[1] for entry in clock["parts"].values()]
        if heard and now - max(heard) >= self.idle_seconds:
            # The whole input paused (a replay fed in parts, a quiet night): silence says nothing about any
            # one partition then, so each gets idle_seconds again before it stops holding the watermark back.
            # Otherwise the first partition to speak would set the watermark alone, and older articles
            # waiting on the others would arrive "too late".
            for entry in clock["parts"].values():
                entry[1] = now
        for name in self._partition_names:
            # A partition not heard from yet holds the watermark back until it has been idle too long.
            if name not in clock["parts"]:
                clock["parts"][name] = [0.0, now]
        part = str(c.partition)
        latest = clock["parts"].get(part, [0.0, 0.0])[0]
        clock["parts"][part] = [max(latest, c.ts), now]
        active = [ts for ts, heard in clock["parts"].values() if now - heard < self.idle_seconds]
        slowest = min(active) if active else max(ts for ts, _ in clock["parts"].values())
        clock["watermark"] = max(clock["watermark"], slowest)

    def add(self, c: Contribution, now: float) -> Outcome:
        self.last_input_wall = now
        clock = self._clock()
        self._advance(clock, c, now)
        watermark = clock["watermark"]
        signals: list[dict[str, Any]] = []
        counted = duplicates = late = too_late = 0
        keys = fingerprint_keys(c)  # the same in every window
        for size in self.sizes:
            start = window_start(c.ts, size)
            key = window_key(start, size)
            window = self.store.get(key)
            if window is None:
                if start + size + self.grace + self.retention <= watermark:
                    too_late += 1
                    continue
                window = new_window(start, size)
                if start + size + self.grace > watermark:
                    if key not in clock["open"]:  # it may be there without its window (a crash mid-flush)
                        clock["open"].append(key)
                    clock["due"] = start + size if clock["due"] is None else min(clock["due"], start + size)
                # else: its moment passed before any of its articles arrived; it emits at once below
            was_closed = window["revision"] > 0
            born_late = key not in clock["open"] and not was_closed
            if not add_to_window(window, c, late=was_closed or born_late, keys=keys):
                duplicates += 1
                continue
            counted += 1
            if was_closed or born_late:
                late += 1
                window["revision"] += 1
                signals.append(to_signal(window, self.analyzer_version, now))
            self.store[key] = window
        if clock["due"] is not None and clock["due"] + self.grace <= watermark:
            # Only when an open window may close: reading every open window for each input was a fifth of the
            # window stage
            signals.extend(self._close(clock, watermark, now))
        self.store[self.clock_key] = clock
        return Outcome(signals, counted, duplicates, late, too_late)

    def tick(self, now: float) -> Outcome:
        """An in-band tick: if idle long enough, close what the wall clock says is over."""
        clock = self._clock()
        if not clock["open"] or now - self.last_input_wall < self.idle_seconds:
            return Outcome([])
        signals = self._close(clock, max(clock["watermark"], now), now)
        self.store[self.clock_key] = clock
        return Outcome(signals)

    def _close(self, clock: dict[str, Any], watermark: float, now: float) -> list[dict[str, Any]]:
        still_open = []
        closing = []
        due: int | None = None  # the earliest end among the windows left open
        for key in clock["open"]:
            window = self.store.get(key)
            if window is None:
                continue
            end = window["start"] + window["size"]
            if end + self.grace <= watermark:
                closing.append(window)
            else:
                still_open.append(key)
                due = end if due is None else min(due, end)
        signals = []
        for window in sorted(closing, key=lambda w: (w["start"] + w["size"], w["size"])):
            window["revision"] = 1
            self.store[window_key(window["start"], window["size"])] = window
            signals.append(to_signal(window, self.analyzer_version, now))
        clock["open"] = still_open
        clock["due"] = due
        if closing:
            self._prune(clock, clock["watermark"])
        return signals

    def _prune(self, clock: dict[str, Any], watermark: float) -> None:
        open_keys = set(clock["open"])
        expired = [
            key for key, w in list(self.store.items())
            if not key.startswith(CLOCK_KEY) and key not in open_keys and self.prunes(w["size"])
            and w["start"] + w["size"] + self.grace + self.retention <= watermark
        ]
        for key in expired:
            del self.store[key]
