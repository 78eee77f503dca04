"""Fixtures of the unit tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import spo_hotfolder.fsutil as fsutil


def fd_path(fd: int) -> str:
    """The path a descriptor of this process is open on."""
    return str(Path(f"/proc/self/fd/{fd}").readlink())


@pytest.fixture
def fsynced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths fsynced during the test, in order (the fsyncs still happen)."""
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd_path(fd))
        real(fd)

    monkeypatch.setattr(fsutil.os, "fsync", fsync)
    return synced
