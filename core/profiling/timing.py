"""Timing one callable: warm-up runs (all of them: the first runs pay for allocation and
kernel selection), then timed runs until a count or a time budget,
summarised as the median and the inter-quartile range (DESIGN, Profiling).

``sync`` is called after every run before the clock is read (torch.cuda.synchronize on a
GPU, where kernels run asynchronously). ``should_stop`` is asked before every run, so a stop
takes effect after at most one run of the callable.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Timing:
    """Seconds of each timed run, and their median and quartiles in milliseconds."""

    samples_s: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_s) * 1e3

    @property
    def quartiles_ms(self) -> tuple[float, float]:
        if len(self.samples_s) < 2:
            only = self.samples_s[0] * 1e3
            return only, only
        q1, _, q3 = statistics.quantiles(self.samples_s, n=4, method="inclusive")
        return q1 * 1e3, q3 * 1e3

    @property
    def iqr_ms(self) -> float:
        q1, q3 = self.quartiles_ms
        return q3 - q1

    @property
    def best_ms(self) -> float:
        return min(self.samples_s) * 1e3

    @property
    def count(self) -> int:
        return len(self.samples_s)


def never() -> bool:
    return False


def measure(run: Callable[[], object], warmup: int, repeats: int, budget_s: float,
            sync: Callable[[], object] = lambda: None,
            should_stop: Callable[[], bool] = never) -> Timing | None:
    """Time ``run``: ``warmup`` untimed runs, then up to ``repeats`` timed ones while the
    budget (seconds of timed runs) lasts, at least one. None when stopped."""
    for _ in range(warmup):
        if should_stop():
            return None
        run()
        sync()
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(samples) < repeats:
        if should_stop():
            return None
        t0 = time.perf_counter()
        run()
        sync()
        t1 = time.perf_counter()
        samples.append(t1 - t0)
        if t1 >= deadline:
            break
    return Timing(tuple(samples))
