"""Output building (byte copy or merge, boxes added, atomic publish) and the isolated PdfWorker."""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
import shutil
import signal
import stat
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, NumberObject

import spo_hotfolder.pdfwork as pdfwork_module
from spo_hotfolder import preflight as preflight_module
from spo_hotfolder.config import DEFAULT_SEVERITY, ProductSpec, ValidationConfig
from spo_hotfolder.output import build_output, check
from spo_hotfolder.outputfile import OutputError, link_unchanged
from spo_hotfolder.pdfwork import _CHECK, PdfWorker, WorkerFailure
from spo_hotfolder.preflight import ArtworkInput
from tests.daemon import CORPUS, rewrite_keeping_time
from tests.pdfs import (
    add_table_update,
    make_big_pdf,
    make_bomb_pdf,
    make_damaged_content_pdf,
    make_hybrid_pdf,
    make_layered_pdf,
    make_object_stream_pdf,
    make_pdf,
    make_raw_pdf,
    mm,
    same_size_edit,
)

BC = ProductSpec(pattern="bc-*", trim_mm=(85.0, 55.0), bleed_mm=3.0, pages=2)
V = ValidationConfig()


def art(*paths: Path) -> list[ArtworkInput]:
    return [ArtworkInput(p.name, str(p)) for p in paths]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def boxes_mm(path: Path) -> list[dict[str, list[float]]]:
    with open(path, "rb") as fh:
        reader = PdfReader(fh)
        result = []
        for page in reader.pages:
            boxes = {}
            for key in ("/MediaBox", "/TrimBox", "/BleedBox"):
                if key in page:
                    boxes[key] = [round(mm(float(v)), 1) for v in cast(ArrayObject, page[key])]
            result.append(boxes)
        return result


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def test_single_file_with_boxes_is_copied_byte_for_byte(tmp_path: Path, out_dir: Path) -> None:
    src = make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58))
    dest = out_dir / "100_100-1_bc_x500.pdf"
    result = build_output(art(src), str(dest), BC, V)
    assert result.copied_unchanged
    assert result.pages == 2
    assert dest.read_bytes() == src.read_bytes()
    assert dest.stat().st_ino == src.stat().st_ino  # a hard link: no copy, even of 1 GiB
    assert result.sha256 is None  # the artwork's digest (preflight's) applies
    assert result.size_bytes == src.stat().st_size
    assert result.path == str(dest)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644
    assert leftovers(out_dir) == []


def test_single_file_is_copied_where_hard_links_are_refused(
    tmp_path: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58))
    dest = out_dir / "o.pdf"

    def refuse(src: str, dst: str) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", refuse)
    result = build_output(art(src), str(dest), BC, V)
    assert result.copied_unchanged
    assert dest.read_bytes() == src.read_bytes()
    assert dest.stat().st_ino != src.stat().st_ino
    assert leftovers(out_dir) == []


def test_single_file_without_product_spec_is_copied(tmp_path: Path, out_dir: Path) -> None:
    src = make_pdf(tmp_path / "a4.pdf", [(210, 297)] * 3)
    result = build_output(art(src), str(out_dir / "o.pdf"), None, V)
    assert result.copied_unchanged
    assert result.pages == 3


def test_boxes_are_added_when_the_cropbox_holds_the_bleed(tmp_path: Path, out_dir: Path) -> None:
    """Audit AZ 2: an A4 page cropped to 91 x 61 (trim + bleed), no TrimBox, passed preflight and was
    delivered as it was: a RIP cuts at the TrimBox, whose default is the CropBox, so the card came
    out 91 x 61. The boxes are added within the CropBox, as for a MediaBox of that size."""
    from pypdf import PdfWriter
    from pypdf.generic import NameObject, RectangleObject

    from tests.pdfs import pt

    writer = PdfWriter()
    for _ in range(2):
        page = writer.add_blank_page(width=pt(210), height=pt(297))
        page[NameObject("/CropBox")] = RectangleObject([pt(50), pt(50), pt(141), pt(111)])
    src = tmp_path / "cropped.pdf"
    with open(src, "wb") as fh:
        writer.write(fh)
    report, as_is = check(art(src), "bc-85x55", BC, V)
    assert report.ok and report.findings == () and not as_is
    dest = out_dir / "o.pdf"
    result = build_output(art(src), str(dest), BC, V)
    assert not result.copied_unchanged
    assert (
        boxes_mm(dest)
        == [
            {
                "/MediaBox": [0.0, 0.0, 210.0, 297.0],
                "/TrimBox": [53.0, 53.0, 138.0, 108.0],
                "/BleedBox": [50.0, 50.0, 141.0, 111.0],
            }
        ]
        * 2
    )


def test_a_trimbox_is_added_beside_a_bleedbox_of_the_pages_own(tmp_path: Path, out_dir: Path) -> None:
    """Audit BB 1: a 91 x 61 card with a BleedBox (the whole page) and no TrimBox passed as trim +
    bleed, and went out without a TrimBox: a RIP cuts at the CropBox then, 91 x 61."""
    src = make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 2, bleedbox=(0, 0, 91, 61))
    report, as_is = check(art(src), "bc-85x55", BC, V)
    assert report.ok and not as_is
    dest = out_dir / "o.pdf"
    build_output(art(src), str(dest), BC, V)
    assert (
        boxes_mm(dest)
        == [
            {
                "/MediaBox": [0.0, 0.0, 91.0, 61.0],
                "/TrimBox": [3.0, 3.0, 88.0, 58.0],
                "/BleedBox": [0.0, 0.0, 91.0, 61.0],
            }
        ]
        * 2
    )


@pytest.mark.parametrize(
    ("bleedbox", "start"),
    [
        ((3, 3, 88, 58), "no bleed: the page's BleedBox is 85.0 x 55.0 mm"),
        ((1.5, 1.5, 89.5, 59.5), "not enough bleed: the page's BleedBox is 88.0 x 58.0 mm"),
        ((0, 0, 85, 55), "no bleed (bleed right 0.0 mm, top 0.0 mm): the page's BleedBox is 85.0 x 55.0 mm"),
    ],
)
def test_a_short_bleedbox_of_a_page_without_trimbox_is_a_bleed_error(
    tmp_path: Path, bleedbox: tuple[float, float, float, float], start: str
) -> None:
    """Audit BC 1: a 91 x 61 card (trim + bleed) whose own BleedBox was the trim, 1 mm short, or off
    to a corner passed; the output kept that BleedBox, where a RIP cuts the bleed."""
    src = make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 2, bleedbox=bleedbox)
    report, _ = check(art(src), "bc-85x55", BC, V)
    [finding] = report.findings
    assert finding.check == "bleed" and finding.message.startswith(f"pages 1-2: {start}"), finding.message


def test_boxes_are_added_when_the_mediabox_holds_the_bleed(tmp_path: Path, out_dir: Path) -> None:
    src = make_pdf(tmp_path / "bc.pdf", [(91, 61), (61, 91)])
    dest = out_dir / "o.pdf"
    result = build_output(art(src), str(dest), BC, V)
    assert not result.copied_unchanged
    assert result.pages == 2
    assert boxes_mm(dest) == [
        {
            "/MediaBox": [0.0, 0.0, 91.0, 61.0],
            "/TrimBox": [3.0, 3.0, 88.0, 58.0],
            "/BleedBox": [0.0, 0.0, 91.0, 61.0],
        },
        {
            "/MediaBox": [0.0, 0.0, 61.0, 91.0],
            "/TrimBox": [3.0, 3.0, 58.0, 88.0],
            "/BleedBox": [0.0, 0.0, 61.0, 91.0],
        },
    ]
    assert result.sha256 == hashlib.sha256(dest.read_bytes()).hexdigest()
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644
    assert leftovers(out_dir) == []


def test_trimbox_is_added_when_the_mediabox_is_the_trim(tmp_path: Path, out_dir: Path) -> None:
    src = make_pdf(tmp_path / "bc.pdf", [(85, 55)])
    dest = out_dir / "o.pdf"
    build_output(art(src), str(dest), BC, V)
    assert boxes_mm(dest) == [{"/MediaBox": [0.0, 0.0, 85.0, 55.0], "/TrimBox": [0.0, 0.0, 85.0, 55.0]}]


def test_several_files_are_merged_in_order(tmp_path: Path, out_dir: Path) -> None:
    front = make_pdf(tmp_path / "front.pdf", [(91, 61)], trimbox=(3, 3, 88, 58))
    back = make_pdf(tmp_path / "back.pdf", [(61, 91), (92, 62)])
    dest = out_dir / "o.pdf"
    result = build_output(art(front, back), str(dest), BC, V)
    assert not result.copied_unchanged
    assert result.pages == 3
    assert [b["/MediaBox"] for b in boxes_mm(dest)] == [
        [0.0, 0.0, 91.0, 61.0],
        [0.0, 0.0, 61.0, 91.0],
        [0.0, 0.0, 92.0, 62.0],
    ]
    assert [b.get("/TrimBox") for b in boxes_mm(dest)] == [
        [3.0, 3.0, 88.0, 58.0],
        [3.0, 3.0, 58.0, 88.0],
        [3.5, 3.5, 88.5, 58.5],  # the product's trim, centred
    ]


def test_owner_password_only_artwork(tmp_path: Path, out_dir: Path) -> None:
    owner = make_pdf(tmp_path / "owner.pdf", [(91, 61)], trimbox=(3, 3, 88, 58), encrypt_owner="x")
    single = build_output(art(owner), str(out_dir / "single.pdf"), BC, V)
    assert single.copied_unchanged
    plain = make_pdf(tmp_path / "plain.pdf", [(91, 61)], trimbox=(3, 3, 88, 58))
    merged = build_output(art(owner, plain), str(out_dir / "merged.pdf"), BC, V)
    assert merged.pages == 2
    with open(out_dir / "merged.pdf", "rb") as fh:
        assert not PdfReader(fh).is_encrypted


