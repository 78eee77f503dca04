"""The ledger: durable jobs, append-only history, removals, filters."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from spo_hotfolder.ledger import Artwork, Ledger, LedgerError, Stage
from spo_hotfolder.reports import Extra, status_text
from spo_hotfolder.status import JobStatus

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def add(ledger: Ledger, job_id: str, stage: Stage = Stage.PROCESS) -> None:
    ledger.insert_job(
        job_id=job_id,
        order_id=job_id.split("-")[0],
        customer=None,
        product="bc",
        quantity=1,
        hot_folder=None,
        attributes={"paper": "silk"},
        manifest_name="manifest.yaml",
        process_after=None,
        stage=stage,
        folder=f"work/{job_id}",
        awaiting_until=None,
        now=T0,
    )
    ledger.add_status(job_id, JobStatus.Ordered, "system", "", T0)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "state" / "ledger.sqlite3")


def test_status_is_the_newest_entry_not_removed(ledger: Ledger) -> None:
    add(ledger, "1-1")
    block = ledger.add_status("1-1", JobStatus.Blocked, "system", "block_on_arrival", T0 + timedelta(seconds=1))
    ledger.add_status("1-1", JobStatus.OutputCreated, "system", "x.pdf", T0 + timedelta(seconds=2))
    job = ledger.get_job("1-1")
    assert job is not None and job.status is JobStatus.OutputCreated and job.blocked
    ledger.remove_status(block, "1-1", "alice", "fine", T0 + timedelta(seconds=3))
    job = ledger.get_job("1-1")
    assert job is not None and not job.blocked and job.was_released
    removed = job.history[1]
    assert (removed.status, removed.removed_by, removed.removed_note) == (JobStatus.Blocked, "alice", "fine")
    assert removed.removed_at == "2026-11-22T10:00:03.000Z"
    assert [e.status for e in job.history] == [JobStatus.Ordered, JobStatus.Blocked, JobStatus.OutputCreated]


def test_the_daemons_cached_reads_always_match_the_ledger_on_disk(ledger: Ledger, tmp_path: Path) -> None:
    """The daemon's connection keeps jobs and artwork lists between reads; after every kind of
    write (and a rolled-back transaction) it answers what a fresh read-only connection reads."""
    disk = Ledger(tmp_path / "state" / "ledger.sqlite3", readonly=True)

    def same() -> None:
        for job_id in ("1-1", "2-1"):
            ours, theirs = ledger.get_job(job_id, history=False), disk.get_job(job_id, history=False)
            assert ours == theirs
            assert ledger.artwork(job_id) == disk.artwork(job_id)
            assert ledger.job_brief(job_id) == disk.job_brief(job_id)

    add(ledger, "1-1")
    same()  # 2-1 missing on both sides: None, [], None
    add(ledger, "2-1")
    ledger.set_artwork("1-1", [Artwork(1, "a.pdf", "/in/a.pdf", None, False), Artwork(2, "b.pdf", None, None, True)])
    same()
    ledger.mark_artwork_present("1-1", 1)
    same()
    ledger.mark_artwork_present("1-1", 2, "b-2.pdf")
    same()
    ledger.update_job("1-1", T0 + timedelta(seconds=1), stage=Stage.DELIVER, route="indigo", attempts=2)
    same()
    block = ledger.add_status("1-1", JobStatus.Blocked, "system", "block_on_arrival", T0 + timedelta(seconds=2))
    same()
    ledger.add_status("1-1", JobStatus.OutputCreated, "system", "x.pdf", T0 + timedelta(seconds=3))
    job = ledger.get_job("1-1", history=False)
    assert job is not None and job.status is JobStatus.OutputCreated and job.blocked
    same()
    ledger.remove_status(block, "1-1", "alice", "fine", T0 + timedelta(seconds=4))
    job = ledger.get_job("1-1", history=False)
    assert job is not None and not job.blocked
    same()
    with pytest.raises(RuntimeError, match="boom"), ledger.transaction():
        ledger.update_job("2-1", T0 + timedelta(seconds=5), folder="done/2-1")
        ledger.add_status("2-1", JobStatus.InHotFolder, "system", "indigo: 2-1.pdf", T0 + timedelta(seconds=5))
        ledger.set_artwork("2-1", [Artwork(1, "c.pdf", None, None, True)])
        inside = ledger.get_job("2-1", history=False)
        assert inside is not None and inside.folder == "done/2-1" and ledger.artwork("2-1")
        raise RuntimeError("boom")
    job = ledger.get_job("2-1", history=False)
    assert job is not None and job.folder == "work/2-1" and job.status is JobStatus.Ordered
    assert ledger.artwork("2-1") == []
    same()
    disk.close()


def test_a_job_read_without_history_has_its_status_and_blocks_and_refuses_the_rest(ledger: Ledger) -> None:
    """The engine's light read (one statement, the job's row): status and blocked are right after
    every kind of history change; a question only the whole history answers (the active Blocked
    entry that RELEASE removes, delivered, released) is refused, not answered wrong."""
    add(ledger, "1-1")
    first = ledger.add_status("1-1", JobStatus.Blocked, "system", "products", T0 + timedelta(seconds=1))
    second = ledger.add_status("1-1", JobStatus.Blocked, "system", "manifest", T0 + timedelta(seconds=2))
    ledger.add_status("1-1", JobStatus.ValidationFinished, "system", "passed", T0 + timedelta(seconds=3))
    ledger.remove_status(first, "1-1", "alice", "", T0 + timedelta(seconds=4))
    last = ledger.add_status("1-1", JobStatus.InHotFolder, "system", "indigo: x.pdf", T0 + timedelta(seconds=5))
    light = ledger.get_job("1-1", history=False)
    whole = ledger.get_job("1-1")
    assert light is not None and whole is not None
    assert (light.status, light.blocked) == (whole.status, whole.blocked) == (JobStatus.InHotFolder, True)
    assert whole.active_block().id == second  # type: ignore[union-attr]
    assert light.history == () and len(whole.history) == 5
    assert whole.delivered() and whole.was_released
    with pytest.raises(RuntimeError, match="without its history"):
        light.active_block()
    with pytest.raises(RuntimeError, match="without its history"):
        light.delivered()
    with pytest.raises(RuntimeError, match="without its history"):
        _ = light.was_released
    # The newest entry removed, and the last block: the row follows.
    ledger.remove_status(last, "1-1", "bob", "", T0 + timedelta(seconds=6))
    ledger.remove_status(second, "1-1", "bob", "", T0 + timedelta(seconds=7))
    light = ledger.get_job("1-1", history=False)
    whole = ledger.get_job("1-1")
    assert light is not None and whole is not None
    assert (light.status, light.blocked) == (whole.status, whole.blocked) == (JobStatus.ValidationFinished, False)
    assert [(j.status, j.blocked) for j in ledger.iter_jobs()] == [(JobStatus.ValidationFinished, False)]


def test_every_reader_of_the_whole_history_refuses_a_job_read_without_it(ledger: Ledger) -> None:
    """STATUS.txt, `show` and the JSON view read the history through whole_history()."""
    add(ledger, "1-1")
    ledger.add_status("1-1", JobStatus.ValidationFinished, "system", "passed", T0 + timedelta(seconds=1))
    light = ledger.get_job("1-1", history=False)
    whole = ledger.get_job("1-1")
    assert light is not None and whole is not None
    assert [e["status"] for e in whole.to_json()["history"]] == ["Ordered", "ValidationFinished"]
    assert light.to_json(with_history=False)["status"] == "ValidationFinished"
    with pytest.raises(RuntimeError, match="without its history"):
        light.to_json()
    with pytest.raises(RuntimeError, match="without its history"):
        status_text(light, Extra())


def test_filters_blocked_released_and_status(ledger: Ledger) -> None:
    add(ledger, "1-1")
    add(ledger, "2-1")
    add(ledger, "3-1", Stage.REJECTED)
    b1 = ledger.add_status("1-1", JobStatus.Blocked, "system", "", T0)
    ledger.add_status("2-1", JobStatus.Blocked, "system", "", T0)
    ledger.add_status("3-1", JobStatus.Blocked, "system", "", T0)
    ledger.remove_status(b1, "1-1", "bob", "", T0)
    # SPEC 3: --blocked lists the jobs whose Blocked entry is active "whatever their current
    # status": 3-1 was rejected without being released.
    assert [j.job_id for j in ledger.iter_jobs(blocked=True)] == ["2-1", "3-1"]
    assert [j.job_id for j in ledger.iter_jobs(blocked=False)] == ["1-1"]
    assert [(j.block_active, j.blocked) for j in ledger.iter_jobs(blocked=True)] == [(True, True), (True, False)]
    assert [j.to_json(with_history=False)["blocked"] for j in ledger.iter_jobs(blocked=True)] == [True, True]
    assert [j.job_id for j in ledger.iter_jobs(released=True)] == ["1-1"]
    assert [j.job_id for j in ledger.iter_jobs(status=JobStatus.Ordered)] == ["1-1"]
    assert ledger.count_blocked() == 1, "counted as blocked: the jobs that wait for an operator"


def test_a_purged_job_names_no_folder_and_no_output(ledger: Ledger) -> None:
    """After the retention purge (JobDataDeleted) the files are gone: the JSON keeps its keys, with
    null for the folder and the output, and the job says when they were deleted."""
    add(ledger, "1-1")
    ledger.update_job("1-1", T0, output="o.pdf", folder="done/1-1", route="indigo", stage=Stage.DONE)
    ledger.add_status("1-1", JobStatus.InHotFolder, "system", "indigo: o.pdf", T0)
    job = ledger.get_job("1-1")
    assert job is not None and job.deleted_at() is None
    assert (job.to_json()["folder"], job.to_json()["output"]) == ("done/1-1", "done/1-1/output/o.pdf")
    purged_at = T0 + timedelta(days=30)
    ledger.add_status("1-1", JobStatus.JobDataDeleted, "system", "retention: 30 days", purged_at)
    ledger.update_job("1-1", purged_at, stage=Stage.PURGED)
    for job in (ledger.get_job("1-1"), ledger.get_job("1-1", history=False), *ledger.iter_jobs()):
        assert job is not None
        data = job.to_json(with_history=False)
        assert (data["folder"], data["output"], data["stage"]) == (None, None, "purged")
        assert data["hot_folder"] == "indigo", "where it was delivered is still true"
        assert job.output_path is None and job.deleted_at() == "2026-12-22T10:00:00.000Z"


def test_a_rejected_job_names_no_hot_folder(ledger: Ledger) -> None:
    """Audit AP 6: a job rejected from quarantine/ (its route recorded with its output) showed
    "hot_folder": "indigo", a printer it never reached ("the hot folder it was delivered to")."""
    add(ledger, "1-1")
    ledger.update_job("1-1", T0, output="o.pdf", folder="quarantine/1-1", route="indigo", stage=Stage.HELD)
    assert ledger.get_job("1-1").to_json()["hot_folder"] == "indigo"  # type: ignore[union-attr]  # where it goes
    ledger.add_status("1-1", JobStatus.Rejected, "mo", "bad colours", T0)
    ledger.update_job("1-1", T0, folder="rejected/1-1", stage=Stage.REJECTED)
    data = ledger.get_job("1-1").to_json()  # type: ignore[union-attr]
    assert (data["hot_folder"], data["route"]) == (None, "indigo")


def test_json_shape_is_the_documented_one(ledger: Ledger) -> None:
    add(ledger, "1-1")
    ledger.update_job("1-1", T0, output="o.pdf", folder="done/1-1", route="indigo", stage=Stage.DONE)
    data = ledger.get_job("1-1").to_json()  # type: ignore[union-attr]
    for key in ("job_id", "order_id", "product", "quantity", "status", "blocked", "folder", "hot_folder", "output"):
        assert key in data
    assert data["output"] == "done/1-1/output/o.pdf"
    assert data["history"][0] == {
        "status": "Ordered",
        "at": "2026-11-22T10:00:00.000Z",
        "by": "system",
        "detail": "",
        "removed_at": None,
        "removed_by": None,
        "removed_note": None,
    }


def test_survives_reopen_and_refuses_invalid_rows(ledger: Ledger, tmp_path: Path) -> None:
    add(ledger, "1-1")
    ledger.close()
    again = Ledger(tmp_path / "state" / "ledger.sqlite3")
    assert again.get_job("1-1") is not None
    with pytest.raises(Exception, match=r"CHECK|constraint"):
        again.insert_job(
            job_id="bad",
            order_id="b",
            customer=None,
            product="x",
            quantity=0,
            hot_folder=None,
            attributes={},
            manifest_name="m",
            process_after=None,
            stage=Stage.PROCESS,
            folder="work/bad",
            awaiting_until=None,
            now=T0,
        )
    assert again.get_job("bad") is None


def test_readonly_open_of_a_missing_ledger_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="no ledger"):
        Ledger(tmp_path / "missing.sqlite3", readonly=True)


def test_due_jobs_by_time(ledger: Ledger) -> None:
    add(ledger, "1-1", Stage.RETRY)
    ledger.update_job("1-1", T0, next_attempt_at="2026-11-22T10:00:10.000Z")
    assert ledger.due_jobs(T0) == []
    assert ledger.due_jobs(T0 + timedelta(seconds=10)) == [("1-1", Stage.RETRY)]
    assert ledger.next_due() == "2026-11-22T10:00:10.000Z"


def test_last_changed_is_the_jobs_changed_just_before_the_latest_change(ledger: Ledger) -> None:
    """What reconcile rewrites STATUS.txt for: the jobs a crash may have caught between two
    flushes, measured from the ledger's own last change, however long the daemon was down."""
    assert ledger.last_changed(timedelta(seconds=10)) == []
    for job_id in ("A-1", "B-1", "C-1"):
        add(ledger, job_id)
    ledger.update_job("A-1", T0 + timedelta(hours=1), stage=Stage.DONE)
    ledger.update_job("B-1", T0 + timedelta(hours=1, seconds=55), stage=Stage.DONE)
    ledger.update_job("C-1", T0 + timedelta(hours=1, minutes=1), stage=Stage.DONE)
    assert sorted(ledger.last_changed(timedelta(seconds=10))) == ["B-1", "C-1"]


