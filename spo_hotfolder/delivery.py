"""Routing, output file names, and the atomic copy into a printer's hot folder.

A hot folder only ever sees a complete file under its final name: the copy goes to a temporary
dot-name the RIP ignores (``.<name>.part``, in the hot folder or its staging folder on the same
filesystem), is fsynced, and is renamed. The ledger journals the attempt around the copy so a
restart can tell "published" from "not published" without copying twice (see engine.reconcile).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spo_hotfolder.config import (
    Config,
    HotFolderConfig,
    filesystem_mount_points,
    glob_match,
    mount_table,
)
from spo_hotfolder.fsutil import (
    SourceChanged,
    copy_file,
    fsync_dir,
    rename_noreplace,
    safe_name,
    set_mode,
    windows_device,
)

if TYPE_CHECKING:
    from spo_hotfolder.ledger import Job

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_SPACE_BEFORE_EXTENSION = re.compile(r"\s+(\.[^.\s]*)$")
DEFAULT_FILENAME = "{order_id}_{job_id}_{product}_x{quantity}.pdf"


@dataclass(frozen=True, slots=True)
class RouteFacts:
    """What routing and file names can use about a job."""

    order_id: str
    job_id: str
    product: str
    quantity: int
    customer: str | None
    hot_folder: str | None  # the manifest's override
    attributes: Mapping[str, Any]

    @classmethod
    def of(cls, job: Job) -> RouteFacts:
        return cls(
            order_id=job.order_id,
            job_id=job.job_id,
            product=job.product,
            quantity=job.quantity,
            customer=job.customer,
            hot_folder=job.hot_folder,
            attributes=job.attributes,
        )

    def value(self, key: str) -> str | None:
        if key.startswith("attributes."):
            raw = _attribute(self.attributes, key.split(".", 1)[1])
            if raw is None or isinstance(raw, dict | list):
                return None  # not a single value: no route matches it, a file name leaves it empty
            if isinstance(raw, bool):
                return "true" if raw else "false"
            return str(raw)
        raw_value = {
            "order_id": self.order_id,
            "job_id": self.job_id,
            "product": self.product,
            "quantity": self.quantity,
            "customer": self.customer,
        }.get(key)
        return None if raw_value is None else str(raw_value)


def _attribute(attributes: Mapping[str, Any], name: str) -> Any:
    """``attributes.<name>``: an attribute of that name, or, for a dotted name, a value inside nested
    maps (``paper.kind`` of ``paper: {kind: silk}``); None when there is none."""
    if name in attributes:
        return attributes[name]
    head, dot, rest = name.partition(".")
    inner = attributes.get(head) if dot else None
    return _attribute(inner, rest) if isinstance(inner, dict) else None


@dataclass(frozen=True, slots=True)
class RouteDecision:
    hot_folder: str | None  # None: skip
    reason: str  # "route 1: product bc-*", "manifest hot_folder", "route 3", "no route matched"

    @property
    def target(self) -> str:
        return self.hot_folder or "skip"


def decide_route(facts: RouteFacts, config: Config) -> RouteDecision:
    """The manifest's ``hot_folder`` wins; then the first matching route; no match means skip."""
    if facts.hot_folder:
        return RouteDecision(facts.hot_folder, "manifest hot_folder")
    for rule in config.routes:
        if all(
            _matches(facts.value(key), pattern, none_is_empty=key == "customer") for key, pattern in rule.when.items()
        ):
            conditions = ", ".join(f"{key} {pattern}" for key, pattern in rule.when.items())
            reason = f"route {rule.number}: {conditions}" if conditions else f"route {rule.number}"
            return RouteDecision(None if rule.to == "skip" else rule.to, reason)
    return RouteDecision(None, "no route matched")


def decide_blocking(manifest_blocked: bool | None, config: Config, product: str) -> tuple[bool, str]:
    """Whether a new job is blocked on arrival, and why (the Blocked entry's detail).

    The manifest's ``blocked`` overrides the config for its order; then ``block_on_arrival``
    (SPO's "Block orders on checkout enabled"); then the ``blocking.products`` globs.
    """
    if manifest_blocked is not None:
        return manifest_blocked, f"manifest blocked: {'true' if manifest_blocked else 'false'}"
    if config.blocking.block_on_arrival:
        return True, "block_on_arrival"
    for pattern in config.blocking.products:
        if glob_match(product, pattern):
            return True, f"blocking.products: {pattern}"
    return False, "no blocking rule matched"


