"""The sha256 of big artwork files, worked out ahead of their check, in the PDF worker process.

Big artwork usually arrives before its manifest (a storefront uploads the file, then the order).
The daemon hands each big file that settles in the inbox to the worker (``PdfWorker.hash_ahead``),
which reads it on a thread of its own meanwhile. The check of that file, once its manifest has come,
then takes the digest, or waits for the rest of the read under way, instead of reading the whole
file once more (~0.8 s per GiB here): a 1 GiB job's check then takes what its PDF reading takes.

A digest is kept under the file's identity (device, inode, size, modification time) as it was when
the read began, and only if the identity was the same when the read ended: a file written to or
touched meanwhile gets no digest from here. The check takes one only for the identity the file it
opened has (a job's artwork is the inbox file moved, the same inode); the engine's own digest cache
(``Engine._digest``) rests on the same identity.
"""

from __future__ import annotations

import collections
import hashlib
import io
import os
import stat
import threading
from collections.abc import Callable

Key = tuple[int, int, int, int]  # device, inode, size, mtime_ns

#: At most this many files are kept (digests not taken yet, or reads not begun): the oldest of those
#: go first (a file no manifest claims keeps its digest until then).
KEEP = 64


def identity(st: os.stat_result) -> Key:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def sha256_of(fh: io.BufferedReader) -> str:
    return hashlib.file_digest(fh, "sha256").hexdigest()


class _Entry:
    __slots__ = ("begun", "digest", "done", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self.begun = False
        self.done = threading.Event()
        self.digest: str | None = None


class Ahead:
    """Reads the files handed to ``submit`` one at a time, on one thread (started on the first);
    ``digest`` gives an open file's sha256, from here where it can."""

    def __init__(self, hash_file: Callable[[io.BufferedReader], str] = sha256_of) -> None:
        self._hash = hash_file
        self._lock = threading.Lock()
        self._more = threading.Condition(self._lock)
        self._entries: collections.OrderedDict[Key, _Entry] = collections.OrderedDict()
        self._thread: threading.Thread | None = None

    def submit(self, path: str) -> None:
        """Reads ``path`` soon, unless a file of its identity is already in hand; never raises."""
        try:
            st = os.stat(path)
        except OSError:
            return  # (taken meanwhile, or gone: its check reads it)
        if not stat.S_ISREG(st.st_mode):
            return
        key = identity(st)
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = _Entry(path)
            self._trim()
            self._more.notify()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hash-ahead", daemon=True)
                self._thread.start()

    def digest(self, fh: io.BufferedReader) -> str:
        """The sha256 of the open file ``fh``: the one read ahead for its identity (waiting for a
        read under way to end), else read now. A file not begun yet is read here, at once."""
        key = identity(os.fstat(fh.fileno()))
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and not entry.begun:
                del self._entries[key]  # its read has not begun: read here, at once
                entry = None
        if entry is not None:
            entry.done.wait()
            with self._lock:
                self._entries.pop(key, None)  # taken
            if entry.digest is not None and identity(os.fstat(fh.fileno())) == key:
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
                entry.digest = self._read(entry.path, key)
            finally:
                entry.done.set()

    def _next(self) -> tuple[Key, _Entry] | None:
        for key, entry in self._entries.items():
            if not entry.begun:
                return key, entry
        return None

    def _read(self, path: str, key: Key) -> str | None:
        try:
            with open(path, "rb") as fh:
                if identity(os.fstat(fh.fileno())) != key:
                    return None  # another file by now (replaced, or written to since)
                digest = self._hash(fh)
                return digest if identity(os.fstat(fh.fileno())) == key else None
        except Exception:  # noqa: BLE001 - (gone, unreadable): no digest; the check reads it itself
            return None


#: The worker process's one instance (``pdfwork`` hands it the files; ``preflight`` asks it).
AHEAD = Ahead()
