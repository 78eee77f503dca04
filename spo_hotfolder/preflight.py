"""Preflight: artwork PDFs -> findings a print operator can act on.

Reads only what the checks need (the page tree, page boxes, font dictionaries) through a lazily
parsing ``PdfReader`` on an open file handle. Compressed data is only inflated to check that it
decodes to its end, the output kept nowhere: page content (``_content_damage``), and the Flate
images, font programs and forms the pages draw (``_ResourceChecker``); JPEG images are walked
marker by marker to their end marker (``_jpeg_damage``); other images (uncompressed, JPEG 2000,
CCITT, JBIG2) are never loaded. Any exception while reading a PDF becomes a Finding: a bad PDF never raises
out of ``preflight``. Runs in the calling process; ``pdfwork.PdfWorker`` runs it in an isolated one.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import math
import os
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any, BinaryIO, Literal, cast

from pypdf import PageObject, PasswordType, PdfReader, apply_configuration
from pypdf.constants import UserAccessPermissions
from pypdf.generic import (
    ArrayObject,
    ContentStream,
    DecodedStreamObject,
    DictionaryObject,
    EncodedStreamObject,
    IndirectObject,
    NameObject,
    NullObject,
    PdfObject,
    StreamObject,
)

from spo_hotfolder import pdfnames
from spo_hotfolder.config import ProductSpec, ValidationConfig
from spo_hotfolder.digests import AHEAD
from spo_hotfolder.fsutil import unreadable_artwork
from spo_hotfolder.pdfreport import (
    REPAIRED,
    TRIM_BEYOND_PAGE,
    TRIM_OFF_PAGE,
    ArtworkIncomplete,
    ArtworkInput,
    ArtworkProblem,
    Finding,
    PreflightReport,
    describe_exception,
    fmt_mm,
    known_kind,
    name_text,
    not_a_pdf,
    plural,
    quote_name,
    short_of_declared_length,
    unreadable,
)

MM_PER_PT = 25.4 / 72.0

# Names read and written again byte for byte (pdfnames): the checks here and the output's writer.
pdfnames.install()

# Print artwork carries big images: a single 200 MiB image stream is normal. pypdf's default limit on
# a stream's declared length (75 MB) would refuse such files, so it is raised; memory stays bounded
# because preflight never loads image streams and the worker process has an address-space limit.
# pypdf's decompression limits (zlib/LZW/... output lengths) are kept at their defaults.
PRINT_MAX_DECLARED_STREAM_LENGTH = 16 * 1024**3

_HEADER_WINDOW = 1024  # %PDF must start within the first 1024 bytes (as Acrobat accepts)
_EOF_WINDOW = 1024  # %%EOF must be within the last 1024 bytes (as Adobe reads PDFs)
#: How far back an end marker followed by appended bytes is looked for.
_APPENDED_WINDOW = 1 << 20
#: Form XObjects nested deeper than this are not searched for fonts (a cycle is caught apart; nine
#: deep passed unchecked: white-box audit DI 3).
_MAX_FORM_DEPTH = 32
_FONT_FILE_KEYS = ("/FontFile", "/FontFile2", "/FontFile3")
_SUBSET_TAG = re.compile(r"^[A-Z]{6}\+")
_IMAGE_SUBTYPE = re.compile(rb"/Subtype\s*/Image(?![A-Za-z0-9_.#-])")

CheckName = Literal[
    "open", "incomplete", "empty", "sha256", "pages", "trim", "bleed", "fonts", "mixed_sizes", "encryption", "repaired"
]


@contextmanager
def pdf_limits() -> Iterator[None]:
    """pypdf limits for print artwork, for the current thread/context (pypdf keeps them in a ContextVar)."""
    with apply_configuration(maximum_declared_stream_length=PRINT_MAX_DECLARED_STREAM_LENGTH):
        yield


@dataclass(frozen=True, slots=True)
class PageBox:
    """A page size in millimetres, as the page is displayed (``/Rotate`` applied)."""

    width_mm: float
    height_mm: float

    def matches(self, width_mm: float, height_mm: float, tolerance_mm: float) -> bool:
        """Same size within the tolerance, in either orientation."""
        return sizes_match(self.width_mm, self.height_mm, width_mm, height_mm, tolerance_mm)

    def label(self) -> str:
        return f"{fmt_mm(self.width_mm)} x {fmt_mm(self.height_mm)} mm"


# ---------------------------------------------------------------------------------------------------
# Opening artwork (shared with output.py)


#: What follows an earlier ``%%EOF`` in a PDF saved incrementally (each save adds a revision after
#: the last one's end marker) and cut short: the start of its next revision. Padding or junk
#: appended to a whole file has none of these.
_NEXT_REVISION = re.compile(rb"\d+\s+\d+\s+obj\b|\bendobj\b|\bxref\b|\btrailer\b|\bstartxref\b")
#: The same cut within a revision's first bytes: "4", "4 0", "4 0 ob" (of "4 0 obj") and nothing else.
_OBJECT_BEGUN = re.compile(rb"\s*\d+(?:\s+(?:\d+(?:\s+(?:o(?:bj?)?)?)?)?)?\s*")


def _next_revision_begun(tail: bytes, start: int) -> bool:
    """Whether what follows an end marker (from ``start``) is a later revision, or its beginning."""
    return bool(_NEXT_REVISION.search(tail, start)) or _OBJECT_BEGUN.fullmatch(tail, start) is not None


def _cut_off_text(label: str) -> str:
    return (
        f"artwork {label} is incomplete: it ends inside a later revision of the PDF, after the end marker "
        "(%%EOF) of an earlier one (the upload was cut off, or the file was copied while being saved); "
        "printed as it is, it would show the earlier version. Ask for the file again"
    )


def open_artwork(name: str, fh: BinaryIO) -> tuple[PdfReader, bool]:
    """Opens ``fh`` lazily; returns (reader, owner_protected). Raises ArtworkProblem.

    Keep ``fh`` open while the reader is used. Call inside ``pdf_limits()``.
    """
    label = quote_name(name)
    size = os.fstat(fh.fileno()).st_size
    if size == 0:
        raise ArtworkProblem(f"artwork {label} is an empty file (0 bytes)")
    fh.seek(0)
    head = fh.read(_HEADER_WINDOW)
    if b"%PDF" not in head or known_kind(head) is not None:
        # (zeros where the header goes: a copy whose data never came)
        unfinished = ArtworkIncomplete if head[:1] == b"\x00" else ArtworkProblem
        raise unfinished(f"artwork {label} is not a PDF: {not_a_pdf(head)}")
    declared = short_of_declared_length(head, size)
    if declared is not None:
        raise ArtworkIncomplete(
            f"artwork {label} is incomplete: it is {size:,} bytes, and its first bytes say the whole file is "
            f"{declared:,} bytes (a linearized PDF, cut off at the end marker after its first page: an upload "
            "that stopped, or paused and went on as another file). Ask for the file again"
        )
    fh.seek(max(0, size - _EOF_WINDOW))
    tail = fh.read(_EOF_WINDOW)
    end = tail.rfind(b"%%EOF")
    if end >= 0 and _next_revision_begun(tail, end + 5):
        raise ArtworkIncomplete(_cut_off_text(label))
    if end < 0:
        fh.seek(max(0, size - _APPENDED_WINDOW))
        tail = fh.read(_APPENDED_WINDOW)
        end = tail.rfind(b"%%EOF")
        if end >= 0 and _next_revision_begun(tail, end + 5):
            raise ArtworkIncomplete(_cut_off_text(label))
        if end >= 0:
            extra = len(tail) - end - 5
            raise ArtworkProblem(
                f"artwork {label} has {extra} bytes after its end marker (%%EOF): something was appended to the "
                "PDF (padding, a web page, another file), and strict readers such as Adobe's RIPs look for the "
                "marker in the last 1024 bytes; ask for the PDF as it was saved"
            )
        raise ArtworkIncomplete(
            f"artwork {label} is damaged and cannot be read: EOF marker not found "
            "(the file is incomplete; the upload may have been cut off)"
        )
    fh.seek(0)
    try:
        reader = PdfReader(fh, strict=False)
        owner_protected = False
        if reader.is_encrypted:
            # PdfReader already tried the empty password; asking again is cheap and public API.
            if reader.decrypt("") == PasswordType.NOT_DECRYPTED:
                raise ArtworkProblem(
                    f"artwork {label} is encrypted: a password is needed to open it; "
                    "ask the customer for an unprotected PDF"
                )
            owner_protected = True
            revision = _pdf_number(_resolve(reader.trailer["/Encrypt"]).get("/R"))
            if revision not in (2, 3, 4, 5, 6):
                # pypdf opens /R 7-9 as 6; Ghostscript and qpdf know no such revision and open no
                # page of it (review FQ 3).
                raise ArtworkProblem(
                    f"artwork {label} is encrypted with a revision of password security no PDF reader knows "
                    f"(/R {revision:g}): RIPs cannot open it; ask the customer for an unprotected PDF"
                    if revision is not None
                    else f"artwork {label} is encrypted, and its encryption does not say its revision (/R): RIPs "
                    "cannot open it; ask the customer for an unprotected PDF"
                )
    except ArtworkProblem:
        raise
    except NotImplementedError as exc:
        if "encryption" not in str(exc).lower():
            raise ArtworkProblem(f"artwork {label} cannot be read: {describe_exception(exc)}") from exc
        # pypdf opens password (Standard) encryption only; /Adobe.PubSec is a certificate.
        raise ArtworkProblem(
            f"artwork {label} is encrypted with a certificate or another security handler than a password "
            f"({describe_exception(exc)}); ask the customer for an unprotected PDF"
        ) from exc
    except Exception as exc:  # any failure to parse: the PDF is not usable
        raise ArtworkProblem(unreadable(name, exc)) from exc
    return reader, owner_protected


def count_pages(name: str, reader: PdfReader) -> int:
    try:
        return len(reader.pages)
    except Exception as exc:
        raise ArtworkProblem(unreadable(name, exc)) from exc


def _untyped_node(reader: PdfReader) -> str | None:
    """A node of the page tree without its /Type (/Pages for a node with /Kids, /Page for a page):
    pypdf tells them by their /Kids, Ghostscript finds no page there and prints nothing, exiting
    as if all went well (review ED D2: delivered, InHotFolder, nothing printed). Said as a repair."""
    try:
        stack = [_resolve(_resolve(reader.trailer["/Root"])["/Pages"])]
    except Exception:  # noqa: BLE001 - a tree that cannot be looked at is said by the page count
        return None
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if not isinstance(node, DictionaryObject) or id(node) in seen or len(seen) > 1_000_000:
            continue
        seen.add(id(node))
        kids = _resolve(dict.get(node, "/Kids"))
        kind = _resolve(dict.get(node, "/Type"))
        if isinstance(kids, ArrayObject):
            if kind != "/Pages":
                return "a node of its page tree has no /Type /Pages: a RIP may find no page in it"
            stack.extend(_resolve(kid) for kid in kids)
        elif kind != "/Page":
            return "a page of its page tree has no /Type /Page: a RIP may find no page there"
    return None


#: The last ``startxref`` of a file, looked for in its last KiB.
_LAST_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_STARTXREF = re.compile(rb"startxref\s+(\d+)")
#: How much of a file's end is looked at for its last ``startxref`` when bytes may follow it.
_TAIL_READ = 64 << 10
#: How far a table section and its trailer are read for the trailer's keys.
_TABLE_READ_MAX = 4 << 20


def last_xref_offset(fh: BinaryIO, *, ending: bool = True) -> int | None:
    """Where the file's last cross-reference section starts, or None (none found, an offset past
    the end, a read error). With ``ending``, only a ``startxref N %%EOF`` that ends the file counts
    (an update appended after other bytes would not be found by readers); without, the last
    ``startxref N`` in the file's end, whatever bytes follow it (NULs, a DOS Ctrl-Z, a second
    %%EOF, a mail gateway's line): where Ghostscript and pypdf find it (review FN 3)."""
    try:
        size = os.fstat(fh.fileno()).st_size
        fh.seek(max(0, size - (1024 if ending else _TAIL_READ)))
        tail = fh.read()
    except OSError:
        return None
    last = _LAST_STARTXREF.search(tail) if ending else _STARTXREF.match(tail, max(0, tail.rfind(b"startxref")))
    if last is None or int(last.group(1)) >= size:
        return None
    return int(last.group(1))


def _table_hides_streams(fh: BinaryIO, reader: PdfReader) -> bool:
    """Whether the file's last cross-reference section is a classic table whose trailer does not
    name a cross-reference stream (/XRefStm) while objects of the file are kept in object streams:
    an update an editor appended with a table to a file saved with object streams (or to a hybrid
    one, dropping its /XRefStm). Ghostscript, the interpreter of many RIPs, then finds none of the
    objects kept there: it prints no page, or pages without them, and exits as if all went well
    (helper FE 2); pypdf, qpdf and viewers read it."""
    if not getattr(reader, "xref_objStm", None):
        return False
    offset = last_xref_offset(fh, ending=False)
    if offset is None:
        return False
    try:
        fh.seek(offset)
        if fh.read(4) != b"xref":
            return False  # (a cross-reference stream: nothing more read)
        section = fh.read(_TABLE_READ_MAX)
    except OSError:
        return False
    trailer = section.find(b"trailer")
    end = section.find(b"startxref", trailer)
    if trailer < 0 or end < 0:
        return False  # (a table too long to look at: not said)
    return b"/XRefStm" not in section[trailer:end]


