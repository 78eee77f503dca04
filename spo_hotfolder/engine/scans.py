"""Hints, scans and stability: what the watcher and the rescans report, and when a file is taken.

A part of the class ``Engine`` (``engine/core.py``), kept in a module of its own; its methods
run on the engine's thread, ``self`` being the Engine."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from spo_hotfolder.clock import iso
from spo_hotfolder.engine.base import (
    HASH_AHEAD_MIN_BYTES,
    JOB_SUBFOLDERS,
    NOT_USED,
    NOT_USED_BESIDE_JOBS,
    NOT_USED_PDF,
    _keep_newest,
    _rel_parts,
    has_status_file,
    log,
    not_used_original,
    sticky_for_us,
)
from spo_hotfolder.engine.state import EngineState
from spo_hotfolder.fsutil import (
    atomic_write,
    fit_name,
    group_name,
    move,
    readable,
    real_folder,
    safe_folder_name,
    undecodable,
    unique_path,
    user_name,
)
from spo_hotfolder.ledger import Job, Stage, is_ledger_damaged
from spo_hotfolder.manifest import (
    MANIFEST_NAMES,
    MANIFEST_SUFFIXES,
    UPLOAD_SUFFIXES,
    misnamed_manifest,
    upload_target,
)
from spo_hotfolder.operator import classify_drop
from spo_hotfolder.reports import error_text
from spo_hotfolder.stability import Signature, signature

#: A manifest the daemon itself fails on (a fault of ours, not a problem it can name in the file)
#: is tried this many times, then put into failed/ with an explanation instead of staying for good.
MANIFEST_FAULTS = 3
#: A round of files taken uses the listings of the round before when it began this little later
#: (``_round_listings``): ``_take_stable``'s budget, so a listing so used is at most about twice as
#: old as one a round makes itself.
LISTING_REUSE_SECONDS = 0.25
#: OSErrors that say a name is wrong (too long, not valid on that filesystem), not that the disk
#: failed: the same on every try, so a manifest they stop counts them as faults.
NAME_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL})


#: How many folders deep a scan (and the poller) looks into inbox/: as deep as inotify sees, for
#: any order a person or a tool nests (white-box audit DA 4: files 9 folders deep were never seen
#: by a scan or the poller, only by inotify); bounded as a folder bound onto its own parent would
#: make the walk endless.
INBOX_DEPTH = 64


def _top_only(depth: int, name: str) -> bool:
    return False


def _refuses_listing(folder: Path) -> bool:
    """Whether the daemon's user may not list ``folder`` (False too where it is gone, or no folder)."""
    try:
        with os.scandir(folder):
            return False
    except OSError as exc:
        return exc.errno in (errno.EACCES, errno.EPERM)


#: What a job folder in quarantine/ holds, made again where deleted by hand (``_mend_job_folder``)
_MENDED = frozenset(("replace", "STATUS.txt"))
#: ... and one in failed/ (its ERROR.txt, written again from the recorded reason)
_MENDED_FAILED = _MENDED | {"ERROR.txt"}


if TYPE_CHECKING:
    from spo_hotfolder.engine.core import Engine


#: What an ERROR.txt of an inbox entry whose names are not UTF-8 advises.
_NOT_UTF8_ADVICE = (
    "Rename it to a UTF-8 name (as shown above, or plain ASCII) and put it back into inbox/; so that it does not "
    "happen again, set the client (FTP: UTF-8 option) or the share (Samba: 'unix charset = UTF-8') to UTF-8, and "
    "unpack a zip made by Windows with 'unzip -O cp850' or 7-Zip."
)


