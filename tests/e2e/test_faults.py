"""End-to-end fault injection on the real daemon: a full hot folder disk, a hot folder that goes
away or becomes a file, a locked ledger, SIGTERM and SIGKILL in the middle of a big copy, corrupt
PDFs, future orders and retention across restarts."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.daemon import Daemon, drop, statuses, wait_for
from tests.e2e.killing import TreeDaemon
from tests.pdfs import make_big_pdf, make_pdf

pytestmark = pytest.mark.e2e

CARD = [(91.0, 61.0), (91.0, 61.0)]


def order(daemon: Daemon, order_id: str, product: str = "bc-85x55", extra: str = "", pdf: Path | None = None) -> str:
    art = daemon.inbox / f"{order_id}.pdf"
    if pdf is None:
        make_pdf(art, pages=CARD)
    else:
        shutil.copyfile(pdf, art)
    drop(
        daemon.inbox / f"{order_id}.yaml",
        f'order_id: "{order_id}"\nproduct: {product}\nquantity: 1\nartwork: ["{order_id}.pdf"]\n{extra}',
    )
    return f"{order_id}-1"


def final_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_full_hot_folder_disk_fails_with_reason_retries_and_other_jobs_go_on(start, tmp_path: Path) -> None:
    hot = tmp_path / "hot" / "indigo"
    with small_tmpfs(hot, "256k"):
        daemon = start(delivery={"max_attempts": 5, "backoff_seconds": [1]})
        big = make_big_pdf(tmp_path / "big.pdf", pages=1, bytes_per_page=600_000, size_mm=(91, 61))
        job_id = order(daemon, "FULL1", product="card-big", extra="hot_folder: indigo\n", pdf=big)
        job = daemon.wait_status(job_id, "CopyToHotFolderFailed")
        detail = job["history"][-1]["detail"]
        assert detail.startswith("attempt 1 of 5") and "is full" in detail, detail
        assert final_files(hot) == [] and temp_files(hot) == [], "no partial file, under any name"
        # Another job to another hot folder is delivered meanwhile.
        make_pdf(daemon.inbox / "poster.pdf", pages=[(500, 700)])
        drop(daemon.inbox / "poster.yaml", 'order_id: "P1"\nproduct: poster-a1\nquantity: 1\nartwork: [poster.pdf]\n')
        daemon.wait_status("P1-1", "InHotFolder")
        # Space is freed: the next attempt goes through.
        subprocess.run(["mount", "-o", "remount,size=4m", str(hot)], check=True)
        daemon.wait_status(job_id, "InHotFolder", timeout=20)
        delivered = hot / "FULL1_FULL1-1_card-big_x1.pdf"
        assert hashlib.sha256(delivered.read_bytes()).digest() == hashlib.sha256(big.read_bytes()).digest()
        assert temp_files(hot) == []
        assert daemon.stop() == 0


def test_hot_folder_gone_during_deliveries_retries_and_is_never_created(start, tmp_path: Path) -> None:
    hot = tmp_path / "hot" / "indigo"
    daemon = start(delivery={"max_attempts": 10, "backoff_seconds": [0.5]})
    hot.rename(tmp_path / "unmounted")
    job_id = order(daemon, "GONE1")
    job = daemon.wait_status(job_id, "CopyToHotFolderFailed")
    assert "does not exist" in job["history"][-1]["detail"]
    time.sleep(1.5)
    assert not hot.exists(), "the daemon must never create a missing hot folder"
    (tmp_path / "unmounted").rename(hot)
    daemon.wait_status(job_id, "InHotFolder")
    assert final_files(hot) == ["GONE1_GONE1-1_bc-85x55_x1.pdf"]


def test_a_hot_folder_missing_at_start_is_said_at_start(start, tmp_path: Path) -> None:
    """Audit P: a sysadmin learnt of a mistyped or unmounted hot folder only at the first delivery."""
    hot = tmp_path / "hot" / "indigo"
    daemon = start()
    assert daemon.stop() == 0
    hot.rename(tmp_path / "unmounted")
    daemon.start()
    wait_for(lambda: "hot_folder.unavailable" in daemon.log_text(), what="the warning at start")
    [line] = [json.loads(x) for x in daemon.log_text().splitlines() if "hot_folder.unavailable" in x]
    assert (line["hot_folder"], line["path"], line["level"]) == ("indigo", str(hot), "warning")
    assert "never creates it" in line["reason"] and not hot.exists()


def test_a_spool_whose_disk_goes_is_not_made_again_and_nothing_is_taken_until_it_is_back(start, tmp_path: Path) -> None:
    """Review FR 1: the spool's disk unmounted under the running daemon (the mount point's empty
    folder in its place): its folders were made again there within a heartbeat, an order put into
    that inbox/ was taken and printed, and its job folder was hidden under the mount point once the
    disk came back (the ledger naming a folder the operator never sees). Now nothing is made,
    taken or delivered until the spool is back; then the daemon goes on by itself."""
    hot = tmp_path / "hot" / "indigo"
    daemon = start()
    spool, away = daemon.root, tmp_path / "disk"
    spool.rename(away)
    spool.mkdir()  # (the mount point, empty)
    wait_for(lambda: "spool.gone" in daemon.log_text(), what="the spool said gone")
    time.sleep(6)  # (a heartbeat at least: it made the watched folders again)
    assert os.listdir(spool) == []
    (spool / "inbox").mkdir()  # a client that makes the folder it uploads into
    make_pdf(spool / "inbox" / "LOST.pdf", pages=CARD)
    drop(spool / "inbox" / "LOST.yaml", 'order_id: "LOST"\nproduct: bc-85x55\nquantity: 1\nartwork: [LOST.pdf]\n')
    make_pdf(away / "inbox" / "BACK.pdf", pages=CARD)
    drop(away / "inbox" / "BACK.yaml", 'order_id: "BACK"\nproduct: bc-85x55\nquantity: 1\nartwork: [BACK.pdf]\n')
    time.sleep(2)
    assert sorted(os.listdir(spool)) == ["inbox"] and sorted(os.listdir(spool / "inbox")) == ["LOST.pdf", "LOST.yaml"]
    assert final_files(hot) == []
    [gone] = [e for e in daemon.log_events() if e.get("event") == "spool.gone"]
    assert gone["level"] == "error" and "mount its disk again" in gone["reason"], gone
    shutil.rmtree(spool)
    away.rename(spool)  # (the disk mounted again)
    daemon.wait_status("BACK-1", "InHotFolder")
    assert final_files(hot) == ["BACK_BACK-1_bc-85x55_x1.pdf"]
    assert "spool.back" in daemon.log_text()


def test_hot_folder_replaced_by_a_file_fails_at_once_and_retry_works(start, tmp_path: Path) -> None:
    hot = tmp_path / "hot" / "indigo"
    daemon = start()
    hot.rmdir()
    hot.write_text("oops")
    job_id = order(daemon, "FILE1")
    error = daemon.root / "failed" / job_id / "ERROR.txt"
    wait_for(error.is_file, what="failed/ at the first attempt")
    assert "is a file, not a folder" in error.read_text()
    # (the folder, with ERROR.txt, moves into failed/ just before the commit that records it)
    wait_for(lambda: statuses(daemon.job(job_id)).count("CopyToHotFolderFailed") == 1, what="the failure recorded")
    hot.unlink()
    hot.mkdir()
    drop(daemon.root / "failed" / job_id / "RETRY", "erin\n")
    daemon.wait_status(job_id, "InHotFolder")
    assert final_files(hot) == ["FILE1_FILE1-1_bc-85x55_x1.pdf"]


def test_a_hot_folder_that_is_a_file_at_start_is_said_as_the_config_problem_it_is(start, tmp_path: Path) -> None:
    """Audit AT 4: the start-up warning said "deliveries there fail and are retried until it is
    there" of a hot folder that is a file, where every job routed there goes to failed/ at once."""
    hot = tmp_path / "hot" / "indigo"
    daemon = start()
    assert daemon.stop() == 0
    hot.rmdir()
    hot.write_text("oops")
    daemon.start()
    wait_for(lambda: "config.problem" in daemon.log_text(), what="the warning at start")
    [line] = [json.loads(x) for x in daemon.log_text().splitlines() if "config.problem" in x]
    assert "hot_folders.indigo.path: " in line["problem"] and "is a file, not a folder" in line["problem"]
    assert line["effect"].startswith("the jobs routed there fail (failed/") and line["level"] == "warning"
    assert "hot_folder.unavailable" not in daemon.log_text()


