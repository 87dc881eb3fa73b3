"""``bench/procfs.py``'s steal figures: the share of the machine a VM's hypervisor took during a measurement."""

from __future__ import annotations

import os
import time

import pytest

from bench.procfs import StealSampler, machine_ticks, steal_figures


def test_the_whole_span_and_the_worst_second_of_two_intervals() -> None:
    # (steal, total) ticks every half second: 50 of the 200 ticks in the second interval were stolen
    samples = [(0, 0), (10, 100), (60, 200), (60, 300), (70, 400)]
    assert steal_figures(samples, "latency_") == {"latency_steal_percent": 17.5,
                                                  "latency_steal_percent_worst_second": 30.0}


def test_a_span_shorter_than_a_second_is_its_own_worst_second() -> None:
    assert steal_figures([(5, 100), (9, 150)]) == {"steal_percent": 8.0, "steal_percent_worst_second": 8.0}


def test_no_ticks_elapsed_is_no_steal() -> None:
    assert steal_figures([(5, 100), (5, 100)]) == {"steal_percent": 0.0, "steal_percent_worst_second": 0.0}


def test_the_sampler_reads_every_cores_ticks_while_the_block_runs() -> None:
    started = time.monotonic()
    with StealSampler() as sampler:
        time.sleep(1.3)
    elapsed = time.monotonic() - started
    assert len(sampler.samples) >= 4  # the first, two or three from the thread, the last
    steals, totals = zip(*sampler.samples, strict=True)
    assert list(steals) == sorted(steals) and list(totals) == sorted(totals)
    # the total is every core's clock ticks, so it grows by about the elapsed time on each core
    expected = elapsed * os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
    assert totals[-1] - totals[0] == pytest.approx(expected, rel=0.3)
    figures = sampler.figures()
    assert all(0.0 <= value <= 100.0 for value in figures.values())
    assert machine_ticks()[1] >= totals[-1]
