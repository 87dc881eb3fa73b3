"""State faults on Apache Kafka: a daily window whose value (its count and the fingerprints of what it counted)
is larger than the broker's default 1 MB record limit must reach its changelog whole and survive a crash; the
seen table, whose changelog records the enrich stage hands to the producer a batch at a time, survives one too.

Apache Kafka only: the embedded Tansu reports a partition's end offset as the base offset of its last record
batch plus one, so Faust's table recovery stops before the last batch's other records (README, "Guarantees")."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench.brokers import wait_caught_up
from pipeline.aggregate import window_key
from pipeline.broker import ApacheKafka
from pipeline.contribution import Contribution
from pipeline.demo import DEV_ENV
from pipeline.settings import Settings
from pipeline.topics import SIGNALS, WINDOW_INPUT
from pipeline.windowshards import shard_sizes
from tests.faults.conftest import Stack
from tests.faults.harness import BASE_TS, Reader, keyed, latest_signals, make_articles, produce, wait_metric
from tests.integration.conftest import metric

pytestmark = pytest.mark.integration
ARTICLES = 52_000  # two packed fingerprints of about 11 bytes each: a daily window of 1.11 MB (1,109,555 bytes)
PER_MESSAGE = 250  # contributions per window-input message, as the enrich stage groups them per batch
_DEV = Settings.from_env(DEV_ENV)
DAY_SHARD = next(shard for shard, sizes in enumerate(shard_sizes(_DEV.window_sizes, _DEV.window_shards))
                 if 86400 in sizes)


def _contribution(index: int, ts: float) -> dict[str, Any]:
    return Contribution(f"big-{index}", f"example.org/big/{index}", "big", ts, False, "absent", 0.0,
                        {}).to_dict()


def _send(bootstrap: str, contributions: list[dict[str, Any]]) -> None:
    """To the window shard that keeps the days only (the enrich stage sends to every shard; the hours would only
    slow the test down)."""
    messages = [json.dumps({"type": "articles", "cs": contributions[i:i + PER_MESSAGE]}).encode()
                for i in range(0, len(contributions), PER_MESSAGE)]
    produce(bootstrap, [(b"w", message) for message in messages], topic=WINDOW_INPUT.name, partition=DAY_SHARD)


def _daily_count(bootstrap: str, key: str, at_least: int, timeout: float = 120.0) -> dict[str, Any]:
    with Reader(bootstrap, SIGNALS.name) as signals:
        signals.until(lambda: latest_signals(signals.messages).get(key, {}).get("articles", 0) >= at_least,
                      timeout=timeout)
        return latest_signals(signals.messages).get(key, {})


def test_a_daily_window_over_a_megabyte_survives_a_sigkill_on_apache_kafka(
        apache_kafka: ApacheKafka, stack_for: Any, figures: dict[str, Any]) -> None:
    stack: Stack = stack_for(apache_kafka)
    worker = stack.worker()
    day = window_key(BASE_TS, 86400)
    # One day's articles (the window stage's input, straight from the internal topic), then one article two
    # days later: the day closes once the other partitions have been idle (2 s in the dev settings).
    _send(apache_kafka.bootstrap, [_contribution(i, BASE_TS + i * 86400 / ARTICLES) for i in range(ARTICLES)])
    _send(apache_kafka.bootstrap, [_contribution(ARTICLES, BASE_TS + 2 * 86400)])
    first = _daily_count(apache_kafka.bootstrap, day, ARTICLES)
    assert first.get("articles") == ARTICLES, f"the day counted {first.get('articles')} of {ARTICLES}"
    # Everything counted (the changelog write made) before the kill.
    assert wait_metric(worker, "pipeline_window_articles_total", ARTICLES + 1, 'window="1d"') == ARTICLES + 1

    worker.kill()
    worker.start(ready_timeout=90)
    # After the crash the window comes back from its changelog: a late article is counted on top of all
    # 52,000 (a value the changelog could not take would come back older, or not at all), and one of the
    # 52,000 sent again is recognised by its fingerprint.
    _send(apache_kafka.bootstrap, [_contribution(ARTICLES + 1, BASE_TS + 3600), _contribution(7, BASE_TS + 7)])
    revised = _daily_count(apache_kafka.bootstrap, day, ARTICLES + 1)
    figures.update(sent=ARTICLES + 3, faults="1 x SIGKILL worker with a 1.11 MB daily window",
                   first_count=first.get("articles"), revised_count=revised.get("articles"),
                   revision=revised.get("revision"))
    assert revised.get("articles") == ARTICLES + 1, (
        f"after the restart the day counted {revised.get('articles')}, expected {ARTICLES + 1}")
    assert revised.get("revision", 0) >= 2


def test_the_seen_table_survives_a_sigkill_on_apache_kafka(
        apache_kafka: ApacheKafka, stack_for: Any, figures: dict[str, Any]) -> None:
    """After a crash the next worker knows every id the last one processed: each copy sent again is dropped at
    the door, none analysed again. The kill comes once every seen entry is on the broker (the changelog read
    back): the enrich stage does not wait for their acknowledgement, so a kill just after a batch may lose its
    entries (Faust's own path could too). The check comes once the group has committed all its input."""
    stack: Stack = stack_for(apache_kafka)
    worker = stack.worker()
    articles = make_articles(300, "seen")
    produce(apache_kafka.bootstrap, keyed(articles))
    assert wait_metric(worker, "pipeline_articles_valid_total", len(articles)) == len(articles)
    with Reader(apache_kafka.bootstrap, f"{stack.settings.app_id}-seen-articles-changelog") as changelog:
        assert changelog.until(lambda: len({m.key for m in changelog.messages}) >= len(articles), timeout=30), (
            f"{len({m.key for m in changelog.messages})} of {len(articles)} seen entries reached the changelog")
    worker.kill()
    worker.start(ready_timeout=90)
    produce(apache_kafka.bootstrap, keyed(articles))
    # At least: the restarted worker may also read again what the first processed after its last commit.
    wait_metric(worker, "pipeline_articles_duplicate_total", len(articles))
    wait_caught_up(apache_kafka.bootstrap, stack.settings.app_id)  # every copy processed, not only 300 of them
    text = worker.scrape() or ""
    duplicates = metric(text, "pipeline_articles_duplicate_total")
    analysed_again = metric(text, "pipeline_articles_valid_total")
    figures.update(sent=2 * len(articles), faults="1 x SIGKILL worker, then every article sent again",
                   duplicates_at_door=int(duplicates), analysed_again=int(analysed_again))
    assert duplicates >= len(articles)
    assert analysed_again == 0, f"{analysed_again} articles seen before the crash were analysed again"
