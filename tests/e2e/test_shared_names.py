"""Orders of several storefront uploads that name one artwork file name ("artwork.pdf") at the top
of inbox/: each file is given to the order it came with (audits AX 1, BY 1, CA 1-3), through the
real daemon and real upload patterns."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.daemon import Daemon, drop, wait_for
from tests.pdfs import make_big_pdf

pytestmark = pytest.mark.e2e


def _order(daemon: Daemon, order_id: str) -> str:
    drop(
        daemon.inbox / f"{order_id}.yaml",
        f'order_id: "{order_id}"\nproduct: bc-85x55\nquantity: 1\nartwork: [artwork.pdf]\n',
    )
    job_id = f"{order_id}-1"
    daemon.wait_status(job_id, "AwaitingData")
    return job_id


def _card(tmp_path: Path, name: str) -> bytes:
    return make_big_pdf(tmp_path / name, pages=2, bytes_per_page=40_000, size_mm=(91, 61)).read_bytes()


def _printed(daemon: Daemon, tmp_path: Path, job_id: str) -> bytes:
    order_id = job_id.rsplit("-", 1)[0]
    path = tmp_path / "hot" / "indigo" / f"{order_id}_{job_id}_bc-85x55_x1.pdf"
    wait_for(path.is_file, timeout=20, what=str(path))
    return (daemon.root / "done" / job_id / "artwork" / "artwork.pdf").read_bytes()


def _set_aside(daemon: Daemon, tmp_path: Path, pdf: bytes, *job_ids: str) -> Path:
    """Nobody took the file: it is in failed/artwork.pdf/, nothing was printed, and each job's
    STATUS.txt gives the command that hands it over."""
    aside = daemon.root / "failed" / "artwork.pdf" / "artwork.pdf"
    wait_for(aside.is_file, timeout=30, what=str(aside))
    assert aside.read_bytes() == pdf
    for job_id in job_ids:
        status = daemon.root / "work" / job_id / "STATUS.txt"
        wait_for(
            lambda s=status, j=job_id: (
                f"If it is this job's: spo-hotfolder replace {j} '{aside}'" in " ".join(s.read_text().split())
            ),
            what=f"{job_id}'s STATUS.txt says how to give it the file",
        )
    assert not list((tmp_path / "hot" / "indigo").iterdir())
    return aside


def test_a_file_that_came_while_the_daemon_was_stopped_is_not_given_to_an_order_that_came_after_it(
    start, tmp_path: Path
) -> None:
    """Audit CA 2: A waits; the daemon stops; A's PDF comes, then B's manifest naming the same
    name. B got A's PDF at start. Either could own it (B may send its PDF first): nobody guesses."""
    daemon = start(watch={"settle_seconds": 0.3})
    first = _order(daemon, "SA")
    assert daemon.stop() == 0
    pdf = _card(tmp_path, "a.pdf")
    drop(daemon.inbox / "artwork.pdf", pdf)
    time.sleep(2.5)
    (daemon.inbox / "SB.yaml").write_text('order_id: "SB"\nproduct: bc-85x55\nquantity: 1\nartwork: [artwork.pdf]\n')
    # Both came while it was stopped: the manifest too is complete (settled) when the daemon looks.
    # (Written as it starts, the manifest is still settling at its first look, which then sees the
    # PDF alone: as if the manifest had come after the start, and A, waiting, takes the PDF.)
    time.sleep(0.6)
    daemon.start()
    aside = _set_aside(daemon, tmp_path, pdf, first, "SB-1")
    daemon.cli("replace", first, str(aside), "--by", "ann", check=True)
    assert _printed(daemon, tmp_path, first) == pdf


def test_a_file_whose_upload_under_a_temporary_name_began_first_is_not_given_to_the_order_after_it(
    start, tmp_path: Path
) -> None:
    """Audit CA 1: rsync uploads A's PDF as .artwork.pdf.Ab12Cd; B's manifest (same file name) comes
    while it is on its way; the rename that ends A's upload came after B's manifest, and B got A's
    PDF. Nobody takes it now: B could have sent its PDF first."""
    daemon = start(watch={"settle_seconds": 0.3})
    first = _order(daemon, "RA")
    pdf = _card(tmp_path, "a.pdf")
    temp = daemon.inbox / ".artwork.pdf.Ab12Cd"
    with temp.open("wb") as fh:
        fh.write(pdf[: len(pdf) // 2])
        fh.flush()
        time.sleep(2.5)
        second = _order(daemon, "RB")
        time.sleep(0.5)
        fh.write(pdf[len(pdf) // 2 :])
    os.replace(temp, daemon.inbox / "artwork.pdf")
    _set_aside(daemon, tmp_path, pdf, first, second)


def test_a_file_two_orders_sent_seconds_apart_wait_for_is_given_by_the_operator(start, tmp_path: Path) -> None:
    """Audits BY 1, CC 5: X's manifest, Y's manifest seconds later, then a PDF of the name both list
    (written in place, as smbclient does). Whose it is, the times cannot tell: nobody takes it (a
    guess printed one order's PDF for another); failed/artwork.pdf/ and both jobs' STATUS.txt say
    how to give it, and `replace` does."""
    daemon = start(watch={"settle_seconds": 0.3})
    first = _order(daemon, "XX")
    second = _order(daemon, "YY")
    pdf = _card(tmp_path, "y.pdf")
    (daemon.inbox / "artwork.pdf").write_bytes(pdf)
    aside = _set_aside(daemon, tmp_path, pdf, first, second)
    daemon.cli("replace", second, str(aside), "--by", "ann", check=True)
    assert _printed(daemon, tmp_path, second) == pdf
    assert daemon.job(first)["status"] == "AwaitingData"


@pytest.mark.parametrize("mode", ["polling", "native"])
def test_a_file_lying_in_the_inbox_is_not_printed_while_its_new_copy_is_uploaded_beside_it(
    start, tmp_path: Path, mode: str
) -> None:
    """Review HU 1: an old artwork.pdf lay in inbox/, rsync began uploading its new version beside
    it (.artwork.pdf.Ab12Cd), and the order's manifest came: with a poller (which tells of no such
    temporary name) the file lying there was taken a moment later, by another way than the
    manifest's own claim, and printed; the new one was left in inbox/. Each way waits for it."""
    daemon = start(watch={"mode": mode, "settle_seconds": 0.3, "poll_interval_seconds": 0.3})
    old, new = (
        _card(tmp_path, "old.pdf"),
        make_big_pdf(tmp_path / "new.pdf", pages=2, bytes_per_page=60_000, size_mm=(91, 61)).read_bytes(),
    )
    assert old != new
    (daemon.inbox / "artwork.pdf").write_bytes(old)
    past = time.time() - 100
    os.utime(daemon.inbox / "artwork.pdf", (past, past))
    time.sleep(1.5)  # (seen, and lying there unclaimed)
    upload = daemon.inbox / ".artwork.pdf.Ab12Cd"
    with upload.open("wb") as fh:  # (written slowly, as rsync --bwlimit does)
        for n, at in enumerate(range(0, len(new), max(1, len(new) // 30))):
            fh.write(new[at : at + max(1, len(new) // 30)])
            fh.flush()
            if n == 8:
                drop(
                    daemon.inbox / "U1.yaml",
                    'order_id: "U1"\nproduct: bc-85x55\nquantity: 1\nartwork: [artwork.pdf]\n',
                )
            time.sleep(0.1)
    os.replace(upload, daemon.inbox / "artwork.pdf")
    assert _printed(daemon, tmp_path, "U1-1") == new