def blocked_by_product_change(config: Config, old: str, new: str) -> str | None:
    """Why a known job whose new manifest changes its product from ``old`` to ``new`` (and says
    nothing of ``blocked``) is blocked now: the blocking rules hold the new product and did not
    hold the old one (audit AI 4: re-routed and checked by the new product, it printed unseen).
    None where they do not (a block is only ever removed by a release). The daemon's rule and
    `route`'s."""
    if new == old:
        return None
    held, why = decide_blocking(None, config, new)
    if not held or decide_blocking(None, config, old)[0]:
        return None
    return f"{why} (its product changed from {old} to {new})"


def _matches(value: str | None, pattern: str, *, none_is_empty: bool = False) -> bool:
    """``none_is_empty``: no value is matched by the empty pattern (an order without a customer by
    ``customer: ""``, as one with an empty customer is, and as its file name has it: review FZ 3)."""
    if value is None:
        return none_is_empty and pattern == ""
    return glob_match(value, pattern)


#: The placeholders whose values are the shop's own, short: the others (customer, attributes) are
#: what is shortened first in a name too long (audit AZ: "{customer}_{job_id}.pdf" with a long
#: customer lost the job id to the cut at 200 bytes).
_KEPT_WHOLE = frozenset(("order_id", "job_id", "product", "quantity"))
_NAME_BYTES = 200  # (safe_name's limit)


def render_filename(template: str, facts: RouteFacts) -> str:
    """The hot folder's file-name template filled in; characters a filesystem rejects become ``_``.
    A name longer than 200 bytes has its free-text values (customer, attributes) shortened first,
    so that the ids stay in it; only then is the whole cut (with a hash: fsutil.fit_name)."""
    filled = _filled(template, facts, None)
    if len(filled.encode("utf-8", "surrogateescape")) > _NAME_BYTES:
        # Without {job_id}, values cut alike would make two jobs one name (audit BX 8: two long
        # attributes that differ past the cut): the whole name's hash is added, as fit_name does.
        whole = filled.encode("utf-8", "surrogateescape")
        tag = "" if _has_job_id(template) else "~" + hashlib.sha256(whole).hexdigest()[:8]
        for cap in (64, 32, 16, 8, 0):
            filled = _filled(template, facts, cap)
            if len(filled.encode("utf-8", "surrogateescape")) <= _NAME_BYTES - len(tag):
                break
        if tag:
            stem, dot, ext = filled.rpartition(".")
            filled = f"{stem}{tag}.{ext}" if dot and stem and len(ext) <= 16 else f"{filled}{tag}"
    name = safe_name(filled)
    if name.startswith("."):
        # An empty placeholder first ("{customer}.pdf", no customer): a hidden name, which a RIP
        # never picks up, and the same for every such job. The job id in front makes it neither.
        name = safe_name(f"{facts.job_id}{name}")
    if windows_device(name):
        # "CON.pdf", "nul.pdf", "Com1.pdf" (a customer "CON"): names Windows keeps for devices,
        # whatever the extension, which a hot folder on a Windows share refuses (audit, operator 4).
        stem, dot, rest = name.partition(".")
        name = f"{stem.rstrip(' ')}_{dot}{rest}"
    return name


def _has_job_id(template: str) -> bool:
    return any(match.group(1).strip() == "job_id" for match in _PLACEHOLDER.finditer(template))


def _filled(template: str, facts: RouteFacts, cap: int | None) -> str:
    """``template`` filled in, the free-text values cut to ``cap`` bytes (None: whole); not yet
    made a safe name."""

    def substitute(match: re.Match[str]) -> str:
        key = match.group(1).strip()
        value = facts.value(key) or ""
        if cap is None or key in _KEPT_WHOLE:
            return value
        return value.encode("utf-8", "surrogateescape")[:cap].decode("utf-8", errors="ignore")

    # Spaces before the extension (an empty placeholder last: "{job_id} {customer}.pdf", no
    # customer) would make "1-1 .pdf" (audit BR 6).
    return _SPACE_BEFORE_EXTENSION.sub(r"\1", _PLACEHOLDER.sub(substitute, template))


