"""Events and scans -> "this path may be ready".

The watchdog handler only records paths (it must never raise: an exception in a handler kills the
observer thread silently). Events are hints; the scans in intake are the truth. ``auto`` mode uses
inotify and falls back to polling when the kernel's watch limit is reached; ``polling`` is for
SMB/NFS mounts, where inotify sees nothing done by other machines. Polling is our own
``FolderPoller``: it stats the folders, not every file in them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver, EventQueue, ObservedWatch
from watchdog.observers.inotify import InotifyEmitter
from watchdog.observers.inotify_c import InotifyFD
from watchdog.utils.delayed_queue import DelayedQueue

log = structlog.get_logger("spo_hotfolder.watcher")

# A job folder that leaves quarantine/ (for a replacement, RETRY) and comes back keeps its inode, and
# watchdog 7.1 re-adds the watch it still has for it with a RuntimeWarning that dumps its whole watch
# table (~100 KB with 40 held jobs): harmless (the callback is the same), and it buried real warnings.
warnings.filterwarnings("ignore", message=r"Callback with id .* already exists for watch", category=RuntimeWarning)

#: What the watch subscribes to. Opens, reads and deletions are left out: they say nothing about
#: a file being ready, and subscribing to them floods the kernel's queue (reading 10,000 job
#: folders after an overflow made more events than the queue holds, again and again).
EVENT_FILTER = (FileCreatedEvent, FileModifiedEvent, FileMovedEvent, FileClosedEvent, DirCreatedEvent, DirMovedEvent)


class PromptDelayedQueue(DelayedQueue[Any]):
    """watchdog's queue of inotify events, without its 0.5 s stall.

    watchdog 7.1 holds an ``IN_MOVED_FROM`` for 0.5 s to pair it with its ``IN_MOVED_TO``, and
    events behind it wait (the order matters). But ``DelayedQueue.get`` *sleeps* the whole delay
    once it has seen a held ``IN_MOVED_FROM`` at the head, even when the ``IN_MOVED_TO`` arrives
    50 microseconds later and the pair is ready: every client that uploads to a temp name and
    renames (rsync, Samba, browsers, FTP servers) then had a file delivered 0.5 s late, every few
    files. This ``get`` waits on the queue's condition instead, so the pairing (a ``put``) wakes it
    at once; an ``IN_MOVED_FROM`` that never pairs is still released after the delay.
    """

    def get(self) -> Any:
        with self._not_empty:
            while True:
                while not self._queue and not self._closed:
                    self._not_empty.wait()
                if self._closed:
                    return None
                head, inserted, delayed = self._queue[0]
                if delayed:
                    left = inserted + self.delay - time.monotonic()
                    if left > 0:
                        self._not_empty.wait(left)
                        continue
                self._queue.popleft()
                return head


def _install_prompt_queue() -> None:
    """Makes watchdog's inotify move-event grouper use PromptDelayedQueue (checked: watchdog 7.1;
    a watchdog without that module keeps its own queue)."""
    try:
        from watchdog.observers import inotify_move_event_grouper as grouper
    except ImportError:  # not Linux, or another watchdog layout
        return
    if getattr(grouper, "DelayedQueue", None) is DelayedQueue:
        grouper.DelayedQueue = PromptDelayedQueue  # type: ignore[attr-defined]


_install_prompt_queue()


#: A folder renamed: (old, new, names). ``names``: files the folder held when last seen and the new
#: one does not (polling only: the engine vouches they are its own takes, or it is no rename).
MovedDir = Callable[[Path, Path, frozenset[str]], None]


class _Recorder(FileSystemEventHandler):
    def __init__(
        self,
        sink: Callable[[Path, bool], None],
        moved_dir: MovedDir | None = None,
        links: Mapping[str, str] | None = None,
    ) -> None:
        """``links``: watched folders that are links, where each points (the folder watched) ->
        the link (the folder configured): events are said by the configured path, as scans say them."""
        self._sink = sink
        self._moved_dir = moved_dir
        self._links = dict(links or {})

    def _path(self, raw: str | bytes) -> Path:
        text = _text(raw)
        for real, link in self._links.items():
            if text == real or text.startswith(real + os.sep):
                return Path(link + text[len(real) :])
        return Path(text)

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            if event.event_type in ("opened", "closed_no_write"):
                return
            if event.event_type == "moved":
                dest = event.dest_path
                if dest and event.is_directory and event.src_path and self._moved_dir is not None:
                    self._moved_dir(self._path(event.src_path), self._path(dest), frozenset())
                if dest:
                    # A file renamed in is complete; one inside a folder renamed (a synthetic event)
                    # may still be being written: it settles (white-box audit CN 2, "New folder"
                    # renamed while its manifest was written line by line was taken cut short).
                    self._sink(self._path(dest), not event.is_directory and not getattr(event, "is_synthetic", False))
                return
            if event.event_type == "deleted":
                return
            self._sink(self._path(event.src_path), False)
        except Exception:  # noqa: BLE001 - a raising handler kills the observer thread
            return


class _DirectEmitter(InotifyEmitter):
    """watchdog's inotify emitter, handing each event to our recorder in the emitter's own thread.

    watchdog passes an event through three threads: the inotify reader, the emitter, and the
    observer's dispatch thread, which takes it from a queue and calls the handler. Our handler only
    records the path (a lock and a dict), so the third hop bought nothing and cost ~0.3 ms per event
    (a queue put, a wake of another thread, the GIL handed over): a third of the time between a
    client's rename and the engine's first look at the file. The observer's thread still runs, idle.
    """

    def __init__(self, event_queue: EventQueue, watch: ObservedWatch, *, recorder: _Recorder, **kwargs: Any) -> None:
        super().__init__(event_queue, watch, **kwargs)
        self._recorder = recorder

    def queue_event(self, event: FileSystemEvent) -> None:
        if isinstance(event, EVENT_FILTER):
            self._recorder.on_any_event(event)


class _SturdyInotifyFD(InotifyFD):
    """watchdog's inotify reader thread, which survives an error in handling one event.

    watchdog 7.1's bookkeeping of removed watches can raise (a KeyError in
    ``InotifyWatchGroup._remove_watch_internally`` when a watched folder is moved away, e.g. a job
    folder dragged from failed/ into inbox/, and its watch is dropped twice). Uncaught, that ended
    the thread: no event came any more, and the daemon saw new files only at its rescans. The
    event's callbacks are its watch group's; the error is logged and the reader goes on (a folder
    whose watch went astray is found by the rescan, and ``is_alive`` covers a reader that died).

    ``lost()`` is called when the kernel's event queue overflowed (``IN_Q_OVERFLOW``: more events
    than ``fs.inotify.max_queued_events`` came before the reader got to them, a burst of thousands
    of files): the events dropped are gone for good, and watchdog only logs it."""

    def __init__(self, lost: Callable[[], None] | None = None) -> None:
        super().__init__()
        self._lost = lost
        #: A folder's watch was refused (the kernel's watch limit, or its instances): watchdog
        #: leaves it unwatched, saying only a warning (white-box audit DL 3).
        self.refused: OSError | None = None

    def add_callback(self, path: bytes, mask: Any, callback: Any, id_: Any) -> Any:
        try:
            return super().add_callback(path, mask, callback, id_)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EMFILE):
                self.refused = exc
            raise

    def handle_event(self, event: Any) -> None:
        try:
            super().handle_event(event)
        except Exception as exc:  # noqa: BLE001 - one event's bookkeeping must not end the reader
            log.warning("watcher.event_failed", error=f"{type(exc).__name__}: {exc}", action="going on")
        if self._lost is not None and getattr(event, "is_queue_overflow", False):
            try:
                self._lost()
            except Exception:  # the reader goes on whatever the callback does
                log.exception("watcher.lost_callback_failed")


class _DirectObserver(BaseObserver):
    """watchdog's ``InotifyObserver`` with ``_DirectEmitter`` (its own inotify instance)."""

    def __init__(self, recorder: _Recorder, lost: Callable[[], None] | None = None) -> None:
        self._inotify_fd = _SturdyInotifyFD(lost)
        self._inotify_fd.start()
        super().__init__(_DirectEmitter, inotify_fd=self._inotify_fd, recorder=recorder)

    @property
    def refused(self) -> OSError | None:
        """A folder's watch the kernel refused since the start (``_SturdyInotifyFD.refused``)."""
        return self._inotify_fd.refused

    def is_alive(self) -> bool:
        """Alive only if the inotify reader and every emitter are too: any of them dead, no event
        arrives any more, and the heartbeat must start a fresh observer."""
        return (
            super().is_alive() and self._inotify_fd.is_alive() and all(emitter.is_alive() for emitter in self.emitters)
        )

    def on_thread_stop(self) -> None:
        super().on_thread_stop()
        self._inotify_fd.stop()
        self._inotify_fd.join()


