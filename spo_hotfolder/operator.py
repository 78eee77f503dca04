"""Drop files and the rules for operator actions (pure: no filesystem, no ledger writes).

An operator drops ``RELEASE``, ``REJECT`` or ``RETRY`` (any case, any extension) into a job folder
in ``quarantine/`` or ``failed/``, or a PDF into its ``replace/``. The first line of a drop file,
if any, is the operator's name; the rest is a note; a line ``artwork: <fingerprint>`` in a
RELEASE (or STATUS.txt's ``Artwork fingerprint: <fingerprint>``, or the fingerprint alone)
approves exactly that artwork. The CLI commands go through the same rules.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from spo_hotfolder.fsutil import read_own_file
from spo_hotfolder.ledger import Job, Ledger, Stage
from spo_hotfolder.status import JobStatus


class Action(StrEnum):
    RELEASE = "RELEASE"
    REJECT = "REJECT"
    RETRY = "RETRY"
    REPLACE = "REPLACE"


#: When two drop files arrive together, the safer one acts first (a REJECT beats a RELEASE).
ACTION_ORDER = {Action.REJECT: 0, Action.REPLACE: 1, Action.RETRY: 2, Action.RELEASE: 3}

_DROP_WORD = re.compile(r"^(release|reject|retry)(?=$|[\s_(\d-])", re.IGNORECASE)
#: A date or a time stamp an operator or a script writes into a drop file's name: 2026-12-05,
#: 20261205, 2026-12-05T14-30-00, 12-05-2026, 05-12-2026 (no other job's number: audit AR D4).
_DATE = re.compile(
    r"(?<![0-9A-Za-z])(?:(?:19|20)\d\d([-_]?)(?:0[1-9]|1[0-2])\1(?:0[1-9]|[12]\d|3[01])"
    r"(?:[T_ -]?\d\d(?:[-:h]?\d\d){1,2})?"
    r"|(?:0[1-9]|[12]\d|3[01])([-_])(?:0[1-9]|[12]\d|3[01])\2(?:19|20)\d\d)(?![0-9A-Za-z])",
    re.IGNORECASE,
)
#: What a file manager adds to a copy's name: "(2)", "copy", "Kopie".
_COPY_MARK = re.compile(r"\(\d+\)|(?<![0-9A-Za-z])(?:copy|kopie)(?![0-9A-Za-z])", re.IGNORECASE)
#: An id in a drop file's name (a job's, an order's, a number): letters and digits, joined by '-'
#: or '.', with a digit somewhere ("ABC-1", "2051", "WEB-200235").
_ID_CHUNK = re.compile(r"[0-9A-Za-z]+(?:[-._][0-9A-Za-z]+)*")
#: The line of a RELEASE that names the artwork it approves: "artwork: 992f1c436816" (what
#: STATUS.txt says to add), also as STATUS.txt shows it ("Artwork fingerprint: 992f1c436816") or
#: "fingerprint: ..." (audit CC: a copy of STATUS.txt's line was a note, and the release approved
#: a replacement the operator had not seen).
_ARTWORK_LINE = re.compile(r"^\s*(?:artwork(?:[ \t]+fingerprint)?|fingerprint)\s*[:=]\s*(\S.*?)\s*$", re.IGNORECASE)
#: The same without ':' ("artwork 992f1c", "fingerprint - 992f1c") with a fingerprint of at least
#: 6 digits (a digit among them), or the fingerprint alone on its line, as long as STATUS.txt shows
#: it: words that are hex digits too ("artwork decade") stay the note's.
_LOOSE_ARTWORK_LINE = re.compile(
    r"^\s*(?:(?:artwork(?:[ \t]+fingerprint)?|fingerprint)\s*[-\u2013\u2014]?\s*(?=[0-9a-f]*[0-9])([0-9a-f]{6,64})"
    r"|([0-9a-f]{12,64}))\s*$",
    re.IGNORECASE,
)
_FINGERPRINT = re.compile(r"[0-9a-fA-F]{4,64}")
MAX_NAME = 64
#: The actor of the daemon's own entries in a job's history (SPEC 6: "system" or the operator's
#: name): never an operator's name, in any letter case (an operator's release would read as the
#: daemon's).
SYSTEM = "system"
MAX_NOTE = 500
FINGERPRINT_LEN = 12


def _drop_parts(name: str) -> tuple[str, list[str]] | None:
    """A drop file's word and the ids its name holds after it, or None when it is no drop file's
    name: the word, then only separators, a copy's marks ("(2)", "copy"), dates, and ids with a
    digit in them ("RELEASE-ABC-1.txt", "RELEASE_WEB_3001-1.txt", "RELEASE-ORD.55-1.txt": audit AR
    D2, AS D1, D2: a script's RELEASE-$JOB.txt was "no drop file" for ids with letters, a dot or an
    underscore). "Release notes.txt", "Releases.txt", "Release_by_anna.txt" are none."""
    # The name without its extension ("RELEASE-ORD.55-1.txt", "RELEASE-V2.7-1.txt"), up to its first
    # dot ("RELEASE.txt.txt"), or whole ("RELEASE-ORD.71-1", no extension).
    for stem in dict.fromkeys((name.rsplit(".", 1)[0].strip(), name.split(".", 1)[0].strip(), name.strip())):
        word = _DROP_WORD.match(stem)
        if word is None:
            continue
        rest = _COPY_MARK.sub(" ", _DATE.sub(" ", stem[word.end() :]))
        ids = [part for part in (p.strip("-._()[]") for p in rest.split()) if part]
        if all(_ID_CHUNK.fullmatch(part) and any(c.isdigit() for c in part) for part in ids):
            return word.group(1).upper(), ids
    return None


def classify_drop(name: str) -> Action | None:
    """RELEASE / REJECT / RETRY for a drop file's name (``release.txt``, ``Reject``, ``RETRY (2).txt``,
    ``RELEASE-ABC-1.txt``)."""
    parts = _drop_parts(name)
    return Action(parts[0]) if parts is not None else None


def foreign_number(name: str, job_id: str, order_id: str) -> str | None:
    """An id in a drop file's name that is neither the job's nor its order's: ``release_2051.txt``
    in job 2076's folder, ``RELEASE 2090-2.txt`` in job 2090-1's (another job of the order: audit AR
    D3), ``REJECT-ABD-2.txt`` in ABC-1's: most likely meant for that job. A copy's number (two
    digits at most: "RELEASE 2"), a date, and the number parts of the job's own ids are none."""
    parts = _drop_parts(name)
    if parts is None:
        return None
    own = {job_id.casefold(), order_id.casefold()}
    numbers = set(re.findall(r"\d+", f"{job_id} {order_id}"))
    for part in parts[1]:
        key = part.casefold()
        if key in own or key in numbers or (part.isdigit() and len(part) <= 2):
            continue
        # A word before the job's own id: "RELEASE_order_2086", "RELEASE job-2076-1"; but not another
        # word where the id has its own ("RELEASE-ABD-1" in ABC-1's folder is ABD-1's: audit CM 3).
        if any(_labelled(key, mine, own) for mine in own | numbers):
            continue
        return part
    return None


