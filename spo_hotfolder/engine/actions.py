"""Operator actions: the drop files and the CLI commands, acted on through one path.

A part of the class ``Engine`` (``engine/core.py``), kept in a module of its own; its methods
run on the engine's thread, ``self`` being the Engine."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pwd
import re
import shutil
import sqlite3
import stat
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spo_hotfolder.clock import iso
from spo_hotfolder.delivery import decide_route
from spo_hotfolder.digests import sha256_of
from spo_hotfolder.engine.base import (
    NOT_USED,
    NOT_USED_IN_NO_JOB,
    TAKEN,
    ActionResult,
    _artwork_missing_failure,
    _file_manager_litter,
    _file_token,
    log,
    refused_copy,
)
from spo_hotfolder.engine.state import EngineState
from spo_hotfolder.fsutil import (
    atomic_write,
    belongs_to,
    fit_name,
    fsync_dir,
    fsync_file,
    into_history,
    name_key,
    read_own_file,
    readable,
    real_folder,
    safe_name,
    unique_path,
)
from spo_hotfolder.ledger import Artwork, HistoryEntry, Job, Stage
from spo_hotfolder.operator import (
    ACTION_ORDER,
    SYSTEM,
    Action,
    DropNote,
    classify_drop,
    clean_name,
    clean_note,
    fingerprint,
    foreign_number,
    parse_drop,
    pending_commands,
    refusal,
    split_artwork,
)
from spo_hotfolder.pdfreport import not_a_pdf
from spo_hotfolder.reports import WHAT_NOW, job_named_in
from spo_hotfolder.stability import open_for_writing
from spo_hotfolder.status import JobStatus

#: The statuses that say what became of a job's artwork (the last before a release tells whether
#: the release approved a made output).
_DELIVERED = (JobStatus.InHotFolder, JobStatus.CopyToHotFolderSkipped)
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
    used, and what comes now is new work (a reprint), judged by its own rules. Told by the order
    of the entries, not their times: no job is delivered while its Blocked entry stands, so one
    recorded after it came after its release (audit DC 2: a delivery before a clock stepped back
    looked later than the release, and a storefront's unseen upload printed)."""
    return any(e.id > release.id and e.status in _DELIVERED for e in history)


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
#: Operator answers given within this many seconds of each other are shown together in STATUS.txt
#: (at most ANSWERS_KEPT of them): drop files that came together are often handled a round apart.
ANSWERS_TOGETHER_SECONDS = 10.0
ANSWERS_KEPT = 6
#: How many jobs' "last action or notice" are kept at hand (the ledger has them all).
CACHED_JOBS = 4096