def test_a_listing_comes_page_by_page_in_order(ledger: Ledger) -> None:
    """`jobs` reads the ledger a page at a time (100,000 jobs held at once took 600 MB): every job
    comes once, oldest first, with the filters applied, whatever the page size."""
    for n in range(7):
        add(ledger, f"{n}-1")
        if n % 2:
            ledger.add_status(f"{n}-1", JobStatus.Blocked, "system", "", T0)
    everything = [j.job_id for j in ledger.iter_jobs()]
    assert everything == [f"{n}-1" for n in range(7)]
    for page in (1, 2, 3, 7, 8):
        assert [j.job_id for j in ledger.iter_jobs(page=page)] == everything
        assert [j.job_id for j in ledger.iter_jobs(blocked=True, page=page)] == ["1-1", "3-1", "5-1"]
        assert [len(j.history) for j in ledger.iter_jobs(blocked=True, with_history=True, page=page)] == [2, 2, 2]


def test_jobs_taken_together_list_in_the_order_they_were_recorded(ledger: Ledger) -> None:
    """An order's jobs share one intake time: they list in the manifest's order (100234-2 before
    100234-10), not sorted as text."""
    for n in (1, 2, 10, 11, 3):
        add(ledger, f"100234-{n}")
    assert [j.job_id for j in ledger.iter_jobs(page=2)] == [f"100234-{n}" for n in (1, 2, 10, 11, 3)]


