"""Drop-file parsing and the rules for which operator action is allowed in which state."""

from __future__ import annotations

from dataclasses import replace

import pytest

from spo_hotfolder.ledger import HistoryEntry, Job, Stage
from spo_hotfolder.operator import (
    UNREADABLE_NOTE,
    Action,
    DropNote,
    classify_drop,
    clean_name,
    clean_note,
    fingerprint,
    foreign_number,
    parse_drop,
    refusal,
)
from spo_hotfolder.status import JobStatus


@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("RELEASE", Action.RELEASE),
        ("release.txt", Action.RELEASE),
        ("Release.TXT", Action.RELEASE),
        ("RELEASE (2).txt", Action.RELEASE),
        ("release - Copy.txt", Action.RELEASE),
        ("REJECT", Action.REJECT),
        ("reject.md", Action.REJECT),
        ("RETRY.now", Action.RETRY),
        ("RELEASE.cli-123", Action.RELEASE),
    ],
)
def test_drop_names_any_case_any_extension(name: str, action: Action) -> None:
    assert classify_drop(name) is action


@pytest.mark.parametrize("name", ["released.txt", "prerelease", "notes.txt", "STATUS.txt", "ERROR.txt", "RELEASEX"])
def test_other_names_are_not_drop_files(name: str) -> None:
    assert classify_drop(name) is None


def test_first_line_is_the_operator_and_the_rest_a_note() -> None:
    note = parse_drop(b"alice\nchecked the bleed\nand the fonts\n")
    assert note.by == "alice"
    assert note.note == "checked the bleed and the fonts"
    assert note.artwork is None


def test_artwork_fingerprint_line_is_read_anywhere() -> None:
    note = parse_drop(b"bob\r\nartwork: 9F86D081AB12\r\nlooks good\r\n")
    assert (note.by, note.artwork, note.note) == ("bob", "9f86d081ab12", "looks good")
    assert parse_drop(b"artwork: abcdef\n").by is None
    # An empty first line: no name; what follows is the note, not the name.
    blank_first = parse_drop(b"\nnote only\n")
    assert (blank_first.by, blank_first.note) == (None, "note only")
    assert parse_drop(b"\r\n\r\nplease hold\r\n").by is None


@pytest.mark.parametrize(
    "data",
    [b"", b"\n\n", b"\x00\x01\x02binary", b"\xff\xfe\xfa", ("x" * 500).encode(), b"\x1b[31mred\x1b[0m\n"],
)
def test_junk_never_raises_and_gives_no_operator_name(data: bytes) -> None:
    note = parse_drop(data)
    assert note.by is None
    assert len(note.note) <= 500


