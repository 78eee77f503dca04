"""Shared fixtures: no test may leak a daemon process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
