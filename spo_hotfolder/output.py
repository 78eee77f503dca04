"""Output: the artwork files -> one print-ready PDF, published atomically.

One artwork file whose page boxes are fine is used as it is: the output is a hard link to the
artwork file (no copy, no second read: a 1 GiB file costs nothing here; a byte copy with sendfile
where the filesystem has no hard links). Several files, or a file whose pages need a
TrimBox/BleedBox so that the RIP positions them right, are merged/rewritten with pypdf's
``PdfWriter`` (which holds the objects in memory: run it in ``pdfwork.PdfWorker``). Streams are
copied as they are, never decoded. Putting the output in place is ``outputfile``'s (which the
daemon uses on its own for unchanged artwork, without importing pypdf).
"""

from __future__ import annotations

import dataclasses
import io
import shutil
from collections.abc import Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from typing import Any, cast

from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NumberObject,
    RectangleObject,
    TextStringObject,
)

from spo_hotfolder.config import ProductSpec, ValidationConfig
from spo_hotfolder.fsutil import unreadable_artwork
from spo_hotfolder.outputfile import OutputError, OutputResult, publish_output
from spo_hotfolder.pdfreport import (
    REPAIRED,
    ArtworkInput,
    ArtworkProblem,
    PreflightReport,
    describe_exception,
    quote_name,
    unreadable,
)
from spo_hotfolder.preflight import (
    MM_PER_PT,
    centred,
    count_pages,
    last_xref_offset,
    open_artwork,
    pdf_limits,
    preflight,
    pypdf_warnings,
    read_box_pt,
    real_repairs,
    sizes_match,
    user_unit,
)


@dataclass(frozen=True, slots=True)
class _BoxFix:
    page_index: int  # within its artwork file
    trim: tuple[float, float, float, float]  # PDF units
    bleed: tuple[float, float, float, float] | None


def _visible_box(page: DictionaryObject, to_mm: float) -> tuple[float, float, float, float] | None:
    """The page as it is shown and printed (PDF units): its MediaBox, within its CropBox when that
    makes it smaller (as preflight measures it)."""
    media = read_box_pt(page, "/MediaBox")
    crop = read_box_pt(page, "/CropBox")
    if media is None or crop is None:
        return media
    box = (max(media[0], crop[0]), max(media[1], crop[1]), min(media[2], crop[2]), min(media[3], crop[3]))
    if (box[2] - box[0]) * to_mm <= 1 or (box[3] - box[1]) * to_mm <= 1:
        return media  # an empty CropBox: preflight measures the MediaBox too
    return box


def _box_fixes(reader: PdfReader, spec: ProductSpec | None, tolerance_mm: float) -> list[_BoxFix]:
    """Pages without a TrimBox whose visible page (the MediaBox, within the CropBox) is the
    product's trim (+ 2 x bleed): the boxes to add. Without them a RIP cuts at the CropBox, the
    TrimBox's default: a card with its bleed."""
    if spec is None or spec.trim_mm is None or not spec.bleed_mm or spec.bleed_mm <= 0:
        return []
    trim_w, trim_h = spec.trim_mm
    bleed_mm = float(spec.bleed_mm)
    fixes: list[_BoxFix] = []
    for index, page in enumerate(reader.pages):
        if read_box_pt(page, "/TrimBox") is not None:
            continue  # (a TrimBox of null is none, and replaced: preflight refuses any other kind not a box)
        # A BleedBox of its own is kept; the TrimBox is added all the same (audit BB 1: a 91 x 61
        # card with a BleedBox and no TrimBox passed as trim + bleed, and went out to be cut at 91 x 61).
        own_bleed = read_box_pt(page, "/BleedBox") is not None
        to_mm = user_unit(page) * MM_PER_PT
        media = _visible_box(page, to_mm)
        if media is None:
            continue
        width, height = (media[2] - media[0]) * to_mm, (media[3] - media[1]) * to_mm
        if sizes_match(width, height, trim_w + 2 * bleed_mm, trim_h + 2 * bleed_mm, tolerance_mm):
            # The product's trim, centred (a page 1 mm over trim + 2 x bleed has 3.5 mm bleed, not a
            # trim 1 mm too big); the bleed box is the trim + bleed, within the page.
            trim = centred(*media, trim_w / to_mm, trim_h / to_mm)
            d = bleed_mm / to_mm
            bleed = (
                max(media[0], trim[0] - d),
                max(media[1], trim[1] - d),
                min(media[2], trim[2] + d),
                min(media[3], trim[3] + d),
            )
            fixes.append(_BoxFix(index, trim, None if own_bleed else bleed))
        elif sizes_match(width, height, trim_w, trim_h, tolerance_mm):
            fixes.append(_BoxFix(index, centred(*media, trim_w / to_mm, trim_h / to_mm), None))
    return fixes