#: The inotify observer ``FolderWatcher`` starts (a name of its own so that tests can replace it).
Observer = _DirectObserver


def _text(p: str | bytes) -> str:
    return p.decode("utf-8", "surrogateescape") if isinstance(p, bytes) else p


#: Which sub-folders of a watched folder are looked into: ``descend(depth, name)``, depth 0 for
#: the watched folder's own entries. It alone decides for folders (``ignored`` is for files: a job
#: folder is named by its job's id, which watch.ignore may match).
Descend = Callable[[int, str], bool]

#: A folder whose (inode, mtime, ctime) is younger than this (by our clock, from the moment we
#: first saw it) is listed again at every poll: a file added within the same timestamp tick
#: leaves the folder's mtime as it was (FAT and some NAS keep 1-2 s ticks).
FRESH_SECONDS = 2.5

FileKey = tuple[int, int, int, int]  # inode, size, mtime_ns, ctime_ns


@dataclass(slots=True)
class _Folder:
    key: tuple[int, int, int]  # inode, mtime_ns, ctime_ns of the folder
    key_seen: float  # monotonic time this key was first seen
    files: dict[str, FileKey] = field(default_factory=dict)
    subdirs: set[str] = field(default_factory=set)


class FolderPoller:
    """Polling for folders where inotify sees nothing (SMB/NFS mounts), at a small cost per poll.

    watchdog's ``PollingObserver`` stats every file of the tree at every poll (2,000 files in the
    inbox: 2,000 stats a second). A file appearing, disappearing or renamed changes its folder's
    mtime; so this poller stats the folders, and lists a folder again only when its inode, mtime
    or ctime changed (or changed less than ``FRESH_SECONDS`` ago: coarse timestamp ticks). A
    listing stats only the names that are not ignored, and reports those that are new or
    different. A file written in place without a new name (no folder change) is followed by the
    stability tracker, which stats each file it waits for; the periodic rescan is the safety net.

    ``start`` lists everything once (a baseline, nothing is reported: the engine's start-up scan
    sees those files), so that whatever appears after it is reported.
    """

    def __init__(
        self,
        folders: Sequence[Path],
        interval: float,
        sink: Callable[[Path, bool], None],
        descend: Mapping[Path, Descend] | None = None,
        ignored: Callable[[str], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
        stat: Callable[[str], os.stat_result] = os.stat,
        moved_dir: MovedDir | None = None,
    ) -> None:
        self.folders = list(folders)
        self.interval = interval
        self._sink = sink
        self._moved_dir = moved_dir
        self._descend = dict(descend or {})
        self._ignored = ignored or (lambda name: False)
        self._clock = clock
        self._stat = stat
        self._known: dict[str, _Folder] = {}
        self._refused: dict[str, tuple[int, int, int]] = {}  # folders that may not be listed: their key
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listings = 0  # folders listed (for tests: an unchanged folder is not listed again)

    def start(self) -> None:
        self.poll(report=False)
        self._thread = threading.Thread(target=self._run, name="poller", daemon=True)
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:  # one bad round must not end polling
                log.exception("watcher.poll_failed")

    def poll(self, report: bool = True) -> None:
        """One round over every watched folder."""
        for folder in self.folders:
            self._poll(str(folder), self._descend.get(folder, _everything), 0, report)

    def _poll(self, path: str, descend: Descend, depth: int, report: bool) -> None:
        try:
            st = self._stat(path)
        except OSError:
            self._forget(path)
            return
        key = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
        now = self._clock()
        known = self._known.get(path)
        if known is None or known.key != key:
            known = self._list(path, key, now, known, descend, depth, report)
        elif now - known.key_seen < FRESH_SECONDS:
            known = self._list(path, key, known.key_seen, known, descend, depth, report)
        if known is None:
            return
        for name in sorted(known.subdirs):
            self._poll(f"{path}{os.sep}{name}", descend, depth + 1, report)

    def _list(
        self,
        path: str,
        key: tuple[int, int, int],
        key_seen: float,
        old: _Folder | None,
        descend: Descend,
        depth: int,
        report: bool,
    ) -> _Folder | None:
        try:
            entries = list(os.scandir(path))
        except OSError as exc:
            self._forget(path)
            if report and exc.errno in (errno.EACCES, errno.EPERM) and self._refused.get(path) != key:
                self._sink(Path(path), False)  # the engine says it (folder.unreadable), once for each change
            if len(self._refused) > 10_000:
                self._refused.clear()
            self._refused[path] = key
            return None
        if self._refused:
            self._refused.pop(path, None)
        self.listings += 1
        folder = _Folder(key, key_seen)
        before = old.files if old is not None else {}
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if descend(depth, name):  # (the folders watch.ignore names: left out by it)
                        folder.subdirs.add(name)
                    continue
                if self._ignored(name):
                    continue
                # Files, and links and pipes: the engine explains what is not a file.
                est = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            fkey = (est.st_ino, est.st_size, est.st_mtime_ns, est.st_ctime_ns)
            folder.files[name] = fkey
            if report and before.get(name) != fkey:
                self._sink(Path(entry.path), False)
        if old is not None:
            # A folder of a name still there may be another folder: renamed away, and a new one
            # made under its name within the interval ("New folder" renamed, the next "New folder"
            # made at once: review EN 2, the rename was not seen, its job's artwork "missing").
            gone = (old.subdirs - folder.subdirs) | self._replaced(path, old.subdirs & folder.subdirs, entries)
            if report and gone and self._moved_dir is not None:
                self._renamed(path, gone, (folder.subdirs - old.subdirs) | (gone & folder.subdirs), entries)
            for name in gone:
                self._forget(f"{path}{os.sep}{name}")
        self._known[path] = folder
        return folder

    def _replaced(self, path: str, names: set[str], entries: list[os.DirEntry[str]]) -> set[str]:
        """Those of ``names`` (sub-folders listed before and now) that are another folder now: of
        another inode than the one listed before."""
        replaced: set[str] = set()
        for entry in entries:
            if entry.name not in names:
                continue
            known = self._known.get(f"{path}{os.sep}{entry.name}")
            if known is None:
                continue
            with contextlib.suppress(OSError):
                # (the listing's inode first, cheap; a stat where it differs: on overlayfs it may)
                if entry.inode() != known.key[0] and entry.stat(follow_symlinks=False).st_ino != known.key[0]:
                    replaced.add(entry.name)
        return replaced

    def _renamed(self, path: str, gone: set[str], new: set[str], entries: list[os.DirEntry[str]]) -> None:
        """Folders of ``path`` that went while others came: one that came with the inode of one
        that went, and every file that one held when last listed, is taken as it renamed (polling
        sees no rename; an inode reused by a new folder at once would hold other files). Files it
        held that the new one does not are named to the engine, which takes it as a rename only if
        it took them out itself (review DL 1: a folder drop renamed within a poll interval after its
        manifest was taken in was not followed, and its job failed, its artwork "missing")."""
        inodes: dict[str, int] = {}
        for entry in entries:
            if entry.name in new:
                with contextlib.suppress(OSError):  # (stat: a listing's inode may differ, as on overlayfs)
                    inodes[entry.name] = entry.stat(follow_symlinks=False).st_ino
        for old_name in sorted(gone):
            known = self._known.get(f"{path}{os.sep}{old_name}")
            if known is None:
                continue
            for new_name, inode in inodes.items():
                if inode != known.key[0]:
                    continue
                try:
                    names = set(os.listdir(f"{path}{os.sep}{new_name}"))
                except OSError:
                    break
                if known.subdirs <= names and not self._others_in(f"{path}{os.sep}{new_name}", known, names):
                    missing = frozenset(known.files) - names
                    self._moved_dir(Path(path, old_name), Path(path, new_name), missing)  # type: ignore[misc]
                break

    @staticmethod
    def _others_in(new: str, known: _Folder, names: set[str]) -> bool:
        """Whether the folder at ``new`` holds, under a name the folder ``known`` held, another file
        than that one (another inode): a folder removed and a new one made that got its inode, an
        order's folder after another's, both with a manifest.json (review EN 1: taken for a rename,
        the removed folder's job took the new order's artwork.pdf and printed it)."""
        for name, key in known.files.items():
            if name in names:
                try:
                    if os.lstat(f"{new}{os.sep}{name}").st_ino != key[0]:
                        return True
                except OSError:
                    continue
        return False

    def _forget(self, path: str) -> None:
        """A folder that is gone (or no longer looked into), with everything below it."""
        folder = self._known.pop(path, None)
        if folder is not None:
            for name in folder.subdirs:
                self._forget(f"{path}{os.sep}{name}")


#: How often polling after a fallback tries inotify again when the watch limit has not changed.
NATIVE_RETRY_SECONDS = 3600.0


def inotify_refused(exc: OSError) -> str:
    """Why inotify refused to watch the folders, with the kernel setting that would let it
    (review FR 4: "inotify instance limit reached", and no word of the fix)."""
    if exc.errno == errno.ENOSPC:
        return (
            f"the kernel's inotify watch limit is reached (fs.inotify.max_user_watches = "
            f"{inotify_setting('max_user_watches') or '?'}: raise it with sysctl, or set watch.mode: polling)"
        )
    if exc.errno == errno.EMFILE:
        return (
            f"the kernel's limit of inotify instances of this user is reached (fs.inotify.max_user_instances = "
            f"{inotify_setting('max_user_instances') or '?'}: other programs of the user hold them; raise it "
            "with sysctl, or set watch.mode: polling)"
        )
    return f"inotify is not available: {exc} (set watch.mode: polling)"


def inotify_setting(name: str) -> str | None:
    """The kernel's ``fs.inotify.<name>`` (``max_user_watches``, ``max_queued_events``), as text."""
    try:
        with open(f"/proc/sys/fs/inotify/{name}") as fh:
            return fh.read().strip()
    except OSError:
        return None


def _watch_limit() -> str | None:
    return inotify_setting("max_user_watches")


def _everything(depth: int, name: str) -> bool:
    return True


#: Filesystems on which inotify sees only the changes made through this machine's own kernel:
#: files written by another machine (the SMB or NFS server's clients, the FUSE server's side)
#: raise no event. ``fuse.*`` are FUSE mounts (sshfs, bindfs, rclone, ...); ``fuseblk`` is a local
#: disk (ntfs-3g), where events work.
NETWORK_FILESYSTEMS = frozenset(
    ("nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "lustre", "afs", "gpfs", "vboxsf", "fuse")
)


def filesystem_type(path: Path, mountinfo: str | None = None) -> str | None:
    """The type of the filesystem ``path`` is on (``/proc/self/mountinfo``: the longest mount point
    that holds it), or None when it cannot be told."""
    if mountinfo is None:
        try:
            with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as fh:
                mountinfo = fh.read()
        except OSError:
            return None
    target = os.path.realpath(path)
    best: tuple[int, str] | None = None
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5 or not right.split():
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= best[0]):
            best = (len(point), right.split()[0])
    return best[1] if best is not None else None


def is_network_filesystem(fstype: str | None) -> bool:
    return fstype is not None and (fstype in NETWORK_FILESYSTEMS or fstype.startswith("fuse."))


class FolderWatcher:
    """Watches folders recursively and feeds every touched path to ``sink(path, moved_in)``."""

    def __init__(
        self,
        folders: Sequence[Path],
        mode: str,
        poll_interval: float,
        sink: Callable[[Path, bool], None],
        descend: Mapping[Path, Descend] | None = None,
        ignored: Callable[[str], bool] | None = None,
        moved_dir: MovedDir | None = None,
        lost: Callable[[], None] | None = None,
    ) -> None:
        """``descend`` and ``ignored`` narrow what polling looks at (what the engine's scans look
        at); inotify watches the whole trees. ``moved_dir(old, new)``: a folder renamed inside the
        watched trees (polling: told by its inode and its files, ``FolderPoller._renamed``).
        ``lost()``: events were lost (the kernel's queue overflowed); only a scan finds what they
        were about. Called on the inotify reader's thread."""
        self.folders = list(folders)
        self.requested_mode = mode
        self.poll_interval = poll_interval
        self._sink = sink
        self._moved_dir = moved_dir
        self._lost = lost
        self._descend = descend
        self._ignored = ignored
        self._observer: object | None = None
        self.mode = "none"
        self._lock = threading.Lock()
        #: Polling because inotify failed in ``auto`` mode (the watch limit): native is tried again
        #: when the limit is raised, at a reload, and hourly (``try_native``).
        self.fell_back = False
        self._fallback_limit: str | None = None
        self._fallback_at = 0.0
        self._refusal_said: object | None = None  # the observer whose refused watch was said (native mode)

    def start(self) -> None:
        with self._lock:
            if self.requested_mode == "polling":
                self._start_observer(polling=True)
                self.fell_back = False  # (asked for: no fallback to leave, audit CT 3)
                return
            if self.requested_mode == "auto":
                remote = {str(f): t for f in self.folders if is_network_filesystem(t := filesystem_type(f))}
                if remote:
                    # SPEC 7: polling for SMB/NFS mounts. inotify would start and see nothing
                    # another machine writes: orders taken only at each rescan (60 s).
                    log.info(
                        "watcher.polling_network_filesystem",
                        folders=remote,
                        poll_interval=self.poll_interval,
                        reason="inotify does not see files written by other machines on a network or FUSE "
                        "filesystem; watch.mode auto polls these folders",
                    )
                    self._start_observer(polling=True)
                    self.fell_back = False
                    return
            try:
                self._start_observer(polling=False)
            except OSError as exc:
                if self.requested_mode == "native" and exc.errno != errno.ENOSPC:
                    raise
                self._poll_instead(inotify_refused(exc))
            else:
                self.fell_back = False

    def try_native(self, *, now: float | None = None, force: bool = False) -> bool:
        """After a fallback to polling: back to inotify if it works now. Tried when the kernel's
        watch limit has changed since the fallback (the fix the log line names), hourly (other
        programs may have let watches go), or when ``force`` (a reload). A try that fails costs a
        walk of the watched trees, so it is not made at every heartbeat."""
        with self._lock:
            if not self.fell_back or self._observer is None or self.requested_mode == "polling":
                return False
            now = time.monotonic() if now is None else now
            limit = _watch_limit()
            if not force and limit == self._fallback_limit and now - self._fallback_at < NATIVE_RETRY_SECONDS:
                return False
            poller = self._observer
            try:
                self._start_observer(polling=False)
            except OSError as exc:
                self._fallback_limit, self._fallback_at = limit, now
                log.info("watcher.still_polling", reason=str(exc))
                return False
            self.fell_back = False
        poller.stop()  # type: ignore[attr-defined]
        log.info("watcher.native_again", folders=[str(f) for f in self.folders])
        return True

    def fall_back_if_watches_refused(self) -> bool:
        """Native watching whose watch on a folder made since the start was refused (the kernel's
        watch limit reached meanwhile: each job held in quarantine/ adds a few): in ``auto`` mode,
        polling from now on, as at a start that meets the limit (``try_native`` goes back once the
        limit is raised); in ``native`` mode, said once (new folders are then seen by the rescans
        only). Returns whether it fell back (the caller rescans: events may have been missed)."""
        with self._lock:
            observer = self._observer
            refused = getattr(observer, "refused", None) if self.mode == "native" else None
            if refused is None or self._refusal_said is observer:
                return False
            reason = (
                "the kernel's inotify watch limit is reached (raise fs.inotify.max_user_watches): a folder made "
                f"since the start is not watched ({refused.strerror or refused})"
            )
            if self.requested_mode == "native":
                self._refusal_said = observer
                log.error("watcher.watch_refused", reason=reason, action="new folders are seen by the rescans only")
                return False
            self._poll_instead(reason)
        observer.stop()  # type: ignore[union-attr]
        return True

    def _poll_instead(self, reason: str) -> None:
        """(holding the lock) Polling where native watching cannot be had (``reason``), until
        ``try_native`` finds it can (the watch limit raised, a reload, hourly)."""
        log.warning("watcher.fallback_to_polling", reason=reason, poll_interval=self.poll_interval)
        self._start_observer(polling=True)
        self.fell_back = True
        self._fallback_limit = _watch_limit()
        self._fallback_at = time.monotonic()

    def _start_observer(self, *, polling: bool) -> None:
        if polling:
            for folder in self.folders:
                folder.mkdir(parents=True, exist_ok=True)
            poller = FolderPoller(
                self.folders, self.poll_interval, self._sink, self._descend, self._ignored, moved_dir=self._moved_dir
            )
            poller.start()
            self._observer = poller
            self.mode = "polling"
            log.info("watcher.started", mode=self.mode, folders=[str(f) for f in self.folders])
            return
        # A watched folder that is a link (``inbox -> /srv/ftp/upload``) is watched where it points:
        # watchdog watches the link itself (IN_DONT_FOLLOW), which no file in the folder touches
        # (white-box audit DL 2: orders taken only at the rescans). Links inside it are not followed.
        watched: dict[Path, str] = {}
        for folder in self.folders:
            folder.mkdir(parents=True, exist_ok=True)
            watched[folder] = os.path.realpath(folder) if folder.is_symlink() else str(folder)
        handler = _Recorder(
            self._sink, self._moved_dir, {real: str(folder) for folder, real in watched.items() if real != str(folder)}
        )
        observer = Observer(handler, lost=self._lost)
        for real in watched.values():
            observer.schedule(handler, real, recursive=True, event_filter=list(EVENT_FILTER))
        observer.daemon = True
        try:
            observer.start()
        except BaseException:
            try:
                observer.stop()
            except Exception:  # noqa: BLE001
                log.debug("watcher.stop_failed")
            raise
        self._observer = observer
        self.mode = "native"
        log.info("watcher.started", mode=self.mode, folders=[str(f) for f in self.folders])

    def is_alive(self) -> bool:
        observer = self._observer
        return observer is not None and bool(observer.is_alive())  # type: ignore[attr-defined]

    def restart(self) -> None:
        """Starts a fresh observer (after the old one died or a watched folder was recreated)."""
        self.stop()
        self.start()

    def stop(self) -> None:
        with self._lock:
            observer = self._observer
            self._observer = None
        if observer is None:
            return
        observer.stop()  # type: ignore[attr-defined]
        if not isinstance(observer, FolderPoller):
            observer.join(timeout=10)  # type: ignore[attr-defined]
