"""The JSON log line: one object per line, that journald keeps whole (TECH-NOTES: LineMax 48K)."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from spo_hotfolder.logsetup import LINE_MAX_BYTES, _json_line, _LineHandler


def test_a_short_event_is_written_as_it_is() -> None:
    event = {"event": "config.reload_failed", "errors": ["a", "b"], "level": "error"}
    assert json.loads(_json_line(event, ensure_ascii=False)) == event


def test_long_lists_and_texts_are_cut_and_say_so() -> None:
    event = {
        "event": "config.reload_failed",
        "level": "error",
        "errors": [f"spo.yaml:{n}: bogus_{n}: unknown key " + "x" * 200 for n in range(300)],
        "detail": "é" * 30_000,  # two bytes each in UTF-8
    }
    line = _json_line(event, ensure_ascii=False)
    assert len(line.encode()) <= LINE_MAX_BYTES
    short = json.loads(line)
    assert short["event"] == "config.reload_failed" and short["level"] == "error"
    assert len(short["errors"]) == 21 and short["errors"][0].startswith("spo.yaml:0: bogus_0")
    assert short["errors"][-1] == "... and 280 more (cut to fit a log line)"
    assert short["detail"].endswith("... (30000 characters, cut to fit a log line)")


def test_an_event_of_too_many_fields_keeps_its_name() -> None:
    event = {"event": "x.y", "level": "info", **{f"field_{n}": "v" * 1_900 for n in range(40)}}
    short = json.loads(_json_line(event))
    assert short["event"] == "x.y" and short["level"] == "info"
    assert "the event's 42 fields" in short["cut"] and "field_0" not in short


def test_a_python_warning_is_an_event_of_its_own_with_its_text_in_message() -> None:
    """Audit P: a Python warning (logging.captureWarnings) was logged with its whole text, several
    lines with the file and line, as the event name. (In a process of its own: logging is global.)"""
    script = (
        "import sys, warnings\n"
        "from spo_hotfolder.logsetup import setup_logging\n"
        "setup_logging('info', 'json', sys.stdout)\n"
        "warnings.warn_explicit('leaked semaphore objects', UserWarning, 'resource_tracker.py', 104)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    [line] = [json.loads(text) for text in out.stdout.splitlines()]
    assert line["event"] == "python.warning" and line["logger"] == "py.warnings" and line["level"] == "warning"
    assert line["message"] == "resource_tracker.py:104: UserWarning: leaked semaphore objects"


def test_a_line_cut_by_a_full_disk_is_ended_before_the_next_one(tmp_path: Path) -> None:
    """Review DY 3: a line written in part while the disk under the log file was full was glued to
    the next line once there was space again (`{"manifest": "/srv/ru{"manifest": ...`): no JSON
    reader reads that line. The part is ended first."""
    log_file = tmp_path / "log.jsonl"
    full = [True]

    class Disk(io.StringIO):
        """A log file on a disk that takes 10 bytes of a write, then is full, until freed."""

        def __init__(self) -> None:
            super().__init__()
            self.real = log_file.open("w", encoding="utf-8")

        def write(self, text: str) -> int:
            if full[0]:
                self.real.write(text[:10])
                self.real.flush()
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.real.write(text)

        def flush(self) -> None:
            self.real.flush()

        def fileno(self) -> int:
            return self.real.fileno()

    disk = Disk()
    handler = _LineHandler(disk)
    record = logging.LogRecord("spo", logging.INFO, __file__, 1, '{"manifest": "/srv/run/a.json"}', None, None)
    with contextlib.redirect_stderr(io.StringIO()):
        handler.emit(record)
    full[0] = False
    handler.emit(record)
    disk.real.close()
    assert log_file.read_text().splitlines() == ['{"manifest', '{"manifest": "/srv/run/a.json"}']


def test_a_reload_s_new_log_setup_leaves_no_moment_without_a_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review DY 5: a reload removed the old handler, then added the new one: a line another thread
    logged in between went to Python's last-resort handler (not JSON) or nowhere."""
    from spo_hotfolder.logsetup import setup_logging

    root = logging.getLogger()
    kept = root.handlers[:]
    seen_without: list[bool] = []
    real_remove = logging.Logger.removeHandler

    def remove(self: logging.Logger, handler: logging.Handler) -> None:
        real_remove(self, handler)
        seen_without.append(self is root and not root.handlers)

    monkeypatch.setattr(logging.Logger, "removeHandler", remove)
    try:
        setup_logging("info", "json", io.StringIO())
        setup_logging("info", "json", io.StringIO())
        assert len(root.handlers) == 1 and not any(seen_without)
    finally:
        root.handlers = kept


def test_unicode_line_breaks_in_values_are_escaped() -> None:
    """Review GE 3: an artwork named "Flyer<U+2028>final.pdf" was written raw: valid JSON, but a
    reader splitting lines the Unicode way (Python's splitlines, log viewers) cut the line in two."""
    event = {"event": "artwork.taken", "file": "Flyer\u2028final\u2029.pdf\x85", "level": "info"}
    line = _json_line(event, ensure_ascii=False)
    assert line.splitlines() == [line] and "\\u2028" in line and "\\u0085" in line
    assert json.loads(line) == event


def test_the_console_shows_terminal_controls_escaped() -> None:
    """Review GE 4: on a terminal (`make run`), an inbox file named with escape sequences retitled
    and cleared the operator's terminal: the console line wrote them as they were."""
    script = (
        "import sys, structlog\n"
        "from spo_hotfolder.logsetup import setup_logging\n"
        "setup_logging('info', 'console', sys.stdout)\n"
        "name = 'inbox/\\x1b]0;PWNED\\x07\\x1b[2Jevil\\u202e.json'\n"
        "structlog.get_logger('x').warning('manifest.rejected', manifest=name)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout and "\u202e" not in out.stdout, repr(out.stdout)
    assert "inbox/\\x1b]0;PWNED\\x07\\x1b[2Jevil\\u202e.json" in out.stdout, out.stdout


def test_a_reload_s_new_handler_waits_for_a_line_the_old_one_writes() -> None:
    """Review GE 1: a reload's new handler (its own lock) wrote config.reloaded while the engine
    thread, through the old handler, was in the middle of a long line: Python's stdout put the new
    line inside the old one. Every handler of the process takes the same lock."""
    from spo_hotfolder.logsetup import setup_logging

    old = io.StringIO()
    setup_logging("info", "json", old)
    [before] = logging.getLogger().handlers
    setup_logging("info", "json", old)  # (a reload)
    [after] = logging.getLogger().handlers
    assert after is not before and after.lock is before.lock
    written: list[str] = []
    with before.lock:  # (the old handler in the middle of a line, in another thread)
        thread = threading.Thread(target=lambda: logging.getLogger("x").warning("config.reloaded"))
        thread.start()
        thread.join(0.3)
        written.append(old.getvalue())
    thread.join(5)
    assert written == [""] and "config.reloaded" in old.getvalue()