def _info_in_structure(reader: PdfReader) -> bool:
    """Whether the trailer's /Info (the document's title, author...) is the catalog or a node of
    the page tree (corpus 023-cmyk-image: its /Info is its /Pages): Ghostscript 10 cannot open such
    a file ("circular reference", no page, exit 0), and an update adding boxes carries /Info on.
    Such a file is written anew, with an /Info of its own (review ED D4: linked as it was)."""
    try:
        info = reader.trailer.get("/Info")
        if not isinstance(info, IndirectObject):
            return False
        node = info.get_object()
        return isinstance(node, DictionaryObject) and (
            node.get("/Type") in ("/Catalog", "/Pages", "/Page") or "/Kids" in node or "/Pages" in node
        )
    except Exception:  # noqa: BLE001 - an /Info that cannot be read is pypdf's to say, or nobody's
        return False


def _rect(box: tuple[float, float, float, float]) -> RectangleObject:
    return RectangleObject([FloatObject(round(v, 4)) for v in box])


def build_output(
    artwork: Sequence[ArtworkInput],
    dest: str,
    spec: ProductSpec | None,
    validation: ValidationConfig,
    repaired: bool = False,
) -> OutputResult:
    """Writes the print-ready PDF to ``dest`` atomically; raises OutputError with a plain message.

    ``repaired``: preflight found the artwork damaged (``validation.checks.repaired``; in its page
    content, which this reading does not decode): written anew, never passed on byte for byte
    (review EA 3: a file whose content was damaged went to the printer as it came, where README
    promises a rewrite). The temp file (".<name>.<random>.tmp" in dest's folder) is removed on
    every error.
    """
    if not artwork:
        raise OutputError("there is no artwork to make the output from")
    with pdf_limits(), ExitStack() as stack:
        readers: list[PdfReader] = []
        fixes: list[list[_BoxFix]] = []
        pages = 0
        damaged = repaired  # mended by pypdf while read: written anew, never passed on as it is
        for art in artwork:
            try:
                fh = stack.enter_context(open(art.path, "rb"))
            except FileNotFoundError as exc:
                missing = f"artwork {quote_name(art.name)} cannot be read: the file is missing"
                raise OutputError(missing) from exc
            except OSError as exc:
                reason = unreadable_artwork(art.path, exc) if exc.strerror else describe_exception(exc)
                raise OutputError(f"artwork {quote_name(art.name)} cannot be read: {reason}") from None
            try:
                with pypdf_warnings() as repairs:
                    reader, _owner_protected = open_artwork(art.name, fh)
                    pages += count_pages(art.name, reader)
                    fixes.append(_box_fixes(reader, spec, float(validation.size_tolerance_mm)))
                damaged = damaged or bool(real_repairs(repairs)) or _info_in_structure(reader)
            except ArtworkProblem as problem:
                raise OutputError(str(problem)) from None
            except (MemoryError, OutputError):
                raise
            except Exception as exc:
                raise OutputError(unreadable(art.name, exc)) from exc
            readers.append(reader)

        copy = len(artwork) == 1 and not fixes[0] and not damaged
        if copy:
            size, digest = publish_output(dest, artwork[0], None)
        elif len(artwork) == 1 and not damaged and (update := _update_plan(artwork[0].path, readers[0])) is not None:
            # Boxes to add to one file: the file byte for byte, and an update that adds them.
            size, digest = publish_output(
                dest, None, lambda fd: _write_box_update(artwork[0].path, readers[0], fixes[0], update, fd)
            )
        else:
            size, digest = publish_output(dest, None, lambda fd: _write_merged(readers, fixes, fd, artwork))
    return OutputResult(path=dest, pages=pages, size_bytes=size, sha256=digest, copied_unchanged=copy)


