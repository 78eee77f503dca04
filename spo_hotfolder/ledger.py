"""The durable record: jobs, their append-only status history, the delivery journal.

SQLite in ``state/ledger.sqlite3``, WAL mode. Commits are ``synchronous=NORMAL`` (safe against a
killed process, the OS has the WAL), and ``synchronous=FULL`` (on disk when the call returns, safe
against power loss) where a promise depends on it: the transaction that records a manifest's jobs
before the inbox file is removed, and the delivery journal's "written" mark before the rename
into the hot folder. The WAL is sequential, so a FULL commit also makes every earlier one durable;
what a power loss can take is only the last few steps, which are then done again. History rows are never
deleted; removing a status (the operator's "X" on Blocked in SPO) marks the row removed, by whom
and when. The job's current status is the newest entry that is not removed.

The ledger is read by the CLI while the daemon runs (WAL lets readers in); it is written by the
daemon, and by the operator commands only while no daemon holds the lock (see service.py).
"""

from __future__ import annotations

import contextlib
import errno
import json
import operator
import os
import re
import shutil
import sqlite3
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spo_hotfolder.clock import iso, parse_iso
from spo_hotfolder.fsutil import group_name, has_unwritable_flag, name_key, on_read_only_mount, user_name
from spo_hotfolder.status import JobStatus

if TYPE_CHECKING:
    from spo_hotfolder.config import Config

LEDGER_NAME = "ledger.sqlite3"


def ledger_path(config: Config) -> Path:
    """The ledger's file, in the state folder (here, not in ``service``: the CLI's read-only
    commands open it without importing the daemon)."""
    return config.paths.state / LEDGER_NAME


SCHEMA_VERSION = 1
#: The order recorded for a refused folder drop's manifest (``record_intake``): none, as no
#: order id a manifest may give is empty.
REFUSED_INTAKE = ""


#: How a finished job ended (the latest of these, not removed, in its history).
_OUTCOMES = frozenset({JobStatus.Rejected, JobStatus.InHotFolder, JobStatus.CopyToHotFolderSkipped})


class Stage(StrEnum):
    """Where a job is in the pipeline (what the daemon must do next). Statuses say what happened."""

    AWAITING = "awaiting"  # AwaitingData: artwork not all there yet (in work/)
    FUTURE = "future"  # FutureOrder: waits for process_after (in work/)
    PROCESS = "process"  # needs preflight and output (in work/)
    HELD = "held"  # blocked, output ready, waiting for the operator (in quarantine/)
    DELIVER = "deliver"  # ready to route and copy (in work/)
    RETRY = "retry"  # a copy failed; next attempt at next_attempt_at (in work/)
    FAILED = "failed"  # needs the operator (in failed/)
    DONE = "done"  # delivered or skipped (in done/)
    REJECTED = "rejected"  # rejected by the operator (in rejected/)
    PURGED = "purged"  # files removed after retention


#: The spool folder each stage lives in.
STAGE_AREA: dict[Stage, str] = {
    Stage.AWAITING: "work",
    Stage.FUTURE: "work",
    Stage.PROCESS: "work",
    Stage.HELD: "quarantine",
    Stage.DELIVER: "work",
    Stage.RETRY: "work",
    Stage.FAILED: "failed",
    Stage.DONE: "done",
    Stage.REJECTED: "rejected",
    Stage.PURGED: "done",
}

TERMINAL: frozenset[Stage] = frozenset({Stage.DONE, Stage.REJECTED, Stage.PURGED})


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    id: int
    status: JobStatus
    at: str
    by: str
    detail: str
    removed_at: str | None
    removed_by: str | None
    removed_note: str | None
    #: A removed entry: the job's newest history entry when it was removed (what came before the
    #: removal, told by order, not by times a clock step can turn round); None for entries removed
    #: by a daemon before the ledger had the column.
    removed_after: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "at": self.at,
            "by": self.by,
            "detail": self.detail,
            "removed_at": self.removed_at,
            "removed_by": self.removed_by,
            "removed_note": self.removed_note,
        }


@dataclass(frozen=True, slots=True)
class Artwork:
    position: int
    name: str  # file name inside artwork/
    source: str | None  # where it is awaited (absolute path in inbox/), None once taken
    sha256: str | None  # expected, from the manifest
    present: bool


@dataclass(frozen=True, slots=True)
class Job:
    job_id: str
    order_id: str
    customer: str | None
    product: str
    quantity: int
    hot_folder: str | None  # the manifest's override
    attributes: dict[str, Any]
    manifest_name: str
    process_after: str | None
    stage: Stage
    folder: str  # relative to paths.root: "work/100234-1"
    output: str | None  # the output file's name, in <folder>/output/
    output_pages: int | None
    output_size: int | None
    preflight: dict[str, Any] | None
    route: str | None  # hot folder name or "skip", as last decided
    attempts: int
    next_attempt_at: str | None
    awaiting_until: str | None
    generation: int  # 1, then +1 per reprint
    error: str | None  # the reason the job is in failed/, in plain words
    recreate: str | None  # pending "why the output is made again" (JSON), recorded once artwork is in
    created_at: str
    updated_at: str
    history: tuple[HistoryEntry, ...] = field(default=())
    #: False for a job read without its history (``Ledger.get_job(history=False)``): ``history`` is
    #: then empty, and ``status`` and ``blocked`` come from the job's row (``current``).
    history_complete: bool = True
    #: For a job read without its history: (current status, an active Blocked entry exists), as the
    #: ledger keeps them in the job's row with every history change (``Ledger._refresh_current``).
    current: tuple[JobStatus, bool] | None = None

    @property
    def purged(self) -> bool:
        """The job's files were deleted after retention (``JobDataDeleted``): ``folder`` and
        ``output`` name what was there, and is no longer."""
        return self.stage is Stage.PURGED

    @property
    def output_path(self) -> str | None:
        """The output relative to paths.root, in the job's current folder (None once purged)."""
        return f"{self.folder}/output/{self.output}" if self.output and not self.purged else None

    def deleted_at(self) -> str | None:
        """When the job's files were deleted after retention (None while they are there)."""
        if not self.purged:
            return None
        if self.history_complete:
            for entry in reversed(self.history):
                if entry.status is JobStatus.JobDataDeleted and entry.removed_at is None:
                    return entry.at
        return self.updated_at  # the purge is the last change of a purged job

    @property
    def status(self) -> JobStatus:
        if self.current is not None:
            return self.current[0]
        for entry in reversed(self.whole_history()):
            if entry.removed_at is None:
                return entry.status
        return JobStatus.Nothing

    def active_block(self) -> HistoryEntry | None:
        for entry in self.whole_history():
            if entry.status is JobStatus.Blocked and entry.removed_at is None:
                return entry
        return None

    @property
    def block_active(self) -> bool:
        """A Blocked entry not removed, whatever the current status (SPEC 3: ``jobs --blocked``, the
        "blocked" of ``jobs`` and ``show``): also a job rejected, or purged, without being released."""
        return self.current[1] if self.current is not None else self.active_block() is not None

    @property
    def blocked(self) -> bool:
        """Blocked and still waiting for someone (the engine's rules, the counts of health and
        metrics): a rejected job is no longer counted as blocked."""
        return self.block_active and self.stage not in (Stage.REJECTED, Stage.PURGED)

    def outcome(self) -> HistoryEntry | None:
        """How the job ended (the latest of Rejected, InHotFolder, CopyToHotFolderSkipped not
        removed), also once its files were purged; None if it did not end so."""
        for entry in reversed(self.whole_history()):
            if entry.removed_at is None and entry.status in _OUTCOMES:
                return entry
        return None

    def rejected(self) -> bool:
        """Rejected by an operator, also once its files were purged after retention. (A purged job
        read without its history: its route, which the purge of a rejected job clears.)"""
        if self.stage is not Stage.PURGED:
            return self.stage is Stage.REJECTED
        if not self.history_complete:
            return self.route is None
        outcome = self.outcome()
        return outcome is not None and outcome.status is JobStatus.Rejected

    @property
    def was_released(self) -> bool:
        return any(e.status is JobStatus.Blocked and e.removed_at is not None for e in self.whole_history())

    def delivered(self) -> bool:
        return any(e.status is JobStatus.InHotFolder and e.removed_at is None for e in self.whole_history())

    def whole_history(self) -> tuple[HistoryEntry, ...]:
        """Every entry, oldest first; refused for a job read without its history (``history`` is
        then empty: an answer from it would be wrong)."""
        if not self.history_complete:
            raise RuntimeError(f"job {self.job_id} was read without its history; read it with history=True")
        return self.history

    def to_json(self, with_history: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "job_id": self.job_id,
            "order_id": self.order_id,
            "customer": self.customer,
            "product": self.product,
            "quantity": self.quantity,
            "attributes": self.attributes,
            "status": self.status.value,
            "blocked": self.block_active,
            "stage": self.stage.value,
            "folder": None if self.purged else self.folder,
            # Where it went (or goes): never a printer a rejected job did not reach.
            "hot_folder": self.route if self.route not in (None, "skip") and not self.rejected() else None,
            "route": self.route,
            "output": self.output_path,
            "output_pages": self.output_pages,
            "output_size": self.output_size,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at,
            "process_after": self.process_after,
            "error": self.error,
            "preflight": self.preflight,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if with_history:
            data["history"] = [e.to_json() for e in self.whole_history()]
        return data


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    job_id: str
    generation: int
    hot_folder: str
    final_path: str
    temp_path: str
    state: str  # intent | written | ticket | published | aborted | cleared | in_the_way
    started_at: str
    # The folder of the temp file, as it was when the copy was written ("<device>:<inode>"; None in
    # ledgers from before): after a crash, a temp file gone from that same folder was renamed in.
    temp_folder: str | None = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    customer TEXT,
    product TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity >= 1),
    hot_folder TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    manifest_name TEXT NOT NULL,
    process_after TEXT,
    stage TEXT NOT NULL,
    folder TEXT NOT NULL,
    output TEXT,
    output_pages INTEGER,
    output_size INTEGER,
    preflight TEXT,
    route TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    awaiting_until TEXT,
    generation INTEGER NOT NULL DEFAULT 1,
    error TEXT,
    recreate TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'Nothing',
    blocked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_stage ON jobs (stage);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
