"""The inotify event queue: a rename's two halves are paired without holding later events."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from watchdog.observers import inotify_move_event_grouper

from spo_hotfolder.watcher import FolderWatcher, PromptDelayedQueue, inotify_refused
from tests.daemon import files_to_overflow_inotify


def _get_in_thread(queue: PromptDelayedQueue) -> tuple[threading.Thread, list[Any]]:
    got: list[Any] = []
    thread = threading.Thread(target=lambda: got.append(queue.get()), daemon=True)
    thread.start()
    return thread, got


def test_a_paired_move_is_handed_out_without_waiting_for_the_delay() -> None:
    """watchdog's own queue sleeps the whole delay once it has seen a held IN_MOVED_FROM, even
    after its IN_MOVED_TO paired it. With a 60 s delay, that would hold this get() for 60 s."""
    queue = PromptDelayedQueue(60.0)
    queue.put("moved_from", delay=True)
    thread, got = _get_in_thread(queue)
    thread.join(0.2)
    assert thread.is_alive(), "an unpaired IN_MOVED_FROM is held"
    assert queue.remove(lambda e: e == "moved_from") == "moved_from"  # what the grouper does on IN_MOVED_TO
    queue.put(("moved_from", "moved_to"))
    thread.join(10)
    assert got == [("moved_from", "moved_to")]


def test_events_behind_a_held_move_keep_their_order() -> None:
    queue = PromptDelayedQueue(0.3)
    queue.put("moved_from", delay=True)
    queue.put("modified")
    assert queue.get() == "moved_from"  # released after the delay: it never paired
    assert queue.get() == "modified"


def test_close_ends_a_waiting_get() -> None:
    queue = PromptDelayedQueue(60.0)
    queue.put("moved_from", delay=True)
    thread, got = _get_in_thread(queue)
    queue.close()
    thread.join(10)
    assert got == [None]


def test_watchdog_uses_it_and_renames_still_arrive_as_moves(tmp_path: Path) -> None:
    assert inotify_move_event_grouper.DelayedQueue is PromptDelayedQueue
    seen: list[tuple[Path, bool]] = []
    arrived = threading.Event()

    def sink(path: Path, moved_in: bool) -> None:
        seen.append((path, moved_in))
        if path.name == "a.pdf":
            arrived.set()

    watcher = FolderWatcher([tmp_path], "native", 1.0, sink)
    watcher.start()
    try:
        (tmp_path / ".a.pdf.part").write_bytes(b"%PDF-1.4\n%%EOF\n")
        (tmp_path / ".a.pdf.part").rename(tmp_path / "a.pdf")
        assert arrived.wait(10)
    finally:
        watcher.stop()
    assert (tmp_path / "a.pdf", True) in seen, "a rename into place is reported as complete"


def test_events_reach_the_sink_from_the_emitter_not_through_the_dispatch_thread(tmp_path: Path) -> None:
    """The recorder is called in the emitter's thread: watchdog's observer queue and its dispatch
    thread (a thread hop per event) are left out. Events of sub-folders, created after the start
    (a job folder in quarantine/), and of the filtered kinds still arrive; opens do not."""
    seen: list[tuple[str, str]] = []
    arrived = threading.Event()

    def sink(path: Path, moved_in: bool) -> None:
        seen.append((path.name, type(threading.current_thread()).__name__))
        if path.name == "b.pdf":
            arrived.set()

    watcher = FolderWatcher([tmp_path], "native", 1.0, sink)
    watcher.start()
    try:
        (tmp_path / "job").mkdir()
        time.sleep(0.2)  # the new folder's watch is added by the emitter
        (tmp_path / "job" / "b.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
        assert arrived.wait(10)
    finally:
        watcher.stop()
    threads = {thread for name, thread in seen if name == "b.pdf"}
    assert threads == {"_DirectEmitter"}
    assert ("job", "_DirectEmitter") in seen


def test_an_error_in_one_event_does_not_end_the_inotify_reader(tmp_path: Path, monkeypatch: Any) -> None:
    """watchdog 7.1's watch bookkeeping can raise in the reader thread (a KeyError when a watched
    folder is moved away); that ended the thread, and no event came any more."""
    from watchdog.observers.inotify_c import InotifyFD

    real = InotifyFD.handle_event
    failed: list[bool] = []

    def flaky(self: Any, event: Any) -> None:
        if not failed:
            failed.append(True)
            raise KeyError(b"/some/folder/replace")
        real(self, event)

    monkeypatch.setattr(InotifyFD, "handle_event", flaky)
    arrived = threading.Event()

    def sink(path: Path, moved_in: bool) -> None:
        if path.name == "b.pdf":
            arrived.set()

    watcher = FolderWatcher([tmp_path], "native", 1.0, sink)
    watcher.start()
    try:
        (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")  # its first event raises
        time.sleep(0.2)
        (tmp_path / "b.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
        assert arrived.wait(5), "no event after the failed one: the reader thread died"
        assert failed and watcher.is_alive()
    finally:
        watcher.stop()


def test_a_dead_inotify_reader_makes_the_watcher_not_alive(tmp_path: Path) -> None:
    """The heartbeat restarts a watcher that is not alive; the observer's own thread outlives a
    dead inotify reader, so it alone must not count as alive."""
    watcher = FolderWatcher([tmp_path], "native", 1.0, lambda path, moved_in: None)
    watcher.start()
    try:
        assert watcher.is_alive()
        reader = watcher._observer._inotify_fd  # type: ignore[union-attr]
        reader.stop()
        reader.join(5)
        assert not reader.is_alive()
        assert not watcher.is_alive()
        watcher.restart()
        assert watcher.is_alive()
    finally:
        watcher.stop()


def _unread_bytes(fd: int) -> int:
    """The bytes of events waiting in an inotify instance's queue (FIONREAD)."""
    import array
    import fcntl
    import termios

    buf = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, buf, True)
    return buf[0]