def check(
    artwork: Sequence[ArtworkInput], product_name: str, spec: ProductSpec | None, validation: ValidationConfig
) -> tuple[PreflightReport, bool]:
    """Preflight, and whether the output is then the artwork as it is (see ``link_unchanged``): the
    one artwork file, whose pages need no boxes added. One worker call instead of two for the
    common job, and one reading of the file: the boxes are asked of the reader preflight made."""
    no_fixes: list[bool] = []

    def boxes(reader: PdfReader) -> None:
        try:
            no_fixes.append(
                not _box_fixes(reader, spec, float(validation.size_tolerance_mm)) and not _info_in_structure(reader)
            )
        except Exception:  # noqa: BLE001 - then build_output decides, and explains any problem
            no_fixes.append(False)

    report = preflight(artwork, product_name, spec, validation, read_also=boxes if len(artwork) == 1 else None)
    repaired = any(f.check == REPAIRED for f in report.findings)
    as_is = report.ok and not repaired and no_fixes == [True]
    if report.ok and not as_is and any(f.check == "encryption" for f in report.warnings()):
        # Written anew (merged, or boxes added: an encrypted file gets no update), the output has no
        # owner password, and none of its permissions (audit BM 4: "a RIP ... may print it degraded").
        report = dataclasses.replace(
            report,
            findings=tuple(
                dataclasses.replace(f, message=_written_anew(f.message))
                if f.check == "encryption" and f.severity == "warning"
                else f
                for f in report.findings
            ),
        )
    return report, as_is


_HELD_TO_THEM = "a RIP that honours them may print it degraded"


def _written_anew(message: str) -> str:
    """An owner-password warning said of an output written anew, without the password."""
    if _HELD_TO_THEM in message:  # (audit BN 2: "may print it degraded; ... without its password")
        return message.replace(
            _HELD_TO_THEM, "the output is written anew without its password, so no RIP holds it to them"
        )
    return f"{message}; the output is written anew, without its password"


def _update_plan(path: str, reader: PdfReader) -> int | None:
    """Where the file's last cross-reference section starts, when an incremental update can be
    appended to it (a file that starts with its header, is not encrypted and ends with
    ``startxref N %%EOF``); None otherwise (then the output is written anew)."""
    if reader.is_encrypted:
        return None  # the update's page objects would have to be encrypted like the rest
    if "/XRefStm" in reader.trailer:
        # A hybrid-reference file (a table whose trailer names a cross-reference stream: Word's
        # PDFs), in any of its sections: no update after it reads the same in every RIP. Without
        # /XRefStm, Ghostscript found none of the objects kept in its object streams (helper FE 1:
        # a blank card); with it, Ghostscript took a page kept there from the stream, without the
        # update's boxes, and an older section's key named objects a later section replaced (review
        # FG 2: the old artwork printed). Written anew.
        return None
    try:
        with open(path, "rb") as fh:
            if fh.read(5) != b"%PDF-":
                return None  # bytes before the header: readers shift every offset by them
            return last_xref_offset(fh)
    except OSError:
        return None


