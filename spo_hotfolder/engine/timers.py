"""Time-driven work: future orders, artwork timeouts, delivery retries coming due.

A part of the class ``Engine`` (``engine/core.py``), kept in a module of its own; its methods
run on the engine's thread, ``self`` being the Engine."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from spo_hotfolder.clock import iso, later, parse_iso
from spo_hotfolder.engine.base import (
    CLOCK_STEP_SECONDS,
    UNWRITABLE_FIX,
    JobFailed,
    _near_misses,
    _rel_parts,
    log,
)
from spo_hotfolder.engine.state import EngineState
from spo_hotfolder.fsutil import name_key
from spo_hotfolder.ledger import Job, Stage
from spo_hotfolder.manifest import (
    UPLOAD_SUFFIXES,
    upload_beside,
    upload_suffix,
)
from spo_hotfolder.operator import SYSTEM
from spo_hotfolder.stability import HELD_OPEN_WARN_SECONDS, open_for_writing
from spo_hotfolder.status import JobStatus

if TYPE_CHECKING:
    from spo_hotfolder.engine.core import Engine

#: How long one round works on the jobs due (by the machine's clock); the rest at the next round.
DUE_BUDGET_SECONDS = 0.25


class EngineTimers(EngineState):
    """The Engine's methods for time-driven work (this module's docstring says what they do)."""

    def _run_due(self: Engine) -> None:
        now = self.clock.now()
        due = self.ledger.due_jobs(now)
        if due:
            # The scheduler wakes the engine at one time at a time (reconcile: the earliest): the
            # next one after those due now is set here. Else a retry or a deadline due a few seconds
            # after a start with overdue work waited for a step woken by something else (audit).
            following = self.ledger.next_due(after=now)
            if following:
                self._schedule_wakeup(parse_iso(following))
        deadline = time.monotonic() + DUE_BUDGET_SECONDS
        for index, (job_id, stage) in enumerate(due):
            if self.stop_event.is_set():
                return
            if index and time.monotonic() > deadline:
                # Thousands due at once (an order of 6,000 jobs whose artwork never came): the rest
                # at the next round, after the files that came meanwhile (audit BN D5: every other
                # order waited minutes, not even taken in).
                self.wake_event.set()
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
                self._guard("job", job_id, lambda j=job: self._artwork_timeout(j))

    def _follow_clock_step(self: Engine) -> None:
        """The wall clock stepped since the last step (it moved more or less than the monotonic
        clock, by CLOCK_STEP_SECONDS or more): the retries' and artwork time-outs' due times move
        with it, so that a backoff of 10 s stays 10 s and an artwork_timeout_seconds of 600 stays
        600 (white-box audit DM 1: stepped back two hours, a retry waited two hours; forward, a job
        waiting for its artwork failed at once). Not across a restart: the monotonic clock starts
        again then."""
        wall, mono = self.clock.now(), self.clock.monotonic()
        seen = self._clock_seen
        step = 0.0 if seen is None else (wall - seen[0]).total_seconds() - (mono - seen[1])
        if abs(step) < CLOCK_STEP_SECONDS:
            self._clock_seen = (wall, mono)
            return
        moved = self.ledger.shift_deadlines(timedelta(seconds=step))
        self._clock_seen = (wall, mono)  # (after the shift: one that failed, a busy ledger, is tried again)

        def seen_again() -> None:  # (within a transaction rolled back: the shift is undone too)
            self._clock_seen = seen

        self.ledger.on_rollback(seen_again)
        log.warning("clock.stepped", seconds=round(step, 3), due_times_moved=moved)
        if moved:
            due = self.ledger.next_due(after=wall)
            if due:
                self._schedule_wakeup(parse_iso(due))

    def _due_in(self: Engine, seconds: float) -> datetime:
        """A due time ``seconds`` from now (a retry's backoff, an artwork time-out), on the wall
        clock as it is now, after a step of it is followed: a due time set with the clock stepped
        since the last look was moved by the step once more when that look came after it (review
        EO 1: stepped back an hour, a job taken in then failed "artwork missing after 600 seconds"
        at once; forward, a retry after 10 s waited an hour and 10 s)."""
        with contextlib.suppress(Exception):  # a busy ledger: the step is followed at the engine's next look
            self._follow_clock_step()
        return later(self.clock.now(), seconds)

    def _held_until(self: Engine, path: Path) -> float | None:
        """Until when (monotonic) a file there is held before it is given: by the tracker (it looks
        incomplete), or for its order (_claim); None when it is not held."""
        until = self.tracker.held_until(path)
        owner = self._held_for_owner.get(path)
        if owner is None:
            return until
        return owner[0] if until is None else max(until, owner[0])

    def _artwork_timeout(self: Engine, job: Job) -> None:
        missing = [a for a in self.ledger.artwork(job.job_id) if not a.present]
        if not missing:
            self._check_complete(job.job_id)
            return
        waits = [self._still_coming(Path(a.source)) if a.source else None for a in missing]
        if all(wait is not None for wait in waits):
            # Every file it waits for is arriving (a copy begun just before the deadline, an upload
            # under way: audit W R1, it was failed "artwork missing" and taken back a moment later),
            # or there, unchanged, and held a moment longer only because it looks incomplete (an
            # empty file: SPEC 5 has it taken once stable, and fail preflight as empty; audit BD 1),
            # or for the moment in which another order's manifest may name it (_claim): the job
            # waits for that, not "artwork missing ... still changing".
            until = self.clock.now() + timedelta(seconds=max(max(w for w in waits if w is not None), 0.5))
            self.ledger.update_job(job.job_id, self.clock.now(), awaiting_until=iso(until))
            self._schedule_wakeup(until)
            return
        names = [f"{a.name} (expected at {self.rel(Path(a.source)) if a.source else a.name})" for a in missing]
        problems = [
            self._why_not_taken(a.name, Path(a.source), job) if a.source else f"missing: {a.name}" for a in missing
        ]
        job_dir = self.job_dir(job)
        problems += [
            # (audit AL D2: put into work/<job>/artwork/ by hand, it was "missing" beside the file)
            f"artwork/{a.name} was put into this job's folder by hand, where the daemon does not take artwork "
            "from: move it into replace/ (or drop RETRY here to have it checked as it is)"
            for a in missing
            if (job_dir / "artwork" / a.name).is_file()
        ]
        limit = self.config.watch.artwork_timeout_seconds
        now = self.clock.now()
        if all(a.source and self._unmovable_now(Path(a.source)) for a in missing):
            # There, but not to be moved (review HI 3: said "missing", "put the missing files into inbox/").
            self._fail(
                job.job_id,
                JobFailed(
                    None,
                    f"artwork not taken after {limit:g} seconds: " + ", ".join(a.name for a in missing) + " "
                    f"{'is' if len(missing) == 1 else 'are'} in the inbox, but the daemon may not take "
                    f"{'it' if len(missing) == 1 else 'them'}",
                    problems,
                    "Have the file made so that the daemon may take it (see above), then drop RETRY here; or put a "
                    "copy of it into this "
                    "folder's replace/ folder; or drop REJECT here.",
                ),
                now,
            )
            detail = "artwork not movable: " + ", ".join(names)
            self._record(job.job_id, JobStatus.ValidationFailed, SYSTEM, detail, now)
            return
        self._fail(
            job.job_id,
            JobFailed(
                None,
                f"artwork missing after {limit:g} seconds: " + ", ".join(a.name for a in missing),
                problems,
                "Put the missing files into inbox/ where the manifest says (each is taken about 10 s after it is "
                "complete, unless another order's manifest names it meanwhile), or put them into this "
                "folder's replace/ folder, or drop REJECT here.",
            ),
            now,
        )
        # (recorded last: whoever sees it finds failed/<job>/ERROR.txt)
        self._record(job.job_id, JobStatus.ValidationFailed, SYSTEM, "artwork missing: " + ", ".join(names), now)

    def _still_coming(self: Engine, source: Path) -> float | None:
        """For a file a job waits for at its deadline: in how many seconds it may be taken, where it
        is arriving (``_arriving_until``) or held (``_held_until``); None where it is neither."""
        if self._unmovable_now(source):
            return None  # (there, but the daemon may not move it: waiting changes nothing, audit HB 3)
        since = self.tracker.held_open_since(source) if source not in self._held_for_owner else None
        if since is not None:
            # Unchanged, held only because a program keeps it open for writing: an upload that
            # pauses waits, up to HELD_OPEN_WARN_SECONDS unchanged (review EP 1: one pausing 6 s
            # across the deadline failed "artwork missing"); then it is a stuck client (an SMB
            # session, an FTP upload that stopped), and the job fails "still open for writing" and
            # takes the file once it is closed (review EL 4: its deadline moved on 0.7 s at a time
            # for as long as the file stayed open, the job waiting for ever).
            left = since + HELD_OPEN_WARN_SECONDS - self.clock.monotonic()
            return None if left <= 0 else left + 0.5
        arriving = self._arriving_until(source)
        if arriving is not None:
            return arriving
        held = self._held_until(source)
        return None if held is None else held - self.clock.monotonic() + 0.5

    def _arriving_until(self: Engine, source: Path) -> float | None:
        """For a file a job waits for that is still arriving at its deadline, how many seconds
        until it may have settled (and a little); None otherwise. Arriving: there and changed less
        than ``watch.settle_seconds`` ago (by its ctime, against the engine's clock, as the tracker
        compares them), or seen changing that recently by the tracker (a poller notes a change at
        its look, after the file's ctime: audit BL D2, a file unchanged for 1.5 s, not taken yet,
        was failed "still changing"); or not there yet but being uploaded beside it under a
        temporary name that changed within the tracker's wait for an upload under way (rsync's
        ``.x.pdf.Ab12Cd``, ``x.pdf.filepart``: audit BL D1, a slow upload failed as one that "never
        finished" while it went on). An upload that stopped changing holds nothing (a client killed)."""
        settle = self.config.watch.settle_seconds
        try:
            st = os.lstat(source)
        except OSError:
            return self._upload_under_way(source)
        if not stat.S_ISREG(st.st_mode):
            return None
        age = self.clock.now().timestamp() - st.st_ctime
        if 0 <= age < settle:
            return settle - age + 0.5
        due = self.tracker.settling_until(source)
        return None if due is None else due - self.clock.monotonic() + 0.5

    def _upload_under_way(self: Engine, source: Path) -> float | None:
        """For ``source``, being uploaded beside it under a temporary name (rsync's ``.x.pdf.Ab12Cd``,
        ``x.pdf.filepart``) that changed within the tracker's wait for an upload under way: in how
        many seconds that wait ends (and a little); None where there is no such upload (none, or
        one that stopped changing: a client killed). In a round of ``_take_stable``, the folder's
        listing of the round tells first whether any upload may be for it (white-box audit DR 3:
        each claim listed the whole inbox, a backlog's cost its square)."""
        listed = self._uploads_listed(source.parent)
        if listed is not None and source.name not in listed and source.name.lower() not in listed:
            return None
        beside = upload_beside(source)
        if beside is None:
            return None
        try:
            st = os.lstat(source.parent / beside)
        except OSError:
            return None
        # (the ctime: the file's server sets it, a client cannot; one ahead of our clock holds nothing)
        age = self.clock.now().timestamp() - st.st_ctime
        limit = self.tracker.incomplete_pdf_seconds
        return limit - age + 0.5 if 0 <= age < limit else None

    def _uploads_listed(self: Engine, folder: Path) -> set[str] | None:
        """The names of the files that temporary names in ``folder``'s listing of this round may
        stand for (``.x.pdf.Ab12Cd``, ``x.pdf.part``: ``x.pdf``; more, never fewer, than
        ``upload_beside`` finds), or None outside a round."""
        names = self._upload_names.get(folder)
        if names is None:
            listing = self._listed(folder)
            if listing is None:
                return None
            names = set()
            for name in listing:
                if name.startswith(".") and "." in name[1:]:
                    names.update(_dotted_prefixes(name[1:]))
                suffix = upload_suffix(name)
                if suffix and len(name) > len(suffix):
                    names.add(name[: -len(suffix)].lower())  # (upload_beside: its suffix in any case)
            self._upload_names[folder] = names
        return names

    def _near_misses_in_failed(self: Engine, source: Path, job: Job) -> list[str]:
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

    def _earlier_artwork(self: Engine, job: Job, name: str) -> str | None:
        """The newest file of ``name`` that the job's artwork/ had before a new manifest or a reprint
        set it aside (``history/<time>-artwork-<name>``), or None."""
        folder = self._locate(job)
        if folder is None:
            return None
        with contextlib.suppress(OSError):
            kept = sorted(p.name for p in (folder / "history").iterdir() if p.name.endswith(f"-artwork-{name}"))
            return kept[-1] if kept else None
        return None

    def _unfinished_upload_in_failed(self: Engine, source: Path) -> str | None:
        """``'x.pdf.filepart' (now in failed/x.pdf.filepart/)`` when the cut-off upload of ``source``
        from the top of inbox/ went to failed/ unclaimed before its job's time ran out."""
        if source.parent != self.area("inbox"):
            return None
        for suffix in UPLOAD_SUFFIXES:
            folder = self.area("failed") / f"{source.name}{suffix}"
            if (folder / folder.name).is_file():
                return f"{folder.name!r} (now in failed/{folder.name}/)"
        return None

    def _why_not_taken(self: Engine, name: str, source: Path, job: Job) -> str:
        """Why an artwork file was not taken in time, in words: absent (or taken by another order's
        job), ignored by name, or unfinished."""
        where = self.rel(source)
        if not os.path.lexists(source):
            # Another order's job that took a file of this name from the inbox's top (in folder drops
            # each order has its own) since a while before this job came: named, not just "missing".
            since = iso(parse_iso(job.created_at) - timedelta(seconds=self.config.watch.artwork_timeout_seconds))
            taker = (
                self.ledger.taken_with_name(source.name, since, job.job_id, str(self.area("inbox")))
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
            moved = self._moved_specials.get(source)
            if moved is not None:
                return (
                    f"missing: {name} (expected at {where}); what came under that name was not a file (a named "
                    f"pipe, a socket, a device or a link): it is in {self.rel(moved)}/ with an ERROR.txt. Put the "
                    "file itself into inbox/ (a copy, not a link), or the PDF into this folder's replace/"
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
        if self._unmovable_now(source):
            return (
                f"{name} is at {where}, but the daemon may not take it: {self._unmovable_reason(source)}. "
                "Once it may be taken, drop RETRY here"
            )
        if open_for_writing(source):
            return f"{name} is at {where}, but some program still has it open for writing (an upload not finished)"
        return (
            f"{name} is at {where}, but it was still changing (an upload that stalled or is very slow): the "
            "daemon takes a file once it has stayed unchanged for watch.settle_seconds"
        )


def _dotted_prefixes(name: str) -> list[str]:
    """``x.pdf.Ab12Cd`` -> ``x``, ``x.pdf``: the names ``.<it>.`` begins with (``upload_beside``)."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]
