"""Wires the daemon together: folders, lock, ledger, watcher, scheduler, engine; signals; readiness.

The main thread only handles signals, the systemd notify protocol and health; the engine thread
does the work; the watcher and the scheduler only wake the engine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import math
import os
import select
import signal
import sqlite3
import stat
import struct
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import structlog

from spo_hotfolder import earlysignals
from spo_hotfolder.clock import SystemClock, iso
from spo_hotfolder.config import (
    FOLDER_NAMES,
    Config,
    ConfigError,
    HotFolderConfig,
    Seen,
    filesystem_errors,
    key_line,
    load_config,
    look_here,
    mount_of,
    mount_points,
    spool_filesystems,
)
from spo_hotfolder.delivery import missing_reason
from spo_hotfolder.engine import Engine, Metrics
from spo_hotfolder.fsutil import atomic_write, group_name, on_read_only_mount, user_name
from spo_hotfolder.health import (
    HEALTH_NAME,
    HEARTBEAT_SECONDS,
    LOCK_NAME,
    daemon_alive,
    fresh,
    read_health,
    unknown_folders_text,
)
from spo_hotfolder.ledger import (
    Ledger,
    LedgerError,
    Stage,
    create_spool_file,
    disk_full_why,
    ledger_path,
    not_writable_why,
    this_user,
)
from spo_hotfolder.logsetup import setup_logging
from spo_hotfolder.notify import Notifier
from spo_hotfolder.pdfreport import describe_exception
from spo_hotfolder.prestart import TEMP_DIR_MARK, open_files_refusal, raise_open_files_limit
from spo_hotfolder.shares import within
from spo_hotfolder.watcher import FolderWatcher, inotify_refused, inotify_setting

if TYPE_CHECKING:
    from spo_hotfolder.metrics import PrometheusMetrics

log = structlog.get_logger("spo_hotfolder.service")

#: An engine thread with no sign of life for this long (no step, no job started, no chunk of a
#: copy written) is unhealthy: a file operation does not return (a hard-mounted share whose server
#: is gone). Far above any honest pause: a PDF call times out at 120 s, a copy reports every 64 MiB.
STUCK_SECONDS = 600.0

#: An overflow of the kernel's inotify queue is logged at most this often (with the count).
LOST_EVENTS_SAID_SECONDS = 60.0

#: The engine's timed wake-ups (a retry, an artwork deadline, a future order) are put in slots this
#: long: one scheduler entry per slot, however many jobs fall due in it.
WAKE_SLOT_SECONDS = 0.25


class StartupError(Exception):
    """The daemon refuses to start; the message says why in one line. ``logged``: said already by a
    ``daemon.refused`` log line."""

    logged = False


def _unavailable(config: Config) -> list[tuple[HotFolderConfig, Seen]]:
    """The configured hot folders that are not there, or that the daemon's user may not look at
    (a share mounted with another account's uid and mode 0700: audit BH 2, ``Path.exists`` raised,
    and the daemon crashed at every start, and refused every reload while it lasted)."""
    looks = [(hot, look_here(hot.path)) for hot in config.hot_folders.values()]
    return [(hot, seen) for hot, seen in looks if seen.kind in ("missing", "unreadable")]


def _say_missing(missing: list[tuple[HotFolderConfig, Seen]]) -> None:
    """Each configured hot folder that does not exist (or cannot be looked at), said in the log."""
    for hot, seen in missing:
        log.warning(
            "hot_folder.unavailable",
            hot_folder=hot.name,
            path=str(hot.path),
            reason=f"{missing_reason(hot.path)}; the daemon never creates it"
            if seen.kind == "missing"
            else f"the daemon's user ({this_user()}) cannot look at it: {seen.error} (a folder above it, or a "
            "share's mount options, give it no access)",
            effect="deliveries there fail and are retried until it is there"
            if seen.kind == "missing"
            else "deliveries there fail and are retried until the daemon may use it",
        )


def prepare_folders(config: Config) -> list[Path]:
    """Creates the spool layout (never a hot folder); returns the folders created."""
    created = []
    folders = [*config.paths.spool_folders().values(), config.paths.state / "commands"]
    for folder in folders:  # all looked at first: a folder that cannot be made leaves none made
        taken = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        if taken is not None:
            raise StartupError(
                f"cannot create folder {folder}: {taken} is a file, not a folder; move it away or point the config "
                "elsewhere"
            )
    devices = spool_filesystems(config.paths)  # (where they would be created: a refusal leaves none made)
    if len(devices) > 1:
        groups = "; ".join(", ".join(names) for names in devices)
        raise StartupError(
            "the spool folders are on different filesystems or mounts (" + groups + "; a bind mount of the same "
            "disk is another mount); moves between them must be atomic renames, so put them all under one mount of "
            "one filesystem"
        )
    for folder in folders:
        if not folder.is_dir():
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except FileExistsError as exc:
                taken = next(p for p in (folder, *folder.parents) if p.exists() and not p.is_dir())
                raise StartupError(
                    f"cannot create folder {folder}: {taken} is a file, not a folder; move it away "
                    "or point the config elsewhere"
                ) from exc
            except OSError as exc:
                raise StartupError(f"cannot create folder {folder}: {_why_not_made(folder, exc)}") from exc
            _like_its_parent(folder)
            created.append(folder)
    return created


def _why_not_made(folder: Path, exc: OSError) -> str:
    """Why ``folder`` could not be made, with whose folder refused it and the fix where it is a
    permission (audit BW 4: "Permission denied" alone, where a folder not writable says all)."""
    parent = next((p for p in folder.parents if p.is_dir()), None)
    if exc.errno in (errno.EACCES, errno.EPERM) and parent is not None:
        with contextlib.suppress(OSError):
            return (
                f"{exc.strerror}: this user ({this_user()}) may not create folders in {parent}, which "
                f"{_owned(parent.stat())}; create it as root with its owner and mode (step 3 of docs/service.md: "
                "systemd-tmpfiles --create /etc/tmpfiles.d/spo-hotfolder.conf), or give this user the right to "
                "write there"
            )
    return exc.strerror or str(exc)


def _owned(st: os.stat_result) -> str:
    """Whose a spool folder is, as a refusal to start says it: "belongs to spo-hotfolder, group
    spo-hotfolder, mode 2775"."""
    return f"belongs to {user_name(st.st_uid)}, group {group_name(st.st_gid)}, mode {stat.S_IMODE(st.st_mode):o}"


def _like_its_parent(folder: Path) -> None:
    """A folder made by root (``init``, a command run as root) under a spool root that belongs to
    the service user gets the parent's owner, group and mode: a root-owned 0755 inbox/ or
    state/commands/ locked the service and operators out (audit BT 3)."""
    if os.geteuid() != 0:
        return
    with contextlib.suppress(OSError):  # best effort: check_folders (or the daemon's start) says what is wrong
        parent = folder.parent.stat()
        if parent.st_uid != 0:
            os.chown(folder, parent.st_uid, parent.st_gid)
            folder.chmod(stat.S_IMODE(parent.st_mode))


def _umask() -> int:
    """This process's umask (read from /proc: setting it to read it would race other threads)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _default_acl_lets_group_write(folder: Path) -> bool:
    """Whether ``folder``'s default ACL gives what is made in it group write whatever the umask
    (review IB 5: a spool shared so was warned of; IC 6: one whose ACL gives the group no write
    was not): its owning group's entry, within its mask, lets it write."""
    try:
        blob = os.getxattr(folder, "system.posix_acl_default")
    except OSError:
        return False
    perms: dict[int, int] = {}
    for offset in range(4, len(blob) - 7, 8):  # (after the version: tag u16, perm u16, id u32)
        tag, perm, _id = struct.unpack_from("<HHI", blob, offset)
        perms.setdefault(tag, perm)
    group_obj, mask = perms.get(0x04, 0), perms.get(0x10, 0o7)
    return bool(group_obj & mask & 0o2)


