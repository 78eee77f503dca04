"""Calls into hot folders with a time limit: a share that stops answering costs an attempt, never
the daemon.

A hot folder is often a network share (SMB, NFS) of the RIP's machine. When its server goes away,
a file system call into it can block for minutes (a soft CIFS mount) or for ever (a hard NFS mount,
a FUSE server that hangs): made by the engine thread itself, it would stop every other job with it
(SPEC 8: the daemon keeps serving the other jobs). So each call into a hot folder runs on a thread
of that hot folder's own (its *courier*), and the engine waits for it at most ``silence`` seconds
(``delivery.share_timeout_seconds``) without a sign of progress (each chunk of a copy is one).

A call that does not come back in that time fails the attempt, in plain words ("does not
answer"). Its thread is left to finish (a system call in progress cannot be taken back), and until
it has, the hot folder counts as not answering: each attempt there fails at once, without another
call, while the other hot folders are served as usual. When the call returns, the hot folder
answers again (``on_answer`` is told, and the log says so).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import structlog

from spo_hotfolder.config import FolderLook, HotFolderConfig, Seen, look_here
from spo_hotfolder.delivery import DeliveryError

log = structlog.get_logger("spo_hotfolder.shares")

T = TypeVar("T")

#: How long a call in hand is still waited for once the daemon is stopping.
STOP_GRACE = 2.0


@dataclass(eq=False)
class _Courier:
    """One hot folder's thread, and the call it is making (one at a time)."""

    name: str
    path: str
    cond: threading.Condition = field(default_factory=threading.Condition)
    task: Callable[[], Any] | None = None
    what: str = ""
    done: bool = True
    result: Any = None
    error: BaseException | None = None
    progress_at: float = 0.0
    abandoned_at: float | None = None  # the engine stopped waiting for the call in hand
    thread: threading.Thread | None = None


@dataclass(frozen=True, eq=False)
class Pending(Generic[T]):
    """A call begun on a hot folder's courier (``ShareGuard.start``), not yet finished."""

    courier: _Courier
    name: str
    path: str
    what: str


