"""Summaries: median/min/max per side, the ratio to the baseline, and the target check."""

from __future__ import annotations

import statistics
from typing import Any


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 1,000 values is the 990th smallest); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def summary(values: list[float] | None) -> dict[str, Any] | None:
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "values": [round(v, 4) for v in values],
    }


def metric(
    name: str,
    unit: str,
    daemon: list[float],
    baseline: list[float] | None,
    target: str,
    *,
    max_ratio: float | None = None,
    min_ratio: float | None = None,
    max_value: float | None = None,
    ratio: bool = True,
) -> dict[str, Any]:
    """One figure. The ratio is the median of the per-round ratios daemon/baseline (rounds are
    interleaved, so each pair saw the same machine load)."""
    r: float | None = None
    if ratio and baseline and len(baseline) == len(daemon):
        pairs = [d / b for d, b in zip(daemon, baseline, strict=True) if b > 0]
        r = statistics.median(pairs) if pairs else None
    med = statistics.median(daemon) if daemon else None
    ok: bool | None = None
    if max_ratio is not None and r is not None:
        ok = r <= max_ratio
    if min_ratio is not None and r is not None:
        ok = r >= min_ratio
    if max_value is not None and med is not None:
        ok = med <= max_value if ok is None else ok and med <= max_value
    return {
        "name": name,
        "unit": unit,
        "daemon": summary(daemon),
        "baseline": summary(baseline),
        "ratio": r,
        "target": target,
        "met": ok,
    }