def output_name(facts: RouteFacts, decision: RouteDecision, config: Config) -> str:
    hot = config.hot_folders.get(decision.hot_folder or "")
    return render_filename(hot.filename if hot else DEFAULT_FILENAME, facts)


class DeliveryError(Exception):
    """A copy into a hot folder failed. ``transient``: worth retrying later."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient
        # Whether a temp file of ours may be left where it was written (a job ticket's: the sweep
        # removes it once its folder answers); False where nothing of ours is there (review GW 1).
        self.temp_left = True


# errno values that say "try again later": a share that dropped, a full disk, a folder missing
# because a mount is down, permissions a sysadmin may still fix.
_TRANSIENT = {
    errno.ENOENT,
    errno.EIO,
    errno.ESTALE,
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EHOSTDOWN,
    errno.EHOSTUNREACH,
    errno.ENETDOWN,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
    errno.ENOTCONN,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.ECONNREFUSED,
    errno.EAGAIN,
    errno.EBUSY,
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.EINTR,
}


# errno values of a share whose server cannot be reached (a FUSE server gone: ENOTCONN).
_UNREACHABLE = {
    errno.ENOTCONN,
    errno.EHOSTDOWN,
    errno.EHOSTUNREACH,
    errno.ENETDOWN,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.ECONNREFUSED,
}


def explain_os_error(exc: OSError, hot: HotFolderConfig, folder: Path | None = None) -> DeliveryError:
    """``exc`` in plain words, naming the folder it happened in (``folder``: the hot folder's
    staging folder, where the temporary copy is written; else the hot folder)."""
    code = exc.errno
    staging = folder is not None and folder == hot.staging and folder != hot.path
    what = f"the staging folder of hot folder {hot.name}" if staging else f"hot folder {hot.name}"
    where = str(folder if staging else hot.path)
    if code == errno.ENOSPC or code == errno.EDQUOT:
        msg = f"the disk of {what} ({where}) is full; free some space"
    elif code == errno.EROFS:
        msg = (
            f"{what} ({where}) is on a read-only filesystem (Read-only file system); check the mount, and under "
            "systemd that the folder is in the service's ReadWritePaths= (docs/service.md)"
        )
    elif code == errno.EACCES:
        msg = f"no permission to write into {what} ({where}); check its owner and mode"
    elif code == errno.EPERM:
        # Not the mode: an immutable folder (chattr +i) or a security policy (audit BP 4).
        msg = (
            f"writing into {what} ({where}) is not permitted (the system refused it, whatever the mode: an "
            "immutable folder, `chattr +i`, shows in `lsattr -d`; or a security policy); check its owner, mode "
            "and attributes"
        )
    elif code in (errno.ENAMETOOLONG, errno.EINVAL, errno.EILSEQ):
        msg = f"{what} ({where}) rejects the file name: {exc.strerror}; change its filename template"
    elif code == errno.ENOTDIR:
        msg = f"{what}: {where} is not a folder"
    elif code == errno.ENOENT:
        msg = f"{what} ({where}) disappeared during the copy (is the share mounted?)"
    elif code in _UNREACHABLE:
        msg = (
            f"{what} ({where}) is on a share that cannot be reached ({exc.strerror or exc}): is its server up and "
            "the share mounted?"
        )
    elif code == errno.ESTALE:
        msg = (
            f"{what} ({where}) is on a share whose folder handle is stale ({exc.strerror or exc}): the share was "
            "changed or mounted again under the daemon; unmount and mount it again"
        )
    else:
        msg = f"copy into {what} ({where}) failed: {exc.strerror or exc}"
    return DeliveryError(msg, transient=code in _TRANSIENT)


def _rename_failed_in(temp: Path, hot: HotFolderConfig) -> Path:
    """Which folder a failed rename of ``temp`` into the hot folder is about: the staging folder
    when the temp file is there and that folder cannot be written (the name cannot leave it)."""
    if hot.staging is not None and temp.parent == hot.staging and not os.access(hot.staging, os.W_OK):
        return hot.staging
    return hot.path


def _mounted_now(point: Path) -> bool:
    """Whether something is mounted at ``point`` now (a share seen mounted there before): its
    filesystem is not its parent's, or the mount table lists a folder bound there from elsewhere.
    True where it cannot be told (a stat that fails says why at the copy)."""
    try:
        if os.stat(point).st_dev != os.stat(point.parent).st_dev:
            return True
    except OSError:
        return True
    return bool(filesystem_mount_points(mount_table(), [str(point)]))


#: The file in state/ that keeps the hot and staging folders seen mounted (``MountPoints``).
MOUNT_POINTS_NAME = "mount-points.txt"


def _unmounted_above(points: Iterable[Path], real: Path) -> Path | None:
    """The nearest of ``points`` above folder ``real`` (not "/") with nothing mounted there now,
    below whatever is mounted nearest above ``real``: a share mounted further down holds the folder
    whatever is (not) mounted above it (review HD 1: a hot folder on a share mounted at
    /srv/rip was refused "not mounted" for /srv, which fstab lists and nothing was mounted on)."""
    nearest = max((p for p in points if p in real.parents and p != Path("/")), key=lambda p: len(p.parts), default=None)
    if nearest is None or _mounted_now(nearest):
        return None  # (mounted there: that, or a mount below it, holds the folder)
    holder = _nearest_mount(real)  # (read only then: not at every delivery)
    return None if holder is not None and nearest in holder.parents else nearest


def _nearest_mount(real: Path) -> Path | None:
    """The mount point nearest above folder ``real`` (or ``real`` itself) where something is
    mounted (not a folder bound onto itself, as systemd binds each hot folder: it stays while the
    share above it is gone); None for none but "/"."""
    points = [Path(point) for point in filesystem_mount_points(mount_table())]
    return max((p for p in points if p == real or p in real.parents), key=lambda p: len(p.parts), default=None)


class MountPoints:
    """Which hot and staging folders are mount points of their own (a share mounted there): when
    such a share is unmounted, its mount point stays behind as an empty folder of the local disk,
    where a copy would succeed and no printer would ever see the file. A folder once seen as a
    mount point (its filesystem is not its parent folder's) that is later on its parent's
    filesystem is not mounted; so is a folder /etc/fstab lists as a mount point while it is on its
    parent's filesystem. The folders seen mounted are kept in ``store`` (one path a line), across
    restarts and reloads: a share down while the daemon restarts is still known for one. A folder
    meant to be local from then on: its line is removed from that file. So are the shares seen
    mounted above such a folder (on its parent: a share's own folder configured as the hot folder),
    whose unmount uncovers a local folder of the same path (review GZ 1)."""

    def __init__(self, fstab: Path = Path("/etc/fstab"), store: Path | None = None, *, keep: bool = True) -> None:
        self._fstab = fstab
        self._store = store
        self._keep = keep  # (False: the store is read, never written: a command's look, review HI)
        self._mounted: set[Path] = set()  # folders seen as mount points of their own
        self._points: tuple[tuple[int, int, int], set[Path]] | None = None  # fstab's, as of its (ino, size, mtime)
        self._stored: tuple[int, int, int] | None = None  # the store as of its (ino, size, mtime) when read
        self._lock = threading.Lock()  # (hot folders' threads check at the same time)

    def _load(self) -> None:
        """The store again, when it changed (a sysadmin removed a line)."""
        if self._store is None:
            return
        try:
            st = os.stat(self._store)
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            if key == self._stored:
                return
            text = self._store.read_text(errors="replace")
        except FileNotFoundError:
            self._mounted, self._stored = set(), None  # (removed: as if every line were)
            return
        except OSError:
            return
        self._stored = key
        self._mounted = {Path(line) for line in text.splitlines() if line.startswith("/")}

    def _remember(self, folder: Path) -> None:
        self._mounted.add(folder)
        if self._store is None or not self._keep:
            return
        from spo_hotfolder.fsutil import atomic_write

        head = (
            "# Hot and staging folders seen as mount points of a share (spo-hotfolder): one of them found\n"
            "# unmounted (an empty folder of the local disk) is not delivered into. Remove the line of a\n"
            "# folder that is meant to be a local folder from now on.\n"
        )
        with contextlib.suppress(OSError):  # (best effort: the memory of this run stays in any case)
            atomic_write(self._store, head + "".join(f"{p}\n" for p in sorted(self._mounted, key=str)))
            st = os.stat(self._store)
            self._stored = (st.st_ino, st.st_size, st.st_mtime_ns)

    def note_mounted(self, folders: Iterable[Path], points: Iterable[str]) -> None:
        """Remembers which of ``folders`` are mount points now (``points``: the mountinfo's, read,
        not asked of the folders: a share that does not answer is never touched). Looked at from
        the start and at each rescan, not only at a delivery: a share unmounted before the first
        delivery there had that delivery made into its empty mount point, the job InHotFolder and
        never printed (audit BG D1)."""
        mounted = {os.path.normpath(point) for point in points}
        found = [folder for folder in folders if os.path.normpath(folder) in mounted]
        if not found:
            return
        with self._lock:
            self._load()
            for folder in found:
                if folder not in self._mounted:
                    self._remember(folder)

    def check(self, label: str, folder: Path, st: os.stat_result) -> None:
        # The folder itself, not a symbolic link to it: a link to a folder on another disk is not a
        # mount point; a link to a share's mount point is looked at as that mount point.
        real = Path(os.path.realpath(folder))
        try:
            parent = os.stat(real.parent)
        except OSError:
            return
        listed = st.st_dev == parent.st_dev and (folder in self._fstab_points() or real in self._fstab_points())
        with self._lock:
            self._load()
            if st.st_dev != parent.st_dev:
                if real not in self._mounted:
                    self._remember(real)
                return
            seen = real in self._mounted or folder in self._mounted
            remembered = [p for p in self._mounted if p in real.parents]  # (shares seen above it: GZ 1)
        if (seen or listed) and filesystem_mount_points(mount_table(), [str(real), str(folder)]):
            # Mounted now, from the same disk (a folder bound there from elsewhere: its device is
            # its parent's; review GW 2, every delivery into such a hot folder was refused "not
            # mounted"). Not a folder bound onto itself (systemd's ReadWritePaths=: audit DC 1).
            return
        if seen:
            # (Not how to make it local again: a line removed while a rename into the share is
            # unconfirmed would have the empty folder taken for the share: audit CM 3. README says.)
            why = (
                "it was seen as the mount point of a share, and is now a folder of the local disk, where the printer "
                "would never see a file; mount the share again"
            )
        elif listed:
            why = (
                f"{self._fstab} lists it as a mount point, and nothing is mounted there: a file put into the folder "
                f"under it would never reach the printer; mount it (mount {folder}), or take it out of {self._fstab} "
                "if it is meant to be a local folder"
            )
        else:
            gone = _unmounted_above(remembered, real)
            # (and a mount point /etc/fstab lists above it, never seen mounted: review HA 1, README's
            # own line, //rip/hotfolders on /mnt/indigo, down when the daemon started)
            fstab = _unmounted_above(self._fstab_points(), real) if gone is None else None
            if gone is not None:
                why = (
                    f"the share mounted at {gone}, which holds it, was seen mounted and {gone} is now a folder of the "
                    "local disk, where the printer would never see a file; mount the share again"
                )
            elif fstab is not None:
                why = (
                    f"{self._fstab} lists {fstab}, which holds it, as a mount point, and nothing is mounted there: a "
                    f"file put into the folder under it would never reach the printer; mount it (mount {fstab}), or "
                    f"take it out of {self._fstab} if it is meant to be a local folder"
                )
            else:
                return
        raise DeliveryError(f"{label} ({folder}) is not mounted: {why}", transient=True)

    def _fstab_points(self) -> set[Path]:
        points: set[Path] = set()
        try:
            st = os.stat(self._fstab)
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            if self._points is not None and self._points[0] == key:
                return self._points[1]
            text = self._fstab.read_text(errors="replace")
        except OSError:
            return points
        for line in text.splitlines():
            fields = line.split()
            if len(fields) >= 2 and not fields[0].startswith("#") and fields[1].startswith("/"):
                # (fstab writes a space in a path as \040)
                points.add(Path(fields[1].replace("\\040", " ").replace("\\011", "\t")))
        self._points = (key, points)
        return points


def check_hot_folder(
    hot: HotFolderConfig,
    mounts: MountPoints | None = None,
    spool: Mapping[tuple[int, int], tuple[str, Path]] | None = None,
) -> None:
    """Raises DeliveryError when the hot folder (or its staging folder) cannot take a file now.

    The daemon never creates a missing hot folder: a missing folder usually means a share is not
    mounted, and creating it would hide the files from the printer. ``mounts``: a folder that is
    the mount point of a share that is not mounted is refused likewise.
    """
    hot_st: os.stat_result | None = None
    for label, folder in (
        (f"hot folder {hot.name}", hot.path),
        (f"the staging folder of hot folder {hot.name}", hot.staging),
    ):
        if folder is None:
            continue
        try:
            st = os.stat(folder)
        except FileNotFoundError:
            raise DeliveryError(
                f"{label} ({folder}) {missing_reason(folder)}; is the printer's share mounted? The daemon never "
                "creates it",
                transient=True,
            ) from None
        except OSError as exc:
            raise explain_os_error(exc, hot, folder) from exc
        if not stat.S_ISDIR(st.st_mode):
            raise DeliveryError(
                f"{label}: {folder} is a file, not a folder: move that file away (and make the folder), or name "
                f"the right folder in hot_folders.{hot.name} in the config",
                transient=False,
            )
        if mounts is not None:
            mounts.check(label, folder, st)
        if folder == hot.path:
            hot_st = st
        elif hot_st is not None and os.path.samestat(st, hot_st):
            # (through a link, either way round; check-config says it too: audit AR D6)
            raise DeliveryError(
                f"{label} ({folder}) is the hot folder itself, reached another way (a symbolic link?): the "
                f"printer would pick up half-written files; leave hot_folders.{hot.name}.staging out",
                transient=False,
            )
        own = (spool or {}).get((st.st_dev, st.st_ino))
        if own is not None:
            # One of the daemon's own folders (``spool``, by identity) under another name (a symbolic
            # link, a bind mount): a delivery into the inbox was taken for an unclaimed file while
            # its job was recorded InHotFolder (audit AO D1). check-config says it too.
            raise DeliveryError(
                f"{label} ({folder}) is the daemon's own paths.{own[0]} ({own[1]}), reached another way (a symbolic "
                f"link?): no printer takes files from there; name the printer's folder in hot_folders.{hot.name}",
                transient=False,
            )


def temp_path_for(hot: HotFolderConfig, final_name: str) -> Path:
    return (hot.staging or hot.path) / f".{final_name}.part"


def is_our_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(".part") and len(name) > len("..part")


def folder_id(st: os.stat_result) -> str:
    """A folder's identity (``st``: its stat), "<device>:<inode>": another folder made in its
    place has another inode (what tells, after a crash, a temp file renamed from one removed with
    its folder; ``Engine._reconcile_delivery``, ``other_folder``)."""
    return f"{st.st_dev}:{st.st_ino}"


def other_folder(written_in: str | None, now: str) -> bool:
    """Whether the folder a temp file was written in (``folder_id``) is another one now. Told by
    the inode number: a folder removed and made again gets another one, where a share mounted
    again keeps its folders' (its device number may change). False where either is not known."""
    if not written_in or not now:
        return False
    return written_in.rpartition(":")[2] != now.rpartition(":")[2]


class TempInTheWay(DeliveryError):
    """A file is there under the temp file's name, not known to be ours: never overwritten."""

    def __init__(self, temp: Path, hot: HotFolderConfig) -> None:
        super().__init__(
            f"a file named {temp.name} is in {'the staging folder of ' if hot.staging else ''}hot folder {hot.name} "
            f"({temp.parent}), where this job's temporary copy goes, and the daemon did not write it (another "
            "sender's upload?); it is never overwritten: the copy is tried again once it is gone",
            transient=True,
        )


class TempOfAnotherJob(TempInTheWay):
    """The file under the temp file's name is another job's copy whose rename is not settled yet."""

    def __init__(self, temp: Path, hot: HotFolderConfig, job_id: str) -> None:
        DeliveryError.__init__(
            self,
            f"a file named {temp.name} is in {'the staging folder of ' if hot.staging else ''}hot folder {hot.name} "
            f"({temp.parent}): job {job_id}'s copy, whose rename the hot folder has not confirmed yet (two jobs "
            "whose file names there are the same); it is never overwritten: the copy is tried again once that job's "
            "delivery is settled",
            transient=True,
        )


def write_temp(
    src: Path,
    temp: Path,
    hot: HotFolderConfig,
    cancelled: Callable[[], bool] | None = None,
    *,
    stale_is_ours: bool = False,
) -> tuple[int, str]:
    """Copies the output to the temp name (fsynced). A file already there under that name is
    removed first only where ``stale_is_ours`` (the delivery journal names it: a copy of ours cut
    short); else TempInTheWay (README: another sender's ``.something.part`` is never touched).
    Returns the size and the identity of the temp file's folder (``folder_id``)."""
    try:
        if os.path.lexists(temp):
            if not stale_is_ours:
                raise TempInTheWay(temp, hot)
            temp.unlink()
        # A sign of progress (``cancelled``) at least every 8 MiB: what tells a share that answers
        # slowly from one that does not answer (shares.py, delivery.share_timeout_seconds).
        folder: list[str] = []

        def in_place(fd: int) -> None:
            # The temp file's folder entry durable before the journal says "written": after a power
            # cut a "written" temp file that is gone then means renamed, never lost with its entry
            # (audit B 1). And the file still there: a folder renamed during the copy (audit AG 1)
            # fails the copy, and the copy is removed where it is now.
            fsync_dir(temp.parent)
            here, mine = os.lstat(temp), os.fstat(fd)
            if (here.st_dev, here.st_ino) != (mine.st_dev, mine.st_ino):
                raise FileNotFoundError(errno.ENOENT, "the folder was renamed during the copy", str(temp))
            folder.append(folder_id(os.stat(temp.parent)))

        size = copy_file(src, temp, cancelled=cancelled, chunk=8 * 1024 * 1024, then=in_place)
        return size, folder[0]
    except InterruptedError:
        raise
    except FileExistsError as exc:  # (made there since the look above: the copy opens with O_EXCL)
        raise TempInTheWay(temp, hot) from exc
    except SourceChanged as exc:
        raise DeliveryError(
            f"the job's output {src.name} {exc.strerror}: not delivered; copied again at the next attempt",
            transient=True,
        ) from exc
    except OSError as exc:
        raise explain_os_error(exc, hot, temp.parent) from exc


def check_name_free(final: Path, hot: HotFolderConfig) -> None:
    """Raises DeliveryError while a file of the final name waits in the hot folder: checked before
    the copy (no copy made for nothing); the rename itself never replaces one (publish), and says it
    so where one came meanwhile."""
    try:
        st = os.lstat(final)  # one system call: this runs twice in every delivery
    except OSError:
        return  # free (or the folder cannot be read: the copy then says why)
    if stat.S_ISDIR(st.st_mode):
        raise DeliveryError(
            f"a folder named {final.name} is in hot folder {hot.name}, where this job's file goes; it is not "
            "written until the folder is moved away",
            transient=True,
        )
    raise DeliveryError(
        f"a file named {final.name} is already waiting in hot folder {hot.name} (not yet taken by the "
        "printer), which is never overwritten",
        transient=True,
    )


def reprint_name(final: Path, hot: HotFolderConfig, earlier: frozenset[str], generation: int) -> Path:
    """Where a reprint goes while a file waits under the name its job's earlier delivery was
    published to (``earlier``: those paths; the earlier PDF, not yet taken by the printer, or one
    put there since: never overwritten either way): ``<name>-reprint<n>.pdf`` (n: the reprint's
    number, else the next free one), with nothing of that name there, nor its temp file or ticket.
    Otherwise ``final`` itself: a name no delivery of the job had is waited for as ever
    (``check_name_free``), a template's name being what the printer is set up for."""
    if str(final) not in earlier or not os.path.lexists(final):
        return final
    first = max(1, generation - 1)
    for number in range(first, first + 100):
        candidate = final.with_name(f"{final.stem}-reprint{number}{final.suffix}")
        taken = [candidate, temp_path_for(hot, candidate.name)]
        if hot.ticket == "json":
            taken += [candidate.with_suffix(".json"), temp_path_for(hot, candidate.with_suffix(".json").name)]
        if not any(os.path.lexists(path) for path in taken):
            return candidate
    return final


def publish(temp: Path, final: Path, hot: HotFolderConfig) -> None:
    """Renames the temp file to its final name, never over a file the printer has not taken yet."""
    try:
        try:
            rename_noreplace(temp, final)  # (never over a file: the look before it is in the rename)
        except FileExistsError:
            check_name_free(final, hot)  # said as a file (or a folder) waiting there is
            raise
    except OSError as exc:
        if exc.errno == errno.EXDEV:
            raise DeliveryError(
                f"staging folder {hot.staging} is not on the same filesystem or mount as hot folder {hot.name} "
                f"({hot.path}; a bind mount or a container's second volume of the same disk is another mount); a "
                f"rename between them is impossible. Fix hot_folders.{hot.name}.staging",
                transient=False,
            ) from exc
        raise explain_os_error(exc, hot, _rename_failed_in(temp, hot)) from exc
    # The rename happened: the file is published. Making the folder entry durable is best effort
    # from here on; failing now would make the job copy the file a second time.
    with contextlib.suppress(OSError):
        fsync_dir(final.parent)


def ticket_temp_path(final_pdf: Path, hot: HotFolderConfig) -> Path:
    """Where the job ticket of ``final_pdf`` is written before its rename."""
    return temp_path_for(hot, final_pdf.with_suffix(".json").name)


def publish_sidecar(
    final_pdf: Path, payload: bytes, hot: HotFolderConfig, before_rename: Callable[[], None] | None = None
) -> Path:
    """Writes the JSON job ticket next to the delivered PDF (same stem), by temp name + rename.
    ``before_rename`` runs once the temp file is complete on disk (the delivery journal's mark)."""
    ticket = final_pdf.with_suffix(".json")
    temp = ticket_temp_path(final_pdf, hot)
    failing = temp.parent  # where the temp file is written, then the rename
    try:
        # Never over a file there (another sender's upload under that very name, a link to a file
        # elsewhere: white-box audit CS 1, it was truncated and written through): ours left by a
        # crash or a stop are swept at the start before anything is copied.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except FileExistsError as exc:
        error = DeliveryError(
            f"a file named {temp.name} (another sender's upload?) is in {temp.parent}, where this job's ticket "
            f"{ticket.name} is written before its rename: it is never overwritten; the ticket waits until it is gone",
            transient=True,
        )
        error.temp_left = False  # (not ours: never swept as ours, review GW 1)
        raise error from exc
    except OSError as exc:
        error = explain_os_error(exc, hot, failing)
        error.temp_left = False
        raise error from exc
    try:
        try:
            os.write(fd, payload)
            os.fsync(fd)
            set_mode(fd, 0o644)
        finally:
            os.close(fd)
        if before_rename is not None:
            fsync_dir(temp.parent)  # (as write_temp: durable before the journal's mark)
            try:
                before_rename()
            except BaseException as exc:  # (not marked: an attempt given up on, a ledger error) never renamed
                gone = _removed(temp)
                if isinstance(exc, DeliveryError):
                    exc.temp_left = not gone
                raise
        failing = _rename_failed_in(temp, hot)
        rename_noreplace(temp, ticket)
        fsync_dir(ticket.parent)
    except FileExistsError as exc:
        # Another sender's ticket of that name, come since the look before the PDF (audit AZ D1:
        # it was replaced by this one): never overwritten; this one is written once it is taken.
        error = DeliveryError(
            f"a job ticket named {ticket.name} came into hot folder {hot.name} just as this job's was written "
            "(not yet taken by the printer), which is never overwritten",
            transient=True,
        )
        error.temp_left = not _removed(temp)
        raise error from exc
    except OSError as exc:
        error = explain_os_error(exc, hot, failing)
        error.temp_left = not _removed(temp)
        raise error from exc
    return ticket


def _removed(temp: Path) -> bool:
    """Removes our temp file ``temp``: whether it is gone (False: its removal failed, a share gone)."""
    try:
        temp.unlink(missing_ok=True)
    except OSError:
        return False
    return True


def missing_reason(folder: Path) -> str:
    """How a folder a stat found missing is missing: "does not exist", or a symbolic link whose
    target does not (audit AO, AR D7: a dangling link was said not to exist, where `ls` shows it).
    Called only once the filesystem has answered that stat (no share that does not answer)."""
    with contextlib.suppress(OSError):
        if folder.is_symlink():
            return f"is a symbolic link to {folder.readlink()}, which does not exist"
    return "does not exist"
