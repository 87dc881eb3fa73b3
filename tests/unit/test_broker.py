"""Ports for the test and demo brokers and workers."""

from __future__ import annotations

import socket

from pipeline.broker import PORT_RANGE, free_port


def test_free_ports_are_below_the_ephemeral_range_and_can_be_bound() -> None:
    ports = {free_port() for _ in range(20)}
    assert all(PORT_RANGE[0] <= port <= PORT_RANGE[1] for port in ports)
    assert len(ports) > 1  # picked at random, not one fixed port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", ports.pop()))
