"""When a file is complete: the stability tracker with an injected clock."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from spo_hotfolder.stability import STALLED_DOWNLOAD_SECONDS, FileStabilityTracker


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_file_is_stable_after_settle_seconds_unchanged(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = FileStabilityTracker(1.0, clock)
    f = tmp_path / "a.pdf"
    f.write_bytes(b"x")
    tracker.track(f)
    assert tracker.get_stable_files() == []
    assert tracker.next_due() == 101.0
    clock.t = 101.0
    assert [p for p, _ in tracker.get_stable_files()] == [f]
    assert len(tracker) == 0


def test_a_growing_file_waits_again(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = FileStabilityTracker(1.0, clock)
    f = tmp_path / "a.pdf"
    f.write_bytes(b"x")
    tracker.track(f)
    clock.t = 100.9
    with open(f, "ab") as fh:
        fh.write(b"more")
    clock.t = 101.0
    assert tracker.get_stable_files() == [], "changed since it was tracked: not complete"
    clock.t = 101.9
    assert tracker.get_stable_files() == []
    clock.t = 102.0
    assert [p for p, _ in tracker.get_stable_files()] == [f]


def test_settle_counts_from_when_the_event_was_seen_not_from_when_it_was_handled(tmp_path: Path) -> None:
    """The engine may get to an event a job later; the settle period runs from the event. A later
    event, or one handled out of turn, never moves the deadline earlier."""
    clock = FakeClock()
    tracker = FileStabilityTracker(1.0, clock)
    f = tmp_path / "a.pdf"
    f.write_bytes(b"x")
    clock.t = 100.4  # handled 0.4 s after it was seen
    tracker.track(f, activity=True, seen=100.0)
    assert tracker.next_due() == 101.0
    clock.t = 100.6
    tracker.track(f, activity=True, seen=100.5)  # written again
    assert tracker.next_due() == 101.5
    tracker.track(f, activity=True, seen=100.2)  # an older event: the deadline stays
    assert tracker.next_due() == 101.5
    tracker.track(f, activity=True, seen=200.0)  # a "seen" in the future counts as now
    assert tracker.next_due() == 101.6
    clock.t = 101.59
    assert tracker.get_stable_files() == []
    clock.t = 101.6
    assert [p for p, _ in tracker.get_stable_files()] == [f]


def test_activity_events_push_the_deadline(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = FileStabilityTracker(1.0, clock)
    f = tmp_path / "a.pdf"
    f.write_bytes(b"x")
    tracker.track(f)
    clock.t = 100.8
    tracker.track(f, activity=True)
    clock.t = 101.2
    assert tracker.get_stable_files() == []
    tracker.track(f, activity=False)  # a rescan does not reset the timer
    clock.t = 101.8
    assert [p for p, _ in tracker.get_stable_files()] == [f]


def test_renamed_into_place_is_complete_at_once(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = FileStabilityTracker(5.0, clock)
    f = tmp_path / "a.pdf"
    f.write_bytes(b"x")
    tracker.track(f, complete=True)
    assert [p for p, _ in tracker.get_stable_files()] == [f]


def test_vanished_files_and_folders_are_dropped(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = FileStabilityTracker(0.0, clock)
    gone = tmp_path / "gone.pdf"
    tracker.track(gone)
    tracker.track(tmp_path)
    assert len(tracker) == 0
    f = tmp_path / "b.pdf"
    f.write_bytes(b"x")
    tracker.track(f)
    f.unlink()
    assert tracker.get_stable_files() == []
    assert len(tracker) == 0


def test_a_scanned_file_counts_as_unchanged_since_its_ctime(tmp_path: Path) -> None:
    """Found by a scan (at start, or after lost events): its ctime says how long it has not
    changed, so a file that has waited long enough is taken at once, a fresh one waits the rest."""
    clock = FakeClock()
    old, fresh = tmp_path / "old.pdf", tmp_path / "fresh.pdf"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    ctime_old, ctime_fresh = old.stat().st_ctime, fresh.stat().st_ctime
    wall = [ctime_fresh + 0.4]  # the fresh file was changed 0.4 s ago
    tracker = FileStabilityTracker(1.0, clock, wall=lambda: wall[0])
    tracker.track(fresh, activity=False)
    assert tracker.get_stable_files() == []
    assert tracker.next_due() == pytest.approx(100.6, abs=1e-3)  # 1.0 s after its ctime, not after it was seen
    wall[0] = ctime_old + 30.0
    tracker.track(old, activity=False)
    assert [p for p, _ in tracker.get_stable_files()] == [old]
    clock.t = 100.61
    assert [p for p, _ in tracker.get_stable_files()] == [fresh]


def test_an_event_never_uses_the_ctime(tmp_path: Path) -> None:
    clock = FakeClock()
    f = tmp_path / "a.pdf"
    f.write_bytes(b"x")
    tracker = FileStabilityTracker(1.0, clock, wall=lambda: f.stat().st_ctime + 30.0)
    tracker.track(f, activity=True)  # a writer touched it just now
    assert tracker.get_stable_files() == []
    clock.t = 101.0
    assert [p for p, _ in tracker.get_stable_files()] == [f]


def test_a_ctime_in_the_future_waits_a_full_settle(tmp_path: Path) -> None:
    clock = FakeClock()
    f = tmp_path / "a.pdf"
    f.write_bytes(b"x")
    tracker = FileStabilityTracker(1.0, clock, wall=lambda: f.stat().st_ctime - 60.0)  # clock stepped back
    tracker.track(f, activity=False)
    assert tracker.next_due() == 101.0


def test_a_file_held_open_for_writing_for_minutes_is_said_once(tmp_path: Path) -> None:
    """A complete-looking file that a program keeps open for writing (a stuck SMB upload) waits,
    rightly; after HELD_OPEN_WARN_SECONDS the log says why, once, and the file is taken once closed."""
    from structlog.testing import capture_logs

    from spo_hotfolder.stability import HELD_OPEN_WARN_SECONDS

    clock = FakeClock()
    tracker = FileStabilityTracker(1.0, clock)
    f = tmp_path / "order.json"
    writer = open(f, "wb")  # noqa: SIM115 - held open across the checks
    try:
        writer.write(b'{"order_id": "1"}')
        writer.flush()
        tracker.track(f)
        with capture_logs() as logs:
            for step in range(int(HELD_OPEN_WARN_SECONDS / 7) + 3):
                clock.t = 101.0 + step * 7.0  # an engine busy for seconds between looks
                assert tracker.get_stable_files() == []
        said = [e for e in logs if e["event"] == "file.held_open"]
        assert len(said) == 1 and said[0]["log_level"] == "warning", logs
        assert "still has it open for writing" in said[0]["reason"] and said[0]["path"] == str(f)
    finally:
        writer.close()
    clock.t += 1.0
    assert [p for p, _ in tracker.get_stable_files()] == [f]


def test_a_utf16_manifest_looks_complete_when_it_is(tmp_path: Path) -> None:
    """A UTF-16 manifest (read since audit AC) has a zero byte beside each character: its closing
    '}' or last line break is seen through them, so it is not held as unfinished for seconds."""
    import os

    from spo_hotfolder.stability import _looks_complete

    def looks_complete(name: str, data: bytes) -> bool:
        path = tmp_path / name
        path.write_bytes(data)
        return _looks_complete(path, os.stat(path))

    yaml_text = 'order_id: "1"\nproduct: bc\nquantity: 500\nartwork: [a.pdf]\n'
    json_text = '{"order_id": "1", "jobs": []}\r\n'
    for encoding in ("utf-16", "utf-16-be"):
        bom = "" if encoding == "utf-16" else "\ufeff"
        assert looks_complete("m.yaml", (bom + yaml_text).encode(encoding))
        assert looks_complete("m.json", (bom + json_text).encode(encoding))
        assert not looks_complete("m.yaml", (bom + yaml_text[:-4]).encode(encoding))
        assert not looks_complete("m.json", (bom + json_text[:-5]).encode(encoding))
    # Zeros at the end of a UTF-8 file are a copy not written yet.
    assert not looks_complete("m.yaml", yaml_text.encode() + bytes(8))
    assert not looks_complete("m.json", json_text.encode()[:-3] + bytes(300))


def test_an_empty_drop_file_waits_for_the_name_typed_into_it(tmp_path: Path) -> None:
    """Audit BQ 3: Explorer's "New > Text Document" renamed RELEASE.txt (empty), then opened in
    Notepad: the empty file was acted on after settle_seconds and the name typed into it was
    lost. An empty drop file waits like an empty manifest; one still empty then acts all the same."""
    clock = FakeClock()
    tracker = FileStabilityTracker(1.0, clock)
    typed, left_empty = tmp_path / "RELEASE.txt", tmp_path / "reject"
    typed.touch()
    left_empty.touch()
    tracker.track(typed, complete=True)  # renamed into place
    tracker.track(left_empty, complete=True)
    assert tracker.get_stable_files() == []
    clock.t += 3.0
    assert tracker.get_stable_files() == []
    typed.write_text("alice\n")
    tracker.track(typed)  # the write's event
    clock.t += 2.0  # 5 s after the first look: the empty one acts; the other, with its name, is settled
    taken = dict(tracker.get_stable_files())
    assert set(taken) == {typed, left_empty}
    assert taken[typed][0] == len("alice\n") and taken[left_empty][0] == 0  # (size, mtime, inode)


def test_a_zip_named_pdf_holding_pdfs_is_complete_as_it_is(tmp_path: Path) -> None:
    """Audit CD 2: a ZIP stored without compression holds "%PDF" but does not end with "%%EOF": it
    waited as a PDF "still being written", and the job's history said so."""
    import os
    import zipfile

    from spo_hotfolder.stability import _looks_complete

    inner = tmp_path / "inner.pdf"
    inner.write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")
    archive = tmp_path / "designs.pdf"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.write(inner, "design.pdf")
    assert _looks_complete(archive, os.stat(archive))


