"""Crash-safe file primitives: atomic writes, directory fsync, moves by rename.

Every publish is temp name + flush + fsync + rename (+ fsync of the directory); every move within
one filesystem is an ``os.replace``. Callers never see a half-written file under its final name.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import grp
import hashlib
import io
import os
import pwd
import queue
import re
import shutil
import stat
import threading
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

#: Characters a filesystem rejects, control characters (C0 and C1), and the marks that turn the
#: direction of the text around (U+202E shows "evil\u202efdp.exe" as "evilexe.pdf"): a hot
#: folder's file name must read as what it is (audit C 8).
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]')


def on_read_only_mount(path: Path) -> bool:
    """``path`` (or, not there, the nearest folder above it) is on a filesystem mounted read-only:
    no permission, user or chmod helps, only mounting it read-write."""
    for folder in (path, *path.parents):
        try:
            return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
        except FileNotFoundError:
            continue
        except OSError:
            return False
    return False


#: FS_IOC_GETFLAGS (linux/fs.h) and its immutable and append-only flags (chattr +i, +a).
_FS_IOC_GETFLAGS = 0x80086601
_FS_UNWRITABLE_FLAGS = 0x00000010 | 0x00000020


def has_unwritable_flag(path: Path) -> bool:
    """``path`` carries the immutable or append-only flag (chattr +i / +a): nobody may change it,
    root included, whatever its mode, until the flag is taken off (chattr -i / -a). False where
    the filesystem has no such flags."""
    import fcntl
    import struct

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        flags = struct.unpack("l", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, struct.pack("l", 0)))[0]
    except OSError:
        return False
    finally:
        os.close(fd)
    return bool(flags & _FS_UNWRITABLE_FLAGS)


# (pwd and grp are imported with the module, not when a refusal is said: a Python upgraded in
# place under a running daemon, or a lib-dynload it may no longer read, must not turn a refusal
# into a traceback)


def user_name(uid: int) -> str:
    """The account name of ``uid`` ("uid 999" when it has none)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def group_name(gid: int) -> str:
    """The group name of ``gid`` ("gid 999" when it has none)."""
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"


def belongs_to(st: os.stat_result) -> str:
    """Whose a file or folder is, as a refusal says it: "belongs to alice, mode -rw-------"."""
    return f"belongs to {user_name(st.st_uid)}, mode {stat.filemode(st.st_mode)}"


#: How a check or an output says that the daemon's user may not read an artwork file (the fix:
#: a permission, not a corrected PDF).
MAY_NOT_READ = "the daemon's user may not read it"


def unreadable_artwork(path: str | Path, exc: OSError) -> str:
    """Why an artwork file cannot be read, in words, with the fix where it is a permission: whose
    file it is and its mode (audit BS D6: "cannot be read: Permission denied", and the fix offered
    was a corrected PDF, for a good PDF uploaded with umask 077 by another account)."""
    reason = exc.strerror or str(exc)
    if exc.errno not in (errno.EACCES, errno.EPERM):
        return reason
    try:
        st = os.stat(path)
    except OSError:
        return f"{MAY_NOT_READ} ({reason})"
    return (
        f"{MAY_NOT_READ} ({reason}: it {belongs_to(st)}, as an upload made with umask 077 is); "
        f"have {user_name(st.st_uid)} (or root) give the daemon's group read permission (chmod g+r) and drop "
        "RETRY, or put a readable copy into replace/"
    )


def proc_dir(pid: int) -> Path | None:
    """``/proc/<pid>``, or None where ``/proc`` is not this process's pid namespace's (a sandbox
    that made a pid namespace without mounting its own ``/proc``): there, ``/proc/<pid>`` is
    another process's, and what it says must not be taken for ``pid``'s."""
    try:
        if str(Path("/proc/self").readlink()) != str(os.getpid()):
            return None
    except OSError:
        return None
    return Path(f"/proc/{pid}")


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename in it is durable; unsupported on some shares (CIFS: EINVAL)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EACCES):
            raise
    finally:
        os.close(fd)


