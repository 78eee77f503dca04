"""What a start says of the machine it runs on, where it would otherwise crash or surprise: a hot
folder the daemon's user may not look at (a folder above it of another account, mode 0700; a share
mounted with another uid): said, and only its jobs fail, as with one missing; a umask that keeps
operators out of the job folders."""

from __future__ import annotations

import errno
import json
import os
import struct
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from spo_hotfolder.config import load_config
from spo_hotfolder.service import Daemon, prepare_folders
from tests.daemon import write_config


def _refuse_looking_at(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """``folder`` (and what is in it) refuses every look, as under a folder of mode 0700 of another
    account (the tests run as root, whom no mode keeps out)."""
    real = os.stat

    def stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if isinstance(path, (str, bytes, os.PathLike)) and Path(os.fsdecode(path)).is_relative_to(folder):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)


def test_a_hot_folder_the_daemon_may_not_look_at_is_said_at_start_and_at_a_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Audit BH 2: the start's look at the hot folders (``Path.exists``, which raises on EACCES)
    crashed the daemon at every start (systemd's restarts gave up: no job served, those of the other
    printers neither), and refused every reload while it lasted."""
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    prepare_folders(config)
    _refuse_looking_at(monkeypatch, tmp_path / "hot" / "large")
    daemon = Daemon(config)
    try:
        with capture_logs() as logs:
            daemon.start()
        [said] = [e for e in logs if e["event"] == "hot_folder.unavailable"]
        assert said["hot_folder"] == "large" and "cannot look at it: Permission denied" in said["reason"]
        assert said["effect"] == "deliveries there fail and are retried until the daemon may use it"
        assert "daemon.started" in [e["event"] for e in logs]
        config_path.write_text(config_path.read_text().replace("max_attempts: 3", "max_attempts: 4"))
        capsys.readouterr()
        daemon.reload()  # (the daemon's own log now: JSON lines on stdout)
        logs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        events = [e["event"] for e in logs]
        assert "config.reload_failed" not in events and "config.reloaded" in events, logs
        assert [e["hot_folder"] for e in logs if e["event"] == "hot_folder.unavailable"] == ["large"]
        assert daemon.config.delivery.max_attempts == 4
    finally:
        daemon.shutdown()


def _default_acl(folder: Path, group: int) -> None:
    """``setfacl -d -m u::rwx,g::<group>,o::r-x folder``, written as the kernel reads it (no acl
    package needed)."""
    undefined = 0xFFFFFFFF
    entries = [(0x01, 7, undefined), (0x04, group, undefined), (0x10, 7, undefined), (0x20, 5, undefined)]
    blob = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *entry) for entry in entries)
    try:
        os.setxattr(folder, "system.posix_acl_default", blob)
    except OSError as exc:
        pytest.skip(f"this filesystem takes no ACL: {exc}")


@pytest.mark.parametrize(
    "umask",
    [0o022, 0o002, "acl rwx", "acl r-x"],
    ids=["022", "002", "022 with a default ACL g::rwx", "022 with a default ACL g::r-x"],
)
def test_a_umask_that_keeps_operators_out_of_the_job_folders_is_said_at_start(tmp_path: Path, umask: int | str) -> None:
    """Audit BH 5: the daemon started by hand from a root shell (`runuser -u spo-hotfolder -- ...`,
    umask 022) on a spool set up for operators: its job folders were 2755, operators' RELEASE
    files refused ("Permission denied"), and nothing said why. Not said where a default ACL gives
    the group write whatever the umask (review IB 5), said where it does not (review IC 6)."""
    config = load_config(write_config(tmp_path))
    prepare_folders(config)
    config.paths.quarantine.chmod(0o2775)  # (set up for operators in the group, as tmpfiles.d does)
    acl = umask == "acl rwx"
    if isinstance(umask, str):
        _default_acl(config.paths.quarantine, 0o7 if acl else 0o5)
        umask = 0o022
    assert isinstance(umask, int)
    daemon = Daemon(config)
    old = os.umask(umask)
    try:
        with capture_logs() as logs:
            daemon.start()
    finally:
        os.umask(old)
        daemon.shutdown()
    said = [e for e in logs if e["event"] == "daemon.umask_not_shared"]
    if umask == 0o002 or acl:
        assert said == []
    else:
        assert [e["umask"] for e in said] == ["0022"]
        assert "umask 0002" in said[0]["action"] and "RELEASE" in said[0]["reason"]