def test_a_pdf_with_a_part_never_written_waits_like_an_incomplete_one(tmp_path: Path) -> None:
    """Audit E 2: a client that writes the end of a file first (a multi-threaded copy, a download
    manager), closes it and pauses longer than settle_seconds left a PDF with its header and its
    end marker, and a hole between them where nothing was written yet: it was taken. A hole (a
    part never written) now holds it as an incomplete-looking file; filled, it is taken."""
    import os

    pdf = tmp_path / "card.pdf"
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    tail = b"\ntrailer <<>>\nstartxref\n0\n%%EOF\n"
    with open(pdf, "wb") as fh:
        fh.write(head)
        fh.seek(256 * 1024)  # the middle: not written yet
        fh.write(tail)
    with open(pdf, "rb") as fh:
        if os.lseek(fh.fileno(), 0, os.SEEK_HOLE) >= pdf.stat().st_size:
            pytest.skip("this filesystem does not report holes")
    clock = FakeClock()
    tracker = FileStabilityTracker(1.0, clock)
    tracker.track(pdf)
    clock.t += 1.0
    assert tracker.get_stable_files() == []
    assert tracker.held_until(pdf) == 100.0 + tracker.incomplete_pdf_seconds
    with open(pdf, "r+b") as fh:  # the middle arrives
        fh.seek(len(head))
        fh.write(b"%" * (256 * 1024 - len(head)))
    tracker.track(pdf)
    clock.t += 1.0
    assert [p for p, _ in tracker.get_stable_files()] == [pdf]


