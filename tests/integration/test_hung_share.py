"""A hot folder whose share stops answering (SPEC 8: an unreachable share fails the affected jobs
with a clear reason and retries; the daemon keeps serving the other jobs). The engine in-process
on real folders; a call into the share is made to hang (it waits for a gate) the way a file system
call into a share whose server is gone does; the time limit is cut to a fraction of a second."""

from __future__ import annotations

import dataclasses
import errno
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import spo_hotfolder.delivery as delivery_module
from spo_hotfolder.ledger import Stage
from spo_hotfolder.operator import Action
from tests.daemon import write_config
from tests.engine_parts import engine_module
from tests.integration.test_engine_faults import Rig, done

SILENCE = 0.3


def _rig(tmp_path: Path, **sections: Any) -> Rig:
    return Rig(
        tmp_path,
        write_config(
            tmp_path,
            watch={"settle_seconds": 0.5, "artwork_timeout_seconds": 600},
            delivery={"max_attempts": 3, "backoff_seconds": [10, 30], "share_timeout_seconds": SILENCE},
            **sections,
        ),
    )


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = _rig(tmp_path)
    yield made
    made.close()


def _hang(monkeypatch: pytest.MonkeyPatch, name: str, hot_folder: Path) -> tuple[threading.Event, list[str]]:
    """``engine.<name>`` hangs (until the gate opens) when it is about ``hot_folder``; then it does
    what it does. Returns the gate and the calls made."""
    original = getattr(engine_module, name)
    gate = threading.Event()
    calls: list[str] = []

    def hanging(*args: Any, **kwargs: Any) -> Any:
        if any(str(a).startswith(str(hot_folder)) or getattr(a, "path", None) == hot_folder for a in args):
            calls.append(name)
            assert gate.wait(20), "the test never opened the gate"
        return original(*args, **kwargs)

    monkeypatch.setattr(engine_module, name, hanging)
    return gate, calls


def _hanging_rename(monkeypatch: pytest.MonkeyPatch, *, renamed: bool = True) -> threading.Event:
    """The rename into the hot folder hangs until the returned gate opens; then it happens
    (``renamed``) or fails as a share dropping the connection would."""
    original = engine_module.publish
    gate = threading.Event()

    def hanging_publish(temp: Path, final: Path, hot: Any) -> None:
        assert gate.wait(20), "the test never opened the gate"
        if not renamed:
            raise engine_module.DeliveryError("the share dropped the connection", transient=True)
        original(temp, final, hot)

    monkeypatch.setattr(engine_module, "publish", hanging_publish)
    return gate


def _answering_again(r: Rig, name: str) -> None:
    deadline = time.monotonic() + 10
    while r.engine.shares.silent_since(name) is not None:
        assert time.monotonic() < deadline, "the stuck call never returned"
        time.sleep(0.01)


