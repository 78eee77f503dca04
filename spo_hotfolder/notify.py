"""The systemd notify protocol (READY, STATUS, WATCHDOG, STOPPING, RELOADING), no dependency.

A datagram to the AF_UNIX socket named in ``$NOTIFY_SOCKET`` (``@`` = abstract namespace), as
sd_notify(3) describes. Without ``NOTIFY_SOCKET`` (not under systemd, or ``Type=simple``) every call
does nothing and returns False, so the daemon behaves the same with or without systemd.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self._address: str | None = None
        if address.startswith("@"):
            self._address = "\0" + address[1:]
        elif address.startswith("/"):
            self._address = address
        # WATCHDOG_USEC is for us only if WATCHDOG_PID is unset or names this process (sd_watchdog_enabled(3)).
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        self.watchdog_seconds: float | None = None
        if usec.isascii() and usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.watchdog_seconds = int(usec) / 1_000_000

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, *fields: str) -> bool:
        """One datagram with one ``KEY=value`` per line; False when not under systemd or it failed."""
        if self._address is None:
            return False
        # A STATUS text is one line: a newline would start a new (bogus) field.
        message = "\n".join(field.replace("\n", " ") for field in fields).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message, self._address)
        except OSError:
            # systemd went away or the socket is gone: the daemon must keep working regardless.
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def watchdog(self) -> bool:
        """WATCHDOG=1, only where systemd watches this process (WATCHDOG_USEC for us)."""
        if self.watchdog_seconds is None:
            return False
        return self.send("WATCHDOG=1")

    def extend_timeout(self, seconds: float) -> bool:
        """EXTEND_TIMEOUT_USEC: the start (or stop) takes longer, and goes on; another message
        (this again, READY=1) is due within ``seconds``."""
        return self.send(f"EXTEND_TIMEOUT_USEC={int(seconds * 1_000_000)}")

    def stopping(self, status: str = "") -> bool:
        return self.send("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def reloading(self) -> bool:
        # MONOTONIC_USEC is required by Type=notify-reload (systemd 253+) and ignored by older ones.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def reloaded(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))