def _miscounted(reader: PdfReader, count: int) -> str | None:
    """A page tree whose /Count is not the number of pages it holds (they are counted one by one:
    ``count``): a RIP that believes /Count may print blank pages, stop, or refuse the file (audit
    Q: a /Count of 1,000,000,000 over one page was delivered as it was). Said as a repair."""
    try:
        declared = _resolve(_resolve(reader.trailer["/Root"])["/Pages"]).get("/Count")
        declared = _resolve(declared)
    except Exception:  # noqa: BLE001 - a tree that cannot be looked at is said by the page count
        return None
    # Missing or not a number, Ghostscript opens no page of the file, and exits 0 (review FQ 2:
    # /Count 2.5, /Count /One, a reference to a string passed, a blank print).
    if _is_null(declared):
        return f"its page tree does not say how many pages it has (no /Count), and it holds {count:,}"
    number = _pdf_number(declared)
    if number is None:
        shown = _shown(declared)[:40]
        return f"its page tree's page count (/Count) is not a number (it is {shown}), and it holds {count:,}"
    if number == count:
        return None
    shown = f"{int(declared):,}" if isinstance(declared, int) else f"{number:,g}"
    return f"its page tree says it has {shown} page{'s' if number != 1 else ''} (/Count), and it holds {count:,}"


# ---------------------------------------------------------------------------------------------------
# Page boxes


@dataclass(frozen=True, slots=True)
class Rect:
    """A box in millimetres, normalized (x0 <= x1, y0 <= y1)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def inset(self, d: float) -> Rect:
        return Rect(self.x0 + d, self.y0 + d, self.x1 - d, self.y1 - d)

    def intersect(self, other: Rect) -> Rect:
        x0, y0 = max(self.x0, other.x0), max(self.y0, other.y0)
        x1, y1 = min(self.x1, other.x1), min(self.y1, other.y1)
        return Rect(x0, y0, max(x0, x1), max(y0, y1))


def _resolve(obj: Any) -> Any:
    return obj.get_object() if isinstance(obj, PdfObject) else obj


def read_box_pt(page: DictionaryObject, key: str) -> tuple[float, float, float, float] | None:
    """The box ``key`` of ``page`` in PDF units, normalized; None if absent or malformed.

    Tests the key first: pypdf's box getters write fallbacks into the page.
    """
    if key not in page:
        return None
    value = _resolve(page[key])
    if not isinstance(value, ArrayObject) or len(value) != 4:
        return None
    numbers = [_pdf_number(v) for v in value]
    if None in numbers:
        return None  # (strings, names: review FQ 1, a TrimBox "(87.87) ..." read as numbers, RIPs see none)
    a, b, c, d = cast(list[float], numbers)
    return min(a, c), min(b, d), max(a, c), max(b, d)


def _pdf_number(value: Any) -> float | None:
    """A PDF number object's value (an integer or a real, ISO 32000 7.3.3), finite; None for
    anything else: a string such as ``(595)``, which Python's float() would take and RIPs do not
    (review FQ 1), a name, a boolean."""
    value = _resolve(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _is_null(value: object) -> bool:
    """PDF's null: no entry at all (ISO 32000 7.3.9)."""
    return value is None or isinstance(value, NullObject)


def _box_shown(page: DictionaryObject, key: str) -> str:
    """The value of a page's box entry, as written, for a message (shortened)."""
    try:
        value = _resolve(page[key])
        if isinstance(value, ArrayObject):
            text = "[" + " ".join(_shown(_resolve(item)) for item in value) + "]"
        else:
            text = _shown(value)
    except Exception:  # noqa: BLE001 - only for a message
        text = "unreadable"
    return text if len(text) <= 60 else text[:57] + "..."


def _shown(value: Any) -> str:
    """A PDF object as written: a string in its parentheses (``(595)`` is no number), null."""
    if _is_null(value):
        return "null"
    if isinstance(value, (str, bytes)) and not isinstance(value, NameObject):
        return f"({value if isinstance(value, str) else value.decode('latin-1')})"
    return str(value)


def user_unit(page: DictionaryObject) -> float:
    value = _pdf_number(page.get("/UserUnit", 1))
    return value if value is not None and value > 0 else 1.0


def _rotation(page: DictionaryObject) -> int:
    value = _resolve(page.get("/Rotate", 0))
    if isinstance(value, int) and not isinstance(value, bool):
        return value % 360  # (exact: a huge integer is not rounded by a float)
    number = _pdf_number(value)
    return int(number) % 360 if number is not None else 0


def _to_mm(box: tuple[float, float, float, float], unit: float) -> Rect:
    f = unit * MM_PER_PT
    return Rect(box[0] * f, box[1] * f, box[2] * f, box[3] * f)


#: Sizes are compared with this much more than the tolerance: producers write points rounded to
#: 2-4 decimals (85 mm is 240.94488 pt; written 240.94 or 240.9449, a few thousandths of a mm off),
#: so an exact 85 x 55 card failed a 0 mm tolerance, and one 1 mm off half the time failed 1 mm.
ROUNDING_MM = 0.01


def sizes_match(w: float, h: float, tw: float, th: float, tol: float) -> bool:
    tol += ROUNDING_MM
    return (abs(w - tw) <= tol and abs(h - th) <= tol) or (abs(w - th) <= tol and abs(h - tw) <= tol)


def centred(x0: float, y0: float, x1: float, y1: float, w: float, h: float) -> tuple[float, float, float, float]:
    """A box of ``w`` x ``h`` (turned to the box's own orientation) centred in the given box: the
    product's trim on a page that holds it with its bleed, whatever the page's rounding."""
    if (x1 - x0 >= y1 - y0) != (w >= h):
        w, h = h, w
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


#: How many runs of pages a finding names before it counts the rest.
_PAGE_RUNS_SHOWN = 8


def _pages_label(pages: Sequence[int]) -> str:
    """[1, 2, 3, 5] -> "pages 1-3, 5"; [4] -> "page 4"; many runs: "pages 2, 4, ..., 16 and 992
    more (1000 pages)"."""
    ordered = sorted(set(pages))
    runs: list[tuple[int, int]] = []
    for p in ordered:
        if runs and p == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], p)
        else:
            runs.append((p, p))
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in runs[:_PAGE_RUNS_SHOWN]]
    if len(runs) > _PAGE_RUNS_SHOWN:
        more = sum(b - a + 1 for a, b in runs[_PAGE_RUNS_SHOWN:])
        return f"pages {', '.join(parts)} and {more} more ({len(ordered)} pages)"
    return ("page " if len(ordered) == 1 else "pages ") + ", ".join(parts)


@dataclass(slots=True)
class _Page:
    number: int  # in the output
    in_file: int  # in its artwork file
    file: str
    media: Rect  # the visible page: the MediaBox, within the CropBox if it has one
    trim: Rect | None  # /TrimBox
    bleed: Rect | None  # /BleedBox
    rotation: int = 0  # /Rotate, 0, 90, 180 or 270: the sides as displayed (_SIDES_SHOWN)
    fonts: set[str] = field(default_factory=set)  # names of fonts used but not embedded
    cropped: bool = False  # a CropBox makes the visible page smaller than the MediaBox
    trim_off_page: Rect | None = None  # the /TrimBox, when it lies outside the MediaBox (``trim`` is then empty)
    full_media: Rect | None = None  # the MediaBox (``media`` is within the CropBox)
    trim_clipped: bool = False  # the /TrimBox reaches beyond the MediaBox: ``trim`` is the part on it
    content_damage: str | None = None  # how its content stream is damaged (_content_damage)
    content_inline: bool = False  # its content is a stream written in its /Contents (_DirectContent)
    resource_damage: str | None = None  # an image, font or form it draws that is damaged (_ResourceChecker)

    @property
    def rotated(self) -> bool:
        """/Rotate 90 or 270: displayed width and height are swapped."""
        return self.rotation in (90, 270)

    def shown(self, rect: Rect) -> PageBox:
        if self.rotated:
            return PageBox(rect.height, rect.width)
        return PageBox(rect.width, rect.height)


# ---------------------------------------------------------------------------------------------------
# Fonts


def _font_name(font: DictionaryObject, key: str) -> str:
    base = _resolve(font.get("/BaseFont"))
    name = str(base) if base is not None else str(key)
    name = name.removeprefix("/")
    return _SUBSET_TAG.sub("", name) or name


#: An annotation's "print" flag (ISO 32000 12.5.3): only those appear on paper.
_PRINT_FLAG = 4
#: Content streams larger than this (decoded) are not searched for the fonts they select: all the
#: fonts their page lists then count as used.
_MAX_CONTENT_SCAN = 16 * 1024 * 1024
_SELECT_FONT = re.compile(rb"/([^\s/\[\]()<>{}%]+)\s+[-+0-9.]+\s+Tf\b")
#: A text object (``BT`` ... ``ET``).
_TEXT_OBJECT = re.compile(rb"\bBT\b(.*?)\bET\b", re.S)
#: Where a string begins: every operator that shows text takes one (``(...)`` or ``<...>``).
_STRING_START = re.compile(rb"[(<]")


def _selected_fonts(reader: PdfReader, page: DictionaryObject) -> set[str] | None:
    """The font names a page's (or a form's, a pattern cell's) content selects (``/F1 12 Tf``) to
    show text with; None when that cannot be told (no readable content, or too much of it): then
    every listed font counts.

    A font selected only in text objects that show nothing (no string in them: reportlab begins
    every page with ``BT /F1 12 Tf 14.4 TL ET``, Helvetica, whatever fonts it draws with) is not
    counted, unless some text shows before a font of its own is selected, in the page's content
    or in a form it draws (a form draws in the font selected before it): that text may be in the
    font selected before (a font stays selected after ``ET``)."""
    data = _content_data(page)
    if data is None:
        return None
    visible = _visibly_shown_fonts(data, lambda: _forms_inherit_font(reader, page, 0, set()))
    if visible is not None:
        return visible
    selections = Counter(m.group(1) for m in _SELECT_FONT.finditer(data))
    idle = _idle_selections(data)
    if idle and (_shows_unselected(data) or _forms_inherit_font(reader, page, 0, set())):
        idle.clear()
    return {pdfnames.from_content(name) for name, count in selections.items() if idle[name] < count}


#: Text rendering mode 3 (``3 Tr``): glyphs neither filled, stroked nor clipped: invisible, as the
#: text layer that OCR lays over a scanned page (Acrobat's "Recognize Text"). A font only such text
#: is shown in prints nothing, and need not be embedded (PDF/A exempts it too).
_INVISIBLE_TEXT = re.compile(rb"(?<![\w.])3\s+Tr\b")
#: What ``_visibly_shown_fonts`` follows in content: strings (skipped: text, not operators), font
#: selections, rendering modes, the operators that show text, save and restore the graphics state
#: or draw a form; and what it does not follow (a string with parentheses nested in it, an inline
#: image's data), after which it cannot tell.
_BEFORE_OPERATOR = rb"(?<![^\s\])>\[])"  # an operator or a number follows a space or a delimiter, not a name
_AFTER_TOKEN = rb"(?![^\s\[\]()<>{}/%])"
_TEXT_STATE = re.compile(
    rb"\((?:[^()\\]|\\.)*\)"
    rb"|<[0-9A-Fa-f\s]*>"
    rb"|%[^\r\n]*"
    rb"|/(?P<font>[^\s/\[\]()<>{}%]+)\s+[-+0-9.]+\s+Tf"
    + _AFTER_TOKEN
    + rb"|"
    + _BEFORE_OPERATOR
    + rb"(?P<mode>[-+0-9.]+)\s+Tr"
    + _AFTER_TOKEN
    + rb"|"
    + _BEFORE_OPERATOR
    + rb"(?P<op>Tj|TJ|'|\"|q|Q|Do|ID)"
    + _AFTER_TOKEN
    + rb"|(?P<nested>\()",
    re.S,
)
_SHOW_TEXT = frozenset((b"Tj", b"TJ", b"'", b'"'))


def _visibly_shown_fonts(data: bytes, forms_inherit: Callable[[], bool]) -> set[str] | None:
    """The fonts (their resource names) that ``data``, a page's or a form's content which makes
    some text invisible (``3 Tr``), shows visible text in: in another rendering mode; also the font
    selected where a form is drawn that may show text in it (``forms_inherit()``: some form shows
    text before selecting a font of its own). None where there is no invisible text, or it cannot be
    told: visible text shown before any font is selected, a string with parentheses nested in it,
    an inline image (its data is not followed)."""
    if _INVISIBLE_TEXT.search(data) is None:
        return None
    font: bytes | None = None
    mode = 0.0
    saved: list[tuple[bytes | None, float]] = []  # the text state is part of the graphics state (q ... Q)
    visible: set[bytes] = set()
    inherits: bool | None = None  # forms_inherit(), asked once
    for match in _TEXT_STATE.finditer(data):
        selected, given, operator = match.group("font", "mode", "op")
        if selected is not None:
            font = selected
        elif given is not None:
            try:
                mode = float(given)
            except ValueError:
                return None
        elif operator in _SHOW_TEXT:
            if mode != 3:
                if font is None:
                    return None
                visible.add(font)
        elif operator == b"q":
            saved.append((font, mode))
        elif operator == b"Q":
            if saved:
                font, mode = saved.pop()
        elif operator == b"Do" and mode != 3 and font is not None:
            if inherits is None:
                inherits = forms_inherit()
            if inherits:
                visible.add(font)
        elif operator == b"ID" or match.group("nested") is not None:
            return None
    return {pdfnames.from_content(name) for name in visible}


def _content_data(holder: DictionaryObject) -> bytes | None:
    """A page's or a form's decoded content; None when unreadable or too big to search."""
    try:
        if isinstance(holder, PageObject):
            contents = holder.get_contents()
            data = contents.get_data() if contents is not None else b""
        elif isinstance(holder, StreamObject):
            data = holder.get_data()
        else:
            return None
    except Exception:  # noqa: BLE001 - unreadable content: counted as using every font
        return None
    return _plain_content(data) if len(data) <= _MAX_CONTENT_SCAN else None


