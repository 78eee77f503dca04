"""fsutil.Flusher: artwork files are fsynced in the background, never more than its limit at once."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import spo_hotfolder.fsutil as fsutil
from spo_hotfolder.fsutil import Flusher


def test_a_submitted_file_is_fsynced(tmp_path: Path, fsynced: list[str]) -> None:
    big = tmp_path / "big.pdf"
    big.write_bytes(b"x" * 4096)
    flusher = Flusher()
    assert flusher.submit(big)
    flusher.close()
    assert fsynced == [str(big)] and flusher.flushed == 1


def test_a_missing_file_is_not_queued(tmp_path: Path) -> None:
    flusher = Flusher()
    assert not flusher.submit(tmp_path / "gone.pdf")
    flusher.close()
    assert flusher.flushed == 0


def test_at_most_limit_files_wait_and_a_failed_fsync_is_harmless(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    started = threading.Event()

    def slow_failing_fsync(fd: int) -> None:
        started.set()
        release.wait(10)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fsutil.os, "fsync", slow_failing_fsync)
    files = _files(tmp_path, 4)
    flusher = Flusher(limit=2)
    assert flusher.submit(files[0]) and flusher.submit(files[1])
    assert started.wait(10)
    assert not flusher.submit(files[2]), "the queue is full: the later fsync does the work"
    release.set()
    flusher.close()
    assert flusher.flushed == 0
    assert flusher.submit(files[3]), "room again once the queued ones are done"
    flusher.close()
    fds = os.listdir("/proc/self/fd")
    assert not any(_safe_readlink(fd).startswith(str(tmp_path)) for fd in fds), "no descriptor left open"


def _files(folder: Path, count: int) -> list[Path]:
    """``count`` small files in ``folder``."""
    files = [folder / f"f{i}.pdf" for i in range(count)]
    for f in files:
        f.write_bytes(b"x")
    return files


def _safe_readlink(fd: str) -> str:
    try:
        return str(Path(f"/proc/self/fd/{fd}").readlink())
    except OSError:
        return ""


def test_a_failed_close_leaves_the_flusher_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit CE D4: an EIO from close() killed the flusher's thread for the daemon's life."""
    real_close = os.close
    failed: list[int] = []

    def close_failing_once(fd: int) -> None:
        real_close(fd)
        if threading.current_thread().name == "flusher" and not failed:
            failed.append(fd)
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(fsutil.os, "close", close_failing_once)
    files = _files(tmp_path, 2)
    flusher = Flusher()
    assert flusher.submit(files[0])
    thread = flusher._thread
    assert thread is not None
    assert flusher.submit(files[1])
    flusher.close()
    assert failed and flusher.flushed == 2 and not thread.is_alive()