class ShareGuard:
    """Runs calls into hot folders on their couriers, with the time limit above. Used by the
    engine thread only (one call at a time); couriers are daemon threads."""

    def __init__(
        self,
        silence: float = 10.0,
        on_answer: Callable[[str], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        stop: threading.Event | None = None,
    ) -> None:
        self.silence = silence
        self.on_answer = on_answer
        self.stop = stop  # the daemon is stopping: a call is waited for STOP_GRACE seconds more at most
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._couriers: dict[str, _Courier] = {}  # hot folder name -> its courier (answering)
        self._silent: dict[str, _Courier] = {}  # hot folder name -> the courier stuck in a call
        self._local = threading.local()

    def silent_since(self, name: str) -> float | None:
        """Since when (``monotonic`` seconds) a call into hot folder ``name`` was given up on; None
        while it answers."""
        with self._lock:
            courier = self._silent.get(name)
            return None if courier is None else courier.abandoned_at

    def repointed(self, name: str) -> None:
        """Hot folder ``name`` names other folders now (a reload): a call stuck in its old ones no
        longer makes it count as not answering (that call's thread is left to finish, and says so
        when it does)."""
        with self._lock:
            self._silent.pop(name, None)

    def alive(self) -> None:
        """Called from inside a call (between two chunks of a copy): a sign of progress."""
        courier = getattr(self._local, "courier", None)
        if courier is not None:
            courier.progress_at = self._monotonic()

    def call(self, hot: HotFolderConfig | tuple[str, Path], what: str, fn: Callable[[], T]) -> T:
        """``fn()`` (file system calls into ``hot``: a hot folder, or its name and path) on its
        courier: its result, or its exception. Raises DeliveryError (transient) when the hot folder
        does not answer: now, or already (an earlier call there has not returned yet)."""
        return self.finish(self.start(hot, what, fn))

    def start(self, hot: HotFolderConfig | tuple[str, Path], what: str, fn: Callable[[], T]) -> Pending[T]:
        """``call`` in two halves: ``fn()`` begins on the courier, and the engine goes on with other
        work (a PDF check) until it asks ``finish`` for the outcome. A courier makes one call at a
        time: nothing else is asked of this hot folder before ``finish``. Raises DeliveryError at
        once when the hot folder does not answer already."""
        name, path = (hot.name, hot.path) if isinstance(hot, HotFolderConfig) else hot
        with self._lock:
            stuck = self._silent.get(name)
            courier = self._couriers.get(name)
            if stuck is None and courier is None:
                courier = self._couriers[name] = _Courier(name, str(path))
        if stuck is not None:
            waited = self._monotonic() - (stuck.abandoned_at or 0.0) + self.silence
            shown = f"{waited:.1f}" if waited < 10 else f"{waited:.0f}"
            raise DeliveryError(
                f"hot folder {name} ({path}) does not answer: a call into it ({stuck.what}) has not "
                f"returned for {shown} s; is its share's server up and reachable?",
                transient=True,
            )
        assert courier is not None
        with courier.cond:
            if not courier.done:
                raise RuntimeError(f"hot folder {name}: {what} asked while {courier.what} is in hand")
            courier.task, courier.what, courier.done = fn, what, False
            courier.result, courier.error = None, None
            courier.progress_at = self._monotonic()
            if courier.thread is None:
                courier.thread = threading.Thread(
                    target=self._serve, args=(courier,), name=f"hot-folder-{name}", daemon=True
                )
                courier.thread.start()
            courier.cond.notify_all()
        return Pending(courier, name, str(path), what)

    def finish(self, pending: Pending[T]) -> T:
        """The outcome of a call begun by ``start``: waited for while it shows signs of progress
        (at most ``silence`` seconds without one), as ``call`` waits."""
        courier, name, path, what = pending.courier, pending.name, pending.path, pending.what
        with courier.cond:
            stopping_at: float | None = None
            while not courier.done:
                if stopping_at is None and self.stop is not None and self.stop.is_set():
                    stopping_at = self._monotonic()
                left = courier.progress_at + self.silence - self._monotonic()
                if stopping_at is not None:
                    left = min(left, stopping_at + STOP_GRACE - self._monotonic())
                if left <= 0:
                    # Given up on, and known as such, before the call can return (see _answered_again).
                    courier.abandoned_at = self._monotonic()
                    with self._lock:
                        self._couriers.pop(name, None)
                        self._silent[name] = courier
                    break
                courier.cond.wait(min(left, 1.0))
            if courier.done:
                error, result = courier.error, courier.result
                courier.result = courier.error = None
                if error is not None:
                    raise error
                return result  # type: ignore[no-any-return]
        if stopping_at is not None:
            raise InterruptedError(f"the daemon is stopping; {what} in hot folder {name} had not returned")
        log.warning(
            "hot_folder.not_answering",
            hot_folder=name,
            path=path,
            call=what,
            seconds=self.silence,
            effect="the job's attempt fails and is tried again later; deliveries there fail at once until the "
            "call returns; the other hot folders are served as usual",
        )
        raise DeliveryError(
            f"hot folder {name} ({path}) does not answer: {what} has not returned within "
            f"{self.silence:g} s; is its share's server up and reachable?",
            transient=True,
        )

    def _serve(self, courier: _Courier) -> None:
        self._local.courier = courier
        while True:
            with courier.cond:
                while courier.task is None:
                    courier.cond.wait()
                task, courier.task = courier.task, None
            try:
                result, error = task(), None
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, who raises it
                result, error = None, exc
            with courier.cond:
                courier.result, courier.error, courier.done = result, error, True
                abandoned = courier.abandoned_at
                courier.cond.notify_all()
            if abandoned is not None:
                self._answered_again(courier, abandoned, error)
                return

    def _answered_again(self, courier: _Courier, abandoned: float, error: BaseException | None) -> None:
        """The call the engine stopped waiting for has returned: the hot folder answers again (a new
        courier serves it; this thread ends)."""
        with self._lock:
            if self._silent.get(courier.name) is courier:
                del self._silent[courier.name]
        log.info(
            "hot_folder.answering_again",
            hot_folder=courier.name,
            path=courier.path,
            call=courier.what,
            after_seconds=round(self._monotonic() - abandoned + self.silence, 1),
            outcome="done" if error is None else f"failed: {error}",
        )
        if self.on_answer is not None:
            self.on_answer(courier.name)


def within(seconds: float, fn: Callable[[], T], while_waiting: Callable[[], None] | None = None) -> T:
    """``fn()`` on a thread of its own, waited for at most ``seconds``: its result or its exception;
    TimeoutError when it has not returned (a look at folders on a share that does not answer; the
    thread is left to finish). ``while_waiting`` is called about once a second meanwhile (the
    daemon's heartbeat: its watchdog pings must not stop for that wait, audit DB 1); what it raises
    ends the wait."""
    box: list[Any] = []
    done = threading.Event()

    def run() -> None:
        try:
            box.append((fn(), None))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, who raises it
            box.append((None, exc))
        done.set()

    threading.Thread(target=run, name="folder-check", daemon=True).start()
    deadline = time.monotonic() + seconds
    while not done.wait(max(0.0, min(1.0, deadline - time.monotonic()))):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no answer within {seconds:.0f} s")
        if while_waiting is not None:
            while_waiting()
    result, error = box[0]
    if error is not None:
        raise error
    return result  # type: ignore[no-any-return]


#: The look of ``look_at``'s child process: one JSON line per folder as each look returns, each
#: on a thread of its own (one share that does not answer holds up only the looks into it).
_LOOK = """
import json, os, stat, sys, threading
lock = threading.Lock()
def look(index, path):
    try:
        st = os.stat(path)
        kind = "dir" if stat.S_ISDIR(st.st_mode) else "file"
        seen = {"kind": kind, "device": st.st_dev, "real": os.path.realpath(path),
                "writable": os.access(path, os.W_OK | os.X_OK)}
    except (FileNotFoundError, NotADirectoryError):
        seen = {"kind": "missing"}
    except OSError as exc:
        seen = {"kind": "unreadable", "error": exc.strerror or str(exc)}
    with lock:
        print(json.dumps({"index": index, **seen}), flush=True)
for index, path in enumerate(sys.argv[1:]):
    threading.Thread(target=look, args=(index, path)).start()
"""

#: Children of ``look_at`` still in a call into a share that does not answer (kept referenced, so
#: that they are not reported as leaked; each ends once its call returns).
_LEFT_WAITING: list[subprocess.Popen[bytes]] = []


def look_at(folders: Sequence[Path], seconds: float) -> FolderLook:
    """Looks at ``folders`` (stat) in a child process, waited for at most ``seconds``: a folder
    not looked at by then is ``Seen("silent")``, on a share whose server does not answer.

    For the commands (``check-config``, ``init``): a thread of their own stuck in such a call
    would keep them from exiting (the kernel holds a process until a FUSE server or a hard NFS
    mount answers), a child process left behind does not. It ends by itself once the call returns.
    """
    unique = list(dict.fromkeys(folders))
    seen: dict[Path, Seen] = {}
    try:
        child = (
            subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _LOOK, *(os.fsencode(folder) for folder in unique)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # (a Ctrl-C in the terminal is for the command, not for it)
            )
            if unique
            else None
        )
    except OSError:
        child, unique = None, []  # (no interpreter to start: looked at here, as before)
    if child is not None:
        assert child.stdout is not None
        deadline = time.monotonic() + seconds
        lines: list[bytes] = []
        rest = b""
        readable = select.poll()  # (not select(): a descriptor above 1,023 is refused there)
        readable.register(child.stdout, select.POLLIN)
        while len(lines) < len(unique):
            left = deadline - time.monotonic()
            if left <= 0 or not readable.poll(left * 1000):
                break
            chunk = os.read(child.stdout.fileno(), 65536)
            if not chunk:
                break
            *done, rest = (rest + chunk).split(b"\n")
            lines.extend(done)
        for line in lines:
            try:
                answer = json.loads(line)
                seen[unique[answer["index"]]] = Seen(
                    answer["kind"],
                    answer.get("device"),
                    answer.get("error", ""),
                    answer.get("real"),
                    answer.get("writable", True),
                )
            except (ValueError, KeyError, TypeError, IndexError):
                continue  # (not a line of ours: that folder counts as not answering)
        if len(lines) == len(unique):
            child.stdout.close()
            child.wait()
        else:
            _LEFT_WAITING.append(child)

    def look(folder: Path) -> Seen:
        if folder in seen:
            return seen[folder]
        return Seen("silent") if folder in unique else look_here(folder)  # (one not asked about: here)

    return look
