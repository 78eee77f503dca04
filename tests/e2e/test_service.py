"""End-to-end: the daemon under systemd's protocols (notify, watchdog, reload, stop), its refusals
to start, ``health`` for monitoring, Prometheus metrics, and JSON-only logs."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.daemon import Daemon, drop, run_cli, statuses, wait_for, write_config
from tests.e2e.killing import TreeDaemon
from tests.pdfs import make_pdf

pytestmark = pytest.mark.e2e

CARD = [(91.0, 61.0), (91.0, 61.0)]  # 85 x 55 mm + 3 mm bleed, two pages


class NotifySocket:
    """The AF_UNIX datagram socket systemd would listen on (``$NOTIFY_SOCKET``); records every field."""

    def __init__(self) -> None:
        # A short path: AF_UNIX paths are limited to 107 bytes, pytest's tmp_path can be longer.
        self._dir = Path(tempfile.mkdtemp(prefix="sd-", dir="/tmp"))
        self.path = str(self._dir / "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, list[str]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.append((time.monotonic(), data.decode().split("\n")))

    def fields(self) -> list[str]:
        with self._lock:
            return [field for _at, fields in self.messages for field in fields]

    def count(self, field: str) -> int:
        return self.fields().count(field)

    def wait(self, predicate: Callable[[list[str]], Any], what: str, timeout: float = 15) -> None:
        wait_for(lambda: predicate(self.fields()), timeout=timeout, what=f"notify: {what}; got {self.fields()[-8:]}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
        with contextlib.suppress(OSError):
            Path(self.path).unlink()
            self._dir.rmdir()


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    sock = NotifySocket()
    yield sock
    sock.close()


def systemd_env(sock: NotifySocket) -> dict[str, str]:
    return {"NOTIFY_SOCKET": sock.path, "WATCHDOG_USEC": "1000000"}


def start_daemon(daemons: list[Daemon], config: Path, env: dict[str, str] | None = None) -> Daemon:
    daemon = Daemon(config, env=env)
    daemons.append(daemon)
    return daemon.start()


def drop_card(daemon: Daemon, order_id: str) -> str:
    make_pdf(daemon.inbox / f"{order_id}.pdf", pages=CARD)
    drop(
        daemon.inbox / f"{order_id}.yaml",
        f'order_id: "{order_id}"\nproduct: bc-85x55\nquantity: 10\nartwork: [{{path: {order_id}.pdf}}]\n',
    )
    return f"{order_id}-1"


def events(daemon: Daemon, name: str) -> list[dict[str, Any]]:
    return [e for e in daemon.log_events() if e.get("event") == name]


def assert_all_json(daemon: Daemon) -> None:
    bad = [e["line"] for e in daemon.log_events() if e.get("event") == "NOT-JSON"]
    assert not bad, f"lines that are not one JSON object: {bad[:5]}"


# -- the notify protocol ---------------------------------------------------------------------------


def test_ready_status_watchdog_reload_and_stop(tmp_path: Path, daemons: list[Daemon], notify_socket) -> None:
    daemon = start_daemon(daemons, write_config(tmp_path), env=systemd_env(notify_socket))
    notify_socket.wait(lambda f: "READY=1" in f, "READY=1")
    fields = notify_socket.fields()
    assert any(f.startswith("STATUS=") and "waiting" in f and "blocked" in f and "failed" in f for f in fields)
    # WATCHDOG_USEC=1 s: a ping every 0.5 s, while healthy.
    notify_socket.wait(lambda f: f.count("WATCHDOG=1") >= 3, "three WATCHDOG=1", timeout=5)
    ready_before = notify_socket.count("READY=1")

    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    notify_socket.wait(lambda f: "RELOADING=1" in f, "RELOADING=1")
    notify_socket.wait(lambda f: f.count("READY=1") > ready_before, "READY=1 after the reload")
    fields = notify_socket.fields()
    reloading = fields.index("RELOADING=1")
    assert "READY=1" in fields[reloading:]
    assert any(f.startswith("MONOTONIC_USEC=") for f in fields)
    wait_for(lambda: events(daemon, "config.reloaded"), what="config.reloaded")

    assert daemon.stop() == 0
    assert "STOPPING=1" in notify_socket.fields()
    assert_all_json(daemon)


def test_more_stop_signals_while_it_stops_and_exits_still_end_in_exit_0(tmp_path: Path, daemons: list[Daemon]) -> None:
    """Audit BE 1: a second SIGTERM ~50 ms after the first (supervisors repeat it) came after the
    daemon had logged daemon.stopped, while the interpreter exited, which had set SIGTERM back to
    its default: a death by signal (exit 143) after a graceful stop. SPEC 3: `run` exits 0."""
    daemon = start_daemon(daemons, write_config(tmp_path))
    proc = daemon.proc
    assert proc is not None
    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM if random_bit() else signal.SIGINT)
        time.sleep(0.002)
    assert proc.wait(timeout=5) == 0, daemon.log_text()[-2000:]
    events = daemon.log_events()
    assert [e["event"] for e in events][-2:] == ["daemon.stopping", "daemon.stopped"]
    # (which one is said: Python runs pending handlers in signal-number order, SIGINT first)
    assert events[-2]["signal"] in ("SIGTERM", "SIGINT")
    daemon.proc = None


def test_two_stop_signals_back_to_back_stop_it_at_once_without_a_traceback(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    """Audit CB: SIGTERM then SIGINT at once (a Ctrl-C while a supervisor stops it): the second went
    to another thread, the main loop slept on until its next heartbeat (4.6 s), and the handler of
    the first had set the other to "ignore" under it: "OSError: Signal 15 ignored due to race
    condition", a traceback on stderr."""
    for n in range(3):
        daemon = start_daemon(daemons, write_config(tmp_path / str(n)))
        assert daemon.proc is not None
        time.sleep(0.3)  # (into its main loop's wait)
        start = time.monotonic()
        os.kill(daemon.proc.pid, signal.SIGTERM)
        os.kill(daemon.proc.pid, signal.SIGINT)
        assert daemon.proc.wait(timeout=30) == 0
        took = time.monotonic() - start
        assert took < 3, f"the stop came {took:.1f} s later: at a heartbeat (5 s), not at the signals"
        assert "Traceback" not in daemon.log_text() and "race condition" not in daemon.log_text()
        assert_all_json(daemon)
        daemon.proc = None


def test_the_stop_says_which_signal_asked_for_it(tmp_path: Path, daemons: list[Daemon]) -> None:
    """Audit BW 2: daemon.stopping did not say why; a stop nobody meant (another process's kill)
    could not be told from one asked for."""
    for sent in (signal.SIGTERM, signal.SIGINT):
        daemon = start_daemon(daemons, write_config(tmp_path / sent.name))
        assert daemon.proc is not None
        daemon.proc.send_signal(sent)
        assert daemon.proc.wait(timeout=30) == 0
        [stopping] = [e for e in daemon.log_events() if e["event"] == "daemon.stopping"]
        assert stopping["signal"] == sent.name
        daemon.proc = None


def test_sigusr1_and_sigusr2_are_logged_and_change_nothing(make_daemon) -> None:
    """Audit BG R3: SIGUSR1 (a log rotation's habit with other daemons) ended the daemon at once,
    with no log line and no stop: their default action."""
    daemon = make_daemon()
    assert daemon.proc is not None
    for sent in (signal.SIGUSR1, signal.SIGUSR2):
        daemon.proc.send_signal(sent)
        wait_for(lambda s=sent: any(e.get("signal") == s.name for e in events(daemon, "daemon.signal_ignored")))
    job_id = drop_card(daemon, "301")
    daemon.wait_status(job_id, "InHotFolder")
    assert daemon.stop() == 0


def random_bit() -> bool:
    return os.urandom(1)[0] & 1 == 1


def test_without_systemd_nothing_is_sent_and_it_works_the_same(make_daemon) -> None:
    daemon = make_daemon()  # the harness removes NOTIFY_SOCKET
    job_id = drop_card(daemon, "300")
    daemon.wait_status(job_id, "InHotFolder")
    started = events(daemon, "daemon.started")
    assert started and started[0]["systemd"] is False
    assert daemon.stop() == 0


# -- SIGHUP ------------------------------------------------------------------------------------------


