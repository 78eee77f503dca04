"""The systemd notify protocol, and the watchdog policy: ping only while the daemon is healthy."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from spo_hotfolder.clock import SystemClock
from spo_hotfolder.config import load_config
from spo_hotfolder.ledger import Ledger, Stage, ledger_path
from spo_hotfolder.notify import Notifier
from spo_hotfolder.service import Daemon, prepare_folders
from tests.daemon import write_config


@pytest.fixture
def abstract_socket() -> Iterator[tuple[str, socket.socket]]:
    """A datagram socket in the abstract namespace; ``@name`` is how systemd writes such addresses."""
    name = f"spo-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2)
    yield "@" + name, sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def drain(sock: socket.socket) -> list[str]:
    fields: list[str] = []
    sock.settimeout(0)
    while True:
        try:
            fields += received(sock)
        except BlockingIOError:
            break
    sock.settimeout(2)
    return fields


def test_messages_reach_an_abstract_socket(abstract_socket: tuple[str, socket.socket]) -> None:
    address, sock = abstract_socket
    notifier = Notifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "2000000"})
    assert notifier.enabled
    assert notifier.ready("3 jobs waiting")
    assert received(sock) == ["READY=1", "STATUS=3 jobs waiting"]
    assert notifier.status("two\nlines")
    assert received(sock) == ["STATUS=two lines"]  # a newline would start a bogus field
    assert notifier.watchdog()
    assert received(sock) == ["WATCHDOG=1"]
    assert notifier.reloading()
    fields = received(sock)
    assert fields[0] == "RELOADING=1" and fields[1].startswith("MONOTONIC_USEC=")
    assert notifier.reloaded()
    assert received(sock) == ["READY=1"]
    assert notifier.stopping()
    assert received(sock) == ["STOPPING=1"]


def test_messages_reach_a_path_socket(tmp_path: Path) -> None:
    path = f"/tmp/spo-{uuid.uuid4().hex[:12]}.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        sock.settimeout(2)
        assert Notifier({"NOTIFY_SOCKET": path}).stopping("bye")
        assert received(sock) == ["STOPPING=1", "STATUS=bye"]
    finally:
        sock.close()
        Path(path).unlink()


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.watchdog_seconds is None
    assert not notifier.ready("x") and not notifier.watchdog() and not notifier.stopping()


def test_no_watchdog_pings_where_systemd_does_not_watch_this_process(
    abstract_socket: tuple[str, socket.socket],
) -> None:
    """Audit (crashes) 2: WATCHDOG=1 came every 5 s without WATCHDOG_USEC, or with WATCHDOG_PID
    naming another process (sd_watchdog_enabled(3): the watchdog is not ours then)."""
    address, sock = abstract_socket
    for env in ({}, {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"}):
        notifier = Notifier({"NOTIFY_SOCKET": address, **env})
        assert notifier.watchdog() is False
        assert notifier.status("idle")
        assert received(sock) == ["STATUS=idle"]  # (the watchdog ping, had it been sent, came first)


def test_a_vanished_socket_does_not_raise(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone"), "WATCHDOG_USEC": "1000000"})
    assert notifier.enabled
    assert notifier.watchdog() is False


@pytest.mark.parametrize(
    ("env", "seconds"),
    [
        ({"WATCHDOG_USEC": "1000000"}, 1.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval_from_the_environment(env: dict[str, str], seconds: float | None) -> None:
    assert Notifier(env).watchdog_seconds == seconds


# -- the watchdog policy of Daemon.check_health -----------------------------------------------------


class FakeWatcher:
    """A folder watcher whose observer thread is dead, and whose restart fails until allowed."""

    mode = "native"

    def __init__(self) -> None:
        self.alive = False
        self.restart_works = False
        self.restarts = 0

    def is_alive(self) -> bool:
        return self.alive

    def restart(self) -> None:
        self.restarts += 1
        if not self.restart_works:
            raise OSError(28, "inotify watch limit reached")
        self.alive = True

    def try_native(self, *, force: bool = False) -> bool:
        return False  # native already (mode): nothing to go back to

    def fall_back_if_watches_refused(self) -> bool:
        return False  # no watch refused

    def stop(self) -> None:
        self.alive = False


class FakeScheduler:
    running = True

    def shutdown(self, wait: bool = True) -> None:
        self.running = False


class FakeLedger:
    gone: str | None = None

    def replaced_why(self) -> str | None:
        return self.gone


class FakeEngine:
    busy_job: str | None = None
    ledger_damage: str | None = None

    def __init__(self) -> None:
        self.ledger = FakeLedger()
        self.rescans = 0
        self.full = False
        self.arriving = 0
        self.clock = SystemClock()
        self.progress_at = time.monotonic()
        self.unknown_job_folders: list[str] = []

    def job_folders_unknown(self) -> list[str]:
        return self.unknown_job_folders

    def unreadable_folders(self) -> list[str]:
        return []

    def request_rescan(self) -> None:
        self.rescans += 1

    def spool_full(self) -> bool:
        return self.full

    gone: str | None = None

    def spool_problem(self) -> str | None:
        return self.gone

    def files_arriving(self) -> int:
        return self.arriving


@contextlib.contextmanager
def daemon_with_fakes(tmp_path: Path, address: str) -> Iterator[tuple[Daemon, FakeWatcher, FakeEngine]]:
    """A Daemon between start and serve: a real ledger and notifier, a fake watcher and engine, and
    an engine thread that stays alive until the test ends."""
    config = load_config(write_config(tmp_path))
    prepare_folders(config)
    daemon = Daemon(config, notifier=Notifier({"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"}))
    watcher, engine = FakeWatcher(), FakeEngine()
    stop = threading.Event()
    engine_thread = threading.Thread(target=stop.wait, daemon=True)
    engine_thread.start()
    daemon.ledger = Ledger(ledger_path(config))
    daemon.watcher, daemon.engine, daemon.scheduler = watcher, engine, FakeScheduler()  # type: ignore[assignment]
    daemon._engine_thread = engine_thread
    daemon._remember_folders()
    try:
        yield daemon, watcher, engine
    finally:
        stop.set()
        engine_thread.join()
        daemon.ledger.close()


def test_watchdog_pings_stop_while_the_observer_is_dead_and_resume_once_alive(
    tmp_path: Path, abstract_socket: tuple[str, socket.socket]
) -> None:
    address, sock = abstract_socket
    with daemon_with_fakes(tmp_path, address) as (daemon, watcher, engine):
        # Dead, and the restart fails: STATUS says why, no WATCHDOG=1 (systemd will restart us).
        daemon.check_health()
        daemon.check_health()
        fields = drain(sock)
        assert "WATCHDOG=1" not in fields
        statuses = [f for f in fields if f.startswith("STATUS=")]
        assert len(statuses) == 2 and all("UNHEALTHY: the folder watcher is not running" in s for s in statuses)
        assert watcher.restarts == 2
        assert (daemon.config.paths.state / "health.json").read_text().count('"ok": false') == 1

        # The restart works: the pings resume, in the same heartbeat, after the watcher is alive.
        watcher.restart_works = True
        daemon.check_health()
        fields = drain(sock)
        assert fields[0] == "WATCHDOG=1"
        assert fields[1].startswith("STATUS=0 jobs waiting, 0 blocked, 0 failed")
        assert engine.rescans == 1  # events missed while it was dead are caught by a rescan

        # Healthy: one ping per heartbeat, no restart.
        daemon.check_health()
        assert drain(sock).count("WATCHDOG=1") == 1
        assert watcher.restarts == 3


def test_a_full_spool_disk_is_said_in_the_status_line_and_the_pings_go_on(
    tmp_path: Path, abstract_socket: tuple[str, socket.socket]
) -> None:
    """Audit (2026-12-03, robustness 5): with the spool disk full, `systemctl status` showed
    "0 jobs waiting, 0 blocked, 0 failed, 1 done" while manifests waited in the inbox."""
    address, sock = abstract_socket
    with daemon_with_fakes(tmp_path, address) as (daemon, watcher, engine):
        watcher.alive = True
        engine.full = True
        daemon.check_health()
        fields = drain(sock)
        assert fields[0] == "WATCHDOG=1"  # not hung: it goes on by itself once there is space
        assert fields[1] == (
            "STATUS=the spool disk is full: nothing new is taken in until there is space; "
            "0 jobs waiting, 0 blocked, 0 failed, 0 done"
        )
        engine.full = False
        daemon.check_health()
        assert drain(sock)[1] == "STATUS=0 jobs waiting, 0 blocked, 0 failed, 0 done"


def test_job_folders_the_ledger_does_not_know_are_said_but_the_pings_go_on(
    tmp_path: Path, abstract_socket: tuple[str, socket.socket]
) -> None:
    """Audit AE: a ledger put back from an older backup left job folders it does not know, said in
    the log at start only. `systemctl status` and `health` say them; the daemon is not hung (a
    restart would change nothing), so systemd's watchdog is not stopped."""
    address, sock = abstract_socket
    with daemon_with_fakes(tmp_path, address) as (daemon, watcher, engine):
        watcher.alive = True
        engine.unknown_job_folders = ["work/A-1", "quarantine/B-1", "failed/C-1", "failed/D-1"]
        daemon.check_health()
        fields = drain(sock)
        assert fields[0] == "WATCHDOG=1"
        assert fields[1] == (
            "STATUS=4 job folders the ledger does not know (work/A-1, quarantine/B-1, failed/C-1, ...): not "
            "continued; move each folder out of the spool first (keep it), then put its manifest and artwork into "
            "inbox/ again (log "
            "recovery.job_folders_unknown); 0 jobs waiting, 0 blocked, 0 failed, 0 done"
        )
        health = json.loads((daemon.config.paths.state / "health.json").read_text())
        assert health["ok"] is True  # (the daemon's own health: `health` turns it into its answer)
        assert health["unknown_job_folders_count"] == 4 and health["unknown_job_folders"][0] == "work/A-1"
        # (`health` itself: tests/e2e/test_operator.py, a ledger put back from an older backup)
        engine.unknown_job_folders = []
        daemon.check_health()
        assert drain(sock)[1] == "STATUS=0 jobs waiting, 0 blocked, 0 failed, 0 done"
        assert json.loads((daemon.config.paths.state / "health.json").read_text())["unknown_job_folders_count"] == 0


