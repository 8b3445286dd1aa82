"""Shared helpers of the benchmarks: timing, peak memory and the machine they ran on."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable


def median_time(fn: Callable[[], object], repeats: int = 7, warmup: int = 1,
                timer: Callable[[], float] = time.perf_counter) -> float:
    """Median wall time of ``fn()`` in seconds, after ``warmup`` untimed calls (``timer``:
    ``time.process_time`` for CPU time, steadier on a loaded machine)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = timer()
        fn()
        times.append(timer() - t)
    return statistics.median(times)


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far, in GiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {sys.version.split()[0]}, "
            f"{platform.system()} {platform.release()}")


def have(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


NO_SVY = "   svy not installed: pip install -e '.[bench]' for the comparison"


def cli(run: Callable[[], dict], report: Callable[[dict], str]) -> None:
    """Run a benchmark; print its report, or its figures as JSON with ``--json``."""
    import json

    result = run()
    print(json.dumps(result, ensure_ascii=False) if "--json" in sys.argv else report(result))


def add_test_method_option(parser) -> None:
    """``--test-method``: run the town test ``method`` instead of the spec's (same seeds)."""
    from quchi_stats.flags.town_test import TEST_METHODS

    parser.add_argument("--test-method", choices=TEST_METHODS,
                        help="the town test instead of the spec's test_method (same seeds)")


def with_test_method(spec, method: str | None):
    """``spec`` with ``test_method = method`` (unchanged when ``method`` is None)."""
    import dataclasses

    return spec if method is None else dataclasses.replace(spec, test_method=method)
