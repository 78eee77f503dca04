"""End-to-end crash safety: the real daemon, killed with SIGKILL at random moments, restarted.

A "printer" thread plays the RIP: it takes every file that appears in the hot folder under a final
name, checks it is complete (its sha256 is the artwork's), and counts it. At the end every job must
have been printed exactly once, be in done/ with exactly one InHotFolder entry, and no temporary
file of ours may be left anywhere. The seed is in every failure message: rerun with
``SPO_CRASH_SEED=<seed>`` to reproduce.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from spo_hotfolder.engine import PRESTAGE_MIN_BYTES
from tests.daemon import Daemon, drop, run_cli, wait_for, write_config
from tests.e2e.killing import TreeDaemon
from tests.pdfs import make_big_pdf

pytestmark = pytest.mark.e2e


class Printer(threading.Thread):
    """Takes files from a hot folder the way a RIP does, and checks each one is complete."""

    def __init__(self, hot: Path, printed: Path, expected: dict[str, str]) -> None:
        super().__init__(daemon=True, name="printer")
        self.hot, self.printed, self.expected = hot, printed, expected
        self.counts: Counter[str] = Counter()
        self.problems: list[str] = []
        self.stop_event = threading.Event()
        printed.mkdir(parents=True, exist_ok=True)

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.take()
            time.sleep(0.02)
        self.take()

    def take(self) -> None:
        for name in sorted(os.listdir(self.hot)):
            if name.startswith("."):
                continue  # our temp names: the RIP ignores them
            self.counts[name] += 1
            target = self.printed / f"{name}.{self.counts[name]}"
            os.replace(self.hot / name, target)
            digest = hashlib.sha256(target.read_bytes()).hexdigest()
            if name not in self.expected:
                self.problems.append(f"unexpected file {name}")
            elif digest != self.expected[name]:
                self.problems.append(f"{name}: incomplete or wrong content ({target.stat().st_size} bytes)")


def _job_files(tmp_path: Path, rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Artwork of a few MB each (so copies take a few milliseconds), made once per size; one size
    above the engine's PRESTAGE_MIN_BYTES, whose copy into the hot folder begins with its check."""
    source = tmp_path / "source"
    source.mkdir()
    variants = []
    for i, size in enumerate((300_000, 1_500_000, 3_000_000, 5_000_000, PRESTAGE_MIN_BYTES + 2_000_000)):
        path = make_big_pdf(source / f"variant-{i}.pdf", pages=1, bytes_per_page=size)
        variants.append((path.read_bytes(), hashlib.sha256(path.read_bytes()).hexdigest()))
    jobs = []
    for n in range(count):
        data, digest = variants[rng.randrange(len(variants))]
        order = f"C{n:04d}"
        jobs.append(
            {
                "order_id": order,
                "job_id": f"{order}-1",
                "data": data,
                "sha256": digest,
                "final": f"{order}_{order}-1_crash-a4_x1.pdf",
                "manifest_first": rng.random() < 0.3,
            }
        )
    return jobs


def _drop_job(inbox: Path, job: dict[str, Any]) -> None:
    manifest = (
        f'order_id: "{job["order_id"]}"\nproduct: crash-a4\nquantity: 1\n'
        f'artwork: [{{path: "{job["order_id"]}.pdf", sha256: "{job["sha256"]}"}}]\n'
    )
    art = inbox / f"{job['order_id']}.pdf"
    if job["manifest_first"]:
        drop(inbox / f"{job['order_id']}.yaml", manifest)
        drop(art, job["data"])
    else:
        drop(art, job["data"])
        drop(inbox / f"{job['order_id']}.yaml", manifest)


