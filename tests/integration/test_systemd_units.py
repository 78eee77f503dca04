"""The systemd files: the unit verifies cleanly, sysusers/tmpfiles apply, the installed config is valid."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spo_hotfolder.config import load_config
from spo_hotfolder.service import Daemon

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "systemd"
UNIT = SYSTEMD / "spo-hotfolder.service"
INSTALLED_BINARY = "/usr/local/bin/spo-hotfolder"


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (it comes with systemd)")
    return path


def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_the_unit_verifies_without_a_single_warning(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")
    # verify checks that ExecStart= exists: point it at this venv's command (the unit says
    # /usr/local/bin/spo-hotfolder, a symlink made by `make install`).
    binary = Path(sys.executable).with_name("spo-hotfolder")
    assert binary.is_file(), "the package is not installed in this venv"
    text = UNIT.read_text()
    assert INSTALLED_BINARY in text
    (tmp_path / UNIT.name).write_text(text.replace(INSTALLED_BINARY, str(binary)))
    result = subprocess.run(
        [analyze, "verify", UNIT.name], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    # verify exits 0 on unknown keys and bad values, and only complains on stderr.
    assert result.stderr == "", result.stderr
    assert result.returncode == 0


def test_the_unit_follows_the_service_contract() -> None:
    s = unit_settings(UNIT.read_text())
    assert s["Type"] == ["notify"]
    assert s["ExecStart"] == [f"{INSTALLED_BINARY} -c /etc/spo-hotfolder/spo-hotfolder.yaml run"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["Restart"] == ["on-failure"]
    assert s["User"] == ["spo-hotfolder"] and s["Group"] == ["spo-hotfolder"]
    assert s["UMask"] == ["0002"]
    assert s["ProtectSystem"] == ["strict"]
    assert "/var/lib/spo-hotfolder" in s["ReadWritePaths"]
    assert s["NoNewPrivileges"] == ["yes"] and s["PrivateTmp"] == ["yes"]
    assert set(s["RestrictAddressFamilies"][0].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert int(s["WatchdogSec"][0]) >= 10
    # The daemon's own stop is bounded at ~40 s (service.Daemon.shutdown): systemd must wait longer.
    assert int(s["TimeoutStopSec"][0]) > 40
    assert Daemon.shutdown.__doc__ is not None and "40 s" in Daemon.shutdown.__doc__


def test_every_unit_line_is_commented_by_section() -> None:
    # Every hardening option has a comment above it (in its block): no bare, unexplained lines.
    text = UNIT.read_text()
    service = text.split("[Service]", 1)[1].split("[Install]", 1)[0]
    blocks = [b for b in re.split(r"\n\s*\n", service) if b.strip()]
    for block in blocks:
        assert block.lstrip().startswith("#"), f"an uncommented block in the unit:\n{block}"


def test_the_drop_in_example_is_a_valid_drop_in(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")
    binary = Path(sys.executable).with_name("spo-hotfolder")
    (tmp_path / UNIT.name).write_text(UNIT.read_text().replace(INSTALLED_BINARY, str(binary)))
    example = SYSTEMD / "spo-hotfolder.service.d" / "hot-folders.conf.example"
    # A unit with the drop-in's lines appended is what systemd builds from unit + drop-in.
    merged = (tmp_path / UNIT.name).read_text() + "\n" + example.read_text()
    (tmp_path / UNIT.name).write_text(merged)
    result = subprocess.run(
        [analyze, "verify", UNIT.name], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stderr == "", result.stderr
    settings = unit_settings(example.read_text())
    assert settings["RequiresMountsFor"] and settings["ReadWritePaths"]


@pytest.mark.skipif(os.geteuid() != 0, reason="systemd-tmpfiles gives the folders their owner: root only")
def test_sysusers_and_tmpfiles_make_the_account_and_group_writable_setgid_folders(tmp_path: Path) -> None:
    sysusers, tmpfiles = tool("systemd-sysusers"), tool("systemd-tmpfiles")
    root = tmp_path / "sysroot"
    (root / "etc" / "sysusers.d").mkdir(parents=True)
    (root / "etc" / "tmpfiles.d").mkdir(parents=True)
    shutil.copy(SYSTEMD / "spo-hotfolder.sysusers", root / "etc" / "sysusers.d" / "spo-hotfolder.conf")
    shutil.copy(SYSTEMD / "spo-hotfolder.tmpfiles", root / "etc" / "tmpfiles.d" / "spo-hotfolder.conf")
    for argv in (
        [sysusers, f"--root={root}", "spo-hotfolder.conf"],
        [tmpfiles, f"--root={root}", "--create", "spo-hotfolder.conf"],
    ):
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        assert "ignoring" not in result.stderr.lower(), result.stderr
    passwd = (root / "etc" / "passwd").read_text()
    assert re.search(r"^spo-hotfolder:x:\d+:\d+:.*:/var/lib/spo-hotfolder:/usr/sbin/nologin$", passwd, re.M)
    assert re.search(r"^spo-hotfolder:x:\d+:", (root / "etc" / "group").read_text(), re.M)
    spool = root / "var" / "lib" / "spo-hotfolder"
    config = load_config(ROOT / "config" / "spo-hotfolder.service.yaml")
    for name, folder in config.paths.spool_folders().items():
        mode = (root / folder.relative_to("/")).stat().st_mode & 0o7777
        assert mode & 0o2000, f"{name}/ is not setgid"
        if name in ("inbox", "quarantine", "failed"):
            assert mode == 0o2775, f"{name}/ must be group-writable for operators: {oct(mode)}"
    assert (spool / "state" / "commands").is_dir()


def test_the_installed_config_is_valid_and_lives_in_var_lib(tmp_path: Path) -> None:
    config = load_config(ROOT / "config" / "spo-hotfolder.service.yaml")
    assert config.paths.root == Path("/var/lib/spo-hotfolder")
    tmpfiles = (SYSTEMD / "spo-hotfolder.tmpfiles").read_text()
    for folder in config.paths.spool_folders().values():
        assert re.search(rf"^d\s+{re.escape(str(folder))}\s", tmpfiles, re.M), f"{folder} is not in tmpfiles"
    example = (SYSTEMD / "spo-hotfolder.service.d" / "hot-folders.conf.example").read_text()
    for hot in config.hot_folders.values():
        assert f"ReadWritePaths=-{hot.path}" in example


def test_make_install_dry_run_installs_everything() -> None:
    make = tool("make")
    result = subprocess.run([make, "-n", "install"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for needle in (
        "/etc/systemd/system/spo-hotfolder.service",
        "/etc/sysusers.d/spo-hotfolder.conf",
        "/etc/tmpfiles.d/spo-hotfolder.conf",
        "config/spo-hotfolder.service.yaml /etc/spo-hotfolder/spo-hotfolder.yaml",
        "ln -sfn /opt/spo-hotfolder/bin/spo-hotfolder /usr/local/bin/spo-hotfolder",
    ):
        assert needle in out, needle