def test_a_stray_nul_keeps_the_name_and_note_and_a_binary_file_gives_none() -> None:
    """Audit BQ 6: one NUL anywhere in the file made it "binary": a REJECT lost its reason."""
    note = parse_drop(b"carol\nwrong paper, call the customer\n\x00")
    assert (note.by, note.note) == ("carol", "wrong paper, call the customer")
    assert parse_drop(b"ca\x00rol\nnote\n").by == "carol"
    bom_less = "J\u00f6rg\nzu dunkel\n".encode("utf-16-le")  # UTF-16 without its BOM
    assert (parse_drop(bom_less).by, parse_drop(bom_less).note) == ("J\u00f6rg", "zu dunkel")
    assert parse_drop("Ann\n".encode("utf-16-be")).by == "Ann"
    # Audit CA 4: only the spaces and line breaks of Cyrillic or Chinese text have a NUL byte.
    for name, note in (("Иван Петров", "проверил макет"), ("张伟", "已检查"), ("Ivan", "проверил макет, печатать")):
        for encoding in ("utf-16-le", "utf-16-be"):
            found = parse_drop(f"{name}\n{note}\n".encode(encoding))
            assert (found.by, found.note) == (name, note), (encoding, found)
    assert parse_drop(b"%PDF-1.7\n\x00\x01\x02\x03\x04\x05\x06\x07\n") == DropNote(None, "", None)
    # Audit AL: a RELEASE saved by Word (release.docx) acted with no word that its text was lost.
    assert parse_drop(bytes(range(256)) * 4) == DropNote(None, UNREADABLE_NOTE, None)
    assert parse_drop(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" * 20).note == UNREADABLE_NOTE


def test_a_terminals_escape_codes_in_a_drop_file_are_removed_not_the_whole_text() -> None:
    """Audit BN: a RELEASE whose text held a terminal's colour codes was taken as a binary file:
    "[the file's text could not be read ...]", its name and note lost. README: a first line with
    characters that are not text is the note's (the name is then the file's owner)."""
    found = parse_drop(b"\x1b[31mAlice\x1b[0m\nfixed the \x1b[1mbleed\x1b[0m\n")
    assert (found.by, found.note) == (None, "Alice fixed the bleed")
    found = parse_drop(b"Alice\nfixed the \x1b[1mbleed\x1b[0m\n")
    assert (found.by, found.note) == ("Alice", "fixed the bleed")


def test_a_name_saved_by_an_older_notepad_is_kept() -> None:
    assert parse_drop(b"Jos\xe9\ncp1252 note\n").by == "Jos\u00e9"  # Windows-1252, not UTF-8
    assert parse_drop("Jos\u00e9\nnote\n".encode("utf-16")).by == "Jos\u00e9"  # Notepad's "Unicode"
    cut = "Jos\u00e9\n".encode() + b"x" * 16377 + "\u00e9 and more".encode()  # an \u00e9 cut by the 16 KiB read
    assert parse_drop(cut).by == "Jos\u00e9"
    # Audit (operator) 1: a name alone whose last letter is Windows-1252 was taken for a UTF-8
    # character cut short: the release was by "operator", its note "Jos?".
    for data in (b"Jos\xe9", b"Jos\xe9\r\n", b"Andr\xe9\n", b"M\xfcller\r\nok\r\n"):
        found = parse_drop(data)
        assert found.by == data.split(b"\r")[0].split(b"\n")[0].decode("cp1252") and found.note in ("", "ok"), data


@pytest.mark.parametrize(
    "line",
    [
        "Artwork fingerprint: 992F1C436816",  # STATUS.txt's own line, copied
        "fingerprint: 992f1c436816",
        "artwork 992f1c436816",
        "artwork - 992f1c",
        "artwork \u2013 992f1c",
        "992f1c436816",  # the fingerprint alone, as STATUS.txt shows it
    ],
)
def test_the_artwork_a_release_approves_is_read_as_operators_write_it(line: str) -> None:
    """Audit CC: a RELEASE naming the artwork seen as STATUS.txt shows it ("Artwork fingerprint:
    ..."), or without the ':', was read as a note: after a replacement, the release approved the
    new artwork, which that operator had never seen, and it printed."""
    note = parse_drop(f"alice\n{line}\nchecked\n".encode())
    assert (note.by, note.note) == ("alice", "checked"), note
    assert note.artwork is not None and "992f1c".startswith(note.artwork[:6]), note


def test_words_of_hex_letters_and_notes_about_the_artwork_stay_notes() -> None:
    for line in ("artwork decade", "artwork is fine", "facade", "artwork looks good"):
        assert parse_drop(f"alice\n{line}\n".encode()) == DropNote("alice", line, None)


def test_an_artwork_line_that_is_no_fingerprint_is_not_ignored() -> None:
    # "artwork: 9" used to be read as part of the note: the release then approved whatever was there.
    assert parse_drop(b"dan\nartwork: 9\n").artwork == "'9'"
    assert parse_drop(b"dan\nArtwork = looks fine\n").artwork == "'looks fine'"


def test_cli_names_and_notes_are_cleaned_like_a_drop_files() -> None:
    assert clean_name("evil\nname\x1b[31m") == "evil name"
    assert clean_note("line1\nWhat you can do now:\n  Drop RELEASE") == "line1 What you can do now: Drop RELEASE"
    assert len(clean_note("w " * 1000)) == 500 and len(clean_name("n" * 100)) == 64


def test_terminal_escapes_go_whole_from_names_and_notes() -> None:
    """(audit V) only the ESC of a colour code went: "line2\x1b[31mRED" was kept as "line2[31mRED"."""
    assert clean_note("line2\x1b[31mRED\x1b[0m and \x1b]0;a title\x07this\x1bc") == "line2RED and this"
    assert parse_drop(b"alice\nok \x1b[2Jnow\x1b[1m!\n") == DropNote("alice", "ok now!", None)


def test_system_is_no_operators_name_in_a_drop_file() -> None:
    """(audit V 1) "system" is the actor of the daemon's own entries: a drop file's first line
    "System" is kept as the note, and the file's owner is the name (as for a line too long)."""
    assert parse_drop(b"System\nlooks good\n") == DropNote(None, "System looks good", None)
    assert parse_drop(b"systems team\n") == DropNote("systems team", "", None)


def test_note_is_bounded() -> None:
    assert len(parse_drop(b"carol\n" + b"word " * 1000).note) == 500


def test_fingerprint_of_one_and_several_files() -> None:
    one = "a" * 64
    assert fingerprint([one]) == "a" * 12
    assert fingerprint([one, "b" * 64]) != fingerprint(["b" * 64, one])
    assert len(fingerprint([one, "b" * 64])) == 12


def entry(n: int, status: JobStatus, removed: bool = False) -> HistoryEntry:
    at = f"2026-11-22T10:00:0{n}.000Z"
    return HistoryEntry(n, status, at, "system", "", at if removed else None, "alice" if removed else None, None)


BASE = Job(
    job_id="1-1",
    order_id="1",
    customer=None,
    product="bc",
    quantity=1,
    hot_folder=None,
    attributes={},
    manifest_name="manifest.yaml",
    process_after=None,
    stage=Stage.HELD,
    folder="quarantine/1-1",
    output="out.pdf",
    output_pages=2,
    output_size=100,
    preflight=None,
    route="indigo",
    attempts=0,
    next_attempt_at=None,
    awaiting_until=None,
    generation=1,
    error=None,
    recreate=None,
    created_at="",
    updated_at="",
    history=(entry(1, JobStatus.Ordered), entry(2, JobStatus.Blocked), entry(3, JobStatus.OutputCreated)),
)


def test_a_held_blocked_job_allows_release_reject_replace_but_not_retry() -> None:
    assert BASE.blocked and BASE.status is JobStatus.OutputCreated
    assert refusal(BASE, Action.RELEASE) is None
    assert refusal(BASE, Action.REJECT) is None
    assert refusal(BASE, Action.REPLACE) is None
    assert "has not failed" in (refusal(BASE, Action.RETRY) or "")


def test_release_of_a_released_or_never_blocked_job_is_refused() -> None:
    released = replace(BASE, stage=Stage.DONE, history=(entry(1, JobStatus.Ordered), entry(2, JobStatus.Blocked, True)))
    assert "job 1-1 was already released (by alice) (status Ordered); nothing" in (
        refusal(released, Action.RELEASE) or ""
    )
    never = replace(BASE, stage=Stage.PROCESS, history=(entry(1, JobStatus.Ordered),))
    assert "is not blocked" in (refusal(never, Action.RELEASE) or "")


def test_a_failed_blocked_job_may_be_released_retried_or_rejected() -> None:
    # SPEC 4: a failed job's Blocked entry stays active; RELEASE removes it (approval in advance).
    failed = replace(BASE, stage=Stage.FAILED, error="ValidationFailed: wrong trim")
    assert refusal(failed, Action.RELEASE) is None
    assert refusal(failed, Action.RETRY) is None
    assert refusal(failed, Action.REJECT) is None


def test_delivered_and_rejected_jobs_refuse_everything() -> None:
    done = replace(BASE, stage=Stage.DONE, history=(entry(1, JobStatus.Ordered), entry(2, JobStatus.InHotFolder)))
    assert "already delivered" in (refusal(done, Action.REJECT) or "")
    assert "reprint: true" in (refusal(done, Action.REPLACE) or "")
    assert refusal(done, Action.RETRY) == (
        "job 1-1 was already delivered (InHotFolder); nothing to retry. To make it again, send its manifest with "
        "reprint: true"
    )
    skipped = replace(
        BASE, stage=Stage.DONE, history=(entry(1, JobStatus.Ordered), entry(2, JobStatus.CopyToHotFolderSkipped))
    )
    assert "finished without a hot folder" in (refusal(skipped, Action.REJECT) or "")
    assert "delivered" not in (refusal(skipped, Action.REPLACE) or "")
    rejected = replace(BASE, stage=Stage.REJECTED)
    assert not rejected.blocked, "a rejected job no longer waits for anyone"
    for action in Action:
        assert refusal(rejected, action) is not None, action
    assert (refusal(rejected, Action.RETRY) or "").startswith("job 1-1 was rejected; nothing to retry.")


def test_a_job_waiting_for_a_copy_retry_can_be_retried_now() -> None:
    waiting = replace(BASE, stage=Stage.RETRY, history=(entry(1, JobStatus.CopyToHotFolderFailed),))
    assert refusal(waiting, Action.RETRY) is None


def test_a_second_retry_of_a_job_being_tried_again_says_so() -> None:
    """Audit BQ 4: two RETRY files dropped together; the second read "has not failed (status
    RecreationRequested)" while STATUS.txt showed the job failed again a moment later."""
    retrying = replace(
        BASE,
        stage=Stage.PROCESS,
        history=(entry(1, JobStatus.ValidationFailed), entry(2, JobStatus.RecreationRequested)),
    )
    assert refusal(retrying, Action.RETRY) == (
        f"job {BASE.job_id} is being tried again already (status RecreationRequested); nothing more to retry"
    )


def test_jobs_rows_are_coloured_only_while_they_wait_for_someone() -> None:
    from spo_hotfolder.commands import ORANGE, RED, _row_color

    assert _row_color(BASE) == ORANGE  # blocked, output created
    assert _row_color(replace(BASE, output=None)) == RED  # blocked, output not ready
    assert _row_color(replace(BASE, stage=Stage.FAILED, history=(entry(1, JobStatus.Ordered),))) == RED
    assert _row_color(replace(BASE, stage=Stage.FAILED)) == RED, "blocked and failed: red, whatever its output"
    # Audit AW D1: a job whose copy failed, tried again later (its status CopyToHotFolderFailed for
    # up to 43 minutes with the default backoff), was not coloured: red, as failed, blocked or not.
    retrying = replace(BASE, stage=Stage.RETRY, history=(entry(1, JobStatus.CopyToHotFolderFailed),))
    assert _row_color(retrying) == RED
    assert _row_color(replace(retrying, history=(entry(1, JobStatus.Ordered),))) == RED
    assert _row_color(replace(BASE, stage=Stage.DELIVER, history=(entry(1, JobStatus.Ordered),))) == ""
    # Audit P: rejected while blocked read as orange, "waiting for release": it is finished.
    assert replace(BASE, stage=Stage.REJECTED).block_active and _row_color(replace(BASE, stage=Stage.REJECTED)) == ""


def test_status_blocked_and_released_exclude_each_other_like_blocked_and_released() -> None:
    from spo_hotfolder.cli import main

    for argv in (["jobs", "--status", "Blocked", "--released"], ["jobs", "--blocked", "--released"]):
        with pytest.raises(SystemExit) as info:
            main(["-c", "/nonexistent.yaml", *argv])
        assert info.value.code == 2, argv


def test_status_txt_of_finished_and_failed_jobs_says_where_they_went_and_what_retry_does() -> None:
    """Audit V: a rejected job's STATUS.txt said "Goes to: hot folder indigo" and "Output: not created
    yet"; a job whose copy failed was told RETRY does not make the output again (it does)."""
    from spo_hotfolder.reports import Extra, status_text

    extra = Extra(target="indigo", route_reason="route 1")
    rejected = status_text(
        replace(BASE, stage=Stage.REJECTED, output=None, history=(entry(1, JobStatus.Rejected),)), extra
    )
    assert "Goes to" not in rejected and "Output: none" in rejected
    done = status_text(replace(BASE, stage=Stage.DONE, history=(entry(1, JobStatus.InHotFolder),)), extra)
    assert "Went to: hot folder indigo  (route 1)" in done
    assert "to print the job again, send its manifest with reprint: true" in " ".join(done.split())
    skipped = " ".join(
        status_text(
            replace(BASE, stage=Stage.DONE, history=(entry(1, JobStatus.CopyToHotFolderSkipped),)), extra
        ).split()
    )
    # (audit Z: a skipped job was told "to print the job again": it was never printed)
    assert "print the job again" not in skipped
    assert "finished without printing" in skipped and "with reprint: true and a hot_folder" in skipped
    copy_failed = status_text(
        replace(BASE, stage=Stage.FAILED, history=(entry(1, JobStatus.CopyToHotFolderFailed),)), extra
    )
    assert "its artwork is checked and the output made again first" in copy_failed
    assert "not made again" not in copy_failed
    # (audit Z: a reprint whose file of the same name still waited got "is the share mounted?")
    waiting = " ".join(
        status_text(
            replace(
                BASE,
                stage=Stage.FAILED,
                error="copy into hot folder indigo failed after 5 attempts: a file named x.pdf is already waiting in "
                "hot folder indigo (not yet taken by the printer), which is never overwritten",
                history=(entry(1, JobStatus.CopyToHotFolderFailed),),
            ),
            extra,
        ).split()
    )
    assert "Let the printer take the file of the same name waiting in hot folder indigo, or move it away" in waiting
    assert "is the share mounted" not in waiting


TEXTEDIT_RTF = rb"""{\rtf1\ansi\ansicpg1252\cocoartf2639
\cocoatextscaling0\cocoaplatform0{\fonttbl\f0\fswiss\fcharset0 Helvetica;}
{\colortbl;\red255\green255\blue255;}
{\*\expandedcolortbl;;}
\paperw11900\paperh16840\margl1440\margr1440\vieww11520\viewh8400\viewkind0
\pard\tx566\tx1133\tx1700\pardirnatural\partightenfactor0

\f0\fs24 \cf0 Jos\u233 ? M\'fcller\
ok to print}"""

WORDPAD_RTF = rb"""{\rtf1\ansi\ansicpg1252\deff0\nouicompat{\fonttbl{\f0\fnil\fcharset0 Calibri;}}
{\*\generator Riched20 10.0.19041}\viewkind4\uc1
\pard\sa200\sl276\slmult1\f0\fs22\lang9 alice\par
wrong paper\par
}"""


@pytest.mark.parametrize(
    ("data", "by", "note"),
    [(TEXTEDIT_RTF, "José Müller", "ok to print"), (WORDPAD_RTF, "alice", "wrong paper")],
)
def test_a_drop_file_saved_as_rtf_gives_its_text(data: bytes, by: str, note: str) -> None:
    """Audit (2026-12-03, operator 2): RELEASE.rtf, as macOS TextEdit and WordPad save by default,
    recorded the RTF header ("{\\rtf1\\ansi...") as the operator who released the job."""
    assert parse_drop(data) == DropNote(by, note, None)


def test_a_pdf_named_like_a_drop_file_gives_no_name() -> None:
    """Audit (2026-12-03, operator 1): RELEASE.pdf was refused "by %PDF-1.3": its first line."""
    pdf = b"%PDF-1.3\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    assert parse_drop(pdf) == DropNote(None, "", None)


def test_status_txt_gives_history_times_in_iso_8601_utc_as_show_does() -> None:
    """Audit (2026-12-05 H): STATUS.txt wrote "2026-11-22 10:00:01 UTC", the one place where a
    history time was not the UTC ISO 8601 form SPEC 6 gives it (and `show` and the JSON use)."""
    from spo_hotfolder.reports import Extra, status_text

    history = (entry(1, JobStatus.Ordered), entry(2, JobStatus.Blocked, removed=True))
    text = status_text(replace(BASE, stage=Stage.HELD, history=history), Extra())
    assert "  2026-11-22T10:00:01.000Z  Ordered" in text
    assert "  2026-11-22T10:00:02.000Z  Blocked" in text
    assert "[REMOVED 2026-11-22T10:00:02.000Z by alice]" in text
    assert " UTC" not in text


def test_status_txt_of_a_blocked_job_waiting_in_work_offers_release_in_advance_and_reject() -> None:
    """Audit (2026-12-05 K): drop files act in work/ too, but a blocked future order's STATUS.txt said
    only "Nothing yet: the job waits until ..."."""
    from spo_hotfolder.reports import Extra, status_text

    extra = Extra(target="indigo")
    waiting = (entry(1, JobStatus.Ordered), entry(2, JobStatus.Blocked), entry(3, JobStatus.FutureOrder))
    future = replace(BASE, stage=Stage.FUTURE, output=None, process_after="2027-01-01T00:00:00.000Z", history=waiting)
    text = " ".join(status_text(future, extra).split())
    assert "To send this job to indigo as soon as its output is made instead" in text
    assert "drop a file named RELEASE here; to stop it, drop REJECT here (read before the job goes on)" in text
    awaiting = replace(future, stage=Stage.AWAITING, process_after=None)
    assert "drop a file named RELEASE here" in " ".join(status_text(awaiting, extra).split())
    not_blocked = replace(future, history=(entry(1, JobStatus.Ordered), entry(3, JobStatus.FutureOrder)))
    assert "RELEASE" not in status_text(not_blocked, extra)


def test_the_cli_default_operator_name_is_never_system(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--by` left out takes $SUDO_USER or $USER: a login named "system" would read as the daemon's
    own entry, as `--by system` did (audit V 1); it is "operator" then."""
    import argparse

    from spo_hotfolder.commands import operator_name

    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setenv("USER", "System")
    assert operator_name(argparse.Namespace(by=None)) == "operator"
    monkeypatch.setenv("USER", "rita")
    assert operator_name(argparse.Namespace(by=None)) == "rita"
    assert operator_name(argparse.Namespace(by="alice")) == "alice"


@pytest.mark.parametrize(
    ("name", "job_id", "order_id", "number"),
    [
        ("release_2051.txt", "2076-1", "2076", "2051"),
        ("release_2051.txt", "20512-1", "20512", "2051"),  # (a part of another number is not it)
        ("Release 2076.txt", "2076-1", "2076", None),
        ("RELEASE-100234-1.txt", "100234-1", "100234", None),
        ("RELEASE (2).txt", "2076-1", "2076", None),
        ("RELEASE - Copy (12).txt", "2076-1", "2076", None),
        ("RELEASE 2026-12-05.txt", "2076-1", "2076", None),
        ("reject_20261205", "2076-1", "2076", None),
        ("retry 999", "A-1", "A", "999"),
        # Audit AR D2-D4: ids with letters, another job of the order, dates as people write them.
        ("RELEASE-ABC-1.txt", "ABC-1", "ABC", None),
        ("REJECT-ABD-2.txt", "ABC-1", "ABC", "ABD-2"),
        ("RELEASE SO-7788.txt", "SO-7788-01", "SO-7788", None),
        ("RELEASE 2090-2.txt", "2090-1", "2090", "2090-2"),
        ("RELEASE-2090-1 (2).txt", "2090-1", "2090", None),
        ("RELEASE 12-05-2026.txt", "3003-1", "3003", None),
        ("RELEASE_2026-12-05T14-30-00.txt", "3007-1", "3007", None),
        ("RELEASE-ORD.55-1.txt", "ORD.55-1", "ORD.55", None),
        ("RELEASE-ORD.56-1.txt", "ORD.55-1", "ORD.55", "ORD.56-1"),
        # Audit AS: ids with a dot, an underscore, in brackets, without an extension.
        ("RELEASE-ORD.71-1", "ORD.71-1", "ORD.71", None),
        ("RELEASE (ORD.74-1).txt", "ORD.74-1", "ORD.74", None),
        ("RELEASE-WEB_3001-1.txt", "WEB_3001-1", "WEB_3001", None),
        ("RELEASE_WEB_3002.txt", "WEB_3002-1", "WEB_3002", None),
        ("RELEASE-V2.7-1.txt", "ORD.75-1", "ORD.75", "V2.7-1"),
        ("RELEASE_order_2086.txt", "2086-1", "2086", None),
        # Audit CM 3: another id that differs from the job's only in its word was the job's own.
        ("RELEASE-ABD-1.txt", "ABC-1", "ABC", "ABD-1"),
        ("RELEASE-SMITH-1.txt", "JONES-1", "JONES", "SMITH-1"),
        ("RELEASE-ABD-1.txt", "WEB-2086-1", "WEB-2086", "ABD-1"),
        ("RELEASE-ABD1.txt", "ABC1", "ABC", "ABD1"),
        ("RELEASE job-2076-1.txt", "2076-1", "2076", None),
        ("RELEASE_web_2086.txt", "WEB-2086-1", "WEB-2086", None),
    ],
)
def test_a_drop_files_other_number_is_found(name: str, job_id: str, order_id: str, number: str | None) -> None:
    assert foreign_number(name, job_id, order_id) == number


@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("RELEASE", Action.RELEASE),
        ("release2.txt", Action.RELEASE),
        ("RELEASE - Copy (12).txt", Action.RELEASE),
        ("Reject copy 2", Action.REJECT),
        ("RELEASE-ABC-1.txt", Action.RELEASE),  # (audit AR D2: "not a drop file" for ids with letters)
        ("RELEASE INV-2026-0042-1.txt", Action.RELEASE),
        ("RETRY_2026-12-05T14-30-00.txt", Action.RETRY),
        ("RELEASE-ORD.55-1.txt", Action.RELEASE),  # (a job id with a dot)
        ("RELEASE.txt.txt", Action.RELEASE),
        ("Release notes.txt", None),
        ("Releases.txt", None),
        ("Release_by_anna.txt", None),
        ("RELEASEX", None),
        ("NOT USED - RELEASE.txt - put it into a job's folder.txt", None),
    ],
)
def test_drop_file_names(name: str, action: Action | None) -> None:
    assert classify_drop(name) is action


def test_a_held_job_whose_named_hot_folder_is_gone_is_not_told_release_sends_it_there() -> None:
    """Audit AV: STATUS.txt said hot folder spare is not in the config (any more), and on the next line
    "Drop a file named RELEASE here to send this job to spare" (released, it failed at once)."""
    from spo_hotfolder.reports import Extra, status_text

    held = replace(BASE, stage=Stage.HELD)
    gone = " ".join(status_text(held, Extra(target="spare", target_missing=True)).split())
    assert "Hot folder spare, which this job's manifest names, is not in the config (any more)" in gone
    assert (
        "Drop a file named RELEASE here to send this job to spare once it is in the config again (released "
        "before, the job fails)." in gone
    ), gone
    there = " ".join(status_text(held, Extra(target="spare")).split())
    assert "Drop a file named RELEASE here to send this job to spare. Write your name" in there, there


def test_the_reprint_advice_says_to_send_only_this_job_s_entry() -> None:
    """Audit BB D1: a rejected job's STATUS.txt said "Send its manifest again with reprint: true";
    the manifest kept in its folder is the whole order's, and sent as it was it printed the order's
    delivered jobs a second time."""
    from spo_hotfolder.reports import Extra, status_text

    extra = Extra(target="indigo", route_reason="route 1")
    for stage, status in (
        (Stage.REJECTED, JobStatus.Rejected),
        (Stage.DONE, JobStatus.InHotFolder),
        (Stage.DONE, JobStatus.CopyToHotFolderSkipped),
    ):
        text = " ".join(status_text(replace(BASE, stage=stage, history=(entry(1, status),)), extra).split())
        assert "with only this job's entry in it (the manifest kept here lists the order's every job" in text, text


def test_a_reject_of_a_job_waiting_for_its_artwork_says_how_to_stop_it() -> None:
    """Audit BB R1: REJECT of an unblocked job still waiting for its artwork was refused with no way
    out, and the job printed as its artwork came (the refusal of a future order's said how)."""
    waiting = replace(
        BASE, stage=Stage.AWAITING, output=None, history=(entry(1, JobStatus.Ordered), entry(2, JobStatus.AwaitingData))
    )
    said = refusal(waiting, Action.REJECT)
    assert said is not None and said.endswith(
        "To stop it before it prints, send its manifest again with blocked: true: it then waits for a release once "
        "its artwork has come, and can be rejected"
    ), said


def test_status_txt_s_preflight_list_names_the_artwork_file_of_each_finding_of_a_job_of_several() -> None:
    """Review EA 2: STATUS.txt's "Preflight:" list gave a finding of a job of two files without its
    file ("warning: page 3: font Helvetica is not embedded"), where ERROR.txt and the history name
    it: the operator asked to replace "the file in artwork/" could not tell which."""
    from spo_hotfolder.reports import Extra, status_text

    finding = {"severity": "warning", "message": "page 3: font Helvetica is not embedded", "file": "back.pdf"}
    two = {"findings": [finding], "artwork_sha256": ["a" * 64, "b" * 64]}
    text = status_text(replace(BASE, preflight=two, history=(entry(1, JobStatus.Blocked),)), Extra())
    assert "  - warning: page 3: font Helvetica is not embedded (artwork 'back.pdf')" in text.splitlines()
    one = {"findings": [finding], "artwork_sha256": ["a" * 64]}
    text = status_text(replace(BASE, preflight=one, history=(entry(1, JobStatus.Blocked),)), Extra())
    assert "  - warning: page 3: font Helvetica is not embedded" in text.splitlines()