def test_sighup_applies_a_valid_config_and_keeps_the_old_one_when_invalid(
    tmp_path: Path, daemons: list[Daemon], notify_socket
) -> None:
    config = write_config(tmp_path)
    daemon = start_daemon(daemons, config, env=systemd_env(notify_socket))
    assert daemon.proc is not None

    # A new route: business cards now go to the large-format printer.
    data = yaml.safe_load(config.read_text())
    data["routes"] = [{"when": {"product": "bc-*"}, "to": "large"}, {"to": "skip"}]
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: events(daemon, "config.reloaded"), what="config.reloaded")
    job_id = drop_card(daemon, "401")
    job = daemon.wait_status(job_id, "InHotFolder")
    assert job["hot_folder"] == "large"
    assert (tmp_path / "hot" / "large" / f"401_{job_id}_bc-85x55_x10.pdf").is_file()

    # An invalid config: logged, the previous one kept, the daemon goes on working.
    ready_before = notify_socket.count("READY=1")
    config.write_text(config.read_text() + "\nno_such_section: {}\n")
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: events(daemon, "config.reload_failed"), what="config.reload_failed")
    failed = events(daemon, "config.reload_failed")[0]
    assert any("no_such_section" in e for e in failed["errors"])
    notify_socket.wait(lambda f: f.count("READY=1") > ready_before, "READY=1 after a failed reload")
    # `systemctl status` says it (the status line, until a reload succeeds), not only the journal.
    notify_socket.wait(
        lambda f: any(x.startswith("STATUS=config reload at") and "failed (1 error" in x for x in f),
        "the failed reload in the status line",
    )
    job_id = drop_card(daemon, "402")
    # (the CLI would refuse the invalid config file: look at the hot folder and the log instead)
    wait_for((tmp_path / "hot" / "large" / f"402_{job_id}_bc-85x55_x10.pdf").is_file, what="402 delivered")
    # (its log line comes once InHotFolder is committed, a moment after the file's rename)
    wait_for(lambda: [e for e in events(daemon, "delivery.completed") if e["job_id"] == job_id], what="logged")
    assert [e["detail"] for e in events(daemon, "delivery.completed") if e["job_id"] == job_id] == [
        f"large: 402_{job_id}_bc-85x55_x10.pdf"
    ]
    assert daemon.proc.poll() is None
    # Fixed and reloaded: the status line is the plain one again.
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    reloads = len(events(daemon, "config.reloaded"))
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(events(daemon, "config.reloaded")) > reloads, what="config.reloaded again")
    notify_socket.wait(
        lambda f: [x for x in f if x.startswith("STATUS=")][-1].startswith("STATUS=0 jobs waiting"),
        "the plain status line after a good reload",
    )
    # paths changed: refused, naming the file and the key (audit AJ 3: neither was said).
    moved = dict(data, paths=dict(data["paths"], root=str(tmp_path / "elsewhere")))
    config.write_text(yaml.safe_dump(moved, sort_keys=False))
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(events(daemon, "config.reload_failed")) > 1, what="the paths change refused")
    [error] = events(daemon, "config.reload_failed")[-1]["errors"]
    # (with the key's line, as every other config error: audit bb73)
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if text.strip().startswith("root:"))
    assert error.startswith(f"{config}:{line}: paths.root: changed from ") and error.endswith("; restart it")
    # What check-config calls an error is one for a reload too (audit AT 4: applied without a word,
    # every delivery there then failed); and a path of an unknown user's home (AT 2: the reload
    # raised RuntimeError and the daemon's main thread ended).
    (tmp_path / "a-file").write_text("not a folder\n")
    hot_is_a_file = dict(data, hot_folders=dict(data["hot_folders"], large={"path": str(tmp_path / "a-file")}))
    config.write_text(yaml.safe_dump(hot_is_a_file, sort_keys=False))
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(events(daemon, "config.reload_failed")) > 2, what="the file as a hot folder refused")
    [error] = events(daemon, "config.reload_failed")[-1]["errors"]
    assert error.startswith(f"{config}:") and "hot_folders.large.path: " in error and "is a file, not a folder" in error
    unknown_home = dict(data, hot_folders=dict(data["hot_folders"], large={"path": "~nosuchuser-spo/hot"}))
    config.write_text(yaml.safe_dump(unknown_home, sort_keys=False))
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(events(daemon, "config.reload_failed")) > 3, what="the unknown home refused")
    [error] = events(daemon, "config.reload_failed")[-1]["errors"]
    assert "there is no user 'nosuchuser-spo'" in error
    assert daemon.proc.poll() is None and not events(daemon, "daemon.crashed")
    assert daemon.stop() == 0


# -- signals while it starts ------------------------------------------------------------------------