def test_a_failed_jobs_status_file_points_to_the_fix_in_its_error_file(ledger: Ledger) -> None:
    """Audit AA: STATUS.txt offered RETRY "as it is" where ERROR.txt said a corrected PDF is needed
    (an empty file, a wrong sha256): the two now say the same, ERROR.txt's fix first."""
    add(ledger, "1-1", Stage.FAILED)
    ledger.add_status("1-1", JobStatus.ValidationFailed, "system", "empty", T0)
    ledger.update_job("1-1", T0, error="artwork 'x.pdf' is an empty file (0 bytes)")
    job = ledger.get_job("1-1")
    assert job is not None
    text = " ".join(status_text(job, Extra()).split("What you can do now:")[1].split())
    assert text.startswith("Read ERROR.txt: artwork 'x.pdf' is an empty file (0 bytes)")
    assert 'Do what ERROR.txt says under "How to fix it".' in text
    assert "a file named RETRY here, once the cause is fixed (RETRY checks the files as they are" in text
    assert "not for a bad PDF" in text


class _CommitFails:
    """A connection whose COMMIT fails once, as SQLite's does on a full disk (SQLITE_FULL), the
    transaction left open."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self.armed = True

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT" and self.armed:
            self.armed = False
            raise sqlite3.OperationalError("database or disk is full")
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def test_a_failed_commit_leaves_no_trace_in_the_daemons_view(ledger: Ledger, tmp_path: Path) -> None:
    """Audit AB: a full spool disk failed a COMMIT; the daemon's cached view kept the job it had
    just written, and took the manifest sent again as an existing job's: the order vanished (no
    job in the ledger, its manifest gone from the inbox)."""
    ledger._db = _CommitFails(ledger._db)  # type: ignore[assignment]
    with pytest.raises(sqlite3.OperationalError), ledger.transaction(durable=True):
        add(ledger, "1-1")
        assert ledger.get_job("1-1", history=False) is not None
    assert ledger.get_job("1-1", history=False) is None
    assert Ledger(tmp_path / "state" / "ledger.sqlite3", readonly=True).get_job("1-1") is None
    add(ledger, "1-1")  # the next transaction starts (none is left open) and records the job
    assert ledger.get_job("1-1") is not None
    assert Ledger(tmp_path / "state" / "ledger.sqlite3", readonly=True).get_job("1-1") is not None


def test_after_commit_runs_once_committed_and_never_after_a_rollback(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    said: list[str] = []
    ledger.after_commit(lambda: said.append("no transaction: at once"))
    assert said == ["no transaction: at once"]
    with ledger.transaction():
        ledger.after_commit(lambda: said.append("outer"))
        with ledger.transaction():
            ledger.after_commit(lambda: said.append("nested"))
        assert said == ["no transaction: at once"]  # the nested one joined the outer: not committed yet
    assert said == ["no transaction: at once", "outer", "nested"]
    with pytest.raises(RuntimeError), ledger.transaction():
        ledger.after_commit(lambda: said.append("rolled back"))
        raise RuntimeError("a step failed")
    with ledger.transaction():
        pass
    assert said == ["no transaction: at once", "outer", "nested"]


def test_a_new_ledger_gets_the_mode_the_umask_gives_and_its_wal_files_too(tmp_path: Path) -> None:
    """SQLite alone makes a new database 0644, whatever the umask, and its -wal/-shm files copy
    that: operators in the daemon's group could not run `release` (audit BR 2). The unit's
    UMask=0002 must give 0664."""
    import os
    import stat

    old = os.umask(0o002)
    try:
        ledger = Ledger(tmp_path / "ledger.sqlite3")
        with ledger.transaction():
            ledger._db.execute("UPDATE meta SET value = value")
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        ledger.close()
    finally:
        os.umask(old)
    assert modes["ledger.sqlite3"] == 0o664 and modes["ledger.sqlite3-wal"] == 0o664, modes


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root may give a file away")
def test_a_ledger_made_by_root_in_the_service_users_folder_belongs_to_that_user(tmp_path: Path) -> None:
    """`init` (or an operator command) run as root made a root-owned ledger the service then could
    not open, with no word why (audit BR 3): it now belongs to the owner of its folder."""
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, 12345, 12346)
    ledger = Ledger(state / "ledger.sqlite3")
    with ledger.transaction():
        ledger._db.execute("UPDATE meta SET value = value")
    owners = {p.name: (p.stat().st_uid, p.stat().st_gid) for p in state.iterdir()}
    ledger.close()
    assert set(owners.values()) == {(12345, 12346)}, owners


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root may give a file away")
def test_the_instance_lock_made_by_root_in_the_service_users_folder_belongs_to_that_user(tmp_path: Path) -> None:
    """Audit BH 3: an operator command run as root (no daemon running, no lock file yet) made
    state/daemon.lock root's, mode 0644: the service then refused to start ("cannot open the
    instance lock ...: Permission denied", no word whose it was). It belongs to the owner of its
    folder, group-writable as the folder is, as the ledger does."""
    from spo_hotfolder.config import load_config
    from spo_hotfolder.service import InstanceLock, prepare_folders
    from tests.daemon import write_config

    config = load_config(write_config(tmp_path))
    prepare_folders(config)
    state = config.paths.state
    os.chown(state, 12345, 12346)
    state.chmod(0o2775)
    old = os.umask(0o022)  # (root's, not the unit's)
    try:
        lock = InstanceLock(config)
        assert lock.acquire()
        lock.release()
    finally:
        os.umask(old)
    st = (state / "daemon.lock").stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (12345, 12346, 0o664)


def test_a_ledger_this_user_may_not_write_is_refused_saying_whose_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import spo_hotfolder.ledger as ledger_module

    path = tmp_path / "ledger.sqlite3"
    Ledger(path).close()
    path.chmod(0o444)
    for name in ("ledger.sqlite3-wal", "ledger.sqlite3-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    me = path.stat().st_uid
    monkeypatch.setattr(ledger_module.os, "access", lambda p, mode: False)  # as a user other than root sees it
    names = {me: "spo-hotfolder", me + 1: "root"}
    monkeypatch.setattr(ledger_module, "user_name", lambda uid: names.get(uid, f"uid {uid}"))
    said = ledger_module.not_writable_why(path)
    assert said == (
        " (the file belongs to spo-hotfolder, mode 444, and this user, spo-hotfolder, may not write it: to let "
        f"its group write it too: chmod g+w {path}*)"
    )
    # A user outside the file's group: chmod g+w alone would not let it write (audit D).
    monkeypatch.setattr(ledger_module.os, "getegid", lambda: 4242)
    monkeypatch.setattr(ledger_module.os, "getgroups", lambda: [4242])
    monkeypatch.setattr(ledger_module, "group_name", lambda gid: "spo-hotfolder")
    monkeypatch.setattr(ledger_module.os, "stat", _stat_owned_by(path, me, gid=12346))  # (not group root)
    said = ledger_module.not_writable_why(path)
    assert said.endswith(
        f": to let its group write it too: chmod g+w {path}*; and put this user into its group spo-hotfolder: "
        "usermod -aG spo-hotfolder spo-hotfolder, then log in again)"
    )
    path.chmod(0o664)  # group-writable already: only the group is missing
    said = ledger_module.not_writable_why(path)
    assert said.endswith(
        ": to let its group write it too: put this user into its group spo-hotfolder: usermod -aG spo-hotfolder "
        "spo-hotfolder, then log in again)"
    )
    monkeypatch.undo()
    monkeypatch.setattr(ledger_module.os, "access", lambda p, mode: False)
    monkeypatch.setattr(ledger_module, "user_name", lambda uid: names.get(uid, f"uid {uid}"))
    path.chmod(0o444)
    monkeypatch.setattr(ledger_module.os, "stat", _stat_owned_by(path, me + 1))  # made by a command run as root
    said = ledger_module.not_writable_why(path)
    assert said.startswith(" (the file belongs to root, mode 444, and this user, spo-hotfolder, may not write it")
    assert said.endswith(f": give it to the owner of its folder: chown spo-hotfolder: {path}*)")


def test_a_ledger_of_group_root_is_not_answered_with_joining_group_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ledger made by root in a root-owned state/ folder, opened by another user: the advice was
    "put this user into its group root: usermod -aG root nobody" (a group that may write much of the
    system). It names the owner to run the command as instead."""
    import spo_hotfolder.ledger as ledger_module

    path = tmp_path / "ledger.sqlite3"
    Ledger(path).close()
    path.chmod(0o644)
    me = path.stat().st_uid
    monkeypatch.setattr(ledger_module.os, "access", lambda p, mode: False)  # as the other user sees it
    monkeypatch.setattr(ledger_module.os, "getegid", lambda: 65534)
    monkeypatch.setattr(ledger_module.os, "getgroups", lambda: [65534])
    names = {me: "root", ledger_module.os.geteuid(): "root"}
    monkeypatch.setattr(ledger_module, "user_name", lambda uid: names.get(uid, "nobody"))
    monkeypatch.setattr(ledger_module.os, "stat", _stat_owned_by(path, me, gid=0))
    said = ledger_module.not_writable_why(path)
    assert "usermod" not in said and "chmod" not in said
    assert said.endswith(": run the command as root, who owns it)")
    # A group other than root: joining it is still the advice.
    monkeypatch.setattr(ledger_module.os, "stat", _stat_owned_by(path, me, gid=4242))
    monkeypatch.setattr(ledger_module, "group_name", lambda gid: "spool")
    assert "usermod -aG spool" in ledger_module.not_writable_why(path)


