"""The Prometheus exposition against what docs/service.md says of each metric."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from spo_hotfolder.metrics import PrometheusMetrics

REPO = Path(__file__).resolve().parents[2]


class _Ledger:
    def counts_by_status(self) -> dict[str, int]:
        return {}

    def counts_by_stage(self) -> dict[str, int]:
        return {}

    def count_blocked(self) -> int:
        return 0


def documented_types() -> dict[str, str]:
    """docs/service.md's metrics table: name (as in the text exposition, without labels) -> type."""
    text = (REPO / "docs" / "service.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(spo_hotfolder_[a-z_]+)(?:\{[^}]*\})?` \| (\w+) \|", text, re.MULTILINE)
    assert len(rows) > 10, rows
    return dict(rows)


def _daemon() -> Any:
    """What PrometheusMetrics reads of the daemon: one hot folder, healthy, an empty ledger."""
    return SimpleNamespace(
        config=SimpleNamespace(hot_folders={"indigo": None}),
        healthy=lambda: (True, "ok"),
        watcher=None,
        ledger=_Ledger(),
        refusals_in_failed=lambda: 2,
    )


def exposed_types() -> dict[str, str]:
    """Each metric of the text exposition (what Prometheus scrapes): sample name -> its # TYPE."""
    metrics = PrometheusMetrics(_daemon())
    text = generate_latest(metrics.registry).decode()
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        if family.name.endswith("_created"):
            continue  # the client library's creation time of each counter and histogram
        names = {sample.name for sample in family.samples} or {family.name}
        if family.type == "counter":
            names = {f"{family.name}_total"}
        elif family.type == "histogram":
            names = {family.name}
        for name in names:
            types[name] = family.type
    return types


def test_every_documented_metric_is_exposed_with_the_documented_type() -> None:
    exposed = exposed_types()
    documented = documented_types()
    assert {name: exposed.get(name) for name in documented} == documented
    assert sorted(exposed) == sorted(documented), "every metric exposed is documented"


def test_a_busy_metrics_port_is_tried_again_until_it_is_free() -> None:
    """Audit 12-05 B: the daemon no longer refuses to start on a busy port (printing matters more
    than its monitoring); the address is tried again in the background, and served once free."""
    import socket
    import time
    import urllib.request

    from structlog.testing import capture_logs

    from spo_hotfolder.config import MetricsConfig

    metrics = PrometheusMetrics(_daemon())
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    listen = f"127.0.0.1:{busy.getsockname()[1]}"
    try:
        with capture_logs() as logs:
            metrics.start(MetricsConfig(listen=listen), retry_seconds=0.05)
            time.sleep(0.2)  # (a few tries, all refused)
            assert [e["event"] for e in logs] == ["metrics.unavailable"]
            busy.close()
            deadline = time.monotonic() + 10
            while not any(e["event"] == "metrics.listening" for e in logs) and time.monotonic() < deadline:
                time.sleep(0.02)
        assert [e["event"] for e in logs] == ["metrics.unavailable", "metrics.listening"]
        with urllib.request.urlopen(f"http://{listen}/metrics", timeout=5) as response:
            assert b"spo_hotfolder_deliveries" in response.read()
    finally:
        busy.close()
        metrics.stop()
    assert metrics._retry is None and metrics._server is None


def test_stalled_scrapers_are_bounded_and_dropped_and_head_is_answered(monkeypatch: Any) -> None:
    """Audit (2026-12-05 M): connections that sent half a request were kept for ever, a thread and
    a file handle each: ~1,000 of them stopped the intake ("Too many open files"). At most
    MAX_CLIENTS are served at once (more are closed at once), a stalled one is dropped after
    CLIENT_SECONDS, and HEAD is answered as GET without a body (it was 405 with a body)."""
    import socket
    import time
    import urllib.request

    from spo_hotfolder import metrics as metrics_module

    monkeypatch.setattr(metrics_module._Handler, "timeout", 0.5)
    metrics, listen = _served()
    host, port = listen.split(":")
    stalled = []
    try:
        for _ in range(metrics_module.MAX_CLIENTS + 8):
            client = socket.create_connection((host, int(port)), timeout=5)
            client.sendall(b"GET /metrics HTTP/1.1\r\nHo")
            stalled.append(client)
        time.sleep(0.2)
        over = stalled[-1]
        over.settimeout(2)
        assert over.recv(100) == b"", "one over the limit is closed at once"
        time.sleep(0.8)  # the stalled ones are dropped after the client timeout
        assert stalled[0].recv(100) == b""
        with urllib.request.urlopen(f"http://{listen}/metrics", timeout=5) as response:
            assert b"spo_hotfolder_deliveries" in response.read()
        request = urllib.request.Request(f"http://{listen}/metrics", method="HEAD")
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - http, built here
            assert response.status == 200 and response.read() == b""
            assert int(response.headers["Content-Length"]) > 100
            assert response.headers["Content-Type"].startswith("text/plain")
    finally:
        for client in stalled:
            client.close()
        metrics.stop()