#: What the content checks' expressions, which read a content's bytes, would misread (white-box
#: audit DI 6): a comment (``/F1 % why``, newline, ``12 Tf``: the font selection not seen; ``% ET``
#: taken for the end of a text object), or a name that reads as the operator beginning or ending
#: one (``/ET BMC``).
_OPERATOR_NAME = re.compile(rb"/[BE]T" + _AFTER_TOKEN)
#: Content up to its first ``%`` outside strings (``(50%)`` is text, not a comment), or up to a
#: string it cannot follow (parentheses nested in one): where it stops short of the end, the
#: content may hold a comment. One pass, no backtracking (white-box audit DR 1: every ``%``, in a
#: string too, had the whole content parsed again, 20 times the check's time for a map's pages).
_BEFORE_COMMENT = re.compile(rb"[^(<%]*+(?:(?:\((?:[^()\\]|\\.)*+\)|<<|<[0-9A-Fa-f\s]*+>)[^(<%]*+)*+", re.S)
#: Content larger than this is read as it is, comments and all: parsed, it would cost seconds.
_MAX_CONTENT_PARSE = 512 * 1024
#: A name as the operator beginning or ending a text object, written with its first letter
#: escaped (``/#45T``: the same name, ISO 32000 7.3.5) so that it reads as no operator.
_OPERATOR_NAMES = {"/BT": b"/#42T", "/ET": b"/#45T"}
#: The last content read plainly, and what it became: a page's content is asked for by two checks.
_last_plain: tuple[bytes, bytes] = (b"", b"")


def _misread(data: bytes) -> bool:
    """Whether ``data`` may hold a comment or a name like a text object's operator."""
    if (b"/ET" in data or b"/BT" in data) and _OPERATOR_NAME.search(data) is not None:
        return True
    if b"%" not in data:
        return False
    matched = _BEFORE_COMMENT.match(data)
    return matched is None or matched.end() < len(data)


def _plain_content(data: bytes) -> bytes:
    """``data`` (a page's or a form's content) as those expressions read it right: where it may
    hold a comment or a name like an operator, written again from its tokens (pypdf's content
    parser), without comments, such names escaped and an inline image's data left out (it is no
    text: ``BI ID EI`` says one was there). Content that does not parse, or is larger than
    _MAX_CONTENT_PARSE, is read as it is."""
    global _last_plain
    if len(data) > _MAX_CONTENT_PARSE or not _misread(data):
        return data  # (most content: no parse, and a few fast scans)
    if _last_plain[0] == data:
        return _last_plain[1]
    stream = DecodedStreamObject()
    stream.set_data(data)
    try:
        operations = ContentStream(stream, None).operations
        out = BytesIO()
        for operands, operator in operations:
            if operator == b"INLINE IMAGE":
                out.write(b"BI ID EI\n")
                continue
            for operand in operands:
                named = _OPERATOR_NAMES.get(operand) if isinstance(operand, NameObject) else None
                if named is not None:
                    out.write(named)
                else:
                    operand.write_to_stream(out)
                out.write(b" ")
            out.write(operator + b"\n")
    except Exception:  # noqa: BLE001 - not parsed: read as it is, as before
        return data
    _last_plain = (data, out.getvalue())
    return _last_plain[1]


def _idle_selections(data: bytes) -> Counter[bytes]:
    """How often each font is selected in a text object that shows nothing (no string in it)."""
    idle: Counter[bytes] = Counter()
    for text in _TEXT_OBJECT.finditer(data):
        body = text.group(1)
        if _STRING_START.search(body) is None:
            idle.update(m.group(1) for m in _SELECT_FONT.finditer(body))
    return idle


def _forms_inherit_font(reader: PdfReader, holder: DictionaryObject, depth: int, seen: set[Any]) -> bool:
    """Some form that ``holder`` (a page or a form) lists shows text before it selects a font of
    its own, or cannot be read (then it may). ``seen``: the forms looked at already."""
    resources = _resolve(holder.get("/Resources"))
    xobjects = _resolve(resources.get("/XObject")) if isinstance(resources, DictionaryObject) else None
    if not isinstance(xobjects, DictionaryObject):
        return False
    if depth >= _MAX_FORM_DEPTH:
        return True
    drawn = _drawn_xobjects(holder)  # (a form listed but not drawn here draws nothing here: audit AX D5)
    for key, ref in xobjects.items():
        if drawn is not None and str(key).removeprefix("/") not in drawn:
            continue
        ident = _ident(ref)
        if ident is not None:
            if ident in seen or _is_image(reader, ref):
                continue
            seen.add(ident)
        form = _resolve(ref)
        if not isinstance(form, StreamObject) or _resolve(form.get("/Subtype")) != "/Form":
            continue
        data = _content_data(form)
        if data is None or _shows_unselected(data):
            return True
        if _forms_inherit_font(reader, form, depth + 1, seen):
            return True
    return False


def _shows_unselected(data: bytes) -> bool:
    """Some text object in ``data`` shows text before it selects a font."""
    for text in _TEXT_OBJECT.finditer(data):
        body = text.group(1)
        shown = _STRING_START.search(body)
        if shown is None:
            continue
        first = _SELECT_FONT.search(body)
        if first is None or first.start() > shown.start():
            return True
    return False


def _font_embedded(font: DictionaryObject) -> bool:
    subtype = _resolve(font.get("/Subtype"))
    if subtype == "/Type3":
        return True  # glyphs are drawn by PDF procedures inside the file
    if subtype == "/Type0":
        descendants = _resolve(font.get("/DescendantFonts"))
        if not isinstance(descendants, ArrayObject) or not descendants:
            return False
        descendant = _resolve(descendants[0])
        if not isinstance(descendant, DictionaryObject):
            return False
        font = descendant
    descriptor = _resolve(font.get("/FontDescriptor"))
    if not isinstance(descriptor, DictionaryObject):
        return False  # e.g. one of the standard 14 fonts named without a descriptor
    # A program that is there: a stream, not empty (white-box audit DI 4: a /FontFile2 of 0 bytes,
    # or naming an object the file does not have, counted as embedded; a RIP substitutes the font).
    return any(_a_program(descriptor, key) for key in _FONT_FILE_KEYS)


def _a_program(descriptor: DictionaryObject, key: str) -> bool:
    if key not in descriptor:
        return False
    try:
        program = _resolve(descriptor.raw_get(key))
        if not isinstance(program, StreamObject):
            return False
        length = _resolve(program.get("/Length"))
        return not (isinstance(length, int) and length <= 0) and bool(program._data or length)
    except Exception:  # noqa: BLE001 - unreadable: not a program the RIP can use
        return False


def _printed_appearances(page: DictionaryObject) -> list[Any]:
    """The appearances (forms, as referenced) of a page's annotations that print: only those show
    on paper; one per state where the annotation has states (a checkbox: /On, /Off)."""
    found: list[Any] = []
    annots = _resolve(page.get("/Annots"))
    if not isinstance(annots, ArrayObject):
        return found
    for ref in annots:
        annot = _resolve(ref)
        if not isinstance(annot, DictionaryObject) or not int(_resolve(annot.get("/F")) or 0) & _PRINT_FLAG:
            continue
        appearance = _resolve(annot.get("/AP"))
        if not isinstance(appearance, DictionaryObject) or "/N" not in appearance:
            continue
        normal = appearance.raw_get("/N")
        resolved = _resolve(normal)
        if isinstance(resolved, StreamObject):
            found.append(normal)  # the appearance itself, /Subtype /Form or not (white-box audit DI 5)
        elif isinstance(resolved, DictionaryObject):
            found.extend(resolved.values())  # one per state
    return found


#: An XObject drawn in content: ``/Fm1 Do``.
_DRAW_XOBJECT = re.compile(rb"/([^\s/\[\]()<>{}%]+)\s*Do" + _AFTER_TOKEN)


def _drawn_xobjects(holder: DictionaryObject) -> set[str] | None:
    """The names of the XObjects that a page's (or a form's) content draws (``/Fm1 Do``); None when
    that cannot be told (no readable content, or too much of it): then every listed one counts.
    A name inside a string or a comment is counted too: more, never fewer."""
    data = _content_data(holder)
    if data is None:
        return None
    return {pdfnames.from_content(match.group(1)) for match in _DRAW_XOBJECT.finditer(data)}


def _drawings(resources: DictionaryObject) -> list[tuple[str | None, Any]]:
    """What ``resources`` lists that draws with resources of its own, as referenced: its XObjects
    (forms; images are told apart by the caller) with their names, its tiling patterns (a pattern
    cell may show text: a background of repeated words), and the groups of its soft masks
    (``/SMask`` in an ExtGState)."""
    found: list[tuple[str | None, Any]] = []
    xobjects = _resolve(resources.get("/XObject"))
    if isinstance(xobjects, DictionaryObject):
        found.extend((str(key).removeprefix("/"), ref) for key, ref in xobjects.items())
    patterns = _resolve(resources.get("/Pattern"))
    if isinstance(patterns, DictionaryObject):
        found.extend((None, ref) for ref in patterns.values())
    states = _resolve(resources.get("/ExtGState"))
    if isinstance(states, DictionaryObject):
        for state in states.values():
            state = _resolve(state)
            mask = _resolve(state.get("/SMask")) if isinstance(state, DictionaryObject) else None
            if isinstance(mask, DictionaryObject) and "/G" in mask:
                found.append((None, mask.raw_get("/G")))
    return found


class _FontScanner:
    """Finds non-embedded fonts in a page's resources, in the Form XObjects, tiling patterns and
    soft masks they use, in the appearance of its printed annotations, and in the resources of
    Type3 fonts' glyphs. A font listed in the page's own resources but never selected (``/F1 12
    Tf``) in its content, as some producers list Helvetica on every page, is not counted; nor is
    one that shows only invisible text (``_visibly_shown_fonts``)."""

    def __init__(self, reader: PdfReader) -> None:
        self._reader = reader
        self._forms: dict[tuple[int, int], set[str]] = {}  # Form XObject -> its non-embedded fonts
        self._fonts: dict[tuple[int, int], set[str]] = {}  # font dict -> non-embedded fonts in it
        self._is_a_form: dict[tuple[int, int], bool] = {}  # XObject -> whether it is a form
        self._borrowed: dict[int, tuple[StreamObject, set[str] | None]] = {}  # (the object kept: its id stays its)

    def page_fonts(self, page: DictionaryObject) -> set[str]:
        found: set[str] = set()
        resources = _resolve(page.get("/Resources"))
        if isinstance(resources, DictionaryObject):
            found |= self._resources(resources, 0, lambda: _selected_fonts(self._reader, page), page)
        for appearance in _printed_appearances(page):
            found |= self._xobject(appearance, 0)
        return found

    def _resources(
        self,
        resources: DictionaryObject,
        depth: int,
        used: Callable[[], set[str] | None] | None = None,
        holder: DictionaryObject | None = None,
    ) -> set[str]:
        """``used()``: the names of the fonts in ``resources`` that show text, None for all;
        ``holder``: the page or form whose resources they are (the XObjects its content draws
        count; None: all listed, as for a Type3 font's glyphs)."""
        found: set[str] = set()
        fonts = _resolve(resources.get("/Font"))
        if used is not None:
            used = self._with_borrowers(resources, fonts, holder, used)
        if isinstance(fonts, DictionaryObject):
            selected: set[str] | None = None
            asked = False
            for key, ref in fonts.items():
                names = self._font(key, ref, depth)
                if names and used is not None:
                    if not asked:
                        selected, asked = used(), True
                    if selected is not None and str(key).removeprefix("/") not in selected:
                        continue  # listed, never used to show visible text
                found |= names
        states = _resolve(resources.get("/ExtGState"))
        if isinstance(states, DictionaryObject):
            # A graphics state may set the font (``/GS1 gs`` with ``/Font [ref size]``), as Tf does
            # (white-box audit CZ 2: text shown in an unembedded font chosen so passed the check).
            for key, state in states.items():
                state = _resolve(state)
                entry = _resolve(state.get("/Font")) if isinstance(state, DictionaryObject) else None
                if isinstance(entry, ArrayObject) and entry:
                    found |= self._font(str(key), entry[0], depth)
        if depth < _MAX_FORM_DEPTH:
            # A form the content never draws shows nothing (audit AU D2: its font was counted on
            # every page sharing the resources); the content is read only where a form is listed.
            drawn: set[str] | None = None
            asked = holder is None
            for key, ref in _drawings(resources):
                if key is not None and not asked and self._is_form(ref):
                    drawn, asked = _drawn_xobjects(holder) if holder is not None else None, True
                if key is not None and drawn is not None and key not in drawn:
                    continue
                found |= self._xobject(ref, depth)
        return found

    def _with_borrowers(
        self,
        resources: DictionaryObject,
        fonts: Any,
        holder: DictionaryObject | None,
        used: Callable[[], set[str] | None],
    ) -> Callable[[], set[str] | None] | None:
        """``used``, with the fonts selected by what draws with ``resources`` for want of its own: a
        form the content draws, a tiling pattern (white-box audit DI 1: an unembedded font such a
        form selected passed as "listed, never used"). None (every listed font counts) where a Type3
        font's glyphs do (DI 2)."""
        borrowers: list[StreamObject] = []
        if isinstance(fonts, DictionaryObject):
            for ref in fonts.values():
                font = _resolve(ref)
                if (
                    isinstance(font, DictionaryObject)
                    and _resolve(font.get("/Subtype")) == "/Type3"
                    and "/Resources" not in font
                ):
                    glyphs = _resolve(font.get("/CharProcs"))
                    if isinstance(glyphs, DictionaryObject):
                        borrowers.extend(g for g in map(_resolve, glyphs.values()) if isinstance(g, StreamObject))
        drawn: set[str] | None = None
        asked = holder is None
        for key, ref in _drawings(resources):
            if key is not None and not self._is_form(ref):
                continue  # (an image: its data is not loaded)
            borrower = _resolve(ref)
            if not isinstance(borrower, StreamObject) or "/Resources" in borrower:
                continue
            if key is not None:
                if not asked:
                    drawn, asked = _drawn_xobjects(holder) if holder is not None else None, True
                if drawn is not None and key not in drawn:
                    continue
            borrowers.append(borrower)
        if not borrowers:
            return used

        def with_theirs() -> set[str] | None:
            selected = used()
            for borrower in borrowers:
                theirs = self._selections(borrower) if selected is not None else None
                if theirs is None:
                    return None
                selected = (selected or set()) | theirs
            return selected

        return with_theirs

    def _selections(self, borrower: StreamObject) -> set[str] | None:
        """``_selected_fonts`` of a form or glyph drawing with another's resources, once per object
        (one form drawn on each of 200 pages was read 200 times: white-box audit DJ 5)."""
        key = id(borrower)
        if key not in self._borrowed:
            self._borrowed[key] = (borrower, _selected_fonts(self._reader, borrower))
        return self._borrowed[key][1]

    def _is_form(self, ref: Any) -> bool:
        """Whether ``ref`` is a form (an image's data is not loaded; each object told once: one
        image listed on every page of a 500-page file)."""
        ident = (ref.idnum, ref.generation) if isinstance(ref, IndirectObject) else None
        if ident is not None and ident in self._is_a_form:
            return self._is_a_form[ident]
        if _is_image(self._reader, ref):
            form = False
        else:
            xobject = _resolve(ref)
            form = isinstance(xobject, StreamObject) and _resolve(xobject.get("/Subtype")) == "/Form"
        if ident is not None:
            self._is_a_form[ident] = form
        return form

    def _font(self, key: str, ref: Any, depth: int) -> set[str]:
        ident = (ref.idnum, ref.generation) if isinstance(ref, IndirectObject) else None
        if ident is not None and ident in self._fonts:
            return self._fonts[ident]
        if ident is not None:
            self._fonts[ident] = set()  # also breaks cycles (a Type3 glyph using its own font)
        font = _resolve(ref)
        names: set[str] = set()
        if isinstance(font, DictionaryObject):
            if not _font_embedded(font):
                names.add(_font_name(font, key))
            elif _resolve(font.get("/Subtype")) == "/Type3" and depth < _MAX_FORM_DEPTH:
                glyph_resources = _resolve(font.get("/Resources"))  # its glyphs may draw text too
                if isinstance(glyph_resources, DictionaryObject):
                    names |= self._resources(glyph_resources, depth + 1)
        if ident is not None:
            self._fonts[ident] = names
        return names

    def _xobject(self, ref: Any, depth: int) -> set[str]:
        ident = (ref.idnum, ref.generation) if isinstance(ref, IndirectObject) else None
        if ident is not None:
            if ident in self._forms:
                return self._forms[ident]
            self._forms[ident] = set()  # also breaks cycles
            if _is_image(self._reader, ref):
                return set()
        xobject = _resolve(ref)
        if not isinstance(xobject, StreamObject) or not (
            _resolve(xobject.get("/Subtype")) in ("/Form", None) or _resolve(xobject.get("/PatternType")) == 1
        ):
            return set()
        resources = _resolve(xobject.get("/Resources"))
        found = (
            # As for a page: a font the form lists counts where its content selects it to show
            # visible text (audit 12-05 C: ReportLab's doForm forms begin, as its pages do, with
            # Helvetica selected in a text object that shows nothing).
            self._resources(resources, depth + 1, lambda: _selected_fonts(self._reader, xobject), xobject)
            if isinstance(resources, DictionaryObject)
            else set()
        )
        if ident is not None:
            self._forms[ident] = found
        return found


