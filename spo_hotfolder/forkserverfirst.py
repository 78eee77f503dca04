"""Imported first by the PDF worker's fork server (``prestart.PRELOAD``), never by the daemon.

The fork server is a process of its own in the daemon's process group: a Ctrl-C in the terminal
(SIGINT to the whole group) reaches it too. ``multiprocessing`` has it ignore SIGINT only once its
imports are done (pypdf: ~0.3 s), and a Ctrl-C during those printed a KeyboardInterrupt traceback
on the daemon's stderr (audit BG 1). From here on it ignores SIGINT, as its workers forked later
do (the daemon stops them itself, by closing their pipes). The daemon starts it with SIGINT
blocked (``prestart``): one that came meanwhile is pending, and dropped here, as ignored.
"""

from __future__ import annotations

import signal

signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
