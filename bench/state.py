"""State memory per article: what a worker keeps for every article it counted, a million articles in one week.

The windows table is a Faust memory store: per key, an entry in the store's dict and, once recovered, one in its
key -> partition dict (counted here for every key: the worst case); the seen table's store keeps its entries in
a :class:`pipeline.seenindex.SeenIndex`. This feeds the pure core the same way:
:class:`pipeline.aggregate.WindowBook` with the default windows, grace and retention (each window holds the
fingerprints of the articles it counted) through the write-back view the window stage writes with (once per
batch, fingerprints packed), and the seen table's entry per id as the enrich agent writes it.
``largest_window_bytes`` is the largest window value as JSON: what one changelog write of it sends (the windows
changelog takes records up to 16 MiB, ``pipeline.topics.MAX_RECORD_BYTES``). A million articles
published within a week is the worst case of the default retention (nothing has expired yet). Run in its own
process so the resident-set growth is the state's alone::

    python -m bench.state --articles 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from typing import Any

from bench.procfs import status_mb
from pipeline.aggregate import WindowBook
from pipeline.contribution import Contribution
from pipeline.dedup import packed_window, seen_entry, seen_key
from pipeline.seenindex import SeenIndex
from pipeline.settings import Settings
from pipeline.writeback import WriteBack

WEEK = 7 * 86400


class MemoryStoreLike(dict[str, Any]):
    """A dict that also keeps each key's partition, as Faust's memory store does."""

    def __init__(self) -> None:
        super().__init__()
        self.key_partition: dict[str, int] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.key_partition[key] = 0


def fill(count: int) -> dict[str, Any]:
    settings = Settings.from_env({})
    windows, seen = MemoryStoreLike(), SeenIndex()
    view = WriteBack(windows, encode=packed_window)
    book = WindowBook(view, settings.window_sizes, settings.window_grace_seconds,
                      settings.window_retention_seconds, settings.idle_close_seconds, "bench",
                      partitions=settings.partitions)
    start, step = 1_704_067_200, WEEK / count
    before = status_mb("self", "VmRSS")
    started = time.perf_counter()
    for index in range(count):
        article_id = f"bench-{index:07d}"
        tones = {"HK": 0.2, "CN": -0.1} if index % 3 == 0 else {}
        c = Contribution(article_id, f"bench.example.org/a/{index}", f"source-{index % 60}", start + index * step,
                         index % 2 == 0, "hostile" if tones else "absent", -0.3 if tones else 0.0, tones,
                         [("ban", -1, "The regulator banned it.")] if index % 7 == 0 else [], index % 4)
        book.add(c, now=1.0)
        content_hash = hashlib.blake2b(article_id.encode(), digest_size=16).hexdigest()
        seen[seen_key(article_id)] = seen_entry(content_hash, time.time(), index % 4)  # as the enrich stage does
        if index % settings.batch_max_events == settings.batch_max_events - 1:
            view.flush()  # the window stage writes its windows (fingerprints packed) once per batch
    view.flush()
    grown = status_mb("self", "VmRSS") - before
    return {"articles": count, "seconds": round(time.perf_counter() - started, 1),
            "state_mb": round(grown, 1), "bytes_per_article": round(grown * 1024 * 1024 / count),
            "keys": {"seen-articles": len(seen), "windows": len(windows)},
            "largest_window_bytes": max(len(json.dumps(w)) for w in windows.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    print(json.dumps(fill(parser.parse_args().articles)))


if __name__ == "__main__":
    main()