def test_timed_wake_ups_share_a_scheduler_entry_per_quarter_second(
    tmp_path: Path, abstract_socket: tuple[str, socket.socket]
) -> None:
    """A burst of orders left waiting for their artwork made one scheduler entry each, kept until
    its deadline (an hour by default: a long run's memory grew with them, tracemalloc 12-05)."""
    from datetime import UTC, datetime, timedelta

    class Scheduler:
        def __init__(self) -> None:
            self.entries: dict[str, datetime] = {}

        def add_job(self, fn: Any, trigger: str, run_date: datetime, id: str, replace_existing: bool) -> None:
            self.entries[id] = run_date

    address, _sock = abstract_socket
    with daemon_with_fakes(tmp_path, address) as (daemon, _watcher, engine):
        engine.wake = lambda: None  # type: ignore[attr-defined]
        scheduler = Scheduler()
        daemon.scheduler = scheduler  # type: ignore[assignment]
        start = datetime(2026, 12, 5, 10, 0, 0, 100_000, tzinfo=UTC)
        wanted = [start + timedelta(milliseconds=7 * n) for n in range(100)]  # 0.7 s of a burst
        for when in wanted:
            daemon._schedule_wakeup(when)
        assert len(scheduler.entries) == 4  # 10:00:00.25, .5, .75, 10:00:01 (for 100 wake-ups)
        slots = sorted(scheduler.entries.values())
        assert all(any(when <= slot < when + timedelta(seconds=0.25) for slot in slots) for when in wanted)