START_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def catches(pid: int, signums: tuple[int, ...] = START_SIGNALS) -> bool:
    """True when process ``pid`` has a handler for each of ``signums`` (SigCgt in /proc/PID/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    found = re.search(r"^SigCgt:\s*([0-9a-fA-F]+)$", status, re.MULTILINE)
    mask = int(found.group(1), 16) if found else 0
    return all(mask >> (signum - 1) & 1 for signum in signums)


class GatedDaemon(TreeDaemon):
    """``run`` on a config that is a named pipe: the daemon cannot get past reading its config
    until the test opens the gate (no sleeps: the start is held at a known point)."""

    def __init__(self, config: Path) -> None:
        super().__init__(config)
        self.text = config.read_text()
        config.unlink()
        os.mkfifo(config)
        self._writer: int | None = None

    def reading(self) -> bool:
        """True once the daemon has opened its config (it then waits for the content)."""
        assert self.proc is not None
        if self._writer is None:
            try:  # a writer may open a named pipe without waiting only when a reader has it open
                self._writer = os.open(self.config, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
        if self._writer is None and self.proc.poll() is not None:
            raise AssertionError(f"the daemon exited with {self.proc.returncode}:\n{self.log_text()}")
        return self._writer is not None

    def open_gate(self) -> None:
        """Gives the daemon its config; the config file is a regular one from then on (a reload reads it)."""
        wait_for(self.reading, what="the daemon reading its config")
        assert self._writer is not None
        regular = self.config.with_name("regular.yaml")
        regular.write_text(self.text)
        os.replace(regular, self.config)  # before the content's end: the daemon cannot reload before
        os.set_blocking(self._writer, True)
        os.write(self._writer, self.text.encode())
        os.close(self._writer)

    def names(self) -> list[str]:
        return [str(e.get("event")) for e in self.log_events()]

    def names_while_running(self) -> list[str]:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"the daemon exited with {self.proc.returncode}:\n{self.log_text()}")
        return self.names()


def start_gated(tmp_path: Path, daemons: list[Daemon]) -> GatedDaemon:
    daemon = GatedDaemon(write_config(tmp_path))
    daemons.append(daemon)
    daemon.start(wait=False)
    return daemon


def assert_stopped_as_after_start(daemon: GatedDaemon) -> None:
    """Exit 0 and the log of an ordinary stop (SIGTERM once started), no traceback, JSON only."""
    assert daemon.proc is not None
    assert daemon.proc.wait(30) == 0, daemon.log_text()
    assert "Traceback" not in daemon.log_text()
    assert_all_json(daemon)
    names = daemon.names()
    assert names.index("daemon.started") < names.index("daemon.stopping"), names
    assert names[-2:] == ["daemon.stopping", "daemon.stopped"], names
    assert not [e for e in daemon.log_events() if e.get("level") in ("warning", "error", "critical")]


@pytest.mark.parametrize("signum", START_SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_at_its_first_moment_is_acted_on_once_started(
    tmp_path: Path, daemons: list[Daemon], signum: int
) -> None:
    # The signal goes the moment the process catches the three (before its imports, the fork
    # server, the config): a stop stops it once started, a SIGHUP is the config read then or a
    # reload once started; never killed (129, 143) nor a KeyboardInterrupt traceback.
    daemon = start_gated(tmp_path, daemons)
    assert daemon.proc is not None
    pid = daemon.proc.pid

    def caught_or_reading() -> bool:
        reading = daemon.reading()  # first: a daemon that reads its config must catch them already
        return catches(pid) or reading

    wait_for(caught_or_reading, interval=0.001, what="the daemon catching SIGTERM/SIGINT/SIGHUP or reading its config")
    assert catches(pid), "SIGTERM, SIGINT and SIGHUP are not caught before the config is read"
    daemon.proc.send_signal(signum)
    daemon.open_gate()
    if signum == signal.SIGHUP:
        reload = {"config.reload_skipped", "config.reloaded"}

        def started_with_its_config() -> bool:
            names = set(daemon.names_while_running())
            # (a reload is over once the engine thread has applied it: config.applied)
            return "daemon.started" in names and ("config.reload_skipped" in names or "config.applied" in names)

        wait_for(started_with_its_config, what="started, the config read or reloaded")
        assert len(reload & set(daemon.names())) == 1, daemon.names()  # the read at start, or one reload
        assert daemon.proc.poll() is None
        daemon.proc.send_signal(signal.SIGTERM)
    assert_stopped_as_after_start(daemon)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: signal.Signals(s).name)
def test_a_signal_while_it_reads_its_config_is_acted_on_once_started(
    tmp_path: Path, daemons: list[Daemon], signum: int
) -> None:
    daemon = start_gated(tmp_path, daemons)
    assert daemon.proc is not None
    wait_for(daemon.reading, what="the daemon reading its config")
    daemon.proc.send_signal(signum)  # the config it reads may be the one before the edit: a reload
    daemon.open_gate()
    if signum == signal.SIGHUP:
        # (config.applied: the engine thread took it, at its next step; a stop asked before then had
        # it logged after daemon.stopping on a loaded machine)
        wait_for(lambda: "config.applied" in daemon.names_while_running(), what="config.applied")
        names = daemon.names()
        assert names.index("daemon.started") < names.index("config.reloaded"), names
        assert "config.reload_skipped" not in names
        assert daemon.proc.poll() is None
        daemon.proc.send_signal(signal.SIGTERM)
    assert_stopped_as_after_start(daemon)


# -- refusals to start -------------------------------------------------------------------------------


def run_refused(
    config: Path, prefix: list[str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*(prefix or []), sys.executable, "-m", "spo_hotfolder.cli", "-c", str(config), "run"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=cwd,
    )
    assert result.returncode == 1, result
    assert "Traceback" not in result.stdout + result.stderr, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {result.stderr!r}"
    # No terminal: the one line is a JSON object too (SPEC 8: every line on stdout/stderr)
    refusal = json.loads(lines[0])
    assert refusal["event"] == "daemon.refused" and refusal["message"].startswith("spo-hotfolder: error: ")
    logged = [json.loads(line) for line in result.stdout.splitlines()]  # the log: JSON lines only
    events = [e["event"] for e in logged]
    assert "daemon.refused" in events
    # The same line as the log's: its level, logger and time stamp (UTC), its reason (helper EX 2)
    [said] = [e for e in logged if e["event"] == "daemon.refused"]
    assert refusal["level"] == said["level"] == "error" and refusal["logger"] == said["logger"], (refusal, said)
    assert refusal["timestamp"].endswith("Z") and len(refusal["timestamp"]) == len(said["timestamp"]), refusal
    assert refusal["reason"] in said["reason"] or said["reason"] in refusal["reason"], (refusal, said)
    assert "daemon.stopping" not in events and "daemon.stopped" not in events  # it never started
    return result


def test_refuses_an_invalid_config(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    config.write_text(config.read_text() + "\nwatch_typo: 1\ndelivery: {max_attempts: zero}\n")
    result = run_refused(config)
    assert "invalid config" in result.stderr and "watch_typo" in result.stderr
    assert re.search(r"\(and \d+ more; see `spo-hotfolder check-config`\)", result.stderr)


@pytest.mark.parametrize("limit", [16, 24, 40])
def test_refuses_to_start_with_too_few_open_files_in_one_line(tmp_path: Path, limit: int) -> None:
    """Audit BX: under `ulimit -n` 24 the daemon crashed with EMFILE in its scheduler's import and
    its fork server wrote a bare traceback on stdout; at 16 its ledger 'could not be opened'."""
    if shutil.which("prlimit") is None:
        pytest.skip("prlimit (util-linux) is not installed")
    result = run_refused(write_config(tmp_path), prefix=["prlimit", f"--nofile={limit}:{limit}", "--"])
    assert f"the limit on open files is {limit}" in result.stderr and "LimitNOFILE=" in result.stderr
    assert not (tmp_path / "root" / "state").exists()  # refused before anything was made


def test_raises_a_low_soft_limit_on_open_files_to_the_hard_one(tmp_path: Path) -> None:
    """A shell's soft limit (often 1,024, here 24) is no limit of the daemon's: it raises it to the
    hard one, and its PDF worker (forked by the fork server) has it too."""
    if shutil.which("prlimit") is None:
        pytest.skip("prlimit (util-linux) is not installed")
    daemon = Daemon(write_config(tmp_path), prefix=["prlimit", "--nofile=24:4096", "--"])
    try:
        daemon.start()
        job_id = drop_card(daemon, "1501")
        wait_for((tmp_path / "hot" / "indigo" / f"1501_{job_id}_bc-85x55_x10.pdf").is_file, what="delivered")
        assert daemon.proc is not None
        limits = Path(f"/proc/{daemon.proc.pid}/limits").read_text()
        assert re.search(r"Max open files\s+4096\s+4096", limits), limits
        children = Path(f"/proc/{daemon.proc.pid}/task/{daemon.proc.pid}/children").read_text().split()
        assert children, "no PDF worker or fork server"
        for child in children:
            assert re.search(r"Max open files\s+4096\s+4096", Path(f"/proc/{child}/limits").read_text())
    finally:
        daemon.stop()


def test_a_config_with_hundreds_of_errors_is_refused_in_lines_the_journal_keeps_whole(tmp_path: Path) -> None:
    """Audit (2026-12-05 G 1): 300 unknown keys made a daemon.refused line of 72 KB (every error
    listed); journald splits a line over 48K into pieces that are no JSON."""
    config = write_config(tmp_path)
    config.write_text(config.read_text() + "".join(f"\nbogus_key_{n:04}: 1" for n in range(300)) + "\n")
    result = run_refused(config)
    lines = result.stdout.splitlines()
    assert all(len(line.encode()) <= 40_000 for line in lines), max(len(line) for line in lines)
    refused = next(json.loads(line) for line in lines if json.loads(line)["event"] == "daemon.refused")
    assert len(refused["errors"]) == 21 and "bogus_key_0000" in refused["errors"][0]
    assert refused["errors"][-1] == "... and 280 more (cut to fit a log line)"


@pytest.mark.parametrize("stdout_closed", [False, True], ids=["2>&1", "stdout closed"])
def test_a_refusal_is_said_once_where_stdout_and_stderr_are_one_stream(tmp_path: Path, stdout_closed: bool) -> None:
    """Audit (2026-12-05 G 2): under the unit stderr goes where stdout goes (the journal): the
    daemon.refused log line and the one-line error on stderr were two daemon.refused lines.
    Audit BB 1: started with stdout closed (`run >&-`) the log goes to stderr: the same, twice."""
    config = write_config(tmp_path)
    config.write_text(config.read_text() + "\nwatch_typo: 1\n")
    command = [sys.executable, "-m", "spo_hotfolder.cli", "-c", str(config), "run"]
    if stdout_closed:
        command = ["sh", "-c", '"$@" >&-', "sh", *command]
    result = subprocess.run(
        command,
        stdout=subprocess.DEVNULL if stdout_closed else subprocess.PIPE,
        stderr=subprocess.PIPE if stdout_closed else subprocess.STDOUT,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    events = [json.loads(line) for line in (result.stderr if stdout_closed else result.stdout).splitlines()]
    refusals = [e for e in events if e["event"] == "daemon.refused"]
    assert len(refusals) == 1 and "watch_typo" in refusals[0]["reason"], events


def test_refuses_spool_folders_on_different_filesystems(tmp_path: Path) -> None:
    other = Path("/dev/shm")
    if not other.is_dir() or other.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the test's tmp folder")
    elsewhere = Path(tempfile.mkdtemp(prefix="spo-done-", dir=other))
    try:
        config = write_config(tmp_path, paths={"root": str(tmp_path / "root"), "done": str(elsewhere)})
        result = run_refused(config)
        assert "different filesystems" in result.stderr
        init = run_cli(config, "init")
        assert init.returncode == 1 and "different filesystems" in init.stderr
        # a refusal leaves no spool folder made (init made them all, then refused)
        assert not (tmp_path / "root").exists() and list(elsewhere.iterdir()) == []
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(elsewhere)


def test_check_config_reports_folders_on_other_filesystems(tmp_path: Path) -> None:
    """What `run` refuses (spool folders on two filesystems) and what would fail every delivery (a
    staging folder on another filesystem than its hot folder) is no "config OK"."""
    other = Path("/dev/shm")
    if not other.is_dir() or other.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the test's tmp folder")
    elsewhere = Path(tempfile.mkdtemp(prefix="spo-fs-", dir=other))
    try:
        (elsewhere / "done").mkdir()
        (elsewhere / "stage").mkdir()
        config = write_config(tmp_path, paths={"root": str(tmp_path / "root")})
        assert run_cli(config, "check-config").returncode == 0
        data = yaml.safe_load(config.read_text())
        data["hot_folders"]["indigo"]["staging"] = str(elsewhere / "stage")
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        result = run_cli(config, "check-config")
        assert result.returncode == 1 and result.stdout == ""
        [line] = result.stderr.splitlines()
        assert line.startswith(f"{config}:") and ": hot_folders.indigo.staging: " in line
        assert "every delivery to indigo would fail" in line

        data["paths"]["done"] = str(elsewhere / "done")
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        result = run_cli(config, "check-config")
        assert result.returncode == 1 and "Traceback" not in result.stderr
        lines = result.stderr.splitlines()
        assert [line.split(": ", 2)[1] for line in lines] == ["paths.done", "hot_folders.indigo.staging"]
        assert all(re.match(rf"{re.escape(str(config))}:\d+: ", line) for line in lines)
        assert "different filesystems" in run_refused(config).stderr  # as check-config said
    finally:
        shutil.rmtree(elsewhere, ignore_errors=True)


def test_refuses_a_spool_folder_that_cannot_be_created(tmp_path: Path) -> None:
    # Works as root too: nothing can be created below a regular file.
    (tmp_path / "blocker").write_text("a file, not a folder\n")
    config = write_config(tmp_path, paths={"root": str(tmp_path / "root"), "failed": str(tmp_path / "blocker" / "x")})
    result = run_refused(config)
    assert "blocker" in result.stderr


NOBODY = 65534


def as_nobody(*argv: str) -> list[str]:
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]


def test_refuses_a_spool_folder_that_is_not_writable(tmp_path: Path) -> None:
    # Root may write anywhere: as root, the daemon runs as "nobody" (setpriv) on folders it owns,
    # except done/, which stays root's.
    base = tmp_path
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a folder unwritable for the daemon")
        base = Path(tempfile.mkdtemp(prefix="spo-ro-", dir="/tmp"))
        base.chmod(0o755)
    try:
        config = write_config(base)
        config.chmod(0o644)
        assert run_cli(config, "init").returncode == 0
        done = base / "root" / "done"
        prefix: list[str] = []
        if os.geteuid() == 0:
            for path in [base / "root", *(base / "root").rglob("*")]:
                os.chown(path, NOBODY, NOBODY)
            os.chown(done, 0, 0)
            prefix = as_nobody()
            probe = subprocess.run(
                as_nobody(sys.executable, "-c", f"import os, sys; sys.exit(os.access({str(done)!r}, os.W_OK))"),
                capture_output=True,
                timeout=30,
                check=False,
            )
            if probe.returncode != 0:
                pytest.skip(f"setpriv did not drop root's rights here: {probe.stderr!r}")
        done.chmod(0o555)
        result = run_refused(config, prefix=prefix, cwd=base)
        assert "not writable" in result.stderr and "done" in result.stderr
    finally:
        if base != tmp_path:
            shutil.rmtree(base, ignore_errors=True)


def test_a_daemon_starting_while_an_offline_operator_command_runs_waits_for_it(make_daemon) -> None:
    """Audit Q: an offline `replace` holding the lock while the service (re)started made it refuse,
    naming a dead daemon's pid: a failed start, which counts toward systemd's start limit."""
    from spo_hotfolder.config import load_config
    from spo_hotfolder.service import InstanceLock, offline_lock

    daemon = make_daemon(start=False)
    config = load_config(daemon.config)
    config.paths.state.mkdir(parents=True, exist_ok=True)
    (config.paths.state / "daemon.lock").write_text("999999\n")  # a daemon killed earlier
    with offline_lock(config) as got:
        assert got and InstanceLock(config).holder().startswith("operator-command")
        daemon.start(wait=False)
        # The command's work; the daemon waits meanwhile (and says so). Waited for, not slept: a
        # daemon slow to start on a loaded machine reached the lock only after it was let go.
        _waits_for_the_lock(daemon)
    wait_for(lambda: daemon._ready(daemon.root / "state" / "health.json"), timeout=20, what="daemon ready")
    assert daemon.stop() == 0


def _waits_for_the_lock(daemon: Daemon) -> None:
    """The daemon, started, says it waits for the lock, and goes on waiting (does not exit)."""
    wait_for(lambda: "daemon.waiting_for_lock" in daemon.log_text(), timeout=20, what="daemon.waiting_for_lock")
    time.sleep(1.0)  # and goes on waiting: not refused, not started
    assert not daemon._ready(daemon.root / "state" / "health.json"), "started while the lock was held"


def test_a_daemon_starting_while_the_lock_names_nobody_yet_waits(make_daemon) -> None:
    """Audit BM D1: operator commands given while the daemon was killed with -9 took the lock in
    turn; the new daemon read the lock file in the moment one had emptied it and not yet written
    its name, and refused: "another spo-hotfolder (pid unknown) already runs". Held, naming nobody,
    the lock is waited for as a command's."""
    import fcntl

    from spo_hotfolder.config import load_config

    daemon = make_daemon(start=False)
    config = load_config(daemon.config)
    config.paths.state.mkdir(parents=True, exist_ok=True)
    lock = config.paths.state / "daemon.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o664)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        daemon.start(wait=False)
        _waits_for_the_lock(daemon)
    finally:
        os.close(fd)
    wait_for(lambda: daemon._ready(daemon.root / "state" / "health.json"), timeout=20, what="daemon ready")
    assert daemon.stop() == 0


