"""The signals of ``spo-hotfolder run`` while it starts: caught from the moment its code runs, acted on once
it has started.

``cli.main`` calls ``catch()`` before anything else (even before it parses its arguments, and
before the PDF worker's fork server, the daemon's modules and the config): from then on a SIGTERM,
SIGINT or SIGHUP is only remembered here, instead of killing the process (SIGHUP's and SIGTERM's
default action: exit 129 or 143, without a word) or raising KeyboardInterrupt in the middle of an
import. ``Daemon.install_signal_handlers`` then takes the signals over and replays what came: a stop
is the ordinary graceful stop once the daemon has started, a SIGHUP the ordinary reload, except
one that came before the config was read (``forget_reload``): that read already gives the config
it asked for.

This module imports only ``signal`` (already imported by the interpreter), so that ``cli`` can
import it first.
"""

from __future__ import annotations

import signal
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Pending:
    """What came since ``catch()``: the first stop signal (its number), and whether a SIGHUP did."""

    __slots__ = ("reload", "stop")

    def __init__(self) -> None:
        self.stop: int | None = None
        self.reload = False


_pending = Pending()


def _remember(signum: int, frame: FrameType | None) -> None:
    if signum == signal.SIGHUP:
        _pending.reload = True
    elif _pending.stop is None:
        _pending.stop = signum


def catch() -> None:
    """Remember SIGTERM, SIGINT and SIGHUP from now on (main thread only, as any signal handler)."""
    for signum in SIGNALS:
        signal.signal(signum, _remember)


def release() -> None:
    """Gives the signals their usual handling back (the command is not ``run`` after all), and then
    delivers what came meanwhile as it would have been."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    came = take()
    if came.stop is not None:
        signal.raise_signal(came.stop)
    if came.reload:
        signal.raise_signal(signal.SIGHUP)


def ignore() -> None:
    """SIGTERM, SIGINT and SIGHUP ignored from now on (``run``'s exit is decided). One caught but
    not handled yet is handled first, by its handler (``pthread_sigmask`` runs the handlers of the
    signals that came): set to "ignore" under it, Python wrote "Signal 15 ignored due to race
    condition", a traceback on stderr (audit CB)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)


def forget_reload() -> bool:
    """Called just before the config is read at start: True if a SIGHUP came before (the read that
    follows is the reload it asked for); a SIGHUP from now on is a reload once started."""
    came = _pending.reload
    _pending.reload = False
    return came


def take() -> Pending:
    """What came, forgotten here: called once the daemon's own handlers are in place."""
    global _pending
    taken, _pending = _pending, Pending()
    return taken
