"""Intake: a manifest read, refused or taken, its jobs recorded, its artwork claimed.

A part of the class ``Engine`` (``engine/core.py``), kept in a module of its own; its methods
run on the engine's thread, ``self`` being the Engine."""

from __future__ import annotations

import contextlib
import errno
import filecmp
import hashlib
import itertools
import json
import os
import re
import shutil
import stat
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spo_hotfolder.clock import iso, later, parse_iso
from spo_hotfolder.delivery import blocked_by_product_change, decide_blocking
from spo_hotfolder.digests import identity
from spo_hotfolder.engine.base import (
    COPY_SUFFIX,
    HASH_AHEAD_MIN_BYTES,
    SYMLINK_PROBLEM,
    EarlyCheckService,
    HashAheadService,
    _keep_newest,
    _PdfCan,
    log,
    nothing_set_aside,
)
from spo_hotfolder.engine.state import EngineState
from spo_hotfolder.fsutil import (
    NAME_MAX,
    atomic_write,
    belongs_to,
    fit_name,
    fsync_dir,
    fsync_file,
    into_history,
    linked,
    move,
    open_regular,
    real_folder,
    safe_folder_name,
    unique_path,
    write_new,
)
from spo_hotfolder.ledger import (
    REFUSED_INTAKE,
    TERMINAL,
    Artwork,
    Delivery,
    Job,
    Stage,
    is_disk_full,
    is_ledger_damaged,
)
from spo_hotfolder.manifest import (
    MANIFEST_SUFFIXES,
    MAX_MANIFEST_BYTES,
    JobSpec,
    Manifest,
    ManifestError,
    artwork_names,
    cut_yaml_line,
    keeps_copy,
    parse_manifest,
    same_manifest,
    sent_again,
    sent_twice,
    several_manifests,
    several_manifests_problem,
    upload_beside,
)
from spo_hotfolder.operator import (
    SYSTEM,
    Action,
    classify_drop,
)
from spo_hotfolder.pdfreport import (
    ArtworkInput,
    PreflightReport,
    describe_exception,
)
from spo_hotfolder.reports import (
    error_text,
    human_seconds,
    printable,
)
from spo_hotfolder.stability import Signature, open_for_writing, signature
from spo_hotfolder.status import JobStatus

#: A check begun at intake (Engine._begin_early_check) whose job has not been processed after this
#: long (its artwork changed, say) no longer keeps the next new job from having its own.
EARLY_CHECK_HOLD_SECONDS = 2.0
REFUSED_KEPT_BYTES = 64 * 1024
#: The hidden name of a folder in failed/ being put together for a refused input (``<pid>-<n>.<name>``).
REFUSAL_PREFIX = ".spo-hotfolder-refusal."
#: After REFUSAL_PREFIX, the mark of a folder of files set aside (``Engine._setting_aside``): what
#: it holds is the inbox's files under their own names (one may be named "artwork"), never a refusal's.
ASIDE_MARK = "aside-"
_REFUSAL_IDS = itertools.count(1)
#: In a refusal put together hidden with its artwork, where that artwork came from (its folder drop's
#: path under inbox/, as bytes; empty: the top of inbox/), written before any of it moves: a kill
#: cut short puts it back there and nowhere else (review GX 1: guessed from the safe name, "Rush:7"'s
#: PDF went into another order's folder "Rush_7", which took it and printed it).
_ORIGIN = ".spo-hotfolder-origin"
#: A folder drop's ERROR.txt, written whole in its folder (an ignored name) before the folder moved.
_REFUSAL_ERROR_WHOLE = re.compile(r"^\.spo-hotfolder-ERROR\.\d+\.tmp$")
#: That ERROR.txt, or atomic_write's temp of it: ours by name, never a file of the folder's client.
_REFUSAL_ERROR_ANY = re.compile(r"^\.\.?spo-hotfolder-ERROR\.\d+\.tmp(\.\d+\.tmp)?$")
#: atomic_write's temp of a refusal's ERROR.txt or manifest copy: not the manifest (a refusal cut short).
_REFUSAL_TEMP = re.compile(r"^\.(ERROR\.txt|.+\.(json|ya?ml))\.\d+\.tmp$", re.I)
#: How long a manifest of a known job waits for an operator's drop file in the job's folder.
DROP_FIRST_SECONDS = 60.0


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


def _not_taken(refused: Sequence[object], accepted: Sequence[str]) -> str:
    """The title of a manifest's refused jobs' ERROR.txt (audit BA 8: "some jobs" of a one-job order)."""
    if accepted:
        return "some jobs were not taken." if len(refused) > 1 else "one job was not taken."
    return "its job was not taken." if len(refused) == 1 else "its jobs were not taken."


_ORDER_ID_TEXT = re.compile(rb"""["']?order_id["']?\s*:\s*["']?([A-Za-z0-9._-]{1,64})""")


def _order_in(data: bytes) -> str | None:
    """The order id a refused manifest's text gives, as far as it can be read (a mistake elsewhere
    in it: the order is still known; audit AX D2: the waiting job's own order's manifest, sent
    again with a typo, had its file set aside as another order's)."""
    found = _ORDER_ID_TEXT.search(data)
    return found.group(1).decode("ascii") if found else None


def _new_manifest(
    source_name: str,
    job: Job,
    spec: JobSpec,
    old_artwork: Sequence[str] = (),
    process_after: str | None = None,
    date_kept: bool = False,
) -> str:
    """ArtworkUploaded's detail for a job's new manifest, with what it changes of the job's product,
    quantity and hot folder (audit Z: a second manifest listing an order's jobs in another order
    turned job -1 from 100 cards into one poster, said only as "new manifest ..."), of its list of
    artwork files (``old_artwork``: their names before; audit AY: a file left out, or the pages'
    order changed, said nowhere), and of its date (``process_after``, the job's from now on;
    ``date_kept``: the new manifest gave none, and the job keeps its own: review DX 1)."""
    new_artwork = artwork_names(spec)
    changes = [
        f"{what} {old} -> {new}"
        for what, old, new in (
            ("product", job.product, spec.product),
            ("quantity", job.quantity, spec.quantity),
            ("hot_folder", job.hot_folder, spec.hot_folder),
            ("artwork", ", ".join(old_artwork), ", ".join(new_artwork)),
            ("process_after", job.process_after or "none", process_after or "none"),
        )
        if old != new and (what != "artwork" or old_artwork)
    ]
    if date_kept:
        changes.append(f"process_after {job.process_after} kept: the new manifest gives none")
    return f"new manifest {source_name}" + (f" ({'; '.join(changes)})" if changes else "")


if TYPE_CHECKING:
    from spo_hotfolder.engine.core import Engine


def _only_ours(folder: Path) -> bool:
    """Whether ``folder`` holds nothing but our ERROR.txt, its temps and empty folders."""
    for path in folder.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            continue
        if path.parent != folder or not (
            path.name in ("ERROR.txt", _ORIGIN) or _REFUSAL_TEMP.match(path.name) or _REFUSAL_ERROR_ANY.match(path.name)
        ):
            return False
    return True


def _ours_alone(names: Iterable[str]) -> bool:
    """Whether a hidden refusal's entries ``names`` are ours alone (its ERROR.txt, artwork/ and
    temps): its manifest never came in."""
    return all(n in ("ERROR.txt", "artwork") or _REFUSAL_TEMP.match(n) or _REFUSAL_ERROR_ANY.match(n) for n in names)


def _drop_named(inbox: Path, final: str) -> Path | None:
    """The folder drop in ``inbox`` a refusal named ``final`` (its safe folder name) was made for,
    guessed where it keeps no mark of it (``_ORIGIN``): the folder of that name, else the one whose
    name the safe-name rules make ``final`` ("Order 7." and ".hidden" give "Order 7" and
    "_hidden"); None when there is none, or no telling which."""
    drop = inbox / final
    if drop.is_dir() and not drop.is_symlink():
        return drop
    try:
        with os.scandir(inbox) as entries:
            folders = [
                Path(e.path) for e in entries if e.is_dir(follow_symlinks=False) and safe_folder_name(e.name) == final
            ]
    except OSError:
        return None
    return folders[0] if len(folders) == 1 else None


def _same_bytes(one: Path, other: Path) -> bool:
    """Whether two files hold the same bytes (False when either cannot be read)."""
    try:
        return filecmp.cmp(one, other, shallow=False)
    except OSError:
        return False


def _unreadable_problem(path: Path, exc: OSError) -> str:
    """Why the daemon's user cannot read a manifest, with whose file it is and its mode."""
    try:
        whose = f": it {belongs_to(os.lstat(path))}"
    except OSError:
        whose = ""
    return (
        f"{path.name} cannot be read by the daemon's user ({exc.strerror}){whose}; make it readable by the "
        "daemon's group (chmod g+r; uploads with umask 0002; Samba: create mask 0664), then put it into "
        "inbox/ again"
    )


#: The most manifests changed in place after their intake held open until read again
#: (``_keep_to_read_again``): each is a file descriptor; more are told by their inode number.
READ_AGAIN_MAX = 256

#: A refused manifest of the name of one taken this many seconds before at most may be its rest
#: (``_rest_of_one_taken``).
REST_OF_MANIFEST_SECONDS = 600.0


