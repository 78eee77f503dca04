"""The engine's queue of jobs to run: orders take turns (``processing._orders_in_turn``)."""

from __future__ import annotations

from spo_hotfolder.engine.processing import _orders_in_turn


def test_the_orders_take_turns_in_the_order_they_came() -> None:
    jobs = [("B-1", "B"), ("B-2", "B"), ("B-3", "B"), ("S-1", "S"), ("T-1", "T"), ("T-2", "T")]
    assert [j for j, _ in _orders_in_turn(jobs, {})] == ["B-1", "S-1", "T-1", "B-2", "T-2", "B-3"]


def test_the_order_served_longest_ago_goes_first() -> None:
    """B's job ran last: S, never served, and then T, served before B, go first."""
    jobs = [("B-2", "B"), ("B-3", "B"), ("T-2", "T"), ("S-1", "S")]
    assert [j for j, _ in _orders_in_turn(jobs, {"B": 7, "T": 3})] == ["S-1", "T-2", "B-2", "B-3"]


def test_one_order_alone_keeps_its_jobs_order() -> None:
    jobs = [(f"O-{n}", "O") for n in range(1, 6)]
    assert _orders_in_turn(jobs, {"O": 1}) == jobs