def _say_unshared_umask(config: Config) -> None:
    """A daemon started with a umask that keeps its group from writing (022, a root shell's) on a
    spool shared with operators (quarantine/ group-writable): its job folders would be its own, and
    operators could drop nothing into them (audit BH 5: nothing said, "Permission denied" for
    them). Said at start; the unit's UMask=0002 is what the spool is set up for."""
    mask = _umask()
    try:
        shared = bool(config.paths.quarantine.stat().st_mode & stat.S_IWGRP)
    except OSError:
        return
    if shared and mask & stat.S_IWGRP and not _default_acl_lets_group_write(config.paths.quarantine):
        log.warning(
            "daemon.umask_not_shared",
            umask=f"{mask:04o}",
            reason="the spool's folders are group-writable (shared with operators), but with this umask the job "
            "folders the daemon makes are not: operators in the group could not drop RELEASE, REJECT, RETRY or a "
            "replacement PDF into them (nor give commands, where the daemon makes the ledger)",
            action="start the daemon with umask 0002, as the unit does (UMask=0002); by hand: umask 0002, then start",
        )


def check_folders(config: Config) -> None:
    """Refuses to start when a spool folder is unusable or read-only (after ``prepare_folders``, which
    refuses spool folders on different filesystems: no atomic moves between them)."""
    for name, folder in config.paths.spool_folders().items():
        try:
            st = folder.stat()
        except OSError as exc:
            raise StartupError(f"spool folder {name} ({folder}) is not usable: {exc.strerror}") from exc
        if not os.access(folder, os.W_OK | os.X_OK):
            if on_read_only_mount(folder):
                raise StartupError(
                    f"spool folder {name} ({folder}) is on a filesystem mounted read-only; mount it read-write"
                )
            raise StartupError(
                f"spool folder {name} ({folder}) is not writable by this user ({this_user()}): it {_owned(st)}; run "
                "the daemon as the user the spool is for (the service's User=, docs/service.md), or give "
                "this user the right to write there"
            )


def folder_access_notes(config: Config) -> list[str]:
    """What keeps this user from running the daemon on these spool folders (``check-config``'s
    notes): a folder it may not write, or one missing that it may not create. Notes, not errors:
    it depends on who runs the command (root may do anything; an operator is not the daemon)."""
    notes: list[str] = []
    who = this_user()
    said: set[Path] = set()
    mounts_said: set[str] = set()
    points: list[str] | None = None
    folders = {**config.paths.spool_folders(), "state/commands": config.paths.state / "commands"}
    for name, folder in folders.items():
        existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if existing is None or not existing.is_dir() or os.access(existing, os.W_OK | os.X_OK):
            continue  # (a file in the way is an error of check-config itself)
        if on_read_only_mount(existing):
            # Said once per mount: the mount is the cause, not each folder on it.
            if points is None:
                points = mount_points()
            mount = mount_of(existing.resolve(), points) or str(existing)
            if mount not in mounts_said:
                mounts_said.add(mount)
                notes.append(
                    f"spool folder {name} ({folder}) is on a filesystem mounted read-only (mount point {mount}): "
                    "init and run would fail, whoever runs them; mount it read-write"
                )
        elif existing == folder:
            notes.append(
                f"spool folder {name} ({folder}) is not writable by this user ({who}): "
                "the daemon, run as this user, would refuse to start"
            )
        elif existing not in said:
            said.add(existing)
            notes.append(
                f"spool folder {name} ({folder}) does not exist, and this user ({who}) may not create it in "
                f"{existing}: init and run, as this user, would fail; make the folders first (docs/service.md, "
                "the tmpfiles step) or give this user the right to"
            )
    return notes


#: How the lock file names an offline operator command holding it (then its pid).
OPERATOR_COMMAND = "operator-command"
#: In state/: the temp folder of the running daemon's fork server (``sweep_left_temp_dir``).
FORK_SERVER_TEMP_NAME = "fork-server-temp"
#: How long a starting daemon waits for an offline operator command to finish (a replace copies a PDF).
COMMAND_LOCK_WAIT_SECONDS = 30.0


def _fork_server_temp_dir() -> str | None:
    """The temp folder (``pymp-*``) in which ``multiprocessing`` put the fork server's socket."""
    import multiprocessing.util

    try:
        return multiprocessing.util.get_temp_dir()
    except OSError:
        return None


def sweep_left_temp_dir(record: Path) -> None:
    """Removes the fork server's temp folder (``/tmp/pymp-*``) that the daemon before this one left
    behind, named in ``record`` with that daemon's pid, and names this one's there.
    ``multiprocessing`` removes it at a normal exit only: a daemon killed with -9 (or
    crash-looping, without systemd's PrivateTmp=) left one a start. Called with the instance lock
    held. A folder still in use is never removed: ``record`` may be a copy of another root's (a
    backup, a root copied to try it out: audit AE 5), naming a daemon that runs."""
    try:
        pid_text, _, left = record.read_text().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, UnicodeDecodeError, ValueError):
        pid, left = None, ""
    here = _fork_server_temp_dir()
    if here is not None and here != left:
        with contextlib.suppress(OSError):
            record.write_text(f"{os.getpid()} {here}\n")
    if pid is not None and left and left != here and not daemon_alive(pid):
        _remove_temp_dir(left)
    if here is not None:
        _sweep_marked_temp_dirs(Path(here).parent, here)


def _sweep_marked_temp_dirs(temp: Path, here: str) -> None:
    """Removes the fork server's temp folders in ``temp`` that a daemon killed before its state/
    named its folder left (its pid in the folder: ``prestart.TEMP_DIR_MARK``), once that process is
    gone. Gone, not merely "no daemon": the process that marked it may be another program using the
    PDF worker (a test suite, a script), whose folder holds no listening socket between two of its
    fork servers; removed then, its next worker could not start (CI once: 21 tests failed, "no such
    file" for the folder). A pid reused since leaves an empty folder in /tmp, nothing more."""
    with contextlib.suppress(OSError), os.scandir(temp) as entries:
        for entry in entries:
            if not entry.name.startswith("pymp-") or entry.path == here:
                continue
            try:
                pid = int((Path(entry.path) / TEMP_DIR_MARK).read_text("ascii").strip())
            except (OSError, UnicodeDecodeError, ValueError):
                continue
            if pid > 0 and not _process_exists(pid):
                _remove_temp_dir(entry.path)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # (another user's: it exists)
    return True


def _bound_unix_sockets() -> set[str]:
    """The paths of the Unix sockets some process has open (``/proc/net/unix``)."""
    try:
        with open("/proc/net/unix", encoding="utf-8", errors="replace") as fh:
            return {fields[7] for line in fh if len(fields := line.split()) >= 8}
    except OSError:
        return set()


def _remove_temp_dir(path: str) -> None:
    """Only a ``pymp-*`` folder of this user's holding nothing but ``listener-*`` sockets, none of
    them open in any process, is removed; anything else is left as it is."""
    folder = Path(path)
    try:
        info = folder.lstat()
        if not folder.name.startswith("pymp-") or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            return
        entries = [e for e in folder.iterdir() if e.name != TEMP_DIR_MARK]
        if not all(e.name.startswith("listener-") and stat.S_ISSOCK(e.lstat().st_mode) for e in entries):
            return
        if _bound_unix_sockets() & {str(e) for e in entries}:
            return  # a fork server still listens there
        for entry in entries:
            entry.unlink()
        with contextlib.suppress(FileNotFoundError):
            (folder / TEMP_DIR_MARK).unlink()
        folder.rmdir()
    except OSError:
        return
    log.debug("daemon.left_temp_dir_removed", path=path)


