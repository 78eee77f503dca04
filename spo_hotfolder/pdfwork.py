"""Runs preflight and output in an isolated worker process with a time limit and a memory limit.

A PDF that hangs pypdf, or makes it allocate without bound, costs one worker process, never the
daemon. The worker is started with ``forkserver`` (never ``fork``: the daemon has threads), is kept
warm between calls (startup costs ~0.1-0.3 s), is killed and replaced on a timeout, a crash or a
memory error, and is recycled when its resident memory stays high after a big job.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import glob
import hashlib
import multiprocessing
import os
import resource
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from spo_hotfolder import output as _output
from spo_hotfolder import preflight as _preflight
from spo_hotfolder.config import ProductSpec, ValidationConfig
from spo_hotfolder.output import OutputError, OutputResult
from spo_hotfolder.preflight import ArtworkInput, Finding, PreflightReport, describe_exception

T = TypeVar("T")

_CHECK = ("the PDF check", "the PDF checker")
_OUTPUT = ("making the output PDF", "the PDF output writer")

# After a call, a worker whose resident memory is above this is replaced (Python rarely returns
# freed memory to the system: one 1 GiB merge would otherwise keep the worker at ~2 GiB).
RECYCLE_RSS_BYTES = 512 * 1024**2


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


def _init_worker(memory_limit_bytes: int | None, owner_pid: int | None = None) -> None:
    """Runs once in each worker process: the parent's log format, address-space limit, and a
    watch on the daemon so an orphaned worker never lingers."""
    from spo_hotfolder.logsetup import setup_worker_logging

    setup_worker_logging()
    if owner_pid is not None:
        threading.Thread(target=_exit_with, args=(owner_pid,), name="owner-watch", daemon=True).start()
    if memory_limit_bytes is not None:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = memory_limit_bytes if hard == resource.RLIM_INFINITY else min(memory_limit_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _warm_up() -> int:
    """Imports what the first real call would import, so that it starts fast."""
    import pypdf._crypt_providers
    import pypdf.filters  # noqa: F401

    return os.getpid()


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
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


class PdfWorker:
    """Preflight and output in a separate, limited process. One call at a time (calls are serialized)."""

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
            # Workers forked by the fork server then start with pypdf already imported (~10 ms instead
            # of ~250 ms after a kill). Only effective if the fork server is not running yet.
            self._context.set_forkserver_preload(["spo_hotfolder.preflight", "spo_hotfolder.output"])
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False
        with self._lock:
            self._start()

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
        try:
            return self._run(_CHECK, _preflight.preflight, list(artwork), product_name, spec, _picklable(validation))
        except WorkerFailure as failure:
            message = str(failure)
        except Exception as exc:  # noqa: BLE001  # a bug or an unpicklable result: still a report
            message = f"the PDF checker crashed: {describe_exception(exc)}"
        return PreflightReport(
            findings=(Finding("open", "error", message),),
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
    ) -> OutputResult:
        """Like ``output.build_output``; raises OutputError (plain message) on any failure."""
        try:
            return self._run(_OUTPUT, _output.build_output, list(artwork), dest, spec, _picklable(validation))
        except OutputError:
            raise
        except WorkerFailure as failure:
            _remove_temp_files(dest)
            raise OutputError(str(failure)) from None
        except Exception as exc:
            raise OutputError(f"the output PDF could not be made: {describe_exception(exc)}") from exc

    def close(self) -> None:
        """Stops the worker process; further calls raise RuntimeError."""
        with self._lock:
            self._closed = True
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None

    def __enter__(self) -> PdfWorker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------------

    def _limit_text(self) -> str:
        return f" (more than {_fmt_bytes(self.memory_limit_bytes)})" if self.memory_limit_bytes else ""

    def _start(self) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=self._context,
            initializer=_init_worker,
            initargs=(self.memory_limit_bytes, os.getpid()),
        )
        self._pool.submit(_warm_up)  # starts the process now, not on the first job

    def _worker_pids(self) -> list[int]:
        pool = self._pool
        if pool is None:
            return []
        processes = getattr(pool, "_processes", None) or {}
        return [p.pid for p in list(processes.values()) if p.pid is not None]

    def _kill(self) -> list[int | None]:
        """Kills the worker process(es) and drops the pool; returns their exit codes."""
        pool, self._pool = self._pool, None
        if pool is None:
            return []
        processes = list((getattr(pool, "_processes", None) or {}).values())
        for process in processes:
            with contextlib.suppress(Exception):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        codes: list[int | None] = []
        for process in processes:
            with contextlib.suppress(Exception):
                process.join(5)
            codes.append(process.exitcode)
        return codes

    def _run(self, job: tuple[str, str], fn: Callable[..., T], *args: Any) -> T:
        """Runs ``fn(*args)`` in the worker; raises WorkerFailure, or what ``fn`` raised.

        ``job`` names the work in messages: (what it is doing, who does it).
        """
        doing, who = job
        with self._lock:
            if self._closed:
                raise RuntimeError("PdfWorker is closed")
            if self._pool is None:
                self._start()
            assert self._pool is not None
            try:
                future = self._pool.submit(fn, *args)
            except BrokenProcessPool:
                self._kill()
                self._start()
                assert self._pool is not None
                future = self._pool.submit(fn, *args)
            try:
                result = future.result(timeout=self.timeout_seconds)
            except concurrent.futures.TimeoutError:
                self._kill()
                self._start()
                raise WorkerFailure(
                    "timeout",
                    f"{doing} did not finish within {_fmt_seconds(self.timeout_seconds)} "
                    "(the file may be damaged or extremely complex)",
                ) from None
            except BrokenProcessPool:
                codes = self._kill()
                self._start()
                raise WorkerFailure("crash", _crash_message(who, codes, self._limit_text())) from None
            except MemoryError:
                self._kill()
                self._start()
                raise WorkerFailure(
                    "memory",
                    f"{doing} ran out of memory{self._limit_text()}; the file may be damaged or extremely complex",
                ) from None
            except BaseException:
                self._recycle_if_big()
                raise
            self._recycle_if_big()
            return result

    def _recycle_if_big(self) -> None:
        if any(_rss_bytes(pid) > RECYCLE_RSS_BYTES for pid in self._worker_pids()):
            pool, self._pool = self._pool, None
            if pool is not None:
                pool.shutdown(wait=False)
            self._start()


def _crash_message(who: str, codes: Sequence[int | None], limit_text: str) -> str:
    signals = [-c for c in codes if c is not None and c < 0]
    if 9 in signals:
        return f"{who} crashed: its process was killed (signal 9), probably because it ran out of memory{limit_text}"
    if signals:
        return f"{who} crashed: its process was killed by signal {signals[0]}"
    exits = [c for c in codes if c is not None]
    if exits:
        return f"{who} crashed: its process ended unexpectedly (exit code {exits[0]})"
    return f"{who} crashed: its process ended unexpectedly"


def _sha256_or_empty(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return ""


def _remove_temp_files(dest: str) -> None:
    """Removes temp files a killed worker left for ``dest`` (".<name>.<random>.tmp")."""
    target = Path(dest).absolute()
    with contextlib.suppress(OSError):
        for leftover in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()
