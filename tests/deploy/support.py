"""Helpers for the deploy tests: the compose file and its mounts, tools on PATH, the Compose schema."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from tests.helpers import ROOT

DEPLOY = ROOT / "deploy"
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROMETHEUS_DIR = DEPLOY / "prometheus"
DASHBOARD_DIR = DEPLOY / "grafana" / "dashboards"
INSTALL_HINT = "run scripts/install-system-deps.sh (`make test` does)"

# The Compose Specification schema, as vendored by check-jsonschema (downloaded, hash-checked, by
# scripts/install-system-deps.sh; check-jsonschema itself is not installed: it needs a newer click than Faust).
CHECK_JSONSCHEMA_WHEEL = ROOT / ".cache" / "check-jsonschema" / "check_jsonschema-0.39.0-py3-none-any.whl"
COMPOSE_SCHEMA_MEMBER = "check_jsonschema/builtin_schemas/vendor/compose-spec.json"

_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def require_tool(name: str) -> str:
    """Absolute path of a command on PATH; fail (not skip) with the fix when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not installed: {INSTALL_HINT}", pytrace=False)
    return path


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@cache
def compose() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(COMPOSE_FILE)
    return data


def services() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose()["services"]
    return result


def compose_schema() -> dict[str, Any]:
    if not CHECK_JSONSCHEMA_WHEEL.is_file():
        pytest.fail(f"{CHECK_JSONSCHEMA_WHEEL.relative_to(ROOT)} is missing: {INSTALL_HINT}", pytrace=False)
    with zipfile.ZipFile(CHECK_JSONSCHEMA_WHEEL) as wheel:
        schema: dict[str, Any] = json.loads(wheel.read(COMPOSE_SCHEMA_MEMBER))
    return schema


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` with an empty environment by default:
    defaults apply, required variables become ``<VAR>``."""
    env = env or {}

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        if env.get(name):
            return env[name]
        if op in (":-", "-"):
            return interpolate(arg, env)
        if op in (":?", "?"):
            return f"<{name}>"
        return ""

    return _VARIABLE.sub(replace, value)


def bind_mounts(service: dict[str, Any]) -> list[tuple[Path, PurePosixPath]]:
    """(host path, container path) of every bind mount of a service, defaults interpolated."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") != "bind":
                continue
            source, target = interpolate(volume["source"]), volume["target"]
        else:
            source, target = interpolate(volume).split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append(((ROOT / source).resolve(), PurePosixPath(target)))
    return mounts


def host_path(service: dict[str, Any], container_path: str) -> Path | None:
    """The repository file a service sees at ``container_path`` through its bind mounts, if any."""
    wanted = PurePosixPath(container_path)
    for source, target in bind_mounts(service):
        if wanted == target or target in wanted.parents:
            return source.joinpath(*wanted.relative_to(target).parts)
    return None


def flag(service: dict[str, Any], name: str) -> str | None:
    """Value of ``--name=value`` in a service's command."""
    for item in service.get("command", []):
        if item.startswith(f"--{name}="):
            return str(item.split("=", 1)[1])
    return None


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(DASHBOARD_DIR.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those nested in rows."""
    found = []
    for item in dashboard.get("panels", []):
        found.append(item)
        found.extend(item.get("panels", []))
    return found


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for path in sorted((PROMETHEUS_DIR / "rules").glob("*.yml")):
        groups.extend(load_yaml(path)["groups"])
    return groups


def rules(kind: str) -> list[dict[str, Any]]:
    """Every ``record`` or ``alert`` rule."""
    return [rule for group in rule_groups() for rule in group["rules"] if kind in rule]
