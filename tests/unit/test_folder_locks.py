"""The start's locks and marks on the spool folders (service.FolderLocks), two daemons in one
process: what each one's open folders say to the other."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

import spo_hotfolder.service as service
from spo_hotfolder.config import load_config
from spo_hotfolder.service import FolderLocks, StartupError, prepare_folders
from tests.daemon import write_config


def _locks(tmp: Path, **paths: str) -> FolderLocks:
    config = load_config(write_config(tmp, paths={"root": str(tmp / "root"), **paths}))
    prepare_folders(config)
    return FolderLocks(config)


@pytest.fixture
def backup_lock(tmp_path: Path) -> Iterator[Path]:
    """A backup script's `flock` held on a shared inbox."""
    shared = tmp_path / "shared-inbox"
    shared.mkdir()
    fd = os.open(shared, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    yield shared
    os.close(fd)


def test_of_two_daemons_sharing_an_inbox_behind_another_program_s_lock_one_is_refused(
    tmp_path: Path, backup_lock: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review BT 1 (of HQ 2's mend): two daemons with one paths.inbox, started at the same moment
    while a backup script held a flock on it: both failed the flock, both waited for the other's
    mark, neither saw it, and both ran (orders printed twice). A daemon looks for another's mark
    once its own is set, through its own open folder: here the other one marked the inbox after
    this one's first look (taken as seen nothing), and this one is refused."""
    first = _locks(tmp_path / "a", inbox=str(backup_lock))
    first.acquire()
    second = _locks(tmp_path / "b", inbox=str(backup_lock))
    monkeypatch.setattr(service, "_marked_at", lambda folder, *marks: False)  # (the first look came before)
    with pytest.raises(StartupError, match=f"another spo-hotfolder already uses {backup_lock} \\(paths.inbox\\)"):
        second.acquire()
    first.release()
    second.acquire()  # (the first one gone: the folder is free, the backup's lock refuses nothing)
    second.release()


def test_another_program_s_lock_on_a_new_root_is_said_once(tmp_path: Path) -> None:
    """Review BT 4 (of HQ 2's mend): a new root is looked at twice at the start (before its folders
    are made, then with them): the warning came twice, and each look waited half a second for a
    mark. Said once; no wait."""
    locks = _locks(tmp_path)
    fd = os.open(tmp_path / "root", os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with capture_logs() as logs:
            locks.acquire()
            locks.release()
            locks.acquire()
        said = [e for e in logs if e["event"] == "daemon.folder_locked_by_another_program"]
        assert [(e["log_level"], e["key"]) for e in said] == [("warning", "paths.root")]
    finally:
        locks.release()
        os.close(fd)


@pytest.mark.parametrize("case", ["none", "this process", "stale", "another spool's daemon's", "fresh"])
def test_a_running_daemon_is_told_by_its_fresh_health_report(tmp_path: Path, case: str) -> None:
    """Review IC 3, IE 2: an operator command that may not open the instance lock waits for the
    running daemon's answer, else fails at once. The pid the lock file kept after a stop, reused by
    another spool's daemon, was taken for this one's: the command waited 30 s for nothing. One
    alive whose report is old is said hung (IF 2: the lock's permissions were blamed)."""
    import json
    import subprocess
    import sys
    import time
    from datetime import UTC, datetime, timedelta

    from spo_hotfolder.clock import iso

    config = load_config(write_config(tmp_path))
    prepare_folders(config)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "spo_hotfolder"])
    try:
        cmdline = Path(f"/proc/{other.pid}/cmdline")
        for _ in range(500):  # (until it runs its own program: before, it is this one's fork)
            if b"spo_hotfolder" in cmdline.read_bytes():
                break
            time.sleep(0.01)
        pid = {"this process": os.getpid()}.get(case, other.pid)
        age = 600 if case == "stale" else 1
        if case not in ("none", "another spool's daemon's"):  # (a graceful stop removes the report)
            heartbeat = iso(datetime.now(UTC) - timedelta(seconds=age))
            report = {"pid": pid, "heartbeat": heartbeat, "heartbeat_interval_seconds": 5}
            (config.paths.state / "health.json").write_text(json.dumps(report))
        (config.paths.state / "daemon.lock").write_text(f"{other.pid}\n")  # (what a stop leaves)
        if case == "stale":  # (alive, its report old: hung, a full disk; review IF 2)
            with pytest.raises(OSError, match=r"runs but has not reported for 600 s \(hung, or its disk is full\)"):
                service._daemon_runs(config)
        else:
            assert service._daemon_runs(config) is (case == "fresh")
    finally:
        other.kill()
        other.wait()