def test_an_overflow_of_the_kernels_queue_is_told(tmp_path: Path, monkeypatch: Any) -> None:
    """More events than the kernel's queue holds (fs.inotify.max_queued_events) while the reader
    is busy: the kernel drops the rest and queues IN_Q_OVERFLOW, which watchdog only logs. The
    watcher tells ``lost``, so that the daemon looks through its folders again at once. A real
    overflow: the reader is held after the read that brought the first event while files are
    written.

    (watchdog 7.1 reads the kernel's queue in one thread into an unbounded queue of its own, and
    handles the events in another: holding the handling, as this test first did, let the reader
    drain the kernel's queue whenever it got the GIL, and in full runs of the suite it kept up
    with every event, so no overflow came and the test was skipped.)"""
    from watchdog.observers.inotify_c import InotifyFD

    files = files_to_overflow_inotify()
    real_read = InotifyFD._read_event_buffer
    real_handle = InotifyFD.handle_event
    holding, release = threading.Event(), threading.Event()

    handled: list[int] = []  # the masks of this test's reader's events, after the hold
    mine: list[Any] = []  # this test's reader (another one, left running by an earlier test, may watch above)

    def held_read(self: Any, event_buffer_size: int, timeout_ms: int | None = None) -> bytes:
        if self in mine and holding.is_set():
            release.wait(30)
        data = real_read(self, event_buffer_size, timeout_ms)
        if self in mine and not holding.is_set() and b"first" in data:
            holding.set()  # the next read waits until the kernel's queue has overflowed
        return data

    def counted(self: Any, event: Any) -> None:
        if self in mine and holding.is_set() and event.name != b"first":
            handled.append(event.mask)
        real_handle(self, event)

    monkeypatch.setattr(InotifyFD, "_read_event_buffer", held_read)
    monkeypatch.setattr(InotifyFD, "handle_event", counted)
    lost: list[float] = []
    watcher = FolderWatcher([tmp_path], "native", 1.0, lambda path, moved_in: None, lost=lambda: lost.append(1))
    mine.append(None)  # (placeholder until the reader exists: its first read comes after start)
    watcher.start()
    mine[0] = watcher._observer._inotify_fd  # type: ignore[union-attr]
    try:
        (tmp_path / "first").write_bytes(b"x")
        assert holding.wait(5), "the reader never read the first event"
        began = time.monotonic()
        fd = mine[0]._inotify_fd
        # Files until the kernel's queue is full (its unread bytes stop growing), at least as many
        # as the limit needs: how many events a file makes is the kernel's business.
        written_files, before = 0, -1
        while written_files < 5 * files:
            for _ in range(files if written_files == 0 else 500):
                (tmp_path / f"f{written_files:06d}").write_bytes(b"x")
                written_files += 1
            now = _unread_bytes(fd)
            if now == before and now > 0:
                break
            before = now
        else:
            pytest.fail(f"the kernel's inotify queue did not fill with {written_files} files ({before} bytes unread)")
        written = time.monotonic() - began
        assert not lost
        release.set()
        # Until told, or until the reader has handled all it will (nothing more for 2 s; the
        # ~16,000 events queued before the overflow take seconds on a loaded machine).
        deadline, count, quiet_since = time.monotonic() + 60, -1, time.monotonic()
        while not lost and time.monotonic() < deadline and time.monotonic() - quiet_since < 2:
            if len(handled) != count:
                count, quiet_since = len(handled), time.monotonic()
            time.sleep(0.01)
        kinds = {mask: handled.count(mask) for mask in set(handled)}
        assert any(mask & 0x4000 for mask in handled), f"no IN_Q_OVERFLOW came: {len(handled)} events ({kinds})"
        assert lost, (
            f"the overflow was not told: {written_files} files written in {written:.1f} s, events handled after "
            f"the hold by mask: {kinds}, reader alive: {watcher.is_alive()}"
        )
        assert watcher.is_alive()
    finally:
        release.set()
        watcher.stop()


