"""What ``spo-hotfolder health`` reports, read from the daemon's ``state/health.json`` (written
by ``service`` at every heartbeat) and the ledger.

Apart from ``service``: a monitoring probe runs ``health`` every few seconds, and it needs neither
the daemon's code nor its libraries (half of the command's time when it imported them).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from spo_hotfolder.clock import parse_iso
from spo_hotfolder.config import Config, PathsConfig
from spo_hotfolder.fsutil import proc_dir
from spo_hotfolder.ledger import LEDGER_NAME, Ledger, LedgerError

LOCK_NAME = "daemon.lock"  # the instance lock's file in the state folder, holding the daemon's pid
HEALTH_NAME = "health.json"
HEARTBEAT_SECONDS = 5.0


def daemon_alive(pid: object) -> bool:
    """True when ``pid`` is a live spo-hotfolder process (a reused pid of another program is not)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's process: the daemon's account, seen from a monitoring account
    proc = proc_dir(pid)
    try:
        if proc is None:
            return True  # no /proc of ours to tell: trust the pid
        cmdline = (proc / "cmdline").read_bytes()
    except OSError:
        return True
    return b"spo-hotfolder" in cmdline or b"spo_hotfolder" in cmdline


#: health --json's keys while the daemon is down (or starting), and their values then.
_DOWN: dict[str, Any] = {
    "pid": None,
    "watcher": None,
    "watcher_alive": False,
    "heartbeat": None,
    "heartbeat_interval_seconds": HEARTBEAT_SECONDS,
    "age_seconds": None,
    "uptime_seconds": None,
    "engine_busy_job": None,
    "unknown_job_folders": list,
    "unknown_job_folders_count": 0,
    "unreadable_folders": list,
    "unreadable_folders_count": 0,
    "refused_in_failed": None,
}


def health_report(config: Config) -> dict[str, Any]:
    """What ``spo-hotfolder health`` reports: ``ok``, a one-line ``reason``, and counts per status.

    Read from the daemon's ``state/health.json`` (rewritten at every heartbeat), without taking the
    instance lock (a monitoring probe must never make a starting daemon refuse to start). When the
    daemon is down, the counts come from the ledger if this user may read it. Only the spool
    folders are read (a config file made invalid since the daemon read it: ``config.spool_only``).
    """
    paths = config.paths
    report: dict[str, Any]
    try:
        report = _report_from(paths, read_health(paths))
    except OSError as exc:
        # Audit GC 1: a report this user may not read said "is starting" (or "not running") of a
        # daemon running well: say what cannot be read, and why.
        why = exc.strerror or str(exc)
        if isinstance(exc, PermissionError):
            why += ": run it as the daemon's user, or as a member of its group"
        report = {"ok": False, "reason": f"cannot tell whether the daemon runs: cannot read {exc.filename}: {why}"}
    for key, value in _DOWN.items():
        # The same keys whatever the daemon's state (audit BQ R3: a script reading age_seconds
        # failed with a KeyError while the daemon was down): null where there is nothing to say.
        report.setdefault(key, value() if callable(value) else value)
    if "statuses" not in report:
        report.update(statuses={}, stages={}, blocked=None)
        path = paths.state / LEDGER_NAME
        with contextlib.suppress(LedgerError, sqlite3.Error, OSError):
            # (exists() raises where state/ is not open to this user: review GN 4, `health` then
            # printed the CLI's error instead of its report, and `--json` nothing)
            if path.exists():
                ledger = Ledger(path, readonly=True)
                try:
                    report.update(
                        statuses=ledger.counts_by_status(),
                        stages=ledger.counts_by_stage(),
                        blocked=ledger.count_blocked(),
                    )
                finally:
                    ledger.close()
    return report


def _report_from(paths: PathsConfig, health: dict[str, Any] | None) -> dict[str, Any]:
    """The report from the daemon's health.json (None: none yet), or from its instance lock's pid.

    Raises OSError when the instance lock cannot be read (but is not there)."""
    report: dict[str, Any]
    if health is None or not daemon_alive(health.get("pid")):
        try:
            pid = int((paths.state / LOCK_NAME).read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            pid = 0
        if daemon_alive(pid):
            # Starting; or started on a full disk after a crash, health.json still the old one's
            # (audit U 4: "not running (pid ... ended without stopping)" of a running daemon).
            why = f": the disk holding {paths.state} is full, free some space" if disk_full(paths.state) else ""
            report = {
                "ok": False,
                "reason": f"the daemon (pid {pid}) is starting: no health report yet{why}",
                "pid": pid,
            }
        elif health is None:
            report = {"ok": False, "reason": "the daemon is not running"}
        else:
            report = {
                "ok": False,
                "reason": f"the daemon is not running (pid {health.get('pid')} ended without stopping)",
            }
    else:
        report = dict(health)
        if not fresh(health):
            why = f"(hung? or it cannot write its report {paths.state / HEALTH_NAME}: see its log)"
            with contextlib.suppress(OSError):
                if os.statvfs(paths.state).f_flag & os.ST_RDONLY:
                    why = f"(the filesystem of {paths.state} is read-only: it can record nothing)"
            if disk_full(paths.state):
                # It cannot rewrite health.json (nor record anything): not hung, a full disk.
                why = f"(the disk holding {paths.state} is full: free some space)"
            report.update(ok=False, reason=f"the daemon has not reported for {health['age_seconds']:.0f} s {why}")
        elif not health.get("ok"):
            report["reason"] = f"the daemon runs but is unhealthy: {health.get('reason')}"
        elif health.get("unknown_job_folders_count"):
            # The daemon is well, but jobs are not continued: a ledger lost, or put back from an
            # older backup (audit AE: said only in the log at start, `health` said ok).
            report.update(
                ok=False,
                reason=unknown_folders_text(
                    health.get("unknown_job_folders") or [], int(health["unknown_job_folders_count"])
                ),
            )
    return report


def fresh(health: dict[str, Any]) -> bool:
    """Whether the daemon's report (``read_health``) is recent: written within 3 heartbeats + 5 s."""
    limit = 3 * float(health.get("heartbeat_interval_seconds", HEARTBEAT_SECONDS)) + 5
    return float(health["age_seconds"]) <= limit


def unknown_folders_text(folders: list[str], count: int | None = None) -> str:
    """What ``health`` and the status line say of job folders the ledger does not know."""
    count = len(folders) if count is None else count
    shown = ", ".join(folders[:3]) + (", ..." if count > 3 else "")
    return (
        f"{count} job folder{'' if count == 1 else 's'} the ledger does not know ({shown}): not continued; "
        "move each folder out of the spool first (keep it), then put its manifest and artwork into inbox/ again "
        "(log recovery.job_folders_unknown)"
    )


def disk_full(folder: Path) -> bool:
    """The disk holding ``folder`` has no block (or no inode) left for this user."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail == 0 or (st.f_files > 0 and st.f_favail == 0)


def read_health(paths: PathsConfig) -> dict[str, Any] | None:
    """The daemon's health.json, its age added; None when there is none (or not one whole).

    Raises OSError (but FileNotFoundError) when it cannot be read: that is not "no report yet"."""
    try:
        data: dict[str, Any] = json.loads((paths.state / HEALTH_NAME).read_text())
        heartbeat = parse_iso(str(data["heartbeat"]))
    except (FileNotFoundError, ValueError, TypeError, KeyError):
        return None
    data["age_seconds"] = round((datetime.now(UTC) - heartbeat).total_seconds(), 3)
    return data
