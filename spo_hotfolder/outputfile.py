"""An output put in place in the job folder: temp name, fsync, rename (and the folder's fsync).

Either the same file as the one artwork (a hard link; a copy where links are refused, or where the
artwork is not the daemon's to make read-only) or what the
worker's PDF writer writes. No PDF library here: the daemon links unchanged artwork itself
(``link_unchanged``) without importing pypdf; ``output.build_output`` (in the worker) writes.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spo_hotfolder.digests import sha256_of
from spo_hotfolder.fsutil import fsync_dir, set_mode
from spo_hotfolder.pdfreport import ArtworkInput, describe_exception, quote_name

#: Numbers the temp names of linked outputs within this process.
_TEMP_IDS = itertools.count(1)


@dataclass(frozen=True, slots=True)
class OutputResult:
    path: str
    pages: int
    size_bytes: int
    sha256: str | None  # of a rewritten output; None when it is the artwork unchanged (preflight has its digest)
    copied_unchanged: bool


class OutputError(Exception):
    """The output could not be made; the message says why in plain words. ``spool``: the cause is
    the daemon's own disk or folders (full, missing, not writable), not the PDF. ``full``: the
    disk is full, which mends itself once space is freed (tried again on a schedule)."""

    def __init__(self, message: str, *, spool: bool = False, full: bool = False) -> None:
        super().__init__(message)
        self.spool = spool
        self.full = full


def _link_or_copy(src: str, tmp: str) -> None:
    """``tmp`` (a name not in use) becomes the same file as ``src``: a hard link where the daemon
    can then take the write bits away from it, else a copy.

    A file the daemon does not own (uploaded over a share as the operator's own user: Samba creates
    it as that user) keeps its mode, so a link would leave the artwork as received writable through
    the output: saving over output/ would destroy it (audit BR 1). The copy is the daemon's own."""
    if _can_make_read_only(src):
        try:
            os.link(src, tmp)
            return
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
    shutil.copyfile(src, tmp)  # sendfile on Linux


def _can_make_read_only(path: str) -> bool:
    """Whether this process may change the mode of ``path``: its owner, or root."""
    euid = os.geteuid()
    return euid == 0 or os.stat(path).st_uid == euid


def write_error(exc: OSError, folder: str) -> OutputError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return OutputError(f"the output could not be written: the disk holding {folder} is full", spool=True, full=True)
    if exc.errno == errno.ENOENT:
        return OutputError(f"the output could not be written: the folder {folder} does not exist", spool=True)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(f"the output could not be written: no permission to write in {folder}", spool=True)
    reason = exc.strerror or describe_exception(exc)
    return OutputError(f"the output could not be written to {folder}: {reason}")


def link_unchanged(art: ArtworkInput, dest: str, pages: int) -> OutputResult:
    """The output of one artwork file that needs no change (``check`` said so): a hard link to it,
    published atomically. Reads no PDF, so the daemon does it itself, without a worker call."""
    size, _ = publish_output(dest, art, None)
    return OutputResult(path=dest, pages=pages, size_bytes=size, sha256=None, copied_unchanged=True)


def publish_output(
    dest: str, same_as: ArtworkInput | None, write: Callable[[int], None] | None
) -> tuple[int, str | None]:
    """Publishes ``dest`` by temp name + fsync + rename (+ directory fsync): either the same file as
    ``same_as`` (a hard link, or a copy where links are refused), or what ``write(fd)`` writes.
    Returns the size and, for written outputs, the sha256. The temp file never stays behind."""
    dest_path = Path(dest).absolute()
    folder = str(dest_path.parent)
    if same_as is not None:
        return _publish_same(dest_path, same_as), None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest_path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise write_error(exc, folder) from None
    digest: str | None = None
    try:
        assert write is not None
        try:
            write(fd)
            os.fsync(fd)
            set_mode(fd, 0o644)
            size = os.fstat(fd).st_size
            os.lseek(fd, 0, os.SEEK_SET)
            with open(fd, "rb", closefd=False) as check_fh:
                digest = sha256_of(check_fh)
        finally:
            os.close(fd)
        Path(tmp).replace(dest)
        fsync_dir(Path(folder))
    except BaseException as exc:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        if isinstance(exc, OSError):
            raise write_error(exc, folder) from None
        raise
    return size, digest


def _publish_same(dest: Path, art: ArtworkInput) -> int:
    """``dest`` becomes the artwork file itself (a hard link; a copy: see ``_link_or_copy``), made
    under a temp name and renamed, then fsynced with its folder; returns the size.

    The fsyncs come after the rename: the file's fsync then commits the link, its mode and the
    rename in one journal commit, and the folder's fsync finds nothing left (one commit instead of
    two; ~0.3 ms a job here). That is safe because nothing records the output before this returns:
    a crash before the fsyncs leaves a ``dest`` that is the artwork or nothing, and the job (its
    ``OutputCreated`` not recorded) makes its output again. A failed fsync removes ``dest``.
    """
    folder = str(dest.parent)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}-{next(_TEMP_IDS)}.tmp")
    made = tmp  # what to remove on a failure: the temp name, then (renamed, not yet durable) dest
    try:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()  # left by an earlier process with our pid
        try:
            _link_or_copy(art.path, str(tmp))
        except FileNotFoundError as exc:
            raise OutputError(f"artwork {quote_name(art.name)} cannot be read: the file is missing") from exc
        out_fd = os.open(tmp, os.O_RDONLY | os.O_CLOEXEC)
        try:
            st = os.fstat(out_fd)
            if st.st_nlink == 1:
                # A copy is ours. A link is the artwork itself, the daemon's own file (or the daemon
                # runs as root): its mode is left as it is until the output is recorded.
                set_mode(out_fd, 0o644)
            size = st.st_size
            tmp.replace(dest)
            made = dest
            # A dest already linked to the artwork (made by a run a crash cut short before
            # OutputCreated) makes the rename a no-op (POSIX: same file), and the temp name stays.
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.fsync(out_fd)  # the artwork's own data, which nobody synced yet, and the rename
        finally:
            os.close(out_fd)
        fsync_dir(Path(folder))
    except BaseException as exc:
        with contextlib.suppress(OSError):
            made.unlink()
        if isinstance(exc, OSError):
            raise write_error(exc, folder) from None
        raise
    return size
