"""Logging: structlog for our events, the libraries' stdlib logs routed through the same renderer.

``format: auto`` renders for people on a terminal and one JSON object per line otherwise (journald,
log shippers). Logs go to stdout (journald under systemd), so stderr only carries the one-line
error of a refusal to start. Everything that could print on its own is routed through the same
renderer: stdlib logging (pypdf, watchdog, apscheduler), Python warnings, uncaught exceptions in any
thread, and the PDF worker processes (``setup_worker_logging``). Tracebacks are rendered without
local variables (they may hold customer data, and they make lines huge).
"""

from __future__ import annotations

import json
import logging
import os
import re
import select
import stat
import sys
import threading
from collections.abc import MutableMapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
#: Set by ``setup_logging`` so that worker processes render their logs the same way.
ENV_WORKER = "SPO_HOTFOLDER_WORKER_LOG"


#: journald splits a line longer than its LineMax (48K by default; TECH-NOTES), and the pieces of a
#: JSON object are no JSON: a longer line (a config with hundreds of errors, all listed) is shortened.
LINE_MAX_BYTES = 40_000
#: What a shortened line keeps: the first items of a list, the beginning of a text.
KEPT_ITEMS = 20
KEPT_CHARS = 2_000


def _json_line(obj: Any, **kwargs: Any) -> str:
    """One JSON line in UTF-8 even when a value holds a file name that was not UTF-8 (its bytes,
    kept by Python as lone surrogates, are written as \\udcNN escapes, not as raw bytes); one that
    fits in a journal line (``LINE_MAX_BYTES``)."""
    text = json.dumps(obj, **kwargs)
    if (
        isinstance(obj, dict)  # (an event: what the renderer hands over)
        and len(text) > LINE_MAX_BYTES // 4
        and len(text.encode("utf-8", "surrogatepass")) > LINE_MAX_BYTES
    ):
        text = json.dumps(_shortened(obj, len(text)), **kwargs)
    if _UNICODE_LINE_BREAKS.search(text):
        # Valid JSON as they are, but a reader that splits lines the Unicode way (Python's
        # splitlines, many log viewers) cut the line in two at them (review GE 3: a file named
        # "Flyer<U+2028>final.pdf").
        text = _UNICODE_LINE_BREAKS.sub(lambda m: f"\\u{ord(m[0]):04x}", text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


#: Characters JSON leaves as they are that end a line for Unicode (NEL, LINE and PARAGRAPH SEPARATOR).
_UNICODE_LINE_BREAKS = re.compile("[\x85\u2028\u2029]")
#: In the console's lines, characters a terminal acts on (escape sequences, bidi overrides): shown
#: escaped, never sent as they are (review GE 4: a file name retitled and cleared the terminal).
_TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > KEPT_CHARS:
        return f"{value[:KEPT_CHARS]}... ({len(value)} characters, cut to fit a log line)"
    if isinstance(value, (list, tuple)):
        kept = [_cut(item) for item in value[:KEPT_ITEMS]]
        if len(value) > KEPT_ITEMS:
            kept.append(f"... and {len(value) - KEPT_ITEMS} more (cut to fit a log line)")
        return kept
    if isinstance(value, dict):
        text = json.dumps(value, default=str)
        return _cut(text) if len(text) > KEPT_CHARS else value
    return value


def _shortened(obj: dict[str, Any], length: int) -> dict[str, Any]:
    """``obj`` (an event) with its long values cut, and said; only its names if that is not enough."""
    short = {key: _cut(value) for key, value in obj.items()}
    if len(json.dumps(short, default=str).encode("utf-8", "surrogatepass")) <= LINE_MAX_BYTES:
        return short
    kept: dict[str, Any] = {key: obj[key] for key in ("timestamp", "level", "logger", "event") if key in obj}
    kept["cut"] = f"the event's {len(obj)} fields ({length} characters) do not fit in a log line"
    return kept


def _python_warning(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A Python warning (``logging.captureWarnings``) comes as its whole text, several lines with
    the file and line, as the event: an event name of its own, the text in ``message`` (audit P)."""
    if event.get("logger") == "py.warnings":
        event["message"] = " ".join(str(event.get("event", "")).split())
        event["event"] = "python.warning"
    return event


#: The lock of every ``_LineHandler`` (``createLock``).
_WRITE_LOCK = threading.RLock()


class _LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """logging's StreamHandler, but a stream that cannot be written (its reader gone: a broken
    pipe; a full disk under a file) is no flood of logging's own "--- Logging error ---"
    tracebacks on stderr, one a line (audit Y 1): the lines are dropped, said once on stderr as one
    JSON line. A broken pipe is then written to /dev/null (its reader never comes back), so that
    Python's last flush at exit has nothing to complain about either."""

    said = False
    cut = False  # a line may have been written in part (a full disk under a log file)

    def createLock(self) -> None:
        # One lock for every handler of this process: a reload's new handler wrote a line while the
        # old one, in another thread, was in the middle of one, and Python's stdout put the new
        # line inside the old (review GE 1: a preflight's long warnings line cut by config.reloaded).
        self.lock = _WRITE_LOCK

    def emit(self, record: logging.LogRecord) -> None:
        if self.cut:
            self.cut = False
            self._end_cut_line()
        super().emit(record)

    def write_line(self, text: str) -> None:
        """``text`` (a line rendered elsewhere) and a line break, as ``emit`` writes a record's."""
        with self.lock:  # type: ignore[union-attr]  # (logging.Handler's, made by createLock)
            if self.cut:
                self.cut = False
                self._end_cut_line()
            try:
                self.stream.write(text + self.terminator)
                self.flush()
            except OSError as exc:
                self._failed(exc)

    def _end_cut_line(self) -> None:
        """After lines were dropped (a full disk under a log file): the part of one the disk took
        is ended, so that the next line is a line of its own (review DY 3: it was glued to that
        part, and the file had a line no JSON reader reads)."""
        try:
            self.stream.flush()
            fd = self.stream.fileno()
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return
            with open(f"/proc/self/fd/{fd}", "rb") as written:  # (stdout is opened for writing only)
                end = written.seek(0, os.SEEK_END)
                if end:
                    written.seek(end - 1)
                    if written.read(1) != b"\n":
                        self.stream.write("\n")
        except (OSError, ValueError, AttributeError):
            return

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            super().handleError(record)
            return
        self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        self.cut = True
        if isinstance(exc, BrokenPipeError):
            self._to_devnull()
        if not self.said:
            self.said = True
            _say_on_stderr(
                self.stream,
                "log.output_failed",
                f"the log output cannot be written ({type(exc).__name__}: {exc}): its lines are dropped",
            )

    def _to_devnull(self) -> None:
        try:
            fd = self.stream.fileno()
            null = os.open(os.devnull, os.O_WRONLY)
        except (OSError, ValueError, AttributeError):
            return
        try:
            os.dup2(null, fd)
        except OSError:
            pass
        finally:
            os.close(null)


def error_line(event: str, message: str, *, logger: str = "spo_hotfolder", **fields: str) -> str:
    """An error said outside the log (its stream not set up, or not there), as one JSON line of the
    log's form: level, logger and time stamp as the log's lines have them."""
    line = {
        **fields,
        "event": event,
        "level": "error",
        "logger": logger,
        "message": message,
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),  # (as structlog's TimeStamper)
    }
    return json.dumps(line, ensure_ascii=False)


