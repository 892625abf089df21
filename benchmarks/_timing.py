"""Timing shared by the benchmarks."""

from __future__ import annotations

import statistics
import time


def median_time(fn, runs: int, warm_up: bool = False) -> float:
    """Median wall time of ``fn`` over ``runs`` calls (after one untimed call if
    ``warm_up``)."""
    if warm_up:
        fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)
