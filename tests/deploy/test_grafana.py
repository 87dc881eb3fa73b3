"""Grafana provisioning and dashboards: generated deterministically, complete, consistent with the metrics."""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType
from typing import Any

from tests.deploy.support import DASHBOARD_DIR, DEPLOY, dashboards, load_yaml, panels
from tests.helpers import ROOT

METRIC = re.compile(r"\b((?:pipeline|faust)_[a-z_]+)\b")
SUFFIXES = ("_total", "_bucket", "_sum", "_count")  # counters and histograms


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grafana_generate", DEPLOY / "grafana" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def titles(board: dict[str, Any]) -> list[str]:
    return [item["title"] for item in panels(board)]


def test_committed_dashboards_are_what_the_generator_makes() -> None:
    module = generator()
    first, second = module.render(), module.render()
    assert first == second, "the generator's output is not deterministic"
    assert set(first) == {path.name for path in DASHBOARD_DIR.glob("*.json")}
    for name, content in first.items():
        assert (DASHBOARD_DIR / name).read_text(encoding="utf-8") == content, (
            f"{name} is stale: run python deploy/grafana/generate.py")
    assert module.main(["--check"]) == 0


def test_the_two_dashboards_have_the_panels_the_issue_asks_for() -> None:
    boards = {board["title"]: board for board in dashboards().values()}
    assert set(boards) == {"Beijing reciprocity", "Pipeline health"}
    reciprocity = " | ".join(titles(boards["Beijing reciprocity"])).lower()
    for words in ("reciprocity index over time", "crypto tone by jurisdiction", "evidence by kind and direction",
                  "articles by jurisdiction", "latest evidence"):
        assert words in reciprocity, words
    health = " | ".join(titles(boards["Pipeline health"])).lower()
    for words in ("throughput", "processing latency", "dead letters by reason", "duplicates", "late articles",
                  "worker count"):
        assert words in health, words


def test_panels_are_well_formed() -> None:
    for name, board in dashboards().items():
        assert board["uid"] and board["schemaVersion"] >= 36 and board["editable"] is False, name
        ids = [item["id"] for item in panels(board)]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for item in panels(board):
            grid = item["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{name}: {item['title']} is wider than the grid"
            if item["type"] != "text":
                refs = [query["refId"] for query in item["targets"]]
                assert refs and len(refs) == len(set(refs)), f"{name}: {item['title']}"


def test_dashboards_query_only_metrics_the_pipeline_exports() -> None:
    source = (ROOT / "pipeline" / "metrics.py").read_text(encoding="utf-8")
    ours = {f"pipeline_{name}" for name in re.findall(r'f"\{p\}([a-z_]+)"', source)}
    assert "pipeline_reciprocity_index" in ours
    exported = ours | {name + suffix for name in ours for suffix in SUFFIXES}
    for name, board in dashboards().items():
        for item in panels(board):
            for query in item.get("targets", []):
                for metric in METRIC.findall(query["expr"]):
                    if metric.startswith("faust_"):
                        continue  # Faust's own names; the end-to-end test proves they return data
                    assert metric in exported, f"{name}: {item['title']}: unknown metric {metric}"


def test_variables_are_defined_for_every_use() -> None:
    for name, board in dashboards().items():
        defined = {variable["name"] for variable in board["templating"]["list"]}
        for item in panels(board):
            for query in item.get("targets", []):
                used = set(re.findall(r"\$(\w+)", query["expr"])) - {"__rate_interval", "__range", "__interval"}
                assert used <= defined, f"{name}: {item['title']} uses undefined {used - defined}"


def test_dashboard_provider_and_datasource_provisioning() -> None:
    provider = load_yaml(DEPLOY / "grafana/provisioning/dashboards/dashboards.yml")["providers"][0]
    assert provider["type"] == "file" and provider["allowUiUpdates"] is False
    datasource = load_yaml(DEPLOY / "grafana/provisioning/datasources/prometheus.yml")["datasources"][0]
    assert datasource["type"] == "prometheus" and datasource["isDefault"] is True
    assert datasource["editable"] is False