def _landed_then_unmounted(r: Rig, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """Job 1001-1's rename into indigo hung and was given up; it landed as the share was unmounted
    (the PDF on it, parked where the test can see it), and the daemon restarted: its delivery is
    undecided. Returns the job and the parked share."""
    gate = _hanging_rename(monkeypatch)
    job = r.order("1001")
    r.run(lambda: r.stage(job) is Stage.RETRY, steps=20, dt=0.5)
    gate.set()
    _answering_again(r, "indigo")
    parked = r.tmp / "hot" / "indigo-away"
    r.hot.rename(parked)  # unmounted
    r.start()
    return job, parked


def _details(r: Rig, job_id: str, status: str) -> list[str]:
    return [e.detail for e in r.job(job_id).history if e.status.value == status]


def test_a_hot_folder_that_does_not_answer_fails_its_job_and_the_others_are_served(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = rig
    gate, calls = _hang(monkeypatch, "check_hot_folder", r.hot)
    stuck = r.order("1001")  # bc-85x55: indigo, whose share hangs
    other = r.order("1002", product="poster-a2")  # large: answers

    started = time.monotonic()
    r.run(lambda: r.stage(other) is Stage.DONE and r.stage(stuck) is Stage.RETRY, steps=20, dt=0.5)
    assert time.monotonic() - started < 10  # one limit's wait, not the share's
    assert (r.tmp / "hot" / "large" / "1002_1002-1_poster-a2_x1.pdf").is_file()
    failed = _details(r, stuck, "CopyToHotFolderFailed")
    assert len(failed) == 1
    assert failed[0].startswith(
        f"attempt 1 of 3, hot folder indigo ({r.hot}) does not answer: a look into it has not returned within 0.3 s; "
        "is its share's server up and reachable?; next attempt at "
    )

    # Its next attempt, the share still hanging: failed at once, without another call into it.
    r.clock.advance(11)
    started = time.monotonic()
    r.run(lambda: len(_details(r, stuck, "CopyToHotFolderFailed")) == 2, steps=3)
    assert time.monotonic() - started < SILENCE
    assert "a call into it (a look into it) has not returned" in _details(r, stuck, "CopyToHotFolderFailed")[1]
    assert calls == ["check_hot_folder"]

    gate.set()  # the server is back: the call returns
    _answering_again(r, "indigo")
    r.clock.advance(31)
    r.run(done(r, stuck), steps=5)
    assert r.take_prints() == ["1001_1001-1_bc-85x55_x1.pdf"]
    assert r.temps() == []


@pytest.mark.parametrize("renamed", [True, False], ids=["rename-happens-late", "rename-fails-late"])
def test_a_rename_that_has_not_returned_is_told_from_the_files(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, renamed: bool
) -> None:
    """The attempt is given up while the rename into the hot folder hangs; whether it happened is
    known only when it returns. The next attempt looks, as after a crash: a file renamed late is
    delivered (never copied again, even once the RIP has taken it); one never renamed is copied again."""
    r = rig
    original = engine_module.publish
    gate = _hanging_rename(monkeypatch, renamed=renamed)
    job = r.order("1001")
    r.run(lambda: r.stage(job) is Stage.RETRY, steps=20, dt=0.5)
    assert (
        "the rename to 1001_1001-1_bc-85x55_x1.pdf has not returned within 0.3 s"
        in (_details(r, job, "CopyToHotFolderFailed")[0])
    )
    assert [d.state for d in r.ledger.open_deliveries()] == ["written"]  # not counted as not published

    # Meanwhile the operator cannot reject it: it may be printing.
    refused = r.engine.apply(job, Action.REJECT, by="alice", note="")
    assert not refused.ok
    assert refused.message.startswith(
        "job 1001-1's PDF may already be in hot folder indigo: the rename of 1001_1001-1_bc-85x55_x1.pdf into it "
        "has not been confirmed"
    )

    gate.set()
    _answering_again(r, "indigo")
    monkeypatch.setattr(engine_module, "publish", original)
    printed_late = r.take_prints()  # the RIP takes what the late rename put there
    assert printed_late == (["1001_1001-1_bc-85x55_x1.pdf"] if renamed else [])
    r.run(steps=1)  # the next step looks at it: no need to wait for the next attempt
    assert r.ledger.open_deliveries() == []
    if renamed:
        assert r.stage(job) is Stage.DONE
    else:
        assert r.stage(job) is Stage.RETRY and r.temps() == []
        r.clock.advance(11)
        r.run(done(r, job), steps=5)
    assert r.take_prints() == ([] if renamed else ["1001_1001-1_bc-85x55_x1.pdf"])  # once in all
    assert r.temps() == []
    assert r.statuses(job).count("InHotFolder") == 1


def test_a_rename_that_returns_after_the_last_attempt_takes_the_job_out_of_failed(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attempts ran out while a rename hung: the job is in failed/, saying the PDF may still
    arrive. When the rename returns, done, the job is InHotFolder in done/ at once."""
    r = rig
    gate = _hanging_rename(monkeypatch)
    job = r.order("1001")
    r.run(lambda: r.stage(job) is Stage.RETRY, steps=20, dt=0.5)
    r.clock.advance(11)
    r.run(lambda: r.stage(job) is Stage.RETRY and len(_details(r, job, "CopyToHotFolderFailed")) == 2, steps=3)
    r.clock.advance(31)
    r.run(lambda: r.stage(job) is Stage.FAILED, steps=3)
    error = (r.root / "failed" / job / "ERROR.txt").read_text()
    assert (
        "Wait: 1001_1001-1_bc-85x55_x1.pdf may still arrive in hot folder indigo (the daemon records it as soon as "
        "it can look there): its rename into it had not returned."
    ) in error
    assert "REJECT is refused until it is known whether the PDF arrived." in error
    r.engine.flush_status()
    status = (r.root / "failed" / job / "STATUS.txt").read_text()
    assert "Wait: 1001_1001-1_bc-85x55_x1.pdf may already be in hot folder indigo, or still arrive there" in status
    assert "drop REJECT" not in status

    gate.set()
    _answering_again(r, "indigo")
    r.run(steps=1)
    assert r.stage(job) is Stage.DONE
    assert (r.root / "done" / job).is_dir() and not (r.root / "failed" / job).exists()
    assert r.statuses(job)[-1] == "InHotFolder"
    assert r.take_prints() == ["1001_1001-1_bc-85x55_x1.pdf"]
    assert r.temps() == []


def test_a_copy_given_up_on_leaves_no_temporary_file_once_the_share_answers(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = rig
    original = engine_module.write_temp
    gate = threading.Event()

    def hanging_copy(src: Path, temp: Path, hot: Any, cancelled: Any = None) -> int:
        assert gate.wait(20)
        return original(src, temp, hot, cancelled=cancelled)  # finishes, long after the attempt was given up

    monkeypatch.setattr(engine_module, "write_temp", hanging_copy)
    job = r.order("1001")
    r.run(lambda: r.stage(job) is Stage.RETRY, steps=20, dt=0.5)
    gate.set()
    _answering_again(r, "indigo")
    assert r.temps() == [".1001_1001-1_bc-85x55_x1.pdf.part"]  # what the late copy left
    r.run(steps=1)
    assert r.temps() == []  # removed at once, not at the next start
    assert r.stage(job) is Stage.RETRY


def test_a_rename_cut_short_before_a_restart_is_looked_at_again_without_a_retry(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(audit CL 1) The daemon restarted while the hot folder could not be looked into (the rename's
    outcome undecided: a share unmounted); the file is there once it is back: found by the
    periodic look, before any attempt is due, without a RETRY."""
    r = rig
    gate = _hanging_rename(monkeypatch)
    job = r.order("1001")
    r.run(lambda: r.stage(job) is Stage.RETRY, steps=20, dt=0.5)
    gate.set()  # the rename lands after all
    _answering_again(r, "indigo")
    assert (r.hot / "1001_1001-1_bc-85x55_x1.pdf").is_file()
    parked = r.tmp / "hot" / "indigo-away"
    r.hot.rename(parked)  # the share unmounted at the restart: whether it landed cannot be told
    r.start()
    parked.rename(r.hot)  # the share is back
    assert [d.state for d in r.ledger.open_deliveries()] == ["written"]
    monkeypatch.setattr(engine_module, "UNDECIDED_LOOK_SECONDS", 1.0)
    r.clock.advance(2)  # (the next attempt is due 10 s after the failed one)
    r.run(steps=1)
    assert r.stage(job) is Stage.DONE
    assert r.statuses(job).count("InHotFolder") == 1
    assert r.take_prints() == ["1001_1001-1_bc-85x55_x1.pdf"]


def test_a_job_whose_rename_cannot_be_told_is_copied_nowhere_else(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """(audit CM 2) The rename landed while the share was being unmounted; the daemon restarted with
    it unmounted, and a reload routes the job to another hot folder: it waits, copied nowhere,
    until the first hot folder can be looked into again (where the PDF is: recorded, once)."""
    r = rig
    job, parked = _landed_then_unmounted(r, monkeypatch)
    rerouted = dataclasses.replace(r.config, routes=(dataclasses.replace(r.config.routes[0], to="large"),))
    r.engine.set_config(rerouted)
    r.clock.advance(11)  # its next attempt
    r.run(steps=2)
    assert os.listdir(r.tmp / "hot" / "large") == []
    assert (
        "whether 1001_1001-1_bc-85x55_x1.pdf arrived in hot folder indigo cannot be told"
        in (_details(r, job, "CopyToHotFolderFailed")[-1])
    )
    parked.rename(r.hot)  # mounted again
    r.clock.advance(31)
    r.run(done(r, job), steps=3)
    assert r.take_prints() == ["1001_1001-1_bc-85x55_x1.pdf"]
    assert os.listdir(r.tmp / "hot" / "large") == []


def _pdfs_in(r: Rig, *names: str) -> list[str]:
    return [f"{n}/{p}" for n in names for p in sorted(os.listdir(r.tmp / "hot" / n)) if p.endswith(".pdf")]


def test_a_job_whose_hung_hot_folder_is_taken_out_of_the_config_is_copied_nowhere_else(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """White-box audit CL 1 (critical): the rename into indigo hangs and is given up; the sysadmin
    takes indigo out of the config and routes its jobs to `large`. The next attempt found the first
    one could not be told and failed the job, then went on with its delivery in the same step: the
    PDF went into `large`, and the late rename put it into indigo too. Now the job waits in failed/
    saying so, copied nowhere else."""
    r = rig
    gate = _hanging_rename(monkeypatch)
    job = r.order("1001")
    r.run(lambda: r.stage(job) is Stage.RETRY, steps=20, dt=0.5)
    cfg = r.config
    r.engine.set_config(
        dataclasses.replace(
            cfg,
            hot_folders={k: v for k, v in cfg.hot_folders.items() if k != "indigo"},
            routes=(dataclasses.replace(cfg.routes[0], to="large"), *cfg.routes[1:]),
        )
    )
    r.clock.advance(11)
    r.run(steps=3)
    gate.set()  # the share's server is back: the rename returns
    _answering_again(r, "indigo")
    r.run(steps=2)
    assert _pdfs_in(r, "indigo", "large") == ["indigo/1001_1001-1_bc-85x55_x1.pdf"]
    assert r.stage(job) is Stage.FAILED
    said = _details(r, job, "CopyToHotFolderFailed")[-1]
    assert "cannot be told" in said and "the daemon stopped" not in said, said


def test_a_job_whose_undecided_hot_folder_is_pointed_elsewhere_is_copied_nowhere_else(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """White-box audit CL 1, second way: the rename landed while the share was being unmounted, the
    daemon restarted, and a reload points indigo at a stand-in folder: the job was failed ("cannot
    be told") and copied into the stand-in in the same step (the PDF on both)."""
    r = rig
    job, _parked = _landed_then_unmounted(r, monkeypatch)
    standin = r.tmp / "hot" / "indigo-standin"
    standin.mkdir()
    hot = r.config.hot_folders["indigo"]
    r.engine.set_config(
        dataclasses.replace(
            r.config, hot_folders={**r.config.hot_folders, "indigo": dataclasses.replace(hot, path=standin)}
        )
    )
    r.clock.advance(11)
    r.run(steps=3)
    assert _pdfs_in(r, "indigo-standin", "indigo-away") == ["indigo-away/1001_1001-1_bc-85x55_x1.pdf"]
    assert r.stage(job) is Stage.FAILED
    assert "cannot be told" in _details(r, job, "CopyToHotFolderFailed")[-1]


def test_a_rename_that_fails_after_the_last_attempt_is_said_and_the_job_can_be_rejected(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(audit CM 4) The job waits in failed/ ("Wait: ... may still arrive"); the rename returns
    without having happened: ERROR.txt says it did not arrive, and REJECT is taken."""
    r = rig
    gate = _hanging_rename(monkeypatch, renamed=False)
    job = r.order("1001")
    r.run(lambda: r.stage(job) is Stage.RETRY, steps=20, dt=0.5)
    r.clock.advance(11)
    r.run(lambda: len(_details(r, job, "CopyToHotFolderFailed")) == 2, steps=3)
    r.clock.advance(31)
    r.run(lambda: r.stage(job) is Stage.FAILED, steps=3)
    assert r.engine.apply(job, Action.REJECT, by="alice", note="").ok is False

    gate.set()
    _answering_again(r, "indigo")
    r.run(steps=1)
    error = (r.root / "failed" / job / "ERROR.txt").read_text()
    assert error.startswith(
        "Job 1001-1 (order 1001) needs attention: the copy into hot folder indigo failed: "
        "1001_1001-1_bc-85x55_x1.pdf did not arrive there"
    )
    assert "Wait" not in error and r.temps() == []
    assert r.engine.apply(job, Action.REJECT, by="alice", note="not needed").ok
    assert r.take_prints() == []


def test_a_manifest_sent_again_while_a_rename_is_unconfirmed_is_refused(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(audit CM 1) Its new artwork would replace the job's while the old PDF may be printing: the
    manifest goes to failed/ saying why; the job is not changed."""
    r = rig
    gate = _hanging_rename(monkeypatch)
    job = r.order("1001")
    r.run(lambda: r.stage(job) is Stage.RETRY, steps=20, dt=0.5)
    try:
        r.order("1001")  # sent again (its PDF too)
        r.run(lambda: (r.root / "failed" / "1001.yaml" / "ERROR.txt").exists(), steps=10)
        error = (r.root / "failed" / "1001.yaml" / "ERROR.txt").read_text()
        assert "job 1001-1's PDF may already be in hot folder indigo" in error
        assert "send this manifest again then" in error
        assert "ArtworkUploaded" not in r.statuses(job)
    finally:
        gate.set()
    _answering_again(r, "indigo")
    r.run(done(r, job), steps=3)
    assert r.take_prints() == ["1001_1001-1_bc-85x55_x1.pdf"]


def test_a_ticket_call_given_up_on_does_not_reopen_its_attempt(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """White-box audit CL 2: the job ticket's call hung and was given up on (the PDF published, the
    job waiting to try the ticket again); the call went on late, journalled "ticket" (reopening the
    attempt), then its rename failed: the journal read "ticket, temp gone" as a ticket published,
    and InHotFolder was recorded with no ticket in the hot folder."""
    r = rig
    large = r.tmp / "hot" / "large"
    gate = threading.Event()
    sidecar = engine_module.publish_sidecar

    def hanging_sidecar(*args: Any, **kwargs: Any) -> Any:
        assert gate.wait(20), "the test never opened the gate"
        return sidecar(*args, **kwargs)

    monkeypatch.setattr(engine_module, "publish_sidecar", hanging_sidecar)
    rename = delivery_module.rename_noreplace

    def failing_rename(src: Path, dst: Path) -> None:
        if str(dst).endswith(".json"):
            raise OSError(errno.EIO, "Input/output error", str(dst))
        rename(src, dst)

    monkeypatch.setattr(delivery_module, "rename_noreplace", failing_rename)
    job = r.order("2001", product="poster-a2")
    r.run(lambda: r.stage(job) is Stage.RETRY, steps=20, dt=0.5)
    gate.set()
    _answering_again(r, "large")
    r.run(steps=2)
    assert not any(name.endswith(".json") for name in os.listdir(large))
    assert r.stage(job) is not Stage.DONE  # its ticket is tried again
    assert not [name for name in os.listdir(large) if name.startswith(".")]  # no temp file of ours left
    monkeypatch.setattr(delivery_module, "rename_noreplace", rename)
    r.clock.advance(11)
    r.run(done(r, job), steps=5)
    assert sorted(os.listdir(large)) == ["2001_2001-1_poster-a2_x1.json", "2001_2001-1_poster-a2_x1.pdf"]


@pytest.mark.parametrize("which", ["hot", "staging"])
def test_a_linked_folder_pointed_elsewhere_before_the_rename_keeps_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    """White-box audit CS 4: a hot (or staging) folder named by a symbolic link, pointed at another
    folder between the copy and the rename: the rename failed, and the temp file stayed for good in
    the folder the link pointed at before (its removal went through the link, to the new one)."""
    from tests.integration.test_engine_faults import rig_on

    hot = tmp_path / "hot"
    t1, t2 = hot / "t1", hot / "t2"
    t1.mkdir(parents=True)
    t2.mkdir()
    link = hot / "link"
    link.symlink_to(t1)
    if which == "hot":
        spec = {"path": str(link)}
    else:
        (hot / "indigo").mkdir()
        spec = {"path": str(hot / "indigo"), "staging": str(link)}
    original = engine_module.publish
    pointed: list[bool] = []

    def pointed_elsewhere(temp: Path, final: Path, hot_folder: Any) -> None:
        if not pointed:
            pointed.append(True)
            link.unlink()
            link.symlink_to(t2)  # the sysadmin points the link at the new share
        original(temp, final, hot_folder)

    monkeypatch.setattr(engine_module, "publish", pointed_elsewhere)
    for r in rig_on(tmp_path, hot_folders={"indigo": spec}):
        job = r.order("K1")
        r.run(until=done(r, job), steps=60, dt=5)
        assert pointed and os.listdir(t1) == []


def test_a_hot_folder_pointed_by_a_reload_at_another_folder_is_not_held_by_a_call_stuck_in_the_old(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit CY 1: a look into indigo's share hung and was given up; the sysadmin pointed indigo
    at a working folder and reloaded: every delivery there still failed at once, "hot folder
    indigo (<the new folder>) does not answer", until the old call returned (never, on a hard
    mount), and the jobs ended in failed/."""
    r = rig
    gate, _calls = _hang(monkeypatch, "check_hot_folder", r.hot)
    try:
        first = r.order("1001")
        r.run(lambda: r.stage(first) is Stage.RETRY, steps=20, dt=0.5)
        new = r.tmp / "hot" / "indigo-new"
        new.mkdir()
        hot = r.config.hot_folders["indigo"]
        r.engine.set_config(
            dataclasses.replace(
                r.config, hot_folders={**r.config.hot_folders, "indigo": dataclasses.replace(hot, path=new)}
            )
        )
        second = r.order("1002")
        r.run(until=done(r, second), steps=20, dt=0.5)
        r.clock.advance(11)
        r.run(until=done(r, first), steps=10, dt=0.5)
        assert sorted(os.listdir(new)) == ["1001_1001-1_bc-85x55_x1.pdf", "1002_1002-1_bc-85x55_x1.pdf"]
        assert not [d for d in _details(r, second, "CopyToHotFolderFailed") if "does not answer" in d]
    finally:
        gate.set()


def test_another_jobs_copy_whose_rename_is_not_settled_is_never_taken_for_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """White-box audit DP 1: two jobs whose file names in one hot folder are the same (a template
    without {job_id}). The first's rename hung, then failed, its complete temp file journalled
    "written"; the share answered again as the second's retry began, whose copy took that temp
    file for one of its own, replaced it and published: the first's delivery, reconciled next,
    found its temp file gone, counted it renamed, and the first job was recorded InHotFolder with
    only the second's PDF ever there."""
    from spo_hotfolder.engine import deliveries as deliveries_module
    from tests.pdfs import make_pdf

    r = _rig(
        tmp_path,
        hot_folders={"indigo": {"path": str(tmp_path / "hot" / "indigo"), "filename": "{product}_x{quantity}.pdf"}},
        routes=[{"to": "indigo"}],
    )
    try:
        gate = threading.Event()
        real_publish = engine_module.publish
        renames: list[str] = []

        def publish(temp: Path, final: Path, hot: Any) -> None:
            renames.append(temp.name)
            if len(renames) == 1:  # the first job's rename: the share hangs, then the call fails
                assert gate.wait(20), "the test never opened the gate"
                raise OSError(errno.EIO, "Input/output error", str(final))
            real_publish(temp, final, hot)

        monkeypatch.setattr(engine_module, "publish", publish)
        for order, colour in (("1001", b"1 0 0 rg"), ("1002", b"0 0 1 rg")):
            make_pdf(r.inbox / f"{order}.pdf", pages=[(91.0, 61.0)] * 2, content=colour + b" 0 0 100 100 re f")
        (r.inbox / "1001.yaml").write_text('order_id: "1001"\nproduct: bc-85x55\nquantity: 1\nartwork: [1001.pdf]\n')
        r.run(until=lambda: r.stage("1001-1") is Stage.RETRY, steps=20, dt=0.5)
        first = next((r.root / "work" / "1001-1" / "output").glob("*.pdf")).read_bytes()
        (r.inbox / "1002.yaml").write_text('order_id: "1002"\nproduct: bc-85x55\nquantity: 1\nartwork: [1002.pdf]\n')
        r.run(until=lambda: r.stage("1002-1") is Stage.RETRY, steps=20, dt=0.5)
        second = next((r.root / "work" / "1002-1" / "output").glob("*.pdf")).read_bytes()
        real_deliver = deliveries_module.EngineDelivery._deliver

        def deliver(self: Any, job: Any) -> None:
            if job.job_id == "1002-1" and not gate.is_set():  # the share answers again just now
                gate.set()
                deadline = time.monotonic() + 10
                while self.shares.silent_since("indigo") is not None:
                    assert time.monotonic() < deadline
                    time.sleep(0.01)
            real_deliver(self, job)

        monkeypatch.setattr(deliveries_module.EngineDelivery, "_deliver", deliver)
        final = tmp_path / "hot" / "indigo" / "bc-85x55_x1.pdf"
        r.run(until=lambda: final.exists(), steps=40, dt=5.0)
        assert final.read_bytes() == first  # the first job's copy, renamed at its next attempt
        assert r.stage("1001-1") is Stage.DONE and r.stage("1002-1") is not Stage.DONE
        said = " ".join(e.detail for e in r.job("1002-1").history)
        assert "job 1001-1's copy, whose rename the hot folder has not confirmed yet" in said
        final.unlink()  # (the printer took it; the second job's attempts may be used up by then)
        if r.stage("1002-1") is Stage.FAILED:
            assert r.engine.apply("1002-1", Action.RETRY, by="alice", note="").ok
        r.run(until=lambda: r.stage("1002-1") is Stage.DONE, steps=40, dt=11.0)
        assert final.read_bytes() == second
    finally:
        r.close()
