"""The texts an operator reads in a job folder: STATUS.txt and ERROR.txt.

STATUS.txt is the operator's screen: the job, its output, its artwork fingerprint, the whole status
history (newest last, removed entries marked), and one short paragraph saying what they can do now.
ERROR.txt says what went wrong and how to fix it, in plain words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from spo_hotfolder.fsutil import MAY_NOT_READ
from spo_hotfolder.ledger import Job, Stage
from spo_hotfolder.pdfreport import with_file
from spo_hotfolder.status import JobStatus

#: The heading of STATUS.txt's last section.
#: STATUS.txt's line above the job's history (recovery reads the history below it back).
HISTORY_HEADING = "History (oldest first, newest last):"
WHAT_NOW = "What you can do now:"


@dataclass(frozen=True, slots=True)
class Extra:
    """Facts for STATUS.txt that are not in the Job row."""

    fingerprint: str | None = None
    artwork_names: Sequence[str] = ()
    target: str | None = None  # where a release would send it: hot folder name or "skip"
    route_reason: str | None = None
    last_action: str | None = None  # the result of the last operator drop, in plain words
    pdf_delivered: bool = False  # the PDF is in the hot folder; only its job ticket failed
    target_missing: bool = False  # the manifest names a hot folder the config does not have (any more)
    may_still_arrive: str | None = None  # the PDF whose rename into the hot folder is unconfirmed (failed/)
    several_artwork: bool = False  # a replacement names the file it replaces
    #: a finished job's folder where retention does not delete it (moved or renamed by hand)
    kept_by_hand: bool = False
    #: why an artwork file of a waiting job, in the inbox, may not be moved now (chattr +i), naming it
    unmovable: str | None = None


#: Control characters (C0, DEL, C1), invisible and direction-changing marks: a manifest's free text
#: (the customer's name, attribute values) with these would move a terminal's cursor, recolour or
#: clear it, or turn text around (``\x1b[2J``, U+202E) in ``show`` and STATUS.txt.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]+")


#: STATUS.txt's first line, "Job <id>  (order ...)" (``status_text``).
_STATUS_HEADER = re.compile(r"^Job (\S+)  \(order ")


def job_named_in(folder: Path) -> str | None:
    """The job id a folder's STATUS.txt names (a job's folder, or one renamed or copied by hand:
    "F3-1 check"); None where it holds none."""
    try:
        with open(folder / "STATUS.txt", encoding="utf-8", errors="replace") as fh:
            first = fh.readline(512)
    except OSError:
        return None
    match = _STATUS_HEADER.match(first)
    return match.group(1) if match else None


def printable(text: object) -> str:
    """Text from a manifest as a terminal or a text file shows it safely: each run of control
    characters one space. The ledger and the JSON outputs keep the text as it came."""
    return _UNPRINTABLE.sub(" ", str(text)).strip()


def human_size(size: int | None) -> str:
    if size is None:
        return "unknown size"
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def human_seconds(seconds: float) -> str:
    """A duration from the config as an operator reads it: "90 seconds", "60 minutes", "2.5 hours"."""
    if seconds < 120:
        return f"{round(seconds, 3):g} seconds"
    if seconds < 600:
        return f"{round(seconds / 60, 1):g} minutes"  # (3.6, not 4: audit, soak 2)
    if seconds < 3 * 3600:
        return f"{round(seconds / 60)} minutes"
    return f"{round(seconds / 3600, 1):g} hours"


def human_days(days: float) -> str:
    """retention.done_days as an operator reads it: "30 days", "1 day", "0.5 days (12 hours)",
    "0.00004 days (3.456 seconds)" (audit BG 4: "4e-05 days")."""
    if days >= 1:
        return f"{days:.10g} day" + ("" if days == 1 else "s")
    if days <= 0:
        return "0 days"
    written = f"{days:.9f}".rstrip("0").rstrip(".")
    return f"{written} days ({human_seconds(days * 86400)})"


def artwork_listing(artwork: Sequence[tuple[str, bool]]) -> str:
    """A job's artwork files, (name, arrived), as STATUS.txt and `show` list them: which have
    arrived and which not is said apart ("a.pdf, b.pdf (not arrived yet)" read as if neither
    had, with a.pdf there: audit CB 2)."""
    arrived = [name for name, present in artwork if present]
    missing = [name for name, present in artwork if not present]
    if not missing:
        return ", ".join(arrived)
    if not arrived:
        return ", ".join(missing) + (" (not arrived yet)" if len(missing) == 1 else " (none arrived yet)")
    return f"{', '.join(arrived)} (arrived); not arrived yet: {', '.join(missing)}"


#: How a job waiting for an inbox file the daemon may not move says so (Engine._say_unmovable).
UNMOVABLE_SAID = ": it is there, but "


def unmovable_wait(job: Job) -> str | None:
    """For a job waiting for an artwork file that is in the inbox but may not be moved (chattr +i,
    a security policy): why, and how to fix it (naming the file), from its newest AwaitingData
    entry; else None."""
    entry = next((e for e in reversed(job.history) if e.removed_at is None), None)
    if entry is None or entry.status is not JobStatus.AwaitingData or UNMOVABLE_SAID not in entry.detail:
        return None
    return entry.detail.partition(UNMOVABLE_SAID)[2]


def status_text(job: Job, extra: Extra) -> str:
    lines = [
        f"Job {job.job_id}  (order {job.order_id}{', ' + printable(job.customer) if job.customer else ''})",
        f"Product: {job.product} x {job.quantity}",
        f"Status: {job.status.value}"
        + (
            "   [BLOCKED: waits for release]"
            if job.blocked
            # (as `show` and `jobs --blocked` have it: its Blocked entry was never removed; audit BP)
            else "   [BLOCKED: rejected, never released]"
            if job.block_active and job.stage is Stage.REJECTED
            else ""
        ),
    ]
    if job.output:
        name = job.output
        pages = f"{job.output_pages} page{'s' if job.output_pages != 1 else ''}" if job.output_pages else "? pages"
        lines.append(f"Output: output/{name}  ({pages}, {human_size(job.output_size)})")
    elif job.stage in (Stage.REJECTED, Stage.DONE):
        lines.append("Output: none")
    else:
        lines.append("Output: not created yet")
    if extra.artwork_names:
        lines.append(f"Artwork: {', '.join(extra.artwork_names)}")
    if extra.fingerprint:
        lines.append(f"Artwork fingerprint: {extra.fingerprint}")
    if extra.target and job.stage is not Stage.REJECTED:  # a rejected job goes nowhere
        where = "no hot folder (skipped)" if extra.target == "skip" else f"hot folder {extra.target}"
        label = "Went to" if job.stage is Stage.DONE else "Goes to"
        lines.append(f"{label}: {where}" + (f"  ({extra.route_reason})" if extra.route_reason else ""))
        if extra.target_missing and job.stage is not Stage.DONE:
            lines.append("         which is not in the config (any more): its delivery fails until it is added again")
    if job.preflight and job.preflight.get("findings"):
        lines.append("")
        lines.append("Preflight:")
        # (naming the artwork file of each, as ERROR.txt does, for a job of several: review EA 2, the
        # file to replace was said in the history's line only)
        several = len(job.preflight.get("artwork_sha256") or []) > 1
        for finding in job.preflight["findings"]:
            text = with_file(str(finding.get("message", "")), finding.get("file"), several)
            lines.append(f"  - {finding.get('severity', 'error')}: {printable(text)}")
    lines.append("")
    lines.append(HISTORY_HEADING)
    for entry in job.whole_history():
        # The time as the ledger, `show` and the JSON give it: UTC, ISO 8601 (SPEC 6; audit 12-05 H:
        # "2026-12-05 08:10:49 UTC" here was the one place with another form).
        # (each part printable: a replacement's file name may hold a line break and a row of its own
        # that looks like an entry, "InHotFolder" for a job never delivered: audit DC 3)
        row = f"  {entry.at}  {entry.status.value:<22} {printable(entry.by)}"
        if entry.detail:
            row += f"  {printable(entry.detail)}"
        if entry.removed_at:
            row += f"  [REMOVED {entry.removed_at} by {printable(entry.removed_by)}"
            row += f": {printable(entry.removed_note)}]" if entry.removed_note else "]"
        lines.append(row)
    if extra.last_action:
        lines.append("")
        lines.append(f"Last action or notice: {extra.last_action}")
    lines.append("")
    lines.append(WHAT_NOW)
    lines.extend(f"  {line}" for line in what_now(job, extra))
    return "\n".join(lines) + "\n"


#: Said with every "send its manifest with reprint: true": the manifest kept in a job's folder is
#: the whole order's, and sent as it is it makes every job in it again (audit BB D1: the order's
#: delivered jobs printed a second time for one rejected job).
ONLY_THIS_JOB = (
    ", with only this job's entry in it (the manifest kept here lists the order's every job: each one "
    "listed is made again)"
)


def _until_retention(extra: Extra) -> str:
    """How long a finished job's folder stays where it is (review HV 3: "until retention removes
    it" of a folder moved or renamed by hand, which retention leaves alone)."""
    if extra.kept_by_hand:
        return " Retention does not delete it here (see above): it stays until you move or delete it."
    return " It stays here until retention removes it."


