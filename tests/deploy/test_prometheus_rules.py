"""Prometheus and Alertmanager configs pass their own checkers; every alert has a promtool unit test."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy.support import DEPLOY, PROMETHEUS_DIR, dashboards, load_yaml, panels, require_tool, rules

RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.test.yml"))
RECORDED_NAME = re.compile(r"\bpipeline:[a-z_]+:[a-z0-9_]+\b")


def run(*command: str, cwd: Path | None = None) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} failed ({done.returncode}):\n{output}"
    return output


def test_promtool_check_config() -> None:
    output = run(require_tool("promtool"), "check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert "SUCCESS" in output
    for path in RULE_FILES:  # the config's rule_files glob found every rule file
        assert path.name in output, output


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules(path: Path) -> None:
    assert "SUCCESS" in run(require_tool("promtool"), "check", "rules", str(path))


@pytest.mark.parametrize("path", RULE_TESTS, ids=lambda p: p.name)
def test_promtool_test_rules(path: Path) -> None:
    assert "SUCCESS" in run(require_tool("promtool"), "test", "rules", path.name, cwd=path.parent)


def test_rule_tests_load_every_rule_file() -> None:
    for path in RULE_TESTS:
        loaded = {(path.parent / name).resolve() for name in load_yaml(path)["rule_files"]}
        assert loaded <= {p.resolve() for p in RULE_FILES}, path.name
    covered = {(path.parent / name).resolve() for path in RULE_TESTS for name in load_yaml(path)["rule_files"]}
    assert covered == {p.resolve() for p in RULE_FILES}


def test_every_alert_fires_in_a_unit_test_and_stays_quiet_in_another() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = {rule["alert"] for rule in rules("alert")}
    assert alerts == {"ReciprocityIndexHigh", "ReciprocityIndexLow", "ReciprocityIndexSignFlip", "PipelineStalled",
                      "DeadLetterRateHigh", "WorkerDown", "NoWorkerUp", "ConsumerLagHigh"}
    assert alerts - fired == set(), "alerts never expected to fire in a test"
    assert alerts - quiet == set(), "alerts never expected to stay quiet in a test"


def test_every_recorded_series_used_is_recorded() -> None:
    recorded = {rule["record"] for rule in rules("record")}
    used: dict[str, str] = {}
    for rule in rules("alert") + rules("record"):
        used.update({name: rule.get("alert", rule.get("record")) for name in RECORDED_NAME.findall(rule["expr"])})
    for board_name, board in dashboards().items():
        for item in panels(board):
            for query in item.get("targets", []):
                used.update({name: f"{board_name}: {item['title']}" for name in RECORDED_NAME.findall(query["expr"])})
    unknown = {name: where for name, where in used.items() if name not in recorded}
    assert not unknown, f"series used but not recorded: {unknown}"


def test_alertmanager_config_checks() -> None:
    assert "SUCCESS" in run(require_tool("amtool"), "check-config", str(DEPLOY / "alertmanager/alertmanager.yml"))