def test_encrypted_artwork_is_an_output_error(tmp_path: Path, out_dir: Path) -> None:
    locked = make_pdf(tmp_path / "locked.pdf", [(91, 61)], encrypt_user="secret")
    dest = out_dir / "o.pdf"
    with pytest.raises(OutputError) as info:
        build_output(art(locked), str(dest), BC, V)
    assert str(info.value) == (
        "artwork 'locked.pdf' is encrypted: a password is needed to open it; ask the customer for an unprotected PDF"
    )
    assert not dest.exists()
    assert leftovers(out_dir) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "artwork 'bad.pdf' is an empty file (0 bytes)"),
        (b"Hello world", "artwork 'bad.pdf' is not a PDF: the file starts with \"Hello worl\""),
        (
            b"%PDF-1.4\nnothing\n%%EOF\n",
            "artwork 'bad.pdf' is damaged and cannot be read: its index of objects (the cross-reference table) is "
            "missing or damaged (the PDF reader said: startxref not found)",
        ),
    ],
)
def test_unreadable_artwork_is_an_output_error(tmp_path: Path, out_dir: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(content)
    good = make_pdf(tmp_path / "good.pdf", [(91, 61)])
    with pytest.raises(OutputError, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        build_output(art(good, bad), str(out_dir / "o.pdf"), BC, V)
    assert list(out_dir.iterdir()) == []


def test_missing_folder_is_a_plain_output_error(tmp_path: Path) -> None:
    src = make_pdf(tmp_path / "bc.pdf", [(91, 61)])
    with pytest.raises(OutputError) as info:
        build_output(art(src), str(tmp_path / "nowhere" / "o.pdf"), BC, V)
    assert str(info.value) == f"the output could not be written: the folder {tmp_path / 'nowhere'} does not exist"


@pytest.mark.parametrize("several", [False, True])
def test_full_disk_removes_the_temp_file(
    tmp_path: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch, several: bool
) -> None:
    src = make_pdf(tmp_path / "bc.pdf", [(91, 61)], trimbox=(3, 3, 88, 58))
    sources = art(src, src) if several else art(src)

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)  # also outputfile.os.fsync
    with pytest.raises(OutputError) as info:
        build_output(sources, str(out_dir / "o.pdf"), BC, V)
    assert str(info.value) == f"the output could not be written: the disk holding {out_dir} is full"
    assert list(out_dir.iterdir()) == []


def test_existing_output_is_replaced_atomically(tmp_path: Path, out_dir: Path) -> None:
    dest = out_dir / "o.pdf"
    dest.write_bytes(b"old")
    src = make_pdf(tmp_path / "bc.pdf", [(91, 61)], trimbox=(3, 3, 88, 58))
    build_output(art(src), str(dest), BC, V)
    assert dest.read_bytes() == src.read_bytes()


def test_bomb_is_merged_without_being_decoded(tmp_path: Path, out_dir: Path) -> None:
    bomb = make_bomb_pdf(tmp_path / "bomb.pdf", inflated_bytes=4 * 1024**3)
    other = make_pdf(tmp_path / "other.pdf", [(85, 55)])
    tracemalloc.start()
    try:
        result = build_output(art(bomb, other), str(out_dir / "o.pdf"), None, V)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.pages == 2
    assert peak < 64 * 1024**2
    assert result.size_bytes < bomb.stat().st_size + 64 * 1024


def test_big_single_file_is_copied_with_flat_memory(tmp_path: Path, out_dir: Path) -> None:
    src = make_big_pdf(tmp_path / "big.pdf", pages=500, bytes_per_page=10_000)
    assert src.stat().st_size > 4 * 1024**2
    tracemalloc.start()
    try:
        result = build_output(art(src), str(out_dir / "o.pdf"), None, V)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.copied_unchanged
    assert result.pages == 500
    assert peak < 16 * 1024**2  # the 5 MB of images are never loaded


# --- PdfWorker ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def worker() -> Iterator[PdfWorker]:
    with PdfWorker(timeout_seconds=10.0, memory_limit_bytes=1024**3) as w:
        yield w


def test_the_worker_s_log_lines_are_written_by_the_daemon_each_whole(tmp_path: Path) -> None:
    """Review GE 1: the worker wrote its lines (pypdf's warnings, each naming the job's files) to the
    stdout it shares with the daemon: a line longer than a pipe takes at once (4 KiB) had a daemon
    line written into its middle, no JSON. Its lines come to the daemon, which writes them, whole,
    to its own log stream, before what it logs about the answer."""
    import io
    import json
    import re

    from spo_hotfolder.logsetup import setup_logging

    log = io.StringIO()
    setup_logging("info", "json", log)
    folder = tmp_path / ("a-long-folder-name-" * 12) / "710-1" / "artwork"
    folder.mkdir(parents=True)
    files = []
    for n in range(12):  # (each line names the 12 files: ~4.5 KiB)
        src = make_pdf(folder / f"{n:02d}-{'artwork-with-a-long-name-' * 6}.pdf", [(85, 55)])
        src.write_bytes(re.sub(rb"startxref\s+\d+", b"startxref\n99", src.read_bytes()))
        files.append(ArtworkInput(src.name, str(src)))
    with PdfWorker(timeout_seconds=30.0, memory_limit_bytes=None) as worker:
        worker.preflight(files, "bc-85x55", BC, V)
        lines = log.getvalue().splitlines()  # (read as the answer came: the worker's lines are there)
    pypdf = [json.loads(line) for line in lines if '"logger": "pypdf' in line]
    assert pypdf and all(line["job_id"] == "710-1" and len(line["artwork"]) == 12 for line in pypdf), lines
    assert max(len(line.encode()) for line in lines) > 4096


def test_a_worker_log_line_cut_short_is_said_as_a_line_of_its_own() -> None:
    """Review GE 2: a worker killed in the middle of writing a line left its part on stdout, and the
    daemon's next line (the crash's explanation) was glued to it."""
    import io
    import json

    from spo_hotfolder.logsetup import WorkerLogRelay, setup_logging

    log = io.StringIO()
    setup_logging("info", "json", log)
    read, write = os.pipe()
    relay = WorkerLogRelay(read)
    os.write(write, b'{"event": "a"}\n{"event": "b"}\n{"event": "Object 7 0 not def')
    os.close(write)  # (the worker killed)
    relay.drain()
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["a", "b", "pdf_worker.log_line_cut"], lines
    assert lines[2]["part"] == '{"event": "Object 7 0 not def' and lines[2]["level"] == "warning"


def test_a_worker_log_pipe_numbered_above_1023_is_read() -> None:
    """Review GM 1: the relay waited with select(), which refuses a descriptor above 1,023 (a daemon
    with many open files: its limit is raised to 65,536): the worker's lines were lost, and later
    drains read the number once another file had it."""
    import io
    import json
    import resource

    from spo_hotfolder.logsetup import WorkerLogRelay, setup_logging

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip("this process may not have 2,048 files open")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    log = io.StringIO()
    setup_logging("info", "json", log)
    read, write = os.pipe()
    high = os.dup2(read, 1500)
    os.close(read)
    try:
        relay = WorkerLogRelay(high)
        os.write(write, b'{"event": "Object 7 0 not defined."}\n')
        deadline = time.monotonic() + 10
        while "Object 7" not in log.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.write(write, b'{"event": "b"}\n')
        os.close(write)
        relay.drain()
        assert [json.loads(line)["event"] for line in log.getvalue().splitlines()] == ["Object 7 0 not defined.", "b"]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_worker_runs_preflight_and_output(tmp_path: Path, out_dir: Path, worker: PdfWorker) -> None:
    src = make_pdf(tmp_path / "bc.pdf", [(85, 55)] * 2)
    report = worker.preflight(art(src), "bc-85x55", BC, V)
    assert [f.message for f in report.findings] == [
        "pages 1-2: no bleed: the page is 85.0 x 55.0 mm, product bc-85x55 needs 3.0 mm bleed on each side of the trim "
        "(91.0 x 61.0 mm)"
    ]
    result = worker.build_output(art(src), str(out_dir / "o.pdf"), BC, V)
    assert result.pages == 2
    locked = make_pdf(tmp_path / "locked.pdf", [(91, 61)], encrypt_user="secret")
    with pytest.raises(OutputError, match=r"^artwork 'locked\.pdf' is encrypted"):
        worker.build_output(art(locked), str(out_dir / "o2.pdf"), BC, V)


def test_worker_is_warm_between_calls(tmp_path: Path, worker: PdfWorker) -> None:
    src = make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 2)
    worker.preflight(art(src), "bc-85x55", BC, V)
    started = time.monotonic()
    for _ in range(5):
        assert worker.preflight(art(src), "bc-85x55", BC, V).ok
    assert (time.monotonic() - started) / 5 < 0.2


def test_worker_timeout_then_recovers(tmp_path: Path) -> None:
    src = make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 2)
    with PdfWorker(timeout_seconds=0.5, memory_limit_bytes=None) as worker:
        worker.preflight(art(src), "bc-85x55", BC, V)  # started and warm
        pids = worker._worker_pids()
        started = time.monotonic()
        with pytest.raises(WorkerFailure) as info:
            worker._once_more_after_crash(_CHECK, time.sleep, (30,))
        assert time.monotonic() - started < 5
        assert info.value.kind == "timeout"
        assert str(info.value) == (
            "the PDF check did not finish within 0.5 s (the file may be damaged or extremely complex)"
        )
        for pid in pids:  # the stuck worker is gone
            with pytest.raises(ProcessLookupError):
                for _ in range(50):
                    os.kill(pid, 0)
                    time.sleep(0.1)
        report = worker.preflight(art(src), "bc-85x55", BC, V)
        assert report.ok
        assert report.pages == 2


def test_worker_timeout_gives_a_report_and_an_output_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Thousands of pages: the worker cannot have answered by the time the daemon looks (a 2-page
    # file could, when the test process was slow to get there under load: an answer that is there
    # is taken, however late).
    src = make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 3000)
    with PdfWorker(timeout_seconds=0.0001, memory_limit_bytes=None) as worker:
        report = worker.preflight(art(src), "bc-85x55", BC, V)
        assert [(f.check, f.severity, f.message) for f in report.findings] == [
            (
                "open",
                "error",
                "the PDF check did not finish within 0.0001 s (the file may be damaged or extremely complex)",
            )
        ]
        assert report.artwork_sha256 == (hashlib.sha256(src.read_bytes()).hexdigest(),)
        with pytest.raises(OutputError) as info:
            worker.build_output(art(src), str(tmp_path / "o.pdf"), BC, V)
        assert str(info.value) == (
            "making the output PDF did not finish within 0.0001 s (the file may be damaged or extremely complex)"
        )
        assert leftovers(tmp_path) == []


