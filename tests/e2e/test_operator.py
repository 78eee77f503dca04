"""End-to-end: the SPO "Blocked status" workflow, done with folders, drop files and the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.daemon import Daemon, drop, run_cli, statuses, wait_for
from tests.pdfs import make_pdf

pytestmark = pytest.mark.e2e

CARD = [(91.0, 61.0), (91.0, 61.0)]


def order(daemon: Daemon, order_id: str, product: str = "bc-85x55", extra: str = "", pages=CARD) -> str:
    make_pdf(daemon.inbox / f"{order_id}.pdf", pages=pages)
    drop(
        daemon.inbox / f"{order_id}.yaml",
        f'order_id: "{order_id}"\nproduct: {product}\nquantity: 10\nartwork: [{order_id}.pdf]\n{extra}',
    )
    return f"{order_id}-1"


def held(daemon: Daemon, job_id: str) -> dict:
    def check() -> dict | None:
        job = daemon.job(job_id)
        return job if job and job["folder"] == f"quarantine/{job_id}" else None

    wait_for(check, timeout=20, what=f"{job_id} in quarantine")
    # Read again: `show` reads the ledger, then looks where the folder is; a read that began just
    # before the daemon's commit (which comes before the folder's move) found the folder moved and
    # the history of a moment before.
    job = daemon.job(job_id)
    assert job is not None
    return job


def blocked_entry(job: dict) -> dict:
    return next(e for e in job["history"] if e["status"] == "Blocked")


def test_block_on_arrival_waits_in_quarantine_with_output(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "B1")
    job = held(daemon, job_id)
    assert statuses(job) == ["Ordered", "Blocked", "ValidationFinished", "OutputCreationStarted", "OutputCreated"]
    assert job["status"] == "OutputCreated" and job["blocked"] is True
    assert blocked_entry(job)["detail"] == "block_on_arrival"
    folder = daemon.root / "quarantine" / job_id
    assert len(PdfReader(folder / "output" / "B1_B1-1_bc-85x55_x10.pdf").pages) == 2
    assert (folder / "replace").is_dir()
    status = (folder / "STATUS.txt").read_text()
    assert "Drop a file named RELEASE here to send this job to indigo" in status
    assert "Artwork fingerprint:" in status and "2 pages" in status
    assert not list((tmp_path / "hot" / "indigo").iterdir())
    # SPO's "Blocker Status" filter: still listed as blocked although its status reads OutputCreated.
    listed = json.loads(daemon.cli("jobs", "--status", "Blocked", "--json").stdout)
    assert [j["job_id"] for j in listed] == [job_id]
    assert json.loads(daemon.cli("jobs", "--blocked", "--json").stdout)[0]["status"] == "OutputCreated"


def test_release_by_drop_file_records_the_operator(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon(blocking={"products": ["bc-*"]})
    job_id = order(daemon, "B2")
    assert blocked_entry(held(daemon, job_id))["detail"] == "blocking.products: bc-*"
    drop(daemon.root / "quarantine" / job_id / "release.txt", "alice\nchecked the bleed\n")
    job = daemon.wait_status(job_id, "InHotFolder")
    entry = blocked_entry(job)
    assert entry["removed_by"] == "alice" and entry["removed_at"]
    assert entry["removed_note"] == "checked the bleed"  # the drop file's note, in --json too
    assert job["blocked"] is False
    assert (tmp_path / "hot" / "indigo" / "B2_B2-1_bc-85x55_x10.pdf").is_file()
    history = list((daemon.root / "done" / job_id / "history").iterdir())
    assert any(p.name.endswith("-release.txt") for p in history), history
    # done/ is not watched: its STATUS.txt says so, and how to print the job again.
    done_status = daemon.root / "done" / job_id / "STATUS.txt"
    wait_for(lambda: "are not read" in done_status.read_text(), what="done/ STATUS.txt")
    assert "send its manifest with reprint: true" in done_status.read_text()
    text = daemon.cli("show", job_id).stdout
    assert "removed" in text and "alice" in text and "checked the bleed" in text
    released = json.loads(daemon.cli("jobs", "--released", "--json").stdout)
    assert [j["job_id"] for j in released] == [job_id]


def test_manifest_blocked_overrides_config_both_ways(make_daemon) -> None:
    daemon = make_daemon(blocking={"block_on_arrival": True})
    free = order(daemon, "B3", extra="blocked: false\n")
    daemon.wait_status(free, "InHotFolder")
    daemon2_job = order(daemon, "B4", product="other", extra="blocked: true\n")
    job = held(daemon, daemon2_job)
    assert blocked_entry(job)["detail"] == "manifest blocked: true"


def test_replace_while_daemon_stopped_says_the_output_is_made_at_its_start(make_daemon, tmp_path: Path) -> None:
    """Audit AI 4: an offline `replace` of a blocked job ended "the job waits for an operator",
    though its new output is made when the daemon starts, and only then does it wait."""
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "B7")
    held(daemon, job_id)
    assert daemon.stop() == 0
    new = make_pdf(tmp_path / "new.pdf", pages=[(91, 61), (91, 61)])
    result = daemon.cli("replace", job_id, str(new), "--by", "dan")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        "the daemon is not running: the job's output is made when it starts; it then waits in quarantine/ for a release"
    )


def test_release_by_cli_with_daemon_running(make_daemon) -> None:
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "B5")
    held(daemon, job_id)
    result = daemon.cli("release", job_id, "--by", "bob", "--note", "ok to print")
    assert result.returncode == 0, result.stderr
    assert "released by bob" in result.stdout
    job = daemon.wait_status(job_id, "InHotFolder")
    assert blocked_entry(job)["removed_by"] == "bob"
    assert blocked_entry(job)["removed_note"] == "ok to print"
    again = daemon.cli("release", job_id)
    assert again.returncode == 1 and again.stderr.count("\n") == 1
    assert "not blocked" in again.stderr or "already released" in again.stderr


def test_a_release_whose_answer_cannot_be_written_says_it_was_given_and_exits_0(make_daemon) -> None:
    """Audit AM 2: `release > /dev/full` said "error" and exited 1 though the job was released (and
    printed): a script retrying on exit 1 got "already released"."""
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "B8")
    held(daemon, job_id)
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "spo_hotfolder.cli", "-c", str(daemon.config), "release", job_id, "--by", "fay"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0
    assert result.stderr == (
        "spo-hotfolder: release given, but its answer could not be written (No space left on device); "
        f"`spo-hotfolder show {job_id}` says what became of it\n"
    )
    assert blocked_entry(daemon.wait_status(job_id, "InHotFolder"))["removed_by"] == "fay"


def test_release_while_daemon_stopped_then_start(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "B6")
    held(daemon, job_id)
    status = (daemon.root / "quarantine" / job_id / "STATUS.txt").read_text()
    fingerprint = re.search(r"Artwork fingerprint: (\S+)", status)
    assert fingerprint is not None
    assert daemon.stop() == 0
    result = daemon.cli("release", job_id, "--by", "carol")
    assert result.returncode == 0, result.stderr
    # stdout is the answer (no log lines of the daemon's code it ran), stderr empty
    answer, after = result.stdout.splitlines()
    # (what it approves: the output's time and the artwork's fingerprint that STATUS.txt shows)
    shown = daemon.cli("show", job_id, "--json")
    made = [e["at"] for e in json.loads(shown.stdout)["history"] if e["status"] == "OutputCreated"][-1]
    assert answer == f"{job_id}: released by carol; it approves the output made at {made} (artwork {fingerprint[1]})"
    assert after == "the daemon is not running: the job continues when it starts"
    assert result.stderr == ""
    again = daemon.cli("release", job_id)
    assert again.returncode == 1 and len(again.stderr.splitlines()) == 1, again.stderr
    job = daemon.job(job_id)
    assert job["blocked"] is False and blocked_entry(job)["removed_by"] == "carol"
    assert not list((tmp_path / "hot" / "indigo").iterdir())
    daemon.start()
    daemon.wait_status(job_id, "InHotFolder")
    assert not (daemon.root / "done" / job_id / "replace").exists()  # nobody watches it there
    assert len(list((tmp_path / "hot" / "indigo").iterdir())) == 1


def test_a_command_that_fails_with_an_error_is_not_done_later_by_the_daemon(make_daemon, tmp_path: Path) -> None:
    """Review IB 3: a `release` that could not open the instance lock (a lock file of root's, mode
    0644, for an operator) exited 1 with the error, but left its command staged: the daemon started
    later released and printed the job. Withdrawn; the job stays held. (The tests run as root, whom
    no mode keeps out: the lock is a folder here, which nobody may open for writing.)"""
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "B9")
    held(daemon, job_id)
    assert daemon.stop() == 0
    lock = daemon.root / "state" / "daemon.lock"
    lock.unlink()
    lock.mkdir()
    result = daemon.cli("release", job_id, "--by", "bob")
    assert result.returncode == 1 and "daemon.lock" in result.stderr, result.stderr
    assert not [p for p in (daemon.root / "state" / "commands").iterdir() if p.suffix == ".json"]
    lock.rmdir()
    daemon.start()
    assert daemon.cli("release", job_id, "--by", "carol").returncode == 0
    job = daemon.wait_status(job_id, "InHotFolder")
    assert blocked_entry(job)["removed_by"] == "carol"


def test_a_command_whose_user_may_not_open_the_lock_is_done_by_the_running_daemon(make_daemon) -> None:
    """Review IC 3 (of IB 3's mend): an operator who may not open the instance lock (root's, mode
    0644) gave `release` while the daemon ran: the command was withdrawn as failed, and the running
    daemon, which would have done it, never saw it. (As root, whom no mode keeps out: the lock made
    immutable, which nobody may open for writing.)"""
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "B8")
    held(daemon, job_id)
    lock = daemon.root / "state" / "daemon.lock"
    if subprocess.run(["chattr", "+i", str(lock)], capture_output=True).returncode != 0:
        pytest.skip("this filesystem (or user) has no immutable flag")
    try:
        result = daemon.cli("release", job_id, "--by", "bob")
    finally:
        subprocess.run(["chattr", "-i", str(lock)], capture_output=True)
    assert result.returncode == 0, result.stderr
    job = daemon.wait_status(job_id, "InHotFolder")
    assert blocked_entry(job)["removed_by"] == "bob"


def test_a_refused_replace_with_the_daemon_stopped_keeps_the_operators_file(make_daemon, tmp_path: Path) -> None:
    """Audit P: offline, a refused replace deleted the file named on the command line (maybe the
    customer's only corrected file on a share). Refused or taken, it stays where it is."""
    daemon = make_daemon(blocking={"block_on_arrival": True}, products={})
    make_pdf(daemon.inbox / "front.pdf", pages=[(91, 61)])
    make_pdf(daemon.inbox / "back.pdf", pages=[(91, 61)])
    drop(daemon.inbox / "m.yaml", 'order_id: "MO"\nproduct: bc-1\nquantity: 1\nartwork: [front.pdf, back.pdf]\n')
    held(daemon, "MO-1")
    assert daemon.stop() == 0
    proof = tmp_path / "proof.jpg"
    proof.write_bytes(b"\xff\xd8\xff\xe0JFIF")
    make_pdf(tmp_path / "front_v2.pdf", pages=[(91, 61)])
    for name, reason in (
        ("proof.jpg", "not a PDF: it is a JPEG image"),
        ("front_v2.pdf", "must be the name of the one it replaces"),
    ):
        result = daemon.cli("replace", "MO-1", str(tmp_path / name))
        assert result.returncode == 1 and reason in result.stderr, result.stderr
        assert (tmp_path / name).is_file(), f"{name} was removed"
    assert proof.read_bytes() == b"\xff\xd8\xff\xe0JFIF"


def test_drop_file_while_daemon_stopped_acts_at_start(make_daemon) -> None:
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "B7")
    held(daemon, job_id)
    assert daemon.stop() == 0
    (daemon.root / "quarantine" / job_id / "RELEASE").write_text("dave\n")
    daemon.start()
    job = daemon.wait_status(job_id, "InHotFolder")
    assert blocked_entry(job)["removed_by"] == "dave"


