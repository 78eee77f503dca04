"""Intake under hostile conditions: slow writers, clients that upload under temp names, manifests
and artwork in any order, folders dragged in, awkward names, thousands of files at once, an inbox
deleted or unmounted, and an exhausted inotify watch limit. No file may be lost or taken early
(a file taken early shows as a truncated artwork: the delivered PDF is compared with the source)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from structlog.testing import capture_logs

import spo_hotfolder.watcher as watcher_module
from spo_hotfolder.watcher import FolderWatcher, inotify_setting
from tests.daemon import drop, files_to_overflow_inotify, run_cli, wait_for
from tests.pdfs import make_big_pdf, make_pdf

CARD = [(91.0, 61.0), (91.0, 61.0)]


def source_card(tmp_path: Path, name: str = "src.pdf") -> bytes:
    """A two-page card big enough that a partial file is visibly short (and unreadable)."""
    path = make_big_pdf(tmp_path / name, pages=2, bytes_per_page=60_000, size_mm=(91, 61))
    return path.read_bytes()


def manifest(order_id: str, *art: str) -> str:
    listed = ", ".join(json.dumps(a) for a in art)
    return f'order_id: "{order_id}"\nproduct: bc-85x55\nquantity: 1\nartwork: [{listed}]\n'


def delivered(tmp_path: Path, order_id: str) -> Path:
    return tmp_path / "hot" / "indigo" / f"{order_id}_{order_id}-1_bc-85x55_x1.pdf"


def assert_complete(tmp_path: Path, order_id: str, source: bytes) -> None:
    """The artwork taken is the whole source, and the delivered output has all its pages."""
    done = tmp_path / "root" / "done" / f"{order_id}-1" / "artwork"
    taken = [p.read_bytes() for p in done.iterdir()]
    assert [len(t) for t in taken] == [len(source)], "taken early: the artwork taken is short"
    assert hashlib.sha256(taken[0]).digest() == hashlib.sha256(source).digest()
    assert len(PdfReader(delivered(tmp_path, order_id)).pages) == 2


# -- slow writers -----------------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_writer_pausing_at_the_end_of_a_revision_is_not_taken_early(start, tmp_path: Path) -> None:
    """Audit T: an incrementally saved PDF written in place, the writer pausing (file open) right
    after its first revision's %%EOF for longer than settle_seconds: the first revision alone, a
    valid 1-page PDF, was taken and printed. The writer still holds it open: it waits."""
    import io

    from pypdf import PdfWriter

    daemon = start(watch={"settle_seconds": 0.3})
    make_pdf(tmp_path / "rev1.pdf", pages=[(91.0, 61.0)])
    first = (tmp_path / "rev1.pdf").read_bytes()
    update = PdfWriter(io.BytesIO(first), incremental=True)
    update.add_blank_page(width=91 / 25.4 * 72, height=61 / 25.4 * 72)
    whole = io.BytesIO()
    update.write(whole)
    data = whole.getvalue()
    assert data.startswith(first) and first.rstrip().endswith(b"%%EOF")
    drop(daemon.inbox / "rev.yaml", manifest("REV", "rev.pdf"))
    daemon.wait_status("REV-1", "AwaitingData")
    with open(daemon.inbox / "rev.pdf", "wb") as fh:
        fh.write(first)
        fh.flush()
        time.sleep(1.5)  # five settle periods, at a point where the file is a complete PDF
        fh.write(data[len(first) :])
    daemon.wait_status("REV-1", "InHotFolder", timeout=30)
    assert_complete(tmp_path, "REV", data)


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("rsync") is None, reason="needs rsync")
def test_an_upload_cut_off_then_resumed_by_rsync_is_pointed_to_and_the_order_sent_again_runs(
    start, tmp_path: Path
) -> None:
    """Audit BF 3: `rsync --partial` interrupted leaves the beginning of the PDF under its name; it
    fails preflight as incomplete. The same command run again sends the whole file (the partial one
    is gone from inbox/): it lay there unsaid for artwork_timeout_seconds, then went to failed/.
    The job's STATUS.txt points to it (it is not taken by itself: another order's file of that name
    could start the same way); the order sent again, its manifest with the PDF, runs the job once."""
    import subprocess

    daemon = start(watch={"settle_seconds": 0.3})
    data = source_card(tmp_path)
    outbox = tmp_path / "storefront"
    outbox.mkdir()
    (outbox / "cut.pdf").write_bytes(data)
    (outbox / "cut.yaml").write_text(manifest("CUT", "cut.pdf"))
    drop(daemon.inbox / "cut.yaml", manifest("CUT", "cut.pdf"))
    (tmp_path / ".cut.pdf.partial").write_bytes(data[: len(data) // 3])
    os.replace(tmp_path / ".cut.pdf.partial", daemon.inbox / "cut.pdf")  # what --partial keeps of it
    daemon.wait_status("CUT-1", "ValidationFailed", timeout=30)
    subprocess.run(["rsync", "--partial", str(outbox / "cut.pdf"), f"{daemon.inbox}/"], check=True, timeout=60)
    status = tmp_path / "root" / "failed" / "CUT-1" / "STATUS.txt"
    wait_for(lambda: "A file named cut.pdf came into inbox/" in status.read_text(), timeout=30, what="the hint")
    assert (daemon.inbox / "cut.pdf").read_bytes() == data
    subprocess.run(["rsync", str(outbox / "cut.yaml"), f"{daemon.inbox}/"], check=True, timeout=60)
    daemon.wait_status("CUT-1", "InHotFolder", timeout=30)
    assert_complete(tmp_path, "CUT", data)
    assert os.listdir(daemon.inbox) == [] and os.listdir(tmp_path / "root" / "failed") == []


@pytest.mark.e2e
def test_slow_writer_in_bursts_reopening_the_file_is_not_taken_early(start, tmp_path: Path) -> None:
    daemon = start(watch={"settle_seconds": 1.0})
    data = source_card(tmp_path)
    drop(daemon.inbox / "slow.yaml", manifest("SLOW", "slow.pdf"))
    daemon.wait_status("SLOW-1", "AwaitingData")
    target = daemon.inbox / "slow.pdf"
    bursts = 10
    chunk = len(data) // bursts + 1
    for i in range(bursts):  # ~5 s, closed and opened again between bursts
        with open(target, "ab") as fh:
            fh.write(data[i * chunk : (i + 1) * chunk])
        time.sleep(0.5)
    daemon.wait_status("SLOW-1", "InHotFolder")
    assert_complete(tmp_path, "SLOW", data)


@pytest.mark.e2e
def test_slow_writer_keeping_the_file_open_is_not_taken_early(start, tmp_path: Path) -> None:
    daemon = start(watch={"settle_seconds": 1.0})
    data = source_card(tmp_path)
    with open(daemon.inbox / "open.pdf", "wb") as fh:
        block = len(data) // 15 + 1
        for n, i in enumerate(range(0, len(data), block)):  # 15 blocks over ~4.5 s, never closed in between
            fh.write(data[i : i + block])
            fh.flush()
            if n == 2:  # the manifest arrives (by rename: complete) while the artwork is uploading
                drop(daemon.inbox / "open.yaml", manifest("OPEN", "open.pdf"))
            time.sleep(0.3)
        waiting = daemon.job("OPEN-1")
        assert waiting is not None and waiting["status"] == "AwaitingData", waiting
        assert waiting["history"][-1]["detail"] == "waiting for open.pdf to be complete (still being written)"
    daemon.wait_status("OPEN-1", "InHotFolder")
    assert_complete(tmp_path, "OPEN", data)


# -- clients that upload under a temporary name ---------------------------------------------------


CLIENT_TEMP_NAMES = {
    "RSYNC": (".art-r.pdf.Xy12Ab", ".order-r.yaml.Qw34Er"),  # rsync: .name.XXXXXX
    "BROWSER": ("art-b.pdf.crdownload", "order-b.yaml.crdownload"),  # browsers
    "FTP": ("art-f.pdf.part", "order-f.yaml.part"),  # FTP clients, curl
}


@pytest.mark.e2e
def test_client_temp_names_rsync_browser_ftp_are_left_alone_until_renamed(start, tmp_path: Path) -> None:
    daemon = start(watch={"settle_seconds": 0.3})
    data = source_card(tmp_path)
    handles = []
    for order_id, (temp_art, temp_manifest) in CLIENT_TEMP_NAMES.items():
        final_art = temp_art.lstrip(".").split(".pdf")[0] + ".pdf"
        (daemon.inbox / temp_manifest).write_text(manifest(order_id, final_art))
        fh = open(daemon.inbox / temp_art, "wb")  # noqa: SIM115 - closed below
        fh.write(data[: len(data) // 3])
        fh.flush()
        handles.append(fh)
    time.sleep(1.5)  # the uploads stall far longer than settle_seconds
    for fh in handles:
        fh.write(data[len(data) // 3 :])
        fh.close()
    time.sleep(1.0)
    assert json.loads(run_cli(daemon.config, "jobs", "--json", check=True).stdout) == []
    expected = sorted(n for pair in CLIENT_TEMP_NAMES.values() for n in pair)
    assert sorted(p.name for p in daemon.inbox.iterdir()) == expected
    for order_id, (temp_art, temp_manifest) in CLIENT_TEMP_NAMES.items():
        final_art = temp_art.lstrip(".").split(".pdf")[0] + ".pdf"
        os.replace(daemon.inbox / temp_art, daemon.inbox / final_art)
        os.replace(daemon.inbox / temp_manifest, daemon.inbox / f"{order_id}.yaml")
    for order_id in CLIENT_TEMP_NAMES:
        daemon.wait_status(f"{order_id}-1", "InHotFolder")
        assert_complete(tmp_path, order_id, data)
    assert list(daemon.inbox.iterdir()) == []


@pytest.mark.e2e
def test_a_firefox_download_its_empty_placeholder_then_the_part_renamed_over_it(start, tmp_path: Path) -> None:
    """Audit R 2: Firefox makes an empty x.pdf at once, downloads into x.pdf.part, and renames that
    over x.pdf at the end. The empty placeholder was taken after 5 s (incomplete_pdf_seconds) and
    the job failed "an empty file"; the whole PDF, a moment later, sat unused in the inbox."""
    daemon = start(watch={"settle_seconds": 0.3})
    data = source_card(tmp_path)
    drop(daemon.inbox / "ff.yaml", manifest("FF", "ff.pdf"))
    (daemon.inbox / "ff.pdf").touch()
    with open(daemon.inbox / "ff.pdf.part", "wb") as fh:
        block = len(data) // 14 + 1
        for i in range(0, len(data), block):  # ~7 s: longer than the 5 s an empty file waits
            fh.write(data[i : i + block])
            fh.flush()
            time.sleep(0.5)
    os.replace(daemon.inbox / "ff.pdf.part", daemon.inbox / "ff.pdf")
    daemon.wait_status("FF-1", "InHotFolder")
    assert "ValidationFailed" not in [entry["status"] for entry in daemon.job("FF-1")["history"]]
    assert_complete(tmp_path, "FF", data)
    assert list(daemon.inbox.iterdir()) == []


# -- order of arrival, folders, names ---------------------------------------------------------------


@pytest.mark.e2e
def test_manifest_before_artwork_and_artwork_before_manifest(start, tmp_path: Path) -> None:
    daemon = start(watch={"settle_seconds": 0.3})
    data = source_card(tmp_path)
    drop(daemon.inbox / "first.yaml", manifest("MFIRST", "late.pdf"))
    (daemon.inbox / "early.pdf").write_bytes(data)
    daemon.wait_status("MFIRST-1", "AwaitingData")
    time.sleep(1.5)  # the early artwork is stable and unclaimed for a while
    (daemon.inbox / "late.pdf").write_bytes(data)
    drop(daemon.inbox / "second.yaml", manifest("AFIRST", "early.pdf"))
    daemon.wait_status("MFIRST-1", "InHotFolder")
    daemon.wait_status("AFIRST-1", "InHotFolder")
    assert_complete(tmp_path, "MFIRST", data)
    assert_complete(tmp_path, "AFIRST", data)


@pytest.mark.e2e
def test_whole_folder_copied_in_file_by_file(start, tmp_path: Path) -> None:
    daemon = start(watch={"settle_seconds": 0.5})
    data = source_card(tmp_path)
    src = tmp_path / "Order 500 #1 (Müller)"
    (src / "art" / "inner").mkdir(parents=True)
    (src / "art" / "front side.pdf").write_bytes(data)
    (src / "art" / "inner" / "back #2.pdf").write_bytes(data)
    (src / "manifest.yaml").write_text(
        'order_id: "500"\nproduct: card-2x\nquantity: 1\nartwork: ["art/front side.pdf", "art/inner/back #2.pdf"]\n'
    )
    # Not a rename: the manifest lands first, the artwork trickles in after it (like Explorer/Finder).
    dest = daemon.inbox / src.name
    dest.mkdir()
    shutil.copyfile(src / "manifest.yaml", dest / "manifest.yaml")
    daemon.wait_status("500-1", "AwaitingData")
    time.sleep(0.3)
    assert dest.is_dir(), "the folder stays while its job waits for artwork in it (the upload goes on)"
    (dest / "art" / "inner").mkdir(parents=True)
    for rel in ("art/front side.pdf", "art/inner/back #2.pdf"):
        with open(src / rel, "rb") as fin, open(dest / rel, "wb") as fout:
            while block := fin.read(50_000):
                fout.write(block)
                fout.flush()
                time.sleep(0.1)
    job = daemon.wait_status("500-1", "CopyToHotFolderSkipped")
    folder = daemon.root / job["folder"]
    assert sorted(p.name for p in (folder / "artwork").iterdir()) == ["back #2.pdf", "front side.pdf"]
    for name in ("back #2.pdf", "front side.pdf"):
        assert (folder / "artwork" / name).read_bytes() == data
    assert job["output_pages"] == 4
    wait_for(lambda: not dest.exists(), what="the consumed folder removed from the inbox")


@pytest.mark.e2e
def test_awkward_file_names_spaces_unicode_hash_and_200_characters(start, tmp_path: Path) -> None:
    daemon = start(watch={"settle_seconds": 0.3})
    data = source_card(tmp_path)
    names = {
        "SP": "front and back v2 final.pdf",
        "UNI": "Visitenkarte Müller – Größe ½ 名刺.pdf",
        "HASH": "#42 card #back.pdf",
        "LONG": ("l" * 196) + ".pdf",
    }
    for order_id, name in names.items():
        (daemon.inbox / name).write_bytes(data)
        drop(daemon.inbox / f"Bestellung {order_id} #1 – Müller.yaml", manifest(order_id, name))
    for order_id, name in names.items():
        job = daemon.wait_status(f"{order_id}-1", "InHotFolder")
        assert (daemon.root / job["folder"] / "artwork" / name).read_bytes() == data
        assert_complete(tmp_path, order_id, data)
    assert list(daemon.inbox.iterdir()) == []


# -- thousands of files at once ---------------------------------------------------------------------


def flood(start, tmp_path: Path, files: int, per_job: int) -> None:  # type: ignore[no-untyped-def]
    daemon = start(watch={"settle_seconds": 0.5, "rescan_seconds": 3, "artwork_timeout_seconds": 600})
    tiny = make_pdf(tmp_path / "tiny.pdf", pages=[(50, 50)]).read_bytes()
    jobs = files // per_job
    for j in range(jobs):  # all at once, plain writes: no renames, events for every byte
        names = [f"f{j:04d}-{k:02d}.pdf" for k in range(per_job)]
        for name in names:
            fd = os.open(daemon.inbox / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, tiny)
            os.close(fd)
        (daemon.inbox / f"m{j:04d}.yaml").write_text(
            f'order_id: "FL{j:04d}"\nproduct: flood\nquantity: 1\nartwork: {json.dumps(names)}\n'
        )

    def all_taken() -> bool:
        listed = json.loads(run_cli(daemon.config, "jobs", "--json", check=True).stdout)
        return len(listed) == jobs and all(j["status"] == "CopyToHotFolderSkipped" for j in listed)

    wait_for(all_taken, timeout=60 + files / 20, interval=1.0, what=f"{jobs} jobs of {files} files done")
    listed = json.loads(run_cli(daemon.config, "jobs", "--json", check=True).stdout)
    assert all(j["output_pages"] == per_job for j in listed)
    taken = sum(len(os.listdir(daemon.root / j["folder"] / "artwork")) for j in listed)
    assert taken == files, "files lost"
    assert os.listdir(daemon.inbox) == []
    assert os.listdir(daemon.root / "failed") == []
    assert daemon.stop() == 0


@pytest.mark.e2e
def test_six_hundred_files_at_once_none_lost(start, tmp_path: Path) -> None:
    flood(start, tmp_path, files=600, per_job=10)


@pytest.mark.e2e
@pytest.mark.slow
def test_three_thousand_files_at_once_none_lost(start, tmp_path: Path) -> None:
    flood(start, tmp_path, files=3000, per_job=10)


@pytest.mark.e2e
def test_an_order_whose_events_the_kernel_dropped_is_taken_at_once(start, tmp_path: Path) -> None:
    """A burst of more file events than the kernel's inotify queue holds (fs.inotify.max_queued_events,
    16,384 by default: a copy of a whole batch of orders) drops the events after it, and an order
    they were about was found only by the periodic rescan (watch.rescan_seconds, a minute by
    default: seen in the bench as 48 s without a delivery). An overflow now starts a rescan at
    once. The daemon is stopped (SIGSTOP) while the burst and then the order arrive, so that the
    order's events are surely dropped; the rescan period is an hour."""
    burst = files_to_overflow_inotify()
    daemon = start(watch={"settle_seconds": 0.3, "rescan_seconds": 3600})
    source = source_card(tmp_path)
    assert daemon.proc is not None
    os.kill(daemon.proc.pid, signal.SIGSTOP)
    try:
        for i in range(burst):  # ignored names (watch.ignore ".*")
            (daemon.inbox / f".burst-{i:05d}").write_bytes(b"x")
        drop(daemon.inbox / "lost.pdf", source)
        drop(daemon.inbox / "lost.yaml", manifest("LOST", "lost.pdf"))
    finally:
        os.kill(daemon.proc.pid, signal.SIGCONT)
    # InHotFolder, not the PDF's arrival: the job folder goes to done/ between the two.
    daemon.wait_status("LOST-1", "InHotFolder", timeout=30)
    assert_complete(tmp_path, "LOST", source)
    said = [json.loads(line) for line in daemon.log_text().splitlines() if "watcher.events_lost" in line]
    assert (
        said and said[0]["level"] == "warning" and said[0]["max_queued_events"] == inotify_setting("max_queued_events")
    )
    assert "max_queued_events" in said[0]["action"]
    assert daemon.stop() == 0


