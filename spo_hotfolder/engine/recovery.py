"""Crash recovery: what a stop or a crash left half done, finished at start.

A part of the class ``Engine`` (``engine/core.py``), kept in a module of its own; its methods
run on the engine's thread, ``self`` being the Engine."""

from __future__ import annotations

import contextlib
import fcntl
import filecmp
import hashlib
import json
import os
import re
import shutil
import stat
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spo_hotfolder.clock import parse_iso
from spo_hotfolder.config import Config, HotFolderConfig
from spo_hotfolder.delivery import (
    DeliveryError,
    folder_id,
    is_our_temp,
    other_folder,
    temp_path_for,
    ticket_temp_path,
)
from spo_hotfolder.engine.base import (
    MOVED_ASIDE,
    JobFailed,
    _holds_files,
    has_status_file,
    log,
)
from spo_hotfolder.engine.intake import REFUSAL_PREFIX
from spo_hotfolder.engine.state import EngineState
from spo_hotfolder.fsutil import (
    fsync_dir,
    real_folder,
    rename_noreplace,
    undecodable,
    unique_path,
)
from spo_hotfolder.health import daemon_alive
from spo_hotfolder.ledger import STAGE_AREA, TERMINAL, Job, Stage
from spo_hotfolder.manifest import MANIFEST_NAMES, MANIFEST_SUFFIXES, MAX_MANIFEST_BYTES, is_job_id
from spo_hotfolder.operator import (
    Action,
    classify_drop,
)
from spo_hotfolder.reports import HISTORY_HEADING, WHAT_NOW
from spo_hotfolder.stability import Signature, signature
from spo_hotfolder.status import JobStatus

if TYPE_CHECKING:
    from spo_hotfolder.engine.core import Engine


#: What a job's ERROR.txt says when the ledger was found older than its folder (_ledger_behind).
LEDGER_BEHIND = "the ledger is older than the job folders"
#: The ledger's ``meta`` key keeping the inbox its artwork paths are in (``_follow_inbox``).
INBOX_KEY = "inbox"


#: How long before a power cut a file written without an fsync may still be lost: Linux writes
#: dirty data back after 30 s (vm.dirty_expire_centisecs), in rounds of 5 s; with room to spare.
WRITEBACK_SECONDS = 60.0


