"""Window shards: the window stage split by window size over the partitions of the window input.

Every contribution and tick goes to every shard, so each shard's clock sees all articles; each counts only its own
sizes. (The watermarks agree up to the order in which a shard receives the workers' messages, which may differ
from shard to shard: each shard decides lateness for its own sizes alone.) Shard ``i`` of ``N`` keeps the sizes at
``i``, ``i + N``, ... of the sorted list, so the default hour and day go to different shards, and so to different
workers once two share the window stage. Pure: no Faust import; the agents build one :class:`WindowBook` per shard
over one table.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

from pipeline.aggregate import CLOCK_KEY, WindowBook
from pipeline.settings import Settings


def shard_sizes(sizes: Sequence[int], shards: int) -> list[tuple[int, ...]]:
    """The window sizes each of ``shards`` keeps, by position in the sorted list (a shard may keep none when there
    are more shards than sizes). Positional: a changed PIPELINE_WINDOWS or PIPELINE_WINDOW_SHARDS can move a size to
    another shard, whose table partition does not hold its windows (README, Configuration)."""
    return [tuple(sizes[index::shards]) for index in range(shards)]


def shard_clock_key(shard: int) -> str:
    # Shard 0's is the one-partition window stage's key: a deployment kept at one shard reads its clock as before
    return CLOCK_KEY if shard == 0 else f"{CLOCK_KEY}/{shard}"


def _prunes(shard: int, kept: list[tuple[int, ...]]) -> Callable[[int], bool]:
    """Shard 0 also prunes windows of sizes no shard keeps (a size dropped from PIPELINE_WINDOWS); the others
    only their own, as a table delete goes to the changelog partition of the shard that makes it."""
    if shard == 0:
        others = {size for sizes in kept[1:] for size in sizes}
        return lambda size: size not in others
    own = set(kept[shard])
    return lambda size: size in own


def shard_books(stores: Sequence[MutableMapping[str, Any]], settings: Settings,
                analyzer_version: str) -> list[WindowBook]:
    """One book per store, shard ``i`` over ``stores[i]`` (the stores may share one table: keys never collide).
    Each reports an input too late for its own sizes: it decides that by its own clock and store, which another
    shard's may be ahead of or behind."""
    kept = shard_sizes(settings.window_sizes, len(stores))
    return [WindowBook(store, kept[shard], settings.window_grace_seconds, settings.window_retention_seconds,
                       settings.idle_close_seconds, analyzer_version, partitions=settings.partitions,
                       clock_key=shard_clock_key(shard), prunes=_prunes(shard, kept))
            for shard, store in enumerate(stores)]
