"""The fork server's temp folder (``pymp-*``) left behind by a daemon killed with -9 is removed at
the next start (``service.sweep_left_temp_dir``), and nothing else is."""

from __future__ import annotations

import multiprocessing.util
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from spo_hotfolder.fsutil import proc_dir
from spo_hotfolder.prestart import TEMP_DIR_MARK, mark_temp_dir
from spo_hotfolder.service import _sweep_marked_temp_dirs, sweep_left_temp_dir


def left_dir(tmp_path: Path, name: str = "pymp-abc123", extra: str | None = None) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    os.mknod(folder / "listener-xyz", stat.S_IFSOCK | 0o600)  # what multiprocessing leaves there
    if extra:
        (folder / extra).write_text("not ours")
    return folder


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def named(folder: Path, pid: int | None = None) -> str:
    return f"{dead_pid() if pid is None else pid} {folder}\n"


def exec_done(pid: int) -> None:
    """Popen returns while the child may still be in its exec, its /proc cmdline empty."""
    proc, deadline = proc_dir(pid), time.monotonic() + 10
    while proc is not None and not (proc / "cmdline").read_bytes() and time.monotonic() < deadline:
        time.sleep(0.005)


def this_one() -> str:
    return f"{os.getpid()} {multiprocessing.util.get_temp_dir()}"


def test_the_folder_a_killed_daemon_left_is_removed_and_this_one_named(tmp_path: Path) -> None:
    folder = left_dir(tmp_path)
    record = tmp_path / "fork-server-temp"
    record.write_text(named(folder))
    sweep_left_temp_dir(record)
    assert not folder.exists()
    assert record.read_text().strip() == this_one()


def test_the_folder_of_a_daemon_that_runs_is_left(tmp_path: Path) -> None:
    """Audit AE 5: a daemon started on a copy of a running root (a backup tried out) removed the
    running daemon's folder, named in the copied record: its PDF worker could not be started again."""
    folder = left_dir(tmp_path)
    record = tmp_path / "fork-server-temp"
    # A daemon that runs (health.daemon_alive: a live pid whose command line is spo-hotfolder's).
    daemon = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "spo-hotfolder", "run"])
    try:
        exec_done(daemon.pid)
        record.write_text(named(folder, pid=daemon.pid))
        sweep_left_temp_dir(record)
    finally:
        daemon.kill()
        daemon.wait()
    assert (folder / "listener-xyz").exists()


def test_a_folder_whose_socket_a_process_listens_on_is_left(tmp_path: Path) -> None:
    """Whatever the record's pid says (reused, or the record from another machine)."""
    folder = Path(tempfile.mkdtemp(prefix="pymp-", dir="/tmp"))  # short: a socket's path has a limit
    try:
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(str(folder / "listener-abc"))
            listener.listen()
            record = tmp_path / "fork-server-temp"
            record.write_text(named(folder))
            sweep_left_temp_dir(record)
            assert (folder / "listener-abc").exists()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_folder_holding_anything_else_is_left(tmp_path: Path) -> None:
    folder = left_dir(tmp_path, extra="notes.txt")
    other = left_dir(tmp_path, name="keep-me")
    for kept in (folder, other):
        record = tmp_path / "fork-server-temp"
        record.write_text(named(kept))
        sweep_left_temp_dir(record)
        assert (kept / "listener-xyz").exists()


def test_a_link_to_such_a_folder_is_left(tmp_path: Path) -> None:
    folder = left_dir(tmp_path)
    link = tmp_path / "pymp-link"
    link.symlink_to(folder)
    record = tmp_path / "fork-server-temp"
    record.write_text(named(link))
    sweep_left_temp_dir(record)
    assert (folder / "listener-xyz").exists() and link.is_symlink()


def test_no_record_or_a_gone_folder_is_nothing_to_do(tmp_path: Path) -> None:
    record = tmp_path / "fork-server-temp"
    sweep_left_temp_dir(record)  # the first start
    assert record.read_text().strip() == this_one()
    record.write_text(named(tmp_path / "pymp-gone"))  # removed at its daemon's normal exit
    sweep_left_temp_dir(record)
    assert record.read_text().strip() == this_one()


def test_a_proc_of_another_pid_namespace_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sandbox that made a pid namespace without mounting its own /proc (CI's, stop 54): there,
    /proc/<pid> is another process's. A live pid is then trusted, not taken for a reused one (the
    running daemon's folder was removed), and the PDF worker is not recycled for another's size."""
    from spo_hotfolder import health, pdfwork

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # not a daemon
    try:
        if proc_dir(os.getpid()) is not None:  # /proc is ours (a server's; this suite run outside a sandbox)
            assert not health.daemon_alive(other.pid)  # its command line read: no daemon
            assert pdfwork._rss_bytes(os.getpid()) > 0
        real_pid = os.getpid()
        monkeypatch.setattr(os, "getpid", lambda: real_pid + 1)  # /proc/self no longer names "us"
        assert proc_dir(other.pid) is None
        assert health.daemon_alive(other.pid)
        assert pdfwork._rss_bytes(real_pid) == 0
    finally:
        other.kill()
        other.wait()
    assert not health.daemon_alive(other.pid)


def marked(folder: Path, pid: int) -> Path:
    (folder / TEMP_DIR_MARK).write_text(f"{pid}\n")
    return folder


def test_a_folder_a_daemon_killed_before_naming_it_left_is_removed_by_its_mark(tmp_path: Path) -> None:
    """Audit BM D2: a daemon killed with -9 in its first half second (the fork server started,
    state/fork-server-temp not written yet) left its pymp-* folder for good. The folder holds the
    daemon's pid; the next start removes such a folder once that daemon is gone. Folders without
    the mark, or marked by a daemon that runs, are left."""
    gone = marked(left_dir(tmp_path, "pymp-gone1"), dead_pid())
    unmarked = left_dir(tmp_path, "pymp-other")
    # Marked by a process that runs and is no daemon (a test suite's, between two fork servers: CI
    # once): left as well.
    mine = marked(left_dir(tmp_path, "pymp-tests"), os.getpid())
    daemon = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "spo-hotfolder", "run"])
    try:
        exec_done(daemon.pid)
        running = marked(left_dir(tmp_path, "pymp-running"), daemon.pid)
        _sweep_marked_temp_dirs(tmp_path, here=str(tmp_path / "pymp-mine"))
    finally:
        daemon.kill()
        daemon.wait()
    assert not gone.exists()
    assert (unmarked / "listener-xyz").exists() and (running / "listener-xyz").exists()
    assert (mine / "listener-xyz").exists()


def test_the_mark_is_written_where_the_fork_server_listens() -> None:
    """``prestart.mark_temp_dir``: this process's pid, in multiprocessing's temp folder."""
    mark_temp_dir()
    mark = Path(multiprocessing.util.get_temp_dir()) / TEMP_DIR_MARK
    try:
        assert mark.read_text() == f"{os.getpid()}\n"
    finally:
        mark.unlink()
