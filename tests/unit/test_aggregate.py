from __future__ import annotations

from dataclasses import replace
from typing import Any

from pipeline.aggregate import CLOCK_KEY, WindowBook, signal_key, window_key
from pipeline.contribution import Contribution, normalise_url
from pipeline.index import window_index
from pipeline.validation import parse_timestamp
from tests.helpers import assert_valid

HOUR, DAY = 3600, 86400


def ts(value: str) -> float:
    parsed = parse_timestamp(value)
    assert parsed is not None
    return parsed


def contribution(article_id: str, when: str, *, source: str = "A", score: float = 0.0,
                 tones: dict[str, float] | None = None, evidence: bool = False, partition: int = 0,
                 url: str = "") -> Contribution:
    return Contribution(article_id, normalise_url(url), source, ts(when), True,
                        "hostile" if score < 0 else ("softening" if score > 0 else "absent"), score,
                        tones or {}, [("ban" if score < 0 else "pilot", -1 if score < 0 else 1, "s")]
                        if evidence else [], partition)


def book(store: dict[str, Any] | None = None, grace: int = 0, idle: float = 30.0, partitions: int = 1) -> WindowBook:
    return WindowBook({} if store is None else store, (HOUR, DAY), grace, 7 * DAY, idle, "test", partitions)


def test_windows_close_when_the_watermark_passes_end_plus_grace() -> None:
    b = book(grace=HOUR)
    assert b.add(contribution("a", "2021-09-24T08:10:00Z"), now=1000).signals == []
    out = b.add(contribution("b", "2021-09-24T09:30:00Z"), now=1001)
    assert out.signals == []  # 08:00-09:00 closes at 10:00 with an hour of grace
    out = b.add(contribution("c", "2021-09-24T10:00:00Z"), now=1002)
    assert [(s["window_start"], s["window_seconds"], s["articles"]) for s in out.signals] == [
        ("2021-09-24T08:00:00Z", HOUR, 1)]
    for signal in out.signals:
        assert_valid("signal.reciprocity.v1.json", signal)
        # The signals topic's key, which the window stage takes from the signal's own fields
        assert signal_key(signal) == window_key(int(ts(signal["window_start"])), signal["window_seconds"])


def test_out_of_order_within_grace_updates_the_open_window() -> None:
    b = book(grace=HOUR)
    b.add(contribution("a", "2021-09-24T08:10:00Z"), now=1)
    b.add(contribution("b", "2021-09-24T09:50:00Z"), now=2)
    b.add(contribution("late-but-ok", "2021-09-24T08:55:00Z"), now=3)
    out = b.add(contribution("c", "2021-09-24T10:01:00Z"), now=4)
    assert out.signals[0]["articles"] == 2 and out.signals[0]["late_articles"] == 0


def test_late_article_re_emits_the_window_as_a_new_revision() -> None:
    b = book()
    b.add(contribution("a", "2021-09-24T08:10:00Z"), now=1)
    closed = b.add(contribution("b", "2021-09-24T09:10:00Z"), now=2).signals
    assert closed[0]["revision"] == 1
    out = b.add(contribution("late", "2021-09-24T08:20:00Z"), now=3)
    assert out.late == 1
    revised = [s for s in out.signals if s["window_seconds"] == HOUR]
    assert revised[0]["revision"] == 2 and revised[0]["articles"] == 2 and revised[0]["late_articles"] == 1


def test_articles_older_than_retention_are_too_late() -> None:
    b = book()
    b.add(contribution("a", "2021-09-24T08:00:00Z"), now=1)
    b.add(contribution("b", "2021-10-24T08:00:00Z"), now=2)
    out = b.add(contribution("old", "2021-09-01T08:00:00Z"), now=3)
    assert out.too_late == 2 and out.counted == 0


def test_duplicates_by_id_or_url_count_once_in_every_window() -> None:
    store: dict[str, Any] = {}
    b = book(store)
    assert b.add(contribution("a", "2021-09-24T08:00:00Z", url="https://www.x.org/s/1?utm=1"), now=1).counted == 2
    assert b.add(contribution("a", "2021-09-24T08:00:00Z"), now=2).duplicates == 2
    assert b.add(contribution("other-id", "2021-09-24T08:05:00Z", url="http://x.org/s/1/"), now=3).duplicates == 2
    assert store[window_key(int(ts("2021-09-24T00:00:00Z")), DAY)]["articles"] == 1


