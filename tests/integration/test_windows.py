"""Windows on a real broker: a replayed corpus, a duplicate burst, two workers against one, backfill."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.admin import TopicMismatchError, create_topics, verify_topics
from pipeline.broker import EmbeddedBroker
from pipeline.cli import ingest
from pipeline.demo import WorkerProcess, collect_signals, expected_windows
from pipeline.history import latest_revisions
from pipeline.io import sample_corpus_path
from pipeline.settings import Settings
from pipeline.topics import SIGNALS
from tests.helpers import assert_valid
from tests.integration.conftest import consume, metric

pytestmark = pytest.mark.integration
CORPUS = str(sample_corpus_path())
SUMMED = ("pipeline_articles_received_total", "pipeline_articles_valid_total", "pipeline_window_articles_total",
          "pipeline_jurisdiction_mentions_total", "pipeline_reciprocity_evidence_total",
          "pipeline_crypto_tone_articles_total", "pipeline_windows_emitted_total")


def replay(broker: EmbeddedBroker) -> list[dict[str, Any]]:
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "replay", CORPUS, "--broker", broker.bootstrap,
                           "--timeout", "150"], capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


def daily_index(history: list[dict[str, Any]]) -> dict[str, float]:
    return {s["window_start"][:10]: s["reciprocity_index"] for s in history
            if s["window_seconds"] == 86400 and s["reciprocity_index"] is not None}


def test_replayed_history_moves_the_way_the_articles_say_and_ignores_a_duplicate_burst(
        broker: EmbeddedBroker, settings_for: Callable[..., Settings],
        start_worker: Callable[[Settings], WorkerProcess]) -> None:
    settings = settings_for(broker)
    worker = start_worker(settings)
    history = replay(broker)
    assert {f"{s['window_start']}/{s['window_seconds']}" for s in history} == expected_windows(CORPUS, settings)
    for record in history:
        assert_valid("signal.reciprocity.v1.json", record)
    index = daily_index(history)
    ban_2021 = [v for day, v in index.items() if day.startswith("2021-")]
    softening = [v for day, v in index.items() if day >= "2023-06"]
    assert ban_2021 and all(v < 0 for v in ban_2021)
    assert sum(softening) / len(softening) > 0.1
    assert sum(s["articles"] for s in history if s["window_seconds"] == 86400) == 40

    signals_before = len(consume(settings, SIGNALS.name, lambda m: len(m) >= len(history)))
    assert ingest(CORPUS, settings)["sent"] == 40  # the whole corpus again
    deadline = time.monotonic() + 30
    while metric(worker.scrape() or "", "pipeline_articles_duplicate_total") < 40 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert metric(worker.scrape() or "", "pipeline_articles_duplicate_total") == 40
    time.sleep(3)  # longer than the idle close: any window the burst touched would have been re-emitted
    after = consume(settings, SIGNALS.name, lambda m: len(m) >= signals_before)
    assert len(after) == signals_before


def test_two_workers_agree_with_one(tmp_path: Path, settings_for: Callable[..., Settings],
                                    start_worker: Callable[[Settings], WorkerProcess]) -> None:
    results = []
    for workers in (1, 2):
        with EmbeddedBroker(log_path=tmp_path / f"broker-{workers}.log") as broker:
            group = [start_worker(settings_for(broker)) for _ in range(workers)]
            settings = group[0].settings
            ingest(CORPUS, settings)
            records = collect_signals(settings, expected_windows(CORPUS, settings), 150)
            history = latest_revisions(records)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                scraped = [w.scrape() or "" for w in group]
                totals = {name: sum(_family_total(text, name) for text in scraped) for name in SUMMED}
                if totals["pipeline_window_articles_total"] >= 80:
                    break
                time.sleep(0.3)
            # Which workers export each window size's index gauge: the owner of its window shard
            owners = [{index for index, text in enumerate(scraped)
                       if f'pipeline_reciprocity_index{{window="{label}"}}' in text} for label in ("1h", "1d")]
            results.append((_comparable(history), totals, owners))
            for worker in group:
                worker.stop()
    (one_history, one_totals, _), (two_history, two_totals, two_owners) = results
    assert two_history == one_history
    assert two_totals == one_totals and one_totals["pipeline_articles_valid_total"] == 40
    # Each size was counted by one worker, and the two window shards (hours, days) by different ones
    assert [len(owners) for owners in two_owners] == [1, 1] and two_owners[0] != two_owners[1]


def test_a_window_input_of_one_partition_is_named_with_its_setting(
        broker: EmbeddedBroker, settings_for: Callable[..., Settings]) -> None:
    """A deployment from before window shards (one window-input partition) is told how to keep running."""
    earlier = settings_for(broker, window_shards=1)
    create_topics(earlier)
    with pytest.raises(TopicMismatchError) as raised:
        verify_topics(settings_for(broker))
    message = str(raised.value)
    assert "pipeline.window-input.v1: has 1 partitions, the pipeline needs 2; recreate it or set " \
           "PIPELINE_WINDOW_SHARDS=1" in message
    assert "windows-changelog: has 1 partitions, the pipeline needs 2" in message
    assert "articles.raw.v1" not in message
    verify_topics(earlier)


def _family_total(text: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith(name) and (line[len(name)] in " {"))


def _comparable(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in s.items() if k not in ("emitted_at", "top_evidence")} for s in history]


def test_export_metrics_backfills_prometheus(broker: EmbeddedBroker, settings_for: Callable[..., Settings],
                                             start_worker: Callable[[Settings], WorkerProcess],
                                             tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run scripts/install-system-deps.sh (make test does)"
    start_worker(settings_for(broker))
    history = replay(broker)
    exported = subprocess.run([sys.executable, "-m", "pipeline.cli", "export-metrics", "--broker", broker.bootstrap,
                               "--idle-timeout", "3"], capture_output=True, text=True, timeout=120, check=True)
    om = tmp_path / "history.om"
    om.write_text(exported.stdout)
    assert sum(1 for line in exported.stdout.splitlines() if line.startswith("pipeline_signal_articles{")) == len(
        history)
    blocks = tmp_path / "blocks"
    created = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(om), str(blocks)],
                             capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr[-2000:]
    listed = subprocess.run([promtool, "tsdb", "list", str(blocks)], capture_output=True, text=True, timeout=60,
                            check=True)
    assert len([line for line in listed.stdout.splitlines()[1:] if line.strip()]) >= 1
