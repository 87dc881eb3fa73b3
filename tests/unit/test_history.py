from __future__ import annotations

from typing import Any

from pipeline.analysis.evidence import detect
from pipeline.history import history_table, latest_revisions, to_openmetrics


def signal(start: str, end: str, seconds: int, revision: int, index: float | None, articles: int = 1) -> dict[str, Any]:
    return {"window_start": start, "window_end": end, "window_seconds": seconds, "revision": revision,
            "reciprocity_index": index, "articles": articles, "mainland_articles": 1, "sources": 1,
            "by_jurisdiction": {"CN": {"articles": 1, "sentiment": -0.5}},
            "evidence_by_kind": {"ban": {"positive": 0, "negative": 1}}}


HISTORY = [
    signal("2021-09-25T00:00:00Z", "2021-09-26T00:00:00Z", 86400, 1, None),
    signal("2021-09-24T00:00:00Z", "2021-09-25T00:00:00Z", 86400, 1, -0.4),
    signal("2021-09-24T00:00:00Z", "2021-09-25T00:00:00Z", 86400, 2, -0.6, articles=2),
    signal("2021-09-24T08:00:00Z", "2021-09-24T09:00:00Z", 3600, 1, -0.6),
]


def test_latest_revision_wins_and_order_is_by_size_then_start() -> None:
    latest = latest_revisions(HISTORY)
    assert [(s["window_seconds"], s["window_start"][:13], s["revision"]) for s in latest] == [
        (3600, "2021-09-24T08", 1), (86400, "2021-09-24T00", 2), (86400, "2021-09-25T00", 1)]


def test_openmetrics_has_timestamped_samples_in_series_order() -> None:
    text = to_openmetrics(HISTORY)
    assert text.endswith("# EOF\n")
    lines = text.splitlines()
    index_lines = [line for line in lines if line.startswith("pipeline_signal_reciprocity_index{")]
    # null index omitted; the revised window's last value; timestamp = window end in seconds
    assert index_lines == ['pipeline_signal_reciprocity_index{window="1d"} -0.6 1632528000',
                           'pipeline_signal_reciprocity_index{window="1h"} -0.6 1632474000']
    assert 'pipeline_signal_evidence{direction="down",kind="ban",window="1d"} 1 1632528000' in lines
    families = [line.split()[2] for line in lines if line.startswith("# TYPE")]
    assert len(families) == len(set(families))


def test_history_table_lists_daily_windows_with_mainland_content() -> None:
    table = history_table(HISTORY)
    assert "| 2021-09-24 | 2 | 1 | 1 | -0.600 |" in table and "| 2021-09-25 | 1 | 1 | 1 | n/a |" in table


def test_reversal_verbs_turn_a_ban_into_easing_and_agent_nouns_are_not_triggers() -> None:
    found = detect("Shanghai lifted the ban on crypto trading for licensed brokers.", False, False, 0.3, 2025)
    assert [(e.kind, e.polarity) for e in found] == [("ban", 1)]
    assert detect("A researcher in Beijing commented on crypto.", False, False, 0.0, 2025) == []
