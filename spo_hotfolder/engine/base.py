"""What the engine's parts share: the services it is given, its constants, its small helpers."""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import structlog

from spo_hotfolder.digests import Key as FileKey
from spo_hotfolder.fsutil import name_key
from spo_hotfolder.operator import Action
from spo_hotfolder.outputfile import OutputResult
from spo_hotfolder.pdfreport import (
    ArtworkInput,
    PreflightReport,
)
from spo_hotfolder.shares import Pending
from spo_hotfolder.status import JobStatus

log = structlog.get_logger("spo_hotfolder.engine")
#: How an inbox folder the daemon cannot change is made writable for it (log line and ERROR.txt).
UNWRITABLE_FIX = (
    "uploads with umask 0002 (a local cp -r keeps the source's mode: cp -r --no-preserve=mode); Samba: create "
    "mask 0664, directory mask 2775; or chmod g+w"
)
SYMLINK_PROBLEM = (
    "{name} is a symbolic link, not a file: the daemon does not follow links (one could point at any file "
    "on the server); put the file itself"
)


#: While jobs run, STATUS.txt files are rewritten at most this often (and whenever the engine
#: goes idle): a job passing through in a few milliseconds gets one write, not one per step.
STATUS_FLUSH_SECONDS = 0.5
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
_REFUSED_COPY = re.compile(re.escape(COPY_SUFFIX) + r"(-\d+)?$")


def refused_copy(name: str) -> bool:
    """Whether a folder's name is that of a refused copy of a job's folder, numbered or not (the
    second one of a name is "... (copy, not used)-2": review IB 2, taken for the job's own)."""
    return _REFUSED_COPY.search(name) is not None


#: The folders the daemon keeps in a job's folder (SPEC 4).
JOB_SUBFOLDERS = frozenset({"artwork", "output", "history", "replace"})
#: How the name of a file an operator put where it does nothing begins once renamed to say so.
NOT_USED = "NOT USED - "
#: What follows the file's own name in those names (then an extension): why it did nothing.
NOT_USED_IN_NO_JOB = " - this folder is no job's"
NOT_USED_BESIDE_JOBS = " - put it into a job's folder"
NOT_USED_PDF = " - put it into the replace folder of the job it is for"


#: A difference this large between how far the wall clock and the monotonic clock moved from one
#: engine step to the next is the wall clock stepped (NTP, a VM resumed, `date -s`), not a slew.
CLOCK_STEP_SECONDS = 2.0


def not_used_original(name: str) -> str | None:
    """The name a file had before the daemon renamed it NOT USED (``NOT USED - RELEASE - put it
    into a job's folder.txt``: RELEASE), or None for another name."""
    if not name.startswith(NOT_USED):
        return None
    rest = name[len(NOT_USED) :]
    for reason in (NOT_USED_IN_NO_JOB, NOT_USED_BESIDE_JOBS, NOT_USED_PDF):
        at = rest.rfind(reason)
        if at > 0:
            return rest[:at]
    return rest


#: What a folder moved out of a job folder's way gets after its name (then a time stamp,
#: fsutil.stamp, and perhaps "-2": records.py), and the names so made (not job folders).
ASIDE_MARK = ".old-"
MOVED_ASIDE = re.compile(rf"{re.escape(ASIDE_MARK)}\d{{8}}T\d{{6}}\.\d{{3}}Z(-\d+)?$")
#: How soon a file whose intake failed for a full spool disk is tried again.
DISK_FULL_RETRY_SECONDS = 5.0


class PdfService(Protocol):
    def check(self, artwork: Any, product_name: Any, spec: Any, validation: Any) -> tuple[PreflightReport, bool]: ...

    def build_output(
        self,
        artwork: Any,
        dest: Any,
        spec: Any,
        validation: Any,
        while_waiting: Callable[[], None] | None = None,
        repaired: bool = False,
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
    ctime: int  # and its change time then, moved on by the engine's own link and chmod (_process)
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
    """ValidationFailed "artwork file missing from the job folder" for the inputs not there. One
    that cannot be looked at for another reason (a disk's I/O error: audit CH E2, said "missing"
    and advised a replacement of a file that was there) is no failure here: the check that reads
    it next says what is wrong with it, and that it may be checked again (RETRY)."""
    missing = []
    for item in inputs:
        try:
            st = os.stat(item.path)
        except (FileNotFoundError, NotADirectoryError):
            missing.append(item.name)
            continue
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            missing.append(item.name)
    if not missing:
        return None
    return JobFailed(
        JobStatus.ValidationFailed,
        "artwork file missing from the job folder: " + ", ".join(missing),
        [f"artwork/{name} is not there" for name in missing],
        "Put the artwork into replace/ (same file name), or drop REJECT here.",
    )


def _holds_files(folder: Path) -> bool:
    """Whether anything but folders is inside ``folder`` (at any depth; stops at the first)."""
    return any(files for _sub, _dirs, files in os.walk(folder))


def nothing_set_aside(folder: Path) -> bool:
    """Whether a folder files are set aside into (``Engine._setting_aside``) holds none of them:
    only its ERROR.txt, and folders made for files not moved in yet."""
    held = [p for p in folder.rglob("*") if p.is_symlink() or not p.is_dir()]
    return held in ([], [folder / "ERROR.txt"])


def _file_manager_litter(name: str) -> bool:
    """Files that Finder, Explorer, Office or LibreOffice put into folders on their own (any case,
    as Windows and SMB shares do not keep it): never an operator's."""
    lower = name.lower()
    return lower in (".ds_store", "thumbs.db", "desktop.ini", ".localized") or lower.startswith(("._", "~$", ".~lock."))


def _rel_parts(path: str, base: str) -> list[str] | None:
    """The parts of ``path`` below ``base`` (both normalized, as ``str(Path)`` gives them); None
    when ``path`` is not under ``base``; [] when it is ``base``."""
    if path == base:
        return []
    prefix = base if base.endswith(os.sep) else base + os.sep
    if not path.startswith(prefix):
        return None
    return path[len(prefix) :].split(os.sep)  # noqa: PTH206 - strings: a scan does this per file


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


def has_status_file(folder: Path) -> bool:
    """``folder`` holds a STATUS.txt (a job's own folder); False where the daemon may not look
    into it (an operator's folder made with umask 077: ``Path.is_file`` raised, and a release of
    the job holding it failed "artwork file missing": audit BV N1, N2)."""
    try:
        return stat.S_ISREG(os.stat(folder / "STATUS.txt").st_mode)
    except OSError:
        return False


#: In ``Engine._not_filed``: a replacement taken (it is in artwork/) that its read-only replace/
#: did not let go: removed, not filed, once it may be.
TAKEN = ""


def sticky_for_us(st: os.stat_result) -> bool:
    """Whether a folder (its ``st``) has the sticky bit in a way that binds this process: not root,
    not its owner; then only a file's owner may move the file."""
    return bool(st.st_mode & stat.S_ISVTX) and os.geteuid() not in (0, st.st_uid)