class InstanceLock:
    """An exclusive lock in state/: one daemon (or one offline operator command) per root."""

    def __init__(self, config: Config) -> None:
        self.path = config.paths.state / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        create_spool_file(self.path)  # (group-writable: operators' offline commands; root's: the service's)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o664)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
                return False
            raise
        self._fd = fd
        return True

    def mark_daemon(self) -> None:
        self._mark(f"{os.getpid()}")

    def mark_command(self) -> None:
        """An offline operator command holds the lock (a daemon starting meanwhile waits for it)."""
        self._mark(f"{OPERATOR_COMMAND} {os.getpid()}")

    def held_by_command(self) -> bool:
        """The lock (held by someone) is an offline operator command's, not a daemon's: it says so,
        or names a process that is gone, or nothing (a command that has not written its name yet:
        the file names the holder before, or is empty for the moment between the truncation and
        the write: audit BM D1, a start refused "another spo-hotfolder (pid unknown) already runs"
        while operator commands given during a kill -9 took the lock in turn). A daemon names
        itself right after it takes the lock: the next look tells."""
        holder = self.holder()
        if holder.startswith(OPERATOR_COMMAND) or holder == "unknown":
            return True
        try:
            os.kill(int(holder), 0)
        except (ValueError, OverflowError):
            return False
        except ProcessLookupError:
            return True
        except OSError:
            return False  # alive (another user's process)
        return False

    def _mark(self, text: str) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
                os.pwrite(self._fd, f"{text}\n".encode(), 0)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class FolderLocks:
    """A daemon's mark (``_mark_ours``) and a flock on each spool folder it takes files from or
    moves jobs into, and on ``paths.root``: a second daemon with another root but one of the same
    folders (``paths.inbox`` set to the first one's inbox) would take the same orders and print
    them twice (audit AT 1); one whose inbox is the first one's root (the folder a Samba share of
    the spool shows) would take the first one's job folders as folder drops and move them away
    (review HF 2): a folder inside our inbox that another daemon holds refuses the start too. Both
    are on the folder itself (nothing is written into it). The marks tell daemons apart from other
    programs that lock a folder (review HQ 2); where the filesystem has no such locks, the flock
    alone; where it has neither (some network mounts), the folder goes unlocked."""

    def __init__(self, config: Config) -> None:
        self.folders = {
            "root": config.paths.root,
            **{name: getattr(config.paths, name) for name in FOLDER_NAMES if name != "state"},
        }
        self._fds: list[int] = []
        self._said: set[Path] = set()

    def acquire(self) -> None:
        """Raises StartupError naming the first folder another process holds."""
        for name, folder in self.folders.items():
            # (before ours are marked: a look from here sees our own marks as another's; a folder
            # another daemon marked is said below, once ours is set beside it)
            inside = _marked_above(folder)
            if inside is not None:
                raise StartupError(
                    f"paths.{name} ({folder}) is inside {inside}, which another spo-hotfolder uses as one of its "
                    "spool folders: that daemon would take this one's files as orders dropped into it, or move them "
                    "away; give each daemon folders of its own, side by side"
                )
        for name, folder in self.folders.items():
            if name != "root" and folder == self.folders["root"]:
                continue  # (one lock per folder)
            try:
                fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except OSError:
                continue  # (prepare_folders and check_folders said what is wrong with it)
            marked = _mark_ours(fd, _ROOT_AT if name == "root" else _OURS_AT)
            if name == "root" and any(f == folder for n, f in self.folders.items() if n != "root"):
                _mark_ours(fd, _OURS_AT)  # (a spool folder too: paths.inbox set to the root, review HN 1)
            # Another daemon's mark beside ours, asked through our own open folder (which does not
            # see its own marks): of two daemons starting at the same moment, one at least sees
            # the other's and is refused (review BT 1: both waited for the other's mark behind a
            # backup script's flock, and both ran). The flock then only tells of other programs.
            if _marked(fd, *_MARKS) or not self._flocked(fd, folder, name, marked):
                os.close(fd)
                self.release()
                raise StartupError(_already_used(folder, name))
            self._fds.append(fd)
        inbox = self.folders["inbox"]
        held = _held_inside(inbox)
        if held is not None:
            self.release()
            raise StartupError(
                f"paths.inbox ({inbox}) holds {held}, which another spo-hotfolder uses as its spool: this daemon "
                "would take that spool's job folders as orders dropped into its inbox; give it an inbox of its own"
            )

    def _flocked(self, fd: int, folder: Path, name: str, marked: bool) -> bool:
        """Takes the folder's flock (what a daemon of a version before the marks looks for);
        False where another process holds it and no mark could be set (a filesystem without such
        locks: the flock alone tells). Another program's lock refuses nothing where the marks work
        (review HQ 2: a backup script's `flock` on the root refused the start, a restart loop under
        systemd): said once."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                return True  # (no locks on folders there)
            if not marked:
                return False
            if folder not in self._said:
                self._said.add(folder)  # (the start looks twice where the root is new)
                log.warning(
                    "daemon.folder_locked_by_another_program",
                    folder=str(folder),
                    key=f"paths.{name}",
                    action="started all the same: a program that is no spo-hotfolder holds a lock on this folder",
                )
        return True

    def release(self) -> None:
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()


def _already_used(folder: Path, name: str) -> str:
    return (
        f"another spo-hotfolder already uses {folder} (paths.{name}), with another paths.root: two daemons taking "
        "files from one folder would print orders twice; give each its own folders, or stop the other"
    )


def _lock(fd: int) -> bool:
    """Locks folder ``fd`` (kept open by the caller, else closed here when another process holds
    it: False). True also where the filesystem has no locks on folders."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
            os.close(fd)
            return False
    return True


#: Where a daemon marks the spool folders it holds (``_mark_ours``), and its root (``_ROOT_AT``):
#: a read lock of one byte at this offset ("SPOH"), taken on the open folder (an OFD lock: kept
#: while the folder is open, whatever else the process opens and closes), which no other program
#: takes.
_OURS_AT = 0x53504F48
_ROOT_AT = _OURS_AT + 2  # (not the byte next to it: two locks of one holder side by side merge into one)
_MARKS = (_OURS_AT, _ROOT_AT)


def _flock_struct(kind: int, at: int) -> bytes:
    """A ``struct flock`` (Linux: short, short, off_t, off_t, pid_t) for one byte at ``at``."""
    return struct.pack("hhqqi4x", kind, os.SEEK_SET, at, 1, 0)


def _mark_ours(fd: int, at: int) -> bool:
    """Marks folder ``fd`` as a spool folder held by this daemon (``_OURS_AT``); False (nothing)
    where the filesystem has no such locks."""
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _flock_struct(fcntl.F_RDLCK, at))
    except (OSError, AttributeError):  # (AttributeError: no OFD locks in this Python)
        return False
    return True


def _marked(fd: int, *marks: int) -> bool:
    """Whether another daemon marked folder ``fd`` with one of ``marks`` (``_mark_ours``): a read
    lock of that very byte, not another program's lock of the whole folder (review HM 3)."""
    for at in marks:
        try:
            found = fcntl.fcntl(fd, fcntl.F_OFD_GETLK, _flock_struct(fcntl.F_WRLCK, at))
        except (OSError, AttributeError):
            return False
        kind, _whence, start, length, _pid = struct.unpack("hhqqi4x", found)
        if kind == fcntl.F_RDLCK and start == at and length == 1:
            return True
    return False


def _marked_above(folder: Path) -> Path | None:
    """The nearest folder above ``folder`` that another daemon holds as one of its spool folders
    (its inbox: this daemon's folders would be taken as orders dropped into it; review HM 2, the
    refusal held only when the daemon whose inbox holds the other's started second), or None."""
    # (not another's root: nothing is taken from it, and a spool of its own may lie in it)
    return next((above for above in folder.resolve().parents if _marked_at(above, _OURS_AT)), None)


