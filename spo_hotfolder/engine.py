"""The pipeline: intake, preflight, output, hold, delivery, operator actions, and crash recovery.

One engine thread does all the work, one step at a time, so a job is never handled twice at once.
Other threads only give it hints (the watcher: "this path changed"; the scheduler: "wake up").
Every change of status goes through ``_record``, which writes the ledger, logs the event and
rewrites the job's STATUS.txt. Stages raise a few named exceptions; ``_run_job`` is the one place
where an unexpected exception becomes a failed, recoverable job instead of a dead daemon.

Order of writes (what a crash can interrupt, and how ``reconcile`` finishes it):
- a manifest: job folders and manifest copies, then one ledger transaction, then the inbox file
  is removed (an intake row tells a re-read manifest from a new one);
- a move between spool folders: the ledger's stage first, then the rename, then the folder column;
- a delivery: journal "intent", copy to the temp name + fsync, journal "written", rename, record.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fnmatch
import functools
import hashlib
import itertools
import json
import math
import os
import re
import shutil
import sqlite3
import stat
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import structlog

from spo_hotfolder.clock import Clock, iso, later, parse_iso
from spo_hotfolder.config import Config, HotFolderConfig
from spo_hotfolder.delivery import (
    DeliveryError,
    MountPoints,
    RouteDecision,
    RouteFacts,
    TempInTheWay,
    check_hot_folder,
    check_name_free,
    decide_blocking,
    decide_route,
    explain_os_error,
    folder_id,
    is_our_temp,
    other_folder,
    output_name,
    publish,
    publish_sidecar,
    render_filename,
    temp_path_for,
    ticket_temp_path,
    write_temp,
)
from spo_hotfolder.digests import Key as FileKey
from spo_hotfolder.digests import identity, sha256_of
from spo_hotfolder.fsutil import (
    NAME_MAX,
    Flusher,
    atomic_write,
    fit_name,
    fsync_dir,
    fsync_file,
    into_history,
    move,
    name_key,
    readable,
    safe_folder_name,
    safe_name,
    stamp,
    take,
    undecodable,
    unique_path,
    write_new,
)
from spo_hotfolder.ledger import STAGE_AREA, TERMINAL, Artwork, Delivery, Job, Ledger, Stage, is_disk_full
from spo_hotfolder.manifest import (
    MANIFEST_NAMES,
    MANIFEST_SUFFIXES,
    MAX_MANIFEST_BYTES,
    UPLOAD_SUFFIXES,
    JobSpec,
    Manifest,
    ManifestError,
    artwork_names,
    cut_yaml_line,
    keeps_copy,
    parse_manifest,
    reprint_sent_twice,
    sent_again,
    several_manifests,
    several_manifests_problem,
    upload_beside,
    upload_suffix,
    upload_target,
)
from spo_hotfolder.operator import (
    ACTION_ORDER,
    Action,
    DropNote,
    classify_drop,
    clean_name,
    clean_note,
    fingerprint,
    parse_drop,
    pending_commands,
    refusal,
)
from spo_hotfolder.outputfile import OutputError, OutputResult, link_unchanged
from spo_hotfolder.pdfreport import (
    LENGTH_SLACK,
    TRIM_BEYOND_PAGE,
    TRIM_OFF_PAGE,
    ArtworkInput,
    Finding,
    PreflightReport,
    declared_length,
    describe_exception,
    not_a_pdf,
)
from spo_hotfolder.pdfwork import CHECKER
from spo_hotfolder.reports import (
    WHAT_NOW,
    Extra,
    artwork_listing,
    error_text,
    human_days,
    human_seconds,
    status_text,
)
from spo_hotfolder.shares import Pending, ShareGuard
from spo_hotfolder.stability import FileStabilityTracker, Signature, open_for_writing, signature
from spo_hotfolder.status import JobStatus

log = structlog.get_logger("spo_hotfolder.engine")

#: The files the daemon itself keeps at the top of a job folder (besides its manifest.*).
JOB_FOLDER_FILES = frozenset({"STATUS.txt", "ERROR.txt"})
#: The folders the daemon keeps in a job's folder.
JOB_SUBFOLDERS = frozenset({"artwork", "output", "history", "replace"})
#: How an inbox folder the daemon cannot change is made writable for it (log line and ERROR.txt).
UNWRITABLE_FIX = "uploads with umask 0002; Samba: create mask 0664, directory mask 2775; or chmod g+w"
SYMLINK_PROBLEM = (
    "{name} is a symbolic link, not a file: the daemon does not follow links (one could point at any file "
    "on the server); put the file itself"
)
#: A manifest the daemon itself fails on (a fault of ours, not a problem it can name in the file)
#: is tried this many times, then put into failed/ with an explanation instead of staying for good.
MANIFEST_FAULTS = 3
#: OSErrors that say a name is wrong (too long, not valid on that filesystem), not that the disk
#: failed: the same on every try, so a manifest they stop counts them as faults.
NAME_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL})
SYSTEM = "system"


#: While jobs run, STATUS.txt files are rewritten at most this often (and whenever the engine
#: goes idle): a job passing through in a few milliseconds gets one write, not one per step.
STATUS_FLUSH_SECONDS = 0.5
#: How often the attempts whose rename into a hot folder is unconfirmed are looked at again.
UNDECIDED_LOOK_SECONDS = 30.0
#: A check begun at intake (Engine._begin_early_check) whose job has not been processed after this
#: long (its artwork changed, say) no longer keeps the next new job from having its own.
EARLY_CHECK_HOLD_SECONDS = 2.0
#: While a queue of jobs runs, the worker checks the next job ahead: the first of this many queued
#: after the current one that is waiting to be processed (the rest are being delivered, say).
PREFETCH_LOOKAHEAD = 4
#: One artwork file this big, to be printed as it is, is copied into its hot folder's temp name
#: while its check runs (``_prestage``): the copy and the check's read and sha256 of the file
#: then take the time of the longer of the two, not of both. A smaller file gains nothing.
PRESTAGE_MIN_BYTES = 32 * 1024 * 1024
#: An artwork file this big that settles in the inbox is handed to the PDF worker at once, which
#: reads it for its sha256 while the file waits for its manifest (``digests``): the check then
#: need not read it again (~0.8 s per GiB here). Below this, the read costs the check little.
HASH_AHEAD_MIN_BYTES = 32 * 1024 * 1024
#: The name of a refused copy of a job's folder in failed/ ends so: never the job's own name.
COPY_SUFFIX = " (copy, not used)"
#: How soon a file whose intake failed for a full spool disk is tried again.
DISK_FULL_RETRY_SECONDS = 5.0
#: How many refused manifests, of at most how many bytes, are kept in memory to name the one an
#: unclaimed file came with (_refused_naming).
REFUSED_KEPT = 500
REFUSED_KEPT_BYTES = 64 * 1024
#: STATUS.txt's first line, "Job <id>  (order ...)": names the job a folder renamed by hand holds.
_STATUS_HEADER = re.compile(r"^Job (\S+)  \(order ")


class PdfService(Protocol):
    def check(self, artwork: Any, product_name: Any, spec: Any, validation: Any) -> tuple[PreflightReport, bool]: ...

    def build_output(
        self, artwork: Any, dest: Any, spec: Any, validation: Any, while_waiting: Callable[[], None] | None = None
    ) -> OutputResult: ...


@runtime_checkable
class EarlyCheckService(Protocol):
    """A PDF service that can run a check while the engine goes on (the worker process)."""

    def begin_check(self, artwork: Any, product_name: Any, spec: Any, validation: Any) -> Any: ...

    def finish_check(self, pending: Any) -> tuple[PreflightReport, bool]: ...


@runtime_checkable
class HashAheadService(Protocol):
    """A PDF service that can read a file for its sha256 before its check (the worker process)."""

    def hash_ahead(self, path: str) -> None: ...

    def ahead_moved(self, before: os.stat_result, after: os.stat_result) -> None: ...


@dataclass(frozen=True, slots=True)
class _PdfCan:
    """``Engine._pdf_can``: the PDF service, and it again where it can do each of these."""

    pdf: object
    early: EarlyCheckService | None
    ahead: HashAheadService | None


class Metrics(Protocol):
    def status_recorded(self, status: JobStatus, hot_folder: str | None) -> None: ...

    def observe(self, what: str, seconds: float, hot_folder: str | None = None) -> None: ...

    def watcher_event(self) -> None: ...


class NoMetrics:
    """Used when ``metrics.listen`` is off: nothing is counted."""

    def status_recorded(self, status: JobStatus, hot_folder: str | None) -> None:
        return None

    def observe(self, what: str, seconds: float, hot_folder: str | None = None) -> None:
        return None

    def watcher_event(self) -> None:
        return None


def _file_token(st: os.stat_result, name: str, job_id: str, action: Action) -> str:
    """A drop file's identity for the ledger's record of operator actions: the same file (moved with
    its job's folder, or left by a crash) has the same token; any other has another: a new file, one
    moved or linked back (a rename or a link sets its ctime, which no user can set back), the same
    file dropped into another job. No device number: a network mount gets a new one at each mount."""
    return f"file:{job_id}:{action.value}:{st.st_ino}:{st.st_ctime_ns}:{st.st_mtime_ns}:{st.st_size}:{name}"


#: The statuses that say what became of a job's artwork (the last before a release tells whether
#: the release approved a made output).
_ARTWORK_WORDS = frozenset(
    {
        JobStatus.OutputCreated,
        JobStatus.ArtworkUploaded,
        JobStatus.RecreationRequested,
        JobStatus.OutputCreationFailed,
        JobStatus.ValidationFailed,
        JobStatus.OutputCreationStarted,
    }
)


def _release_used(history: Sequence[Any], release: Any) -> bool:
    """Whether a delivery (or a skip) came after ``release`` (a removed Blocked entry): it was
    used, and what comes now is new work (a reprint), judged by its own rules."""
    released_at = release.removed_at or ""
    return any(
        e.at > released_at and e.status in (JobStatus.InHotFolder, JobStatus.CopyToHotFolderSkipped) for e in history
    )


def _artwork_without_output(job: Job, history: Sequence[Any]) -> Any | None:
    """In ``history`` (the job's, or the part of it up to some moment): the ArtworkUploaded entry of
    new artwork that came after the job's output was last made and has no output yet, or None;
    also None for a job in failed/ and one whose first output is not made (a release of those
    approves in advance, as documented)."""
    if job.stage is Stage.FAILED:
        return None
    made = [i for i, e in enumerate(history) if e.status is JobStatus.OutputCreated]
    if not made:
        return None
    # (AwaitingData: a manifest sent again whose artwork is still on its way, audit AX 2)
    new = [e for e in history[made[-1] + 1 :] if e.status in (JobStatus.ArtworkUploaded, JobStatus.AwaitingData)]
    return new[-1] if new else None


#: A CLI command's token: the nanosecond it was staged, and a random part.
_COMMAND_TOKEN = re.compile(r"^(\d{19})-[0-9a-f]{12}$")


def _command_time(token: str) -> str | None:
    """When a CLI command was given (its token's time, as the history writes times), or None for
    a drop file's token or an older CLI token."""
    found = _COMMAND_TOKEN.match(token)
    if found is None:
        return None
    return iso(datetime.fromtimestamp(int(found[1]) / 1e9, tz=UTC))


#: An answer about a file in a job folder that is no drop file (_on_stray): its name.
_STRAY_ANSWER = re.compile(r"^\S+  (.+?): not a drop file, left alone\. ")


def _file_sig(path: Path) -> str:
    """A file's identity and version: inode, size, modification and change times. Overwriting it
    in place or replacing it (a new inode) changes it; moving its folder does not. The change time
    (ctime), which no program can set, catches an edit whose size and modification time were put
    back (audit A 2: `touch -r`, a sync tool keeping times); it also moves with a chmod or a link
    count, which _same_file then settles by the content's sha256."""
    st = os.stat(path)
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def _same_file(current: str, recorded: str, *, has_digest: bool) -> bool:
    """Whether ``current`` (_file_sig) is the file ``recorded``: all of it, where the content's
    sha256 can settle a difference; else (and for a signature recorded before the change time was
    part of it) its inode, size and modification time."""
    now, then = current.split(":"), recorded.split(":")
    if len(then) < 4 or not has_digest:
        return now[:3] == then[:3]
    return now == then


@dataclass(slots=True, eq=False)
class _Prestage:
    """A copy of a job's one artwork file into its hot folder's temp name, begun with its check
    and journalled as any copy is (the delivery's intent: after a crash, its temp file is removed
    and the job copies again). ``_deliver`` renames it into place once the check passed and the
    output, that same file, is recorded; in every other case it is cancelled and removed, within
    the same step of the job (``_run_job``)."""

    delivery_id: int
    generation: int
    hot_folder: str
    final: Path
    temp: Path
    artwork: Path
    key: FileKey  # the artwork's identity (dev, inode, size, mtime) when the copy began
    started: float  # (monotonic)
    pending: Pending[tuple[int, str]] | None = None  # the copy, until the engine has its outcome
    copied: bool = False  # complete in the temp file (fsynced)
    folder: str | None = None  # the temp file's folder then (delivery.folder_id)
    settled: bool = False  # taken by the delivery, or given up
    cancel: bool = False  # asked to stop between two chunks
    seconds: float = 0.0


class JobFailed(Exception):
    """The job cannot go on without the operator; it goes to failed/ with this explanation."""

    def __init__(self, status: JobStatus | None, reason: str, problems: list[str], fix: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.problems = problems
        self.fix = fix


@dataclass(frozen=True, slots=True)
class ActionResult:
    ok: bool
    message: str


#: How many arrival times _manifest_seen and _upload_began keep (the newest; jobs waiting for
#: artwork and uploads under way need them).
ARRIVALS_KEPT = 10_000


def _keep_newest(times: dict[Any, Any]) -> None:
    """Drops the oldest entries of an insertion-ordered dict beyond ARRIVALS_KEPT."""
    while len(times) > ARRIVALS_KEPT:
        del times[next(iter(times))]


def _artwork_missing_failure(inputs: Sequence[ArtworkInput]) -> JobFailed | None:
    """ValidationFailed "artwork file missing from the job folder" for the inputs not there."""
    missing = [i.name for i in inputs if not os.path.isfile(i.path)]
    if not missing:
        return None
    return JobFailed(
        JobStatus.ValidationFailed,
        "artwork file missing from the job folder: " + ", ".join(missing),
        [f"artwork/{name} is not there" for name in missing],
        "Put the artwork into replace/ (same file name), or drop REJECT here.",
    )


#: The hidden name of a folder in failed/ being put together for a refused input (``<pid>-<n>.<name>``).
REFUSAL_PREFIX = ".spo-hotfolder-refusal."
_REFUSAL_IDS = itertools.count(1)
#: A folder drop's ERROR.txt, written whole in its folder (an ignored name) before the folder moved.
_REFUSAL_ERROR_WHOLE = re.compile(r"^\.spo-hotfolder-ERROR\.\d+\.tmp$")
#: That ERROR.txt, or atomic_write's temp of it: ours by name, never a file of the folder's client.
_REFUSAL_ERROR_ANY = re.compile(r"^\.\.?spo-hotfolder-ERROR\.\d+\.tmp(\.\d+\.tmp)?$")
#: atomic_write's temp of a refusal's ERROR.txt or manifest copy: not the manifest (a refusal cut short).
_REFUSAL_TEMP = re.compile(r"^\.(ERROR\.txt|.+\.(json|ya?ml))\.\d+\.tmp$", re.I)


class Engine:
    def __init__(
        self,
        config: Config,
        ledger: Ledger,
        clock: Clock,
        pdf: PdfService | None = None,
        *,
        schedule_wakeup: Callable[[datetime], None] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.clock = clock
        self.pdf = pdf
        self.metrics: Metrics = metrics or NoMetrics()
        self._schedule_wakeup = schedule_wakeup or (lambda when: None)
        # ctimes are compared with the injected clock's wall time (a test's fake clock then decides,
        # not how long the test took to write its files).
        self.tracker = FileStabilityTracker(
            config.watch.settle_seconds, clock.monotonic, wall=lambda: clock.now().timestamp()
        )
        self._hints: dict[Path, tuple[bool, float]] = {}  # path -> (moved in, when last seen)
        self._folder_moves: list[tuple[Path, Path]] = []  # folders renamed in the watched trees: (old, new)
        self._hint_lock = threading.Lock()
        self.wake_event = threading.Event()
        self.stop_event = threading.Event()
        self._pending_config: Config | None = None
        self._rescan_requested = True
        self._scan: Iterator[Path] | None = None  # the scan in progress, done in slices
        self._scan_started = 0.0
        self._scan_count = 0
        self._retention_requested = True
        self._orphans: dict[Path, tuple[float, Signature]] = {}  # stable inbox files no manifest claimed
        # When the next of them is due (_check_orphans; monotonic): the engine wakes for it, so a
        # file goes to failed/ at artwork_timeout_seconds, not up to a wait's 5 s later.
        self._orphans_next = math.inf
        #: jobs whose artwork is there only under a name alike (case, Unicode form): taken then
        #: (monotonic), unless the file of the very name comes first (_claim_for_job)
        self._near_later: dict[str, float] = {}
        # Jobs whose artwork was moved into their folder but whose ledger mark failed (a full
        # disk): marked at a later step (_mark_unmarked), not only at the next start.
        self._unmarked: set[str] = set()
        #: manifests refused from the top of inbox/: (monotonic, failed/ folder, text), oldest first
        self._refused_manifests: collections.deque[tuple[float, str, bytes]] = collections.deque(maxlen=REFUSED_KEPT)
        #: files at the top of inbox/ that jobs wait for, held a moment after they began to arrive
        #: (_claim): path -> (until, first seen, signature), monotonic times
        self._held_for_owner: dict[Path, tuple[float, float, Signature]] = {}
        self._started_wall = clock.now().timestamp()  # (files older than this waited before the start)
        #: inbox files there before the start: how long they had waited (_waited_before_start),
        #: counted once the start's backlog is taken (their manifest may be in it)
        self._waited_before: dict[Path, float] = {}
        self._start_backlog_over = False
        self._scans_done = 0
        self._listings: dict[Path, list[str]] | None = None  # folders listed in this round (_listed)
        #: Inbox files a manifest named that were not taken yet (_claim_for_job): looked at by the
        #: next _take_stable, not behind a backlog
        self._named: set[Path] = set()
        self._answered_elsewhere: set[Path] = set()  # replacements in folders that are no job's, said once
        self._whole_hinted: set[tuple[Path, Signature]] = set()  # orphans looked at by _hint_whole_again
        # Notes in STATUS.txt about such a file: withdrawn once it is gone (_withdraw_whole_notes).
        self._whole_notes: dict[Path, list[tuple[str, str, Signature]]] = {}
        self._manifest_faults: dict[Path, int] = {}  # manifests the daemon failed on, and how often
        self._arriving: dict[str, float] = {}  # waiting jobs to look at again (monotonic time)
        #: When the manifest of a job taken in this run was first seen (its upload, not its intake,
        #: which waits settle_seconds for a file written in place): to tell which order a file of a
        #: name jobs of several orders wait for belongs to (_owner_order). The newest few only.
        self._manifest_seen: dict[str, datetime] = {}
        #: Inbox files being uploaded under a temporary name: (that name, when it was first seen).
        self._upload_began: dict[Path, tuple[str, float]] = {}
        self._strays: dict[Path, Signature] = {}  # unknown files in job folders, already answered
        self._bad_name_targets: dict[Path, Path] = {}  # inbox entries not UTF-8 -> their failed/ folder
        self._unwritable: dict[Path, tuple[int, int, int]] = {}  # inbox folders said not writable
        self._not_removed: set[Path] = set()  # taken manifests whose inbox name could not go (said once)
        self._consumed_dirs: set[Path] = set()  # inbox subfolders whose manifest we took
        # Those found empty: since when (monotonic) and their mtime then (_quiet_and_empty)
        self._empty_since: dict[Path, tuple[float, int]] = {}
        self._cleanup_at = math.inf  # (monotonic) when the first of them has been quiet long enough
        self._moved_specials: dict[Path, Path] = {}  # inbox links (and pipes...) moved to failed/
        #: Links (and pipes...) inside a folder drop whose manifest is there: left for the manifest's
        #: intake to decide, and looked at again once it has (``_special_in_folder_drop``).
        self._deferred_specials: dict[Path, int] = {}
        # Manifests taken in (their jobs durably in the ledger), still to be removed from the inbox:
        # (intake key, path, the file's signature when read; None: remove nothing, only mark the
        # intake complete). See _finish_intakes.
        self._unfinished: list[tuple[str, Path, Signature | None]] = []
        # New jobs' folders whose manifest copy is not on disk yet, nor their history/ made: (job id,
        # the copy's name, the manifest's bytes to check it against (after a restart), or None).
        # Done by _finish_intakes before any manifest leaves the inbox; off a job's path to its
        # hot folder (two fsyncs and a directory: ~0.5 ms of a ~6 ms job here).
        self._unsynced: list[tuple[str, str, bytes | None]] = []
        self._disk_full_at = -math.inf  # monotonic time the spool was last found full
        self._disk_full_said = -math.inf  # ... and said so in the log
        self._cut_off_held: dict[Path, Signature] = {}  # manifests held once as maybe still being written
        # Refused folder drops waiting to go to failed/ whole (monotonic): unchanged since when, what
        # they held then, first refused when
        self._refused_arriving: dict[Path, tuple[float, tuple[Any, ...], float]] = {}
        self._repeat_held: dict[Path, Signature] = {}  # manifests sent again, held once for their artwork
        self._cooldown: dict[str, float] = {}  # job_id -> monotonic time before which it is not retried
        # Jobs a restart found sent on with a REJECT in their operator folder (_reject_first), and
        # until when (monotonic) they wait for it to be read.
        self._reject_first_until: dict[str, float] = {}
        # Jobs going on from work/ with a drop file in their folder there (_work_drops_first), and
        # until when (monotonic) they wait for it to be read.
        self._work_drops_until: dict[str, float] = {}
        self._job_dirs: dict[str, tuple[Path, Path]] = {}  # recorded folder -> (root, its path); see job_dir
        #: the operator's last action per job and its answer (STATUS.txt), kept in the ledger too
        self._last_action: dict[str, str | None] = {}
        self._noted: dict[str, float] = {}  # job -> when its last operator answer was given (monotonic)
        self._finished: set[str] = set()  # jobs just moved to done/ or rejected/: _answer_leftovers
        self._answering_drops = False
        #: job -> the hot folder a reload's routes took away (kept in the ledger too: set_rerouted)
        self._rerouted: dict[str, str] = ledger.rerouted()
        self.flusher = Flusher()
        # A check begun ahead of its job's turn (_begin_early_check at intake, _begin_next_check
        # while the queue runs): (what it depends on, the call, when begun).
        self._early_check: tuple[tuple[Any, ...], Any, float] | None = None
        self._queue_running = False  # _run_jobs is working through a queue of jobs
        self._new_only = False  # _meanwhile: only manifests of new jobs and artwork are taken in
        #: manifests of known jobs waiting for drop files in their folders (first seen, monotonic)
        self._manifest_held: dict[Path, float] = {}
        self._pdf_can_cached: _PdfCan | None = None  # see _pdf_can
        self._digests: dict[FileKey, str] = {}  # (dev, inode, size, mtime) -> sha256
        self._prestaged: dict[str, _Prestage] = {}  # job id -> its copy begun with its check (_prestage)
        self._dirty: set[str] = set()  # jobs whose STATUS.txt is to be rewritten
        self._status_flushed_at = clock.monotonic()
        self._commands_dir: tuple[Path, Path] | None = None  # (state folder, its commands/)
        self._ignore_re: tuple[tuple[str, ...], re.Pattern[str]] | None = None
        self._dirs_seen: dict[str, tuple[int, int]] = {}  # job folders as of the last rescan
        self.last_step_at = clock.monotonic()
        # The engine thread's last sign of life (a step, a job, a chunk of a copy): a file
        # operation that never returns (a hung share) stops it, and the health check says so.
        self.progress_at = clock.monotonic()
        self.busy_job: str | None = None
        # Every file system call into a hot folder, on that hot folder's own thread with a time
        # limit: a share that stops answering fails its jobs' attempts, not the daemon (SPEC 8).
        self.shares = ShareGuard(
            config.delivery.share_timeout_seconds, on_answer=self._share_answers, stop=self.stop_event
        )
        self._answered: set[str] = set()  # hot folders answering again, whose cut-short attempts are looked at
        self._undecided_looked_at = clock.monotonic()
        self._undecided_said: set[int] = set()  # deliveries whose "undecided" was logged
        # Hot folders seen as shares' mount points (an unmounted share leaves an empty local folder).
        self.mount_points = MountPoints(store=config.paths.state / "mount-points.txt")

    # -- inputs from other threads ------------------------------------------------------------

    def hint(self, path: Path, moved_in: bool = False) -> None:
        """Called from the watcher thread: ``path`` changed. Never raises, never blocks for long."""
        seen = self.clock.monotonic()  # when the change was seen: settle counts from here
        with self._hint_lock:
            earlier = self._hints.get(path)
            self._hints[path] = ((earlier is not None and earlier[0]) or moved_in, seen)
        self.metrics.watcher_event()
        self.wake_event.set()

    def folder_moved(self, old: Path, new: Path) -> None:
        """Called from the watcher thread: a folder was renamed from ``old`` to ``new``."""
        with self._hint_lock:
            self._folder_moves.append((old, new))
        self.wake_event.set()

    def _share_answers(self, name: str) -> None:
        """(a hot folder's thread) A call into hot folder ``name`` that was given up on has returned."""
        with self._hint_lock:
            self._answered.add(name)
        self.wake()

    def _look_again_at_answering(self) -> None:
        """Hot folders answering again: each attempt cut short there is told from the files now, not
        at the job's next attempt (which may be never, in failed/): a rename that happened late is
        recorded InHotFolder at once (the job, in work/ or failed/, goes to done/, its ticket
        written), one that did not is journalled as such; a temporary file of ours left by a copy
        given up on is removed."""
        with self._hint_lock:
            names, self._answered = self._answered, set()
        now = self.clock.now()

        def look(delivery: Any) -> None:
            with contextlib.suppress(DeliveryError):  # (it does not answer after all: looked at later)
                self._reconcile_delivery(delivery, now)

        prestaged = {pre.delivery_id for pre in self._prestaged.values()}
        for delivery in self.ledger.open_deliveries():
            if delivery.hot_folder in names and delivery.id not in prestaged:
                self._guard("delivery", delivery.job_id, lambda d=delivery: look(d))  # type: ignore[misc]
                if delivery.state == "written" and self.ledger.undecided_delivery(delivery.job_id) is None:
                    self._dirty.add(delivery.job_id)  # (decided: STATUS.txt says what now)
                    self._guard("delivery", delivery.job_id, lambda d=delivery: self._did_not_arrive(d, now))  # type: ignore[misc]
        self._guard("delivery", "", lambda: self.sweep_temp_files(only=names))

    def _did_not_arrive(self, delivery: Any, now: datetime) -> None:
        """A job in failed/ whose ERROR.txt said "Wait: ... may still arrive", now known not to have
        arrived (the rename had not happened): ERROR.txt says so, and what to do (audit CM 4)."""
        job = self.ledger.get_job(delivery.job_id, history=False)
        if job is None or job.stage is not Stage.FAILED:
            return  # (arrived: done/; or a job that tries again by itself)
        name = Path(delivery.final_path).name
        reason = (
            f"the copy into hot folder {delivery.hot_folder} failed: {name} did not arrive there (its rename into "
            "it, which had not returned, did not happen)"
        )
        self.ledger.update_job(job.job_id, now, error=reason)
        folder = self._locate(job)
        if folder is not None:
            atomic_write(
                folder / "ERROR.txt",
                error_text(
                    f"Job {job.job_id} (order {job.order_id}) needs attention: {reason}",
                    [job.error or reason],
                    "Fix the cause (is the share's server up, the share mounted?), then drop a file named RETRY "
                    "here. Drop REJECT to stop the job.",
                ),
            )
        log.info("delivery.did_not_arrive", job_id=job.job_id, order_id=job.order_id, file=name)

    def wake(self) -> None:
        self.wake_event.set()

    def request_rescan(self) -> None:
        self._rescan_requested = True
        self.wake_event.set()

    def request_retention(self) -> None:
        self._retention_requested = True
        self.wake_event.set()

    def set_config(self, config: Config) -> None:
        """A reloaded config, applied at the start of the next step (never in the middle of a job)."""
        self._pending_config = config
        self.wake_event.set()

    def stop(self) -> None:
        self.stop_event.set()
        self.wake_event.set()

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> None:
        """The engine thread: reconcile, then steps until stopped."""
        self.reconcile()
        while not self.stop_event.is_set():
            try:
                self.step()
            except Exception as exc:
                if is_disk_full(exc):
                    self._spool_full_said(exc)
                else:
                    log.exception("engine.step_failed", action="the engine goes on in 1 s")
                self.stop_event.wait(1.0)
            self.wake_event.wait(self._wait_seconds())
            self.wake_event.clear()
        self._guard("intake", "", self._finish_intakes)
        self._guard("delivery", "", self._remove_unfinished_temps)

    def _remove_unfinished_temps(self) -> None:
        """At a stop: the temp files of copies begun and not finished (journalled as begun, not
        "written") go now, not at the next start's sweep (README: a daemon stopping removes them at
        once). Every path that gives a copy up removes its own (a copy begun with a check is given
        up by ``_run_job`` as it ends); this is the net under them (audit: one such file, seen once
        in ~35 stops during big copies, until the next start)."""
        for delivery in self.ledger.open_deliveries():
            hot = self.config.hot_folders.get(delivery.hot_folder)
            if delivery.state != "intent" or hot is None or self.shares.silent_since(hot.name) is not None:
                continue
            temp = Path(delivery.temp_path)
            # (a hot folder whose thread is still in a call that has not returned: left to the start)
            with contextlib.suppress(OSError, DeliveryError, RuntimeError):
                self.shares.call(hot, f"the removal of {temp}", lambda t=temp: t.unlink(missing_ok=True))  # type: ignore[misc]

    def _wait_seconds(self) -> float:
        if self._scan is not None:
            return 0.0  # a scan is under way: go on with it
        due = self.tracker.next_due()
        later = [until for until, _, _ in self._held_for_owner.values()] + list(self._near_later.values())
        if self._cleanup_at < math.inf:
            later.append(self._cleanup_at)  # (an emptied order folder to remove once quiet)
        if self._orphans_next < math.inf:
            later.append(self._orphans_next)
        if self._cooldown:
            # A job held back a moment (its drop files read first, a busy ledger, a full disk) goes
            # on when that moment ends, not at the next heartbeat (audit 12-05 K: 5 s late).
            now = self.clock.monotonic()
            self._cooldown = {job_id: until for job_id, until in self._cooldown.items() if until > now}
            later.extend(self._cooldown.values())
        if later:
            due = min(later) if due is None else min(due, *later)
        if due is None:
            return 5.0
        return max(0.0, min(5.0, due - self.clock.monotonic()))

    def step(self) -> None:
        """One round: hints, rescans, stable files, due timers, runnable jobs."""
        self.last_step_at = self.progress_at = self.clock.monotonic()
        if self._pending_config is not None:
            self._apply_config(self._pending_config)
        self._drain_hints()
        self._scan_some(budget=0.1)
        # Short rounds while a scan goes on (thousands of files waiting at start): the first jobs
        # run after a few orders are in, not after a quarter of a second of them.
        self._take_stable(budget=0.05 if self._scan is not None else 0.25)
        if self._deferred_specials:
            self._guard("intake", "", self._requeue_specials)
        if self._held_for_owner:
            self._guard("intake", "", self._hand_over_held)
        if self._near_later:
            self._guard("intake", "", self._take_near_later)
        if self._unmarked:
            self._guard("intake", "", self._mark_unmarked)
        if self._arriving:
            self._guard("intake", "", self._note_arriving)
        self._guard("intake", "", self._check_orphans)
        self._guard("due", "", self._run_due)  # (a full disk: the jobs due are tried at the next step)
        if self.clock.monotonic() >= self._cleanup_at:
            self._guard("intake", "", self._cleanup_consumed_dirs)
        mono = self.clock.monotonic()
        if mono - self._undecided_looked_at >= UNDECIDED_LOOK_SECONDS:
            # Attempts cut short that no hot folder's thread will report on (cut short before a
            # restart; a share unmounted and mounted again): looked at again from time to time.
            self._undecided_looked_at = mono
            for delivery in self.ledger.open_deliveries():
                if delivery.state in ("written", "ticket") and self.shares.silent_since(delivery.hot_folder) is None:
                    with self._hint_lock:
                        self._answered.add(delivery.hot_folder)
        if self._answered:
            self._look_again_at_answering()
        self._run_jobs()
        self._guard("intake", "", self._finish_intakes)
        if self._retention_requested:
            self._retention_requested = False
            self._guard("retention", "", self.run_retention)
            # Hourly too: a temp file left in a hot folder that was out of reach at the last start
            # (an unmounted share) is removed once the share is back.
            self._guard("retention", "", self.sweep_temp_files)
        if self._finished:
            self._guard("drop", "", self._answer_leftovers)
        self._guard("status", "", self.flush_status)

    def _guard(self, what: str, subject: str, fn: Callable[[], object]) -> None:
        """No exception from one file or job may stop the engine."""
        try:
            fn()
        except Exception as exc:
            if is_disk_full(exc):
                # Nothing was recorded (a failed commit leaves nothing behind): tried again later,
                # a file in a few seconds (not only at the next rescan). Files waiting for a manifest
                # count their artwork_timeout_seconds from now (_check_orphans): the manifest that
                # names them may be one that could not be taken in.
                if what == "file":
                    self.tracker.hold(Path(subject), DISK_FULL_RETRY_SECONDS)
                elif what == "drop" and subject:
                    self._drops_again(Path(subject))
                self._spool_full_said(exc, what=what, subject=subject)
                return
            log.exception("engine.unexpected_error", what=what, subject=subject)

    def _drops_again(self, where: Path) -> None:
        """The drop files in the job folder ``where`` (or beside the file ``where``), whose handling
        a full disk stopped: looked at again in a few seconds. Nothing else would read them: the
        tracker gave them out, and a rescan skips a folder unchanged since the last one (audit U2 1:
        a RETRY dropped into failed/ on a full disk was never acted on once there was space)."""
        folder = where if where.is_dir() else where.parent
        self._dirs_seen.pop(str(folder), None)
        for name in self._drop_files_in(folder):
            self.tracker.hold(folder / name, DISK_FULL_RETRY_SECONDS)

    def files_arriving(self) -> int:
        """(any thread) How many files the engine has seen and not taken in yet: settling, or
        waiting in a backlog (a dict's length, read without the engine's lock)."""
        return len(self.tracker)

    def spool_full(self) -> bool:
        """Whether the spool disk was found full within the last few retries (for the status line)."""
        return self.clock.monotonic() - self._disk_full_at < DISK_FULL_RETRY_SECONDS * 3

    def _spool_full_said(self, exc: BaseException, **where: str) -> None:
        """The spool disk found full: noted (files waiting for a manifest count from now), and said
        in the log once per half minute while it lasts."""
        now = self.clock.monotonic()
        self._disk_full_at = now
        if now - self._disk_full_said < DISK_FULL_RETRY_SECONDS * 6:
            return
        self._disk_full_said = now
        log.error(
            "spool.disk_full",
            **where,
            root=str(self.config.paths.root),
            error=describe_exception(exc),
            reason="the disk holding the spool folders or the ledger is full: nothing new can be taken in "
            "or recorded until there is space; free some space, the daemon tries again by itself",
        )

    def _apply_config(self, config: Config) -> None:
        self._pending_config = None
        old, self.config = self.config, config
        self.tracker.settle_seconds = config.watch.settle_seconds
        self.shares.silence = config.delivery.share_timeout_seconds
        log.info("config.applied", source=str(config.source))
        self._rescan_requested = True
        self._guard("config", "", lambda: self._refresh_routes(old))

    def _refresh_routes(self, old: Config | None) -> None:
        """After a reload (``old``: the config before it), or at start (None: the config may have
        been edited while the daemon was stopped): the recorded route of every job not delivered
        yet is the one the routes give now (delivery decides again anyway), so that `show`, `jobs`
        and STATUS.txt ("Drop RELEASE here to send this job to ...") say where it will go, not
        where it would have; what changes is said (audit T 1: at start it was not). A job whose
        route is not decided yet (waiting for its artwork or its date) is told too, where the
        reload takes away the hot folder its manifest names or the routes gave it (audit T 2)."""
        now = self.clock.now()
        reloaded = old is not None
        config_was = "the reloaded config" if reloaded else "the config (edited while the daemon was stopped)"
        routes_were = (
            "the reloaded config's routes" if reloaded else "the config's routes, edited while the daemon was stopped,"
        )
        for job_id in self.ledger.job_ids([s for s in Stage if s not in TERMINAL]):
            job = self.ledger.get_job(job_id, history=False)
            if job is None or self.ledger.published_delivery(job_id, job.generation):
                continue  # the PDF is in its hot folder already (its ticket waits)
            facts = self.facts(job)
            decision = decide_route(facts, self.config)
            target = decision.target
            named = decision.hot_folder
            if named is not None and named not in self.config.hot_folders and job.stage is not Stage.FAILED:
                self._dirty.add(job_id)  # STATUS.txt says so (audit BT 5)
                log.warning(
                    "job.hot_folder_removed",
                    job_id=job_id,
                    order_id=job.order_id,
                    hot_folder=named,
                    reason=f"this job's manifest names hot folder {named}, which {config_was} does not have: its "
                    "delivery fails (into failed/) unless the hot folder is added again; add it and reload, then "
                    "drop RETRY in the job's folder if it failed meanwhile",
                )
            route = job.route
            if route is None:
                if old is None:
                    continue  # no route decided yet, none to compare with
                route = decide_route(facts, old).target
                if route == target:
                    continue
                if target != "skip":
                    # Recorded when it is decided (at its output); its STATUS.txt ("Goes to: ...") and
                    # the log say the new one now (README walk N2: STATUS.txt kept the old one).
                    self._dirty.add(job_id)
                    self._note_action(
                        job_id,
                        f"{iso(now)}  config reloaded: this job now goes to hot folder {target} (it was going to "
                        f"{route})",
                    )
                    log.info("job.route_changed", job_id=job_id, order_id=job.order_id, old=route, new=target)
                    continue
            if target != route:
                with self.ledger.transaction():  # the route and why it changed: one commit
                    self.ledger.update_job(job_id, now, route=target)
                    self.ledger.set_rerouted(job_id, route if target == "skip" else None)
                    # Why its "last change" moved with no new status (STATUS.txt, show): the config.
                    where = "no hot folder (the routes say skip)" if target == "skip" else f"hot folder {target}"
                    changed = "config reloaded" if reloaded else "config edited while the daemon was stopped"
                    self._note_action(
                        job_id, f"{iso(now)}  {changed}: this job now goes to {where} (it was going to {route})"
                    )
                self._dirty.add(job_id)
                if target == "skip":
                    # A job on its way to a printer that the new routes send nowhere (a hot folder or
                    # route removed): it would be finished unprinted. Loud, and said when it happens.
                    self._rerouted[job_id] = route
                    log.warning(
                        "job.route_changed",
                        job_id=job_id,
                        order_id=job.order_id,
                        old=route,
                        new=target,
                        reason=f"{routes_were} send this job to no hot folder: it will not be printed "
                        f"(it was going to {route}); "
                        + (
                            "it is finished unprinted at its next step (CopyToHotFolderSkipped, into done/): if that "
                            "is not meant, change the routes back, reload, and send its manifest again with "
                            "reprint: true"
                            if job.stage in (Stage.DELIVER, Stage.RETRY)
                            else "change the routes back and reload if that is not meant"
                        ),
                    )
                else:
                    self._rerouted.pop(job_id, None)
                    log.info("job.route_changed", job_id=job_id, order_id=job.order_id, old=route, new=target)

    # -- paths ------------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        return self.config.paths.root

    def area(self, name: str) -> Path:
        folder = getattr(self.config.paths, name)
        return folder if isinstance(folder, Path) else Path(folder)

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def job_dir(self, job: Job) -> Path:
        root = self.root
        cached = self._job_dirs.get(job.folder)
        if cached is not None and cached[0] is root:
            return cached[1]
        folder = Path(job.folder)
        path = folder if folder.is_absolute() else root / folder
        if len(self._job_dirs) >= 4096:  # a few steps of each job in flight; paths are cheap to redo
            self._job_dirs.clear()
        self._job_dirs[job.folder] = (root, path)
        return path

    def ignored(self, name: str) -> bool:
        patterns = self.config.watch.ignore
        if self._ignore_re is None or self._ignore_re[0] is not patterns:
            # One compiled expression for all the patterns (a scan asks this for every name).
            joined = "|".join(fnmatch.translate(p.lower()) for p in patterns) or "(?!)"
            self._ignore_re = (patterns, re.compile(joined))
        return self._ignore_re[1].match(name.lower()) is not None

    def uploading(self, name: str) -> bool:
        """A name in replace/ that is an upload under way, never taken as a replacement: watch.ignore's,
        or an upload client's temporary name (``UPLOAD_SUFFIXES``: WinSCP's x.pdf.filepart, which
        the default watch.ignore does not list). In inbox/, watch.ignore alone decides (SPEC 8)."""
        return self.ignored(name) or name.lower().endswith(UPLOAD_SUFFIXES)

    def commands_dir(self) -> Path:
        state = self.area("state")
        if self._commands_dir is None or self._commands_dir[0] is not state:
            self._commands_dir = (state, state / "commands")
        return self._commands_dir[1]

    def _order_key(self, path: Path) -> tuple[int, str]:
        # Data files before manifests (so a manifest finds artwork that became stable in the same
        # round), and drop files in a stable order.
        kind = self._classify(path)
        return ({"data": 0, "manifest": 1}.get(kind[0], 2), str(path))

    def _classify(self, path: Path) -> tuple[str, Path | None]:
        """("manifest"|"data"|"drop"|"replace"|"stray"|"buried"|"misplaced"|"command"|"ignore", job folder).

        Plain string work on normalized paths (a scan classifies every file it sees)."""
        text = str(path)
        parts = _rel_parts(text, str(self.area("inbox")))
        if parts is not None:
            if not parts or any(self.ignored(part) for part in parts):
                return ("ignore", None)
            if len(parts) == 1 and parts[0].lower().endswith(MANIFEST_SUFFIXES):
                return ("manifest", None)
            if len(parts) == 2 and parts[1].lower() in MANIFEST_NAMES:
                return ("manifest", None)
            return ("data", None)
        parts = _rel_parts(text, str(self.commands_dir()))
        if parts is not None:
            return ("command", None) if len(parts) == 1 and parts[0].endswith(".json") else ("ignore", None)
        parts = _rel_parts(text, str(self.area("work")))
        if parts is not None:
            # A drop file in the folder of a job waiting in work/ (for its artwork, its date, a copy
            # retry) acts as in quarantine/, as its command would (_work_drops_first).
            if len(parts) == 2 and not self.ignored(parts[1]) and classify_drop(parts[1]) is not None:
                return ("drop", self.area("work") / parts[0])
            return ("ignore", None)
        for area in ("quarantine", "failed"):
            parts = _rel_parts(text, str(self.area(area)))
            if parts is None:
                continue
            if any(self.ignored(part) for part in parts) or not parts:
                return ("ignore", None)
            if len(parts) == 1:
                # RELEASE dropped into quarantine/ itself, not into a job's folder: answered.
                return ("misplaced", None) if classify_drop(parts[0]) is not None else ("ignore", None)
            job_folder = self.area(area) / parts[0]
            if len(parts) == 2:
                if classify_drop(parts[1]) is not None:
                    return ("drop", job_folder)
                if parts[1] not in JOB_FOLDER_FILES and not parts[1].startswith("manifest."):
                    return ("stray", job_folder)
            if len(parts) == 3 and parts[1] == "replace":
                return ("ignore", None) if self.uploading(parts[2]) else ("replace", job_folder)
            if (
                len(parts) == 3
                and parts[1] in ("artwork", "output")
                and classify_drop(parts[2]) is not None
                and not parts[2].lower().endswith(".pdf")  # (artwork may be named release.pdf)
            ):
                return ("buried", job_folder)
            return ("ignore", None)
        return ("ignore", None)

    # -- hints, scans, stability --------------------------------------------------------------

    def _drain_hints(self) -> None:
        with self._hint_lock:
            hints, self._hints = self._hints, {}
            moves, self._folder_moves = self._folder_moves, []
        for old, new in moves:
            self._guard("intake", str(old), lambda o=old, n=new: self._on_folder_moved(o, n))  # type: ignore[misc]
        for path, (moved_in, seen) in hints.items():
            kind, job_folder = self._classify(path)
            if kind == "ignore":
                self._note_upload(path, seen)
                continue
            if kind in ("drop", "replace") and job_folder is not None and _is_folder(path):
                self._guard("drop", str(path), lambda f=job_folder, p=path: self._on_drop_folder(f, p))  # type: ignore[misc]
                continue
            if kind == "stray" and job_folder is not None and _is_folder(path):
                self._guard("drop", str(path), lambda f=job_folder, p=path: self._on_folder_inside(f, p))  # type: ignore[misc]
                continue
            self._orphans.pop(path, None)
            if kind == "data" and path.name.lower().endswith(UPLOAD_SUFFIXES):
                self._note_upload(path, seen)  # x.pdf.filepart, which watch.ignore does not list (CC 4)
            began = self._upload_start(path) if kind == "data" else None
            self.tracker.track(path, activity=True, complete=moved_in, seen=seen, began=began)

    def _on_folder_moved(self, old: Path, new: Path) -> None:
        """A folder in the inbox renamed while jobs wait for artwork in it (audit E 3: an operator's
        "New folder" renamed to the order's name while its PDF was still being copied in): the files
        are awaited under the new name, and the folder is removed once emptied as before. (Polling
        tells a rename by the folder's inode and files: FolderPoller._renamed.)"""
        inbox = self.area("inbox")
        if inbox not in old.parents or inbox not in new.parents:
            return
        for folder in [f for f in self._consumed_dirs if f == old or old in f.parents]:
            self._consumed_dirs.discard(folder)
            self._consumed_dirs.add(new / folder.relative_to(old))
        jobs = self.ledger.move_awaited(str(old), str(new))
        if not jobs:
            return
        log.info("inbox.folder_renamed", old=self.rel(old), new=self.rel(new), jobs=jobs)
        for job_id in jobs:
            self._note_action(
                job_id,
                f"its folder {self.rel(old)} was renamed {self.rel(new)}: its artwork is awaited there",
            )
            self._write_status(job_id)

    def _note_upload(self, path: Path, seen: float) -> None:
        """An ignored inbox name that is an upload client's temporary name for a file (rsync's
        ``.x.pdf.Ab12Cd``, WinSCP's ``x.pdf.filepart``): when that upload was first seen, which is
        when ``x.pdf`` began to arrive (_owner_order; audit CA 1: the rename's time was taken)."""
        target = upload_target(path)
        if target is None or not str(path).startswith(str(self.area("inbox"))):
            return
        known = self._upload_began.get(target)
        if known is not None and known[0] == path.name:
            return  # the same upload going on (or resumed under its name, as WinSCP does)
        # Another temporary name: another upload (rsync's random suffix), whatever came before it
        # (an upload cut off: its time must not date this one, audit CC 3).
        self._upload_began.pop(target, None)
        self._upload_began[target] = (path.name, seen)
        _keep_newest(self._upload_began)  # (uploads never finished: the oldest go)

    def _upload_start(self, path: Path) -> float | None:
        """When the upload of ``path`` under a temporary name was first seen (once: it is over)."""
        began = self._upload_began.pop(path, None)
        return began[1] if began is not None else None

    def rescan(self) -> None:
        """The truth behind the events: every candidate file in the watched folders (all at once)."""
        self._scan = None
        self._rescan_requested = True
        self._scan_some(budget=None)

    def _scan_some(self, budget: float | None) -> None:
        """Goes on with the scan in progress (or starts the requested one) for ``budget`` seconds.

        A scan is done in slices: with 20,000 files waiting at start, the first of them are taken
        (and delivered) while the rest are still being listed."""
        if self._scan is None:
            if not self._rescan_requested:
                return
            self._rescan_requested = False
            if self._scans_done:  # (the first: reconcile did it)
                self._guard("intake", "", self._recover_refusals)
            self._scan = self._scan_files()
            self._scan_started = time.monotonic()
            self._scan_count = 0
        deadline = None if budget is None else time.monotonic() + budget
        for index, path in enumerate(self._scan):
            if path in self._orphans:
                continue
            if self._classify(path)[0] in ("ignore", "stray", "buried"):
                continue
            if path not in self.tracker:
                self.tracker.track(path, activity=False, began=self._upload_start(path))
                self._scan_count += 1
            if deadline is not None and index % 64 == 63 and time.monotonic() > deadline:
                return
        self._scan = None
        self._scans_done += 1
        log.debug("scan.done", new_files=self._scan_count, seconds=round(time.monotonic() - self._scan_started, 3))

    def _scan_files(self) -> Iterator[Path]:
        for folder in (self.area("inbox"), self.commands_dir(), self.area("quarantine"), self.area("failed")):
            yield from self._walk(folder)
        yield from self._work_drop_files()

    def _work_drop_files(self) -> Iterator[Path]:
        """Drop files in the job folders of work/, which no event reports: work/ is not watched (the
        daemon's own writes there, a few files a job, would wake it for nothing). A job waiting
        there (for its artwork, its date, a copy retry) has its drop files read at each rescan, and
        before it goes on (_work_drops_first). A job folder unchanged since the last rescan costs a
        stat, not a listing."""
        try:
            entries = list(os.scandir(self.area("work")))
        except OSError:
            return
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False) or not self._changed_since_scan(entry):
                    continue
            except OSError:
                continue
            folder = Path(entry.path)
            yield from (folder / name for name in self._drop_files_in(folder))

    def _changed_since_scan(self, entry: os.DirEntry[str]) -> bool:
        """Whether a folder's mtime or inode is not what the last scan saw (a file added, removed or
        renamed in it changes its mtime); remembered for the next."""
        st = entry.stat(follow_symlinks=False)
        key = (st.st_mtime_ns, st.st_ino)
        if self._dirs_seen.get(entry.path) == key:
            return False
        if len(self._dirs_seen) > 200_000:
            self._dirs_seen.clear()
        self._dirs_seen[entry.path] = key
        return True

    def _drop_files_in(self, folder: Path) -> list[str]:
        """The names of the drop files (regular files) in a job's folder."""
        names = []
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                if classify_drop(entry.name) is None or self.ignored(entry.name):
                    continue
                with contextlib.suppress(OSError):
                    if entry.is_file(follow_symlinks=False):
                        names.append(entry.name)
        return names

    def descend_rule(self, folder: Path) -> Callable[[int, str], bool]:
        """Which sub-folders of a watched folder a scan (and the poller) looks into: the whole inbox
        tree (up to 8 folders deep); in quarantine/ and failed/ each job folder and its replace/; in
        state/commands/ none."""
        if folder == self.area("inbox"):
            return _inbox_depth
        if folder in (self.area("quarantine"), self.area("failed")):
            return _job_folder_depth
        return _top_only

    def _walk(self, folder: Path) -> Iterable[Path]:
        skip_unchanged = folder in (self.area("quarantine"), self.area("failed"))
        yield from self._walk_tree(folder, self.descend_rule(folder), skip_unchanged=skip_unchanged)

    def _walk_tree(
        self, folder: Path, descend: Callable[[int, str], bool], depth: int = 0, *, skip_unchanged: bool = False
    ) -> Iterable[Path]:
        """``skip_unchanged``: a sub-folder whose mtime and inode are those of the last scan is not
        listed again (a drop file added or renamed in it changes its mtime): thousands of job folders
        waiting in quarantine/ cost a stat each per rescan, not a listing."""
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        if skip_unchanged and depth == 1 and not {"replace", "STATUS.txt"} <= {e.name for e in entries}:
            self._mend_job_folder(folder)
        for entry in entries:
            if self.ignored(entry.name):
                continue
            try:
                if not entry.is_dir(follow_symlinks=False):
                    yield Path(entry.path)  # files, and links and pipes, which the tracker sets apart
                elif descend(depth, entry.name):
                    if skip_unchanged and not self._changed_since_scan(entry):
                        continue
                    yield from self._walk_tree(Path(entry.path), descend, depth + 1, skip_unchanged=skip_unchanged)
                elif skip_unchanged and depth == 1 and entry.name not in JOB_SUBFOLDERS:
                    inner = Path(entry.path)  # a folder in a job's folder: another job's, dragged in?
                    self._guard("drop", entry.path, lambda f=folder, p=inner: self._on_folder_inside(f, p))  # type: ignore[misc]
            except OSError:
                continue

    def _mend_job_folder(self, folder: Path) -> None:
        """A job folder in quarantine/ or failed/ (seen changed by a scan) without its replace/ or
        STATUS.txt, deleted in a file explorer: made again (SPEC 4: every such folder has a
        replace/; STATUS.txt tells the operator what they can do)."""
        job = self._job_of_folder(folder)
        if job is None or job.stage not in (Stage.HELD, Stage.FAILED):
            return
        made = []
        if not os.path.lexists(folder / "replace"):
            try:
                (folder / "replace").mkdir()
                made.append("replace/")
            except OSError as exc:
                log.warning("job_folder.mend_failed", job_id=job.job_id, folder=self.rel(folder), error=str(exc))
        if not os.path.lexists(folder / "STATUS.txt"):
            self._dirty.add(job.job_id)
            made.append("STATUS.txt")
        if made:
            log.info("job_folder.mended", job_id=job.job_id, folder=self.rel(folder), made=made)

    def _take_stable(self, budget: float = 0.25, limit: int = 1000) -> None:
        """Handles every file that is complete now. Drop files of one job are handled together."""
        while self.tracker.specials:
            path, mode = self.tracker.specials.popitem()
            if self._classify(path)[0] in ("manifest", "data"):
                if undecodable(str(path)):
                    self._guard("file", readable(str(path)), lambda p=path: self._on_bad_name(p))  # type: ignore[misc]
                    continue
                self._guard("file", str(path), lambda p=path, m=mode: self._on_special(p, m))  # type: ignore[misc]
        stable = sorted(self.tracker.get_stable_files(limit=limit), key=lambda item: self._order_key(item[0]))
        if any(self._classify(path)[0] == "manifest" for path, _ in stable) and self.ledger.awaits_under(
            str(self.area("inbox"))
        ):
            # A file that jobs wait for already goes after this round's manifests: one of them may
            # name it too, and be the order it belongs to (_owner_order; both found at start).
            later = {
                path
                for path, _ in stable
                if self._classify(path)[0] == "data" and not undecodable(str(path)) and self._waiting(path)
            }
            if later:
                stable = [item for item in stable if item[0] not in later] + [i for i in stable if i[0] in later]
        drops: dict[Path, list[Path]] = {}
        deadline = time.monotonic() + budget
        self._listings = {}
        try:
            for index, (path, sig) in enumerate(stable):
                if self.stop_event.is_set() or time.monotonic() > deadline:
                    # A backlog (thousands of files at start) is taken in slices, so that deliveries
                    # begin at once; the rest stays known as complete for the next round.
                    for rest, _ in stable[index:]:
                        self.tracker.track(rest, activity=False, complete=True)
                    break
                kind, job_folder = self._classify(path)
                if undecodable(str(path)):
                    self._guard("file", readable(str(path)), lambda p=path: self._on_bad_name(p))  # type: ignore[misc]
                elif kind == "drop" and job_folder is not None:
                    drops.setdefault(job_folder, []).append(path)
                else:
                    self._guard("file", str(path), lambda p=path, s=sig: self._on_stable(p, s))  # type: ignore[misc]
        finally:
            self._listings = None
        for job_folder, paths in drops.items():
            self._guard("drop", str(job_folder), lambda f=job_folder, ps=paths: self._on_drops(f, ps))  # type: ignore[misc]
        if self._named:
            # The artwork this round's manifests named, complete already (there before them: a
            # backlog at start, a rescan) is taken now, after all of the round's manifests (one of
            # them may name it too: _owner_order), rather than in its turn behind the backlog; its
            # job then runs at once (with 10,000 orders waiting at start, nearly every job was
            # taken in before its PDF, and waited for it).
            named = sorted(p for p in self._named if self._classify(p)[0] == "data" and not undecodable(str(p)))
            self._named = set()
            for path, sig in self.tracker.stable_among(named):
                self._guard("file", str(path), lambda p=path, s=sig: self._on_stable(p, s))  # type: ignore[misc]

    def _manifest_fault(self, path: Path, exc: Exception) -> None:
        """A manifest the daemon failed on (a fault of ours, not one it can name in the file): put
        into failed/ after MANIFEST_FAULTS tries, so that it does not stay in the inbox for ever."""
        log.exception("manifest.internal_error", manifest=str(path))
        faults = self._manifest_faults[path] = self._manifest_faults.get(path, 0) + 1
        if faults >= MANIFEST_FAULTS and path.exists():
            del self._manifest_faults[path]
            self._reject_manifest(
                path,
                path.parent != self.area("inbox"),
                [
                    f"the daemon failed on this manifest ({type(exc).__name__}: {exc}); that is a fault in "
                    "the daemon, not one it can name in the file: tell the administrator (the daemon's log "
                    "has the details)"
                ],
                fault=True,
            )

    def _new_failed_folder(self, name: str) -> Path:
        """A free path in failed/ for a folder named after an input that is no job (a bad manifest,
        files no manifest claimed): ``name``, else ``name-2``, ``name-3`` ..., never a job's id
        (audit, clients F2: order folder L5's leftovers went to failed/L5-2/, beside the delivered
        job L5-2)."""
        return unique_path(
            self.area("failed") / safe_folder_name(name),
            shunned=lambda taken: self.ledger.get_job(taken, history=False) is not None,
        )

    def _on_stable(self, path: Path, sig: Signature) -> None:
        kind, job_folder = self._classify(path)
        if kind == "manifest":
            try:
                self.take_manifest(path)
            except (OSError, sqlite3.OperationalError) as exc:
                if not (isinstance(exc, OSError) and exc.errno in NAME_ERRNOS):
                    raise  # the disk or a busy ledger: the manifest stays and is taken at the next look
                # A name no filesystem call takes (too long, not valid there): the same on every try.
                self._manifest_fault(path, exc)
            except Exception as exc:  # noqa: BLE001 - a fault of ours must not wedge the manifest in the inbox
                self._manifest_fault(path, exc)  # (logged there, with its traceback)
        elif kind == "data":
            # On disk in the background from now (fsutil.Flusher): the fsync before OutputCreated
            # then finds nothing left to write (a 1-page PDF: ~1 ms less per job, here).
            self.flusher.submit(path)
            if sig[0] >= HASH_AHEAD_MIN_BYTES and (ahead := self._ahead()) is not None:
                ahead.hash_ahead(str(path))
            if not self._claim(path, sig) and path not in self._orphans:
                self._orphans[path] = (self.clock.monotonic(), sig)
                self._orphans_next = min(self._orphans_next, self.clock.monotonic() + self._whole_wait())
                if not self._start_backlog_over and (waited := self._waited_before_start(path)) > 0:
                    self._waited_before[path] = waited
        elif kind == "replace" and job_folder is not None:
            self._on_replace(job_folder, path)
        elif kind == "command":
            self._on_command(path)
        elif kind == "stray" and job_folder is not None:
            self._on_stray(job_folder, path, sig)
        elif kind == "buried" and job_folder is not None:
            self._on_buried_drop(job_folder, path, sig)
        elif kind == "misplaced":
            self._on_misplaced_drop(path)

    def _on_bad_name(self, path: Path) -> None:
        """A name that is not UTF-8 (a legacy FTP client, a Samba share set to another charset):
        neither the ledger nor the manifests can name it. In the inbox, the entry goes to
        ``failed/`` (its folder, if it came in one, as one ``failed/<folder>/``) with an ERROR.txt;
        in a job folder, it is left alone and STATUS.txt says so, once."""
        kind, job_folder = self._classify(path)
        shown = readable(path.name)
        if kind in ("manifest", "data"):
            inbox = self.area("inbox")
            parts = _rel_parts(str(path), str(inbox)) or [path.name]
            top = inbox / parts[0]
            target = self._failed_folder_for(top, remember=True)
            dest = target / Path(*parts[1:]) if len(parts) > 1 else target / path.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            move(path, dest)
            names = sorted(readable(p.relative_to(target).as_posix()) for p in target.rglob("*") if p.is_file())
            names = [n for n in names if n != "ERROR.txt"]
            atomic_write(
                target / "ERROR.txt",
                error_text(
                    f"{readable(self.rel(top))} arrived in the inbox with a name that is not UTF-8.",
                    [
                        "the daemon reads file names as UTF-8, as manifests name them; this name was written in "
                        "another character set (a Windows FTP client or a Samba share set to another charset), so "
                        "no manifest can name it and it was not taken",
                        "read as Windows-1252 it is: " + ", ".join(names),
                    ],
                    "Rename it to a UTF-8 name (as shown above, or plain ASCII) and put it back into inbox/; so that "
                    "it does not happen again, set the client (FTP: UTF-8 option) or the share (Samba: "
                    "'unix charset = UTF-8') to UTF-8.",
                ),
            )
            log.warning("inbox.name_not_utf8", file=readable(str(path)), folder=self.rel(target))
            if path.parent != inbox:
                self._consumed_dirs.add(path.parent)
            self._cleanup_consumed_dirs()
            return
        if job_folder is None or kind == "command" or undecodable(job_folder.name):
            return  # a folder in quarantine/ or failed/ whose own name is not UTF-8 is no job's
        job = self._job_to_answer(job_folder, path)
        if job is None:
            return
        where = "replace/" if path.parent.name == "replace" else ""
        message = (
            f"{where}{shown}: its name is not UTF-8 (written by a client or share set to another character set), "
            "so it was left alone. Rename it to a plain name"
            + (" (a replacement PDF: e.g. artwork.pdf)" if where else " (RELEASE, REJECT or RETRY)")
        )
        self._note_action(job.job_id, f"{iso(self.clock.now())}  {message}")
        log.warning("operator.name_not_utf8", job_id=job.job_id, file=readable(path.name))
        self._write_status(job.job_id)

    def _on_special(self, path: Path, mode: int) -> None:
        """An inbox entry that is no file (a FIFO, a socket, a device, a symbolic link to a folder or
        to nothing) never becomes one: it goes to failed/ with an ERROR.txt at once (SPEC 8: every
        file that entered inbox/ ends up somewhere, with a word to the operator). A symbolic link
        to a file goes the way of files (it is refused where it is read)."""
        try:
            st = os.lstat(path)
        except OSError:
            return
        if stat.S_ISDIR(st.st_mode) or stat.S_IFMT(st.st_mode) != stat.S_IFMT(mode):
            return  # changed meanwhile: the next event or scan sees what it is now
        if stat.S_ISLNK(st.st_mode) and path.is_file():
            return
        if self._special_in_folder_drop(path):
            self._deferred_specials[path] = mode
            return
        if stat.S_ISLNK(st.st_mode):
            what = "a symbolic link to a folder" if path.is_dir() else "a symbolic link to nothing"
            why = "the daemon never follows symbolic links (one could name any file on the server)"
        else:
            what = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket"}.get(
                stat.S_IFMT(st.st_mode), "a device"
            )
            why = f"nothing can be read from {what}: the daemon takes only files"
        target = self._new_failed_folder(path.name)
        target.mkdir(parents=True)
        moved = move(path, target / path.name)  # the entry itself: nothing is opened or followed
        atomic_write(
            target / "ERROR.txt",
            error_text(
                f"{self.rel(path)} arrived in the inbox, but it is {what}, not a file.",
                [why],
                f"Put the file itself into inbox/ (a copy, not a link). {moved.name} here can be removed.",
            ),
        )
        log.warning("inbox.not_a_file", path=str(path), kind=what, folder=self.rel(target))
        if len(self._moved_specials) > 1000:
            self._moved_specials.clear()
        self._moved_specials[path] = target  # a job that waits for a file through it says so
        if path.parent != self.area("inbox"):
            self._consumed_dirs.add(path.parent)
        self._cleanup_consumed_dirs()

    def _special_in_folder_drop(self, path: Path) -> bool:
        """``path`` is inside a folder drop that holds its manifest: the manifest decides first
        (audit 12-05 D 1: a link to a folder there was filed away at once, the manifest that named
        a file through it then taken, and its other jobs printed, where `route` and README say the
        whole folder drop is refused as naming an unsafe path). What the manifest leaves behind is
        filed away once it is taken or refused (``_requeue_specials``)."""
        inbox = self.area("inbox")
        parts = _rel_parts(str(path), str(inbox))
        if parts is None or len(parts) < 2:
            return False
        try:
            return any(name.lower() in MANIFEST_NAMES for name in os.listdir(inbox / parts[0]))
        except OSError:
            return False

    def _requeue_specials(self) -> None:
        """The deferred links of folder drops whose manifest has gone (taken, refused, removed):
        looked at again, as the watcher reported them."""
        for path, mode in list(self._deferred_specials.items()):
            if not self._special_in_folder_drop(path):
                del self._deferred_specials[path]
                self.tracker.specials[path] = mode

    def _job_to_answer(self, job_folder: Path, path: Path, sig: Signature | None = None) -> Job | None:
        """The job whose folder holds ``path`` (something there that is not acted on), if ``path``
        as it is now was not answered yet: each is said once in STATUS.txt, not at every event."""
        if sig is None:
            try:
                sig = signature(os.lstat(path))
            except OSError:
                return None
        if self._strays.get(path) == sig:
            return None
        self._strays[path] = sig
        job = self.ledger.get_job(job_folder.name, history=False)
        if job is None or self.job_dir(job) != job_folder:
            return None  # a folder of failed/ that is no job (a bad manifest, an unclaimed file)
        return job

    def _on_stray(self, job_folder: Path, path: Path, sig: Signature) -> None:
        """A file an operator put into a job folder that is no drop file (``RELAESE``, ``OK.txt``):
        left alone, and said so in STATUS.txt, once. Only events report these (scans skip them:
        nobody needs telling again at each rescan or start)."""
        job = self._job_to_answer(job_folder, path, sig)
        if job is None:
            return
        message = (
            f"{path.name}: not a drop file, left alone. Drop files are named RELEASE, REJECT or RETRY "
            "(any case, any extension); a replacement PDF goes into replace/"
        )
        self._note_action(job.job_id, f"{iso(self.clock.now())}  {message}")
        log.warning("operator.unknown_file", job_id=job.job_id, file=path.name)
        self._write_status(job.job_id)

    def _on_buried_drop(self, job_folder: Path, path: Path, sig: Signature) -> None:
        """A drop file put into the job's artwork/ or output/ (the operator was looking at the
        output in Explorer, audit BY 3): not read there, left alone, and STATUS.txt says where it
        goes, once. Only events report these, as for unknown files."""
        job = self._job_to_answer(job_folder, path, sig)
        if job is None:
            return
        where = path.parent.name
        message = (
            f"{where}/{path.name}: drop files are read only in the job's folder itself, not in {where}/: nothing "
            f"was done. Move it one level up, into {self.rel(job_folder)}/"
        )
        self._note_action(job.job_id, f"{iso(self.clock.now())}  {message}")
        log.warning("operator.drop_in_subfolder", job_id=job.job_id, file=f"{where}/{path.name}", reason=message)
        self._write_status(job.job_id)

    def _on_misplaced_drop(self, path: Path) -> None:
        """A drop file put into quarantine/ or failed/ itself, beside the job folders: it names no
        job, so it does nothing. Renamed to say so (the operator looks there, and a name that still
        reads RELEASE would look as if it were waiting to be acted on), its text kept; and logged."""
        if path.is_symlink() or not path.is_file():
            return
        area = path.parent.name
        answer = unique_path(
            path.with_name(fit_name(f"NOT USED - {path.name} - put it into a job's folder.txt")), keep_extension=True
        )
        try:
            os.replace(path, answer)
        except FileNotFoundError:
            return
        log.warning(
            "operator.drop_outside_job_folder",
            file=self.rel(path),
            renamed_to=answer.name,
            reason=(
                f"{path.name} was put into {area}/ itself, not into a job's folder, so it did nothing; "
                f"drop it into the folder of the job it is for ({area}/<job-id>/)"
            ),
        )

    def _on_folder_inside(self, job_folder: Path, path: Path) -> None:
        """A folder in a job's folder that is another job's own folder (its STATUS.txt names it, and
        its place is empty): dragged there by hand in a file explorer. Its drop files were never
        read there, and it would have travelled along with the outer job into done/ (audit:
        operators at scale). It is put back where its job is, and its files are looked at there.
        Any other folder there (the operator's own, a copy of a job's folder, one of a job whose
        folder retention removed) is left alone."""
        job = self._job_named_in(path)
        if job is None or job.stage is Stage.PURGED or not _is_folder(path):
            return  # (a job whose folder retention removed: a copy of it, never brought back)
        home = self.job_dir(job)
        if os.path.lexists(home) or not home.parent.is_dir():
            return
        os.replace(path, home)
        now = self.clock.now()
        self._note_action(
            job.job_id,
            f"{iso(now)}  this folder was found inside {self.rel(job_folder)}/ (moved there by hand?); the daemon "
            "put it back here, where drop files act",
        )
        self._write_status(job.job_id)
        log.warning(
            "job_folder.put_back",
            job_id=job.job_id,
            found_in=self.rel(job_folder),
            put_back_to=self.rel(home),
            reason="a job's own folder was inside another job's folder",
        )
        with contextlib.suppress(OSError):
            for entry in os.scandir(home):
                if entry.is_file(follow_symlinks=False):
                    self.hint(Path(entry.path), moved_in=True)  # a drop file in it acts here now

    def _on_drop_folder(self, job_folder: Path, path: Path) -> None:
        """A folder where a drop file or a replacement PDF goes (a "New folder" renamed RELEASE, a
        folder of artwork dragged into replace/): nothing is done, it is left alone, and STATUS.txt
        says why, once. Only events report these, as for unknown files."""
        job = self._job_to_answer(job_folder, path)
        if job is None:
            return
        if path.parent.name == "replace":
            message = (
                f"replace/{path.name} is a folder: nothing was done. Put the replacement PDF itself into "
                "replace/ (not a folder holding it)"
            )
        else:
            action = classify_drop(path.name)
            word = action.value if action is not None else path.name
            message = (
                f"{path.name} is a folder, not a file: nothing was done. Drop a file named {word} instead "
                f"(e.g. a text file renamed {word}.txt, its first line your name); this folder can be removed"
            )
        self._note_action(job.job_id, f"{iso(self.clock.now())}  {message}")
        log.warning("operator.folder_not_file", job_id=job.job_id, folder=path.name)
        self._write_status(job.job_id)

    # -- intake -----------------------------------------------------------------------------

    def take_manifest(self, path: Path) -> None:
        folder_manifest = path.parent != self.area("inbox")
        try:
            # Never through a symbolic link: it could name any file the daemon can read.
            # O_NONBLOCK: a named pipe put in place of the file must not hang the engine on open.
            with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as fh:
                data = fh.read(MAX_MANIFEST_BYTES + 1)
                st = os.fstat(fh.fileno())
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                self._reject_manifest(path, folder_manifest, [SYMLINK_PROBLEM.format(name=path.name)])
                return
            log.warning("manifest.unreadable", path=str(path), error=str(exc))
            return
        base = path.parent
        if not self._removable_from(base):
            return  # taken once the folder lets us: nothing recorded, the other orders go on
        key = hashlib.sha256(data).hexdigest() + ":" + self.rel(path)
        known = self.ledger.intake(key)
        if self._new_only and known is not None:
            self.tracker.track(path, activity=False, complete=True)  # not now (_meanwhile)
            return
        if known is not None and not known[0]:
            # Recorded before a crash, not yet removed from the inbox: finish that intake.
            self._recover_copies(data, path.name)
            self._unfinished.append((key, path, signature(st)))
            self._finish_intakes()
            return
        if folder_manifest:
            named = self._job_named_in(base)
            if named is not None:
                self._job_folder_in_inbox(named, base, path)
                return
        several = several_manifests(base) if folder_manifest else []
        if several:
            self._reject_manifest(path, folder_manifest, [several_manifests_problem(several)])
            return
        try:
            manifest = parse_manifest(
                data, path.name, tuple(self.config.hot_folders), base=base, ignore=self.config.watch.ignore
            )
        except ManifestError as exc:
            if exc.cut_off and self._held_as_cut_off(path, signature(st)):
                return
            # A last line perhaps cut short is said beside the other problems (audit, manifests 5:
            # fixing only those, "quantity: 5" of "quantity: 500" would then be taken).
            self._reject_manifest(path, folder_manifest, [*exc.problems, *cut_yaml_line(data, path.name)])
            return
        unusable = cut_yaml_line(data, path.name)
        if unusable:
            self._reject_manifest(path, folder_manifest, unusable)
            return
        if self._new_only and any(self.ledger.get_job(spec.job_id, history=False) for spec in manifest.jobs):
            # A known job's manifest may change the job being made right now: in its own time.
            self.tracker.track(path, activity=False, complete=True)
            return
        now = self.clock.now()
        plans: list[tuple[JobSpec, Job | None]] = []
        refused: list[tuple[JobSpec, str]] = []
        others: list[str] = []  # refused: the job id is another order's
        twins: dict[str, Delivery] = {}  # refused: the same reprint sent twice (the PDF it made waits)
        for spec in manifest.jobs:
            existing = self.ledger.get_job(spec.job_id, history=False)
            if existing is None:
                plans.append((spec, None))
            elif existing.order_id != manifest.order_id:
                # A job id names one job: another order's manifest never takes it over (its product,
                # quantity and artwork would replace those of an order it does not belong to).
                refused.append((spec, self._other_order_reason(existing)))
                others.append(spec.job_id)
            elif existing.stage in TERMINAL or self._pdf_delivered(existing):
                if manifest.reprint and (waiting := self._reprint_waiting(spec, existing, data, base)) is not None:
                    refused.append((spec, self._sent_twice_reason(existing, waiting)))
                    twins[spec.job_id] = waiting
                elif manifest.reprint:
                    plans.append((spec, existing))
                else:
                    refused.append((spec, self._already_done_reason(existing)))
            elif (undecided := self._delivery_undecided(existing, Action.REPLACE)) is not None:
                # (audit CM 1) its new artwork would be printed, or not, beside the old PDF that
                # may be printing already: said, and the manifest is to be sent again then.
                refused.append((spec, undecided.replace("; replace it then", "; send this manifest again then")))
            else:
                plans.append((spec, existing))
        if self._drops_waiting_for([existing for _, existing in plans if existing is not None], path):
            return
        if (
            plans
            and not refused
            and all(self._same_again(spec, existing, data, base, manifest) for spec, existing in plans)
        ):
            if self._held_for_artwork(path, signature(st)):
                return
            self._file_repeat(path, [existing for _, existing in plans if existing is not None], folder_manifest, data)
            return
        manifest_name = "manifest" + (".json" if manifest.format == "json" else ".yaml")
        if plans:
            try:
                self._record_manifest(manifest, plans, base, manifest_name, data, key, path, now)
            except Exception:
                # Nothing was recorded: the folders made for new jobs must not stay behind in work/.
                for spec, existing in plans:
                    if existing is None and self.ledger.get_job(spec.job_id, history=False) is None:
                        shutil.rmtree(self.area("work") / spec.job_id, ignore_errors=True)
                raise
        if refused:
            # No job taken: nothing is recorded, and the manifest itself goes with the refusal (a
            # crash before it is filed leaves it in inbox/, refused again at the next start).
            keep = None if plans else signature(st)
            self._refuse_jobs(path, data, manifest, refused, others, base, [spec for spec, _ in plans], twins, keep)
        # 3. The manifest is stored in the job folders and the ledger: it leaves the inbox after
        # the job's first run (_finish_intakes), or at once from a folder (which then goes too).
        if plans:
            self._unfinished.append((key, path, signature(st)))
            if folder_manifest:
                self._finish_intakes()  # before its folder is cleaned up
        if folder_manifest:
            self._consumed_dirs.add(base)
        seen = self.tracker.first_seen(path)
        if seen is not None:
            came = now - self._since(seen)
            for spec, _ in plans:
                self._manifest_seen[spec.job_id] = came
            _keep_newest(self._manifest_seen)
        for spec, _ in plans:
            job = self.ledger.get_job(spec.job_id, history=False)
            if job is not None:
                self._claim_for_job(job)
                if self._arriving_files(spec.job_id):
                    self._arriving[spec.job_id] = self.clock.monotonic() + self.config.watch.settle_seconds + 0.25
                self._wake_at_deadline(spec.job_id)
        self._cleanup_consumed_dirs()

    def _held_for_artwork(self, path: Path, sig: Signature) -> bool:
        """A blocked or failed job's manifest sent again byte for byte, no artwork beside it yet: an
        upload client sending the order again sends the manifest first, and the corrected PDF a
        moment later (rsync, WinSCP: under a temporary name until complete). The manifest waits,
        once, for settle_seconds (at least 1 s) before it counts as sent again without artwork."""
        return self._hold_once(self._repeat_held, path, sig, max(self.config.watch.settle_seconds, 1.0))

    def _held_as_cut_off(self, path: Path, sig: Signature) -> bool:
        """A manifest whose text ends inside it (``{"artwork": [{...}`` with the rest to come, a
        YAML flow mapping cut at a line break) looked complete to the stability rules: a writer
        that paused longer than settle_seconds (SPEC 8: no partial file is ever taken). It waits,
        once, until unchanged for the longer wait of incomplete-looking files (max(5 s, 5 x
        settle)); still the same then, it is refused as cut off."""
        wait = self.tracker.incomplete_pdf_seconds - self.config.watch.settle_seconds
        if not self._hold_once(self._cut_off_held, path, sig, wait):
            return False
        log.info("manifest.waiting_for_its_end", manifest=self.rel(path), seconds=round(wait, 1))
        return True

    def _hold_once(self, held: dict[Path, Signature], path: Path, sig: Signature, seconds: float) -> bool:
        """True, and ``path`` is looked at again in ``seconds``, the first time; False when it comes
        back unchanged (``held`` remembers it; a change starts afresh)."""
        if held.get(path) == sig:
            del held[path]
            return False
        if len(held) > 10_000:
            held.clear()
        held[path] = sig
        self.tracker.hold(path, max(seconds, 0.0))
        return True

    def _job_folder_in_inbox(self, job: Job, folder: Path, path: Path) -> None:
        """A job's folder (its STATUS.txt names it; a job not finished: blocked, failed, or in work/)
        dragged into inbox/, as if that tried the job again (audits AL 2, AQ 2): its manifest copy
        was taken as the job's manifest sent again, and the job waited an hour for artwork "beside"
        it, which lay in its artwork/. A job lives in its own folder: put back there if that is
        gone, else (a copy) refused at once; either way said where the operator looks. A copy of a
        finished job's folder (delivered, rejected), as if that printed it again, is refused at
        once and whole: its manifest was refused as one for a delivered job, and the rest of the
        folder waited in inbox/ for artwork_timeout_seconds (audit: then its ERROR.txt offered its
        artwork to other orders' jobs of the same file name)."""
        known = self.job_dir(job)
        now = self.clock.now()
        word = "RETRY" if job.stage is Stage.FAILED else "RELEASE"
        waits = job.stage in (Stage.HELD, Stage.FAILED)  # for an operator; else in work/, going on by itself
        if job.stage in TERMINAL:
            where = f"in {self.rel(known)}/" if os.path.lexists(known) else "(its folder purged since)"
            target = self._reject_manifest(
                path,
                True,
                [
                    f"this folder is a copy of job {job.job_id}'s folder (its STATUS.txt says so), not a new order; "
                    f"the job is finished ({job.status.value}) {where}"
                ],
                fix="Nothing is done with this copy, and nothing is printed. To print the job again, send its "
                "manifest with reprint: true together with its artwork (the files of its artwork/ folder beside the "
                "manifest, not in a folder below it).",
                name=f"{folder.name}{COPY_SUFFIX}",
            )
            if target is not None:
                with contextlib.suppress(OSError):
                    (target / "replace").rmdir()  # (empty) nothing is taken from a copy
            return
        if not os.path.lexists(known) and known.parent.is_dir():
            os.replace(folder, known)
            then = (
                f"Drop {word} here (or a corrected PDF into replace/) to go on with the job"
                if waits
                else "The job goes on by itself (work/ holds jobs being made; nothing there needs an operator)"
            )
            self._note_action(
                job.job_id,
                f"{iso(now)}  this folder was put into inbox/ ({self.rel(folder)}/); a job is not tried again "
                f"through inbox/, so the daemon put it back here. {then}",
            )
            self._write_status(job.job_id)
            log.warning(
                "inbox.job_folder_put_back",
                job_id=job.job_id,
                folder=self.rel(folder),
                put_back_to=self.rel(known),
                reason=f"a job's own folder came into inbox/; it is back in {self.rel(known)}/"
                + (f", where the job waits for {word}" if waits else ""),
            )
            return
        target = self._reject_manifest(
            path,
            True,
            [
                f"this folder is a copy of job {job.job_id}'s folder (its STATUS.txt says so), not a new order; "
                f"the job waits in {self.rel(known)}/"
            ],
            fix=(
                f"Nothing is done with this copy. To go on with the job, drop {word} into {self.rel(known)}/ (or a "
                "corrected PDF into its replace/). "
                if waits
                else f"Nothing is done with this copy; the job goes on by itself in {self.rel(known)}/. "
            )
            + "To print it as a new delivery once it is finished, send its manifest with reprint: true together "
            "with its artwork.",
            # Never under the job's own name: a folder failed/<job-id> is the job's, and after a
            # restart that lost track of the job's folder it would be taken for it.
            name=f"{folder.name}{COPY_SUFFIX}",
        )
        if target is not None:
            with contextlib.suppress(OSError):
                (target / "replace").rmdir()  # (empty) nothing is taken from a copy

    def _same_again(self, spec: JobSpec, existing: Job | None, data: bytes, base: Path, manifest: Manifest) -> bool:
        """A job not finished (waiting for an operator, for a date, for a retry, being made) whose
        manifest came again (byte for byte, or saying the same: sent_again), with none of its
        artwork in the inbox: a webhook's retry, an FTP re-upload, the same order sent twice at
        once. Taken as new artwork it would put the job's artwork into history/, to wait for files
        that are not coming (audits BA 1, A 3)."""
        if existing is None or existing.stage in TERMINAL:
            return False
        folder = self._locate(existing)
        return folder is not None and sent_again(data, folder, base, spec, manifest, tuple(self.config.hot_folders))

    def _reprint_waiting(self, spec: JobSpec, job: Job, data: bytes, base: Path) -> Delivery | None:
        """The delivery of ``job`` whose PDF still waits in its hot folder (not yet taken by the
        printer), when reprint manifest ``data`` is the one that made it, sent again byte for byte
        with the same artwork: the same order sent twice (a webhook's retry, a double upload), not a
        new reprint. Printed, it would be a second copy nobody ordered (audit: a folder drop sent
        twice a second apart was printed twice). Once the printer has taken the PDF, the same
        manifest is a new reprint again: a shop's "order again" button sends the same bytes."""
        delivery = self.ledger.published_delivery(job.job_id, job.generation)
        if delivery is None or not os.path.lexists(delivery.final_path):
            return None
        folder = self._locate(job)
        if folder is None or not reprint_sent_twice(data, folder, base, spec):
            return None
        return delivery

    @staticmethod
    def _sent_twice_reason(job: Job, delivery: Delivery) -> str:
        return (
            f"job {job.job_id} was printed from this same manifest with the same artwork, and its PDF "
            f"{Path(delivery.final_path).name} still waits in hot folder {delivery.hot_folder}, not yet taken by the "
            "printer: this copy was taken as the same order sent twice, and is not printed again"
        )

    def _file_repeat(self, path: Path, jobs: list[Job], folder_manifest: bool, data: bytes) -> None:
        """The repeated manifest goes into the (first) job's history/; STATUS.txt says so."""
        now = self.clock.now()
        first = self._locate(jobs[0])
        if first is None:
            return
        how = (
            "byte for byte" if keeps_copy(data, first) else "written anew but saying the same of the order and its jobs"
        )
        kept = into_history(first, path, now)
        for job in jobs:
            # (work/ has no replace/: a job waiting there takes new artwork from the CLI: audit CE 3)
            where = (
                "into replace/"
                if job.stage in (Stage.HELD, Stage.FAILED)
                else f"with the manifest, or by `spo-hotfolder replace {job.job_id} FILE.pdf`"
            )
            # Named within the job folder, which moves on (the note stays in STATUS.txt): not as
            # work/... once the folder is in done/ (audit: a stale path).
            kept_in = (
                f"this folder's history/{kept.name}"
                if job.job_id == jobs[0].job_id
                else f"history/{kept.name} of job {jobs[0].job_id}'s folder"
            )
            self._note_action(
                job.job_id,
                f"{iso(now)}  {path.name} came again, {how}, without new artwork: nothing changed "
                f"(it is in {kept_in}). New artwork goes {where}",
            )
            self._write_status(job.job_id)
        log.info("manifest.repeated", manifest=str(path), job_ids=[j.job_id for j in jobs], kept=self.rel(kept))
        if folder_manifest:
            self._consumed_dirs.add(path.parent)
            self._cleanup_consumed_dirs()

    def _arriving_files(self, job_id: str) -> list[Artwork] | None:
        """A waiting job's artwork that is in the inbox but not taken (not complete yet); None when
        it is not waiting, or some artwork is not there at all."""
        job = self.ledger.get_job(job_id, history=False)
        if job is None or job.stage is not Stage.AWAITING:
            return None
        waiting = [a for a in self.ledger.artwork(job_id) if not a.present]
        if not waiting or not all(a.source and os.path.exists(a.source) for a in waiting):
            return None
        return waiting

    def _note_arriving(self) -> None:
        """AwaitingData for a job still waiting, a settle period after its intake, for artwork that
        is there but still being written (a slow upload), as for artwork not there at all (recorded
        with the intake). Not at once: artwork written just before its manifest settles meanwhile."""
        mono = self.clock.monotonic()
        for job_id, due in list(self._arriving.items()):
            if due > mono:
                continue
            del self._arriving[job_id]
            arriving = self._arriving_files(job_id)
            # Only artwork seen changing lately: a stable file only not taken yet (a backlog at
            # start takes thousands in turn) is not "still being written"; it is taken in its turn.
            if arriving and any(self.tracker.settling(Path(a.source)) for a in arriving if a.source):
                names = ", ".join(a.name for a in arriving)
                detail = f"waiting for {names} to be complete (still being written)"
                self._record(job_id, JobStatus.AwaitingData, SYSTEM, detail, self.clock.now())

    def _record_manifest(
        self,
        manifest: Manifest,
        plans: list[tuple[JobSpec, Job | None]],
        base: Path,
        manifest_name: str,
        data: bytes,
        key: str,
        path: Path,
        now: datetime,
    ) -> None:
        """Job folders with the manifest's copy, then one durable transaction for the whole order."""
        # 1. Folders and manifest copies (byte for byte) for every job we take.
        for spec, existing in plans:
            if existing is None:
                job_dir = self.area("work") / spec.job_id
                if job_dir.exists():
                    # Left by an intake interrupted before its ledger commit (a manifest copy or its
                    # temp file, an early-check link): nothing in it is the only copy of anything.
                    shutil.rmtree(job_dir, ignore_errors=True)
                (job_dir / "artwork").mkdir(parents=True, exist_ok=True)
                if len(plans) == 1:
                    self._begin_early_check(spec, manifest, base, job_dir, now)
                # A fresh folder: no temp name needed. On disk before the inbox's manifest goes
                # (_finish_intakes), not before the job runs: the inbox holds it until then.
                write_new(job_dir / manifest_name, data, durable=False)
            else:
                job_dir = self._prepare_rerun(existing, now)
                for old in list(job_dir.glob("manifest.*")):
                    into_history(job_dir, old, now)
                atomic_write(job_dir / manifest_name, data)
        # 2. One durable ledger transaction records every job of the order.
        with self.ledger.transaction(durable=True):
            shown = self._manifest_shown(path)
            for spec, existing in plans:
                self._record_intake(manifest, spec, existing, base, manifest_name, shown, now)
            self.ledger.record_intake(key, str(path), manifest.order_id, now)
        self._unsynced.extend((spec.job_id, manifest_name, None) for spec, existing in plans if existing is None)

    def _wake_at_deadline(self, job_id: str) -> None:
        """A job left waiting for artwork gets a wake-up at its deadline (artwork_timeout_seconds).
        Only then: a timer per job taken in would cost the scheduler a job each, for nothing."""
        job = self.ledger.get_job(job_id, history=False)
        if job is not None and job.stage is Stage.AWAITING and job.awaiting_until:
            self._schedule_wakeup(parse_iso(job.awaiting_until))

    def _begin_early_check(self, spec: JobSpec, manifest: Manifest, base: Path, job_dir: Path, now: datetime) -> None:
        """Starts the check of a new job whose one artwork is already complete in the inbox, before
        the intake's writes, fsyncs and commits: the worker checks on the other core meanwhile, and
        ``_process`` takes the answer if the artwork, product and config are still the same.

        The artwork gets a second name in the job folder for this (a hard link; the inbox name
        stays until the claim after the intake commit). A crash before that commit leaves only the
        extra link, which the next intake of the manifest removes with the job folder's artwork/.
        """
        if self._queue_running or self._new_only:
            return  # jobs are queued before this one: the worker checks the next of those instead
        if self._check_held():
            return  # one at a time: in a burst, the worker's time goes to checks that are used
        self._early_check = None
        pdf = self._early_service()
        if pdf is None or len(spec.artwork) != 1:
            return
        if manifest.process_after is not None and manifest.process_after > now:
            return
        (artwork,) = self._plan_artwork(spec, base)
        src = Path(artwork.source or "")
        orphan = self._orphans.get(src)
        if orphan is None:
            return
        dest = job_dir / "artwork" / artwork.name
        try:
            st = os.lstat(src)
            if signature(st) != orphan[1] or st.st_nlink > 1:
                return  # changed, a symbolic link (which _process refuses), or linked from elsewhere (copied)
            os.link(src, dest)
        except OSError:
            return
        self._after_move(st, dest)
        inputs = [ArtworkInput(name=artwork.name, path=str(dest), expected_sha256=artwork.sha256)]
        self._begin_check_ahead(pdf, spec.job_id, spec.product, inputs)

    def _begin_next_check(self, candidates: Sequence[str]) -> None:
        """While a job's output is made and delivered, the worker checks the next job of the queue
        (the first of ``candidates`` waiting to be processed), on the other core; ``_process`` takes
        the answer as it takes an intake's early check: only if nothing it depends on changed."""
        pdf = self._early_service()
        if pdf is None or self.stop_event.is_set() or self._check_held():
            return
        for job_id in candidates:
            job = self.ledger.get_job(job_id, history=False)
            if job is not None and job.stage is Stage.PROCESS:
                # An artwork file missing: no check ahead; the job's own turn explains it.
                self._begin_check_ahead(pdf, job.job_id, job.product, self._inputs(job))
                return

    def _pdf_can(self) -> _PdfCan:
        """What the PDF service can do besides check and output (the worker process can all of
        it). Cached: an isinstance check against a runtime protocol inspects its members each time."""
        pdf: object = self.pdf  # (mypy: no subtype of two protocols otherwise)
        can = self._pdf_can_cached
        if can is None or can.pdf is not pdf:
            can = self._pdf_can_cached = _PdfCan(
                pdf,
                pdf if isinstance(pdf, EarlyCheckService) else None,
                pdf if isinstance(pdf, HashAheadService) else None,
            )
        return can

    def _early_service(self) -> EarlyCheckService | None:
        """The PDF service, if it can check ahead."""
        return self._pdf_can().early

    def _ahead(self) -> HashAheadService | None:
        """The PDF service, if it can read big files ahead of their check."""
        return self._pdf_can().ahead

    def _after_move(self, before: os.stat_result, dest: Path) -> None:
        """Tells the PDF worker the change time the engine's own link or move (``before``: the
        file's stat just before it) gave a file big enough to have been read ahead: that, not an
        edit, is why its ctime changed (``digests``)."""
        if before.st_size < HASH_AHEAD_MIN_BYTES or (ahead := self._ahead()) is None:
            return
        try:
            after = os.stat(dest)
        except OSError:
            return
        ahead.ahead_moved(before, after)

    def _check_held(self) -> bool:
        """A check begun ahead is waiting for its job, and younger than EARLY_CHECK_HOLD_SECONDS."""
        held = self._early_check
        return held is not None and self.clock.monotonic() - held[2] < EARLY_CHECK_HOLD_SECONDS

    def _begin_check_ahead(self, pdf: EarlyCheckService, job_id: str, product: str, inputs: list[ArtworkInput]) -> None:
        """Hands the check of ``job_id`` to the worker and holds it for ``_finish_early_check``
        (nothing when an artwork file cannot be read)."""
        key = self._check_key(job_id, product, inputs)
        if key is None:
            return
        pending = pdf.begin_check(inputs, product, self.config.product_spec(product), self.config.validation)
        self._early_check = (key, pending, self.clock.monotonic())

    def _finish_early_check(self, job: Job, inputs: list[ArtworkInput]) -> tuple[PreflightReport, bool] | None:
        """The answer of the check begun ahead (intake or queue), if it was this job's and still holds."""
        held = self._early_check
        pdf = self._early_service()
        if held is None or held[0][0] != job.job_id or pdf is None:
            return None
        self._early_check = None
        key, pending, _began = held
        answer = pdf.finish_check(pending)
        if self._check_key(job.job_id, job.product, inputs) != key:
            return None  # the artwork or the config changed meanwhile: check again
        seconds = getattr(pending, "seconds", None)  # the worker's own time on it (PdfCheck.seconds)
        if isinstance(seconds, float):
            self.metrics.observe("preflight", seconds)
        return answer

    def _check_key(self, job_id: str, product: str, inputs: list[ArtworkInput]) -> tuple[Any, ...] | None:
        """What a check's answer depends on: the job, product and config, and each artwork file's
        identity (device, inode, size, mtime)."""
        files = []
        for item in inputs:
            try:
                st = os.stat(item.path)
            except OSError:
                return None
            files.append((item.name, item.path, item.expected_sha256, *identity(st)))
        return (job_id, product, self.config, tuple(files))

    def _finish_intakes(self) -> None:
        """Removes the manifests taken in since the last call from the inbox: one fsync of the
        inbox for all of them, then one commit marks their intakes complete.

        Called after each job run and at the end of each step: a job taken in is made and
        delivered first (its latency is then ~0.5 ms shorter; a burst syncs the inbox once per
        few manifests). Safe because the intake was committed durably before: a crash meanwhile
        leaves an intake not complete, which the next start finishes (``reconcile``). A manifest
        replaced under the same name meanwhile (another signature) is a new upload: never removed.
        """
        self._secure_copies()
        pending, self._unfinished = self._unfinished, []
        if not pending:
            return
        retry: list[tuple[str, Path, Signature | None]] = []
        try:
            folders: set[Path] = set()
            for _key, path, sig in pending:
                try:
                    st = os.stat(path)
                except FileNotFoundError:
                    continue
                if sig is not None and signature(st) == sig:
                    try:
                        path.unlink()
                    except FileNotFoundError:
                        pass
                    except OSError as exc:
                        # One manifest that cannot go (its folder changed meanwhile) must not hold
                        # back the others: it is tried again later, and said.
                        if path not in self._not_removed:
                            self._not_removed.add(path)
                            log.warning("intake.manifest_not_removed", manifest=str(path), error=str(exc))
                        retry.append((_key, path, sig))
                        continue
                    folders.add(path.parent)
            for folder in folders:
                fsync_dir(folder)
            kept = {key for key, _, _ in retry}
            with self.ledger.transaction():
                for key, _path, _sig in pending:
                    if key not in kept:
                        self.ledger.complete_intake(key)
        except BaseException:
            self._unfinished[:0] = pending  # each part can be done again: tried at the next call
            raise
        self._unfinished[:0] = retry

    def _secure_copies(self) -> None:
        """The manifest copies of new job folders on disk (file and folder), and each folder's
        ``history/`` made (SPEC 4's layout), wherever the folder is by now: before any manifest
        leaves the inbox, the inbox's copy being the one that is on disk until then.

        After a crash or a power cut (``bytes`` given: the manifest as the inbox still holds it),
        a copy that is missing or cut short is written again from it first."""
        while self._unsynced:
            job_id, name, data = self._unsynced[0]
            job = self.ledger.get_job(job_id, history=False)
            job_dir = self.job_dir(job) if job is not None else None
            if job is not None and job_dir is not None and job_dir.is_dir():
                copy = job_dir / name
                if data is not None and job.manifest_name == name:
                    try:
                        have = copy.read_bytes()
                    except FileNotFoundError:
                        have = b""
                    if have != data and data.startswith(have):
                        log.info("recovery.manifest_copy", job_id=job_id, detail="written again from the inbox's")
                        atomic_write(copy, data)
                with contextlib.suppress(FileExistsError):  # (a file of that name: left as it is)
                    (job_dir / "history").mkdir(exist_ok=True)
                fsync_file(copy)
                fsync_dir(job_dir)
            self._unsynced.pop(0)

    def _recover_copies(self, data: bytes, source_name: str) -> None:
        """An intake recorded before a crash, its manifest still in the inbox: its new jobs'
        copies are checked (and written again if cut short) before the inbox's goes."""
        try:
            manifest = parse_manifest(data, source_name, tuple(self.config.hot_folders))
        except ManifestError:
            return  # (the config changed meanwhile) the copies stay as they are
        name = "manifest" + (".json" if manifest.format == "json" else ".yaml")
        for spec in manifest.jobs:
            job = self.ledger.get_job(spec.job_id, history=False)
            if job is not None and job.order_id == manifest.order_id:
                self._unsynced.append((spec.job_id, name, data))

    def _delivery_undecided(self, job: Job, action: Action) -> str | None:
        """Why ``action`` must wait: the job's PDF may be in its hot folder already (a rename into it
        that a share that stopped answering, or a crash, left unconfirmed), which is told from the
        files as soon as the hot folder answers (or the daemon starts)."""
        delivery = self.ledger.undecided_delivery(job.job_id)
        if delivery is None:
            return None
        name = Path(delivery.final_path).name
        return (
            f"job {job.job_id}'s PDF may already be in hot folder {delivery.hot_folder}: the rename of "
            f"{name} into it has not been confirmed (the hot folder did not answer, or the daemon stopped); "
            "the daemon records it (InHotFolder) or tells that it did not arrive as soon as the hot folder "
            "answers; "
            + ("reject the job then, if it did not arrive" if action is Action.REJECT else "replace it then")
        )

    def _pdf_delivered(self, job: Job) -> bool:
        """The job's PDF is in a hot folder already, its ticket not (ticket: json failed): not
        finished, but new artwork would be a second print, never a correction of the first."""
        return job.stage not in TERMINAL and self.ledger.published_delivery(job.job_id, job.generation) is not None

    @staticmethod
    def _other_order_reason(job: Job) -> str:
        return (
            f"job id {job.job_id} belongs to order {job.order_id} (taken at {job.created_at}, now "
            f"{job.status.value}); a job id names one job, whatever the order, so this manifest's job was not "
            f"taken and job {job.job_id} of order {job.order_id} was not changed"
        )

    def _already_done_reason(self, job: Job) -> str:
        if job.stage not in TERMINAL:  # _pdf_delivered
            delivery = self.ledger.published_delivery(job.job_id, job.generation)
            assert delivery is not None
            return (
                f"job {job.job_id}'s PDF {Path(delivery.final_path).name} is already in hot folder "
                f"{delivery.hot_folder}; only its job ticket failed (drop RETRY into its folder to write it). It is "
                "not delivered again with other artwork: to print it again, send the manifest with reprint: true"
            )
        status, at, rejected, purged = job.status, job.updated_at, job.stage is Stage.REJECTED, ""
        if job.purged:
            # Said as it ended (rejected, delivered, skipped) and when, not as its files' deletion.
            whole = self.ledger.get_job(job.job_id) or job
            outcome = whole.outcome() if whole.history_complete else None
            if outcome is not None:
                status, at = outcome.status, outcome.at
            rejected = whole.rejected()
            purged = f"; its files were deleted after retention on {whole.deleted_at()}"
        if rejected:
            return (
                f"job {job.job_id} was rejected earlier ({at}){purged}; it is not made "
                "again. To make it again, send the manifest with reprint: true"
            )
        if job.route == "skip" or status is JobStatus.CopyToHotFolderSkipped:
            return (
                f"job {job.job_id} was already finished without a hot folder ({status.value}, {at}){purged}; it is "
                "not made again. To make it again, send the manifest with reprint: true"
            )
        where = f" to hot folder {job.route}" if job.route else ""
        return (
            f"job {job.job_id} was already delivered{where} ({status.value}, {at}){purged}; it is not delivered "
            "again. To print it again, send the manifest with reprint: true"
        )

    def _record_intake(
        self,
        manifest: Manifest,
        spec: JobSpec,
        existing: Job | None,
        base: Path,
        manifest_name: str,
        source_name: str,
        now: datetime,
    ) -> None:
        """``manifest_name``: the copy's name in the job folder; ``source_name``: the file's name
        as it came (named in the history when it replaces an earlier manifest's artwork)."""
        artwork = self._plan_artwork(spec, base)
        # A future order's artwork may come any time before its date (audit AY 3: it failed
        # "artwork missing" hours before it was due): the wait counts from then.
        start = max(now, manifest.process_after) if manifest.process_after else now
        deadline = iso(later(start, self.config.watch.artwork_timeout_seconds))
        process_after = iso(manifest.process_after) if manifest.process_after else None
        blocked, block_reason = decide_blocking(manifest.blocked, self.config, spec.product)
        # A reprint: the job was finished, or its PDF delivered (only its ticket failed).
        reprint = existing is not None and (existing.stage in TERMINAL or self._pdf_delivered(existing))
        facts: dict[str, Any] = {
            "order_id": manifest.order_id,
            "customer": manifest.customer,
            "product": spec.product,
            "quantity": spec.quantity,
            "hot_folder": spec.hot_folder,
            "attributes": dict(spec.attributes),
            "manifest_name": manifest_name,
            "process_after": process_after,
        }
        if existing is None:
            self.ledger.insert_job(
                job_id=spec.job_id,
                folder=f"{self.rel(self.area('work'))}/{spec.job_id}",
                stage=Stage.AWAITING,
                awaiting_until=deadline,
                now=now,
                **facts,
            )
            self.ledger.set_artwork(spec.job_id, artwork)
            self._record(spec.job_id, JobStatus.Ordered, SYSTEM, "", now, write=False)
            if blocked:
                self._record(spec.job_id, JobStatus.Blocked, SYSTEM, block_reason, now, write=False)
        else:
            fields: dict[str, Any] = dict(facts)
            fields.update(
                stage=Stage.AWAITING,
                awaiting_until=deadline,
                # New artwork for a blocked or failed job: ArtworkUploaded and RecreationRequested
                # are recorded when it has arrived (_check_complete). A reprint is requested now,
                # by this manifest: RecreationRequested first, then the usual statuses (SPEC 5).
                recreate=None
                if reprint
                else json.dumps({"by": SYSTEM, "detail": f"new manifest {source_name}", "uploaded": True}),
                attempts=0,
                next_attempt_at=None,
                error=None,
            )
            if reprint:
                fields["generation"] = existing.generation + 1
            self.ledger.update_job(spec.job_id, now, **fields)
            self.ledger.set_artwork(spec.job_id, artwork)
            if not reprint and manifest.blocked is True:
                # The manifest's word for its jobs (SPEC 5: "overrides the config's blocking rules"):
                # a job it re-sends waits for a release, if it is not blocked already. The config's
                # rules are not applied again (the job was ordered, and perhaps released, before);
                # and `blocked: false` does not remove a Blocked entry: only a release does.
                current = self.ledger.get_job(spec.job_id)
                if current is not None and current.active_block() is None:
                    self._record(spec.job_id, JobStatus.Blocked, SYSTEM, block_reason, now, write=False)
            if reprint:
                # A Blocked entry still active from before (a job rejected while blocked) belongs to
                # the old delivery: the reprint is a new one, blocked or not by its own manifest.
                # Left active, it kept the job "blocked" for ever, as a release removes one entry.
                before = self.ledger.get_job(spec.job_id)
                old_block = before.active_block() if before is not None else None
                if old_block is not None:
                    self.ledger.remove_status(old_block.id, spec.job_id, SYSTEM, "reprint", now)
                self._record(spec.job_id, JobStatus.RecreationRequested, SYSTEM, "reprint", now, write=False)
                if blocked:
                    self._record(spec.job_id, JobStatus.Blocked, SYSTEM, block_reason, now, write=False)
        if process_after and process_after > iso(now) and (existing is None or reprint):
            # (a blocked or failed job's new artwork: FutureOrder follows its RecreationRequested,
            # recorded in _check_complete)
            zone = "" if manifest.process_after_zoned else " (the manifest gave no time zone: taken as UTC)"
            self._record(
                spec.job_id, JobStatus.FutureOrder, SYSTEM, f"process after {process_after}{zone}", now, write=False
            )
        missing = [a.name for a in artwork if a.source and not os.path.exists(a.source)]
        if missing:
            # A job's new manifest whose artwork is not there (yet): said now, not only once its
            # artwork comes (ArtworkUploaded "new manifest ..."), which it may never (audit Q 2).
            again = f"new manifest {source_name}: " if existing is not None and not reprint else ""
            self._record(
                spec.job_id,
                JobStatus.AwaitingData,
                SYSTEM,
                again + "waiting for " + ", ".join(missing),
                now,
                write=False,
            )

    def _plan_artwork(self, spec: JobSpec, base: Path) -> list[Artwork]:
        return [
            Artwork(position, name, str(base / ref.path), ref.sha256, False)
            for position, (ref, name) in enumerate(zip(spec.artwork, artwork_names(spec), strict=True), start=1)
        ]

    def _drops_waiting_for(self, jobs: Sequence[Job], path: Path) -> bool:
        """True (the manifest waits) while a job it names has an operator's drop file in its folder
        in quarantine/ or failed/ not handled yet: the operator's word comes first (a REJECT dropped
        a moment before a new manifest must not be lost, nor the job printed). Up to a minute: a
        drop file is handled once it has settled."""
        waiting = []
        for job in jobs:
            folder = self._locate(job)
            if folder is None or folder.parent not in (self.area("quarantine"), self.area("failed")):
                continue
            with contextlib.suppress(OSError), os.scandir(folder) as entries:
                waiting += [
                    e.name for e in entries if classify_drop(e.name) is not None and e.is_file(follow_symlinks=False)
                ]
        if not waiting:
            self._manifest_held.pop(path, None)
            return False
        if path not in self._manifest_held:
            self._manifest_held[path] = self.clock.monotonic()
            log.info("manifest.waits_for_drop_files", manifest=self.rel(path), drop_files=waiting)
        elif self.clock.monotonic() - self._manifest_held[path] > DROP_FIRST_SECONDS:
            self._manifest_held.pop(path, None)
            return False
        self.tracker.track(path, activity=True)  # looked at again a settle period later
        return True

    def _prepare_rerun(self, job: Job, now: datetime) -> Path:
        """A known job gets new artwork (replacement manifest or reprint): back to work/, old files kept."""
        job_dir = self._locate(job)
        if job_dir is None:  # purged after retention (or removed by hand): a new folder, recorded
            job_dir = self.area("work") / job.job_id
            job_dir.mkdir(parents=True, exist_ok=True)
            self.ledger.update_job(job.job_id, now, folder=self.rel(job_dir))
        for sub in ("artwork", "output"):
            folder = job_dir / sub
            if folder.is_dir():
                for old in sorted(folder.iterdir()):
                    into_history(job_dir, old, now, f"{sub}-{old.name}")
        # Drop files and replacements left in the folder (in done/, where nobody reads them, or by
        # a crash) belong to the job as it was: never to act on the new delivery (a RELEASE there
        # would print a blocked reprint unseen). Kept in history/, marked unused.
        # (In quarantine/ and failed/, a drop file is the operator's live word: handled before the
        # manifest is taken, _drops_waiting_for; one still there after that wait is filed too.)
        leftovers = [p for p in job_dir.iterdir() if classify_drop(p.name) is not None]
        if (job_dir / "replace").is_dir():
            leftovers += list((job_dir / "replace").iterdir())
        if not (leftovers and job_dir.parent in (self.area("quarantine"), self.area("failed"))):
            self._note_action(job.job_id, "")  # the last action was on the job as it was
        else:
            self._note_action(
                job.job_id,
                f"{iso(now)}  not acted on, as a new manifest replaced the job's artwork first: "
                + ", ".join(p.name for p in leftovers)
                + " (kept in history/ as unused-...); drop them again if they still apply",
            )
        for old in leftovers:
            with contextlib.suppress(OSError):
                into_history(job_dir, old, now, f"unused-{old.name}")
                log.info("rerun.drop_file_unused", job_id=job.job_id, file=old.name)
        (job_dir / "artwork").mkdir(exist_ok=True)
        (job_dir / "history").mkdir(exist_ok=True)
        for temp in job_dir.glob(".*.tmp"):  # a manifest copy cut short by a crash
            with contextlib.suppress(OSError):
                temp.unlink()
        target = self.area("work") / job.job_id
        if job_dir != target:
            self.ledger.update_job(job.job_id, now, stage=Stage.AWAITING)
            job_dir = self._rename_job_dir(job.job_id, job_dir, target, now)
        self._out_of_operator_hands(job_dir, now)
        self.ledger.update_job(job.job_id, now, output=None, output_pages=None, output_size=None)
        return job_dir

    def _refuse_jobs(
        self,
        path: Path,
        data: bytes,
        manifest: Manifest,
        refused: list[tuple[JobSpec, str]],
        others: list[str],
        base: Path,
        taken_specs: list[JobSpec],
        twins: Mapping[str, Delivery],
        sig: Signature | None = None,
    ) -> None:
        """The refused jobs' manifest and artwork go to failed/ with an ERROR.txt; ``others``: those
        refused because their job id is another order's, ``twins`` those whose reprint was sent
        twice (the PDF the first made still waits), the rest were done before. Artwork that a
        job taken from the same manifest also names stays for that job (a storefront re-sending a
        whole order with one job added names the old jobs' files again).

        ``sig``: no job was taken (nothing recorded), so the manifest itself goes into the folder, if
        unchanged since it was read (``sig``); else a copy (the jobs taken keep it: the inbox's goes
        once they are recorded)."""
        accepted = [spec.job_id for spec in taken_specs]
        needed = {base / ref.path: spec.job_id for spec in taken_specs for ref in spec.artwork}
        left: list[str] = []
        wanted: list[str] = []  # by another order's job or manifest
        moving: dict[Path, str] = {}  # artwork that goes into the folder's artwork/
        beside: dict[Path, str] | None = None
        for spec, _ in refused:
            for ref in spec.artwork:
                src = base / ref.path
                if src in needed:
                    left.append(f"{ref.path} (job {needed[src]})")
                    continue
                if not src.is_file():
                    continue
                waiting = self._waiting(src)
                if waiting:
                    wanted.append(f"{ref.path} (job {waiting[0][0]} waits for it)")
                    continue
                if beside is None:
                    beside = self._artwork_named_beside(path) if base == self.area("inbox") else {}
                if src in beside:
                    # Sent together with its twin `reprint: true` (or another order naming the file):
                    # that manifest takes the file in its turn.
                    wanted.append(f"{ref.path} (manifest {beside[src]} names it)")
                elif src not in moving:
                    # At the path the manifest names it by (a/x.pdf and b/x.pdf are two files): the
                    # manifest sent again with artwork/'s contents beside it finds them.
                    moving[src] = Path(ref.path).as_posix()
        moved = list(moving.values())
        # Sent again as the fix says, the manifest needs its artwork beside it again.
        artwork = f", together with its artwork (moved here, into artwork/: {', '.join(moved)})" if moved else ""
        problems = [reason for _, reason in refused]
        if left:
            problems.append(
                "artwork that a job taken from this manifest also uses was left to that job, not copied here: "
                + ", ".join(dict.fromkeys(left))
            )
        if wanted:
            problems.append(
                "artwork that another manifest or job also names was left in inbox/ for it, not moved here: "
                + ", ".join(dict.fromkeys(wanted))
            )
        repeats = len(others) + len(twins) < len(refused)
        taken = ", ".join(accepted)
        # (nothing to print twice for a job that was rejected or skipped: not said of it)
        printed = [spec for spec, _ in refused if spec.job_id not in others and self._was_printed(spec.job_id)]
        fix = "Nothing was printed twice." if printed or not repeats else "Nothing was printed."
        if accepted:
            problems.append(f"the other jobs of this manifest were taken and go on as usual: {taken}")
        if repeats and accepted:
            # The manifest in this folder names the accepted jobs too: sent back as it is with
            # reprint: true, it would print them a second time.
            fix += (
                " If a job above must be printed again, put a manifest into inbox/ with `reprint: true` and "
                f"only that job{artwork}: remove {taken} from it first, or they are printed again too."
            )
            artwork = ""  # said once
        elif repeats:
            fix += (
                " If the job must be printed again, add `reprint: true` to the manifest and put it into inbox/ "
                f"again{artwork}."
            )
            artwork = ""
        for job_id, delivery in twins.items():
            fix += (
                f" If job {job_id} must be printed once more, put this manifest into inbox/ again{artwork} once the "
                f"printer has taken {Path(delivery.final_path).name} from hot folder {delivery.hot_folder}"
                + (f", without {taken} (or they are printed again too)" if accepted else "")
                + "."
            )
            artwork = ""
        if others:
            fix += (
                f" For {', '.join(others)}: give the job another job_id (or leave job_id out: it then defaults to "
                f'"{manifest.order_id}-<n>", n counting the jobs from 1) and put the manifest into inbox/ again'
                + (f" without {taken}" if accepted else "")
                + f"{artwork}."
            )
        text = error_text(
            f"Manifest {self._manifest_shown(path)} (order {manifest.order_id}): {_not_taken(refused, accepted)}",
            problems,
            fix,
        )
        try:
            unchanged = sig is not None and signature(os.stat(path)) == sig
        except FileNotFoundError:
            unchanged = False
        if path.parent != self.area("inbox") and not self.ledger.intake_under(str(path.parent)):
            # A folder drop, emptied by this refusal: remembered as one a manifest came in, so that
            # one a crash leaves before its removal (once quiet) is removed at the next start, as a
            # taken one is (_tidy_inbox_folders; audit P 1: it stayed in the inbox for good).
            key = hashlib.sha256(data).hexdigest() + ":" + self.rel(path)
            self.ledger.record_intake(key, str(path), manifest.order_id, self.clock.now(), completed=True)
        target = self._put_refusal(
            self._failed_name(path), text, path, path.name, artwork=moving, copy=None if unchanged else data
        )
        # Folders of inbox/ the artwork came from, emptied: removed once quiet, as when a job takes it.
        self._consumed_dirs.update(src.parent for src in moving if src.parent != self.area("inbox"))
        self._cleanup_consumed_dirs()
        log.warning(
            "manifest.jobs_refused",
            manifest=str(path),
            order_id=manifest.order_id,
            job_ids=[s.job_id for s, _ in refused],
            folder=self.rel(target),
        )

    def _was_printed(self, job_id: str) -> bool:
        """Whether a job refused as done ever reached a hot folder (not so if only rejected or skipped)."""
        job = self.ledger.get_job(job_id)
        if job is None:
            return False
        # (not finished: its PDF is in a hot folder, only its ticket failed: _pdf_delivered)
        return job.stage not in TERMINAL or job.delivered()

    def _artwork_named_beside(self, manifest_path: Path) -> dict[Path, str]:
        """The artwork files that the other manifests at the top of inbox/ name (path -> manifest
        name): a manifest refused as already done does not take a file the next one needs (its
        `reprint: true` twin, sent at the same moment). Only files that read as manifests count."""
        named: dict[Path, str] = {}
        folder = manifest_path.parent
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            candidates = [
                e
                for e in entries
                if e.name != manifest_path.name
                and e.name.lower().endswith(MANIFEST_SUFFIXES)
                and not self.ignored(e.name)
                and e.is_file(follow_symlinks=False)
            ]
        for entry in candidates[:1000]:
            try:
                with open(entry.path, "rb") as fh:
                    data = fh.read(MAX_MANIFEST_BYTES + 1)
                other = parse_manifest(data, entry.name, tuple(self.config.hot_folders))
            except (OSError, ManifestError):
                continue
            for spec in other.jobs:
                for ref in spec.artwork:
                    named.setdefault(folder / ref.path, entry.name)
        return named

    def _manifest_shown(self, path: Path) -> str:
        """A manifest as its ERROR.txt names it: with its folder for a folder drop (every one is
        manifest.yaml; audit, soak 3: "Manifest manifest.yaml" said nothing of which)."""
        return path.name if path.parent == self.area("inbox") else f"{path.parent.name}/{path.name}"

    def _failed_name(self, path: Path) -> str:
        return path.parent.name if path.parent != self.area("inbox") else path.name

    def _reject_manifest(
        self,
        path: Path,
        folder_manifest: bool,
        problems: list[str],
        *,
        fault: bool = False,
        fix: str | None = None,
        name: str | None = None,
    ) -> Path | None:
        """A bad manifest goes to failed/<name>/ with an ERROR.txt; it never stops the daemon.

        ``fault``: the daemon failed on it (nothing in the file to correct). The ERROR.txt says where
        the artwork is: in this folder for a folder drop; in inbox/ (until it is claimed or its
        artwork_timeout_seconds run out) for a manifest at the top of inbox/. A folder drop goes
        whole, once its client is done with it (None until then: _folder_still_arriving)."""
        if folder_manifest and not fault and self._folder_still_arriving(path):
            return None
        final = name or self._failed_name(path)
        stored = path.name
        if folder_manifest and not any(problem.startswith("this folder holds") for problem in problems):
            several = several_manifests(path.parent)  # one more came meanwhile: not read either
            if several:
                problems = [*problems, several_manifests_problem(several)]
        if folder_manifest and problems and problems[0].startswith("this folder holds"):
            title = f"The manifests of folder {path.parent.name} could not be used; no job was created from them."
            fix = (
                "Send the folder into inbox/ again with only the manifest it should use (remove the others), or each "
                "order in a folder of its own with its artwork. The files are here as they came."
            )
        else:
            title = f"Manifest {self._manifest_shown(path)} could not be used; no job was created from it."
            located = any(re.match(r"(line \d+|[A-Za-z_][\w.\[\]]*: )", problem) for problem in problems)
            # The name it has here: one too long for a folder beside it is shortened.
            stored = fit_name(path.name, NAME_MAX - 8)
            fix = fix or self._resend_text(stored, folder_manifest, fault, located=located)
            if stored != path.name:
                fix += f" (Its name was too long to keep: it is here as {stored}.)"
        text = error_text(title, problems, fix)
        # ERROR.txt is written before anything moves: on a full disk the manifest stays where it is
        # (taken again later) rather than lying in failed/ unexplained. The folder is put together
        # under a hidden name and renamed when whole (_refusal_folder).
        if folder_manifest:
            for stale in os.listdir(path.parent):  # left by a crash before the move
                if _REFUSAL_ERROR_ANY.match(stale):
                    with contextlib.suppress(OSError):
                        (path.parent / stale).unlink()
            written = path.parent / f".spo-hotfolder-ERROR.{os.getpid()}.tmp"  # an ignored name
            building = self._refusal_folder(final, make=False)
            try:
                atomic_write(written, text)
                os.replace(path.parent, building)
            except BaseException:
                with contextlib.suppress(OSError):
                    written.unlink()
                raise
            os.replace(building / written.name, building / "ERROR.txt")
            target = self._file_refusal(building, final)
        else:
            # Whoever sees the folder (an operator, a script waiting for it) finds it whole.
            target = self._put_refusal(final, text, path, stored)
            self._remember_refused(target, target / stored)
        log.warning("manifest.rejected", manifest=str(path), folder=self.rel(target), problems=problems)
        return target

    def _refusal_folder(self, name: str, *, make: bool = True) -> Path:
        """A hidden folder in failed/ where a refusal is put together (its ERROR.txt first, then
        the manifest and its files), renamed to ``name`` (``_file_refusal``) once whole. A crash
        meanwhile leaves it hidden, and the next start finishes it (``_recover_refusals``): no
        folder in failed/ without its ERROR.txt, empty, or with a temp file only, and no manifest
        lost in a folder half made (audit, soak 2: a kill while a manifest was refused lost it)."""
        folder = self.area("failed") / f"{REFUSAL_PREFIX}{os.getpid()}-{next(_REFUSAL_IDS)}.{safe_folder_name(name)}"
        if make:
            folder.mkdir(parents=True)
        return folder

    def _put_refusal(
        self,
        final: str,
        text: str,
        manifest: Path,
        stored: str,
        *,
        artwork: Mapping[Path, str] | None = None,
        copy: bytes | None = None,
    ) -> Path:
        """failed/<final>/, put together hidden (_refusal_folder): ERROR.txt, then ``artwork`` (where
        each file is -> its name in artwork/), then the manifest last, moved in as ``stored`` (or
        ``copy`` written there: the jobs taken keep the inbox's), so that a folder holding it is
        whole (_recover_refusals). A failure half way (a full disk) puts everything back, to be
        tried again."""
        building = self._refusal_folder(final)
        placed: list[tuple[Path, Path]] = []
        try:
            atomic_write(building / "ERROR.txt", text)
            for src, name in (artwork or {}).items():
                with contextlib.suppress(FileNotFoundError):  # (gone meanwhile: nothing to keep)
                    placed.append((move(src, building / "artwork" / name), src))
            if copy is None:
                os.replace(manifest, building / stored)
            else:
                atomic_write(building / stored, copy)
        except BaseException:
            for there, src in placed:
                with contextlib.suppress(OSError):
                    move(there, src)
            shutil.rmtree(building, ignore_errors=True)
            raise
        return self._file_refusal(building, final)

    def _file_refusal(self, building: Path, name: str) -> Path:
        """The refusal put together in ``building`` under its name in failed/: one rename."""
        fsync_dir(building)
        target = self._new_failed_folder(name)
        os.replace(building, target)  # (free: a folder of that name would be replaced only if empty)
        fsync_dir(target.parent)
        return target

    def _recover_refusals(self) -> None:
        """At start (and at each rescan: an error after the manifest moved leaves one too): a
        refusal cut short (its hidden folder in failed/) is filed under its name when the manifest
        is in it (its ERROR.txt was written before the manifest came), or removed when not (the
        manifest never left inbox/, and is refused again). Refusals are made on the engine thread,
        as this is: none is being put together meanwhile."""
        failed = self.area("failed")
        try:
            with os.scandir(failed) as entries:
                left = [
                    Path(e.path)
                    for e in entries
                    if e.name.startswith(REFUSAL_PREFIX) and e.is_dir(follow_symlinks=False)
                ]
        except OSError:
            return
        inbox = self.area("inbox")
        emptied = False
        for building in left:
            final = building.name[len(REFUSAL_PREFIX) :].partition(".")[2] or "refused"
            # A folder drop's refusal is named after its folder: the artwork came from there, and
            # the folder, emptied, goes once quiet (audit, soak 3: it stayed in inbox/, empty).
            drop = inbox / final
            from_drop = drop.is_dir() and not drop.is_symlink()
            names = os.listdir(building)
            for name in [n for n in names if _REFUSAL_ERROR_ANY.match(n)]:
                if _REFUSAL_ERROR_WHOLE.match(name) and not (building / "ERROR.txt").exists():
                    os.replace(building / name, building / "ERROR.txt")  # a folder drop's, whole
                else:
                    (building / name).unlink()
            ours = ("ERROR.txt", "artwork")  # and temps: the manifest is what tells a whole refusal
            if not any(n not in ours and not (_REFUSAL_TEMP.match(n) or _REFUSAL_ERROR_ANY.match(n)) for n in names):
                # The manifest never came (it is in inbox/, refused again): artwork moved in goes back
                # where it came from, to be found again with it.
                # (at their paths: artwork named a/x.pdf is in artwork/a/)
                art = building / "artwork"
                for file in sorted(p for p in art.rglob("*") if p.is_symlink() or not p.is_dir()):
                    move(file, (drop if from_drop else inbox) / file.relative_to(art))
                shutil.rmtree(building, ignore_errors=True)
                log.info(
                    "recovery.refusal_removed", folder=self.rel(building), reason="its manifest is still in inbox/"
                )
                continue
            target = self._file_refusal(building, final)
            log.info("recovery.refusal_filed", folder=self.rel(target))
            if from_drop:
                self._consumed_dirs.add(drop)
                emptied = True
        if emptied:
            self._cleanup_consumed_dirs()

    def _folder_still_arriving(self, manifest: Path) -> bool:
        """Whether the folder of ``manifest`` (refused) has changed within ``_quiet_seconds``; if so,
        the manifest is looked at again when that time is over. A folder is uploaded a file at a
        time: moved to failed/ the moment its manifest was refused, the next file its client sent
        failed on the client ("path not found": smbclient, Explorer, FileZilla, WinSCP), or came
        into a folder of the same name made again in inbox/, apart from the rest (audit, clients
        F1 b). As for an emptied order folder, quiet means unchanged since the first look. A folder
        that never stops changing (a program writing a log into it) goes after
        artwork_timeout_seconds, the longest the daemon waits for an upload."""
        now = self.clock.monotonic()
        held = _tree_signature(manifest.parent)
        seen = self._refused_arriving.get(manifest)
        if seen is None:
            if len(self._refused_arriving) > 10_000:
                self._refused_arriving.clear()
            first = now
            log.info(
                "manifest.refused_folder_settling",
                manifest=self.rel(manifest),
                reason="the folder goes to failed/ once nothing in it has changed for "
                f"{self._quiet_seconds():g} s (its client may still be uploading into it)",
            )
        else:
            first = seen[2]
            if now - first >= self.config.watch.artwork_timeout_seconds or (
                seen[1] == held and now - seen[0] >= self._quiet_seconds()
            ):
                del self._refused_arriving[manifest]
                return False
        since = seen[0] if seen is not None and seen[1] == held else now
        self._refused_arriving[manifest] = (since, held, first)
        self.tracker.hold(manifest, since + self._quiet_seconds() - now)
        return True

    def _remember_refused(self, folder: Path, manifest: Path) -> None:
        """A refused manifest from the top of inbox/, kept in memory a while (its text, if small), so
        that a file it names, left unclaimed in the inbox, is told where it is (_refused_naming)."""
        with contextlib.suppress(OSError):
            fd = os.open(manifest, os.O_RDONLY | os.O_NOFOLLOW)  # (a linked manifest is never read)
            with os.fdopen(fd, "rb") as handle:
                data = handle.read(REFUSED_KEPT_BYTES + 1)
            if len(data) <= REFUSED_KEPT_BYTES:
                self._refused_manifests.append((self.clock.monotonic(), self.rel(folder), data))

    def _refused_naming(self, name: str, limit: float) -> list[str]:
        """The failed/ folders (relative) of the manifests refused in this run within the last
        ``limit`` seconds (and a minute) whose text names ``name``: an unclaimed file's ERROR.txt
        names the manifest it came with (audit, 2026-12-03: "no manifest named it", its refused
        manifest unnamed among dozens of failed/ folders). At most 5, newest first."""
        since = self.clock.monotonic() - limit - 60
        while self._refused_manifests and self._refused_manifests[0][0] < since:
            self._refused_manifests.popleft()
        needle = name.encode("utf-8", "surrogateescape")
        found = [folder for _, folder, data in reversed(self._refused_manifests) if needle in data]
        return list(dict.fromkeys(found))[:5]

    def _resend_text(self, name: str, folder_manifest: bool, fault: bool, *, located: bool = True) -> str:
        """``located``: the problems name lines or keys (not so for a file too big, or a link)."""
        if fault:
            first = f"Once the administrator has looked into it, put {name}"
        elif located:
            first = f"Correct {name} (the lines and keys above say where) and put it"
        else:
            first = f"Correct {name} as said above and put it"
        if folder_manifest:
            return (
                f"{first} into inbox/ again together with its artwork, as the whole folder (its artwork is in "
                "this folder). The daemon did not change the files."
            )
        wait = human_seconds(self.config.watch.artwork_timeout_seconds)
        return (
            f"{first} into inbox/ again. Its artwork, if it came into inbox/ beside it, stays there for {wait} "
            "(watch.artwork_timeout_seconds), counted from when it was complete: a manifest sent within that "
            "time takes it; after that, each file goes to failed/ with its own ERROR.txt. The daemon did not change "
            "the file."
        )

    # -- artwork ----------------------------------------------------------------------------

    def _claim(self, path: Path, sig: Signature) -> bool:
        """A stable inbox file: move it into every job waiting for it. False if nobody waits.

        At the top of inbox/, where orders share file names, a file that the times do not name
        its waiting order for (its manifest came long before the file began to arrive, or several
        orders wait) is not taken before the moment after it began to arrive in which another
        order's manifest may still name it (the window of _owner_order): an order whose PDF never
        came took the next order's file of that name, sent just before its manifest, and printed
        it (audit A 1). A manifest that comes meanwhile decides with it. The usual order (manifest,
        then its PDF at once) is taken without that wait."""
        waiting = self._waiting(path)
        if not waiting:
            return False
        seen = self.tracker.first_seen(path)
        if seen is not None and path.parent == self.area("inbox"):
            until = seen + self._after_seconds()
            if self.clock.monotonic() < until and not self._came_just_before(waiting, seen):
                self._held_for_owner[path] = (until, seen, sig)
                return True
        return self._take_artwork(path, waiting, seen=seen)

    def _came_just_before(self, waiting: list[tuple[str, int]], seen: float) -> bool:
        """Whether the jobs waiting for a file are of one order, waiting in work/, whose manifest
        came within the window before the file began to arrive (``seen``, monotonic)."""
        jobs = [job for job_id, _ in waiting if (job := self.ledger.get_job(job_id, history=False)) is not None]
        if not jobs or len({job.order_id for job in jobs}) != 1 or any(j.stage is not Stage.AWAITING for j in jobs):
            return False
        began = self.clock.now() - self._since(seen)
        came = min(self._came(job) for job in jobs)
        return began - timedelta(seconds=self._window_seconds()) <= came <= began + timedelta(seconds=1)

    def _after_seconds(self) -> float:
        """How long after a file began to arrive its order's manifest may come, at most, to be
        taken as that file's order (a client sends an order's PDF right before its manifest)."""
        return max(self.config.watch.settle_seconds, 2.0)

    def _take_near_later(self) -> None:
        """Jobs whose artwork was there under a name alike only: their wait for the very name is
        over; the file alike is taken now if it is still the one (_claim_for_job)."""
        mono = self.clock.monotonic()
        for job_id, due in list(self._near_later.items()):
            if due > mono:
                continue
            del self._near_later[job_id]
            job = self.ledger.get_job(job_id, history=False)
            if job is not None and job.stage is Stage.AWAITING:
                self._claim_for_job(job, near_now=True)

    def _mark_unmarked(self) -> None:
        """Jobs whose artwork was moved in but not marked (_take_artwork: the mark's commit failed,
        as on a full disk): marked now, as at a start (_claim_for_job finds the files in the job's
        folder), and the job goes on."""
        for job_id in sorted(self._unmarked):
            job = self.ledger.get_job(job_id, history=False)
            if job is not None and job.stage is Stage.AWAITING:
                self._claim_for_job(job)
            self._unmarked.discard(job_id)

    def _hand_over_held(self) -> None:
        """The held files (_claim) whose moment has passed go to the jobs that wait for them."""
        mono = self.clock.monotonic()
        for path, (until, seen, sig) in list(self._held_for_owner.items()):
            if until > mono:
                continue
            del self._held_for_owner[path]
            try:
                current = signature(os.stat(path))
            except OSError:
                continue  # taken meanwhile (a manifest that named it), or gone
            if current != sig:
                self.tracker.track(path, activity=True)  # changed since: it settles again
                continue
            waiting = self._waiting(path)
            if waiting:
                self._take_artwork(path, waiting, seen=seen)
            else:
                self.tracker.track(path, activity=False, complete=True)  # nobody waits now: an orphan

    def _hint_whole_again(self, path: Path, sig: Signature) -> None:
        """An inbox file no manifest claimed for a while, named as the artwork of a failed job that
        failed preflight as incomplete, and starting with that cut-off file's bytes (an upload
        resumed, as rsync --partial or --append and FTP clients do, or sent again): the job's
        STATUS.txt says so, where the operator looks (audit BF 3: it lay in inbox/ unsaid for
        artwork_timeout_seconds). It is not taken by itself: another order's file of that name
        can start with the same bytes (cards from one template, a PDF saved again with changes:
        audits BH 1, BK 1, 2), and one order's file must never print for another."""
        now = self.clock.now()
        for job_id in self.ledger.held_with(path.name, limit=10):
            job = self.ledger.get_job(job_id, history=False)
            if job is None or job.stage is not Stage.FAILED or not _failed_incomplete(job, path.name):
                continue
            job_dir = self._locate(job)
            if job_dir is None or not _whole_of(path, sig[0], job_dir / "artwork" / path.name):
                continue
            note = (
                f"{iso(now)}  A file named {path.name} came into inbox/ ({self.rel(path)}) that starts with this "
                "job's cut-off artwork: if it is the whole file for this job, move it into replace/ here (it is not "
                "taken by itself: another order's file of that name could start the same way)"
            )
            self._note_action(job_id, note)
            self._whole_notes.setdefault(path, []).append((job_id, note, sig))
            self._write_status(job_id)
            log.info(
                "artwork.whole_again_seen",
                job_id=job_id,
                order_id=job.order_id,
                file=self.rel(path),
                reason="a file that starts with this job's cut-off artwork came into the inbox; said in STATUS.txt, "
                "not taken",
            )

    def _withdraw_whole_notes(self) -> None:
        """Takes a job's note about a file in inbox/ (_hint_whole_again) out of its STATUS.txt once
        that file is no longer there as it was (taken by an order, replaced, removed): a note left
        standing pointed the operator to another order's file (audit BN 1)."""
        for path, notes in list(self._whole_notes.items()):
            orphan = self._orphans.get(path)
            if orphan is not None and all(orphan[1] == sig for _, _, sig in notes):
                continue
            del self._whole_notes[path]
            for job_id, note, _sig in notes:
                before = self._last_action_of(job_id) or ""
                lines = before.split("\n  ")
                if note not in lines:
                    continue
                kept = "\n  ".join(line for line in lines if line != note)
                self._last_action[job_id] = kept
                self.ledger.set_last_action(job_id, kept)
                self._write_status(job_id)

    def _waiting(self, path: Path) -> list[tuple[str, int]]:
        """The (job_id, position) of the artwork that jobs wait for at ``path``. When none waits for
        its exact name: those waiting for it under a name that differs only in letter case or
        Unicode form (the manifest's "café.pdf" is two characters longer from a Mac), the artwork a
        person would call the same file; not when several files beside it would be (card.pdf and
        CARD.pdf for Card.pdf): which one is meant is not guessed (audit BA 2)."""
        here = str(path)
        rows = self.ledger.waiting_as(str(path.parent), path.name)
        exact = [(job_id, position) for job_id, position, source in rows if source == here]
        if exact or not rows:
            return exact
        mono = self.clock.monotonic()
        return [
            (job_id, position)
            for job_id, position, source in rows
            if not os.path.lexists(source)
            and self._near_later.get(job_id, mono) <= mono  # (its wait for the very name is over)
            and upload_beside(Path(source)) is None
            and len(_near_misses(Path(source))) == 1
        ]

    def _claim_for_job(self, job: Job, *, near_now: bool = False) -> None:
        """At intake: take the job's artwork that is already complete in the inbox. A file whose
        name only differs (case, Unicode form) is taken a while later (``near_now``: now), if the
        file of the very name has not come meanwhile, and never while one is being uploaded: a
        stale file of another order, named alike, printed instead of the one on its way (audit E 1)."""
        job_dir = self.job_dir(job)
        for art in self.ledger.artwork(job.job_id):
            if art.present or not art.source:
                continue
            src = Path(art.source)
            if not src.exists() and (job_dir / "artwork" / art.name).is_file():
                # Moved in just before a crash, not yet marked: it is here.
                self.ledger.mark_artwork_present(job.job_id, art.position)
                continue
            if not src.exists():
                near = _near_miss(src, self._listed(src.parent))
                if near is not None and upload_beside(src) is not None:
                    continue  # the file of its very name is on its way
                if near is not None and not near_now:
                    self._near_later[job.job_id] = self.clock.monotonic() + self._window_seconds()
                    continue
                if near is not None:
                    src = src.with_name(near[0])  # the same name to a person: taken as it is complete
            # Complete already: held a moment after it came (_claim: this manifest and the jobs that
            # waited before it decide together whose it is, by when each came), or unclaimed.
            held = self._held_for_owner.pop(src, None)
            orphan = self._orphans.get(src) if held is None else None
            known, seen = (held[2], held[1]) if held is not None else (orphan[1] if orphan else None, None)
            if known is not None:
                try:
                    current = signature(os.stat(src))
                except OSError:
                    self._orphans.pop(src, None)
                    continue
                if current == known:
                    self._orphans.pop(src, None)
                    self._take_artwork(src, self._waiting(src), seen=seen)
                    continue
            if src.exists():
                self.tracker.track(src, activity=False)
                self._named.add(src)
        self._check_complete(job.job_id)

    def _listed(self, folder: Path) -> list[str] | None:
        """``folder``'s names, listed once per round of ``_take_stable``, where each intake of a job
        whose file is not there yet looks for one named alike: a backlog of thousands of manifests
        whose PDFs come later listed the inbox thousands of times (half the engine's time at 8,000).
        None outside a round: the caller lists it."""
        if self._listings is None:
            return None
        names = self._listings.get(folder)
        if names is None:
            try:
                names = os.listdir(folder)
            except OSError:
                names = []
            self._listings[folder] = names
        return names

    def _take_artwork(self, src: Path, waiting: list[tuple[str, int]], seen: float | None = None) -> bool:
        """Moves ``src`` into the jobs waiting for it (``waiting``: oldest job first) of one order,
        or sets it aside (_owner_order); ``seen``: when the file was first seen (monotonic), to
        tell which order it belongs to. False when none of them is still there."""
        if not self._removable_from(src.parent):
            self._orphans.pop(src, None)  # looked at again at the next rescan, never in a loop
            return True
        candidates: list[tuple[Job, Artwork]] = []
        for job_id, position in waiting:
            job = self.ledger.get_job(job_id, history=False)
            art = next((a for a in self.ledger.artwork(job_id) if a.position == position), None)
            if job is not None and art is not None:
                candidates.append((job, art))
        if not candidates:
            return False
        # One file is one order's artwork (audit AX 1: two orders naming "artwork.pdf" both printed
        # the first one's); within that order, every job naming it gets it. The others wait on.
        if len({job.order_id for job, _ in candidates}) > 1 and any(art.sha256 for _, art in candidates):
            # A sha256 in a manifest says whose the file is (or is not) better than any time
            # (audits CF 4, CH 4: orders took and printed each other's matching files). One order
            # alone takes it whatever its sha256: a mismatch fails its check (SPEC 5).
            candidates = self._by_sha256(src, candidates)
        owner = self._owner_order([job for job, _ in candidates], seen)
        if owner is None:
            self._set_aside(src, candidates, seen)
            return True
        takers = [(job, art) for job, art in candidates if job.order_id == owner]
        others = [(job, art) for job, art in candidates if job.order_id != owner]
        for job, art in others:
            self._left_waiting(job, art, takers[0][0])
        if others:
            # The order that took it is told too, where the operator looks (audit CC 6).
            for job, art in takers:
                self._note_action(
                    job.job_id,
                    f"{iso(self.clock.now())}  {art.name}: jobs of several orders waited for a file of that name "
                    f"({', '.join(sorted({j.job_id for j, _ in others}))} too); by when the manifests and the file "
                    "came it was taken as this order's",
                )
        for index, (job, art) in enumerate(takers):
            dest = self.job_dir(job) / "artwork" / art.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if index == len(takers) - 1:
                self._after_move(take(src, dest), dest)
            else:
                shutil.copyfile(src, dest)
            try:
                self.ledger.mark_artwork_present(job.job_id, art.position)
            except Exception:
                # The file is in the job's folder, the ledger still says "not arrived": the job
                # waited for artwork_timeout_seconds and then failed as missing a file it held.
                self._unmarked.add(job.job_id)
                raise
            log.info("artwork.taken", job_id=job.job_id, order_id=job.order_id, file=art.name)
            self._check_complete(job.job_id)
        if src.parent != self.area("inbox"):
            self._consumed_dirs.add(src.parent)
        self._cleanup_consumed_dirs()
        return True

    def _owner_order(self, jobs: list[Job], seen: float | None) -> str | None:
        """The order a file of a name that jobs wait for is given to, or None: nobody can tell.

        One order waiting: its file. Several: the file is an order's only where the times name
        that order alone: its manifest came within _window_seconds before the file began to arrive
        (``seen``, monotonic: first sight, its upload under a temporary name, or its ctime when
        found by a scan), or a moment after it, and every other order waiting for that name timed
        out already (in failed/; one still waiting in work/ may be the one whose file this is,
        coming late). Neither "the oldest" (an order whose file never came took every next order's
        file of that name, audit BY 1) nor "the newest" nor any time limit (orders printed each
        other's files: CA 1-3, CC 1-5, CF 1-3, CH 1-3) is a rule a shop can trust: a file the times
        do not name one order for is set aside for the operator, never guessed."""
        orders = list(dict.fromkeys(job.order_id for job in jobs))  # oldest first, as waiting_for
        if len(orders) == 1:
            return orders[0]
        if seen is None:
            return None  # claimed by a manifest as it came (the file was there before, unclaimed)
        age = max(0.0, self.clock.monotonic() - seen)
        began = self.clock.now() - timedelta(seconds=age)
        earliest = began - timedelta(seconds=self._window_seconds())
        latest = began + timedelta(seconds=self._after_seconds())
        came: dict[str, datetime] = {}
        waiting_in_work: set[str] = set()
        for job in jobs:
            came[job.order_id] = min(came.get(job.order_id, datetime.max.replace(tzinfo=UTC)), self._came(job))
            if job.stage is Stage.AWAITING:
                waiting_in_work.add(job.order_id)
        inside = [order for order in orders if earliest <= came[order] <= latest]
        if len(inside) != 1:
            return None
        rivals = [order for order in orders if order != inside[0] and order in waiting_in_work]
        return None if rivals else inside[0]

    def _since(self, seen: float) -> timedelta:
        """How long ago ``seen`` (this clock's monotonic time: a file's or manifest's first sight) was."""
        return timedelta(seconds=max(0.0, self.clock.monotonic() - seen))

    def _window_seconds(self) -> float:
        """How long before a file began to arrive its order's manifest came, at most, to be taken
        as that file's order (a client sends an order's PDF right after its manifest)."""
        return max(10.0, 10 * self.config.watch.settle_seconds)

    def _by_sha256(self, src: Path, candidates: list[tuple[Job, Artwork]]) -> list[tuple[Job, Artwork]]:
        """``candidates`` narrowed by the sha256 their manifests give: those of the one order whose
        sha256 is this file's; else without the orders whose sha256 is another file's."""
        digest = self._digest(src)
        if digest is None:
            return candidates
        matching = {job.order_id for job, art in candidates if art.sha256 == digest}
        if len(matching) == 1:
            return [(job, art) for job, art in candidates if job.order_id in matching]
        other = {job.order_id for job, art in candidates if art.sha256 and art.sha256 != digest}
        kept = [(job, art) for job, art in candidates if job.order_id not in other]
        return kept or candidates

    def _set_aside(self, src: Path, candidates: list[tuple[Job, Artwork]], seen: float | None = None) -> None:
        """A file that jobs of several orders wait for, whose order cannot be told: not taken (a
        wrong guess prints one order's artwork for another), moved to failed/<name>/ with an
        ERROR.txt, and each waiting job's STATUS.txt says how to give it to the right job.
        ``seen``: when the file was first seen (monotonic; one there at start: its ctime)."""
        now = self.clock.now()
        began = now if seen is None else now - self._since(seen)
        target = self._failed_folder_for(src, remember=False)
        dest = move(src, target / safe_name(src.name))
        where = self.rel(dest)
        jobs = sorted({job.job_id: job for job, _ in candidates}.values(), key=lambda j: j.job_id)
        listing = ", ".join(f"{job.job_id} (order {job.order_id})" for job in jobs)
        atomic_write(
            target / "ERROR.txt",
            error_text(
                f"{src.name} came into the inbox, and jobs of several orders wait for a file of that name: which "
                "order's it is could not be told, so none took it.",
                [
                    f"job {job.job_id} (order {job.order_id}) waits for {src.name}; its manifest came at "
                    f"{iso(self._came(job))}"
                    for job in jobs
                ]
                + [f"the file began to arrive about {iso(began)} or a little before"],
                f"Give it to the job it belongs to: spo-hotfolder replace <job id> '{dest}' (or move it into that "
                "job's replace/ when the job is in quarantine/ or failed/), then remove this folder. To avoid this, "
                "send each order in a "
                "folder of its own (inbox/<order>/manifest.yaml with its PDFs), give each file its own name, or "
                "put each file's sha256 in the manifest.",
            ),
        )
        for job in jobs:
            self._note_action(
                job.job_id,
                f"{iso(now)}  A file named {src.name} came into inbox/, but jobs of several orders wait for a file "
                f"of that name ({listing}) and which order's it is could not be told: none took it, it is in "
                f"{where}. If it is this job's: spo-hotfolder replace {job.job_id} '{dest}'",
            )
            self._still_awaiting(job, now)
            self._write_status(job.job_id)
        log.warning(
            "artwork.not_taken",
            file=self.rel(src),
            moved_to=where,
            waiting=[job.job_id for job in jobs],
            reason=f"jobs of several orders ({listing}) wait for a file named {src.name}, and which order's it is "
            "could not be told from when their manifests and the file came",
        )

    def _still_awaiting(self, job: Job, now: datetime) -> None:
        """A job waiting in work/ whose file of a shared name went elsewhere (another order's job
        took it, or it was set aside) says AwaitingData from now on, if it did not yet: its file
        had looked as if it was on its way (audit BY 2: it stayed Ordered until it failed)."""
        if job.stage is Stage.AWAITING and job.status is not JobStatus.AwaitingData:
            self._arriving.pop(job.job_id, None)
            missing = ", ".join(a.name for a in self.ledger.artwork(job.job_id) if not a.present)
            self._record(job.job_id, JobStatus.AwaitingData, SYSTEM, "waiting for " + missing, now)

    def _came(self, job: Job) -> datetime:
        """When the manifest a waiting job waits for artwork by came: first seen in this run (a
        manifest sent again for a failed or blocked job, or a reprint, included: audit CA 3); else,
        for a job that started waiting before a restart, its last change (the intake, or the
        manifest sent again), or for one whose wait timed out (failed/) its intake."""
        came = self._manifest_seen.get(job.job_id)
        if came is not None:
            return came
        return parse_iso(job.updated_at if job.stage is Stage.AWAITING else job.created_at)

    def _left_waiting(self, job: Job, art: Artwork, taker: Job) -> None:
        """A job still waiting for ``art`` after another order's job took a file of that name: it
        says AwaitingData from now on if it did not yet (its file looked as if it was on its way:
        audit BY 2, it stayed Ordered until it failed as missing), and the log says who took it."""
        log.info(
            "artwork.left_waiting",
            job_id=job.job_id,
            order_id=job.order_id,
            file=art.name,
            taken_by=taker.job_id,
            reason=f"a file named {art.name} came and was taken by job {taker.job_id} of order {taker.order_id}: "
            "jobs of several orders wait for that name, and one file is one order's artwork; this job waits on for "
            "its own file of that name",
        )
        now = self.clock.now()
        self._still_awaiting(job, now)
        # Said where the operator looks, not only in the log at once and in ERROR.txt an hour later
        # (audit CA 5).
        self._note_action(
            job.job_id,
            f"{iso(now)}  A file named {art.name} came into inbox/ and was taken by job {taker.job_id} (order "
            f"{taker.order_id}): jobs of several orders waited for that name, and by when the manifests and the "
            f"file came it was judged to be that order's. This job waits on for its own {art.name}; if that file "
            f"was this job's, send it again",
        )
        self._write_status(job.job_id)

    def _removable_from(self, folder: Path) -> bool:
        """Whether the daemon may take files out of ``folder`` (an inbox folder made by an upload
        with a umask of 022, owned by the uploader: the daemon's account can read it but not
        remove anything). False: nothing is taken from it, so that no order is half taken and
        the others go on; the log says what to fix, once per state of the folder."""
        if os.access(folder, os.W_OK | os.X_OK):
            self._unwritable.pop(folder, None)
            return True
        try:
            st = os.stat(folder)
        except OSError:
            return False
        state = (st.st_uid, st.st_gid, st.st_mode)
        if self._unwritable.get(folder) != state:
            self._unwritable[folder] = state
            log.error(
                "inbox.folder_not_writable",
                folder=self.rel(folder),
                owner=st.st_uid,
                group=st.st_gid,
                mode=stat.filemode(st.st_mode),
                reason=(
                    f"the daemon cannot take files out of {self.rel(folder)}: it may read the folder but not change "
                    f"it; nothing in it is taken until it is writable by the daemon's group ({UNWRITABLE_FIX})"
                ),
            )
        return False

    def _check_complete(self, job_id: str) -> None:
        job = self.ledger.get_job(job_id, history=False)
        if job is None or job.stage not in (Stage.AWAITING, Stage.FAILED):
            return
        artwork = self.ledger.artwork(job_id)
        if not all(a.present for a in artwork):
            self._write_status(job_id)  # STATUS.txt lists which artwork has arrived
            return
        now = self.clock.now()
        if job.stage is Stage.FAILED:
            # The missing artwork of a timed-out job arrived after all: it runs again, and the
            # history says why (it went from "artwork missing" straight to the next check).
            self._move_to(job, Stage.AWAITING, now)
            if not job.recreate:
                names = ", ".join(a.name for a in artwork)
                # (which of several files came late is not known here: all are named as the whole)
                arrived = (
                    f"the missing artwork arrived: {names}"
                    if len(artwork) == 1
                    else f"the missing artwork arrived; the job's artwork is complete: {names}"
                )
                self._record(job_id, JobStatus.RecreationRequested, SYSTEM, arrived, now)
        if job.recreate:
            info = json.loads(job.recreate)
            if info.get("uploaded"):
                self._record(job_id, JobStatus.ArtworkUploaded, info.get("by", SYSTEM), info.get("detail", ""), now)
            self._record(job_id, JobStatus.RecreationRequested, info.get("by", SYSTEM), info.get("detail", ""), now)
            full = self.ledger.get_job(job_id)
            if info.get("uploaded") and full is not None and full.active_block() is None:
                # New artwork by a manifest sent again, as by a replacement: a release in advance
                # that named the old artwork does not approve it, nor one that named none.
                self._void_narrow_release(full, "a new manifest", now, from_manifest=True)
        future = job.process_after is not None and job.process_after > iso(now)
        if future and (job.recreate or job.status is JobStatus.AwaitingData):
            # (AwaitingData: its artwork came after its intake, before its date: it is a FutureOrder
            # again, as `jobs --status FutureOrder` should list it: audit CB 3)
            self._record(job_id, JobStatus.FutureOrder, SYSTEM, f"process after {job.process_after}", now)
        self.ledger.update_job(
            job_id, now, stage=Stage.FUTURE if future else Stage.PROCESS, awaiting_until=None, recreate=None
        )
        if future and job.process_after:
            self._schedule_wakeup(parse_iso(job.process_after))
        self._write_status(job_id)
        self.wake()

    def _run_when_due(self, job_id: str, now: datetime) -> bool:
        """A job made again by an operator (new artwork, RETRY) runs now, or, while its
        process_after is still ahead, waits for it as a FutureOrder again (SPEC 5): a new
        artwork never lets an order jump its date."""
        job = self.ledger.get_job(job_id, history=False)
        assert job is not None
        if job.process_after is not None and job.process_after > iso(now):
            self._record(job_id, JobStatus.FutureOrder, SYSTEM, f"process after {job.process_after}", now, write=False)
            self._move_to(job, Stage.FUTURE, now)
            self._schedule_wakeup(parse_iso(job.process_after))
            return True
        self._move_to(job, Stage.PROCESS, now)
        return False

    def _waited_before_start(self, path: Path) -> float:
        """How long the inbox file ``path`` had been there, unclaimed, when the daemon started: since
        its ctime (when it was written or renamed into place), if that was before the start. Its
        artwork_timeout_seconds count from then: each restart gave it the whole time again (audit).
        Files that came since count from when they were seen (an upload's ctime is its end)."""
        try:
            ctime = os.stat(path).st_ctime_ns / 1e9
        except OSError:
            return 0.0
        if ctime >= self._started_wall:
            return 0.0
        return min(max(self.clock.now().timestamp() - ctime, 0.0), self.config.watch.artwork_timeout_seconds)

    def _check_orphans(self) -> None:
        """Inbox files no manifest claimed within artwork_timeout_seconds go to failed/ with ERROR.txt.

        A file at the top of inbox/ goes on its own; the files of a folder dragged into inbox/ go
        together, into one ``failed/<folder>/`` (their paths kept, one ERROR.txt), once the last of
        them has waited its time: a folder whose manifest is missing or misnamed is one mistake."""
        if self._whole_notes:
            self._withdraw_whole_notes()
        self._orphans_next = math.inf
        if not self._orphans:
            return
        limit = self.config.watch.artwork_timeout_seconds
        now = self.clock.monotonic()
        inbox = self.area("inbox")
        if not self._start_backlog_over and self._scans_done and self._scan is None and not self.tracker.any_due():
            # The files found at the start are listed and taken (their manifests too): those still
            # unclaimed count the time they had waited before it.
            self._start_backlog_over = True
            for path, waited in self._waited_before.items():
                if path in self._orphans:
                    since, sig = self._orphans[path]
                    self._orphans[path] = (since - waited, sig)
            self._waited_before.clear()
        # A while unclaimed first: a manifest that names it (artwork first, then the manifest) takes it.
        whole_wait = self._whole_wait()
        upcoming: list[float] = []  # the times still to come at which one of them is due for something
        for path, (since, sig) in list(self._orphans.items()):
            if (path, sig) in self._whole_hinted:
                continue
            if now - since >= whole_wait:
                self._whole_hinted.add((path, sig))
                self._hint_whole_again(path, sig)
            else:
                upcoming.append(since + whole_wait)
        if len(self._whole_hinted) > len(self._orphans):  # (those gone since: forgotten)
            self._whole_hinted &= {(path, sig) for path, (_since, sig) in self._orphans.items()}
        groups: dict[Path | None, list[tuple[Path, float, Signature]]] = {}
        for path, (since, sig) in self._orphans.items():
            top = None
            if path.parent != inbox:
                parts = _rel_parts(str(path), str(inbox))
                top = inbox / parts[0] if parts else None
            groups.setdefault(top, []).append((path, since, sig))
        for top, members in groups.items():
            # Each file's wait counts from when it came (or the disk was last full); a folder's files
            # go together, when the youngest is due, a file on its own when it is.
            starts = [max(since, self._disk_full_at) for _path, since, _sig in members]
            upcoming.extend(t + limit for t in ([max(starts)] if top is not None else starts) if t + limit > now)
            due = [m for m, start in zip(members, starts, strict=True) if now - start >= limit]
            if not due or (top is not None and (len(due) < len(members) or self.tracker.tracks_under(top))):
                continue  # a folder waits for its youngest file, and for those still being written
            if not all(self._removable_from(folder) for folder in {path.parent for path, _, _ in due}):
                continue  # nothing can be taken out of it: said in the log, and left as it is
            lonely: list[Path] = []
            for path, _since, sig in due:
                del self._orphans[path]
                try:
                    if signature(os.stat(path)) != sig:
                        self.tracker.track(path, activity=True)
                        continue
                except OSError:
                    continue
                waiting = self._waiting(path)
                if waiting:
                    self._take_artwork(path, waiting)
                    continue
                lonely.append(path)
            if not lonely:
                continue
            if top is None:
                for path in lonely:
                    self._fail_orphans(path, path.parent, [path], limit)
            else:
                self._fail_orphans(top, top.parent, lonely, limit)
        # Only times to come: one past (a folder still written to, one nothing can be taken out of)
        # is looked at again at the engine's next wake-up, at least every 5 s, not in a busy loop.
        self._orphans_next = min(upcoming, default=math.inf)
        self._cleanup_consumed_dirs()

    def _whole_wait(self) -> float:
        """How long a file no manifest claimed waits before the engine looks once more for a manifest
        naming it (``_hint_whole_again``)."""
        watch = self.config.watch
        return min(max(WHOLE_AGAIN_SECONDS, 5 * watch.settle_seconds), watch.artwork_timeout_seconds / 2)

    def _failed_folder_for(self, top: Path, *, remember: bool) -> Path:
        """The ``failed/`` folder for the inbox entry ``top``: the one its files with names that are
        not UTF-8 went to in this run, else a new one (``remember``: for the next such file)."""
        target = self._bad_name_targets.get(top)
        if target is not None and target.is_dir():
            return target
        target = self._new_failed_folder(top.name)
        target.mkdir(parents=True)
        if remember:
            self._bad_name_targets[top] = target
        return target

    def _fail_orphans(self, name: Path, base: Path, paths: list[Path], limit: float) -> None:
        """``paths`` (one file at the top of inbox/, or the files of the inbox folder ``name``) to
        ``failed/<name>/``, kept at their paths under ``base``, with one ERROR.txt."""
        target = self._failed_folder_for(name, remember=False)
        moved: list[str] = []
        for path in paths:
            relative = path.relative_to(base)
            if len(relative.parts) > 1:
                relative = Path(*(safe_name(part) for part in relative.parts[1:]))  # inside target
            dest = target / relative
            dest.parent.mkdir(parents=True, exist_ok=True)
            moved.append(move(path, dest).relative_to(target).as_posix())
            if path.parent != self.area("inbox"):
                self._consumed_dirs.add(path.parent)
        single = len(paths) == 1 and name == paths[0]
        what = self.rel(paths[0]) if single else f"{self.rel(name)}/ ({len(paths)} file{'s' if len(paths) > 1 else ''})"
        upload = upload_target(paths[0]) if single and not undecodable(str(paths[0])) else None
        linked = single and (target / moved[0]).is_symlink()
        if upload is not None:
            # Not "no manifest referred to it": the manifest names the file it stands for (audit CA 6).
            problems = [
                f"it is the temporary name an upload program gives {upload.name} until the upload is complete, and "
                f"it was not renamed to {upload.name} within {limit:g} seconds"
            ]
            for job_id, _ in self.ledger.waiting_for(str(upload))[:5]:
                problems.append(f"job {job_id} waits for {upload.name}")
        else:
            refused = self._refused_naming(paths[0].name, limit) if single else []
            problems = [
                f"no manifest that the daemon took in referred to {'it' if single else 'them'} within {limit:g} "
                "seconds of arrival"
                + (
                    ""
                    if refused
                    else " (a manifest that names them but was refused is in failed/, with its own ERROR.txt)"
                )
            ]
            problems += [
                f"the manifest in {folder}/ names it but was refused: see {folder}/ERROR.txt; put "
                + ("the file this link points to" if linked else "this file")
                + " into inbox/ again together with the corrected manifest"
                for folder in refused
            ]
            if linked:
                # (audit Q: "put this file into inbox/ again", and the link would be refused again)
                problems.append(
                    SYMLINK_PROBLEM.format(name=f"{moved[0]} (now in {self.rel(target)}/)") + " into inbox/"
                )
        for path in paths:
            for job_id in self.ledger.rejected_waiting_for(path.name):
                rejected = self.ledger.get_job(job_id, history=False)
                problems.append(
                    f"job {job_id} waited for a file of this name and was rejected before it came (it is in "
                    f"{rejected.folder if rejected else 'rejected'}/): a rejected job takes no files. To print it, "
                    "send its manifest again with reprint: true, together with this file"
                )
            for job_id in self.ledger.held_with(path.name):
                job = self.ledger.get_job(job_id, history=False)
                if job is None:
                    continue
                art = next((a for a in self.ledger.artwork(job_id) if a.name == path.name), None)
                if art is not None and not art.present:
                    # (a folder renamed after its manifest was taken: the job waited at the old path)
                    expected = f" at {self.rel(Path(art.source))}" if art.source else ""
                    problems.append(
                        f"job {job_id} waited for an artwork file of this name{expected}, not where this one "
                        f"was ({self.rel(path)}); it is in {job.folder}/ ({job.status.value}): if this file "
                        f"is meant for that job, put it into {job.folder}/replace/"
                    )
                else:
                    problems.append(
                        f"job {job_id}'s artwork {path.name} has this name; that job waits in {job.folder}/ "
                        f"({job.status.value}), and a file of that name put into the inbox is not taken for a "
                        f"job that has its artwork: if it is meant for that job, put it into {job.folder}/replace/"
                    )
            for job_id, _, source in self.ledger.waiting_as(str(path.parent), path.name):
                wanted = Path(source)
                if wanted.name != path.name:
                    # Not taken: another file's name differs from the wanted one as little (audit BA 2).
                    problems.append(
                        f"job {job_id} waits for {wanted.name!r}, a name that differs from this file's only in letter "
                        "case or Unicode form, as another file's did: which one is meant was not guessed. Put the "
                        f"right one into inbox/ again named {wanted.name!r}"
                    )
            stem, dot, ext = path.name.rpartition(".")
            if dot and ext.lower() == "txt" and stem.lower().endswith(MANIFEST_SUFFIXES):
                problems.append(
                    f"if {path.name} is a manifest: its name ends in .txt, so it is not taken as one (Windows hides "
                    f"known extensions: it shows as {stem}); rename it to {stem}"
                )
            elif path.name.lower().endswith(MANIFEST_SUFFIXES) and (single or path.parent != name):
                problems.append(
                    f"if {path.name} is a manifest: manifests are taken at the top of inbox/, or as manifest.yaml, "
                    "manifest.yml or manifest.json in a folder directly inside inbox/; not under another name "
                    "in a folder, nor deeper"
                )
            elif path.name.lower().endswith(MANIFEST_SUFFIXES):
                problems.append(
                    f"if {path.name} is the order's manifest: in a folder, a manifest must be named manifest.json, "
                    f"manifest.yaml or manifest.yml; rename it (in inbox/{name.name}/) and put the folder back"
                )
        listing = "" if single else "Files: " + ", ".join(moved) + ". "
        before = ""
        with contextlib.suppress(OSError):
            before = (target / "ERROR.txt").read_text("utf-8") + "\n"
        atomic_write(
            target / "ERROR.txt",
            before
            + error_text(
                f"{what} arrived in the inbox: an upload that never finished."
                if upload is not None
                else f"{what} arrived in the inbox but no manifest that was taken in named "
                f"{'it' if single else 'them'}.",
                problems,
                listing
                + (
                    "The file is most likely cut off (an upload program such as WinSCP, a browser or an FTP client "
                    f"renames it once it is complete). Send {moved[0][: -len(upload_suffix(moved[0]))]} again, whole "
                    "(into the job's replace/ if its job waits in failed/ or quarantine/)."
                    if single and upload_suffix(moved[0])
                    else f"If it belongs to an order, put the file {moved[0]} points to (a copy, not a link) into "
                    "inbox/ together with a manifest that lists it under artwork (the path is relative to the "
                    "manifest's folder)."
                    if linked
                    else f"If it belongs to an order, put {moved[0]} back into inbox/ together with a manifest that "
                    "lists it under artwork (the path is relative to the manifest's folder)."
                    if single
                    else "If they belong to an order, put the folder back into inbox/ with its manifest in it, "
                    "named manifest.json, manifest.yaml or manifest.yml, that lists them under artwork (paths "
                    "relative to the folder); remove ERROR.txt first."
                ),
            ),
        )
        log.warning("inbox.orphan", file=str(name), files=len(paths), folder=self.rel(target))

    def _cleanup_consumed_dirs(self) -> None:
        """Removes inbox folders whose manifest was taken, once nothing is left in them.

        Only folders a manifest came in are touched: an operator's new, still empty folder stays,
        and so does one a job still waits for artwork in (the rest of the upload goes into it).
        """
        inbox = self.area("inbox")
        now = self.clock.monotonic()
        for folder in sorted(self._consumed_dirs, key=lambda p: len(p.parts), reverse=True):
            if not undecodable(str(folder)) and self.ledger.awaits_under(str(folder)):
                self._empty_since.pop(folder, None)
                continue  # its client is still to send artwork into it: removing it would fail the upload
            if not self._quiet_and_empty(folder, now):
                continue
            for sub, _dirs, _files in os.walk(folder, topdown=False):
                if Path(sub) != folder:
                    with contextlib.suppress(OSError):
                        os.rmdir(sub)
            current = folder
            while current != inbox and inbox in current.parents:
                if current != folder and not undecodable(str(current)) and self.ledger.awaits_under(str(current)):
                    break  # a folder above, dragged in with the manifest, still to receive artwork
                try:
                    current.rmdir()
                except OSError:
                    break
                current = current.parent
            if not folder.exists():
                self._consumed_dirs.discard(folder)
        for gone in [f for f in self._empty_since if f not in self._consumed_dirs]:
            del self._empty_since[gone]  # (renamed meanwhile: followed under its new name)
        quiet = self._quiet_seconds()
        self._cleanup_at = min((since + quiet for since, _ in self._empty_since.values()), default=math.inf)

    def _quiet_and_empty(self, folder: Path, now: float) -> bool:
        """``folder`` (an order folder whose files were all taken) has held no file, and not
        changed, for ``_quiet_seconds``: its client is done with it. A folder is uploaded a file at
        a time (Explorer, smbclient, FileZilla, WinSCP): removed the moment its last named file was
        taken, the next file its client sent (a note, a preview, the artwork of a manifest sent
        again) failed on the client ("path not found"; audit, clients F1). Looked at once when
        found empty and once when its quiet time is over (not at every call: a burst of folder
        drops leaves hundreds waiting)."""
        seen = self._empty_since.get(folder)
        if seen is not None and now - seen[0] < self._quiet_seconds():
            return False
        try:
            changed = folder.stat().st_mtime_ns
        except OSError:
            self._empty_since.pop(folder, None)
            return True  # (gone, or cannot be looked at: tried as before)
        if _holds_files(folder):
            self._empty_since.pop(folder, None)
            return False
        if seen is None or seen[1] != changed:
            self._empty_since[folder] = (now, changed)  # (the engine wakes for it: _wait_seconds)
            return False
        del self._empty_since[folder]
        return True

    def _quiet_seconds(self) -> float:
        return max(2.0, 3 * self.config.watch.settle_seconds)

    # -- time-driven work -------------------------------------------------------------------

    def _run_due(self) -> None:
        now = self.clock.now()
        due = self.ledger.due_jobs(now)
        if due:
            # The scheduler wakes the engine at one time at a time (reconcile: the earliest): the
            # next one after those due now is set here. Else a retry or a deadline due a few seconds
            # after a start with overdue work waited for a step woken by something else (audit).
            later = self.ledger.next_due(after=now)
            if later:
                self._schedule_wakeup(parse_iso(later))
        for job_id, stage in due:
            if self.stop_event.is_set():
                return
            job = self.ledger.get_job(job_id)
            if job is None or job.stage is not stage:
                continue
            if stage is Stage.RETRY:
                # (the output to make again, after a full disk stopped it; else the copy)
                again = Stage.PROCESS if job.status is JobStatus.OutputCreationFailed else Stage.DELIVER
                self.ledger.update_job(job_id, now, stage=again, next_attempt_at=None)
            elif stage is Stage.FUTURE:
                self.ledger.update_job(job_id, now, stage=Stage.PROCESS)
            elif stage is Stage.AWAITING:
                self._guard("job", job_id, lambda j=job: self._artwork_timeout(j))  # type: ignore[misc]

    def _artwork_timeout(self, job: Job) -> None:
        missing = [a for a in self.ledger.artwork(job.job_id) if not a.present]
        if not missing:
            self._check_complete(job.job_id)
            return
        held = [self.tracker.held_until(Path(a.source)) if a.source else None for a in missing]
        if all(until is not None for until in held):
            # Every file it waits for is there, unchanged, and held a moment longer only because it
            # looks incomplete (an empty file: SPEC 5 has it taken once stable, and fail preflight as
            # empty; audit BD 1): the job waits for that, not "artwork missing ... still changing".
            wait = max(until for until in held if until is not None) - self.clock.monotonic() + 0.5
            until = self.clock.now() + timedelta(seconds=max(wait, 0.5))
            self.ledger.update_job(job.job_id, self.clock.now(), awaiting_until=iso(until))
            self._schedule_wakeup(until)
            return
        names = [f"{a.name} (expected at {self.rel(Path(a.source)) if a.source else a.name})" for a in missing]
        problems = [
            self._why_not_taken(a.name, Path(a.source), job) if a.source else f"missing: {a.name}" for a in missing
        ]
        limit = self.config.watch.artwork_timeout_seconds
        now = self.clock.now()
        self._fail(
            job.job_id,
            JobFailed(
                None,
                f"artwork missing after {limit:g} seconds: " + ", ".join(a.name for a in missing),
                problems,
                "Put the missing files into inbox/ where the manifest says (they are taken as soon as they are "
                "complete), or put them into this folder's replace/ folder, or drop REJECT here.",
            ),
            now,
        )
        # (recorded last: whoever sees it finds failed/<job>/ERROR.txt)
        self._record(job.job_id, JobStatus.ValidationFailed, SYSTEM, "artwork missing: " + ", ".join(names), now)

    def _near_misses_in_failed(self, source: Path, job: Job) -> list[str]:
        """Files of failed/ (``failed/<name>[-n]/<name>``, where unclaimed files go) named as
        ``source``, or differing from it only in letter case or Unicode form, that went there since
        a while before ``job`` came (not an old order's), as paths from the root."""
        key = name_key(source.name)
        since = parse_iso(job.created_at).timestamp() - 2 * self.config.watch.artwork_timeout_seconds
        found: list[str] = []
        with contextlib.suppress(OSError), os.scandir(self.area("failed")) as entries:
            for entry in entries:
                base = re.sub(r"-\d+$", "", entry.name)
                file = Path(entry.path) / base
                with contextlib.suppress(OSError):
                    if name_key(base) == key and file.is_file() and entry.stat().st_mtime >= since:
                        found.append(self.rel(file))
        return sorted(found)

    def _earlier_artwork(self, job: Job, name: str) -> str | None:
        """The newest file of ``name`` that the job's artwork/ had before a new manifest or a reprint
        set it aside (``history/<time>-artwork-<name>``), or None."""
        folder = self._locate(job)
        if folder is None:
            return None
        with contextlib.suppress(OSError):
            kept = sorted(p.name for p in (folder / "history").iterdir() if p.name.endswith(f"-artwork-{name}"))
            return kept[-1] if kept else None
        return None

    def _unfinished_upload_in_failed(self, source: Path) -> str | None:
        """``'x.pdf.filepart' (now in failed/x.pdf.filepart/)`` when the cut-off upload of ``source``
        from the top of inbox/ went to failed/ unclaimed before its job's time ran out."""
        if source.parent != self.area("inbox"):
            return None
        for suffix in UPLOAD_SUFFIXES:
            folder = self.area("failed") / f"{source.name}{suffix}"
            if (folder / folder.name).is_file():
                return f"{folder.name!r} (now in failed/{folder.name}/)"
        return None

    def _why_not_taken(self, name: str, source: Path, job: Job) -> str:
        """Why an artwork file was not taken in time, in words: absent (or taken by another order's
        job), ignored by name, or unfinished."""
        where = self.rel(source)
        if not os.path.lexists(source):
            # Another order's job that took a file of this name from the inbox's top (in folder drops
            # each order has its own) since a while before this job came: named, not just "missing".
            since = iso(parse_iso(job.created_at) - timedelta(seconds=self.config.watch.artwork_timeout_seconds))
            taker = (
                self.ledger.taken_with_name(source.name, since, job.job_id)
                if source.parent == self.area("inbox")
                else None
            )
            if taker is not None:
                return (
                    f"missing: {name} (expected at {where}); a file of that name came and was taken by job "
                    f"{taker[0]} (order {taker[1]}), whose manifest names it too: one file is one job's artwork. "
                    f"If both need it, put it into inbox/ again (or into this folder's replace/)"
                )
            near = _near_misses(source)
            if len(near) == 1:
                other, how = near[0]
                return (
                    f"missing: {name} (expected at {where}); a file named {other!r} is there, whose name differs "
                    f"{how}: rename it to {source.name!r}, or correct the manifest"
                )
            if near:
                others = ", ".join(repr(other) for other, _ in near)
                return (
                    f"missing: {name} (expected at {where}); files named {others} are there, whose names differ "
                    f"from it only in letter case or Unicode form, and which one is meant is not guessed: rename "
                    f"the right one to {source.name!r} (and the others to names of their own)"
                )
            gone = self._near_misses_in_failed(source, job)
            if gone:
                # They came before the manifest, and their time ran out first (audit BB 4, BC 2).
                what = "a file of this name, or one" if len(gone) == 1 else "files of this name, or"
                return (
                    f"missing: {name} (expected at {where}); {what} whose name differs from it only in letter "
                    f"case or Unicode form, came into inbox/ and went to failed/ without being taken by this job "
                    f"(its ERROR.txt there says why): {', '.join(gone)}; move the right one into this folder's "
                    f"replace/ as {source.name!r}"
                )
            beside = upload_beside(source)
            upload = repr(beside) if beside is not None else self._unfinished_upload_in_failed(source)
            if upload is not None:
                return (
                    f"missing: {name} (expected at {where}); an upload of it under the temporary name {upload} "
                    "never finished (the upload program renames the file once it is complete): send the whole file "
                    "again, into this folder's replace/"
                )
            earlier = self._earlier_artwork(job, source.name)
            if earlier is not None:
                # A manifest sent again with other facts (a quantity) and no artwork: the job's own
                # file of that name was set aside for the new one (audit BA 1).
                return (
                    f"missing: {name} (expected at {where}); a new manifest replaced the job's artwork, and its "
                    f"earlier file of that name is kept in history/{earlier}: if that is the one to print, copy it "
                    f"into replace/ as {source.name}"
                )
            for parent in source.parents:
                if parent == self.area("inbox") or self.area("inbox") not in parent.parents:
                    break
                moved = self._moved_specials.get(parent)
                if moved is not None:
                    return (
                        f"missing: {name} (expected at {where}); {self.rel(parent)} was a symbolic link, which the "
                        f"daemon does not follow (it could name any file on the server): it is in {self.rel(moved)}/ "
                        "with an ERROR.txt. Put the files themselves into inbox/ (a copy, not a link), or the PDF "
                        "into this folder's replace/"
                    )
            return f"missing: {name} (expected at {where})"
        parts = _rel_parts(str(source), str(self.area("inbox"))) or []
        ignored = [part for part in parts if self.ignored(part)]
        if ignored:
            return (
                f"{name} is at {where}, but the name {ignored[0]!r} matches watch.ignore, so the daemon never takes "
                "it: rename it (and the manifest's reference), or change watch.ignore"
            )
        if not os.access(source.parent, os.W_OK | os.X_OK):
            return (
                f"{name} is at {where}, but the daemon cannot take files out of {self.rel(source.parent)} (it may "
                f"read the folder, not change it): make the folder writable by the daemon's group ({UNWRITABLE_FIX})"
            )
        if open_for_writing(source):
            return f"{name} is at {where}, but some program still has it open for writing (an upload not finished)"
        return (
            f"{name} is at {where}, but it was still changing (an upload that stalled or is very slow): the "
            "daemon takes a file once it has stayed unchanged for watch.settle_seconds"
        )

    # -- processing -------------------------------------------------------------------------

    def _run_jobs(self) -> None:
        if self.pdf is None:  # an operator command acting offline: the daemon does the work later
            return
        mono = self.clock.monotonic()
        try:
            for _ in range(10_000):
                if self.stop_event.is_set():
                    return
                ids = [
                    j for j in self.ledger.job_ids([Stage.PROCESS, Stage.DELIVER]) if self._cooldown.get(j, 0.0) <= mono
                ]
                if not ids:
                    return
                self._queue_running = True
                self._run_queue(ids)
        finally:
            self._queue_running = False

    def _run_queue(self, ids: list[str]) -> None:
        for index, job_id in enumerate(ids):
            if self.stop_event.is_set():
                return
            if self._pending_config is not None:
                # A reload applies between two jobs, not once the queue is empty (which under a
                # steady stream of orders may be never): the next job goes where the new routes say.
                self._apply_config(self._pending_config)
            self._run_job(job_id, ids[index + 1 : index + 1 + PREFETCH_LOOKAHEAD])
            self._guard("intake", "", self._finish_intakes)
            # Between jobs, take in a few files that arrived meanwhile, so that intake never
            # starves; a few, so that a backlog of thousands does not starve deliveries either
            # (each delivered job makes room for about one more taken in).
            self._drain_hints()
            if self.tracker.any_due():
                self._take_stable(budget=0.01, limit=4)

    def _reject_first(self, job: Job) -> bool:
        """A job sent on (released, retried) whose folder is still in quarantine/ or failed/ (a crash
        came between the ledger's commit and the folder's move) with a REJECT file in it, which an
        operator dropped there meanwhile (its STATUS.txt still offered it): the REJECT is handled
        first, as a drop file, and the job waits for it (a job never prints when someone also
        rejected it; audit AU 1). True: the job waits a moment. Only jobs that ``_reconcile_job``
        left there are looked at (no file system call on a job's ordinary way)."""
        until = self._reject_first_until.get(job.job_id)
        if until is None:
            return False
        folder = self._locate(job)
        waiting = self._reject_waiting(folder) if folder is not None else None
        mono = self.clock.monotonic()
        if folder is None or waiting is None or mono > until:
            # (read and answered; or a REJECT file that is never read, e.g. unreadable: not for long)
            del self._reject_first_until[job.job_id]
            return False
        self.hint(folder / waiting)
        self._cooldown[job.job_id] = mono + max(self.config.watch.settle_seconds, 0.5)
        return True

    def _work_drops_first(self, job: Job) -> bool:
        """A job going on in work/ (after waiting there for its artwork, its date or a copy retry)
        with a drop file in its folder: the drop file is read first, as in quarantine/ (audit
        12-05 F 1, 2: a REJECT dropped while a copy waited for its retry was ignored and the job
        printed; a RELEASE dropped before the output existed was read once the job reached
        quarantine/, and recorded as approving an output nobody had seen). The job waits a moment
        for it (True). One listing of the job's folder; work/ is not watched (_work_drop_files)."""
        if job.stage not in (Stage.PROCESS, Stage.DELIVER):
            return False
        folder = self.job_dir(job)
        if folder.parent != self.area("work"):
            return False
        names = self._drop_files_in(folder)
        if not names:
            self._work_drops_until.pop(job.job_id, None)
            return False
        mono = self.clock.monotonic()
        # Long enough for an empty drop file (read once it stayed empty that long) and a settle period.
        wait = self.tracker.incomplete_pdf_seconds + 2 * self.config.watch.settle_seconds + 1.0
        if mono > self._work_drops_until.setdefault(job.job_id, mono + wait):
            return False  # (a drop file that is never read, unreadable: it does not hold the job for ever)
        for name in names:
            if folder / name not in self.tracker:
                self.tracker.track(folder / name, activity=False)
        self._cooldown[job.job_id] = mono + max(self.config.watch.settle_seconds, 0.5)
        return True

    def _run_job(self, job_id: str, next_ids: Sequence[str] = ()) -> None:
        """One step of one job; the one place where an exception becomes a job outcome.
        ``next_ids``: the jobs queued after it (the worker checks the next one meanwhile)."""
        job = self.ledger.get_job(job_id, history=False)
        if job is None:
            return
        self.busy_job = job_id
        self.progress_at = self.clock.monotonic()
        order_id = job.order_id

        def bound() -> Any:  # bound on demand: most jobs log nothing here
            return log.bind(job_id=job_id, order_id=order_id)

        try:
            if self._reject_first(job) or self._work_drops_first(job):
                return
            if job.stage is Stage.PROCESS:
                self._process(job, next_ids)
                # Straight on to delivery: a job's output never waits for other jobs' checks.
                fresh = self.ledger.get_job(job_id, history=False)
                if fresh is not None and fresh.stage is Stage.DELIVER and not self.stop_event.is_set():
                    job = fresh
                    self._deliver(job)
            elif job.stage is Stage.DELIVER:
                self._deliver(job)
        except JobFailed as failure:
            try:
                self._fail(job_id, failure, self.clock.now(), status=failure.status)
            except sqlite3.OperationalError as exc:  # (its record not made: the job fails again, later)
                self._ledger_trouble(job_id, exc)
        except InterruptedError:
            bound().info("job.abandoned", reason="the daemon is stopping; the job resumes at the next start")
        except sqlite3.OperationalError as exc:
            self._ledger_trouble(job_id, exc)
        except Exception as exc:  # noqa: BLE001 - contain it: the daemon serves the other jobs
            if is_disk_full(exc):  # (a folder that cannot be made on a full disk): not the job's fault
                self._spool_full(job_id, exc)
                return
            bound().exception("job.internal_error", stage=job.stage.value)
            self._cooldown[job_id] = self.clock.monotonic() + 5.0
            try:
                now = self.clock.now()
                self._fail(
                    job_id,
                    JobFailed(
                        None,
                        f"internal error while handling the job ({type(exc).__name__}: {exc})",
                        [f"{type(exc).__name__}: {exc}"],
                        "Drop a file named RETRY here to try again; if it fails again, tell the administrator "
                        "(the daemon's log has the details).",
                    ),
                    now,
                )
            except Exception:  # noqa: BLE001 - e.g. the ledger itself is locked: try again later
                bound().exception("job.cannot_record_failure")
        finally:
            self._drop_prestage(job_id)
            self.busy_job = None
            if self.clock.monotonic() - self._status_flushed_at >= STATUS_FLUSH_SECONDS:
                self._guard("status", job_id, lambda: self.flush_status(skip_runnable=True))

    def _spool_full(self, job_id: str, exc: BaseException) -> None:
        """A job step stopped by the full spool disk (the ledger, a folder): the job stays where it
        is and is tried again in a few seconds."""
        self._cooldown[job_id] = self.clock.monotonic() + DISK_FULL_RETRY_SECONDS
        self._spool_full_said(exc, job_id=job_id)

    def _artwork_changed_since_check(self, job: Job) -> list[str]:
        """The names of the job's artwork files whose content is not what its last check read
        (``preflight.artwork_sha256``); none when there was no check, or no such record."""
        recorded = (job.preflight or {}).get("artwork_sha256") or []
        inputs = self._inputs(job)
        if len(recorded) != len(inputs):
            return []
        changed = []
        for item, digest in zip(inputs, recorded, strict=True):
            current = self._digest(Path(item.path))
            if digest and current is not None and current != digest:
                changed.append(item.name)
        return changed

    def _inputs(self, job: Job) -> list[ArtworkInput]:
        job_dir = self.job_dir(job)
        return [
            ArtworkInput(name=a.name, path=str(job_dir / "artwork" / a.name), expected_sha256=a.sha256)
            for a in self.ledger.artwork(job.job_id)
        ]

    def facts(self, job: Job) -> RouteFacts:
        return RouteFacts.of(job)

    def _process(self, job: Job, next_ids: Sequence[str] = ()) -> None:
        if self.pdf is None:
            return
        job_dir = self.job_dir(job)
        inputs = self._inputs(job)
        links = [i.name for i in inputs if os.path.islink(i.path)]  # noqa: PTH114 - str paths, per job
        if links:
            raise JobFailed(
                JobStatus.ValidationFailed,
                "artwork is a symbolic link, not a file: " + ", ".join(links),
                [SYMLINK_PROBLEM.format(name=name) for name in links],
                "Put the PDF itself (not a link to it) into replace/ (same file name), or drop REJECT here.",
            )
        missing = _artwork_missing_failure(inputs)
        if missing is not None:
            raise missing
        spec = self.config.product_spec(job.product)
        self._prestage(job, inputs)
        answer = self._finish_early_check(job, inputs)
        if answer is None:
            started = time.monotonic()
            answer = self.pdf.check(inputs, job.product, spec, self.config.validation)
            self.metrics.observe("preflight", time.monotonic() - started)
        report, as_is = answer
        # The worker checks the next job while this one's output is made here (a link) and
        # delivered; an output the worker makes comes first, so the next check begins after it.
        linked = report.ok and as_is and len(inputs) == 1
        if not linked or job.blocked:
            self._drop_prestage(job.job_id)  # (not what is printed, if anything is)
        if linked or not report.ok:
            self._begin_next_check(next_ids)
        if (
            self.stop_event.is_set()
            and not report.ok
            and report.findings
            and report.findings[0].check in ("open", CHECKER)
        ):
            raise InterruptedError("stopping")
        if self.stop_event.is_set() and report.ok and not linked:
            # A stop that came during the check: the output (a worker's build, which may take as
            # long again) is not begun; the job is checked again at the next start (audit 12-05 G).
            raise InterruptedError("stopping")
        now = self.clock.now()
        if len(report.artwork_sha256) == len(inputs):
            for item, digest in zip(inputs, report.artwork_sha256, strict=True):
                if digest:
                    self._remember_digest(Path(item.path), digest)
        if not report.ok:
            self.ledger.update_job(job.job_id, now, preflight=report.to_json())
            raise JobFailed(
                JobStatus.ValidationFailed,
                report.summary(),
                [report.described(f) for f in report.errors()]
                + [f"(warning) {report.described(f)}" for f in report.warnings()],
                _preflight_fix(
                    {_fix_kind(f) for f in report.errors()},
                    several=len(inputs) > 1,
                    check_again=any(f.check == "open" and _check_cut_short(f.message) for f in report.errors()),
                ),
            )
        decision = decide_route(self.facts(job), self.config)
        name = output_name(self.facts(job), decision, self.config)
        # A job whose last entry is OutputCreationStarted was being made when the daemon stopped
        # (a crash, a power cut): the history says why the two entries come again.
        again = (
            " (again: its making was cut short, by a stop or a full disk)"
            if job.status is JobStatus.OutputCreationStarted
            else ""
        )
        with self.ledger.transaction():  # no file changes between these three: one commit
            self.ledger.update_job(job.job_id, now, preflight=report.to_json())
            self._record(job.job_id, JobStatus.ValidationFinished, SYSTEM, report.summary() + again, now)
            self._record(job.job_id, JobStatus.OutputCreationStarted, SYSTEM, name + again, now)
        if report.warnings():
            # Seen by whoever reads the log at warning level, with the job it belongs to.
            log.warning(
                "preflight.warnings",
                job_id=job.job_id,
                order_id=job.order_id,
                warnings=[report.described(f) for f in report.warnings()],
            )
        out_dir = job_dir / "output"
        out_dir.mkdir(exist_ok=True)
        for old in out_dir.iterdir():
            if old.name != name:
                into_history(job_dir, old, self.clock.now(), f"output-{old.name}")
        started = time.monotonic()
        try:
            if linked:
                # The artwork is print-ready as it is: the output is a link to it, made here.
                result = link_unchanged(inputs[0], str(out_dir / name), report.pages)
            else:
                result = self.pdf.build_output(
                    inputs, str(out_dir / name), spec, self.config.validation, while_waiting=self._meanwhile
                )
                self._begin_next_check(next_ids)
        except OutputError as exc:
            if self.stop_event.is_set():
                raise InterruptedError("stopping") from exc
            if exc.full and self._output_again_later(job, str(exc)):
                return
            fix = (
                "Nothing is known to be wrong with the PDF: the daemon's own folder or disk is the cause. Once it "
                "is fixed (free some space, or ask the administrator), drop a file named RETRY here; or REJECT."
                if exc.spool
                else "Put a corrected PDF into replace/, or drop RETRY here once the cause is fixed, or REJECT."
            )
            reason = str(exc) if str(exc).startswith("the output could not") else f"the output could not be made: {exc}"
            if exc.full and self.config.delivery.max_attempts > 1:
                reason += f" (all {self.config.delivery.max_attempts} attempts failed)"
            raise JobFailed(JobStatus.OutputCreationFailed, reason, [str(exc)], fix) from exc
        self.metrics.observe("output", time.monotonic() - started)
        # Read-only from here: the checked output cannot be saved over in place (Acrobat's Save, a
        # file explorer's "Replace"), and in a job with one artwork file that would change the
        # artwork as received too (the same file). A replacement goes into replace/.
        _read_only(out_dir / name, *(Path(item.path) for item in inputs))
        now = self.clock.now()
        with self.ledger.transaction():
            self.ledger.update_job(
                job.job_id,
                now,
                output=name,
                output_pages=result.pages,
                output_size=result.size_bytes,
                route=decision.target,
                attempts=0,  # (attempts to make the output on a full disk) the delivery counts its own
            )
            pages = f"{result.pages} page{'s' if result.pages != 1 else ''}"
            self._record(job.job_id, JobStatus.OutputCreated, SYSTEM, f"{name} ({pages})", now, write=False)
            # With its content's sha256, where known: a time stamp changed alone (touch, a backup
            # tool) is not a changed output (audit BV 1).
            content = result.sha256 or (
                report.artwork_sha256[0] if result.copied_unchanged and report.artwork_sha256 else None
            )
            sig = _file_sig(out_dir / name)
            self.ledger.set_output_sig(job.job_id, f"{sig}#{content}" if content else sig)
            fresh = self.ledger.get_job(job.job_id, history=False)
            assert fresh is not None
            next_stage = Stage.HELD if fresh.blocked else Stage.DELIVER
            not_moved = self._record_stage(job.job_id, next_stage, now)
        if not_moved is not None:
            raise not_moved
        if next_stage is Stage.HELD:
            self._drop_prestage(job.job_id)
            log.info("job.held", job_id=job.job_id, order_id=job.order_id, folder=f"quarantine/{job.job_id}")

    def _output_again_later(self, job: Job, reason: str) -> bool:
        """An output the full spool disk stopped (SPEC 8: a full disk fails the affected jobs with a
        clear reason and retries): OutputCreationFailed "attempt n of max, ...; next attempt at
        ...", and made again after delivery.backoff_seconds, as a copy is; False after the last
        attempt (the job then goes to failed/, RETRY once there is space)."""
        now = self.clock.now()
        attempts = job.attempts + 1
        limit = self.config.delivery.max_attempts
        self.ledger.update_job(job.job_id, now, attempts=attempts)
        if attempts >= limit:
            return False
        when = now + timedelta(seconds=self.config.delivery.backoff(attempts))
        detail = f"attempt {attempts} of {limit}, {reason}; next attempt at {iso(when)}"
        self._record(job.job_id, JobStatus.OutputCreationFailed, SYSTEM, detail, now)
        log.warning(
            "output.failed",
            job_id=job.job_id,
            order_id=job.order_id,
            attempt=attempts,
            max_attempts=limit,
            reason=f"{reason}; the daemon tries again at {iso(when)} (free some space)",
        )
        self.ledger.update_job(job.job_id, now, stage=Stage.RETRY, next_attempt_at=iso(when))
        self._write_status(job.job_id)
        self._schedule_wakeup(when)
        return True

    def _meanwhile(self) -> None:
        """While the worker makes a big output (seconds, up to its time limit): new orders are taken
        in, recorded Ordered and their artwork claimed, so that intake never waits for one PDF.
        Only what needs neither the PDF worker nor a job already known: operator drop files,
        commands and manifests that name known jobs stay where they are until the job's turn ends."""
        self.progress_at = self.clock.monotonic()
        if self.stop_event.is_set():
            return
        self._drain_hints()
        if not self.tracker.any_due():
            return
        for path, sig in self.tracker.get_stable_files(limit=20):
            kind, _ = self._classify(path)
            if kind not in ("manifest", "data"):
                self.tracker.track(path, activity=False, complete=True)  # for the next step
                continue
            self._new_only = True
            try:
                self._guard("file", str(path), lambda p=path, s=sig: self._on_stable(p, s))  # type: ignore[misc]
            finally:
                self._new_only = False

    # -- delivery ---------------------------------------------------------------------------

    def _deliver(self, job: Job) -> None:
        # The output's copy begun with its check (_prestage), if any: renamed into place instead of
        # a copy made now where it is the copy this delivery makes (one not taken is given up by
        # _run_job).
        pre = self._prestaged.get(job.job_id)
        if pre is not None:
            self._prestage_copied(pre)  # (first: its hot folder's thread makes one call at a time)
        try:
            if self._published_before(job, prestaged=pre):
                return
            undecided = self.ledger.undecided_delivery(job.job_id)
            if undecided is not None:
                # (audit CM 2) Its hot folder cannot be looked into (not there, not mounted): whether
                # the PDF is in it cannot be told, and the job is copied nowhere (not to another hot
                # folder a reload or a new manifest names) until it can.
                raise DeliveryError(
                    f"whether {Path(undecided.final_path).name} arrived in hot folder {undecided.hot_folder} cannot be "
                    f"told: {Path(undecided.temp_path).parent} is not there or not mounted",
                    transient=True,
                )
        except DeliveryError as exc:  # (the hot folder of an attempt cut short does not answer)
            undecided = self.ledger.undecided_delivery(job.job_id)
            if undecided is not None:
                exc = DeliveryError(
                    f"{exc}; {_may_still_arrive(undecided.final_path, undecided.hot_folder)}", transient=exc.transient
                )
            self._delivery_failed(job, undecided.hot_folder if undecided else job.route or "", exc)
            return
        facts = self.facts(job)
        decision = decide_route(facts, self.config)
        now = self.clock.now()
        if job.route is not None and job.route != decision.target and job.job_id not in self._rerouted:
            # The routes changed while the daemon was stopped (a reload updates the recorded route
            # and says so then): said now, when it takes effect (audit AT 6: a job waiting to retry
            # a hot folder removed from the config went to another one without a word).
            (log.warning if decision.hot_folder is None else log.info)(
                "job.route_changed",
                job_id=job.job_id,
                order_id=job.order_id,
                old=job.route,
                new=decision.target,
                reason=f"the config's routes changed since this job's route was decided: {decision.reason}",
            )
        if decision.hot_folder is None:
            was = self._rerouted.pop(job.job_id, None)
            if was is None and job.route not in (None, "skip"):
                was = job.route  # (a route recorded before the config changed, not refreshed since)
            detail = decision.reason + (f" (the config was changed: it was going to {was})" if was else "")
            with self.ledger.transaction():
                self.ledger.update_job(job.job_id, now, route="skip", attempts=0, next_attempt_at=None, error=None)
                if was is not None:
                    self.ledger.set_rerouted(job.job_id, None)
                self._record(job.job_id, JobStatus.CopyToHotFolderSkipped, SYSTEM, detail, now, write=False)
                not_moved = self._record_stage(job.job_id, Stage.DONE, now)
            if not_moved is not None:
                raise not_moved
            return
        hot = self.config.hot_folders.get(decision.hot_folder)
        if hot is None:
            # (its manifest names it, and a reload took it out of the config) An attempt like any
            # other, "attempt n of max" (audit BP 1), and the last: it cannot work until the config
            # has it again.
            name = decision.hot_folder
            missing = DeliveryError(
                f"hot folder {name!r}, which this job's manifest names, is not in the config (any more); add it "
                "again and reload",
                transient=False,
            )
            self._delivery_failed(
                job,
                name,
                missing,
                fix=f"Have hot folder {name} added to the config again (hot_folders) and the config reloaded, then "
                "drop a file named RETRY here. Drop REJECT to stop the job.",
            )
            return
        src = self.job_dir(job) / "output" / (job.output or "")
        if not job.output or not src.is_file():
            # Made again from it, the output would go out unchecked by anyone (audit AV 1: the
            # output deleted, a PDF dragged over artwork/, then RELEASE: the new PDF printed).
            gone = self._artwork_changed_failure(job, output_gone=True)
            if gone is not None:
                raise gone
            self.ledger.update_job(job.job_id, now, stage=Stage.PROCESS)
            return
        self._output_unchanged(job, src)
        final_name = render_filename(hot.filename, facts)
        final = hot.path / final_name
        temp = temp_path_for(hot, final_name)
        shares = self.shares
        try:

            def look() -> None:
                check_hot_folder(hot, self.mount_points)
                check_name_free(final, hot)
                self._ticket_in_the_way(job, hot, final)

            shares.call(hot, "a look into it", look)
            taken = self._take_prestage(pre, job, hot.name, final, temp) if pre is not None else None
            delivery_id = (
                taken
                if taken is not None
                else self.ledger.delivery_intent(job.job_id, job.generation, hot.name, str(final), str(temp), now)
            )
            started = time.monotonic()
            written = False
            folder: str | None
            try:
                if taken is None:
                    _size, folder = self._copy_to_temp(src, temp, hot, delivery_id)
                else:
                    assert pre is not None
                    folder = pre.folder
                self._output_unchanged(job, src)  # not overwritten while it was copied
                self.ledger.delivery_state(delivery_id, "written", self.clock.now(), temp_folder=folder)
                written = True
                shares.call(hot, f"the rename to {final.name}", lambda: publish(temp, final, hot))
            except BaseException as exc:
                if written and shares.silent_since(hot.name) is not None:
                    # The rename was asked for and has not returned: it may still happen. The journal
                    # keeps "written", and once the hot folder answers the files tell what happened,
                    # as after a crash (a temp file gone was renamed: published, never copied again).
                    if isinstance(exc, DeliveryError):
                        raise DeliveryError(f"{exc}; {_may_still_arrive(final, hot.name)}", transient=True) from exc
                    raise
                if isinstance(exc, TempInTheWay):
                    # Nothing written, and the file there is not ours: left alone, and the journal
                    # does not name it as ours (the sweep leaves it too).
                    self.ledger.delivery_state(delivery_id, "in_the_way", self.clock.now())
                    raise
                # Journal first: a "written" delivery whose temp file is gone counts as published.
                self.ledger.delivery_state(delivery_id, "aborted", self.clock.now())
                if shares.silent_since(hot.name) is None:
                    with contextlib.suppress(OSError, DeliveryError):
                        shares.call(hot, f"the removal of {temp}", lambda: temp.unlink(missing_ok=True))
                raise
            if taken is None:
                self.metrics.observe("copy", time.monotonic() - started, hot.name)
        except DeliveryError as exc:
            self._delivery_failed(job, hot.name, exc)
            return
        self._delivered(job, hot.name, final, delivery_id)

    def _copy_to_temp(self, src: Path, temp: Path, hot: HotFolderConfig, delivery_id: int) -> tuple[int, str]:
        """The delivery's copy to its temp name, on the hot folder's thread. A file already there
        under that name is replaced only where the journal says a copy of ours may have left it
        (audit 12-05 E: another sender's upload of that name was overwritten); the journal is read
        only then."""
        try:
            return self.shares.call(
                hot, f"the copy to {temp}", lambda: write_temp(src, temp, hot, cancelled=self._copy_goes_on)
            )
        except TempInTheWay:
            if not self.ledger.temp_written_before(str(temp), delivery_id):
                raise
        return self.shares.call(
            hot,
            f"the copy to {temp}",
            lambda: write_temp(src, temp, hot, cancelled=self._copy_goes_on, stale_is_ours=True),
        )

    def _prestage(self, job: Job, inputs: list[ArtworkInput]) -> None:
        """Begins the copy of the job's one big artwork file into its hot folder's temp name, on the
        hot folder's thread, while the check runs (``PRESTAGE_MIN_BYTES``): the copy a delivery
        would make of it, begun early. Nothing is begun where the delivery would not copy that file
        now: several files, a blocked job, no hot folder, one that does not answer, a file of the
        output's name waiting there, an attempt cut short before. Journalled first, like any copy."""
        if len(inputs) != 1 or job.blocked:
            return
        artwork = Path(inputs[0].path)
        key = self._file_key(artwork)
        if key is None or key[2] < PRESTAGE_MIN_BYTES:
            return
        facts = self.facts(job)
        hot = self.config.hot_folders.get(decide_route(facts, self.config).hot_folder or "")
        if hot is None or self.shares.silent_since(hot.name) is not None:
            return
        if any(d.job_id == job.job_id for d in self.ledger.open_deliveries()) or self.ledger.published_delivery(
            job.job_id, job.generation
        ):
            return
        final_name = render_filename(hot.filename, facts)
        final, temp = hot.path / final_name, temp_path_for(hot, final_name)

        def look() -> None:
            check_hot_folder(hot, self.mount_points)
            check_name_free(final, hot)
            if os.path.lexists(temp):  # (ours or another sender's: the delivery tells which)
                raise TempInTheWay(temp, hot)

        try:
            self.shares.call(hot, "a look into it", look)
        except DeliveryError:
            return  # (the delivery says why, once the check has passed)
        pre = _Prestage(
            delivery_id=self.ledger.delivery_intent(
                job.job_id, job.generation, hot.name, str(final), str(temp), self.clock.now()
            ),
            generation=job.generation,
            hot_folder=hot.name,
            final=final,
            temp=temp,
            artwork=artwork,
            key=key,
            started=time.monotonic(),
        )
        self._prestaged[job.job_id] = pre

        def copy() -> tuple[int, str]:
            return write_temp(artwork, temp, hot, cancelled=lambda: pre.cancel or self._copy_goes_on())

        try:
            pre.pending = self.shares.start(hot, f"the copy to {temp}", copy)
        except DeliveryError:
            self._drop_prestage(job.job_id)

    def _prestage_copied(self, pre: _Prestage) -> None:
        """Waits for the copy begun with the check; one that failed is given up (the delivery then
        copies as usual, and says why where it fails again)."""
        if pre.pending is None:
            return
        pending, pre.pending = pre.pending, None
        try:
            _size, pre.folder = self.shares.finish(pending)
        except Exception as exc:  # noqa: BLE001 - an early copy that failed is one not made
            log.debug("delivery.early_copy_failed", file=str(pre.temp), error=str(exc))
            if isinstance(exc, TempInTheWay):  # (came since the look) not ours: never removed
                pre.settled = True
                self.ledger.delivery_state(pre.delivery_id, "in_the_way", self.clock.now())
            self._abort_prestage(pre)
            return
        pre.copied = True
        pre.seconds = time.monotonic() - pre.started

    def _take_prestage(self, pre: _Prestage, job: Job, hot_name: str, final: Path, temp: Path) -> int | None:
        """The journal id of the copy begun with the check, taken by this delivery where it is the
        copy the delivery makes: complete, into this hot folder under this name, of this
        generation, of the artwork as it still is (the output, recorded as that same file, is
        compared with its record as for any copy). Else None, and it is given up first: its temp
        name is the one the delivery copies to."""
        if (
            pre.copied
            and not pre.settled
            and (pre.hot_folder, pre.final, pre.temp, pre.generation) == (hot_name, final, temp, job.generation)
            and self._file_key(pre.artwork) == pre.key
        ):
            pre.settled = True
            self.metrics.observe("copy", pre.seconds, hot_name)
            return pre.delivery_id
        self._abort_prestage(pre)
        return None

    def _drop_prestage(self, job_id: str) -> None:
        pre = self._prestaged.pop(job_id, None)
        if pre is not None:
            self._abort_prestage(pre)

    def _abort_prestage(self, pre: _Prestage) -> None:
        """Gives up the copy begun with the check: stopped, journalled "aborted", its temp file
        removed (by the sweep once the hot folder answers again, where it does not now)."""
        if pre.settled:
            return
        pre.settled = True
        if pre.pending is not None:
            pending, pre.pending, pre.cancel = pre.pending, None, True
            with contextlib.suppress(Exception):
                self.shares.finish(pending)
        self.ledger.delivery_state(pre.delivery_id, "aborted", self.clock.now())
        hot = self.config.hot_folders.get(pre.hot_folder)
        if hot is not None and self.shares.silent_since(hot.name) is None:
            with contextlib.suppress(OSError, DeliveryError):
                self.shares.call(hot, f"the removal of {pre.temp}", lambda: pre.temp.unlink(missing_ok=True))

    def _output_unchanged(self, job: Job, src: Path) -> None:
        """Raises JobFailed when the output file is not the one recorded with ``OutputCreated``: a
        file overwritten in place (an operator dragging a corrected PDF over artwork/ or output/; in
        a single-file job the two are one file) was never checked, and is never sent."""
        failure = self._output_changed(job, src)
        if failure is not None:
            raise failure

    def _output_changed(self, job: Job, src: Path) -> JobFailed | None:
        """``_output_unchanged``'s finding; the changed file is moved into history/ (kept, not sent).
        Also an artwork file changed since its check: the output then is no longer what artwork/
        holds, and a release may approve one while the printer gets the other (audit BT 1: an
        output copied from an operator's own artwork file, which stays writable by them)."""
        recorded = self.ledger.output_sig(job.job_id)
        try:
            current = _file_sig(src)
        except OSError:
            return None  # gone: the copy (or the next step) says so
        recorded_sig, _, recorded_digest = (recorded or "").partition("#")
        if recorded is None or _same_file(current, recorded_sig, has_digest=bool(recorded_digest)):
            return self._artwork_changed_failure(job)
        if recorded_digest and self._digest(src, cached=False) == recorded_digest:
            # Only its time stamp changed (touch, a backup tool restoring it): still the checked file.
            self.ledger.set_output_sig(job.job_id, f"{current}#{recorded_digest}")
            return self._artwork_changed_failure(job)
        now = self.clock.now()
        kept = into_history(self.job_dir(job), src, now, f"changed-output-{src.name}")
        # No output now: `show`, `jobs --json` and STATUS.txt must not name the file moved away.
        self.ledger.update_job(job.job_id, now, output=None, output_pages=None, output_size=None)
        self._dirty.add(job.job_id)
        again = " (the job is still blocked: it then waits in quarantine/ for RELEASE again)" if job.blocked else ""
        # ValidationFailed: the file to send is not the checked one. (Not OutputCreationFailed: no
        # output was being made, and SPEC 6 has that follow OutputCreationStarted: audit.)
        return JobFailed(
            JobStatus.ValidationFailed,
            f"its output file was changed after it was checked, so it was not sent (kept as history/{kept.name})",
            [
                f"output/{src.name} is not the file that was checked and recorded as OutputCreated: it was "
                "overwritten or edited in place (in a job with one artwork file, output/ and artwork/ are mostly "
                "the same file, so overwriting artwork/ changes the output too); only a checked file is sent"
            ],
            "Put the corrected PDF into replace/ (never overwrite the files in artwork/ or output/): it is checked "
            "and the output made again. Or drop a file named RETRY here to check the files in artwork/ as they are "
            f"now and make the output from them{again}.",
        )

    def _artwork_changed_failure(self, job: Job, *, output_gone: bool = False) -> JobFailed | None:
        """ValidationFailed "artwork changed in its folder after it was checked", for the job's
        artwork files that are not what its last check read; None when they all are.
        ``output_gone``: the output made from the checked files is not there any more either."""
        changed = self._artwork_changed_since_check(job)
        if not changed:
            return None
        reason = "artwork changed in its folder after it was checked: " + ", ".join(changed)
        what = "it was replaced or edited in place, not put into replace/"
        if output_gone:
            return JobFailed(
                JobStatus.ValidationFailed,
                reason,
                [
                    f"artwork/{name} is not the file that was checked ({what}), and the output made from the "
                    "checked one is gone"
                    for name in changed
                ],
                "Put the PDF to print into replace/ (same file name): it is checked and, for a blocked job, "
                "shown to you again before it prints. Or drop REJECT here.",
            )
        again = " (the job is still blocked: it then waits in quarantine/ for RELEASE again)" if job.blocked else ""
        return JobFailed(
            JobStatus.ValidationFailed,
            reason + "; its output was not sent",
            [
                f"artwork/{name} is not the file that was checked ({what}): the output made from the checked one "
                "no longer matches it, and is not sent"
                for name in changed
            ],
            "Put the PDF to print into replace/ (same file name; never overwrite the files in artwork/ or output/): "
            "it is checked and the output made again. Or drop a file named RETRY here to check the files in artwork/ "
            f"as they are now and make the output from them{again}.",
        )

    def _copy_goes_on(self) -> bool:
        """Asked between two chunks of a copy: a sign of life; True when the daemon is stopping."""
        self.progress_at = self.clock.monotonic()
        self.shares.alive()
        return self.stop_event.is_set()

    def _published_before(self, job: Job, prestaged: _Prestage | None = None) -> bool:
        """True when this job's output already reached the hot folder in an attempt that a crash or
        a ledger error cut short after the rename: the job is then done, never copied again.
        (``prestaged``: the copy begun with the check, open and not cut short by anything.)"""
        now = self.clock.now()
        for open_one in self.ledger.open_deliveries():
            if open_one.job_id == job.job_id and (prestaged is None or open_one.id != prestaged.delivery_id):
                self._reconcile_delivery(open_one, now)
        delivery = self.ledger.published_delivery(job.job_id, job.generation)
        if delivery is None:
            return False
        fresh = self.ledger.get_job(job.job_id, history=False)
        if fresh is None:
            return False
        if fresh.stage is not Stage.DONE:
            # The PDF is in the hot folder; what is left is its job ticket, which failed to be
            # written (the PDF is never copied again for it).
            log.info("delivery.ticket_again", job_id=job.job_id, order_id=job.order_id)
            self._delivered(fresh, delivery.hot_folder, Path(delivery.final_path), delivery.id)
        return True

    def _ticket_in_the_way(self, job: Job, hot: HotFolderConfig, final: Path) -> bytes | None:
        """The job ticket to write next to ``final`` (None: the hot folder takes no tickets, or
        ours is there already). Raises DeliveryError while another ticket of that name waits: a
        PDF beside another job's ticket would print with that job's quantity."""
        if hot.ticket != "json":
            return None
        ticket = final.with_suffix(".json")
        payload = self._ticket(job, hot.name, final)
        try:
            existing = ticket.read_bytes()
        except FileNotFoundError:
            return payload
        except IsADirectoryError:
            raise DeliveryError(
                f"a folder named {ticket.name} is in hot folder {hot.name}, where this job's ticket goes; "
                f"{final.name} and its ticket are not written until it is moved away",
                transient=True,
            ) from None
        except OSError as exc:
            raise explain_os_error(exc, hot) from exc
        if existing == payload:
            return None  # ours: written before a crash or an earlier failure
        raise DeliveryError(
            f"a job ticket named {ticket.name} is already waiting in hot folder {hot.name} (not yet taken by the "
            f"printer); {final.name} and its ticket are not written until it is gone",
            transient=True,
        )

    def _delivered(
        self, job: Job, hot_name: str, final: Path, delivery_id: int, *, ticket_published: bool = False, note: str = ""
    ) -> None:
        hot = self.config.hot_folders.get(hot_name)
        if hot is not None and hot.ticket == "json" and not ticket_published:
            hot_folder = hot

            def ticket() -> None:
                payload = self._ticket_in_the_way(job, hot_folder, final)
                if payload is not None:
                    publish_sidecar(
                        final,
                        payload,
                        hot_folder,
                        before_rename=lambda: self.ledger.delivery_state(delivery_id, "ticket", self.clock.now()),
                    )

            try:
                self.shares.call(hot, f"the job ticket {final.with_suffix('.json').name}", ticket)
            except DeliveryError as exc:
                self._ticket_failed(job, hot_name, final, delivery_id, exc)
                return
        now = self.clock.now()
        with self.ledger.transaction():
            self.ledger.delivery_state(delivery_id, "published", now)
            self.ledger.update_job(job.job_id, now, route=hot_name, attempts=0, next_attempt_at=None, error=None)
            self._record(job.job_id, JobStatus.InHotFolder, SYSTEM, f"{hot_name}: {final.name}{note}", now, write=False)
            not_moved = self._record_stage(job.job_id, Stage.DONE, now)
        if not_moved is not None:
            raise not_moved

    def _ticket(self, job: Job, hot_name: str, final: Path) -> bytes:
        report = job.preflight or {}
        ticket = {
            "order_id": job.order_id,
            "job_id": job.job_id,
            "customer": job.customer,
            "product": job.product,
            "quantity": job.quantity,
            "attributes": job.attributes,
            "pages": job.output_pages,
            "trim_mm": report.get("trim_mm"),
            "file": final.name,
            "hot_folder": hot_name,
        }
        return (json.dumps(ticket, indent=2, sort_keys=True) + "\n").encode()

    def _ticket_failed(self, job: Job, hot_name: str, final: Path, delivery_id: int, exc: DeliveryError) -> None:
        """The PDF is published, its job ticket is not: the job is not InHotFolder yet. The ticket
        alone is tried again (delivery.max_attempts, backoff_seconds); the PDF is never copied again."""
        self.ledger.delivery_state(delivery_id, "published", self.clock.now())
        self.ledger.update_job(job.job_id, self.clock.now(), route=hot_name)
        ticket = final.with_suffix(".json").name
        self._copy_failed(
            job,
            hot_name,
            exc,
            event="delivery.ticket_failed",
            what=f"{final.name} is in hot folder {hot_name}, but its job ticket {ticket} could not be written: {exc}",
            again="the ticket's next attempt at",
            title=lambda why: (
                f"{final.name} was delivered into hot folder {hot_name}, but its job ticket {ticket} could not be "
                f"written ({why}): {exc}"
            ),
            fix="Fix the cause (free disk space, fix permissions, or let the printer take the other ticket), then "
            "drop a file named RETRY here: only the ticket is written, the PDF is not copied again. Drop "
            "REJECT to leave the PDF without its ticket.",
        )

    def _delivery_failed(self, job: Job, hot_name: str, exc: DeliveryError, *, fix: str | None = None) -> None:
        self._copy_failed(
            job,
            hot_name,
            exc,
            event="delivery.failed",
            what=str(exc),
            again="next attempt at",
            title=lambda why: f"the copy into hot folder {hot_name} failed ({why}): {exc}",
            fix=fix
            or (
                f"Wait: {_may_still_arrive(undecided.final_path, undecided.hot_folder)}: its rename into it had not "
                "returned. "
                "If it does not arrive, fix the cause (is the share's server up, the share mounted?), then drop a "
                "file named RETRY here; REJECT is refused until it is known whether the PDF arrived."
                if (undecided := self.ledger.undecided_delivery(job.job_id)) is not None
                else "Fix the cause (mount the share, free disk space, fix permissions or the config, or let the "
                "printer take the file waiting under the same name), then drop a file named RETRY here. Drop "
                "REJECT to stop the job."
            ),
        )

    def _copy_failed(
        self,
        job: Job,
        hot_name: str,
        exc: DeliveryError,
        *,
        event: str,
        what: str,
        again: str,
        title: Callable[[str], str],
        fix: str,
    ) -> None:
        """A failed attempt: CopyToHotFolderFailed "attempt n of max, <what>"; tried again after
        backoff_seconds, or, after the last attempt (or a failure no retry can mend), failed/."""
        now = self.clock.now()
        attempts = job.attempts + 1
        limit = self.config.delivery.max_attempts
        final = not exc.transient or attempts >= limit
        when = now + timedelta(seconds=self.config.delivery.backoff(attempts))
        # (more attempts than the limit: it was lowered by a reload meanwhile; this was the last)
        of = f"of {limit}" if attempts <= limit else f"(delivery.max_attempts is now {limit})"
        detail = f"attempt {attempts} {of}, {what}"  # (SPEC 6: "attempt n of max, reason")
        if not final:
            detail += f"; {again} {iso(when)}"
        elif attempts < limit:
            # A failure no retry can mend: no "2 of 3" follows (audit BP 5).
            detail += "; not tried again: this cannot work without a change"
        self._record(job.job_id, JobStatus.CopyToHotFolderFailed, SYSTEM, detail, now)
        log.warning(
            event,
            job_id=job.job_id,
            order_id=job.order_id,
            hot_folder=hot_name,
            attempt=attempts,
            max_attempts=limit,
            transient=exc.transient,
            reason=str(exc),
        )
        if final:
            # (the count made: more than the limit when a reload lowered it meanwhile)
            why = "this cannot work without a change" if not exc.transient else f"all {attempts} attempts failed"
            self.ledger.update_job(job.job_id, now, attempts=attempts)
            self._fail(job.job_id, JobFailed(None, title(why), [detail], fix), now)
            return
        self.ledger.update_job(job.job_id, now, stage=Stage.RETRY, attempts=attempts, next_attempt_at=iso(when))
        self._write_status(job.job_id)
        self._schedule_wakeup(when)

    # -- job folders --------------------------------------------------------------------------

    def _locate(self, job: Job) -> Path | None:
        """The job's folder: where the ledger says, or (after a crash mid-move) wherever it is."""
        return self.config.paths.find_job_folder(job.job_id, self.job_dir(job))

    def _rename_job_dir(self, job_id: str, src: Path, dst: Path, now: datetime, *, recorded: bool = False) -> Path:
        """Moves a job's folder from ``src`` to ``dst`` and records it (``recorded``: the ledger
        names ``dst`` already)."""
        if src != dst:
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.exists():
                # A leftover, or a refused manifest's folder of that name (failed/<manifest name>/,
                # a job id "x.yaml"): kept, out of the way, and said.
                aside = unique_path(dst.with_name(f"{dst.name}.old-{stamp(now)}"))
                os.replace(dst, aside)
                log.warning(
                    "folder.moved_aside",
                    job_id=job_id,
                    folder=self.rel(dst),
                    moved_to=self.rel(aside),
                    reason="the job's folder goes there; what was there is kept under the new name",
                )
            # No fsync: a rename the disk forgets in a power loss leaves the folder where it was,
            # and reconcile (_locate) finds it there.
            os.replace(src, dst)
            # Moved back if the transaction it belongs to is not committed (a full disk): a folder
            # ahead of its record is an operator's drop file refused, a job stuck (audit U 1-3).
            self.ledger.on_rollback(lambda: self._move_back(job_id, dst, src))
        if not recorded:
            self.ledger.update_job(job_id, now, folder=self.rel(dst))
        return dst

    def _ledger_trouble(self, job_id: str, exc: sqlite3.OperationalError) -> None:
        """The ledger is locked or busy for longer than busy_timeout, or its disk is full: not the
        job's fault. It stays where it is and is tried again shortly."""
        if is_disk_full(exc):
            self._spool_full(job_id, exc)
        else:
            log.warning("job.ledger_busy", job_id=job_id, error=str(exc), action="trying again in 2 s")
            self._cooldown[job_id] = self.clock.monotonic() + 2.0

    def _move_back(self, job_id: str, moved: Path, was: Path) -> None:
        """A job's folder moved in a transaction that was rolled back: back where the ledger says."""
        if moved.is_dir() and not os.path.lexists(was):
            os.replace(moved, was)
            log.info("folder.moved_back", job_id=job_id, folder=self.rel(was), reason="its move was not recorded")

    def _record_stage(self, job_id: str, stage: Stage, now: datetime) -> OSError | None:
        """In the caller's transaction, with the status that goes with it: the job's stage and the
        folder it moves into, so that whoever reads the ledger sees them together (``show --json``:
        ``InHotFolder`` with ``done/<job>``, ``Rejected`` with ``rejected/<job>``); and the folder
        moves there before that commit, so that whoever reads them finds it there (a script that
        opens done/<job>/STATUS.txt once `show` says InHotFolder; an operator who drops RELEASE into
        quarantine/<job>/ once `show` names it). A crash between the move and the commit leaves
        a folder ahead of its stage, which the start's reconcile moves back (the drop file that
        moved it is still in it, not yet consumed; a delivery is told from the hot folder's files).

        A move that fails undoes nothing recorded (the ledger names the folder the job is still
        in): its error is returned, for the caller to raise after the commit."""
        job = self.ledger.get_job(job_id, history=False)
        found = self._locate(job) if job is not None else None
        dst = self.area(STAGE_AREA[stage]) / job_id
        self.ledger.update_job(job_id, now, stage=stage, folder=self.rel(dst))
        fresh = self.ledger.get_job(job_id, history=False)
        if fresh is None:
            return None
        try:
            self._move_to(fresh, stage, now, recorded=True, found=found)
        except OSError as exc:
            return exc
        return None

    def _move_to(
        self, job: Job, stage: Stage, now: datetime, *, recorded: bool = False, found: Path | None = None
    ) -> None:
        """The ledger's stage first, then the folder moves where that stage lives. ``recorded``:
        the caller set the stage in its own transaction, still open (one commit less); ``found``:
        and the new folder too (``_record_stage``), the folder being at ``found`` until it is moved."""
        if not recorded:
            self.ledger.update_job(job.job_id, now, stage=stage)
        if stage in TERMINAL and self._rerouted.pop(job.job_id, None) is not None:
            # Finished otherwise (rejected): a reprint later is routed afresh (audit BT 6).
            self.ledger.set_rerouted(job.job_id, None)
        src = found if found is not None else self._locate(job)
        dst = self.area(STAGE_AREA[stage]) / job.job_id
        shown = stage in (Stage.HELD, Stage.FAILED, Stage.DONE, Stage.REJECTED) and src not in (None, dst)
        if shown:
            # Written before the move (as _fail's ERROR.txt): the folder comes into the folder an
            # operator (or a script) opens with its STATUS.txt saying so, not a moment after (at
            # the next flush, which in a queue of jobs is up to STATUS_FLUSH_SECONDS later), nor
            # without one (a job held within that time of its intake). Once: what is recorded
            # after the move (an operator action's answer) marks it to be written again. In the
            # transaction (_record_stage), so no artwork is hashed here: a digest not known yet
            # (after a restart) comes in the next flush's text.
            self._dirty.discard(job.job_id)
            if not self._write_status_now(job.job_id, src, hash_files=False):
                self._write_status(job.job_id)
        if src is None:
            dst.mkdir(parents=True, exist_ok=True)
            if job.folder != self.rel(dst):
                self.ledger.update_job(job.job_id, now, folder=self.rel(dst))
        elif src != dst or job.folder != self.rel(dst):
            recorded_ahead = job.folder == self.rel(dst)
            try:
                self._rename_job_dir(job.job_id, src, dst, now, recorded=recorded_ahead)
            except BaseException:
                if recorded_ahead and src != dst:
                    # The ledger named the new folder ahead of the move (_record_stage): it names the
                    # one the job is still in, which every next step reads (audit AV 2: a folder that
                    # could not be moved, then "artwork missing" for a job whose artwork was there).
                    with contextlib.suppress(Exception):
                        self.ledger.update_job(job.job_id, now, folder=self.rel(src))
                raise
            if stage not in (Stage.HELD, Stage.FAILED) and src.parent in (self.area("quarantine"), self.area("failed")):
                self._out_of_operator_hands(dst, now)
        # else: the folder is already where the stage lives, and recorded there (work/ -> work/)
        if stage in (Stage.HELD, Stage.FAILED):
            (dst / "replace").mkdir(exist_ok=True)
        elif stage in (Stage.DONE, Stage.REJECTED):
            self._finished.add(job.job_id)  # drop files that came too late: _answer_leftovers
        if not shown:
            self._write_status(job.job_id)

    def _answer_leftovers(self) -> None:
        """Drop files and replacements still in the folder of a job that has just finished
        (delivered, skipped, or rejected) are answered: filed in history/ as ``unused-<name>``, and
        STATUS.txt says they were not acted on. They were dropped too late, or lost a race with
        another action (a REJECT by command while a RETRY file settled; a job released by command
        with a RELEASE file in its folder): left lying in done/ or rejected/, where nothing reads
        them, they looked accepted."""
        while self._finished:
            job_id = self._finished.pop()
            job = self.ledger.get_job(job_id, history=False)
            if job is None or job.stage not in (Stage.DONE, Stage.REJECTED):
                continue
            folder = self._locate(job)
            if folder is None:
                continue
            replace = folder / "replace"
            found: list[Path] = []
            with contextlib.suppress(OSError), os.scandir(folder) as entries:
                found += [
                    Path(e.path)
                    for e in entries
                    if classify_drop(e.name) is not None and not e.is_dir(follow_symlinks=False)
                ]
            with contextlib.suppress(OSError), os.scandir(replace) as entries:
                found += [
                    Path(e.path)
                    for e in entries
                    if not e.is_dir(follow_symlinks=False) and not _file_manager_litter(e.name)
                ]
            if not found:
                continue
            now = self.clock.now()
            names = [("replace/" if path.parent == replace else "") + path.name for path in found]
            for path in found:
                with contextlib.suppress(OSError):
                    into_history(folder, path, now, f"unused-{path.name}")
            with contextlib.suppress(OSError):
                replace.rmdir()
            what = "rejected" if job.stage is Stage.REJECTED else "finished"
            text = (
                f"{iso(now)}  not acted on, as the job was {what} before they were read: {', '.join(names)} "
                "(kept in history/ as unused-...)"
            )
            self._note_action(job_id, text, append=True)
            log.info("operator.drop_unused", job_id=job_id, order_id=job.order_id, files=names, reason=f"job {what}")
            self._write_status(job_id)

    @staticmethod
    def _out_of_operator_hands(job_dir: Path, now: datetime) -> None:
        """A job leaves quarantine/ or failed/: replace/ (if empty) goes, nobody watches it now;
        and the problem behind it has its ERROR.txt moved into history/, so that the folder does
        not say two things."""
        with contextlib.suppress(OSError):
            (job_dir / "replace").rmdir()
        error = job_dir / "ERROR.txt"
        if error.exists():
            into_history(job_dir, error, now)

    def _fail(self, job_id: str, failure: JobFailed, now: datetime, *, status: JobStatus | None = None) -> None:
        """The job to failed/ with its ERROR.txt, which is written into the folder before it moves:
        the folder appears in failed/ with it, and with its STATUS.txt. ``status`` (with the
        failure's reason) is recorded with the stage, in the commit after the move, so that whoever
        sees it (`show`, a script) finds failed/<job>/ERROR.txt there."""
        job = self.ledger.get_job(job_id)
        if job is None:
            return
        self.ledger.update_job(job_id, now, error=failure.reason)
        job = self.ledger.get_job(job_id)
        assert job is not None
        text = error_text(
            f"Job {job_id} (order {job.order_id}) needs attention: {failure.reason}",
            [*failure.problems, *_replacements_named(job, [failure.reason, *failure.problems])],
            failure.fix,
        )
        src = self._locate(job)
        if src is not None:
            atomic_write(src / "ERROR.txt", text)  # travels with the folder
        job_dir = self.area("failed") / job_id
        with self.ledger.transaction():
            if status is not None:
                self._record(job_id, status, SYSTEM, failure.reason, now, write=False)
            not_moved = self._record_stage(job_id, Stage.FAILED, now)
            if src is None:
                atomic_write(job_dir / "ERROR.txt", text)
        if not_moved is not None:
            raise not_moved
        log.warning(
            "job.failed",
            job_id=job_id,
            order_id=job.order_id,
            reason=failure.reason,
            folder=self.rel(job_dir),
        )

    # -- statuses -----------------------------------------------------------------------------

    def _record(
        self, job_id: str, status: JobStatus, by: str, detail: str, now: datetime, *, write: bool = True
    ) -> None:
        """The one function that records a status: ledger, log, STATUS.txt."""
        self.ledger.add_status(job_id, status, by, detail, now)
        order_id, route = self.ledger.job_brief(job_id) or (None, None)
        event = {
            JobStatus.InHotFolder: "delivery.completed",
            JobStatus.CopyToHotFolderFailed: "delivery.attempt_failed",
            JobStatus.CopyToHotFolderSkipped: "delivery.skipped",
        }.get(status, "job." + _snake(status.value))

        def said() -> None:  # once committed: a status the ledger rolls back (a full disk) is not logged
            log.info(event, job_id=job_id, order_id=order_id, status=status.value, by=by, detail=detail)
            self.metrics.status_recorded(status, route)

        self.ledger.after_commit(said)
        if write:
            self._write_status(job_id)

    def extra(self, job: Job, folder: Path | None = None, *, hash_files: bool = True) -> Extra:
        """``hash_files``: False inside a transaction, which holds the ledger's lock (the heartbeat
        and the signals wait for it): no fingerprint for artwork whose digest is not known yet."""
        artwork = self.ledger.artwork(job.job_id)
        job_dir = folder or self.job_dir(job)
        sums: list[str] = []
        for art in artwork:
            digest = self._digest(job_dir / "artwork" / art.name, compute=hash_files)
            if digest is None:
                sums = []
                break
            sums.append(digest)
        decision: RouteDecision | None = None
        with contextlib.suppress(Exception):
            decision = decide_route(self.facts(job), self.config)
        return Extra(
            fingerprint=fingerprint(sums) if sums else None,
            artwork_names=[artwork_listing([(a.name, a.present) for a in artwork])] if artwork else [],
            target=decision.target if decision else None,
            route_reason=decision.reason if decision else None,
            last_action=self._last_action_of(job.job_id),
            pdf_delivered=job.stage is Stage.FAILED and self._pdf_delivered(job),
            target_missing=decision is not None
            and decision.hot_folder is not None
            and decision.hot_folder not in self.config.hot_folders,
            may_still_arrive=(
                Path(undecided.final_path).name
                if job.stage is Stage.FAILED and (undecided := self.ledger.undecided_delivery(job.job_id)) is not None
                else None
            ),
        )

    @staticmethod
    def _file_key(path: Path) -> FileKey | None:
        """Identifies a file's content across renames: (device, inode, size, mtime)."""
        try:
            return identity(os.stat(path))
        except OSError:
            return None

    def _remember_digest(self, path: Path, digest: str) -> None:
        key = self._file_key(path)
        if key is not None:
            if len(self._digests) > 4096:
                self._digests.clear()
            self._digests[key] = digest

    def _digest(self, path: Path, *, cached: bool = True, compute: bool = True) -> str | None:
        """sha256 of a file, cached by identity (preflight already hashed it): artwork can be
        gigabytes. ``cached=False``: read again (an edit whose size and time were put back has the
        identity the cache knows). ``compute=False``: the cached one or None."""
        key = self._file_key(path)
        if key is None:
            return None
        known = self._digests.get(key) if cached else None
        if known is not None or not compute:
            return known
        try:
            with open(path, "rb") as fh:
                digest = sha256_of(fh)
        except OSError:
            return None
        self._remember_digest(path, digest)
        return digest

    def _write_status(self, job_id: str) -> None:
        """STATUS.txt is rewritten once per step, not once per status (see flush_status)."""
        self._dirty.add(job_id)

    def flush_status(self, *, skip_runnable: bool = False) -> None:
        """Rewrites STATUS.txt of every job that changed since the last flush.

        ``skip_runnable`` (the flushes between the jobs of a queue): a job still waiting in work/
        for its turn in the queue keeps its change for later. It is written once it has run (or
        when the engine goes idle), not once when taken in and again when done."""
        self._status_flushed_at = self.clock.monotonic()
        dirty, self._dirty = self._dirty, set()
        if skip_runnable and dirty:
            self._dirty = dirty.intersection(self.ledger.job_ids([Stage.PROCESS, Stage.DELIVER]))
            dirty -= self._dirty
        for job_id in sorted(dirty):
            self._write_status_now(job_id)

    def _write_status_now(self, job_id: str, folder: Path | None = None, *, hash_files: bool = True) -> bool:
        """``folder``: where the job's folder is (the ledger names the one it moves to next).
        ``hash_files``: see ``extra``. False when the text lacks the artwork's fingerprint."""
        job = self.ledger.get_job(job_id)
        if job is None:
            return True
        job_dir = folder or self.job_dir(job)
        if not job_dir.is_dir():
            return True
        extra = self.extra(job, job_dir, hash_files=hash_files)
        try:
            atomic_write(job_dir / "STATUS.txt", status_text(job, extra), durable=False)
        except OSError as exc:
            log.warning("status_file.write_failed", job_id=job_id, error=str(exc))
        return hash_files or extra.fingerprint is not None or not extra.artwork_names

    # -- operator actions -----------------------------------------------------------------------

    def _job_of_folder(self, job_folder: Path) -> Job | None:
        """The job whose folder ``job_folder`` is; None otherwise (``_answer_not_a_job`` says why)."""
        job = self.ledger.get_job(job_folder.name)
        if job is None or self.job_dir(job) != job_folder:
            return None
        return job

    def _job_named_in(self, folder: Path) -> Job | None:
        """The job whose STATUS.txt a folder holds, when it is not that job's folder as the daemon
        knows it: a job folder renamed or copied by hand ("F3-1 check")."""
        try:
            with open(folder / "STATUS.txt", encoding="utf-8", errors="replace") as fh:
                first = fh.readline(512)
        except OSError:
            return None
        match = _STATUS_HEADER.match(first)
        if match is None:
            return None
        job = self.ledger.get_job(match.group(1), history=False)
        if job is None or self.job_dir(job) == folder:
            return None
        return job

    def _answer_no_job_folder(self, folder: Path, path: Path) -> None:
        """A drop file in a folder of quarantine/ or failed/ that is no job's (made by hand or by a
        script, perhaps named as a job whose folder is elsewhere): renamed where the operator looks
        to say it did nothing (audit BJ 1: it kept its name, so that a job printed long ago looked
        held, and the log said it again at every rescan). A replacement PDF keeps its name; it is
        said once."""
        known = self.ledger.get_job(folder.name, history=False)
        if known is not None and known.stage is not Stage.PURGED:
            reason = (
                f"this folder is not job {known.job_id}'s: its folder is {known.folder}/ "
                f"(status {known.status.value}); drop files act only there"
            )
        else:
            reason = "this folder is not a job the daemon holds; drop files act only in job folders"
        if classify_drop(path.name) is not None and path.is_file() and not path.is_symlink():
            answer = unique_path(
                path.with_name(fit_name(f"NOT USED - {path.name} - this folder is no job's.txt")), keep_extension=True
            )
            try:
                os.replace(path, answer)
            except FileNotFoundError:
                return
            log.warning("drop.not_a_job", file=str(path), renamed_to=answer.name, reason=reason)
        elif path not in self._answered_elsewhere:
            self._answered_elsewhere.add(path)
            log.warning("drop.not_a_job", file=str(path), reason=reason)

    def _answer_not_a_job(self, folder: Path, path: Path) -> None:
        """A drop file in a folder of failed/ that holds a refused manifest (or an unclaimed file),
        not a job: answered in its ERROR.txt, where the operator reads, and moved into history/.
        In a job's folder renamed or copied by hand: answered in its STATUS.txt, naming the job."""
        if not os.path.lexists(path):
            return
        job = self._job_named_in(folder)
        if job is not None:
            now = self.clock.now()
            kept = into_history(folder, path, now)
            known = self.job_dir(job)
            replacement = path.parent.name == "replace"
            verb = "put" if replacement else "drop"
            action = classify_drop(path.name)
            command = (
                f"replace {job.job_id} '{kept}'"
                if replacement
                else f"{(action or Action.RELEASE).value.lower()} {job.job_id}"
            )
            copy = folder.name.endswith(COPY_SUFFIX)
            if known.exists():
                where = f"{verb} {path.name} into {self.rel(known)}/" + ("replace/" if replacement else "")
            elif not copy and known.parent == folder.parent:
                where = f"rename this folder back to {job.job_id}, then {verb} {path.name} again"
            else:
                where = (
                    f"put the job's folder back as {self.rel(known)}/ (it is not there: moved or removed by hand), "
                    f"or use `spo-hotfolder {command}`"
                )
            if copy:
                what = f"a copy of job {job.job_id}'s folder"
            elif folder.name == job.job_id:
                what = f"job {job.job_id}'s folder, moved here by hand (or a copy of it)"
            else:
                what = f"job {job.job_id}'s folder under another name"
            answer = (
                f"\n{iso(now)}: {path.name} was not acted on (kept as history/{kept.name}): this is {what}, and the "
                f"daemon knows the job's folder as {self.rel(known)}/; drop files act only there. To act on the job, "
                f"{where}.\n"
            )
            status = folder / "STATUS.txt"
            # Below its first line (the job's name, by which this folder is known as the job's), above
            # the rest: its "What you can do now" told the operator to do what just did nothing (CE 2).
            first, _, rest = status.read_text(encoding="utf-8", errors="replace").partition("\n")
            # Its "What you can do now" said what acts in the job's own folder only ("Drop a file
            # named RELEASE here"): here it says what does.
            rest, said, _ = rest.partition(f"\n{WHAT_NOW}")
            if said:
                rest += f"\n{WHAT_NOW}\n  Nothing here: this is {what}. To act on the job, {where}.\n"
            atomic_write(status, f"{first}\n{answer}\n{rest}")
            log.warning("drop.not_the_job_folder", file=str(path), job_id=job.job_id, job_folder=self.rel(known))
            return
        error = folder / "ERROR.txt"
        if folder.parent != self.area("failed") or not error.is_file():
            # Logged only for a file still there: one its job's folder took along as it moved on
            # (a RELEASE dropped with a replacement, filed as unused) is not (audit BE 2).
            self._answer_no_job_folder(folder, path)
            return
        now = self.clock.now()
        kept = into_history(folder, path, now)
        answer = (
            f"\n{iso(now)}: {path.name} was not acted on (kept as history/{kept.name}): this folder holds a file "
            "the daemon refused, not a job, so drop files do nothing here. Correct the manifest as said above and "
            "put it into inbox/ again, with its artwork.\n"
        )
        atomic_write(error, error.read_text(encoding="utf-8", errors="replace") + answer)
        log.info("drop.answered_not_a_job", file=str(path), folder=self.rel(folder))

    def _on_replace(self, job_folder: Path, path: Path) -> None:
        job = self._job_of_folder(job_folder)
        if job is None:
            self._answer_not_a_job(job_folder, path)  # (a copy of a job's folder, a refused manifest's)
        else:
            by = _owner(path)
            try:
                token: str | None = _file_token(os.lstat(path), path.name, job.job_id, Action.REPLACE)
            except OSError:
                token = None
            self.apply(job.job_id, Action.REPLACE, by=by, note="", file=path, token=token)

    def _on_drops(self, job_folder: Path, paths: list[Path]) -> None:
        """Drop files that arrived together act in a safe order: a REJECT before a RELEASE."""
        job = self._job_of_folder(job_folder)
        if job is None:
            for path in paths:
                self._guard("drop", str(path), lambda p=path: self._answer_not_a_job(job_folder, p))  # type: ignore[misc]
            return
        # Every drop file now in the folder is answered in this one round, in a safe order: files
        # dropped together become complete a few microseconds apart, and the first action may move
        # the folder away from under the others.
        names = {p.name for p in paths}
        with contextlib.suppress(OSError):
            for entry in os.scandir(job_folder):
                kind = classify_drop(entry.name)
                if kind is None or not entry.is_file(follow_symlinks=False) or entry.name in names:
                    continue
                if kind is Action.REJECT:
                    # Not complete yet: it acts once it is, with the name and note written into it.
                    # Meanwhile it holds back what would send the job on (_operator_word_waiting).
                    continue
                names.add(entry.name)
        for name in names:
            self.tracker.forget(job_folder / name)
        drops = [(classify_drop(name), name) for name in names]
        drops.sort(key=lambda item: (ACTION_ORDER[item[0]] if item[0] else 9, item[1]))
        self._answering_drops = True
        try:
            self._act_on_drops(job, job_folder, drops)
        finally:
            self._answering_drops = False

    def _act_on_drops(self, job: Job, job_folder: Path, drops: list[tuple[Action | None, str]]) -> None:
        unread_reject: str | None = None  # a REJECT of this batch that could not be read
        for action, name in drops:
            # The first action may have moved the job folder (REJECT -> rejected/): the other drop
            # files moved with it, and are answered there.
            current = self.ledger.get_job(job.job_id)
            folder = self._locate(current) if current is not None else None
            drop = folder / name if folder is not None else job_folder / name
            if action is None:
                continue
            if unread_reject is not None and folder is not None and os.path.lexists(drop):
                # Someone also dropped a REJECT, which could not be read: the job is not sent on
                # either (a job never prints when someone also tried to reject it).
                self._refuse_drop(
                    current or job,
                    action,
                    _drop_name(drop),
                    f"a REJECT dropped with it ({unread_reject}) could not be read, so the job was not rejected; "
                    f"it is not sent on either: drop a real REJECT file, or drop {name} again",
                    drop,
                    folder,
                )
                continue
            try:
                # Never through a symbolic link: its target (any file the daemon can read) would be
                # copied into STATUS.txt and the history as the operator's name and note.
                with open(os.open(drop, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as fh:
                    st = os.fstat(fh.fileno())
                    if not stat.S_ISREG(st.st_mode):
                        continue  # a folder or a pipe named RELEASE: _on_stray answers it
                    data = fh.read(65536)
                    note = parse_drop(data)
            except OSError as exc:
                if exc.errno == errno.ELOOP and folder is not None:
                    self._refuse_link(current or job, folder, drop, action)
                    if action is Action.REJECT:
                        unread_reject = name
                continue
            if action is not Action.REJECT and data.lstrip().startswith(b"%PDF-") and folder is not None:
                # A PDF named RELEASE.pdf (or RETRY.pdf) is most likely corrected artwork put into
                # the wrong place: taken as a release, the old output would print (audit, operator 3).
                self._refuse_drop(
                    current or job,
                    action,
                    note.by or _owner(drop),
                    f"{name} is a PDF, and a PDF is never taken as a {action.value}: to replace the job's artwork, "
                    f"put the PDF into replace/ (it is in history/ now); to {action.value.lower()} the job, drop a "
                    f"text file named {action.value} (its first line your name)",
                    drop,
                    folder,
                )
                continue
            by = note.by or _owner(drop)
            token = _file_token(st, name, job.job_id, action)
            self.apply(job.job_id, action, by=by, note=note.note, drop=drop, parsed=note, token=token)

    def _refuse_drop(self, job: Job, action: Action, by: str, reason: str, drop: Path, folder: Path) -> None:
        """A drop file refused before its action is looked at: said, then consumed into history/."""
        self._refused(job, action, by, reason, None, self.clock.now())
        self._consume_drop(job.job_id, drop, folder, self.clock.now())

    def _refuse_link(self, job: Job, folder: Path, drop: Path, action: Action) -> None:
        now = self.clock.now()
        into_history(folder, drop, now)
        reason = (
            f"{drop.name} is a symbolic link, not a file; the daemon does not follow links in job folders. "
            f"Drop a real file named {drop.name} (the first line your name, the rest a note)"
        )
        self._note_action(job.job_id, f"{iso(now)}  {action.value} refused: {reason}")
        log.warning("operator.refused", job_id=job.job_id, action=action.value, reason=reason)
        self._write_status(job.job_id)

    def _on_command(self, path: Path) -> None:
        self.run_command(path)

    def run_command(self, path: Path) -> ActionResult | None:
        """A command file written by the CLI (read by the daemon, or applied by the CLI itself
        while no daemon runs): same rules, same code as a drop file. None: unreadable (removed)."""
        try:
            command = json.loads(path.read_text("utf-8"))
            action = Action(command["action"])
            job_id = str(command["job_id"])
            by = str(command.get("by") or "operator")
            note = str(command.get("note") or "")
            token = str(command["token"])
            file = Path(command["file"]) if command.get("file") else None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("command.unreadable", file=str(path), error=str(exc))
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        result = self.apply(job_id, action, by=by, note=note, file=file, token=token)
        log.info("command.done", job_id=job_id, action=action.value, ok=result.ok, message=result.message)
        with contextlib.suppress(OSError):
            path.unlink()
        if file is not None and file.parent != self.commands_dir() and self.commands_dir() in file.parents:
            with contextlib.suppress(OSError):
                file.parent.rmdir()  # the CLI's staging folder, emptied by apply
        return result

    def apply(
        self,
        job_id: str,
        action: Action,
        *,
        by: str,
        note: str,
        drop: Path | None = None,
        file: Path | None = None,
        parsed: DropNote | None = None,
        token: str | None = None,
    ) -> ActionResult:
        """An operator action (drop file or CLI): checked against the job's state, then done or refused."""
        by, note = clean_name(by) or "operator", clean_note(note)  # a CLI's --by/--note, as a drop file's
        now = self.clock.now()
        job = self.ledger.get_job(job_id)
        if job is None:
            return ActionResult(False, f"no job {job_id!r} in the ledger")
        job_dir = self._locate(job)
        # The drop file is consumed (into history/) once its action is in the ledger, not before: a
        # crash in between leaves it in the folder, answered at the next start, never lost. Its
        # outcome is recorded with the action (the token: a CLI command's, or the drop file's
        # identity), so one that a crash left behind is consumed then, never acted on twice.
        done = self.ledger.drop_result(token) if token is not None else None
        if done is not None:
            log.info("operator.already_done", job_id=job_id, action=action.value, outcome=done[0])
            self._consume_drop(job_id, drop, job_dir, now)
            if action is Action.REPLACE and file is not None and job_dir is not None and job_dir in file.parents:
                self._drop_taken_replacement(job_dir, file, now)
            elif file is not None and self.commands_dir() in file.parents:
                with contextlib.suppress(OSError):
                    file.unlink()  # a CLI replacement's staged copy (gone if it was taken)
            return ActionResult(done[0] == "done", done[1])
        reason = refusal(job, action)
        if reason is None and action in (Action.REJECT, Action.REPLACE):
            reason = self._delivery_undecided(job, action)
        if reason is None and job_dir is None and action is not Action.REJECT:
            # Deleted (or moved away) in a file explorer: its artwork and output with it (audit BF 4).
            reason = (
                f"job {job_id}'s folder {job.folder} is not there: it was deleted or moved by hand; put it back "
                f"where it was, or reject the job (spo-hotfolder reject {job_id})"
            )
        if reason is None and action is Action.RELEASE and parsed is not None and parsed.artwork:
            current = self.extra(job).fingerprint or ""
            matches = current and (current.startswith(parsed.artwork) or parsed.artwork.startswith(current))
            # (artwork changed in its folder since its check: the job fails below, saying so)
            if not matches and not self._artwork_changed_since_check(job):
                reason = self._stale_release(parsed.artwork, current)
        if reason is None and action is Action.RELEASE and token is not None:
            reason = self._release_given_before(job, token)
        if reason is None and action is Action.RELEASE:
            reason = self._new_output_not_made(job)
        if reason is None and action is not Action.REJECT and job_dir is not None:
            reason = self._operator_word_waiting(job_dir, action, file)
        if reason is None and action is Action.REPLACE and self._pdf_delivered(job):
            reason = self._already_done_reason(job)
        if reason is None and action is Action.REPLACE:
            reason = self._check_replacement(job, file)
        bound = log.bind(job_id=job_id, order_id=job.order_id, action=action.value, by=by)
        if reason is not None:
            if action is Action.REPLACE and job_dir is not None and job.active_block() is not None:
                # A RELEASE dropped with this replacement was meant for the new artwork: with the
                # replacement refused, it is not taken for the old one either.
                reason += self._file_stale_releases(job_dir, now, "with the replacement, which was refused")
            if action is Action.REPLACE and file is not None and job_dir is not None and os.path.lexists(file):
                if job_dir in file.parents:
                    into_history(job_dir, file, now, f"refused-{file.name}")
                elif self.commands_dir() in file.parents:  # our staged copy of a CLI replace's file
                    with contextlib.suppress(OSError):
                        file.unlink()
                # else: a file named on the command line (offline) stays where it is, as it does when
                # the replacement is taken
            result = self._refused(job, action, by, reason, token, now)
            self._consume_drop(job_id, drop, job_dir, now)
            return result
        if action is Action.RELEASE and job.stage is Stage.HELD and job_dir is not None and job.output:
            # What the operator approves is the output they opened: one overwritten in place since
            # it was checked is not it; nor is one made again from artwork changed since its check
            # (the output gone, another PDF dragged over artwork/). The job fails, still blocked, as
            # a delivery of it would (it removed the Blocked entry first, and a RETRY then printed
            # the new artwork unseen).
            output = job_dir / "output" / job.output
            changed = (
                self._output_changed(job, output)
                if os.path.lexists(output)
                else self._artwork_changed_failure(job, output_gone=True) or _artwork_missing_failure(self._inputs(job))
            )
            if changed is not None:
                assert changed.status is not None
                reason = f"{changed.reason}; the job is in failed/ (see ERROR.txt)"
                result = self._refused(job, action, by, reason, token, now)
                self._consume_drop(job_id, drop, job_dir, now)  # before the folder moves to failed/
                self._record(job_id, changed.status, SYSTEM, changed.reason, now, write=False)
                self._fail(job_id, changed, now)
                return result
        if action is Action.RELEASE:
            block = job.active_block()
            assert block is not None
            held = job.stage is Stage.HELD
            removed_note = note
            if parsed is not None and parsed.artwork:
                # Kept with the release: new artwork put in later (a release in advance of a failed
                # job) is not approved by it (_void_narrow_release).
                removed_note = f"{note} [approves artwork {parsed.artwork} only]".lstrip()
            # Not held (still waiting for artwork, a future time, or its output; or failed): it goes
            # on as it was and, no longer blocked, is delivered as soon as its output is made.
            if job.stage is Stage.FAILED:
                after = (
                    "; the job has still failed: put a corrected PDF into replace/ or drop RETRY, and it goes on "
                    "to delivery as soon as its output is made (no new release needed; other artwork sent with a new "
                    "manifest would need one)"
                )
            elif not held:
                after = (
                    f"; its output is not made yet (status {job.status.value}): it goes to its hot folder as soon "
                    "as it is, without waiting in quarantine/ to be opened"
                )
            else:
                # What it approved, said with the answer (audit: a release read 60 ms after a
                # replacement's output was made approved that output, and its answer did not say
                # which): the output's time and the artwork's fingerprint that STATUS.txt shows.
                made = next((e for e in reversed(job.history) if e.status is JobStatus.OutputCreated), None)
                fingerprint = self.extra(job).fingerprint
                after = (
                    f"; it approves the output made at {made.at}" + (f" (artwork {fingerprint})" if fingerprint else "")
                    if made is not None
                    else ""
                )
            not_moved: OSError | None = None
            with self.ledger.transaction():  # one commit: never released but left waiting by a crash
                self.ledger.remove_status(block.id, job_id, by, removed_note, now)
                if held:
                    not_moved = self._record_stage(job_id, Stage.DELIVER, now)
                if token:  # with the action: a command file left by a crash is not run twice
                    self.ledger.drop_outcome(token, "done", f"released by {by}{after}", now)
            if not_moved is not None:
                raise not_moved
            message = f"released by {by}" + (f" ({note})" if note else "") + after
        elif action is Action.REJECT:
            with self.ledger.transaction():
                # (the problem of a failed job rejected is no longer one to fix: `show` said it on)
                self.ledger.update_job(job_id, now, error=None)
                self._record(job_id, JobStatus.Rejected, by, note or "rejected by the operator", now, write=False)
                not_moved = self._record_stage(job_id, Stage.REJECTED, now)
                if token:
                    self.ledger.drop_outcome(token, "done", f"rejected by {by}", now)
            if not_moved is not None:
                raise not_moved
            message = f"rejected by {by}" + (f" ({note})" if note else "")
        elif action is Action.RETRY:
            # A job whose PDF is in its hot folder already and whose ticket failed: nothing is made
            # again, only the ticket is written; its history says so (audits AY 5c, BP 3).
            # Any other goes through the check, the output and the copy again (SPEC 4), also one
            # waiting in work/ for its next copy attempt: RecreationRequested says what it is, a new
            # output (audit 12-05 F 3: "only the copy ... the output is not made again" contradicted it).
            ticket_only = self.ledger.published_delivery(job_id, job.generation) is not None
            what = (
                "retry: only the job ticket is written (the PDF is in the hot folder already)"
                if ticket_only
                else "retry: the check, the output and the copy again"
            )
            with self.ledger.transaction():
                self.ledger.update_job(job_id, now, attempts=0, next_attempt_at=None, error=None)
                self._record(
                    job_id,
                    JobStatus.RecreationRequested,
                    by,
                    what + (f": {note}" if note else ""),
                    now,
                    write=False,
                )
                if token:
                    self.ledger.drop_outcome(token, "done", f"retry requested by {by}", now)
            self._send_on(job_id, now)
            message = f"retry requested by {by}"
        else:
            assert file is not None
            message = self._replace(job, file, by, now, token)
        self._consume_drop(job_id, drop, job_dir, now)
        self._note_action(job_id, f"{iso(now)}  {action.value}: {message}")
        bound.info("operator.done", message=message)
        self._write_status(job_id)
        if token:
            self.ledger.drop_outcome(token, "done", message, now)
        if self._finished and not self._answering_drops:
            # (also for a CLI command run while the daemon is down; drop files that arrived
            # together are each answered by their own action first, _on_drops)
            self._answer_leftovers()
        self.wake()
        return ActionResult(True, message)

    def _send_on(self, job_id: str, now: datetime) -> None:
        """A job whose RecreationRequested is recorded (a RETRY, or one a crash cut short) goes on:
        waits for artwork still missing, copies again (a published PDF whose ticket failed: only the
        ticket is written), or is made again."""
        job = self.ledger.get_job(job_id, history=False)
        assert job is not None
        if any(not a.present for a in self.ledger.artwork(job_id)):
            self._move_to(job, Stage.AWAITING, now)
            until = later(now, self.config.watch.artwork_timeout_seconds)
            self.ledger.update_job(job_id, now, awaiting_until=iso(until))
            self._manifest_seen[job_id] = now  # it waits anew from the RETRY (_owner_order)
            self._claim_for_job(self.ledger.get_job(job_id))  # type: ignore[arg-type]
            self._wake_at_deadline(job_id)
            waiting = self.ledger.get_job(job_id, history=False)
            if waiting is not None and waiting.stage is Stage.AWAITING:
                # SPEC 6: referenced artwork not there yet -> AwaitingData (a RETRY of a job that
                # failed for missing artwork waits for it again).
                missing = [
                    a.name
                    for a in self.ledger.artwork(job_id)
                    if not a.present and not (a.source and os.path.exists(a.source))
                ]
                if missing:
                    self._record(job_id, JobStatus.AwaitingData, SYSTEM, "waiting for " + ", ".join(missing), now)
        elif self.ledger.published_delivery(job_id, job.generation):
            self._move_to(job, Stage.DELIVER, now)
        else:
            self._run_when_due(job_id, now)

    def _note_action(self, job_id: str, text: str, *, append: bool = False) -> None:
        """STATUS.txt's "Last action or notice". Answers given within ANSWERS_TOGETHER_SECONDS of
        each other (drop files that came together: a REJECT, a replacement and a RELEASE, handled
        in one round or in the next ones) are all said, the last few, not only the last one."""
        mono = self.clock.monotonic()
        if text and (append or mono - self._noted.get(job_id, -ANSWERS_TOGETHER_SECONDS) < ANSWERS_TOGETHER_SECONDS):
            before = self._last_action_of(job_id)
            if before:
                earlier = [line for line in before.split("\n  ") if not self._stray_gone(job_id, line)]
                text = "\n  ".join([*earlier[-(ANSWERS_KEPT - 1) :], text])
        if text:
            self._noted[job_id] = mono
        self._last_action[job_id] = text
        self.ledger.set_last_action(job_id, text)  # STATUS.txt says it after a restart too

    def _stray_gone(self, job_id: str, answer: str) -> bool:
        """Whether ``answer`` says a file was "not a drop file, left alone" and that file is gone
        now ("New Text Document.txt" renamed RELEASE.txt): no longer worth saying."""
        found = _STRAY_ANSWER.match(answer)
        if found is None:
            return False
        job = self.ledger.get_job(job_id, history=False)
        folder = self._locate(job) if job is not None else None
        return folder is not None and not os.path.lexists(folder / found.group(1))

    def _last_action_of(self, job_id: str) -> str | None:
        if job_id not in self._last_action:
            self._last_action[job_id] = self.ledger.last_action(job_id)
        return self._last_action[job_id]

    def _refused(
        self, job: Job, action: Action, by: str, reason: str, token: str | None, now: datetime
    ) -> ActionResult:
        """An operator action refused: said in STATUS.txt, the log, and to a waiting CLI."""
        job_id = job.job_id
        with self.ledger.transaction():  # the answer, before the drop file goes (a crash between)
            self._note_action(job_id, f"{iso(now)}  {action.value} by {by} refused: {reason}")
            if token:
                self.ledger.drop_outcome(token, "refused", reason, now)
        log.warning("operator.refused", job_id=job_id, order_id=job.order_id, action=action.value, by=by, reason=reason)
        self._write_status(job_id)
        return ActionResult(False, reason)

    @staticmethod
    def _drop_taken_replacement(job_dir: Path, file: Path, now: datetime) -> None:
        """A replacement in replace/ that was taken before a crash: our link of it is in artwork/,
        so this name of it goes; anything else is kept in history/ (never thrown away)."""
        artwork = job_dir / "artwork"
        with contextlib.suppress(OSError):
            if any(os.path.samefile(file, a) for a in artwork.iterdir()):
                file.unlink()
                return
            into_history(job_dir, file, now, f"unused-{file.name}")

    def _consume_drop(self, job_id: str, drop: Path | None, was_in: Path | None, now: datetime) -> None:
        """Moves a drop file into its job's history/, wherever the action left the job's folder."""
        if drop is None:
            return
        job = self.ledger.get_job(job_id, history=False)
        for folder in (self._locate(job) if job is not None else None, was_in, drop.parent):
            if folder is not None and os.path.lexists(folder / drop.name):
                into_history(folder, folder / drop.name, now)
                return

    def _operator_word_waiting(self, job_dir: Path, action: Action, file: Path | None) -> str | None:
        """Why ``action`` waits for a file an operator dropped a moment ago (still settling, or
        just behind it in the queue), or None.

        A REJECT comes first against anything that sends the job on (RELEASE, RETRY, a replacement,
        by file or by command): a job never prints when someone also rejected it. A replacement PDF
        in replace/ comes first against RELEASE and RETRY: a release approves the output the
        operator saw, not the one the new file will make (after the replacement the job waits in
        quarantine/ for a release of that one), and RETRY is what the replacement does anyway."""
        waiting = self._reject_waiting(job_dir)
        if waiting is not None:
            again = {Action.RELEASE: "release again", Action.RETRY: "drop RETRY again"}.get(
                action, "put the replacement into replace/ again"
            )
            return f"a REJECT file ({waiting}) is in the job's folder and is handled first; if it is refused, {again}"
        rejects = [c for c in self.pending_commands(job_dir.name) if c.get("action") == Action.REJECT.value]
        if rejects:
            # A `spo-hotfolder reject` waiting in state/commands/ (the daemon hung or busy when both
            # were given): it comes first too, as a REJECT file does (audit AH).
            by = rejects[0].get("by") or "operator"
            return f"a `spo-hotfolder reject` of this job by {by} is waiting and is done first"
        if action not in (Action.RELEASE, Action.RETRY):
            return None
        pending = self._replacement_waiting(job_dir, file)
        if pending is None:
            command = self.replace_command_waiting(job_dir.name)
            if command is not None:
                return (
                    f"a replacement given with `spo-hotfolder replace` ({command}) is not taken yet and comes first; "
                    + (
                        "the job is checked and made again with it, no RETRY needed"
                        if action is Action.RETRY
                        else "the job then waits in quarantine/ with its new output: open it, then release again"
                    )
                )
            return None
        if self.uploading(pending):
            # A temporary name (watch.ignore, x.pdf.filepart): an upload under way, or one abandoned half-way.
            return (
                f"a file is being uploaded into replace/ ({pending}); a replacement is taken first, so "
                f"{action.value} again once it is there (if that upload was abandoned, delete {pending})"
            )
        if action is Action.RETRY:
            return (
                f"a replacement (replace/{pending}) is in the job's folder and is taken first: the job is checked and "
                "made again with it, no RETRY needed"
            )
        return (
            f"a replacement (replace/{pending}) is in the job's folder and is taken first; the job then waits in "
            "quarantine/ with its new output: open it, then release again"
        )

    def _file_stale_releases(self, job_dir: Path, now: datetime, dropped: str) -> str:
        """RELEASE drop files in ``job_dir`` not read yet go into history/ as unused; returns what
        to add to the operator's answer (empty when there were none)."""
        stale: list[Path] = []
        with contextlib.suppress(OSError), os.scandir(job_dir) as entries:
            stale = [
                Path(e.path)
                for e in entries
                if classify_drop(e.name) is Action.RELEASE and e.is_file(follow_symlinks=False)
            ]
        for path in stale:
            into_history(job_dir, path, now, f"unused-{path.name}")
        if not stale:
            return ""
        return (
            f"; {', '.join(p.name for p in stale)} not acted on (kept in history/ as unused-...): it was dropped "
            f"{dropped}. Open the output the job has now, then release again"
        )

    def _void_narrow_release(self, job: Job, by: str, now: datetime, *, from_manifest: bool = False) -> str:
        """A job released in advance by a RELEASE that named its artwork (``artwork: <fingerprint>``)
        approved that artwork only: new artwork with another fingerprint blocks it again. New
        artwork ``by`` a replacement, or (``from_manifest``) a manifest sent again."""
        removed = [e for e in job.history if e.status is JobStatus.Blocked and e.removed_at is not None]
        if not removed:
            return ""
        release = removed[-1]
        found = re.search(r"\[approves artwork ([0-9a-f]+) only\]", release.removed_note or "")
        if found is None:
            voided = self._void_release_of_an_output(job, release, by, now)
            if voided or not from_manifest:
                return voided
            return self._void_advance_release(job, release, now)
        current = self.extra(job).fingerprint or ""
        if current and (current.startswith(found[1]) or found[1].startswith(current)):
            return ""
        detail = (
            f"the release by {removed[-1].removed_by} approved artwork {found[1]} only; {by} put in other artwork "
            f"({current or 'not all there yet'}): check its output, then release again"
        )
        self._record(job.job_id, JobStatus.Blocked, SYSTEM, detail, now, write=False)
        return f"; blocked again: {detail}"

    def _new_output_not_made(self, job: Job) -> str | None:
        """Why a RELEASE is refused while new artwork (a replacement, a manifest sent again) has come
        since the job's output was last made, and its new output is not made yet: there is nothing
        to look at, and the release would approve it unseen (audit AH). A release before the first
        output (an order blocked on arrival) and one in failed/ still approve in advance, as
        documented."""
        new = _artwork_without_output(job, job.history)
        if new is None:
            return None
        if new.status is JobStatus.AwaitingData:
            return (
                f"new artwork is on its way since {new.at} ({new.detail}) and its output is not made yet: open the "
                "new output in output/ once it is there (STATUS.txt says so), then release again"
            )
        return (
            f"new artwork came at {new.at} ({new.detail or 'a replacement'}) and its output is not made yet: "
            "open the new output in output/ once it is there (STATUS.txt says so), then release again"
        )

    def _release_given_before(self, job: Job, token: str) -> str | None:
        """Why a CLI ``release`` given (its command staged) before the job's current artwork came
        is refused: it approves the output the operator saw then, not the one made since (a
        `replace` given first and done after it was given; audit AG). None otherwise, and for a
        drop file (its token says no time)."""
        given = _command_time(token)
        if given is None:
            return None
        changed = [e for e in job.history if e.status is JobStatus.ArtworkUploaded and e.at > given]
        if changed:
            came = changed[-1].detail or "a replacement"
            return (
                f"it was given at {given} for the output before new artwork came ({came}, at {changed[-1].at}): "
                "open the output the job has now, then release again"
            )
        # Given while new artwork's output was still being made (the daemon busy with it): nothing
        # to look at then, as _new_output_not_made says of a release read at such a moment (audit AI).
        new = _artwork_without_output(job, [e for e in job.history if e.at <= given])
        if new is None:
            return None
        return (
            f"it was given at {given}, when the output of the new artwork ({new.detail or 'a replacement'}, at "
            f"{new.at}) was not made yet: open the new output, then release again"
        )

    def _void_advance_release(self, job: Job, release: Any, now: datetime) -> str:
        """A release given in advance (no output to look at: a job in failed/, or one whose first
        output was not made yet) approves the operator's own fix, put into replace/; not artwork a
        new manifest brings from the storefront, which nobody has seen: that blocks the job again
        (audit: a failed blocked job released in advance printed the storefront's next upload
        unseen). Not once the release was used by a delivery (a reprint is judged by its rules)."""
        if _release_used(job.history, release):
            return ""
        detail = (
            f"the release by {release.removed_by} was given in advance, with no output to check; a new manifest put "
            "in new artwork: check its output, then release again"
        )
        self._record(job.job_id, JobStatus.Blocked, SYSTEM, detail, now, write=False)
        return f"; blocked again: {detail}"

    def _void_release_of_an_output(self, job: Job, release: Any, by: str, now: datetime) -> str:
        """A release given while the job had an output (OutputCreated the last word on its
        artwork), not yet used by a delivery, approved that output: new artwork (a replacement, a
        manifest sent again) before the delivery blocks the job again. Seen with the daemon
        stopped: a `release` then a `replace` from the CLI printed the new artwork unreviewed. (A
        release given with no output made yet approves in advance, as documented.)"""
        released_at = release.removed_at or ""
        stamp_now = iso(now)
        earlier = [  # the history before the new artwork's own entries (recorded just now)
            e
            for e in job.history
            if not (e.at == stamp_now and e.status in (JobStatus.ArtworkUploaded, JobStatus.RecreationRequested))
        ]
        before = [e for e in earlier if e.at <= released_at and e.status in _ARTWORK_WORDS]
        if not before or before[-1].status is not JobStatus.OutputCreated:
            return ""
        if _release_used(earlier, release):
            return ""  # the release was used: this is new work (a reprint), judged by its own rules
        detail = (
            f"the release by {release.removed_by} approved the output made before {by} put in new artwork: check "
            "the new output, then release again"
        )
        self._record(job.job_id, JobStatus.Blocked, SYSTEM, detail, now, write=False)
        return f"; blocked again: {detail}"

    def replace_command_waiting(self, job_id: str) -> str | None:
        """The file name of a CLI ``replace`` for ``job_id`` whose command file waits in
        state/commands/, not done yet (the daemon has not read it, or a CLI killed half-way left it:
        the daemon finishes it at its start), or None."""
        for command in self.pending_commands(job_id):
            if command.get("action") == Action.REPLACE.value:
                return Path(str(command.get("file") or "")).name or "a file"
        return None

    def pending_commands(self, job_id: str) -> list[dict[str, Any]]:
        """The command files in state/commands/ for ``job_id`` that are not done, oldest first."""
        return pending_commands(self.commands_dir(), self.ledger, job_id)

    def _replacement_waiting(self, job_dir: Path, file: Path | None) -> str | None:
        """The name of a file in ``job_dir``/replace/ not taken yet, other than ``file``. One still
        being uploaded under a temporary name (``.x.pdf.part``, rsync's ``.x.pdf.Ab12Cd``) counts
        too, and a symbolic link (it is refused, into history/, in its turn); the files a file
        manager leaves in every folder it opens (``.DS_Store``, ``._x``, ``Thumbs.db``,
        ``desktop.ini``, ``~$x``), folders and pipes do not."""
        names: list[str] = []
        with contextlib.suppress(OSError), os.scandir(job_dir / "replace") as entries:
            for entry in entries:
                if not (entry.is_file(follow_symlinks=False) or entry.is_symlink()):
                    continue  # a folder, a pipe: answered in STATUS.txt, never taken as artwork
                if _file_manager_litter(entry.name) or (file is not None and entry.path == str(file)):
                    continue
                names.append(entry.name)
        # A file ready to be taken is named before an upload still under a temporary name.
        return min(names, key=lambda name: (self.uploading(name), name), default=None)

    def drops_waiting(self, job_id: str) -> list[str]:
        """The drop files (RELEASE, RETRY, a file in replace/) in the job's folder in quarantine/,
        failed/ or work/ (a waiting job's) that the daemon has not read yet, as paths relative to
        the folder. With no daemon running, an operator command given after them must not overtake
        them (audit BQ 1, 5; 12-05 K 2)."""
        job = self.ledger.get_job(job_id, history=False)
        folder = self._locate(job) if job is not None else None
        if folder is None or folder.parent not in (self.area("quarantine"), self.area("failed"), self.area("work")):
            return []
        waiting: list[str] = []
        for sub in ("", "replace"):
            with contextlib.suppress(OSError), os.scandir(folder / sub) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        continue
                    # What the daemon reads, as it classifies it: not an upload's temporary name
                    # (RELEASE.tmp, replace/x.pdf.part), which it never acts on (audit BT 4).
                    kind, _ = self._classify(Path(entry.path))
                    if kind == "replace" or (kind == "drop" and classify_drop(entry.name) is not Action.REJECT):
                        waiting.append(f"{sub}/{entry.name}" if sub else entry.name)
        return sorted(waiting)

    @staticmethod
    def _reject_waiting(job_dir: Path) -> str | None:
        """The name of a REJECT drop file in ``job_dir`` not handled yet, if there is one."""
        with contextlib.suppress(OSError), os.scandir(job_dir) as entries:
            for entry in entries:
                if classify_drop(entry.name) is Action.REJECT and not entry.is_dir(follow_symlinks=False):
                    return entry.name
        return None

    def _stale_release(self, named: str, current: str) -> str:
        return (
            f"this RELEASE approves artwork {named}, but the job's artwork is {current} (STATUS.txt shows it): "
            "it was replaced since you looked, or the fingerprint is mistyped. Open the output, then release "
            "again with the fingerprint STATUS.txt shows"
        )

    def _check_replacement(self, job: Job, file: Path | None) -> str | None:
        if file is None or not file.is_file():
            return "the replacement file is not there any more"
        if classify_drop(file.name) is not None:
            return (
                f"{file.name} is a drop file, and drop files go into the job's folder itself, one level up from "
                "replace/; only a replacement PDF goes into replace/"
            )
        try:
            # Never through a symbolic link: its target's first bytes would be shown in STATUS.txt.
            with open(os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as fh:
                head = fh.read(1024)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return f"{file.name} is a symbolic link, not a file; put the PDF itself into replace/"
            return f"the replacement file cannot be read: {exc.strerror}"
        # (a file in replace/, or one given to `spo-hotfolder replace`: audit BO 2)
        fix = "put a PDF into replace/" if file.parent.name == "replace" else "give a PDF file"
        if not head:
            return f"{file.name} is empty (0 bytes); {fix}"
        if b"%PDF" not in head:
            return f"{file.name} is not a PDF: {not_a_pdf(head)}; {fix}"
        artwork = self.ledger.artwork(job.job_id)
        if len(artwork) > 1 and self._match_artwork(artwork, file.name) is None:
            names = ", ".join(a.name for a in artwork)
            return (
                f"this job has {len(artwork)} artwork files ({names}); the replacement's name {file.name!r} must be "
                "the name of the one it replaces"
            )
        return None

    @staticmethod
    def _match_artwork(artwork: list[Artwork], name: str) -> Artwork | None:
        if len(artwork) == 1:
            return artwork[0]
        exact = next((art for art in artwork if art.name == name), None)
        if exact is not None:
            return exact
        # As a person would call them the same: letter case, and the Unicode form a Mac writes
        # ("café.pdf" with the accent as a character of its own) set aside.
        return next((art for art in artwork if name_key(art.name) == name_key(name)), None)

    def _replace(self, job: Job, file: Path, by: str, now: datetime, token: str | None = None) -> str:
        artwork = self.ledger.artwork(job.job_id)
        target = self._match_artwork(artwork, file.name)
        assert target is not None
        job_dir = self._locate(job) or self.job_dir(job)
        old = job_dir / "artwork" / target.name
        if old.exists() and file.exists() and os.path.samefile(old, file):
            old.unlink()  # our own link of this replacement, from a try a crash cut short: not the old artwork
        elif old.exists():
            into_history(job_dir, old, now, f"artwork-{target.name}")
        out_dir = job_dir / "output"
        if out_dir.is_dir():
            for out in sorted(out_dir.iterdir()):
                into_history(job_dir, out, now, f"output-{out.name}")
        (job_dir / "artwork").mkdir(exist_ok=True)
        dest = job_dir / "artwork" / target.name
        taken: Path | None = None
        if job_dir in file.parents or self.commands_dir() in file.parents:
            # Linked, and removed from replace/ only once the ledger has it: a crash in between
            # finds it there at the next start and takes it again (never a new artwork in artwork/
            # that the ledger, STATUS.txt and the history know nothing of).
            try:
                if os.lstat(file).st_nlink > 1:
                    # Linked from somewhere else too (an `ln` from a designer's folder): a copy, or
                    # editing that file later would change artwork/ and output/ under our feet.
                    raise OSError(errno.EMLINK, "linked elsewhere")
                os.link(file, dest, follow_symlinks=False)
            except OSError:
                shutil.copyfile(file, dest)
            taken = file
            if token is not None and token.startswith("file:"):
                # The link set the file's ctime: its identity is recorded as it is now, as a
                # crash would leave it in replace/.
                with contextlib.suppress(OSError):
                    token = _file_token(os.lstat(file), file.name, job.job_id, Action.REPLACE)
        else:
            shutil.copyfile(file, dest)  # a file named on the command line stays where it is
        fsync_dir(dest.parent)
        with open(dest, "rb") as fh:
            digest = sha256_of(fh)
        with self.ledger.transaction():
            self.ledger.mark_artwork_present(job.job_id, target.position, replaced=True)
            self.ledger.update_job(
                job.job_id, now, output=None, output_pages=None, output_size=None, error=None, attempts=0
            )
            detail = f"{target.name} replaced by {file.name} (sha256 {digest[:12]})"
            self._record(job.job_id, JobStatus.ArtworkUploaded, by, detail, now, write=False)
            self._record(job.job_id, JobStatus.RecreationRequested, by, "new artwork", now, write=False)
            if token:
                self.ledger.drop_outcome(token, "done", f"artwork {target.name} replaced by {by}", now)
        if taken is not None:
            with contextlib.suppress(OSError):
                taken.unlink()
        fresh = self.ledger.get_job(job.job_id)
        assert fresh is not None
        unused = ""
        if fresh.active_block() is None:
            unused = self._void_narrow_release(fresh, by, now)
            fresh = self.ledger.get_job(job.job_id) or fresh
        if fresh.active_block() is not None:
            # A RELEASE dropped with the replacement, not read yet: it approves the output the
            # operator saw, not the one this file makes. Filed unused; the job waits for a new one.
            # (Dropped after the replacement, while the daemon was stopped, it approves no output
            # either: the new one did not exist; audit BT 8.)
            unused += self._file_stale_releases(
                job_dir, now, "before the output of this replacement was made (a release approves the output you saw)"
            )
        when = ""
        missing = [a.name for a in self.ledger.artwork(job.job_id) if not a.present]
        if not missing:
            if self._run_when_due(job.job_id, now):
                when = f" at its process_after time, {fresh.process_after}"
        else:
            self._move_to(fresh, Stage.AWAITING, now)
            # (no output was made yet: not "made again"; audit, soak 2)
            when = f" once the rest of its artwork has come (not yet: {', '.join(missing)})"
        # What follows is the check, not an output for sure: another file of the job, or this
        # one, may still fail it (audit, soak 4: "the output is made again" while it was not).
        if target.present:
            follows = "the job is checked again and, if it passes, its output made again"
        else:
            follows = "the job is checked and, if it passes, its output made"
        return f"artwork {target.name} {'replaced' if target.present else 'given'} by {by}; {follows}{when}{unused}"

    # -- crash recovery -----------------------------------------------------------------------

    def reconcile(self) -> None:
        """At start: finish what a crash interrupted, and make the folders agree with the ledger."""
        now = self.clock.now()
        self._guard("intake", "", self._recover_refusals)
        self._guard("intake", "", self._finish_pending_intakes)  # a failure is tried again at each step
        self._guard("intake", "", self._tidy_inbox_folders)
        for delivery in self.ledger.open_deliveries():
            self._guard("delivery", delivery.job_id, lambda d=delivery: self._reconcile_delivery(d, now))  # type: ignore[misc]
        # The config may have been edited while the daemon was stopped: routes said as a reload says them.
        self._guard("config", "", lambda: self._refresh_routes(None))
        # Finished jobs need nothing (a done/ job whose move was cut short is found by _locate
        # when it is needed): only the jobs still under way are checked, so a ledger of 100,000
        # finished jobs starts as fast as an empty one.
        active = [s for s in Stage if s not in TERMINAL]
        misplaced = [
            job_id
            for stage in (Stage.DONE, Stage.REJECTED)
            for job_id in self.ledger.misplaced(stage, self.rel(self.area(STAGE_AREA[stage])) + "/")
        ]
        under_way = self.ledger.job_ids(active)
        left = self._finished_but_under_way(set(under_way))
        for job_id in dict.fromkeys([*under_way, *misplaced, *left]):
            job = self.ledger.get_job(job_id)
            if job is not None:
                self._guard("job", job.job_id, lambda j=job: self._reconcile_job(j, now))  # type: ignore[misc]
        # STATUS.txt is written at most STATUS_FLUSH_SECONDS after a change: after a crash, the
        # jobs changed in the last seconds before it get theirs rewritten from the ledger.
        recent = self.ledger.last_changed(timedelta(seconds=10))
        self._dirty.update(recent)
        for job_id in recent:  # a finished job's folder, as a crash may have left it
            job = self.ledger.get_job(job_id, history=False)
            if job is not None and job.stage in TERMINAL:
                self._guard("job", job_id, lambda j=job: self._tidy_job_folder(j, now))  # type: ignore[misc]
                if job.stage in (Stage.DONE, Stage.REJECTED):
                    self._finished.add(job_id)  # drop files the crash left unanswered in it
        if self._finished:
            self._guard("drop", "", self._answer_leftovers)
        self.sweep_temp_files()
        self.flush_status()
        due = self.ledger.next_due()
        if due:
            self._schedule_wakeup(parse_iso(due))

    def _tidy_inbox_folders(self) -> None:
        """Folder drops whose manifest was taken, left empty in the inbox by a crash before their
        removal (audit, crashes 1): removed now. An empty folder no manifest came in (an
        operator's "New folder") stays."""
        inbox = self.area("inbox")
        try:
            with os.scandir(inbox) as entries:
                folders = [
                    Path(e.path) for e in entries if e.is_dir(follow_symlinks=False) and not self.ignored(e.name)
                ]
        except OSError:
            return
        for folder in folders:
            if not undecodable(str(folder)) and not _holds_files(folder) and self.ledger.intake_under(str(folder)):
                self._consumed_dirs.add(folder)
        if self._consumed_dirs:
            self._cleanup_consumed_dirs()

    def _finish_pending_intakes(self) -> None:
        """Manifests whose intake was recorded before a crash, but which had not left the inbox:
        removed now, if the file under that name is still the one taken in (its sha256 is in the
        intake key). A different file there is a new upload made while the daemon was down: it
        stays and is taken as a new manifest. An unreadable one stays pending (``take_manifest``
        finishes it once it is stable)."""
        for key, path in self.ledger.pending_intakes():
            p = Path(path)
            try:
                with open(p, "rb") as fh:
                    data = fh.read(MAX_MANIFEST_BYTES + 1)
                    sig: Signature | None = signature(os.fstat(fh.fileno()))
            except FileNotFoundError:
                sig = None
            except OSError as exc:
                log.warning("recovery.manifest_unreadable", path=path, error=str(exc))
                continue
            if sig is not None and hashlib.sha256(data).hexdigest() != key.partition(":")[0]:
                log.info("recovery.manifest_replaced", path=path, detail="a new upload under that name: taken as such")
                sig = None
            if sig is not None:
                self._recover_copies(data, p.name)
            self._unfinished.append((key, p, sig))
        self._finish_intakes()

    def _reconcile_delivery(self, delivery: Any, now: datetime) -> None:
        """An attempt a crash (or a hot folder that stopped answering) cut short: published or not,
        told from the files. Raises DeliveryError while its hot folder does not answer."""
        temp = Path(delivery.temp_path)
        final = Path(delivery.final_path)
        job = self.ledger.get_job(delivery.job_id)
        hot = self.config.hot_folders.get(delivery.hot_folder)
        share = (delivery.hot_folder, hot.path if hot is not None else final.parent)

        def look() -> tuple[bool, bool, str]:
            try:
                st = os.stat(temp.parent)
                # (a share's mount point left empty by an unmount is not the folder the rename was in)
                self.mount_points.check("", temp.parent, st)
            except (OSError, DeliveryError):
                return False, False, ""
            there = stat.S_ISDIR(st.st_mode)
            return there, there and temp.exists(), folder_id(st)

        folder_there, temp_there, folder = self.shares.call(share, f"a look for {temp}", look)
        if delivery.state in ("written", "ticket") and not folder_there:
            # The hot (or staging) folder is not there (a share not mounted, or its mount point left
            # empty): whether the rename happened cannot be told now. Decided when it is back,
            # before this job copies again.
            if delivery.id not in self._undecided_said:  # (looked at again every half minute: said once)
                self._undecided_said.add(delivery.id)
                log.warning("recovery.delivery_undecided", job_id=delivery.job_id, folder=str(temp.parent))
            return
        if temp_there:
            # The rename never happened: not published. Remove our temp file; the job copies again.
            with contextlib.suppress(OSError):
                self.shares.call(share, f"the removal of {temp}", temp.unlink)
            self.ledger.delivery_state(delivery.id, "aborted", now)
            log.info("recovery.delivery_not_published", job_id=delivery.job_id, temp=str(temp))
            return
        if delivery.state == "ticket" and job is not None:
            # The PDF was published and its job ticket's temp file was complete: a ticket temp file
            # still there was not renamed yet (done now); one gone was published (and perhaps taken
            # by the printer already): never written a second time.
            ticket_temp = ticket_temp_path(final, hot) if hot is not None else None

            def rename_ticket() -> None:
                if ticket_temp is not None and ticket_temp.exists():
                    os.replace(ticket_temp, final.with_suffix(".json"))
                    fsync_dir(final.parent)

            self.shares.call(share, f"the rename to {final.with_suffix('.json').name}", rename_ticket)
            log.info("recovery.ticket_published", job_id=delivery.job_id, file=str(final.with_suffix(".json")))
            if not job.delivered() or job.stage is not Stage.DONE:
                self._delivered(job, delivery.hot_folder, final, delivery.id, ticket_published=True)
            else:
                self.ledger.delivery_state(delivery.id, "published", now)
            return
        if delivery.state == "written" and other_folder(delivery.temp_folder, folder):
            # (audit F1) The temp file is gone with the folder it was written in: that folder was
            # removed and another made in its place (or another one mounted there) since. Whether
            # the rename happened before cannot be told: neither printed again nor said delivered.
            self.ledger.delivery_state(delivery.id, "aborted", now)
            log.warning("recovery.delivery_unknown", job_id=delivery.job_id, file=str(final), folder=str(temp.parent))
            if job is not None and job.stage not in TERMINAL:  # (also between attempts: never copied again unasked)
                self._delivery_failed(
                    job,
                    delivery.hot_folder,
                    DeliveryError(
                        f"whether {final.name} arrived in hot folder {delivery.hot_folder} cannot be told: the daemon "
                        f"stopped before it knew that its rename happened, and the folder of its temporary copy "
                        f"({temp.parent}) was removed and made again (or another one mounted there) since",
                        transient=False,
                    ),
                    fix=f"Look whether the printer received {final.name} (its queue, or the hot folder): if it did "
                    "not, drop a file named RETRY here and it is copied again; if it did, drop REJECT to close the "
                    "job without a second copy.",
                )
            return
        if delivery.state == "written" and job is not None:
            # The temp file was complete (its folder entry durable) and is gone: only our rename
            # removes it. Published; where the file is not in the hot folder either, the printer
            # took it since, or something else removed the temp file: said, not guessed silently
            # (audit B 1: a hidden file deleted by other software, a share swapped on one disk).
            seen = self.shares.call(share, f"a look for {final}", lambda: os.path.lexists(final))
            note = ""
            if not seen:
                note = (
                    " (recorded after the fact: its complete temp file was gone, so it was renamed in; it is not in "
                    "the hot folder now, taken by the printer since. If it did not print, something else removed "
                    "the temp file: send its manifest with reprint: true)"
                )
                log.warning(
                    "recovery.delivery_published_unseen",
                    job_id=delivery.job_id,
                    file=str(final),
                    reason="the complete temp file of this delivery was gone after a restart, and the file is not in "
                    "the hot folder: taken as renamed in and taken by the printer since; if it did not print, "
                    "something else removed the temp file",
                )
            else:
                log.info("recovery.delivery_published", job_id=delivery.job_id, file=str(final))
            if not job.delivered() or job.stage is not Stage.DONE:
                self._delivered(job, delivery.hot_folder, final, delivery.id, note=note)
            else:
                self.ledger.delivery_state(delivery.id, "published", now)
            return
        self.ledger.delivery_state(delivery.id, "aborted", now)

    def _finished_but_under_way(self, under_way: set[str]) -> list[str]:
        """Delivered and rejected jobs whose folder is still in work/, quarantine/ or failed/: the
        folder moves before the commit that records the finished job's stage and new folder, but
        that rename is not synced (a power cut may forget it) and may fail. Those areas hold jobs
        under way (``under_way``, which reconcile checks anyway: not read again here) and refused
        files' folders: a short listing."""
        found: list[str] = []
        for area in ("work", "quarantine", "failed"):
            try:
                with os.scandir(self.area(area)) as entries:
                    names = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
            except OSError:
                continue
            for name in names:
                if name in under_way:
                    continue
                job = self.ledger.get_job(name, history=False)
                if job is not None and job.stage in (Stage.DONE, Stage.REJECTED):
                    found.append(name)
        return found

    def _reconcile_job(self, job: Job, now: datetime) -> None:
        area = STAGE_AREA[job.stage]
        expected = self.area(area) / job.job_id
        current = self._locate(job)
        if current is None:
            if job.stage in (Stage.DONE, Stage.REJECTED):
                return
            log.warning("recovery.job_folder_missing", job_id=job.job_id, order_id=job.order_id)
            return
        operators = (self.area("quarantine"), self.area("failed"))
        if (
            current != expected
            and job.stage not in TERMINAL  # sent on (released, retried): not rejected already
            and current.parent in operators
            and self._reject_waiting(current) is not None
        ):
            # Moved out of the operators' folders, the REJECT in it would go unseen: it is read there
            # first (_reject_first), and the folder moves with the outcome.
            log.info("recovery.reject_first", job_id=job.job_id, folder=self.rel(current))
            self._reject_first_until[job.job_id] = self.clock.monotonic() + 60.0
            if self.rel(current) != job.folder:
                self.ledger.update_job(job.job_id, now, folder=self.rel(current))  # where it is, meanwhile
            return
        if current != expected:
            log.info("recovery.move", job_id=job.job_id, src=self.rel(current), dst=self.rel(expected))
            self._rename_job_dir(job.job_id, current, expected, now)
            if current.parent in operators and expected.parent not in operators:
                # Moved ahead of its stage by a crash before the commit (_record_stage): the
                # failure's ERROR.txt it took along says nothing true now (the job runs again).
                self._out_of_operator_hands(expected, now)
            if job.stage in (Stage.DONE, Stage.REJECTED):
                self._finished.add(job.job_id)  # a drop file put in before the move: answered
        elif self.rel(current) != job.folder:
            self.ledger.update_job(job.job_id, now, folder=self.rel(current))
        self._tidy_job_folder(job, now)
        if job.stage is Stage.AWAITING:
            self._claim_for_job(job)
        if job.stage is Stage.HELD and not job.blocked:
            # Released, and a crash came before it left quarantine/ (a ledger of an older version).
            log.info("recovery.released", job_id=job.job_id, order_id=job.order_id)
            self._move_to(job, Stage.DELIVER, now)
            return
        if job.stage in (Stage.HELD, Stage.FAILED) and job.status is JobStatus.RecreationRequested:
            # New artwork or a RETRY was recorded, and a crash came before the job was sent on.
            log.info("recovery.recreation", job_id=job.job_id, order_id=job.order_id)
            self._send_on(job.job_id, now)
            return
        if job.stage in (Stage.HELD, Stage.FAILED):
            (expected / "replace").mkdir(exist_ok=True)
            if not (expected / "STATUS.txt").exists():
                self._write_status(job.job_id)

    def _tidy_job_folder(self, job: Job, now: datetime) -> None:
        """After a crash: our temp files in the job's folder go; so do drop files and replacements
        whose action the ledger has (recorded, then the crash came before they were consumed) in a
        folder where nobody acts on them, so that none is acted on again if the job comes back to
        quarantine/ (a reprint)."""
        folder = self._locate(job)
        if folder is None:
            return
        for temp in list(folder.glob("output/.*.tmp")) + list(folder.glob(".*.tmp")):
            with contextlib.suppress(OSError):
                temp.unlink()
        candidates = list((folder / "replace").iterdir()) if (folder / "replace").is_dir() else []
        if job.stage not in (Stage.HELD, Stage.FAILED):
            # (in quarantine/ and failed/, a rescan answers them: apply consumes one acted on already)
            candidates += [p for p in folder.iterdir() if classify_drop(p.name) is not None]
        for path in candidates:
            in_replace = path.parent.name == "replace"
            action = Action.REPLACE if in_replace else classify_drop(path.name)
            if action is None:
                continue
            try:
                token = _file_token(os.lstat(path), path.name, job.job_id, action)
            except OSError:
                continue
            if self.ledger.drop_result(token) is None:
                continue
            log.info("recovery.drop_consumed", job_id=job.job_id, file=self.rel(path))
            if in_replace:
                self._drop_taken_replacement(folder, path, now)
            else:
                with contextlib.suppress(OSError):
                    into_history(folder, path, now)

    def sweep_temp_files(self, only: set[str] | None = None) -> None:
        """No temporary file of ours stays in a hot folder or staging folder after a restart (or,
        ``only``, in these hot folders once they answer again).

        Ours only: a ``.<name>.part`` is removed when the delivery journal names it (a PDF's temp
        file, or its ticket's); another sender's upload into a shared hot folder is left alone."""
        open_temps = {d.temp_path for d in self.ledger.open_deliveries()}
        known: set[str] | None = None
        for hot in self.config.hot_folders.values():
            if only is not None and hot.name not in only:
                continue
            for folder in {hot.path, hot.staging} - {None}:
                assert folder is not None
                try:
                    names = self.shares.call(hot, f"a listing of {folder}", lambda f=folder: os.listdir(f))  # type: ignore[misc]
                except (OSError, DeliveryError):
                    continue  # (not answering: said in the log; its temp files go at the next start)
                for name in names:
                    path = folder / name
                    if not is_our_temp(name) or str(path) in open_temps:
                        continue
                    if known is None:
                        known = self._journalled_temps()
                    if str(path) not in known:
                        continue
                    with contextlib.suppress(OSError, DeliveryError):
                        self.shares.call(hot, f"the removal of {path}", path.unlink)
                        log.info("recovery.temp_removed", file=str(path))
        # A replacement the CLI staged for a daemon that stopped before taking it (an hour old: a
        # CLI may be staging one right now).
        commands = self.commands_dir()
        with contextlib.suppress(OSError):
            for entry in os.scandir(commands):
                if not (entry.name.startswith(".") and entry.is_dir(follow_symlinks=False)):
                    continue
                if (commands / f"{entry.name[1:]}.json").exists():
                    continue
                if self.clock.now().timestamp() - entry.stat(follow_symlinks=False).st_mtime > 3600:
                    shutil.rmtree(entry.path, ignore_errors=True)

    def _journalled_temps(self) -> set[str]:
        known: set[str] = set()
        for temp, final in self.ledger.delivery_paths():
            known.add(temp)
            known.add(str(Path(temp).with_name(f".{Path(final).with_suffix('.json').name}.part")))
        return known

    # -- retention ----------------------------------------------------------------------------

    def run_retention(self) -> None:
        cutoff = self.clock.now() - timedelta(days=self.config.retention.done_days)
        # The outcomes of operator actions are kept while a file they name may still be in a job
        # folder (a crash's leftover); a week at least.
        self.ledger.prune_drops(min(cutoff, self.clock.now() - timedelta(days=7)))
        started = time.monotonic()
        for index, job in enumerate(self.ledger.terminal_before(cutoff)):
            if self.stop_event.is_set():
                return
            if index and time.monotonic() - started > RETENTION_SLICE_SECONDS:
                # Thousands to purge (a lowered done_days, a start after days off): in slices, so
                # that new jobs are taken in and delivered meanwhile.
                self._retention_requested = True
                self.wake_event.set()
                return
            self.progress_at = self.clock.monotonic()
            job_dir = self.job_dir(job)
            allowed = (self.area("done"), self.area("rejected"))
            if job_dir.parent not in allowed:
                continue
            failures: list[str] = []
            shutil.rmtree(job_dir, onerror=functools.partial(_note_failure, failures))
            if os.path.lexists(job_dir):
                # Not recorded as deleted while files are left (one an operator made read-only, an
                # immutable file): said, and tried again at the next run.
                log.warning(
                    "retention.purge_incomplete", job_id=job.job_id, folder=self.rel(job_dir), errors=failures[:3]
                )
                continue
            now = self.clock.now()
            days = self.config.retention.done_days
            self._record(
                job.job_id, JobStatus.JobDataDeleted, SYSTEM, f"retention: {human_days(days)}", now, write=False
            )
            # (A rejected job's route goes: it went to no hot folder, and ``Job.rejected`` tells it so.)
            cleared: dict[str, Any] = {"route": None} if job.stage is Stage.REJECTED else {}
            self.ledger.update_job(job.job_id, now, stage=Stage.PURGED, **cleared)


#: Operator answers given within this many seconds of each other are shown together in STATUS.txt
#: (at most ANSWERS_KEPT of them): drop files that came together are often handled a round apart.
ANSWERS_TOGETHER_SECONDS = 10.0
ANSWERS_KEPT = 6


def _note_failure(failures: list[str], _fn: object, path: str, exc: tuple[type, BaseException, object]) -> None:
    failures.append(f"{path}: {exc[1]}")


#: How long a manifest of a known job waits for an operator's drop file in the job's folder.
DROP_FIRST_SECONDS = 60.0

#: How long one retention run may purge before new work gets its turn (the rest follows at once).
RETENTION_SLICE_SECONDS = 0.5


def _inbox_depth(depth: int, name: str) -> bool:
    return depth < 8


def _job_folder_depth(depth: int, name: str) -> bool:
    return depth == 0 or (depth == 1 and name == "replace")


def _top_only(depth: int, name: str) -> bool:
    return False


#: The checks a product's expectations (products:) decide: a change of config can fix those.
_EXPECTATION_CHECKS = frozenset({"pages", "trim", "bleed"})


#: What the PDF worker says when a check did not finish (pdfwork.WorkerFailure, preflight's
#: MemoryError): checking the same file again may do, unlike for a file that is damaged.
_CUT_SHORT = ("did not finish within", "ran out of memory", "crashed")


#: How much of a file a failed job's incomplete artwork must share with a file that came again
#: under its name for STATUS.txt to point to that file (_hint_whole_again): more than a PDF header.
_WHOLE_AGAIN_MIN_BYTES = 1024
#: The same for a linearized PDF, whose declared whole length must match too.
_WHOLE_AGAIN_MIN_LINEARIZED = 256
#: How long such a file lies in inbox/ unclaimed first (at least 5 x settle_seconds, at most half
#: of artwork_timeout_seconds): a storefront sends artwork first and its manifest a moment later.
WHOLE_AGAIN_SECONDS = 10.0


def _failed_incomplete(job: Job, name: str) -> bool:
    """Whether the job failed preflight because its artwork ``name`` is incomplete (cut off)."""
    findings = (job.preflight or {}).get("findings") or []
    return any(
        isinstance(f, dict)
        and f.get("check") == "incomplete"
        and f.get("file") == name
        and f.get("severity") == "error"
        for f in findings
    )


def _written_length(path: Path) -> int:
    """The bytes of ``path`` up to its last one that is not zero: a copy whose size was set first
    (Windows Explorer) has zeros where its data did not come."""
    try:
        with open(path, "rb") as fh:
            end = os.fstat(fh.fileno()).st_size
            while end > 0:
                start = max(0, end - (1 << 16))
                fh.seek(start)
                chunk = fh.read(end - start).rstrip(b"\x00")
                if chunk:
                    return start + len(chunk)
                end = start
    except OSError:
        return 0
    return 0


def _recognisable(beginning: Path) -> tuple[int, int | None] | None:
    """(bytes written, the whole file's declared length) of a failed job's incomplete artwork when
    enough of it is there to know its whole file by: at least _WHOLE_AGAIN_MIN_BYTES, or, for a
    linearized file (which declares its whole length), its first section (~0.5 KiB: cut at its
    first %%EOF)."""
    written = _written_length(beginning)
    try:
        with open(beginning, "rb") as fh:
            declared = declared_length(fh.read(1024))
    except OSError:
        return None
    minimum = _WHOLE_AGAIN_MIN_LINEARIZED if declared is not None else _WHOLE_AGAIN_MIN_BYTES
    return (written, declared) if written >= minimum else None


def _whole_of(path: Path, size: int, beginning: Path) -> bool:
    """Whether ``path`` (``size`` bytes) is the whole of the file whose beginning ``beginning`` is:
    it starts with all of its bytes that were written (_recognisable), is longer than them, and,
    where the beginning declares the whole file's length (a linearized PDF), is that long."""
    known = _recognisable(beginning)
    if known is None or size <= known[0]:
        return False
    written, declared = known
    if declared is not None and abs(declared - size) > LENGTH_SLACK:
        return False  # not the file the beginning is of: another, or saved again since
    try:
        with open(beginning, "rb") as short, open(path, "rb") as whole:
            left = written
            while left > 0:
                chunk = short.read(min(left, 1 << 20))
                if not chunk or whole.read(len(chunk)) != chunk:
                    return False
                left -= len(chunk)
    except OSError:
        return False
    return True


def _fix_kind(finding: Finding) -> str:
    """The check a finding's fix is chosen by: a TrimBox off the page, or reaching beyond it, is a
    broken PDF, which no product expectation in the config mends (audit BB 8)."""
    if finding.check == "trim" and (TRIM_OFF_PAGE in finding.message or TRIM_BEYOND_PAGE in finding.message):
        return "trimbox"
    return finding.check


def _check_cut_short(message: str) -> bool:
    return any(words in message for words in _CUT_SHORT)


def _preflight_fix(failed: set[str], *, several: bool = False, check_again: bool = False) -> str:
    """ERROR.txt's "how to fix" for a failed preflight, for the checks that failed. ``several``:
    the job has several artwork files (a replacement then names the one it replaces).
    ``check_again``: a check did not finish (a time-out, memory, a killed worker): RETRY may do."""
    if CHECKER in failed:
        return (
            "Nothing is known to be wrong with the PDF: the daemon could not run its PDF checker. Drop a file "
            "named RETRY here to check the job again; if it fails this way again (or every job does), ask the "
            "administrator to look at the daemon's log."
        )
    fix = "Put a corrected PDF into replace/"
    if several:
        fix += " (the same file name as the one in artwork/ it replaces)"
    if failed == {"incomplete"}:
        # (or the order again: a manifest for a failed job replaces its artwork, SPEC 5)
        fix = (
            "Put the whole PDF into replace/"
            + (" (the same file name as the one in artwork/ it replaces)" if several else "")
            + ", or send the order again, its manifest with the whole PDF, into inbox/"
        )
    elif failed == {"mixed_sizes"}:
        # Not a product's expectation: validation.checks.mixed_sizes (a warning unless set to error).
        fix += (
            ", or, if pages of different sizes (or orientations) are wanted, set validation.checks.mixed_sizes to "
            "warning in the config, reload it (systemctl reload spo-hotfolder, or SIGHUP), then drop RETRY here"
        )
    elif failed and failed <= _EXPECTATION_CHECKS | {"mixed_sizes"}:
        fix += (
            ", or change the product's expectations in the config (products:), reload it (systemctl reload "
            "spo-hotfolder, or SIGHUP), then drop RETRY here"
        )
    elif "fonts" in failed and failed <= _EXPECTATION_CHECKS | {"fonts"}:
        fix += (
            " with its fonts embedded, or, if the printer has those fonts, set validation.checks.fonts to "
            "warning in the config, reload it (systemctl reload spo-hotfolder, or SIGHUP), then drop RETRY here"
        )
    elif "encryption" in failed:
        fix += " without a password (ask the customer for an unprotected file)"
    elif failed == {"repaired"}:
        fix += (
            " (sent again, or saved again from its application); if the file is complete and only slightly "
            "damaged, set validation.checks.repaired to warning in the config, reload it (SIGHUP), then drop RETRY "
            "here (the output is then written anew from what could be read: check it)"
        )
    if check_again:
        # A check that did not finish (a time-out, a killed PDF worker): checking it again may do.
        # Not so for a file that could not be read (damaged, not a PDF): the same file fails the same way.
        fix += ", or drop RETRY here to check it again"
    return fix + ", or drop REJECT to stop the job."


def _may_still_arrive(final: str | Path, hot_folder: str) -> str:
    """Said of a PDF whose rename into a hot folder was given up on before it returned."""
    return (
        f"{Path(final).name} may still arrive in hot folder {hot_folder} (the daemon records it as soon as it can "
        "look there)"
    )


_REPLACED = re.compile(r"(?P<old>.+) replaced by (?P<new>.+) \(sha256 [0-9a-f]+\)")


def _replacements_named(job: Job, texts: list[str]) -> list[str]:
    """For an ERROR.txt: which artwork named in ``texts`` is a replacement the operator put in
    under another name (it keeps the name of the file it replaced), so that "artwork 'a.pdf' is
    damaged" is not read as the old file's fault (audit, operator 6)."""
    said: dict[str, str] = {}
    for entry in job.whole_history() if job.history_complete else []:
        if entry.status is JobStatus.ArtworkUploaded and not entry.removed_at:
            match = _REPLACED.fullmatch(entry.detail)
            if match and match["old"] != match["new"]:
                said[match["old"]] = (
                    f"{match['old']} is the replacement {match['new']} put in at {entry.at} (a replacement takes the "
                    "name of the file it replaces)"
                )
    return [line for old, line in said.items() if any(f"'{old}'" in t or f" {old}" in t for t in texts)]


def _tree_signature(folder: Path, limit: int = 2_000) -> tuple[Any, ...]:
    """What ``folder`` holds, at any depth (at most ``limit`` entries): names, sizes and
    modification times, the folders' own too (unreadable: the error's number, tried as it is)."""
    held: list[tuple[str, int, int]] = []
    try:
        for sub, dirs, files in os.walk(folder):
            dirs.sort()
            for name in [".", *sorted(files)]:
                entry = f"{sub}/{name}"
                st = os.lstat(entry)
                held.append((entry, st.st_size, st.st_mtime_ns))
                if len(held) >= limit:
                    return tuple(held)
    except OSError as exc:
        return ("unreadable", exc.errno)
    return tuple(held)


def _holds_files(folder: Path) -> bool:
    """Whether anything but folders is inside ``folder`` (at any depth; stops at the first)."""
    return any(files for _sub, _dirs, files in os.walk(folder))


def _drop_name(drop: Path) -> str:
    """Who dropped ``drop``: its first line, else its owner (never through a symbolic link)."""
    try:
        with open(os.open(drop, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as fh:
            by = parse_drop(fh.read(65536)).by
    except OSError:
        by = None
    return by or _owner(drop)


def _file_manager_litter(name: str) -> bool:
    """Files that Finder, Explorer, Office or LibreOffice put into folders on their own (any case,
    as Windows and SMB shares do not keep it): never an operator's."""
    lower = name.lower()
    return lower in (".ds_store", "thumbs.db", "desktop.ini", ".localized") or lower.startswith(("._", "~$", ".~lock."))


def _read_only(*paths: Path) -> None:
    """Takes the write permission away from ``paths`` (best effort: a filesystem that refuses, e.g.
    a share, leaves them as they are; the output's recorded signature still catches a change)."""
    for path in paths:
        with contextlib.suppress(OSError):
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and st.st_mode & 0o222:
                path.chmod(stat.S_IMODE(st.st_mode) & ~0o222)


def _is_folder(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _rel_parts(path: str, base: str) -> list[str] | None:
    """The parts of ``path`` below ``base`` (both normalized, as ``str(Path)`` gives them); None
    when ``path`` is not under ``base``; [] when it is ``base``."""
    if path == base:
        return []
    prefix = base if base.endswith(os.sep) else base + os.sep
    if not path.startswith(prefix):
        return None
    return path[len(prefix) :].split(os.sep)  # noqa: PTH206 - strings: a scan does this per file


@functools.cache
def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def _not_taken(refused: Sequence[object], accepted: Sequence[str]) -> str:
    """The title of a manifest's refused jobs' ERROR.txt (audit BA 8: "some jobs" of a one-job order)."""
    if accepted:
        return "some jobs were not taken." if len(refused) > 1 else "one job was not taken."
    return "its job was not taken." if len(refused) == 1 else "its jobs were not taken."


def _near_miss(path: Path, names: Sequence[str] | None = None) -> tuple[str, str] | None:
    """The file beside ``path`` whose name differs only in letter case or Unicode form (the "é" of
    a Mac or an rsync from one is two characters: e + accent), and how it differs; None when there
    is none, or several (card.pdf and CARD.pdf for Card.pdf: which one is meant is not guessed).
    ``names``: as ``_near_misses``."""
    near = _near_misses(path, names)
    return near[0] if len(near) == 1 else None


def _near_misses(path: Path, names: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """Every file beside ``path`` whose name differs only in letter case or Unicode form, and how.
    ``names``: the folder as listed a moment ago (``Engine._listed``); a name alike that is gone
    since does not count, and one that came since comes through the watcher like any file."""
    wanted = path.name
    listed = names is not None
    if names is None:
        try:
            names = os.listdir(path.parent)
        except OSError:
            return []
    # Each of the (possibly thousands of) names costs two or three string calls; only the few alike
    # are sorted and told apart.
    key, folded = name_key(wanted), wanted.casefold()
    alike = sorted(
        other
        for other in names
        if other != wanted
        and (name_key(other) == key or other.casefold() == folded)
        and (not listed or os.path.lexists(path.parent / other))
    )
    found: list[tuple[str, str]] = []
    for other in alike:
        if unicodedata.normalize("NFC", other) == unicodedata.normalize("NFC", wanted):
            found.append((other, "only in its Unicode form (accents written as separate characters)"))
        elif other.casefold() == wanted.casefold():
            found.append((other, "only in letter case"))
        elif unicodedata.normalize("NFC", other).casefold() == unicodedata.normalize("NFC", wanted).casefold():
            found.append((other, "in letter case and Unicode form"))
    return found


def _owner(path: Path) -> str:
    """Who dropped a file: its owner, when that is a person (Samba maps users), else 'operator'."""
    try:
        import pwd

        uid = path.stat().st_uid
        if uid in (0, os.getuid()):
            return "operator"
        return pwd.getpwuid(uid).pw_name
    except (OSError, KeyError, ImportError):
        return "operator"