class EngineIntake(EngineState):
    """The Engine's methods for intake (this module's docstring says what they do)."""

    def take_manifest(self: Engine, path: Path) -> None:
        folder_manifest = path.parent != self.area("inbox")
        try:
            # Never through a symbolic link: it could name any file the daemon can read.
            # O_NONBLOCK: a named pipe put in place of the file must not hang the engine on open.
            with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as fh:
                data = fh.read(MAX_MANIFEST_BYTES + 1)
                st = os.fstat(fh.fileno())
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EACCES, errno.EPERM) and not self._removable_from(path.parent):
                # (audit BW 1: a folder of files uploaded with umask 077, made readable but not
                # writable: its refusal could not move it, with a traceback every few seconds)
                return  # said (inbox.folder_not_writable); refused once the folder lets it go
            if exc.errno == errno.ELOOP:
                self._reject_manifest(path, folder_manifest, [SYMLINK_PROBLEM.format(name=path.name)])
                return
            if exc.errno in (errno.EACCES, errno.EPERM):
                # An upload the daemon's user may not read (an SFTP client's umask of 077, a file
                # of mode 000): set aside and said where the operator looks, not retried at each
                # rescan with a log line only (audit BO D9). Moving it needs no right to read it.
                self._reject_manifest(path, folder_manifest, [_unreadable_problem(path, exc)])
                return
            log.warning("manifest.unreadable", path=str(path), error=str(exc))
            return
        base = path.parent
        if not self._removable_from(base, path):
            return  # taken once the folder lets us: nothing recorded, the other orders go on
        key = hashlib.sha256(data).hexdigest() + ":" + self.rel(path)
        known = self.ledger.intake(key)
        if self._new_only and known is not None:
            self.tracker.track(path, activity=False, complete=True)  # not now (_meanwhile)
            return  # (nothing decided: a manifest to read again stays one: review FI 1)
        again = self._read_again.pop(path, None) if self._read_again else None
        if again is not None:
            kept_key, kept, kept_ino, kept_ctime = again
            if kept is not None:
                try:
                    was = os.fstat(kept)
                finally:
                    os.close(kept)
                held_same = was.st_nlink > 0 and os.path.samestat(was, st)
            else:
                # (not held: its inode number and change time, a number a new file may be given)
                held_same = (kept_ino, kept_ctime) == (st.st_ino, st.st_ctime_ns)
            if kept_key != key or not held_same:
                # Kept after its intake as changed in place, and now another file (the one kept
                # open, its inode never given to another, removed: review FI 2) or other bytes: a
                # new upload. The intake it was kept for is done (its manifest is in its jobs'
                # folders); left open, a later upload of those bytes was taken for it and removed
                # unread (review FH 1).
                self.ledger.complete_intake(kept_key)
                known = self.ledger.intake(key)
        if known is not None and not known[0]:
            # Recorded before a crash, not yet removed from the inbox: finish that intake.
            self._recover_copies(data, path.name)
            self._unfinished.append((key, path, signature(st), st.st_ctime_ns))
            self._finish_intakes()
            return
        if folder_manifest:
            named = self._job_named_in(base)
            if named is not None:
                self._job_folder_in_inbox(named, base, path)
                return
        several = several_manifests(base) if folder_manifest else []
        if several:
            self._reject_manifest(path, folder_manifest, [several_manifests_problem(several)])
            return
        try:
            manifest = parse_manifest(
                data,
                path.name,
                tuple(self.config.hot_folders),
                base=base,
                ignore=self.config.watch.ignore,
                top_level=not folder_manifest,
            )
        except ManifestError as exc:
            if exc.cut_off and self._held_as_cut_off(path, signature(st)):
                return
            # A last line perhaps cut short is said beside the other problems (audit, manifests 5:
            # fixing only those, "quantity: 5" of "quantity: 500" would then be taken).
            self._reject_manifest(path, folder_manifest, [*exc.problems, *cut_yaml_line(data, path.name)])
            return
        unusable = cut_yaml_line(data, path.name)
        if unusable:
            self._reject_manifest(path, folder_manifest, unusable)
            return
        if self._new_only and any(self.ledger.get_job(spec.job_id, history=False) for spec in manifest.jobs):
            # A known job's manifest may change the job being made right now: in its own time, but
            # before that job is delivered (_manifest_first).
            self.tracker.track(path, activity=False, complete=True)
            for spec in manifest.jobs:
                self._manifest_waiting.setdefault(spec.job_id, (path, self.clock.monotonic()))
            return
        now = self.clock.now()
        plans: list[tuple[JobSpec, Job | None]] = []
        refused: list[tuple[JobSpec, str]] = []
        others: list[str] = []  # refused: the job id is another order's
        cases: dict[str, str] = {}  # refused: the job id is a known one's in other letter case (-> that one)
        twins: dict[str, Delivery] = {}  # refused: the same reprint sent twice (the PDF it made waits)
        for spec in manifest.jobs:
            existing = self.ledger.get_job(spec.job_id, history=False)
            if existing is None and (twin := self.ledger.job_id_in_other_case(spec.job_id)) is not None:
                refused.append((spec, _other_case_reason(spec.job_id, twin)))
                cases[spec.job_id] = twin
            elif existing is None and not manifest.reprint and (left := self._finished_unknown(spec.job_id)):
                refused.append((spec, left))
            elif existing is None:
                plans.append((spec, None))
            elif existing.order_id != manifest.order_id:
                # A job id names one job: another order's manifest never takes it over (its product,
                # quantity and artwork would replace those of an order it does not belong to).
                refused.append((spec, self._other_order_reason(existing)))
                others.append(spec.job_id)
            elif existing.stage in TERMINAL or self._pdf_delivered(existing):
                if manifest.reprint and (waiting := self._reprint_waiting(spec, existing, data, base, manifest)):
                    refused.append((spec, self._sent_twice_reason(existing, waiting)))
                    twins[spec.job_id] = waiting
                elif manifest.reprint:
                    plans.append((spec, existing))
                else:
                    folder = self._locate(existing)
                    other = self._other_artwork(existing, folder, spec, base)
                    made_from = not other and folder is not None and self._made_from(folder, data, spec, manifest)
                    refused.append((spec, self._already_done_reason(existing, made_from, other)))
            elif (undecided := self._delivery_undecided(existing, Action.REPLACE)) is not None:
                # (audit CM 1) its new artwork would be printed, or not, beside the old PDF that
                # may be printing already: said, and the manifest is to be sent again then.
                refused.append((spec, undecided.replace("; replace it then", "; send this manifest again then")))
            else:
                plans.append((spec, existing))
        if self._drops_waiting_for([existing for _, existing in plans if existing is not None], path):
            return
        same = [self._same_again(spec, existing, data, base, manifest) for spec, existing in plans]
        if plans and not refused and all(same):
            if self._held_for_artwork(path, signature(st)):
                # Its jobs are not delivered before it is filed (audit BI D1: a webhook's retry, held
                # here a moment for artwork, was refused after its job's delivery as "already
                # delivered", where README says the job waits for it).
                for spec, _ in plans:
                    self._manifest_waiting.setdefault(spec.job_id, (path, self.clock.monotonic()))
                return
            self._file_repeat(path, [existing for _, existing in plans if existing is not None], folder_manifest, data)
            return
        if any(same):
            # A new version of the order that changes some of its jobs: the others, of which it
            # says the same and sends no artwork, are left as they are, not made to wait for
            # artwork that is not coming (audit R2 3: every job of the order dropped its artwork).
            log.info(
                "manifest.jobs_unchanged",
                manifest=self.rel(path),
                jobs=[spec.job_id for (spec, _), kept in zip(plans, same, strict=True) if kept],
            )
            plans = [plan for plan, kept in zip(plans, same, strict=True) if not kept]
        manifest_name = "manifest" + (".json" if manifest.format == "json" else ".yaml")
        if (
            refused
            and not plans
            and self._waits_for_a_twin(path, signature(st), manifest.order_id, refused, others, cases, twins, base)
        ):
            return
        if refused:
            # Filed before the other jobs' intake is recorded: once it is, the manifest is only
            # finished at a restart, never read again (white-box audit CU 1: a kill between the two
            # lost the refusal, and the refused job's file was later filed "named by no manifest").
            # No job taken: nothing is recorded, and the manifest itself goes with the refusal (a
            # crash before it is filed leaves it in inbox/, refused again at the next start).
            keep = None if plans else signature(st)
            taken = [spec for spec, _ in plans]
            self._refuse_jobs(path, data, manifest, refused, others, base, taken, twins, keep, cases=cases)
        if plans:
            try:
                self._record_manifest(manifest, plans, base, manifest_name, data, key, path, now)
            except Exception:
                # Nothing was recorded: the folders made for new jobs must not stay behind in work/.
                for spec, existing in plans:
                    if existing is None and self.ledger.get_job(spec.job_id, history=False) is None:
                        shutil.rmtree(self.area("work") / spec.job_id, ignore_errors=True)
                raise
        # 3. The manifest is stored in the job folders and the ledger: it leaves the inbox after
        # the job's first run (_finish_intakes), or at once from a folder (which then goes too).
        if plans:
            self._unfinished.append((key, path, signature(st), st.st_ctime_ns))
            if folder_manifest:
                self._finish_folder_intake(path)  # before its folder is cleaned up
        if folder_manifest:
            self._consumed_dirs.add(base)
        seen = self.tracker.first_seen(path)
        if seen is not None:
            came = now - self._since(seen)
            for spec, _ in plans:
                self._manifest_seen[spec.job_id] = came
            _keep_newest(self._manifest_seen)
        try:
            for spec, _ in plans:
                job = self.ledger.get_job(spec.job_id, history=False)
                if job is not None:
                    self._claim_for_job(job)
                    if self._arriving_files(spec.job_id):
                        self._arriving[spec.job_id] = self.clock.monotonic() + self.config.watch.settle_seconds + 0.25
                    self._wake_at_deadline(spec.job_id)
        except Exception:
            # Recorded, and a claim failed (a ledger write's I/O error, audit CG 1: the job waited an
            # hour, "not arrived yet", its PDF in the inbox): the claims are made again next step.
            self._unmarked.update(spec.job_id for spec, _ in plans)
            raise
        self._cleanup_consumed_dirs()

    def _waits_for_a_twin(
        self: Engine,
        path: Path,
        sig: Signature,
        order: str,
        refused: list[tuple[JobSpec, str]],
        others: list[str],
        cases: Mapping[str, str],
        twins: Mapping[str, Delivery],
        base: Path,
    ) -> bool:
        """A delivered job's manifest at the top of inbox/, without ``reprint: true``, with artwork
        beside it: held once for a moment (as long as a file waits for its order's manifest) before
        its refusal moves that artwork into failed/: its ``reprint: true`` twin, sent at the same
        moment, may come a fraction of a second later and needs it (audit AT D1: the reprint failed
        an hour later, "artwork missing")."""
        if path.parent != self.area("inbox"):
            return False
        not_done = {*others, *cases, *twins}
        done = [spec for spec, _ in refused if spec.job_id not in not_done]
        present = [base / ref.path for spec in done for ref in spec.artwork if os.path.lexists(base / ref.path)]
        if not present:
            return False
        if any(self._order_of(job_id) != order for src in present for job_id, _ in self._waiting(src)):
            # A job of another order waits for a file of that name: refused now, so that the file is
            # not given to that job meanwhile (audit AX D1; _take_artwork sets it aside).
            return False
        return self._hold_once(self._twin_held, path, sig, self._after_seconds())

    def _held_for_artwork(self: Engine, path: Path, sig: Signature) -> bool:
        """A blocked or failed job's manifest sent again byte for byte, no artwork beside it yet: an
        upload client sending the order again sends the manifest first, and the corrected PDF a
        moment later (rsync, WinSCP: under a temporary name until complete). The manifest waits,
        once, for settle_seconds (at least 1 s) before it counts as sent again without artwork."""
        return self._hold_once(self._repeat_held, path, sig, max(self.config.watch.settle_seconds, 1.0))

    def _held_as_cut_off(self: Engine, path: Path, sig: Signature) -> bool:
        """A manifest whose text ends inside it (``{"artwork": [{...}`` with the rest to come, a
        YAML flow mapping cut at a line break) looked complete to the stability rules: a writer
        that paused longer than settle_seconds (SPEC 8: no partial file is ever taken). It waits,
        once, until unchanged for the longer wait of incomplete-looking files (max(5 s, 5 x
        settle)); still the same then, it is refused as cut off."""
        wait = self.tracker.incomplete_pdf_seconds - self.config.watch.settle_seconds
        if not self._hold_once(self._cut_off_held, path, sig, wait):
            return False
        log.info("manifest.waiting_for_its_end", manifest=self.rel(path), seconds=round(wait, 1))
        return True

    def _hold_once(self: Engine, held: dict[Path, Signature], path: Path, sig: Signature, seconds: float) -> bool:
        """True, and ``path`` is looked at again in ``seconds``, the first time; False when it comes
        back unchanged (``held`` remembers it; a change starts afresh)."""
        if held.get(path) == sig:
            del held[path]
            return False
        if len(held) > 10_000:
            held.clear()
        held[path] = sig
        self.tracker.hold(path, max(seconds, 0.0))
        return True

    def _job_folder_in_inbox(self: Engine, job: Job, folder: Path, path: Path) -> None:
        """A job's folder (its STATUS.txt names it; a job not finished: blocked, failed, or in work/)
        dragged into inbox/, as if that tried the job again (audits AL 2, AQ 2): its manifest copy
        was taken as the job's manifest sent again, and the job waited an hour for artwork "beside"
        it, which lay in its artwork/. A job lives in its own folder: put back there if that is
        gone, else (a copy) refused at once; either way said where the operator looks. A copy of a
        finished job's folder (delivered, rejected), as if that printed it again, is refused at
        once and whole: its manifest was refused as one for a delivered job, and the rest of the
        folder waited in inbox/ for artwork_timeout_seconds (audit: then its ERROR.txt offered its
        artwork to other orders' jobs of the same file name)."""
        known = self.job_dir(job)
        now = self.clock.now()
        word = "RETRY" if job.stage is Stage.FAILED else "RELEASE"
        waits = job.stage in (Stage.HELD, Stage.FAILED)  # for an operator; else in work/, going on by itself
        # The job's own folder, moved (not copied) into inbox/: put back where it lives, a finished
        # job's too (review EB 4: a delivered job's folder was filed in failed/ as "a copy" whose
        # job's folder was "purged since", and retention then recorded its files deleted).
        own = job.stage is not Stage.PURGED and not os.path.lexists(known) and known.parent.is_dir()
        if job.stage in TERMINAL and not own:
            where = (
                f"in {self.rel(known)}/"
                if os.path.lexists(known)
                else "(its folder purged since)"
                if job.stage is Stage.PURGED
                else f"(its folder is no longer in {self.rel(known.parent)}/)"
            )
            target = self._reject_manifest(
                path,
                True,
                [
                    f"this folder is a copy of job {job.job_id}'s folder (its STATUS.txt says so), not a new order; "
                    f"the job is finished ({job.status.value}) {where}"
                ],
                fix="Nothing is done with this copy, and nothing is printed. To print the job again, send its "
                "manifest with reprint: true together with its artwork (the files of its artwork/ folder beside the "
                "manifest, not in a folder below it), on their own: a folder holding the job's STATUS.txt is taken "
                "for a copy of the job's folder again, whatever its manifest says.",
                name=f"{folder.name}{COPY_SUFFIX}",
            )
            if target is not None:
                with contextlib.suppress(OSError):
                    (target / "replace").rmdir()  # (empty) nothing is taken from a copy
            return
        if own:
            back, said = known, None
            if job.stage in (Stage.DONE, Stage.REJECTED):
                # A finished job's folder an operator had moved or renamed to keep it ("7100-1 - keep",
                # said kept by retention): back where it was, under the name it came with, and kept
                # (review HW 2: put back under the job's name, it was deleted at once).
                # Where it was is remembered across a restart, and made again if the operator removed
                # the folder it was in (review IB 1: put back under the job's name, deleted at once).
                # (Whatever name it comes under: one kept, then moved by hand under the job's own name
                # into a folder of the operator's, looks just like one renamed back to be deleted:
                # when in doubt, kept. Review IF 1: taken for renamed back, it was deleted at once.)
                said = self.kept_where(job)
                if said is not None:
                    try:
                        said.parent.mkdir(parents=True, exist_ok=True)
                        back = unique_path(said)
                    except OSError:
                        said = None
                if said is None and folder.name != job.job_id:
                    back = unique_path(known.parent / folder.name)
            os.replace(folder, back)
            if back == known and job.stage in (Stage.DONE, Stage.REJECTED):
                self.retention_due(0)  # (deleted then if due meanwhile: review HV 2, the hourly run)
            elif back != known and said is not None:
                self._said_elsewhere[job.job_id] = back  # (its STATUS.txt says it is kept)
                self.ledger.set_kept_by_hand(job.job_id, self.rel(back))
            then = (
                f"Drop {word} here (or a corrected PDF into replace/) to go on with the job"
                if waits
                else f"The job is finished ({job.status.value}): nothing is printed again through inbox/. To print it "
                "again, send its manifest with reprint: true together with its artwork"
                if job.stage in TERMINAL
                else "The job goes on by itself (work/ holds jobs being made; nothing there needs an operator)"
            )
            self._note_action(
                job.job_id,
                f"{iso(now)}  this folder was put into inbox/ ({self.rel(folder)}/); a job is not tried again "
                f"through inbox/, so the daemon put it back here. {then}",
            )
            if back == known:
                self._write_status(job.job_id)
            else:
                self._write_status_now(job.job_id, back)
            log.warning(
                "inbox.job_folder_put_back",
                job_id=job.job_id,
                folder=self.rel(folder),
                put_back_to=self.rel(back),
                reason=f"a job's own folder came into inbox/; it is back in {self.rel(back)}/"
                + (f", where the job waits for {word}" if waits else ""),
            )
            return
        target = self._reject_manifest(
            path,
            True,
            [
                f"this folder is a copy of job {job.job_id}'s folder (its STATUS.txt says so), not a new order; "
                f"the job waits in {self.rel(known)}/"
            ],
            fix=(
                f"Nothing is done with this copy. To go on with the job, drop {word} into {self.rel(known)}/ (or a "
                "corrected PDF into its replace/). "
                if waits
                else f"Nothing is done with this copy; the job goes on by itself in {self.rel(known)}/. "
            )
            + "To print it as a new delivery once it is finished, send its manifest with reprint: true together "
            "with its artwork.",
            # Never under the job's own name: a folder failed/<job-id> is the job's, and after a
            # restart that lost track of the job's folder it would be taken for it.
            name=f"{folder.name}{COPY_SUFFIX}",
        )
        if target is not None:
            with contextlib.suppress(OSError):
                (target / "replace").rmdir()  # (empty) nothing is taken from a copy

    def _same_again(
        self: Engine, spec: JobSpec, existing: Job | None, data: bytes, base: Path, manifest: Manifest
    ) -> bool:
        """A job not finished (waiting for an operator, for a date, for a retry, being made) whose
        manifest came again (byte for byte, or saying the same: sent_again), with none of its
        artwork in the inbox: a webhook's retry, an FTP re-upload, the same order sent twice at
        once. Taken as new artwork it would put the job's artwork into history/, to wait for files
        that are not coming (audits BA 1, A 3)."""
        if existing is None or existing.stage in TERMINAL:
            return False
        folder = self._locate(existing)
        coming = [a.source for a in self.ledger.artwork(existing.job_id) if not a.present and a.source]
        return folder is not None and sent_again(
            data, folder, base, spec, manifest, tuple(self.config.hot_folders), still_coming=coming
        )

    def _reprint_waiting(
        self: Engine, spec: JobSpec, job: Job, data: bytes, base: Path, manifest: Manifest
    ) -> Delivery | None:
        """The delivery of ``job`` whose PDF still waits in its hot folder (not yet taken by the
        printer), when reprint manifest ``data`` is the one that made it, sent again byte for byte
        with the same artwork: the same order sent twice (a webhook's retry, a double upload), not a
        new reprint. Printed, it would be a second copy nobody ordered (audit: a folder drop sent
        twice a second apart was printed twice). Once the printer has taken the PDF, the same
        manifest is a new reprint again: a shop's "order again" button sends the same bytes. A job
        whose files were deleted after retention keeps no copy to compare with: its recorded facts
        and artwork digests are (review GD 1: with done_days 0, the same reprint sent twice while
        its PDF still waited was printed twice)."""
        delivery = self.ledger.published_delivery(job.job_id, job.generation)
        if delivery is None or not os.path.lexists(delivery.final_path):
            return None
        # (what the ledger took in is asked only where retention deleted the job's copy of it)
        taken = job.purged and self.ledger.manifest_taken(hashlib.sha256(data).hexdigest(), manifest.order_id)
        return delivery if sent_twice(data, job, self._locate(job), base, spec, manifest, taken_before=taken) else None

    @staticmethod
    def _sent_twice_reason(job: Job, delivery: Delivery) -> str:
        return (
            f"job {job.job_id} was printed from this same manifest with the same artwork, and its PDF "
            f"{Path(delivery.final_path).name} still waits in hot folder {delivery.hot_folder}, not yet taken by the "
            "printer: this copy was taken as the same order sent twice, and is not printed again"
        )

    def _file_repeat(self: Engine, path: Path, jobs: list[Job], folder_manifest: bool, data: bytes) -> None:
        """The repeated manifest goes into the (first) job's history/; STATUS.txt says so."""
        now = self.clock.now()
        first = self._locate(jobs[0])
        if first is None:
            return
        how = (
            "byte for byte" if keeps_copy(data, first) else "written anew but saying the same of the order and its jobs"
        )
        kept = into_history(first, path, now)
        for job in jobs:
            # (work/ has no replace/: a job waiting there takes new artwork from the CLI: audit CE 3)
            where = (
                "into replace/"
                if job.stage in (Stage.HELD, Stage.FAILED)
                else f"with the manifest, or by `spo-hotfolder replace {job.job_id} FILE.pdf`"
            )
            # Named within the job folder, which moves on (the note stays in STATUS.txt): not as
            # work/... once the folder is in done/ (audit: a stale path).
            kept_in = (
                f"this folder's history/{kept.name}"
                if job.job_id == jobs[0].job_id
                else f"history/{kept.name} of job {jobs[0].job_id}'s folder"
            )
            self._note_action(
                job.job_id,
                f"{iso(now)}  {path.name} came again, {how}, without new artwork: nothing changed "
                f"(it is in {kept_in}). New artwork goes {where}",
            )
            self._write_status(job.job_id)
        log.info("manifest.repeated", manifest=str(path), job_ids=[j.job_id for j in jobs], kept=self.rel(kept))
        self._took_out(path)
        if folder_manifest:
            self._consumed_dirs.add(path.parent)
            self._cleanup_consumed_dirs()

    def _arriving_files(self: Engine, job_id: str) -> list[Artwork] | None:
        """A waiting job's artwork that is in the inbox but not taken (not complete yet); None when
        it is not waiting, or some artwork is not there at all."""
        job = self.ledger.get_job(job_id, history=False)
        if job is None or job.stage is not Stage.AWAITING:
            return None
        waiting = [a for a in self.ledger.artwork(job_id) if not a.present]
        if not waiting or not all(a.source and os.path.exists(a.source) for a in waiting):
            return None
        return waiting

    def _note_arriving(self: Engine) -> None:
        """AwaitingData for a job still waiting, a settle period after its intake, for artwork that
        is there but still being written (a slow upload), as for artwork not there at all (recorded
        with the intake). Not at once: artwork written just before its manifest settles meanwhile."""
        mono = self.clock.monotonic()
        for job_id, due in list(self._arriving.items()):
            if due > mono:
                continue
            del self._arriving[job_id]
            arriving = self._arriving_files(job_id)
            # Only artwork seen changing lately: a stable file only not taken yet (a backlog at
            # start takes thousands in turn) is not "still being written"; it is taken in its turn.
            if arriving and any(self._being_written(Path(a.source)) for a in arriving if a.source):
                names = ", ".join(a.name for a in arriving)
                detail = f"waiting for {names} to be complete (still being written)"
                self._record(job_id, JobStatus.AwaitingData, SYSTEM, detail, self.clock.now())

    def _being_written(self: Engine, path: Path) -> bool:
        """Whether an artwork file there, not taken yet, is still being written as far as can be
        told: settling, but not an empty file unchanged since (held the longer wait an empty file
        gets, as a client's placeholder may be filled; SPEC 5 takes it "like any other once
        stable", and its job said "AwaitingData ... still being written" of a file that was
        whole: review EM 1)."""
        if not self.tracker.settling(path) or self._unmovable_now(path):
            return False
        try:
            empty = os.stat(path).st_size == 0
        except OSError:
            return False
        # (an empty placeholder beside a download, or held open by an upload not begun: being
        # written all the same, review ET 2)
        return (
            not empty or self.tracker.changed_lately(path) or upload_beside(path) is not None or open_for_writing(path)
        )

    def _record_manifest(
        self: Engine,
        manifest: Manifest,
        plans: list[tuple[JobSpec, Job | None]],
        base: Path,
        manifest_name: str,
        data: bytes,
        key: str,
        path: Path,
        now: datetime,
    ) -> None:
        """Job folders with the manifest's copy, then one durable transaction for the whole order."""
        # 1. Folders and manifest copies (byte for byte) for every job we take: of an order of
        # several jobs, one file with a name in each new job's folder (a hard link; audit BN D4: a
        # copy each, a 670 KB manifest of 6,000 jobs took 4 GB of the spool disk).
        first: Path | None = None
        for spec, existing in plans:
            if existing is None:
                job_dir = self.area("work") / spec.job_id
                if job_dir.exists():
                    # Left by an intake interrupted before its ledger commit (a manifest copy or its
                    # temp file, an early-check link): nothing in it is the only copy of anything.
                    shutil.rmtree(job_dir, ignore_errors=True)
                (job_dir / "artwork").mkdir(parents=True, exist_ok=True)
                if len(plans) == 1:
                    self._begin_early_check(spec, manifest, base, job_dir, now)
                # A fresh folder: no temp name needed. On disk before the inbox's manifest goes
                # (_finish_intakes), not before the job runs: the inbox holds it until then.
                copy = job_dir / manifest_name
                if first is None or not linked(first, copy):
                    write_new(copy, data, durable=False)
                    first = copy
        # 2. One durable ledger transaction records every job of the order; a known job's folder
        # is made ready for its new artwork in it (white-box audit CU 2: its stage "awaiting" was
        # committed alone, its artwork already in history/: killed before the intake's commit, the
        # job ran at the restart and failed "artwork missing" before its manifest was read again).
        with self.ledger.transaction(durable=True):
            for _spec, existing in plans:
                if existing is not None:
                    job_dir = self._prepare_rerun(existing, now)
                    for old in list(job_dir.glob("manifest.*")):
                        self._aside(job_dir, old, now)
                    written = job_dir / manifest_name
                    atomic_write(written, data)
                    self.ledger.on_rollback(lambda written=written: written.unlink(missing_ok=True))
            shown = self._manifest_shown(path)
            for spec, existing in plans:
                self._record_intake(manifest, spec, existing, base, manifest_name, shown, now)
            self.ledger.record_intake(key, str(path), manifest.order_id, now)
        self._unsynced.extend((spec.job_id, manifest_name, None) for spec, existing in plans if existing is None)

    def _wake_at_deadline(self: Engine, job_id: str) -> None:
        """A job left waiting for artwork gets a wake-up at its deadline (artwork_timeout_seconds).
        Only then: a timer per job taken in would cost the scheduler a job each, for nothing."""
        job = self.ledger.get_job(job_id, history=False)
        if job is not None and job.stage is Stage.AWAITING and job.awaiting_until:
            self._schedule_wakeup(parse_iso(job.awaiting_until))

    def _begin_early_check(
        self: Engine, spec: JobSpec, manifest: Manifest, base: Path, job_dir: Path, now: datetime
    ) -> None:
        """Starts the check of a new job whose one artwork is already complete in the inbox, before
        the intake's writes, fsyncs and commits: the worker checks on the other core meanwhile, and
        ``_process`` takes the answer if the artwork, product and config are still the same.

        The artwork gets a second name in the job folder for this (a hard link; the inbox name
        stays until the claim after the intake commit). A crash before that commit leaves only the
        extra link, which the next intake of the manifest removes with the job folder's artwork/.
        """
        if self._queue_running or self._new_only:
            return  # jobs are queued before this one: the worker checks the next of those instead
        if self._check_held():
            return  # one at a time: in a burst, the worker's time goes to checks that are used
        self._early_check = None
        pdf = self._early_service()
        if pdf is None or len(spec.artwork) != 1:
            return
        if manifest.process_after is not None and manifest.process_after > now:
            return
        (artwork,) = self._plan_artwork(spec, base)
        src = Path(artwork.source or "")
        orphan = self._orphans.get(src)
        if orphan is None:
            return
        dest = job_dir / "artwork" / artwork.name
        try:
            st = os.lstat(src)
            if signature(st) != orphan[1] or st.st_nlink > 1:
                return  # changed, a symbolic link (which _process refuses), or linked from elsewhere (copied)
            os.link(src, dest)
        except OSError:
            return
        self._after_move(st, dest)
        inputs = [ArtworkInput(name=artwork.name, path=str(dest), expected_sha256=artwork.sha256)]
        self._begin_check_ahead(pdf, spec.job_id, spec.product, inputs)

    def _begin_next_check(self: Engine, candidates: Sequence[str]) -> None:
        """While a job's output is made and delivered, the worker checks the next job of the queue
        (the first of ``candidates`` waiting to be processed), on the other core; ``_process`` takes
        the answer as it takes an intake's early check: only if nothing it depends on changed."""
        pdf = self._early_service()
        if pdf is None or self.stop_event.is_set() or self._check_held():
            return
        for job_id in candidates:
            job = self.ledger.get_job(job_id, history=False)
            if job is not None and job.stage is Stage.PROCESS:
                # An artwork file missing: no check ahead; the job's own turn explains it.
                self._begin_check_ahead(pdf, job.job_id, job.product, self._inputs(job))
                return

    def _pdf_can(self: Engine) -> _PdfCan:
        """What the PDF service can do besides check and output (the worker process can all of
        it). Cached: an isinstance check against a runtime protocol inspects its members each time."""
        pdf: object = self.pdf  # (mypy: no subtype of two protocols otherwise)
        can = self._pdf_can_cached
        if can is None or can.pdf is not pdf:
            can = self._pdf_can_cached = _PdfCan(
                pdf,
                pdf if isinstance(pdf, EarlyCheckService) else None,
                pdf if isinstance(pdf, HashAheadService) else None,
            )
        return can

    def _early_service(self: Engine) -> EarlyCheckService | None:
        """The PDF service, if it can check ahead."""
        return self._pdf_can().early

    def _ahead(self: Engine) -> HashAheadService | None:
        """The PDF service, if it can read big files ahead of their check."""
        return self._pdf_can().ahead

    def _after_move(self: Engine, before: os.stat_result, dest: Path) -> None:
        """Tells the PDF worker the change time the engine's own link or move (``before``: the
        file's stat just before it) gave a file big enough to have been read ahead: that, not an
        edit, is why its ctime changed (``digests``); and the check begun ahead of the claim, whose
        key holds the change time (_check_key)."""
        held = self._early_check
        mine = held is not None and any(
            (f[3], f[4], f[-1]) == (before.st_dev, before.st_ino, before.st_ctime_ns) for f in held[0][3]
        )
        if not mine and (before.st_size < HASH_AHEAD_MIN_BYTES or self._ahead() is None):
            return
        try:
            after = os.stat(dest)
        except OSError:
            return
        if held is not None and mine and (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino):
            files = tuple(
                (*f[:-1], after.st_ctime_ns)
                if (f[3], f[4], f[-1]) == (before.st_dev, before.st_ino, before.st_ctime_ns)
                else f
                for f in held[0][3]
            )
            self._early_check = ((*held[0][:3], files), held[1], held[2])
        ahead = self._ahead() if before.st_size >= HASH_AHEAD_MIN_BYTES else None
        if ahead is not None:
            ahead.ahead_moved(before, after)

    def _check_held(self: Engine) -> bool:
        """A check begun ahead is waiting for its job, and younger than EARLY_CHECK_HOLD_SECONDS."""
        held = self._early_check
        return held is not None and self.clock.monotonic() - held[2] < EARLY_CHECK_HOLD_SECONDS

    def _begin_check_ahead(
        self: Engine, pdf: EarlyCheckService, job_id: str, product: str, inputs: list[ArtworkInput]
    ) -> None:
        """Hands the check of ``job_id`` to the worker and holds it for ``_finish_early_check``
        (nothing when an artwork file cannot be read)."""
        key = self._check_key(job_id, product, inputs)
        if key is None:
            return
        pending = pdf.begin_check(inputs, product, self.config.product_spec(product), self.config.validation)
        self._early_check = (key, pending, self.clock.monotonic())

    def _finish_early_check(self: Engine, job: Job, inputs: list[ArtworkInput]) -> tuple[PreflightReport, bool] | None:
        """The answer of the check begun ahead (intake or queue), if it was this job's and still holds."""
        held = self._early_check
        pdf = self._early_service()
        if held is None or held[0][0] != job.job_id or pdf is None:
            return None
        self._early_check = None
        key, pending, _began = held
        answer = pdf.finish_check(pending)
        if self._check_key(job.job_id, job.product, inputs) != key:
            # The artwork or the config changed meanwhile (an edit in place that kept the size and
            # the time moved the change time: white-box audit CO 1): checked again.
            return None
        seconds = getattr(pending, "seconds", None)  # the worker's own time on it (PdfCheck.seconds)
        if isinstance(seconds, float):
            self.metrics.observe("preflight", seconds)
        return answer

    def _check_key(self: Engine, job_id: str, product: str, inputs: list[ArtworkInput]) -> tuple[Any, ...] | None:
        """What a check's answer depends on: the job, product and config, and each artwork file's
        identity (device, inode, size, mtime) and change time (the engine's own link or move of a
        file vouched for: _after_move)."""
        files = []
        for item in inputs:
            try:
                st = os.stat(item.path)
            except OSError:
                return None
            if not stat.S_ISREG(st.st_mode):
                return None  # (a named pipe: the worker would wait on its open; the job's turn says why)
            files.append((item.name, item.path, item.expected_sha256, *identity(st), st.st_ctime_ns))
        return (job_id, product, self.config, tuple(files))

    def _finish_intakes(self: Engine) -> None:
        """Removes the manifests taken in since the last call from the inbox: one fsync of the
        inbox for all of them, then one commit marks their intakes complete.

        Called after each job run and at the end of each step: a job taken in is made and
        delivered first (its latency is then ~0.5 ms shorter; a burst syncs the inbox once per
        few manifests). Safe because the intake was committed durably before: a crash meanwhile
        leaves an intake not complete, which the next start finishes (``reconcile``). A manifest
        replaced under the same name meanwhile (another signature) is a new upload: never removed;
        so is one written over in place with its size and time kept (`cp -p`, `rsync --inplace
        -t`): its change time moved (white-box audit CN 3: it was removed unread). The same file
        changed in place (its mode, its times, its bytes) keeps its intake open: read again once
        settled, the same bytes finish it (removed), other bytes are a new upload (helper EZ 1).
        """
        self._secure_copies()
        pending, self._unfinished = self._unfinished, []
        if not pending:
            return
        retry: list[tuple[str, Path, Signature | None, int]] = []
        touched: set[str] = set()
        try:
            folders: set[Path] = set()
            for _key, path, sig, ctime in pending:
                try:
                    st = os.stat(path)
                except FileNotFoundError:
                    continue
                same_file = sig is not None and (st.st_size, st.st_ino) == (sig[0], sig[2])
                if same_file and (signature(st) != sig or st.st_ctime_ns != ctime):
                    # The same file, its mode or times changed since it was read (an FTP or SFTP
                    # client's chmod or time stamp right after its upload), or written over in place
                    # (`cp -p`): never removed unread (white-box audit CN 3), nor its intake marked
                    # complete; read again once settled, it is this intake's (the same bytes:
                    # removed then) or a new upload. Kept as "a new upload" with the intake
                    # complete, the same bytes were refused into failed/ as "already delivered"
                    # (helper EZ 1); removed once the bytes read the same, a rewrite in place still
                    # under way was lost (review FG 1).
                    self._keep_to_read_again(path, _key, st)
                    touched.add(_key)
                    self.tracker.track(path)
                    continue
                if same_file:
                    try:
                        path.unlink()
                        self._took_out(path)
                    except FileNotFoundError:
                        pass
                    except OSError as exc:
                        # One manifest that cannot go (its folder changed meanwhile) must not hold
                        # back the others: it is tried again later, and said.
                        if path not in self._not_removed:
                            self._not_removed.add(path)
                            log.warning("intake.manifest_not_removed", manifest=str(path), error=str(exc))
                        retry.append((_key, path, sig, ctime))
                        continue
                    folders.add(path.parent)
            for folder in folders:
                fsync_dir(folder)
            kept = {key for key, *_ in retry} | touched
            with self.ledger.transaction():
                for key, *_ in pending:
                    if key not in kept:
                        self.ledger.complete_intake(key)
        except BaseException:
            self._unfinished[:0] = pending  # each part can be done again: tried at the next call
            raise
        self._unfinished[:0] = retry
        for folder in folders & self._consumed_dirs:
            # (a folder's manifest removed only now, its intake's try having failed: the folder is
            # removed once empty and quiet, as it is when its last file is taken)
            self._cleanup_consumed_dirs(folder)

    def _keep_to_read_again(self: Engine, path: Path, key: str, st: os.stat_result) -> None:
        """Keeps the intake ``key`` of the manifest ``path`` (``st``), changed in place after it was
        read, open until it is read again (``take_manifest``). The file is held open meanwhile, so
        that its inode is not given to another file (one uploaded anew after it is removed: review
        FI 2); past READ_AGAIN_MAX held (or where it cannot be opened), the oldest is told by its
        inode number and change time (review FK 1, 2: its intake completed instead, the file was
        refused as "already delivered"; FL: by its inode number alone, a new upload given the
        number was taken for it and removed unread)."""
        self._let_go_read_again(path)
        fd: int | None
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            fd = None
        if fd is not None and not os.path.samestat(os.fstat(fd), st):
            os.close(fd)  # (another file already: told by the inode number read before)
            fd = None
        self._read_again[path] = (key, fd, st.st_ino, st.st_ctime_ns)
        held = [p for p, (_, kept, *_) in self._read_again.items() if kept is not None]
        for oldest in held[: max(0, len(held) - READ_AGAIN_MAX)]:
            kept_key, kept, ino, ctime = self._read_again[oldest]
            self._read_again[oldest] = (kept_key, None, ino, ctime)
            if kept is not None:
                os.close(kept)

    def _let_go_read_again(self: Engine, path: Path | None = None) -> None:
        """Closes the file held for ``path`` to be read again (None: every one, the engine
        stopping: review FK 4), forgetting it."""
        for one in [path] if path is not None else list(self._read_again):
            entry = self._read_again.pop(one, None)
            if entry is not None and entry[1] is not None:
                with contextlib.suppress(OSError):
                    os.close(entry[1])

    def _finish_folder_intake(self: Engine, path: Path) -> None:
        """``_finish_intakes`` for a folder's manifest, at its intake. The intake is committed: a
        failure here (an fsync's EIO) must not skip the rest of it (the jobs' claims of their
        artwork; audit CE D1: the job stayed "Ordered" with its PDF in the inbox until a restart).
        The manifest stays in its folder, and the next call (each step's end) tries again."""
        try:
            self._finish_intakes()
        except Exception as exc:  # noqa: BLE001 - said, and tried again at the step's end
            if is_disk_full(exc):
                self._spool_full_said(exc, what="file", subject=str(path))
            elif is_ledger_damaged(exc):
                self._ledger_damaged_said(exc)
            else:
                log.warning(
                    "intake.not_finished",
                    manifest=self.rel(path),
                    error=describe_exception(exc),
                    action="the order goes on; its manifest stays in inbox/ until its copy in the job's folder is "
                    "on disk, tried again in a moment",
                )

    def _secure_copies(self: Engine) -> None:
        """The manifest copies of new job folders on disk (file and folder), and each folder's
        ``history/`` made (SPEC 4's layout), wherever the folder is by now: before any manifest
        leaves the inbox, the inbox's copy being the one that is on disk until then.

        After a crash or a power cut (``bytes`` given: the manifest as the inbox still holds it),
        a copy that is missing or cut short is written again from it first."""
        while self._unsynced:
            job_id, name, data = self._unsynced[0]
            job = self.ledger.get_job(job_id, history=False)
            job_dir = self.job_dir(job) if job is not None else None
            if job is not None and job_dir is not None and job_dir.is_dir():
                copy = job_dir / name
                if data is not None and job.manifest_name == name:
                    try:
                        have = copy.read_bytes()
                    except FileNotFoundError:
                        have = b""
                    if have != data and data.startswith(have):
                        log.info("recovery.manifest_copy", job_id=job_id, detail="written again from the inbox's")
                        atomic_write(copy, data)
                with contextlib.suppress(FileExistsError):  # (a file of that name: left as it is)
                    (job_dir / "history").mkdir(exist_ok=True)
                fsync_file(copy)
                fsync_dir(job_dir)
            self._unsynced.pop(0)

    def _recover_copies(self: Engine, data: bytes, source_name: str) -> None:
        """An intake recorded before a crash, its manifest still in the inbox: its new jobs'
        copies are checked (and written again if cut short) before the inbox's goes."""
        try:
            manifest = parse_manifest(data, source_name, tuple(self.config.hot_folders))
        except ManifestError:
            return  # (the config changed meanwhile) the copies stay as they are
        name = "manifest" + (".json" if manifest.format == "json" else ".yaml")
        for spec in manifest.jobs:
            job = self.ledger.get_job(spec.job_id, history=False)
            if job is not None and job.order_id == manifest.order_id:
                self._unsynced.append((spec.job_id, name, data))

    def _delivery_undecided(self: Engine, job: Job, action: Action) -> str | None:
        """Why ``action`` must wait: the job's PDF may be in its hot folder already (a rename into it
        that a share that stopped answering, or a crash, left unconfirmed), which is told from the
        files as soon as the hot folder answers (or the daemon starts)."""
        delivery = self.ledger.undecided_delivery(job.job_id)
        if delivery is None:
            return None
        name = Path(delivery.final_path).name
        return (
            f"job {job.job_id}'s PDF may already be in hot folder {delivery.hot_folder}: the rename of "
            f"{name} into it has not been confirmed (the hot folder did not answer, or the daemon stopped); "
            "the daemon records it (InHotFolder) or tells that it did not arrive as soon as the hot folder "
            "answers; "
            + ("reject the job then, if it did not arrive" if action is Action.REJECT else "replace it then")
        )

    def _finished_unknown(self: Engine, job_id: str) -> str | None:
        """Why a job the ledger does not know is refused: its folder is in done/ or rejected/ (with
        its STATUS.txt), finished by a ledger that is gone (put back from an older backup: audit AE
        3, the order sent again printed a second time, its old folder moved aside)."""
        folder = self.config.paths.finished_folder(job_id)
        if folder is None:
            return None
        return (
            f"job {job_id} is not in the ledger, but its folder {self.rel(folder)}/ is there: the job was "
            f"{'delivered or finished' if folder.parent == self.area('done') else 'rejected'} before, and the "
            "ledger that recorded it is gone (put back from an older backup, or lost?); it is not delivered again "
            "(its STATUS.txt says how it ended): to print it again, send the manifest with reprint: true"
        )

    def _pdf_delivered(self: Engine, job: Job) -> bool:
        """The job's PDF is in a hot folder already, its ticket not (ticket: json failed): not
        finished, but new artwork would be a second print, never a correction of the first."""
        return job.stage not in TERMINAL and self.ledger.published_delivery(job.job_id, job.generation) is not None

    @staticmethod
    def _other_order_reason(job: Job) -> str:
        return (
            f"job id {job.job_id} belongs to order {job.order_id} (taken at {job.created_at}, now "
            f"{job.status.value}); a job id names one job, whatever the order, so this manifest's job was not "
            f"taken and job {job.job_id} of order {job.order_id} was not changed"
        )

    def _made_from(self: Engine, folder: Path, data: bytes, spec: JobSpec, manifest: Manifest) -> bool:
        """Whether manifest ``data`` is the one the finished job in ``folder`` was made from
        (manifest.same_manifest)."""
        return same_manifest(data, folder, spec, manifest, tuple(self.config.hot_folders))

    def _other_artwork(self: Engine, job: Job, folder: Path | None, spec: JobSpec, base: Path) -> list[str]:
        """The artwork files beside a finished job's refused manifest (in ``base``) that are not the
        job's own: never printed (audit BI D2: a corrected PDF sent with the same manifest text was
        called "a retry or a double upload", and the operator told to remove its folder; R1: a
        refusal did not say that the artwork it brought never printed). Compared byte for byte with
        the file in the job's ``folder``, or, where that is gone (purged after retention, or a
        purge left half done: review EB 2, the same bytes sent again were said "not printed"), by
        the sha256 its last check recorded (audit BY 1)."""
        recorded = (job.preflight or {}).get("artwork_sha256") or []
        art = self.ledger.artwork(job.job_id)
        known = {a.name: digest for a, digest in zip(art, recorded, strict=True)} if len(art) == len(recorded) else {}
        other = []
        for ref, name in zip(spec.artwork, artwork_names(spec), strict=True):
            sent = base / ref.path
            if not os.path.lexists(sent):
                continue
            own = folder / "artwork" / name if folder is not None else None
            if own is not None and os.path.lexists(own):
                if not _same_bytes(sent, own):
                    other.append(ref.path)
            elif not known.get(name) or self._digest(sent) != known[name]:
                other.append(ref.path)
        return other

    def _already_done_reason(self: Engine, job: Job, same: bool = False, other: Sequence[str] = ()) -> str:
        """Why a finished job's manifest is refused; ``same``: it is the one the job was made from
        (said: a retry or a double upload needs nothing, and a reprint was advised to an operator
        whose order had printed once, as ordered: audit BD R1); ``other``: the artwork it brings
        that is not the job's (said: never printed)."""
        again = (
            " This manifest says the same as the one the job was made from (a retry or a double upload?): if "
            "so, nothing is to be done but remove this folder."
            if same
            else f" The artwork it brings ({', '.join(other)}) is not what the job was made from: it was not printed."
            if other
            else ""
        )
        if job.stage not in TERMINAL:  # _pdf_delivered
            delivery = self.ledger.published_delivery(job.job_id, job.generation)
            assert delivery is not None
            return (
                f"job {job.job_id}'s PDF {Path(delivery.final_path).name} is already in hot folder "
                f"{delivery.hot_folder}; only its job ticket failed (drop RETRY into its folder to write it). It is "
                "not delivered again with other artwork: to print it again, send the manifest with reprint: true"
            )
        status, at, rejected, purged = job.status, job.updated_at, job.stage is Stage.REJECTED, ""
        if job.purged:
            # Said as it ended (rejected, delivered, skipped) and when, not as its files' deletion.
            whole = self.ledger.get_job(job.job_id) or job
            outcome = whole.outcome() if whole.history_complete else None
            if outcome is not None:
                status, at = outcome.status, outcome.at
            rejected = whole.rejected()
            purged = f"; its files were deleted after retention on {whole.deleted_at()}"
        if rejected:
            return (
                f"job {job.job_id} was rejected earlier ({at}){purged}; it is not made "
                f"again.{again} To make it again, send the manifest with reprint: true"
            )
        if job.route == "skip" or status is JobStatus.CopyToHotFolderSkipped:
            return (
                f"job {job.job_id} was already finished without a hot folder ({status.value}, {at}){purged}; it is "
                f"not made again.{again} To make it again, send the manifest with reprint: true"
            )
        where = f" to hot folder {job.route}" if job.route else ""
        return (
            f"job {job.job_id} was already delivered{where} ({status.value}, {at}){purged}; it is not delivered "
            f"again.{again} To print it again, send the manifest with reprint: true"
        )

    def _record_intake(
        self: Engine,
        manifest: Manifest,
        spec: JobSpec,
        existing: Job | None,
        base: Path,
        manifest_name: str,
        source_name: str,
        now: datetime,
    ) -> None:
        """``manifest_name``: the copy's name in the job folder; ``source_name``: the file's name
        as it came (named in the history when it replaces an earlier manifest's artwork)."""
        artwork = self._plan_artwork(spec, base)
        # A future order's artwork may come any time before its date (audit AY 3: it failed
        # "artwork missing" hours before it was due): the wait counts from then.
        date = manifest.process_after
        # A reprint: the job was finished, or its PDF delivered (only its ticket failed).
        reprint = existing is not None and (existing.stage in TERMINAL or self._pdf_delivered(existing))
        # A job not delivered yet keeps its date where its new manifest gives none (review DX 1: a
        # storefront's artwork sent again without process_after printed an order years early, and
        # its history did not say why); a date in the past in the new manifest has it go on now.
        date_kept = (
            date is None
            and existing is not None
            and not reprint
            and existing.process_after is not None
            and existing.process_after > iso(now)
        )
        if date_kept:
            assert existing is not None and existing.process_after is not None
            date = parse_iso(existing.process_after)
        timeout = self.config.watch.artwork_timeout_seconds
        # (from its date, a calendar time; else from now, the clock's steps followed: review EO 1)
        deadline = iso(later(date, timeout) if date and date > now else self._due_in(timeout))
        process_after = iso(date) if date else None
        blocked, block_reason = decide_blocking(manifest.blocked, self.config, spec.product)
        facts: dict[str, Any] = {
            "order_id": manifest.order_id,
            "customer": manifest.customer,
            "product": spec.product,
            "quantity": spec.quantity,
            "hot_folder": spec.hot_folder,
            "attributes": dict(spec.attributes),
            "manifest_name": manifest_name,
            "process_after": process_after,
        }
        if existing is None:
            self.ledger.insert_job(
                job_id=spec.job_id,
                folder=f"{self.rel(self.area('work'))}/{spec.job_id}",
                stage=Stage.AWAITING,
                awaiting_until=deadline,
                now=now,
                **facts,
            )
            self.ledger.set_artwork(spec.job_id, artwork)
            self._record(spec.job_id, JobStatus.Ordered, SYSTEM, "", now, write=False)
            if blocked:
                self._record(spec.job_id, JobStatus.Blocked, SYSTEM, block_reason, now, write=False)
        else:
            fields: dict[str, Any] = dict(facts)
            fields.update(
                stage=Stage.AWAITING,
                awaiting_until=deadline,
                # New artwork for a blocked or failed job: ArtworkUploaded and RecreationRequested
                # are recorded when it has arrived (_check_complete). A reprint is requested now,
                # by this manifest: RecreationRequested first, then the usual statuses (SPEC 5).
                recreate=None
                if reprint
                else json.dumps(
                    {
                        "by": SYSTEM,
                        "detail": _new_manifest(
                            source_name,
                            existing,
                            spec,
                            [a.name for a in self.ledger.artwork(existing.job_id)],
                            process_after,
                            date_kept,
                        )
                        # (audit AT: the flag had no effect, and nothing said so)
                        + ("; its reprint: true changes nothing for a job not finished" if manifest.reprint else ""),
                        "uploaded": True,
                    }
                ),
                attempts=0,
                next_attempt_at=None,
                error=None,
            )
            if reprint:
                fields["generation"] = existing.generation + 1
                # (A folder of the job's kept by hand stays recorded: the reprint has its own, and a
                # start must not take the kept one for the job's: review IG 1, 2.)
            self.ledger.update_job(spec.job_id, now, **fields)
            self.ledger.set_artwork(spec.job_id, artwork)
            if not reprint and manifest.blocked is True:
                # The manifest's word for its jobs (SPEC 5: "overrides the config's blocking rules"):
                # a job it re-sends waits for a release, if it is not blocked already. The config's
                # rules are not applied again (the job was ordered, and perhaps released, before),
                # but for a product they hold that it did not have (below); and `blocked: false`
                # does not remove a Blocked entry: only a release does.
                current = self.ledger.get_job(spec.job_id)
                if current is not None and current.active_block() is None:
                    self._record(spec.job_id, JobStatus.Blocked, SYSTEM, block_reason, now, write=False)
            elif (
                not reprint
                and manifest.blocked is None
                and (detail := blocked_by_product_change(self.config, existing.product, spec.product))
            ):
                # Held as a new order of its new product is.
                current = self.ledger.get_job(spec.job_id)
                if current is not None and current.active_block() is None:
                    self._record(spec.job_id, JobStatus.Blocked, SYSTEM, detail, now, write=False)
            if reprint:
                # A Blocked entry still active from before (a job rejected while blocked) belongs to
                # the old delivery: the reprint is a new one, blocked or not by its own manifest.
                # Left active, it kept the job "blocked" for ever, as a release removes one entry.
                before = self.ledger.get_job(spec.job_id)
                old_block = before.active_block() if before is not None else None
                if old_block is not None:
                    self.ledger.remove_status(old_block.id, spec.job_id, SYSTEM, "reprint", now)
                self._record(spec.job_id, JobStatus.RecreationRequested, SYSTEM, "reprint", now, write=False)
                if blocked:
                    self._record(spec.job_id, JobStatus.Blocked, SYSTEM, block_reason, now, write=False)
        if process_after and process_after > iso(now) and (existing is None or reprint):
            # (a blocked or failed job's new artwork: FutureOrder follows its RecreationRequested,
            # recorded in _check_complete)
            zone = "" if manifest.process_after_zoned else " (the manifest gave no time zone: taken as UTC)"
            self._record(
                spec.job_id, JobStatus.FutureOrder, SYSTEM, f"process after {process_after}{zone}", now, write=False
            )
        missing = [a.name for a in artwork if a.source and not os.path.exists(a.source)]
        if missing:
            # A job's new manifest whose artwork is not there (yet): said now, not only once its
            # artwork comes (ArtworkUploaded "new manifest ..."), which it may never (audit Q 2).
            again = f"new manifest {source_name}: " if existing is not None and not reprint else ""
            self._record(
                spec.job_id,
                JobStatus.AwaitingData,
                SYSTEM,
                again + "waiting for " + ", ".join(missing),
                now,
                write=False,
            )

    def _plan_artwork(self: Engine, spec: JobSpec, base: Path) -> list[Artwork]:
        return [
            Artwork(position, name, str(base / ref.path), ref.sha256, False)
            for position, (ref, name) in enumerate(zip(spec.artwork, artwork_names(spec), strict=True), start=1)
        ]

    def _drops_waiting_for(self: Engine, jobs: Sequence[Job], path: Path) -> bool:
        """True (the manifest waits) while a job it names has an operator's drop file in its folder
        in quarantine/ or failed/ not handled yet: the operator's word comes first (a REJECT dropped
        a moment before a new manifest must not be lost, nor the job printed). Up to a minute: a
        drop file is handled once it has settled."""
        waiting = []
        for job in jobs:
            folder = self._locate(job)
            if folder is None or folder.parent not in (self.area("quarantine"), self.area("failed")):
                continue
            with contextlib.suppress(OSError), os.scandir(folder) as entries:
                waiting += [
                    e.name
                    for e in entries
                    if classify_drop(e.name) is not None
                    and not self.ignored(e.name)  # (RELEASE.tmp: an upload, never acted on)
                    and e.is_file(follow_symlinks=False)
                ]
        if not waiting:
            self._manifest_held.pop(path, None)
            return False
        if path not in self._manifest_held:
            self._manifest_held[path] = self.clock.monotonic()
            log.info("manifest.waits_for_drop_files", manifest=self.rel(path), drop_files=waiting)
        elif self.clock.monotonic() - self._manifest_held[path] > DROP_FIRST_SECONDS:
            self._manifest_held.pop(path, None)
            return False
        self.tracker.track(path, activity=True)  # looked at again a settle period later
        return True

    def _prepare_rerun(self: Engine, job: Job, now: datetime) -> Path:
        """A known job gets new artwork (replacement manifest or reprint): back to work/, old files kept."""
        job_dir = self._locate(job)
        if job_dir is not None and job_dir != self.job_dir(job) and self.kept_where(job) == job_dir:
            job_dir = None  # (an operator's, said kept by retention: not the reprint's; review IG 2)
        if job_dir is None:  # purged after retention (or removed by hand): a new folder, recorded
            job_dir = self.area("work") / job.job_id
            job_dir.mkdir(parents=True, exist_ok=True)
            self.ledger.update_job(job.job_id, now, folder=self.rel(job_dir))
        for sub in ("artwork", "output"):
            folder = job_dir / sub
            if real_folder(folder):  # (never a link's folder elsewhere: audit BO D3)
                for old in sorted(folder.iterdir()):
                    self._aside(job_dir, old, now, f"{sub}-{old.name}")
        # Drop files and replacements left in the folder (in done/, where nobody reads them, or by
        # a crash) belong to the job as it was: never to act on the new delivery (a RELEASE there
        # would print a blocked reprint unseen). Kept in history/, marked unused.
        # (In quarantine/ and failed/, a drop file is the operator's live word: handled before the
        # manifest is taken, _drops_waiting_for; one still there after that wait is filed too.)
        leftovers = [p for p in job_dir.iterdir() if classify_drop(p.name) is not None]
        if real_folder(job_dir / "replace"):
            leftovers += list((job_dir / "replace").iterdir())
        if not (leftovers and job_dir.parent in (self.area("quarantine"), self.area("failed"))):
            self._note_action(job.job_id, "")  # the last action was on the job as it was
        else:
            self._note_action(
                job.job_id,
                f"{iso(now)}  not acted on, as a new manifest replaced the job's artwork first: "
                + ", ".join(p.name for p in leftovers)
                + " (kept in history/ as unused-...); drop them again if they still apply",
            )
        for old in leftovers:
            with contextlib.suppress(OSError):
                self._aside(job_dir, old, now, f"unused-{old.name}")
                log.info("rerun.drop_file_unused", job_id=job.job_id, file=old.name)
        (job_dir / "artwork").mkdir(exist_ok=True)
        (job_dir / "history").mkdir(exist_ok=True)
        for temp in job_dir.glob(".*.tmp"):  # a manifest copy cut short by a crash
            with contextlib.suppress(OSError):
                temp.unlink()
        target = self.area("work") / job.job_id
        if job_dir != target:
            self.ledger.update_job(job.job_id, now, stage=Stage.AWAITING)
            job_dir = self._rename_job_dir(job.job_id, job_dir, target, now)
        self._out_of_operator_hands(job_dir, now)
        self.ledger.update_job(job.job_id, now, output=None, output_pages=None, output_size=None)
        return job_dir

    def _refuse_jobs(
        self: Engine,
        path: Path,
        data: bytes,
        manifest: Manifest,
        refused: list[tuple[JobSpec, str]],
        others: list[str],
        base: Path,
        taken_specs: list[JobSpec],
        twins: Mapping[str, Delivery],
        sig: Signature | None = None,
        *,
        cases: Mapping[str, str] | None = None,
    ) -> None:
        """The refused jobs' manifest and artwork go to failed/ with an ERROR.txt; ``others``: those
        refused because their job id is another order's, ``twins`` those whose reprint was sent
        twice (the PDF the first made still waits), ``cases`` those whose job id is a known job's in
        other letter case (that job's id), the rest were done before. Artwork that a
        job taken from the same manifest also names stays for that job (a storefront re-sending a
        whole order with one job added names the old jobs' files again).

        ``sig``: no job was taken (nothing recorded), so the manifest itself goes into the folder, if
        unchanged since it was read (``sig``); else a copy (the jobs taken keep it: the inbox's goes
        once they are recorded)."""
        accepted = [spec.job_id for spec in taken_specs]
        needed = {base / ref.path: spec.job_id for spec in taken_specs for ref in spec.artwork}
        left: list[str] = []
        wanted: list[str] = []  # by another order's job or manifest
        contested: list[str] = []  # come just now, with this manifest, and waited for by another job
        moving: dict[Path, str] = {}  # artwork that goes into the folder's artwork/
        beside: dict[Path, str] | None = None
        for spec, _ in refused:
            for ref in spec.artwork:
                src = base / ref.path
                if src in needed:
                    left.append(f"{ref.path} (job {needed[src]})")
                    continue
                if not src.is_file():
                    continue
                waiting = self._waiting(src)
                if base == self.area("inbox") and any(
                    self._order_of(job_id) != manifest.order_id for job_id, _ in waiting
                ):
                    # Not taken yet by the job of another order that waits for a file of its name: it
                    # came with this manifest, a moment ago, and may be this order's file as well as
                    # that job's; nobody takes it (_take_artwork; audit AT D2: the waiting job printed
                    # it).
                    contested.append(f"{ref.path} (job {waiting[0][0]} waits for a file of that name)")
                    continue
                if waiting:
                    wanted.append(f"{ref.path} (job {waiting[0][0]} waits for it)")
                    continue
                if beside is None:
                    beside = self._artwork_named_beside(path) if base == self.area("inbox") else {}
                if src in beside:
                    # Sent together with its twin `reprint: true` (or another order naming the file):
                    # that manifest takes the file in its turn.
                    wanted.append(f"{ref.path} (manifest {beside[src]} names it)")
                elif src not in moving:
                    # At the path the manifest names it by (a/x.pdf and b/x.pdf are two files): the
                    # manifest sent again with artwork/'s contents beside it finds them.
                    moving[src] = Path(ref.path).as_posix()
        moved = list(moving.values())
        # Sent again as the fix says, the manifest needs its artwork beside it again.
        artwork = f", together with its artwork (moved here, into artwork/: {', '.join(moved)})" if moved else ""
        problems = [reason for _, reason in refused]
        if left:
            problems.append(
                "artwork that a job taken from this manifest also uses was left to that job, not copied here: "
                + ", ".join(dict.fromkeys(left))
            )
        if wanted:
            problems.append(
                "artwork that another manifest or job also names was left in inbox/ for it, not moved here: "
                + ", ".join(dict.fromkeys(wanted))
            )
        if contested:
            problems.append(
                "artwork that came with this manifest and that a job of another order waits for by the same name: "
                "which order's it is cannot be told, so that job does not take it; it is set aside in failed/ "
                "(a folder of its own, with an ERROR.txt): " + ", ".join(dict.fromkeys(contested))
            )
        cases = cases or {}
        repeats = len(others) + len(twins) + len(cases) < len(refused)
        taken = ", ".join(accepted)
        # (nothing to print twice for a job that was rejected or skipped: not said of it)
        printed = [
            spec
            for spec, _ in refused
            if spec.job_id not in others and spec.job_id not in cases and self._was_printed(spec.job_id)
        ]
        fix = "Nothing was printed twice." if printed or not repeats else "Nothing was printed."
        if accepted:
            problems.append(f"the other jobs of this manifest were taken and go on as usual: {taken}")
        if repeats and accepted:
            # The manifest in this folder names the accepted jobs too: sent back as it is with
            # reprint: true, it would print them a second time.
            fix += (
                " If a job above must be printed again, put a manifest into inbox/ with `reprint: true` and "
                f"only that job{artwork}: remove {taken} from it first, or they are printed again too."
            )
            artwork = ""  # said once
        elif repeats:
            fix += (
                " If the job must be printed again, add `reprint: true` to the manifest and put it into inbox/ "
                f"again{artwork}."
            )
            artwork = ""
        for job_id, delivery in twins.items():
            fix += (
                f" If job {job_id} must be printed once more, put this manifest into inbox/ again{artwork} once the "
                f"printer has taken {Path(delivery.final_path).name} from hot folder {delivery.hot_folder}"
                + (f", without {taken} (or they are printed again too)" if accepted else "")
                + "."
            )
            artwork = ""
        if others:
            fix += (
                f" For {', '.join(others)}: give the job another job_id (or leave job_id out: it then defaults to "
                f'"{manifest.order_id}-<n>", n counting the jobs from 1) and put the manifest into inbox/ again'
                + (f" without {taken}" if accepted else "")
                + f"{artwork}."
            )
        for job_id, twin in cases.items():
            fix += (
                f" For {job_id}: write its job_id (or, where it is left out, the order_id) as job {twin}'s is written "
                f"if it is that job, or give it its own job_id; then put the manifest into inbox/ again"
                + (f" without {taken}" if accepted else "")
                + f"{artwork}."
            )
            artwork = ""
        text = error_text(
            f"Manifest {self._manifest_shown(path)} (order {manifest.order_id}): {_not_taken(refused, accepted)}",
            problems,
            fix,
        )
        try:
            unchanged = sig is not None and signature(os.stat(path)) == sig
        except FileNotFoundError:
            unchanged = False
        if path.parent != self.area("inbox") and not self.ledger.intake_under(str(path.parent)):
            # A folder drop, emptied by this refusal: remembered as one a manifest came in, so that
            # one a crash leaves before its removal (once quiet) is removed at the next start, as a
            # taken one is (_tidy_inbox_folders; audit P 1: it stayed in the inbox for good).
            # (with no order: it was not taken in, and what was left in its folder is not said to
            # come with a manifest taken in: audit GR 5)
            key = hashlib.sha256(data).hexdigest() + ":" + self.rel(path)
            self.ledger.record_intake(key, str(path), REFUSED_INTAKE, self.clock.now(), completed=True)
        target = self._put_refusal(
            self._failed_name(path), text, path, path.name, artwork=moving, copy=None if unchanged else data
        )
        if path.parent == self.area("inbox"):
            # The refused jobs' files at the top of inbox/ (not those a job taken from it names): one
            # that comes now is not taken by another order's waiting job (_take_artwork).
            names = {
                ref.path
                for spec, _ in refused
                for ref in spec.artwork
                if "/" not in ref.path and base / ref.path not in needed
            }
            if names:
                listed = "\n".join(sorted(names)).encode("utf-8", "surrogateescape")
                self._note_refusal(target, listed, manifest.order_id)
        # Folders of inbox/ the artwork came from, emptied: removed once quiet, as when a job takes it.
        for src in moving:
            self._took_out(src)
        self._consumed_dirs.update(src.parent for src in moving if src.parent != self.area("inbox"))
        self._cleanup_consumed_dirs()
        log.warning(
            "manifest.jobs_refused",
            manifest=str(path),
            order_id=manifest.order_id,
            job_ids=[s.job_id for s, _ in refused],
            folder=self.rel(target),
        )

    def _was_printed(self: Engine, job_id: str) -> bool:
        """Whether a job refused as done ever reached a hot folder (not so if only rejected or skipped)."""
        job = self.ledger.get_job(job_id)
        if job is None:
            return False
        # (not finished: its PDF is in a hot folder, only its ticket failed: _pdf_delivered)
        return job.stage not in TERMINAL or job.delivered()

    def _artwork_named_beside(self: Engine, manifest_path: Path) -> dict[Path, str]:
        """The artwork files that the other manifests at the top of inbox/ name (path -> manifest
        name): a manifest refused as already done does not take a file the next one needs (its
        `reprint: true` twin, sent at the same moment). Only files that read as manifests count."""
        named: dict[Path, str] = {}
        folder = manifest_path.parent
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            candidates = [
                e
                for e in entries
                if e.name != manifest_path.name
                and e.name.lower().endswith(MANIFEST_SUFFIXES)
                and not self.ignored(e.name)
                and e.is_file(follow_symlinks=False)
            ]
        for entry in candidates[:1000]:
            try:
                with open(entry.path, "rb") as fh:
                    data = fh.read(MAX_MANIFEST_BYTES + 1)
                other = parse_manifest(data, entry.name, tuple(self.config.hot_folders))
            except (OSError, ManifestError):
                continue
            for spec in other.jobs:
                for ref in spec.artwork:
                    named.setdefault(folder / ref.path, entry.name)
        return named

    def _manifest_shown(self: Engine, path: Path) -> str:
        """A manifest as its ERROR.txt names it: with its folder for a folder drop (every one is
        manifest.yaml; audit, soak 3: "Manifest manifest.yaml" said nothing of which)."""
        # (printable: a name sent over SFTP or rsync may hold a line break or a terminal's escape
        # codes, which ERROR.txt showed as they came: audit CX 4)
        shown = path.name if path.parent == self.area("inbox") else f"{path.parent.name}/{path.name}"
        return printable(shown)

    def _failed_name(self: Engine, path: Path) -> str:
        return path.parent.name if path.parent != self.area("inbox") else path.name

    def _reject_manifest(
        self: Engine,
        path: Path,
        folder_manifest: bool,
        problems: list[str],
        *,
        fault: bool = False,
        fix: str | None = None,
        name: str | None = None,
    ) -> Path | None:
        """A bad manifest goes to failed/<name>/ with an ERROR.txt; it never stops the daemon.

        ``fault``: the daemon failed on it (nothing in the file to correct). The ERROR.txt says where
        the artwork is: in this folder for a folder drop; in inbox/ (until it is claimed or its
        artwork_timeout_seconds run out) for a manifest at the top of inbox/. A folder drop goes
        whole, once its client is done with it (None until then: _folder_still_arriving)."""
        if folder_manifest and not fault and self._folder_still_arriving(path):
            return None
        final = name or self._failed_name(path)
        stored = path.name
        if folder_manifest and not any(problem.startswith("this folder holds") for problem in problems):
            several = several_manifests(path.parent)  # one more came meanwhile: not read either
            if several:
                problems = [*problems, several_manifests_problem(several)]
        if folder_manifest and problems and problems[0].startswith("this folder holds"):
            title = f"The manifests of folder {path.parent.name} could not be used; no job was created from them."
            fix = (
                "Send the folder into inbox/ again with only the manifest it should use (remove the others), or each "
                "order in a folder of its own with its artwork. The files are here as they came."
            )
        else:
            title = f"Manifest {self._manifest_shown(path)} could not be used; no job was created from it."
            if not fault:
                problems = [*problems, *self._rest_of_one_taken(path)]
            located = any(re.match(r"(line \d+|[A-Za-z_][\w.\[\]]*: )", problem) for problem in problems)
            # The name it has here: one too long for a folder beside it is shortened.
            stored = fit_name(path.name, NAME_MAX - 8)
            fix = fix or self._resend_text(printable(stored), folder_manifest, fault, located=located)
            if stored != path.name:
                fix += f" (Its name was too long to keep: it is here as {printable(stored)}.)"
        # A folder drop that brought a file named ERROR.txt keeps it under another name (review GQ 1:
        # the customer's file was overwritten by ours, lost).
        brought = (
            unique_path(path.parent / "ERROR.txt")
            if folder_manifest and os.path.lexists(path.parent / "ERROR.txt")
            else None
        )
        if brought is not None:
            fix += f" (The file ERROR.txt that came in the folder is here as {brought.name}.)"
        text = error_text(title, problems, fix)
        # ERROR.txt is written before anything moves: on a full disk the manifest stays where it is
        # (taken again later) rather than lying in failed/ unexplained. The folder is put together
        # under a hidden name and renamed when whole (_refusal_folder).
        if folder_manifest:
            for stale in os.listdir(path.parent):  # left by a crash before the move
                if _REFUSAL_ERROR_ANY.match(stale):
                    with contextlib.suppress(OSError):
                        (path.parent / stale).unlink()
            written = path.parent / f".spo-hotfolder-ERROR.{os.getpid()}.tmp"  # an ignored name
            building = self._refusal_folder(final, make=False)
            try:
                atomic_write(written, text)
                os.replace(path.parent, building)
            except BaseException:
                with contextlib.suppress(OSError):
                    written.unlink()
                raise
            if brought is not None and os.path.lexists(building / "ERROR.txt"):
                os.replace(building / "ERROR.txt", building / brought.name)
            os.replace(building / written.name, building / "ERROR.txt")
            target = self._file_refusal(building, final)
        else:
            # Whoever sees the folder (an operator, a script waiting for it) finds it whole.
            target = self._put_refusal(final, text, path, stored)
            self._remember_refused(target, target / stored)
        log.warning("manifest.rejected", manifest=str(path), folder=self.rel(target), problems=problems)
        return target

    def _rest_of_one_taken(self: Engine, path: Path) -> list[str]:
        """A refused manifest of the very name (and place) of one taken in a few minutes before: it
        may be the rest of that file, written in two parts by a client that closed it between them
        and paused longer than watch.settle_seconds (white-box audit DT 2: the first part was taken
        as the whole order and printed short, and this part's refusal said only "must be a
        mapping"). Said, with what to check; not for one that names an order of its own (white-box
        audit DR 2: another order's manifest refused for a typo told the operator to reject the
        order before it)."""
        try:
            with open(path, "rb") as fh:
                if b"order_id" in fh.read(65536):
                    return []  # a whole order of its own (a storefront naming each one order.yaml: DR 2)
        except OSError:
            return []
        taken = self.ledger.last_intake_from(str(path))
        if taken is None:
            return []
        order_id, at = taken
        ago = (self.clock.now() - parse_iso(at)).total_seconds()
        if not 0 <= ago <= REST_OF_MANIFEST_SECONDS:
            return []
        return [
            f"a manifest of this very name was taken in {ago:.0f} s before this one came (order {order_id}): if this "
            "is the rest of that file (a client that wrote it in parts, pausing longer than watch.settle_seconds "
            f"between them), order {order_id} was taken from its first part only: check its jobs (spo-hotfolder jobs, "
            "show JOB), reject those made short, and send the whole manifest again (with reprint: true for jobs "
            "delivered already)"
        ]

    def _refusal_folder(self: Engine, name: str, *, make: bool = True, aside: bool = False) -> Path:
        """A hidden folder in failed/ where a refusal is put together (its ERROR.txt first, then
        the manifest and its files), renamed to ``name`` (``_file_refusal``) once whole. A crash
        meanwhile leaves it hidden, and the next start finishes it (``_recover_refusals``): no
        folder in failed/ without its ERROR.txt, empty, or with a temp file only, and no manifest
        lost in a folder half made (audit, soak 2: a kill while a manifest was refused lost it)."""
        mark = ASIDE_MARK if aside else ""
        folder = (
            self.area("failed") / f"{REFUSAL_PREFIX}{mark}{os.getpid()}-{next(_REFUSAL_IDS)}.{safe_folder_name(name)}"
        )
        if make:
            folder.mkdir(parents=True)
        return folder

    def _put_refusal(
        self: Engine,
        final: str,
        text: str,
        manifest: Path,
        stored: str,
        *,
        artwork: Mapping[Path, str] | None = None,
        copy: bytes | None = None,
    ) -> Path:
        """failed/<final>/, put together hidden (_refusal_folder): ERROR.txt, then ``artwork`` (where
        each file is -> its name in artwork/), then the manifest last, moved in as ``stored`` (or
        ``copy`` written there: the jobs taken keep the inbox's), so that a folder holding it is
        whole (_recover_refusals). A failure half way (a full disk) puts everything back, to be
        tried again."""
        building = self._refusal_folder(final)
        placed: list[tuple[Path, Path]] = []
        try:
            atomic_write(building / "ERROR.txt", text)
            if artwork:
                inbox = self.area("inbox")
                came = b"" if manifest.parent == inbox else os.fsencode(manifest.parent.relative_to(inbox))
                atomic_write(building / _ORIGIN, came)
            for src, name in (artwork or {}).items():
                with contextlib.suppress(FileNotFoundError):  # (gone meanwhile: nothing to keep)
                    placed.append((move(src, building / "artwork" / name), src))
            if copy is None:
                os.replace(manifest, building / stored)
            else:
                atomic_write(building / stored, copy)
            if artwork:
                (building / _ORIGIN).unlink(missing_ok=True)  # (whole: a recovery files it as it is)
        except BaseException:
            for there, src in placed:
                with contextlib.suppress(OSError):
                    move(there, src)
            shutil.rmtree(building, ignore_errors=True)
            raise
        return self._file_refusal(building, final)

    def _file_refusal(self: Engine, building: Path, name: str) -> Path:
        """The refusal put together in ``building`` under its name in failed/: one rename."""
        fsync_dir(building)
        target = self._new_failed_folder(name)
        os.replace(building, target)  # (free: a folder of that name would be replaced only if empty)
        fsync_dir(target.parent)
        return target

    def _recover_refusals(self: Engine) -> None:
        """At start (and at each rescan: an error after the manifest moved leaves one too): a
        refusal cut short (its hidden folder in failed/) is filed under its name when the manifest
        is in it (its ERROR.txt was written before the manifest came), or removed when not (the
        manifest never left inbox/, and is refused again). Refusals are made on the engine thread,
        as this is: none is being put together meanwhile."""
        failed = self.area("failed")
        try:
            with os.scandir(failed) as entries:
                left = [
                    Path(e.path)
                    for e in entries
                    if e.name.startswith(REFUSAL_PREFIX) and e.is_dir(follow_symlinks=False)
                ]
        except OSError:
            return
        inbox = self.area("inbox")
        emptied = False
        for building in left:
            final = building.name[len(REFUSAL_PREFIX) :].partition(".")[2] or "refused"
            if building.name[len(REFUSAL_PREFIX) :].startswith(ASIDE_MARK):
                if self._recover_aside(building, final):
                    # The folder drop its files came from, emptied of some: removed once quiet and
                    # empty, as one set aside whole is (review GR 4: its emptied sub-folders stayed).
                    origin = _drop_named(inbox, final)
                    if origin is not None:
                        self._consumed_dirs.add(origin)
                        emptied = True
                continue
            # A folder drop's refusal is named after its folder: the artwork came from there, and
            # the folder, emptied, goes once quiet (audit, soak 3: it stayed in inbox/, empty).
            art = building / "artwork"
            origin = self._refusal_origin(building, inbox, final, has_artwork=os.path.lexists(art))
            drop = origin if origin is not None and origin != inbox else None
            names = os.listdir(building)
            for name in [n for n in names if _REFUSAL_ERROR_ANY.match(n)]:
                if _REFUSAL_ERROR_WHOLE.match(name):  # a folder drop's, whole
                    if os.path.lexists(building / "ERROR.txt"):  # (the folder's own: ours is not in yet)
                        move(building / "ERROR.txt", building / "ERROR.txt")  # (as ERROR.txt-2: GQ 1)
                    os.replace(building / name, building / "ERROR.txt")
                else:
                    (building / name).unlink()
            # (the manifest is what tells a whole refusal; artwork/ is ours where it is a folder)
            ours_art = not os.path.lexists(art) or (art.is_dir() and not art.is_symlink())
            if (origin is not None or not os.path.lexists(art)) and ours_art and _ours_alone(names):
                # The manifest never came (it is in inbox/, refused again): artwork moved in goes back
                # where it came from, to be found again with it.
                # (at their paths: artwork named a/x.pdf is in artwork/a/)
                for file in sorted(p for p in art.rglob("*") if p.is_symlink() or not p.is_dir()):
                    move(file, (origin or inbox) / file.relative_to(art))
                if not _only_ours(building):
                    target = self._file_refusal(building, final)  # (what could not go back: kept, said)
                    log.info("recovery.refusal_filed", folder=self.rel(target))
                    continue
                shutil.rmtree(building, ignore_errors=True)
                log.info(
                    "recovery.refusal_removed",
                    folder=self.rel(building),
                    reason="cut short before its manifest (or the files set aside) left inbox/: handled again there",
                )
                continue
            if origin is None and _ours_alone(os.listdir(building)):
                # Neither its manifest nor the folder it came from is anywhere: its artwork stays
                # here, said (not put at the top of inbox/, where another order may take it: GR 1).
                with contextlib.suppress(OSError):
                    said = (building / "ERROR.txt").read_text("utf-8", errors="replace")
                    atomic_write(
                        building / "ERROR.txt",
                        said.rstrip("\n") + "\n\n(The daemon stopped while it filed this refusal, and the folder "
                        "its files came from was gone at its next start: the manifest is not here, only its "
                        "artwork.)\n",
                    )
            target = self._file_refusal(building, final)
            log.info("recovery.refusal_filed", folder=self.rel(target))
            if drop is not None:
                self._consumed_dirs.add(drop)
                emptied = True
        if emptied:
            self._cleanup_consumed_dirs()

    def _refusal_origin(self: Engine, building: Path, inbox: Path, final: str, *, has_artwork: bool) -> Path | None:
        """(``_recover_refusals``) Where the artwork of a refusal cut short came from: the folder its
        mark (``_ORIGIN``) names, while it is one, or the top of inbox/; None where that is not
        known (then its artwork stays with the refusal). The mark is read and removed."""
        mark = building / _ORIGIN
        try:
            came = mark.read_bytes() if mark.is_file() and not mark.is_symlink() else None
        except OSError:
            came = None
        with contextlib.suppress(OSError):
            mark.unlink(missing_ok=True)
            # (and the temp of one a kill cut short as it was written: review HA 2, it was taken for
            # a file of the refusal's, and a folder with ERROR.txt and that file alone was filed)
            for temp in building.glob(f".{_ORIGIN}.*.tmp"):
                temp.unlink()
        if came is None:
            # (no mark: nothing was moved in yet, or a refusal made before marks, whose artwork stays)
            return None if has_artwork else _drop_named(inbox, final)
        if not came:
            return inbox
        origin = inbox / os.fsdecode(came)
        return origin if origin.is_dir() and not origin.is_symlink() else None

    def _recover_aside(self: Engine, building: Path, final: str) -> bool:
        """(``_recover_refusals``) A folder of files set aside, cut short: filed under its name as it
        is when any file is in it (its first ERROR.txt says the daemon stopped meanwhile; the
        entry's other files are set aside again in their turn), removed when nothing but our own
        ERROR.txt is (the files are still in inbox/). Never a refusal's rules: a file set aside may
        be named "artwork" (review GO 1: one so named was deleted at the restart), or like a temp
        of ours (GP 1: ".order.json.7.tmp", where watch.ignore lets dot-names in): ours are told
        by their exact names, ERROR.txt (written first: a file of that name moved in later gets
        another) and its temp of the pid that made the folder. True when it is filed."""
        pid = building.name[len(REFUSAL_PREFIX) + len(ASIDE_MARK) :].partition("-")[0]
        temp = building / f".ERROR.txt.{pid}.tmp"
        with contextlib.suppress(OSError):
            temp.unlink()
        if nothing_set_aside(building):  # (empty folders made for files not moved in yet count as none: GQ)
            shutil.rmtree(building, ignore_errors=True)
            log.info(
                "recovery.set_aside_removed", folder=self.rel(building), reason="cut short before a file was in it"
            )
            return False
        target = self._file_refusal(building, final)
        log.info("recovery.set_aside_filed", folder=self.rel(target))
        return True

    def _folder_still_arriving(self: Engine, manifest: Path) -> bool:
        """Whether the folder of ``manifest`` (refused) has changed within ``_quiet_seconds``; if so,
        the manifest is looked at again when that time is over. A folder is uploaded a file at a
        time: moved to failed/ the moment its manifest was refused, the next file its client sent
        failed on the client ("path not found": smbclient, Explorer, FileZilla, WinSCP), or came
        into a folder of the same name made again in inbox/, apart from the rest (audit, clients
        F1 b). As for an emptied order folder, quiet means unchanged since the first look. A folder
        that never stops changing (a program writing a log into it) goes after
        artwork_timeout_seconds, the longest the daemon waits for an upload."""
        now = self.clock.monotonic()
        held = _tree_signature(manifest.parent)
        seen = self._refused_arriving.get(manifest)
        if seen is None:
            if len(self._refused_arriving) > 10_000:
                self._refused_arriving.clear()
            first = now
            log.info(
                "manifest.refused_folder_settling",
                manifest=self.rel(manifest),
                reason="the folder goes to failed/ once nothing in it has changed for "
                f"{self._quiet_seconds():g} s (its client may still be uploading into it)",
            )
        else:
            first = seen[2]
            if now - first >= self.config.watch.artwork_timeout_seconds or (
                seen[1] == held and now - seen[0] >= self._quiet_seconds()
            ):
                del self._refused_arriving[manifest]
                return False
        since = seen[0] if seen is not None and seen[1] == held else now
        self._refused_arriving[manifest] = (since, held, first)
        self.tracker.hold(manifest, since + self._quiet_seconds() - now)
        return True

    def _remember_refused(self: Engine, folder: Path, manifest: Path, at: float | None = None) -> None:
        """A refused manifest from the top of inbox/ (in its ``folder`` of failed/), its text kept in
        memory a while if small (``at``: when it was refused, monotonic; now if not given)."""
        with contextlib.suppress(OSError):
            # (a linked manifest is never read; nor a named pipe set aside there, whose open would
            # wait for a writer for ever: audit BN D1, a start that hung before its first job)
            with open_regular(manifest, follow=False) as handle:
                data = handle.read(REFUSED_KEPT_BYTES + 1)
            if len(data) <= REFUSED_KEPT_BYTES:
                self._note_refusal(folder, data, _order_in(data), at)

    def _note_refusal(self: Engine, folder: Path, text: bytes, order_id: str | None, at: float | None = None) -> None:
        """A refusal kept in memory: the manifest's ``text`` (or the names of the files its refused
        jobs name, one a line) and its ``order_id`` (None: not known), so that a file it names, left
        unclaimed in the inbox, is told where it is (_refused_naming), and is not taken by another
        order's job as it comes (_refused_naming_since)."""
        when = self.clock.monotonic() if at is None else at
        self._refused_manifests.append((when, self.rel(folder), text, order_id))

    def _refused_naming(self: Engine, name: str, limit: float) -> list[str]:
        """The failed/ folders (relative) of the manifests refused in this run within the last
        ``limit`` seconds (and a minute) whose text names ``name``: an unclaimed file's ERROR.txt
        names the manifest it came with (audit, 2026-12-03: "no manifest named it", its refused
        manifest unnamed among dozens of failed/ folders). At most 5, newest first."""
        since = self.clock.monotonic() - limit - 60
        while self._refused_manifests and self._refused_manifests[0][0] < since:
            self._refused_manifests.popleft()
        needle = name.encode("utf-8", "surrogateescape")
        found = [folder for _, folder, data, _order in reversed(self._refused_manifests) if needle in data]
        return list(dict.fromkeys(found))[:5]

    def _refused_naming_since(self: Engine, name: str, since: float, *, other_than: str) -> list[str]:
        """The failed/ folders (relative) of the manifests from the top of inbox/ refused at or after
        ``since`` (monotonic) whose text names ``name`` (as a whole name: not "a-shared.pdf" for
        "shared.pdf"), of another order than ``other_than`` (or of an order not known: a manifest
        that could not be read), newest first."""
        recent = [entry for entry in self._refused_manifests if entry[0] >= since and entry[3] != other_than]
        if not recent:
            return []  # (the usual case: a file taken with no refusal near it, looked at without a regex)
        pattern = re.compile(rb"(?<![\w.-])" + re.escape(name.encode("utf-8", "surrogateescape")) + rb"(?![\w.-])")
        found = [folder for _at, folder, data, _order in reversed(recent) if pattern.search(data)]
        return list(dict.fromkeys(found))[:5]

    def _order_of(self: Engine, job_id: str) -> str | None:
        job = self.ledger.get_job(job_id, history=False)
        return job.order_id if job is not None else None

    def _resend_text(self: Engine, name: str, folder_manifest: bool, fault: bool, *, located: bool = True) -> str:
        """``located``: the problems name lines or keys (not so for a file too big, or a link)."""
        if fault:
            first = f"Once the administrator has looked into it, put {name}"
        elif located:
            first = f"Correct {name} (the lines and keys above say where) and put it"
        else:
            first = f"Correct {name} as said above and put it"
        if folder_manifest:
            return (
                f"{first} into inbox/ again together with its artwork, as the whole folder (its artwork is in "
                "this folder). The daemon did not change the files."
            )
        wait = human_seconds(self.config.watch.artwork_timeout_seconds)
        return (
            f"{first} into inbox/ again. Its artwork, if it came into inbox/ beside it, stays there for {wait} "
            "(watch.artwork_timeout_seconds), counted from when it was complete: a manifest sent within that "
            "time takes it; after that, each file goes to failed/ with its own ERROR.txt. The daemon did not change "
            "the file."
        )


def _other_case_reason(job_id: str, twin: str) -> str:
    """Audit AH R4: job ids differing only in letter case made two jobs whose folders a Windows
    share (where operators work) shows as one."""
    return (
        f"job id {job_id} differs from that of job {twin} only in letter case: their folders would be one "
        "folder on a Windows share, so this manifest's job was not taken"
    )
