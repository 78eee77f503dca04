"""fsutil: a big copy is written to disk while it goes on (no thread left behind); write_new."""

from __future__ import annotations

import errno
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


def test_a_copy_whose_folder_was_renamed_meanwhile_is_removed_where_it_is(tmp_path: Path) -> None:
    """Audit AG 1: a hot folder renamed while a copy into it went on: the copy failed (its folder
    gone), and its whole temp file stayed in the renamed folder, taken for another sender's."""
    src, _ = _source(tmp_path, 10 * CHUNK)
    folder = tmp_path / "press"
    folder.mkdir()
    calls: list[int] = []

    def rename_on_the_way() -> bool:
        calls.append(1)
        if len(calls) == 2:
            folder.rename(tmp_path / "press-moved")
        return False

    with pytest.raises(FileNotFoundError):
        copy_file(
            src,
            folder / ".x.pdf.part",
            chunk=CHUNK,
            cancelled=rename_on_the_way,
            then=lambda fd: os.lstat(folder / ".x.pdf.part"),
        )
    assert os.listdir(tmp_path / "press-moved") == []
    assert not _write_behind_threads()


def test_a_failed_copy_never_removes_another_file_made_under_its_name(tmp_path: Path) -> None:
    src, _ = _source(tmp_path, 10 * CHUNK)
    dst = tmp_path / "out.pdf"
    checks = iter([False, True])

    def replaced_then_cancelled() -> bool:
        if next(checks):
            dst.unlink()
            dst.write_bytes(b"another sender's")
            return True
        return False

    with pytest.raises(InterruptedError):
        copy_file(src, dst, chunk=CHUNK, cancelled=replaced_then_cancelled)
    assert dst.read_bytes() == b"another sender's"


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


def test_rename_noreplace_never_replaces_what_came_meanwhile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit AZ D1: the job ticket's rename replaced another sender's ticket of that name renamed
    into the hot folder between the daemon's look and its rename."""
    from spo_hotfolder import fsutil

    for atomic in (True, False):  # renameat2(RENAME_NOREPLACE), and the look + rename without it
        if not atomic:
            monkeypatch.setattr(fsutil, "_libc_renameat2", lambda: None)
        src, dst = tmp_path / f".x{atomic}.part", tmp_path / f"x{atomic}.json"
        src.write_text("ours")
        fsutil.rename_noreplace(src, dst)
        assert dst.read_text() == "ours" and not src.exists()
        src.write_text("ours again")
        with pytest.raises(FileExistsError):
            fsutil.rename_noreplace(src, dst)
        assert dst.read_text() == "ours" and src.read_text() == "ours again"


def test_a_ticket_that_comes_just_before_the_daemon_s_rename_is_not_overwritten(tmp_path: Path) -> None:
    from spo_hotfolder.config import HotFolderConfig
    from spo_hotfolder.delivery import DeliveryError, publish_sidecar

    hot = HotFolderConfig(name="indigo", path=tmp_path, ticket="json")
    final = tmp_path / "A_A-1.pdf"
    final.write_bytes(b"%PDF-1.4")
    foreign = tmp_path / "A_A-1.json"

    def another_sender() -> None:
        foreign.write_text("FOREIGN")

    with pytest.raises(DeliveryError) as info:
        publish_sidecar(final, b'{"job_id": "A-1"}', hot, before_rename=another_sender)
    assert "a job ticket named A_A-1.json came into hot folder indigo just as this job's was written" in str(info.value)
    assert foreign.read_text() == "FOREIGN"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["A_A-1.json", "A_A-1.pdf"]  # no temp file left


def test_atomic_write_never_writes_through_a_link_at_its_temp_name(tmp_path: Path) -> None:
    """Audit DD 3: STATUS.txt's temp name (.STATUS.txt.<pid>.tmp) is known; a symbolic link put
    there in an operator's folder had its target (another job's artwork, the ledger) truncated,
    written with the text and made 0644. A leftover of a crash is replaced too."""
    import os

    from spo_hotfolder import fsutil

    target = tmp_path / "artwork.pdf"
    target.write_bytes(b"%PDF-1.4 another job's artwork")
    target.chmod(0o444)
    status = tmp_path / "STATUS.txt"
    (tmp_path / f".STATUS.txt.{os.getpid()}.tmp").symlink_to(target)
    fsutil.atomic_write(status, "Job A-1 ...\n")
    assert target.read_bytes() == b"%PDF-1.4 another job's artwork" and target.stat().st_mode & 0o777 == 0o444
    assert status.read_text() == "Job A-1 ...\n" and not status.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["STATUS.txt", "artwork.pdf"]


def test_a_long_name_cut_to_fit_keeps_its_bytes_that_are_not_utf8_and_whole_characters() -> None:
    """Audit DD 6: a 255-byte Latin-1 name lost every non-UTF-8 byte when shortened: "Müller"
    became "Mller", a name of such bytes only "~cb4e09a8.pdf", and ERROR.txt's "read as
    Windows-1252 it is:" showed that."""
    from spo_hotfolder.fsutil import fit_name

    latin1 = os.fsdecode(b"Rechnung_M\xfcller_" + b"x" * 240 + b".pdf")
    short = fit_name(latin1, 100)
    assert os.fsencode(short).startswith(b"Rechnung_M\xfcller_x") and short.endswith(".pdf")
    assert len(os.fsencode(short)) <= 100
    only = os.fsdecode(b"\xe9" * 250 + b".pdf")
    assert os.fsencode(fit_name(only, 100)).startswith(b"\xe9" * 80)
    utf8 = "é" * 200 + ".pdf"
    cut = fit_name(utf8, 101)
    assert cut.startswith("é" * 40) and len(cut.encode()) <= 101 and cut.encode().decode() == cut


@pytest.mark.parametrize(
    ("code", "copied"), [(errno.EPERM, True), (errno.ENOSYS, True), (errno.ENOTSUP, True), (errno.EIO, False)]
)
def test_a_copy_onto_a_filesystem_that_decides_modes_itself_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, copied: bool
) -> None:
    """Review GT 1: a hot folder on an NTFS/FAT disk or SMB share mounted with a fixed owner and
    mode (`uid=`, `umask=`) refuses a chmod (EPERM; ENOSYS through FUSE): every copy failed "not
    permitted". The file keeps the mode the filesystem gives it; other errors still fail the copy."""
    src, data = _source(tmp_path, 1000)
    dst = tmp_path / "hot.pdf"

    def refused(fd: int, mode: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(fsutil.os, "fchmod", refused)
    if copied:
        assert copy_file(src, dst) == 1000 and dst.read_bytes() == data
    else:
        with pytest.raises(OSError):
            copy_file(src, dst)
        assert not dst.exists()