def test_files_seen_and_not_taken_in_yet_are_said_in_the_status_line(
    tmp_path: Path, abstract_socket: tuple[str, socket.socket]
) -> None:
    """Audit (2026-12-05 G): with 5,000 manifests waiting in the inbox at start, `systemctl status`
    said "0 jobs waiting" (a job is counted once its manifest is taken in)."""
    address, sock = abstract_socket
    with daemon_with_fakes(tmp_path, address) as (daemon, watcher, engine):
        watcher.alive = True
        engine.arriving = 5000
        daemon.check_health()
        assert drain(sock)[1] == (
            "STATUS=0 jobs waiting (and 5,000 new files not taken in yet), 0 blocked, 0 failed, 0 done"
        )
        engine.arriving = 1
        daemon.check_health()
        assert "(and 1 new file not taken in yet)" in drain(sock)[1]


def _beat(daemon: Any, sock: socket.socket) -> tuple[list[str], dict[str, Any]]:
    """One heartbeat: what it sent to systemd, and the health.json it wrote."""
    daemon.check_health()
    return drain(sock), json.loads((daemon.config.paths.state / "health.json").read_text())


def test_an_engine_stuck_in_a_file_operation_is_unhealthy_and_the_pings_stop(
    tmp_path: Path, abstract_socket: tuple[str, socket.socket]
) -> None:
    """A hard-mounted share whose server is gone: the engine thread is alive but never comes back."""
    address, sock = abstract_socket
    with daemon_with_fakes(tmp_path, address) as (daemon, watcher, engine):
        watcher.restart_works = True
        daemon.check_health()
        assert drain(sock)[0] == "WATCHDOG=1"
        engine.busy_job = "H1-1"
        engine.progress_at = time.monotonic() - daemon.stuck_seconds - 1  # no sign of life since
        fields, report = _beat(daemon, sock)
        assert "WATCHDOG=1" not in fields
        assert any("UNHEALTHY: the engine has made no progress" in f and "(job H1-1)" in f for f in fields)
        assert report["ok"] is False and "share" in report["reason"]
        engine.progress_at = time.monotonic()  # it came back
        daemon.check_health()
        assert drain(sock)[0] == "WATCHDOG=1"


