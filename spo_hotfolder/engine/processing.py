"""Processing: the job queue, the check (preflight) and the output.

A part of the class ``Engine`` (``engine/core.py``), kept in a module of its own; its methods
run on the engine's thread, ``self`` being the Engine."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spo_hotfolder.clock import iso
from spo_hotfolder.delivery import (
    RouteFacts,
    decide_route,
    output_name,
)
from spo_hotfolder.engine.base import (
    DISK_FULL_RETRY_SECONDS,
    STATUS_FLUSH_SECONDS,
    SYMLINK_PROBLEM,
    JobFailed,
    _artwork_missing_failure,
    _file_sig,
    log,
)
from spo_hotfolder.engine.state import EngineState
from spo_hotfolder.fsutil import MAY_NOT_READ, into_history, real_folder
from spo_hotfolder.ledger import Job, Stage, is_disk_full
from spo_hotfolder.operator import SYSTEM
from spo_hotfolder.outputfile import OutputError, link_unchanged, write_error
from spo_hotfolder.pdfreport import (
    REPAIRED,
    TRIM_BEYOND_PAGE,
    TRIM_OFF_PAGE,
    ArtworkInput,
    Finding,
)
from spo_hotfolder.pdfwork import CHECKER
from spo_hotfolder.stability import Signature
from spo_hotfolder.status import JobStatus

#: While a queue of jobs runs, the worker checks the next job ahead: the first of this many queued
#: after the current one that is waiting to be processed (the rest are being delivered, say).
PREFETCH_LOOKAHEAD = 4

#: How long the engine works through one queue of jobs before it makes the queue again.
QUEUE_SECONDS = 1.0


def _lmode(path: str) -> int | None:
    """The mode of what is at ``path`` (not followed); None when nothing is there."""
    try:
        return os.lstat(path).st_mode
    except OSError:
        return None


def _special(mode: int) -> bool:
    """A named pipe, a socket or a device: nothing a job's file can be."""
    return not (stat.S_ISREG(mode) or stat.S_ISLNK(mode) or stat.S_ISDIR(mode))


def _not_a_file(path: str) -> bool:
    """Whether something other than a regular file (a named pipe, a socket, a device) is there."""
    mode = _lmode(path)
    return mode is not None and _special(mode)


def _orders_in_turn(jobs: Sequence[tuple[str, str]], served: dict[str, int]) -> list[tuple[str, str]]:
    """The (job_id, order_id) ``jobs``, longest waiting first, as a queue in which the orders take
    turns: a job of each order, the order served longest ago first (``served``: when each order's
    last job ran, a counter; one never served before any), then their second jobs, and so on. An
    order of one job sent while an order of thousands is processed runs next, not after all of them."""
    waiting: dict[str, deque[str]] = {}
    for job_id, order_id in jobs:
        waiting.setdefault(order_id, deque()).append(job_id)
    turns = sorted(waiting, key=lambda order_id: served.get(order_id, -1))  # (stable: then as they came)
    queue: list[tuple[str, str]] = []
    while turns:
        for order_id in turns:
            queue.append((waiting[order_id].popleft(), order_id))
        turns = [order_id for order_id in turns if waiting[order_id]]
    return queue


#: How long a job about to be delivered waits at most for a manifest naming it that came while it
#: was made (Engine._manifest_first): one that cannot be taken in that long does not hold it.
MANIFEST_FIRST_SECONDS = 10.0
#: Files waiting beyond which the look before a delivery takes only the manifests told of since.
MEANWHILE_BACKLOG = 1_000
#: The checks a product's expectations (products:) decide: a change of config can fix those.
_EXPECTATION_CHECKS = frozenset({"pages", "trim", "bleed"})
#: What the PDF worker says when a check did not finish (pdfwork.WorkerFailure, preflight's
#: MemoryError): checking the same file again may do, unlike for a file that is damaged.
_CUT_SHORT = ("did not finish within", "ran out of memory", "crashed")