def test_refuses_when_another_instance_holds_the_root(make_daemon) -> None:
    daemon = make_daemon()
    result = run_refused(daemon.config)
    assert "another spo-hotfolder" in result.stderr and str(daemon.proc.pid) in result.stderr  # type: ignore[union-attr]
    # The refused one must leave the running daemon's health report alone.
    assert run_cli(daemon.config, "health").returncode == 0
    assert daemon.stop() == 0


def test_refuses_a_second_daemon_whose_inbox_is_the_first_ones(
    make_daemon, tmp_path: Path, daemons: list[Daemon]
) -> None:
    """Audit AT 1: a second daemon with another root but `paths.inbox` set to the first one's
    inbox started, and both took the same orders: a job was printed twice."""
    daemon = make_daemon()
    inbox = daemon.root / "inbox"
    other = write_config(tmp_path / "second", paths={"root": str(tmp_path / "second" / "root"), "inbox": str(inbox)})
    result = run_refused(other)
    assert (
        f"another spo-hotfolder already uses {inbox} (paths.inbox), with another paths.root: two daemons taking "
        "files from one folder would print orders twice" in result.stderr
    ), result.stderr
    assert not (tmp_path / "second" / "root").exists()  # refused before any of its folders was made
    assert run_cli(daemon.config, "health").returncode == 0
    assert daemon.stop() == 0
    second = Daemon(other)  # the first one gone, the folder is free
    daemons.append(second)
    second.start()
    assert second.stop() == 0


@pytest.mark.parametrize("where", ["root", "above"])
def test_refuses_a_second_daemon_whose_inbox_holds_the_first_ones_spool(
    make_daemon, tmp_path: Path, where: str
) -> None:
    """Review HF 2: a second daemon whose `paths.inbox` is the first one's root (the folder
    docs/service.md shares over Samba), or the folder that holds that root, started: it took the
    first one's quarantine/ as a folder drop and moved a held job's files into its own failed/."""
    daemon = make_daemon()
    inbox = daemon.root if where == "root" else daemon.root.parent
    second = tmp_path.parent / f"{tmp_path.name}-second"  # (not inside its own inbox)
    other = write_config(second, paths={"root": str(second / "root"), "inbox": str(inbox)})
    result = run_refused(other)
    said = (
        f"another spo-hotfolder already uses {inbox} (paths.inbox), with another paths.root"
        if where == "root"
        else f"paths.inbox ({inbox}) holds {daemon.root}, which another spo-hotfolder uses as its spool"
    )
    assert said in result.stderr, result.stderr
    assert sorted(os.listdir(daemon.root)) == ["done", "failed", "inbox", "quarantine", "rejected", "state", "work"]
    assert run_cli(daemon.config, "health").returncode == 0
    assert daemon.stop() == 0


def _running_on(folder: Path, paths: dict[str, str], daemons: list[Daemon]) -> Daemon:
    """A daemon started (and ready) on a config under ``folder`` with these ``paths`` (its state/
    maybe outside its root)."""
    daemon = Daemon(write_config(folder, paths=paths))
    daemons.append(daemon)
    assert run_cli(daemon.config, "init").returncode == 0
    daemon.start(wait=False)
    state = Path(paths.get("state", paths["root"] + "/state"))
    wait_for(lambda: daemon._ready(state / "health.json"), timeout=20, what="daemon ready")
    return daemon


@pytest.mark.parametrize("inside", ["inbox", "root with its state elsewhere", "root two folders down"])
def test_refuses_a_second_daemon_whose_inbox_holds_another_ones_spool_folder(
    tmp_path: Path, daemons: list[Daemon], inside: str
) -> None:
    """Review HL 1-2 (of HK 2's mend): another daemon's inbox, or its root whose state/ is elsewhere,
    directly inside this daemon's inbox: the start was no longer refused (only a root holding
    state/daemon.lock counted), and the other daemon's orders, or its held job's files, were taken
    as this one's. A daemon marks the spool folders it holds; such a mark inside the inbox refuses.
    Review HN 2: at any depth (a root in a folder drop's subfolder was not looked at: that folder
    drop, the other daemon's spool in it, would have gone to failed/)."""
    shared = tmp_path / "b-inbox"
    shared.mkdir()
    first_paths = {
        "inbox": {"root": str(tmp_path / "a-root"), "inbox": str(shared / "a-in")},
        "root with its state elsewhere": {"root": str(shared / "a"), "state": str(tmp_path / "a-state")},
        "root two folders down": {"root": str(shared / "upload-7" / "sub" / "a")},
    }[inside]
    first = _running_on(tmp_path / "a", first_paths, daemons)
    held = Path(first_paths["inbox"] if inside == "inbox" else first_paths["root"])
    second = write_config(tmp_path / "b", paths={"root": str(tmp_path / "b-root"), "inbox": str(shared)})
    result = run_refused(second)
    assert f"paths.inbox ({shared}) holds {held}, which another spo-hotfolder uses as its spool" in result.stderr, (
        result.stderr
    )
    assert first.stop() == 0


