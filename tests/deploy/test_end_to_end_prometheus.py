"""End to end on this machine: a worker on the embedded broker fed the sample corpus, scraped by a real
Prometheus running the project's own config and rules (only target addresses rewritten). Every PromQL
expression of every dashboard panel and every recording rule must return data through the HTTP API."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.broker import EmbeddedBroker, free_port
from pipeline.cli import ingest
from pipeline.demo import WorkerProcess, expected_windows
from pipeline.io import sample_corpus_path
from pipeline.settings import Settings
from pipeline.topics import RAW
from tests.deploy.prometheus_process import PrometheusError, PrometheusProcess, local_config
from tests.deploy.support import PROMETHEUS_DIR, dashboards, panels, require_tool, rules
from tests.integration.conftest import metric, produce

pytestmark = pytest.mark.integration

BUILTINS = {"__rate_interval": "1m", "__range": "1h", "__interval": "15s"}
ZERO_FALLBACK = " or vector(0)"
# Counters whose true value is 0 in this run, the only place a dashboard may fall back to vector(0).
NEVER_FIRED_HERE = ("pipeline_send_failures_total",)
BATCHES = 4


def substitute(expr: str, variables: dict[str, str]) -> str:
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace(f"${name}", variables[name])
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


def dashboard_checks() -> list[tuple[str, str, bool]]:
    """(where, expression, is a range query) for every panel target, with variables set to 'All'."""
    checks = []
    for name, board in dashboards().items():
        variables = dict(BUILTINS)
        for variable in board["templating"]["list"]:
            variables[variable["name"]] = variable.get("allValue") or "|".join(variable["query"].split(","))
        for item in panels(board):
            for query in item.get("targets", []):
                where = f"{name}: {item['title']} [{query['refId']}]"
                checks.append((where, substitute(query["expr"], variables), bool(query.get("range"))))
                if ZERO_FALLBACK in query["expr"] and not any(m in query["expr"] for m in NEVER_FIRED_HERE):
                    bare = query["expr"].replace(ZERO_FALLBACK, "")
                    checks.append((f"{where} without its zero fallback", substitute(bare, variables), False))
    return checks


def rule_checks() -> list[tuple[str, str]]:
    """(where, expression) for every recording rule's expression and for the series it records."""
    checks = []
    for rule in rules("record"):
        labels = ", ".join(f'{key}="{value}"' for key, value in sorted(rule.get("labels", {}).items()))
        selector = f"{rule['record']}{{{labels}}}" if labels else rule["record"]
        checks += [(f"rule {selector}: expr", rule["expr"]), (f"rule {selector}: recorded", selector)]
    return checks


def write_jsonl(path: Path, articles: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles), encoding="utf-8")
    return str(path)


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)


def feed(settings: Settings, worker: WorkerProcess, tmp_path: Path) -> None:
    """The sample corpus in batches a few scrapes apart (so counters move while Prometheus watches), plus
    what a live stream also carries: malformed messages, re-sent articles, a late article, a same-URL copy."""
    corpus = sample_corpus_path()
    articles = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    size = -(-len(articles) // BATCHES)
    for number in range(BATCHES):
        ingest(write_jsonl(tmp_path / f"batch-{number}.jsonl", articles[number * size:(number + 1) * size]), settings)
        time.sleep(2.5)
    ingest(write_jsonl(tmp_path / "resent.jsonl", articles[:2]), settings)  # duplicates at the door
    produce(settings, RAW.name, [(b"deploy-bad-json", b'{"id": "deploy-bad-json", "title": '),
                                 (b"deploy-no-url", json.dumps({"id": "deploy-no-url", "text": "No url."}).encode())])
    daily = {key for key in expected_windows(str(corpus), settings) if key.endswith("/86400")}
    wait_for("every daily window to close",
             lambda: metric(worker.scrape() or "", "pipeline_windows_emitted_total", 'window="1d"') >= len(daily))
    last, previous = articles[-1], articles[-2]
    late = {**last, "id": "deploy-late", "url": last["url"] + "-follow-up", "title": "Follow-up: " + last["title"]}
    same_url = {**previous, "id": "deploy-same-url"}
    ingest(write_jsonl(tmp_path / "late.jsonl", [late, same_url]), settings)
    wait_for("a late article and a window duplicate", lambda: all(
        metric(worker.scrape() or "", name, 'window="1d"') > 0
        for name in ("pipeline_late_articles_total", "pipeline_window_duplicates_total")))


def evaluate(prometheus: PrometheusProcess, checks: list[tuple[str, str, bool]]) -> dict[str, str]:
    """where -> why it failed, for the checks whose expression errs or returns nothing."""
    failed = {}
    for where, expr, ranged in checks:
        try:
            result = prometheus.query(expr)
            if ranged and result:
                result = prometheus.query_range(expr, seconds=60)
        except PrometheusError as exc:
            failed[where] = f"{expr}: {exc}"
            continue
        if not result:
            failed[where] = f"{expr}: no data"
    return failed


def test_dashboards_and_rules_return_data_from_a_live_pipeline(
        broker: EmbeddedBroker, settings_for: Callable[..., Settings],
        start_worker: Callable[[Settings], WorkerProcess], tmp_path: Path) -> None:
    binary = require_tool("prometheus")
    settings = settings_for(broker)
    worker = start_worker(settings)
    workdir = tmp_path / "prometheus"
    workdir.mkdir()
    port = free_port()
    config = local_config(PROMETHEUS_DIR / "prometheus.yml",
                          {"worker": f"127.0.0.1:{settings.web_port}", "prometheus": f"127.0.0.1:{port}"})
    assert [job["job_name"] for job in config["scrape_configs"]] == ["pipeline-worker", "prometheus"]
    prometheus = PrometheusProcess(binary, config, workdir, port=port).start()
    try:
        wait_for("Prometheus to scrape the worker", lambda: bool(prometheus.query('up{job="pipeline-worker"} == 1')))
        feed(settings, worker, tmp_path)

        for rule in rules("alert"):
            prometheus.query(rule["expr"])  # alerts need not fire, but their expressions must evaluate
        values = prometheus.api("label/jurisdiction/values", **{"match[]": "pipeline_crypto_tone_articles_total"})
        assert {"CN", "HK"} <= set(values), "the dashboard's jurisdiction variable would be empty"

        checks = dashboard_checks() + [(where, expr, False) for where, expr in rule_checks()]
        failed = evaluate(prometheus, checks)
        deadline = time.monotonic() + 60
        while failed and time.monotonic() < deadline:  # series of the last events need a few scrapes
            time.sleep(1)
            failed = evaluate(prometheus, checks)
        assert not failed, "expressions without data or with errors:\n" + "\n".join(
            f"- {where}: {why}" for where, why in sorted(failed.items()))

        groups = prometheus.api("rules")["groups"]
        unhealthy = {r["name"]: r.get("lastError") for g in groups for r in g["rules"] if r["health"] != "ok"}
        assert not unhealthy, f"rules failing in Prometheus: {unhealthy}"
        assert sum(len(g["rules"]) for g in groups) == len(rules("record")) + len(rules("alert"))
        index = prometheus.query("pipeline:reciprocity_index:current")
        assert index and all(re.fullmatch(r"-?\d+(\.\d+)?(e-?\d+)?", s["value"][1]) for s in index), index
        print(f"{len(checks)} expressions returned data; index: "
              + ", ".join(f"{s['metric']['window']}={s['value'][1]}" for s in index))
    finally:
        prometheus.stop()
