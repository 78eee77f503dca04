"""When a file is complete: the stability tracker with an injected clock."""

from __future__ import annotations

from pathlib import Path

from spo_hotfolder.stability import FileStabilityTracker


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_file_is_stable_after_settle_seconds_unchanged(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = FileStabilityTracker(1.0, clock)
    f = tmp_path / "a.pdf"
    f.write_bytes(b"x")
    tracker.track(f)
    assert tracker.get_stable_files() == []
    assert tracker.next_due() == 101.0
    clock.t = 101.0
    assert [p for p, _ in tracker.get_stable_files()] == [f]
    assert len(tracker) == 0


def test_a_growing_file_waits_again(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = FileStabilityTracker(1.0, clock)
    f = tmp_path / "a.pdf"
    f.write_bytes(b"x")
    tracker.track(f)
    clock.t = 100.9
    with open(f, "ab") as fh:
        fh.write(b"more")
    clock.t = 101.0
    assert tracker.get_stable_files() == [], "changed since it was tracked: not complete"
    clock.t = 101.9
    assert tracker.get_stable_files() == []
    clock.t = 102.0
    assert [p for p, _ in tracker.get_stable_files()] == [f]


def test_activity_events_push_the_deadline(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = FileStabilityTracker(1.0, clock)
    f = tmp_path / "a.pdf"
    f.write_bytes(b"x")
    tracker.track(f)
    clock.t = 100.8
    tracker.track(f, activity=True)
    clock.t = 101.2
    assert tracker.get_stable_files() == []
    tracker.track(f, activity=False)  # a rescan does not reset the timer
    clock.t = 101.8
    assert [p for p, _ in tracker.get_stable_files()] == [f]


def test_renamed_into_place_is_complete_at_once(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = FileStabilityTracker(5.0, clock)
    f = tmp_path / "a.pdf"
    f.write_bytes(b"x")
    tracker.track(f, complete=True)
    assert [p for p, _ in tracker.get_stable_files()] == [f]


def test_vanished_files_and_folders_are_dropped(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = FileStabilityTracker(0.0, clock)
    gone = tmp_path / "gone.pdf"
    tracker.track(gone)
    tracker.track(tmp_path)
    assert len(tracker) == 0
    f = tmp_path / "b.pdf"
    f.write_bytes(b"x")
    tracker.track(f)
    f.unlink()
    assert tracker.get_stable_files() == []
    assert len(tracker) == 0