def test_stable_among_looks_only_at_the_files_named_wherever_they_are_in_the_backlog(tmp_path: Path) -> None:
    """A manifest's artwork, found complete: taken in the manifest's round, not in its turn
    behind thousands of files tracked before it."""
    clock = FakeClock()
    tracker = FileStabilityTracker(1.0, clock)
    backlog = [tmp_path / f"b{i}.pdf" for i in range(5)]
    named, settling, untracked = tmp_path / "named.pdf", tmp_path / "settling.pdf", tmp_path / "untracked.pdf"
    for f in [*backlog, named, untracked]:
        f.write_bytes(b"x")
        if f is not untracked:
            tracker.track(f)
    clock.t = 101.0
    settling.write_bytes(b"y")
    tracker.track(settling)  # changed just now: not complete yet
    assert [p for p, _ in tracker.stable_among([untracked, settling, named])] == [named]
    assert named not in tracker and settling in tracker and untracked not in tracker
    assert [p for p, _ in tracker.get_stable_files(limit=10)] == backlog  # the rest, untouched


@pytest.mark.parametrize("temp_name", ["a.pdf.part", ".a.pdf.Xq31Zb", "a.pdf.crdownload"])
def test_an_empty_file_waits_while_an_upload_of_it_is_there_beside_it(tmp_path: Path, temp_name: str) -> None:
    """Audit R 2: Firefox makes an empty a.pdf at once, downloads into a.pdf.part and renames that
    over a.pdf at the end: the empty a.pdf was taken after incomplete_pdf_seconds (5 s) and its job
    failed "an empty file", the whole PDF coming after it left unused."""
    clock = FakeClock()
    tracker = FileStabilityTracker(1.0, clock)
    placeholder, upload = tmp_path / "a.pdf", tmp_path / temp_name
    placeholder.touch()
    upload.write_bytes(b"%PDF-1.7 still coming")
    tracker.track(placeholder)
    for _ in range(30):
        clock.t += 2.0
        with upload.open("ab") as f:
            f.write(b"more")
        assert tracker.get_stable_files() == [], "held while the upload beside it goes on"
    assert placeholder in tracker
    upload.unlink()  # given up (a cancelled download leaves the empty one): taken, and fails as empty
    clock.t += 1.0
    assert [p for p, _ in tracker.get_stable_files()] == [placeholder]