# ---------------------------------------------------------------------------------------------------
# The checks


@contextmanager
def pypdf_warnings() -> Iterator[list[str]]:
    """The warnings pypdf logs meanwhile (a damaged file it repairs while reading it: a wrong
    startxref, a broken xref table, missing objects), whatever the configured log level."""
    logger = logging.getLogger("pypdf")
    caught: list[str] = []

    class _Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            caught.append(record.getMessage())

    handler = _Catch(logging.WARNING)
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    if not logger.isEnabledFor(logging.WARNING):  # quiet by config: caught here, shown nowhere
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    try:
        yield caught
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


#: What pypdf's repair warnings mean, in an operator's words (the first that matches).
_REPAIRS = (
    (re.compile(r"invalid pdf header", re.I), "there are bytes before its PDF header"),
    (re.compile(r"startxref", re.I), "its pointer to the cross-reference table (startxref) is wrong"),
    (re.compile(r"EOF marker", re.I), "its end marker (%%EOF) is missing or misplaced"),
    (re.compile(r"xref", re.I), "its cross-reference table (the index of its objects) is broken"),
    (
        re.compile(r"wrong pointing object|object .* not defined|object id .* repaired|object .* found", re.I),
        "some of its objects are not where its cross-reference table says",
    ),
)


#: pypdf warnings that are not repairs: further %%EOF markers after the one that ends the last
#: revision, which some producers add (pypdf #4008); the revision read is the whole file (audit BC 6);
#: "startxref 303" on one line, where its offset is read as written (a wrong one is said besides:
#: review ED D1, a file every RIP opens was refused as "damaged").
_NOT_A_REPAIR = re.compile(r"Duplicate %%EOF marker|startxref on same line as offset", re.I)


def real_repairs(warnings: list[str]) -> list[str]:
    """The warnings of ``pypdf_warnings`` that say pypdf mended the file."""
    return [warning for warning in warnings if not _NOT_A_REPAIR.search(warning)]


#: pypdf's warning about a stream it could not decompress (said by _content_finding for content).
_DECOMPRESSING = re.compile(r"while decompressing", re.I)


def _content_finding(collector: _Collector, label: str, name: str, damaged: list[_Page]) -> None:
    """One finding for the pages of artwork ``name`` whose content stream, or an image, font or
    form they draw, is damaged."""
    first = damaged[0]
    if all(p.content_damage is not None for p in damaged):
        pages = _output_pages_label(damaged, "what is drawn on it" if len(damaged) == 1 else "what is drawn on them")
        if len(damaged) == 1 or len({p.content_damage for p in damaged}) == 1:
            what = f"the content of {pages} {first.content_damage}"
        else:
            what = f"the content of {pages} is damaged ({_output_pages_label([first])}: {first.content_damage})"
    else:
        # Grouped by what is damaged: a font used on every page is one damage on all of them.
        groups: dict[tuple[bool, str], list[_Page]] = {}
        for p in damaged:
            content = p.content_damage is not None
            groups.setdefault((content, p.content_damage or p.resource_damage or ""), []).append(p)
        parts = [
            f"the content of {_output_pages_label(members, 'what is drawn')} {damage}"
            if content
            else f"{_output_pages_label(members)}: {damage}"
            for (content, damage), members in groups.items()
        ]
        what = "; ".join(parts[:3]) + (f"; and {len(parts) - 3} more" if len(parts) > 3 else "")
    text = f"artwork {label} is damaged: {what}"
    the_pages = "the page" if len(damaged) == 1 else "those pages"
    if collector.validation.severity(REPAIRED) == "error":
        text += (
            f": {the_pages} would print incomplete or blank, or the RIP refuse the file (a file damaged on the way, "
            "or cut off); ask for the PDF again"
        )
    else:
        text += f": {the_pages} may print incomplete or blank; check the output before it prints"
    collector.add(REPAIRED, text, name, first.number)


def _plain_repair(warning: str) -> str:
    """pypdf's warning about a file it mended, in plain words (its own text where not known)."""
    for pattern, plain in _REPAIRS:
        if pattern.search(warning):
            return plain
    return f"the PDF reader reported: {' '.join(warning.split())[:160]}"


@dataclass(slots=True)
class _Collector:
    validation: ValidationConfig
    findings: list[Finding] = field(default_factory=list)

    def add(self, check: str, message: str, file: str | None = None, page: int | None = None) -> None:
        severity = self.validation.severity(check)
        if severity != "off":
            self.findings.append(Finding(check, severity, name_text(message), file, page))

    def error(self, check: str, message: str, file: str | None = None, page: int | None = None) -> None:
        # (a PDF name in the message, its bytes not UTF-8, as a person reads it: pdfnames)
        self.findings.append(Finding(check, "error", name_text(message), file, page))


def _permissions(collector: _Collector, reader: PdfReader, label: str, name: str) -> None:
    """An owner-password file opens without a password; what its permissions say matters to a
    RIP: one that forbids printing is refused by RIPs that honour it (an error, unless the
    encryption check is off), one that allows only low-quality printing may print degraded."""
    try:
        allowed = reader.user_access_permissions
    except Exception:  # noqa: BLE001 - an odd /P: said as the generic case below
        allowed = None
    flags = int(allowed) if allowed is not None else None
    if flags is not None and not flags & UserAccessPermissions.PRINT:
        if collector.validation.severity("encryption") != "off":
            collector.error(
                "encryption",
                f"artwork {label} forbids printing (its owner-password permissions): a RIP that honours them "
                "refuses it; ask the customer for an unprotected PDF",
                name,
            )
        return
    if flags is not None and not flags & UserAccessPermissions.PRINT_TO_REPRESENTATION:
        collector.add(
            "encryption",
            f"artwork {label} allows only low-quality printing (its owner-password permissions); a RIP that "
            "honours them may print it degraded",
            name,
        )
        return
    collector.add(
        "encryption",
        f"artwork {label} is protected by an owner password (editing restrictions; printing is allowed); "
        "it was opened without one",
        name,
    )


#: Inflated bytes of one content stream after which its check stops (as passed): a stream that
#: decodes this far is not cut off near its start, and a bomb does not keep the check busy.
_CONTENT_CHECK_LIMIT = 64 * 1024 * 1024
_CONTENT_CHUNK = 1024 * 1024


_LZW = ("/LZWDecode", "/LZW")
#: The filters of ISO 32000-1 7.4 (and their abbreviations, 8.9.7), and /Crypt.
_STANDARD_FILTERS = frozenset(
    {
        *("/ASCIIHexDecode", "/AHx", "/ASCII85Decode", "/A85", "/LZWDecode", "/LZW", "/FlateDecode", "/Fl"),
        *("/RunLengthDecode", "/RL", "/CCITTFaxDecode", "/CCF", "/JBIG2Decode", "/DCTDecode", "/DCT"),
        *("/JPXDecode", "/Crypt"),
    }
)
_ASCII85 = ("/ASCII85Decode", "/A85")
_ASCII_HEX = ("/ASCIIHexDecode", "/AHx")
_FLATE = ("/FlateDecode", "/Fl")
#: The start of an object whose dictionary names a filter the content check reads first
#: (``/Filter /FlateDecode``, ``/Filter [/A85 /Fl]``), and where that dictionary ends (its stream begins).
_CHECKED_FILTER = re.compile(
    rb"/Filter\s*(?:\[\s*)?/(?:FlateDecode|Fl|ASCII85Decode|A85|ASCIIHexDecode|AHx)(?![A-Za-z0-9_.#-])"
)
_OTHER_FILTER = re.compile(rb"/Filter\s*(?:\[\s*)?/")
#: A filter named first that the content check does not decode (images' and run-length): any other
#: the standard has (LZW, which is checked, and a filter no PDF has are looked at: review FQ 4).
_KNOWN_UNCHECKED_FILTER = re.compile(
    rb"/Filter\s*(?:\[\s*)?/(?:"
    + b"|".join(
        re.escape(name[1:].encode())
        for name in sorted(_STANDARD_FILTERS - {*_ASCII85, *_ASCII_HEX, *_FLATE, *_LZW}, key=len, reverse=True)
    )
    + rb")(?![A-Za-z0-9_.#-])"
)
#: JPEG data (the stream's only filter, or its first: see ``_ResourceChecker._data``)
_DCT_FILTER = re.compile(rb"/Filter\s*(?:\[\s*)?/(?:DCTDecode|DCT)(?![A-Za-z0-9_.#-])")
_DCT = ("/DCTDecode", "/DCT")
#: In JPEG data, a marker: 0xFF then a byte that is not a stuffed zero, a restart marker (which
#: entropy-coded data holds) or another 0xFF (fill bytes before a marker)
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_STREAM_START = re.compile(rb">>\s*stream[\r\n]")
_PEEK_BYTES = 1024
_OBJECT_HEADER = re.compile(rb"\s*(\d+)\s+(\d+)\s+obj\b")


#: A stream's /Length written as a reference to another object.
_INDIRECT_LENGTH = re.compile(rb"/Length\s+(\d+)\s+(\d+)\s+R\b")


def _maybe_flate(reader: PdfReader, ref: Any) -> bool:
    """False when the file shows, in the first bytes of the object ``ref`` points to, that it is a
    stream without a filter the content check reads (an uncompressed content stream): reading it through pypdf would
    parse it for nothing (a 500-page file's preflight took a quarter longer). True otherwise,
    whenever that cannot be told this way (the object elsewhere than its xref says, an indirect
    /Filter, a long dictionary): pypdf then reads it."""
    if not isinstance(ref, IndirectObject):
        return True
    header = _stream_header(reader, ref, _PEEK_BYTES)
    if header is None:
        return True
    if (
        _CHECKED_FILTER.search(header) is not None
        or (_OTHER_FILTER.search(header) is None and b"/Filter" in header)  # an indirect /Filter: pypdf tells
        or (_OTHER_FILTER.search(header) is not None and _KNOWN_UNCHECKED_FILTER.search(header) is None)
    ):
        return True  # (LZW, which is checked, and a filter no PDF has: looked at, review FQ 4)
    if (length := _INDIRECT_LENGTH.search(header)) is not None:
        # Its length in another object: looked up, so that one missing is said (pypdf warns: a
        # repair). Review ED D3: `/Length 9 0 R` with no object 9, never looked up here, passed, and
        # Ghostscript printed the page blank.
        with contextlib.suppress(Exception):
            reader.get_object(IndirectObject(int(length[1]), int(length[2]), reader))
    return False