@pytest.mark.parametrize("inside", ["inbox", "root", "inbox that is the root"])
def test_refuses_a_daemon_whose_folder_is_inside_a_running_one_s_inbox(
    tmp_path: Path, daemons: list[Daemon], inside: str
) -> None:
    """Review HM 2: the refusal of nested spools held only when the daemon whose inbox holds the
    other's folder started second; started the other way round, both ran, and the outer one
    printed an order dropped into the inner one's inbox. The inner one is refused too."""
    if inside == "inbox that is the root":  # (review HN 1: the root's mark alone was on it)
        others = {n: str(tmp_path / f"b-{n}") for n in ("work", "quarantine", "failed", "done", "rejected", "state")}
        outer_paths = {"root": str(tmp_path / "b-root"), "inbox": str(tmp_path / "b-root"), **others}
        inbox = tmp_path / "b-root"
        inside = "root"
    else:
        outer_paths = {"root": str(tmp_path / "b-root")}
        inbox = tmp_path / "b-root" / "inbox"
    outer = _running_on(tmp_path / "b", outer_paths, daemons)
    paths = (
        {"root": str(tmp_path / "a-root"), "inbox": str(inbox / "shopA")}
        if inside == "inbox"
        else {"root": str(inbox / "A")}
    )
    result = run_refused(write_config(tmp_path / "a", paths=paths))
    name = "inbox" if inside == "inbox" else "root"
    assert f"paths.{name} ({paths[name]}) is inside {inbox}, which another spo-hotfolder uses" in result.stderr, (
        result.stderr
    )
    assert run_cli(outer.config, "health").returncode == 0
    if inbox != tmp_path / "b-root":
        # A root inside the running one's root, beside its spool folders, takes nothing from them: no refusal.
        beside = Daemon(write_config(tmp_path / "c", paths={"root": str(tmp_path / "b-root" / "c-root")}))
        daemons.append(beside)
        beside.start()
        assert beside.stop() == 0
    assert outer.stop() == 0


@pytest.mark.parametrize("lock", ["flock", "posix"])
def test_a_folder_drop_an_upload_client_holds_a_lock_on_refuses_no_start(
    tmp_path: Path, daemons: list[Daemon], lock: str
) -> None:
    """Review HK 2 (of HF 2's mend): an upload script's `flock` on its folder drop in inbox/ refused
    the start as "another spo-hotfolder uses it as its spool" (under systemd a restart loop, no
    printing while the client held its lock); HM 3 (of HL's): so did a POSIX read lock of the whole
    folder, taken for a daemon's mark (one byte at a fixed offset). Only another daemon's refuses."""
    config = write_config(tmp_path)
    assert run_cli(config, "init").returncode == 0
    drop = tmp_path / "root" / "inbox" / "upload-4001"
    drop.mkdir()
    fd = os.open(drop, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if lock == "flock":
            fcntl.flock(fd, fcntl.LOCK_SH)
        else:
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_RDLCK, 0, 0, 0, 0))
        daemon = Daemon(config)
        daemons.append(daemon)
        daemon.start()
        assert daemon.stop() == 0
    finally:
        os.close(fd)


@pytest.mark.parametrize("folder", ["root", "inbox"])
def test_a_spool_folder_another_program_holds_a_flock_on_refuses_no_start(
    tmp_path: Path, daemons: list[Daemon], folder: str
) -> None:
    """Review HQ 2: a backup script's `flock` on paths.root (or on inbox/) refused the start,
    "another spo-hotfolder already uses it": a restart loop under systemd for as long as the
    backup ran. A lock without a daemon's mark is another program's: said, and the daemon starts
    (a second daemon is still refused: it looks for the marks)."""
    config = write_config(tmp_path)
    assert run_cli(config, "init").returncode == 0
    locked = tmp_path / "root" / ("inbox" if folder == "inbox" else "")
    fd = os.open(locked, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        daemon = start_daemon(daemons, config)
        [said] = events(daemon, "daemon.folder_locked_by_another_program")
        assert said["level"] == "warning" and said["key"] == f"paths.{folder}", said
        job_id = drop_card(daemon, "810")
        daemon.wait_status(job_id, "InHotFolder")
        second = tmp_path / "second"
        other = write_config(second, paths={"root": str(second / "root"), "inbox": str(tmp_path / "root" / "inbox")})
        assert "another spo-hotfolder already uses" in run_refused(other).stderr
        assert daemon.stop() == 0
    finally:
        os.close(fd)


def test_a_metrics_port_in_use_is_said_and_the_jobs_go_on(tmp_path: Path, daemons: list[Daemon]) -> None:
    """Audit 12-05 B: a busy metrics port refused the start, and under systemd the restarts of a
    refused start end with the service stopped: no printing for want of a monitoring port. The
    daemon starts, says it in the log, and delivers (the retry: tests/unit/test_metrics.py)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        daemon = start_daemon(daemons, write_config(tmp_path, metrics={"listen": f"127.0.0.1:{port}"}))
        job_id = drop_card(daemon, "800")
        daemon.wait_status(job_id, "InHotFolder")
        [said] = events(daemon, "metrics.unavailable")
        assert said["level"] == "error" and said["listen"] == f"127.0.0.1:{port}"
        assert said["reason"] == (
            "cannot serve metrics there: the port is already in use (another spo-hotfolder, or another "
            "exporter?); tried again every 60 s, and the jobs are not affected"
        )
        assert daemon.stop() == 0


# -- health --------------------------------------------------------------------------------------------


def test_health_for_monitoring(tmp_path: Path, daemons: list[Daemon]) -> None:
    # WATCHDOG_USEC without NOTIFY_SOCKET: no systemd, but a heartbeat (health.json) every 0.5 s.
    daemon = start_daemon(daemons, write_config(tmp_path), env={"WATCHDOG_USEC": "1000000"})
    job_id = drop_card(daemon, "500")
    daemon.wait_status(job_id, "InHotFolder")

    ok = daemon.cli("health")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok: ") and len(ok.stdout.splitlines()) == 1

    def counted() -> dict[str, Any] | None:
        data: dict[str, Any] = json.loads(daemon.cli("health", "--json").stdout)
        return data if data["statuses"].get("InHotFolder") == 1 else None

    report = wait_for(counted, timeout=10, what="health --json counting the delivery")
    assert report["ok"] is True and report["watcher_alive"] is True
    assert report["pid"] == daemon.proc.pid  # type: ignore[union-attr]
    # A refused manifest in failed/ is no job, and waits for an operator all the same (review DY 1:
    # in no count, "0 failed" beside it).
    (daemon.root / "inbox" / "bad.json").write_text('{"order_id": "B1", "product": "bc", "quantity": "500 pcs"}')
    wait_for(
        lambda: json.loads(daemon.cli("health", "--json").stdout)["refused_in_failed"] == 1,
        timeout=15,
        what="health --json counting the refused manifest",
    )
    assert "0 failed, 1 refused manifest or files in failed/ (as of" in daemon.cli("health").stdout

    assert daemon.stop() == 0
    down = daemon.cli("health")
    assert down.returncode == 1
    assert down.stdout == "" and down.stderr.strip() == "spo-hotfolder: unhealthy: the daemon is not running"
    down_report = json.loads(daemon.cli("health", "--json").stdout)
    assert down_report["ok"] is False and down_report["statuses"] == {"InHotFolder": 1}
    # The same keys as while it ran (audit BQ R3: a script reading age_seconds failed on a KeyError).
    assert set(down_report) >= set(report) - {"config_error"}, set(report) - set(down_report)
    assert down_report["age_seconds"] is None and down_report["watcher_alive"] is False


def test_health_says_the_ledger_was_deleted_under_the_running_daemon(tmp_path: Path, daemons: list[Daemon]) -> None:
    """Review ES 1: the ledger file deleted while the daemon ran: it recorded into the file it had
    open, which nothing reads, `health` said ok, and what it recorded was gone at its next start."""
    daemon = start_daemon(daemons, write_config(tmp_path), env={"WATCHDOG_USEC": "1000000"})
    wait_for(lambda: daemon.cli("health").returncode == 0, timeout=10, what="health ok")
    (daemon.root / "state" / "ledger.sqlite3").unlink()
    result = wait_for(
        lambda: (r := daemon.cli("health")).returncode == 1 and r, timeout=10, what="health saying the ledger is gone"
    )
    assert "the ledger" in result.stderr and "was deleted while the daemon runs" in result.stderr, result.stderr
    assert "put the ledger back from a backup" in result.stderr
    assert any(e.get("event") == "ledger.gone" for e in daemon.log_events())


def test_health_while_the_config_file_has_an_error_reports_the_running_daemon(make_daemon) -> None:
    """Audit AJ 1: a typo saved in the config (the daemon, reloaded, keeps the config it read
    before) made `health` exit 1 with the config error: a monitoring check went red for a daemon
    running fine. It reports the daemon, and says the file's error beside it."""
    daemon = make_daemon()
    daemon.config.write_text(daemon.config.read_text().replace("settle_seconds", "settle_secs"))
    result = daemon.cli("health")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        r"ok: daemon pid \d+, watcher native, 0 jobs, 0 blocked, 0 failed \(as of \d+ s ago\)\n",
        result.stdout,
    )
    assert result.stderr.startswith("note: the config file has an error now: ")
    assert "unknown key 'settle_secs'" in result.stderr and len(result.stderr.splitlines()) == 1
    report = json.loads(daemon.cli("health", "--json").stdout)
    assert report["ok"] is True and "unknown key 'settle_secs'" in report["config_error"]
    text = daemon.config.read_text()
    daemon.config.write_text(text + "routes: [\n")  # a YAML syntax error (audit AO 1): root read by its line
    syntax = daemon.cli("health")
    assert syntax.returncode == 0, syntax.stderr
    assert syntax.stderr.startswith("note: the config file has an error now: ") and "YAML" in syntax.stderr
    daemon.config.write_text("paths: [")  # nothing to find the daemon by: the error, as before
    broken = daemon.cli("health")
    assert broken.returncode == 1 and broken.stderr.startswith("spo-hotfolder: error: invalid config: ")