def _marked_at(folder: Path, *marks: int) -> bool:
    """Whether another daemon marked ``folder`` with one of ``marks`` (``_marked``)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        return _marked(fd, *marks)
    finally:
        os.close(fd)


def _held_inside(folder: Path) -> Path | None:
    """A folder inside ``folder`` (at any depth: review HN 2, one in a folder drop's subfolder was
    not looked at) that another daemon holds as one of its spool folders (its root, inbox,
    quarantine/...: ``_mark_ours``; or, held by an older version, a root whose state/ holds an
    instance lock), or None. A folder another program holds a lock on (an upload client's `flock`
    on its folder drop) is not one (review HK 2: the start was refused, "another spo-hotfolder", a
    restart loop under systemd); one of another daemon whose state/ is elsewhere, or its inbox, is
    (review HL 1-2: their files were taken as this daemon's orders). Links are not followed (the
    inbox's links are never followed: a link is moved aside as it is)."""
    pending = [folder]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                inside = [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        for path in inside:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
            except OSError:
                continue
            try:
                if _marked(fd, *_MARKS):
                    return path
                if os.path.isfile(path / "state" / LOCK_NAME) and not _lock(fd):
                    fd = -1  # (closed by _lock)
                    return path
            finally:
                if fd >= 0:
                    os.close(fd)  # (a lock taken goes with it)
            pending.append(path)
    return None


def _daemon_runs(config: Config) -> bool:
    """Whether a daemon runs on this spool: its health report is fresh (it rewrites it every few
    seconds, and removes it as it stops) and names a live process that is not this one (review
    IE 2: the pid its lock file kept after a stop, reused by another spool's daemon, was taken for
    it, and a command waited 30 s for an answer that never came). One alive whose report is old
    (hung, a full disk) is said as such (review IF 2: the lock's permissions were blamed)."""
    try:
        health = read_health(config.paths)
    except OSError:
        return False
    if health is None or health.get("pid") == os.getpid() or not daemon_alive(health.get("pid")):
        return False
    if fresh(health):
        return True
    raise OSError(
        errno.EBUSY,
        f"the daemon (pid {health.get('pid')}) runs but has not reported for {health['age_seconds']:.0f} s (hung, "
        "or its disk is full), and this user may not open its instance lock to act without it: nothing was done; "
        "see `spo-hotfolder health`",
    )


@contextmanager
def offline_lock(config: Config) -> Iterator[bool]:
    """True (lock held) when no daemon runs: an operator command may then act on the ledger itself.
    A lock this user may not open (root's, mode 0644) is no error while the daemon that holds it
    runs: it answers (review IC 3: the command was withdrawn, the running daemon never did it)."""
    lock = InstanceLock(config)
    try:
        got = lock.acquire()
    except OSError:
        if not _daemon_runs(config):
            raise
        got = False
    if got:
        lock.mark_command()
    try:
        yield got
    finally:
        if got:
            lock.release()


#: A config file changed less than this long ago is waited for before a reload reads it ...
CONFIG_QUIET_SECONDS = 1.0
#: ... but no longer than this (a file written to all the time is read as it is then).
CONFIG_WAIT_SECONDS = 5.0


class _Stopping(Exception):
    """A stop was asked for while the main loop waited (a reload's look at the hot folders)."""


class _Signals:
    """What the signal handlers tell the main loop: two flags, and a byte in a pipe that wakes it.

    A Python signal handler runs in the main thread between two of its bytecodes, also while that
    thread holds a lock. Handlers that called ``threading.Event.set()`` could wait for a lock their
    own thread held: a signal that came inside the main loop's ``Event.wait()`` (its Condition's
    lock taken) deadlocked it, and signals every 2 ms (a supervisor repeating SIGTERM) nested
    handlers, each waiting for the lock of the one it interrupted, until the stack overflowed
    (the daemon ended by SIGINT instead of exit 0; seen once in CI). So a handler only stores a
    flag and writes a byte, neither of which waits for anything, and the main loop waits in
    ``poll()`` on the pipe (which a signal interrupts, after running the handlers).
    """

    def __init__(self) -> None:
        self.stop = False
        self.reload = False
        self.ignored: int | None = None  # SIGUSR1 or SIGUSR2 came: logged by the main loop
        # (not inherited by the PDF worker's processes: os.pipe's descriptors close on exec)
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._poll = select.poll()  # (not select(): no limit on the descriptor's number)
        self._poll.register(self._read, select.POLLIN)

    @property
    def wakeup_fd(self) -> int:
        """The pipe's end the interpreter writes a signal's number into (``signal.set_wakeup_fd``)."""
        return self._write

    def request_stop(self) -> None:
        self.stop = True
        self.wake()

    def request_reload(self) -> None:
        self.reload = True
        self.wake()

    def wake(self) -> None:
        """The main loop goes on at once instead of at its next heartbeat."""
        with contextlib.suppress(OSError):  # (a full pipe: it wakes anyway)
            os.write(self._write, b"!")

    def wait(self, timeout: float) -> None:
        """Until a wake-up or ``timeout`` seconds; the wake-ups so far are used up."""
        self._poll.poll(timeout * 1000)
        with contextlib.suppress(OSError):  # (BlockingIOError: emptied)
            while os.read(self._read, 4096):
                pass


class Daemon:
    def __init__(self, config: Config, *, notifier: Notifier | None = None) -> None:
        self.config = config
        self.notifier = notifier or Notifier()
        self.signals = _Signals()
        self.stop_signal: int | None = None  # the signal that asked for the stop (said in daemon.stopping)
        self.clock = SystemClock()
        self.lock = InstanceLock(config)
        self.folder_locks = FolderLocks(config)
        self.ledger: Ledger | None = None
        self.engine: Engine | None = None
        self.watcher: FolderWatcher | None = None
        self.scheduler: Any = None
        self.pdf: Any = None
        self.metrics: Metrics | None = None
        self.prometheus: PrometheusMetrics | None = None  # the same object as metrics, when served
        self._engine_thread: threading.Thread | None = None
        self._folder_ids: dict[Path, int] = {}
        self._refusals: tuple[tuple[int, int, int, int], int] | None = None  # failed/'s key, its count
        self.started_at = time.monotonic()
        self.heartbeat_seconds = HEARTBEAT_SECONDS
        self._reload_heartbeat = 0.0  # (the next heartbeat while a reload waits)
        self.stuck_seconds = STUCK_SECONDS
        self._ledger_gone_said = False  # (ledger.gone said once: healthy() runs at every heartbeat)
        self._health_unwritten = False  # (health.write_failed said once while it lasts)
        self._watcher_restart_pending = False  # (a reload's new watcher, while the spool is gone)
        #: Why the last SIGHUP changed nothing (an invalid config); shown in the status line until a
        #: reload succeeds.
        self.reload_problem: str | None = None
        #: Overflows of the kernel's event queue not said yet, and when the last was said.
        self._lost_unsaid = 0
        self._lost_said_at: float | None = None
        if self.notifier.watchdog_seconds:
            # WATCHDOG=1 every half of WatchdogSec= (sd_watchdog_enabled(3)); the heartbeat does it.
            self.heartbeat_seconds = min(HEARTBEAT_SECONDS, self.notifier.watchdog_seconds / 2)

    # -- start ----------------------------------------------------------------------------

    def start(self) -> None:
        config = self.config
        if not config.paths.state.exists():
            # A root never started: another daemon's spool folder (its inbox named as this one's)
            # refuses the start before any folder of it is made (audit D: a refused start left the
            # new root's folders behind). (With state/ there, the instance lock is looked at first.)
            self.folder_locks.acquire()
            self.folder_locks.release()
        prepare_folders(config)
        check_folders(config)
        _say_unshared_umask(config)
        try:
            got_lock = self.lock.acquire()
            # An operator command run while no daemon ran (release, replace...) holds the lock for
            # a moment: wait for it rather than refuse to start. (Right after it took the lock, the
            # file may still name the daemon that held it before, which is gone.)
            deadline = time.monotonic() + COMMAND_LOCK_WAIT_SECONDS
            said = False
            while not got_lock and self.lock.held_by_command() and time.monotonic() < deadline:
                if not said:
                    log.info("daemon.waiting_for_lock", holder=self.lock.holder(), lock=str(self.lock.path))
                    said = True
                time.sleep(0.1)
                got_lock = self.lock.acquire()
        except OSError as exc:
            why = not_writable_why(self.lock.path) if isinstance(exc, PermissionError) else ""
            raise StartupError(f"cannot open the instance lock {self.lock.path}: {exc.strerror}{why}") from exc
        if not got_lock:
            holder = self.lock.holder()
            if holder.startswith(OPERATOR_COMMAND):
                raise StartupError(
                    f"an operator command (pid {holder.split()[-1]}) has held the lock {self.lock.path} for more "
                    f"than {COMMAND_LOCK_WAIT_SECONDS:g} s; start again when it has finished"
                )
            raise StartupError(
                f"another spo-hotfolder (pid {holder}) already runs on {config.paths.root} (lock {self.lock.path})"
            )
        self.lock.mark_daemon()
        sweep_left_temp_dir(config.paths.state / FORK_SERVER_TEMP_NAME)
        self.folder_locks.acquire()
        from spo_hotfolder.pdfwork import PdfWorker

        path = ledger_path(config)
        new_ledger = not path.exists() or path.stat().st_size == 0
        try:
            self.ledger = Ledger(path)
        except LedgerError as exc:
            raise StartupError(str(exc)) from exc
        except (sqlite3.Error, OSError) as exc:
            raise StartupError(f"cannot open the ledger {path}: {exc}{disk_full_why(path)}") from exc
        if new_ledger:
            self._job_folders_without_ledger(config, path)
        if config.metrics.listen:
            from spo_hotfolder.metrics import PrometheusMetrics

            prometheus = PrometheusMetrics(self)
            prometheus.start(config.metrics)  # (a busy port is said in the log and tried again later)
            self.metrics = self.prometheus = prometheus
        self.pdf = PdfWorker()
        self.scheduler = self._make_scheduler()
        self.engine = Engine(
            config,
            self.ledger,
            self.clock,
            self.pdf,
            schedule_wakeup=self._schedule_wakeup,
            metrics=self.metrics,
        )
        watched = self._watched(config)
        engine = self.engine
        self.watcher = FolderWatcher(
            watched,
            config.watch.mode,
            config.watch.poll_interval_seconds,
            engine.hint,
            descend={folder: engine.descend_rule(folder) for folder in watched},
            ignored=lambda name: engine.ignored(name),
            moved_dir=engine.folder_moved,
            lost=self._events_lost,
        )
        # (how long a file a manifest may still name is held: a poller sees that manifest later)
        watcher = self.watcher
        engine.polling_watch = lambda: watcher.mode == "polling"
        try:
            self.watcher.start()
        except OSError as exc:
            raise StartupError(f"cannot watch the spool folders: {inotify_refused(exc)}") from exc
        self._remember_folders()
        self.scheduler.start()
        self._schedule_periodic()
        self._engine_thread = threading.Thread(target=self.engine.run, name="engine", daemon=True)
        self._engine_thread.start()
        try:
            # (a hot folder on a share that does not answer must not keep the daemon from starting)
            problems, missing = within(
                config.delivery.share_timeout_seconds,
                lambda: (filesystem_errors(config), _unavailable(config)),
                # (a start held up to share_timeout_seconds by a share that does not answer: said to
                # systemd, whose TimeoutStartSec= would kill it otherwise: audit DB 1)
                while_waiting=self._starting_slowly,
            )
        except TimeoutError:
            problems, missing = [], []
            log.warning(
                "hot_folder.not_answering",
                reason="the look at the configured folders has not returned within "
                f"{config.delivery.share_timeout_seconds:g} s (delivery.share_timeout_seconds): "
                "a hot folder on a share whose server does not answer?",
                effect="starting anyway; deliveries into a hot folder that does not answer fail and are retried",
            )
        for problem in problems:
            # (check-config's errors; those of the spool folders refused the start already)
            log.warning(
                "config.problem",
                problem=problem,
                effect="the jobs routed there fail (failed/, with ERROR.txt) until the config is corrected",
            )
        _say_missing(missing)  # now, not only at the first delivery there: a share not mounted, a path mistyped
        # READY=1 only now: the ledger is open, the folders are checked, the watcher runs and the
        # PDF worker is warm (the engine already takes in what waits while it starts).
        if not self.pdf.wait_ready(30):
            log.warning("pdf_worker.slow_start", reason="the PDF worker is not up after 30 s; going on")
        elif self.pdf.start_error is not None:
            # (sysadmin audit) Started anyway, the daemon failed every job "ValidationFailed: the PDF
            # checker could not run": a fault of the machine, not of the PDFs, said once here.
            raise StartupError(
                f"the PDF worker process could not be started ({self.pdf.start_error}); every job would fail its "
                "check: see that this user may write the temp folder ($TMPDIR, else /tmp) and run the "
                f"interpreter {sys.executable}"
            )
        # Said once nothing can refuse the start any more (audit P: "daemon.started", then
        # "daemon.refused" 0.6 s later, when the PDF worker could not start).
        log.info(
            "daemon.started",
            pid=os.getpid(),
            root=str(config.paths.root),
            watcher=self.watcher.mode,
            hot_folders=sorted(config.hot_folders),
            systemd=self.notifier.enabled,
            watchdog_seconds=self.notifier.watchdog_seconds,
        )
        self.notifier.ready(self.summary())

    def _watched(self, config: Config) -> list[Path]:
        return [
            config.paths.inbox,
            config.paths.quarantine,
            config.paths.failed,
            config.paths.state / "commands",
        ]

    @staticmethod
    def _job_folders_without_ledger(config: Config, path: Path) -> None:
        """A new (or emptied) ledger beside job folders in the spool: the ledger was lost or
        deleted, and those jobs are unknown to it from now on (audit D 2: started without a word,
        and a RELEASE in quarantine/ was answered "this folder is no job's")."""
        found = []
        for area in (config.paths.work, config.paths.quarantine, config.paths.failed):
            with contextlib.suppress(OSError):
                found += [
                    f"{area.name}/{entry.name}"
                    for entry in os.scandir(area)
                    if entry.is_dir(follow_symlinks=False) and (Path(entry.path) / "STATUS.txt").is_file()
                ]
        if found:
            log.error(
                "ledger.new_beside_job_folders",
                ledger=str(path),
                job_folders=sorted(found)[:20],
                count=len(found),
                reason="the ledger is new (it was missing or empty) but the spool holds job folders it does not "
                "know: it was lost or deleted; those jobs are not continued. Stop the daemon and put back the "
                "ledger from a backup (state/ledger.sqlite3) to continue them",
            )

    def _make_scheduler(self) -> Any:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        return BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(2)},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )

    def _schedule_periodic(self) -> None:
        assert self.engine is not None
        self.scheduler.add_job(
            self.engine.request_rescan,
            "interval",
            seconds=self.config.watch.rescan_seconds,
            id="rescan",
            replace_existing=True,
        )
        self.scheduler.add_job(
            self.engine.request_retention, "interval", hours=1, id="retention", replace_existing=True
        )

    def _schedule_wakeup(self, when: datetime) -> None:
        """The scheduler only wakes the engine; the ledger holds what is due. One wake-up per quarter
        second at most (a moment after the time, never before): a burst of orders left waiting for
        their artwork made one scheduler entry each, kept until its deadline (an hour by default)."""
        if self.scheduler is None or self.engine is None:
            return
        slot = math.ceil(when.timestamp() / WAKE_SLOT_SECONDS) * WAKE_SLOT_SECONDS
        when = datetime.fromtimestamp(slot, tz=UTC)
        key = f"wake-{iso(when)}"
        with contextlib.suppress(Exception):
            self.scheduler.add_job(self.engine.wake, "date", run_date=when, id=key, replace_existing=True)

    def _remember_folders(self) -> None:
        self._folder_ids = {}
        for folder in self._watched(self.config):
            with contextlib.suppress(OSError):
                self._folder_ids[folder] = folder.stat().st_ino

    # -- run --------------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        """The daemon's handlers; a signal that came earlier (``earlysignals``, caught by ``cli``
        from the first moment of ``run``) is replayed: acted on once ``serve`` runs, as if it came then."""

        def on_stop(signum: int, frame: FrameType | None) -> None:
            # More stop signals (a supervisor repeating SIGTERM, Ctrl-C held down) add nothing: the
            # first one's name is kept. (They were ignored from the first on: a SIGTERM and a SIGINT
            # caught together then came to a handler set to "ignore", and Python wrote "Signal 15
            # ignored due to race condition" as a traceback on stderr: audit CB.)
            if self.stop_signal is None:
                self.stop_signal = signum
            self.signals.request_stop()

        def on_reload(signum: int, frame: FrameType | None) -> None:
            if not self.signals.reload:  # (one already waits for the main loop: that read will do)
                self.signals.request_reload()

        def on_other(signum: int, frame: FrameType | None) -> None:
            self.signals.ignored = signum
            self.signals.wake()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_reload)
        # A signal the kernel gives to another of the daemon's threads (the second of two sent
        # back to back: the main thread has the first pending) does not interrupt the main loop's
        # poll(); its handler ran only at the next heartbeat, up to 5 s later (audit CB: SIGTERM
        # then SIGINT, stopped after 4.6 s). The interpreter writes each signal's number into the
        # loop's pipe as it comes, from whatever thread: the loop wakes and the handlers run.
        signal.set_wakeup_fd(self.signals.wakeup_fd, warn_on_full_buffer=False)
        # Their default is to end the process, silently: a log rotation's "kill -USR1" (a habit of
        # other daemons) stopped this one with no word (audit BG R3). They do nothing here.
        signal.signal(signal.SIGUSR1, on_other)
        signal.signal(signal.SIGUSR2, on_other)
        came = earlysignals.take()
        if came.stop is not None:
            on_stop(came.stop, None)
        if came.reload:
            on_reload(signal.SIGHUP, None)

    def serve(self) -> None:
        """The main thread's loop: signals, health, watchdog pings, until SIGTERM/SIGINT."""
        interval = self.heartbeat_seconds
        next_heartbeat = 0.0
        while not self.signals.stop:
            if self.signals.ignored is not None:
                name, self.signals.ignored = signal.Signals(self.signals.ignored).name, None
                log.warning(
                    "daemon.signal_ignored",
                    signal=name,
                    reason=f"spo-hotfolder does nothing on {name} (its log goes to its output: no file to reopen); "
                    "SIGHUP reloads the config, SIGTERM stops it",
                )
            if self.signals.reload:
                self.signals.reload = False
                try:
                    self.reload()
                except Exception as exc:  # noqa: BLE001 - a reload never stops the daemon (SPEC 8)
                    reason = f"the new config could not be applied: {describe_exception(exc)}"
                    log.error("config.reload_failed", errors=[reason], action="keeping the previous config")
                    self._reload_failed(1, hint="a fault of the daemon")
            now = time.monotonic()
            if now >= next_heartbeat:
                self.check_health()
                next_heartbeat = now + interval
            self.signals.wait(max(0.05, min(interval, next_heartbeat - time.monotonic())))
        self.shutdown()

    def healthy(self) -> tuple[bool, str]:
        if self.watcher is None or not self.watcher.is_alive():
            return False, "the folder watcher is not running"
        if self.scheduler is None or not self.scheduler.running:
            return False, "the scheduler is not running"
        if self._engine_thread is None or not self._engine_thread.is_alive():
            return False, "the engine thread is not running"
        assert self.engine is not None
        gone = self.engine.ledger.replaced_why()
        if gone is not None:
            if not self._ledger_gone_said:
                self._ledger_gone_said = True
                log.error("ledger.gone", reason=gone)
            return False, gone
        if self.engine.ledger_damage is not None:
            return False, self.engine.ledger_damage
        silent = self.engine.clock.monotonic() - self.engine.progress_at
        if silent > self.stuck_seconds:
            job = f" (job {self.engine.busy_job})" if self.engine.busy_job else ""
            return False, (
                f"the engine has made no progress for {silent:.0f} s{job}: a file operation does not return; "
                "is a hot folder's share (or the spool's disk) hanging?"
            )
        return True, "ok"

    def check_health(self) -> None:
        """One heartbeat: repair what can be repaired, then ping the watchdog only if all is well.

        A dead watcher is restarted here; WATCHDOG=1 is sent again only once it is alive. If it
        cannot be brought back, the pings stop and systemd restarts the service (WatchdogSec=).
        """
        assert self.watcher is not None and self.engine is not None
        spool = self.engine.spool_problem()
        if spool is not None:
            # Its folders are not made again where the disk is not mounted (review FR 1); the engine
            # waits. The pings go on: the daemon is not hung, and a restart would make a new, empty
            # spool there.
            self.notifier.watchdog()
            self.notifier.status(self.summary())
            self.write_health(False, spool)
            return
        if self._watcher_restart_pending:
            # (a reload's new watch.mode while the spool was gone: applied now that it is back)
            self._watcher_restart_pending = False
            try:
                self.watcher.restart()
            except OSError as exc:
                log.error("watcher.restart_failed", reason=describe_exception(exc))
            self.engine.request_rescan()
        self._check_watched_folders()
        if not self.watcher.is_alive():
            log.error("watcher.died", action="restarting the folder watcher")
            try:
                self.watcher.restart()
            except Exception as exc:  # noqa: BLE001 - reported, and the watchdog pings stop
                log.error("watcher.restart_failed", reason=str(exc))
            else:
                self.engine.request_rescan()
        elif self.watcher.fall_back_if_watches_refused() or self.watcher.try_native():
            self.engine.request_rescan()  # events of the switch-over (or missed in folders left unwatched)
        ok, reason = self.healthy()
        try:
            summary = self.summary()
        except (LedgerError, sqlite3.Error) as exc:
            ok, reason, summary = False, f"the ledger cannot be read: {exc}", "ledger unreadable"
        if ok:
            self.notifier.watchdog()
            self.notifier.status(summary)
        else:
            self.notifier.status(f"UNHEALTHY: {reason}; {summary}")
        self.write_health(ok, reason)

    def _events_lost(self) -> None:
        """The kernel's inotify queue overflowed (a burst of thousands of files: a copy of a whole
        batch of orders, an rsync): the events it dropped are gone, so the folders are looked
        through again now, not at the next periodic rescan (``watch.rescan_seconds``, a minute
        of files waiting). Said once a minute at most, with how often it happened meanwhile.
        Called on the inotify reader's thread: a flag and a wake-up for the engine."""
        if self.engine is not None:
            self.engine.request_rescan()
        if self.prometheus is not None:
            self.prometheus.events_lost.inc()
        now = time.monotonic()
        self._lost_unsaid += 1
        if self._lost_said_at is not None and now - self._lost_said_at < LOST_EVENTS_SAID_SECONDS:
            return
        times, self._lost_unsaid, self._lost_said_at = self._lost_unsaid, 0, now
        log.warning(
            "watcher.events_lost",
            overflows=times,
            max_queued_events=inotify_setting("max_queued_events"),
            reason="more file events came at once than the kernel's inotify queue holds "
            "(fs.inotify.max_queued_events); the events it dropped are lost",
            action="looking through the folders again now: nothing is missed, files may be taken a little later; "
            "if this is said often, raise fs.inotify.max_queued_events (sysctl)",
        )

    def _check_watched_folders(self) -> None:
        """A watched folder deleted (and maybe recreated) loses its inotify watch: re-create, re-watch."""
        assert self.watcher is not None and self.engine is not None
        changed = False
        for folder in self._watched(self.config):
            try:
                ino = folder.stat().st_ino
            except FileNotFoundError:
                log.warning("folder.missing", folder=str(folder), action="creating it again")
                with contextlib.suppress(OSError):
                    folder.mkdir(parents=True, exist_ok=True)
                changed = True
                continue
            except OSError:
                continue
            if self._folder_ids.get(folder) != ino:
                changed = True
        if changed:
            with contextlib.suppress(OSError):
                self.watcher.restart()
            self._remember_folders()
            self.engine.request_rescan()

    def refusals_in_failed(self) -> int:
        """Folders of failed/ that are no failed job's and hold an ERROR.txt: refused manifests and
        files set aside, waiting for an operator as failed jobs do (SPEC 4; review DY 1: counted
        nowhere, the status line, `health` and the metrics said "0 failed" beside them). Counted
        again only when failed/ or the ledger changed (the heartbeat and each scrape ask)."""
        ledger, failed = self.ledger, self.config.paths.failed
        if ledger is None:
            return 0
        try:
            st = os.stat(failed)
        except OSError:
            return 0
        key = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, ledger.changes)
        known = self._refusals
        if known is not None and known[0] == key:
            return known[1]
        try:
            with os.scandir(failed) as entries:
                names = {entry.name for entry in entries if not entry.name.startswith(".") and entry.is_dir()}
            # (each with its ERROR.txt: not a finished job's folder moved here by hand, review EE 3)
            refused = {
                name for name in names - set(ledger.job_ids([Stage.FAILED])) if (failed / name / "ERROR.txt").exists()
            }
            count = len(refused)
        except (OSError, LedgerError, sqlite3.Error):
            return known[1] if known is not None else 0
        self._refusals = (key, count)
        return count

    def summary(self) -> str:
        if self.ledger is None:
            return "starting"
        spool = self.engine.spool_problem() if self.engine is not None else None
        # (a reload while the spool is gone said the counts, as if all was well: review GC; a failed
        # reload's words are said then too: review GL 2)
        line = f"WAITING: {spool}" if spool is not None else self._progress()
        return f"{self.reload_problem}; {line}" if self.reload_problem else line

    def _progress(self) -> str:
        """The status line's counts, and what keeps the daemon from taking work in."""
        assert self.ledger is not None
        counts = self.ledger.counts_by_stage()
        waiting = sum(
            counts.get(s.value, 0) for s in (Stage.AWAITING, Stage.FUTURE, Stage.PROCESS, Stage.DELIVER, Stage.RETRY)
        )
        # Files seen in the inbox and not taken in yet (a backlog at start: "0 jobs waiting" alone
        # read as if nothing was there; audit 12-05 G).
        arriving = self.engine.files_arriving() if self.engine is not None else 0
        new = f" (and {arriving:,} new file{'' if arriving == 1 else 's'} not taken in yet)" if arriving else ""
        refused = self.refusals_in_failed()
        beside = (
            f" (and {refused} refused manifest{'' if refused == 1 else 's'} or files in failed/)" if refused else ""
        )
        line = (
            f"{waiting} job{'' if waiting == 1 else 's'} waiting{new}, {self.ledger.count_blocked()} blocked, "
            f"{counts.get('failed', 0)} failed{beside}, {counts.get('done', 0) + self.ledger.count_purged_done()} done"
        )
        if self.engine is not None and self.engine.spool_full():
            # Not unhealthy (the daemon goes on by itself once there is space, and the watchdog
            # pings go on), but `systemctl status` says why nothing new is taken in.
            line = f"the spool disk is full: nothing new is taken in until there is space; {line}"
        unknown = self.engine.job_folders_unknown() if self.engine is not None else []
        if unknown:
            line = f"{unknown_folders_text(unknown)}; {line}"
        return line

    def write_health(self, ok: bool, reason: str) -> None:
        assert self.ledger is not None and self.watcher is not None and self.engine is not None
        try:
            statuses, stages, blocked = (
                self.ledger.counts_by_status(),
                self.ledger.counts_by_stage(),
                self.ledger.count_blocked(),
            )
        except (LedgerError, sqlite3.Error):
            statuses, stages, blocked = {}, {}, 0
        data = {
            "pid": os.getpid(),
            "ok": ok,
            "reason": reason,
            "heartbeat": iso(self.clock.now()),
            "heartbeat_interval_seconds": self.heartbeat_seconds,
            "watcher": self.watcher.mode,
            "watcher_alive": self.watcher.is_alive(),
            "engine_busy_job": self.engine.busy_job,
            "uptime_seconds": round(time.monotonic() - self.started_at, 1),
            "statuses": statuses,
            "stages": stages,
            "blocked": blocked,
            "refused_in_failed": self.refusals_in_failed(),
            "unreadable_folders": (unreadable := self.engine.unreadable_folders())[:20],
            "unreadable_folders_count": len(unreadable),
            "unknown_job_folders": self.engine.unknown_job_folders[:20],
            "unknown_job_folders_count": len(self.engine.unknown_job_folders),
        }
        try:
            atomic_write(self.config.paths.state / HEALTH_NAME, json.dumps(data, indent=1) + "\n", durable=False)
        except OSError as exc:
            if not self._health_unwritten:
                # Said once until it works again (review FR 2: `health` then said "hung?" of a
                # daemon delivering jobs, and the log nothing).
                log.warning(
                    "health.write_failed",
                    file=str(self.config.paths.state / HEALTH_NAME),
                    error=describe_exception(exc),
                    action="`health` cannot tell how the daemon is while this lasts: give the service user write "
                    f"access to {self.config.paths.state} (and room on its disk)",
                )
            self._health_unwritten = True
        else:
            if self._health_unwritten:
                log.info("health.written_again", file=str(self.config.paths.state / HEALTH_NAME))
            self._health_unwritten = False

    def _starting_slowly(self) -> None:
        self.notifier.extend_timeout(5)

    def _heartbeat_while_reloading(self) -> None:
        """The main loop's heartbeat while a reload waits for its look at the hot folders (up to
        ``share_timeout_seconds`` on a share that does not answer): the watchdog pings go on, as
        long as the daemon is well (audit DB 1: they stopped, and systemd would kill it); a stop
        asked for meanwhile ends the wait."""
        if self.signals.stop:
            raise _Stopping
        now = time.monotonic()
        if now >= self._reload_heartbeat:
            self.check_health()
            self._reload_heartbeat = now + self.heartbeat_seconds

    def _config_written(self) -> None:
        """Until the config file has not changed for CONFIG_QUIET_SECONDS (at most
        CONFIG_WAIT_SECONDS): a SIGHUP sent as an editor or a tool still writes it in place must not
        have a part of it applied (audit CY 4: 64 of a config's cut-off lengths were valid configs,
        with fewer hot folders or routes; jobs then finished unprinted as skipped)."""
        waited_from = time.monotonic()
        while time.monotonic() - waited_from < CONFIG_WAIT_SECONDS:
            try:
                st = os.stat(self.config.source)
            except OSError:
                return  # (load_config says what is wrong)
            quiet = time.time() - max(st.st_mtime, st.st_ctime)
            if quiet >= CONFIG_QUIET_SECONDS or quiet < -1:  # (a file time ahead of the clock: not waited for)
                return
            self._heartbeat_while_reloading()
            time.sleep(min(0.2, CONFIG_QUIET_SECONDS - quiet))

    def reload(self) -> None:
        """SIGHUP: a valid new config replaces the old one for everything not yet delivered."""
        self._reload_heartbeat = 0.0
        self.notifier.reloading()
        try:
            self._reload()
        except _Stopping:  # (asked for while the reload waited: _heartbeat_while_reloading)
            log.warning(
                "config.reload_abandoned", reason="the daemon is stopping", action="keeping the previous config"
            )

    def _reload(self) -> None:
        self._config_written()
        try:
            new = load_config(self.config.source)
        except ConfigError as exc:
            log.error("config.reload_failed", errors=exc.errors, action="keeping the previous config")
            self._reload_failed(len(exc.errors))
            return
        if new.paths != self.config.paths:
            old_paths, new_paths = self.config.paths, new.paths
            moved = [
                f"{new.source}:{key_line(new, f'paths.{name}')}: paths.{name}: "
                f"changed from {getattr(old_paths, name)} to "
                f"{getattr(new_paths, name)}: the spool folders cannot move while the daemon runs; restart it"
                for name in ("root", *FOLDER_NAMES)
                if getattr(new_paths, name) != getattr(old_paths, name)
                # (a folder under root by default moved with it: said once, as root)
                and not (
                    name != "root"
                    and getattr(old_paths, name) == old_paths.root / name
                    and getattr(new_paths, name) == new_paths.root / name
                )
            ]
            log.error("config.reload_failed", errors=moved, action="keeping the previous config")
            self._reload_failed(len(moved), hint="paths change only with a restart")
            return
        try:
            impossible, missing = within(
                new.delivery.share_timeout_seconds,
                lambda: (filesystem_errors(new), _unavailable(new)),
                while_waiting=self._heartbeat_while_reloading,
            )
        except TimeoutError:
            impossible, missing = [], []  # cannot be told now; a delivery there says why it fails
            log.warning(
                "hot_folder.not_answering",
                reason="the look at the configured folders has not returned within "
                f"{new.delivery.share_timeout_seconds:g} s (delivery.share_timeout_seconds): "
                "a hot folder on a share whose server does not answer?",
                effect="the new config is applied without that check",
            )
        if impossible:
            # What check-config calls errors (a hot folder that is a file, staging on another
            # filesystem): every delivery there would fail; the previous config goes on working.
            log.error("config.reload_failed", errors=impossible, action="keeping the previous config")
            self._reload_failed(len(impossible))
            return
        self.reload_problem = None
        old = self.config
        restart_needed = []
        if new.metrics != old.metrics:
            # The endpoint is set up at start only: the rest of the new config is applied, this key
            # waits for a restart (and the config in effect keeps the value served).
            restart_needed.append("metrics.listen")
            log.warning(
                "config.restart_needed",
                key="metrics.listen",
                running=old.metrics.listen,
                configured=new.metrics.listen,
                reason="the metrics endpoint changes only when the daemon starts; restart it to apply this",
            )
            # Said in the status line too, until a restart or a reload that puts it back (audit D).
            when = self.clock.now().strftime("%H:%M:%S UTC")
            self.reload_problem = (
                f"config reload at {when}: metrics.listen {new.metrics.listen or 'off'} waits for a restart (serving "
                f"{old.metrics.listen or 'off'})"
            )
            new = dataclasses.replace(new, metrics=old.metrics)
        assert self.engine is not None and self.watcher is not None
        watching = (new.watch.mode, new.watch.poll_interval_seconds)
        if watching != (old.watch.mode, old.watch.poll_interval_seconds):
            # The new watcher first, before anything of the new config applies: one that cannot start
            # (inotify's instance limit) leaves the previous config and its watcher in effect, as
            # said (white-box audits CP 4, CT 2: "keeping the previous config" was logged with the
            # new one applied and no watcher running); the engine's rescan then comes after it is
            # up (CT 4: a file renamed in meanwhile waited for the periodic rescan).
            self.watcher.requested_mode, self.watcher.poll_interval = watching
            try:
                if self.engine.spool_problem() is not None:
                    # Its folders are not made again in the empty mount point (review FS 2): the new
                    # watcher starts once the spool is back (check_health).
                    self._watcher_restart_pending = True
                else:
                    self.watcher.restart()
            except OSError as exc:
                self.watcher.requested_mode = old.watch.mode
                self.watcher.poll_interval = old.watch.poll_interval_seconds
                with contextlib.suppress(OSError):
                    self.watcher.restart()
                # The previous watcher started afresh: its first look takes the files there as
                # known (a poller's) or watches from now on; a rescan takes what came meanwhile
                # (white-box audit DL 4: an order written just before waited for the periodic one).
                self.engine.request_rescan()
                reason = (
                    f"watch.mode {new.watch.mode}: the folder watcher could not be started: {describe_exception(exc)}"
                )
                log.error("config.reload_failed", errors=[reason], action="keeping the previous config")
                self._reload_failed(1, hint="the folder watcher could not start")
                return
        self.config = new
        setup_logging(new.logging.level, new.logging.format)
        self.engine.set_config(new)
        if (
            watching == (old.watch.mode, old.watch.poll_interval_seconds)
            and self.engine.spool_problem() is None
            and self.watcher.try_native(force=True)
        ):
            self.engine.request_rescan()  # polling after a fallback: the limit may be raised
        if new.watch.rescan_seconds != old.watch.rescan_seconds:
            self._schedule_periodic()
        if new.retention != old.retention:
            self.engine.request_retention()  # a shorter retention applies now, not at the next hourly run
        if self.prometheus is not None:
            self.prometheus.add_hot_folders(new.hot_folders)
        log.info(
            "config.reloaded",
            source=str(new.source),
            hot_folders=sorted(new.hot_folders),
            restart_needed=restart_needed,
        )
        # As at the start (audit D 4: a path mistyped in a reload was found only when deliveries
        # there began to fail).
        _say_missing(missing)
        self.notifier.reloaded(self.summary())

    def _reload_failed(self, errors: int, *, hint: str = "check-config lists them") -> None:
        """Said in the status line too (``systemctl status``), until a reload succeeds: the journal
        alone is easy to miss, and ``systemctl reload`` itself reports success either way."""
        when = self.clock.now().strftime("%H:%M:%S UTC")
        self.reload_problem = (
            f"config reload at {when} failed ({errors} error{'s' if errors != 1 else ''}, see config.reload_failed "
            f"in the log; {hint}): running on the previous config"
        )
        self.notifier.reloaded(self.summary())

    def shutdown(self, *, refused: bool = False) -> None:
        """Bounded: at most ~40 s (engine 20 s, then the PDF worker is stopped, 10 s more); the unit's
        TimeoutStopSec= leaves room for it. ``refused``: it never started (no stopping/stopped lines,
        which would read as if the daemon that does run had stopped)."""
        if not refused:
            # Which signal: a stop nobody meant (another process's kill) is then told from one asked
            # for (audit BW 2). Signal handlers are not told who sent it.
            asked = signal.Signals(self.stop_signal).name if self.stop_signal else None
            log.info("daemon.stopping", signal=asked)
            stopping = "stopping: finishing the job in hand"
            self.notifier.stopping(stopping)
            if self.ledger is not None and self.watcher is not None and self.engine is not None:
                # (`health` said "ok (as of 19 s ago)" through a 20 s stop: audit CB)
                self.write_health(False, stopping)
        if self.watcher is not None:
            self.watcher.stop()
        if self.engine is not None:
            self.engine.stop()
        if self._engine_thread is not None:
            self._engine_thread.join(timeout=20)
            if self._engine_thread.is_alive() and self.pdf is not None:
                log.warning(
                    "daemon.abandoning_pdf_work",
                    job_id=self.engine.busy_job if self.engine is not None else None,
                    reason="the job in hand did not finish within 20 s: the PDF worker is stopped, in case it "
                    "is what the job waits for (if a file operation on a hanging share is, it cannot be stopped)",
                )
                self.pdf.close()
                self._engine_thread.join(timeout=10)
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.pdf is not None:
            self.pdf.close()
        if self.metrics is not None and hasattr(self.metrics, "stop"):
            self.metrics.stop()
        if self.lock.held:
            # Only the lock holder's report: a refused second instance must not remove the first one's.
            with contextlib.suppress(OSError):
                (self.config.paths.state / HEALTH_NAME).unlink()
        if self.ledger is not None:
            self.ledger.close()
        self.folder_locks.release()
        self.lock.release()
        if not refused:
            log.info("daemon.stopped")


