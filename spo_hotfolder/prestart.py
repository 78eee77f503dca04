"""Starts the PDF worker's fork server first thing in ``spo-hotfolder run``.

The fork server is a fresh interpreter that imports pypdf before it forks the worker (~0.2-0.3 s
of CPU). Started before the daemon imports its own modules, the two run side by side on two
cores, and the daemon is ready (and delivers what waited while it was down) ~0.25 s sooner.
This module imports only ``multiprocessing`` and ``resource`` (and ``signal`` and ``warnings``, which
the interpreter has imported already), so that nothing heavy comes before it.
"""

from __future__ import annotations

import contextlib
import signal
import warnings

# What the fork server imports before it forks a worker: everything a worker runs (pypdf through
# preflight and output, structlog through logsetup), so that a worker, the first one or one forked
# after a kill, starts in ~10 ms instead of ~250 ms. The daemon imports pdfwork but never the PDF
# modules: only the worker runs them.
# First of all, forkserverfirst: from then on, a Ctrl-C meant for the daemon does not interrupt them.
PRELOAD = [
    "spo_hotfolder.forkserverfirst",
    "spo_hotfolder.pdfwork",
    "spo_hotfolder.preflight",
    "spo_hotfolder.output",
    "spo_hotfolder.logsetup",
]


#: The fewest open files the daemon starts with: its ledger (3), its log, the watcher, the PDF
#: worker's pipes, and the files of the jobs it is taking in and delivering. Under 32 it was seen
#: failing to import its own scheduler (a fork server's traceback on stdout) or to open its ledger;
#: at 32, manifests could not be read now and then (audit BX).
MIN_OPEN_FILES = 64

#: The soft limit asked for when the hard one allows it (systemd's default soft limit is 1,024,
#: its hard one 524,288; the shipped unit sets both to 65,536).
WANTED_OPEN_FILES = 65536


def raise_open_files_limit() -> int:
    """Raises the soft limit on open files (``ulimit -n``) up to the hard one, at most to
    ``WANTED_OPEN_FILES``, before the fork server starts (it and the PDF workers inherit it);
    returns the soft limit now in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = WANTED_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, WANTED_OPEN_FILES)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(OSError, ValueError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
    return soft


def open_files_refusal(soft: int) -> str | None:
    """Why the daemon may not start with a soft limit of ``soft`` open files, or None."""
    import resource

    if soft == resource.RLIM_INFINITY or soft >= MIN_OPEN_FILES:
        return None
    return (
        f"the limit on open files is {soft} (ulimit -n, and its hard limit no higher): the daemon "
        f"needs at least {MIN_OPEN_FILES}; raise it (LimitNOFILE= in the service's unit, as the "
        f"shipped unit does; ulimit -n in a shell)"
    )


def start_fork_server() -> None:
    """Starts the fork server now (it does its imports in the background). A failure here is
    left to ``PdfWorker``, which starts it again on its first process and reports. With too few
    open files it is not started: the daemon refuses to start (``service.run``)."""
    if open_files_refusal(raise_open_files_limit()) is not None:
        return
    import multiprocessing
    from multiprocessing import forkserver, resource_tracker

    multiprocessing.get_context("forkserver").set_forkserver_preload(PRELOAD)
    # The fork server starts with SIGINT blocked, as multiprocessing starts its resource tracker
    # (which blocks SIGINT and SIGTERM while it spawns it, and unblocks them after: so it is
    # started first): a Ctrl-C to the whole process group while the fork server imports printed
    # KeyboardInterrupt tracebacks, not JSON (audit BH 4); ``forkserverfirst`` then ignores it and
    # unblocks it there. Here, blocked, not ignored: a SIGINT meant for the daemon in these
    # milliseconds waits, and is acted on once the daemon has started (it was lost: audit CA 1).
    with contextlib.suppress(OSError):
        resource_tracker.ensure_running()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            with warnings.catch_warnings():
                # (it looks at the tracker again, and starts it again with a warning on stderr,
                # no JSON, where it has died already; nothing is tracked yet that could leak)
                warnings.simplefilter("ignore", UserWarning)
                forkserver.ensure_running()
            mark_temp_dir()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


#: In the fork server's temp folder (``/tmp/pymp-*``): the daemon's pid. A daemon killed with -9
#: in its first half second, before its state/ names that folder, left it; the next start finds it
#: by this mark (``service.sweep_left_temp_dir``; audit BM D2).
TEMP_DIR_MARK = "spo-hotfolder.pid"


def mark_temp_dir() -> None:
    """Writes this daemon's pid into the fork server's temp folder (made by ``ensure_running``)."""
    import os
    from multiprocessing import util

    with open(f"{util.get_temp_dir()}/{TEMP_DIR_MARK}", "w", encoding="ascii") as fh:  # (no pathlib import here)
        fh.write(f"{os.getpid()}\n")
