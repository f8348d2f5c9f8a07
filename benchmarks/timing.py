"""Wall-clock timing shared by the benchmark programs (never used by tests)."""

from __future__ import annotations

import time
from collections.abc import Callable


def time_calls(fn: Callable[[], object], reps: int, warmup: int = 3) -> list[float]:
    """Milliseconds of each of ``reps`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        samples.append(1000.0 * (time.perf_counter() - t0))
    return samples