def test_a_reload_that_shortens_retention_purges_at_once(make_daemon) -> None:
    """Audit AN 4: lowering retention.done_days and reloading purged nothing until the next hourly
    run; a restart purged at once."""
    daemon = make_daemon()
    job_id = drop_card(daemon, "RT")
    daemon.wait_status(job_id, "InHotFolder")
    data = yaml.safe_load(daemon.config.read_text())
    data["retention"] = {"done_days": 0}
    daemon.config.write_text(yaml.safe_dump(data, sort_keys=False))
    daemon.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
    daemon.wait_status(job_id, "JobDataDeleted", timeout=20)
    assert not (daemon.root / "done" / job_id).exists()


def test_a_reload_asked_for_while_the_config_is_still_written_reads_it_whole(make_daemon, tmp_path: Path) -> None:
    """Audit CY 4: a SIGHUP sent while an editor or a tool still wrote the config in place had the
    part written so far applied, where it was a valid config (with fewer hot folders or routes:
    jobs routed nowhere finished unprinted as skipped)."""
    daemon = make_daemon()
    data = yaml.safe_load(daemon.config.read_text())
    (tmp_path / "hot" / "extra").mkdir(parents=True)
    folders = data.pop("hot_folders")
    data["hot_folders"] = {**folders, "extra": {"path": str(tmp_path / "hot" / "extra")}}
    text = yaml.safe_dump(data, sort_keys=False)
    cut = text.index("  extra:")
    with daemon.config.open("w") as fh:
        fh.write(text[:cut])  # (a valid config by itself: without hot folder extra)
        fh.flush()
        daemon.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
        time.sleep(0.3)
        fh.write(text[cut:])
    wait_for(lambda: events(daemon, "config.reloaded"), what="config.reloaded")
    assert [e["hot_folders"] for e in events(daemon, "config.reloaded")] == [["extra", "indigo", "large"]]


def test_a_reload_to_a_hot_folder_that_does_not_exist_says_so(make_daemon, tmp_path: Path) -> None:
    """Audit D 4: a hot folder's path mistyped in a reload was said only when deliveries there
    began to fail (a start says it at once)."""
    daemon = make_daemon()
    data = yaml.safe_load(daemon.config.read_text())
    data["hot_folders"]["indigo"]["path"] = str(tmp_path / "hot" / "indgo")
    daemon.config.write_text(yaml.safe_dump(data, sort_keys=False))
    daemon.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
    wait_for(
        lambda: any(e.get("event") == "hot_folder.unavailable" for e in daemon.log_events()),
        what="hot_folder.unavailable",
    )
    [event] = [e for e in daemon.log_events() if e.get("event") == "hot_folder.unavailable"]
    assert event["hot_folder"] == "indigo" and event["path"].endswith("/hot/indgo")


def test_a_start_on_a_new_ledger_beside_job_folders_says_the_ledger_was_lost(make_daemon) -> None:
    """Audit D 2: with the ledger deleted (or emptied), the daemon started without a word beside
    job folders it no longer knew, and a RELEASE there was answered "this folder is no job's"."""
    daemon = make_daemon(blocking={"block_on_arrival": True})
    job_id = drop_card(daemon, "LL")
    wait_for(lambda: (daemon.root / "quarantine" / job_id / "STATUS.txt").is_file(), what="held")
    assert daemon.stop() == 0
    (daemon.root / "state" / "ledger.sqlite3").write_bytes(b"")
    daemon.start()
    wait_for(
        lambda: any(e.get("event") == "ledger.new_beside_job_folders" for e in daemon.log_events()),
        what="ledger.new_beside_job_folders",
    )
    [event] = [e for e in daemon.log_events() if e.get("event") == "ledger.new_beside_job_folders"]
    assert event["level"] == "error" and event["job_folders"] == [f"quarantine/{job_id}"]
    assert "put back the ledger from a backup" in event["reason"]


def test_a_crashed_daemons_temp_folder_is_removed_at_the_next_start(tmp_path: Path) -> None:
    """multiprocessing removes the fork server's /tmp/pymp-* folder at a normal exit only: each
    kill -9 left one (a crash-looping daemon run without systemd's PrivateTmp=, hundreds)."""
    temp = Path(tempfile.mkdtemp(prefix="spo-", dir="/tmp"))  # short: the socket's path has a limit
    daemon = Daemon(write_config(tmp_path), env={"TMPDIR": str(temp)})
    try:
        daemon.start()
        daemon.kill()
        left = list(temp.glob("pymp-*"))
        assert len(left) == 1
        daemon.start()
        assert not left[0].exists()
        assert daemon.stop() == 0
        assert list(temp.iterdir()) == []
    finally:
        daemon.stop()
        shutil.rmtree(temp, ignore_errors=True)