def _content_damage(reader: PdfReader, page: DictionaryObject) -> str | None:
    """How the page's content (what is drawn on it) is damaged, if its compressed data does not
    decode to its end: a corrupt or cut-off Flate stream. pypdf decodes what it can of one, silently
    when it is cut off, and a RIP prints the page incomplete or blank, or refuses the file; the
    output carries the stream as it is. Only Flate streams are checked (nearly all content is; also
    inside ASCII85 or hexadecimal text), and a missing or wrong checksum after complete data is
    accepted, as readers accept it. Raises _DirectContent for a stream written in /Contents itself."""
    contents = dict.get(page, "/Contents")  # (unresolved: _maybe_flate looks before pypdf reads it)
    if isinstance(contents, StreamObject):
        raise _DirectContent  # a stream written in place of a reference to one
    if isinstance(contents, IndirectObject):
        if not _maybe_flate(reader, contents):
            return None
        resolved = _resolve(contents)
        streams = [(s, False) for s in resolved] if isinstance(resolved, ArrayObject) else [(resolved, True)]
    elif isinstance(contents, ArrayObject):
        streams = [(s, False) for s in contents]
    elif _is_null(contents):
        return None  # (a page with nothing drawn on it)
    else:
        return _not_content(contents)
    for item, looked in streams:
        if isinstance(item, StreamObject) and not looked:
            raise _DirectContent
        if not looked and not _maybe_flate(reader, item):
            continue
        stream = _resolve(item)
        if not isinstance(stream, StreamObject):
            if _is_null(stream) or (looked and isinstance(stream, ArrayObject)):
                continue
            return _not_content(stream)
        damage = _content_data_damage(reader, stream)
        if damage is not None:
            return damage
    return None


def _not_content(value: Any) -> str:
    """What a page's /Contents holds that is no content stream: Ghostscript draws nothing of the
    page (review FQ 4: /Contents 42 passed, a blank print)."""
    shown = str(value)
    return f"is not there: its /Contents is no content stream but {shown[:40] if shown else type(value).__name__}"


#: The operators of page content (ISO 32000-1, Annex A).
_OPERATORS = frozenset(
    b"b B b* B* BDC BI BMC BT BX c cm CS cs d d0 d1 Do DP EI EMC ET EX f F f* G g gs h i ID j J K k l m M "
    b"MP n q Q re RG rg ri s S SC sc SCN scn sh T* Tc Td TD Tf Tj TJ TL Tm Tr Ts Tw Tz v w W W* y ' \"".split()
)
#: Content (decoded) larger than this is not parsed when its checksum is wrong: taken as it decodes.
_GARBLE_CHECK_LIMIT = 16 * 1024 * 1024


def _content_data_damage(reader: PdfReader, stream: StreamObject) -> str | None:
    """How content (of a page, a form, a glyph) is damaged: its Flate data does not decode to its
    end, or its zlib checksum is wrong AND what it decodes to is not page content (data overwritten
    in the middle that still decodes, to garbage; a wrong checksum on content that reads as content
    is some producer's slip, and passes)."""
    filters = _filter_names(stream)
    unknown = [f for f in filters if f is not None and f not in _STANDARD_FILTERS]
    if unknown:
        # (review FQ 4: /Filter /NoSuchDecode passed; Ghostscript draws nothing of the page)
        return f"cannot be decoded: it is encoded with {str(unknown[0])[:40]}, which is no PDF filter"
    stream = _with_full_filter_names(stream, filters)
    if any(f in _LZW for f in filters):
        return _lzw_damage(reader, stream)
    decoded = _decode(stream._data, filters, _CONTENT_CHECK_LIMIT)  # the raw (still encoded) bytes
    if decoded is None:
        return None
    if decoded.damage is not None:
        return decoded.damage
    if decoded.checksum_ok is False and decoded.size <= _GARBLE_CHECK_LIMIT and _garbled(reader, stream):
        return (
            "cannot be decoded (its compressed data is corrupt: its checksum is wrong, and it decodes to no valid "
            "content)"
        )
    return None


#: The abbreviations of filter names (ISO 32000-1 8.9.7, for inline images): pypdf 7 refuses them
#: in a stream's dictionary (a DeprecationError), readers and RIPs decode them.
_FULL_FILTER_NAMES = {
    "/AHx": "/ASCIIHexDecode", "/A85": "/ASCII85Decode", "/LZW": "/LZWDecode", "/Fl": "/FlateDecode",
    "/RL": "/RunLengthDecode", "/CCF": "/CCITTFaxDecode", "/DCT": "/DCTDecode",
}  # fmt: skip


def _with_full_filter_names(stream: StreamObject, filters: list[Any]) -> StreamObject:
    """``stream``, or a copy of it whose /Filter names its filters in full where it abbreviates them
    (review GL 1: content under /LZW, or /Fl with a wrong checksum, which Ghostscript draws, was said
    corrupt: pypdf refused to decode it)."""
    if not any(f in _FULL_FILTER_NAMES for f in filters):
        return stream
    names = [NameObject(_FULL_FILTER_NAMES.get(f, f)) for f in filters]
    copy = EncodedStreamObject()
    copy.update(stream)
    copy[NameObject("/Filter")] = ArrayObject(names) if len(names) > 1 else names[0]
    copy._data = stream._data
    return copy


def _lzw_damage(reader: PdfReader, stream: StreamObject) -> str | None:
    """Content encoded with LZW (PDFs of the 1990s), decoded by pypdf: damaged when it does not
    decode, or decodes to no content (review FQ 4: garbage passed, and Ghostscript drew nothing)."""
    if len(stream._data) > _GARBLE_CHECK_LIMIT // 4:
        return None  # (not decoded in memory: taken as it is)
    parms = _decode_parms(stream, _filter_names(stream), _LZW)
    if parms is not None and (
        _pdf_number(parms.get("/EarlyChange", 1)) != 1 or (_pdf_number(parms.get("/Predictor", 1)) or 1) > 1
    ):
        return None  # (pypdf decodes LZW with neither: review FS 1, good content said corrupt; taken as it is)
    try:
        stream.get_data()
    except Exception:  # noqa: BLE001 - not decodable is the answer
        return "cannot be decoded (its LZW data is corrupt)"
    if _garbled(reader, stream):
        return "cannot be decoded (its LZW data decodes to no valid content)"
    return None


def _garbled(reader: PdfReader, stream: StreamObject) -> bool:
    """Whether decoded content does not parse as PDF content: pypdf cannot read it, or it holds an
    operator no PDF has (outside a BX/EX section, where unknown operators are allowed)."""
    try:
        operations = ContentStream(stream, reader).operations
    except Exception:  # noqa: BLE001 - unreadable as content is the answer
        return True
    compatibility = 0
    for _operands, operator in operations:
        if operator == b"BX":
            compatibility += 1
        elif operator == b"EX":
            compatibility = max(0, compatibility - 1)
        elif operator not in _OPERATORS and operator != b"INLINE IMAGE" and not compatibility:
            return True
    return False


def _filter_names(stream: StreamObject) -> list[Any]:
    """The names of a stream's filters, in the order they apply (a single /Filter: one)."""
    filters = _resolve(stream.get("/Filter"))
    return [_resolve(f) for f in filters] if isinstance(filters, ArrayObject) else [filters]


#: How many bytes a stream's data must decode to, told from its dictionary (None: not told).
_SizeOf = Callable[[StreamObject, list[Any]], int | None]
#: Streams larger than this (compressed, as the file stores them) are not loaded to be checked.
_RESOURCE_CHECK_MAX = 64 * 1024 * 1024
_LENGTH = re.compile(rb"/Length\s+(\d+)(?:\s+(\d+)\s+R)?")
_SMASK = re.compile(rb"/SMask\s+(\d+)\s+(\d+)\s+R")
_INDIRECT_SPACE = re.compile(rb"/ColorSpace\s+(\d+)\s+(\d+)\s+R")
_ICC = re.compile(rb"/ICCBased\s+(\d+)\s+(\d+)\s+R")
#: Components per pixel of the colour spaces an image can name directly.
_COMPONENTS = {
    "/DeviceGray": 1, "/G": 1, "/CalGray": 1, "/Indexed": 1, "/I": 1, "/Separation": 1,
    "/DeviceRGB": 3, "/RGB": 3, "/CalRGB": 3, "/Lab": 3, "/DeviceCMYK": 4, "/CMYK": 4,
}  # fmt: skip


class _ResourceChecker:
    """Finds damaged compressed data in what a page draws besides its content: its images (and
    their soft masks), embedded font programs, forms (Form XObjects, tiling patterns, printed
    annotations' appearances, Type3 glyphs), ICC colour profiles, each checked once per file
    (audit C 9: a font or an image overwritten in the middle passed, and printed wrong or not at
    all).

    Damage is Flate data (also inside ASCII85 or hexadecimal text) that does not decode to its end,
    as for page content; and, for an image or a font program whose decoded size its dictionary
    tells, data whose zlib checksum is wrong AND that decodes to another size: data overwritten in
    the middle often still decodes, to something else. A wrong checksum alone passes (readers
    ignore it, and some producers write it wrong); forms and glyphs are content, checked as page
    content is (``_content_data_damage``). JPEG data (DCTDecode, its only filter) is damaged when
    it is not JPEG data or ends before its end marker (``_jpeg_damage``); damage inside it that
    keeps its markers is not found (that needs decoding it). Data with other filters
    (uncompressed, JPEG 2000, CCITT, JBIG2, Flate around JPEG) is never loaded; nor is a stream of
    more than 64 MiB."""

    def __init__(self, reader: PdfReader) -> None:
        self._reader = reader
        self._seen: dict[tuple[int, int], str | None] = {}  # stream or form -> its damage

    def page(self, page: DictionaryObject) -> str | None:
        """The first damage found in what ``page`` draws, or None. A structure this check cannot
        follow is not damage it found: what a reader makes of it, the other checks say."""
        try:
            return self._page(page)
        except Exception:  # noqa: BLE001 - a check of data, never a reason of its own to refuse a file
            return None

    def _page(self, page: DictionaryObject) -> str | None:
        resources = _resolve(page.get("/Resources"))
        if isinstance(resources, DictionaryObject):
            found = self._resources(resources, 0)
            if found is not None:
                return found
        for appearance in _printed_appearances(page):
            found = self._form(appearance, "the appearance of an annotation", 0)
            if found is not None:
                return found
        return None

    def _resources(self, resources: DictionaryObject, depth: int) -> str | None:
        spaces = _resolve(resources.get("/ColorSpace"))
        if isinstance(spaces, DictionaryObject):
            for key, space in spaces.items():
                found = self._colour_space(_resolve(space), f"its colour space {str(key).removeprefix('/')}")
                if found is not None:
                    return found
        xobjects = _resolve(resources.get("/XObject"))
        if isinstance(xobjects, DictionaryObject):
            for key, ref in xobjects.items():
                name = str(key).removeprefix("/")
                head = _stream_header(self._reader, ref)  # (read once: kind, filter, size, mask, colours)
                if self._an_image(ref, head):
                    found = self._image(ref, f"its image {name}", head)
                else:
                    found = self._form(ref, f"its form {name}", depth)
                if found is not None:
                    return found
        fonts = _resolve(resources.get("/Font"))
        if isinstance(fonts, DictionaryObject):
            for key, ref in fonts.items():
                found = self._font(key, ref, depth)
                if found is not None:
                    return found
        patterns = _resolve(resources.get("/Pattern"))
        if isinstance(patterns, DictionaryObject):
            for key, ref in patterns.items():
                found = self._form(ref, f"its pattern {str(key).removeprefix('/')}", depth)
                if found is not None:
                    return found
        return None

    def _an_image(self, ref: Any, head: bytes | None) -> bool:
        loaded = self._reader.resolved_objects.get((ref.generation, ref.idnum)) if _ident(ref) else None
        if isinstance(loaded, StreamObject):
            return bool(_resolve(loaded.get("/Subtype")) == "/Image")
        return head is not None and _IMAGE_SUBTYPE.search(head) is not None

    def _form(self, ref: Any, what: str, depth: int) -> str | None:
        ident = _ident(ref)
        if ident is None or depth >= _MAX_FORM_DEPTH:
            return None
        if ident in self._seen:
            return self._seen[ident]
        self._seen[ident] = None  # also breaks cycles
        form = _resolve(ref)
        if not isinstance(form, StreamObject) or _resolve(form.get("/Subtype")) == "/Image":
            return None
        found = _content_data_damage(self._reader, form)
        damage = f"{what} {found}" if found is not None else None
        if damage is None:
            resources = _resolve(form.get("/Resources"))
            if isinstance(resources, DictionaryObject):
                damage = self._resources(resources, depth + 1)
        self._seen[ident] = damage
        return damage

    def _font(self, key: Any, ref: Any, depth: int) -> str | None:
        ident = _ident(ref)
        if ident is not None:
            if ident in self._seen:
                return self._seen[ident]
            self._seen[ident] = None
        font = _resolve(ref)
        damage: str | None = None
        if isinstance(font, DictionaryObject):
            name = _font_name(font, str(key))
            subtype = _resolve(font.get("/Subtype"))
            if subtype == "/Type3" and depth < _MAX_FORM_DEPTH:
                procs = _resolve(font.get("/CharProcs"))
                if isinstance(procs, DictionaryObject):
                    for proc in procs.values():
                        damage = self._form(proc, f"a glyph of its font {name}", depth + 1)
                        if damage is not None:
                            break
            else:
                if subtype == "/Type0":
                    descendants = _resolve(font.get("/DescendantFonts"))
                    font = _resolve(descendants[0]) if isinstance(descendants, ArrayObject) and descendants else None
                descriptor = _resolve(font.get("/FontDescriptor")) if isinstance(font, DictionaryObject) else None
                if isinstance(descriptor, DictionaryObject):
                    for file_key in _FONT_FILE_KEYS:
                        if file_key in descriptor:
                            damage = self._loaded(
                                descriptor.raw_get(file_key), f"its embedded font {name}", _font_program_size
                            )
                            break
        if ident is not None:
            self._seen[ident] = damage
        return damage

    def _image(self, ref: Any, what: str, head: bytes | None) -> str | None:
        damage = self._loaded(ref, what, _image_size, head)
        head = head or b""
        if damage is None and (mask := _SMASK.search(head)) is not None:  # its transparency, an image itself
            damage = self._loaded(self._ref(mask), f"{what} (its transparency)", _image_size)
        if damage is None:
            space = _INDIRECT_SPACE.search(head)
            damage = self._colour_space(
                _resolve(self._ref(space)) if space is not None else None,
                what,
                [self._ref(m) for m in _ICC.finditer(head)],
            )
        return damage

    def _ref(self, match: re.Match[bytes]) -> IndirectObject:
        return IndirectObject(int(match[1]), int(match[2]), self._reader)

    def _colour_space(self, space: Any, what: str, profiles: list[Any] | None = None) -> str | None:
        """Checks the ICC profiles (streams) a colour space uses, also as the base of /Indexed."""
        found = list(profiles or [])
        while isinstance(space, ArrayObject) and space:
            family = _resolve(space[0])
            if family == "/ICCBased" and len(space) > 1:
                found.append(space[1])  # (an ArrayObject keeps the reference as it is)
                break
            space = _resolve(space[1]) if family == "/Indexed" and len(space) > 1 else None
        for profile in found:
            damage = self._loaded(profile, f"{what} (its colour profile)", None)
            if damage is not None:
                return damage
        return None

    def _loaded(self, ref: Any, what: str, size: _SizeOf | None, head: bytes | None = None) -> str | None:
        """Checks an image, a font program or a colour profile, loaded only when its filter is one
        checked and it is not too big, and let go of after (pypdf would keep it for the file's
        life). ``head``: its dictionary as ``_stream_header`` read it already."""
        ident = _ident(ref)
        if ident is None:
            return None
        if ident in self._seen:
            return self._seen[ident]
        self._seen[ident] = None
        if head is None:
            head = _stream_header(self._reader, ref)
        if head is None or not self._small(head):
            return None
        if _CHECKED_FILTER.search(head) is None and _DCT_FILTER.search(head) is None:
            return None
        loaded_before = (ident[1], ident[0]) in self._reader.resolved_objects
        try:
            stream = _resolve(ref)
            damage = self._data(stream, what, size) if isinstance(stream, StreamObject) else None
        finally:
            if not loaded_before:
                self._reader.resolved_objects.pop((ident[1], ident[0]), None)
        self._seen[ident] = damage
        return damage

    def _small(self, head: bytes) -> bool:
        length = _LENGTH.search(head)
        if length is None:
            return False
        if length[2] is None:
            return int(length[1]) <= _RESOURCE_CHECK_MAX
        value = _resolve(IndirectObject(int(length[1]), int(length[2]), self._reader))
        return isinstance(value, int) and value <= _RESOURCE_CHECK_MAX

    def _data(self, stream: StreamObject, what: str, size: _SizeOf | None) -> str | None:
        names = _filter_names(stream)
        if len(names) == 1 and names[0] in _DCT:
            damage = _jpeg_damage(stream._data)  # (the raw bytes: JPEG data as the file holds it)
            return f"{what} {damage}" if damage is not None else None
        expected: int | None = size(stream, names) if size is not None else None
        limit = _CONTENT_CHECK_LIMIT if expected is None else expected + _CONTENT_CHUNK
        decoded = _decode(stream._data, names, limit)  # the raw (still encoded) bytes
        if decoded is None:
            return None
        if decoded.damage is not None:
            return f"{what} {decoded.damage}"
        if size is _font_program_size and decoded.size > limit:
            # A RIP loads a font program whole (review FQ 6: 1 GiB of zeros in a 1 MB file passed, and
            # Ghostscript took 1 GB to print its page); no real font is near 64 MiB.
            said = f" where its dictionary says {expected:,}" if expected is not None else ""
            return (
                f"{what} decompresses to more than {limit:,} bytes{said}: not a font but a decompression bomb, "
                "which can make the RIP run out of memory"
            )
        if expected is not None and decoded.checksum_ok is False and decoded.size != expected:
            return (
                f"{what} cannot be decoded (its compressed data is corrupt: it decodes to {decoded.size:,} bytes where "
                f"{expected:,} are needed, and its checksum is wrong)"
            )
        return None