def _write_box_update(path: str, reader: PdfReader, fixes: Sequence[_BoxFix], prev_xref: int, fd: int) -> None:
    """The artwork byte for byte, then an incremental update (ISO 32000 7.5.6) that gives the
    fixed pages their TrimBox and BleedBox: everything else of the file stays exactly as received
    (optional content and which layers are hidden, output intents, XMP metadata, signatures), and
    a file of any size is copied in chunks, never held in memory."""
    with open(path, "rb") as src, open(fd, "wb", closefd=False) as out:
        shutil.copyfileobj(src, out, 1 << 20)
        size = out.tell()
        src.seek(max(0, size - 1))
        ends_with_eol = src.read(1) in (b"\n", b"\r")
        src.seek(prev_xref)
        # The update's cross-reference section has the form of the file's own: a table after a
        # table, a stream after a stream (Ghostscript read no page of a file whose object streams
        # were followed by a table chaining to them: audit BI 1).
        as_stream = not src.read(4).startswith(b"xref")
        out.write(_box_update(reader, fixes, prev_xref, size, ends_with_eol, as_stream=as_stream))


def _box_update(
    reader: PdfReader,
    fixes: Sequence[_BoxFix],
    prev_xref: int,
    size: int,
    ends_with_eol: bool,
    *,
    as_stream: bool = False,
) -> bytes:
    """The update section appended to a file of ``size`` bytes: the fixed page objects, their
    cross-reference entries (a table, or ``as_stream`` a cross-reference stream, ISO 32000
    7.5.8), and a trailer that chains to the file's own (``/Prev``)."""
    update = io.BytesIO()
    if not ends_with_eol:
        update.write(b"\n")
    entries: list[tuple[int, int, int]] = []  # (object number, generation, offset)
    for fix in fixes:
        page = reader.pages[fix.page_index]
        ref = page.indirect_reference
        if ref is None:
            raise OutputError("the page to add boxes to is not an object of its own")  # never in a readable PDF
        if any(number == ref.idnum for number, _, _ in entries):
            continue  # one page object listed twice in the page tree: written once (audit BM 3)
        page[NameObject("/TrimBox")] = _rect(fix.trim)
        if fix.bleed is not None:
            page[NameObject("/BleedBox")] = _rect(fix.bleed)
        entries.append((ref.idnum, ref.generation, size + update.tell()))
        update.write(f"{ref.idnum} {ref.generation} obj\n".encode())
        page.write_to_stream(update)
        update.write(b"\nendobj\n")
    trailer = DictionaryObject()
    for key in ("/Size", "/Root", "/Info", "/ID"):
        if key in reader.trailer:
            trailer[NameObject(key)] = reader.trailer.raw_get(key)
    trailer[NameObject("/Prev")] = NumberObject(prev_xref)
    # One more than the highest object number, where the file's /Size says less (audits BM 1, BN 4):
    # the trailer's /Size, and the number of a new cross-reference stream.
    stated = trailer.get("/Size")
    next_number = max(
        int(cast(int, stated)) if stated is not None else 0,
        _highest_object_number(reader) + 1,
        *(number + 1 for number, _, _ in entries),
    )
    xref_at = size + update.tell()
    if as_stream:
        _xref_stream(update, trailer, entries, xref_at, next_number)
    else:
        trailer[NameObject("/Size")] = NumberObject(next_number)
        update.write(b"xref\n")
        for number, generation, offset in sorted(entries):
            update.write(f"{number} 1\n{offset:010d} {generation:05d} n\r\n".encode())
        update.write(b"trailer\n")
        trailer.write_to_stream(update)
    update.write(f"\nstartxref\n{xref_at}\n%%EOF\n".encode())
    return update.getvalue()


def _highest_object_number(reader: PdfReader) -> int:
    """The highest object number the file's cross-reference sections give (in a table or an
    object stream): a file's /Size may say less (audit BM 1)."""
    numbers = [number for section in getattr(reader, "xref", {}).values() for number in section]
    numbers += list(getattr(reader, "xref_objStm", {}))
    return max((int(n) for n in numbers), default=0)