def _labelled(key: str, mine: str, own: set[str]) -> bool:
    """``key`` is a word (a label: "order", "job") then ``mine``, one of the job's ids or their
    numbers, where one of the ids has nothing before ``mine`` or that same word: "order_2086" for
    job 2086-1, not "abd-1" for ABC-1 nor for WEB-2086-1."""
    if not key.endswith(mine):
        return False
    word = key[: -len(mine)].rstrip("-._")
    if not word.isalpha():
        return False
    for text in own:
        for found in re.finditer(rf"(?<![0-9]){re.escape(mine)}(?![0-9])", text):
            before = text[: found.start()].rstrip("-._")
            if not before or (before.endswith(word) and not before[: -len(word)][-1:].isalpha()):
                return True
    return False


@dataclass(frozen=True, slots=True)
class DropNote:
    by: str | None  # the operator's name from the first line, None when absent or unusable
    note: str
    artwork: str | None  # the fingerprint prefix a RELEASE approves, lower-case hex


#: A terminal's escape sequences (colours, cursor moves, titles) in a name or a note: gone whole,
#: not only their ESC ("\x1b[31mRED" is "RED", not "[31mRED").
_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-~])")


def _printable(text: str) -> str:
    text = _ESCAPES.sub("", text)
    return "".join(ch for ch in text if ch in "\t " or unicodedata.category(ch)[0] not in ("C",)).strip()