def test_with_the_daemon_stopped_a_command_does_not_overtake_files_dropped_before_it(
    make_daemon, tmp_path: Path
) -> None:
    """Audit BQ 1: a replacement dropped into replace/ while the daemon was stopped, then a
    `replace` with another file: the command acted at once, the dropped file at the start, and the
    older file became the artwork. BQ 5: a RELEASE file, then `release`: the file's operator lost
    the credit and was told the job had finished. The daemon reads what was dropped first."""
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "B9")
    held(daemon, job_id)
    assert daemon.stop() == 0
    folder = daemon.root / "quarantine" / job_id
    make_pdf(folder / "replace" / "first.pdf", pages=CARD)
    make_pdf(tmp_path / "second.pdf", pages=CARD)
    result = daemon.cli("replace", job_id, str(tmp_path / "second.pdf"), "--by", "later")
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "replace/first.pdf in the job's folder is not read yet (the daemon is not running)" in result.stderr
    (folder / "replace" / "first.pdf").unlink()
    (folder / "RELEASE").write_text("s12\n")
    result = daemon.cli("release", job_id, "--by", "s15")
    assert result.returncode == 1 and "RELEASE in the job's folder is not read yet" in result.stderr, result.stderr
    assert not list((daemon.root / "state" / "commands").glob("*.json")), "a refused command is withdrawn"
    assert daemon.job(job_id)["blocked"] is True
    # An upload's temporary name is never read by the daemon: it holds nothing back (audit BT 4).
    (folder / "RELEASE").rename(folder / "RELEASE.tmp")
    result = daemon.cli("release", job_id, "--by", "s15")
    assert result.returncode == 0, result.stderr
    daemon.start()
    job = daemon.wait_status(job_id, "InHotFolder")
    assert blocked_entry(job)["removed_by"] == "s15"
    assert "ArtworkUploaded" not in statuses(job)