def test_a_daemon_on_a_copy_of_a_running_root_leaves_the_running_ones_temp_folder(tmp_path: Path) -> None:
    """Audit AE 5: started on a copy of a running daemon's root (a backup tried out), a daemon
    removed the temp folder the copied record named, the running daemon's: its PDF worker could
    not be started again and every later job failed."""
    temp = Path(tempfile.mkdtemp(prefix="spo-", dir="/tmp"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    running = Daemon(write_config(tmp_path / "a"), env={"TMPDIR": str(temp)})
    copy = Daemon(write_config(tmp_path / "b"), env={"TMPDIR": str(temp)})
    try:
        running.start()
        [folder] = temp.glob("pymp-*")
        (copy.root / "state").mkdir(parents=True)
        shutil.copy2(running.root / "state" / "fork-server-temp", copy.root / "state" / "fork-server-temp")
        copy.start()
        assert copy.stop() == 0
        assert folder.is_dir() and list(folder.glob("listener-*"))
    finally:
        copy.stop()
        running.stop()
        shutil.rmtree(temp, ignore_errors=True)


def test_health_after_a_crash(make_daemon) -> None:
    daemon = make_daemon()
    daemon.kill()  # SIGKILL: health.json stays behind, its pid is gone
    result = daemon.cli("health")
    assert result.returncode == 1
    assert "not running" in result.stderr and len(result.stderr.splitlines()) == 1


# -- metrics ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_over_http_after_a_delivery(make_daemon) -> None:
    port = free_port()
    daemon = make_daemon(metrics={"listen": f"127.0.0.1:{port}"})
    before = scrape(port)
    assert before[("spo_hotfolder_deliveries_total", (("hot_folder", "indigo"),))] == 0
    assert before[("spo_hotfolder_healthy", ())] == 1

    job_id = drop_card(daemon, "600")
    daemon.wait_status(job_id, "InHotFolder")
    after = scrape(port)
    assert after[("spo_hotfolder_deliveries_total", (("hot_folder", "indigo"),))] == 1
    assert after[("spo_hotfolder_jobs", (("status", "InHotFolder"),))] == 1
    assert after[("spo_hotfolder_jobs_by_stage", (("stage", "done"),))] == 1
    assert after[("spo_hotfolder_delivery_failures_total", (("hot_folder", "indigo"),))] == 0
    assert after[("spo_hotfolder_watcher_up", ())] == 1
    assert after[("spo_hotfolder_watcher_last_event_age_seconds", ())] < 60
    assert sum(v for (name, _labels), v in after.items() if name == "spo_hotfolder_watcher_mode") == 1
    assert after[("spo_hotfolder_preflight_duration_seconds_count", ())] == 1
    assert after[("spo_hotfolder_output_duration_seconds_count", ())] == 1
    assert after[("spo_hotfolder_copy_duration_seconds_count", (("hot_folder", "indigo"),))] == 1

    # Artwork complete in the inbox before its manifest: the worker checks it ahead (at intake, or
    # while the job before is delivered). Those preflights count too.
    orders = ["601", "602", "603"]
    for order_id in orders:
        make_pdf(daemon.config.parent / f"{order_id}.pdf", pages=CARD)
        os.replace(daemon.config.parent / f"{order_id}.pdf", daemon.inbox / f"{order_id}.pdf")
    for order_id in orders:
        drop(
            daemon.inbox / f"{order_id}.yaml",
            f'order_id: "{order_id}"\nproduct: bc-85x55\nquantity: 10\nartwork: [{order_id}.pdf]\n',
        )
    for order_id in orders:
        daemon.wait_status(f"{order_id}-1", "InHotFolder")
    final = scrape(port)
    assert final[("spo_hotfolder_deliveries_total", (("hot_folder", "indigo"),))] == 4
    assert final[("spo_hotfolder_preflight_duration_seconds_count", ())] == 4
    assert final[("spo_hotfolder_output_duration_seconds_count", ())] == 4
    assert daemon.stop() == 0
    assert_all_json(daemon)


def test_metrics_after_a_reload(tmp_path: Path, daemons: list[Daemon], notify_socket) -> None:
    """A hot folder added by SIGHUP gets its counters at 0 like those configured at start; a new
    metrics.listen waits for a restart, and the log and systemd's status line say so (the rest of
    the reload is applied)."""
    port, other_port = free_port(), free_port()
    daemon = start_daemon(
        daemons, write_config(tmp_path, metrics={"listen": f"127.0.0.1:{port}"}), env=systemd_env(notify_socket)
    )
    assert daemon.proc is not None
    notify_socket.wait(lambda f: "READY=1" in f, "READY=1")
    data = yaml.safe_load(daemon.config.read_text())
    (tmp_path / "hot" / "extra").mkdir()
    data["hot_folders"]["extra"] = {"path": str(tmp_path / "hot" / "extra")}
    data["metrics"]["listen"] = f"127.0.0.1:{other_port}"
    daemon.config.write_text(yaml.safe_dump(data, sort_keys=False))
    daemon.proc.send_signal(signal.SIGHUP)
    [reloaded] = wait_for(lambda: events(daemon, "config.reloaded"), what="config.reloaded")
    assert reloaded["hot_folders"] == ["extra", "indigo", "large"]
    assert reloaded["restart_needed"] == ["metrics.listen"]
    [warning] = events(daemon, "config.restart_needed")
    assert warning["level"] == "warning" and warning["key"] == "metrics.listen"
    assert (warning["running"], warning["configured"]) == (f"127.0.0.1:{port}", f"127.0.0.1:{other_port}")
    after = scrape(port)  # still served where it was
    assert after[("spo_hotfolder_deliveries_total", (("hot_folder", "extra"),))] == 0
    assert after[("spo_hotfolder_delivery_failures_total", (("hot_folder", "extra"),))] == 0
    with pytest.raises(OSError):
        scrape(other_port)
    waits = f"metrics.listen 127.0.0.1:{other_port} waits for a restart (serving 127.0.0.1:{port}); "
    notify_socket.wait(lambda f: any(x.startswith("STATUS=config reload at ") and waits in x for x in f), "the status")

    # Back to the address it serves: nothing waits for a restart any more.
    data["metrics"]["listen"] = f"127.0.0.1:{port}"
    daemon.config.write_text(yaml.safe_dump(data, sort_keys=False))
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: len(events(daemon, "config.reloaded")) == 2, what="the second config.reloaded")
    assert events(daemon, "config.reloaded")[1]["restart_needed"] == []
    assert len(events(daemon, "config.restart_needed")) == 1
    notify_socket.wait(
        lambda f: "waits for a restart" not in [x for x in f if x.startswith("STATUS=")][-1], "the status"
    )
    assert daemon.stop() == 0


# -- logs --------------------------------------------------------------------------------------------------


# A PDF pypdf must mend fails preflight by default (check "repaired"); these tests want it delivered.
MENDED_PASSES = {"checks": {"repaired": "warning"}}


def deliver_a_card_pypdf_warns_about(daemon: Daemon, order_id: str) -> None:
    """A PDF with a wrong startxref: pypdf logs warnings (in the PDF worker process), the job is delivered
    (with ``validation=MENDED_PASSES`` in the config)."""
    art = daemon.inbox / f"{order_id}.pdf"
    make_pdf(art, pages=CARD)
    art.write_bytes(re.sub(rb"startxref\s+\d+", b"startxref\n99", art.read_bytes()))
    manifest = f'order_id: "{order_id}"\nproduct: bc-85x55\nquantity: 1\nartwork: [{{path: {order_id}.pdf}}]\n'
    drop(daemon.inbox / f"{order_id}.yaml", manifest)
    daemon.wait_status(f"{order_id}-1", "InHotFolder")


def pypdf_lines(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if str(e.get("logger", "")).startswith("pypdf")]


def reload_logging(daemon: Daemon, **logging: str) -> None:
    data = yaml.safe_load(daemon.config.read_text())
    data["logging"] = logging
    daemon.config.write_text(yaml.safe_dump(data, sort_keys=False))
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: events(daemon, "config.reloaded"), what="config.reloaded")


def test_every_output_line_is_json_including_library_warnings(tmp_path: Path, daemons: list[Daemon]) -> None:
    # format auto, no terminal: JSON, the PDF worker's lines too.
    config = write_config(tmp_path, logging={"level": "info", "format": "auto"}, validation=MENDED_PASSES)
    daemon = start_daemon(daemons, config)
    deliver_a_card_pypdf_warns_about(daemon, "700")
    assert daemon.stop() == 0
    assert_all_json(daemon)
    lines = pypdf_lines(daemon.log_events())
    # (with the job's id, as the daemon's own lines: a log searched for the job finds them; audit Y)
    assert lines and all(line["job_id"] == "700-1" for line in lines), lines
    # The mending is a preflight warning too, logged at warning level with the job it belongs to.
    [warned] = [e for e in daemon.log_events() if e["event"] == "preflight.warnings"]
    assert warned["level"] == "warning" and warned["job_id"] == "700-1"
    assert warned["warnings"][0].startswith("artwork '700.pdf' is damaged (")


