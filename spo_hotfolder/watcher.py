"""Events and scans -> "this path may be ready".

The watchdog handler only records paths (it must never raise: an exception in a handler kills the
observer thread silently). Events are hints; the scans in intake are the truth. ``auto`` mode uses
inotify and falls back to polling when the kernel's watch limit is reached; ``polling`` is for
SMB/NFS mounts, where inotify sees nothing done by other machines.
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable, Sequence
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
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver
from watchdog.utils.delayed_queue import DelayedQueue

log = structlog.get_logger("spo_hotfolder.watcher")

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


class _Recorder(FileSystemEventHandler):
    def __init__(self, sink: Callable[[Path, bool], None]) -> None:
        self._sink = sink

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            if event.event_type in ("opened", "closed_no_write"):
                return
            if event.event_type == "moved":
                dest = event.dest_path
                if dest:
                    self._sink(Path(_text(dest)), not event.is_directory)
                return
            if event.event_type == "deleted":
                return
            self._sink(Path(_text(event.src_path)), False)
        except Exception:  # noqa: BLE001 - a raising handler kills the observer thread
            return


def _text(p: str | bytes) -> str:
    return p.decode("utf-8", "surrogateescape") if isinstance(p, bytes) else p


class FolderWatcher:
    """Watches folders recursively and feeds every touched path to ``sink(path, moved_in)``."""

    def __init__(
        self,
        folders: Sequence[Path],
        mode: str,
        poll_interval: float,
        sink: Callable[[Path, bool], None],
    ) -> None:
        self.folders = list(folders)
        self.requested_mode = mode
        self.poll_interval = poll_interval
        self._sink = sink
        self._observer: object | None = None
        self.mode = "none"
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self.requested_mode == "polling":
                self._start_observer(polling=True)
                return
            try:
                self._start_observer(polling=False)
            except OSError as exc:
                if self.requested_mode == "native" and exc.errno != errno.ENOSPC:
                    raise
                reason = (
                    "the kernel's inotify watch limit is reached (raise fs.inotify.max_user_watches)"
                    if exc.errno == errno.ENOSPC
                    else f"inotify is not available: {exc}"
                )
                log.warning("watcher.fallback_to_polling", reason=reason, poll_interval=self.poll_interval)
                self._start_observer(polling=True)

    def _start_observer(self, *, polling: bool) -> None:
        observer = PollingObserver(timeout=self.poll_interval) if polling else Observer()
        handler = _Recorder(self._sink)
        for folder in self.folders:
            folder.mkdir(parents=True, exist_ok=True)
            observer.schedule(handler, str(folder), recursive=True, event_filter=list(EVENT_FILTER))
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
        self.mode = "polling" if polling else "native"
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
        observer.join(timeout=10)  # type: ignore[attr-defined]