def _fix_kind(finding: Finding) -> str:
    """The check a finding's fix is chosen by: a TrimBox off the page, or reaching beyond it, is a
    broken PDF, which no product expectation in the config mends (audit BB 8)."""
    if finding.check == "trim" and (TRIM_OFF_PAGE in finding.message or TRIM_BEYOND_PAGE in finding.message):
        return "trimbox"
    if finding.check == "open" and MAY_NOT_READ in finding.message:
        return "permission"  # a file the daemon may not read: a chmod, not a corrected PDF
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
    if failed == {"permission"}:
        # (audit BS D6: a good PDF uploaded with umask 077 by another account; "How to fix it"
        # offered only a corrected PDF and REJECT)
        return (
            "Nothing is known to be wrong with the PDF: the daemon may not read it (above: whose it is). Have its "
            "owner (or root) give the daemon's group read permission (chmod g+r on the file in artwork/), then drop "
            "a file named RETRY here; or put a readable copy into replace/, or drop REJECT to stop the job."
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
    elif failed == {"fonts"}:
        fix += (
            " with its fonts embedded, or, if the printer has those fonts, set validation.checks.fonts to "
            "warning in the config, reload it (systemctl reload spo-hotfolder, or SIGHUP), then drop RETRY here"
        )
    elif "fonts" in failed and failed <= _EXPECTATION_CHECKS | {"fonts"}:
        # Each way out said: the fonts alone would leave the size failing (white-box audit DF 3).
        fix += (
            " that meets the product's expectations with its fonts embedded; or change the product's expectations "
            "in the config (products:) and, if the printer has those fonts, set validation.checks.fonts to warning, "
            "reload it (systemctl reload spo-hotfolder, or SIGHUP), then drop RETRY here"
        )
    elif "encryption" in failed:
        fix += " without a password (ask the customer for an unprotected file)"
    elif failed == {"repaired"}:
        fix += (
            " (sent again, or saved again from its application); if the file is complete and only slightly "
            "damaged, set validation.checks.repaired to warning in the config, reload it (SIGHUP), then drop RETRY "
            "here (the output is then written anew from what could be read: check it)"
        )
    if "permission" in failed:
        fix += ", or make the file the daemon may not read readable (chmod g+r) and drop RETRY here"
    if check_again:
        # A check that did not finish (a time-out, a killed PDF worker): checking it again may do.
        # Not so for a file that could not be read (damaged, not a PDF): the same file fails the same way.
        fix += ", or drop RETRY here to check it again"
    return fix + ", or drop REJECT to stop the job."


#: How many times a job's check is made while its artwork changes during it (_process).
CHECK_TRIES = 3


def _ctime_of(path: str) -> int | None:
    try:
        return os.stat(path).st_ctime_ns
    except OSError:
        return None


def _read_only(*paths: Path) -> None:
    """Takes the write permission away from ``paths`` (best effort: a filesystem that refuses, e.g.
    a share, leaves them as they are; the output's recorded signature still catches a change)."""
    for path in paths:
        with contextlib.suppress(OSError):
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and st.st_mode & 0o222:
                path.chmod(stat.S_IMODE(st.st_mode) & ~0o222)


if TYPE_CHECKING:
    from spo_hotfolder.engine.core import Engine


class EngineProcessing(EngineState):
    """The Engine's methods for processing (this module's docstring says what they do)."""

    def _run_jobs(self: Engine) -> None:
        if self.pdf is None:  # an operator command acting offline: the daemon does the work later
            return
        mono = self.clock.monotonic()
        try:
            for _ in range(10_000):
                if self.stop_event.is_set():
                    return
                runnable = [(j, o) for j, o in self.ledger.runnable() if self._cooldown.get(j, 0.0) <= mono]
                if not runnable:
                    return
                orders = {order_id for _, order_id in runnable}
                self._served = {order_id: n for order_id, n in self._served.items() if order_id in orders}
                self._queue_running = True
                self._run_queue(_orders_in_turn(runnable, self._served))
                # Deadlines come due while thousands of jobs run (audit BQ R1: artwork_timeout_seconds
                # of 30 s failed jobs after 70-106 s): looked at between two queues, as in a step.
                self._guard("due", "", self._run_due)
        finally:
            self._queue_running = False

    def _run_queue(self: Engine, queue: list[tuple[str, str]]) -> None:
        """Runs the queued jobs, for QUEUE_SECONDS at most: then the queue is made again, with the
        jobs taken in meanwhile in their orders' turns (audit BQ: an order sent while one of
        thousands of jobs was processed waited for all of them)."""
        until = time.monotonic() + QUEUE_SECONDS
        ids = [job_id for job_id, _ in queue]
        for index, (job_id, order_id) in enumerate(queue):
            if self.stop_event.is_set() or (index and time.monotonic() > until):
                return
            if self._pending_config is not None:
                # A reload applies between two jobs, not once the queue is empty (which under a
                # steady stream of orders may be never): the next job goes where the new routes say.
                self._apply_config(self._pending_config)
            self._run_job(job_id, ids[index + 1 : index + 1 + PREFETCH_LOOKAHEAD])
            self._served_count += 1
            self._served[order_id] = self._served_count
            self._guard("intake", "", self._finish_intakes)
            # Between jobs, take in a few files that arrived meanwhile, so that intake never
            # starves; a few, so that a backlog of thousands does not starve deliveries either
            # (each delivered job makes room for about one more taken in).
            self._drain_hints()
            if self.tracker.any_due():
                self._take_stable(budget=0.01, limit=4)

    def _reject_first(self: Engine, job: Job) -> bool:
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

    def _work_drops_first(self: Engine, job: Job) -> bool:
        """A job going on in work/ (after waiting there for its artwork, its date or a copy retry)
        with a drop file in its folder, or a replacement in a replace/ there (audit W 1: the old
        artwork printed): the drop file is read first, as in quarantine/ (audit
        12-05 F 1, 2: a REJECT dropped while a copy waited for its retry was ignored and the job
        printed; a RELEASE dropped before the output existed was read once the job reached
        quarantine/, and recorded as approving an output nobody had seen). The job waits a moment
        for it (True). One listing of the job's folder; work/ is not watched (_work_drop_files)."""
        if job.stage not in (Stage.PROCESS, Stage.DELIVER):
            return False
        folder = self.job_dir(job)
        if folder.parent != self.area("work"):
            return False
        names = self._drop_files_in(folder, replacements=True)
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

    def _manifest_first(self: Engine, job: Job) -> bool:
        """A job about to be delivered that a manifest in the inbox names, which came while the job
        was made (a second manifest of the order moved in with the first; a webhook's retry under
        another file name; audit Z 1, 2): that manifest is taken first, as one that came before the
        job's turn is (it replaces the job's artwork and facts, or is filed as the same again), not
        refused after the delivery as "already delivered". The job waits a moment for it (True)."""
        # What came while the job was made: a manifest of a known job is noted. With a backlog
        # (a start with thousands of orders waiting), only the manifests the watcher told of since:
        # a look at every file due before each delivery walked the backlog each time, and such a
        # start delivered at a quarter of its pace (bench scenario 8, 2026-12-05).
        # (guarded: a file of another order that cannot be read must not fail the job in hand,
        # audit CH E1: an EIO on a new manifest's close failed the job being delivered)
        if len(self.tracker) <= MEANWHILE_BACKLOG:
            self._meanwhile_guarded()
        else:
            self._guard("intake", "", self._manifests_meanwhile)
        if len(self._manifest_waiting) > 1_000:  # (noted for jobs that were never delivered: old ones go)
            stale = self.clock.monotonic() - MANIFEST_FIRST_SECONDS
            self._manifest_waiting = {j: w for j, w in self._manifest_waiting.items() if w[1] >= stale}
        waiting = self._manifest_waiting.get(job.job_id)
        if waiting is None:
            return False
        path, since = waiting
        mono = self.clock.monotonic()
        if not os.path.lexists(path) or mono - since > MANIFEST_FIRST_SECONDS:
            # (taken in and gone from the inbox, filed as the same again, refused; or not takeable
            # at all: it does not hold the job for ever)
            del self._manifest_waiting[job.job_id]
            return False
        self._cooldown[job.job_id] = mono + 0.2
        return True

    def _run_job(self: Engine, job_id: str, next_ids: Sequence[str] = ()) -> None:
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
                    if self._pending_config is not None:
                        # A reload that came while its output was made: its routes decide where the job
                        # goes, as for every job not delivered yet (`jobs` and `show` said so already;
                        # it went by the old ones: audit AI 3).
                        self._apply_config(self._pending_config)
                        job = self.ledger.get_job(job_id, history=False) or job  # (its route as now recorded)
                    if not self._manifest_first(job):
                        self._deliver(job)
            elif job.stage is Stage.DELIVER and not self._manifest_first(job):
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
            # Stopped while its output was made: OutputCreationFailed says so, as SPEC 6 ends that step
            # (white-box audit DM 2: an EIO on the new output's stat left failed/ jobs showing
            # OutputCreationStarted, "being made", to `jobs` and scripts).
            try:
                current = self.ledger.get_job(job_id, history=False)
            except Exception:  # noqa: BLE001 - (the ledger itself in trouble: said by _fail's try below)
                current = None
            making = current is not None and current.status is JobStatus.OutputCreationStarted
            ended = JobStatus.OutputCreationFailed if making else None
            if isinstance(exc, OSError):
                # A disk's or share's error (audit CH E3: "internal error" with a stack dump for an
                # EIO while the output was made): said as what it is, in plain words.
                where = f" ({self.rel(Path(exc.filename))})" if isinstance(exc.filename, str) else ""
                reason = f"a file operation failed: {exc.strerror or exc}{where}"
                bound().error("job.file_error", stage=job.stage.value, error=reason)
                failure = JobFailed(
                    ended,
                    reason,
                    [reason],
                    "Drop a file named RETRY here to try again once the disk (or share) works again; if it "
                    "fails again, tell the administrator.",
                )
            else:
                bound().exception("job.internal_error", stage=job.stage.value)
                failure = JobFailed(
                    ended,
                    f"internal error while handling the job ({type(exc).__name__}: {exc})",
                    [f"{type(exc).__name__}: {exc}"],
                    "Drop a file named RETRY here to try again; if it fails again, tell the administrator "
                    "(the daemon's log has the details).",
                )
            self._cooldown[job_id] = self.clock.monotonic() + 5.0
            try:
                self._fail(job_id, failure, self.clock.now(), status=failure.status)
            except Exception:  # noqa: BLE001 - e.g. the ledger itself is locked: try again later
                bound().exception("job.cannot_record_failure")
        finally:
            self._drop_prestage(job_id)
            self.busy_job = None
            if self.clock.monotonic() - self._status_flushed_at >= STATUS_FLUSH_SECONDS:
                self._guard("status", job_id, lambda: self.flush_status(skip_runnable=True))

    def _spool_full(self: Engine, job_id: str, exc: BaseException) -> None:
        """A job step stopped by the full spool disk (the ledger, a folder): the job stays where it
        is and is tried again in a few seconds."""
        self._cooldown[job_id] = self.clock.monotonic() + DISK_FULL_RETRY_SECONDS
        self._spool_full_said(exc, job_id=job_id)

    def _artwork_changed_since_check(self: Engine, job: Job) -> list[str]:
        """The names of the job's artwork files whose content is not what its last check read
        (``preflight.artwork_sha256``); none when there was no check, or no such record."""
        recorded = (job.preflight or {}).get("artwork_sha256") or []
        inputs = self._inputs(job)
        if len(recorded) != len(inputs):
            return []
        changed = []
        for item, digest in zip(inputs, recorded, strict=True):
            current = self._digest(Path(item.path))
            # (a named pipe put in its place has no digest: changed all the same, audit BO D1)
            if digest and (current != digest if current is not None else _not_a_file(item.path)):
                changed.append(item.name)
        return changed

    def _inputs(self: Engine, job: Job) -> list[ArtworkInput]:
        job_dir = self.job_dir(job)
        return [
            ArtworkInput(name=a.name, path=str(job_dir / "artwork" / a.name), expected_sha256=a.sha256)
            for a in self.ledger.artwork(job.job_id)
        ]

    def facts(self: Engine, job: Job) -> RouteFacts:
        return RouteFacts.of(job)

    def _process(self: Engine, job: Job, next_ids: Sequence[str] = ()) -> None:
        if self.pdf is None:
            return
        job_dir = self.job_dir(job)
        inputs = self._inputs(job)
        modes = [(i.name, _lmode(i.path)) for i in inputs]  # (one lstat an input)
        links = [name for name, mode in modes if mode is not None and stat.S_ISLNK(mode)]
        if links:
            raise JobFailed(
                JobStatus.ValidationFailed,
                "artwork is a symbolic link, not a file: " + ", ".join(links),
                [SYMLINK_PROBLEM.format(name=name) for name in links],
                "Put the PDF itself (not a link to it) into replace/ (same file name), or drop REJECT here.",
            )
        odd = [name for name, mode in modes if mode is not None and _special(mode)]
        if odd:
            # (audit BO D1: a named pipe put into artwork/ in place of the PDF hung the check on
            # its open: nothing was delivered any more, a restart hung again)
            raise JobFailed(
                JobStatus.ValidationFailed,
                "artwork is not a file: " + ", ".join(odd),
                [
                    f"artwork/{name} is a named pipe, a socket or a device, not a file: nothing can be read from it"
                    for name in odd
                ],
                "Put the PDF itself into replace/ (same file name), or drop REJECT here.",
            )
        missing = _artwork_missing_failure(inputs)
        if missing is not None:
            raise missing
        spec = self.config.product_spec(job.product)
        self._prestage(job, inputs)
        answer = self._finish_early_check(job, inputs)
        for _ in range(CHECK_TRIES):
            if answer is not None:
                break
            before = self._check_key(job.job_id, job.product, inputs)
            started = time.monotonic()
            answer = self.pdf.check(inputs, job.product, spec, self.config.validation)
            self.metrics.observe("preflight", time.monotonic() - started)
            if self._check_key(job.job_id, job.product, inputs) != before:
                # Edited while it was checked (in place, its size and time kept: the check's digest
                # was read before the edit, its pages after: white-box audit CV 1): checked again.
                log.info("check.file_changed", job_id=job.job_id, reason="an artwork file changed while it was checked")
                answer = None
        if answer is None:
            raise JobFailed(
                JobStatus.ValidationFailed,
                "its artwork kept changing while it was checked",
                [f"artwork/{item.name} was changed while it was checked, {CHECK_TRIES} times" for item in inputs],
                "Put the PDF to print into replace/ (same file name), once it is complete; or drop RETRY here once "
                "nothing writes into artwork/ any more; or REJECT.",
            )
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
            " (again: its making was cut short, by a stop, a crash or a full disk)"
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
        if os.path.lexists(out_dir) and not real_folder(out_dir):
            # A link to a folder elsewhere (or a file) in its place: never written through, never
            # emptied; kept in history/ (audit BO D3: the output was written outside the spool and
            # a file there moved into the job's history/).
            into_history(job_dir, out_dir, self.clock.now(), "output-not-a-folder")
        started = time.monotonic()
        was: int | None = None  # the artwork's change time before the output's link (a copy begun with the check)
        try:
            try:
                out_dir.mkdir(exist_ok=True)
            except OSError as exc:
                # A disk out of space or of inodes: retried as for the output itself (audit BX 1: it
                # was started again every 5 s, two history entries each time, never failed).
                raise write_error(exc, self.rel(job_dir)) from exc
            for old in out_dir.iterdir():
                if old.name != name:
                    try:
                        into_history(job_dir, old, self.clock.now(), f"output-{old.name}")
                    except OSError as exc:
                        # As the folder's own making above (white-box audit DF 1, 2: an I/O error
                        # left the job in failed/ saying OutputCreationStarted, a full disk started
                        # it again every 5 s for ever).
                        raise write_error(exc, self.rel(job_dir)) from exc
            if linked:
                # The artwork is print-ready as it is: the output is a link to it, made here.
                was = _ctime_of(inputs[0].path) if job.job_id in self._prestaged else None
                result = link_unchanged(inputs[0], str(out_dir / name), report.pages)
            else:
                result = self.pdf.build_output(
                    inputs,
                    str(out_dir / name),
                    spec,
                    self.config.validation,
                    while_waiting=self._meanwhile_guarded,
                    repaired=any(f.check == REPAIRED for f in report.findings),
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
        pre = self._prestaged.get(job.job_id)
        if linked and pre is not None and was == pre.ctime:
            # The link and the chmod just made moved the artwork's change time: the copy begun with
            # its check is still of this file (_as_it_was).
            pre.ctime = _ctime_of(str(pre.artwork)) or pre.ctime
        now = self.clock.now()
        self._block_unapproved_artwork(job.job_id, now)  # (its digests read here, outside the ledger's lock)
        # A RELEASE in the job's folder now (in work/) was dropped while the output of new artwork
        # (a replacement, a manifest sent again) was made: nobody had seen this output, so it
        # approves nothing, as a RELEASE read before the output existed approves nothing
        # (_new_output_not_made; the CLI's release given then is refused: SPEC 3 wants both alike).
        # Filed before the folder moves to quarantine/, where an operator may drop one once it is
        # there (review EF 1: read there, it approved the new output unseen and the job printed;
        # EH 3, 4: filed after the move, it took a RELEASE dropped at once, and a crash between
        # the two left it to approve). One before the first output approves in advance, as documented.
        unused = ""
        light = self.ledger.get_job(job.job_id, history=False)  # (its history read for a blocked job only)
        with_history = self.ledger.get_job(job.job_id) if light is not None and light.blocked else None
        if with_history is not None and self._new_output_not_made(with_history) is not None:
            unused = self._file_stale_releases(
                self.job_dir(job),
                now,
                "while this output was being made",
                said=lambda answer: self._note_action(job.job_id, f"{iso(now)}  RELEASE{answer}"),
            )
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
            self._record_stage(job.job_id, next_stage, now)
        if next_stage is Stage.HELD:
            self._drop_prestage(job.job_id)
            log.info("job.held", job_id=job.job_id, order_id=job.order_id, folder=f"quarantine/{job.job_id}")
        if unused:
            self._write_status(job.job_id)

    def _output_again_later(self: Engine, job: Job, reason: str) -> bool:
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
        when = self._due_in(self.config.delivery.backoff(attempts))
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

    def _manifests_meanwhile(self: Engine) -> None:
        """The manifests the watcher told of since the last look that are complete now, taken in
        as ``_meanwhile`` takes them (``_manifest_first`` with a backlog)."""
        if self.stop_event.is_set() or self._pending_config is not None:
            return  # (see _meanwhile)
        came = [path for path in self._drain_hints() if self._classify(path)[0] == "manifest"]
        with self._round_listings():  # (one listing for the claims of them all: _uploads_listed)
            for path, sig in self.tracker.stable_among(came) if came else ():
                self._take_new_only(path, sig)

    def _take_new_only(self: Engine, path: Path, sig: Signature) -> None:
        """A stable manifest or artwork taken in while a job is made: only what a new job needs."""
        self._new_only = True
        try:
            self._guard("file", str(path), lambda: self._on_stable(path, sig))
        finally:
            self._new_only = False

    def _meanwhile_guarded(self: Engine) -> None:
        """``_meanwhile`` before a delivery or while the worker makes an output: nothing it meets
        fails the job in hand."""
        self._guard("intake", "", self._meanwhile)

    def _meanwhile(self: Engine) -> None:
        """While the worker makes a big output (seconds, up to its time limit): new orders are taken
        in, recorded Ordered and their artwork claimed, so that intake never waits for one PDF.
        Only what needs neither the PDF worker nor a job already known: operator drop files,
        commands and manifests that name known jobs stay where they are until the job's turn ends."""
        self.progress_at = self.clock.monotonic()
        if self.stop_event.is_set():
            return
        if self._pending_config is not None:
            # A reload waits for the job in hand: an order taken in now would be judged by the old
            # blocking rules and routed by the new ones (audit AI 1: printed unblocked after a
            # reload that added its blocking rule). Taken once the new config applies.
            return
        self._drain_hints()
        if not self.tracker.any_due():
            return
        with self._round_listings():
            for path, sig in self.tracker.get_stable_files(limit=20):
                kind, _ = self._classify(path)
                if kind not in ("manifest", "data"):
                    self.tracker.track(path, activity=False, complete=True)  # for the next step
                    continue
                self._take_new_only(path, sig)
