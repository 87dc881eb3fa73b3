"""The stall watch's decision: exit only when the worker is unsettled and makes no progress for the limit."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

from pipeline.stallwatch import StallWatch, WorkerState, worker_state

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
