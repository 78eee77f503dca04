"""The commands of ``spo-hotfolder`` (``cli`` parses the arguments and picks one).

Each ``cmd_*`` takes the parsed arguments and returns the exit code; a ``CliError`` is a clear
one-line error for stderr (exit 1).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import fnmatch
import hashlib
import json
import os
import shutil
import stat
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from spo_hotfolder.cli import DEFAULT_CONFIG, PROG
from spo_hotfolder.clock import SystemClock, iso
from spo_hotfolder.config import (
    Config,
    ConfigError,
    FolderLook,
    load_config,
    load_paths,
    look_here,
    spool_only,
    summary,
    template_placeholders,
)
from spo_hotfolder.delivery import (
    MOUNT_POINTS_NAME,
    DeliveryError,
    MountPoints,
    RouteFacts,
    blocked_by_product_change,
    decide_blocking,
    decide_route,
    missing_reason,
    output_name,
    reprint_name,
)
from spo_hotfolder.digests import sha256_of
from spo_hotfolder.fsutil import on_read_only_mount, readable, undecodable
from spo_hotfolder.ledger import TERMINAL, Delivery, Job, Ledger, Stage, ledger_path, this_user
from spo_hotfolder.manifest import (
    MANIFEST_NAMES,
    MANIFEST_SUFFIXES,
    MAX_MANIFEST_BYTES,
    JobSpec,
    Manifest,
    ManifestError,
    cut_yaml_line,
    parse_manifest,
    sent_again,
    sent_twice,
    several_manifests,
    several_manifests_problem,
)
from spo_hotfolder.operator import (
    Action,
    fingerprint,
    name_problem,
    pending_commands,
    pending_commands_by_job,
    refusal,
)
from spo_hotfolder.reports import artwork_listing, job_named_in, printable, unmovable_wait
from spo_hotfolder.status import JobStatus

if TYPE_CHECKING:
    from spo_hotfolder.engine import ActionResult, Engine

COMMAND_WAIT_SECONDS = 30.0


class CliError(Exception):
    """A one-line error for stderr; exit 1."""


# -- helpers ------------------------------------------------------------------------------------


def config_path(args: argparse.Namespace) -> Path:
    raw = args.config or os.environ.get("SPO_HOTFOLDER_CONFIG") or DEFAULT_CONFIG
    return Path(raw)


def get_config(args: argparse.Namespace, *, logs: bool = True) -> Config:
    """The config, and logging set up in its format on stderr, errors only: stdout carries the
    command's answer and stderr its one-line error (an operator command acting offline runs the
    daemon's code, whose info and warning lines the ledger's history already says).

    ``logs=False``: a command that only reads (``jobs``, ``show``, ``health``) runs none of the
    daemon's code, which is what logs: it is not imported, nor structlog (a third of such a
    command's time)."""
    config = load_config(config_path(args))
    if logs:
        from spo_hotfolder.logsetup import setup_logging

        setup_logging("error", config.logging.format, sys.stderr)
    return config


def config_or_spool(args: argparse.Namespace, *, logs: bool = True) -> tuple[Config, ConfigError | None]:
    """The config and None; while the file has an error (edited since the daemon read it: a
    running daemon keeps the config it had), its spool folders alone and that error, for the
    commands that need no more (``jobs``, ``show``, ``health``, and the operator commands a running
    daemon does): an operator's look at the jobs must not wait for the administrator's fix (audit,
    soak: every ``jobs`` refused "invalid config" while the daemon went on serving). The error is
    raised when not even the spool folders can be read."""
    try:
        return get_config(args, logs=logs), None
    except ConfigError as exc:
        source = config_path(args)
        paths = load_paths(source)
        if paths is None:
            raise
        return spool_only(source, paths), exc


def config_to_read(args: argparse.Namespace) -> Config:
    """The config for ``jobs`` and ``show`` (config_or_spool), the file's error said on stderr."""
    config, invalid = config_or_spool(args, logs=False)
    if invalid is not None:
        _say_config_error(
            invalid, "the jobs are read from the spool folders it names; a job not routed yet shows no hot folder"
        )
    return config


def _say_config_error(exc: ConfigError, then: str) -> None:
    more = f" (and {len(exc.errors) - 1} more)" if len(exc.errors) > 1 else ""
    print(
        f"note: the config file has an error now: {exc.errors[0]}{more}; a running daemon keeps the config it read "
        f"before (a reload or restart with this file would fail); {then}",
        file=sys.stderr,
    )


def open_ledger(config: Config, *, readonly: bool = True) -> Ledger:
    path = ledger_path(config)
    if not path.exists():
        raise CliError(f"no ledger at {path}: run `{PROG} init` or start the daemon first")
    # (create=False: a damaged or emptied ledger is said, not replaced by a new one: only `init` and
    # the daemon make a ledger)
    return Ledger(path, readonly=readonly, create=False)


def fail(message: str) -> NoReturn:
    raise CliError(message)


def operator_name(args: argparse.Namespace) -> str:
    if args.by:
        return str(args.by)  # (checked as it was parsed: cli._operator)
    user = os.environ.get("SUDO_USER") or os.environ.get("USER") or ""
    # (a login named "system", or a name the history cannot show as it is: the default's default)
    return user if user and name_problem(user) is None else "operator"


# -- commands -----------------------------------------------------------------------------------


def _is_folder(path: Path, other: Path) -> bool:
    """Whether ``path`` and ``other`` are one folder (False where either cannot be looked at)."""
    try:
        return path.samefile(other)
    except OSError:
        return False


def cmd_run(args: argparse.Namespace) -> int:
    """The daemon (``cli.main`` has already started the PDF worker's fork server)."""
    from spo_hotfolder.service import StartupError, run

    try:
        return run(config_path(args))
    except StartupError as exc:
        raise CliError(str(exc)) from exc


class _FolderLooks:
    """The hot and staging folders as ``check-config`` and ``init`` look at them: in a child
    process, so that a share whose server does not answer holds neither up (``shares.look_at``)."""

    def __init__(self) -> None:
        self.folders: list[Path] = []
        self.seconds = 0.0
        self.look: FolderLook = look_here

    def __call__(self, folders: Sequence[Path], seconds: float) -> FolderLook:
        from spo_hotfolder.shares import look_at

        self.folders, self.seconds = list(dict.fromkeys(folders)), seconds
        self.look = look_at(self.folders, seconds)
        return self.look

    def silent_notes(self) -> list[str]:
        return [
            f"note: {folder} {_not_answering(self.seconds)} The daemon starts anyway; deliveries into it fail and "
            "are retried until it answers"
            for folder in self.folders
            if self.look(folder).kind == "silent"
        ]


def _not_answering(seconds: float) -> str:
    return (
        f"does not answer: a look at it has not returned within {seconds:g} s (delivery.share_timeout_seconds); "
        "a share whose server is down or unreachable?"
    )