def _say_on_stderr(stream: Any, event: str, message: str) -> None:
    """One JSON line on stderr, if it is not ``stream`` itself and can be written."""
    err = sys.stderr
    if err is None or err is stream:
        return
    try:
        err.write(error_line(event, message) + "\n")
        err.flush()
    except (OSError, ValueError):
        pass


def _shown_plainly(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The console's values with the characters a terminal acts on escaped (``_TERMINAL_CONTROLS``)."""
    for key, value in event.items():
        if isinstance(value, str) and key not in ("exception", "stack") and _TERMINAL_CONTROLS.search(value):
            event[key] = _TERMINAL_CONTROLS.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), value)
    return event


def setup_logging(
    level: str = "info", fmt: str = "auto", stream: TextIO | None = None, *, colors: bool | None = None
) -> None:
    """The log's renderer (``fmt``: auto, json or console; ``colors``: the console's, by default
    whether ``stream`` is a terminal) and level, for structlog and stdlib logging alike."""
    # (stdout closed at start, `run >&-`: Python's sys.stdout is None; stderr, or nowhere, then)
    stream = stream or sys.stdout or sys.stderr or open(os.devnull, "w")  # noqa: SIM115 - for the process's life
    use_console = fmt == "console" or (fmt == "auto" and stream.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any
    colors = use_console and (stream.isatty() if colors is None else colors)
    if use_console:
        renderer = structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=structlog.dev.plain_traceback)
        tail: list[Any] = [_shown_plainly]
    else:
        renderer = structlog.processors.JSONRenderer(serializer=_json_line, ensure_ascii=False)
        # structlog's ready-made ``dict_tracebacks`` shows local variables: not wanted here.
        tail = [
            structlog.processors.ExceptionRenderer(structlog.tracebacks.ExceptionDictTransformer(show_locals=False))
        ]
    structlog.configure(
        processors=[
            # First: a call below the configured level costs one check, not the whole chain.
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,  # the processors are the same on every call of setup_logging
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _python_warning],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *tail,
            renderer,
        ],
    )
    handler = _LineHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(PDF_READER_FLOOD)
    root = logging.getLogger()
    # One swap: a line another thread logs during a reload's new setup goes through the old handler
    # or the new one (review DY 5: between a removal and an addition it went to Python's last-resort
    # handler, not as JSON, or nowhere).
    root.handlers = [handler]
    root_level = _LEVELS.get(level.lower(), logging.INFO)
    root.setLevel(root_level)
    # The libraries are chatty: at info, only their warnings; at debug, everything; at error, as ours.
    for name in ("watchdog", "apscheduler", "pypdf", "PIL"):
        logging.getLogger(name).setLevel(
            logging.DEBUG if root_level == logging.DEBUG else max(root_level, logging.WARNING)
        )
    logging.captureWarnings(True)
    shown = ("console+colors" if colors else "console") if use_console else "json"
    os.environ[ENV_WORKER] = f"{shown}:{level.lower()}"

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        structlog.get_logger("spo_hotfolder").error(
            "thread.crashed",
            thread=args.thread.name if args.thread else None,
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )

    def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        structlog.get_logger("spo_hotfolder").critical("daemon.crashed", exc_info=(exc_type, exc, tb))

    threading.excepthook = thread_excepthook
    sys.excepthook = excepthook


