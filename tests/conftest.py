"""Suite-wide hooks: the "fault figures" section at the end of the run.

A fault test's figures travel in its teardown report (``user_properties``), not in a module-level list: under
pytest-xdist (``make test`` runs two worker processes) the tests run elsewhere, and only their reports reach the
process that prints the summary.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import FIGURES_PROPERTY

_FIGURES: list[tuple[str, dict[str, Any]]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "teardown":
        return
    for key, value in report.user_properties:
        if key == FIGURES_PROPERTY and isinstance(value, dict):
            _FIGURES.append((report.nodeid.rsplit("::", 1)[-1], value))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("fault figures")
    for name, data in _FIGURES:
        terminalreporter.write_line(f"{name}: " + ", ".join(f"{key}={value}" for key, value in data.items()))