def _xref_stream(
    update: io.BytesIO, trailer: DictionaryObject, entries: list[tuple[int, int, int]], xref_at: int, number: int
) -> None:
    """The cross-reference stream of an update (ISO 32000 7.5.8): a new object, ``number`` (after
    the file's highest: an object of the file renumbered as the stream would be read as the stream,
    and a page's content read as its entries, a blank card: audit BM 1), that lists the updated
    objects and itself, with the trailer's keys in its dictionary. Not compressed: a few entries."""
    rows = sorted([*entries, (number, 0, xref_at)])
    width = max(4, (xref_at.bit_length() + 7) // 8)  # bytes for an offset
    data = b"".join(
        bytes([1]) + offset.to_bytes(width, "big") + generation.to_bytes(2, "big") for _, generation, offset in rows
    )
    trailer[NameObject("/Type")] = NameObject("/XRef")
    trailer[NameObject("/Size")] = NumberObject(number + 1)
    trailer[NameObject("/W")] = ArrayObject([NumberObject(1), NumberObject(width), NumberObject(2)])
    trailer[NameObject("/Index")] = ArrayObject([NumberObject(v) for n, _, _ in rows for v in (n, 1)])
    trailer[NameObject("/Length")] = NumberObject(len(data))
    update.write(f"{number} 0 obj\n".encode())
    trailer.write_to_stream(update)
    update.write(b"\nstream\n" + data + b"\nendstream\nendobj")


#: Lists of the default view (ISO 32000 8.11.4.3) merged from every file: /AS carries the usage
#: applications (a die line set never to print: /Event /Print), so it is merged too.
_OC_VIEW_LISTS = ("/ON", "/OFF", "/Order", "/Locked", "/RBGroups", "/AS")


def _same_layer(a: DictionaryObject, b: DictionaryObject) -> bool:
    """Whether two layer (OCG) dictionaries read the same, key by key (their references by number)."""
    return a.keys() == b.keys() and all(repr(a.raw_get(key)) == repr(b.raw_get(key)) for key in a)


def _told_apart(layer: DictionaryObject, art_name: str, index: int) -> None:
    """Makes a layer of a later file differ from an earlier file's that reads the same (front and
    back from one template: two "DieLine" layers), by its creator information (/Usage
    /CreatorInfo, ISO 32000 8.11.4.4: for the creating application, no effect on viewing or
    printing). MuPDF 1.21 takes a layer listed OFF for the first that reads the same: the second
    file's hidden die line was shown (audit BM 2)."""
    usage = layer.get("/Usage")
    usage_dict = (
        DictionaryObject(cast(DictionaryObject, usage.get_object())) if usage is not None else DictionaryObject()
    )
    usage_dict[NameObject("/CreatorInfo")] = DictionaryObject(
        {
            NameObject("/Creator"): TextStringObject(f"spo-hotfolder: file {index} of the output, {art_name}"),
            NameObject("/Subtype"): NameObject("/Artwork"),
        }
    )
    layer[NameObject("/Usage")] = usage_dict


def _intents(value: object) -> list[str]:
    """An optional content /Intent (a name or an array of names; /View when not given)."""
    value = value.get_object() if hasattr(value, "get_object") else value
    if isinstance(value, NameObject):
        return [str(value)]
    if isinstance(value, ArrayObject):
        return [str(v) for v in value if isinstance(v, NameObject)] or ["/View"]
    return ["/View"]


def _keep_document_parts(
    writer: PdfWriter, reader: PdfReader, *, first: bool, art_name: str = "", index: int = 1
) -> None:
    """What ``append`` leaves behind because it lives in the catalog, not in the pages: the
    optional content (layers, and which are hidden by default: a die line must stay hidden) of
    every file, merged; and the first file's output intents (PDF/X) and XMP metadata.

    A file's ``/BaseState /OFF`` (every layer hidden unless listed ON) is written out as its own
    OFF list: the merged default view has no base state of its own (ON), so one file's base state
    never decides another file's layers."""
    source = reader.root_object
    root = writer.root_object
    if first:
        for key in ("/OutputIntents", "/Metadata"):
            if key in source:
                root[NameObject(key)] = source.raw_get(key).clone(writer)
    if "/OCProperties" not in source:
        return
    # The layers were cloned with the pages that use them: clone() gives the same objects back.
    props = cast(DictionaryObject, source.raw_get("/OCProperties").clone(writer).get_object())
    added = cast(ArrayObject, props.get("/OCGs", ArrayObject()).get_object())
    other = cast(DictionaryObject, props.get("/D", DictionaryObject()).get_object())
    if other.get("/BaseState") == "/OFF":
        shown = list(cast(ArrayObject, other.get("/ON", ArrayObject()).get_object()))
        other[NameObject("/OFF")] = ArrayObject(o for o in added if o not in shown)
    if "/OCProperties" not in root:
        root[NameObject("/OCProperties")] = DictionaryObject(
            {NameObject("/OCGs"): ArrayObject(), NameObject("/D"): DictionaryObject()}
        )
    merged = cast(DictionaryObject, root["/OCProperties"].get_object())
    ocgs = cast(ArrayObject, merged.setdefault(NameObject("/OCGs"), ArrayObject()).get_object())
    for layer in added:
        if layer in ocgs:
            continue
        if isinstance(layer.get_object(), DictionaryObject) and any(
            isinstance(o.get_object(), DictionaryObject) and _same_layer(o.get_object(), layer.get_object())
            for o in ocgs
        ):
            _told_apart(layer.get_object(), art_name, index)
        ocgs.append(layer)
    view = cast(DictionaryObject, merged.setdefault(NameObject("/D"), DictionaryObject()).get_object())
    # Which layers the default view's ON/OFF lists decide: those whose /Intent is in its /Intent
    # (/View when not given); a layer of another intent is ignored, so shown (a die line of
    # /Intent /Design, OFF, printed where the merged view lost its /Intent [/View /Design]).
    have = [] if first else _intents(view.get("/Intent"))
    intents = have + [i for i in _intents(other.get("/Intent")) if i not in have]
    if intents != ["/View"]:
        view[NameObject("/Intent")] = ArrayObject(NameObject(i) for i in intents)
    for key in _OC_VIEW_LISTS:
        if key in other:
            cast(ArrayObject, view.setdefault(NameObject(key), ArrayObject()).get_object()).extend(
                cast(ArrayObject, other[key].get_object())
            )


def _destination_names(reader: PdfReader) -> set[str]:
    """The names of ``reader``'s named destinations (none where they cannot be read)."""
    try:
        return set(reader.named_destinations)
    except Exception:  # noqa: BLE001 - then nothing is renamed, and pypdf says what it says
        return set()


def _own_destination_names(reader: PdfReader, clash: set[str], prefix: str) -> None:
    """Renames, in ``reader`` (in memory), each named destination of ``clash`` (names an earlier
    file of the output has too: pdflatex's "page.1", "section.1", front and back from one template)
    to ``prefix`` + its name, with every reference to it: its outline items' and link annotations'
    /Dest and /A /D. pypdf keeps the first file's of each name, and the second file's bookmarks and
    links led into the first file's pages (review EA 1)."""

    def renamed(value: Any) -> Any:
        if isinstance(value, NameObject) and value[1:] in clash:
            return NameObject(f"/{prefix}{value[1:]}")
        if isinstance(value, str) and not isinstance(value, NameObject) and str(value) in clash:
            return TextStringObject(f"{prefix}{value}")
        return None

    def follow(holder: DictionaryObject) -> None:
        """A /Dest, or a GoTo action's /D, of ``holder`` (an outline item, an annotation) renamed."""
        if (new := renamed(holder.get("/Dest"))) is not None:
            holder[NameObject("/Dest")] = new
        action = holder.get("/A")
        action = action.get_object() if action is not None else None
        if (
            isinstance(action, DictionaryObject)
            and action.get("/S") == "/GoTo"  # (a /GoToR's /D names a place in another file: review EE 5)
            and (new := renamed(action.get("/D"))) is not None
        ):
            action[NameObject("/D")] = new

    root = cast(DictionaryObject, reader.trailer["/Root"].get_object())
    old_style = root.get("/Dests")
    if isinstance(old_style := old_style.get_object() if old_style is not None else None, DictionaryObject):
        for key in [k for k in old_style if k[1:] in clash]:
            old_style[NameObject(f"/{prefix}{key[1:]}")] = old_style.pop(key)
    names = root.get("/Names")
    names = names.get_object() if names is not None else None
    tree = names.get("/Dests") if isinstance(names, DictionaryObject) else None
    nodes = [tree.get_object()] if tree is not None else []
    seen: set[int] = set()
    while nodes:
        node = nodes.pop()
        if not isinstance(node, DictionaryObject) or id(node) in seen:
            continue
        seen.add(id(node))
        pairs = node.get("/Names")
        pairs = pairs.get_object() if pairs is not None else None
        if isinstance(pairs, ArrayObject):
            for at in range(0, len(pairs) - 1, 2):
                if (new := renamed(pairs[at])) is not None:
                    pairs[at] = new
        kids = node.get("/Kids")
        kids = kids.get_object() if kids is not None else None
        if isinstance(kids, ArrayObject):
            nodes.extend(kid.get_object() for kid in kids)
        node.pop(NameObject("/Limits"), None)  # (pypdf reads every leaf; the output's tree is its own)
    outlines = root.get("/Outlines")
    items = [outlines.get_object()] if outlines is not None else []
    while items:
        item = items.pop()
        if not isinstance(item, DictionaryObject) or id(item) in seen:
            continue
        seen.add(id(item))
        follow(item)
        for key in ("/First", "/Next"):
            if key in item:
                items.append(item[key].get_object())
    for page in reader.pages:
        annotations = page.get("/Annots")
        annotations = annotations.get_object() if annotations is not None else None
        for annotation in annotations if isinstance(annotations, ArrayObject) else ():
            if isinstance(annotation := annotation.get_object(), DictionaryObject):
                follow(annotation)
    if hasattr(reader, "_named_destinations_cache"):
        reader._named_destinations_cache = None  # (pypdf keeps the names it read: read them again)


def _write_merged(
    readers: Sequence[PdfReader], fixes: Sequence[Sequence[_BoxFix]], fd: int, artwork: Sequence[ArtworkInput]
) -> None:
    """Appends every reader to a PdfWriter, adds the boxes, writes to ``fd`` (left open)."""
    writer = PdfWriter()
    offset = 0
    taken: set[str] = set()  # the named destinations of the files appended so far (several files only)
    for index, (reader, art, file_fixes) in enumerate(zip(readers, artwork, fixes, strict=True), start=1):
        if len(readers) > 1:
            names = _destination_names(reader)
            if clash := names & taken:
                with suppress(Exception):  # (a nicety: never what fails an output)
                    _own_destination_names(reader, clash, f"{index}:")
            taken |= names
        try:
            writer.append(reader)
        except (MemoryError, OSError):
            raise
        except Exception as exc:
            raise OutputError(
                f"artwork {quote_name(art.name)} is damaged and cannot be merged: {describe_exception(exc)}"
            ) from exc
        for fix in file_fixes:
            page = writer.pages[offset + fix.page_index]
            page[NameObject("/TrimBox")] = _rect(fix.trim)
            if fix.bleed is not None:
                page[NameObject("/BleedBox")] = _rect(fix.bleed)
        offset += len(reader.pages)
        try:
            _keep_document_parts(writer, reader, first=index == 1, art_name=art.name, index=index)
        except (MemoryError, OSError):
            raise
        except Exception as exc:
            raise OutputError(
                f"artwork {quote_name(art.name)}'s layers or output intent cannot be merged: {describe_exception(exc)}"
            ) from exc
    with open(fd, "wb", closefd=False) as out:
        try:
            writer.write(out)
        except (MemoryError, OSError):
            raise
        except Exception as exc:
            raise OutputError(f"the output PDF could not be written: {describe_exception(exc)}") from exc
        out.flush()
