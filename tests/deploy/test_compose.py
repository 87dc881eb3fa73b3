"""docker-compose.yml: valid Compose, pinned images, existing mounts, and configs that name real services."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema.validators import validator_for

from tests.deploy.support import (
    COMPOSE_FILE,
    DEPLOY,
    PROMETHEUS_DIR,
    bind_mounts,
    compose,
    compose_schema,
    dashboards,
    flag,
    host_path,
    interpolate,
    load_yaml,
    panels,
    services,
)
from tests.helpers import ROOT

# name:tag with a version in the tag (never `latest`), optionally @sha256:digest.
PINNED = re.compile(r"^[a-z0-9][a-z0-9._/-]*:(?!latest\b)[A-Za-z0-9._-]*\d[A-Za-z0-9._-]*(@sha256:[0-9a-f]{64})?$")
LONG_RUNNING = ("kafka", "worker", "prometheus", "alertmanager", "grafana")


@pytest.mark.parametrize("path", [COMPOSE_FILE, DEPLOY / "compose.ports.yml"], ids=lambda p: p.name)
def test_compose_files_validate_against_the_compose_specification(path: Path) -> None:
    schema = compose_schema()
    validator = validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(load_yaml(path)), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:10])


def test_the_compose_file_has_the_expected_services() -> None:
    assert set(services()) == {"kafka", "topics", "worker", "ingest", "prometheus", "alertmanager", "grafana"}
    assert services()["ingest"]["profiles"] == ["demo"]
    assert set(compose()["volumes"]) == {"kafka-data", "prometheus-data", "alertmanager-data", "grafana-data"}


def test_every_image_is_pinned() -> None:
    for name, service in services().items():
        image = interpolate(service["image"])
        assert PINNED.match(image), f"{name}: image {image!r} is not pinned to a version"
    for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("FROM "):
            image = line.split()[1]
            assert PINNED.match(image), f"Dockerfile: base image {image!r} is not pinned to a version"


def test_every_mounted_file_and_build_input_exists() -> None:
    for name, service in services().items():
        for source, target in bind_mounts(service):
            assert source.exists(), f"{name}: mounts {source.relative_to(ROOT)} at {target}, which does not exist"
        if "build" in service:
            context = ROOT / service["build"]["context"]
            assert (context / service["build"]["dockerfile"]).is_file(), f"{name}: no Dockerfile"
    copied = [source for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines()
              if line.startswith("COPY ") and "--from=" not in line for source in line.split()[1:-1]]
    assert "setup.py" in copied  # the image compiles the analysis like a developer install
    for path in copied:
        assert (ROOT / path).exists(), f"deploy/Dockerfile copies {path}, which does not exist"


def test_config_files_are_where_the_services_read_them() -> None:
    prometheus, alertmanager, grafana = (services()[name] for name in ("prometheus", "alertmanager", "grafana"))
    config = host_path(prometheus, flag(prometheus, "config.file") or "")
    assert config == PROMETHEUS_DIR / "prometheus.yml"
    container_config = Path("/etc/prometheus")  # rule_files are relative to the config file
    for pattern in load_yaml(config)["rule_files"]:
        rule_dir = host_path(prometheus, str(container_config / Path(pattern).parent))
        assert rule_dir is not None and list(rule_dir.glob(Path(pattern).name)), f"no rule files for {pattern}"
    assert host_path(alertmanager, flag(alertmanager, "config.file") or "") == DEPLOY / "alertmanager/alertmanager.yml"
    provisioning = host_path(grafana, "/etc/grafana/provisioning/dashboards")
    assert provisioning is not None
    for provider in load_yaml(provisioning / "dashboards.yml")["providers"]:
        assert host_path(grafana, provider["options"]["path"]) == DEPLOY / "grafana/dashboards"
    home = host_path(grafana, grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert home is not None and home.is_file()
    assert host_path(grafana, "/etc/grafana/provisioning/datasources/prometheus.yml") is not None


def _hosts_named_by_configs() -> dict[str, str]:
    """host -> where it is named, for every address a config file or environment variable points to."""
    named: dict[str, str] = {}
    prometheus = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    for job in prometheus["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            named.update({host: f"scrape job {job['job_name']}" for host in sd["names"]})
        for static in job.get("static_configs", []):
            named.update({t.rsplit(":", 1)[0]: f"scrape job {job['job_name']}" for t in static["targets"]})
    for manager in prometheus["alerting"]["alertmanagers"]:
        for static in manager["static_configs"]:
            named.update({t.rsplit(":", 1)[0]: "alerting" for t in static["targets"]})
    datasources = load_yaml(DEPLOY / "grafana/provisioning/datasources/prometheus.yml")["datasources"]
    named.update({urlsplit(ds["url"]).hostname or "": f"datasource {ds['name']}" for ds in datasources})
    for name, service in services().items():
        environment = service.get("environment", {})
        for url in interpolate(str(environment.get("PIPELINE_BROKER_URL", ""))).split(","):
            if url:
                named[urlsplit(url).hostname or ""] = f"{name}: PIPELINE_BROKER_URL"
    kafka = services()["kafka"]["environment"]
    named[kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"].split("@")[1].split(":")[0]] = "kafka: quorum voters"
    internal = next(x for x in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",") if x.startswith("INTERNAL://"))
    named[urlsplit(internal).hostname or ""] = "kafka: advertised INTERNAL listener"
    return named


def test_every_service_a_config_names_exists() -> None:
    named = _hosts_named_by_configs()
    assert {"worker", "prometheus", "alertmanager", "kafka"} <= set(named)
    missing = {host: where for host, where in named.items() if host not in services()}
    assert not missing, f"configs name hosts that are not compose services: {missing}"


def test_ports_match_what_configs_expect() -> None:
    worker = services()["worker"]
    assert worker["environment"]["PIPELINE_WEB_PORT"] == "6066" and "6066" in worker["expose"]
    job = next(j for j in load_yaml(PROMETHEUS_DIR / "prometheus.yml")["scrape_configs"]
               if j["job_name"] == "pipeline-worker")
    assert job["dns_sd_configs"][0]["port"] == 6066
    assert worker["environment"]["PIPELINE_WEB_BIND"] == "0.0.0.0"
    listeners = services()["kafka"]["environment"]["KAFKA_LISTENERS"]
    assert "INTERNAL://:19092" in listeners and worker["environment"]["PIPELINE_BROKER_URL"] == "kafka://kafka:19092"


def test_the_tests_broker_has_the_compose_brokers_threads() -> None:
    # The bench's latency figures stand for docker-compose on one host: its broker must be sized the same.
    script = (ROOT / "scripts" / "apache-kafka.sh").read_text()
    kafka = services()["kafka"]["environment"]
    for prop in ("num.network.threads", "num.io.threads"):
        found = re.findall(rf"^{re.escape(prop)}=(\d+)$", script, re.MULTILINE)
        assert found == [kafka["KAFKA_" + prop.replace(".", "_").upper()]], prop


def test_only_grafana_and_the_kafka_host_listener_are_published() -> None:
    published = {name: [interpolate(p) for p in service["ports"]]
                 for name, service in services().items() if service.get("ports")}
    assert published == {"kafka": ["127.0.0.1:9092:9092"], "grafana": ["127.0.0.1:3000:3000"]}
    advertised = interpolate(services()["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"])
    assert "HOST://localhost:9092" in advertised


def test_grafana_credentials_come_from_the_environment_and_nobody_is_anonymous() -> None:
    environment = services()["grafana"]["environment"]
    assert environment["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert environment["GF_SECURITY_ADMIN_USER"] == "${GRAFANA_ADMIN_USER:-admin}"
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert environment["GF_USERS_ALLOW_SIGN_UP"] == "false"
    for name, service in services().items():
        assert not service.get("privileged"), name
        assert service.get("network_mode") != "host", name


def test_worker_scales_and_services_start_in_order() -> None:
    worker = services()["worker"]
    assert "container_name" not in worker and "ports" not in worker, "a fixed name or host port blocks --scale"
    for name in LONG_RUNNING:
        assert "healthcheck" in services()[name], f"{name} has no healthcheck"
    expected: dict[str, dict[str, str]] = {
        "topics": {"kafka": "service_healthy"},
        "worker": {"kafka": "service_healthy", "topics": "service_completed_successfully"},
        "ingest": {"topics": "service_completed_successfully"},
        "grafana": {"prometheus": "service_healthy"},
    }
    for name, conditions in expected.items():
        depends: dict[str, Any] = services()[name]["depends_on"]
        assert {k: v["condition"] for k, v in depends.items()} == conditions, name
    assert services()["topics"]["command"] == ["topics", "create"]
    assert services()["worker"]["environment"]["PIPELINE_PARTITIONS"] == "${PIPELINE_PARTITIONS:-4}"


def test_dashboards_use_the_provisioned_datasource() -> None:
    datasources = load_yaml(DEPLOY / "grafana/provisioning/datasources/prometheus.yml")["datasources"]
    assert [ds["url"] for ds in datasources] == ["http://prometheus:9090"]
    uids = {ds["uid"] for ds in datasources}
    for name, board in dashboards().items():
        for item in panels(board):
            for query in item.get("targets", []):
                assert query["datasource"]["uid"] in uids, f"{name}: {item['title']}"