def cmd_check_config(args: argparse.Namespace) -> int:
    # What the file says may also be impossible where it points (folders that are files, on other
    # filesystems): listed with the file's own errors, all at once.
    from spo_hotfolder.service import folder_access_notes

    looks = _FolderLooks()
    try:
        config = load_config(config_path(args), filesystems=True, probe=looks)
    except ConfigError:
        for note in looks.silent_notes():
            print(note, file=sys.stderr)
        raise
    print(summary(config, looks.look))
    # A hot folder missing is no error (a share not mounted yet), but is said where a script looks
    # for problems, as `init` says it (a folder that does not answer: silent_notes).
    missing = _hot_folder_notes(config, looks.look, looks.seconds, ("missing", "unreadable", "unwritable", "unmounted"))
    notes = [*looks.silent_notes(), *missing, *(f"note: {note}" for note in folder_access_notes(config))]
    for note in [*notes, *_metrics_notes(config), *_filename_notes(config), *_layout_notes(config, looks.look)]:
        print(note, file=sys.stderr)
    print("config OK")
    return 0


#: Names of files every order has (checked against watch.ignore): its artwork and its manifest.
_ORDER_FILES = (
    "artwork.pdf",
    "order.json",
    "order.yaml",
    "order.yml",
    "manifest.json",
    "manifest.yaml",
    "manifest.yml",
)


def _layout_notes(config: Config, look: FolderLook = look_here) -> list[str]:
    """Setups that are allowed but seldom meant (audit T 3): two hot folders in one folder (two
    names for one printer, or a mistake that prints one printer's jobs at another), a hot folder
    or a staging folder inside another hot folder (a printer that looks into subfolders picks up
    what is there), and watch.ignore patterns that match every PDF or manifest."""
    notes: list[str] = []
    hot = list(config.hot_folders.values())
    for i, one in enumerate(hot):
        for other in hot[i + 1 :]:
            seen = look(one.path).real
            if one.path == other.path or (seen is not None and seen == look(other.path).real):
                # (also through a symbolic link: audit AO D2)
                notes.append(
                    f"note: hot_folders.{one.name} and hot_folders.{other.name} are the same folder ({one.path}): "
                    "the jobs of both go to the one printer that watches it"
                )
        for other in hot:
            if other is one:
                continue
            if one.path in other.path.parents:
                notes.append(
                    f"note: hot_folders.{other.name} ({other.path}) is inside hot_folders.{one.name}: a printer "
                    f"that looks into subfolders of {one.path} prints {other.name}'s jobs too"
                )
            if one.staging is not None and (one.staging == other.path or other.path in one.staging.parents):
                notes.append(
                    f"note: hot_folders.{one.name}.staging ({one.staging}) is in hot folder {other.name}: its "
                    f"printer sees {one.name}'s copies being written (under hidden names); put staging elsewhere"
                )
        if one.staging is not None and one.path in one.staging.parents:
            notes.append(
                f"note: hot_folders.{one.name}.staging ({one.staging}) is inside the hot folder: a printer that "
                "looks into subfolders sees the copies being written (under hidden names)"
            )
    every = next((rule for rule in config.routes if not rule.when), None)
    if every is not None and every is not config.routes[-1]:
        later = [str(rule.number) for rule in config.routes if rule.number > every.number]
        notes.append(
            f"note: route {every.number} has no 'when' (or an empty one) and takes every job: "
            f"route{'s' if len(later) > 1 else ''} "
            f"{', '.join(later)} after it {'are' if len(later) > 1 else 'is'} never used"
        )
    ignored = [name for name in _ORDER_FILES if any(fnmatch.fnmatch(name, p.lower()) for p in config.watch.ignore)]
    if ignored:
        notes.append(
            f"note: watch.ignore {list(config.watch.ignore)} matches {', '.join(ignored)}: files named like these are "
            "never taken from the inbox (no order would be)"
        )
    return notes


def _filename_notes(config: Config) -> list[str]:
    """A hot folder's file-name template without ``{job_id}`` can give two jobs one name: never
    an overwrite (the second job waits until the printer takes the first, and fails after
    delivery.max_attempts), but said before it happens (audit F4)."""
    return [
        f"note: hot_folders.{name}.filename {hot.filename!r} has no {{job_id}}: two jobs can get the same file "
        "name, and the second's copy then waits for the printer to take the first, tried again on "
        "delivery.backoff_seconds and failed/ after delivery.max_attempts (a file waiting in a hot folder is never "
        "overwritten)"
        for name, hot in config.hot_folders.items()
        if "job_id" not in template_placeholders(hot.filename)
    ]


_RETRIED = " (it says so in its log and tries again every minute)"


def _metrics_notes(config: Config) -> list[str]:
    """metrics.listen's host name that does not resolve here, or an address it cannot serve: the
    daemon would serve no metrics (audit D 3: it passed check-config and a reload, and the next
    start failed; since 12-05 the daemon starts and tries the address again every minute)."""
    address = config.metrics.address()
    if address is None:
        return []
    host, port = address
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return [
            f"note: metrics.listen {config.metrics.listen}: the name {host} cannot be resolved here "
            f"({getattr(exc, 'strerror', None) or exc}): the daemon would serve no metrics{_RETRIED}"
        ]
    # An address this machine does not have (sysadmin audit F4), or a port this user may not
    # use: tried as the daemon would. A port in use is no note (most likely the daemon's own).
    family, kind, proto, _, sockaddr = infos[0]
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(sockaddr)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            return [
                f"note: metrics.listen {config.metrics.listen}: cannot be served here ({exc.strerror or exc}): "
                f"the daemon would serve no metrics{_RETRIED}"
            ]
    return []


def cmd_init(args: argparse.Namespace) -> int:
    from spo_hotfolder.service import StartupError, check_folders, prepare_folders

    config = get_config(args)
    try:
        created = prepare_folders(config)
        check_folders(config)
    except StartupError as exc:
        raise CliError(str(exc)) from exc
    Ledger(ledger_path(config)).close()
    for folder in created:
        print(f"created {folder}")
    from spo_hotfolder.shares import look_at

    seconds = config.delivery.share_timeout_seconds
    look = look_at(
        [f for hot in config.hot_folders.values() for f in (hot.path, hot.staging) if f is not None], seconds
    )
    kinds = ("file", "missing", "unreadable", "silent", "unwritable", "unmounted")
    for note in _hot_folder_notes(config, look, seconds, kinds):
        print(note, file=sys.stderr)
    print(f"folder layout ready under {config.paths.root}")
    return 0


def _hot_folder_notes(config: Config, look: FolderLook, seconds: float, kinds: Sequence[str]) -> list[str]:
    """``note:`` lines for the hot folders that are not usable folders now (of ``kinds``; and
    "unmounted": a folder there, of the local disk, where a share was seen mounted or /etc/fstab
    lists one, which the daemon does not deliver into: review GZ 3)."""
    notes = []
    mounts = MountPoints(store=config.paths.state / MOUNT_POINTS_NAME, keep=False)  # (the daemon's to write)
    for hot in config.hot_folders.values():
        for what, folder in (
            (f"hot folder {hot.name}", hot.path),
            (f"staging folder of hot folder {hot.name}", hot.staging),
        ):
            if folder is None:
                continue
            seen = look(folder)
            if seen.kind == "dir" and not seen.writable and "unwritable" in kinds:
                # (audit, sysadmin F8: every delivery failed "no permission" after all its attempts)
                why = (
                    "is on a filesystem mounted read-only"
                    if on_read_only_mount(folder)
                    else f"is not writable by this user ({this_user()})"
                )
                notes.append(
                    f"note: {what} ({folder}) {why}: the daemon, run as this user, could deliver nothing there"
                )
                continue
            if seen.kind == "dir" and "unmounted" in kinds:
                try:
                    mounts.check(what, folder, os.stat(folder))
                except DeliveryError as exc:
                    notes.append(f"note: {exc} (the daemon delivers nothing there until then)")
                    continue
                except OSError:
                    pass  # (gone since the look: said at the next)
            if seen.kind not in kinds:
                continue
            if seen.kind == "missing":
                # (missing_reason looks at the folder again: only at one that answered, never at one
                # that does not answer; a staging folder missing fails the deliveries into its hot
                # folder as one missing does)
                problem: str | None = f"{missing_reason(folder)}; the daemon never creates it" + (
                    "" if folder == hot.path else f": deliveries into {hot.name} fail and are retried until it exists"
                )
            else:
                problem = {
                    "file": "is not a folder",
                    "unreadable": f"cannot be looked at: {seen.error}",
                    "silent": _not_answering(seconds),
                }.get(seen.kind)
            if problem is not None:
                notes.append(f"note: {what} ({folder}) {problem}")
    return notes


