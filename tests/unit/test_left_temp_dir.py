"""The fork server's temp folder (``pymp-*``) left behind by a daemon killed with -9 is removed at
the next start (``service.sweep_left_temp_dir``), and nothing else is."""

from __future__ import annotations

import multiprocessing.util
import os
import stat
from pathlib import Path

from spo_hotfolder.service import sweep_left_temp_dir


def left_dir(tmp_path: Path, name: str = "pymp-abc123", extra: str | None = None) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    os.mknod(folder / "listener-xyz", stat.S_IFSOCK | 0o600)  # what multiprocessing leaves there
    if extra:
        (folder / extra).write_text("not ours")
    return folder


def test_the_folder_a_killed_daemon_left_is_removed_and_this_one_named(tmp_path: Path) -> None:
    folder = left_dir(tmp_path)
    record = tmp_path / "fork-server-temp"
    record.write_text(f"{folder}\n")
    sweep_left_temp_dir(record)
    assert not folder.exists()
    assert record.read_text().strip() == multiprocessing.util.get_temp_dir()


def test_a_folder_holding_anything_else_is_left(tmp_path: Path) -> None:
    folder = left_dir(tmp_path, extra="notes.txt")
    other = left_dir(tmp_path, name="keep-me")
    for kept in (folder, other):
        record = tmp_path / "fork-server-temp"
        record.write_text(f"{kept}\n")
        sweep_left_temp_dir(record)
        assert (kept / "listener-xyz").exists()


def test_a_link_to_such_a_folder_is_left(tmp_path: Path) -> None:
    folder = left_dir(tmp_path)
    link = tmp_path / "pymp-link"
    link.symlink_to(folder)
    record = tmp_path / "fork-server-temp"
    record.write_text(f"{link}\n")
    sweep_left_temp_dir(record)
    assert (folder / "listener-xyz").exists() and link.is_symlink()


def test_no_record_or_a_gone_folder_is_nothing_to_do(tmp_path: Path) -> None:
    record = tmp_path / "fork-server-temp"
    sweep_left_temp_dir(record)  # the first start
    assert record.read_text().strip() == multiprocessing.util.get_temp_dir()
    record.write_text(f"{tmp_path / 'pymp-gone'}\n")  # removed at its daemon's normal exit
    sweep_left_temp_dir(record)
    assert record.read_text().strip() == multiprocessing.util.get_temp_dir()
