"""Runs preflight and output in an isolated worker process with a time limit and a memory limit.

A PDF that hangs pypdf, or makes it allocate without bound, costs one worker process, never the
daemon. The worker is started with ``forkserver`` (never ``fork``: the daemon has threads), is kept
warm between calls (startup costs ~0.1-0.3 s), is killed and replaced on a timeout, a crash or a
memory error, and is recycled when its resident memory stays high after a big job, or when the
daemon's logging changed (a reload), so that its logs follow.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import multiprocessing
import os
import pickle
import resource
import select
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import structlog

from spo_hotfolder.config import ProductSpec, ValidationConfig
from spo_hotfolder.digests import AHEAD, Key, identity, sha256_of
from spo_hotfolder.fsutil import proc_dir
from spo_hotfolder.logsetup import PDF_READER_FLOOD, WorkerLogRelay, setup_worker_logging, worker_log_setting
from spo_hotfolder.outputfile import OutputError, OutputResult
from spo_hotfolder.pdfreport import ArtworkInput, Finding, PreflightReport, describe_exception
from spo_hotfolder.prestart import PRELOAD

T = TypeVar("T")

_CHECK = ("the PDF check", "the PDF checker")
_OUTPUT = ("making the output PDF", "the PDF output writer")

# After a call, a worker whose resident memory is above this is replaced (Python rarely returns
# freed memory to the system: one 1 GiB merge would otherwise keep the worker at ~2 GiB).
RECYCLE_RSS_BYTES = 512 * 1024**2
#: While an output is made, the caller's ``while_waiting`` runs this often (intake goes on).
WAIT_SLICE_SECONDS = 0.2
#: A message ``_post`` sends is at most this long: one write to a pipe of at most PIPE_BUF bytes
#: either all goes in or none does, so a full pipe (a worker far behind) never cuts one in two.
POST_MAX_BYTES = select.PIPE_BUF - 4  # (the length that Connection.send_bytes puts before it)


#: The check of a finding that says the PDF worker could not be used at all (it could not be
#: started or reached): a fault of the daemon, not of the file (ERROR.txt says to RETRY).
CHECKER = "checker"


def _not_run(exc: BaseException | None) -> str:
    why = f" ({describe_exception(exc)})" if exc is not None else ""
    return f"the PDF checker could not run{why}: a fault of the daemon, not of the PDF (the daemon's log says more)"


def _said_not_run(exc: BaseException | None) -> str:
    """``_not_run``, said in the daemon's log too: ERROR.txt sends the reader there (audit 12-05 B 3:
    with the worker and its fork server killed at once, the job failed and the log said nothing)."""
    message = _not_run(exc)
    structlog.get_logger("spo_hotfolder.pdfwork").error("pdf_worker.unavailable", reason=message)
    return message


#: A worker process that cannot be started is tried again this many times, after these pauses: the
#: fork server killed with it (kill -9 of the daemon's children, the out-of-memory killer) refuses
#: or drops the connection until its death is seen, and is then started again by multiprocessing.
START_RETRY_PAUSES = (0.1, 0.5)


class WorkerFailure(Exception):
    """The worker did not return: ``kind`` is "timeout", "memory" or "crash"; the message is plain."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _exit_with(owner_pid: int) -> None:
    """Ends this worker once the daemon that started it is gone (SIGKILL gives it no chance to
    stop its pool; the worker's parent is the fork server, so no parent-death signal helps)."""
    while True:
        time.sleep(1.0)
        try:
            os.kill(owner_pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except OSError:
            continue


def _init_worker(
    memory_limit_bytes: int | None,
    owner_pid: int | None = None,
    log_setting: str | None = None,
    logs: Connection | None = None,
) -> None:
    """Runs once in each worker process: the parent's log format (its lines written to ``logs``,
    which the daemon copies to its own log), address-space limit, and a watch on the daemon so an
    orphaned worker never lingers."""
    stream = None
    if logs is not None:  # (the stream has the pipe's end of its own, for the process's life)
        stream = open(os.dup(logs.fileno()), "w", encoding="utf-8", errors="backslashreplace", buffering=1)  # noqa: SIM115
        logs.close()
    setup_worker_logging(log_setting, stream)
    if owner_pid is not None:
        threading.Thread(target=_exit_with, args=(owner_pid,), name="owner-watch", daemon=True).start()
    if memory_limit_bytes is not None:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = memory_limit_bytes if hard == resource.RLIM_INFINITY else min(memory_limit_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


# What the worker runs. The PDF modules (pypdf) are imported where these run, in the worker (the
# fork server preloads them: prestart.PRELOAD), never in the daemon, which only names them here.


def _preflight(*args: Any) -> PreflightReport:
    from spo_hotfolder.preflight import preflight

    return preflight(*args)


def _check(*args: Any) -> tuple[PreflightReport, bool]:
    from spo_hotfolder.output import check

    return check(*args)


def _build_output(*args: Any) -> OutputResult:
    from spo_hotfolder.output import build_output

    return build_output(*args)


def _hash_ahead(path: str) -> None:
    """Reads ``path`` for its sha256 on a thread of the worker (``digests``); the check of that
    file takes it from there. Sent without an answer (``PdfWorker.hash_ahead``)."""
    AHEAD.submit(path)


def _ahead_vouch(key: Key, before: int, after: int) -> None:
    """The daemon linked or moved a file handed to ``_hash_ahead`` (``PdfWorker.ahead_moved``)."""
    AHEAD.vouch(key, before, after)


#: What the worker is sent without an answer, on a pipe of its own (``_read_posts``).
_POSTED = (_hash_ahead, _ahead_vouch)


def _read_posts(posts: Connection) -> None:
    """A thread of the worker: runs what ``PdfWorker._post`` sends, as it comes, also while the
    worker's main thread is in a call (a check waiting for a read ahead then hears of the daemon's
    moves of that file at once)."""
    while True:
        try:
            fn, args = posts.recv()  # (what _post pickled: the daemon's own pipe, as conn's)
        except (EOFError, OSError):  # the daemon closed it (or is gone): the main loop ends the process
            return
        except Exception:  # noqa: BLE001, S112 - (cannot happen: _post sends only these) skip it
            continue
        if fn in _POSTED:
            with contextlib.suppress(Exception):
                fn(*args)


#: How long the start waits for the first worker's warm-up (an answer later than that is dropped
#: before the first call: PdfWorker._start_first).
WARM_UP_WAIT = 60.0


def _warm_up() -> int:
    """Imports what the first real call would import, so that it starts fast."""
    import pypdf._crypt_providers
    import pypdf.filters  # noqa: F401

    return os.getpid()


def _rss_bytes(pid: int) -> int:
    proc = proc_dir(pid)
    if proc is None:
        return 0  # not to be told: the worker is not recycled for its size
    try:
        with open(proc / "statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _picklable(validation: ValidationConfig) -> ValidationConfig:
    # `checks` may be a read-only mapping proxy, which does not pickle
    return dataclasses.replace(validation, checks=dict(validation.checks))


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds:g} s"


def _fmt_bytes(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB" if n >= 1024**3 else f"{n / 1024**2:.0f} MiB"


class _Remote(Exception):
    """An exception raised in the worker that could not be sent back as it was."""


def _serve(
    conn: Connection,
    posts: Connection,
    logs: Connection,
    memory_limit_bytes: int | None,
    owner_pid: int,
    log_setting: str | None,
) -> None:
    """The worker process: calls ``fn(*args)`` for each request on ``conn`` until it is closed (and
    what comes on ``posts``, on a thread); its log lines go to ``logs``."""
    try:
        _init_worker(memory_limit_bytes, owner_pid, log_setting, logs)
        threading.Thread(target=_read_posts, args=(posts,), name="posts", daemon=True).start()
        _warm_up()
    except BaseException as exc:  # noqa: BLE001 - said as a log line, not multiprocessing's traceback
        with contextlib.suppress(Exception):
            structlog.get_logger("spo_hotfolder.pdfwork").error("pdf_worker.start_failed", error=repr(exc))
        os._exit(1)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the daemon closed the pipe (or is gone): done
            os._exit(0)
        fn, args = request
        started = time.perf_counter()
        # pypdf's own warnings ("incorrect startxref pointer") say which file they are about.
        structlog.contextvars.clear_contextvars()
        files = _artwork_paths(args)
        if files:
            structlog.contextvars.bind_contextvars(artwork=files, **_job_of(files))
        try:
            reply: tuple[str, Any] = ("ok", fn(*args))
        except MemoryError:
            reply = ("memory", None)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the daemon
            reply = ("error", exc)
        # The call's own time, not counting how long its answer waits for the daemon to collect it.
        seconds = time.perf_counter() - started
        dropped = PDF_READER_FLOOD.take()
        if dropped:
            structlog.get_logger("spo_hotfolder.pdfwork").warning(
                "pypdf.warnings_left_out",
                count=dropped,
                reason=f"the PDF reader warned {PDF_READER_FLOOD.limit + dropped} times about these files; "
                f"only the first {PDF_READER_FLOOD.limit} are logged",
            )
        try:
            try:
                conn.send((*reply, seconds))
            except (BrokenPipeError, ConnectionError, EOFError):
                raise
            except MemoryError:
                conn.send(("memory", None, seconds))
            except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
                conn.send(("error", _Remote(f"{type(exc).__name__}: {exc}"), seconds))
        except (BrokenPipeError, ConnectionError, EOFError):
            # The daemon is gone (killed) or gave up on the call: nobody to answer. Exit quietly, not
            # with a plain-text traceback on the log's stream (every line there is one JSON object).
            os._exit(0)


def _job_of(files: list[str]) -> dict[str, str]:
    """``{"job_id": ...}`` for artwork files in one job's folder (``<job>/artwork/<name>``, where the
    daemon checks and makes every job's files): pypdf's lines then carry the job's id, as the
    daemon's own do (a log searched for a job finds them; audit Y)."""
    jobs = {parent.parent.name for parent in (Path(f).parent for f in files) if parent.name == "artwork"}
    return {"job_id": jobs.pop()} if len(jobs) == 1 else {}


def _artwork_paths(args: tuple[Any, ...]) -> list[str]:
    """The artwork files a worker call reads (their paths name the job's folder)."""
    for arg in args:
        if isinstance(arg, (list, tuple)) and arg and all(isinstance(a, ArtworkInput) for a in arg):
            return [a.path for a in arg]
    return []


class _Process:
    """One worker process and the daemon's end of its pipe."""

    def __init__(self, context: Any, memory_limit_bytes: int | None) -> None:
        parent, child = context.Pipe(duplex=True)
        posts_in, posts_out = context.Pipe(duplex=False)
        logs_in, logs_out = context.Pipe(duplex=False)
        #: the daemon's log format and level when the process started: its logs are rendered so
        self.log_setting = worker_log_setting()
        self.process = context.Process(
            target=_serve,
            args=(child, posts_in, logs_out, memory_limit_bytes, os.getpid(), self.log_setting),
            name="spo-hotfolder-pdf",
            daemon=True,
        )
        try:
            self.process.start()
        finally:
            child.close()
            posts_in.close()
            logs_out.close()
        #: the worker's log lines, copied to the daemon's log (the pipe's end is the relay's now)
        self.logs = WorkerLogRelay(os.dup(logs_in.fileno()))
        logs_in.close()
        self.conn: Connection = parent
        #: messages without an answer (``PdfWorker._post``); never waits: a full pipe refuses one
        self.posts: Connection = posts_out
        os.set_blocking(posts_out.fileno(), False)
        # PdfWorker.close() from another thread kills a process that the calling thread, seeing it
        # die, kills again: the pipe must be closed once. Connection.close() twice at the same time
        # closed its fd number twice, and the second close hit whatever file had taken that number
        # meanwhile (a PDF being checked, the ledger).
        self._close_lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        pid: int | None = self.process.pid
        return pid

    def kill(self) -> int | None:
        """Kills the process (if still running) and returns its exit code."""
        with contextlib.suppress(Exception):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.join(5)
        self._close_pipe()
        code: int | None = self.process.exitcode
        return code

    def retire(self) -> None:
        """Asks an idle worker to exit (closing the pipe ends its loop); never waits for it."""
        self._close_pipe()

    def _close_pipe(self) -> None:
        with self._close_lock:
            for conn in (self.conn, self.posts):
                with contextlib.suppress(Exception):
                    conn.close()


@dataclasses.dataclass(slots=True, eq=False)
class _Call:
    """A call handed to the worker; ``value``/``error`` once received by another call's send."""

    proc: _Process
    job: tuple[str, str]
    sent_at: float
    value: Any = None
    error: Exception | None = None
    seconds: float | None = None  # the worker's time on the call, once its answer is received


class PdfCheck:
    """A check under way in the worker (``PdfWorker.begin_check``)."""

    def __init__(
        self,
        call: _Call | None,
        artwork: Sequence[ArtworkInput],
        failure: str | None = None,
        again: tuple[Any, ...] = (),
    ) -> None:
        self._call = call
        self._again = again  # the call's arguments, to send again after a crash
        self.artwork = list(artwork)
        self.failure = failure

    @property
    def seconds(self) -> float | None:
        """How long the worker took to check, once ``finish_check`` has the answer (None when the
        check did not run to an answer). The engine observes it as the job's preflight time: the
        time from begin to finish is mostly the engine's own work on the job before."""
        return self._call.seconds if self._call is not None else None


class PdfWorker:
    """Preflight and output in a separate, limited process. One call at a time (calls are serialized).

    The daemon talks to the worker over one pipe (no executor, no helper threads): a call is one
    send and one receive, ~0.6 ms on top of the work itself (measured with a 1-page PDF).
    """

    def __init__(
        self,
        timeout_seconds: float = 120.0,
        memory_limit_bytes: int | None = 2 * 1024**3,
        *,
        start_method: str = "forkserver",
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.memory_limit_bytes = memory_limit_bytes
        self._context = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            # Workers forked by the fork server then start with pypdf already imported. Only
            # effective if the fork server is not running yet (`spo-hotfolder run` starts it early).
            self._context.set_forkserver_preload(PRELOAD)
        self._lock = threading.Lock()
        self._proc: _Process | None = None
        self._out: _Call | None = None  # the call whose answer has not been received yet
        self._closed = False
        # The first process starts in the background (the fork server imports pypdf first, ~0.3 s):
        # the daemon's start and its first intake do not wait for it; the first call does.
        self._ready = threading.Event()
        #: Why the first worker process could not be started and warmed up (its fork server could
        #: not start, say), once ``wait_ready`` has returned; None when it could.
        self.start_error: str | None = None
        threading.Thread(target=self._start_first, name="pdf-worker-start", daemon=True).start()

    # -- public API ---------------------------------------------------------------------------------

    def preflight(
        self,
        artwork: Sequence[ArtworkInput],
        product_name: str,
        spec: ProductSpec | None,
        validation: ValidationConfig,
    ) -> PreflightReport:
        """Like ``preflight.preflight``; a worker that times out, runs out of memory or crashes gives
        a report with one error finding saying so."""
        result, failure = self._checking(_preflight, artwork, product_name, spec, validation)
        return result if failure is None else self._failed_report(artwork, *failure)

    def check(
        self,
        artwork: Sequence[ArtworkInput],
        product_name: str,
        spec: ProductSpec | None,
        validation: ValidationConfig,
    ) -> tuple[PreflightReport, bool]:
        """Like ``output.check``: the preflight report, and whether the output is the artwork as it
        is. Failures of the worker give a report with one error finding, as ``preflight`` does."""
        result, failure = self._checking(_check, artwork, product_name, spec, validation)
        return result if failure is None else (self._failed_report(artwork, *failure), False)

    def begin_check(
        self,
        artwork: Sequence[ArtworkInput],
        product_name: str,
        spec: ProductSpec | None,
        validation: ValidationConfig,
    ) -> PdfCheck:
        """Starts ``check`` and returns at once; ``finish_check`` gives its answer. The daemon
        does other work meanwhile (the worker runs on another core). Any other call waits for it."""
        args = (list(artwork), product_name, spec, _picklable(validation))
        try:
            call = self._send(_CHECK, _check, *args)
        except Exception as exc:  # noqa: BLE001  # reported by finish_check, as check would
            return PdfCheck(None, artwork, _said_not_run(exc))
        return PdfCheck(call, artwork, again=args)

    def finish_check(self, pending: PdfCheck) -> tuple[PreflightReport, bool]:
        """The answer to ``begin_check``: what ``check`` would have returned."""
        check, failure = CHECKER, pending.failure
        if pending._call is not None:
            try:
                return self._once_more_after_crash(_CHECK, _check, pending._again, call=pending._call)  # type: ignore[no-any-return]
            except WorkerFailure as exc:
                check, failure = "open", str(exc)
            except Exception as exc:  # noqa: BLE001  # a bug or an unpicklable result: still a report
                failure = _said_not_run(exc)
        return self._failed_report(pending.artwork, check, failure or _not_run(None)), False

    def hash_ahead(self, path: str) -> None:
        """Hands a big artwork file that settled in the inbox to the worker, which reads it for its
        sha256 meanwhile (``digests``): its check, once a manifest claims it, then need not read
        it again. No answer, and never waits (``_post``)."""
        self._post(_hash_ahead, path)

    def ahead_moved(self, before: os.stat_result, after: os.stat_result) -> None:
        """Tells the worker that the daemon linked or moved a file handed to ``hash_ahead``:
        ``before`` and ``after`` are its ``stat`` just before and after. Without this, the file's
        new change time makes its check read it again (as for any change nobody vouched for)."""
        if (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino):
            self._post(_ahead_vouch, identity(before), before.st_ctime_ns, after.st_ctime_ns)

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        """Sends ``fn(*args)`` to the worker's thread for these (``_read_posts``); never waits:
        nothing is sent while another thread uses the worker (its start), while no process is up,
        or while the pipe is full (the worker far behind: its checks read their files themselves)."""
        payload = pickle.dumps((fn, args))
        if len(payload) > POST_MAX_BYTES or not self._lock.acquire(blocking=False):
            return
        try:
            proc = self._proc
            if proc is not None and not self._closed:
                with contextlib.suppress(OSError, EOFError, ValueError):  # (full, or the worker gone)
                    proc.posts.send_bytes(payload)
        finally:
            self._lock.release()

    def _checking(
        self,
        fn: Callable[..., T],
        artwork: Sequence[ArtworkInput],
        product_name: str,
        spec: ProductSpec | None,
        validation: ValidationConfig,
    ) -> tuple[Any, tuple[str, str] | None]:
        """(what ``fn`` returned, None), or (None, (the finding's check, why the check could not
        run in plain words)): "open" when the worker failed on the file (a time-out, memory, a
        crash), ``CHECKER`` when the worker could not be used at all (a fault of the daemon)."""
        try:
            args = (list(artwork), product_name, spec, _picklable(validation))
            return self._once_more_after_crash(_CHECK, fn, args), None
        except WorkerFailure as failure:
            return None, ("open", str(failure))
        except Exception as exc:  # noqa: BLE001  # a bug or an unpicklable result: still a report
            return None, (CHECKER, _said_not_run(exc))

    @staticmethod
    def _failed_report(artwork: Sequence[ArtworkInput], check: str, message: str) -> PreflightReport:
        return PreflightReport(
            findings=(Finding(check, "error", message),),
            pages=0,
            artwork_sha256=tuple(_sha256_or_empty(a.path) for a in artwork),
            trim_mm=None,
        )

    def build_output(
        self,
        artwork: Sequence[ArtworkInput],
        dest: str,
        spec: ProductSpec | None,
        validation: ValidationConfig,
        while_waiting: Callable[[], None] | None = None,
        repaired: bool = False,
    ) -> OutputResult:
        """Like ``output.build_output``; raises OutputError (plain message) on any failure.

        ``while_waiting`` is called about every WAIT_SLICE_SECONDS while the worker makes the output
        (a big one takes seconds): the caller goes on with work that needs no PDF worker. It must not
        call this worker (the call would wait for this output first)."""
        try:
            args = (list(artwork), dest, spec, _picklable(validation), repaired)
            result: OutputResult = self._once_more_after_crash(
                _OUTPUT, _build_output, args, while_waiting=while_waiting, before_again=lambda: _remove_temp_files(dest)
            )
            return result
        except OutputError:
            raise
        except WorkerFailure as failure:
            _remove_temp_files(dest)
            raise OutputError(str(failure)) from None
        except Exception as exc:
            raise OutputError(f"the output PDF could not be made: {describe_exception(exc)}") from exc

    def close(self) -> None:
        """Stops the worker process; further calls raise RuntimeError. Safe from another thread while
        a call runs: that call then ends at once with a WorkerFailure ("crash")."""
        self._closed = True
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()

    def __enter__(self) -> PdfWorker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------------

    def _limit_text(self) -> str:
        return f" (more than {_fmt_bytes(self.memory_limit_bytes)})" if self.memory_limit_bytes else ""

    def _start_first(self) -> None:
        try:
            with self._lock:
                if self._proc is None and not self._closed:
                    proc: _Process | None = None
                    try:
                        proc = self._start()
                        # One round trip: the worker has imported pypdf and waits for work.
                        proc.conn.send((_warm_up, ()))
                        warm_up = _Call(proc, ("starting the PDF worker", "the PDF worker"), time.monotonic())
                        if proc.conn.poll(WARM_UP_WAIT):
                            proc.conn.recv()
                        else:
                            # Still out: received (and dropped) before the first check's call is sent,
                            # or its answer would be taken for that check's, and each later one for
                            # the one after it (audit CZ 1: another file's report, a damaged PDF printed).
                            self._out = warm_up
                    except Exception as exc:  # noqa: BLE001 - said by start_error; a call tries again
                        if not self._closed:
                            self.start_error = (
                                f"it ended as it started, exit code {proc.kill()}"
                                if isinstance(exc, EOFError | ConnectionError) and proc is not None
                                else describe_exception(exc)
                            )
        finally:
            self._ready.set()

    def wait_ready(self, timeout: float) -> bool:
        """Waits until the first worker process is up and warm (or ``timeout`` passed)."""
        return self._ready.wait(timeout)

    def _start(self) -> _Process:
        """A fresh worker process; it starts now, not on the first job. A start that fails is tried
        again (``START_RETRY_PAUSES``), saying so; the last failure is raised."""
        for pause in (*START_RETRY_PAUSES, None):
            try:
                proc = _Process(self._context, self.memory_limit_bytes)
                break
            except Exception as exc:
                if pause is None or self._closed:
                    raise
                structlog.get_logger("spo_hotfolder.pdfwork").warning(
                    "pdf_worker.start_failed",
                    reason=f"a new PDF worker process could not be started ({describe_exception(exc)}); "
                    f"tried again in {_fmt_seconds(pause)}",
                )
                time.sleep(pause)
        self._proc = proc
        if self._closed:  # closed from another thread meanwhile
            self._proc = None
            proc.kill()
        return proc

    def _worker_pids(self) -> list[int]:
        proc = self._proc
        return [proc.pid] if proc is not None and proc.pid is not None else []

    def _replace(self, proc: _Process, *, gently: bool = False) -> list[int | None]:
        """Kills ``proc`` (``gently``: an idle one is asked to exit) and starts its successor (unless
        closed meanwhile); returns its exit code, if known."""
        code = None if gently else proc.kill()
        if gently:
            proc.retire()
        if self._proc is proc:
            self._proc = None
        if not self._closed:
            try:
                self._start()
            except Exception as exc:  # noqa: BLE001 - the next call starts one (or says why it cannot)
                structlog.get_logger("spo_hotfolder.pdfwork").warning(
                    "pdf_worker.start_failed",
                    reason=f"no new PDF worker process could be started ({describe_exception(exc)}); "
                    "the next check or output tries again",
                )
        return [code]

    def _once_more_after_crash(
        self,
        job: tuple[str, str],
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        *,
        call: _Call | None = None,
        while_waiting: Callable[[], None] | None = None,
        before_again: Callable[[], None] | None = None,
    ) -> Any:
        """``fn(*args)`` in the worker (``call``: already sent); raises WorkerFailure, or what ``fn``
        raised. ``job`` names the work in messages: (what it is doing, who does it). Once more, in a fresh
        process, when the worker's process was killed or ended in the middle of it: that is seldom
        the file's doing (our memory limit makes allocations fail, a "memory" failure; a SIGKILL is
        the system's out-of-memory killer or a person), and a job failed for it waited for an
        operator's RETRY (audit B 2). A time-out or a memory failure is not tried again, nor a
        call cut short by ``close``. A second crash raises WorkerFailure saying it was the second."""
        for attempt in (1, 2):
            if call is None:
                call = self._send(job, fn, *args)
            try:
                if while_waiting is not None:
                    self._wait_answer(call, while_waiting)
                return self._receive(call)
            except WorkerFailure as failure:
                if failure.kind != "crash" or self._closed:
                    raise
                if attempt == 2:
                    raise WorkerFailure(
                        "crash", f"{failure}; it crashed the second time too, in a new process"
                    ) from None
                # (the job's id, as the job's other lines have it: the daemon binds none in this thread;
                # no "drop RETRY" while it is tried again by itself: helper EX 1)
                structlog.get_logger("spo_hotfolder.pdfwork").warning(
                    "pdf_worker.crashed",
                    work=job[0],
                    reason=f"{str(failure).replace(_RETRY_HINT, '')}; it is tried once more in a new process",
                    **_job_of(_artwork_paths(args)),
                )
            call = None
            if before_again is not None:
                before_again()
        raise AssertionError("unreachable")  # (the loop returns or raises)

    def _send(self, job: tuple[str, str], fn: Callable[..., Any], *args: Any) -> _Call:
        """Hands ``fn(*args)`` to the worker and returns at once. A call still out is received
        first (its answer is kept for its ``_receive``): the worker does one thing at a time."""
        with self._lock:
            if self._closed:
                raise RuntimeError("PdfWorker is closed")
            self._drain()
            proc = self._proc or self._start()
            if proc.log_setting != worker_log_setting():
                # The logging changed (a reload): a fresh process renders the new way. This one is
                # idle (the answer of the call before was received above), so no work is lost or redone.
                self._replace(proc, gently=True)
                proc = self._proc or self._start()
            try:
                proc.conn.send((fn, args))
            except (OSError, EOFError):  # the idle worker died (killed, OOM): a fresh one takes the call
                pid = proc.pid
                codes = self._replace(proc)
                signals = [-c for c in codes if c is not None and c < 0]
                how = f"was killed by signal {signals[0]}" if signals else "ended unexpectedly"
                if signals == [9]:
                    how += " (the system's out-of-memory killer, or a person)"
                structlog.get_logger("spo_hotfolder.pdfwork").warning(
                    "pdf_worker.died",
                    pid=pid,
                    reason=f"the PDF worker process (pid {pid}) {how} while no check or output was under way; a new "
                    "one takes the work",
                )
                proc = self._proc or self._start()
                proc.conn.send((fn, args))
            call = _Call(proc, job, time.monotonic())
            self._out = call
            return call

    def _receive(self, call: _Call) -> Any:
        """The answer to ``call`` (waiting for it, within the time limit counted from the send)."""
        with self._lock:
            if self._out is call:
                self._out = None
                return self._collect(call)
        if call.error is not None:
            raise call.error
        return call.value

    def _wait_answer(self, call: _Call, while_waiting: Callable[[], None]) -> None:
        """Until ``call``'s answer is there (or its time is up: ``_receive`` says so), calls
        ``while_waiting`` between slices of waiting."""
        while self._out is call:
            left = self.timeout_seconds - (time.monotonic() - call.sent_at)
            if left <= 0:
                return
            try:
                if call.proc.conn.poll(min(WAIT_SLICE_SECONDS, left)):
                    return
            except (OSError, EOFError):
                return  # closed (the daemon stops) or the worker died: _receive says which
            while_waiting()

    def _drain(self) -> None:
        """Receives the answer of the call still out (lock held), keeping it on the call."""
        call, self._out = self._out, None
        if call is not None:
            try:
                call.value = self._collect(call)
            except Exception as exc:  # noqa: BLE001 - kept for the caller of _receive
                call.error = exc

    def _collect(self, call: _Call) -> Any:
        doing, who = call.job
        proc = call.proc
        left = max(0.0, self.timeout_seconds - (time.monotonic() - call.sent_at))
        try:
            ready = proc.conn.poll(left)
        except (OSError, EOFError):
            ready = True  # closed from another thread: recv() below says so
        if not ready:
            self._replace(proc)
            raise WorkerFailure(
                "timeout",
                f"{doing} did not finish within {_fmt_seconds(self.timeout_seconds)} "
                "(the file may be damaged or extremely complex)",
            ) from None
        try:
            kind, payload, call.seconds = proc.conn.recv()
        except (EOFError, OSError):
            codes = self._replace(proc)
            proc.logs.drain()  # (its last lines, before the daemon's about its end)
            raise WorkerFailure("crash", _crash_message(who, codes, self._limit_text())) from None
        proc.logs.drain()  # (what it logged doing the call, before the daemon's lines about its answer)
        if kind == "memory":
            self._replace(proc)
            raise WorkerFailure(
                "memory",
                f"{doing} ran out of memory{self._limit_text()}; the file may be damaged or extremely complex",
            ) from None
        self._recycle_if_big(proc)
        if kind == "error":
            raise payload
        return payload

    def _recycle_if_big(self, proc: _Process) -> None:
        if proc.pid is not None and _rss_bytes(proc.pid) > RECYCLE_RSS_BYTES:
            self._replace(proc, gently=True)


# What the operator can do about a crash that failed the job (not said while it is tried once more).
_RETRY_HINT = (
    "; drop RETRY to try again (if it happens again with this file, the file may be too big or complex for "
    "this machine)"
)


def _crash_message(who: str, codes: Sequence[int | None], limit_text: str) -> str:
    signals = [-c for c in codes if c is not None and c < 0]
    if 9 in signals:
        # Our memory limit makes allocations fail (a "memory" failure), it does not kill: a SIGKILL
        # is the system's out-of-memory killer (the machine short of memory) or a person.
        return (
            f"{who} crashed: its process was killed (signal 9), by the system when the machine ran short of "
            f"memory, or by a person{_RETRY_HINT}"
        )
    if signals:
        return f"{who} crashed: its process was killed by signal {signals[0]}"
    exits = [c for c in codes if c is not None]
    if exits:
        return f"{who} crashed: its process ended unexpectedly (exit code {exits[0]})"
    return f"{who} crashed: its process ended unexpectedly"


def _sha256_or_empty(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            return sha256_of(fh)
    except OSError:
        return ""


def _remove_temp_files(dest: str) -> None:
    """Removes temp files a killed worker left for ``dest`` (".<name>.<random>.tmp")."""
    target = Path(dest).absolute()
    with contextlib.suppress(OSError):
        for leftover in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()
