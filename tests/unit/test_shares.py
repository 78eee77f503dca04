"""shares.py: calls into a hot folder with a time limit (real threads, limits of a fraction of a second)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from spo_hotfolder import shares
from spo_hotfolder.config import Seen, look_here
from spo_hotfolder.delivery import DeliveryError
from spo_hotfolder.shares import ShareGuard, within

SHARE = ("indigo", Path("/mnt/indigo/in"))
OTHER = ("large", Path("/mnt/large/in"))


def test_a_call_that_answers_gives_its_result_or_its_exception() -> None:
    guard = ShareGuard(silence=5)
    assert guard.call(SHARE, "a look", lambda: 42) == 42
    with pytest.raises(FileNotFoundError):
        guard.call(SHARE, "a look", lambda: open("/nonexistent/x"))  # noqa: SIM115
    assert guard.call(SHARE, "a look", lambda: threading.current_thread().name) == "hot-folder-indigo"
    assert guard.silent_since("indigo") is None


def test_a_call_begun_goes_on_while_the_caller_works_and_finish_gives_its_outcome() -> None:
    guard = ShareGuard(silence=5)
    gate = threading.Event()
    pending = guard.start(SHARE, "a copy", lambda: (gate.wait(5), threading.current_thread().name)[1])
    # The caller is not held up: the call waits for the gate, which the caller opens itself.
    with pytest.raises(RuntimeError, match="a look asked while a copy is in hand"):
        guard.start(SHARE, "a look", lambda: 1)  # one call at a time per hot folder
    assert guard.call(OTHER, "a look", lambda: 7) == 7  # another hot folder's thread is free
    gate.set()
    assert guard.finish(pending) == "hot-folder-indigo"
    failing = guard.start(SHARE, "a copy", lambda: open("/nonexistent/x"))  # noqa: SIM115
    with pytest.raises(FileNotFoundError):
        guard.finish(failing)
    assert guard.call(SHARE, "a look", lambda: 42) == 42


def test_a_call_begun_that_does_not_return_is_given_up_by_finish() -> None:
    guard = ShareGuard(silence=0.2)
    gate = threading.Event()
    pending = guard.start(SHARE, "the copy to x", lambda: gate.wait(10))
    with pytest.raises(DeliveryError, match=r"does not answer: the copy to x has not returned within 0\.2 s"):
        guard.finish(pending)
    assert guard.silent_since("indigo") is not None
    with pytest.raises(DeliveryError, match="does not answer"):
        guard.start(SHARE, "a look", lambda: 1)  # fails at once while the call is stuck
    gate.set()


def test_a_call_that_does_not_return_fails_and_the_folder_stays_silent_until_it_returns() -> None:
    answered: list[str] = []
    guard = ShareGuard(silence=0.2, on_answer=answered.append)
    gate = threading.Event()
    calls: list[str] = []

    def hung() -> str:
        calls.append("hung")
        gate.wait(10)
        return "late"

    started = time.monotonic()
    with pytest.raises(DeliveryError) as first:
        guard.call(SHARE, "the rename to x.pdf", hung)
    assert 0.2 <= time.monotonic() - started < 2
    assert first.value.transient
    assert str(first.value) == (
        "hot folder indigo (/mnt/indigo/in) does not answer: the rename to x.pdf has not returned within 0.2 s; "
        "is its share's server up and reachable?"
    )
    assert guard.silent_since("indigo") is not None

    # While the call hangs: each call there fails at once, without being made. (With the limit now
    # far above the bound below: a call that waited for it is told from one refused at once by a
    # margin no stall of a loaded machine spans; 0.1 s against a limit of 0.2 s was no such margin.)
    guard.silence = 30
    started = time.monotonic()
    with pytest.raises(
        DeliveryError, match=r"does not answer: a call into it \(the rename to x.pdf\) has not returned"
    ):
        guard.call(SHARE, "a look", lambda: calls.append("second"))
    assert time.monotonic() - started < 5
    assert calls == ["hung"]
    # Another hot folder is served as usual.
    assert guard.call(OTHER, "a look", lambda: "fine") == "fine"

    gate.set()  # the share answers: the stuck call returns
    deadline = time.monotonic() + 5
    while guard.silent_since("indigo") is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert guard.silent_since("indigo") is None
    assert answered == ["indigo"]
    assert guard.call(SHARE, "a look", lambda: "again") == "again"


def test_signs_of_progress_keep_a_long_call_going() -> None:
    # The guard's clock is the copy's: 1.6 s in all, never 0.3 s without a sign of progress, however
    # late the threads run. (On the machine's clock, a 0.1 s sleep of the copy's thread that a
    # loaded machine made 0.3 s long was a silence.) Each step takes real time too, so that the
    # caller looks at the clock meanwhile: without the signs, it gives up at its first look.
    now = [0.0]
    guard = ShareGuard(silence=0.3, monotonic=lambda: now[0])

    def long_copy() -> str:
        for _ in range(8):
            now[0] += 0.2
            guard.alive()
            time.sleep(0.1)
        return "copied"

    assert guard.call(SHARE, "the copy", long_copy) == "copied"
    assert guard.silent_since("indigo") is None


def test_within_gives_up_on_a_look_that_does_not_return() -> None:
    assert within(2, lambda: 7) == 7
    with pytest.raises(ValueError):
        within(2, lambda: int("x"))
    gate = threading.Event()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        within(0.2, lambda: gate.wait(10))
    assert time.monotonic() - started < 2
    gate.set()


def test_a_stopping_daemon_waits_for_a_call_in_hand_only_briefly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shares, "STOP_GRACE", 0.2)
    stop = threading.Event()
    guard = ShareGuard(silence=30, stop=stop)
    gate = threading.Event()
    assert guard.call(SHARE, "a look", lambda: "quick") == "quick"  # (not stopping: as usual)
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()
    with pytest.raises(
        InterruptedError, match="the daemon is stopping; the copy in hot folder indigo had not returned"
    ):
        guard.call(SHARE, "the copy", lambda: gate.wait(10))
    assert time.monotonic() - started < 2
    gate.set()


def test_look_at_tells_each_folder_as_it_is_and_one_not_looked_at_in_time_as_silent(tmp_path: Path) -> None:
    (tmp_path / "hot").mkdir()
    (tmp_path / "afile").write_text("x")
    gone, folder, file = tmp_path / "nosuch" / "in", tmp_path / "hot", tmp_path / "afile"
    look = shares.look_at([folder, file, gone, folder], 30)
    assert look(folder) == Seen("dir", os.stat(folder).st_dev, real=str(folder.resolve()), writable=True)
    assert look(file).kind == "file"
    assert look(gone) == Seen("missing")
    assert look(tmp_path) == Seen("dir", os.stat(tmp_path).st_dev, real=str(tmp_path.resolve()))  # (looked at here)
    # No time at all: nothing is looked at in time, and each counts as not answering.
    late = shares.look_at([folder, gone], 0)
    assert late(folder) == Seen("silent")
    assert late(gone) == Seen("silent")
    assert shares.look_at([], 1)(folder).kind == "dir"


def test_look_at_tells_whether_this_user_may_write_the_folder(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """check-config's note on a hot folder the service's user may not write (audit, sysadmin F8)
    comes from this look, in the child process too. Root may write any folder: as root, the look
    runs as nobody."""
    base = Path(tempfile.mkdtemp(prefix="look-"))  # (pytest's tmp_path is under a folder only root may enter)
    base.chmod(0o755)
    folder = base / "hot"
    folder.mkdir(mode=0o755)
    request.addfinalizer(lambda: (folder.chmod(0o755), shutil.rmtree(base)))
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("setpriv is not installed: root may write any folder")
        wrapper = base / "python-as-nobody"
        wrapper.write_text(
            f'#!/bin/sh\nexec {setpriv} --reuid=65534 --regid=65534 --clear-groups {sys.executable} "$@"\n'
        )
        wrapper.chmod(0o755)
        monkeypatch.setattr(shares.sys, "executable", str(wrapper))
    else:
        folder.chmod(0o555)
    assert shares.look_at([folder], 30)(folder).writable is False
    assert shares.look_at([base], 30)(base).writable is (os.geteuid() != 0)
    if os.geteuid() != 0:
        assert look_here(folder).writable is False


def test_look_at_looks_here_when_no_interpreter_can_be_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shares.sys, "executable", str(tmp_path / "no-python"))
    look = shares.look_at([tmp_path, tmp_path / "nosuch"], 5)
    assert look(tmp_path).kind == "dir"
    assert look(tmp_path / "nosuch") == Seen("missing")