@pytest.mark.e2e
def test_unclaimed_data_file_goes_to_failed_after_the_artwork_timeout(start, tmp_path: Path) -> None:
    daemon = start(watch={"settle_seconds": 0.3, "artwork_timeout_seconds": 2})
    (daemon.inbox / "stray file.pdf").write_bytes(source_card(tmp_path))
    error = daemon.root / "failed" / "stray file.pdf" / "ERROR.txt"
    wait_for(error.is_file, timeout=20, what="failed/stray file.pdf/ERROR.txt")
    assert "no manifest" in error.read_text()
    assert (daemon.root / "failed" / "stray file.pdf" / "stray file.pdf").is_file()


@pytest.mark.e2e
def test_a_folder_without_a_manifest_goes_to_failed_as_one_folder(start, tmp_path: Path) -> None:
    """A folder dragged in with its manifest misnamed is one mistake: its files go together into
    failed/<folder>/ (their paths kept), with one ERROR.txt that names the manifest's right name."""
    daemon = start(watch={"settle_seconds": 0.3, "artwork_timeout_seconds": 2})
    upload = tmp_path / "order 7"
    (upload / "backs").mkdir(parents=True)
    (upload / "front.pdf").write_bytes(source_card(tmp_path))
    (upload / "backs" / "back.pdf").write_bytes(source_card(tmp_path))
    (upload / "order.json").write_text(manifest("O7", "front.pdf"))
    shutil.copytree(upload, daemon.inbox / "order 7")
    failed = daemon.root / "failed" / "order 7"
    wait_for((failed / "ERROR.txt").is_file, timeout=20, what="failed/order 7/ERROR.txt")
    time.sleep(0.5)
    assert sorted(p.relative_to(failed).as_posix() for p in failed.rglob("*") if p.is_file()) == [
        "ERROR.txt",
        "backs/back.pdf",
        "front.pdf",
        "order.json",
    ]
    text = (failed / "ERROR.txt").read_text()
    assert "order 7/ (3 files)" in text and "must be named manifest.json" in text, text
    assert [p.name for p in (daemon.root / "failed").iterdir()] == ["order 7"]
    # (its emptied folder goes once it has been quiet for 3 x settle_seconds: a client may still send to it)
    wait_for(lambda: not (daemon.inbox / "order 7").exists(), what="the emptied folder removed")