def _jpeg_damage(data: bytes) -> str | None:
    """How JPEG data (an image's DCTDecode stream) is damaged, walked marker by marker without
    decoding it: data that is not JPEG data, or that ends before its end-of-image marker (EOI):
    an image cut short, which readers draw with a grey or missing part (every encoder writes the
    marker). Bytes after the marker are not looked at (some photos carry more data there)."""
    first = data[:64]  # (an end of line left before the data: readers skip it)
    start = len(first) - len(first.lstrip(b"\0\t\n\x0c\r "))
    if data[start : start + 2] != b"\xff\xd8":
        return "cannot be decoded (its data is not JPEG data, which its filter DCTDecode says it is)"
    pos, end, in_scan = start + 2, len(data), False
    while True:
        marker = _JPEG_MARKER.match(data, pos)
        if marker is None:  # entropy-coded data, fill bytes or stray bytes: on to the next marker
            marker = _JPEG_MARKER.search(data, pos)
            if marker is None:
                break
            pos = marker.start()
        kind = data[pos + 1]
        if kind == 0xD9:  # EOI
            return None
        if kind == 0x01:  # TEM: a marker without a length
            pos += 2
            continue
        if pos + 4 > end:
            break
        segment_end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if segment_end > end:
            break
        in_scan = in_scan or kind == 0xDA  # SOS: image data follows the segment
        pos = segment_end
    if not in_scan:
        return "cannot be decoded (its JPEG data is cut short before the image data begins)"
    return "is cut short (its JPEG data ends before its end marker: it prints with a grey or missing part)"


def _ident(ref: Any) -> tuple[int, int] | None:
    return (ref.idnum, ref.generation) if isinstance(ref, IndirectObject) else None


def _stream_header(reader: PdfReader, ref: Any, peek: int = 4 * _PEEK_BYTES) -> bytes | None:
    """The dictionary of the stream ``ref`` points to, read from the file (its data not loaded);
    None when it is no stream there, or it cannot be told this way (then it is not checked)."""
    if not isinstance(ref, IndirectObject):
        return None
    offset = reader.xref.get(ref.generation, {}).get(ref.idnum)
    if not isinstance(offset, int) or offset <= 0:
        return None
    stream = reader.stream
    where = stream.tell()
    try:
        stream.seek(offset)
        head = stream.read(peek)
    except (OSError, ValueError):
        return None
    finally:
        stream.seek(where)
    begins = _OBJECT_HEADER.match(head)
    if begins is None or (int(begins[1]), int(begins[2])) != (ref.idnum, ref.generation):
        return None
    end = _STREAM_START.search(head)
    return head[: end.start()] if end is not None else None


def _is_image(reader: PdfReader, ref: Any) -> bool:
    """Whether ``ref`` is an image, told from its dictionary in the file: its data is not loaded."""
    if isinstance(ref, IndirectObject) and (ref.generation, ref.idnum) in reader.resolved_objects:
        return False  # already in memory: resolving it is free
    head = _stream_header(reader, ref)
    return head is not None and _IMAGE_SUBTYPE.search(head) is not None


def _decode_parms(stream: StreamObject, filters: list[Any], names: tuple[str, ...]) -> DictionaryObject | None:
    """The /DecodeParms of the last of ``filters`` that is one of ``names`` (an array of them: the
    entry at its place)."""
    parms = _resolve(stream.get("/DecodeParms"))
    if isinstance(parms, ArrayObject):
        at = max((i for i, name in enumerate(filters) if name in names), default=None)
        parms = _resolve(parms[at]) if at is not None and len(parms) == len(filters) else None
    return parms if isinstance(parms, DictionaryObject) else None