def run(config_path: Path) -> int:
    """``spo-hotfolder run``: 0 after a graceful stop; StartupError (one line) when it refuses to start.

    A refusal is logged (``daemon.refused``, in the log format) and the caller prints the one-line
    error on stderr; no traceback either way.

    A SIGTERM or SIGINT while it starts stops it once started, a SIGHUP reloads the config once
    started (``earlysignals``), unless it came before the config is read here: that read is the
    reload it asked for (logged as ``config.reload_skipped``).
    """
    hup_before_read = earlysignals.forget_reload()
    few_files = open_files_refusal(raise_open_files_limit())
    if few_files is not None:  # (said before the config is read: with too few, reading it may fail)
        setup_logging()
        log.error("daemon.refused", reason=few_files)
        refused = StartupError(few_files)
        refused.logged = True
        raise refused
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        setup_logging()
        reason = exc.one_line()
        log.error("daemon.refused", reason=reason, errors=exc.errors)
        refused = StartupError(reason)
        refused.logged = True
        raise refused from exc
    setup_logging(config.logging.level, config.logging.format)
    if hup_before_read:
        log.info(
            "config.reload_skipped",
            signal="SIGHUP",
            reason="it came before the config was read at start: the config in use is already the new one",
        )
    daemon = Daemon(config)
    daemon.install_signal_handlers()
    try:
        daemon.start()
    except StartupError as exc:
        log.error("daemon.refused", reason=str(exc))
        exc.logged = True
        daemon.shutdown(refused=True)
        raise
    except BaseException:
        # (logged as daemon.crashed) The threads already started must stop, or they keep alive a
        # process whose main thread, gone, no longer handles SIGTERM.
        with contextlib.suppress(Exception):
            daemon.shutdown(refused=True)
        raise
    try:
        daemon.serve()
    except BaseException:
        with contextlib.suppress(Exception):
            daemon.shutdown()
        raise
    # Stopped: a further SIGTERM or SIGINT (supervisors repeat them) must not make a death by
    # signal (exit 143) of the exit that follows (audit BE 1): cli.main ignores them as run returns.
    return 0