@pytest.mark.e2e
def test_names_that_are_not_utf8_go_to_failed_saying_why(start, tmp_path: Path) -> None:
    """Audit T: Latin-1 names (a legacy FTP client, a Samba share with another charset) stayed in
    the inbox for good, with a traceback in the log at every rescan, in lines that were not UTF-8."""
    daemon = start(watch={"settle_seconds": 0.3, "rescan_seconds": 1})
    inbox = bytes(daemon.inbox)
    card = source_card(tmp_path)
    with open(inbox + b"/caf\xe9.pdf", "wb") as fh:
        fh.write(card)
    with open(inbox + b"/ord\xe9r.yaml", "wb") as fh:
        fh.write(b'order_id: "LAT"\nproduct: bc-85x55\nquantity: 1\nartwork: ["ok.pdf"]\n')
    os.mkdir(inbox + b"/f\xf6lder")  # noqa: PTH102 - a name in bytes, as a client wrote it
    with open(inbox + b"/f\xf6lder/manifest.yaml", "wb") as fh:
        fh.write(manifest("FOLD", "card.pdf").encode())
    with open(inbox + b"/f\xf6lder/card.pdf", "wb") as fh:
        fh.write(card)
    staged = bytes(tmp_path / "two")  # a good folder's name, two bad ones in it, moved in at once
    os.mkdir(staged)  # noqa: PTH102
    for bad in (b"caf\xe9.pdf", b"m\xfcller.pdf"):
        with open(staged + b"/" + bad, "wb") as fh:
            fh.write(card)
    os.rename(staged, inbox + b"/two")  # noqa: PTH104
    (daemon.inbox / "ok.pdf").write_bytes(card)  # the other work goes on
    drop(daemon.inbox / "ok.yaml", manifest("OK", "ok.pdf"))
    daemon.wait_status("OK-1", "InHotFolder", timeout=30)
    failed = daemon.root / "failed"
    for name in ("café.pdf", "ordér.yaml", "földer"):
        wait_for((failed / name / "ERROR.txt").is_file, timeout=20, what=f"failed/{name}/ERROR.txt")
        text = (failed / name / "ERROR.txt").read_text()
        assert "not UTF-8" in text and "read as Windows-1252 it is" in text, text
    assert "café.pdf" in (failed / "café.pdf" / "ERROR.txt").read_text()
    # The folder's own name is the one read as Windows-1252, not its files' good names (review FT 3);
    # in a good folder, each of its bad names (review FX 4)
    assert "read as Windows-1252 it is: földer\n" in (failed / "földer" / "ERROR.txt").read_text()
    # (review GI 2: a zip made by Windows Explorer keeps its names in code page 850: read so too)
    assert (
        "read as the DOS code page 850 (a zip from Windows) it is: f÷lder\n"
        in (failed / "földer" / "ERROR.txt").read_text()
    )
    wait_for((failed / "two" / "ERROR.txt").is_file, timeout=20, what="failed/two/ERROR.txt")
    wait_for(lambda: "café.pdf, müller.pdf" in (failed / "two" / "ERROR.txt").read_text(), what="both names said")
    assert (
        "inbox/two arrived in the inbox holding names that are not UTF-8" in (failed / "two" / "ERROR.txt").read_text()
    )
    assert os.path.isfile(bytes(failed / "café.pdf") + b"/caf\xe9.pdf"), "kept under its own name"
    assert sorted(os.listdir(bytes(failed / "földer"))) == [b"ERROR.txt", b"card.pdf", b"manifest.yaml"]
    wait_for(lambda: os.listdir(inbox) == [], what="nothing left in the inbox (emptied folders go once quiet)")
    time.sleep(1.5)  # a rescan or two: nothing is tried again
    raw = daemon.log_path.read_bytes()
    raw.decode("utf-8")  # every log line is UTF-8
    lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
    assert not [e for e in lines if e.get("event") in ("engine.unexpected_error", "manifest.internal_error")]
    assert [e["file"] for e in lines if e.get("event") == "inbox.name_not_utf8"].count(
        str(daemon.inbox / "café.pdf")
    ) == 1


