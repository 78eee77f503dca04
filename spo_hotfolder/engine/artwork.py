"""Artwork: files claimed for jobs, waited for, and orphans put into failed/.

A part of the class ``Engine`` (``engine/core.py``), kept in a module of its own; its methods
run on the engine's thread, ``self`` being the Engine."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from spo_hotfolder.clock import iso, parse_iso
from spo_hotfolder.engine.base import (
    SYMLINK_PROBLEM,
    UNWRITABLE_FIX,
    _holds_files,
    _keep_newest,
    _near_misses,
    _rel_parts,
    log,
    nothing_set_aside,
    sticky_for_us,
)
from spo_hotfolder.engine.state import EngineState
from spo_hotfolder.fsutil import (
    Replaced,
    atomic_write,
    belongs_to,
    fsync_dir,
    group_name,
    has_unwritable_flag,
    move,
    name_key,
    safe_name,
    take,
    undecodable,
    user_name,
)
from spo_hotfolder.ledger import Artwork, Job, Stage
from spo_hotfolder.manifest import (
    MANIFEST_NAMES,
    MANIFEST_SUFFIXES,
    misnamed_manifest,
    name_ending,
    upload_beside,
    upload_suffix,
    upload_target,
)
from spo_hotfolder.operator import SYSTEM
from spo_hotfolder.pdfreport import (
    LENGTH_SLACK,
    declared_length,
)
from spo_hotfolder.reports import UNMOVABLE_SAID, error_text
from spo_hotfolder.stability import Signature, signature
from spo_hotfolder.status import JobStatus

#: How much of a file a failed job's incomplete artwork must share with a file that came again
#: under its name for STATUS.txt to point to that file (_hint_whole_again): more than a PDF header.
_WHOLE_AGAIN_MIN_BYTES = 1024
#: The same for a linearized PDF, whose declared whole length must match too.
_WHOLE_AGAIN_MIN_LINEARIZED = 256
#: How long such a file lies in inbox/ unclaimed first (at least 5 x settle_seconds, at most half
#: of artwork_timeout_seconds): a storefront sends artwork first and its manifest a moment later.
WHOLE_AGAIN_SECONDS = 10.0

#: How long one round works on the unclaimed files due (by the machine's clock); the rest at the next.
ORPHANS_BUDGET_SECONDS = 0.25

#: How long a folder's unclaimed files wait, once due, for a manifest beside them to be taken in.
MANIFEST_FIRST_SECONDS = 5.0


#: Bytes kept of the end of a file at the top of inbox/ at each look (_written_over).
TAIL_BYTES = 64


def _tail(path: Path, before: tuple[int, int, bytes] | None = None) -> tuple[tuple[int, int, bytes] | None, bool]:
    """(inode, size, its last TAIL_BYTES) of the file at ``path`` as it is now (None if unreadable),
    and whether ``before`` (the same of an earlier look: the same inode, no longer than now) is no
    longer there: the bytes that ended the file then were written over. Bytes that were zeros (a
    copy that set its size first, Explorer's) do not count. One open for both."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None, False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, False
        start = max(0, st.st_size - TAIL_BYTES)
        now = st.st_ino, st.st_size, os.pread(fd, st.st_size - start, start)
        if before is None or before[0] != st.st_ino or st.st_size < before[1] or not before[2].strip(b"\0"):
            return now, False
        _ino, size, end = before
        return now, os.pread(fd, len(end), size - len(end)) != end
    except OSError:
        return None, False
    finally:
        os.close(fd)


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


#: Why a file of a shared name went to another order's job (_left_waiting).
_BY_TIMES = (
    "jobs of several orders waited for that name, and by when the manifests and the file came it was judged to be "
    "that order's"
)
_BY_SHA256 = "its sha256 is the one that order's manifest gives"

if TYPE_CHECKING:
    from spo_hotfolder.engine.core import Engine


def _unreadable(path: Path) -> os.stat_result | None:
    """``path``'s stat where it is a file the daemon's user may not read; else None."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) and not os.access(path, os.R_OK) else None


class _Aside:
    """A failed/ folder files are set aside into (``Engine._setting_aside``): ``folder``, where they
    are moved now; ``final``, its name in failed/, which ``publish`` gives it once its ERROR.txt is
    written. The ERROR.txt names it by ``shown`` (its path under the spool) and ``shown_path`` (its
    full path): written in as the name it gets (review GO 3: one taken meanwhile, the texts named
    the other, and the `replace` command they gave failed)."""

    shown = "\x00folder\x00"
    shown_path = "\x00path\x00"

    def __init__(
        self, folder: Path, final: Path, rel: Callable[[Path], str], free_name: Callable[[], Path] | None
    ) -> None:
        self.folder = folder
        self.final = final
        self.reused = free_name is None  # (its ERROR.txt says what came before)
        self._rel = rel
        self._free_name = free_name

    def publish(self, error: str) -> None:
        """ERROR.txt (``error``) written, and the folder put together hidden renamed to its name in
        failed/ (another free one if that was taken meanwhile)."""
        if self._free_name is not None and os.path.lexists(self.final):
            self.final = self._free_name()
        text = error.replace(self.shown, self._rel(self.final)).replace(self.shown_path, str(self.final))
        atomic_write(self.folder / "ERROR.txt", text)
        if self._free_name is None:
            return
        fsync_dir(self.folder)
        os.replace(self.folder, self.final)  # (an empty folder made meanwhile is replaced: none is lost)
        fsync_dir(self.final.parent)
        self.folder = self.final


class EngineArtwork(EngineState):
    """The Engine's methods for artwork (this module's docstring says what they do)."""

    def _claim(self: Engine, path: Path, sig: Signature) -> bool:
        """A stable inbox file: move it into every job waiting for it. False if nobody waits.

        At the top of inbox/, where orders share file names, a file that the times do not name
        its waiting order for (its manifest came long before the file began to arrive, or several
        orders wait) is not taken before the moment after it began to arrive in which another
        order's manifest may still name it (the window of _owner_order): an order whose PDF never
        came took the next order's file of that name, sent just before its manifest, and printed
        it (audit A 1). A manifest that comes meanwhile decides with it. The usual order (manifest,
        then its PDF at once) is taken without that wait. So in a folder below inbox/ too: a folder
        of the same name dropped again ("upload/") is another order's, whose PDF came before its
        manifest, and an order waiting there (or timed out) took it and printed it (review EL 3)."""
        waiting = self._waiting(path)
        if not waiting:
            return False
        seen = self.tracker.first_seen(path)
        again = self._new_version_at(path)
        if again is not None:
            seen = again if seen is None else max(seen, again)
        # (in a folder drop always: another order's PDF put into the folder a moment after an order
        # without its PDF, its own manifest just after it, was taken as the usual manifest-then-PDF
        # and printed for the order before: review EQ 1; a big upload's moment is long over)
        below = path.parent != self.area("inbox")
        if seen is not None and (again is not None or below or not self._came_just_before(waiting, seen)):
            # Held until a manifest that came within the window can have been read: one written
            # in place settles first, and a poller sees it at its next look (audit AX D1: the
            # waiting job took the file before such a manifest, refused, was read); at least
            # until the next step, so that the manifests found with it are read before it is
            # given. A file that replaced another upload of its name is never taken at once:
            # that other upload may have been the waiting order's (audit BA D1).
            until = max(self._moment_over(seen), self.clock.monotonic())
            if self._failed_only(waiting):
                # Only jobs that timed out into failed/ wait for the name (hours ago, maybe): the
                # file is far likelier a new order's, whose manifest may follow its PDF by more
                # than a moment; held the window once it settled, so that one decides with it
                # (white-box audit CN 1: an old failed job took the next order's artwork.pdf and
                # printed it; that order failed "artwork missing").
                prior = self._held_for_owner.get(path)
                if prior is not None and prior[2] == sig:
                    until = prior[0]  # (looked at again while held: the hold does not move)
                else:
                    until = max(until, self.clock.monotonic() + self._window_seconds())
            self._held_for_owner[path] = (until, seen, sig)
            return True
        now = self.clock.monotonic()
        if seen is not None and self.polling_watch() and now < seen + self.config.watch.poll_interval_seconds:
            # A poller's look is not one moment: it can see a file renamed in after it listed the
            # folder, and the manifests sent just before that file only at its next look (audit
            # BJ: four orders 0.2 s apart, the waiting one took the last one's PDF). Given after
            # that look, where those manifests decide with it.
            self._held_for_owner[path] = (seen + self.config.watch.poll_interval_seconds + 0.1, seen, sig)
            return True
        if self._named_by_unread(path, now if seen is None else seen):
            # A manifest on its way names it too, and may be its order's (audit BA D1: the
            # waiting order printed the PDF the next order sent a moment before its manifest).
            self._held_for_owner[path] = (now, now if seen is None else seen, sig)
            return True
        return self._take_artwork(path, waiting, seen=seen)

    def _named_by_unread(self: Engine, path: Path, seen: float) -> bool:
        """Whether a manifest at the top of inbox/ not read yet mentions a file called ``path.name``
        (UnreadManifests), or, for a file in a folder drop, its folder's manifest is not read yet
        (come within the window), one that came within the window of the file's arrival (``seen``,
        monotonic) and within the last few seconds: one longer on its way (a backlog, a manifest
        held back) is not waited for, but for those found at a start (orders sent while the daemon
        was stopped, audit BH D1), which are all read before the start's backlog is over."""
        mono = self.clock.monotonic()
        recent = self.tracker.incomplete_pdf_seconds + self._hold_later()
        window = self._window_seconds()
        if path.parent.parent == self.area("inbox"):
            # A folder drop's manifest beside the file, not read yet, come lately: its order's file
            # it may be (review EQ 1: an order dropped into upload/ without its PDF took the PDF of
            # the next order dropped into upload/ a second later, whose manifest came just after it).
            for manifest in self.tracker.tracked_named(path.parent, MANIFEST_NAMES):
                first = self.tracker.first_seen(manifest)
                if first is not None and mono - first <= window:
                    return True
        for manifest in self._unread.naming(path.name):
            first = self.tracker.first_seen(manifest)
            if first is None or abs(first - seen) > window:
                continue
            if mono - first <= recent or not self._start_backlog_over:
                return True
        return False

    def _version_before(
        self: Engine, path: Path, orphan: tuple[float, Signature] | None
    ) -> tuple[Signature, float, bool] | None:
        """The file at ``path`` (top of inbox/) as known before an event: its signature, when it was
        first seen, and whether it was complete and nobody had taken it (an orphan, or held a
        moment); None when it is not known."""
        if orphan is not None:
            return orphan[1], orphan[0], True
        held = self._held_for_owner.get(path)
        if held is not None:
            return held[2], held[1], True
        sig = self.tracker.signature_of(path)
        first = self.tracker.first_seen(path)
        return (sig, first, False) if sig is not None and first is not None else None

    def _note_new_version(self: Engine, path: Path, before: tuple[Signature, float, bool], seen: float) -> None:
        """An event on a file at the top of inbox/ not taken yet: if another upload of its name
        replaced it (renamed over it, written over it from the start, or any change to a file that
        was complete), the new file counts as come now, and is not taken at once (_claim), for the
        upload it replaced, seen within the window before, may have been another order's."""
        sig, first, complete = before
        now = self.tracker.signature_of(path)
        if now is None or now == sig:
            return
        over = self._written_over(path)
        if not (complete or now[2] != sig[2] or now[0] < sig[0] or over):
            return  # the same upload going on
        if seen - first > self._window_seconds():
            return  # an old file replaced: no upload of the moment it could be taken for
        if len(self._new_versions) > 256:
            mono = self.clock.monotonic()
            self._new_versions = {p: v for p, v in self._new_versions.items() if mono - v[0] <= self._window_seconds()}
        self._new_versions[path] = (seen, first)
        how = (
            "another file of this name came over the one there"
            if now[2] != sig[2]
            else "the file there was written over from its start"
            if now[0] < sig[0] or over
            else "the file there was written to again after it had settled (an appending writer, or a new upload "
            "written over it)"
        )
        log.info(
            "artwork.replaced_before_taken",
            file=self.rel(path),
            reason=f"{how}, before any job took it: it is not given to a waiting job at once, in case the two "
            "uploads are of two orders",
        )

    def _written_over(self: Engine, path: Path) -> bool:
        """Whether the file at ``path``, the same inode and no shorter than at the last look, was
        written over from its start since: the bytes that ended it then are not there any more
        (review DZ 3: another order's bigger PDF written over a settling upload in place, O_TRUNC,
        between two looks was taken for the same upload going on, and the waiting order printed
        it). An upload going on only adds after them; bytes that were zeros (a copy that set its
        size first, Explorer's) are not counted. The end as it is now is remembered for the next
        look (also of a file first seen, whose answer nobody asks)."""
        now, over = _tail(path, self._tails.get(path))
        if now is None:
            self._tails.pop(path, None)
        else:
            self._tails[path] = now
            _keep_newest(self._tails)
        return over

    def _new_version_at(self: Engine, path: Path) -> float | None:
        """When the file at ``path`` replaced an earlier upload of its name (monotonic), if it did
        within the window (_note_new_version)."""
        known = self._new_versions.get(path)
        if known is None:
            return None
        if self.clock.monotonic() - known[0] > self._window_seconds():
            del self._new_versions[path]
            return None
        return known[0]

    def _moment_over(self: Engine, seen: float) -> float:
        """When the moment after a file began to arrive (``seen``) in which another order's manifest
        may still name it is over (monotonic): _after_seconds, and _hold_later for that manifest to
        be seen and settle."""
        return seen + self._after_seconds() + self._hold_later()

    def _hold_later(self: Engine) -> float:
        """How much longer than the window a file a manifest may still name is held: a manifest
        written in place settles first, and a poller sees it at its next look."""
        watch = self.config.watch
        return watch.settle_seconds + (watch.poll_interval_seconds if self.polling_watch() else 0.0)

    def _came_just_before(self: Engine, waiting: list[tuple[str, int]], seen: float) -> bool:
        """Whether the jobs waiting for a file are of one order, waiting in work/, whose manifest
        came at most _after_seconds before the file began to arrive (``seen``, monotonic): an
        upload client sends an order's manifest, then its PDF at once. Not the whole window: a
        PDF sent just before its own manifest, seconds after a waiting order's, was taken at once
        by the waiting order and printed for it (audit BH D2)."""
        jobs = [job for job_id, _ in waiting if (job := self.ledger.get_job(job_id, history=False)) is not None]
        if not jobs or len({job.order_id for job in jobs}) != 1 or any(j.stage is not Stage.AWAITING for j in jobs):
            return False
        began = self.clock.now() - self._since(seen)
        came = min(self._came(job) for job in jobs)
        return began - timedelta(seconds=self._after_seconds()) <= came <= began + timedelta(seconds=1)

    def _failed_only(self: Engine, waiting: list[tuple[str, int]]) -> bool:
        """Whether every job waiting for a file timed out into failed/ (none still waits in work/)."""
        jobs = [self.ledger.get_job(job_id, history=False) for job_id, _ in waiting]
        return all(job is not None and job.stage is Stage.FAILED for job in jobs)

    def _after_seconds(self: Engine) -> float:
        """How long after a file began to arrive its order's manifest may come, at most, to be
        taken as that file's order (a client sends an order's PDF right before its manifest)."""
        return max(self.config.watch.settle_seconds, 2.0)

    def _take_near_later(self: Engine) -> None:
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

    def _mark_unmarked(self: Engine) -> None:
        """Jobs whose artwork was moved in but not marked (_take_artwork: the mark's commit failed,
        as on a full disk): marked now, as at a start (_claim_for_job finds the files in the job's
        folder), and the job goes on."""
        for job_id in sorted(self._unmarked):
            job = self.ledger.get_job(job_id, history=False)
            if job is not None and job.stage is Stage.AWAITING:
                self._claim_for_job(job)
            self._unmarked.discard(job_id)

    def _hand_over_held(self: Engine) -> None:
        """The held files (_claim) whose moment has passed go to the jobs that wait for them."""
        mono = self.clock.monotonic()
        if any(until <= mono for until, _seen, _sig in self._held_for_owner.values()):
            # The manifests come in since this round began are read first: one come a moment
            # before the decision decides with it (audit BA D3: a manifest renamed in 0.5 s before,
            # read 13 ms after the waiting job had taken its order's PDF).
            self._drain_hints()
            self._take_stable(budget=0.05)
        inbox = self.area("inbox")
        settle = self.config.watch.settle_seconds
        settling: bool | None = None  # a manifest still settling at the top of inbox/ (looked at once)
        for path, (until, seen, sig) in list(self._held_for_owner.items()):
            if until > mono:
                continue
            young = path.parent == inbox and mono < self._moment_over(seen) + max(2 * settle, 2.0)
            if young and settling is None:
                settling = self.tracker.tracks_named_in(inbox, MANIFEST_SUFFIXES)
            if (young and settling) or self._named_by_unread(path, seen):
                # A manifest still settling in the inbox (written in place, or held a moment as
                # manifests are) may name it: looked at again shortly, a few seconds at most.
                self._held_for_owner[path] = (mono + min(0.25, settle), seen, sig)
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

    def _hint_whole_again(self: Engine, path: Path, sig: Signature) -> None:
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

    def _withdraw_whole_notes(self: Engine) -> None:
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
                self._cache_last_action(job_id, kept)
                self.ledger.set_last_action(job_id, kept)
                self._write_status(job_id)

    def _waiting(self: Engine, path: Path) -> list[tuple[str, int]]:
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

    def _claim_for_job(self: Engine, job: Job, *, near_now: bool = False) -> None:
        """At intake: take the job's artwork that is already complete in the inbox. A file whose
        name only differs (case, Unicode form) is taken a while later (``near_now``: now), if the
        file of the very name has not come meanwhile, and never while one is being uploaded: a
        stale file of another order, named alike, printed instead of the one on its way (audit E 1)."""
        job_dir = self.job_dir(job)
        for art in self.ledger.artwork(job.job_id):
            if art.present or not art.source:
                continue
            src = Path(art.source)
            here = job_dir / "artwork" / art.name
            if not src.exists() and here.is_file():
                if os.lstat(here).st_nlink == 1 + _links_in(job_dir / "output", here):
                    # Moved in just before a crash, not yet marked: it is here (its second name
                    # the output made from it, where a power cut kept the folders' later steps and
                    # not the ledger's: review HC 3, the job's artwork was removed).
                    self.ledger.mark_artwork_present(job.job_id, art.position)
                    continue
                # A second name of a file that went elsewhere (set aside, or another job's: a
                # check's early link), never this job's by a take (audit BJ): not its artwork.
                here.unlink()
            if not src.exists():
                alike = _near_misses(src, self._listed(src.parent))
                near = alike[0] if len(alike) == 1 else None
                if len(alike) > 1 and not near_now:
                    self._several_alike(job, art.name, [other for other, _ in alike])
                if near is not None and upload_beside(src) is not None:
                    continue  # the file of its very name is on its way
                if near is not None and not near_now:
                    # (within the job's wait for its artwork: review FT 2, with artwork_timeout_seconds
                    # under 10 s the job failed "missing" before the file named alike was taken)
                    watch = self.config.watch
                    wait = min(self._window_seconds(), max(watch.settle_seconds, watch.artwork_timeout_seconds / 2))
                    self._near_later[job.job_id] = self.clock.monotonic() + wait
                    continue
                if near is not None:
                    src = src.with_name(near[0])  # the same name to a person: taken as it is complete
                elif src.parent == self.area("inbox") and upload_beside(src) is None:
                    self._taken_just_before(job, art)
            if src.exists() and self._upload_under_way(src) is not None:
                # (white-box audit DT 1: the old file was printed while its replacement was seen
                # uploading)
                self._await_upload(src, [job.job_id], say=not near_now)
                continue
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
                    if src.parent == self.area("inbox") and self._hold_unclaimed(src, current, held):
                        continue
                    self._take_artwork(src, self._waiting(src), seen=seen)
                    continue
            if src.exists():
                if self._unmovable_now(src):
                    self._say_unmovable(job.job_id, src)  # (review BT 2: "Ordered" until the next try to move it)
                self.tracker.track(src, activity=False)
                self._named.add(src)
        self._check_complete(job.job_id)

    def _several_alike(self: Engine, job: Job, name: str, others: list[str]) -> None:
        """A job waiting for ``name``, of which the inbox has several files named alike (letter case,
        Unicode form) but not that one: none is taken (which one is meant is not guessed), and its
        STATUS.txt says so now (audit BF R5: it said only "not arrived yet" until it failed, an hour
        later)."""
        listed = ", ".join(repr(other) for other in others)
        self._note_action(
            job.job_id,
            f"{iso(self.clock.now())}  {name} is not in the inbox, but files whose names differ from it only in "
            f"letter case or Unicode form are ({listed}): which one is meant is not guessed. Rename the right one "
            f"to {name!r}, or give it with spo-hotfolder replace {job.job_id} FILE, or correct the manifest",
        )
        self._write_status(job.job_id)

    def _hold_unclaimed(self: Engine, src: Path, sig: Signature, held: tuple[float, float, Signature] | None) -> bool:
        """At a manifest's intake, a file at the top of inbox/ there already (unclaimed, or held a
        moment: ``held``) that it names: held (again) rather than decided now where it replaced
        another upload of its name a moment ago, or a manifest not read yet names it too (the
        rules of _claim). True when held."""
        mono = self.clock.monotonic()
        again = self._new_version_at(src)
        if held is None and again is not None:
            self._held_for_owner[src] = (max(self._moment_over(again), mono), again, sig)
            return True
        if not len(self._unread):
            return False
        seen = held[1] if held is not None else (again or self.tracker.came_at(src) or mono)
        if self._named_by_unread(src, seen):
            self._held_for_owner[src] = (mono, seen, sig)
            return True
        return False

    def _drop_second_names(self: Engine, src: Path, jobs: Sequence[tuple[Job, Artwork]]) -> None:
        """Removes from these jobs' artwork/ a second name of ``src`` (the link a check begun early
        at a manifest's intake made, _begin_early_check) before ``src`` goes to another job or is
        set aside: left there, the job took it for its own at the next start and printed another
        order's PDF (audit BJ)."""
        for job, art in jobs:
            link = self.job_dir(job) / "artwork" / art.name
            with contextlib.suppress(OSError):
                if os.path.samefile(src, link):
                    link.unlink()

    def _listed(self: Engine, folder: Path) -> list[str] | None:
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

    def _await_upload(self: Engine, src: Path, job_ids: list[str], *, say: bool = True) -> None:
        """A new copy of ``src`` on its way beside it (rsync's .x.pdf.Ab12Cd): that one is the
        jobs', not the one lying there. Looked at again in a moment (_claim_for_job): taken once
        that upload has become the file, or stopped changing (a client killed)."""
        if say:
            log.info("artwork.awaiting_upload", job_ids=job_ids, file=self.rel(src))
        again = self.clock.monotonic() + max(1.0, self.config.watch.settle_seconds)
        for job_id in job_ids:
            self._near_later[job_id] = again

    def _take_artwork(self: Engine, src: Path, waiting: list[tuple[str, int]], seen: float | None = None) -> bool:
        """Moves ``src`` into the jobs waiting for it (``waiting``: oldest job first) of one order,
        or sets it aside (_owner_order); ``seen``: when the file was first seen (monotonic), to
        tell which order it belongs to. False when none of them is still there."""
        if not self._removable_from(src.parent, src):
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
        if self._upload_under_way(src) is not None:
            # Whichever way this was reached (review HU 1: with a poller, which tells of no such
            # temporary name, the file lying there was taken by the look at unclaimed files and
            # printed).
            self._await_upload(src, [job.job_id for job, _ in candidates])
            return True
        # One file is one order's artwork (audit AX 1: two orders naming "artwork.pdf" both printed
        # the first one's); within that order, every job naming it gets it. The others wait on.
        everyone = candidates
        if len({job.order_id for job, _ in candidates}) > 1 and any(art.sha256 for _, art in candidates):
            # A sha256 in a manifest says whose the file is (or is not) better than any time
            # (audits CF 4, CH 4: orders took and printed each other's matching files). One order
            # alone takes it whatever its sha256: a mismatch fails its check (SPEC 5).
            candidates = self._by_sha256(src, candidates)
        owner = self._owner_order([job for job, _ in candidates], seen)
        if owner is None:
            self._set_aside(src, candidates, seen)
            return True
        if seen is not None and src.parent == self.area("inbox"):
            # Another order's manifest that came as close to the file, refused, names it too (its
            # id clashed, a typo): the times name two orders, as for two manifests taken, and the
            # waiting one took the other's file and printed it (audit AT D2).
            refused = self._refused_naming_since(src.name, seen - self._window_seconds(), other_than=owner)
            if refused:
                self._set_aside(src, candidates, seen, refused=refused)
                return True
        takers = [(job, art) for job, art in candidates if job.order_id == owner]
        # (the jobs of an order whose sha256 is another file's too: audit BA D1, such a job stayed
        # "Ordered", unsaid, after the next order's upload of that name had replaced its file)
        others = [(job, art) for job, art in everyone if job.order_id != owner]
        by_sha256 = len(candidates) < len(everyone)
        self._drop_second_names(src, others)
        for job, art in others:
            self._left_waiting(job, art, takers[0][0], why=_BY_SHA256 if by_sha256 else _BY_TIMES)
        if others:
            # The order that took it is told too, where the operator looks (audit CC 6).
            for job, art in takers:
                self._note_action(
                    job.job_id,
                    f"{iso(self.clock.now())}  {art.name}: jobs of several orders waited for a file of that name "
                    f"({', '.join(sorted({j.job_id for j, _ in others}))} too); "
                    + (
                        "its sha256 is the one this order's manifest gives: it was taken as this order's"
                        if by_sha256
                        else "by when the manifests and the file came it was taken as this order's"
                    ),
                )
        replaced = self._move_into(src, [self.job_dir(job) / "artwork" / art.name for job, art in takers])
        if replaced is None:
            return True  # (written over while copied: it settles again)
        for job, art in takers:
            try:
                self.ledger.mark_artwork_present(job.job_id, art.position)
            except Exception:
                # The file is in the job's folder, the ledger still says "not arrived": the job
                # waited for artwork_timeout_seconds and then failed as missing a file it held.
                self._unmarked.add(job.job_id)
                raise
            log.info("artwork.taken", job_id=job.job_id, order_id=job.order_id, file=art.name)
            try:
                self._check_complete(job.job_id)
            except Exception:
                self._unmarked.add(job.job_id)  # (audit CG 1: made complete again at the next step)
                raise
        self._new_versions.pop(src, None)
        if replaced:
            # Another file renamed onto the name while it was taken: a new upload, in the inbox
            # still, settling as any new file (review EL 1: it was removed, lost without a word).
            log.warning(
                "artwork.renamed_onto_while_taken",
                file=self.rel(src),
                reason="another file came under this name while the one judged complete was taken: "
                "the jobs got the one judged complete; the new one is looked at as a new file",
            )
            self.tracker.track(src, activity=True)
            return True
        self._took_out(src)
        if src.parent != self.area("inbox"):
            self._consumed_dirs.add(src.parent)
            self._cleanup_consumed_dirs(src.parent)
        return True

    def _move_into(self: Engine, src: Path, dests: list[Path]) -> bool | None:
        """Moves the file judged complete at ``src`` into ``dests`` (the jobs of one order naming
        it): copies into all but the last, then the file itself into the last, all from the one
        file opened first. True when another file was renamed onto ``src`` meanwhile (it stays:
        the jobs got the judged one, copied from the open file); None, and nothing moved, when
        the file was written over in place while copied (it settles again). Review EL 2: the copies
        took many seconds, then the last job took whatever the name held then (a new upload
        renamed in: one order printed two artworks; one half written: failed as cut off)."""
        if not stat.S_ISREG(os.lstat(src).st_mode):
            # A link (or another entry that is no file): moved as it is, never followed; the check
            # then fails its jobs saying what it is (_process), as before.
            for dest in dests[:-1]:
                dest.parent.mkdir(parents=True, exist_ok=True)
                if os.path.lexists(dest):
                    dest.unlink()  # (one made before a crash: review ET 1, the copy refused at every step)
                shutil.copy2(src, dest, follow_symlinks=False)
            dests[-1].parent.mkdir(parents=True, exist_ok=True)
            self._after_move(take(src, dests[-1]), dests[-1])
            return os.path.lexists(src)
        copies: list[Path] = []
        with open(os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as fh:
            judged = os.fstat(fh.fileno())

            def copy_to(dest: Path) -> None:  # (the judged file's bytes, from the one open file)
                copies.append(dest)
                fh.seek(0)
                with open(dest, "wb") as out:
                    shutil.copyfileobj(fh, out, 1024 * 1024)

            try:
                for dest in dests[:-1]:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    copy_to(dest)
                if copies and signature(os.fstat(fh.fileno())) != signature(judged):
                    for copy in copies:
                        copy.unlink()
                    self.tracker.track(src, activity=True)
                    log.info("artwork.changed_while_taken", file=self.rel(src))
                    return None
                last = dests[-1]
                last.parent.mkdir(parents=True, exist_ok=True)
                try:
                    before = take(src, last, expect=judged)
                except Replaced:
                    copy_to(last)
                    return True
            except BaseException:
                for copy in copies:  # (unmarked: at a start, a half copy would pass as the file)
                    with contextlib.suppress(OSError):
                        copy.unlink()
                raise
        self._after_move(before, last)
        return os.path.lexists(src)

    def _owner_order(self: Engine, jobs: list[Job], seen: float | None) -> str | None:
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

    def _since(self: Engine, seen: float) -> timedelta:
        """How long ago ``seen`` (this clock's monotonic time: a file's or manifest's first sight) was."""
        return timedelta(seconds=max(0.0, self.clock.monotonic() - seen))

    def _window_seconds(self: Engine) -> float:
        """How long before a file began to arrive its order's manifest came, at most, to be taken
        as that file's order (a client sends an order's PDF right after its manifest)."""
        return max(10.0, 10 * self.config.watch.settle_seconds)

    def _by_sha256(self: Engine, src: Path, candidates: list[tuple[Job, Artwork]]) -> list[tuple[Job, Artwork]]:
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

    def _set_aside(
        self: Engine,
        src: Path,
        candidates: list[tuple[Job, Artwork]],
        seen: float | None = None,
        *,
        refused: Sequence[str] = (),
    ) -> None:
        """A file that jobs of several orders wait for, whose order cannot be told: not taken (a
        wrong guess prints one order's artwork for another), moved to failed/<name>/ with an
        ERROR.txt, and each waiting job's STATUS.txt says how to give it to the right job.
        ``seen``: when the file was first seen (monotonic; one there at start: its ctime);
        ``refused``: the failed/ folders of refused manifests that came with it and name it (of
        other orders, or the same one: nobody can tell)."""
        now = self.clock.now()
        began = now if seen is None else now - self._since(seen)
        self._drop_second_names(src, candidates)
        with self._setting_aside(
            src,
            f"{src.name} came into the inbox and was set aside here: jobs of several orders wait for a file of that "
            "name, and which order's it is could not be told, so none took it.",
            "(the daemon stopped while it moved it here: this is all it wrote) Give it to the job it belongs to: "
            "spo-hotfolder replace <job id> <this file>, then remove this folder.",
        ) as aside:
            # (under its own name, however long, as a manifest lists it: the `replace` command below gives
            # the job this file, and a job of several files takes a replacement by its name; left by GP)
            kept = move(src, aside.folder / src.name, keep_name=True).name
        jobs = sorted({job.job_id: job for job, _ in candidates}.values(), key=lambda j: j.job_id)
        listing = ", ".join(f"{job.job_id} (order {job.order_id})" for job in jobs)
        replaced = self._new_versions.pop(src, None)
        over = (
            [
                f"it came over another file of that name, there since about {iso(now - self._since(replaced[1]))}, "
                "that no job had taken yet: that earlier file is gone (an upload under a name already in the inbox "
                "replaces the file there); if it was a waiting job's, that order must send it again"
            ]
            if replaced is not None
            else []
        )
        aside.publish(
            error_text(
                (
                    f"{src.name} came into the inbox with a manifest that was refused, and job "
                    f"{', '.join(job.job_id for job in jobs)} waits for a file of that name: which order's it is "
                    "could not be told, so none took it."
                    if refused
                    else f"{src.name} came into the inbox, and jobs of several orders wait for a file of that name: "
                    "which order's it is could not be told, so none took it."
                ),
                [
                    f"job {job.job_id} (order {job.order_id}) waits for {src.name}; its manifest came at "
                    f"{iso(self._came(job))}"
                    + (
                        # (audit BH D6: while an order whose file never came waits, every later file
                        # of that name is set aside; until when, said)
                        f"; it waits until {job.awaiting_until}, then fails as missing its artwork"
                        if job.stage is Stage.AWAITING and job.awaiting_until
                        else ""
                    )
                    for job in jobs
                ]
                + [
                    f"the manifest in {folder}/ names it too, and was refused: see {folder}/ERROR.txt"
                    for folder in refused
                ]
                + [f"the file began to arrive about {iso(began)} or a little before"]
                + over,
                f"Give it to the job it belongs to: spo-hotfolder replace <job id> '{aside.shown_path}/{kept}' (or "
                "move it into that job's replace/ when the job is in quarantine/ or failed/), then remove this folder. "
                + (
                    "If it is the refused manifest's, send the corrected manifest, then give the file to its job "
                    "the same way (put into inbox/ beside it, it is set aside again while a job of another order "
                    "waits for a file of that name). "
                    if refused
                    else ""
                )
                + "To avoid this, send each order in a "
                "folder of its own (inbox/<order>/manifest.yaml with its PDFs), give each file its own name, or "
                "put each file's sha256 in the manifest.",
            ),
        )
        dest = aside.final / kept
        where = self.rel(dest)
        for job in jobs:
            self._note_action(
                job.job_id,
                f"{iso(now)}  A file named {src.name} came into inbox/, but "
                + (
                    "with a manifest that names a file of that name too and was refused "
                    f"({', '.join(f'{folder}/' for folder in refused)}): which order's it is could not be told"
                    if refused
                    else f"jobs of several orders wait for a file of that name ({listing}) and which order's it is "
                    "could not be told"
                )
                + f"; none took it, it is in {where}. If it is this job's: spo-hotfolder replace {job.job_id} '{dest}'",
            )
            self._still_awaiting(job, now)
            self._write_status(job.job_id)
        for folder in refused:
            # Its ERROR.txt said its artwork stays in inbox/ for a corrected manifest: not this file.
            error = self.root / folder / "ERROR.txt"
            with contextlib.suppress(OSError):
                atomic_write(
                    error,
                    error.read_text("utf-8").rstrip("\n")
                    + f"\n\nLater: {src.name}, which this manifest names, came into inbox/ while job "
                    + ", ".join(job.job_id for job in jobs)
                    + " waited for a file of that name; which order's it is could not be told, so none took it: "
                    + f"it is in {self.rel(aside.final)}/ "
                    "(see the ERROR.txt there).\n",
                )
        log.warning(
            "artwork.not_taken",
            file=self.rel(src),
            moved_to=where,
            waiting=[job.job_id for job in jobs],
            refused_manifests=list(refused),
            reason=f"jobs of several orders ({listing}) wait for a file named {src.name}, and which order's it is "
            "could not be told from when their manifests and the file came"
            if not refused
            else f"job {listing} waits for a file named {src.name}, and a manifest of another order that came as "
            f"close to it names it too ({', '.join(refused)}, refused): whose it is could not be told",
        )

    def _still_awaiting(self: Engine, job: Job, now: datetime) -> None:
        """A job waiting in work/ whose file of a shared name went elsewhere (another order's job
        took it, or it was set aside) says AwaitingData from now on, if it did not yet: its file
        had looked as if it was on its way (audit BY 2: it stayed Ordered until it failed)."""
        if job.stage is Stage.AWAITING and job.status is not JobStatus.AwaitingData:
            self._arriving.pop(job.job_id, None)
            missing = ", ".join(a.name for a in self.ledger.artwork(job.job_id) if not a.present)
            self._record(job.job_id, JobStatus.AwaitingData, SYSTEM, "waiting for " + missing, now)

    def _came(self: Engine, job: Job) -> datetime:
        """When the manifest a waiting job waits for artwork by came: first seen in this run (a
        manifest sent again for a failed or blocked job, or a reprint, included: audit CA 3); else,
        for a job that started waiting before a restart, its last change (the intake, or the
        manifest sent again), or for one whose wait timed out (failed/) its intake."""
        came = self._manifest_seen.get(job.job_id)
        if came is not None:
            return came
        return parse_iso(job.updated_at if job.stage is Stage.AWAITING else job.created_at)

    def _taken_just_before(self: Engine, job: Job, art: Artwork) -> None:
        """At a manifest's intake, a file it names at the top of inbox/ is not there: if another
        order's job whose manifest was read after this one came took a file of that name, this job
        is told so now, where the operator looks (audit BF D1: "of two manifests that name a file
        already in the inbox, the first read takes it", and the other's STATUS.txt said nothing of
        it for an hour, until it failed). Not a job whose manifest was read before this one came
        (a storefront's orders, every PDF named alike, one after the other: each its own file)."""
        taken = self.ledger.taken_with_name(art.name, iso(self._came(job)), job.job_id, str(self.area("inbox")))
        if taken is None or taken[1] == job.order_id:
            return
        taker = self.ledger.get_job(taken[0], history=False)
        if taker is not None:
            self._left_waiting(job, art, taker, why="its manifest, read first, names it too")

    def _left_waiting(
        self: Engine,
        job: Job,
        art: Artwork,
        taker: Job,
        *,
        why: str,
    ) -> None:
        """A job still waiting for ``art`` after another order's job took a file of that name: it
        says AwaitingData from now on if it did not yet (its file looked as if it was on its way:
        audit BY 2, it stayed Ordered until it failed as missing), and the log says who took it.
        ``why``: why the file was that job's."""
        log.info(
            "artwork.left_waiting",
            job_id=job.job_id,
            order_id=job.order_id,
            file=art.name,
            taken_by=taker.job_id,
            reason=f"a file named {art.name} came and was taken by job {taker.job_id} of order {taker.order_id}: "
            f"{why}, and one file is one order's artwork; this job waits on for its own file of that name",
        )
        now = self.clock.now()
        self._still_awaiting(job, now)
        # Said where the operator looks, not only in the log at once and in ERROR.txt an hour later
        # (audit CA 5).
        self._note_action(
            job.job_id,
            f"{iso(now)}  A file named {art.name} came into inbox/ and was taken by job {taker.job_id} (order "
            f"{taker.order_id}): {why}. This job waits on for its own {art.name}; if it was sent already, send it "
            "again (an upload under a name already in the inbox replaces the file there)",
        )
        self._write_status(job.job_id)

    def _removable_from(self: Engine, folder: Path, file: Path | None = None) -> bool:
        """Whether the daemon may take files out of ``folder`` (an inbox folder made by an upload
        with a umask of 022, owned by the uploader: the daemon's account can read it but not
        remove anything), and ``file`` out of it (a folder with the sticky bit, as a shared
        upload folder of mode 1777 has: only a file's owner, the folder's or root may remove it).
        False: nothing is taken from it, so that no order is half taken and the others go on;
        the log says what to fix, once per state of the folder."""
        sticky_owner = self._sticky_owner(folder, file)
        if sticky_owner is None and os.access(folder, os.W_OK | os.X_OK):
            self._unwritable.pop(folder, None)
            return True
        try:
            st = os.stat(folder)
        except OSError:
            return False
        state = (st.st_uid, st.st_gid, st.st_mode)
        if self._unwritable.get(folder) != state:
            self._unwritable[folder] = state
            reason = (
                f"the daemon cannot take files out of {self.rel(folder)}: it may read the folder but not change "
                f"it; nothing in it is taken until it is writable by the daemon's group ({UNWRITABLE_FIX})"
            )
            if sticky_owner is not None:
                # (white-box audit DD 4: each take failed with a traceback at every rescan, the job
                # waiting "not arrived yet" past its artwork's time)
                reason = (
                    f"the daemon cannot take files out of {self.rel(folder)}: the folder has the sticky bit (mode "
                    f"{stat.filemode(st.st_mode)}), so only a file's owner ({user_name(sticky_owner)} here), the "
                    "folder's owner or root may move one; remove the sticky bit (chmod -t) and give the folder "
                    f"to the daemon's group ({UNWRITABLE_FIX})"
                )
            log.error(
                "inbox.folder_not_writable",
                folder=self.rel(folder),
                owner=user_name(st.st_uid),
                group=group_name(st.st_gid),
                mode=stat.filemode(st.st_mode),
                reason=reason,
            )
        return False

    def _unmovable_said(self: Engine, exc: BaseException) -> Path | None:
        """The inbox file whose move out of a folder the daemon may change ``exc`` refused (a file
        marked immutable or append-only, `chattr +i`: only root may clear it; a security policy),
        said once per state of the file, in plain words; None where ``exc`` is no such refusal.
        Its job waits no longer for it than for a file not there (audit HB 3: it waited past its
        deadline, "still being written", an error logged every 5 s); it is taken once it may be."""
        if not isinstance(exc, PermissionError) or exc.filename is None:
            return None
        path = Path(os.fsdecode(exc.filename))
        if self.area("inbox") not in path.parents or not os.access(path.parent, os.W_OK | os.X_OK):
            return None
        state = self._file_state(path)
        if state is None:
            return None
        new = self._unmovable.get(path) != state
        if new:
            self._unmovable[path] = state
            log.error(
                "inbox.file_not_movable",
                file=self.rel(path),
                error=exc.strerror or str(exc),
                reason=self._unmovable_reason(path),
                action="tried again every few seconds; a job waiting for it fails at its deadline",
            )
        # Said where the operator looks too (review HI 3: its job said "Ordered", then failed
        # "artwork missing"), by each job that waits for it: also one sent on again by a RETRY
        # while the file is as it was (review HQ 1: it said "RecreationRequested").
        for job_id, _position in self.ledger.waiting_for(str(path)):
            self._say_unmovable(job_id, path, again=new)
        return path

    def _say_unmovable(self: Engine, job_id: str, path: Path, *, again: bool = False) -> None:
        """AwaitingData with the reason, for a job waiting for ``path``, which the daemon may not
        move: unless its status says it already (``again``: said anew, the file changed)."""
        job = self.ledger.get_job(job_id, history=False)
        if job is None or job.stage is not Stage.AWAITING or (job.status is JobStatus.AwaitingData and not again):
            return
        detail = f"waiting for {path.name}{UNMOVABLE_SAID}{self._unmovable_reason(path)}"
        self._record(job_id, JobStatus.AwaitingData, SYSTEM, detail, self.clock.now())

    def _look_at_unmovable(self: Engine) -> None:
        """Files said not movable that are gone or changed since (deleted by someone, `chattr -i`):
        forgotten, and the jobs waiting for them say what they wait for now (review HU 2: STATUS.txt
        still said to run chattr -i). (One the daemon moved is forgotten by _took_out.)"""
        for path, state in list(self._unmovable.items()):
            if self._file_state(path) != state:
                del self._unmovable[path]
                self._unmovable_gone(path)

    def _unmovable_gone(self: Engine, path: Path) -> None:
        for job_id, _position in self.ledger.waiting_for(str(path)):
            job = self.ledger.get_job(job_id, history=False)
            if job is None or job.stage is not Stage.AWAITING:
                continue
            if not os.path.lexists(path):
                self._record(job_id, JobStatus.AwaitingData, SYSTEM, f"waiting for {path.name}", self.clock.now())
            self._write_status(job_id)

    def _unmovable_now(self: Engine, path: Path) -> bool:
        """Whether ``path`` is the very file said not movable (not a new upload of its name, not
        the same file changed since: `chattr -i` changes its change time)."""
        known = self._unmovable.get(path)
        return known is not None and known == self._file_state(path)

    @staticmethod
    def _file_state(path: Path) -> tuple[int, int, int] | None:
        try:
            st = os.lstat(path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_ctime_ns)

    def _unmovable_reason(self: Engine, path: Path) -> str:
        """Why the daemon may not move ``path`` out of its folder, though it may change the folder."""
        unreadable = _unreadable(path)
        if unreadable is not None:
            # (audit BH 1: an upload of another account made with umask 077 was said "immutable, or
            # a security policy", and the fix offered, a copy into replace/, no operator could make)
            ours = {os.getegid(), *os.getgroups()}
            fix = f"chmod g+r '{path}'"
            if unreadable.st_gid not in ours:
                # (review IB 4: in a folder without the setgid bit the file is in its uploader's group:
                # the folder's group, the spool's, where the daemon is in it)
                with contextlib.suppress(OSError):
                    folder_gid = os.stat(path.parent).st_gid
                    group = folder_gid if folder_gid in ours else os.getegid()
                    fix = f"chgrp {group_name(group)} '{path}' && {fix}"
            if has_unwritable_flag(path):
                fix = f"chattr -i -a '{path}' (root only: it is marked immutable or append-only), then {fix}"
            return (
                f"the daemon's user may not read {path.name} (it {belongs_to(unreadable)}, group "
                f"{group_name(unreadable.st_gid)}, as an upload made with umask 077 is): have "
                f"{user_name(unreadable.st_uid)} (or root) give the daemon's group read permission: {fix}"
            )
        if has_unwritable_flag(path):
            return (
                f"{path.name} is marked immutable or append-only (lsattr shows an 'i' or an 'a'): no program, the "
                f"daemon included, may move it until root clears it: chattr -i -a '{path}'"
            )
        return (
            f"the system refuses to let the daemon move {path.name} out of {self.rel(path.parent)}, though it may "
            "change the folder: the file may be marked immutable or append-only (lsattr shows 'i' or 'a'; root "
            "clears it with chattr -i or -a), or a security policy (SELinux, AppArmor) forbids it"
        )

    @staticmethod
    def _sticky_owner(folder: Path, file: Path | None) -> int | None:
        """The owner of ``file`` where the sticky bit of ``folder`` keeps the daemon from moving it
        (another user's file in another user's folder, the daemon not root); else None."""
        if file is None or os.geteuid() == 0:
            return None
        try:
            if not sticky_for_us(os.stat(folder)):
                return None
            owner = os.lstat(file).st_uid
        except OSError:
            return None
        return None if owner == os.geteuid() else owner

    def _check_complete(self: Engine, job_id: str) -> None:
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

    def _run_when_due(self: Engine, job_id: str, now: datetime) -> bool:
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

    def _waited_before_start(self: Engine, path: Path) -> float:
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

    def _check_orphans(self: Engine) -> None:
        """Inbox files no manifest claimed within artwork_timeout_seconds go to failed/ with ERROR.txt.

        A file at the top of inbox/ goes on its own; the files of a folder dragged into inbox/ go
        together, into one ``failed/<folder>/`` (their paths kept, one ERROR.txt), once the last of
        them has waited its time: a folder whose manifest is missing or misnamed is one mistake."""
        if self._whole_notes:
            self._withdraw_whole_notes()
        self._orphans_next = math.inf
        if not self._start_backlog_over and self._scans_done and self._scan is None and not self.tracker.any_due():
            # The files found at the start are listed and taken (their manifests too): those still
            # unclaimed count the time they had waited before it. (Also where none is unclaimed:
            # white-box audit CT 1, the start's "any manifest found then" lasted the daemon's life.)
            self._start_backlog_over = True
            for path, waited in self._waited_before.items():
                if path in self._orphans:
                    since, sig = self._orphans[path]
                    self._orphans[path] = (since - waited, sig)
            self._waited_before.clear()
        if not self._orphans:
            return
        limit = self.config.watch.artwork_timeout_seconds
        now = self.clock.monotonic()
        inbox = self.area("inbox")
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
        deadline = time.monotonic() + ORPHANS_BUDGET_SECONDS
        handled = False
        for index, (top, members) in enumerate(groups.items()):
            if index and time.monotonic() > deadline:
                # Folders by the thousand due at once (a backlog of order folders whose manifests are
                # missing): the rest at the next round, after the files that came meanwhile (as for
                # jobs due: audit BN D5). The files at the top of inbox/ are one group, decided and
                # filed together: which of them a job takes depends on the others beside it (two
                # names alike in letter case: neither).
                upcoming.append(now)
                break
            # Each file's wait counts from when it came (or the disk was last full); a folder's files
            # go together, when the youngest is due, a file on its own when it is.
            starts = [max(since, self._disk_full_at) for _path, since, _sig in members]
            if top is not None and (dotted := self._misnamed_folder_manifest(top, [m[0] for m in members])):
                # A folder drop whose manifest's name ends in a dot or a space: the whole folder goes
                # after the short wait its manifest has, not after the artwork's hour (audit AS).
                first = starts[[m[0] for m in members].index(dotted)]
                starts = [min(start, first) for start in starts]
            wait = limit
            if top is None and self.tracker.tracks_named_in(inbox, MANIFEST_SUFFIXES):
                # A manifest at the top of inbox/ still being written, or held its longer wait (a
                # YAML manifest without its last line break): it may name them. They wait for it,
                # that long at most (review HG 2: with a short artwork_timeout_seconds the PDF sent
                # with it went to failed/ first, and its job failed "artwork missing").
                wait += self.tracker.incomplete_pdf_seconds + self.config.watch.settle_seconds
            upcoming.extend(t + wait for t in ([max(starts)] if top is not None else starts) if t + wait > now)
            due = [m for m, start in zip(members, starts, strict=True) if now - start >= wait]
            if not due or (top is not None and (len(due) < len(members) or self.tracker.tracks_under(top))):
                continue  # a folder waits for its youngest file, and for those still being written
            if not all(self._removable_from(path.parent, path) for path, _, _ in due):
                continue  # nothing can be taken out of it: said in the log, and left as it is
            if top is not None and (later := self._manifest_beside(top, now)) is not None:
                upcoming.append(later)
                continue
            lonely: list[Path] = []
            handled = True
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
        if handled:  # (not at every step while files wait: a look at every order folder each time)
            self._cleanup_consumed_dirs()

    def _manifest_beside(self: Engine, top: Path, now: float) -> float | None:
        """A folder's unclaimed files due to be filed while a manifest in the folder has not been
        taken in (the folder was not writable by the daemon until a moment ago, and its manifest
        was left for the next rescan): the manifest is taken in first, so that it claims them
        (audit BS D1: the PDF filed into failed/ as claimed by no manifest, then the manifest taken
        and its job failed "artwork missing"). The time to look again, or None: file them now
        (no manifest there, or it has had its moment and did not claim them)."""
        try:
            with os.scandir(top) as entries:
                manifests = [
                    Path(e.path)
                    for e in entries
                    if e.name.lower().endswith(MANIFEST_SUFFIXES) and e.is_file(follow_symlinks=False)
                ]
        except OSError:
            manifests = []
        if not manifests:
            self._manifest_turn.pop(top, None)
            return None
        until = self._manifest_turn.get(top)
        if until is None:
            until = self._manifest_turn[top] = now + MANIFEST_FIRST_SECONDS
            for manifest in manifests:
                self.tracker.track(manifest, activity=False)
        if now >= until:
            del self._manifest_turn[top]
            return None
        return until

    def _whole_wait(self: Engine) -> float:
        """How long a file no manifest claimed waits before the engine looks once more for a manifest
        naming it (``_hint_whole_again``)."""
        watch = self.config.watch
        return min(max(WHOLE_AGAIN_SECONDS, 5 * watch.settle_seconds), watch.artwork_timeout_seconds / 2)

    @contextlib.contextmanager
    def _setting_aside(self: Engine, top: Path, summary: str, advice: str) -> Iterator[_Aside]:
        """Where the files of the inbox entry ``top`` are set aside: the failed/ folder its files
        with names that are not UTF-8 went to in this run, else a new one, put together hidden (a
        first ERROR.txt of ``summary`` and ``advice``, the files, then the full ERROR.txt) and
        renamed into place by ``_Aside.publish``, as a refusal is: a kill in between left a folder
        in failed/ without an ERROR.txt for good, or with nothing but one (review GI 1, GN 3). One
        a kill leaves hidden is filed as it is at the next start or rescan (``_recover_refusals``;
        removed when nothing was moved in yet: the files are still in inbox/). A failure here with
        nothing moved in yet removes it."""
        reused = self._bad_name_targets.get(top)
        if reused is not None and reused.is_dir():
            yield _Aside(reused, reused, self.rel, None)
            return
        final = self._new_failed_folder(top.name)
        building = self._refusal_folder(top.name, aside=True)
        try:
            atomic_write(building / "ERROR.txt", error_text(summary, [], advice))
            yield _Aside(building, final, self.rel, lambda: self._new_failed_folder(top.name))
        except BaseException:
            with contextlib.suppress(OSError):
                if nothing_set_aside(building):
                    shutil.rmtree(building)
            raise

    def _fail_orphans(self: Engine, name: Path, base: Path, paths: list[Path], limit: float) -> None:
        """``paths`` (one file at the top of inbox/, or the files of the inbox folder ``name``) to
        ``failed/<name>/``, kept at their paths under ``base``, with one ERROR.txt."""
        # A folder drop whose manifest was taken in: these are files it does not list (audit Z: they
        # were said as if the folder's manifest were missing).
        # (review GP 2: not a folder only emptied of names that are not UTF-8, which no manifest came in)
        manifest_taken = (
            name != paths[0] and name in self._consumed_dirs and self.ledger.order_taken_in(str(name)) is not None
        )
        single = len(paths) == 1 and name == paths[0]
        what = self.rel(paths[0]) if single else f"{self.rel(name)}/ ({len(paths)} file{'s' if len(paths) > 1 else ''})"
        it = "it" if single else "them"
        moved: list[str] = []
        with self._setting_aside(
            name,
            f"{what} arrived in the inbox and was set aside here: no manifest that was taken in named {it}.",
            f"(the daemon stopped while it moved {it} here: this is all it wrote) If {it} belong"
            f"{'s' if single else ''} to an order, put {it} into inbox/ again with a manifest that lists {it} under "
            "artwork; remove this ERROR.txt first.",
        ) as aside:
            into = aside.folder  # (where the files go now: hidden until published)
            for path in paths:
                relative = path.relative_to(base)
                if len(relative.parts) > 1:
                    relative = Path(*(safe_name(part) for part in relative.parts[1:]))  # inside target
                dest = into / relative
                dest.parent.mkdir(parents=True, exist_ok=True)
                # (under its own name, however long: review GI 3, a 251-character name was shortened, and
                # ERROR.txt said to put the file back into inbox/ under that name, which its manifest does not give)
                moved.append(move(path, dest, keep_name=True).relative_to(into).as_posix())
                self._took_out(path)
                if path.parent != self.area("inbox"):
                    self._consumed_dirs.add(path.parent)
        upload = upload_target(paths[0]) if single and not undecodable(str(paths[0])) else None
        linked = single and (into / moved[0]).is_symlink()
        refused: list[str] = []  # the refused manifests' folders in failed/ that name it
        # A manifest whose name ends in a dot or a space ("order.yaml.": no artwork; or a folder
        # drop's "manifest.yaml.", with its artwork: audit AS).
        misnamed_file = paths[0] if single else self._misnamed_folder_manifest(name, paths)
        meant = misnamed_manifest(misnamed_file.name) if misnamed_file is not None else None
        misnamed = meant is not None
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
            # Where a refused manifest names it, that is the reason, said below: not "within 20
            # seconds of arrival" besides, for a file filed the moment its manifest was (audit AM);
            # nor for a manifest whose name ends in a dot or a space, filed after the short wait
            # (said below, audit AS D3).
            taken_order = self._order_that_named(name, paths) if manifest_taken else None
            problems = (
                []
                if refused or misnamed
                else [
                    # (review DU 1: a reprint's folder drop whose PDF was still coming when the same
                    # reprint came again, complete, in a twin folder: the job took the twin's, and this
                    # folder's files were said named by no manifest, which its own was)
                    f"this folder's manifest was taken in (order {taken_order}), and its jobs do not take "
                    f"{'it' if single else 'them'}: not listed there, or a newer manifest of the same jobs (sent "
                    "again, or a reprint sent twice) replaced it before they were complete, and the jobs went on "
                    "with that one's files (see their history)"
                ]
                if taken_order is not None
                else [
                    f"no manifest that the daemon took in referred to {'it' if single else 'them'} within {limit:g} "
                    "seconds of arrival (a manifest that names them but was refused is in failed/, with its own "
                    "ERROR.txt)"
                ]
            )
            problems += [
                f"the manifest in {folder}/ names it but was refused: see {folder}/ERROR.txt; put "
                + ("the file this link points to" if linked else "this file")
                + " into inbox/ again together with the corrected manifest"
                for folder in refused
            ]
            if linked:
                # (audit Q: "put this file into inbox/ again", and the link would be refused again)
                problems.append(SYMLINK_PROBLEM.format(name=f"{moved[0]} (now in {aside.shown}/)") + " into inbox/")
        named = False  # a job names a file of this name (said below)
        for path in paths:
            said = len(problems)
            # (a folder drop whose manifest is misnamed: its files are its order's, not other jobs')
            for job_id in [] if misnamed else self.ledger.rejected_waiting_for(path.name):
                rejected = self.ledger.get_job(job_id, history=False)
                problems.append(
                    f"job {job_id} waited for a file of this name and was rejected before it came (it is in "
                    f"{rejected.folder if rejected else 'rejected'}/): a rejected job takes no files. To print it, "
                    "send its manifest again with reprint: true, together with this file"
                )
            for job_id in [] if misnamed else self.ledger.held_with(path.name):
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
            for job_id, _, source in [] if misnamed else self.ledger.waiting_as(str(path.parent), path.name):
                wanted = Path(source)
                if wanted.name != path.name:
                    # Not taken: another file's name differs from the wanted one as little (audit BA 2).
                    why = (
                        "as another file's did: which one is meant was not guessed"
                        if len(_near_misses(wanted)) != 1
                        else "and it was not taken for it in time"
                    )
                    problems.append(
                        f"job {job_id} waits for {wanted.name!r}, a name that differs from this file's only in letter "
                        f"case or Unicode form, {why}. Put the right one into inbox/ again named {wanted.name!r}"
                    )
            named = named or len(problems) > said
            stem, dot, ext = path.name.rpartition(".")
            if dot and ext.lower() == "txt" and stem.lower().endswith(MANIFEST_SUFFIXES):
                problems.append(
                    f"if {path.name} is a manifest: its name ends in .txt, so it is not taken as one (Windows hides "
                    f"known extensions: it shows as {stem}); rename it to {stem}"
                )
            elif (intended := misnamed_manifest(path.name)) is not None:
                # (audit AL: "order.yaml." and "order.yaml " from a client that keeps such names were
                # told to be put back "with a manifest that lists it", as artwork is)
                problems.append(
                    f"if {path.name!r} is a manifest: its name ends in {name_ending(path.name)}, so it is not taken "
                    f"as one (Windows does not show it); rename it to {intended}"
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
                    f"manifest.yaml or manifest.yml; rename it (here, in {aside.shown}/) and put the folder back "
                    "into inbox/"
                )
        if upload is None and named and not refused and not misnamed:
            # A job names a file of this name (the problems after the first say which): not "no
            # manifest referred to it" (audit AB: its ERROR.txt said both).
            problems[0] = (
                f"no manifest taken in after {'it' if single else 'them'} came claimed {'it' if single else 'them'} "
                f"within {limit:g} seconds of arrival"
            )
        # (quoted where a name ends in a dot or a space: "manifest.yaml.." read as a typing mistake)
        listing = "" if single else "Files: " + ", ".join(n if n == n.rstrip(". ") else repr(n) for n in moved) + ". "
        before = ""
        if aside.reused:  # (a folder that files with names that are not UTF-8 went to: its ERROR.txt kept)
            with contextlib.suppress(OSError):
                before = (into / "ERROR.txt").read_text("utf-8") + "\n"
        aside.publish(
            before
            + error_text(
                f"{what} arrived in the inbox: an upload that never finished."
                if upload is not None
                else f"{what} was not taken as a manifest: its name ends in {name_ending(paths[0].name)}."
                if misnamed and single
                else f"{what} was not taken as an order: its manifest's name ends in {name_ending(misnamed_file.name)}."
                if misnamed and misnamed_file is not None
                else f"{what} arrived in the inbox, and the jobs of the manifest taken in from this folder (order "
                f"{taken_order}) do not take {'it' if single else 'them'}."
                if taken_order is not None
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
                    else f"If it is an order's manifest, rename it to {meant} and put it back into inbox/ (with its "
                    "artwork, if that went to failed/ too)."
                    if misnamed and single
                    else f"Rename {misnamed_file.name!r} to {meant} (here, in {aside.shown}/), remove ERROR.txt "
                    "and put the folder back into inbox/."
                    if misnamed and misnamed_file is not None
                    else f"If it belongs to an order, rename it to {moved[0].rstrip('. ')} (a name ending in a dot or "
                    "a space is refused in a manifest) and put it back into inbox/ together with a manifest that "
                    "lists it under artwork."
                    if single and moved[0].rstrip(". ") != moved[0]
                    else f"If it belongs to an order, put {moved[0]} back into inbox/ together with a manifest that "
                    "lists it under artwork (the path is relative to the manifest's folder)."
                    if single
                    else "Nothing is printed from them. If one of them is meant for a job (and not printed from the "
                    "manifest that replaced this folder's), put it into that job's replace/ folder (in quarantine/ "
                    "or failed/); otherwise this folder can be deleted. Do not put this folder back into inbox/ "
                    "with its manifest: that is an order sent again (a reprint, printed again)."
                    if taken_order is not None
                    else "The folder's manifest was taken in, and does not list these files: they are not part of "
                    "its order. If one of them is meant for a job, put it into that job's replace/ folder (in "
                    "quarantine/ or failed/); otherwise this folder can be deleted."
                    if manifest_taken
                    else "If they belong to an order, put the folder back into inbox/ with its manifest in it, "
                    "named manifest.json, manifest.yaml or manifest.yml, that lists them under artwork (paths "
                    "relative to the folder); remove ERROR.txt first."
                ),
            ),
        )
        log.warning("inbox.orphan", file=str(name), files=len(paths), folder=self.rel(aside.final))

    def _order_that_named(self: Engine, folder: Path, paths: list[Path]) -> str | None:
        """The order of the manifest taken in from inbox folder ``folder`` whose jobs have artwork of
        one of ``paths``' names (a newer manifest of those jobs took their files from elsewhere:
        review DU 1), or None (it did not list them, or is not known)."""
        order_id = self.ledger.order_taken_in(str(folder))
        if order_id is None:
            return None
        names = {name_key(path.name) for path in paths}
        for job_id in self.ledger.jobs_of_order(order_id, limit=50):
            if any(name_key(art.name) in names for art in self.ledger.artwork(job_id)):
                return order_id
        return None

    @staticmethod
    def _misnamed_folder_manifest(folder: Path, paths: list[Path]) -> Path | None:
        """The file of a folder drop's ``paths`` that is its manifest with a name ending in a dot or
        a space ("manifest.yaml."), if one is."""
        for path in paths:
            meant = misnamed_manifest(path.name) if path.parent == folder else None
            if meant is not None and meant.lower() in MANIFEST_NAMES:
                return path
        return None

    def _cleanup_consumed_dirs(self: Engine, emptied: Path | None = None) -> None:
        """Removes inbox folders whose manifest was taken, once nothing is left in them.

        Only folders a manifest came in are touched: an operator's new, still empty folder stays,
        and so does one a job still waits for artwork in (the rest of the upload goes into it).
        ``emptied``: only the folder a file was just taken from (and those above it) is looked
        at, not every one (audit BX 2: a look at 500 order folders for each of 20,000 files).
        """
        inbox = self.area("inbox")
        now = self.clock.monotonic()
        folders = (
            self._consumed_dirs
            if emptied is None
            else [f for f in (emptied, *emptied.parents) if f in self._consumed_dirs]
        )
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
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

    def _quiet_and_empty(self: Engine, folder: Path, now: float) -> bool:
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

    def _quiet_seconds(self: Engine) -> float:
        return max(2.0, 3 * self.config.watch.settle_seconds)


def _links_in(folder: Path, file: Path) -> int:
    """How many names of ``file`` (its inode) ``folder`` holds."""
    try:
        st = os.lstat(file)
        with os.scandir(folder) as entries:
            return sum(
                1 for e in entries if e.inode() == st.st_ino and os.path.samestat(e.stat(follow_symlinks=False), st)
            )
    except OSError:
        return 0
