"""When a file is complete: the FileStabilityTracker.

A file is stable once its size, mtime and inode have stayed the same, and no event touched it,
for ``settle_seconds``, and it is still a regular file. A file renamed into place (a
``FileMovedEvent`` to its final name: rsync, browsers, FTP servers, ``mv``) was complete before
it got that name, so it is stable at once (unless it looks cut short, below). Events are hints:
the tracker always decides on a fresh ``stat``.

A file first seen by a scan (already there at start, or missed by the events) counts as unchanged
since its inode change time (``ctime``): a file whose ctime is older than ``settle_seconds`` is
taken at once instead of waiting a full settle period from the moment it was seen. ctime, never
mtime: clients set mtime to anything (an SMB copy keeps the source's "date modified", and Samba
keeps a time a client set even while it goes on writing), while every write, truncation or time
change sets ctime to the present.

A writer may pause longer than ``settle_seconds`` (a slow upload, a client that closes and opens
the file again, an empty file created first and filled later). A PDF ends with ``%%EOF``: a
``*.pdf`` that starts like a PDF (or is still shorter than its header) but does not end with the
end marker (only white space may follow it: ``%%EOF`` also comes earlier in a file, after each
revision of an incrementally saved or linearized PDF, and inside some streams), a ``*.json``
manifest that does not end with ``}``, an empty ``*.pdf`` or manifest, and a ``*.pdf`` that starts
with a zero byte (Windows Explorer sets a copy's size before it writes its data), has a hole (a
part never written: a client that wrote the end first), or is a
linearized PDF shorter than the length its first bytes declare (an upload that paused at the end
marker after its first page), are held for
``incomplete_pdf_seconds`` more before they are taken, renamed into place or not (then they are
taken anyway, and a truly truncated or empty file fails with a clear reason). An empty file with
an upload under a temporary name of it beside it (Firefox's ``x.pdf`` beside ``x.pdf.part``, which
it renames over the empty one at the end) waits as long as that upload is there, and has changed
within ``STALLED_DOWNLOAD_SECONDS`` (a download paused for minutes waits; a crashed client's file,
unchanged longer, holds it no longer).

A file that some process still holds open for writing (a writer pausing at the exact end of a
revision, Samba's smbd during an upload) is not stable either, whatever it looks like: Linux
refuses a read lease on such a file (``F_SETLEASE``, ``EAGAIN``). Where no lease can be taken (a
file of another owner without ``CAP_LEASE``, a network filesystem) the rules above decide alone.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import structlog

from spo_hotfolder.fsutil import open_regular
from spo_hotfolder.manifest import MANIFEST_SUFFIXES, upload_beside
from spo_hotfolder.operator import classify_drop
from spo_hotfolder.pdfreport import known_kind, short_of_declared_length

log = structlog.get_logger("spo_hotfolder.stability")

Signature = tuple[int, int, int]  # size, mtime_ns, inode
_UNKNOWN: Signature = (-1, -1, -1)  # a file not looked at yet (its stat failed): no file's signature
#: Errors of a file's stat that say nothing about the file (the disk or share failing a moment).
TRANSIENT_ERRNOS = frozenset({errno.EIO, errno.EAGAIN, errno.EINTR, errno.ETIMEDOUT, errno.ENOMEM})


def signature(st: os.stat_result) -> Signature:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


@dataclass(slots=True)
class _Tracked:
    sig: Signature
    changed_at: float  # monotonic time of the last change seen
    complete: bool  # renamed into place: no need to wait
    hold_until: float = 0.0  # an incomplete-looking PDF waits until then
    open_since: float | None = None  # first found held open for writing, unchanged since
    said_open: bool = False  # file.held_open logged for it
    said_look_failed: bool = False  # file.look_failed logged for it
    first_seen: float = 0.0  # when the file was first seen (its upload began, as far as we know)
    upload_sig: Signature | None = None  # its upload under a temporary name beside it, as last seen
    upload_changed_at: float = 0.0  # when that upload was last seen to change


class FileStabilityTracker:
    def __init__(
        self,
        settle_seconds: float,
        clock: Callable[[], float],
        stat_fn: Callable[[Path], os.stat_result] = os.stat,
        wall: Callable[[], float] | None = None,
    ) -> None:
        """``wall``: the wall clock (``time.time``) that ctimes are compared with; without it, a
        file first seen by a scan waits a full settle period."""
        self.settle_seconds = settle_seconds
        self._clock = clock
        self._stat = stat_fn
        self._wall = wall
        self._files: dict[Path, _Tracked] = {}
        #: First-seen times of the files the last get_stable_files call gave out (kept when such
        #: a file is tracked again, a backlog's rest); replaced at each call.
        self._given_seen: dict[Path, float] = {}
        #: Entries seen that are neither files nor folders (a FIFO, a socket, a device, a symbolic
        #: link to a folder or to nothing): never tracked, left for the caller to explain.
        self.specials: dict[Path, int] = {}

    @property
    def incomplete_pdf_seconds(self) -> float:
        """How long a file that looks incomplete (a PDF without its end marker, an empty file, a JSON
        manifest not closed) must stay unchanged before it is taken anyway."""
        return max(5.0, 5 * self.settle_seconds)

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, path: object) -> bool:
        return path in self._files

    def track(
        self,
        path: Path,
        *,
        activity: bool = True,
        complete: bool = False,
        seen: float | None = None,
        began: float | None = None,
    ) -> None:
        """Notes that ``path`` may be ready. ``activity``: an event says it changed just now, or at
        ``seen`` (this clock's time of the event: the engine may get to the event a job later,
        and the settle period runs from the change, not from when we got round to it). ``began``:
        when its upload began under a temporary name (an rsync, a WinSCP upload renamed into
        place), for first_seen."""
        try:
            st = self._stat(path)
        except OSError as exc:
            if self._look_again(path, exc):
                return
            self._files.pop(path, None)
            self._note_special(path)  # a symbolic link to nothing
            return
        if not stat.S_ISREG(st.st_mode):
            self._files.pop(path, None)
            self._note_special(path)
            return
        now = self._clock()
        if activity and seen is not None and seen < now:
            now = seen
        sig = signature(st)
        known = self._files.get(path)
        if known is None:
            since = first = now
            age = self._ctime_age(st) if not activity else None
            if age is not None:
                # Unchanged since its ctime (at most settle_seconds back: all that is needed); and
                # there since then at least (a file that came while the daemon was stopped).
                since, first = now - min(age, self.settle_seconds), now - age
            if began is not None:
                first = min(first, began)
            self._files[path] = _Tracked(sig, since, complete, first_seen=self._given_seen.pop(path, first))
        elif known.sig != sig:
            changed_at = max(now, known.changed_at)
            if known.sig[2] != sig[2]:
                known.first_seen = now  # another file under that name (renamed over it)
            known.sig, known.changed_at, known.complete, known.hold_until = sig, changed_at, complete, 0.0
            known.open_since, known.said_open = None, False
        elif activity and not complete:
            known.changed_at = max(now, known.changed_at)
            known.complete = False
        elif complete:
            known.complete = True

    def settling(self, path: Path) -> bool:
        """Whether ``path`` is tracked and seen changing within settle_seconds, or held as not
        complete yet (still being written, as far as the tracker can tell). A file only waiting
        for its turn in a backlog is not."""
        tracked = self._files.get(path)
        if tracked is None:
            return False
        now = self._clock()
        return (not tracked.complete and now - tracked.changed_at < self.settle_seconds) or now < tracked.hold_until

    def changed_lately(self, path: Path) -> bool:
        """Whether ``path`` is tracked and was seen changing within settle_seconds."""
        tracked = self._files.get(path)
        return tracked is not None and self._clock() - tracked.changed_at < self.settle_seconds

    def settling_until(self, path: Path) -> float | None:
        """When ``path``, tracked and settling (see ``settling``), may be stable (this clock's
        time); None when it is not settling."""
        tracked = self._files.get(path)
        return self._due(tracked) if tracked is not None and self.settling(path) else None

    def hold(self, path: Path, seconds: float) -> None:
        """Tracks ``path`` again, to be taken in ``seconds`` if it has not changed by then (a change
        starts its settle period afresh): a file whose content says it is not complete yet."""
        self.track(path, activity=False)
        tracked = self._files.get(path)
        if tracked is not None:
            tracked.hold_until = self._clock() + seconds

    def _look_again(self, path: Path, exc: OSError) -> bool:
        """A file that could not be looked at for an I/O error (a share or a disk failing for a
        moment: audit CE D2, one EIO on a manifest's stat filed it into failed/ as "a device"): it
        stays tracked, looked at again in a moment (settling afresh if it changed), never taken for a
        link to nothing, nor dropped: a regular file there whatever the error (ESTALE on NFS, EACCES,
        audit CH E5), or any path whose stat and lstat fail with an I/O error. False otherwise (not
        there, a link to nothing, a folder one may not look into)."""
        try:
            regular = stat.S_ISREG(os.lstat(path).st_mode)
        except OSError as again:
            regular = False
            if again.errno not in TRANSIENT_ERRNOS:
                return False
        if not regular and exc.errno not in TRANSIENT_ERRNOS:
            return False
        now = self._clock()
        tracked = self._files.get(path)
        if tracked is None:
            tracked = self._files[path] = _Tracked(_UNKNOWN, now, False, first_seen=self._given_seen.pop(path, now))
        if not tracked.said_look_failed:
            tracked.said_look_failed = True
            log.warning(
                "file.look_failed",
                file=str(path),
                error=f"{exc.strerror or exc}",
                action=f"looked at again every {IO_ERROR_RECHECK_SECONDS:g} s, taken once read and settled",
            )
        tracked.hold_until = now + IO_ERROR_RECHECK_SECONDS
        return True

    def _note_special(self, path: Path) -> None:
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return
        if not stat.S_ISDIR(mode):
            self.specials[path] = mode

    def tracks_named_in(self, folder: Path, endings: tuple[str, ...]) -> bool:
        """Whether a file directly in ``folder`` whose name ends (in any case) with one of ``endings``
        is tracked, i.e. not taken yet (a manifest still settling)."""
        return any(path.parent == folder and path.name.lower().endswith(endings) for path in self._files)

    def tracked_named(self, folder: Path, names: tuple[str, ...]) -> list[Path]:
        """The files directly in ``folder`` named (in any case) one of ``names`` that are tracked,
        i.e. not taken yet."""
        return [path for path in self._files if path.parent == folder and path.name.lower() in names]

    def tracks_under(self, folder: Path) -> bool:
        """Whether a file in ``folder`` (at any depth) is tracked, i.e. not taken yet."""
        return any(folder in path.parents for path in self._files)

    def forget(self, path: Path) -> None:
        self._files.pop(path, None)

    def _ctime_age(self, st: os.stat_result) -> float | None:
        """How long ago the file was last renamed or written (its ctime), by the wall clock; None
        without one."""
        return None if self._wall is None else max(self._wall() - st.st_ctime_ns / 1e9, 0.0)

    def came_at(self, path: Path) -> float | None:
        """When the file at ``path`` came as it is (its ctime), on this clock; None when it cannot
        be looked at, or without a wall clock."""
        try:
            age = self._ctime_age(self._stat(path))
        except OSError:
            return None
        return None if age is None else self._clock() - age

    def signature_of(self, path: Path) -> Signature | None:
        """``path``'s signature as last seen, if it is tracked."""
        tracked = self._files.get(path)
        return tracked.sig if tracked is not None else None

    def first_seen(self, path: Path) -> float | None:
        """When ``path`` was first seen (this clock's time; a file found by a scan: its ctime; one
        renamed into place: when its upload under a temporary name was seen to begin, if it was),
        tracked or given out by the last get_stable_files."""
        tracked = self._files.get(path)
        return tracked.first_seen if tracked is not None else self._given_seen.get(path)

    def get_stable_files(self, limit: int | None = None) -> list[tuple[Path, Signature]]:
        """The files that are complete now (at most ``limit``), with their signature; they stop
        being tracked. The others stay tracked as they are, so a backlog costs nothing extra."""
        # Iterated in place (no copy of a backlog of thousands per call); removals after the loop.
        return self._stable(self._files.items(), limit)

    def stable_among(self, paths: Iterable[Path]) -> list[tuple[Path, Signature]]:
        """``get_stable_files`` for these files only (untracked ones are left out), whatever their
        place in the backlog."""
        return self._stable([(path, tracked) for path in paths if (tracked := self._files.get(path))], None)

    def _stable(self, files: Iterable[tuple[Path, _Tracked]], limit: int | None) -> list[tuple[Path, Signature]]:
        now = self._clock()
        stable: list[tuple[Path, Signature]] = []
        gone: list[Path] = []
        for path, tracked in files:
            if limit is not None and len(stable) >= limit:
                break
            if not tracked.complete and now - tracked.changed_at < self.settle_seconds:
                continue
            if now < tracked.hold_until:
                continue  # held as incomplete-looking; an event about it clears the hold
            try:
                st = self._stat(path)
            except OSError as exc:
                if not self._look_again(path, exc):
                    gone.append(path)
                continue
            if not stat.S_ISREG(st.st_mode):
                gone.append(path)
                continue
            sig = signature(st)
            if sig != tracked.sig:
                if sig[2] != tracked.sig[2]:
                    tracked.first_seen = now
                tracked.sig, tracked.changed_at, tracked.complete, tracked.hold_until = sig, now, False, 0.0
                tracked.open_since, tracked.said_open = None, False
                continue
            if st.st_size == 0 and self._upload_going_on(path, tracked, now, STALLED_DOWNLOAD_SECONDS):
                # Firefox makes an empty x.pdf at once, downloads into x.pdf.part beside it and
                # renames that over x.pdf at the end: the empty one is no upload that stalled, it
                # waits while the temporary one is there (audit R 2: taken as "an empty file"), a
                # download that pauses included (review EE 2: one stalled 6 s failed its job as
                # empty); one unchanged for STALLED_DOWNLOAD_SECONDS, a crashed client's, holds it
                # no longer (review DZ 1: held for ever).
                tracked.hold_until = now + OPEN_RECHECK_SECONDS
                continue
            if not _looks_complete(path, st):
                if self._upload_going_on(path, tracked, now):
                    tracked.hold_until = now + OPEN_RECHECK_SECONDS
                    continue
                due = tracked.changed_at + self.incomplete_pdf_seconds
                if now < due:
                    tracked.hold_until = due
                    continue
            if open_for_writing(path):
                tracked.hold_until = now + OPEN_RECHECK_SECONDS  # taken once closed, if unchanged
                if tracked.open_since is None:
                    tracked.open_since = now
                elif not tracked.said_open and now - tracked.open_since >= HELD_OPEN_WARN_SECONDS:
                    tracked.said_open = True
                    self._held_open(path, now - tracked.open_since)
                continue
            stable.append((path, sig))
        for path in gone:
            del self._files[path]
        self._given_seen = {path: self._files.pop(path).first_seen for path, _sig in stable}
        return stable

    def _upload_going_on(self, path: Path, tracked: _Tracked, now: float, limit: float | None = None) -> bool:
        """Whether ``path``, which looks cut off, is being uploaded again beside it under a
        temporary name that changed within ``incomplete_pdf_seconds``: ``rsync --partial`` cut
        off leaves the part under the final name, and the same rsync run again writes the whole
        file into ``.x.pdf.Ab12Cd`` and renames that over it at its end (audit AB 1: the part was
        taken meanwhile, and its job failed as damaged). An upload that stopped changing (a client
        killed, its temporary file left) holds it no longer."""
        beside = upload_beside(path)
        if beside is None:
            return False
        try:
            sig = signature(self._stat(path.parent / beside))
        except OSError:
            return False
        if sig != tracked.upload_sig:
            tracked.upload_sig, tracked.upload_changed_at = sig, now
        return now - tracked.upload_changed_at < (self.incomplete_pdf_seconds if limit is None else limit)

    @staticmethod
    def _held_open(path: Path, seconds: float) -> None:
        """Said once, after HELD_OPEN_WARN_SECONDS: a file that looks complete and has not changed
        for minutes, but that a program still holds open for writing, waits (a stuck upload: an SMB
        session or an FTP transfer that never ended). Nobody else would ever say why it sits there."""
        log.warning(
            "file.held_open",
            path=str(path),
            seconds=round(seconds),
            reason=(
                f"{path.name} has not changed for {round(seconds)} s, but a program still has it open for writing, "
                "so it is not taken (it may not be complete); it is taken once that program closes it. A stuck "
                "upload: end that program or its SMB/FTP session (fuser or smbstatus shows which)"
            ),
        )

    def held_until(self, path: Path) -> float | None:
        """When a file held as not complete yet (empty, a PDF without its end marker), unchanged
        since, is taken all the same (this clock's time); None when it is not so held."""
        tracked = self._files.get(path)
        if tracked is None or tracked.hold_until <= self._clock():
            return None
        return tracked.hold_until

    def held_open_since(self, path: Path) -> float | None:
        """Since when (this clock's time) a file unchanged is held only because some program has it
        open for writing; None when it is not so held."""
        tracked = self._files.get(path)
        if tracked is None or tracked.hold_until <= self._clock():
            return None
        return tracked.open_since

    def any_due(self) -> bool:
        """Whether some file may be stable now (stops at the first: cheap during a backlog)."""
        now = self._clock()
        return any(self._due(t) <= now for t in self._files.values())

    def next_due(self) -> float | None:
        """Monotonic time at which the next file may become stable (None when nothing is tracked)."""
        return min((self._due(t) for t in self._files.values()), default=None)

    def _due(self, t: _Tracked) -> float:
        if t.complete:
            return max(t.changed_at, t.hold_until)
        return max(t.changed_at + self.settle_seconds, t.hold_until)


#: How soon a file found open for writing is looked at again.
OPEN_RECHECK_SECONDS = 0.2
#: How soon a file whose stat failed with an I/O error is looked at again (``_look_again``).
IO_ERROR_RECHECK_SECONDS = 1.0

#: After how long unchanged but still open for writing a file is said in the log (once).
HELD_OPEN_WARN_SECONDS = 300.0

#: How long a download under a temporary name beside an empty file of its name (Firefox's x.pdf
#: beside x.pdf.part) may go without a byte before it no longer holds that file: browsers give up
#: a connection that sends nothing within minutes; a pause by the user that long fails the job as
#: empty, its ERROR.txt saying what to do.
STALLED_DOWNLOAD_SECONDS = 600.0

#: Names whose empty file is not complete yet: a manifest or a PDF has content.
_NEEDS_CONTENT = (".pdf", *MANIFEST_SUFFIXES)
_PDF_HEADER = b"%PDF-"


def _looks_complete(path: Path, st: os.stat_result) -> bool:
    """False for an empty manifest, PDF or drop file, for a ``*.json`` manifest whose text does not end with
    the ``}`` that closes it, for a YAML manifest whose text does not end with a line break, and
    for a ``*.pdf`` that is (or begins like) a PDF but does not end with ``%%EOF``: still
    being written (a writer that paused longer than ``settle_seconds``), or cut short (an upload
    interrupted after it got its name, as ``rsync --partial`` leaves it). Renamed files too: a
    name says nothing about the content behind it. Anything else is judged by size and time alone.
    (A YAML document has no end marker: one cut exactly after a line break looks complete.)"""
    suffix = path.suffix.lower()
    if st.st_size == 0 and classify_drop(path.name) is not None:
        # An empty RELEASE/REJECT/RETRY: the operator's name may be typed into it a moment later
        # (Explorer's "New > Text Document", renamed, then opened in Notepad: audit BQ 3). An empty
        # drop file still acts, once unchanged for incomplete_pdf_seconds.
        return False
    if suffix not in _NEEDS_CONTENT:
        return True
    if st.st_size == 0:
        return False
    if suffix == ".json":
        return _json_closed(path, st)
    if suffix in (".yaml", ".yml"):
        return _text_tail(path, st, 2)[-1:] in (b"\n", b"\r", b"")  # "quantity: 5" of "quantity: 500\n"
    if suffix != ".pdf":
        return True
    try:
        with open_regular(path, follow=False) as fh:  # (a pipe swapped in: never waited on, audit DA 3)
            head = fh.read(1024)
            if head[:1] == b"\x00":
                return False  # zeros where the header goes: the size of a copy set first, its data not yet written
            if known_kind(head) is not None or (
                _PDF_HEADER not in head and not _PDF_HEADER.startswith(head[: len(_PDF_HEADER)])
            ):
                return True  # not a PDF at all: no end marker to wait for (preflight says so)
            start = head
            if st.st_size > len(head):
                fh.seek(max(0, st.st_size - 1024))
                head = fh.read(1024)
            end = head.rfind(b"%%EOF")
            if end < 0 or head[end + 5 :].strip(b" \t\r\n\f\x00"):
                return False
            if _has_hole(fh.fileno(), st.st_size):
                return False  # a part never written: a client that wrote the end first
            # Linearized, shorter than it says: stopped at the end marker after its first page.
            return short_of_declared_length(start, st.st_size) is None
    except OSError:
        return True


def _has_hole(fd: int, size: int) -> bool:
    """Whether the file has a hole before its end: a region never written (``SEEK_HOLE``), as a
    client that writes the end of a file first (a multi-threaded copy, a download manager) leaves
    until it is done. False where the filesystem cannot tell (it reports the end of the file). A
    complete file made sparse on purpose (``cp --sparse=always``, ``rsync -S`` of a PDF with runs of
    zeros) only waits the longer wait of incomplete-looking files."""
    try:
        return os.lseek(fd, 0, os.SEEK_HOLE) < size
    except OSError:
        return False


def _json_closed(path: Path, st: os.stat_result) -> bool:
    """Whether a JSON manifest's last character (whitespace aside) is the ``}``
    that closes its object. A file that is not an object at all is refused by the parser anyway,
    a few seconds later."""
    tail = _text_tail(path, st, 256)
    return not tail or tail.rstrip(b" \t\r\n").endswith(b"}")


def _text_tail(path: Path, st: os.stat_result, size: int) -> bytes:
    """``_tail`` of a manifest, as ASCII: a UTF-16 text (it starts with its byte-order mark) has a
    zero byte beside each ASCII character, which are dropped. (Only then: zeros at the end of a
    UTF-8 file are a copy not written yet, which must not look complete.)"""
    tail = _tail(path, st, size)
    if st.st_size > size:
        try:
            with open_regular(path, follow=False) as fh:
                head = fh.read(2)
        except OSError:
            return tail
    else:
        head = tail[:2]
    if head in (b"\xff\xfe", b"\xfe\xff"):
        return tail.replace(b"\x00", b"")
    return tail


def open_for_writing(path: Path) -> bool:
    """Whether some process has ``path`` open for writing: Linux refuses a read lease then
    (``EAGAIN``). False when unknown (no lease possible: another owner's file without
    ``CAP_LEASE``, a network filesystem, no such call). The lease lasts two system calls; its break
    signal is SIGURG, ignored by default, so a writer opening the file meanwhile costs nothing."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.fcntl(fd, fcntl.F_SETSIG, signal.SIGURG)
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
    except OSError as exc:
        return exc.errno == errno.EAGAIN
    finally:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        with contextlib.suppress(OSError):
            os.close(fd)  # (released whatever it says: audit CH E1, an EIO here failed another job)
    return False


def _tail(path: Path, st: os.stat_result, size: int) -> bytes:
    """The last ``size`` bytes of the file; b"" when it cannot be read (judged complete then: the
    reader that follows reports what is wrong)."""
    try:
        with open_regular(path, follow=False) as fh:
            fh.seek(max(0, st.st_size - size))
            return fh.read(size)
    except OSError:
        return b""
