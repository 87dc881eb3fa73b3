from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from pipeline.aggregate import CLOCK_KEY, WindowBook, new_window, window_key
from pipeline.contribution import Contribution
from pipeline.dedup import packed_window
from pipeline.settings import Settings
from pipeline.windowshards import shard_books, shard_sizes
from tests.unit.test_aggregate import DAY, HOUR, contribution, ts

WEEK = 7 * DAY


def test_shards_take_the_sorted_sizes_in_turn() -> None:
    assert shard_sizes((HOUR, DAY), 1) == [(HOUR, DAY)]
    assert shard_sizes((HOUR, DAY), 2) == [(HOUR,), (DAY,)]
    assert shard_sizes((60, HOUR, DAY), 2) == [(60, DAY), (HOUR,)]
    assert shard_sizes((HOUR, DAY), 3) == [(HOUR,), (DAY,), ()]  # a shard with nothing to count


def _settings(shards: int, partitions: int = 3) -> Settings:
    return Settings.from_env({}, window_sizes=(HOUR, DAY), window_grace_seconds=HOUR, window_shards=shards,
                             partitions=partitions)


def _inputs(per_partition: int = 200) -> list[Contribution]:
    """Ten days of articles from three partitions, each in time order, the partitions interleaved unevenly (so
    some arrive late); then 40 of them sent again."""
    rng = random.Random(7)
    start = ts("2021-09-20T00:00:00Z")
    arrivals = []
    for p in range(3):
        for i, when in enumerate(sorted(start + rng.uniform(0, 10 * DAY) for _ in range(per_partition))):
            c = contribution(f"a-{p}-{i}", "2021-09-20T00:00:00Z", score=rng.choice((-0.5, 0.0, 0.4)),
                             evidence=True, tones={"CN": 0.1, "HK": 0.3}, partition=p)
            arrivals.append((i + rng.uniform(0, 20), replace(c, ts=when)))
    order = [c for _, c in sorted(arrivals, key=lambda item: item[0])]
    ancient = [contribution(f"old-{i}", f"2021-09-{10 + i}T12:00:00Z") for i in range(5)]  # past retention
    return order + rng.sample(order, 40) + ancient


def _run(books: list[WindowBook], inputs: list[Contribution]) -> dict[Any, list[Any]]:
    """Every input to every book, as the enrich stage sends every contribution to every shard: the signals by size,
    and the inputs too late for some window, with how many windows they missed over all the books."""
    signals: dict[Any, list[Any]] = {HOUR: [], DAY: [], "too late": []}
    for now, c in enumerate(inputs):
        too_late = 0  # the windows it was too late for, over the books
        for b in books:
            outcome = b.add(c, float(now))
            too_late += outcome.too_late
            for signal in outcome.signals:
                signals[signal["window_seconds"]].append(signal)
        signals["too late"].extend([(c.article_id, too_late)] * bool(too_late))
    for b in books:
        for signal in b.tick(float(len(inputs) + 10_000)).signals:
            signals[signal["window_seconds"]].append(signal)
    return signals


def test_two_shards_over_one_store_emit_what_one_book_does() -> None:
    one: dict[str, Any] = {}
    two: dict[str, Any] = {}
    inputs = _inputs()
    expected = _run(shard_books([one], _settings(1), "v"), inputs)
    got = _run(shard_books([two, two], _settings(2), "v"), inputs)
    assert len(expected[HOUR]) > 150 and any(signal["revision"] > 1 for signal in expected[HOUR])  # late ones too
    assert {(f"old-{i}", 2) for i in range(5)} <= set(expected["too late"])  # missed the hour and the day
    assert got == expected  # per size, in the same order; the same windows missed
    assert {k for k in two if k.startswith(CLOCK_KEY)} == {CLOCK_KEY, f"{CLOCK_KEY}/1"}
    assert two[f"{CLOCK_KEY}/1"]["watermark"] == two[CLOCK_KEY]["watermark"] == one[CLOCK_KEY]["watermark"]
    assert {k: packed_window(v) for k, v in two.items() if not k.startswith(CLOCK_KEY)} == {
        k: packed_window(v) for k, v in one.items() if k != CLOCK_KEY}


def test_each_shard_prunes_its_own_windows_and_shard_0_those_of_dropped_sizes() -> None:
    store: dict[str, Any] = {}
    hours, days = shard_books([store, store], _settings(2, partitions=1), "v")
    stray = new_window(int(ts("2021-09-20T00:00:00Z")), WEEK)  # a size no longer in PIPELINE_WINDOWS
    store[window_key(stray["start"], WEEK)] = stray
    days.add(contribution("d", "2021-09-20T01:00:00Z"), now=1)
    hours.add(contribution("h", "2021-09-20T01:00:00Z"), now=1)
    assert {window_key(ts("2021-09-20T00:00:00Z"), DAY), window_key(ts("2021-09-20T01:00:00Z"), HOUR)} <= set(store)
    later = contribution("later", "2021-10-20T00:00:00Z")
    days.add(later, now=2)  # past retention: the day shard prunes its day, not the hour or the stray week
    assert window_key(ts("2021-09-20T00:00:00Z"), DAY) not in store
    assert window_key(ts("2021-09-20T01:00:00Z"), HOUR) in store and window_key(stray["start"], WEEK) in store
    hours.add(later, now=2)
    assert window_key(ts("2021-09-20T01:00:00Z"), HOUR) not in store and window_key(stray["start"], WEEK) not in store