def test_worker_crash_and_memory_limit(tmp_path: Path, worker: PdfWorker) -> None:
    src = make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 2)
    with pytest.raises(WorkerFailure) as info:
        worker._once_more_after_crash(_CHECK, os._exit, (3,))
    assert info.value.kind == "crash"
    assert str(info.value).startswith("the PDF checker crashed: its process ended unexpectedly")
    assert worker.preflight(art(src), "bc-85x55", BC, V).ok

    with pytest.raises(WorkerFailure) as info:
        worker._once_more_after_crash(_CHECK, bytearray, (2 * 1024**3,))  # over the 1 GiB address-space limit
    assert info.value.kind == "memory"
    assert str(info.value) == (
        "the PDF check ran out of memory (more than 1.0 GiB); the file may be damaged or extremely complex"
    )
    assert worker.preflight(art(src), "bc-85x55", BC, V).ok

    pid = worker._worker_pids()[0]
    os.kill(pid, 9)
    time.sleep(0.2)
    report = worker.preflight(art(src), "bc-85x55", BC, V)  # a fresh worker takes over
    assert report.ok or report.findings[0].message.startswith("the PDF checker crashed")
    assert worker.preflight(art(src), "bc-85x55", BC, V).ok


def _bytes_read(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar")


def test_worker_checks_a_file_read_ahead_without_reading_it_again(tmp_path: Path, worker: PdfWorker) -> None:
    """``hash_ahead``: the worker reads the file for its sha256 meanwhile (no answer is sent), and the
    check takes that digest for this very file: moved by the daemon (``ahead_moved``), not edited."""
    src = make_big_pdf(tmp_path / "big.pdf", 2, 1 << 20, (91, 61))
    first = src.read_bytes()
    assert worker.preflight(art(src), "bc-85x55", BC, V).ok  # (the worker is up and known)
    pid = worker._worker_pids()[0]

    def read_ahead(path: Path) -> None:
        before = _bytes_read(pid)
        worker.hash_ahead(str(path))
        deadline = time.monotonic() + 10
        while _bytes_read(pid) - before < path.stat().st_size and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _bytes_read(pid) - before >= path.stat().st_size  # read once, ahead

    read_ahead(src)
    taken = tmp_path / "job" / "artwork" / "big.pdf"
    taken.parent.mkdir(parents=True)
    before = os.lstat(src)
    os.link(src, taken)  # as the daemon takes a file
    os.unlink(src)
    worker.ahead_moved(before, os.stat(taken))
    read_before = _bytes_read(pid)
    report = worker.preflight(art(taken), "bc-85x55", BC, V)
    assert report.artwork_sha256 == (hashlib.sha256(first).hexdigest(),)
    assert _bytes_read(pid) - read_before < len(first) / 2, "the check did not read the file again"

    # Read ahead, then written over in place: the same size, the time put back (``cp -p``).
    read_ahead(taken)
    edited = same_size_edit(first)
    rewrite_keeping_time(taken, edited)
    report = worker.preflight(art(taken), "bc-85x55", BC, V)
    assert report.artwork_sha256 == (hashlib.sha256(edited).hexdigest(),)  # read again

    # Handing files over never waits, also to a worker that reads none of it (stopped): its pipe
    # fills, the rest is not sent, and what was sent is read whole once it goes on.
    os.kill(pid, signal.SIGSTOP)
    try:
        flood = str(tmp_path / ("x" * 200) / ("y" * 200) / "gone.pdf")
        started = time.monotonic()
        for _ in range(2000):  # ~0.9 MB of messages; the pipe holds 64 KiB
            worker.hash_ahead(flood)
        assert time.monotonic() - started < 5
    finally:
        os.kill(pid, signal.SIGCONT)
    assert worker.preflight(art(taken), "bc-85x55", BC, V).ok
    read_ahead(taken)  # (heard, after the flood's last message)
    assert worker.preflight(art(make_pdf(tmp_path / "bc.pdf", [(85, 55)])), "bc-85x55", BC, V).findings


def test_an_idle_worker_killed_is_replaced_and_said_in_the_log(tmp_path: Path, worker: PdfWorker) -> None:
    """Audit (CLI) 8: a PDF worker killed while idle (kill -9, the out-of-memory killer) was replaced
    without a word: the next job went well, and nobody could know the machine had killed it."""
    from structlog.testing import capture_logs

    src = make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 2)
    assert worker.preflight(art(src), "bc-85x55", BC, V).ok
    pid = worker._worker_pids()[0]
    os.kill(pid, 9)
    # Until it is reaped: all its threads gone, and its end of the pipe closed with them (a zombie
    # leader "Z" in /proc may still have a thread holding it, and the send then found it open).
    assert worker._proc is not None
    worker._proc.process.join(10)
    assert worker._proc.process.exitcode == -9
    with capture_logs() as logs:
        assert worker.preflight(art(src), "bc-85x55", BC, V).ok
    assert [e for e in logs if e["event"] == "pdf_worker.died"] == [
        {
            "event": "pdf_worker.died",
            "log_level": "warning",
            "pid": pid,
            "reason": f"the PDF worker process (pid {pid}) was killed by signal 9 (the system's out-of-memory killer, "
            "or a person) while no check or output was under way; a new one takes the work",
        }
    ]
    assert worker._worker_pids() != [pid]


def test_a_worker_killed_with_its_fork_server_is_replaced_and_the_check_made(tmp_path: Path) -> None:
    """Audit 12-05 B 3: every child of the daemon killed at once (the worker and the fork server that
    starts its successor): the successor's start was refused ("Connection refused", "unexpected
    EOF": the fork server's death not seen yet) and the job failed, "the daemon's log says more",
    with no word in the log. The start is tried again; each round's check passes."""
    import multiprocessing.forkserver as forkserver

    from structlog.testing import capture_logs

    src = make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 2)
    with PdfWorker(timeout_seconds=10.0, memory_limit_bytes=None) as worker:
        for _ in range(6):
            assert worker.preflight(art(src), "bc-85x55", BC, V).ok
            server = forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
            os.kill(worker._worker_pids()[0], signal.SIGKILL)
            os.kill(server, signal.SIGKILL)
            with capture_logs() as logs:
                report = worker.preflight(art(src), "bc-85x55", BC, V)
            assert report.ok, report.findings
            said = {e["event"] for e in logs}
            assert said & {"pdf_worker.crashed", "pdf_worker.died"}, logs


def test_a_worker_that_cannot_be_started_is_tried_again_then_said_in_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same, made certain: a start refused once is tried again (and said); refused every time,
    the check's finding says the checker could not run, and so does the log (ERROR.txt sends the
    operator there)."""
    from structlog.testing import capture_logs

    from spo_hotfolder import pdfwork

    src = make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 2)
    real = pdfwork._Process
    refusals = [1]

    def refused_then(context: Any, limit: int | None) -> Any:
        if refusals[0] > 0:
            refusals[0] -= 1
            raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
        return real(context, limit)

    with PdfWorker(timeout_seconds=10.0, memory_limit_bytes=None) as worker:
        assert worker.wait_ready(30)
        monkeypatch.setattr(pdfwork, "_Process", refused_then)
        with capture_logs() as logs:
            worker._replace(cast(Any, worker._proc))  # (its successor's start refused once, then made)
        assert [e["event"] for e in logs] == ["pdf_worker.start_failed"]
        assert worker.preflight(art(src), "bc-85x55", BC, V).ok
        refusals[0] = 10
        worker._replace(cast(Any, worker._proc))
        with capture_logs() as logs:
            report = worker.preflight(art(src), "bc-85x55", BC, V)
        message = (
            "the PDF checker could not run ([Errno 111] Connection refused): a fault of the daemon, not of the "
            "PDF (the daemon's log says more)"
        )
        assert [f.message for f in report.findings] == [message]
        assert [(e["event"], e.get("reason")) for e in logs] == [
            (
                "pdf_worker.start_failed",
                "a new PDF worker process could not be started ([Errno 111] Connection refused); tried again in 0.1 s",
            ),
            (
                "pdf_worker.start_failed",
                "a new PDF worker process could not be started ([Errno 111] Connection refused); tried again in 0.5 s",
            ),
            ("pdf_worker.unavailable", message),
        ]
        refusals[0] = 0
        assert worker.preflight(art(src), "bc-85x55", BC, V).ok  # and the next call starts one


_KILLERS = itertools.count()


def _kill_the_worker_once_it_runs(worker: PdfWorker, started: Path) -> threading.Thread:
    """Kills (SIGKILL) the worker process once the call the test makes meanwhile (``_busy``) has
    begun in it: once a file ``<started>.<its shell's pid>`` that was not there before is there.
    Until then a file ``<started>.kill.<n>`` of its own tells that call to wait for it, however
    slow the machine. Each killer removes only its own files: one killer's cleanup never ends the
    call another waits for."""
    marker = started.with_name(f"{started.name}.kill.{next(_KILLERS)}")
    marker.touch()
    before = set(started.parent.glob(f"{started.name}.[0-9]*"))

    def kill() -> None:
        for _ in range(6000):
            new = set(started.parent.glob(f"{started.name}.[0-9]*")) - before
            if new:
                os.kill(worker._worker_pids()[0], 9)
                for path in new:
                    path.unlink()  # (then the killed call's shell ends)
                marker.unlink()
                return
            time.sleep(0.01)

    thread = threading.Thread(target=kill)
    thread.start()
    return thread


def _busy(started: Path, seconds: int) -> tuple[Any, tuple[str]]:
    """A call for the worker that says it has begun (``<started>.<pid>``) and then works
    ``seconds``; or, while a killer waits for it (``<started>.kill.<n>``), until it is killed: its
    shell, which keeps the killed worker's end of the pipe open, ends then too (a fixed sleep let
    a slow machine's killer come too late, and the call ended well)."""
    return os.system, (
        f"f='{started}'.$$; touch \"$f\"; if ls '{started}'.kill.* >/dev/null 2>&1; then i=0; "
        f'while [ -e "$f" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; else sleep {seconds}; fi; exit 0',
    )