MOUNTINFO = """\
22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
40 22 0:35 / /srv/spool rw,relatime shared:20 - nfs4 fileserver:/spool rw,vers=4.2
41 40 0:36 / /srv/spool/local\\040disk rw - ext4 /dev/vdb rw
42 22 0:37 / /mnt/sshfs rw,nosuid - fuse.sshfs user@host:/data rw
43 22 0:38 / /mnt/ntfs rw - fuseblk /dev/sdb1 rw
"""


@pytest.mark.parametrize(
    ("path", "fstype", "network"),
    [
        ("/srv/spool/inbox", "nfs4", True),
        ("/srv/spool", "nfs4", True),
        ("/srv/spool/local disk/inbox", "ext4", False),  # a mount point with a space (\\040)
        ("/srv/spoolish", "ext4", False),  # a prefix of a name is not a folder above it
        ("/mnt/sshfs/x", "fuse.sshfs", True),
        ("/mnt/ntfs/x", "fuseblk", False),
        ("/var/lib/x", "ext4", False),
    ],
)
def test_the_filesystem_of_a_folder_is_told_from_mountinfo(path: str, fstype: str, network: bool) -> None:
    from spo_hotfolder.watcher import filesystem_type, is_network_filesystem

    assert filesystem_type(Path(path), MOUNTINFO) == fstype
    assert is_network_filesystem(fstype) is network


