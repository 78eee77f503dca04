"""kill -9 around a job ticket's temp file (white-box review EG): the ticket is published once
beside its PDF, never lost, and never blamed on another sender."""

from __future__ import annotations

import os
from pathlib import Path

from tests.integration.test_engine_faults import (
    Rig,
    _crash_before,
    delivery_module,
    done,
    life_until_killed,
    write_config,
)

TICKETS = {"ticket": "json"}


def _ticket_temp_fd(fd: int) -> bool:
    try:
        return str(Path(f"/proc/self/fd/{fd}").readlink()).endswith(".json.part")
    except OSError:
        return False


def _ticketed(tmp_path: Path, **sections: object) -> Rig:
    hot = {"indigo": {"path": str(tmp_path / "hot" / "indigo"), **TICKETS}}
    return Rig(tmp_path, write_config(tmp_path, watch={"settle_seconds": 0.5}, hot_folders=hot, **sections))


def test_a_crash_while_the_ticket_is_written_is_no_failed_attempt(tmp_path: Path) -> None:
    """EG 2: killed while the ticket's temp file was written (before it was journalled complete):
    at the restart the ticket written again found that file and blamed "another sender's upload",
    recorded CopyToHotFolderFailed, and with max_attempts 1 the job went to failed/."""
    r = _ticketed(tmp_path, delivery={"max_attempts": 1, "backoff_seconds": [10]})
    job_id = r.order("T8")
    life_until_killed(r, lambda mp: _crash_before(mp, delivery_module.os, "fsync", when=_ticket_temp_fd))
    r.start()
    r.run(until=done(r, job_id), steps=20)
    assert "CopyToHotFolderFailed" not in r.statuses(job_id)
    assert sorted(os.listdir(r.hot)) == ["T8_T8-1_bc-85x55_x1.json", "T8_T8-1_bc-85x55_x1.pdf"]


def test_a_complete_ticket_waiting_for_its_rename_survives_a_hot_folder_away_at_the_restart(tmp_path: Path) -> None:
    """EG 1: killed after the ticket's temp file was complete and journalled, before its rename; the
    hot folder was not there at the restart (a share not mounted): the start's sweep removed the
    ticket's temp file, which was then taken for one renamed in, and the job recorded InHotFolder
    with its PDF alone in the hot folder."""
    r = _ticketed(tmp_path)
    job_id = r.order("W1")
    life_until_killed(
        r, lambda mp: _crash_before(mp, delivery_module, "rename_noreplace", when=lambda s, d: str(d).endswith(".json"))
    )
    away = r.hot.with_name("indigo.unmounted")
    r.hot.rename(away)
    r.start()
    r.run(steps=3, dt=5)
    away.rename(r.hot)
    r.engine.request_retention()  # (the hourly sweep comes in this step)
    r.run(until=done(r, job_id), steps=40, dt=5)
    assert sorted(os.listdir(r.hot)) == ["W1_W1-1_bc-85x55_x1.json", "W1_W1-1_bc-85x55_x1.pdf"]