def what_now(job: Job, extra: Extra) -> list[str]:
    target = extra.target or "its hot folder"
    send = "finish it (no hot folder is configured for it)" if target == "skip" else f"send this job to {target}"
    fp = f'\n  To approve exactly this artwork, add a line "artwork: {extra.fingerprint}".' if extra.fingerprint else ""
    missing = (
        f"Hot folder {target}, which this job's manifest names, is not in the config (any more): ask the"
        " administrator to add it again (and reload) first, or the delivery fails."
    )
    if job.stage is Stage.HELD:
        return [
            *([missing] if extra.target_missing else []),
            f"Open the output PDF and check it. Drop a file named RELEASE here to {send}"
            # (audit AV: "to send this job to spare" under the line saying spare is gone)
            + (" once it is in the config again (released before, the job fails)" if extra.target_missing else "")
            + f". Write your name on its first line and a note below it if you like.{fp}",
            "To change the artwork, put the corrected PDF into replace/"
            + (_UNDER_ITS_NAME if extra.several_artwork else "")
            + ": the output is made again and the job stays blocked until you release it. Never overwrite the"
            " files in artwork/ or output/: only the checked output is sent.",
            "To stop the job, drop a file named REJECT here.",
        ]
    if job.stage is Stage.FAILED and extra.pdf_delivered:
        return [
            f"Read ERROR.txt: {job.error}" if job.error else "Read ERROR.txt.",
            "The PDF is in the hot folder already; only its job ticket is missing. Fix the cause, then drop a "
            "file named RETRY here to write the ticket (the PDF is not copied again), or drop REJECT to leave "
            "the PDF without it. New artwork is refused: to print the job again, send its manifest with "
            "reprint: true" + ONLY_THIS_JOB + ".",
        ]
    if job.stage is Stage.FAILED and extra.may_still_arrive:
        return [
            f"Read ERROR.txt: {job.error}" if job.error else "Read ERROR.txt.",
            f"Wait: {extra.may_still_arrive} may already be in hot folder {target}, or still arrive there (its "
            "rename into it had not returned when the attempts ran out); the daemon records it as soon as the hot "
            "folder answers. If it does not arrive, fix the cause (is the share's server up, the share mounted?), "
            "then drop a file named RETRY here. REJECT is refused until it is known whether the PDF arrived.",
        ]
    if (
        job.stage is Stage.FAILED
        and job.status is JobStatus.CopyToHotFolderFailed
        and " cannot be told" in (job.error or "")
    ):
        # Whether it printed is not known: "fix the hot folder, then RETRY" invited a second print
        # of a file the printer had (audit AG R3; ERROR.txt said so, STATUS.txt did not).
        return [
            f"Read ERROR.txt: {job.error}",
            f"Look whether the printer received the job's file (its queue, or hot folder {target}): if it did "
            "not, drop a file named RETRY here and it is copied again; if it did, drop REJECT to close the job "
            "without a second copy.",
        ]
    if job.stage is Stage.FAILED and job.status is JobStatus.CopyToHotFolderFailed:
        # The output is good; the hot folder was not: new artwork is not what it needs.
        error = job.error or ""
        fix = (
            f"Have hot folder {target} added to the config again (and reloaded)"
            if extra.target_missing
            # (a reprint's file, a file of the same name the printer has not taken: audit Z)
            else f"Let the printer take the file of the same name waiting in hot folder {target}, or move it away"
            if " is already waiting in hot folder " in error
            else f"Move the folder of the same name out of hot folder {target}"
            if "a folder named " in error and " is in hot folder " in error
            else "Fix the hot folder (is the share mounted, writable, with free space?)"
        )
        return [
            f"Read ERROR.txt: {job.error}" if job.error else "Read ERROR.txt.",
            f"{fix}, then drop a file named RETRY"
            f" here to try sending the job to {target} again (its artwork is checked and the output made again first),"
            " or drop REJECT to stop the job.",
        ]
    if job.stage is Stage.FAILED:
        steps = [f"Read ERROR.txt: {job.error}" if job.error else "Read ERROR.txt."]
        replacement = (
            "into replace/" + (_UNDER_ITS_NAME if extra.several_artwork else "") + " (the output is made again)"
        )
        if MAY_NOT_READ in (job.error or ""):
            # (audit BW: a good PDF the daemon may not read was offered "a corrected PDF" first)
            ways = (
                "a file named RETRY here, once the file's owner has given the daemon's group read permission;"
                f" a readable copy {replacement}; or REJECT to stop the job."
            )
        else:
            ways = (
                f"a corrected PDF {replacement}; a file named RETRY here, once the cause is fixed (RETRY checks the"
                " files as they are: it helps after a change of the config, reloaded, or of the daemon's disk or"
                " folders, not for a bad PDF); or REJECT to stop the job."
            )
        steps.append(f'Do what ERROR.txt says under "How to fix it". The ways on from here: {ways}')
        if job.blocked:
            steps.append(
                "This job is also blocked: after a good replacement (or RETRY) it goes back to quarantine/"
                f"{job.job_id} and waits there for RELEASE again. To approve it in advance instead, drop RELEASE"
                " here now: it then goes on to delivery as soon as its output is made (not once new artwork comes"
                " with a manifest sent again: that waits for a release)."
            )
        return steps
    # done/ and rejected/ are not watched: say so, or a RETRY dropped there would wait forever unanswered.
    if job.stage is Stage.DONE and job.status is JobStatus.CopyToHotFolderSkipped:
        # Not printed: "to print the job again" would promise a print that a reprint alone does not
        # give (the same routes skip it again; audit Z).
        return [
            "Nothing: the job is finished without printing (no hot folder for it: CopyToHotFolderSkipped)."
            + _until_retention(extra),
            "Files dropped here (RELEASE, REJECT, RETRY, replace/) are not read: to print it, send its manifest"
            " again with reprint: true and a hot_folder" + ONLY_THIS_JOB + ", or once the routes send its product"
            " to one.",
        ]
    if job.stage is Stage.DONE:
        return [
            "Nothing: the job is finished." + _until_retention(extra),
            "Files dropped here (RELEASE, REJECT, RETRY, replace/) are not read: to print the job again, send its"
            " manifest with reprint: true" + ONLY_THIS_JOB + ".",
        ]
    if job.stage is Stage.REJECTED:
        return [
            "Nothing: the job was rejected. Send its manifest again with reprint: true to make it again"
            + ONLY_THIS_JOB
            + ".",
            "Files dropped here (RELEASE, RETRY, replace/) are not read.",
        ]
    if job.stage is Stage.AWAITING:
        # (a file set aside for it, see above, is handed over by the operator: audit CI 5)
        held = extra.unmovable  # (as it is now: review HU 2, the history's said so after the file was gone)
        if held is not None:
            # (review BT 3: "waits for its artwork files to arrive" of a file there, which root
            # must make movable)
            until = f" (until {job.awaiting_until}; then it fails: artwork not taken)" if job.awaiting_until else ""
            return [
                f"The artwork is in the inbox, but the daemon may not take it: {held}. It is taken once it may{until}.",
                *_blocked_while_waiting(job, send),
            ]
        until = f" (until {job.awaiting_until}; then it fails: artwork missing)" if job.awaiting_until else ""
        return [
            f"Nothing yet: the job waits for its artwork files to arrive in the inbox{until}.",
            f"If a file of it is elsewhere (set aside in failed/, or sent under another name): "
            f"spo-hotfolder replace {job.job_id} FILE.pdf (for a job of several files, FILE.pdf named as the one it "
            "stands for)",
            *_blocked_while_waiting(job, send),
        ]
    if job.stage is Stage.FUTURE:
        return [
            f"Nothing yet: the job waits until {job.process_after} (process_after in its manifest).",
            *_blocked_while_waiting(job, send),
        ]
    if job.stage is Stage.RETRY and job.status is JobStatus.OutputCreationFailed:
        return [
            f"Nothing: the output could not be written, as the spool disk is full; it is made again at "
            f"{job.next_attempt_at}. Free some space on that disk (ask the administrator)."
        ]
    if job.stage is Stage.RETRY:
        return [
            f"Nothing: the copy into the hot folder failed and is tried again at {job.next_attempt_at}."
            " Fix the hot folder if you can; to try again at once: spo-hotfolder retry "
            f"{job.job_id}. After the last attempt the job goes to failed/, where RETRY tries it again. To stop"
            " the job: drop a file named REJECT here (read before the next attempt), or spo-hotfolder reject"
            f" {job.job_id}."
        ]
    return ["Nothing: the job is being processed (if the daemon is stopped, it goes on when the daemon starts)."]


def _blocked_while_waiting(job: Job, send: str) -> list[str]:
    """What a blocked job waiting in work/ (for its artwork or its date) offers: drop files act there
    too (audit 12-05 K)."""
    if not job.blocked:
        return []
    return [
        f"It is blocked: it waits in quarantine/ for RELEASE once its output is made. To {send} as soon as its"
        " output is made instead (a release given in advance, without seeing the output), drop a file named"
        " RELEASE here; to stop it, drop REJECT here (read before the job goes on)."
    ]


#: Where a replacement for one of several artwork files is named, as the operator is told.
_UNDER_ITS_NAME = " under the name of the file it replaces (as in artwork/, or in ERROR.txt for one that never came)"


def error_text(title: str, problems: Sequence[str], fix: str) -> str:
    lines = [title, ""]
    if problems:  # (none: the title says it all; no empty list between two blank lines)
        lines.extend(f"  - {p}" for p in problems)
        lines.append("")
    lines.append("How to fix it:")
    lines.append(f"  {fix}")
    return "\n".join(lines) + "\n"
