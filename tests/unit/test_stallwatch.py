"""The stall watch's decision: exit only when the worker is unsettled and makes no progress for the limit."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from pipeline import stallwatch
from pipeline.stallwatch import EXIT_STALLED, StallWatch, WorkerState, install, worker_state

SETTLED = WorkerState(rebalancing=False, in_recovery=False, flow_active=True, paused_inputs=0, progress=0)
STUCK = replace(SETTLED, in_recovery=True, flow_active=False, paused_inputs=3)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(watch: StallWatch, clock: Clock, states: list[WorkerState], step: float = 5.0) -> list[float | None]:
    seen = []
    for state in states:
        seen.append(watch.observe(state))
        clock.now += step
    return seen


def test_a_settled_worker_never_stalls_however_idle() -> None:
    clock = Clock()
    assert run(StallWatch(30, clock), clock, [SETTLED] * 100) == [None] * 100


def test_an_unsettled_worker_without_progress_stalls_at_the_limit() -> None:
    clock = Clock()
    seen = run(StallWatch(30, clock), clock, [STUCK] * 8)
    assert seen[:6] == [None] * 6  # 0, 5, ... 25 s
    assert seen[6:] == [30.0, 35.0]


def test_progress_or_settling_restarts_the_count() -> None:
    clock = Clock()
    watch = StallWatch(30, clock)
    # A long recovery that keeps restoring records is not a stall.
    restoring = [replace(STUCK, progress=-1000 + 10 * i) for i in range(20)]
    assert run(watch, clock, restoring) == [None] * 20
    # Settling in between restarts the count from zero.
    seen = run(watch, clock, [STUCK] * 5 + [SETTLED] + [STUCK] * 7)
    assert seen == [None] * 12 + [30.0]  # 30 s after the first unsettled check


def test_each_unsettled_condition_counts() -> None:
    for state in (replace(SETTLED, rebalancing=True), replace(SETTLED, in_recovery=True),
                  replace(SETTLED, flow_active=False), replace(SETTLED, paused_inputs=1)):
        clock = Clock()
        assert run(StallWatch(10, clock), clock, [state] * 3)[-1] == 10.0, state


def test_a_zero_limit_never_stalls() -> None:
    clock = Clock()
    assert run(StallWatch(0, clock), clock, [STUCK] * 50) == [None] * 50


def test_worker_state_reads_paused_input_partitions_not_changelogs() -> None:
    raw, changelog, other = ("raw", 0), ("windows-changelog", 0), ("raw", 1)
    consumer = SimpleNamespace(
        assignment=lambda: {raw, changelog}, _paused_partitions={raw, changelog, other},
        _is_changelog_tp=lambda tp: tp[0].endswith("-changelog"), flow_active=False)
    recovery = SimpleNamespace(in_recovery=True, active_remaining_total=lambda: 40)
    app = SimpleNamespace(consumer=consumer, tables=SimpleNamespace(recovery=recovery), rebalancing=False,
                          monitor=SimpleNamespace(events_total=100))
    state = worker_state(app)
    assert state == WorkerState(rebalancing=False, in_recovery=True, flow_active=False, paused_inputs=1,
                                progress=60)
    recovery.active_remaining_total = lambda: 30  # ten more records restored: progress
    assert worker_state(app).progress == 70


class TimerApp(SimpleNamespace):
    """Just enough of a Faust app for :func:`install`: ``timer`` keeps the function it decorates."""

    def timer(self, interval: float, name: str) -> Any:
        def register(fun: Any) -> Any:
            self.timers[name] = (interval, fun)
            return fun
        return register


def stuck_app() -> TimerApp:
    consumer = SimpleNamespace(assignment=lambda: set(), _paused_partitions=set(), _is_changelog_tp=lambda tp: False,
                               flow_active=True)
    recovery = SimpleNamespace(in_recovery=True, active_remaining_total=lambda: 5)
    return TimerApp(consumer=consumer, tables=SimpleNamespace(recovery=recovery), rebalancing=True,
                    monitor=SimpleNamespace(events_total=0), timers={})


def test_the_installed_check_exits_with_status_70_once_stalled(monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    exits: list[int] = []
    monkeypatch.setattr(os, "_exit", exits.append)
    clock, app = Clock(), stuck_app()
    install(app, 30, clock)
    interval, check = app.timers["stall-watch"]
    assert interval == stallwatch.CHECK_SECONDS
    for _ in range(6):  # 0 .. 25 s
        asyncio.run(check())
        clock.now += 5
    assert exits == []
    asyncio.run(check())
    assert exits == [EXIT_STALLED]
    assert "worker stalled for 30 s (rebalancing=True in_recovery=True" in caplog.text


def test_the_check_survives_a_state_it_cannot_read_and_a_zero_limit_installs_nothing() -> None:
    app = stuck_app()
    app.consumer.assignment = lambda: 1 / 0  # e.g. a consumer that is stopping
    install(app, 30)
    asyncio.run(app.timers["stall-watch"][1]())  # no exception
    idle = stuck_app()
    install(idle, 0)
    assert idle.timers == {}
