"""Order manifests: bytes -> Manifest (pure; no filesystem access).

A manifest is JSON or YAML, in the order form (``jobs: [...]``) or the single-job form (the keys of
one job beside ``order_id``). Every problem is reported at once: parse errors with line and column,
schema errors with the key path (and the line where it is known), each with a hint how to fix it.
"""

from __future__ import annotations

import contextlib
import filecmp
import fnmatch
import json
import math
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from spo_hotfolder.digests import sha256_of
from spo_hotfolder.fsutil import belongs_to, name_key, safe_name, windows_device
from spo_hotfolder.yamlsource import (
    IGNORABLE,
    Document,
    JsonFloat,
    SourceError,
    decode,
    describe,
    did_you_mean,
    join_index,
    join_key,
    lf_line_ends,
    load,
    open_value_at_end,
    parent_path,
)

if TYPE_CHECKING:
    from spo_hotfolder.ledger import Job


@dataclass(frozen=True, slots=True)
class ArtworkRef:
    path: str  # relative POSIX path inside the manifest's folder, normalised, never '..'
    sha256: str | None = None  # lower-case hex, 64 chars


@dataclass(frozen=True, slots=True)
class JobSpec:
    job_id: str
    product: str
    quantity: int
    artwork: tuple[ArtworkRef, ...]
    hot_folder: str | None = None
    attributes: Mapping[str, Any] = None  # type: ignore[assignment]  # set to {} by the parser


@dataclass(frozen=True, slots=True)
class Manifest:
    order_id: str
    jobs: tuple[JobSpec, ...]
    format: Literal["json", "yaml"]
    customer: str | None = None
    blocked: bool | None = None  # None: the config's blocking rules decide
    process_after: datetime | None = None  # timezone-aware UTC
    reprint: bool = False
    process_after_zoned: bool = True  # False: the manifest gave no time zone (taken as UTC)


def _zone_given(value: object) -> bool:
    """Whether a valid ``process_after`` value names its time zone (an unquoted YAML date, or a
    time without an offset, does not: it is taken as UTC)."""
    if isinstance(value, datetime):
        return value.tzinfo is not None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip().upper()).tzinfo is not None
        except ValueError:
            return True
    return False


class ManifestError(Exception):
    """The manifest cannot be used; ``problems`` lists every problem in plain words."""

    def __init__(self, problems: list[str], *, cut_off: bool = False) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        #: The text ends inside the manifest (an open bracket or flow collection at the end of the
        #: file): perhaps still being written by a writer that paused, or cut short.
        self.cut_off = cut_off


MAX_MANIFEST_BYTES = 1024 * 1024
#: A manifest is a *.json / *.yaml / *.yml at the top of the inbox, or one of these names in a
#: folder directly inside it (a folder drop).
MANIFEST_SUFFIXES = (".json", ".yaml", ".yml")
MANIFEST_NAMES = ("manifest.json", "manifest.yaml", "manifest.yml")
MAX_PROBLEMS = 50  # an ERROR.txt with thousands of lines helps nobody
ORDER_KEYS: tuple[str, ...] = ("order_id", "customer", "blocked", "process_after", "reprint", "jobs")
JOB_KEYS: tuple[str, ...] = ("job_id", "product", "quantity", "hot_folder", "artwork", "attributes")
ARTWORK_KEYS: tuple[str, ...] = ("path", "sha256")
_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")


def misnamed_manifest(name: str) -> str | None:
    """The manifest's name meant by ``name`` where it ends in a dot or a space ("order.yaml.",
    "order.yaml ", as an SMB or FTP client can leave it, unseen in Windows), which is not taken as
    a manifest; None for any other name."""
    meant = name.rstrip(". ")
    return meant if meant != name and meant.lower().endswith(MANIFEST_SUFFIXES) else None


def name_ending(name: str) -> str:
    """What a name that ends in a dot or a space ends in, in words."""
    return "a dot" if name.endswith(".") else "a space"


def is_job_id(text: str) -> bool:
    """Whether ``text`` can be an order or job id (SPEC 5: what a job folder is named)."""
    return bool(_ID_RE.fullmatch(text)) and not text.startswith(".")


#: The ledger stores quantities as SQLite integers (64-bit).
MAX_QUANTITY = 2**63 - 1
_SHA256_RE = re.compile(r"[0-9A-Fa-f]{64}")
_ID_RULE = "1 to 64 letters A-Z or a-z (no accents), digits, '.', '_' or '-', not starting with '.'"


def manifest_format(filename: str) -> Literal["json", "yaml"]:
    """``.json`` is JSON; ``.yaml``, ``.yml`` and anything else is YAML."""
    return "json" if PurePosixPath(filename).suffix.lower() == ".json" else "yaml"


def parse_manifest(
    data: bytes,
    filename: str,
    hot_folders: Collection[str],
    *,
    base: Path | None = None,
    ignore: Sequence[str] = (),
    top_level: bool | None = None,
) -> Manifest:
    """Parses and validates a manifest; ``filename`` picks the format by extension. ``top_level``:
    the manifest lies in ``inbox/`` itself, not in a folder drop (None: told by its name). With ``base``
    (the manifest's folder), an artwork path that names a folder there is a problem; one with a
    part that matches ``ignore`` (``watch.ignore``) too: such a file is never taken, and the job
    would wait for it until ``artwork_timeout_seconds`` and then fail as if it were missing. Both
    are said at the artwork's key path and line, as every other problem (audit BU 4)."""
    fmt = manifest_format(filename)
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(
            [
                "the file is larger than 1 MiB, the most a manifest may be (about 5,000 jobs): if it is a "
                "manifest, split the order into several manifests; if it is artwork, it has a manifest's name"
            ]
        )
    empty = "the file is empty; a manifest needs at least order_id, product, quantity and artwork"
    if not data.strip():
        raise ManifestError([empty])
    try:
        document = load(data, fmt)
    except SourceError as exc:
        message = exc.message
        cut_off = exc.syntax and (exc.runs_to_the_end or _at_the_end(data, exc))
        if exc.syntax and fmt == "json" and _reads_as_yaml(data):
            cut_off = False
            message += (
                f"; the file is YAML, not JSON: rename it to {PurePosixPath(filename).stem}.yaml (a file named "
                ".json is read as JSON)"
            )
        elif cut_off:
            message += "; the file ends before the manifest does: was it cut off, or is a closing bracket missing?"
        elif exc.syntax and fmt == "yaml":
            message += "; check the indentation and quoting near that line"
        elif exc.syntax:
            message += _json_hint(data, exc) or "; check for a missing or extra comma, quote or bracket near that point"
        location = exc.location()
        raise ManifestError([f"{location}: {message}" if location else message], cut_off=cut_off) from None
    if document.value is None:
        raise ManifestError(
            [
                "the file holds no keys (only comments, or a null value such as null or ~); a manifest needs at "
                "least order_id, product, quantity and artwork"
            ]
        )
    if not isinstance(document.value, dict):
        raise ManifestError(
            [f"the manifest must be a mapping of keys (order_id: ..., jobs: ...), not {describe(document.value)}"]
        )
    halves = _surrogate_problems(document)
    if halves:
        raise ManifestError(halves)
    name = PurePosixPath(filename).name
    if top_level is None:
        top_level = name.lower() not in MANIFEST_NAMES
    reader = _ManifestReader(document, fmt, hot_folders, name, base=base, ignore=ignore, top_level=top_level)
    return reader.read(document.value)


