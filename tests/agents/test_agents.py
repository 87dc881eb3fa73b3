"""Agent tests with Faust's test_context: real agents and tables, in-memory channels instead of Kafka."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.types import TP
from prometheus_client import CollectorRegistry, generate_latest

from pipeline.agents import Pipeline
from pipeline.app import create_app
from pipeline.dedup import seen_entry, seen_key
from pipeline.settings import Settings
from pipeline.validation import validate_raw
from tests.helpers import assert_valid, encode, raw_article
from tests.integration.conftest import metric


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


@dataclass
class Harness:
    app: faust.App
    pipeline: Pipeline
    outputs: dict[str, Any]

    async def next(self, name: str) -> Any:
        event = await self.outputs[name].get(timeout=5)
        value = event.value
        return json.loads(value.dumps()) if isinstance(value, faust.Record) else value

    def pending(self, name: str) -> int:
        return int(self.outputs[name].queue.qsize())

    def metrics(self) -> str:
        return generate_latest(self.pipeline.metrics.registry).decode()


def make_harness(settings: Settings) -> Harness:
    app = create_app(settings, CollectorRegistry())
    app.finalize()
    app.flow_control.resume()
    pipeline: Pipeline = app.pipeline  # type: ignore[attr-defined]
    channels = {name: app.channel() for name in ("enriched", "signals", "dlq", "window_input")}
    pipeline.channels = replace(pipeline.channels, **channels)
    # Subscribe before anything is sent: a Faust channel delivers only to existing subscribers.
    return Harness(app, pipeline, {name: ch.__aiter__() for name, ch in channels.items()})


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    # One window shard: an in-memory channel has no partitions (test_window_shards_split_the_sizes puts to two)
    yield make_harness(Settings.from_env({}, data_dir=tmp_path, idle_close_seconds=0.0, window_grace_seconds=0,
                                         window_shards=1))


async def test_valid_article_is_enriched_and_contributes_to_windows(harness: Harness) -> None:
    async with harness.pipeline.enrich.test_context() as agent:
        await agent.put(encode(raw_article()), key=b"t-1")
    enriched = await harness.next("enriched")
    assert_valid("article.enriched.v1.json", enriched)
    assert enriched["id"] == "t-1" and {j["code"] for j in enriched["jurisdictions"]} == {"HK", "CN"}
    contribution = await harness.next("window_input")
    assert contribution["type"] == "articles" and [c["a"] for c in contribution["cs"]] == ["t-1"]
    assert "pipeline_articles_valid_total 1.0" in harness.metrics()


@pytest.mark.parametrize("value,reason", [
    (b"{not json", "invalid_json"),
    (b"\xff\xfe\x00", "invalid_utf8"),
    (encode({"id": "x"}), "missing_field"),
    (b"x" * 300_000, "oversize"),
    (json.dumps(raw_article(title="a lone \ud83d surrogate")).encode(), "invalid_value"),
    (encode(raw_article(published_at="2099-06-01T09:00:00Z")), "invalid_value"),  # a typo'd year
])
async def test_bad_input_goes_to_the_dlq_with_its_origin(harness: Harness, value: bytes, reason: str) -> None:
    async with harness.pipeline.enrich.test_context() as agent:
        await agent.put(value, key=b"bad")
    letter = await harness.next("dlq")
    assert_valid("article.dlq.v1.json", letter)
    assert letter["reason"] == reason and letter["source_topic"] == "articles.raw.v1"
    assert harness.pending("enriched") == 0
    assert f'pipeline_articles_dead_lettered_total{{reason="{reason}"}} 1.0' in harness.metrics()


async def test_resent_article_is_dropped_and_reused_id_is_dead_lettered(harness: Harness) -> None:
    async with harness.pipeline.enrich.test_context() as agent:
        await agent.put(encode(raw_article()), key=b"t-1")
        await agent.put(encode(raw_article()), key=b"t-1")
        await agent.put(encode(raw_article(text="Completely different text about Singapore.")), key=b"t-1")
    await harness.next("enriched")
    assert harness.pending("enriched") == 0
    assert (await harness.next("dlq"))["reason"] == "id_reused"
    assert "pipeline_articles_duplicate_total 1.0" in harness.metrics()


async def test_an_id_an_earlier_version_remembered_is_still_a_duplicate(harness: Harness) -> None:
    # Read back from the changelog after an upgrade, keyed by the article id itself: a three-value list (the
    # first versions), or an entry string; an id of 16 hex characters is held among the hashed keys.
    hex_id = "0123456789abcdef"
    old_entries: list[tuple[str, Callable[[str], Any]]] = [
        ("t-1", lambda h: [h, 1_700_000_000.5, 0]),
        (hex_id, lambda h: seen_entry(h, 1_700_000_000, 0))]
    for count, (article_id, old_entry) in enumerate(old_entries, start=1):
        content_hash = validate_raw(encode(raw_article(article_id)), 1 << 20).content_hash  # type: ignore[union-attr]
        harness.pipeline.seen.index.clear()
        harness.pipeline.seen.index[article_id] = old_entry(content_hash)
        async with harness.pipeline.enrich.test_context() as agent:
            await agent.put(encode(raw_article(article_id)), key=article_id.encode())
            expected = f"pipeline_articles_duplicate_total {count}.0"
            await until(lambda: expected in harness.metrics())  # noqa: B023  # awaited within this iteration
        assert harness.pending("enriched") == 0


async def test_the_seen_store_recovers_in_changelog_order_and_keeps_its_partitions(harness: Harness) -> None:
    store: Any = harness.pipeline.seen.data

    def record(key: str, value: Any) -> SimpleNamespace:
        return SimpleNamespace(key=key, value=value, message=SimpleNamespace(value=None if value is None else b"x"))

    first, second, gone = seen_key("a"), seen_key("b"), seen_key("c")
    store.apply_changelog_batch([
        record(first, seen_entry("0123456789abcdef", 10, 0)), record(first, None),
        record(first, seen_entry("0123456789abcdef", 11, 0)),  # deleted, then written again: kept
        record(second, seen_entry("fedcba9876543210", 12, 1)), record("old-id", ["fedcba9876543210", 9.5, 1]),
        record(gone, seen_entry("fedcba9876543210", 13, 2)), record(gone, None),
    ], lambda key: key, lambda value: value)
    assert dict(harness.pipeline.seen.items()) == {first: "0123456789abcdef 11 0", second: "fedcba9876543210 12 1",
                                                   "old-id": ["fedcba9876543210", 9.5, 1]}
    # Partition 1 is now another worker's (this one would hold only a standby copy; memory stores keep none)
    await store.on_recovery_completed({TP("t", 0)}, {TP("t", 1)})
    assert dict(harness.pipeline.seen.items()) == {first: "0123456789abcdef 11 0"}


async def test_the_workers_keep_no_standby_copies(harness: Harness) -> None:
    # Faust keeps one by default. A memory store keeps no changelog offset, so a worker taking a partition over
    # replays its changelog from the start whatever it followed, and drops what it does not own when a recovery
    # ends (above): standby copies would only cost the CPU of following the other workers' changelogs.
    assert harness.app.conf.table_standby_replicas == 0
    for table in (harness.pipeline.seen, harness.pipeline.windows):
        store: Any = table.data
        assert store.persisted_offset(TP("t", 0)) is None


async def test_window_agent_emits_closed_windows(harness: Harness) -> None:
    async with harness.pipeline.enrich.test_context() as enrich:
        for index, day in enumerate(("2021-09-24", "2021-09-24", "2021-09-26")):
            await enrich.put(encode(raw_article(f"w-{index}", published_at=f"{day}T08:00:00Z",
                                                text=f"Article {index}: the PBoC banned crypto trading.")))
    messages = [await harness.next("window_input")]  # one per enrich batch and raw partition
    while sum(len(m["cs"]) for m in messages) < 3:
        messages.append(await harness.next("window_input"))
    async with harness.pipeline.window_agent.test_context() as windows:
        for item in messages:
            await windows.put(item, key=b"w")
        await windows.put({"type": "article", "c": messages[0]["cs"][0]}, key=b"w")  # redelivered, old format
    signals = []
    while harness.pending("signals"):
        signals.append(await harness.next("signals"))
    daily = [s for s in signals if s["window_seconds"] == 86400]
    assert [(s["window_start"], s["articles"]) for s in daily] == [("2021-09-24T00:00:00Z", 2)]
    for signal in signals:
        assert_valid("signal.reciprocity.v1.json", signal)
    assert 'pipeline_window_duplicates_total{window="1d"}' in harness.metrics()


async def test_tick_closes_idle_windows(harness: Harness) -> None:
    async with harness.pipeline.enrich.test_context() as enrich:
        await enrich.put(encode(raw_article()), key=b"t-1")
    contribution = await harness.next("window_input")
    async with harness.pipeline.window_agent.test_context() as windows:
        await windows.put(contribution, key=b"w")
        assert harness.pending("signals") == 0
        await windows.put({"type": "tick", "now": 0}, key=b"w")
    keys = {(await harness.next("signals"))["window_seconds"] for _ in range(2)}
    assert keys == {3600, 86400}


async def test_window_shards_split_the_sizes(tmp_path: Path) -> None:
    """Two shards: the enrich stage sends each group of contributions to both; shard 0 counts the hours, shard 1
    the days, each with its own clock, and a tick to each closes its own windows."""
    h = make_harness(Settings.from_env({}, data_dir=tmp_path, idle_close_seconds=0.0, window_grace_seconds=0,
                                       window_shards=2))
    async with h.pipeline.enrich.test_context() as enrich:
        await enrich.put(encode(raw_article("s-1", published_at="2021-09-24T08:00:00Z")), key=b"s-1")
    copies = [await h.next("window_input") for _ in range(2)]  # one per shard, in shard order
    assert copies[0] == copies[1] and [c["a"] for c in copies[0]["cs"]] == ["s-1"]
    written: dict[str, int | None] = {}  # table key -> the changelog partition its last write went to
    send = h.pipeline.windows.send_changelog

    def spy(partition: int | None, key: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        written[key] = partition
        return send(partition, key, value, *args, **kwargs)

    h.pipeline.windows.send_changelog = spy  # type: ignore[method-assign]
    async with h.pipeline.window_agent.test_context() as windows:
        for shard, message in enumerate(copies):
            await windows.put(message, key=b"w", partition=shard)
        assert h.pending("signals") == 0
        for shard in (0, 1):
            await windows.put({"type": "tick", "now": 0}, key=b"w", partition=shard)
    signals = [await h.next("signals") for _ in range(2)]
    assert sorted((s["window_seconds"], s["articles"]) for s in signals) == [(3600, 1), (86400, 1)]
    # Each shard's clock and windows went to its own changelog partition
    assert written == {"__clock__": 0, "2021-09-24T08:00:00Z/3600": 0,
                       "__clock__/1": 1, "2021-09-24T00:00:00Z/86400": 1}
    assert metric(h.metrics(), "pipeline_window_articles_total", 'window="1h"') == 1
    assert metric(h.metrics(), "pipeline_window_articles_total", 'window="1d"') == 1


async def test_dedup_memory_is_bounded_by_retention(tmp_path: Path) -> None:
    h = make_harness(Settings.from_env({}, data_dir=tmp_path, dedup_retention_seconds=0))
    pipeline = h.pipeline
    async with pipeline.enrich.test_context() as agent:
        # One message at a time (the agent batches what arrives together): each batch settles before the next.
        await agent.put(encode(raw_article("first")), key=b"first")
        assert (await h.next("enriched"))["id"] == "first"
        await until(lambda: metric(h.metrics(), "pipeline_processing_seconds_count") == 1)
        pipeline._last_scan = float("-inf")  # let the next batch prune at once instead of a minute later
        await agent.put(encode(raw_article("second", text="Another article about Singapore.")), key=b"second")
        assert (await h.next("enriched"))["id"] == "second"
        await until(lambda: metric(h.metrics(), "pipeline_processing_seconds_count") == 2)
        assert seen_key("first") not in pipeline.seen
        await agent.put(encode(raw_article("first")), key=b"first")
        assert (await h.next("enriched"))["id"] == "first"
