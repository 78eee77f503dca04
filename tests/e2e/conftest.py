"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.daemon import Daemon, write_config
from tests.e2e.killing import TreeDaemon


@pytest.fixture
def start(tmp_path: Path, daemons: list[Daemon]):  # type: ignore[no-untyped-def]
    def factory(run: bool = True, **sections: object) -> TreeDaemon:
        daemon = TreeDaemon(write_config(tmp_path, **sections))
        daemons.append(daemon)
        if run:
            daemon.start()
        return daemon

    return factory
