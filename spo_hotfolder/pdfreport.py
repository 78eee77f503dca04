"""The preflight's inputs and report, in plain data: what the daemon and the PDF worker exchange.

No PDF library here: the daemon itself never imports pypdf (only the worker does, through
``preflight`` and ``output``), so that its start and its memory do not pay for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

#: a damaged file that pypdf mended while reading it (validation.checks.repaired, an error by
#: default); where it passes, the output is written anew
REPAIRED = "repaired"
#: Said of a trim measured as the part of a TrimBox on the page (a RIP cuts nothing beyond it).
TRIM_BEYOND_PAGE = "the part of its TrimBox on the page: the TrimBox reaches beyond the page"
#: Said of a TrimBox wholly off the page.
TRIM_OFF_PAGE = "its TrimBox lies outside the page"


def with_file(message: str, file: str | None, several: bool) -> str:
    """A finding's ``message`` naming its artwork ``file`` when the job has ``several``, unless it
    names it already."""
    if several and file and f"'{file}'" not in message:
        return f"{message} (artwork '{file}')"
    return message


@dataclass(frozen=True, slots=True)
class Finding:
    # "open", "incomplete", "empty", "sha256", "pages", "trim", "bleed", "fonts", "mixed_sizes", "encryption",
    # "repaired"
    check: str
    severity: Literal["error", "warning"]
    message: str  # a complete sentence in plain words, sizes in mm
    file: str | None = None  # artwork file name
    page: int | None = None  # 1-based page number in the output (first page of a group)

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "page": self.page,
        }


@dataclass(frozen=True, slots=True)
class ArtworkInput:
    name: str  # file name shown to people
    path: str  # filesystem path (a str so that it pickles cheaply)
    expected_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class PreflightReport:
    findings: tuple[Finding, ...]
    pages: int  # total pages of the readable artwork files (0 if none is readable)
    artwork_sha256: tuple[str, ...]  # sha256 of each artwork file, in order ("" if unreadable)
    trim_mm: tuple[float, float] | None  # trim of the first page, if known

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def summary(self, max_chars: int = 500) -> str:
        """One line: "passed", "passed with 2 warnings: ...", "3 problems: ..."."""
        errors, warnings = self.errors(), self.warnings()
        if errors:
            head = plural(len(errors), "problem")
            if warnings:
                head += f" (and {plural(len(warnings), 'warning')})"
            # (naming the artwork file of each, as ERROR.txt does: audit Q, "pages 3-4: font ..." alone)
            line = f"{head}: " + "; ".join(self.described(f) for f in errors)
        elif warnings:
            line = f"passed with {plural(len(warnings), 'warning')}: " + "; ".join(self.described(f) for f in warnings)
        else:
            line = "passed"
        if len(line) > max_chars:
            line = line[: max_chars - 1].rstrip() + "…"
        return line

    def described(self, finding: Finding) -> str:
        """A finding's message, naming its artwork file when the job has several (page numbers are
        the output's: the operator must know which file to replace)."""
        return with_file(finding.message, finding.file, len(self.artwork_sha256) > 1)

    def to_text(self) -> str:
        """A report for ERROR.txt / STATUS.txt: a headline, then every finding, errors first."""
        errors, warnings = self.errors(), self.warnings()
        if errors:
            head = f"Preflight failed: {plural(len(errors), 'problem')}"
            if warnings:
                head += f" and {plural(len(warnings), 'warning')}"
        elif warnings:
            head = f"Preflight passed with {plural(len(warnings), 'warning')}"
        else:
            head = "Preflight passed"
        details = [f"{plural(self.pages, 'page')}"]
        if self.trim_mm is not None:
            details.append(f"trim {fmt_mm(self.trim_mm[0])} x {fmt_mm(self.trim_mm[1])} mm")
        lines = [f"{head} ({', '.join(details)})."]
        for finding in (*errors, *warnings):
            lines.append(f"{finding.severity.upper()}: {self.described(finding)}")
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "summary": self.summary(),
            "pages": self.pages,
            "trim_mm": list(self.trim_mm) if self.trim_mm is not None else None,
            "artwork_sha256": list(self.artwork_sha256),
            "findings": [f.to_json() for f in self.findings],
        }


class ArtworkProblem(Exception):
    """An artwork file cannot be used at all; the message is a plain sentence for the operator."""


class ArtworkIncomplete(ArtworkProblem):
    """The file is the beginning of a PDF only: an upload cut off, or taken before its data came
    (preflight's check "incomplete"): the whole file is asked for."""


def quote_name(name: str) -> str:
    return "'" + "".join(ch if ch.isprintable() else "?" for ch in name) + "'"


#: The bytes of a PDF name that are not UTF-8, as ``pdfnames.install()`` has pypdf read them.
_NOT_UTF8 = re.compile("[\udc80-\udcff]+")


def name_text(text: str) -> str:
    """A PDF name (or any text holding one, read by ``pdfnames``) as a person reads it: the bytes
    that are not UTF-8 taken as GBK where they are that (Chinese font names), else as
    Windows-1252 ("Weiß"). Never a lone surrogate, which no file could be written with."""
    return _NOT_UTF8.sub(_name_bytes_shown, text) if _NOT_UTF8.search(text) else text