def _decode(data: bytes, cut: bool = False) -> str:
    """UTF-8 (a BOM allowed); UTF-16 with its BOM (Notepad's "Unicode"); else Windows-1252, as
    older Notepad saves (a name like "Jos\xe9"). ``cut``: ``data`` is the beginning of a longer
    file, whose last character may be cut in two."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if cut and exc.start >= len(data) - 3:  # a character cut by the size limit
            return data.decode("utf-8-sig", errors="replace")
        return data.decode("cp1252", errors="replace")


def clean_name(by: str) -> str:
    """An operator's name as the history shows it: one line of printable text, at most MAX_NAME."""
    return _printable(" ".join(by.split()))[:MAX_NAME]


def name_problem(by: str) -> str | None:
    """Why ``by`` cannot be an operator's name in the history (``--by``), or None."""
    name = _printable(" ".join(by.split()))
    if not name:
        return "an empty name: give the operator's name"
    if len(name) > MAX_NAME:
        return f"a name of {len(name)} characters: at most {MAX_NAME}"
    if name.casefold() == SYSTEM:
        return f"{name!r} is the daemon's own name in the status history: give the operator's name"
    return None


def clean_note(note: str) -> str:
    """A note as the history shows it: its lines joined into one, printable, at most MAX_NOTE."""
    text = " ".join(_printable(line) for line in note.splitlines() if _printable(line))
    return text if len(text) <= MAX_NOTE else text[: MAX_NOTE - 1] + "…"


