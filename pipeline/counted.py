"""Which articles the windows have counted: one small entry per fingerprint, beside the windows, not inside them.

Each window used to hold the fingerprints of the articles it counted, so its table value (written whole to the
changelog) grew by about 42 bytes per article: a daily window passed Faust's 1,000,000-byte producer request
limit at about 24,000 articles, and every batch rewrote the whole set. Here each fingerprint is its own key,
written once, with the article's event time, so a window value stays a few kilobytes at any volume.

An article is counted once overall, by id and by normalised URL: a redelivered contribution, or the same story
under a new id, changes nothing. A fingerprint is forgotten once every window its article could fall in has
expired; an article that old is reported too late, never counted, so forgetting it cannot count it twice.
Pure: no Faust import; the store is a dict in tests and a changelogged table in the worker.
"""

from __future__ import annotations

import hashlib
from collections.abc import MutableMapping

PRUNE_INTERVAL_SECONDS = 60.0  # wall clock: a prune scans every fingerprint


def fingerprint(kind: str, value: str) -> str:
    return hashlib.blake2b(f"{kind}:{value}".encode(), digest_size=8).hexdigest()


def article_fingerprints(article_id: str, url_key: str) -> list[str]:
    keys = [fingerprint("id", article_id)]
    if url_key:
        keys.append(fingerprint("url", url_key))
    return keys


class CountedArticles:
    """Fingerprint -> event time (whole seconds) of the article counted under it."""

    def __init__(self, store: MutableMapping[str, int], keep_seconds: float) -> None:
        """``keep_seconds``: how far behind the watermark an event time can still be counted (the largest window
        plus grace plus retention)."""
        self.store = store
        self.keep_seconds = keep_seconds
        self._last_prune = float("-inf")

    def counted(self, keys: list[str]) -> bool:
        return any(key in self.store for key in keys)

    def remember(self, keys: list[str], ts: float) -> None:
        for key in keys:
            self.store[key] = int(ts)

    def prune(self, watermark: float, now: float) -> int:
        """Forget fingerprints no window can count again; at most once per ``PRUNE_INTERVAL_SECONDS`` of wall
        clock. Returns how many were forgotten."""
        if now - self._last_prune < PRUNE_INTERVAL_SECONDS:
            return 0
        self._last_prune = now
        # Event times are kept floored to the second, so one second of margin: never forget one too early.
        horizon = watermark - self.keep_seconds - 1
        expired = [key for key, ts in list(self.store.items()) if ts < horizon]
        for key in expired:
            del self.store[key]
        return len(expired)