def _int(value: Any, default: int | None = None) -> int | None:
    value = _resolve(value)
    if value is None:
        return default
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _image_size(image: StreamObject, filters: list[Any]) -> int | None:
    """The bytes an image's Flate data must decode to, from its size, colours and predictor; None
    where that is not plain (a colour space named in the resources, odd parameters)."""
    width, height = _int(image.get("/Width")), _int(image.get("/Height"))
    if _resolve(image.get("/ImageMask")) is True:
        colors: int | None = 1
        bits = 1
    else:
        bits = _int(image.get("/BitsPerComponent")) or 0
        space = _resolve(image.get("/ColorSpace"))
        if isinstance(space, ArrayObject) and space:
            family = _resolve(space[0])
            if family == "/ICCBased" and len(space) > 1:
                profile = _resolve(space[1])
                colors = _int(profile.get("/N")) if isinstance(profile, DictionaryObject) else None
            elif family == "/DeviceN" and len(space) > 1:
                names = _resolve(space[1])
                colors = len(names) if isinstance(names, ArrayObject) else None
            else:
                colors = _COMPONENTS.get(str(family))
        else:
            colors = _COMPONENTS.get(str(space))
    if not width or not height or not colors or bits not in (1, 2, 4, 8, 16):
        return None
    parms = _decode_parms(image, filters, _FLATE)
    predictor = _int(parms.get("/Predictor"), 1) if parms is not None else 1
    if predictor is None or predictor == 1:
        return height * ((width * colors * bits + 7) // 8)
    if predictor < 10:
        return None  # TIFF predictor: not checked
    assert parms is not None
    columns, p_colors, p_bits = (
        _int(parms.get("/Columns"), 1),
        _int(parms.get("/Colors"), 1),
        _int(parms.get("/BitsPerComponent"), 8),
    )
    if not columns or not p_colors or not p_bits:
        return None
    return height * (1 + (columns * p_colors * p_bits + 7) // 8)  # a filter-type byte before each row


def _font_program_size(program: StreamObject, filters: list[Any]) -> int | None:
    """The bytes an embedded TrueType or Type 1 font program decodes to (/Length1, + /Length2,
    /Length3); None for others (CFF, OpenType) and where not given."""
    first = _int(program.get("/Length1"))
    if not first:
        return None
    if "/Length2" not in program:
        return first
    second, third = _int(program.get("/Length2")), _int(program.get("/Length3"), 0)
    return None if second is None or third is None else first + second + third


class _DirectContent(Exception):
    """A page's /Contents holds a stream itself, not a reference to one (ISO 32000 7.3.8: a stream
    is always an indirect object): Ghostscript does not find the page (audit C 4)."""


_A85_IGNORED = b" \t\n\r\x0b\x0c\x00"


def _decode(data: bytes, filters: list[Any], limit: int) -> _Inflated | None:
    """``data`` decoded through ``filters`` (ASCII85 or hexadecimal text around Flate data), the
    output kept nowhere; None when the filters are others (not checked), or no Flate among them."""
    if not filters or any(f not in (*_ASCII85, *_ASCII_HEX, *_FLATE) for f in filters):
        return None
    if any(f in _FLATE for f in filters[:-1]):
        return None  # Flate inside another layer: not a content stream anyone writes
    for name in filters:
        if name in _ASCII85:
            text = data.strip()
            text = text[2:] if text.startswith(b"<~") else text
            if not text.endswith(b"~>"):
                return _Inflated("is cut off (its ASCII85 text has no end marker ~>)", 0, None)
            try:
                data = base64.a85decode(text[:-2], ignorechars=_A85_IGNORED)
            except ValueError:
                return _Inflated("cannot be decoded (its ASCII85 text is corrupt)", 0, None)
        elif name in _ASCII_HEX:
            text = re.sub(rb"\s+", b"", data)
            if not text.endswith(b">"):
                return _Inflated("is cut off (its hexadecimal text has no end marker >)", 0, None)
            text = text[:-1]
            try:
                data = binascii.unhexlify(text + b"0" if len(text) % 2 else text)
            except (binascii.Error, ValueError):
                return _Inflated("cannot be decoded (its hexadecimal text is corrupt)", 0, None)
        else:
            return _inflate(data, limit)
    return None


@dataclass(slots=True, frozen=True)
class _Inflated:
    damage: str | None  # why the data does not inflate to its end (corrupt, cut off), or None
    size: int  # bytes it inflated to (as far as it was inflated)
    #: whether the zlib checksum after the data matches it: None when there is none to compare (raw
    #: deflate, fewer than 4 bytes after the data: Adobe drops a last 0x00 byte) or the inflation
    #: stopped at its limit
    checksum_ok: bool | None


def _inflate(data: bytes, limit: int) -> _Inflated:
    """``data`` (a zlib or raw deflate stream) inflated, the output kept nowhere, up to ``limit``
    bytes (then it counts as complete: not cut off near its start, and no bomb keeps it busy)."""
    zlib_header = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
    start = 2 if zlib_header else 0
    inflater = zlib.decompressobj(-15)  # raw deflate: its end is the last block's, checksum or not
    view = memoryview(data)[start:]
    inflated = 0
    checksum = 1  # adler32 of nothing
    fed = 0  # bytes of ``view`` given to the inflater
    try:
        while fed < len(view) and not inflater.eof:
            chunk = bytes(view[fed : fed + _CONTENT_CHUNK])
            fed += len(chunk)
            while chunk and not inflater.eof:
                out = inflater.decompress(chunk, _CONTENT_CHUNK)
                inflated += len(out)
                checksum = zlib.adler32(out, checksum)
                chunk = inflater.unconsumed_tail
                if inflated > limit:
                    return _Inflated(None, inflated, None)
        if not inflater.eof:
            out = inflater.flush()
            inflated += len(out)
            checksum = zlib.adler32(out, checksum)
    except zlib.error as exc:
        reason = str(exc).removeprefix("Error -3 while decompressing data: ")
        return _Inflated(f"cannot be decoded (its compressed data is corrupt: {reason})", inflated, None)
    if not inflater.eof:
        return _Inflated("is cut off (its compressed data ends before the content does)", inflated, None)
    # What follows the data: in a zlib stream, its checksum (4 bytes, big-endian).
    after = (inflater.unused_data + bytes(view[fed : fed + 4]))[:4]
    if not zlib_header or len(after) < 4:
        return _Inflated(None, inflated, None)
    return _Inflated(None, inflated, int.from_bytes(after, "big") == checksum)


def _sha256(path: str) -> str:
    with open(path, "rb") as fh:
        return AHEAD.digest(fh)  # (read ahead, where the daemon handed the file to this worker early)


#: The longest side of a page, in its own units, that is printed (ISO 32000-1 Annex C sets 14,400 and
#: /UserUnit for larger pages; Ghostscript sets up pages of 500,000 and not of 1,000,000).
MAX_PAGE_UNITS = 200_000


def _read_pages(
    name: str, reader: PdfReader, first: int, scan_fonts: bool, check_resources: bool = True
) -> list[_Page]:
    label = quote_name(name)
    scanner = _FontScanner(reader)
    resources = _ResourceChecker(reader) if check_resources else None
    pages: list[_Page] = []
    for index, page in enumerate(reader.pages):
        number = first + index
        try:
            unit = user_unit(page)
            given = _resolve(page.get("/UserUnit"))
            if given is not None and unit == 1.0 and (value := _pdf_number(given)) != 1.0:
                shown = f"{value:g}" if value is not None else str(given)
                raise ArtworkProblem(
                    f"page {number}: artwork {label} has an invalid /UserUnit ({shown}): the unit of a page's sizes "
                    "must be a positive number, and RIPs (Ghostscript among them) cannot size or print this page; "
                    "ask for the PDF exported again"
                )
            media_pt = read_box_pt(page, "/MediaBox")
            if media_pt is None:
                raise ArtworkProblem(f"page {number}: artwork {label} has no page size (MediaBox missing or invalid)")
            if media_pt[2] - media_pt[0] < 1.0 or media_pt[3] - media_pt[1] < 1.0:
                raise ArtworkProblem(
                    f"page {number}: artwork {label} has no page size (its MediaBox is "
                    f"{media_pt[2] - media_pt[0]:g} x {media_pt[3] - media_pt[1]:g} points)"
                )
            if max(media_pt[2] - media_pt[0], media_pt[3] - media_pt[1]) > MAX_PAGE_UNITS:
                # (review FQ 5: 1,000,000 x 842 points, 352 m, passed; Ghostscript cannot set up the page)
                raise ArtworkProblem(
                    f"page {number}: artwork {label} has a page size no RIP prints: "
                    f"{(media_pt[2] - media_pt[0]) * unit * MM_PER_PT / 1000:,.1f} x "
                    f"{(media_pt[3] - media_pt[1]) * unit * MM_PER_PT / 1000:,.1f} m (its MediaBox); "
                    "ask for the PDF exported again at its real size"
                )
            rotation = _rotation(page)
            if rotation % 90:
                raise ArtworkProblem(
                    f"page {number}: artwork {label} is turned by {rotation} degrees (/Rotate), which a PDF may not "
                    "be (only by 0, 90, 180 or 270): viewers and RIPs show such a page differently; ask for the "
                    "PDF exported again"
                )
            trim_pt = read_box_pt(page, "/TrimBox")
            bleed_pt = read_box_pt(page, "/BleedBox")
            crop_pt = read_box_pt(page, "/CropBox")
            for key, read in (("/TrimBox", trim_pt), ("/BleedBox", bleed_pt), ("/CropBox", crop_pt)):
                # (null is no entry at all, ISO 32000 7.3.9: white-box audit DJ 6)
                if read is None and key in page and not _is_null(_resolve(page[key])):
                    # Taken as missing, the output kept it (it adds boxes only where there are none),
                    # and RIPs cut the page uncut or stop (white-box audit DI 7).
                    raise ArtworkProblem(
                        f"page {number}: artwork {label} has a {key[1:]} that is not four numbers (it is "
                        f"{_box_shown(page, key)}): a RIP cannot cut or place the page by it; ask for the PDF "
                        "exported again"
                    )
            media = _to_mm(media_pt, unit)
            # The boxes as viewers and RIPs take them: within the MediaBox (poppler and Acrobat clip
            # them); a TrimBox entirely off the page is said as such (_check_page).
            raw_trim = _to_mm(trim_pt, unit) if trim_pt else None
            trim = raw_trim.intersect(media) if raw_trim is not None else None
            trim_off_page = raw_trim if trim is not None and (trim.width < 1 or trim.height < 1) else None
            trim_clipped = (
                raw_trim is not None
                and trim is not None
                and (raw_trim.width - trim.width > ROUNDING_MM or raw_trim.height - trim.height > ROUNDING_MM)
            )
            visible = media.intersect(_to_mm(crop_pt, unit)) if crop_pt else media
            if crop_pt and (visible.width < 1 or visible.height < 1):
                # (white-box audit DI 9: taken as no CropBox, while viewers and RIPs show nothing or
                # another size)
                raise ArtworkProblem(
                    f"page {number}: artwork {label} has its CropBox (the part of the page shown and printed) "
                    "empty or outside the page (its MediaBox): nothing of the page would print; ask for the PDF "
                    "exported again"
                )
            cropped = (
                visible.width > 1
                and visible.height > 1
                and (visible.width < media.width - ROUNDING_MM or visible.height < media.height - ROUNDING_MM)
            )
            info = _Page(
                number=number,
                in_file=index + 1,
                file=name,
                media=visible if cropped else media,
                cropped=cropped,
                trim=trim,
                bleed=_to_mm(bleed_pt, unit) if bleed_pt else None,
                rotation=rotation % 360,
                trim_off_page=trim_off_page,
                trim_clipped=trim_clipped,
                full_media=media,
            )
            try:
                info.content_damage = _content_damage(reader, page)
            except _DirectContent:
                info.content_inline = True
            if resources is not None and info.content_damage is None:
                info.resource_damage = resources.page(page)
            if scan_fonts:
                info.fonts = scanner.page_fonts(page)
        except ArtworkProblem:
            raise
        except Exception as exc:
            raise ArtworkProblem(f"page {number}: {unreadable(name, exc)}") from exc
        pages.append(info)
    return pages


@dataclass(slots=True)
class _PageResult:
    trim: Rect  # the trim as far as it is known (else the MediaBox)
    trim_message: str | None = None
    bleed_message: str | None = None


def _check_page(page: _Page, product: str, spec: ProductSpec | None, tol: float) -> _PageResult:
    bleed = float(spec.bleed_mm or 0.0) if spec is not None else 0.0
    target = spec.trim_mm if spec is not None else None
    media = page.media
    trim_known = True
    bleed_in_media = False
    result = _PageResult(trim=media)
    if page.trim_off_page is not None:
        off, whole = page.trim_off_page, page.full_media or media
        result.trim_message = (
            f"{TRIM_OFF_PAGE}: the TrimBox is {page.shown(off).label()} at {fmt_mm(off.x0)}, "
            f"{fmt_mm(off.y0)} mm, the page (its MediaBox) {page.shown(whole).label()} at {fmt_mm(whole.x0)}, "
            f"{fmt_mm(whole.y0)} mm; a RIP that cuts at the TrimBox has nothing to cut. Ask for the PDF exported "
            "again with its trim on the page"
        )
        return result
    if page.trim is not None:
        result.trim = page.trim
        if target is not None and not sizes_match(page.trim.width, page.trim.height, *target, tol):
            result.trim_message = _trim_message(page, page.trim, product, target, tol, trimbox_bleed=bleed)
            if page.trim_clipped:
                result.trim_message += f" ({TRIM_BEYOND_PAGE})"
            trim_known = False
    elif target is None:
        trim_known = False  # no TrimBox and nothing to compare with: MediaBox may or may not hold bleed
    elif sizes_match(media.width, media.height, *target, tol):
        pass
    elif bleed > 0 and sizes_match(media.width, media.height, target[0] + 2 * bleed, target[1] + 2 * bleed, tol):
        result.trim = Rect(*centred(media.x0, media.y0, media.x1, media.y1, *target))
        bleed_in_media = True
    else:
        result.trim_message = _trim_message(page, media, product, target, tol, bleed)
        trim_known = False
    if bleed <= 0 and trim_known and page.trim is not None and page.cropped:
        # A CropBox smaller than the trim cuts part of it away, as it does where the product has
        # bleed (white-box audit CZ 3: without bleed to check, it passed and printed cut).
        trim = result.trim
        sides = _margins(page, trim, media)
        inside = [side for side, value in sides.items() if value < -ROUNDING_MM]
        if inside:
            at = "on every side" if len(inside) == 4 else "at the " + ", ".join(inside)
            result.trim_message = (
                f"the page (its CropBox) cuts into the trim ({at}): it is {page.shown(media).label()}, the trim "
                f"(TrimBox) {page.shown(trim).label()}, so a RIP prints part of the page cut away; ask for the PDF "
                "exported again without that crop"
            )
    # The bleed is checked where the page shows it (a MediaBox or CropBox of trim + bleed holds it),
    # but a BleedBox of the page's own is where a RIP cuts the bleed: checked too (audit BC 1: a
    # BleedBox the size of the trim passed, and printed without bleed).
    if bleed > 0 and trim_known and (not bleed_in_media or page.bleed is not None):
        outer = media.intersect(page.bleed) if page.bleed is not None else media
        trim = result.trim
        extent = min(trim.x0 - outer.x0, trim.y0 - outer.y0, outer.x1 - trim.x1, outer.y1 - trim.y1)
        # The size tolerance is the page's (trim + 2 x bleed, within tol): half of it on each side
        # (audit X 1: tol on each side passed 89 x 59 mm over an 85 x 55 TrimBox, where 91 x 61 is
        # needed, and a MediaBox of 89 x 59 without a TrimBox failed).
        least = bleed - tol / 2
        if extent < least - ROUNDING_MM:
            what = "no bleed" if extent <= 0.05 else "not enough bleed"
            shown_outer, shown_trim = page.shown(outer), page.shown(trim)
            needed = PageBox(shown_trim.width_mm + 2 * bleed, shown_trim.height_mm + 2 * bleed)
            sides = _margins(page, trim, outer)
            short = {side: max(0.0, value) for side, value in sides.items() if value < least - ROUNDING_MM}
            # (short on every side: the sizes below say it, unless they read the same at one decimal)
            said = len(short) == 4 and (what == "no bleed" or shown_outer.label() != needed.label())
            where = "" if said else f" (bleed {_sides_text(short, least)})"
            if page.bleed is not None and (
                outer.width < media.width - ROUNDING_MM or outer.height < media.height - ROUNDING_MM
            ):
                box = "the page's BleedBox"
            else:
                box = "the page (its CropBox)" if page.cropped else "the page"
            if extent < -ROUNDING_MM and box != "the page" and page.trim is not None:
                # Smaller than the trim itself (audit C 5: "no bleed" for a file that had its bleed,
                # cropped into its trim by a CropBox): asking for bleed would not mend it.
                inside = [side for side, value in sides.items() if value < -ROUNDING_MM]
                at = "on every side" if len(inside) == 4 else "at the " + ", ".join(inside)
                result.bleed_message = (
                    f"{box} cuts into the trim ({at}): it is {shown_outer.label()}, the trim "
                    f"(TrimBox) {shown_trim.label()}, so a RIP prints part of the page cut away; ask for the PDF "
                    f"exported again without that {'crop' if 'CropBox' in box else 'BleedBox'} (product {product} "
                    f"needs {fmt_mm(bleed)} mm bleed on each side of the trim, {needed.label()})"
                )
            else:
                result.bleed_message = (
                    f"{what}{where}: {box} is {shown_outer.label()}, product {product} needs {fmt_mm(bleed)} mm "
                    f"bleed on each side of the trim ({needed.label()})"
                )
    return result


#: Where each side of a page's boxes is once the page is turned by its /Rotate (clockwise), as a
#: viewer shows it and an operator looks for it (white-box audit CZ 4: "bleed right" of a page
#: turned by 90 degrees was its bottom edge on screen).
_SIDES_SHOWN = {
    0: {"left": "left", "bottom": "bottom", "right": "right", "top": "top"},
    90: {"left": "top", "bottom": "left", "right": "bottom", "top": "right"},
    180: {"left": "right", "bottom": "top", "right": "left", "top": "bottom"},
    270: {"left": "bottom", "bottom": "right", "right": "top", "top": "left"},
}
_SIDE_ORDER = ("left", "bottom", "right", "top")


def _margins(page: _Page, inner: Rect, outer: Rect) -> dict[str, float]:
    """How far ``outer`` reaches beyond ``inner`` on each side (negative: it cuts into it), each
    side named as the page is displayed, in the usual order."""
    names = _SIDES_SHOWN.get(page.rotation, _SIDES_SHOWN[0])
    written = {
        "left": inner.x0 - outer.x0,
        "bottom": inner.y0 - outer.y0,
        "right": outer.x1 - inner.x1,
        "top": outer.y1 - inner.y1,
    }
    shown = {names[side]: value for side, value in written.items()}
    return {side: shown[side] for side in _SIDE_ORDER}


def _trim_message(
    page: _Page,
    rect: Rect,
    product: str,
    target: tuple[float, float],
    tol: float,
    bleed: float = 0.0,
    *,
    trimbox_bleed: float | None = None,
) -> str:
    """``bleed``: the page has no TrimBox, so it may be the trim or the trim with its bleed.
    ``trimbox_bleed``: ``rect`` is the page's TrimBox, and this the product's bleed (a TrimBox set
    to the whole page, bleed included, is a common export setting, and said as such)."""
    w, h = rect.width, rect.height
    off = min(max(abs(w - target[0]), abs(h - target[1])), max(abs(w - target[1]), abs(h - target[0])))
    if bleed > 0:
        with_bleed = PageBox(target[0] + 2 * bleed, target[1] + 2 * bleed)
        crop = " (its CropBox)" if page.cropped else ""
        sizes = (
            f"the page{crop} is {page.shown(rect).label()} and has no TrimBox: product {product} expects the trim, "
            f"{fmt_mm(target[0])} x {fmt_mm(target[1])} mm, or the trim with {fmt_mm(bleed)} mm bleed, "
            f"{with_bleed.label()}"
        )
        bled = (target[0] + 2 * bleed, target[1] + 2 * bleed)
        nearer = min(off, min(max(abs(w - bled[0]), abs(h - bled[1])), max(abs(w - bled[1]), abs(h - bled[0]))))
        if nearer < tol + 0.1:
            # (audit AU D1: "92.0 x 61.0 mm" against "91.0 x 61.0 mm (tolerance 1.0 mm)" read as inside it)
            return f"{sizes}: {nearer:.2f} mm off the nearer of the two, more than the tolerance of {fmt_mm(tol)} mm"
        return f"{sizes} (tolerance {fmt_mm(tol)} mm)"
    source = " (its TrimBox)" if trimbox_bleed is not None else ""
    expected = (
        f"trim{source} is {page.shown(rect).label()}, product {product} expects "
        f"{fmt_mm(target[0])} x {fmt_mm(target[1])} mm"
    )
    if trimbox_bleed and sizes_match(w, h, target[0] + 2 * trimbox_bleed, target[1] + 2 * trimbox_bleed, tol):
        return (
            f"{expected}: the TrimBox is the trim with its {fmt_mm(trimbox_bleed)} mm bleed; it must be the trim "
            "itself (set the trim and the bleed in the PDF export's bleed settings, e.g. InDesign's Marks and "
            "Bleeds; ghostscript's -dPDFX makes the TrimBox the whole page)"
        )
    if off < tol + 0.1:
        # Just beyond the tolerance, one decimal shows a size that looks inside it: say by how much.
        return f"{expected}: {off:.2f} mm off, more than the tolerance of {fmt_mm(tol)} mm"
    return f"{expected} (tolerance {fmt_mm(tol)} mm)"


def _grouped(collector: _Collector, check: str, items: list[tuple[_Page, str]]) -> None:
    """Adds one finding per file and message, naming its pages ("pages 1-3, 5"): a 2,000-page file
    whose every other page is the wrong size gets one line, not 1,000."""
    groups: dict[tuple[str, str], list[_Page]] = {}
    for page, message in items:
        groups.setdefault((page.file, message), []).append(page)
    for (file, message), pages in groups.items():
        collector.add(check, f"{_output_pages_label(pages)}: {message}", file, pages[0].number)


def _output_pages_label(pages: Sequence[_Page], note: str = "") -> str:
    """ "pages 3-4", with the file's own numbers where they differ (not the job's first file:
    "page 3 (page 1 of its file)", audit BB 9; a damaged page's too, audit AY D1), and ``note`` in
    the same brackets ("page 3 (page 1 of its file; what is drawn on it)")."""
    notes = (
        [f"{_pages_label([p.in_file for p in pages])} of its file"] if any(p.number != p.in_file for p in pages) else []
    )
    notes += [note] if note else []
    return _pages_label([p.number for p in pages]) + (f" ({'; '.join(notes)})" if notes else "")


def _mixed_sizes(collector: _Collector, pages: list[_Page], trims: list[Rect], tol: float) -> None:
    """Pages of different sizes, or of one size in both orientations (audit BI 2: a brochure turning
    landscape half-way passed unsaid), as they are shown (/Rotate applied)."""
    groups: list[tuple[PageBox, list[tuple[_Page, PageBox]]]] = []  # (a size, its pages and their trims)
    within = tol + ROUNDING_MM  # as sizes_match, but not turned
    for page, trim in zip(pages, trims, strict=True):
        shown = page.shown(trim)
        for size, members in groups:
            if abs(size.width_mm - shown.width_mm) <= within and abs(size.height_mm - shown.height_mm) <= within:
                members.append((page, shown))
                break
        else:
            groups.append((shown, [(page, shown)]))
    if len(groups) > 1:
        several_files = len({p.file for p in pages}) > 1
        # The trims are compared; a trim smaller than its page says so, or the page's size, which
        # a PDF viewer shows, did not match the figure (audit, operator 3: "85 x 55 mm" for a
        # 91 x 61 mm card with its bleed), each page size of the trim's pages (audit AU: a card
        # with crop marks and one with its bleed only, the first one's said for both).
        parts = ", ".join(
            f"{size.label()}" + _trim_of(members) + f" ({_group_label([p for p, _ in members], several_files)})"
            for size, members in groups
        )
        first = groups[0][0]
        turned = all(size.matches(first.width_mm, first.height_mm, tol) for size, _ in groups)
        what = "pages are of one size but in both orientations" if turned else "pages have different sizes"
        collector.add("mixed_sizes", f"{what}: {parts}", page=groups[1][1][0][0].number)


def _trim_of(members: list[tuple[_Page, PageBox]]) -> str:
    """ " trim of a 91.0 x 61.0 mm page" (or of pages of several sizes) where some page is larger
    than its trim; "" where none is."""
    wholes: dict[str, None] = {}
    bigger = False
    for page, trim in members:
        whole = page.shown(page.media)
        wholes[whole.label()] = None
        bigger = bigger or (
            abs(whole.width_mm - trim.width_mm) > ROUNDING_MM or abs(whole.height_mm - trim.height_mm) > ROUNDING_MM
        )
    if not bigger:
        return ""
    sizes = list(wholes)
    if len(sizes) == 1:
        return f" trim of a {sizes[0]} page"
    return f" trim of {', '.join(sizes[:-1])} and {sizes[-1]} pages"


def _sides_text(short: dict[str, float], least: float) -> str:
    """ "left 2.0 mm, top 1.5 mm", "2.4 mm on each side": the bleed found where it is short of
    ``least``, with two decimals where one would not show it short (audit X: "2.985 mm" read
    "3.0", beside a need of 3.0)."""

    def mm(value: float) -> str:
        return fmt_mm(value) if float(fmt_mm(value)) < least else f"{value:.2f}"

    values = list(short.values())
    if len(short) == 4 and max(values) - min(values) < 0.01:
        return f"{mm(values[0])} mm on each side"
    return ", ".join(f"{side} {mm(value)} mm" for side, value in short.items())


def _group_label(pages: list[_Page], several_files: bool) -> str:
    """ "pages 1-2", or with several artwork files, where they are: "pages 2-3: back.pdf pages 1-2"
    (audit BC 4: the output's page numbers alone did not say which file to fix)."""
    label = _pages_label([p.number for p in pages])
    if not several_files:
        return label
    by_file: dict[str, list[int]] = {}
    for page in pages:
        by_file.setdefault(page.file, []).append(page.in_file)
    return label + ": " + "; ".join(f"{file} {_pages_label(numbers)}" for file, numbers in by_file.items())


def _fonts(collector: _Collector, pages: list[_Page]) -> None:
    by_font: dict[str, list[_Page]] = {}
    for page in pages:
        for name in sorted(page.fonts):
            by_font.setdefault(name, []).append(page)
    for name, used_on in by_font.items():
        files = {p.file for p in used_on}
        collector.add(
            "fonts",
            f"{_pages_label([p.number for p in used_on])}: font {name} is not embedded; "
            "ask for a PDF with all fonts embedded (PDF/X)",
            used_on[0].file if len(files) == 1 else None,
            used_on[0].number,
        )


def preflight(
    artwork: Sequence[ArtworkInput],
    product_name: str,
    spec: ProductSpec | None,
    validation: ValidationConfig,
    read_also: Callable[[PdfReader], None] | None = None,
) -> PreflightReport:
    """Checks the artwork files (in output order) against the product's expectations.

    Never raises for a bad PDF: every problem is a Finding. Severities come from ``validation``.
    ``read_also(reader)`` is called with each file's reader once its check has read it (the file
    still open; pypdf's warnings from then on are not the check's): what ``output.check`` asks of
    the same file, without reading it a second time.
    """
    collector = _Collector(validation)
    hashes: list[str] = []
    pages: list[_Page] = []
    all_readable = True
    scan_fonts = validation.severity("fonts") != "off"
    check_resources = validation.severity(REPAIRED) != "off"
    with pdf_limits():
        for art in artwork:
            label = quote_name(art.name)
            try:
                digest = _sha256(art.path)
            except FileNotFoundError:
                hashes.append("")
                collector.error("open", f"artwork {label} cannot be read: the file is missing", art.name)
                all_readable = False
                continue
            except OSError as exc:
                hashes.append("")
                reason = unreadable_artwork(art.path, exc) if exc.strerror else describe_exception(exc)
                collector.error("open", f"artwork {label} cannot be read: {reason}", art.name)
                all_readable = False
                continue
            hashes.append(digest)
            if art.expected_sha256 is not None and art.expected_sha256.strip().lower() != digest:
                expected = art.expected_sha256.strip().lower()
                collector.error(
                    "sha256",
                    # In full: two digests that differ after their 8th character looked the same (audit BA 4).
                    f"artwork {label}: its sha256 is {digest}, but the manifest says {expected}: the file is not "
                    "the one the order describes (a different or damaged upload)",
                    art.name,
                )
            miscounted: str | None = None  # (a mend of ours, said beside pypdf's)
            try:
                with open(art.path, "rb") as fh:
                    with pypdf_warnings() as repairs:
                        if os.fstat(fh.fileno()).st_size == 0:
                            collector.error("empty", f"artwork {label} is an empty file (0 bytes)", art.name)
                            all_readable = False
                            continue
                        reader, owner_protected = open_artwork(art.name, fh)
                        if owner_protected:
                            _permissions(collector, reader, label, art.name)
                        count = count_pages(art.name, reader)
                        if count == 0:
                            raise ArtworkProblem(f"artwork {label} has no pages: there is nothing to print")
                        miscounted = _miscounted(reader, count) or _untyped_node(reader)
                        if miscounted is None and _table_hides_streams(fh, reader):
                            miscounted = (
                                "its last update lists its objects in a table that does not point to the object "
                                "streams of the version before it: Ghostscript-based RIPs find none of the objects "
                                "kept there, and may print no page of it, or pages without them"
                            )
                        read = _read_pages(art.name, reader, len(pages) + 1, scan_fonts, check_resources)
                        pages.extend(read)
                    if read_also is not None:
                        read_also(reader)
                damaged = [p for p in read if p.content_damage is not None or p.resource_damage is not None]
                repairs = real_repairs(repairs)
                inline = [p for p in read if p.content_inline]
                if inline and not repairs and miscounted is None:
                    # (in a file pypdf mended, what it read may hold such a stream: the mend is said)
                    collector.error(
                        "open",
                        f"{_pages_label([p.number for p in inline])}: artwork {label} is damaged: its content is a "
                        "stream written inside the page's /Contents list, where a PDF may only refer to one (the "
                        "program that saved it wrote it wrong): RIPs and viewers do not find the page; ask for the "
                        "PDF exported again",
                        art.name,
                        inline[0].number,
                    )
                if damaged:
                    _content_finding(collector, label, art.name, damaged)
                    # (pypdf's own word on the same stream, read for the fonts, is not said twice)
                    repairs = [r for r in repairs if not _DECOMPRESSING.search(r)]
                if repairs or miscounted is not None:
                    # Readable, but only after pypdf mended it. What it read may not be what was sent
                    # (a file overwritten in place while it was taken passes as "mended" with pages of
                    # garbage): an error unless configured otherwise. Where it passes, a strict RIP may
                    # still refuse the file as it is, so the output is written anew (output.check).
                    damage = _plain_repair(repairs[0]) if repairs else miscounted
                    if collector.validation.severity(REPAIRED) == "error":
                        message = (
                            f"artwork {label} is damaged ({damage}): it could be read only by repairing it, "
                            "so what was read may not be what was sent (a file still being written when it was "
                            "taken, or damaged on the way)"
                        )
                    else:
                        message = (
                            f"artwork {label} is damaged ({damage}); it could be read, and the output is "
                            "written anew from what was read: check the output"
                        )
                    collector.add(REPAIRED, message, art.name)
            except ArtworkProblem as problem:
                check = "incomplete" if isinstance(problem, ArtworkIncomplete) else "open"
                collector.error(check, str(problem), art.name)
                all_readable = False
            except MemoryError:
                collector.error(
                    "open",
                    f"artwork {label} could not be checked: the PDF check ran out of memory "
                    "(the file may be damaged or extremely complex)",
                    art.name,
                )
                all_readable = False
            except Exception as exc:  # noqa: BLE001  # last resort: a bad PDF must never stop the daemon
                collector.error(
                    "open",
                    unreadable(art.name, exc),
                    art.name,
                )
                all_readable = False

    tol = float(validation.size_tolerance_mm)
    if spec is not None and spec.pages is not None and all_readable and len(pages) != spec.pages:
        counts = Counter(page.file for page in pages)
        # (audit AU: with several files, which one has pages too many or too few was not said)
        each = (
            " (" + ", ".join(f"{name}: {plural(count, 'page')}" for name, count in counts.items()) + ")"
            if len(artwork) > 1
            else ""
        )
        collector.add(
            "pages",
            f"the output has {plural(len(pages), 'page')}{each}, product {product_name} expects {spec.pages}",
        )
    results = [_check_page(page, product_name, spec, tol) for page in pages]
    _grouped(
        collector,
        "trim",
        [(p, r.trim_message) for p, r in zip(pages, results, strict=True) if r.trim_message],
    )
    _grouped(
        collector,
        "bleed",
        [(p, r.bleed_message) for p, r in zip(pages, results, strict=True) if r.bleed_message],
    )
    _mixed_sizes(collector, pages, [r.trim for r in results], tol)
    if scan_fonts:
        _fonts(collector, pages)

    trim_mm = None
    if pages:
        first = pages[0].shown(results[0].trim)
        trim_mm = (round(first.width_mm, 1), round(first.height_mm, 1))
    ordered = sorted(collector.findings, key=lambda f: 0 if f.severity == "error" else 1)
    return PreflightReport(
        findings=tuple(ordered),
        pages=len(pages),
        artwork_sha256=tuple(hashes),
        trim_mm=trim_mm,
    )
