"""A PDF worker that cannot be started: said at the daemon's start, not as every job's failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from spo_hotfolder import pdfwork, service
from spo_hotfolder.config import load_config
from spo_hotfolder.service import Daemon, StartupError, prepare_folders
from tests.daemon import write_config


def _cannot_start(*args: Any, **kwargs: Any) -> None:
    raise OSError(111, "Connection refused")


def test_a_worker_that_cannot_start_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdfwork, "_Process", _cannot_start)
    worker = pdfwork.PdfWorker()
    try:
        assert worker.wait_ready(10)
        assert worker.start_error == "[Errno 111] Connection refused"
    finally:
        worker.close()


def test_the_daemon_refuses_to_start_when_its_pdf_worker_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(sysadmin audit) The forkserver could not start (run as a user who may not use the
    interpreter's folders): the daemon said "daemon.started", then failed every job
    "ValidationFailed: the PDF checker could not run" into failed/. It refuses to start now, in one
    line that says what to look at; systemd's restarts try again."""
    config = load_config(write_config(tmp_path))
    prepare_folders(config)
    monkeypatch.setattr(pdfwork, "_Process", _cannot_start)
    daemon = Daemon(config)
    with capture_logs() as logs, pytest.raises(StartupError) as refused:
        try:
            daemon.start()
        finally:
            daemon.shutdown(refused=True)
    # Not said started first (audit P: "daemon.started", then "daemon.refused" 0.6 s later).
    assert "daemon.started" not in [entry["event"] for entry in logs]
    assert str(refused.value).startswith(
        "the PDF worker process could not be started ([Errno 111] Connection refused); every job would fail its "
        "check: see that this user may write the temp folder ($TMPDIR, else /tmp) and run the interpreter "
    )
    assert service.sys.executable in str(refused.value)


def test_a_worker_that_dies_as_it_starts_says_its_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its warm-up unanswered (the process ended: an import that fails, a memory limit too low).
    (The forked process ends first thing: forked from a test process with other tests' threads, it
    could hang on a lock one of them held, in its set-up, and never end: the test failed at times.)"""
    monkeypatch.setattr(pdfwork, "_serve", _exit_at_once)
    worker = pdfwork.PdfWorker(start_method="fork")
    try:
        assert worker.wait_ready(30)
        assert worker.start_error == "it ended as it started, exit code 3"
    finally:
        worker.close()


def _exit_at_once(*args: Any) -> int:
    import os

    os._exit(3)