def _name_bytes_shown(match: re.Match[str]) -> str:
    raw = match.group(0).encode("utf-8", "surrogateescape")
    for encoding in ("gbk", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def describe_exception(exc: BaseException) -> str:
    """A short, plain description of an exception from a PDF library: its message, no repr."""
    if isinstance(exc, MemoryError):
        return "it needs more memory than allowed"
    if isinstance(exc, RecursionError):
        return "its structure is nested too deeply"
    text = " ".join(name_text(str(exc)).split())
    if not text:
        # e.g. an IndexError without a message: turn "IndexError" into "index error"
        text = re.sub(r"(?<!^)(?=[A-Z])", " ", type(exc).__name__).lower()
    if len(text) > 200:
        text = text[:199].rstrip() + "…"
    return text


#: What the PDF reader's error about a damaged file means, for the people who read ERROR.txt (audit
#: C 10: "startxref not found", "'NoneType' object is not subscriptable" told an operator nothing).
_DAMAGE_WORDS = (
    (
        re.compile(r"startxref|xref|cross.?reference", re.IGNORECASE),
        "its index of objects (the cross-reference table) is missing or damaged",
    ),
    (
        re.compile(r"root object|/Root\b", re.IGNORECASE),
        "its catalog (the part that leads to its pages) is missing or damaged",
    ),
    (re.compile(r"/Pages|/Kids|page tree", re.IGNORECASE), "its list of pages is damaged"),
    (re.compile(r"trailer", re.IGNORECASE), "its trailer (where a reader begins) is damaged"),
    (
        re.compile(r"ended unexpectedly|unexpected end|unexpected EOF", re.IGNORECASE),
        "its data ends in the middle of an object",
    ),
)


def describe_damage(exc: BaseException) -> str:
    """Why a damaged PDF cannot be read, in plain words, with the PDF reader's own words after them
    (for whoever looks further), cut before any raw bytes it quotes."""
    if isinstance(exc, (MemoryError, RecursionError)):
        return describe_exception(exc)
    said = describe_exception(exc)
    plain = next((words for pattern, words in _DAMAGE_WORDS if pattern.search(said)), "some of its data is malformed")
    raw = re.split(r"\s+(?:starting with\s+)?b['\"]", said, maxsplit=1)[0].rstrip(" :@")
    if len(raw) > 80:
        raw = raw[:79].rstrip() + "…"
    return f"{plain} (the PDF reader said: {raw})"


def unreadable(name: str, exc: BaseException) -> str:
    """What preflight and output say of artwork ``name`` they cannot read (``exc``)."""
    return f"artwork {quote_name(name)} is damaged and cannot be read: {describe_damage(exc)}"


def fmt_mm(value: float) -> str:
    """12.0 -> "12.0" (one decimal, never "-0.0"): sizes in mm for people."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def plural(n: int, noun: str) -> str:
    """(1, "page") -> "1 page"; (3, "page") -> "3 pages"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _preview(head: bytes, length: int = 10) -> str:
    """The first bytes as text, line breaks and tabs as spaces, other non-ASCII bytes as ``?``."""
    text = head[:length].decode("latin-1")
    return "".join(ch if " " <= ch <= "~" and ch != '"' else " " if ch in "\r\n\t" else "?" for ch in text)


#: What a file that is no PDF is, by its first bytes: what operators are sent instead of a PDF.
_KINDS = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"PK\x03\x04", "a ZIP file (also a Word, Excel or PowerPoint document)"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
    (b"%!PS", "a PostScript file"),
    (b"{\\rtf", "an RTF document"),
    (b"8BPS", "a Photoshop file"),
)


#: A linearized ("fast web view") PDF's first object: its dictionary gives the whole file's length
#: (/L). Such a file has an end marker (%%EOF) near its start, after its first page's section.
_LINEARIZED = re.compile(rb"/Linearized\s+[0-9.]+(.{0,512}?)>>", re.S)
_LENGTH_KEY = re.compile(rb"/L\s+(\d{1,15})\b")
#: Bytes a whole file may be shorter than its /L says: line ends dropped at its very end.
LENGTH_SLACK = 16


def declared_length(head: bytes) -> int | None:
    """The whole file's length a linearized PDF's first bytes (``head``) declare; None for a file
    that is not linearized."""
    found = _LINEARIZED.search(head)
    length = _LENGTH_KEY.search(found.group(1)) if found else None
    return int(length.group(1)) if length is not None else None


def short_of_declared_length(head: bytes, size: int) -> int | None:
    """The length a linearized PDF's first bytes (``head``) declare, when the file (``size``
    bytes) is shorter: cut off (an upload that stopped, or resumed later, at the end marker after
    the first page). None for a file that is not linearized or is whole."""
    declared = declared_length(head)
    return declared if declared is not None and size + LENGTH_SLACK < declared else None


def known_kind(head: bytes) -> str | None:
    """What a file is by its first bytes when they are those of another kind of file (a ZIP, an
    image): never a PDF, even where a PDF is inside (a ZIP stored without compression holds its
    PDFs' bytes as they are, and was read as a damaged PDF: the last one in it printed, audit CD 1)."""
    return next((kind for magic, kind in _KINDS if head.startswith(magic)), None)


def not_a_pdf(head: bytes) -> str:
    """What a file is that does not start like a PDF, in words, for an operator."""
    for magic, kind in _KINDS:
        if head.startswith(magic):
            return f'it is {kind} (it starts with "{_preview(head)}")'
    if head[:1] == b"\x00":
        return (
            "it starts with zero bytes, where a PDF has its header: most likely an upload that was not "
            "finished (a copy sets the file's size first and writes its data after), ask for the file again"
        )
    if head.lstrip()[:1] == b"<":
        return (
            "it looks like HTML or XML text, perhaps an error page saved instead of the file "
            f'(it starts with "{_preview(head)}")'
        )
    return f'the file starts with "{_preview(head)}"'
