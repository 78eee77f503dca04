"""The bench's table says a ratio precisely enough to tell which side of its target it is on."""

from __future__ import annotations

from bench.cli import table


def _results(ratio: float, met: bool) -> dict[str, object]:
    side = {"median": 9.64, "min": 9.12, "max": 10.27}
    metric = {
        "name": "p50 drop -> hot folder",
        "unit": "ms",
        "daemon": side,
        "baseline": {"median": 4.81, "min": 4.5, "max": 5.0},
        "ratio": ratio,
        "target": "<= 2x shell loop",
        "met": met,
    }
    return {"scenarios": {"1": {"metrics": [metric]}}}


def test_a_ratio_just_over_its_target_is_not_printed_as_the_target() -> None:
    row = table(_results(2.0036, met=False)).splitlines()[2]
    assert "2.004x" in row and row.rstrip().endswith("NO")


def test_large_ratios_keep_one_decimal() -> None:
    assert "231.3x" in table(_results(231.32, met=True))
