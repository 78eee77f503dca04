"""Bench infrastructure: the daemon and the baselines as subprocesses, arrival detection, /proc sampling.

Every process started here is started in its own session and remembered; ``Reaper.close()`` (run
from a ``finally`` and on SIGINT/SIGTERM) stops each one by pid/process group, never by name.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
now = time.perf_counter  # CLOCK_MONOTONIC on Linux: one clock for every time stamp in the bench


class BenchError(Exception):
    pass


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.02, what: str = "") -> Any:
    deadline = now() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if now() > deadline:
            raise BenchError(f"timed out after {timeout:g} s waiting for {what or predicate}")
        time.sleep(interval)


# -- processes ----------------------------------------------------------------------------------


class Reaper:
    """Remembers every process group the bench started; ``close`` stops them all (TERM, then KILL)."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []
        self._extra_pids: set[int] = set()

    def popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc: subprocess.Popen[bytes] = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self._procs.append(proc)
        return proc

    def remember(self, pids: Iterable[int]) -> None:
        self._extra_pids.update(pids)

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
        tree = descendants(proc.pid) if proc.poll() is None else []
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # the process group (shell loop + inotifywait + cp, or the daemon's forkserver/worker)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in tree:
            _kill_if_alive(pid)
        with contextlib.suppress(ValueError):
            self._procs.remove(proc)

    def close(self) -> None:
        for proc in list(self._procs):
            with contextlib.suppress(Exception):
                self.stop(proc, timeout=5)
        for pid in self._extra_pids:
            _kill_if_alive(pid)
        self._extra_pids.clear()