@pytest.mark.e2e
def test_a_folder_without_a_manifest_holding_a_name_not_utf8_stays_one_folder(start, tmp_path: Path) -> None:
    daemon = start(watch={"settle_seconds": 0.3, "artwork_timeout_seconds": 2})
    upload = bytes(tmp_path / "nomanifest")
    os.mkdir(upload)  # noqa: PTH102 - names in bytes, as a client wrote them
    card = source_card(tmp_path)
    for name in (b"gr\xfc\xdf.pdf", b"ok.pdf"):
        with open(upload + b"/" + name, "wb") as fh:
            fh.write(card)
    (tmp_path / "nomanifest").rename(daemon.inbox / "nomanifest")
    failed = daemon.root / "failed" / "nomanifest"
    wait_for(lambda: (failed / "ok.pdf").is_file(), timeout=20, what="failed/nomanifest/ok.pdf")
    time.sleep(0.5)
    assert sorted(os.listdir(bytes(failed))) == [b"ERROR.txt", b"gr\xfc\xdf.pdf", b"ok.pdf"]
    assert [p.name for p in (daemon.root / "failed").iterdir()] == ["nomanifest"]
    text = (failed / "ERROR.txt").read_text()
    assert "not UTF-8" in text and "no manifest that was taken in named" in text