def _system_for_job(command: str, artwork: list[ArtworkInput]) -> int:
    """``os.system(command)``, called as a job's check is: with the job's artwork files."""
    return os.system(command)  # noqa: S605 - the test's own shell line, as _busy's


def test_a_worker_killed_in_the_middle_of_a_call_is_replaced_and_the_call_made_once_more(tmp_path: Path) -> None:
    """Audit B 2: a PDF worker killed in the middle of a check (the out-of-memory killer, a person's
    kill -9) failed the job until an operator dropped RETRY. The call is now made once more in a
    new process, and the log says so; a second crash fails it, saying it was the second."""
    from structlog.testing import capture_logs

    started = tmp_path / "started"
    with PdfWorker(timeout_seconds=60.0, memory_limit_bytes=None) as worker:
        assert worker.wait_ready(30)
        first = worker._worker_pids()[0]
        killer = _kill_the_worker_once_it_runs(worker, started)
        art = [ArtworkInput("a.pdf", str(tmp_path / "work" / "K-1" / "artwork" / "a.pdf"))]
        with capture_logs() as logs:
            # (the shell's exit status)
            assert worker._once_more_after_crash(_CHECK, _system_for_job, (_busy(started, 1)[1][0], art)) == 0
        killer.join()
        [said] = [e for e in logs if e["event"] == "pdf_worker.crashed"]
        assert said["work"] == "the PDF check"
        assert said["reason"].startswith("the PDF checker crashed: its process was killed (signal 9)")
        assert said["reason"].endswith("; it is tried once more in a new process")
        # Its job's id, as the job's other lines; no "drop RETRY" while it is tried again (helper EX 1).
        assert said.get("job_id") == "K-1", said
        assert "RETRY" not in said["reason"], said
        assert worker._worker_pids() != [first]

        killers = [_kill_the_worker_once_it_runs(worker, started)]
        with pytest.raises(WorkerFailure) as info:
            worker._once_more_after_crash(
                _CHECK,
                *_busy(started, 1),
                before_again=lambda: killers.append(_kill_the_worker_once_it_runs(worker, started)),
            )
        for killer in killers:
            killer.join()
        assert info.value.kind == "crash"
        assert str(info.value).endswith("; it crashed the second time too, in a new process")
        assert worker._once_more_after_crash(_CHECK, time.sleep, (0,)) is None  # and a third one takes work


def test_closed_worker_refuses_work(tmp_path: Path) -> None:
    worker = PdfWorker(timeout_seconds=5)
    worker.close()
    with pytest.raises(RuntimeError):
        worker._once_more_after_crash(_CHECK, time.sleep, (0,))


def test_close_from_another_thread_ends_a_running_call_at_once(tmp_path: Path) -> None:
    """What the daemon's shutdown does when a PDF check hangs: the call ends, nothing lingers."""
    worker = PdfWorker(timeout_seconds=60, memory_limit_bytes=None)
    assert worker.wait_ready(30)
    pids = worker._worker_pids()
    timer = threading.Timer(0.5, worker.close)
    timer.start()
    started = time.monotonic()
    with pytest.raises(WorkerFailure) as info:
        worker._once_more_after_crash(_CHECK, time.sleep, (30,))  # (not tried again: closed)
    assert time.monotonic() - started < 10
    assert info.value.kind == "crash"
    assert worker._worker_pids() == []  # closed: no successor was started
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
    with pytest.raises(RuntimeError):
        worker._once_more_after_crash(_CHECK, time.sleep, (0,))