def _reads_as_yaml(data: bytes) -> bool:
    """Whether a file named .json that is no JSON is a YAML manifest (a mapping; not JSON's own
    brackets, which YAML reads more leniently: a trailing comma is no sign of YAML)."""
    try:
        text = decode(data)
        if text.lstrip()[:1] in ("{", "["):
            return False
        return isinstance(load(text, "yaml").value, dict)
    except (SourceError, RecursionError, ValueError):
        return False


_SURROGATE = re.compile("[\ud800-\udfff]")


def _shown(text: str) -> str:
    """``text`` with each lone surrogate as its escape (``\\ud83d``): writable as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _surrogate_problems(document: Document) -> list[str]:
    """A key or text holding half of a UTF-16 surrogate pair (JSON's and YAML's ``"\\ud83d"``
    escape without its other half): no character, which no file name, ledger or JSON output can
    hold (audit: the daemon took it, and `jobs --json` then failed for every job). Said at its key
    path, before anything else is read: no other message then quotes it."""
    found: list[tuple[int, str]] = []
    stack: list[tuple[object, str]] = [(document.value, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str) and _SURROGATE.search(value):
            found.append(_surrogate_problem(document, path, _SURROGATE.search(value), what="its text"))
        elif isinstance(value, dict):
            for key, item in value.items():
                sub = join_key(path, key)
                if isinstance(key, str) and _SURROGATE.search(key):
                    found.append(_surrogate_problem(document, sub, _SURROGATE.search(key), what="this key"))
                else:
                    stack.append((item, sub))
        elif isinstance(value, list):
            stack.extend((item, join_index(path, index)) for index, item in enumerate(value))
    return [text for _, text in sorted(found)][:MAX_PROBLEMS]


def _surrogate_problem(document: Document, path: str, match: re.Match[str] | None, *, what: str) -> tuple[int, str]:
    half = _shown(match.group()) if match is not None else "?"
    line = document.line(path)
    where = _shown(path) or "the manifest"
    return line or 0, (
        (f"line {line}: " if line is not None else "")
        + f"{where}: {what} holds {half}, one half of a UTF-16 surrogate pair (an escape such as \\ud83d\\ude00 "
        "written without its other half), which is no character: write the character itself, or both halves of "
        "its escape"
    )


def _json_hint(data: bytes, exc: SourceError) -> str | None:
    """What a JSON syntax error most likely is where the parser's words do not say it (audit BN:
    "Expecting value" for a comment, "Expecting property name" for a comma after the last item).
    Where the fault is before the point the parser noticed it (a comma too many, or one missing, at
    the end of an earlier line), ``exc`` is moved there (helper FA 3: the line after was named)."""
    if exc.line is None or exc.column is None:
        return None
    lines = _lines(data)
    if exc.line > len(lines):
        return None
    here = lines[exc.line - 1][exc.column - 1 :].lstrip()
    if here.startswith(("//", "/*", "#")):
        return (
            "; JSON allows no comments: remove it (or send the manifest as YAML, manifest.yaml, where a "
            "comment starts with #)"
        )
    before = "\n".join([*lines[: exc.line - 1], lines[exc.line - 1][: exc.column - 1]]).rstrip()
    if here.startswith(("}", "]")) and before.endswith(","):
        exc.line, exc.column = _end_of(before)
        return "; JSON allows no comma after the last item of a list or object: remove this comma"
    if exc.message.endswith("Expecting ',' delimiter") and before and before.count("\n") < exc.line - 1:
        # (the item before ends on an earlier line: the comma is missing at its end)
        exc.line, exc.column = _end_of(before)
        exc.column += 1
        return (
            "; a comma is missing here, at the end of this line: JSON separates the items of a list or object "
            "with commas"
        )
    return None


def _end_of(text: str) -> tuple[int, int]:
    """(line, column) of the last character of ``text``."""
    return text.count("\n") + 1, len(text) - text.rfind("\n") - 1


def _lines(data: bytes) -> list[str]:
    """A manifest's lines as its parser counts them (a line break may be CR LF, LF or CR alone)."""
    try:
        text = decode(data)
    except SourceError:
        text = data.decode("utf-8", "replace")
    return lf_line_ends(text).split("\n")


def _at_the_end(data: bytes, exc: SourceError) -> bool:
    """Whether a syntax error is reported at the very end of the text (a truncated file)."""
    lines = "\n".join(_lines(data)).rstrip().split("\n")
    if exc.line is None or exc.column is None:
        return False
    return exc.line > len(lines) or (exc.line == len(lines) and exc.column > len(lines[-1]))


#: The longest file name (one path component) and path, in bytes, Linux's filesystems and SMB allow.
NAME_MAX_BYTES = 255
PATH_MAX_BYTES = 4096
#: A path that is a URL ("https:", "file:") or starts with a Windows drive ("C:"): never a relative path.
_URL_OR_DRIVE = re.compile(r"([A-Za-z]|[A-Za-z][A-Za-z0-9+.-]*(?=:/)):")

#: How deep maps and lists may nest in an order's attributes.
_ATTRIBUTE_DEPTH = 10


class _Missing:
    pass


_MISSING = _Missing()


_A_PDF = '"a.pdf"'  # an artwork list's item, in a message