@pytest.mark.e2e
def test_a_manifest_naming_artwork_under_an_ignored_name_is_refused_at_once(start, tmp_path: Path) -> None:
    """Audit AC: the job waited artwork_timeout_seconds "for the file to be complete (still being
    written)", then failed as missing, while the file was in the inbox: never to be taken."""
    daemon = start(watch={"settle_seconds": 0.3, "artwork_timeout_seconds": 3600})
    (daemon.inbox / ".hidden.pdf").write_bytes(source_card(tmp_path))
    drop(daemon.inbox / "hid.yaml", manifest("HID", ".hidden.pdf"))
    error = daemon.root / "failed" / "hid.yaml" / "ERROR.txt"
    wait_for(error.is_file, timeout=20, what="failed/hid.yaml/ERROR.txt")
    text = " ".join(error.read_text().split())
    assert 'line 4: artwork[0]: ".hidden.pdf": the name ".hidden.pdf" matches watch.ignore (".*")' in text, text
    assert daemon.job("HID-1") is None
    assert (daemon.inbox / ".hidden.pdf").is_file()  # ignored files stay where they are
    route = daemon.cli("route", str(daemon.root / "failed" / "hid.yaml" / "hid.yaml"), check=False)
    assert route.returncode == 1 and "matches watch.ignore" in route.stderr


@pytest.mark.e2e
def test_symbolic_links_in_the_inbox_are_never_followed(start, tmp_path: Path) -> None:
    """A link could name any file on the server: neither a linked artwork nor a linked manifest is read."""
    daemon = start(watch={"settle_seconds": 0.3})
    outside = tmp_path / "outside"
    outside.mkdir()
    make_pdf(outside / "card.pdf", pages=CARD)
    (outside / "order.yaml").write_text(manifest("LNK2", "x.pdf"))
    # There when the manifest comes: an unsafe path, a bad manifest (SPEC 5).
    (daemon.inbox / "lnk.pdf").symlink_to(outside / "card.pdf")
    drop(daemon.inbox / "lnk.yaml", manifest("LNK", "lnk.pdf"))
    bad = daemon.root / "failed" / "lnk.yaml" / "ERROR.txt"
    wait_for(bad.is_file, timeout=20, what="failed/lnk.yaml/ERROR.txt")
    assert "symbolic link" in bad.read_text() and daemon.job("LNK-1") is None
    # Coming after its manifest: its job fails, saying so.
    drop(daemon.inbox / "late.yaml", manifest("LATE", "late.pdf"))
    daemon.wait_status("LATE-1", "AwaitingData")
    (daemon.inbox / "late.pdf").symlink_to(outside / "card.pdf")
    error = daemon.root / "failed" / "LATE-1" / "ERROR.txt"
    wait_for(error.is_file, timeout=20, what="failed/LATE-1/ERROR.txt")
    assert "symbolic link" in error.read_text()
    daemon.wait_status("LATE-1", "ValidationFailed")  # (recorded just after the folder moved)
    (daemon.inbox / "linked.yaml").symlink_to(outside / "order.yaml")
    rejected = daemon.root / "failed" / "linked.yaml" / "ERROR.txt"
    wait_for(rejected.is_file, timeout=20, what="failed/linked.yaml/ERROR.txt")
    assert "symbolic link" in rejected.read_text() and daemon.job("LNK2-1") is None
    assert list((tmp_path / "hot" / "indigo").iterdir()) == []
    assert (outside / "card.pdf").is_file() and (outside / "order.yaml").is_file()


