"""The stall watch: a worker whose rebalance or table recovery stops making progress exits, so its supervisor
(Compose's ``restart: unless-stopped``, Kubernetes) starts it again and the group recovers.

Faust pauses every partition when a rebalance starts and resumes them only when the table recovery that
follows completes; nothing in Faust bounds that wait, and a recovery that stops short of a changelog's end
leaves the worker joined to the group, holding its partitions and processing nothing, with no error logged.
A restart is safe: offsets are committed only for processed input, and the dedup table drops what is read
again. The decision is plain code (:class:`StallWatch`); :func:`worker_state` reads it off a Faust app.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

EXIT_STALLED = 70  # EX_SOFTWARE: an internal error; a supervisor restarts the worker
CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class WorkerState:
    """What the worker's consumer is doing, as far as a stall goes."""

    rebalancing: bool
    in_recovery: bool
    flow_active: bool
    paused_inputs: int  # assigned input partitions (not changelogs) that are paused
    progress: int  # grows or changes while work is done: events processed, changelog records restored

    @property
    def settled(self) -> bool:
        """Consuming normally (idle or not): nothing a stall could be waiting on."""
        return not (self.rebalancing or self.in_recovery) and self.flow_active and not self.paused_inputs

    def describe(self) -> str:
        return (f"rebalancing={self.rebalancing} in_recovery={self.in_recovery} flow_active={self.flow_active} "
                f"paused_inputs={self.paused_inputs} progress={self.progress}")


class StallWatch:
    """Stalled: not settled, with no progress, for ``limit_seconds`` (0: never)."""

    def __init__(self, limit_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit_seconds = limit_seconds
        self._clock = clock
        self._since: float | None = None  # when the current unsettled, progress-free stretch began
        self._progress: int | None = None

    def observe(self, state: WorkerState) -> float | None:
        """Seconds stalled when that passes the limit, else None."""
        now = self._clock()
        if state.settled or state.progress != self._progress:
            self._since = None if state.settled else now
            self._progress = state.progress
            return None
        if self._since is None:
            self._since = now
        stalled = now - self._since
        return stalled if self.limit_seconds and stalled >= self.limit_seconds else None


def worker_state(app: Any) -> WorkerState:
    """The state of a running Faust app's consumer and table recovery (faust-streaming 0.15)."""
    consumer = app.consumer
    recovery = app.tables.recovery
    assigned = consumer.assignment()
    paused = [tp for tp in consumer._paused_partitions if tp in assigned and not consumer._is_changelog_tp(tp)]
    restored = -recovery.active_remaining_total() if recovery.in_recovery else 0
    return WorkerState(rebalancing=bool(app.rebalancing), in_recovery=bool(recovery.in_recovery),
                       flow_active=bool(consumer.flow_active), paused_inputs=len(paused),
                       progress=int(getattr(app.monitor, "events_total", 0)) + restored)


async def stuck_changelogs(app: Any) -> str:
    """For the log line of a stall: each active changelog partition still short of its end, with where the
    fetcher stands (position), the end, Faust's read offset and who has it paused. Best effort."""
    recovery, consumer = app.tables.recovery, app.consumer
    paused_by_kafka = {(tp.topic, tp.partition) for tp in consumer._thread._ensure_consumer().paused()}
    parts = []
    for tp, remaining in sorted(recovery.active_remaining().items()):
        if remaining <= 0:
            continue
        position = await consumer.position(tp)
        parts.append(f"{tp.topic}[{tp.partition}] remaining={remaining} offset={recovery.active_offsets.get(tp)} "
                     f"position={position} highwater={consumer.highwater(tp)} read_offset={consumer._read_offset[tp]} "
                     f"paused={tp in consumer._paused_partitions}/{(tp.topic, tp.partition) in paused_by_kafka}")
    return "; ".join(parts) or "none"


def install(app: Any, limit_seconds: float, clock: Callable[[], float] = time.monotonic) -> StallWatch:
    """Check the app every few seconds; exit with :data:`EXIT_STALLED` when it stalls."""
    watch = StallWatch(limit_seconds, clock)

    async def check() -> None:
        try:
            state = worker_state(app)
        except Exception:  # e.g. the consumer is stopping: the watch must never be what takes a worker down
            log.debug("stall watch: no state this time", exc_info=True)
            return
        stalled = watch.observe(state)
        if stalled is not None:
            try:
                changelogs = await stuck_changelogs(app)
            except Exception as exc:  # the exit must not depend on it
                changelogs = f"unknown ({exc!r})"
            log.critical("worker stalled for %.0f s (%s; changelogs short of their end: %s): exiting with status %d "
                         "so it is restarted", stalled, state.describe(), changelogs, EXIT_STALLED)
            for handler in logging.getLogger().handlers:  # os._exit skips the flush at exit
                handler.flush()
            sys.stderr.flush()
            # Not a graceful stop: Faust's shutdown waits on the same stuck rebalance.
            os._exit(EXIT_STALLED)

    if limit_seconds:
        app.timer(CHECK_SECONDS, name="stall-watch")(check)
    return watch