def test_an_empty_file_beside_a_download_that_stopped_for_good_is_taken_in_the_end(tmp_path: Path) -> None:
    """Review DZ 1: an empty a.pdf beside the a.pdf.part a crashed browser left was held for ever (its
    job "not arrived yet" for hours, its artwork timeout put off at every look, the file never
    filed): a download unchanged for STALLED_DOWNLOAD_SECONDS holds it no longer. Review EE 2 (of
    that mend): one that pauses for seconds, or minutes, still holds it (the longer wait, 5 s,
    failed a stalled browser download's job as an empty file)."""
    clock = FakeClock()
    tracker = FileStabilityTracker(1.0, clock)
    placeholder, upload = tmp_path / "a.pdf", tmp_path / "a.pdf.part"
    placeholder.touch()
    upload.write_bytes(b"%PDF-1.7 paused")
    tracker.track(placeholder)
    clock.t += 1.0
    assert tracker.get_stable_files() == []
    clock.t += 120.0  # a download paused for two minutes
    assert tracker.get_stable_files() == [] and placeholder in tracker
    clock.t += STALLED_DOWNLOAD_SECONDS
    assert [p for p, _ in tracker.get_stable_files()] == [placeholder]


def test_an_empty_file_with_no_upload_beside_it_is_taken_after_the_longer_wait(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = FileStabilityTracker(1.0, clock)
    placeholder = tmp_path / "a.pdf"
    placeholder.touch()
    (tmp_path / "b.pdf.part").write_bytes(b"another file's upload")
    tracker.track(placeholder)
    clock.t += 1.0
    assert tracker.get_stable_files() == []
    clock.t += tracker.incomplete_pdf_seconds
    assert [p for p, _ in tracker.get_stable_files()] == [placeholder]


@pytest.mark.parametrize("temp_name", [".a.pdf.gZIfxG", "a.pdf.filepart"])
def test_a_cut_off_file_waits_while_its_upload_beside_it_goes_on(tmp_path: Path, temp_name: str) -> None:
    """Audit AB 1: `rsync --partial` cut off leaves the part under the final name; the same rsync
    run again a second later writes the whole file into .a.pdf.gZIfxG beside it and renames that
    over a.pdf at its end. The part was taken after incomplete_pdf_seconds, while the upload went
    on, and its job failed as damaged. It waits while that upload changes; one that has stopped
    changing (an rsync killed, its temporary file left) holds it incomplete_pdf_seconds more only."""
    clock = FakeClock()
    tracker = FileStabilityTracker(1.0, clock)
    part, upload = tmp_path / "a.pdf", tmp_path / temp_name
    part.write_bytes(b"%PDF-1.7\n1 0 obj << >> endobj\n" + b"x" * 2000)  # no %%EOF: cut off
    tracker.track(part)
    upload.write_bytes(b"%PDF-1.7\n")
    for grown in range(1, 31):  # 30 s of upload
        clock.t += 1.0
        upload.write_bytes(b"%PDF-1.7\n" + b"y" * 100 * grown)
        assert tracker.get_stable_files() == [], f"held while the upload goes on ({grown} s)"
    clock.t += tracker.incomplete_pdf_seconds - 0.5
    assert tracker.get_stable_files() == [], "the upload just stopped changing"
    clock.t += 1.0
    assert [p for p, _ in tracker.get_stable_files()] == [part], "an upload that stopped: taken (and fails)"


def test_a_cut_off_file_beside_another_files_upload_is_taken_after_the_longer_wait(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = FileStabilityTracker(1.0, clock)
    part = tmp_path / "a.pdf"
    part.write_bytes(b"%PDF-1.7\n1 0 obj << >> endobj\n")
    (tmp_path / ".b.pdf.gZIfxG").write_bytes(b"another file's upload")
    tracker.track(part)
    clock.t += tracker.incomplete_pdf_seconds + 0.1
    assert [p for p, _ in tracker.get_stable_files()] == [part]


def test_an_io_error_on_a_files_stat_is_looked_at_again_not_taken_for_a_device(tmp_path: Path) -> None:
    """Audit CE D2: one EIO on the stat of a manifest (a share failing a moment) noted it as a
    "special" file, and the engine filed it into failed/ as "a device, not a file"; an EIO at its
    last look dropped it from tracking. It stays tracked, looked at again, settles afresh."""

    clock = FakeClock()
    failing = {"left": 1}
    tracker = FileStabilityTracker(1.0, clock, stat_fn=_failing_stat(failing, errno.EIO))
    f = tmp_path / "order.yaml"
    f.write_text("order_id: 1\n")
    tracker.track(f)
    assert tracker.specials == {}
    assert len(tracker) == 1
    clock.t = 101.5  # looked at: read now, its settle period begins
    assert tracker.get_stable_files() == []
    clock.t = 102.5
    assert [p for p, _ in tracker.get_stable_files()] == [f]
    # ... and at the last look before it is taken: kept, taken once read
    f2 = tmp_path / "order2.yaml"
    f2.write_text("order_id: 2\n")
    tracker.track(f2)
    clock.t = 104.0
    failing["left"] = 1
    assert tracker.get_stable_files() == []
    assert tracker.specials == {} and len(tracker) == 1
    clock.t = 104.9
    assert tracker.get_stable_files() == []  # held until it is looked at again
    clock.t = 105.0
    assert [p for p, _ in tracker.get_stable_files()] == [f2]  # read again, unchanged since its settle


def test_a_failed_close_after_the_lease_look_says_not_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit CH E1: an EIO from close() after the look for a writer raised into whoever looked (the
    look before a delivery, which failed the job in hand)."""
    import spo_hotfolder.stability as stability

    real_close = os.close
    f = tmp_path / "order.yaml"

    def close(fd: int) -> None:
        target = str(Path(f"/proc/self/fd/{fd}").readlink())
        real_close(fd)
        if target == str(f):
            raise OSError(5, "Input/output error")

    f.write_text("order_id: 1\n")
    monkeypatch.setattr(stability.os, "close", close)
    assert stability.open_for_writing(f) is False


@pytest.mark.parametrize("code", ["ESTALE", "EACCES", "ENOSPC"])
def test_a_regular_file_whose_stat_fails_for_any_reason_is_looked_at_again(tmp_path: Path, code: str) -> None:
    """Audit CH E5: ESTALE (NFS), EACCES or ENOSPC on a manifest's stat filed the file, regular as it
    was, as "a device, not a file"; CE D2's mend looked again only for I/O errors."""

    clock = FakeClock()
    tracker = FileStabilityTracker(1.0, clock, stat_fn=_failing_stat({"left": 1}, getattr(errno, code)))
    f = tmp_path / "order.yaml"
    f.write_text("order_id: 1\n")
    tracker.track(f)
    assert tracker.specials == {} and len(tracker) == 1
    clock.t = 103.0
    assert tracker.get_stable_files() == []  # read now: settles from here
    clock.t = 104.0
    assert [p for p, _ in tracker.get_stable_files()] == [f]


def test_a_link_to_nothing_is_still_said_as_such(tmp_path: Path) -> None:
    clock = FakeClock()
    tracker = FileStabilityTracker(1.0, clock)
    link = tmp_path / "order.yaml"
    link.symlink_to(tmp_path / "gone.yaml")
    tracker.track(link)
    assert list(tracker.specials) == [link] and len(tracker) == 0


def _failing_stat(failing: dict[str, int], code: int) -> Callable[[Path], os.stat_result]:
    """``os.stat`` that fails with ``code`` the next ``failing["left"]`` times."""

    def stat(path: Path) -> os.stat_result:
        if failing["left"]:
            failing["left"] -= 1
            raise OSError(code, os.strerror(code))
        return os.stat(path)

    return stat
