"""The sha256 of big artwork files, worked out ahead of their check, in the PDF worker process.

Big artwork usually arrives before its manifest (a storefront uploads the file, then the order).
The daemon hands each big file that settles in the inbox to the worker (``PdfWorker.hash_ahead``),
which reads it on a thread of its own meanwhile. The check of that file, once its manifest has come,
then takes the digest, or waits for the rest of the read under way, instead of reading the whole
file once more (~0.8 s per GiB here): a 1 GiB job's check then takes what its PDF reading takes.

A digest is only ever the file's as it is when the check opens it. It is kept under the file's
identity (device, inode, size, modification time) with the change times (ctime) the file may have:
the one it had when handed over and read, and the ones the daemon's own links and moves gave it
(``vouch``: the daemon tells the worker the ctime before and after each, and the second counts only
if the first did). Any other change of the inode sets another ctime, one the file cannot be given
by hand: a write in place, also one that keeps the size and sets the time back (``cp -p``, ``rsync
--inplace -t``, a share's client keeping the source's time), a touch, a chmod, a link made by
someone else. The check then reads the file itself, as it does for every file not handed over,
after waiting VOUCH_WAIT_SECONDS for the daemon's word on a change time it has not heard of (the
word comes on a pipe of its own, read by a thread: a move made while the check waited is heard).
"""

from __future__ import annotations

import collections
import hashlib
import io
import os
import stat
import threading
import time
from collections.abc import Callable

Key = tuple[int, int, int, int]  # device, inode, size, mtime_ns

#: How long a check waits for the daemon's word on a change time it has not heard of yet (the daemon
#: moved the file while the check waited for its read: its word comes on another pipe, at once).
#: Only a file changed by someone else waits this long, before it is read again.
VOUCH_WAIT_SECONDS = 0.1
#: At most this many files are kept (digests not taken yet, or reads not begun): the oldest of those
#: go first (a file no manifest claims keeps its digest until then).
KEEP = 64


def identity(st: os.stat_result) -> Key:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def sha256_of(fh: io.BufferedReader) -> str:
    return hashlib.file_digest(fh, "sha256").hexdigest()


class _Entry:
    __slots__ = ("begun", "ctime_read", "ctimes", "digest", "done", "path")

    def __init__(self, path: str, ctime: int) -> None:
        self.path = path
        self.ctimes = {ctime}  # the change times this file may have: handed over with, or vouched for
        self.begun = False
        self.done = threading.Event()
        self.digest: str | None = None
        self.ctime_read: int | None = None  # the file's ctime when its read ended


class Ahead:
    """Reads the files handed to ``submit`` one at a time, on one thread (started on the first);
    ``digest`` gives an open file's sha256, from here where it can."""

    def __init__(self, hash_file: Callable[[io.BufferedReader], str] = sha256_of) -> None:
        self._hash = hash_file
        self._lock = threading.Lock()
        self._more = threading.Condition(self._lock)
        self._vouched = threading.Condition(self._lock)
        self._entries: collections.OrderedDict[Key, _Entry] = collections.OrderedDict()
        self._thread: threading.Thread | None = None

    def submit(self, path: str) -> None:
        """Reads ``path`` soon, unless this very file is in hand already; never raises."""
        try:
            st = os.lstat(path)
        except OSError:
            return  # (taken meanwhile, or gone: its check reads it)
        if not stat.S_ISREG(st.st_mode):
            return  # (a symbolic link is never taken as artwork: nothing to read ahead)
        key = identity(st)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and st.st_ctime_ns in entry.ctimes:
                return
            # New, or changed since it was handed over (written to in place, touched): read again.
            self._entries.pop(key, None)
            self._entries[key] = _Entry(path, st.st_ctime_ns)
            self._trim()
            self._more.notify()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hash-ahead", daemon=True)
                self._thread.start()

    def vouch(self, key: Key, before: int, after: int) -> None:
        """The daemon linked or moved the file of ``key``: its ctime went from ``before`` to
        ``after`` by that. Counts only if ``before`` was a ctime the file may have."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and before in entry.ctimes:
                entry.ctimes.add(after)
                self._vouched.notify_all()

    def digest(self, fh: io.BufferedReader) -> str:
        """The sha256 of the open file ``fh``: the one read ahead for this very file (waiting for a
        read under way to end), else read now. A file not begun yet is read here, at once."""
        key = identity(os.fstat(fh.fileno()))
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and not entry.begun:
                del self._entries[key]  # its read has not begun: read here, at once
                entry = None
        if entry is not None:
            entry.done.wait()
            deadline = time.monotonic() + VOUCH_WAIT_SECONDS
            with self._lock:
                while True:
                    st = os.fstat(fh.fileno())
                    if identity(st) != key or entry.digest is None or entry.ctime_read is None:
                        same = False
                        break
                    same = st.st_ctime_ns in entry.ctimes and entry.ctime_read in entry.ctimes
                    left = deadline - time.monotonic()
                    if same or left <= 0:
                        break
                    self._vouched.wait(left)
                if self._entries.get(key) is entry:
                    del self._entries[key]  # taken
            if same and entry.digest is not None:
                return entry.digest
        return self._hash(fh)

    def _trim(self) -> None:
        """Drops the oldest files that are not being read, down to KEEP (lock held)."""
        for key in [k for k, e in self._entries.items() if not (e.begun and not e.done.is_set())]:
            if len(self._entries) <= KEEP:
                break
            del self._entries[key]

    def _run(self) -> None:
        while True:
            with self._lock:
                while (found := self._next()) is None:
                    self._more.wait()
                key, entry = found
                entry.begun = True
            try:
                self._read(entry, key)
            finally:
                entry.done.set()

    def _next(self) -> tuple[Key, _Entry] | None:
        for key, entry in self._entries.items():
            if not entry.begun:
                return key, entry
        return None

    def _read(self, entry: _Entry, key: Key) -> None:
        """The file's digest and its ctime at the end of the read, onto ``entry``; nothing when it
        is another file by now. Whether the ctime is one the file may have is for ``digest`` to
        tell, when the daemon has said what it did meanwhile."""
        try:
            with open(entry.path, "rb") as fh:
                st = os.fstat(fh.fileno())
                with self._lock:
                    same = identity(st) == key and st.st_ctime_ns in entry.ctimes
                if not same:
                    return  # another file by now (replaced, written to, moved by the daemon already)
                digest = self._hash(fh)
                st = os.fstat(fh.fileno())
                if identity(st) == key:
                    entry.digest, entry.ctime_read = digest, st.st_ctime_ns
        except Exception:  # noqa: BLE001, S110 - (gone, unreadable): no digest; the check reads it itself
            pass


#: The worker process's one instance (``pdfwork`` hands it the files; ``preflight`` asks it).
AHEAD = Ahead()