class _ManifestReader:
    def __init__(
        self,
        document: Document,
        fmt: Literal["json", "yaml"],
        hot_folders: Collection[str],
        name: str = "",
        *,
        base: Path | None = None,
        ignore: Sequence[str] = (),
        top_level: bool = True,
    ) -> None:
        self.document = document
        self.name = name  # the manifest's own file name: no artwork
        self.top_level = top_level  # in inbox/ itself, where a file of a manifest's name is one
        self.base = base
        self.ignore = tuple(ignore)
        self.fmt = fmt
        self.hot_folders = tuple(hot_folders)
        self.problems: list[tuple[int, str]] = []  # (line, or 0 when unknown; text)
        # job id in lower case (a Windows share's folders) -> the id as given, where ("jobs[0]")
        self.job_ids: dict[str, tuple[str, str]] = {}
        for problem in document.problems:
            self.problems.append((problem.line, f"line {problem.line}: {problem.path}: {problem.message}"))

    # -- reporting

    def line(self, path: str) -> int | None:
        while path:
            if path in self.document.lines:
                return self.document.lines[path]
            path = parent_path(path)
        return None  # the top of the document says nothing useful

    def _closed_folder(self, kept: list[str]) -> str | None:
        """The folder on an artwork path that the daemon may not look into (uploaded with umask
        077), whose it is and the fix (audit BU 7: "check the name" of a right name)."""
        if self.base is None:
            return None
        for end in range(1, len(kept)):
            folder = self.base.joinpath(*kept[:end])
            if not os.access(folder, os.R_OK | os.X_OK):
                with contextlib.suppress(OSError):
                    return (
                        f"its folder {'/'.join(kept[:end])}/ {belongs_to(folder.stat())}, and the daemon may not "
                        "look into it: let the daemon's group read and change it (chmod -R g+rwX; uploads with "
                        "umask 0002), then put the order into inbox/ again"
                    )
        return None

    def problem(self, path: str, message: str) -> None:
        line = self.line(path)
        text = f"{path}: {message}" if path else message
        self.problems.append((line, f"line {line}: {text}") if line is not None else (0, text))

    def unknown_key(self, path: str, key: str, allowed: tuple[str, ...]) -> None:
        suggestion = did_you_mean(key, allowed)
        if suggestion is not None:
            self.problem(path, f"unknown key '{key}'; did you mean '{suggestion}'?")
        else:
            self.problem(path, f"unknown key '{key}'; the keys allowed here are: {', '.join(allowed)}")

    # -- values

    def text(self, value: object, path: str, what: str) -> str | None:
        """Text, or a whole number written without quotes (storefronts send numeric ids)."""
        if isinstance(value, int) and not isinstance(value, bool):
            if self._reads_otherwise(path, value):  # e.g. 00123, read by YAML as octal 83
                source = self.document.number_text(path)
                self.problem(path, f'write {source} in quotes ("{source}") so it is read as text')
                return None
            return str(value)
        if isinstance(value, str):
            return value
        advice = (
            "give it a value"
            if value is None
            else "give one value, not a list or a mapping"
            if isinstance(value, list | dict)
            else "put it in quotes"  # (a number or a date read as such: quoted, it is text)
        )
        self.problem(path, f"must be {what} (got {describe(value)}); {advice}")
        return None

    def identifier(self, value: object, path: str, what: str, *, folder: bool = False) -> str | None:
        """``folder``: the id names a job folder, which operators open from Windows too."""
        text = self.text(value, path, what)
        if text is None:
            return None
        if not is_job_id(text):
            self.problem(path, f"must be {_ID_RULE} (got {describe(text)})")
            return None
        device = folder and windows_device(text)
        if device or (folder and text.endswith(".")):
            # quarantine/CON/ showed over SMB as CSHOFG~F, quarantine/x./ as WGB08M~D (audit S 1).
            what_it_is = (
                "a name Windows keeps for a device (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with any extension)"
                if device
                else "a name ending with '.', which Windows removes"
            )
            self.problem(
                path,
                f"{describe(text)} is {what_it_is}: the job's folder could not be opened from Windows (over a "
                "share it shows under a made-up short name); give the job another id",
            )
            return None
        return text

    def optional_bool(self, top: dict[str, object], key: str) -> bool | None:
        value = top.get(key)
        if value is None or isinstance(value, bool):
            return value
        self.problem(key, f"must be true or false (got {describe(value)})")
        return None

    def process_after(self, value: object) -> datetime | None:
        if value is None:
            return None
        moment: datetime | None = None
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):  # an unquoted YAML date: midnight
            moment = datetime(value.year, value.month, value.day)
        elif isinstance(value, str):
            try:
                # RFC 3339 allows "t" and "z" in lower case; Python's parser takes upper case only.
                moment = datetime.fromisoformat(value.strip().upper())
            except ValueError as exc:
                if not str(exc).startswith("Invalid isoformat"):
                    # Written as a date and time, but no such moment: say which part is wrong (audit
                    # BY 2: "must be an ISO 8601 date and time" of "2026-02-30T10:00:00Z").
                    why = "its UTC offset must be under 24 hours" if str(exc).startswith("offset") else str(exc)
                    self.problem("process_after", f"is not a real date and time: {why} (got {describe(value)})")
                    return None
        if moment is None:
            self.problem(
                "process_after",
                f'must be an ISO 8601 date and time, e.g. "2026-12-01T08:00:00+00:00" (got {describe(value)})',
            )
            return None
        try:
            # No offset given: UTC. An offset may carry a moment past year 1 or 9999 (OverflowError).
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        except OverflowError:
            moment = None
        if moment is None or moment.year >= 9999:  # the last year leaves no room for the scheduler
            self.problem(
                "process_after",
                f"is out of range (got {describe(value)}); give a date from the year 1 to the year 9998 (in UTC)",
            )
            return None
        return moment

    # -- structure

    def read(self, top: dict[object, object]) -> Manifest:
        keys = {str(key): value for key, value in top.items()}
        has_jobs = "jobs" in keys
        for key in keys:
            if key not in ORDER_KEYS and key not in JOB_KEYS:
                self.unknown_key(key, key, ORDER_KEYS + JOB_KEYS)
            elif has_jobs and key in JOB_KEYS:
                self.problem(
                    key,
                    f"'{key}' belongs inside an entry of 'jobs:'; a manifest either lists its jobs "
                    "under 'jobs:' or gives one job's keys at the top, not both",
                )
        order_id: str | None = None
        if "order_id" not in keys:
            self.problem("order_id", 'missing; every manifest needs the order\'s id, e.g. order_id: "100234"')
        else:
            order_id = self.identifier(keys["order_id"], "order_id", "the order's id")
        customer = None
        if keys.get("customer") is not None:
            customer = self.text(keys["customer"], "customer", "the customer's name")
        blocked = self.optional_bool(keys, "blocked")
        reprint = self.optional_bool(keys, "reprint") or False
        process_after = self.process_after(keys.get("process_after"))
        zoned = process_after is None or _zone_given(keys.get("process_after"))

        jobs: list[JobSpec] = []
        if has_jobs:
            raw_jobs = keys["jobs"]
            if not isinstance(raw_jobs, list) or not raw_jobs:
                self.problem(
                    "jobs",
                    f"must be a list of at least one job, {self._list_form('{...}')} (got {describe(raw_jobs)})",
                )
                raw_jobs = []
            for index, item in enumerate(raw_jobs):
                path = join_index("jobs", index)
                if not isinstance(item, dict):
                    self.problem(
                        path,
                        f"must be a job: a mapping with product, quantity, artwork (got {describe(item)})",
                    )
                    continue
                job = self.job({str(key): value for key, value in item.items()}, path, index + 1, order_id)
                if job is not None:
                    jobs.append(job)
        elif not any(key in JOB_KEYS for key in keys):
            self.problem(
                "jobs",
                "missing; list the order's jobs under 'jobs:', or give one job's product, quantity and "
                "artwork at the top beside order_id",
            )
        else:
            job = self.job({key: value for key, value in keys.items() if key in JOB_KEYS}, "", 1, order_id)
            if job is not None:
                jobs.append(job)

        if self.problems or order_id is None:
            # In document order, so the list reads top to bottom like the file.
            problems = [text for _, text in sorted(self.problems, key=lambda problem: problem[0])]
            if len(problems) > MAX_PROBLEMS:
                problems = [*problems[:MAX_PROBLEMS], f"... and {len(problems) - MAX_PROBLEMS} more problems"]
            raise ManifestError(problems)
        return Manifest(
            order_id=order_id,
            jobs=tuple(jobs),
            format=self.fmt,
            customer=customer,
            blocked=blocked,
            process_after=process_after,
            reprint=reprint,
            process_after_zoned=zoned,
        )

    def job(self, spec: dict[str, object], path: str, number: int, order_id: str | None) -> JobSpec | None:
        if path:  # the jobs form; in the single-job form the top level was checked already
            for key in spec:
                key_path = join_key(path, key)
                if key in ORDER_KEYS:
                    self.problem(key_path, f"'{key}' belongs at the top of the manifest, beside order_id")
                elif key not in JOB_KEYS:
                    self.unknown_key(key_path, key, JOB_KEYS)
        ok = True

        job_id: str | None
        if spec.get("job_id") is not None:
            job_id = self.identifier(spec["job_id"], join_key(path, "job_id"), "the job's id", folder=True)
            ok = ok and job_id is not None
        else:
            # (SPEC 5: order_id may be 64 characters long; its default job ids are then longer, which
            # nothing else limits: only an id written in the manifest is held to 64.)
            job_id = f"{order_id}-{number}" if order_id is not None else None
            if job_id is not None and windows_device(job_id):
                # ("aux.77" makes aux.77-1: a device's name with an extension, as an id given so is
                # refused; audit BN D2, its folder made and delivered)
                self.problem(
                    "order_id",
                    f"{describe(order_id)} makes the job id {describe(job_id)}, a name Windows keeps for a device "
                    "(CON, PRN, AUX, NUL, COM1-9, LPT1-9, with any extension): the job's folder could not be "
                    "opened from Windows; give the job a job_id of its own",
                )
                ok = False
        if job_id is not None and path:
            ok = self.register_job_id(job_id, path, spec.get("job_id") is not None) and ok

        product = self.product(spec, path)
        quantity = self.quantity(spec, path)
        hot_folder = self.hot_folder(spec.get("hot_folder"), join_key(path, "hot_folder"))
        artwork = self.artwork(spec, path)
        attributes = self.attributes(spec.get("attributes"), join_key(path, "attributes"))
        if (
            not ok
            or job_id is None
            or product is None
            or quantity is None
            or artwork is None
            or attributes is None
            or (spec.get("hot_folder") is not None and hot_folder is None)
        ):
            return None
        return JobSpec(
            job_id=job_id,
            product=product,
            quantity=quantity,
            artwork=artwork,
            hot_folder=hot_folder,
            attributes=attributes,
        )

    def product(self, spec: dict[str, object], path: str) -> str | None:
        key_path = join_key(path, "product")
        if "product" not in spec:
            self.problem(key_path, 'missing; every job needs its product, e.g. product: "bc-85x55"')
            return None
        product = self.text(spec["product"], key_path, "the product's name")
        if product is None:
            return None
        if not product.strip():
            self.problem(key_path, "must not be empty")
            return None
        if _has_control(product):
            # ('/' and the like are fine: a file name made of it gets '_' in their place, SPEC 5)
            self.problem(key_path, f"must not contain control characters (got {describe(product)})")
            return None
        # Routes, blocking and product specs match the name as written: " blk-a" (or one behind a
        # zero-width space) matched none of "blk-*" and went to print unblocked, unchecked (audit AH 1).
        if product != product.strip():
            self.problem(
                key_path, f"must not begin or end with a space (got {describe(product)}); write the name alone"
            )
            return None
        if _invisible(product):
            self.problem(
                key_path,
                f"must not contain invisible characters (got {describe(product)}, a zero-width space or the like, "
                "pasted with the name?); type the name again",
            )
            return None
        return product

    def quantity(self, spec: dict[str, object], path: str) -> int | None:
        key_path = join_key(path, "quantity")
        if "quantity" not in spec:
            self.problem(key_path, "missing; every job needs the number of copies, e.g. quantity: 500")
            return None
        value = spec["quantity"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.problem(key_path, f"must be a whole number of at least 1 (got {describe(value)})")
            return None
        source = self.document.number_text(key_path)
        if source is not None and source != str(value):
            # YAML reads 0250 as octal 168, 1:30 as 90 (base 60), 0x10 as 16: never print a guess.
            self.problem(
                key_path,
                f"write the number of copies in plain digits, with no leading zero, sign, separator or "
                f"prefix (got {source}, which YAML reads as {value})",
            )
            return None
        if value > MAX_QUANTITY:
            self.problem(key_path, f"is too large: at most {MAX_QUANTITY} (got {value})")
            return None
        return value

    def hot_folder(self, value: object, path: str) -> str | None:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            if self._reads_otherwise(path, value):
                # `hot_folder: 010` is 8 to YAML (octal), `0x8` too: the job went to hot folder "8"
                # (review FZ 1), as the config's `to: 010` is refused
                source = self.document.number_text(path)
                self.problem(path, f'write {source} in quotes ("{source}") so it is read as the hot folder\'s name')
                return None
            value = str(value)  # `hot_folder: 7` names the hot folder `7` (a config key YAML reads as a number)
        if isinstance(value, str) and value in self.hot_folders:
            return value
        configured = ", ".join(self.hot_folders) if self.hot_folders else "none are configured"
        if isinstance(value, str):
            message = f"no hot folder named {describe(value)} is configured"
        else:  # [indigo], {name: indigo}, 5: not "no hot folder named a list" (audit BA 8)
            message = f"must be the name of one hot folder, as text, not {describe(value)}"
        suggestion = did_you_mean(value, self.hot_folders) if isinstance(value, str) else None
        if suggestion is not None:
            message += f"; did you mean '{suggestion}'?"
        self.problem(path, f"{message} (hot folders: {configured}); leave it out to use the routes")
        return None

    def artwork(self, spec: dict[str, object], path: str) -> tuple[ArtworkRef, ...] | None:
        key_path = join_key(path, "artwork")
        if "artwork" not in spec:
            self.problem(key_path, 'missing; every job needs its artwork, e.g. artwork: ["100234-1.pdf"]')
            return None
        raw = spec["artwork"]
        if not isinstance(raw, list) or not raw:
            self.problem(
                key_path,
                f"must be a list of at least one artwork file, {self._list_form(_A_PDF)} (got {describe(raw)})",
            )
            return None
        refs: list[ArtworkRef] = []
        seen: dict[str, str] = {}
        ok = True
        for index, item in enumerate(raw):
            item_path = join_index(key_path, index)
            ref = self.artwork_ref(item, item_path)
            if ref is None:
                ok = False
                continue
            if ref.path in seen:
                self.problem(
                    item_path,
                    f"the file {describe(ref.path)} is listed twice ({seen[ref.path]} and {item_path}); "
                    "a job's artwork files are kept by name, so to print the same file twice (front and "
                    "back), send it a second time under another name and list that name",
                )
                ok = False
                continue
            seen[ref.path] = item_path
            refs.append(ref)
        return tuple(refs) if ok else None

    def artwork_ref(self, item: object, path: str) -> ArtworkRef | None:
        if isinstance(item, str):
            normalised = self.artwork_path(item, path)
            return ArtworkRef(path=normalised) if normalised is not None else None
        if not isinstance(item, dict):
            self.problem(path, f"must be a file path or a mapping with path: and sha256: (got {describe(item)})")
            return None
        spec = {str(key): value for key, value in item.items()}
        for key in spec:
            if key not in ARTWORK_KEYS:
                self.unknown_key(join_key(path, key), key, ARTWORK_KEYS)
        if "path" not in spec:
            self.problem(join_key(path, "path"), 'missing; give the artwork file\'s path, e.g. path: "front.pdf"')
            return None
        normalised = self.artwork_path(spec["path"], join_key(path, "path"))
        sha256: str | None = None
        raw_sha = spec.get("sha256")
        sha_ok = True
        if raw_sha is not None:
            if isinstance(raw_sha, str) and _SHA256_RE.fullmatch(raw_sha.strip()):
                sha256 = raw_sha.strip().lower()
            else:
                self.problem(
                    join_key(path, "sha256"),
                    f"must be the file's SHA-256 as 64 hexadecimal characters, in quotes (got {describe(raw_sha)})",
                )
                sha_ok = False
        if normalised is None or not sha_ok:
            return None
        return ArtworkRef(path=normalised, sha256=sha256)

    def artwork_path(self, value: object, path: str) -> str | None:
        if not isinstance(value, str) or not value:
            self.problem(
                path,
                f"must be a file path in quotes, relative to the manifest's folder (got {describe(value)})",
            )
            return None
        if _has_control(value):
            self.problem(path, f"must not contain control characters (got {describe(value)})")
            return None
        if "\\" in value:
            self.problem(path, f"must use '/' between folders, not '\\' (got {describe(value)})")
            return None
        if value.startswith("/"):
            self.problem(path, f"must be relative to the manifest's folder, not start with '/' (got {describe(value)})")
            return None
        scheme = _URL_OR_DRIVE.match(value)
        if scheme is not None:
            # "https://shop/x.pdf", "file:///x.pdf", "C:/orders/x.pdf": read as a relative name, it
            # waited an hour for a file that could never come (audit BU 2).
            what = "a drive" if len(scheme.group(1)) == 1 else "a URL"
            self.problem(
                path,
                f"must be a file path relative to the manifest's folder, not {what} ({scheme.group(0)!r}; got "
                f"{describe(value)}); put the PDF beside the manifest and give its name",
            )
            return None
        parts = value.split("/")
        if ".." in parts:
            self.problem(
                path,
                f"must not contain '..': artwork must be inside the manifest's folder (got {describe(value)})",
            )
            return None
        kept = [part for part in parts if part not in ("", ".")]
        if not kept or value.endswith("/"):
            self.problem(path, f"must name a file, not a folder (got {describe(value)})")
            return None
        ending = next((part[-1] for part in kept if part[-1] == "." or part != part.rstrip()), None)
        if ending is not None:
            # "v12.pdf " or "td.pdf." beside the file: it waited for a name that Windows never gives a
            # file (audit BA 3, BB 7); said here, not as a file missing an hour later.
            what = "dot" if ending == "." else "space"
            self.problem(
                path,
                f"{describe(value)}: a name in it ends with a {what}, which Windows removes from file names; "
                f"remove the {what}",
            )
            return None
        if kept == [self.name]:
            self.problem(path, f"is this manifest itself ({describe(value)}); list the artwork files (the PDFs)")
            return None
        # (By where the manifest is, not by its name: inbox/manifest.yaml is at the top too: audit CX 3.)
        if self.top_level and (
            (len(kept) == 1 and kept[0].lower().endswith(MANIFEST_SUFFIXES))
            or (len(kept) == 2 and kept[1].lower() in MANIFEST_NAMES)
        ):
            # Such a file in inbox/ is always taken as a manifest: as artwork it never arrives, and
            # the job waited an hour for it (audit BU 3).
            self.problem(
                path,
                f"names a manifest ({describe(value)}): a file there is taken as an order manifest, never as "
                "artwork; list the artwork files (the PDFs)",
            )
            return None
        for part in kept:
            pattern = next((p for p in self.ignore if fnmatch.fnmatchcase(part.lower(), p.lower())), None)
            if pattern is not None:
                self.problem(
                    path,
                    f"{describe(value)}: the name {describe(part)} matches watch.ignore ({describe(pattern)}), so "
                    "the daemon never takes that file; rename the file and its path in the manifest (or ask the "
                    "administrator to change watch.ignore)",
                )
                return None
        normalised = "/".join(kept)
        too_long = next((part for part in kept if len(os.fsencode(part)) > NAME_MAX_BYTES), None)
        if too_long is not None:
            # No file can have that name (Linux, ext4, SMB: 255 bytes): it waited for a file that
            # could never come, or the daemon's look at the path failed on every try (audit Q 1).
            self.problem(
                path,
                f"{describe(value)}: the name {describe(too_long)} is {len(os.fsencode(too_long))} "
                f"bytes long, and no file name can be longer than {NAME_MAX_BYTES}; give the PDF a shorter name",
            )
            return None
        whole = len(os.fsencode(str(self.base / normalised))) if self.base is not None else len(os.fsencode(value))
        if whole >= PATH_MAX_BYTES:
            self.problem(
                path,
                f"{describe(value)}: the whole path, from /, is {whole} bytes long, and no path can be "
                f"longer than {PATH_MAX_BYTES - 1}; put the PDF in a folder nearer the manifest, or give it a shorter "
                "name",
            )
            return None
        try:
            linked = next(
                (
                    "/".join(kept[:end])
                    for end in range(1, len(kept) + 1)
                    if self.base is not None and self.base.joinpath(*kept[:end]).is_symlink()
                ),
                None,
            )
            folder = self.base is not None and (self.base / normalised).is_dir()
        except OSError as exc:
            # (a name the filesystem refuses, a folder the daemon may not look into)
            closed = self._closed_folder(kept) if isinstance(exc, PermissionError) else None
            self.problem(
                path,
                f"{describe(value)}: the daemon cannot look at that path ({exc.strerror or exc}); "
                + (closed or "check the name"),
            )
            return None
        if linked is not None:
            # An unsafe path (SPEC 5): it leads out of the manifest's folder, to any file on the
            # server; the daemon never follows links (a link arriving later fails its job instead).
            what = "a symbolic link" if linked == normalised else f"under {linked}/, a symbolic link to a folder"
            self.problem(
                path,
                f"{describe(value)} is {what}, which the daemon does not follow (it could point at any file on the "
                "server); put the file itself there",
            )
            return None
        if folder:
            self.problem(
                path,
                f"{describe(value)} is a folder, not a file; list the PDF files in it (e.g. {normalised}/front.pdf)",
            )
            return None
        return normalised

    def attributes(self, value: object, path: str) -> dict[str, Any] | None:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(path, f"must be a mapping of 'name: value' pairs (got {describe(value)})")
            return None
        ok, result = self._free_form(value, path, 0)
        return result if ok and self._one_name_each(result, path) else None

    def _one_name_each(self, attributes: dict[str, Any], path: str) -> bool:
        """False (and a problem) when two attributes have one dotted name: ``"a.b": x`` beside
        ``a: {b: y}`` are both ``{attributes.a.b}`` to routes and file names, and one would be
        taken for the other (audit CX 1: the number written for one was kept for the other)."""
        seen: dict[str, str] = {}
        stack: list[tuple[dict[str, Any], str, list[str]]] = [(attributes, path, [])]
        while stack:
            mapping, where, names = stack.pop()
            for key, item in mapping.items():
                dotted = ".".join([*names, key])
                shown = f"{where}.{key}" if "." not in key else f"{where}['{key}']"
                if dotted in seen:
                    self.problem(
                        path,
                        f"{seen[dotted]} and {shown} are one name to routes and file names "
                        f"({{attributes.{dotted}}}), so one would be taken for the other; rename one of them",
                    )
                    return False
                seen[dotted] = shown
                if isinstance(item, dict):
                    stack.append((item, shown, [*names, key]))
        return True

    def _free_form(self, value: object, path: str, depth: int) -> tuple[bool, Any]:
        """An attribute's value as kept (SPEC 5: free-form): text, numbers, true/false, nothing,
        and maps and lists of them (audit BU 1: a nested map was refused). Numbers and dates read
        as written; names of map entries are text."""
        if isinstance(value, dict):
            if depth > _ATTRIBUTE_DEPTH:
                self.problem(path, f"is nested more than {_ATTRIBUTE_DEPTH} levels deep")
                return False, None
            result: dict[str, Any] = {}
            ok = True
            for key, item in value.items():
                key_path = join_key(path, key)
                if not isinstance(key, str) or not key:
                    self.problem(
                        key_path,
                        # (audit 12-05 D 2: "must be text ... put it in quotes" was said of "", quoted text)
                        "an attribute's name must not be empty; give it a name, or remove it"
                        if key == ""
                        else f"an attribute's name must be text (got {describe(key)}); put it in quotes",
                    )
                    ok = False
                    continue
                item_ok, result[key] = self._free_form(item, key_path, depth + 1)
                ok = ok and item_ok
            return ok, result
        if isinstance(value, list):
            if depth > _ATTRIBUTE_DEPTH:
                self.problem(path, f"is nested more than {_ATTRIBUTE_DEPTH} levels deep")
                return False, None
            items = []
            ok = True
            for index, item in enumerate(value):
                item_ok, kept = self._free_form(item, f"{path}[{index}]", depth + 1)
                items.append(kept)
                ok = ok and item_ok
            return ok, items
        if isinstance(value, float) and not math.isfinite(value):
            # JSON output (show --json, jobs --json, json tickets) has no NaN or Infinity.
            self.problem(path, f"must be a finite number (got {value!r}); put it in quotes if it is meant as text")
            return False, None
        if isinstance(value, JsonFloat):
            # (JSON: "1.50" kept as written, as YAML's is; a number written as it reads stays one)
            return True, value.text if value.text != repr(float(value)) else float(value)
        if isinstance(value, int | float) and self._reads_otherwise(path, value):
            # YAML reads 0250 as octal 168, 1:30 as 90, 1.50 as 1.5 and (YAML 1.1) no, off, yes,
            # on as false and true: a free-form value is kept as written (routes and file names
            # use it as text; "finish: no" must not become "false").
            return True, self.document.number_text(path)
        if value is None or isinstance(value, str | int | float | bool):
            return True, value
        if isinstance(value, date):  # an unquoted YAML date or time stamp: as written
            return True, self.document.number_text(path) or value.isoformat()
        self.problem(path, f"must be text, a number, true/false, or a map or list of them (got {describe(value)})")
        return False, None

    def _list_form(self, item: str) -> str:
        """How a list is written in this manifest's format."""
        return f"written [{item}, ...]" if self.fmt == "json" else "each starting with '- '"

    def _reads_otherwise(self, path: str, value: float) -> bool:
        """True when the plain YAML number or boolean at ``path`` was written otherwise than
        ``value`` reads (``true``/``false`` in any case read as written)."""
        source = self.document.number_text(path)
        if source is None:
            return False
        if isinstance(value, bool):
            return source.lower() != str(value).lower()
        return source != str(value)

    def register_job_id(self, job_id: str, path: str, explicit: bool) -> bool:
        """False (and a problem) when an earlier job of this manifest has the same id, or one in
        other letter case (their folders would be one on a Windows share)."""
        if job_id.lower() not in self.job_ids:
            self.job_ids[job_id.lower()] = (job_id, path)
            return True
        twin, where = self.job_ids[job_id.lower()]
        case = "" if twin == job_id else f" (as {describe(twin)}: letter case aside, as a Windows share sees folders)"
        self.problem(
            join_key(path, "job_id") if explicit else path,
            f"job id {describe(job_id)} is used twice{case} ({where} and {path}"
            f"{'' if explicit else ', by default'}); every job needs its own id",
        )
        return False


#: Characters that change the direction text is shown in (U+202E shows "x\u202em 500" as "x005 m"):
#: in a product or a file name they make STATUS.txt and `show` say other than what is meant (audit Q).
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _invisible(text: str) -> bool:
    """Whether ``text`` holds a character shown as nothing (or begins with a combining mark, shown
    on nothing): a name that looks like another and matches none of its globs."""
    if text and unicodedata.category(text[0]).startswith("M"):
        return True
    # (IGNORABLE: shown as nothing but no format characters (Cf); audit AK 5: "\ufe0fposter-a1")
    return any(unicodedata.category(char) == "Cf" or char in IGNORABLE for char in text)


def _has_control(text: str) -> bool:
    return any(ord(char) < 32 or ord(char) == 127 or char in _BIDI_CONTROLS for char in text)


def several_manifests(folder: Path) -> list[str]:
    """The manifest files in a folder drop (names of MANIFEST_NAMES, any letter case), sorted,
    when there is more than one: which order the folder is cannot be told, so none is read."""
    try:
        found = sorted(name for name in os.listdir(folder) if name.lower() in MANIFEST_NAMES)
    except OSError:
        return []
    return found if len(found) > 1 else []


def several_manifests_problem(names: list[str]) -> str:
    return (
        f"this folder holds {len(names)} manifests ({', '.join(names)}), and a folder drop holds one: none of them "
        "was read (their jobs would share or fight over the artwork in it); send the folder again with only the "
        "manifest it should use, or each order in a folder of its own"
    )


def cut_yaml_line(data: bytes, filename: str) -> list[str]:
    """A problem for a YAML manifest with no line break at its end that ends inside a value
    (``quantity: 5`` of ``quantity: 500``): an upload that was interrupted and never resumed (the
    daemon waits longer for such a file first, then it must not guess). Empty for JSON (its
    closing ``}`` is checked), for a text that ends with a line break, a comment, a closed value
    (a bracket, quoted text) or a document marker."""
    if manifest_format(filename) != "yaml":
        return []
    try:
        text = decode(data)
    except SourceError:
        return []  # said by the parser
    if not text or text.endswith(("\n", "\r")):
        return []
    last = open_value_at_end(text)
    if last is None:
        return []
    shown = last if len(last) <= 60 else last[:57] + "..."
    return [
        f"the file does not end with a line break, and its last line ({shown!r}) may have been cut off by an "
        "interrupted upload (as 'quantity: 5' is of 'quantity: 500'), so it was not used; if the file is complete, "
        "add a line break at its end (most editors do) and put it into inbox/ again, else send the whole file again"
    ]


# The names upload clients give a file until it is complete (besides rsync's ".x.pdf.Ab12Cd"):
# WinSCP's "x.pdf.filepart" (kept, and resumed, when cut off), browsers' and FTP clients' others.
UPLOAD_SUFFIXES = (".filepart", ".part", ".partial", ".crdownload", ".tmp")


_RSYNC_TEMP = re.compile(r"\.(.+)\.[A-Za-z0-9]{6}")


def upload_suffix(name: str) -> str:
    """The upload client's temporary suffix of ``name`` (WinSCP's ``.filepart``, ...), or ""."""
    lower = name.lower()
    if not lower.endswith(UPLOAD_SUFFIXES):
        return ""  # (most names: one call; a start with 10,000 orders waiting asks it of each name each round)
    return next(name[-len(suffix) :] for suffix in UPLOAD_SUFFIXES if lower.endswith(suffix))


def upload_target(path: Path) -> Path | None:
    """The file an upload client's temporary name stands for: rsync's ``.x.pdf.Ab12Cd`` and
    WinSCP's ``x.pdf.filepart`` (``UPLOAD_SUFFIXES``) for ``x.pdf``; None for another name."""
    name = path.name
    match = _RSYNC_TEMP.fullmatch(name)
    if match is not None:
        return path.with_name(match.group(1))
    suffix = upload_suffix(name)
    return path.with_name(name[: -len(suffix)]) if suffix and len(name) > len(suffix) else None


def upload_beside(path: Path) -> str | None:
    """The name under which ``path`` is being uploaded beside it, if it is: rsync's
    ``.x.pdf.Ab12Cd``, WinSCP's ``x.pdf.filepart``, a browser's or FTP client's ``x.pdf.part`` /
    ``.crdownload``."""
    name = path.name
    temps = {f"{name}{suffix}".lower() for suffix in UPLOAD_SUFFIXES}
    with contextlib.suppress(OSError), os.scandir(path.parent) as entries:
        return next((e.name for e in entries if e.name.startswith(f".{name}.") or e.name.lower() in temps), None)
    return None


def sent_again(
    data: bytes,
    job_folder: Path,
    base: Path,
    spec: JobSpec,
    manifest: Manifest | None = None,
    hot_folders: Collection[str] = (),
    still_coming: Collection[str] = (),
) -> bool:
    """Whether manifest ``data`` (read as ``manifest``) is the one a job keeps in ``job_folder``,
    with none of ``spec``'s artwork beside it in ``base``: a webhook's retry, an FTP re-upload,
    which changes nothing for a job waiting for an operator (the daemon's rule, and what `route`
    says of it). The one it keeps byte for byte, or saying the same of the order and of this job
    (the same order written anew: JSON and YAML of it, its keys in another order, a comment added:
    audit A 3, where the second copy put the job's artwork aside to wait for files not coming).
    ``still_coming``: the paths of the files the job still waits for: one of them on its way beside
    the copy is the job's own, not new artwork (audit BD D1: a copy that came while the job's second
    PDF was still being written put its first one aside, to wait for it for ever)."""
    for ref in spec.artwork:
        path = base / ref.path
        if str(path) not in still_coming and (os.path.lexists(path) or upload_beside(path) is not None):
            return False
    return same_manifest(data, job_folder, spec, manifest, hot_folders)


def same_manifest(
    data: bytes, job_folder: Path, spec: JobSpec, manifest: Manifest | None, hot_folders: Collection[str] = ()
) -> bool:
    """Whether manifest ``data`` (read as ``manifest``) is the one the job in ``job_folder`` was
    made from: byte for byte, or saying the same of the order and of job ``spec``."""
    if keeps_copy(data, job_folder):
        return True
    return manifest is not None and _says_the_same(job_folder, manifest, spec, hot_folders)


def _says_the_same(job_folder: Path, manifest: Manifest, spec: JobSpec, hot_folders: Collection[str]) -> bool:
    """Whether the manifest the job keeps says what ``manifest`` says of the order and this job;
    ``reprint`` aside: for a job not finished it changes nothing (audit AT D1: an order sent with
    and without ``reprint: true`` at once, the plain copy read after its twin had taken the PDF,
    made the job wait for the PDF again, which never came)."""
    for copy in job_folder.glob("manifest.*"):
        try:
            kept = parse_manifest(copy.read_bytes(), copy.name, hot_folders)
        except (OSError, ManifestError):
            continue
        same = next((job for job in kept.jobs if job.job_id == spec.job_id), None)
        order = (kept.order_id, kept.customer, kept.blocked, kept.process_after)
        if same == spec and order == (manifest.order_id, manifest.customer, manifest.blocked, manifest.process_after):
            return True
    return False


def artwork_names(spec: JobSpec) -> list[str]:
    """The names ``spec``'s artwork files take in the job's artwork/ folder, in order: the file's
    own name made safe (the manifest's sub-folders not kept), with its position before it where
    two of the job's files have that name (``a/x.pdf`` and ``b/x.pdf``, ``X.pdf`` and ``x.pdf``):
    ``1-x.pdf``, ``2-x.pdf``, both of them, so that the name the manifest gave names neither and a
    replacement has to say which one it replaces (audit AM D1: the first kept ``x.pdf``, and a
    replacement ``x.pdf`` meant for the second replaced the first)."""
    own = [safe_name(PurePosixPath(ref.path).name) for ref in spec.artwork]
    shared = Counter(name_key(name) for name in own)
    names: list[str] = []
    taken: set[str] = set()
    for position, name in enumerate(own, start=1):
        if shared[name_key(name)] > 1:
            name = f"{position}-{name}"
        while name_key(name) in taken:  # an earlier file's own name was "2-x.pdf"
            name = f"{position}-{name}"
        names.append(name)
        taken.add(name_key(name))
    return names


def reprint_sent_twice(data: bytes, job_folder: Path, base: Path, spec: JobSpec) -> bool:
    """Whether manifest ``data`` is the copy a job keeps in ``job_folder``, byte for byte, with each
    of its artwork files beside it in ``base`` the same, byte for byte, as the job's: the same order
    sent twice (a webhook's retry, a double upload). The caller adds the condition that makes it a
    twin and not a new reprint: the PDF this manifest made still waits in its hot folder."""
    if not spec.artwork or not keeps_copy(data, job_folder):
        return False
    for ref, name in zip(spec.artwork, artwork_names(spec), strict=True):
        src = base / ref.path
        try:
            if upload_beside(src) is not None or not filecmp.cmp(src, job_folder / "artwork" / name, shallow=False):
                return False
        except OSError:
            return False
    return True


def sent_twice(
    data: bytes,
    job: Job,
    job_folder: Path | None,
    base: Path,
    spec: JobSpec,
    manifest: Manifest,
    *,
    taken_before: bool,
) -> bool:
    """Whether reprint manifest ``data`` (read as ``manifest``; ``spec`` its entry for ``job``, its
    artwork in ``base``) is the one that made ``job``'s last delivery, sent again: compared with the
    copy the job keeps in ``job_folder``, or, once retention deleted its files, with what the
    ledger recorded of it (``same_as_recorded``; ``taken_before``: the ledger took in a manifest of
    these very bytes for this order before). The daemon's rule, and what `route` says of it."""
    if job.purged:
        return same_as_recorded(job, spec, manifest, base, taken_before=taken_before)
    return job_folder is not None and reprint_sent_twice(data, job_folder, base, spec)


def same_as_recorded(job: Job, spec: JobSpec, manifest: Manifest, base: Path, *, taken_before: bool) -> bool:
    """Whether reprint ``spec`` of ``manifest``, its artwork in ``base``, says what the ledger
    recorded of ``job``, whose files were deleted after retention (no copy to compare with: review
    GD 1): the same facts, and artwork of the same digests, as a reprint made it. A job's first
    delivery came from a manifest that a first reprint repeats, `reprint: true` added (the one
    asked for, review GN 1), unless its own bytes were that reprint's (``taken_before``: review GR
    2, a storefront that sends `reprint: true` with every order, its webhook's retry printed twice).
    Values are compared as JSON writes them (true is not 1: GN 2)."""
    digests = (job.preflight or {}).get("artwork_sha256")
    if (
        (job.generation < 2 and not taken_before)
        or (manifest.customer, spec.product, spec.quantity, spec.hot_folder)
        != (job.customer, job.product, job.quantity, job.hot_folder)
        or json.dumps(dict(spec.attributes or {}), sort_keys=True) != json.dumps(job.attributes, sort_keys=True)
        or not isinstance(digests, list)
        or len(digests) != len(spec.artwork)
    ):
        return False
    for ref, digest in zip(spec.artwork, digests, strict=True):
        src = base / ref.path
        try:
            if upload_beside(src) is not None:
                return False
            with open(src, "rb") as fh:
                if sha256_of(fh) != digest:
                    return False
        except OSError:
            return False
    return True


def keeps_copy(data: bytes, job_folder: Path) -> bool:
    """Whether the job in ``job_folder`` keeps manifest ``data`` (its manifest.yaml/.json), byte for byte."""
    for copy in job_folder.glob("manifest.*"):
        with contextlib.suppress(OSError):
            if copy.stat().st_size == len(data) and copy.read_bytes() == data:
                return True
    return False