def test_a_scraper_trickling_a_byte_now_and_then_is_dropped_all_the_same(monkeypatch: Any) -> None:
    """Audit DB 2: a client sending a byte every few seconds never let a read time out, and held its
    slot for as long as it liked (sixteen of them: Prometheus saw the daemon down). The whole
    scrape has CLIENT_SECONDS."""
    import socket
    import time

    from spo_hotfolder import metrics as metrics_module

    monkeypatch.setattr(metrics_module._Handler, "timeout", 0.6)
    monkeypatch.setattr(metrics_module, "CLIENT_SECONDS", 1.0)
    metrics, listen = _served()
    host, port = listen.split(":")
    client = socket.create_connection((host, int(port)), timeout=5)
    try:
        dropped_after = None
        began = time.monotonic()
        for byte in b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 40:
            try:
                client.sendall(bytes([byte]))
            except OSError:
                dropped_after = time.monotonic() - began
                break
            time.sleep(0.2)  # (each byte well within the read's time-out)
        else:
            client.settimeout(2)
            assert client.recv(100) == b""
            dropped_after = time.monotonic() - began
        assert dropped_after is not None and dropped_after < 6
    finally:
        client.close()
        metrics.stop()


def _served() -> tuple[PrometheusMetrics, str]:
    """The metrics served on a free port of 127.0.0.1, and that "host:port"."""
    import socket

    from spo_hotfolder.config import MetricsConfig

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    listen = f"127.0.0.1:{probe.getsockname()[1]}"
    probe.close()
    metrics = PrometheusMetrics(_daemon())
    metrics.start(MetricsConfig(listen=listen))
    return metrics, listen


def test_an_accept_header_the_exposition_cannot_read_is_answered_in_plain_text(capfd: Any) -> None:
    """Review DY 2: `Accept: text/plain; version=abc` (prometheus_client raises on the version) was an
    HTTP 500 and wsgiref's 17-line traceback on stderr, where every line must be JSON."""
    import urllib.request

    metrics, listen = _served()
    try:
        request = urllib.request.Request(f"http://{listen}/metrics", headers={"Accept": "text/plain; version=abc"})
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - http, built here
            assert response.status == 200 and b"spo_hotfolder_deliveries" in response.read()
    finally:
        metrics.stop()
    assert "Traceback" not in capfd.readouterr().err


def test_a_scrape_whose_gathering_fails_is_an_http_500_and_a_log_line_not_a_traceback(capfd: Any) -> None:
    """(Review DY 2, the rest of it) a collector that raises while a scrape gathers the metrics made
    wsgiref print its traceback on stderr, where every line must be JSON."""
    import socket
    import urllib.error
    import urllib.request

    from structlog.testing import capture_logs

    from spo_hotfolder.config import MetricsConfig

    daemon = _daemon()
    calls: list[int] = []
    daemon.refusals_in_failed = lambda: calls.append(1) or 1 / 0
    metrics = PrometheusMetrics(daemon)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    listen = f"127.0.0.1:{probe.getsockname()[1]}"
    probe.close()
    metrics.start(MetricsConfig(listen=listen))
    try:
        with capture_logs() as logs:
            request = urllib.request.Request(f"http://{listen}/metrics", headers={"Accept": "text/plain"})
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(request, timeout=5)  # noqa: S310 - http, built here
            assert info.value.code == 500
            info.value.close()
        assert [e["error"] for e in logs if e["event"] == "metrics.scrape_failed"] == [
            "ZeroDivisionError: division by zero"
        ]
        # (review EE 4: gathered once, not again as if the Accept header were to blame)
        assert len(calls) == 1 and not [e for e in logs if e["event"] == "metrics.accept_unreadable"]
    finally:
        metrics.stop()
    assert "Traceback" not in capfd.readouterr().err


def test_a_name_with_both_loopbacks_is_served_on_the_ipv4_one(monkeypatch: Any) -> None:
    """Review HH 1: `metrics.listen: localhost:9464` on Debian's /etc/hosts (::1 listed first) served
    ::1 alone: a probe or a Prometheus target written 127.0.0.1:9464 found nothing."""
    import socket
    import urllib.request

    from prometheus_client import CollectorRegistry

    from spo_hotfolder import metrics as metrics_module

    real = socket.getaddrinfo

    def resolved(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        if host != "localhost":
            return real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(metrics_module.socket, "getaddrinfo", resolved)
    server, thread = metrics_module._start_server("localhost", 0, CollectorRegistry())
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            assert answer.status == 200
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