def test_a_damaged_ledger_makes_the_daemon_unhealthy_saying_what_to_do(
    tmp_path: Path, abstract_socket: tuple[str, socket.socket]
) -> None:
    """Audit BR D1: the ledger damaged while the daemon ran; `health` said ok."""
    address, sock = abstract_socket
    with daemon_with_fakes(tmp_path, address) as (daemon, watcher, engine):
        watcher.restart_works = True  # (the fake watcher starts dead: brought back at the beat)
        engine.ledger_damage = "the ledger x is damaged (...): ...; stop the daemon and put back a copy from a backup"
        fields, report = _beat(daemon, sock)
        assert any("UNHEALTHY: the ledger x is damaged" in f for f in fields), fields
        assert report["ok"] is False and "put back a copy from a backup" in report["reason"]


def test_a_reload_that_fails_unexpectedly_keeps_the_daemon_serving_and_stoppable(
    tmp_path: Path, abstract_socket: tuple[str, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit AT 2: a reload that raised something else than a config error (`~nosuchuser` in a
    path: RuntimeError from expanduser) ended the main thread: no READY=1, no watchdog pings, and
    SIGTERM ignored (its handler runs on the main thread) while the engine kept running."""
    address, sock = abstract_socket
    with daemon_with_fakes(tmp_path, address) as (daemon, _watcher, _engine):

        def broken() -> None:
            daemon.notifier.reloading()
            raise RuntimeError("Could not determine home directory.")

        monkeypatch.setattr(daemon, "reload", broken)
        monkeypatch.setattr(daemon, "shutdown", lambda **kwargs: None)
        serving = threading.Thread(target=daemon.serve, daemon=True)
        daemon.signals.request_reload()
        serving.start()
        seen: list[str] = []
        deadline = time.monotonic() + 10
        while not any(f.startswith("STATUS=config reload at") for f in seen) and time.monotonic() < deadline:
            seen += drain(sock)
            time.sleep(0.02)
        assert "READY=1" in seen and serving.is_alive()
        status = next(f for f in seen if f.startswith("STATUS=config reload at"))
        assert "failed (1 error" in status and "running on the previous config" in status
        daemon.signals.request_stop()
        serving.join(10)
        assert not serving.is_alive()


def test_a_storm_of_signals_never_blocks_the_main_loop_and_it_stops(
    tmp_path: Path, abstract_socket: tuple[str, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI, once: SIGTERM and SIGINT every 2 ms while the daemon stopped ended it by SIGINT instead
    of exit 0. The handlers called threading.Event.set(): a signal that came while the main thread
    held that Event's lock (in the main loop's wait or clear, or in a handler it interrupted) ran a
    handler that waited for that lock, nested handler upon handler, until the stack overflowed. Here
    SIGHUP as fast as a shell sends it for 1-2 s (each wakes the loop: a reload), then SIGTERM: the loop serves
    throughout and stops."""
    address, _sock = abstract_socket
    with daemon_with_fakes(tmp_path, address) as (daemon, _watcher, _engine):
        reloads: list[float] = []
        monkeypatch.setattr(daemon, "reload", lambda: reloads.append(time.monotonic()))
        monkeypatch.setattr(daemon, "shutdown", lambda **kwargs: None)
        monkeypatch.setattr(daemon, "check_health", lambda: None)
        before = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        # From another process, as a supervisor's signals come (a thread here would need the
        # interpreter's lock to send them, and so could never interrupt a handler half way).
        pid = os.getpid()
        storm = (
            f"end=$((SECONDS + 2)); while [ $SECONDS -lt $end ]; do kill -HUP {pid} || exit; done; "
            f"while kill -TERM {pid}; do sleep 0.001; done"
        )
        daemon.install_signal_handlers()
        sender = subprocess.Popen(["bash", "-c", storm])
        try:
            daemon.serve()  # in the main thread, where the handlers run
        finally:
            for signum in before:  # (those still on their way: ignored, not the default's exit)
                signal.signal(signum, signal.SIG_IGN)
            sender.kill()
            sender.wait(10)
            for signum, handler in before.items():
                signal.signal(signum, handler)
        assert daemon.stop_signal == signal.SIGTERM
        assert len(reloads) > 10, "the signals woke the loop"


def test_events_lost_rescan_at_once_and_are_said_once_a_minute(
    tmp_path: Path, abstract_socket: tuple[str, socket.socket]
) -> None:
    """Every overflow of the kernel's inotify queue asks the engine for a rescan and is counted
    (Prometheus); the log says it at most once a minute (a storm overflows it again and again),
    with how often meanwhile."""
    from structlog.testing import capture_logs

    from spo_hotfolder.metrics import PrometheusMetrics

    address, _sock = abstract_socket
    with daemon_with_fakes(tmp_path, address) as (daemon, _watcher, engine), capture_logs() as logs:
        daemon.prometheus = PrometheusMetrics(daemon)
        for _ in range(3):
            daemon._events_lost()
        assert engine.rescans == 3
        said = [e for e in logs if e["event"] == "watcher.events_lost"]
        assert [(e["log_level"], e["overflows"]) for e in said] == [("warning", 1)]
        assert daemon._lost_said_at is not None
        daemon._lost_said_at -= 61  # a minute later
        daemon._events_lost()
        said = [e for e in logs if e["event"] == "watcher.events_lost"]
        assert [e["overflows"] for e in said] == [1, 3] and engine.rescans == 4
        assert daemon.prometheus.registry.get_sample_value("spo_hotfolder_watcher_events_lost_total") == 4


def test_health_says_stopping_while_the_job_in_hand_finishes(
    tmp_path: Path, abstract_socket: tuple[str, socket.socket]
) -> None:
    """Audit CB: through a graceful stop of up to 20 s (the job in hand finishing), `health` said
    "ok (as of 19 s ago)": the report says the daemon is stopping as the stop begins."""
    address, _sock = abstract_socket
    with daemon_with_fakes(tmp_path, address) as (daemon, watcher, engine):
        watcher.alive = True
        daemon.check_health()
        health = daemon.config.paths.state / "health.json"
        assert json.loads(health.read_text())["ok"] is True
        seen: list[dict[str, Any]] = []
        engine.stop = lambda: seen.append(json.loads(health.read_text()))  # type: ignore[method-assign]
        daemon._engine_thread = None  # (the job in hand: what the engine's stop waits for)
        daemon.shutdown()
        [report] = seen
        assert report["ok"] is False and report["reason"] == "stopping: finishing the job in hand", report


def test_a_reload_whose_new_watcher_cannot_start_keeps_the_previous_config_whole(
    tmp_path: Path, abstract_socket: tuple[str, socket.socket]
) -> None:
    """White-box audits CP 4, CT 2: a reload to `watch.mode: native` whose inotify could not start
    (the instances limit) logged "keeping the previous config" after the new one was applied (its
    routes in effect) and left no watcher running. Now the previous config and watcher stay."""
    import yaml

    address, _sock = abstract_socket
    with daemon_with_fakes(tmp_path, address) as (daemon, _watcher, engine):

        class ModeWatcher(FakeWatcher):
            requested_mode = "polling"
            poll_interval = 2.0

            def restart(self) -> None:
                self.restarts += 1
                if self.requested_mode == "native":
                    raise OSError(24, "inotify instance limit reached")
                self.alive = True

        watcher = ModeWatcher()
        daemon.watcher = watcher  # type: ignore[assignment]
        applied: list[Any] = []
        engine.set_config = applied.append  # type: ignore[attr-defined]
        rescanned_after: list[int] = []  # how many watcher restarts had been made at each rescan asked for
        engine.request_rescan = lambda: rescanned_after.append(watcher.restarts)  # type: ignore[method-assign]
        source = daemon.config.source
        data = yaml.safe_load(source.read_text())
        old_mode = daemon.config.watch.mode
        data["watch"]["mode"] = "native" if old_mode != "native" else "polling"
        data["routes"] = [{"to": "skip"}]
        source.write_text(yaml.safe_dump(data, sort_keys=False))
        watcher.requested_mode = old_mode
        daemon.reload()
        assert applied == [] and daemon.config.watch.mode == old_mode and daemon.config.routes[0].to != "skip"
        assert watcher.requested_mode == old_mode and watcher.alive
        assert daemon.reload_problem is not None and "running on the previous config" in daemon.reload_problem
        # (white-box audit DL 4: the previous watcher started afresh, an order that came just before
        # waited for the periodic rescan): a rescan asked for once it was
        assert rescanned_after and rescanned_after[-1] == watcher.restarts


def test_refused_manifests_in_failed_are_counted_and_purged_rejected_jobs_are_not_done(
    tmp_path: Path, abstract_socket: tuple[str, socket.socket]
) -> None:
    """Review DY 1: a refused manifest in failed/ (SPEC 4: "bad manifests" need attention) was in no
    count: `systemctl status` said "0 failed", `health` "ok", the metrics 0 (a finished job's folder
    moved there by hand, without an ERROR.txt, is no refusal: review EE 3). DY 4: a rejected job
    purged by retention counted as "done" (docs/service.md: rejected jobs are in no count)."""
    address, sock = abstract_socket
    with daemon_with_fakes(tmp_path, address) as (daemon, watcher, _engine):
        watcher.alive = True
        assert daemon.ledger is not None
        now = SystemClock().now()
        for job_id, stage in (("F-1", Stage.FAILED), ("D-1", Stage.PURGED), ("R-1", Stage.PURGED)):
            daemon.ledger.insert_job(
                job_id=job_id, order_id=job_id[0], customer=None, product="bc", quantity=1, hot_folder=None,
                attributes={}, manifest_name="m.yaml", process_after=None, stage=stage, folder=f"failed/{job_id}",
                awaiting_until=None, now=now,
            )  # fmt: skip
        daemon.ledger.update_job("D-1", now, route="indigo")  # (delivered, then purged; R-1 rejected: no route)
        failed = daemon.config.paths.failed
        for name in ("F-1", "100777.json", "orphan.pdf", "D-1"):
            (failed / name).mkdir()
        for name in ("F-1", "100777.json", "orphan.pdf"):  # (D-1: a finished job's folder moved here: none)
            (failed / name / "ERROR.txt").write_text("...")
        daemon.check_health()
        assert drain(sock)[1] == (
            "STATUS=0 jobs waiting, 0 blocked, 1 failed (and 2 refused manifests or files in failed/), 1 done"
        )
        assert json.loads((daemon.config.paths.state / "health.json").read_text())["refused_in_failed"] == 2
        shutil.rmtree(failed / "orphan.pdf")
        daemon.check_health()
        assert "1 failed (and 1 refused manifest or files in failed/), 1 done" in drain(sock)[1]


def test_the_pings_go_on_while_the_spool_is_gone_and_nothing_is_made_there(
    tmp_path: Path, abstract_socket: tuple[str, socket.socket]
) -> None:
    """Review FR 1: the spool's disk unmounted: the watched folders were made again in the empty
    mount point at the next heartbeat. They are not; the pings go on (a restart would make a new,
    empty spool there), and the status says why."""
    address, sock = abstract_socket
    with daemon_with_fakes(tmp_path, address) as (daemon, watcher, engine):
        watcher.restart_works = True
        daemon.check_health()
        drain(sock)
        shutil.rmtree(daemon.config.paths.inbox)
        engine.gone = "the spool folder is gone"
        daemon.check_health()
        fields = drain(sock)
        assert fields[0] == "WATCHDOG=1" and fields[1] == "STATUS=WAITING: the spool folder is gone"
        assert not daemon.config.paths.inbox.exists()
        # (review GL 2: a reload refused meanwhile was left out of the line: nothing said it failed)
        daemon.config.source.write_text("paths: {root: [\n")
        daemon.reload()
        drain(sock)
        daemon.check_health()
        status = drain(sock)[1]
        assert status.startswith("STATUS=config reload at ") and "failed" in status, status
        assert status.endswith("running on the previous config; WAITING: the spool folder is gone"), status
        engine.gone = None
        daemon.check_health()
        assert daemon.config.paths.inbox.is_dir()  # (a folder deleted by hand is made again, as before)


def test_a_health_report_that_cannot_be_written_is_said_once(
    tmp_path: Path, abstract_socket: tuple[str, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review FR 2: state/ made unwritable for the service user: `health` said "hung?" of a daemon
    delivering jobs, and the log said nothing. It is said once while it lasts, and when it works again."""
    import spo_hotfolder.service as service_module

    address, _sock = abstract_socket
    real = service_module.atomic_write
    refused = [True]

    def atomic_write(path: Path, text: str, **kwargs: Any) -> None:
        if refused[0]:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        real(path, text, **kwargs)

    monkeypatch.setattr(service_module, "atomic_write", atomic_write)
    with daemon_with_fakes(tmp_path, address) as (daemon, watcher, _engine), capture_logs() as logs:
        watcher.restart_works = True
        for _ in range(3):
            daemon.check_health()
        refused[0] = False
        daemon.check_health()
    said = [e for e in logs if e["event"].startswith("health.")]
    assert [e["event"] for e in said] == ["health.write_failed", "health.written_again"], said
    assert "give the service user write access to" in said[0]["action"]


def test_a_reload_while_the_spool_is_gone_starts_its_new_watcher_once_it_is_back(
    tmp_path: Path, abstract_socket: tuple[str, socket.socket]
) -> None:
    """Review FS 2 (of FR 1's mend): a reload changing watch.mode while the spool's disk was
    unmounted restarted the watcher, which made the watched folders again in the empty mount point;
    an order put there was hidden once the disk came back. The new watcher starts once it is back."""
    import yaml

    address, sock = abstract_socket
    with daemon_with_fakes(tmp_path, address) as (daemon, _watcher, engine):

        class ModeWatcher(FakeWatcher):
            requested_mode = "native"
            poll_interval = 2.0

        moded = ModeWatcher()
        moded.restart_works = True
        daemon.watcher = moded  # type: ignore[assignment]
        engine.set_config = lambda config: None  # type: ignore[attr-defined]
        source = daemon.config.source
        data = yaml.safe_load(source.read_text())
        data["watch"]["mode"] = "polling" if daemon.config.watch.mode != "polling" else "native"
        source.write_text(yaml.safe_dump(data, sort_keys=False))
        engine.gone = "the spool folder is gone"
        drain(sock)
        daemon.reload()
        assert moded.restarts == 0 and daemon.config.watch.mode == data["watch"]["mode"]
        # (review GC: the reload's status line said the counts, as if all was well)
        said = drain(sock)
        assert said[said.index("READY=1") + 1] == "STATUS=WAITING: the spool folder is gone", said
        daemon.check_health()
        assert moded.restarts == 0
        engine.gone = None
        daemon.check_health()
        assert moded.restarts == 1 and moded.requested_mode == data["watch"]["mode"]
