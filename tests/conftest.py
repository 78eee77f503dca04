"""Shared fixtures: no test may leak a daemon process, nor its logging setup."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from spo_hotfolder.logsetup import ENV_WORKER
from tests.daemon import Daemon, write_config


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        try:
            daemon.stop(timeout=15)
        except AssertionError:
            daemon.kill()


@pytest.fixture
def make_daemon(tmp_path: Path, daemons: list[Daemon]):  # type: ignore[no-untyped-def]
    """make_daemon(**config_sections) -> a started Daemon on tmp folders."""

    def factory(start: bool = True, **sections: object) -> Daemon:
        daemon = Daemon(write_config(tmp_path, **sections))
        daemons.append(daemon)
        if start:
            daemon.start()
        return daemon

    return factory


@pytest.fixture(autouse=True)
def _logging_left_as_it_was(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A command run in-process (``main(["release", ...])``) sets up logging for its process:
    structlog's configuration, the root logger's handler and level, the hooks, the worker's setting.
    Each test gets them back as they were, and structlog never caches a logger meanwhile (a cached
    one would keep that setup for good), so that ``capture_logs`` sees the events of every later
    test in whatever order the tests run (``pytest -n``: the order differs from run to run)."""
    configure = structlog.configure

    def uncached(**settings: Any) -> None:
        configure(**{**settings, "cache_logger_on_first_use": False})

    monkeypatch.setattr(structlog, "configure", uncached)
    config = structlog.get_config()
    processors = config["processors"]
    kept = list(processors)
    settings = {key: value for key, value in config.items() if key != "processors"}
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    hooks = threading.excepthook, sys.excepthook
    worker = os.environ.get(ENV_WORKER)
    yield
    processors[:] = kept  # the same list: loggers bound meanwhile hold it (capture_logs relies on that)
    configure(processors=processors, **settings)
    root.handlers[:] = handlers
    root.setLevel(level)
    threading.excepthook, sys.excepthook = hooks
    logging.captureWarnings(False)
    if worker is None:
        os.environ.pop(ENV_WORKER, None)
    else:
        os.environ[ENV_WORKER] = worker
