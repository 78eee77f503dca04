"""Test harness: the real daemon as a subprocess on tmp folders, and the CLI as a subprocess."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from spo_hotfolder.cli import main as cli_main

ROOT = Path(__file__).resolve().parent.parent
#: The shared real-world PDF corpus (beside the project, or where SPO_PDF_CORPUS says); the tests
#: that need it are skipped where it is not.
CORPUS = Path(os.environ.get("SPO_PDF_CORPUS") or ROOT.parent / "shared" / "pdf-corpus")


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05, what: str = "") -> Any:
    """Polls ``predicate`` until it returns something truthy; fails the test after ``timeout``. A
    file the predicate reads that is not there yet (FileNotFoundError) is "not yet": a new job's
    STATUS.txt comes at the daemon's next flush of them, not with its folder."""
    deadline = time.monotonic() + timeout
    missing: FileNotFoundError | None = None
    while True:
        try:
            value = predicate()
        except FileNotFoundError as exc:
            value, missing = None, exc
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what or predicate}" + (f" ({missing})" if missing else "")
            )
        time.sleep(interval)


def write_config(tmp: Path, **sections: Any) -> Path:
    """A config under ``tmp`` (root ``tmp/root``, hot folders ``tmp/hot/<name>``) with fast timings."""
    hot = tmp / "hot"
    config: dict[str, Any] = {
        "paths": {"root": str(tmp / "root")},
        "watch": {
            "settle_seconds": 0.3,
            "rescan_seconds": 2,
            "artwork_timeout_seconds": 30,
            "poll_interval_seconds": 0.2,
        },
        "products": {"bc-*": {"trim_mm": [85, 55], "bleed_mm": 3, "pages": 2}},
        "hot_folders": {
            "indigo": {"path": str(hot / "indigo")},
            "large": {"path": str(hot / "large"), "ticket": "json"},
        },
        "routes": [
            {"when": {"product": "bc-*"}, "to": "indigo"},
            {"when": {"product": "poster-*"}, "to": "large"},
            {"to": "skip"},
        ],
        "delivery": {"max_attempts": 3, "backoff_seconds": [0.5, 1]},
        "logging": {"level": "info", "format": "json"},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict) and key != "products":
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    for spec in config.get("hot_folders", {}).values():
        if not spec.get("_missing"):
            Path(spec["path"]).mkdir(parents=True, exist_ok=True)
        spec.pop("_missing", None)
    path = tmp / "spo-hotfolder.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class Daemon:
    """``spo-hotfolder run`` as a subprocess; stopped (SIGTERM, then SIGKILL) at teardown."""

    def __init__(self, config: Path, env: dict[str, str] | None = None, prefix: list[str] | None = None) -> None:
        self.config = config
        self.prefix = prefix or []  # e.g. prlimit's
        cfg = yaml.safe_load(config.read_text())
        self.root = Path(cfg["paths"]["root"])
        self.log_path = config.parent / "daemon.log"
        self.env = {**os.environ, **(env or {})}
        self.env.pop("NOTIFY_SOCKET", None) if env is None or "NOTIFY_SOCKET" not in env else None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    def start(self, wait: bool = True) -> Daemon:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [*self.prefix, sys.executable, "-m", "spo_hotfolder.cli", "-c", str(self.config), "run"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.config.parent,
            )
        if wait:
            health = self.root / "state" / "health.json"
            wait_for(lambda: self._ready(health), timeout=20, what="daemon ready")
        return self

    def _ready(self, health: Path) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.log_text()}")
        try:
            return int(json.loads(health.read_text())["pid"]) == self.proc.pid
        except (OSError, ValueError, KeyError):
            return False

    def stop(self, timeout: float = 30) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("daemon did not stop within 30 s of SIGTERM") from None
        rc = self.proc.returncode
        self.proc = None
        return rc

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        # the PDF worker process may outlive a SIGKILLed parent for a moment; it exits on its own.

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_events(self) -> list[dict[str, Any]]:
        events = []
        for line in self.log_text().splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                events.append({"event": "NOT-JSON", "line": line})
        return events

    def cli(self, *args: str, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return run_cli(self.config, *args, check=check, timeout=timeout)

    def job(self, job_id: str) -> dict[str, Any] | None:
        """``show JOB --json`` (None: no such job yet). Run in this process: the command's own code
        (``cli.main``), without a new Python for each look, which waits poll many times; tests of
        the command as a program use ``cli``."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli_main(["-c", str(self.config), "show", job_id, "--json"])
        if code != 0:
            return None
        data: dict[str, Any] = json.loads(out.getvalue())
        return data

    def wait_status(self, job_id: str, status: str, timeout: float = 20) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            job = self.job(job_id)
            return job if job and job["status"] == status else None

        try:
            result: dict[str, Any] = wait_for(check, timeout=timeout, interval=0.1, what=f"{job_id} {status}")
        except AssertionError:
            raise AssertionError(
                f"{job_id} never reached {status}; now: {self.job(job_id)}\n{self.log_text()[-4000:]}"
            ) from None
        return result


def run_cli(config: Path, *args: str, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "spo_hotfolder.cli", "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"spo-hotfolder {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


def statuses(job: dict[str, Any]) -> list[str]:
    return [entry["status"] for entry in job["history"]]


def files_to_overflow_inotify() -> int:
    """How many new files (IN_CREATE, IN_MODIFY, IN_CLOSE_WRITE each) overflow the kernel's inotify
    queue (``fs.inotify.max_queued_events``), with room to spare; the test is skipped where the
    queue is too big to fill in a test."""
    import pytest

    from spo_hotfolder.watcher import inotify_setting

    limit = inotify_setting("max_queued_events")
    if limit is None or int(limit) > 200_000:
        pytest.skip(f"fs.inotify.max_queued_events is {limit}: too many files to overflow it here")
    return int(limit) // 3 + 2000


def drop(path: Path, data: bytes | str) -> Path:
    """Publishes a file the way a careful client does: temp name, then rename (complete on arrival)."""
    payload = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.uploading")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(payload)
    os.replace(tmp, path)
    return path


def rewrite_keeping_time(path: Path, data: bytes) -> None:
    """Writes ``data`` over ``path`` in place and puts its modification time back, as ``cp -p``,
    ``rsync --inplace -t`` or an SMB client keeping the source's time do: the same inode and, for
    data of the same size, the same size and mtime; only the change time tells."""
    st = path.stat()
    with open(path, "r+b") as fh:
        fh.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
