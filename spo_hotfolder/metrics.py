"""Prometheus metrics on ``metrics.listen`` (off by default): what a monitoring system scrapes.

Two kinds of numbers:
- counters and histograms fed by the engine through its ``Metrics`` protocol (deliveries and failed
  copy attempts per hot folder, every status change, preflight/output/copy durations);
- gauges read at scrape time by a collector (jobs per status and per stage from the ledger, watcher
  mode and health, age of the last watcher event). The ledger takes its own lock, so reading it from
  the HTTP server's thread while the engine thread writes is safe.

A private ``CollectorRegistry`` is used, not the library's global one, so nothing else leaks in and
tests can start several daemons in one process.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from spo_hotfolder import __version__
from spo_hotfolder.config import MetricsConfig
from spo_hotfolder.ledger import Stage
from spo_hotfolder.status import JobStatus

if TYPE_CHECKING:
    from spo_hotfolder.service import Daemon

log = structlog.get_logger("spo_hotfolder.metrics")

PREFIX = "spo_hotfolder"
#: PDF work takes from milliseconds (a byte copy) to minutes (a 1 GB poster).
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


#: While ``metrics.listen`` cannot be served, it is tried again this often.
RETRY_SECONDS = 60.0
#: A scrape connection that sends nothing (or reads nothing) this long is closed, and no more than
#: ``MAX_CLIENTS`` are served at once (more are closed at once): stalled clients must never hold
#: the daemon's file handles (audit 12-05 M: ~1,000 of them stopped the intake at the default
#: limit of 1,024 open files). The listen queue holds ``BACKLOG`` waiting connections.
CLIENT_SECONDS = 10.0
MAX_CLIENTS = 16
BACKLOG = 64


class _Handler(WSGIRequestHandler):
    """One scrape: no access log; a client that stalls is dropped after ``CLIENT_SECONDS``."""

    timeout = CLIENT_SECONDS

    def log_message(self, format: str, *args: Any) -> None:
        """Nothing: a scrape every few seconds is no news."""

    def handle(self) -> None:
        # A client that sends a byte now and then never lets one read time out: the whole scrape
        # has CLIENT_SECONDS, then its connection is shut (white-box audit DB 2: sixteen such
        # clients held every slot, and Prometheus saw the daemon down).
        cut = threading.Timer(CLIENT_SECONDS, self._cut)
        cut.daemon = True
        cut.start()
        try:
            with contextlib.suppress(OSError):  # (a timeout, a reset: the client's loss, not an error of ours)
                super().handle()
        finally:
            cut.cancel()

    def _cut(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingMixIn, WSGIServer):
    """A thread per scrape, at most ``MAX_CLIENTS`` at once."""

    daemon_threads = True
    request_queue_size = BACKLOG

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # too many at once: this one is closed, not queued
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("metrics.request_failed", client=str(client_address))


def _with_head(app: Callable[..., Any]) -> Callable[..., Any]:
    """The exposition app, answering HEAD as GET without the body (an HTTP check's probe), and an
    ``Accept`` header it cannot read (``text/plain; version=abc``: prometheus_client raises) with the
    plain text format (review DY 2: an HTTP 500 and wsgiref's 17-line traceback on stderr, where
    every line must be JSON)."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        accept = environ.get("HTTP_ACCEPT")
        if accept is not None:
            try:
                choose_encoder(str(accept))
            except Exception:  # noqa: BLE001 - the plain text format, as without the header
                log.debug("metrics.accept_unreadable", accept=str(accept)[:200])
                environ = {key: value for key, value in environ.items() if key != "HTTP_ACCEPT"}
        try:
            return app(environ, start_response)
        except Exception as exc:  # noqa: BLE001 - answered below, said in the log as one JSON line
            # Anything that fails while the metrics are gathered (a collector that raises): an
            # HTTP 500 and a log line, never wsgiref's traceback on stderr.
            log.warning("metrics.scrape_failed", error=f"{type(exc).__name__}: {exc}")
            start_response("500 Internal Server Error", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"the metrics could not be gathered: the daemon's log says why\n"]

    def head_too(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") != "HEAD":
            return guarded(environ, start_response)
        said: list[Any] = []

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            said[:] = [status, headers]
            return lambda _data: None

        body = b"".join(guarded({**environ, "REQUEST_METHOD": "GET"}, keep))
        start_response(said[0], [*said[1], ("Content-Length", str(len(body)))])
        return []

    return head_too


def _start_server(host: str, port: int, registry: CollectorRegistry) -> tuple[WSGIServer, threading.Thread]:
    """Serves ``registry``'s exposition on ``host:port`` (IPv4 or IPv6, as the address is) from a
    thread of its own. A name with addresses of both (``localhost``: 127.0.0.1 and ::1) is served
    on its IPv4 one, as exporters do (review HH 1: ::1 alone, listed first, and a probe of
    127.0.0.1:9464 found nothing); a client given the name tries both."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, sockaddr = next((info for info in found if info[0] == socket.AF_INET), found[0])

    class Server(_Server):
        address_family = family

    server = make_server(str(sockaddr[0]), port, _with_head(make_wsgi_app(registry)), Server, handler_class=_Handler)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    return server, thread


class PrometheusMetrics:
    """The engine's ``Metrics`` (counters, histograms) plus an HTTP endpoint serving them."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon
        self._started = time.monotonic()
        self._last_event: float | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._retry: threading.Thread | None = None  # tries the address again while it cannot be served
        self._stopping = threading.Event()
        self.registry = CollectorRegistry()
        registry = self.registry
        self.deliveries = Counter(
            f"{PREFIX}_deliveries",
            "Outputs copied into a hot folder (status InHotFolder), per hot folder.",
            ["hot_folder"],
            registry=registry,
        )
        self.delivery_failures = Counter(
            f"{PREFIX}_delivery_failures",
            "Failed copy attempts (status CopyToHotFolderFailed), per hot folder; each one is retried "
            "until delivery.max_attempts.",
            ["hot_folder"],
            registry=registry,
        )
        self.skipped = Counter(
            f"{PREFIX}_deliveries_skipped",
            "Jobs a route sent to no hot folder (status CopyToHotFolderSkipped).",
            registry=registry,
        )
        self.status_changes = Counter(
            f"{PREFIX}_status_changes",
            "Status history entries recorded since the daemon started, per SPO status.",
            ["status"],
            registry=registry,
        )
        self.preflight_seconds = Histogram(
            f"{PREFIX}_preflight_duration_seconds",
            "Time to preflight one job's artwork.",
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.output_seconds = Histogram(
            f"{PREFIX}_output_duration_seconds",
            "Time to generate one job's print-ready output PDF.",
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.copy_seconds = Histogram(
            f"{PREFIX}_copy_duration_seconds",
            "Time to copy one output into a hot folder (temp name, fsync, rename), per hot folder.",
            ["hot_folder"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.events_lost = Counter(
            f"{PREFIX}_watcher_events_lost",
            "Overflows of the kernel's inotify queue (fs.inotify.max_queued_events): events were dropped, "
            "and the daemon looked through its folders again at once.",
            registry=registry,
        )
        self.add_hot_folders(daemon.config.hot_folders)
        registry.register(_StateCollector(self))

    def add_hot_folders(self, names: Iterable[str]) -> None:
        """The per-hot-folder counters of ``names`` at 0 (those of the config at start, then those a
        reload adds), so that rate() and alerts work before a hot folder's first delivery."""
        for name in names:
            self.deliveries.labels(hot_folder=name)
            self.delivery_failures.labels(hot_folder=name)

    # -- engine.Metrics ---------------------------------------------------------------------------

    def status_recorded(self, status: JobStatus, hot_folder: str | None) -> None:
        self.status_changes.labels(status=status.value).inc()
        if status is JobStatus.InHotFolder:
            self.deliveries.labels(hot_folder=hot_folder or "").inc()
        elif status is JobStatus.CopyToHotFolderFailed:
            self.delivery_failures.labels(hot_folder=hot_folder or "").inc()
        elif status is JobStatus.CopyToHotFolderSkipped:
            self.skipped.inc()

    def observe(self, what: str, seconds: float, hot_folder: str | None = None) -> None:
        if what == "preflight":
            self.preflight_seconds.observe(seconds)
        elif what == "output":
            self.output_seconds.observe(seconds)
        elif what == "copy":
            self.copy_seconds.labels(hot_folder=hot_folder or "").observe(seconds)

    def watcher_event(self) -> None:
        # Called from the watcher thread for every event: one assignment, nothing else.
        self._last_event = time.monotonic()

    # -- the HTTP endpoint ------------------------------------------------------------------------

    def start(self, metrics_config: MetricsConfig, retry_seconds: float = RETRY_SECONDS) -> None:
        """Serves ``/metrics`` on ``metrics.listen``. Where it cannot (the port in use, an address
        this machine does not have yet), it says so in the log and tries again every
        ``retry_seconds`` in the background: the metrics are for watching the daemon, and a busy
        port must not stop the printing (audit 12-05 B: the start was refused, and systemd's
        restarts of a refused start end with the service stopped)."""
        address = metrics_config.address()
        if address is None:
            return
        reason = self._serve(address, metrics_config.listen)
        if reason is None:
            return
        log.error(
            "metrics.unavailable",
            listen=metrics_config.listen,
            reason=f"cannot serve metrics there: {reason}; tried again every {retry_seconds:g} s, and the jobs are "
            "not affected",
        )
        self._retry = threading.Thread(
            target=self._serve_later,
            args=(address, metrics_config.listen, retry_seconds),
            name="metrics-retry",
            daemon=True,
        )
        self._retry.start()

    def _serve(self, address: tuple[str, int], listen: str | None) -> str | None:
        """Serves on ``address``; None when it does, else why it cannot, in words."""
        host, port = address
        try:
            self._server, self._thread = _start_server(host, port, self.registry)
        except (OSError, UnicodeError) as exc:  # (UnicodeError: a host name IDNA cannot encode)
            if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
                return "the port is already in use (another spo-hotfolder, or another exporter?)"
            return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
        log.info(
            "metrics.listening", listen=listen, address=self._server.server_address[0], url=f"http://{listen}/metrics"
        )
        return None

    def _serve_later(self, address: tuple[str, int], listen: str | None, retry_seconds: float) -> None:
        while not self._stopping.wait(retry_seconds):
            if self._serve(address, listen) is None:
                return

    def stop(self) -> None:
        self._stopping.set()
        if self._retry is not None:
            self._retry.join(timeout=5)
            self._retry = None
        server, self._server = self._server, None
        if server is None:
            return
        with contextlib.suppress(Exception):
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # -- read at scrape time ----------------------------------------------------------------------

    def last_event_age(self) -> float:
        """Seconds since the watcher last reported an event (since start when it has not yet)."""
        return time.monotonic() - (self._last_event if self._last_event is not None else self._started)


class _StateCollector:
    """Gauges computed when Prometheus scrapes: from the ledger and the daemon's threads."""

    def __init__(self, metrics: PrometheusMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        daemon = self._metrics._daemon
        info = InfoMetricFamily(f"{PREFIX}_build", "The daemon's version.")
        info.add_metric([], {"version": __version__})
        yield info

        ok, _reason = daemon.healthy()
        yield GaugeMetricFamily(
            f"{PREFIX}_healthy",
            "1 when the folder watcher, the scheduler and the engine thread all run (the systemd watchdog "
            "is pinged only then).",
            value=1 if ok else 0,
        )
        watcher = daemon.watcher
        alive = watcher is not None and watcher.is_alive()
        yield GaugeMetricFamily(
            f"{PREFIX}_watcher_up", "1 when the folder watcher's thread is alive.", value=int(alive)
        )
        mode = GaugeMetricFamily(
            f"{PREFIX}_watcher_mode", "The folder watcher's mode: native (inotify) or polling.", labels=["mode"]
        )
        current = watcher.mode if watcher is not None else "none"
        for name in ("native", "polling"):
            mode.add_metric([name], 1 if current == name else 0)
        yield mode
        yield GaugeMetricFamily(
            f"{PREFIX}_watcher_last_event_age_seconds",
            "Seconds since the watcher last reported a change in a watched folder (since start if none).",
            value=round(self._metrics.last_event_age(), 3),
        )

        ledger = daemon.ledger
        if ledger is None:
            return
        try:
            statuses = ledger.counts_by_status()
            stages = ledger.counts_by_stage()
            blocked = ledger.count_blocked()
        except (sqlite3.Error, OSError) as exc:
            # Closing at shutdown, or the disk is in trouble: the scrape still answers, without these.
            log.warning("metrics.ledger_unreadable", reason=str(exc))
            return
        by_status = GaugeMetricFamily(f"{PREFIX}_jobs", "Jobs in the ledger per current SPO status.", labels=["status"])
        for status in JobStatus:
            by_status.add_metric([status.value], statuses.get(status.value, 0))
        yield by_status
        by_stage = GaugeMetricFamily(
            f"{PREFIX}_jobs_by_stage",
            "Jobs in the ledger per pipeline stage (retry = waiting for another copy attempt).",
            labels=["stage"],
        )
        for stage in Stage:
            by_stage.add_metric([stage.value], stages.get(stage.value, 0))
        yield by_stage
        yield GaugeMetricFamily(
            f"{PREFIX}_jobs_blocked", "Jobs whose Blocked status is active (waiting for an operator).", value=blocked
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_failed_refusals",
            "Refused manifests and files set aside in failed/ (each with its ERROR.txt): no jobs, and waiting "
            "for an operator as failed jobs do.",
            value=daemon.refusals_in_failed(),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_jobs_waiting_retry",
            "Jobs whose copy (or output, on a full spool disk) failed and that wait for their next attempt.",
            value=stages.get(Stage.RETRY.value, 0),
        )
