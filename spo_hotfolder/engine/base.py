"""What the engine's parts share: the services it is given, its constants, its small helpers."""

from __future__ import annotations

import contextlib
import errno
import functools
import itertools
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import structlog

from spo_hotfolder.clock import iso
from spo_hotfolder.digests import Key as FileKey
from spo_hotfolder.fsutil import name_key
from spo_hotfolder.ledger import Job, Stage
from spo_hotfolder.operator import (
    Action,
    parse_drop,
)
from spo_hotfolder.outputfile import OutputResult
from spo_hotfolder.pdfreport import (
    LENGTH_SLACK,
    TRIM_BEYOND_PAGE,
    TRIM_OFF_PAGE,
    ArtworkInput,
    Finding,
    PreflightReport,
    declared_length,
)
from spo_hotfolder.pdfwork import CHECKER
from spo_hotfolder.shares import Pending
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
#: How long a job about to be delivered waits at most for a manifest naming it that came while it
#: was made (Engine._manifest_first): one that cannot be taken in that long does not hold it.
MANIFEST_FIRST_SECONDS = 10.0
#: Free space on the spool's disk below which one found full a moment ago is still said to be full.
SPOOL_ROOM_BYTES = 1024 * 1024
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