def _use_color() -> bool:
    # (no-color.org: NO_COLOR set to an empty string does not turn colours off; audit AW)
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


RED = "\033[31m"
ORANGE = "\033[38;5;208m"
RESET = "\033[0m"


def _row_color(job: Job) -> str:
    """SPO's colours of order lines, for jobs that wait for someone: a job rejected while blocked is
    finished, not waiting for a release (no colour)."""
    if job.stage in (Stage.FAILED, Stage.RETRY):
        # Failed, blocked or not: nothing there is ready to check (SPEC 3: "red also for failed"); a
        # copy that failed and is tried again later too (audit AW D1: its row read
        # CopyToHotFolderFailed, uncoloured, for up to 43 minutes with the default backoff).
        return RED
    if job.blocked:
        return ORANGE if job.output else RED
    return ""


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def _folder(job: Job) -> str:
    """The FOLDER column: where the job's files are, or "(deleted)" after the retention purge."""
    return "(deleted)" if job.purged else job.folder


def cmd_jobs(args: argparse.Namespace) -> int:
    config = config_to_read(args)
    status: JobStatus | None = None
    blocked: bool | None = True if args.blocked else None
    if args.status:
        try:
            status = JobStatus.parse(args.status)
        except ValueError as exc:
            raise CliError(str(exc)) from exc
        if status is JobStatus.Blocked:
            status, blocked = None, True
    ledger = open_ledger(config)
    jobs = ledger.iter_jobs(status=status, blocked=blocked, released=True if args.released else None)
    try:
        # Each job in the folder it is in, as `show` gives it (audit BF 5: a folder moved by hand).
        if args.json:
            waiting = pending_commands_by_job(config.paths.state / "commands", ledger)
            _print_json_list(
                _with_waiting(
                    public_json(_as_it_is(ledger, j, config), config, with_history=False), waiting.get(j.job_id, [])
                )
                for j in jobs
            )
            return 0
        # Six short strings a job (a listing of 100,000 jobs holds no Job objects); the widths need all rows.
        color = _use_color()
        rows = [
            (j.job_id, j.order_id, j.status.value, _yes_no(j.block_active), _folder(j), j.updated_at, _row_color(j))
            for j in (_as_it_is(ledger, job, config) for job in jobs)
        ]
    finally:
        # The listing's cursor is closed while the ledger is open (`jobs --json | head` stops
        # reading early: its cursor used to be closed at exit, on a closed ledger, with a traceback).
        jobs.close()
        ledger.close()
    if not rows:
        print("no jobs", file=sys.stderr)
        return 0
    headers = ("JOB", "ORDER", "STATUS", "BLOCKED", "FOLDER", "LAST CHANGE")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    out = sys.stdout
    if out.isatty():  # a header for people; scripts reading a pipe get exactly one line per job
        out.write("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip() + "\n")
    for *cells, tint in rows:
        line = "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
        out.write(f"{tint}{line}{RESET}\n" if tint and color else line + "\n")
    return 0


def _print_json_list(items: Iterable[dict[str, Any]]) -> None:
    """``json.dumps(list(items), indent=2)``, byte for byte, written one item at a time."""
    out = sys.stdout
    first = True
    for item in items:
        text = json.dumps(item, indent=2, ensure_ascii=False).replace("\n", "\n  ")
        out.write(("[\n  " if first else ",\n  ") + text)
        first = False
    out.write("[]\n" if first else "\n]\n")


def public_json(job: Job, config: Config, *, with_history: bool = True) -> dict[str, Any]:
    """The documented JSON shape of a job (see README, "JSON output"). ``hot_folder`` is where it
    went, or, before its route is recorded (with its output), where the config sends it now."""
    data = job.to_json(with_history=with_history)
    if job.route is None and job.stage not in TERMINAL:
        data["hot_folder"] = planned_hot_folder(job, config)
    return data


def planned_hot_folder(job: Job, config: Config) -> str | None:
    """Where the routes as configured now send a job whose route is not recorded yet (None: skip)."""
    return decide_route(RouteFacts.of(job), config).hot_folder


def _load_job(ledger: Ledger, job_id: str) -> Job:
    if undecodable(job_id):  # (white-box audit DK 2: a traceback; no job id is other than UTF-8)
        fail(f"no job {readable(job_id)!r} in the ledger (its id is not UTF-8 text, as every job id is)")
    job = ledger.get_job(job_id)
    if job is None:
        order_jobs = ledger.jobs_of_order(job_id)
        if order_jobs:
            listed = ", ".join(order_jobs[:10]) + (", ..." if len(order_jobs) > 10 else "")
            jobs = "its job" if len(order_jobs) == 1 else "its jobs"
            fail(f"no job {job_id!r} in the ledger; {job_id!r} is an order id: {jobs} {listed}")
        twin = ledger.job_id_in_other_case(job_id)
        if twin is not None:  # (audit AK: `release RT1-1` for job rt1-1 said nothing more)
            fail(f"no job {job_id!r} in the ledger; did you mean {twin!r}? (job ids are written as given)")
        fail(f"no job {job_id!r} in the ledger")
    return job


#: How long a listing waits for the daemon's record of a job whose folder it found moved (``_as_it_is``).
MOVE_RECORD_WAIT_SECONDS = 0.5


def _as_it_is(ledger: Ledger, job: Job, config: Config, *, history: bool = False) -> Job:
    return _recorded_and_where(ledger, job, config, history=history)[1]


def _recorded_and_where(ledger: Ledger, job: Job, config: Config, *, history: bool = False) -> tuple[Job, Job]:
    """``job`` as recorded, in the folder it is in. The daemon moves a job's folder in the
    transaction that records its new status and folder: read between the move and the commit,
    the record is the one before (review GU 1: `jobs --json` gave "OutputCreated" with the folder
    in done/, an object no state of the job ever was). So the record is read again, a moment, until
    it names the folder where it is; one that still does not (a daemon killed in between, audit AU
    2) is shown with the folder where it is. (The record, and the job as shown.)"""
    deadline = time.monotonic() + MOVE_RECORD_WAIT_SECONDS
    while True:
        found = _where_it_is(job, config)
        if found.folder == job.folder or time.monotonic() >= deadline:
            return job, found
        time.sleep(0.02)
        again = ledger.get_job(job.job_id, history=history)
        if again is None:
            return job, found
        job = again


def _where_it_is(job: Job, config: Config) -> Job:
    """``job`` with the folder it is in: a daemon killed between a folder's move and its record (and
    not restarted yet, which moves it) leaves it elsewhere than recorded, and `show` names where it
    is (audit AU 2)."""
    recorded = config.paths.root / job.folder
    folder = None if job.stage is Stage.PURGED else config.paths.find_job_folder(job.job_id, recorded)
    if folder is None or folder == recorded:
        return job
    try:
        shown = folder.relative_to(config.paths.root).as_posix()
    except ValueError:
        shown = str(folder)
    return dataclasses.replace(job, folder=shown)


def _attribute_text(value: Any) -> str:
    """An attribute as `show` prints it: a map or a list as JSON (not Python's repr)."""
    if isinstance(value, dict | list):
        return printable(json.dumps(value, ensure_ascii=False))
    return printable("" if value is None else value)


def _with_waiting(data: dict[str, Any], waiting: list[dict[str, Any]]) -> dict[str, Any]:
    """``data`` with ``waiting_commands``: the CLI commands given for the job and not done yet (the
    text's "Waiting:" lines), in `show --json` and `jobs --json` alike (SPEC 3: the same objects)."""
    data["waiting_commands"] = [{key: command.get(key) for key in ("action", "by", "note")} for command in waiting]
    return data


def cmd_show(args: argparse.Namespace) -> int:
    config = config_to_read(args)
    ledger = open_ledger(config)
    try:
        recorded, job = _recorded_and_where(ledger, _load_job(ledger, args.job), config, history=True)
        artwork = ledger.artwork(job.job_id)
        waiting = pending_commands(config.paths.state / "commands", ledger, job.job_id)
        # STATUS.txt's answer to the last operator action (a command refused after the CLI stopped
        # waiting for it is said there: audit)
        last_action = ledger.last_action(job.job_id)
    finally:
        ledger.close()
    if args.json:
        print(json.dumps(_with_waiting(public_json(job, config), waiting), indent=2, ensure_ascii=False))
        return 0
    print(f"Job:       {job.job_id}")
    print(f"Order:     {job.order_id}" + (f"  ({printable(job.customer)})" if job.customer else ""))
    print(f"Product:   {job.product} x {job.quantity}")
    if job.attributes:
        print(
            "Attributes: "
            + ", ".join(f"{printable(k)}={_attribute_text(v)}" for k, v in sorted(job.attributes.items()))
        )
    print(f"Status:    {job.status.value}" + ("  [BLOCKED]" if job.block_active else ""))
    pages = f"{job.output_pages} page{'s' if job.output_pages != 1 else ''}" if job.output_pages else ""
    deleted = job.deleted_at()
    if deleted is not None:
        # The files went after retention: say so, rather than name a folder and file that are gone.
        print(f"Folder:    deleted on {deleted}, after retention")
        was = ", ".join(part for part in (job.output or "", pages) if part)
        print("Output:    deleted with the folder" + (f" (was {was})" if was else ""))
    else:
        gone = not (config.paths.root / job.folder).is_dir()
        # (not there: deleted, or moved or renamed by hand: audit BF 4, 5; BH 5)
        note = "  (not there: deleted, moved or renamed by hand?)" if gone else ""
        if job.folder != recorded.folder:
            # Found in another area (a move a crash cut short, or one by hand: audit BY 4): the
            # daemon acts on the recorded folder only.
            note = (
                f"  (recorded as {recorded.folder}: drop files and replace/ are read only there; moved by hand? "
                "move it back. A move a crash cut short is finished when the daemon starts)"
            )
        print(f"Folder:    {job.folder}" + note)
        output = job.output_path
        missing = output is not None and not (config.paths.root / output).is_file()
        print(
            f"Output:    {output or '-'}"
            + (f"  ({pages})" if pages else "")
            + ("  (not there)" if missing and not gone else "")
        )
    if job.rejected():
        # Where it went: nowhere (as --json's hot_folder says); where it would have gone, beside.
        print("Hot folder: none (rejected" + (f"; its route was {job.route})" if job.route else ")"))
    elif job.route == "skip":
        print("Hot folder: none (route: skip)")  # as --json's hot_folder: null
    elif job.route:
        print(f"Hot folder: {job.route}")
    elif job.stage not in TERMINAL:
        print(f"Hot folder: {planned_hot_folder(job, config) or 'skip'} (by the routes as configured now)")
    names = artwork_listing([(a.name, bool(a.present or deleted)) for a in artwork])
    print(f"Artwork:   deleted with the folder (was {names})" if deleted else f"Artwork:   {names}")
    checked = (job.preflight or {}).get("artwork_sha256") or []
    if checked and all(checked) and len(checked) == len(artwork):
        # As STATUS.txt shows it: what `release --artwork` (a RELEASE's "artwork:" line) names.
        print(f"Artwork fingerprint: {fingerprint(checked)}  (of the artwork as last checked)")
    if job.error:
        print(f"Problem:   {job.error}")
    for command in waiting:
        # Given from the CLI, not done yet: the daemon does it when it runs (or is not answering).
        print(
            f"Waiting:   {command.get('action')} by {command.get('by') or 'operator'}, given with the CLI; not done "
            "yet (the daemon does it when it reads it, or at its start)"
        )
    if last_action:
        print("Last action or notice: " + "\n  ".join(printable(line) for line in last_action.split("\n")))
    if job.awaiting_until and job.stage is Stage.AWAITING:
        # (the file said not movable still there: review HU 2, not once deleted or set aside)
        there = any(not a.present and a.source and os.path.exists(a.source) for a in artwork)
        fails = "artwork not taken" if there and unmovable_wait(job) is not None else "artwork missing"
        print(f"Waits for its artwork until: {job.awaiting_until} (then it fails: {fails})")
    if job.next_attempt_at and job.stage is Stage.RETRY:
        what = "output" if job.status is JobStatus.OutputCreationFailed else "copy"
        print(f"Next {what} attempt: {job.next_attempt_at} (attempt {job.attempts + 1})")
    if job.preflight and job.preflight.get("findings"):
        print("Preflight:")
        for finding in job.preflight["findings"]:
            print(f"  {finding.get('severity')}: {printable(finding.get('message'))}")
    print("History:")
    for entry in job.whole_history():
        line = f"  {entry.at}  {entry.status.value:<22} {printable(entry.by)}"  # (audit DC 3)
        if entry.detail:
            line += f"  {printable(entry.detail)}"
        if entry.removed_at:
            line += f"  [removed {entry.removed_at} by {printable(entry.removed_by)}"
            line += f": {printable(entry.removed_note)}]" if entry.removed_note else "]"
        print(line)
    return 0


def cmd_action(args: argparse.Namespace) -> int:
    """release / reject / replace / retry: the same rules and code as the operator's drop files."""
    from spo_hotfolder.service import offline_lock, prepare_folders

    config, invalid = config_or_spool(args)
    if invalid is not None:
        # A running daemon does the command, as it reads drop files meanwhile; with none, the error.
        with offline_lock(config) as offline:
            if offline:
                raise invalid from None
        _say_config_error(invalid, "the command is handed to the running daemon")
    action = Action(args.action)
    by = operator_name(args)
    note = str(args.note or "")
    if getattr(args, "artwork", None):  # (release --artwork: RELEASE's line "artwork: FP", the same path)
        note = f"{note}\nartwork: {args.artwork}" if note else f"artwork: {args.artwork}"
    file: Path | None = None
    if action is Action.REPLACE:
        file = args.file.resolve()
        if file.is_dir():
            fail(f"{args.file} is a folder; name the replacement PDF file itself")
        if not os.path.lexists(file):
            fail(f"{args.file}: no such file")
        if not file.is_file():
            fail(f"{args.file} is not a regular file (a named pipe, a device, a broken link); name the PDF file itself")
        if not os.access(file, os.R_OK):
            # The operator's own file, not one of the daemon's: no word about its group (audit BV 4).
            fail(f"{args.file}: this user may not read it; give it read permission (chmod) first")
    ledger = open_ledger(config, readonly=False)
    try:
        job = _load_job(ledger, args.job)
        reason = refusal(job, action)
        if reason is not None:
            fail(f"cannot {action.value.lower()}: {reason}")
        # The command is staged first, then done by whoever holds the instance lock: the daemon
        # (it reads the file), or this CLI when no daemon runs. Staged first, a command is seen by
        # every other CLI and by a daemon starting meanwhile: the commands of a job are done in
        # the order they reached state/commands/ (with no daemon, a later one is refused while an
        # earlier one is not done), whatever process ends up doing them; a daemon killed meanwhile
        # leaves nothing undone (the lock is tried again until an answer comes).
        prepare_folders(config)
        # (under the name the operator gave: a link's target may be named otherwise, audit CQ 3)
        given = args.file.name if file is not None else None
        token = _stage_command(config, action, job.job_id, by, note, file, name=given).stem
        try:
            return _await_command(config, ledger, job, action, token, invalid)
        except KeyboardInterrupt:
            return _interrupted(config, ledger, job.job_id, action, token)
        except OSError:
            # This command fails with an error (the instance lock it may not open, no daemon running:
            # review IB 3): withdrawn, or a daemon started later would do what the operator was told
            # failed. One acting on it as it was withdrawn records its answer in a moment (as Ctrl-C's).
            outcome = _withdrawn(config, ledger, token)
            if outcome is None:
                raise
            if outcome[0] != "done":
                fail(f"cannot {action.value.lower()}: {outcome[1]}")
            print(f"{job.job_id}: {outcome[1]}")  # (done meanwhile, by a daemon)
            return 0
    finally:
        ledger.close()


def _withdrawn(config: Config, ledger: Ledger, token: str) -> tuple[str, str] | None:
    """A staged command withdrawn (its file removed: the daemon checks that it is still there as it
    acts); None where it was not done, else its answer (a daemon acting on it as it was withdrawn
    records its answer in a moment: waited for up to 2 s)."""
    _withdraw(config.paths.state / "commands", token)
    deadline = time.monotonic() + 2.0
    while (outcome := ledger.drop_result(token)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return outcome


def _interrupted(config: Config, ledger: Ledger, job_id: str, action: Action, token: str) -> int:
    """Ctrl-C while a command waits for its answer: withdrawn where it is not done yet (the daemon
    checks that its file is still there as it acts: white-box audit CQ 1, the release went on
    after the operator stopped it); else said done. Exit 130 either way."""
    outcome = _withdrawn(config, ledger, token)
    if outcome is not None:
        how = "done already" if outcome[0] == "done" else "refused already"
        print(
            f"{PROG}: interrupted, but the {action.value.lower()} of {job_id} was {how}: {outcome[1]}",
            file=sys.stderr,
        )
        return 130
    print(
        f"{PROG}: interrupted: the {action.value.lower()} of {job_id} was withdrawn, nothing was done", file=sys.stderr
    )
    return 130


def _await_command(
    config: Config, ledger: Ledger, job: Job, action: Action, token: str, invalid: ConfigError | None
) -> int:
    """The answer to a staged command: the daemon's, or done here while none runs."""
    from spo_hotfolder.service import offline_lock

    deadline = time.monotonic() + COMMAND_WAIT_SECONDS
    while True:
        outcome = ledger.drop_result(token)
        if outcome is not None:
            state, message = outcome
            if state != "done":
                fail(f"cannot {action.value.lower()}: {message}")
            print(f"{job.job_id}: {message}")
            return 0
        with offline_lock(config) as offline:
            if offline and invalid is not None:  # (the daemon stopped meanwhile)
                _withdraw(config.paths.state / "commands", token)
                if ledger.drop_result(token) is None:
                    raise invalid
                continue
            if offline:
                give_up = time.monotonic() >= deadline - 1.0
                result = _run_offline(config, ledger, job.job_id, token, give_up=give_up)
                if result is not None:
                    if not result.ok:
                        fail(f"cannot {action.value.lower()}: {result.message}")
                    print(f"{job.job_id}: {result.message}")
                    now_job = ledger.get_job(job.job_id, history=False)
                    goes_on = (
                        now_job is not None
                        and not now_job.blocked
                        and now_job.stage not in TERMINAL
                        and now_job.stage is not Stage.FAILED
                    )
                    if action in (Action.RELEASE, Action.RETRY, Action.REPLACE) and goes_on:
                        print("the daemon is not running: the job continues when it starts")
                    elif (
                        action is not Action.REJECT
                        and now_job is not None
                        and now_job.blocked
                        and now_job.stage in (Stage.AWAITING, Stage.FUTURE, Stage.PROCESS)
                    ):
                        print(
                            "the daemon is not running: the job's output is made when it starts; it then waits "
                            "in quarantine/ for a release"
                        )
                    elif action is not Action.REJECT:
                        print("the daemon is not running: the job waits for an operator (see `show`)")
                    return 0
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    # Not known to be done: no exit 0, which a script would take for success (audit BQ 2: a
    # release refused later by a REJECT given before it had exited 0).
    from spo_hotfolder.health import disk_full

    why = (
        f"the disk holding {config.paths.state} is full: it is recorded once there is space"
        if disk_full(config.paths.state)
        else "it is busy with a long job, or hung"
    )  # (audit U2: "busy or hung" of a daemon that had said the disk was full)
    fail(
        f"{job.job_id}: the daemon has not answered the {action.value} within {COMMAND_WAIT_SECONDS:g} s ({why}); "
        "the command stays queued and is done or refused in its turn: see "
        f"`{PROG} show {job.job_id}` for its outcome, do not give it again"
    )


def _run_offline(config: Config, ledger: Ledger, job_id: str, token: str, *, give_up: bool) -> ActionResult | None:
    """With the instance lock held and no daemon: our command, done here as the daemon would do
    it. While a command given before it for the job is not done: None (tried again) as long as
    the CLI that gave it runs (it does it when it gets the lock: two operators' commands at once go
    one after the other, audit AC 1), else (or at ``give_up``) refused and withdrawn. None also
    when it is not there any more (another process did it: its answer is in the ledger)."""
    from spo_hotfolder.engine import ActionResult, Engine
    from spo_hotfolder.health import daemon_alive

    engine = Engine(config, ledger, SystemClock())
    pending = engine.pending_commands(job_id)
    if not any(str(command.get("token")) == token for command in pending):
        return None
    ours = next(command for command in pending if str(command.get("token")) == token)
    earlier = [command for command in pending if str(command.get("token") or "") < token]
    if earlier and ours.get("action") != Action.REJECT.value:
        if not give_up and any(daemon_alive(command.get("pid")) for command in earlier):
            return None  # its CLI is still at it: done first, then ours
        # (A REJECT is never held back: it comes first, as REJECT files do; what was given
        # before it is then refused for a rejected job.)
        # A command given before ours is not done: by a CLI still at it (it does it first), or
        # one killed in it (the daemon finishes it at its start). Ours would act on the job as it
        # was before that one (a RELEASE approving the output a `replace` is about to change):
        # it is withdrawn, and said.
        _withdraw(engine.commands_dir(), token)
        what = str(earlier[0].get("action", "")).lower()
        return ActionResult(
            False,
            f"an earlier `{what}` of this job is not done yet (its CLI is still at it, or was interrupted); "
            "start the daemon (it finishes that first) or wait for it, then try again",
        )
    waiting = engine.drops_waiting(job_id) if ours.get("action") != Action.REJECT.value else []
    if waiting:
        # Dropped before this command, and read by the daemon when it starts: done here, ours would
        # act first, and the older file last (a replacement dropped earlier won over a later
        # `replace`: audit BQ 1). The daemon does them in the order they came.
        _withdraw(engine.commands_dir(), token)
        files = " and ".join(waiting)
        return ActionResult(
            False,
            f"{files} in the job's folder {'is' if len(waiting) == 1 else 'are'} not read yet (the daemon is not "
            "running): the daemon reads what was dropped first when it starts; start it, then give this command "
            "again if it is still needed (or remove that file first)",
        )
    unwritable = _offline_unwritable(engine, job_id, Action(str(ours.get("action"))))
    if unwritable is not None:
        # Not begun at all: the ledger is written before the folder moves, and a move this user may
        # not make left the command recorded, said failed, and done at the daemon's start (audit N3 1).
        _withdraw(engine.commands_dir(), token)
        return ActionResult(
            False,
            f"with the daemon stopped, this command moves the job's folder itself, and this user may not write "
            f"in {unwritable}/ (the daemon's own, as installed): nothing was changed, and the command is not kept; "
            "start the daemon, then give it again (the daemon does it at once), or give it as the daemon's user",
        )
    result = engine.run_command(engine.commands_dir() / f"{token}.json")
    engine.flush_status()
    return result


def _offline_unwritable(engine: Engine, job_id: str, action: Action) -> str | None:
    """The spool folder (relative to the root) that an action done without the daemon moves the
    job's folder out of or into and this user may not write, if any; None where the action is
    refused anyway (its refusal says why) or every such folder is writable."""
    job = engine.ledger.get_job(job_id)
    if job is None or refusal(job, action) is not None:
        return None
    areas = [engine.job_dir(job).parent, engine.area("rejected" if action is Action.REJECT else "work")]
    for area in areas:
        if not os.access(area, os.W_OK | os.X_OK):
            return engine.rel(area)
    return None


def _withdraw(commands: Path, token: str) -> None:
    """Removes a command file never done, with its staged copy of a replacement's file."""
    with contextlib.suppress(OSError):
        (commands / f"{token}.json").unlink()
    shutil.rmtree(commands / f".{token}", ignore_errors=True)


def _started_at() -> float:
    """When this command was given: the process's start (the operator's Enter), as epoch seconds;
    a `release` approves the output as it was then, not as it is when the command file is written,
    0.2 s later or, on a loaded machine, a second (audit AA 1: new artwork that came in between was
    approved). From /proc (10 ms steps); where that cannot be read, now."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            ticks = int(fh.read().rsplit(")", 1)[1].split()[19])  # its start, in ticks since boot
        running = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return time.time()
    return time.time() - min(max(running, 0.0), 60.0)


#: The staging folders this CLI holds locked while it lives (see ``_hold``).
_HELD: list[int] = []


def _hold(folder: Path) -> None:
    """Locks ``folder`` (flock) for as long as this CLI lives: the daemon removes a staging folder
    that no command names and no live CLI holds (``recovery.staging_left``), whenever the CLI died
    (audit AP D1: one killed while copying left a whole PDF there for an hour or more)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return
        _HELD.append(fd)


def _shared_with_daemon(path: Path, bits: int) -> None:
    """A staged command's file or folder, readable (and, a folder, writable) by the daemon's group
    whatever this operator's umask: with umask 077 the daemon could not read the command, dropped
    it, and the CLI waited 30 s to say the daemon was busy or hung (audit BS D3). Bits are only
    added (a setgid folder stays one); state/ itself keeps others out."""
    with contextlib.suppress(OSError):
        path.chmod(stat.S_IMODE(path.stat().st_mode) | bits)


def _stage_command(
    config: Config, action: Action, job_id: str, by: str, note: str, file: Path | None, *, name: str | None = None
) -> Path:
    """Writes a command file into state/commands/ (its name is its token) and returns its path;
    a replacement's file is copied beside it first, so the command never names a file that is
    not all there. The token is taken once the copy is done: the names sort in the order the
    commands reach state/commands/ (a release given while a big replacement is still being
    copied comes first, and is judged on the job as it is then)."""
    commands = config.paths.state / "commands"
    copied: Path | None = None
    name = name or (file.name if file is not None else None)
    if file is not None:
        # Staged under its own name (the daemon matches a multi-file job's artwork by name, and
        # the history says what was put in), in a folder of its own that scans ignore (one left
        # by a CLI killed while copying goes after an hour).
        copied = commands / f".{os.urandom(6).hex()}"
        copied.mkdir(parents=True)
        _shared_with_daemon(copied, 0o775)
        _hold(copied)
        # (a name of its own: ".<name>.tmp" of a 255-byte name is too long for any filesystem: BX 5)
        tmp = copied / (".copying" if name != ".copying" else ".copying~")
        try:
            shutil.copyfile(file, tmp)
            _shared_with_daemon(tmp, 0o664)
            os.replace(tmp, copied / str(name))
        except BaseException:
            shutil.rmtree(copied, ignore_errors=True)  # no empty staging folder left (audit BV 5)
            raise
    token = f"{time.time_ns()}-{os.urandom(6).hex()}"  # nanoseconds first: the names sort in time
    command: dict[str, Any] = {
        "action": action.value,
        "job_id": job_id,
        "by": by,
        "note": note,
        "token": token,
        "given_at": iso(datetime.fromtimestamp(_started_at(), tz=UTC)),
        "pid": os.getpid(),  # (with no daemon, a command given after it waits while this CLI runs)
    }
    if file is not None and copied is not None:
        staging = commands / f".{token}"
        os.replace(copied, staging)
        command["file"] = str(staging / str(name))
    tmp = commands / f".{token}.json.tmp"
    tmp.write_text(json.dumps(command), encoding="utf-8")
    _shared_with_daemon(tmp, 0o664)
    path = commands / f"{token}.json"
    os.replace(tmp, path)
    return path


def cmd_route(args: argparse.Namespace) -> int:
    from spo_hotfolder.engine.actions import blocked_again_by_a_manifest

    config = get_config(args)
    path: Path = args.manifest
    if path.is_symlink():  # the daemon follows no link in inbox/, to a file or a folder (audit BB 6)
        fail(f"{path} is a symbolic link: the daemon does not follow links, and refuses it in inbox/")
    if path.is_dir():  # a folder drop: its manifest, as the daemon finds it
        found = [path / name for name in sorted(os.listdir(path)) if name.lower() in MANIFEST_NAMES]
        if not found:
            fail(f"{path} is a folder without a manifest ({', '.join(MANIFEST_NAMES)})")
        several = several_manifests(path)
        if several:
            fail(f"{path}: {several_manifests_problem(several)}")
        path = found[0]
    elif not path.name.lower().endswith(MANIFEST_SUFFIXES):
        if not os.path.lexists(path):
            fail(f"{path}: no such file or folder")
        fail(
            f"{path}: not a manifest: a manifest is a .json, .yaml or .yml file, "
            f"or a folder with one of {', '.join(MANIFEST_NAMES)}"
        )
    if path.name.lower() in MANIFEST_NAMES and not _is_folder(path.parent, config.paths.inbox):
        # A folder drop holding a job's STATUS.txt is taken for that job's folder, whatever its
        # manifest says, as the daemon does (Engine._job_folder_in_inbox): route said "made again
        # (reprint: true)" of a delivered job's folder copied with its PDF, and the daemon refused
        # the folder as a copy, nothing printed (review EJ 1).
        named = job_named_in(path.parent)
        copied = _known_jobs(config, [named])[0].get(named) if named is not None else None
        if copied is not None and not _is_folder(path.parent, config.paths.root / copied.folder):
            # (the job's own folder, done/<job> or quarantine/<job>, is routed as it was: review EP 2)
            fail(
                f"{path.parent} holds job {named}'s STATUS.txt: put into inbox/, it is taken for that job's folder, "
                "not an order (a copy is refused into failed/ and nothing in it is printed or changed; the job's own "
                "folder is put back where it lives). To make the job again or change it, send its manifest (with "
                "reprint: true for a finished job) and its artwork on their own, without the job's STATUS.txt"
            )
    # Read as the daemon reads a manifest (audit BA 6, 7): never through a symbolic link (the
    # daemon refuses one), never blocking on a named pipe, only a regular file.
    try:
        st = path.lstat()
    except OSError as exc:
        fail(f"{path}: {exc.strerror}")
    if stat.S_ISLNK(st.st_mode):
        fail(f"{path} is a symbolic link, not a file: the daemon does not follow links, and refuses it in inbox/")
    if not stat.S_ISREG(st.st_mode):
        fail(f"{path} is not a file (the daemon puts such an entry into failed/)")
    try:
        with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as fh:
            data = fh.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        fail(f"{path}: {exc.strerror}")
    try:
        manifest = parse_manifest(
            data,
            path.name,
            tuple(config.hot_folders),
            base=path.parent,
            ignore=config.watch.ignore,
            # (as the daemon would read it there: a manifest in inbox/ itself is at the top, whatever its name)
            top_level=True if _is_folder(path.parent, config.paths.inbox) else None,
        )
    except ManifestError as exc:
        fail(f"{path}: " + "; ".join([*exc.problems, *cut_yaml_line(data, path.name)]))
    problems = cut_yaml_line(data, path.name)
    if problems:
        fail(f"{path}: " + "; ".join(problems))
    known, waiting, cases, coming, delivered, finals = _known_jobs(config, [spec.job_id for spec in manifest.jobs])
    results = []
    for spec in manifest.jobs:
        facts = RouteFacts(
            order_id=manifest.order_id,
            job_id=spec.job_id,
            product=spec.product,
            quantity=spec.quantity,
            customer=manifest.customer,
            hot_folder=spec.hot_folder,
            attributes=spec.attributes,
        )
        decision = decide_route(facts, config)
        job = known.get(spec.job_id)
        blocked, block_reason = decide_blocking(manifest.blocked, config, spec.product)
        again = job is not None and _same_again(
            config, job, data, path.parent, spec, manifest, coming.get(spec.job_id, [])
        )
        # Engine._reprint_waiting's rule: the same reprint sent twice while the PDF it made waits.
        twin = waiting.get(spec.job_id) if manifest.reprint and job is not None else None
        if twin is not None and job is not None:
            folder = Path(job.folder) if Path(job.folder).is_absolute() else config.paths.root / job.folder
            if job.order_id != manifest.order_id or not sent_twice(
                data,
                job,
                folder,
                path.parent,
                spec,
                manifest,
                taken_before=job.purged and _manifest_taken(config, data, manifest),
            ):
                twin = None
        # A job whose PDF is delivered (its ticket failed) sent with reprint: true is made again as a
        # finished one is (Engine._pdf_delivered; audit IA 3: the rules of a job in flight were said).
        reprinted = manifest.reprint and spec.job_id in delivered
        in_flight = job is not None and job.order_id == manifest.order_id and job.stage not in TERMINAL
        if job is not None and in_flight and not reprinted:
            # New artwork for a job in flight (the rules of Engine._record_intake): its Blocked entry
            # stays (only a release removes one), and only `blocked: true` adds one; a release that
            # does not approve the new artwork is void (audit IA 1, 2).
            if job.block_active:
                blocked, block_reason = True, "already blocked; only a release removes that"
            elif manifest.blocked is None and (changed := blocked_by_product_change(config, job.product, spec.product)):
                blocked, block_reason = True, changed
            elif manifest.blocked is True:
                pass  # (its own word, recorded as it is taken in: review IC 4)
            elif not again and (void := blocked_again_by_a_manifest(job, _fingerprint_beside(path.parent, spec))):
                blocked, block_reason = True, void
            else:
                blocked = False
        filename = output_name(facts, decision, config)
        if job is not None and decision.hot_folder is not None and (in_flight or manifest.reprint):
            # Beside the job's earlier PDF, not yet taken: <name>-reprint<n>.pdf (audit IA 4).
            generation = job.generation + 1 if manifest.reprint and (reprinted or not in_flight) else job.generation
            earlier = finals.get((spec.job_id, generation), frozenset())
            if earlier:
                hot = config.hot_folders[decision.hot_folder]
                filename = reprint_name(hot.path / filename, hot, earlier, generation).name
        results.append(
            {
                "job_id": spec.job_id,
                "product": spec.product,
                "hot_folder": decision.hot_folder,
                "skip": decision.hot_folder is None,
                "reason": decision.reason,
                "blocked": blocked,
                "blocked_reason": block_reason if blocked else None,
                "filename": filename,
                "known": (
                    f"known ({job.status.value}) and this manifest is the one it has (byte for byte, or saying the "
                    "same), with none of its artwork here: nothing would change (it would be filed in the job's "
                    "history/)"
                    if job is not None and again
                    else _twin_note(twin)
                    if twin is not None
                    else _known_note(job, manifest.order_id, manifest.reprint, delivered.get(spec.job_id))
                    if job is not None
                    else _finished_unknown_note(config, spec.job_id, manifest.reprint)
                    if spec.job_id not in cases
                    else f"job id differs from that of job {cases[spec.job_id]} only in letter case (their folders "
                    "would be one on a Windows share): this job would be refused"
                ),
            }
        )
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return 0
    for r in results:
        # SPEC 3's example line, then what its table says the line tells (the product, whether the
        # job would be blocked) where the example does not show it (audit AD 1).
        line = f"{r['job_id']}: {r['hot_folder'] or 'skip'} ({r['reason']})"
        line += f"; blocked: yes ({r['blocked_reason']})" if r["blocked"] else "; blocked: no"
        line += f"; product: {r['product']}"
        if r["known"]:
            line += f"; {r['known']}"
        print(line)
    return 0


def _manifest_taken(config: Config, data: bytes, manifest: Manifest) -> bool:
    """Whether the ledger took in a manifest of these bytes for its order before (Ledger.manifest_taken)."""
    ledger = open_ledger(config)
    try:
        return ledger.manifest_taken(hashlib.sha256(data).hexdigest(), manifest.order_id)
    finally:
        ledger.close()


def _known_jobs(
    config: Config, job_ids: list[str]
) -> tuple[
    dict[str, Job],
    dict[str, Delivery],
    dict[str, str],
    dict[str, list[str]],
    dict[str, str],
    dict[tuple[str, int], frozenset[str]],
]:
    """The jobs of ``job_ids`` the ledger knows (none without a ledger: route works before init),
    the deliveries of theirs whose PDF still waits in its hot folder (not yet taken), the ids of
    the others that a known job's id is in other letter case (-> that job's: refused), the paths
    of the artwork files each known job still waits for, the hot folder of each one not finished
    whose PDF is delivered already (its ticket failed: Engine._pdf_delivered), and, by (job id,
    generation), where the job's generations before it were published (its generation now and
    the next one: a reprint's)."""
    if not ledger_path(config).exists():
        return {}, {}, {}, {}, {}, {}
    ledger = open_ledger(config)
    try:
        # (with its history: a purged job is said as it ended)
        jobs = {job.job_id: job for job in (ledger.get_job(i) for i in job_ids) if job is not None}
        waiting = {}
        delivered = {}
        for job in jobs.values():
            delivery = ledger.published_delivery(job.job_id, job.generation)
            if delivery is not None and job.stage not in TERMINAL:
                delivered[job.job_id] = delivery.hot_folder
            if delivery is not None and os.path.lexists(delivery.final_path):
                waiting[job.job_id] = delivery
        cases = {i: twin for i in job_ids if i not in jobs and (twin := ledger.job_id_in_other_case(i)) is not None}
        coming = {i: [a.source for a in ledger.artwork(i) if not a.present and a.source] for i in jobs}
        finals = {
            (job.job_id, generation): ledger.earlier_finals(job.job_id, generation)
            for job in jobs.values()
            for generation in (job.generation, job.generation + 1)
            if generation > 1
        }
        return jobs, waiting, cases, coming, delivered, finals
    finally:
        ledger.close()


def _fingerprint_beside(base: Path, spec: JobSpec) -> str | None:
    """The fingerprint of ``spec``'s artwork files lying beside its manifest in ``base`` (None
    where not all are there as files), as the daemon computes it once they are in."""
    sums = []
    for ref in spec.artwork:
        try:
            with open(os.open(base / ref.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as fh:
                if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                    return None
                sums.append(sha256_of(fh))
        except OSError:
            return None
    return fingerprint(sums) if sums else None


def _same_again(
    config: Config, job: Job, data: bytes, base: Path, spec: JobSpec, manifest: Manifest, coming: list[str]
) -> bool:
    """Engine._same_again's rule: a job not finished whose manifest comes again (byte for byte, or
    saying the same), with none of its artwork beside it but the files it still waits for
    (``coming``), is not taken (the manifest is filed)."""
    if job.stage in TERMINAL:
        return False
    folder = Path(job.folder) if Path(job.folder).is_absolute() else config.paths.root / job.folder
    return sent_again(data, folder, base, spec, manifest, tuple(config.hot_folders), still_coming=coming)


def _twin_note(delivery: Delivery) -> str:
    return (
        f"its PDF {Path(delivery.final_path).name}, made from this same manifest and artwork, still waits in hot "
        f"folder {delivery.hot_folder}: this job would be refused as the same order sent twice (not printed again)"
    )


def _finished_unknown_note(config: Config, job_id: str, reprint: bool) -> str | None:
    """A job the ledger does not know whose folder is in done/ or rejected/: refused without
    ``reprint: true`` (Engine._finished_unknown; white-box audit CQ 2, `route` said nothing)."""
    folder = None if reprint else config.paths.finished_folder(job_id)
    if folder is None:
        return None
    return (
        f"not in the ledger, but its folder {'done' if folder.parent == config.paths.done else 'rejected'}/{job_id}/ "
        "is there (finished before): would be "
        "refused without reprint: true"
    )


def _known_note(job: Job | None, order_id: str, reprint: bool, delivered: str | None = None) -> str | None:
    """What the daemon would do with a job id it knows (the rules of Engine.take_manifest).
    ``delivered``: the hot folder its PDF is in already, the job not finished (its ticket failed)."""
    if job is None:
        return None
    if job.order_id != order_id:
        return f"job id already used by order {job.order_id}: this job would be refused"
    if delivered is not None and job.stage not in TERMINAL:
        # (white-box audit CQ 2: "its artwork and facts would be replaced", where the daemon refuses)
        if reprint:
            return f"its PDF is in hot folder {delivered} already (its ticket failed): made again (reprint: true)"
        return (
            f"its PDF is in hot folder {delivered} already (its ticket failed): would be refused without reprint: true"
        )
    if job.stage in TERMINAL:
        ended = job.status.value
        if job.purged and job.history_complete:
            # (its current status is JobDataDeleted: said as it ended, as the daemon says it)
            outcome = job.outcome()
            ended = f"{outcome.status.value if outcome else ended}, its files deleted after retention"
        done = f"already finished ({ended})"
        return f"{done}: made again (reprint: true)" if reprint else f"{done}: would be refused without reprint: true"
    return f"known ({job.status.value}): its artwork and facts would be replaced"


def cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 when the daemon runs and is healthy (watcher alive), 1 otherwise with a one-line reason."""
    from spo_hotfolder.health import health_report

    # A config file with an error (a reload keeps the config the daemon had): the daemon's health
    # is still what the monitoring asks; the file's error is said beside it.
    config, invalid = config_or_spool(args, logs=False)
    report = health_report(config)
    if invalid is not None:
        report["config_error"] = invalid.errors[0]
        if not args.json:
            _say_config_error(invalid, "the daemon's health is read from the spool folders it names")
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    elif report["ok"]:
        statuses = report.get("statuses") or {}
        failed = (report.get("stages") or {}).get("failed", 0)
        refused = int(report.get("refused_in_failed") or 0)
        beside = f", {refused} refused manifest{'' if refused == 1 else 's'} or files in failed/" if refused else ""
        unreadable = int(report.get("unreadable_folders_count") or 0)
        if unreadable:
            # (audit BH 6: an upload the daemon may not read waited in inbox/, said once in the log)
            shown = ", ".join(report.get("unreadable_folders") or []) + (", ..." if unreadable > 20 else "")
            beside += (
                f", {unreadable} folder{'' if unreadable == 1 else 's'} the daemon may not read ({shown}: see the "
                "log's folder.unreadable)"
            )
        # The daemon's counts as of its last report (every heartbeat): a release a second ago may
        # not be in them yet, and the line says how old they are.
        print(
            f"ok: daemon pid {report.get('pid')}, watcher {report.get('watcher')}, "
            f"{sum(statuses.values())} jobs, {report.get('blocked', 0)} blocked, {failed} failed{beside} "
            f"(as of {round(float(report.get('age_seconds') or 0))} s ago)"
        )
    else:
        print(f"{PROG}: unhealthy: {report['reason']}", file=sys.stderr)
    return 0 if report["ok"] else 1


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "check-config": cmd_check_config,
    "init": cmd_init,
    "jobs": cmd_jobs,
    "show": cmd_show,
    "release": cmd_action,
    "reject": cmd_action,
    "replace": cmd_action,
    "retry": cmd_action,
    "route": cmd_route,
    "health": cmd_health,
}
