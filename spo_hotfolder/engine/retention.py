"""Retention: finished jobs' files deleted after retention.done_days.

A part of the class ``Engine`` (``engine/core.py``), kept in a module of its own; its methods
run on the engine's thread, ``self`` being the Engine."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import shutil
import stat
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spo_hotfolder.clock import iso
from spo_hotfolder.engine.base import log, refused_copy
from spo_hotfolder.engine.state import EngineState
from spo_hotfolder.fsutil import user_name
from spo_hotfolder.ledger import Job, Stage
from spo_hotfolder.operator import SYSTEM
from spo_hotfolder.reports import human_days
from spo_hotfolder.status import JobStatus


def _note_failure(failures: list[str], _fn: object, path: str, exc: tuple[type, BaseException, object]) -> None:
    failures.append(f"{path}: {exc[1]}")


def _what_blocks(failures: list[str]) -> list[Path]:
    """The folders that kept a purge from finishing: those the daemon may not list or empty (an
    operator's notes made with umask 077, a folder of another account), each once, all of them
    (audit BU 8: only the first was named, the next owner's at the next run, an hour later)."""
    found: dict[Path, None] = {}
    for failure in failures:
        path = Path(failure.split(": ", 1)[0])
        for folder in (path, path.parent):
            if folder.is_dir() and not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
                found[folder] = None
                break
    return list(found)


#: How long one retention run may purge before new work gets its turn (the rest follows at once).
RETENTION_SLICE_SECONDS = 0.5
#: A job's due time is its updated_at (recorded to the millisecond) + done_days: run just after it.
RETENTION_MARGIN_SECONDS = 0.05
#: The least time between two retention runs made for jobs falling due (a tenth of done_days if less).
RETENTION_GAP_SECONDS = 60.0


if TYPE_CHECKING:
    from spo_hotfolder.engine.core import Engine


def _folders_in(folder: Path) -> list[os.DirEntry[str]]:
    """The folders in ``folder`` (links not followed); none where it cannot be listed."""
    try:
        with os.scandir(folder) as entries:
            return [entry for entry in entries if entry.is_dir(follow_symlinks=False)]
    except OSError:
        return []


class EngineRetention(EngineState):
    """The Engine's methods for retention (this module's docstring says what they do)."""

    def run_retention(self: Engine) -> None:
        self._retention_at = math.inf  # (due again when this run is complete: _retention_next)
        try:
            self._purge_due()
        except BaseException:
            # (a full disk while a deletion is recorded, a busy ledger: tried again a gap later, not
            # at the hourly run, when freeing the disk matters most; review HV's suspicion)
            self.retention_due(RETENTION_GAP_SECONDS)
            raise

    def _purge_due(self: Engine) -> None:
        cutoff = self.clock.now() - timedelta(days=self.config.retention.done_days)
        # The outcomes of operator actions are kept while a file they name may still be in a job
        # folder (a crash's leftover); a week at least.
        self.ledger.prune_drops(min(cutoff, self.clock.now() - timedelta(days=7)))
        started = time.monotonic()
        renamed: dict[str, Path] | None = None  # (looked for once a run, where a job's folder is not found)
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
            if not os.path.lexists(job_dir) and (found := self._locate(job)) is not None:
                # A folder of the job's name elsewhere is its own only where its STATUS.txt says so
                # (review EE 1: a refused re-send of the order filed as failed/<job id>/ was taken
                # for it, and the job never purged); none: deleted by hand, nothing left to keep.
                named = self._job_named_in(found)
                job_dir = found if named is not None and named.job_id == job.job_id else job_dir
            if not os.path.lexists(job_dir) and (self.area("inbox") / job.job_id).is_dir():
                # Dragged into inbox/, and put back in a moment (_job_folder_in_inbox): deleted at the
                # next run, not recorded as deleted now while its files are there (review EC 1: then
                # refused as "a copy" of a job whose folder was "purged since", kept for good).
                continue
            if not os.path.lexists(job_dir):
                # Renamed by hand ("7100-1 - keep"): its files are there, not deleted, and not
                # recorded as deleted (review HV 1: JobDataDeleted, the folder kept for good).
                renamed = self._renamed_finished() if renamed is None else renamed
                if job.job_id in renamed:
                    self._kept_elsewhere(job, renamed[job.job_id])
                    continue
            allowed = (self.area("done"), self.area("rejected"))
            if job_dir.parent not in allowed:
                self._kept_elsewhere(job, job_dir)
                continue
            self._said_elsewhere.pop(job.job_id, None)  # (back where it is deleted)
            self.rescue_nested_job_folders(job_dir)  # (a job's folder dragged into it: not purged with it)
            failures: list[str] = []
            shutil.rmtree(job_dir, onerror=functools.partial(_note_failure, failures))
            if os.path.lexists(job_dir):
                # Not recorded as deleted while files are left (one an operator made read-only, an
                # immutable file): said, with whose folder keeps them and the fix (audit BS D8: the
                # raw errors only, and nothing in the folder left to say why it is there), and tried
                # again at the next run.
                said = []
                for blocking in _what_blocks(failures)[:5]:
                    with contextlib.suppress(OSError):
                        st = blocking.stat()
                        said.append(f"{self.rel(blocking)} ({user_name(st.st_uid)}'s, {stat.filemode(st.st_mode)})")
                fix = (
                    f"the daemon may not empty {', '.join(said)}: its owner (or root) may remove it, or give the "
                    "daemon's group write permission on it (chmod -R g+rwX)"
                    if said
                    else "remove what is left by hand, or give the daemon's account write permission on it"
                )
                log.warning(
                    "retention.purge_incomplete",
                    job_id=job.job_id,
                    folder=self.rel(job_dir),
                    errors=failures[:3],
                    action=f"{fix}; retention tries again at its next run",
                )
                self._note_action(
                    job.job_id,
                    f"{iso(self.clock.now())}  retention deleted this job's files but not all: {fix}; it tries "
                    "again at its next run",
                    append=True,
                )
                self._write_status(job.job_id)
                continue
            now = self.clock.now()
            days = self.config.retention.done_days
            # (A rejected job's route goes: it went to no hot folder, and ``Job.rejected`` tells it so.)
            cleared: dict[str, Any] = {"route": None} if job.stage is Stage.REJECTED else {}
            with self.ledger.transaction():  # one commit: the deletion and the stage that says so
                # (white-box audit CP 3: two, the second failing, left a "done" job without files
                # for done_days, then a second JobDataDeleted)
                self._record(
                    job.job_id, JobStatus.JobDataDeleted, SYSTEM, f"retention: {human_days(days)}", now, write=False
                )
                self.ledger.update_job(job.job_id, now, stage=Stage.PURGED, **cleared)
                self.ledger.set_kept_by_hand(job.job_id, None)  # (kept no longer: deleted where it is deleted)
        self._retention_next(cutoff)

    def _renamed_finished(self: Engine) -> dict[str, Path]:
        """The folders that are a finished job's folder under another name or in another place
        (renamed or moved by hand: "7100-1 - keep"), by the job their STATUS.txt names: at the top
        of done/, rejected/, quarantine/ and failed/, and one level down in done/ and rejected/ (a
        folder an operator made there to keep jobs in: review HW 4, such a folder's job was recorded
        deleted, and kept for good, as was one renamed in failed/). The refused copies the daemon
        filed (" (copy, not used)") are no job's folder."""
        found: dict[str, Path] = {}

        def look(folder: Path) -> None:
            named = self._job_named_in(folder)
            if named is not None:
                found.setdefault(named.job_id, folder)

        for name in ("done", "rejected", "quarantine", "failed"):
            area = self.area(name)
            for entry in _folders_in(area):
                if refused_copy(entry.name) or self.ledger.get_job(entry.name, history=False) is not None:
                    continue  # (a job's own folder, under its name)
                look(Path(entry.path))
                if name in ("done", "rejected"):
                    for inner in _folders_in(Path(entry.path)):
                        if not refused_copy(inner.name):
                            look(Path(inner.path))
        return found

    def kept_where(self: Engine, job: Job) -> Path | None:
        """Where a finished job's folder is that retention said kept by hand (``_kept_elsewhere``:
        moved to done/keep/<job>, renamed "<job> - keep"), as the ledger keeps it across restarts
        (review IB 1, IC 1: dragged into inbox/ after a restart, the folder was put back under the
        job's name and deleted at once); None where not said, or where that place is no longer
        inside the spool's finished or waiting folders (a folder above it swapped for a link)."""
        said = self._said_elsewhere.get(job.job_id)
        if said is None:
            rel = self.ledger.kept_by_hand(job.job_id)
            if rel is None:
                return None
            said = self.root / rel  # (as self.rel wrote it: relative to the root, or whole)
        real = Path(os.path.realpath(said.parent))
        for name in ("done", "rejected", "quarantine", "failed"):
            area = Path(os.path.realpath(self.area(name)))
            if real == area or area in real.parents:
                return said
        return None

    def _kept_elsewhere(self: Engine, job: Job, folder: Path) -> None:
        """A finished job due for deletion whose folder is not in done/ or rejected/ (an operator
        moved it into quarantine/ or failed/), or is there under another name: not deleted there,
        and not recorded as deleted (review EB 1, HV 1: JobDataDeleted was recorded, the folder kept
        for good, its STATUS.txt saying retention would remove it). Said once a run of the daemon,
        in the log and in the folder."""
        if self._said_elsewhere.get(job.job_id) == folder:
            return
        self._said_elsewhere[job.job_id] = folder
        self.ledger.set_kept_by_hand(job.job_id, self.rel(folder))
        home = self.job_dir(job).parent
        text = (
            f"this finished job's folder is {self.rel(folder)}/, not {self.rel(self.job_dir(job))}/ (renamed by "
            f"hand): retention deletes a job's folder under its own name only. Rename it back to {job.job_id} to "
            "have it deleted, or delete it yourself"
            if folder.parent == home
            else f"this finished job's folder is in {self.rel(folder.parent)}/, not in {self.rel(home)}/ (moved "
            f"there by hand): retention deletes only what is in done/ and rejected/. Move it back into "
            f"{self.rel(home)}/ to have it deleted, or delete it yourself"
        )
        log.warning("retention.folder_elsewhere", job_id=job.job_id, folder=self.rel(folder), action=text)
        self._note_action(job.job_id, f"{iso(self.clock.now())}  {text}", append=True)
        self._write_status_now(job.job_id, folder)

    def _retention_next(self: Engine, cutoff: datetime) -> None:
        """After a complete retention run (over the jobs finished before ``cutoff``): the next one
        when the oldest finished job not yet due is (none: the hourly run, and each job as it
        finishes, ``retention_due``). One due already (a folder that could not be emptied, or not in
        done/, said) is tried again by the hourly run, not every step, and does not put off the
        others (review EB 3: their due times were lost until the hourly run)."""
        oldest = self.ledger.oldest_terminal_update(since=cutoff)
        if oldest is None:
            return
        days = self.config.retention.done_days
        due = (oldest + timedelta(days=days) - self.clock.now()).total_seconds()
        # (a busy shop's jobs fall due one after the other: one run a minute at most for them). One
        # that fell due while this run went on is due at once: scheduled all the same (review HS 1:
        # it was not, and the purges stopped until another job finished or the hourly run).
        self.retention_due(max(due, min(RETENTION_GAP_SECONDS, days * 86400 / 10)))

    def retention_due(self: Engine, seconds: float) -> None:
        """A job finished (done or rejected) whose files are due for deletion in ``seconds``:
        retention runs then if not earlier (a short done_days deletes them on time)."""
        at = self.clock.monotonic() + seconds + RETENTION_MARGIN_SECONDS
        self._retention_at = min(self._retention_at, at)