def test_check_says_when_the_output_is_the_artwork_as_it_is(tmp_path: Path, out_dir: Path) -> None:
    ready = make_pdf(tmp_path / "ready.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58))
    needs_boxes = make_pdf(tmp_path / "boxes.pdf", [(91, 61)] * 2)
    too_small = make_pdf(tmp_path / "small.pdf", [(85, 55)])
    report, as_is = check(art(ready), "bc-85x55", BC, V)
    assert report.ok and as_is, report.findings
    report, as_is = check(art(needs_boxes), "bc-85x55", BC, V)
    assert report.ok and not as_is, "boxes are added: the output is rewritten"
    report, as_is = check(art(too_small), "bc-85x55", BC, V)
    assert not report.ok and not as_is
    report, as_is = check(art(ready) + art(ready), "bc-85x55", BC, V)
    assert not as_is, "two files are merged"

    result = link_unchanged(art(ready)[0], str(out_dir / "o.pdf"), report.pages)
    assert result.copied_unchanged and result.pages == 4 and result.size_bytes == ready.stat().st_size
    assert (out_dir / "o.pdf").stat().st_ino == ready.stat().st_ino
    assert leftovers(out_dir) == []
    with pytest.raises(OutputError, match=r"^artwork 'gone\.pdf' cannot be read: the file is missing$"):
        link_unchanged(art(tmp_path / "gone.pdf")[0], str(out_dir / "p.pdf"), 1)
    assert leftovers(out_dir) == []


def test_check_reads_the_artwork_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The question "the artwork as it is?" is asked of the reader preflight made: a job's check
    parses its PDF once (the second parse was a third of a 1-page job's check)."""
    ready = make_pdf(tmp_path / "ready.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58))
    needs_boxes = make_pdf(tmp_path / "boxes.pdf", [(91, 61)] * 2)
    made: list[object] = []

    class Counted(preflight_module.PdfReader):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(preflight_module, "PdfReader", Counted)
    assert check(art(ready), "bc-85x55", BC, V)[1]
    assert len(made) == 1
    assert not check(art(needs_boxes), "bc-85x55", BC, V)[1]
    assert len(made) == 2


def test_worker_check_matches_the_in_process_check(tmp_path: Path, worker: PdfWorker) -> None:
    ready = make_pdf(tmp_path / "ready.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58))
    report, as_is = worker.check(art(ready), "bc-85x55", BC, V)
    assert (report, as_is) == check(art(ready), "bc-85x55", BC, V)
    assert as_is


def test_a_check_begun_is_finished_with_the_same_answer(tmp_path: Path, worker: PdfWorker) -> None:
    ready = make_pdf(tmp_path / "ready.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58))
    pending = worker.begin_check(art(ready), "bc-85x55", BC, V)
    assert pending.seconds is None, "not answered yet"
    assert worker.finish_check(pending) == check(art(ready), "bc-85x55", BC, V)
    # The worker's own time on the check (the engine's preflight metric), once answered.
    assert isinstance(pending.seconds, float) and pending.seconds >= 0


def test_another_call_while_a_check_is_out_gets_its_own_answer(tmp_path: Path, worker: PdfWorker) -> None:
    """The worker does one thing at a time: a call made while a begun check is out waits for it,
    and each gets its own answer (the check's is kept until it is finished)."""
    ready = make_pdf(tmp_path / "ready.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58))
    bare = make_pdf(tmp_path / "bare.pdf", [(85, 55)])
    pending = worker.begin_check(art(ready), "bc-85x55", BC, V)
    other = worker.preflight(art(bare), "bc-85x55", BC, V)
    assert not other.ok and other.pages == 1
    report, as_is = worker.finish_check(pending)
    assert report.ok and report.pages == 2 and as_is
    unused = worker.begin_check(art(bare), "bc-85x55", BC, V)  # begun, never finished: harmless
    del unused
    assert worker.preflight(art(ready), "bc-85x55", BC, V).ok


def test_a_begun_check_that_times_out_gives_a_report(tmp_path: Path) -> None:
    # 2,000 pages take the worker ~0.3 s: it cannot answer within the time-out even when this
    # process is descheduled between the two calls (with 2 pages, on a loaded machine, it did).
    src = make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 2000)
    with PdfWorker(timeout_seconds=0.0001, memory_limit_bytes=None) as worker:
        report, as_is = worker.finish_check(worker.begin_check(art(src), "bc-85x55", BC, V))
        assert not as_is
        assert [f.message for f in report.findings] == [
            "the PDF check did not finish within 0.0001 s (the file may be damaged or extremely complex)"
        ]
    closed = PdfWorker(memory_limit_bytes=None)
    closed.close()
    report, as_is = closed.finish_check(closed.begin_check(art(src), "bc-85x55", BC, V))
    assert not as_is and report.findings[0].check == "checker"
    assert report.findings[0].message == (
        "the PDF checker could not run (PdfWorker is closed): a fault of the daemon, not of the PDF (the daemon's "
        "log says more)"
    )


def test_a_worker_left_big_after_a_call_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python rarely gives memory back: a worker whose RSS stays high after a job is retired and a
    fresh one takes the next call."""
    import spo_hotfolder.pdfwork as pdfwork

    src = make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 2)
    with PdfWorker(timeout_seconds=30, memory_limit_bytes=None) as worker:
        assert worker.wait_ready(30)
        first = worker._worker_pids()
        monkeypatch.setattr(pdfwork, "RECYCLE_RSS_BYTES", 0)  # every worker counts as big
        assert worker.preflight(art(src), "bc-85x55", BC, V).ok
        second = worker._worker_pids()
        assert second and second != first
        for pid in first:  # the retired worker exits on its own (its pipe was closed)
            with pytest.raises(ProcessLookupError):
                for _ in range(50):
                    os.kill(pid, 0)
                    time.sleep(0.1)
        assert worker.preflight(art(src), "bc-85x55", BC, V).ok


def test_a_linked_output_is_renamed_then_fsynced_with_its_folder(
    tmp_path: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One journal commit for a linked output: the file's fsync comes after the rename (it then
    commits the link, the mode and the rename), and the folder's fsync last."""
    ready = make_pdf(tmp_path / "ready.pdf", [(91, 61)], trimbox=(3, 3, 88, 58))
    dest = out_dir / "o.pdf"
    seen: list[tuple[str, bool]] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        target = str(Path(f"/proc/self/fd/{fd}").readlink())
        seen.append((target, dest.exists()))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    link_unchanged(art(ready)[0], str(dest), 1)
    assert seen == [(str(dest), True), (str(out_dir), True)]
    assert dest.stat().st_ino == ready.stat().st_ino and leftovers(out_dir) == []


def test_the_output_of_an_artwork_the_daemon_does_not_own_is_its_own_copy(
    tmp_path: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Uploaded over a share, the artwork belongs to the operator's user, and the daemon cannot take
    its write bits away: a link would let a save over output/ destroy the artwork as received
    (audit BR 1). The output is then a copy, the daemon's own."""
    ready = make_pdf(tmp_path / "ready.pdf", [(91, 61)], trimbox=(3, 3, 88, 58))
    received = ready.read_bytes()
    owner = ready.stat().st_uid
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1)  # the daemon runs as another, unprivileged user
    dest = out_dir / "o.pdf"
    result = link_unchanged(art(ready)[0], str(dest), 1)
    assert result.copied_unchanged and result.size_bytes == len(received)
    assert dest.stat().st_ino != ready.stat().st_ino and dest.read_bytes() == received
    assert leftovers(out_dir) == []
    dest.write_bytes(b"%PDF-1.4 saved over by the operator")
    assert ready.read_bytes() == received, "the artwork as received is untouched"


def test_a_linked_output_replaces_a_leftover_temp_name_of_a_dead_process(tmp_path: Path, out_dir: Path) -> None:
    ready = make_pdf(tmp_path / "ready.pdf", [(91, 61)], trimbox=(3, 3, 88, 58))
    from spo_hotfolder import outputfile

    stale = out_dir / f".o.pdf.{os.getpid()}-{next(outputfile._TEMP_IDS) + 1}.tmp"
    stale.write_bytes(b"half")
    link_unchanged(art(ready)[0], str(out_dir / "o.pdf"), 1)
    assert (out_dir / "o.pdf").read_bytes() == ready.read_bytes() and leftovers(out_dir) == []


def test_a_linked_output_made_again_over_itself_leaves_no_temp_name(tmp_path: Path, out_dir: Path) -> None:
    """A crash after the rename but before OutputCreated leaves dest already linked to the
    artwork; renaming another link of the same file onto it does nothing (POSIX), so the temp
    name must be removed by hand (found by the SIGKILL rounds of test_crash)."""
    ready = make_pdf(tmp_path / "ready.pdf", [(91, 61)], trimbox=(3, 3, 88, 58))
    dest = out_dir / "o.pdf"
    link_unchanged(art(ready)[0], str(dest), 1)
    link_unchanged(art(ready)[0], str(dest), 1)
    assert dest.stat().st_ino == ready.stat().st_ino and leftovers(out_dir) == []


def test_a_pdf_pypdf_must_mend_is_written_anew_and_the_operator_told(tmp_path: Path) -> None:
    """A wrong startxref (or junk before %PDF): readable, but what was read may not be what was
    sent, so it fails preflight by default (validation.checks.repaired: error). Set to warning, it
    passes with a warning, and the output is written anew, never passed on byte for byte."""
    import logging
    import re

    boxed = {"trimbox": (3, 3, 88, 58), "bleedbox": (0, 0, 91, 61)}  # nothing to add: as it is, if sound
    art = make_pdf(tmp_path / "card.pdf", [(91, 61)] * 2, **boxed)
    art.write_bytes(re.sub(rb"startxref\s+\d+", b"startxref\n99", art.read_bytes()))
    inputs = [ArtworkInput("card.pdf", str(art))]
    spec = ProductSpec("bc-*", (85.0, 55.0), 3.0, 2)
    accept = ValidationConfig(checks={**DEFAULT_SEVERITY, "repaired": "warning"})
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # quiet by config: still caught
    try:
        refused, as_is = check(inputs, "bc-85x55", spec, ValidationConfig())
        assert not refused.ok and not as_is
        [error] = refused.findings
        assert (error.check, error.severity) == ("repaired", "error")
        assert "could be read only by repairing it, so what was read may not be what was sent" in error.message
        report, as_is = check(inputs, "bc-85x55", spec, accept)
    finally:
        logging.getLogger("pypdf").setLevel(logging.NOTSET)
    assert report.ok and not as_is
    [finding] = report.findings
    assert (finding.check, finding.severity, finding.file) == ("repaired", "warning", "card.pdf")
    assert finding.message.startswith("artwork 'card.pdf' is damaged (") and "check the output" in finding.message
    result = build_output(inputs, str(tmp_path / "out.pdf"), spec, accept)
    assert not result.copied_unchanged and result.pages == 2
    mended = (tmp_path / "out.pdf").read_bytes()
    assert mended != art.read_bytes()
    offset = int(re.findall(rb"startxref\s+(\d+)", mended)[-1])
    assert mended[offset : offset + 4] == b"xref", "the output's startxref points at its xref table"
    # A sound file is still passed on as it is.
    sound = make_pdf(tmp_path / "sound.pdf", [(91, 61)] * 2, **boxed)
    report, as_is = check([ArtworkInput("sound.pdf", str(sound))], "bc-85x55", spec, ValidationConfig())
    assert report.findings == () and as_is


def slow_output(*args: object) -> str:
    """Stands in for the output writer in the worker process: an output that takes 0.7 s."""
    time.sleep(0.7)
    return "made"


def test_the_caller_goes_on_while_the_worker_makes_an_output(
    worker: PdfWorker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setattr(pdfwork_module, "_build_output", slow_output)  # sent by reference: importable there
    ticks: list[float] = []
    art = make_pdf(tmp_path / "a.pdf")
    result = worker.build_output(
        [ArtworkInput("a.pdf", str(art))],
        str(tmp_path / "out.pdf"),
        None,
        ValidationConfig(),
        while_waiting=lambda: ticks.append(time.monotonic()),
    )
    assert result == "made"
    assert len(ticks) >= 2, ticks  # every 0.2 s of (at least) 0.7 s


def test_the_pipe_to_a_worker_is_closed_once_when_two_threads_kill_it() -> None:
    """close() from another thread and the calling thread's own kill met: both closed the pipe's fd
    number, and the second close hit the file that had taken that number meanwhile (a PDF being
    checked: 'damaged and cannot be read')."""
    worker = PdfWorker(timeout_seconds=10, memory_limit_bytes=None)
    try:
        assert worker.wait_ready(30)
        proc = worker._proc
        assert proc is not None
        closes = []
        real_close = proc.conn._close  # type: ignore[attr-defined]

        def slow_close() -> None:
            closes.append(1)
            time.sleep(0.2)  # the other thread arrives while this one is closing
            real_close()

        proc.conn._close = slow_close  # type: ignore[attr-defined]
        threads = [threading.Thread(target=proc.kill) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert closes == [1]
    finally:
        worker.close()


def test_a_worker_whose_daemon_is_gone_exits_quietly() -> None:
    """After a kill -9 of the daemon, the worker's answer met a closed pipe: multiprocessing printed
    a plain-text traceback on the log's stream, where every line must be one JSON object, and the
    worker ended with exit code 1 (0 now: it leaves without a word)."""
    worker = PdfWorker(timeout_seconds=10, memory_limit_bytes=None)
    try:
        assert worker.wait_ready(30)
        proc = worker._proc
        assert proc is not None
        worker._send(("a check", "test"), time.sleep, 0.3)
        proc._close_pipe()  # the daemon's end is gone while the worker works
        proc.process.join(10)
        assert proc.process.exitcode == 0
    finally:
        worker.close()


def _catalog(path: Path) -> tuple[set[str], list[str], list[str]]:
    """The catalog's keys, the names of all layers, and the names of the layers hidden by default."""
    with open(path, "rb") as fh:
        reader = PdfReader(fh, strict=True)
        root = reader.root_object
        props = root.get("/OCProperties")
        names = [str(o.get_object()["/Name"]) for o in props["/OCGs"]] if props else []
        off = [str(o.get_object()["/Name"]) for o in props["/D"].get("/OFF", [])] if props else []
        return set(root.keys()), names, off


def test_boxes_added_to_a_layered_file_keep_its_hidden_layers_output_intent_and_metadata(
    tmp_path: Path, out_dir: Path
) -> None:
    """Audit U: the rewrite copied pages only, so a die line on a hidden layer printed, and PDF/X
    output intents and XMP were lost, for the most common file: trim + bleed, no TrimBox. Now the
    file is kept byte for byte and an incremental update adds the boxes."""
    src = make_layered_pdf(tmp_path / "layered.pdf", (91, 61))
    dest = out_dir / "o.pdf"
    result = build_output(art(src), str(dest), BC, V)
    assert not result.copied_unchanged
    original = src.read_bytes()
    assert dest.read_bytes().startswith(original), "the artwork's bytes come first, unchanged"
    keys, layers, hidden = _catalog(dest)
    assert {"/OCProperties", "/OutputIntents", "/Metadata"} <= keys
    assert layers == ["Dieline"] and hidden == ["Dieline"]
    assert boxes_mm(dest) == [
        {"/MediaBox": [0.0, 0.0, 91.0, 61.0], "/TrimBox": [3.0, 3.0, 88.0, 58.0], "/BleedBox": [0.0, 0.0, 91.0, 61.0]}
    ]
    assert result.pages == 1 and result.sha256 == hashlib.sha256(dest.read_bytes()).hexdigest()


def test_merged_files_keep_the_hidden_layers_of_every_file(tmp_path: Path, out_dir: Path) -> None:
    front = make_layered_pdf(tmp_path / "front.pdf", (91, 61), layer="Die front")
    back = make_layered_pdf(tmp_path / "back.pdf", (91, 61), layer="Die back")
    dest = out_dir / "o.pdf"
    build_output(art(front, back), str(dest), BC, V)
    keys, layers, hidden = _catalog(dest)
    assert {"/OCProperties", "/OutputIntents", "/Metadata"} <= keys
    assert layers == ["Die front", "Die back"] and hidden == ["Die front", "Die back"]
    with open(dest, "rb") as fh:
        reader = PdfReader(fh, strict=True)
        for page, name in zip(reader.pages, ("Die front", "Die back"), strict=True):
            ocg = page["/Resources"]["/Properties"]["/oc1"].get_object()
            assert str(ocg["/Name"]) == name
            assert ocg.indirect_reference in [o for o in reader.root_object["/OCProperties"]["/D"]["/OFF"]]


def test_the_trim_added_is_the_products_centred_in_the_page(tmp_path: Path, out_dir: Path) -> None:
    """Audit U: a page 1 mm over trim + 2 x bleed got a TrimBox 1 mm too big (inset by the bleed)."""
    src = make_pdf(tmp_path / "big.pdf", [(92, 62), (90.4, 60.4)])
    dest = out_dir / "o.pdf"
    build_output(art(src), str(dest), BC, V)
    assert boxes_mm(dest) == [
        {"/MediaBox": [0.0, 0.0, 92.0, 62.0], "/TrimBox": [3.5, 3.5, 88.5, 58.5], "/BleedBox": [0.5, 0.5, 91.5, 61.5]},
        {"/MediaBox": [0.0, 0.0, 90.4, 60.4], "/TrimBox": [2.7, 2.7, 87.7, 57.7], "/BleedBox": [0.0, 0.0, 90.4, 60.4]},
    ]


def test_a_linked_output_leaves_the_artworks_mode_alone(
    tmp_path: Path, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit W: the output of a print-ready job is the artwork file itself; changing its mode failed
    with EPERM when the file belonged to the operator who uploaded it (the daemon runs as its own
    account), and the job failed "no permission to write in output/"."""
    import spo_hotfolder.outputfile as outputfile_module

    def refused(fd: int, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    src = make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58))
    src.chmod(0o664)
    monkeypatch.setattr(outputfile_module.os, "fchmod", refused)
    result = link_unchanged(art(src)[0], str(out_dir / "o.pdf"), 2)
    assert os.path.samefile(src, out_dir / "o.pdf") and result.copied_unchanged
    assert stat.S_IMODE(src.stat().st_mode) == 0o664


def test_merged_files_keep_the_intents_their_hidden_layers_need(tmp_path: Path, out_dir: Path) -> None:
    """Audit (output fidelity): a die line of /Intent /Design, OFF in a default view of /Intent
    [/View /Design], lost that view's /Intent in a merge: the merged view then decided /View
    layers only, and a reader that honours intents (Acrobat, Adobe's print engine) shows the die
    line. The merged view's /Intent is every file's."""
    design = make_layered_pdf(tmp_path / "a.pdf", (91, 61), layer="Die", view="design")
    plain = make_layered_pdf(tmp_path / "b.pdf", (91, 61), layer="Plain", view="off")
    for files, expected in (((design, plain), ["/View", "/Design"]), ((plain, design), ["/View", "/Design"])):
        dest = out_dir / "o.pdf"
        build_output(art(*files), str(dest), BC, V)
        with open(dest, "rb") as fh:
            view = PdfReader(fh, strict=True).root_object["/OCProperties"]["/D"]
            assert [str(i) for i in view["/Intent"]] == expected
    for files in ((plain,), (plain, plain)):  # /View only: no /Intent written (the default)
        dest = out_dir / "o.pdf"
        build_output(art(*files, make_pdf(tmp_path / "c.pdf", [(91, 61)])), str(dest), BC, V)
        with open(dest, "rb") as fh:
            assert "/Intent" not in PdfReader(fh, strict=True).root_object["/OCProperties"]["/D"]


def test_merged_layers_keep_each_files_own_visibility(tmp_path: Path, out_dir: Path) -> None:
    """Audit W: the first file's /BaseState /OFF hid the second file's visible layer (artwork gone
    from print), and a layer set never to print (/AS, /Print) lost that setting."""
    base_off = make_layered_pdf(tmp_path / "a.pdf", (91, 61), layer="A shown", view="base-off")
    shown = make_layered_pdf(tmp_path / "b.pdf", (91, 61), layer="B shown", view="on")
    never = make_layered_pdf(tmp_path / "c.pdf", (91, 61), layer="C die", view="print-never")
    dest = out_dir / "o.pdf"
    build_output(art(base_off, shown, never), str(dest), BC, V)
    _keys, layers, hidden = _catalog(dest)
    assert layers == ["A shown", "B shown", "C die"] and hidden == []
    with open(dest, "rb") as fh:
        view = PdfReader(fh, strict=True).root_object["/OCProperties"]["/D"]
        assert "/BaseState" not in view
        [usage] = view["/AS"]
        assert usage["/Event"] == "/Print" and [str(o.get_object()["/Name"]) for o in usage["/OCGs"]] == ["C die"]
    # A file whose base state hides what it does not list ON keeps it hidden, whatever comes after.
    hidden_too = make_layered_pdf(tmp_path / "d.pdf", (91, 61), layer="D hidden", view="off")
    build_output(art(shown, hidden_too), str(out_dir / "o2.pdf"), BC, V)
    assert _catalog(out_dir / "o2.pdf")[2] == ["D hidden"]


def test_a_worker_killed_by_sigkill_is_not_said_to_have_passed_its_memory_limit() -> None:
    """Audit AE: a worker killed by a person (or the system's OOM killer) was said to have run out of
    memory "(more than 2.0 GiB)": our limit makes allocations fail, it never kills."""
    from spo_hotfolder.pdfwork import _crash_message

    text = _crash_message("the PDF check", [-9], " (more than 2.0 GiB)")
    assert text.startswith("the PDF check crashed: its process was killed (signal 9), by the system when the machine")
    assert "2.0 GiB" not in text and "drop RETRY" in text


def test_pypdf_warnings_in_the_worker_name_the_artwork_file(tmp_path: Path) -> None:
    """Audit AZ 7: `{"event": "incorrect startxref pointer(2)", "logger": "pypdf._reader"}` said
    nothing of the job or file; with several jobs an operator could not tell which PDF it was.
    (In a process of its own: the worker's output goes where its fork server's stdout goes, which
    in this test process is wherever an earlier test left it.)"""
    import json
    import subprocess
    import sys

    data = make_pdf(tmp_path / "ok.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58)).read_bytes()
    cut = data.rindex(b"startxref")
    src = tmp_path / "job-7" / "artwork" / "sx.pdf"
    src.parent.mkdir(parents=True)
    src.write_bytes(data[:cut] + b"startxref\n1\n%%EOF\n")
    script = (
        "import sys\n"
        "from spo_hotfolder.logsetup import setup_logging\n"
        "from spo_hotfolder.pdfwork import PdfWorker\n"
        "from spo_hotfolder.preflight import ArtworkInput\n"
        "from spo_hotfolder.config import ValidationConfig\n"
        "setup_logging('info', 'json', sys.stdout)\n"
        "with PdfWorker(timeout_seconds=30.0, memory_limit_bytes=None) as worker:\n"
        f"    report, _ = worker.check([ArtworkInput('sx.pdf', {str(src)!r})], 'bc', None, ValidationConfig())\n"
        "print('CHECKS', [f.check for f in report.findings], flush=True)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "CHECKS ['repaired']" in result.stdout
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    pypdf_lines = [line for line in lines if line.get("logger", "").startswith("pypdf")]
    assert pypdf_lines and all(line["artwork"] == [str(src)] for line in pypdf_lines), result.stdout


def test_a_pdf_ending_in_further_eof_markers_goes_out_as_it_is(tmp_path: Path) -> None:
    """Audit BC 6: further %%EOF markers after the last revision (some producers add them) are not
    damage: the file passes and is passed on byte for byte, not failed or written anew."""
    boxed = {"trimbox": (3, 3, 88, 58), "bleedbox": (0, 0, 91, 61)}
    art = make_pdf(tmp_path / "card.pdf", [(91, 61)] * 2, **boxed)
    art.write_bytes(art.read_bytes() + b"\n%%EOF\n")
    inputs = [ArtworkInput("card.pdf", str(art))]
    spec = ProductSpec("bc-*", (85.0, 55.0), 3.0, 2)
    report, as_is = check(inputs, "bc-85x55", spec, ValidationConfig())
    assert (report.ok, report.findings, as_is) == (True, (), True)
    result = build_output(inputs, str(tmp_path / "out.pdf"), spec, ValidationConfig())
    assert result.copied_unchanged and (tmp_path / "out.pdf").read_bytes() == art.read_bytes()


def test_boxes_added_to_a_pdf_with_object_streams_keep_its_cross_reference_streams(tmp_path: Path) -> None:
    """Audit BI 1: a PDF saved with object streams (qpdf --object-streams=generate, Acrobat's PDF
    1.5+ saves) indexed by a cross-reference stream got its TrimBox in an update that ended with a
    classic xref table chaining to that stream: Ghostscript (the interpreter of many RIPs) printed
    no page of it. The update's index is a cross-reference stream too."""
    import re
    import shutil
    import subprocess

    art = make_object_stream_pdf(tmp_path / "card.pdf", [(91.0, 61.0)] * 2)  # trim + bleed, no TrimBox
    spec = ProductSpec("bc-*", (85.0, 55.0), 3.0, 2)
    result = build_output([ArtworkInput("card.pdf", str(art))], str(tmp_path / "out.pdf"), spec, ValidationConfig())
    data = (tmp_path / "out.pdf").read_bytes()
    assert not result.copied_unchanged and data.startswith(art.read_bytes())
    xref_at = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    assert re.match(rb"\d+ 0 obj\s*<<[^>]*/Type\s*/XRef", data[xref_at:]), data[xref_at : xref_at + 200]
    assert len(PdfReader(tmp_path / "out.pdf", strict=True).pages) == 2
    assert [b["/TrimBox"] for b in boxes_mm(tmp_path / "out.pdf")] == [[3.0, 3.0, 88.0, 58.0]] * 2
    if shutil.which("qpdf"):
        subprocess.run(["qpdf", "--check", str(tmp_path / "out.pdf")], check=True, capture_output=True)
    if shutil.which("gs"):
        run = subprocess.run(
            ["gs", "-dNOPAUSE", "-dBATCH", "-sDEVICE=nullpage", str(tmp_path / "out.pdf")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Processing pages 1 through 2." in run.stdout and "Error" not in run.stdout + run.stderr, run.stdout
    # A file with a classic xref table still gets a table.
    classic = make_pdf(tmp_path / "classic.pdf", [(91.0, 61.0)] * 2)
    build_output([ArtworkInput("classic.pdf", str(classic))], str(tmp_path / "out2.pdf"), spec, ValidationConfig())
    data = (tmp_path / "out2.pdf").read_bytes()
    assert data[int(re.findall(rb"startxref\s+(\d+)", data)[-1]) :].startswith(b"xref")


def test_a_box_update_never_renumbers_an_object_of_the_file(tmp_path: Path) -> None:
    """Audit BM 1: a file whose /Size says fewer objects than it has (qpdf only warns, readers read
    it) got the update's cross-reference stream numbered from /Size, the number of one of its own
    objects: readers took the stream for that object (a card's page content: a blank card)."""
    import re

    art = make_object_stream_pdf(tmp_path / "card.pdf", [(91.0, 61.0)])  # 1-3 in stream 4, xref stream 5
    data = art.read_bytes()
    base_xref = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    # An update that gives the page (3) content (6), indexed by a stream (7) whose /Size says 3.
    page_at = len(data)
    data += (
        b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 257.9528 172.9134] /Resources << >> "
        b"/Contents 6 0 R >>\nendobj\n"
    )
    content_at = len(data)
    drawing = b"1 0 0 rg 20 20 200 120 re f"
    data += b"6 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (len(drawing), drawing)
    xref_at = len(data)
    rows = [(page_at, 0), (content_at, 0), (xref_at, 0)]
    table = b"".join(b"\x01" + a.to_bytes(4, "big") + b.to_bytes(2, "big") for a, b in rows)
    data += (
        b"7 0 obj\n<< /Type /XRef /Size 3 /Index [3 1 6 2] /W [1 4 2] /Root 1 0 R /Prev %d /Length %d >>\n"
        b"stream\n%s\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % (base_xref, len(table), table, xref_at)
    )
    art.write_bytes(data)
    spec = ProductSpec("bc-*", (85.0, 55.0), 3.0, None)
    build_output([ArtworkInput("card.pdf", str(art))], str(tmp_path / "out.pdf"), spec, ValidationConfig())
    out = (tmp_path / "out.pdf").read_bytes()
    xref_at = int(re.findall(rb"startxref\s+(\d+)", out)[-1])
    number = int(out[xref_at:].split()[0])
    assert number >= 8, f"the update's stream is object {number}, one of the file's own"
    reader = PdfReader(tmp_path / "out.pdf")
    assert reader.get_object(3)["/Type"] == "/Page"  # type: ignore[index]
    assert [b["/TrimBox"] for b in boxes_mm(tmp_path / "out.pdf")] == [[3.0, 3.0, 88.0, 58.0]]


def test_a_page_listed_twice_in_the_page_tree_is_written_once_in_the_box_update(tmp_path: Path) -> None:
    """Audit BM 3: one page object listed twice in /Kids (both sides of a card from one page) was
    written twice into the update, one object defined twice in one revision."""
    from pypdf import PdfWriter
    from pypdf.generic import NameObject, NumberObject

    writer = PdfWriter()
    writer.add_blank_page(width=91 / 25.4 * 72, height=61 / 25.4 * 72)
    tree = writer._root_object["/Pages"]  # (building the odd file itself)
    tree["/Kids"].append(tree["/Kids"][0])  # type: ignore[index,union-attr]
    tree[NameObject("/Count")] = NumberObject(2)  # type: ignore[index]
    art = tmp_path / "twice.pdf"
    writer.write(art)
    assert len(PdfReader(art).pages) == 2
    spec = ProductSpec("bc-*", (85.0, 55.0), 3.0, 2)
    build_output([ArtworkInput("twice.pdf", str(art))], str(tmp_path / "out.pdf"), spec, ValidationConfig())
    update = (tmp_path / "out.pdf").read_bytes()[art.stat().st_size :]
    assert update.count(b" 0 obj") == 1, update.decode("latin-1")
    assert [b["/TrimBox"] for b in boxes_mm(tmp_path / "out.pdf")] == [[3.0, 3.0, 88.0, 58.0]] * 2


def test_the_permissions_warning_says_when_the_output_is_written_without_them(tmp_path: Path) -> None:
    """Audit BM 4, BN 2: an owner-password file that allows only low-quality printing warned "a RIP
    that honours them may print it degraded" also where the output is written anew, unencrypted."""
    from pypdf.constants import UserAccessPermissions as P

    low = P.all() & ~P.PRINT_TO_REPRESENTATION
    spec = ProductSpec("bc-*", (85.0, 55.0), 3.0, 2)
    needs_boxes = make_pdf(tmp_path / "a.pdf", [(91, 61)] * 2, encrypt_owner="x", permissions=low)
    report, as_is = check([ArtworkInput("a.pdf", str(needs_boxes))], "bc-85x55", spec, ValidationConfig())
    [warning] = report.warnings()
    assert not as_is and warning.message == (
        "artwork 'a.pdf' allows only low-quality printing (its owner-password permissions); the output is written "
        "anew without its password, so no RIP holds it to them"
    )
    boxed = make_pdf(tmp_path / "b.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58), encrypt_owner="x", permissions=low)
    report, as_is = check([ArtworkInput("b.pdf", str(boxed))], "bc-85x55", spec, ValidationConfig())
    [warning] = report.warnings()
    assert as_is and warning.message.endswith("may print it degraded"), "passed on as it is, encrypted"


def test_layers_that_read_the_same_in_two_merged_files_stay_two_layers_to_every_reader(tmp_path: Path) -> None:
    """Audit BM 2: front and back from one template each have a hidden "Dieline" layer that reads
    the same; merged, MuPDF 1.21 took the back's (listed OFF) for the front's and showed the die
    line. A later file's layer that reads like an earlier one's gets its own creator information
    (no effect on viewing or printing): the names and the default view are as they were."""
    import shutil
    import subprocess

    art = make_layered_pdf(tmp_path / "side.pdf", (91.0, 61.0))
    inputs = [ArtworkInput("front.pdf", str(art)), ArtworkInput("back.pdf", str(art))]
    build_output(inputs, str(tmp_path / "out.pdf"), None, ValidationConfig())
    reader = PdfReader(tmp_path / "out.pdf")
    props = reader.root_object["/OCProperties"]
    layers = [o.get_object() for o in props["/OCGs"]]  # type: ignore[index]
    assert [str(layer["/Name"]) for layer in layers] == ["Dieline", "Dieline"]
    assert "/Usage" not in layers[0]
    assert layers[1]["/Usage"]["/CreatorInfo"]["/Creator"] == "spo-hotfolder: file 2 of the output, back.pdf"
    off = [o.idnum for o in props["/D"]["/OFF"]]  # type: ignore[index]
    assert off == [o.idnum for o in props["/OCGs"]]  # type: ignore[index]
    if shutil.which("mutool"):
        shown = subprocess.run(
            ["mutool", "draw", "-Y", "-o", "/dev/null", str(tmp_path / "out.pdf")], capture_output=True, text=True
        )
        assert "(on): Dieline" not in shown.stdout + shown.stderr, shown.stdout + shown.stderr


def test_a_box_update_with_a_table_says_the_size_the_file_has(tmp_path: Path) -> None:
    """Audit BN 4: a file with an xref table whose /Size says fewer objects than it has got an
    update whose trailer said the same (qpdf: "reported number of objects ... is not one plus the
    highest object number"). It says one more than the highest object number."""
    import re

    art = make_pdf(tmp_path / "card.pdf", [(91.0, 61.0)])
    data = art.read_bytes()
    size = int(re.findall(rb"/Size (\d+)", data)[-1])
    art.write_bytes(data.replace(b"/Size %d" % size, b"/Size 3"))
    spec = ProductSpec("bc-*", (85.0, 55.0), 3.0, None)
    build_output([ArtworkInput("card.pdf", str(art))], str(tmp_path / "out.pdf"), spec, ValidationConfig())
    update = (tmp_path / "out.pdf").read_bytes()[art.stat().st_size :]
    assert update.count(b"xref") == 2 and int(re.findall(rb"/Size (\d+)", update)[-1]) == size


def _slow_warm_up() -> int:
    import os
    import time

    time.sleep(1.5)
    return os.getpid()


def test_a_warm_up_answered_late_is_not_taken_for_the_first_checks_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit CZ 1: the first worker's warm-up answered after the start stopped waiting for it (a
    slow machine): its answer stayed in the pipe, the first check got it (an internal error), and
    each later call the answer of the one before (a damaged PDF passed with a good one's report and
    was printed)."""
    monkeypatch.setattr(pdfwork_module, "_warm_up", _slow_warm_up)
    monkeypatch.setattr(pdfwork_module, "WARM_UP_WAIT", 0.2)
    ready = make_pdf(tmp_path / "ready.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58))
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(b"%PDF-1.4\nnot a pdf at all\n")
    worker = PdfWorker(memory_limit_bytes=None, start_method="fork")  # (forked from a test process of any size)
    try:
        assert worker.wait_ready(30)
        for path in (ready, damaged, ready):
            assert worker.check(art(path), "bc-85x55", BC, V) == check(art(path), "bc-85x55", BC, V)
    finally:
        worker.close()


def test_a_pdf_whose_page_content_is_damaged_is_written_anew_where_repaired_is_a_warning(tmp_path: Path) -> None:
    """Review EA 3: with validation.checks.repaired: warning, a file whose page content does not
    decode (damage preflight finds; the output's reading does not decode content) went to the
    printer byte for byte, a link to the artwork, where README promises it is written anew."""
    boxed = {"trimbox": (3, 3, 88, 58), "bleedbox": (0, 0, 91, 61)}  # (nothing to add: it would be linked)
    sound = make_pdf(tmp_path / "sound.pdf", [(91, 61)], **boxed)
    corrupt = make_damaged_content_pdf(tmp_path / "corrupt.pdf", "corrupt", [(91.0, 61.0)])
    inputs = [ArtworkInput("corrupt.pdf", str(corrupt))]
    spec = ProductSpec("bc-*", (85.0, 55.0), 3.0, 1)
    accept = ValidationConfig(checks={**DEFAULT_SEVERITY, "repaired": "warning", "trim": "warning", "bleed": "warning"})
    report, as_is = check(inputs, "bc-85x55", spec, accept)
    assert report.ok and not as_is and any(f.check == "repaired" for f in report.findings)
    result = build_output(inputs, str(tmp_path / "out.pdf"), spec, accept, repaired=True)
    assert not result.copied_unchanged and result.pages == 1
    assert (tmp_path / "out.pdf").stat().st_ino != corrupt.stat().st_ino
    assert (tmp_path / "out.pdf").read_bytes() != corrupt.read_bytes()
    assert build_output(
        [ArtworkInput("sound.pdf", str(sound))], str(tmp_path / "sound-out.pdf"), spec, accept
    ).copied_unchanged, "a sound file is passed on as it is"


@pytest.mark.parametrize("info", [b"/Info 1 0 R", b"/Info 2 0 R"])
def test_a_pdf_whose_info_is_its_catalog_or_page_tree_is_written_anew(tmp_path: Path, info: bytes) -> None:
    """Review ED D4: corpus 023-cmyk-image's trailer /Info is its /Pages node (or, made so, the
    catalog): it passed and was linked as it came, and Ghostscript 10 cannot open it ("circular
    reference", no page, exit 0). Such a file is written anew, with an /Info of its own."""
    draw = b"0 0 1 rg 10 10 100 100 re f"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 257.95 172.91] /Contents 4 0 R >>",
        b"<< /Length %d >>" % len(draw),
    ]
    pdf = make_raw_pdf(tmp_path / "odd.pdf", objects, trailer=info, streams={4: draw})
    inputs = [ArtworkInput("odd.pdf", str(pdf))]
    report, as_is = check(inputs, "poster-a1", None, V)
    assert report.ok and not as_is
    result = build_output(inputs, str(tmp_path / "out.pdf"), None, V)
    assert not result.copied_unchanged and result.pages == 1
    written = PdfReader(tmp_path / "out.pdf")
    kept = written.trailer.get("/Info")
    assert kept is None or ("/Kids" not in kept.get_object() and kept.get_object().get("/Type") is None)
    sound = make_raw_pdf(tmp_path / "sound.pdf", objects, streams={4: draw})
    assert check([ArtworkInput("sound.pdf", str(sound))], "poster-a1", None, V)[1], "a sound one is linked"


def test_the_second_files_bookmarks_and_links_lead_to_its_own_pages_where_names_clash(tmp_path: Path) -> None:
    """Review EA 1: a job of two files from one template (pdflatex's named destinations "page.1",
    "section.1" in both): the merged output's bookmarks and table-of-contents links of the second
    file led into the first file's pages (pypdf keeps the first of each name)."""
    src = CORPUS / "006-pdflatex-outline_pdflatex-outline.pdf"
    front, back = tmp_path / "front.pdf", tmp_path / "back.pdf"
    shutil.copyfile(src, front)
    shutil.copyfile(src, back)
    result = build_output(art(front, back), str(tmp_path / "out.pdf"), None, V)
    n = len(PdfReader(src).pages)
    assert result.pages == 2 * n
    out = PdfReader(tmp_path / "out.pdf")

    def leaves(items: list[Any]) -> list[Any]:
        return [leaf for item in items for leaf in (leaves(item) if isinstance(item, list) else [item])]

    marks = [out.get_destination_page_number(item) for item in leaves(out.outline)]
    assert len(marks) % 2 == 0 and marks[len(marks) // 2 :] == [page + n for page in marks[: len(marks) // 2]]
    names = out.named_destinations

    def targets(page_index: int) -> list[int]:
        found = []
        for annotation in out.pages[page_index].get("/Annots", []):
            action = annotation.get_object().get("/A")
            if action is not None and action.get_object().get("/S") == "/GoTo":
                found.append(out.get_destination_page_number(names[str(action.get_object()["/D"])]))
        return found

    assert targets(0) and targets(n) == [page + n for page in targets(0)], (targets(0), targets(n))


def test_a_link_to_a_place_in_another_file_keeps_its_name_where_names_clash(tmp_path: Path) -> None:
    """Review EE 5 (of EA 1's mend): the renaming of clashing destination names renamed the /D of a
    /GoToR link too, which names a place in another file (manual.pdf#page.1): it led nowhere."""
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    src = CORPUS / "006-pdflatex-outline_pdflatex-outline.pdf"
    front, back = tmp_path / "front.pdf", tmp_path / "back.pdf"
    shutil.copyfile(src, front)
    writer = PdfWriter(clone_from=PdfReader(src))
    remote = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([NumberObject(0), NumberObject(0), NumberObject(50), NumberObject(50)]),
            NameObject("/A"): DictionaryObject(
                {
                    NameObject("/S"): NameObject("/GoToR"),
                    NameObject("/F"): TextStringObject("manual.pdf"),
                    NameObject("/D"): TextStringObject("page.1"),
                }
            ),
        }
    )
    writer.pages[0][NameObject("/Annots")].get_object().append(writer._add_object(remote))
    with open(back, "wb") as fh:
        writer.write(fh)
    build_output(art(front, back), str(tmp_path / "out.pdf"), None, V)
    out = PdfReader(tmp_path / "out.pdf")
    n = len(PdfReader(src).pages)
    actions = [a.get_object()["/A"].get_object() for a in out.pages[n].get("/Annots", []) if "/A" in a.get_object()]
    assert [str(a["/D"]) for a in actions if a["/S"] == "/GoToR"] == ["page.1"]
    assert all(str(a["/D"]).startswith("2:") for a in actions if a["/S"] == "/GoTo")


def _gs_render(path: Path) -> bytes | None:
    """Ghostscript's pixels of every page of ``path`` (None where gs is not installed)."""
    import shutil
    import subprocess

    if not shutil.which("gs"):
        return None
    run = subprocess.run(
        ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=png16m", "-r50", "-sOutputFile=-", str(path)],
        capture_output=True,
        timeout=60,
        check=False,
    )
    return run.stdout


def test_boxes_added_to_a_hybrid_reference_pdf_are_written_into_a_new_file(tmp_path: Path) -> None:
    """Helper FE 1 (critical): a hybrid-reference PDF (a table whose trailer names a cross-reference
    stream, /XRefStm: Word's PDFs) whose page needed its boxes got an update whose trailer dropped
    /XRefStm: Ghostscript no longer found the objects kept in the object stream (the page's
    resources) and printed a blank card, where pdfinfo, STATUS.txt and viewers saw one good page.
    Carrying the key was no mend (review FG 2: Ghostscript then took a page kept in the stream
    without the update's boxes, and an older section's key named replaced objects): such a file's
    output is written anew."""
    import shutil
    import subprocess

    art = make_hybrid_pdf(tmp_path / "card.pdf")
    spec = ProductSpec("bc-*", (85.0, 55.0), 3.0, None)
    result = build_output([ArtworkInput("card.pdf", str(art))], str(tmp_path / "out.pdf"), spec, ValidationConfig())
    out = (tmp_path / "out.pdf").read_bytes()
    assert not result.copied_unchanged and not out.startswith(art.read_bytes())
    assert b"/XRefStm" not in out
    if shutil.which("gs"):  # (Ghostscript reads the page with its boxes)
        info = subprocess.run(
            ["gs", "-q", "-dNODISPLAY", "-dSAFER", "-dPDFINFO", str(tmp_path / "out.pdf")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "TrimBox" in info.stdout + info.stderr, info
    assert [b["/TrimBox"] for b in boxes_mm(tmp_path / "out.pdf")] == [[3.0, 3.0, 88.0, 58.0]]
    printed, expected = _gs_render(tmp_path / "out.pdf"), _gs_render(art)
    if printed is not None:
        assert printed and printed == expected, "Ghostscript prints the output otherwise than the artwork"


@pytest.mark.parametrize(
    "after", [b"\0" * 8, b"\x1a", b"%%EOF\n", b"\r\n--=_boundary--\r\n"], ids=["nuls", "ctrl-z", "eof-twice", "mail"]
)
def test_bytes_after_the_last_eof_neither_hide_nor_invent_a_table_update(tmp_path: Path, after: bytes) -> None:
    """Review FN 3: the check looked for the table update only in a file ending with ``startxref N
    %%EOF``: with bytes after it (NULs, a DOS Ctrl-Z, a second %%EOF) the file FE 2 showed
    Ghostscript printing no page of passed as it was, and was copied byte for byte into the hot
    folder. Readers find the last startxref whatever follows it, and so does the check now; a
    file with object streams and no such update, with the same bytes after it, passes."""
    hides = add_table_update(make_object_stream_pdf(tmp_path / "hides.pdf", [(85.0, 55.0)] * 2))
    hides.write_bytes(hides.read_bytes() + after)
    report, _ = check([ArtworkInput("hides.pdf", str(hides))], "bc-85x55", None, ValidationConfig())
    assert [f.severity for f in report.findings if f.check == "repaired"] == ["error"], report.findings
    good = make_object_stream_pdf(tmp_path / "good.pdf", [(85.0, 55.0)] * 2)
    good.write_bytes(good.read_bytes() + after)
    report, _ = check([ArtworkInput("good.pdf", str(good))], "bc-85x55", None, ValidationConfig())
    assert report.ok and not [f for f in report.findings if f.check == "repaired"], report.findings
    build_output([ArtworkInput("good.pdf", str(good))], str(tmp_path / "out.pdf"), None, ValidationConfig())
    printed = _gs_render(tmp_path / "out.pdf")
    if printed is not None:
        assert printed.count(b"\x89PNG") == 2, "Ghostscript does not print both pages of the output"


def test_artwork_whose_table_update_hides_its_object_streams_fails_the_check(tmp_path: Path) -> None:
    """Helper FE 2: artwork saved with object streams, then updated by an editor with a classic
    table chaining to the stream (the file audit BI 1 kept the daemon from writing): Ghostscript
    opens no page of it ("Couldn't initialise file") and exits 0, a blank print; pypdf, qpdf and
    viewers read it. The check says it is damaged (repaired: error by default); where repaired
    is a warning, the output is written anew, and Ghostscript prints every page."""
    art = add_table_update(make_object_stream_pdf(tmp_path / "card.pdf", [(85.0, 55.0)] * 2))
    inputs = [ArtworkInput("card.pdf", str(art))]
    report, _ = check(inputs, "bc-85x55", None, ValidationConfig())
    [finding] = [f for f in report.findings if f.check == "repaired"]
    assert finding.severity == "error" and "Ghostscript" in finding.message, finding
    lenient = ValidationConfig(checks={**DEFAULT_SEVERITY, "repaired": "warning"})
    report, as_is = check(inputs, "bc-85x55", None, lenient)
    assert report.ok and not as_is, report.findings
    build_output(inputs, str(tmp_path / "out.pdf"), None, lenient, repaired=True)  # (as the engine passes it)
    assert not (tmp_path / "out.pdf").read_bytes().startswith(art.read_bytes())
    printed = _gs_render(tmp_path / "out.pdf")
    if printed is not None:
        assert printed.count(b"\x89PNG") == 2, "Ghostscript does not print both pages of the output"