class _PdfReaderFlood(logging.Filter):
    """At most ``limit`` of pypdf's lines per PDF worker call: a damaged file can make it warn once
    for each of thousands of objects ("Object 17 0 not defined."). The rest are counted and said in
    one line once the call is done (``take``, by the worker). Only what is written is limited:
    preflight still sees every warning (it listens on pypdf's logger)."""

    limit = 20

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("pypdf"):
            return True
        self.seen += 1
        if self.seen <= self.limit:
            return True
        self.dropped += 1
        return False

    def take(self) -> int:
        """The lines left out since the last call, and a fresh count."""
        dropped, self.seen, self.dropped = self.dropped, 0, 0
        return dropped


PDF_READER_FLOOD = _PdfReaderFlood()


def worker_log_setting() -> str | None:
    """The renderer and level that ``setup_logging`` last set in this process, for a PDF worker.

    It is handed to each worker as an argument: the fork server that forks the workers may have
    started before ``setup_logging`` ran (``spo-hotfolder run`` starts it first), so the
    environment it passes on does not have it. When it changes (a reload), ``PdfWorker`` hands its
    next call to a fresh worker, started with the new one.
    """
    return os.environ.get(ENV_WORKER)


def setup_worker_logging(setting: str | None, stream: TextIO | None = None) -> None:
    """In a PDF worker process: the parent's renderer and level (``worker_log_setting``), if set.

    Without it, pypdf's warnings in the worker would reach stderr through logging's last-resort
    handler as plain text lines, breaking "every line is one JSON object". ``stream``: the pipe
    to the daemon's ``WorkerLogRelay``.
    """
    if not setting:
        return
    fmt, _, level = setting.partition(":")
    setup_logging(level or "info", fmt.removesuffix("+colors"), stream, colors=fmt.endswith("+colors"))


class WorkerLogRelay:
    """The daemon's end of a PDF worker's log pipe: the worker's lines, written to the daemon's
    log stream one whole line at a time, by the daemon alone (review GE 1: both processes wrote to
    one stdout, and a line longer than a pipe takes at once, 4 KiB, had the other's line written
    into its middle; GE 2: a worker killed in the middle of a line had the daemon's next line
    glued to its part). A thread copies what comes; ``drain`` copies at once what the worker wrote
    before an answer the daemon has received, so that its lines come before the daemon's about it."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        os.set_blocking(fd, False)
        self._lock = threading.Lock()
        self._part = b""
        self._done = False
        threading.Thread(target=self._copy, name="pdf-worker-log", daemon=True).start()

    def drain(self) -> None:
        """Copies what the worker has written so far (never waits for more)."""
        with self._lock:
            self._read()

    def _copy(self) -> None:
        # poll(), not select(): select refuses a descriptor above 1,023, and the daemon may have
        # more open (review GM 1: the worker's lines were lost, and a later drain read the number
        # once another file had it).
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        try:
            while not self._done:  # (at its end the pipe stays readable: the loop ends at once)
                poller.poll()
                self.drain()
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:  # (no drain reads it from now on)
                self._done = True
                os.close(self._fd)  # (here only: a number closed elsewhere could be another file's by now)

    def _read(self) -> None:
        """(lock held) Reads what is there; at its end (the worker gone), says a line it cut short."""
        while not self._done:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._done = True
                if self._part:
                    structlog.get_logger("spo_hotfolder.pdfwork").warning(
                        "pdf_worker.log_line_cut",
                        reason="the PDF worker process ended in the middle of writing a log line; its part follows",
                        part=self._part[:KEPT_CHARS].decode("utf-8", "replace"),
                    )
                return
            *lines, self._part = (self._part + data).split(b"\n")
            for line in lines:
                write_line(line.decode("utf-8", "replace"))


def write_line(text: str) -> None:
    """A line rendered in another process (a PDF worker's), written to the log as a line of its own."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, _LineHandler):
            handler.write_line(text)
            return