def _stat_owned_by(path: Path, uid: int, gid: int | None = None) -> Any:
    import os as real_os

    real = real_os.stat

    def fake(p: Any, *args: Any, **kwargs: Any) -> Any:
        st = real(p, *args, **kwargs)
        if Path(p) == path:
            values = list(st)
            values[4] = uid  # st_uid
            if gid is not None:
                values[5] = gid  # st_gid
            return real_os.stat_result(values)
        return st

    return fake


def test_artwork_awaited_under_a_name_a_person_calls_the_same_is_found_by_one_index_lookup(ledger: Ledger) -> None:
    """Letter case and Unicode form set aside, direct children of the folder only, awaiting or
    failed jobs only, none once taken; by the index (a backlog of 10,000 jobs at start asked this
    for every file and read every awaited row each time: 0.8 jobs/s, bench scenario 8)."""
    import unicodedata

    nfc = "caf\u00e9.pdf"
    add(ledger, "A-1", Stage.AWAITING)
    add(ledger, "B-1", Stage.FAILED)
    add(ledger, "C-1", Stage.AWAITING)
    add(ledger, "D-1", Stage.HELD)
    ledger.set_artwork("A-1", [Artwork(1, "Card.pdf", "/in/Card.pdf", None, False)])
    ledger.set_artwork("B-1", [Artwork(1, nfc, f"/in/{nfc}", None, False)])
    ledger.set_artwork("C-1", [Artwork(1, "card.pdf", "/in/sub/card.pdf", None, False)])
    ledger.set_artwork("D-1", [Artwork(1, "CARD.pdf", "/in/CARD.pdf", None, False)])
    assert ledger.waiting_as("/in", "CARD.PDF") == [("A-1", 1, "/in/Card.pdf")]
    assert ledger.waiting_as("/in/", "card.pdf") == [("A-1", 1, "/in/Card.pdf")]
    assert ledger.waiting_as("/in", unicodedata.normalize("NFD", "CAF\u00c9.pdf")) == [("B-1", 1, f"/in/{nfc}")]
    assert ledger.waiting_as("/in/sub", "CARD.pdf") == [("C-1", 1, "/in/sub/card.pdf")]
    assert ledger.waiting_as("/in", "cards.pdf") == []
    ledger.mark_artwork_present("A-1", 1)
    assert ledger.waiting_as("/in", "card.pdf") == []
    statements: list[str] = []
    ledger._db.set_trace_callback(statements.append)
    ledger.waiting_as("/in", "card.pdf")
    ledger._db.set_trace_callback(None)
    (query,) = statements
    plan = " ".join(str(row[-1]) for row in ledger._db.execute(f"EXPLAIN QUERY PLAN {query}"))
    assert "SEARCH a USING INDEX artwork_source_key (source_key=?)" in plan, plan