CREATE INDEX IF NOT EXISTS jobs_blocked ON jobs (blocked);
CREATE INDEX IF NOT EXISTS jobs_updated ON jobs (updated_at);
DROP INDEX IF EXISTS jobs_created;
CREATE INDEX IF NOT EXISTS jobs_recorded ON jobs (created_at);
CREATE INDEX IF NOT EXISTS jobs_id_nocase ON jobs (job_id COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS artwork (
    job_id TEXT NOT NULL REFERENCES jobs (job_id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    source TEXT,
    sha256 TEXT,
    present INTEGER NOT NULL DEFAULT 0,
    source_key TEXT,
    PRIMARY KEY (job_id, position)
);
CREATE INDEX IF NOT EXISTS artwork_source ON artwork (source);
CREATE INDEX IF NOT EXISTS artwork_name ON artwork (name);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL REFERENCES jobs (job_id),
    status TEXT NOT NULL,
    at TEXT NOT NULL,
    by TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    removed_at TEXT,
    removed_by TEXT,
    removed_note TEXT,
    removed_after INTEGER
);
CREATE INDEX IF NOT EXISTS history_job ON history (job_id, id);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL REFERENCES jobs (job_id),
    generation INTEGER NOT NULL,
    hot_folder TEXT NOT NULL,
    final_path TEXT NOT NULL,
    temp_path TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    temp_folder TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (state);
CREATE INDEX IF NOT EXISTS deliveries_job ON deliveries (job_id, generation);
CREATE TABLE IF NOT EXISTS outputs (
    job_id TEXT PRIMARY KEY,
    file_sig TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS intakes (
    key TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    order_id TEXT NOT NULL,
    at TEXT NOT NULL,
    completed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS intakes_path ON intakes (path);
CREATE TABLE IF NOT EXISTS rerouted (
    job_id TEXT PRIMARY KEY,
    was TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS last_actions (
    job_id TEXT PRIMARY KEY,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kept_by_hand (
    job_id TEXT PRIMARY KEY,
    folder TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tickets_left (
    delivery_id INTEGER PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS drops (
    token TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    action TEXT NOT NULL,
    by TEXT,
    outcome TEXT,
    message TEXT,
    at TEXT NOT NULL
);
"""

_JOB_COLUMNS = (
    "job_id, order_id, customer, product, quantity, hot_folder, attributes, manifest_name, "
    "process_after, stage, folder, output, output_pages, output_size, preflight, route, attempts, "
    "next_attempt_at, awaiting_until, generation, error, recreate, created_at, updated_at"
)
#: A job's row with its current status and blocked flag: a job read without its history.
_LIGHT_COLUMNS = _JOB_COLUMNS + ", status, blocked"


#: Jobs (and artwork lists) kept from one read to the next: a job is read ~12 times on its way
#: through; a backlog of thousands only cycles the cache, which is then emptied.
_CACHED_JOBS = 1024

_UPDATABLE = frozenset(_JOB_COLUMNS.split(", ")) - {"job_id", "created_at", "updated_at"}


def _caches_as_is(column: str, value: Any) -> bool:
    """A value written to this column reads back equal and of the same type (so a cached job can
    take it as it is); JSON columns and anything unusual are read back from the ledger instead."""
    if column == "stage":
        return type(value) is Stage
    if column in ("attributes", "preflight"):
        return False
    return value is None or type(value) in (str, int)


_JOB_FIELDS = tuple(f.name for f in dataclass_fields(Job))
_JOB_VALUES = operator.attrgetter(*_JOB_FIELDS)
_JOB_INDEX = {name: index for index, name in enumerate(_JOB_FIELDS)}


def _job_with(job: Job, changes: dict[str, Any]) -> Job:
    """``dataclasses.replace(job, **changes)``, in ~60 % of its time (a job's cached copy is
    refreshed this way after each write to it)."""
    values = list(_JOB_VALUES(job))
    for name, value in changes.items():
        values[_JOB_INDEX[name]] = value
    return Job(*values)


def _utf8(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (no lone surrogates: a name read from the disk
    that was not UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class LedgerError(Exception):
    """The ledger cannot be opened or used (message in plain words)."""


def _holds_a_ledger(db: sqlite3.Connection) -> bool:
    """The database has the ledger's tables (a file that is no database at all raises)."""
    names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {"meta", "jobs", "history"} <= names


#: A write that changes the ledger, for a FULL commit that syncs the WAL up to it (``Ledger.sync``):
#: one that changes nothing (``SET value = value``) writes no frame, and SQLite syncs nothing
#: (review HJ 1: a RELEASE filed while its action was not on disk after all).
_SYNC_WRITE = (
    "INSERT INTO meta (key, value) VALUES ('syncs', '1') "
    "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
)

#: The tables a ledger has (its schema's).
_LEDGER_TABLES = frozenset(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", _SCHEMA))


def _other_database(db: sqlite3.Connection) -> str:
    """The tables of a database that has tables the ledger never has (another program's), "" else
    (a ledger, also one whose first making a crash cut short: some of its tables only)."""
    names = sorted(row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    foreign = [name for name in names if name not in _LEDGER_TABLES and not name.startswith("sqlite_")]
    if not foreign:
        return ""
    return ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")


def create_spool_file(path: Path) -> None:
    """Creates a new ledger file (empty: SQLite makes the database in it), or the instance lock's,
    with the mode every file of the daemon gets, 0666 less the umask: with the unit's
    ``UMask=0002`` operators in the group may run ``release`` etc. (SQLite alone makes it 0644,
    and its -wal and -shm files copy the database file's mode; audit BR 2). Made by root
    (``init``, an operator command run as root) in a ``state/`` folder that belongs to the service
    user, it is given to the folder's owner and group, group-writable when the folder is, so that
    the service and operators can open it (audit BR 3; the instance lock's, audit BH 3: the
    service refused to start after a command run as root); SQLite gives root's -wal and -shm
    files the database file's owner itself."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except FileExistsError:
        return
    try:
        if os.geteuid() == 0:
            folder = os.stat(path.parent)
            if folder.st_uid != 0:
                os.fchown(fd, folder.st_uid, folder.st_gid)
                # root's umask (022) is not the service's: group-writable as its folder is (audit BT 3).
                os.fchmod(fd, 0o664 if folder.st_mode & 0o020 else 0o644)
    finally:
        os.close(fd)


#: SQLite's result code for a full disk (sqlite3.SQLITE_FULL, named from Python 3.11.4 on).
SQLITE_FULL = 13


def is_disk_full(exc: BaseException) -> bool:
    """A full disk or quota, from the filesystem or SQLite (SQLITE_FULL)."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL or "disk is full" in str(exc)
    return False


#: SQLite's result codes for a damaged database file: SQLITE_CORRUPT, SQLITE_NOTADB.
_DAMAGED_CODES = (11, 26)


#: The most the ledger's WAL file is kept at once checkpointed (bytes).
WAL_SIZE_LIMIT = 64 * 1024 * 1024

#: Ledgers this process reads as they are (immutable: no daemon had them open), with their file's
#: state then: a daemon started meanwhile writes into the file at its checkpoints, and pages read
#: before and after do not fit (review ES 3: "malformed ... put back a copy from a backup" of a
#: ledger that was fine).
_read_as_it_was: dict[Path, tuple[int, int] | None] = {}


def _stat_of(path: Path, first: str, second: str) -> tuple[int, int] | None:
    """Two fields of ``path``'s stat (``st_mtime_ns``, ``st_size``: its state; ``st_dev``,
    ``st_ino``: which file it is); None where it cannot be looked at."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return getattr(st, first), getattr(st, second)


def _newer_schema(db: sqlite3.Connection) -> int | None:
    """The schema version a ledger says it has, where it is newer than this program's."""
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.Error:
        return None  # (a new file, or one of before the meta table)
    try:
        version = int(row[0]) if row else 0
    except (TypeError, ValueError):
        return None
    return version if version > SCHEMA_VERSION else None


def changed_while_read() -> bool:
    """Whether a ledger this process read as it was (no daemon had it open) was written since: a
    daemon started meanwhile (its -wal file there now, or the file itself changed)."""
    return any(
        path.with_name(path.name + "-wal").exists() or _stat_of(path, "st_mtime_ns", "st_size") != state
        for path, state in _read_as_it_was.items()
    )


def is_ledger_damaged(exc: BaseException) -> bool:
    """The ledger's file is damaged (truncated, overwritten: "database disk image is malformed",
    "file is not a database"): nothing can be recorded until a good copy is put back."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _DAMAGED_CODES
    text = str(exc)
    return "malformed" in text or "not a database" in text


def disk_full_why(path: Path) -> str:
    """When the disk holding the ledger is full (SQLite then says "disk I/O error" as often as
    "database or disk is full", creating its -wal and -shm files): that, in words."""
    try:
        usage = shutil.disk_usage(path.parent)
    except OSError:
        return ""
    if usage.free >= DISK_FULL_BELOW:
        return ""
    return (
        f" (the disk holding {path.parent} is full: {usage.free // 1024} KiB free; free some space there, "
        "then start the daemon again)"
    )


#: Free bytes under which a failure to open the ledger is said to be the full disk's.
DISK_FULL_BELOW = 1024 * 1024


def not_writable_why(path: Path) -> str:
    """Why this user cannot write the ledger (or another file of state/), when that is the cause,
    and what mends it; "" where it is not."""
    try:
        st = os.stat(path)
        folder_owner = os.stat(path.parent).st_uid
    except OSError:
        return ""
    if os.access(path, os.W_OK):
        return ""
    if on_read_only_mount(path):
        # (audit, sysadmin F2: "chmod g+w" was the advice, which cannot help)
        return " (the filesystem it is on is mounted read-only: mount it read-write; check the mount)"
    if has_unwritable_flag(path):
        # (audit BR: the advice was chmod, for a file no mode lets anyone write)
        return f" (it carries the immutable or append-only flag, which no mode overrides: chattr -i -a {path})"
    said = (
        f" (the file belongs to {user_name(st.st_uid)}, mode {st.st_mode & 0o777:o}, and this user, "
        f"{user_name(os.geteuid())}, may not write it"
    )
    if st.st_uid != folder_owner:
        # Made by a command run as root (or another user) in the daemon's state/ folder.
        return f"{said}: give it to the owner of its folder: chown {user_name(folder_owner)}: {path}*)"
    outside = st.st_gid != os.getegid() and st.st_gid not in os.getgroups()
    if outside and st.st_gid == 0:
        # Never "join the group root" (it may write much of the system), and g+w helps no one else.
        return f"{said}: run the command as {user_name(st.st_uid)}, who owns it)"
    mends = [f"chmod g+w {path}*"] if not st.st_mode & 0o020 else []
    if outside:
        # Group-writable or not, it helps only a member of its group (audit D: chmod g+w alone did not).
        group = group_name(st.st_gid)
        mends.append(
            f"put this user into its group {group}: usermod -aG {group} {user_name(os.geteuid())}, then log in again"
        )
    return f"{said}: to let its group write it too: {'; and '.join(mends)})" if mends else f"{said})"


def this_user() -> str:
    """This process's user, as notes name it: "spo-hotfolder, uid 999" (or "uid 999")."""
    uid = os.geteuid()
    name = user_name(uid)
    return name if name == f"uid {uid}" else f"{name}, uid {uid}"


class _Transaction:
    """``Ledger.transaction()``: a context manager that holds the ledger's lock and opens a
    transaction, or joins the one already open. A plain class rather than ``@contextmanager``:
    a job takes ~50 of these, and a generator costs several calls more each."""

    __slots__ = ("_durable", "_ledger", "_outer")

    def __init__(self, ledger: Ledger, durable: bool) -> None:
        self._ledger = ledger
        self._durable = durable
        self._outer = False

    def __enter__(self) -> sqlite3.Connection:
        ledger = self._ledger
        ledger._lock.acquire()
        try:
            if ledger._depth:
                ledger._depth += 1
                ledger._sync_after = ledger._sync_after or self._durable
                return ledger._db
            if self._durable:
                ledger._db.execute("PRAGMA synchronous=FULL")
            try:
                ledger._db.execute("BEGIN IMMEDIATE")
            except BaseException:
                if self._durable:
                    ledger._db.execute("PRAGMA synchronous=NORMAL")
                raise
            ledger._depth = 1
            ledger._sync_after = False
            ledger._after.clear()
            ledger._undo.clear()
            self._outer = True
            return ledger._db
        except BaseException:
            ledger._lock.release()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        ledger = self._ledger
        committed: list[Callable[[], None]] = []
        undone: list[Callable[[], None]] = []
        try:
            if not self._outer:
                ledger._depth -= 1
                return
            durable = self._durable
            try:
                ledger._depth = 0
                if exc_type is not None:
                    ledger._jobs.clear()
                    ledger._artwork.clear()
                    ledger._after.clear()
                    undone = ledger._undo[::-1]
                    # (SQLite may have rolled back already, after a full disk: the first error counts.)
                    with contextlib.suppress(sqlite3.Error):
                        ledger._db.execute("ROLLBACK")
                    return
                try:
                    ledger._db.execute("COMMIT")
                except BaseException:
                    # A full disk (SQLITE_FULL), an I/O error: the transaction is not on disk, and
                    # SQLite may have left it open. Nothing of it stays, in the ledger or our caches.
                    ledger._jobs.clear()
                    ledger._artwork.clear()
                    ledger._after.clear()
                    undone = ledger._undo[::-1]
                    with contextlib.suppress(sqlite3.Error):
                        ledger._db.execute("ROLLBACK")
                    raise
                committed = ledger._after[:]
                ledger._after.clear()
                ledger._version += 1
                if ledger._sync_after and not durable:
                    # A nested step asked for durability: one FULL commit syncs the WAL up to here.
                    ledger._db.execute("PRAGMA synchronous=FULL")
                    ledger._db.execute(_SYNC_WRITE)
                    durable = True
            finally:
                if durable:
                    ledger._db.execute("PRAGMA synchronous=NORMAL")
        finally:
            if self._outer:
                ledger._undo.clear()
            ledger._lock.release()
            for then in committed:  # what was committed is said, nothing rolled back (outside the lock)
                then()
            for undo in undone:  # what was done on disk for what is not recorded, undone (newest first)
                try:
                    undo()
                except Exception:  # noqa: BLE001 - one that cannot be undone is left for the start's reconcile
                    import structlog  # (here: the CLI's reading commands load no structlog)

                    structlog.get_logger("spo_hotfolder.ledger").exception("ledger.undo_failed")


class Ledger:
    """All reads and writes of the ledger. Thread-safe (one connection, one lock)."""

    def __init__(self, path: Path, *, readonly: bool = False, create: bool = True) -> None:
        """``create=False`` (an operator command acting with no daemon running): a file that holds
        no ledger (emptied, or another database) is an error, not made into a new, empty ledger
        that then knows none of the jobs in the folders (audit, sysadmin F1)."""
        self.path = path
        self._readonly = readonly
        self._identity: tuple[int, int] | None = None  # the file opened (device, inode): replaced_why
        if path.is_dir():
            # (audit, sysadmin F7: SQLite said "disk I/O error" or "unable to open database file")
            raise LedgerError(
                f"the ledger {path} is a folder, not a file: move it away (a ledger is one file, "
                "state/ledger.sqlite3) and put back the ledger from a backup"
            )
        try:
            if readonly:
                if not path.exists():
                    raise LedgerError(f"no ledger at {path}: has the daemon (or `init`) run with this config?")
                # No -wal file: no daemon has the ledger open, and all of it is in the file itself. It is
                # read as it is (immutable): SQLite would otherwise leave -wal and -shm files beside it,
                # which a command that changes nothing must not (audit BG 3). A daemon starting
                # meanwhile writes its WAL first, not this file.
                quiet = not path.with_name(path.name + "-wal").exists()
                uri = f"file:{path}?mode=ro" + ("&immutable=1" if quiet else "")
                if quiet:
                    _read_as_it_was[path] = _stat_of(path, "st_mtime_ns", "st_size")
                self._db = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                if create:
                    create_spool_file(path)
                self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
                if not create and not _holds_a_ledger(self._db):
                    self._db.close()
                    raise LedgerError(
                        f"the ledger file {path} holds no ledger (it is empty, or another database); nothing was "
                        "changed: put back the ledger from a backup"
                    )
                newer = _newer_schema(self._db)
                if newer is not None:
                    # (review ES 4: written, never read; a newer program's ledger was used as it is)
                    self._db.close()
                    raise LedgerError(
                        f"the ledger {path} was made by a newer spo-hotfolder (its schema {newer}, this one knows "
                        f"{SCHEMA_VERSION}); nothing was changed: run the newer version, or put back a backup made "
                        "by this one"
                    )
                other = _other_database(self._db)
                if other:
                    # Never made into a ledger beside another program's tables (white-box audit DE 3:
                    # a wrong file put back was written into, and "the ledger is new" never said).
                    self._db.close()
                    raise LedgerError(
                        f"the ledger file {path} holds another database (its tables: {other}), not a ledger; "
                        "nothing was changed: put back the ledger from a backup, or move this file away"
                    )
                try:
                    self._db.execute("PRAGMA journal_mode=WAL")
                except sqlite3.OperationalError as exc:
                    # (review GT 2: the whole root on FAT through FUSE: "disk I/O error", nothing more)
                    self._db.close()
                    raise LedgerError(
                        f"cannot open the ledger {path}: {exc}: the filesystem of {path.parent} does not give "
                        "SQLite's write-ahead log the shared memory it needs (a FAT or other disk through FUSE, "
                        "some network shares): put paths.root on a local disk (ext4, xfs, btrfs)"
                    ) from exc
                self._db.execute("PRAGMA synchronous=NORMAL")
                # The WAL cut back to this once checkpointed: a reader that held it long (a listing
                # paused in a pager) left it at its peak, hundreds of MB, until the daemon stopped
                # (review ES 2).
                self._db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
                self._identity = _stat_of(path, "st_dev", "st_ino")
                self._db.executescript(_SCHEMA)
                self._db.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
                _add_source_keys(self._db)
                _add_temp_folders(self._db)
                _add_removed_after(self._db)
            self._db.execute("PRAGMA busy_timeout=30000")
        except (sqlite3.Error, OSError) as exc:
            why = not_writable_why(path) or disk_full_why(path)
            if not why and isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
                # ("file is not a database", "database disk image is malformed": as `jobs` says it)
                why = (
                    "; it is damaged, or not a ledger: put back a copy from a backup (remove its -wal and -shm files "
                    "first: docs/service.md, Backups and restores)"
                )
            raise LedgerError(f"cannot open the ledger {path}: {exc}{why}") from exc
        # A ledger of an older daemon read by a command before the new daemon has opened it (and
        # added the columns): its deliveries read with no temp folder, its history with no entry
        # before a removal. (A damaged file is said by the first query, as before.)
        temp_folder, removed_after = "temp_folder", "removed_after"
        with contextlib.suppress(sqlite3.Error):
            columns = _columns(self._db, "deliveries")
            if columns and "temp_folder" not in columns:
                temp_folder = "NULL"
            columns = _columns(self._db, "history")
            if columns and "removed_after" not in columns:
                removed_after = "NULL"
        #: The history's columns as ``_entry`` reads them.
        self._history_columns = "id, status, at, by, detail, removed_at, removed_by, removed_note, " + removed_after
        self._db.row_factory = sqlite3.Row
        self._deliveries = (
            f"SELECT id, job_id, generation, hot_folder, final_path, temp_path, state, started_at, {temp_folder} "
        )
        self._lock = threading.RLock()
        self._depth = 0
        self._sync_after = False
        self._after: list[Callable[[], None]] = []  # ``after_commit`` calls of the open transaction
        self._undo: list[Callable[[], None]] = []  # ``on_rollback`` calls of the open transaction
        self._version = 0  # +1 per commit: the counts below are cached until the next one
        self._cache: dict[str, tuple[int, Any]] = {}
        # Jobs read without their history, and artwork lists, as of the last write to them. Only
        # the daemon writes the ledger (one process: service.py's lock), and every write to a job's
        # row or artwork goes through this class, which drops or refreshes the entry; a rollback
        # drops them all. A read-only ledger (the CLI, beside a running daemon) caches nothing.
        self._jobs: dict[str, Job] = {}
        self._artwork: dict[str, tuple[Artwork, ...]] = {}

    def replaced_why(self) -> str | None:
        """Why the daemon's ledger is no longer the file at its path (deleted, or another file put
        there while it runs), in words; None while it is (or cannot be told). Review ES 1: deleted
        under the running daemon, it recorded into the file nothing reads, `health` said ok, and
        the records were gone at its next start."""
        if self._identity is None:
            return None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            what = "was deleted"
        except OSError:
            return None
        else:
            if (st.st_dev, st.st_ino) == self._identity:
                return None
            what = "was replaced by another file"
        return (
            f"the ledger {self.path} {what} while the daemon runs: what it records goes into the file it opened, "
            "which nothing reads, and is lost when it stops; stop the daemon, put the ledger back from a backup "
            "(docs/service.md, Backups and restores) or move the new file away, and start it again"
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _keep(self, cache: dict[str, Any], job_id: str, value: Any) -> None:
        """Keeps what was just read for the daemon's next read (a read-only ledger keeps nothing)."""
        if not self._readonly:
            if len(cache) >= _CACHED_JOBS:
                cache.clear()
            cache[job_id] = value

    def sync(self) -> None:
        """Everything committed so far on disk (one FULL commit syncs the WAL up to it): before a
        file move that says a recorded step was made (a drop file filed into history/) may reach
        the disk first."""
        with self.transaction(durable=True) as db:
            db.execute(_SYNC_WRITE)

    def transaction(self, *, durable: bool = False) -> _Transaction:
        """One transaction (nested calls join the outer one). ``durable``: on disk at return."""
        return _Transaction(self, durable)

    def after_commit(self, then: Callable[[], None]) -> None:
        """Calls ``then`` once the open transaction is committed (never if it is rolled back: a full
        disk); at once when no transaction is open (what was written is committed already). For
        what tells the world about a write: a log line, a metric."""
        with self._lock:
            if self._depth:
                self._after.append(then)
                return
        then()

    def on_rollback(self, undo: Callable[[], None]) -> None:
        """Calls ``undo`` if the open transaction is rolled back (an error in it, or a commit that
        fails: a full disk), after the rollback: for what was done on disk in the transaction's
        name (a job's folder moved where its new stage lives) and must not stay without its record
        (audit U: a RELEASE dropped on a full disk moved the folder into work/, its commit failed,
        and the RELEASE in it was then refused as not in the job's folder). Nothing outside one."""
        with self._lock:
            if self._depth:
                self._undo.append(undo)

    # -- jobs -------------------------------------------------------------------------------

    def insert_job(
        self,
        *,
        job_id: str,
        order_id: str,
        customer: str | None,
        product: str,
        quantity: int,
        hot_folder: str | None,
        attributes: dict[str, Any],
        manifest_name: str,
        process_after: str | None,
        stage: Stage,
        folder: str,
        awaiting_until: str | None,
        now: datetime,
    ) -> None:
        with self.transaction() as db:
            self._jobs.pop(job_id, None)
            db.execute(
                "INSERT INTO jobs (job_id, order_id, customer, product, quantity, hot_folder, attributes, "
                "manifest_name, process_after, stage, folder, awaiting_until, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    order_id,
                    customer,
                    product,
                    quantity,
                    hot_folder,
                    json.dumps(attributes, sort_keys=True),
                    manifest_name,
                    process_after,
                    stage.value,
                    folder,
                    awaiting_until,
                    iso(now),
                    iso(now),
                ),
            )

    def update_job(self, job_id: str, now: datetime, **fields: Any) -> None:
        """Sets the given columns (stage, folder, output, ...) and updated_at."""
        if not fields:
            return
        assignments = []
        values: list[Any] = []
        for key, value in fields.items():
            if key not in _UPDATABLE:
                raise ValueError(f"not an updatable job column: {key}")
            if isinstance(value, StrEnum):
                value = value.value
            elif key in ("attributes", "preflight") and value is not None:
                value = json.dumps(value, sort_keys=True)
            assignments.append(f"{key} = ?")
            values.append(value)
        assignments.append("updated_at = ?")
        values.append(iso(now))
        values.append(job_id)
        with self.transaction() as db:
            cached = self._jobs.pop(job_id, None)
            db.execute(f"UPDATE jobs SET {', '.join(assignments)} WHERE job_id = ?", values)  # noqa: S608
            if cached is not None and all(_caches_as_is(key, value) for key, value in fields.items()):
                self._jobs[job_id] = _job_with(cached, {**fields, "updated_at": values[-2]})

    def job_brief(self, job_id: str) -> tuple[str, str | None] | None:
        """(order_id, route) of a job: what a log line needs. The daemon reads (and keeps) the job
        without its history, as it reads it again soon; a read-only ledger reads only the two."""
        if not self._readonly:
            job = self.get_job(job_id, history=False)
            return (job.order_id, job.route) if job is not None else None
        with self._lock:
            row = self._db.execute("SELECT order_id, route FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return (row[0], row[1]) if row is not None else None

    def jobs_of_order(self, order_id: str, limit: int = 20) -> list[str]:
        """Up to ``limit`` job ids of an order, oldest first: a hint for someone who typed an order
        id where a job id was wanted."""
        with self._lock:
            rows = self._db.execute(
                "SELECT job_id FROM jobs WHERE order_id = ? ORDER BY created_at, job_id LIMIT ?", (order_id, limit)
            ).fetchall()
        return [row[0] for row in rows]

    def get_job(self, job_id: str, *, history: bool = True) -> Job | None:
        """The job; ``history=False`` reads only its row, one statement, with the current status
        and blocked flag kept there (the engine's own lookups: a job's history grows with every
        step). A name read from the disk that is no UTF-8 text (a folder unzipped from a Windows
        archive: lone surrogates) is no job's (review HW 1: SQLite refused it, and retention raised
        at every run)."""
        with self._lock:
            if not history:
                job = self._jobs.get(job_id)
                if job is not None:
                    return job
            if not _utf8(job_id):  # (after the cache: never one of its names)
                return None
            if not history:
                row = self._db.execute(f"SELECT {_LIGHT_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,)).fetchone()  # noqa: S608
                if row is None:
                    return None
                job = _light_job_from_row(row)
                self._keep(self._jobs, job_id, job)
                return job
            row = self._db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,)).fetchone()  # noqa: S608
            if row is None:
                return None
            entries = self._history(job_id)
        return _job_from_row(row, entries)

    def iter_jobs(
        self,
        *,
        stages: Sequence[Stage] | None = None,
        status: JobStatus | None = None,
        blocked: bool | None = None,
        released: bool | None = None,
        with_history: bool = False,
        page: int = 500,
    ) -> Generator[Job, None, None]:
        """Jobs, oldest first (an order's jobs, taken together, in the manifest's order), filtered
        by stage, current status, active Blocked (``blocked``: a Blocked entry not removed, also of
        a rejected job), released (a Blocked entry removed, none active). One page at a time: a
        listing of 100,000 jobs never holds them all (the CLI prints them as they come; an index on
        created_at spares SQLite a sort of them: only jobs recorded together are sorted)."""
        where: list[str] = []
        args: list[Any] = []
        if stages:
            where.append(f"stage IN ({', '.join('?' for _ in stages)})")
            args.extend(s.value for s in stages)
        if status is not None:
            where.append("status = ?")
            args.append(status.value)
        if blocked is True:  # a Blocked entry not removed, whatever the current status (SPEC 3)
            where.append("blocked = 1")
        elif blocked is False:
            where.append("blocked = 0")
        if released:
            # Released and not blocked again since (a reprint blocked anew is in --blocked only): the
            # seed's Blocker Status filter chooses between the two, they never overlap.
            where.append(
                "blocked = 0 AND EXISTS (SELECT 1 FROM history h WHERE h.job_id = jobs.job_id "
                "AND h.status = 'Blocked' AND h.removed_at IS NOT NULL)"
            )
        # The listing's keys read at once (one read, ints only), then each page a query of its own:
        # no statement stays open while the caller prints (a listing paused in a pager held a read
        # of the ledger open, and the daemon's WAL grew by hundreds of MB: review ES 2).
        sql = "SELECT jobs.rowid FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at, jobs.rowid"  # rowid: the order jobs were recorded in
        with self._lock:
            keys = [row[0] for row in self._db.execute(sql, args)]
        for first in range(0, len(keys), page):
            chunk = keys[first : first + page]
            marks = ", ".join("?" for _ in chunk)
            with self._lock:
                found = {
                    row["page_key"]: row
                    for row in self._db.execute(
                        f"SELECT {_LIGHT_COLUMNS}, jobs.rowid AS page_key FROM jobs "  # noqa: S608
                        f"WHERE {' AND '.join([f'jobs.rowid IN ({marks})', *where])}",
                        [*chunk, *args],
                    )
                }
                # (one changed since so that the filters leave it out, review ET 3: left out)
                rows = [found[key] for key in chunk if key in found]
                if with_history:
                    jobs = [_job_from_row(row, self._history(row["job_id"])) for row in rows]
                else:
                    jobs = [_light_job_from_row(row) for row in rows]
            yield from jobs

    def last_changed(self, window: timedelta) -> list[str]:
        """Ids of the jobs changed within ``window`` before the most recent change of any job."""
        with self._lock:
            latest = self._db.execute("SELECT MAX(updated_at) FROM jobs").fetchone()[0]
            if latest is None:
                return []
            since = iso(parse_iso(latest) - window)
            rows = self._db.execute("SELECT job_id FROM jobs WHERE updated_at >= ?", (since,)).fetchall()
        return [r[0] for r in rows]

    def job_ids(self, stages: Sequence[Stage]) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT job_id FROM jobs WHERE stage IN ({', '.join('?' for _ in stages)}) "  # noqa: S608
                "ORDER BY updated_at, job_id",
                [s.value for s in stages],
            ).fetchall()
        return [r[0] for r in rows]

    def runnable(self) -> list[tuple[str, str]]:
        """(job_id, order_id) of the jobs to process or deliver, the longest waiting first (an order's
        jobs taken in together: in the manifest's order)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT job_id, order_id FROM jobs WHERE stage IN (?, ?) ORDER BY updated_at, rowid",
                (Stage.PROCESS.value, Stage.DELIVER.value),
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def misplaced(self, stage: Stage, prefix: str) -> list[str]:
        """Jobs in ``stage`` whose recorded folder is not under ``prefix`` (a move a crash cut short)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT job_id FROM jobs WHERE stage = ? AND substr(folder, 1, ?) != ?",
                (stage.value, len(prefix), prefix),
            ).fetchall()
        return [r[0] for r in rows]

    def _cached(self, name: str, sql: str) -> Any:
        """A count that stays valid until the next commit (health and metrics ask every few seconds)."""
        with self._lock:
            hit = self._cache.get(name)
            if hit is not None and hit[0] == self._version and not self._readonly:
                return hit[1]
            rows = self._db.execute(sql).fetchall()
            value = {r[0]: r[1] for r in rows}
            self._cache[name] = (self._version, value)
            return value

    @property
    def changes(self) -> int:
        """How many commits this connection made (a count kept elsewhere stays valid while it is
        the same)."""
        return self._version

    def count_purged_done(self) -> int:
        """Jobs delivered or skipped whose files retention has purged since (a rejected job's
        route goes with its files: not these)."""
        cached: dict[str, int] = self._cached(
            "purged_done", "SELECT 'n', COUNT(*) FROM jobs WHERE stage = 'purged' AND route IS NOT NULL"
        )
        return cached.get("n", 0)

    def counts_by_stage(self) -> dict[str, int]:
        result: dict[str, int] = self._cached("stage", "SELECT stage, COUNT(*) FROM jobs GROUP BY stage")
        return dict(result)

    def counts_by_status(self) -> dict[str, int]:
        result: dict[str, int] = self._cached("status", "SELECT status, COUNT(*) FROM jobs GROUP BY status")
        return dict(result)

    def count_blocked(self) -> int:
        cached: dict[str, int] = self._cached(
            "blocked", "SELECT 'n', COUNT(*) FROM jobs WHERE blocked = 1 AND stage NOT IN ('rejected', 'purged')"
        )
        return cached.get("n", 0)

    def next_due(self, after: datetime | None = None) -> str | None:
        """The earliest time-driven event (``after``: of those later than it): a retry, a future
        order, an artwork time-out."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(t) FROM ("
                " SELECT next_attempt_at AS t FROM jobs WHERE stage = 'retry'"
                " UNION ALL SELECT process_after FROM jobs WHERE stage = 'future'"
                " UNION ALL SELECT awaiting_until FROM jobs WHERE stage = 'awaiting') WHERE t > ?",
                (iso(after) if after is not None else "",),
            ).fetchone()
        return row[0] if row and row[0] else None

    def shift_deadlines(self, by: timedelta) -> int:
        """Moves the due times that are spans of time from when they were set (a delivery retry's
        backoff, an artwork time-out) by ``by``: the wall clock stepped by that much, and a span
        stays a span (white-box audit DM 1). A future order's ``process_after``, a calendar time,
        stays. Returns how many jobs were moved."""
        with self.transaction() as db:
            rows = db.execute(
                "SELECT job_id, next_attempt_at, awaiting_until FROM jobs WHERE (stage = 'retry' AND "
                "next_attempt_at IS NOT NULL) OR (stage = 'awaiting' AND awaiting_until IS NOT NULL)"
            ).fetchall()
            for job_id, retry_at, until in rows:
                db.execute(
                    "UPDATE jobs SET next_attempt_at = ?, awaiting_until = ? WHERE job_id = ?",
                    (_shifted(retry_at, by), _shifted(until, by), job_id),
                )
                self._jobs.pop(job_id, None)
        return len(rows)

    def due_jobs(self, now: datetime) -> list[tuple[str, Stage]]:
        t = iso(now)
        with self._lock:
            rows = self._db.execute(
                "SELECT job_id, stage FROM jobs WHERE (stage = 'retry' AND next_attempt_at <= ?)"
                " OR (stage = 'future' AND process_after <= ?)"
                " OR (stage = 'awaiting' AND awaiting_until <= ?) ORDER BY updated_at",
                (t, t, t),
            ).fetchall()
        return [(r[0], Stage(r[1])) for r in rows]

    def oldest_terminal_update(self, since: datetime | None = None) -> datetime | None:
        """The ``updated_at`` of the finished job (done or rejected) changed longest ago, if any
        (``since``: of those changed at that time or later)."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(updated_at) FROM jobs WHERE stage IN ('done', 'rejected') AND updated_at >= ?",
                (iso(since) if since is not None else "",),
            ).fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    def terminal_before(self, cutoff: datetime) -> list[Job]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_LIGHT_COLUMNS} FROM jobs WHERE stage IN ('done', 'rejected') AND updated_at < ?",  # noqa: S608
                (iso(cutoff),),
            ).fetchall()
        return [_light_job_from_row(r) for r in rows]

    # -- history ----------------------------------------------------------------------------

    def add_status(self, job_id: str, status: JobStatus, by: str, detail: str, now: datetime) -> int:
        """Appends a history entry and refreshes the job's current status; returns the entry id."""
        at = iso(now)
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO history (job_id, status, at, by, detail) VALUES (?, ?, ?, ?, ?)",
                (job_id, status.value, at, by, detail),
            )
            # The new entry is the newest and is not removed: it is the current status, and the job
            # is blocked if it was or if this is a Blocked (what _refresh_current would work out).
            blocking = status is JobStatus.Blocked
            db.execute(
                "UPDATE jobs SET status = ?1, blocked = (blocked OR ?2), updated_at = ?3 WHERE job_id = ?4",
                (status.value, blocking, at, job_id),
            )
            job = self._jobs.get(job_id)
            if job is not None and job.current is not None:
                self._jobs[job_id] = _job_with(job, {"current": (status, job.current[1] or blocking), "updated_at": at})
            return int(cur.lastrowid or 0)

    def remove_status(self, entry_id: int, job_id: str, by: str, note: str, now: datetime) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE history SET removed_at = ?1, removed_by = ?2, removed_note = ?3, "
                "removed_after = (SELECT MAX(id) FROM history WHERE job_id = ?5) "
                "WHERE id = ?4 AND job_id = ?5 AND removed_at IS NULL",
                (iso(now), by, note or None, entry_id, job_id),  # no note: null in --json, as documented
            )
            self._refresh_current(job_id, now)

    def _refresh_current(self, job_id: str, now: datetime) -> None:
        """The job's current status (newest entry not removed) and blocked flag, in one statement."""
        self._jobs.pop(job_id, None)
        self._db.execute(
            "UPDATE jobs SET status = COALESCE((SELECT status FROM history WHERE job_id = ?1 AND removed_at IS NULL "
            "ORDER BY id DESC LIMIT 1), 'Nothing'), blocked = EXISTS (SELECT 1 FROM history WHERE job_id = ?1 "
            "AND status = 'Blocked' AND removed_at IS NULL), updated_at = ?2 WHERE job_id = ?1",
            (job_id, iso(now)),
        )

    def last_release(self, job_id: str) -> HistoryEntry | None:
        """The job's newest Blocked entry an operator removed, if any: one indexed statement, not the
        whole history (asked as each job's output is made)."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._history_columns} FROM history "  # noqa: S608 - the columns are ours
                "WHERE job_id = ? AND status = 'Blocked' AND removed_at IS NOT NULL ORDER BY id DESC LIMIT 1",
                (job_id,),
            ).fetchone()
        return _entry(row) if row is not None else None

    def _history(self, job_id: str) -> tuple[HistoryEntry, ...]:
        rows = self._db.execute(
            f"SELECT {self._history_columns} FROM history WHERE job_id = ? ORDER BY id",  # noqa: S608
            (job_id,),
        ).fetchall()
        return tuple(_entry(r) for r in rows)

    # -- artwork ----------------------------------------------------------------------------

    def set_artwork(self, job_id: str, items: Sequence[Artwork]) -> None:
        with self.transaction() as db:
            self._artwork.pop(job_id, None)
            db.execute("DELETE FROM artwork WHERE job_id = ?", (job_id,))
            db.executemany(
                "INSERT INTO artwork (job_id, position, name, source, sha256, present, source_key) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (job_id, a.position, a.name, a.source, a.sha256, 1 if a.present else 0, _source_key(a.source))
                    for a in items
                ],
            )

    def artwork(self, job_id: str) -> list[Artwork]:
        with self._lock:
            cached = self._artwork.get(job_id)
            if cached is not None:
                return list(cached)
            rows = self._db.execute(
                "SELECT position, name, source, sha256, present FROM artwork WHERE job_id = ? ORDER BY position",
                (job_id,),
            ).fetchall()
            items = [Artwork(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]
            self._keep(self._artwork, job_id, tuple(items))
        return items

    def mark_artwork_present(
        self, job_id: str, position: int, name: str | None = None, *, replaced: bool = False
    ) -> None:
        """``replaced``: an operator's replacement, which the manifest's sha256 (of the artwork as
        ordered) no longer describes: the expected checksum is dropped."""
        with self.transaction() as db:
            self._artwork.pop(job_id, None)
            if replaced:
                db.execute("UPDATE artwork SET sha256 = NULL WHERE job_id = ? AND position = ?", (job_id, position))
            if name is None:
                db.execute(
                    "UPDATE artwork SET present = 1, source = NULL, source_key = NULL "
                    "WHERE job_id = ? AND position = ?",
                    (job_id, position),
                )
            else:
                db.execute(
                    "UPDATE artwork SET present = 1, source = NULL, source_key = NULL, name = ? "
                    "WHERE job_id = ? AND position = ?",
                    (name, job_id, position),
                )

    def move_awaited(self, old: str, new: str) -> list[str]:
        """An inbox folder renamed from ``old`` to ``new``: the files awaited inside it are awaited
        at their new paths. Returns the jobs waiting for any of them."""
        low, high = old + "/", old + "0"  # "0" follows "/": every path below the folder, by the index
        with self.transaction() as db:
            rows = db.execute(
                # CROSS JOIN: the artwork's source index first (SQLite, left to itself, took every job
                # awaiting first, and each of their files: audit BX 2, see awaits_under)
                "SELECT a.job_id, a.position, a.source FROM artwork a CROSS JOIN jobs j ON j.job_id = a.job_id "
                "WHERE a.source >= ? AND a.source < ? AND a.present = 0 AND j.stage IN ('awaiting', 'failed')",
                (low, high),
            ).fetchall()
            for job_id, position, source in rows:
                self._artwork.pop(job_id, None)
                db.execute(
                    "UPDATE artwork SET source = ? WHERE job_id = ? AND position = ?",
                    (new + source[len(old) :], job_id, position),
                )
        return sorted({row[0] for row in rows})

    def meta(self, key: str) -> str | None:
        """A value kept in the ledger's ``meta`` table (``inbox``: the inbox its paths are in)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def move_intakes(self, old: str, new: str) -> None:
        """The manifests taken in from inside folder ``old`` (an inbox moved while the daemon was
        stopped: ``paths.root`` or ``paths.inbox`` changed) are known as taken in from ``new``."""
        low, high = old + "/", old + "0"  # "0" follows "/": every path below the folder
        with self.transaction() as db:
            db.execute(
                "UPDATE intakes SET path = ? || substr(path, ?) WHERE path >= ? AND path < ?",
                (new, len(old) + 1, low, high),
            )

    def awaits_under(self, folder: str) -> bool:
        """Whether an awaiting or failed job still waits for a file inside ``folder`` (an inbox
        folder its manifest came in)."""
        low, high = folder + "/", folder + "0"  # "0" follows "/": every path below the folder, by the index
        with self._lock:
            row = self._db.execute(
                # CROSS JOIN: the range on the artwork's source index first. SQLite, left to itself,
                # went through every awaiting job and each of its files (audit BX 2: with 500 orders
                # of 20 files waiting, a look per folder per file taken, deliveries stopped for minutes).
                "SELECT 1 FROM artwork a CROSS JOIN jobs j ON j.job_id = a.job_id "
                "WHERE a.source >= ? AND a.source < ? AND a.present = 0 AND j.stage IN ('awaiting', 'failed') "
                "LIMIT 1",
                (low, high),
            ).fetchone()
        return row is not None

    def waiting_for(self, source: str) -> list[tuple[str, int]]:
        """The (job_id, position) of every awaiting or failed job that waits for this inbox path."""
        with self._lock:
            rows = self._db.execute(
                "SELECT a.job_id, a.position FROM artwork a JOIN jobs j ON j.job_id = a.job_id "
                "WHERE a.source = ? AND a.present = 0 AND j.stage IN ('awaiting', 'failed') "
                "ORDER BY j.created_at, a.position",
                (source,),
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def taken_with_name(self, name: str, since: str, other_than: str, top: str) -> tuple[str, str] | None:
        """(job_id, order_id) of the newest job other than ``other_than``, created at ``since`` or
        later, that has an artwork file of this name (its source is not kept once taken), of an order
        whose manifest came into the folder ``top`` itself (the inbox's top: an order of a folder
        drop took its own file of that name, from its folder; audit BN, a job waiting at the top was
        told such an order had taken its file)."""
        with self._lock:
            row = self._db.execute(
                "SELECT j.job_id, j.order_id FROM artwork a JOIN jobs j ON j.job_id = a.job_id "
                "WHERE a.name = ? AND a.present = 1 AND j.job_id != ? AND j.created_at >= ? "
                "AND EXISTS (SELECT 1 FROM intakes i WHERE i.order_id = j.order_id AND i.path >= ? AND i.path < ? "
                "AND instr(substr(i.path, ?), '/') = 0) "
                "ORDER BY j.created_at DESC LIMIT 1",
                (name, other_than, since, top + "/", top + "0", len(top) + 2),
            ).fetchone()
        return (row[0], row[1]) if row else None

    def rejected_waiting_for(self, name: str, limit: int = 3) -> list[str]:
        """The newest rejected jobs that were still waiting for an artwork file of this name."""
        with self._lock:
            rows = self._db.execute(
                "SELECT a.job_id FROM artwork a JOIN jobs j ON j.job_id = a.job_id "
                "WHERE a.name = ? AND a.present = 0 AND j.stage = 'rejected' ORDER BY j.updated_at DESC LIMIT ?",
                (name, limit),
            ).fetchall()
        return [r[0] for r in rows]

    def held_with(self, name: str, limit: int = 3) -> list[str]:
        """The newest jobs in quarantine/ or failed/ with an artwork file of this name (a file
        uploaded again under that name is most likely meant for one of them)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT a.job_id FROM artwork a JOIN jobs j ON j.job_id = a.job_id "
                "WHERE a.name = ? AND j.stage IN ('held', 'failed') ORDER BY j.created_at DESC LIMIT ?",
                (name, limit),
            ).fetchall()
        return [r[0] for r in rows]

    def waiting_as(self, folder: str, name: str) -> list[tuple[str, int, str]]:
        """(job_id, position, source) of the artwork awaiting or failed jobs wait for directly in
        ``folder`` under a name that is ``name`` to a person (``fsutil.name_key``: letter case and
        Unicode form set aside), the exact name included. One index lookup, however many jobs
        wait: a backlog of thousands of jobs at start asks this for every file without a job."""
        prefix = folder.rstrip("/") + "/"
        with self._lock:
            rows = self._db.execute(
                "SELECT a.job_id, a.position, a.source FROM artwork a JOIN jobs j ON j.job_id = a.job_id "
                "WHERE a.source_key = ? AND a.source >= ? AND a.source < ? AND a.present = 0 "
                "AND j.stage IN ('awaiting', 'failed') ORDER BY j.created_at, a.position",
                (name_key(name), prefix, prefix[:-1] + "0"),
            ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows if "/" not in r[2][len(prefix) :]]

    def job_id_in_other_case(self, job_id: str) -> str | None:
        """The id of a job whose id is ``job_id`` in other letter case (``b35-1`` for ``B35-1``), if
        any: their folders would be one on a Windows share (job ids are ASCII). One index lookup.
        A job whose folder retention has removed (purged) has no folder to be confused with."""
        with self._lock:
            row = self._db.execute(
                "SELECT job_id FROM jobs WHERE job_id = ? COLLATE NOCASE AND job_id != ? AND stage != 'purged' LIMIT 1",
                (job_id, job_id),
            ).fetchone()
        return str(row[0]) if row is not None else None

    # -- deliveries -------------------------------------------------------------------------

    def delivery_intent(
        self, job_id: str, generation: int, hot_folder: str, final_path: str, temp_path: str, now: datetime
    ) -> int:
        # On disk before the temp file is made: its folder entry may reach the disk first (the
        # filesystem's journal commits every few seconds, and with any fsync), and after a power
        # cut a temp file no attempt of ours knows is another sender's, never removed (review HC 1:
        # the job failed, the file left in the hot folder for good).
        with self.transaction(durable=True) as db:
            cur = db.execute(
                "INSERT INTO deliveries (job_id, generation, hot_folder, final_path, temp_path, state, started_at) "
                "VALUES (?, ?, ?, ?, ?, 'intent', ?)",
                (job_id, generation, hot_folder, final_path, temp_path, iso(now)),
            )
            return int(cur.lastrowid or 0)

    def delivery_state(self, delivery_id: int, state: str, now: datetime, *, temp_folder: str | None = None) -> None:
        # "written" must be on disk before the rename: after a crash or a power loss it is what
        # tells a published copy (temp file gone) from one that never was (``temp_folder``: the
        # folder it was written in, see ``Delivery``).
        # So must "ticket" (the job ticket's temp file is complete): after a crash, its temp file gone
        # means the ticket was published, and it is not written a second time. And "aborted", made
        # before the temp file is removed (an attempt given up: not on the way of a delivery): lost
        # in a power cut with the removal kept, a "written" attempt without its temp file would
        # count as published.
        with self.transaction(durable=state in ("written", "ticket", "aborted")) as db:
            db.execute(
                "UPDATE deliveries SET state = ?, finished_at = ?, temp_folder = COALESCE(?, temp_folder) WHERE id = ?",
                (state, iso(now), temp_folder, delivery_id),
            )
            if state == "published":  # (its ticket published too, or its failure noted after: ticket_left)
                db.execute("DELETE FROM tickets_left WHERE delivery_id = ?", (delivery_id,))
            if state == "written":
                # A copy of ours is whole under this temp name: what an attempt given up left there is
                # gone (replaced by it), and renamed with it a file of that name is another's (GV 1).
                db.execute(
                    "UPDATE deliveries SET state = 'cleared' WHERE state = 'aborted' AND id != ?1 "
                    "AND temp_path = (SELECT temp_path FROM deliveries WHERE id = ?1)",
                    (delivery_id,),
                )

    def undecided_delivery(self, job_id: str) -> Delivery | None:
        """The job's attempt whose rename into the hot folder is not confirmed (journalled "written"
        or "ticket": a crash, or a hot folder that stopped answering, cut it short), if any."""
        with self._lock:
            row = self._db.execute(
                self._deliveries
                + "FROM deliveries WHERE job_id = ? AND state IN ('written', 'ticket') ORDER BY id DESC LIMIT 1",
                (job_id,),
            ).fetchone()
        return Delivery(*tuple(row)) if row is not None else None

    def open_deliveries(self) -> list[Delivery]:
        with self._lock:
            rows = self._db.execute(
                self._deliveries + "FROM deliveries WHERE state IN ('intent', 'written', 'ticket') ORDER BY id"
            ).fetchall()
        return [Delivery(*tuple(r)) for r in rows]

    def leftover_temps(self) -> list[tuple[int, str, str, str]]:
        """(delivery id, the PDF's temp path, its final path, what) of the temp files that may be
        ours though no delivery is open: ``pdf``, an attempt given up ("aborted") whose temp file
        is not known to be gone (its removal failed, or a crash came first); ``ticket``, the job
        ticket's of a PDF published whose ticket's write failed and may have left it (``ticket_left``:
        review GW 1, not where another sender's file under its name kept it from being written). Not
        the temp names of deliveries published or cleared: a file under such a name now is another
        sender's (review GV 1: another instance's or a script's upload under the name of a job
        delivered long ago was removed, and a print lost)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, temp_path, final_path, 'pdf' FROM deliveries WHERE state = 'aborted' "
                "UNION ALL SELECT d.id, d.temp_path, d.final_path, 'ticket' "
                "FROM tickets_left t JOIN deliveries d ON d.id = t.delivery_id"
            ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]

    def ticket_left(self, delivery_id: int) -> None:
        """The job ticket of this delivery (its PDF published) failed, and may have left its temp file."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO tickets_left (delivery_id) VALUES (?)", (delivery_id,))

    def temps_cleared(self, delivery_ids: Sequence[int], now: datetime, tickets: Sequence[int] = ()) -> None:
        """The attempts given up whose temp files are known to be gone ("cleared"): a file under
        their temp name from now on is not ours."""
        if not delivery_ids and not tickets:
            return
        with self.transaction() as db:
            db.executemany(
                "UPDATE deliveries SET state = 'cleared', finished_at = ? WHERE id = ? AND state = 'aborted'",
                [(iso(now), delivery_id) for delivery_id in delivery_ids],
            )
            db.executemany("DELETE FROM tickets_left WHERE delivery_id = ?", [(ticket,) for ticket in tickets])

    def temp_written_before(self, temp_path: str, delivery_id: int) -> bool:
        """Whether a delivery other than ``delivery_id`` may have written ``temp_path`` and left it:
        one open, or given up without its temp file known to be gone (not one published: its temp
        file was renamed, and a file of that name now is another sender's: review GV 2)."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM deliveries WHERE temp_path = ? AND id != ? "
                "AND state IN ('intent', 'written', 'ticket', 'aborted') LIMIT 1",
                (temp_path, delivery_id),
            ).fetchone()
        return row is not None

    def temp_of_another_job(self, temp_path: str, delivery_id: int) -> str | None:
        """The job, other than ``delivery_id``'s, whose delivery naming ``temp_path`` is not decided
        yet (its copy may be complete, its rename asked for and not known to have happened: a hot
        folder that stopped answering), or None. That temp file is its until its journal entry is
        reconciled: removed by another job's copy, it would then count as renamed, published."""
        with self._lock:
            row = self._db.execute(
                "SELECT job_id FROM deliveries WHERE temp_path = ?1 AND state IN ('intent', 'written', 'ticket') "
                "AND job_id != (SELECT job_id FROM deliveries WHERE id = ?2) ORDER BY id LIMIT 1",
                (temp_path, delivery_id),
            ).fetchone()
        return None if row is None else str(row[0])

    def published_delivery(self, job_id: str, generation: int) -> Delivery | None:
        """The delivery that published this generation of the job's output, if one did."""
        with self._lock:
            row = self._db.execute(
                self._deliveries
                + "FROM deliveries WHERE job_id = ? AND generation = ? AND state = 'published' ORDER BY id DESC",
                (job_id, generation),
            ).fetchone()
        return Delivery(*tuple(row)) if row else None

    def earlier_finals(self, job_id: str, generation: int) -> frozenset[str]:
        """The hot-folder paths the job's earlier generations (before a reprint) were published to."""
        with self._lock:
            rows = self._db.execute(
                "SELECT final_path FROM deliveries WHERE job_id = ? AND generation < ? AND state = 'published'",
                (job_id, generation),
            ).fetchall()
        return frozenset(str(row[0]) for row in rows)

    # -- the output file as checked ----------------------------------------------------------

    def set_output_sig(self, job_id: str, sig: str) -> None:
        """What the job's output file was (inode, size, mtime) when ``OutputCreated`` was recorded."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO outputs (job_id, file_sig) VALUES (?, ?)", (job_id, sig))

    def output_sig(self, job_id: str) -> str | None:
        """``set_output_sig``'s value (None for an output made before this was recorded)."""
        with self._lock:
            row = self._db.execute("SELECT file_sig FROM outputs WHERE job_id = ?", (job_id,)).fetchone()
        return str(row[0]) if row else None

    def set_rerouted(self, job_id: str, was: str | None) -> None:
        """The hot folder a config reload's routes took away from a job not delivered yet (None:
        no longer so): its CopyToHotFolderSkipped says so, after a restart too (audit BP 2)."""
        with self.transaction() as db:
            if was is None:
                db.execute("DELETE FROM rerouted WHERE job_id = ?", (job_id,))
            else:
                db.execute("INSERT OR REPLACE INTO rerouted (job_id, was) VALUES (?, ?)", (job_id, was))

    def rerouted(self) -> dict[str, str]:
        """Every ``set_rerouted`` entry: job id -> the hot folder it was going to."""
        with self._lock:
            return {str(job_id): str(was) for job_id, was in self._db.execute("SELECT job_id, was FROM rerouted")}

    # -- intakes ----------------------------------------------------------------------------

    def intake(self, key: str) -> tuple[bool, str] | None:
        """(completed, order_id) of a manifest intake with this key, or None."""
        with self._lock:
            row = self._db.execute("SELECT completed, order_id FROM intakes WHERE key = ?", (key,)).fetchone()
        return (bool(row[0]), row[1]) if row else None

    def record_intake(self, key: str, path: str, order_id: str, now: datetime, *, completed: bool = False) -> None:
        """``completed``: nothing of it is to be finished (a refused folder drop's manifest, noted so
        that the folder it came in is known as one a manifest came in, with ``REFUSED_INTAKE`` for
        its order: not one taken in)."""
        # Durable: the job's artwork leaves the inbox right after this commit, and its manifest
        # after the job's first run; a power loss must not leave them in a job folder the ledger
        # does not know (the next intake starts such a folder afresh).
        with self.transaction(durable=True) as db:
            db.execute(
                "INSERT OR REPLACE INTO intakes (key, path, order_id, at, completed) VALUES (?, ?, ?, ?, ?)",
                (key, path, order_id, iso(now), int(completed)),
            )

    def last_intake_from(self, path: str) -> tuple[str, str] | None:
        """(order id, time) of the newest manifest taken in from ``path``, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT order_id, at FROM intakes WHERE path = ? AND order_id != ? ORDER BY at DESC LIMIT 1",
                (path, REFUSED_INTAKE),
            ).fetchone()
        return (row[0], row[1]) if row else None

    def order_taken_in(self, folder: str) -> str | None:
        """The order of the newest manifest taken in from directly inside ``folder``, if any."""
        low, high = folder + "/", folder + "0"
        with self._lock:
            row = self._db.execute(
                "SELECT order_id FROM intakes WHERE path >= ? AND path < ? AND instr(substr(path, ?), '/') = 0 "
                "AND order_id != ? ORDER BY at DESC LIMIT 1",
                (low, high, len(low) + 1, REFUSED_INTAKE),
            ).fetchone()
        return str(row[0]) if row else None

    def manifest_taken(self, digest: str, order_id: str) -> bool:
        """Whether a manifest of these bytes (``digest``: its sha256) was taken in for ``order_id``
        before (the intake's key begins with it)."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM intakes WHERE key >= ? AND key < ? AND order_id = ? LIMIT 1",
                (digest + ":", digest + ";", order_id),  # (";" follows ":")
            ).fetchone()
        return row is not None

    def intake_under(self, folder: str) -> bool:
        """Whether a manifest was ever taken in from inside ``folder`` (an inbox folder drop)."""
        low, high = folder + "/", folder + "0"  # "0" follows "/": every path below the folder
        with self._lock:
            row = self._db.execute("SELECT 1 FROM intakes WHERE path >= ? AND path < ? LIMIT 1", (low, high)).fetchone()
        return row is not None

    def complete_intake(self, key: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE intakes SET completed = 1 WHERE key = ?", (key,))

    def pending_intakes(self) -> list[tuple[str, str]]:
        with self._lock:
            rows = self._db.execute("SELECT key, path FROM intakes WHERE completed = 0").fetchall()
        return [(r[0], r[1]) for r in rows]

    # -- operator drops ---------------------------------------------------------------------

    def drop_outcome(self, token: str, outcome: str, message: str, now: datetime) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO drops (token, job_id, action, outcome, message, at) VALUES (?, '', '', ?, ?, ?) "
                "ON CONFLICT (token) DO UPDATE SET outcome = excluded.outcome, message = excluded.message, "
                "at = excluded.at",
                (token, outcome, message, iso(now)),
            )

    def prune_drops(self, before: datetime) -> int:
        """Forgets the outcomes of operator actions older than ``before`` (their files are long gone)."""
        with self.transaction() as db:
            cur = db.execute("DELETE FROM drops WHERE outcome IS NOT NULL AND at < ?", (iso(before),))
            return int(cur.rowcount or 0)

    def set_last_action(self, job_id: str, text: str) -> None:
        """The operator's last action on the job and its answer, as STATUS.txt shows it."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO last_actions (job_id, text) VALUES (?, ?)", (job_id, text))

    def set_kept_by_hand(self, job_id: str, folder: str | None) -> None:
        """Where a finished job's folder is that retention found moved or renamed by hand, and
        left (None: no longer so): a folder dragged into inbox/ goes back there, also after a
        restart (review IB 1, IC 1)."""
        with self.transaction() as db:
            if folder is None:
                db.execute("DELETE FROM kept_by_hand WHERE job_id = ?", (job_id,))
            else:
                db.execute("INSERT OR REPLACE INTO kept_by_hand (job_id, folder) VALUES (?, ?)", (job_id, folder))

    def kept_by_hand(self, job_id: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT folder FROM kept_by_hand WHERE job_id = ?", (job_id,)).fetchone()
        return str(row[0]) if row else None

    def last_action(self, job_id: str) -> str | None:
        try:
            with self._lock:
                row = self._db.execute("SELECT text FROM last_actions WHERE job_id = ?", (job_id,)).fetchone()
        except sqlite3.OperationalError:
            return None  # a read-only ledger of an older version, without the table
        return str(row[0]) if row else None

    def drop_result(self, token: str) -> tuple[str, str] | None:
        with self._lock:
            row = self._db.execute("SELECT outcome, message FROM drops WHERE token = ?", (token,)).fetchone()
        if row is None or row[0] is None:
            return None
        return row[0], row[1]


def _entry(r: sqlite3.Row) -> HistoryEntry:
    return HistoryEntry(r[0], JobStatus(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8])


def _shifted(stamp: str | None, by: timedelta) -> str | None:
    """A time stamp as written in the ledger, moved by ``by`` (kept where that leaves the years a
    datetime holds)."""
    if stamp is None:
        return None
    try:
        return iso(parse_iso(stamp) + by)
    except (ValueError, OverflowError):
        return stamp


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    """The names of ``table``'s columns (none where there is no such table)."""
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def _light_job_from_row(r: sqlite3.Row) -> Job:
    """A job read without its history (a row of ``_LIGHT_COLUMNS``)."""
    return _job_from_row(r, (), complete=False, current=(JobStatus(r["status"]), bool(r["blocked"])))


def _job_from_row(
    r: sqlite3.Row,
    history: tuple[HistoryEntry, ...],
    *,
    complete: bool = True,
    current: tuple[JobStatus, bool] | None = None,
) -> Job:
    return Job(
        job_id=r["job_id"],
        order_id=r["order_id"],
        customer=r["customer"],
        product=r["product"],
        quantity=r["quantity"],
        hot_folder=r["hot_folder"],
        attributes=json.loads(r["attributes"] or "{}"),
        manifest_name=r["manifest_name"],
        process_after=r["process_after"],
        stage=Stage(r["stage"]),
        folder=r["folder"],
        output=r["output"],
        output_pages=r["output_pages"],
        output_size=r["output_size"],
        preflight=json.loads(r["preflight"]) if r["preflight"] else None,
        route=r["route"],
        attempts=r["attempts"],
        next_attempt_at=r["next_attempt_at"],
        awaiting_until=r["awaiting_until"],
        generation=r["generation"],
        error=r["error"],
        recreate=r["recreate"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        history=history,
        history_complete=complete,
        current=current,
    )


def _source_key(source: str | None) -> str | None:
    """The ``source_key`` column: the ``name_key`` of the awaited file's name (``Ledger.waiting_as``)."""
    return None if source is None else name_key(source.rpartition("/")[2])


def _add_temp_folders(db: sqlite3.Connection) -> None:
    """Adds the deliveries' ``temp_folder`` column to a ledger made before it had one (its rows
    keep NULL: nothing to compare with after a crash, as before)."""
    if "temp_folder" not in _columns(db, "deliveries"):
        db.execute("ALTER TABLE deliveries ADD COLUMN temp_folder TEXT")


def _add_removed_after(db: sqlite3.Connection) -> None:
    """Adds the history's ``removed_after`` column to a ledger made before it had one (its removed
    entries keep NULL: what came before them is told by their times, as before)."""
    if "removed_after" not in _columns(db, "history"):
        db.execute("ALTER TABLE history ADD COLUMN removed_after INTEGER")


def _add_source_keys(db: sqlite3.Connection) -> None:
    """Adds the ``source_key`` column (and its index) to a ledger made before it had one, and fills
    it in for the artwork awaited without one (also rows an older daemon wrote since)."""
    missing = "source_key" not in _columns(db, "artwork")
    unkeyed = "SELECT job_id, position, source FROM artwork WHERE source IS NOT NULL AND source_key IS NULL"
    if missing or db.execute(unkeyed + " LIMIT 1").fetchone() is not None:
        db.execute("BEGIN IMMEDIATE")
        try:
            if missing:
                db.execute("ALTER TABLE artwork ADD COLUMN source_key TEXT")
            db.executemany(
                "UPDATE artwork SET source_key = ? WHERE job_id = ? AND position = ?",
                [(_source_key(source), job_id, position) for job_id, position, source in db.execute(unkeyed)],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    db.execute("CREATE INDEX IF NOT EXISTS artwork_source_key ON artwork (source_key)")
