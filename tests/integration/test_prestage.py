"""A big artwork file printed as it is: its copy into the hot folder's temp name begins with its
check (engine ``_prestage``), and is renamed into place only once the check passed and the output
is recorded. Every other outcome leaves nothing in the hot folder, crashes included.

The engine in-process on real folders (``Rig`` of test_engine_faults), with
``PRESTAGE_MIN_BYTES`` lowered so that the small test PDFs count as big.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from spo_hotfolder.engine import Engine
from spo_hotfolder.ledger import Stage
from spo_hotfolder.operator import Action
from spo_hotfolder.status import JobStatus
from tests.daemon import write_config
from tests.engine_parts import engine_module
from tests.integration.test_engine_faults import (
    CRASH_POINTS,
    InProcessPdf,
    Rig,
    _crash_before,
    done,
    life_until_killed,
    rig_on,
)

AS_IS = (3, 3, 88, 58)  # trim box (mm) with which the artwork is printed as it is (the output is a link to it)
NAME = "P1_P1-1_bc-85x55_x1.pdf"


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    monkeypatch.setattr(engine_module, "PRESTAGE_MIN_BYTES", 1)
    yield from rig_on(tmp_path)


class WatchingPdf(InProcessPdf):
    """The check, which first waits (a few seconds at most) for the temp file of the job's copy to
    appear in the hot folder: it appears there only if the copy began with the check."""

    def __init__(self, hot: Path, then: Callable[[Any], None] | None = None, wait: float = 5.0) -> None:
        self.hot = hot
        self.then = then
        self.wait = wait
        self.seen_during_check: list[str] = []

    def check(self, artwork: Any, product_name: Any, spec: Any, validation: Any) -> Any:
        deadline = time.monotonic() + self.wait
        while time.monotonic() < deadline and not self.seen_during_check:
            self.seen_during_check = [n for n in os.listdir(self.hot) if n.startswith(".")]
            time.sleep(0.005)
        if self.then is not None:
            then, self.then = self.then, None  # (once: a check made again after the edit sees it done)
            then(artwork)
        return super().check(artwork, product_name, spec, validation)


def _count_copies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The threads write_temp ran on, one entry per copy into a hot folder."""
    threads: list[str] = []
    write_temp = engine_module.write_temp

    def counted(*args: Any, **kwargs: Any) -> int:
        threads.append(threading.current_thread().name)
        return write_temp(*args, **kwargs)

    monkeypatch.setattr(engine_module, "write_temp", counted)
    return threads


def _deliveries(r: Rig) -> list[tuple[str, str]]:
    """(job id, state) of every copy journalled, oldest first."""
    db = sqlite3.connect(r.config.paths.state / "ledger.sqlite3")
    try:
        return [(row[0], row[1]) for row in db.execute("SELECT job_id, state FROM deliveries ORDER BY id")]
    finally:
        db.close()


def _statuses(r: Rig, job_id: str) -> list[str]:
    """The job's history so far; none before its manifest is taken in."""
    return r.statuses(job_id) if r.ledger.get_job(job_id) is not None else []


def _print(r: Rig) -> bytes:
    """The content of the one file in the hot folder, which the printer then takes."""
    content = (r.hot / NAME).read_bytes()
    assert r.take_prints() == [NAME]
    return content