def test_ledger_locked_for_seconds_the_daemon_survives_and_continues(start, tmp_path: Path) -> None:
    daemon = start()
    holder = sqlite3.connect(daemon.root / "state" / "ledger.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        ids = [order(daemon, f"LOCK{i}") for i in range(3)]
        time.sleep(4)
        assert daemon.proc is not None and daemon.proc.poll() is None, "the daemon died"
    finally:
        holder.execute("COMMIT")
        holder.close()
    for job_id in ids:
        daemon.wait_status(job_id, "InHotFolder")
    assert len(final_files(tmp_path / "hot" / "indigo")) == 3
    assert daemon.stop() == 0


@pytest.fixture
def huge_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("huge") / "huge.pdf"
    return make_big_pdf(path, pages=4, bytes_per_page=50 * 1024 * 1024, size_mm=(210, 297))


def _wait_for_part(hot: Path, daemon: Daemon, timeout: float = 60) -> None:
    def copying() -> bool:
        assert daemon.proc is not None and daemon.proc.poll() is None
        return any(p.name.endswith(".part") for p in hot.iterdir())

    wait_for(copying, timeout=timeout, interval=0.002, what="a copy into the hot folder in progress")


@pytest.mark.parametrize(
    "signum",
    [signal.SIGTERM, pytest.param(signal.SIGKILL, marks=pytest.mark.slow)],
    ids=["sigterm", "sigkill"],
)
def test_stopped_in_the_middle_of_a_200_mb_copy_then_delivered_exactly_once(
    start, tmp_path: Path, huge_pdf: Path, signum: int
) -> None:
    hot = tmp_path / "hot" / "indigo"
    daemon = start(watch={"settle_seconds": 0.3}, products={})
    job_id = order(daemon, "HUGE1", product="a4-huge", extra="hot_folder: indigo\n", pdf=huge_pdf)
    _wait_for_part(hot, daemon)
    assert daemon.proc is not None
    if signum == signal.SIGTERM:
        started = time.monotonic()
        daemon.proc.send_signal(signal.SIGTERM)
        rc = daemon.proc.wait(timeout=30)
        assert rc == 0 and time.monotonic() - started < 10, f"exit {rc} after {time.monotonic() - started:.1f} s"
        assert temp_files(hot) == [], "a graceful stop removes its temp file"
    else:
        daemon.kill()
    assert final_files(hot) == [] or final_files(hot) == ["HUGE1_HUGE1-1_a4-huge_x1.pdf"]
    again = TreeDaemon(daemon.config)
    again.start()
    try:
        again.wait_status(job_id, "InHotFolder", timeout=60)
        job = again.job(job_id)
        assert job is not None and statuses(job).count("InHotFolder") == 1
        assert final_files(hot) == ["HUGE1_HUGE1-1_a4-huge_x1.pdf"]
        assert temp_files(hot) == []
        delivered = hot / "HUGE1_HUGE1-1_a4-huge_x1.pdf"
        assert delivered.stat().st_size == huge_pdf.stat().st_size
        assert _sha(delivered) == _sha(huge_pdf)
        assert again.stop() == 0
    finally:
        again.kill()


def _sha(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def test_corrupt_pdfs_fail_validation_with_error_txt_and_the_daemon_goes_on(start, tmp_path: Path) -> None:
    daemon = start()
    good = make_pdf(tmp_path / "good.pdf", pages=CARD).read_bytes()
    payloads = {
        "TRUNC": good[: len(good) // 2],
        "RANDOM": os.urandom(20_000),
        "EMPTY": b"",
        "HTML": b"<html><body>502 Bad Gateway</body></html>\n",
    }
    for order_id, payload in payloads.items():
        drop(daemon.inbox / f"{order_id}.pdf", payload)
        drop(
            daemon.inbox / f"{order_id}.yaml",
            f'order_id: "{order_id}"\nproduct: bc-85x55\nquantity: 1\nartwork: [{order_id}.pdf]\n',
        )
    job_id = order(daemon, "GOOD")
    for order_id, payload in payloads.items():
        job = daemon.wait_status(f"{order_id}-1", "ValidationFailed")
        folder = daemon.root / "failed" / f"{order_id}-1"
        error = folder / "ERROR.txt"
        wait_for(error.is_file, what="ERROR.txt")
        assert f"{order_id}.pdf" in error.read_text(), (order_id, error.read_text())
        # (the status is recorded before the folder moves: read the job again once it has)
        assert job["status"] == "ValidationFailed"
        wait_for(lambda o=order_id: daemon.job(f"{o}-1")["folder"] == f"failed/{o}-1", what="the move to failed/")
        assert (folder / "artwork" / f"{order_id}.pdf").read_bytes() == payload
    daemon.wait_status(job_id, "InHotFolder")
    assert final_files(tmp_path / "hot" / "indigo") == ["GOOD_GOOD-1_bc-85x55_x1.pdf"]
    assert daemon.stop() == 0


def test_future_order_waits_across_a_restart(start, tmp_path: Path) -> None:
    daemon = start()
    at = datetime.now(UTC) + timedelta(seconds=5)
    job_id = order(daemon, "FUT1", extra=f'process_after: "{at.isoformat()}"\n')
    waiting = daemon.wait_status(job_id, "FutureOrder")
    assert waiting["route"] is None and waiting["hot_folder"] == "indigo"  # where it will go
    assert "Hot folder: indigo (by the routes" in daemon.cli("show", job_id).stdout
    daemon.kill()
    assert final_files(tmp_path / "hot" / "indigo") == []
    daemon.start()
    job = daemon.wait_status(job_id, "InHotFolder", timeout=30)
    delivered_at = datetime.fromisoformat(job["history"][-1]["at"].replace("Z", "+00:00"))
    assert delivered_at >= at
    assert statuses(job)[:2] == ["Ordered", "FutureOrder"]


def test_retention_purges_old_job_folders_at_start_and_keeps_the_history(start, tmp_path: Path) -> None:
    daemon = start(retention={"done_days": 0.00002})  # 1.7 seconds
    job_id = order(daemon, "OLD1")
    daemon.wait_status(job_id, "InHotFolder")
    assert (daemon.root / "done" / job_id).is_dir()
    assert daemon.stop() == 0
    time.sleep(2)
    daemon.start()  # retention runs at start (and hourly)
    job = daemon.wait_status(job_id, "JobDataDeleted")
    assert not (daemon.root / "done" / job_id).exists()
    assert statuses(job) == [
        "Ordered",
        "ValidationFinished",
        "OutputCreationStarted",
        "OutputCreated",
        "InHotFolder",
        "JobDataDeleted",
    ]
    assert final_files(tmp_path / "hot" / "indigo") == ["OLD1_OLD1-1_bc-85x55_x1.pdf"], "never delivered again"
    # show and jobs say the files were deleted, rather than name a folder and an output that are gone.
    assert (job["folder"], job["output"], job["stage"]) == (None, None, "purged")
    [listed] = json.loads(daemon.cli("jobs", "--json", check=True).stdout)
    assert (listed["folder"], listed["output"]) == (None, None)
    shown = daemon.cli("show", job_id, check=True).stdout
    deleted_at = job["history"][-1]["at"]
    assert f"Folder:    deleted on {deleted_at}, after retention" in shown.splitlines()
    assert "Output:    deleted with the folder (was OLD1_OLD1-1_bc-85x55_x1.pdf, 2 pages)" in shown.splitlines()
    assert "done/" not in shown
    [row] = daemon.cli("jobs", check=True).stdout.splitlines()
    assert row.split()[:5] == [job_id, "OLD1", "JobDataDeleted", "no", "(deleted)"]
    # A reprint of the purged job gets a whole job folder again, its manifest included.
    (tmp_path / "hot" / "indigo" / "OLD1_OLD1-1_bc-85x55_x1.pdf").unlink()  # the printer took it
    order(daemon, "OLD1", extra="reprint: true\n")
    wait_for(lambda: statuses(daemon.job(job_id))[-1] == "InHotFolder", what="the reprint delivered")
    folder = daemon.root / "done" / job_id
    assert (folder / "manifest.yaml").read_text().endswith("reprint: true\n")
    assert (folder / "artwork" / "OLD1.pdf").is_file()
    assert list((daemon.root / "work").iterdir()) == []


def test_status_txt_left_behind_by_a_kill_is_rewritten_from_the_ledger_at_start(start, tmp_path: Path) -> None:
    """STATUS.txt is rewritten at most every 0.5 s while jobs run: a SIGKILL may leave one that
    lags the ledger. The next start rewrites the STATUS.txt of every job changed shortly before."""
    daemon = start()
    job_id = order(daemon, "ST1")
    daemon.wait_status(job_id, "InHotFolder")
    status_file = daemon.root / "done" / job_id / "STATUS.txt"
    wait_for(lambda: status_file.is_file() and "InHotFolder" in status_file.read_text(), timeout=10)
    daemon.kill()
    status_file.write_text("Ordered (left by a kill)\n")  # what a kill between two flushes leaves
    daemon.start()
    wait_for(lambda: "InHotFolder" in status_file.read_text(), timeout=10)
    assert "left by a kill" not in status_file.read_text()
