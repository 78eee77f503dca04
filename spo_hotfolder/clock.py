"""The clock: wall time (timezone-aware UTC) and monotonic time, injectable for tests."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


@functools.lru_cache(maxsize=256)
def iso(ts: datetime) -> str:
    """2026-11-22T10:15:03.120Z: UTC, milliseconds, sortable as text. Cached: one step of a job
    writes the same time stamp into several rows."""
    ts = ts.astimezone(UTC)
    return (
        f"{ts.year:04d}-{ts.month:02d}-{ts.day:02d}T{ts.hour:02d}:{ts.minute:02d}:{ts.second:02d}."
        f"{ts.microsecond // 1000:03d}Z"
    )


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


#: The last time a datetime can hold (in UTC): where a deadline beyond it is clamped.
LATEST = datetime.max.replace(tzinfo=UTC)


def later(ts: datetime, seconds: float) -> datetime:
    """``ts`` plus ``seconds``, or ``LATEST`` where that is beyond what a datetime holds (a
    process_after in the year 9998 and an artwork_timeout_seconds of years: audit 12-05 H)."""
    try:
        return ts + timedelta(seconds=seconds)
    except OverflowError:
        return LATEST