class Flusher:
    """Starts writing an artwork file to disk in the background, as soon as it has arrived.

    The output of a job is a link to its artwork, and it is fsynced before ``OutputCreated`` is
    recorded. For a 1 GiB artwork that fsync writes what the client left in the page cache: about
    a second, spent after the check; for a 1-page PDF it is still a journal commit (~1 ms here)
    between the check and the delivery. Flushed here from the moment the file is complete, it
    overlaps the check (and the wait for the manifest, the intake's commit); the later fsync then
    has little or nothing left to write. Purely an optimization: a flush that fails or is skipped
    leaves the later fsync to do the work. At most ``limit`` files are queued (each holds a
    descriptor).
    """

    def __init__(self, limit: int = 32) -> None:
        self._queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._limit = limit
        self._pending = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.flushed = 0

    def submit(self, path: Path) -> bool:
        """Queues ``path`` for an fsync; False when the queue is full or the file cannot be opened."""
        with self._lock:
            if self._pending >= self._limit:
                return False
            try:
                # (never waiting on a named pipe swapped in meanwhile: audit DA 3)
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW)
            except OSError:
                return False
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="flusher", daemon=True)
                self._thread.start()
        self._queue.put(fd)
        return True

    def _run(self) -> None:
        while True:
            fd = self._queue.get()
            if fd is None:
                return
            try:
                os.fsync(fd)
                self.flushed += 1
            except OSError:
                pass  # the fsync before OutputCreated reports what matters
            finally:
                # (Linux releases the descriptor whatever close says: an EIO here killed the thread
                # for the daemon's life, audit CE D4, and every later submit held its descriptor)
                with contextlib.suppress(OSError):
                    os.close(fd)
                with self._lock:
                    self._pending -= 1

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)


#: What a filesystem that decides its files' modes itself answers to a chmod: a FAT or NTFS disk
#: or an SMB share mounted with a fixed owner and mode (``uid=``, ``umask=``, ``file_mode=``), one
#: through FUSE without chmod.
_NO_CHMOD = frozenset({errno.EPERM, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP})


def set_mode(fd: int, mode: int) -> None:
    """``fchmod(fd, mode)``, where the filesystem lets files have modes: where it decides them
    itself (``_NO_CHMOD``: review GT 1, every copy into such a hot folder failed "not permitted ...
    chattr +i?"), the file keeps the one it was given, which is what the printer reads it by."""
    try:
        os.fchmod(fd, mode)
    except OSError as exc:
        if exc.errno not in _NO_CHMOD:
            raise


def _create(path: Path, data: bytes, mode: int, *, flags: int, durable: bool) -> None:
    """Creates ``path`` (``flags``: O_EXCL or O_TRUNC) with ``data`` and ``mode`` whatever the
    umask, fsynced if ``durable`` (after the chmod: one fsync covers both); a failure removes it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | flags, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        set_mode(fd, mode)
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    os.close(fd)


_RENAME_NOREPLACE = 1  # (linux/fs.h)
_AT_FDCWD = -100


@functools.cache
def _libc_renameat2() -> Callable[..., int] | None:
    """glibc's renameat2 (2.28 and later), or None."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def rename_noreplace(src: Path, dst: Path) -> None:
    """Renames ``src`` to ``dst`` unless ``dst`` exists (FileExistsError then): one atomic call
    (renameat2 with RENAME_NOREPLACE) where the kernel and the filesystem have it, so that a file
    another sender renames into a hot folder between a look and the rename is never replaced
    (audit AZ D1: a job ticket arriving in that window was overwritten). Where they have not (an NFS
    or SMB share, an old libc), a look just before a plain rename: a file of that name renamed in
    between the two calls is replaced. (A hard link, refused where the name exists, was tried and
    taken back: a crash between the link and the removal of ``src``, the printer taking the file
    before the restart, left the temp name alone, and the job was copied and printed again:
    white-box audit DH 1.)"""
    function = _libc_renameat2()
    if function is not None:
        import ctypes

        if function(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
            raise OSError(code, os.strerror(code), str(src), None, str(dst))
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst))
    os.replace(src, dst)