def _kill_if_alive(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    # the command name may contain spaces and parentheses: split after the last ')'
    return data[data.rfind(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children, grandchildren: the forkserver's worker)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is None:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _proc_kib(path: str, field: bytes) -> int:
    """The ``field`` line (in kB) of a ``/proc`` file, in bytes; 0 where it cannot be read."""
    try:
        with open(path, "rb") as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def rss_bytes(pid: int) -> int:
    return _proc_kib(f"/proc/{pid}/status", b"VmRSS:")


def pss_bytes(pid: int) -> int:
    """The proportional set size of ``pid``: each page shared with other processes (a fork
    server's children share its modules) counted as its share, so that the sum over a tree of
    processes is the memory the tree holds."""
    return _proc_kib(f"/proc/{pid}/smaps_rollup", b"Pss:")


def cpu_seconds(pid: int, include_reaped: bool = False) -> float:
    """utime+stime of ``pid`` (plus cutime+cstime: children it has already waited for)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat(5))
    if include_reaped:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / CLK_TCK


class TreeSampler:
    """CPU and RSS of a process and all its descendants (the tree is re-read every 0.5 s)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._tree: list[int] = [pid, *descendants(pid)]
        self._tree_at = now()

    def tree(self) -> list[int]:
        if now() - self._tree_at > 0.5:
            self._tree = [self.pid, *descendants(self.pid)]
            self._tree_at = now()
        return self._tree

    def cpu(self) -> float:
        pids = [self.pid, *descendants(self.pid)]
        return cpu_seconds(self.pid, include_reaped=True) + sum(cpu_seconds(p) for p in pids[1:])

    def rss(self) -> dict[int, int]:
        return {p: rss_bytes(p) for p in self.tree()}


class RssMonitor:
    """Samples the tree's VmRSS every ``interval`` s in a thread; peak growth over the first sample."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.sampler = TreeSampler(pid)
        self.interval = interval
        self.start_rss = self.sampler.rss()
        self.start_total = sum(self.start_rss.values())
        self.peak_total = self.start_total
        self.peak_by_pid: dict[int, int] = dict(self.start_rss)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            sample = self.sampler.rss()
            self.peak_total = max(self.peak_total, sum(sample.values()))
            for pid, value in sample.items():
                self.peak_by_pid[pid] = max(self.peak_by_pid.get(pid, 0), value)

    def growth(self) -> dict[str, float]:
        """MiB: the tree's total, and per process (a worker started during the run grows from 0)."""
        per = {str(p): (v - self.start_rss.get(p, 0)) / 2**20 for p, v in self.peak_by_pid.items()}
        return {"total": (self.peak_total - self.start_total) / 2**20, **per}


# -- arrival detection: inotify on the hot folder ----------------------------------------------

IN_CLOSE_WRITE = 0x008
IN_MOVED_TO = 0x080
IN_Q_OVERFLOW = 0x4000
_EVENT = struct.Struct("iIII")


class ArrivalWatcher:
    """Records when each file appears under its final name in a folder.

    Method: a raw inotify descriptor (libc through ctypes, ~40 lines, no watchdog layer) on the hot
    folder, mask IN_MOVED_TO|IN_CLOSE_WRITE, read by a dedicated thread with a 1 MiB buffer; each name
    not starting with '.' gets ``perf_counter()`` at the moment its event is read. Both the daemon and
    the baselines publish by rename, so the MOVED_TO event is the moment the final name exists. If the
    kernel queue overflows, the folder is listed and the missing names get the listing time (counted
    in ``late``), so that arrivals are never lost, only possibly stamped late.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._fd = libc.inotify_init1(os.O_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        wd = libc.inotify_add_watch(self._fd, os.fsencode(folder), IN_CLOSE_WRITE | IN_MOVED_TO)
        if wd < 0:
            os.close(self._fd)
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {folder} failed")
        self.arrivals: dict[str, float] = {}
        self.late = 0
        self.overflows = 0
        self._lock = threading.Lock()
        self._closed = False
        self._changed = threading.Condition(self._lock)
        self._thread = threading.Thread(target=self._run, daemon=True, name="arrivals")
        self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            try:
                data = os.read(self._fd, 1 << 20)
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                return
            stamp = now()
            offset = 0
            overflow = False
            names: list[str] = []
            while offset + _EVENT.size <= len(data):
                _wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
                raw = data[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
                offset += _EVENT.size + length
                if mask & IN_Q_OVERFLOW:
                    overflow = True
                elif raw and not raw.startswith(b"."):
                    names.append(os.fsdecode(raw))
            with self._lock:
                for name in names:
                    self.arrivals.setdefault(name, stamp)
                if overflow:
                    self.overflows += 1
                    listed = now()
                    for name in os.listdir(self.folder):
                        if not name.startswith(".") and name not in self.arrivals:
                            self.arrivals[name] = listed
                            self.late += 1
                self._changed.notify_all()

    def count(self) -> int:
        with self._lock:
            return len(self.arrivals)

    def wait_count(self, n: int, timeout: float, stall: float | None = None) -> int:
        """Waits until ``n`` arrivals, ``timeout`` s, or no new arrival for ``stall`` s; returns the count."""
        deadline = now() + timeout
        with self._lock:
            last_count, last_change = len(self.arrivals), now()
            while len(self.arrivals) < n:
                t = now()
                if t >= deadline or (stall is not None and t - last_change >= stall):
                    break
                self._changed.wait(min(0.5, deadline - t))
                if len(self.arrivals) != last_count:
                    last_count, last_change = len(self.arrivals), now()
            return len(self.arrivals)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            # wake the reader: an event in the folder, then close
            (self.folder / ".bench-wakeup").touch()
        self._thread.join(2)
        with contextlib.suppress(OSError):
            os.close(self._fd)
        with contextlib.suppress(OSError):
            (self.folder / ".bench-wakeup").unlink()

    def __enter__(self) -> ArrivalWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- the daemon ---------------------------------------------------------------------------------


def write_daemon_config(tmp: Path, *, watch: dict[str, Any] | None = None, **sections: Any) -> Path:
    """A bench config: root ``tmp/root``, one hot folder ``tmp/hot`` (file name ``{job_id}.pdf``),
    every job routed there, logging at warning (so that log output does not skew the figures)."""
    hot = tmp / "hot"
    hot.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "paths": {"root": str(tmp / "root")},
        "watch": {"mode": "native", "settle_seconds": 1.0, "rescan_seconds": 60, **(watch or {})},
        "hot_folders": {"hot": {"path": str(hot), "filename": "{job_id}.pdf"}},
        "routes": [{"to": "hot"}],
        "logging": {"level": "warning", "format": "json"},
        **sections,
    }
    path = tmp / "spo-hotfolder.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class DaemonProc:
    """``spo-hotfolder -c CONFIG run`` as a subprocess (the venv's interpreter running the package)."""

    def __init__(self, reaper: Reaper, config: Path) -> None:
        self.reaper = reaper
        self.config = config
        cfg = yaml.safe_load(config.read_text())
        self.root = Path(cfg["paths"]["root"])
        self.hot = Path(cfg["hot_folders"]["hot"]["path"])
        self.log_path = config.parent / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.ready_at = 0.0

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def init(self) -> None:
        """Creates the folder layout (``spo-hotfolder init``), for scenarios that fill it before start."""
        subprocess.run(
            [sys.executable, "-m", "spo_hotfolder.cli", "-c", str(self.config), "init"],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self, wait: bool = True, timeout: float = 120.0) -> DaemonProc:
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        with open(self.log_path, "ab") as log:
            self.started_at = now()
            self.proc = self.reaper.popen(
                [sys.executable, "-m", "spo_hotfolder.cli", "-c", str(self.config), "run"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.config.parent,
            )
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 120.0) -> None:
        health = self.root / "state" / "health.json"
        wait_until(lambda: self._ready(health), timeout=timeout, interval=0.01, what="daemon ready")
        self.ready_at = now()

    def _ready(self, health: Path) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise BenchError(f"daemon exited with {self.proc.returncode}:\n{self.log_tail()}")
        try:
            return int(json.loads(health.read_text())["pid"]) == self.proc.pid
        except (OSError, ValueError, KeyError):
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.reaper.stop(self.proc, timeout=60)
            self.proc = None

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "spo_hotfolder.cli", "-c", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


# -- the baselines ------------------------------------------------------------------------------

SHELL_LOOP = r"""
inbox=$1; hot=$2; dosync=$3
inotifywait -m -e close_write,moved_to --format '%f' "$inbox" 2>"$4" | while IFS= read -r f; do
  case "$f" in .*) continue ;; *.pdf) ;; *) continue ;; esac
  if [ "$dosync" = 2 ]; then sync "$inbox/$f"; fi
  cp "$inbox/$f" "$hot/.$f.tmp" || continue
  if [ "$dosync" != 0 ]; then sync "$hot/.$f.tmp"; fi
  mv "$hot/.$f.tmp" "$hot/$f"
done
"""


class ShellLoop:
    """The shop's script: ``inotifywait -m -e close_write,moved_to`` piped into cp to a temp name + mv
    (with ``sync FILE``, i.e. fsync, between them when ``fsync``; with ``fsync_source``, the received
    file is flushed first too). It takes every *.pdf that is closed after writing or renamed into the
    inbox; it knows nothing of manifests, settling or retries."""

    def __init__(
        self, reaper: Reaper, inbox: Path, hot: Path, *, fsync: bool = False, fsync_source: bool = False
    ) -> None:
        self.reaper = reaper
        inbox.mkdir(parents=True, exist_ok=True)
        hot.mkdir(parents=True, exist_ok=True)
        self.inbox, self.hot = inbox, hot
        self.err = inbox.parent / "inotifywait.err"
        self.proc = reaper.popen(
            [
                "bash",
                "-c",
                SHELL_LOOP,
                "shell-loop",
                str(inbox),
                str(hot),
                "2" if fsync_source else "1" if fsync else "0",
                str(self.err),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._ready, timeout=20, what="inotifywait watches established")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise BenchError(f"the shell loop exited with {self.proc.returncode}; is inotify-tools installed?")
        try:
            return "Watches established" in self.err.read_text()
        except OSError:
            return False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        self.reaper.stop(self.proc, timeout=5)


POLLING_SCRIPT = r"""
import os, shutil, sys, threading, time
from watchdog.events import FileSystemEventHandler
from watchdog.observers.polling import PollingObserver

inbox, hot, interval = sys.argv[1], sys.argv[2], float(sys.argv[3])
settle = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
pending = {}  # path -> ((size, mtime), since): with settle, copied once unchanged that long
lock = threading.Lock()

def copy(path):
    name = os.path.basename(path)
    tmp = os.path.join(hot, "." + name + ".tmp")
    try:
        shutil.copyfile(path, tmp)
        os.replace(tmp, os.path.join(hot, name))
    except OSError:
        pass

def signature(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)

class Copy(FileSystemEventHandler):
    def on_any_event(self, event):
        if event.event_type not in ("created", "moved", "modified") or event.is_directory:
            return
        path = getattr(event, "dest_path", "") or event.src_path
        name = os.path.basename(path)
        if name.startswith(".") or not name.endswith(".pdf") or os.path.dirname(path) != inbox:
            return
        if settle <= 0:
            copy(path)
            return
        sig = signature(path)
        with lock:
            if sig is not None and (path not in pending or pending[path][0] != sig):
                pending[path] = (sig, time.monotonic())

observer = PollingObserver(timeout=interval)
observer.schedule(Copy(), inbox, recursive=True)
observer.start()
print("ready", flush=True)
try:
    while observer.is_alive():
        time.sleep(0.02 if settle > 0 else 1)
        with lock:
            due = [(p, sig) for p, (sig, since) in pending.items() if time.monotonic() - since >= settle]
        for path, sig in due:
            now_sig = signature(path)
            with lock:
                if now_sig == sig:
                    del pending[path]
                elif now_sig is None:
                    pending.pop(path, None)
                else:
                    pending[path] = (now_sig, time.monotonic())
            if now_sig == sig:
                copy(path)
finally:
    observer.stop()
"""


class PollingBaseline:
    """watchdog's PollingObserver at the daemon's interval, copying each new *.pdf (temp + rename):
    at first sight, or (``settle``) once its size and mtime have not changed for that long."""

    def __init__(self, reaper: Reaper, inbox: Path, hot: Path, interval: float, settle: float = 0.0) -> None:
        inbox.mkdir(parents=True, exist_ok=True)
        hot.mkdir(parents=True, exist_ok=True)
        self.reaper = reaper
        self.inbox, self.hot = inbox, hot
        self.proc = reaper.popen(
            [sys.executable, "-c", POLLING_SCRIPT, str(inbox), str(hot), str(interval), str(settle)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if b"ready" not in line:
            raise BenchError("the PollingObserver baseline did not start")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        self.reaper.stop(self.proc, timeout=5)


# -- writing jobs -------------------------------------------------------------------------------


def manifest_bytes(job_id: str, artwork: str) -> bytes:
    doc = {"order_id": job_id, "job_id": job_id, "product": "flyer", "quantity": 1, "artwork": [{"path": artwork}]}
    return json.dumps(doc).encode()


def publish(path: Path, data: bytes) -> float:
    """Writes ``data`` to a dot-temp name, then renames it to ``path``; returns the time just before
    the rename (the moment the file is published)."""
    tmp = path.with_name(f".{path.name}.uploading")
    with open(tmp, "wb") as fh:
        fh.write(data)
    t = now()
    os.replace(tmp, path)
    return t


def write_in_place(path: Path, data: bytes) -> float:
    """Writes ``data`` under its final name (the careless client); returns the time just before close."""
    fh = open(path, "wb")  # noqa: SIM115 - the stamp is taken between the last write and close
    try:
        fh.write(data)
        fh.flush()
        t = now()
    finally:
        fh.close()
    return t


def drop_job_stamps(inbox: Path, job_id: str, pdf: bytes, *, in_place: bool = False) -> tuple[float, float]:
    put = write_in_place if in_place else publish
    t_pdf = put(inbox / f"{job_id}.pdf", pdf)
    t_manifest = put(inbox / f"{job_id}.json", manifest_bytes(job_id, f"{job_id}.pdf"))
    return t_pdf, t_manifest


def one_page_pdf() -> bytes:
    """A 1-page A4 PDF (no fonts, a small content stream), made once with pypdf."""
    import io

    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=595.28, height=841.89)
    stream = DecodedStreamObject()
    stream.set_data(b"0.5 g 36 36 523 770 re f\n")
    page[NameObject("/Contents")] = writer._add_object(stream)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def many_page_pdf(path: Path, pages: int) -> Path:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    writer = PdfWriter()
    for i in range(pages):
        page = writer.add_blank_page(width=595.28, height=841.89)
        stream = DecodedStreamObject()
        stream.set_data(b"0.%d g 36 36 523 770 re f\n" % (i % 10))
        page[NameObject("/Contents")] = writer._add_object(stream)
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def big_pdf(path: Path, total_bytes: int, pages: int = 16) -> Path:
    """A PDF of ``pages`` A4 pages, each one incompressible gray image, ``total_bytes`` in all (streamed
    to disk: making 1 GiB needs little memory)."""
    per_page = total_bytes // pages
    side = max(1, int(per_page**0.5))
    image_len = side * side
    chunk = os.urandom(1 << 20)
    width, height = 595.28, 841.89
    offsets: list[int] = []
    with open(path, "wb") as fh:

        def obj(number: int, body: bytes, length: int | None = None) -> None:
            while len(offsets) < number:
                offsets.append(0)
            offsets[number - 1] = fh.tell()
            fh.write(b"%d 0 obj\n" % number + body)
            if length is not None:
                fh.write(b"\nstream\n")
                left = length
                while left > 0:
                    piece = chunk[: min(left, len(chunk))]
                    fh.write(piece)
                    left -= len(piece)
                fh.write(b"\nendstream")
            fh.write(b"\nendobj\n")

        fh.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        kids = " ".join(f"{3 + 3 * i} 0 R" for i in range(pages)).encode()
        obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        obj(2, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, kids))
        for i in range(pages):
            page_no, content_no, image_no = 3 + 3 * i, 4 + 3 * i, 5 + 3 * i
            obj(
                page_no,
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Contents %d 0 R "
                b"/Resources << /XObject << /Im0 %d 0 R >> >> >>" % (width, height, content_no, image_no),
            )
            draw = b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % (width, height)
            offsets_len = len(draw)
            while len(offsets) < content_no:
                offsets.append(0)
            offsets[content_no - 1] = fh.tell()
            fh.write(b"%d 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (content_no, offsets_len, draw))
            obj(
                image_no,
                b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                b"/BitsPerComponent 8 /Length %d >>" % (side, side, image_len),
                image_len,
            )
        xref_at = fh.tell()
        fh.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
        for offset in offsets:
            fh.write(b"%010d 00000 n \n" % offset)
        fh.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref_at))
    return path


# -- temp folders -------------------------------------------------------------------------------


class Trash:
    """Where the rounds' temp folders wait until the run ends, instead of being removed between
    rounds. This machine's root filesystem is ext4 without a journal, and there a new file or
    folder is not given an inode freed in the last 60-360 s: every allocation scans past those,
    so removing a round's thousands of files made each file created in the next round cost
    ~1 ms of CPU instead of ~0.05 ms (measured in the daemon: its hot-folder temp file 0.99 ms
    against 0.04-0.06 ms; 1.07 ms against 0.05 ms in a bare loop after 5,000 files were removed
    from its folder). That charged the next round, daemon or baseline, for the bench's own
    cleanup. Files of 16 MiB or more are removed at once (few inodes; the disk space matters)."""

    BIG = 16 * 2**20

    def __init__(self, base: Path | None) -> None:
        self._base = base
        self._path: Path | None = None

    def put(self, folder: Path) -> None:
        for path in folder.rglob("*"):
            with contextlib.suppress(OSError):
                if path.is_file() and not path.is_symlink() and path.stat().st_size >= self.BIG:
                    path.unlink()
        try:
            if self._path is None:
                self._path = Path(tempfile.mkdtemp(prefix="spo-bench-trash-", dir=self._base))
            folder.rename(self._path / folder.name)
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)

    def empty(self) -> None:
        if self._path is not None:
            shutil.rmtree(self._path, ignore_errors=True)
            self._path = None


class Scratch:
    """A temp folder for one round; put into ``trash`` afterwards (removed at the end of the run;
    without a trash: removed at once), or left for inspection with ``keep``."""

    def __init__(self, base: Path | None, label: str, keep: bool = False, trash: Trash | None = None) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=f"spo-bench-{label}-", dir=base))
        self.keep = keep
        self.trash = trash

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        if self.keep:
            return
        if self.trash is not None:
            self.trash.put(self.path)
        else:
            shutil.rmtree(self.path, ignore_errors=True)
