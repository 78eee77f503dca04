"""Starts the PDF worker's fork server first thing in ``spo-hotfolder run``.

The fork server is a fresh interpreter that imports pypdf before it forks the worker (~0.2-0.3 s
of CPU). Started before the daemon imports its own modules, the two run side by side on two
cores, and the daemon is ready (and delivers what waited while it was down) ~0.25 s sooner.
This module imports only ``multiprocessing`` (and ``signal``, which the interpreter has imported
already), so that nothing heavy comes before it.
"""

from __future__ import annotations

import contextlib
import signal

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


def start_fork_server() -> None:
    """Starts the fork server now (it does its imports in the background). A failure here is
    left to ``PdfWorker``, which starts it again on its first process and reports."""
    import multiprocessing
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(PRELOAD)
    # The fork server (and multiprocessing's resource tracker) start with SIGINT ignored (kept
    # across exec; Python leaves an ignored SIGINT ignored): a Ctrl-C, sent to the whole process
    # group, while they start printed KeyboardInterrupt tracebacks, not JSON (audit BH 4). Here,
    # a Ctrl-C in these few milliseconds is lost: press it again.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with contextlib.suppress(OSError):
            forkserver.ensure_running()
            mark_temp_dir()
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


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