def _whole_status(path: Path) -> bool:
    """Whether a job folder's STATUS.txt is there and whole: written without an fsync (it is
    rewritten at will), a power cut may leave it empty or cut short (white-box audit DQ 3: a held
    job's STATUS.txt stayed empty after the restart, until the job's next change)."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return text.endswith("\n") and f"\n{WHAT_NOW}\n" in text


#: A row of STATUS.txt's history: its time first (reports.status_text).
_HISTORY_ROW = re.compile(r"^  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def _status_history(folder: Path) -> list[str] | None:
    """The rows of the history a job folder's STATUS.txt lists (one per entry, oldest first), or
    None where it cannot be read."""
    try:
        text = (folder / "STATUS.txt").read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    history = text.partition(f"\n{HISTORY_HEADING}\n")[2].partition("\n\n")[0]
    return [line for line in history.splitlines() if _HISTORY_ROW.match(line)]


class EngineRecovery(EngineState):
    """The Engine's methods for crash recovery (this module's docstring says what they do)."""

    def _recall_refusals(self: Engine) -> None:
        """The manifests from the top of inbox/ refused before this start (their folders in
        failed/, within ``artwork_timeout_seconds``), remembered again as they were by the run that
        refused them (_remember_refused keeps them in memory): a file one of them names, come with
        it, is not given to another order's job waiting for a file of that name (audit AX D1: after
        a kill -9 just after the refusal, the waiting job took and printed the other order's PDF)."""
        limit = max(600.0, self.config.watch.artwork_timeout_seconds)
        wall, mono = time.time(), self.clock.monotonic()
        found: list[tuple[float, Path, Path]] = []
        with contextlib.suppress(OSError), os.scandir(self.area("failed")) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                    continue
                folder = Path(entry.path)
                try:
                    age = wall - os.stat(folder / "ERROR.txt").st_mtime
                    names = os.listdir(folder) if 0 <= age <= limit else []  # (old: not listed)
                except OSError:
                    continue
                if not names or any(name.lower() in MANIFEST_NAMES for name in names):
                    continue  # (old, or a folder drop's: its files were its own, not at the top of inbox/)
                manifests = [name for name in names if name.lower().endswith(MANIFEST_SUFFIXES)]
                if len(manifests) == 1:
                    found.append((age, folder, folder / manifests[0]))
        for age, folder, manifest in sorted(found, key=lambda item: -item[0]):  # the oldest first
            self._remember_refused(folder, manifest, at=mono - age)

    def reconcile(self: Engine) -> None:
        """At start: finish what a crash interrupted, and make the folders agree with the ledger."""
        now = self.clock.now()
        self._guard("delivery", "", self._note_mounts)  # (before a delivery cut short is looked at)
        self._guard("intake", "", self._carry_refusals)  # (before _refresh_routes keeps the new config)
        self._guard("intake", "", self._recover_refusals)
        self._guard("intake", "", self._recall_refusals)
        self._guard("intake", "", self._finish_pending_intakes)  # a failure is tried again at each step
        self._guard("intake", "", self._tidy_inbox_folders)
        for delivery in self.ledger.open_deliveries():
            self._guard("delivery", delivery.job_id, lambda d=delivery: self._reconcile_delivery(d, now))
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
        left, unknown = self._finished_but_under_way(set(under_way))
        self.unknown_job_folders = sorted(unknown)
        if unknown:
            # (audit AE 4: jobs that came after the backup a ledger was put back from went unsaid)
            log.error(
                "recovery.job_folders_unknown",
                job_folders=self.unknown_job_folders[:20],
                count=len(unknown),
                reason="job folders the ledger does not know (it is older than they are: put back from a backup?): "
                "those jobs are not continued, and drop files in them are not acted on. To process one, move its "
                "folder out of the spool first (keep it), then put its manifest and its artwork (the files in its "
                "artwork/ folder) into inbox/ again (the order sent again while its folder is there moves that "
                "folder aside as <job id>.old-<time>, and the new job takes its place: removing it then removes the "
                "new job)",
            )
        for job_id in dict.fromkeys([*under_way, *misplaced, *left]):
            job = self.ledger.get_job(job_id)
            if job is not None:
                self._guard("job", job.job_id, lambda j=job: self._reconcile_job(j, now))
        # STATUS.txt is written at most STATUS_FLUSH_SECONDS after a change: after a crash, the
        # jobs changed in the last seconds before it get theirs rewritten from the ledger.
        recent = self.ledger.last_changed(timedelta(seconds=10))
        self._dirty.update(recent)
        # A power cut may leave a STATUS.txt written up to the kernel's writeback delay before it
        # empty or cut short (written without an fsync), and a finished job's is not written again
        # (review HO 2: empty in done/ for good): those of that while are read, and rewritten
        # where not whole (held and failed jobs' are looked at by _reconcile_job).
        for job_id in set(self.ledger.last_changed(timedelta(seconds=WRITEBACK_SECONDS))).difference(recent):
            job = self.ledger.get_job(job_id, history=False)
            if job is None or job.stage not in (Stage.DONE, Stage.REJECTED) or not job.folder:
                continue
            if not _whole_status(self.job_dir(job) / "STATUS.txt"):
                self._dirty.add(job_id)
        for job_id in recent:  # a finished job's folder, as a crash may have left it
            job = self.ledger.get_job(job_id, history=False)
            if job is not None and job.stage in TERMINAL:
                self._guard("job", job_id, lambda j=job: self._tidy_job_folder(j, now))
                if job.stage in (Stage.DONE, Stage.REJECTED):
                    self._finished.add(job_id)  # drop files the crash left unanswered in it
        if self._finished:
            self._guard("drop", "", self._answer_leftovers)
        self.sweep_temp_files()
        self.flush_status()
        due = self.ledger.next_due()
        if due:
            self._schedule_wakeup(parse_iso(due))

    def _follow_inbox(self: Engine, previous: Config | None) -> None:
        """The files jobs wait for (and the manifests taken in) are known by their paths in the
        inbox: where the inbox is elsewhere now than the ledger last knew it (the spool moved with
        `mv`, its config's paths.root or paths.inbox changed, or a relative root moved with its
        project: review HF 1, HK 1), they are awaited in the new one. The inbox the ledger knows is
        kept in it; a ledger from before that learns it from the config last run on, if any."""
        inbox = str(self.area("inbox"))
        known = self.ledger.meta(INBOX_KEY)
        if known == inbox:
            return
        if known is None and previous is not None:
            known = str(previous.paths.inbox)
        moved: list[str] = []
        with self.ledger.transaction():  # (one commit: cut short, nothing is moved twice)
            if known is not None and known != inbox:
                moved = self.ledger.move_awaited(known, inbox)
                self.ledger.move_intakes(known, inbox)
            self.ledger.set_meta(INBOX_KEY, inbox)
        if moved:
            log.info("recovery.awaited_in_new_inbox", old=known, new=inbox, jobs=moved[:20], count=len(moved))

    def _carry_refusals(self: Engine) -> None:
        """At start, after ``paths.failed`` was moved in the config while the daemon was stopped:
        what the old failed/ holds beside job folders (refused manifests, unclaimed files, each in a
        folder of its own with its ERROR.txt) is carried into the new one, as the job folders are
        (review FD 1: left in a folder no longer watched, without a word). An old ``paths.inbox``
        still holding files is said (they are not taken from there); the files jobs wait for are
        awaited in the new one (``_follow_inbox``)."""
        previous = self._last_config()
        self._follow_inbox(previous)
        if previous is None:
            return
        old, new = previous.paths.failed, self.area("failed")
        if old != new and old.is_dir() and new.is_dir() and not os.path.samefile(old, new):
            with os.scandir(old) as entries:
                # (a refusal cut short is hidden: carried too)
                folders = sorted(
                    e.name
                    for e in entries
                    if e.is_dir(follow_symlinks=False)
                    and (e.name.startswith(REFUSAL_PREFIX) or not self.ignored(e.name))
                )
            for name in folders:
                self._carry_refusal(old / name, new)
        old_inbox, inbox = previous.paths.inbox, self.area("inbox")
        if old_inbox != inbox and old_inbox.is_dir() and not os.path.samefile(old_inbox, inbox):
            with os.scandir(old_inbox) as entries:
                # (what the new inbox holds under the same name is not said: a copied root's; nor the
                # new inbox itself, or a spool folder, made inside the old one: review HK 3)
                ours = {os.path.normpath(folder) for folder in self.config.paths.spool_folders().values()}
                left = sorted(
                    e.name
                    for e in entries
                    if not self.ignored(e.name)
                    and not os.path.lexists(inbox / e.name)
                    and not any(o == e.path or o.startswith(e.path + os.sep) for o in ours)
                )
            if left:
                log.warning(
                    "recovery.old_inbox_not_empty",
                    folder=str(old_inbox),
                    files=left[:20],
                    count=len(left),
                    action=f"paths.inbox is {self.rel(inbox)} now: move these into it to take them",
                )

    def _carry_refusal(self: Engine, folder: Path, new: Path) -> None:
        """One folder of an old failed/ (``_carry_refusals``), carried into ``new`` unless it is a
        job's, holds the new failed/, or is there already."""
        name = folder.name
        job = self.ledger.get_job(name, history=False) if is_job_id(name) else None
        if job is not None and (self.job_dir(job) == folder or os.path.lexists(folder / "STATUS.txt")):
            # A job's folder (or a copy of one): carried with its job (_reconcile_job). One without
            # STATUS.txt is a refused manifest's folder a later job's id names (review FN 2: left).
            return
        if _holds(folder, new):
            return  # the new failed/ made inside the old one (review FN 5: "move it into itself")
        if _same_tree(folder, new / name):
            return  # a copied root: the new failed/ has it already; the copy is left (review FN 4)
        if name.startswith(REFUSAL_PREFIX):
            # A refusal cut short by a crash: finished under its own name in the new failed/
            # (_recover_refusals, next), as it is in the old one (review FN 1: left there, unseen).
            target = new / name
            if os.path.lexists(target):
                target = unique_path(target)
        else:
            target = self._new_failed_folder(name)  # (its name, else -2, ..., never a job's id)
        try:
            os.replace(folder, target)
        except OSError as exc:
            log.warning(
                "recovery.refusal_left",
                folder=str(folder),
                error=str(exc),
                action=f"paths.failed is {self.rel(new)} now: move it there by hand",
            )
            return
        log.info("recovery.refusal_carried", folder=self.rel(target), was=str(folder))

    def _tidy_inbox_folders(self: Engine) -> None:
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

    def _finish_pending_intakes(self: Engine) -> None:
        """Manifests whose intake was recorded before a crash, but which had not left the inbox:
        removed now, if the file under that name is still the one taken in (its sha256 is in the
        intake key). A different file there is a new upload made while the daemon was down: it
        stays and is taken as a new manifest. An unreadable one stays pending (``take_manifest``
        finishes it once it is stable)."""
        for key, path in self.ledger.pending_intakes():
            p = Path(path)
            ctime = 0
            try:
                with open(p, "rb") as fh:
                    data = fh.read(MAX_MANIFEST_BYTES + 1)
                    st = os.fstat(fh.fileno())
                    sig: Signature | None = signature(st)
                    ctime = st.st_ctime_ns
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
            self._unfinished.append((key, p, sig, ctime))
        self._finish_intakes()

    def _reconcile_delivery(self: Engine, delivery: Any, now: datetime) -> None:
        """An attempt a crash (or a hot folder that stopped answering) cut short: published or not,
        told from the files. Raises DeliveryError while its hot folder does not answer."""
        temp = Path(delivery.temp_path)
        final = Path(delivery.final_path)
        job = self.ledger.get_job(delivery.job_id)
        hot = self.config.hot_folders.get(delivery.hot_folder) or self._renamed_hot_folder(temp, final)
        placed = self._attempt_here(delivery, hot, temp, final) if hot is not None else None
        if placed is None:
            self._attempt_elsewhere(delivery, hot, job, now)
            return
        temp, final = placed
        assert hot is not None
        share = (hot.name, hot.path)

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
            # The rename never happened: not published; the job copies again. The journal first,
            # then our temp file goes: removed first, a crash before the journal's "aborted" left a
            # "written" attempt without its temp file, which the next start took as published (audit
            # CD 1: InHotFolder recorded, the hot folder empty). A crash between the two leaves the
            # temp file of an aborted attempt, which the sweep at reconcile's end removes before
            # any job copies again.
            self.ledger.delivery_state(delivery.id, "aborted", now)
            with contextlib.suppress(OSError):
                self.shares.call(share, f"the removal of {temp}", temp.unlink)
                self.ledger.temps_cleared([delivery.id], now)
            log.info("recovery.delivery_not_published", job_id=delivery.job_id, temp=str(temp))
            return
        if delivery.state == "ticket" and job is not None:
            # The PDF was published and its job ticket's temp file was complete: a ticket temp file
            # still there was not renamed yet (done now); one gone was published (and perhaps taken
            # by the printer already): never written a second time.
            ticket_temp = ticket_temp_path(final, hot)
            output = self.job_dir(job) / "output" / (job.output or "")

            def rename_ticket() -> bool | None:
                """True: the ticket is published (now, or before the crash); None: the hot folder is
                not there, so it cannot be now (review EG 1: the rename failed with a traceback)."""
                if not ticket_temp.exists():
                    return True
                if not final.parent.is_dir():
                    return None
                if job.output and self._another_file_there(delivery.id, output, final):
                    ticket_temp.unlink(missing_ok=True)  # (never beside another job's PDF: audit CL 3)
                    return False
                try:
                    rename_noreplace(ticket_temp, final.with_suffix(".json"))
                except FileExistsError:
                    # Another sender's ticket of that name came meanwhile: never replaced (audit CS 2).
                    ticket_temp.unlink(missing_ok=True)
                    return False
                fsync_dir(final.parent)
                return True

            renamed = self.shares.call(share, f"the rename to {final.with_suffix('.json').name}", rename_ticket)
            if renamed is None:
                # Decided when the hot folder is back; its ticket's temp file is kept till then
                # (sweep_temp_files), never taken for one renamed in.
                if delivery.id not in self._undecided_said:
                    self._undecided_said.add(delivery.id)
                    log.warning("recovery.delivery_undecided", job_id=delivery.job_id, folder=str(final.parent))
                return
            if renamed:
                log.info("recovery.ticket_published", job_id=delivery.job_id, file=str(final.with_suffix(".json")))
                self._published(job, delivery, final, now, ticket_published=True)
            else:
                # Written again as any ticket left to write is (_delivered: it waits for a ticket in
                # its way, and is never written beside another file of the PDF's name).
                self._published(job, delivery, final, now)
            return
        if (
            delivery.state == "written"
            and other_folder(delivery.temp_folder, folder)
            and not (job is not None and self._output_there(job, final, share))
        ):
            # (audit F1) The temp file is gone with the folder it was written in: that folder was
            # removed and another made in its place (or another one mounted there) since.
            self._attempt_unknown(
                delivery,
                job,
                now,
                f"the daemon stopped before it knew that its rename happened, and the folder of its temporary "
                f"copy ({temp.parent}) was removed and made again (or another one mounted there) since",
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
            if hot.ticket is not None:
                # A ticket's temp file there is this attempt's, cut short by the crash before it was
                # journalled complete (review EG 2: the ticket written again found it and blamed
                # "another sender's upload", and with max_attempts 1 the job went to failed/).
                with contextlib.suppress(OSError):
                    self.shares.call(share, "the removal of a ticket cut short", ticket_temp_path(final, hot).unlink)
            self._published(job, delivery, final, now, note=note)
            return
        self.ledger.delivery_state(delivery.id, "aborted", now)

    def _output_there(self: Engine, job: Job, final: Path, share: tuple[str, Path]) -> bool:
        """Whether the hot folder holds the job's output under its final name, byte for byte: the
        rename happened, whatever the folder's identity says now (review GT 3: on exFAT or FAT
        through FUSE, or SMB with `noserverino`, a folder's inode number changes at a remount, and
        a job delivered just before a crash went to failed/ as "cannot be told", its PDF there)."""
        output = self.job_dir(job) / "output" / (job.output or "")

        def same() -> bool:
            try:
                return bool(job.output) and filecmp.cmp(output, final, shallow=False)
            except OSError:
                return False

        return bool(self.shares.call(share, f"a look at {final}", same))

    def _published(
        self: Engine,
        job: Job | None,
        delivery: Any,
        final: Path,
        now: datetime,
        *,
        ticket_published: bool = False,
        note: str = "",
    ) -> None:
        """A cut-short attempt found renamed in: the job recorded delivered (InHotFolder, its ticket
        written unless ``ticket_published``), or, where it is already, the attempt journalled so."""
        if job is not None and (not job.delivered() or job.stage is not Stage.DONE):
            # (again: the PDF went in before the crash; the printer may have taken it since)
            self._delivered(
                job, delivery.hot_folder, final, delivery.id, ticket_published=ticket_published, note=note, again=True
            )
        else:
            self.ledger.delivery_state(delivery.id, "published", now)

    def _attempt_here(
        self: Engine, delivery: Any, hot: HotFolderConfig, temp: Path, final: Path
    ) -> tuple[Path, Path] | None:
        """The attempt's temp file and final name as this config has them. The journal's, where they
        are in the hot folder's folders (its path, its staging folder); the same names in the folders
        the config names now where the folders were moved since (renamed while the daemon was
        stopped, the config edited to match: audit AE 6, the daemon's own temp file then taken for
        another sender's); None where the attempt was made in folders this hot folder does not have
        now (the config names others, or this is a daemon on a copy of another root: never touched,
        audit AE 7)."""
        if temp.parent in (hot.path, hot.staging) and final.parent == hot.path:
            return temp, final
        here = (temp_path_for(hot, final.name), hot.path / final.name)

        def identity(folder: Path) -> str:
            try:
                return folder_id(os.stat(folder))
            except OSError:
                return ""

        now_id = self.shares.call(hot, f"a look at {here[0].parent}", lambda: identity(here[0].parent))
        if delivery.state == "intent":
            # Cut short while copying (the rename comes after "written"): moved where its folder is
            # gone, or the same folder by another path (a symbolic link's, a bind mount's).
            share = (delivery.hot_folder, temp.parent)
            then_id = self.shares.call(share, f"a look at {temp.parent}", lambda: identity(temp.parent))
            return here if not then_id or then_id == now_id else None
        if not now_id:
            return here  # (not there now: undecided until it is, as for a hot folder not mounted)
        # Written: the folder it was written in (its identity journalled) is the one configured now?
        return here if delivery.temp_folder and not other_folder(delivery.temp_folder, now_id) else None

    def _renamed_hot_folder(self: Engine, temp: Path, final: Path) -> HotFolderConfig | None:
        """The one hot folder configured now whose folder an attempt's final name is in (and its
        temp file in it or in its staging folder), for an attempt whose hot folder's name the config
        has no more: renamed in the config while the daemon was stopped, its key and not its folder
        (white-box audit DQ 2: "not in the config now", the job failed "cannot be told", and the
        sweep then removed the temp file that told it). None where no folder, or more than one, is
        that one."""
        found = [
            hot
            for hot in self.config.hot_folders.values()
            if final.parent == hot.path and temp.parent in (hot.path, hot.staging)
        ]
        # (its final name's folder too: hot folders may share a staging folder, and a ticket of one
        # taken out of the config went into another's hot folder: review DS 1, 2)
        return found[0] if len(found) == 1 else None

    def _attempt_elsewhere(
        self: Engine, delivery: Any, hot: HotFolderConfig | None, job: Job | None, now: datetime
    ) -> None:
        """An attempt cut short in a folder hot folder ``hot`` does not have now (``_attempt_here``),
        or of a hot folder the config has no more (None): nothing there is touched (audit AG 2: a
        daemon on a copy of a root, the hot folder taken out of its config, removed the temp file
        in the other root's); what the journal alone tells is recorded."""
        temp, final = Path(delivery.temp_path), Path(delivery.final_path)
        where = (
            f"{temp.parent}, which is not a folder of hot folder {hot.name} in the config now ({hot.path}"
            + (f", staging {hot.staging})" if hot.staging else ")")
            if hot is not None
            else f"{temp.parent}, of hot folder {delivery.hot_folder}, which is not in the config now"
        )
        if delivery.state == "intent":
            # Never renamed: the job copies again into the hot folder configured now.
            self.ledger.delivery_state(delivery.id, "aborted", now)
            log.warning(
                "recovery.delivery_elsewhere",
                job_id=delivery.job_id,
                temp=str(temp),
                reason=f"a copy cut short in {where}: its temporary file, if any, is left there",
            )
            return
        if delivery.state == "ticket":
            # The PDF was renamed in (a job ticket is written after it): delivered; its ticket is not
            # written into a folder this config does not name.
            log.warning(
                "recovery.delivery_elsewhere",
                job_id=delivery.job_id,
                file=str(final),
                reason=f"delivered into {where}; its job ticket was not written",
            )
            self._published(job, delivery, final, now, ticket_published=True)
            return
        self._attempt_unknown(
            delivery,
            job,
            now,
            f"an earlier attempt was cut short (by a stop, a crash, or a hot folder that stopped answering) "
            f"before the daemon knew that its rename happened, in {where}",
        )

    def _attempt_unknown(self: Engine, delivery: Any, job: Job | None, now: datetime, why: str) -> None:
        """Whether the attempt's rename happened cannot be told (``why``): neither printed again nor
        said delivered; the job goes to failed/ saying so."""
        final = Path(delivery.final_path)
        self.ledger.delivery_state(delivery.id, "aborted", now)
        log.warning("recovery.delivery_unknown", job_id=delivery.job_id, file=str(final), reason=why)
        if job is not None and job.stage not in TERMINAL:  # (also between attempts: never copied again unasked)
            self._delivery_failed(
                job,
                delivery.hot_folder,
                DeliveryError(
                    f"whether {final.name} arrived in hot folder {delivery.hot_folder} cannot be told: {why}",
                    transient=False,
                ),
                fix=f"Look whether the printer received {final.name} (its queue, or the hot folder): if it did "
                "not, drop a file named RETRY here and it is copied again; if it did, drop REJECT to close the "
                "job without a second copy.",
            )

    def _finished_but_under_way(self: Engine, under_way: set[str]) -> tuple[list[str], list[str]]:
        """Delivered and rejected jobs whose folder is still in work/, quarantine/ or failed/: the
        folder moves before the commit that records the finished job's stage and new folder, but
        that rename is not synced (a power cut may forget it) and may fail. Those areas hold jobs
        under way (``under_way``, which reconcile checks anyway: not read again here) and refused
        files' folders: a short listing. And (second) the job folders there (with a STATUS.txt) of
        jobs the ledger does not know."""
        found: list[str] = []
        unknown: list[str] = []
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
                    if self.kept_where(job) == self.area(area) / name:
                        continue  # (an operator's, said kept by retention: review IG 1, moved back and deleted)
                    if self._folder_knows_more(job, self.area(area) / name):
                        unknown.append(self.rel(self.area(area) / name))
                    else:
                        found.append(name)
                elif (
                    job is None
                    and _job_folder_name(name)
                    and has_status_file(self.area(area) / name)
                    # (a known job's folder renamed by hand, "7500-1.keep": review IG 4, said as unknown)
                    and self._job_named_in(self.area(area) / name) is None
                ):
                    unknown.append(self.rel(self.area(area) / name))
        return found, unknown

    def _folder_knows_more(self: Engine, job: Job, folder: Path) -> bool:
        """Whether a finished job's folder found under way has a STATUS.txt listing more history
        entries than the ledger has: the job went on after the ledger's record of it (a reprint
        taken since the backup the ledger was put back from), not a folder whose move to done/ a
        power cut forgot (whose STATUS.txt, written after that move, lists no more). Such a folder
        is said as one the ledger does not know, and left where it is (white-box audit DQ 1: the
        reprint's folder was moved into done/ without a word, and it never printed)."""
        rows = _status_history(folder)
        if rows is None:
            return False
        full = self.ledger.get_job(job.job_id)
        return full is not None and len(rows) > len(full.whole_history())

    def _reconcile_job(self: Engine, job: Job, now: datetime) -> None:
        area = STAGE_AREA[job.stage]
        expected = self.area(area) / job.job_id
        current = self._locate(job)
        if current is None:
            if job.stage in (Stage.DONE, Stage.REJECTED):
                return
            log.warning("recovery.job_folder_missing", job_id=job.job_id, order_id=job.order_id)
            return
        operators = (self.area("quarantine"), self.area("failed"))
        if current != expected and job.stage in (Stage.DONE, Stage.REJECTED) and self.kept_where(job) == current:
            return  # (moved there by an operator, said kept by retention: left there; review IG 1)
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
        if current != expected and job.stage not in TERMINAL and self._ledger_behind(job, current, now):
            return
        if current != expected:
            log.info("recovery.move", job_id=job.job_id, src=self.rel(current), dst=self.rel(expected))
            try:
                self._rename_job_dir(job.job_id, current, expected, now)
            except OSError as exc:
                if self.rel(current) != job.folder:
                    self.ledger.update_job(job.job_id, now, folder=self.rel(current))  # where it is, meanwhile
                self._folder_not_moved(job.job_id, job.stage, exc, now)
                return
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
            if not _whole_status(expected / "STATUS.txt"):
                self._write_status(job.job_id)

    def _ledger_behind(self: Engine, job: Job, current: Path, now: datetime) -> bool:
        """A job under way in the ledger whose folder is in done/ or rejected/, which the ledger has
        never recorded it finished that way, and which no crash explains (a delivery published, a
        skip said in its STATUS.txt, a REJECT not yet consumed): the ledger is older than the folders,
        put back from a backup (audit AE 1, 2: moved back into quarantine/ or work/, a job delivered
        since printed again, a rejected one printed at the next release). The job goes to failed/
        saying so, and nothing is printed by itself. (A crash between a folder's move and its commit
        leaves the history with the job's outcome, or the action that moves it still waiting.)"""
        area = current.parent
        ended: tuple[JobStatus, ...]
        if area == self.area("done"):
            was, ended = "done", (JobStatus.InHotFolder, JobStatus.CopyToHotFolderSkipped)
            if self.ledger.published_delivery(job.job_id, job.generation) is not None or any(
                d.job_id == job.job_id and d.state in ("written", "ticket") for d in self.ledger.open_deliveries()
            ):
                return False  # (a delivery its hot folder's files decide, once the folder is there)
            with contextlib.suppress(OSError, UnicodeDecodeError):
                if "\nStatus: CopyToHotFolderSkipped\n" in (current / "STATUS.txt").read_text("utf-8")[:2000]:
                    return False  # skipped: the crash came before its commit (done again, nothing printed)
        elif area == self.area("rejected"):
            was, ended = "rejected", (JobStatus.Rejected,)
            if self._reject_waiting(current) is not None or any(
                str(command.get("action", "")).upper() == Action.REJECT.value
                for command in self.pending_commands(job.job_id)
            ):
                return False
        elif area in (self.area("quarantine"), self.area("failed")) and self._folder_ahead(job, current):
            # (white-box audit CW: a blocked reprint waiting in quarantine/ was sent on and printed
            # unreleased; a kill as this very failure moved the folder sent it back to work/)
            was, ended = "done", ()
        else:
            return False
        if any(entry.status in ended for entry in job.whole_history()):
            return False  # finished once (a reprint since, its folder not moved yet)
        status = job.status.value
        log.error(
            "recovery.ledger_behind",
            job_id=job.job_id,
            order_id=job.order_id,
            folder=self.rel(current),
            ledger_status=status,
            reason=f"the job's folder is in {self.rel(area)}/, but the ledger has it at {status} and never recorded "
            f"it {'delivered' if was == 'done' else 'rejected'} (as its files do): {LEDGER_BEHIND} (put back "
            "from a backup?); the job goes to failed/, and nothing is printed by itself",
        )
        failure = JobFailed(
            None,  # (no status: CopyToHotFolderFailed is a copy attempt's, SPEC 6, and none was made: audit BW 5)
            f"its folder was in {self.rel(area)}/ ({'delivered or finished' if was == 'done' else 'rejected'} "
            f"there, as its files say), but the ledger had the job at {status}: {LEDGER_BEHIND} (put back from a "
            "backup?), so what happened to this job since is not known to it",
            [],
            (
                "Look whether the printer received this job (its queue, the hot folder): if it did, drop a file "
                "named REJECT here to close the job without printing it again; if it did not, drop RETRY (and "
                "RELEASE, if it is blocked) and it is delivered."
                if was == "done"
                else "It was rejected after the ledger's last record: drop a file named REJECT here to close it "
                "again; to print it after all, drop RETRY (and RELEASE, if it is blocked)."
            ),
        )
        self._fail(job.job_id, failure, now, status=failure.status)
        return True

    def _folder_ahead(self: Engine, job: Job, folder: Path) -> bool:
        """Whether a job folder in quarantine/ or failed/ knows of more than the ledger: its
        STATUS.txt records the job delivered, skipped or rejected more often than the ledger's
        history does (no crash writes an outcome there before its commit), or its ERROR.txt is this
        very finding's (a kill came as it moved the folder, before its commit)."""
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if LEDGER_BEHIND in (folder / "ERROR.txt").read_text("utf-8")[:4000] and job.stage is not Stage.FAILED:
                return True
        rows = _status_history(folder)
        if rows is None:
            return False
        outcomes = (JobStatus.InHotFolder, JobStatus.CopyToHotFolderSkipped, JobStatus.Rejected)
        names = {status.value for status in outcomes}
        said = sum(1 for row in rows if len(parts := row.split()) > 1 and parts[1] in names)
        return said > sum(1 for entry in job.whole_history() if entry.status in outcomes)

    def _tidy_job_folder(self: Engine, job: Job, now: datetime) -> None:
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
            answer = self._recorded_answer(path, job.job_id, action)
            if answer is None:
                continue
            self._answer_unsaid(job.job_id, action, answer, now)
            if in_replace:
                self._drop_taken_replacement(folder, path, now)
            elif not self._file_away(job.job_id, folder, path, now):
                continue
            log.info("recovery.drop_consumed", job_id=job.job_id, file=self.rel(path))

    def sweep_temp_files(self: Engine, only: set[str] | None = None) -> None:
        """No temporary file of ours stays in a hot folder or staging folder after a restart (or,
        ``only``, in these hot folders once they answer again).

        Ours only: a ``.<name>.part`` is removed when the delivery journal says a copy of ours may
        have left it there (``Ledger.leftover_temps``): an attempt given up, or a job ticket whose
        write failed after it was made. Another sender's upload into a shared hot folder is left alone, also
        under the name of a temp file of ours long renamed (review GV 1: another instance's copy,
        "written", was removed, and its restart took it as published: a print lost). An attempt
        given up whose temp file is not there (or is removed now) is marked cleared: a file of
        that name later is not ours either."""
        open_temps: set[str] = set()
        for delivery in self.ledger.open_deliveries():
            open_temps.add(delivery.temp_path)
            if delivery.state == "ticket":
                # Its ticket's temp file was complete: renamed once its hot folder answers (review
                # EG 1: removed here, it was then taken for one renamed in, and the job recorded
                # InHotFolder with its PDF alone in the hot folder).
                open_temps.add(_ticket_temp_of(delivery.temp_path, delivery.final_path))
        left: dict[str, list[tuple[str, int]]] = {}  # temp path -> the attempts that may have left it
        for delivery_id, temp, final, what in self.ledger.leftover_temps():
            named = temp if what == "pdf" else _ticket_temp_of(temp, final)
            if named not in open_temps:
                left.setdefault(named, []).append((what, delivery_id))
        cleared: list[tuple[str, int]] = []
        for hot in self.config.hot_folders.values():
            if only is not None and hot.name not in only:
                continue
            for folder in {hot.path, hot.staging} - {None}:
                assert folder is not None

                def listing(f: Path = folder) -> list[str]:
                    # Not the empty mount point of a share not mounted (review GW 3: its temp file
                    # of ours, not there, was cleared, and once the share was back taken for
                    # another sender's: the job's every copy refused, the file left for good).
                    self.mount_points.check("", f, os.stat(f))
                    return os.listdir(f)

                try:
                    names = self.shares.call(hot, f"a listing of {folder}", listing)
                except (OSError, DeliveryError):
                    continue  # (not answering, not mounted: its temp files go once it is back)
                here = set(names)
                for name in [n for n in names if is_our_temp(n)]:
                    path = folder / name
                    if str(path) not in left:
                        continue
                    with contextlib.suppress(OSError, DeliveryError):
                        self.shares.call(hot, f"the removal of {path}", path.unlink)
                        here.discard(name)
                        log.info("recovery.temp_removed", file=str(path))
                cleared += [
                    attempt
                    for temp, attempts in left.items()
                    if Path(temp).parent == folder and Path(temp).name not in here
                    for attempt in attempts
                ]
        self.ledger.temps_cleared(
            [i for what, i in cleared if what == "pdf"],
            self.clock.now(),
            [i for what, i in cleared if what == "ticket"],
        )
        # A replacement the CLI staged for a daemon that stopped before taking it (an hour old: a
        # CLI may be staging one right now).
        # A command file a CLI killed while writing it left (``.<token>.json.tmp``, beside its
        # replacement's copy ``.<token>/``: audit AN D1, a whole PDF kept for good): gone once that
        # CLI is (its pid is in it), or an hour old.
        commands = self.commands_dir()
        now = self.clock.now().timestamp()
        with contextlib.suppress(OSError):
            for entry in os.scandir(commands):
                if not entry.name.startswith("."):
                    continue
                with contextlib.suppress(OSError):
                    mtime = entry.stat(follow_symlinks=False).st_mtime
                    old = now - mtime > 3600
                    if entry.name.endswith(".json.tmp") and entry.is_file(follow_symlinks=False):
                        if old or not _written_by_a_live_cli(Path(entry.path)):
                            shutil.rmtree(commands / entry.name.removesuffix(".json.tmp"), ignore_errors=True)
                            os.unlink(entry.path)
                            log.info("recovery.command_left_removed", file=entry.name)
                    elif (
                        entry.is_dir(follow_symlinks=False)
                        and not (commands / f"{entry.name[1:]}.json").exists()
                        and not (commands / f"{entry.name}.json.tmp").exists()  # (decided with it, above)
                        # (young: by the files' own clock, which made its mtime; one that holds a
                        # file was locked before it: review FO 1, a copy a CLI killed just before a
                        # start was left for an hour)
                        and staging_left(
                            Path(entry.path), old=old, young=time.time() - mtime < 1 and not os.listdir(entry.path)
                        )
                    ):
                        shutil.rmtree(entry.path, ignore_errors=True)
                        log.info("recovery.command_left_removed", file=entry.name)


def _ticket_temp_of(temp: str, final: str) -> str:
    """The temp file of the job ticket of the delivery whose PDF's temp file is ``temp``."""
    return str(Path(temp).with_name(f".{Path(final).with_suffix('.json').name}.part"))


def staging_left(folder: Path, *, old: bool, young: bool) -> bool:
    """Whether a CLI's staging folder that no command names was left: no live CLI holds its lock
    (``commands._hold``; a second's grace for one just made, empty, not locked yet), or, where no
    lock can be taken (a filesystem without them), it is an hour old."""
    if young:
        return False
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # a CLI still copying into it
    except OSError:
        return old  # (no locks here: as before, an hour)
    finally:
        os.close(fd)
    return True


def _written_by_a_live_cli(tmp: Path) -> bool:
    """Whether the CLI that was writing command file ``tmp`` still runs (one cut short in its
    writing, or with no pid, is taken as still being written)."""
    try:
        command = json.loads(tmp.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return True
    return not isinstance(command, dict) or "pid" not in command or daemon_alive(command["pid"])


def _job_folder_name(name: str) -> bool:
    """Whether a folder of this name can be a job's: not a copy the daemon refused ("x (copy, not
    used)"), nor one it moved aside ("x.old-<time>"; audit AK 1: after a restart, `health` named
    them as job folders the ledger does not know)."""
    return is_job_id(name) and not MOVED_ASIDE.search(name)


def _holds(folder: Path, inner: Path) -> bool:
    """Whether ``inner`` is ``folder`` or inside it (by their real paths)."""
    return Path(os.path.realpath(inner)).is_relative_to(os.path.realpath(folder))


def _same_tree(a: Path, b: Path) -> bool:
    """Whether folder ``b`` holds exactly what folder ``a`` holds: the same names, each file with
    the same bytes (links not followed)."""
    if not real_folder(b):
        return False
    try:
        for top, dirs, files in os.walk(a, onerror=_raise):
            there = b / Path(top).relative_to(a)
            with os.scandir(there) as entries:
                names = {e.name for e in entries}
            if names != set(dirs) | set(files):
                return False
            for file in files:
                if not filecmp.cmp(Path(top) / file, there / file, shallow=False):
                    return False
    except OSError:
        return False
    return True


def _raise(exc: OSError) -> None:
    raise exc
