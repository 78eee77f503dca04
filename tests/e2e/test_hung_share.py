"""The real daemon with a hot folder on a share that stops answering (SPEC 8: an unreachable share
fails the affected jobs with a clear reason and retries; the daemon keeps serving the other jobs).

The share is a FUSE loopback (tests/fuseshare.py, fusepy on libfuse 2) whose every operation waits
while a FREEZE file exists, as a call into an SMB or NFS share whose server is gone does. Skipped
where FUSE cannot be mounted (no /dev/fuse, no fusermount, no permission)."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.daemon import Daemon, drop, run_cli, statuses, wait_for, write_config
from tests.pdfs import make_pdf

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Share:
    mount: Path
    source: Path
    freeze_file: Path
    log: Path
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def freeze(self) -> None:
        self.freeze_file.touch()

    def thaw(self) -> None:
        self.freeze_file.unlink(missing_ok=True)

    def mount_it(self) -> None:
        """Starts the FUSE server and waits until the share is mounted (skips the test where FUSE
        cannot be mounted)."""
        with self.log.open("ab") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "tests.fuseshare", str(self.source), str(self.mount), str(self.freeze_file)],
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.servers.append(server)
        deadline = time.monotonic() + 10
        while not os.path.ismount(self.mount):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"a FUSE share cannot be mounted here: {self.log.read_text(errors='replace')[-300:]}")
            time.sleep(0.05)

    def mounted(self) -> bool:
        """In the mount table (os.path.ismount says False for a mount whose server is gone)."""
        with open("/proc/self/mounts") as table:
            return any(line.split()[1] == str(self.mount) for line in table if len(line.split()) > 1)

    def unmount(self) -> None:
        if self.mounted():
            done = subprocess.run(["fusermount", "-u", str(self.mount)], capture_output=True, check=False)
            if done.returncode != 0:
                subprocess.run(["fusermount", "-uz", str(self.mount)], capture_output=True, check=False)
        for server in self.servers:
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture
def share(tmp_path: Path, daemons: list[Daemon]) -> Iterator[Share]:
    """(After ``daemons``, so that it thaws before they are stopped: a process with a thread in a
    call the FUSE server has not answered cannot exit, not even by SIGKILL, until it answers.)"""
    if not os.path.exists("/dev/fuse") or shutil.which("fusermount") is None:
        pytest.skip("FUSE is not available here (/dev/fuse, fusermount)")
    pytest.importorskip("fuse", reason="fusepy (the test extras) is not installed")
    made = Share(tmp_path / "hot" / "indigo", tmp_path / "share-source", tmp_path / "FREEZE", tmp_path / "fuse.log")
    made.source.mkdir()
    made.mount.mkdir(parents=True)
    try:
        made.mount_it()
        yield made
    finally:
        made.thaw()  # every call waiting in it returns
        made.unmount()


def _card_order(daemon: Daemon, order_id: str) -> str:
    """A business-card order (2 pages, 91 x 61 mm: routed to indigo); returns its job id."""
    pdf = f"{order_id.lower()}.pdf"
    make_pdf(daemon.inbox / pdf, pages=[(91.0, 61.0), (91.0, 61.0)])
    drop(
        daemon.inbox / f"{order_id}.yaml",
        f'order_id: "{order_id}"\nproduct: bc-85x55\nquantity: 1\nartwork: [{pdf}]\n',
    )
    return f"{order_id}-1"


def _failed_attempts(daemon: Daemon, job_id: str) -> list[str]:
    job = daemon.job(job_id) or {"history": []}
    return [e["detail"] for e in job["history"] if e["status"] == "CopyToHotFolderFailed"]


def test_a_share_that_stops_answering_fails_its_jobs_and_the_others_are_delivered(
    share: Share, start, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    share.freeze()  # the share's server is gone before the daemon even starts
    began = time.monotonic()
    daemon = start(
        hot_folders={"indigo": {"path": str(share.mount)}},
        delivery={"max_attempts": 9, "backoff_seconds": [1], "share_timeout_seconds": 1},
    )
    assert time.monotonic() - began < 20  # its start looked at the share, and went on

    make_pdf(daemon.inbox / "card.pdf", pages=[(91.0, 61.0), (91.0, 61.0)])
    drop(daemon.inbox / "A.yaml", 'order_id: "A"\nproduct: bc-85x55\nquantity: 1\nartwork: [card.pdf]\n')
    make_pdf(daemon.inbox / "poster.pdf", pages=[(500, 700)])
    drop(daemon.inbox / "B.yaml", 'order_id: "B"\nproduct: poster-a1\nquantity: 2\nartwork: [poster.pdf]\n')

    # The other hot folder is served while indigo's share does not answer.
    daemon.wait_status("B-1", "InHotFolder", timeout=30)
    assert (tmp_path / "hot" / "large" / "B_B-1_poster-a1_x2.pdf").is_file()

    wait_for(lambda: len(_failed_attempts(daemon, "A-1")) >= 2, timeout=30, what="two failed attempts into indigo")
    first = _failed_attempts(daemon, "A-1")[0]
    assert first.startswith(f"attempt 1 of 9, hot folder indigo ({share.mount}) does not answer: "), first
    assert "is its share's server up and reachable?; next attempt at " in first
    status_txt = wait_for(
        lambda: (t := (daemon.root / "work" / "A-1" / "STATUS.txt").read_text()) and "does not answer" in t and t,
        what="STATUS.txt naming the share",
    )
    assert "CopyToHotFolderFailed" in status_txt
    assert any(e.get("event") == "hot_folder.not_answering" for e in daemon.log_events())

    share.thaw()  # the server is back: the job goes on, once
    job = daemon.wait_status("A-1", "InHotFolder", timeout=30)
    assert statuses(job).count("InHotFolder") == 1
    assert sorted(os.listdir(share.source)) == ["A_A-1_bc-85x55_x1.pdf"]  # no temporary file left either
    assert any(e.get("event") == "hot_folder.answering_again" for e in daemon.log_events())
    assert daemon.stop() == 0


def test_a_daemon_stopping_while_a_call_into_the_share_hangs_stops_in_time(share: Share, start) -> None:  # type: ignore[no-untyped-def]
    daemon = start(hot_folders={"indigo": {"path": str(share.mount)}})  # (the default time limit: 10 s)
    _card_order(daemon, "Z")
    daemon.wait_status("Z-1", "InHotFolder", timeout=30)  # (its start's look at the share is over)
    share.freeze()
    make_pdf(daemon.inbox / "card.pdf", pages=[(91.0, 61.0), (91.0, 61.0)])
    drop(daemon.inbox / "A.yaml", 'order_id: "A"\nproduct: bc-85x55\nquantity: 1\nartwork: [card.pdf]\n')
    daemon.wait_status("A-1", "OutputCreated", timeout=30)
    time.sleep(0.5)  # its delivery is now waiting for the share
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGTERM)
    # Stopped in its own time: the job abandoned, to go on at the next start. (The process itself
    # exits once the share answers: the kernel holds a thread in a call a FUSE server, or a hard
    # NFS mount, has not answered.)
    wait_for(
        lambda: any(e.get("event") == "daemon.stopped" for e in daemon.log_events()), timeout=8, what="daemon.stopped"
    )
    assert any(e.get("event") == "job.abandoned" for e in daemon.log_events())
    share.thaw()
    assert daemon.stop() == 0
    daemon.start()  # and the job goes on after the restart, once
    job = daemon.wait_status("A-1", "InHotFolder", timeout=30)
    assert statuses(job).count("InHotFolder") == 1
    assert sorted(os.listdir(share.source)) == ["A_A-1_bc-85x55_x1.pdf", "Z_Z-1_bc-85x55_x1.pdf"]


def test_a_share_unmounted_under_the_daemon_is_not_delivered_into_its_empty_mount_point(share: Share, start) -> None:  # type: ignore[no-untyped-def]
    daemon = start(
        hot_folders={"indigo": {"path": str(share.mount)}}, delivery={"max_attempts": 9, "backoff_seconds": [1]}
    )
    _card_order(daemon, "A")
    daemon.wait_status("A-1", "InHotFolder", timeout=30)
    assert os.listdir(share.source) == ["A_A-1_bc-85x55_x1.pdf"]

    share.unmount()  # the share goes away; its mount point stays, an empty folder of the local disk
    assert not os.path.ismount(share.mount) and share.mount.is_dir()
    _card_order(daemon, "B")

    detail = wait_for(lambda: _failed_attempts(daemon, "B-1"), timeout=30, what="B's attempt refused")[0]
    assert f"hot folder indigo ({share.mount}) is not mounted: it was seen as the mount point of a share" in detail
    assert os.listdir(share.mount) == []  # nothing the printer would never see

    assert daemon.stop() == 0  # and after a restart with the share still down
    daemon.start()
    _card_order(daemon, "C")
    wait_for(
        lambda: any("is not mounted" in d for d in _failed_attempts(daemon, "C-1")),
        timeout=30,
        what="C's attempt refused after the restart",
    )
    assert os.listdir(share.mount) == []

    share.mount_it()  # mounted again: B and C go on, into the share
    daemon.wait_status("B-1", "InHotFolder", timeout=30)
    daemon.wait_status("C-1", "InHotFolder", timeout=30)
    assert sorted(os.listdir(share.source)) == [
        "A_A-1_bc-85x55_x1.pdf",
        "B_B-1_bc-85x55_x1.pdf",
        "C_C-1_bc-85x55_x1.pdf",
    ]


def test_a_share_whose_server_is_gone_fails_its_jobs_in_words(share: Share, start) -> None:  # type: ignore[no-untyped-def]
    daemon = start(
        hot_folders={"indigo": {"path": str(share.mount)}}, delivery={"max_attempts": 9, "backoff_seconds": [1]}
    )
    share.servers[-1].kill()  # the FUSE server dies: every call into the mount says ENOTCONN
    share.servers[-1].wait()
    _card_order(daemon, "A")

    detail = wait_for(lambda: _failed_attempts(daemon, "A-1"), timeout=30, what="A's attempt refused")[0]
    assert (
        f"hot folder indigo ({share.mount}) is on a share that cannot be reached (Transport endpoint is not "
        "connected): is its server up and the share mounted?" in detail
    )
    share.unmount()
    share.mount_it()  # the server is back
    daemon.wait_status("A-1", "InHotFolder", timeout=30)
    assert os.listdir(share.source) == ["A_A-1_bc-85x55_x1.pdf"]


def test_check_config_and_init_say_a_share_does_not_answer_instead_of_hanging(share: Share, tmp_path: Path) -> None:
    """A sysadmin's check-config or init while a hot folder's share does not answer: each looks at
    the hot folders in a child process it can leave behind, says so, and exits (a thread of its own
    stuck in the call would keep the process from exiting until the share answers)."""
    config = write_config(
        tmp_path,
        hot_folders={"indigo": {"path": str(share.mount)}},
        delivery={"share_timeout_seconds": 1},
    )
    share.freeze()
    time.sleep(1.5)  # (the kernel answers a stat of the mount point from its cache for 1 s)
    began = time.monotonic()
    checked = run_cli(config, "check-config", timeout=30)
    assert time.monotonic() - began < 15
    assert checked.returncode == 0, checked.stderr
    assert "config OK" in checked.stdout
    assert f"hot folder indigo: {share.mount}  (does not answer!)" in checked.stdout
    assert f"note: {share.mount} does not answer: a look at it has not returned within 1 s" in checked.stderr
    assert f"hot folder large: {tmp_path / 'hot' / 'large'}\n" in checked.stdout  # the others as usual
    assert "large does not answer" not in checked.stderr

    began = time.monotonic()
    made = run_cli(config, "init", timeout=30)
    assert time.monotonic() - began < 15
    assert made.returncode == 0, made.stderr
    assert f"note: hot folder indigo ({share.mount}) does not answer: a look at it has not returned within 1 s" in (
        made.stderr
    )
    assert (tmp_path / "root" / "inbox").is_dir()

    share.thaw()  # answering again: nothing to say
    checked = run_cli(config, "check-config", timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert f"hot folder indigo: {share.mount}\n" in checked.stdout
    assert "(does not answer!)" not in checked.stdout
    assert "does not answer:" not in checked.stderr


def test_a_start_and_a_reload_held_up_by_a_share_keep_systemd_informed(
    share: Share, tmp_path: Path, daemons: list[Daemon]
) -> None:
    """Audits DB 1, CY 2: the start's and a reload's look at the hot folders waits up to
    delivery.share_timeout_seconds for a share that does not answer, on the main thread, which
    sends WATCHDOG=1: no ping came for that long (systemd kills the daemon once WatchdogSec= passes),
    and the start sent no EXTEND_TIMEOUT_USEC (TimeoutStartSec= kills it)."""
    from tests.e2e.test_service import NotifySocket

    sock = NotifySocket()
    try:
        share.freeze()
        config = write_config(
            tmp_path, hot_folders={"indigo": {"path": str(share.mount)}}, delivery={"share_timeout_seconds": 8}
        )
        daemon = Daemon(config, env={"NOTIFY_SOCKET": sock.path, "WATCHDOG_USEC": "4000000"})
        daemons.append(daemon)
        daemon.start()
        sock.wait(lambda f: "READY=1" in f, "READY=1", timeout=30)
        assert any(f.startswith("EXTEND_TIMEOUT_USEC=") for f in sock.fields())
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGHUP)
        sock.wait(lambda f: f.count("READY=1") >= 2, "READY=1 after the reload", timeout=30)
        with sock._lock:
            messages = list(sock.messages)
        began = next(at for at, fields in messages if "RELOADING=1" in fields)
        ended = [at for at, fields in messages if "READY=1" in fields][-1]
        pings = [began] + [at for at, fields in messages if "WATCHDOG=1" in fields and began < at < ended] + [ended]
        assert ended - began >= 7  # (the look waited for the share)
        assert max(b - a for a, b in itertools.pairwise(pings)) < 4  # (WatchdogSec=4)
    finally:
        sock.close()