def test_auto_mode_polls_folders_on_a_network_filesystem(tmp_path: Path, monkeypatch: Any) -> None:
    """Audit AN 1: on a FUSE (or NFS, SMB) mount, `auto` used inotify, which sees nothing another
    machine writes: orders waited for the rescan (up to 60 s), and nothing said why. SPEC 7:
    polling for SMB/NFS mounts; auto does it by itself."""
    import spo_hotfolder.watcher as watcher_module

    monkeypatch.setattr(watcher_module, "filesystem_type", lambda path, mountinfo=None: "fuse.sshfs")
    seen: list[Path] = []
    watcher = FolderWatcher([tmp_path], "auto", 0.1, lambda path, moved_in: seen.append(path))
    watcher.start()
    try:
        assert watcher.mode == "polling" and watcher.is_alive()
        (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
        deadline = time.monotonic() + 5
        while tmp_path / "a.pdf" not in seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tmp_path / "a.pdf" in seen
    finally:
        watcher.stop()
    monkeypatch.setattr(watcher_module, "filesystem_type", lambda path, mountinfo=None: "ext4")
    local = FolderWatcher([tmp_path], "auto", 0.1, lambda path, moved_in: None)
    local.start()
    try:
        assert local.mode == "native"
    finally:
        local.stop()


def test_polling_asked_for_after_a_fallback_stays_polling(tmp_path: Path) -> None:
    """White-box audit CT 3: after a fallback to polling (auto, the watch limit), a reload to
    `watch.mode: polling` (an SMB mount) kept the fallback's mark, and the next reload switched to
    inotify against the config (which does not see other machines' writes on a share)."""
    watcher = FolderWatcher([tmp_path], "auto", 1.0, lambda path, moved_in: None)
    watcher.fell_back = True  # (as after a fallback)
    watcher.requested_mode = "polling"
    watcher.start()
    try:
        assert watcher.mode == "polling" and not watcher.fell_back
        watcher.fell_back = True  # (even so: polling was asked for)
        assert not watcher.try_native(force=True)
        assert watcher.mode == "polling"
    finally:
        watcher.stop()


def test_files_inside_a_folder_renamed_in_the_inbox_are_not_counted_complete(tmp_path: Path) -> None:
    """White-box audit CN 2 (critical): "New folder" renamed while its manifest was still written
    (line by line, closed between lines): the files of a renamed folder came as renamed in, taken
    without their settle period, and the manifest was taken cut short. A file renamed in itself is
    complete as before."""
    seen: dict[str, bool] = {}
    arrived = threading.Event()

    def sink(path: Path, moved_in: bool) -> None:
        seen[path.name] = moved_in
        if path.name == "whole.pdf":
            arrived.set()

    (tmp_path / "New folder").mkdir()
    (tmp_path / "New folder" / "manifest.yaml").write_text("order_id: R1\n")
    watcher = FolderWatcher([tmp_path], "native", 1.0, sink)
    watcher.start()
    try:
        (tmp_path / "New folder").rename(tmp_path / "R1")
        time.sleep(0.3)
        (tmp_path / ".whole.pdf.part").write_bytes(b"%PDF-1.4\n%%EOF\n")
        (tmp_path / ".whole.pdf.part").rename(tmp_path / "whole.pdf")
        assert arrived.wait(10)
    finally:
        watcher.stop()
    assert seen.get("manifest.yaml") is False
    assert seen["whole.pdf"] is True


def test_a_watched_folder_that_is_a_link_is_watched_where_it_points(tmp_path: Path) -> None:
    """White-box audit DL 2: `inbox -> /srv/ftp/upload` was watched as the link itself (watchdog
    adds IN_DONT_FOLLOW): no event came, orders were taken only at the rescans, and nothing said
    so. Its folder is watched, and the events name the files by the configured path, as the scans do."""
    real = tmp_path / "upload"
    real.mkdir()
    inbox = tmp_path / "inbox"
    inbox.symlink_to(real)
    seen: list[tuple[Path, bool]] = []
    arrived = threading.Event()

    def sink(path: Path, moved_in: bool) -> None:
        seen.append((path, moved_in))
        if path.name in ("a.pdf", "b.pdf"):
            arrived.set()

    watcher = FolderWatcher([inbox], "native", 1.0, sink)
    watcher.start()
    try:
        (real / ".a.pdf.part").write_bytes(b"%PDF-1.4\n%%EOF\n")
        (real / ".a.pdf.part").rename(real / "a.pdf")
        assert arrived.wait(10)
        arrived.clear()
        (real / "order").mkdir()
        time.sleep(0.2)  # the new folder's watch is added by the emitter
        (real / "order" / "b.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
        assert arrived.wait(10)
    finally:
        watcher.stop()
    assert (inbox / "a.pdf", True) in seen
    assert inbox / "order" / "b.pdf" in {path for path, _ in seen}
    assert not [path for path, _ in seen if real in path.parents]


@pytest.mark.parametrize("mode", ["auto", "native"])
def test_a_watch_refused_after_the_start_falls_back_to_polling_in_auto_mode(
    tmp_path: Path, monkeypatch: Any, mode: str
) -> None:
    """White-box audit DL 3: the kernel's watch limit reached while the daemon ran (each job held
    in quarantine/ adds a few watches): watchdog left the new folders unwatched with a warning of
    its own, and folder drops waited for the rescans for good. In auto mode the watcher polls from
    then on, as at a start that meets the limit; in native mode it says so once."""
    from structlog.testing import capture_logs
    from watchdog.observers.inotify_c import InotifyFD

    real = InotifyFD.add_callback

    def add_callback(self: Any, path: bytes, *args: Any) -> Any:
        if b"/full" in path:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, path, *args)

    monkeypatch.setattr(InotifyFD, "add_callback", add_callback)
    seen: list[Path] = []
    watcher = FolderWatcher([tmp_path], mode, 0.1, lambda path, moved_in: seen.append(path))
    watcher.start()
    try:
        assert watcher.mode == "native" and not watcher.fall_back_if_watches_refused()
        (tmp_path / "full").mkdir()
        deadline = time.monotonic() + 10
        with capture_logs() as logs:
            while not watcher.fall_back_if_watches_refused() and time.monotonic() < deadline:
                if mode == "native" and any(e["event"] == "watcher.watch_refused" for e in logs):
                    break
                time.sleep(0.05)
            assert not watcher.fall_back_if_watches_refused()  # said once
        if mode == "native":
            assert watcher.mode == "native"
            assert [e["event"] for e in logs].count("watcher.watch_refused") == 1
            return
        assert watcher.mode == "polling" and watcher.fell_back
        assert [e["event"] for e in logs] == ["watcher.fallback_to_polling", "watcher.started"]
        (tmp_path / "full" / "order.yaml").write_text("order_id: x\n")
        deadline = time.monotonic() + 10
        while tmp_path / "full" / "order.yaml" not in seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tmp_path / "full" / "order.yaml" in seen
    finally:
        watcher.stop()


@pytest.mark.parametrize(
    ("code", "says"),
    [
        (errno.EMFILE, "fs.inotify.max_user_instances = "),
        (errno.ENOSPC, "fs.inotify.max_user_watches = "),
        (errno.ENOSYS, "inotify is not available: "),
    ],
)
def test_inotify_refused_names_the_kernel_setting_and_polling(code: int, says: str) -> None:
    """Review FR 4: `watch.mode: native` refused at start with "inotify instance limit reached",
    and no word of the setting or of polling; auto's fallback said nothing of it either."""
    reason = inotify_refused(OSError(code, os.strerror(code)))
    assert says in reason and "watch.mode: polling" in reason, reason
