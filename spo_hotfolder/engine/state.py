"""The Engine's state: every attribute its parts share, declared once with its type (the parts
are mixins, each in its own module; ``Engine.__init__`` gives each attribute its first value)."""

from __future__ import annotations

import collections
import re
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from spo_hotfolder.clock import Clock
from spo_hotfolder.config import Config
from spo_hotfolder.delivery import MountPoints
from spo_hotfolder.digests import Key as FileKey
from spo_hotfolder.engine.base import Metrics, PdfService, _PdfCan, _Prestage
from spo_hotfolder.fsutil import Flusher
from spo_hotfolder.ledger import Ledger
from spo_hotfolder.shares import ShareGuard
from spo_hotfolder.stability import FileStabilityTracker, Signature
from spo_hotfolder.unread import UnreadManifests


class EngineState:
    """Declared here, given their first values by ``Engine.__init__``."""

    config: Config
    ledger: Ledger
    clock: Clock
    pdf: PdfService | None
    metrics: Metrics
    _schedule_wakeup: Callable[[datetime], None]
    tracker: FileStabilityTracker  # when the inbox's files are complete
    _hints: dict[Path, tuple[bool, float]]  # path -> (moved in, when last seen)
    _woken_for: dict[Path, float]  # path -> when its event last woke the engine (monotonic)
    _folder_moves: list[tuple[Path, Path, frozenset[str]]]  # folders renamed: (old, new, files not in new)
    _taken_out: dict[Path, None]  # files the engine moved out of the inbox (the newest ARRIVALS_KEPT)
    _hint_lock: threading.Lock
    wake_event: threading.Event
    stop_event: threading.Event
    _pending_config: Config | None
    _rescan_requested: bool
    _scan: Iterator[Path] | None  # the scan in progress, done in slices
    _scan_started: float
    _scan_count: int
    _retention_requested: bool
    _sweep_requested: bool  # the hourly look for temp files of ours left in hot folders (sweep_temp_files)
    # (monotonic) When the oldest finished job is due for retention (its updated_at + done_days):
    # retention runs then, not up to an hour later at its hourly run (audit CF 11).
    _retention_at: float
    _said_elsewhere: dict[str, Path]  # finished jobs whose folder retention found moved or renamed, said: where
    _orphans: dict[Path, tuple[float, Signature]]  # stable inbox files no manifest claimed
    # When the next of them is due (_check_orphans; monotonic): the engine wakes for it, so a
    # file goes to failed/ at artwork_timeout_seconds, not up to a wait's 5 s later.
    _orphans_next: float
    #: jobs whose artwork is there only under a name alike (case, Unicode form): taken then
    #: (monotonic), unless the file of the very name comes first (_claim_for_job)
    _near_later: dict[str, float]
    # Jobs whose artwork was moved into their folder but whose ledger mark failed (a full
    # disk): marked at a later step (_mark_unmarked), not only at the next start.
    _unmarked: set[str]
    #: manifests refused from the top of inbox/: (monotonic, failed/ folder, text), oldest first
    _refused_manifests: collections.deque[tuple[float, str, bytes, str | None]]  # (when, folder, text, order)
    #: files at the top of inbox/ that jobs wait for, held a moment after they began to arrive
    #: (_claim): path -> (until, first seen, signature), monotonic times
    _held_for_owner: dict[Path, tuple[float, float, Signature]]
    #: files at the top of inbox/ that another upload of their name replaced before a job took
    #: them (_note_new_version): when the new one began to arrive (monotonic)
    _new_versions: dict[Path, tuple[float, float]]  # (when, when the one it replaced was first seen)
    _tails: dict[Path, tuple[int, int, bytes]]  # inbox files not taken: (inode, size, last bytes) at the last look
    #: the manifests at the top of inbox/ not read yet, by the file names they mention
    _unread: UnreadManifests
    _started_wall: float  # (files older than this waited before the start)
    #: inbox files there before the start: how long they had waited (_waited_before_start),
    #: counted once the start's backlog is taken (their manifest may be in it)
    _waited_before: dict[Path, float]
    _start_backlog_over: bool
    _scans_done: int
    _listings: dict[Path, list[str]] | None  # folders listed in this round (_listed)
    _upload_names: dict[Path, set[str]]  # of those, the names uploads under way stand for (_uploads_listed)
    #: the last round's listings and when they were begun: the next round's, if it begins soon
    _kept_listings: tuple[float, dict[Path, list[str]], dict[Path, set[str]]] | None
    #: Inbox files a manifest named that were not taken yet (_claim_for_job): looked at by the
    #: next _take_stable, not behind a backlog
    _named: set[Path]
    _answered_elsewhere: set[Path]  # replacements in folders that are no job's, said once
    _whole_hinted: set[tuple[Path, Signature]]  # orphans looked at by _hint_whole_again
    _manifest_turn: dict[Path, float]  # inbox folders whose manifest goes before their files: _manifest_beside
    # Notes in STATUS.txt about such a file: withdrawn once it is gone (_withdraw_whole_notes).
    _whole_notes: dict[Path, list[tuple[str, str, Signature]]]
    _manifest_faults: dict[Path, int]  # manifests the daemon failed on, and how often
    _arriving: dict[str, float]  # waiting jobs to look at again (monotonic time)
    #: When the manifest of a job taken in this run was first seen (its upload, not its intake,
    #: which waits settle_seconds for a file written in place): to tell which order a file of a
    #: name jobs of several orders wait for belongs to (_owner_order). The newest few only.
    _manifest_seen: dict[str, datetime]
    #: Inbox files being uploaded under a temporary name: (that name, when it was first seen).
    _upload_began: dict[Path, tuple[str, float]]
    _strays: dict[Path, Signature]  # unknown files in job folders, already answered
    _bad_name_targets: dict[Path, Path]  # inbox entries not UTF-8 -> their failed/ folder
    _unwritable: dict[Path, tuple[int, int, int]]  # inbox folders said not writable
    _unreadable: dict[Path, tuple[int, int, int]]  # watched folders said not readable: _said_unreadable
    _unmovable: dict[Path, tuple[int, int, int]]  # inbox files the daemon may not move: _unmovable_said
    _refusing_looked_at: float  # (monotonic) when these and _unwritable were last tried: _look_at_refusing_folders
    # (job, path in its folder): its name in history/, or TAKEN (a replacement taken: removed): _file_left_drops
    _not_filed: dict[tuple[str, str], str | None]
    _not_removed: set[Path]  # taken manifests whose inbox name could not go (said once)
    # manifests changed in place after their intake, to read again: intake key, file held open,
    # inode number and change time
    _read_again: dict[Path, tuple[str, int | None, int, int]]
    _consumed_dirs: set[Path]  # inbox subfolders whose manifest we took
    # Those found empty: since when (monotonic) and their mtime then (_quiet_and_empty)
    _empty_since: dict[Path, tuple[float, int]]
    _cleanup_at: float  # (monotonic) when the first of them has been quiet long enough
    _moved_specials: dict[Path, Path]  # inbox links (and pipes...) moved to failed/
    #: Links (and pipes...) inside a folder drop whose manifest is there: left for the manifest's
    #: intake to decide, and looked at again once it has (``_special_in_folder_drop``).
    _deferred_specials: dict[Path, int]
    # Manifests taken in (their jobs durably in the ledger), still to be removed from the inbox:
    # (intake key, path, the file's signature when read; None: remove nothing, only mark the
    # intake complete). See _finish_intakes.
    _unfinished: list[tuple[str, Path, Signature | None, int]]  # (intake key, manifest, signature, ctime)
    # New jobs' folders whose manifest copy is not on disk yet, nor their history/ made: (job id,
    # the copy's name, the manifest's bytes to check it against (after a restart), or None).
    # Done by _finish_intakes before any manifest leaves the inbox; off a job's path to its
    # hot folder (two fsyncs and a directory: ~0.5 ms of a ~6 ms job here).
    _unsynced: list[tuple[str, str, bytes | None]]
    _disk_full_at: float  # monotonic time the spool was last found full
    _disk_full_said: float  # ... and said so in the log
    _cut_off_held: dict[Path, Signature]  # manifests held once as maybe still being written
    # Refused folder drops waiting to go to failed/ whole (monotonic): unchanged since when, what
    # they held then, first refused when
    _refused_arriving: dict[Path, tuple[float, tuple[Any, ...], float]]
    _repeat_held: dict[Path, Signature]  # manifests sent again, held once for their artwork
    _twin_held: dict[Path, Signature]  # manifests of delivered jobs, held once for a reprint twin
    _cooldown: dict[str, float]  # job_id -> monotonic time before which it is not retried
    _served: dict[str, int]  # order_id -> _served_count when a job of it last ran (orders take turns)
    _served_count: int
    # Jobs a restart found sent on with a REJECT in their operator folder (_reject_first), and
    # until when (monotonic) they wait for it to be read.
    _reject_first_until: dict[str, float]
    # Jobs going on from work/ with a drop file in their folder there (_work_drops_first), and
    # until when (monotonic) they wait for it to be read.
    _work_drops_until: dict[str, float]
    _job_dirs: dict[str, tuple[Path, Path]]  # recorded folder -> (root, its path); see job_dir
    #: the operator's last action per job and its answer (STATUS.txt), kept in the ledger too
    _last_action: dict[str, str | None]
    _noted: dict[str, float]  # job -> when its last operator answer was given (monotonic)
    _finished: set[str]  # jobs just moved to done/ or rejected/: _answer_leftovers
    _misplaced: dict[
        str, str
    ]  # jobs whose folder could not be moved where their stage lives (that folder): _move_misplaced
    _answering_drops: bool
    #: job -> the hot folder a reload's routes took away (kept in the ledger too: set_rerouted)
    _rerouted: dict[str, str]
    flusher: Flusher
    # A check begun ahead of its job's turn (_begin_early_check at intake, _begin_next_check
    # while the queue runs): (what it depends on, the call, when begun).
    _early_check: tuple[tuple[Any, ...], Any, float] | None
    _queue_running: bool  # _run_jobs is working through a queue of jobs
    _new_only: bool  # _meanwhile: only manifests of new jobs and artwork are taken in
    #: manifests of known jobs waiting for drop files in their folders (first seen, monotonic)
    _manifest_held: dict[Path, float]
    #: jobs being made when a manifest naming them came (_meanwhile): job -> (that manifest, since
    #: when, monotonic); taken before the job is delivered (_manifest_first)
    _manifest_waiting: dict[str, tuple[Path, float]]
    _pdf_can_cached: _PdfCan | None  # see _pdf_can
    _digests: dict[FileKey, str]  # (dev, inode, size, mtime) -> sha256
    _prestaged: dict[str, _Prestage]  # job id -> its copy begun with its check (_prestage)
    #: delivery id -> the job ticket's call under way (_delivered): a call given up on is not
    #: it, and its journal mark is refused; the lock orders the mark and the giving up
    _ticket_attempts: dict[int, object]
    _ticket_lock: threading.Lock
    _published_ids: dict[int, tuple[int, int, int]]  # delivery id -> its PDF's identity, its ticket not written yet
    _dirty: set[str]  # jobs whose STATUS.txt is to be rewritten
    _status_unwritten: set[str]  # jobs whose STATUS.txt could not be written (said once, tried again)
    _status_flushed_at: float
    _commands_dir: tuple[Path, Path] | None  # (state folder, its commands/)
    _ignore_re: tuple[tuple[str, ...], re.Pattern[str]] | None
    _dirs_seen: dict[str, tuple[int, int]]  # job folders as of the last rescan
    last_step_at: float
    # The engine thread's last sign of life (a step, a job, a chunk of a copy): a file
    # operation that never returns (a hung share) stops it, and the health check says so.
    progress_at: float
    busy_job: str | None
    # Every file system call into a hot folder, on that hot folder's own thread with a time
    # limit: a share that stops answering fails its jobs' attempts, not the daemon (SPEC 8).
    shares: ShareGuard
    _answered: set[str]  # hot folders answering again, whose cut-short attempts are looked at
    _undecided_looked_at: float
    _command_given: Path | None  # the CLI command file being acted on (withdrawn by Ctrl-C: gone)
    _clock_seen: tuple[datetime, float] | None  # (wall, monotonic) at the last step: a clock step told
    _undecided_said: set[int]  # deliveries whose "undecided" was logged
    unknown_job_folders: list[str]  # found at start, the ledger not knowing them ("work/<job>")
    _unknown_marks: list[int]  # the areas' mtimes when they were last looked at
    _unknown_looked_at: float
    # Hot folders seen as shares' mount points (an unmounted share leaves an empty local folder).
    mount_points: MountPoints
    # The spool folders by identity, for the config's paths they were looked at for (_spool_identities)
    _spool_ids: tuple[object, dict[tuple[int, int], tuple[str, Path]]]
