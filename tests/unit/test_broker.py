"""Ports for the test and demo brokers and workers."""

from __future__ import annotations

import socket
import subprocess

from pipeline.broker import APACHE_KAFKA_SCRIPT, PORT_RANGE, free_port


def test_free_ports_are_below_the_ephemeral_range_and_can_be_bound() -> None:
    ports = {free_port() for _ in range(20)}
    assert all(PORT_RANGE[0] <= port <= PORT_RANGE[1] for port in ports)
    assert len(ports) > 1  # picked at random, not one fixed port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", ports.pop()))


def test_the_kafka_scripts_controller_port_is_never_the_client_port() -> None:
    # The client port is picked by the caller and not listened on yet, so "nothing listens" is not enough: once,
    # both listeners got the same port and the broker would not start. Seeded, the script's first pick is known.
    functions = APACHE_KAFKA_SCRIPT.read_text().split('\ncommand="${1:-}"')[0]  # its functions, not its dispatch
    script = f"""{functions}
RANDOM=7; first=$((20000 + RANDOM % 12000))
RANDOM=7; echo "$first"; free_port "$first"  # not in $(...): a subshell reseeds RANDOM
"""
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True, timeout=30)
    first, picked = done.stdout.split()
    assert picked != first and 20000 <= int(picked) < 32000
