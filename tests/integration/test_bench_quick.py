"""The bench runs: a tiny run of scenario 1 writes its JSON, and a round's temp folder waits in the trash
until the run ends. No timing is asserted (figures are noisy)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.harness import Scratch, Trash

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("inotifywait") is None, reason="inotify-tools not installed (make bench-tools)")
def test_tiny_bench_run_writes_its_json(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--scenarios",
            "1",
            "--rounds",
            "1",
            "--jobs",
            "20",
            "--out",
            str(out),
            "--tmp",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    data = json.loads(out.read_text())
    scenario = data["scenarios"]["1"]
    assert "error" not in scenario, scenario.get("traceback")
    names = [m["name"] for m in scenario["metrics"]]
    assert names == ["p50 drop -> hot folder", "p99 drop -> hot folder"]
    for m in scenario["metrics"]:
        assert m["daemon"]["values"] and m["baseline"]["values"]
    assert scenario["missing"] == {"daemon": 0, "baseline": 0}
    # Every job's latency per round, in drop order (a queue shows as a climb): 20 jobs, 1 round.
    for side in ("daemon", "baseline"):
        (series,) = scenario["latencies_ms"][side]
        assert len(series) == 20 and all(v > 0 for v in series)
    assert "p50 drop -> hot folder" in result.stdout
    assert list(tmp_path.glob("spo-bench-*")) == []  # temp folders removed


def test_a_rounds_temp_folder_waits_in_the_trash_until_the_run_ends(tmp_path: Path) -> None:
    """Removing thousands of files between rounds would slow the next round's file creation on a
    filesystem without a journal; the bench removes them at the end, big files at once."""
    trash = Trash(tmp_path)
    with Scratch(tmp_path, "round", trash=trash) as folder:
        (folder / "inbox").mkdir()
        (folder / "inbox" / "small.pdf").write_bytes(b"%PDF-1.4\n")
        with open(folder / "big.pdf", "wb") as fh:
            fh.truncate(Trash.BIG)
    assert not folder.exists()
    (kept,) = tmp_path.glob("spo-bench-trash-*/spo-bench-round-*")
    assert (kept / "inbox" / "small.pdf").read_bytes() == b"%PDF-1.4\n"
    assert not (kept / "big.pdf").exists()  # removed at once, not kept for the end
    trash.empty()
    assert list(tmp_path.iterdir()) == []


def test_scenario_6s_generated_ledger_is_one_the_daemons_ledger_reads(tmp_path: Path) -> None:
    """fill_ledger writes rows by hand: they must fit the ledger's schema as it is now (a column added
    to a table broke scenario 6 once, seen only in a full run)."""
    from bench.scenarios import fill_ledger
    from spo_hotfolder.ledger import Ledger, Stage

    path = tmp_path / "ledger.sqlite3"
    assert fill_ledger(path, 250, blocked_every=50) == 5
    ledger = Ledger(path)
    try:
        jobs = list(ledger.iter_jobs())
        assert len(jobs) == 250
        assert [job.job_id for job in jobs if job.blocked] == [
            "h0000000",
            "h0000050",
            "h0000100",
            "h0000150",
            "h0000200",
        ]
        assert {job.stage for job in jobs} == {Stage.DONE, Stage.FAILED}
        (art,) = ledger.artwork("h0000007")
        assert art.name == "h0000007.pdf" and art.present
        assert [e.status.value for e in ledger.get_job("h0000050").history] == [
            "Ordered",
            "Blocked",
            "ValidationFailed",
        ]  # type: ignore[union-attr]
    finally:
        ledger.close()