def test_a_replayed_store_survives_a_new_book() -> None:
    store: dict[str, Any] = {}
    book(store).add(contribution("a", "2021-09-24T08:00:00Z"), now=1)
    again = book(store)  # a restarted worker recovers the table and sees the redelivery
    assert again.add(contribution("a", "2021-09-24T08:00:00Z"), now=2).duplicates == 2


def test_idle_tick_closes_windows_in_the_wall_clock_past() -> None:
    wall = ts("2026-11-24T12:00:00Z")
    b = book(grace=HOUR, idle=5)
    b.add(contribution("a", "2021-09-24T08:00:00Z"), now=wall)
    assert b.tick(now=wall + 3).signals == []  # not idle long enough
    signals = b.tick(now=wall + 6).signals
    assert {s["window_seconds"] for s in signals} == {HOUR, DAY}
    assert b.tick(now=wall + 100).signals == []
    b.add(contribution("b", "2026-11-24T11:30:00Z"), now=wall + 101)
    assert b.tick(now=wall + 110).signals == []  # this hour is not over on the wall clock yet


def test_slowest_partition_holds_the_watermark() -> None:
    b = book(partitions=2, idle=60)
    b.add(contribution("a", "2021-09-24T08:00:00Z", partition=0), now=1)
    assert b.add(contribution("b", "2021-09-26T08:00:00Z", partition=0), now=2).signals == []
    # partition 1 is behind: its first article is still counted, not too late
    out = b.add(contribution("c", "2021-09-24T08:30:00Z", partition=1), now=3)
    assert out.counted == 2 and out.too_late == 0


def test_drained_partition_stops_holding_the_watermark() -> None:
    b = book(partitions=2, idle=10)
    b.add(contribution("a", "2021-09-24T08:00:00Z", partition=1), now=1)
    b.add(contribution("b", "2021-09-24T09:00:00Z", partition=0), now=2)
    b.add(contribution("c", "2021-09-25T09:00:00Z", partition=0), now=8)
    # partition 1 has been silent for 14 s while partition 0 kept talking: it no longer holds the watermark
    out = b.add(contribution("d", "2021-09-26T08:00:00Z", partition=0), now=15)
    assert {"2021-09-24T08:00:00Z", "2021-09-24T00:00:00Z"} <= {s["window_start"] for s in out.signals}


def test_after_a_pause_of_the_whole_input_every_partition_holds_the_watermark_again() -> None:
    # A replay fed in parts: the next part's newest article, first to arrive, must not make older articles
    # of the same part (on another partition, a moment later) too late.
    b = book(partitions=2, idle=10)
    b.add(contribution("a", "2019-01-01T08:00:00Z", partition=0), now=1)
    b.add(contribution("b", "2019-01-01T09:00:00Z", partition=1), now=1)
    b.add(contribution("c", "2025-06-01T08:00:00Z", partition=0), now=30)
    out = b.add(contribution("d", "2020-03-01T08:00:00Z", partition=1), now=30.1)
    assert out.counted == 2 and out.too_late == 0


def test_closed_windows_are_pruned_after_retention() -> None:
    store: dict[str, Any] = {}
    b = book(store)
    b.add(contribution("a", "2021-09-01T08:00:00Z"), now=1)
    b.add(contribution("b", "2021-10-01T08:00:00Z"), now=2)
    b.add(contribution("c", "2021-10-01T09:30:00Z"), now=3)
    assert all(not k.startswith("2021-09-01") for k in store)
    assert CLOCK_KEY in store


def test_index_is_null_without_mainland_content_and_bounded_otherwise() -> None:
    assert window_index([]) is None
    assert window_index([[3, 0, 0.0, 0.0, 0, 0.0, 0]]) is None
    assert window_index([[2, 0, 0.0, -1.2, 2, 1.0, 1]]) is None  # mainland tone but no new evidence
    value = window_index([[1, 1, -1.0, -0.8, 1, 1.6, 1]])
    assert value is not None and -1 <= value < -0.5


def test_index_weights_sources_equally() -> None:
    prolific = [10, 10, 10.0, 0.0, 0, 0.0, 0]  # ten positive-evidence articles from one outlet
    other = [1, 1, -1.0, 0.0, 0, 0.0, 0]
    assert window_index([prolific, other]) == 0.0