def _kill_during_copy(daemon: Daemon, hot: Path, limit: float) -> bool:
    """SIGKILL as soon as a temp file of ours shows in the hot folder (a copy in progress)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if any(name.endswith(".part") for name in os.listdir(hot)):
                daemon.kill()
                return True
        except OSError:
            pass
        time.sleep(0.0005)
    daemon.kill()
    return False


def _temps(folder: Path) -> list[str]:
    found = []
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            if name.endswith((".part", ".tmp")) or (name.startswith(".") and "uploading" not in name):
                found.append(str(Path(dirpath) / name))
    return found


def crash_rounds(tmp_path: Path, daemons: list[Daemon], *, jobs: int, kills: int, seed: int) -> dict[str, int]:
    """Drops ``jobs`` jobs over ``kills`` + 1 daemon lives, each ended by SIGKILL; checks exactly once."""
    rng = random.Random(seed)
    hot = tmp_path / "hot" / "indigo"
    config = write_config(
        tmp_path,
        watch={"settle_seconds": 0.2, "rescan_seconds": 1, "artwork_timeout_seconds": 600},
        routes=[{"to": "indigo"}],
        delivery={"max_attempts": 10, "backoff_seconds": [0.2, 0.5]},
        logging={"level": "info", "format": "json"},
    )
    planned = _job_files(tmp_path, rng, jobs)
    printer = Printer(hot, tmp_path / "printed", {j["final"]: j["sha256"] for j in planned})
    printer.start()
    batches = [planned[i :: kills + 1] for i in range(kills + 1)]
    context = f"seed={seed} (rerun: SPO_CRASH_SEED={seed})"
    mid_copy = 0
    try:
        for round_no, batch in enumerate(batches):
            daemon = TreeDaemon(config)
            daemons.append(daemon)
            if round_no and rng.random() < 0.3:
                for job in batch:  # some files arrive while the daemon is down
                    _drop_job(daemon.inbox, job)
                batch = []
            daemon.start()
            for job in batch:
                _drop_job(daemon.inbox, job)
                if rng.random() < 0.1:
                    time.sleep(rng.uniform(0, 0.05))
            if round_no == len(batches) - 1:
                break
            if rng.random() < 0.5:
                mid_copy += _kill_during_copy(daemon, hot, limit=rng.uniform(0.5, 4.0))
            else:
                time.sleep(rng.uniform(0.05, 2.5))
                daemon.kill()
        # The last life: everything must end in done/, each job printed once.
        ids = {j["job_id"] for j in planned}

        def all_done() -> bool:
            result = run_cli(config, "jobs", "--json")
            if result.returncode != 0:
                return False
            listed = json.loads(result.stdout)
            done = {j["job_id"] for j in listed if j["folder"] == f"done/{j['job_id']}"}
            failed = [j for j in listed if j["folder"].startswith("failed/")]
            if failed:
                error = daemon.root / failed[0]["folder"] / "ERROR.txt"
                text = error.read_text() if error.exists() else "(no ERROR.txt)"
                raise AssertionError(f"{context}: job {failed[0]['job_id']} failed:\n{text}")
            return ids <= done

        try:
            wait_for(all_done, timeout=60 + jobs * 0.5, interval=0.5, what="every job in done/")
        except AssertionError as exc:
            raise AssertionError(f"{context}: {exc}\n{daemon.log_text()[-3000:]}") from None
        printer.stop_event.set()
        printer.join(10)
        assert daemon.stop() == 0, context
    finally:
        printer.stop_event.set()
    listed = json.loads(run_cli(config, "jobs", "--json", check=True).stdout)
    assert {j["job_id"] for j in listed} == ids, context
    not_delivered = [j for j in listed if j["status"] != "InHotFolder"]
    assert not not_delivered, (context, not_delivered)
    ledger = sqlite3.connect(f"file:{daemon.root / 'state' / 'ledger.sqlite3'}?mode=ro", uri=True)
    in_hot = Counter(
        row[0]
        for row in ledger.execute("SELECT job_id FROM history WHERE status = 'InHotFolder' AND removed_at IS NULL")
    )
    ledger.close()
    recorded_twice = {job_id: n for job_id, n in in_hot.items() if n != 1}
    printed_twice = {name: n for name, n in printer.counts.items() if n != 1}
    never_printed = sorted(j["final"] for j in planned if printer.counts[j["final"]] == 0)
    assert not printer.problems, (context, printer.problems)
    assert not recorded_twice, f"{context}: InHotFolder recorded more than once: {recorded_twice}"
    assert not printed_twice, f"{context}: printed more than once: {printed_twice}"
    assert not never_printed, f"{context}: never printed: {never_printed}"
    assert set(in_hot) == ids, context
    # A sample checked through `show --json`, as an operator would.
    for job in rng.sample(planned, min(5, len(planned))):
        shown = json.loads(run_cli(config, "show", job["job_id"], "--json", check=True).stdout)
        assert [e["status"] for e in shown["history"]].count("InHotFolder") == 1, (context, shown)
    assert not _temps(hot), (context, _temps(hot))
    for area in ("work", "done", "failed", "quarantine"):
        assert not _temps(daemon.root / area), (context, _temps(daemon.root / area))
    assert not list((daemon.root / "work").iterdir()), context
    assert not list((daemon.root / "failed").iterdir()), context
    assert not [p for p in daemon.inbox.iterdir() if not p.name.startswith(".")], context
    return {"jobs": jobs, "kills": kills, "mid_copy_kills": mid_copy, "duplicates": len(printed_twice)}


def test_kill_9_while_a_big_artwork_is_checked_and_copied_delivers_it_once(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    """Artwork above PRESTAGE_MIN_BYTES: its copy into the hot folder's temp name begins with its
    check. SIGKILL as soon as that temp file shows: after the restart, the temp file is gone and
    the job is delivered once, whole. Then the same artwork with a sha256 that is not its own: its
    early copy is removed, and nothing reaches the hot folder."""
    hot = tmp_path / "hot" / "indigo"
    config = write_config(
        tmp_path,
        watch={"settle_seconds": 0.2, "artwork_timeout_seconds": 600},
        routes=[{"to": "indigo"}],
        logging={"level": "info", "format": "json"},
    )
    art = make_big_pdf(tmp_path / "big.pdf", pages=1, bytes_per_page=PRESTAGE_MIN_BYTES + 2_000_000)
    data = art.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    job = {"order_id": "B1", "sha256": digest, "data": data, "manifest_first": False}
    daemon = TreeDaemon(config)
    daemons.append(daemon)
    daemon.start()
    _drop_job(daemon.inbox, job)
    assert _kill_during_copy(daemon, hot, limit=30), "no copy was seen in the hot folder"
    killed_at = json.loads(run_cli(config, "show", "B1-1", "--json", check=True).stdout)
    daemon = TreeDaemon(config)
    daemons.append(daemon)
    daemon.start()
    final = hot / "B1_B1-1_crash-a4_x1.pdf"
    wait_for(final.exists, timeout=60, what="the big job in the hot folder")
    wait_for(lambda: not _temps(hot), timeout=10, what="no temp file of ours in the hot folder")
    assert hashlib.sha256(final.read_bytes()).hexdigest() == digest

    def delivered() -> dict[str, Any] | None:  # recorded a moment after the PDF's rename
        job: dict[str, Any] = json.loads(run_cli(config, "show", "B1-1", "--json", check=True).stdout)
        return job if job["status"] == "InHotFolder" else None

    shown = wait_for(delivered, timeout=10, interval=0.1, what="B1-1 recorded InHotFolder")
    assert [e["status"] for e in shown["history"]].count("InHotFolder") == 1, (killed_at, shown)
    final.unlink()  # the printer takes it

    wrong = {"order_id": "B2", "sha256": "0" * 64, "data": data, "manifest_first": False}
    _drop_job(daemon.inbox, wrong)
    wait_for(
        lambda: (daemon.root / "failed" / "B2-1" / "ERROR.txt").exists(), timeout=60, what="B2-1 failed on its sha256"
    )
    assert "sha256" in (daemon.root / "failed" / "B2-1" / "ERROR.txt").read_text()
    assert os.listdir(hot) == [], "neither its file nor its temp name"
    assert daemon.stop() == 0


def _seed() -> int:
    return int(os.environ.get("SPO_CRASH_SEED") or random.SystemRandom().randrange(1_000_000))


def test_kill_9_at_random_moments_delivers_every_job_exactly_once(tmp_path: Path, daemons: list[Daemon]) -> None:
    figures = crash_rounds(tmp_path, daemons, jobs=40, kills=4, seed=_seed())
    assert figures["duplicates"] == 0


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_kill_9_many_rounds_delivers_every_job_exactly_once(tmp_path: Path, daemons: list[Daemon]) -> None:
    figures = crash_rounds(tmp_path, daemons, jobs=300, kills=30, seed=_seed())
    print(f"crash rounds: {figures}")
    assert figures["duplicates"] == 0
