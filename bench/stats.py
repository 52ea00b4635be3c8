"""Small helpers shared by the benchmarks: percentiles and table printing."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "mean": statistics.fmean(values) if values else float("nan"),
    }


def emit(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


def p50_p99(s: dict[str, float], unit: Callable[[float], str] = ms) -> str:
    """The two columns of a latency row, from a ``summary``."""
    return f"p50 {unit(s['p50'])}  p99 {unit(s['p99'])}"


def added(s: dict[str, float], base: dict[str, float], unit: Callable[[float], str] = ms) -> str:
    """What ``s`` adds to ``base`` at p50 and at p99."""
    return f"p50 {unit(s['p50'] - base['p50'])}  p99 {unit(s['p99'] - base['p99'])}"


def ratios(s: dict[str, float], base: dict[str, float]) -> str:
    """``s`` over ``base`` at p50 and at p99."""
    return f"p50 x{s['p50'] / base['p50']:.2f}  p99 x{s['p99'] / base['p99']:.2f}"
