"""SIGKILL the way systemd does it: the daemon and every process it started (its PDF workers).

A daemon killed alone leaves its multiprocessing fork server and worker behind (they hold each
other's pipes open); under systemd the whole cgroup is killed, so the tests do the same.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from tests.daemon import Daemon


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class TreeDaemon(Daemon):
    """A Daemon whose ``kill`` also kills the processes it started."""

    def kill(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            super().kill()
            return
        family = descendants(proc.pid)
        super().kill()
        for pid in family:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