# -- the inbox itself goes away ---------------------------------------------------------------------


@pytest.mark.e2e
def test_inbox_deleted_and_recreated(start, tmp_path: Path) -> None:
    daemon = start(watch={"settle_seconds": 0.3})
    data = source_card(tmp_path)
    shutil.rmtree(daemon.inbox)
    time.sleep(0.5)
    daemon.inbox.mkdir()
    (daemon.inbox / "re.pdf").write_bytes(data)
    drop(daemon.inbox / "re.yaml", manifest("RE", "re.pdf"))
    daemon.wait_status("RE-1", "InHotFolder", timeout=30)
    assert_complete(tmp_path, "RE", data)
    assert daemon.proc is not None and daemon.proc.poll() is None


@pytest.mark.e2e
def test_share_disappears_and_comes_back_in_polling_mode(start, tmp_path: Path) -> None:
    daemon = start(watch={"mode": "polling", "settle_seconds": 0.5, "poll_interval_seconds": 0.3})
    data = source_card(tmp_path)
    (daemon.inbox / "a.pdf").write_bytes(data)
    drop(daemon.inbox / "a.yaml", manifest("SHA", "a.pdf"))
    daemon.wait_status("SHA-1", "InHotFolder")
    away = tmp_path / "share-offline"
    daemon.inbox.rename(away)  # unmounted
    # Written on the file server meanwhile: the artwork slowly, then the manifest.
    with open(away / "b.pdf", "wb") as fh:
        fh.write(data[:1000])
        fh.flush()
        time.sleep(1.0)
        fh.write(data[1000:])
    drop(away / "b.yaml", manifest("SHB", "b.pdf"))
    time.sleep(1.0)
    if daemon.inbox.exists():
        daemon.inbox.rmdir()  # the empty mount point
    away.rename(daemon.inbox)  # mounted again
    daemon.wait_status("SHB-1", "InHotFolder", timeout=30)
    assert_complete(tmp_path, "SHB", data)
    assert daemon.stop() == 0


# -- the inotify watch limit ------------------------------------------------------------------------


class _ExhaustedObserver(threading.Thread):
    """An inotify observer on a machine whose fs.inotify.max_user_watches is used up."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(daemon=True)

    def schedule(self, *args: Any, **kwargs: Any) -> None:
        return None

    def start(self) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    def stop(self) -> None:
        return None


@pytest.mark.parametrize("mode", ["auto", "native"])
def test_exhausted_watch_limit_falls_back_to_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setattr(watcher_module, "Observer", _ExhaustedObserver)
    seen: list[Path] = []
    watcher = FolderWatcher([tmp_path / "inbox"], mode, 0.1, lambda path, moved: seen.append(path))
    with capture_logs() as logs:
        watcher.start()
    try:
        assert watcher.mode == "polling" and watcher.is_alive()
        fallback = [e for e in logs if e["event"] == "watcher.fallback_to_polling"]
        assert fallback and "max_user_watches" in fallback[0]["reason"]
        (tmp_path / "inbox" / "new.yaml").write_text("order_id: x\n")
        wait_for(lambda: tmp_path / "inbox" / "new.yaml" in seen, timeout=5, what="a polled event")
    finally:
        watcher.stop()


def test_after_a_fallback_inotify_is_taken_again_once_the_limit_is_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Polling after a fallback used to stay until a restart, even once the sysadmin had raised
    fs.inotify.max_user_watches as the log line says: now native watching comes back when the
    limit changes, at a reload (force), or after an hour."""
    real_observer = watcher_module.Observer
    tries: list[int] = []

    class Counted(_ExhaustedObserver):
        def start(self) -> None:
            tries.append(1)
            super().start()

    limit = ["8192"]
    monkeypatch.setattr(watcher_module, "Observer", Counted)
    monkeypatch.setattr(watcher_module, "_watch_limit", lambda: limit[0])
    seen: list[Path] = []
    watcher = FolderWatcher([tmp_path / "inbox"], "auto", 0.1, lambda path, moved: seen.append(path))
    watcher.start()
    try:
        assert watcher.mode == "polling" and watcher.fell_back and len(tries) == 1
        start = time.monotonic()
        assert watcher.try_native(now=start + 60) is False and len(tries) == 1, "same limit: no walk of the trees"
        assert watcher.try_native(now=start + 60, force=True) is False and len(tries) == 2, "a reload tries"
        assert watcher.try_native(now=start + 3601 + 60) is False and len(tries) == 3, "hourly"
        assert watcher.mode == "polling" and watcher.is_alive(), "a failed try keeps polling"
        monkeypatch.setattr(watcher_module, "Observer", real_observer)
        poller = watcher._observer
        assert isinstance(poller, watcher_module.FolderPoller)
        limit[0] = "524288"
        assert watcher.try_native(now=start + 3700) is True
        assert watcher.mode == "native" and watcher.is_alive() and not watcher.fell_back
        assert watcher.try_native(force=True) is False, "nothing to do once native"
        wait_for(lambda: not poller.is_alive(), timeout=5, what="the poller stopped")
        (tmp_path / "inbox" / "new.yaml").write_text("order_id: x\n")
        wait_for(lambda: tmp_path / "inbox" / "new.yaml" in seen, timeout=5, what="an inotify event")
    finally:
        watcher.stop()


# -- a writer that pauses longer than settle_seconds ------------------------------------------------