def _drop_name(drop: Path) -> str:
    """Who dropped ``drop``: its first line, else its owner (never through a symbolic link)."""
    try:
        with open(os.open(drop, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as fh:
            by = parse_drop(fh.read(65536)).by
    except OSError:
        by = None
    return by or _owner(drop)


def _owner(path: Path) -> str:
    """Who dropped a file: its owner, when that is a person (Samba maps users), else 'operator'."""
    try:
        uid = path.stat().st_uid
        if uid in (0, os.getuid()):
            return "operator"
        name = pwd.getpwuid(uid).pw_name
        # Samba's guest account (a share with `guest ok`) is nobody: no person (audit BO D8). Not
        # every account without a login shell: Samba-only users are made so (useradd -s nologin).
        return "operator" if uid == 65534 or name == "nobody" else name
    except (OSError, KeyError):
        return "operator"


if TYPE_CHECKING:
    from spo_hotfolder.engine.core import Engine


#: The mark a release that named its artwork leaves in its note (apply): what it approved.
_APPROVES_ONLY = re.compile(r"\[approves artwork ([0-9a-f]+) only\]")


def _approved_only(release: HistoryEntry) -> str | None:
    """The fingerprint a release approved alone (``artwork: <fingerprint>`` in its RELEASE), if so."""
    found = _APPROVES_ONLY.search(release.removed_note or "")
    return found[1] if found is not None else None


def _same_artwork(named: str, current: str) -> bool:
    """Whether fingerprint ``named`` (as given: a prefix, or longer) is the artwork's ``current`` one."""
    return bool(current) and (current.startswith(named) or named.startswith(current))


def _before_new_artwork(job: Job, now: datetime) -> list[HistoryEntry]:
    """The job's history before the new artwork's own entries (recorded at ``now``)."""
    stamp_now = iso(now)
    return [
        e
        for e in job.history
        if not (e.at == stamp_now and e.status in (JobStatus.ArtworkUploaded, JobStatus.RecreationRequested))
    ]


def _released_an_output(job: Job, release: HistoryEntry, now: datetime | None = None) -> bool:
    """Whether ``release`` (a removed Blocked entry) was given while the job had an output, its
    OutputCreated the last word on its artwork then (else it was given in advance). What came
    before the release is told by the order of the entries (audit DH 5: a clock stepped back
    between the output and the release had the output look made after it); by their times only for
    a release a daemon recorded before it kept that. ``now``: new artwork's entries recorded then
    are left out."""
    earlier = job.history if now is None else _before_new_artwork(job, now)
    if release.removed_after is not None:
        before = [e for e in earlier if e.id <= release.removed_after and e.status in _ARTWORK_WORDS]
    else:
        released_at = release.removed_at or ""
        before = [e for e in earlier if e.at <= released_at and e.status in _ARTWORK_WORDS]
    return bool(before) and before[-1].status is JobStatus.OutputCreated


def blocked_again_by_a_manifest(job: Job, new_fingerprint: str | None) -> str | None:
    """What a new manifest of job ``job`` (not finished, not blocked; its artwork's fingerprint
    ``new_fingerprint``, None while not all of it is there) has the daemon record once its artwork
    is in: the detail of a Blocked entry, where the job's last release does not approve it (the
    rules of EngineActions._void_narrow_release with ``from_manifest``), or None. For `route`
    (audit IA 1, 2: it said "blocked: no" of a released job the daemon then blocked again)."""
    removed = [e for e in job.history if e.status is JobStatus.Blocked and e.removed_at is not None]
    if job.block_active or not removed:
        return None
    release = removed[-1]
    approved = _approved_only(release)
    if approved is not None:
        if new_fingerprint is None or _same_artwork(approved, new_fingerprint):
            return None  # (not all there yet: the daemon tells once it is; review IC 5)
        other = f"a new manifest put in other artwork ({new_fingerprint})"
        return (
            f"the release by {release.removed_by} approved artwork {approved} only; {other}: check its output, "
            "then release again"
        )
    if _release_used(job.history, release):
        return None
    if _released_an_output(job, release):
        checked = (job.preflight or {}).get("artwork_sha256") or []
        if checked and all(checked) and new_fingerprint == fingerprint(checked):
            return None  # (the very artwork the approved output was made from: review IC 2)
        return (
            f"the release by {release.removed_by} approved the output made before a new manifest put in new "
            "artwork: check the new output, then release again"
        )
    return (
        f"the release by {release.removed_by} was given in advance, with no output to check; a new manifest put "
        "in new artwork: check its output, then release again"
    )


class _Withdrawn(Exception):
    """A CLI command withdrawn (its file removed: Ctrl-C) while it was acted on, before its record."""


class EngineActions(EngineState):
    """The Engine's methods for operator actions (this module's docstring says what they do)."""

    def _job_of_folder(self: Engine, job_folder: Path) -> Job | None:
        """The job whose folder ``job_folder`` is; None otherwise (``_answer_not_a_job`` says why)."""
        job = self.ledger.get_job(job_folder.name)
        if job is None or self.job_dir(job) != job_folder:
            return None
        return job

    def _job_named_in(self: Engine, folder: Path) -> Job | None:
        """The job whose STATUS.txt a folder holds, when it is not that job's folder as the daemon
        knows it: a job folder renamed or copied by hand ("F3-1 check")."""
        named = job_named_in(folder)
        if named is None:
            return None
        job = self.ledger.get_job(named, history=False)
        if job is None or self.job_dir(job) == folder:
            return None
        return job

    def _answer_no_job_folder(self: Engine, folder: Path, path: Path) -> None:
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
                path.with_name(fit_name(f"{NOT_USED}{path.name}{NOT_USED_IN_NO_JOB}.txt")), keep_extension=True
            )
            try:
                os.replace(path, answer)
            except FileNotFoundError:
                return
            except PermissionError:  # a folder the daemon may not change (audit BW 3): said once, as it is
                reason += "; the daemon may not rename it here to say so (the folder is not writable by its group)"
            else:
                log.warning("drop.not_a_job", file=str(path), renamed_to=answer.name, reason=reason)
                return
        if path not in self._answered_elsewhere:
            self._answered_elsewhere.add(path)
            log.warning("drop.not_a_job", file=str(path), reason=reason)

    def _answer_not_a_job(self: Engine, folder: Path, path: Path) -> None:
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
            copy = refused_copy(folder.name)
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

    def _on_replace(self: Engine, job_folder: Path, path: Path) -> None:
        job = self._job_of_folder(job_folder)
        if job is None:
            self._answer_not_a_job(job_folder, path)  # (a copy of a job's folder, a refused manifest's)
        else:
            by = _owner(path)
            try:
                token: str | None = _file_token(os.lstat(path), path.name, job.job_id, Action.REPLACE)
            except FileNotFoundError:
                return  # gone since it settled: taken away again, or refused with a rival (_rival_replacements)
            except OSError:
                token = None
            self.apply(job.job_id, Action.REPLACE, by=by, note="", file=path, token=token)

    def _on_drops(self: Engine, job_folder: Path, paths: list[Path]) -> None:
        """Drop files that arrived together act in a safe order: a REJECT before a RELEASE."""
        job = self._job_of_folder(job_folder)
        if job is None:
            for path in paths:
                self._guard("drop", str(path), lambda p=path: self._answer_not_a_job(job_folder, p))
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
                if self.ignored(entry.name):
                    continue  # an upload's name (RELEASE.tmp): never acted on (audit CM 1)
                path = Path(entry.path)
                if path in self.tracker or entry.stat().st_size == 0 or open_for_writing(path):
                    # Still being written, or settling: it acts in its own round once complete (white-
                    # box audit CR 1: a RELEASE read half-written beside another drop file lost its
                    # "artwork:" line and approved a replacement nobody had seen).
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

    def _act_on_drops(self: Engine, job: Job, job_folder: Path, drops: list[tuple[Action | None, str]]) -> None:
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
                unreadable = self._unreadable_drop(drop, exc) if folder is not None else None
                if unreadable is None:
                    continue
                st, note = unreadable
                data = b""
                whose = f"it {belongs_to(st)}"
                if action is Action.RELEASE and folder is not None:
                    # A RELEASE may name the artwork it approves (`artwork: <fingerprint>`), which
                    # cannot be checked unread: acted on, it printed a replacement the operator had
                    # not seen (audit BU 1). Refused, said; a REJECT or RETRY unread acts by its name.
                    self._refuse_drop(
                        current or job,
                        action,
                        _owner(drop),
                        f"{name} could not be read by the daemon ({whose}): a RELEASE may name the artwork it "
                        "approves, which is not checked unread, so it is not taken (it is in history/ now); drop "
                        "a RELEASE the daemon's group may read (umask 002, or chmod g+r before moving it here)",
                        drop,
                        folder,
                    )
                    continue
                if Path(name).suffix.lower() == ".pdf" and folder is not None:
                    # (whether it is artwork put into the wrong place cannot be told: never acted on)
                    self._refuse_drop(
                        current or job,
                        action,
                        _owner(drop),
                        f"{name} could not be read ({whose}), and a file named .pdf is never taken as a "
                        f"{action.value} unread: to {action.value.lower()} the job, drop a text file named "
                        f"{action.value}; to replace its artwork, put the PDF into replace/ (it is in history/ now)",
                        drop,
                        folder,
                    )
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
            number = foreign_number(name, job.job_id, job.order_id)
            if number is not None and folder is not None:
                # (audit AL: release_2051.txt dropped into job 2076's folder released 2076 without a word)
                self._refuse_drop(
                    current or job,
                    action,
                    note.by or _owner(drop),
                    f"{name} holds {number}, which is neither job {job.job_id}'s id nor its order's: if it "
                    f"is meant for another job, drop it into that job's folder; to {action.value.lower()} this job, "
                    f"drop a file named {action.value} here (it is in history/ now)",
                    drop,
                    folder,
                )
                continue
            by = note.by or _owner(drop)
            token = _file_token(st, name, job.job_id, action)
            self.apply(job.job_id, action, by=by, note=note.note, drop=drop, parsed=note, token=token)

    @staticmethod
    def _unreadable_drop(drop: Path, exc: OSError) -> tuple[os.stat_result, DropNote] | None:
        """A drop file the daemon may not read (dropped with umask 077 by another account): a
        REJECT or RETRY is acted on by its name, as a binary one is, by its owner, the history
        saying why no name or note came with it; a RELEASE is refused, said (_act_on_drops). Audit
        BS D2: ignored without a word, for ever, the job blocked and its STATUS.txt still saying
        "Drop a file named RELEASE here" beside it. None: not that."""
        if exc.errno not in (errno.EACCES, errno.EPERM):
            return None
        try:
            st = os.lstat(drop)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        said = (
            f"[the daemon may not read this file (it {belongs_to(st)}): acted on by its name; for a name and note "
            "in it, drop files the daemon's group may read (umask 002)]"
        )
        return st, DropNote(None, said, None)

    def _refuse_drop(self: Engine, job: Job, action: Action, by: str, reason: str, drop: Path, folder: Path) -> None:
        """A drop file refused before its action is looked at: said (and its answer recorded by its
        identity, as an action's is: one its folder does not let go is no drop file waiting, review
        ET 4), then consumed into history/."""
        try:
            token: str | None = _file_token(os.lstat(drop), drop.name, job.job_id, action)
        except OSError:
            token = None
        self._refused(job, action, by, reason, token, self.clock.now())
        self._consume_drop(job.job_id, drop, folder, self.clock.now())

    def _refuse_link(self: Engine, job: Job, folder: Path, drop: Path, action: Action) -> None:
        now = self.clock.now()
        into_history(folder, drop, now)
        reason = (
            f"{drop.name} is a symbolic link, not a file; the daemon does not follow links in job folders. "
            f"Drop a real file named {drop.name} (the first line your name, the rest a note)"
        )
        self._note_action(job.job_id, f"{iso(now)}  {action.value} refused: {reason}")
        log.warning("operator.refused", job_id=job.job_id, action=action.value, reason=reason)
        self._write_status(job.job_id)

    def _on_command(self: Engine, path: Path) -> None:
        self.run_command(path)

    def run_command(self: Engine, path: Path) -> ActionResult | None:
        """A command file written by the CLI (read by the daemon, or applied by the CLI itself
        while no daemon runs): same rules, same code as a drop file. None: unreadable (removed)."""
        try:
            command = json.loads(read_own_file(path).decode("utf-8"))
            action = Action(command["action"])
            job_id = str(command["job_id"])
            by = str(command.get("by") or "operator")
            note = str(command.get("note") or "")
            token = str(command["token"])
            file = Path(command["file"]) if command.get("file") else None
            given_at = str(command["given_at"]) if command.get("given_at") else None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("command.unreadable", file=str(path), error=str(exc))
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        parsed: DropNote | None = None
        if action is Action.RELEASE:
            # `release --note`'s text read as a RELEASE's (`--artwork FP` comes as its line "artwork: FP")
            artwork, rest = split_artwork(note.split("\n"))
            if artwork is not None:
                note = "\n".join(rest)
                parsed = DropNote(by, note, artwork)
        if not path.exists():
            # Withdrawn by its CLI (Ctrl-C) since it was read: never done (white-box audit CQ 1).
            log.info("command.withdrawn", job_id=job_id, action=action.value, by=by)
            return None
        self._command_given = path
        try:
            result = self.apply(
                job_id, action, by=by, note=note, file=file, parsed=parsed, token=token, given_at=given_at
            )
        except _Withdrawn:
            log.info("command.withdrawn", job_id=job_id, action=action.value, by=by)
            return None
        finally:
            self._command_given = None
        log.info("command.done", job_id=job_id, action=action.value, ok=result.ok, message=result.message)
        self.ledger.sync()  # (its outcome on disk before the command file goes: review HJ 2, a power cut)
        with contextlib.suppress(OSError):
            path.unlink()
        if file is not None and file.parent != self.commands_dir() and self.commands_dir() in file.parents:
            with contextlib.suppress(OSError):
                file.parent.rmdir()  # the CLI's staging folder, emptied by apply
        return result

    def apply(
        self: Engine,
        job_id: str,
        action: Action,
        *,
        by: str,
        note: str,
        drop: Path | None = None,
        file: Path | None = None,
        parsed: DropNote | None = None,
        token: str | None = None,
        given_at: str | None = None,
    ) -> ActionResult:
        """An operator action (drop file or CLI): checked against the job's state, then done or
        refused. ``given_at``: when a CLI command was given (its process's start)."""
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
            self._answer_unsaid(job_id, action, done, now)
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
            # (artwork changed in its folder since its check: the job fails below, saying so)
            if not _same_artwork(parsed.artwork, current) and not self._artwork_changed_since_check(job):
                reason = self._stale_release(parsed.artwork, current)
        if reason is None and action is Action.RELEASE and token is not None:
            reason = self._release_given_before(job, given_at or _command_time(token))
        if reason is None and action is Action.RELEASE:
            reason = self._new_output_not_made(job)
        if reason is None and action is not Action.REJECT and job_dir is not None:
            reason = self._operator_word_waiting(job_dir, action, file)
        if reason is None and action is Action.REPLACE and self._pdf_delivered(job):
            reason = self._already_done_reason(job)
        if reason is None and action is Action.REPLACE:
            reason = self._check_replacement(job, file)
        rivals: list[Path] = []
        if reason is None and action is Action.REPLACE and file is not None and job_dir is not None:
            rivals = self._rival_replacements(job, job_dir, file)
            named = ", ".join(p.name for p in rivals)
            if rivals and file.parent == job_dir / "replace":
                reason = (
                    f"{file.name} came into replace/ together with {named}, for the same artwork file: which one is "
                    "meant is not guessed, so none of them was taken (each is in history/ as refused-<its name>); "
                    "put the one to use into replace/ again, alone"
                )
            elif rivals:  # a CLI's replacement: the operator's file in replace/ stays where it is
                reason = (
                    f"replace/ holds {named} for the same artwork file (being copied, or not taken yet): which one is "
                    "meant is not guessed, so this replacement was not taken; let that file be taken (or remove it), "
                    "then give the command again"
                )
                rivals = []
        bound = log.bind(job_id=job_id, order_id=job.order_id, action=action.value, by=by)
        if reason is not None:
            if action is Action.REPLACE and job_dir is not None and job.active_block() is not None:
                # A RELEASE dropped with this replacement was meant for the new artwork: with the
                # replacement refused, it is not taken for the old one either.
                reason += self._file_stale_releases(job_dir, now, "with the replacement, which was refused")
            if action is Action.REPLACE and file is not None and job_dir is not None and os.path.lexists(file):
                if job_dir in file.parents:
                    self._file_away(job_id, job_dir, file, now, f"refused-{file.name}")
                    for rival in rivals:  # (one still being copied goes on being written there)
                        self.tracker.forget(rival)
                        self._file_away(job_id, job_dir, rival, now, f"refused-{rival.name}")
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
            if job.stage is Stage.FAILED and parsed is not None and parsed.artwork:
                # (audit BE D1: it said "no new release needed" for a corrected PDF, which this
                # release does not approve: the job was blocked again)
                after = (
                    f"; the job has still failed, and this release approves artwork {parsed.artwork} only: a "
                    "corrected PDF put into replace/ is other artwork and needs a release of its own once its output "
                    "is made (drop RETRY where the job failed for another reason than its artwork)"
                )
            elif job.stage is Stage.FAILED:
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
                with contextlib.suppress(Exception):
                    if decide_route(self.facts(job), self.config).hot_folder is None:
                        # (audit AV: said only in STATUS.txt, not with the release's answer)
                        after += (
                            "; the routes send it to no hot folder: it is finished unprinted (CopyToHotFolderSkipped)"
                        )
            # One commit: never released but left waiting by a crash. With an answer (a CLI waits for
            # it, and says "done"), on disk before anyone reads it (review HO 1: a power cut right
            # after a `reject` that exited 0 lost it, and the job was printed).
            with self.ledger.transaction(durable=token is not None):
                self.ledger.remove_status(block.id, job_id, by, removed_note, now)
                if held:
                    self._record_stage(job_id, Stage.DELIVER, now)
                if token:  # with the action: a command file left by a crash is not run twice
                    self.ledger.drop_outcome(token, "done", f"released by {by}{after}", now)
            message = f"released by {by}" + (f" ({note})" if note else "") + after
        elif action is Action.REJECT:
            with self.ledger.transaction(durable=token is not None):
                # (the problem of a failed job rejected is no longer one to fix: `show` said it on)
                self.ledger.update_job(job_id, now, error=None)
                self._record(job_id, JobStatus.Rejected, by, note or "rejected by the operator", now, write=False)
                self._record_stage(job_id, Stage.REJECTED, now)
                if token:
                    self.ledger.drop_outcome(token, "done", f"rejected by {by}", now)
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
            with self.ledger.transaction(durable=token is not None):
                self.ledger.update_job(job_id, now, attempts=0, next_attempt_at=None, error=None)
                if not ticket_only and job_dir is not None:
                    self._artwork_put_by_hand(job_id, job_dir, by, now)
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
        # The answer before the drop file goes: a crash between the action's commit and the answer
        # leaves the drop file, answered at the next start from the outcome recorded with the action
        # (audit CD 4: a release's answer was lost).
        self._note_action(job_id, f"{iso(now)}  {action.value}: {message}")
        self._consume_drop(job_id, drop, job_dir, now)
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

    def _send_on(self: Engine, job_id: str, now: datetime) -> None:
        """A job whose RecreationRequested is recorded (a RETRY, or one a crash cut short) goes on:
        waits for artwork still missing, copies again (a published PDF whose ticket failed: only the
        ticket is written), or is made again."""
        job = self.ledger.get_job(job_id, history=False)
        assert job is not None
        if any(not a.present for a in self.ledger.artwork(job_id)):
            self._move_to(job, Stage.AWAITING, now)
            until = self._due_in(self.config.watch.artwork_timeout_seconds)
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

    def _note_action(self: Engine, job_id: str, text: str, *, append: bool = False) -> None:
        """STATUS.txt's "Last action or notice". Answers given within ANSWERS_TOGETHER_SECONDS of
        each other (drop files that came together: a REJECT, a replacement and a RELEASE, handled
        in one round or in the next ones) are all said, the last few, not only the last one."""
        mono = self.clock.monotonic()
        text = self._with_earlier_answers(job_id, text, append=append)
        if text:
            if len(self._noted) >= CACHED_JOBS:  # (a long run: only the last few seconds' matter)
                self._noted = {j: t for j, t in self._noted.items() if mono - t < ANSWERS_TOGETHER_SECONDS}
            self._noted[job_id] = mono
        self._cache_last_action(job_id, text)
        try:
            self.ledger.set_last_action(job_id, text)  # STATUS.txt says it after a restart too
        except sqlite3.OperationalError as exc:
            # The action is done (or refused) and recorded: its answer is said (STATUS.txt, `show`
            # from it) though the ledger could not keep it (audit CG 3: an I/O error lost it, and
            # the drop file was never consumed).
            log.warning(
                "job.answer_not_kept",
                job_id=job_id,
                error=str(exc),
                action="said in STATUS.txt now; the ledger keeps the next answer",
            )

    def _with_earlier_answers(self: Engine, job_id: str, text: str, *, append: bool = False) -> str:
        """``text`` after the answers given just before it (``_note_action``)."""
        mono = self.clock.monotonic()
        if text and (append or mono - self._noted.get(job_id, -ANSWERS_TOGETHER_SECONDS) < ANSWERS_TOGETHER_SECONDS):
            before = self._last_action_of(job_id)
            if before:
                earlier = [line for line in before.split("\n  ") if not self._stray_gone(job_id, line)]
                text = "\n  ".join([*earlier[-(ANSWERS_KEPT - 1) :], text])
        return text

    def _stray_gone(self: Engine, job_id: str, answer: str) -> bool:
        """Whether ``answer`` says a file was "not a drop file, left alone" and that file is gone
        now ("New Text Document.txt" renamed RELEASE.txt): no longer worth saying."""
        found = _STRAY_ANSWER.match(answer)
        if found is None:
            return False
        job = self.ledger.get_job(job_id, history=False)
        folder = self._locate(job) if job is not None else None
        return folder is not None and not os.path.lexists(folder / found.group(1))

    def _last_action_of(self: Engine, job_id: str) -> str | None:
        if job_id not in self._last_action:
            self._cache_last_action(job_id, self.ledger.last_action(job_id))
        return self._last_action[job_id]

    def _cache_last_action(self: Engine, job_id: str, text: str | None) -> None:
        """The ledger's "last action or notice" of a job, kept at hand (every job's STATUS.txt says
        it); emptied when it holds CACHED_JOBS jobs, so that a long run's memory does not grow with
        every job it ever had (audit AF 1)."""
        if len(self._last_action) >= CACHED_JOBS and job_id not in self._last_action:
            self._last_action.clear()
        self._last_action[job_id] = text

    def _refused(
        self: Engine, job: Job, action: Action, by: str, reason: str, token: str | None, now: datetime
    ) -> ActionResult:
        """An operator action refused: said in STATUS.txt, the log, and to a waiting CLI."""
        job_id = job.job_id
        # The answer, before the drop file goes (a crash between); on disk before a CLI reads it.
        with self.ledger.transaction(durable=token is not None):
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

    def _consume_drop(self: Engine, job_id: str, drop: Path | None, was_in: Path | None, now: datetime) -> None:
        """Moves a drop file into its job's history/, wherever the action left the job's folder,
        once its action is on disk (review HC 2: after a power cut the RELEASE was filed in
        history/ and the job still blocked: its commit had not reached the disk, the move had)."""
        if drop is None:
            return
        self.ledger.sync()
        job = self.ledger.get_job(job_id, history=False)
        for folder in (self._locate(job) if job is not None else None, was_in, drop.parent):
            if folder is not None and os.path.lexists(folder / drop.name):
                self._file_away(job_id, folder, folder / drop.name, now)
                return

    def _file_away(self: Engine, job_id: str, folder: Path, path: Path, now: datetime, name: str | None = None) -> bool:
        """A drop file or replacement answered, into the job's history/ (as ``name``); False, said
        in the log, when its folder does not let it go (made read-only by hand: audit BU 2-4, a
        traceback, and notices saying it was kept in history/). The ledger knows it as acted on by
        its identity: it is filed once the folder lets it (_answer_leftovers, a rescan's look)."""
        key = (job_id, str(path.relative_to(folder)) if folder in path.parents else path.name)
        try:
            into_history(folder, path, now, name)
        except FileNotFoundError:
            self._not_filed.pop(key, None)
            return False
        except OSError as exc:
            self._left_behind(job_id, key, path, exc, name)
            return False
        self._not_filed.pop(key, None)
        return True

    def _left_behind(
        self: Engine, job_id: str, key: tuple[str, str], path: Path, exc: OSError, name: str | None
    ) -> None:
        """A file answered that its folder, made read-only by hand, does not let go: a drop file to
        file into history/ as ``name``, or (``TAKEN``) a replacement taken, which is in artwork/ and
        no replacement waiting (audit BS D7: every release was refused for good as "a replacement
        ... is taken first"). Kept for _file_left_drops, which files or removes it at a rescan once
        it may, and said once in the log."""
        if key not in self._not_filed:
            log.warning(
                "replace.not_removed" if name == TAKEN else "drop.not_filed",
                job_id=job_id,
                file=self.rel(path),
                error=str(exc),
                action=(
                    "it was taken (it is the job's artwork now); it is removed once the daemon may"
                    if name == TAKEN
                    else "it stays where it is, and is filed at a rescan once it may be"
                )
                + f": give the daemon's account write permission on {self.rel(path.parent)}",
            )
        self._not_filed[key] = name

    def _file_left_drops(self: Engine) -> None:
        """At each rescan: the drop files and replacements answered that their folder did not let
        go into history/ (made read-only by hand), filed now if it does (audit BV N3: a RELEASE
        refused there stayed, STATUS.txt still offering RELEASE beside it, until a restart), and
        the replacements taken that replace/ did not let go, removed (they are in artwork/),
        wherever the job's folder has gone meanwhile."""
        now = self.clock.now()
        for (job_id, rel), name in sorted(self._not_filed.items()):
            job = self.ledger.get_job(job_id, history=False)
            folder = self._locate(job) if job is not None else None
            if folder is None or not os.path.lexists(folder / rel):
                self._not_filed.pop((job_id, rel), None)
                continue
            try:
                if name == TAKEN:
                    (folder / rel).unlink()
                else:
                    into_history(folder, folder / rel, now, name)
            except OSError:
                continue
            self._not_filed.pop((job_id, rel), None)
            if name == TAKEN:
                log.info("replace.removed", job_id=job_id, file=self.rel(folder / rel))
                if job is not None and job.stage not in (Stage.HELD, Stage.FAILED):
                    with contextlib.suppress(OSError):
                        (folder / rel).parent.rmdir()  # (no one watches it now: _out_of_operator_hands)
                continue
            log.info("drop.filed", job_id=job_id, file=self.rel(folder / rel))
            self._write_status(job_id)

    def _operator_word_waiting(self: Engine, job_dir: Path, action: Action, file: Path | None) -> str | None:
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
        if pending is None and (buried := _file_in_a_folder_of(job_dir / "replace")) is not None:
            # A folder holding the corrected PDF dragged onto replace/ (Finder, Explorer): nothing in
            # it is taken, and a RELEASE approved the old output, which printed (review FM 1).
            again = {Action.RELEASE: "release again", Action.RETRY: "drop RETRY again"}.get(action, "again")
            return (
                f"replace/{buried} is in a folder inside replace/, where nothing is taken: put the PDF itself into "
                f"replace/ (the job is then made again with it), or delete that folder if it is not meant; then {again}"
            )
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

    def _file_stale_releases(
        self: Engine, job_dir: Path, now: datetime, dropped: str, said: Callable[[str], None] | None = None
    ) -> str:
        """RELEASE drop files in ``job_dir`` not read yet go into history/ as unused; returns what
        to add to the operator's answer (empty when there were none). ``said``: called with it
        before the files go (a crash between the two must not lose the answer: review EI 1)."""
        stale: list[Path] = []
        with contextlib.suppress(OSError), os.scandir(job_dir) as entries:
            stale = [
                Path(e.path)
                for e in entries
                if classify_drop(e.name) is Action.RELEASE
                and e.is_file(follow_symlinks=False)
                and not self.ignored(e.name)  # (RELEASE.tmp: an upload under way, left to it)
            ]
        if not stale:
            return ""
        answer = (
            f"; {', '.join(p.name for p in stale)} not acted on (kept in history/ as unused-...): it was dropped "
            f"{dropped}. Open the output the job has now, then release again"
        )
        if said is not None:
            said(answer)
        for path in stale:
            into_history(job_dir, path, now, f"unused-{path.name}")
        return answer

    def _void_narrow_release(self: Engine, job: Job, by: str, now: datetime, *, from_manifest: bool = False) -> str:
        """A job released in advance by a RELEASE that named its artwork (``artwork: <fingerprint>``)
        approved that artwork only: new artwork with another fingerprint blocks it again. New
        artwork ``by`` a replacement, or (``from_manifest``) a manifest sent again."""
        removed = [e for e in job.history if e.status is JobStatus.Blocked and e.removed_at is not None]
        if not removed:
            return ""
        release = removed[-1]
        approved = _approved_only(release)
        if approved is None:
            if _released_an_output(job, release, now):
                return self._void_release_of_an_output(job, release, by, now)
            # A release in advance approves an operator's fix, not a storefront's upload (review IC 2:
            # one of an output was taken for one in advance where the same artwork came again).
            return self._void_advance_release(job, release, now) if from_manifest else ""
        detail = self._blocked_unless_approved(
            job, release, approved, now, lambda current: f"{by} put in other artwork ({current or 'not all there yet'})"
        )
        return f"; blocked again: {detail}" if detail else ""

    def _block_unapproved_artwork(self: Engine, job_id: str, now: datetime) -> None:
        """A job released by a RELEASE that approved one artwork only (``artwork: <fingerprint>``)
        whose output was just made from other artwork (put into artwork/ by hand, then RETRY: no
        replacement or manifest said so) is blocked again: the release did not approve it (white-box
        audit CM 4: it was printed). Asked as each job's output is made: one statement for a job
        no narrow release freed, the history read only for one it did."""
        release = self.ledger.last_release(job_id)
        approved = _approved_only(release) if release is not None else None
        if release is None or approved is None:
            return
        job = self.ledger.get_job(job_id)
        if job is None or job.blocked:
            return
        if _release_used(job.history, release):
            return  # a release of an earlier delivery's artwork (this is a reprint): not this one's
        self._blocked_unless_approved(
            job,
            release,
            approved,
            now,
            lambda current: f"the job's artwork is now {current or 'not known'} (changed in its folder)",
        )

    def _blocked_unless_approved(
        self: Engine,
        job: Job,
        release: HistoryEntry,
        approved: str,
        now: datetime,
        other: Callable[[str], str],
    ) -> str:
        """Blocked again (recorded; the detail returned) where the job's artwork is not the one
        ``release`` approved (``approved``, its fingerprint): ``other(current)`` says what it is."""
        current = self.extra(job).fingerprint or ""
        if _same_artwork(approved, current):
            return ""
        detail = (
            f"the release by {release.removed_by} approved artwork {approved} only; {other(current)}: check its "
            "output, then release again"
        )
        self._record(job.job_id, JobStatus.Blocked, SYSTEM, detail, now, write=False)
        return detail

    def _new_output_not_made(self: Engine, job: Job) -> str | None:
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

    def _release_given_before(self: Engine, job: Job, given: str | None) -> str | None:
        """Why a CLI ``release`` given (at ``given``: its process's start, or an older CLI's command
        staged) before the job's current artwork came is refused: it approves the output the
        operator saw then, not the one made since (a `replace` given first and done after it was
        given; audit AG; new artwork that came while the command started, audit AA 1). None
        otherwise, and for a drop file (no time)."""
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

    def _void_advance_release(self: Engine, job: Job, release: Any, now: datetime) -> str:
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

    def _void_release_of_an_output(self: Engine, job: Job, release: HistoryEntry, by: str, now: datetime) -> str:
        """A release given while the job had an output (OutputCreated the last word on its
        artwork), not yet used by a delivery, approved that output: new artwork (a replacement, a
        manifest sent again) before the delivery blocks the job again. Seen with the daemon
        stopped: a `release` then a `replace` from the CLI printed the new artwork unreviewed. (A
        release given with no output made yet approves in advance, as documented:
        ``_released_an_output`` tells them apart.)"""
        if not _released_an_output(job, release, now):
            return ""
        if _release_used(_before_new_artwork(job, now), release):
            return ""  # the release was used: this is new work (a reprint), judged by its own rules
        checked = (job.preflight or {}).get("artwork_sha256") or []
        if checked and all(checked) and self.extra(job).fingerprint == fingerprint(checked):
            # The very artwork the approved output was made from, put back (review EF 2: the same
            # PDF put into replace/ of a released job in failed/ blocked it again as "new artwork").
            return ""
        detail = (
            f"the release by {release.removed_by} approved the output made before {by} put in new artwork: check "
            "the new output, then release again"
        )
        self._record(job.job_id, JobStatus.Blocked, SYSTEM, detail, now, write=False)
        return f"; blocked again: {detail}"

    def replace_command_waiting(self: Engine, job_id: str) -> str | None:
        """The file name of a CLI ``replace`` for ``job_id`` whose command file waits in
        state/commands/, not done yet (the daemon has not read it, or a CLI killed half-way left it:
        the daemon finishes it at its start), or None."""
        for command in self.pending_commands(job_id):
            if command.get("action") == Action.REPLACE.value:
                return Path(str(command.get("file") or "")).name or "a file"
        return None

    def pending_commands(self: Engine, job_id: str) -> list[dict[str, Any]]:
        """The command files in state/commands/ for ``job_id`` that are not done, oldest first."""
        return pending_commands(self.commands_dir(), self.ledger, job_id)

    def _outcome_of(self: Engine, path: Path, job_id: str, action: Action) -> str | None:
        """The ledger's answer ("done", "refused") to a drop file or replacement, known by its
        identity (``_file_token``), or None: not answered (or not there)."""
        answer = self._recorded_answer(path, job_id, action)
        return answer[0] if answer is not None else None

    def _recorded_answer(self: Engine, path: Path, job_id: str, action: Action) -> tuple[str, str] | None:
        """``_outcome_of`` with its message."""
        try:
            token = _file_token(os.lstat(path), path.name, job_id, action)
        except OSError:
            return None
        return self.ledger.drop_result(token)

    def _answer_unsaid(self: Engine, job_id: str, action: Action, answer: tuple[str, str], now: datetime) -> None:
        """The answer recorded with an action (outcome, message), said where STATUS.txt does not say
        it yet: a crash after the action's commit, before its answer's (audit CD 4: a release's
        answer lost), found with its drop file at the next start."""
        if answer[1] in (self._last_action_of(job_id) or ""):
            return
        verb = action.value if answer[0] == "done" else f"{action.value} refused"
        self._note_action(job_id, f"{iso(now)}  {verb}: {answer[1]}")
        self._write_status(job_id)

    def _taken_already(self: Engine, path: Path, job_id: str) -> bool:
        """A file in replace/ that is a replacement taken already (one a read-only replace/ did not
        let go, by this daemon or before a restart)."""
        taken = self._not_filed.get((job_id, f"replace/{path.name}"), None) == TAKEN
        return taken or self._outcome_of(path, job_id, Action.REPLACE) == "done"

    def _acted_on(self: Engine, path: Path, job_id: str) -> bool:
        """A drop file in a job's folder whose answer the ledger has (done or refused): one its
        folder did not let go into history/ when it was answered."""
        action = classify_drop(path.name)
        return action is not None and self._outcome_of(path, job_id, action) is not None

    def _replacement_waiting(self: Engine, job_dir: Path, file: Path | None) -> str | None:
        """The name of a file in ``job_dir``/replace/ not taken yet, other than ``file``. One still
        being uploaded under a temporary name (``.x.pdf.part``, rsync's ``.x.pdf.Ab12Cd``) counts
        too, and a symbolic link to a file (it is refused, into history/, in its turn); the files a
        file manager leaves in every folder it opens (``.DS_Store``, ``._x``, ``Thumbs.db``,
        ``desktop.ini``, ``~$x``), folders, pipes and links to nothing do not (nothing takes them)."""
        names: list[str] = []
        if not real_folder(job_dir / "replace"):
            return None  # (a link to a folder elsewhere is never read: audit BO D4)
        with contextlib.suppress(OSError), os.scandir(job_dir / "replace") as entries:
            for entry in entries:
                if not entry.is_file():  # (a link to a file is one, refused in its turn)
                    continue  # a folder, a pipe, a link to nothing: answered in STATUS.txt, never taken
                if _file_manager_litter(entry.name) or (file is not None and entry.path == str(file)):
                    continue
                if self._taken_already(Path(entry.path), job_dir.name):
                    continue
                names.append(entry.name)
        # A file ready to be taken is named before an upload still under a temporary name.
        return min(names, key=lambda name: (self.uploading(name), name), default=None)

    def drops_waiting(self: Engine, job_id: str) -> list[str]:
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
            if sub and not real_folder(folder / sub):
                continue
            with contextlib.suppress(OSError), os.scandir(folder / sub) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        continue
                    # What the daemon reads, as it classifies it: not an upload's temporary name
                    # (RELEASE.tmp, replace/x.pdf.part), which it never acts on (audit BT 4).
                    kind, _ = self._classify(Path(entry.path))
                    if kind == "replace" and self._taken_already(Path(entry.path), job_id):
                        continue
                    if kind == "drop" and self._acted_on(Path(entry.path), job_id):
                        continue  # answered already, left where its folder did not let it go (review ER 3)
                    if kind == "replace" or (kind == "drop" and classify_drop(entry.name) is not Action.REJECT):
                        waiting.append(f"{sub}/{entry.name}" if sub else entry.name)
        return sorted(waiting)

    def _reject_waiting(self: Engine, job_dir: Path) -> str | None:
        """The name of a REJECT drop file in ``job_dir`` not handled yet, if there is one."""
        with contextlib.suppress(OSError), os.scandir(job_dir) as entries:
            for entry in entries:
                # A file, or a link to one (refused when read); not a named pipe or a link to nothing,
                # which nothing reads (audit BO D5: such a REJECT held every release back for good),
                # nor an upload's name, never acted on (audit CM 2: REJECT.tmp did the same).
                if classify_drop(entry.name) is Action.REJECT and entry.is_file() and not self.ignored(entry.name):
                    return entry.name
        return None

    def _stale_release(self: Engine, named: str, current: str) -> str:
        return (
            f"this RELEASE approves artwork {named}, but the job's artwork is {current} (STATUS.txt shows it): "
            "it was replaced since you looked, or the fingerprint is mistyped. Open the output, then release "
            "again with the fingerprint STATUS.txt shows"
        )

    def _check_replacement(self: Engine, job: Job, file: Path | None) -> str | None:
        if file is None or not file.is_file():
            return "the replacement file is not there any more"
        try:
            # Never through a symbolic link: its target's first bytes would be shown in STATUS.txt.
            with open(os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as fh:
                head = fh.read(1024)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return f"{file.name} is a symbolic link, not a file; put the PDF itself into replace/"
            if exc.errno in (errno.EACCES, errno.EPERM):
                # (audit BU 9: "Permission denied" alone, of a PDF dropped with umask 077)
                with contextlib.suppress(OSError):
                    return (
                        f"the daemon may not read {file.name} (it {belongs_to(os.lstat(file))}): put it into replace/ "
                        "readable by the daemon's group (umask 002, or chmod g+r before moving it there)"
                    )
            return f"the replacement file cannot be read: {exc.strerror}"
        # (a file in replace/, or one given to `spo-hotfolder replace`: audit BO 2)
        fix = "put a PDF into replace/" if file.parent.name == "replace" else "give a PDF file"
        if (
            b"%PDF" not in head
            and classify_drop(file.name) is not None
            and not any(name_key(art.name) == name_key(file.name) for art in self.ledger.artwork(job.job_id))
        ):
            # A RELEASE (or the like) put into replace/ by mistake; a PDF of such a name ("release.pdf",
            # given to `replace`: review FO 2) is a replacement like any other, and one of the job's
            # own artwork names ("release_v2.pdf") too (audit CM 5).
            return (
                f"{file.name} is a drop file, and drop files go into the job's folder itself, one level up from "
                "replace/; only a replacement PDF goes into replace/"
            )
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

    def _artwork_put_by_hand(self: Engine, job_id: str, job_dir: Path, by: str, now: datetime) -> None:
        """Artwork the job waited for in vain, found in its artwork/ at a RETRY (put there by hand,
        not through replace/): recorded as come, so that what prints has its ArtworkUploaded (audit
        AL D2: a RETRY printed it with nothing in the history saying it had come)."""
        for art in self.ledger.artwork(job_id):
            path = job_dir / "artwork" / art.name
            if art.present or not path.is_file() or path.is_symlink():
                continue
            self.ledger.mark_artwork_present(job_id, art.position)
            self._record(
                job_id,
                JobStatus.ArtworkUploaded,
                by,
                f"{art.name} found in artwork/ at the retry (put there by hand, not through replace/)",
                now,
                write=False,
            )

    def _rival_replacements(self: Engine, job: Job, job_dir: Path, file: Path) -> list[Path]:
        """The other files in the job's replace/ (complete or still being copied) that would replace
        the same artwork file as ``file``: two PDFs dropped together for a one-file job, or
        front.pdf and Front.pdf (audit AL D1: each was taken in its turn, the last one printed, the
        first never checked). File managers' litter is none; nor, for a file in replace/, an upload
        client's temporary name (its file comes as a rival once renamed); for a CLI's file (staged
        elsewhere) it is one: the upload would replace the command's file a moment later (audit AP)."""
        cli = file.parent != job_dir / "replace"
        artwork = self.ledger.artwork(job.job_id)
        target = self._match_artwork(artwork, file.name)
        rivals: list[Path] = []
        if not real_folder(job_dir / "replace"):
            return rivals
        with contextlib.suppress(OSError), os.scandir(job_dir / "replace") as entries:
            for entry in entries:
                if _file_manager_litter(entry.name):
                    continue  # (first: ._card.pdf is no upload of card.pdf either, review DS 3)
                if self.uploading(entry.name) and cli and ".pdf" in entry.name.lower():
                    rivals.append(Path(entry.path))
                    continue
                if (
                    entry.path == str(file)
                    or self.uploading(entry.name)
                    or not entry.is_file(follow_symlinks=False)
                    # (a drop file put here by mistake is none; a PDF of such a name is one: review FV 2)
                    or (classify_drop(entry.name) is not None and not _a_pdf(entry))
                ):
                    continue
                if self._match_artwork(artwork, entry.name) is target and _a_pdf(entry):
                    rivals.append(Path(entry.path))
        return sorted(rivals)

    @staticmethod
    def _match_artwork(artwork: list[Artwork], name: str) -> Artwork | None:
        if len(artwork) == 1:
            return artwork[0]
        # The name as given, then as artwork/ keeps it (one longer than 200 bytes shortened, as
        # the manifest's was: audit BX 6, the manifest's own name refused).
        for wanted in dict.fromkeys((name, safe_name(name))):
            exact = next((art for art in artwork if art.name == wanted), None)
            if exact is not None:
                return exact
            # As a person would call them the same: letter case, and the Unicode form a Mac writes
            # ("café.pdf" with the accent as a character of its own) set aside.
            alike = next((art for art in artwork if name_key(art.name) == name_key(wanted)), None)
            if alike is not None:
                return alike
        return None

    def _replace(self: Engine, job: Job, file: Path, by: str, now: datetime, token: str | None = None) -> str:
        artwork = self.ledger.artwork(job.job_id)
        target = self._match_artwork(artwork, file.name)
        assert target is not None
        job_dir = self._locate(job) or self.job_dir(job)
        # Undone where the replacement is not recorded (an error, a full disk, Ctrl-C on an offline
        # `replace` while the file is hashed: white-box audits DK 1, DK 3): the job's folder as it
        # was, its output and the artwork it was checked with (newest step first).
        undo: list[Callable[[], None]] = []
        try:
            return self._replace_recorded(job, file, by, now, token, artwork, target, job_dir, undo)
        except BaseException:
            for step in reversed(undo):
                try:
                    step()
                except OSError as exc:  # (left for the operator: said in the log)
                    log.error("replace.undo_failed", job_id=job.job_id, error=str(exc))
            raise

    def _replace_recorded(
        self: Engine,
        job: Job,
        file: Path,
        by: str,
        now: datetime,
        token: str | None,
        artwork: list[Artwork],
        target: Artwork,
        job_dir: Path,
        undo: list[Callable[[], None]],
    ) -> str:
        """``_replace``'s work; ``undo`` gets what undoes each change on disk until it is recorded."""

        def aside(path: Path, name: str) -> None:
            kept = into_history(job_dir, path, now, name)
            undo.append(lambda: os.replace(kept, path))

        old = job_dir / "artwork" / target.name
        if old.exists() and file.exists() and os.path.samefile(old, file):
            old.unlink()  # our own link of this replacement, from a try a crash cut short: not the old artwork
        elif old.exists():
            aside(old, f"artwork-{target.name}")
        out_dir = job_dir / "output"
        if real_folder(out_dir):  # (a link to a folder elsewhere: never emptied: audit BO D3)
            for out in sorted(out_dir.iterdir()):
                aside(out, f"output-{out.name}")
        (job_dir / "artwork").mkdir(exist_ok=True)
        dest = job_dir / "artwork" / target.name
        undo.append(lambda: dest.unlink(missing_ok=True))
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
        # Its bytes on disk before the ledger says it is the job's (review HJ 3: after a power cut
        # the replaced artwork was an empty file; nobody had flushed the operator's upload or the
        # CLI's copy), its name too.
        fsync_file(dest)
        fsync_dir(dest.parent)
        with open(dest, "rb") as fh:
            digest = sha256_of(fh)
        if self._command_given is not None and not os.path.lexists(self._command_given):
            # Withdrawn by its CLI (Ctrl-C) while the file was hashed (seconds for a big one): its
            # CLI said "withdrawn, nothing was done" and the replacement was made all the same, a
            # job not blocked printed (review ER 1). Undone (_replace), never recorded.
            raise _Withdrawn
        with self.ledger.transaction(durable=token is not None):  # (its answer: review HO 1)
            self.ledger.mark_artwork_present(job.job_id, target.position, replaced=True)
            self.ledger.update_job(
                job.job_id, now, output=None, output_pages=None, output_size=None, error=None, attempts=0
            )
            if target.present:
                detail = f"{target.name} replaced by {readable(file.name)} (sha256 {digest[:12]})"
            else:  # (audit AY D2: "p2.pdf replaced by p2.pdf" for a file that had never come)
                detail = f"{target.name} given as {readable(file.name)} (sha256 {digest[:12]}); it had not arrived"
            self._record(job.job_id, JobStatus.ArtworkUploaded, by, detail, now, write=False)
            still = [a.name for a in artwork if not a.present and a.position != target.position]
            if still:
                # Still waiting for the rest of its artwork: AwaitingData, as SPEC 6 names it (audit AY
                # D2: RecreationRequested, and `jobs --status AwaitingData` left it out).
                self._record(
                    job.job_id, JobStatus.AwaitingData, SYSTEM, "waiting for " + ", ".join(still), now, write=False
                )
            else:
                self._record(job.job_id, JobStatus.RecreationRequested, by, "new artwork", now, write=False)
            answer = f"artwork {target.name} replaced by {by}"
            if token:
                self.ledger.drop_outcome(token, "done", answer, now)
            # Said with it: a crash before the whole answer is noted (below, by the caller) leaves
            # no file in replace/ to answer at the next start (review ER 4: STATUS.txt lost it).
            said = self._with_earlier_answers(job.job_id, f"{iso(now)}  {Action.REPLACE.value}: {answer}")
            self.ledger.set_last_action(job.job_id, said)
        undo.clear()  # recorded: kept
        if taken is not None:
            self.ledger.sync()  # (on disk before the file leaves replace/: review HJ 2, a power cut)
            try:
                taken.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                self._left_behind(job.job_id, (job.job_id, f"replace/{taken.name}"), taken, exc, TAKEN)
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


def _a_pdf(entry: os.DirEntry[str]) -> bool:
    """A file in replace/ that is a replacement PDF, or one on its way (named .pdf, perhaps still
    empty as a copy begins): a text file or a picture beside a PDF is no rival to it (audit AP D2:
    Explorer's "New Text Document.txt" had the PDF refused); it is refused on its own."""
    if entry.name.lower().endswith(".pdf"):
        return True
    try:
        with open(entry.path, "rb") as fh:
            return b"%PDF" in fh.read(1024)
    except OSError:
        return False


def _file_in_a_folder_of(replace: Path, depth: int = 3) -> str | None:
    """A file (not a file manager's litter) in a folder inside ``replace`` (down to ``depth``
    levels), as a path relative to it; None when there is none (or replace/ is no real folder)."""
    if not real_folder(replace):
        return None
    for top, dirs, files in os.walk(replace):
        level = len(Path(top).relative_to(replace).parts)
        if level >= depth:
            dirs.clear()
        if level == 0:
            continue
        for name in sorted(files):
            if not _file_manager_litter(name):
                return str(Path(top, name).relative_to(replace))
    return None