def test_with_the_daemon_stopped_a_command_does_not_overtake_a_file_dropped_in_work(make_daemon) -> None:
    """Audit (2026-12-05 K 2): drop files in work/ act too (a job waiting there); with the daemon
    stopped, `release` of a blocked future order overtook the RELEASE dropped in its folder before
    it (the file's operator lost the credit, and the file was then refused as "already released")."""
    from datetime import UTC, datetime, timedelta

    daemon = make_daemon(blocking={"block_on_arrival": True})
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    job_id = order(daemon, "W9", extra=f'process_after: "{later}"\n')
    daemon.wait_status(job_id, "FutureOrder")
    assert daemon.stop() == 0
    (daemon.root / "work" / job_id / "RELEASE").write_text("alice\n")
    result = daemon.cli("release", job_id, "--by", "bob")
    assert result.returncode == 1 and "RELEASE in the job's folder is not read yet" in result.stderr, result.stderr
    daemon.start()
    wait_for(lambda: not daemon.job(job_id)["blocked"], timeout=20, what="released by the file")
    assert blocked_entry(daemon.job(job_id))["removed_by"] == "alice"


def test_a_command_the_daemon_does_not_answer_in_time_is_no_success(
    make_daemon, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Audit BQ 2: a daemon busy with one long job did not answer within 30 s and the CLI exited 0,
    "handed to the running daemon"; the daemon then refused the release. Not known to be done is
    not a success: exit 1, saying the command stays queued."""
    from spo_hotfolder import commands
    from spo_hotfolder.cli import main
    from spo_hotfolder.config import load_config
    from spo_hotfolder.service import InstanceLock

    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "BQ")
    held(daemon, job_id)
    assert daemon.stop() == 0
    lock = InstanceLock(load_config(daemon.config))
    assert lock.acquire()  # a daemon that runs, busy elsewhere
    lock.mark_daemon()
    monkeypatch.setattr(commands, "COMMAND_WAIT_SECONDS", 0.3)
    try:
        code = main(["-c", str(daemon.config), "release", job_id, "--by", "amy"])
    finally:
        lock.release()
    out, err = capsys.readouterr()
    assert code == 1 and out == "", (out, err)
    assert err.startswith(f"spo-hotfolder: error: {job_id}: the daemon has not answered the RELEASE within 0.3 s")
    assert "(it is busy with a long job, or hung)" in err
    assert "the command stays queued" in err and len(err.splitlines()) == 1
    assert len(list((daemon.root / "state" / "commands").glob("*.json"))) == 1, "still queued"
    # On a full disk, that is why (audit U2: "busy or hung" of a daemon that had said the disk was full).
    from spo_hotfolder import health

    monkeypatch.setattr(health, "disk_full", lambda folder: True)
    assert lock.acquire()
    lock.mark_daemon()
    try:
        code = main(["-c", str(daemon.config), "reject", job_id, "--by", "amy"])
    finally:
        lock.release()
    err = capsys.readouterr().err
    assert (
        code == 1 and f"(the disk holding {daemon.root / 'state'} is full: it is recorded once there is space)" in err
    )


def test_reject_by_drop_and_by_cli(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon(blocking={"block_on_arrival": True})
    a = order(daemon, "R1")
    b = order(daemon, "R2")
    held(daemon, a)
    held(daemon, b)
    drop(daemon.root / "quarantine" / a / "REJECT", "erin\ncustomer cancelled\n")
    job = daemon.wait_status(a, "Rejected")
    assert job["history"][-1]["by"] == "erin" and "customer cancelled" in job["history"][-1]["detail"]
    wait_for(lambda: (daemon.root / "rejected" / a).is_dir(), what="rejected/ folder")
    result = daemon.cli("reject", b, "--by", "frank", "--reason", "wrong size")
    assert result.returncode == 0, result.stderr
    daemon.wait_status(b, "Rejected")
    assert not list((tmp_path / "hot" / "indigo").iterdir())
    # Where it went: nowhere, in show's text as in its JSON (audit AY 1: the text said "indigo").
    shown = daemon.cli("show", b).stdout
    assert "Hot folder: none (rejected; its route was indigo)" in shown, shown
    assert json.loads(daemon.cli("show", b, "--json").stdout)["hot_folder"] is None
    # SPEC 3: --blocked lists the jobs whose Blocked entry is active, whatever their current
    # status: rejected without a release, theirs is. Nothing waits for an operator any more.
    listed = json.loads(daemon.cli("jobs", "--blocked", "--json").stdout)
    assert [(j["job_id"], j["status"], j["blocked"]) for j in listed] == [(a, "Rejected", True), (b, "Rejected", True)]
    assert json.loads(daemon.cli("jobs", "--status", "Blocked", "--json").stdout) == listed
    rows = daemon.cli("jobs", "--blocked").stdout.splitlines()
    assert [row.split()[:4] for row in rows] == [[a, "R1", "Rejected", "yes"], [b, "R2", "Rejected", "yes"]]
    # A delivered job cannot be rejected: a one-line error, exit 1.
    c = order(daemon, "R3", extra="blocked: false\n")
    daemon.wait_status(c, "InHotFolder")
    refused = daemon.cli("reject", c)
    assert refused.returncode == 1 and "already delivered" in refused.stderr and "Traceback" not in refused.stderr


def test_replace_then_release_delivers_the_new_artwork(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon(blocking={"block_on_arrival": True}, products={"bc-*": {"trim_mm": [85, 55], "bleed_mm": 3}})
    # The order carries its artwork's sha256: it describes the artwork as ordered, not a replacement.
    make_pdf(tmp_path / "P1.pdf", pages=[(91.0, 61.0)])
    digest = hashlib.sha256((tmp_path / "P1.pdf").read_bytes()).hexdigest()
    os.replace(tmp_path / "P1.pdf", daemon.inbox / "P1.pdf")
    drop(
        daemon.inbox / "P1.yaml",
        f'order_id: "P1"\nproduct: bc-85x55\nquantity: 10\nartwork: [{{path: P1.pdf, sha256: "{digest}"}}]\n',
    )
    job_id = "P1-1"
    held(daemon, job_id)
    folder = daemon.root / "quarantine" / job_id
    fingerprint_before = _fingerprint(folder)
    new = tmp_path / "new.pdf"
    make_pdf(new, pages=[(91.0, 61.0)] * 3)
    os.replace(new, folder / "replace" / "corrected.pdf")

    def regenerated() -> dict | None:
        job = daemon.job(job_id)
        return job if job and job["folder"].startswith("quarantine") and job["output_pages"] == 3 else None

    job = wait_for(regenerated, timeout=20, what="output made again from the replacement")
    tail = statuses(job)[-5:]
    assert tail == [
        "ArtworkUploaded",
        "RecreationRequested",
        "ValidationFinished",
        "OutputCreationStarted",
        "OutputCreated",
    ]
    assert job["blocked"] is True
    history = sorted(p.name for p in (folder / "history").iterdir())
    assert any("artwork-P1.pdf" in n for n in history) and any("output-" in n for n in history)
    assert _fingerprint(folder) != fingerprint_before
    drop(folder / "RELEASE", "gina\n")
    daemon.wait_status(job_id, "InHotFolder")
    # The job folder left quarantine/ and came back: watchdog's warning about the watch it re-adds
    # for it (with its whole watch table) is noise, not a warning for the operator.
    assert "already exists for watch" not in daemon.log_text()
    delivered = tmp_path / "hot" / "indigo" / "P1_P1-1_bc-85x55_x10.pdf"
    assert len(PdfReader(delivered).pages) == 3


def _fingerprint(folder: Path) -> str:
    """The fingerprint STATUS.txt shows ("" while the job is away from this folder)."""
    try:
        text = (folder / "STATUS.txt").read_text()
    except FileNotFoundError:
        return ""
    for line in text.splitlines():
        if line.startswith("Artwork fingerprint:"):
            return line.split(":", 1)[1].strip()
    return ""


def test_stale_release_is_refused(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon(blocking={"block_on_arrival": True}, products={})
    job_id = order(daemon, "S1", pages=[(91.0, 61.0)])
    held(daemon, job_id)
    folder = daemon.root / "quarantine" / job_id
    seen = _fingerprint(folder)
    new = tmp_path / "v2.pdf"
    make_pdf(new, pages=[(100.0, 70.0)])
    os.replace(new, folder / "replace" / "v2.pdf")
    wait_for(lambda: _fingerprint(folder) not in ("", seen) and held(daemon, job_id), what="new output")
    drop(folder / "RELEASE.txt", f"hank\nartwork: {seen}\n")
    wait_for(lambda: "refused" in (folder / "STATUS.txt").read_text(), what="refusal in STATUS.txt")
    status = (folder / "STATUS.txt").read_text()
    assert "it was replaced since you looked, or the fingerprint is mistyped" in status
    job = daemon.job(job_id)
    assert job["blocked"] is True and not list((tmp_path / "hot" / "indigo").iterdir())
    # Releasing what is there now works.
    drop(folder / "RELEASE.txt", f"hank\nartwork: {_fingerprint(folder)}\n")
    daemon.wait_status(job_id, "InHotFolder")


def test_a_cli_release_names_the_artwork_it_approves_as_a_release_file_does(make_daemon, tmp_path: Path) -> None:
    """Audit CC 2: `release --note 'artwork: <fp>'` (SPEC 3: the same path as RELEASE) approved
    whatever was there, a replacement the operator had not seen printed; the CLI had no way to
    name the artwork seen. `--artwork FP` and a note's "artwork:" line are checked as RELEASE's;
    `show` gives the fingerprint."""
    daemon = make_daemon(blocking={"block_on_arrival": True}, products={})
    job_id = order(daemon, "S2", pages=[(91.0, 61.0)])
    held(daemon, job_id)
    folder = daemon.root / "quarantine" / job_id
    seen = _fingerprint(folder)
    assert f"Artwork fingerprint: {seen}  (of the artwork as last checked)" in daemon.cli("show", job_id).stdout
    new = tmp_path / "v2.pdf"
    make_pdf(new, pages=[(100.0, 70.0)])
    os.replace(new, folder / "replace" / "v2.pdf")
    wait_for(lambda: _fingerprint(folder) not in ("", seen) and held(daemon, job_id), what="new output")
    for how in (["--artwork", seen.upper()], ["--note", f"checked\nartwork: {seen}"]):
        refused = daemon.cli("release", job_id, "--by", "bob", *how)
        assert refused.returncode == 1 and f"this RELEASE approves artwork {seen}" in refused.stderr, refused
    assert daemon.job(job_id)["blocked"] is True and not list((tmp_path / "hot" / "indigo").iterdir())
    bad = daemon.cli("release", job_id, "--artwork", "looks-good")
    assert bad.returncode == 2 and "is no artwork fingerprint" in bad.stderr, bad
    now = _fingerprint(folder)
    done = daemon.cli("release", job_id, "--by", "bob", "--note", "ok", "--artwork", now)
    assert done.returncode == 0, done
    job = daemon.wait_status(job_id, "InHotFolder")
    assert blocked_entry(job)["removed_note"] == f"ok [approves artwork {now} only]"


def test_reject_and_release_dropped_together_reject_wins(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "T1")
    held(daemon, job_id)
    daemon.stop()
    folder = daemon.root / "quarantine" / job_id
    (folder / "RELEASE").write_text("ivan\n")
    (folder / "REJECT").write_text("judy\nduplicate order\n")
    daemon.start()
    job = daemon.wait_status(job_id, "Rejected")
    status_file = daemon.root / "rejected" / job_id / "STATUS.txt"
    wait_for(lambda: status_file.is_file() and "refused" in status_file.read_text(), what="the RELEASE answered")
    status = status_file.read_text()
    assert "RELEASE by ivan refused" in status and "rejected" in status
    assert not list((tmp_path / "hot" / "indigo").iterdir())
    assert blocked_entry(job)["removed_at"] is None


@pytest.mark.parametrize("content", [b"", b"\x00\xff\xfe junk \x01" * 50, ("x" * 5000).encode()])
def test_junk_or_empty_drop_files_still_act(make_daemon, content: bytes) -> None:
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "J1")
    held(daemon, job_id)
    drop(daemon.root / "quarantine" / job_id / "Release.TXT", content)
    job = daemon.wait_status(job_id, "InHotFolder")
    assert blocked_entry(job)["removed_by"] == "operator"


def test_drop_files_in_the_wrong_place_change_nothing(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "W1")
    held(daemon, job_id)
    drop(daemon.root / "quarantine" / "RELEASE", "kim\n")
    (daemon.root / "quarantine" / "not-a-job").mkdir()
    drop(daemon.root / "quarantine" / "not-a-job" / "RELEASE", "kim\n")
    drop(daemon.root / "quarantine" / job_id / "RELAESE", "kim\n")  # misspelt: said so, left alone
    status = daemon.root / "quarantine" / job_id / "STATUS.txt"
    wait_for(lambda: "RELAESE: not a drop file" in status.read_text(), what="the misspelt drop file answered")
    time.sleep(1.0)
    assert daemon.job(job_id)["blocked"] is True
    # beside the job folders: renamed to say it did nothing (its text kept)
    renamed = daemon.root / "quarantine" / "NOT USED - RELEASE - put it into a job's folder.txt"
    assert renamed.read_text() == "kim\n" and not (daemon.root / "quarantine" / "RELEASE").exists()
    # in a folder that is no job's: renamed too (audit BJ 1)
    assert os.listdir(daemon.root / "quarantine" / "not-a-job") == ["NOT USED - RELEASE - this folder is no job's.txt"]
    assert (daemon.root / "quarantine" / job_id / "RELAESE").exists()
    assert daemon.proc is not None and daemon.proc.poll() is None


def test_a_folder_named_like_a_drop_file_is_answered_not_acted_on(make_daemon) -> None:
    """File explorers make "New folder" as readily as a new file: a folder named RELEASE, or a
    folder of artwork dragged into replace/, changes nothing, and STATUS.txt says what to do."""
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "F1")
    held(daemon, job_id)
    folder = daemon.root / "quarantine" / job_id
    status = folder / "STATUS.txt"
    (folder / "Release").mkdir()
    wait_for(lambda: "Release is a folder, not a file" in status.read_text(), what="the RELEASE folder answered")
    assert "Drop a file named RELEASE instead" in status.read_text()
    (folder / "replace" / "new artwork").mkdir()
    wait_for(lambda: "replace/new artwork is a folder" in status.read_text(), what="the replace/ folder answered")
    time.sleep(1.0)
    job = daemon.job(job_id)
    assert job["blocked"] is True and job["status"] == "OutputCreated"
    assert (folder / "Release").is_dir() and (folder / "replace" / "new artwork").is_dir()
    drop(folder / "release.txt", "kim\n")  # the real thing still works beside the folder
    assert blocked_entry(daemon.wait_status(job_id, "InHotFolder"))["removed_by"] == "kim"


def test_a_drop_whose_name_is_not_utf8_is_answered_and_left_alone(make_daemon) -> None:
    """A replacement or drop file from a share set to another charset: said so in STATUS.txt,
    left where it is (no traceback at every rescan)."""
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "U1")
    held(daemon, job_id)
    folder = daemon.root / "quarantine" / job_id
    status = folder / "STATUS.txt"
    with open(bytes(folder / "replace") + b"/caf\xe9.pdf", "wb") as fh:
        fh.write(b"%PDF-1.7\n%%EOF\n")
    wait_for(lambda: "replace/café.pdf: its name is not UTF-8" in status.read_text(), what="the answer")
    with open(bytes(folder) + b"/RELEASE\xe9", "wb") as fh:
        fh.write(b"kim\n")
    wait_for(lambda: "RELEASEé: its name is not UTF-8" in status.read_text(), what="the second answer")
    time.sleep(1.0)
    assert daemon.job(job_id)["blocked"] is True and daemon.job(job_id)["status"] == "OutputCreated"
    assert os.path.exists(bytes(folder / "replace") + b"/caf\xe9.pdf")
    assert not [e for e in daemon.log_events() if e.get("event") == "engine.unexpected_error"]


def test_replacement_that_is_not_a_pdf_is_refused_and_kept(make_daemon) -> None:
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "N1")
    held(daemon, job_id)
    folder = daemon.root / "quarantine" / job_id
    drop(folder / "replace" / "letter.docx", "PK\x03\x04 not a pdf")
    wait_for(lambda: "refused" in (folder / "STATUS.txt").read_text(), what="refusal")
    assert "not a PDF" in (folder / "STATUS.txt").read_text()
    assert any("letter.docx" in p.name for p in (folder / "history").iterdir())
    assert daemon.job(job_id)["status"] == "OutputCreated"


def test_ambiguous_replacement_for_a_multi_file_job_is_refused(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon(blocking={"block_on_arrival": True}, products={})
    make_pdf(daemon.inbox / "front.pdf", pages=[(91, 61)])
    make_pdf(daemon.inbox / "back.pdf", pages=[(91, 61)])
    drop(daemon.inbox / "m.yaml", 'order_id: "MF"\nproduct: bc-1\nquantity: 1\nartwork: [front.pdf, back.pdf]\n')
    held(daemon, "MF-1")
    folder = daemon.root / "quarantine" / "MF-1"
    make_pdf(tmp_path / "x.pdf", pages=[(91, 61)] * 2)
    os.replace(tmp_path / "x.pdf", folder / "replace" / "other.pdf")
    wait_for(lambda: "refused" in (folder / "STATUS.txt").read_text(), what="refusal")
    assert "must be the name of the one it replaces" in (folder / "STATUS.txt").read_text()
    make_pdf(tmp_path / "b.pdf", pages=[(91, 61)] * 2)
    os.replace(tmp_path / "b.pdf", folder / "replace" / "back.pdf")
    wait_for(
        lambda: (
            (daemon.job("MF-1") or {}).get("output_pages") == 3
            and daemon.job("MF-1")["folder"].startswith("quarantine")
        ),
        what="3 pages",
    )


def test_cli_replace_with_daemon_running_keeps_the_files_name(make_daemon, tmp_path: Path) -> None:
    """The running daemon gets the replacement under its own name: a multi-file job matches by name."""
    daemon = make_daemon(blocking={"block_on_arrival": True}, products={})
    make_pdf(daemon.inbox / "front.pdf", pages=[(91, 61)])
    make_pdf(daemon.inbox / "back.pdf", pages=[(91, 61)])
    drop(daemon.inbox / "m.yaml", 'order_id: "MC"\nproduct: bc-1\nquantity: 1\nartwork: [front.pdf, back.pdf]\n')
    held(daemon, "MC-1")
    make_pdf(tmp_path / "back.pdf", pages=[(91, 61)] * 2)
    result = daemon.cli("replace", "MC-1", str(tmp_path / "back.pdf"), "--by", "rita")
    assert result.returncode == 0, result.stderr
    assert "back.pdf" in result.stdout
    wait_for(lambda: (daemon.job("MC-1") or {}).get("output_pages") == 3, what="3 pages")
    uploaded = [h for h in daemon.job("MC-1")["history"] if h["status"] == "ArtworkUploaded"]
    assert uploaded[-1]["by"] == "rita" and "back.pdf replaced by back.pdf" in uploaded[-1]["detail"]
    assert (tmp_path / "back.pdf").is_file()  # a file named on the command line stays where it is
    commands = daemon.root / "state" / "commands"
    wait_for(lambda: not any(commands.iterdir()), what="the staging folder removed")
    assert daemon.cli("replace", "MC-1", str(tmp_path)).stderr.count("is a folder") == 1


def test_failed_blocked_job_comes_back_to_quarantine_after_replacement(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "F1", pages=[(210, 297)] * 2)
    wait_for(lambda: (daemon.root / "failed" / job_id / "ERROR.txt").is_file(), what="failed/ with ERROR.txt")
    job = daemon.wait_status(job_id, "ValidationFailed")  # (recorded just after the folder moved)
    assert job["blocked"] is True
    assert (
        "To approve it in advance instead, drop RELEASE" in (daemon.root / "failed" / job_id / "STATUS.txt").read_text()
    )
    make_pdf(tmp_path / "fixed.pdf", pages=CARD)
    os.replace(tmp_path / "fixed.pdf", daemon.root / "failed" / job_id / "replace" / "F1.pdf")
    held(daemon, job_id)
    assert not (daemon.root / "failed" / job_id).exists()
    # The problem is behind it: its explanation went into history/, not along into quarantine/.
    folder = daemon.root / "quarantine" / job_id
    assert not (folder / "ERROR.txt").exists()
    assert [p.name for p in (folder / "history").iterdir() if p.name.endswith("-ERROR.txt")]


def test_a_blocked_job_released_in_failed_goes_to_print_after_a_good_replacement(make_daemon, tmp_path: Path) -> None:
    # SPEC 4: its Blocked entry stays active in failed/, and RELEASE removes it there too.
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "F2", pages=[(210, 297)] * 2)
    folder = daemon.root / "failed" / job_id
    wait_for(lambda: (folder / "ERROR.txt").is_file(), what="failed/ with ERROR.txt")
    drop(folder / "RELEASE", "hana\napproved in advance\n")
    job = wait_for(lambda: (j := daemon.job(job_id)) and not j["blocked"] and j, what="the block removed")
    entry = blocked_entry(job)
    assert entry["removed_by"] == "hana" and job["folder"] == f"failed/{job_id}"
    wait_for(  # (STATUS.txt follows the ledger at the daemon's next flush)
        lambda: "goes on to delivery as soon as its output is made" in (folder / "STATUS.txt").read_text(),
        what="STATUS.txt says what happens now",
    )
    assert daemon.cli("release", job_id).returncode == 1  # not blocked any more
    make_pdf(tmp_path / "fixed.pdf", pages=CARD)
    os.replace(tmp_path / "fixed.pdf", folder / "replace" / "F2.pdf")
    job = daemon.wait_status(job_id, "InHotFolder")
    assert (tmp_path / "hot" / "indigo" / "F2_F2-1_bc-85x55_x10.pdf").is_file()
    assert not (daemon.root / "quarantine" / job_id).exists()


def test_known_job_ids_replacement_and_reprint(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "D1")
    held(daemon, job_id)
    # The same job id again while blocked: its artwork replaces the job's artwork.
    make_pdf(daemon.inbox / "D1-v2.pdf", pages=CARD)
    drop(daemon.inbox / "again.yaml", 'order_id: "D1"\nproduct: bc-85x55\nquantity: 10\nartwork: [D1-v2.pdf]\n')
    wait_for(lambda: "ArtworkUploaded" in statuses(daemon.job(job_id)), what="ArtworkUploaded")
    held(daemon, job_id)
    assert daemon.cli("release", job_id, "--by", "lee").returncode == 0
    daemon.wait_status(job_id, "InHotFolder")
    # Delivered: the same manifest again is not delivered again.
    make_pdf(daemon.inbox / "D1-v3.pdf", pages=CARD)
    drop(daemon.inbox / "dup.yaml", 'order_id: "D1"\nproduct: bc-85x55\nquantity: 10\nartwork: [D1-v3.pdf]\n')
    error = daemon.root / "failed" / "dup.yaml" / "ERROR.txt"
    wait_for(error.is_file, what="duplicate refused")
    assert "already delivered" in error.read_text() and "reprint: true" in error.read_text()
    assert len(list((tmp_path / "hot" / "indigo").iterdir())) == 1
    # reprint: true is a new delivery, recorded as such (the first copy was taken by the printer).
    for f in (tmp_path / "hot" / "indigo").iterdir():
        f.unlink()
    make_pdf(daemon.inbox / "D1-v4.pdf", pages=CARD)
    drop(
        daemon.inbox / "reprint.yaml",
        'order_id: "D1"\nreprint: true\nblocked: false\nproduct: bc-85x55\nquantity: 10\nartwork: [D1-v4.pdf]\n',
    )
    wait_for(lambda: statuses(daemon.job(job_id)).count("InHotFolder") == 2, what="second delivery")
    job = daemon.job(job_id)
    assert any(e["status"] == "RecreationRequested" and e["detail"] == "reprint" for e in job["history"])
    assert len(list((tmp_path / "hot" / "indigo").iterdir())) == 1


def test_operator_commands_on_unknown_jobs_fail_cleanly(make_daemon) -> None:
    daemon = make_daemon()
    for args in (("release", "nope"), ("reject", "nope"), ("retry", "nope"), ("show", "nope")):
        result = daemon.cli(*args)
        assert result.returncode == 1, args
        assert result.stderr.startswith("spo-hotfolder: error:") and result.stderr.count("\n") == 1
    usage = daemon.cli("release")
    assert usage.returncode == 2
    bad_status = daemon.cli("jobs", "--status", "Bogus")
    assert bad_status.returncode == 2 and "unknown status 'Bogus'" in bad_status.stderr
    assert daemon.cli("jobs", "--status", "inhotfolder").returncode == 0  # any case


def test_retry_on_a_job_that_did_not_fail_is_an_error(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon()
    job_id = order(daemon, "Y1")
    daemon.wait_status(job_id, "InHotFolder")
    result = run_cli(daemon.config, "retry", job_id)
    assert result.returncode == 1 and "nothing to retry" in result.stderr


def _overwrite_in_place(target: Path, source: Path) -> None:
    """What a file explorer's "Replace the file" does on a share: the same file, new content. The
    daemon made the file read-only; a share that ignores modes, or root, writes it all the same
    (the write bit given back here, so that the test also runs as a user who is not root)."""
    target.chmod(target.stat().st_mode | 0o200)
    with open(target, "r+b") as fh:
        fh.write(source.read_bytes())
        fh.truncate()


def test_artwork_overwritten_in_place_is_never_released_unchecked(make_daemon, tmp_path: Path) -> None:
    # One artwork file: output/ and artwork/ hold the same file; overwriting either changes both.
    daemon = make_daemon(blocking={"block_on_arrival": True})
    make_pdf(daemon.inbox / "OV1.pdf", pages=CARD, trimbox=(3, 3, 88, 58))  # print-ready: output = artwork
    drop(daemon.inbox / "OV1.yaml", 'order_id: "OV1"\nproduct: bc-85x55\nquantity: 10\nartwork: [OV1.pdf]\n')
    job_id = "OV1-1"
    folder = held(daemon, job_id) and daemon.root / "quarantine" / job_id
    job = daemon.job(job_id)
    assert os.path.samefile(folder / "artwork" / "OV1.pdf", daemon.root / job["output"])
    assert "Never overwrite the files in artwork/ or output/" in (folder / "STATUS.txt").read_text()
    other = make_pdf(tmp_path / "other.pdf", pages=CARD * 2)  # 4 pages: never checked
    _overwrite_in_place(folder / "artwork" / "OV1.pdf", other)
    drop(folder / "RELEASE", "ivan\n")
    failed = daemon.root / "failed" / job_id
    wait_for(lambda: (failed / "ERROR.txt").is_file(), what="failed/ with ERROR.txt")
    error = (failed / "ERROR.txt").read_text()
    assert "changed after it was checked" in error and "replace/" in error and "RETRY" in error
    job = daemon.wait_status(job_id, "ValidationFailed")  # (recorded just after the folder moved)
    assert job["blocked"] is True
    # (no OutputCreationFailed without OutputCreationStarted before it: SPEC 6)
    assert statuses(job)[-2:] == ["OutputCreated", "ValidationFailed"], statuses(job)
    assert job["output"] is None, "the changed output is in history/: no output to name (audit V)"
    assert "Output: not created yet" in (failed / "STATUS.txt").read_text()
    assert not list((tmp_path / "hot" / "indigo").iterdir())
    assert [p for p in (failed / "history").iterdir() if "changed-output-" in p.name]
    assert "refused" in (failed / "STATUS.txt").read_text()
    # RETRY checks artwork/ as it is now: 4 pages, where bc-* expects 2.
    drop(failed / "RETRY", "ivan\n")
    wait_for(lambda: "ValidationFailed" in statuses(daemon.job(job_id) or {"history": []}), what="checked again")
    assert not list((tmp_path / "hot" / "indigo").iterdir())


def test_a_changed_output_waiting_for_a_copy_retry_is_not_sent(make_daemon, tmp_path: Path) -> None:
    hot = tmp_path / "hot" / "indigo"
    daemon = make_daemon(delivery={"max_attempts": 20, "backoff_seconds": [0.5]})
    hot.rename(tmp_path / "unmounted")
    job_id = order(daemon, "OV2")
    job = daemon.wait_status(job_id, "CopyToHotFolderFailed")
    output = daemon.root / job["output"]
    _overwrite_in_place(output, make_pdf(tmp_path / "edited.pdf", pages=CARD))  # same pages, other file
    (tmp_path / "unmounted").rename(hot)
    wait_for(lambda: (daemon.root / "failed" / job_id / "ERROR.txt").is_file(), what="failed/ with ERROR.txt")
    assert "changed after it was checked" in (daemon.root / "failed" / job_id / "ERROR.txt").read_text()
    assert not list(hot.iterdir())
    # RETRY checks the artwork as it is now (it passes) and sends it.
    drop(daemon.root / "failed" / job_id / "RETRY", "")
    daemon.wait_status(job_id, "InHotFolder")
    assert [p.name for p in hot.iterdir()] == ["OV2_OV2-1_bc-85x55_x10.pdf"]


def test_a_new_text_document_renamed_release_is_not_still_answered_as_left_alone(make_daemon) -> None:
    """Audit AE: a file explorer's "New Text Document.txt", renamed RELEASE.txt a moment later,
    released the job, but STATUS.txt still said the file was "not a drop file, left alone"."""
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "N1")
    held(daemon, job_id)
    folder = daemon.root / "quarantine" / job_id
    drop(folder / "New Text Document.txt", b"")
    wait_for(
        lambda: "New Text Document.txt: not a drop file" in (folder / "STATUS.txt").read_text(),
        what="the new text document answered",
    )
    os.replace(folder / "New Text Document.txt", folder / "RELEASE.txt")
    daemon.wait_status(job_id, "InHotFolder")
    status = (daemon.root / "done" / job_id / "STATUS.txt").read_text()
    assert "RELEASE" in status.split("Last action or notice:")[1]
    assert "New Text Document.txt" not in status, status


def test_a_drop_file_put_into_output_or_artwork_is_answered_where_it_should_go(make_daemon) -> None:
    """Audit BY 3: an operator looking at the output in Explorer dropped RELEASE.txt there (and
    REJECT.txt into artwork/): nothing happened and nothing said why. STATUS.txt now says where
    drop files go; they are not acted on there, and the artwork named release.pdf is no drop file."""
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "DS")
    held(daemon, job_id)
    folder = daemon.root / "quarantine" / job_id
    drop(folder / "output" / "RELEASE.txt", "erin\n")
    drop(folder / "artwork" / "reject.txt", "erin\nwrong paper\n")
    status = folder / "STATUS.txt"
    for where, name in (("output", "RELEASE.txt"), ("artwork", "reject.txt")):
        wait_for(
            lambda w=where, n=name: (
                (
                    f"{w}/{n}: drop files are read only in the job's folder itself, not in {w}/: nothing was done. "
                    "Move "
                    f"it one level up, into quarantine/{job_id}/"
                )
                in " ".join(status.read_text().split())
            ),
            what=f"{where}/{name} answered",
        )
    job = daemon.job(job_id)
    assert job["blocked"] and job["folder"] == f"quarantine/{job_id}"
    assert (folder / "output" / "RELEASE.txt").is_file() and (folder / "artwork" / "reject.txt").is_file()
    os.replace(folder / "output" / "RELEASE.txt", folder / "RELEASE.txt")  # where it goes
    daemon.wait_status(job_id, "InHotFolder")
    assert "erin" in (daemon.root / "done" / job_id / "STATUS.txt").read_text()


def test_a_drop_file_put_into_history_or_a_folder_made_by_hand_is_answered(make_daemon) -> None:
    """Audit AL D3: RELEASE.txt dropped into the job's history/ or into a "New folder" the operator
    made in the job folder was left there without a word: the job stayed blocked, and nothing said
    why. Answered as in output/ and artwork/; a drop file the daemon renamed "NOT USED - ..." and
    the operator then moved into a job folder is told to be renamed."""
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = order(daemon, "DH")
    held(daemon, job_id)
    folder = daemon.root / "quarantine" / job_id
    (folder / "New folder" / "inner").mkdir(parents=True)
    drop(folder / "history" / "RELEASE.txt", "erin\n")
    drop(folder / "New folder" / "inner" / "release", "erin\n")
    status = folder / "STATUS.txt"
    for where, name, how in (("history", "RELEASE.txt", "one level up"), ("New folder/inner", "release", "up")):
        wait_for(
            lambda w=where, n=name, h=how: (
                (
                    f"{w}/{n}: drop files are read only in the job's folder itself, not in {w}/: nothing was done. "
                    f"Move it {h}, into quarantine/{job_id}/"
                )
                in " ".join(status.read_text().split())
            ),
            what=f"{where}/{name} answered",
        )
    assert daemon.job(job_id)["blocked"]
    # A replacement put into a folder renamed by hand ("Replace", as a Windows user may type it).
    (folder / "Replace").mkdir()
    drop(folder / "Replace" / "card.pdf", b"%PDF-1.4\n%%EOF\n")
    wait_for(
        lambda: (
            f"Replace/card.pdf: a replacement PDF is read only in replace/ (so named, in lower case), not in "
            f"Replace/: nothing was done. Move it into quarantine/{job_id}/replace/"
            in " ".join(status.read_text().split())
        ),
        what="the PDF in Replace/ answered",
    )
    drop(folder / "NOT USED - RELEASE.txt - put it into a job's folder.txt", "erin\n")
    wait_for(
        lambda: (
            "the daemon gave this name to a drop file put where it did nothing; to act here, rename it RELEASE"
            in " ".join(status.read_text().split())
        ),
        what="the renamed drop file answered",
    )
    assert daemon.job(job_id)["blocked"]


def _ledger_copy(daemon: Daemon, to: Path) -> None:
    """A consistent copy of the ledger (SQLite's online backup), as a nightly backup takes it."""
    import sqlite3

    source = sqlite3.connect(daemon.root / "state" / "ledger.sqlite3")
    target = sqlite3.connect(to)
    with target:
        source.backup(target)
    source.close()
    target.close()


def test_a_ledger_put_back_from_an_older_backup_prints_nothing_again(make_daemon, tmp_path: Path) -> None:
    """Audit AE 1, 2: with the ledger put back from a backup taken while two jobs waited in
    quarantine/, the daemon moved the one released since (delivered, in done/) back into
    quarantine/, and the one rejected since back too: a release then printed them (the rejected
    order too, the delivered one twice). A job's folder found finished (done/, rejected/) where the
    ledger has never recorded it finished goes to failed/ saying so; nothing is printed by itself."""
    daemon = make_daemon(blocking={"block_on_arrival": True})
    released, rejected = order(daemon, "LB1"), order(daemon, "LB2")
    held(daemon, released)
    held(daemon, rejected)
    backup = tmp_path / "backup.sqlite3"
    _ledger_copy(daemon, backup)
    daemon.cli("release", released, "--by", "alice", check=True)
    daemon.cli("reject", rejected, "--by", "bob", "--reason", "customer cancelled", check=True)
    later = held(daemon, order(daemon, "LB3"))["job_id"]  # came after the backup
    daemon.wait_status(released, "InHotFolder")
    daemon.wait_status(rejected, "Rejected")
    printed = daemon.root.parent / "hot" / "indigo" / "LB1_LB1-1_bc-85x55_x10.pdf"
    assert printed.is_file()
    printed.unlink()  # the printer took it
    assert daemon.stop() == 0
    ledger = daemon.root / "state" / "ledger.sqlite3"
    for extra in ("-wal", "-shm"):
        ledger.with_name(ledger.name + extra).unlink(missing_ok=True)
    backup.replace(ledger)
    daemon.env["WATCHDOG_USEC"] = "1000000"  # (no systemd: a heartbeat every 0.5 s)
    daemon.start()
    for job_id, was in ((released, "done"), (rejected, "rejected")):
        job = wait_for(
            lambda j=job_id: (found := daemon.job(j)) and found["folder"] == f"failed/{j}" and found,
            timeout=20,
            what=f"{job_id} in failed/",
        )
        error = (daemon.root / "failed" / job_id / "ERROR.txt").read_text()
        assert f"its folder was in {was}/" in error and "backup" in error, error
        assert "\n\n\n" not in error, error  # (audit BW 5: an empty list of problems)
        assert job["blocked"] is True
        # (audit BW 5: recorded CopyToHotFolderFailed, which SPEC 6 keeps for copy attempts)
        assert "CopyToHotFolderFailed" not in [h["status"] for h in job["history"]], job["history"]
    assert not list(printed.parent.iterdir()), "nothing copied again"
    events = [e for e in daemon.log_events() if e.get("event") == "recovery.ledger_behind"]
    assert {e["job_id"] for e in events} == {released, rejected} and {e["level"] for e in events} == {"error"}
    [unknown] = [e for e in daemon.log_events() if e.get("event") == "recovery.job_folders_unknown"]
    assert unknown["job_folders"] == [f"quarantine/{later}"] and unknown["level"] == "error"
    # ... and `health`, where a sysadmin's monitoring looks, says it until the folder is dealt with.
    unhealthy = wait_for(lambda: (h := daemon.cli("health")).returncode == 1 and h, timeout=10, what="health")
    assert unhealthy.stderr.startswith(
        f"spo-hotfolder: unhealthy: 1 job folder the ledger does not know (quarantine/{later}): not continued; "
    ), unhealthy.stderr
    shutil.move(daemon.root / "quarantine" / later, tmp_path / later)  # (its order to be sent again)
    wait_for(lambda: daemon.cli("health").returncode == 0, timeout=10, what="health ok again")