def test_signal_carries_counts_and_top_evidence() -> None:
    b = book()
    b.add(contribution("a", "2021-09-24T08:00:00Z", score=-1.0, tones={"CN": -0.6, "HK": 0.4}, evidence=True),
          now=1)
    b.add(contribution("b", "2021-09-24T08:30:00Z", source="B", tones={"HK": 0.2}), now=2)
    signal = b.add(contribution("c", "2021-09-25T08:30:00Z"), now=3).signals[-1]
    assert signal["window_seconds"] == DAY
    assert signal["articles"] == 2 and signal["sources"] == 2 and signal["mainland_articles"] == 1
    assert signal["by_jurisdiction"]["HK"] == {"articles": 2, "sentiment": 0.3}
    assert signal["evidence_by_kind"] == {"ban": {"positive": 0, "negative": 1}}
    assert signal["top_evidence"][0]["article_id"] == "a"
    assert signal["reciprocity_index"] is not None and signal["reciprocity_index"] < 0


def test_top_evidence_keeps_the_strongest_first_and_ties_in_counting_order() -> None:
    scores = [0.2, -0.9, 0.5, 0.9, -0.2, 0.7, 0.1, -0.5, 0.3, 0.9, -0.6, 0.4, 0.05, -0.9, 0.8]
    b = book()
    for index, score in enumerate(scores):
        b.add(contribution(f"a{index:02d}", f"2021-09-24T08:{index:02d}:00Z", score=score, evidence=True), now=1)
    # One article's sentences tie: they stay in the article's order
    b.add(replace(contribution("a00", "2021-09-24T09:00:00Z", score=0.9), article_id="a99",
                  evidence=[("pilot", 1, "first"), ("licence", 1, "second")]), now=1)
    signal = b.add(contribution("z", "2021-09-25T08:00:00Z"), now=2).signals[-1]
    expected = sorted([*((abs(s), f"a{i:02d}", "s") for i, s in enumerate(scores)), (0.9, "a99", "first"),
                       (0.9, "a99", "second")], key=lambda t: (-t[0], t[1]))[:10]
    assert [(e["article_id"], e["sentence"]) for e in signal["top_evidence"]] == [
        (article, sentence) for _, article, sentence in expected]


def test_a_clock_kept_by_an_earlier_version_still_closes_its_windows() -> None:
    store: dict[str, Any] = {}
    b = book(store)
    b.add(contribution("a", "2021-09-24T08:10:00Z"), now=1)
    del store[CLOCK_KEY]["due"]  # clocks written before the earliest open end was kept
    out = book(store).add(contribution("b", "2021-09-24T09:10:00Z"), now=2)
    assert [(s["window_start"], s["window_seconds"]) for s in out.signals] == [("2021-09-24T08:00:00Z", HOUR)]
    assert store[CLOCK_KEY]["due"] == ts("2021-09-24T10:00:00Z")  # the 09:00 hour now ends first


def test_open_windows_are_read_only_when_one_may_close() -> None:
    class CountingStore(dict[str, Any]):
        reads = 0

        def get(self, key: str, default: Any = None) -> Any:
            self.reads += key != CLOCK_KEY
            return super().get(key, default)

    store = CountingStore()
    b = book(store)
    b.add(contribution("a", "2021-09-24T08:10:00Z"), now=1)
    store.reads = 0
    b.add(contribution("b", "2021-09-24T08:20:00Z"), now=2)
    assert store.reads == 2  # its own two windows; the watermark closed nothing, so no open window was read
    out = b.add(contribution("c", "2021-09-24T09:00:00Z"), now=3)
    assert [s["window_start"] for s in out.signals] == ["2021-09-24T08:00:00Z"]


def test_an_open_window_lost_from_the_store_closes_once() -> None:
    store: dict[str, Any] = {}
    b = book(store)
    b.add(contribution("a", "2021-09-24T08:10:00Z"), now=1)
    del store[window_key(int(ts("2021-09-24T08:00:00Z")), HOUR)]  # its write lost, the clock's kept (a crash mid-flush)
    b.add(contribution("a", "2021-09-24T08:10:00Z"), now=2)  # read again after the restart
    out = b.add(contribution("b", "2021-09-24T09:10:00Z"), now=3)
    assert [(s["window_start"], s["window_seconds"]) for s in out.signals] == [("2021-09-24T08:00:00Z", HOUR)]