class EngineScans(EngineState):
    """The Engine's methods for hints, rescans and stability (this module's docstring says what they do)."""

    def _drain_hints(self: Engine) -> list[Path]:
        """The watcher's events since the last call, into the tracker; returns the files tracked."""
        tracked: list[Path] = []
        with self._hint_lock:
            hints, self._hints = self._hints, {}
            moves, self._folder_moves = self._folder_moves, []
        if self._kept_listings is not None:
            # A name new in a folder (an upload's temporary one too) makes its listing old; a
            # folder renamed, every listing.
            self._listings_old(set(self._kept_listings[1]) if moves else {path.parent for path in hints})
        for old, new, missing in moves:
            self._guard("intake", str(old), lambda o=old, n=new, m=missing: self._on_folder_moved(o, n, m))
        inbox = self.area("inbox")
        for path, (moved_in, seen) in hints.items():
            kind, job_folder = self._classify(path)
            if kind == "ignore" and (outer := self._job_folder_above(path)) is not None and real_folder(path):
                # A job's folder dragged into another job's output/, artwork/ or history/ (audit AR D1)
                self._guard("drop", str(path), lambda f=outer, p=path: self._on_folder_inside(f, p))
                continue
            if kind == "ignore":
                self._note_upload(path, seen)
                continue
            if kind in ("drop", "replace") and job_folder is not None and real_folder(path):
                self._guard("drop", str(path), lambda f=job_folder, p=path: self._on_drop_folder(f, p))
                continue
            if kind == "stray" and job_folder is not None and real_folder(path):
                self._guard("drop", str(path), lambda f=job_folder, p=path: self._on_folder_inside(f, p))
                continue
            orphan = self._orphans.pop(path, None)
            at_top = path.parent == inbox
            before = self._version_before(path, orphan) if kind == "data" and at_top else None
            if kind == "data" and path.name.lower().endswith(UPLOAD_SUFFIXES):
                self._note_upload(path, seen)  # x.pdf.filepart, which watch.ignore does not list (CC 4)
            began = self._upload_start(path) if kind == "data" else None
            self.tracker.track(path, activity=True, complete=moved_in, seen=seen, began=began)
            tracked.append(path)
            if kind == "data" and path not in self.tracker and real_folder(path) and _refuses_listing(path):
                self._said_unreadable(path)  # a folder made or moved into the inbox that we may not read: said now
            if before is not None:
                self._note_new_version(path, before, seen)
            elif kind == "data" and at_top:
                self._written_over(path)  # (first seen: its end, what its next look compares with)
            elif kind == "manifest" and at_top:
                self._note_unread(path)
        return tracked

    def _note_unread(self: Engine, path: Path) -> None:
        """A manifest at the top of inbox/, tracked (not read yet), noted by the file names it
        mentions (UnreadManifests); one gone, or no file, forgotten."""
        sig = self.tracker.signature_of(path)
        if sig is None:
            self._unread.forget(path)
        else:
            self._unread.note(path, sig)

    def _on_folder_moved(self: Engine, old: Path, new: Path, missing: frozenset[str] = frozenset()) -> None:
        """A folder in the inbox renamed while jobs wait for artwork in it (audit E 3: an operator's
        "New folder" renamed to the order's name while its PDF was still being copied in): the files
        are awaited under the new name, and the folder is removed once emptied as before. (Polling
        tells a rename by the folder's inode and files, FolderPoller._renamed: files the folder
        held at the poller's last look and the new one does not, ``missing``, must be ones this
        daemon took out, its manifest taken in; else the new folder is another that got the inode.)"""
        if any(old / name not in self._taken_out for name in missing):
            return
        if any(path.parent == old and os.path.lexists(new / path.name) for path in self._taken_out):
            # A file this daemon took out of the folder is there again under the new name: another
            # folder that got the removed one's inode, the next order's with its own manifest.json
            # (review EN 1: taken for a rename, the removed folder's job printed its artwork.pdf).
            return
        inbox = self.area("inbox")
        if (outer := self._job_folder_above(new)) is not None:
            # A job's folder dragged into another job's output/, artwork/, history/ or replace/: a
            # move, which the watcher reports as such (audit AS R1: put back only when the other
            # folder left).
            self._on_folder_inside(outer, new)
            return
        if inbox not in old.parents or inbox not in new.parents:
            return
        for folder in [f for f in self._consumed_dirs if f == old or old in f.parents]:
            self._consumed_dirs.discard(folder)
            self._consumed_dirs.add(new / folder.relative_to(old))
        jobs = self.ledger.move_awaited(str(old), str(new))
        if not jobs:
            return
        log.info("inbox.folder_renamed", old=self.rel(old), new=self.rel(new), jobs=jobs)
        for job_id in jobs:
            self._note_action(
                job_id,
                f"its folder {self.rel(old)} was renamed {self.rel(new)}: its artwork is awaited there",
            )
            self._write_status(job_id)

    @contextlib.contextmanager
    def _round_listings(self: Engine) -> Iterator[None]:
        """One listing of each folder for a round of files taken (``_listed``, ``_uploads_listed``),
        not one for each claim in it; a round inside another uses the outer one's. A round begun
        within LISTING_REUSE_SECONDS of the one before uses its listings too, but of the folders
        the watcher told of nothing new in since (``_drain_hints``): between two jobs a round
        takes a few files, and with 10,000 orders waiting at start each listed the inbox's 20,000
        names anew (most of the engine's time: 27 jobs/s). Not where the watcher polls: a poller
        tells of no upload's temporary name (watch.ignore), and of the rest only at its next look
        (review BT: an upload begun beside a file lying there would not hold it)."""
        if self._listings is not None:
            yield
            return
        made = time.monotonic()
        listings: dict[Path, list[str]] = {}
        uploads: dict[Path, set[str]] = {}
        kept = self._kept_listings
        if kept is not None and made - kept[0] < LISTING_REUSE_SECONDS and not self.polling_watch():
            made, listings, uploads = kept  # (at most about twice as old as a round's own may become)
        self._listings, self._upload_names = listings, uploads
        try:
            yield
        finally:
            self._kept_listings = (made, listings, uploads)
            self._listings, self._upload_names = None, {}

    def _listings_old(self: Engine, folders: Iterable[Path]) -> None:
        """The listings kept of ``folders`` (``_round_listings``) are not used again."""
        if self._kept_listings is not None:
            _made, listings, uploads = self._kept_listings
            for folder in folders:
                listings.pop(folder, None)
                uploads.pop(folder, None)

    def _took_out(self: Engine, path: Path) -> None:
        """``path`` was moved (or removed) out of the inbox by the engine: a poller that last saw it in
        a folder renamed since may name it (_on_folder_moved)."""
        self._taken_out[path] = None
        self._unmovable.pop(path, None)
        _keep_newest(self._taken_out)
        self._tails.pop(path, None)

    def _note_upload(self: Engine, path: Path, seen: float) -> None:
        """An ignored inbox name that is an upload client's temporary name for a file (rsync's
        ``.x.pdf.Ab12Cd``, WinSCP's ``x.pdf.filepart``): when that upload was first seen, which is
        when ``x.pdf`` began to arrive (_owner_order; audit CA 1: the rename's time was taken)."""
        target = upload_target(path)
        if target is None or not str(path).startswith(str(self.area("inbox"))):
            return
        known = self._upload_began.get(target)
        if known is not None and known[0] == path.name:
            return  # the same upload going on (or resumed under its name, as WinSCP does)
        # Another temporary name: another upload (rsync's random suffix), whatever came before it
        # (an upload cut off: its time must not date this one, audit CC 3).
        self._upload_began.pop(target, None)
        self._upload_began[target] = (path.name, seen)
        _keep_newest(self._upload_began)  # (uploads never finished: the oldest go)

    def _upload_start(self: Engine, path: Path) -> float | None:
        """When the upload of ``path`` under a temporary name was first seen (once: it is over)."""
        began = self._upload_began.pop(path, None)
        return began[1] if began is not None else None

    def rescan(self: Engine) -> None:
        """The truth behind the events: every candidate file in the watched folders (all at once)."""
        self._scan = None
        self._rescan_requested = True
        self._scan_some(budget=None)

    def _scan_some(self: Engine, budget: float | None) -> None:
        """Goes on with the scan in progress (or starts the requested one) for ``budget`` seconds.

        A scan is done in slices: with 20,000 files waiting at start, the first of them are taken
        (and delivered) while the rest are still being listed."""
        if self._scan is None:
            if not self._rescan_requested:
                return
            self._rescan_requested = False
            if self._scans_done:  # (the first: reconcile did it)
                self._guard("intake", "", self._recover_refusals)
                self._guard("delivery", "", self._note_mounts)
                if self._misplaced:
                    self._guard("job", "", self._move_misplaced)
                if self._not_filed:
                    self._guard("drop", "", self._file_left_drops)
            self._scan = self._scan_files()
            self._scan_started = time.monotonic()
            self._scan_count = 0
        deadline = None if budget is None else time.monotonic() + budget
        inbox = self.area("inbox")
        for index, path in enumerate(self._scan):
            if path in self._orphans:
                continue
            if self._classify(path)[0] in ("ignore", "stray", "buried"):
                continue
            if path not in self.tracker:
                self.tracker.track(path, activity=False, began=self._upload_start(path))
                self._scan_count += 1
                self._listings_old([path.parent])  # (a file the watcher did not tell of)
                if path.parent == inbox and path.name.lower().endswith(MANIFEST_SUFFIXES):
                    # (found by a look, not an event: at a start, orders sent while the daemon was
                    # stopped: audit BH D1)
                    self._note_unread(path)
            if deadline is not None and index % 64 == 63 and time.monotonic() > deadline:
                return
        self._scan = None
        self._scans_done += 1
        log.debug("scan.done", new_files=self._scan_count, seconds=round(time.monotonic() - self._scan_started, 3))

    def _scan_files(self: Engine) -> Iterator[Path]:
        for folder in (self.area("inbox"), self.commands_dir(), self.area("quarantine"), self.area("failed")):
            yield from self._walk(folder)
        yield from self._work_drop_files()

    def _work_drop_files(self: Engine) -> Iterator[Path]:
        """Drop files in the job folders of work/, and replacements in a replace/ made there, which
        no event reports: work/ is not watched (the daemon's own writes there, a few files a job,
        would wake it for nothing). A job waiting there (for its artwork, its date, a copy retry)
        has them read at each rescan, and before it goes on (_work_drops_first). A job folder and a
        replace/ unchanged since the last rescan cost a stat each, not a listing."""
        try:
            entries = list(os.scandir(self.area("work")))
        except OSError:
            return
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False):
                    continue
                folder = Path(entry.path)
                if self._changed_since_scan(entry.path, entry.stat(follow_symlinks=False)):
                    yield from (folder / name for name in self._drop_files_in(folder))
                replace = folder / "replace"
                st = os.lstat(replace)  # (none there, the usual case: the OSError ends this folder's look)
                if stat.S_ISDIR(st.st_mode) and self._changed_since_scan(str(replace), st):
                    yield from (replace / name for name in self._replacements_in(folder))
            except OSError:
                continue

    def _changed_since_scan(self: Engine, folder: str, st: os.stat_result) -> bool:
        """Whether a folder's mtime or inode (``st``) is not what the last scan saw (a file added,
        removed or renamed in it changes its mtime); remembered for the next."""
        key = (st.st_mtime_ns, st.st_ino)
        if self._dirs_seen.get(folder) == key:
            return False
        if len(self._dirs_seen) > 200_000:
            self._dirs_seen.clear()
        self._dirs_seen[folder] = key
        return True

    def _replacements_in(self: Engine, folder: Path) -> list[str]:
        """The names of the files (regular files) in a job folder's replace/, uploads under way left
        out; the callers have seen that replace/ is a folder, not a link (whose files would be
        another folder's)."""
        names: list[str] = []
        with contextlib.suppress(OSError), os.scandir(folder / "replace") as entries:
            for entry in entries:
                if self.uploading(entry.name):
                    continue
                with contextlib.suppress(OSError):
                    if entry.is_file(follow_symlinks=False):
                        names.append(entry.name)
        return names

    def _drop_files_in(self: Engine, folder: Path, *, replacements: bool = False) -> list[str]:
        """The names of the drop files (regular files) in a job's folder; ``replacements``: and of
        the files in a replace/ folder there (``replace/<name>``), listed only where the folder's
        own listing has one (a job in work/ has none, unless an operator made it)."""
        names = []
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if replacements and entry.name == "replace" and entry.is_dir(follow_symlinks=False):
                        names += [f"replace/{name}" for name in self._replacements_in(folder)]
                    elif (
                        classify_drop(entry.name) is not None
                        and not self.ignored(entry.name)
                        and entry.is_file(follow_symlinks=False)
                    ):
                        names.append(entry.name)
        return names

    def descend_rule(self: Engine, folder: Path) -> Callable[[int, str], bool]:
        """Which sub-folders of a watched folder a scan (and the poller) looks into: the whole inbox
        tree (up to INBOX_DEPTH folders deep) but the folders watch.ignore names; in quarantine/ and
        failed/ each job folder and its replace/; in state/commands/ none. (Files are matched
        against watch.ignore by the scan and the poller themselves.)"""
        if folder == self.area("inbox"):
            return lambda depth, name: depth < INBOX_DEPTH and not self.ignored(name)
        if folder in (self.area("quarantine"), self.area("failed")):
            return lambda depth, name: (
                (depth == 0 and not self.ignored_folder(name)) or (depth == 1 and name == "replace")
            )
        return _top_only

    def _walk(self: Engine, folder: Path) -> Iterable[Path]:
        skip_unchanged = folder in (self.area("quarantine"), self.area("failed"))
        yield from self._walk_tree(folder, self.descend_rule(folder), skip_unchanged=skip_unchanged)

    def _walk_tree(
        self: Engine, folder: Path, descend: Callable[[int, str], bool], depth: int = 0, *, skip_unchanged: bool = False
    ) -> Iterable[Path]:
        """``skip_unchanged``: a sub-folder whose mtime and inode are those of the last scan is not
        listed again (a drop file added or renamed in it changes its mtime): thousands of job folders
        waiting in quarantine/ cost a stat each per rescan, not a listing."""
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            # Listed again at the next scan even if its mtime stays (a chmod changes only its
            # ctime: audit BW 3, a folder made readable was skipped as unchanged for good).
            self._dirs_seen.pop(str(folder), None)
            if exc.errno in (errno.EACCES, errno.EPERM):
                self._said_unreadable(folder)
            return
        if self._unreadable:
            self._unreadable.pop(folder, None)
        if skip_unchanged and depth == 1:
            # (a failed job's ERROR.txt deleted alone: review GB 2)
            wanted = _MENDED_FAILED if folder.parent == self.area("failed") else _MENDED
            if not wanted <= {e.name for e in entries}:
                self._mend_job_folder(folder)
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False):
                    if not self.ignored(entry.name):
                        yield Path(entry.path)  # files, and links and pipes, which the tracker sets apart
                elif descend(depth, entry.name):  # (which folders watch.ignore leaves out: descend_rule)
                    if skip_unchanged and not self._changed_since_scan(entry.path, entry.stat(follow_symlinks=False)):
                        if depth == 0:  # a job folder as it was: its replace/ may not be
                            yield from self._replace_if_changed(Path(entry.path), descend)
                        continue
                    yield from self._walk_tree(Path(entry.path), descend, depth + 1, skip_unchanged=skip_unchanged)
                elif (
                    skip_unchanged
                    and depth == 1
                    and entry.name not in JOB_SUBFOLDERS
                    and not self.ignored_folder(entry.name)
                ):
                    inner = Path(entry.path)  # a folder in a job's folder: another job's, dragged in?
                    self._guard("drop", entry.path, lambda f=folder, p=inner: self._on_folder_inside(f, p))
            except OSError:
                continue

    def _replace_if_changed(self: Engine, job_folder: Path, descend: Callable[[int, str], bool]) -> Iterable[Path]:
        """A job folder's replace/ listed where it changed since the last scan, though the job
        folder did not (a PDF put into replace/ changes replace/'s mtime only): one stat more per
        job folder (white-box audit DN 1: a replacement whose event was lost was never taken)."""
        replace = job_folder / "replace"
        try:
            st = os.stat(replace, follow_symlinks=False)
        except OSError:
            return
        if stat.S_ISDIR(st.st_mode) and descend(1, replace.name) and self._changed_since_scan(str(replace), st):
            yield from self._walk_tree(replace, descend, 2, skip_unchanged=True)

    def _look_at_refusing_folders(self: Engine) -> None:
        """The folders said unreadable or unwritable, tried again (every REFUSING_LOOK_SECONDS): one
        the daemon may list (change) now is taken in by a rescan at once, not at the next one (up
        to watch.rescan_seconds later: audit BS D5's order, made readable, waited that long); one
        gone is forgotten."""
        for folder in list(self._unreadable):
            if _refuses_listing(folder):
                continue
            del self._unreadable[folder]
            if folder.is_dir():
                log.info("folder.readable", folder=self.rel(folder))
                self.request_rescan()
        for folder in list(self._unwritable):
            if not folder.is_dir():
                del self._unwritable[folder]
            elif self._sticky_as_said(folder):
                continue  # (its files' owners decide: looked at again once its mode changes)
            elif self._removable_from(folder):  # (which forgets it)
                log.info("inbox.folder_writable", folder=self.rel(folder))
                self.request_rescan()

    def _sticky_as_said(self: Engine, folder: Path) -> bool:
        """Whether ``folder`` is said not writable for its sticky bit, and is as it was then."""
        try:
            st = os.stat(folder)
        except OSError:
            return False
        return sticky_for_us(st) and self._unwritable.get(folder) == (st.st_uid, st.st_gid, st.st_mode)

    def _said_unreadable(self: Engine, folder: Path) -> None:
        """A folder in inbox/ (or a job's folder in quarantine/ or failed/) the daemon may not list
        (an upload with umask 077, a mode 000): nothing in it is seen; the log says so and the fix,
        once for each state of the folder (audit BS D5: an order folder so stayed unsaid for ever)."""
        try:
            st = os.stat(folder)
        except OSError:
            return
        state = (st.st_uid, st.st_gid, st.st_mode)
        if self._unreadable.get(folder) == state:
            return
        if len(self._unreadable) > 10_000:
            self._unreadable.clear()
        self._unreadable[folder] = state
        log.error(
            "folder.unreadable",
            folder=self.rel(folder),
            owner=user_name(st.st_uid),
            group=group_name(st.st_gid),
            mode=stat.filemode(st.st_mode),
            reason=(
                f"the daemon may not read {self.rel(folder)}: nothing in it is seen until the daemon's group may "
                "read, enter and change it and read its files (chmod -R g+rwX by its owner; uploads with umask 0002; "
                "Samba: directory mask 2775, create mask 0664)"
            ),
        )

    def _mend_job_folder(self: Engine, folder: Path) -> None:
        """A job folder in quarantine/ or failed/ (seen changed by a scan) without its replace/ or
        STATUS.txt, deleted in a file explorer: made again (SPEC 4: every such folder has a
        replace/; STATUS.txt tells the operator what they can do)."""
        job = self._job_of_folder(folder)
        if job is None or job.stage not in (Stage.HELD, Stage.FAILED):
            return
        made = []
        if not os.path.lexists(folder / "replace"):
            try:
                (folder / "replace").mkdir()
                made.append("replace/")
            except OSError as exc:
                log.warning("job_folder.mend_failed", job_id=job.job_id, folder=self.rel(folder), error=str(exc))
        if not os.path.lexists(folder / "STATUS.txt"):
            self._dirty.add(job.job_id)
            made.append("STATUS.txt")
        if job.stage is Stage.FAILED and job.error and not os.path.lexists(folder / "ERROR.txt"):
            # (review GA 1: STATUS.txt went on saying "Read ERROR.txt", and nothing said the problem)
            try:
                atomic_write(
                    folder / "ERROR.txt",
                    error_text(
                        f"Job {job.job_id} (order {job.order_id}) needs attention: {job.error}",
                        [],
                        "(this ERROR.txt was written again: the one written when the job failed was deleted, with "
                        "its advice) Fix what is said above: put the missing or corrected PDF into replace/ (the job "
                        "runs again with it); or fix the hot folder or the config, then drop a file named RETRY here "
                        f"(spo-hotfolder retry {job.job_id}). Drop REJECT to give the job up.",
                    ),
                )
                made.append("ERROR.txt")
            except OSError as exc:
                log.warning("job_folder.mend_failed", job_id=job.job_id, folder=self.rel(folder), error=str(exc))
        if made:
            log.info("job_folder.mended", job_id=job.job_id, folder=self.rel(folder), made=made)

    def _take_stable(self: Engine, budget: float = 0.25, limit: int = 1000) -> None:
        """Handles every file that is complete now. Drop files of one job are handled together."""
        while self.tracker.specials:
            path, mode = self.tracker.specials.popitem()
            kind, job_folder = self._classify(path)
            if kind in ("manifest", "data"):
                if undecodable(str(path)):
                    self._guard("file", readable(str(path)), lambda p=path: self._on_bad_name(p))
                    continue
                self._guard("file", str(path), lambda p=path, m=mode: self._on_special(p, m))
            elif kind in ("drop", "replace", "stray", "buried") and job_folder is not None:
                self._guard("drop", str(path), lambda f=job_folder, p=path, m=mode: self._on_special_in_job(f, p, m))
        stable = sorted(self.tracker.get_stable_files(limit=limit), key=lambda item: self._order_key(item[0]))
        if any(self._classify(path)[0] == "manifest" for path, _ in stable) and self.ledger.awaits_under(
            str(self.area("inbox"))
        ):
            # A file that jobs wait for already goes after this round's manifests: one of them may
            # name it too, and be the order it belongs to (_owner_order; both found at start).
            later = {
                path
                for path, _ in stable
                if self._classify(path)[0] == "data" and not undecodable(str(path)) and self._waiting(path)
            }
            if later:
                stable = [item for item in stable if item[0] not in later] + [i for i in stable if i[0] in later]
        drops: dict[Path, list[Path]] = {}
        deadline = time.monotonic() + budget
        with self._round_listings():
            for index, (path, sig) in enumerate(stable):
                if self.stop_event.is_set() or time.monotonic() > deadline:
                    # A backlog (thousands of files at start) is taken in slices, so that deliveries
                    # begin at once; the rest stays known as complete for the next round.
                    for rest, _ in stable[index:]:
                        self.tracker.track(rest, activity=False, complete=True)
                    break
                kind, job_folder = self._classify(path)
                if undecodable(str(path)):
                    self._guard("file", readable(str(path)), lambda p=path: self._on_bad_name(p))
                elif kind == "drop" and job_folder is not None:
                    drops.setdefault(job_folder, []).append(path)
                else:
                    self._guard("file", str(path), lambda p=path, s=sig: self._on_stable(p, s))
        for job_folder, paths in drops.items():
            self._guard("drop", str(job_folder), lambda f=job_folder, ps=paths: self._on_drops(f, ps))
        if self._named:
            # The artwork this round's manifests named, complete already (there before them: a
            # backlog at start, a rescan) is taken now, after all of the round's manifests (one of
            # them may name it too: _owner_order), rather than in its turn behind the backlog; its
            # job then runs at once (with 10,000 orders waiting at start, nearly every job was
            # taken in before its PDF, and waited for it).
            named = sorted(p for p in self._named if self._classify(p)[0] == "data" and not undecodable(str(p)))
            self._named = set()
            for path, sig in self.tracker.stable_among(named):
                self._guard("file", str(path), lambda p=path, s=sig: self._on_stable(p, s))

    def _manifest_fault(self: Engine, path: Path, exc: Exception) -> None:
        """A manifest the daemon failed on (a fault of ours, not one it can name in the file): put
        into failed/ after MANIFEST_FAULTS tries, so that it does not stay in the inbox for ever."""
        log.exception("manifest.internal_error", manifest=str(path))
        faults = self._manifest_faults[path] = self._manifest_faults.get(path, 0) + 1
        if faults >= MANIFEST_FAULTS and path.exists():
            del self._manifest_faults[path]
            self._reject_manifest(
                path,
                path.parent != self.area("inbox"),
                [
                    f"the daemon failed on this manifest ({type(exc).__name__}: {exc}); that is a fault in "
                    "the daemon, not one it can name in the file: tell the administrator (the daemon's log "
                    "has the details)"
                ],
                fault=True,
            )

    def _new_failed_folder(self: Engine, name: str) -> Path:
        """A free path in failed/ for a folder named after an input that is no job (a bad manifest,
        files no manifest claimed): ``name``, else ``name-2``, ``name-3`` ..., never a job's id
        (audit, clients F2: order folder L5's leftovers went to failed/L5-2/, beside the delivered
        job L5-2)."""
        return unique_path(
            self.area("failed") / safe_folder_name(name),
            shunned=lambda taken: self.ledger.get_job(taken, history=False) is not None,
        )

    def _on_stable(self: Engine, path: Path, sig: Signature) -> None:
        if undecodable(str(path)):
            # (the look before a delivery takes the manifests that came meanwhile too: audit BN
            # D3, such a name reached the ledger there, an internal error with its traceback)
            self._on_bad_name(path)
            return
        kind, job_folder = self._classify(path)
        if kind == "manifest":
            self._unread.forget(path)  # (read now: the file names it gives are its jobs' from here)
            try:
                self.take_manifest(path)
            except (OSError, sqlite3.OperationalError) as exc:
                if not (isinstance(exc, OSError) and exc.errno in NAME_ERRNOS):
                    raise  # the disk or a busy ledger: the manifest stays and is taken at the next look
                # A name no filesystem call takes (too long, not valid there): the same on every try.
                self._manifest_fault(path, exc)
            except Exception as exc:
                if is_ledger_damaged(exc):
                    raise  # the ledger's fault, not the manifest's: it stays in inbox/ (_guard says why)
                self._manifest_fault(path, exc)  # (logged there, with its traceback)
        elif kind == "data":
            # On disk in the background from now (fsutil.Flusher): the fsync before OutputCreated
            # then finds nothing left to write (a 1-page PDF: ~1 ms less per job, here).
            self.flusher.submit(path)
            if sig[0] >= HASH_AHEAD_MIN_BYTES and (ahead := self._ahead()) is not None:
                ahead.hash_ahead(str(path))
            if not self._claim(path, sig) and path not in self._orphans:
                since = self.clock.monotonic()
                if misnamed_manifest(path.name) is not None:
                    # A manifest whose name ends in a dot or a space (an SMB or FTP client's), no
                    # artwork: said after the short wait, not after artwork_timeout_seconds (an hour,
                    # with no word meanwhile: audit AR D8).
                    since -= max(self.config.watch.artwork_timeout_seconds - 2 * self._whole_wait(), 0.0)
                self._orphans[path] = (since, sig)
                self._orphans_next = min(self._orphans_next, self.clock.monotonic() + self._whole_wait())
                if not self._start_backlog_over and (waited := self._waited_before_start(path)) > 0:
                    self._waited_before[path] = waited
        elif kind == "replace" and job_folder is not None:
            self._on_replace(job_folder, path)
        elif kind == "command":
            self._on_command(path)
        elif kind == "stray" and job_folder is not None:
            self._on_stray(job_folder, path, sig)
        elif kind == "buried" and job_folder is not None:
            self._on_buried_drop(job_folder, path, sig)
        elif kind == "misplaced":
            self._on_misplaced_drop(path)

    def _on_bad_name(self: Engine, path: Path) -> None:
        """A name that is not UTF-8 (a legacy FTP client, a Samba share set to another charset):
        neither the ledger nor the manifests can name it. In the inbox, the entry goes to
        ``failed/`` (its folder, if it came in one, as one ``failed/<folder>/``) with an ERROR.txt;
        in a job folder, it is left alone and STATUS.txt says so, once."""
        kind, job_folder = self._classify(path)
        shown = readable(path.name)
        if kind in ("manifest", "data"):
            inbox = self.area("inbox")
            parts = _rel_parts(str(path), str(inbox)) or [path.name]
            top = inbox / parts[0]
            what = "with a name that is" if undecodable(top.name) else "holding names that are"
            summary = f"{readable(self.rel(top))} arrived in the inbox {what} not UTF-8."
            with self._setting_aside(top, summary, _NOT_UTF8_ADVICE) as aside:
                into = aside.folder
                dest = into / Path(*parts[1:]) if len(parts) > 1 else into / path.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                move(path, dest, keep_name=True)  # (however long: as a file set aside keeps it)
            # The names that are not UTF-8, each of them (the folder's own, where it came in one so
            # named; all its files' that are: reviews FT 3, FX 4), not the good names beside them
            bad = {part for part in parts if undecodable(part)}
            bad.update(part for p in into.rglob("*") for part in p.relative_to(into).parts if undecodable(part))
            names = sorted(readable(part) for part in bad) or [readable(path.name)]
            # (review GI 2: a zip made by Windows Explorer keeps its names in the DOS code page:
            # "Commande été" unzipped read in Windows-1252 as "Commande \u201at\u201a")
            dos = sorted(readable(part, "cp850") for part in bad) or [readable(path.name, "cp850")]
            problems = [
                "the daemon reads file names as UTF-8, as manifests name them; this name was written in another "
                "character set (a Windows FTP client, a Samba share set to another charset, or a zip made by Windows "
                "Explorer), so no manifest can name it and it was not taken",
                "read as Windows-1252 it is: " + ", ".join(names),
            ]
            if dos != names:
                problems.append("read as the DOS code page 850 (a zip from Windows) it is: " + ", ".join(dos))
            aside.publish(error_text(summary, problems, _NOT_UTF8_ADVICE))
            self._bad_name_targets[top] = aside.final  # (the entry's next such file goes there too)
            log.warning("inbox.name_not_utf8", file=readable(str(path)), folder=self.rel(aside.final))
            if path.parent != inbox:
                self._consumed_dirs.add(path.parent)
            self._cleanup_consumed_dirs()
            return
        if job_folder is None or kind == "command" or undecodable(job_folder.name):
            return  # a folder in quarantine/ or failed/ whose own name is not UTF-8 is no job's
        job = self._job_to_answer(job_folder, path)
        if job is None:
            return
        where = "replace/" if path.parent.name == "replace" else ""
        message = (
            f"{where}{shown}: its name is not UTF-8 (written by a client or share set to another character set), "
            "so it was left alone. Rename it to a plain name"
            + (" (a replacement PDF: e.g. artwork.pdf)" if where else " (RELEASE, REJECT or RETRY)")
        )
        self._note_action(job.job_id, f"{iso(self.clock.now())}  {message}")
        log.warning("operator.name_not_utf8", job_id=job.job_id, file=readable(path.name))
        self._write_status(job.job_id)

    def _on_special(self: Engine, path: Path, mode: int) -> None:
        """An inbox entry that is no file (a FIFO, a socket, a device, a symbolic link to a folder or
        to nothing) never becomes one: it goes to failed/ with an ERROR.txt at once (SPEC 8: every
        file that entered inbox/ ends up somewhere, with a word to the operator). A symbolic link
        to a file goes the way of files (it is refused where it is read)."""
        try:
            st = os.lstat(path)
        except OSError:
            return
        if stat.S_ISDIR(st.st_mode) or stat.S_IFMT(st.st_mode) != stat.S_IFMT(mode):
            return  # changed meanwhile: the next event or scan sees what it is now
        if stat.S_ISLNK(st.st_mode) and path.is_file():
            return
        if self._special_in_folder_drop(path):
            self._deferred_specials[path] = mode
            return
        if stat.S_ISLNK(st.st_mode):
            what = "a symbolic link to a folder" if path.is_dir() else "a symbolic link to nothing"
            why = "the daemon never follows symbolic links (one could name any file on the server)"
        else:
            what = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket"}.get(
                stat.S_IFMT(st.st_mode), "a device"
            )
            why = f"nothing can be read from {what}: the daemon takes only files"
        target = self._new_failed_folder(path.name)
        target.mkdir(parents=True)
        moved = move(path, target / path.name)  # the entry itself: nothing is opened or followed
        atomic_write(
            target / "ERROR.txt",
            error_text(
                f"{self.rel(path)} arrived in the inbox, but it is {what}, not a file.",
                [why],
                f"Put the file itself into inbox/ (a copy, not a link). {moved.name} here can be removed.",
            ),
        )
        log.warning("inbox.not_a_file", path=str(path), kind=what, folder=self.rel(target))
        if len(self._moved_specials) > 1000:
            self._moved_specials.clear()
        self._moved_specials[path] = target  # a job that waits for a file through it says so
        now = self.clock.now()
        for job_id, _position in self.ledger.waiting_for(str(path)):
            # (audit BN D7: the job stayed Ordered, its file "on its way", and failed an hour later
            # "missing", not saying where the entry went)
            job = self.ledger.get_job(job_id, history=False)
            if job is None or job.stage is not Stage.AWAITING:
                continue
            self._note_action(
                job_id,
                f"{iso(now)}  {self.rel(path)}, which this job's manifest names, came into inbox/, but it is {what}, "
                f"not a file: it is in {self.rel(target)}/ (see the ERROR.txt there). This job waits on for the "
                "file itself: put it into inbox/ under that name (a copy, not a link)",
            )
            self._still_awaiting(job, now)
            self._write_status(job_id)
        if path.parent != self.area("inbox"):
            self._consumed_dirs.add(path.parent)
        self._cleanup_consumed_dirs()

    def _special_in_folder_drop(self: Engine, path: Path) -> bool:
        """``path`` is inside a folder drop that holds its manifest: the manifest decides first
        (audit 12-05 D 1: a link to a folder there was filed away at once, the manifest that named
        a file through it then taken, and its other jobs printed, where `route` and README say the
        whole folder drop is refused as naming an unsafe path). What the manifest leaves behind is
        filed away once it is taken or refused (``_requeue_specials``)."""
        inbox = self.area("inbox")
        parts = _rel_parts(str(path), str(inbox))
        if parts is None or len(parts) < 2:
            return False
        try:
            # (the special itself named manifest.yaml is no manifest to wait for: audit BO D6, a
            # named pipe so named stayed in inbox/ for good, unsaid)
            return any(
                name.lower() in MANIFEST_NAMES and (inbox / parts[0] / name) != path
                for name in os.listdir(inbox / parts[0])
            )
        except OSError:
            return False

    def _requeue_specials(self: Engine) -> None:
        """The deferred links of folder drops whose manifest has gone (taken, refused, removed):
        looked at again, as the watcher reported them."""
        for path, mode in list(self._deferred_specials.items()):
            if not self._special_in_folder_drop(path):
                del self._deferred_specials[path]
                self.tracker.specials[path] = mode

    def _job_to_answer(self: Engine, job_folder: Path, path: Path, sig: Signature | None = None) -> Job | None:
        """The job whose folder holds ``path`` (something there that is not acted on), if ``path``
        as it is now was not answered yet: each is said once in STATUS.txt, not at every event."""
        if sig is None:
            try:
                sig = signature(os.lstat(path))
            except OSError:
                return None
        if self._strays.get(path) == sig:
            return None
        self._strays[path] = sig
        job = self.ledger.get_job(job_folder.name, history=False)
        if job is None or self.job_dir(job) != job_folder:
            return None  # a folder of failed/ that is no job (a bad manifest, an unclaimed file)
        return job

    def _on_stray(self: Engine, job_folder: Path, path: Path, sig: Signature) -> None:
        """A file an operator put into a job folder that is no drop file (``RELAESE``, ``OK.txt``):
        left alone, and said so in STATUS.txt, once. Only events report these (scans skip them:
        nobody needs telling again at each rescan or start)."""
        job = self._job_to_answer(job_folder, path, sig)
        if job is None:
            return
        message = (
            f"{path.name}: not a drop file, left alone. Drop files are named RELEASE, REJECT or RETRY "
            "(any case, any extension); a replacement PDF goes into replace/"
        )
        original = not_used_original(path.name)
        if original is not None and classify_drop(original) is not None:
            # The daemon's own name for a drop file put where it did nothing, moved here as that name
            # said (audit AL): it acts once it has its name again (audit BE D2: the name's own
            # reason was taken for part of the drop file's name, and the answer was the generic one).
            message = (
                f"{path.name}: the daemon gave this name to a drop file put where it did nothing; to act here, "
                f"rename it {original}"
            )
        self._note_action(job.job_id, f"{iso(self.clock.now())}  {message}")
        log.warning("operator.unknown_file", job_id=job.job_id, file=path.name)
        self._write_status(job.job_id)

    def _on_special_in_job(self: Engine, job_folder: Path, path: Path, mode: int) -> None:
        """A named pipe, a socket, a device or a symbolic link to a folder or to nothing in a job
        folder (as RELEASE, in replace/): nothing can be read from it, so it does nothing; said in
        STATUS.txt, once (audits BN D6, BO D5: such a RELEASE sat there unanswered for as long as the
        job waited). A link to a file is answered where drop files and replacements are read."""
        if stat.S_ISLNK(mode) and path.is_file():
            return  # (a link to a file: refused where drop files and replacements are read)
        job = self._job_to_answer(job_folder, path)
        if job is None:
            return
        what = (
            ("a symbolic link to a folder" if path.is_dir() else "a symbolic link to nothing")
            if stat.S_ISLNK(mode)
            else {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket"}.get(stat.S_IFMT(mode), "a device")
        )
        where = path.relative_to(job_folder).as_posix()
        # A drop file or a replacement that is none: into history/, as a refused one is (audit BV:
        # a link to nothing left in replace/ held every release back for good, "a replacement is
        # in the job's folder and is taken first"). Other names are left alone, as unknown files are.
        filed = (
            path.parent == job_folder / "replace"
            or (path.parent == job_folder and classify_drop(path.name) is not None)
        ) and self._file_away(job.job_id, job_folder, path, self.clock.now())
        message = (
            f"{where} is {what}, not the job's own folder: it is never read nor written through; remove the "
            f"link and make a folder named {where} in its place"
            if where in ("replace", "output")
            else f"{where} is {what}, not a file: nothing can be read from it, so it did nothing"
            + ("; it is kept in history/. " if filed else " and is left alone. ")
            + (
                "Put the PDF itself into replace/"
                if path.parent.name == "replace"
                else f"Drop a real file named {path.name} (the first line your name, the rest a note)"
                if classify_drop(path.name) is not None
                else "Drop files are files named RELEASE, REJECT or RETRY"
            )
        )
        self._note_action(job.job_id, f"{iso(self.clock.now())}  {message}")
        log.warning("operator.not_a_file", job_id=job.job_id, file=where, reason=message)
        self._write_status(job.job_id)

    def _on_buried_drop(self: Engine, job_folder: Path, path: Path, sig: Signature) -> None:
        """A drop file put into the job's artwork/ or output/ (the operator was looking at the
        output in Explorer, audit BY 3): not read there, left alone, and STATUS.txt says where it
        goes, once. Only events report these, as for unknown files."""
        job = self._job_to_answer(job_folder, path, sig)
        if job is None:
            return
        where = path.parent.relative_to(job_folder).as_posix()
        message = (
            f"{where}/{path.name}: drop files are read only in the job's folder itself, not in {where}/: nothing "
            f"was done. Move it {'one level up' if '/' not in where else 'up'}, into {self.rel(job_folder)}/"
            if classify_drop(path.name) is not None and not path.name.lower().endswith(".pdf")
            else f"{where}/{path.name}: a replacement PDF is read only in replace/ (so named, in lower case), not in "
            f"{where}/: nothing was done. Move it into {self.rel(job_folder)}/replace/"
        )
        self._note_action(job.job_id, f"{iso(self.clock.now())}  {message}")
        log.warning("operator.drop_in_subfolder", job_id=job.job_id, file=f"{where}/{path.name}", reason=message)
        self._write_status(job.job_id)

    def _on_misplaced_drop(self: Engine, path: Path) -> None:
        """A drop file put into quarantine/ or failed/ itself, beside the job folders: it names no
        job, so it does nothing. Renamed to say so (the operator looks there, and a name that still
        reads RELEASE would look as if it were waiting to be acted on), its text kept; and logged."""
        if path.is_symlink() or not path.is_file():
            return
        area = path.parent.name
        pdf = classify_drop(path.name) is None  # a corrected PDF (audit AL D4), not a drop file
        answer = unique_path(
            path.with_name(
                fit_name(
                    f"{NOT_USED}{path.name}{NOT_USED_PDF}.pdf"
                    if pdf
                    else f"{NOT_USED}{path.name}{NOT_USED_BESIDE_JOBS}.txt"
                )
            ),
            keep_extension=True,
        )
        try:
            os.replace(path, answer)
        except FileNotFoundError:
            return
        log.warning(
            "operator.drop_outside_job_folder",
            file=self.rel(path),
            renamed_to=answer.name,
            reason=(
                f"{path.name} was put into {area}/ itself, not into a job's folder, so it did nothing; "
                + (
                    f"put it into the replace/ folder of the job it is for ({area}/<job-id>/replace/)"
                    if pdf
                    else f"drop it into the folder of the job it is for ({area}/<job-id>/)"
                )
            ),
        )

    def _on_folder_inside(self: Engine, job_folder: Path, path: Path) -> None:
        """A folder in a job's folder that is another job's own folder (its STATUS.txt names it, and
        its place is empty): dragged there by hand in a file explorer. Its drop files were never
        read there, and it would have travelled along with the outer job into done/ (audit:
        operators at scale). It is put back where its job is, and its files are looked at there.
        Any other folder there (the operator's own, a copy of a job's folder, one of a job whose
        folder retention removed) is left alone."""
        job = self._job_named_in(path)
        if job is None or job.stage is Stage.PURGED or not real_folder(path):
            return  # (a job whose folder retention removed: a copy of it, never brought back)
        home = self.job_dir(job)
        if os.path.lexists(home) or not home.parent.is_dir():
            return
        os.replace(path, home)
        now = self.clock.now()
        self._note_action(
            job.job_id,
            f"{iso(now)}  this folder was found inside {self.rel(job_folder)}/ (moved there by hand?); the daemon "
            "put it back here, where drop files act",
        )
        self._write_status(job.job_id)
        log.warning(
            "job_folder.put_back",
            job_id=job.job_id,
            found_in=self.rel(job_folder),
            put_back_to=self.rel(home),
            reason="a job's own folder was inside another job's folder",
        )
        with contextlib.suppress(OSError):
            for entry in os.scandir(home):
                if entry.is_file(follow_symlinks=False):
                    self.hint(Path(entry.path), moved_in=True)  # a drop file in it acts here now

    def _job_folder_above(self: Engine, path: Path) -> Path | None:
        """The job folder of quarantine/ or failed/ whose output/, artwork/ or history/ ``path`` is
        directly in; None otherwise."""
        sub = path.parent
        if sub.name not in JOB_SUBFOLDERS or sub.parent.parent not in (self.area("quarantine"), self.area("failed")):
            return None
        return sub.parent

    def rescue_nested_job_folders(self: Engine, job_folder: Path) -> None:
        """Jobs' own folders dragged into ``job_folder``'s output/, artwork/, history/ or replace/
        (a slip of the mouse) are put back where their jobs are, before ``job_folder`` leaves the
        operator's folders or is purged: they went along with it into done/ and were deleted with
        it at retention, the jobs' files lost (audit AR D1)."""
        for sub in ("", *JOB_SUBFOLDERS):  # (and at its top: white-box audit CR 4, one left there went too)
            inner: list[Path] = []
            with contextlib.suppress(OSError), os.scandir(job_folder / sub) as entries:
                inner = [
                    Path(e.path)
                    for e in entries
                    if e.is_dir(follow_symlinks=False) and (sub or e.name not in JOB_SUBFOLDERS)
                ]
            for path in inner:
                if has_status_file(path):
                    self._guard("drop", str(path), lambda f=job_folder, p=path: self._on_folder_inside(f, p))

    def _on_drop_folder(self: Engine, job_folder: Path, path: Path) -> None:
        """A folder where a drop file or a replacement PDF goes (a "New folder" renamed RELEASE, a
        folder of artwork dragged into replace/): nothing is done, it is left alone, and STATUS.txt
        says why, once. Only events report these, as for unknown files."""
        if has_status_file(path):
            self._on_folder_inside(job_folder, path)  # another job's own folder: put back (audit AR D1)
            if not os.path.lexists(path):
                return
        job = self._job_to_answer(job_folder, path)
        if job is None:
            return
        if path.parent.name == "replace":
            message = (
                f"replace/{path.name} is a folder: nothing was done. Put the replacement PDF itself into "
                "replace/ (not a folder holding it)"
            )
        else:
            action = classify_drop(path.name)
            word = action.value if action is not None else path.name
            message = (
                f"{path.name} is a folder, not a file: nothing was done. Drop a file named {word} instead "
                f"(e.g. a text file renamed {word}.txt, its first line your name); this folder can be removed"
            )
        self._note_action(job.job_id, f"{iso(self.clock.now())}  {message}")
        log.warning("operator.folder_not_file", job_id=job.job_id, folder=path.name)
        self._write_status(job.job_id)