def test_a_pdf_the_reader_warns_about_hundreds_of_times_gives_twenty_lines_and_a_count(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    """Audit BF 2: one damaged upload made pypdf log 3,728 warnings ("Object 17 0 not defined."),
    one line each. The first 20 are logged, then one line with how many were left out."""
    daemon = start_daemon(daemons, write_config(tmp_path, logging={"level": "info", "format": "json"}))
    data = make_pdf(tmp_path / "long.pdf", pages=[(91, 61)] * 300).read_bytes()
    xref = data.rindex(b"\nxref")
    gutted = data[:3000] + data[xref:]  # its objects gone, its table of them kept
    (daemon.inbox / "900.pdf").write_bytes(re.sub(rb"startxref\s+\d+", b"startxref\n3001", gutted))
    drop(daemon.inbox / "900.yaml", 'order_id: "900"\nproduct: bc-85x55\nquantity: 1\nartwork: [900.pdf]\n')
    daemon.wait_status("900-1", "ValidationFailed")
    log = daemon.log_events()
    [left_out] = [e for e in log if e["event"] == "pypdf.warnings_left_out"]
    assert len(pypdf_lines(log)) == 20 and left_out["count"] > 200
    assert left_out["artwork"] == [str(daemon.root / "work" / "900-1" / "artwork" / "900.pdf")]


def test_a_reload_to_json_logs_reaches_the_pdf_worker(tmp_path: Path, daemons: list[Daemon]) -> None:
    config = write_config(tmp_path, logging={"level": "info", "format": "console"}, validation=MENDED_PASSES)
    daemon = start_daemon(daemons, config)
    deliver_a_card_pypdf_warns_about(daemon, "710")
    assert any("pypdf" in e["line"] for e in daemon.log_events() if e["event"] == "NOT-JSON")  # console

    reload_logging(daemon, level="info", format="auto")  # no terminal: JSON from now on
    deliver_a_card_pypdf_warns_about(daemon, "711")
    assert daemon.stop() == 0
    logged = daemon.log_events()
    since = logged[next(i for i, e in enumerate(logged) if e["event"] == "config.reloaded") :]
    assert not [e["line"] for e in since if e["event"] == "NOT-JSON"], "lines that are not one JSON object"
    assert pypdf_lines(since), since  # the worker's warnings, as JSON
    history = statuses(daemon.job("711-1") or {"history": []})
    assert len(history) == len(set(history)) and "InHotFolder" in history, history  # nothing lost or redone


def test_the_log_level_applies_to_the_pdf_worker_and_a_reload_changes_it(tmp_path: Path, daemons: list[Daemon]) -> None:
    config = write_config(tmp_path, logging={"level": "error", "format": "json"}, validation=MENDED_PASSES)
    daemon = start_daemon(daemons, config)
    deliver_a_card_pypdf_warns_about(daemon, "720")
    assert not pypdf_lines(daemon.log_events()), daemon.log_text()  # warnings: below "error"

    reload_logging(daemon, level="info", format="json")
    deliver_a_card_pypdf_warns_about(daemon, "721")
    assert daemon.stop() == 0
    assert_all_json(daemon)
    assert pypdf_lines(daemon.log_events())  # the same PDF warns: the worker now logs at info


def test_a_crash_renders_as_json_without_local_variables(tmp_path: Path) -> None:
    code = (
        "from spo_hotfolder.logsetup import setup_logging\n"
        "import warnings\n"
        "setup_logging('info', 'auto')\n"
        "warnings.warn('a library is unhappy', UserWarning, stacklevel=1)\n"
        "secret = 'customer-data'\n"
        "raise RuntimeError('boom')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert result.stderr == ""
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["event"] for line in lines][-1] == "daemon.crashed"
    [warned] = [line for line in lines if line["event"] == "python.warning"]
    assert "UserWarning: a library is unhappy" in warned["message"]
    assert "customer-data" not in result.stdout
    assert lines[-1]["exception"][0]["exc_value"] == "boom"


def test_jobs_and_show_while_the_config_file_has_an_error_read_the_spool_it_names(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    """(soak audit) While the config file had an error (a reload keeps the config the daemon read
    before), every `jobs` and `show` was refused "invalid config": an operator could not look at
    the jobs of a daemon serving them. They read the spool the file names, and say the error on
    stderr; a file that names no spool is refused as before."""
    config = write_config(tmp_path)
    daemon = start_daemon(daemons, config)
    job_id = drop_card(daemon, "501")
    daemon.wait_status(job_id, "InHotFolder")
    good_jobs = json.loads(daemon.cli("jobs", "--json").stdout)
    good_show = json.loads(daemon.cli("show", job_id, "--json").stdout)
    config.write_text(config.read_text().replace("settle_seconds", "settle_secs"))
    listed = daemon.cli("jobs", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == good_jobs  # (delivered: its hot folder is recorded)
    assert listed.stderr.startswith("note: the config file has an error now: ")
    assert "unknown key 'settle_secs'" in listed.stderr and len(listed.stderr.splitlines()) == 1
    shown = daemon.cli("show", job_id, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == good_show
    config.write_text("paths: [")  # nothing to find the spool by: the error, as before
    broken = daemon.cli("jobs")
    assert broken.returncode == 1 and broken.stderr.startswith("spo-hotfolder: error: invalid config: ")
    assert daemon.stop() == 0


def test_operator_commands_while_the_config_file_has_an_error_go_to_the_running_daemon(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    """(soak audit) With a typo in the config file, a running daemon keeps the config it read and
    reads drop files as before; `release` and the other commands, refused "invalid config", are
    handed to it too (a note on stderr says the error). With no daemon running, the error, and
    nothing left queued."""
    config = write_config(tmp_path, blocking={"block_on_arrival": True})
    daemon = start_daemon(daemons, config)
    first, second = drop_card(daemon, "601"), drop_card(daemon, "602")
    daemon.wait_status(first, "OutputCreated")
    daemon.wait_status(second, "OutputCreated")
    config.write_text(config.read_text().replace("settle_seconds", "settle_secs"))
    released = daemon.cli("release", first, "--by", "alice")
    assert released.returncode == 0, released.stderr
    assert released.stdout.startswith(f"{first}: released by alice")
    assert released.stderr.startswith("note: the config file has an error now: ")
    assert "unknown key 'settle_secs'" in released.stderr and len(released.stderr.splitlines()) == 1
    daemon.wait_status(first, "InHotFolder")
    assert daemon.stop() == 0
    refused = daemon.cli("release", second, "--by", "alice")
    assert refused.returncode == 1 and refused.stderr.startswith("spo-hotfolder: error: invalid config: ")
    assert os.listdir(tmp_path / "root" / "state" / "commands") == []
    assert daemon.cli("show", second, "--json").stdout.count('"removed_by": "alice"') == 0


def _daemon_with_stdout(daemons: list[Daemon], tmp_path: Path, stdout: Any, **popen: Any) -> Daemon:
    """A daemon whose stdout is ``stdout`` (stderr: its log file), for the tests below."""
    daemon = Daemon(write_config(tmp_path))
    daemons.append(daemon)
    with open(daemon.log_path, "ab") as log:
        daemon.proc = subprocess.Popen(
            [sys.executable, "-m", "spo_hotfolder.cli", "-c", str(daemon.config), "run"],
            stdout=stdout,
            stderr=log,
            env=daemon.env,
            cwd=daemon.config.parent,
            **popen,
        )
    health = daemon.root / "state" / "health.json"
    wait_for(lambda: health.exists() and json.loads(health.read_text())["pid"] == daemon.proc.pid, what="ready")
    return daemon


def test_a_log_pipe_whose_reader_is_gone_costs_one_line_on_stderr_not_a_traceback_a_line(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    """Audit (2026-12-05 Y 1): with stdout a pipe whose reader had gone (`run | head -2`, a dead log
    shipper), every log line put logging's "--- Logging error ---" traceback on stderr (534 lines
    for two orders). The daemon goes on, its lines dropped, and says it once, as one JSON line."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the daemon writes a line
    try:
        daemon = _daemon_with_stdout(daemons, tmp_path, write)
    finally:
        os.close(write)
    for order_id in ("601", "602"):
        daemon.wait_status(drop_card(daemon, order_id), "InHotFolder")
    assert daemon.stop() == 0
    lines = daemon.log_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["log.output_failed"], lines
    said = json.loads(lines[0])
    assert "BrokenPipeError" in said["message"] and said["level"] == "error"
    assert said["timestamp"].endswith("Z") and said["logger"] == "spo_hotfolder"


def test_a_daemon_started_with_stdout_closed_logs_to_stderr(tmp_path: Path, daemons: list[Daemon]) -> None:
    """Audit (2026-12-05 Y 2): `run >&-` died at start with a traceback (Python's sys.stdout is None).
    Its log goes to stderr; the numbers 0-2 hold /dev/null, never a file the daemon opens."""
    daemon = _daemon_with_stdout(daemons, tmp_path, None, preexec_fn=lambda: os.close(1))
    assert daemon.proc is not None
    daemon.wait_status(drop_card(daemon, "611"), "InHotFolder")
    assert str(Path(f"/proc/{daemon.proc.pid}/fd/1").readlink()) == os.devnull
    assert daemon.stop() == 0
    names = [json.loads(line)["event"] for line in daemon.log_text().splitlines()]
    assert {"daemon.started", "delivery.completed"} <= set(names) and names[-1] == "daemon.stopped", names


def test_an_offline_command_this_user_cannot_carry_out_changes_nothing_and_says_so(daemons: list[Daemon]) -> None:
    """Audit (2026-12-05 N3 1): with the daemon stopped, an operator in its group (work/ is the
    daemon's own, 2755) ran `release`: the ledger recorded the release, the folder's move into
    work/ failed, the command said "Permission denied" (exit 1), and the job printed at the next
    start. A command this user cannot carry out now changes nothing, and says what to do."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the command as another user")
    base = Path(tempfile.mkdtemp(prefix="spo-op-", dir="/tmp"))
    base.chmod(0o755)
    try:
        config = write_config(base, blocking={"block_on_arrival": True})
        config.chmod(0o644)
        daemon = start_daemon(daemons, config)
        job_id = drop_card(daemon, "801")
        wait_for(lambda: (daemon.job(job_id) or {}).get("folder") == f"quarantine/{job_id}", what="held")
        assert daemon.stop() == 0
        root = base / "root"
        for path in [root, *root.rglob("*")]:
            if path != root / "work":
                os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
        (root / "work").chmod(0o755)  # root's: the operator may not write there
        before = daemon.job(job_id)
        result = subprocess.run(
            as_nobody(sys.executable, "-m", "spo_hotfolder.cli", "-c", str(config), "release", job_id, "--by", "rita"),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 1, result.stderr
        # (its whole stderr in the message: a run under load once had more than one line there,
        # and which lines, the ValueError of an unpacking did not say)
        assert len(result.stderr.splitlines()) == 1, result.stderr
        [line] = result.stderr.splitlines()
        assert "this user may not write in work/" in line and "nothing was changed" in line, line
        assert daemon.job(job_id) == before, "nothing recorded"
        assert (root / "quarantine" / job_id).is_dir()
        assert not list((root / "state" / "commands").glob("*.json")), "no command left for the daemon to do"
    finally:
        shutil.rmtree(base, ignore_errors=True)
