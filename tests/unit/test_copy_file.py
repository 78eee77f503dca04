"""fsutil: a big copy is written to disk while it goes on (no thread left behind); write_new."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import spo_hotfolder.fsutil as fsutil
from spo_hotfolder.fsutil import copy_file
from tests.unit.conftest import fd_path

CHUNK = 4096


def _write_behind_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "write-behind"]


def _source(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    src = tmp_path / "art.pdf"
    src.write_bytes(data)
    return src, data


def test_a_big_copy_is_flushed_while_it_goes_on_then_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    real_fdatasync, real_fsync, real_sendfile = os.fdatasync, os.fsync, os.sendfile
    flushed = threading.Event()

    def fdatasync(fd: int) -> None:
        calls.append(("fdatasync", fd_path(fd)))
        real_fdatasync(fd)
        flushed.set()

    def fsync(fd: int) -> None:
        calls.append(("fsync", fd_path(fd)))
        real_fsync(fd)

    def sendfile(out_fd: int, in_fd: int, offset: int, count: int) -> int:
        if offset == 3 * CHUNK:  # the copy goes on only once the chunks before are being flushed
            assert flushed.wait(10), "no background flush while the copy went on"
        return real_sendfile(out_fd, in_fd, offset, count)

    monkeypatch.setattr(fsutil.os, "fdatasync", fdatasync)
    monkeypatch.setattr(fsutil.os, "fsync", fsync)
    monkeypatch.setattr(fsutil.os, "sendfile", sendfile)
    src, data = _source(tmp_path, 10 * CHUNK + 123)
    dst = tmp_path / "hot" / ".tmp"
    dst.parent.mkdir()

    assert copy_file(src, dst, chunk=CHUNK) == len(data)

    assert dst.read_bytes() == data
    assert ("fdatasync", str(dst)) in calls, "chunks are written to disk during the copy"
    assert calls[-1] == ("fsync", str(dst)), "the copy ends with its own fsync, after every background flush"
    assert not _write_behind_threads()


def test_a_copy_of_one_chunk_or_less_starts_no_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []
    real_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        started.append(self.name)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    src, data = _source(tmp_path, CHUNK)
    dst = tmp_path / "out.pdf"
    assert copy_file(src, dst, chunk=CHUNK) == CHUNK
    assert dst.read_bytes() == data
    assert "write-behind" not in started


def test_a_failing_background_flush_leaves_the_final_fsync_to_decide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fdatasync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(fsutil.os, "fdatasync", fdatasync)
    src, data = _source(tmp_path, 8 * CHUNK)
    dst = tmp_path / "out.pdf"
    assert copy_file(src, dst, chunk=CHUNK) == len(data)
    assert dst.read_bytes() == data
    assert not _write_behind_threads()


def test_a_cancelled_copy_removes_its_partial_file_and_stops_flushing(tmp_path: Path) -> None:
    src, _ = _source(tmp_path, 10 * CHUNK)
    dst = tmp_path / "out.pdf"
    checks = iter([False, False, False, True])
    with pytest.raises(InterruptedError):
        copy_file(src, dst, chunk=CHUNK, cancelled=lambda: next(checks))
    assert not dst.exists()
    assert not _write_behind_threads()


def test_a_failing_final_fsync_removes_the_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fsutil.os, "fsync", fsync)
    src, _ = _source(tmp_path, 5 * CHUNK)
    dst = tmp_path / "out.pdf"
    with pytest.raises(OSError, match="No space"):
        copy_file(src, dst, chunk=CHUNK)
    assert not dst.exists()
    assert not _write_behind_threads()


def test_write_new_creates_the_file_durably_with_its_mode(tmp_path: Path, fsynced: list[str]) -> None:
    old = os.umask(0o077)
    try:
        fsutil.write_new(tmp_path / "manifest.json", b'{"order_id": "1"}')
    finally:
        os.umask(old)
    assert (tmp_path / "manifest.json").read_bytes() == b'{"order_id": "1"}'
    assert (tmp_path / "manifest.json").stat().st_mode & 0o777 == 0o644
    assert fsynced == [str(tmp_path / "manifest.json"), str(tmp_path)]
    with pytest.raises(FileExistsError):
        fsutil.write_new(tmp_path / "manifest.json", b"again")
    assert (tmp_path / "manifest.json").read_bytes() == b'{"order_id": "1"}', "an existing file is never touched"


def test_write_new_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fsutil.os, "fsync", fsync)
    with pytest.raises(OSError, match="No space"):
        fsutil.write_new(tmp_path / "manifest.json", b"x" * 100)
    assert list(tmp_path.iterdir()) == []