def _utf16_without_bom(data: bytes) -> bytes | None:
    """``data`` with a BOM put before it when it reads as UTF-16 text without one: every NUL on
    the high byte of a character (the spaces and line breaks of Cyrillic or Chinese text are
    ASCII, theirs is not: audit CA 4), and every character a printable one or a line break.
    Little-endian first, as Windows writes it."""
    even = data[: len(data) // 2 * 2]
    nuls = [index for index in range(len(even)) if even[index] == 0]
    for encoding, bom, high in (("utf-16-le", b"\xff\xfe", 1), ("utf-16-be", b"\xfe\xff", 0)):
        if any(index % 2 != high for index in nuls):
            continue
        try:
            text = even.decode(encoding)
        except UnicodeDecodeError:
            continue
        if all(ch in "\t\n\r\f" or unicodedata.category(ch)[0] not in ("C",) for ch in text):
            return bom + even
    return None


#: A terminal's escape sequence (CSI ... final byte, or ESC and one character).
_ANSI_ESCAPE = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")


def _text_bytes(data: bytes) -> bytes | None:
    """``data`` as text to decode, or None for a binary file (a PDF or an image named RELEASE).
    UTF-16 without its BOM (every other byte NUL) gets one; a stray NUL or two in a text (an
    editor's, a script's ``printf``) is dropped rather than the whole name and note with it
    (audit BQ 6)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data
    head = data[:4096]
    if len(head) >= 4 and head.count(0) >= max(2, len(head) // 25):
        utf16 = _utf16_without_bom(data)
        if utf16 is not None:
            return utf16
    # A terminal's colour and cursor codes (a script's coloured output saved as RELEASE) do not
    # make it a binary file (audit BN: the whole name and note were lost for them): the line that
    # holds them is the note's (README), cleaned of them.
    text = _ANSI_ESCAPE.sub(b"", head)
    controls = sum(1 for byte in text if byte < 32 and byte not in (9, 10, 12, 13))
    if controls > max(2, len(head) // 20):
        return None
    return data.replace(b"\x00", b"")


# RTF destinations whose text is not the document's (fonts, colours, styles, metadata, pictures).
_RTF_HIDDEN = frozenset(
    [
        "fonttbl",
        "colortbl",
        "expandedcolortbl",
        "stylesheet",
        "info",
        "listtable",
        "listoverridetable",
        "pict",
        "header",
        "footer",
        "themedata",
        "colorschememapping",
        "datastore",
        "latentstyles",
        "generator",
        "rsidtbl",
        "xmlnstbl",
        "mmathPr",
    ]
)
_RTF_TOKEN = re.compile(r"\\([a-zA-Z]+)(-?\d+)? ?|\\'([0-9a-fA-F]{2})|\\([^a-zA-Z])|([{}])|[\r\n]+|([^\\{}\r\n]+)")


def rtf_text(rtf: str) -> str:
    """The plain text of an RTF document: what macOS TextEdit and WordPad save by default, so a
    RELEASE.rtf whose text is "alice / ok to print" (audit, operator 2: the name recorded was the
    RTF header, "{\\rtf1\\ansi\\ansicpg1252\\cocoartf2639")."""
    out: list[str] = []
    hidden_stack: list[bool] = []
    hidden = False
    fallback = 0  # characters after a \\uN that stand in for it in readers without Unicode
    for match in _RTF_TOKEN.finditer(rtf):
        word, arg, hex_char, symbol, brace, plain = match.groups()
        if brace == "{":
            hidden_stack.append(hidden)
        elif brace == "}":
            hidden = hidden_stack.pop() if hidden_stack else False
        elif hidden:
            continue
        elif word is not None:
            if word in _RTF_HIDDEN:
                hidden = True
            elif word in ("par", "line"):
                out.append("\n")
            elif word == "tab":
                out.append("\t")
            elif word == "u" and arg is not None:
                out.append(chr(int(arg) % 65536))
                fallback = 1
        elif hex_char is not None:
            if fallback:
                fallback -= 1
            else:
                out.append(bytes([int(hex_char, 16)]).decode("cp1252", errors="replace"))
        elif symbol is not None:
            if symbol == "*":
                hidden = True  # {\\*\\destination ...}: one a reader does not know is skipped
            elif symbol in "\r\n":
                out.append("\n")  # TextEdit's line break: a backslash at the end of the line
            elif symbol in "\\{}":
                out.append(symbol)
            elif symbol == "~":
                out.append(" ")
        elif plain is not None:
            if fallback:
                plain, fallback = plain[1:], 0
            out.append(plain)
    return "".join(out)


#: The note of a drop file whose text cannot be read.
UNREADABLE_NOTE = "[the file's text could not be read: not a plain text file; save it as text to give a name and note]"


def split_artwork(lines: Sequence[str]) -> tuple[str | None, list[str]]:
    """The artwork a RELEASE's text names (its first line that names one: the fingerprint in
    lower case, or a value that is none quoted, which no artwork matches), and its other lines.
    A drop file's text, and the CLI's ``release --note`` (SPEC 3: the same path)."""
    artwork: str | None = None
    rest: list[str] = []
    for line in lines:
        match = _ARTWORK_LINE.match(line) if artwork is None else None
        loose = _LOOSE_ARTWORK_LINE.match(line) if artwork is None and match is None else None
        if match:
            value = match.group(1)
            # Not a fingerprint at all ("artwork: 9", "artwork: ok"): kept as given, so that the
            # release is refused as not matching rather than taken as approving nothing.
            artwork = value.lower() if _FINGERPRINT.fullmatch(value) else f"{value[:20]!r}"
        elif loose:
            artwork = (loose.group(1) or loose.group(2)).lower()
        else:
            rest.append(line)
    return artwork, rest


def is_fingerprint(text: str) -> bool:
    """Whether ``text`` can be (the start of) an artwork fingerprint: 4 to 64 hex digits."""
    return _FINGERPRINT.fullmatch(text) is not None


def parse_drop(data: bytes) -> DropNote:
    """Reads a drop file's content; junk (binary, huge, control characters) never raises."""
    if data.lstrip()[:5] == b"%PDF-":
        return DropNote(None, "", None)  # (its first line, "%PDF-1.4", is no one's name)
    readable = _text_bytes(data[:16384])
    if readable is None:
        # A Word document (release.docx) or another binary file: acted on by its name, and the
        # history says why no name or note came with it (audit AL: they were lost without a word).
        return DropNote(None, UNREADABLE_NOTE, None)
    text = _decode(readable, cut=len(data) > 16384).replace("\r\n", "\n").replace("\r", "\n")
    if text.lstrip().startswith("{\\rtf"):
        text = rtf_text(text)
    artwork, rest = split_artwork(text.split("\n"))
    by: str | None = None
    # SPEC 4: the first line, if any, is the name. An empty first line means no name: the text
    # below it is the note (the name falls back to the default).
    if rest and rest[0].strip():
        first = rest[0]
        cleaned = _printable(first)
        # ("system" is no one's name: the daemon's own entries have it. The line is then the note's.)
        if (
            cleaned
            and len(cleaned) <= MAX_NAME
            and "\ufffd" not in cleaned
            and cleaned == first.strip()
            and cleaned.casefold() != SYSTEM
        ):
            by = cleaned
            rest.pop(0)
    note = " ".join(_printable(line) for line in rest if _printable(line))
    if "\ufffd" in note:
        note = note.replace("\ufffd", "?")
    if len(note) > MAX_NOTE:
        note = note[: MAX_NOTE - 1] + "…"
    return DropNote(by, note, artwork)