def test_the_look_for_files_awaited_in_a_folder_goes_by_the_source_index(ledger: Ledger) -> None:
    """Audit BX 2: awaits_under (asked for each order folder a manifest came in, as files are taken)
    went through every awaiting job and each of its files: with 500 orders of 20 files waiting,
    deliveries stopped for minutes. It and move_awaited search the artwork by its source."""
    for n in range(30):
        add(ledger, f"W{n}-1", Stage.AWAITING)
        ledger.set_artwork(f"W{n}-1", [Artwork(k, f"{k}.pdf", f"/in/W{n}/{k}.pdf", None, False) for k in range(3)])
    assert ledger.awaits_under("/in/W7") and not ledger.awaits_under("/in/W")
    assert ledger.move_awaited("/in/W8", "/in/W8-renamed") == ["W8-1"]
    assert ledger.awaits_under("/in/W8-renamed") and not ledger.awaits_under("/in/W8")
    statements: list[str] = []
    ledger._db.set_trace_callback(statements.append)
    ledger.awaits_under("/in/W7")
    ledger.move_awaited("/in/W9", "/in/W9b")
    ledger._db.set_trace_callback(None)
    queries = [q for q in statements if q.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 2, statements
    for query in queries:
        plan = [str(row[-1]) for row in ledger._db.execute(f"EXPLAIN QUERY PLAN {query}")]
        assert plan[0].startswith("SEARCH a USING INDEX artwork_source (source>? AND source<?)"), plan


def test_a_ledger_made_before_the_temp_folders_gets_the_column_and_keeps_its_deliveries(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ledger.sqlite3"
    old = Ledger(path)
    add(old, "A-1", Stage.DELIVER)
    written = old.delivery_intent("A-1", 1, "indigo", "/hot/a.pdf", "/hot/.a.pdf.part", T0)
    old.delivery_state(written, "written", T0)
    old.close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE deliveries DROP COLUMN temp_folder")  # as the ledger was made before
    db.close()
    command = Ledger(path, readonly=True)  # (a command, before the new daemon has opened it)
    assert [(d.id, d.temp_folder) for d in command.open_deliveries()] == [(written, None)]
    command.close()
    ledger = Ledger(path)
    assert [(d.id, d.state, d.temp_folder) for d in ledger.open_deliveries()] == [(written, "written", None)]
    again = ledger.delivery_intent("A-1", 1, "indigo", "/hot/a.pdf", "/hot/.a.pdf.part", T0)
    ledger.delivery_state(again, "written", T0, temp_folder="2049:77")
    ledger.delivery_state(again, "ticket", T0)  # (kept: not given)
    undecided = ledger.undecided_delivery("A-1")
    assert undecided is not None and (undecided.id, undecided.temp_folder) == (again, "2049:77")


def test_a_removal_keeps_the_newest_entry_before_it_and_an_older_ledger_gets_the_column(tmp_path: Path) -> None:
    """Which entries came before a release is told by their order (audit DH 5), in a ledger made
    before it kept that too: its removals say None, a command reading it changes nothing."""
    path = tmp_path / "state" / "ledger.sqlite3"
    old = Ledger(path)
    add(old, "A-1", Stage.HELD)
    blocked = old.add_status("A-1", JobStatus.Blocked, "system", "size", T0)
    made = old.add_status("A-1", JobStatus.OutputCreated, "system", "", T0)
    old.close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE history DROP COLUMN removed_after")  # as the ledger was made before
    db.close()
    command = Ledger(path, readonly=True)  # (a command, before the new daemon has opened it)
    job = command.get_job("A-1")
    assert job is not None and [e.removed_after for e in job.history] == [None] * len(job.history)
    command.close()
    ledger = Ledger(path)
    ledger.remove_status(blocked, "A-1", "alice", "", T0 - timedelta(hours=2))  # (a clock stepped back)
    later = ledger.add_status("A-1", JobStatus.InHotFolder, "system", "", T0)
    job = ledger.get_job("A-1")
    assert job is not None
    release = next(e for e in job.history if e.id == blocked)
    assert (release.removed_at, release.removed_after) == ("2026-11-22T08:00:00.000Z", made) and later > made
    assert [e.removed_after for e in job.history if e.id != blocked] == [None] * (len(job.history) - 1)


def test_a_ledger_made_before_the_name_keys_gets_them_for_the_artwork_still_awaited(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ledger.sqlite3"
    old = Ledger(path)
    add(old, "A-1", Stage.AWAITING)
    add(old, "B-1", Stage.AWAITING)
    old.set_artwork("A-1", [Artwork(1, "Card.pdf", "/in/Card.pdf", None, False)])
    old.set_artwork("B-1", [Artwork(1, "b.pdf", None, None, True)])
    old.close()
    db = sqlite3.connect(path)
    db.executescript(
        "DROP INDEX artwork_source_key; ALTER TABLE artwork DROP COLUMN source_key;"
    )  # as the ledger was made before
    db.close()
    ledger = Ledger(path)
    assert ledger.waiting_as("/in", "CARD.pdf") == [("A-1", 1, "/in/Card.pdf")]
    keys = [row[0] for row in ledger._db.execute("SELECT source_key FROM artwork ORDER BY job_id")]
    assert keys == ["card.pdf", None]
    ledger.close()
    assert Ledger(path).waiting_as("/in", "card.PDF") == [("A-1", 1, "/in/Card.pdf")]  # opened again: as it is
    db = sqlite3.connect(path)  # a row as a daemon from before the column writes it, into this ledger
    db.execute(
        "INSERT INTO artwork (job_id, position, name, source, present) VALUES ('B-1', 2, 'c.pdf', '/in/c.pdf', 0)"
    )
    db.commit()
    db.close()
    assert Ledger(path).waiting_as("/in", "C.pdf") == [("B-1", 2, "/in/c.pdf")]


def test_artwork_awaited_in_a_renamed_folder_is_awaited_at_its_new_path(ledger: Ledger) -> None:
    """Audit E 3: the files below the renamed folder only (not a folder whose name begins alike),
    not yet arrived, of awaiting or failed jobs; the awaited name's index key kept."""
    add(ledger, "A-1", Stage.AWAITING)
    add(ledger, "B-1", Stage.AWAITING)
    add(ledger, "C-1", Stage.HELD)
    ledger.set_artwork(
        "A-1",
        [
            Artwork(1, "front.pdf", "/in/New folder/front.pdf", None, False),
            Artwork(2, "back.pdf", "/in/New folder/art/back.pdf", None, False),
            Artwork(3, "cover.pdf", None, None, True),
        ],
    )
    ledger.set_artwork("B-1", [Artwork(1, "x.pdf", "/in/New folder 2/x.pdf", None, False)])
    ledger.set_artwork("C-1", [Artwork(1, "y.pdf", "/in/New folder/y.pdf", None, False)])
    assert ledger.move_awaited("/in/New folder", "/in/order 7") == ["A-1"]
    assert [a.source for a in ledger.artwork("A-1")] == ["/in/order 7/front.pdf", "/in/order 7/art/back.pdf", None]
    assert [a.source for a in ledger.artwork("B-1")] == ["/in/New folder 2/x.pdf"]
    assert [a.source for a in ledger.artwork("C-1")] == ["/in/New folder/y.pdf"]
    assert ledger.waiting_as("/in/order 7", "FRONT.pdf") == [("A-1", 1, "/in/order 7/front.pdf")]
    assert ledger.move_awaited("/in/elsewhere", "/in/other") == []


def test_a_ledger_that_cannot_be_opened_on_a_full_disk_says_the_disk_is_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit (2026-12-03, robustness 4): started on a full spool disk, the daemon refused with
    "cannot open the ledger ...: disk I/O error" (SQLite could not make its -wal file): the
    sysadmin was not told the disk was full. (The open is made to fail here as it failed then;
    the free space is the one the check reads.)"""
    path = tmp_path / "ledger.sqlite3"

    def cannot_open(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(sqlite3, "connect", cannot_open)
    with pytest.raises(LedgerError) as plenty:
        Ledger(path)
    assert "full" not in str(plenty.value)
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda _p: shutil._ntuple_diskusage(10 << 30, 10 << 30, 16384))  # type: ignore[attr-defined]
    with pytest.raises(LedgerError) as full:
        Ledger(path)
    assert str(full.value).startswith(f"cannot open the ledger {path}: ")
    assert str(full.value).endswith(
        f" (the disk holding {tmp_path} is full: 16 KiB free; free some space there, then start the daemon again)"
    )


def test_a_spool_on_a_filesystem_without_shared_memory_for_sqlite_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review GT 2: the whole root on FAT through FUSE: SQLite's write-ahead log needs shared memory
    that filesystem does not give, and the daemon said only "cannot open the ledger ...: disk I/O
    error". It says why, and what to do."""
    path = tmp_path / "ledger.sqlite3"
    real = sqlite3.connect

    class NoSharedMemory:
        def __init__(self, db: sqlite3.Connection) -> None:
            self._db = db

        def execute(self, sql: str, *args: Any) -> Any:
            if sql == "PRAGMA journal_mode=WAL":
                raise sqlite3.OperationalError("disk I/O error")
            return self._db.execute(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._db, name)

    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: NoSharedMemory(real(*a, **k)))
    with pytest.raises(LedgerError) as refused:
        Ledger(path)
    assert str(refused.value) == (
        f"cannot open the ledger {path}: disk I/O error: the filesystem of {tmp_path} does not give SQLite's "
        "write-ahead log the shared memory it needs (a FAT or other disk through FUSE, some network shares): put "
        "paths.root on a local disk (ext4, xfs, btrfs)"
    )


def test_an_operator_command_does_not_make_an_emptied_ledger_into_a_new_one(tmp_path: Path) -> None:
    """(audit, sysadmin F1) `retry` on a 0-byte ledger set up a new, empty one: it answered "no
    job", and `jobs` then said "no jobs" beside the job folders; the damage it should report was
    gone. Only `init` and the daemon make a ledger (create=True, the default)."""
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(b"")
    with pytest.raises(LedgerError, match=r"holds no ledger \(it is empty, or another database\); nothing was changed"):
        Ledger(path, create=False)
    assert path.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.sqlite3"]
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(LedgerError, match="holds no ledger"):
        Ledger(other, create=False)
    Ledger(path).close()  # (the daemon's, init's)
    Ledger(path, create=False).close()


def test_a_ledger_that_is_a_folder_is_said_so(tmp_path: Path) -> None:
    """(audit, sysadmin F7: SQLite said "disk I/O error" or "unable to open database file")"""
    path = tmp_path / "ledger.sqlite3"
    path.mkdir()
    for kwargs in ({"readonly": True}, {"create": False}, {}):
        with pytest.raises(LedgerError, match=r"ledger.sqlite3 is a folder, not a file: move it away"):
            Ledger(path, **kwargs)


def test_a_ledger_on_a_read_only_mount_is_said_so_not_given_chmod_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(audit, sysadmin F2: "to let its group write it too: chmod g+w", which cannot help)"""
    from spo_hotfolder import ledger as ledger_module

    path = tmp_path / "ledger.sqlite3"
    Ledger(path).close()
    flags = os.statvfs(tmp_path).f_flag | os.ST_RDONLY

    class ReadOnly:
        f_flag = flags

    monkeypatch.setattr(os, "access", lambda *a, **k: False)  # (this user may not write it)
    assert "may not write it" in ledger_module.not_writable_why(path)
    monkeypatch.setattr(os, "statvfs", lambda p: ReadOnly())
    assert ledger_module.not_writable_why(path) == (
        " (the filesystem it is on is mounted read-only: mount it read-write; check the mount)"
    )


def test_what_a_rolled_back_transaction_did_on_disk_is_undone_and_a_committed_ones_is_not(tmp_path: Path) -> None:
    """Audit U: a job's folder moved in a transaction whose commit failed (a full disk) stayed
    moved; ``on_rollback`` undoes it, newest first, and only for the transaction it was given in."""
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    undone: list[str] = []
    with pytest.raises(RuntimeError), ledger.transaction():
        ledger.on_rollback(lambda: undone.append("first"))
        with ledger.transaction():  # (a nested one joins the outer)
            ledger.on_rollback(lambda: undone.append("second"))
        raise RuntimeError("the commit would fail")
    assert undone == ["second", "first"]
    with ledger.transaction():
        ledger.on_rollback(lambda: undone.append("committed"))
    ledger.on_rollback(lambda: undone.append("outside"))  # no transaction: nothing to undo
    with pytest.raises(RuntimeError), ledger.transaction():
        raise RuntimeError("nothing registered in this one")
    assert undone == ["second", "first"]
    ledger.close()


@pytest.mark.parametrize(
    "content", [b"this is no database, only text\n" * 200, b"SQLite format 3\x00" + b"\xff" * 4080]
)
def test_a_damaged_ledger_is_refused_saying_what_to_do(tmp_path: Path, content: bytes) -> None:
    """Audit (2026-12-05 Y R3): the daemon refused to start on a damaged ledger with SQLite's bare
    "file is not a database"; `jobs` said what to do. Both say it now."""
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(content)
    with pytest.raises(LedgerError) as refused:
        Ledger(path)
    assert str(refused.value).startswith(f"cannot open the ledger {path}: ")
    assert str(refused.value).endswith(
        "; it is damaged, or not a ledger: put back a copy from a backup (remove its -wal and -shm files first: "
        "docs/service.md, Backups and restores)"
    )
    assert path.read_bytes() == content, "never replaced"


def test_a_ledger_with_the_immutable_flag_is_said_so_not_given_chmod_advice(tmp_path: Path) -> None:
    """Audit BR: a ledger made immutable (chattr +i, by a backup tool or by hand) was refused with
    "mode 644 ... may not write it" and chmod advice, which no mode can mend."""
    import shutil
    import subprocess

    path = tmp_path / "ledger.sqlite3"
    Ledger(path).close()
    for name in os.listdir(tmp_path):  # (the WAL's files, left by the close, go first)
        if name != path.name:
            os.unlink(tmp_path / name)
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("chattr +i is not possible here (needs root and a filesystem with the flag)")
    try:
        with pytest.raises(LedgerError) as refused:
            Ledger(path)
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    said = str(refused.value)
    assert "immutable or append-only flag" in said and f"chattr -i -a {path}" in said, said
    assert "chmod" not in said


def test_another_program_s_database_at_the_ledger_s_path_is_refused_not_made_a_ledger(tmp_path: Path) -> None:
    """Audit DE 3: the daemon opens its ledger making what is missing; another SQLite database put
    back at its path (a wrong file restored) had the ledger's tables added beside its own, and the
    daemon went on as with a new ledger without saying so."""
    import sqlite3

    path = tmp_path / "ledger.sqlite3"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    other.commit()
    other.close()
    with pytest.raises(LedgerError, match=r"holds another database \(its tables: orders\), not a ledger"):
        Ledger(path)
    names = {row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert names == {"orders"}
    partial = tmp_path / "partial.sqlite3"  # (a ledger whose first making a crash cut short)
    made = sqlite3.connect(partial)
    made.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    made.commit()
    made.close()
    Ledger(partial).close()


def test_a_listing_paused_between_pages_holds_no_read_of_the_ledger(ledger: Ledger) -> None:
    """Review ES 2: `jobs --json` read its pages from one open statement: a listing paused in a
    pager held a read of the ledger, no checkpoint could restart the WAL, and it grew by ~165 KB a
    job until the daemon stopped. Each page is a query of its own now, and the WAL is cut back."""
    for n in range(5):
        add(ledger, f"{n}-1")
    reader = Ledger(ledger.path, readonly=True)
    try:
        listing = reader.iter_jobs(page=2)
        assert [next(listing).job_id, next(listing).job_id] == ["0-1", "1-1"]  # paused after a page
        for n in range(5, 40):
            add(ledger, f"{n}-1")
        busy, _log, _done = ledger._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0 and ledger.path.with_name(ledger.path.name + "-wal").stat().st_size == 0
        assert [job.job_id for job in listing][:3] == ["2-1", "3-1", "4-1"]
    finally:
        reader.close()
    assert ledger._db.execute("PRAGMA journal_size_limit").fetchone()[0] == 64 * 1024 * 1024


def test_the_ledger_deleted_or_replaced_under_the_daemon_is_said(ledger: Ledger, tmp_path: Path) -> None:
    """Review ES 1: deleted while the daemon runs, it recorded into the file nothing reads."""
    assert ledger.replaced_why() is None
    ledger.path.unlink()
    assert "was deleted while the daemon runs" in (ledger.replaced_why() or "")
    ledger.path.write_bytes(b"")
    assert "was replaced by another file" in (ledger.replaced_why() or "")


def test_a_ledger_of_a_newer_program_is_not_used(ledger: Ledger) -> None:
    """Review ES 4: the schema version was written, never read."""
    ledger._db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    ledger.close()
    with pytest.raises(LedgerError, match=r"made by a newer spo-hotfolder \(its schema 99, this one knows 1\)"):
        Ledger(ledger.path)


def test_a_ledger_written_while_read_as_it_was_is_said_so(tmp_path: Path) -> None:
    """Review ES 3: read as it was (no daemon had it open: no -wal file), a ledger a daemon started
    meanwhile wrote into failed the read as "malformed", and the CLI told the operator to put back
    a backup of a ledger that was fine: it says it changed while read."""
    from spo_hotfolder import ledger as ledger_module

    path = tmp_path / "state" / "ledger.sqlite3"
    writer = Ledger(path)
    add(writer, "1-1")
    writer.close()
    ledger_module._read_as_it_was.clear()
    reader = Ledger(path, readonly=True)
    try:
        assert not ledger_module.changed_while_read()
        writer = Ledger(path)  # a daemon starts
        add(writer, "2-1")
        assert ledger_module.changed_while_read()
        writer.close()
    finally:
        reader.close()
        ledger_module._read_as_it_was.clear()