@pytest.mark.e2e
def test_slow_writer_pausing_longer_than_settle_seconds_is_not_taken_early(start, tmp_path: Path) -> None:
    daemon = start(watch={"settle_seconds": 0.3})
    data = source_card(tmp_path)
    drop(daemon.inbox / "stall.yaml", manifest("STALL", "stall.pdf"))
    daemon.wait_status("STALL-1", "AwaitingData")
    with open(daemon.inbox / "stall.pdf", "wb") as fh:
        for i in range(4):  # four bursts, each pause 1.2 s: four times settle_seconds
            fh.write(data[i * len(data) // 4 : (i + 1) * len(data) // 4])
            fh.flush()
            if i < 3:
                time.sleep(1.2)
    daemon.wait_status("STALL-1", "InHotFolder")
    assert_complete(tmp_path, "STALL", data)


@pytest.mark.e2e
def test_json_manifest_whose_writer_pauses_longer_than_settle_seconds_is_not_taken_early(start, tmp_path: Path) -> None:
    """A JSON manifest written in two parts with a pause of four settle periods between them: not
    taken (and refused as unparsable) half-written, but once it ends with its closing brace."""
    daemon = start(watch={"settle_seconds": 0.3})
    data = source_card(tmp_path)
    drop(daemon.inbox / "pause.pdf", data)
    doc = {"order_id": "PAUSE", "product": "bc-85x55", "quantity": 1, "artwork": [{"path": "pause.pdf"}]}
    text = json.dumps(doc, indent=2).encode()
    with open(daemon.inbox / "pause.json", "wb") as fh:
        fh.write(text[: len(text) // 2])
        fh.flush()
        time.sleep(1.2)
        assert not (tmp_path / "root" / "failed" / "pause.json").exists(), "taken half-written"
        fh.write(text[len(text) // 2 :])
    daemon.wait_status("PAUSE-1", "InHotFolder")
    assert (tmp_path / "root" / "done" / "PAUSE-1" / "manifest.json").read_bytes() == text
    assert not (tmp_path / "root" / "failed").exists() or not any((tmp_path / "root" / "failed").iterdir())


def test_tracker_holds_a_yaml_manifest_that_does_not_end_its_line(tmp_path: Path) -> None:
    """Audit M: "quantity: 5", a pause longer than settle_seconds, then "00\n": the manifest was
    taken at "quantity: 5" and 5 copies were printed of an order for 500."""
    from spo_hotfolder.stability import FileStabilityTracker

    now = [100.0]
    tracker = FileStabilityTracker(0.5, lambda: now[0])
    half = tmp_path / "J2.yaml"
    half.write_bytes(b'order_id: "J2"\nproduct: p1\nartwork: [J2.pdf]\nquantity: 5')
    whole = tmp_path / "K2.yml"
    whole.write_bytes(b'order_id: "K2"\nproduct: p1\nartwork: [K2.pdf]\nquantity: 5\r\n')
    tracker.track(half)
    tracker.track(whole)
    now[0] += 1.0
    assert [p for p, _ in tracker.get_stable_files()] == [whole]
    with open(half, "ab") as fh:
        fh.write(b"00\n")
    tracker.track(half)
    now[0] += 0.6
    assert [p for p, _ in tracker.get_stable_files()] == [half]
    # One that never ends its line is taken in the end (the parser then reads what is there).
    never = tmp_path / "N.yaml"
    never.write_bytes(b'order_id: "N"')
    tracker.track(never)
    now[0] += tracker.incomplete_pdf_seconds + 0.1
    assert [p for p, _ in tracker.get_stable_files()] == [never]


def test_tracker_holds_a_pdf_whose_end_marker_is_not_at_its_end(tmp_path: Path) -> None:
    """Audit T: %%EOF anywhere in the last KiB counted as the end. An incrementally saved or
    linearized PDF has one after each revision, and some streams hold one: a writer pausing there
    had a partial PDF taken (and printed). Only white space may follow the last marker."""
    from spo_hotfolder.stability import FileStabilityTracker

    now = [100.0]
    tracker = FileStabilityTracker(0.5, lambda: now[0])
    revision = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\nstartxref\n9\n%%EOF\n"
    mid_update = tmp_path / "mid-update.pdf"
    mid_update.write_bytes(revision + b"2 0 obj\n<< /Type /Page")  # the update's first bytes
    linearized = tmp_path / "linearized.pdf"
    linearized.write_bytes(revision + b"3 0 obj\n" + b"s" * 3000)  # its first %%EOF at ~60 bytes
    padded = tmp_path / "padded.pdf"
    padded.write_bytes(revision + b"\r\n \x00\x00\t\x0c")
    for path in (mid_update, linearized, padded):
        tracker.track(path)
    now[0] += 1.0
    assert [p for p, _ in tracker.get_stable_files()] == [padded], "white space after the marker is fine"
    assert tracker.get_stable_files() == []
    now[0] += tracker.incomplete_pdf_seconds
    assert sorted(p.name for p, _ in tracker.get_stable_files()) == ["linearized.pdf", "mid-update.pdf"]


def test_tracker_holds_a_pdf_cut_where_it_looks_whole(tmp_path: Path) -> None:
    """Audit BF 1, 2: (1) Windows Explorer sets a copy's size before it writes the data: a file of
    zeros, taken after settle_seconds ("not a PDF"); (2) an upload that paused at the end marker
    after a linearized PDF's first page (its first bytes say how long the whole file is) was
    taken, failed as damaged, and the rest came as another file. Both are held like a PDF without
    its end marker, then taken all the same (and preflight says why they fail)."""
    from spo_hotfolder.stability import FileStabilityTracker

    now = [100.0]
    tracker = FileStabilityTracker(0.5, lambda: now[0])

    def linearized(length: int) -> bytes:  # its first page's section, saying the whole file is ``length`` bytes
        return (
            b"%PDF-1.5\n1 0 obj\n<< /Linearized 1 /L " + str(length).zfill(8).encode() + b" /H [ 9 9 ] /O 3 /E 400 "
            b"/N 1 /T 900 >>\nendobj\nxref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 1 >>\nstartxref\n90\n%%EOF\n"
        )

    size = len(linearized(0))
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(linearized(50_000))
    whole = tmp_path / "whole.pdf"
    whole.write_bytes(linearized(size))  # /L is its own length: whole
    trimmed = tmp_path / "trimmed.pdf"
    trimmed.write_bytes(linearized(size + 2))  # two line-end bytes short: whole all the same
    updated = tmp_path / "updated.pdf"
    updated.write_bytes(linearized(size - 60))  # longer than it says: saved again since
    zeros = tmp_path / "zeros.pdf"
    zeros.write_bytes(bytes(100_000))
    for path in (cut, whole, trimmed, updated, zeros):
        tracker.track(path, complete=True)
    assert sorted(p.name for p, _ in tracker.get_stable_files()) == ["trimmed.pdf", "updated.pdf", "whole.pdf"]
    now[0] += tracker.incomplete_pdf_seconds + 0.1
    assert sorted(p.name for p, _ in tracker.get_stable_files()) == ["cut.pdf", "zeros.pdf"]


def test_tracker_waits_while_a_writer_holds_the_file_open(tmp_path: Path) -> None:
    """A writer pausing at the exact end of a revision (the file then ends with %%EOF) or any
    writer holding the file open: not taken while it is open for writing, taken once closed."""
    from spo_hotfolder.stability import FileStabilityTracker, open_for_writing

    now = [100.0]
    tracker = FileStabilityTracker(0.5, lambda: now[0])
    pdf = tmp_path / "rev.pdf"
    writer = open(pdf, "wb")  # noqa: SIM115 - held open across the checks
    try:
        writer.write(b"%PDF-1.7\ntrailer<<>>\nstartxref\n9\n%%EOF\n")
        writer.flush()
        assert open_for_writing(pdf)
        tracker.track(pdf)
        now[0] += 1.0
        assert tracker.get_stable_files() == [], "open for writing: not complete"
        now[0] += 10.0
        assert tracker.get_stable_files() == [], "still open: still not, however long"
        assert tracker.next_due() is not None and tracker.next_due() <= now[0] + 0.25, "looked at again soon"
    finally:
        writer.close()
    assert not open_for_writing(pdf)
    now[0] += 0.25
    assert [p for p, _ in tracker.get_stable_files()] == [pdf]
    reader = open(pdf, "rb")  # noqa: SIM115 - a reader does not hold a file back
    try:
        assert not open_for_writing(pdf)
    finally:
        reader.close()


def test_tracker_holds_a_pdf_without_its_end_marker(tmp_path: Path) -> None:
    from spo_hotfolder.stability import FileStabilityTracker

    now = [100.0]
    tracker = FileStabilityTracker(0.5, lambda: now[0])
    pdf = tmp_path / "half.pdf"
    pdf.write_bytes(b"%PDF-1.7\n" + b"x" * 5000)
    other = tmp_path / "data.txt"
    other.write_bytes(b"no marker needed")
    tracker.track(pdf)
    tracker.track(other)
    now[0] += 1.0
    assert [p for p, _ in tracker.get_stable_files()] == [other]
    assert tracker.next_due() == pytest.approx(100.0 + tracker.incomplete_pdf_seconds)
    now[0] += 1.0
    assert tracker.get_stable_files() == [], "still held"
    with open(pdf, "ab") as fh:
        fh.write(b"\ntrailer\n<<>>\nstartxref\n0\n%%EOF\n")
    tracker.track(pdf)
    now[0] += 0.6
    assert [p for p, _ in tracker.get_stable_files()] == [pdf], "complete now: taken after settle_seconds"
    # A PDF that never gets its marker is taken in the end (preflight then explains it).
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"y" * 100)
    tracker.track(broken)
    now[0] += tracker.incomplete_pdf_seconds + 0.1
    assert [p for p, _ in tracker.get_stable_files()] == [broken]
    # Renamed into place: complete at once when it has its end marker.
    moved = tmp_path / "moved.pdf"
    moved.write_bytes(b"%PDF-1.7\n%%EOF\n")
    tracker.track(moved, complete=True)
    assert [p for p, _ in tracker.get_stable_files()] == [moved]
    # Cut short before it got its name (rsync --partial, interrupted), or empty, or only the
    # beginning of a header, renamed or written in place: held, then taken all the same.
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(b"%PDF-1.7\n" + b"z" * 3000)
    empty_pdf = tmp_path / "empty.pdf"
    empty_pdf.write_bytes(b"")
    start = tmp_path / "start.pdf"
    start.write_bytes(b"%")
    empty_manifest = tmp_path / "order.yaml"
    empty_manifest.write_bytes(b"")
    not_a_pdf = tmp_path / "letter.pdf"
    not_a_pdf.write_bytes(b"PK\x03\x04 a zip file")
    tracker.track(cut, complete=True)
    tracker.track(empty_manifest, complete=True)
    for path in (empty_pdf, start, not_a_pdf):
        tracker.track(path)
    now[0] += 1.0
    assert [p for p, _ in tracker.get_stable_files()] == [not_a_pdf], "no end marker to wait for"
    with open(empty_manifest, "wb") as fh:
        fh.write(b'order_id: "1"\n')
    tracker.track(empty_manifest, complete=True)  # the event of the write (a rename again)
    assert [p for p, _ in tracker.get_stable_files()] == [empty_manifest], "filled: taken"
    now[0] += tracker.incomplete_pdf_seconds + 0.1
    assert sorted(p.name for p, _ in tracker.get_stable_files()) == ["cut.pdf", "empty.pdf", "start.pdf"]
    # A JSON manifest is complete when it ends with the brace that closes it (whitespace after it
    # is fine); a half-written one is held like a PDF without its end marker, then taken anyway.
    closed = tmp_path / "closed.json"
    closed.write_bytes(b'{"order_id": "1", "jobs": []}\r\n')
    half = tmp_path / "half.json"
    half.write_bytes(b'{"order_id": "1", "jobs": [{"prod')
    tracker.track(closed, complete=True)
    tracker.track(half, complete=True)
    assert [p for p, _ in tracker.get_stable_files()] == [closed]
    now[0] += tracker.incomplete_pdf_seconds + 0.1
    assert [p for p, _ in tracker.get_stable_files()] == [half]
