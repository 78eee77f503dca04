"""Drop files whose names the daemon must not act on, or must read as another job's (white-box
audit CM of 2026-12-06): the engine in-process on real folders (the rig of test_engine_faults)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from spo_hotfolder.ledger import Stage
from spo_hotfolder.operator import Action
from tests.integration.test_engine_faults import CARD, Rig, _held, _held_with_two_files, rig_on
from tests.pdfs import make_pdf


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from rig_on(tmp_path)


def test_an_ignored_release_is_not_acted_on_beside_another_drop_file(rig: Rig) -> None:
    """Audit CM 1 (critical): a script's RELEASE.tmp (watch.ignore: an upload's name, never acted
    on), stopped before its `mv`, released the job as soon as another drop file in the folder was
    read (a RETRY, refused): the round that answers drop files listed the folder unfiltered."""
    r = rig
    job_id, folder = _held(r, "TMP")
    (folder / "RELEASE.tmp").write_text("scriptbot\n")
    r.run(steps=8)
    assert r.stage(job_id) is Stage.HELD
    (folder / "RETRY").write_text("bob\n")
    r.run(until=lambda: not (folder / "RETRY").exists(), steps=10)
    r.run(steps=8)
    assert r.stage(job_id) is Stage.HELD, r.statuses(job_id)
    assert not os.listdir(r.hot)
    assert (folder / "RELEASE.tmp").read_text() == "scriptbot\n"  # left to the upload that made it
    # The script's `mv` then acts, as it would have.
    os.replace(folder / "RELEASE.tmp", folder / "RELEASE")
    r.run(until=lambda: r.stage(job_id) is Stage.DONE, steps=20)
    assert [e.removed_by for e in r.job(job_id).history if e.status.value == "Blocked"] == ["scriptbot"]


def test_an_ignored_reject_does_not_hold_every_release_back(rig: Rig) -> None:
    """Audit CM 2: a REJECT.tmp left by a script (never acted on) refused every RELEASE for good,
    "a REJECT file (REJECT.tmp) is in the job's folder and is handled first; release again"."""
    r = rig
    job_id, folder = _held(r, "TRJ")
    (folder / "REJECT.tmp").write_text("scriptbot\n")
    r.run(steps=5)
    (folder / "RELEASE").write_text("alice\n")
    r.run(until=lambda: r.stage(job_id) is Stage.DONE, steps=30, dt=1.0)
    assert r.stage(job_id) is Stage.DONE, r.engine._last_action_of(job_id)


@pytest.mark.parametrize(("order_id", "dropped"), [("ABC", "RELEASE-ABD-1.txt"), ("JONES", "RELEASE-SMITH-1.txt")])
def test_a_release_named_for_another_lettered_job_is_refused(rig: Rig, order_id: str, dropped: str) -> None:
    """Audit CM 3: RELEASE-ABD-1.txt, meant for job ABD-1, dropped into ABC-1's folder released
    ABC-1 (a word before one of the job's numbers was read as a label, "order_2086")."""
    r = rig
    job_id, folder = _held(r, order_id)
    (folder / dropped).write_text("alice\n")
    r.run(until=lambda: not (folder / dropped).exists(), steps=10)
    r.run(steps=5)
    assert r.stage(job_id) is Stage.HELD
    assert not os.listdir(r.hot)
    answer = r.engine._last_action_of(job_id)
    assert "refused" in answer and dropped.split("-", 1)[1].removesuffix(".txt") in answer, answer


def test_an_artwork_named_like_a_drop_file_can_be_replaced(rig: Rig) -> None:
    """Audit CM 5: a job's artwork named release_v2.pdf (a legal name, read as a RELEASE's) could
    not be replaced at all: replace/release_v2.pdf and `spo-hotfolder replace` were refused as "a
    drop file", and with several files the name must match."""
    r = rig
    job_id = "AN-1"
    folder = _held_with_two_files(r, "AN", ("front.pdf", "release_v2.pdf"))
    make_pdf(r.tmp / "release_v2.pdf", pages=[(91.0, 61.0)], text_font=None)
    shutil.copyfile(r.tmp / "release_v2.pdf", folder / "replace" / "release_v2.pdf")
    r.run(until=lambda: "ArtworkUploaded" in r.statuses(job_id), steps=15)
    assert (folder / "artwork" / "release_v2.pdf").read_bytes() == (r.tmp / "release_v2.pdf").read_bytes()
    assert r.stage(job_id) is Stage.HELD  # blocked: it waits for its release, with the new output


@pytest.mark.parametrize("name", ["release.pdf", "Retry.pdf", "REJECT (2).pdf"])
def test_a_pdf_named_like_a_drop_file_is_a_replacement_and_a_drop_file_in_replace_is_said(rig: Rig, name: str) -> None:
    """Review FO 2: `replace JOB release.pdf` (a real PDF, a one-file job) was refused unread: "a drop
    file, and drop files go into the job's folder itself, one level up from replace/", a folder
    the operator of the command never used. A PDF is a replacement whatever its name; a drop file
    put into replace/ by mistake (not a PDF) is still told where it goes."""
    r = rig
    job_id, folder = _held(r, "DW")
    make_pdf(r.tmp / name, pages=CARD)
    result = r.engine.apply(job_id, Action.REPLACE, by="kim", note="", file=r.tmp / name)
    assert result.ok, result.message
    r.run(until=lambda: "ArtworkUploaded" in r.statuses(job_id), steps=15)
    (folder / "replace" / "RELEASE.txt").write_text("kim\n")
    r.run(until=lambda: not (folder / "replace" / "RELEASE.txt").exists(), steps=15)
    r.engine.flush_status()
    assert (
        "drop files go into the job's folder itself, one level up from replace/" in (folder / "STATUS.txt").read_text()
    )
    assert r.stage(job_id) is Stage.HELD


def test_a_release_while_a_folder_in_replace_holds_a_file_is_refused(rig: Rig) -> None:
    """Review FM 1: a folder holding the corrected PDF dragged onto replace/ (Finder, Explorer), then
    RELEASE: nothing in the folder is taken (as documented), and the release printed the old output,
    the PDF left in done/<job>/replace/fixed/ without a word. The release is refused, saying where
    the PDF is and what to do; moved up into replace/, it is taken, and a release then prints it."""
    r = rig
    job_id, folder = _held(r, "FD")
    (folder / "replace" / "fixed").mkdir()
    make_pdf(folder / "replace" / "fixed" / "FD.pdf", pages=CARD)
    (folder / "RELEASE").write_text("sue\n")
    r.run(until=lambda: not (folder / "RELEASE").exists(), steps=10)
    r.run(steps=3)
    assert r.stage(job_id) is Stage.HELD and not os.listdir(r.hot)
    r.engine.flush_status()
    assert (
        "replace/fixed/FD.pdf is in a folder inside replace/, where nothing is taken"
        in (folder / "STATUS.txt").read_text()
    )
    os.replace(folder / "replace" / "fixed" / "FD.pdf", folder / "replace" / "FD.pdf")
    (folder / "replace" / "fixed").rmdir()
    r.run(until=lambda: "ArtworkUploaded" in r.statuses(job_id) and r.stage(job_id) is Stage.HELD, steps=15)
    (folder / "RELEASE").write_text("sue\n")
    r.run(until=lambda: r.stage(job_id) is Stage.DONE, steps=15)


def _failed_blocked(r: Rig, order_id: str) -> tuple[str, Path]:
    make_pdf(r.inbox / f"{order_id}.pdf", pages=[(91.0, 61.0)])  # 1 page where bc-* wants 2: fails
    (r.inbox / f"{order_id}.yaml").write_text(
        f'order_id: "{order_id}"\nproduct: bc-85x55\nquantity: 1\nartwork: [{order_id}.pdf]\nblocked: true\n'
    )
    job_id = f"{order_id}-1"
    r.run(until=lambda: r.stage(job_id) is Stage.FAILED, steps=15)
    return job_id, r.root / "failed" / job_id


@pytest.mark.parametrize("release_first", [True, False])
def test_a_release_of_one_artwork_does_not_print_other_artwork_put_in_by_hand(rig: Rig, release_first: bool) -> None:
    """White-box audit CM 4 (critical): a blocked job failed its check; a RELEASE approving its
    artwork only ("artwork: <fingerprint>", STATUS.txt's line) was accepted; another PDF copied over
    artwork/ by hand, then RETRY: the other PDF was printed, nothing blocked it again."""
    r = rig
    job_id, folder = _failed_blocked(r, "NR")
    seen = re.search(r"Artwork fingerprint: ([0-9a-f]+)", (folder / "STATUS.txt").read_text())
    assert seen is not None

    def release() -> None:
        (folder / "RELEASE").write_text(f"alice\nartwork: {seen[1]}\n")
        r.run(until=lambda: not (folder / "RELEASE").exists(), steps=10)

    def edit() -> None:
        make_pdf(r.tmp / "other.pdf", pages=CARD)  # passes the check: nobody approved it
        shutil.copyfile(r.tmp / "other.pdf", folder / "artwork" / "NR.pdf")
        r.run(steps=3)

    for step in (release, edit) if release_first else (edit, release):
        step()
    (folder / "RETRY").write_text("bob\n")
    r.run(until=lambda: r.stage(job_id) is not Stage.FAILED, steps=20)
    r.run(steps=5)
    assert r.take_prints() == []
    assert r.stage(job_id) is Stage.HELD
    assert "approved artwork" in r.job(job_id).history[-1].detail or any(
        e.status.value == "Blocked" and e.removed_at is None and "approved artwork" in e.detail
        for e in r.job(job_id).history
    )


def test_a_reprint_with_new_artwork_is_not_held_by_the_earlier_deliverys_narrow_release(rig: Rig) -> None:
    """The other side of CM 4: the release that approved the first delivery's artwork only is that
    delivery's; a reprint (`reprint: true`, its own artwork, no block asked) goes out as any does."""
    r = rig
    job_id, folder = _held(r, "RP")
    seen = re.search(r"Artwork fingerprint: ([0-9a-f]+)", (folder / "STATUS.txt").read_text())
    assert seen is not None
    (folder / "RELEASE").write_text(f"alice\nartwork: {seen[1]}\n")
    r.run(until=lambda: r.stage(job_id) is Stage.DONE, steps=20)
    assert len(r.take_prints()) == 1
    make_pdf(r.inbox / "RP.pdf", pages=[(91.4, 61.4), (91.4, 61.4)])  # other artwork (within the tolerance)
    (r.inbox / "RP.yaml").write_text(
        'order_id: "RP"\nproduct: bc-85x55\nquantity: 1\nartwork: [RP.pdf]\nreprint: true\n'
    )
    r.run(until=lambda: "InHotFolder" in r.statuses(job_id)[-1:] and r.job(job_id).generation == 2, steps=30)
    assert len(r.take_prints()) == 1


def test_a_release_still_being_written_is_not_read_beside_another_drop_file(rig: Rig) -> None:
    """White-box audit CR 1 (critical): a RELEASE held open while its operator wrote it (its first
    line there, its "artwork: <fingerprint>" line not yet) was read as soon as another drop file of
    the job settled: a release of anything, and a replacement nobody had seen printed."""
    r = rig
    job_id, folder = _held(r, "SIB")
    r.engine.flush_status()
    seen = re.search(r"Artwork fingerprint: ([0-9a-f]+)", (folder / "STATUS.txt").read_text())
    assert seen is not None
    make_pdf(r.tmp / "B.pdf", pages=[(91.0, 61.0), (91.5, 61.0)])  # someone else's replacement
    shutil.copy(r.tmp / "B.pdf", folder / "replace" / "SIB.pdf")
    r.run(until=lambda: r.statuses(job_id).count("OutputCreated") == 2 and r.stage(job_id) is Stage.HELD, steps=20)
    with open(folder / "RELEASE.txt", "w") as fh:
        fh.write("alice\n")
        fh.flush()
        (folder / "RETRY.txt").write_text("bob\n")  # another drop file of the job, complete
        r.run(steps=6)
        fh.write(f"artwork: {seen[1]}\n")
    r.run(steps=8)
    r.run(steps=10, dt=2.0)
    assert r.take_prints() == []
    assert r.stage(job_id) is Stage.HELD


def test_a_job_folder_dragged_into_another_jobs_folder_does_not_leave_with_it(rig: Rig) -> None:
    """White-box audit CR 4: quarantine/NA-1 dragged into quarantine/NC-1/ (at its top, a slip of
    the mouse), then NC-1 released before the daemon looked at the folder: NA-1's folder went with
    NC-1 into done/ (to be deleted at retention), NA-1 held with no folder, its release refused."""
    from spo_hotfolder.operator import Action

    r = rig
    a, folder_a = _held(r, "NA")
    c, folder_c = _held(r, "NC")
    os.replace(folder_a, folder_c / a)
    assert r.engine.apply(c, Action.RELEASE, by="bob", note="").ok
    r.run(until=lambda: r.stage(c) is Stage.DONE, steps=20)
    assert (r.root / "quarantine" / a / "STATUS.txt").is_file()
    assert not (r.root / "done" / c / a).exists()
    assert r.engine.apply(a, Action.RELEASE, by="alice", note="").ok
    r.run(until=lambda: r.stage(a) is Stage.DONE, steps=20)
    assert sorted(r.take_prints()) == ["NA_NA-1_bc-85x55_x1.pdf", "NC_NC-1_bc-85x55_x1.pdf"]