def test_a_big_artwork_is_copied_while_it_is_checked_and_delivered_once(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    copies = _count_copies(monkeypatch)
    pdf = WatchingPdf(rig.hot)
    rig.engine.pdf = pdf
    job_id = rig.order("P1", trimbox=AS_IS)
    rig.run(until=done(rig, job_id), steps=10)
    assert pdf.seen_during_check == [f".{NAME}.part"], "the copy had begun when the check ran"
    assert copies == ["hot-folder-indigo"], "one copy, the one begun with the check"
    assert _print(rig) == (rig.root / "done" / job_id / "output" / NAME).read_bytes()
    assert rig.temps() == []
    assert _deliveries(rig) == [(job_id, "published")]
    statuses = rig.statuses(job_id)
    assert statuses.index("ValidationFinished") < statuses.index("OutputCreated") < statuses.index("InHotFolder")


def test_a_small_artwork_is_copied_after_its_check_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copies = _count_copies(monkeypatch)
    for r in rig_on(tmp_path):  # (PRESTAGE_MIN_BYTES as shipped: the test PDF is far smaller)
        pdf = WatchingPdf(r.hot, wait=0.3)
        r.engine.pdf = pdf
        job_id = r.order("P1", trimbox=AS_IS)
        r.run(until=done(r, job_id), steps=10)
        assert pdf.seen_during_check == []
        assert r.take_prints() == [NAME] and len(copies) == 1


def test_an_early_copy_whose_check_fails_is_removed_and_nothing_is_printed(rig: Rig) -> None:
    pdf = WatchingPdf(rig.hot)
    rig.engine.pdf = pdf
    job_id = rig.order("P1", trimbox=AS_IS)
    (rig.inbox / "P1.yaml").write_text(  # the same order, with a sha256 that is not its file's
        'order_id: "P1"\nproduct: bc-85x55\nquantity: 1\nartwork:\n  - path: P1.pdf\n    sha256: "' + "0" * 64 + '"\n'
    )
    rig.run(until=lambda: rig.stage(job_id) is Stage.FAILED, steps=10)
    assert pdf.seen_during_check == [f".{NAME}.part"]
    assert "ValidationFailed" in rig.statuses(job_id)
    assert os.listdir(rig.hot) == [], "neither the file nor its temp name"
    assert _deliveries(rig) == [(job_id, "cleared")]  # (given up, its temp file known gone)


def test_a_blocked_job_is_not_copied_before_its_release(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    copies = _count_copies(monkeypatch)
    job_id = rig.order("P1", trimbox=AS_IS, extra="blocked: true\n")
    rig.run(until=lambda: rig.stage(job_id) is Stage.HELD, steps=10)
    assert copies == [] and os.listdir(rig.hot) == [] and _deliveries(rig) == []
    assert rig.engine.apply(job_id, Action.RELEASE, by="alice", note="").ok
    rig.run(until=done(rig, job_id), steps=10)
    assert rig.take_prints() == [NAME] and len(copies) == 1 and rig.temps() == []


def test_an_output_the_check_has_rewritten_is_copied_itself_not_the_artwork(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No trim box: the output is a new PDF, not the artwork; the early copy of the artwork is
    dropped and the output copied."""
    copies = _count_copies(monkeypatch)
    pdf = WatchingPdf(rig.hot)
    rig.engine.pdf = pdf
    job_id = rig.order("P1")
    rig.run(until=done(rig, job_id), steps=10)
    assert pdf.seen_during_check == [f".{NAME}.part"]
    assert len(copies) == 2, "the early copy (dropped), then the output's"
    output = rig.root / "done" / job_id / "output" / NAME
    artwork = rig.root / "done" / job_id / "artwork" / "P1.pdf"
    assert output.read_bytes() != artwork.read_bytes()
    assert _print(rig) == output.read_bytes()
    assert rig.temps() == []
    assert [state for _, state in _deliveries(rig)] == ["cleared", "published"]


def test_an_artwork_touched_during_its_early_copy_is_copied_again(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its time stamp changed (a backup tool): the early copy may not be of the file as it is now,
    so the delivery copies again (the content is the same: the job is not failed)."""
    copies = _count_copies(monkeypatch)

    def touch(artwork: Any) -> None:
        st = os.stat(artwork[0].path)
        os.utime(artwork[0].path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))

    rig.engine.pdf = WatchingPdf(rig.hot, then=touch)
    job_id = rig.order("P1", trimbox=AS_IS)
    rig.run(until=done(rig, job_id), steps=10)
    assert len(copies) == 2
    assert rig.take_prints() == [NAME] and rig.temps() == []
    assert [state for _, state in _deliveries(rig)] == ["cleared", "published"]


def test_an_artwork_changed_during_its_early_copy_is_never_printed(rig: Rig) -> None:
    def rewrite(artwork: Any) -> None:
        with open(artwork[0].path, "ab") as fh:
            fh.write(b"\n% edited in place\n")

    rig.engine.pdf = WatchingPdf(rig.hot, then=rewrite)
    job_id = rig.order("P1", trimbox=AS_IS)
    rig.run(until=done(rig, job_id), steps=10)
    # The check read the edited file (it ran after the edit): that file is what prints, whole.
    printed = _print(rig)
    assert rig.temps() == []
    assert printed.endswith(b"% edited in place\n")
    assert printed == (rig.root / "done" / job_id / "artwork" / "P1.pdf").read_bytes()


def test_an_artwork_edited_in_place_with_its_size_and_time_kept_during_its_early_copy_is_never_printed(
    rig: Rig,
) -> None:
    """White-box audit CO 2 (critical): an edit in place that kept the file's size and time (`cp -p`,
    `rsync --inplace -t`), after the early copy and before the check read it: the copy of the file
    before it (unchecked) was renamed into the hot folder, the checked one recorded in done/."""

    def rewrite_keeping_time(artwork: Any) -> None:
        path = Path(artwork[0].path)
        time.sleep(0.2)  # (the early copy of the file as it was ends meanwhile, as in the audit)
        before = path.stat()
        data = path.read_bytes()
        assert b"/Producer (pypdf)" in data
        with open(path, "r+b") as fh:  # the same size, other bytes, still a whole PDF
            fh.write(data.replace(b"/Producer (pypdf)", b"/Producer (EDITD)", 1))
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

    rig.engine.pdf = WatchingPdf(rig.hot, then=rewrite_keeping_time)
    job_id = rig.order("P1", trimbox=AS_IS)
    rig.run(until=done(rig, job_id), steps=10)
    printed = _print(rig)
    assert rig.temps() == []
    assert printed == (rig.root / "done" / job_id / "artwork" / "P1.pdf").read_bytes(), "the checked file, not the copy"


def test_a_file_of_the_outputs_name_waiting_in_the_hot_folder_means_no_early_copy(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    copies = _count_copies(monkeypatch)
    waiting = rig.hot / NAME
    waiting.write_bytes(b"%PDF-1.7 the last run's file, not taken yet")
    job_id = rig.order("P1", trimbox=AS_IS)
    rig.run(until=lambda: JobStatus.CopyToHotFolderFailed.value in _statuses(rig, job_id), steps=10)
    assert copies == [] and rig.temps() == []
    assert waiting.read_bytes() == b"%PDF-1.7 the last run's file, not taken yet"


def test_a_daemon_stopping_during_the_check_leaves_no_temp_file(rig: Rig) -> None:
    def stop(artwork: Any) -> None:
        rig.engine.stop_event.set()

    rig.engine.pdf = WatchingPdf(rig.hot, then=stop)
    job_id = rig.order("P1", trimbox=AS_IS)
    rig.run(until=lambda: JobStatus.ValidationFinished.value in _statuses(rig, job_id), steps=3)
    assert rig.temps() == [] and os.listdir(rig.hot) == []
    assert rig.ledger.open_deliveries() == []
    rig.start()  # the next start delivers it
    rig.run(until=done(rig, job_id), steps=10)
    assert rig.take_prints() == [NAME] and rig.temps() == []


def test_a_stop_removes_the_temp_file_of_a_copy_begun_and_not_finished(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit (reload, polling): after a clean stop during big copies, a `.<name>.part` was once left
    in the hot folder until the next start (README: a daemon stopping removes it at once). The
    engine's last act at a stop removes the temp file of every copy journalled as begun and not
    "written"; a "written" one (its rename may have been asked for) is left to the start."""
    r = rig
    begun, written = r.hot / ".A.pdf.part", r.hot / ".B.pdf.part"
    for name, temp in (("A", begun), ("B", written)):
        temp.write_bytes(b"%PDF-1.4 partial")
        delivery = r.ledger.delivery_intent(
            f"{name}-1", 1, "indigo", str(r.hot / f"{name}.pdf"), str(temp), r.clock.now()
        )
        if name == "B":
            r.ledger.delivery_state(delivery, "written", r.clock.now())
    r.engine._remove_unfinished_temps()
    assert not begun.exists() and written.exists()
    called: list[bool] = []
    monkeypatch.setattr(Engine, "_remove_unfinished_temps", lambda self: called.append(True))
    r.engine.stop()
    r.engine.run()  # (stopped: its start's reconcile, then what it does at a stop)
    assert called == [True]


PRESTAGE_CRASH_POINTS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    **CRASH_POINTS,
    "during the check": lambda mp: _crash_before(mp, InProcessPdf, "check"),
    "after the check, before ValidationFinished": lambda mp: _crash_before(
        mp, Engine, "_record", when=lambda self, job_id, status, *a, **kw: status is JobStatus.ValidationFinished
    ),
}


@pytest.mark.parametrize("point", list(PRESTAGE_CRASH_POINTS))
def test_a_crash_at_any_step_of_an_early_copy_delivers_exactly_once(rig: Rig, point: str) -> None:
    job_id = rig.order("P1", trimbox=AS_IS)
    life_until_killed(rig, PRESTAGE_CRASH_POINTS[point])
    rig.start()  # the restart
    rig.run(until=done(rig, job_id), steps=10)
    rig.run(steps=3)
    rig.take_prints()
    assert rig.printed == [NAME], point
    assert rig.statuses(job_id).count("InHotFolder") == 1
    assert rig.temps() == []
    assert rig.ledger.open_deliveries() == []


def test_an_early_copy_into_a_share_that_stops_answering_costs_one_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy begun with the check hangs (a share whose server went away): waited for as any
    call into the hot folder is (share_timeout_seconds), then the attempt fails in plain words; the
    temp file the late copy leaves is removed once the share answers; the job is delivered once."""
    monkeypatch.setattr(engine_module, "PRESTAGE_MIN_BYTES", 1)
    r = Rig(
        tmp_path,
        write_config(
            tmp_path,
            watch={"settle_seconds": 0.5, "artwork_timeout_seconds": 600},
            delivery={"max_attempts": 3, "backoff_seconds": [10, 30], "share_timeout_seconds": 0.3},
        ),
    )
    try:
        original = engine_module.write_temp
        gate = threading.Event()
        copies: list[str] = []

        def hanging_copy(src: Path, temp: Path, hot: Any, cancelled: Any = None) -> int:
            copies.append(temp.name)
            if len(copies) == 1:
                assert gate.wait(20), "the test never opened the gate"
            return original(src, temp, hot, cancelled=cancelled)

        monkeypatch.setattr(engine_module, "write_temp", hanging_copy)
        job_id = r.order("P1", trimbox=AS_IS)
        r.run(lambda: r.stage(job_id) is Stage.RETRY, steps=20, dt=0.5)
        failed = [e.detail for e in r.job(job_id).history if e.status is JobStatus.CopyToHotFolderFailed]
        assert len(failed) == 1 and "does not answer" in failed[0], failed
        gate.set()
        deadline = time.monotonic() + 10
        while r.engine.shares.silent_since("indigo") is not None:
            assert time.monotonic() < deadline, "the stuck copy never returned"
            time.sleep(0.01)
        assert r.temps() == [f".{NAME}.part"]  # what the late copy left
        r.run(steps=1)
        assert r.temps() == []
        r.run(until=done(r, job_id), steps=30, dt=1.0)
        assert r.take_prints() == [NAME] and r.temps() == []
        assert copies == [f".{NAME}.part"] * 2
    finally:
        r.close()


class AheadPdf(InProcessPdf):
    """Records the files the engine hands over to be read ahead (``hash_ahead``)."""

    def __init__(self) -> None:
        self.ahead: list[str] = []
        self.moved: list[tuple[os.stat_result, os.stat_result]] = []

    def hash_ahead(self, path: str) -> None:
        self.ahead.append(path)

    def ahead_moved(self, before: os.stat_result, after: os.stat_result) -> None:
        self.moved.append((before, after))


@pytest.mark.parametrize("big", [True, False])
def test_a_big_artwork_waiting_for_its_manifest_is_handed_over_to_be_read_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, big: bool
) -> None:
    if big:
        monkeypatch.setattr(engine_module, "HASH_AHEAD_MIN_BYTES", 1)
    for r in rig_on(tmp_path):  # (as shipped: the test PDF is far below HASH_AHEAD_MIN_BYTES)
        pdf = AheadPdf()
        r.engine.pdf = pdf
        job_id = r.order("P1", trimbox=AS_IS)
        manifest = (r.inbox / "P1.yaml").read_bytes()
        (r.inbox / "P1.yaml").unlink()  # the artwork first, alone
        r.run(steps=2)
        assert pdf.ahead == ([str(r.inbox / "P1.pdf")] if big else [])
        (r.inbox / "P1.yaml").write_bytes(manifest)
        inode = (r.inbox / "P1.pdf").stat().st_ino
        r.run(until=done(r, job_id), steps=10)
        assert r.take_prints() == [NAME]
        assert len(pdf.ahead) == (1 if big else 0), "once, when it settled"
        # The engine's own link or move of the file is said, with its stat before and after.
        assert [(b.st_ino, a.st_ino) for b, a in pdf.moved] == ([(inode, inode)] if big else [])
        assert all(a.st_ctime_ns >= b.st_ctime_ns for b, a in pdf.moved)
