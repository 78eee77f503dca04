"""The engine in-process, on real folders, with a fake clock: crashes at every step of a delivery,
faults injected into the copy, stages that raise, a locked ledger, retries, future orders, retention.

A "crash" is ``os._exit`` at a chosen point in a forked child (like SIGKILL: no ``except`` or
``finally`` runs after it); a new Engine on the same folders and ledger is the restart.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from structlog.testing import capture_logs

import spo_hotfolder.delivery as delivery_module
import spo_hotfolder.fsutil as fsutil_module
from spo_hotfolder.clock import iso, parse_iso
from spo_hotfolder.config import Mount, load_config
from spo_hotfolder.engine import Engine
from spo_hotfolder.ledger import Ledger, Stage
from spo_hotfolder.operator import Action
from spo_hotfolder.output import build_output, check
from spo_hotfolder.outputfile import OutputError
from spo_hotfolder.pdfwork import PdfWorker
from spo_hotfolder.service import prepare_folders
from spo_hotfolder.status import JobStatus
from tests.daemon import run_cli, write_config
from tests.engine_parts import engine_module
from tests.pdfs import make_damaged_content_pdf, make_pdf

CARD = [(91.0, 61.0), (91.0, 61.0)]


class FakeClock:
    def __init__(self) -> None:
        self._now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
        self._mono = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds


class InProcessPdf:
    def check(self, artwork: Any, product_name: Any, spec: Any, validation: Any) -> Any:
        return check(artwork, product_name, spec, validation)

    def build_output(
        self, artwork: Any, dest: Any, spec: Any, validation: Any, while_waiting: Any = None, repaired: bool = False
    ) -> Any:
        return build_output(artwork, dest, spec, validation, repaired)


@dataclass
class Rig:
    tmp: Path
    config_path: Path
    clock: FakeClock = field(default_factory=FakeClock)
    engines: list[Engine] = field(default_factory=list)
    ledgers: list[Ledger] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.config = load_config(self.config_path)
        prepare_folders(self.config)
        self.root = self.config.paths.root
        self.inbox = self.config.paths.inbox
        self.hot = self.tmp / "hot" / "indigo"
        self.printed: list[str] = []
        self.start()

    def start(self) -> Engine:
        """A fresh engine and ledger connection on the same folders: a restart."""
        ledger = Ledger(self.config.paths.state / "ledger.sqlite3")
        engine = Engine(self.config, ledger, self.clock, InProcessPdf())
        self.ledgers.append(ledger)
        self.engines.append(engine)
        engine.reconcile()
        return engine

    @property
    def engine(self) -> Engine:
        return self.engines[-1]

    @property
    def ledger(self) -> Ledger:
        return self.ledgers[-1]

    def order(self, order_id: str, product: str = "bc-85x55", extra: str = "", trimbox: Any = None) -> str:
        """``trimbox`` (mm): the pages carry their boxes, so the output is the artwork as it is."""
        make_pdf(self.inbox / f"{order_id}.pdf", pages=CARD, trimbox=trimbox)
        (self.inbox / f"{order_id}.yaml").write_text(
            f'order_id: "{order_id}"\nproduct: {product}\nquantity: 1\nartwork: [{order_id}.pdf]\n{extra}'
        )
        return f"{order_id}-1"

    def run(self, until: Callable[[], bool] | None = None, steps: int = 30, dt: float = 1.0) -> None:
        for _ in range(steps):
            self.engine.request_rescan()
            self.engine.step()
            if until is not None and until():
                return
            self.clock.advance(dt)
        if until is not None:
            raise AssertionError(f"not reached after {steps} steps: {until}")

    def write_routes(self, routes: list[dict[str, Any]]) -> None:
        """The config file with ``routes`` instead of its own (the engine reads it when given it)."""
        data = yaml.safe_load(self.config_path.read_text())
        data["routes"] = routes
        self.config_path.write_text(yaml.safe_dump(data, sort_keys=False))

    def job(self, job_id: str) -> Any:
        job = self.ledger.get_job(job_id)
        assert job is not None
        return job

    def stage(self, job_id: str) -> Stage | None:
        job = self.ledger.get_job(job_id)
        return job.stage if job is not None else None

    def statuses(self, job_id: str) -> list[str]:
        return [e.status.value for e in self.job(job_id).history]

    def take_prints(self) -> list[str]:
        """The RIP takes what is in the hot folder under a final name."""
        taken = sorted(n for n in os.listdir(self.hot) if not n.startswith("."))
        for name in taken:
            (self.hot / name).unlink()
        self.printed.extend(taken)
        return taken

    def temps(self) -> list[str]:
        return [n for n in os.listdir(self.hot) if n.startswith(".")]

    def close(self) -> None:
        for ledger in self.ledgers:
            ledger.close()


def rig_on(tmp_path: Path, **sections: Any) -> Iterator[Rig]:
    made = Rig(
        tmp_path,
        write_config(
            tmp_path,
            watch={"settle_seconds": 0.5, "artwork_timeout_seconds": 600, **sections.pop("watch", {})},
            delivery={"max_attempts": 3, "backoff_seconds": [10, 30]},
            **sections,
        ),
    )
    yield made
    made.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from rig_on(tmp_path)


def done(r: Rig, job_id: str) -> Callable[[], bool]:
    return lambda: r.stage(job_id) is Stage.DONE


# -- crash at every step of a delivery ------------------------------------------------------------


KILLED = 99


Predicate = Callable[..., bool] | None


def _crash_after(monkeypatch: pytest.MonkeyPatch, target: Any, name: str, when: Predicate = None) -> None:
    original = getattr(target, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if when is None or when(*args, **kwargs):
            os._exit(KILLED)
        return result

    monkeypatch.setattr(target, name, wrapper)


def _crash_before(monkeypatch: pytest.MonkeyPatch, target: Any, name: str, when: Predicate = None) -> None:
    original = getattr(target, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if when is None or when(*args, **kwargs):
            os._exit(KILLED)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapper)


def life_until_killed(r: Rig, crash_point: Callable[[pytest.MonkeyPatch], None]) -> None:
    """Runs an engine in a forked child that dies by ``os._exit`` at the crash point: like SIGKILL,
    no ``except``/``finally`` runs after it."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            with pytest.MonkeyPatch.context() as patch:
                crash_point(patch)
                r.start()
                r.run(steps=10)
        finally:
            os._exit(3)  # the crash point was never reached
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == KILLED, "the crash point was not reached"


def _is_hot_temp(fd: int) -> bool:
    return "/hot/indigo/." in str(Path(f"/proc/self/fd/{fd}").readlink())


CRASH_POINTS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "after the intent": lambda mp: _crash_before(mp, engine_module, "write_temp"),
    "in the middle of the copy": lambda mp: _crash_before(mp, fsutil_module.os, "fsync", when=_is_hot_temp),
    "after the copy, before 'written'": lambda mp: _crash_after(mp, engine_module, "write_temp"),
    "after 'written', before the rename": lambda mp: _crash_before(mp, engine_module, "publish"),
    "after the rename": lambda mp: _crash_after(mp, engine_module, "publish"),
    # InHotFolder is recorded, the folder moves to done/, then the commit.
    "after InHotFolder, before the move to done": lambda mp: _crash_before(
        mp, Engine, "_move_to", when=lambda self, job, stage, now, **kw: stage is Stage.DONE
    ),
    "in the middle of the move to done": lambda mp: _crash_before(
        mp, engine_module.os, "replace", when=lambda src, dst: "/done/" in str(dst)
    ),
    "after the move to done, before its commit": lambda mp: _crash_after(
        mp, engine_module.os, "replace", when=lambda src, dst: "/done/" in str(dst)
    ),
    "after the commit": lambda mp: _crash_before(mp, Engine, "_answer_leftovers"),
}


@pytest.mark.parametrize("point", list(CRASH_POINTS))
@pytest.mark.parametrize("printer_took_it", [False, True], ids=["file-waiting", "file-taken"])
def test_crash_at_any_step_of_a_delivery_delivers_exactly_once(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, point: str, printer_took_it: bool
) -> None:
    job_id = rig.order("K1")
    life_until_killed(rig, CRASH_POINTS[point])
    if printer_took_it:
        rig.take_prints()
    rig.start()  # the restart
    rig.run(until=done(rig, job_id), steps=10)
    rig.run(steps=3)  # and a few more rounds: nothing else happens
    rig.take_prints()
    assert rig.printed == ["K1_K1-1_bc-85x55_x1.pdf"], point
    assert rig.statuses(job_id).count("InHotFolder") == 1
    assert "CopyToHotFolderFailed" not in rig.statuses(job_id)
    assert rig.temps() == []
    assert (rig.root / "done" / job_id / "output").is_dir()
    assert not list((rig.root / "work").iterdir())
    assert rig.ledger.open_deliveries() == []


@pytest.mark.parametrize("point", ["after 'written', before the rename", "after the rename"])
def test_a_delivery_taken_as_published_after_a_crash_says_so_when_its_file_is_not_seen(rig: Rig, point: str) -> None:
    """Audit B 1: a "written" delivery whose temp file was gone after a restart was recorded
    InHotFolder like any other, also where something else had removed the temp file (nothing
    printed, nothing said but an info log line). Published it is (only our rename removes a
    complete temp file), but where the file is not in the hot folder either, the history says it."""
    job_id = rig.order("K3")
    life_until_killed(rig, CRASH_POINTS[point])
    for name in os.listdir(rig.hot):  # the temp file (or the printer takes the published file)
        (rig.hot / name).unlink()
    rig.start()
    rig.run(until=done(rig, job_id), steps=10)
    detail = rig.job(job_id).history[-1].detail
    assert detail.startswith(
        "indigo: K3_K3-1_bc-85x55_x1.pdf (recorded after the fact: its complete temp file was gone"
    )
    assert "send its manifest with reprint: true" in detail
    assert rig.take_prints() == []
    # The file still in the hot folder after the rename: nothing to say.
    job_id = rig.order("K4")
    life_until_killed(rig, CRASH_POINTS["after the rename"])
    rig.start()
    rig.run(until=done(rig, job_id), steps=10)
    assert rig.job(job_id).history[-1].detail == "indigo: K4_K4-1_bc-85x55_x1.pdf"


def test_a_crash_before_the_rename_then_a_new_hot_folder_is_not_taken_as_delivered(rig: Rig) -> None:
    """Audit F1: killed after the journal's "written" and before the rename, then the folder of the
    temp file removed and made again (a tmp cleanup, a share provisioned anew) before the restart:
    the temp file's absence was taken as the rename's proof, and the job recorded InHotFolder
    without its PDF anywhere. The folder's identity is journalled with "written": another folder
    there now means it cannot be told, and the job waits in failed/ for the operator."""
    job_id = rig.order("KN")
    life_until_killed(rig, CRASH_POINTS["after 'written', before the rename"])
    assert rig.temps() != []
    old = rig.hot.with_name("indigo.old")
    rig.hot.rename(old)
    rig.hot.mkdir()  # (made while the old one exists: another inode, on any filesystem)
    shutil.rmtree(old)
    rig.start()
    rig.run(until=lambda: rig.stage(job_id) is Stage.FAILED, steps=10)
    assert "InHotFolder" not in rig.statuses(job_id)
    detail = rig.job(job_id).history[-1].detail
    assert "whether KN_KN-1_bc-85x55_x1.pdf arrived in hot folder indigo cannot be told" in detail, detail
    error = " ".join((rig.root / "failed" / job_id / "ERROR.txt").read_text().split())
    assert "drop a file named RETRY here and it is copied again" in error, error
    status = " ".join((rig.root / "failed" / job_id / "STATUS.txt").read_text().split())
    assert "Look whether the printer received the job's file (its queue, or hot folder indigo)" in status, status
    assert "Fix the hot folder" not in status  # (audit AG R3: RETRY after it invited a second print)
    assert rig.take_prints() == [] and rig.ledger.open_deliveries() == []
    (rig.root / "failed" / job_id / "RETRY").write_text("kim\n")
    rig.run(until=done(rig, job_id), steps=10)
    assert rig.take_prints() == ["KN_KN-1_bc-85x55_x1.pdf"]
    assert rig.statuses(job_id).count("InHotFolder") == 1


@pytest.mark.parametrize("crash", ["after 'written', before the rename", "after the rename"])
def test_a_job_delivered_before_a_crash_is_known_delivered_when_its_folder_comes_back_with_another_inode(
    rig: Rig, crash: str
) -> None:
    """Review GT 3: killed just after the rename into the hot folder, then the disk mounted again
    (exFAT or FAT through FUSE, SMB with `noserverino`: a folder's inode number does not survive a
    remount): the job went to failed/ as "cannot be told", its PDF in the hot folder under its final
    name, and a RETRY would print it twice. The job's output there, byte for byte, tells that the
    rename happened. (Killed before the rename, with the file not there: still cannot be told.)"""
    job_id = rig.order("KM")
    life_until_killed(rig, CRASH_POINTS[crash])
    old = rig.hot.with_name("indigo.old")
    rig.hot.rename(old)
    rig.hot.mkdir()  # (the same disk mounted again: its folder under another inode number)
    for name in os.listdir(old):
        if not name.endswith(".part"):  # (a temp file cut short: gone with the remount, as in F1)
            os.replace(old / name, rig.hot / name)
    shutil.rmtree(old)
    rig.start()
    if crash == "after the rename":
        rig.run(until=done(rig, job_id), steps=10)
        assert rig.job(job_id).history[-1].detail == "indigo: KM_KM-1_bc-85x55_x1.pdf"
        assert rig.take_prints() == ["KM_KM-1_bc-85x55_x1.pdf"] and rig.statuses(job_id).count("InHotFolder") == 1
    else:
        rig.run(until=lambda: rig.stage(job_id) is Stage.FAILED, steps=10)
        assert rig.take_prints() == [] and "cannot be told" in rig.job(job_id).history[-1].detail


def _repoint(r: Rig, path: Path) -> None:
    """Hot folder indigo's path edited in the config while the daemon was stopped."""
    data = yaml.safe_load(r.config_path.read_text())
    data["hot_folders"]["indigo"]["path"] = str(path)
    r.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    r.config = load_config(r.config_path)
    r.hot = path


@pytest.mark.parametrize("how", ["renamed", "by a link"])
@pytest.mark.parametrize(
    ("crash", "copies"),
    [("in the middle of the copy", 1), ("after 'written', before the rename", 1), ("after the rename", 0)],
)
def test_a_hot_folder_moved_after_a_crash_is_followed_to_its_new_path(
    rig: Rig, how: str, crash: str, copies: int
) -> None:
    """Audit AE 6: killed during a delivery, then the hot folder renamed and its path edited in the
    config to match: the journal named the old path, the daemon's own temp file in the moved folder
    was taken for another sender's upload (five failed attempts, the file left there), or the
    attempt stayed undecided. The moved folder is known by its identity: the attempt is decided
    there, and the job printed exactly once. So is the same folder named by another path (a
    symbolic link to it: its temp file was left in the way of the next copy)."""
    job_id = rig.order("MV")
    life_until_killed(rig, CRASH_POINTS[crash])
    if how == "renamed":
        moved = rig.hot.with_name("indigo-new")
        rig.hot.rename(moved)
    else:
        moved = rig.tmp / "printers" / "indigo"
        moved.parent.mkdir()
        moved.symlink_to(rig.hot)
    _repoint(rig, moved)
    rig.start()
    rig.run(until=done(rig, job_id), steps=15)
    assert rig.take_prints() == ["MV_MV-1_bc-85x55_x1.pdf"]
    assert rig.temps() == [] and rig.ledger.open_deliveries() == []
    assert rig.statuses(job_id).count("InHotFolder") == 1
    with contextlib.closing(sqlite3.connect(rig.config.paths.state / "ledger.sqlite3")) as db:
        states = [r[0] for r in db.execute("SELECT state FROM deliveries WHERE job_id = ? ORDER BY id", (job_id,))]
    # (after the rename: no copy made again; the attempt cut short given up, its temp file known gone)
    assert states == ["cleared"] * copies + ["published"]


def test_an_attempt_in_a_hot_folder_taken_out_of_the_config_is_left_alone(rig: Rig) -> None:
    """Audit AG 2: killed during a copy, then hot folder indigo taken out of the config (on a copy
    of a root, to try a backup out; or for good): the start removed the temp file in that folder
    (another root's printer, perhaps written by its running daemon). Left there; the job goes
    where its route now says (here: nowhere, CopyToHotFolderSkipped)."""
    job_id = rig.order("TO")
    life_until_killed(rig, CRASH_POINTS["in the middle of the copy"])
    left = sorted(os.listdir(rig.hot))
    assert left != []
    data = yaml.safe_load(rig.config_path.read_text())
    del data["hot_folders"]["indigo"]
    data["routes"] = [r for r in data["routes"] if r["to"] != "indigo"]
    rig.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    rig.config = load_config(rig.config_path)
    with capture_logs() as logs:
        rig.start()
        rig.run(until=lambda: rig.statuses(job_id)[-1] == "CopyToHotFolderSkipped", steps=15)
    assert sorted(os.listdir(rig.hot)) == left
    [said] = [e for e in logs if e["event"] == "recovery.delivery_elsewhere"]
    assert "of hot folder indigo, which is not in the config now" in said["reason"]
    assert rig.ledger.open_deliveries() == []


def test_a_hot_folder_renamed_during_a_copy_keeps_no_temp_file_of_ours(rig: Rig) -> None:
    """Audit AG 1: the hot folder renamed while a copy into it went on (its path then edited to
    match, by a reload or a restart): the copy failed, and its whole temp file stayed in the
    renamed folder, where every later attempt took it for another sender's upload (the job in
    failed/ until someone deleted it). The copy is removed where it is."""
    job_id = rig.order("RN")
    moved = rig.hot.with_name("indigo-moved")
    engine, going_on = rig.engine, rig.engine._copy_goes_on

    def rename_during_the_copy() -> bool:
        if rig.hot.exists():
            rig.hot.rename(moved)
        return going_on()

    engine._copy_goes_on = rename_during_the_copy  # type: ignore[method-assign]
    failed = lambda: rig.ledger.get_job(job_id) is not None and "CopyToHotFolderFailed" in rig.statuses(job_id)  # noqa: E731
    rig.run(until=failed, steps=10)
    assert os.listdir(moved) == []
    _repoint(rig, moved)
    rig.start()
    rig.run(until=done(rig, job_id), steps=40, dt=10)
    assert rig.take_prints() == ["RN_RN-1_bc-85x55_x1.pdf"] and rig.temps() == []
    assert rig.statuses(job_id).count("InHotFolder") == 1


@pytest.mark.parametrize("crash", ["in the middle of the copy", "after 'written', before the rename"])
def test_an_attempt_in_a_folder_the_config_no_longer_names_is_left_alone(rig: Rig, crash: str) -> None:
    """Audit AE 7: a daemon started on a copy of a root whose config names other hot folders (a
    backup tried out, as docs/service.md says to) acted on the journal's paths, the other root's
    hot folders: it removed the temp file a running daemon was writing there. An attempt made in a
    folder the hot folder does not have now is never touched: one cut short while copying is
    copied again into the folder configured now; one that may have been renamed in cannot be told,
    and waits in failed/ saying so."""
    job_id = rig.order("EL")
    life_until_killed(rig, CRASH_POINTS[crash])
    first = rig.hot
    left = sorted(os.listdir(first))
    assert left != []  # the temp file of the attempt
    elsewhere = first.with_name("indigo-try")
    elsewhere.mkdir()
    _repoint(rig, elsewhere)
    with capture_logs() as logs:
        rig.start()
        if crash == "in the middle of the copy":
            rig.run(until=done(rig, job_id), steps=15)
            assert rig.take_prints() == ["EL_EL-1_bc-85x55_x1.pdf"]
            assert any(e["event"] == "recovery.delivery_elsewhere" for e in logs), logs
        else:
            rig.run(until=lambda: rig.stage(job_id) is Stage.FAILED, steps=15)
            assert rig.take_prints() == []
            error = " ".join((rig.root / "failed" / job_id / "ERROR.txt").read_text().split())
            assert f"which is not a folder of hot folder indigo in the config now ({elsewhere})" in error, error
            assert "drop a file named RETRY here" in error
    assert sorted(os.listdir(first)) == left  # the other folder's files as they were
    assert rig.ledger.open_deliveries() == []


def test_a_temp_files_folder_is_another_one_by_its_inode_not_its_device() -> None:
    other = engine_module.other_folder
    assert other("2049:131", "2049:4077")  # removed and made again
    assert not other("41:131", "57:131")  # a share mounted again: another device number, same folder
    assert not other(None, "2049:4077") and not other("2049:131", "")  # (not recorded; not looked at)


def test_a_crash_before_the_rename_in_the_same_hot_folder_is_taken_as_delivered(rig: Rig) -> None:
    """The same crash with the hot folder as it was (the common case: a share mounted again keeps
    its folder's identity): the temp file gone was renamed in: InHotFolder, never copied again."""
    job_id = rig.order("KM")
    life_until_killed(rig, CRASH_POINTS["after 'written', before the rename"])
    (temp,) = rig.temps()
    os.replace(rig.hot / temp, rig.hot / "KM_KM-1_bc-85x55_x1.pdf")  # (the rename, done before the kill)
    rig.start()
    rig.run(until=done(rig, job_id), steps=10)
    assert rig.take_prints() == ["KM_KM-1_bc-85x55_x1.pdf"]
    rig.run(steps=3)
    assert rig.take_prints() == [] and rig.statuses(job_id).count("InHotFolder") == 1


def test_a_job_made_again_after_a_crash_says_so_in_its_history(rig: Rig) -> None:
    """A crash while the output was made: the check and the output run again at restart, and the
    history showed ValidationFinished and OutputCreationStarted twice with nothing saying why."""
    job_id = rig.order("K2", trimbox=(3, 3, 88, 58))  # the output is the artwork itself, linked
    life_until_killed(rig, lambda mp: _crash_before(mp, engine_module, "link_unchanged"))
    rig.start()
    rig.run(until=done(rig, job_id), steps=10)
    job = rig.ledger.get_job(job_id)
    assert job is not None
    entries = [(e.status.value, e.detail) for e in job.history]
    started = [detail for status, detail in entries if status == "OutputCreationStarted"]
    assert len(started) == 2 and "again" not in started[0]
    assert started[1].endswith("(again: its making was cut short, by a stop, a crash or a full disk)")
    assert [status for status, _ in entries].count("InHotFolder") == 1


def test_published_copy_is_never_repeated_when_the_ledger_fails_after_the_rename(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger cannot record InHotFolder (locked, disk full): the next round must not copy again."""
    job_id = rig.order("L1")
    original = rig.ledger.delivery_state
    failures = {"n": 0}

    def flaky(delivery_id: int, state: str, now: datetime, **kwargs: Any) -> None:
        if state == "published" and failures["n"] == 0:
            failures["n"] += 1
            raise sqlite3.OperationalError("database is locked")
        original(delivery_id, state, now, **kwargs)

    monkeypatch.setattr(rig.ledger, "delivery_state", flaky)
    rig.run(until=lambda: failures["n"] == 1, steps=10)
    rig.take_prints()  # the printer took the file meanwhile
    rig.run(until=lambda: rig.stage(job_id) in (Stage.DONE, Stage.FAILED), steps=20, dt=3)
    if rig.stage(job_id) is Stage.FAILED:  # an internal error: the operator retries
        assert "database is locked" in (rig.root / "failed" / job_id / "ERROR.txt").read_text()
        assert rig.engine.apply(job_id, Action.RETRY, by="dave", note="").ok
        rig.run(until=done(rig, job_id), steps=10)
    rig.run(steps=3)
    rig.take_prints()
    assert rig.printed == ["L1_L1-1_bc-85x55_x1.pdf"]
    assert rig.statuses(job_id).count("InHotFolder") == 1


# -- faults injected into the copy ------------------------------------------------------------------


def _raise_on_sendfile(monkeypatch: pytest.MonkeyPatch, code: int, times: int = 1_000) -> dict[str, int]:
    calls = {"n": 0}
    real = os.sendfile

    def failing(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        if calls["n"] < times:
            calls["n"] += 1
            if offset:  # part of the file is written already: a partial temp file exists
                raise OSError(code, os.strerror(code))
            real(out_fd, in_fd, offset, min(count, 1000))
            raise OSError(code, os.strerror(code))
        return real(out_fd, in_fd, offset, count)

    monkeypatch.setattr(fsutil_module.os, "sendfile", failing)
    return calls


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "is full"),
        (errno.EIO, "failed"),
        (errno.ESTALE, "handle is stale"),
        (errno.EHOSTDOWN, "cannot be reached (Host is down)"),
    ],
)
def test_transient_copy_errors_retry_after_backoff_then_deliver(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, code: int, words: str
) -> None:
    job_id = rig.order("T1")
    calls = _raise_on_sendfile(monkeypatch, code, times=1)
    rig.run(until=lambda: rig.stage(job_id) is Stage.RETRY, steps=10)
    job = rig.job(job_id)
    assert calls["n"] == 1
    assert job.attempts == 1
    failed = job.history[-1]
    assert failed.status is JobStatus.CopyToHotFolderFailed
    assert failed.detail.startswith("attempt 1 of 3, ") and words in failed.detail
    assert job.next_attempt_at == iso(rig.clock.now() + timedelta(seconds=10))  # backoff_seconds[0]
    assert rig.temps() == [] and rig.take_prints() == [], "no partial file, temp or final"
    # Not before the backoff (10 s) ...
    rig.run(steps=5, dt=1)
    assert rig.stage(job_id) is Stage.RETRY
    # ... and after it, delivered.
    rig.run(until=done(rig, job_id), steps=10, dt=2)
    assert rig.take_prints() == ["T1_T1-1_bc-85x55_x1.pdf"]
    assert rig.statuses(job_id)[-2:] == ["CopyToHotFolderFailed", "InHotFolder"]


def test_disk_full_at_fsync_leaves_no_partial_file(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Buffered writes to a full disk often fail only at fsync/close."""
    job_id = rig.order("F1")
    real = os.fsync
    hot = str(rig.hot)

    def fsync(fd: int) -> None:
        if str(Path(f"/proc/self/fd/{fd}").readlink()).startswith(hot + "/."):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(fsutil_module.os, "fsync", fsync)
    rig.run(until=lambda: rig.stage(job_id) is Stage.RETRY, steps=10)
    assert "is full" in rig.job(job_id).history[-1].detail
    assert rig.temps() == [] and rig.take_prints() == []
    monkeypatch.setattr(fsutil_module.os, "fsync", real)
    rig.run(until=done(rig, job_id), steps=20, dt=3)
    assert rig.take_prints() == ["F1_F1-1_bc-85x55_x1.pdf"]


def test_retries_end_in_failed_with_error_txt_and_retry_starts_again(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = rig.order("R1")
    _raise_on_sendfile(monkeypatch, errno.EIO)
    rig.run(until=lambda: rig.stage(job_id) is Stage.FAILED, steps=60, dt=5)
    job = rig.job(job_id)
    details = [e.detail for e in job.history if e.status is JobStatus.CopyToHotFolderFailed]
    assert [d.split(",")[0] for d in details] == ["attempt 1 of 3", "attempt 2 of 3", "attempt 3 of 3"]
    error = (rig.root / "failed" / job_id / "ERROR.txt").read_text()
    assert "all 3 attempts failed" in error and "RETRY" in error
    # max_attempts lowered by a reload after two attempts: the third is the last, and said as three
    # (audit AY 5: "(all 1 attempts failed)" after two).
    other = rig.order("R2")
    rig.run(until=lambda: rig.stage(other) is not None and rig.job(other).attempts == 2, steps=30, dt=5)
    lowered = dataclasses.replace(rig.engine.config.delivery, max_attempts=1)
    rig.engine.set_config(dataclasses.replace(rig.engine.config, delivery=lowered))
    rig.run(until=lambda: rig.stage(other) is Stage.FAILED, steps=30, dt=5)
    assert "all 3 attempts failed" in (rig.root / "failed" / other / "ERROR.txt").read_text()
    third = rig.order("R3")  # one attempt from the start (audit BY 3: "(all 1 attempts failed)")
    rig.run(until=lambda: rig.stage(third) is Stage.FAILED, steps=30, dt=5)
    error = (rig.root / "failed" / third / "ERROR.txt").read_text()
    assert "the only attempt failed (delivery.max_attempts: 1)" in error and "all 1 attempts" not in error, error
    rig.engine.flush_status()
    status = (rig.root / "failed" / job_id / "STATUS.txt").read_text()
    assert "Fix the hot folder" in status and "replace/" not in status  # new artwork is not what it needs
    assert rig.temps() == []
    monkeypatch.undo()
    result = rig.engine.apply(job_id, Action.RETRY, by="alice", note="disk replaced")
    assert result.ok, result.message
    assert rig.job(job_id).attempts == 0
    rig.run(until=done(rig, job_id), steps=10)
    assert rig.take_prints() == ["R1_R1-1_bc-85x55_x1.pdf"]


def test_backoff_waits_are_the_configured_ones(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = rig.order("B1")
    _raise_on_sendfile(monkeypatch, errno.EIO)
    seen: list[str] = []
    for _ in range(80):
        rig.engine.request_rescan()
        rig.engine.step()
        job = rig.ledger.get_job(job_id)
        if job is None:
            rig.clock.advance(1)
            continue
        entry = f"{job.attempts}:{job.next_attempt_at}"
        if job.stage is Stage.RETRY and (not seen or seen[-1] != entry):
            seen.append(entry)
        if job.stage is Stage.FAILED:
            break
        rig.clock.advance(1)
    start = rig.clock.now()
    assert len(seen) == 2, seen
    first, second = (datetime.fromisoformat(s.split(":", 1)[1].replace("Z", "+00:00")) for s in seen)
    assert 29 <= (second - first).total_seconds() <= 32, seen  # 30 s after the second failure
    assert rig.stage(job_id) is Stage.FAILED and start >= second


def test_hot_folder_replaced_by_a_file_fails_at_once(rig: Rig) -> None:
    job_id = rig.order("P1")
    rig.hot.rmdir()
    rig.hot.write_text("not a folder")
    rig.run(until=lambda: rig.stage(job_id) is Stage.FAILED, steps=10)
    assert rig.statuses(job_id).count("CopyToHotFolderFailed") == 1
    error = (rig.root / "failed" / job_id / "ERROR.txt").read_text()
    assert "is a file, not a folder" in error
    rig.hot.unlink()
    rig.hot.mkdir()
    assert rig.engine.apply(job_id, Action.RETRY, by="bob", note="").ok
    rig.run(until=done(rig, job_id), steps=10)
    assert rig.take_prints() == ["P1_P1-1_bc-85x55_x1.pdf"]


def test_a_name_the_filesystem_rejects_fails_at_once(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CIFS/vfat hot folder refuses names the spool's filesystem accepts (EINVAL)."""
    job_id = rig.order("N1")
    real = os.open
    hot = str(rig.hot)

    def refusing(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if str(path).startswith(hot + "/"):
            raise OSError(errno.EINVAL, "Invalid argument", str(path))
        return real(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(fsutil_module.os, "open", refusing)
    rig.run(until=lambda: rig.stage(job_id) is Stage.FAILED, steps=10)
    assert rig.statuses(job_id).count("CopyToHotFolderFailed") == 1
    assert "rejects the file name" in (rig.root / "failed" / job_id / "ERROR.txt").read_text()
    assert rig.temps() == []


def test_hot_folder_missing_is_never_created_and_retries(rig: Rig) -> None:
    job_id = rig.order("M1")
    rig.hot.rmdir()
    rig.run(until=lambda: rig.stage(job_id) is Stage.RETRY, steps=10)
    assert "does not exist" in rig.job(job_id).history[-1].detail
    assert not rig.hot.exists()
    rig.hot.mkdir()  # the share is mounted again
    rig.run(until=done(rig, job_id), steps=20, dt=3)
    assert rig.take_prints() == ["M1_M1-1_bc-85x55_x1.pdf"]


def test_hot_folder_removed_in_the_middle_of_the_copy(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = rig.order("U1")
    real = os.fsync
    hot = str(rig.hot)
    state = {"gone": False}

    def fsync(fd: int) -> None:
        if not state["gone"] and str(Path(f"/proc/self/fd/{fd}").readlink()).startswith(hot + "/."):
            state["gone"] = True
            rig.hot.rename(hot + ".unmounted")  # the share goes away under the open temp file
        real(fd)

    monkeypatch.setattr(fsutil_module.os, "fsync", fsync)
    rig.run(until=lambda: rig.stage(job_id) is Stage.RETRY, steps=10)
    assert state["gone"]
    assert not rig.hot.exists(), "never created by the daemon"
    Path(hot + ".unmounted").rename(hot)
    rig.run(until=done(rig, job_id), steps=20, dt=3)
    assert rig.take_prints() == ["U1_U1-1_bc-85x55_x1.pdf"]
    assert rig.temps() == []


# -- exceptions inside stages ---------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["check", "build_output", "link_unchanged", "decide_route", "write_temp"])
def test_an_exception_in_a_stage_fails_that_job_only_and_retry_works(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    as_is = (3, 3, 88, 58) if stage == "link_unchanged" else None
    bad = rig.order("X1", trimbox=as_is)
    good = rig.order("X2", trimbox=as_is)

    def boom_for_x1(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if "X1" in repr(args):
                raise RuntimeError(f"boom in {stage}")
            return original(*args, **kwargs)

        return wrapper

    if stage in ("check", "build_output"):
        monkeypatch.setattr(rig.engine.pdf, stage, boom_for_x1(getattr(rig.engine.pdf, stage)))
    else:
        monkeypatch.setattr(engine_module, stage, boom_for_x1(getattr(engine_module, stage)))
    rig.run(until=lambda: done(rig, good)() and rig.stage(bad) is Stage.FAILED, steps=15)
    error = (rig.root / "failed" / bad / "ERROR.txt").read_text()
    assert f"boom in {stage}" in error and "RETRY" in error
    monkeypatch.undo()
    assert rig.engine.apply(bad, Action.RETRY, by="carol", note="").ok
    rig.run(until=done(rig, bad), steps=10)
    assert sorted(rig.take_prints()) == ["X1_X1-1_bc-85x55_x1.pdf", "X2_X2-1_bc-85x55_x1.pdf"]
    assert rig.temps() == []


def test_an_exception_while_taking_a_file_does_not_stop_the_engine(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    original = Engine.take_manifest
    calls = {"n": 0}

    def flaky(self: Engine, path: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom while reading a manifest")
        original(self, path)

    monkeypatch.setattr(Engine, "take_manifest", flaky)
    job_id = rig.order("Y1")
    rig.run(until=done(rig, job_id), steps=15)
    assert calls["n"] >= 2


def test_a_manifest_the_daemon_keeps_failing_on_goes_to_failed_with_an_explanation(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault of ours (here: the ledger refusing the job's row) must not wedge the manifest in the
    inbox for good, nor leave a half-made job folder in work/."""

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    monkeypatch.setattr(Ledger, "insert_job", broken)
    job_id = rig.order("OV1")
    error = rig.root / "failed" / "OV1.yaml" / "ERROR.txt"
    rig.run(until=error.is_file, steps=20)
    assert "OverflowError" in error.read_text() and "tell the administrator" in error.read_text()
    assert (rig.root / "failed" / "OV1.yaml" / "OV1.yaml").is_file()
    assert not (rig.inbox / "OV1.yaml").exists()
    assert not (rig.root / "work" / job_id).exists()
    assert rig.ledger.get_job(job_id) is None


# -- a locked ledger --------------------------------------------------------------------------------


def test_ledger_locked_for_a_while_the_engine_waits_and_goes_on(rig: Rig) -> None:
    job_id = rig.order("S1")
    path = rig.config.paths.state / "ledger.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(1.5, lambda: holder.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    try:
        rig.run(until=done(rig, job_id), steps=10)
    finally:
        release.join()
        holder.close()
    assert time.monotonic() - started >= 1.0
    assert rig.take_prints() == ["S1_S1-1_bc-85x55_x1.pdf"]


# -- future orders and retention --------------------------------------------------------------------


def test_a_future_order_whose_artwork_comes_after_it_is_a_future_order_again(rig: Rig) -> None:
    """Audit CB 3: its artwork came after the manifest: it stayed AwaitingData until its date, and
    `jobs --status FutureOrder` left it out."""
    later = (rig.clock.now() + timedelta(minutes=10)).isoformat()
    (rig.inbox / "FL.yaml").write_text(
        f'order_id: "FL"\nproduct: bc-85x55\nquantity: 1\nartwork: [FL.pdf]\nprocess_after: "{later}"\n'
    )
    rig.run(until=lambda: rig.stage("FL-1") is Stage.AWAITING, steps=5)
    make_pdf(rig.inbox / "FL.pdf", pages=CARD)
    rig.run(until=lambda: rig.stage("FL-1") is Stage.FUTURE, steps=5)
    assert rig.statuses("FL-1") == ["Ordered", "FutureOrder", "AwaitingData", "FutureOrder"]
    rig.run(until=done(rig, "FL-1"), steps=20, dt=60)
    assert rig.take_prints() == ["FL_FL-1_bc-85x55_x1.pdf"]


def test_a_future_order_without_a_time_zone_says_it_is_taken_as_utc(rig: Rig) -> None:
    rig.order("NZ", extra='process_after: "2026-11-22T12:00:00"\n')
    rig.run(until=lambda: rig.stage("NZ-1") is Stage.FUTURE, steps=10, dt=0.5)
    assert rig.job("NZ-1").history[-1].detail == (
        "process after 2026-11-22T12:00:00.000Z (the manifest gave no time zone: taken as UTC)"
    )


def test_a_job_waiting_for_its_artwork_says_until_when(rig: Rig) -> None:
    """Audit: `show` and STATUS.txt of a job waiting for its artwork did not say when it would
    fail for it (artwork_timeout_seconds after the intake)."""
    r = rig
    (r.inbox / "AU.yaml").write_text('order_id: "AU"\nproduct: bc-85x55\nquantity: 1\nartwork: [AU.pdf]\n')
    r.run(until=lambda: r.stage("AU-1") is Stage.AWAITING, steps=10, dt=0.5)
    r.run(steps=2, dt=1)  # STATUS.txt written
    until = r.job("AU-1").awaiting_until
    assert until == iso(parse_iso(r.job("AU-1").created_at) + timedelta(seconds=600))
    shown = run_cli(r.config_path, "show", "AU-1").stdout
    assert f"Waits for its artwork until: {until} (then it fails: artwork missing)" in shown, shown
    status = " ".join((r.root / "work" / "AU-1" / "STATUS.txt").read_text().split())
    assert f"waits for its artwork files to arrive in the inbox (until {until}; then it fails" in status, status


@pytest.fixture
def short_wait_rig(tmp_path: Path) -> Iterator[Rig]:
    """artwork_timeout_seconds: 5."""
    yield from rig_on(tmp_path, watch={"artwork_timeout_seconds": 5})


def _unlistable_order_folder(monkeypatch: pytest.MonkeyPatch, drop: Path) -> list[bool]:
    """An order folder (manifest.yaml and card.pdf) the daemon may not list (umask 077 of another
    account), until the flag returned is set."""
    drop.mkdir()
    make_pdf(drop / "card.pdf", pages=CARD)
    order = drop.name
    (drop / "manifest.yaml").write_text(f'order_id: "{order}"\nproduct: bc-85x55\nquantity: 1\nartwork: [card.pdf]\n')
    real = os.scandir
    readable = [False]

    def scandir(path: Any = ".") -> Any:
        if not readable[0] and str(path) == str(drop):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    return readable


def test_an_order_folder_the_daemon_may_not_read_is_said_once_and_taken_once_readable(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BS D5: an order folder uploaded with umask 077 (or made mode 000): no log line, no
    job, nothing in failed/, health ok, for ever. The log says it (once for each state of the
    folder), and the order is taken once the daemon may read it."""
    r = rig
    drop = r.inbox / "F5"
    readable = _unlistable_order_folder(monkeypatch, drop)
    with capture_logs() as logs:
        r.run(steps=4)
    said = [e for e in logs if e["event"] == "folder.unreadable"]
    assert len(said) == 1 and said[0]["folder"] == "inbox/F5", said
    assert "chmod -R g+rwX" in said[0]["reason"] and r.stage("F5-1") is None
    # What `health` shows while it lasts (audit BH 6: "ok", the log line the only word of it).
    assert r.engine.unreadable_folders() == ["inbox/F5"]
    readable[0] = True
    r.run(until=done(r, "F5-1"), steps=10)
    assert r.take_prints() == ["F5_F5-1_bc-85x55_x1.pdf"]
    assert r.engine.unreadable_folders() == []


def test_an_order_folder_made_unreadable_is_said_at_its_event_and_taken_within_seconds_once_readable(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BS D5, left: an order folder the daemon may not read, made after the start, was said
    only at the next rescan (up to watch.rescan_seconds), and taken only at the one after it was
    made readable. Its event says it; the daemon tries it again every few seconds."""
    r = rig
    r.run(steps=1)
    drop = r.inbox / "F6"
    readable = _unlistable_order_folder(monkeypatch, drop)
    with capture_logs() as logs:
        r.engine.hint(drop)  # the folder's creation, as the watcher reports it: no rescan from here on
        for _ in range(3):
            r.engine.step()
            r.clock.advance(1.0)
        said = [e for e in logs if e["event"] == "folder.unreadable"]
        assert len(said) == 1 and said[0]["folder"] == "inbox/F6", said
        readable[0] = True
        for _ in range(8):
            r.engine.step()
            if r.stage("F6-1") is Stage.DONE:
                break
            r.clock.advance(1.0)
    assert r.stage("F6-1") is Stage.DONE and r.take_prints() == ["F6_F6-1_bc-85x55_x1.pdf"]
    assert [e["folder"] for e in logs if e["event"] == "folder.readable"] == ["inbox/F6"]


def test_a_file_taken_into_a_job_looks_at_its_own_order_folder_only(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit BX 2: each artwork file taken looked at every order folder a manifest had come in
    (a ledger query each): with 500 folder drops of 20 files waiting, deliveries stopped for
    minutes. The folder the file came from is looked at (and those above it), not the others."""
    r = rig
    for n in range(20):
        drop = r.inbox / f"O{n}"
        drop.mkdir()
        make_pdf(drop / "front.pdf", pages=CARD[:1])
        (drop / "manifest.yaml").write_text(
            f'order_id: "O{n}"\nproduct: bc-85x55\nquantity: 1\nartwork: [front.pdf, back.pdf]\n'
        )
    r.run(until=lambda: all(r.stage(f"O{n}-1") is Stage.AWAITING for n in range(20)), steps=10)
    looked: list[str] = []
    real = Ledger.awaits_under
    monkeypatch.setattr(Ledger, "awaits_under", lambda self, folder: looked.append(folder) or real(self, folder))
    make_pdf(r.inbox / "O3" / "back.pdf", pages=CARD[:1])
    r.run(until=done(r, "O3-1"), steps=10)
    assert looked and set(looked) <= {str(r.inbox / "O3")}, looked
    assert r.stage("O4-1") is Stage.AWAITING


def test_a_folder_drop_made_writable_after_the_artwork_timeout_is_taken_whole(
    short_wait_rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BS D1: an order folder uploaded with umask 022 (the daemon may read it, not take files
    out of it) made writable after artwork_timeout_seconds: its PDF was filed into failed/ as
    claimed by no manifest, then the manifest beside it was taken, its job failing "artwork
    missing" (and the PDF's ERROR.txt pointed to another order's waiting job). The folder's
    manifest is taken first: the order whole."""
    r = short_wait_rig
    drop = r.inbox / "F1"
    drop.mkdir()
    make_pdf(drop / "card.pdf", pages=CARD)
    (drop / "manifest.yaml").write_text('order_id: "F1"\nproduct: bc-85x55\nquantity: 1\nartwork: [card.pdf]\n')
    writable = [False]
    removable = Engine._removable_from
    monkeypatch.setattr(
        Engine,
        "_removable_from",
        lambda self, folder, file=None: removable(self, folder, file) and (writable[0] or folder != drop),
    )
    r.run(steps=2)
    for _ in range(8):  # past the artwork timeout, with no rescan meanwhile: nothing taken from it
        r.clock.advance(1.0)
        r.engine.step()
    assert (drop / "card.pdf").exists() and (drop / "manifest.yaml").exists() and r.stage("F1-1") is None
    writable[0] = True  # the uploader's chmod g+w, between two rescans
    for _ in range(3):
        r.clock.advance(0.5)
        r.engine.step()
    r.run(until=done(r, "F1-1"), steps=10, dt=0.5)
    assert r.take_prints() == ["F1_F1-1_bc-85x55_x1.pdf"]
    assert os.listdir(r.root / "failed") == []


def test_an_order_folder_not_writable_with_a_manifest_the_daemon_may_not_read_is_said_and_taken_once_fixed(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BW 1: an order folder uploaded with umask 077, made readable (chmod g+rx, the fix
    folder.unreadable gave) but not writable, its manifest still mode 600: the manifest's refusal
    could not move the folder, with a traceback every few seconds. The folder is said
    (inbox.folder_not_writable), and the order taken within seconds of its owner's chmod -R g+rwX."""
    r = rig
    r.run(steps=1)
    drop = r.inbox / "F7"
    drop.mkdir()
    make_pdf(drop / "card.pdf", pages=CARD)
    (drop / "manifest.yaml").write_text('order_id: "F7"\nproduct: bc-85x55\nquantity: 1\nartwork: [card.pdf]\n')
    fixed = [False]
    real_access, real_open = os.access, os.open

    def access(path: Any, mode: int, **kwargs: Any) -> bool:
        return (fixed[0] or Path(path) != drop or not mode & os.W_OK) and real_access(path, mode, **kwargs)

    def refusing(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if not fixed[0] and Path(path) == drop / "manifest.yaml":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(os, "open", refusing)
    with capture_logs() as logs:
        r.run(steps=4)
        assert (drop / "manifest.yaml").exists() and os.listdir(r.root / "failed") == []
        fixed[0] = True  # chmod -R g+rwX by its owner
        for _ in range(10):  # no rescan asked for from here on
            r.clock.advance(1.0)
            r.engine.step()
            if r.stage("F7-1") is Stage.DONE:
                break
    assert [e for e in logs if e["log_level"] == "error" and e["event"] != "inbox.folder_not_writable"] == []
    said = [e for e in logs if e["event"] == "inbox.folder_not_writable"]
    assert len(said) == 1 and said[0]["folder"] == "inbox/F7" and said[0]["owner"] == "root", said
    assert r.stage("F7-1") is Stage.DONE and r.take_prints() == ["F7_F7-1_bc-85x55_x1.pdf"]


def test_a_release_in_a_no_job_folder_made_readable_but_not_writable_is_answered_once(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BW 3: an operator's folder in quarantine/ made with umask 077, a RELEASE in it: said
    unreadable; after chmod g+rx (its mtime unchanged) it was never listed again, and its RELEASE,
    which the daemon may neither read nor rename there, never answered. It is, once."""
    r = rig
    misc = r.root / "quarantine" / "misc"
    misc.mkdir()
    (misc / "RELEASE").write_text("alice\n")
    real_scandir, real_open, real_replace = os.scandir, os.open, os.replace
    listable = [False]

    def scandir(path: Any = ".") -> Any:
        if not listable[0] and str(path) == str(misc):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    def refusing_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path) == misc / "RELEASE":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    def refusing_replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if Path(src).parent == misc:
            raise PermissionError(errno.EACCES, "Permission denied", str(src))
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "open", refusing_open)
    monkeypatch.setattr(os, "replace", refusing_replace)
    with capture_logs() as logs:
        r.run(steps=3)
        listable[0] = True
        for _ in range(8):
            r.clock.advance(1.0)
            r.engine.step()
        r.run(steps=3)
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["folder.unreadable"]
    answered = [e for e in logs if e["event"] == "drop.not_a_job"]
    assert len(answered) == 1 and "may not rename it here" in answered[0]["reason"], answered
    assert os.listdir(misc) == ["RELEASE"]


def test_artwork_still_settling_at_the_deadline_is_waited_for_not_failed_and_taken_back(short_wait_rig: Rig) -> None:
    """Audit (2026-12-05 W R1): artwork copied in 0.3 s before artwork_timeout_seconds was still
    settling at the deadline: the job failed "artwork missing" (ERROR.txt, ValidationFailed) and
    came back from failed/ 0.2 s later. A file there that changed less than settle_seconds ago is
    waited for. (The engine's clock at the machine's: the file's ctime is the machine's.)"""
    r = short_wait_rig
    r.clock._now = datetime.now(UTC) - timedelta(seconds=5)
    (r.inbox / "AS.yaml").write_text('order_id: "AS"\nproduct: bc-85x55\nquantity: 1\nartwork: [AS.pdf]\n')
    r.run(until=lambda: r.stage("AS-1") is Stage.AWAITING, steps=20, dt=0.1)
    deadline = parse_iso(r.job("AS-1").awaiting_until)
    time.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()))  # (under a second)
    make_pdf(r.inbox / "AS.pdf", pages=CARD)  # its ctime: now, by the machine's clock
    r.clock._now = max(deadline, datetime.now(UTC)) + timedelta(seconds=0.05)
    r.clock._mono += 5.0
    r.engine.step()
    assert r.stage("AS-1") is Stage.AWAITING, r.statuses("AS-1")
    r.run(until=done(r, "AS-1"), steps=10, dt=0.5)
    assert "ValidationFailed" not in r.statuses("AS-1")
    assert r.take_prints() == ["AS_AS-1_bc-85x55_x1.pdf"]


def test_artwork_uploaded_under_a_temporary_name_at_the_deadline_is_waited_for(short_wait_rig: Rig) -> None:
    """Audit BL D1: an rsync of the job's PDF (its temporary name `.AR.pdf.Ab12Cd` beside it) still
    going on at artwork_timeout_seconds: the job failed "an upload of it ... never finished" and
    came back once the upload was renamed into place. An upload that changed within the tracker's
    wait for one under way is waited for; the job then takes the file once it is renamed in."""
    r = short_wait_rig
    r.clock._now = datetime.now(UTC) - timedelta(seconds=5)
    (r.inbox / "AR.yaml").write_text('order_id: "AR"\nproduct: bc-85x55\nquantity: 1\nartwork: [AR.pdf]\n')
    r.run(until=lambda: r.stage("AR-1") is Stage.AWAITING, steps=20, dt=0.1)
    make_pdf(r.root / "AR.pdf", pages=CARD)
    upload = r.inbox / ".AR.pdf.Ab12Cd"
    upload.write_bytes((r.root / "AR.pdf").read_bytes()[:300])  # its ctime: now, by the machine's clock
    r.clock._now = max(parse_iso(r.job("AR-1").awaiting_until), datetime.now(UTC)) + timedelta(seconds=2)
    r.clock._mono += 7.0
    r.engine.step()
    assert r.stage("AR-1") is Stage.AWAITING, r.statuses("AR-1")
    upload.write_bytes((r.root / "AR.pdf").read_bytes())
    os.replace(upload, r.inbox / "AR.pdf")
    r.engine.hint(r.inbox / "AR.pdf", moved_in=True)
    r.run(until=done(r, "AR-1"), steps=20, dt=0.5)
    assert "ValidationFailed" not in r.statuses("AR-1")
    assert r.take_prints() == ["AR_AR-1_bc-85x55_x1.pdf"]


def test_an_upload_under_a_temporary_name_that_stopped_changing_fails_at_the_deadline(short_wait_rig: Rig) -> None:
    """The same with an upload that stopped changing longer ago than that wait (a client killed,
    its temporary file left): the job fails at its deadline, saying the upload never finished."""
    r = short_wait_rig
    r.clock._now = datetime.now(UTC) - timedelta(seconds=5)
    (r.inbox / "AK.yaml").write_text('order_id: "AK"\nproduct: bc-85x55\nquantity: 1\nartwork: [AK.pdf]\n')
    r.run(until=lambda: r.stage("AK-1") is Stage.AWAITING, steps=20, dt=0.1)
    (r.inbox / ".AK.pdf.Zt9y1p").write_bytes(b"%PDF-1.7\n" + b"x" * 300)
    quiet = r.engine.tracker.incomplete_pdf_seconds + 1
    r.clock._now = max(parse_iso(r.job("AK-1").awaiting_until), datetime.now(UTC) + timedelta(seconds=quiet))
    r.clock._mono += 7.0 + quiet
    r.engine.step()
    assert r.stage("AK-1") is Stage.FAILED, r.statuses("AK-1")
    error = (r.root / "failed" / "AK-1" / "ERROR.txt").read_text()
    assert "an upload of it under the temporary name '.AK.pdf.Zt9y1p' never finished" in error, error


def test_artwork_a_poller_saw_changing_at_the_deadline_is_waited_for(short_wait_rig: Rig) -> None:
    """Audit BL D2 (watch.mode: polling): a file written in place until 1.5 s before the deadline,
    its last change noted by the poller's look after that, not settled yet by then: the job failed
    "it was still changing" and took the file 0.3 s later. A file the tracker sees settling is
    waited for, whatever its ctime says."""
    r = short_wait_rig
    r.clock._now = datetime.now(UTC) - timedelta(seconds=5)
    (r.inbox / "AP.yaml").write_text('order_id: "AP"\nproduct: bc-85x55\nquantity: 1\nartwork: [AP.pdf]\n')
    r.run(until=lambda: r.stage("AP-1") is Stage.AWAITING, steps=20, dt=0.1)
    make_pdf(r.inbox / "AP.pdf", pages=CARD)  # its ctime: now, by the machine's clock
    deadline = parse_iso(r.job("AP-1").awaiting_until)
    r.clock._now = max(deadline, datetime.now(UTC) + timedelta(seconds=1.5))  # (its ctime 1.5 s old)
    r.clock._mono += 5.0
    r.engine.tracker.track(r.inbox / "AP.pdf", activity=True)  # the poller's look, 0.3 s before
    r.clock._mono += 0.3  # (settle_seconds: 0.5)
    r.engine._run_due()
    assert r.stage("AP-1") is Stage.AWAITING, r.statuses("AP-1")
    r.run(until=done(r, "AP-1"), steps=20, dt=0.5)
    assert "ValidationFailed" not in r.statuses("AP-1")
    assert r.take_prints() == ["AP_AP-1_bc-85x55_x1.pdf"]


def test_artwork_absent_at_the_deadline_still_fails_at_once(short_wait_rig: Rig) -> None:
    """The same without the file: failed at the deadline, as before."""
    r = short_wait_rig
    r.clock._now = datetime.now(UTC) - timedelta(seconds=5)
    (r.inbox / "AN.yaml").write_text('order_id: "AN"\nproduct: bc-85x55\nquantity: 1\nartwork: [AN.pdf]\n')
    r.run(until=lambda: r.stage("AN-1") is Stage.AWAITING, steps=20, dt=0.1)
    r.clock._now = parse_iso(r.job("AN-1").awaiting_until) + timedelta(seconds=0.1)
    r.clock._mono += 5.0
    r.engine.step()
    assert r.stage("AN-1") is Stage.FAILED and r.statuses("AN-1")[-1] == "ValidationFailed"


def test_a_start_with_overdue_work_sets_the_wake_up_of_the_next_timer(rig: Rig) -> None:
    """Audit: after a restart with an overdue job, a future order due a few seconds after the
    start was taken up late (at a step woken by something else): only the earliest time, the
    overdue one, was given to the scheduler."""
    r = rig
    first = iso(r.clock.now() + timedelta(seconds=10))
    second = r.clock.now() + timedelta(seconds=13)
    r.order("W1", extra=f'process_after: "{first}"\n')
    r.order("W2", extra=f'process_after: "{iso(second)}"\n')
    r.run(until=lambda: r.stage("W1-1") is Stage.FUTURE and r.stage("W2-1") is Stage.FUTURE, steps=10, dt=0.5)
    # stopped meanwhile: W1 overdue, W2 due 2 s after the start
    r.clock.advance((parse_iso(first) - r.clock.now()).total_seconds() + 1)
    assert r.job("W1-1").history[-1].detail == f"process after {first}"
    wakes: list[datetime] = []
    ledger = Ledger(r.config.paths.state / "ledger.sqlite3")
    engine = Engine(r.config, ledger, r.clock, InProcessPdf(), schedule_wakeup=wakes.append)
    r.ledgers.append(ledger)
    r.engines.append(engine)
    engine.reconcile()
    assert wakes == [parse_iso(first)]  # overdue: at once
    engine.step()
    assert r.stage("W1-1") is not Stage.FUTURE
    assert second.replace(microsecond=second.microsecond // 1000 * 1000) in wakes


def test_a_stop_during_the_check_does_not_begin_the_output(rig: Rig) -> None:
    """Audit (2026-12-05 G): SIGTERM came while a 120,000-page job was checked; the daemon then began
    its output anyway (a worker's build, as long again) and stopped only at its 20 s limit. The job
    is checked again at the next start instead, and delivered once."""
    built: list[str] = []

    class StopDuringCheck(InProcessPdf):
        def check(self, artwork: Any, product_name: Any, spec: Any, validation: Any) -> Any:
            report, _as_is = super().check(artwork, product_name, spec, validation)
            rig.engine.stop_event.set()  # (SIGTERM's doing) while the check ran
            return report, False  # an output the worker builds, not a link

        def build_output(
            self, artwork: Any, dest: Any, spec: Any, validation: Any, while_waiting: Any = None, repaired: bool = False
        ) -> Any:
            built.append(dest)
            return super().build_output(artwork, dest, spec, validation)

    rig.engine.pdf = StopDuringCheck()
    job_id = rig.order("SC")
    for _ in range(10):
        rig.engine.step()
        rig.clock.advance(1.0)
        if rig.engine.stop_event.is_set():
            break
    assert rig.engine.stop_event.is_set() and built == []
    assert rig.stage(job_id) is Stage.PROCESS and "OutputCreationStarted" not in rig.statuses(job_id)
    rig.start()  # the next start: checked again, made and delivered once
    rig.run(until=done(rig, job_id), steps=10)
    assert rig.take_prints() == ["SC_SC-1_bc-85x55_x1.pdf"]
    assert rig.statuses(job_id).count("ValidationFinished") == 1


def test_future_order_waits_and_resumes_across_a_restart(rig: Rig) -> None:
    later = (rig.clock.now() + timedelta(minutes=10)).isoformat()
    job_id = rig.order("F9", extra=f'process_after: "{later}"\n')
    rig.run(until=lambda: rig.stage(job_id) is Stage.FUTURE, steps=5)
    assert "FutureOrder" in rig.statuses(job_id)
    rig.run(steps=5, dt=60)
    assert rig.stage(job_id) is Stage.FUTURE and rig.take_prints() == []
    rig.order("F9", extra=f'process_after: "{later}"\n')  # new artwork while it waits
    rig.run(until=lambda: "RecreationRequested" in rig.statuses(job_id), steps=5)
    assert rig.statuses(job_id)[-3:] == ["ArtworkUploaded", "RecreationRequested", "FutureOrder"]
    assert rig.statuses(job_id).count("FutureOrder") == 2 and rig.stage(job_id) is Stage.FUTURE
    rig.start()  # restart while waiting
    rig.run(until=done(rig, job_id), steps=20, dt=60)
    assert rig.take_prints() == ["F9_F9-1_bc-85x55_x1.pdf"]
    assert rig.clock.now() >= datetime.fromisoformat(later)


def test_a_future_order_in_the_year_9998_with_an_artwork_timeout_of_years_waits(tmp_path: Path) -> None:
    """Audit (2026-12-05 H): process_after 9998-12-31 (the last date SPEC's range allows) and an
    artwork_timeout_seconds of years (reference.yaml: up to 1e9) made the artwork's deadline a date
    no datetime holds: "OverflowError: date value out of range", three times, and the manifest
    went to failed/ as "a fault in the daemon". The deadline is the last time a datetime holds."""
    for r in rig_on(tmp_path, watch={"artwork_timeout_seconds": 1e9}):
        r.inbox.joinpath("HF.yaml").write_text(
            'order_id: "HF"\nproduct: bc-85x55\nquantity: 1\nartwork: [HF.pdf]\nprocess_after: "9998-12-31T23:59:59Z"\n'
        )
        r.run(until=lambda r=r: r.stage("HF-1") is not None, steps=5)
        r.run(steps=3)
        job = r.job("HF-1")
        assert job.stage in (Stage.FUTURE, Stage.AWAITING) and "FutureOrder" in r.statuses("HF-1")
        assert job.awaiting_until == "9999-12-31T23:59:59.999Z"
        assert not os.listdir(r.root / "failed")


def test_a_replacement_for_a_future_order_waits_for_its_date(rig: Rig, tmp_path: Path) -> None:
    """New artwork (replace/ or the CLI) for a job waiting as a FutureOrder goes back to waiting:
    it used to be made and delivered at once, days early."""
    later = (rig.clock.now() + timedelta(minutes=10)).isoformat()
    job_id = rig.order("F7", extra=f'process_after: "{later}"\n')
    rig.run(until=lambda: rig.stage(job_id) is Stage.FUTURE, steps=5)
    new_art = tmp_path / "new.pdf"
    make_pdf(new_art, pages=CARD)
    result = rig.engine.apply(job_id, Action.REPLACE, by="erin", note="", file=new_art)
    assert result.ok, result.message
    assert result.message.endswith("made again at its process_after time, 2026-11-22T10:10:00.000Z")
    assert rig.statuses(job_id)[-3:] == ["ArtworkUploaded", "RecreationRequested", "FutureOrder"]
    rig.run(steps=5, dt=60)
    assert rig.stage(job_id) is Stage.FUTURE and rig.take_prints() == []
    assert (rig.root / "work" / job_id / "artwork").is_dir()
    rig.run(until=done(rig, job_id), steps=20, dt=60)
    assert rig.take_prints() == ["F7_F7-1_bc-85x55_x1.pdf"]
    assert rig.clock.now() >= datetime.fromisoformat(later)


def test_the_same_reprint_sent_twice_after_its_files_were_deleted_is_printed_once(rig: Rig) -> None:
    """Review GD 1: with its files deleted after retention (done_days 0: at once), a reprint sent
    twice while its PDF still waited in the hot folder was printed twice: the copy of the manifest
    and artwork it is compared with were gone. The ledger's facts and artwork digests are compared.
    Other artwork, or other facts, are a new reprint."""
    r = rig
    job_id, drop, send = _printed_with_a_reprint_at_hand(r, "RP")
    reprint = (drop / "manifest.yaml").read_text()

    def purge() -> None:
        r.clock.advance(30 * 86400 + 1)  # (retention.done_days 30)
        r.engine.run_retention()
        assert r.job(job_id).purged

    purge()
    send("first")
    r.run(until=lambda: r.statuses(job_id).count("InHotFolder") == 2, steps=10)
    purge()
    assert _route(r, drop / "manifest.yaml")["known"] == (  # (route says what the daemon does)
        "its PDF RP_RP-1_bc-85x55_x1.pdf, made from this same manifest and artwork, still waits in hot folder "
        "indigo: this job would be refused as the same order sent twice (not printed again)"
    )
    send("again")  # (the webhook's retry: the PDF the first made still waits)
    r.run(until=lambda: any((r.root / "failed").iterdir()), steps=10)
    r.run(steps=5)
    assert r.statuses(job_id).count("RecreationRequested") == 1
    assert sorted(p.name for p in r.hot.iterdir()) == ["RP_RP-1_bc-85x55_x1.pdf"]  # once
    [refused] = list((r.root / "failed").iterdir())
    assert "this copy was taken as the same order sent twice" in " ".join((refused / "ERROR.txt").read_text().split())
    # Another quantity is another order (a new reprint), even while the PDF waits.
    (drop / "manifest.yaml").write_text(reprint.replace("quantity: 1", "quantity: 2"))
    send("more")
    r.run(until=lambda: r.statuses(job_id).count("InHotFolder") == 3, steps=10)
    assert sorted(p.name for p in r.hot.iterdir()) == ["RP_RP-1_bc-85x55_x1.pdf", "RP_RP-1_bc-85x55_x2.pdf"]
    # Review GN 1: the first reprint of an order whose first PDF still waits is the reprint asked
    # for (that PDF was not made by a reprint); GN 2: an attribute true, then 1, is another order.
    shutil.rmtree(r.root / "failed")
    (r.root / "failed").mkdir()
    first = r.order("RQ", extra="attributes: {proof: true}\n")
    r.run(until=done(r, first), steps=10)
    make_pdf(drop / "RP.pdf", pages=CARD)  # (the same bytes as RQ.pdf: made alike)
    assert (drop / "RP.pdf").read_bytes() == (r.root / "done" / first / "artwork" / "RQ.pdf").read_bytes()
    again = (
        'order_id: "RQ"\nreprint: true\nproduct: bc-85x55\nquantity: 1\nartwork: [RP.pdf]\nattributes: {proof: true}\n'
    )
    r.clock.advance(30 * 86400 + 1)
    r.engine.run_retention()
    (drop / "manifest.yaml").write_text(again)
    send("RQ-reprint")
    r.run(until=lambda: r.statuses(first).count("InHotFolder") == 2, steps=10)
    r.clock.advance(30 * 86400 + 1)
    r.engine.run_retention()
    (drop / "manifest.yaml").write_text(again.replace("proof: true", "proof: 1"))
    send("RQ-proof-1")
    r.run(until=lambda: r.statuses(first).count("InHotFolder") == 3, steps=10)
    assert not any((r.root / "failed").iterdir())


def test_retention_removes_old_job_folders_and_keeps_the_history(rig: Rig) -> None:
    r = rig
    job_id = r.order("D1")
    r.run(until=done(r, job_id), steps=10)
    assert (r.root / "done" / job_id).is_dir()
    r.engine.run_retention()
    assert (r.root / "done" / job_id).is_dir(), "not yet: younger than done_days"
    r.clock.advance(30 * 86400 + 1)  # retention.done_days defaults to 30
    r.engine.run_retention()
    assert not (r.root / "done" / job_id).exists()
    job = r.job(job_id)
    assert job.stage is Stage.PURGED
    assert [e.status.value for e in job.history][-2:] == ["InHotFolder", "JobDataDeleted"]
    assert job.history[-1].detail == "retention: 30 days"
    r.engine.run_retention()
    assert [e.status.value for e in r.job(job_id).history].count("JobDataDeleted") == 1


def test_a_purged_rejected_job_is_still_said_to_be_rejected(rig: Rig) -> None:
    """Audit AY 1: once retention purged a rejected job, its manifest sent again was refused as
    "already delivered to hot folder indigo (JobDataDeleted, <the purge's time>)", and `show
    --json` gave it a hot folder: an operator could think a cancelled job had printed."""
    from spo_hotfolder.commands import public_json

    r = rig
    job_id = r.order("RJ", extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    assert r.engine.apply(job_id, Action.REJECT, by="lee", note="customer cancelled").ok
    rejected_at = r.job(job_id).history[-1].at
    assert public_json(r.job(job_id), r.config)["hot_folder"] is None
    r.run(steps=2, dt=0.5)
    # (as `show` marks it: its Blocked entry was never removed; audit BP)
    assert (
        "Status: Rejected   [BLOCKED: rejected, never released]"
        in (r.root / "rejected" / job_id / "STATUS.txt").read_text()
    )
    r.clock.advance(30 * 86400 + 1)
    r.engine.run_retention()
    job = r.job(job_id)
    assert job.stage is Stage.PURGED and job.rejected() and job.route is None
    assert public_json(job, r.config)["hot_folder"] is None
    light = r.ledger.get_job(job_id, history=False)
    assert light is not None and public_json(light, r.config, with_history=False)["hot_folder"] is None
    r.order("RJ", extra="blocked: true\n")  # sent again
    r.run(until=lambda: any((r.root / "failed").glob("RJ.yaml*")), steps=10)
    [refused] = list((r.root / "failed").glob("RJ.yaml*"))
    error = " ".join((refused / "ERROR.txt").read_text().split())
    assert f"job {job_id} was rejected earlier ({rejected_at}); its files were deleted after retention on" in error
    assert "delivered" not in error.split("How to fix")[0], error
    assert "Nothing was printed." in error and "twice" not in error  # (audit BB 10)
    from spo_hotfolder.commands import _known_note

    assert _known_note(r.job(job_id), "RJ", False) == (  # route says so too (audit BC 3)
        "already finished (Rejected, its files deleted after retention): would be refused without reprint: true"
    )
    from spo_hotfolder.operator import refusal

    assert refusal(r.job(job_id), Action.RELEASE) == (
        f"job {job_id} was rejected and its files were deleted after retention"
    )
    assert r.take_prints() == []


def test_a_purged_delivered_job_is_said_delivered_when_it_was(rig: Rig) -> None:
    """... and the same artwork sent again is not said to be other artwork, never printed (audit
    BY 1: with the job's folder purged, every file was); other artwork is."""
    r = rig
    job_id = r.order("DL")
    pdf = (r.inbox / "DL.pdf").read_bytes()
    r.run(until=done(r, job_id), steps=10)
    delivered_at = r.job(job_id).history[-1].at
    r.clock.advance(30 * 86400 + 1)
    r.engine.run_retention()
    assert not r.job(job_id).rejected()
    r.order("DL")
    (r.inbox / "DL.pdf").write_bytes(pdf)  # the same file, sent again
    r.run(until=lambda: any((r.root / "failed").glob("DL.yaml*")), steps=10)
    [refused] = list((r.root / "failed").glob("DL.yaml*"))
    error = " ".join((refused / "ERROR.txt").read_text().split())
    assert (
        f"job {job_id} was already delivered to hot folder indigo (InHotFolder, {delivered_at}); its files were "
        "deleted after retention on"
    ) in error
    assert "is not what the job was made from" not in error, error
    r.order("DL")
    (r.inbox / "DL.pdf").write_bytes(pdf + b"\n% changed\n")  # other artwork
    r.run(until=lambda: len(list((r.root / "failed").glob("DL.yaml*"))) == 2, steps=10)
    [again] = [f for f in (r.root / "failed").glob("DL.yaml*") if f != refused]
    error = " ".join((again / "ERROR.txt").read_text().split())
    assert "The artwork it brings (DL.pdf) is not what the job was made from: it was not printed." in error, error


def _share_down_for(monkeypatch: pytest.MonkeyPatch, temp: Path) -> Callable[[], None]:
    """Every removal of ``temp`` fails as on a share that went away; the returned call ends it."""
    real_unlink = os.unlink

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        if os.fspath(path) == str(temp):
            raise OSError(errno.EHOSTDOWN, "Host is down", str(path))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    return lambda: monkeypatch.setattr(os, "unlink", real_unlink)


def _left_by_a_copy_given_up(r: Rig, monkeypatch: pytest.MonkeyPatch, order: str) -> tuple[str, Path]:
    """Order ``order``'s copy failed (the share went away) and so did the removal of its temp file:
    the job waits for its next attempt, the temp file left in the hot folder (its job, its temp file)."""
    temp = r.hot / f".{order}_{order}-1_bc-85x55_x1.pdf.part"
    _raise_on_sendfile(monkeypatch, errno.EHOSTDOWN, times=1)
    back = _share_down_for(monkeypatch, temp)
    job_id = r.order(order)
    r.run(until=lambda: r.stage(job_id) is Stage.RETRY, steps=10)
    back()
    assert temp.exists(), "its removal after the failure failed"
    return job_id, temp


def test_a_temp_left_in_a_hot_folder_out_of_reach_at_start_goes_with_the_hourly_sweep(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An attempt whose temp file could not be removed (the share went away), then the daemon
    restarted while the share was not mounted: its temp file is removed by the hourly sweep once
    the share is back, not only at the next start. Another sender's upload under a name like ours
    is never touched: only temp files the journal says a copy of ours may have left are ours."""
    job_id, temp = _left_by_a_copy_given_up(rig, monkeypatch, "K9")
    away = rig.hot.with_name("indigo.unmounted")
    (rig.hot / ".flyer-from-prepress.pdf.part").write_bytes(b"%PDF-1.7 someone's upload")
    os.replace(rig.hot, away)
    rig.start()  # after the crash, the share out of reach
    rig.run(steps=2)
    os.replace(away, rig.hot)  # the share is back
    rig.run(steps=2)
    assert rig.temps() == [temp.name, ".flyer-from-prepress.pdf.part"]
    rig.engine.request_retention()  # what the scheduler does every hour
    rig.engine.step()
    assert rig.temps() == [".flyer-from-prepress.pdf.part"]
    rig.start()
    assert rig.temps() == [".flyer-from-prepress.pdf.part"], "nor at a start"
    rig.run(until=done(rig, job_id), steps=20, dt=5)
    assert rig.take_prints() == ["K9_K9-1_bc-85x55_x1.pdf"]


def test_a_temp_of_ours_under_a_share_not_mounted_at_the_start_stays_ours(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review GW 3: an attempt whose temp file could not be removed (the share went away), then a
    restart while the share was not mounted: the sweep listed its empty mount point, found no temp
    file there and took the attempt's as gone; once the share was back, the file was taken for
    another sender's, every copy refused and the file left for good. A folder that is not mounted
    is not looked into."""
    job_id, _ = _left_by_a_copy_given_up(rig, monkeypatch, "GX")
    mounted = {"yes": False}
    real_check = delivery_module.MountPoints.check

    def check(self: Any, label: str, folder: Path, st: os.stat_result) -> None:
        if Path(folder) == rig.hot and not mounted["yes"]:
            raise delivery_module.DeliveryError(f"hot folder indigo ({folder}) is not mounted", transient=True)
        real_check(self, label, folder, st)

    monkeypatch.setattr(delivery_module.MountPoints, "check", check)
    away = rig.hot.with_name("indigo.share")
    rig.hot.rename(away)
    rig.hot.mkdir()  # (the empty mount point)
    rig.start()
    rig.run(steps=3)
    rig.hot.rmdir()
    away.rename(rig.hot)  # the share is back
    mounted["yes"] = True
    rig.run(until=done(rig, job_id), steps=30, dt=10)
    assert rig.take_prints() == ["GX_GX-1_bc-85x55_x1.pdf"] and rig.temps() == []


def test_a_copy_cut_short_as_its_share_goes_away_is_ours_when_the_share_is_back(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review GZ 2: an attempt given up as the share holding the hot folder was unmounted (GZ: an
    early copy of big artwork; here its rename): its temp file's removal, by path, found nothing in
    the empty mount point, and the attempt was cleared; back with the share, the file counted as
    another sender's, every copy refused, the file left for good. An attempt is cleared only where
    its folder is mounted."""
    temp = rig.hot / ".GZ_GZ-1_bc-85x55_x1.pdf.part"
    away = rig.hot.with_name("indigo.share")
    mounted = {"yes": True}
    real_check = delivery_module.MountPoints.check

    def publish(*args: Any, **kwargs: Any) -> None:
        rig.hot.rename(away)  # the share goes away before the rename
        rig.hot.mkdir()  # (its empty mount point)
        mounted["yes"] = False
        raise delivery_module.DeliveryError("the share cannot be reached (Host is down)", transient=True)

    def check(self: Any, label: str, folder: Path, st: os.stat_result) -> None:
        if Path(folder) == rig.hot and not mounted["yes"]:
            raise delivery_module.DeliveryError(f"{label} ({folder}) is not mounted", transient=True)
        real_check(self, label, folder, st)

    monkeypatch.setattr(engine_module, "publish", publish)
    monkeypatch.setattr(delivery_module.MountPoints, "check", check)
    job_id = rig.order("GZ")
    rig.run(until=lambda: rig.stage(job_id) is Stage.RETRY, steps=10)
    assert (away / temp.name).exists()
    monkeypatch.undo()
    rig.hot.rmdir()
    away.rename(rig.hot)  # the share is back
    rig.run(until=done(rig, job_id), steps=30, dt=10)
    assert rig.take_prints() == ["GZ_GZ-1_bc-85x55_x1.pdf"] and rig.temps() == []


def test_another_senders_file_under_the_temp_name_of_a_job_delivered_long_ago_is_never_removed(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review GV 1: the sweep (at a start, each hour, when a share answers again) removed any
    .<name>.part whose name a delivery of ours ever had: another instance's copy sharing the hot
    folder (its restart then took it as renamed in, and the print was lost), or a script's upload
    in progress. A temp name is ours only while an attempt of ours may have left a file there;
    one given up, its file removed, is cleared, and a file of that name later is not ours either."""
    job_id = rig.order("GV")
    rig.run(until=done(rig, job_id), steps=10)
    assert rig.take_prints() == ["GV_GV-1_bc-85x55_x1.pdf"]
    # An attempt of another job given up, its temp file removed.
    temp_of_given_up = rig.hot / ".GW_GW-1_bc-85x55_x1.pdf.part"
    _raise_on_sendfile(monkeypatch, errno.EHOSTDOWN, times=1)
    other = rig.order("GW")
    rig.run(until=lambda: rig.stage(other) is Stage.RETRY, steps=10)
    assert not temp_of_given_up.exists()
    theirs = [rig.hot / ".GV_GV-1_bc-85x55_x1.pdf.part", temp_of_given_up]
    for path in theirs:
        path.write_bytes(b"%PDF-1.7 another instance's copy, written, its rename to come")
    rig.engine.request_retention()  # the hourly sweep
    rig.engine.step()
    rig.start()  # and a start's
    assert all(path.exists() for path in theirs)
    rig.run(steps=10, dt=5)  # GW-1's next attempt: never over the file in its way
    assert all(path.read_bytes().startswith(b"%PDF-1.7 another instance's") for path in theirs)
    assert rig.take_prints() == [] and rig.stage(other) in (Stage.RETRY, Stage.FAILED)


def test_a_reprint_never_overwrites_another_senders_file_under_its_temp_name(rig: Rig) -> None:
    """Review GV 2: a reprint's copy found another sender's .<name>.part where the first print's
    temp file had been (renamed long ago), took it for a copy of ours left, and replaced it."""
    job_id = rig.order("GR")
    rig.run(until=done(rig, job_id), steps=10)
    assert rig.take_prints() == ["GR_GR-1_bc-85x55_x1.pdf"]
    theirs = rig.hot / ".GR_GR-1_bc-85x55_x1.pdf.part"
    theirs.write_bytes(b"another sender's upload")
    (rig.inbox / "GR-again.yaml").write_text(
        'order_id: "GR"\nproduct: bc-85x55\nquantity: 1\nartwork: [GR-again.pdf]\nreprint: true\n'
    )
    make_pdf(rig.inbox / "GR-again.pdf", pages=CARD)
    rig.run(until=lambda: rig.stage(job_id) is Stage.RETRY, steps=20)
    assert "another sender's upload?); it is never overwritten" in rig.job(job_id).history[-1].detail
    assert theirs.read_bytes() == b"another sender's upload" and rig.take_prints() == []
    theirs.unlink()
    rig.run(until=done(rig, job_id), steps=40, dt=5)
    assert rig.take_prints() == ["GR_GR-1_bc-85x55_x1.pdf"]


def test_another_senders_file_under_the_tickets_temp_name_is_never_swept(
    ticket_rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review GW 1 (of GV's mend): another sender's .<name>.json.part in the way of this job's
    ticket (its PDF published): the ticket waited, saying so, and the sweep at the next start
    removed that file as ours. Only a ticket's temp file whose write failed after it was made, and
    whose removal failed, is ours to sweep."""
    r = ticket_rig
    theirs = r.hot / ".TX_TX-1_bc-85x55_x1.json.part"
    theirs.write_text('{"another": "sender"}')
    job_id = r.order("TX")
    r.run(until=lambda: r.stage(job_id) is not None and "CopyToHotFolderFailed" in r.statuses(job_id), steps=10)
    assert "(another sender's upload?)" in r.job(job_id).history[-1].detail
    r.start()
    r.engine.request_retention()  # and the hourly sweep
    r.engine.step()
    assert theirs.read_text() == '{"another": "sender"}'
    theirs.unlink()  # their upload goes on elsewhere
    r.run(until=done(r, job_id), steps=30, dt=10)
    assert sorted(r.take_prints()) == ["TX_TX-1_bc-85x55_x1.json", "TX_TX-1_bc-85x55_x1.pdf"]
    # Ours, its write and its removal failed (the share went away): swept once the share answers.
    ours = r.hot / ".TY_TY-1_bc-85x55_x1.json.part"
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if str(Path(f"/proc/self/fd/{fd}").readlink()) == str(ours):
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    back = _share_down_for(monkeypatch, ours)
    other = r.order("TY")
    r.run(until=lambda: r.stage(other) is not None and "CopyToHotFolderFailed" in r.statuses(other), steps=10)
    back()
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert ours.exists()
    r.start()
    assert not ours.exists()
    r.run(until=done(r, other), steps=30, dt=10)
    assert sorted(r.take_prints()) == ["TY_TY-1_bc-85x55_x1.json", "TY_TY-1_bc-85x55_x1.pdf"]


def test_a_tickets_temp_left_by_a_crash_is_swept_and_a_strangers_is_not(ticket_rig: Rig) -> None:
    r = ticket_rig
    job_id = r.order("T4")
    life_until_killed(
        r,
        lambda mp: _crash_before(
            mp, os, "fsync", when=lambda fd: str(Path(f"/proc/self/fd/{fd}").readlink()).endswith(".json.part")
        ),
    )
    assert r.temps() == [".T4_T4-1_bc-85x55_x1.json.part"], "the crash left the ticket's temp file"
    (r.hot / ".T4_T4-2_bc-85x55_x1.json.part").write_text('{"not": "ours"}')
    r.start()
    r.run(until=done(r, job_id), steps=10)
    assert r.temps() == [".T4_T4-2_bc-85x55_x1.json.part"]
    (r.hot / ".T4_T4-1_bc-85x55_x1.json.part").write_text("another sender's, under the name our ticket's had")
    r.start()
    assert r.temps() == [".T4_T4-1_bc-85x55_x1.json.part", ".T4_T4-2_bc-85x55_x1.json.part"]
    assert sorted(r.take_prints()) == ["T4_T4-1_bc-85x55_x1.json", "T4_T4-1_bc-85x55_x1.pdf"]


def test_crash_in_the_middle_of_a_copy_leaves_no_temp_in_the_staging_folder(tmp_path: Path) -> None:
    base = tmp_path / "staged"
    staging = base / "hot" / ".staging-indigo"
    staging.mkdir(parents=True)
    r = Rig(
        base,
        write_config(
            base,
            watch={"settle_seconds": 0.5},
            hot_folders={"indigo": {"path": str(base / "hot" / "indigo"), "staging": str(staging)}},
        ),
    )
    try:
        job_id = r.order("ST1")
        life_until_killed(
            r,
            lambda mp: _crash_before(
                mp,
                fsutil_module.os,
                "fsync",
                when=lambda fd: ".staging-indigo/" in str(Path(f"/proc/self/fd/{fd}").readlink()),
            ),
        )
        assert [p.name for p in staging.iterdir()] == [".ST1_ST1-1_bc-85x55_x1.pdf.part"], "the crash left its temp"
        r.start()
        assert list(staging.iterdir()) == [], "removed at start"
        r.run(until=done(r, job_id), steps=10)
        assert r.take_prints() == ["ST1_ST1-1_bc-85x55_x1.pdf"]
        assert list(staging.iterdir()) == [] and r.temps() == []
    finally:
        r.close()


def test_artwork_is_flushed_ahead_and_delivered(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """A data file goes to the background flusher as soon as it is complete; the job is delivered
    as ever."""
    submitted: list[Path] = []
    real_submit = rig.engine.flusher.submit

    def submit(path: Path) -> bool:
        submitted.append(path)
        return real_submit(path)

    monkeypatch.setattr(rig.engine.flusher, "submit", submit)
    job_id = rig.order("F1")
    rig.run(until=done(rig, job_id), steps=10)
    assert submitted == [rig.inbox / "F1.pdf"]
    rig.engine.flusher.close()
    assert rig.engine.flusher.flushed == 1
    assert rig.take_prints() == ["F1_F1-1_bc-85x55_x1.pdf"]


# -- the check begun at intake ------------------------------------------------------------------


class EarlyPdf(InProcessPdf):
    """In process, with the worker's begin_check / finish_check (the answer is computed at begin)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def begin_check(self, artwork: Any, product_name: Any, spec: Any, validation: Any) -> Any:
        self.calls.append("begin")
        return check(artwork, product_name, spec, validation)

    def finish_check(self, pending: Any) -> Any:
        self.calls.append("finish")
        return pending

    def check(self, artwork: Any, product_name: Any, spec: Any, validation: Any) -> Any:
        self.calls.append("check")
        return super().check(artwork, product_name, spec, validation)

    def build_output(
        self, artwork: Any, dest: Any, spec: Any, validation: Any, while_waiting: Any = None, repaired: bool = False
    ) -> Any:
        self.calls.append("build")
        return super().build_output(artwork, dest, spec, validation)


def test_the_check_begun_at_intake_is_the_one_used(rig: Rig) -> None:
    pdf = EarlyPdf()
    rig.engine.pdf = pdf
    job_id = rig.order("E1")
    rig.run(until=done(rig, job_id), steps=10)
    assert pdf.calls == ["begin", "finish", "build"]
    assert rig.take_prints() == ["E1_E1-1_bc-85x55_x1.pdf"]


def test_artwork_changed_after_the_early_check_is_checked_again(rig: Rig) -> None:
    """The client rewrites the artwork just after the check began: that answer is not used."""

    class Rewriting(EarlyPdf):
        def begin_check(self, artwork: Any, *args: Any) -> Any:
            answer = super().begin_check(artwork, *args)
            with open(artwork[0].path, "ab") as fh:  # the same file as the inbox name (a link)
                fh.write(b"\n% a second version\n")
            return answer

    pdf = Rewriting()
    rig.engine.pdf = pdf
    job_id = rig.order("E2")
    rig.run(until=done(rig, job_id), steps=10)
    assert pdf.calls == ["begin", "finish", "check", "build"]
    assert rig.take_prints() == ["E2_E2-1_bc-85x55_x1.pdf"]
    second = (rig.root / "done" / job_id / "artwork" / "E2.pdf").read_bytes()
    assert second.endswith(b"% a second version\n")
    assert rig.job(job_id).preflight["artwork_sha256"] == [hashlib.sha256(second).hexdigest()], "checked again"


def test_artwork_edited_in_place_with_its_size_and_time_kept_after_the_early_check_is_checked_again(
    rig: Rig,
) -> None:
    """White-box audit CO 1 (critical): an edit in place that kept the file's size and time (`cp -p`,
    `rsync --inplace -t`) after the check began was taken as the file checked: the check's answer
    and digest were the old file's, and the new one (failing trim) was printed as passed."""

    class Rewriting(EarlyPdf):
        def begin_check(self, artwork: Any, *args: Any) -> Any:
            answer = super().begin_check(artwork, *args)
            path = Path(artwork[0].path)
            before = path.stat()
            data = path.read_bytes()
            with open(path, "r+b") as fh:  # the same size, other bytes
                fh.write(data.replace(b"%PDF-1.", b"%PDF-2.", 1) if b"%PDF-1." in data else data[::-1])
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # its time put back
            return answer

    pdf = Rewriting()
    rig.engine.pdf = pdf
    job_id = rig.order("E5")
    rig.run(until=lambda: rig.stage(job_id) in (Stage.DONE, Stage.FAILED), steps=10)
    assert pdf.calls[:3] == ["begin", "finish", "check"], pdf.calls
    edited = (rig.root / rig.job(job_id).folder / "artwork" / "E5.pdf").read_bytes()
    assert rig.job(job_id).preflight["artwork_sha256"] == [hashlib.sha256(edited).hexdigest()], "checked again"


def test_a_crash_before_the_intake_commit_leaves_the_inbox_whole(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """The early check links the artwork into the job folder before the intake is recorded; the
    inbox keeps both files until then, and the next intake starts the job folder afresh."""
    job_id = rig.order("E3")
    original = (rig.inbox / "E3.pdf").read_bytes()

    def power_cut(mp: pytest.MonkeyPatch) -> None:
        mp.setattr(sys.modules[__name__], "InProcessPdf", EarlyPdf)  # the engine checks early
        _crash_before(mp, Ledger, "record_intake")

    life_until_killed(rig, power_cut)
    assert rig.ledger.get_job(job_id) is None
    assert (rig.root / "work" / job_id / "artwork" / "E3.pdf").is_file(), "the early link is there"
    assert (rig.inbox / "E3.pdf").read_bytes() == original and (rig.inbox / "E3.yaml").is_file()
    rig.start()  # the restart
    rig.engine.pdf = EarlyPdf()
    rig.run(until=done(rig, job_id), steps=10)
    assert rig.take_prints() == ["E3_E3-1_bc-85x55_x1.pdf"]
    assert sorted(os.listdir(rig.inbox)) == []
    assert (rig.root / "done" / job_id / "artwork" / "E3.pdf").read_bytes() == original


def test_one_early_check_at_a_time_and_a_stale_one_gives_way(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two orders taken in one round: the first job's check begins at intake, not the second's
    (one at a time: no check is begun only to be thrown away); the second's begins while the
    first is made and delivered. An early check whose job is still waiting after
    EARLY_CHECK_HOLD_SECONDS gives way to the next new job's."""
    # One round takes both manifests: its time budget (0.25 s of real time) is not what is tested,
    # and a loaded machine cut the round between them (the second then checked in its own turn).
    monkeypatch.setattr(Engine, "_take_stable", functools.partialmethod(Engine._take_stable, budget=60.0))
    pdf = EarlyPdf()
    rig.engine.pdf = pdf
    first, second = rig.order("T1"), rig.order("T2")
    rig.run(until=lambda: done(rig, first)() and done(rig, second)(), steps=10)
    assert pdf.calls == ["begin", "finish", "build", "begin", "finish", "build"]
    assert sorted(rig.take_prints()) == ["T1_T1-1_bc-85x55_x1.pdf", "T2_T2-1_bc-85x55_x1.pdf"]

    stuck = EarlyPdf()
    rig.engine.pdf = stuck
    rig.engine._early_check = (("NEVER-1",), None, rig.clock.monotonic())  # a job that never comes
    third = rig.order("T3")
    rig.run(until=done(rig, third), steps=10, dt=engine_module.EARLY_CHECK_HOLD_SECONDS + 0.5)
    assert stuck.calls == ["begin", "finish", "build"], "the stale one gave way"


class RecordingMetrics:
    """The engine's Metrics, recording what it observes."""

    def __init__(self) -> None:
        self.observed: list[tuple[str, float]] = []

    def status_recorded(self, status: JobStatus, hot_folder: str | None) -> None:
        return None

    def observe(self, what: str, seconds: float, hot_folder: str | None = None) -> None:
        self.observed.append((what, seconds))

    def watcher_event(self) -> None:
        return None


class TimedCheck:
    """What PdfWorker.begin_check gives: the check under way, and once answered the worker's time on it."""

    def __init__(self, answer: Any, seconds: float) -> None:
        self.answer = answer
        self.seconds = seconds


def test_every_preflight_is_observed_also_those_begun_ahead(rig: Rig) -> None:
    """spo_hotfolder_preflight_duration_seconds counts each job's preflight: a check begun at intake
    or while the job before was delivered (the worker's own time on it), and one made in turn."""

    class Timed(EarlyPdf):
        def begin_check(self, artwork: Any, product_name: Any, spec: Any, validation: Any) -> Any:
            return TimedCheck(super().begin_check(artwork, product_name, spec, validation), 0.25)

        def finish_check(self, pending: Any) -> Any:
            return super().finish_check(pending).answer

    pdf = Timed()
    rig.engine.pdf = pdf
    metrics = RecordingMetrics()
    rig.engine.metrics = metrics
    first, second = rig.order("M1"), rig.order("M2")
    rig.run(until=lambda: done(rig, first)() and done(rig, second)(), steps=10)
    assert pdf.calls == ["begin", "finish", "build", "begin", "finish", "build"]
    assert [seconds for what, seconds in metrics.observed if what == "preflight"] == [0.25, 0.25]

    rig.engine.pdf = InProcessPdf()  # no checks ahead: each job checked in its turn
    third = rig.order("M3")
    rig.run(until=done(rig, third), steps=10)
    assert [what for what, _seconds in metrics.observed].count("preflight") == 3


class TouchingPdf(EarlyPdf):
    """Changes an artwork file's mtime right after its check began (a rewrite, as far as the
    check's answer is concerned)."""

    def __init__(self, touch: str) -> None:
        super().__init__()
        self.touch = touch

    def begin_check(self, artwork: Any, product_name: Any, spec: Any, validation: Any) -> Any:
        answer = super().begin_check(artwork, product_name, spec, validation)
        for item in artwork:
            if item.name == self.touch:
                st = os.stat(item.path)
                os.utime(item.path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        return answer


@pytest.mark.parametrize("as_is", [False, True], ids=["built-output", "linked-output"])
def test_the_next_job_of_a_queue_is_checked_while_one_is_made_and_delivered(
    rig: Rig, as_is: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A queue of jobs: each job's check begins in the worker while the job before it is made and
    delivered, and is the one used; one whose artwork changed after its check began is checked
    again (its answer no longer holds). An output the worker builds comes before the next check
    (the job being made never waits for the next one's check)."""
    # The four orders taken in at once, as on an idle machine: under load (CI once) the intake's
    # time budget (0.25 s a round) left Q4 for later, checked then without a check begun early.
    take_stable = Engine._take_stable
    monkeypatch.setattr(
        Engine,
        "_take_stable",
        lambda self, budget=0.25, limit=1000: take_stable(self, budget=60.0 if budget == 0.25 else budget, limit=limit),
    )
    pdf = TouchingPdf(touch="Q3.pdf")
    rig.engine.pdf = pdf
    trimbox = (3, 3, 88, 58) if as_is else None
    jobs = [rig.order(f"Q{n}", trimbox=trimbox) for n in (1, 2, 3, 4)]
    rig.run(until=lambda: all(done(rig, j)() for j in jobs), steps=10)
    # Q1 at intake (one at a time), then Q2, Q3, Q4 each while the job before it runs; Q3's
    # answer is thrown away and Q3 checked again.
    if as_is:  # outputs are links the engine makes: the worker never builds
        expected = ["begin", "finish", "begin", "finish", "begin", "finish", "check", "begin", "finish"]
    else:
        expected = ["begin", "finish", "build", "begin", "finish", "build", "begin", "finish", "check", "build"]
        expected += ["begin", "finish", "build"]
    assert pdf.calls == expected
    assert sorted(rig.take_prints()) == [f"Q{n}_Q{n}-1_bc-85x55_x1.pdf" for n in (1, 2, 3, 4)]


def test_a_job_folder_left_by_an_interrupted_intake_is_started_afresh(rig: Rig) -> None:
    """A kill while the manifest was being copied leaves work/JOB/ with our temp file and no
    ledger record; the next intake starts that folder afresh, so no temp file travels to done/."""
    job_id = rig.order("K1")
    left = rig.root / "work" / job_id
    (left / "artwork").mkdir(parents=True)
    (left / ".manifest.yaml.4242.tmp").write_bytes(b"order_id: K1\njobs:\n")
    rig.run(until=done(rig, job_id), steps=10)
    assert rig.take_prints() == ["K1_K1-1_bc-85x55_x1.pdf"]
    assert sorted(os.listdir(rig.root / "done" / job_id)) == [
        "STATUS.txt",
        "artwork",
        "history",
        "manifest.yaml",
        "output",
    ]


def test_a_wake_up_is_set_only_for_a_job_left_waiting_for_artwork(rig: Rig) -> None:
    """The artwork_timeout_seconds deadline needs a timer only while a job waits: a job whose
    artwork is there at intake sets none (a burst of 10,000 jobs would leave 10,000 timers)."""
    wakeups: list[datetime] = []
    rig.engine._schedule_wakeup = wakeups.append
    complete = rig.order("W1")
    rig.run(until=done(rig, complete), steps=10)
    assert wakeups == []
    (rig.inbox / "W2.yaml").write_text('order_id: "W2"\nproduct: bc-85x55\nquantity: 1\nartwork: [W2.pdf]\n')
    rig.run(until=lambda: rig.stage("W2-1") is Stage.AWAITING, steps=10)
    assert wakeups == [datetime.fromisoformat(rig.job("W2-1").awaiting_until)]
    assert wakeups[0] - rig.clock.now() <= timedelta(seconds=600)


def test_the_engine_wakes_for_a_file_no_manifest_claimed_when_it_is_due(rig: Rig) -> None:
    """A file no manifest claims goes to failed/ at artwork_timeout_seconds (600 s here): the
    engine's wait ends then, not at its next 5 s wake-up (README audit: up to ~5 s late)."""
    lonely = rig.inbox / "L1.pdf"
    make_pdf(lonely, pages=CARD)
    rig.run(until=lambda: lonely in rig.engine._orphans, steps=5, dt=0.5)
    since = rig.engine._orphans[lonely][0]
    assert rig.engine._wait_seconds() == pytest.approx(min(5.0, since + 10.0 - rig.clock.monotonic()))
    rig.clock.advance(since + 598.5 - rig.clock.monotonic())  # (its look for a manifest done at 10 s)
    rig.engine.step()
    assert lonely.exists() and rig.engine._wait_seconds() == pytest.approx(1.5)
    rig.clock.advance(1.5)
    rig.engine.step()
    assert not lonely.exists() and (rig.config.paths.failed / "L1.pdf" / "L1.pdf").is_file()
    assert rig.engine._wait_seconds() == 5.0, "nothing left to wait for: the usual wake-up"


def test_a_scanned_files_age_is_read_against_the_engines_own_clock(rig: Rig) -> None:
    """A file found by a scan counts as unchanged since its ctime, measured with the engine's
    (injected) clock: how long a test or a loaded machine took to write the files does not decide
    which of them are taken at the first step (it made the queue test above flaky)."""
    old = rig.inbox / "S1.pdf"
    make_pdf(old, pages=CARD)
    rig.clock._now = datetime.fromtimestamp(old.stat().st_ctime + 30, UTC)
    rig.engine.request_rescan()
    rig.engine.step()
    assert old in rig.engine._orphans, "unchanged for 30 s by the engine's clock: taken at once"
    fresh = rig.inbox / "S2.pdf"
    make_pdf(fresh, pages=CARD)
    rig.clock._now = datetime.fromtimestamp(fresh.stat().st_ctime + 0.1, UTC)
    rig.engine.request_rescan()
    rig.engine.step()
    assert fresh not in rig.engine._orphans, "changed 0.1 s ago by the engine's clock: waits settle_seconds"
    rig.clock.advance(0.5)
    rig.engine.step()
    assert fresh in rig.engine._orphans


def test_a_file_written_in_place_settles_from_its_event_not_from_when_the_engine_got_to_it(rig: Rig) -> None:
    """The watcher's event arrives while the engine is busy with a job (here: 0.3 s): the file is
    still taken settle_seconds after the event, not 0.3 s later."""
    path = rig.inbox / "S1.pdf"
    make_pdf(path, pages=CARD)
    seen = rig.clock.monotonic()
    rig.engine.hint(path)
    rig.clock.advance(0.3)  # the engine finishes another job before it drains the hints
    rig.engine.step()
    assert rig.engine.tracker.next_due() == seen + 0.5
    rig.clock.advance(0.2)
    rig.engine.step()
    assert path in rig.engine._orphans, "taken (complete, waiting for its manifest) at event + settle"


class ReplacingPdf(InProcessPdf):
    """While the first job is checked, a client uploads another order under the same manifest name."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.replaced = False

    def check(self, artwork: Any, product_name: Any, spec: Any, validation: Any) -> Any:
        if not self.replaced:
            self.replaced = True
            make_pdf(self.rig.inbox / "R2.pdf", pages=CARD)
            new = self.rig.inbox / ".orders.yaml.part"
            new.write_text('order_id: "R2"\nproduct: bc-85x55\nquantity: 1\nartwork: [R2.pdf]\n')
            new.replace(self.rig.inbox / "orders.yaml")
        return super().check(artwork, product_name, spec, validation)


def test_a_manifest_replaced_under_its_name_while_its_job_runs_is_a_new_order(rig: Rig) -> None:
    """The manifest leaves the inbox after its job's first run; a new upload under the same name
    meanwhile (another file) is never removed in its place: it is taken as the next order."""
    rig.engine.pdf = ReplacingPdf(rig)
    make_pdf(rig.inbox / "R1.pdf", pages=CARD)
    (rig.inbox / "orders.yaml").write_text('order_id: "R1"\nproduct: bc-85x55\nquantity: 1\nartwork: [R1.pdf]\n')
    rig.run(until=lambda: rig.stage("R1-1") is Stage.DONE and rig.stage("R2-1") is Stage.DONE, steps=10)
    assert sorted(rig.take_prints()) == ["R1_R1-1_bc-85x55_x1.pdf", "R2_R2-1_bc-85x55_x1.pdf"]
    assert os.listdir(rig.inbox) == []
    assert rig.ledger.pending_intakes() == []


def test_a_crash_before_the_manifest_left_the_inbox_delivers_once(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed after the job's run but before its manifest was removed: the next start removes it
    (the intake is recorded) and the job is not taken in or delivered again."""
    job_id = rig.order("K1")
    monkeypatch.setattr(Engine, "_finish_intakes", lambda self: None)
    rig.run(until=done(rig, job_id), steps=10)
    assert (rig.inbox / "K1.yaml").is_file() and len(rig.ledger.pending_intakes()) == 1
    assert rig.take_prints() == ["K1_K1-1_bc-85x55_x1.pdf"]
    monkeypatch.undo()
    rig.start()  # the restart
    rig.run(steps=3)
    assert os.listdir(rig.inbox) == [] and rig.ledger.pending_intakes() == []
    assert rig.take_prints() == [] and rig.statuses(job_id).count("InHotFolder") == 1


def test_the_manifest_copy_is_on_disk_before_the_inbox_manifest_goes(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """The job folder's copy of the manifest is written without waiting for the disk (it is off the
    job's path to the hot folder), and made durable, file and folder, before the inbox's is
    removed: never an input deleted before it is safely stored elsewhere."""
    job_id = rig.order("K1")
    events: list[str] = []
    real_fsync, real_unlink = os.fsync, Path.unlink

    def fsync(fd: int) -> None:
        events.append(f"fsync {Path(f'/proc/self/fd/{fd}').readlink()}")
        real_fsync(fd)

    def unlink(self: Path, missing_ok: bool = False) -> None:
        events.append(f"unlink {self}")
        real_unlink(self, missing_ok)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(Path, "unlink", unlink)
    rig.run(until=done(rig, job_id), steps=10)
    job_dir = rig.root / "done" / job_id
    gone = events.index(f"unlink {rig.inbox / 'K1.yaml'}")
    before = events[:gone]  # (the folder may have moved on from work/ meanwhile)
    assert any(e.startswith("fsync ") and e.endswith(f"/{job_id}/manifest.yaml") for e in before), events
    assert any(e.startswith("fsync ") and e.endswith(f"/{job_id}") for e in before), events
    assert (job_dir / "manifest.yaml").read_bytes().startswith(b'order_id: "K1"')
    assert (job_dir / "history").is_dir()  # SPEC 4's layout, made with it


@pytest.mark.parametrize("cut", ["empty", "half", "missing"])
def test_a_manifest_copy_a_power_cut_left_short_is_whole_again_at_restart(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, cut: str
) -> None:
    """Power cut after the job was recorded and delivered, before its manifest copy reached the
    disk and before the inbox's left: the restart writes the copy again from the inbox's before
    removing it, and the job is not taken in or delivered again."""
    job_id = rig.order("K1")
    original = (rig.inbox / "K1.yaml").read_bytes()
    monkeypatch.setattr(Engine, "_finish_intakes", lambda self: None)
    rig.run(until=done(rig, job_id), steps=10)
    assert rig.take_prints() == ["K1_K1-1_bc-85x55_x1.pdf"]
    monkeypatch.undo()
    copy = rig.root / "done" / job_id / "manifest.yaml"
    if cut == "missing":
        copy.unlink()
    else:
        copy.write_bytes(b"" if cut == "empty" else original[: len(original) // 2])
    rig.start()  # the restart
    rig.run(steps=3)
    assert copy.read_bytes() == original
    assert os.listdir(rig.inbox) == [] and rig.ledger.pending_intakes() == []
    assert rig.take_prints() == [] and rig.statuses(job_id).count("InHotFolder") == 1


CUT_JSON = '{"order_id": "SJ", "product": "bc-85x55", "quantity": 1, "artwork": [{"path": "SJ.pdf"}'


def test_a_manifest_whose_writer_paused_inside_it_waits_for_its_end(rig: Rig) -> None:
    """Audit AK 3: a JSON manifest written in two parts, 2 s apart, ending in an inner '}' after
    the first, looked complete; it was taken after settle_seconds and refused as cut off (and the
    rest, appended later, became a second bad manifest). SPEC 8: no partial file is ever taken."""
    r = rig
    make_pdf(r.inbox / "SJ.pdf", pages=CARD)
    manifest = r.inbox / "SJ.json"
    manifest.write_text(CUT_JSON)
    r.run(steps=3)  # 3 s: settle (0.5 s) is long past
    assert manifest.is_file() and os.listdir(r.root / "failed") == []
    with manifest.open("a") as fh:
        fh.write("]}\n")
    r.engine.hint(manifest)
    r.run(until=done(r, "SJ-1"), steps=10)
    assert r.take_prints() == ["SJ_SJ-1_bc-85x55_x1.pdf"] and os.listdir(r.root / "failed") == []


def test_a_manifest_cut_off_inside_it_is_refused_after_the_longer_wait(rig: Rig) -> None:
    r = rig
    manifest = r.inbox / "SK.json"
    manifest.write_text(CUT_JSON.replace("SJ", "SK"))
    r.run(steps=3)
    assert manifest.is_file()
    r.run(until=lambda: not manifest.exists(), steps=10)
    error = (r.root / "failed" / "SK.json" / "ERROR.txt").read_text()
    assert "the file ends before the manifest does: was it cut off" in error
    assert os.listdir(r.root / "failed") == ["SK.json"]


def test_a_new_upload_under_a_pending_manifest_name_is_kept_at_restart(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed before the manifest left the inbox; while the daemon was down, a client uploaded a
    different order under the same name. The restart removes only the file it took in (the intake
    key's sha256): the new upload stays and is taken as the next order."""
    job_id = rig.order("K1")
    monkeypatch.setattr(Engine, "_finish_intakes", lambda self: None)
    rig.run(until=done(rig, job_id), steps=10)
    assert rig.take_prints() == ["K1_K1-1_bc-85x55_x1.pdf"] and len(rig.ledger.pending_intakes()) == 1
    monkeypatch.undo()
    make_pdf(rig.inbox / "K2.pdf", pages=CARD)
    (rig.inbox / "K1.yaml").write_text('order_id: "K2"\nproduct: bc-85x55\nquantity: 1\nartwork: [K2.pdf]\n')
    rig.start()  # the restart
    assert (rig.inbox / "K1.yaml").is_file(), "the new upload was removed as if it were the old manifest"
    assert rig.ledger.pending_intakes() == []
    rig.engine.rescan()
    rig.run(until=lambda: rig.stage("K2-1") is Stage.DONE, steps=10)
    assert rig.take_prints() == ["K2_K2-1_bc-85x55_x1.pdf"]
    assert os.listdir(rig.inbox) == [] and rig.statuses(job_id).count("InHotFolder") == 1


class SlowPdf(InProcessPdf):
    """Each check takes 0.6 s of the engine's clock: more than the STATUS.txt flush interval."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig

    def check(self, artwork: Any, product_name: Any, spec: Any, validation: Any) -> Any:
        self.rig.clock.advance(0.6)
        return super().check(artwork, product_name, spec, validation)


def test_a_job_waiting_its_turn_in_a_queue_gets_its_status_file_once_it_has_run(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flushes between the jobs of a queue skip the jobs still waiting in work/ for their
    turn: each job's STATUS.txt is written once, after it has run, not also while it waits."""
    rig.engine.pdf = SlowPdf(rig)
    written: list[tuple[str, Stage | None]] = []
    real = Engine._write_status_now

    def spy(self: Engine, job_id: str, folder: Path | None = None, **kwargs: Any) -> bool:
        written.append((job_id, rig.stage(job_id)))
        return real(self, job_id, folder, **kwargs)

    monkeypatch.setattr(Engine, "_write_status_now", spy)
    jobs = [rig.order(f"Q{i}") for i in range(3)]
    rig.run(until=lambda: all(rig.stage(j) is Stage.DONE for j in jobs), steps=10)
    assert sorted(written) == sorted((j, Stage.DONE) for j in jobs), written
    for j in jobs:
        assert "InHotFolder" in (rig.root / "done" / j / "STATUS.txt").read_text()


# -- job tickets (hot_folders.<name>.ticket: json) ------------------------------------------------


@pytest.fixture
def ticket_rig(tmp_path: Path) -> Iterator[Rig]:
    yield from rig_on(tmp_path, hot_folders={"indigo": {"path": str(tmp_path / "hot" / "indigo"), "ticket": "json"}})


def test_another_ticket_waiting_under_the_jobs_ticket_name_holds_the_pdf_back(ticket_rig: Rig) -> None:
    """A ticket left under this job's ticket name (another job's, another quantity) is never kept
    beside this job's PDF, nor overwritten: the delivery waits until the printer has taken it."""
    r = ticket_rig
    foreign = r.hot / "T1_T1-1_bc-85x55_x1.json"
    foreign.write_text('{"quantity": 500}\n')
    job_id = r.order("T1")
    r.run(until=lambda: r.stage(job_id) is Stage.RETRY, steps=10)
    assert sorted(os.listdir(r.hot)) == [foreign.name], "no PDF beside a ticket that is not its own"
    assert foreign.read_text() == '{"quantity": 500}\n'
    detail = r.job(job_id).history[-1].detail
    assert "a job ticket named T1_T1-1_bc-85x55_x1.json is already waiting" in detail
    assert "next attempt at" in detail
    foreign.unlink()  # the printer takes it
    r.run(until=done(r, job_id), steps=5, dt=15)
    ticket = json.loads((r.hot / "T1_T1-1_bc-85x55_x1.json").read_text())
    assert ticket["job_id"] == job_id and ticket["quantity"] == 1
    assert r.take_prints() == ["T1_T1-1_bc-85x55_x1.json", "T1_T1-1_bc-85x55_x1.pdf"]


def test_a_ticket_of_the_jobs_earlier_delivery_left_by_the_printer_is_named_as_such(ticket_rig: Rig) -> None:
    """Audit AO: a printer that takes the PDFs and leaves the tickets held a reprint back "until the
    ticket waiting (not yet taken by the printer) is gone", as if another job's waited: it is this
    job's own from its earlier delivery, and a printer that reads no tickets leaves them all."""
    r = ticket_rig
    job_id = r.order("T2")
    r.run(until=done(r, job_id), steps=10)
    (r.hot / "T2_T2-1_bc-85x55_x1.pdf").unlink()  # the printer takes the PDF only
    r.order("T2", extra='reprint: true\ncustomer: "ACME"\n')  # (the same ticket again would be taken as ours)
    r.run(until=lambda: r.stage(job_id) is Stage.RETRY, steps=10)
    detail = r.job(job_id).history[-1].detail
    assert (
        "the job ticket T2_T2-1_bc-85x55_x1.json of this job's earlier delivery is still in hot folder indigo: the "
        "printer took that PDF but not its ticket (a printer that reads no tickets leaves them all: set ticket: none "
        "for indigo)"
    ) in detail, detail


def _failing_tickets(monkeypatch: pytest.MonkeyPatch, failures: int) -> list[int]:
    """publish_sidecar fails (disk full) ``failures`` times, then works; returns the copy count."""
    original = engine_module.publish_sidecar
    left = [failures]
    copies = [0]
    write_temp = engine_module.write_temp

    def sidecar(final: Path, payload: bytes, hot: Any, **kwargs: Any) -> Path:
        if left[0] > 0:
            left[0] -= 1
            raise engine_module.explain_os_error(OSError(errno.ENOSPC, "No space left on device"), hot)
        return original(final, payload, hot, **kwargs)

    def counted(*args: Any, **kwargs: Any) -> int:
        copies[0] += 1
        return write_temp(*args, **kwargs)

    monkeypatch.setattr(engine_module, "publish_sidecar", sidecar)
    monkeypatch.setattr(engine_module, "write_temp", counted)
    return copies


def test_a_ticket_that_fails_to_be_written_is_tried_again_alone(
    ticket_rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = ticket_rig
    copies = _failing_tickets(monkeypatch, 1)
    job_id = r.order("T2")
    r.run(until=lambda: r.stage(job_id) is Stage.RETRY, steps=10)
    assert sorted(os.listdir(r.hot)) == ["T2_T2-1_bc-85x55_x1.pdf"]
    last = r.job(job_id).history[-1]
    assert last.status is JobStatus.CopyToHotFolderFailed
    assert "T2_T2-1_bc-85x55_x1.pdf is in hot folder indigo, but its job ticket" in last.detail
    assert "is full" in last.detail and "the ticket's next attempt at" in last.detail
    assert "InHotFolder" not in r.statuses(job_id)
    status_txt = (r.root / "work" / job_id / "STATUS.txt").read_text()
    assert "its job ticket T2_T2-1_bc-85x55_x1.json could not be written" in status_txt
    r.run(until=done(r, job_id), steps=5, dt=15)
    assert r.statuses(job_id)[-2:] == ["CopyToHotFolderFailed", "InHotFolder"]
    assert sorted(os.listdir(r.hot)) == ["T2_T2-1_bc-85x55_x1.json", "T2_T2-1_bc-85x55_x1.pdf"]
    assert copies[0] == 1, "the PDF is never copied again for its ticket"


@pytest.mark.parametrize("change", ["renamed", "moved", "moved to another filesystem", "removed"])
def test_a_ticket_waiting_when_a_reload_changes_its_hot_folder(
    ticket_rig: Rig, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """Review FP 2, 3: the PDF in the hot folder, its ticket waiting (a full disk), then a reload:
    the hot folder renamed (the same path) or removed, and the job was recorded InHotFolder without
    its ticket and without a word (the printer without the quantity); its path moved to another
    filesystem, and every try of the ticket failed "Invalid cross-device link" (its temporary file
    was made in the new folder), RETRY too. The ticket goes beside the PDF where it is, by the hot
    folder of the config that is that folder; one no longer in the config is said."""
    r = ticket_rig
    _failing_tickets(monkeypatch, 1)
    job_id = r.order("TR")
    r.run(until=lambda: r.stage(job_id) is Stage.RETRY, steps=10)
    elsewhere = r.tmp / "hot" / "moved"
    if change == "moved to another filesystem":
        if not Path("/dev/shm").is_dir():
            pytest.skip("no /dev/shm (another filesystem) here")
        elsewhere = Path(tempfile.mkdtemp(dir="/dev/shm"))
    elsewhere.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load(r.config_path.read_text())
    indigo = data["hot_folders"].pop("indigo")
    if change == "renamed":
        data["hot_folders"]["press-1"] = indigo
    elif change.startswith("moved"):
        data["hot_folders"]["indigo"] = {**indigo, "path": str(elsewhere)}
    data["routes"] = [x for x in data["routes"] if x["to"] != "indigo"]
    r.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    r.engine.set_config(load_config(r.config_path))
    try:
        r.run(until=done(r, job_id), steps=5, dt=15)
        delivered = r.job(job_id).history[-1]
        assert delivered.status is JobStatus.InHotFolder
        if change == "removed":
            assert sorted(os.listdir(r.hot)) == ["TR_TR-1_bc-85x55_x1.pdf"]
            assert (
                "no job ticket was written beside it: hot folder indigo is no longer in the config" in delivered.detail
            )
        else:
            assert sorted(os.listdir(r.hot)) == ["TR_TR-1_bc-85x55_x1.json", "TR_TR-1_bc-85x55_x1.pdf"]
            assert os.listdir(elsewhere) == []
    finally:
        if change == "moved to another filesystem":
            shutil.rmtree(elsewhere, ignore_errors=True)


def test_a_retry_between_copy_attempts_goes_through_check_and_output_again(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit (2026-12-03, operator 5): `spo-hotfolder retry` of a job waiting between copy attempts
    recorded a bare RecreationRequested "retry", then InHotFolder, and STATUS.txt named only RETRY in
    failed/. Audit (2026-12-05 F 3): "retry: only the copy ... (the output is not made again)" then
    contradicted RecreationRequested (SPO: a new version of the output is requested). A RETRY runs
    the check, the output and the copy again (SPEC 4), as it does for a job in failed/."""
    job_id = rig.order("RC")
    _raise_on_sendfile(monkeypatch, errno.EHOSTDOWN, times=1)
    rig.run(until=lambda: rig.stage(job_id) is Stage.RETRY, steps=10)
    rig.engine.flush_status()
    status = (rig.root / "work" / job_id / "STATUS.txt").read_text()
    assert f"to try again at once: spo-hotfolder retry {job_id}." in status
    assert rig.engine.apply(job_id, Action.RETRY, by="dave", note="").ok
    rig.run(until=done(rig, job_id), steps=3)
    assert rig.take_prints() == ["RC_RC-1_bc-85x55_x1.pdf"]
    after = rig.statuses(job_id)[rig.statuses(job_id).index("CopyToHotFolderFailed") + 1 :]
    assert after == [
        "RecreationRequested",
        "ValidationFinished",
        "OutputCreationStarted",
        "OutputCreated",
        "InHotFolder",
    ]
    retry = rig.job(job_id).history[-5]
    assert (retry.status, retry.by, retry.detail) == (
        JobStatus.RecreationRequested,
        "dave",
        "retry: the check, the output and the copy again",
    )


def test_another_senders_file_under_the_temp_name_is_never_overwritten(rig: Rig) -> None:
    """Audit (2026-12-05 E): a file another sender left in the hot folder under the very name of
    this job's temporary copy (.<final name>.part) was overwritten by the copy and renamed into
    place, its bytes lost without a word (README: another sender's .something.part is never
    touched). The copy waits until it is gone, and says why; the start's sweep leaves it too."""
    rig.hot.mkdir(parents=True, exist_ok=True)
    theirs = rig.hot / ".TW_TW-1_bc-85x55_x1.pdf.part"
    theirs.write_bytes(b"another sender's upload")
    job_id = rig.order("TW")
    rig.run(until=lambda: rig.stage(job_id) is Stage.RETRY, steps=10)
    failed = rig.job(job_id).history[-1]
    assert failed.status is JobStatus.CopyToHotFolderFailed
    assert "a file named .TW_TW-1_bc-85x55_x1.pdf.part is in hot folder indigo" in failed.detail
    assert "the daemon did not write it (another sender's upload?); it is never overwritten" in failed.detail
    rig.start()  # a restart: the sweep removes temp files of ours only
    rig.run(steps=3)
    assert theirs.read_bytes() == b"another sender's upload" and rig.take_prints() == []
    theirs.unlink()  # their upload is done (renamed elsewhere)
    rig.run(until=done(rig, job_id), steps=40, dt=5)
    assert rig.take_prints() == ["TW_TW-1_bc-85x55_x1.pdf"]


def test_a_temp_file_an_earlier_copy_of_ours_left_is_replaced(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """The temp file an attempt of ours left (its removal failed: the share went away) is ours, as
    the journal says, and the next copy replaces it."""
    job_id, temp = _left_by_a_copy_given_up(rig, monkeypatch, "TO")
    rig.run(until=done(rig, job_id), steps=20, dt=5)
    assert rig.take_prints() == ["TO_TO-1_bc-85x55_x1.pdf"] and not temp.exists()
    assert rig.statuses(job_id).count("CopyToHotFolderFailed") == 1


def test_a_reject_dropped_in_work_while_a_copy_waits_for_its_retry_stops_the_job(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit (2026-12-05 F 1): a REJECT dropped into the folder of a job waiting in work/ for its next
    copy attempt was not read; the attempt printed the job, and the REJECT was filed as "not acted
    on, as the job was finished before they were read". A rescan reads it now, as in quarantine/."""
    job_id = rig.order("WR")
    _raise_on_sendfile(monkeypatch, errno.EHOSTDOWN, times=1)
    rig.run(until=lambda: rig.stage(job_id) is Stage.RETRY, steps=10)
    rig.engine.flush_status()
    said = (rig.root / "work" / job_id / "STATUS.txt").read_text()
    assert "To stop the job: drop a file named REJECT here (read before the next attempt)" in said
    (rig.root / "work" / job_id / "REJECT").write_text("vera\nwrong paper\n")
    rig.run(until=lambda: rig.stage(job_id) is Stage.REJECTED, steps=8)
    rig.run(steps=15, dt=5)  # past the attempt that was due
    assert rig.take_prints() == []
    rejected = rig.job(job_id).history[-1]
    assert (rejected.status, rejected.by, rejected.detail) == (JobStatus.Rejected, "vera", "wrong paper")
    kept = os.listdir(rig.root / "rejected" / job_id / "history")
    assert [n for n in kept if n.endswith("-REJECT")] and not [n for n in kept if "unused" in n]


def _dropped_in_work_as_the_retry_comes_due(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, order_id: str, name: str, text: str
) -> str:
    """A job waiting in work/ for its copy retry, a drop file ``name`` put into its folder, and the
    engine run past the attempt with no rescan finding the file: only the job's own look can."""
    job_id = rig.order(order_id)
    _raise_on_sendfile(monkeypatch, errno.EHOSTDOWN, times=1)
    rig.run(until=lambda: rig.stage(job_id) is Stage.RETRY, steps=10)
    monkeypatch.setattr(Engine, "_work_drop_files", lambda self: iter(()))
    (rig.root / "work" / job_id / name).write_text(text)
    for _ in range(40):
        rig.engine.step()
        rig.clock.advance(1.0)
    return job_id


def test_a_reject_dropped_in_work_is_read_before_the_copy_that_comes_due(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same REJECT with no rescan between its drop and the next attempt (work/ is not watched):
    the job about to be copied again looks into its folder first."""
    job_id = _dropped_in_work_as_the_retry_comes_due(rig, monkeypatch, "WD", "reject.txt", "vera\n")
    assert rig.stage(job_id) is Stage.REJECTED
    assert rig.take_prints() == []
    assert rig.statuses(job_id)[-2:] == ["CopyToHotFolderFailed", "Rejected"]


def test_a_retry_dropped_in_work_read_as_the_copy_comes_due_tries_again(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit (2026-12-05 K 1): a RETRY dropped in work/ during a copy retry's wait and read only as the
    attempt came due (no rescan between) was refused "has not failed (status CopyToHotFolderFailed)"."""
    job_id = _dropped_in_work_as_the_retry_comes_due(rig, monkeypatch, "WT", "RETRY", "alice\nshare is back\n")
    assert rig.take_prints() == ["WT_WT-1_bc-85x55_x1.pdf"]
    retry = next(e for e in rig.job(job_id).history if e.status is JobStatus.RecreationRequested)
    assert (retry.by, retry.detail) == ("alice", "retry: the check, the output and the copy again: share is back")


def _replaced_in_work(r: Rig, job_id: str, tmp_path: Path) -> bytes:
    """A replacement (the job's two cards, with a drawing on them) put into a replace/ the operator
    made in the job's folder in work/; its bytes."""
    new_art = tmp_path / "new.pdf"
    make_pdf(new_art, pages=CARD, content=b"0 0 m 50 50 l S")
    replace = r.root / "work" / job_id / "replace"
    replace.mkdir()
    (replace / "new.pdf").write_bytes(new_art.read_bytes())
    return new_art.read_bytes()


def _replaced_as_artwork(r: Rig, job_id: str, data: bytes) -> None:
    folder = r.root / r.job(job_id).folder
    assert [p.read_bytes() for p in (folder / "artwork").iterdir()] == [data]
    assert any(p.name.endswith("F8.pdf") for p in (folder / "history").iterdir()), "the old artwork kept"
    statuses = r.statuses(job_id)
    assert statuses.index("ArtworkUploaded") < statuses.index("RecreationRequested") < statuses.index("InHotFolder")
    assert not (folder / "replace").exists() or not os.listdir(folder / "replace")


def test_a_replacement_put_into_replace_in_work_is_taken_before_the_job_goes_on(rig: Rig, tmp_path: Path) -> None:
    """Audit (2026-12-05 W 1): a PDF put into a replace/ made in the work/ folder of a job waiting
    for its date was never read (work/ is not watched, and its rescan looked for RELEASE, REJECT and
    RETRY only): at the date the old artwork printed, and STATUS.txt said the file came "after the
    job was finished". It is taken as the `replace` command takes it: the job waits for its date
    with the new artwork."""
    later = (rig.clock.now() + timedelta(minutes=10)).isoformat()
    job_id = rig.order("F8", extra=f'process_after: "{later}"\n')
    rig.run(until=lambda: rig.stage(job_id) is Stage.FUTURE, steps=5)
    data = _replaced_in_work(rig, job_id, tmp_path)
    rig.run(until=lambda: "ArtworkUploaded" in rig.statuses(job_id), steps=5)
    assert rig.stage(job_id) is Stage.FUTURE and rig.take_prints() == []
    rig.run(until=done(rig, job_id), steps=20, dt=60)
    assert rig.take_prints() == ["F8_F8-1_bc-85x55_x1.pdf"]
    _replaced_as_artwork(rig, job_id, data)


def test_a_replacement_in_work_found_by_no_rescan_is_taken_as_the_job_goes_on(
    rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same with no rescan between the drop and the date: the job's own look before it goes on
    (_work_drops_first) finds it."""
    later = (rig.clock.now() + timedelta(seconds=30)).isoformat()
    job_id = rig.order("F8", extra=f'process_after: "{later}"\n')
    rig.run(until=lambda: rig.stage(job_id) is Stage.FUTURE, steps=5)
    monkeypatch.setattr(Engine, "_work_drop_files", lambda self: iter(()))
    data = _replaced_in_work(rig, job_id, tmp_path)
    for _ in range(60):
        rig.engine.step()
        rig.clock.advance(1.0)
    assert rig.stage(job_id) is Stage.DONE
    _replaced_as_artwork(rig, job_id, data)


def _second_manifest_while_made(r: Rig, monkeypatch: pytest.MonkeyPatch, second: str) -> None:
    """Order Z1's manifest and artwork; a second manifest ``second`` (text) of the order moved into
    the inbox while its job is made (after its output, before its delivery), as `mv a.yaml b.yaml
    inbox/` gives it: the watcher's hint comes then."""
    make_pdf(r.inbox / "Z1.pdf", pages=CARD)
    (r.inbox / "Z1.yaml").write_text('order_id: "Z1"\nproduct: bc-85x55\nquantity: 1\nartwork: [Z1.pdf]\n')
    real = Engine._process
    sent: list[Path] = []

    def process_then_it_arrives(self: Engine, job: Any, next_ids: Any = ()) -> None:
        real(self, job, next_ids)
        if not sent:
            temp, target = r.inbox / ".Z1-b.tmp", r.inbox / "Z1-b.yaml"
            temp.write_text(second)
            os.replace(temp, target)
            sent.append(target)
            self.hint(target, moved_in=True)

    monkeypatch.setattr(Engine, "_process", process_then_it_arrives)
    r.run(until=lambda: bool(sent) and r.stage("Z1-1") is Stage.DONE, steps=20, dt=0.5)
    assert not os.listdir(r.root / "failed"), "nothing refused"


@pytest.mark.parametrize("backlog", [False, True])
def test_a_second_manifest_of_the_order_that_came_while_its_job_was_made_is_taken_before_delivery(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, backlog: bool
) -> None:
    """Audit (2026-12-05 Z 1): two manifests of one order for the same job moved in together: the
    first one's job was made and delivered before the second was read, which was then refused
    "already delivered" (README: the one taken second replaces the first one's artwork and facts).
    It is taken before the job is delivered: the job is made again with what it says. With a
    backlog (more files waiting than MEANWHILE_BACKLOG), the look takes only the manifests the
    watcher told of since, not every file due (bench scenario 8: a quarter of the pace)."""
    if backlog:
        monkeypatch.setattr(engine_module, "MEANWHILE_BACKLOG", 0)
    make_pdf(rig.inbox / "Z1b.pdf", pages=CARD, content=b"0 0 m 50 50 l S")
    _second_manifest_while_made(
        rig, monkeypatch, 'order_id: "Z1"\nproduct: bc-85x55\nquantity: 2\nartwork: [Z1b.pdf]\n'
    )
    assert rig.take_prints() == ["Z1_Z1-1_bc-85x55_x2.pdf"]
    uploaded = next(e for e in rig.job("Z1-1").history if e.status is JobStatus.ArtworkUploaded)
    # (what it changed, said: audit Z, a job turned from 100 cards into a poster said nothing of it)
    assert uploaded.detail == "new manifest Z1-b.yaml (quantity 1 -> 2; artwork Z1.pdf -> Z1b.pdf)"
    assert rig.statuses("Z1-1").count("InHotFolder") == 1


def test_the_same_manifest_again_under_another_name_while_its_job_is_made_changes_nothing(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit (2026-12-05 Z 2): a webhook's retry (the same manifest under another file name) moved in
    with the first was refused into failed/ "already delivered", its ERROR.txt advising a reprint
    that would print the job twice. It is filed in the job's history/ as the same again."""
    _second_manifest_while_made(rig, monkeypatch, 'order_id: "Z1"\nproduct: bc-85x55\nquantity: 1\nartwork: [Z1.pdf]\n')
    assert rig.take_prints() == ["Z1_Z1-1_bc-85x55_x1.pdf"]
    assert rig.statuses("Z1-1").count("InHotFolder") == 1
    assert any(p.name.endswith("Z1-b.yaml") for p in (rig.root / "done" / "Z1-1" / "history").iterdir())


def test_files_a_taken_folder_drops_manifest_does_not_list_are_said_as_such(rig: Rig) -> None:
    """Audit (2026-12-05 Z): a folder drop's extra files (notes, a preview) went to failed/ after
    artwork_timeout_seconds with an ERROR.txt saying to put the folder back with its manifest, whose
    order had been delivered (sent again, it would be refused). It says the manifest was taken in."""
    drop = rig.inbox / "o1500"
    (drop / "preview").mkdir(parents=True)
    make_pdf(drop / "card.pdf", pages=CARD)
    (drop / "notes.txt").write_text("proof ok\n")
    (drop / "preview" / "thumb.jpg").write_bytes(b"\xff\xd8\xff\xe0 not much of a picture")
    (drop / "manifest.yaml").write_text('order_id: "1500"\nproduct: bc-85x55\nquantity: 1\nartwork: [card.pdf]\n')
    rig.run(until=done(rig, "1500-1"), steps=10)
    rig.run(until=lambda: (rig.root / "failed" / "o1500" / "ERROR.txt").exists(), steps=5, dt=600)
    error = " ".join((rig.root / "failed" / "o1500" / "ERROR.txt").read_text().split())
    assert "The folder's manifest was taken in, and does not list these files" in error, error
    assert "put the folder back" not in error
    assert sorted(
        p.relative_to(rig.root / "failed" / "o1500").as_posix()
        for p in (rig.root / "failed" / "o1500").rglob("*")
        if p.is_file()
    ) == ["ERROR.txt", "notes.txt", "preview/thumb.jpg"]


def test_a_new_version_of_an_order_changing_one_job_leaves_the_others_as_they_are(arrival_rig: Rig) -> None:
    """Audit (2026-12-05 R2 3): a new version of a 3-job order changing job 3's quantity, with no
    artwork (its jobs blocked, their outputs made), made every job drop its artwork into history/
    and wait for artwork that was not coming. The jobs it says the same of are left as they are."""
    r = arrival_rig
    for name in ("a", "b", "c"):
        make_pdf(r.inbox / f"{name}.pdf", pages=CARD)

    def order(quantity: int) -> str:
        jobs = "".join(
            f"  - product: bc-85x55\n    quantity: {q}\n    artwork: [{name}.pdf]\n"
            for name, q in (("a", 1), ("b", 2), ("c", quantity))
        )
        return f'order_id: "V3"\njobs:\n{jobs}'

    (r.inbox / "V3.yaml").write_text(order(3))
    held = lambda: all(r.stage(f"V3-{n}") is Stage.HELD for n in (1, 2, 3))  # noqa: E731
    r.run(until=held, steps=20)
    before = {n: r.statuses(f"V3-{n}") for n in (1, 2)}
    (r.inbox / "V3-v2.yaml").write_text(order(30))
    r.run(until=lambda: not (r.inbox / "V3-v2.yaml").exists(), steps=10)
    for n in (1, 2):
        assert r.statuses(f"V3-{n}") == before[n] and r.stage(f"V3-{n}") is Stage.HELD
        assert list((r.root / "quarantine" / f"V3-{n}" / "artwork").iterdir()), "its artwork kept"
    third = r.job("V3-3")
    assert third.quantity == 30 and third.history[-1].detail == "new manifest V3-v2.yaml: waiting for c.pdf"


def test_a_job_held_back_a_moment_is_woken_when_the_moment_ends(rig: Rig) -> None:
    """Audit (2026-12-05 K): a job held back to read its drop files first went on at the next
    heartbeat (5 s), not when its hold ended: the engine's wait counts the holds (expired ones go)."""
    mono = rig.clock.monotonic()
    rig.engine._cooldown.update({"A-1": mono + 1.5, "B-1": mono - 3.0})
    assert rig.engine._wait_seconds() <= 1.5
    assert "B-1" not in rig.engine._cooldown


def test_a_release_dropped_in_work_before_the_output_is_a_release_in_advance(arrival_rig: Rig) -> None:
    """Audit (2026-12-05 F 2): a RELEASE dropped into the work/ folder of a blocked future order was
    read only once the job reached quarantine/ with its new output, and recorded as approving that
    output ("it approves the output made at ..."), which nobody had opened. It is read before the
    job goes on now: a release given in advance, said so, as `spo-hotfolder release` says it."""
    r = arrival_rig
    later = (r.clock.now() + timedelta(minutes=10)).isoformat()
    job_id = r.order("WF", extra=f'process_after: "{later}"\n')
    r.run(until=lambda: r.stage(job_id) is Stage.FUTURE, steps=5)
    (r.root / "work" / job_id / "RELEASE").write_text("wim\n")
    r.run(until=lambda: not r.job(job_id).blocked, steps=5)
    answer = r.engine._last_action_of(job_id) or ""
    assert "released by wim; its output is not made yet (status FutureOrder)" in answer
    r.run(until=done(r, job_id), steps=20, dt=60)
    assert r.take_prints() == ["WF_WF-1_bc-85x55_x1.pdf"]
    history = r.job(job_id).whole_history()
    block = next(e for e in history if e.status is JobStatus.Blocked)
    made = next(e for e in history if e.status is JobStatus.OutputCreated)
    assert block.removed_by == "wim" and block.removed_at < made.at


def test_a_ticket_that_keeps_failing_fails_the_job_and_retry_writes_only_the_ticket(
    ticket_rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = ticket_rig
    copies = _failing_tickets(monkeypatch, 3)
    job_id = r.order("T3")
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=20, dt=15)
    error = (r.root / "failed" / job_id / "ERROR.txt").read_text()
    assert "T3_T3-1_bc-85x55_x1.pdf was delivered into hot folder indigo, but its job ticket" in error
    assert "only the ticket is written" in error
    assert "next attempt at" not in r.job(job_id).history[-1].detail, "the last attempt promises nothing more"
    assert r.take_prints() == ["T3_T3-1_bc-85x55_x1.pdf"]  # the printer took the PDF meanwhile
    assert r.engine.apply(job_id, Action.RETRY, by="dave", note="disk cleaned").ok
    r.run(until=done(r, job_id), steps=5)
    assert r.take_prints() == ["T3_T3-1_bc-85x55_x1.json"]
    assert copies[0] == 1
    assert r.statuses(job_id)[-2:] == ["RecreationRequested", "InHotFolder"]
    # Nothing was made again: the history says what the retry did (audits AY 5c, BP 3).
    retry = r.job(job_id).history[-2]
    assert (retry.by, retry.detail) == (
        "dave",
        "retry: only the job ticket is written (the PDF is in the hot folder already): disk cleaned",
    )


# -- a failed job sent again; a manifest partly refused ---------------------------------------------


def test_a_new_manifest_for_a_failed_job_leaves_no_old_error_behind(rig: Rig) -> None:
    """The failed job's ERROR.txt goes into history/ and its empty replace/ goes: done/<id> must not
    say "needs attention" about a problem its new artwork solved."""
    r = rig
    make_pdf(r.inbox / "R1.pdf", pages=CARD[:1])  # one page; bc-* needs two
    (r.inbox / "R1.yaml").write_text('order_id: "R1"\nproduct: bc-85x55\nquantity: 1\nartwork: [R1.pdf]\n')
    job_id = "R1-1"
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=10)
    assert (r.root / "failed" / job_id / "ERROR.txt").exists() and (r.root / "failed" / job_id / "replace").is_dir()
    r.order("R1")  # the corrected artwork, with a new manifest
    r.run(until=done(r, job_id), steps=10)
    folder = r.root / "done" / job_id
    assert not (folder / "ERROR.txt").exists() and not (folder / "replace").exists()
    assert any(p.name.endswith("ERROR.txt") for p in (folder / "history").iterdir())
    assert r.take_prints() == ["R1_R1-1_bc-85x55_x1.pdf"]
    # The history names the manifest that brought the new artwork.
    assert [e.detail for e in r.job(job_id).history if e.status is JobStatus.ArtworkUploaded] == [
        "new manifest R1.yaml"
    ]


def test_a_partly_refused_manifest_names_the_jobs_it_took(rig: Rig) -> None:
    """Advice to send the whole manifest again with reprint: true would print the taken jobs twice."""
    r = rig
    first = r.order("M1")
    r.run(until=done(r, first), steps=10)
    assert r.take_prints() == ["M1_M1-1_bc-85x55_x1.pdf"]
    make_pdf(r.inbox / "M1-1.pdf", pages=CARD)
    make_pdf(r.inbox / "M1-2.pdf", pages=CARD)
    (r.inbox / "M1.yaml").write_text(
        'order_id: "M1"\njobs:\n'
        '  - {job_id: "M1-1", product: bc-85x55, quantity: 1, artwork: [M1-1.pdf]}\n'
        '  - {job_id: "M1-2", product: bc-85x55, quantity: 1, artwork: [M1-2.pdf]}\n'
    )
    r.run(until=done(r, "M1-2"), steps=10)
    assert r.take_prints() == ["M1_M1-2_bc-85x55_x1.pdf"]
    [refused] = [p for p in (r.root / "failed").iterdir()]
    error = (refused / "ERROR.txt").read_text()
    assert "M1-1" in error and "already delivered" in error
    assert "the other jobs of this manifest were taken and go on as usual: M1-2" in error
    assert "remove M1-2 from it first" in error


def test_a_manifest_refused_as_done_leaves_the_artwork_its_reprint_twin_names(rig: Rig) -> None:
    """Audit AW 1: a storefront sent a delivered order's manifest again and, at the same moment,
    the same order with reprint: true and the artwork. The refused one took the PDF into
    failed/<manifest>/artwork/, and the reprint failed for missing artwork."""
    r = rig
    job_id = r.order("W1")
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["W1_W1-1_bc-85x55_x1.pdf"]
    r.order("W1")  # the same manifest (no reprint) and its PDF
    text = (r.inbox / "W1.yaml").read_text()
    (r.inbox / "W1_reprint.yaml").write_text(text + "reprint: true\n")
    r.run(until=lambda: len(r.statuses(job_id)) > 6 and r.statuses(job_id)[-1] == "InHotFolder", steps=20)
    # (the one without reprint waits a moment for its twin, audit AT D1, then is refused)
    r.run(until=lambda: list((r.root / "failed").glob("W1.yaml*")) != [], steps=10)
    assert r.take_prints() == ["W1_W1-1_bc-85x55_x1.pdf"]
    assert "RecreationRequested" in r.statuses(job_id)
    [refused] = list((r.root / "failed").glob("W1.yaml*"))
    assert not (refused / "artwork").exists()
    error = " ".join((refused / "ERROR.txt").read_text().split())
    assert error.startswith("Manifest W1.yaml (order W1): its job was not taken.")  # not "some jobs" (audit BA 8)
    assert "was already delivered" in error
    assert sorted(p.name for p in r.inbox.iterdir()) == []


def test_a_manifest_refused_as_done_leaves_the_artwork_its_reprint_twin_being_read_names(rig: Rig) -> None:
    """The twin rule when both are there as the refused one is looked at once more: the artwork
    stays in inbox/ for the reprint, and the refusal says so."""
    r = rig
    job_id = r.order("W2")
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["W2_W2-1_bc-85x55_x1.pdf"]
    r.order("W2")  # the same manifest (no reprint) and its PDF
    r.run(steps=1, dt=0.1)  # (looked at: held a moment for a twin)
    text = (r.inbox / "W2.yaml").read_text()
    (r.inbox / "W2_reprint.yaml").write_text(text + "reprint: true\n")
    r.engine.tracker.hold(r.inbox / "W2_reprint.yaml", 30)  # (read after the plain one's second look)
    r.run(until=lambda: list((r.root / "failed").glob("W2.yaml*")) != [], steps=10)
    [refused] = list((r.root / "failed").glob("W2.yaml*"))
    error = " ".join((refused / "ERROR.txt").read_text().split())
    assert "left in inbox/ for it, not moved here: W2.pdf (manifest W2_reprint.yaml names it)" in error, error
    assert not (refused / "artwork").exists()
    r.run(until=lambda: r.statuses(job_id).count("InHotFolder") == 2, steps=60)
    assert r.take_prints() == ["W2_W2-1_bc-85x55_x1.pdf"]


def test_an_order_sent_with_reprint_true_twice_after_its_files_were_deleted_is_printed_once(rig: Rig) -> None:
    """Review GR 2: a storefront that sends `reprint: true` with every order: its webhook's retry
    (the same bytes, the same artwork) while the first PDF still waited was printed twice once
    retention had deleted the job's files (done_days 0), where with the files kept it is refused:
    the ledger's rule took every first delivery for one made without reprint. A manifest of these
    very bytes taken in before for the order is the one sent twice; the order's own manifest,
    `reprint: true` added, is still the reprint asked for (GN 1, above)."""
    r = rig
    drop = r.tmp / "RW-drop"
    drop.mkdir()
    make_pdf(drop / "RW.pdf", pages=CARD)
    (drop / "manifest.yaml").write_text(
        'order_id: "RW"\nreprint: true\nproduct: bc-85x55\nquantity: 1\nartwork: [RW.pdf]\n'
    )

    def send(name: str) -> None:
        shutil.copytree(drop, r.inbox / f".{name}")
        os.replace(r.inbox / f".{name}", r.inbox / name)

    send("first")
    r.run(until=done(r, "RW-1"), steps=10)
    r.clock.advance(30 * 86400 + 1)
    r.engine.run_retention()
    assert r.job("RW-1").purged
    assert _route(r, drop / "manifest.yaml")["known"].endswith(
        "this job would be refused as the same order sent twice (not printed again)"
    )
    send("retry")
    r.run(until=lambda: any((r.root / "failed").iterdir()), steps=10)
    r.run(steps=5)
    assert sorted(p.name for p in r.hot.iterdir()) == ["RW_RW-1_bc-85x55_x1.pdf"]  # once
    assert r.statuses("RW-1").count("InHotFolder") == 1


def _printed_with_a_reprint_at_hand(r: Rig, order_id: str) -> tuple[str, Path, Callable[[str], None]]:
    """Order ``order_id`` printed (its PDF taken by the printer), a folder drop of its reprint made
    aside, and a function that sends a copy of that folder into the inbox under a name."""
    job_id = r.order(order_id)
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == [f"{order_id}_{order_id}-1_bc-85x55_x1.pdf"]
    drop = r.tmp / f"{order_id}-reprint"
    drop.mkdir()
    make_pdf(drop / f"{order_id}.pdf", pages=CARD)
    (drop / "manifest.yaml").write_text(
        f'order_id: "{order_id}"\nreprint: true\nproduct: bc-85x55\nquantity: 1\nartwork: [{order_id}.pdf]\n'
    )

    def send(name: str) -> None:
        shutil.copytree(drop, r.inbox / f".{name}")
        os.replace(r.inbox / f".{name}", r.inbox / name)

    return job_id, drop, send


def test_the_same_reprint_sent_twice_is_printed_once_while_its_pdf_waits(rig: Rig) -> None:
    """Audit: a folder drop with reprint: true sent twice, a second apart (a double upload) was
    printed twice: the second waited for the first PDF to leave the hot folder, then printed. The
    same bytes once the printer has taken the PDF are a new reprint (a shop's "order again")."""
    r = rig
    job_id, drop, send = _printed_with_a_reprint_at_hand(r, "RT")

    assert _route(r, drop / "manifest.yaml")["known"] == "already finished (InHotFolder): made again (reprint: true)"
    send("first")
    r.run(until=lambda: r.statuses(job_id).count("InHotFolder") == 2, steps=10)
    assert _route(r, drop / "manifest.yaml")["known"] == (
        "its PDF RT_RT-1_bc-85x55_x1.pdf, made from this same manifest and artwork, still waits in hot folder "
        "indigo: this job would be refused as the same order sent twice (not printed again)"
    )
    send("again")
    r.run(until=lambda: any((r.root / "failed").iterdir()), steps=10)
    r.run(steps=5)
    assert r.statuses(job_id).count("RecreationRequested") == 1
    assert r.take_prints() == ["RT_RT-1_bc-85x55_x1.pdf"]  # once
    [refused] = list((r.root / "failed").iterdir())
    assert sorted(p.name for p in refused.iterdir()) == ["ERROR.txt", "artwork", "manifest.yaml"]
    error = " ".join((refused / "ERROR.txt").read_text().split())
    assert (
        "job RT-1 was printed from this same manifest with the same artwork, and its PDF RT_RT-1_bc-85x55_x1.pdf "
        "still waits in hot folder indigo, not yet taken by the printer: this copy was taken as the same order "
        "sent twice, and is not printed again" in error
    ), error
    assert (
        "If job RT-1 must be printed once more, put this manifest into inbox/ again, together with its artwork "
        "(moved here, into artwork/: RT.pdf) once the printer has taken RT_RT-1_bc-85x55_x1.pdf from hot folder "
        "indigo." in error
    ), error
    assert "add `reprint: true`" not in error  # it has it
    assert list(r.inbox.iterdir()) == []
    # The printer has taken it: the same bytes are an order for one more.
    send("later")
    r.run(until=lambda: r.statuses(job_id).count("InHotFolder") == 3, steps=10)
    assert r.take_prints() == ["RT_RT-1_bc-85x55_x1.pdf"]
    # Other artwork in the same manifest is a new reprint even while the PDF waits (not a twin).
    r.run(steps=2)
    send("fourth")
    r.run(until=lambda: r.statuses(job_id).count("InHotFolder") == 4, steps=10)
    shutil.rmtree(drop)
    drop.mkdir()
    make_pdf(drop / "RT.pdf", pages=CARD, content=b"0 0 1 rg 10 10 50 50 re f")
    (drop / "manifest.yaml").write_text(
        'order_id: "RT"\nreprint: true\nproduct: bc-85x55\nquantity: 1\nartwork: [RT.pdf]\n'
    )
    send("other-artwork")
    r.run(until=lambda: r.statuses(job_id).count("RecreationRequested") == 4, steps=10)
    assert len(list((r.root / "failed").iterdir())) == 1


def test_a_reprint_is_requested_first_even_before_its_artwork_arrives(rig: Rig) -> None:
    """SPEC 5: a reprint is RecreationRequested "reprint", then the usual statuses; it used to wait
    for the artwork, after AwaitingData (and never came if the artwork did not)."""
    r = rig
    job_id = r.order("P1")
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["P1_P1-1_bc-85x55_x1.pdf"]
    (r.inbox / "P1.yaml").write_text(
        'order_id: "P1"\nreprint: true\nblocked: true\nproduct: bc-85x55\nquantity: 1\nartwork: [P1-v2.pdf]\n'
    )
    r.run(until=lambda: r.stage(job_id) is Stage.AWAITING, steps=10)
    assert r.statuses(job_id)[-4:] == ["InHotFolder", "RecreationRequested", "Blocked", "AwaitingData"]
    assert r.job(job_id).history[-3].detail == "reprint"
    make_pdf(r.inbox / "P1-v2.pdf", pages=CARD)
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    assert r.statuses(job_id).count("RecreationRequested") == 1
    assert r.engine.apply(job_id, Action.RELEASE, by="kim", note="").ok
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["P1_P1-1_bc-85x55_x1.pdf"]


def test_a_release_before_the_output_is_made_says_so_and_a_reject_after_it_says_why_not(rig: Rig) -> None:
    """Audit (CLI) 1 and 2: a blocked job waiting for its artwork, released: the answer said only
    "released by ann" (the job then prints unseen), and a reject after it said the job "was released
    before this reject was read, and is on its way to its hot folder", which read as a race."""
    r = rig
    (r.inbox / "AW.yaml").write_text(
        'order_id: "AW"\nblocked: true\nproduct: bc-85x55\nquantity: 1\nartwork: [AW.pdf]\n'
    )
    r.run(until=lambda: r.stage("AW-1") is Stage.AWAITING, steps=10)
    released = r.engine.apply("AW-1", Action.RELEASE, by="ann", note="")
    assert released.ok and released.message == (
        "released by ann; its output is not made yet (status AwaitingData): it goes to its hot folder as soon as "
        "it is, without waiting in quarantine/ to be opened"
    )
    rejected = r.engine.apply("AW-1", Action.REJECT, by="bob", note="")
    assert not rejected.ok and rejected.message.endswith(
        "job AW-1 was released (by ann) and is no longer blocked (status AwaitingData): it goes to its hot folder "
        "as soon as it is ready; only a blocked or failed job can be rejected"
    ), rejected.message
    make_pdf(r.inbox / "AW.pdf", pages=CARD)
    r.run(until=done(r, "AW-1"), steps=10)
    assert r.take_prints() == ["AW_AW-1_bc-85x55_x1.pdf"]


def test_a_file_of_the_same_name_waiting_is_never_overwritten_nor_copied_for(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = rig
    copies = _failing_tickets(monkeypatch, 0)  # (counts the copies; this hot folder takes no tickets)
    waiting = r.hot / "C1_C1-1_bc-85x55_x1.pdf"
    waiting.write_bytes(b"%PDF-1.7 the last run's file, not taken yet")
    job_id = r.order("C1")
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=40, dt=15)
    details = [e.detail for e in r.job(job_id).history if e.status is JobStatus.CopyToHotFolderFailed]
    assert len(details) == 3 and all("a file named C1_C1-1_bc-85x55_x1.pdf is already waiting" in d for d in details)
    assert [("next attempt at" in d) for d in details] == [True, True, False], "the last attempt promises no other"
    assert copies[0] == 0, "no copy is made while the name is taken"
    assert waiting.read_bytes() == b"%PDF-1.7 the last run's file, not taken yet"
    assert (
        "let the printer take the file waiting under the same name"
        in (r.root / "failed" / job_id / "ERROR.txt").read_text()
    )
    waiting.unlink()  # the printer takes it
    assert r.engine.apply(job_id, Action.RETRY, by="dave", note="").ok
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["C1_C1-1_bc-85x55_x1.pdf"] and copies[0] == 1


def test_new_artwork_for_a_job_whose_pdf_is_delivered_but_not_its_ticket_is_refused_or_a_reprint(
    ticket_rig: Rig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The PDF is in the hot folder (only its ticket failed): new artwork would be recorded InHotFolder
    with only a ticket written beside the old PDF. It is refused (replace/, CLI, a manifest), and a
    reprint is a new delivery of the new artwork."""
    r = ticket_rig
    copies = _failing_tickets(monkeypatch, 3)
    job_id = r.order("T5")
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=20, dt=15)
    status_txt = (r.root / "failed" / job_id / "STATUS.txt").read_text()
    assert "only its job ticket is missing" in status_txt and "New artwork is refused" in status_txt
    new_art = tmp_path / "new.pdf"
    make_pdf(new_art, pages=CARD)
    refused = r.engine.apply(job_id, Action.REPLACE, by="ann", note="", file=new_art)
    assert not refused.ok and "PDF T5_T5-1_bc-85x55_x1.pdf is already in hot folder indigo" in refused.message
    r.order("T5")  # the same job id again, without reprint
    r.run(until=lambda: any((r.root / "failed").glob("T5.yaml*")), steps=10)
    [folder] = list((r.root / "failed").glob("T5.yaml*"))
    assert "only its job ticket failed" in (folder / "ERROR.txt").read_text()
    assert r.stage(job_id) is Stage.FAILED and copies[0] == 1
    assert r.take_prints() == ["T5_T5-1_bc-85x55_x1.pdf"]
    make_pdf(r.inbox / "T5.pdf", pages=CARD)
    (r.inbox / "T5.yaml").write_text(
        'order_id: "T5"\nreprint: true\nproduct: bc-85x55\nquantity: 1\nartwork: [T5.pdf]\n'
    )
    r.run(until=done(r, job_id), steps=10)
    assert copies[0] == 2, "a reprint is a new delivery"
    assert r.take_prints() == ["T5_T5-1_bc-85x55_x1.json", "T5_T5-1_bc-85x55_x1.pdf"]
    assert "RecreationRequested" in r.statuses(job_id)[-6:]


def test_a_folder_where_the_ticket_or_the_pdf_goes_is_named_as_such(ticket_rig: Rig) -> None:
    r = ticket_rig
    (r.hot / "T6_T6-1_bc-85x55_x1.json").mkdir()
    (r.hot / "T7_T7-1_bc-85x55_x1.pdf").mkdir()
    first, second = r.order("T6"), r.order("T7")
    r.run(until=lambda: r.stage(first) is Stage.RETRY and r.stage(second) is Stage.RETRY, steps=10)
    assert "a folder named T6_T6-1_bc-85x55_x1.json is in hot folder indigo" in r.job(first).history[-1].detail
    assert "a folder named T7_T7-1_bc-85x55_x1.pdf is in hot folder indigo" in r.job(second).history[-1].detail
    (r.hot / "T6_T6-1_bc-85x55_x1.json").rmdir()
    (r.hot / "T7_T7-1_bc-85x55_x1.pdf").rmdir()
    r.run(until=lambda: r.stage(first) is Stage.DONE and r.stage(second) is Stage.DONE, steps=5, dt=15)
    assert len(r.take_prints()) == 4


class SlowOutputPdf(InProcessPdf):
    """Outputs that take a while (a 60,000-page merge): the caller is called back meanwhile, as
    PdfWorker does every WAIT_SLICE_SECONDS. During the first one, ``during`` runs, and what
    ``seen`` returns at its end is kept in ``after``."""

    def __init__(self, rig: Rig, during: Callable[[], None], seen: Callable[[], Any]) -> None:
        self.rig = rig
        self.during: Callable[[], None] | None = during
        self.seen = seen
        self.after: Any = None

    def build_output(
        self, artwork: Any, dest: Any, spec: Any, validation: Any, while_waiting: Any = None, repaired: bool = False
    ) -> Any:
        if while_waiting is not None and self.during is not None:
            self.during()
            self.during = None
            for _ in range(5):
                self.rig.clock.advance(0.2)
                while_waiting()
            self.after = self.seen()
        return build_output(artwork, dest, spec, validation)


def test_new_orders_are_taken_in_while_a_big_output_is_made(rig: Rig) -> None:
    """Intake does not wait for one big PDF: a new order is recorded and its artwork claimed while
    the worker makes another job's output. Manifests of known jobs (and drop files) wait."""
    r = rig
    slow = r.order("BIG")

    def arrive() -> None:
        r.order("NEW")
        (r.inbox / "BIG-again.yaml").write_text(
            'order_id: "BIG"\nproduct: bc-85x55\nquantity: 1\nartwork: [BIG-v2.pdf]\n'
        )
        for name in ("NEW.yaml", "NEW.pdf", "BIG-again.yaml"):
            r.engine.hint(r.inbox / name, moved_in=True)

    def seen() -> Any:
        new = r.ledger.get_job("NEW-1")
        return (
            [e.status.value for e in new.history] if new else None,
            new.stage if new else None,
            (r.inbox / "BIG-again.yaml").exists(),
            r.statuses(slow)[-1],
        )

    pdf = SlowOutputPdf(r, arrive, seen)
    r.engine.pdf = pdf
    r.run(until=lambda: r.stage("NEW-1") is Stage.DONE and not (r.inbox / "BIG-again.yaml").exists(), steps=10)
    statuses, stage, waiting, slow_status = pdf.after
    assert statuses == ["Ordered"] and stage is Stage.PROCESS, "recorded, its artwork claimed, during the output"
    assert waiting and slow_status == "OutputCreationStarted", "the known job's manifest waits for its turn"
    # Its turn is before the job's delivery (audit Z 1): the job waits for the artwork it names now.
    assert r.take_prints() == ["NEW_NEW-1_bc-85x55_x1.pdf"]
    assert r.job(slow).history[-1].detail == "new manifest BIG-again.yaml: waiting for BIG-v2.pdf"


def test_a_manifest_the_daemon_fails_on_says_so_and_where_its_artwork_is(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After MANIFEST_FAULTS tries, a manifest the daemon itself fails on goes to failed/. Its
    ERROR.txt used to end "Correct it (the lines and keys above say where)": there are none."""
    r = rig

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(engine_module, "parse_manifest", broken)
    make_pdf(r.inbox / "F1.pdf", pages=CARD)
    (r.inbox / "F1.yaml").write_text('order_id: "F1"\nproduct: bc-85x55\nquantity: 1\nartwork: [F1.pdf]\n')
    error = r.root / "failed" / "F1.yaml" / "ERROR.txt"
    r.run(until=error.is_file, steps=20)
    text = error.read_text()
    assert "a fault in the daemon" in text and "RuntimeError: boom" in text
    assert "Once the administrator has looked into it, put F1.yaml into inbox/ again" in text
    assert "the lines and keys above" not in text
    # Its artwork stays in the inbox for a while, and the operator is told so.
    assert "stays there for 10 minutes (watch.artwork_timeout_seconds)" in text
    assert (r.inbox / "F1.pdf").is_file()


def test_an_error_about_a_name_on_every_try_counts_as_a_fault_not_as_the_disk(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit Q 1: "File name too long" (ENAMETOOLONG) on every try was taken for the disk, which
    leaves the manifest in the inbox until the next look: it stayed there for ever, with a traceback
    at each rescan. An OSError that says a name is wrong counts as a fault (failed/ after
    MANIFEST_FAULTS tries); one that says the disk failed still leaves the manifest waiting."""
    r = rig
    calls: list[str] = []

    def failing(data: bytes, name: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        code = errno.ENAMETOOLONG if name == "N1.yaml" else errno.EIO
        raise OSError(code, os.strerror(code), name)

    monkeypatch.setattr(engine_module, "parse_manifest", failing)
    (r.inbox / "N1.yaml").write_text('order_id: "N1"\nproduct: bc-85x55\nquantity: 1\nartwork: [N1.pdf]\n')
    (r.inbox / "D1.yaml").write_text('order_id: "D1"\nproduct: bc-85x55\nquantity: 1\nartwork: [D1.pdf]\n')
    error = r.root / "failed" / "N1.yaml" / "ERROR.txt"
    r.run(until=error.is_file, steps=40)
    assert "a fault in the daemon" in error.read_text() and "File name too long" in error.read_text()
    assert calls.count("N1.yaml") == engine_module.MANIFEST_FAULTS
    assert (r.inbox / "D1.yaml").is_file() and not (r.root / "failed" / "D1.yaml").exists()


def test_a_bad_folder_drop_goes_to_failed_whole_with_its_artwork(rig: Rig) -> None:
    r = rig
    folder = r.inbox / "order7"
    folder.mkdir()
    make_pdf(folder / "card.pdf", pages=CARD)
    (folder / "manifest.yaml").write_text('order_id: "O7"\nproduct: bc-85x55\nquantity: "5"\nartwork: [card.pdf]\n')
    error = r.root / "failed" / "order7" / "ERROR.txt"
    r.run(until=error.is_file, steps=20)
    text = error.read_text()
    assert "line 3: quantity: must be a whole number" in text
    assert "Correct manifest.yaml (the lines and keys above say where) and put it into inbox/ again" in text
    assert "together with its artwork, as the whole folder (its artwork is in this folder)" in text
    assert (r.root / "failed" / "order7" / "card.pdf").is_file() and not folder.exists()


def test_a_job_id_in_other_letter_case_than_a_known_one_is_refused(rig: Rig) -> None:
    """Audit AH R4: order "b35" and, later, order "B35": two jobs, b35-1 and B35-1, whose folders a
    Windows share (where operators work) shows as one folder. The second manifest is refused."""
    r = rig
    first = r.order("b35")
    r.run(until=done(r, first), steps=10)
    assert r.take_prints() == ["b35_b35-1_bc-85x55_x1.pdf"]
    r.order("B35")
    r.run(until=lambda: any((r.root / "failed").iterdir()), steps=10)
    assert r.ledger.get_job("B35-1") is None and r.statuses(first)[-1] == "InHotFolder"
    [refused] = list((r.root / "failed").iterdir())
    error = " ".join((refused / "ERROR.txt").read_text().split())
    assert (
        "job id B35-1 differs from that of job b35-1 only in letter case: their folders would be one folder on a "
        "Windows share" in error
    ), error
    assert "For B35-1: write its job_id (or, where it is left out, the order_id) as job b35-1's is written" in error
    r.run(steps=3)
    assert r.take_prints() == []
    # Once retention has removed b35-1's folder (purged), nothing is left to be confused with.
    r.ledger.update_job(first, r.clock.now(), stage=Stage.PURGED)
    shutil.rmtree(r.root / "done" / first)
    r.order("B35")
    r.run(until=lambda: r.ledger.get_job("B35-1") is not None and r.stage("B35-1") is Stage.DONE, steps=10)
    assert r.take_prints() == ["B35_B35-1_bc-85x55_x1.pdf"]


def test_a_new_manifest_changing_the_product_to_one_the_blocking_rules_hold_blocks_the_job(tmp_path: Path) -> None:
    """Audit AI 4: a job ordered as a product no rule holds, waiting for its artwork, then its
    manifest sent again with a product `blocking.products` holds: re-routed and checked by the new
    product, it printed unseen. It is held as a new order of that product would be."""
    for r in rig_on(tmp_path, blocking={"products": ["poster-*"]}):
        (r.inbox / "S1.yaml").write_text('order_id: "S1"\nproduct: bc-85x55\nquantity: 1\nartwork: [S1.pdf]\n')
        r.run(until=lambda r=r: r.ledger.get_job("S1-1") is not None, steps=5)
        assert r.statuses("S1-1") == ["Ordered", "AwaitingData"]
        make_pdf(r.inbox / "S1.pdf", pages=CARD)
        (r.inbox / "S1.yaml").write_text('order_id: "S1"\nproduct: poster-a1\nquantity: 1\nartwork: [S1.pdf]\n')
        r.run(until=lambda r=r: r.stage("S1-1") is Stage.HELD, steps=10)
        job = r.job("S1-1")
        assert job.blocked and job.product == "poster-a1"
        [blocked] = [e for e in job.history if e.status is JobStatus.Blocked]
        assert blocked.detail == "blocking.products: poster-* (its product changed from bc-85x55 to poster-a1)"
        assert not list((r.tmp / "hot" / "large").iterdir()) and r.take_prints() == []


def test_job_folders_the_ledger_does_not_know_are_looked_at_again_only_when_their_area_changes(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Said by `health` until they are gone (a ledger put back from a backup); thousands of them
    looked at every heartbeat kept an idle daemon at 0.3 % of a core (bench scenario 7)."""
    r = rig
    # Not job folders (audit AK 1: named after a restart): a copy the daemon refused, one it moved aside.
    names = ["U0-1", "U1-1", "U2-1", "U3-1 (copy, not used)", "U4-1.old-20261205T192420.140Z-2"]
    for name in names:
        (r.root / "quarantine" / name).mkdir()
        (r.root / "quarantine" / name / "STATUS.txt").write_text("Job U-1\n")
    engine = r.start()
    assert engine.job_folders_unknown() == ["quarantine/U0-1", "quarantine/U1-1", "quarantine/U2-1"]
    looks: list[Path] = []
    is_dir = Path.is_dir
    monkeypatch.setattr(Path, "is_dir", lambda self: looks.append(self) or is_dir(self))
    for _ in range(5):  # heartbeats with nothing changed
        assert len(engine.job_folders_unknown()) == 3
    assert looks == []
    shutil.rmtree(r.root / "quarantine" / "U1-1")
    assert engine.job_folders_unknown() == ["quarantine/U0-1", "quarantine/U2-1"]
    r.clock.advance(601)  # (and every ten minutes whatever the areas' times say)
    looks.clear()
    engine.job_folders_unknown()
    assert len(looks) == 2
    # Its order put into inbox/ again (as `health` says): the job takes the name, the old folder is
    # moved aside; the name is a known job's now, not said (audit AK 2: the live job's folder was).
    shutil.rmtree(r.root / "quarantine" / "U2-1")
    r.order("U2", extra="blocked: true\n")
    r.run(until=lambda: r.ledger.get_job("U2-1") is not None and r.stage("U2-1") is Stage.HELD, steps=10)
    assert (r.root / "quarantine" / "U2-1").is_dir()
    assert engine.job_folders_unknown() == ["quarantine/U0-1"]


def test_another_orders_manifest_never_takes_over_a_job_id(rig: Rig) -> None:
    """Audit O: a manifest of order "X" naming job id B1-1 (order B1's, blocked) replaced B1-1's
    order, product, quantity and artwork; with reprint: true it printed a delivered job of another
    order under the new order's facts. A job id names one job: such a manifest is refused."""
    r = rig
    held = r.order("B1", extra="blocked: true\n")
    delivered = r.order("D1")
    r.run(until=lambda: r.stage(held) is Stage.HELD and r.stage(delivered) is Stage.DONE, steps=10)
    assert r.take_prints() == ["D1_D1-1_bc-85x55_x1.pdf"]
    before = r.statuses(held)
    make_pdf(r.inbox / "x.pdf", pages=CARD)
    make_pdf(r.inbox / "x2.pdf", pages=CARD)
    make_pdf(r.inbox / "new.pdf", pages=CARD)
    (r.inbox / "X.yaml").write_text(
        'order_id: "X"\nreprint: true\njobs:\n'
        '  - {job_id: "B1-1", product: poster, quantity: 99, artwork: [x.pdf]}\n'
        '  - {job_id: "D1-1", product: poster, quantity: 99, artwork: [x2.pdf]}\n'
        '  - {job_id: "X-new", product: bc-85x55, quantity: 1, artwork: [new.pdf]}\n'
    )
    r.run(until=done(r, "X-new"), steps=10)
    assert r.take_prints() == ["X_X-new_bc-85x55_x1.pdf"]  # the order's own new job goes on
    for job_id, order_id in ((held, "B1"), (delivered, "D1")):
        job = r.job(job_id)
        assert (job.order_id, job.product, job.quantity) == (order_id, "bc-85x55", 1)
    assert r.statuses(held) == before and r.stage(held) is Stage.HELD
    [refused] = list((r.root / "failed").iterdir())
    error = (refused / "ERROR.txt").read_text()
    assert "job id B1-1 belongs to order B1 (taken at " in error and "now OutputCreated" in error
    assert "job id D1-1 belongs to order D1" in error and "now InHotFolder" in error
    assert 'give the job another job_id (or leave job_id out: it then defaults to "X-<n>"' in error
    assert "without X-new, together with its artwork (moved here, into artwork/: x.pdf, x2.pdf)." in error
    assert sorted(p.name for p in (refused / "artwork").iterdir()) == ["x.pdf", "x2.pdf"]


def _refused_with_artwork_in_folders(r: Rig) -> bytes:
    """Two delivered jobs, then a manifest of another order naming them, with artwork of one file
    name in two folders (a/x.pdf, b/x.pdf): refused. Returns a/x.pdf's bytes."""
    for job_id in ("S1", "S2"):
        r.order(job_id)
    r.run(until=lambda: r.stage("S1-1") is Stage.DONE and r.stage("S2-1") is Stage.DONE, steps=10)
    r.take_prints()
    for sub, pages in (("a", CARD), ("b", [*CARD, *CARD])):
        (r.inbox / sub).mkdir()
        make_pdf(r.inbox / sub / "x.pdf", pages=pages)
    first = (r.inbox / "a" / "x.pdf").read_bytes()
    (r.inbox / "Y.yaml").write_text(
        'order_id: "Y"\njobs:\n'
        '  - {job_id: "S1-1", product: bc-85x55, quantity: 1, artwork: [a/x.pdf]}\n'
        '  - {job_id: "S2-1", product: bc-85x55, quantity: 1, artwork: [b/x.pdf]}\n'
    )
    return first


def _kept_artwork(refused: Path) -> list[str]:
    return sorted(p.relative_to(refused / "artwork").as_posix() for p in (refused / "artwork").rglob("*.pdf"))


def test_a_refused_manifests_artwork_keeps_the_path_the_manifest_names_it_by(rig: Rig) -> None:
    """Two refused jobs' artwork of one file name (a/x.pdf, b/x.pdf): artwork/ held x.pdf and
    x.pdf-2, and ERROR.txt listed "x.pdf" once. Each file keeps the path the manifest names it by,
    so that the manifest sent again with artwork/'s contents beside it finds them."""
    r = rig
    first = _refused_with_artwork_in_folders(r)
    refused = r.root / "failed" / "Y.yaml"
    r.run(until=refused.exists, steps=10)
    error = " ".join((refused / "ERROR.txt").read_text().split())
    assert "together with its artwork (moved here, into artwork/: a/x.pdf, b/x.pdf)." in error, error
    assert _kept_artwork(refused) == ["a/x.pdf", "b/x.pdf"]
    assert (refused / "artwork" / "a" / "x.pdf").read_bytes() == first
    assert not [p for p in r.inbox.rglob("*") if p.is_file()]
    assert r.take_prints() == []
    # The folders they came from, emptied, go once quiet (they stayed in inbox/, empty, for good).
    r.run(steps=4, dt=1.0)
    assert os.listdir(r.inbox) == []


def test_a_kill_while_artwork_in_folders_goes_into_a_refusal_puts_it_back_where_it_was(rig: Rig) -> None:
    """Killed after the first file went into the refusal's hidden folder (the manifest not yet):
    the start puts the file back at its path in inbox/ (it went to inbox/x.pdf, where the manifest,
    refused again, did not find it), and the refusal is made again, whole."""
    r = rig
    first = _refused_with_artwork_in_folders(r)
    life_until_killed(r, REFUSAL_CRASH_POINTS["after the artwork moved"])
    assert [p.name for p in (r.root / "failed").iterdir() if p.name.startswith(".")], "not killed in the refusal"
    r.start()
    refused = r.root / "failed" / "Y.yaml"
    r.run(until=lambda: (refused / "Y.yaml").is_file(), steps=10)
    r.run(steps=3)
    assert _failed_folders(r) == ["Y.yaml"]
    assert _kept_artwork(refused) == ["a/x.pdf", "b/x.pdf"]
    assert (refused / "artwork" / "a" / "x.pdf").read_bytes() == first
    assert not [p for p in r.inbox.rglob("*") if p.is_file()]


def test_a_drop_file_that_is_a_symbolic_link_is_refused_not_followed(rig: Rig) -> None:
    """Audit P: a RELEASE linked to any file the daemon can read released the job and copied that
    file's first lines into STATUS.txt and the history as the operator's name and note."""
    r = rig
    job_id = r.order("L1", extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    secret = r.tmp / "secret.txt"
    secret.write_text("SECRET-LINE-1\nsecret line 2\n")
    folder = r.root / "quarantine" / job_id
    (folder / "RELEASE").symlink_to(secret)
    r.engine.hint(folder / "RELEASE")  # inotify's IN_CREATE of the link
    r.run(until=lambda: "symbolic link" in (folder / "STATUS.txt").read_text(), steps=10)
    status = (folder / "STATUS.txt").read_text()
    assert "RELEASE refused: RELEASE is a symbolic link, not a file" in status
    assert "SECRET" not in status and "secret line" not in status
    job = r.job(job_id)
    assert job.blocked and r.stage(job_id) is Stage.HELD
    assert not any("SECRET" in f"{e.by} {e.detail} {e.removed_by} {e.removed_note}" for e in job.history)
    assert not os.path.lexists(folder / "RELEASE")  # consumed into history/
    assert secret.read_text().startswith("SECRET")  # the target is untouched


def test_a_drop_file_put_beside_the_job_folders_is_renamed_to_say_it_did_nothing(rig: Rig) -> None:
    """Audit AL 4: RELEASE.txt dropped into quarantine/ itself (RETRY into failed/ itself) names no
    job: it stayed there, looking as if it were waiting to be acted on, with no word anywhere."""
    r = rig
    job_id = r.order("M1", extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    release = r.root / "quarantine" / "RELEASE.txt"
    release.write_text("anna\nplease print\n")
    retry = r.root / "failed" / "retry"
    retry.write_text("")
    with capture_logs() as logs:
        r.run(until=lambda: not release.exists() and not retry.exists(), steps=10)
    answer = r.root / "quarantine" / "NOT USED - RELEASE.txt - put it into a job's folder.txt"
    assert answer.read_text() == "anna\nplease print\n"
    assert (r.root / "failed" / "NOT USED - retry - put it into a job's folder.txt").is_file()
    said = [e for e in logs if e["event"] == "operator.drop_outside_job_folder"]
    assert len(said) == 2 and "drop it into the folder of the job it is for (quarantine/<job-id>/)" in str(said)
    assert r.stage(job_id) is Stage.HELD and r.job(job_id).blocked  # released nothing
    r.run(steps=3)  # the answer is not itself taken as a drop file
    assert answer.is_file() and r.stage(job_id) is Stage.HELD
    # The same mistake again: a second answer, still a .txt (it was "....txt-2", which Windows
    # does not open as text).
    release.write_text("anna\n")
    r.run(until=lambda: not release.exists(), steps=10)
    assert (r.root / "quarantine" / "NOT USED - RELEASE.txt - put it into a job's folder-2.txt").is_file()


@pytest.mark.parametrize(
    ("name", "original"),
    [
        ("NOT USED - RELEASE - put it into a job's folder.txt", "RELEASE"),
        ("NOT USED - Release (2).txt - put it into a job's folder-2.txt", "Release (2).txt"),
        ("NOT USED - RELEASE - this folder is no job's.txt", "RELEASE"),
    ],
)
def test_a_drop_file_renamed_not_used_then_moved_into_a_job_folder_is_told_its_old_name(
    rig: Rig, name: str, original: str
) -> None:
    """Audit BE D2: "NOT USED - RELEASE - put it into a job's folder.txt" (the daemon's name for a
    RELEASE put beside the job folders) moved into the job's folder got the answer for any unknown
    file, not README's "rename it RELEASE": the name's reason was read as part of the drop file's."""
    r = rig
    job_id = r.order("M2", extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    (r.root / "quarantine" / job_id / name).write_text("anna\n")
    r.engine.hint(r.root / "quarantine" / job_id / name)
    status = r.root / "quarantine" / job_id / "STATUS.txt"
    r.run(until=lambda: "rename it" in status.read_text(), steps=10)
    said = " ".join(status.read_text().split())
    assert f"to act here, rename it {original} " in said + " ", said
    assert r.stage(job_id) is Stage.HELD and r.job(job_id).blocked


def test_a_pdf_put_beside_the_job_folders_is_renamed_to_say_where_it_goes(rig: Rig) -> None:
    """Audit AL D4: a corrected PDF dropped into quarantine/ (or failed/) itself, beside the job
    folders, was left there without a word, as if it had been taken. It is renamed to say so, as a
    drop file there is, and logged; the renamed file is then left alone."""
    r = rig
    job_id = r.order("M3", extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    pdf = r.root / "quarantine" / f"{job_id} corrected.pdf"
    make_pdf(pdf, pages=CARD)
    content = pdf.read_bytes()
    with capture_logs() as logs:
        r.run(until=lambda: not pdf.exists(), steps=10)
    answer = (
        r.root
        / "quarantine"
        / f"NOT USED - {job_id} corrected.pdf - put it into the replace folder of the job it is for.pdf"
    )
    assert answer.read_bytes() == content
    said = [e for e in logs if e["event"] == "operator.drop_outside_job_folder"]
    assert len(said) == 1 and "(quarantine/<job-id>/replace/)" in said[0]["reason"], said
    r.run(steps=3)
    assert answer.is_file() and len(list((r.root / "quarantine").glob("NOT USED*"))) == 1
    assert "ArtworkUploaded" not in r.statuses(job_id) and r.stage(job_id) is Stage.HELD


def test_a_drop_file_in_a_job_folder_renamed_by_hand_is_answered_naming_the_job(rig: Rig) -> None:
    """Audit AL 3: a RETRY (here RELEASE) in a job folder an operator renamed ("M2-1 check") was
    answered "this folder holds a file the daemon refused, not a job" (in failed/), or not at all
    (in quarantine/). It says whose folder it is and how to act on the job."""
    r = rig
    job_id = r.order("M2", extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    renamed = r.root / "quarantine" / f"{job_id} check"
    (r.root / "quarantine" / job_id).rename(renamed)
    (renamed / "RELEASE.txt").write_text("anna\n")
    r.engine.hint(renamed / "RELEASE.txt")
    r.run(until=lambda: not (renamed / "RELEASE.txt").exists(), steps=10)
    status = (renamed / "STATUS.txt").read_text()
    assert "RELEASE.txt was not acted on (kept as history/" in status
    # Said before the usual "What you can do now" (audit CE 2: it came last, below "Drop RELEASE here").
    assert status.index("was not acted on") < status.index("What you can do now"), status
    assert f"this is job {job_id}'s folder under another name" in status
    assert f"rename this folder back to {job_id}, then drop RELEASE.txt again" in status
    # Audit (operators at scale): below it, "What you can do now" still said "Drop a file named
    # RELEASE here", which had just done nothing.
    what_now = status[status.index("What you can do now") :]
    assert "RELEASE here" not in what_now and "REJECT here" not in what_now, what_now
    assert f"rename this folder back to {job_id}" in what_now
    assert r.job(job_id).blocked
    renamed.rename(r.root / "quarantine" / job_id)  # the advice, followed
    (r.root / "quarantine" / job_id / "RELEASE.txt").write_text("anna\n")
    r.run(until=done(rig, job_id), steps=10)
    assert r.take_prints() == ["M2_M2-1_bc-85x55_x1.pdf"]


def test_a_job_folder_dragged_into_the_inbox_is_put_back_where_the_job_waits(rig: Rig) -> None:
    """Audit AL 2: a job's folder dragged from quarantine/ (or failed/) into inbox/, as if that tried
    it again: its manifest copy was taken as the manifest sent again, and the job waited an hour
    for artwork "beside" it (it lay in artwork/), then failed with orphan texts naming other jobs."""
    r = rig
    job_id = r.order("M3", extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    folder = r.root / "quarantine" / job_id
    dragged = r.inbox / job_id
    folder.rename(dragged)  # a file explorer's move on the same share: one rename
    with capture_logs() as logs:
        r.run(until=folder.is_dir, steps=10)
    assert not dragged.exists() and (folder / "artwork" / "M3.pdf").is_file()
    assert r.stage(job_id) is Stage.HELD and r.job(job_id).blocked
    assert "ArtworkUploaded" not in r.statuses(job_id)
    r.run(steps=2)
    status = (folder / "STATUS.txt").read_text()
    assert "a job is not tried again through inbox/, so the daemon put it back here. Drop RELEASE here" in status
    assert any(e["event"] == "inbox.job_folder_put_back" for e in logs)
    (folder / "RELEASE").write_text("anna\n")
    r.run(until=done(rig, job_id), steps=10)
    assert r.take_prints() == ["M3_M3-1_bc-85x55_x1.pdf"]


def _refused_copy(r: Rig, order_id: str) -> tuple[str, Path, Path]:
    """A blocked job in quarantine/ and a copy of its folder put into inbox/, refused into
    failed/: (job id, the job's folder, the copy's folder)."""
    job_id = r.order(order_id, extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    folder = r.root / "quarantine" / job_id
    shutil.copytree(folder, r.tmp / "copy")
    (r.tmp / "copy").rename(r.inbox / job_id)
    r.run(until=lambda: not (r.inbox / job_id).exists(), steps=10)
    return job_id, folder, r.root / "failed" / f"{job_id} (copy, not used)"


def test_a_work_folder_dragged_into_the_inbox_is_put_back_and_the_job_goes_on(rig: Rig) -> None:
    """Audit AQ 2: a job's folder taken out of work/ (waiting for its next copy attempt) into
    inbox/ was taken as its manifest sent again: the job failed "artwork missing", and the folder's
    files stayed in inbox/."""
    r = rig
    shutil.rmtree(r.hot)
    job_id = r.order("WB")
    r.run(until=lambda: r.stage(job_id) is Stage.RETRY, steps=10)
    folder = r.root / "work" / job_id
    folder.rename(r.inbox / job_id)
    r.run(until=folder.is_dir, steps=10)
    assert not (r.inbox / job_id).exists() and "ArtworkUploaded" not in r.statuses(job_id)
    r.run(steps=2)
    assert "The job goes on by itself" in (folder / "STATUS.txt").read_text()
    r.hot.mkdir()
    r.run(until=done(r, job_id), steps=20, dt=5)
    assert r.take_prints() == ["WB_WB-1_bc-85x55_x1.pdf"]


@pytest.mark.parametrize("seen_by", ["event", "scan"])
def test_a_job_folder_dragged_into_another_job_folder_is_put_back(rig: Rig, seen_by: str) -> None:
    """Audit (operators at scale): quarantine/NA-1 dragged into quarantine/NB-1/ (a slip of the mouse
    in Explorer): a RELEASE dropped into it was never answered, and when NB-1 was released, NA-1's
    folder went along into done/NB-1/. It is put back where its job is, and acts there."""
    r = rig
    inner, inner_dir = _held(r, "NA")
    outer, outer_dir = _held(r, "NB")
    moved = outer_dir / inner
    os.replace(inner_dir, moved)
    (moved / "RELEASE").write_text("pat\n")
    if seen_by == "event":
        r.engine.hint(moved)
    r.run(until=lambda: r.stage(inner) is Stage.DONE, steps=20)
    assert r.take_prints() == ["NA_NA-1_bc-85x55_x1.pdf"]
    assert not moved.exists() and (r.root / "done" / inner).is_dir()
    status = (r.root / "done" / inner / "STATUS.txt").read_text()
    assert f"this folder was found inside quarantine/{outer}/ (moved there by hand?)" in status
    assert r.stage(outer) is Stage.HELD and r.job(outer).blocked
    # A folder of the operator's own in a job's folder is left alone; so is a copy of a job's
    # folder whose own folder retention removed (it stays removed).
    (outer_dir / "proofs").mkdir()
    r.engine.hint(outer_dir / "proofs")
    shutil.copytree(r.root / "done" / inner, outer_dir / "old")
    shutil.rmtree(r.root / "done" / inner)
    with r.ledger.transaction():
        r.ledger.update_job(inner, r.clock.now(), stage=Stage.PURGED)
    r.engine.hint(outer_dir / "old")
    r.run(steps=3)
    assert (outer_dir / "proofs").is_dir() and (outer_dir / "old").is_dir()
    assert not (r.root / "done" / inner).exists()


def test_a_copy_of_a_delivered_job_folder_in_the_inbox_is_refused_at_once_and_whole(rig: Rig) -> None:
    """Audit (operators at scale): done/<job> copied into inbox/, as if that printed it again: its
    manifest was refused as one for a delivered job, the rest of the folder waited in inbox/ for
    artwork_timeout_seconds, then went to failed/ with an ERROR.txt that offered its artwork to
    other orders' jobs of the same file name. Now: refused at once, whole, saying how to reprint."""
    r = rig
    job_id = r.order("DC")
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["DC_DC-1_bc-85x55_x1.pdf"]
    shutil.copytree(r.root / "done" / job_id, r.tmp / "copy")
    (r.tmp / "copy").rename(r.inbox / job_id)
    copy = r.root / "failed" / f"{job_id} (copy, not used)"
    r.run(until=copy.is_dir, steps=5)
    r.run(steps=3)
    assert not (r.inbox / job_id).exists()  # nothing left behind to wait for its timeout
    error = (copy / "ERROR.txt").read_text()
    assert f"this folder is a copy of job {job_id}'s folder (its STATUS.txt says so), not a new order" in error
    assert "the job is finished (InHotFolder) in done/" in error
    assert "send its manifest with reprint: true together with its artwork" in error
    assert (copy / "artwork" / "DC.pdf").is_file() and not (copy / "replace").exists()
    assert r.take_prints() == [] and r.stage(job_id) is Stage.DONE
    assert r.statuses(job_id).count("Ordered") == 1
    # White-box audit DO 2: the copy fixed as its ERROR.txt said (reprint: true, the artwork beside
    # the manifest) and put back was refused the same way, again and again: its STATUS.txt, left in
    # it, made it a copy. The fix says so; done as it says, it prints.
    assert "a folder holding the job's STATUS.txt is taken for a copy of the job's folder again" in error
    order = r.tmp / "again"
    order.mkdir()
    (order / "manifest.yaml").write_text((copy / "manifest.yaml").read_text() + "reprint: true\n")
    shutil.copy(copy / "artwork" / "DC.pdf", order / "DC.pdf")
    order.rename(r.inbox / "again")
    r.run(until=lambda: r.statuses(job_id).count("InHotFolder") == 2, steps=20)
    assert r.take_prints() == ["DC_DC-1_bc-85x55_x1.pdf"]


def test_a_copy_of_a_waiting_job_folder_in_the_inbox_is_refused_at_once(rig: Rig) -> None:
    """The copy of a blocked job's folder (the job's own folder still in quarantine/) is no new
    order: refused at once with what to do, the job untouched."""
    r = rig
    job_id, folder, copy = _refused_copy(r, "M4")
    assert copy.name == f"{job_id} (copy, not used)"  # never under the job's own name
    error = (copy / "ERROR.txt").read_text()
    assert f"this folder is a copy of job {job_id}'s folder (its STATUS.txt says so), not a new order" in error
    assert f"drop RELEASE into quarantine/{job_id}/" in error
    assert r.stage(job_id) is Stage.HELD and r.statuses(job_id).count("Ordered") == 1
    assert "ArtworkUploaded" not in r.statuses(job_id)
    assert not (copy / "replace").exists() and not (r.root / "failed" / job_id).exists()
    # Audit AM 1, 3: a PDF put into the copy's replace/ was left unanswered, and after a restart
    # that lost track of the job's folder, the copy became the job's folder and the PDF its artwork.
    (copy / "replace").mkdir()
    make_pdf(copy / "replace" / "M4.pdf", pages=[(90.5, 61.0)] * 2)
    r.engine.hint(copy / "replace" / "M4.pdf")
    r.run(until=lambda: not (copy / "replace" / "M4.pdf").exists(), steps=10)
    status = (copy / "STATUS.txt").read_text()
    assert "M4.pdf was not acted on (kept as history/" in status
    assert f"this is a copy of job {job_id}'s folder, and the daemon knows the job's folder as quarantine/" in status
    assert f"To act on the job, put M4.pdf into quarantine/{job_id}/replace/." in status  # (audit AO 2)
    (copy / "replace").mkdir(exist_ok=True)
    make_pdf(copy / "replace" / "M4.pdf", pages=[(90.5, 61.0)] * 2)
    folder.rename(r.inbox / job_id)  # the daemon stopped: the real folder dragged into the inbox
    r.start()
    r.run(until=folder.is_dir, steps=10)
    r.run(steps=3)
    assert r.stage(job_id) is Stage.HELD and "ArtworkUploaded" not in r.statuses(job_id)
    assert not (copy / "replace" / "M4.pdf").exists()  # answered, as the first one, not taken
    assert r.job(job_id).folder == f"quarantine/{job_id}"


def _failed_for_missing_artwork(r: Rig, order_id: str) -> str:
    (r.inbox / f"{order_id}.yaml").write_text(
        f'order_id: "{order_id}"\nproduct: bc-85x55\nquantity: 1\nartwork: [{order_id}.pdf]\n'
    )
    job_id = f"{order_id}-1"
    r.run(until=lambda: r.stage(job_id) is Stage.AWAITING, steps=5)
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=5, dt=700)  # past artwork_timeout_seconds
    assert r.statuses(job_id)[-1] == "ValidationFailed"
    return job_id


def test_a_skipped_job_whose_artwork_came_late_keeps_no_error(rig: Rig) -> None:
    """Audit (manifests) 3: failed for missing artwork, then its artwork came and the job finished
    without a hot folder (CopyToHotFolderSkipped): `show` still said "Problem: artwork missing" and
    its JSON kept the error; a delivered one lost it."""
    r = rig
    r.write_routes([{"to": "skip"}])
    r.config = load_config(r.config_path)
    r.start()
    job_id = _failed_for_missing_artwork(r, "SK")
    assert r.job(job_id).error and "missing" in r.job(job_id).error
    make_pdf(r.inbox / "SK.pdf", pages=CARD)
    r.run(until=done(r, job_id), steps=20, dt=1.0)  # (held the window first: white-box audit CN 1)
    assert r.statuses(job_id)[-1] == "CopyToHotFolderSkipped"
    assert r.job(job_id).error is None
    assert r.take_prints() == []


def test_a_retry_of_a_job_failed_for_missing_artwork_records_awaiting_data(rig: Rig) -> None:
    """Audit AK 6: after a RETRY the job waited for its artwork again as RecreationRequested, not
    listed by `jobs --status AwaitingData` (SPEC 6: referenced artwork not there yet)."""
    r = rig
    job_id = _failed_for_missing_artwork(r, "RA")
    (r.root / "failed" / job_id / "RETRY").write_text("tom\n")
    r.run(until=lambda: r.stage(job_id) is Stage.AWAITING, steps=5)
    assert r.statuses(job_id)[-2:] == ["RecreationRequested", "AwaitingData"]
    assert r.job(job_id).history[-1].detail == "waiting for RA.pdf"
    make_pdf(r.inbox / "RA.pdf", pages=CARD)
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["RA_RA-1_bc-85x55_x1.pdf"]


def test_missing_artwork_that_arrives_after_the_job_failed_is_in_the_history(rig: Rig) -> None:
    """Audit AK 7a: the job ran again, its history going from "artwork missing" straight to the
    next check, with nothing saying why."""
    r = rig
    job_id = _failed_for_missing_artwork(r, "LA")
    make_pdf(r.inbox / "LA.pdf", pages=CARD)
    r.run(until=done(r, job_id), steps=20)  # (held a moment first: its order came long before it)
    statuses = r.statuses(job_id)
    again = statuses.index("RecreationRequested")
    assert statuses[again - 1] == "ValidationFailed" and statuses[again + 1] == "ValidationFinished"
    entry = r.job(job_id).history[again]
    assert entry.by == "system" and entry.detail == "the missing artwork arrived: LA.pdf"
    assert r.take_prints() == ["LA_LA-1_bc-85x55_x1.pdf"]


def test_the_way_to_stop_a_scheduled_order_that_the_reject_refusal_gives_works(rig: Rig) -> None:
    """Audit AN 3: `reject` of a FutureOrder (not blocked, not failed: SPEC 3 rejects only those)
    gave no way out. The refusal says how; followed, the order is rejected and never printed."""
    r = rig
    job_id = r.order("FU", extra='process_after: "2099-12-31T23:00:00+00:00"\n')
    r.run(until=lambda: r.stage(job_id) is Stage.FUTURE, steps=10)
    refused = r.engine.apply(job_id, Action.REJECT, by="carol", note="cancelled")
    assert not refused.ok
    assert "To stop a scheduled order, send its manifest again with blocked: true (and its artwork)" in (
        refused.message
    )
    r.order("FU", extra='process_after: "2099-12-31T23:00:00+00:00"\nblocked: true\n')
    r.run(until=lambda: r.job(job_id).blocked, steps=10)
    assert r.engine.apply(job_id, Action.REJECT, by="carol", note="cancelled").ok
    r.run(steps=3)
    assert r.stage(job_id) is Stage.REJECTED and r.take_prints() == []


def test_artwork_only_waiting_its_turn_is_not_said_to_be_still_being_written(rig: Rig) -> None:
    """Audit AN 2: with a backlog of 2,000 orders at start, 121 jobs got a permanent "AwaitingData
    waiting for ... to be complete (still being written)" for artwork that had not changed for
    seconds, only not taken yet. That entry is for artwork the tracker saw change lately."""
    r = rig
    (r.inbox / "BL.yaml").write_text('order_id: "BL"\nproduct: bc-85x55\nquantity: 1\nartwork: [BL.pdf]\n')
    r.run(until=lambda: r.stage("BL-1") is Stage.AWAITING, steps=5)
    art = make_pdf(r.inbox / "BL.pdf", pages=CARD)
    r.engine.tracker.track(art, activity=True)  # seen, as a scan sees it...
    r.clock.advance(3.0)  # ... unchanged since, its turn not come yet
    r.engine._arriving["BL-1"] = r.clock.monotonic() - 1
    r.engine._note_arriving()
    assert r.statuses("BL-1").count("AwaitingData") == 1  # the intake's "waiting for BL.pdf" only
    r.engine.tracker.track(art, activity=True)  # changed just now: being written
    r.engine._arriving["BL-1"] = r.clock.monotonic() - 1
    r.engine._note_arriving()
    assert r.job("BL-1").history[-1].detail == "waiting for BL.pdf to be complete (still being written)"
    r.run(until=done(r, "BL-1"), steps=10)


def test_artwork_a_manifest_names_is_taken_in_its_round_not_behind_the_backlog(rig: Rig) -> None:
    """A backlog at start: a scan's slice found an order's manifest before its PDF. The PDF, tracked
    by the manifest's claim, was taken in its turn behind the whole backlog, so nearly every job
    waited for its artwork (10,000 orders waiting at start caught up at a third of a burst's speed,
    the first delivery late). It is taken in the manifest's round, once the round's manifests are
    all in."""
    r = rig
    r.clock._now = datetime.now(UTC) + timedelta(minutes=1)  # the files came a minute before
    job_id = r.order("NB")
    r.engine.tracker.track(r.inbox / "NB.yaml", activity=False)
    backlog = [r.inbox / f"waiting{i}.pdf" for i in range(3)]  # found before its PDF
    for path in backlog:
        make_pdf(path, pages=CARD)
        r.engine.tracker.track(path, activity=False)
    r.engine._take_stable(limit=1)  # a round of one file: the manifest
    assert r.stage(job_id) is Stage.PROCESS
    assert all(path in r.engine.tracker for path in backlog)
    r.run(until=done(r, job_id), steps=3)
    assert r.statuses(job_id) == [
        "Ordered",
        "ValidationFinished",
        "OutputCreationStarted",
        "OutputCreated",
        "InHotFolder",
    ]


def test_a_delivered_job_folder_comes_into_done_with_its_status_txt_saying_so(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STATUS.txt was rewritten at the next flush (in a queue, up to half a second after the
    delivery): `show` already named done/<job>, whose STATUS.txt still said OutputCreated (seen by
    an end-to-end test reading it right after). It is written before the folder moves."""
    r = rig
    monkeypatch.setattr(r.engine, "flush_status", lambda **_: None)
    job_id = r.order("SD")
    r.run(until=done(r, job_id), steps=5)
    status = (r.root / "done" / job_id / "STATUS.txt").read_text()
    assert "InHotFolder" in status and "indigo" in status
    assert job_id not in r.engine._dirty  # written once


def test_artwork_two_orders_of_a_round_name_is_decided_with_both_in(rig: Rig) -> None:
    """Artwork taken in its manifest's round comes after every manifest of that round, so two
    orders naming one file (found after their manifests) both wait when whose it is gets decided."""
    r = rig
    r.clock._now = datetime.now(UTC) + timedelta(minutes=1)
    make_pdf(r.inbox / "shared.pdf", pages=CARD)
    for order in ("SA", "SB"):
        (r.inbox / f"{order}.yaml").write_text(
            f'order_id: "{order}"\nproduct: bc-85x55\nquantity: 1\nartwork: [shared.pdf]\n'
        )
        r.engine.tracker.track(r.inbox / f"{order}.yaml", activity=False)
    r.engine._take_stable()
    r.run(steps=1)  # (the file is given, or set aside, at the step after its round: audit AX D1)
    assert r.stage("SA-1") is Stage.AWAITING and r.stage("SB-1") is Stage.AWAITING
    error = (r.root / "failed" / "shared.pdf" / "ERROR.txt").read_text()
    assert "jobs of several orders wait for a file of that name" in error
    assert "SA-1" in error and "SB-1" in error
    # When it came, for the operator to compare with the manifests' times: there a minute before
    # (its ctime), not when it was set aside.
    began = re.search(r"the file began to arrive about (\S+) or a little before", error)
    assert began is not None and r.clock.now() - parse_iso(began.group(1)) > timedelta(seconds=50)


def test_a_drop_in_a_copy_whose_job_folder_is_gone_says_so_and_names_the_command(rig: Rig) -> None:
    """Audit AO 3: the answer sent the operator to drop RELEASE into quarantine/<job>/, which was
    not there (moved away by hand)."""
    r = rig
    job_id, folder, copy = _refused_copy(r, "M5")
    folder.rename(r.tmp / "moved-away")
    (copy / "RELEASE").write_text("bob\n")
    r.engine.hint(copy / "RELEASE")
    r.run(until=lambda: not (copy / "RELEASE").exists(), steps=10)
    status = (copy / "STATUS.txt").read_text()
    assert (
        f"To act on the job, put the job's folder back as quarantine/{job_id}/ (it is not there: moved or removed "
        f"by hand), or use `spo-hotfolder release {job_id}`." in status
    )
    assert r.job(job_id).blocked


def test_a_cli_name_and_note_are_one_clean_line_each(rig: Rig) -> None:
    """Audit P: --note with line breaks could fake STATUS.txt's "What you can do now" paragraph."""
    r = rig
    job_id = r.order("L2", extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    result = r.engine.apply(job_id, Action.RELEASE, by="evil\nname", note="ok\nWhat you can do now:\n  Drop RELEASE")
    assert result.ok, result.message
    [blocked] = [e for e in r.job(job_id).history if e.status is JobStatus.Blocked]
    assert (blocked.removed_by, blocked.removed_note) == ("evil name", "ok What you can do now: Drop RELEASE")


def test_inbox_entries_that_are_no_files_go_to_failed_with_a_word(rig: Rig) -> None:
    """Audit M: a FIFO, a link to nothing, a link to a folder stayed in the inbox forever with no
    word to anyone; a linked manifest too when a scan (a start, polling mode) found it, not an event."""
    r = rig
    outside = r.tmp / "outside.yaml"
    outside.write_text('order_id: "Z1"\nproduct: bc-85x55\nquantity: 1\nartwork: [z.pdf]\n')
    (r.tmp / "somefolder").mkdir()
    os.mkfifo(r.inbox / "Y1.yaml")
    (r.inbox / "Y5.pdf").symlink_to(r.tmp / "gone.pdf")
    (r.inbox / "Y7").symlink_to(r.tmp / "somefolder")
    (r.inbox / "Z1.yaml").symlink_to(outside)
    errors = {name: r.root / "failed" / name / "ERROR.txt" for name in ("Y1.yaml", "Y5.pdf", "Y7", "Z1.yaml")}
    r.run(until=lambda: all(e.is_file() for e in errors.values()), steps=10)
    assert "it is a named pipe (FIFO), not a file" in errors["Y1.yaml"].read_text()
    assert "it is a symbolic link to nothing, not a file" in errors["Y5.pdf"].read_text()
    assert "it is a symbolic link to a folder, not a file" in errors["Y7"].read_text()
    assert "symbolic link" in errors["Z1.yaml"].read_text()
    assert os.listdir(r.inbox) == []
    assert outside.is_file() and (r.tmp / "somefolder").is_dir()  # the targets are untouched
    assert r.ledger.get_job("Z1-1") is None


def test_artwork_through_a_linked_folder_in_a_folder_drop_refuses_the_folder_drop(rig: Rig) -> None:
    """Audit (manifests) 4: a folder drop whose sub/ was a symbolic link to a folder outside: the
    link went to failed/sub/ (not followed: fine), and the job failed "missing: secret.pdf", with no
    word of the link. Audit 12-05 D 1: with a second job in that manifest, that one was printed,
    while `route` (and README) said the whole manifest is refused as naming an unsafe path. The
    link is now left for the manifest to decide: a bad manifest, the folder drop whole in failed/;
    a link the manifest does not name is filed away once the manifest is taken."""
    r = rig
    (r.tmp / "outside").mkdir()
    make_pdf(r.tmp / "outside" / "secret.pdf", pages=CARD)
    drop = r.tmp / "y1"
    drop.mkdir()
    (drop / "sub").symlink_to(r.tmp / "outside")
    (drop / "gone.pdf").symlink_to(r.tmp / "nothing.pdf")
    make_pdf(drop / "card.pdf", pages=CARD)
    (drop / "manifest.yaml").write_text(
        'order_id: "Y1"\njobs:\n  - {product: bc-85x55, quantity: 1, artwork: [sub/secret.pdf]}\n'
        "  - {product: bc-85x55, quantity: 1, artwork: [card.pdf]}\n"
    )
    os.replace(drop, r.inbox / "y1")
    r.run(until=lambda: (r.root / "failed" / "y1" / "ERROR.txt").is_file(), steps=20)
    error = " ".join((r.root / "failed" / "y1" / "ERROR.txt").read_text().split())
    assert "jobs[0].artwork[0]" in error and "symbolic link to a folder" in error, error
    assert sorted(p.name for p in (r.root / "failed" / "y1").iterdir()) == [
        "ERROR.txt",
        "card.pdf",
        "gone.pdf",
        "manifest.yaml",
        "sub",
    ]
    assert (r.root / "failed" / "y1" / "sub").is_symlink()
    assert r.ledger.get_job("Y1-1") is None and r.ledger.get_job("Y1-2") is None and r.take_prints() == []
    assert (r.tmp / "outside" / "secret.pdf").is_file() and not (r.root / "failed" / "sub").exists()
    # A link the manifest does not name: the job is taken, the link filed away after it.
    drop = r.tmp / "y2"
    drop.mkdir()
    (drop / "sub").symlink_to(r.tmp / "outside")
    make_pdf(drop / "card.pdf", pages=CARD)
    (drop / "manifest.yaml").write_text('order_id: "Y2"\nproduct: bc-85x55\nquantity: 1\nartwork: [card.pdf]\n')
    os.replace(drop, r.inbox / "y2")
    r.run(until=lambda: (r.root / "failed" / "sub" / "ERROR.txt").is_file(), steps=40)
    r.run(until=done(r, "Y2-1"), steps=20)
    assert r.take_prints() == ["Y2_Y2-1_bc-85x55_x1.pdf"]
    assert "it is a symbolic link to a folder, not a file" in (r.root / "failed" / "sub" / "ERROR.txt").read_text()
    assert (r.root / "failed" / "sub" / "sub").is_symlink()
    assert not (r.inbox / "y2").exists() or not any((r.inbox / "y2").iterdir())  # (removed once quiet)


def test_a_manifest_naming_a_linked_artwork_is_a_bad_manifest(rig: Rig) -> None:
    """Audit (2026-12-03, CLI 1): artwork that is a symbolic link out of the inbox was taken into a
    job (the link moved into its folder) that then failed; SPEC 5 makes an unsafe path a bad
    manifest: failed/<manifest>/ with an ERROR.txt. The link, not the manifest's, stays in the
    inbox for a corrected manifest, as any bad manifest's artwork does."""
    r = rig
    make_pdf(r.tmp / "outside.pdf", pages=CARD)
    (r.inbox / "link.pdf").symlink_to(r.tmp / "outside.pdf")
    (r.inbox / "D3.yaml").write_text('order_id: "D3"\nproduct: bc-85x55\nquantity: 1\nartwork: [link.pdf]\n')
    r.run(until=lambda: (r.root / "failed" / "D3.yaml" / "ERROR.txt").is_file(), steps=10)
    error = " ".join((r.root / "failed" / "D3.yaml" / "ERROR.txt").read_text().split())
    assert (
        'line 4: artwork[0]: "link.pdf" is a symbolic link, which the daemon does not follow (it could point at '
        "any file on the server); put the file itself there"
    ) in error, error
    assert r.ledger.get_job("D3-1") is None and r.take_prints() == []
    assert (r.tmp / "outside.pdf").is_file()
    # Unclaimed, the link goes to failed/ in its turn; its ERROR.txt said "put this file into inbox/
    # again", and the link would be refused again (audit Q): the file it points to is meant.
    orphan = r.root / "failed" / "link.pdf" / "ERROR.txt"
    r.run(until=orphan.is_file, steps=20, dt=60)
    text = " ".join(orphan.read_text().split())
    assert (
        "names it but was refused: see failed/D3.yaml/ERROR.txt; put the file this link points to into inbox/ "
        "again together with the corrected manifest"
    ) in text, text
    assert "link.pdf (now in failed/link.pdf/) is a symbolic link, not a file" in text
    assert "seconds of arrival" not in text, text
    assert "put the file link.pdf points to (a copy, not a link) into inbox/" in text


def test_a_file_set_aside_keeps_its_own_name_however_long(rig: Rig) -> None:
    """Review GI 3: a lone PDF of a 255-byte name, set aside, was renamed with its folder's
    shortened name ("L...~812e93d4.pdf"), and ERROR.txt said to put it back into inbox/ under that
    name, which its manifest does not give. The folder's name is shortened; the file keeps its own."""
    name = "L" * 251 + ".pdf"
    make_pdf(rig.inbox / name, pages=CARD)
    rig.run(until=lambda: any((rig.root / "failed").iterdir()), steps=30, dt=60)
    [folder] = list((rig.root / "failed").iterdir())
    assert len(folder.name.encode()) < 255 and sorted(os.listdir(folder)) == sorted(["ERROR.txt", name])
    assert f"put {name} back into inbox/" in " ".join((folder / "ERROR.txt").read_text().split())


class _Killed(BaseException):
    """A kill -9 at that moment (nothing after it runs)."""


@pytest.mark.parametrize("killed_at", ["first word", "first file", "second file", "full word", "rename"])
def test_files_set_aside_are_explained_even_when_the_daemon_dies_as_it_moves_them(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, killed_at: str
) -> None:
    """Review GI 1: a folder drop without a manifest, set aside into failed/<folder>/ when its time
    was up, and the daemon killed after its files were moved and before its ERROR.txt was written:
    the folder held the PDFs (and our empty temp file) with no word of why, for good; killed
    before the first file, an empty failed/<folder>/ was left (GN 3: or one with an ERROR.txt and
    no file). The folder is put together hidden, its ERROR.txt first, and renamed into place
    once whole: one a kill leaves is filed as it is at the next start (each of its files under
    an ERROR.txt), or removed when nothing was moved in yet (the files are still in the inbox)."""
    import spo_hotfolder.engine.artwork as artwork_module

    drop = rig.inbox / "u1"
    drop.mkdir()
    for name in ("a1.pdf", "a2.pdf"):
        make_pdf(drop / name, pages=CARD)
    calls: list[str] = []

    def killing(what: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(what)
            if f"{calls.count(what)} {what}" == {
                "first word": "1 word", "full word": "2 word", "first file": "1 file", "second file": "2 file",
                "rename": "1 rename",
            }[killed_at]:  # fmt: skip
                raise _Killed
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(artwork_module, "atomic_write", killing("word", artwork_module.atomic_write))
    monkeypatch.setattr(artwork_module, "move", killing("file", artwork_module.move))
    monkeypatch.setattr(artwork_module, "fsync_dir", killing("rename", artwork_module.fsync_dir))  # (just before it)
    with pytest.raises(_Killed):
        rig.run(steps=30, dt=60)
    monkeypatch.undo()
    failed = rig.root / "failed"
    assert [n for n in os.listdir(failed) if not n.startswith(".")] == []  # (nothing half made in sight)
    rig.start()  # (the restart)
    assert [n for n in os.listdir(failed) if n.startswith(".")] == []
    rig.run(until=lambda: not any(drop.glob("*.pdf")), steps=30, dt=60)
    folders = sorted(os.listdir(failed))
    files = sorted(f for folder in folders for f in os.listdir(failed / folder) if f != "ERROR.txt")
    assert files == ["a1.pdf", "a2.pdf"], folders  # (none lost, none twice)
    for folder in folders:
        text = " ".join((failed / folder / "ERROR.txt").read_text().split())
        assert "inbox/u1/" in text and "no manifest that was taken in named" in text, text
    if killed_at == "second file":  # (one part filed as it was, the rest set aside in its turn)
        assert folders == ["u1", "u1-2"] and "the daemon stopped while it moved them here" in (
            " ".join((failed / "u1" / "ERROR.txt").read_text().split())
        )
    else:
        assert folders == ["u1"]


def test_files_set_aside_named_like_our_own_survive_a_kill_as_they_are(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review GO 1: a file named "artwork" set aside, the daemon killed before its folder was
    renamed into place: the restart took the hidden folder for a refusal's (ERROR.txt and
    artwork/), moved back what was under "artwork/" (nothing: a file) and deleted the folder, the
    file with it. GO 2: files under a drop's own artwork/ folder lost that path. A folder of files
    set aside is filed as it is."""
    import spo_hotfolder.engine.artwork as artwork_module

    (rig.inbox / "artwork").write_bytes(b"%PDF-1.4 a file named artwork")
    drop = rig.inbox / "dropB"
    (drop / "artwork" / "sub").mkdir(parents=True)
    make_pdf(drop / "artwork" / "b.pdf", pages=CARD)
    make_pdf(drop / "artwork" / "sub" / "c.pdf", pages=CARD)
    real = artwork_module.fsync_dir
    dies = [0]

    def fsync_dir(path: Path) -> None:  # (just before the rename into place)
        dies[0] += 1
        if dies[0] == 2:
            raise _Killed
        real(path)

    monkeypatch.setattr(artwork_module, "fsync_dir", fsync_dir)
    for _ in range(2):  # (each of the two killed before its folder is renamed)
        dies[0] = 1
        with pytest.raises(_Killed):
            rig.run(steps=30, dt=60)
    monkeypatch.undo()
    failed = rig.root / "failed"
    assert [n for n in os.listdir(failed) if n.startswith(".")]  # (the first was filed at the rescan after)
    rig.start()  # (the restart)
    assert sorted(os.listdir(failed)) == ["artwork", "dropB"]
    assert (failed / "artwork" / "artwork").read_bytes() == b"%PDF-1.4 a file named artwork"
    assert sorted(str(p.relative_to(failed)) for p in failed.rglob("*.pdf")) == [
        "dropB/artwork/b.pdf",
        "dropB/artwork/sub/c.pdf",
    ]
    for folder in ("artwork", "dropB"):  # (killed once its full ERROR.txt was written)
        assert (
            "arrived in the inbox but no manifest that was taken in named"
            in (failed / folder / "ERROR.txt").read_text()
        )


def test_files_set_aside_named_like_our_temps_survive_a_kill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review GP 1: with watch.ignore letting dot-names in, files named like our temps
    (".order.json.7.tmp", ".ERROR.txt.9.tmp") set aside, the daemon killed before the folder was
    published: the restart took them for its own and deleted them. Ours are told by exact name."""
    import spo_hotfolder.engine.artwork as artwork_module

    rigs = rig_on(tmp_path, watch={"ignore": ["*.part"]})
    r = next(rigs)
    try:
        (r.inbox / ".order.json.7.tmp").write_bytes(b"a customer's file")
        drop = r.inbox / "drop"
        drop.mkdir()
        make_pdf(drop / "a.pdf", pages=CARD)
        for name in (".ERROR.txt.9.tmp", ".notes.yaml.3.tmp"):
            (drop / name).write_bytes(name.encode())
        real = artwork_module.atomic_write
        words = [0]

        def atomic_write(path: Path, *args: Any, **kwargs: Any) -> None:
            words[0] += 1
            if words[0] == 2:  # (the full ERROR.txt: the files are in the hidden folder)
                raise _Killed
            real(path, *args, **kwargs)

        monkeypatch.setattr(artwork_module, "atomic_write", atomic_write)
        for _ in range(2):
            words[0] = 0
            with pytest.raises(_Killed):
                r.run(steps=30, dt=60)
        monkeypatch.undo()
        r.start()
        failed = r.root / "failed"
        kept = sorted(str(p.relative_to(failed)) for p in failed.rglob("*") if p.is_file() and p.name != "ERROR.txt")
        assert kept == [
            "_order.json.7.tmp/.order.json.7.tmp",
            "drop/.ERROR.txt.9.tmp",
            "drop/.notes.yaml.3.tmp",
            "drop/a.pdf",
        ]
    finally:
        next(rigs, None)


def test_a_set_aside_folder_cut_short_with_only_empty_folders_in_it_is_removed(rig: Rig) -> None:
    """Review GQ (reasoned): killed after a sub-folder was made for a file and before the file was
    moved in, the hidden folder held ERROR.txt and an empty folder: it was filed, with no file."""
    building = rig.root / "failed" / ".spo-hotfolder-refusal.aside-4242-1.drop"
    (building / "sub").mkdir(parents=True)
    (building / "ERROR.txt").write_text("inbox/drop/ (1 file) arrived in the inbox and was set aside here")
    rig.start()
    assert os.listdir(rig.root / "failed") == []


def test_a_folder_drop_a_kill_left_half_set_aside_leaves_no_empty_folder_in_the_inbox(rig: Rig) -> None:
    """Review GR 4: a folder drop no manifest named, killed while its files were set aside: the
    restart filed what was moved, the rest was set aside in its turn, and the sub-folders the
    killed run had emptied stayed in inbox/ for good (without a kill, the emptied drop goes)."""
    drop = rig.inbox / "loose"
    (drop / "d0").mkdir(parents=True)  # (emptied by the killed run)
    (drop / "d1").mkdir()
    make_pdf(drop / "d1" / "b.pdf", pages=CARD)
    building = rig.root / "failed" / ".spo-hotfolder-refusal.aside-4242-1.loose"
    (building / "d0").mkdir(parents=True)
    make_pdf(building / "d0" / "a.pdf", pages=CARD)
    (building / "ERROR.txt").write_text("inbox/loose/ (2 files) arrived in the inbox and was set aside here")
    rig.start()
    rig.run(until=lambda: not drop.exists(), steps=40, dt=30)
    assert sorted(os.listdir(rig.root / "failed")) == ["loose", "loose-2"]
    assert os.listdir(rig.inbox) == []


def _refused_drop_that_brought(rig: Rig, order: str, error_txt: Callable[[Path], None]) -> Path:
    """A folder drop of ``order`` whose manifest is refused, brought with its own ERROR.txt (made by
    ``error_txt``): its folder in failed/, which keeps both (ours, and theirs as ERROR.txt-2)."""
    drop = rig.inbox / f"order-{order}"
    drop.mkdir()
    make_pdf(drop / "x.pdf", pages=CARD)
    error_txt(drop / "ERROR.txt")
    (drop / "manifest.yaml").write_text(f'order_id: "{order}"\nproduct: bc-85x55\nquantity: -1\nartwork: [x.pdf]\n')
    failed = rig.root / "failed" / f"order-{order}"
    rig.run(until=lambda: failed.is_dir(), steps=20)
    assert sorted(os.listdir(failed)) == ["ERROR.txt", "ERROR.txt-2", "manifest.yaml", "x.pdf"]
    return failed


def test_a_refused_folder_drop_keeps_the_error_txt_it_came_with(rig: Rig) -> None:
    """Review GQ 1: a folder drop whose manifest was refused, holding a file of its own named
    ERROR.txt (a customer's notes): ours replaced it, and the customer's file was lost."""
    failed = _refused_drop_that_brought(rig, "77", lambda path: path.write_text("CUSTOMER NOTES: print on silk"))
    assert (failed / "ERROR.txt-2").read_text() == "CUSTOMER NOTES: print on silk"
    text = " ".join((failed / "ERROR.txt").read_text().split())
    assert "could not be used" in text and "The file ERROR.txt that came in the folder is here as ERROR.txt-2." in text
    # Killed after the folder moved and before our ERROR.txt was renamed in: the next start keeps both.
    building = rig.root / "failed" / ".spo-hotfolder-refusal.4242-1.order-78"
    building.mkdir()
    (building / "manifest.yaml").write_text("order_id: [\n")
    (building / "ERROR.txt").write_text("CUSTOMER NOTES: matt")
    (building / ".spo-hotfolder-ERROR.4242.tmp").write_text("Manifest order-78/manifest.yaml could not be used")
    rig.start()
    kept = rig.root / "failed" / "order-78"
    assert sorted(os.listdir(kept)) == ["ERROR.txt", "ERROR.txt-2", "manifest.yaml"]
    assert (kept / "ERROR.txt-2").read_text() == "CUSTOMER NOTES: matt"
    assert (kept / "ERROR.txt").read_text().startswith("Manifest order-78/manifest.yaml could not be used")


def test_what_a_refused_folder_drop_leaves_is_not_said_to_come_with_a_manifest_taken_in(rig: Rig) -> None:
    """Review GR 5: a folder drop refused (its job delivered already, no reprint) whose own ERROR.txt
    stayed in its folder, set aside after artwork_timeout_seconds: its ERROR.txt said "The folder's
    manifest was taken in, and does not list these files", of a manifest refused."""
    r = rig
    job_id = r.order("GR5")
    r.run(until=done(r, job_id), steps=30)
    drop = r.inbox / "again"
    drop.mkdir()
    make_pdf(drop / "GR5.pdf", pages=CARD)
    (drop / "ERROR.txt").write_text("CUSTOMER NOTES: matt")
    (drop / "manifest.yaml").write_text('order_id: "GR5"\nproduct: bc-85x55\nquantity: 1\nartwork: [GR5.pdf]\n')

    def notes_set_aside() -> Path | None:
        for folder in (r.root / "failed").iterdir():
            if any(p.is_file() and p.read_bytes() == b"CUSTOMER NOTES: matt" for p in folder.rglob("ERROR.txt-*")):
                return folder if (folder / "ERROR.txt").exists() else None
        return None

    r.run(until=lambda: notes_set_aside() is not None and not drop.exists(), steps=40, dt=30)
    refused = r.root / "failed" / "again"
    assert "manifest.yaml" in os.listdir(refused), "the refused manifest is filed on its own"
    leftover = notes_set_aside()
    assert leftover is not None and leftover != refused
    text = " ".join((leftover / "ERROR.txt").read_text().split())
    assert "taken in, and does not list" not in text, text
    assert "no manifest that was taken in named them" in text
    assert r.take_prints() == ["GR5_GR5-1_bc-85x55_x1.pdf"]


def test_a_refused_folder_drop_keeps_a_dangling_link_named_error_txt(rig: Rig) -> None:
    """Review GR 3: a refused folder drop holding a symbolic link named ERROR.txt whose target is
    gone (`ls` shows it): the name was taken for free, and ours replaced the link."""
    failed = _refused_drop_that_brought(rig, "79", lambda path: path.symlink_to("/nonexistent/notes.txt"))
    assert str((failed / "ERROR.txt-2").readlink()) == "/nonexistent/notes.txt"
    assert "could not be used" in (failed / "ERROR.txt").read_text()


def test_a_long_name_that_is_not_utf8_keeps_its_own_bytes_in_failed(rig: Rig) -> None:
    """(review GP, observed) a 255-byte name that is not UTF-8 was moved into failed/ shortened, with a
    ~hash: it keeps its own name there, as a file set aside does (GI 3)."""
    name = b"\xe9" + b"L" * 250 + b".pdf"
    with open(bytes(rig.inbox) + b"/" + name, "wb") as fh:
        fh.write(b"%PDF-1.4 not utf-8")
    rig.run(until=lambda: not os.listdir(rig.inbox), steps=10)
    [folder] = os.listdir(bytes(rig.root / "failed"))
    assert sorted(os.listdir(bytes(rig.root / "failed") + b"/" + folder)) == [b"ERROR.txt", name]


def test_a_dot_file_set_aside_goes_to_a_folder_a_file_explorer_shows(tmp_path: Path) -> None:
    """Review GQ 4: with watch.ignore letting dot-names in, ".x.yaml.07.tmp" set aside went to
    failed/.x.yaml.07.tmp/, a folder Finder, `ls` and Samba's "hide dot files" do not show."""
    rigs = rig_on(tmp_path, watch={"ignore": ["*.part"]})
    r = next(rigs)
    try:
        (r.inbox / ".x.yaml.07.tmp").write_bytes(b"a customer's file")
        r.run(until=lambda: not os.listdir(r.inbox), steps=30, dt=60)
        assert os.listdir(r.root / "failed") == ["_x.yaml.07.tmp"]
        assert sorted(os.listdir(r.root / "failed" / "_x.yaml.07.tmp")) == [".x.yaml.07.tmp", "ERROR.txt"]
    finally:
        next(rigs, None)


def test_a_folder_emptied_of_names_that_are_not_utf8_is_no_order_taken_in(rig: Rig) -> None:
    """Review GP 2: a folder drop without a manifest holding a name that is not UTF-8 (set aside at
    once) and a good one: the good file's ERROR.txt, after its wait, said "the folder's manifest
    was taken in, and does not list these files ... this folder can be deleted": none came."""
    drop = bytes(rig.inbox / "d")
    os.mkdir(drop)  # noqa: PTH102 - a name in bytes, as a client wrote it
    with open(drop + b"/caf\xe9.pdf", "wb") as fh:
        fh.write(b"%PDF-1.4 not utf-8")
    make_pdf(rig.inbox / "d" / "good.pdf", pages=CARD)
    rig.run(until=lambda: not (rig.inbox / "d" / "good.pdf").exists(), steps=30, dt=60)
    text = " ".join(
        "\n".join(
            p.read_text() for p in (rig.root / "failed").rglob("ERROR.txt") if "good.pdf" in p.read_text()
        ).split()
    )
    assert "no manifest that the daemon took in referred to" in text, text
    assert "manifest was taken in" not in text and "can be deleted" not in text, text


def test_a_file_set_aside_is_named_where_it_is_when_its_folder_name_was_taken_meanwhile(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review GO 3: failed/shared.pdf/ made (by an operator) while the file was being set aside:
    the file went to failed/shared.pdf-2/, but ERROR.txt, STATUS.txt and the log named
    failed/shared.pdf/, and the `replace` command they gave failed."""
    import spo_hotfolder.engine.artwork as artwork_module

    r = rig
    r.clock._now = datetime.now(UTC) + timedelta(minutes=1)
    make_pdf(r.inbox / "shared.pdf", pages=CARD)
    real = artwork_module.move

    def move(src: Path, dst: Path, **kwargs: Any) -> Path:
        if src.name == "shared.pdf" and src.parent == r.inbox:
            (r.root / "failed" / "shared.pdf").mkdir()
            (r.root / "failed" / "shared.pdf" / "mine.txt").write_text("the operator's")
        return real(src, dst, **kwargs)

    monkeypatch.setattr(artwork_module, "move", move)
    for order in ("SA", "SB"):
        (r.inbox / f"{order}.yaml").write_text(
            f'order_id: "{order}"\nproduct: bc-85x55\nquantity: 1\nartwork: [shared.pdf]\n'
        )
        r.engine.tracker.track(r.inbox / f"{order}.yaml", activity=False)
    r.engine._take_stable()
    r.run(steps=1)
    kept = r.root / "failed" / "shared.pdf-2" / "shared.pdf"
    assert kept.is_file() and os.listdir(r.root / "failed" / "shared.pdf") == ["mine.txt"]
    error = " ".join((kept.parent / "ERROR.txt").read_text().split())
    assert f"spo-hotfolder replace <job id> '{kept}'" in error, error
    status = " ".join((r.root / "work" / "SA-1" / "STATUS.txt").read_text().split())
    assert "it is in failed/shared.pdf-2/shared.pdf" in status and f"replace SA-1 '{kept}'" in status, status


def test_a_cli_release_waits_for_a_reject_dropped_a_moment_before(rig: Rig) -> None:
    """Audit P: `release` from the CLI while a REJECT drop was still settling printed the job, and
    the REJECT went to done/ unanswered. A REJECT comes first, as against a dropped RELEASE."""
    r = rig
    job_id = r.order("RJ", extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    folder = r.root / "quarantine" / job_id
    (folder / "reject.txt").write_text("ann\nwrong paper\n")
    result = r.engine.apply(job_id, Action.RELEASE, by="cli", note="")
    assert not result.ok and "a REJECT file (reject.txt) is in the job's folder" in result.message
    r.run(until=lambda: r.stage(job_id) is Stage.REJECTED, steps=10)
    assert r.take_prints() == [] and r.job(job_id).status is JobStatus.Rejected


@pytest.mark.parametrize("before", [True, False])
def test_two_files_named_like_the_artwork_in_letter_case_are_not_guessed_between(rig: Rig, before: bool) -> None:
    """Audit BA 2: the manifest names Card.pdf; card.pdf (1 page) and CARD.pdf (4 pages) were both in
    the inbox: one was taken and printed, unsaid which, and the other went to failed/ as named by no
    manifest. Neither is taken: the job fails naming both, and the right one renamed is taken."""
    r = rig
    if before:
        make_pdf(r.inbox / "card.pdf", pages=CARD)
        make_pdf(r.inbox / "CARD.pdf", pages=CARD * 2)
    (r.inbox / "AM.yaml").write_text('order_id: "AM"\nproduct: bc-85x55\nquantity: 1\nartwork: [Card.pdf]\n')
    r.run(until=lambda: r.stage("AM-1") is Stage.AWAITING, steps=10)
    if not before:
        make_pdf(r.inbox / "card.pdf", pages=CARD)
        make_pdf(r.inbox / "CARD.pdf", pages=CARD * 2)
    r.run(until=lambda: r.stage("AM-1") is Stage.FAILED, steps=40, dt=300)  # artwork_timeout_seconds
    r.run(until=lambda: not (r.inbox / "card.pdf").exists(), steps=10, dt=300)
    assert r.take_prints() == []
    if before:  # the files' time ran out first: each went to failed/ saying which job waits for which name
        error = " ".join((r.root / "failed" / "card.pdf" / "ERROR.txt").read_text().split())
        assert "job AM-1 waits for 'Card.pdf', a name that differs from this file's only in letter case" in error
        # and the job's ERROR.txt says where they went (audit BB 4)
        error = " ".join((r.root / "failed" / "AM-1" / "ERROR.txt").read_text().split())
        assert (
            "went to failed/ without being taken by this job (its ERROR.txt there says why): failed/CARD.pdf/CARD.pdf, "
            "failed/card.pdf/card.pdf; move the right one into this folder's replace/ as 'Card.pdf'"
        ) in error, error
    else:  # the job's time ran out first: its ERROR.txt names both files
        error = " ".join((r.root / "failed" / "AM-1" / "ERROR.txt").read_text().split())
        assert "files named 'CARD.pdf', 'card.pdf' are there, whose names differ from it only in letter case" in error
    os.replace(r.root / "failed" / "card.pdf" / "card.pdf", r.inbox / "Card.pdf")  # the operator says which
    r.run(until=done(r, "AM-1"), steps=20)  # (held a moment first: its order came long before it)
    assert r.take_prints() == ["AM_AM-1_bc-85x55_x1.pdf"]
    assert r.job("AM-1").output_pages == 2


def test_artwork_that_came_before_its_manifest_and_went_to_failed_is_pointed_to(rig: Rig) -> None:
    """Audit BC 2: a PDF that came long before its manifest went to failed/ unclaimed; the job then
    failed "missing: late1.pdf" without a word of where the file was."""
    r = rig
    make_pdf(r.inbox / "late1.pdf", pages=CARD)
    r.run(until=lambda: (r.root / "failed" / "late1.pdf" / "late1.pdf").is_file(), steps=10, dt=300)
    (r.inbox / "L1.yaml").write_text('order_id: "L1"\nproduct: bc-85x55\nquantity: 1\nartwork: [late1.pdf]\n')
    r.run(until=lambda: r.stage("L1-1") is Stage.FAILED, steps=10, dt=300)
    error = " ".join((r.root / "failed" / "L1-1" / "ERROR.txt").read_text().split())
    assert (
        "a file of this name, or one whose name differs from it only in letter case or Unicode form, came into "
        "inbox/ and went to failed/ without being taken by this job (its ERROR.txt there says why): "
        "failed/late1.pdf/late1.pdf; move the right one into this folder's replace/ as 'late1.pdf'"
    ) in error, error
    os.replace(r.root / "failed" / "late1.pdf" / "late1.pdf", r.root / "failed" / "L1-1" / "replace" / "late1.pdf")
    r.run(until=done(r, "L1-1"), steps=10)
    assert r.take_prints() == ["L1_L1-1_bc-85x55_x1.pdf"]


def test_artwork_that_names_a_folder_refuses_the_manifest_at_once(rig: Rig) -> None:
    """Audit O: it waited as "still being written", then failed as "missing", the folder being there."""
    r = rig
    folder = r.inbox / "pdir"
    (folder / "sub").mkdir(parents=True)
    make_pdf(folder / "sub" / "a.pdf", pages=CARD)
    (folder / "manifest.yaml").write_text('order_id: "PD"\nproduct: bc-85x55\nquantity: 1\nartwork: [sub]\n')
    error = r.root / "failed" / "pdir" / "ERROR.txt"
    r.run(until=error.is_file, steps=10)
    assert (
        'line 4: artwork[0]: "sub" is a folder, not a file; list the PDF files in it (e.g. sub/front.pdf)'
        in error.read_text()
    )
    assert r.ledger.get_job("PD-1") is None and (r.root / "failed" / "pdir" / "sub" / "a.pdf").is_file()


def test_a_stale_file_named_alike_is_not_taken_for_the_file_of_the_very_name_on_its_way(rig: Rig) -> None:
    """Audit E 1: a stale CASE9.pdf lay in inbox/; the manifest named case9.pdf, which rsync was
    still uploading (or which came 1.5-3 s later): the stale file was taken at once and printed, the
    real one left over as unclaimed. The file of the very name gets its while to come first."""
    r = rig
    make_pdf(r.inbox / "CASE9.pdf", pages=CARD)  # another order's, unclaimed
    r.run(until=lambda: (r.inbox / "CASE9.pdf") in r.engine._orphans, steps=10)
    upload = r.inbox / ".case9.pdf.Ab12Cd"  # rsync's temporary name
    make_pdf(upload, pages=CARD, content=b"0 0 1 rg 10 10 50 50 re f")
    real = upload.read_bytes()
    (r.inbox / "C9.yaml").write_text('order_id: "C9"\nproduct: bc-85x55\nquantity: 1\nartwork: [case9.pdf]\n')
    r.run(until=lambda: r.stage("C9-1") is Stage.AWAITING, steps=10, dt=0.5)
    r.run(steps=30, dt=0.5)  # the upload takes its time, past the while for the very name
    assert r.stage("C9-1") is Stage.AWAITING and (r.inbox / "CASE9.pdf").is_file()
    os.replace(upload, r.inbox / "case9.pdf")
    r.engine.hint(r.inbox / "case9.pdf", moved_in=True)
    r.run(until=done(r, "C9-1"), steps=10, dt=0.5)
    assert (r.root / "done" / "C9-1" / "artwork" / "case9.pdf").read_bytes() == real
    assert (r.inbox / "CASE9.pdf").is_file()  # still unclaimed
    # Without an upload: the file of the very name that comes a few seconds after the manifest.
    (r.inbox / "K1.yaml").write_text('order_id: "K1"\nproduct: bc-85x55\nquantity: 1\nartwork: [case9.pdf]\n')
    r.run(until=lambda: r.stage("K1-1") is Stage.AWAITING, steps=10, dt=0.5)
    r.run(steps=6, dt=0.5)
    (r.tmp / "case9.pdf").write_bytes(real)
    os.replace(r.tmp / "case9.pdf", r.inbox / "case9.pdf")
    r.run(until=done(r, "K1-1"), steps=10, dt=0.5)
    assert (r.root / "done" / "K1-1" / "artwork" / "case9.pdf").read_bytes() == real
    assert (r.inbox / "CASE9.pdf").is_file()


def test_artwork_named_in_another_unicode_form_or_letter_case_is_taken(rig: Rig) -> None:
    """Audit M: the manifest's "café.pdf" uploaded from a Mac (NFD: e + combining accent), or as
    CASE1.PDF, failed as "missing" after an hour beside a file with the same-looking name, which
    then went to failed/ as "no manifest named it". A person calls it the same file: it is taken,
    under the manifest's name, whether it came before or after its manifest."""
    import unicodedata

    r = rig
    nfc, nfd = "caf\u00e9.pdf", unicodedata.normalize("NFD", "caf\u00e9.pdf")
    make_pdf(r.inbox / nfd, pages=CARD)  # before its manifest
    (r.inbox / "U1.yaml").write_text(f'order_id: "U1"\nproduct: bc-85x55\nquantity: 1\nartwork: ["{nfc}"]\n')
    (r.inbox / "C1.yaml").write_text('order_id: "C1"\nproduct: bc-85x55\nquantity: 1\nartwork: [CASE1.pdf]\n')
    # (taken once the file of its very name has had its while to come: a stale file named alike
    # printed instead of the one on its way, audit E 1)
    r.run(until=lambda: r.stage("C1-1") is Stage.AWAITING and r.stage("U1-1") is Stage.DONE, steps=20)
    make_pdf(r.inbox / "CASE1.PDF", pages=CARD)  # after its manifest
    r.run(until=done(r, "C1-1"), steps=10)
    assert (r.root / "done" / "U1-1" / "artwork" / nfc).is_file()
    assert (r.root / "done" / "C1-1" / "artwork" / "CASE1.pdf").is_file()
    assert sorted(r.take_prints()) == ["C1_C1-1_bc-85x55_x1.pdf", "U1_U1-1_bc-85x55_x1.pdf"]
    assert os.listdir(r.inbox) == []
    assert not (r.root / "failed").exists() or not os.listdir(r.root / "failed")
    # Where a name differs only so and is still not taken, the ERROR.txt says which file it is.
    make_pdf(r.tmp / "Near.PDF", pages=CARD)
    assert engine_module._near_misses(r.tmp / "near.pdf") == [("Near.PDF", "only in letter case")]
    (r.tmp / nfd).write_bytes(b"x")
    assert engine_module._near_misses(r.tmp / nfc) == [
        (nfd, "only in its Unicode form (accents written as separate characters)")
    ]
    assert engine_module._near_misses(r.tmp / "other.pdf") == []


def test_every_name_alike_in_a_big_folder_is_found_and_said_how_it_differs(tmp_path: Path) -> None:
    import unicodedata

    nfc = "Caf\u00e9.pdf"
    alike = ["CAF\u00c9.pdf", unicodedata.normalize("NFD", nfc), unicodedata.normalize("NFD", "caf\u00e9.PDF")]
    for name in [nfc, *alike, *(f"caf{i}.pdf" for i in range(2000)), "Cafe.pdf"]:
        (tmp_path / name).touch()
    assert engine_module._near_misses(tmp_path / nfc) == sorted(
        [
            ("CAF\u00c9.pdf", "only in letter case"),
            (unicodedata.normalize("NFD", nfc), "only in its Unicode form (accents written as separate characters)"),
            (unicodedata.normalize("NFD", "caf\u00e9.PDF"), "in letter case and Unicode form"),
        ]
    )
    assert engine_module._near_misses(tmp_path / "CAF0.PDF") == [("caf0.pdf", "only in letter case")]
    assert engine_module._near_misses(tmp_path / "missing" / "a.pdf") == []
    # From a listing made a moment ago: a name alike that is gone since does not count.
    listed = [*os.listdir(tmp_path), "CAF0.pdf"]
    assert engine_module._near_misses(tmp_path / "CAF0.PDF", listed) == [("caf0.pdf", "only in letter case")]
    (tmp_path / "caf0.pdf").unlink()
    assert engine_module._near_misses(tmp_path / "CAF0.PDF", listed) == []


def test_manifests_whose_files_come_later_list_the_inbox_once_a_round_not_once_each(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each intake looks for a file named like its missing artwork: 8,000 manifests waiting at start
    listed the inbox 8,000 times (half the engine's time). A file named alike that comes later is
    still taken (audit M), and one taken meanwhile is not counted."""
    r = rig
    for n in range(30):
        (r.inbox / f"L{n}.yaml").write_text(f'order_id: "L{n}"\nproduct: bc-85x55\nquantity: 1\nartwork: [l{n}.pdf]\n')
    listed: list[str] = []
    real = os.listdir

    def counting(path: Any = ".") -> list[str]:
        listed.append(str(path))
        return real(path)

    monkeypatch.setattr(engine_module.os, "listdir", counting)
    r.run(until=lambda: all(r.stage(f"L{n}-1") is Stage.AWAITING for n in range(30)), steps=10)
    # Once a round: the 30 take 1-3 rounds (a round is bounded in time, so a few more on a loaded
    # machine); once each would be 30.
    assert 1 <= listed.count(str(r.inbox)) <= 10, listed
    make_pdf(r.inbox / "L7.PDF", pages=CARD)
    r.run(until=done(r, "L7-1"), steps=10)
    assert r.take_prints() == ["L7_L7-1_bc-85x55_x1.pdf"]


def test_replace_folder_answers_a_drop_file_and_a_link_in_plain_words(rig: Rig) -> None:
    """Audit P: RELEASE put into replace/ was answered "RELEASE is not a PDF"; a link there had its
    target's first bytes shown in STATUS.txt."""
    r = rig
    job_id = r.order("RP", extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    folder = r.root / "quarantine" / job_id
    (folder / "replace" / "RELEASE").write_text("ann\n")
    r.run(until=lambda: "drop files go into the job's folder itself" in (folder / "STATUS.txt").read_text(), steps=10)
    secret = r.tmp / "secret.txt"
    secret.write_text("SECRET-LINE-1\n")
    (folder / "replace" / "new.pdf").symlink_to(secret)
    r.engine.hint(folder / "replace" / "new.pdf")
    r.run(until=lambda: "new.pdf is a symbolic link, not a file" in (folder / "STATUS.txt").read_text(), steps=10)
    assert "SECRET" not in (folder / "STATUS.txt").read_text()
    assert r.job(job_id).blocked and r.stage(job_id) is Stage.HELD


# -- crashes in the middle of operator actions (audit Q) -----------------------------------------

ACTION_CRASH_POINTS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "before the ledger has the release": lambda mp: _crash_before(mp, Ledger, "remove_status"),
    "after the release, before the folder moves": lambda mp: _crash_before(
        mp, Engine, "_move_to", when=lambda self, job, stage, now, **kw: stage is Stage.DELIVER
    ),
    "after the release, before the drop file is consumed": lambda mp: _crash_before(
        mp, engine_module, "into_history", when=lambda job_dir, src, now, name=None: src.name == "RELEASE"
    ),
}


@pytest.mark.parametrize("point", list(ACTION_CRASH_POINTS))
def test_a_crash_during_a_release_never_loses_it(rig: Rig, point: str) -> None:
    """A RELEASE was consumed into history/ before the ledger had it: a crash in between left the
    job blocked for ever while the operator thought it released."""
    r = rig
    job_id = r.order("R1", extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    (r.root / "quarantine" / job_id / "RELEASE").write_text("olga\n")
    life_until_killed(r, ACTION_CRASH_POINTS[point])
    r.start()
    r.run(until=done(r, job_id), steps=10)
    r.run(steps=3)
    assert r.take_prints() == ["R1_R1-1_bc-85x55_x1.pdf"], point
    job = r.job(job_id)
    assert not job.blocked and [e.removed_by for e in job.history if e.status is JobStatus.Blocked] == ["olga"]
    assert r.statuses(job_id).count("InHotFolder") == 1
    # Audit Q2: the RELEASE a crash left behind must not release a later (blocked) reprint.
    folder = r.root / "done" / job_id
    (folder / ".STATUS.txt.123.tmp").write_text("half")  # a crash in the middle of a STATUS.txt write
    r.start()
    assert not (folder / "RELEASE").exists() and not (folder / ".STATUS.txt.123.tmp").exists()
    make_pdf(r.inbox / "R1-v2.pdf", pages=CARD)
    (r.inbox / "R1.yaml").write_text(
        'order_id: "R1"\nreprint: true\nblocked: true\nproduct: bc-85x55\nquantity: 1\nartwork: [R1-v2.pdf]\n'
    )
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    r.run(steps=3)
    assert r.stage(job_id) is Stage.HELD and r.job(job_id).blocked and r.take_prints() == []


@pytest.mark.parametrize("when", ["before-commit", "before-unlink", "after-commit"])
def test_a_crash_while_a_replacement_is_taken_never_loses_it(rig: Rig, when: str) -> None:
    """The replacement was moved into artwork/ before the ledger had it: a crash in between left
    a new artwork nobody saw recorded, and a release then printed it unchecked."""
    r = rig
    job_id = r.order("R2", extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    folder = r.root / "quarantine" / job_id
    make_pdf(r.tmp / "new.pdf", pages=[(91.0, 61.0)] * 2, trimbox=(3, 3, 88, 58))
    os.replace(r.tmp / "new.pdf", folder / "replace" / "R2.pdf")
    points = {
        "before-commit": lambda mp: _crash_before(mp, Ledger, "mark_artwork_present"),
        "before-unlink": lambda mp: _crash_before(mp, Path, "unlink", when=lambda self, **kw: "/replace/" in str(self)),
        "after-commit": lambda mp: _crash_before(mp, Engine, "_run_when_due"),
    }
    point = points[when]
    life_until_killed(r, point)
    r.start()
    r.run(
        until=lambda: (
            r.stage(job_id) is Stage.HELD
            and r.statuses(job_id)[-1] == "OutputCreated"
            and "ArtworkUploaded" in r.statuses(job_id)
        ),
        steps=10,
    )
    statuses = r.statuses(job_id)
    assert statuses.count("ArtworkUploaded") == 1 and statuses[-1] == "OutputCreated", statuses
    job = r.job(job_id)
    assert job.blocked and job.output_pages == 2
    assert not list((folder / "replace").iterdir())
    assert (folder / "output" / job.output).is_file()
    # history/ holds the old artwork once, under its own name, never the replacement mislabelled
    old_art = [p for p in (folder / "history").iterdir() if "artwork-R2.pdf" in p.name]
    assert len(old_art) == 1 and old_art[0].read_bytes() != (folder / "artwork" / "R2.pdf").read_bytes()
    assert r.engine.apply(job_id, Action.RELEASE, by="kim", note="").ok
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["R2_R2-1_bc-85x55_x1.pdf"]


def test_a_cli_release_cut_short_by_a_crash_is_not_run_twice(rig: Rig) -> None:
    """The command file outlived the release it asked for: at restart it ran again, was refused
    ('already released'), and the CLI waiting for it reported a failure for its own success."""
    r = rig
    job_id = r.order("R3", extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    command = {"action": "RELEASE", "job_id": job_id, "by": "carol", "note": "", "token": "t-123"}
    (r.engine.commands_dir() / "t-123.json").write_text(json.dumps(command))
    life_until_killed(
        r,
        lambda mp: _crash_before(
            mp, Engine, "_move_to", when=lambda self, job, stage, now, **kw: stage is Stage.DELIVER
        ),
    )
    r.start()
    r.run(until=lambda: r.stage(job_id) is Stage.DONE and not (r.engine.commands_dir() / "t-123.json").exists())
    outcome, message = r.ledger.drop_result("t-123") or ("", "")
    assert outcome == "done" and message.startswith("released by carol; it approves the output made at "), message
    assert r.take_prints() == ["R3_R3-1_bc-85x55_x1.pdf"]


# (the renames into a hot folder never replace a file: fsutil.rename_noreplace, audit AZ D1)
TICKET_CRASH_POINTS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "after the ticket's rename": lambda mp: _crash_after(
        mp,
        delivery_module,
        "rename_noreplace",
        when=lambda src, dst: str(dst).endswith(".json") and "/hot/" in str(dst),
    ),
    "after the ticket's mark, before its rename": lambda mp: _crash_before(
        mp,
        delivery_module,
        "rename_noreplace",
        when=lambda src, dst: str(dst).endswith(".json") and "/hot/" in str(dst),
    ),
}


@pytest.mark.parametrize("point", list(TICKET_CRASH_POINTS))
@pytest.mark.parametrize("printer_took_it", [False, True], ids=["files-waiting", "files-taken"])
def test_a_crash_around_the_job_ticket_writes_it_exactly_once(
    ticket_rig: Rig, point: str, printer_took_it: bool
) -> None:
    """The ticket was written again at restart when the printer had taken PDF and ticket already:
    a second ticket with no PDF in the hot folder (audit Q)."""
    r = ticket_rig
    job_id = r.order("TK")
    life_until_killed(r, TICKET_CRASH_POINTS[point])
    if printer_took_it:
        r.take_prints()
    r.start()
    r.run(until=done(r, job_id), steps=10)
    r.run(steps=3)
    r.take_prints()
    assert sorted(r.printed) == ["TK_TK-1_bc-85x55_x1.json", "TK_TK-1_bc-85x55_x1.pdf"], point
    assert r.temps() == []
    assert r.statuses(job_id).count("InHotFolder") == 1


def test_a_job_rejected_while_blocked_then_reprinted_and_released_is_not_blocked_any_more(rig: Rig) -> None:
    """Audit R: the old Blocked entry stayed active beside the reprint's, a release removed only the
    old one, and the delivered job was listed as blocked for ever (jobs --blocked, health)."""
    r = rig
    job_id = r.order("RB", extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    assert r.engine.apply(job_id, Action.REJECT, by="lea", note="wrong file").ok
    make_pdf(r.inbox / "RB-v2.pdf", pages=CARD)
    (r.inbox / "RB.yaml").write_text(
        'order_id: "RB"\nreprint: true\nblocked: true\nproduct: bc-85x55\nquantity: 1\nartwork: [RB-v2.pdf]\n'
    )
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    old, new = [e for e in r.job(job_id).history if e.status is JobStatus.Blocked]
    assert (old.removed_by, old.removed_note) == ("system", "reprint") and new.removed_at is None
    assert r.engine.apply(job_id, Action.RELEASE, by="kim", note="").ok
    r.run(until=done(r, job_id), steps=10)
    job = r.job(job_id)
    assert not job.block_active and not job.blocked
    assert [e.removed_by for e in job.history if e.status is JobStatus.Blocked] == ["system", "kim"]
    assert [e.removed_note for e in job.history if e.status is JobStatus.Blocked][1] is None  # no note: null


def test_a_drop_file_in_a_refused_manifests_folder_is_answered_in_its_error_txt(rig: Rig) -> None:
    """Audit R: RETRY dropped beside a refused manifest (after correcting it there) stayed, unanswered."""
    r = rig
    (r.inbox / "bad501.yaml").write_text('order_id: "501"\nproduct: bc-85x55\nquantity: many\nartwork: [a.pdf]\n')
    folder = r.root / "failed" / "bad501.yaml"
    r.run(until=lambda: (folder / "ERROR.txt").is_file(), steps=10)
    (folder / "RETRY").write_text("nina\n")
    r.engine.hint(folder / "RETRY")
    r.run(until=lambda: not (folder / "RETRY").exists(), steps=10)
    error = (folder / "ERROR.txt").read_text()
    assert "RETRY was not acted on" in error and "put it into inbox/ again" in error
    assert [p.name for p in (folder / "history").iterdir() if p.name.endswith("-RETRY")]


def test_a_refused_job_leaves_the_artwork_that_a_taken_job_of_its_manifest_needs(rig: Rig) -> None:
    """Audit T: a storefront re-sends the whole order with a job added; the delivered job is
    refused, and its artwork went to failed/ with it, although the new job names the same file:
    the new job then waited and failed "artwork missing"."""
    r = rig
    first = r.order("R")
    r.run(until=done(r, first), steps=10)
    make_pdf(r.inbox / "R.pdf", pages=CARD)
    (r.inbox / "R-again.yaml").write_text(
        'order_id: "R"\njobs:\n'
        "  - {product: bc-85x55, quantity: 1, artwork: [R.pdf]}\n"
        "  - {job_id: R-3, product: bc-85x55, quantity: 50, artwork: [R.pdf]}\n"
    )
    r.run(until=done(r, "R-3"), steps=10)
    error = (r.root / "failed" / "R-again.yaml" / "ERROR.txt").read_text()
    assert "already delivered" in error and "left to that job" in error and "R.pdf (job R-3)" in error
    assert not (r.root / "failed" / "R-again.yaml" / "artwork").exists()
    assert sorted(r.take_prints()) == ["R_R-1_bc-85x55_x1.pdf", "R_R-3_bc-85x55_x50.pdf"]
    assert r.statuses(first).count("InHotFolder") == 1


def test_a_manifest_saved_with_a_hidden_txt_extension_is_named_as_such(rig: Rig) -> None:
    """Audit R: Windows' hidden extensions make 'manifest.yaml' a 'manifest.yaml.txt'; the advice
    was to put it back into the inbox with a manifest that lists it as artwork."""
    r = rig
    (r.inbox / "drag").mkdir()
    (r.inbox / "drag" / "manifest.yaml.txt").write_text('order_id: "1"\n')
    r.run(until=lambda: (r.root / "failed" / "drag" / "ERROR.txt").is_file(), steps=10, dt=120)
    error = (r.root / "failed" / "drag" / "ERROR.txt").read_text()
    assert "its name ends in .txt" in error and "rename it to manifest.yaml" in error
    assert (r.root / "failed" / "drag" / "manifest.yaml.txt").is_file()


def test_a_manifest_whose_name_ends_in_a_dot_or_a_space_is_named_as_such(rig: Rig) -> None:
    """Audit AL: "order-2030.yaml." and "order-2031.yaml " (names an SMB or FTP client can leave,
    which Windows does not show) went to failed/ told to come back "with a manifest that lists
    it", as unclaimed artwork is."""
    r = rig
    for name in ("order-2030.yaml.", "order-2031.yaml "):
        (r.inbox / name).write_text('order_id: "1"\n')
    # After the short wait, not after artwork_timeout_seconds (600 s here; an hour by default, with no
    # word meanwhile: audit AR D8).
    r.run(until=lambda: len(list((r.root / "failed").glob("*/ERROR.txt"))) == 2, steps=60, dt=1)
    dot = " ".join((r.root / "failed" / "order-2030.yaml" / "ERROR.txt").read_text().split())  # (a safe name)
    assert (
        "its name ends in a dot, so it is not taken as one (Windows does not show it); rename it to order-2030.yaml"
        in dot
    )
    assert "rename it to order-2030.yaml and put it back into inbox/" in dot and "lists it under artwork" not in dot
    # (audit AS D3: not "arrived ... but no manifest named it", nor "within 600 seconds of arrival")
    assert dot.startswith("inbox/order-2030.yaml. was not taken as a manifest: its name ends in a dot."), dot
    assert "seconds of arrival" not in dot
    space = " ".join((r.root / "failed" / "order-2031.yaml" / "ERROR.txt").read_text().split())
    assert "its name ends in a space, so it is not taken as one" in space, space


def _failed(r: Rig, order_id: str, extra: str = "") -> str:
    """A job that fails its check (A4 pages where bc-* wants cards), waiting in failed/."""
    make_pdf(r.inbox / f"{order_id}.pdf", pages=[(210.0, 297.0)] * 2)
    (r.inbox / f"{order_id}.yaml").write_text(
        f'order_id: "{order_id}"\n{extra}product: bc-85x55\nquantity: 1\nartwork: [{order_id}.pdf]\n'
    )
    job_id = f"{order_id}-1"
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=10)
    return job_id


def test_a_crash_during_a_retry_runs_it_once(rig: Rig) -> None:
    """Audit Q2: a RETRY cut short by a crash after its commit was applied a second time at restart."""
    r = rig
    failed_id = _failed(r, "RT2")
    (r.root / "failed" / failed_id / "RETRY").write_text("uma\n")
    life_until_killed(r, lambda mp: _crash_before(mp, Engine, "_run_when_due"))
    r.start()
    r.run(until=lambda: r.stage(failed_id) is Stage.FAILED and not (r.root / "failed" / failed_id / "RETRY").exists())
    r.run(steps=3)
    statuses = r.statuses(failed_id)
    assert statuses.count("RecreationRequested") == 1, statuses
    assert statuses.count("ValidationFailed") == 2, statuses


def test_a_release_in_failed_cut_short_before_its_file_is_consumed_is_not_refused_at_restart(rig: Rig) -> None:
    """Audit Q2: the RELEASE a crash left was applied again at restart and answered 'refused:
    already released', although it was the one that released the job."""
    r = rig
    job_id = _failed(r, "RF", extra="blocked: true\n")
    folder = r.root / "failed" / job_id
    (folder / "RELEASE").write_text("vera\n")
    life_until_killed(r, lambda mp: _crash_before(mp, Engine, "_consume_drop"))
    r.start()
    r.run(until=lambda: not (folder / "RELEASE").exists(), steps=10)
    r.engine.flush_status()
    assert not r.job(job_id).blocked
    assert "refused" not in (folder / "STATUS.txt").read_text()
    assert [p.name for p in (folder / "history").iterdir() if p.name.endswith("-RELEASE")]


# -- drop files and their recorded outcomes (audit Q3) ----------------------------------------------


def _held_with_two_files(r: Rig, order_id: str, names: tuple[str, str]) -> Path:
    """A blocked one-job folder order with two artwork files of those names, held; its folder."""
    order = r.inbox / order_id
    order.mkdir()
    for name in names:
        make_pdf(order / name, pages=[(91.0, 61.0)])
    (order / "manifest.yaml").write_text(
        f'order_id: "{order_id}"\nproduct: bc-85x55\nquantity: 1\nblocked: true\nartwork: [{", ".join(names)}]\n'
    )
    r.run(until=lambda: r.stage(f"{order_id}-1") is Stage.HELD, steps=15)
    return r.root / "quarantine" / f"{order_id}-1"


def _held(r: Rig, order_id: str) -> tuple[str, Path]:
    job_id = r.order(order_id, extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    return job_id, r.root / "quarantine" / job_id


def test_show_says_the_answer_to_the_last_operator_action(rig: Rig) -> None:
    """Audit: a CLI command the daemon had not answered in time ends "see `show JOB` for its
    outcome", and `show` did not say it when it was refused (only STATUS.txt did)."""
    r = rig
    job_id, folder = _held(r, "LA")
    (folder / "RETRY").write_text("kim\n")
    r.run(until=lambda: not (folder / "RETRY").exists(), steps=10)
    shown = run_cli(r.config_path, "show", job_id).stdout
    [line] = [line for line in shown.splitlines() if line.startswith("Last action or notice: ")]
    assert "RETRY" in line and "refused" in line, line
    status = (folder / "STATUS.txt").read_text()
    assert line.removeprefix("Last action or notice: ") in status


def test_an_output_edited_with_its_size_and_time_put_back_is_not_sent(rig: Rig) -> None:
    """Audit A 2: the output saved over in place with the same size, its modification time set back
    (`touch -r`, a sync tool that keeps times), passed as the checked file and was printed. A
    chmod alone (its change time moves too) is still the checked file."""
    r = rig
    job_id, folder = _held(r, "ED")
    [out] = list((folder / "output").iterdir())
    out.chmod(0o644)  # (a chmod alone: not a change of the file)
    assert r.engine.apply(job_id, Action.RELEASE, by="kim", note="").ok
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["ED_ED-1_bc-85x55_x1.pdf"]
    job_id, folder = _held(r, "EE")
    [out] = list((folder / "output").iterdir())
    before = out.stat()
    data = out.read_bytes()
    assert b"/MediaBox" in data
    out.chmod(0o644)
    with open(out, "r+b") as fh:
        fh.write(data.replace(b"/MediaBox", b"/MediaBoy", 1))  # same size, other content
    os.utime(out, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (out.stat().st_size, out.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    r.engine.apply(job_id, Action.RELEASE, by="kim", note="")
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=10)
    r.run(steps=2)
    assert r.take_prints() == []
    error = (r.root / "failed" / job_id / "ERROR.txt").read_text()
    assert "changed after it was checked" in error or "artwork changed in its folder" in error, error


def test_the_same_order_written_anew_changes_nothing(rig: Rig) -> None:
    """Audit A 3: the same order as YAML and as JSON (or its keys in another order, a comment
    added) sent together: the second replaced the job, put the artwork the first had taken into
    history/ and waited for it until the job failed "artwork missing", nothing printed and no
    history entry saying why. A manifest that says the same of the order and its job, with none of
    its artwork beside it, changes nothing, as one byte for byte does."""
    r = rig
    make_pdf(r.inbox / "J2.pdf", pages=CARD)
    (r.tmp / "J2.yaml").write_text('order_id: "J2"\nproduct: bc-85x55\nquantity: 10\nartwork: [J2.pdf]\n')
    (r.tmp / "J2.json").write_text('{"quantity": 10, "artwork": ["J2.pdf"], "order_id": "J2", "product": "bc-85x55"}')
    os.replace(r.tmp / "J2.yaml", r.inbox / "J2.yaml")
    os.replace(r.tmp / "J2.json", r.inbox / "J2.json")
    r.run(until=lambda: done(r, "J2-1")() and not list(r.inbox.iterdir()), steps=20, dt=0.5)
    assert r.take_prints() == ["J2_J2-1_bc-85x55_x10.pdf"]
    assert "AwaitingData" not in r.statuses("J2-1") and r.statuses("J2-1").count("OutputCreated") == 1
    # A blocked job: its manifest written anew (a comment added) leaves it in quarantine/ as it was.
    job_id, folder = _held(r, "J3")
    before = r.statuses(job_id)
    (r.inbox / "J3-again.yaml").write_text("# sent again\n" + (folder / "manifest.yaml").read_text())
    r.run(until=lambda: not (r.inbox / "J3-again.yaml").exists(), steps=10)
    r.run(steps=2)
    assert r.stage(job_id) is Stage.HELD and r.statuses(job_id) == before
    status = " ".join((folder / "STATUS.txt").read_text().split())
    assert (
        "J3-again.yaml came again, written anew but saying the same of the order and its jobs, without new artwork"
        in status
    )
    # Other facts (the quantity): the job's facts and artwork are replaced, as before (SPEC 5).
    (r.inbox / "J3-more.yaml").write_text((folder / "manifest.yaml").read_text().replace("quantity: 1", "quantity: 2"))
    r.run(until=lambda: r.stage(job_id) is Stage.AWAITING, steps=10)


def test_a_job_folders_replace_and_status_deleted_by_hand_are_made_again(rig: Rig) -> None:
    """Audit (operator) 5: replace/ and STATUS.txt deleted in a file explorer never came back
    (STATUS.txt only with the next event in the folder), while STATUS.txt says "put the corrected
    PDF into replace/" (SPEC 4: the daemon creates replace/ in every job folder there). Review GA 1:
    a failed job's ERROR.txt neither, while STATUS.txt said "Read ERROR.txt"."""
    r = rig
    job_id, folder = _held(r, "MD")
    failed_id = _failed_for_missing_artwork(r, "MF")
    (r.root / "failed" / failed_id / "ERROR.txt").unlink()
    for job_folder in (folder, r.root / "failed" / failed_id):
        (job_folder / "STATUS.txt").unlink()
        (job_folder / "replace").rmdir()
    with capture_logs() as logs:
        r.run(until=lambda: (folder / "STATUS.txt").is_file() and (folder / "replace").is_dir(), steps=5)
        r.run(until=lambda: (r.root / "failed" / failed_id / "STATUS.txt").is_file(), steps=5)
    assert (r.root / "failed" / failed_id / "replace").is_dir()
    assert "Drop a file named RELEASE here" in (folder / "STATUS.txt").read_text()
    mended = sorted((e["job_id"], tuple(e["made"])) for e in logs if e["event"] == "job_folder.mended")
    assert mended == [(job_id, ("replace/", "STATUS.txt")), (failed_id, ("replace/", "STATUS.txt", "ERROR.txt"))]
    error = (r.root / "failed" / failed_id / "ERROR.txt").read_text()
    assert error.startswith(f"Job {failed_id} (order MF) needs attention: artwork missing"), error
    assert "How to fix it:" in error and f"spo-hotfolder retry {failed_id}" in error
    assert r.stage(job_id) is Stage.HELD and r.stage(failed_id) is Stage.FAILED


def test_a_failed_jobs_error_txt_deleted_alone_is_written_again(rig: Rig) -> None:
    """Review GB 2 (of GA 1's mend): ERROR.txt deleted on its own (STATUS.txt and replace/ there)
    was never looked for: only a folder missing one of those two was mended."""
    r = rig
    failed_id = _failed_for_missing_artwork(r, "ME")
    error = r.root / "failed" / failed_id / "ERROR.txt"
    error.unlink()
    r.run(until=error.is_file, steps=5)
    assert "put the missing or corrected PDF into replace/ (the job runs again with it)" in error.read_text()


def test_a_pdf_named_release_is_not_taken_as_a_release(rig: Rig) -> None:
    """Audit (operator) 3: corrected artwork saved as Release.pdf into the job's folder (not into
    replace/) released the job: the old output, which nobody approved, went to the printer."""
    r = rig
    job_id, folder = _held(r, "RP")
    make_pdf(folder / "Release.pdf", pages=CARD)
    r.run(until=lambda: not (folder / "Release.pdf").exists(), steps=10)
    r.run(steps=2)
    assert r.stage(job_id) is Stage.HELD and r.job(job_id).blocked and r.take_prints() == []
    status = " ".join((folder / "STATUS.txt").read_text().split())
    assert "Release.pdf is a PDF, and a PDF is never taken as a RELEASE: to replace the job's artwork, put" in status
    assert any(p.name.endswith("-Release.pdf") for p in (folder / "history").iterdir())
    (folder / "release.txt").write_text("amy\n")  # a text file still releases it
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["RP_RP-1_bc-85x55_x1.pdf"]


def test_a_folder_drop_left_empty_by_a_crash_is_removed_at_the_next_start(rig: Rig) -> None:
    """Audit (crashes) 1: killed after a folder drop's manifest and artwork were taken, before the
    emptied folder was removed: inbox/<folder>/ stayed, empty, through every restart. An empty
    folder no manifest came in (an operator's "New folder") stays."""
    r = rig
    drop = r.inbox / "Order FD"
    drop.mkdir()
    make_pdf(drop / "art.pdf", pages=CARD)
    (drop / "manifest.yaml").write_text('order_id: "FD"\nproduct: bc-85x55\nquantity: 1\nartwork: [art.pdf]\n')
    r.run(until=done(r, "FD-1"), steps=10)
    r.run(until=lambda: not drop.exists(), steps=5)  # (once quiet: _quiet_and_empty)
    (drop / "sub").mkdir(parents=True)  # as the crash left it (with an emptied sub-folder)
    (r.inbox / "New folder").mkdir()
    (r.inbox / "Order FX").mkdir()  # a folder drop under way: its files are still to come
    (r.inbox / "Order FX" / "manifest.yaml.part").write_text("order_id: ")
    r.start()
    r.run(until=lambda: not drop.exists(), steps=5)
    assert (r.inbox / "New folder").is_dir() and (r.inbox / "Order FX" / "manifest.yaml.part").is_file()


def test_a_folder_drop_refused_as_done_left_empty_by_a_crash_is_removed_at_the_next_start(rig: Rig) -> None:
    """Audit P 1: an order sent again as a folder drop (no reprint: true) is refused, its manifest
    and artwork moved into failed/<folder>/; killed before the emptied folder was removed (once
    quiet), the next start left it in the inbox for good: no manifest had been taken from it."""
    r = rig
    r.order("RF")
    r.run(until=done(r, "RF-1"), steps=10)
    drop = r.inbox / "again RF"
    drop.mkdir()
    make_pdf(drop / "RF.pdf", pages=CARD)
    (drop / "manifest.yaml").write_text('order_id: "RF"\nproduct: bc-85x55\nquantity: 1\nartwork: [RF.pdf]\n')
    r.run(until=lambda: (r.root / "failed" / "again RF" / "ERROR.txt").is_file(), steps=10)
    assert drop.is_dir() and not any(drop.iterdir()), "emptied, and removed only once quiet"
    r.start()  # (the crash: the engine that was to remove it is gone)
    r.run(until=lambda: not drop.exists(), steps=5)
    assert "already delivered" in (r.root / "failed" / "again RF" / "ERROR.txt").read_text()


def test_a_broken_replacement_is_named_as_dropped_in_the_error(rig: Rig) -> None:
    """Audit (operator) 6: a damaged p.pdf dropped into replace/ takes the old file's name, and
    ERROR.txt said only "artwork 'RB.pdf' ..." as if the old file were at fault."""
    r = rig
    job_id, folder = _held(r, "RB")
    (folder / "replace" / "p.pdf").write_bytes(b"%PDF-1.4\n1 0 obj garbage endobj\ntrailer <<>>\n%%EOF\n")
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=20, dt=5)
    error = " ".join((r.root / "failed" / job_id / "ERROR.txt").read_text().split())
    assert "'RB.pdf'" in error, error
    assert "RB.pdf is the replacement p.pdf put in at " in error, error


def _uploads(r: Rig, job_id: str) -> int:
    return r.statuses(job_id).count("ArtworkUploaded")


def _settled(r: Rig, job_id: str, uploads: int) -> Callable[[], bool]:
    return lambda: (
        r.stage(job_id) is Stage.HELD and _uploads(r, job_id) == uploads and r.statuses(job_id)[-1] == "OutputCreated"
    )


def _replace_with(r: Rig, folder: Path, name: str, width: float) -> bytes:
    """A 2-page replacement whose pages are ``width`` mm wide (91 +- 1 passes): each is another file."""
    make_pdf(r.tmp / "new.pdf", pages=[(width, 61.0)] * 2)
    data = (r.tmp / "new.pdf").read_bytes()
    job_id = folder.name
    uploads = _uploads(r, job_id)
    os.replace(r.tmp / "new.pdf", folder / "replace" / name)
    r.engine.hint(folder / "replace" / name)
    r.run(until=_settled(r, job_id, uploads + 1), steps=10)
    return data


def test_a_replacement_moved_back_from_history_is_taken(rig: Rig) -> None:
    """It kept its inode, time and size, so it matched the earlier replacement's record and was
    deleted without a word: the only copy of that artwork."""
    r = rig
    job_id, folder = _held(r, "MV")
    first = _replace_with(r, folder, "MV.pdf", 90.5)
    _replace_with(r, folder, "MV.pdf", 91.5)
    [kept] = [p for p in (folder / "history").iterdir() if p.read_bytes() == first]
    kept.rename(folder / "replace" / "MV.pdf")  # the operator goes back to the first version
    r.engine.hint(folder / "replace" / "MV.pdf")
    r.run(until=_settled(r, job_id, 3), steps=10)
    assert (folder / "artwork" / "MV.pdf").read_bytes() == first


def test_a_release_moved_back_from_history_releases_again(rig: Rig) -> None:
    r = rig
    job_id, folder = _held(r, "MB")
    (folder / "RELEASE").write_text("kai\n")
    r.run(until=done(r, job_id), steps=10)
    r.take_prints()
    make_pdf(r.inbox / "MB-v2.pdf", pages=CARD)
    (r.inbox / "MB.yaml").write_text(
        'order_id: "MB"\nreprint: true\nblocked: true\nproduct: bc-85x55\nquantity: 1\nartwork: [MB-v2.pdf]\n'
    )
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    folder = r.root / "quarantine" / job_id
    [old] = [p for p in (folder / "history").iterdir() if p.name.endswith("-RELEASE")]
    old.rename(folder / "RELEASE")
    r.engine.hint(folder / "RELEASE")
    r.run(until=done(r, job_id), steps=10)
    assert [e.removed_by for e in r.job(job_id).history if e.status is JobStatus.Blocked][-1] == "kai"


def test_a_drop_file_left_in_done_never_acts_on_a_blocked_reprint(rig: Rig) -> None:
    """done/ is not read; its RELEASE (or replace/ PDF) was carried along by a reprint and acted on
    it: the blocked reprint printed unseen."""
    r = rig
    job_id = r.order("DD")
    r.run(until=done(r, job_id), steps=10)
    r.take_prints()
    folder = r.root / "done" / job_id
    (folder / "RELEASE").write_text("bob\n")
    (folder / "replace").mkdir(exist_ok=True)
    make_pdf(folder / "replace" / "DD.pdf", pages=[(91.0, 61.0)] * 4)
    make_pdf(r.inbox / "DD-v2.pdf", pages=CARD)
    (r.inbox / "DD.yaml").write_text(
        'order_id: "DD"\nreprint: true\nblocked: true\nproduct: bc-85x55\nquantity: 1\nartwork: [DD-v2.pdf]\n'
    )
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    r.run(steps=3)
    job = r.job(job_id)
    assert r.stage(job_id) is Stage.HELD and job.blocked and job.output_pages == 2
    assert r.take_prints() == [] and "ArtworkUploaded" not in r.statuses(job_id)
    unused = sorted(
        p.name.split("-", 1)[1] for p in (r.root / "quarantine" / job_id / "history").iterdir() if "unused-" in p.name
    )
    assert unused == ["unused-DD.pdf", "unused-RELEASE"]


def test_a_refusal_is_still_in_status_txt_after_a_restart(rig: Rig) -> None:
    r = rig
    job_id, folder = _held(r, "RS")
    (folder / "RELEASE").write_text("lou\nartwork: 0123456789ab\n")
    r.run(until=lambda: not (folder / "RELEASE").exists(), steps=10)
    r.engine.flush_status()
    assert "refused" in (folder / "STATUS.txt").read_text()
    r.start()  # a restart (the answer was kept in memory only)
    (folder / "STATUS.txt").unlink()
    r.engine._write_status(job_id)
    r.engine.flush_status()
    assert "RELEASE by lou refused" in (folder / "STATUS.txt").read_text()


# -- reloads (audit S) -----------------------------------------------------------------------------


def _rerouted(r: Rig) -> Any:
    """The rig's config with bc-* routed to the other hot folder, 'large'."""

    r.write_routes([{"when": {"product": "bc-*"}, "to": "large"}, {"to": "skip"}])
    return load_config(r.config_path)


def test_a_reload_applies_between_two_jobs_of_a_queue(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new config waited until the queue was empty: under a steady stream, maybe never."""
    r = rig
    ids = [r.order(f"Q{n}") for n in range(3)]
    new = _rerouted(r)
    real = Engine._run_job
    calls: list[str] = []

    def run_job(self: Engine, job_id: str, next_ids: Any = ()) -> None:
        real(self, job_id, next_ids)
        calls.append(job_id)
        if len(calls) == 1:
            self.set_config(new)  # SIGHUP while the queue runs

    monkeypatch.setattr(Engine, "_run_job", run_job)
    r.run(until=lambda: all(r.stage(j) is Stage.DONE for j in ids), steps=10)
    hot = [r.job(j).route for j in ids]
    assert hot.count("large") >= 1 and hot[-1] == "large", hot


def test_a_reload_while_an_output_is_made_applies_to_its_delivery_and_to_orders_after_it(rig: Rig) -> None:
    """Audit AI 1, 3: a SIGHUP (new routes and a new blocking rule) while a job's output was made.
    An order that came meanwhile was taken in by the old blocking rules and routed by the new ones
    (printed unblocked); the job in hand went by the old routes while `jobs` named the new."""
    r = rig
    first = r.order("RL1")
    data = yaml.safe_load(r.config_path.read_text())
    data["blocking"] = {"products": ["bc-*"]}
    r.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    new = _rerouted(r)
    making = r.engine.pdf

    class ReloadWhileMaking:
        def check(self, *args: Any) -> Any:
            return making.check(*args)

        def build_output(
            self, artwork: Any, dest: Any, spec: Any, validation: Any, while_waiting: Any = None, repaired: bool = False
        ) -> Any:
            if r.ledger.get_job("RL2-1") is not None or (r.inbox / "RL2.yaml").exists():
                return making.build_output(artwork, dest, spec, validation)  # (RL2's own, later)
            r.engine.set_config(new)  # SIGHUP
            second = r.order("RL2")  # an order comes while the output is made
            r.clock.advance(2)
            for name in ("RL2.pdf", "RL2.yaml"):
                r.engine.hint(r.inbox / name)
            r.clock.advance(2)
            while_waiting()
            assert r.ledger.get_job(second) is None, "taken in before the reload applied"
            return making.build_output(artwork, dest, spec, validation)

    r.engine.pdf = ReloadWhileMaking()
    with capture_logs() as logs:
        r.run(until=lambda: r.ledger.get_job("RL2-1") is not None and r.stage(first) is Stage.DONE, steps=10)
    assert len([e for e in logs if e["event"] == "job.route_changed" and e["job_id"] == first]) == 1  # (said once)
    assert r.job(first).route == "large" and (r.tmp / "hot" / "large" / "RL1_RL1-1_bc-85x55_x1.pdf").is_file()
    r.run(until=lambda: r.stage("RL2-1") is Stage.HELD, steps=10)
    assert r.statuses("RL2-1")[:2] == ["Ordered", "Blocked"]
    assert r.take_prints() == [] and not (r.tmp / "hot" / "large" / "RL2_RL2-1_bc-85x55_x1.pdf").exists()


def test_a_reload_that_changes_a_held_jobs_route_says_so(rig: Rig) -> None:
    """show and STATUS.txt named the old hot folder; the release then sent the job to the new one."""
    r = rig
    job_id, folder = _held(r, "RR")
    assert r.job(job_id).route == "indigo"
    r.engine.set_config(_rerouted(r))
    r.run(steps=1)
    r.engine.flush_status()
    assert r.job(job_id).route == "large"
    assert "send this job to large" in (folder / "STATUS.txt").read_text()


# -- retention (audit S) ---------------------------------------------------------------------------


def test_a_big_purge_runs_in_slices_and_a_failed_one_is_not_recorded(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """14,000 expired jobs held a new order back for 15 s; a folder that could not be removed
    was recorded as deleted all the same, and never tried again."""
    r = rig
    ids = [r.order(f"P{n}") for n in range(3)]
    r.run(until=lambda: all(r.stage(j) is Stage.DONE for j in ids), steps=10)
    r.clock.advance(30 * 86400 + 1)
    monkeypatch.setattr(engine_module, "RETENTION_SLICE_SECONDS", 0.0)  # one job per slice
    r.engine.run_retention()
    purged = [j for j in ids if r.stage(j) is Stage.PURGED]
    assert len(purged) == 1 and r.engine._retention_requested  # the rest in the next step
    real_rmtree = engine_module.shutil.rmtree

    def stuck(path: Any, onerror: Any = None, **kw: Any) -> None:
        if onerror is not None:
            onerror(os.unlink, str(path), (PermissionError, PermissionError(1, "Operation not permitted"), None))

    monkeypatch.setattr(engine_module.shutil, "rmtree", stuck)
    r.engine.run_retention()
    stuck_id = next(j for j in ids if j not in purged)
    assert r.stage(stuck_id) is Stage.DONE and (r.root / "done" / stuck_id).is_dir()  # not recorded
    monkeypatch.setattr(engine_module.shutil, "rmtree", real_rmtree)
    monkeypatch.setattr(engine_module, "RETENTION_SLICE_SECONDS", 60.0)
    r.engine.run_retention()
    assert all(r.stage(j) is Stage.PURGED for j in ids)


def test_a_purge_kept_from_finishing_by_another_accounts_folder_says_whose_and_the_fix(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BS D8: an operator's notes/ folder (umask 077) in a delivered job's folder: the purge
    logged raw errors only, and left the folder holding those notes with nothing saying why."""
    r = rig
    job_id = r.order("PN")
    r.run(until=done(r, job_id), steps=10)
    notes = r.root / "done" / job_id / "notes"
    notes.mkdir()
    (notes / "call.txt").write_text("customer called\n")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != notes and real_access(p, mode, **kw))
    real_rmtree = shutil.rmtree

    def stuck(path: Any, onerror: Any = None, **kw: Any) -> None:
        for name in os.listdir(path):  # what the daemon may remove goes; notes/ stays
            if name != "notes":
                target = Path(path) / name
                real_rmtree(target) if target.is_dir() else target.unlink()
        onerror(os.unlink, str(notes / "call.txt"), (PermissionError, PermissionError(13, "Permission denied"), None))

    monkeypatch.setattr(engine_module.shutil, "rmtree", stuck)
    r.clock.advance(30 * 86400 + 1)
    with capture_logs() as logs:
        r.engine.run_retention()
        r.run(steps=2)
    [said] = [e for e in logs if e["event"] == "retention.purge_incomplete"]
    assert said["action"].startswith(f"the daemon may not empty done/{job_id}/notes (root's, drwxr-xr-x): its owner")
    assert r.stage(job_id) is Stage.DONE
    status = (r.root / "done" / job_id / "STATUS.txt").read_text()
    assert "retention deleted this job's files but not all: " in status and "chmod -R g+rwX" in status


def test_every_folder_that_keeps_a_purge_from_finishing_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BU 8: two operators' folders kept a purge from finishing; only the first was named,
    the second owner's at the next run, an hour later."""
    from spo_hotfolder.engine.retention import _what_blocks

    alice, bob = tmp_path / "notes", tmp_path / "bob-notes"
    for folder in (alice, bob):
        folder.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) not in (alice, bob) and real_access(p, mode))
    failures = [f"{alice}: [Errno 13] Permission denied", f"{alice}: [Errno 39] Directory not empty"]
    failures += [f"{bob / 'b.txt'}: [Errno 13] Permission denied", f"{bob}: [Errno 39] Directory not empty"]
    assert _what_blocks(failures) == [alice, bob]


def test_a_reject_dropped_just_before_a_new_manifest_comes_first(rig: Rig) -> None:
    """Audit Q4: the new manifest's rerun filed the operator's waiting REJECT as unused (before
    that, carried it along unread) and the failed job was printed."""
    r = rig
    job_id = _failed(r, "RJ")
    (r.root / "failed" / job_id / "REJECT").write_text("carol\ncustomer cancelled\n")
    make_pdf(r.inbox / "RJ-v2.pdf", pages=CARD)
    (r.inbox / "RJ-v2.yaml").write_text('order_id: "RJ"\nproduct: bc-85x55\nquantity: 1\nartwork: [RJ-v2.pdf]\n')
    r.run(until=lambda: r.stage(job_id) is Stage.REJECTED and (r.root / "failed" / "RJ-v2.yaml").is_dir(), steps=15)
    r.run(steps=3)
    assert r.take_prints() == []
    assert r.job(job_id).history[-1].by == "carol"
    assert "rejected" in (r.root / "failed" / "RJ-v2.yaml" / "ERROR.txt").read_text()


def test_a_replacement_linked_from_elsewhere_is_copied_not_shared(rig: Rig) -> None:
    """Audit Q4: `ln designer/fixed.pdf replace/` shared the inode with artwork/ and output/: editing
    the designer's file later changed the job's files and destroyed the replacement as received."""
    r = rig
    job_id, folder = _held(r, "LN")
    designer = r.tmp / "designer.pdf"
    make_pdf(designer, pages=[(90.5, 61.0)] * 2)
    taken = designer.read_bytes()
    uploads = _uploads(r, job_id)
    os.link(designer, folder / "replace" / "LN.pdf")
    r.engine.hint(folder / "replace" / "LN.pdf")
    r.run(until=_settled(r, job_id, uploads + 1), steps=10)
    make_pdf(r.tmp / "v4.pdf", pages=[(91.5, 61.0)] * 2)
    with open(designer, "r+b") as fh:  # the designer saves over their file
        fh.write((r.tmp / "v4.pdf").read_bytes())
        fh.truncate()
    assert (folder / "artwork" / "LN.pdf").read_bytes() == taken
    assert r.engine.apply(job_id, Action.RELEASE, by="kim", note="").ok
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["LN_LN-1_bc-85x55_x1.pdf"]


def test_a_future_orders_manifest_again_says_how_new_artwork_reaches_a_job_in_work(rig: Rig) -> None:
    """Audit CE 3: it said "New artwork goes into replace/", which work/ has not (nor reads)."""
    later = (rig.clock.now() + timedelta(days=30)).isoformat()
    job_id = rig.order("FW", extra=f'process_after: "{later}"\n')
    rig.run(until=lambda: rig.stage(job_id) is Stage.FUTURE, steps=5)
    manifest = (rig.root / "work" / job_id / "manifest.yaml").read_bytes()
    (rig.inbox / "FW.yaml").write_bytes(manifest)
    rig.run(until=lambda: not (rig.inbox / "FW.yaml").exists(), steps=5)
    status = " ".join((rig.root / "work" / job_id / "STATUS.txt").read_text().split())
    assert "New artwork goes with the manifest, or by `spo-hotfolder replace FW-1 FILE.pdf`" in status, status


def test_the_same_manifest_again_without_artwork_leaves_a_waiting_job_as_it_is(rig: Rig) -> None:
    """Audit T: a webhook's retry re-sent a blocked job's manifest byte for byte, without artwork:
    the job left quarantine/, its good artwork went to history/, and it failed "artwork missing"
    once the timeout ran out. With its artwork, the same manifest is new artwork, as before."""
    r = rig
    job_id, folder = _held(r, "SAME")
    manifest = (folder / "manifest.yaml").read_bytes()
    before = r.statuses(job_id)
    (r.inbox / "SAME.yaml").write_bytes(manifest)
    r.run(until=lambda: not (r.inbox / "SAME.yaml").exists(), steps=5)
    r.run(steps=3)
    assert r.stage(job_id) is Stage.HELD and r.statuses(job_id) == before
    assert [p.name for p in (folder / "artwork").iterdir()] == ["SAME.pdf"]
    assert [p.name.endswith("-SAME.yaml") for p in (folder / "history").iterdir()] == [True]
    status = " ".join((folder / "STATUS.txt").read_text().split())
    assert "SAME.yaml came again, byte for byte, without new artwork: nothing changed" in status
    # (named within the job folder, which moves on: audit, a stale work/... path once in done/)
    (kept,) = (folder / "history").iterdir()
    assert f"(it is in this folder's history/{kept.name})" in status, status
    assert "New artwork goes into replace/" in status
    # The same manifest with its artwork: new artwork (SPEC 5), the job made again and still held.
    make_pdf(r.inbox / "SAME.pdf", pages=CARD)
    (r.inbox / "SAME.yaml").write_bytes(manifest)
    r.run(until=lambda: r.statuses(job_id).count("OutputCreated") == 2 and r.stage(job_id) is Stage.HELD, steps=10)
    assert r.job(job_id).blocked


def test_the_same_order_sent_again_while_its_copy_waits_for_a_retry_prints_once(rig: Rig) -> None:
    """Audit BA 1: a storefront's webhook sent an order again, byte for byte, while its job waited
    for a copy retry (or was being made): the manifest "replaced" the job's artwork, which went to
    history/; the job waited for a file that was not coming and failed; nothing printed."""
    r = rig
    away = r.hot.with_name("indigo.unmounted")
    os.replace(r.hot, away)  # the printer's share is not mounted
    job_id = r.order("TW")
    r.run(until=lambda: r.stage(job_id) is Stage.RETRY, steps=10)
    folder = r.root / "work" / job_id
    (r.inbox / "TW-again.yaml").write_bytes((folder / "manifest.yaml").read_bytes())
    r.run(until=lambda: not (r.inbox / "TW-again.yaml").exists(), steps=5)
    assert r.stage(job_id) is Stage.RETRY and [p.name for p in (folder / "artwork").iterdir()] == ["TW.pdf"]
    assert any(p.name.endswith("-TW-again.yaml") for p in (folder / "history").iterdir())
    os.replace(away, r.hot)
    r.run(until=done(r, job_id), steps=10, dt=30)
    assert r.take_prints() == ["TW_TW-1_bc-85x55_x1.pdf"]
    assert "AwaitingData" not in r.statuses(job_id)


def test_a_future_orders_artwork_may_come_until_its_date(rig: Rig) -> None:
    """Audit AY 3: a future order's artwork, sent after its manifest but well before its date, came
    after artwork_timeout_seconds counted from the intake: the job failed "artwork missing" (in
    failed/, "needs attention") hours before it was due. The wait counts from its date."""
    r = rig
    later = (r.clock.now() + timedelta(hours=2)).isoformat()
    (r.inbox / "FA.yaml").write_text(
        f'order_id: "FA"\nprocess_after: "{later}"\nproduct: bc-85x55\nquantity: 1\nartwork: [FA.pdf]\n'
    )
    r.run(until=lambda: r.stage("FA-1") is Stage.AWAITING, steps=10)
    r.run(steps=6, dt=900)  # 1.5 h: more than artwork_timeout_seconds (600 s), less than till its date
    assert r.stage("FA-1") is Stage.AWAITING
    make_pdf(r.inbox / "FA.pdf", pages=CARD)
    r.run(until=lambda: r.stage("FA-1") is Stage.FUTURE, steps=20)  # (held a moment first, as above)
    r.run(until=done(r, "FA-1"), steps=10, dt=900)
    assert r.take_prints() == ["FA_FA-1_bc-85x55_x1.pdf"]
    assert "ValidationFailed" not in r.statuses("FA-1")
    # Still missing at its date + artwork_timeout_seconds: it fails then, as any job.
    later = (r.clock.now() + timedelta(hours=1)).isoformat()
    (r.inbox / "FB.yaml").write_text(
        f'order_id: "FB"\nprocess_after: "{later}"\nproduct: bc-85x55\nquantity: 1\nartwork: [FB.pdf]\n'
    )
    r.run(until=lambda: r.stage("FB-1") is Stage.AWAITING, steps=10)
    r.clock.advance(65 * 60)  # past its date, not yet its date + 600 s
    r.run(steps=1)
    assert r.stage("FB-1") is Stage.AWAITING
    r.clock.advance(6 * 60)
    r.run(until=lambda: r.stage("FB-1") is Stage.FAILED, steps=2)


def test_the_same_manifest_again_leaves_a_future_order_as_it_is(rig: Rig) -> None:
    """Audit BA 1: a FutureOrder's manifest sent again byte for byte put its artwork into history/;
    the job failed "artwork missing" before its date."""
    r = rig
    later = (r.clock.now() + timedelta(hours=5)).isoformat()
    job_id = r.order("FU", extra=f'process_after: "{later}"\n')
    r.run(until=lambda: r.stage(job_id) is Stage.FUTURE and not list(r.inbox.iterdir()), steps=10)
    folder = r.root / "work" / job_id
    (r.inbox / "FU.yaml").write_bytes((folder / "manifest.yaml").read_bytes())
    r.run(until=lambda: not (r.inbox / "FU.yaml").exists(), steps=5)
    assert r.stage(job_id) is Stage.FUTURE and [p.name for p in (folder / "artwork").iterdir()] == ["FU.pdf"]
    r.run(until=done(r, job_id), steps=10, dt=3600)
    assert r.take_prints() == ["FU_FU-1_bc-85x55_x1.pdf"]


def test_a_changed_manifest_without_artwork_says_where_the_jobs_earlier_file_is(rig: Rig) -> None:
    """Audit BA 1: a blocked job's order sent again with another quantity and no PDF waits for the
    PDF it names (as SPEC 5 has it: the manifest's artwork replaces the job's), and fails "artwork
    missing" if none comes; its ERROR.txt did not say that the job's own file was set aside in
    history/, which copied into replace/ makes the job with the new facts."""
    r = rig
    job_id, folder = _held(r, "QC")
    (r.inbox / "QC.yaml").write_text((folder / "manifest.yaml").read_text().replace("quantity: 1", "quantity: 7"))
    r.run(until=lambda: r.stage(job_id) is Stage.AWAITING, steps=20)
    # Audit Q 2: the history said nothing of the new manifest until its artwork came, which it may never.
    awaiting = r.job(job_id).history[-1]
    assert (awaiting.status, awaiting.detail) == (JobStatus.AwaitingData, "new manifest QC.yaml: waiting for QC.pdf")
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=40, dt=300)
    failed = r.root / "failed" / job_id
    error = " ".join((failed / "ERROR.txt").read_text().split())
    [kept] = [p.name for p in (failed / "history").iterdir() if p.name.endswith("-artwork-QC.pdf")]
    assert (
        f"a new manifest replaced the job's artwork, and its earlier file of that name is kept in history/{kept}: "
        "if that is the one to print, copy it into replace/ as QC.pdf"
    ) in error
    shutil.copy(failed / "history" / kept, failed / "replace" / "QC.pdf")  # as it says
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=20)
    assert r.engine.apply(job_id, Action.RELEASE, by="kim", note="").ok
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["QC_QC-1_bc-85x55_x7.pdf"]


@pytest.mark.parametrize("temp_name", [".RS.pdf.Xq31Zb", "RS.pdf.filepart", None])
def test_an_order_sent_again_with_its_artwork_under_a_temporary_name_takes_the_new_artwork(
    rig: Rig, temp_name: str | None
) -> None:
    """Audit AS 1: rsync and WinSCP send an order again (a corrected PDF for a blocked job) manifest
    first, then the PDF under a temporary name (.RS.pdf.Xq31Zb, RS.pdf.filepart) until complete.
    The manifest, alone in the inbox for a moment, was filed as "came again without new artwork",
    the job stayed releasable with the old artwork, and the new PDF went to failed/ unused. A
    manifest sent again waits a moment for its artwork; one being uploaded counts as new artwork
    (the job waits for it, SPEC 5); the PDF coming a moment later (None: under its own name) too."""
    r = rig
    job_id, folder = _held(r, "RS")
    manifest = (folder / "manifest.yaml").read_bytes()
    (r.inbox / "RS.yaml").write_bytes(manifest)
    r.engine.hint(r.inbox / "RS.yaml")
    r.engine.step()  # the manifest is seen complete, the PDF not begun
    new = r.tmp / "new.pdf"
    make_pdf(new, pages=[(91.5, 61.0)] * 2)
    final = r.inbox / "RS.pdf"
    upload = r.inbox / (temp_name or "RS.pdf")
    upload.write_bytes(new.read_bytes()[:300])
    r.engine.hint(upload)
    r.run(until=lambda: not (r.inbox / "RS.yaml").exists(), steps=5, dt=0.5)
    assert "came again, byte for byte" not in (r.root / r.job(job_id).folder / "STATUS.txt").read_text()
    upload.write_bytes(new.read_bytes())
    if temp_name is not None:
        upload.rename(final)
    r.engine.hint(final)
    r.run(until=lambda: r.stage(job_id) is Stage.HELD and r.statuses(job_id).count("OutputCreated") == 2, steps=20)
    assert r.job(job_id).output_pages == 2 and r.job(job_id).blocked
    assert not final.exists() and os.listdir(r.root / "failed") == []


def test_a_file_uploaded_again_for_a_failed_job_is_pointed_to_its_replace_folder(rig: Rig) -> None:
    """Audit T: a complete re-upload of a job's artwork (after a truncated one) went to failed/
    saying "no manifest referred to it", although the failed job's manifest names it."""
    r = rig
    job_id = _failed(r, "UP")
    make_pdf(r.inbox / "UP.pdf", pages=CARD)
    r.run(until=lambda: (r.root / "failed" / "UP.pdf" / "ERROR.txt").is_file(), steps=5, dt=400)
    error = (r.root / "failed" / "UP.pdf" / "ERROR.txt").read_text()
    assert f"job {job_id}'s artwork UP.pdf" in error and f"failed/{job_id}/replace/" in error, error
    assert r.stage(job_id) is Stage.FAILED


def test_the_checked_output_and_the_artwork_are_read_only(rig: Rig) -> None:
    """Audit U: Acrobat's Save on output/ of a job with one print-ready artwork file also changed
    artwork/ (one file, hard-linked): the file as received was lost. Both are read-only once the
    output is recorded (as the operator's account sees them; the test runs as root)."""
    r = rig
    linked, _folder = _held(r, "RO")  # a card without boxes: its output is the artwork + an update
    made = r.order("RO2", extra="blocked: true\n", trimbox=(3, 3, 88, 58))  # print-ready: a link
    r.run(until=lambda: r.stage(made) is Stage.HELD, steps=10)
    for job_id in (linked, made):
        job_dir = r.root / "quarantine" / job_id
        files = [*(job_dir / "artwork").iterdir(), *(job_dir / "output").iterdir()]
        assert len(files) == 2 and all(stat.S_IMODE(p.stat().st_mode) & 0o222 == 0 for p in files), job_id
    assert os.path.samefile(*(p for d in ("artwork", "output") for p in (r.root / "quarantine" / made / d).iterdir()))
    # The job goes on as ever: released, delivered, moved to done/ with its read-only files.
    assert r.engine.apply(made, Action.RELEASE, by="kim", note="").ok
    r.run(until=done(r, made), steps=10)
    assert r.take_prints() == ["RO2_RO2-1_bc-85x55_x1.pdf"]


def test_an_inbox_folder_the_daemon_cannot_change_holds_back_nothing_else(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit W: an upload folder made with umask 022 by its uploader (the daemon's account may read
    it, not remove from it) got its order recorded; its manifest could not leave the inbox, which
    held back every later intake, and its artwork's timeout killed the engine thread. Now nothing
    is taken from it, the log says why, the other orders go on, and it is taken once writable."""
    r = rig
    locked = r.inbox / "x1"
    locked.mkdir()
    make_pdf(locked / "art.pdf", pages=CARD)
    (locked / "manifest.yaml").write_text('order_id: "X1"\nproduct: bc-85x55\nquantity: 1\nartwork: [art.pdf]\n')
    make_pdf(locked / "art3.pdf", pages=CARD)  # named by a manifest at the top of inbox/
    (r.inbox / "X3.yaml").write_text('order_id: "X3"\nproduct: bc-85x55\nquantity: 1\nartwork: [x1/art3.pdf]\n')
    real_access = os.access
    monkeypatch.setattr(
        engine_module.os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode)
    )
    with capture_logs() as logs:
        other = r.order("X2")
        r.run(until=done(r, other), steps=10)
        r.run(steps=3, dt=700)  # past artwork_timeout_seconds: nothing breaks
    assert r.ledger.get_job("X1-1") is None and (locked / "manifest.yaml").is_file()
    assert r.stage("X3-1") is Stage.FAILED and (locked / "art3.pdf").is_file()
    assert "cannot take files out of inbox/x1" in (r.root / "failed" / "X3-1" / "ERROR.txt").read_text()
    r.engine.step()
    assert not any(p in r.engine.tracker for p in locked.iterdir()), "left for the next rescan: no busy loop"
    said = [e for e in logs if e["event"] == "inbox.folder_not_writable"]
    assert len(said) == 1 and "chmod g+w" in said[0]["reason"]

    monkeypatch.undo()
    r.run(
        until=lambda: done(r, "X1-1")() and done(r, "X3-1")(), steps=40
    )  # (X3-1 timed out: its file is held the window first, review EL 3)
    assert sorted(r.take_prints()) == ["X1_X1-1_bc-85x55_x1.pdf", "X2_X2-1_bc-85x55_x1.pdf", "X3_X3-1_bc-85x55_x1.pdf"]


def test_artwork_linked_into_the_inbox_from_elsewhere_is_copied_not_shared(rig: Rig) -> None:
    """Audit W: a file hard-linked into the inbox (`ln` from a storefront's folder) stayed one file
    with the job's artwork and output: made read-only at its source, and an edit there changed
    the checked output."""
    r = rig
    store = r.tmp / "store"
    store.mkdir()
    make_pdf(store / "LK.pdf", pages=CARD, trimbox=(3, 3, 88, 58))
    os.link(store / "LK.pdf", r.inbox / "LK.pdf")
    (r.inbox / "LK.yaml").write_text('order_id: "LK"\nproduct: bc-85x55\nquantity: 1\nartwork: [LK.pdf]\n')
    r.run(until=done(r, "LK-1"), steps=10)
    job_dir = r.root / "done" / "LK-1"
    assert not os.path.samefile(store / "LK.pdf", job_dir / "artwork" / "LK.pdf")
    assert (store / "LK.pdf").read_bytes() == (job_dir / "artwork" / "LK.pdf").read_bytes()
    assert stat.S_IMODE((store / "LK.pdf").stat().st_mode) & 0o200, "the source keeps its mode"
    assert (store / "LK.pdf").stat().st_nlink == 1 and not (r.inbox / "LK.pdf").exists()
    assert r.take_prints() == ["LK_LK-1_bc-85x55_x1.pdf"]


# -- the operator's word and its races (audit Y) ----------------------------------------------------


def _history_names(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / "history").iterdir())


def test_a_replacement_taken_with_a_reject_beside_it_never_prints(rig: Rig) -> None:
    """Audit Y1: a replacement PDF and a REJECT dropped together; the replacement, handled first,
    sent the job on and it printed, the REJECT left unread in done/. The REJECT now comes first."""
    r = rig
    job_id = _failed(r, "YR")
    folder = r.root / "failed" / job_id
    make_pdf(folder / "replace" / "YR.pdf", pages=CARD)
    (folder / "REJECT").write_text("vic\nwrong customer\n")
    r.run(until=lambda: r.stage(job_id) is Stage.REJECTED, steps=10)
    r.run(steps=3)
    assert r.take_prints() == []
    rejected = r.root / "rejected" / job_id
    names = _history_names(rejected)
    assert any(n.endswith("-REJECT") for n in names) and any("refused-YR.pdf" in n for n in names), names
    assert "ArtworkUploaded" not in r.statuses(job_id)[1:]
    assert not (rejected / "REJECT").exists() and not (rejected / "replace").exists()


def test_a_retry_command_waits_behind_a_reject_file(rig: Rig) -> None:
    """Audit Y1: `spo-hotfolder retry` while a REJECT file settles in the folder printed the job."""
    r = rig
    job_id = _failed(r, "YC")
    folder = r.root / "failed" / job_id
    (folder / "REJECT").write_text("vic\n")
    result = r.engine.apply(job_id, Action.RETRY, by="cli", note="")
    assert not result.ok and "REJECT file (REJECT) is in the job's folder" in result.message
    r.run(until=lambda: r.stage(job_id) is Stage.REJECTED, steps=10)
    r.run(steps=3)
    assert r.take_prints() == []


def test_release_and_a_replacement_dropped_together_wait_for_a_release_of_the_new_output(rig: Rig) -> None:
    """Audit Y3: RELEASE and a replacement dropped together printed the old artwork or the new one,
    by timing, and the other file was never answered. The replacement comes first, and the
    RELEASE, given for the output before it, is not taken for the new one."""
    r = rig
    job_id, folder = _held(r, "YB")
    make_pdf(folder / "replace" / "YB.pdf", pages=[(90.5, 61.0)] * 2)
    (folder / "RELEASE").write_text("amy\n")
    uploads = _uploads(r, job_id)
    r.run(until=_settled(r, job_id, uploads + 1), steps=10)
    r.run(steps=3)
    assert r.take_prints() == []
    assert r.stage(job_id) is Stage.HELD and r.job(job_id).blocked
    assert any(n.endswith("unused-RELEASE") for n in _history_names(folder)), _history_names(folder)
    r.engine.flush_status()
    status = (folder / "STATUS.txt").read_text()
    assert "RELEASE not acted on" in status and "release again" in status
    # Then a release of what the operator now sees prints the new artwork.
    (folder / "RELEASE").write_text("amy\n")
    r.run(until=done(r, job_id), steps=10)
    assert len(r.take_prints()) == 1


def test_a_release_command_waits_behind_a_replacement_in_replace(rig: Rig) -> None:
    """The other order of the same race: the release comes first and is refused while a file
    (even one still being uploaded under a temporary name) waits in replace/."""
    r = rig
    job_id, folder = _held(r, "YD")
    (folder / "replace" / ".YD.pdf.part").write_bytes(b"%PDF-1.7\n")
    result = r.engine.apply(job_id, Action.RELEASE, by="cli", note="")
    assert not result.ok and "being uploaded into replace/ (.YD.pdf.part)" in result.message, result.message
    assert "if that upload was abandoned, delete .YD.pdf.part" in result.message
    make_pdf(folder / "replace" / "YD.pdf", pages=CARD)
    result = r.engine.apply(job_id, Action.RELEASE, by="cli", note="")
    assert not result.ok and "a replacement (replace/" in result.message and "release again" in result.message
    (folder / "replace" / "YD.pdf").unlink()
    assert r.job(job_id).blocked
    (folder / "replace" / ".YD.pdf.part").unlink()
    (folder / "replace" / ".DS_Store").write_bytes(b"\0")  # a file manager's litter is no replacement
    assert r.engine.apply(job_id, Action.RELEASE, by="cli", note="").ok


def test_a_winscp_upload_into_replace_is_not_taken_until_it_has_its_name(rig: Rig) -> None:
    """Audit AS 3: WinSCP uploads x.pdf as x.pdf.filepart and renames it at the end (and keeps a
    cut-off one to resume it): the part-file was taken as the replacement, damaged, and the job
    failed. It is an upload under way, as *.part is: not taken, and a release waits for it."""
    r = rig
    job_id, folder = _held(r, "WS")
    partial = folder / "replace" / "WS.pdf.filepart"
    make_pdf(partial, pages=CARD)
    partial.write_bytes(partial.read_bytes()[:200])  # cut off
    r.engine.hint(partial)
    r.run(steps=5, dt=2)
    assert partial.is_file() and r.stage(job_id) is Stage.HELD
    assert "ArtworkUploaded" not in r.statuses(job_id)
    result = r.engine.apply(job_id, Action.RELEASE, by="cli", note="")
    assert not result.ok and "being uploaded into replace/ (WS.pdf.filepart)" in result.message, result.message
    make_pdf(partial, pages=CARD)  # the upload resumed and finished: WinSCP renames it
    partial.rename(folder / "replace" / "WS.pdf")
    r.engine.hint(folder / "replace" / "WS.pdf")
    r.run(until=lambda: "ArtworkUploaded" in r.statuses(job_id), steps=10)
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    assert r.statuses(job_id)[-1] == "OutputCreated"
    assert r.engine.apply(job_id, Action.RELEASE, by="cli", note="").ok
    r.run(until=done(r, job_id), steps=10)
    assert len(r.take_prints()) == 1


def test_drop_files_that_lose_a_race_with_a_command_are_answered(rig: Rig) -> None:
    """Audit Y4: a RETRY file settling when `spo-hotfolder reject` came first was left in
    rejected/ unread, as was a replacement in replace/; both are filed as unused and said."""
    r = rig
    job_id = _failed(r, "YL")
    folder = r.root / "failed" / job_id
    (folder / "RETRY").write_text("tom\n")
    make_pdf(folder / "replace" / "YL.pdf", pages=CARD)
    (folder / "replace" / "Thumbs.db").write_bytes(b"\0")
    assert r.engine.apply(job_id, Action.REJECT, by="cli", note="").ok
    rejected = r.root / "rejected" / job_id
    names = _history_names(rejected)
    assert any(n.endswith("unused-RETRY") for n in names) and any(n.endswith("unused-YL.pdf") for n in names), names
    assert not (rejected / "RETRY").exists() and not (rejected / "replace" / "YL.pdf").exists()
    r.engine.flush_status()
    status = (rejected / "STATUS.txt").read_text()
    assert "REJECT: rejected by cli" in status
    assert "not acted on, as the job was rejected before they were read: RETRY, replace/YL.pdf" in status
    assert "Thumbs.db" not in status


def test_a_job_released_by_command_with_a_release_file_beside_it_files_the_file_when_done(rig: Rig) -> None:
    r = rig
    job_id, _folder = _held(r, "YE")
    assert r.engine.apply(job_id, Action.RELEASE, by="cli", note="").ok
    (r.root / "work" / job_id / "RELEASE").write_text("bo\n")  # arrived as the folder moved
    r.run(until=done(r, job_id), steps=10)
    finished = r.root / "done" / job_id
    assert not (finished / "RELEASE").exists()
    # Read in work/ before the job went on (drop files act there too), and answered: nothing to release.
    assert any(n.endswith("-RELEASE") for n in _history_names(finished))
    assert f"job {job_id} was already released" in (r.engine._last_action_of(job_id) or "")
    assert len(r.take_prints()) == 1


def test_a_manifest_sent_again_with_blocked_true_holds_the_job(rig: Rig) -> None:
    """Audit Y2: `blocked: true` in a manifest that re-sends a failed job was ignored: the job
    printed without the hold its manifest asked for (and `route` said it would be blocked)."""
    r = rig
    job_id = _failed(r, "YM")
    assert not r.job(job_id).blocked
    r.order("YM", extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    r.run(steps=3)
    assert r.take_prints() == []
    job = r.job(job_id)
    assert job.blocked and job.active_block() is not None
    assert job.active_block().detail == "manifest blocked: true"
    statuses = r.statuses(job_id)
    assert statuses.index("Blocked") > statuses.index("ValidationFailed"), statuses


def test_released_jobs_blocked_again_by_a_reprint_are_listed_as_blocked_only(rig: Rig) -> None:
    """Audit Y5: `jobs --released` listed a reprint blocked again; the Blocker Status filter
    chooses between the two lists, which never overlap."""
    r = rig
    job_id, folder = _held(r, "YP")
    (folder / "RELEASE").write_text("amy\n")
    r.run(until=done(r, job_id), steps=10)
    assert [j.job_id for j in r.ledger.iter_jobs(released=True)] == [job_id]
    r.take_prints()
    r.order("YP", extra="blocked: true\nreprint: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    assert [j.job_id for j in r.ledger.iter_jobs(blocked=True)] == [job_id]
    assert list(r.ledger.iter_jobs(released=True)) == []


def _route(r: Rig, manifest: Path) -> dict[str, Any]:
    # A process of its own: the CLI sets up logging for its process (an in-process call would
    # change structlog's configuration under the other tests).
    (result,) = json.loads(run_cli(r.config_path, "route", str(manifest), "--json", check=True).stdout)
    return result  # type: ignore[no-any-return]


def test_route_says_what_the_daemon_does_with_a_known_job(rig: Rig) -> None:
    """Audit Y2, Y6: `route` (a dry run of the daemon's rules) said "blocked: false" for a blocked
    job that stays blocked, and "its artwork would be replaced" for a manifest that comes again
    byte for byte (which changes nothing)."""
    r = rig
    _job_id, folder = _held(r, "YQ")
    again = r.tmp / "again"
    again.mkdir()
    (again / "manifest.yaml").write_bytes((folder / "manifest.yaml").read_bytes())
    result = _route(r, again / "manifest.yaml")
    assert result["blocked"] is True and "nothing would change" in result["known"], result
    unblocked = r.tmp / "unblocked"
    unblocked.mkdir()
    (unblocked / "manifest.yaml").write_text(
        'order_id: "YQ"\nblocked: false\nproduct: bc-85x55\nquantity: 1\nartwork: [a.pdf]\n'
    )
    make_pdf(unblocked / "a.pdf", pages=CARD)
    result = _route(r, unblocked / "manifest.yaml")
    assert result["blocked"] is True and "only a release removes" in result["blocked_reason"], result
    assert "would be replaced" in result["known"]
    failed_id = _failed(r, "YF")
    resend = r.tmp / "resend"
    resend.mkdir()
    (resend / "manifest.yaml").write_text(
        'order_id: "YF"\nblocked: true\nproduct: bc-85x55\nquantity: 1\nartwork: [a.pdf]\n'
    )
    assert _route(r, resend / "manifest.yaml")["blocked"] is True
    (resend / "manifest.yaml").write_text('order_id: "YF"\nproduct: bc-85x55\nquantity: 1\nartwork: [a.pdf]\n')
    assert _route(r, resend / "manifest.yaml")["blocked"] is False
    assert r.stage(failed_id) is Stage.FAILED
    # Audit AK 3, 4: a job id a known one's in other letter case, and a product changed to one the
    # blocking rules hold: `route` said neither, where the daemon refuses the one and blocks the other.
    data = yaml.safe_load(r.config_path.read_text())
    data["blocking"] = {"products": ["poster-*"]}
    r.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    (resend / "manifest.yaml").write_text('order_id: "YF"\nproduct: poster-a1\nquantity: 1\nartwork: [a.pdf]\n')
    result = _route(r, resend / "manifest.yaml")
    assert result["blocked"] is True, result
    assert result["blocked_reason"] == "blocking.products: poster-* (its product changed from bc-85x55 to poster-a1)"
    (resend / "manifest.yaml").write_text('order_id: "yf"\nproduct: bc-85x55\nquantity: 1\nartwork: [a.pdf]\n')
    assert _route(r, resend / "manifest.yaml")["known"] == (
        "job id differs from that of job YF-1 only in letter case (their folders would be one on a Windows "
        "share): this job would be refused"
    )


def test_route_says_a_release_does_not_approve_new_artwork_a_manifest_brings(rig: Rig) -> None:
    """Audit IA 1, 2: a released job whose delivery waits to be tried again (the printer's share
    away), or a failed one released in advance, sent again with new artwork: `route` said "blocked:
    no", and the daemon blocked it again (the release approved another output, or none)."""
    r = rig
    job_id, folder = _held(r, "IR")
    shutil.rmtree(r.hot)  # (the delivery fails, and waits to be tried again)
    (folder / "RELEASE").write_text("alice\n")
    r.run(until=lambda: "CopyToHotFolderFailed" in r.statuses(job_id), steps=20)
    failed_id = _failed(r, "IF", extra="blocked: true\n")
    run_cli(r.config_path, "release", failed_id, "--by", "bob", check=True)
    for order_id, job, by in (("IR", job_id, "alice"), ("IF", failed_id, "bob")):
        resend = r.tmp / f"resend-{order_id}"
        resend.mkdir()
        (resend / f"{order_id}.yaml").write_text(
            f'order_id: "{order_id}"\nproduct: bc-85x55\nquantity: 2\nartwork: [{order_id}.pdf]\n'
        )
        make_pdf(resend / f"{order_id}.pdf", pages=[(91.0, 61.0), (91.5, 61.0)])
        said = _route(r, resend / f"{order_id}.yaml")
        assert said["blocked"] is True and said["blocked_reason"].startswith(f"the release by {by} "), said
        shutil.copy(resend / f"{order_id}.pdf", r.inbox)
        shutil.copy(resend / f"{order_id}.yaml", r.inbox)
        r.run(until=lambda job=job: r.job(job).blocked, steps=20)
        recorded = [e.detail for e in r.job(job).history if e.status is JobStatus.Blocked][-1]
        assert recorded == said["blocked_reason"]


def test_the_same_artwork_sent_again_with_a_new_manifest_keeps_a_release_of_its_output(rig: Rig) -> None:
    """Review IC 2: a job released on its output, its delivery waiting to be tried again, sent again
    with the very same PDF (a quantity changed): blocked again, "the release ... was given in
    advance, with no output to check; a new manifest put in new artwork", both halves false, and
    `route` said the same. The release approved this artwork's output: not blocked, said alike."""
    r = rig
    job_id, folder = _held(r, "IS")
    artwork = (folder / "artwork" / "IS.pdf").read_bytes()
    shutil.rmtree(r.hot)  # (the delivery fails, and waits to be tried again)
    (folder / "RELEASE").write_text("alice\n")
    r.run(until=lambda: "CopyToHotFolderFailed" in r.statuses(job_id), steps=20)
    resend = r.tmp / "resend"
    resend.mkdir()
    (resend / "IS.yaml").write_text('order_id: "IS"\nproduct: bc-85x55\nquantity: 2\nartwork: [IS.pdf]\n')
    (resend / "IS.pdf").write_bytes(artwork)
    said = _route(r, resend / "IS.yaml")
    assert said["blocked"] is False, said
    # Review IC 4: with `blocked: true`, its own word is the reason, as the daemon records it.
    (resend / "blocked.yaml").write_text(
        'order_id: "IS"\nblocked: true\nproduct: bc-85x55\nquantity: 2\nartwork: [IS.pdf]\n'
    )
    assert _route(r, resend / "blocked.yaml")["blocked_reason"] == "manifest blocked: true"
    shutil.copy(resend / "IS.pdf", r.inbox)
    shutil.copy(resend / "IS.yaml", r.inbox)
    r.run(until=lambda: r.job(job_id).quantity == 2 and "ArtworkUploaded" in r.statuses(job_id), steps=20)
    r.hot.mkdir(parents=True)
    r.run(until=done(r, job_id), steps=40, dt=15)
    assert r.statuses(job_id).count("Blocked") == 1 and r.take_prints() == ["IS_IS-1_bc-85x55_x2.pdf"]


def test_route_names_a_reprint_as_the_daemon_does_beside_its_earlier_pdf_not_taken(rig: Rig) -> None:
    """Audit IA 4: a reprint while the job's earlier PDF still waits in the hot folder goes in beside
    it as <name>-reprint1.pdf; `route --json` named the earlier PDF's name."""
    r = rig
    job_id = r.order("IP")
    r.run(until=done(r, job_id), steps=10)
    resend = r.tmp / "resend"
    resend.mkdir()
    (resend / "IP.yaml").write_text(
        'order_id: "IP"\nreprint: true\nproduct: bc-85x55\nquantity: 1\nartwork: [IP.pdf]\n'
    )
    make_pdf(resend / "IP.pdf", pages=CARD)
    assert _route(r, resend / "IP.yaml")["filename"] == "IP_IP-1_bc-85x55_x1-reprint1.pdf"
    shutil.copy(resend / "IP.pdf", r.inbox)
    shutil.copy(resend / "IP.yaml", r.inbox)
    r.run(until=lambda: "RecreationRequested" in r.statuses(job_id) and r.stage(job_id) is Stage.DONE, steps=20)
    assert r.take_prints() == ["IP_IP-1_bc-85x55_x1-reprint1.pdf", "IP_IP-1_bc-85x55_x1.pdf"]


def test_an_offline_replace_killed_half_way_is_finished_by_the_daemon(rig: Rig) -> None:
    """Audit X1: `spo-hotfolder replace` with no daemon running, killed (Ctrl-C, a dropped SSH
    session) after the old artwork went into history/: the job kept its old record with the new
    file in artwork/, and a plain RELEASE printed that file with no ArtworkUploaded in the history.
    The CLI now stages the command as it does for a running daemon; the daemon finishes it."""
    from spo_hotfolder.cli import main
    from spo_hotfolder.ledger import Ledger as LedgerClass

    r = rig
    job_id, folder = _held(r, "YX")
    make_pdf(r.tmp / "new.pdf", pages=[(90.5, 61.0)] * 2)
    new_sha = hashlib.sha256((r.tmp / "new.pdf").read_bytes()).hexdigest()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child: the CLI, killed in the middle
        try:
            with pytest.MonkeyPatch.context() as patch:
                _crash_before(patch, LedgerClass, "mark_artwork_present")
                main(["-c", str(r.config_path), "replace", job_id, str(r.tmp / "new.pdf"), "--by", "cli-kill"])
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == KILLED
    assert "ArtworkUploaded" not in r.statuses(job_id)  # half-way: the ledger does not have it yet
    r.start()  # the daemon starts
    r.run(until=lambda: r.stage(job_id) is Stage.HELD and "ArtworkUploaded" in r.statuses(job_id), steps=10)
    r.run(until=lambda: r.statuses(job_id)[-1] == "OutputCreated", steps=10)
    job = r.job(job_id)
    uploaded = next(e for e in job.history if e.status is JobStatus.ArtworkUploaded)
    assert uploaded.by == "cli-kill" and new_sha[:12] in uploaded.detail
    assert job.blocked
    commands = r.config.paths.state / "commands"
    assert [p.name for p in commands.iterdir()] == []
    art = folder / "artwork" / "YX.pdf"
    assert hashlib.sha256(art.read_bytes()).hexdigest() == new_sha
    (folder / "RELEASE").write_text("bob\n")
    r.run(until=done(r, job_id), steps=10)
    assert len(r.take_prints()) == 1


def test_a_reload_that_routes_a_waiting_job_nowhere_says_so(rig: Rig) -> None:
    """Audit X2: a reload that removed a hot folder (or its route) turned jobs on their way to it
    into CopyToHotFolderSkipped with only an info line: jobs meant for a printer finished
    unprinted without a word. It is now a warning at the reload, and the skip says why."""
    r = rig
    job_id, folder = _held(r, "YS")
    assert r.job(job_id).route == "indigo"
    r.write_routes([{"to": "skip"}])
    with capture_logs() as logs:
        r.engine.set_config(load_config(r.config_path))
        r.run(steps=1)
    changed = [e for e in logs if e["event"] == "job.route_changed"]
    assert changed and changed[0]["log_level"] == "warning" and "will not be printed" in changed[0]["reason"]
    # Said where the operator looks too: its last change moved with no new status (audit: SIGHUP).
    status = (folder / "STATUS.txt").read_text()
    assert (
        "config reloaded: this job now goes to no hot folder (the routes say skip) (it was going to indigo)" in status
    )
    (folder / "RELEASE").write_text("amy\n")
    r.run(until=done(r, job_id), steps=10)
    skipped = next(e for e in r.job(job_id).history if e.status is JobStatus.CopyToHotFolderSkipped)
    assert "(the config was changed: it was going to indigo)" in skipped.detail
    # Its manifest again: refused as finished without a hot folder, not "nothing printed twice" (audit BC 3).
    (r.inbox / "YS.yaml").write_bytes((r.root / "done" / job_id / "manifest.yaml").read_bytes())
    r.run(until=lambda: any((r.root / "failed").glob("YS.yaml*")), steps=10)
    [refused] = list((r.root / "failed").glob("YS.yaml*"))
    error = " ".join((refused / "ERROR.txt").read_text().split())
    assert "was already finished without a hot folder" in error and "Nothing was printed." in error, error


def test_routes_changed_while_the_daemon_was_stopped_are_said_at_its_start(rig: Rig) -> None:
    """Audit AT 6: after a restart on a config without the job's hot folder, the job went elsewhere
    (or nowhere) without a word: its history jumped from its hot folder's attempts to another."""
    r = rig
    job_id, folder = _held(r, "RT")
    assert r.job(job_id).route == "indigo"
    r.write_routes([{"to": "skip"}])
    r.config = load_config(r.config_path)
    with capture_logs() as logs:
        r.start()  # a restart on the edited config
    # Said at the start, as a reload says it (audit T 1: only at the release, and `show`, `jobs`
    # kept the old hot folder until then), not again when it takes effect.
    [changed] = [e for e in logs if e["event"] == "job.route_changed"]
    assert (changed["old"], changed["new"], changed["log_level"]) == ("indigo", "skip", "warning")
    assert changed["reason"].startswith(
        "the config's routes, edited while the daemon was stopped, send this job to no hot folder"
    )
    assert r.job(job_id).route == "skip"
    r.engine.flush_status()
    assert "config edited while the daemon was stopped: this job now goes to no hot folder" in " ".join(
        (folder / "STATUS.txt").read_text().split()
    )
    (folder / "RELEASE").write_text("amy\n")
    with capture_logs() as logs:
        r.run(until=done(r, job_id), steps=10)
    assert [e for e in logs if e["event"] == "job.route_changed"] == []
    skipped = next(e for e in r.job(job_id).history if e.status is JobStatus.CopyToHotFolderSkipped)
    assert "(the config was changed: it was going to indigo)" in skipped.detail
    assert r.take_prints() == []
    # The release's answer says it too (audit AV: only STATUS.txt's advice did, before it).
    answer = " ".join((r.root / "done" / job_id / "STATUS.txt").read_text().split())
    assert "released by amy; it approves the output made at" in answer, answer
    assert "; the routes send it to no hot folder: it is finished unprinted (CopyToHotFolderSkipped)" in answer


def test_a_reload_that_takes_away_the_hot_folder_of_jobs_waiting_for_their_artwork_says_so(rig: Rig) -> None:
    """Audit T 2: jobs still waiting for their artwork (no route recorded yet) were left out of the
    reload's warnings: one whose manifest names the removed hot folder failed without a word of the
    reload when its artwork came, one routed to it was finished unprinted ("route 1: ...")."""
    r = rig
    (r.inbox / "AW.yaml").write_text(
        'order_id: "AW"\nproduct: bc-85x55\nquantity: 1\nhot_folder: large\nartwork: [AW.pdf]\n'
    )
    (r.inbox / "AX.yaml").write_text('order_id: "AX"\nproduct: poster-1\nquantity: 1\nartwork: [AX.pdf]\n')
    r.run(until=lambda: r.stage("AW-1") is Stage.AWAITING and r.stage("AX-1") is Stage.AWAITING, steps=10)
    data = yaml.safe_load(r.config_path.read_text())
    del data["hot_folders"]["large"]
    data["routes"] = [{"when": {"product": "bc-*"}, "to": "indigo"}, {"to": "skip"}]
    r.config_path.write_text(yaml.safe_dump(data))
    with capture_logs() as logs:
        r.engine.set_config(load_config(r.config_path))
        r.run(steps=1)
    [removed] = [e for e in logs if e["event"] == "job.hot_folder_removed"]
    assert removed["job_id"] == "AW-1" and removed["hot_folder"] == "large"
    [changed] = [e for e in logs if e["event"] == "job.route_changed"]
    assert (changed["job_id"], changed["old"], changed["new"], changed["log_level"]) == (
        "AX-1",
        "large",
        "skip",
        "warning",
    )
    make_pdf(r.inbox / "AX.pdf", pages=[(420, 594)])
    r.run(until=done(r, "AX-1"), steps=10)
    skipped = next(e for e in r.job("AX-1").history if e.status is JobStatus.CopyToHotFolderSkipped)
    assert skipped.detail.endswith("(the config was changed: it was going to large)"), skipped.detail


def test_a_reload_that_routes_a_job_waiting_for_its_artwork_elsewhere_rewrites_its_status(rig: Rig) -> None:
    """README walk N2: a job waiting in work/ for its artwork (no route recorded yet) kept "Goes to:
    hot folder indigo" in its STATUS.txt after a reload that routes it to another hot folder, while
    `show` and `jobs` said the new one; no notice, no log line."""
    r = rig
    (r.inbox / "AR.yaml").write_text('order_id: "AR"\nproduct: bc-85x55\nquantity: 1\nartwork: [AR.pdf]\n')
    r.run(until=lambda: r.stage("AR-1") is Stage.AWAITING, steps=10)
    r.engine.flush_status()
    status = r.root / "work" / "AR-1" / "STATUS.txt"
    assert "Goes to: hot folder indigo" in status.read_text()
    r.write_routes([{"to": "large"}])
    with capture_logs() as logs:
        r.engine.set_config(load_config(r.config_path))
        r.run(steps=1)
    r.engine.flush_status()
    text = " ".join(status.read_text().split())
    assert "Goes to: hot folder large" in text, text
    assert "config reloaded: this job now goes to hot folder large (it was going to indigo)" in text, text
    [changed] = [e for e in logs if e["event"] == "job.route_changed"]
    assert (changed["job_id"], changed["old"], changed["new"]) == ("AR-1", "indigo", "large")


def test_a_reload_that_routes_a_job_waiting_to_retry_nowhere_says_it_ends_at_its_next_step(rig: Rig) -> None:
    """Audit AL 5: for a job waiting for its next delivery attempt, the warning's "change the routes
    back and reload if that is not meant" came too late: the job was skipped into done/ at its
    next attempt, seconds later. It says so, and how to print it then."""
    r = rig
    shutil.rmtree(r.hot)  # the share is not mounted: the delivery waits for its next attempt
    job_id = r.order("YT")
    r.run(until=lambda: r.stage(job_id) is not None and "CopyToHotFolderFailed" in r.statuses(job_id), steps=10)
    assert r.stage(job_id) is Stage.RETRY
    r.write_routes([{"to": "skip"}])
    with capture_logs() as logs:
        r.engine.set_config(load_config(r.config_path))
        r.run(steps=1)
    changed = [e for e in logs if e["event"] == "job.route_changed"]
    assert changed and "it is finished unprinted at its next step" in changed[0]["reason"]
    assert "send its manifest again with reprint: true" in changed[0]["reason"]


def test_why_a_reload_routed_a_job_nowhere_is_said_after_a_restart_too(rig: Rig) -> None:
    """Audit BP 2: the reason was kept in memory only: a held job released after a restart (or a
    crash) was skipped with the bare "route 1", unprinted without a word why."""
    r = rig
    job_id, folder = _held(r, "YR")
    r.write_routes([{"to": "skip"}])
    r.config = load_config(r.config_path)
    r.engine.set_config(r.config)
    r.run(steps=1)
    assert r.job(job_id).route == "skip"
    r.start()  # a restart (after a crash or not) on the reloaded config
    (folder / "RELEASE").write_text("amy\n")
    r.run(until=done(r, job_id), steps=10)
    skipped = next(e for e in r.job(job_id).history if e.status is JobStatus.CopyToHotFolderSkipped)
    assert skipped.detail == "route 1 (the config was changed: it was going to indigo)"
    assert r.ledger.rerouted() == {}, "said once, then forgotten"
    assert r.take_prints() == []


def test_a_rejected_jobs_reload_reason_does_not_follow_its_reprint(rig: Rig) -> None:
    """Audit BT 6: the reason outlived the job's rejection; its reprint, routed afresh, was skipped
    "(the config was changed: it was going to indigo)"."""
    r = rig
    job_id, folder = _held(r, "YJ")
    r.write_routes([{"to": "skip"}])
    r.engine.set_config(load_config(r.config_path))
    r.run(steps=1)
    assert r.ledger.rerouted() == {job_id: "indigo"}
    (folder / "REJECT").write_text("amy\n")
    r.run(until=lambda: r.stage(job_id) is Stage.REJECTED, steps=10)
    assert r.ledger.rerouted() == {}
    r.order("YJ", extra="reprint: true\nblocked: false\n")
    r.run(until=lambda: r.statuses(job_id)[-1] == "CopyToHotFolderSkipped", steps=20)
    assert r.job(job_id).history[-1].detail == "route 1"


def test_a_hot_folder_a_manifest_names_removed_by_a_reload_fails_its_job_saying_so(rig: Rig) -> None:
    """Audit BP 1: no word at the reload, and the failed attempt had no "attempt n of max"."""
    r = rig
    data = yaml.safe_load(r.config_path.read_text())
    data["hot_folders"]["spare"] = {"path": str(r.tmp / "spare-not-mounted")}
    r.config_path.write_text(yaml.safe_dump(data))
    r.engine.set_config(load_config(r.config_path))
    job_id = r.order("YH", extra="hot_folder: spare\n")
    r.run(until=lambda: r.stage(job_id) is Stage.RETRY, steps=10)
    del data["hot_folders"]["spare"]
    r.config_path.write_text(yaml.safe_dump(data))
    with capture_logs() as logs:
        r.engine.set_config(load_config(r.config_path))
        r.run(steps=1)
    [removed] = [e for e in logs if e["event"] == "job.hot_folder_removed"]
    assert removed["job_id"] == job_id and removed["hot_folder"] == "spare"
    assert "its delivery fails (into failed/) unless the hot folder is added again" in removed["reason"]
    r.engine.flush_status()
    status = (r.root / "work" / job_id / "STATUS.txt").read_text()
    assert "Goes to: hot folder spare  (manifest hot_folder)\n         which is not in the config (any more)" in status
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=40)
    assert r.job(job_id).history[-1].detail == (
        "attempt 2 of 3, hot folder 'spare', which this job's manifest names, is not in the config (any more); "
        "add it again and reload; not tried again: this cannot work without a change"
    )
    assert r.take_prints() == []
    failed = r.root / "failed" / job_id
    assert "Have hot folder spare added to the config again" in (failed / "ERROR.txt").read_text()
    assert (
        "Have hot folder spare added to the config again (and reloaded), then drop a file named RETRY"
        in (failed / "STATUS.txt").read_text()
    )


@pytest.mark.parametrize("fingerprint", [False, True])
def test_artwork_changed_in_its_folder_after_its_check_is_never_released(rig: Rig, fingerprint: bool) -> None:
    """Audit BT 1: where the output is a file of its own (boxes added, or a copy of an artwork the
    daemon does not own), artwork/ overwritten in place went unnoticed: STATUS.txt showed the new
    file's fingerprint, a RELEASE naming it was taken, and the printer got the checked output made
    from the old one. Artwork changed since its check: the release is refused and the job fails."""
    r = rig
    job_id, folder = _held(r, "AC")
    artwork = folder / "artwork" / "AC.pdf"
    assert not os.path.samefile(artwork, folder / "output" / r.job(job_id).output)
    other = make_pdf(r.tmp / "other.pdf", pages=CARD, trimbox=(3, 3, 88, 58))
    artwork.chmod(0o644)  # the operator's own file (uploaded over a share), or a share ignoring modes
    artwork.write_bytes(other.read_bytes())
    shown = hashlib.sha256(other.read_bytes()).hexdigest()[:12]
    (folder / "RELEASE").write_text("olga\n" + (f"artwork: {shown}\n" if fingerprint else ""))
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=10)
    last = r.job(job_id).history[-1]
    assert (last.status, last.detail) == (
        JobStatus.ValidationFailed,
        "artwork changed in its folder after it was checked: AC.pdf; its output was not sent",
    )
    assert r.job(job_id).blocked, "the release was refused"
    assert r.take_prints() == []
    error = (r.root / "failed" / job_id / "ERROR.txt").read_text()
    assert "artwork/AC.pdf is not the file that was checked" in error and "RETRY" in error


@pytest.mark.parametrize("linked", [True, False])
def test_an_output_whose_time_stamp_alone_changed_is_still_released(rig: Rig, linked: bool) -> None:
    """Audit BV 1: `touch` on artwork/ (the same file as output/ in a job whose artwork is print
    ready), or a backup tool restoring the time stamps, failed the job at RELEASE as "its output
    file was changed": the content is the checked one, so it goes out."""
    r = rig
    job_id = r.order("TS", extra="blocked: true\n", trimbox=(3, 3, 88, 58) if linked else None)
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    folder = r.root / "quarantine" / job_id
    output = folder / "output" / r.job(job_id).output
    assert os.path.samefile(output, folder / "artwork" / "TS.pdf") is linked
    later = output.stat().st_mtime + 3600
    for path in (output, folder / "artwork" / "TS.pdf"):
        os.utime(path, (later, later))
    (folder / "RELEASE").write_text("bea\n")
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["TS_TS-1_bc-85x55_x1.pdf"]


def test_the_fix_for_a_one_file_job_does_not_ask_for_the_same_name(rig: Rig) -> None:
    """Audit Z1: ERROR.txt asked for "the same file name as in artwork/", but a one-file job takes
    a replacement of any name (SPEC 4: the name matters for a job with several files)."""
    r = rig
    job_id = _failed(r, "YN")
    error = (r.root / "failed" / job_id / "ERROR.txt").read_text()
    assert "Put a corrected PDF into replace/, or" in error and "same file name" not in error


# -- the re-audit of the operator's races (audit Z2) -----------------------------------------------


def test_a_command_given_with_umask_077_is_readable_by_the_daemons_group(rig: Rig) -> None:
    """Audit BS D3: an operator with umask 077 ran `release` and `replace`: the daemon (another
    account, in the group) could not read the command files, dropped them, and the CLI said after
    30 s that the daemon was busy or hung; the staging folder stayed, the daemon unable to empty it."""
    from spo_hotfolder.commands import _stage_command

    r = rig
    job_id, _folder = _held(r, "UM7")
    make_pdf(r.tmp / "new.pdf", pages=[(90.5, 61.0)] * 2)
    before = os.umask(0o077)
    try:
        staged = _stage_command(r.config, Action.REPLACE, job_id, "alice", "", r.tmp / "new.pdf")
    finally:
        os.umask(before)
    copy = Path(json.loads(staged.read_text())["file"])
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in (staged, copy.parent, copy)}
    assert modes == {staged.name: 0o664, copy.parent.name: 0o775, copy.name: 0o664}, modes


def test_a_release_waits_behind_a_replace_command_not_done_yet(rig: Rig) -> None:
    """Audit Z2-1: a `replace` whose command file waited (a CLI killed half-way, or a daemon that has
    not read it yet) did not stop a RELEASE: the job printed the replacement nobody had seen."""
    from spo_hotfolder.commands import _stage_command

    r = rig
    job_id, _folder = _held(r, "ZA")
    make_pdf(r.tmp / "new.pdf", pages=[(90.5, 61.0)] * 2)
    _stage_command(r.config, Action.REPLACE, job_id, "bob", "", r.tmp / "new.pdf")
    result = r.engine.apply(job_id, Action.RELEASE, by="alice", note="")
    assert not result.ok and "given with `spo-hotfolder replace` (new.pdf) is not taken yet" in result.message
    r.run(until=lambda: _uploads(r, job_id) == 1 and r.statuses(job_id)[-1] == "OutputCreated", steps=10)
    assert r.stage(job_id) is Stage.HELD and r.job(job_id).blocked
    assert r.take_prints() == []


def test_a_replace_command_takes_a_file_whose_name_is_255_bytes_long(rig: Rig) -> None:
    """Audit BX 5: `spo-hotfolder replace` of a file named with 251-255 bytes failed "File name too
    long" (it was copied under ".<name>.tmp"); the same file dropped into replace/ was taken."""
    from spo_hotfolder.commands import _stage_command

    r = rig
    job_id, _folder = _held(r, "ZL")
    name = "n" * 251 + ".pdf"
    make_pdf(r.tmp / name, pages=[(90.5, 61.0)] * 2)
    staged = _stage_command(r.config, Action.REPLACE, job_id, "bob", "", r.tmp / name)
    assert Path(json.loads(staged.read_text())["file"]).name == name
    r.run(until=lambda: _uploads(r, job_id) == 1 and r.statuses(job_id)[-1] == "OutputCreated", steps=10)


def _given_by(staged: Path, pid: int) -> None:
    """The staged command as given by the CLI process ``pid``."""
    command = json.loads(staged.read_text())
    staged.write_text(json.dumps({**command, "pid": pid}))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_an_offline_command_this_user_may_not_do_says_it_is_not_kept(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit BU 10: with the daemon stopped, an operator's release that must move the job's folder
    into work/, which only the daemon's account may write, said "start the daemon (it then does the
    command at once)": read as queued, while nothing was kept and the job stayed blocked."""
    from spo_hotfolder.commands import _run_offline, _stage_command
    from spo_hotfolder.service import offline_lock

    r = rig
    job_id, _folder = _held(r, "OK")
    staged = _stage_command(r.config, Action.RELEASE, job_id, "bob", "", None)
    work = r.root / "work"
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != work and real_access(p, mode, **kw))
    with offline_lock(r.config) as offline:
        assert offline
        result = _run_offline(r.config, r.ledger, job_id, staged.stem, give_up=False)
    assert result is not None and not result.ok
    assert "nothing was changed, and the command is not kept; start the daemon, then give it again" in result.message
    assert not staged.exists() and r.job(job_id).blocked


def test_two_offline_commands_at_once_go_one_after_the_other(rig: Rig) -> None:
    """Audit AC 1: with the daemon stopped, two operators releasing a job at once: the second was
    told the first "is not done yet" and to start the daemon, while the first's CLI was about to do
    it. A command given after another whose CLI still runs waits for it, then gets its own answer
    (here: already released, by whom)."""
    from spo_hotfolder.commands import _run_offline, _stage_command
    from spo_hotfolder.service import offline_lock

    r = rig
    job_id, _folder = _held(r, "ZW")
    staged = _stage_command(r.config, Action.RELEASE, job_id, "bob", "", None)
    first = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "spo-hotfolder", "release"])
    second: subprocess.Popen[str] | None = None
    result = None
    try:
        deadline = time.monotonic() + 10  # (Popen returns before /proc's command line is filled)
        while not Path(f"/proc/{first.pid}/cmdline").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.005)
        _given_by(staged, first.pid)
        second = subprocess.Popen(
            [sys.executable, "-m", "spo_hotfolder.cli", "-c", str(r.config_path), "release", job_id, "--by", "alice"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)
        assert second.poll() is None, second.communicate()  # waiting, not refused at once
        # The first CLI gets the lock and releases. It tries as the CLI does, every 0.1 s: the
        # waiting second one holds the lock for a moment at each of its own looks (CI once).
        deadline = time.monotonic() + 10
        while result is None and time.monotonic() < deadline:
            with offline_lock(r.config) as offline:
                if offline:
                    result = _run_offline(r.config, r.ledger, job_id, staged.stem, give_up=False)
                    assert result is not None, "the first command was not there to do"
            if result is None:
                time.sleep(0.1)
        assert result is not None and result.ok, result
    finally:
        first.kill()
        first.wait()
        if second is not None and result is None:
            second.kill()  # (the test failed: no process left to the next tests)
            second.communicate()
    assert second is not None
    out, err = second.communicate(timeout=30)
    assert second.returncode == 1, (out, err)
    assert "cannot release" in err and "bob" in err and "not done yet" not in err, err
    blocked = [e for e in r.job(job_id).whole_history() if e.status is JobStatus.Blocked]
    assert [e.removed_by for e in blocked] == ["bob"]  # released once, by the first


def test_an_offline_command_waits_for_an_earlier_one_left_unfinished(rig: Rig) -> None:
    """Audit Z2-1/2: with the daemon stopped, a release (or a second replace) after a replace that a
    killed CLI left half done acted at once; the older replacement then came on top of it."""
    from spo_hotfolder.commands import _stage_command

    r = rig
    job_id, _folder = _held(r, "ZB")
    make_pdf(r.tmp / "new.pdf", pages=[(90.5, 61.0)] * 2)
    staged = _stage_command(r.config, Action.REPLACE, job_id, "bob", "", r.tmp / "new.pdf")
    _given_by(staged, _dead_pid())  # (the CLI that gave it was killed)
    for args in (("release", job_id), ("replace", job_id, str(r.tmp / "new.pdf"))):
        result = run_cli(r.config_path, *args)
        assert result.returncode == 1, result
        assert (
            "an earlier `replace` of this job is not done yet (its CLI is still at it, or was interrupted); start "
            "the daemon" in result.stderr
        )
    assert r.job(job_id).blocked and _uploads(r, job_id) == 0
    # Refused, they are withdrawn: only the earlier replace is left for the daemon to do.
    assert [c["action"] for c in r.engine.pending_commands(job_id)] == ["REPLACE"]


def test_a_refused_replacement_dropped_with_a_release_prints_nothing(rig: Rig) -> None:
    """Audit Z2-3: a replacement refused (a wrong name, not a PDF) and a RELEASE dropped with it:
    the RELEASE then printed the old artwork, and STATUS.txt said nothing of the refusal."""
    r = rig
    job_id, folder = _held(r, "ZC")
    (folder / "replace" / "new.docx").write_bytes(b"PK\x03\x04 a word file")
    (folder / "RELEASE").write_text("alice\n")
    r.run(until=lambda: not (folder / "RELEASE").exists() and not (folder / "replace" / "new.docx").exists())
    r.run(steps=3)
    assert r.take_prints() == []
    assert r.stage(job_id) is Stage.HELD and r.job(job_id).blocked
    r.engine.flush_status()
    status = (folder / "STATUS.txt").read_text()
    assert "REPLACE by" in status and "new.docx is not a PDF" in status
    assert "RELEASE not acted on" in status and "with the replacement, which was refused" in status


def test_a_reject_that_cannot_be_read_stops_the_release_dropped_with_it(rig: Rig) -> None:
    """Audit Z2-4: a REJECT that is a symbolic link was refused, and the RELEASE beside it printed."""
    r = rig
    job_id, folder = _held(r, "ZD")
    (folder / "REJECT").symlink_to("/etc/hostname")
    (folder / "RELEASE").write_text("alice\n")
    r.run(until=lambda: not os.path.lexists(folder / "RELEASE") and not os.path.lexists(folder / "REJECT"))
    r.run(steps=3)
    assert r.take_prints() == []
    assert r.stage(job_id) is Stage.HELD and r.job(job_id).blocked
    r.engine.flush_status()
    status = (folder / "STATUS.txt").read_text()
    assert "could not be read, so the job was not rejected" in status
    assert "RELEASE by alice refused" in status  # the name written in it (audit Z3-4)


def test_a_release_that_copies_status_txts_fingerprint_line_approves_that_artwork_only(rig: Rig) -> None:
    """Audit CC: a RELEASE with STATUS.txt's own line "Artwork fingerprint: <fp>" was read as a
    note: a replacement another operator had put in meanwhile was released with it and printed."""
    r = rig
    job_id, folder = _held(r, "FP")
    [seen] = [
        line for line in (folder / "STATUS.txt").read_text().splitlines() if line.startswith("Artwork fingerprint:")
    ]
    make_pdf(folder / "replace" / "FP.pdf", pages=CARD, trimbox=(3, 3, 88, 58))
    r.run(until=lambda: [e.status for e in r.job(job_id).history].count(JobStatus.OutputCreated) == 2, steps=10)
    (folder / "RELEASE").write_text(f"alice\n{seen}\n")
    r.run(until=lambda: not (folder / "RELEASE").exists(), steps=10)
    r.run(steps=3)
    assert r.take_prints() == [] and r.stage(job_id) is Stage.HELD and r.job(job_id).blocked
    said = " ".join((folder / "STATUS.txt").read_text().split())
    assert f"RELEASE by alice refused: this RELEASE approves artwork {seen.split()[-1]}" in said, said


def test_a_release_in_advance_that_names_the_artwork_does_not_approve_other_artwork(rig: Rig) -> None:
    """Audit Z2-5: `artwork: <fingerprint>` in a RELEASE for a failed job approves that artwork
    only (README); a replacement with other artwork then printed unseen. It is blocked again."""
    r = rig
    job_id = _failed(r, "ZE", extra="blocked: true\n")
    folder = r.root / "failed" / job_id
    fingerprint = r.engine.extra(r.job(job_id)).fingerprint
    assert fingerprint
    (folder / "RELEASE").write_text(f"alice\nartwork: {fingerprint}\n")
    r.run(until=lambda: not r.job(job_id).blocked, steps=10)
    # Its answer says so (audit BE D1: "no new release needed" for a corrected PDF).
    said = " ".join((folder / "STATUS.txt").read_text().split())
    assert f"this release approves artwork {fingerprint} only: a corrected PDF put into replace/ is other" in said
    assert "no new release needed" not in said
    make_pdf(folder / "replace" / "ZE.pdf", pages=CARD)
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    r.run(steps=3)
    assert r.take_prints() == []
    block = r.job(job_id).active_block()
    assert block is not None and f"approved artwork {fingerprint[:12]} only" in block.detail


def test_a_drop_file_in_a_folder_a_crash_left_behind_is_answered_when_it_moves(rig: Rig) -> None:
    """Audit Z2-6: a REJECT committed, then a crash before the folder moved; a RELEASE dropped into
    the old folder moved with it into rejected/ and stayed there unanswered. (The folder moves
    before the commit now; a power cut that forgets the rename, which is not synced, leaves it.)"""
    r = rig
    job_id, folder = _held(r, "ZF")
    (folder / "REJECT").write_text("vic\n")
    life_until_killed(r, lambda mp: _crash_before(mp, Engine, "_answer_leftovers"))  # after the commit
    assert r.stage(job_id) is Stage.REJECTED and not folder.exists()
    os.replace(r.root / "rejected" / job_id, folder)  # the rename the power cut forgot
    (folder / "RELEASE").write_text("alice\n")
    r.start()
    r.run(steps=2)
    rejected = r.root / "rejected" / job_id
    assert not (rejected / "RELEASE").exists()
    assert any(n.endswith("unused-RELEASE") for n in _history_names(rejected))


@pytest.mark.parametrize(
    ("named", "given"),
    [("caf\u00e9.pdf", "cafe\u0301.pdf"), ("l" * 230 + ".pdf", "l" * 230 + ".pdf")],
    ids=["unicode-form", "long-name"],
)
def test_a_replacement_named_as_its_manifest_names_it_replaces_its_artwork(rig: Rig, named: str, given: str) -> None:
    """Audit (operators at scale): in a job of two artwork files, a replacement "café.pdf" from a
    Mac (the accent a character of its own, NFD) was refused: "the replacement's name 'café.pdf'
    must be the name of the one it replaces", two names that print the same. Letter case was
    already set aside; now the Unicode form is too, as for artwork in the inbox. Audit BX 6: one
    named with more than 200 bytes is kept in artwork/ shortened (with a hash); a replacement under
    the name the manifest gave was refused."""
    r = rig
    make_pdf(r.inbox / "front.pdf", pages=[(91.0, 61.0)])
    make_pdf(r.inbox / named, pages=[(91.0, 61.0)])
    (r.inbox / "UF.yaml").write_text(
        f'order_id: "UF"\nproduct: bc-85x55\nquantity: 1\nblocked: true\nartwork: [front.pdf, "{named}"]\n'
    )
    r.run(until=lambda: r.stage("UF-1") is Stage.HELD, steps=10)
    folder = r.root / "quarantine" / "UF-1"
    [stored] = [p.name for p in (folder / "artwork").iterdir() if p.name != "front.pdf"]
    assert stored == named if len(named) < 200 else (stored != named and len(stored.encode()) <= 200)
    before = (folder / "artwork" / stored).read_bytes()
    make_pdf(folder / "replace" / given, pages=[(91.0, 61.0)], content=b"% corrected\n")
    r.run(until=lambda: "ArtworkUploaded" in r.statuses("UF-1") and r.stage("UF-1") is Stage.HELD, steps=20)
    assert sorted(p.name for p in (folder / "artwork").iterdir()) == sorted(["front.pdf", stored])
    assert (folder / "artwork" / stored).read_bytes() != before
    assert "must be the name of the one it replaces" not in (folder / "STATUS.txt").read_text()


def test_file_manager_litter_in_any_case_does_not_hold_a_release(rig: Rig) -> None:
    r = rig
    job_id, folder = _held(r, "ZG")
    for name in ("thumbs.db", "Desktop.ini", ".localized", ".~lock.ZG.pdf#"):
        (folder / "replace" / name).write_bytes(b"\0")
    assert r.engine.apply(job_id, Action.RELEASE, by="cli", note="").ok


def test_every_answer_of_one_round_is_in_status_txt(rig: Rig) -> None:
    """Audit Z2-7: REJECT, a replacement and RELEASE dropped together: STATUS.txt showed only the
    last answer, so the replacement's refusal was said nowhere an operator looks."""
    r = rig
    job_id, folder = _held(r, "ZH")
    make_pdf(folder / "replace" / "ZH.pdf", pages=CARD)
    (folder / "REJECT").write_text("vic\n")
    (folder / "RELEASE").write_text("amy\n")
    r.run(until=lambda: r.stage(job_id) is Stage.REJECTED, steps=10)
    r.run(steps=2)
    assert r.take_prints() == []
    status = (r.root / "rejected" / job_id / "STATUS.txt").read_text()
    last = status.split("Last action or notice: ", 1)[1].split("\n\n", 1)[0]
    assert "REPLACE by" in last and "REJECT file (REJECT) is in the job's folder" in last, last
    assert "RELEASE not acted on" in last and "REJECT: rejected by vic" in last, last


def test_a_reject_still_being_written_acts_once_complete_with_its_name(rig: Rig) -> None:
    """Audit Z2-7: a RELEASE made every drop file in the folder be read at once, settled or not: a
    REJECT still being written was taken empty ("rejected by the operator"), its name and note lost.
    It now holds the RELEASE back and acts once complete."""
    r = rig
    job_id, folder = _held(r, "ZR")
    writer = open(folder / "REJECT", "w")  # noqa: SIM115 - written across steps
    try:
        writer.write("carol\n")
        writer.flush()
        (folder / "RELEASE").write_text("amy\n")
        r.run(until=lambda: not (folder / "RELEASE").exists(), steps=10)
        assert r.stage(job_id) is Stage.HELD and r.job(job_id).blocked
        writer.write("too dark\n")
    finally:
        writer.close()
    r.run(until=lambda: r.stage(job_id) is Stage.REJECTED, steps=10)
    rejected = next(e for e in r.job(job_id).history if e.status is JobStatus.Rejected)
    assert rejected.by == "carol" and rejected.detail == "too dark"
    assert r.take_prints() == []
    # Audit Z3-3: the RELEASE's refusal, a round earlier, is still said beside the REJECT.
    r.engine.flush_status()
    status = (r.root / "rejected" / job_id / "STATUS.txt").read_text()
    assert "RELEASE by amy refused: a REJECT file (REJECT)" in status and "REJECT: rejected by carol" in status


def test_a_release_in_advance_naming_the_artwork_does_not_approve_a_new_manifests_artwork(rig: Rig) -> None:
    """Audit Z3-1: the artwork of a manifest sent again was taken as a replacement would be, but a
    release in advance that named the old artwork let it print unseen."""
    r = rig
    job_id = _failed(r, "ZM", extra="blocked: true\n")
    folder = r.root / "failed" / job_id
    fingerprint = r.engine.extra(r.job(job_id)).fingerprint
    (folder / "RELEASE").write_text(f"alice\nartwork: {fingerprint}\n")
    r.run(until=lambda: not r.job(job_id).blocked, steps=10)
    r.order("ZM")  # good artwork, no `blocked:` line
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    r.run(steps=3)
    assert r.take_prints() == []
    block = r.job(job_id).active_block()
    assert block is not None and "a new manifest put in other artwork" in block.detail


def test_a_release_in_advance_does_not_approve_a_new_manifests_artwork(rig: Rig) -> None:
    """Audit (2026-12-04): a blocked job in failed/ released in advance (a plain RELEASE: no output
    to look at) printed the artwork of the storefront's next manifest, which nobody had seen. The
    release approves the operator's own fix (replace/); a new manifest's artwork blocks the job
    again."""
    r = rig
    job_id = _failed(r, "ZA", extra="blocked: true\n")
    folder = r.root / "failed" / job_id
    (folder / "RELEASE").write_text("alice\n")
    r.run(until=lambda: not r.job(job_id).blocked, steps=10)
    r.order("ZA")  # the storefront sends it again, good artwork, no `blocked:` line
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    r.run(steps=3)
    assert r.take_prints() == []
    block = r.job(job_id).active_block()
    assert block is not None and block.detail == (
        "the release by alice was given in advance, with no output to check; a new manifest put in new artwork: "
        "check its output, then release again"
    )
    (r.root / "quarantine" / job_id / "RELEASE").write_text("alice\n")
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["ZA_ZA-1_bc-85x55_x1.pdf"]
    # The operator's own fix, put into replace/ after a release in advance: approved, delivered.
    job_id = _failed(r, "ZB", extra="blocked: true\n")
    folder = r.root / "failed" / job_id
    (folder / "RELEASE").write_text("alice\n")
    r.run(until=lambda: not r.job(job_id).blocked, steps=10)
    make_pdf(folder / "replace" / "ZB.pdf", pages=CARD)
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["ZB_ZB-1_bc-85x55_x1.pdf"]


def test_a_release_while_waiting_for_artwork_does_not_approve_a_new_manifests_file(rig: Rig) -> None:
    """The same audit: released while it waits for its first artwork, then a manifest sent again
    names another file: it waits for a release once that file's output is made."""
    r = rig
    (r.inbox / "ZC.yaml").write_text(
        'order_id: "ZC"\nblocked: true\nproduct: bc-85x55\nquantity: 1\nartwork: [ZC.pdf]\n'
    )
    r.run(until=lambda: r.stage("ZC-1") is Stage.AWAITING, steps=10)
    assert r.engine.apply("ZC-1", Action.RELEASE, by="bob", note="").ok
    (r.inbox / "ZC2.yaml").write_text('order_id: "ZC"\nproduct: bc-85x55\nquantity: 1\nartwork: [ZC-new.pdf]\n')
    r.run(steps=3)
    make_pdf(r.inbox / "ZC-new.pdf", pages=CARD)
    r.run(until=lambda: r.stage("ZC-1") is Stage.HELD, steps=10)
    r.run(steps=3)
    assert r.take_prints() == [] and r.job("ZC-1").blocked


def test_a_drop_file_left_by_a_crash_right_after_a_reject_is_answered_at_the_start(rig: Rig) -> None:
    """Audit Z3-2: REJECT and RELEASE dropped together, a kill -9 after the REJECT acted and before
    the RELEASE was answered: it stayed in rejected/ for good."""
    r = rig
    job_id, folder = _held(r, "ZK")
    (folder / "REJECT").write_text("bo\n")
    (folder / "RELEASE").write_text("bo2\n")
    life_until_killed(
        r,
        lambda mp: _crash_after(
            mp, Engine, "_consume_drop", when=lambda *a: a[2] is not None and a[2].name == "REJECT"
        ),
    )
    rejected = r.root / "rejected" / job_id
    assert r.stage(job_id) is Stage.REJECTED and (rejected / "RELEASE").exists()
    r.start()
    assert not (rejected / "RELEASE").exists()
    names = _history_names(rejected)
    assert any(n.endswith("unused-RELEASE") for n in names) and any(n.endswith("-REJECT") for n in names), names
    assert r.take_prints() == []


def test_the_advice_for_a_manifest_of_a_delivered_job_works_when_followed(rig: Rig) -> None:
    """Audit AA: ERROR.txt said to add reprint: true and put the manifest into inbox/ again; its
    artwork had been moved here with it, so the reprint then failed for missing artwork."""
    r = rig
    job_id = r.order("D1")
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["D1_D1-1_bc-85x55_x1.pdf"]
    r.order("D1")
    r.run(until=lambda: any((r.root / "failed").glob("D1.yaml*")), steps=10)
    [refused] = list((r.root / "failed").glob("D1.yaml*"))
    error = (refused / "ERROR.txt").read_text()
    assert (refused / "artwork" / "D1.pdf").is_file()
    assert "together with its artwork (moved here, into artwork/: D1.pdf)" in " ".join(error.split()), error
    # Followed as written: the manifest with reprint: true, and the artwork beside it.
    os.replace(refused / "artwork" / "D1.pdf", r.inbox / "D1.pdf")
    (r.inbox / "D1.yaml").write_text((refused / "D1.yaml").read_text() + "reprint: true\n")
    r.run(until=lambda: r.statuses(job_id)[-1] == "InHotFolder" and len(r.statuses(job_id)) > 5, steps=10)
    assert r.take_prints() == ["D1_D1-1_bc-85x55_x1.pdf"]


def test_a_folder_drop_with_two_manifests_is_refused_whole_saying_why(rig: Rig, tmp_path: Path) -> None:
    """Audits AC, AE: a folder with a bad manifest.json beside a good manifest.yaml went to failed/
    speaking of manifest.json only; two good ones naming one a.pdf made one job wait an hour for
    the file the other took. A folder drop holds one manifest: with two, none is read."""
    r = rig
    for name, first in (
        ("F7", '{"order_id": "F7J"}'),
        ("F8", '{"order_id": "F8J", "product": "bc-85x55", "quantity": 1, "artwork": ["card.pdf"]}'),
    ):
        drop = tmp_path / name
        drop.mkdir()
        (drop / "manifest.json").write_text(first)
        (drop / "Manifest.yaml").write_text(
            f'order_id: "{name}"\nproduct: bc-85x55\nquantity: 1\nartwork: [card.pdf]\n'
        )
        make_pdf(drop / "card.pdf", pages=CARD)
        os.replace(drop, r.inbox / name)
    r.run(until=lambda: all((r.root / "failed" / n / "ERROR.txt").is_file() for n in ("F7", "F8")), steps=10)
    for name in ("F7", "F8"):
        error = " ".join((r.root / "failed" / name / "ERROR.txt").read_text().split())
        assert "this folder holds 2 manifests (Manifest.yaml, manifest.json), and a folder drop holds one" in error
        assert (
            error.startswith(f"The manifests of folder {name} could not be used") and "with only the manifest" in error
        )
        assert sorted(p.name for p in (r.root / "failed" / name).iterdir()) == [
            "ERROR.txt",
            "Manifest.yaml",
            "card.pdf",
            "manifest.json",
        ]
        assert r.ledger.get_job(f"{name}-1") is None and r.ledger.get_job(f"{name}J-1") is None
    assert r.take_prints() == []
    route = subprocess.run(
        [sys.executable, "-m", "spo_hotfolder.cli", "-c", str(r.config_path), "route", str(r.root / "failed" / "F8")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert route.returncode == 1 and "holds 2 manifests" in route.stderr


def test_a_refused_manifests_folder_a_job_needs_is_moved_aside_and_said(rig: Rig) -> None:
    """Audit AC: a job with id "JJ.yaml" failing took failed/JJ.yaml/, and the refused manifest's
    folder there was renamed without a word anywhere."""
    r = rig
    (r.inbox / "JJ.yaml").write_text('order_id: "JJ"\nproduct: bc-85x55\nquantity: 0\nartwork: [JJ.pdf]\n')
    r.run(until=lambda: (r.root / "failed" / "JJ.yaml" / "ERROR.txt").is_file(), steps=10)
    make_pdf(r.inbox / "A4.pdf", pages=[(210.0, 297.0)] * 2)
    (r.inbox / "K.yaml").write_text(
        'order_id: "K"\njob_id: "JJ.yaml"\nproduct: bc-85x55\nquantity: 1\nartwork: [A4.pdf]\n'
    )
    with capture_logs() as logs:
        r.run(until=lambda: r.stage("JJ.yaml") is Stage.FAILED, steps=10)
    [aside] = [e for e in logs if e["event"] == "folder.moved_aside"]
    assert aside["folder"] == "failed/JJ.yaml" and aside["moved_to"].startswith("failed/JJ.yaml.old-")
    assert (r.root / aside["moved_to"] / "JJ.yaml").is_file()


class DiskFull:
    """The ledger's connection, whose COMMITs fail as on a full disk while ``full`` (``once``:
    only the first); the ledger rolls the transaction back."""

    def __init__(self, real: Any, *, once: bool = False) -> None:
        self.real, self.once, self.full = real, once, True

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT" and self.full:
            self.full = not self.once
            raise sqlite3.OperationalError("database or disk is full")
        return self.real.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_an_intake_whose_ledger_commit_fails_is_taken_again_in_full(rig: Rig) -> None:
    """Audit AB: a full spool disk failed the intake's COMMIT. The daemon's cached view kept the job,
    so the manifest, taken again once there was space, was handled as an existing job's: it left
    the inbox, and no job was in the ledger. Now nothing of the failed intake stays, the manifest
    is taken again and the job is printed once; the log says the disk is full, in words."""
    r = rig
    disk = DiskFull(r.ledger._db, once=True)
    r.ledger._db = disk  # type: ignore[assignment]
    job_id = r.order("FULL")
    with capture_logs() as logs:
        r.run(until=lambda: not disk.full, steps=10)
    [said] = [e for e in logs if e["event"] == "spool.disk_full"]
    assert said["log_level"] == "error" and "is full" in said["reason"] and "exc_info" not in said
    assert not [e for e in logs if e["event"] == "engine.unexpected_error"]
    r.run(until=done(r, job_id), steps=90)
    assert r.take_prints() == ["FULL_FULL-1_bc-85x55_x1.pdf"]
    assert r.statuses(job_id)[0] == "Ordered"
    assert not list((r.root / "done" / job_id / "history").iterdir())  # taken as new, not as a job's re-send


def test_a_spool_disk_out_of_inodes_is_said_as_such(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review FR 3: a spool out of inodes (`df` shows free space) was said "full, free some space"
    without a word of inodes: a sysadmin looking at `df` saw room and looked elsewhere."""
    r = rig
    real_statvfs = os.statvfs

    def no_inodes(path: Any) -> Any:
        st = real_statvfs(path)
        return os.statvfs_result((*st[:5], 1000, 0, 0, *st[8:]))  # (files, ffree, favail)

    monkeypatch.setattr(os, "statvfs", no_inodes)
    disk = DiskFull(r.ledger._db, once=True)
    r.ledger._db = disk  # type: ignore[assignment]
    r.order("INO")
    with capture_logs() as logs:
        r.run(until=lambda: not disk.full, steps=10)
    [said] = [e for e in logs if e["event"] == "spool.disk_full"]
    assert "its inodes are all used (see `df -i`), though it has free space" in said["reason"], said


class CommitFailsAfter(DiskFull):
    """The first COMMIT of a transaction that ran a statement beginning with ``statement`` fails,
    as on a full disk (a status recorded: "INSERT INTO history"; artwork marked taken)."""

    def __init__(self, real: Any, statement: str) -> None:
        super().__init__(real, once=True)
        self.statement, self.seen = statement, False

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith(self.statement):
            self.seen = True
        elif sql == "COMMIT" and not self.seen:
            return self.real.execute(sql, *args)
        return super().execute(sql, *args)


@pytest.mark.parametrize("drop", ["RELEASE", "REJECT"])
def test_a_drop_file_read_while_the_ledger_is_full_acts_once_there_is_space(rig: Rig, drop: str) -> None:
    """Audit U 1, 2: a RELEASE (or REJECT) dropped while the spool disk was full moved the job's folder
    into work/ (rejected/) in the transaction whose commit then failed: the folder stayed there, the
    ledger named quarantine/; once there was space the RELEASE was refused as not in the job's
    folder and the job stayed blocked for good (the REJECT was never read again: rejected/ is not
    watched). The move is undone with the transaction, and the drop file acts once there is space."""
    r = rig
    job_id, folder = _held(r, "DF")
    disk = DiskFull(r.ledger._db)
    r.ledger._db = disk  # type: ignore[assignment]
    (folder / drop).write_text("amy\n")
    with capture_logs() as logs:
        r.run(steps=8)
    assert [e for e in logs if e["event"] == "spool.disk_full"]
    assert [e for e in logs if e["event"] == "folder.moved_back"], [e["event"] for e in logs]
    assert folder.is_dir() and (folder / drop).is_file(), "back where the ledger says, the drop file in it"
    assert r.stage(job_id) is Stage.HELD
    disk.full = False  # space again
    if drop == "RELEASE":
        r.run(until=done(r, job_id), steps=20)
        assert r.take_prints() == ["DF_DF-1_bc-85x55_x1.pdf"]
    else:
        r.run(until=lambda: r.stage(job_id) is Stage.REJECTED, steps=20)
        assert r.take_prints() == []
    if drop == "REJECT":
        assert [e.status for e in r.job(job_id).history if e.by == "amy"] == [JobStatus.Rejected]
    else:
        assert [e.removed_by for e in r.job(job_id).history if e.status is JobStatus.Blocked] == ["amy"]


def test_a_retry_dropped_into_failed_while_the_ledger_is_full_acts_once_there_is_space(rig: Rig) -> None:
    """Audit U2 1: a RETRY dropped into a failed job's folder while the spool disk was full was never
    acted on once there was space: the tracker had given it out, nothing was moved (its folder
    unchanged, so rescans skipped it). A drop file a full disk stopped is looked at again."""
    r = rig
    shutil.rmtree(r.hot)  # the share is not mounted: the job fails after its attempts
    job_id = r.order("RF2")
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=40, dt=5)
    r.hot.mkdir(parents=True)
    folder = r.root / "failed" / job_id
    disk = DiskFull(r.ledger._db)
    r.ledger._db = disk  # type: ignore[assignment]
    (folder / "RETRY").write_text("dan\n")
    with capture_logs() as logs:
        r.run(steps=8)
    assert [e for e in logs if e["event"] == "spool.disk_full"]
    assert (folder / "RETRY").is_file() and r.stage(job_id) is Stage.FAILED
    disk.full = False  # space again
    r.run(until=done(r, job_id), steps=20, dt=5)
    assert r.take_prints() == ["RF2_RF2-1_bc-85x55_x1.pdf"]
    assert [e.by for e in r.job(job_id).history if e.status is JobStatus.RecreationRequested] == ["dan"]


def test_a_job_failed_while_the_ledger_is_full_keeps_its_true_reason(rig: Rig) -> None:
    """Audit U 3: a job failing as the spool disk filled went into failed/ with its ERROR.txt ahead of
    its record; with space again, the ledger still said work/, and the job was failed once more as
    "artwork file missing from the job folder", its artwork being in failed/. The move is undone
    with the failed commit; the job fails again for its own reason."""
    r = rig

    class FullAtTheFailure(DiskFull):
        """The commit of the transaction that records ValidationFailed fails, once."""

        def __init__(self, real: Any) -> None:
            super().__init__(real, once=True)
            self.armed = False

        def execute(self, sql: str, *args: Any) -> Any:
            if sql.startswith("INSERT INTO history") and args and "ValidationFailed" in args[0]:
                self.armed = True
            if sql == "COMMIT" and not self.armed:
                return self.real.execute(sql, *args)
            return super().execute(sql, *args)

    disk = FullAtTheFailure(r.ledger._db)
    r.ledger._db = disk  # type: ignore[assignment]
    (r.inbox / "BAD.pdf").write_bytes(b"%PDF-1.4\n1 0 obj garbage endobj\ntrailer <<>>\n%%EOF\n")
    (r.inbox / "BAD.yaml").write_text('order_id: "BAD"\nproduct: bc-85x55\nquantity: 1\nartwork: [BAD.pdf]\n')
    with capture_logs() as logs:
        r.run(until=lambda: r.stage("BAD-1") is Stage.FAILED and not disk.full, steps=20, dt=5)
    assert disk.armed and [e for e in logs if e["event"] == "folder.moved_back"]
    failed = [e for e in r.job("BAD-1").history if e.status is JobStatus.ValidationFailed]
    assert failed and all("damaged and cannot be read" in e.detail for e in failed), [e.detail for e in failed]
    assert "artwork file missing" not in (r.root / "failed" / "BAD-1" / "ERROR.txt").read_text()


def test_a_status_whose_commit_fails_is_not_logged(rig: Rig) -> None:
    """Audit AQ 3: a status recorded in a transaction that a full disk then rolled back was logged
    all the same (the line was written before the commit): the log said `job.ordered` twice for
    one job, the first for a record that never was."""
    r = rig
    disk = CommitFailsAfter(r.ledger._db, "INSERT INTO history")
    r.ledger._db = disk  # type: ignore[assignment]
    job_id = r.order("SAID")
    with capture_logs() as logs:
        r.run(until=done(r, job_id), steps=90)
    assert not disk.full  # the failure happened
    assert r.take_prints() == ["SAID_SAID-1_bc-85x55_x1.pdf"]
    ordered = [e for e in logs if e["event"] == "job.ordered"]
    assert len(ordered) == 1 and ordered[0]["job_id"] == job_id
    assert r.statuses(job_id).count("Ordered") == 1


def test_artwork_taken_while_the_disk_fills_is_marked_once_there_is_space(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit (2026-12-03, robustness 1): the spool disk filled between the artwork's move into the
    job's folder and the commit that marks it taken. The job stayed "not arrived yet" until
    artwork_timeout_seconds, then failed as missing the file it held in its own folder. Now the
    mark is made again at the next step and the job is printed, once, without any wait."""
    r = rig
    disk = CommitFailsAfter(r.ledger._db, "UPDATE artwork SET present = 1")
    r.ledger._db = disk  # type: ignore[assignment]
    job_id = r.order("MARK")
    with capture_logs() as logs:
        r.run(until=lambda: not disk.full, steps=10)
        with monkeypatch.context() as no_room:  # (the disk as the failed commit found it)
            no_room.setattr(os, "statvfs", lambda path: os.statvfs_result((4096, 4096, 9, 0, 0, 9, 9, 9, 0, 255)))
            assert r.engine.spool_full()  # (the status line says so)
        r.run(until=done(r, job_id), steps=20)  # steps of the rig's clock: far from the 600 s timeout
    assert any(e["event"] == "spool.disk_full" for e in logs)
    r.clock.advance(16)
    assert not r.engine.spool_full()
    assert r.take_prints() == ["MARK_MARK-1_bc-85x55_x1.pdf"]
    assert "ValidationFailed" not in r.statuses(job_id)


def test_an_unclaimed_file_counts_the_time_it_waited_before_a_restart(rig: Rig) -> None:
    """Audit: a file no manifest claims waited artwork_timeout_seconds again from each start of the
    daemon: restarted every half hour (a nightly job, updates), it never went to failed/. What it
    waited before the start counts, once the start's backlog (where its manifest may be) is taken."""
    r = rig
    r.clock._now = datetime.now(UTC)  # file times are the machine's: the clock is set to them
    make_pdf(r.inbox / "lost.pdf", pages=CARD)
    r.run(until=lambda: (r.inbox / "lost.pdf") in r.engine._orphans, steps=5)
    r.clock.advance(550)  # stopped meanwhile, for most of the 600 s
    r.start()
    r.run(until=lambda: not (r.inbox / "lost.pdf").exists(), steps=80)
    assert (r.root / "failed" / "lost.pdf" / "lost.pdf").is_file()
    assert r.clock.now() - datetime.now(UTC) < timedelta(seconds=550 + 60 + 5)  # ~50 s after the start, not 600
    # Its manifest at the top of inbox/ at the start, beside it: taken, whatever the file waited.
    make_pdf(r.inbox / "late.pdf", pages=CARD)
    r.run(until=lambda: (r.inbox / "late.pdf") in r.engine._orphans, steps=5)
    (r.inbox / "late.yaml").write_text('order_id: "late"\nproduct: bc-85x55\nquantity: 1\nartwork: [late.pdf]\n')
    r.clock.advance(3600)
    r.start()
    r.run(until=done(r, "late-1"), steps=10)


def test_an_unclaimed_file_named_with_a_dot_at_its_end_gets_a_folder_windows_opens(rig: Rig) -> None:
    """Audit (operators at scale): inbox/"stray.pdf." went to failed/"stray.pdf."/, a folder that
    Explorer on the share shows but cannot open (Windows drops a name's final dots and spaces).
    The file inside keeps its name."""
    r = rig
    make_pdf(r.inbox / "stray.pdf.", pages=CARD)
    r.run(until=lambda: (r.inbox / "stray.pdf.") in r.engine._orphans, steps=5)
    r.run(until=lambda: not (r.inbox / "stray.pdf.").exists(), steps=20, dt=60)
    assert (r.root / "failed" / "stray.pdf" / "stray.pdf.").is_file()
    assert not (r.root / "failed" / "stray.pdf.").exists()


def test_a_failed_job_rejected_no_longer_says_its_problem(rig: Rig) -> None:
    """Audit (operators at scale): `show` of a job rejected after it failed still said "Problem: the
    copy into hot folder ... failed" (and --json its error), though nothing is left to fix."""
    r = rig
    make_pdf(r.inbox / "RJ.pdf", pages=[(210.0, 297.0)] * 2)  # A4 pages for a business card: fails
    (r.inbox / "RJ.yaml").write_text('order_id: "RJ"\nproduct: bc-85x55\nquantity: 1\nartwork: [RJ.pdf]\n')
    job_id = "RJ-1"
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=20)
    assert r.job(job_id).error and "Problem:" in run_cli(r.config_path, "show", job_id).stdout
    (r.root / "failed" / job_id / "REJECT").write_text("kim\n")
    r.run(until=lambda: r.stage(job_id) is Stage.REJECTED, steps=10)
    assert r.job(job_id).error is None
    assert "Problem:" not in run_cli(r.config_path, "show", job_id).stdout


def test_artwork_whose_manifest_waits_for_disk_space_is_not_failed_as_unclaimed(rig: Rig) -> None:
    """Audit AK 2: the spool disk full for longer than artwork_timeout_seconds: the manifest could
    not be taken in, so its artwork, unclaimed, went to failed/ ("no manifest named it") while the
    manifest still waited in inbox/; taken once there was space, the job then failed "artwork
    missing". An unclaimed file's wait counts from the last time the disk was found full, and a
    manifest refused for lack of space is tried again within seconds, not only at the next rescan."""
    r = rig
    disk = DiskFull(r.ledger._db)
    r.ledger._db = disk  # type: ignore[assignment]
    job_id = r.order("DF")
    with capture_logs() as logs:
        r.run(steps=25, dt=30)  # 750 s, longer than artwork_timeout_seconds (600 s)
    assert (r.inbox / "DF.pdf").is_file() and (r.inbox / "DF.yaml").is_file()
    assert os.listdir(r.root / "failed") == []
    said = [e for e in logs if e["event"] == "spool.disk_full"]
    assert 1 <= len(said) <= 26 * 30 // 30  # once per half minute at most, not once per try
    disk.full = False
    for _ in range(8):  # within seconds, without waiting for the next rescan
        r.engine.step()
        if r.stage(job_id) is Stage.DONE:
            break
        r.clock.advance(1.0)
    assert r.take_prints() == ["DF_DF-1_bc-85x55_x1.pdf"] and os.listdir(r.root / "failed") == []


class FullSpoolPdf(InProcessPdf):
    """Outputs stopped by a full spool disk, ``failures`` times."""

    def __init__(self, failures: int) -> None:
        self.failures = failures

    def build_output(
        self, artwork: Any, dest: Any, spec: Any, validation: Any, while_waiting: Any = None, repaired: bool = False
    ) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise OutputError(
                f"the output could not be written: the disk holding {Path(dest).parent} is full", spool=True, full=True
            )
        return super().build_output(artwork, dest, spec, validation, while_waiting)


def test_an_output_stopped_by_a_full_spool_disk_is_made_again_by_itself(rig: Rig) -> None:
    """Audits AB, AE (SPEC 8: a full disk fails the affected jobs with a clear reason and retries):
    the job went to failed/ and waited for an operator's RETRY. It is made again on the delivery
    schedule, the history saying each attempt; delivered once."""
    r = rig
    r.engine.pdf = FullSpoolPdf(failures=1)
    job_id = r.order("OF")
    r.run(until=lambda: r.stage(job_id) is Stage.RETRY, steps=10)
    failed = r.job(job_id).history[-1]
    assert failed.status is JobStatus.OutputCreationFailed
    assert failed.detail.startswith("attempt 1 of 3, the output could not be written: the disk holding ")
    assert "is full; next attempt at 2026-11-22T" in failed.detail
    status = (r.root / "work" / job_id / "STATUS.txt").read_text()
    assert "the output could not be written, as the spool disk is full; it is made again at" in status
    r.run(until=done(r, job_id), steps=20)
    assert r.take_prints() == ["OF_OF-1_bc-85x55_x1.pdf"]
    statuses = r.statuses(job_id)
    assert statuses[statuses.index("OutputCreationFailed") + 1 :] == [
        "ValidationFinished",  # checked again, as the files may have changed meanwhile
        "OutputCreationStarted",
        "OutputCreated",
        "InHotFolder",
    ]
    assert r.job(job_id).attempts == 0  # the delivery counts its own attempts


def test_an_output_the_full_disk_stops_at_every_attempt_fails_after_the_last(rig: Rig) -> None:
    r = rig
    r.engine.pdf = FullSpoolPdf(failures=3)
    job_id = r.order("OG")
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=80)
    details = [e.detail for e in r.job(job_id).history if e.status is JobStatus.OutputCreationFailed]
    assert [d[:13] for d in details] == ["attempt 1 of ", "attempt 2 of ", "the output co"]
    assert details[-1].endswith("is full (all 3 attempts failed)")
    error = (r.root / "failed" / job_id / "ERROR.txt").read_text()
    assert "the daemon's own folder or disk is the cause" in error
    (r.root / "failed" / job_id / "RETRY").write_text("ann\n")
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["OG_OG-1_bc-85x55_x1.pdf"]


def test_a_retry_due_while_the_spool_disk_is_full_does_not_end_the_engine(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit AQ 1: a retry that came due while the spool disk was still full raised in _run_due
    ("database or disk is full"), outside any guard: the engine thread ended, and the daemon took
    in and delivered nothing until it was restarted. The step goes on; the retry is made later."""
    r = rig
    shutil.rmtree(r.hot)  # the copy fails: a retry is due in 10 s
    job_id = r.order("DR")
    r.run(until=lambda: r.stage(job_id) is Stage.RETRY, steps=10)
    r.hot.mkdir()
    real = r.ledger.update_job
    full = [True]

    def update_job(job: str, now: Any, **fields: Any) -> None:
        if full[0] and fields.get("stage") is Stage.DELIVER:
            raise sqlite3.OperationalError("database or disk is full")
        real(job, now, **fields)

    monkeypatch.setattr(r.ledger, "update_job", update_job)
    with capture_logs() as logs:
        for _ in range(15):
            r.engine.step()  # raised out of step() before
            r.clock.advance(1.0)
    assert any(e["event"] == "spool.disk_full" for e in logs)
    assert r.stage(job_id) is Stage.RETRY and r.take_prints() == []
    full[0] = False
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["DR_DR-1_bc-85x55_x1.pdf"]


def test_the_engine_thread_goes_on_after_a_step_fails(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a step raises, the engine thread does not end (it did: health then said "the
    engine thread is not running", and only a restart brought the daemon back)."""
    r = rig
    real = Engine.step
    calls = [0]

    def step(self: Engine) -> None:
        calls[0] += 1
        if calls[0] == 1:
            raise sqlite3.OperationalError("database or disk is full")
        if calls[0] == 2:
            raise RuntimeError("a fault of ours")
        real(self)

    monkeypatch.setattr(Engine, "step", step)
    monkeypatch.setattr(Engine, "_wait_seconds", lambda self: 0.01)
    thread = threading.Thread(target=r.engine.run, daemon=True)
    with capture_logs() as logs:
        thread.start()
        deadline = time.monotonic() + 10
        while calls[0] < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        r.engine.stop()
        thread.join(10)
    assert calls[0] >= 4 and not thread.is_alive()
    events = [e["event"] for e in logs]
    assert "spool.disk_full" in events and "engine.step_failed" in events


def _drop_bad_manifest(r: Rig, tmp_path: Path, folder_drop: bool) -> tuple[Path, Path]:
    """A manifest with a bad quantity, at the top of the inbox or as a folder drop: (where it is,
    the failed/ folder it goes to)."""
    bad = 'order_id: "BAD"\nproduct: bc-85x55\nquantity: 0\nartwork: [a.pdf]\n'
    if folder_drop:
        drop = tmp_path / "BADF"
        drop.mkdir()
        (drop / "manifest.yaml").write_text(bad)
        os.replace(drop, r.inbox / "BADF")
        return r.inbox / "BADF" / "manifest.yaml", r.root / "failed" / "BADF"
    (r.inbox / "BAD.yaml").write_text(bad)
    return r.inbox / "BAD.yaml", r.root / "failed" / "BAD.yaml"


@pytest.mark.parametrize("folder_drop", [False, True])
def test_a_refused_manifests_error_txt_appears_only_once_the_manifest_is_beside_it(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, folder_drop: bool
) -> None:
    """A test (or an operator's script) that waits for failed/<name>/ERROR.txt and then reads the
    manifest beside it found it missing for a moment: ERROR.txt was written before the manifest
    moved (CI, under load). The folder is put together under a hidden name and gets its name,
    ERROR.txt and manifest in it, in one rename."""
    r = rig
    real = Engine._file_refusal
    seen: list[tuple[bool, list[str]]] = []

    def file_refusal(self: Engine, building: Path, name: str) -> Path:
        seen.append((failed.exists(), sorted(p.name for p in building.iterdir())))
        return real(self, building, name)

    monkeypatch.setattr(Engine, "_file_refusal", file_refusal)
    _, failed = _drop_bad_manifest(r, tmp_path, folder_drop)
    r.run(until=lambda: (failed / "ERROR.txt").is_file(), steps=10)
    whole = sorted(["ERROR.txt", "manifest.yaml" if folder_drop else "BAD.yaml"])
    assert seen == [(False, whole)]
    assert sorted(p.name for p in failed.iterdir()) == whole
    assert [p.name for p in failed.parent.iterdir() if p.name.startswith(".")] == []


def test_a_failure_status_is_recorded_once_the_folder_is_in_failed_with_its_error_txt(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script that waits for ValidationFailed (`show --json`) and then reads failed/<job>/ERROR.txt
    found nothing for a moment: the status was recorded before the folder moved (CI, under load).
    The ERROR.txt travels with the folder, which moves before the commit that records the status
    (read here, after every commit, as `show` reads it: through a connection of its own)."""
    from spo_hotfolder import ledger as ledger_module

    r = rig
    reader = sqlite3.connect(r.config.paths.state / "ledger.sqlite3")
    seen: dict[str, bool] = {}
    original = ledger_module._Transaction.__exit__

    def exit_then_look(self: Any, *exc: Any) -> None:
        outer = self._outer
        original(self, *exc)
        if outer and exc[0] is None:
            for (job_id,) in reader.execute("SELECT job_id FROM history WHERE status = 'ValidationFailed'"):
                seen.setdefault(job_id, (r.root / "failed" / job_id / "ERROR.txt").is_file())

    monkeypatch.setattr(ledger_module._Transaction, "__exit__", exit_then_look)
    make_pdf(r.inbox / "VF.pdf", pages=[(210, 297)])  # A4, not a card
    (r.inbox / "VF.yaml").write_text('order_id: "VF"\nproduct: bc-85x55\nquantity: 1\nartwork: [VF.pdf]\n')
    (r.inbox / "VM.yaml").write_text('order_id: "VM"\nproduct: bc-85x55\nquantity: 1\nartwork: [VM.pdf]\n')
    r.run(until=lambda: r.stage("VF-1") is Stage.FAILED, steps=10)
    r.run(until=lambda: r.stage("VM-1") is Stage.FAILED, steps=10, dt=700)  # its artwork never came
    assert seen == {"VF-1": True, "VM-1": True}
    reader.close()


def test_a_yaml_manifest_cut_inside_its_last_value_is_refused_not_printed(rig: Rig) -> None:
    """Audit AB: an FTP upload aborted in "quantity: 500" left "quantity: 5", never completed: after
    the longer wait it was taken, and 5 copies printed. The whole file sent later was then refused
    as a job delivered before. Now it goes to failed/ saying why; the whole file is taken."""
    r = rig
    make_pdf(r.inbox / "CUT.pdf", pages=CARD)
    whole = 'order_id: "CUT"\nproduct: bc-85x55\nartwork: [CUT.pdf]\nquantity: 500\n'
    (r.inbox / "CUT.yaml").write_text(whole[:-3])
    r.run(until=lambda: (r.root / "failed" / "CUT.yaml" / "ERROR.txt").is_file(), steps=20)
    error = " ".join((r.root / "failed" / "CUT.yaml" / "ERROR.txt").read_text().split())
    assert "its last line ('quantity: 5') may have been cut off by an interrupted upload" in error, error
    assert r.ledger.get_job("CUT-1") is None and r.take_prints() == []
    # With another problem besides (audit, manifests 5): both are said, not only the other one.
    (r.inbox / "C6.yaml").write_text('order_id: "C6"\nproduct: bc-85x55\nquantity: 5')
    r.run(until=lambda: (r.root / "failed" / "C6.yaml" / "ERROR.txt").is_file(), steps=20)
    error = " ".join((r.root / "failed" / "C6.yaml" / "ERROR.txt").read_text().split())
    assert "artwork: missing" in error and "its last line ('quantity: 5') may have been cut off" in error, error
    (r.inbox / "CUT.yaml").write_text(whole)
    r.run(until=done(r, "CUT-1"), steps=20)
    assert r.take_prints() == ["CUT_CUT-1_bc-85x55_x500.pdf"]
    # No line break after a value that cannot be cut unseen (a closed list, quoted text): taken.
    make_pdf(r.inbox / "END.pdf", pages=CARD)
    (r.inbox / "END.yaml").write_text('order_id: "END"\nproduct: bc-85x55\nquantity: 2\nartwork: [END.pdf]')
    r.run(until=done(r, "END-1"), steps=20)
    assert r.take_prints() == ["END_END-1_bc-85x55_x2.pdf"]


def test_a_pdf_worker_that_cannot_run_is_not_blamed_on_the_artwork(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit AB: with the PDF worker unable to start, every job failed as if its PDF were bad
    ("Put a corrected PDF into replace/"). ERROR.txt now says the daemon is at fault, and RETRY."""
    r = rig

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionRefusedError(111, "Connection refused")

    in_process = r.engine.pdf
    with PdfWorker(memory_limit_bytes=None) as worker:
        monkeypatch.setattr(worker, "_send", refused)
        r.engine.pdf = worker
        job_id = r.order("W1")
        r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=10)
    r.engine.pdf = in_process
    error = " ".join((r.root / "failed" / job_id / "ERROR.txt").read_text().split())
    assert "the PDF checker could not run ([Errno 111] Connection refused): a fault of the daemon" in error, error
    assert "Nothing is known to be wrong with the PDF" in error and "replace/" not in error
    (r.root / "failed" / job_id / "RETRY").write_text("")
    r.run(until=done(r, job_id), steps=20)
    assert r.take_prints() == ["W1_W1-1_bc-85x55_x1.pdf"]


def test_an_output_that_a_full_spool_disk_stopped_is_not_blamed_on_the_pdf(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit AB: the output of a job failed on a full spool disk; ERROR.txt said to put a corrected
    PDF into replace/. It now says the PDF is not the cause, and RETRY once there is space."""
    from spo_hotfolder.outputfile import write_error

    r = rig
    real = engine_module.link_unchanged

    def full(art: Any, dest: str, pages: int) -> Any:
        raise write_error(OSError(errno.ENOSPC, "No space left on device"), str(Path(dest).parent))

    monkeypatch.setattr(engine_module, "link_unchanged", full)
    job_id = r.order("SP", trimbox=(3, 3, 88, 58))
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=80)  # after the last of 3 attempts
    error = " ".join((r.root / "failed" / job_id / "ERROR.txt").read_text().split())
    assert "is full" in error and "Nothing is known to be wrong with the PDF" in error, error
    assert "replace/" not in error
    monkeypatch.setattr(engine_module, "link_unchanged", real)
    (r.root / "failed" / job_id / "RETRY").write_text("")
    r.run(until=done(r, job_id), steps=20)
    assert r.take_prints() == ["SP_SP-1_bc-85x55_x1.pdf"]


def test_an_output_folder_a_full_disk_cannot_make_is_tried_again_as_an_output_then_failed(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BX 1: with the spool's disk out of inodes, a job's output/ could not be made: the job
    was started again every 5 s (ValidationFinished and OutputCreationStarted each time, "again"),
    never OutputCreationFailed, never failed/. It is tried again on the delivery's backoff, as an
    output the full disk stopped, then fails with the reason; RETRY once there is room."""
    r = rig
    real = Path.mkdir
    full = [True]

    def mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        if full[0] and self.name == "output" and self.parent.parent.name == "work":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    job_id = r.order("IN", trimbox=(3, 3, 88, 58))
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=80)  # after the last of 3 attempts
    statuses = r.statuses(job_id)
    assert statuses.count("OutputCreationStarted") == 3 and statuses.count("OutputCreationFailed") == 3, statuses
    failures = [e.detail for e in r.job(job_id).history if e.status is JobStatus.OutputCreationFailed]
    assert failures[0].startswith("attempt 1 of 3, the output could not be written: the disk holding work/IN-1 is full")
    error = " ".join((r.root / "failed" / job_id / "ERROR.txt").read_text().split())
    assert "is full" in error and "Nothing is known to be wrong with the PDF" in error, error
    full[0] = False
    (r.root / "failed" / job_id / "RETRY").write_text("")
    r.run(until=done(r, job_id), steps=20)
    assert r.take_prints() == ["IN_IN-1_bc-85x55_x1.pdf"]


@pytest.mark.parametrize("folder_drop", [False, True])
def test_a_bad_manifest_refused_on_a_full_disk_waits_in_the_inbox_not_unexplained_in_failed(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, folder_drop: bool
) -> None:
    """Audit AD: with the spool disk full, a refused manifest was moved into failed/<name>/ and its
    ERROR.txt could not be written, then never was. ERROR.txt now comes first."""
    r = rig
    real = engine_module.atomic_write
    full = [True]

    def atomic_write(path: Path, data: Any, **kwargs: Any) -> None:
        if full[0] and "ERROR" in path.name:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data, **kwargs)

    monkeypatch.setattr(engine_module, "atomic_write", atomic_write)
    where, failed = _drop_bad_manifest(r, tmp_path, folder_drop)
    with capture_logs() as logs:
        r.run(until=lambda: any(e["event"] == "spool.disk_full" for e in logs), steps=10)
    assert where.is_file() and not failed.exists()
    assert not [p for p in where.parent.iterdir() if p.name.startswith(".")]  # no temp file left
    full[0] = False
    r.run(until=lambda: (failed / "ERROR.txt").is_file(), steps=10)
    assert "quantity" in (failed / "ERROR.txt").read_text()
    assert not where.exists() and sorted(p.name for p in failed.iterdir()) == sorted(["ERROR.txt", where.name])


@pytest.mark.parametrize("stepped_back", [False, True])
def test_a_release_of_an_output_does_not_approve_new_artwork_put_in_before_the_delivery(
    rig: Rig, stepped_back: bool
) -> None:
    """Audit AF: with the daemon stopped, `release` then `replace` (two operators, two shells): the
    release approved the output they had seen, and the new artwork then printed unreviewed. The
    replacement now blocks the job again; a release given before any output (in advance) still
    approves what comes, as documented. White-box audit DH 5: with the clock stepped back two hours
    (NTP) between the output and the release, the release's time, earlier than the output's, read
    as a release given in advance; which output a release approved is told by order now."""
    r = rig
    job_id, _folder = _held(r, "RR")
    if stepped_back:
        r.clock._now -= timedelta(hours=2)
    make_pdf(r.tmp / "new.pdf", pages=[(90.5, 61.0)] * 2)
    assert r.engine.apply(job_id, Action.RELEASE, by="alice", note="").ok
    result = r.engine.apply(job_id, Action.REPLACE, by="carol", note="", file=r.tmp / "new.pdf")
    assert result.ok and "blocked again: the release by alice approved the output made before carol" in result.message
    r.run(until=_settled(r, job_id, 1), steps=10)
    assert r.take_prints() == [] and r.job(job_id).blocked
    assert r.engine.apply(job_id, Action.RELEASE, by="alice", note="").ok
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["RR_RR-1_bc-85x55_x1.pdf"]
    # Released once it had been delivered: a reprint is new work, not blocked by that old release.
    make_pdf(r.inbox / "RR.pdf", pages=CARD)
    (r.inbox / "RR.yaml").write_text(
        'order_id: "RR"\nreprint: true\nproduct: bc-85x55\nquantity: 1\nartwork: [RR.pdf]\n'
    )
    r.run(until=lambda: r.statuses(job_id)[-1] == "InHotFolder" and r.statuses(job_id).count("InHotFolder") == 2)
    assert r.take_prints() == ["RR_RR-1_bc-85x55_x1.pdf"]


def test_a_cli_release_given_before_new_artwork_came_is_refused(rig: Rig) -> None:
    """Audit AG: `replace` then `release` from two shells while the daemon hung: the daemon did
    the replacement, then the release, which approved the new output nobody had opened (it
    printed). A CLI release is judged by when it was given: before the artwork the job has now
    came, it approved the output before; refused, as a RELEASE dropped with a replacement is."""
    r = rig
    job_id, _folder = _held(r, "AG")
    given = datetime(2026, 11, 22, 10, 0, 0, 500000, tzinfo=UTC)  # after the hold, before the replacement
    token = f"{int(given.timestamp() * 1e9)}-{'a' * 12}"
    r.clock.advance(60)
    make_pdf(r.tmp / "new.pdf", pages=[(90.5, 61.0)] * 2)
    assert r.engine.apply(job_id, Action.REPLACE, by="alice", note="", file=r.tmp / "new.pdf").ok
    result = r.engine.apply(job_id, Action.RELEASE, by="bob", note="", token=token)
    assert not result.ok and "it was given at 2026-11-22T10:00:00.500Z for the output before new artwork came" in (
        result.message
    )
    r.run(until=_settled(r, job_id, 1), steps=10)
    assert r.take_prints() == [] and r.job(job_id).blocked
    # Given after the new artwork came (the operator saw the new output): it releases.
    later = f"{int(datetime(2026, 12, 31, tzinfo=UTC).timestamp() * 1e9)}-{'b' * 12}"
    assert r.engine.apply(job_id, Action.RELEASE, by="bob", note="", token=later).ok
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["AG_AG-1_bc-85x55_x1.pdf"]


def test_a_cli_release_is_judged_by_when_it_was_typed_not_when_its_command_file_came(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit (2026-12-05 AA 1): `release` typed 0.1 s before the storefront's new manifest came
    approved the new artwork (it printed): the command was judged by when its file reached
    state/commands/, 0.2 s after it was typed, a second on a loaded machine. It is judged by when
    it was given (its process's start, the command file's given_at)."""
    from spo_hotfolder import commands

    r = rig
    job_id, _folder = _held(r, "AT")
    typed = r.clock.now().timestamp() + 30  # typed, then new artwork came, then its file was written
    r.clock.advance(60)
    make_pdf(r.tmp / "new.pdf", pages=[(90.5, 61.0)] * 2)
    assert r.engine.apply(job_id, Action.REPLACE, by="alice", note="", file=r.tmp / "new.pdf").ok
    r.clock.advance(30)
    monkeypatch.setattr(commands, "_started_at", lambda: typed)
    monkeypatch.setattr(commands.time, "time_ns", lambda: int(r.clock.now().timestamp() * 1e9))  # the token
    staged = commands._stage_command(r.config, Action.RELEASE, job_id, "bob", "", None)
    given = iso(datetime.fromtimestamp(typed, tz=UTC))
    assert json.loads(staged.read_text())["given_at"] == given
    result = r.engine.run_command(staged)
    assert result is not None and not result.ok, result
    assert f"it was given at {given} for the output before new artwork came" in result.message
    r.run(until=_settled(r, job_id, 1), steps=10)
    assert r.take_prints() == [] and r.job(job_id).blocked


def test_an_offline_reject_is_not_held_back_by_an_earlier_command(rig: Rig) -> None:
    """Audit AG: with a release still waiting in state/commands/ (its daemon killed), `reject` was
    refused "start the daemon, it finishes that first", and starting it printed the job. A REJECT
    comes first, as REJECT files do; the release is then refused for a rejected job."""
    from spo_hotfolder.commands import _stage_command

    r = rig
    job_id, _folder = _held(r, "RJ")
    _stage_command(r.config, Action.RELEASE, job_id, "sam", "", None)
    # `show` says it waits (audit AG: the CLI said "see `show`", which did not mention it).
    shown = run_cli(r.config_path, "show", job_id).stdout
    assert "Waiting:   RELEASE by sam, given with the CLI; not done yet (the daemon does it when it reads it" in shown
    as_json = json.loads(run_cli(r.config_path, "show", job_id, "--json").stdout)
    assert as_json["waiting_commands"] == [{"action": "RELEASE", "by": "sam", "note": ""}]
    # SPEC 3: `jobs --json` is a list of the same objects without `history` (audit BS 3).
    [listed] = json.loads(run_cli(r.config_path, "jobs", "--json").stdout)
    assert listed == {key: value for key, value in as_json.items() if key != "history"}
    result = run_cli(r.config_path, "reject", job_id, "--by", "ann")
    assert result.returncode == 0, result
    assert r.stage(job_id) is Stage.REJECTED
    r.run(steps=5)
    assert r.take_prints() == [] and r.stage(job_id) is Stage.REJECTED
    assert r.engine.pending_commands(job_id) == []


def test_a_release_while_new_artwork_has_no_output_yet_is_refused(rig: Rig) -> None:
    """Audit AH: with the daemon stopped (or busy making it), `replace` then `release`: the release
    approved an output not made yet, and the new artwork printed unseen. It is refused until the
    new output is there; a release before an order's first output, or in failed/, still approves
    in advance, as documented."""
    r = rig
    job_id, _folder = _held(r, "NO")
    make_pdf(r.tmp / "new.pdf", pages=[(90.5, 61.0)] * 2)
    assert r.engine.apply(job_id, Action.REPLACE, by="alice", note="", file=r.tmp / "new.pdf").ok
    refused = r.engine.apply(job_id, Action.RELEASE, by="bob", note="")
    assert not refused.ok and "and its output is not made yet: open the new output" in refused.message
    r.run(until=_settled(r, job_id, 1), steps=10)
    assert r.take_prints() == [] and r.job(job_id).blocked
    assert r.engine.apply(job_id, Action.RELEASE, by="bob", note="").ok  # the new output is there now
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["NO_NO-1_bc-85x55_x1.pdf"]
    # An order blocked on arrival, released before its first output is made: approved in advance.
    (r.inbox / "EA.yaml").write_text(
        'order_id: "EA"\nblocked: true\nproduct: bc-85x55\nquantity: 1\nartwork: [EA.pdf]\n'
    )
    r.run(until=lambda: r.stage("EA-1") is Stage.AWAITING, steps=10)
    assert r.job("EA-1").blocked and "OutputCreated" not in r.statuses("EA-1")
    assert r.engine.apply("EA-1", Action.RELEASE, by="bob", note="").ok
    make_pdf(r.inbox / "EA.pdf", pages=CARD)
    r.run(until=done(r, "EA-1"), steps=10)


def test_a_waiting_reject_command_comes_before_a_release(rig: Rig) -> None:
    """Audit AH: `release` then `reject` from two shells while the daemon hung: the daemon did the
    release first and the job printed; the reject was refused as for a delivered job. A reject
    waiting in state/commands/ comes first, as a REJECT file does."""
    from spo_hotfolder.commands import _stage_command

    r = rig
    job_id, _folder = _held(r, "RC")
    release = _stage_command(r.config, Action.RELEASE, job_id, "ann", "", None)
    _stage_command(r.config, Action.REJECT, job_id, "bea", "", None)
    refused = r.engine.run_command(release)
    assert refused is not None and not refused.ok
    assert "a `spo-hotfolder reject` of this job by bea is waiting and is done first" in refused.message
    r.run(until=lambda: r.stage(job_id) is Stage.REJECTED, steps=10)
    assert r.take_prints() == [] and r.engine.pending_commands(job_id) == []


def test_a_cli_release_given_while_the_new_output_was_being_made_is_refused(rig: Rig) -> None:
    """Audit AI: the daemon busy making a big replacement's output; a `release` given meanwhile
    was read once the output existed, and printed it unseen. Judged by when it was given."""
    r = rig
    job_id, _folder = _held(r, "AI")
    r.clock.advance(60)
    make_pdf(r.tmp / "new.pdf", pages=[(90.5, 61.0)] * 2)
    assert r.engine.apply(job_id, Action.REPLACE, by="alice", note="", file=r.tmp / "new.pdf").ok
    uploaded = [e for e in r.job(job_id).history if e.status is JobStatus.ArtworkUploaded][-1]
    at = datetime.fromisoformat(uploaded.at.replace("Z", "+00:00")) + timedelta(seconds=1)  # given 1 s later
    token = f"{int(at.timestamp() * 1e9)}-{'c' * 12}"
    r.clock.advance(10)  # the daemon busy: the new output is made 10 s after the replacement
    r.run(until=_settled(r, job_id, 1), steps=10)  # the output is made, then the release is read
    result = r.engine.apply(job_id, Action.RELEASE, by="bob", note="", token=token)
    assert (
        not result.ok
        and "when the output of the new artwork" in result.message
        and "was not made yet" in result.message
    )
    r.run(steps=3)
    assert r.take_prints() == [] and r.job(job_id).blocked


class CommitWatch:
    """The ledger's connection; after every COMMIT, notes each job's (status, stage, folder) as a
    reader (`show --json`, `jobs`) would have seen them then."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.seen: set[tuple[str, str, str]] = set()

    def execute(self, sql: str, *args: Any) -> Any:
        result = self.real.execute(sql, *args)
        if sql == "COMMIT":
            rows = self.real.execute("SELECT status, stage, folder FROM jobs").fetchall()
            self.seen.update((row[0], row[1], row[2]) for row in rows)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_reader_of_the_ledger_sees_a_status_with_the_folder_that_goes_with_it(rig: Rig) -> None:
    """`show --json` read between two commits said `InHotFolder` with `"folder": "work/<job>"` (the
    folder's move was recorded a moment after the status), `Rejected` with `quarantine/<job>`, and
    a held job's `OutputCreated` with `work/<job>`: a script that waits for the status then opens
    the folder it names found none. Status, stage and folder are now committed together."""
    r = rig
    watch = CommitWatch(r.ledger._db)
    r.ledger._db = watch  # type: ignore[assignment]
    delivered = r.order("W1")
    held, _ = _held(r, "W2")
    rejected, _ = _held(r, "W3")
    r.run(until=done(r, delivered), steps=10)
    assert r.engine.apply(rejected, Action.REJECT, by="lea", note="").ok
    assert r.engine.apply(held, Action.RELEASE, by="lea", note="").ok
    r.run(until=done(r, held), steps=10)
    assert r.stage(rejected) is Stage.REJECTED
    said = {(status, folder) for status, _, folder in watch.seen}
    assert {("InHotFolder", f"done/{delivered}"), ("InHotFolder", f"done/{held}")} <= said
    assert ("Rejected", f"rejected/{rejected}") in said
    expected = {"InHotFolder": "done/", "Rejected": "rejected/"}
    assert [(s, f) for s, f in said if s in expected and not f.startswith(expected[s])] == []
    area = {"held": "quarantine/", "done": "done/", "rejected": "rejected/", "deliver": "work/", "process": "work/"}
    wrong = [(s, st, f) for s, st, f in watch.seen if st in area and not f.startswith(area[st])]
    assert wrong == []  # the stage and the folder the ledger names always agree
    for job_id in (delivered, held, rejected):
        assert (r.root / r.job(job_id).folder).is_dir()


def test_a_product_name_with_a_slash_is_printed_with_an_underscore_in_the_file_name(rig: Rig) -> None:
    """Audit AR 1: a product "A5/flyer" was refused (the manifest went to failed/, its artwork
    later too, as unclaimed), though SPEC 5 asks only that it be there and says a file-name
    template replaces the characters a filesystem rejects by `_`."""
    r = rig
    job_id = r.order("SL", product="A5/flyer:x", extra="hot_folder: indigo\n")
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["SL_SL-1_A5_flyer_x_x1.pdf"]
    assert r.job(job_id).product == "A5/flyer:x" and os.listdir(r.root / "failed") == []


def test_artwork_taken_by_another_orders_job_is_named_in_the_error(rig: Rig) -> None:
    """Audit AR 2: two orders whose manifests name one file: the second job failed "missing:
    X.pdf (expected at inbox/X.pdf)", sending the operator looking for a file that did arrive."""
    r = rig
    make_pdf(r.inbox / "X.pdf", pages=CARD)
    for order in ("XA", "XB"):
        (r.inbox / f"{order}.yaml").write_text(
            f'order_id: "{order}"\nproduct: bc-85x55\nquantity: 1\nartwork: [X.pdf]\n'
        )
    r.run(until=lambda: r.stage("XB-1") is Stage.FAILED, steps=20, dt=120)
    assert r.stage("XA-1") is Stage.DONE
    error = (r.root / "failed" / "XB-1" / "ERROR.txt").read_text()
    assert (
        "missing: X.pdf (expected at inbox/X.pdf); a file of that name came and was taken by job XA-1 (order XA), "
        "whose manifest names it too" in error
    ), error


def test_a_file_in_a_renamed_order_folder_is_told_apart_from_a_second_upload(rig: Rig) -> None:
    """Audit AS 2: a folder drop renamed after its manifest was taken ("New folder" -> "Order
    NF"): the job failed waiting at the old path, and the file, unclaimed in the renamed folder,
    went to failed/ saying the job "has its artwork" and the file was "put into the inbox again"."""
    r = rig
    (r.inbox / "New folder").mkdir()
    (r.inbox / "New folder" / "manifest.yaml").write_text(
        'order_id: "NF"\nproduct: bc-85x55\nquantity: 1\nartwork: [art.pdf]\n'
    )
    r.run(until=lambda: r.stage("NF-1") is Stage.AWAITING, steps=10)
    (r.inbox / "New folder").rename(r.inbox / "Order NF")
    make_pdf(r.inbox / "Order NF" / "art.pdf", pages=CARD)
    r.run(until=lambda: (r.root / "failed" / "Order NF" / "ERROR.txt").is_file(), steps=20, dt=60)
    error = (r.root / "failed" / "Order NF" / "ERROR.txt").read_text()
    assert r.stage("NF-1") is Stage.FAILED
    assert (
        "job NF-1 waited for an artwork file of this name at inbox/New folder/art.pdf, not where this one was "
        "(inbox/Order NF/art.pdf); it is in failed/NF-1/ (ValidationFailed): if this file is meant for that job, "
        "put it into failed/NF-1/replace/" in error
    ), error
    assert "has its artwork" not in error and "again" not in error


@pytest.mark.parametrize("missing", ["manifest.yaml", "other.pdf"])
def test_a_folder_drop_renamed_before_a_poll_saw_its_manifest_go_is_followed(rig: Rig, missing: str) -> None:
    """Review DL 1: in polling mode, "New folder" renamed within a poll interval after its manifest
    was taken in: the poller's last look still listed the manifest, which the new folder lacks, so
    the rename was never told and the job failed "artwork missing" an hour later. The poller names
    the files the new folder lacks: the daemon's own takes make it a rename, a file it never took
    (a folder removed and another made that got its inode) does not."""
    r = rig
    (r.inbox / "New folder").mkdir()
    (r.inbox / "New folder" / "manifest.yaml").write_text(
        'order_id: "NP"\nproduct: bc-85x55\nquantity: 1\nartwork: [art.pdf]\n'
    )
    r.run(until=lambda: r.stage("NP-1") is Stage.AWAITING, steps=10)
    assert not (r.inbox / "New folder" / "manifest.yaml").exists()
    (r.inbox / "New folder").rename(r.inbox / "Order NP")
    r.engine.folder_moved(r.inbox / "New folder", r.inbox / "Order NP", frozenset({missing}))  # (the poller's)
    make_pdf(r.inbox / "Order NP" / "art.pdf", pages=CARD)
    if missing == "manifest.yaml":
        r.run(until=lambda: r.stage("NP-1") is Stage.DONE, steps=20)
        assert (
            "its folder inbox/New folder was renamed inbox/Order NP"
            in (r.root / "done" / "NP-1" / "STATUS.txt").read_text()
        )
    else:
        r.run(until=lambda: (r.root / "failed" / "Order NP" / "ERROR.txt").is_file(), steps=20, dt=60)
        assert r.stage("NP-1") is Stage.FAILED


def test_an_unclaimed_files_error_names_the_refused_manifest_that_named_it(rig: Rig) -> None:
    """Audit (2026-12-03, CLI 5): q0.yaml (quantity 0) was refused, and its q0.pdf, unclaimed, went
    to failed/ after artwork_timeout_seconds saying "no manifest named it": the manifest had, and
    which one it was, among dozens of failed/ folders, was left to the operator to find."""
    r = rig
    make_pdf(r.inbox / "q0.pdf", pages=CARD)
    (r.inbox / "q0.yaml").write_text('order_id: "Q0"\nproduct: bc-85x55\nquantity: 0\nartwork: [q0.pdf]\n')
    make_pdf(r.inbox / "alone.pdf", pages=CARD)
    r.run(until=lambda: (r.root / "failed" / "q0.yaml" / "ERROR.txt").is_file(), steps=10)
    r.run(until=lambda: (r.root / "failed" / "q0.pdf" / "ERROR.txt").is_file(), steps=20, dt=60)
    r.run(until=lambda: (r.root / "failed" / "alone.pdf" / "ERROR.txt").is_file(), steps=5, dt=60)
    error = (r.root / "failed" / "q0.pdf" / "ERROR.txt").read_text()
    assert "inbox/q0.pdf arrived in the inbox but no manifest that was taken in named it." in error
    assert (
        "the manifest in failed/q0.yaml/ names it but was refused: see failed/q0.yaml/ERROR.txt; put this file "
        "into inbox/ again together with the corrected manifest" in error
    ), error
    # The refused manifest is the reason: not also "within 20 seconds of arrival" (audit AM: said
    # of a link filed half a second after it came, with its manifest).
    assert "seconds of arrival" not in error, error
    alone = (r.root / "failed" / "alone.pdf" / "ERROR.txt").read_text()
    assert "names it but was refused" not in alone
    assert "a manifest that names them but was refused is in failed/" in alone


def test_a_bad_manifest_with_a_name_too_long_to_keep_is_said_under_the_name_it_has(rig: Rig) -> None:
    """Audit (2026-12-03, CLI 7): a bad manifest named with 255 bytes is kept in failed/ under a
    shortened name, and its ERROR.txt said "Correct <the 255-byte name> ... The daemon did not
    change the file": the operator looked for a file of that name."""
    r = rig
    name = "n" * 250 + ".yaml"
    (r.inbox / name).write_text('order_id: "LONG"\nproduct: bc-85x55\nquantity: 0\nartwork: [a.pdf]\n')
    r.run(until=lambda: any((r.root / "failed").glob("*/ERROR.txt")), steps=10)
    [error] = (r.root / "failed").glob("*/ERROR.txt")
    [kept] = [p.name for p in error.parent.iterdir() if p.name != "ERROR.txt"]
    assert kept != name and kept.endswith(".yaml")
    text = error.read_text()
    assert f"Correct {kept} " in text and f"(Its name was too long to keep: it is here as {kept}.)" in text
    assert name not in text.split("How to fix it:")[1]


def test_a_dragged_in_folder_stays_while_its_job_waits_for_artwork_in_it(rig: Rig) -> None:
    """Audit (2026-12-03, robustness 2): an order folder dragged in with one PDF in a subfolder
    and one still to come beside the manifest. Once the subfolder's file was taken, the emptied
    subfolder was removed and, walking up, the order's folder too: the client's upload of the
    second file then failed ("No such file or directory"), and the job waited for a folder that
    was gone. The folder stays while a job waits for a file in it, and goes once it is complete."""
    r = rig
    order = r.inbox / "D5"
    (order / "sub").mkdir(parents=True)
    make_pdf(order / "sub" / "x.pdf", pages=CARD[:1])  # the front
    (order / "manifest.yaml").write_text(
        'order_id: "D5"\nproduct: bc-85x55\nquantity: 1\nartwork: [sub/x.pdf, y.pdf]\n'
    )
    r.run(until=lambda: not (order / "sub" / "x.pdf").exists(), steps=10)
    r.run(steps=3)
    assert order.is_dir() and r.stage("D5-1") is Stage.AWAITING
    make_pdf(order / "y.pdf", pages=CARD[1:])  # the back
    r.run(until=done(r, "D5-1"), steps=20)
    assert r.take_prints() == ["D5_D5-1_bc-85x55_x1.pdf"]
    r.run(until=lambda: not order.exists(), steps=5)


def test_a_reject_dropped_into_a_released_jobs_folder_left_by_a_crash_is_answered_truly(rig: Rig) -> None:
    """Audit AU 1: killed between a release's commit and the folder's move out of quarantine/, the
    job's folder stayed there, its STATUS.txt still offering REJECT; a REJECT dropped meanwhile was
    moved to work/ with the folder at the restart, unread, and answered after the delivery as "the
    job was finished before they were read". It is read first, where it was dropped: the job was
    released before it (a release is not undone by a later REJECT), and its answer says so."""
    r = rig
    job_id, folder = _held(r, "RF")
    (folder / "RELEASE").write_text("alice\n")
    # (The folder moves before the release's commit now; a power cut that forgets the rename, which
    # is not synced, leaves it in quarantine/ with the release recorded.)
    life_until_killed(r, lambda mp: _crash_before(mp, Engine, "_consume_drop"))  # after the commit
    assert r.job(job_id).stage is Stage.DELIVER and not folder.exists()
    os.replace(r.root / "work" / job_id, folder)  # the rename the power cut forgot
    (folder / "REJECT").write_text("bob\nwrong paper\n")
    r.start()
    with capture_logs() as logs:
        r.run(until=done(r, job_id), steps=20)
    assert r.take_prints() == ["RF_RF-1_bc-85x55_x1.pdf"]
    [refused] = [e for e in logs if e["event"] == "operator.refused"]
    assert refused["action"] == "REJECT" and refused["reason"] == (
        f"job {job_id} was released (by alice) and is no longer blocked (status OutputCreated): it goes to its "
        "hot folder as soon as it is ready; only a blocked or failed job can be rejected"
    )
    status = (r.root / "done" / job_id / "STATUS.txt").read_text()
    assert "was released (by alice) and is no longer blocked" in status
    assert "finished before they were read" not in status


@pytest.mark.parametrize("action", ["RELEASE", "REJECT"])
def test_a_crash_between_an_actions_folder_move_and_its_commit_acts_once_at_restart(rig: Rig, action: str) -> None:
    """The folder moves before the commit that records the action (so that `show` never names a
    folder that is not there yet): killed in between, the folder is ahead of the ledger, with the
    drop file in it, unconsumed. The restart moves it back to quarantine/ and the drop file is
    acted on then, once: one release and one delivery, or one rejection and nothing printed."""
    r = rig
    job_id, folder = _held(r, "MV")
    (folder / action).write_text("alice\n")
    ahead = r.root / ("work" if action == "RELEASE" else "rejected") / job_id
    life_until_killed(
        r, lambda mp: _crash_after(mp, engine_module.os, "replace", when=lambda src, dst: Path(dst) == ahead)
    )
    assert ahead.is_dir() and not folder.exists()
    assert r.job(job_id).stage is Stage.HELD  # nothing of the action committed
    r.start()
    r.run(until=lambda: r.stage(job_id) in (Stage.DONE, Stage.REJECTED), steps=20)
    r.run(steps=3)
    job = r.job(job_id)
    history = [e.status.value for e in job.history]
    if action == "RELEASE":
        assert r.take_prints() == ["MV_MV-1_bc-85x55_x1.pdf"]
        assert history.count("InHotFolder") == 1 and not job.blocked
        assert [e.removed_by for e in job.history if e.status.value == "Blocked"] == ["alice"]
    else:
        assert r.take_prints() == []
        assert history.count("Rejected") == 1 and job.stage is Stage.REJECTED
    final = r.root / ("done" if action == "RELEASE" else "rejected") / job_id
    assert not (final / action).exists()
    assert [n for n in _history_names(final) if n.endswith(f"-{action}")]  # consumed, once
    assert not [n for n in _history_names(final) if "unused" in n]


def test_artwork_changed_by_hand_after_its_check_is_never_printed_unchecked(rig: Rig) -> None:
    """Audit AV 1: a blocked job's output deleted and another PDF dragged over its artwork/ file (a
    file manager's "replace"), then RELEASE: the output was made again from the new file and sent to
    the printer, unchecked by anyone. The job fails instead, saying what happened and what to do."""
    r = rig
    job_id, folder = _held(r, "AH")
    for output in (folder / "output").iterdir():
        output.unlink()
    other = r.tmp / "other.pdf"
    make_pdf(other, pages=[(91.5, 61.0)] * 2)
    os.replace(other, folder / "artwork" / "AH.pdf")
    (folder / "RELEASE").write_text("wes\n")
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=10)
    assert r.take_prints() == []
    error = (r.root / "failed" / job_id / "ERROR.txt").read_text()
    assert "artwork changed in its folder after it was checked: AH.pdf" in error
    assert "Put the PDF to print into replace/" in error
    # Audit (operators at scale): the release that found the change still removed the Blocked
    # entry, and a RETRY then printed the new file, seen by no one. The job stays blocked: checked
    # again, it waits in quarantine/ for a release of what the operator can now see.
    job = r.job(job_id)
    assert job.active_block() is not None, [(e.status.value, e.removed_by) for e in job.history]
    (r.root / "failed" / job_id / "RETRY").write_text("wes\n")
    r.run(until=lambda: r.stage(job_id) in (Stage.HELD, Stage.DONE), steps=20)
    assert r.take_prints() == [] and r.stage(job_id) is Stage.HELD
    # The same without a change of the artwork: the output is made again and printed.
    job_id, folder = _held(r, "AI")
    for output in (folder / "output").iterdir():
        output.unlink()
    (folder / "RELEASE").write_text("wes\n")
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["AI_AI-1_bc-85x55_x1.pdf"]


@pytest.mark.parametrize("same_names", [False, True], ids=["own-names", "both-art.pdf"])
def test_two_held_job_folders_swapped_by_hand_never_print_one_for_the_other(rig: Rig, same_names: bool) -> None:
    """Audit (operators at scale): quarantine/SW-1 and quarantine/SX-1 swapped by renames in a file
    explorer, then RELEASE in SW-1's folder (which holds SX's files) and RETRY: order SX's artwork
    was printed under SW-1's name (both orders' artwork named art.pdf). Nothing prints; both jobs
    stay blocked."""
    r = rig
    if same_names:
        for order_id in ("SW", "SX"):
            folder = r.tmp / order_id
            folder.mkdir()
            make_pdf(folder / "art.pdf", pages=CARD, content=f"% order {order_id}\n".encode())
            (folder / "manifest.yaml").write_text(
                f'order_id: "{order_id}"\nproduct: bc-85x55\nquantity: 1\nartwork: [art.pdf]\nblocked: true\n'
            )
            os.replace(folder, r.inbox / order_id)
        r.run(until=lambda: r.stage("SW-1") is Stage.HELD and r.stage("SX-1") is Stage.HELD, steps=20)
        first, first_dir = "SW-1", r.root / "quarantine" / "SW-1"
        second, second_dir = "SX-1", r.root / "quarantine" / "SX-1"
    else:
        first, first_dir = _held(r, "SW")
        second, second_dir = _held(r, "SX")
    aside = r.root / "quarantine" / "aside"
    os.replace(first_dir, aside)
    os.replace(second_dir, first_dir)
    os.replace(aside, second_dir)
    (first_dir / "RELEASE").write_text("lou\n")
    r.run(until=lambda: not (first_dir / "RELEASE").exists(), steps=20)
    r.run(steps=10)
    for job_id in (first, second):
        folder = r.root / r.job(job_id).folder
        if folder.parent.name == "failed" and folder.is_dir():
            (folder / "RETRY").write_text("rt\n")
    r.run(steps=30)
    assert r.take_prints() == []
    for job_id in (first, second):
        job = r.job(job_id)
        assert job.active_block() is not None, (job_id, [(e.status.value, e.removed_by) for e in job.history])


def _unmovable(monkeypatch: pytest.MonkeyPatch, folder: Path, code: int, *, read_only: bool = False) -> list[bool]:
    """``folder`` may not be moved (a read-only flag, a mode 555) while the list's flag is True;
    ``read_only``: nor any file in it be moved out."""
    real = engine_module.os.replace
    stuck = [True]

    def refusing(src: Any, dst: Any, **kwargs: Any) -> None:
        if stuck[0] and (str(src) == str(folder) or (read_only and Path(src).parent == folder)):
            raise PermissionError(code, os.strerror(code), str(src))
        real(src, dst, **kwargs)

    monkeypatch.setattr(engine_module.os, "replace", refusing)
    return stuck


def test_a_job_folder_that_cannot_be_moved_stays_recorded_where_it_is(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit AV 2: a job folder made unmovable (a read-only flag) when its release moved it: the
    ledger, which names the new folder with the status, named work/<job>, which did not exist; once
    the folder could be moved, the job failed "artwork missing" with its artwork there."""
    r = rig
    job_id, folder = _held(r, "UM")
    stuck = _unmovable(monkeypatch, folder, errno.EPERM)
    with contextlib.suppress(PermissionError):
        r.engine.apply(job_id, Action.RELEASE, by="cal", note="")
    assert r.job(job_id).folder == f"quarantine/{job_id}" and folder.is_dir()
    stuck[0] = False
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["UM_UM-1_bc-85x55_x1.pdf"]
    assert "ValidationFailed" not in r.statuses(job_id)


def test_a_job_folder_that_cannot_be_moved_once_delivered_is_moved_when_it_may_be(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BO D7: a job folder in quarantine/ made read-only (mode 555, by an operator) as its
    release went through: the job was printed, then failed "internal error" in quarantine/ with
    tracebacks in the log, its STATUS.txt saying only its ticket was missing, and stayed so until
    a restart. Its status stands (delivered once), the log and STATUS.txt say why the folder
    stays, and it is moved at a rescan once it may be, also after a restart."""
    r = rig
    job_id, folder = _held(r, "RO")
    stuck = _unmovable(monkeypatch, folder, errno.EACCES)
    (folder / "RELEASE").write_text("cal\n")
    r.engine.hint(folder / "RELEASE")
    with capture_logs() as logs:
        r.run(until=lambda: "InHotFolder" in r.statuses(job_id), steps=10)
        r.run(steps=3)
    assert r.stage(job_id) is Stage.DONE and r.job(job_id).folder == f"quarantine/{job_id}"
    assert [e["log_level"] for e in logs if e["log_level"] == "error"] == [], logs
    said = [e for e in logs if e["event"] == "job.folder_not_moved"]
    assert [e["to"] for e in said] == ["work/", "done/"]  # (once for each folder it is to go into)
    assert "give the daemon's account write permission on quarantine/RO-1 and on done/" in said[-1]["action"]
    assert not (folder / "ERROR.txt").exists() and not (folder / "RELEASE").exists()
    status = (folder / "STATUS.txt").read_text()
    assert "Status: InHotFolder" in status and "this folder could not be moved into done/ (Permission denied)" in status
    assert r.take_prints() == ["RO_RO-1_bc-85x55_x1.pdf"]
    r.start()  # a restart while it may still not be moved: said, no traceback
    with capture_logs() as logs:
        r.run(steps=2)
    assert [e for e in logs if e["log_level"] == "error"] == [] and folder.is_dir()
    stuck[0] = False  # the operator gives the permission back: moved at the next rescan
    r.run(until=lambda: (r.root / "done" / job_id).is_dir(), steps=3)
    assert r.job(job_id).folder == f"done/{job_id}" and not folder.exists()
    r.run(steps=3)
    assert "this folder is in done/ now" in (r.root / "done" / job_id / "STATUS.txt").read_text()
    assert r.take_prints() == [] and r.statuses(job_id).count("InHotFolder") == 1


def test_a_release_in_a_read_only_job_folder_is_filed_once_it_may_be_never_as_unused(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BU 4, 6: in a job folder made read-only (mode 555), the RELEASE that released the job
    could not be moved into history/: a traceback each time it was answered, and once the folder
    could move, the RELEASE was filed as "unused" ("not acted on, as the job was finished")."""
    r = rig
    job_id, folder = _held(r, "RN")
    stuck = _unmovable(monkeypatch, folder, errno.EACCES, read_only=True)
    (folder / "RELEASE").write_text("cal\n")
    r.engine.hint(folder / "RELEASE")
    with capture_logs() as logs:
        r.run(until=lambda: "InHotFolder" in r.statuses(job_id), steps=10)
        r.run(steps=2)
    assert [e for e in logs if e["log_level"] == "error"] == []
    assert "drop.not_filed" in [e["event"] for e in logs] and (folder / "RELEASE").exists()
    assert r.take_prints() == ["RN_RN-1_bc-85x55_x1.pdf"]
    stuck[0] = False
    done_dir = r.root / "done" / job_id
    r.run(until=lambda: done_dir.is_dir() and not (done_dir / "RELEASE").exists(), steps=5)
    r.run(steps=2)
    filed = [name for name in os.listdir(done_dir / "history") if name.endswith("RELEASE")]
    assert len(filed) == 1 and "unused" not in filed[0], filed
    assert "not acted on" not in (done_dir / "STATUS.txt").read_text()
    assert r.take_prints() == [] and r.statuses(job_id).count("InHotFolder") == 1


def test_a_replacement_refused_in_a_read_only_replace_folder_is_not_said_filed(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BU 2: a PDF put into a replace/ made read-only, with a REJECT: a traceback, and
    STATUS.txt said the PDF was "kept in history/ as unused" while it stayed in replace/."""
    r = rig
    job_id, folder = _held(r, "RJ5")
    real = engine_module.os.replace

    def refusing(src: Any, dst: Any, **kwargs: Any) -> None:  # (replace/ read-only, wherever its job folder goes)
        if Path(src).parent.name == "replace":
            raise PermissionError(errno.EACCES, "Permission denied", str(src))
        real(src, dst, **kwargs)

    monkeypatch.setattr(engine_module.os, "replace", refusing)
    make_pdf(folder / "replace" / "new.pdf", pages=[(90.5, 61.0)] * 2)
    (folder / "REJECT").write_text("cal\n")
    with capture_logs() as logs:
        r.run(until=lambda: r.stage(job_id) is Stage.REJECTED, steps=10)
        r.run(steps=3)
    assert [e for e in logs if e["log_level"] == "error"] == []
    assert "drop.not_filed" in [e["event"] for e in logs]
    rejected = r.root / "rejected" / job_id
    assert (rejected / "replace" / "new.pdf").exists() and "new.pdf" not in (rejected / "STATUS.txt").read_text()
    assert r.take_prints() == []


def test_a_replacement_the_daemon_may_not_read_says_whose_it_is_and_the_fix(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BU 9 (BS D6): a replacement PDF dropped with umask 077 was refused with "the
    replacement file cannot be read: Permission denied" alone."""
    r = rig
    job_id, folder = _held(r, "RU")
    real = os.open

    def refusing(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path).name == "new.pdf" and Path(path).parent.name == "replace":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, flags, *args, **kwargs)

    make_pdf(folder / "replace" / "new.pdf", pages=[(90.5, 61.0)] * 2)
    monkeypatch.setattr(os, "open", refusing)
    r.run(until=lambda: not (folder / "replace" / "new.pdf").exists(), steps=10)
    monkeypatch.setattr(os, "open", real)
    r.run(steps=2)
    status = (folder / "STATUS.txt").read_text()
    assert "the daemon may not read new.pdf (it belongs to root, mode -rw-r--r--): put it into replace/" in status
    assert _uploads(r, job_id) == 0


def test_an_artwork_file_the_daemon_may_not_read_fails_with_the_chmod_and_retry_as_its_fix(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BS D6, left: the reason said whose the file is and the fix, but ERROR.txt's "How to
    fix it" offered only a corrected PDF into replace/ or REJECT, for a good PDF uploaded with
    umask 077 by another account. It says the chmod and RETRY, which then prints the job."""
    import spo_hotfolder.preflight as preflight_module

    r = rig
    job_id = r.order("PM")
    real = preflight_module._sha256
    refused = [True]

    def sha256(path: str) -> str:
        if refused[0] and Path(path).name == "PM.pdf":
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(preflight_module, "_sha256", sha256)
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=10)
    error = (r.root / "failed" / job_id / "ERROR.txt").read_text()
    fix = " ".join(error.split("How to fix it:")[1].split())
    assert fix.startswith("Nothing is known to be wrong with the PDF: the daemon may not read it"), error
    assert "(chmod g+r on the file in artwork/), then drop a file named RETRY here" in fix, error
    status = " ".join((r.root / "failed" / job_id / "STATUS.txt").read_text().split())
    # (audit BW: STATUS.txt's ways on named "a corrected PDF" first, beside ERROR.txt's chmod)
    assert "The ways on from here: a file named RETRY here, once the file's owner has given" in status, status
    assert "corrected PDF" not in status, status
    refused[0] = False
    (r.root / "failed" / job_id / "RETRY").write_text("ann\n")
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["PM_PM-1_bc-85x55_x1.pdf"]


def test_a_replacement_for_a_job_in_a_read_only_folder_is_made_there_without_a_traceback(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BU 4: `spo-hotfolder replace` of a job whose folder in quarantine/ was made read-only:
    a traceback as the job was sent on (its folder could not move into work/), the answer late.
    The new output is made where the folder is, and the job waits for release there."""
    r = rig
    job_id, folder = _held(r, "RQ")
    _unmovable(monkeypatch, folder, errno.EACCES)
    make_pdf(r.tmp / "new.pdf", pages=[(90.5, 61.0)] * 2)
    with capture_logs() as logs:
        result = r.engine.apply(job_id, Action.REPLACE, by="cal", note="", file=r.tmp / "new.pdf")
        r.run(until=lambda: r.statuses(job_id)[-1] == "OutputCreated", steps=10)
    assert result.ok, result
    assert [e for e in logs if e["log_level"] == "error"] == []
    assert "job.folder_not_moved" in [e["event"] for e in logs]
    assert r.stage(job_id) is Stage.HELD and r.job(job_id).folder == f"quarantine/{job_id}"
    assert _uploads(r, job_id) == 1 and r.take_prints() == []


def test_a_job_holding_a_folder_the_daemon_may_not_look_into_is_released_not_failed(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BV N2: an operator's folder made with umask 077 in a held job's output/: at its
    release, the look for jobs' folders dragged inside raised, the move was left half done, and the
    job failed "artwork file missing from the job folder" with its artwork there."""
    r = rig
    job_id, folder = _held(r, "NV")
    mine = folder / "output" / "mine"
    mine.mkdir()
    real_stat = os.stat

    def stat_refusing(path: Any, *args: Any, **kwargs: Any) -> Any:
        if Path(path).parent == mine:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat_refusing)
    (folder / "RELEASE").write_text("cal\n")
    with capture_logs() as logs:
        r.run(until=done(r, job_id), steps=10)
    assert [e for e in logs if e["log_level"] == "error"] == []
    assert "ValidationFailed" not in r.statuses(job_id)
    assert r.take_prints() == ["NV_NV-1_bc-85x55_x1.pdf"]


def test_a_drop_file_refused_in_a_read_only_folder_is_filed_at_a_rescan_once_it_may_be(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BV N3: a RELEASE refused in a job folder made read-only stayed there after the mode
    was put back, STATUS.txt still offering RELEASE, until a restart."""
    r = rig
    job_id, folder = _held(r, "NF")
    stuck = _unmovable(monkeypatch, folder, errno.EACCES, read_only=True)
    (folder / "release_2051.txt").write_text("cal\n")  # (another job's number: refused)
    with capture_logs() as logs:
        r.run(until=lambda: "release_2051.txt holds 2051" in (r.ledger.last_action(job_id) or ""), steps=10)
        r.run(steps=2)
    assert [e["event"] for e in logs].count("drop.not_filed") == 1 and (folder / "release_2051.txt").exists()
    stuck[0] = False
    r.run(until=lambda: not (folder / "release_2051.txt").exists(), steps=3)
    assert any(name.endswith("release_2051.txt") for name in os.listdir(folder / "history"))
    assert r.job(job_id).blocked and r.take_prints() == []


def test_a_job_folder_moved_whose_replace_folder_cannot_be_made_is_not_said_unmoved(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder moved into quarantine/, then its replace/ could not be made: the job is held
    there as recorded, nothing says its folder stayed behind, and replace/ comes at a rescan."""
    r = rig
    real = Path.mkdir
    refused: list[Path] = []

    def mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        if self.name == "replace" and self.parent.parent.name == "quarantine" and not refused:
            refused.append(self)
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    with capture_logs() as logs:
        job_id, folder = _held(r, "RP")
    assert refused == [folder / "replace"] and r.job(job_id).folder == f"quarantine/{job_id}"
    assert [e["event"] for e in logs if e["log_level"] in ("warning", "error")] == ["job.folder_not_tidied"]
    r.run(until=(folder / "replace").is_dir, steps=3)


@pytest.mark.parametrize("name", ["REJECT", "RELEASE", "reject.pdf"])
def test_a_drop_file_the_daemon_may_not_read_is_acted_on_by_its_name_or_refused_said(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Audit BS D2: a RELEASE dropped by an operator with umask 077 (mode 600, another account):
    no log line, no answer, the job blocked for ever with STATUS.txt still offering RELEASE beside
    it. A REJECT (or RETRY) unread is acted on by its name, the history saying why its name and
    note are not there. A RELEASE unread is refused, said: it may name the artwork it approves,
    which cannot be checked unread (audit BU 1: acted on, it printed a replacement the operator had
    not seen). A file named .pdf (artwork put into the wrong place?) is refused too."""
    r = rig
    job_id, folder = _held(r, "UR")
    (folder / name).write_text("alice\nartwork: 0123456789ab\n")
    real = os.open

    def refusing(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path).name == name:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing)
    r.engine.hint(folder / name)
    r.run(until=lambda: not (folder / name).exists(), steps=10)
    monkeypatch.setattr(os, "open", real)
    r.run(steps=3)
    assert r.take_prints() == []
    if name == "REJECT":
        assert r.stage(job_id) is Stage.REJECTED
        entry = r.job(job_id).history[-1]
        assert entry.status is JobStatus.Rejected and entry.by == "operator"  # (the owner; root here)
        assert "the daemon may not read this file (it belongs to root, mode -rw-r--r--)" in entry.detail
        return
    assert r.job(job_id).blocked and r.stage(job_id) is Stage.HELD
    status = (folder / "STATUS.txt").read_text()
    if name == "RELEASE":
        assert "RELEASE could not be read by the daemon (it belongs to root, mode -rw-r--r--): a RELEASE may" in status
    else:
        assert "reject.pdf could not be read (it belongs to root, mode -rw-r--r--), and a file named .pdf" in status


def test_a_drop_file_in_a_job_folder_moved_by_hand_says_so(rig: Rig) -> None:
    """Audit AV 5: a job's folder dragged from quarantine/ into failed/ (the same name): a RELEASE
    there was answered "this is job X's folder under another name", though the name was the same."""
    r = rig
    job_id, folder = _held(r, "MH")
    moved = r.root / "failed" / job_id
    os.replace(folder, moved)
    (moved / "RELEASE").write_text("zed\n")
    r.engine.hint(moved / "RELEASE")
    r.run(until=lambda: not (moved / "RELEASE").exists(), steps=10)
    status = (moved / "STATUS.txt").read_text()
    assert f"this is job {job_id}'s folder, moved here by hand (or a copy of it)" in status, status
    assert r.take_prints() == []


def test_a_manifest_refused_without_a_line_or_key_is_not_told_to_look_for_them(rig: Rig) -> None:
    """Audit AW 3: a symbolic link as manifest (or one over 1 MiB) is refused whole, with no line or
    key at fault; ERROR.txt still said "Correct it (the lines and keys above say where)"."""
    r = rig
    target = r.tmp / "elsewhere.yaml"
    target.write_text('order_id: "SL"\nproduct: bc-85x55\nquantity: 1\nartwork: [SL.pdf]\n')
    (r.inbox / "link.yaml").symlink_to(target)
    error = r.root / "failed" / "link.yaml" / "ERROR.txt"
    r.run(until=error.is_file, steps=20)
    text = error.read_text()
    assert "is a symbolic link" in text and "the lines and keys above" not in text
    assert "Correct link.yaml as said above and put it into inbox/ again" in text


def _waits_for_artwork_pdf(r: Rig, order: str) -> str:
    (r.inbox / f"{order}.yaml").write_text(
        f'order_id: "{order}"\nproduct: bc-85x55\nquantity: 1\nartwork: [artwork.pdf]\n'
    )
    r.run(until=lambda: r.stage(f"{order}-1") is Stage.AWAITING, steps=10, dt=0.5)
    return f"{order}-1"


def test_an_order_whose_file_never_came_does_not_take_the_next_orders_file_of_that_name(rig: Rig) -> None:
    """Audit BY 1: the oldest order waiting for "artwork.pdf" took every next order's file of that
    name, each order printing the next one's artwork until the first timed out. While it waits
    (its own file may yet come), a file of that name is set aside for the operator, not guessed;
    once it has timed out, the next orders' files go to them."""
    r = rig
    stale = _waits_for_artwork_pdf(r, "WX")  # its upload failed: its file never comes
    r.run(steps=15, dt=10)
    second = _waits_for_artwork_pdf(r, "WY")
    make_pdf(r.tmp / "upload.pdf", pages=CARD)
    os.replace(r.tmp / "upload.pdf", r.inbox / "artwork.pdf")
    aside = r.root / "failed" / "artwork.pdf" / "artwork.pdf"
    r.run(until=aside.is_file, steps=10)
    assert r.take_prints() == [] and r.stage(stale) is Stage.AWAITING and r.stage(second) is Stage.AWAITING
    r.run(until=lambda: r.stage(stale) is Stage.FAILED and r.stage(second) is Stage.FAILED, steps=20, dt=60)
    third = _waits_for_artwork_pdf(r, "WZ")
    make_pdf(r.tmp / "upload.pdf", pages=[(91.5, 61.0)] * 2)
    own = (r.tmp / "upload.pdf").read_bytes()
    os.replace(r.tmp / "upload.pdf", r.inbox / "artwork.pdf")
    r.run(until=done(r, third), steps=10)
    assert r.take_prints() == ["WZ_WZ-1_bc-85x55_x1.pdf"]
    assert (r.root / "done" / third / "artwork" / "artwork.pdf").read_bytes() == own


def test_a_file_being_uploaded_when_another_orders_manifest_came_is_not_guessed(rig: Rig) -> None:
    """The other side of BY 1 (audits CA 1, CF 1): an order's file still being written when the next
    order's manifest (naming the same file name) comes could be either's (the next one may send
    its PDF first). Nobody takes it; both jobs say AwaitingData (BY 2) and how to give it."""
    r = rig
    first = _waits_for_artwork_pdf(r, "WA")
    make_pdf(r.tmp / "whole.pdf", pages=CARD)
    whole = (r.tmp / "whole.pdf").read_bytes()
    upload = r.inbox / "artwork.pdf"
    upload.write_bytes(whole[: len(whole) // 2])  # a slow upload: no end marker yet
    r.run(steps=6, dt=0.5)
    second = _waits_for_artwork_pdf(r, "WB")
    with upload.open("ab") as fh:
        fh.write(whole[len(whole) // 2 :])
    aside = r.root / "failed" / "artwork.pdf" / "artwork.pdf"
    r.run(until=aside.is_file, steps=30, dt=0.5)
    r.run(steps=2)
    assert r.take_prints() == [] and aside.read_bytes() == whole
    assert r.statuses(first)[-1] == "AwaitingData" and r.statuses(second) == ["Ordered", "AwaitingData"]


def _shared_name_order(r: Rig, order: str) -> None:
    (r.tmp / f"{order}.yaml").write_text(
        f'order_id: "{order}"\nproduct: bc-85x55\nquantity: 1\nartwork: [artwork.pdf]\n'
    )
    os.replace(r.tmp / f"{order}.yaml", r.inbox / f"{order}.yaml")
    r.engine.hint(r.inbox / f"{order}.yaml", moved_in=True)


def _publish_artwork(r: Rig, data: bytes) -> None:
    (r.tmp / "artwork.pdf").write_bytes(data)
    os.replace(r.tmp / "artwork.pdf", r.inbox / "artwork.pdf")
    r.engine.hint(r.inbox / "artwork.pdf", moved_in=True)


def test_a_lone_waiting_order_does_not_take_the_next_orders_file_sent_just_before_its_manifest(rig: Rig) -> None:
    """Audit A 1: an order whose artwork.pdf never came waited; the next order's artwork.pdf came,
    its manifest half a second later: the waiting order took that file and printed it, and the
    next order failed "artwork missing". A file whose times do not name the waiting order waits the
    moment in which its own order's manifest may come; then the two decide by when each came."""
    r = rig
    _shared_name_order(r, "A5")
    r.run(until=lambda: r.stage("A5-1") is Stage.AWAITING, steps=10, dt=0.5)
    r.run(steps=15, dt=1)  # A5's file never comes
    make_pdf(r.tmp / "b6.pdf", pages=CARD)
    b6 = (r.tmp / "b6.pdf").read_bytes()
    _publish_artwork(r, b6)
    r.run(steps=1, dt=0.5)
    _shared_name_order(r, "B6")
    aside = r.root / "failed" / "artwork.pdf"
    r.run(until=(aside / "ERROR.txt").is_file, steps=20, dt=0.25)
    r.run(steps=3)
    assert r.take_prints() == [] and (aside / "artwork.pdf").read_bytes() == b6
    assert r.stage("A5-1") is Stage.AWAITING and r.stage("B6-1") is Stage.AWAITING


def test_an_order_timed_out_for_a_shared_name_leaves_the_next_orders_file_to_it(rig: Rig) -> None:
    """Audit A 1, its second form: the waiting order had timed out into failed/ (whose late file
    brings it back): it took the next order's file, sent a second before that order's manifest."""
    r = rig
    _shared_name_order(r, "C7")
    r.run(until=lambda: r.stage("C7-1") is Stage.AWAITING, steps=10, dt=0.5)
    r.run(until=lambda: r.stage("C7-1") is Stage.FAILED, steps=20, dt=60)  # artwork_timeout_seconds: 600
    make_pdf(r.tmp / "d8.pdf", pages=CARD)
    _publish_artwork(r, (r.tmp / "d8.pdf").read_bytes())
    r.run(steps=1, dt=0.5)
    _shared_name_order(r, "D8")
    r.run(until=done(r, "D8-1"), steps=20, dt=0.25)
    assert r.take_prints() == ["D8_D8-1_bc-85x55_x1.pdf"] and r.stage("C7-1") is Stage.FAILED


def test_a_lone_order_that_waited_a_while_takes_its_file_a_moment_after_it_came(rig: Rig) -> None:
    """The lone waiter's rule stays (README): with no other manifest after it, the file is its own,
    taken once the moment in which another order's manifest could still name it has passed."""
    r = rig
    _shared_name_order(r, "E9")
    r.run(until=lambda: r.stage("E9-1") is Stage.AWAITING, steps=10, dt=0.5)
    r.run(steps=15, dt=1)
    make_pdf(r.tmp / "e9.pdf", pages=CARD)
    _publish_artwork(r, (r.tmp / "e9.pdf").read_bytes())
    r.run(steps=4, dt=0.25)
    assert (r.inbox / "artwork.pdf").is_file() and r.stage("E9-1") is Stage.AWAITING  # held a moment
    r.run(until=done(r, "E9-1"), steps=20, dt=0.25)
    assert r.take_prints() == ["E9_E9-1_bc-85x55_x1.pdf"]


def _two_orders_wait_for(r: Rig, name: str, orders: tuple[str, str]) -> None:
    """The manifests of ``orders``, each listing file ``name`` (in inbox/ already), sent a moment apart."""
    for order in orders:
        (r.tmp / f"{order}.yaml").write_text(
            f'order_id: "{order}"\nproduct: bc-85x55\nquantity: 1\nartwork: [{name}]\n'
        )
        os.replace(r.tmp / f"{order}.yaml", r.inbox / f"{order}.yaml")
        r.engine.hint(r.inbox / f"{order}.yaml", moved_in=True)
        r.run(steps=1, dt=0.1)


def test_a_file_two_orders_that_came_together_wait_for_is_set_aside_for_the_operator(rig: Rig) -> None:
    """Audits BY 2, CC 5: two orders' manifests came within seconds of a file of the name both list.
    Which order's it is, the times cannot tell: a guess printed one order's PDF for another (and the
    other's for the first). Nobody takes it: it goes to failed/<name>/ with an ERROR.txt, both jobs
    say AwaitingData (BY 2: one stayed Ordered until it failed as missing) and how to give it."""
    r = rig
    make_pdf(r.tmp / "whole.pdf", pages=CARD)
    whole = (r.tmp / "whole.pdf").read_bytes()
    (r.inbox / "artwork.pdf").write_bytes(whole)
    r.engine.hint(r.inbox / "artwork.pdf")
    _two_orders_wait_for(r, "artwork.pdf", ("WC", "WD"))
    aside = r.root / "failed" / "artwork.pdf"
    r.run(until=(aside / "ERROR.txt").is_file, steps=30, dt=0.1)
    r.run(steps=3)
    assert r.take_prints() == [] and (aside / "artwork.pdf").read_bytes() == whole
    error = " ".join((aside / "ERROR.txt").read_text().split())
    assert "jobs of several orders wait for a file of that name: which order's it is could not be told" in error
    assert "job WC-1 (order WC) waits for artwork.pdf" in error and "job WD-1 (order WD) waits for" in error
    assert f"spo-hotfolder replace <job id> '{aside / 'artwork.pdf'}'" in error
    for job_id in ("WC-1", "WD-1"):
        assert r.stage(job_id) is Stage.AWAITING and r.statuses(job_id) == ["Ordered", "AwaitingData"]
        status = " ".join((r.root / "work" / job_id / "STATUS.txt").read_text().split())
        assert f"If it is this job's: spo-hotfolder replace {job_id} '{aside / 'artwork.pdf'}'" in status
        # (audit CI 5: "What you can do now" said only "Nothing yet")
        assert (
            "If a file of it is elsewhere (set aside in failed/, or sent under another name): "
            f"spo-hotfolder replace {job_id} FILE.pdf (for a job of several files, FILE.pdf named as the one it "
            "stands for)"
        ) in status.split("What you can do now:")[1]
    # The operator gives it to the right job.
    result = r.engine.apply("WD-1", Action.REPLACE, by="ann", note="", file=aside / "artwork.pdf")
    assert result.ok, result.message
    r.run(until=done(r, "WD-1"), steps=10)
    assert r.take_prints() == ["WD_WD-1_bc-85x55_x1.pdf"] and r.stage("WC-1") is Stage.AWAITING


def test_a_file_several_orders_wait_for_keeps_its_own_name_however_long_when_set_aside(rig: Rig) -> None:
    """Left by review GP: a file two orders wait for, set aside, was kept under its name cut to 200
    bytes (with a ~hash), and ERROR.txt's `replace` command handed the job a file of that name, not
    the one its manifest lists. It keeps its own name, as the files of GI 3 do."""
    r = rig
    name = "L" * 251 + ".pdf"
    make_pdf(r.inbox / name, pages=CARD)
    r.engine.hint(r.inbox / name)
    _two_orders_wait_for(r, name, ("LA", "LB"))
    r.run(until=lambda: any((r.root / "failed").iterdir()), steps=30, dt=0.1)
    [aside] = list((r.root / "failed").iterdir())
    r.run(until=(aside / "ERROR.txt").is_file, steps=30, dt=0.1)
    assert sorted(os.listdir(aside)) == sorted(["ERROR.txt", name])
    assert f"spo-hotfolder replace <job id> '{aside / name}'" in " ".join((aside / "ERROR.txt").read_text().split())
    result = r.engine.apply("LB-1", Action.REPLACE, by="ann", note="", file=aside / name)
    assert result.ok, result.message
    r.run(until=done(r, "LB-1"), steps=10)
    assert r.take_prints() == ["LB_LB-1_bc-85x55_x1.pdf"] and r.stage("LA-1") is Stage.AWAITING


def test_a_file_whose_manifest_gives_its_sha256_goes_to_that_order_when_the_times_cannot_tell(rig: Rig) -> None:
    r = rig
    make_pdf(r.tmp / "whole.pdf", pages=CARD)
    whole = (r.tmp / "whole.pdf").read_bytes()
    digest = hashlib.sha256(whole).hexdigest()
    (r.inbox / "artwork.pdf").write_bytes(whole)
    r.engine.hint(r.inbox / "artwork.pdf")
    for order, sha in (("SH", "0" * 64), ("SI", digest)):
        (r.tmp / f"{order}.yaml").write_text(
            f'order_id: "{order}"\nproduct: bc-85x55\nquantity: 1\nartwork: [{{path: artwork.pdf, sha256: "{sha}"}}]\n'
        )
        os.replace(r.tmp / f"{order}.yaml", r.inbox / f"{order}.yaml")
        r.engine.hint(r.inbox / f"{order}.yaml", moved_in=True)
        r.run(steps=1, dt=0.1)
    r.run(until=done(r, "SI-1"), steps=30, dt=0.1)
    assert r.take_prints() == ["SI_SI-1_bc-85x55_x1.pdf"] and r.stage("SH-1") is Stage.AWAITING


def _resent_while_uploading(r: Rig, order: str) -> tuple[str, Path]:
    """A blocked job whose order is sent again, its PDF still uploading under rsync's temporary
    name: the job waits for it. Returns the job id and the upload's path."""
    job_id, folder = _held(r, order)
    (r.inbox / f"{order}.yaml").write_bytes((folder / "manifest.yaml").read_bytes())
    upload = r.inbox / f".{order}.pdf.Qw12Er"
    upload.write_bytes(b"%PDF-1.7\n")
    r.engine.hint(r.inbox / f"{order}.yaml")
    r.run(until=lambda: r.stage(job_id) is Stage.AWAITING, steps=10, dt=0.5)
    return job_id, upload


def test_a_release_while_a_resent_orders_artwork_is_on_its_way_is_refused(rig: Rig) -> None:
    """Audit AX 2: a blocked job's order sent again, its PDF still uploading (the job waits for
    it): `release` said "released" and exited 0, and the release was voided once the new output
    was made. It is refused at once, as a release while a replacement's output is not made is."""
    r = rig
    job_id, _ = _resent_while_uploading(r, "RW")
    result = r.engine.apply(job_id, Action.RELEASE, by="dave", note="")
    assert not result.ok and "new artwork is on its way since" in result.message, result.message
    assert r.job(job_id).blocked


def test_a_file_a_rejected_job_waited_for_says_so_when_it_goes_to_failed(rig: Rig) -> None:
    """Audit AX 4: a blocked job's order sent again, then the job rejected while its new PDF was
    still uploading: the PDF, unclaimed, went to failed/ saying "no manifest named it"."""
    r = rig
    job_id, upload = _resent_while_uploading(r, "RJ")
    assert r.engine.apply(job_id, Action.REJECT, by="jo", note="").ok
    make_pdf(upload, pages=CARD)
    os.replace(upload, r.inbox / "RJ.pdf")
    r.engine.hint(r.inbox / "RJ.pdf")
    error = r.root / "failed" / "RJ.pdf" / "ERROR.txt"
    r.run(until=error.is_file, steps=20, dt=60)
    text = error.read_text()
    assert (
        f"job {job_id} waited for a file of this name and was rejected before it came (it is in rejected/{job_id}/)"
        in text
    )
    assert r.take_prints() == []


@pytest.mark.parametrize("action", [Action.RELEASE, Action.RETRY, Action.REPLACE, Action.REJECT])
def test_an_action_on_a_job_whose_folder_was_deleted_by_hand(rig: Rig, action: Action) -> None:
    """Audit BF 4: an operator deleted a job's folder in a file explorer; a `replace` then failed in
    the engine (FileNotFoundError, a traceback in the log, again at every look) and the command
    was never answered; a release was taken, for a job whose output was gone. Only REJECT makes
    sense without the folder (and works); the others are refused saying the folder is gone."""
    if action is Action.RETRY:  # a failed job's: an empty PDF
        job_id = rig.order("DEL")
        (rig.inbox / "DEL.pdf").write_bytes(b"")
        rig.run(until=lambda: rig.stage(job_id) is Stage.FAILED, steps=20)
        folder = rig.root / "failed" / job_id
    else:
        job_id, folder = _held(rig, "DEL")
    stage = rig.stage(job_id)
    shutil.rmtree(folder)
    make_pdf(rig.tmp / "new.pdf", pages=CARD)
    with capture_logs() as logs:
        result = rig.engine.apply(job_id, action, by="alice", note="", file=rig.tmp / "new.pdf")
    assert not [e for e in logs if e["log_level"] in ("error", "critical")], logs
    if action is Action.REJECT:
        assert result.ok and rig.stage(job_id) is Stage.REJECTED
        return
    assert not result.ok and rig.stage(job_id) is stage
    assert result.message == (
        f"job {job_id}'s folder {folder.parent.name}/{job_id} is not there: it was deleted or moved by hand; "
        f"put it back where it was, or reject the job (spo-hotfolder reject {job_id})"
    )
    assert not folder.exists(), "not made again, half empty"


def test_drop_not_a_job_is_said_only_of_a_drop_file_that_is_there_in_no_job_s_folder(rig: Rig) -> None:
    """Audit BE 2: a RELEASE dropped with a replacement went along with its job's folder (filed as
    unused) and its event, for the path it had left, logged `drop.not_a_job` for a real job folder.
    BF 5: a drop into a job's folder renamed by hand logged `drop.not_a_job` and then
    `drop.not_the_job_folder` (which names the job), two lines that disagree."""
    r = rig
    job_id, folder = _held(r, "NJ")
    renamed = folder.with_name(f"{job_id} - check")
    os.replace(folder, renamed)
    (renamed / "RELEASE").write_text("amy\n")
    stray = r.root / "quarantine" / "notes"
    stray.mkdir()
    (stray / "RELEASE").write_text("amy\n")
    with capture_logs() as logs:
        r.run(steps=4)
        r.engine._on_drops(folder, [folder / "RELEASE"])  # the event of a file that is gone with its folder
    warned = [(e["event"], Path(e["file"]).parent.name) for e in logs if e["event"].startswith("drop.not_")]
    assert sorted(warned) == [("drop.not_a_job", "notes"), ("drop.not_the_job_folder", f"{job_id} - check")]
    # Audit BJ 1: the drop file in a folder that is no job's keeps no name that reads as waiting to
    # be acted on (a job printed long ago looked held), and is not said again at every rescan.
    assert os.listdir(stray) == ["NOT USED - RELEASE - this folder is no job's.txt"]
    assert (stray / os.listdir(stray)[0]).read_text() == "amy\n"
    printed = r.order("NK")
    r.run(until=done(r, printed), steps=10)
    (r.root / "quarantine" / printed).mkdir()  # a script's mkdir -p, after the job went on
    (r.root / "quarantine" / printed / "RELEASE").write_text("bob\n")
    with capture_logs() as logs:
        r.run(steps=4)
    [said] = [e for e in logs if e["event"] == "drop.not_a_job"]
    assert said["reason"] == (
        f"this folder is not job {printed}'s: its folder is done/{printed}/ (status InHotFolder); drop files act "
        "only there"
    )
    assert os.listdir(r.root / "quarantine" / printed) == ["NOT USED - RELEASE - this folder is no job's.txt"]


def test_the_whole_file_of_an_upload_cut_off_is_pointed_to_never_taken_by_itself(rig: Rig) -> None:
    """Audit BF 3: `rsync --partial` cut off leaves the beginning of a PDF under its name: taken
    (after a longer look), it fails preflight as incomplete. The client then resumes (or sends the
    file again): the whole file lay in inbox/ unsaid until artwork_timeout_seconds. The job's
    STATUS.txt now points to it; it is not taken by itself (audits BH 1, BK 1, 2: another order's
    file of that name, from one template or saved again with a change, starts the same way and was
    printed for the job). The order sent again (its manifest with the PDF) runs the job with it."""
    r = rig
    marks = b"0 0 0 rg " + b"10 10 20 20 re f " * 400  # a page's drawing: ~7 KiB a page
    whole = make_pdf(r.tmp / "whole.pdf", pages=CARD, trimbox=(3, 3, 88, 58), content=marks).read_bytes()
    manifest = 'order_id: "RS"\nproduct: bc-85x55\nquantity: 1\nartwork: [RS.pdf]\n'
    (r.inbox / "RS.pdf").write_bytes(whole[: len(whole) // 2])
    (r.inbox / "RS.yaml").write_text(manifest)
    job_id = "RS-1"
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=20)
    error = (r.root / "failed" / job_id / "ERROR.txt").read_text()
    assert "EOF marker not found (the file is incomplete" in error
    assert (
        "Put the whole PDF into replace/, or send the order again, its manifest with the whole PDF, into inbox/"
        in error
    )
    # The whole file, followed a moment later by another order's manifest naming it (artwork first,
    # then the manifest, as storefronts send them): that order's job takes it.
    (r.tmp / ".RS.pdf.x0").write_bytes(whole)
    os.replace(r.tmp / ".RS.pdf.x0", r.inbox / "RS.pdf")
    r.engine.hint(r.inbox / "RS.pdf", moved_in=True)
    r.run(steps=2)
    (r.inbox / "RT.yaml").write_text(manifest.replace('"RS"', '"RT"'))
    r.run(until=done(r, "RT-1"), steps=20)
    assert r.stage(job_id) is Stage.FAILED and r.take_prints() == ["RT_RT-1_bc-85x55_x1.pdf"]
    # The whole file, renamed into place as rsync does once it has it all, and no manifest: the
    # job's STATUS.txt says where it is, and it stays where it is.
    (r.tmp / ".RS.pdf.x1").write_bytes(whole)
    os.replace(r.tmp / ".RS.pdf.x1", r.inbox / "RS.pdf")
    r.engine.hint(r.inbox / "RS.pdf", moved_in=True)  # the watcher's event (a scan passes over a known orphan)
    r.run(steps=15)
    assert r.stage(job_id) is Stage.FAILED and (r.inbox / "RS.pdf").read_bytes() == whole
    r.engine.flush_status()
    status = (r.root / "failed" / job_id / "STATUS.txt").read_text()
    hint = "A file named RS.pdf came into inbox/ (inbox/RS.pdf) that starts with this job's cut-off artwork"
    assert hint in status
    # That file replaced by another one of the same name: the note goes (audit BN 1: it stayed,
    # pointing the operator to the other file).
    unrelated = make_pdf(r.tmp / "unrelated.pdf", pages=CARD, trimbox=(3, 3, 88, 58))
    os.replace(unrelated, r.inbox / "RS.pdf")
    r.engine.hint(r.inbox / "RS.pdf", moved_in=True)
    r.run(steps=15)
    r.engine.flush_status()
    assert hint not in (r.root / "failed" / job_id / "STATUS.txt").read_text()
    assert r.stage(job_id) is Stage.FAILED
    os.replace(r.inbox / "RS.pdf", r.tmp / "unrelated.pdf")
    (r.tmp / ".RS.pdf.x2").write_bytes(whole)
    os.replace(r.tmp / ".RS.pdf.x2", r.inbox / "RS.pdf")
    r.engine.hint(r.inbox / "RS.pdf", moved_in=True)
    r.run(steps=15)
    r.engine.flush_status()
    assert hint in (r.root / "failed" / job_id / "STATUS.txt").read_text(), "said again of the file that is there"
    # Another file of that name (not the rest of this one) is not pointed to.
    other = make_pdf(r.tmp / "other.pdf", pages=CARD, trimbox=(3, 3, 88, 58), content=marks.replace(b"10 ", b"12 "))
    with capture_logs() as logs:
        (r.inbox / "o").mkdir()
        os.replace(other, r.inbox / "o" / "RS.pdf")
        r.engine.hint(r.inbox / "o" / "RS.pdf", moved_in=True)
        r.run(steps=15)
    assert not [e for e in logs if e["event"] == "artwork.whole_again_seen"]
    shutil.rmtree(r.inbox / "o")
    # The order sent again, its manifest with the whole PDF: the job runs with it (SPEC 5).
    (r.inbox / "RS.yaml").write_text(manifest)
    r.run(until=done(r, job_id), steps=20)
    assert r.take_prints() == ["RS_RS-1_bc-85x55_x1.pdf"]
    folder = r.root / "done" / job_id
    assert (folder / "artwork" / "RS.pdf").read_bytes() == whole
    kept = [p.read_bytes() for p in (folder / "history").iterdir() if p.name.endswith("RS.pdf")]
    assert whole[: len(whole) // 2] in kept, "the cut file is kept"


def test_a_file_of_zeros_fails_as_unfinished_and_its_fix_says_what_works(rig: Rig) -> None:
    """Audit BH 3: a file of zeros (Windows Explorer sets a copy's size first) fails as unfinished;
    its ERROR.txt offered sending the file again into inbox/, which was not taken."""
    r = rig
    job_id = r.order("ZZ")
    size = (r.inbox / "ZZ.pdf").stat().st_size
    (r.inbox / "ZZ.pdf").write_bytes(bytes(size))
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=20)
    error = (r.root / "failed" / job_id / "ERROR.txt").read_text()
    assert "it starts with zero bytes" in error
    assert "Put the whole PDF into replace/, or send the order again, its manifest with the whole PDF" in error


def test_a_replacement_that_is_no_pdf_is_answered_for_where_it_was_given(rig: Rig) -> None:
    """Audit BO 2: `spo-hotfolder replace JOB fake.pdf` with a file that is not a PDF answered "put a
    PDF into replace/", the folder's wording, to someone using the command."""
    job_id, folder = _held(rig, "NP")
    (rig.tmp / "fake.pdf").write_text("not a pdf\n")
    given = rig.engine.apply(job_id, Action.REPLACE, by="rob", note="", file=rig.tmp / "fake.pdf")
    assert not given.ok and given.message.endswith('the file starts with "not a pdf "; give a PDF file')
    (folder / "replace" / "fake.pdf").write_text("not a pdf\n")
    dropped = rig.engine.apply(job_id, Action.REPLACE, by="rob", note="", file=folder / "replace" / "fake.pdf")
    assert not dropped.ok and dropped.message.endswith("; put a PDF into replace/")


def test_an_upload_that_never_finished_is_named_in_both_error_texts(rig: Rig) -> None:
    """Audit BY 6: a WinSCP upload cut off as w2.pdf.filepart: the job failed as "missing: w2.pdf"
    with no word of it, and the file's own ERROR.txt said to put it back into inbox/ with a
    manifest that lists it, wrong advice for half a PDF."""
    r = rig
    (r.inbox / "w2.yaml").write_text('order_id: "w2"\nproduct: bc-85x55\nquantity: 1\nartwork: [w2.pdf]\n')
    make_pdf(r.tmp / "w2.pdf", pages=CARD)
    (r.inbox / "w2.pdf.filepart").write_bytes((r.tmp / "w2.pdf").read_bytes()[:300])
    error = r.root / "failed" / "w2-1" / "ERROR.txt"
    r.run(until=error.is_file, steps=30, dt=30)
    text = " ".join(error.read_text().split())
    assert (
        "missing: w2.pdf (expected at inbox/w2.pdf); an upload of it under the temporary name 'w2.pdf.filepart' "
        "(now in failed/w2.pdf.filepart/) never finished (the upload program renames the file once it is complete): "
        "send the whole file again, into this folder's replace/"
    ) in text, text
    orphan = r.root / "failed" / "w2.pdf.filepart" / "ERROR.txt"
    r.run(until=orphan.is_file, steps=30, dt=30)
    text = " ".join(orphan.read_text().split())
    assert (
        "The file is most likely cut off (an upload program such as WinSCP, a browser or an FTP client renames it "
        "once it is complete). Send w2.pdf again, whole (into the job's replace/ if its job waits in failed/ or "
        "quarantine/)."
    ) in text, text
    assert "together with a manifest" not in text and "no manifest" not in text
    assert (
        "it is the temporary name an upload program gives w2.pdf until the upload is complete, and it was not renamed "
        "to w2.pdf within 600 seconds"
    ) in text, text
    assert "- job w2-1 waits for w2.pdf" in text, text
    # Cut off later than its manifest came: still in inbox/ when the job's time runs out.
    (r.inbox / "w3.yaml").write_text('order_id: "w3"\nproduct: bc-85x55\nquantity: 1\nartwork: [w3.pdf]\n')
    r.run(steps=10, dt=30)
    (r.inbox / "w3.pdf.part").write_bytes((r.tmp / "w2.pdf").read_bytes()[:300])
    error = r.root / "failed" / "w3-1" / "ERROR.txt"
    r.run(until=error.is_file, steps=30, dt=30)
    assert "an upload of it under the temporary name 'w3.pdf.part' never finished" in " ".join(
        error.read_text().split()
    )


def test_a_file_that_came_while_the_daemon_was_down_with_a_second_order_is_set_aside(rig: Rig) -> None:
    """BY 1 across a restart: an order waits; the next order's manifest and a file of the same name
    come while the daemon is stopped. Either order's it may be (the first one's came late): set
    aside at start, nothing printed, each job told how to give it."""
    r = rig
    stale = _waits_for_artwork_pdf(r, "WS")
    r.run(steps=15, dt=10)
    (r.inbox / "WT.yaml").write_text('order_id: "WT"\nproduct: bc-85x55\nquantity: 1\nartwork: [artwork.pdf]\n')
    make_pdf(r.inbox / "artwork.pdf", pages=CARD)
    whole = (r.inbox / "artwork.pdf").read_bytes()
    r.clock.advance(30)
    r.start()
    aside = r.root / "failed" / "artwork.pdf" / "artwork.pdf"
    r.run(until=aside.is_file, steps=10)
    r.run(steps=2)
    assert r.take_prints() == [] and aside.read_bytes() == whole
    assert r.stage(stale) is Stage.AWAITING and r.stage("WT-1") is Stage.AWAITING


def test_a_manifest_sent_again_for_a_failed_job_counts_from_when_it_came(rig: Rig) -> None:
    """Audit CA 3: A failed (its PDF cut off); B waits for a file of the same name; A's manifest is
    sent again (its whole PDF to follow): B took the PDF that came next, A's. It is not B's to
    take: set aside for the operator."""
    r = rig
    make_pdf(r.tmp / "whole.pdf", pages=CARD)
    whole = (r.tmp / "whole.pdf").read_bytes()
    (r.inbox / "art9.pdf").write_bytes(whole[:300])
    manifest = 'order_id: "RS"\nproduct: bc-85x55\nquantity: 1\nartwork: [art9.pdf]\n'
    (r.inbox / "RS.yaml").write_text(manifest)
    r.run(until=lambda: r.stage("RS-1") is Stage.FAILED, steps=30)
    (r.inbox / "RT.yaml").write_text('order_id: "RT"\nproduct: bc-85x55\nquantity: 1\nartwork: [art9.pdf]\n')
    r.run(until=lambda: r.stage("RT-1") is Stage.AWAITING, steps=10)
    r.run(steps=15, dt=10)
    (r.inbox / "RS.yaml").write_text(manifest + 'customer: "sent again"\n')
    r.run(until=lambda: r.stage("RS-1") is Stage.AWAITING, steps=10)
    r.run(steps=3)
    os.replace(r.tmp / "whole.pdf", r.inbox / "art9.pdf")
    aside = r.root / "failed" / "art9.pdf" / "art9.pdf"
    r.run(until=aside.is_file, steps=10)
    r.run(steps=2)
    # Not given to RT (whose manifest came long before): either's it may be, so nobody guesses.
    assert r.take_prints() == [] and aside.read_bytes() == whole
    assert r.stage("RT-1") is Stage.AWAITING and r.stage("RS-1") is Stage.AWAITING


def _text_of(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


@pytest.fixture
def arrival_rig(tmp_path: Path) -> Iterator[Rig]:
    """Every job blocked on arrival (blocking.block_on_arrival)."""
    yield from rig_on(tmp_path, blocking={"block_on_arrival": True})


def test_a_history_folder_swapped_for_a_link_is_never_written_through(arrival_rig: Rig) -> None:
    """Review HB 1: an operator (SMB with unix extensions) put a link to the hot folder in place of a
    held job's history/: the replaced artwork and output, and an output edited in place and never
    checked, were moved through it into the hot folder, where the printer takes what comes. The
    link is moved aside, and history/ is a folder again."""
    r = arrival_rig
    job_id = r.order("HB")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    folder = r.root / "quarantine" / job_id
    shutil.rmtree(folder / "history", ignore_errors=True)
    (folder / "history").symlink_to(r.hot)
    make_pdf(folder / "replace" / "HB.pdf", pages=CARD, trimbox=None)
    r.run(until=lambda: r.statuses(job_id).count("OutputCreated") == 2, steps=20)
    r.run(steps=3)
    assert os.listdir(r.hot) == [] and r.stage(job_id) is Stage.HELD
    assert (folder / "history").is_dir() and not (folder / "history").is_symlink()
    assert any(name.endswith("-HB.pdf") for name in os.listdir(folder / "history"))
    [aside] = [p for p in folder.iterdir() if p.name.startswith("history.old-")]
    assert aside.is_symlink()


def _held_beside_a_pdf_outside(r: Rig, job_id: str, tmp_path: Path) -> tuple[Path, str, Path, bytes]:
    """``job_id`` held in quarantine/, and a PDF of its output's very name in a folder outside the
    spool: (its folder, the output's name, that folder, that PDF's bytes)."""
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    folder = r.root / "quarantine" / job_id
    [name] = os.listdir(folder / "output")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    make_pdf(outside / name, pages=[(210.0, 297.0)])
    return folder, name, outside, (outside / name).read_bytes()


def test_an_output_folder_swapped_for_a_link_is_never_read_nor_sent(arrival_rig: Rig, tmp_path: Path) -> None:
    """Review HB 2: a held job's output/ swapped for a link to a folder outside the spool holding a
    PDF of the output's very name, then RELEASE: the file outside was read and moved into the job's
    history/ (audit BO D3's test had a file of another name there). Nothing is read, moved or sent
    through the link: the output is made again from the checked artwork and sent."""
    r = arrival_rig
    job_id = r.order("HO")
    folder, name, outside, theirs = _held_beside_a_pdf_outside(r, job_id, tmp_path)
    shutil.rmtree(folder / "output")
    (folder / "output").symlink_to(outside)
    (folder / "RELEASE").write_text("cal\n")
    r.run(until=done(r, job_id), steps=20)
    assert os.listdir(outside) == [name] and (outside / name).read_bytes() == theirs
    assert (r.hot / name).read_bytes() != theirs and r.take_prints() == [name]


def test_an_output_folder_swapped_for_a_link_while_it_is_copied_is_not_sent(
    arrival_rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review HD (of HB 2's mend): output/ swapped for a link during the copy into the hot folder:
    the look after the copy (is the output the checked one?) answered "nothing to say" for a link,
    and the copy, maybe of the file the link leads to, was published. It is not sent; RETRY makes
    the output again from the checked artwork."""
    r = arrival_rig
    job_id = r.order("HL")
    folder, name, outside, theirs = _held_beside_a_pdf_outside(r, job_id, tmp_path)
    real_copy = Engine._copy_to_temp

    def swapped_while_copied(self: Engine, src: Path, *args: Any, **kwargs: Any) -> Any:
        result = real_copy(self, src, *args, **kwargs)
        output = src.parent
        if not output.is_symlink():
            output.rename(output.with_name("output.mine"))
            output.symlink_to(outside)
        return result

    monkeypatch.setattr(Engine, "_copy_to_temp", swapped_while_copied)
    (folder / "RELEASE").write_text("cal\n")
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=20)
    assert r.take_prints() == [] and r.temps() == []
    failed = r.root / "failed" / job_id
    assert "output/ was replaced by a link while the output was copied" in (failed / "ERROR.txt").read_text()
    assert os.listdir(outside) == [name] and (outside / name).read_bytes() == theirs
    monkeypatch.undo()
    (failed / "RETRY").write_text("cal\n")
    r.run(until=done(r, job_id), steps=20)
    assert (r.hot / name).read_bytes() != theirs and r.take_prints() == [name]


def test_a_job_folder_is_where_the_ledger_says_from_the_moment_it_says_so(
    arrival_rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger recorded a job's new stage and folder, then the folder moved: for that moment a
    reader (`show`, a script, a test) found InHotFolder in done/<job> and no done/<job> (CI saw it),
    or a job held in quarantine/<job> whose folder was still in work/, so that a RELEASE written
    there failed. The folder moves before that commit now: whatever a reader finds in the ledger,
    the folder is there, and one an operator opens has its STATUS.txt saying so (not the text of
    the step before, or none: a job held within half a second of its intake)."""
    from spo_hotfolder import ledger as ledger_module

    r = arrival_rig
    reader = sqlite3.connect(r.config.paths.state / "ledger.sqlite3")
    looks: list[tuple[str, str, str]] = []
    astray: list[tuple[str, str, str]] = []
    says = {
        Stage.HELD: "drop a file named release here",
        Stage.FAILED: "validationfailed",
        Stage.DONE: "inhotfolder",
        Stage.REJECTED: "rejected",
    }
    original = ledger_module._Transaction.__exit__

    def exit_then_look(self: Any, *exc: Any) -> None:
        outer = self._outer
        original(self, *exc)
        if not outer or exc[0] is not None:
            return
        for job_id, stage, folder in reader.execute("SELECT job_id, stage, folder FROM jobs"):
            looks.append((job_id, stage, folder))
            there = r.root / folder
            status = there / "STATUS.txt"
            if (
                not there.is_dir()
                or (stage in says and says[Stage(stage)] not in " ".join(_text_of(status).split()).lower())
                or (stage == Stage.FAILED and not (there / "ERROR.txt").is_file())
            ):
                astray.append((job_id, stage, folder))

    monkeypatch.setattr(ledger_module._Transaction, "__exit__", exit_then_look)
    released, rejected = r.order("FR"), r.order("FJ")
    make_pdf(r.inbox / "FV.pdf", pages=[(210, 297)] * 2)  # A4, where business cards are ordered
    (r.inbox / "FV.yaml").write_text('order_id: "FV"\nproduct: bc-85x55\nquantity: 1\nartwork: [FV.pdf]\n')
    r.run(until=lambda: r.stage(released) is Stage.HELD and r.stage(rejected) is Stage.HELD, steps=10)
    assert r.stage("FV-1") is Stage.FAILED
    assert r.engine.apply(released, Action.RELEASE, by="erin", note="").ok
    assert r.engine.apply(rejected, Action.REJECT, by="erin", note="wrong paper").ok
    r.run(until=done(r, released), steps=10)
    assert r.stage(rejected) is Stage.REJECTED
    # Every commit was looked at, and each stage the jobs went through was seen.
    assert {(j, s) for j, s, _ in looks} >= {
        (released, Stage.HELD),
        (released, Stage.DELIVER),
        (released, Stage.DONE),
        (rejected, Stage.REJECTED),
        ("FV-1", Stage.FAILED),
    }
    assert astray == []
    reader.close()


def test_no_artwork_is_hashed_while_the_ledger_is_locked(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder's STATUS.txt is written in the transaction that records its move (above): the
    heartbeat and the signal handling wait for the ledger's lock meanwhile, and the artwork's
    fingerprint could mean hashing gigabytes there. After a restart (no digest known), a rejected
    job's STATUS.txt comes into rejected/ without it, and the next flush, outside the lock, adds it."""
    r = rig
    job_id, folder = _held(r, "NH")
    assert "Artwork fingerprint: " in (folder / "STATUS.txt").read_text()
    r.start()
    r.engine._digests.clear()  # a restart's, when the job changed long before it: no digest known
    real = hashlib.file_digest
    locked: list[int] = []

    def file_digest(fh: Any, digest: str) -> Any:
        locked.append(r.ledger._depth)
        return real(fh, digest)

    monkeypatch.setattr(engine_module.hashlib, "file_digest", file_digest)
    assert r.engine.apply(job_id, Action.REJECT, by="erin", note="").ok
    status = r.root / "rejected" / job_id / "STATUS.txt"
    assert "Rejected" in status.read_text() and locked == []
    r.engine.flush_status()
    assert locked == [0]  # hashed once, outside any transaction
    assert "Artwork fingerprint: " in status.read_text()


def test_a_crash_between_a_failures_folder_move_and_its_commit_leaves_no_error_txt_behind(rig: Rig) -> None:
    """A failing job's folder moves into failed/, with its ERROR.txt, before the commit that records
    the failure. Killed in between, the restart moves it back to work/ (the job runs again, and
    fails again or not): the ERROR.txt goes into history/, as when a job leaves failed/, and does not
    ride along into done/ saying the job needs attention."""
    r = rig
    (r.inbox / "LT.yaml").write_text('order_id: "LT"\nproduct: bc-85x55\nquantity: 1\nartwork: [LT.pdf]\n')
    r.run(until=lambda: r.stage("LT-1") is Stage.AWAITING, steps=5)
    r.clock.advance(700)  # past artwork_timeout_seconds: it fails, its artwork never came
    ahead = r.root / "failed" / "LT-1"
    life_until_killed(
        r, lambda mp: _crash_after(mp, engine_module.os, "replace", when=lambda src, dst: Path(dst) == ahead)
    )
    assert (ahead / "ERROR.txt").is_file() and r.stage("LT-1") is Stage.AWAITING
    r.start()  # its reconcile
    work = r.root / "work" / "LT-1"
    assert not ahead.exists() and not (work / "ERROR.txt").exists()
    assert [n for n in _history_names(work) if n.endswith("-ERROR.txt")]


def test_a_folder_set_aside_in_failed_is_not_given_a_job_s_id(rig: Rig) -> None:
    """(audit, clients F2) An order folder L5 sent again: its leftovers, unclaimed, went to
    failed/L5-2/ (failed/L5/ taken), which an operator reads as job L5-2's failure while job L5-2
    was delivered. A suffix that names a job is passed over."""
    r = rig
    make_pdf(r.inbox / "z2.pdf", pages=CARD)
    (r.inbox / "L5.yaml").write_text(
        'order_id: "L5"\njobs:\n  - {job_id: L5-2, product: bc-85x55, quantity: 1, artwork: [z2.pdf]}\n'
    )
    r.run(until=lambda: r.stage("L5-2") is not None, steps=20)
    (r.root / "failed" / "L5").mkdir()  # (taken: an earlier folder of that name)
    (r.inbox / "L5").mkdir()
    (r.inbox / "L5" / "manifest.yaml").write_text("order_id: [\n")  # a manifest that cannot be read
    r.run(until=lambda: (r.root / "failed" / "L5-3" / "ERROR.txt").is_file(), steps=20)
    assert not (r.root / "failed" / "L5-2").exists()


def test_an_order_folder_is_removed_only_once_its_client_is_done_with_it(rig: Rig) -> None:
    """(audit, clients F1) A folder uploaded a file at a time (smbclient, Explorer, FileZilla):
    removed the moment its manifest's artwork was taken, the next file its client sent failed
    ("NT_STATUS_OBJECT_PATH_NOT_FOUND"). It stays until it has been empty and unchanged for
    3 x settle_seconds (at least 2 s); a file sent meanwhile is kept, as any file no manifest
    names."""
    r = rig
    drop = r.inbox / "Order Q1"
    drop.mkdir()
    make_pdf(drop / "art.pdf", pages=CARD)
    (drop / "manifest.yaml").write_text('order_id: "Q1"\nproduct: bc-85x55\nquantity: 1\nartwork: [art.pdf]\n')
    r.run(until=done(r, "Q1-1"), steps=10, dt=0.5)
    assert drop.is_dir() and not os.listdir(drop)
    (drop / "notes.txt").write_text("proof ok\n")  # the client's next file, a moment later
    r.run(steps=6)
    assert (drop / "notes.txt").read_text() == "proof ok\n"
    # A second order folder left alone once emptied: removed when quiet (not sooner).
    other = r.inbox / "Order Q2"
    other.mkdir()
    make_pdf(other / "art.pdf", pages=CARD)
    (other / "manifest.yaml").write_text('order_id: "Q2"\nproduct: bc-85x55\nquantity: 1\nartwork: [art.pdf]\n')
    r.run(until=done(r, "Q2-1"), steps=10, dt=0.5)
    emptied = r.clock.monotonic()
    r.run(until=lambda: not other.exists(), steps=10, dt=0.5)
    assert r.clock.monotonic() - emptied >= 1.5


def test_a_refused_order_folder_goes_to_failed_whole_once_its_client_is_done(rig: Rig) -> None:
    """(audit, clients F1 b) A folder whose manifest is refused went to failed/ the moment it was
    read: the client still uploading into it failed on its next file ("path not found"), or made
    the folder again in inbox/, apart from the rest. It goes whole once unchanged for
    3 x settle_seconds (at least 2 s); a file still growing in it keeps it there."""
    r = rig
    drop = r.inbox / "Order B1"
    drop.mkdir()
    (drop / "manifest.yaml").write_text('order_id: "B1"\nproduct: bc-85x55\nquantity: lots\nartwork: [art.pdf]\n')
    failed = r.root / "failed" / "Order B1"
    r.run(steps=3, dt=0.5)  # the manifest settled and read: refused
    assert not failed.exists() and (drop / "manifest.yaml").is_file()
    partial = drop / "art.pdf"
    for chunk in range(6):  # the artwork arriving slowly, a piece every half second
        with partial.open("ab") as fh:
            fh.write(b"%PDF-1.7\n" if chunk == 0 else b"x" * 1000)
        r.run(steps=1, dt=0.5)
        assert not failed.exists(), f"moved while its artwork was still arriving (piece {chunk})"
    finished = r.clock.monotonic()
    r.run(until=(failed / "ERROR.txt").is_file, steps=20, dt=0.5)
    assert r.clock.monotonic() - finished >= 1.5
    assert sorted(os.listdir(failed)) == ["ERROR.txt", "art.pdf", "manifest.yaml"]
    assert (failed / "art.pdf").stat().st_size == 9 + 5 * 1000
    assert "quantity" in (failed / "ERROR.txt").read_text()
    assert not drop.exists()


def test_a_refused_order_folder_that_never_stops_changing_goes_after_artwork_timeout(tmp_path: Path) -> None:
    """A program that keeps writing into a refused order folder (a log, an editor's swap file)
    must not keep it in inbox/ unexplained for ever: it goes once artwork_timeout_seconds, the
    longest the daemon waits for an upload, are over."""
    for r in rig_on(tmp_path, watch={"artwork_timeout_seconds": 20}):
        drop = r.inbox / "Order B2"
        drop.mkdir()
        (drop / "manifest.yaml").write_text('order_id: "B2"\nproduct: bc-85x55\nquantity: lots\nartwork: [a.pdf]\n')
        failed = r.root / "failed" / "Order B2"
        began = r.clock.monotonic()
        for tick in range(80):
            (drop / ".log").write_text(f"tick {tick}\n")  # a change at every step
            r.run(steps=1, dt=0.5)
            if failed.exists():
                break
        assert (failed / "ERROR.txt").is_file()
        assert 20 <= r.clock.monotonic() - began <= 25


def _is_refusal_move(src: Any, dst: Any) -> bool:
    """The manifest (or folder drop) going into the hidden folder a refusal is put together in."""
    into = engine_module.REFUSAL_PREFIX in str(dst) and engine_module.REFUSAL_PREFIX not in str(src)
    return into and "/artwork/" not in str(dst)


def _is_artwork_move(src: Any, dst: Any) -> bool:
    return engine_module.REFUSAL_PREFIX in str(dst) and "/artwork/" in str(dst)


REFUSAL_CRASH_POINTS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "while ERROR.txt is written": lambda mp: _crash_before(
        mp, engine_module.os, "replace", when=lambda src, dst: Path(dst).name == "ERROR.txt"
    ),
    "before the manifest moves": lambda mp: _crash_before(mp, engine_module.os, "replace", when=_is_refusal_move),
    "after the manifest moved": lambda mp: _crash_after(mp, engine_module.os, "replace", when=_is_refusal_move),
    "before the folder gets its name": lambda mp: _crash_before(mp, Engine, "_file_refusal"),
    # (the refusal of jobs already done: their artwork goes in before the manifest)
    "before the artwork moves": lambda mp: _crash_before(mp, engine_module.os, "replace", when=_is_artwork_move),
    "after the artwork moved": lambda mp: _crash_after(mp, engine_module.os, "replace", when=_is_artwork_move),
}


def _failed_folders(r: Rig) -> list[str]:
    return sorted(p.name for p in (r.root / "failed").iterdir())


@pytest.mark.parametrize("point", list(REFUSAL_CRASH_POINTS)[:4])
@pytest.mark.parametrize("folder_drop", [False, True])
def test_a_kill_while_a_bad_manifest_is_refused_loses_nothing_and_leaves_one_whole_folder(
    rig: Rig, tmp_path: Path, point: str, folder_drop: bool
) -> None:
    """Audit, soak 2 (B): killed while a manifest was refused, failed/<name>/ stayed behind empty or
    with a temp file only, and the manifest was refused again into <name>-2/. The folder is put
    together hidden and renamed when whole; the next start files or removes what a kill left."""
    r = rig
    _, failed = _drop_bad_manifest(r, tmp_path, folder_drop)
    life_until_killed(r, REFUSAL_CRASH_POINTS[point])
    r.start()
    r.run(until=lambda: (failed / "ERROR.txt").is_file(), steps=10)
    r.run(steps=3)
    assert _failed_folders(r) == [failed.name]
    whole = ["ERROR.txt", "manifest.yaml" if folder_drop else "BAD.yaml"]
    assert sorted(p.name for p in failed.iterdir()) == sorted(whole)
    said = (failed / "ERROR.txt").read_text()
    assert "quantity" in said
    assert said.startswith("Manifest BADF/manifest.yaml could not" if folder_drop else "Manifest BAD.yaml could not")
    assert os.listdir(r.inbox) == []


@pytest.mark.parametrize("point", list(REFUSAL_CRASH_POINTS))
def test_a_kill_while_a_manifest_of_a_delivered_job_is_refused_loses_nothing(rig: Rig, point: str) -> None:
    """Audit, soak 2 (A): the same manifest sent again for a job already delivered (no reprint),
    killed while it was refused: at the next start the manifest was gone (its intake recorded, the
    inbox's removed, the copy in failed/ never finished), or lay there without its ERROR.txt. Nothing
    is recorded for a manifest none of whose jobs is taken: it goes to failed/ itself, whole."""
    r = rig
    job_id = r.order("RS")
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["RS_RS-1_bc-85x55_x1.pdf"]
    manifest = (r.root / "done" / job_id / "manifest.yaml").read_bytes()
    make_pdf(r.inbox / "RS.pdf", pages=CARD)
    (r.inbox / "RS.yaml").write_bytes(manifest)
    life_until_killed(r, REFUSAL_CRASH_POINTS[point])
    assert [p.name for p in (r.root / "failed").iterdir() if p.name.startswith(".")] or point.startswith("while"), (
        "the kill did not come while the refusal was put together"
    )
    r.start()
    failed = r.root / "failed" / "RS.yaml"
    r.run(until=lambda: (failed / "ERROR.txt").is_file(), steps=10)
    r.run(steps=3)
    assert _failed_folders(r) == ["RS.yaml"]
    assert (failed / "RS.yaml").read_bytes() == manifest
    assert os.listdir(failed / "artwork") == ["RS.pdf"]
    assert "already" in (failed / "ERROR.txt").read_text()
    assert os.listdir(r.inbox) == []
    assert r.take_prints() == []
    assert r.statuses(job_id).count("InHotFolder") == 1


def test_a_refusal_that_fails_half_way_puts_everything_back_and_is_made_later(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while a refusal is put together (the manifest cannot go in): the artwork moved in
    goes back, the hidden folder goes, and the refusal is made whole once the disk has room."""
    import errno as errno_module

    r = rig
    job_id = r.order("RF")
    r.run(until=done(r, job_id), steps=10)
    r.take_prints()
    manifest = (r.root / "done" / job_id / "manifest.yaml").read_bytes()
    make_pdf(r.inbox / "RF.pdf", pages=CARD)
    (r.inbox / "RF.yaml").write_bytes(manifest)
    real = engine_module.os.replace

    def full(src: Any, dst: Any, **kwargs: Any) -> None:
        if _is_refusal_move(src, dst):
            raise OSError(errno_module.ENOSPC, "No space left on device")
        real(src, dst, **kwargs)

    monkeypatch.setattr(engine_module.os, "replace", full)
    r.run(steps=3)
    assert sorted(os.listdir(r.inbox)) == ["RF.pdf", "RF.yaml"]
    assert _failed_folders(r) == []
    monkeypatch.setattr(engine_module.os, "replace", real)
    failed = r.root / "failed" / "RF.yaml"
    r.run(until=lambda: (failed / "ERROR.txt").is_file(), steps=10)
    assert sorted(os.listdir(failed)) == ["ERROR.txt", "RF.yaml", "artwork"]
    assert os.listdir(failed / "artwork") == ["RF.pdf"] and os.listdir(r.inbox) == []


def test_a_refusal_left_hidden_while_the_daemon_runs_is_filed_at_the_next_rescan(rig: Rig) -> None:
    """A refusal whose last rename failed (its manifest already in it) is not left hidden until the
    next start: each rescan files it."""
    r = rig
    r.run(steps=2)
    hidden = r.root / "failed" / f"{engine_module.REFUSAL_PREFIX}4242-1.LOST.yaml"
    hidden.mkdir()
    (hidden / "ERROR.txt").write_text("Manifest LOST.yaml could not be used\n")
    (hidden / "LOST.yaml").write_text("order_id: [\n")
    r.run(until=lambda: (r.root / "failed" / "LOST.yaml" / "LOST.yaml").is_file(), steps=5)
    assert _failed_folders(r) == ["LOST.yaml"]


def _refusal_cut_short(r: Rig, safe: str, came: bytes, pdf: str, n: int = 1) -> None:
    """A folder drop ``came``'s refusal (its folder in failed/ to be ``safe``) as a kill left it: put
    together hidden, its ERROR.txt and the mark of where its artwork came from written, ``pdf``
    moved in, its manifest not yet (the drop's manifest still in inbox/<came>/)."""
    hidden = r.root / "failed" / f"{engine_module.REFUSAL_PREFIX}4242-{n}.{safe}"
    (hidden / "artwork").mkdir(parents=True)
    (hidden / "ERROR.txt").write_text(f"Manifest {os.fsdecode(came)}/manifest.yaml could not be used: ...\n")
    (hidden / ".spo-hotfolder-origin").write_bytes(came)
    make_pdf(hidden / "artwork" / pdf, pages=CARD)


def test_a_refusal_cut_short_as_its_origin_was_written_is_made_again(rig: Rig) -> None:
    """Review HA 2: killed while the mark of where a refusal's artwork came from was written (its
    temp file there, nothing moved yet): the temp was taken for a file of the refusal's, and a
    folder holding ERROR.txt and that file alone was filed in failed/. It is removed: the refusal is
    made again, whole, from inbox/."""
    r = rig
    drop = r.inbox / "HZ"
    drop.mkdir()
    (drop / "manifest.yaml").write_text('order_id: "HZ"\nproduct: bc-85x55\nquantity: x\nartwork: [a.pdf]\n')
    make_pdf(drop / "a.pdf", pages=CARD)
    hidden = r.root / "failed" / f"{engine_module.REFUSAL_PREFIX}4242-1.HZ"
    hidden.mkdir()
    (hidden / "ERROR.txt").write_text("Manifest HZ/manifest.yaml could not be used: ...\n")
    (hidden / f"..spo-hotfolder-origin.{os.getpid()}.tmp").write_bytes(b"H")
    r.run(until=lambda: (r.root / "failed" / "HZ" / "manifest.yaml").is_file(), steps=20, dt=2.0)
    assert _failed_folders(r) == ["HZ"]
    assert sorted(os.listdir(r.root / "failed" / "HZ")) == ["ERROR.txt", "a.pdf", "manifest.yaml"]


def test_a_refusal_cut_short_puts_the_artwork_back_into_its_folder_whose_name_ends_in_a_dot(rig: Rig) -> None:
    """Left by review GP (reasoned): a folder drop named "Order 7." (a Mac or a script may make one)
    whose manifest was refused, the daemon killed after its PDF was moved into the hidden refusal:
    the restart put the PDF back at the top of inbox/ (it looked for inbox/"Order 7", the name the
    folder in failed/ gets), split from its manifest. It goes back into its own folder."""
    r = rig
    drop = r.inbox / "Order 7."
    drop.mkdir()
    (drop / "manifest.yaml").write_text("order_id: O7\nproduct: bc-85x55\nquantity: x\nartwork: [a.pdf]\n")
    _refusal_cut_short(r, "Order 7", b"Order 7.", "a.pdf")
    r.run(until=lambda: (r.root / "failed" / "Order 7" / "manifest.yaml").is_file(), steps=20, dt=2.0)
    # (back in its folder, the drop is refused whole: its files as they came)
    assert sorted(os.listdir(r.root / "failed" / "Order 7")) == ["ERROR.txt", "a.pdf", "manifest.yaml"]
    assert _failed_folders(r) == ["Order 7"] and os.listdir(r.inbox) == []


def test_a_refusal_cut_short_never_puts_artwork_where_another_order_takes_it(tmp_path: Path) -> None:
    """Review GR 1: a folder drop ".hidden" (watch.ignore letting dot-names in) whose order was
    refused, the daemon killed while its PDF was moved into the hidden refusal: the restart put the
    PDF at the top of inbox/ (it looked for inbox/_hidden, the name in failed/), and another order
    waiting there for a file of that name took it and printed it. It goes back into its folder; and
    where its folder is gone, it stays with the refusal, said."""
    for r in rig_on(tmp_path, watch={"ignore": ["*.part"]}):
        (r.inbox / "W.yaml").write_text('order_id: "W"\nproduct: bc-85x55\nquantity: 1\nartwork: [card.pdf]\n')
        r.run(until=lambda r=r: r.stage("W-1") is Stage.AWAITING, steps=10)
        drop = r.inbox / ".hidden"
        drop.mkdir()
        (drop / "manifest.yaml").write_text('order_id: "H"\nproduct: bc-85x55\nquantity: x\nartwork: [card.pdf]\n')
        _refusal_cut_short(r, "_hidden", b".hidden", "card.pdf", 1)
        _refusal_cut_short(r, "Gone", b"Gone", "card.pdf", 2)
        r.start()
        r.run(until=lambda r=r: (r.root / "failed" / "_hidden" / "manifest.yaml").is_file(), steps=20, dt=2.0)
        r.run(steps=5, dt=2.0)
        assert sorted(os.listdir(r.root / "failed" / "_hidden")) == ["ERROR.txt", "card.pdf", "manifest.yaml"]
        gone = r.root / "failed" / "Gone"
        assert sorted(os.listdir(gone)) == ["ERROR.txt", "artwork"] and os.listdir(gone / "artwork") == ["card.pdf"]
        assert "the manifest is not here, only its artwork" in " ".join((gone / "ERROR.txt").read_text().split())
        assert r.stage("W-1") is Stage.AWAITING and r.take_prints() == []


def test_a_refusal_cut_short_puts_its_artwork_back_into_its_own_folder_not_one_of_its_safe_name(rig: Rig) -> None:
    """Review GX 1: the refusal of folder drop "Rush:7" cut short, another order's folder drop
    "Rush_7" (the safe name) waiting for a file of that name: the restart, guessing the folder from
    the safe name, put the refused order's PDF there, and the other order printed it. The refusal
    keeps where its artwork came from."""
    r = rig
    other = r.inbox / "Rush_7"
    other.mkdir()
    (other / "manifest.yaml").write_text('order_id: "X7"\nproduct: bc-85x55\nquantity: 1\nartwork: [card.pdf]\n')
    r.run(until=lambda: r.stage("X7-1") is Stage.AWAITING, steps=10)
    drop = r.inbox / "Rush:7"
    drop.mkdir()
    (drop / "manifest.yaml").write_text('order_id: "R7"\nproduct: bc-85x55\nquantity: x\nartwork: [card.pdf]\n')
    _refusal_cut_short(r, "Rush_7", b"Rush:7", "card.pdf")
    r.start()
    r.run(until=lambda: (r.root / "failed" / "Rush_7" / "manifest.yaml").is_file(), steps=20, dt=2.0)
    assert sorted(os.listdir(r.root / "failed" / "Rush_7")) == ["ERROR.txt", "card.pdf", "manifest.yaml"]
    assert r.stage("X7-1") is Stage.AWAITING and r.take_prints() == []


def test_replace_of_artwork_that_has_not_come_says_what_it_waits_for(rig: Rig, tmp_path: Path) -> None:
    """Audit, soak 2: `replace` on a job still waiting for two of its three files answered "m1.pdf
    replaced by ...; the output is made again": nothing was there to replace, no output was ever
    made, and the job still waited for the others."""
    r = rig
    make_pdf(r.inbox / "w1.pdf", pages=CARD)
    (r.inbox / "W.yaml").write_text(
        'order_id: "W"\nproduct: bc-85x55\nquantity: 1\nartwork: [w1.pdf, w2.pdf, w3.pdf]\n'
    )
    r.run(until=lambda: r.stage("W-1") is Stage.AWAITING, steps=10)
    given = tmp_path / "w2.pdf"
    make_pdf(given, pages=CARD)
    result = r.engine.apply("W-1", Action.REPLACE, by="rob", note="", file=given)
    assert result.ok, result
    assert result.message == (
        "artwork w2.pdf given by rob; the job is checked and, if it passes, its output made once the rest of its "
        "artwork has come (not yet: w3.pdf)"
    )
    assert r.stage("W-1") is Stage.AWAITING


def test_replace_of_one_file_promises_the_check_not_the_output(rig: Rig, tmp_path: Path) -> None:
    """Audit, soak 4: in a job of two files, one of which fails its check, `replace` of the other
    answered "...; the output is made again", and no output was made (the other file still failed)."""
    r = rig
    make_pdf(r.inbox / "v1.pdf", pages=CARD[:1])
    make_pdf(r.inbox / "v2.pdf")  # A4: not a business card
    (r.inbox / "V.yaml").write_text('order_id: "V"\nproduct: bc-85x55\nquantity: 1\nartwork: [v1.pdf, v2.pdf]\n')
    r.run(until=lambda: r.stage("V-1") is Stage.FAILED, steps=10)
    better = tmp_path / "v1.pdf"
    make_pdf(better, pages=CARD[:1])
    result = r.engine.apply("V-1", Action.REPLACE, by="rob", note="", file=better)
    assert result.ok, result
    assert result.message == (
        "artwork v1.pdf replaced by rob; the job is checked again and, if it passes, its output made again"
    )

    def checks_failed() -> int:
        return sum(e.status is JobStatus.ValidationFailed for e in r.job("V-1").history)

    r.run(until=lambda: checks_failed() == 2, steps=10)  # checked again, failed again: no output
    assert r.stage("V-1") is Stage.FAILED and not list((r.root / "failed" / "V-1" / "output").glob("*.pdf"))


@pytest.mark.parametrize("point", ["after the artwork moved", "before the folder gets its name"])
def test_a_kill_while_a_folder_drop_of_a_delivered_job_is_refused_keeps_its_files_together(
    rig: Rig, tmp_path: Path, point: str
) -> None:
    """Audit, soak 3: the same order sent again as a folder drop (its manifest and artwork in
    inbox/<folder>/), killed while refused: the next start put the artwork back at the top of inbox/,
    apart from its manifest (which was refused again without it), or left the emptied folder in
    inbox/ for good. The artwork goes back into its folder; an emptied folder goes once quiet."""
    r = rig
    job_id = r.order("FD")
    r.run(until=done(r, job_id), steps=10)
    r.take_prints()
    drop = tmp_path / "FD-again"
    drop.mkdir()
    (drop / "manifest.yaml").write_bytes((r.root / "done" / job_id / "manifest.yaml").read_bytes())
    make_pdf(drop / "FD.pdf", pages=CARD)
    os.replace(drop, r.inbox / "FD-again")
    life_until_killed(r, REFUSAL_CRASH_POINTS[point])
    r.start()
    failed = r.root / "failed" / "FD-again"
    r.run(until=lambda: (failed / "ERROR.txt").is_file() and not (r.inbox / "FD-again").exists(), steps=10)
    assert _failed_folders(r) == ["FD-again"]
    assert sorted(os.listdir(failed)) == ["ERROR.txt", "artwork", "manifest.yaml"]
    assert os.listdir(failed / "artwork") == ["FD.pdf"]
    assert os.listdir(r.inbox) == [] and r.take_prints() == []
    # (audit, soak 3: "Manifest manifest.yaml" said nothing of which folder)
    assert (failed / "ERROR.txt").read_text().startswith("Manifest FD-again/manifest.yaml (order FD): ")


def test_a_folder_drops_own_hidden_files_survive_the_recovery_of_its_refusal(rig: Rig, tmp_path: Path) -> None:
    """The start's recovery of a refusal cut short removes only the daemon's own temp files: a
    file of the client's folder named like one (``.notes.yaml.4711.tmp``) travels with the folder."""
    r = rig
    _, failed = _drop_bad_manifest(r, tmp_path, folder_drop=True)
    (r.inbox / "BADF" / ".notes.yaml.4711.tmp").write_text("the client's\n")
    life_until_killed(r, REFUSAL_CRASH_POINTS["before the folder gets its name"])
    r.start()
    r.run(until=lambda: (failed / "ERROR.txt").is_file(), steps=10)
    assert (failed / ".notes.yaml.4711.tmp").read_text() == "the client's\n"


def test_a_spool_found_full_is_said_full_only_while_it_has_no_room(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit (2026-12-05 Y R7): the status line and health said "the spool disk is full" for ~15 s
    after space was freed, while jobs flowed again. Found full a moment ago, it is said full only
    while the disk has no room."""
    rig.engine._spool_full_said(OSError(errno.ENOSPC, "No space left on device"))
    assert not rig.engine.spool_full(), "this disk has room (freed by hand): seen at once"
    no_room = os.statvfs_result((4096, 4096, 1000, 0, 0, 1000, 10, 10, 0, 255))
    monkeypatch.setattr(os, "statvfs", lambda path: no_room)
    assert rig.engine.spool_full()
    rig.clock.advance(16)
    assert not rig.engine.spool_full(), "not found full again since: the next try says"


def test_a_folder_drops_misnamed_manifest_is_told_to_be_renamed_where_the_folder_is_now(rig: Rig) -> None:
    """Audit AB (rough edge 3): a folder dropped with its manifest named order.yaml went to failed/
    with "rename it (in inbox/misn/) and put the folder back": the folder was in failed/misn/."""
    r = rig
    (r.inbox / "misn").mkdir()
    (r.inbox / "misn" / "order.yaml").write_text('order_id: "MS"\nproduct: bc-85x55\nquantity: 1\nartwork: [a.pdf]\n')
    make_pdf(r.inbox / "misn" / "a.pdf", pages=CARD)
    r.run(until=lambda: (r.root / "failed" / "misn" / "ERROR.txt").is_file(), steps=20, dt=60)
    error = (r.root / "failed" / "misn" / "ERROR.txt").read_text()
    assert (
        "if order.yaml is the order's manifest: in a folder, a manifest must be named manifest.json, manifest.yaml "
        "or manifest.yml; rename it (here, in failed/misn/) and put the folder back into inbox/" in error
    ), error
    assert "in inbox/misn/" not in error


def test_an_unclaimed_file_named_as_a_jobs_artwork_is_not_said_to_be_named_by_no_manifest(rig: Rig) -> None:
    """Audit AB (rough edge 2): a file of the name of a held job's artwork, put into inbox/ alone,
    went to failed/ with an ERROR.txt that began "no manifest that the daemon took in referred to
    it", and went on "job HN-1's artwork HN.pdf has this name"."""
    r = rig
    job_id, _ = _held(r, "HN")
    make_pdf(r.inbox / "HN.pdf", pages=CARD)
    r.run(until=lambda: (r.root / "failed" / "HN.pdf" / "ERROR.txt").is_file(), steps=20, dt=60)
    error = (r.root / "failed" / "HN.pdf" / "ERROR.txt").read_text()
    assert f"job {job_id}'s artwork HN.pdf has this name; that job waits in quarantine/{job_id}/" in error, error
    assert "referred to" not in error
    assert "no manifest taken in after it came claimed it within" in error


def test_an_order_whose_finished_folder_a_lost_ledger_knew_is_not_printed_again(rig: Rig) -> None:
    """Audit AE 3: with the ledger put back from a backup older than a delivery, the order sent
    again was taken as new, its done/ folder moved aside, and it printed a second time. Refused as
    for a delivered job; with reprint: true it prints, the old folder kept aside."""
    r = rig
    old = r.root / "done" / "AE3-1"
    old.mkdir(parents=True)
    (old / "STATUS.txt").write_text("Job AE3-1  (order AE3)\nStatus: InHotFolder\n")
    r.order("AE3")
    r.run(until=lambda: (r.root / "failed" / "AE3.yaml" / "ERROR.txt").is_file(), steps=10)
    error = (r.root / "failed" / "AE3.yaml" / "ERROR.txt").read_text()
    assert "job AE3-1 is not in the ledger, but its folder done/AE3-1/ is there" in error, error
    assert r.ledger.get_job("AE3-1") is None and not list(r.hot.iterdir())
    r.order("AE3", extra="reprint: true\n")
    r.run(until=lambda: r.stage("AE3-1") is Stage.DONE, steps=20)
    assert len(list(r.hot.iterdir())) == 1
    assert [p.name for p in (r.root / "done").iterdir() if p.name.startswith("AE3-1.old-")]


def test_a_long_runs_cache_of_last_actions_stays_bounded(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit AF 1: the daemon's memory grew with every job it ever had; among what it kept, every
    job's "last action or notice" (the ledger has them all). Emptied at CACHED_JOBS jobs, and what
    STATUS.txt says stays what the ledger says."""
    r = rig
    monkeypatch.setattr(engine_module, "CACHED_JOBS", 3)
    jobs = [r.order(f"LC{n}") for n in range(6)]
    r.run(until=lambda: all(r.stage(j) is Stage.DONE for j in jobs), steps=20)
    assert 0 < len(r.engine._last_action) <= 3
    r.engine._note_action(jobs[0], "a notice for the first job")
    for job_id in jobs[1:]:
        r.engine._last_action_of(job_id)
    assert len(r.engine._last_action) <= 3
    assert r.engine._last_action_of(jobs[0]) == "a notice for the first job"


@pytest.mark.parametrize("names", [("a/x.pdf", "b/x.pdf"), ("X.pdf", "x.pdf")], ids=["folders", "case"])
def test_two_artwork_files_of_one_name_are_each_replaced_only_by_their_own_stored_name(
    rig: Rig, names: tuple[str, str]
) -> None:
    """Audit AM D1: a job's two artwork files of the same name (a/x.pdf and b/x.pdf, or X.pdf and
    x.pdf) were stored as x.pdf and 2-x.pdf, and a replacement named x.pdf, meant for the second,
    replaced the first without a word (the front went to history/, the back printed twice). Both
    now carry their position (1-x.pdf, 2-x.pdf): the name the manifest gave is refused as meaning
    either, and each stored name replaces its own file."""
    r = rig
    front, back = names
    for name, content in ((front, b"% front\n"), (back, b"% back\n")):
        (r.inbox / name).parent.mkdir(parents=True, exist_ok=True)
        make_pdf(r.inbox / name, pages=[(91.0, 61.0)], content=content)
    (r.inbox / "TN.yaml").write_text(
        f'order_id: "TN"\nproduct: bc-85x55\nquantity: 1\nblocked: true\nartwork: ["{front}", "{back}"]\n'
    )
    r.run(until=lambda: r.stage("TN-1") is Stage.HELD, steps=10)
    folder = r.root / "quarantine" / "TN-1"
    first, second = f"1-{PurePosixPath(front).name}", f"2-{PurePosixPath(back).name}"
    assert sorted(p.name for p in (folder / "artwork").iterdir()) == [first, second]
    assert b"% front" in (folder / "artwork" / first).read_bytes()

    make_pdf(folder / "replace" / "x.pdf", pages=[(91.0, 61.0)], content=b"% corrected back\n")
    r.run(until=lambda: "must be the name of the one it replaces" in (folder / "STATUS.txt").read_text(), steps=20)
    assert "ArtworkUploaded" not in r.statuses("TN-1")
    assert b"% front" in (folder / "artwork" / first).read_bytes()
    assert b"% back" in (folder / "artwork" / second).read_bytes()
    status = (folder / "STATUS.txt").read_text()
    assert f"({first}, {second})" in status, status
    said = (
        "put the corrected PDF into replace/ under the name of the file it replaces (as in artwork/, or in ERROR.txt "
        "for one that never came)"
    )
    assert said in " ".join(status.split())

    make_pdf(folder / "replace" / second, pages=[(91.0, 61.0)], content=b"% corrected back\n")
    r.run(until=lambda: "ArtworkUploaded" in r.statuses("TN-1") and r.stage("TN-1") is Stage.HELD, steps=20)
    assert b"% front" in (folder / "artwork" / first).read_bytes()
    assert b"% corrected back" in (folder / "artwork" / second).read_bytes()


@pytest.mark.parametrize("first", ["card v1.pdf", "release.pdf"])
def test_two_replacements_for_one_artwork_file_dropped_together_are_both_refused(rig: Rig, first: str) -> None:
    """Audit AL D1: "card v1.pdf" and "card v2.pdf" copied into replace/ together for a one-file
    job were each taken in turn: the last one was checked and printed, the first never, and nothing
    said one had been set aside. Which one is meant is not guessed: neither is taken, both are
    kept in history/, and STATUS.txt says to put the one to use in alone. Files for different
    artwork files of one job, dropped together, are each taken. Review FV 2: a PDF named like a
    drop file ("release.pdf", a replacement since FO 2) was no rival: both were taken in turn."""
    r = rig
    job_id, folder = _held(r, "RV")
    before = (folder / "artwork" / "RV.pdf").read_bytes()
    make_pdf(folder / "replace" / first, pages=CARD, content=b"% v1\n")
    make_pdf(folder / "replace" / "card v2.pdf", pages=CARD, content=b"% v2\n")
    (folder / "replace" / ".DS_Store").write_bytes(b"\0")
    r.run(until=lambda: not (folder / "replace" / "card v2.pdf").exists(), steps=10)
    r.run(steps=2)
    assert "ArtworkUploaded" not in r.statuses(job_id)
    assert (folder / "artwork" / "RV.pdf").read_bytes() == before
    kept = sorted(p.name.split("-refused-", 1)[1] for p in (folder / "history").glob("*-refused-*"))
    assert kept == sorted(["card v2.pdf", first])
    status = " ".join((folder / "STATUS.txt").read_text().split())
    assert "came into replace/ together with" in status and "for the same artwork file" in status, status
    assert "put the one to use into replace/ again, alone" in status
    assert r.stage(job_id) is Stage.HELD and r.job(job_id).blocked

    make_pdf(folder / "replace" / "card v2.pdf", pages=CARD, content=b"% v2 again\n")
    # As the watcher's event does (the rig has none; its rescans a moment apart may not see replace/
    # changed twice within one tick of the kernel's file times):
    r.engine.tracker.track(folder / "replace" / "card v2.pdf", activity=True)
    r.run(until=lambda: "ArtworkUploaded" in r.statuses(job_id) and r.stage(job_id) is Stage.HELD, steps=20)
    assert b"% v2 again" in (folder / "artwork" / "RV.pdf").read_bytes()


def test_replacements_for_two_different_artwork_files_dropped_together_are_both_taken(rig: Rig) -> None:
    r = rig
    make_pdf(r.inbox / "front.pdf", pages=[(91.0, 61.0)])
    make_pdf(r.inbox / "back.pdf", pages=[(91.0, 61.0)])
    (r.inbox / "FB.yaml").write_text(
        'order_id: "FB"\nproduct: bc-85x55\nquantity: 1\nblocked: true\nartwork: [front.pdf, back.pdf]\n'
    )
    r.run(until=lambda: r.stage("FB-1") is Stage.HELD, steps=10)
    folder = r.root / "quarantine" / "FB-1"
    make_pdf(folder / "replace" / "Front.PDF", pages=[(91.0, 61.0)], content=b"% new front\n")
    make_pdf(folder / "replace" / "back.pdf", pages=[(91.0, 61.0)], content=b"% new back\n")
    r.run(until=lambda: r.statuses("FB-1").count("ArtworkUploaded") == 2 and r.stage("FB-1") is Stage.HELD, steps=20)
    assert b"% new front" in (folder / "artwork" / "front.pdf").read_bytes()
    assert b"% new back" in (folder / "artwork" / "back.pdf").read_bytes()


def test_a_command_file_a_killed_cli_left_half_written_is_removed_with_its_copy(rig: Rig) -> None:
    """Audit AN D1: `spo-hotfolder replace` killed between writing its command file and renaming
    it into place left `.<token>.json.tmp` and the whole PDF copied beside it in state/commands/
    for good (only folders an hour old went, and no .json.tmp). Removed at the next look once the
    CLI named in it is gone; one whose CLI still runs is left to it."""
    r = rig
    commands = r.config.paths.state / "commands"
    commands.mkdir(parents=True, exist_ok=True)
    cli = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "spo_hotfolder-stand-in"])
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/proc/{cli.pid}/cmdline").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)  # (Popen returns a moment before the child's exec fills it)
        for token, pid in (("1-dead", _dead_pid()), ("2-live", cli.pid)):
            (commands / f".{token}").mkdir()
            (commands / f".{token}" / "new.pdf").write_bytes(b"%PDF-1.4 whole copy\n")
            (commands / f".{token}.json.tmp").write_text(
                json.dumps({"action": "REPLACE", "job_id": "X-1", "token": token, "pid": pid})
            )
        r.start()
        r.run(steps=2)
        assert sorted(p.name for p in commands.iterdir()) == [".2-live", ".2-live.json.tmp"]
    finally:
        cli.kill()
        cli.wait()


def test_a_drop_file_named_with_another_jobs_number_is_refused(rig: Rig) -> None:
    """Audit AL: release_2051.txt dropped into job 2076's folder released 2076 without a word about
    the other number: most likely meant for job 2051. A number of three digits or more in a drop
    file's name that is neither the job's nor its order's is refused; a copy's number, the job's
    own number and a date are not."""
    r = rig
    job_id, folder = _held(r, "2076")
    (folder / "release_2051.txt").write_text("amy\n")
    r.run(until=lambda: not (folder / "release_2051.txt").exists(), steps=10)
    assert r.job(job_id).blocked and r.take_prints() == []
    status = " ".join((folder / "STATUS.txt").read_text().split())
    assert "release_2051.txt holds 2051, which is neither job 2076-1's id nor its order's" in status, status
    (folder / "RELEASE 2026-12-05 (2).txt").write_text("amy\n")
    r.run(until=done(r, job_id), steps=10)
    assert len(r.take_prints()) == 1
    job_id, folder = _held(r, "2077")
    (folder / "Release 2077.txt").write_text("amy\n")
    r.run(until=done(r, job_id), steps=10)
    # Audit AR D2, D3: a script's RELEASE-$JOB.txt for an id with letters acts; a name holding
    # another job's id of letters and digits is refused.
    job_id, folder = _held(r, "ABC")
    (folder / "REJECT-ABD-2.txt").write_text("amy\n")
    r.run(until=lambda: not (folder / "REJECT-ABD-2.txt").exists(), steps=10)
    assert r.stage(job_id) is Stage.HELD and "Rejected" not in r.statuses(job_id)
    (folder / "RELEASE-ABC-1.txt").write_text("amy\n")
    r.run(until=done(r, job_id), steps=10)


def test_a_hot_folder_that_is_the_inbox_through_a_link_is_never_delivered_into(tmp_path: Path) -> None:
    """Audit AO D1: a hot folder configured as a symbolic link to the daemon's own inbox took each
    delivery, recorded InHotFolder, and the PDF came back as an unclaimed file. The delivery now
    fails, saying the folder is the daemon's own (check-config says it too)."""
    (tmp_path / "root" / "inbox").mkdir(parents=True)
    (tmp_path / "to-inbox").symlink_to(tmp_path / "root" / "inbox")
    for r in rig_on(tmp_path, hot_folders={"indigo": {"path": str(tmp_path / "to-inbox")}}):
        job_id = r.order("LI")
        r.run(until=lambda r=r, job_id=job_id: r.stage(job_id) is Stage.FAILED, steps=10)
        assert "InHotFolder" not in r.statuses(job_id)
        assert sorted(p.name for p in r.inbox.iterdir()) == []
        error = " ".join((r.root / "failed" / job_id / "ERROR.txt").read_text().split())
        assert f"hot folder indigo ({tmp_path / 'to-inbox'}) is the daemon's own paths.inbox" in error, error


def test_files_in_another_jobs_folder_dragged_into_a_job_folder_are_not_answered_for_it(rig: Rig) -> None:
    """A job's own folder dragged into another job's folder is put back (_on_folder_inside), its
    files acting there: its RELEASE or artwork is no file put in the wrong place of the outer job
    (which STATUS.txt would tell the operator to move into the outer job's folder)."""
    r = rig
    _job_id, folder = _held(r, "DG")
    inner = folder / "DH-1"
    (inner / "artwork").mkdir(parents=True)
    (inner / "STATUS.txt").write_text("Job DH-1 (order DH)\n")
    for path in (inner / "RELEASE", inner / "artwork" / "DH.pdf", inner / "history" / "RELEASE.txt"):
        assert r.engine._classify(path) == ("ignore", None), path
    made = folder / "New folder"
    for path in (made / "RELEASE", made / "x.pdf", folder / "Replace" / "x.pdf", folder / "history" / "release.txt"):
        assert r.engine._classify(path) == ("buried", folder), path
    for path in (folder / "artwork" / "x.pdf", folder / "New folder" / "._x.pdf", folder / "output" / "release.pdf"):
        assert r.engine._classify(path)[0] != "buried", path


def test_a_replacement_copy_a_killed_cli_left_is_removed_and_a_live_clis_is_not(rig: Rig) -> None:
    """Audit AP D1: `spo-hotfolder replace` killed while copying its PDF into state/commands/ (the
    longest part of its run) left the copy there, named by no command, for an hour or for good. The
    CLI holds its staging folder locked while it lives: one no live CLI holds is removed."""
    r = rig
    commands = r.config.paths.state / "commands"
    commands.mkdir(parents=True, exist_ok=True)
    script = (
        "import sys, time\nfrom pathlib import Path\nfrom spo_hotfolder.commands import _hold\n"
        "folder = Path(sys.argv[1]); folder.mkdir(); _hold(folder)\n"
        "(folder / '.new.pdf.tmp').write_bytes(b'%PDF-1.4 half a copy')\n"
        "print('held', flush=True)\ntime.sleep(float(sys.argv[2]))\n"
    )
    old = time.time() - 60  # (a folder made a moment ago is given a few seconds: it may not be locked yet)
    clis = []
    for name, lives in ((".aaaaaaaaaaaa", 0.0), (".bbbbbbbbbbbb", 60.0)):
        cli = subprocess.Popen([sys.executable, "-c", script, str(commands / name), str(lives)], stdout=subprocess.PIPE)
        assert cli.stdout is not None and cli.stdout.readline() == b"held\n"
        os.utime(commands / name, (old, old))
        clis.append(cli)
    clis[0].wait()  # (killed or ended: its lock is gone with it)
    try:
        r.start()
        r.run(steps=2)
        assert sorted(p.name for p in commands.iterdir()) == [".bbbbbbbbbbbb"]
    finally:
        clis[1].kill()
        for cli in clis:
            cli.wait()
            assert cli.stdout is not None
            cli.stdout.close()


def test_a_text_file_beside_a_replacement_pdf_is_no_rival_to_it(rig: Rig) -> None:
    """Audit AP D2: Explorer's empty "New Text Document.txt" (or notes.txt) in replace/ beside the
    corrected PDF had both refused as two replacements for one file. The PDF is taken; the text file
    is refused on its own, as not a PDF."""
    r = rig
    job_id, folder = _held(r, "RT")
    (folder / "replace" / "notes.txt").write_text("the corrected one\n")  # (taken after good.pdf: by name)
    make_pdf(folder / "replace" / "good.pdf", pages=CARD, content=b"% good\n")
    r.run(until=lambda: "ArtworkUploaded" in r.statuses(job_id) and r.stage(job_id) is Stage.HELD, steps=20)
    assert b"% good" in (folder / "artwork" / "RT.pdf").read_bytes()
    status = " ".join((folder / "STATUS.txt").read_text().split())
    assert "together with" not in status, status


def test_a_replace_command_while_a_pdf_is_in_replace_for_that_file_is_refused(rig: Rig) -> None:
    """Audit AP: `spo-hotfolder replace` said "replaced" while a PDF was still being copied into the
    job's replace/; that file, once complete, replaced the command's a moment later. The command
    is refused while replace/ holds a PDF (or an upload of one) for the same artwork file, which
    stays where it is and is taken in its turn."""
    r = rig
    job_id, folder = _held(r, "RC")
    make_pdf(r.tmp / "cli.pdf", pages=CARD, content=b"% from the command line\n")
    for waiting in ("slow.pdf", "slow.pdf.filepart"):
        (folder / "replace" / waiting).write_bytes(b"%PDF-1.4\n% half")  # (still being copied)
        result = r.engine.apply(job_id, Action.REPLACE, by="cli", note="", file=r.tmp / "cli.pdf")
        assert not result.ok and f"replace/ holds {waiting} for the same artwork file" in result.message, result
        assert (folder / "replace" / waiting).is_file() and "ArtworkUploaded" not in r.statuses(job_id)
        (folder / "replace" / waiting).unlink()
    assert r.engine.apply(job_id, Action.REPLACE, by="cli", note="", file=r.tmp / "cli.pdf").ok


def test_artwork_put_by_hand_into_a_waiting_jobs_folder_is_said_and_recorded_at_a_retry(rig: Rig) -> None:
    """Audit AL D2: the missing artwork put by hand into work/<job>/artwork/: the job still failed
    "artwork missing" (ERROR.txt said missing beside the file), and a RETRY then printed the file
    with nothing in the history saying it had come."""
    r = rig
    (r.inbox / "AH.yaml").write_text('order_id: "AH"\nproduct: bc-85x55\nquantity: 1\nartwork: [AH.pdf]\n')
    r.run(until=lambda: r.stage("AH-1") is Stage.AWAITING, steps=10)
    make_pdf(r.root / "work" / "AH-1" / "artwork" / "AH.pdf", pages=CARD)
    r.run(until=lambda: r.stage("AH-1") is Stage.FAILED, steps=5, dt=400)
    error = " ".join((r.root / "failed" / "AH-1" / "ERROR.txt").read_text().split())
    assert "artwork/AH.pdf was put into this job's folder by hand, where the daemon does not take artwork" in error
    (r.root / "failed" / "AH-1" / "RETRY").write_text("kim\n")
    r.run(until=done(r, "AH-1"), steps=10)
    uploaded = [e for e in r.job("AH-1").history if e.status is JobStatus.ArtworkUploaded]
    assert len(uploaded) == 1 and uploaded[0].by == "kim" and "found in artwork/ at the retry" in uploaded[0].detail
    assert len(r.take_prints()) == 1


def test_an_error_txt_of_one_problem_says_it_once(rig: Rig) -> None:
    """Audit AQ: "needs attention: 1 problem: <the problem>", and the one bullet below the same
    sentence again. The heading says "1 problem (below)"; the problem is said once."""
    r = rig
    job_id = _failed(r, "OP")
    text = (r.root / "failed" / job_id / "ERROR.txt").read_text()
    first, _, rest = text.partition("\n")
    assert first == f"Job {job_id} (order OP) needs attention: 1 problem (below)", first
    [bullet] = [line for line in rest.splitlines() if line.startswith("  - ")]
    assert "the page is" in bullet and text.count(bullet[4:]) == 1
    assert r.job(job_id).error is not None and r.job(job_id).error.startswith("1 problem: ")  # (the record as it was)


def test_a_staging_folder_that_is_its_hot_folder_through_a_link_is_never_written_in(tmp_path: Path) -> None:
    """Audit AR D6: a staging folder that is a symbolic link to its hot folder was refused by
    check-config and a reload, but a daemon started on it ("config.problem ... the jobs routed
    there fail") delivered through it, the temporary copy written where the printer looks."""
    (tmp_path / "hot" / "indigo").mkdir(parents=True)
    (tmp_path / "stage-link").symlink_to(tmp_path / "hot" / "indigo")
    for r in rig_on(
        tmp_path,
        hot_folders={"indigo": {"path": str(tmp_path / "hot" / "indigo"), "staging": str(tmp_path / "stage-link")}},
    ):
        job_id = r.order("SL")
        r.run(until=lambda r=r, job_id=job_id: r.stage(job_id) is Stage.FAILED, steps=10)
        assert "InHotFolder" not in r.statuses(job_id) and os.listdir(tmp_path / "hot" / "indigo") == []
        error = " ".join((r.root / "failed" / job_id / "ERROR.txt").read_text().split())
        assert "is the hot folder itself, reached another way (a symbolic link?)" in error, error


def test_a_job_folder_dragged_into_another_jobs_subfolder_is_put_back_and_never_purged_with_it(rig: Rig) -> None:
    """Audit AR D1: a blocked job's folder dragged into another job's replace/, output/, history/ or
    artwork/ (a slip of the mouse) stayed there: it went along into done/ when that job was
    released, and was deleted with it at retention, the blocked job's files lost. It is put back
    as soon as it is seen there (an event), before the outer folder leaves the operator's folders,
    and before a purge."""
    r = rig
    outer_id, outer = _held(r, "NA")
    for sub, order in (("replace", "NB"), ("output", "NC"), ("history", "ND")):
        inner_id, inner = _held(r, order)
        os.replace(inner, outer / sub / inner_id)
        if sub == "replace":
            r.engine.hint(outer / sub / inner_id)  # (the watcher's event)
            r.run(steps=2)
            assert inner.is_dir() and not (outer / sub / inner_id).exists()
    (outer / "RELEASE").write_text("amy\n")
    r.run(until=done(r, outer_id), steps=10)
    for job_id in ("NC-1", "ND-1"):
        assert (r.root / "quarantine" / job_id / "STATUS.txt").is_file(), job_id  # put back, not in done/
        assert r.stage(job_id) is Stage.HELD
    # One dragged into a finished job's folder (before this was mended) is put back before the purge.
    os.replace(r.root / "quarantine" / "ND-1", r.root / "done" / outer_id / "artwork" / "ND-1")
    r.clock.advance(30 * 86400 + 1)  # retention.done_days defaults to 30
    r.engine.request_retention()
    r.run(until=lambda: r.stage(outer_id) is Stage.PURGED, steps=10)
    assert (r.root / "quarantine" / "ND-1" / "artwork").is_dir() and r.stage("ND-1") is Stage.HELD


def test_status_of_a_failed_job_of_two_files_says_a_replacement_takes_the_files_name(rig: Rig) -> None:
    """Audit AR: the quarantine STATUS.txt of a job of several artwork files said a replacement
    takes the name of the file it replaces; a failed one's did not (only ERROR.txt)."""
    r = rig
    make_pdf(r.inbox / "front.pdf", pages=[(210.0, 297.0)])
    make_pdf(r.inbox / "back.pdf", pages=[(210.0, 297.0)])
    (r.inbox / "TF.yaml").write_text('order_id: "TF"\nproduct: bc-85x55\nquantity: 1\nartwork: [front.pdf, back.pdf]\n')
    r.run(until=lambda: r.stage("TF-1") is Stage.FAILED, steps=10)
    status = " ".join((r.root / "failed" / "TF-1" / "STATUS.txt").read_text().split())
    said = (
        "a corrected PDF into replace/ under the name of the file it replaces (as in artwork/, or in ERROR.txt for one "
        "that never came)"
    )
    assert said in status, status


def test_a_job_folder_moved_into_another_jobs_output_is_put_back_at_the_move(rig: Rig) -> None:
    """Audit AS R1: a job's folder moved into another job's output/ (the watcher reports a folder's
    move as a move, not as a new file) was put back only when the other job's folder left."""
    r = rig
    _outer_id, outer = _held(r, "MA")
    inner_id, inner = _held(r, "MB")
    os.replace(inner, outer / "output" / inner_id)
    r.engine._on_folder_moved(inner, outer / "output" / inner_id)  # (what the watcher's move event does)
    assert (inner / "STATUS.txt").is_file() and not (outer / "output" / inner_id).exists()
    os.replace(inner, outer / "history" / inner_id)
    r.engine.hint(outer / "history" / inner_id)  # (and the event it sends for the new name)
    r.run(steps=2)
    assert (inner / "STATUS.txt").is_file() and not (outer / "history" / inner_id).exists()


def test_an_unclaimed_file_whose_name_ends_in_a_dot_is_told_to_be_renamed(rig: Rig) -> None:
    """Audit AS R3: "x.pdf." (as an SMB or FTP client can leave it) was told to come back "with a
    manifest that lists it", which no manifest can: a name ending in a dot is refused there."""
    r = rig
    make_pdf(r.inbox / "card.pdf.", pages=CARD)
    r.run(until=lambda: len(list((r.root / "failed").glob("*/ERROR.txt"))) == 1, steps=10, dt=120)
    [error] = [" ".join(p.read_text().split()) for p in (r.root / "failed").glob("*/ERROR.txt")]
    assert "rename it to card.pdf (a name ending in a dot or a space is refused in a manifest)" in error, error


def test_a_folder_drop_whose_manifest_name_ends_in_a_dot_goes_after_the_short_wait(rig: Rig) -> None:
    """Audit AS: a folder dragged in with ``manifest.yaml.`` (an SMB or FTP client's name) waited
    artwork_timeout_seconds (600 s here, an hour by default) with no word, its ERROR.txt then saying
    no manifest named its files and listing "manifest.yaml.."; a loose ``order.yaml.`` goes after the
    short wait, told why."""
    r = rig
    make_pdf(r.inbox / "a.pdf", pages=CARD)  # a held job's artwork named a.pdf too: not said to be its
    (r.inbox / "DU.yaml").write_text(
        'order_id: "DU"\nblocked: true\nproduct: bc-85x55\nquantity: 1\nartwork: [a.pdf]\n'
    )
    held_id = "DU-1"
    r.run(until=lambda: r.stage(held_id) is Stage.HELD, steps=10)
    (r.inbox / "dotted").mkdir()
    (r.inbox / "dotted" / "manifest.yaml.").write_text(
        'order_id: "DT"\nproduct: bc-85x55\nquantity: 1\nartwork: [a.pdf]\n'
    )
    make_pdf(r.inbox / "dotted" / "a.pdf", pages=CARD)
    error_file = r.root / "failed" / "dotted" / "ERROR.txt"
    r.run(until=error_file.is_file, steps=60, dt=1)
    error = " ".join(error_file.read_text().split())
    assert error.startswith("inbox/dotted/ (2 files) was not taken as an order: its manifest's name ends in a dot."), (
        error
    )
    assert "rename it to manifest.yaml" in error, error
    assert "'manifest.yaml.'" in error and "manifest.yaml.." not in error, error
    assert "no manifest that the daemon took in referred to" not in error and "seconds of arrival" not in error
    assert (r.root / "failed" / "dotted" / "a.pdf").is_file()
    assert held_id not in error, error


@pytest.mark.parametrize("refusal", ["a job id of another order", "an unknown key"])
def test_a_file_that_came_with_another_orders_refused_manifest_is_not_printed_for_a_waiting_job(
    rig: Rig, refusal: str
) -> None:
    """Audit AT D2: job A1-1 waited for shared.pdf; 15 s later order A9 sent shared.pdf and its
    manifest, refused (it named job A1-1, or had a typo). A1-1 took A9's file 2 s later and printed
    it, while A9's ERROR.txt said its artwork stayed in the inbox for a corrected manifest. The
    times name two orders for the file: nobody takes it, as for two orders' manifests (README)."""
    r = rig
    (r.inbox / "A1.yaml").write_text('order_id: "A1"\nproduct: bc-85x55\nquantity: 1\nartwork: [shared.pdf]\n')
    r.run(until=lambda: r.ledger.get_job("A1-1") is not None and r.stage("A1-1") is Stage.AWAITING, steps=10)
    r.run(steps=15, dt=1)
    job = '  - job_id: "A1-1"\n' if refusal.startswith("a job id") else '  - job_id: "A9-1"\n    typo: 1\n'
    make_pdf(r.tmp / "shared.pdf", pages=CARD)
    os.replace(r.tmp / "shared.pdf", r.inbox / "shared.pdf")
    r.engine.hint(r.inbox / "shared.pdf", moved_in=True)
    (r.tmp / "A9.yaml").write_text(
        f'order_id: "A9"\njobs:\n{job}    product: bc-85x55\n    quantity: 1\n    artwork: [shared.pdf]\n'
    )
    os.replace(r.tmp / "A9.yaml", r.inbox / "A9.yaml")
    r.engine.hint(r.inbox / "A9.yaml", moved_in=True)
    aside = r.root / "failed" / "shared.pdf"
    r.run(until=(aside / "ERROR.txt").is_file, steps=30, dt=0.5)
    r.run(steps=5)
    assert r.take_prints() == []
    assert r.stage("A1-1") is Stage.AWAITING and (aside / "shared.pdf").is_file()
    error = " ".join((aside / "ERROR.txt").read_text().split())
    assert "job A1-1 (order A1) waits for shared.pdf" in error, error
    assert "the manifest in failed/A9.yaml/ names it too, and was refused: see failed/A9.yaml/ERROR.txt" in error, error
    assert f"spo-hotfolder replace <job id> '{aside / 'shared.pdf'}'" in error
    status = " ".join((r.root / "work" / "A1-1" / "STATUS.txt").read_text().split())
    assert f"If it is this job's: spo-hotfolder replace A1-1 '{aside / 'shared.pdf'}'" in status, status
    # The refused manifest's ERROR.txt, which said its artwork stays in inbox/ (or is left there for
    # the waiting job), says where the file went.
    refused = " ".join((r.root / "failed" / "A9.yaml" / "ERROR.txt").read_text().split())
    assert "Later: shared.pdf, which this manifest names, came into inbox/ while job A1-1 waited" in refused, refused
    assert "it is in failed/shared.pdf/ (see the ERROR.txt there)" in refused
    assert "left in inbox/ for it" not in refused


def test_a_refused_job_s_file_waited_for_by_a_job_of_its_own_order_is_still_taken(rig: Rig) -> None:
    """The other side of audit AT D2: the order's manifest sent again for its delivered job (refused:
    no reprint) with a file that the order's other job waits for by that name: the times name one
    order, and that job takes it."""
    r = rig
    make_pdf(r.inbox / "a.pdf", pages=CARD)
    (r.inbox / "B1.yaml").write_text(
        'order_id: "B1"\njobs:\n'
        "  - {job_id: B1-1, product: bc-85x55, quantity: 1, artwork: [a.pdf]}\n"
        "  - {job_id: B1-2, product: bc-85x55, quantity: 1, artwork: [front.pdf]}\n"
    )
    r.run(until=lambda: r.ledger.get_job("B1-1") is not None and r.stage("B1-1") is Stage.DONE, steps=20)
    assert r.stage("B1-2") is Stage.AWAITING
    r.run(steps=15, dt=1)
    make_pdf(r.tmp / "front.pdf", pages=CARD)
    os.replace(r.tmp / "front.pdf", r.inbox / "front.pdf")
    r.engine.hint(r.inbox / "front.pdf", moved_in=True)
    (r.tmp / "B1.yaml").write_text(
        'order_id: "B1"\njobs:\n  - {job_id: B1-1, product: bc-85x55, quantity: 1, artwork: [front.pdf]}\n'
    )
    os.replace(r.tmp / "B1.yaml", r.inbox / "B1.yaml")
    r.engine.hint(r.inbox / "B1.yaml", moved_in=True)
    r.run(until=lambda: r.stage("B1-2") is Stage.DONE, steps=30, dt=0.5)
    assert not (r.root / "failed" / "front.pdf").exists()
    assert (r.root / "failed" / "B1.yaml" / "ERROR.txt").is_file()


@pytest.mark.parametrize("first", ["plain", "reprint", "both at a start"])
def test_a_delivered_order_sent_with_and_without_reprint_a_moment_apart_is_printed_again_once(
    rig: Rig, first: str
) -> None:
    """Audit AT D1: a delivered order's manifest and its `reprint: true` twin, naming one PDF at the
    top of inbox/, a moment apart. The plain one first: refused, it took the PDF into
    failed/<manifest>/artwork/ before its twin came, and the reprint failed an hour later "artwork
    missing". The reprint first: it took the PDF, and the plain copy, read next, made the job
    wait for the PDF again (a new version of the manifest); the reprint failed as missing it."""
    r = rig
    job_id = r.order("TW")
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["TW_TW-1_bc-85x55_x1.pdf"]
    text = 'order_id: "TW"\nproduct: bc-85x55\nquantity: 1\nartwork: [TW.pdf]\n'
    make_pdf(r.tmp / "TW.pdf", pages=CARD)
    os.replace(r.tmp / "TW.pdf", r.inbox / "TW.pdf")
    r.engine.hint(r.inbox / "TW.pdf", moved_in=True)
    twins = {"plain": ("TW-b.yaml", text), "reprint": ("TW-a.yaml", text + "reprint: true\n")}
    order = ["plain", "reprint"] if first == "plain" else ["reprint", "plain"]
    for which in order:
        name, body = twins[which]
        (r.tmp / name).write_text(body)
        os.replace(r.tmp / name, r.inbox / name)
        if first != "both at a start":
            r.engine.hint(r.inbox / name, moved_in=True)
            r.run(steps=1, dt=0.3)
    if first == "both at a start":  # (the reprint's name read first)
        r.clock.advance(30)
        r.start()
    r.run(until=lambda: r.statuses(job_id).count("InHotFolder") == 2, steps=40, dt=0.5)
    r.run(steps=5)
    assert r.take_prints() == ["TW_TW-1_bc-85x55_x1.pdf"]
    assert r.statuses(job_id)[-1] == "InHotFolder" and "ValidationFailed" not in r.statuses(job_id)
    assert sorted(p.name for p in r.inbox.iterdir()) == []
    assert not list((r.root / "failed").glob("*/artwork/TW.pdf"))


@pytest.mark.parametrize("to", ["large", "skip"])
def test_routes_changed_while_the_daemon_was_stopped_are_said_for_jobs_not_routed_yet(rig: Rig, to: str) -> None:
    """Audit AV D1: after a restart on an edited config, a future order (and a failed job: no route
    recorded for either) kept "Goes to: hot folder indigo" in STATUS.txt, and one the new routes send
    nowhere was finished unprinted at its date with no word: a reload said both (it knows the config
    before it); a start now compares with the config the daemon last ran on (kept in state/)."""
    r = rig
    r.order("FX", extra='process_after: "2026-11-22T12:00:00+00:00"\n')
    r.run(until=lambda: r.ledger.get_job("FX-1") is not None and r.stage("FX-1") is Stage.FUTURE, steps=10)
    failed_id = _failed(r, "FY")
    assert r.job("FX-1").route is None and r.job(failed_id).route is None
    r.engine.flush_status()
    assert "Goes to: hot folder indigo" in (r.root / "work" / "FX-1" / "STATUS.txt").read_text()
    r.write_routes([{"to": to}])
    r.config = load_config(r.config_path)
    with capture_logs() as logs:
        r.start()  # a restart on the edited config
    changed = {e["job_id"]: e for e in logs if e["event"] == "job.route_changed"}
    assert changed["FX-1"]["old"] == "indigo" and changed["FX-1"]["new"] == to
    assert changed["FX-1"]["log_level"] == ("warning" if to == "skip" else "info")
    assert failed_id in changed
    r.engine.flush_status()
    for folder in (r.root / "work" / "FX-1", r.root / "failed" / failed_id):
        status = " ".join((folder / "STATUS.txt").read_text().split())
        assert "Goes to: hot folder indigo" not in status, status
        where = "no hot folder" if to == "skip" else f"hot folder {to}"
        assert f"config edited while the daemon was stopped: this job now goes to {where}" in status, status
    # A start on the config as it was says nothing.
    with capture_logs() as logs:
        r.start()
    assert [e for e in logs if e["event"] == "job.route_changed"] == []
    if to == "skip":
        r.clock.advance(7200)
        r.run(until=done(r, "FX-1"), steps=10)
        skipped = next(e for e in r.job("FX-1").history if e.status is JobStatus.CopyToHotFolderSkipped)
        assert "(the config was changed: it was going to indigo)" in skipped.detail


def test_a_job_without_output_sent_nowhere_and_back_by_reloads_has_no_route_recorded(rig: Rig) -> None:
    """Audit AV D2: a future order (no output, route null) kept "indigo" as its recorded route after a
    reload sent it nowhere and the next one back; README: null before the output is made."""
    r = rig
    r.order("FZ", extra='process_after: "2026-11-22T12:00:00+00:00"\n')
    r.run(until=lambda: r.ledger.get_job("FZ-1") is not None and r.stage("FZ-1") is Stage.FUTURE, steps=10)
    original = r.config_path.read_text()
    r.write_routes([{"to": "skip"}])
    r.engine.set_config(load_config(r.config_path))
    r.run(steps=2)
    assert r.job("FZ-1").route == "skip"
    r.config_path.write_text(original)
    r.engine.set_config(load_config(r.config_path))
    r.run(steps=2)
    assert r.job("FZ-1").route is None
    r.clock.advance(7200)
    r.run(until=done(r, "FZ-1"), steps=10)
    assert r.job("FZ-1").route == "indigo" and r.take_prints() == ["FZ_FZ-1_bc-85x55_x1.pdf"]


def test_a_reload_that_renumbers_the_routes_rewrites_the_route_said_in_status_txt(rig: Rig) -> None:
    """Audit AV: after a reload that put a route before the job's own, its hot folder unchanged,
    STATUS.txt kept "(route 1: ...)" for a rule that was now route 2."""
    r = rig
    _job_id, folder = _held(r, "RN")
    r.engine.flush_status()
    assert "Goes to: hot folder indigo  (route 1: product bc-*)" in (folder / "STATUS.txt").read_text()
    r.write_routes([{"when": {"product": "poster-*"}, "to": "large"}, {"when": {"product": "bc-*"}, "to": "indigo"}])
    r.engine.set_config(load_config(r.config_path))
    r.run(steps=2)
    r.engine.flush_status()
    assert "Goes to: hot folder indigo  (route 2: product bc-*)" in (folder / "STATUS.txt").read_text()


def test_a_replacement_copy_a_killed_cli_left_just_before_a_start_is_swept_at_the_start(rig: Rig) -> None:
    """Review FO 1: `replace` killed while copying its file, the daemon started within the second:
    the copy (hundreds of MB) was taken for one just made, not locked yet, and left for the hourly
    look. One that holds a file was locked before it: its lock alone decides. An empty one a
    moment old (a CLI between its mkdir and its lock) and a locked one stay."""
    commands = rig.engine.commands_dir()
    killed, just_made, copying = commands / ".0a0a0a", commands / ".0b0b0b", commands / ".0c0c0c"
    for folder in (killed, just_made, copying):
        folder.mkdir(parents=True)
    (killed / ".copying").write_bytes(b"%PDF-1.7 half of it")
    (copying / ".copying").write_bytes(b"%PDF-1.7 being copied")
    held = os.open(copying, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        rig.engine.sweep_temp_files()
        assert not killed.exists()
        assert just_made.is_dir() and (copying / ".copying").exists()
    finally:
        os.close(held)


@pytest.mark.parametrize(
    ("named", "on_disk"),
    [(unicodedata.normalize("NFC", "Fichiers-é"), unicodedata.normalize("NFD", "Fichiers-é")), ("art", "Art")],
    ids=["nfd", "case"],
)
def test_an_artwork_folder_named_alike_is_not_guessed_and_renamed_it_is_taken(
    rig: Rig, named: str, on_disk: str
) -> None:
    """Review FT 1: a folder drop's manifest naming "Fichiers-é/front.pdf", the folder from a Mac
    with the accent as a character of its own (or "art/" of an "Art/" folder): the job waited for a
    folder never there. Taking the folder named alike was tried and undone (reviews FV 1, FX 1-3: it
    printed another order's PDF, or a stale file while the right one came): the job waits for the
    path as named, and the folder renamed so, its file is taken."""
    r = rig
    drop = r.tmp / "R1"
    (drop / on_disk).mkdir(parents=True)
    make_pdf(drop / on_disk / "front.pdf", pages=CARD)
    (drop / "manifest.yaml").write_text(
        f'order_id: "R1"\nproduct: bc-85x55\nquantity: 1\nartwork: ["{named}/front.pdf"]\n'
    )
    os.replace(drop, r.inbox / "R1")
    r.run(until=lambda: r.stage("R1-1") is Stage.AWAITING, steps=10)
    r.run(steps=12)
    assert r.stage("R1-1") is Stage.AWAITING and not os.listdir(r.hot)
    os.replace(r.inbox / "R1" / on_disk, r.inbox / "R1" / named)
    r.run(until=done(r, "R1-1"), steps=20)
    assert r.take_prints() == ["R1_R1-1_bc-85x55_x1.pdf"]


def test_another_orders_folder_named_alike_is_never_taken_for_an_awaited_one(rig: Rig) -> None:
    """Review FV 1 (critical, of FT 1's mend): order A (at the top of inbox/) waiting for
    "Art/a.pdf"; order B's folder drop "art/" came with its a.pdf before its manifest: A's path was
    moved to "art/" and B's PDF printed for A, B failed, A's own file refused when it came. A folder
    at the top of inbox/ is never taken for another so named (only folders inside a folder drop
    are, which are its order's), and a file nobody waits for moves no job's path."""
    r = rig
    (r.inbox / "A.yaml").write_text('order_id: "A"\nproduct: bc-85x55\nquantity: 1\nartwork: ["Art/a.pdf"]\n')
    r.run(until=lambda: r.stage("A-1") is Stage.AWAITING, steps=10)
    (r.inbox / "art").mkdir()
    make_pdf(r.inbox / "art" / "a.pdf", pages=CARD, content=b"% order B\n")
    (r.inbox / "art" / "notes.txt").write_text("for B")
    r.run(steps=4)
    (r.inbox / "art" / "manifest.yaml").write_text('order_id: "B"\nproduct: bc-85x55\nquantity: 1\nartwork: [a.pdf]\n')
    r.run(until=done(r, "B-1"), steps=20)
    (r.inbox / "Art").mkdir()
    make_pdf(r.inbox / "Art" / "a.pdf", pages=CARD, content=b"% order A\n")
    r.run(until=done(r, "A-1"), steps=30)
    printed = {name: (r.hot / name).read_bytes() for name in os.listdir(r.hot)}
    assert sorted(printed) == ["A_A-1_bc-85x55_x1.pdf", "B_B-1_bc-85x55_x1.pdf"]
    assert b"% order A" in printed["A_A-1_bc-85x55_x1.pdf"] and b"% order B" in printed["B_B-1_bc-85x55_x1.pdf"]


def test_a_file_named_alike_is_taken_within_a_short_artwork_timeout(tmp_path: Path) -> None:
    """Review FT 2: with watch.artwork_timeout_seconds under 10 s, a file whose name differs only in
    letter case ("Front.PDF" for "front.pdf") was to be taken 10 s later: the job failed "artwork
    missing" first, and the file's ERROR.txt said another file was named alike ("which one is meant
    was not guessed"), where there was none."""
    for r in rig_on(tmp_path, watch={"artwork_timeout_seconds": 8}):
        make_pdf(r.inbox / "Front.PDF", pages=CARD)
        r.run(steps=2)
        (r.inbox / "FT.yaml").write_text('order_id: "FT"\nproduct: bc-85x55\nquantity: 1\nartwork: [front.pdf]\n')
        r.run(until=done(r, "FT-1"), steps=20)
        assert "ValidationFailed" not in r.statuses("FT-1")
        assert r.take_prints() == ["FT_FT-1_bc-85x55_x1.pdf"]


def test_a_finished_jobs_status_says_where_it_went_not_where_the_routes_of_now_send_it(rig: Rig) -> None:
    """Review FP 1: a job delivered to indigo, then a reload that routes its product elsewhere, then
    STATUS.txt written again (a quick restart, a STATUS.txt deleted): "Went to: hot folder large";
    a job skipped, then routed to a printer: "Went to" that printer, for a job never printed."""
    r = rig
    printed, skipped = r.order("WT"), r.order("WS", product="flyer-a5")
    r.run(until=lambda: r.stage(printed) is Stage.DONE and r.stage(skipped) is Stage.DONE, steps=20)
    r.write_routes([{"to": "large"}])
    r.engine.set_config(load_config(r.config_path))
    r.run(steps=2)
    for job_id, went in ((printed, "Went to: hot folder indigo"), (skipped, "Went to: no hot folder (skipped)")):
        status = r.root / "done" / job_id / "STATUS.txt"
        status.unlink()
        r.engine._write_status_now(job_id)
        text = status.read_text()
        assert went in text and "large" not in text, text


def test_reprint_true_for_a_job_not_finished_is_said_to_change_nothing(rig: Rig) -> None:
    """Audit AT: `reprint: true` in the manifest of a blocked job acts as a new version of it (its
    artwork replaces the job's), and nothing said that the flag had no effect."""
    r = rig
    job_id, _folder = _held(r, "RP")
    make_pdf(r.inbox / "RP-v2.pdf", pages=CARD)
    (r.inbox / "RP.yaml").write_text(
        'order_id: "RP"\nreprint: true\nblocked: true\nproduct: bc-85x55\nquantity: 1\nartwork: [RP-v2.pdf]\n'
    )
    r.run(until=lambda: "ArtworkUploaded" in r.statuses(job_id) and r.stage(job_id) is Stage.HELD, steps=20)
    uploaded = next(e for e in r.job(job_id).history if e.status is JobStatus.ArtworkUploaded)
    assert uploaded.detail == (
        "new manifest RP.yaml (artwork RP.pdf -> RP-v2.pdf); its reprint: true changes nothing for a job not finished"
    )
    assert r.take_prints() == []


def test_a_missing_file_given_by_replace_while_others_are_still_missing_leaves_the_job_awaiting_data(
    rig: Rig,
) -> None:
    """Audit AY D2: one of a waiting job's two missing files given by `replace`: the job said
    RecreationRequested (not AwaitingData: `jobs --status AwaitingData` left it out), and its history
    "p2.pdf replaced by p2.pdf" for a file that had never come."""
    r = rig
    make_pdf(r.inbox / "p1.pdf", pages=[(91.0, 61.0)])
    (r.inbox / "AY.yaml").write_text(
        'order_id: "AY"\nproduct: poster-a1\nquantity: 1\nartwork: [p1.pdf, p2.pdf, p3.pdf]\n'
    )
    r.run(until=lambda: r.ledger.get_job("AY-1") is not None and "AwaitingData" in r.statuses("AY-1"), steps=10)
    make_pdf(r.tmp / "p2.pdf", pages=[(91.0, 61.0)])
    answer = r.engine.apply("AY-1", Action.REPLACE, by="erin", note="", file=r.tmp / "p2.pdf")
    assert "artwork p2.pdf given by erin" in str(answer) and "not yet: p3.pdf" in str(answer), answer
    job = r.job("AY-1")
    assert job.status is JobStatus.AwaitingData and r.stage("AY-1") is Stage.AWAITING
    assert job.history[-1].detail == "waiting for p3.pdf"
    uploaded = job.history[-2]
    assert uploaded.status is JobStatus.ArtworkUploaded and uploaded.by == "erin"
    assert uploaded.detail.startswith("p2.pdf given as p2.pdf (sha256 ") and uploaded.detail.endswith(
        "); it had not arrived"
    )
    make_pdf(r.inbox / "p3.pdf", pages=[(91.0, 61.0)])
    r.run(until=done(r, "AY-1"), steps=20)
    assert r.job("AY-1").status is JobStatus.InHotFolder


def test_a_new_manifest_that_changes_the_artwork_list_says_so(rig: Rig) -> None:
    """Audit AY: a blocked job's manifest sent again with one file left out and the others in another
    order: the history said only "new manifest ...", not that the pages' files changed."""
    r = rig
    for name in ("a.pdf", "mid.pdf", "b.pdf"):
        make_pdf(r.inbox / name, pages=[(91.0, 61.0)])
    (r.inbox / "AL.yaml").write_text(
        'order_id: "AL"\nblocked: true\nproduct: poster-a1\nquantity: 1\nartwork: [a.pdf, mid.pdf, b.pdf]\n'
    )
    r.run(until=lambda: r.ledger.get_job("AL-1") is not None and r.stage("AL-1") is Stage.HELD, steps=20)
    for name in ("a.pdf", "b.pdf"):
        make_pdf(r.inbox / name, pages=[(91.0, 61.0)])
    (r.inbox / "AL.yaml").write_text(
        'order_id: "AL"\nblocked: true\nproduct: poster-a1\nquantity: 1\nartwork: [b.pdf, a.pdf]\n'
    )
    r.run(until=lambda: "ArtworkUploaded" in r.statuses("AL-1") and r.stage("AL-1") is Stage.HELD, steps=20)
    uploaded = next(e for e in r.job("AL-1").history if e.status is JobStatus.ArtworkUploaded)
    assert uploaded.detail == "new manifest AL.yaml (artwork a.pdf, mid.pdf, b.pdf -> b.pdf, a.pdf)", uploaded.detail


def _awaits_shared(r: Rig, order_id: str, name: str = "shared.pdf") -> str:
    """Order ``order_id``'s job, waiting for ``name`` at the top of inbox/ since 15 s."""
    (r.inbox / f"{order_id}.yaml").write_text(
        f'order_id: "{order_id}"\nproduct: bc-85x55\nquantity: 1\nartwork: [{name}]\n'
    )
    job_id = f"{order_id}-1"
    r.run(until=lambda: r.ledger.get_job(job_id) is not None and r.stage(job_id) is Stage.AWAITING, steps=10)
    r.run(steps=15, dt=1)
    return job_id


def _sent(r: Rig, name: str, text: str | None = None, *, hint: bool = True) -> None:
    """``name`` renamed into the top of inbox/: a manifest of ``text``, else a card PDF."""
    if text is None:
        make_pdf(r.tmp / name, pages=CARD)
    else:
        (r.tmp / name).write_text(text)
    os.replace(r.tmp / name, r.inbox / name)
    if hint:
        r.engine.hint(r.inbox / name, moved_in=True)


_B_TYPO = (
    'order_id: "B9"\njobs:\n  - job_id: "B9-1"\n    typo: 1\n    product: bc-85x55\n    quantity: 1\n'
    "    artwork: [shared.pdf]\n"
)


@pytest.mark.parametrize(
    "when", ["a restart after the refusal", "both there at a start", "a poller's late look", "a delivered order's copy"]
)
def test_a_file_that_came_with_another_orders_refused_manifest_is_set_aside_in_every_path(rig: Rig, when: str) -> None:
    """Audit AX D1: the refused-rival rule (AT D2) was missed after a kill -9 just after the
    refusal (kept in memory only), with both files there at a start, and where the refused manifest
    came into sight after the file's moment (a poller's next look): the waiting job printed the
    other order's PDF."""
    r = rig
    job_id = _awaits_shared(r, "A7")
    if when == "a restart after the refusal":
        _sent(r, "shared.pdf")
        _sent(r, "B9.yaml", _B_TYPO)
        r.run(until=lambda: (r.root / "failed" / "B9.yaml" / "ERROR.txt").is_file(), steps=3, dt=0.1)
        r.start()  # (killed before the file's moment came)
    elif when == "both there at a start":
        _sent(r, "shared.pdf", hint=False)
        _sent(r, "B9.yaml", _B_TYPO, hint=False)
        r.clock.advance(5)
        r.start()
    elif when == "a poller's late look":
        r.engine.polling_watch = lambda: True
        _sent(r, "shared.pdf")
        r.run(steps=3, dt=1)
        _sent(r, "B9.yaml", _B_TYPO)  # (first seen by the poller 3 s after the file)
    else:
        # B9's order delivered before, its manifest sent again without reprint (it waited 2 s for a
        # reprint twin before its refusal, and the waiting job took the file meanwhile).
        r.run(until=done(r, r.order("B9")), steps=10)
        r.take_prints()
        r.run(steps=15, dt=1)
        _sent(r, "shared.pdf")
        r.run(steps=1, dt=1)
        _sent(r, "B9.yaml", 'order_id: "B9"\nproduct: bc-85x55\nquantity: 1\nartwork: [shared.pdf]\n')
    aside = r.root / "failed" / "shared.pdf"
    r.run(until=(aside / "ERROR.txt").is_file, steps=30, dt=0.5)
    r.run(steps=5)
    assert r.take_prints() == [] and r.stage(job_id) is Stage.AWAITING
    assert "the manifest in failed/B9.yaml/ names it too" in " ".join((aside / "ERROR.txt").read_text().split())


def test_the_waiting_job_s_own_order_s_refused_manifest_does_not_set_its_file_aside(rig: Rig) -> None:
    """Audit AX D2: order A's manifest sent again with a mistake, with A's file: the file was set
    aside as if of another order ("which order's it is could not be told"), A left waiting."""
    r = rig
    job_id = _awaits_shared(r, "A8")
    _sent(r, "shared.pdf")
    _sent(r, "A8-again.yaml", _B_TYPO.replace("B9", "A8"))
    r.run(until=done(r, job_id), steps=30, dt=0.5)
    assert not (r.root / "failed" / "shared.pdf").exists()


def test_a_manifest_come_just_before_a_held_file_is_given_is_read_first(rig: Rig) -> None:
    """Audit BA D3: order W waited for artwork.pdf; order N sent its artwork.pdf, then its manifest
    2.5 s later, which came in during the round in which the held file's moment ended: the file
    went to W (W printed N's PDF), N's manifest read 13 ms after."""
    r = rig
    _awaits_shared(r, "W", "artwork.pdf")
    _sent(r, "artwork.pdf")
    r.run(steps=2, dt=1)
    r.clock.advance(1.0)  # (the held file's moment is over)
    _sent(r, "N.yaml", 'order_id: "N"\nproduct: bc-85x55\nquantity: 1\nartwork: [artwork.pdf]\n')
    r.engine._hand_over_held()  # (within the round: before the step reads the hints)
    r.run(steps=5)
    assert r.take_prints() == []
    assert (r.root / "failed" / "artwork.pdf" / "artwork.pdf").is_file()
    assert r.stage("W-1") is Stage.AWAITING and r.stage("N-1") is Stage.AWAITING


def test_a_held_file_waits_for_a_manifest_still_settling_in_the_inbox(rig: Rig) -> None:
    """Audit BA D3 in the daemon: order N's manifest, come 2.5 s after its PDF while order W
    waited for a file of that name, was still settling when the PDF's moment ended: W took and
    printed N's PDF, N's manifest read half a second later."""
    r = rig
    _awaits_shared(r, "W", "artwork.pdf")
    _sent(r, "artwork.pdf")
    r.run(steps=24, dt=0.1)
    (r.inbox / "N.yaml").write_text('order_id: "N"\nproduct: bc-85x55\nquantity: 1\nartwork: [artwork.pdf]\n')
    r.engine.hint(r.inbox / "N.yaml")  # (written in place: it settles first)
    r.run(until=(r.root / "failed" / "artwork.pdf" / "ERROR.txt").is_file, steps=40, dt=0.1)
    r.run(steps=5)
    assert r.take_prints() == []
    assert r.stage("W-1") is Stage.AWAITING and r.stage("N-1") is Stage.AWAITING


def _shared_manifest(order_id: str, extra: str = "") -> str:
    return f'order_id: "{order_id}"\nproduct: bc-85x55\nquantity: 1\nartwork:\n  - path: artwork.pdf\n{extra}'


@pytest.mark.parametrize("how", ["renamed over it", "written over it", "written over it once complete"])
def test_an_upload_that_replaced_another_orders_file_of_that_name_is_not_taken_for_that_order(
    rig: Rig, how: str
) -> None:
    """Audit BA D1: order P1's manifest, then its artwork.pdf; order P2's artwork.pdf a moment later
    (replacing P1's, not taken yet: P1's manifest was still settling), then P2's manifest: P1 took
    and printed P2's PDF, and P2 waited for a file that had gone. Neither can be told from the
    times: the file is set aside, its ERROR.txt saying what it replaced."""
    r = rig
    (r.inbox / "P1.yaml").write_text(_shared_manifest("P1"))
    r.engine.hint(r.inbox / "P1.yaml")  # (written in place: it settles first)
    if how == "written over it":
        make_pdf(r.inbox / "artwork.pdf", pages=CARD)
        r.engine.hint(r.inbox / "artwork.pdf")
    else:
        _sent(r, "artwork.pdf")
    r.run(steps=2, dt=0.1)
    if how == "renamed over it":
        _sent(r, "artwork.pdf")
    else:
        if how == "written over it once complete":
            r.run(steps=1, dt=0.2)
        # (P2's, as long as P1's: one upload going on, to the tracker, where it was not complete)
        make_pdf(r.inbox / "artwork.pdf", pages=[(91.0, 61.0), (91.5, 61.0)])
        r.engine.hint(r.inbox / "artwork.pdf")
        r.run(steps=1, dt=0.1)  # (P2's manifest still settling when the file is complete)
    (r.inbox / "P2.yaml").write_text(_shared_manifest("P2"))
    r.engine.hint(r.inbox / "P2.yaml")
    aside = r.root / "failed" / "artwork.pdf"
    r.run(until=(aside / "ERROR.txt").is_file, steps=60, dt=0.1)
    r.run(steps=5)
    assert r.take_prints() == []
    assert r.stage("P1-1") is Stage.AWAITING and r.stage("P2-1") is Stage.AWAITING
    if how != "written over it":  # (one upload going on, as far as anyone can tell)
        assert "it came over another file of that name" in (aside / "ERROR.txt").read_text()


def test_a_file_replaced_before_it_was_taken_waits_for_a_manifest_come_a_second_later(rig: Rig) -> None:
    """Audit BA D1, the next order's manifest a second after its PDF (which replaced the waiting
    order's, not taken yet): the waiting job took the new file at once, as its own."""
    r = rig
    (r.inbox / "P1.yaml").write_text(_shared_manifest("P1"))
    r.engine.hint(r.inbox / "P1.yaml")
    _sent(r, "artwork.pdf")
    r.run(steps=2, dt=0.1)
    _sent(r, "artwork.pdf")  # (P2's)
    r.run(steps=10, dt=0.1)
    assert r.stage("P1-1") is Stage.AWAITING  # (P1's manifest read meanwhile)
    _sent(r, "P2.yaml", _shared_manifest("P2"))
    r.run(until=(r.root / "failed" / "artwork.pdf" / "ERROR.txt").is_file, steps=30, dt=0.1)
    assert r.stage("P1-1") is Stage.AWAITING and r.stage("P2-1") is Stage.AWAITING


def test_a_file_sent_again_by_its_own_order_before_it_was_taken_is_taken_after_a_moment(rig: Rig) -> None:
    """The rule above costs a re-sent upload of the one order waiting only the moment in which
    another order's manifest may still name it."""
    r = rig
    (r.inbox / "P1.yaml").write_text(_shared_manifest("P1"))
    r.engine.hint(r.inbox / "P1.yaml")
    _sent(r, "artwork.pdf")
    r.run(steps=2, dt=0.1)
    _sent(r, "artwork.pdf")
    r.run(until=done(r, "P1-1"), steps=60, dt=0.1)
    assert len(r.take_prints()) == 1


def test_a_file_whose_sha256_is_the_next_orders_goes_to_it_and_the_waiting_job_is_told(rig: Rig) -> None:
    """Audit BA D1 with a sha256 in each manifest: the next order took its file (right), and the
    order whose upload it had replaced stayed "Ordered", not told why."""
    r = rig
    make_pdf(r.tmp / "p2.pdf", pages=[(91.0, 61.0), (91.5, 61.0)])  # (not P1's bytes)
    digest = hashlib.sha256((r.tmp / "p2.pdf").read_bytes()).hexdigest()
    (r.inbox / "P1.yaml").write_text(_shared_manifest("P1", f'    sha256: "{"0" * 64}"\n'))
    r.engine.hint(r.inbox / "P1.yaml")
    _sent(r, "artwork.pdf")
    r.run(steps=2, dt=0.1)
    os.replace(r.tmp / "p2.pdf", r.inbox / "artwork.pdf")
    r.engine.hint(r.inbox / "artwork.pdf", moved_in=True)
    _sent(r, "P2.yaml", _shared_manifest("P2", f'    sha256: "{digest}"\n'))
    r.run(until=done(r, "P2-1"), steps=60, dt=0.1)
    assert r.stage("P1-1") is Stage.AWAITING
    assert r.job("P1-1").status is JobStatus.AwaitingData
    status = " ".join((r.root / "work" / "P1-1" / "STATUS.txt").read_text().split())
    assert "was taken by job P2-1 (order P2): its sha256 is the one that order's manifest gives" in status


def test_a_hot_folder_mounted_at_the_start_and_gone_before_its_first_delivery_is_not_delivered_into(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BG D1: the daemon started with the printer's share mounted on the hot folder; the
    share was unmounted before the first delivery there, which went into its empty mount point:
    InHotFolder, never printed (the folder was known as a mount point from a delivery only)."""
    # (the mount table read at the start lists it; it is unmounted since: a local folder)
    _refused_as_unmounted(rig, monkeypatch, rig.hot, "MP")


def _refused_as_unmounted(r: Rig, monkeypatch: pytest.MonkeyPatch, mounted: Path, order: str) -> None:
    """The mount table lists a share at ``mounted`` as the daemon starts; the share is gone since:
    a delivery there is refused as not mounted, nothing printed."""
    monkeypatch.setattr(
        engine_module, "mount_table", lambda: [Mount("/", "ext4", "254:0"), Mount(str(mounted), "cifs", "0:50")]
    )
    r.start()
    job_id = r.order(order)
    r.run(until=lambda: r.stage(job_id) is not None and "CopyToHotFolderFailed" in r.statuses(job_id), steps=10)
    assert r.take_prints() == [] and r.stage(job_id) is not Stage.DONE
    failed = next(e for e in r.job(job_id).history if e.status is JobStatus.CopyToHotFolderFailed)
    assert "is not mounted: it was seen as the mount point of a share" in failed.detail


def test_a_hot_folder_whose_parent_was_a_share_mounted_at_the_start_is_not_delivered_into_once_it_is_gone(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review GZ 1: the share mounted on the hot folder's parent (fstab's //rip/hotfolders on
    /mnt/indigo, the hot folder /mnt/indigo/in, as README shows), unmounted: the local folder of
    that path it uncovered got the job, InHotFolder, never printed."""
    r = rig
    share = r.hot.parent
    monkeypatch.setattr(
        engine_module, "mount_table", lambda: [Mount("/", "ext4", "254:0"), Mount(str(share), "cifs", "0:50")]
    )
    r.start()  # (the mount table read at the start lists the share; it is unmounted since)
    job_id = r.order("MQ")
    r.run(until=lambda: r.stage(job_id) is not None and "CopyToHotFolderFailed" in r.statuses(job_id), steps=10)
    assert r.take_prints() == [] and r.stage(job_id) is not Stage.DONE
    failed = next(e for e in r.job(job_id).history if e.status is JobStatus.CopyToHotFolderFailed)
    assert f"is not mounted: the share mounted at {share}, which holds it, was seen mounted" in failed.detail


def test_a_hot_folder_named_by_a_link_to_a_mount_point_gone_before_its_first_delivery_is_not_delivered_into(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit CS 3: the config names the hot folder through a symbolic link to the share's mount
    point; the mount table lists the mount point, not the link, so the start did not note it as
    mounted, and a share unmounted before the first delivery had it made into the empty folder."""
    r = rig
    mount = r.tmp / "mnt" / "indigo"
    mount.mkdir(parents=True)
    link = r.tmp / "printers" / "indigo"
    link.parent.mkdir()
    link.symlink_to(mount)
    _repoint(r, link)
    _refused_as_unmounted(r, monkeypatch, mount, "ML")  # (the table lists the link's target)


def test_a_hot_folder_bound_onto_itself_as_systemd_does_is_delivered_into(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit DC 1: under systemd, ReadWritePaths= binds each hot folder onto itself: the mount
    table lists it as a mount point, of its parent's own file system. It was noted as a share's
    mount point and each delivery refused as "not mounted": no job printed under the service."""
    r = rig
    device = "254:0"
    monkeypatch.setattr(
        engine_module,
        "mount_table",
        lambda: [Mount("/", "ext4", device), Mount(str(r.hot), "ext4", device, root=str(r.hot))],
    )
    r.start()
    job_id = r.order("BM")
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["BM_BM-1_bc-85x55_x1.pdf"]
    assert "CopyToHotFolderFailed" not in r.statuses(job_id)


def test_a_job_whose_file_the_manifest_read_before_took_is_told_so_at_once(rig: Rig) -> None:
    """Audit BF D1: a file in the inbox, two orders' manifests naming it: the first read takes it
    (README), and the other job's STATUS.txt said nothing of it for an hour, until it failed."""
    r = rig
    _sent(r, "shared41.pdf")
    r.run(steps=3, dt=1)
    for order in ("A41", "B41"):
        # (B41's found by the next look, not by an event: read after A41, which took the file)
        text = f'order_id: "{order}"\nproduct: bc-85x55\nquantity: 1\nartwork: [shared41.pdf]\n'
        _sent(r, f"{order}.yaml", text, hint=order == "A41")
    r.engine.step()  # (no look at the inbox asked for: B41's manifest not in sight yet)
    assert r.stage("A41-1") is not None and r.stage("B41-1") is None
    r.run(until=lambda: r.stage("B41-1") is Stage.AWAITING and r.stage("A41-1") is Stage.DONE, steps=10, dt=0.2)
    assert r.job("B41-1").status is JobStatus.AwaitingData
    said = " ".join((r.root / "work" / "B41-1" / "STATUS.txt").read_text().split())
    assert "A file named shared41.pdf came into inbox/ and was taken by job A41-1 (order A41): its manifest" in said
    assert r.statuses("B41-1").count("AwaitingData") == 1
    # An order come after that one was read (a storefront's next order, its PDF on its way): no word.
    _sent(r, "C41.yaml", 'order_id: "C41"\nproduct: bc-85x55\nquantity: 1\nartwork: [shared41.pdf]\n')
    r.run(until=lambda: r.stage("C41-1") is Stage.AWAITING, steps=10, dt=0.2)
    assert "was taken by job" not in (r.root / "work" / "C41-1" / "STATUS.txt").read_text()


def test_two_manifests_in_sight_together_naming_a_file_already_there_leave_it_to_the_operator(rig: Rig) -> None:
    """A file in the inbox before two orders' manifests that both name it, both seen coming: the
    times name neither order (the file came before both), so neither takes it (README): before,
    the first read took it, a guess."""
    r = rig
    _sent(r, "shared42.pdf")
    r.run(steps=3, dt=1)
    for order in ("A42", "B42"):
        _sent(r, f"{order}.yaml", f'order_id: "{order}"\nproduct: bc-85x55\nquantity: 1\nartwork: [shared42.pdf]\n')
    r.run(until=(r.root / "failed" / "shared42.pdf" / "ERROR.txt").is_file, steps=10, dt=0.2)
    assert r.take_prints() == []
    error = " ".join((r.root / "failed" / "shared42.pdf" / "ERROR.txt").read_text().split())
    until = r.job("A42-1").awaiting_until
    assert "job A42-1 (order A42) waits for shared42.pdf; its manifest came at" in error
    assert f"; it waits until {until}, then fails as missing its artwork" in error, error
    assert r.stage("A42-1") is Stage.AWAITING and r.stage("B42-1") is Stage.AWAITING


def test_the_same_manifest_again_while_the_jobs_second_pdf_is_still_coming_changes_nothing(rig: Rig) -> None:
    """Audit BD D1: an order's manifest, then the same bytes again (a webhook's retry), while the
    job's second PDF was still being written: the copy was taken as new artwork, the first PDF put
    into history/, and the job waited for it for ever (AwaitingData, nothing printed)."""
    r = rig
    make_pdf(r.inbox / "R1-front.pdf", pages=[(91.0, 61.0)])
    r.run(steps=3, dt=1)
    make_pdf(r.tmp / "back.pdf", pages=[(91.0, 61.0)])
    whole = (r.tmp / "back.pdf").read_bytes()
    (r.inbox / "R1-back.pdf").write_bytes(whole[: len(whole) // 2])  # (still being written)
    r.engine.hint(r.inbox / "R1-back.pdf")
    text = 'order_id: "R1"\nproduct: bc-85x55\nquantity: 1\nartwork: [R1-front.pdf, R1-back.pdf]\n'
    _sent(r, "R1.yaml", text)
    r.run(steps=2, dt=0.1)
    assert r.stage("R1-1") is Stage.AWAITING
    _sent(r, "R1-again.yaml", text)
    r.run(steps=2, dt=0.1)
    (r.inbox / "R1-back.pdf").write_bytes(whole)
    r.engine.hint(r.inbox / "R1-back.pdf")
    r.run(until=done(r, "R1-1"), steps=20, dt=0.2)
    assert len(r.take_prints()) == 1
    assert not any("R1-again" in e.detail for e in r.job("R1-1").history)


def test_a_delivered_jobs_manifest_sent_again_unchanged_is_said_to_need_nothing(rig: Rig) -> None:
    """Audit BD R1: a webhook's retry of a manifest whose order had printed, as ordered, was refused
    with only "to print it again, send the manifest with reprint: true": advice that prints it twice."""
    r = rig
    job_id = r.order("DU")
    text = (r.inbox / "DU.yaml").read_text()
    r.run(until=done(r, job_id), steps=10)
    for name, sent in (("DU-again.yaml", text), ("DU-more.yaml", text.replace("quantity: 1", "quantity: 2"))):
        _sent(r, name, sent)
        r.run(until=(r.root / "failed" / name / "ERROR.txt").is_file, steps=10)
        error = " ".join((r.root / "failed" / name / "ERROR.txt").read_text().split())
        said = "This manifest says the same as the one the job was made from (a retry or a double upload?)"
        assert (said in error) == (name == "DU-again.yaml"), error
        assert "To print it again, send the manifest with reprint: true" in error
    assert len(r.take_prints()) == 1


def test_a_job_whose_file_is_there_only_under_several_names_alike_is_told_at_once(rig: Rig) -> None:
    """Audit BF R5: card5.pdf and CARD5.pdf in the inbox for a manifest naming Card5.pdf: neither is
    taken (which one is meant is not guessed), and STATUS.txt said only "not arrived yet" for an hour."""
    r = rig
    make_pdf(r.inbox / "card5.pdf", pages=CARD)
    make_pdf(r.inbox / "CARD5.pdf", pages=CARD)
    r.run(steps=2, dt=1)
    _sent(r, "N5.yaml", 'order_id: "N5"\nproduct: bc-85x55\nquantity: 1\nartwork: [Card5.pdf]\n')
    r.run(until=lambda: r.stage("N5-1") is Stage.AWAITING, steps=10, dt=0.2)
    said = " ".join((r.root / "work" / "N5-1" / "STATUS.txt").read_text().split())
    assert (
        "Card5.pdf is not in the inbox, but files whose names differ from it only in letter case or Unicode form "
        "are ('CARD5.pdf', 'card5.pdf'): which one is meant is not guessed" in said
    ), said
    r.run(steps=15, dt=1)
    assert r.take_prints() == [] and r.stage("N5-1") is Stage.AWAITING


def test_a_manifest_copy_held_a_moment_for_artwork_is_filed_before_its_job_is_delivered(rig: Rig) -> None:
    """Audit BI D1: a webhook's retry of the manifest, renamed in while the job's PDF was still
    settling, was held a moment (for artwork that may follow it), the job delivered meanwhile, and
    the copy then refused as "already delivered": README says the job waits for it."""
    r = rig
    make_pdf(r.inbox / "T0.pdf", pages=CARD)
    r.engine.hint(r.inbox / "T0.pdf")  # (written in place: it settles)
    text = '{"order_id": "T0", "product": "bc-85x55", "quantity": 1, "artwork": ["T0.pdf"]}\n'
    _sent(r, "T0.json", text)
    r.run(steps=1, dt=0.1)
    _sent(r, "T0-dup.json", text)
    r.run(until=done(r, "T0-1"), steps=40, dt=0.1)
    assert not (r.root / "failed").exists() or os.listdir(r.root / "failed") == []
    assert any(n.endswith("T0-dup.json") for n in _history_names(r.root / "done" / "T0-1"))
    assert len(r.take_prints()) == 1


def test_a_refused_manifest_that_brings_other_artwork_is_not_called_a_retry(rig: Rig) -> None:
    """Audit BI D2: a delivered order's folder sent again with the same manifest text and a
    corrected PDF: its ERROR.txt called it "a retry or a double upload" and told the operator to
    remove the folder, the customer's corrected artwork in it."""
    r = rig
    text = 'order_id: "Q1"\nproduct: bc-85x55\nquantity: 1\nartwork: [art.pdf]\n'
    for folder, content in (("Q1-first", b""), ("Q1-again", b""), ("Q1-corrected", b"% corrected\n")):
        (r.tmp / folder).mkdir()
        make_pdf(r.tmp / folder / "art.pdf", pages=CARD, content=content)
        (r.tmp / folder / "manifest.yaml").write_text(text)
        os.replace(r.tmp / folder, r.inbox / folder)
        r.engine.hint(r.inbox / folder, moved_in=True)
        if folder == "Q1-first":
            r.run(until=done(r, "Q1-1"), steps=20, dt=0.2)
            continue
        r.run(until=(r.root / "failed" / folder / "ERROR.txt").is_file, steps=30, dt=0.2)
        error = " ".join((r.root / "failed" / folder / "ERROR.txt").read_text().split())
        assert ("(a retry or a double upload?)" in error) == (folder == "Q1-again"), error
        said = "The artwork it brings (art.pdf) is not what the job was made from: it was not printed."
        assert (said in error) == (folder == "Q1-corrected"), error
    assert len(r.take_prints()) == 1


def test_two_orders_sent_while_the_daemon_was_stopped_sharing_a_file_name_leave_it_to_the_operator(
    rig: Rig,
) -> None:
    """Audit BH D1: orders A and B sent while the daemon was stopped, each a PDF named artwork.pdf
    then its manifest, B's PDF renamed over A's: at the start the first manifest read took B's PDF
    and printed it as A's (both manifests were in the inbox: README sets such a file aside)."""
    r = rig
    for order in ("A", "B"):
        _sent(r, "artwork.pdf", hint=False)
        _sent(r, f"{order}.yaml", _shared_manifest(order), hint=False)
    r.start()
    r.run(until=(r.root / "failed" / "artwork.pdf" / "ERROR.txt").is_file, steps=20, dt=0.2)
    r.run(steps=5)
    assert r.take_prints() == []
    assert r.stage("A-1") is Stage.AWAITING and r.stage("B-1") is Stage.AWAITING
    # Audit BJ: the job read first kept a second name of the set-aside file (its check begun
    # early, at its intake), which it took for its own at the next start and printed.
    assert not (r.root / "work" / "A-1" / "artwork" / "artwork.pdf").exists()
    r.start()
    r.run(steps=5)
    assert r.take_prints() == []
    assert r.stage("A-1") is Stage.AWAITING and r.stage("B-1") is Stage.AWAITING


def test_a_pdf_sent_just_before_its_manifest_is_not_taken_at_once_by_an_order_waiting_seconds(rig: Rig) -> None:
    """Audit BH D2: order W waited for artwork.pdf (its manifest 6 s before); order C sent its
    artwork.pdf, then its manifest 0.05 s later: W took C's PDF at once (its manifest had come
    within 10 s before the file) and printed it. "At once" is for a manifest then its PDF at once."""
    r = rig
    _sent(r, "W.yaml", _shared_manifest("W"))
    r.run(until=lambda: r.stage("W-1") is Stage.AWAITING, steps=5, dt=0.2)
    r.run(steps=6, dt=1)
    _sent(r, "artwork.pdf")
    r.engine.step()  # (the file alone in this round)
    r.clock.advance(0.05)
    _sent(r, "C.yaml", _shared_manifest("C"))
    r.run(until=(r.root / "failed" / "artwork.pdf" / "ERROR.txt").is_file, steps=30, dt=0.2)
    assert r.take_prints() == []
    assert r.stage("W-1") is Stage.AWAITING and r.stage("C-1") is Stage.AWAITING


def test_the_log_says_how_a_file_not_taken_yet_changed(rig: Rig) -> None:
    """Audit BL R3: the rest of an appending writer's PDF (written to again after it had settled,
    no job having taken it) was logged as "another file of this name came over the one there"."""
    r = rig
    make_pdf(r.inbox / "AA.pdf", pages=CARD)
    r.run(until=lambda: r.inbox / "AA.pdf" in r.engine._orphans, steps=10, dt=0.5)
    with capture_logs() as logs:
        with (r.inbox / "AA.pdf").open("ab") as f:
            f.write(b"\n% more\n")
        r.engine.hint(r.inbox / "AA.pdf")
        r.engine.step()
        make_pdf(r.root / "other.pdf", pages=CARD)
        os.replace(r.root / "other.pdf", r.inbox / "AA.pdf")
        r.engine.hint(r.inbox / "AA.pdf", moved_in=True)
        r.engine.step()
    said = [e["reason"] for e in logs if e["event"] == "artwork.replaced_before_taken"]
    assert len(said) == 2, logs
    assert said[0].startswith("the file there was written to again after it had settled"), said
    assert said[1].startswith("another file of this name came over the one there"), said


def test_a_named_pipe_set_aside_in_failed_does_not_hang_the_next_start(rig: Rig) -> None:
    """Audit BN D1: a named pipe `pipe.json` put into inbox/ was set aside into failed/pipe.json/
    (rightly); at the next start the daemon opened it, as a refused manifest to remember, and
    waited for a writer for ever: no order taken, `health` ok for ten minutes."""
    r = rig
    os.mkfifo(r.inbox / "pipe.json")
    r.run(until=(r.root / "failed" / "pipe.json" / "ERROR.txt").is_file, steps=20, dt=0.5)
    fifo = r.root / "failed" / "pipe.json" / "pipe.json"
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    started = threading.Thread(target=r.start, daemon=True)
    started.start()
    started.join(20)
    if started.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # (its reader let go)
        started.join(5)
        pytest.fail("the start waited on the named pipe in failed/")
    r.order("FP")
    r.run(until=done(r, "FP-1"), steps=20, dt=0.5)
    assert r.take_prints() == ["FP_FP-1_bc-85x55_x1.pdf"]


def test_a_manifest_name_not_utf8_taken_in_while_a_job_is_made_goes_to_failed(rig: Rig) -> None:
    """Audit BN D3: a manifest whose name is not UTF-8, come with a dozen folder drops, was taken
    by the look for new manifests made while a job is made (_take_new_only), which did not check
    the name: the ledger refused it, an internal error with its traceback in the log."""
    r = rig
    path = Path(os.fsdecode(bytes(r.inbox) + b"/caf\xe9.json"))
    path.write_text('{"order_id": "NU", "product": "bc-85x55", "quantity": 1, "artwork": ["NU.pdf"]}\n')
    r.engine.tracker.track(path, activity=False, complete=True)
    [(_, sig)] = r.engine.tracker.stable_among([path])
    with capture_logs() as logs:
        r.engine._take_new_only(path, sig)
    assert [e["event"] for e in logs if e["log_level"] == "error"] == [], logs
    assert not os.path.lexists(path)
    [folder] = [p for p in (r.root / "failed").iterdir() if p.name.startswith("caf")]
    assert "with a name that is not UTF-8" in (folder / "ERROR.txt").read_text()
    assert r.engine.ledger.get_job("NU-1", history=False) is None


def test_the_jobs_of_one_order_share_one_manifest_file(rig: Rig) -> None:
    """Audit BN D4: each job folder held a copy of the whole manifest: a 670 KB manifest of 6,000
    jobs took 4 GB of the spool disk. One file now, a name of it in each job's folder (the same
    bytes, as received), kept with each job to done/."""
    r = rig
    text = 'order_id: "ML"\njobs:\n' + "".join(
        f'  - product: bc-85x55\n    quantity: {n}\n    artwork: ["ml{n}.pdf"]\n' for n in (1, 2, 3)
    )
    (r.inbox / "ML.yaml").write_text(text)
    r.run(until=lambda: all(r.stage(f"ML-{n}") is Stage.AWAITING for n in (1, 2, 3)), steps=20, dt=0.2)
    copies = [r.root / "work" / f"ML-{n}" / "manifest.yaml" for n in (1, 2, 3)]
    assert [c.read_text() for c in copies] == [text] * 3
    assert {c.stat().st_ino for c in copies} == {copies[0].stat().st_ino} and copies[0].stat().st_nlink == 3
    for n in (1, 2, 3):
        make_pdf(r.inbox / f"ml{n}.pdf", pages=CARD)
    r.run(until=lambda: all(done(r, f"ML-{n}")() for n in (1, 2, 3)), steps=40, dt=0.5)
    kept = [r.root / "done" / f"ML-{n}" / "manifest.yaml" for n in (1, 2, 3)]
    assert [k.read_text() for k in kept] == [text] * 3


def test_jobs_due_by_the_thousand_leave_room_for_the_files_that_come_meanwhile(
    short_wait_rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BN D5: an order of 6,000 jobs whose artwork never came failed them all in one round
    at artwork_timeout_seconds: a good order sent then was not even taken in for minutes. One round
    works on the jobs due for DUE_BUDGET_SECONDS (here: one job a round), the rest at the next."""
    r = short_wait_rig
    monkeypatch.setattr("spo_hotfolder.engine.timers.DUE_BUDGET_SECONDS", 0.0)
    text = 'order_id: "BG"\njobs:\n' + '  - product: bc-85x55\n    quantity: 1\n    artwork: ["never.pdf"]\n' * 5
    (r.inbox / "BG.yaml").write_text(text)
    r.run(until=lambda: r.stage("BG-5") is Stage.AWAITING, steps=20, dt=0.2)
    r.clock.advance(6)
    r.engine.step()
    assert [r.stage(f"BG-{n}") for n in range(1, 6)].count(Stage.FAILED) == 1
    assert r.engine.wake_event.is_set()  # (the next round at once)
    for _ in range(4):
        r.engine.step()
    assert all(r.stage(f"BG-{n}") is Stage.FAILED for n in range(1, 6))


def test_a_job_whose_artwork_came_as_a_named_pipe_is_told_where_it_went(rig: Rig) -> None:
    """Audit BN D7: an order folder whose card.pdf was a named pipe: the pipe went to failed/card.pdf/
    (rightly), the job stayed Ordered, its file "on its way", and failed at its deadline "artwork
    missing" without a word of where the entry under that name went."""
    r = rig
    folder = r.inbox / "FA1"
    folder.mkdir()
    os.mkfifo(folder / "card.pdf")
    (folder / "manifest.yaml").write_text('order_id: "FA1"\nproduct: bc-85x55\nquantity: 1\nartwork: [card.pdf]\n')
    r.run(until=(r.root / "failed" / "card.pdf" / "ERROR.txt").is_file, steps=30, dt=0.5)
    r.run(steps=2, dt=0.5)
    assert r.job("FA1-1").status is JobStatus.AwaitingData, r.statuses("FA1-1")
    status = " ".join((r.root / "work" / "FA1-1" / "STATUS.txt").read_text().split())
    assert "inbox/FA1/card.pdf, which this job's manifest names, came into inbox/, but it is a named pipe" in status
    assert "it is in failed/card.pdf/ (see the ERROR.txt there)" in status, status
    assert folder.is_dir()  # (kept while the job waits for its file there)
    r.clock.advance(601)
    r.run(until=lambda: r.stage("FA1-1") is Stage.FAILED, steps=10, dt=0.5)
    error = " ".join((r.root / "failed" / "FA1-1" / "ERROR.txt").read_text().split())
    assert "what came under that name was not a file" in error and "it is in failed/card.pdf/" in error, error


def test_a_named_pipe_dropped_into_a_job_folder_is_answered(rig: Rig) -> None:
    """Audit BN D6: a named pipe named RELEASE, or one in replace/, got no answer while the job
    waited (minutes): nothing can be read from it; STATUS.txt now says so, and what to drop."""
    r = rig
    job_id = r.order("NP", extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    folder = r.root / "quarantine" / job_id
    os.mkfifo(folder / "RELEASE")
    os.mkfifo(folder / "replace" / "card.pdf")
    r.engine.hint(folder / "RELEASE")
    r.engine.hint(folder / "replace" / "card.pdf")
    r.run(steps=3, dt=0.5)
    status = " ".join((folder / "STATUS.txt").read_text().split())
    assert "RELEASE is a named pipe (FIFO), not a file: nothing can be read from it" in status, status
    assert "Drop a real file named RELEASE" in status
    assert (
        "replace/card.pdf is a named pipe (FIFO), not a file" in status and "Put the PDF itself into replace/" in status
    )
    assert r.stage(job_id) is Stage.HELD


def test_a_file_of_the_name_taken_from_another_orders_folder_is_not_said_to_be_this_ones(rig: Rig) -> None:
    """Audit BN: order M13 came as a folder (inbox/M13/ with its card.pdf); then order M8's manifest
    at the top of inbox/ named card.pdf, not there yet: its STATUS.txt said "A file named card.pdf
    came into inbox/ and was taken by job M13-1", which took its own file from its own folder."""
    r = rig
    staged = r.tmp / "M13"
    staged.mkdir()
    make_pdf(staged / "card.pdf", pages=CARD)
    (staged / "manifest.yaml").write_text('order_id: "M13"\nproduct: bc-85x55\nquantity: 1\nartwork: [card.pdf]\n')
    os.replace(staged, r.inbox / "M13")
    r.engine.hint(r.inbox / "M13" / "manifest.yaml")
    r.engine.hint(r.inbox / "M13" / "card.pdf")
    r.run(until=done(r, "M13-1"), steps=30, dt=0.5)
    (r.inbox / "M8.yaml").write_text('order_id: "M8"\nproduct: bc-85x55\nquantity: 1\nartwork: [card.pdf]\n')
    r.engine.hint(r.inbox / "M8.yaml")
    r.run(until=lambda: r.stage("M8-1") is Stage.AWAITING, steps=20, dt=0.5)
    r.run(steps=3, dt=0.5)
    status = " ".join((r.root / "work" / "M8-1" / "STATUS.txt").read_text().split())
    assert "M13" not in status, status


def test_unclaimed_folders_due_by_the_thousand_leave_room_for_the_files_that_come_meanwhile(
    short_wait_rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As for jobs due (audit BN D5): order folders by the thousand whose manifest never came, due
    at once, are filed into failed/ for ORPHANS_BUDGET_SECONDS a round (here: one folder a round),
    the rest at the next."""
    r = short_wait_rig
    monkeypatch.setattr("spo_hotfolder.engine.artwork.ORPHANS_BUDGET_SECONDS", 0.0)
    for n in range(4):
        (r.inbox / f"order{n}").mkdir()
        make_pdf(r.inbox / f"order{n}" / "card.pdf", pages=CARD)
    r.run(until=lambda: len(r.engine._orphans) == 4, steps=20, dt=0.5)
    r.clock.advance(6)
    r.engine.step()
    assert len(r.engine._orphans) == 3
    assert r.engine._wait_seconds() == 0.0  # (the next round at once)
    for _ in range(3):
        r.engine.step()
    assert not r.engine._orphans
    assert sorted(p.name for p in (r.root / "failed").iterdir()) == [f"order{n}" for n in range(4)]


def _big_order(r: Rig, order_id: str, jobs: int) -> None:
    for n in range(jobs):
        make_pdf(r.inbox / f"{order_id.lower()}{n}.pdf", pages=CARD)
    (r.inbox / f"{order_id}.yaml").write_text(
        f'order_id: "{order_id}"\njobs:\n'
        + "".join(
            f'  - product: bc-85x55\n    quantity: 1\n    artwork: ["{order_id.lower()}{n}.pdf"]\n' for n in range(jobs)
        )
    )


def _runs(r: Rig) -> list[str]:
    """The jobs ``_run_job`` is called for, in turn, from now on."""
    ran: list[str] = []
    run_job = r.engine._run_job

    def recorded(job_id: str, next_ids: Any = ()) -> None:
        ran.append(job_id)
        run_job(job_id, next_ids)

    r.engine._run_job = recorded  # type: ignore[method-assign]
    return ran


def test_orders_take_turns_in_the_queue(rig: Rig) -> None:
    """Audit BQ: an order of one job taken in with an order of thousands waited for all of them
    (the queue ran the longest waiting job first): the orders take turns now."""
    r = rig
    _big_order(r, "BIG", 12)
    r.order("SM")
    ran = _runs(r)
    r.run(until=lambda: done(r, "SM-1")() and all(done(r, f"BIG-{n}")() for n in range(1, 13)), steps=20, dt=0.5)
    assert ran.index("SM-1") <= 1, ran
    assert [j for j in ran if j.startswith("BIG")] == [f"BIG-{n}" for n in range(1, 13)]  # (the manifest's order)


def test_an_order_taken_in_while_a_long_queue_runs_has_its_turn(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """The queue is made again every QUEUE_SECONDS (here: after each job), with the orders taken in
    meanwhile (between two jobs) in their turn."""
    r = rig
    monkeypatch.setattr("spo_hotfolder.engine.processing.QUEUE_SECONDS", 0.0)
    _big_order(r, "BIG", 12)
    ran = _runs(r)
    run_job = r.engine._run_job

    def sent_meanwhile(job_id: str, next_ids: Any = ()) -> None:
        run_job(job_id, next_ids)
        if len(ran) == 3:
            make_pdf(r.inbox / "SM.pdf", pages=CARD)
            (r.inbox / "SM.yaml").write_text('order_id: "SM"\nproduct: bc-85x55\nquantity: 1\nartwork: [SM.pdf]\n')
            r.engine.hint(r.inbox / "SM.pdf", moved_in=True)
            r.engine.hint(r.inbox / "SM.yaml", moved_in=True)

    r.engine._run_job = sent_meanwhile  # type: ignore[method-assign]
    r.run(until=lambda: done(r, "SM-1")() and all(done(r, f"BIG-{n}")() for n in range(1, 13)), steps=20, dt=0.5)
    assert ran.index("SM-1") < len(ran) - 4, ran


def test_a_deadline_that_comes_while_a_long_queue_runs_is_kept(
    short_wait_rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BQ R1: with thousands of jobs running, jobs whose artwork_timeout_seconds (30 s) ran
    out failed 70-106 s after their intake: deadlines were looked at only once the queue was
    empty. They are looked at between two queues (every QUEUE_SECONDS; here: after each job)."""
    r = short_wait_rig
    monkeypatch.setattr("spo_hotfolder.engine.processing.QUEUE_SECONDS", 0.0)
    (r.inbox / "AW.yaml").write_text('order_id: "AW"\nproduct: bc-85x55\nquantity: 1\nartwork: [never.pdf]\n')
    r.run(until=lambda: r.stage("AW-1") is Stage.AWAITING, steps=10, dt=0.2)
    _big_order(r, "BIG", 8)
    ran = _runs(r)
    run_job = r.engine._run_job
    timeout = r.engine._artwork_timeout

    def late(job_id: str, next_ids: Any = ()) -> None:
        run_job(job_id, next_ids)
        if len(ran) == 2:
            r.clock.advance(6)  # (the deadline passes while the queue runs)

    def noted(job: Any) -> None:
        ran.append(f"timeout {job.job_id}")
        timeout(job)

    r.engine._run_job = late  # type: ignore[method-assign]
    r.engine._artwork_timeout = noted  # type: ignore[method-assign]
    r.run(until=lambda: all(done(r, f"BIG-{n}")() for n in range(1, 9)), steps=10, dt=0.2)
    assert ran.index("timeout AW-1") < len(ran) - 4, ran
    assert r.stage("AW-1") is Stage.FAILED


def test_a_reload_that_moves_many_jobs_logs_the_first_ones_and_a_count(rig: Rig) -> None:
    """Audit BQ R5: a reload that moved 5,000 jobs to another hot folder wrote 5,000 info lines:
    the first ROUTE_CHANGES_LOGGED one by one, then one line with the count (each job's STATUS.txt
    says it all the same)."""
    from spo_hotfolder.engine.core import ROUTE_CHANGES_LOGGED

    r = rig
    jobs = ROUTE_CHANGES_LOGGED + 5
    _big_order(r, "MV", jobs)
    text = (r.inbox / "MV.yaml").read_text()
    (r.inbox / "MV.yaml").write_text(text.replace('order_id: "MV"\n', 'order_id: "MV"\nblocked: true\n'))
    r.run(until=lambda: all(r.stage(f"MV-{n}") is Stage.HELD for n in range(1, jobs + 1)), steps=20, dt=0.5)
    r.write_routes([{"to": "large"}])
    with capture_logs() as logs:
        r.engine.set_config(load_config(r.config_path))
        r.run(steps=1)
    one_by_one = [e for e in logs if e["event"] == "job.route_changed"]
    assert len(one_by_one) == ROUTE_CHANGES_LOGGED
    [counted] = [e for e in logs if e["event"] == "config.jobs_rerouted"]
    assert counted["jobs"] == jobs and counted["moves"] == {"indigo -> large": jobs}
    status = " ".join((r.root / "quarantine" / f"MV-{jobs}" / "STATUS.txt").read_text().split())
    assert "config reloaded: this job now goes to hot folder large (it was going to indigo)" in status


def test_a_ledger_damaged_while_the_daemon_runs_is_said_and_orders_wait(rig: Rig) -> None:
    """Audit BR D1: the ledger truncated while the daemon ran: tracebacks in the log, a good order
    refused into failed/ as "a fault in the daemon", `health` ok. The order now stays in inbox/,
    the log says what is wrong and what to do, once, and the daemon's health says it too."""
    r = rig
    r.order("G1")
    r.run(until=done(r, "G1-1"), steps=10)

    def damaged(*_args: Any, **_kwargs: Any) -> None:
        raise sqlite3.DatabaseError("database disk image is malformed")  # (what SQLite says of it)

    r.engine.ledger.record_intake = damaged  # type: ignore[method-assign]
    with capture_logs() as logs:
        r.order("G2")
        r.run(steps=6, dt=1)
    events = [e["event"] for e in logs]
    assert "manifest.internal_error" not in events and "engine.unexpected_error" not in events, logs
    assert events.count("ledger.damaged") == 1, events
    assert (r.inbox / "G2.yaml").is_file() and not (r.root / "failed" / "G2.yaml").exists()
    assert r.engine.ledger_damage is not None and "put back a copy from a backup" in r.engine.ledger_damage


def _unblocked(fifo: Path) -> None:
    """Lets a reader stuck in the pipe's open go (if a test's code under it did wait there)."""
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def _runs_within(seconds: float, work: Callable[[], None], fifo: Path) -> None:
    """``work`` in a thread: it must end within ``seconds``, not wait on ``fifo`` for a writer."""
    done_work = threading.Event()

    def run() -> None:
        work()
        done_work.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if not done_work.is_set():
        _unblocked(fifo)
        thread.join(5)
        pytest.fail(f"the engine waited on the named pipe {fifo.name}")


def test_a_named_pipe_in_place_of_a_jobs_artwork_fails_the_job_and_nothing_hangs(rig: Rig) -> None:
    """Audit BO D1: a quarantined job's artwork/card.pdf replaced by a named pipe, then RELEASE: the
    engine opened it (the artwork's fingerprint) and waited for a writer for good; nothing more was
    delivered, a restart hung again, `health` said ok for ten minutes."""
    r = rig
    job_id, folder = _held(r, "FP")
    art = folder / "artwork" / "FP.pdf"
    art.unlink()
    os.mkfifo(art)
    (folder / "RELEASE").write_text("kim\n")
    # (its artwork is not what was checked: its output is not sent, as for artwork edited in place)
    _runs_within(20, lambda: r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=10), art)
    error = " ".join((r.root / "failed" / job_id / "ERROR.txt").read_text().split())
    assert "artwork changed in its folder after it was checked: FP.pdf" in error, error
    assert r.take_prints() == []
    r.order("OK")
    _runs_within(20, lambda: r.run(until=done(r, "OK-1"), steps=10), r.root / "failed" / job_id / "artwork" / "FP.pdf")
    # A job made from such a file (a RETRY, a replacement's turn) fails saying what it is.
    job2, folder2 = _held(r, "FQ")
    art2 = folder2 / "artwork" / "FQ.pdf"
    art2.unlink()
    os.mkfifo(art2)
    from spo_hotfolder.engine.base import JobFailed

    with pytest.raises(JobFailed) as failed:
        r.engine._process(r.job(job2))
    assert failed.value.problems == [
        "artwork/FQ.pdf is a named pipe, a socket or a device, not a file: nothing can be read from it"
    ]


def test_what_is_put_into_state_commands_besides_the_cli_is_never_waited_on_nor_followed(rig: Rig) -> None:
    """Audit BO D2: a named pipe x.json in state/commands/ hung `show` and the engine; a link
    pw.json -> /etc/passwd was opened and parsed."""
    from spo_hotfolder.operator import pending_commands_by_job

    r = rig
    commands = r.config.paths.state / "commands"
    commands.mkdir(parents=True, exist_ok=True)
    os.mkfifo(commands / "x.json")
    secret = r.tmp / "secret.json"
    secret.write_text(json.dumps({"action": "release", "job_id": "S-1", "token": "t", "by": "x"}))
    (commands / "pw.json").symlink_to(secret)
    _runs_within(10, lambda: pending_commands_by_job(commands, r.ledger), commands / "x.json")
    assert pending_commands_by_job(commands, r.ledger) == {}  # (the link's target not read)
    _runs_within(10, lambda: r.engine.run_command(commands / "x.json"), commands / "x.json")
    assert r.engine.run_command(commands / "pw.json") is None and secret.is_file()


def test_a_reject_that_is_a_named_pipe_holds_no_release_back_and_both_are_answered(rig: Rig) -> None:
    """Audit BO D5: a REJECT that is a named pipe was never read, and every release was refused for
    good "a REJECT file is in the job's folder and is handled first"; a RELEASE that is a link to
    nothing was never answered."""
    r = rig
    job_id, folder = _held(r, "RP")
    os.mkfifo(folder / "REJECT")
    (folder / "RELEASE.txt").symlink_to(r.tmp / "nothing-here")
    r.engine.hint(folder / "REJECT")
    r.engine.hint(folder / "RELEASE.txt")
    r.run(steps=3, dt=0.5)
    status = " ".join((folder / "STATUS.txt").read_text().split())
    assert "REJECT is a named pipe (FIFO), not a file" in status, status
    assert "RELEASE.txt is a symbolic link to nothing, not a file" in status, status
    assert r.engine.apply(job_id, Action.RELEASE, by="zed", note="").ok
    r.run(until=done(r, job_id), steps=10)


def test_a_replacement_or_release_that_links_to_nothing_is_filed_and_holds_no_release_back(rig: Rig) -> None:
    """A link to nothing in replace/ was answered "left alone", and then every RELEASE was refused
    for good: "a replacement (replace/new.pdf) is in the job's folder and is taken first". A
    RELEASE that links to nothing was answered but stayed in the folder, looking unanswered."""
    r = rig
    job_id, folder = _held(r, "DL")
    (folder / "replace").mkdir(exist_ok=True)
    (folder / "replace" / "new.pdf").symlink_to(r.tmp / "nothing")
    (folder / "RELEASE").symlink_to(r.tmp / "nothing-either")
    r.engine.hint(folder / "replace" / "new.pdf")
    r.engine.hint(folder / "RELEASE")
    r.run(until=lambda: not os.path.lexists(folder / "RELEASE"), steps=5, dt=0.5)
    status = " ".join((folder / "STATUS.txt").read_text().split())
    assert (
        "replace/new.pdf is a symbolic link to nothing, not a file: nothing can be read from it, so it did nothing;"
        " it is kept in history/." in status
    ), status
    assert "RELEASE is a symbolic link to nothing" in status, status
    assert not os.path.lexists(folder / "replace" / "new.pdf")
    assert sorted(p.name.split("-", 1)[1] for p in (folder / "history").iterdir()) == ["RELEASE", "new.pdf"]
    (folder / "RELEASE.txt").write_text("zed\n")
    r.engine.hint(folder / "RELEASE.txt")
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["DL_DL-1_bc-85x55_x1.pdf"]


def test_a_named_pipe_called_manifest_yaml_in_an_order_folder_is_set_aside(rig: Rig) -> None:
    """Audit BO D6: it was held for the folder's manifest (itself) for good, unsaid."""
    r = rig
    order = r.inbox / "B13"
    order.mkdir()
    os.mkfifo(order / "manifest.yaml")
    r.engine.hint(order / "manifest.yaml")
    r.run(until=(r.root / "failed" / "manifest.yaml" / "ERROR.txt").is_file, steps=10, dt=0.5)
    assert "it is a named pipe (FIFO), not a file" in (r.root / "failed" / "manifest.yaml" / "ERROR.txt").read_text()


def test_an_empty_drop_file_of_samba_guest_nobody_is_by_operator(tmp_path: Path) -> None:
    """Audit BO D8: an empty RELEASE owned by nobody (a share's guest) recorded "released by
    nobody"; README: the owner's name where that is a person, else "operator"."""
    from spo_hotfolder.engine.actions import _owner

    drop = tmp_path / "RELEASE"
    drop.write_text("")
    try:
        os.chown(drop, 65534, 65534)
    except PermissionError:
        pytest.skip("needs root, to give the file to nobody")
    assert _owner(drop) == "operator"


def test_a_jobs_output_or_replace_folder_made_a_link_elsewhere_is_never_read_nor_written_through(rig: Rig) -> None:
    """Audit BO D3, D4: a quarantined job's output/ made a link to a folder outside the spool, then
    RELEASE: the output was written there and a file of that folder moved into the job's history/;
    its replace/ made such a link to a folder holding a PDF: every release was refused for good,
    "a replacement is in the job's folder and is taken first", and it never was."""
    r = rig
    outside = r.tmp / "outside"
    (outside / "out").mkdir(parents=True)
    (outside / "out" / "innocent.pdf").write_bytes(b"theirs")
    (outside / "repl").mkdir()
    make_pdf(outside / "repl" / "RO.pdf", pages=CARD)
    job_id, folder = _held(r, "RO")
    shutil.rmtree(folder / "output")
    (folder / "output").symlink_to(outside / "out")
    shutil.rmtree(folder / "replace")
    (folder / "replace").symlink_to(outside / "repl")
    assert r.engine.apply(job_id, Action.RELEASE, by="ivan", note="").ok
    r.run(until=done(r, job_id), steps=10)
    assert sorted(p.name for p in (outside / "out").iterdir()) == ["innocent.pdf"]
    assert (outside / "out" / "innocent.pdf").read_bytes() == b"theirs"
    assert sorted(p.name for p in (outside / "repl").iterdir()) == ["RO.pdf"]
    assert r.take_prints() == ["RO_RO-1_bc-85x55_x1.pdf"]


def test_a_manifest_the_daemon_may_not_read_is_set_aside_saying_why(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit BO D9: a manifest of mode 000 (an SFTP client's umask of 077, for a daemon running as
    its own user) stayed in inbox/, retried every few seconds with a log line only. It goes to
    failed/ with an ERROR.txt saying whose file it is, its mode and what to do. (As root every file
    is readable: the refusal is made by the open here.)"""
    r = rig
    manifest = r.inbox / "UR.yaml"
    manifest.write_text('order_id: "UR"\nproduct: bc-85x55\nquantity: 1\nartwork: [UR.pdf]\n')
    manifest.chmod(0)
    real_open = os.open

    def refused(path: Any, *args: Any, **kwargs: Any) -> int:
        if str(path) == str(manifest):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refused)
    r.run(until=(r.root / "failed" / "UR.yaml" / "ERROR.txt").is_file, steps=10, dt=0.5)
    error = " ".join((r.root / "failed" / "UR.yaml" / "ERROR.txt").read_text().split())
    assert (
        "UR.yaml cannot be read by the daemon's user (Permission denied): it belongs to root, mode ----------" in error
    )
    assert "make it readable by the daemon's group (chmod g+r" in error, error
    assert not manifest.exists()


@pytest.fixture
def poll_rig(tmp_path: Path) -> Iterator[Rig]:
    """A rig whose poller looks every 2 s (reference.yaml's default)."""
    yield from rig_on(tmp_path, watch={"poll_interval_seconds": 2.0})


def test_with_a_poller_a_waiting_order_takes_a_file_only_after_the_next_look(poll_rig: Rig) -> None:
    """Audit BJ: with watch.mode: polling, four orders 0.2 s apart, each a manifest then its PDF,
    all named artwork.pdf: one look saw the first manifest, the next saw the PDF (the last order's,
    renamed in after the look had listed the folder) without the manifests sent before it, and the
    first order took and printed the last one's PDF. The file now waits for the poller's next look."""
    r = poll_rig
    r.engine.polling_watch = lambda: True
    _sent(r, "O0.yaml", _shared_manifest("O0"))
    r.run(until=lambda: r.stage("O0-1") is Stage.AWAITING, steps=10, dt=0.2)
    _sent(r, "artwork.pdf")  # (the last order's, seen by this look)
    r.run(steps=3, dt=0.2)
    assert r.stage("O0-1") is Stage.AWAITING  # (not taken before the next look)
    for order in ("O1", "O2", "O3"):
        _sent(r, f"{order}.yaml", _shared_manifest(order))  # (seen by the next look)
    r.run(until=(r.root / "failed" / "artwork.pdf" / "ERROR.txt").is_file, steps=30, dt=0.2)
    assert r.take_prints() == []


def test_a_reprint_goes_in_beside_its_earlier_pdf_still_waiting(ticket_rig: Rig) -> None:
    """Audit CF 1: a reprint (SPEC 5: "a new delivery ... then the usual statuses") while the PDF
    of the job's earlier delivery still waited in the hot folder failed every attempt ("a file
    named ... is already waiting") and ended in failed/ (43 minutes on the default schedule). It
    goes in beside it under "-reprint<n>", with its own ticket; the earlier one is never touched."""
    r = ticket_rig
    job_id = r.order("RP")
    r.run(until=done(r, job_id), steps=10)
    first = (r.hot / "RP_RP-1_bc-85x55_x1.pdf").read_bytes()
    r.order("RP", extra="reprint: true\n")
    r.run(until=lambda: r.statuses(job_id).count("InHotFolder") == 2, steps=10)
    assert "CopyToHotFolderFailed" not in r.statuses(job_id)
    assert r.job(job_id).history[-1].detail == "indigo: RP_RP-1_bc-85x55_x1-reprint1.pdf"
    assert (r.hot / "RP_RP-1_bc-85x55_x1.pdf").read_bytes() == first
    ticket = json.loads((r.hot / "RP_RP-1_bc-85x55_x1-reprint1.json").read_text())
    assert ticket["file"] == "RP_RP-1_bc-85x55_x1-reprint1.pdf" and ticket["job_id"] == job_id
    # Both still waiting: the next reprint is the second; once the printer has taken them, the
    # template's name again.
    r.order("RP", extra="reprint: true\ncustomer: again\n")
    r.run(until=lambda: r.statuses(job_id).count("InHotFolder") == 3, steps=10)
    assert r.take_prints() == [
        "RP_RP-1_bc-85x55_x1-reprint1.json",
        "RP_RP-1_bc-85x55_x1-reprint1.pdf",
        "RP_RP-1_bc-85x55_x1-reprint2.json",
        "RP_RP-1_bc-85x55_x1-reprint2.pdf",
        "RP_RP-1_bc-85x55_x1.json",
        "RP_RP-1_bc-85x55_x1.pdf",
    ]
    r.order("RP", extra="reprint: true\ncustomer: third\n")
    r.run(until=lambda: r.statuses(job_id).count("InHotFolder") == 4, steps=10)
    assert r.take_prints() == ["RP_RP-1_bc-85x55_x1.json", "RP_RP-1_bc-85x55_x1.pdf"]


def test_a_folder_orders_intake_cut_short_by_a_failed_fsync_goes_on(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit CE D1: one EIO on the fsync of a dragged-in folder's manifest copy (or of its job
    folder, or of the inbox folder, or the mkdir of history/) after the intake's commit skipped the
    rest of the intake: the job stayed "Ordered" in work/ with no STATUS.txt, its PDF in the inbox,
    until a restart. The fsync is tried again later; the job goes on meanwhile."""
    r = rig
    drop = r.inbox / "FD-dir"
    drop.mkdir()
    make_pdf(drop / "FD.pdf", pages=CARD)
    (drop / "manifest.yaml").write_text('order_id: "FD"\nproduct: bc-85x55\nquantity: 1\nartwork: [FD.pdf]\n')
    real = engine_module.fsync_file
    failed: list[str] = []

    def fsync_once(path: Any) -> None:
        if not failed and Path(path).name == "manifest.yaml":
            failed.append(str(path))
            raise OSError(errno.EIO, "Input/output error")
        real(path)

    monkeypatch.setattr(engine_module, "fsync_file", fsync_once)
    r.run(until=done(r, "FD-1"), steps=10)
    assert failed, "the fault was injected"
    assert r.take_prints() == ["FD_FD-1_bc-85x55_x1.pdf"]
    r.run(until=lambda: not drop.exists(), steps=30)  # the manifest left the inbox once on disk
    assert (r.root / "done" / "FD-1" / "manifest.yaml").is_file()
    assert (r.root / "done" / "FD-1" / "history").is_dir()


def test_retention_deletes_a_finished_jobs_files_when_they_are_due(tmp_path: Path) -> None:
    """Audit CF 11: with done_days 0.0001 (8.6 s) a delivered job's files were deleted only at the
    hourly run (or a start): retention runs when the oldest finished job is due, and the engine
    sleeps until then, not an hour."""
    rigs = rig_on(tmp_path, retention={"done_days": 0.0001})
    r = next(rigs)
    first = r.order("RD1")
    r.run(until=done(r, first), steps=10)
    r.run(steps=1)  # (the start's run: nothing due yet)
    assert r.engine._wait_seconds() <= 8.7
    r.run(until=lambda: r.stage(first) is Stage.PURGED, steps=12)
    assert not (r.root / "done" / first).exists()
    second = r.order("RD2")
    r.run(until=done(r, second), steps=10)
    r.run(until=lambda: r.stage(second) is Stage.PURGED, steps=12)
    assert r.statuses(second)[-1] == "JobDataDeleted"
    next(rigs, None)  # (closes the rig)


def _ledger_fails_once(
    monkeypatch: pytest.MonkeyPatch, ledger: Ledger, method: str, when: Callable[..., bool]
) -> list[str]:
    """``ledger.<method>`` raises SQLite's "disk I/O error" once, at the first call ``when`` accepts."""
    real = getattr(ledger, method)
    failed: list[str] = []

    def once(*args: Any, **kwargs: Any) -> Any:
        if not failed and when(*args, **kwargs):
            failed.append(method)
            raise sqlite3.OperationalError("disk I/O error")
        return real(*args, **kwargs)

    monkeypatch.setattr(ledger, method, once)
    return failed


def test_a_ledger_write_failing_once_as_a_folder_order_is_taken_in_strands_nothing(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit CG 1: one failed ledger write (an I/O error) after a folder order's intake was
    committed skipped the claim of its PDF: the job waited an hour, "not arrived yet", the PDF in
    the inbox. Said in one plain line (no traceback), and the job goes on."""
    r = rig
    drop = r.inbox / "LF-dir"
    drop.mkdir()
    make_pdf(drop / "LF.pdf", pages=CARD)
    (drop / "manifest.yaml").write_text('order_id: "LF"\nproduct: bc-85x55\nquantity: 1\nartwork: [LF.pdf]\n')
    failed = _ledger_fails_once(monkeypatch, r.ledger, "complete_intake", lambda *a, **k: True)
    with capture_logs() as logs:
        r.run(until=done(r, "LF-1"), steps=10)
        r.run(until=lambda: not drop.exists(), steps=30)
    assert failed
    assert r.take_prints() == ["LF_LF-1_bc-85x55_x1.pdf"]
    assert not [e for e in logs if e.get("exc_info") and e["log_level"] != "debug"], logs
    [said] = [e for e in logs if e["event"] == "intake.not_finished"]
    assert said["error"] == "disk I/O error" and said["manifest"] == "inbox/LF-dir/manifest.yaml"


def test_a_ledger_write_failing_once_as_late_artwork_is_taken_strands_nothing(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit CG 1: the PDF came after its manifest, and the write that made the job complete failed
    once: the job waited for its artwork_timeout_seconds with its PDF in its folder."""
    r = rig
    (r.inbox / "LA.yaml").write_text('order_id: "LA"\nproduct: bc-85x55\nquantity: 1\nartwork: [LA.pdf]\n')
    r.run(until=lambda: r.stage("LA-1") is Stage.AWAITING, steps=10)
    failed = _ledger_fails_once(monkeypatch, r.ledger, "update_job", lambda *a, **k: k.get("stage") is Stage.PROCESS)
    make_pdf(r.inbox / "LA.pdf", pages=CARD)
    with capture_logs() as logs:
        r.run(until=done(r, "LA-1"), steps=10)
    assert failed
    assert r.take_prints() == ["LA_LA-1_bc-85x55_x1.pdf"]
    [said] = [e for e in logs if e["event"] == "engine.unexpected_error"]
    assert said["error"] == "the ledger could not be read or written: disk I/O error" and "exception" not in said


def test_an_answer_the_ledger_could_not_keep_is_still_said(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit CG 3: the ledger's write of a drop file's answer failed once (an I/O error): the
    action was done, but STATUS.txt and `show` had no "Last action or notice" at all."""
    r = rig
    job_id, folder = _held(r, "LN")
    failed = _ledger_fails_once(monkeypatch, r.ledger, "set_last_action", lambda *a, **k: True)
    (folder / "RETRY").write_text("kim\n")
    with capture_logs() as logs:
        r.run(until=lambda: not (folder / "RETRY").exists(), steps=10)
        r.run(steps=2)
    assert failed
    status = (folder / "STATUS.txt").read_text()
    assert "Last action or notice: " in status and "RETRY" in status.split("Last action or notice: ", 1)[1], status
    [said] = [e for e in logs if e["event"] == "job.answer_not_kept"]
    assert said["job_id"] == job_id and said["error"] == "disk I/O error"


def _is_our_hot_temp(path: Any, *args: Any, **kwargs: Any) -> bool:
    return "/hot/indigo/." in str(path)


@pytest.mark.parametrize(
    "second",
    [
        lambda mp: _crash_after(mp, Path, "unlink", when=_is_our_hot_temp),
        lambda mp: _crash_before(mp, Path, "unlink", when=_is_our_hot_temp),
    ],
    ids=["after-the-temp-removal", "before-the-temp-removal"],
)
def test_a_crash_while_a_crash_is_recovered_from_still_delivers_once(rig: Rig, second: Any) -> None:
    """Audit CD 1: a crash before the rename ("written"), then a crash as the restart removed that
    temp file and before it journalled the attempt as given up: the next start found a "written"
    attempt without its temp file and recorded InHotFolder, the hot folder empty (with a ticket, the
    ticket without its PDF). The journal first; a temp file left by a crash between the two goes."""
    job_id = rig.order("K9")
    life_until_killed(rig, CRASH_POINTS["after 'written', before the rename"])
    life_until_killed(rig, second)  # the restart's recovery, killed
    rig.start()
    rig.run(until=done(rig, job_id), steps=10)
    rig.run(steps=3)
    assert rig.take_prints() == ["K9_K9-1_bc-85x55_x1.pdf"]
    assert rig.statuses(job_id).count("InHotFolder") == 1
    assert "CopyToHotFolderFailed" not in rig.statuses(job_id)
    assert "recorded after the fact" not in rig.job(job_id).history[-1].detail
    assert rig.temps() == []


def test_a_look_at_other_files_failing_while_a_job_is_delivered_does_not_fail_that_job(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit CH E1: an EIO on the close() of another order's new manifest, met by the look at new
    orders before a delivery, failed the job in hand ("internal error ... OSError"), not the file."""
    r = rig
    job_id = r.order("E1")
    real = r.engine._meanwhile
    failed: list[str] = []

    def look() -> None:
        if not failed:
            failed.append("look")
            raise OSError(errno.EIO, "Input/output error", str(r.inbox / "OTHER.yaml"))
        real()

    monkeypatch.setattr(r.engine, "_meanwhile", look)
    with capture_logs() as logs:
        r.run(until=done(r, job_id), steps=10)
    assert failed
    assert r.take_prints() == ["E1_E1-1_bc-85x55_x1.pdf"]
    assert "ValidationFailed" not in r.statuses(job_id) and "OutputCreationFailed" not in r.statuses(job_id)
    [said] = [e for e in logs if e["event"] == "engine.unexpected_error"]
    assert said["file"].endswith("inbox/OTHER.yaml") and said["error"] == "Input/output error"


def test_an_artwork_file_that_cannot_be_looked_at_once_is_not_called_missing(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit CH E2: one EIO on the stat of a job's artwork failed it as "artwork file missing from
    the job folder" (the file was there) and advised a replacement, not RETRY."""
    r = rig
    job_id = r.order("E2")
    real_stat = os.stat
    failed: list[str] = []

    def stat_once(path: Any, *args: Any, **kwargs: Any) -> Any:
        if not failed and str(path).endswith(f"/{job_id}/artwork/E2.pdf"):
            failed.append(str(path))
            raise OSError(errno.EIO, "Input/output error", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(engine_module.os, "stat", stat_once)
    r.run(until=done(r, job_id), steps=10)
    assert failed
    assert "ValidationFailed" not in r.statuses(job_id)
    assert r.take_prints() == ["E2_E2-1_bc-85x55_x1.pdf"]


def test_a_file_operation_failing_in_a_jobs_step_is_said_as_such(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit CH E3: one EIO while the output was made (the listing of output/) failed the job as
    an "internal error while handling the job", with a stack dump in the log."""
    r = rig
    job_id = r.order("E3")
    real_listdir = os.listdir
    failed: list[str] = []

    def listdir_once(path: Any = ".") -> list[str]:
        if not failed and str(path).endswith(f"/{job_id}/output"):
            failed.append(str(path))
            raise OSError(errno.EIO, "Input/output error", str(path))
        return real_listdir(path)

    monkeypatch.setattr(engine_module.os, "listdir", listdir_once)
    with capture_logs() as logs:
        r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=10)
    assert failed
    error = (r.root / "failed" / job_id / "ERROR.txt").read_text()
    assert f"a file operation failed: Input/output error (work/{job_id}/output)" in error, error
    assert "internal error" not in error and "RETRY" in error
    assert not [e for e in logs if e.get("exc_info")], [e["event"] for e in logs if e.get("exc_info")]
    (r.root / "failed" / job_id / "RETRY").write_text("kim\n")
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == ["E3_E3-1_bc-85x55_x1.pdf"]


def test_a_crash_between_a_release_and_its_answer_loses_neither(rig: Rig) -> None:
    """Audit CD 4: a crash after a release's commit and before its answer's: the job was released
    and delivered, but STATUS.txt and `show` had no answer to the RELEASE."""
    r = rig
    job_id = r.order("R7", extra="blocked: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    (r.root / "quarantine" / job_id / "RELEASE").write_text("olga\n")
    life_until_killed(r, lambda mp: _crash_before(mp, Engine, "_note_action"))
    r.start()
    r.run(until=done(r, job_id), steps=10)
    r.run(steps=3)
    assert r.take_prints() == ["R7_R7-1_bc-85x55_x1.pdf"]
    status = (r.root / "done" / job_id / "STATUS.txt").read_text()
    assert "RELEASE: released by olga" in status.split("Last action or notice: ", 1)[-1], status
    assert not (r.root / "done" / job_id / "RELEASE").exists()


def test_a_status_file_that_could_not_be_written_is_written_again(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit CH E4: one EIO on the rename of a new STATUS.txt (a replaced job back in quarantine/)
    left the old text for good: the old artwork's fingerprint in its "approve exactly this" line."""
    r = rig
    job_id, folder = _held(r, "SW")
    real = engine_module.atomic_write
    failed: list[str] = []

    def write_once(path: Any, *args: Any, **kwargs: Any) -> Any:
        if not failed and Path(path).name == "STATUS.txt":
            failed.append(str(path))
            raise OSError(errno.EIO, "Input/output error", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(engine_module, "atomic_write", write_once)
    (folder / "replace").mkdir(exist_ok=True)
    make_pdf(folder / "replace" / "SW.pdf", pages=CARD, content=b"0 0 1 rg 10 10 50 50 re f")
    r.run(until=lambda: "ArtworkUploaded" in r.statuses(job_id) and r.stage(job_id) is Stage.HELD, steps=10)
    r.run(steps=2)
    assert failed
    status = (folder / "STATUS.txt").read_text()
    assert "ArtworkUploaded" in status, status


@pytest.mark.parametrize("gap", [3, 8])
def test_a_job_failed_for_missing_artwork_does_not_take_the_next_orders_file(rig: Rig, gap: int) -> None:
    """White-box audit CN 1 (critical): a job that failed long ago for artwork.pdf, which never came,
    took the next order's artwork.pdf as soon as the moment after the file began to arrive was over
    (~3 s) and printed it; that order's manifest, sent a few seconds after its PDF, then failed
    "artwork missing". The file is held the window once it settled: the manifest that comes
    meanwhile decides with it (two orders the times do not tell apart: set aside for the
    operator, printed for neither)."""
    r = rig
    old = _failed_for_missing_artwork(r, "OLD")
    r.clock.advance(3600)
    r.run(steps=2)
    make_pdf(r.inbox / "OLD.pdf", pages=CARD)  # the next order's PDF, of the same name
    r.run(steps=gap, dt=1.0)
    (r.inbox / "NEW.yaml").write_text('order_id: "NEW"\nproduct: bc-85x55\nquantity: 1\nartwork: [OLD.pdf]\n')
    r.run(steps=30, dt=1.0)
    assert r.take_prints() == []
    assert r.stage(old) is Stage.FAILED
    assert (r.root / "failed" / "OLD.pdf" / "OLD.pdf").is_file()  # set aside, each job's STATUS.txt says how


def test_a_late_file_alone_still_brings_its_failed_job_back(rig: Rig) -> None:
    """The other side of CN 1: with no other order's manifest naming it in the window, the late
    file is the failed job's (README: a file that still arrives later runs the job again)."""
    r = rig
    job_id = _failed_for_missing_artwork(r, "LT")
    r.clock.advance(3600)
    r.run(steps=2)
    make_pdf(r.inbox / "LT.pdf", pages=CARD)
    r.run(steps=6, dt=1.0)
    assert r.stage(job_id) is Stage.FAILED  # held: another order's manifest may still name it
    r.run(until=done(r, job_id), steps=20, dt=1.0)
    assert r.take_prints() == ["LT_LT-1_bc-85x55_x1.pdf"]


def test_a_manifest_written_over_in_place_with_its_time_kept_is_not_removed_unread(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """White-box audit CN 3: a manifest written over in place after it was taken in, before it left
    the inbox (the job's first run comes between), with its size and modification time kept (`cp
    -p`, `rsync --inplace -t`), was removed as the file taken in: its new content was nowhere."""
    r = rig
    make_pdf(r.inbox / "Z.pdf", pages=CARD)
    manifest = r.inbox / "Z.yaml"
    manifest.write_text('order_id: "Z"\nproduct: bc-85x55\nquantity: 100\nartwork: [Z.pdf]\n')
    before = os.stat(manifest)
    original = Engine._run_jobs
    fired: list[bool] = []

    def run_jobs(self: Engine, *args: Any, **kwargs: Any) -> Any:
        if not fired and r.ledger.get_job("Z-1", history=False) is not None:
            fired.append(True)
            with open(manifest, "r+b") as fh:  # in place: its inode and size kept
                fh.write(b'order_id: "Z"\nproduct: bc-85x55\nquantity: 900\nartwork: [Z.pdf]\n')
            os.utime(manifest, ns=(before.st_atime_ns, before.st_mtime_ns))  # its time kept, as cp -p does
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Engine, "_run_jobs", run_jobs)
    r.run(until=done(r, "Z-1"), steps=20)
    r.run(steps=10)
    assert fired
    kept = [p for p in r.root.rglob("*.yaml") if p.is_file() and b"quantity: 900" in p.read_bytes()]
    assert kept, "the rewritten manifest is nowhere"


def test_a_ticket_tried_again_is_not_written_beside_another_jobs_pdf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """White-box audit CL 3: hot folder `large` (ticket: json) names files "{product}.pdf". Job A's
    PDF is published and its ticket fails once; the printer takes A's PDF; job B's (the same bytes:
    a reorder) is published under the name, and its ticket fails once too. A's ticket, tried first,
    was written beside B's PDF (B's printed with A's quantity), and B's then waited behind it."""
    hot = tmp_path / "hot"
    r = Rig(
        tmp_path,
        write_config(
            tmp_path,
            watch={"settle_seconds": 0.5, "artwork_timeout_seconds": 600},
            hot_folders={
                "indigo": {"path": str(hot / "indigo")},
                "large": {"path": str(hot / "large"), "ticket": "json", "filename": "{product}.pdf"},
            },
            delivery={"max_attempts": 3, "backoff_seconds": [10, 30]},
        ),
    )
    try:
        large = hot / "large"
        failures = [0]
        rename = delivery_module.rename_noreplace

        def failing_once(src: Path, dst: Path) -> None:
            if str(dst).endswith(".json") and failures[0] > 0:
                failures[0] -= 1
                raise OSError(errno.EIO, "Input/output error", str(dst))
            rename(src, dst)

        monkeypatch.setattr(delivery_module, "rename_noreplace", failing_once)
        failures[0] = 1
        a = r.order("3001", product="poster-a2")
        r.run(lambda: r.stage(a) is Stage.RETRY, steps=20, dt=0.5)
        (large / "poster-a2.pdf").unlink()  # the printer takes A's PDF (its ticket never came)
        r.clock.advance(2)
        failures[0] = 1
        b = r.order("3002", product="poster-a2")
        r.run(lambda: r.stage(b) is Stage.RETRY, steps=20, dt=0.5)
        r.clock.advance(31)
        r.run(lambda: r.stage(a) is Stage.DONE and r.stage(b) is Stage.DONE, steps=10, dt=1.0)
        assert json.loads((large / "poster-a2.json").read_text())["job_id"] == b
        assert (
            "its job ticket was not written: the printer took poster-a2.pdf first, another file is there now"
            in ([e.detail for e in r.job(a).history if e.status.value == "InHotFolder"][-1])
        )
    finally:
        r.close()


def test_a_command_interrupted_with_ctrl_c_is_withdrawn(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """White-box audit CQ 1: Ctrl-C on `release` while the daemon was busy exited 130 without a word,
    and the daemon released (and printed) the job later: the command stayed in state/commands/.
    Withdrawn now, and said; a daemon that read it a moment before does not act on it."""
    import spo_hotfolder.commands as commands_module
    from spo_hotfolder.cli import main

    r = rig
    job_id, _folder = _held(r, "CC")

    def interrupted(*_args: Any, **_kwargs: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(commands_module, "_await_command", interrupted)
    assert main(["-c", str(r.config_path), "release", job_id, "--by", "alice"]) == 130
    assert "the release of CC-1 was withdrawn, nothing was done" in capsys.readouterr().err
    assert not list(r.engine.commands_dir().glob("*.json"))
    r.run(steps=5)
    assert r.stage(job_id) is Stage.HELD and r.take_prints() == []


def test_a_command_withdrawn_after_the_daemon_read_it_is_not_done(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other half of CQ 1: the CLI withdraws the command file just after the daemon read it."""
    import spo_hotfolder.engine.actions as actions_module
    from spo_hotfolder.commands import _stage_command

    r = rig
    job_id, _folder = _held(r, "CW")
    read = actions_module.read_own_file

    def read_then_withdrawn(path: Path) -> bytes:
        data = read(path)
        path.unlink()  # the CLI's Ctrl-C, at that moment
        return data

    monkeypatch.setattr(actions_module, "read_own_file", read_then_withdrawn)
    _stage_command(r.config, Action.RELEASE, job_id, "alice", "", None)
    r.run(steps=5)
    assert r.stage(job_id) is Stage.HELD and r.take_prints() == []


def test_a_replace_command_given_a_link_uses_the_name_given(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """White-box audit CQ 3: `replace JOB front.pdf`, front.pdf a symbolic link to fixes/back.pdf,
    replaced the job's back.pdf (the link's target's name): the name the operator gave is meant."""
    import spo_hotfolder.commands as commands_module
    from spo_hotfolder.cli import main

    r = rig
    folder = _held_with_two_files(r, "LN", ("front.pdf", "back.pdf"))
    back_before = (folder / "artwork" / "back.pdf").read_bytes()
    (r.tmp / "fixes").mkdir()
    make_pdf(r.tmp / "fixes" / "back.pdf", pages=[(90.5, 61.0)])
    (r.tmp / "front.pdf").symlink_to(r.tmp / "fixes" / "back.pdf")
    monkeypatch.setattr(commands_module, "_await_command", lambda *_args, **_kwargs: 0)
    assert main(["-c", str(r.config_path), "replace", "LN-1", str(r.tmp / "front.pdf"), "--by", "alice"]) == 0
    r.run(until=lambda: "ArtworkUploaded" in r.statuses("LN-1"), steps=15)
    assert (folder / "artwork" / "front.pdf").read_bytes() == (r.tmp / "fixes" / "back.pdf").read_bytes()
    assert (folder / "artwork" / "back.pdf").read_bytes() == back_before
    assert [e.detail for e in r.job("LN-1").history if e.status.value == "ArtworkUploaded"][-1].startswith("front.pdf")


def test_a_purge_whose_record_fails_is_recorded_once_when_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """White-box audit CP 3: retention recorded JobDataDeleted and the stage "purged" in two commits;
    the second failing (an I/O error, a kill), the job stayed "done" without its files for
    done_days, then had JobDataDeleted twice. One commit: tried again as a whole, recorded once."""
    for r in rig_on(tmp_path, retention={"done_days": 1}):
        job_id = r.order("RT")
        r.run(until=done(r, job_id), steps=20)
        r.take_prints()
        failed = _ledger_fails_once(monkeypatch, r.ledger, "update_job", lambda *a, **k: k.get("stage") is Stage.PURGED)
        r.clock.advance(86400 + 60)
        r.engine.request_retention()
        r.engine.step()
        assert failed and r.stage(job_id) is Stage.DONE
        assert "JobDataDeleted" not in r.statuses(job_id)
        r.clock.advance(3600)
        r.engine.request_retention()
        r.engine.step()
        assert r.stage(job_id) is Stage.PURGED
        assert r.statuses(job_id).count("JobDataDeleted") == 1


class _CommitsFail:
    """The ledger's connection, its COMMIT of a transaction that sets a job's stage to ``stage``
    failing as SQLite's does on a full disk (``times`` times, while ``armed``)."""

    def __init__(self, ledger: Ledger, stage: Stage, times: int = 1) -> None:
        self._db = ledger._db
        self.stage, self.times, self.fired, self.armed = stage, times, 0, True
        self._sets_it = False
        ledger._db = self  # type: ignore[assignment]

    def execute(self, sql: str, *args: Any) -> Any:
        text = sql.strip()
        if text.startswith("BEGIN"):
            self._sets_it = False
        elif text == "COMMIT" and self.armed and self._sets_it and self.fired < self.times:
            self.fired += 1
            raise sqlite3.OperationalError("database or disk is full")
        elif text.startswith("UPDATE jobs SET") and "stage = ?" in text and self.stage.value in map(str, args[0]):
            self._sets_it = True
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def _status_line(folder: Path) -> str:
    return next(line for line in (folder / "STATUS.txt").read_text().splitlines() if line.startswith("Status:"))


def test_a_reject_whose_commit_fails_leaves_status_txt_as_the_ledger_says(rig: Rig) -> None:
    """White-box audit CP 1: a REJECT whose commit failed (the ledger's disk full) left STATUS.txt
    saying "Rejected" (written ahead of the commit from its records) for good, the job still held."""
    r = rig
    job_id, folder = _held(r, "RB")
    r.run(steps=2)
    failing = _CommitsFail(r.ledger, Stage.REJECTED, times=1000)
    (folder / "REJECT").write_text("kim\n")
    r.run(steps=6, dt=2.0)
    assert failing.fired and r.stage(job_id) is Stage.HELD
    assert "Rejected" not in _status_line(folder), _status_line(folder)
    (folder / "REJECT").unlink()  # the operator changes their mind; the disk gets room
    failing.armed = False
    r.run(steps=10, dt=2.0)
    assert r.stage(job_id) is Stage.HELD and "Rejected" not in _status_line(folder)


def test_a_failure_whose_commit_fails_leaves_no_error_txt_behind(tmp_path: Path) -> None:
    """White-box audit CP 2: an artwork timeout whose commit failed left work/<job>/ERROR.txt ("needs
    attention: artwork missing"); the artwork came, the job was delivered, and done/<job>/ carried it."""
    for r in rig_on(tmp_path, watch={"artwork_timeout_seconds": 5}):
        (r.inbox / "TO.yaml").write_text('order_id: "TO"\nproduct: bc-85x55\nquantity: 1\nartwork: [TO.pdf]\n')
        r.run(until=lambda r=r: r.stage("TO-1") is Stage.AWAITING, steps=10)
        failing = _CommitsFail(r.ledger, Stage.FAILED)
        r.clock.advance(6)
        r.engine.step()
        assert failing.fired and r.stage("TO-1") is Stage.AWAITING
        assert not (r.root / "work" / "TO-1" / "ERROR.txt").exists()
        assert r.job("TO-1").error is None
        make_pdf(r.inbox / "TO.pdf", pages=CARD)
        r.run(until=done(r, "TO-1"), steps=20)
        assert not (r.root / "done" / "TO-1" / "ERROR.txt").exists()


TICKETED = "P1_P1-1_poster-a2_x1"


@pytest.mark.parametrize("link", [False, True])
def test_a_file_at_a_tickets_temp_name_is_never_overwritten(rig: Rig, link: bool) -> None:
    """White-box audit CS 1: another sender's `.<name>.json.part` in the hot folder (or a link of
    that name to a file elsewhere) was truncated and written over by the job's ticket, then renamed
    in as the ticket. It is left alone; the ticket waits until it is gone."""

    large = rig.tmp / "hot" / "large"
    foreign = large / f".{TICKETED}.json.part"
    victim = rig.tmp / "victim.txt"
    victim.write_text("precious\n")
    if link:
        foreign.symlink_to(victim)
    else:
        foreign.write_text("ANOTHER SENDER'S UPLOAD\n")
    job = rig.order("P1", product="poster-a2")
    rig.run(until=lambda: rig.stage(job) is Stage.RETRY, steps=15)
    assert victim.read_text() == "precious\n"
    assert foreign.is_symlink() if link else foreign.read_text() == "ANOTHER SENDER'S UPLOAD\n"
    assert "is never overwritten; the ticket waits until it is gone" in rig.job(job).history[-1].detail
    foreign.unlink()  # the other sender's upload goes
    rig.clock.advance(11)
    rig.run(until=done(rig, job), steps=10)
    assert json.loads((large / f"{TICKETED}.json").read_text())["job_id"] == job


@pytest.mark.parametrize("printer_took_pdf", [False, True])
def test_a_ticket_renamed_in_after_a_crash_never_replaces_another(rig: Rig, printer_took_pdf: bool) -> None:
    """White-box audit CS 2 (critical): killed after the ticket's journal mark, before its rename;
    another sender's ticket of that name came (or the printer took the PDF and another sender's PDF
    and ticket came): the restart renamed ours over theirs (os.replace), beside their PDF."""

    large = rig.tmp / "hot" / "large"
    job = rig.order("P1", product="poster-a2")
    life_until_killed(
        rig,
        lambda mp: _crash_before(
            mp, delivery_module, "rename_noreplace", when=lambda src, dst: str(dst).endswith(".json")
        ),
    )
    if printer_took_pdf:
        (large / f"{TICKETED}.pdf").unlink()
        (large / f"{TICKETED}.pdf").write_bytes(b"%PDF-1.4 another sender's pdf\n")
    (large / f"{TICKETED}.json").write_text(json.dumps({"job_id": "OTHER-7", "quantity": 9999}))
    rig.start()
    rig.run(until=lambda: rig.stage(job) in (Stage.DONE, Stage.RETRY), steps=10)
    assert json.loads((large / f"{TICKETED}.json").read_text())["job_id"] == "OTHER-7"
    assert not [name for name in os.listdir(large) if name.startswith(".")]  # our temp file gone


def test_a_manifest_stuck_on_its_way_holds_a_file_back_only_at_a_start(rig: Rig) -> None:
    """White-box audit CT 1: a daemon that never had an unclaimed file stayed "at its start" for its
    whole life: an unread manifest naming a file (its upload stuck, held open) held that file back
    from the job waiting for it for ever, the job's deadline pushed back again and again."""
    r = rig
    r.run(steps=3)
    (r.inbox / "A.yaml").write_text('order_id: "A"\nproduct: bc-85x55\nquantity: 1\nartwork: [artwork.pdf]\n')
    r.run(until=lambda: r.stage("A-1") is Stage.AWAITING, steps=10)
    with open(r.inbox / "B.yaml", "w") as stuck:  # another order's manifest naming it, its upload stuck
        stuck.write('order_id: "B"\nproduct: bc-85x55\nquantity: 1\nartwork: [artwork.pdf]\n')
        stuck.flush()
        r.clock.advance(30)
        r.run(steps=3, dt=1.0)
        make_pdf(r.inbox / ".artwork.pdf.part", pages=CARD)
        os.replace(r.inbox / ".artwork.pdf.part", r.inbox / "artwork.pdf")
        r.engine.request_rescan()  # (seen once, as the watcher sees it; no rescan at every step after)
        for _ in range(20):
            r.engine.step()
            if done(r, "A-1")():
                break
            r.clock.advance(1.0)
    assert r.take_prints() == ["A_A-1_bc-85x55_x1.pdf"]


def test_a_release_whose_ledger_write_fails_once_is_acted_on_a_moment_later(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """White-box audit CR 2: a RELEASE whose ledger write failed once with an I/O error (not a full
    disk) was never read again until a restart: the job stayed blocked, STATUS.txt unchanged."""
    r = rig
    job_id, folder = _held(r, "IO")
    failed = _ledger_fails_once(monkeypatch, r.ledger, "remove_status", lambda *a, **k: True)
    (folder / "RELEASE.txt").write_text("alice\n")
    r.run(until=lambda: r.stage(job_id) is Stage.DONE, steps=30, dt=2.0)
    assert failed and r.take_prints() == ["IO_IO-1_bc-85x55_x1.pdf"]


def test_a_replacement_whose_ledger_write_fails_once_is_taken_a_moment_later(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """White-box audit CR 3: a replacement whose commit failed once was left half done (the new PDF in
    artwork/, no output, no ArtworkUploaded) until a restart, and every RELEASE was refused."""
    r = rig
    job_id, folder = _held(r, "IR")
    failed = _ledger_fails_once(
        monkeypatch, r.ledger, "mark_artwork_present", lambda *a, **k: k.get("replaced") is True
    )
    make_pdf(r.tmp / "B.pdf", pages=[(91.0, 61.0), (91.5, 61.0)])
    shutil.copy(r.tmp / "B.pdf", folder / "replace" / "IR.pdf")
    r.run(until=lambda: r.statuses(job_id).count("OutputCreated") == 2, steps=30, dt=2.0)
    assert failed and r.statuses(job_id).count("ArtworkUploaded") == 1
    assert (folder / "artwork" / "IR.pdf").read_bytes() == (r.tmp / "B.pdf").read_bytes()
    assert os.listdir(folder / "replace") == []
    (folder / "RELEASE.txt").write_text("alice\n")
    r.run(until=lambda: r.stage(job_id) is Stage.DONE, steps=20, dt=2.0)
    assert r.take_prints() == ["IR_IR-1_bc-85x55_x1.pdf"]


def test_a_crash_while_a_reprint_is_taken_in_records_nothing_that_did_not_happen(rig: Rig) -> None:
    """White-box audit CU 2: killed while a reprint was taken in (after its job's folder was made
    ready, its old artwork in history/, and its stage "awaiting" committed alone; before the intake's
    commit), the restart ran the job before reading its manifest again: ValidationFailed "artwork
    file missing", the job in failed/ with an ERROR.txt, before the reprint went through."""
    r = rig
    job_id = r.order("C1")
    r.run(until=done(r, job_id), steps=20)
    r.take_prints()
    make_pdf(r.inbox / "C1.pdf", pages=CARD)
    (r.inbox / "C1.yaml").write_text(
        'order_id: "C1"\nproduct: bc-85x55\nquantity: 1\nartwork: [C1.pdf]\nreprint: true\n'
    )
    life_until_killed(r, lambda mp: _crash_before(mp, Engine, "_record_intake"))
    r.start()
    r.run(until=lambda: r.job(job_id).generation == 2 and r.stage(job_id) is Stage.DONE, steps=30)
    assert "ValidationFailed" not in r.statuses(job_id)
    assert r.take_prints() == ["C1_C1-1_bc-85x55_x1.pdf"]


@pytest.mark.parametrize("trimbox", [(3, 3, 88, 58), None], ids=["linked", "rebuilt"])
def test_artwork_edited_in_place_during_its_check_is_checked_again(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, trimbox: Any
) -> None:
    """White-box audit CV 1: an edit in place that kept the file's size and time, after the check
    read the file's sha256 and before it read its pages: the edited file (no check's) was delivered,
    the history saying "passed", the recorded digest the file's before the edit."""
    import spo_hotfolder.preflight as preflight_module

    r = rig
    blue, red = b"0 0 1 rg", b"1 0 0 rg"
    make_pdf(r.inbox / "E1.pdf", pages=CARD, trimbox=trimbox, content=blue + b" 10 10 50 50 re f")
    r.engine.pdf = InProcessPdf()  # (no check begun ahead: the job's own check)
    original = preflight_module._sha256
    edited: list[str] = []

    def hash_then_edit(path: str) -> str:
        digest = original(path)
        if path.endswith("/artwork/E1.pdf") and not edited:
            before = os.stat(path)
            data = Path(path).read_bytes()
            Path(path).chmod(0o644)
            with open(path, "r+b") as fh:  # in place, the same size
                fh.write(data.replace(blue, red))
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # its time put back
            edited.append(path)
        return str(digest)

    monkeypatch.setattr(preflight_module, "_sha256", hash_then_edit)
    (r.inbox / "E1.yaml").write_text('order_id: "E1"\nproduct: bc-85x55\nquantity: 1\nartwork: [E1.pdf]\n')
    r.run(until=done(r, "E1-1"), steps=40)
    assert edited
    assert len(r.take_prints()) == 1
    art = (r.root / "done" / "E1-1" / "artwork" / "E1.pdf").read_bytes()
    assert r.job("E1-1").preflight["artwork_sha256"] == [hashlib.sha256(art).hexdigest()], "checked again"
    assert red in art


def _waiting_to_retry_backed_up(r: Rig, order_id: str, backup: Path) -> str:
    """A job whose first copy failed (its hot folder not mounted), the ledger backed up then; the
    job then delivered and taken by the printer. Returns the job."""
    r.hot.rmdir()
    job_id = r.order(order_id)
    r.run(until=lambda: r.ledger.get_job(job_id) is not None and r.job(job_id).attempts >= 1, steps=10)
    ledger = r.config.paths.state / "ledger.sqlite3"
    with contextlib.closing(sqlite3.connect(ledger)) as src, contextlib.closing(sqlite3.connect(backup)) as dst:
        src.backup(dst)
    r.hot.mkdir()
    r.run(until=done(r, job_id), steps=60)
    assert len(r.take_prints()) == 1
    return job_id


def _ledger_put_back(r: Rig, backup: Path) -> None:
    r.close()
    ledger = r.config.paths.state / "ledger.sqlite3"
    for extra in ("-wal", "-shm"):
        ledger.with_name(ledger.name + extra).unlink(missing_ok=True)
    shutil.copyfile(backup, ledger)


def test_a_kill_as_a_ledger_put_back_is_found_older_prints_nothing_again(tmp_path: Path) -> None:
    """White-box audit CW 1 (critical): the start found the ledger older than the folders (put back
    from a backup) and moved the job's folder from done/ to failed/ to say so; killed before that
    commit, the next start took the folder in failed/ for a crash's and sent the job on: printed
    again."""
    for r in rig_on(tmp_path):
        job_id = _waiting_to_retry_backed_up(r, "B1", tmp_path / "backup.sqlite3")
        _ledger_put_back(r, tmp_path / "backup.sqlite3")
        life_until_killed(
            r, lambda mp: _crash_after(mp, engine_module.os, "replace", when=lambda src, dst: "/failed/" in str(dst))
        )
        r.start()
        r.run(steps=20)
        assert r.take_prints() == []
        assert r.stage(job_id) is Stage.FAILED


def test_a_blocked_reprint_waiting_when_the_ledger_is_put_back_is_not_printed(tmp_path: Path) -> None:
    """White-box audit CW 2 (critical): a blocked reprint waited in quarantine/ when the ledger was
    put back from a backup of before the first delivery: the start moved it to work/, where the
    older ledger had the job, and it printed, unreleased, a second time."""
    for r in rig_on(tmp_path):
        job_id = _waiting_to_retry_backed_up(r, "R1", tmp_path / "backup.sqlite3")
        r.order("R1", extra="reprint: true\nblocked: true\n")
        r.run(until=lambda r=r, j=job_id: r.stage(j) is Stage.HELD, steps=60)
        _ledger_put_back(r, tmp_path / "backup.sqlite3")
        r.start()
        r.run(steps=20)
        assert r.take_prints() == []
        assert r.stage(job_id) is Stage.FAILED


@pytest.mark.parametrize("point", ["_refuse_jobs", "_record_intake"])
def test_a_kill_while_an_order_is_partly_refused_loses_no_refusal(tmp_path: Path, point: str) -> None:
    """White-box audit CU 1: an order sent again, one job delivered already (refused) and one new;
    killed after the new job's intake was committed and before the refusal was filed, the restart
    only finished the intake: no ERROR.txt said the refusal, and the refused job's file went to
    failed/ later as "named by no manifest"."""
    for r in rig_on(tmp_path, watch={"artwork_timeout_seconds": 60}):
        make_pdf(r.inbox / "s.pdf", pages=CARD)
        (r.inbox / "M3.yaml").write_text('order_id: "M3"\njobs:\n - {product: bc-1, quantity: 1, artwork: [s.pdf]}\n')
        r.run(until=done(r, "M3-1"), steps=20)
        r.take_prints()
        make_pdf(r.inbox / "s.pdf", pages=CARD)
        make_pdf(r.inbox / "t.pdf", pages=CARD)
        (r.inbox / "M3.yaml").write_text(
            'order_id: "M3"\njobs:\n - {product: bc-1, quantity: 1, artwork: [t.pdf]}\n'
            " - {product: bc-2, quantity: 2, artwork: [s.pdf]}\n"
        )
        life_until_killed(r, lambda mp: _crash_before(mp, Engine, point))
        r.start()
        r.run(until=done(r, "M3-2"), steps=30)
        assert len(r.take_prints()) == 1
        r.run(steps=90, dt=1.0)
        errors = [p.read_text() for p in (r.root / "failed").glob("*/ERROR.txt")]
        assert errors and all("named by no manifest" not in e and "referred to it" not in e for e in errors), errors
        assert any("M3-1" in e for e in errors)
        assert os.listdir(r.inbox) == []


def test_route_says_a_job_whose_pdf_is_delivered_already_is_refused(
    ticket_rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """White-box audit CQ 2: `route` said "its artwork and facts would be replaced" of a job whose
    PDF is in its hot folder already (its ticket failed), and nothing of a job the ledger does not
    know whose folder is in done/: the daemon refuses both manifests."""
    r = ticket_rig
    _failing_tickets(monkeypatch, 1)
    job_id = r.order("T9")
    r.run(until=lambda: r.stage(job_id) is Stage.RETRY, steps=10)
    manifest = r.tmp / "T9.yaml"
    manifest.write_text('order_id: "T9"\nproduct: bc-85x55\nquantity: 5\nartwork: [T9.pdf]\n')
    assert "would be refused without reprint: true" in _route(r, manifest)["known"]
    (r.root / "done" / "GONE-1").mkdir(parents=True)
    (r.root / "done" / "GONE-1" / "STATUS.txt").write_text("Job GONE-1\n")
    manifest.write_text('order_id: "GONE"\nproduct: bc-85x55\nquantity: 1\nartwork: [GONE.pdf]\n')
    assert "its folder done/GONE-1/ is there" in _route(r, manifest)["known"]


def test_a_manifest_named_manifest_yaml_at_the_top_of_the_inbox_naming_another_manifest_is_refused_at_once(
    rig: Rig,
) -> None:
    """Audit CX 3: inbox/manifest.yaml listing art.yaml as artwork was read as a folder drop's
    manifest (by its name), where art.yaml could be artwork; in inbox/ it is taken as a manifest,
    and the job waited an hour for it. Now refused at once, as order.yaml is."""
    r = rig
    _sent(r, "a.pdf")
    _sent(r, "manifest.yaml", 'order_id: "MY"\nproduct: bc-85x55\nquantity: 1\nartwork: [a.pdf, art.yaml]\n')
    r.run(until=lambda: (r.root / "failed" / "manifest.yaml" / "ERROR.txt").exists(), steps=10, dt=0.5)
    said = " ".join((r.root / "failed" / "manifest.yaml" / "ERROR.txt").read_text().split())
    assert 'names a manifest ("art.yaml")' in said
    assert r.stage("MY-1") is None


def test_a_refused_manifest_whose_name_holds_control_characters_is_named_printably_in_its_error_txt(
    rig: Rig,
) -> None:
    """Audit CX 4: a name sent over SFTP or rsync may hold a line break or a terminal's escape
    codes: the folder's name was made safe, ERROR.txt's title and fix showed them as they came
    (`cat ERROR.txt` cleared the operator's terminal)."""
    r = rig
    name = "order\n\x1b[2J\x1b[32mOK.yaml"
    _sent(r, name, "order_id: [\n")
    r.run(until=lambda: any((r.root / "failed").iterdir()), steps=20, dt=1)
    [folder] = list((r.root / "failed").iterdir())
    said = (folder / "ERROR.txt").read_text()
    assert "\x1b" not in said and "order\n" not in said
    assert "Manifest order [2J [32mOK.yaml could not be used" in said


@pytest.mark.parametrize("spelling", ["artwork.pdf", "./artwork.pdf"])
def test_a_waiting_order_does_not_take_a_file_a_manifest_being_written_names_as_dot_slash(
    rig: Rig, spelling: str
) -> None:
    """Audit DA 1: order A waits for artwork.pdf; order B's artwork.pdf is renamed in, then B's
    JSON manifest written slowly in place, naming it "./artwork.pdf" (the parser's artwork.pdf):
    the guard for manifests on their way looked for the word artwork.pdf only, and A-1 printed
    B's PDF."""
    r = rig
    (r.inbox / "a.yaml").write_text('order_id: "A"\nproduct: bc-85x55\nquantity: 1\nartwork: [artwork.pdf]\n')
    r.engine.hint(r.inbox / "a.yaml")
    r.run(until=lambda: r.stage("A-1") is Stage.AWAITING, steps=8, dt=0.25)
    r.clock.advance(60)
    r.engine.step()
    temp = r.inbox / ".artwork.pdf.Ab12Cd"
    make_pdf(temp, pages=CARD, content=b"0 0 m 10 10 l S % order B\n")
    b_digest = hashlib.sha256(temp.read_bytes()).hexdigest()
    os.replace(temp, r.inbox / "artwork.pdf")
    r.engine.hint(r.inbox / "artwork.pdf", moved_in=True)
    r.engine.step()
    text = json.dumps({"order_id": "B", "product": "bc-85x55", "quantity": 1, "artwork": [spelling]})
    chunk, written, at = max(1, (len(text) - 1) // 10), 0, 0.0
    manifest = r.inbox / "b.json"
    while at < 9.0:  # (written a tenth every half second, the closing brace after 5 s)
        if written < len(text) - 1 and at >= 0.5 * (written // chunk):
            with manifest.open("a") as fh:
                fh.write(text[written : min(written + chunk, len(text) - 1)])
            written = min(written + chunk, len(text) - 1)
            r.engine.hint(manifest)
        if written == len(text) - 1 and at >= 5.0:
            with manifest.open("a") as fh:
                fh.write(text[-1])
            written += 1
            r.engine.hint(manifest)
        r.engine.step()
        r.clock.advance(0.25)
        at += 0.25
    r.run(steps=40, dt=0.5)
    taken = r.root / "done" / "A-1" / "artwork" / "artwork.pdf"
    assert not (taken.exists() and hashlib.sha256(taken.read_bytes()).hexdigest() == b_digest)
    # (which order's it is cannot be told: set aside for the operator, as README says)
    assert "A_A-1_bc-85x55_x1.pdf" not in r.take_prints()
    assert (r.root / "failed" / "artwork.pdf" / "artwork.pdf").exists()


def test_a_named_pipe_swapped_in_as_a_file_is_judged_does_not_hold_the_engine(rig: Rig) -> None:
    """Audit DA 3: a pipe renamed over x.pdf between the stability tracker's look and its look
    inside the file (for the PDF's end): a plain open() waited for a writer, and the engine with it."""
    r = rig
    path = r.inbox / "x.pdf"
    make_pdf(path, pages=CARD)
    r.engine.hint(path, moved_in=True)
    real = r.engine.tracker._stat
    swapped: list[bool] = []

    def stat_then_swap(seen: Any) -> Any:
        st = real(seen)
        if Path(seen) == path and not swapped and path in r.engine.tracker:
            os.mkfifo(r.inbox / ".fifo.tmp")
            os.replace(r.inbox / ".fifo.tmp", path)
            swapped.append(True)
        return st

    r.engine.tracker._stat = stat_then_swap  # type: ignore[method-assign]
    r.engine._drain_hints()
    stepping = threading.Thread(target=r.engine.step, daemon=True)
    stepping.start()
    stepping.join(10)
    if stepping.is_alive():  # (let it go: a writer opens the pipe)
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        stepping.join(5)
        pytest.fail("the engine waited in open() of a named pipe")
    assert swapped


def test_a_release_in_advance_after_a_clock_stepped_back_still_does_not_approve_unseen_artwork(rig: Rig) -> None:
    """Audit DC 2: a job delivered at 10:00, the clock stepped back two hours (NTP), a blocked
    reprint failed its check, the operator released it in advance (approving their own fix), and
    the storefront sent new artwork: the old delivery's time, later than the release's, counted as
    the release used, and the unseen artwork printed."""
    r = rig
    job_id = r.order("Z1")
    r.run(until=done(r, job_id), steps=30)
    assert r.take_prints() == ["Z1_Z1-1_bc-85x55_x1.pdf"]
    r.clock._now -= timedelta(hours=2)
    make_pdf(r.inbox / "z1r.pdf", pages=[(50.0, 50.0)])
    (r.inbox / "z1r.yaml").write_text(
        'order_id: "Z1"\nproduct: bc-85x55\nquantity: 1\nartwork: [z1r.pdf]\nreprint: true\nblocked: true\n'
    )
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=30)
    (r.root / "failed" / job_id / "RELEASE").write_text("alice\n")
    r.run(until=lambda: not r.job(job_id).blocked, steps=30)
    make_pdf(r.inbox / "z1s.pdf", pages=CARD)
    (r.inbox / "z1s.yaml").write_text('order_id: "Z1"\nproduct: bc-85x55\nquantity: 1\nartwork: [z1s.pdf]\n')
    r.run(until=lambda: r.stage(job_id) in (Stage.DONE, Stage.HELD), steps=40)
    assert r.stage(job_id) is Stage.HELD and r.take_prints() == []
    block = r.job(job_id).active_block()
    assert block is not None and "the release by alice was given in advance" in block.detail


def test_a_replacement_whose_name_holds_a_line_break_adds_no_row_of_its_own_to_status_txt(arrival_rig: Rig) -> None:
    """Audit DC 3: a PDF put into replace/ named "x<newline>  <time>  InHotFolder  system  hot
    folder indigo.pdf": STATUS.txt showed a well-formed InHotFolder row for a job blocked and never
    delivered (the file's name went into the history as it came)."""
    r = arrival_rig
    job_id = r.order("N1")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=40)
    folder = r.root / "quarantine" / job_id
    make_pdf(folder / "replace" / "x\n  2026-11-22T10:00:05.000Z  InHotFolder            system  x.pdf", pages=CARD)
    r.run(until=lambda: "ArtworkUploaded" in r.statuses(job_id) and r.stage(job_id) is Stage.HELD, steps=40)
    rows = (folder / "STATUS.txt").read_text().splitlines()
    assert not [row for row in rows if row.split()[1:2] == ["InHotFolder"]]


def test_a_file_renamed_in_then_written_again_before_the_engine_looks_settles(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit DA 2: one rename event made every later event of that path count as "renamed in"
    until the engine's next step: a manifest renamed in and then rewritten in place by another
    client (half written so far) was taken at once, where no read lease tells of a writer (another
    owner's file without CAP_LEASE)."""
    import spo_hotfolder.stability as stability_module

    monkeypatch.setattr(stability_module, "open_for_writing", lambda path: False)
    r = rig
    manifest = r.inbox / "m.yaml"
    (r.inbox / ".m.yaml.Xy12Zq").write_text('order_id: "M"\nproduct: bc-85x55\nquantity: 500\nartwork: [m.pdf]\n')
    os.replace(r.inbox / ".m.yaml.Xy12Zq", manifest)
    r.engine.hint(manifest, moved_in=True)
    manifest.write_text('order_id: "M2"\nproduct: bc-85x55\n')  # (another client, half done)
    r.engine.hint(manifest)
    r.engine.step()
    assert manifest.exists() and not (r.root / "failed" / "m.yaml").exists()


def test_an_output_cut_short_and_written_back_during_its_copy_is_never_published_cut_short(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit DD 1: the copy into the hot folder took the output's size once, as it began, and
    stopped where the file then ended: an output truncated during the copy and written back the
    same (its time kept, as `cp -p` or a sync tool does) passed the check after the copy, and half
    the PDF was renamed into the hot folder and recorded InHotFolder."""
    r = rig
    real = os.sendfile
    state: dict[str, Any] = {"calls": 0}

    def sendfile(out_fd: int, in_fd: int, offset: int, count: int) -> int:
        if not _is_hot_temp(out_fd):
            return real(out_fd, in_fd, offset, count)
        state["calls"] += 1
        src = Path(f"/proc/self/fd/{in_fd}").readlink()
        if state["calls"] == 1:
            st = os.stat(src)
            state["data"], state["times"] = src.read_bytes(), (st.st_atime_ns, st.st_mtime_ns)
            os.truncate(src, len(state["data"]) // 2)
            return real(out_fd, in_fd, offset, count)
        sent = real(out_fd, in_fd, offset, count)
        if sent == 0 and "restored" not in state:
            with open(src, "r+b") as fh:
                fh.write(state["data"])
            os.utime(src, ns=state["times"])
            state["restored"] = True
        return sent

    job_id = r.order("TR1")
    monkeypatch.setattr(os, "sendfile", sendfile)
    r.run(until=done(r, job_id), steps=30)
    output = r.root / "done" / job_id / "output" / r.job(job_id).output
    [printed] = [p for p in r.hot.iterdir() if not p.name.startswith(".")]
    assert printed.read_bytes() == output.read_bytes()
    failed = [e.detail for e in r.job(job_id).history if e.status is JobStatus.CopyToHotFolderFailed]
    assert len(failed) == 1 and "changed while it was copied" in failed[0]


def test_a_ledger_found_damaged_by_the_start_s_recovery_is_said_and_the_engine_thread_lives_on(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit DE 1: a page of the ledger's jobs table damaged (not the one the start's own look
    reads): the start's recovery raised, the engine thread died of it, and the daemon ran on doing
    nothing; `health` said "the engine thread is not running", never that the ledger is damaged."""
    r = rig

    def damaged(self: Engine) -> None:
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(Engine, "reconcile", damaged)
    with capture_logs() as logs:
        engine = threading.Thread(target=r.engine.run, daemon=True)
        engine.start()
        deadline = time.monotonic() + 10
        while r.engine.ledger_damage is None and time.monotonic() < deadline:
            time.sleep(0.05)
        alive = engine.is_alive()
        r.engine.stop()
        engine.join(10)
    assert alive and not engine.is_alive()
    assert (
        r.engine.ledger_damage is not None and "is damaged (database disk image is malformed)" in r.engine.ledger_damage
    )
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["ledger.damaged"]


def _failed_with_another_file_in_output(r: Rig) -> tuple[str, Path]:
    job_id = r.order("N1", trimbox=(3, 3, 88, 58))
    shutil.rmtree(r.hot)  # (the hot folder gone: the job ends in failed/ with its output)
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=120, dt=2.0)
    folder = r.root / "failed" / job_id
    r.hot.mkdir(parents=True)
    (folder / "output" / "N1-checked-by-kim.pdf").write_bytes(b"%PDF-1.4 x")  # (moved to history/ when made again)
    return job_id, folder


def _moving_outputs_fails(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    import spo_hotfolder.engine.processing as processing_module

    original = processing_module.into_history

    def failing(job_dir: Path, src: Path, now: Any, name: str | None = None) -> Any:
        if src.parent.name == "output":
            raise OSError(code, os.strerror(code), str(src))
        return original(job_dir, src, now, name)

    monkeypatch.setattr(processing_module, "into_history", failing)


@pytest.mark.parametrize("code", [errno.EIO, errno.ENOSPC])
def test_a_failure_moving_an_earlier_output_aside_is_an_output_failure(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """Audit DF 1, 2: the output's making moves other files in output/ to history/ first; an I/O
    error there left the job in failed/ still saying OutputCreationStarted (no OutputCreationFailed),
    and a full disk started the output again every 5 s for ever (two entries each time), never
    retried on its schedule nor failed."""
    r = rig
    job_id, folder = _failed_with_another_file_in_output(r)
    _moving_outputs_fails(monkeypatch, code)
    (folder / "RETRY").write_text("kim\n")
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED and not (folder / "RETRY").exists(), steps=120, dt=5.0)
    statuses = r.statuses(job_id)
    assert r.job(job_id).status is JobStatus.OutputCreationFailed
    assert statuses.count("OutputCreationStarted") <= 1 + r.config.delivery.max_attempts


def test_an_inbox_with_the_sticky_bit_and_another_user_s_upload_is_said_not_failed_at_every_rescan(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit DD 4: a shared upload folder of mode 1777 (the sticky bit: only a file's owner, the
    folder's or root may move it), the daemon not root: each take failed with a PermissionError
    traceback at every rescan, the manifest stayed in inbox/ and the job waited past its artwork's
    time saying "not arrived yet". Said once as the folder a sysadmin must change; taken once it is."""
    r = rig
    r.inbox.chmod(0o1777)  # (a shared upload folder, as some shops have)
    monkeypatch.setattr(os, "geteuid", lambda: 65534)  # (the daemon's own account; the folder is root's)
    job_id = r.order("ST1")
    for name in ("ST1.pdf", "ST1.yaml"):
        os.chown(r.inbox / name, 65533, 65533)  # (the uploader's)
    with capture_logs() as logs:
        r.run(steps=5)
    assert r.stage(job_id) is None and (r.inbox / "ST1.yaml").exists()
    said = [e for e in logs if e["log_level"] in ("error", "critical")]
    assert [e["event"] for e in said] == ["inbox.folder_not_writable"]
    assert "the folder has the sticky bit (mode drwxrwxrwt)" in said[0]["reason"]
    assert "remove the sticky bit (chmod -t)" in said[0]["reason"]
    r.inbox.chmod(0o2775)  # (the sticky bit removed)
    r.run(until=done(r, job_id), steps=40)


def _refuse_moving(monkeypatch: pytest.MonkeyPatch, art: Path, error: int = errno.EACCES) -> None:
    """Every rename and link of ``art`` refused, as a security policy (or `chattr +i`, without
    root's say) refuses them, the folder writable all the same."""

    def refused(real: Callable[..., Any]) -> Callable[..., Any]:
        def call(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
            if Path(src) == art:
                raise PermissionError(error, os.strerror(error), str(src), str(dst))
            return real(src, dst, *args, **kwargs)

        return call

    monkeypatch.setattr(os, "link", refused(os.link))
    monkeypatch.setattr(os, "replace", refused(os.replace))  # (fsutil's, and a file set aside's)


def _refuse_reading(monkeypatch: pytest.MonkeyPatch, art: Path) -> None:
    """``art`` unreadable for the daemon's user, as another account's upload made with umask 077
    is (the tests run as root, who may read any file)."""
    real_open, real_access = os.open, os.access

    def refusing_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(os.fsdecode(path)) == art:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, **kwargs)

    def access(path: Any, mode: int, **kwargs: Any) -> bool:
        return not (Path(os.fsdecode(path)) == art and mode & os.R_OK) and real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    monkeypatch.setattr(os, "access", access)


@pytest.mark.parametrize("refusal", ["immutable", "policy", "unreadable"])
def test_an_inbox_artwork_the_daemon_may_not_move_fails_its_job_at_its_deadline_saying_why(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, refusal: str
) -> None:
    """Audit HB 3: an artwork marked immutable (chattr +i; only root may clear it) or whose move a
    security policy refuses, in a folder the daemon may change: its job waited past its deadline,
    STATUS.txt saying "still being written", an error logged every 5 s. It fails at its deadline
    saying why and what to do, said once in the log; cleared, a RETRY takes it."""
    r = rig
    job_id = r.order("IM1")
    art = r.inbox / "IM1.pdf"
    if refusal == "immutable":
        if subprocess.run(["chattr", "+i", str(art)], capture_output=True).returncode != 0:
            pytest.skip("this filesystem (or user) has no immutable flag")
    elif refusal == "policy":
        _refuse_moving(monkeypatch, art)
    else:
        _refuse_reading(monkeypatch, art)  # (audit BH 1: said immutable, or a security policy)
    try:
        with capture_logs() as logs:
            r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=60, dt=30)
        assert r.clock.now() - parse_iso(r.job(job_id).created_at) <= timedelta(
            seconds=r.config.watch.artwork_timeout_seconds + 60
        )
        said = [e for e in logs if e["log_level"] in ("error", "critical")]
        assert [e["event"] for e in said] == ["inbox.file_not_movable"], [
            {k: e.get(k) for k in ("event", "what", "subject", "file", "error")} for e in said
        ]
        assert r.statuses(job_id) == ["Ordered", "AwaitingData", "ValidationFailed"]  # (review HI 3)
        status = " ".join((r.root / "failed" / job_id / "STATUS.txt").read_text().split())
        assert "still being written" not in status and "waiting for IM1.pdf: it is there, but" in status
        error = " ".join((r.root / "failed" / job_id / "ERROR.txt").read_text().split())
        assert "artwork not taken after 600 seconds: IM1.pdf is in the inbox, but the daemon may not take it" in error
        assert "IM1.pdf is at inbox/IM1.pdf, but the daemon may not take it" in error, error
        if refusal == "immutable":
            assert "marked immutable or append-only" in error and "chattr -i -a" in error
        elif refusal == "policy":
            assert "a security policy" in error
        else:
            assert "the daemon's user may not read IM1.pdf (it belongs to root, mode -rw-r--r--" in error, error
            assert f"chmod g+r '{art}'" in error and "immutable" not in error and "policy" not in error
        assert "drop RETRY here" in error
        assert art.exists(), "the file stays where it is, never lost"
        # Review HQ 1: a RETRY while the file is as it was: the job says again why it waits (it
        # said "RecreationRequested"), and fails again at its deadline.
        (r.root / "failed" / job_id / "RETRY").write_text("ops\n")
        r.run(until=lambda: r.job(job_id).status is JobStatus.AwaitingData, steps=10, dt=1)
        assert "it is there, but" in r.job(job_id).history[-1].detail
        r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=60, dt=30)
    finally:
        if refusal == "immutable":
            subprocess.run(["chattr", "-i", str(art)], capture_output=True)
        monkeypatch.undo()
    (r.root / "failed" / job_id / "RETRY").write_text("ops\n")
    r.run(until=done(r, job_id), steps=40)
    assert r.take_prints() == ["IM1_IM1-1_bc-85x55_x1.pdf"]


def test_a_job_that_comes_for_an_artwork_the_daemon_may_not_move_says_why_at_once_and_what_to_do(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review BT 2 (of HQ 1's mend): a second order naming an inbox file already said not movable
    (a security policy, chattr +i) said "Ordered" until the next try to move it, seconds later:
    it says AwaitingData with the reason when it comes; and BT 3: STATUS.txt's "what you can do
    now" says what holds it, not that it waits for its files to arrive."""
    r = rig
    art = r.inbox / "shared.pdf"
    make_pdf(art, pages=CARD)
    _refuse_moving(monkeypatch, art)

    def status(job_id: str) -> JobStatus | None:
        job = r.ledger.get_job(job_id, history=False)
        return None if job is None else job.status

    (r.inbox / "u1.yaml").write_text('order_id: "U1"\nproduct: bc-85x55\nquantity: 1\nartwork: [shared.pdf]\n')
    r.run(until=lambda: status("U1-1") is JobStatus.AwaitingData, steps=20, dt=0.5)
    (r.inbox / "u2.yaml").write_text('order_id: "U2"\nproduct: bc-85x55\nquantity: 1\nartwork: [shared.pdf]\n')
    r.engine.hint(r.inbox / "u2.yaml", moved_in=True)
    r.run(until=lambda: status("U2-1") is not None, steps=10, dt=0.0)  # (no time for another try to move it)
    assert status("U2-1") is JobStatus.AwaitingData
    assert "it is there, but" in r.job("U2-1").history[-1].detail
    # Review BT 3: what the operator can do now said "waits for its artwork files to arrive".
    r.engine.flush_status()
    said = " ".join((r.engine.job_dir(r.job("U2-1")) / "STATUS.txt").read_text().split())
    assert "The artwork is in the inbox, but the daemon may not take it: the system refuses" in said, said
    assert "then it fails: artwork not taken" in said and "to arrive in the inbox" not in said
    # Review HU 2: the file gone (deleted, set aside), STATUS.txt said so on, from the history.
    art.unlink()
    r.run(steps=2, dt=0.0)
    r.engine.flush_status()
    said = " ".join((r.engine.job_dir(r.job("U2-1")) / "STATUS.txt").read_text().split())
    assert "may not take it" not in said and "waits for its artwork files to arrive in the inbox" in said, said
    assert r.job("U2-1").history[-1].detail == "waiting for shared.pdf"


def test_a_delivery_s_intent_is_on_disk_before_its_temp_file_is_made(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review HC 1 (a power cut): the intent was committed without a sync, and the temp file's folder
    entry reached the disk first (the filesystem's journal commits every few seconds, and with any
    fsync): after the cut no attempt of ours knew the temp file, taken for another sender's; the
    job failed and the file stayed in the hot folder for good. The intent is synced first."""
    import spo_hotfolder.engine.deliveries as deliveries

    r = rig
    said: list[str] = []
    r.ledger._db.set_trace_callback(lambda sql: said.append(" ".join(sql.split())))
    real_write_temp = deliveries.write_temp

    def write_temp(src: Path, temp: Path, *args: Any, **kwargs: Any) -> Any:
        said.append(f"temp file {temp.name}")
        return real_write_temp(src, temp, *args, **kwargs)

    monkeypatch.setattr(deliveries, "write_temp", write_temp)
    job_id = r.order("HI")
    r.run(until=done(r, job_id), steps=20)
    made = said.index("temp file .HI_HI-1_bc-85x55_x1.pdf.part")
    intent = next(i for i, sql in enumerate(said) if sql.startswith("INSERT INTO deliveries"))
    before = said[:intent]
    assert before[-2:] == ["PRAGMA synchronous=FULL", "BEGIN IMMEDIATE"], before[-3:]
    assert "COMMIT" in said[intent:made], said[intent:made]


def test_a_drop_file_is_filed_only_once_its_action_is_on_disk(
    arrival_rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review HC 2 (a power cut): a RELEASE acted on was moved into history/ while its action's
    commit was not on disk yet; the cut kept the move and not the commit: the job still blocked
    in quarantine/, its RELEASE filed as answered. The ledger is synced before a drop file moves."""
    import spo_hotfolder.engine.actions as actions

    r = arrival_rig
    job_id = r.order("HR")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    order: list[str] = []
    real_sync, real_into_history = Ledger.sync, actions.into_history

    def sync(self: Ledger) -> None:
        order.append("sync")
        real_sync(self)

    def into_history(folder: Path, path: Path, *args: Any, **kwargs: Any) -> Path:
        order.append(f"filed {path.name}")
        return real_into_history(folder, path, *args, **kwargs)

    monkeypatch.setattr(Ledger, "sync", sync)
    monkeypatch.setattr(actions, "into_history", into_history)
    (r.root / "quarantine" / job_id / "RELEASE").write_text("cal\n")
    r.run(until=done(r, job_id), steps=20)
    assert "filed RELEASE" in order and order[order.index("filed RELEASE") - 1] == "sync", order


@pytest.mark.parametrize("action", ["RELEASE", "REJECT", "RETRY", "replace", "refused"])
def test_an_operator_action_s_answer_is_on_disk_before_anyone_may_read_it(arrival_rig: Rig, action: str) -> None:
    """Review HO 1 (a power cut): an action and its answer were committed without a sync, the sync
    coming after: a CLI reading the answer in between exited 0 ("w1-1: rejected by bob"), and a cut
    then lost the action (a rejected job printed after the restart). The commit that carries an
    answer is a FULL one: SQLite shows it to other processes only once it is on disk."""
    r = arrival_rig
    failing = action == "RETRY"
    job_id = r.order("HO", trimbox=(0, 0, 40, 40) if failing else None)  # (the wrong size: failed/)
    r.run(until=lambda: r.stage(job_id) is (Stage.FAILED if failing else Stage.HELD), steps=10)
    folder = r.root / ("failed" if failing else "quarantine") / job_id
    said: list[str] = []
    r.ledger._db.set_trace_callback(lambda sql: said.append(" ".join(sql.split())))
    if action == "replace":
        make_pdf(folder / "replace" / "new.pdf", pages=CARD)
    else:
        (folder / ("RELEASE" if action == "refused" else action)).write_text("bob\n")
    if action == "refused":
        (folder / "RELEASE").unlink()
        (folder / "RETRY").write_text("bob\n")  # (a held job is not failed: refused)
    r.run(until=lambda: any(sql.startswith("INSERT INTO drops") for sql in said), steps=20)
    answer = next(i for i, sql in enumerate(said) if sql.startswith("INSERT INTO drops"))
    begun = max(i for i, sql in enumerate(said[:answer]) if sql == "BEGIN IMMEDIATE")
    assert said[begun - 1] == "PRAGMA synchronous=FULL", said[begun - 3 : answer + 1]


def test_a_ledger_sync_writes_and_so_syncs_the_wal(rig: Rig) -> None:
    """Review HJ 1: Ledger.sync() (and a nested step's durable wish) made its FULL commit of an
    UPDATE that changed nothing: SQLite wrote no WAL frame, and synced nothing; a drop file was
    filed while its action was not on disk after all (a power cut lost a REJECT)."""
    r = rig
    wal = r.config.paths.state / "ledger.sqlite3-wal"
    r.order("SY")
    r.run(steps=3)
    before = wal.read_bytes()
    r.ledger.sync()
    after = wal.read_bytes()
    assert after != before, "a frame written: the FULL commit then syncs the WAL"
    with r.ledger.transaction(), r.ledger.transaction(durable=True):  # (a nested durable step: the same)
        pass
    assert wal.read_bytes() != after


@pytest.mark.parametrize("how", ["replace/", "command"])
def test_a_replacement_and_a_command_leave_only_once_their_action_is_on_disk(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """Review HJ 2-3 (power cuts): a replacement's file left replace/, and a CLI command's file
    state/commands/, while the ledger's record of them was not on disk: after the cut the operator's
    replacement was gone, the job failed "output changed"; a `reject` exited 0 and was lost. And
    the replacement's bytes were never flushed: an offline `replace` left an empty artwork file."""
    from spo_hotfolder import fsutil
    from spo_hotfolder.commands import _stage_command
    from spo_hotfolder.engine import actions

    r = rig
    job_id, folder = _held(r, "RC")
    order: list[str] = []
    real_sync, real_unlink, real_fsync_file = Ledger.sync, Path.unlink, fsutil.fsync_file

    def sync(self: Ledger) -> None:
        order.append("sync")
        real_sync(self)

    def unlink(self: Path, *args: Any, **kwargs: Any) -> None:
        order.append(f"unlink {self.parent.name}/{self.name}")
        real_unlink(self, *args, **kwargs)

    def fsync_file(path: Path) -> None:
        order.append(f"fsync {path.parent.name}/{path.name}")
        real_fsync_file(path)

    monkeypatch.setattr(Ledger, "sync", sync)
    monkeypatch.setattr(Path, "unlink", unlink)
    monkeypatch.setattr(actions, "fsync_file", fsync_file)
    make_pdf(r.tmp / "new.pdf", pages=[(90.5, 61.0)] * 2)
    if how == "replace/":
        shutil.copyfile(r.tmp / "new.pdf", folder / "replace" / "RC.pdf")
        r.engine.hint(folder / "replace" / "RC.pdf")
        gone = "unlink replace/RC.pdf"
    else:
        staged = _stage_command(r.config, Action.REPLACE, job_id, "bob", "", r.tmp / "new.pdf")
        r.engine.hint(staged)
        gone = f"unlink commands/{staged.name}"
    r.run(until=lambda: _uploads(r, job_id) == 1 and r.statuses(job_id)[-1] == "OutputCreated", steps=15)
    assert "fsync artwork/RC.pdf" in order, order
    assert gone in order and order[order.index(gone) - 1] == "sync", order


def test_a_job_held_in_quarantine_keeps_its_artwork_when_the_ledger_lost_its_last_steps(
    arrival_rig: Rig,
) -> None:
    """Review HC 3 (a power cut): the folders' later steps on disk (the artwork taken, the output
    made as a second name of it, the folder moved into quarantine/) and not the ledger's (its
    artwork still awaited): the start removed the job's artwork as "a second name of a file that
    went elsewhere", and the job waited for it until it failed "artwork missing"."""
    r = arrival_rig
    (r.inbox / "HQ.yaml").write_text("order_id: HQ\nproduct: bc-85x55\nquantity: 1\nartwork: [HQ.pdf]\n")
    r.run(until=lambda: r.stage("HQ-1") is Stage.AWAITING, steps=10)
    state = r.config.paths.state
    r.ledger.close()  # (a checkpoint: the ledger whole in its main file)
    kept = (state / "ledger.sqlite3").read_bytes()
    r.start()
    make_pdf(r.inbox / "HQ.pdf", pages=CARD, trimbox=(3, 3, 88, 58))  # (the output is the artwork, linked)
    r.run(until=lambda: r.stage("HQ-1") is Stage.HELD, steps=20)
    folder = r.root / "quarantine" / "HQ-1"
    artwork = folder / "artwork" / "HQ.pdf"
    assert os.lstat(artwork).st_nlink == 2, "the output is a second name of the artwork (the case)"
    pdf = artwork.read_bytes()
    r.ledger.close()
    for leftover in state.glob("ledger.sqlite3-*"):
        leftover.unlink()
    (state / "ledger.sqlite3").write_bytes(kept)  # (the cut: the ledger as it was on disk then)
    r.start()
    r.run(until=lambda: r.stage("HQ-1") is Stage.HELD, steps=20)
    assert (r.root / "quarantine" / "HQ-1" / "artwork" / "HQ.pdf").read_bytes() == pdf
    (r.root / "quarantine" / "HQ-1" / "RELEASE").write_text("cal\n")
    r.run(until=done(r, "HQ-1"), steps=20)
    assert r.take_prints() == ["HQ_HQ-1_bc-85x55_x1.pdf"]


@pytest.mark.parametrize("where", ["folder drop", "no order"])
def test_an_inbox_file_the_daemon_may_not_move_is_said_once_wherever_it_is(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Review HI 1-2 (of HB 3's mend): an artwork of a folder drop that may not be moved (chattr +i,
    a security policy), and such a file no manifest claims: said only as an "unexpected error" at
    every rescan (HB 3's mend covered a file at the top of inbox/ that a manifest claims)."""
    r = rig
    drop = r.inbox / "order9"
    drop.mkdir()
    art = drop / "card.pdf" if where == "folder drop" else r.inbox / "stray.pdf"
    make_pdf(art, pages=CARD)
    _refuse_moving(monkeypatch, art, errno.EPERM)
    if where == "folder drop":
        (drop / "manifest.yaml").write_text("order_id: O9\nproduct: bc-85x55\nquantity: 1\nartwork: [card.pdf]\n")
    with capture_logs() as logs:
        if where == "folder drop":
            r.run(until=lambda: r.stage("O9-1") is Stage.FAILED, steps=80, dt=30)
        else:
            r.run(steps=80, dt=30)  # (40 minutes: far past its artwork_timeout_seconds)
    said = [e for e in logs if e["log_level"] in ("error", "critical")]
    assert [e["event"] for e in said] == ["inbox.file_not_movable"], [
        {k: e.get(k) for k in ("event", "what", "subject", "file", "error")} for e in said
    ]
    assert art.exists()
    monkeypatch.undo()
    if where == "folder drop":
        assert r.statuses("O9-1") == ["Ordered", "AwaitingData", "ValidationFailed"]
        (r.root / "failed" / "O9-1" / "RETRY").write_text("cal\n")
        r.run(until=done(r, "O9-1"), steps=40)
        assert r.take_prints() == ["O9_O9-1_bc-85x55_x1.pdf"]
    else:
        r.run(until=lambda: not art.exists(), steps=40, dt=30)
        assert sorted(str(p.relative_to(r.root / "failed")) for p in (r.root / "failed").rglob("*")) == [
            "stray.pdf",
            "stray.pdf/ERROR.txt",
            "stray.pdf/stray.pdf",
        ]


def test_a_crash_during_the_copy_of_an_artwork_with_another_link_leaves_no_partial_copy(rig: Rig) -> None:
    """Audit DD 5: an inbox file with another name outside (ln from a storefront's folder) is
    copied into the job's artwork/ under a temp name; killed during that copy, the partial temp
    file (named by the pid) stayed in the job's folder for good, into done/."""
    r = rig
    keep = r.tmp / "storefront"
    keep.mkdir()
    make_pdf(keep / "CL1.pdf", pages=CARD)
    os.link(keep / "CL1.pdf", r.inbox / "CL1.pdf")
    (r.inbox / "CL1.yaml").write_text('order_id: "CL1"\nproduct: bc-85x55\nquantity: 1\nartwork: [CL1.pdf]\n')

    def in_the_copy(fd: int) -> bool:
        return str(Path(f"/proc/self/fd/{fd}").readlink()).endswith(".copy")

    life_until_killed(r, lambda mp: _crash_before(mp, fsutil_module.os, "fsync", when=in_the_copy))
    r.start()
    r.run(until=done(r, "CL1-1"), steps=20)
    assert sorted(r.root.rglob("*.copy")) == []


def test_a_file_nine_folders_deep_in_the_inbox_is_found_by_a_rescan(rig: Rig) -> None:
    """Audit DA 4: files more than 8 folders deep in inbox/ were never seen by a scan or the
    poller (only by inotify): with polling, or at a start, they stayed in inbox/ unsaid."""
    r = rig
    deep = r.inbox.joinpath(*[f"d{n}" for n in range(9)])
    deep.mkdir(parents=True)
    (deep / "stray.txt").write_text("x")
    r.run(until=lambda: not (deep / "stray.txt").exists(), steps=40, dt=30)
    assert [p.name for p in (r.root / "failed").rglob("stray.txt")] == ["stray.txt"]


def _folder_state(folder: Path) -> dict[str, bytes]:
    """The files of a job's artwork/ and output/, with their contents."""
    return {
        f"{part}/{p.name}": p.read_bytes() for part in ("artwork", "output") for p in sorted((folder / part).iterdir())
    }


@pytest.mark.parametrize("failure", ["ledger", "interrupt"])
def test_a_replacement_whose_record_fails_leaves_the_job_folder_as_it_was(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    """White-box audits DK 1 and DK 3: a replacement moved the old artwork and the output into
    history/ and put the new file into artwork/ before its record; where the record failed (a
    ledger error), or Ctrl-C stopped an offline `replace` while the new file was hashed, the job
    stayed recorded with its output while output/ was empty and artwork/ held the unchecked file
    (STATUS.txt offered to approve it; "nothing was done", the CLI said). Undone now."""
    import spo_hotfolder.engine.actions as actions_module

    r = rig
    job_id, folder = _held(r, "UR")
    before = _folder_state(folder)
    assert [name.split("/")[0] for name in before] == ["artwork", "output"]
    make_pdf(r.tmp / "new.pdf", pages=[(90.5, 61.0)] * 2)
    if failure == "ledger":

        def mark_artwork_present(*args: Any, **kwargs: Any) -> None:
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(r.engine.ledger, "mark_artwork_present", mark_artwork_present)
        expected: type[BaseException] = sqlite3.OperationalError
    else:

        def sha256_of(fh: Any) -> str:
            raise KeyboardInterrupt

        monkeypatch.setattr(actions_module, "sha256_of", sha256_of)
        expected = KeyboardInterrupt
    with pytest.raises(expected):
        r.engine.apply(job_id, Action.REPLACE, by="carol", note="", file=r.tmp / "new.pdf")
    assert _folder_state(folder) == before
    assert not (folder / "history").exists() or not list((folder / "history").iterdir())
    assert r.statuses(job_id)[-1] == "OutputCreated" and (r.tmp / "new.pdf").is_file()
    monkeypatch.undo()
    result = r.engine.apply(job_id, Action.REPLACE, by="carol", note="", file=r.tmp / "new.pdf")
    assert result.ok, result.message
    r.run(until=lambda: r.statuses(job_id)[-1] == "OutputCreated", steps=10)
    assert r.job(job_id).blocked and r.take_prints() == []


def test_a_replace_command_naming_a_file_that_is_not_utf8_is_taken(rig: Rig) -> None:
    """White-box audit DK 1: `replace JOB $'Karte-\\xe9.pdf'` (a name in Windows-1252): recording
    the name failed (SQLite holds no such text), at every rescan, and the job was stuck with its
    output gone. The history says the name as a person reads it."""
    from spo_hotfolder.commands import _stage_command

    r = rig
    job_id, _folder = _held(r, "NU")
    name = os.fsdecode(b"Karte-\xe9.pdf")
    make_pdf(r.tmp / name, pages=[(90.5, 61.0)] * 2)
    _stage_command(r.config, Action.REPLACE, job_id, "bob", "", r.tmp / name)
    r.run(until=lambda: _uploads(r, job_id) == 1 and r.statuses(job_id)[-1] == "OutputCreated", steps=10)
    uploaded = [e.detail for e in r.job(job_id).history if e.status is JobStatus.ArtworkUploaded]
    assert "replaced by Karte-é.pdf" in uploaded[-1]


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its contents (STATUS.txt, rewritten at will, left out)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "STATUS.txt"
    }


def test_a_held_jobs_new_manifest_not_recorded_leaves_its_folder_as_it_was(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """White-box audit DO 1: a held job's order sent again, its intake's commit failed (a full
    disk, a busy ledger): the ledger and the folder's place were rolled back, but its artwork,
    output and manifest stayed in history/ and the new manifest in their place; a RELEASE then
    failed the job "artwork missing". Every change in the folder is undone with the record."""
    r = rig
    job_id, folder = _held(r, "RB")
    before = _tree(folder)
    failing = [True]
    real = Ledger.record_intake

    def record_intake(self: Ledger, *args: Any, **kwargs: Any) -> Any:
        if failing[0]:
            raise sqlite3.OperationalError("database or disk is full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Ledger, "record_intake", record_intake)
    make_pdf(r.inbox / "RB2.pdf", pages=CARD, content=b"0 0 1 rg 0 0 10 10 re f")
    (r.tmp / "RB.yaml").write_text(
        'order_id: "RB"\nproduct: bc-85x55\nquantity: 1\nblocked: true\nartwork: [RB2.pdf]\n'
    )
    os.replace(r.tmp / "RB.yaml", r.inbox / "RB.yaml")
    with capture_logs() as logs:
        r.run(until=lambda: any(e.get("job_id") == job_id and "moved_back" in e["event"] for e in logs), steps=10)
    assert r.stage(job_id) is Stage.HELD and _tree(folder) == before
    assert (r.inbox / "RB.yaml").is_file() and (r.inbox / "RB2.pdf").is_file()
    failing[0] = False
    r.run(until=lambda: r.stage(job_id) is Stage.HELD and r.statuses(job_id)[-1] == "OutputCreated", steps=20)
    assert "ValidationFailed" not in r.statuses(job_id) and r.take_prints() == []


def test_a_replacement_whose_event_was_lost_is_found_by_a_rescan(rig: Rig) -> None:
    """White-box audit DN 1: a rescan (the safety net for events lost: an overflow, watches the
    kernel refused) skipped a job folder in quarantine/ whose own mtime had not changed, and with
    it its replace/: a PDF put there while events were lost was never taken."""
    r = rig
    job_id, folder = _held(r, "D1")
    r.run(steps=3)  # rescans that saw the held job's folders
    make_pdf(folder / "replace" / "D1.pdf", pages=[(91.0, 61.0)] * 3)  # (no hint: its event lost)

    def rescan() -> None:
        r.engine.request_rescan()
        r.engine.step()
        r.clock.advance(1.0)

    for _ in range(10):
        rescan()
        if not (folder / "replace" / "D1.pdf").exists():
            break
    assert not (folder / "replace" / "D1.pdf").exists()
    assert "ArtworkUploaded" in r.statuses(job_id)


def test_file_manager_litter_in_a_job_folder_is_never_taken_whatever_watch_ignore_lists(tmp_path: Path) -> None:
    """White-box audit DN 2: with a watch.ignore of the shop's own (one that does not list them),
    Explorer's Thumbs.db in replace/ was refused as a replacement ("not a PDF"), filing the
    operator's RELEASE dropped with it as unused; a Mac's ._D3.pdf beside a replacement was
    refused as "an upload that was not finished"; .DS_Store in the job folder answered "not a
    drop file"."""
    for r in rig_on(tmp_path, watch={"ignore": ["*.tmp", "*.part"]}):
        job_id, folder = _held(r, "D2")
        (folder / "replace" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
        (folder / "replace" / "._D2.pdf").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X" + b"\0" * 400)
        (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1" + b"\0" * 100)
        for name in ("replace/Thumbs.db", "replace/._D2.pdf", ".DS_Store"):
            r.engine.hint(folder / name)
        r.run(steps=6)
        assert r.stage(job_id) is Stage.HELD and "ArtworkUploaded" not in r.statuses(job_id)
        (folder / "RELEASE").write_text("alice\nlooks good\n")
        r.engine.hint(folder / "RELEASE")
        r.run(until=done(r, job_id), steps=10)
        assert r.take_prints() == ["D2_D2-1_bc-85x55_x1.pdf"]
        kept = r.root / "done" / job_id
        assert sorted(p.name for p in (kept / "replace").iterdir()) == ["._D2.pdf", "Thumbs.db"]
        status = (kept / "STATUS.txt").read_text()
        assert "refused" not in status and "not a drop file" not in status


def test_a_wall_clock_step_moves_retries_and_artwork_timeouts_with_it(rig: Rig) -> None:
    """White-box audit DM 1: a delivery retry due in 10 s, then the wall clock stepped back two
    hours (NTP, a VM resumed): the job waited two hours; a job waiting 600 s for its artwork, then
    the clock stepped forward two hours: it failed "artwork missing after 600 seconds" one real
    second later. Retries and artwork time-outs are spans of time, kept so across a step; a future
    order's date is a calendar time, and stays."""
    r = rig
    hot = r.hot
    hidden = hot.with_name("away")
    os.replace(hot, hidden)  # the hot folder not there: the first copy fails
    retried = r.order("CS")
    r.run(until=lambda: r.stage(retried) is Stage.RETRY, steps=20)
    (r.inbox / "aw.yaml").write_text('order_id: "AW"\nproduct: bc-85x55\nquantity: 1\nartwork: [aw.pdf]\n')
    r.run(until=lambda: r.stage("AW-1") is Stage.AWAITING, steps=10)
    (r.inbox / "fu.yaml").write_text(
        'order_id: "FU"\nproduct: bc-85x55\nquantity: 1\nartwork: [fu.pdf]\nprocess_after: "2026-11-22T11:00:00Z"\n'
    )
    make_pdf(r.inbox / "fu.pdf", pages=CARD)
    r.run(until=lambda: r.stage("FU-1") is Stage.FUTURE, steps=10)
    os.replace(hidden, hot)
    r.clock._now -= timedelta(hours=2)
    r.run(until=done(r, retried), steps=30, dt=1.0)  # within its 10 s backoff and a step or two
    assert r.stage("FU-1") is Stage.FUTURE
    r.clock._now += timedelta(hours=4)  # two hours on from where it was: past FU's date
    r.run(steps=3, dt=1.0)
    assert r.stage("AW-1") is Stage.AWAITING and "ValidationFailed" not in r.statuses("AW-1")
    r.run(until=done(r, "FU-1"), steps=30, dt=1.0)
    make_pdf(r.inbox / "aw.pdf", pages=CARD)
    r.run(until=done(r, "AW-1"), steps=30, dt=1.0)


@pytest.mark.parametrize("blocked", [True, False])
def test_a_reprint_taken_since_the_ledgers_backup_is_said_not_moved_into_done(
    rig: Rig, tmp_path: Path, blocked: bool
) -> None:
    """White-box audit DQ 1: a job delivered, the ledger backed up, then a reprint taken (held in
    quarantine/, or waiting in work/ for its next copy); the ledger put back from the backup: the
    start took the reprint's folder for a delivered job's whose move to done/ a power cut forgot,
    moved it into done/ without a word, and the reprint never printed. It is said as a folder the
    ledger does not know now, left where it is; its order put into inbox/ again prints it."""
    r = rig
    job_id = r.order("K1")
    r.run(until=done(r, job_id), steps=15)
    assert r.take_prints() == ["K1_K1-1_bc-85x55_x1.pdf"]
    backup = tmp_path / "backup.sqlite3"
    with (
        contextlib.closing(sqlite3.connect(r.config.paths.state / "ledger.sqlite3")) as db,
        contextlib.closing(sqlite3.connect(backup)) as copy,
    ):
        db.backup(copy)
    if not blocked:
        os.replace(r.hot, r.hot.with_name("away"))  # its copy fails: it waits in work/
    r.order("K1", extra="reprint: true\n" + ("blocked: true\n" if blocked else ""))
    area = "quarantine" if blocked else "work"
    r.run(until=lambda: r.stage(job_id) is (Stage.HELD if blocked else Stage.RETRY), steps=15)
    r.close()
    for name in os.listdir(r.config.paths.state):
        if name.startswith("ledger.sqlite3"):
            os.unlink(r.config.paths.state / name)
    shutil.copy(backup, r.config.paths.state / "ledger.sqlite3")
    if not blocked:
        os.replace(r.hot.with_name("away"), r.hot)
    with capture_logs() as logs:
        engine = r.start()
        r.run(steps=5, dt=30)
    assert (r.root / area / job_id).is_dir() and not (r.root / "done" / job_id).exists()
    assert engine.job_folders_unknown() == [f"{area}/{job_id}"]
    assert any(e["event"] == "recovery.job_folders_unknown" for e in logs) and r.take_prints() == []
    # As `health` says: its manifest and artwork into inbox/ again (the manifest says reprint).
    manifest = (r.root / area / job_id / "manifest.yaml").read_text()
    assert "reprint: true" in manifest
    make_pdf(r.inbox / "K1.pdf", pages=CARD)
    (r.inbox / "K1.yaml").write_text(manifest)
    r.run(until=lambda: not (r.inbox / "K1.yaml").exists(), steps=20)
    assert engine.job_folders_unknown() == []
    if blocked:
        assert r.take_prints() == []
        (r.root / "quarantine" / job_id / "RELEASE").write_text("alice\n")
    r.run(until=done(r, job_id), steps=20)
    assert r.take_prints() == ["K1_K1-1_bc-85x55_x1.pdf"]


def test_an_attempt_in_a_hot_folder_renamed_in_the_config_while_stopped_is_told_from_its_files(rig: Rig) -> None:
    """White-box audit DQ 2: killed after the copy was journalled written, before its rename; the
    hot folder renamed in the config while the daemon was stopped (its key, not its folder): the
    start said "whether it arrived cannot be told ... which is not in the config now", failed the
    job, and then removed the temp file that told it. The same folder under its new name is
    looked into: the temp file there, the rename never happened, and the job is delivered once."""

    r = rig
    job_id = r.order("KR")
    life_until_killed(r, CRASH_POINTS["after 'written', before the rename"])
    assert [name for name in os.listdir(r.hot) if name.endswith(".part")]
    data = yaml.safe_load(r.config_path.read_text())
    data["hot_folders"]["indigo2"] = data["hot_folders"].pop("indigo")
    data["routes"] = [dict(route, to="indigo2") if route["to"] == "indigo" else route for route in data["routes"]]
    r.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    r.config = load_config(r.config_path)
    r.start()
    r.run(until=lambda: r.stage(job_id) in (Stage.FAILED, Stage.DONE), steps=10)
    assert r.stage(job_id) is Stage.DONE and r.take_prints() == ["KR_KR-1_bc-85x55_x1.pdf"]
    assert r.statuses(job_id).count("InHotFolder") == 1


def test_a_file_error_after_the_output_is_made_ends_its_making_as_failed(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """White-box audit DM 2: an I/O error on the stat of the output just made sent the job to
    failed/ still showing OutputCreationStarted ("being made") to `jobs`, `show` and scripts."""
    import spo_hotfolder.engine.processing as processing_module

    real = processing_module._file_sig
    failing = [True]

    def file_sig(path: Path) -> str:
        if failing:
            failing.clear()
            raise OSError(errno.EIO, "Input/output error", str(path))
        return real(path)

    monkeypatch.setattr(processing_module, "_file_sig", file_sig)
    r = rig
    job_id = r.order("EO")
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=20)
    assert r.statuses(job_id)[-1] == "OutputCreationFailed"
    assert "Input/output error" in (r.root / "failed" / job_id / "ERROR.txt").read_text()
    (r.root / "failed" / job_id / "RETRY").write_text("kim\n")
    r.run(until=done(r, job_id), steps=20)
    assert r.take_prints() == ["EO_EO-1_bc-85x55_x1.pdf"]


def test_a_file_being_written_wakes_the_engine_a_few_times_a_second_not_at_each_write(rig: Rig) -> None:
    """White-box audit DL 5: one watcher event per write, each waking the engine for a step (~0.4
    ms): an upload at 100 MB/s in 64 KiB writes kept most of a core busy. The newest write's time
    is kept all the same (settle counts from it); a rename into place wakes it at once."""
    r = rig
    path = r.inbox / "big.pdf"
    path.write_bytes(b"%PDF-1.4\n")
    r.engine.wake_event.clear()
    r.engine.hint(path)
    assert r.engine.wake_event.is_set()
    r.engine.step()
    wakes = 0
    for _ in range(50):  # 50 writes within 0.1 s
        r.engine.wake_event.clear()
        r.clock.advance(0.002)
        r.engine.hint(path)
        wakes += r.engine.wake_event.is_set()
    assert wakes == 0 and r.engine._hints[path] == (False, r.clock.monotonic())
    r.clock.advance(0.25)
    r.engine.hint(path)
    assert r.engine.wake_event.is_set()
    r.engine.wake_event.clear()
    r.engine.hint(path, moved_in=True)
    assert r.engine.wake_event.is_set()


@pytest.mark.parametrize("left", [b"", b"Job PC-1 (order PC)\nStatus: Blo"])
def test_a_held_jobs_status_txt_cut_short_by_a_power_cut_is_written_again_at_the_start(rig: Rig, left: bytes) -> None:
    """White-box audit DQ 3: STATUS.txt is written without an fsync; a power cut left a held job's
    empty (or cut short), and the start rewrote it only where it was missing: the operator saw
    nothing of what to do until the job's next change."""
    r = rig
    _job_id, folder = _held(r, "PC")
    r.run(steps=3)
    r.clock.advance(30)  # another job changed half a minute later (the start rewrites the last 10 s')
    other = r.order("PD")
    r.run(until=done(r, other), steps=20)
    whole = (folder / "STATUS.txt").read_text()
    (folder / "STATUS.txt").write_bytes(left)
    r.close()
    r.start()
    r.run(steps=2)
    assert (folder / "STATUS.txt").read_text() == whole


@pytest.mark.parametrize("finished", ["done", "rejected"])
def test_a_finished_jobs_status_txt_emptied_by_a_power_cut_is_written_again_at_the_start(
    rig: Rig, finished: str
) -> None:
    """Review HO 2: a power cut left the STATUS.txt of jobs finished in the half minute before it
    empty (written without an fsync; the kernel writes such data back after 30 s), and a finished
    job's is not written again: empty in done/ (rejected/) for good. The start reads those of the
    last minute before the ledger's last change, and rewrites what is not whole."""
    r = rig
    if finished == "done":
        job_id = r.order("PE")
        r.run(until=done(r, job_id), steps=20)
    else:
        job_id, held = _held(r, "PE")
        (held / "REJECT").write_text("ops\n")
        r.run(until=lambda: r.stage(job_id) is Stage.REJECTED, steps=20)
    folder = r.root / finished / job_id
    r.clock.advance(30)  # another job finished half a minute later (the start rewrites the last 10 s')
    other = r.order("PF")
    r.run(until=done(r, other), steps=20)
    whole = (folder / "STATUS.txt").read_text()
    (folder / "STATUS.txt").write_bytes(b"")
    r.close()
    r.start()
    r.run(steps=2)
    assert (folder / "STATUS.txt").read_text() == whole


def test_a_file_lying_in_the_inbox_is_not_taken_while_a_new_copy_of_it_is_uploaded_beside_it(rig: Rig) -> None:
    """White-box audit DT 1: x.pdf (an old version) lay in the inbox, its new version was being
    sent by rsync beside it (.x.pdf.Ab12Cd), and the order's manifest came: the old file was taken
    at once and printed, the new one landed unnoticed. The job waits for the upload; an upload that
    stopped changing (a client killed) holds nothing."""
    r = rig
    r.clock._now = datetime.now(UTC)  # (the uploads' ctimes are the machine's)
    old = [(91.0, 61.0)] * 2
    make_pdf(r.inbox / "x.pdf", pages=old)
    r.run(steps=3)
    upload = r.inbox / ".x.pdf.Ab12Cd"
    make_pdf(upload, pages=[(90.5, 61.0)] * 2, content=b"0 0 1 rg 0 0 10 10 re f")
    (r.inbox / "x.yaml").write_text('order_id: "X"\nproduct: bc-85x55\nquantity: 1\nartwork: [x.pdf]\n')
    r.engine.hint(r.inbox / "x.yaml", moved_in=True)
    r.run(steps=5, dt=0.2)
    assert r.stage("X-1") is Stage.AWAITING and (r.inbox / "x.pdf").is_file()
    new = upload.read_bytes()
    os.replace(upload, r.inbox / "x.pdf")
    r.engine.hint(r.inbox / "x.pdf", moved_in=True)
    r.run(until=done(r, "X-1"), steps=30, dt=0.5)
    [art] = list((r.root / "done" / "X-1" / "artwork").iterdir())
    assert art.read_bytes() == new and r.take_prints() == ["X_X-1_bc-85x55_x1.pdf"]
    # A killed upload's temporary file beside another order's PDF: taken all the same, once it is stale.
    make_pdf(r.inbox / "y.pdf", pages=old)
    make_pdf(r.inbox / ".y.pdf.Zz9999", pages=old)
    r.run(steps=3)
    (r.inbox / "y.yaml").write_text('order_id: "Y"\nproduct: bc-85x55\nquantity: 1\nartwork: [y.pdf]\n')
    r.engine.hint(r.inbox / "y.yaml", moved_in=True)
    r.clock.advance(r.engine.tracker.incomplete_pdf_seconds + 1)
    r.run(until=done(r, "Y-1"), steps=30, dt=0.5)


def test_the_rest_of_a_manifest_written_in_two_parts_says_the_order_was_taken_from_its_first(rig: Rig) -> None:
    """White-box audit DT 2: a client wrote a manifest in two parts, closing it between them and
    pausing longer than settle_seconds: the first part was taken as the whole order (a known limit),
    and the rest, refused, said only "must be a mapping": nothing told the operator the order was
    printed short. Its ERROR.txt says so now."""
    r = rig
    make_pdf(r.inbox / "p0.pdf", pages=CARD)
    (r.inbox / "o.yaml").write_text('order_id: "TP"\nproduct: bc-85x55\nquantity: 1\nartwork:\n  - p0.pdf\n')
    r.run(until=done(r, "TP-1"), steps=20)
    r.clock.advance(5)
    (r.inbox / "o.yaml").write_text("  - p1.pdf\n")
    failed = r.root / "failed" / "o.yaml"
    r.run(until=lambda: (failed / "ERROR.txt").is_file(), steps=20)
    error = " ".join((failed / "ERROR.txt").read_text().split())
    assert "a manifest of this very name was taken in" in error
    assert "order TP was taken from its first part only" in error
    # White-box audit DR 2: another order's whole manifest of that name, refused for a typo, is no rest.
    shutil.rmtree(failed)
    (r.inbox / "o.yaml").write_text('order_id: "TQ"\nproduct: bc-85x55\nquantity: 0\nartwork: [p0.pdf]\n')
    r.run(until=lambda: (failed / "ERROR.txt").is_file(), steps=20)
    assert "was taken from its first part only" not in (failed / "ERROR.txt").read_text()


def test_claims_of_files_already_there_look_for_uploads_in_the_rounds_listing(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """White-box audit DR 3 (of DT 1's mend): each claim of a file already in the inbox listed the
    whole inbox for an upload beside it: 3,000 orders waiting, ~20 s more. The round's one listing
    tells first whether any upload may be for it."""
    import spo_hotfolder.engine.timers as timers_module

    r = rig
    for n in range(30):
        make_pdf(r.inbox / f"c{n}.pdf", pages=CARD)
    r.run(steps=3)
    looks: list[Path] = []
    real = timers_module.upload_beside
    monkeypatch.setattr(timers_module, "upload_beside", lambda path: looks.append(path) or real(path))
    for n in range(30):
        (r.inbox / f".c{n}.yaml.tmp").write_text(
            f'order_id: "C{n}"\nproduct: bc-85x55\nquantity: 1\nartwork: [c{n}.pdf]\n'
        )
        os.replace(r.inbox / f".c{n}.yaml.tmp", r.inbox / f"c{n}.yaml")
    r.engine.request_rescan()
    r.run(until=lambda: all(r.stage(f"C{n}-1") is Stage.DONE for n in range(30)), steps=60)
    assert looks == []


def test_a_round_uses_the_listings_of_the_round_just_before_but_not_of_a_folder_with_a_new_name(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bench's scenario 8 (10,000 orders waiting at start): each round between two jobs took a
    few files and listed the inbox's 20,000 names anew for their claims (27 jobs/s; 79 with the
    listings kept). A round begun soon after another uses its listings, but not the listing of a
    folder the watcher told of a new name in since: an upload begun there beside a file lying in
    it still holds that file (white-box audit DT 1)."""
    import spo_hotfolder.engine.scans as scans_module

    r = rig
    listed: list[str] = []
    real = os.listdir

    def listdir(path: Any = ".") -> list[str]:
        listed.append(str(path))
        return real(path)

    monkeypatch.setattr(os, "listdir", listdir)
    monkeypatch.setattr(scans_module, "LISTING_REUSE_SECONDS", 3600.0)  # (however slow the machine)
    drop = r.inbox / "drop-1"
    drop.mkdir()
    for _ in range(2):
        with r.engine._round_listings():
            assert r.engine._listed(r.inbox) == r.engine._listed(r.inbox)
            r.engine._listed(drop)
    assert listed == [str(r.inbox), str(drop)]
    (drop / "new.pdf").write_bytes(b"%PDF-1.4\n")
    r.engine.hint(drop / "new.pdf")
    r.engine._drain_hints()
    with r.engine._round_listings():
        assert "new.pdf" in r.engine._listed(drop) and r.engine._listed(r.inbox)
    assert listed == [str(r.inbox), str(drop), str(drop)]  # (the inbox's kept: nothing new came there)
    monkeypatch.setattr(scans_module, "LISTING_REUSE_SECONDS", 0.0)
    with r.engine._round_listings():
        r.engine._listed(r.inbox)
    assert listed[-1] == str(r.inbox) and len(listed) == 4
    # Review BT: a poller tells of no upload's temporary name: where the watcher polls, none is kept.
    monkeypatch.setattr(scans_module, "LISTING_REUSE_SECONDS", 3600.0)
    monkeypatch.setattr(r.engine, "polling_watch", lambda: True)
    with r.engine._round_listings():
        r.engine._listed(r.inbox)
    assert listed[-1] == str(r.inbox) and len(listed) == 5
    monkeypatch.setattr(r.engine, "polling_watch", lambda: False)
    # DT 1 with a listing kept: the upload beside the old x.pdf, told of by the watcher, holds it.
    monkeypatch.setattr(scans_module, "LISTING_REUSE_SECONDS", 3600.0)
    r.clock._now = datetime.now(UTC)  # (the upload's ctime is the machine's)
    make_pdf(r.inbox / "x.pdf", pages=[(91.0, 61.0)] * 2)
    r.run(steps=3)
    with r.engine._round_listings():
        assert "x.pdf" in r.engine._listed(r.inbox) and ".x.pdf.Ab12Cd" not in r.engine._listed(r.inbox)
    upload = r.inbox / ".x.pdf.Ab12Cd"
    make_pdf(upload, pages=[(90.5, 61.0)] * 2, content=b"0 0 1 rg 0 0 10 10 re f")
    r.engine.hint(upload)
    (r.inbox / "x.yaml").write_text('order_id: "X"\nproduct: bc-85x55\nquantity: 1\nartwork: [x.pdf]\n')
    r.engine.hint(r.inbox / "x.yaml", moved_in=True)
    r.run(steps=5, dt=0.2)
    assert r.stage("X-1") is Stage.AWAITING and (r.inbox / "x.pdf").is_file()


def test_a_clock_step_whose_record_failed_is_followed_at_the_next_step(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """White-box audit DR (of DM 1's mend): the step's due times moved in a ledger write that
    failed (busy) were never moved: the step was taken as seen."""
    r = rig
    os.replace(r.hot, r.hot.with_name("away"))
    job_id = r.order("CF")
    r.run(until=lambda: r.stage(job_id) is Stage.RETRY, steps=20)
    os.replace(r.hot.with_name("away"), r.hot)
    real = r.engine.ledger.shift_deadlines
    busy = [True]

    def shift_deadlines(by: timedelta) -> int:
        if busy:
            busy.clear()
            raise sqlite3.OperationalError("database is locked")
        return real(by)

    monkeypatch.setattr(r.engine.ledger, "shift_deadlines", shift_deadlines)
    r.clock._now -= timedelta(hours=2)
    r.run(until=done(r, job_id), steps=30, dt=1.0)
    assert not busy


def _sharing_a_staging_folder(tmp_path: Path, ticket: bool) -> Iterator[Rig]:
    stage = tmp_path / "stage"
    large: dict[str, Any] = {"path": str(tmp_path / "hot" / "large"), "staging": str(stage)}
    if ticket:
        large["ticket"] = "json"
    hot_folders = {"indigo": {"path": str(tmp_path / "hot" / "indigo"), "staging": str(stage)}, "large": large}
    for folder in (stage, tmp_path / "hot" / "indigo", tmp_path / "hot" / "large"):
        folder.mkdir(parents=True, exist_ok=True)
    yield from rig_on(tmp_path, hot_folders=hot_folders)


def _config_edited(r: Rig, edit: Callable[[dict[str, Any]], None]) -> None:
    data = yaml.safe_load(r.config_path.read_text())
    edit(data)
    r.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    r.config = load_config(r.config_path)


def test_a_renamed_hot_folder_sharing_its_staging_folder_is_still_told_by_its_own_folder(tmp_path: Path) -> None:
    """Review DS 2 (of DQ 2's mend): hot folders sharing one staging folder; one renamed in the
    config while the daemon was stopped, an attempt cut short after "written": two hot folders
    matched the staging folder, none was taken, and the job failed "cannot be told" again."""
    for r in _sharing_a_staging_folder(tmp_path, ticket=False):
        job_id = r.order("KS")
        life_until_killed(r, CRASH_POINTS["after 'written', before the rename"])

        def rename(data: dict[str, Any]) -> None:
            data["hot_folders"]["indigo2"] = data["hot_folders"].pop("indigo")
            data["routes"] = [dict(x, to="indigo2") if x["to"] == "indigo" else x for x in data["routes"]]

        _config_edited(r, rename)
        r.start()
        r.run(until=lambda r=r: r.stage("KS-1") in (Stage.FAILED, Stage.DONE), steps=10)
        assert r.stage(job_id) is Stage.DONE and r.take_prints() == ["KS_KS-1_bc-85x55_x1.pdf"]


def test_a_ticket_of_a_hot_folder_taken_out_of_the_config_never_goes_into_another(tmp_path: Path) -> None:
    """Review DS 1 (of DQ 2's mend): hot folders sharing one staging folder; killed between the PDF's
    rename and its ticket's; the ticket's hot folder taken out of the config while the daemon was
    stopped: the start took the other hot folder for it, by the staging folder alone, and published
    the ticket into the other printer's hot folder."""
    for r in _sharing_a_staging_folder(tmp_path, ticket=True):
        job_id = r.order("TK", product="poster-a2")
        life_until_killed(
            r,
            lambda mp: _crash_before(
                mp, delivery_module, "rename_noreplace", when=lambda src, dst: str(dst).endswith(".json")
            ),
        )

        def remove(data: dict[str, Any]) -> None:
            del data["hot_folders"]["large"]
            data["routes"] = [x for x in data["routes"] if x["to"] != "large"]

        _config_edited(r, remove)
        r.start()
        r.run(steps=5)
        assert os.listdir(tmp_path / "hot" / "indigo") == []
        assert r.statuses(job_id).count("InHotFolder") == 1


@pytest.mark.parametrize("ignore", [["*.tmp"], None])
@pytest.mark.parametrize("litter", ["._card.pdf", "~$card.pdf", ".~lock.card.pdf#"])
def test_file_manager_litter_in_replace_does_not_stop_a_replace_command(
    tmp_path: Path, ignore: list[str] | None, litter: str
) -> None:
    """Review DS 3: a Finder (._card.pdf), Office (~$card.pdf) or LibreOffice (.~lock.card.pdf#)
    file in replace/ was taken for an upload of the job's artwork under way: every `replace` from
    the CLI was refused, "let that file be taken (or remove it)", and it never would be."""
    for r in rig_on(tmp_path, watch={"ignore": ignore} if ignore is not None else {}):
        job_id, folder = _held(r, "LT")
        (folder / "replace" / litter).write_bytes(b"\x00\x05\x16\x07" + b"\x00" * 400)
        r.run(steps=3)
        make_pdf(r.tmp / "card.pdf", pages=[(90.5, 61.0)] * 2)
        result = r.engine.apply(job_id, Action.REPLACE, by="kim", note="", file=r.tmp / "card.pdf")
        assert result.ok, result.message
        assert "ArtworkUploaded" in r.statuses(job_id)


def test_a_future_orders_manifest_sent_again_without_its_date_keeps_the_date(rig: Rig) -> None:
    """Review DX 1: a job waiting as FutureOrder until 2030, its manifest sent again without
    process_after (a storefront's "send the artwork again" leaving out optional keys): it printed at
    once, years early, its history saying only "new manifest ...". It keeps its date, and says so;
    a new manifest giving a date in the past has it go on now."""
    r = rig
    manifest = 'order_id: "FUT"\nproduct: bc-85x55\nquantity: 10\nartwork: [fut.pdf]\n'
    make_pdf(r.inbox / "fut.pdf", pages=CARD)
    (r.inbox / "fut.yaml").write_text(manifest + 'process_after: "2030-01-01T00:00:00Z"\n')
    r.run(until=lambda: r.stage("FUT-1") is Stage.FUTURE, steps=20)
    make_pdf(r.inbox / "fut.pdf", pages=CARD, content=b"0 0 1 rg 0 0 10 10 re f")
    (r.inbox / "fut.yaml").write_text(manifest)
    r.run(until=lambda: "ArtworkUploaded" in r.statuses("FUT-1") and r.stage("FUT-1") is Stage.FUTURE, steps=20)
    r.run(steps=5)
    assert r.stage("FUT-1") is Stage.FUTURE and r.take_prints() == []
    [uploaded] = [e.detail for e in r.job("FUT-1").history if e.status is JobStatus.ArtworkUploaded]
    assert "process_after 2030-01-01T00:00:00.000Z kept: the new manifest gives none" in uploaded
    make_pdf(r.inbox / "fut.pdf", pages=CARD)
    (r.inbox / "fut.yaml").write_text(manifest + 'process_after: "2026-01-01T00:00:00Z"\n')
    r.run(until=done(r, "FUT-1"), steps=30)
    assert r.take_prints() == ["FUT_FUT-1_bc-85x55_x10.pdf"]


def test_routes_changed_while_stopped_are_said_with_hot_folders_given_as_relative_paths(tmp_path: Path) -> None:
    """Review DW 3: the copy of the config the daemon last ran on (state/config-last-run.yaml) was
    read with its relative paths taken from state/: a hot folder given as `path: hot/indigo` became
    state/hot/indigo, refused, and an edit of the routes while the daemon was stopped went unsaid
    (the job finished unprinted without a word)."""
    config = write_config(
        tmp_path,
        watch={"settle_seconds": 0.5, "artwork_timeout_seconds": 600},
        delivery={"max_attempts": 3, "backoff_seconds": [10, 30]},
    )
    data = yaml.safe_load(config.read_text())
    for name, spec in data["hot_folders"].items():
        spec["path"] = f"hot/{name}"  # (the config file is in tmp_path)
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    r = Rig(tmp_path, config)
    try:
        job_id = r.order("RL", extra='process_after: "2030-01-01T00:00:00Z"\n')  # (its route not taken yet)
        r.run(until=lambda: r.stage(job_id) is Stage.FUTURE, steps=20)
        r.write_routes([{"to": "skip"}])
        r.config = load_config(r.config_path)
        with capture_logs() as logs:
            r.start()
        assert [e["new"] for e in logs if e["event"] == "job.route_changed"] == ["skip"]
    finally:
        r.close()


def test_a_reprint_sent_twice_says_the_first_ones_late_file_was_named_by_a_manifest_taken(rig: Rig) -> None:
    """Review DU 1: a reprint sent as a folder drop whose PDF was still coming, and the same reprint
    again, whole, in a twin folder: the job took the twin's (one print, right), and the first
    folder's PDF went to failed/ saying no manifest taken in named it (its own was), with the fix
    to put it back with its manifest: a second, unordered reprint."""
    r = rig
    job_id = r.order("R1")
    r.run(until=done(r, job_id), steps=20)
    assert r.take_prints() == ["R1_R1-1_bc-85x55_x1.pdf"]
    manifest = 'order_id: "R1"\nproduct: bc-85x55\nquantity: 1\nartwork: [R1.pdf]\nreprint: true\n'
    make_pdf(r.tmp / "R1.pdf", pages=CARD)
    whole = (r.tmp / "R1.pdf").read_bytes()
    first = r.inbox / "R1-a"
    first.mkdir()
    (first / "manifest.yaml").write_text(manifest)
    (first / "R1.pdf").write_bytes(whole[: len(whole) // 2])  # still being written
    r.engine.hint(first / "manifest.yaml")
    r.engine.hint(first / "R1.pdf")
    r.run(until=lambda: r.statuses(job_id).count("RecreationRequested") == 1, steps=20)
    twin = r.tmp / "R1-b"
    twin.mkdir()
    (twin / "manifest.yaml").write_text(manifest)
    (twin / "R1.pdf").write_bytes(whole)
    os.replace(twin, r.inbox / "R1-b")
    r.engine.hint(r.inbox / "R1-b", moved_in=True)
    r.run(until=lambda: r.statuses(job_id).count("InHotFolder") == 2, steps=30)
    assert r.take_prints() == ["R1_R1-1_bc-85x55_x1.pdf"]
    (first / "R1.pdf").write_bytes(whole)
    r.engine.hint(first / "R1.pdf")
    r.run(until=lambda: (r.root / "failed" / "R1-a" / "ERROR.txt").is_file(), steps=40, dt=30)
    error = " ".join((r.root / "failed" / "R1-a" / "ERROR.txt").read_text().split())
    assert "the jobs of the manifest taken in from this folder (order R1) do not take them" in error, error
    assert "a newer manifest of the same jobs (sent again, or a reprint sent twice) replaced it" in error
    assert "no manifest" not in error and "Do not put this folder back into inbox/ with its manifest" in error
    assert r.take_prints() == []


def test_a_finished_jobs_folder_moved_out_of_done_is_not_recorded_deleted_by_retention(rig: Rig) -> None:
    """Review EB 1: done/<job> moved by an operator into quarantine/ was "deleted" by retention (the
    rmtree of the missing folder taken for success): JobDataDeleted recorded, the folder kept for
    good, its STATUS.txt saying retention would remove it. It is not deleted there, not recorded,
    and said (once) where the operator looks; moved back, it is deleted at the next run."""
    r = rig
    job_id = r.order("MQ")
    r.run(until=done(r, job_id), steps=10)
    moved = r.root / "quarantine" / job_id
    os.replace(r.root / "done" / job_id, moved)
    r.run(steps=2)
    r.clock.advance(30 * 86400 + 1)
    with capture_logs() as logs:
        r.engine.run_retention()
        r.engine.run_retention()
    assert r.stage(job_id) is Stage.DONE and "JobDataDeleted" not in r.statuses(job_id)
    assert (moved / "artwork").is_dir()
    [said] = [e for e in logs if e["event"] == "retention.folder_elsewhere"]
    assert said["folder"] == f"quarantine/{job_id}"
    status = " ".join((moved / "STATUS.txt").read_text().split())
    assert "this finished job's folder is in quarantine/, not in done/ (moved there by hand)" in status, status
    os.replace(moved, r.root / "done" / job_id)
    r.engine.run_retention()
    assert r.stage(job_id) is Stage.PURGED and not (r.root / "done" / job_id).exists()


def test_a_folder_retention_cannot_empty_does_not_put_off_the_next_jobs_deletion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review EB 3: one finished job's folder that could not be emptied (due already, tried again by
    the hourly run) left no timer for the next job: its files were deleted only at the hourly run."""
    rigs = rig_on(tmp_path, retention={"done_days": 0.01})  # 864 s
    r = next(rigs)
    first = r.order("SA")
    r.run(until=done(r, first), steps=10)
    real_rmtree = shutil.rmtree

    def stuck(path: Any, onerror: Any = None, **kw: Any) -> None:
        if Path(path).name != first:
            return real_rmtree(path, onerror=onerror, **kw)
        onerror(os.unlink, str(path), (PermissionError, PermissionError(1, "Operation not permitted"), None))

    monkeypatch.setattr(engine_module.shutil, "rmtree", stuck)
    r.clock.advance(300)
    second = r.order("SB")
    r.run(until=done(r, second), steps=10)
    r.run(until=lambda: r.stage(second) is Stage.PURGED, steps=40, dt=60)  # (no hourly run within 40 min)
    assert r.stage(first) is Stage.DONE
    next(rigs, None)


def test_a_retention_run_that_fails_is_tried_again_soon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review HV's suspicion: a retention run that raised (a busy ledger, a full disk as a deletion
    was recorded) had set no next run: the purges waited for the hourly run or another job finishing, when
    freeing the disk mattered most. It is tried again a gap later."""
    rigs = rig_on(tmp_path, retention={"done_days": 0.001})  # 86.4 s
    r = next(rigs)
    job_id = r.order("RF")
    r.run(until=done(r, job_id), steps=10)
    real = r.ledger.update_job
    full = [True]

    def update_job(job_id: str, now: Any, **fields: Any) -> Any:
        if fields.get("stage") is Stage.PURGED and full:
            full.clear()
            raise sqlite3.OperationalError("database is locked")
        return real(job_id, now, **fields)

    monkeypatch.setattr(r.ledger, "update_job", update_job)
    r.run(until=lambda: not full, steps=20, dt=10)
    assert r.stage(job_id) is Stage.DONE
    r.run(until=lambda: r.stage(job_id) is Stage.PURGED, steps=10, dt=10)  # (no hourly run here)
    next(rigs, None)


def test_a_finished_jobs_folder_renamed_by_hand_is_not_recorded_deleted_and_says_why(tmp_path: Path) -> None:
    """Review HV 1: done/7100-1 renamed "7100-1 - keep" by an operator: retention found no folder
    of the job's name, recorded JobDataDeleted (show: "deleted ... after retention") and kept the
    files for good; renamed back, never deleted (the job purged already). Not recorded; said, in
    the folder too (HV 3: its STATUS.txt said "It stays here until retention removes it"); renamed
    back, deleted at the next run."""
    rigs = rig_on(tmp_path, retention={"done_days": 0.001})  # 86.4 s
    r = next(rigs)
    job_id = r.order("RN")
    r.run(until=done(r, job_id), steps=10)
    kept = r.root / "done" / f"{job_id} - keep"
    os.replace(r.root / "done" / job_id, kept)
    r.run(steps=12, dt=10)
    assert r.stage(job_id) is Stage.DONE and (kept / "output").is_dir()
    said = " ".join((kept / "STATUS.txt").read_text().split())
    assert f"this finished job's folder is done/{job_id} - keep/, not done/{job_id}/ (renamed by hand)" in said
    assert "Retention does not delete it here" in said and "until retention removes it" not in said
    os.replace(kept, r.root / "done" / job_id)
    r.engine.request_retention()  # (the hourly run: the service's scheduler)
    r.run(until=lambda: r.stage(job_id) is Stage.PURGED, steps=5)
    assert not (r.root / "done" / job_id).exists()
    next(rigs, None)


def _finished_and_kept(r: Rig, order_id: str, where: str) -> tuple[str, Path]:
    """A delivered job whose folder the operator moved or renamed to keep it (``where``, a path in
    the spool with ``{job}`` in it), said kept by retention (done_days short); its id and folder."""
    job_id = r.order(order_id)
    r.run(until=done(r, job_id), steps=10)
    kept = r.root / where.format(job=job_id)
    kept.parent.mkdir(exist_ok=True)
    os.replace(r.root / "done" / job_id, kept)
    r.run(steps=12, dt=10)
    return job_id, kept


def test_a_folder_with_a_name_that_is_no_utf8_text_in_done_does_not_stop_retention(tmp_path: Path) -> None:
    """Review HW 1: a folder in done/ whose name is no UTF-8 text (unzipped from a Windows archive)
    and a job's folder deleted by hand: looking for the job's folder renamed, the ledger was asked
    for the name's job, SQLite raised, and retention raised at every run: no job purged any more."""
    rigs = rig_on(tmp_path, retention={"done_days": 0.001})  # 86.4 s
    r = next(rigs)
    gone, other = r.order("UA"), r.order("UB")
    r.run(until=lambda: done(r, gone)() and done(r, other)(), steps=20)
    shutil.rmtree(r.root / "done" / gone)
    os.mkdir(os.fsencode(r.root / "done") + b"/Kunde M\xfcller")  # noqa: PTH102 - a name of bytes
    r.run(until=lambda: r.stage(other) is Stage.PURGED, steps=12, dt=10)
    assert r.stage(gone) is Stage.PURGED  # (its files deleted by hand: nothing left to keep)
    assert os.listdir(os.fsencode(r.root / "done")) == [b"Kunde M\xfcller"]
    next(rigs, None)


@pytest.mark.parametrize("where", ["done/keep/{job}", "failed/{job} check", "rejected/old/{job} - keep"])
def test_a_finished_jobs_folder_moved_into_a_subfolder_or_renamed_elsewhere_is_not_recorded_deleted(
    tmp_path: Path, where: str
) -> None:
    """Review HW 4: HV 1's mend looked at the top of done/ and rejected/ only: a folder moved into a
    folder the operator made there (done/keep/7100-1) or renamed in failed/ ("7100-1 check") was
    recorded JobDataDeleted and kept for good, its STATUS.txt saying retention would remove it."""
    rigs = rig_on(tmp_path, retention={"done_days": 0.001})  # 86.4 s
    r = next(rigs)
    job_id, kept = _finished_and_kept(r, "RW", where)
    assert r.stage(job_id) is Stage.DONE and "JobDataDeleted" not in r.statuses(job_id)
    assert (kept / "output").is_dir()
    said = " ".join((kept / "STATUS.txt").read_text().split())
    rel = kept.relative_to(r.root)
    assert f"this finished job's folder is {rel}/" in said or f"is in {rel.parent}/" in said, said
    assert "Retention does not delete it here" in said and "until retention removes it" not in said
    next(rigs, None)


def test_a_folder_renamed_to_keep_it_then_dragged_into_the_inbox_is_put_back_under_its_name_and_kept(
    tmp_path: Path,
) -> None:
    """Review HW 2: done/7100-1 renamed "7100-1 - keep" (said kept by retention), then dragged into
    inbox/: put back as done/7100-1 (HV 2's mend: retention at once), and deleted within a second,
    artwork and output. Put back where it was, under the name it came with, and kept."""
    rigs = rig_on(tmp_path, retention={"done_days": 0.001})  # 86.4 s
    r = next(rigs)
    job_id, kept = _finished_and_kept(r, "RK", "done/{job} - keep")
    assert "(renamed by hand)" in (kept / "STATUS.txt").read_text()
    os.replace(kept, r.inbox / kept.name)
    r.run(until=kept.is_dir, steps=40, dt=1)
    r.run(steps=12, dt=10)
    assert r.stage(job_id) is Stage.DONE and (kept / "output").is_dir()
    assert not (r.root / "done" / job_id).exists() and not list(r.inbox.iterdir())
    said = " ".join((kept / "STATUS.txt").read_text().split())
    assert "put it back here" in said and "Retention does not delete it here" in said
    next(rigs, None)


@pytest.mark.parametrize("case", ["restart", "its folder removed", "twice, a restart between"])
def test_a_kept_folder_dragged_into_the_inbox_after_a_restart_goes_back_where_it_was(tmp_path: Path, case: str) -> None:
    """Review IB 1: where a kept folder was (done/keep/<job>) was remembered in memory only: dragged
    into inbox/ after a restart (or once the operator had removed the emptied done/keep/), it was
    put back as done/<job>, and deleted at once. Review IC 1: read back from the notice the ledger
    kept, it was lost once the put-back's own notice replaced it. The ledger keeps the place."""
    keep_gone = case == "its folder removed"
    rigs = rig_on(tmp_path, retention={"done_days": 0.001})  # 86.4 s
    r = next(rigs)
    job_id, kept = _finished_and_kept(r, "RB", "done/keep/{job}")
    assert "moved there by hand" in (kept / "STATUS.txt").read_text()
    if not keep_gone:
        r.start()  # (a restart: a new engine, nothing in memory)
    os.replace(kept, r.inbox / job_id)
    if keep_gone:
        kept.parent.rmdir()
    r.run(until=kept.is_dir, steps=40, dt=1)
    r.run(steps=12, dt=10)
    if case.startswith("twice"):
        r.start()
        os.replace(kept, r.inbox / job_id)
        r.run(until=kept.is_dir, steps=40, dt=1)
        r.run(steps=12, dt=10)
    assert r.stage(job_id) is Stage.DONE and (kept / "output").is_dir()
    assert not (r.root / "done" / job_id).exists() and not list(r.inbox.iterdir())
    assert "Retention does not delete it here" in " ".join((kept / "STATUS.txt").read_text().split())
    next(rigs, None)


def test_a_kept_folder_moved_by_hand_under_the_jobs_name_then_dragged_into_the_inbox_stays_kept(
    tmp_path: Path,
) -> None:
    """Review IF 1 (of IE 1's mend, taken back): "7100-1 - keep" said kept, then moved by the
    operator to done/keep/7100-1 (the job's own name, in a folder of theirs) and dragged into inbox/
    before retention's next run: taken for a folder renamed back to be deleted, it was put back as
    done/7100-1 and deleted at once. A folder kept once goes back to the kept place (IE 1: one
    renamed back on purpose, then dragged, is kept too: the operator renames it again)."""
    rigs = rig_on(tmp_path, retention={"done_days": 0.001})  # 86.4 s
    r = next(rigs)
    job_id, kept = _finished_and_kept(r, "RV", "done/{job} - keep")
    assert "(renamed by hand)" in (kept / "STATUS.txt").read_text()
    (r.root / "done" / "keep").mkdir()
    os.replace(kept, r.root / "done" / "keep" / job_id)
    os.replace(r.root / "done" / "keep" / job_id, r.inbox / job_id)  # (dragged)
    r.run(until=kept.is_dir, steps=40, dt=1)
    r.run(steps=12, dt=10)
    assert r.stage(job_id) is Stage.DONE and (kept / "output").is_dir() and not list(r.inbox.iterdir())
    next(rigs, None)


@pytest.mark.parametrize("area", ["failed", "quarantine"])
def test_a_folder_kept_in_failed_or_quarantine_stays_there_across_a_restart_and_a_reprint(
    tmp_path: Path, area: str
) -> None:
    """Review IG 1: done/7100-1 moved by hand into failed/ (or quarantine/), said kept by retention:
    the next start took it for a move to done/ a crash had cut short, moved it back, and retention
    deleted it at once. IG 2: a reprint took that folder for the job's and made it its own, and it
    was deleted when the reprint fell due, the operator's notes with it."""
    rigs = rig_on(tmp_path, retention={"done_days": 0.001})  # 86.4 s
    r = next(rigs)
    job_id, kept = _finished_and_kept(r, "RG", f"{area}/{{job}}")
    (kept / "operator-notes.txt").write_text("keep for the audit\n")
    assert "moved there by hand" in (kept / "STATUS.txt").read_text()
    r.start()  # (a restart)
    r.run(steps=12, dt=10)
    assert r.stage(job_id) is Stage.DONE and (kept / "operator-notes.txt").is_file()
    r.take_prints()
    r.order("RG", extra="reprint: true\n")
    r.run(until=lambda: r.stage(job_id) is Stage.DONE and "RecreationRequested" in r.statuses(job_id), steps=20)
    assert r.take_prints() == ["RG_RG-1_bc-85x55_x1.pdf"]
    r.run(until=lambda: r.stage(job_id) is Stage.PURGED, steps=12, dt=10)
    r.start()
    r.run(steps=3)
    assert (kept / "operator-notes.txt").is_file() and (kept / "output").is_dir()
    next(rigs, None)


def test_a_finished_jobs_folder_renamed_in_failed_is_no_unknown_job_folder_at_a_start(tmp_path: Path) -> None:
    """Review IG 4: failed/7500-1.keep (a job-id-shaped name an operator gave a finished job's
    folder to keep it) was said at every start as a job folder the ledger does not know ("put
    back from a backup?"), at error level, and by `health`."""
    rigs = rig_on(tmp_path, retention={"done_days": 0.001})  # 86.4 s
    r = next(rigs)
    _job_id, kept = _finished_and_kept(r, "RH", "failed/{job}.keep")
    with capture_logs() as logs:
        r.start()
    assert "recovery.job_folders_unknown" not in [e["event"] for e in logs]
    assert r.engine.unknown_job_folders == [] and (kept / "output").is_dir()
    next(rigs, None)


def test_a_refused_copy_numbered_by_its_name_is_not_taken_for_the_jobs_kept_folder(tmp_path: Path) -> None:
    """Review IB 2: the second refused copy of a job's folder is "<job> (copy, not used)-2": with the
    job's own folder deleted by hand, retention took that copy for the job's folder moved into
    failed/, said it kept, and never recorded the job's files deleted."""
    rigs = rig_on(tmp_path, retention={"done_days": 0.001})  # 86.4 s
    r = next(rigs)
    job_id = r.order("RC")
    r.run(until=done(r, job_id), steps=10)
    shutil.copytree(r.root / "done" / job_id, r.root / "failed" / f"{job_id} (copy, not used)-2")
    shutil.rmtree(r.root / "done" / job_id)
    r.run(until=lambda: r.stage(job_id) is Stage.PURGED, steps=12, dt=10)
    assert (r.root / "failed" / f"{job_id} (copy, not used)-2" / "output").is_dir()  # (not ours to delete)
    next(rigs, None)


def test_a_reprints_new_folder_does_not_say_it_is_kept_when_the_old_one_was_renamed(tmp_path: Path) -> None:
    """Review HW 3: done/7100-1 renamed "7100-1 - keep" (said kept), then the order reprinted: the
    new done/7100-1/STATUS.txt said "Retention does not delete it here (see above)", of a folder
    retention deletes (nothing above said so)."""
    rigs = rig_on(tmp_path, retention={"done_days": 0.001})  # 86.4 s
    r = next(rigs)
    job_id, kept = _finished_and_kept(r, "RP", "done/{job} - keep")
    assert "Retention does not delete it here" in (kept / "STATUS.txt").read_text()
    r.order("RP", extra="reprint: true\n")
    r.take_prints()
    r.run(until=lambda: r.stage(job_id) is Stage.DONE and "RecreationRequested" in r.statuses(job_id), steps=20)
    assert r.take_prints() == ["RP_RP-1_bc-85x55_x1.pdf"]
    r.run(until=lambda: (r.root / "done" / job_id / "STATUS.txt").is_file(), steps=5)
    said = " ".join((r.root / "done" / job_id / "STATUS.txt").read_text().split())
    assert "It stays here until retention removes it." in said and "Retention does not delete" not in said
    r.run(until=lambda: r.stage(job_id) is Stage.PURGED, steps=12, dt=10)
    assert not (r.root / "done" / job_id).exists() and (kept / "output").is_dir()
    next(rigs, None)


def test_a_job_that_falls_due_while_retention_runs_is_deleted_at_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review HS 1: the next run was set only for a job not due yet when the run ended; one that
    fell due while the run deleted others (slices of up to 0.5 s, a slow disk) set none: purges
    stopped until another job finished or the hourly run (jobs up to done_days late in a long run)."""
    rigs = rig_on(tmp_path, retention={"done_days": 0.001})  # 86.4 s
    r = next(rigs)
    first = r.order("SC")
    r.run(until=done(r, first), steps=10)
    r.clock.advance(10)
    second = r.order("SD")
    r.run(until=done(r, second), steps=10)
    real_rmtree = shutil.rmtree

    def slow(path: Any, *args: Any, **kw: Any) -> None:
        r.clock.advance(15)  # (the first one's deletion takes a while: the second one falls due meanwhile)
        real_rmtree(path, *args, **kw)

    monkeypatch.setattr(engine_module.shutil, "rmtree", slow)
    r.run(until=lambda: r.stage(first) is Stage.PURGED, steps=20, dt=10)
    monkeypatch.setattr(engine_module.shutil, "rmtree", real_rmtree)
    r.run(until=lambda: r.stage(second) is Stage.PURGED, steps=20, dt=10)  # (the hourly run: 3,600 s)
    next(rigs, None)


def test_the_same_order_sent_again_after_a_purge_left_half_done_is_not_called_new_artwork(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review EB 2: a purge that could not empty a delivered job's folder (an operator's notes) took
    its artwork; the same manifest and PDF sent again (a webhook's retry) were refused saying "The
    artwork it brings ... is not what the job was made from: it was not printed", which an operator
    acts on by printing it a second time. The recorded sha256 tells them the same."""
    r = rig
    job_id = r.order("HP")
    pdf, manifest = (r.inbox / "HP.pdf").read_bytes(), (r.inbox / "HP.yaml").read_bytes()
    r.run(until=done(r, job_id), steps=10)
    real_rmtree = shutil.rmtree

    def half(path: Any, onerror: Any = None, **kw: Any) -> None:
        for name in os.listdir(path):  # everything but notes/ goes
            if name != "notes":
                target = Path(path) / name
                real_rmtree(target) if target.is_dir() else target.unlink()
        onerror(os.unlink, str(Path(path) / "notes"), (PermissionError, PermissionError(13, "Permission denied"), None))

    (r.root / "done" / job_id / "notes").mkdir()
    monkeypatch.setattr(engine_module.shutil, "rmtree", half)
    r.clock.advance(30 * 86400 + 1)
    r.engine.run_retention()
    assert r.stage(job_id) is Stage.DONE and not (r.root / "done" / job_id / "artwork").exists()
    (r.inbox / "HP.pdf").write_bytes(pdf)
    (r.inbox / "HP.yaml").write_bytes(manifest)
    r.run(until=lambda: any((r.root / "failed").glob("HP.yaml*/ERROR.txt")), steps=15)
    [error] = [p.read_text() for p in (r.root / "failed").glob("HP.yaml*/ERROR.txt")]
    assert "not what the job was made from" not in error and "was not printed" not in error, error
    assert f"job {job_id} was already delivered" in error, error


def test_a_delivered_jobs_own_folder_dragged_into_the_inbox_is_put_back(rig: Rig) -> None:
    """Review EB 4: done/<job> moved (not copied) into inbox/ was filed in failed/ as "a copy" whose
    job's folder was "purged since" (it was not), and retention then recorded its files deleted
    while they lay in failed/, never purged. The job's own folder goes back to done/, said."""
    r = rig
    job_id = r.order("MI")
    r.run(until=done(r, job_id), steps=10)
    r.take_prints()
    os.replace(r.root / "done" / job_id, r.inbox / job_id)
    r.run(until=lambda: (r.root / "done" / job_id).is_dir(), steps=40, dt=1)
    assert not (r.inbox / job_id).exists() and not list((r.root / "failed").iterdir())
    assert r.take_prints() == [] and r.stage(job_id) is Stage.DONE
    status = " ".join((r.root / "done" / job_id / "STATUS.txt").read_text().split())
    assert "so the daemon put it back here. The job is finished (InHotFolder): nothing is printed again" in status
    r.clock.advance(30 * 86400 + 1)
    r.engine.run_retention()
    assert r.stage(job_id) is Stage.PURGED and not (r.root / "done" / job_id).exists()


def test_a_pdf_whose_content_is_damaged_is_printed_written_anew_where_repaired_is_a_warning(tmp_path: Path) -> None:
    """Review EA 3: with validation.checks.repaired: warning, a PDF whose page content does not
    decode went to the printer byte for byte (the output a link to the artwork: the output's reading
    does not decode content, and was not told preflight had found it damaged); README promises it is
    written anew."""
    rigs = rig_on(tmp_path, validation={"checks": {"repaired": "warning"}})
    r = next(rigs)
    corrupt = make_damaged_content_pdf(r.inbox / "DC.pdf", "corrupt", CARD)
    sent = corrupt.read_bytes()
    # (a product without a size: no boxes to add, so nothing else has the output written anew)
    (r.inbox / "DC.yaml").write_text('order_id: "DC"\nproduct: poster-a1\nquantity: 1\nartwork: [DC.pdf]\n')
    r.run(until=done(r, "DC-1"), steps=10)
    folder = r.root / "done" / "DC-1"
    [output] = list((folder / "output").iterdir())
    assert output.stat().st_ino != (folder / "artwork" / "DC.pdf").stat().st_ino
    assert output.read_bytes() != sent
    next(rigs, None)


@pytest.mark.parametrize("second", ["written over", "appended", "filled in"])
def test_a_settling_upload_written_over_in_place_between_two_looks_is_not_given_to_a_waiting_order(
    rig: Rig, second: str
) -> None:
    """Review DZ 3: order A waited for artwork.pdf; A's client wrote it in place, the engine saw it
    settling; B's client wrote its bigger PDF over it (O_TRUNC, the same inode: Explorer over Samba,
    vsftpd) between two looks: taken for A's upload going on, given to A, and A printed B's PDF. The
    bytes that ended the file at the last look are gone: a new version, held as one. An upload going
    on (appended) or a copy that set its size first and fills it in (Explorer's zeros) is not."""
    r = rig
    (r.inbox / "A.yaml").write_text('order_id: "A"\nproduct: bc-85x55\nquantity: 1\nartwork: [artwork.pdf]\n')
    r.run(until=lambda: r.stage("A-1") is Stage.AWAITING, steps=10, dt=0.5)
    mine = make_pdf(r.tmp / "a.pdf", pages=CARD).read_bytes()
    other = make_pdf(r.tmp / "b.pdf", pages=CARD, content=b"0 0 1 rg 10 10 100 100 re f " * 50).read_bytes()
    art = r.inbox / "artwork.pdf"
    first = {"written over": mine, "appended": mine[: len(mine) // 2], "filled in": bytes(len(mine))}[second]
    art.write_bytes(first)
    r.engine.hint(art)
    r.engine.step()
    r.clock.advance(0.2)
    with open(art, "r+b") as fh:  # (the same inode)
        if second == "written over":
            fh.truncate(0)
            fh.write(other)
        else:
            fh.seek(0 if second == "filled in" else len(first))
            fh.write(mine if second == "filled in" else mine[len(first) :])
    r.engine.hint(art)
    with capture_logs() as logs:
        r.run(steps=4, dt=0.25)
    replaced = [e for e in logs if e["event"] == "artwork.replaced_before_taken"]
    if second == "written over":
        assert r.stage("A-1") is Stage.AWAITING and art.read_bytes() == other, "not given to A at once"
        assert "the file there was written over from its start" in replaced[0]["reason"]
    else:
        assert replaced == []
        r.run(until=done(r, "A-1"), steps=10)
        assert (r.root / "done" / "A-1" / "artwork" / "artwork.pdf").read_bytes() == mine


def test_retention_does_not_take_a_refused_resend_named_as_the_job_for_its_folder(rig: Rig) -> None:
    """Review EE 1 (of EB 1's mend): the order sent again as a folder drop named as its job id was
    refused into failed/<job id>/; once done/<job id> was deleted by hand, retention took that refused
    folder for the job's own "moved there by hand": the job never purged, and the refused folder got
    the job's STATUS.txt telling the operator to move it into done/. A folder is the job's own only
    where its STATUS.txt says so."""
    r = rig
    job_id = r.order("RC")
    r.run(until=done(r, job_id), steps=10)
    (r.inbox / job_id).mkdir()
    make_pdf(r.inbox / job_id / "RC.pdf", pages=CARD)
    (r.inbox / job_id / "manifest.yaml").write_text(
        'order_id: "RC"\nproduct: bc-85x55\nquantity: 1\nartwork: [RC.pdf]\n'
    )
    r.run(until=lambda: not (r.inbox / job_id).exists(), steps=40)
    assert (r.root / "failed" / job_id / "ERROR.txt").is_file()
    shutil.rmtree(r.root / "done" / job_id)
    r.clock.advance(30 * 86400 + 1)
    r.engine.run_retention()
    assert r.stage(job_id) is Stage.PURGED and r.statuses(job_id)[-1] == "JobDataDeleted"
    assert not (r.root / "failed" / job_id / "STATUS.txt").exists()
    assert (r.root / "failed" / job_id / "ERROR.txt").is_file(), "the refused re-send is left as it was"


def test_a_release_dropped_while_a_replacements_output_is_made_approves_nothing(rig: Rig) -> None:
    """Review EF 1: a RELEASE dropped into work/<job> while the replacement's output was being made
    (nothing in output/ to look at) moved with the folder into quarantine/ and was read there: it
    approved the new output unseen, and the job printed. It is filed as unused now, the job held."""
    r = rig
    job_id, folder = _held(r, "DM")
    make_pdf(r.tmp / "new.pdf", pages=[(91.0, 61.0), (91.5, 61.0)])
    pdf, calls = r.engine.pdf, []
    real = pdf.build_output

    def build(*args: Any, **kwargs: Any) -> Any:
        if not calls:
            calls.append(1)
            assert not any((r.root / "work" / job_id / "output").iterdir())  # nothing to look at yet
            (r.root / "work" / job_id / "RELEASE").write_text("alice\nok\n")
        return real(*args, **kwargs)

    pdf.build_output = build
    shutil.copy(r.tmp / "new.pdf", folder / "replace" / "DM.pdf")
    r.run(until=lambda: r.stage(job_id) is Stage.HELD and bool(calls), steps=15)
    r.run(steps=5)
    assert calls and r.take_prints() == [] and r.stage(job_id) is Stage.HELD and r.job(job_id).blocked
    assert not (folder / "RELEASE").exists() and list((folder / "history").glob("*unused-RELEASE"))
    status = " ".join((folder / "STATUS.txt").read_text().split())
    assert (
        "RELEASE not acted on (kept in history/ as unused-...): it was dropped while this output was being made"
        in status
    )
    (folder / "RELEASE").write_text("alice\n")  # once the new output is seen
    r.run(until=lambda: r.stage(job_id) is Stage.DONE, steps=15)
    assert r.take_prints() == ["DM_DM-1_bc-85x55_x1.pdf"]


def test_the_same_pdf_put_back_into_replace_does_not_block_a_released_job_again(rig: Rig) -> None:
    """Review EF 2: a released job whose copies failed (failed/) got the very PDF alice approved put
    into replace/: blocked again, "the release by alice approved the output made before operator put
    in new artwork", though its fingerprint was the one approved. Other artwork still blocks it."""
    r = rig
    job_id, folder = _held(r, "IR")
    shutil.copy(folder / "artwork" / "IR.pdf", r.tmp / "same.pdf")
    shutil.rmtree(r.hot)  # the printer's share not mounted
    (folder / "RELEASE").write_text("alice\n")
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=80, dt=5)
    r.hot.mkdir(parents=True)
    shutil.copy(r.tmp / "same.pdf", r.root / "failed" / job_id / "replace" / "IR.pdf")
    r.run(until=lambda: r.stage(job_id) is Stage.DONE, steps=20)
    assert r.take_prints() == ["IR_IR-1_bc-85x55_x1.pdf"] and not r.job(job_id).blocked


def test_a_release_dropped_while_the_first_output_is_made_approves_in_advance(rig: Rig) -> None:
    """(Of review EF 1's mend) a RELEASE dropped while a job blocked on arrival has its first output
    made approves in advance, as a release before the first output does (README): only one dropped
    while the output of new artwork is made is filed as unused."""
    r = rig
    pdf, calls = r.engine.pdf, []
    real = pdf.build_output

    def build(*args: Any, **kwargs: Any) -> Any:
        if not calls:
            calls.append(1)
            (r.root / "work" / "AD-1" / "RELEASE").write_text("alice\n")
        return real(*args, **kwargs)

    pdf.build_output = build
    r.order("AD", product="bc-85x55", extra="blocked: true\n")
    r.run(until=done(r, "AD-1"), steps=20)
    assert calls and r.take_prints() == ["AD_AD-1_bc-85x55_x1.pdf"]


def test_a_release_dropped_once_the_new_output_is_in_quarantine_is_taken(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review EH 3 (of EF 1's mend): a RELEASE dropped into quarantine/<job> the moment the folder got
    there with its new output (a script watching for it) was filed as "dropped while this output
    was being made". Only what was in the folder before it moved is."""
    r = rig
    job_id, folder = _held(r, "QR")
    make_pdf(r.tmp / "new.pdf", pages=[(91.0, 61.0), (91.5, 61.0)])
    real = type(r.engine)._record_stage

    def then_release(self: Any, job: str, stage: Stage, now: Any, **kwargs: Any) -> Any:
        result = real(self, job, stage, now, **kwargs)
        if stage is Stage.HELD and (folder / "output").is_dir() and any((folder / "output").iterdir()):
            (folder / "RELEASE").write_text("script\n")
        return result

    monkeypatch.setattr(type(r.engine), "_record_stage", then_release)
    shutil.copy(r.tmp / "new.pdf", folder / "replace" / "QR.pdf")
    r.run(until=done(r, job_id), steps=20)
    assert r.take_prints() == ["QR_QR-1_bc-85x55_x1.pdf"]


def test_retention_waits_for_a_finished_jobs_folder_dragged_into_the_inbox_to_be_put_back(rig: Rig) -> None:
    """Review EC 1 (a soak): done/<job> dragged into inbox/ as retention fell due, before the daemon
    put it back: JobDataDeleted recorded while its files sat in inbox/, then the folder refused as
    "a copy" of a job whose folder was "purged since", kept in failed/ for good."""
    r = rig
    job_id = r.order("RI")
    r.run(until=done(r, job_id), steps=10)
    os.replace(r.root / "done" / job_id, r.inbox / job_id)
    r.clock.advance(30 * 86400 + 1)
    r.engine.run_retention()
    assert r.stage(job_id) is Stage.DONE and "JobDataDeleted" not in r.statuses(job_id)
    r.run(until=lambda: (r.root / "done" / job_id).is_dir(), steps=40, dt=1)
    # Put back, deleted at once, not at the next hourly run (review HV 2).
    r.run(until=lambda: r.stage(job_id) is Stage.PURGED, steps=5)
    assert not (r.root / "done" / job_id).exists()
    assert not list((r.root / "failed").iterdir())


def test_a_release_filed_unused_is_said_though_the_daemon_is_killed_right_after(rig: Rig) -> None:
    """Review EI 1 (of EF 1's mend): the RELEASE dropped while a replacement's output was made was
    filed into history/ at once, but said only after the output's record: killed between the two,
    the operator's RELEASE was gone without a word, the job held, STATUS.txt still on the REPLACE."""
    r = rig
    job_id, folder = _held(r, "DK")
    make_pdf(r.tmp / "new.pdf", pages=[(91.0, 61.0), (91.5, 61.0)])
    shutil.copy(r.tmp / "new.pdf", folder / "replace" / "DK.pdf")

    def crash(mp: pytest.MonkeyPatch) -> None:
        real_build = InProcessPdf.build_output

        def build(self: Any, *args: Any, **kwargs: Any) -> Any:
            (r.root / "work" / job_id / "RELEASE").write_text("alice\nok\n")
            return real_build(self, *args, **kwargs)

        mp.setattr(InProcessPdf, "build_output", build)
        real_filing = Engine._file_stale_releases

        def filing(self: Any, job_dir: Path, now: Any, dropped: str, **kwargs: Any) -> str:
            answer = real_filing(self, job_dir, now, dropped, **kwargs)
            if answer and "while this output was being made" in dropped:
                os._exit(99)
            return answer

        mp.setattr(Engine, "_file_stale_releases", filing)

    life_until_killed(r, crash)
    r.start()
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    status = " ".join((r.root / "quarantine" / job_id / "STATUS.txt").read_text().split())
    assert "RELEASE not acted on (kept in history/ as unused-...)" in status, status
    assert r.take_prints() == []


def test_a_config_saved_while_a_reload_waits_for_the_engine_is_not_kept_as_the_one_run_on(rig: Rig) -> None:
    """Review EK 1: the copy of the config the daemon ran on (state/config-last-run.yaml) was the
    file as it was when the engine applied a reload, not the config read: an edit saved while the
    engine finished a job (routes sending everything nowhere, to be applied by a restart) was kept
    as "run on", and after the restart a waiting job went unprinted (CopyToHotFolderSkipped)
    without a word that the routes had changed."""
    r = rig
    (r.inbox / "500.yaml").write_text('order_id: "500"\nproduct: bc-85x55\nquantity: 1\nartwork: [500.pdf]\n')
    r.run(until=lambda: r.stage("500-1") is Stage.AWAITING, steps=10)
    data = yaml.safe_load(r.config_path.read_text())
    data["logging"]["level"] = "warning"  # a harmless edit, reloaded
    r.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    r.engine.set_config(load_config(r.config_path))  # read by the daemon's main thread
    data["routes"] = [{"to": "skip"}]  # saved before the engine takes the reload in
    r.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    r.engine.step()
    kept = yaml.safe_load((r.root / "state" / "config-last-run.yaml").read_text())
    assert kept["routes"] != [{"to": "skip"}] and kept["logging"]["level"] == "warning"
    r.config = load_config(r.config_path)
    with capture_logs() as logs:
        r.start()
        make_pdf(r.inbox / "500.pdf", pages=CARD)
        r.run(until=lambda: r.stage("500-1") is Stage.DONE, steps=30)
    assert [e["new"] for e in logs if e["event"] == "job.route_changed"] == ["skip"]
    [skipped] = [e.detail for e in r.job("500-1").history if e.status is JobStatus.CopyToHotFolderSkipped]
    assert "the config was changed: it was going to indigo" in skipped, skipped


def test_route_says_a_copy_of_a_job_folder_is_no_order(rig: Rig) -> None:
    """Review EJ 1: a delivered job's folder copied with its PDF beside the manifest and
    `reprint: true` added: `route` said the job would be made again, and the daemon refused the
    folder as a copy of the job's folder (its STATUS.txt), nothing printed. `route` says so now."""
    r = rig
    job_id = r.order("RC")
    r.run(until=done(r, job_id), steps=20)
    assert r.take_prints() == ["RC_RC-1_bc-85x55_x1.pdf"]
    again = r.tmp / "RC-again"
    shutil.copytree(r.root / "done" / job_id, again)
    shutil.copy(again / "artwork" / "RC.pdf", again / "RC.pdf")
    (again / "manifest.yaml").write_text((again / "manifest.yaml").read_text() + "reprint: true\n")
    for named in (again, again / "manifest.yaml"):
        result = run_cli(r.config_path, "route", str(named))
        assert result.returncode == 1 and result.stdout == "", result
        assert f"holds job {job_id}'s STATUS.txt" in result.stderr and "nothing in it is printed" in result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    os.replace(again, r.inbox / "RC-again")
    r.engine.hint(r.inbox / "RC-again", moved_in=True)
    r.run(until=lambda: (r.root / "failed" / "RC-again (copy, not used)" / "ERROR.txt").exists(), steps=20)
    assert r.take_prints() == []
    (again / "STATUS.txt").parent.mkdir()
    shutil.copy(r.root / "failed" / "RC-again (copy, not used)" / "manifest.yaml", again / "manifest.yaml")
    assert "made again (reprint: true)" in _route(r, again / "manifest.yaml")["known"]  # without STATUS.txt
    # The job's own folder is routed as it is (review EP 2: refused as a copy of itself).
    assert "refused without reprint: true" in _route(r, r.root / "done" / job_id / "manifest.yaml")["known"]


def test_a_due_time_set_after_a_clock_step_is_not_moved_by_it_again(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review EO 1: a due time set with the wall clock already stepped, before the engine's look
    at the clock saw the step, was moved by the step once more: a manifest taken in the first
    step after the clock went back an hour failed "artwork missing after 600 seconds" at once;
    a copy attempt during which the clock went forward an hour retried after an hour and 10 s."""
    import spo_hotfolder.engine.deliveries as deliveries

    r = rig
    r.run(steps=3)
    (r.inbox / "aw.yaml").write_text('order_id: "AW"\nproduct: bc-85x55\nquantity: 1\nartwork: [aw.pdf]\n')
    r.run(steps=1, dt=1.0)
    r.clock._now -= timedelta(hours=1)  # stepped back while the engine waits between two steps
    r.run(until=lambda: r.stage("AW-1") is not None, steps=1, dt=0.25)
    r.run(steps=2, dt=0.25)
    assert r.stage("AW-1") is Stage.AWAITING and "ValidationFailed" not in r.statuses("AW-1")
    awaiting_until = r.job("AW-1").awaiting_until
    assert awaiting_until is not None
    assert 590 <= (parse_iso(awaiting_until) - r.clock.now()).total_seconds() <= 600
    os.replace(r.hot, r.hot.with_name("away"))
    real = deliveries.check_hot_folder
    stepped: list[bool] = []

    def check(*args: Any, **kwargs: Any) -> Any:
        if not stepped:
            stepped.append(True)
            r.clock._now += timedelta(hours=1)  # stepped forward while the attempt runs
        return real(*args, **kwargs)

    monkeypatch.setattr(deliveries, "check_hot_folder", check)
    job_id = r.order("RT")
    r.run(until=lambda: r.stage(job_id) is Stage.RETRY, steps=20, dt=0.25)
    r.run(steps=1, dt=0.25)
    next_attempt_at = r.job(job_id).next_attempt_at
    assert next_attempt_at is not None and (parse_iso(next_attempt_at) - r.clock.now()).total_seconds() <= 10
    os.replace(r.hot.with_name("away"), r.hot)
    r.run(until=done(r, job_id), steps=30, dt=1.0)  # backoff_seconds [10, 30]: within its 10 s


def _renamed_onto(r: Rig, name: str, marker: bytes) -> bytes:
    """Another upload of ``name`` renamed onto it in the inbox (an rsync's, a storefront's): its bytes."""
    make_pdf(r.tmp / f".{name}.new", pages=CARD, content=b"0 0 1 rg 0 0 10 10 re f % " + marker)
    data = (r.tmp / f".{name}.new").read_bytes()
    os.replace(r.tmp / f".{name}.new", r.inbox / name)
    return data


def _where_bytes(root: Path, data: bytes) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.read_bytes() == data)


def test_a_file_renamed_onto_the_name_while_it_is_taken_is_not_removed(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review EL 1: an artwork is taken by a link into the job's folder and the unlink of its
    inbox name; another upload renamed onto that name in between (an rsync, the next order's
    artwork.pdf) was removed by the unlink: in no folder, nothing said."""
    r = rig
    (r.inbox / "L1.yaml").write_text('order_id: "L1"\nproduct: bc-85x55\nquantity: 1\nartwork: [art.pdf]\n')
    r.run(until=lambda: r.stage("L1-1") is Stage.AWAITING, steps=10)
    _sent(r, "art.pdf")
    judged = (r.inbox / "art.pdf").read_bytes()
    real_link = os.link
    newcomer: list[bytes] = []

    def link(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        real_link(src, dst, *args, **kwargs)
        if not newcomer and Path(dst).parent.name == "artwork":
            newcomer.append(_renamed_onto(r, "art.pdf", b"newcomer"))

    monkeypatch.setattr(fsutil_module.os, "link", link)
    r.run(until=done(r, "L1-1"), steps=30)
    monkeypatch.undo()
    assert newcomer and (r.root / "done" / "L1-1" / "artwork" / "art.pdf").read_bytes() == judged
    assert _where_bytes(r.root, newcomer[0]) == ["inbox/art.pdf"]  # left as a new file, not lost


def test_the_jobs_of_an_order_naming_one_file_get_the_file_judged_complete(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review EL 2: for an order whose jobs name one file, the file was copied into the first
    jobs, then its name taken into the last: another upload renamed onto the name during the
    copies went to the last job unjudged (one order printed two artworks)."""
    r = rig
    (r.inbox / "K1.yaml").write_text(
        'order_id: "K1"\njobs:\n  - {product: bc-85x55, quantity: 1, artwork: [art.pdf]}\n'
        "  - {product: bc-85x55, quantity: 2, artwork: [art.pdf]}\n"
    )
    r.run(until=lambda: r.stage("K1-2") is Stage.AWAITING, steps=10)
    _sent(r, "art.pdf")
    judged = (r.inbox / "art.pdf").read_bytes()
    newcomer: list[bytes] = []
    for name in ("copyfile", "copyfileobj"):  # (the copy, as made before the mend and after it)
        real = getattr(shutil, name)

        def copy(*args: Any, real: Callable[..., Any] = real, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            if not newcomer:
                newcomer.append(_renamed_onto(r, "art.pdf", b"newcomer"))
            return result

        monkeypatch.setattr(shutil, name, copy)
    r.run(until=lambda: done(r, "K1-1")() and done(r, "K1-2")(), steps=30)
    monkeypatch.undo()
    assert newcomer
    for job_id in ("K1-1", "K1-2"):
        assert (r.root / "done" / job_id / "artwork" / "art.pdf").read_bytes() == judged, job_id
    assert _where_bytes(r.root, newcomer[0]) == ["inbox/art.pdf"]


@pytest.mark.parametrize("first", ["failed", "waiting"])
def test_a_folder_dropped_again_under_its_name_does_not_give_its_pdf_to_the_order_waiting_there(
    tmp_path: Path, first: str
) -> None:
    """Review EL 3: order A dropped as inbox/upload/ whose PDF never came (waiting in work/, or
    timed out into failed/: the folder stays while a job waits there); order B dropped later
    into a folder of the same name, its PDF copied before its manifest: A took B's PDF and
    printed it. As at the top of inbox/: B's PDF goes to B where A timed out; set aside for the
    operator where A still waits (whose it is cannot be told)."""
    for r in rig_on(tmp_path, watch={"settle_seconds": 0.5, "artwork_timeout_seconds": 60}):
        (r.inbox / "upload").mkdir()
        manifest = 'order_id: "{}"\nproduct: bc-85x55\nquantity: 1\nartwork: [artwork.pdf]\n'
        (r.inbox / "upload" / "manifest.yaml").write_text(manifest.format("A7"))
        r.engine.hint(r.inbox / "upload" / "manifest.yaml")
        r.run(until=lambda r=r: r.stage("A7-1") is Stage.AWAITING, steps=20)
        if first == "failed":
            r.run(until=lambda r=r: r.stage("A7-1") is Stage.FAILED, steps=20, dt=10)
        else:
            r.run(steps=3, dt=10)
            assert r.stage("A7-1") is Stage.AWAITING
        assert (r.inbox / "upload").is_dir()
        make_pdf(r.tmp / "b.pdf", pages=CARD, content=b"0 0 1 rg 0 0 10 10 re f % B7")
        b_pdf = (r.tmp / "b.pdf").read_bytes()
        os.replace(r.tmp / "b.pdf", r.inbox / "upload" / "artwork.pdf")  # B's PDF first ...
        r.engine.hint(r.inbox / "upload" / "artwork.pdf", moved_in=True)
        r.run(steps=4, dt=0.25)
        (r.inbox / "upload" / "manifest.yaml").write_text(manifest.format("B7"))  # ... then its manifest
        r.engine.hint(r.inbox / "upload" / "manifest.yaml")
        r.run(steps=60, dt=0.5)
        assert "InHotFolder" not in r.statuses("A7-1")
        if first == "failed":
            assert r.stage("B7-1") is Stage.DONE
            assert (r.root / "done" / "B7-1" / "artwork" / "artwork.pdf").read_bytes() == b_pdf
            assert r.take_prints() == ["B7_B7-1_bc-85x55_x1.pdf"]
        else:
            assert r.take_prints() == []
            assert _where_bytes(r.root, b_pdf), "B's PDF kept somewhere"


def test_a_pdf_waits_for_the_manifest_held_beside_it_past_a_short_artwork_timeout(tmp_path: Path) -> None:
    """Review HG 2: with artwork_timeout_seconds shorter than a manifest's longer wait (a YAML
    manifest whose last line has no line break, held max(5 s, 5 x settle_seconds); one written
    slowly), the PDF sent with it went to failed/ as no order's first, and the job failed
    "artwork missing". A file at the top of inbox/ waits while a manifest there is held."""
    for r in rig_on(tmp_path, watch={"settle_seconds": 0.5, "artwork_timeout_seconds": 3}):
        make_pdf(r.inbox / "NL.pdf", pages=CARD)
        r.engine.hint(r.inbox / "NL.pdf")
        (r.inbox / "NL.yaml").write_text('order_id: NL\nquantity: 1\nartwork: [NL.pdf]\nproduct: "bc-85x55"')
        r.engine.hint(r.inbox / "NL.yaml")
        r.run(until=done(r, "NL-1"), steps=40, dt=0.5)
        assert "ValidationFailed" not in r.statuses("NL-1")
        assert os.listdir(r.root / "failed") == [] and r.take_prints() == ["NL_NL-1_bc-85x55_x1.pdf"]


def test_a_job_whose_artwork_is_kept_open_for_writing_fails_at_its_deadline(tmp_path: Path) -> None:
    """Review EL 4: the file a job waits for, whole and unchanged, kept open for writing by a
    stuck client (an SMB session, an FTP upload that stopped): the job's deadline was moved on
    0.7 s at a time for as long as the file stayed open (the job waiting for ever, `show` saying
    a deadline a second ahead). Past its deadline, once the file has been held open unchanged
    for HELD_OPEN_WARN_SECONDS, it fails saying the file is open for writing, and takes the file
    once it is closed."""
    for r in rig_on(tmp_path, watch={"settle_seconds": 0.5, "artwork_timeout_seconds": 30}):
        (r.inbox / "H5.yaml").write_text('order_id: "H5"\nproduct: bc-85x55\nquantity: 1\nartwork: [stuck.pdf]\n')
        r.run(until=lambda r=r: r.stage("H5-1") is Stage.AWAITING, steps=10)
        make_pdf(r.tmp / "whole.pdf", pages=CARD)
        with open(r.inbox / "stuck.pdf", "wb") as fh:  # written whole, never closed (until below)
            fh.write((r.tmp / "whole.pdf").read_bytes())
            fh.flush()
            r.engine.hint(r.inbox / "stuck.pdf")
            # An upload that pauses (open, unchanged) across the deadline waits (review EP 1) ...
            r.run(steps=30, dt=2)
            assert r.stage("H5-1") is Stage.AWAITING
            # ... up to HELD_OPEN_WARN_SECONDS unchanged: then a stuck client.
            r.run(until=lambda r=r: r.stage("H5-1") is Stage.FAILED, steps=40, dt=10)
            assert r.clock.now() - parse_iso(r.job("H5-1").created_at) >= timedelta(seconds=300)
            error = " ".join((r.root / "failed" / "H5-1" / "ERROR.txt").read_text().split())
            assert "artwork missing after 30 seconds: stuck.pdf" in error
            assert "some program still has it open for writing" in error, error
        r.engine.hint(r.inbox / "stuck.pdf")
        r.run(until=done(r, "H5-1"), steps=30, dt=0.5)
        assert r.take_prints() == ["H5_H5-1_bc-85x55_x1.pdf"]


def test_a_folder_that_got_a_removed_folders_inode_is_not_taken_for_it(rig: Rig) -> None:
    """Review EN 1: in polling mode, an order's folder drop removed and the next order's made
    within one interval got its inode, and its manifest.json the removed one's too: the poller
    took it for a rename, and the removed folder's job took the new order's artwork.pdf and
    printed it. A name this daemon took out of the folder, there again, says it is another."""
    r = rig
    manifest = '{{"order_id": "{}", "product": "bc-85x55", "quantity": 1, "artwork": ["artwork.pdf"]}}'
    (r.inbox / "orderA").mkdir()
    (r.inbox / "orderA" / "manifest.json").write_text(manifest.format("A"))
    r.engine.hint(r.inbox / "orderA" / "manifest.json")
    r.run(until=lambda: r.stage("A-1") is Stage.AWAITING, steps=20)
    shutil.rmtree(r.inbox / "orderA")
    (r.inbox / "orderB").mkdir()
    make_pdf(r.inbox / "orderB" / "artwork.pdf", pages=CARD)
    (r.inbox / "orderB" / "manifest.json").write_text(manifest.format("B"))
    r.engine._on_folder_moved(r.inbox / "orderA", r.inbox / "orderB", frozenset())  # as the poller said it
    [awaited] = r.ledger.artwork("A-1")
    assert awaited.source == str(r.inbox / "orderA" / "artwork.pdf")
    for name in ("artwork.pdf", "manifest.json"):
        r.engine.hint(r.inbox / "orderB" / name)
    r.run(until=done(r, "B-1"), steps=30)
    assert r.take_prints() == ["B_B-1_bc-85x55_x1.pdf"] and r.stage("A-1") is Stage.AWAITING


def test_an_empty_artwork_dropped_whole_with_its_manifest_is_not_said_to_be_still_written(rig: Rig) -> None:
    """Review EM 1: a folder drop with its manifest and an empty a.pdf, renamed into inbox/ whole:
    the job said "AwaitingData: waiting for a.pdf to be complete (still being written)" before
    failing as empty (SPEC 5: taken like any other once stable; SPEC 6: AwaitingData is artwork
    not there yet). Its history is Ordered, ValidationFailed."""
    r = rig
    folder = r.tmp / "Z1"
    folder.mkdir()
    (folder / "manifest.yaml").write_text('order_id: "Z1"\nproduct: bc-85x55\nquantity: 1\nartwork: [a.pdf]\n')
    (folder / "a.pdf").write_bytes(b"")
    os.replace(folder, r.inbox / "Z1")
    r.engine.hint(r.inbox / "Z1", moved_in=True)
    r.run(until=lambda: r.stage("Z1-1") is Stage.FAILED, steps=40, dt=0.5)
    assert r.statuses("Z1-1") == ["Ordered", "ValidationFailed"]
    assert "empty" in (r.root / "failed" / "Z1-1" / "ERROR.txt").read_text()


def test_a_replace_command_withdrawn_while_its_file_is_hashed_is_not_done(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review ER 1: Ctrl-C on `replace` while the daemon hashed the file (seconds for one of some
    GiB): the CLI said "withdrawn, nothing was done", and the daemon, whose look for the command
    file was behind it, recorded the replacement and printed the job (not blocked, in failed/).
    It looks again before recording: undone, the job as it was."""
    import spo_hotfolder.engine.actions as actions_module
    from spo_hotfolder.commands import _stage_command

    r = rig
    job_id = _failed(r, "RW")
    folder = r.root / "failed" / job_id
    before = sorted(p.name for p in (folder / "artwork").iterdir())
    make_pdf(r.tmp / "RW.pdf", pages=CARD)
    real = actions_module.sha256_of

    def hashed_then_withdrawn(fh: Any) -> str:
        for command in r.engine.commands_dir().glob("*.json"):
            command.unlink()  # the CLI's Ctrl-C, while the file is hashed
        return str(real(fh))

    monkeypatch.setattr(actions_module, "sha256_of", hashed_then_withdrawn)
    _stage_command(r.config, Action.REPLACE, job_id, "alice", "", r.tmp / "RW.pdf")
    r.run(steps=5)
    assert "ArtworkUploaded" not in r.statuses(job_id) and r.stage(job_id) is Stage.FAILED
    assert sorted(p.name for p in (folder / "artwork").iterdir()) == before
    assert r.take_prints() == []


def test_a_drop_file_answered_and_left_in_its_folder_does_not_stop_an_offline_command(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review ER 3: a RETRY answered by the daemon ("refused: has not failed") that its folder did
    not let go into history/ (made read-only by hand) was then taken, with the daemon stopped, for a
    drop file "not read yet", and `release` refused."""
    r = rig
    job_id, folder = _held(r, "DA")
    monkeypatch.setattr(r.engine, "_consume_drop", lambda *_args, **_kwargs: None)  # (its folder keeps it)
    (folder / "RETRY").write_text("anna\n")
    r.engine.hint(folder / "RETRY")
    r.run(until=lambda: "RETRY" in (folder / "STATUS.txt").read_text(), steps=10)
    assert (folder / "RETRY").exists() and r.stage(job_id) is Stage.HELD
    assert r.engine.drops_waiting(job_id) == []


@pytest.mark.parametrize("writer", ["download beside", "held open"])
def test_an_empty_placeholder_being_written_is_said_awaiting(rig: Rig, writer: str) -> None:
    """Review ET 2 (of EM 1's mend): an empty file is not "still being written" only where nothing
    writes it: a browser's placeholder beside its growing `.part`, and an empty file held open by an
    upload not begun, are (their jobs got no AwaitingData)."""
    r = rig
    (r.inbox / "FF.yaml").write_text('order_id: "FF"\nproduct: bc-85x55\nquantity: 1\nartwork: [ff.pdf]\n')
    if writer == "held open":
        with open(r.inbox / "ff.pdf", "wb"):
            r.run(steps=12, dt=0.5)
    else:
        (r.inbox / "ff.pdf").write_bytes(b"")
        part = r.inbox / "ff.pdf.part"
        part.write_bytes(b"%PDF-1.4\n")
        for _ in range(12):
            with open(part, "ab") as fh:
                fh.write(b"x" * 1000)
            r.engine.hint(part)
            r.run(steps=1, dt=0.5)
    assert "AwaitingData" in r.statuses("FF-1")


def test_a_drop_file_refused_by_its_name_and_left_in_its_folder_does_not_stop_an_offline_command(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review ET 4 (of ER 3's mend): a RELEASE.pdf, refused before its action ("a PDF is never taken
    as a RELEASE"), left where its folder did not let it go, was still "not read yet"."""
    r = rig
    job_id, folder = _held(r, "DB")
    monkeypatch.setattr(r.engine, "_consume_drop", lambda *_args, **_kwargs: None)
    make_pdf(folder / "RELEASE.pdf", pages=CARD)
    r.engine.hint(folder / "RELEASE.pdf")
    r.run(until=lambda: "refused" in (folder / "STATUS.txt").read_text(), steps=10)
    assert (folder / "RELEASE.pdf").exists() and r.stage(job_id) is Stage.HELD
    assert r.engine.drops_waiting(job_id) == []


def test_a_link_named_by_three_jobs_fails_them_after_a_crash_between_its_copies(rig: Rig) -> None:
    """Review ET 1 (of the link's mend): killed after the first job's copy of a symbolic link named
    as artwork, the restart's copy found it there (SameFileError at every step) and the three jobs
    failed "artwork missing" after artwork_timeout_seconds, not "symbolic link" at once."""
    r = rig
    (r.tmp / "outside").mkdir()
    make_pdf(r.tmp / "outside" / "card.pdf", pages=CARD)
    jobs = "".join(f'  - {{job_id: "L4-{i}", product: bc-85x55, quantity: 1, artwork: [l4.pdf]}}\n' for i in (1, 2, 3))
    (r.inbox / "L4.yaml").write_text(f'order_id: "L4"\njobs:\n{jobs}')
    r.run(until=lambda: r.stage("L4-3") is Stage.AWAITING, steps=10)
    (r.inbox / "l4.pdf").symlink_to(r.tmp / "outside" / "card.pdf")

    def crash(mp: pytest.MonkeyPatch) -> None:
        real = shutil.copy2

        def copy2(*args: Any, **kwargs: Any) -> Any:
            real(*args, **kwargs)
            os._exit(99)

        mp.setattr(shutil, "copy2", copy2)

    life_until_killed(r, crash)
    r.start()
    r.run(until=lambda: all(r.stage(f"L4-{i}") is Stage.FAILED for i in (1, 2, 3)), steps=10)
    for i in (1, 2, 3):
        assert "symbolic link" in (r.root / "failed" / f"L4-{i}" / "ERROR.txt").read_text()
    assert (r.tmp / "outside" / "card.pdf").is_file() and r.take_prints() == []


def test_a_filtered_listing_leaves_out_a_job_changed_between_its_pages(rig: Rig) -> None:
    """Review ET 3 (of ES 2's mend): the listing's keys were filtered once, and each page read by
    them alone: a job the daemon moved on between two pages was listed under a filter it no longer
    matched (`jobs --status AwaitingData` showing ValidationFailed)."""
    r = rig
    for order_id in ("P1", "P2", "P3"):
        (r.inbox / f"{order_id}.yaml").write_text(
            f'order_id: "{order_id}"\nproduct: bc-85x55\nquantity: 1\nartwork: [{order_id}.pdf]\n'
        )
    r.run(until=lambda: all(r.stage(f"{o}-1") is Stage.AWAITING for o in ("P1", "P2", "P3")), steps=10)
    reader = Ledger(r.root / "state" / "ledger.sqlite3", readonly=True)
    try:
        listing = reader.iter_jobs(status=JobStatus.AwaitingData, page=1)
        first = next(listing)
        r.ledger.add_status("P3-1", JobStatus.ValidationFailed, "system", "", r.clock.now())
        shown = [(job.job_id, job.status.value) for job in (first, *listing)]
    finally:
        reader.close()
    assert shown == [("P1-1", "AwaitingData"), ("P2-1", "AwaitingData")]


def test_a_pdf_come_into_a_folder_drop_with_its_own_manifest_just_after_is_not_taken_by_the_order_before(
    rig: Rig,
) -> None:
    """Review EQ 1 (a chaos soak): order X dropped into inbox/upload/ without its PDF; a second
    later order Y's PDF into upload/, and Y's manifest half a second after it: X took Y's PDF at
    once (its manifest had come just before: the usual manifest-then-PDF) and printed it. A folder
    drop's manifest not read yet beside the file decides with it (here: whose it is cannot be told,
    set aside for the operator)."""
    r = rig
    upload = r.inbox / "upload"
    upload.mkdir()
    (upload / "manifest.yaml").write_text('order_id: "X1"\nproduct: bc-85x55\nquantity: 1\nartwork: [artwork.pdf]\n')
    r.engine.hint(upload / "manifest.yaml")
    r.run(until=lambda: r.stage("X1-1") is Stage.AWAITING, steps=10, dt=0.25)
    make_pdf(r.tmp / "artwork.pdf", pages=CARD, content=b"0 0 1 rg 0 0 10 10 re f % Y1")
    os.replace(r.tmp / "artwork.pdf", upload / "artwork.pdf")
    r.engine.hint(upload / "artwork.pdf", moved_in=True)
    r.run(steps=2, dt=0.25)
    (r.tmp / "manifest.yaml").write_text('order_id: "Y1"\nproduct: bc-85x55\nquantity: 1\nartwork: [artwork.pdf]\n')
    os.replace(r.tmp / "manifest.yaml", upload / "manifest.yaml")
    r.engine.hint(upload / "manifest.yaml", moved_in=True)
    r.run(steps=40, dt=0.25)
    assert "InHotFolder" not in r.statuses("X1-1") and r.take_prints() == []


def test_a_crash_between_a_replacement_and_its_answer_loses_neither(rig: Rig) -> None:
    """Review ER 4: a kill right after a replacement dropped into replace/ was recorded (the file
    taken out of replace/, so nothing left there to answer at the next start) left STATUS.txt
    without its "Last action or notice": the answer is kept with the replacement now."""
    r = rig
    job_id, folder = _held(r, "RA")
    (folder / "replace").mkdir(exist_ok=True)
    make_pdf(folder / "replace" / "RA.pdf", pages=CARD, content=b"0 0 1 rg 10 10 50 50 re f")
    life_until_killed(r, lambda mp: _crash_before(mp, Engine, "_note_action"))
    assert "ArtworkUploaded" in r.statuses(job_id)
    assert not (folder / "replace" / "RA.pdf").exists()
    r.start()
    r.run(until=lambda: r.stage(job_id) is Stage.HELD and "OutputCreated" in r.statuses(job_id)[-1:], steps=20)
    r.run(steps=3)
    status = (folder / "STATUS.txt").read_text()
    said = status.split("Last action or notice: ", 1)
    assert len(said) == 2 and "REPLACE: artwork RA.pdf replaced by operator" in said[1], status
    assert r.take_prints() == []


@pytest.mark.parametrize("job_id", ["J1.part", "Thumbs.db", "J2.tmp"])
def test_a_job_whose_id_matches_watch_ignore_answers_its_drop_files(rig: Rig, job_id: str) -> None:
    """Helper EU 1: a job id of SPEC's characters that watch.ignore matches (``100234-1.part``,
    ``Thumbs.db``) was taken and held in quarantine/<id>/, whose STATUS.txt said to drop RELEASE
    there; its folder's name was matched against watch.ignore, so no drop file in it was ever
    read. watch.ignore is for the files in the folders, not for the job folders' names."""
    r = rig
    make_pdf(r.inbox / "IG.pdf", pages=CARD)
    (r.inbox / "IG.yaml").write_text(
        f'order_id: "IG"\njob_id: "{job_id}"\nproduct: bc-85x55\nquantity: 1\nartwork: [IG.pdf]\nblocked: true\n'
    )
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    folder = r.root / "quarantine" / job_id
    assert "RELEASE" in (folder / "STATUS.txt").read_text()
    (folder / "RELEASE.tmp").write_text("an upload under way\n")  # (still ignored: a temp name)
    (folder / "RELEASE").write_text("alice\n")
    r.run(until=done(r, job_id), steps=10)
    assert r.take_prints() == [f"IG_{job_id}_bc-85x55_x1.pdf"]
    assert any(p.name.endswith("-RELEASE") for p in (r.root / "done" / job_id / "history").iterdir())
    [release] = [e for e in r.job(job_id).history if e.status is JobStatus.Blocked]
    assert release.removed_by == "alice"


@pytest.mark.parametrize("touch", ["chmod", "utime"])
def test_a_manifest_whose_mode_or_times_a_client_sets_after_its_upload_leaves_the_inbox(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, touch: str
) -> None:
    """Helper EZ 1: lftp's `mirror -R --parallel` (FTP SITE CHMOD), WinSCP's "preserve timestamp"
    (MFMT, SFTP SETSTAT) set a manifest's mode or times right after renaming it into place. Taken
    in meanwhile, it was then kept in the inbox as "a new upload" (its change time moved), read
    again at the next scan and refused into failed/ as "already delivered". The same file with the
    same bytes leaves the inbox; one whose bytes changed stays (white-box audit CN 3)."""
    r = rig
    real = Engine._finish_intakes
    touched: list[Path] = []

    def client_touches_first(engine: Engine) -> None:
        for path in [p for _, p, *_ in engine._unfinished if p.exists() and p not in touched]:
            touched.append(path)
            if touch == "chmod":
                path.chmod(0o600)
            else:
                os.utime(path, (1_700_000_000, 1_700_000_000))
        real(engine)

    monkeypatch.setattr(Engine, "_finish_intakes", client_touches_first)
    job_id = r.order("TC")
    r.run(until=done(r, job_id), steps=10)
    r.run(steps=5)
    assert touched == [r.inbox / "TC.yaml"]
    assert not (r.inbox / "TC.yaml").exists()
    assert r.take_prints() == ["TC_TC-1_bc-85x55_x1.pdf"]
    assert not list((r.root / "failed").iterdir())


def _held_as(r: Rig, order_id: str, job_id: str) -> Path:
    make_pdf(r.inbox / f"{order_id}.pdf", pages=CARD)
    (r.inbox / f"{order_id}.yaml").write_text(
        f'order_id: "{order_id}"\njob_id: "{job_id}"\nproduct: bc-85x55\nquantity: 1\n'
        f"artwork: [{order_id}.pdf]\nblocked: true\n"
    )
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    return r.root / "quarantine" / job_id


@pytest.mark.parametrize("seen_by", ["event", "scan"])
@pytest.mark.parametrize("job_id", ["J1.part", "NA-1"])
def test_a_job_folder_named_by_an_ignored_id_dragged_into_another_is_put_back(
    rig: Rig, seen_by: str, job_id: str
) -> None:
    """Review FB 1 (of EU 1's mend): a job folder named by an id watch.ignore matches, dragged into
    another job's folder, was not put back (its name matched against watch.ignore there): its
    RELEASE was never read, as for any other job's folder."""
    r = rig
    inner = _held_as(r, "IA", job_id)
    outer = _held_as(r, "OB", "OB-1")
    moved = outer / job_id
    os.replace(inner, moved)
    (moved / "RELEASE").write_text("pat\n")
    if seen_by == "event":
        r.engine.hint(moved)
    else:
        r.engine.rescan()
    r.run(until=done(r, job_id), steps=20)


@pytest.mark.parametrize("name", [".git", "x.tmp", ".~tmp~", "foo.part", ".Trash-1000"])
@pytest.mark.parametrize("depth", [0, 2])
def test_folders_watch_ignore_names_in_the_inbox_are_left_alone(rig: Rig, name: str, depth: int) -> None:
    """EU 1's mend moved the folders' ignoring into the descend rules: an inbox folder that
    watch.ignore names is still left alone at any depth, by events and by scans (review FB)."""
    r = rig
    folder = r.inbox.joinpath(*[f"d{i}" for i in range(depth)], name)
    folder.mkdir(parents=True)
    make_pdf(folder / "Z.pdf", pages=CARD)
    (folder / "manifest.yaml").write_text('order_id: "Z"\nproduct: bc-85x55\nquantity: 1\nartwork: [Z.pdf]\n')
    (folder / "Z.yaml").write_text('order_id: "Z2"\nproduct: bc-85x55\nquantity: 1\nartwork: [Z.pdf]\n')
    r.engine.hint(folder / "manifest.yaml")
    r.engine.hint(folder / "Z.pdf")
    r.engine.rescan()
    r.run(steps=10, dt=2)
    assert (folder / "Z.pdf").exists() and (folder / "manifest.yaml").exists() and (folder / "Z.yaml").exists()
    assert r.ledger.get_job("Z-1", history=False) is None and r.ledger.get_job("Z2-1", history=False) is None
    assert not any((r.root / "failed").iterdir())


def test_an_edited_manifest_rewritten_in_place_after_its_intake_is_not_removed(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review FG 1 (of EZ 1's first mend): the customer uploads the order again in place, edited
    (an FTP STOR over the file: the same inode), and at the moment the intake was finished the
    bytes written so far were the old manifest's: it was removed as "only touched", and the rest of
    the upload went into a removed file, the edited order lost. A file changed in place keeps its
    intake open until it is read again once settled."""
    r = rig
    real = Engine._finish_intakes
    state: dict[str, Any] = {}

    def client_rewrites(engine: Engine) -> None:
        for _, path, *_ in list(engine._unfinished):
            if path.exists() and "fd" not in state:
                old = path.read_bytes()
                fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
                os.write(fd, old)  # the new upload's first bytes are the old file's
                state["fd"] = fd
        real(engine)
        if "fd" in state and "done" not in state:
            state["done"] = True
            os.write(state["fd"], b"attributes: {paper: silk-350}\n")  # the rest of the upload
            os.close(state["fd"])

    monkeypatch.setattr(Engine, "_finish_intakes", client_rewrites)
    job_id = r.order("TE")
    r.run(until=done(r, job_id), steps=10)
    r.run(steps=5)
    assert state.get("done")
    left = list(r.inbox.iterdir()) + list((r.root / "failed").iterdir())
    assert left, "the edited manifest, uploaded after the intake, was removed unread"


@pytest.mark.parametrize("name", ["RELEASE.tmp", "release.part", "Retry.tmp", "reject.crdownload", "x.tmp"])
def test_a_folder_watch_ignore_names_in_a_job_folder_gets_no_answer(rig: Rig, name: str) -> None:
    """Review FH 2 (of FB 1's mend): a folder watch.ignore names (RELEASE.tmp/, an editor's), made in a
    held job's folder, got "RELEASE.tmp is a folder, not a file: nothing was done" in STATUS.txt and a
    warning, in native mode only: it is left alone without a word, as before."""
    r = rig
    job_id, folder = _held(r, "FH")
    r.run(steps=3)
    before = (folder / "STATUS.txt").read_text()
    (folder / name).mkdir()
    (folder / name / "data.bin").write_bytes(b"x")
    with capture_logs() as logs:
        r.engine.hint(folder / name)
        r.run(steps=8)
    noisy = [e for e in logs if e.get("log_level") in ("warning", "error")]
    assert (folder / name).is_dir() and r.stage(job_id) is Stage.HELD
    assert (folder / "STATUS.txt").read_text() == before and not noisy, noisy


def _manifest_q(quantity: int) -> str:
    return f'order_id: "HA"\nproduct: bc-85x55\nquantity: {quantity}\nartwork: [HA.pdf]\nblocked: true\n'


@pytest.mark.parametrize("how", ["in place", "chmod, then renamed over"])
def test_a_manifest_sent_back_to_its_first_bytes_is_taken_after_one_changed_in_place(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """Review FH 1 (of FG 1's mend): a manifest changed after its intake kept its intake open; read
    again with other bytes (the customer's corrected order), it was taken as a new upload, but the
    first intake stayed open, and the customer's next upload of the first bytes (the order changed
    back) was taken for it and removed unread: the job kept the corrected quantity, no word."""
    r = rig
    real = Engine._finish_intakes
    done_once: list[Path] = []

    def client(engine: Engine) -> None:
        for _, path, *_ in list(engine._unfinished):
            if path.exists() and not done_once:
                done_once.append(path)
                if how == "in place":
                    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)  # the same size: quantity 1 -> 2
                    os.write(fd, _manifest_q(2).encode())
                    os.close(fd)
                else:
                    path.chmod(0o600)
        real(engine)
        if how != "in place" and len(done_once) == 1:
            done_once.append(done_once[0])
            upload = done_once[0].with_name(".HA.yaml.up")
            upload.write_text(_manifest_q(2))
            os.replace(upload, done_once[0])

    monkeypatch.setattr(Engine, "_finish_intakes", client)
    make_pdf(r.inbox / "HA.pdf", pages=CARD)
    (r.inbox / "HA.yaml").write_text(_manifest_q(1))
    r.run(until=lambda: r.stage("HA-1") is Stage.HELD, steps=10)
    r.run(steps=6)
    assert r.job("HA-1").quantity == 2 and not (r.inbox / "HA.yaml").exists()
    (r.inbox / "HA.yaml").write_text(_manifest_q(1))  # changed back
    r.run(steps=6)
    assert r.job("HA-1").quantity == 1, "the manifest sent back to its first bytes was removed unread"
    assert not r.ledger.pending_intakes()


def test_a_touched_manifest_read_again_while_another_job_is_made_keeps_its_intake_to_close(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review FI 1 (of FH 1's mend): a chmod'ed manifest read again (same bytes) by the look at new
    manifests while another job's output is made lost its "read again" mark there ("not now");
    corrected in place then (taken as a new upload), its first intake stayed open, and the first
    version sent back later was taken for it and removed unread."""
    from datetime import timedelta

    from spo_hotfolder.clock import iso

    r = rig
    make_pdf(r.inbox / "OB.pdf", pages=CARD)
    later = r.clock.now() + timedelta(seconds=10)
    (r.inbox / "OB.yaml").write_text(
        f'order_id: "OB"\nproduct: bc-85x55\nquantity: 1\nartwork: [OB.pdf]\nprocess_after: "{iso(later)}"\n'
    )
    r.run(until=lambda: r.stage("OB-1") is not None, steps=10)
    r.clock.advance((later - r.clock.now()).total_seconds() - 0.75)
    real_finish = Engine._finish_intakes
    touched: list[Path] = []

    def client_chmods(engine: Engine) -> None:
        for _, path, *_ in list(engine._unfinished):
            if path.name == "HA.yaml" and path.exists() and not touched:
                touched.append(path)
                path.chmod(0o600)
        real_finish(engine)

    monkeypatch.setattr(Engine, "_finish_intakes", client_chmods)
    slow = InProcessPdf.build_output

    def build(self: Any, *a: Any, **k: Any) -> Any:
        r.clock.advance(2.0)  # OB's output takes 2 s: HA.yaml settles meanwhile
        return slow(self, *a, **k)

    monkeypatch.setattr(InProcessPdf, "build_output", build)
    real_new_only = Engine._take_new_only
    edited: list[bool] = []

    def new_only(engine: Engine, path: Path, sig: Any) -> None:
        real_new_only(engine, path, sig)
        if path.name == "HA.yaml" and not edited:
            edited.append(True)
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC)  # the customer's correction, in place
            os.write(fd, _manifest_q(2).encode())
            os.close(fd)

    monkeypatch.setattr(Engine, "_take_new_only", new_only)
    make_pdf(r.inbox / "HA.pdf", pages=CARD)
    (r.inbox / "HA.yaml").write_text(_manifest_q(1))
    r.run(until=done(r, "OB-1"), steps=30, dt=0.1)
    assert edited, "HA.yaml was not read again while OB's output was made"
    r.run(steps=6)
    assert r.job("HA-1").quantity == 2 and not (r.inbox / "HA.yaml").exists()
    (r.inbox / "HA.yaml").write_text(_manifest_q(1))  # changed back
    r.run(steps=6)
    assert r.job("HA-1").quantity == 1, "the manifest sent back to its first bytes was removed unread"


@pytest.mark.parametrize("held", [True, False])
def test_a_touched_manifest_removed_and_uploaded_again_is_a_new_upload(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, held: bool
) -> None:
    """Review FI 2: a chmod'ed manifest (its intake kept open until it is read again) removed by its
    client and uploaded again, the same bytes (a `reprint: true` sent again, FTP DELE then STOR),
    was taken for the first one where the file system gave the new file the old one's inode number,
    and removed unread. The file kept open meanwhile keeps its inode from being given again; the
    new file is a new upload (a second reprint). One not held open (past READ_AGAIN_MAX) is told
    by its inode number and change time (review FL: by the number alone, the same fault)."""
    import spo_hotfolder.engine.intake as intake_module

    r = rig
    if not held:
        monkeypatch.setattr(intake_module, "READ_AGAIN_MAX", 0)
    make_pdf(r.inbox / "RP.pdf", pages=CARD)
    (r.inbox / "RP.yaml").write_text('order_id: "RP"\nproduct: bc-85x55\nquantity: 1\nartwork: [RP.pdf]\n')
    r.run(until=done(r, "RP-1"), steps=10)
    r.run(steps=3)
    assert r.take_prints() == ["RP_RP-1_bc-85x55_x1.pdf"]
    touched = _chmod_each_manifest_at_its_intake(monkeypatch)
    reprint = 'order_id: "RP"\nproduct: bc-85x55\nquantity: 1\nartwork: [RP.pdf]\nreprint: true\n'
    make_pdf(r.inbox / "RP.pdf", pages=CARD)
    (r.inbox / "RP.yaml").write_text(reprint)
    r.run(until=lambda: bool(touched), steps=10)
    assert (r.inbox / "RP.yaml").exists() and r.take_prints() == ["RP_RP-1_bc-85x55_x1.pdf"]
    kept_ino = (r.inbox / "RP.yaml").stat().st_ino
    make_pdf(r.inbox / "RP.pdf", pages=CARD)  # the client sends the reprint again ...
    (r.inbox / "RP.yaml").unlink()  # ... removing the manifest first
    (r.inbox / "RP.yaml").write_text(reprint)
    if held:
        assert (r.inbox / "RP.yaml").stat().st_ino != kept_ino  # (held open: never given again)
    r.run(steps=10)
    left = [p.name for p in r.inbox.iterdir()] + [p.name for p in (r.root / "failed").iterdir()]
    # (the printer took the earlier prints: the second reprint comes under the same name)
    assert r.take_prints() == ["RP_RP-1_bc-85x55_x1.pdf"] and not left, ("the second reprint was not made", left)


def _chmod_each_manifest_at_its_intake(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    real = Engine._finish_intakes
    touched: list[Path] = []

    def client_chmods(engine: Engine) -> None:
        for _, path, *_ in list(engine._unfinished):
            if path.exists() and path not in touched:
                touched.append(path)
                path.chmod(0o600)
        real(engine)

    monkeypatch.setattr(Engine, "_finish_intakes", client_chmods)
    return touched


@pytest.mark.parametrize("why", ["more than READ_AGAIN_MAX held", "the file cannot be held open"])
def test_a_touched_manifest_not_held_open_still_leaves_the_inbox(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    """Review FK 1, 2 (of FI 2's mend): a touched manifest past READ_AGAIN_MAX files held open, or
    one that could not be opened (EMFILE), had its intake completed: read again, it was refused into
    failed/ as "already delivered" (EZ 1 once more). It is told by its inode number then."""
    import spo_hotfolder.engine.intake as intake_module

    r = rig
    touched = _chmod_each_manifest_at_its_intake(monkeypatch)
    if why.startswith("more"):
        monkeypatch.setattr(intake_module, "READ_AGAIN_MAX", 1)
    else:
        real_open = os.open

        def no_more_files(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            import inspect

            if inspect.stack()[1].function == "_keep_to_read_again":
                raise OSError(errno.EMFILE, "Too many open files")
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(intake_module.os, "open", no_more_files)
    for order_id in ("EA", "EB"):
        make_pdf(r.inbox / f"{order_id}.pdf", pages=CARD)
        (r.inbox / f"{order_id}.yaml").write_text(
            f'order_id: "{order_id}"\nproduct: bc-85x55\nquantity: 1\nartwork: [{order_id}.pdf]\n'
        )
    r.run(until=lambda: done(r, "EA-1")() and done(r, "EB-1")(), steps=15)
    r.run(steps=6)
    assert len(touched) == 2
    left = [p.name for p in r.inbox.iterdir()] + [p.name for p in (r.root / "failed").iterdir()]
    assert not left, left
    assert sorted(r.take_prints()) == ["EA_EA-1_bc-85x55_x1.pdf", "EB_EB-1_bc-85x55_x1.pdf"]


def test_refused_manifests_are_carried_when_paths_failed_is_moved(rig: Rig) -> None:
    """Review FD 1: after paths.failed was moved in the config while the daemon was stopped, the job
    folders were carried into the new failed/, but a refused manifest's folder (with its ERROR.txt)
    stayed in the old one, no longer watched, without a word."""
    r = rig
    (r.inbox / "bad.yaml").write_text("order_id: [\n")
    job_id = r.order("FD", extra="blocked: true\n")
    r.run(until=lambda: (r.root / "failed" / "bad.yaml" / "ERROR.txt").exists(), steps=10, dt=2.0)
    r.run(until=lambda: r.stage(job_id) is Stage.HELD, steps=10)
    data = yaml.safe_load(r.config_path.read_text())
    data["paths"]["failed"] = str(r.root / "needs-attention")
    r.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    r.config = load_config(r.config_path)
    (r.root / "needs-attention").mkdir()
    r.start()
    r.run(steps=3)
    moved = r.root / "needs-attention" / "bad.yaml"
    assert (moved / "ERROR.txt").exists() and (moved / "bad.yaml").exists()
    assert not (r.root / "failed" / "bad.yaml").exists()


def _move_paths(r: Rig, **paths: Path) -> None:
    """The config's paths changed while the daemon is stopped, then a start."""
    data = yaml.safe_load(r.config_path.read_text())
    data["paths"].update({key: str(value) for key, value in paths.items()})
    r.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    r.config = load_config(r.config_path)
    prepare_folders(r.config)
    r.start()
    r.run(steps=3)


def test_a_refusal_cut_short_is_carried_when_paths_failed_is_moved(rig: Rig) -> None:
    """Review FN 1: a refusal a kill cut short (its hidden folder in failed/, the manifest in it)
    was left in the old failed/ when paths.failed was moved before the restart: hidden, no longer
    looked at, the manifest lost to the operator. It is carried and filed under its name."""
    r = rig
    (r.inbox / "bad.yaml").write_text("order_id: [\n")
    r.run(until=lambda: (r.root / "failed" / "bad.yaml" / "ERROR.txt").exists(), steps=10, dt=2.0)
    building = r.root / "failed" / f"{engine_module.REFUSAL_PREFIX}99999-1.cut.yaml"
    building.mkdir()
    (building / "ERROR.txt").write_text("cut.yaml was not taken: ...\n")
    (building / "cut.yaml").write_text("order_id: [\n")
    _move_paths(r, failed=r.root / "attention")
    assert (r.root / "attention" / "cut.yaml" / "cut.yaml").read_text() == "order_id: [\n"
    assert (r.root / "attention" / "bad.yaml" / "bad.yaml").exists()
    assert os.listdir(r.root / "failed") == []


def test_a_refusals_folder_a_later_job_id_names_is_carried(rig: Rig) -> None:
    """Review FN 2: a folder drop refused (failed/A77/, no job made), then the corrected order made
    job A77 and delivered it: moving paths.failed left the refusal's folder behind without a word,
    taken for the job's by its name alone. A job's folder (its STATUS.txt) stays for its job."""
    r = rig
    drop = r.tmp / "A77"
    drop.mkdir()
    make_pdf(drop / "a.pdf", pages=CARD)
    (drop / "manifest.yaml").write_text("order_id: A\njob_id: A77\nproduct: bc-85x55\nquantity: x\nartwork: [a.pdf]\n")
    os.replace(drop, r.inbox / "A77")
    r.run(until=lambda: (r.root / "failed" / "A77" / "ERROR.txt").exists(), steps=10, dt=2.0)
    make_pdf(r.inbox / "a2.pdf", pages=CARD)
    (r.inbox / "A.yaml").write_text("order_id: A\njob_id: A77\nproduct: bc-85x55\nquantity: 1\nartwork: [a2.pdf]\n")
    r.run(until=lambda: r.stage("A77") is Stage.DONE, steps=15)
    _move_paths(r, failed=r.root / "attention")
    assert (r.root / "attention" / "A77" / "manifest.yaml").exists()
    assert os.listdir(r.root / "failed") == [] and r.stage("A77") is Stage.DONE


def test_a_copied_root_leaves_the_old_refusals_where_they_are(rig: Rig) -> None:
    """Review FN 4: the root copied to a new disk (the old one kept as a backup) and paths.root
    changed: the refusals the copy holds already were carried again from the backup (emptied),
    the new failed/ holding each twice ("x.yaml", "x.yaml-2")."""
    r = rig
    (r.inbox / "bad.yaml").write_text("order_id: [\n")
    r.run(until=lambda: (r.root / "failed" / "bad.yaml" / "ERROR.txt").exists(), steps=10, dt=2.0)
    (r.inbox / "waiting.yaml").write_text("order_id: W\nproduct: bc-85x55\nquantity: 1\nartwork: [w.pdf]\n")
    r.run(steps=2)  # (waits for its artwork: stays in the inbox)
    old_root = r.root
    new_root = r.tmp / "new-disk" / "spool"
    shutil.copytree(old_root, new_root, symlinks=True)
    with capture_logs() as logs:
        _move_paths(r, root=new_root)
    assert sorted(os.listdir(new_root / "failed")) == ["bad.yaml"]
    assert sorted(os.listdir(old_root / "failed")) == ["bad.yaml"]
    # (nor is the waiting manifest the copy holds too said as "left in the old inbox: move it")
    assert [e for e in logs if e["event"] == "recovery.old_inbox_not_empty"] == []


@pytest.mark.parametrize("last_run", ["kept", "gone"])
def test_jobs_waiting_for_their_artwork_take_it_in_the_moved_spool(rig: Rig, last_run: str) -> None:
    """Review HF 1: the spool moved to a bigger disk (daemon stopped, `mv` of the root, paths.root
    changed: README's own steps): every other job went on, but one waiting for its artwork never
    took it there (the path it waited at was the old inbox's): it failed "artwork missing", and
    the file it waited for was set aside as no order's. HK 1: also where the copy of the config last
    run on is gone (or says the same: a relative root moved with its project): the ledger knows."""
    r = rig
    (r.inbox / "HT.yaml").write_text("order_id: HT\nproduct: bc-85x55\nquantity: 1\nartwork: [late.pdf]\n")
    drop = r.tmp / "a1"
    drop.mkdir()
    (drop / "manifest.yaml").write_text("order_id: HD\nproduct: bc-85x55\nquantity: 1\nartwork: [late.pdf]\n")
    os.replace(drop, r.inbox / "a1")
    r.run(until=lambda: r.stage("HT-1") is Stage.AWAITING and r.stage("HD-1") is Stage.AWAITING, steps=10)
    new_root = r.tmp / "new-disk" / "spool"
    new_root.parent.mkdir()
    r.ledger.close()
    os.replace(r.root, new_root)
    if last_run == "gone":
        for kept in (new_root / "state").glob("config-last-run*"):
            kept.unlink()
    with capture_logs() as logs:
        _move_paths(r, root=new_root)
    [said] = [e for e in logs if e["event"] == "recovery.awaited_in_new_inbox"]
    assert said["count"] == 2 and said["new"] == str(new_root / "inbox")
    make_pdf(new_root / "inbox" / "late.pdf", pages=CARD)
    make_pdf(new_root / "inbox" / "a1" / "late.pdf", pages=CARD)
    r.run(until=lambda: r.stage("HT-1") is Stage.DONE and r.stage("HD-1") is Stage.DONE, steps=20)
    assert sorted(r.take_prints()) == ["HD_HD-1_bc-85x55_x1.pdf", "HT_HT-1_bc-85x55_x1.pdf"]
    assert os.listdir(new_root / "failed") == [] and not r.root.exists()


def test_a_start_cut_short_while_it_moves_the_awaited_paths_moves_them_once(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(review HL's suspicion) The start that moves the awaited paths to a new inbox made inside the
    old one, cut short before it noted the new inbox: the next start moved them a second time
    (inbox/incoming/incoming/...). One commit now."""
    r = rig
    (r.inbox / "CS.yaml").write_text("order_id: CS\nproduct: bc-85x55\nquantity: 1\nartwork: [late.pdf]\n")
    r.run(until=lambda: r.stage("CS-1") is Stage.AWAITING, steps=10)
    new_inbox = r.inbox / "incoming"
    real_set_meta = Ledger.set_meta

    def cut(self: Ledger, key: str, value: str) -> None:
        raise sqlite3.OperationalError("disk I/O error")  # (the start cut short there)

    monkeypatch.setattr(Ledger, "set_meta", cut)
    _move_paths(r, inbox=new_inbox)
    monkeypatch.setattr(Ledger, "set_meta", real_set_meta)
    r.start()
    [art] = r.ledger.artwork("CS-1")
    assert art.source == str(new_inbox / "late.pdf")
    make_pdf(new_inbox / "late.pdf", pages=CARD)
    r.run(until=done(r, "CS-1"), steps=20)
    assert r.take_prints() == ["CS_CS-1_bc-85x55_x1.pdf"]


def test_paths_failed_moved_inside_the_old_one_is_no_folder_to_carry(rig: Rig) -> None:
    """Review FN 5: paths.failed moved to a folder inside the old failed/: the refusals were carried,
    and the start warned that the new failed/ itself could not be carried into itself ("move it
    there by hand")."""
    r = rig
    (r.inbox / "bad.yaml").write_text("order_id: [\n")
    r.run(until=lambda: (r.root / "failed" / "bad.yaml" / "ERROR.txt").exists(), steps=10, dt=2.0)
    with capture_logs() as logs:
        _move_paths(r, failed=r.root / "failed" / "now")
    assert os.listdir(r.root / "failed" / "now") == ["bad.yaml"]
    assert [e for e in logs if e["event"] == "recovery.refusal_left"] == []


def test_paths_failed_written_otherwise_for_the_same_folder_moves_nothing(rig: Rig) -> None:
    """FD 1's mend: paths.failed written otherwise for the same folder (through a symbolic link to
    it) is no move: nothing is carried (a refusal's folder was renamed "-2" beside itself)."""
    r = rig
    (r.inbox / "bad.yaml").write_text("order_id: [\n")
    r.run(until=lambda: (r.root / "failed" / "bad.yaml" / "ERROR.txt").exists(), steps=10, dt=2.0)
    (r.root / "failed-link").symlink_to(r.root / "failed")
    data = yaml.safe_load(r.config_path.read_text())
    data["paths"]["failed"] = str(r.root / "failed-link")
    r.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    r.config = load_config(r.config_path)
    r.start()
    r.run(steps=3)
    assert sorted(p.name for p in (r.root / "failed").iterdir()) == ["bad.yaml"]