def atomic_write(path: Path, data: bytes | str, *, durable: bool = True, mode: int = 0o644) -> None:
    """Writes ``data`` to ``path`` via a temp name in the same folder and a rename.

    ``durable=False`` skips the fsyncs: for files the daemon can always rewrite (STATUS.txt).
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # Made new, never opened through what is there: the temp name is known (the pid is), and in an
    # operator's folder a symbolic link put there had another job's artwork or the ledger written
    # over (audit DD 3). One there (a crash's, or such a link) is removed, not followed.
    try:
        _create(tmp, payload, mode, flags=os.O_EXCL | os.O_NOFOLLOW, durable=durable)
    except FileExistsError:
        tmp.unlink()
        _create(tmp, payload, mode, flags=os.O_EXCL | os.O_NOFOLLOW, durable=durable)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        fsync_dir(path.parent)


def write_new(path: Path, data: bytes, *, mode: int = 0o644, durable: bool = True) -> None:
    """Creates ``path`` (it must not exist) with ``data``; ``durable``: write, fsync, fsync the folder.

    For a folder the daemon has just made and nobody else writes to (a job folder being set up by
    an intake not yet recorded in the ledger): no temp name is needed, as a crash leaves at worst
    a partial file in a folder that the next intake discards. One journal commit instead of
    ``atomic_write``'s two (its rename after the fsync starts another); ~0.25 ms less here.
    ``durable=False``: the caller makes it durable later (``fsync_file``, ``fsync_dir``), before
    anything depends on it being on disk.
    """
    _create(path, data, mode, flags=os.O_EXCL, durable=durable)
    if durable:
        fsync_dir(path.parent)


def open_regular(path: Path | str, *, follow: bool = True) -> io.BufferedReader:
    """``path`` opened for reading, if it is a regular file; OSError (EINVAL) for a named pipe, a
    socket or a device, never waiting for a writer: a pipe put where a job's file or a command was
    hung the engine on its open (audits BN D1, BO D1, D2). ``follow=False``: a symbolic link is not
    followed either (ELOOP), for a file the daemon wrote itself or one that could name any file on
    the server. (O_NONBLOCK changes nothing for a regular file's reads.)"""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    fh = os.fdopen(os.open(path, flags), "rb")
    try:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
    except BaseException:
        fh.close()
        raise
    return fh


def real_folder(path: Path) -> bool:
    """Whether ``path`` is a folder itself, not a symbolic link to one (a job's replace/ or output/
    made a link to a folder outside the spool is never read, emptied nor written through: audit
    BO D3, D4)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def read_own_file(path: Path | str, limit: int = 1 << 20) -> bytes:
    """The bytes of a file the daemon or its CLI wrote (a command in state/commands/), at most
    ``limit``; OSError for anything else put there: a symbolic link is not followed (audit BO D2:
    ``pw.json -> /etc/passwd`` was read), a named pipe not waited on (it hung `show` and the engine)."""
    with open_regular(path, follow=False) as fh:
        return fh.read(limit)


def linked(src: Path, dst: Path) -> bool:
    """Gives the file ``src`` the second name ``dst`` (a hard link); False where it cannot (another
    filesystem, one without links, too many links already)."""
    try:
        os.link(src, dst)
    except OSError:
        return False
    return True


def fsync_file(path: Path) -> None:
    """fsync a file written earlier without it; a file that is not there (any more) is skipped."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _WriteBehind:
    """Writes a file being copied to disk while the copy goes on, so that the copy's own fsync at
    the end has little left to write: for a big delivery the copy and the disk then work at the
    same time instead of one after the other (1 GiB: ~1.7 s against ~2.2 s here). Purely an
    optimization: a failed background flush is ignored, and the final fsync reports what matters.
    The descriptor must stay open until ``stop()`` returns."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="write-behind", daemon=True)
        self._thread.start()

    def written(self) -> None:
        """Another chunk is in the page cache: flush it (and any before it) when free."""
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            try:
                os.fdatasync(self._fd)
            except OSError:
                return

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join()


def copy_file(
    src: Path,
    dst: Path,
    *,
    cancelled: Callable[[], bool] | None = None,
    chunk: int = 64 * 1024 * 1024,
    then: Callable[[int], None] | None = None,
) -> int:
    """Copies ``src`` to ``dst`` (created new, 0644) with sendfile, fsyncs it; returns the size.

    A file of more than one ``chunk`` is written to disk chunk by chunk while the copy goes on
    (``_WriteBehind``). ``cancelled`` is checked between chunks; when it says so, InterruptedError
    is raised and the partial ``dst`` removed. ``then`` runs once the file is complete, before it
    is closed, given its file descriptor (the fsync of its folder's entry). On any error the copy
    is removed, where it is then: its folder may have been renamed meanwhile (``_remove_copy``).
    """
    size = 0
    with open(src, "rb") as fin:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        behind: _WriteBehind | None = None
        try:
            total = os.fstat(fin.fileno()).st_size
            offset = 0
            if total > chunk:
                behind = _WriteBehind(fd)
            try:
                while offset < total:
                    if cancelled is not None and cancelled():
                        raise InterruptedError("copy abandoned: the daemon is stopping")
                    sent = os.sendfile(fd, fin.fileno(), offset, min(chunk, total - offset))
                    if sent == 0:
                        break
                    offset += sent
                    if behind is not None:
                        behind.written()
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP) or offset:
                    raise
                fin.seek(0)
                with os.fdopen(os.dup(fd), "wb", closefd=True) as fout:
                    shutil.copyfileobj(fin, fout, 1024 * 1024)
                offset = total
            now = os.fstat(fin.fileno()).st_size
            if offset != total or now != total:
                # Truncated or grown while it was copied (rewritten in place, `cp -p`): the copy is
                # not the file, whatever it looks like once written back (audit DD 1: a PDF cut
                # short was renamed into a hot folder and recorded InHotFolder).
                raise SourceChanged(src, offset, total, now)
            size = offset
            if behind is not None:
                behind.stop()
                behind = None
            os.fsync(fd)
            set_mode(fd, 0o644)
            if then is not None:
                then(fd)
        except BaseException:
            if behind is not None:
                behind.stop()
            _remove_copy(fd, dst)
            os.close(fd)
            raise
        try:
            os.close(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                dst.unlink()
            raise
    return size


class SourceChanged(OSError):
    """The file copied changed its size while it was copied: the copy is removed."""

    def __init__(self, src: Path | str, copied: int, size_then: int, size_now: int) -> None:
        super().__init__(
            errno.EAGAIN,
            f"it changed while it was copied ({size_then} bytes when the copy began, {size_now} now, {copied} copied)",
            str(src),
        )


def _remove_copy(fd: int, dst: Path) -> None:
    """Removes the file open as ``fd``, made as ``dst``: under that name, or, where its folder was
    renamed during the copy (a hot folder moved while a copy into it went on: audit AG 1, the
    whole temp file was left in it and taken for another sender's), where the kernel says it is
    now, if that is still this file."""
    try:
        mine = os.fstat(fd)
    except OSError:
        return
    places = [dst]
    with contextlib.suppress(OSError):
        places.insert(0, Path(f"/proc/self/fd/{fd}").readlink())
    for place in places:
        try:
            there = os.lstat(place)
            if (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino):
                place.unlink()  # (never another file made under its name since)
                return
        except OSError:
            continue


NAME_MAX = 255


def fit_name(name: str, limit: int = NAME_MAX) -> str:
    """``name`` shortened to ``limit`` bytes of UTF-8 (filesystems count bytes), keeping the
    extension, and marked ``~`` and 8 hex digits of the whole name's sha256: two long names that
    differ only in what is cut off (two jobs' ids at the end of a hot folder's file name) stay two."""
    # surrogateescape: a name read from the disk that was not UTF-8 counts as its own bytes.
    whole = name.encode("utf-8", "surrogateescape")
    if len(whole) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 16 or not stem:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    tag = "~" + hashlib.sha256(whole).hexdigest()[:8]
    budget = limit - len(suffix.encode("utf-8", "surrogateescape")) - len(tag)
    # Whole characters (a byte of a name that is not UTF-8 counts as one: kept, not dropped, so
    # that a Latin-1 name stays readable as Windows-1252: white-box audit DD 6).
    kept, used = [], 0
    for char in stem:
        size = len(char.encode("utf-8", "surrogateescape"))
        if used + size > budget:
            break
        kept.append(char)
        used += size
    return f"{''.join(kept)}{tag}{suffix}"


def take(src: Path, dst: Path, *, expect: os.stat_result | None = None) -> os.stat_result:
    """Moves ``src`` to ``dst`` on one filesystem by link + unlink rather than rename; returns
    ``src``'s ``lstat`` from just before (what the move changed: its change time, say).

    The result is the same as ``os.replace``, but the watched folder sees a deletion instead of an
    unpaired IN_MOVED_FROM, which watchdog holds back for half a second (and every event after it).
    A crash between the two steps leaves both names on one inode: taking it again finishes the job.
    Falls back to ``os.replace`` where hard links are not supported.

    A file that has other names outside the inbox (``ln`` from a storefront's folder: more than
    one link, and ``dst`` not one of them) is copied, durably, and only then its inbox name
    removed: the job's artwork is then its own file, which an edit of the other name cannot
    change and whose mode the daemon may change.

    ``expect``: the file judged complete (its stat): another file renamed onto ``src`` since then
    (a new upload of that name, an rsync's or a storefront's rename) is not taken (raises
    ``Replaced``), and one renamed onto it during the move is not removed: it stays in the inbox,
    a new file (review EL 1: it was removed, lost without a word, by the unlink of the name).
    What is left: a rename onto ``src`` in the microseconds between the last look and the unlink.
    """
    before = os.lstat(src)
    if expect is not None and not os.path.samestat(before, expect):
        raise Replaced(src)
    if before.st_nlink > 1 and not (os.path.lexists(dst) and os.path.samefile(src, dst)):
        _copy_durably(src, dst, before)
        _unlink_if_same(src, before)
        return before
    try:
        os.link(src, dst)
    except FileExistsError:
        if not os.path.samefile(src, dst):
            os.replace(src, dst)
            return before
    except OSError:
        os.replace(src, dst)
        return before
    if not os.path.samestat(os.lstat(dst), before):
        os.unlink(dst)  # (another file renamed onto src between the look and the link)
        raise Replaced(src)
    _unlink_if_same(src, before)
    return before


class Replaced(Exception):
    """``take``: another file is at the name now, not the one judged (``expect``)."""


def _unlink_if_same(path: Path, before: os.stat_result) -> None:
    """Removes ``path`` unless another file was renamed onto it since ``before`` (which stays)."""
    try:
        if os.path.samestat(os.lstat(path), before):
            os.unlink(path)
    except FileNotFoundError:
        pass


def _copy_durably(src: Path, dst: Path, before: os.stat_result | None = None) -> None:
    """``dst`` a new file with ``src``'s bytes, on disk (file and folder) before this returns;
    ``before``: the file it must be (``Replaced`` where another is at the name now)."""
    # (One name, whatever the process: one left by a crash is replaced by the next take, not left
    # in the job's artwork/ for good, as one named by the pid was: white-box audit DD 5.)
    tmp = dst.with_name(f".{dst.name}.copy")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # left by a crash
    copy_file(src, tmp)  # fsynced; a partial copy is removed
    if before is not None and not os.path.samestat(os.lstat(src), before):
        # (renamed onto during the copy: which of the two was copied cannot be told)
        tmp.unlink()
        raise Replaced(src)
    try:
        tmp.replace(dst)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(dst.parent)


def unique_path(path: Path, *, keep_extension: bool = False, shunned: Callable[[str], bool] | None = None) -> Path:
    """``path`` if free, else ``path-2``, ``path-3`` ... (for folders named after inputs);
    ``keep_extension``: ``name-2.txt`` (a file an operator opens by its extension). ``shunned``:
    a suffixed name it says yes to is passed over too (in failed/, a job's id: an order folder
    "L5" set aside as "L5-2" read as job L5-2's failure)."""
    # (a name held by a symbolic link, even one whose target is gone, is taken: review GR 3, a
    # customer's dangling link named ERROR.txt was replaced)
    path = path.with_name(fit_name(path.name, NAME_MAX - 8))
    if not os.path.lexists(path):
        return path
    stem, extension = (path.stem, path.suffix) if keep_extension else (path.name, "")
    n = 2
    while True:
        candidate = path.with_name(f"{stem}-{n}{extension}")
        if not os.path.lexists(candidate) and (shunned is None or not shunned(candidate.name)):
            return candidate
        n += 1


def move(src: Path, dst: Path, *, keep_name: bool = False) -> Path:
    """Renames ``src`` to ``dst`` (same filesystem), never overwriting: a taken name gets a suffix
    (a long name is shortened to leave room for one, unless ``keep_name`` and ``dst`` is free)."""
    target = dst if keep_name and not os.path.lexists(dst) else unique_path(dst)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, target)
    return target


def stamp(now: datetime) -> str:
    """A UTC time stamp usable in file names: 20261122T101503.120Z."""
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%S.") + f"{now.microsecond // 1000:03d}Z"


def into_history(job_dir: Path, src: Path, now: datetime, name: str | None = None) -> Path:
    """Moves ``src`` into ``job_dir/history/<UTC time>-<name>``; returns where it went. Never
    through a link: a ``history`` that is not a folder (a symbolic link an operator made, to the hot
    folder say: review HB 1, an edited output nobody checked was moved there, into the printer's
    hands) is moved aside as ``history.old-<time>`` and a folder made in its place; the move goes
    into the folder opened without following links."""
    history = job_dir / "history"
    try:
        st = os.lstat(history)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISDIR(st.st_mode):
        os.replace(history, unique_path(job_dir / f"history.old-{stamp(now)}"))
    with contextlib.suppress(FileExistsError):
        history.mkdir()
    target = unique_path(history / fit_name(f"{stamp(now)}-{name or src.name}", NAME_MAX - 8))
    fd = os.open(history, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.replace(src, target.name, dst_dir_fd=fd)
    finally:
        os.close(fd)
    return target


def name_key(name: str) -> str:
    """What two names a person would call the same file share: letter case and Unicode form (the
    "é" of a Mac is two characters: e + accent) set aside."""
    return unicodedata.normalize("NFC", name).casefold()


def undecodable(text: str) -> bool:
    """Whether a name read from the filesystem was not UTF-8 (Python keeps such bytes as lone
    surrogates, which SQLite, JSON and UTF-8 text cannot hold)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def readable(text: str, charset: str = "cp1252") -> str:
    """A name that was not UTF-8 as a person would read it: its bytes as Windows-1252 (what a
    Windows FTP client or a Samba share set to another charset writes; or ``charset``), else ``\\xNN``."""
    if not undecodable(text):
        return text
    raw = text.encode("utf-8", "surrogateescape")
    try:
        return raw.decode(charset)
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace")


#: Names Windows keeps for devices, whatever the extension ("CON.pdf", "nul.x"): a file or folder
#: so named on a share cannot be opened from Windows (Samba shows it under a made-up short name).
WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{port}{n}" for port in ("COM", "LPT") for n in [*"0123456789", "\u00b9", "\u00b2", "\u00b3"]]
)


def windows_device(name: str) -> bool:
    """Whether ``name`` is one Windows keeps for a device (``CON``, ``nul.pdf``, ``Com1.x``)."""
    return name.partition(".")[0].rstrip(" ").upper() in WINDOWS_DEVICES


def safe_name(text: str) -> str:
    """A file name from ``text``: characters a filesystem rejects become ``_``; a name that was not
    UTF-8 is read as ``readable`` does."""
    cleaned = _UNSAFE_NAME.sub("_", readable(text)).strip()
    if cleaned in ("", ".", ".."):
        cleaned = cleaned.replace(".", "_") or "_"
    return fit_name(cleaned, 200)


def safe_folder_name(text: str) -> str:
    """``safe_name`` for a folder an operator opens on the share (failed/<name>/): no space or dot
    at its end, which Windows (and so Explorer) cannot open a folder by, nor a dot at its start,
    which hides it (Finder, `ls`, Samba's "hide dot files": review GQ 4, a dot-file let in by
    watch.ignore was set aside into a folder nobody saw)."""
    name = safe_name(text).rstrip(". ")
    return "_" + name.lstrip(".") if name.startswith(".") else name or "_"
