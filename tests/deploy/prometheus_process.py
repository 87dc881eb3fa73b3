"""A real Prometheus for the end-to-end test: the project's config with local target addresses, on a free port."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from pipeline.broker import free_port

SCRAPE_INTERVAL = "1s"


def local_config(source: Path, addresses: dict[str, str]) -> dict[str, Any]:
    """``source`` as it would run here: compose service names in targets become the local ``addresses``
    (service -> host:port), targets of services not running here are dropped, intervals are shortened and
    rule files are made absolute. Everything else is kept as it is."""
    config: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    config["global"].update(scrape_interval=SCRAPE_INTERVAL, scrape_timeout=SCRAPE_INTERVAL,
                            evaluation_interval=SCRAPE_INTERVAL)
    config["rule_files"] = [str((source.parent / pattern).resolve()) for pattern in config.get("rule_files", [])]
    config.pop("alerting", None)  # no Alertmanager here
    jobs = []
    for job in config["scrape_configs"]:
        hosts = [name for sd in job.pop("dns_sd_configs", []) for name in sd["names"]]
        for static in job.pop("static_configs", []):
            hosts.extend(target.rsplit(":", 1)[0] for target in static["targets"])
        targets = [addresses[host] for host in hosts if host in addresses]
        if targets:
            job["static_configs"] = [{"targets": targets}]
            jobs.append(job)
    config["scrape_configs"] = jobs
    return config


class PrometheusError(RuntimeError):
    """Prometheus did not start, or a query failed."""


class PrometheusProcess:
    def __init__(self, binary: str, config: dict[str, Any], workdir: Path, port: int | None = None) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = port or free_port()
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        self.log_path = workdir / "prometheus.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> PrometheusProcess:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [self.binary, f"--config.file={self.config_path}", f"--storage.tsdb.path={self.workdir / 'data'}",
                 f"--web.listen-address={self.address}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PrometheusError(f"prometheus exited with {self.process.returncode}: {self.log()}")
            try:
                with urllib.request.urlopen(f"http://{self.address}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise PrometheusError(f"prometheus not ready within {timeout:.0f}s: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]

    def api(self, path: str, **params: str) -> Any:
        """``data`` of a Prometheus HTTP API answer; PrometheusError with Prometheus's message on an error."""
        url = f"http://{self.address}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
        if body.get("status") != "success":
            raise PrometheusError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(self, expr: str, seconds: float, step: str = SCRAPE_INTERVAL) -> list[dict[str, Any]]:
        end = time.time()
        data = self.api("query_range", query=expr, start=f"{end - seconds:.3f}", end=f"{end:.3f}", step=step)
        result: list[dict[str, Any]] = data["result"]
        return result

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
