"""Job folders and statuses: the moves between spool folders, and every status recorded.

A part of the class ``Engine`` (``engine/core.py``), kept in a module of its own; its methods
run on the engine's thread, ``self`` being the Engine."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from spo_hotfolder.clock import iso
from spo_hotfolder.delivery import (
    RouteDecision,
    decide_route,
)
from spo_hotfolder.digests import Key as FileKey
from spo_hotfolder.digests import identity, sha256_of
from spo_hotfolder.engine.base import (
    ASIDE_MARK,
    TAKEN,
    JobFailed,
    _file_manager_litter,
    log,
)
from spo_hotfolder.engine.state import EngineState
from spo_hotfolder.fsutil import (
    atomic_write,
    into_history,
    open_regular,
    real_folder,
    stamp,
    unique_path,
)
from spo_hotfolder.ledger import STAGE_AREA, TERMINAL, Job, Stage, is_disk_full
from spo_hotfolder.operator import (
    SYSTEM,
    classify_drop,
    fingerprint,
)
from spo_hotfolder.reports import (
    Extra,
    artwork_listing,
    error_text,
    status_text,
)
from spo_hotfolder.status import JobStatus

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


@functools.cache
def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


if TYPE_CHECKING:
    from spo_hotfolder.engine.core import Engine


def _error_back(folder: Path, before: bytes | None) -> None:
    """ERROR.txt in ``folder`` as it was (``before``; None: there was none)."""
    error = folder / "ERROR.txt"
    if before is None:
        error.unlink(missing_ok=True)
    else:
        atomic_write(error, before)


class EngineRecords(EngineState):
    """The Engine's methods for job folders and statuses (this module's docstring says what they do)."""

    # -- job folders --------------------------------------------------------------------------

    def _locate(self: Engine, job: Job) -> Path | None:
        """The job's folder: where the ledger says, or (after a crash mid-move) wherever it is."""
        return self.config.paths.find_job_folder(job.job_id, self.job_dir(job))

    def _rename_job_dir(
        self: Engine, job_id: str, src: Path, dst: Path, now: datetime, *, recorded: bool = False
    ) -> Path:
        """Moves a job's folder from ``src`` to ``dst`` and records it (``recorded``: the ledger
        names ``dst`` already)."""
        if src != dst:
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.exists():
                # A leftover, or a refused manifest's folder of that name (failed/<manifest name>/,
                # a job id "x.yaml"): kept, out of the way, and said.
                aside = unique_path(dst.with_name(f"{dst.name}{ASIDE_MARK}{stamp(now)}"))
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

    def _ledger_trouble(self: Engine, job_id: str, exc: sqlite3.OperationalError) -> None:
        """The ledger is locked or busy for longer than busy_timeout, or its disk is full: not the
        job's fault. It stays where it is and is tried again shortly."""
        if is_disk_full(exc):
            self._spool_full(job_id, exc)
        else:
            log.warning("job.ledger_busy", job_id=job_id, error=str(exc), action="trying again in 2 s")
            self._cooldown[job_id] = self.clock.monotonic() + 2.0

    def _aside(self: Engine, job_dir: Path, src: Path, now: datetime, name: str | None = None) -> Path:
        """``into_history`` in the open transaction: put back if it is rolled back (white-box audit
        DO 1: a held job's artwork and output stayed in history/ after a new manifest's intake
        failed to commit, and a RELEASE then failed the job "artwork missing")."""
        kept = into_history(job_dir, src, now, name)
        self.ledger.on_rollback(lambda: _put_back(kept, src))
        return kept

    def _move_back(self: Engine, job_id: str, moved: Path, was: Path) -> None:
        """A job's folder moved in a transaction that was rolled back: back where the ledger says."""
        if moved.is_dir() and not os.path.lexists(was):
            os.replace(moved, was)
            log.info("folder.moved_back", job_id=job_id, folder=self.rel(was), reason="its move was not recorded")

    def _record_stage(self: Engine, job_id: str, stage: Stage, now: datetime) -> None:
        """In the caller's transaction, with the status that goes with it: the job's stage and the
        folder it moves into, so that whoever reads the ledger sees them together (``show --json``:
        ``InHotFolder`` with ``done/<job>``, ``Rejected`` with ``rejected/<job>``); and the folder
        moves there before that commit, so that whoever reads them finds it there (a script that
        opens done/<job>/STATUS.txt once `show` says InHotFolder; an operator who drops RELEASE into
        quarantine/<job>/ once `show` names it). A crash between the move and the commit leaves
        a folder ahead of its stage, which the start's reconcile moves back (the drop file that
        moved it is still in it, not yet consumed; a delivery is told from the hot folder's files).

        A move that fails undoes nothing recorded: the ledger names the folder the job is still in,
        which every next step reads, and the move is tried again (_folder_not_moved)."""
        job = self.ledger.get_job(job_id, history=False)
        found = self._locate(job) if job is not None else None
        dst = self.area(STAGE_AREA[stage]) / job_id
        self.ledger.update_job(job_id, now, stage=stage, folder=self.rel(dst))
        if stage in (Stage.DONE, Stage.REJECTED):
            self.retention_due(self.config.retention.done_days * 86400)
        fresh = self.ledger.get_job(job_id, history=False)
        if fresh is None:
            return
        try:
            moved = self._move_to(fresh, stage, now, recorded=True, found=found)
        except OSError as exc:
            self._folder_not_moved(job_id, stage, exc, now)  # (after the move: its replace/, say)
        else:
            if moved:
                self._misplaced.pop(job_id, None)

    def _folder_not_moved(self: Engine, job_id: str, stage: Stage, exc: OSError, now: datetime) -> None:
        """A job's folder that could not be moved where its stage lives (made read-only by an
        operator, a read-only flag, a share's refusal): the job's status stands (a delivered job is
        delivered: audit BO D7, a job printed once then failed "internal error" in quarantine/, its
        STATUS.txt saying only its ticket was missing, until a restart), the folder stays where the
        ledger says, the log and its STATUS.txt say why, and the move is tried at each rescan."""
        job = self.ledger.get_job(job_id, history=False)
        where = self._locate(job) if job is not None else None
        if where == self.area(STAGE_AREA[stage]) / job_id:
            # Moved, and what came after failed (its replace/ made at the next rescan)
            log.warning("job.folder_not_tidied", job_id=job_id, folder=self.rel(where), error=str(exc))
            return
        into = self.rel(self.area(STAGE_AREA[stage]))
        said = self._misplaced.get(job_id)
        self._misplaced[job_id] = into
        if said == into or job is None or where is None:
            return  # (said once for each folder it is to go into)
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            fix = (
                f"give the daemon's account write permission on {self.rel(where)} and on {into}/ (a folder made "
                "read-only, or a read-only flag: chattr -i)"
            )
        else:
            fix = f"mend the cause ({reason}) so that {self.rel(where)} may be moved"
        log.warning(
            "job.folder_not_moved",
            job_id=job_id,
            order_id=job.order_id,
            folder=self.rel(where),
            to=f"{into}/",
            error=str(exc),
            action=f"the job's status stands; the folder is moved at the next rescans once it may be: {fix}",
        )
        self._note_action(
            job_id,
            f"{iso(now)}  this folder could not be moved into {into}/ ({reason}); it is moved there once it may "
            f"be: {fix}",
            append=True,
        )
        self._write_status(job_id)

    def _move_misplaced(self: Engine) -> None:
        """At each rescan: the folders that could not be moved where their job's stage lives, moved
        now if they may be. Only a job at rest (held, failed, finished): one under way is moved
        with its next stage, and never while its output may be made in it."""
        now = self.clock.now()
        for job_id in sorted(self._misplaced):
            job = self.ledger.get_job(job_id, history=False)
            current = self._locate(job) if job is not None else None
            if job is None or current is None or current == self.area(STAGE_AREA[job.stage]) / job_id:
                self._misplaced.pop(job_id, None)
                continue
            if job.stage not in (Stage.HELD, Stage.FAILED, Stage.DONE, Stage.REJECTED):
                continue
            try:
                with self.ledger.transaction():
                    moved = self._move_to(job, job.stage, now, recorded=True)
            except OSError as exc:
                log.debug("job.folder_not_tidied_yet", job_id=job_id, folder=self.rel(current), error=str(exc))
                continue
            if not moved:
                continue
            self._misplaced.pop(job_id, None)
            into = self.rel(self.area(STAGE_AREA[job.stage]))
            log.info("job.folder_moved", job_id=job_id, order_id=job.order_id, folder=f"{into}/{job_id}")
            self._note_action(job_id, f"{iso(now)}  this folder is in {into}/ now", append=True)
            self._write_status(job_id)

    def _move_to(
        self: Engine, job: Job, stage: Stage, now: datetime, *, recorded: bool = False, found: Path | None = None
    ) -> bool:
        """The ledger's stage first, then the folder moves where that stage lives. ``recorded``:
        the caller set the stage in its own transaction, still open (one commit less); ``found``:
        and the new folder too (``_record_stage``), the folder being at ``found`` until it is moved.
        False: the folder may not be moved (made read-only by hand): it stays where the ledger now
        says, said, and is moved at a rescan (_folder_not_moved)."""
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
            # Written from the transaction's records: where it is rolled back (a full disk), written
            # again from the ledger (white-box audit CP 1: "Rejected" stayed in STATUS.txt of a
            # job still held).
            self.ledger.on_rollback(lambda: self._write_status(job.job_id))
        if src is None:
            dst.mkdir(parents=True, exist_ok=True)
            if job.folder != self.rel(dst):
                self.ledger.update_job(job.job_id, now, folder=self.rel(dst))
        elif src != dst or job.folder != self.rel(dst):
            if src != dst and src.parent in (self.area("quarantine"), self.area("failed")):
                self.rescue_nested_job_folders(src)  # (they would leave with it: audit AR D1)
            recorded_ahead = job.folder == self.rel(dst)
            try:
                self._rename_job_dir(job.job_id, src, dst, now, recorded=recorded_ahead)
            except BaseException as exc:
                if recorded_ahead and src != dst:
                    # The ledger named the new folder ahead of the move (_record_stage): it names the
                    # one the job is still in, which every next step reads (audit AV 2: a folder that
                    # could not be moved, then "artwork missing" for a job whose artwork was there).
                    with contextlib.suppress(Exception):
                        self.ledger.update_job(job.job_id, now, folder=self.rel(src))
                if not isinstance(exc, OSError):
                    raise
                self._folder_not_moved(job.job_id, stage, exc, now)
                return False
            if stage not in (Stage.HELD, Stage.FAILED) and src.parent in (self.area("quarantine"), self.area("failed")):
                self._out_of_operator_hands(dst, now)
        # else: the folder is already where the stage lives, and recorded there (work/ -> work/)
        if stage in (Stage.HELD, Stage.FAILED):
            (dst / "replace").mkdir(exist_ok=True)
        elif stage in (Stage.DONE, Stage.REJECTED):
            self._finished.add(job.job_id)  # drop files that came too late: _answer_leftovers
        if not shown:
            self._write_status(job.job_id)
        return True

    def _answer_leftovers(self: Engine) -> None:
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
            if real_folder(replace):  # (never a link's folder elsewhere: audit BO D4)
                with contextlib.suppress(OSError), os.scandir(replace) as entries:
                    found += [
                        Path(e.path)
                        for e in entries
                        if not e.is_dir(follow_symlinks=False) and not _file_manager_litter(e.name)
                    ]
                for path in [p for p in found if p.parent == replace and self._taken_already(p, job_id)]:
                    found.remove(path)  # taken, and left there by a read-only replace/: not unused
                    self._not_filed[(job_id, f"replace/{path.name}")] = TAKEN
            now = self.clock.now()
            for path in [p for p in found if p.parent == folder and self._acted_on(p, job_id)]:
                # Acted on, and left there by a folder made read-only meanwhile: filed as such, not
                # as unused (audit BU 6: the RELEASE that released the job, "not acted on")
                found.remove(path)
                self._file_away(job_id, folder, path, now)
            if not found:
                continue
            names = [
                ("replace/" if path.parent == replace else "") + path.name
                for path in found
                if self._file_away(job_id, folder, path, now, f"unused-{path.name}")
            ]
            with contextlib.suppress(OSError):
                replace.rmdir()
            if not names:
                continue
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

    def _fail(self: Engine, job_id: str, failure: JobFailed, now: datetime, *, status: JobStatus | None = None) -> None:
        """The job to failed/ with its ERROR.txt, which is written into the folder before it moves:
        the folder appears in failed/ with it, and with its STATUS.txt. ``status`` (with the
        failure's reason) is recorded with the stage, in the commit after the move, so that whoever
        sees it (`show`, a script) finds failed/<job>/ERROR.txt there."""
        job = self.ledger.get_job(job_id)
        if job is None:
            return
        said = failure.reason
        if len(failure.problems) == 1 and said.endswith(f": {failure.problems[0]}"):
            # "1 problem: <it>", and the one bullet below it the same again (audit AQ)
            said = said[: -len(failure.problems[0]) - 2] + " (below)"
        text = error_text(
            f"Job {job_id} (order {job.order_id}) needs attention: {said}",
            [*failure.problems, *_replacements_named(job, [failure.reason, *failure.problems])],
            failure.fix,
        )
        src = self._locate(job)
        before: bytes | None = None
        if src is not None:
            with contextlib.suppress(OSError):
                before = (src / "ERROR.txt").read_bytes()
            atomic_write(src / "ERROR.txt", text)  # travels with the folder
        job_dir = self.area("failed") / job_id
        with self.ledger.transaction():
            if src is not None:
                # A failure not recorded (a full disk, an I/O error: the folder is moved back) leaves
                # no ERROR.txt of it behind, which would go on to done/ with a job delivered after all
                # (white-box audit CP 2). (Registered first: undone last, once the folder is back.)
                self.ledger.on_rollback(lambda: _error_back(src, before))
            self.ledger.update_job(job_id, now, error=failure.reason)
            if status is not None:
                self._record(job_id, status, SYSTEM, failure.reason, now, write=False)
            self._record_stage(job_id, Stage.FAILED, now)
            if src is None:
                atomic_write(job_dir / "ERROR.txt", text)
        failed = self.ledger.get_job(job_id, history=False)
        log.warning(
            "job.failed",
            job_id=job_id,
            order_id=job.order_id,
            reason=failure.reason,
            folder=failed.folder if failed is not None and failed.folder else self.rel(job_dir),
        )

    # -- statuses -----------------------------------------------------------------------------

    def _record(
        self: Engine, job_id: str, status: JobStatus, by: str, detail: str, now: datetime, *, write: bool = True
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

    def extra(self: Engine, job: Job, folder: Path | None = None, *, hash_files: bool = True) -> Extra:
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
        target, reason = (decision.target, decision.reason) if decision else (None, None)
        if job.stage is Stage.DONE and job.route is not None and job.route != target:
            # Where it went, not where the config of now would send it (review FP 1: a job delivered
            # to a, rerouted by a reload, "Went to: hot folder b"; a skipped one, "Went to" a printer).
            target, reason = job.route, None
        return Extra(
            fingerprint=fingerprint(sums) if sums else None,
            artwork_names=[artwork_listing([(a.name, a.present) for a in artwork])] if artwork else [],
            several_artwork=len(artwork) > 1,  # (audit AL: only the refusal said the name must match)
            # (_kept_elsewhere; only there: review HW 3, a reprint's new folder said it was kept)
            kept_by_hand=job_dir != self.job_dir(job) and self.kept_where(job) == job_dir,
            unmovable=next(
                (
                    self._unmovable_reason(Path(a.source))
                    for a in artwork
                    if job.stage is Stage.AWAITING
                    and not a.present
                    and a.source
                    and self._unmovable_now(Path(a.source))
                ),
                None,
            ),
            target=target,
            route_reason=reason,
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

    def _remember_digest(self: Engine, path: Path, digest: str) -> None:
        key = self._file_key(path)
        if key is not None:
            if len(self._digests) > 4096:
                self._digests.clear()
            self._digests[key] = digest

    def _digest(self: Engine, path: Path, *, cached: bool = True, compute: bool = True) -> str | None:
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
            with open_regular(path) as fh:  # (a named pipe put in its place: no wait for a writer)
                digest = sha256_of(fh)
        except OSError:
            return None
        self._remember_digest(path, digest)
        return digest

    def _write_status(self: Engine, job_id: str) -> None:
        """STATUS.txt is rewritten once per step, not once per status (see flush_status)."""
        self._dirty.add(job_id)

    def flush_status(self: Engine, *, skip_runnable: bool = False) -> None:
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

    def _write_status_now(self: Engine, job_id: str, folder: Path | None = None, *, hash_files: bool = True) -> bool:
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
            # Tried again at the next flush (audit CH E4: one EIO on its rename left the old text,
            # the old artwork's fingerprint in it, for good); said once while it fails.
            if job_id not in self._status_unwritten:
                self._status_unwritten.add(job_id)
                log.warning("status_file.write_failed", job_id=job_id, error=str(exc), action="tried again")
            self._dirty.add(job_id)
            return True
        self._status_unwritten.discard(job_id)
        return hash_files or extra.fingerprint is not None or not extra.artwork_names


def _put_back(kept: Path, was: Path) -> None:
    """A file moved into history/ where it was, unless something took its place meanwhile."""
    if os.path.lexists(kept) and not os.path.lexists(was):
        os.replace(kept, was)