def fingerprint(sha256s: Sequence[str]) -> str:
    """A short fingerprint of the job's current artwork (what an operator approves)."""
    if len(sha256s) == 1:
        return sha256s[0][:FINGERPRINT_LEN]
    joined = hashlib.sha256("".join(sha256s).encode()).hexdigest()
    return joined[:FINGERPRINT_LEN]


def _finished(job: Job) -> str:
    """How a job in done/ ended, in words: delivered, or finished without a hot folder (skipped)."""
    if job.status is JobStatus.CopyToHotFolderSkipped:
        return "was already finished without a hot folder"
    return "was already delivered"


def _released_by(job: Job) -> str:
    """ " (by alice)": who removed the job's newest Blocked entry, where its history was read."""
    if not job.history_complete:
        return ""
    released = next((e for e in reversed(job.whole_history()) if e.status is JobStatus.Blocked and e.removed_at), None)
    return f" (by {released.removed_by or 'an operator'})" if released is not None else ""


def refusal(job: Job, action: Action) -> str | None:
    """Why ``action`` makes no sense for ``job`` now (plain words), or None when it is allowed."""
    stage = job.stage
    if stage is Stage.DELIVER and job.status is JobStatus.CopyToHotFolderFailed:
        # A copy retry that has come due (a drop file read just before it goes on): as while it waited.
        stage = Stage.RETRY
    status = job.status.value
    if stage is Stage.PURGED:
        # How it ended, where the job was read with its history (the CLI, the engine's actions).
        ended = "was delivered or rejected"
        if job.history_complete:
            outcome = job.outcome()
            if outcome is not None:
                ended = {
                    JobStatus.Rejected: "was rejected",
                    JobStatus.CopyToHotFolderSkipped: "was finished without a hot folder",
                }.get(outcome.status, "was delivered")
        return f"job {job.job_id} {ended} and its files were deleted after retention"
    if action is Action.RELEASE:
        if stage is Stage.REJECTED:
            return f"job {job.job_id} was rejected; a rejected job cannot be released"
        if not job.blocked:
            if job.was_released:
                return f"job {job.job_id} was already released{_released_by(job)} (status {status}); nothing to release"
            return f"job {job.job_id} is not blocked (status {status}); nothing to release"
        # A blocked job in failed/ may be released too (SPEC 4: its Blocked entry stays active there,
        # and SPO removes a block whatever the job's status): it then goes straight on to delivery
        # once a replacement or RETRY gives it a good output.
        return None
    if action is Action.REJECT:
        if stage is Stage.DONE:
            return f"job {job.job_id} {_finished(job)} ({status}); a finished job cannot be rejected"
        if stage is Stage.REJECTED:
            return f"job {job.job_id} was already rejected"
        if job.blocked or stage in (Stage.FAILED, Stage.RETRY, Stage.HELD):
            return None
        if stage is Stage.FUTURE:
            return (
                f"job {job.job_id} is neither blocked nor failed (status {status}); only those can be rejected. To "
                "stop a scheduled order, send its manifest again with blocked: true (and its artwork): it then "
                "waits for a release, and can be rejected"
            )
        if stage is Stage.AWAITING and not job.was_released:
            # (audit BB R1: an order the customer cancels while its artwork is still to come)
            return (
                f"job {job.job_id} is neither blocked nor failed (status {status}); only those can be rejected. To "
                "stop it before it prints, send its manifest again with blocked: true: it then waits for a release "
                "once its artwork has come, and can be rejected"
            )
        if job.history and job.was_released:
            return (
                f"job {job.job_id} was released{_released_by(job)} and is no longer blocked "
                f"(status {status}): it goes to its hot folder as soon as it is ready; only a blocked or failed job "
                "can be rejected"
            )
        return f"job {job.job_id} is neither blocked nor failed (status {status}); only those can be rejected"
    if action is Action.RETRY:
        if stage in (Stage.FAILED, Stage.RETRY):
            return None
        # (PURGED is answered above) Worded as reject and replace word them (audit: "is done").
        if stage is Stage.DONE:
            return (
                f"job {job.job_id} {_finished(job)} ({status}); nothing to retry. To make it again, send its manifest "
                "with reprint: true"
            )
        if stage is Stage.REJECTED:
            return (
                f"job {job.job_id} was rejected; nothing to retry. Send a new manifest with reprint: true to make it "
                "again"
            )
        if job.status is JobStatus.RecreationRequested:
            # Two RETRY files dropped together (audit BQ 4): the first is under way.
            return f"job {job.job_id} is being tried again already (status {status}); nothing more to retry"
        return f"job {job.job_id} has not failed (status {status}); nothing to retry"
    # REPLACE
    if stage is Stage.DONE:
        return f"job {job.job_id} {_finished(job)} ({status}); to make it again, send its manifest with reprint: true"
    if stage is Stage.REJECTED:
        return f"job {job.job_id} was rejected; send a new manifest with reprint: true to make it again"
    return None


def pending_commands(commands: Path, ledger: Ledger, job_id: str) -> list[dict[str, Any]]:
    """The CLI command files in ``commands`` (state/commands/) for ``job_id`` that are not done
    (no outcome in the ledger for their token), oldest first (their names sort in time)."""
    return pending_commands_by_job(commands, ledger, job_id).get(job_id, [])


def pending_commands_by_job(commands: Path, ledger: Ledger, only: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """``pending_commands`` of every job (``only``: of that job) from one look at the folder."""
    found: list[tuple[str, dict[str, Any]]] = []
    with contextlib.suppress(OSError), os.scandir(commands) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.name.endswith(".json"):
                continue
            try:
                command = json.loads(read_own_file(entry.path).decode("utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(command, dict) or not isinstance(command.get("job_id"), str):
                continue
            if only is not None and command["job_id"] != only:
                continue
            token = str(command.get("token") or "")
            if token and ledger.drop_result(token) is not None:
                continue
            found.append((entry.name, command))
    by_job: dict[str, list[dict[str, Any]]] = {}
    for _name, command in sorted(found, key=lambda item: item[0]):
        by_job.setdefault(command["job_id"], []).append(command)
    return by_job
