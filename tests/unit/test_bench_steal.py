"""``bench/procfs.py``'s steal figures: the share of the machine a VM's hypervisor took during a measurement."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bench.procfs import StealSampler, Ticks, machine_ticks, parse_ticks, steal_figures


def test_steal_is_the_eighth_column_and_guest_time_is_not_counted_twice() -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice (guest within user, guest_nice within nice)
    line = "cpu  100 5 50 800 10 0 5 30 20 1\ncpu0 50 2 25 400 5 0 2 15 10 0\n"
    assert parse_ticks(line, 7.5) == Ticks(7.5, steal=30, total=1000)


def test_the_whole_span_and_the_worst_second() -> None:
    # ticks every half second: 50 of the 100 ticks of the second interval were stolen
    samples = [Ticks(0.0, 0, 0), Ticks(0.5, 10, 100), Ticks(1.0, 60, 200), Ticks(1.5, 60, 300), Ticks(2.0, 70, 400)]
    assert steal_figures(samples, "latency_") == {"latency_steal_percent": 17.5,
                                                  "latency_steal_percent_worst_second": 30.0}


def test_a_last_interval_cut_short_does_not_stand_alone_and_drifted_waits_still_make_windows() -> None:
    # the block ended 0.1 s after the last wait, all 20 of its ticks stolen: counted within the window of 1.4 s
    # back to the first sample, not alone (100%) nor from 0.6 s (0.8 s: 13.8%)
    samples = [Ticks(0.0, 0, 0), Ticks(0.6, 10, 120), Ticks(1.3, 12, 260), Ticks(1.4, 32, 280)]
    assert steal_figures(samples) == {"steal_percent": 11.4, "steal_percent_worst_second": 11.4}


def test_a_span_shorter_than_a_second_is_its_own_worst_second() -> None:
    figures = steal_figures([Ticks(0.0, 5, 100), Ticks(0.4, 9, 150)])
    assert figures == {"steal_percent": 8.0, "steal_percent_worst_second": 8.0}


def test_no_ticks_elapsed_is_no_steal() -> None:
    assert steal_figures([Ticks(0.0, 5, 100), Ticks(0.0, 5, 100)])["steal_percent"] == 0.0


def test_the_sampler_reads_every_cores_ticks_while_the_block_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(StealSampler, "INTERVAL", 0.05)
    started = time.monotonic()
    with StealSampler() as sampler:
        time.sleep(1.0)
    elapsed = time.monotonic() - started
    assert len(sampler.samples) >= 4  # the first, at least two from the thread (about 20 unloaded), the last
    assert sampler.samples == sorted(sampler.samples)  # time, steal and total only grow
    # the total is every core's clock ticks: it grows by about the elapsed time on each core /proc/stat lists
    cores = sum(1 for line in Path("/proc/stat").read_text().splitlines() if line[:3] == "cpu" and line[3].isdigit())
    growth = sampler.samples[-1].total - sampler.samples[0].total
    assert growth == pytest.approx(elapsed * os.sysconf("SC_CLK_TCK") * cores, rel=0.3)
    assert all(0.0 <= value <= 100.0 for value in sampler.figures().values())
    assert machine_ticks().total >= sampler.samples[-1].total


def test_the_sampler_stops_and_keeps_its_last_reading_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError, match="measurement failed"), StealSampler() as sampler:
        raise RuntimeError("measurement failed")
    assert not sampler._thread.is_alive()
    assert len(sampler.samples) == 2  # the first and the last
