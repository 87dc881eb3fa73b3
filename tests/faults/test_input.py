"""Input faults, on both brokers: the same articles delivered again in bulk, and bad input of every class the
validator names. (tests/unit/test_validation.py has the hypothesis property test of the validator itself.)"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline.topics import ENRICHED, RAW
from tests.faults.conftest import Broker, Stack
from tests.faults.harness import (
    Reader,
    check_exactly_once,
    dead_letters,
    encode,
    keyed,
    make_articles,
    produce,
    wait_metric,
)
from tests.helpers import assert_valid
from tests.integration.conftest import metric

pytestmark = pytest.mark.integration
MAX_BYTES = 262_144  # the default PIPELINE_MAX_ARTICLE_BYTES
FRENCH = ("La Banque populaire de Chine a rappelé que les transactions en cryptomonnaies restent interdites "
          "sur le continent, tandis que Hong Kong accorde de nouvelles licences aux plateformes d'échange.")


def test_duplicate_delivery_counts_once(any_broker: Broker, stack_for: Any, figures: dict[str, Any]) -> None:
    stack: Stack = stack_for(any_broker)
    worker = stack.worker()
    articles = make_articles(120, "dup")
    produce(any_broker.bootstrap, keyed(articles))
    produce(any_broker.bootstrap, keyed(articles))  # again at once, while the first copies are processed
    before = check_exactly_once(any_broker.bootstrap, articles, figures, enriched_exactly_once=True)
    # A third copy of everything after every window closed, and the same stories under new ids with URL
    # variants (www., http, query string): counted by no window again, and no window re-emitted.
    same_url = [{**a, "id": f"{a['id']}-again", "url": a["url"].replace("https://", "http://www.") + "?utm=rss"}
                for a in articles[:10]]
    produce(any_broker.bootstrap, keyed(articles) + keyed(same_url))
    assert wait_metric(worker, "pipeline_articles_duplicate_total", 2 * len(articles)) == 2 * len(articles)
    assert wait_metric(worker, "pipeline_window_duplicates_total", len(same_url), 'window="1d"') == len(same_url)
    figures.update(sent=3 * len(articles) + len(same_url),
                   faults=f"2 bulk re-sends of all {len(articles)}, {len(same_url)} same URL under new ids")
    after = check_exactly_once(any_broker.bootstrap, articles, figures, enriched_exactly_once=True)
    assert {k: (v["revision"], v["articles"]) for k, v in after.items()} == {
        k: (v["revision"], v["articles"]) for k, v in before.items()}
    text = worker.scrape() or ""
    assert metric(text, "pipeline_articles_valid_total") == len(articles) + len(same_url)
    with Reader(any_broker.bootstrap, ENRICHED.name) as enriched:
        ids = {a["id"] for a in same_url}
        assert enriched.until(lambda: ids <= {m.key.decode() for m in enriched.messages}, timeout=30)


def bad_input(good: list[dict[str, Any]]) -> dict[str, tuple[bytes | None, str]]:
    """Kafka key -> (raw value, DLQ reason). One per class; every key distinct."""
    base = {**good[0], "id": "x"}

    def article(key: str, **fields: Any) -> bytes:
        return encode({**base, "id": key, "url": f"https://bad.example.org/{key}", **fields})

    nested: Any = "deep"
    for _ in range(100):
        nested = [nested]
    missing = {k: v for k, v in base.items() if k not in ("title", "published_at")}
    return {
        "bad-json": (b'{"id": "bad-json", "title": ', "invalid_json"),
        "bad-empty": (b"", "invalid_json"),
        "bad-tombstone": (None, "missing_field"),
        "bad-utf8": (b'{"id": "bad-utf8", "text": "\xff\xfe caf\xe9"}', "invalid_utf8"),
        "bad-missing": (encode({**missing, "id": "bad-missing"}), "missing_field"),
        "bad-type": (article("bad-type", title=42), "wrong_type"),
        "bad-blank": (article("bad-blank", text=" \n\t\u00a0 "), "empty_text"),
        "bad-oversize": (article("bad-oversize", text="x " * MAX_BYTES), "oversize"),
        "bad-nested": (article("bad-nested", extra=nested), "nested_too_deep"),
        "bad-nul": (article("bad-nul", text="Hong Kong\u0000 crypto"), "invalid_value"),
        # valid JSON whose "\ud800" escape decodes to half a UTF-16 pair: it used to crash the enrich batch
        "bad-surrogate": (json.dumps({**base, "id": "bad-surrogate", "url": "https://bad.example.org/s",
                                      "title": "Hong Kong \ud800 crypto"}).encode(), "invalid_value"),
        "bad-schema": (article("bad-schema", schema_version=2), "unsupported_schema_version"),
        "bad-array": (b'[{"id": "bad-array"}]', "not_an_object"),
        "bad-date": (article("bad-date", published_at="yesterday"), "invalid_value"),
        # a typo'd year: counted, it would carry the watermark past every later article
        "bad-future": (article("bad-future", published_at="2099-03-01T08:00:00Z"), "invalid_value"),
        "bad-language": (article("bad-language", language="English!"), "invalid_value"),
        good[3]["id"]: (encode({**good[3], "text": "Rewritten text under a reused id."}), "id_reused"),
    }


def test_bad_input_is_dead_lettered_and_the_stream_continues(
        any_broker: Broker, stack_for: Any, figures: dict[str, Any]) -> None:
    stack: Stack = stack_for(any_broker, max_article_bytes=MAX_BYTES)
    worker = stack.worker()
    good = make_articles(60, "good")
    first, then = good[:30], good[30:]
    produce(any_broker.bootstrap, keyed(first))
    # The window stage's watermark is in March 2024 once these are counted: an article from 2020 is too late.
    wait_metric(worker, "pipeline_window_articles_total", len(first), 'window="1d"')
    bad = bad_input(good)
    french = {**{k: v for k, v in good[1].items() if k != "language"},  # detected: not English, so unscored
              "id": "odd-french", "url": "https://odd.example.org/fr", "title": "Cryptomonnaies", "text": FRENCH}
    chatty = {**good[2], "id": "odd-chatty", "url": "https://odd.example.org/chatty",
              "text": "Crypto up. " * 20_000}  # 20,000 sentences, 220 kB: under the limit, must be processed
    ancient = {**good[4], "id": "odd-ancient", "url": "https://odd.example.org/2020",
               "published_at": "2020-01-06T08:00:00Z"}  # valid, enriched; too late for the windows
    odd = [french, chatty, ancient]
    metas = produce(any_broker.bootstrap, [(k.encode(), v) for k, (v, _) in bad.items()] + keyed(odd))
    produce(any_broker.bootstrap, keyed(then))
    letters = dead_letters(any_broker.bootstrap, len(bad) + 2)  # the ancient article: one per window shard
    figures.update(sent=len(good) + len(bad) + len(odd), faults=f"{len(bad)} bad inputs, {len(odd)} odd valid",
                   dead_letters=len(letters))
    check_exactly_once(any_broker.bootstrap, [*good, french, chatty], figures, enriched_exactly_once=True)

    by_key = {letter["_key"]: letter for letter in letters if letter["source_topic"] == RAW.name}
    reasons = {key: by_key[key]["reason"] if key in by_key else None for key in bad}
    assert reasons == {key: reason for key, (_, reason) in bad.items()}
    for letter in letters:
        assert_valid("article.dlq.v1.json", {k: v for k, v in letter.items() if k != "_key"})
    for (key, _), meta in zip(bad.items(), metas, strict=False):
        assert (by_key[key]["source_partition"], by_key[key]["source_offset"]) == (meta.partition, meta.offset)
    assert by_key["bad-utf8"]["original_encoding"] == "base64"
    late = [letter for letter in letters if letter["reason"] == "too_late"]
    assert {json.loads(letter["original"])["a"] for letter in late} == {"odd-ancient"}  # the contribution
    # Each window shard (the hours, the days) decides for its own sizes and names them
    assert sorted(letter["error"].rsplit(" the ", 1)[1] for letter in late) == ["1d windows kept", "1h windows kept"]

    with Reader(any_broker.bootstrap, ENRICHED.name) as enriched:
        ids = {a["id"] for a in odd}
        enriched.until(lambda: ids <= {m.key.decode() for m in enriched.messages}, timeout=30)
        records = {m.key.decode(): json.loads(m.value) for m in enriched.messages}
    assert records["odd-french"]["unscored_reason"] == "unsupported_language"
    assert records["odd-chatty"]["unscored_reason"] is None and "odd-ancient" in records
    text = worker.scrape() or ""
    for reason in {r for _, r in bad.values()}:
        expected = sum(1 for _, r in bad.values() if r == reason)
        assert metric(text, "pipeline_articles_dead_lettered_total", f'reason="{reason}"') == expected, reason
    assert worker.process is not None and worker.process.poll() is None
