"""Helpers that make small PDFs of exact sizes for tests (pypdf only, no fixtures on disk).

Sizes are given in millimetres; boxes are ``(x0, y0, x1, y1)`` in millimetres from the page's
lower-left corner. Example::

    make_pdf(tmp_path / "bc.pdf", pages=[(91, 61)] * 2, trimbox=(3, 3, 88, 58))
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    NumberObject,
    PdfObject,
    RectangleObject,
    StreamObject,
    TextStringObject,
)

MM_PER_PT = 25.4 / 72.0

Box = tuple[float, float, float, float]
BoxArg = Box | Sequence[Box | None] | None


def pt(mm_value: float) -> float:
    """Millimetres -> PDF points."""
    return mm_value / MM_PER_PT


def mm(pt_value: float) -> float:
    """PDF points -> millimetres."""
    return pt_value * MM_PER_PT


def _rect(box_mm: Box) -> RectangleObject:
    return RectangleObject([FloatObject(round(pt(v), 4)) for v in box_mm])


def _per_page(arg: BoxArg, index: int) -> Box | None:
    if arg is None:
        return None
    if len(arg) == 4 and all(isinstance(v, (int, float)) for v in arg):
        return arg  # type: ignore[return-value]
    return arg[index]  # type: ignore[return-value]


def build_writer(
    pages: Sequence[tuple[float, float]],
    *,
    trimbox: BoxArg = None,
    bleedbox: BoxArg = None,
    text_font: str | None = None,
    rotate: int = 0,
    user_unit: float | None = None,
    content: bytes | None = None,
) -> PdfWriter:
    """A PdfWriter with blank pages of the given sizes (mm) and optional boxes and font."""
    writer = PdfWriter()
    for index, (width_mm, height_mm) in enumerate(pages):
        scale = user_unit or 1.0
        page = writer.add_blank_page(width=pt(width_mm) / scale, height=pt(height_mm) / scale)
        if user_unit is not None:
            page[NameObject("/UserUnit")] = FloatObject(user_unit)
        trim = _per_page(trimbox, index)
        if trim is not None:
            page[NameObject("/TrimBox")] = _rect(trim)
        bleed = _per_page(bleedbox, index)
        if bleed is not None:
            page[NameObject("/BleedBox")] = _rect(bleed)
        if rotate:
            page[NameObject("/Rotate")] = NumberObject(rotate)
        data = content
        if text_font is not None:
            font = DictionaryObject(
                {
                    NameObject("/Type"): NameObject("/Font"),
                    NameObject("/Subtype"): NameObject("/Type1"),
                    NameObject("/BaseFont"): NameObject("/" + text_font),
                }
            )
            resources = DictionaryObject(
                {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
            )
            page[NameObject("/Resources")] = resources
            data = (data or b"") + b"BT /F1 12 Tf 10 10 Td (Hello) Tj ET\n"
        if data is not None:
            stream = DecodedStreamObject()
            stream.set_data(data)
            page[NameObject("/Contents")] = writer._add_object(stream)
    return writer


def make_pdf(
    path: Path | str,
    pages: Sequence[tuple[float, float]] = ((210.0, 297.0),),
    *,
    trimbox: BoxArg = None,
    bleedbox: BoxArg = None,
    text_font: str | None = None,
    encrypt_user: str | None = None,
    encrypt_owner: str | None = None,
    rotate: int = 0,
    user_unit: float | None = None,
    content: bytes | None = None,
    permissions: int | None = None,
) -> Path:
    """Writes a PDF with blank pages of the given sizes (mm); returns its path.

    ``text_font="Helvetica"`` puts a non-embedded Type1 font on every page. ``encrypt_user`` sets a
    user password (needed to open); ``encrypt_owner`` alone makes an owner-password-only file.
    """
    writer = build_writer(
        pages,
        trimbox=trimbox,
        bleedbox=bleedbox,
        text_font=text_font,
        rotate=rotate,
        user_unit=user_unit,
        content=content,
    )
    if encrypt_user is not None or encrypt_owner is not None:
        writer.encrypt(
            user_password=encrypt_user or "",
            owner_password=encrypt_owner or encrypt_user,
            algorithm="AES-256",
            **({"permissions_flag": permissions} if permissions is not None else {}),
        )
    path = Path(path)
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def bomb_stream_data(inflated_bytes: int) -> bytes:
    """zlib data that inflates to ``inflated_bytes`` zeros (rounded up to 16 MiB), made in ~0.2 s.

    One full-flushed deflate block of 16 MiB zeros is repeated; the adler32 of n zeros is n mod 65521.
    """
    chunk = 16 * 1024 * 1024
    count = max(1, -(-inflated_bytes // chunk))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    final = compressor.flush(zlib.Z_FINISH)
    adler = (((count * chunk) % 65521) << 16) | 1
    return b"\x78\xda" + block * count + final + struct.pack(">I", adler)


def make_bomb_pdf(path: Path | str, inflated_bytes: int = 4 * 1024**3, size_mm: tuple[float, float] = (85, 55)) -> Path:
    """One page whose content stream is FlateDecode data that inflates to ``inflated_bytes`` zeros."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=pt(size_mm[0]), height=pt(size_mm[1]))
    stream = _encoded_stream(bomb_stream_data(inflated_bytes), NameObject("/FlateDecode"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    return _written(writer, path)


def _encoded_stream(data: bytes, filters: NameObject | ArrayObject) -> StreamObject:
    """A stream of ``data`` as it is (already encoded by ``filters``)."""
    stream = StreamObject()
    stream._data = data
    stream[NameObject("/Filter")] = filters
    stream[NameObject("/Length")] = NumberObject(len(data))
    return stream


def _written(writer: PdfWriter, path: Path | str) -> Path:
    path = Path(path)
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def make_damaged_content_pdf(
    path: Path | str,
    damage: str,
    pages: Sequence[tuple[float, float]] = ((85.0, 55.0),),
    damaged_page: int = 1,
    encoding: str = "flate",
) -> Path:
    """Pages with Flate content streams, page ``damaged_page``'s ``damage``d: "corrupt" (bytes in its
    middle changed), "cut" (its second half missing, as in a cut-off upload), "no-checksum" (its
    zlib checksum missing after complete data, which readers accept), "bad-sum" (its checksum
    wrong, the content right) or "garbled" (garbage in the content, and its checksum wrong: data
    overwritten that still decodes). ``encoding`` "a85" or "ahx":
    the Flate data is then written as ASCII85 or hexadecimal text (ReportLab writes ASCII85), with
    the damage done to the Flate data before."""
    content = b"".join(b"0 0 1 rg %d %d 3 3 re f\n" % (i * 37 % 251, i * 91 % 163) for i in range(3000))
    writer = PdfWriter()
    for number, (w, h) in enumerate(pages, start=1):
        page = writer.add_blank_page(width=pt(w), height=pt(h))
        data = bytearray(zlib.compress(content))
        if number == damaged_page:
            if damage == "corrupt":
                for i in range(40, 60):
                    data[i] ^= 0x55
            elif damage == "cut":
                del data[len(data) // 2 :]
            elif damage == "no-checksum":
                del data[-4:]
            elif damage == "bad-sum":
                data[-4:] = bytes(b ^ 0xFF for b in data[-4:])
            elif damage == "garbled":
                data = bytearray(zlib.compress(content[:2000] + b"\x8f\x02 Tz)q wobble 3 0 R zq\n" + content[2000:]))
                data[-4:] = bytes(b ^ 0xFF for b in data[-4:])
            else:
                raise ValueError(damage)
        flate = NameObject("/FlateDecode")
        if encoding == "a85":
            stream = _encoded_stream(
                base64.a85encode(bytes(data), wrapcol=72) + b"~>", ArrayObject([NameObject("/ASCII85Decode"), flate])
            )
        elif encoding == "ahx":
            stream = _encoded_stream(
                binascii.hexlify(bytes(data)) + b">", ArrayObject([NameObject("/ASCIIHexDecode"), flate])
            )
        else:
            stream = _encoded_stream(bytes(data), flate)
        page[NameObject("/Contents")] = writer._add_object(stream)
    return _written(writer, path)


def make_big_pdf(path: Path | str, pages: int, bytes_per_page: int, size_mm: tuple[float, float] = (210, 297)) -> Path:
    """A PDF of ``pages`` pages, each showing an incompressible gray image of ``bytes_per_page`` bytes.

    Written by hand, streaming, so making a 200 MB file needs little memory.
    """
    path = Path(path)
    side = max(1, int(bytes_per_page**0.5))
    image_len = side * side
    width, height = pt(size_mm[0]), pt(size_mm[1])
    offsets: list[int] = []
    with open(path, "wb") as fh:

        def obj(number: int, body: bytes, stream: bytes | None = None) -> None:
            while len(offsets) < number:
                offsets.append(0)
            offsets[number - 1] = fh.tell()
            fh.write(b"%d 0 obj\n" % number + body)
            if stream is not None:
                fh.write(b"\nstream\n")
                fh.write(stream)
                fh.write(b"\nendstream")
            fh.write(b"\nendobj\n")

        fh.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        kids = " ".join(f"{3 + 3 * i} 0 R" for i in range(pages)).encode()
        obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        obj(2, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, kids))
        for i in range(pages):
            page_no, content_no, image_no = 3 + 3 * i, 4 + 3 * i, 5 + 3 * i
            obj(
                page_no,
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.4f %.4f] /Contents %d 0 R "
                b"/Resources << /XObject << /Im0 %d 0 R >> >> >>" % (width, height, content_no, image_no),
            )
            draw = b"q %.4f 0 0 %.4f 0 0 cm /Im0 Do Q" % (width, height)
            obj(content_no, b"<< /Length %d >>" % len(draw), draw)
            obj(
                image_no,
                b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                b"/BitsPerComponent 8 /Length %d >>" % (side, side, image_len),
                os.urandom(image_len),
            )
        xref_at = fh.tell()
        fh.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
        for offset in offsets:
            fh.write(b"%010d 00000 n \n" % offset)
        fh.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref_at))
    return path


def same_size_edit(data: bytes) -> bytes:
    """A PDF made by ``make_big_pdf`` with 64 bytes of its first image inverted: the same size,
    another image."""
    at = data.index(b"stream\n") + 1000
    return data[:at] + bytes(255 - b for b in data[at : at + 64]) + data[at + 64 :]


def box_array(values_mm: Box) -> ArrayObject:
    """A box as a PDF array (points), for tests that edit pages directly."""
    return ArrayObject([FloatObject(round(pt(v), 4)) for v in values_mm])


def make_layered_pdf(
    path: Path | str, size_mm: tuple[float, float], layer: str = "Dieline", *, view: str = "off"
) -> Path:
    """A print file as a designer's tool exports it: a hidden layer (optional content, OFF by
    default: a die line that must not print), a PDF/X output intent and XMP metadata; no TrimBox.
    ``view``: "off" (listed OFF), "on" (shown), "base-off" (/BaseState /OFF, the layer listed ON:
    shown), "print-never" (shown on screen, /AS: off when printed), "design" (a layer of /Intent
    /Design listed OFF in a default view of /Intent [/View /Design], as Illustrator's die lines)."""
    writer = build_writer([size_mm])
    ocg = writer._add_object(
        DictionaryObject({NameObject("/Type"): NameObject("/OCG"), NameObject("/Name"): TextStringObject(layer)})
    )
    page = writer.pages[0]
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Properties"): DictionaryObject({NameObject("/oc1"): ocg})}
    )
    stream = DecodedStreamObject()
    stream.set_data(b"/OC /oc1 BDC 1 0 0 rg 20 20 100 60 re f EMC\n")
    page[NameObject("/Contents")] = writer._add_object(stream)
    root = writer.root_object
    default = DictionaryObject({NameObject("/Order"): ArrayObject([ocg])})
    if view in ("off", "design"):
        default[NameObject("/OFF")] = ArrayObject([ocg])
    if view == "design":
        ocg.get_object()[NameObject("/Intent")] = NameObject("/Design")
        default[NameObject("/Intent")] = ArrayObject([NameObject("/View"), NameObject("/Design")])
    elif view == "base-off":
        default[NameObject("/BaseState")] = NameObject("/OFF")
        default[NameObject("/ON")] = ArrayObject([ocg])
    elif view == "print-never":
        ocg_dict = ocg.get_object()
        ocg_dict[NameObject("/Usage")] = DictionaryObject(
            {NameObject("/Print"): DictionaryObject({NameObject("/PrintState"): NameObject("/OFF")})}
        )
        default[NameObject("/AS")] = ArrayObject(
            [
                DictionaryObject(
                    {
                        NameObject("/Event"): NameObject("/Print"),
                        NameObject("/OCGs"): ArrayObject([ocg]),
                        NameObject("/Category"): ArrayObject([NameObject("/Print")]),
                    }
                )
            ]
        )
    root[NameObject("/OCProperties")] = DictionaryObject(
        {NameObject("/OCGs"): ArrayObject([ocg]), NameObject("/D"): default}
    )
    root[NameObject("/OutputIntents")] = ArrayObject(
        [
            DictionaryObject(
                {
                    NameObject("/Type"): NameObject("/OutputIntent"),
                    NameObject("/S"): NameObject("/GTS_PDFX"),
                    NameObject("/OutputConditionIdentifier"): TextStringObject("FOGRA39"),
                }
            )
        ]
    )
    xmp = DecodedStreamObject()
    xmp.set_data(b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"/>')
    xmp[NameObject("/Type")] = NameObject("/Metadata")
    xmp[NameObject("/Subtype")] = NameObject("/XML")
    root[NameObject("/Metadata")] = writer._add_object(xmp)
    with open(path, "wb") as fh:
        writer.write(fh)
    return Path(path)


def make_object_stream_pdf(path: Path | str, pages: Sequence[tuple[float, float]]) -> Path:
    """A PDF as qpdf --object-streams=generate or Acrobat (PDF 1.5+) save them: its catalog, page
    tree and pages inside an object stream, indexed by a cross-reference stream (no xref table).
    Blank pages of the given sizes (mm)."""
    pt = 72 / 25.4
    count = len(pages)
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{' '.join(f'{3 + i} 0 R' for i in range(count))}] /Count {count} >>".encode(),
    }
    for i, (width, height) in enumerate(pages):
        objects[3 + i] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width * pt:.4f} {height * pt:.4f}] /Resources << >> >>"
        ).encode()
    offsets, body = [], b""
    for number in sorted(objects):
        offsets.append(f"{number} {len(body)}")
        body += objects[number] + b"\n"
    header = " ".join(offsets).encode() + b"\n"
    stream_number, xref_number = count + 3, count + 4
    data = b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"
    stream_at = len(data)
    data += (
        f"{stream_number} 0 obj\n<< /Type /ObjStm /N {len(objects)} /First {len(header)} "
        f"/Length {len(header) + len(body)} >>\nstream\n".encode()
        + header
        + body
        + b"\nendstream\nendobj\n"
    )
    xref_at = len(data)
    rows = [(0, 0, 65535)] + [(2, stream_number, index) for index in range(len(objects))]
    rows += [(1, stream_at, 0), (1, xref_at, 0)]
    table = b"".join(bytes([kind]) + a.to_bytes(4, "big") + b.to_bytes(2, "big") for kind, a, b in rows)
    data += (
        f"{xref_number} 0 obj\n<< /Type /XRef /Size {xref_number + 1} /W [1 4 2] /Root 1 0 R "
        f"/Length {len(table)} >>\nstream\n".encode()
        + table
        + f"\nendstream\nendobj\nstartxref\n{xref_at}\n%%EOF\n".encode()
    )
    out = Path(path)
    out.write_bytes(data)
    return out


def make_hybrid_pdf(path: Path | str, size_mm: tuple[float, float] = (91.0, 61.0)) -> Path:
    """A hybrid-reference PDF (ISO 32000 7.5.8.4), as Word's "Save as PDF" writes them: a classic
    cross-reference table whose trailer names (/XRefStm) a cross-reference stream listing the
    objects kept in an object stream; here the page's /Resources, which name its red image. One
    page of ``size_mm``, no TrimBox."""
    width, height = (v * 72 / 25.4 for v in size_mm)

    def stream(data: bytes, extra: bytes = b"") -> bytes:
        return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"

    image = stream(
        b"\xff\x00\x00" * 16,
        b"/Type /XObject /Subtype /Image /Width 4 /Height 4 /ColorSpace /DeviceRGB /BitsPerComponent 8 ",
    )
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.4f %.4f] /Contents 4 0 R /Resources 5 0 R >>"
        % (width, height),
        4: stream(b"q 100 0 0 80 20 20 cm /Im0 Do Q"),
        6: image,
        7: stream(b"5 0 << /XObject << /Im0 6 0 R >> >>", b"/Type /ObjStm /N 1 /First 4 "),  # object 5 inside
    }
    data = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(data)
        data += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    offsets[8] = len(data)
    row = bytes([2]) + (7).to_bytes(4, "big") + (0).to_bytes(2, "big")
    data += b"8 0 obj\n" + stream(row, b"/Type /XRef /Size 9 /W [1 4 2] /Index [5 1] ") + b"\nendobj\n"
    xref_at = len(data)
    data += b"xref\n0 5\n0000000000 65535 f\r\n" + b"".join(b"%010d 00000 n\r\n" % offsets[n] for n in range(1, 5))
    data += b"6 3\n" + b"".join(b"%010d 00000 n\r\n" % offsets[n] for n in range(6, 9))
    data += b"trailer\n<< /Size 9 /Root 1 0 R /XRefStm %d >>\nstartxref\n%d\n%%%%EOF\n" % (offsets[8], xref_at)
    out = Path(path)
    out.write_bytes(bytes(data))
    return out


def add_table_update(path: Path | str) -> Path:
    """``path`` (a PDF indexed by a cross-reference stream) with an incremental update appended as
    some editors write one: its first page's content given anew, indexed by a classic table that
    chains (/Prev) to the stream. Ghostscript opens no page of such a file (audit BI 1)."""
    import re

    out = Path(path)
    data = out.read_bytes()
    prev = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    reader = PdfReader(out)
    page = reader.pages[0]
    root = reader.trailer.raw_get("/Root").idnum
    size = max(int(reader.trailer.get("/Size", 0)), max(reader.xref_objStm, default=0) + 1)
    drawing = b"0 1 0 rg 0 0 100 100 re f"
    content_at = len(data)
    data += b"%d 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (size, len(drawing), drawing)
    page_at = len(data)
    ref = page.indirect_reference
    assert ref is not None
    page_text = b"<< /Type /Page /Parent %d 0 R /MediaBox [%s] /Resources << >> /Contents %d 0 R >>" % (
        page.raw_get("/Parent").idnum,
        b" ".join(str(float(v)).encode() for v in page.mediabox),
        size,
    )
    data += b"%d 0 obj\n%s\nendobj\n" % (ref.idnum, page_text)
    xref_at = len(data)
    data += b"xref\n%d 1\n%010d 00000 n\r\n%d 1\n%010d 00000 n\r\n" % (ref.idnum, page_at, size, content_at)
    data += b"trailer\n<< /Size %d /Root %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (size + 1, root, prev, xref_at)
    out.write_bytes(data)
    return out


def _zlib_with(pixels: bytes, damage: str) -> bytes:
    """``pixels`` as zlib data, ``damage``d: "" (none), "cut" (its second half missing), "short"
    (a fifth of the data missing at its end, re-compressed: complete but too short, with its right
    checksum), "short-bad-sum" (the same with a wrong checksum: data overwritten that still
    decodes), "bad-sum" (the right data, a wrong checksum: some producers write it so) or
    "adobe-sum" (its checksum's last byte missing, as Adobe's writer leaves it when 0x00)."""
    if damage in ("short", "short-bad-sum"):
        pixels = pixels[: len(pixels) * 4 // 5]
    data = bytearray(zlib.compress(pixels))
    if damage == "cut":
        del data[len(data) // 2 :]
    elif damage in ("short-bad-sum", "bad-sum"):
        data[-4:] = bytes(b ^ 0xFF for b in data[-4:])
    elif damage == "adobe-sum":
        del data[-1:]
    elif damage not in ("", "short"):
        raise ValueError(damage)
    return bytes(data)


def make_resource_pdf(
    path: Path | str,
    *,
    image: str = "",
    font: str = "",
    form: str = "",
    profile: str | None = None,
    pattern: str | None = None,
    pages: int = 1,
    raw_image_bytes: int = 0,
) -> Path:
    """Pages (85 x 55 mm) that each draw one Flate gray image (Im0, 64 x 48 pixels, PNG predictor),
    text in one embedded TrueType font (F1: its program a FontFile2 with /Length1) and one form
    (Fm0, its content Flate data), shared by all pages; each ``_zlib_with`` its damage ("" = none).
    ``profile``: the image's colours an ICC profile (Flate data, so ``_zlib_with`` its damage).
    ``pattern``: the page is also filled with a tiling pattern (P0) whose cell draws as the form
    does (Flate data, so ``_zlib_with`` its damage).
    ``raw_image_bytes``: a further uncompressed image (Im1) of that many bytes."""
    writer = PdfWriter()
    width, height = 64, 48
    rows = b"".join(b"\x02" + bytes((x * 3 + y) % 256 for x in range(width)) for y in range(height))
    img = _encoded_stream(_zlib_with(rows, image), NameObject("/FlateDecode"))
    img.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Image"),
            NameObject("/Width"): NumberObject(width),
            NameObject("/Height"): NumberObject(height),
            NameObject("/ColorSpace"): NameObject("/DeviceGray"),
            NameObject("/BitsPerComponent"): NumberObject(8),
            NameObject("/DecodeParms"): DictionaryObject(
                {NameObject("/Predictor"): NumberObject(15), NameObject("/Columns"): NumberObject(width)}
            ),
        }
    )
    if profile is not None:
        icc = _encoded_stream(_zlib_with(bytes(range(128)) * 30, profile), NameObject("/FlateDecode"))
        icc[NameObject("/N")] = NumberObject(1)
        img[NameObject("/ColorSpace")] = ArrayObject([NameObject("/ICCBased"), writer._add_object(icc)])
    program = bytes(range(256)) * 40  # stands for a TrueType program: only its bytes are checked
    font_file = _encoded_stream(_zlib_with(program, font), NameObject("/FlateDecode"))
    font_file[NameObject("/Length1")] = NumberObject(len(program))
    descriptor = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/FontDescriptor"),
            NameObject("/FontName"): NameObject("/ABCDEF+Arial-BoldMT"),
            NameObject("/FontFile2"): writer._add_object(font_file),
        }
    )
    font_dict = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/TrueType"),
            NameObject("/BaseFont"): NameObject("/ABCDEF+Arial-BoldMT"),
            NameObject("/FontDescriptor"): writer._add_object(descriptor),
        }
    )
    form_content = b"".join(b"0 0 1 rg %d %d 3 3 re f\n" % (i * 37 % 251, i * 91 % 163) for i in range(300))
    form_stream = _encoded_stream(_zlib_with(form_content, form), NameObject("/FlateDecode"))
    form_stream.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Form"),
            NameObject("/BBox"): ArrayObject([NumberObject(0), NumberObject(0), NumberObject(100), NumberObject(100)]),
        }
    )
    xobjects = DictionaryObject(
        {NameObject("/Im0"): writer._add_object(img), NameObject("/Fm0"): writer._add_object(form_stream)}
    )
    if raw_image_bytes:
        raw = StreamObject()
        raw._data = bytes(raw_image_bytes)
        raw.update(
            {
                NameObject("/Type"): NameObject("/XObject"),
                NameObject("/Subtype"): NameObject("/Image"),
                NameObject("/Width"): NumberObject(raw_image_bytes),
                NameObject("/Height"): NumberObject(1),
                NameObject("/ColorSpace"): NameObject("/DeviceGray"),
                NameObject("/BitsPerComponent"): NumberObject(8),
                NameObject("/Length"): NumberObject(raw_image_bytes),
            }
        )
        xobjects[NameObject("/Im1")] = writer._add_object(raw)
    resources = DictionaryObject(
        {
            NameObject("/XObject"): xobjects,
            NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font_dict)}),
        }
    )
    content = b"q 100 0 0 80 0 0 cm /Im0 Do Q /Fm0 Do BT /F1 9 Tf 5 5 Td (Hi) Tj ET"
    if pattern is not None:
        cell = _encoded_stream(_zlib_with(form_content, pattern), NameObject("/FlateDecode"))
        cell.update(
            {
                NameObject("/Type"): NameObject("/Pattern"),
                NameObject("/PatternType"): NumberObject(1),
                NameObject("/PaintType"): NumberObject(1),
                NameObject("/TilingType"): NumberObject(1),
                NameObject("/BBox"): ArrayObject(
                    [NumberObject(0), NumberObject(0), NumberObject(251), NumberObject(163)]
                ),
                NameObject("/XStep"): NumberObject(251),
                NameObject("/YStep"): NumberObject(163),
                NameObject("/Resources"): DictionaryObject(),
            }
        )
        resources[NameObject("/Pattern")] = DictionaryObject({NameObject("/P0"): writer._add_object(cell)})
        content = b"q /Pattern cs /P0 scn 0 0 240 155 re f Q " + content
    return _pages_drawing(writer, writer._add_object(resources), content, pages, path)


def _pages_drawing(writer: PdfWriter, resources: PdfObject, content: bytes, pages: int, path: Path | str) -> Path:
    """``pages`` business-card pages sharing ``resources``, each drawing ``content``; written."""
    for _ in range(pages):
        page = writer.add_blank_page(width=pt(85), height=pt(55))
        page[NameObject("/Resources")] = resources
        stream = DecodedStreamObject()
        stream.set_data(content)
        page[NameObject("/Contents")] = writer._add_object(stream)
    return _written(writer, path)


#: A 16 x 16 progressive JPEG (ImageMagick, `-interlace JPEG -strip`): ten scans, each its own SOS
#: segment, tables between them.
PROGRESSIVE_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAYEBQYFBAYGBQYHBwYIChAKCgkJChQODwwQFxQYGBcUFhYaHSUfGhsjHBYWICwgIyYnKSop"
    "GR8tMC0oMCUoKSj/2wBDAQcHBwoIChMKChMoGhYaKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgo"
    "KCj/wgARCAAQABADASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAABQb/xAAVAQEBAAAAAAAAAAAAAAAAAAAAAf/aAAwDAQACEAMQ"
    "AAABlEBGF//EABoQAAICAwAAAAAAAAAAAAAAAAEDAgQAEhP/2gAIAQEAAQUCqymubzlnZDKR6D//xAAXEQEBAQEAAAAAAAAAAAAAAAAB"
    "EQAC/9oACAEDAQE/AWnVHf/EABgRAAIDAAAAAAAAAAAAAAAAAAACAxEh/9oACAECAQE/AZWyz//EABkQAAMBAQEAAAAAAAAAAAAAAAAB"
    "ETEiQf/aAAgBAQAGPwKvDyDWHUZ//8QAGxABAAICAwAAAAAAAAAAAAAAAQARMUEhUWH/2gAIAQEAAT8hrAp8h8VbIZ2K2xyyK1P/2gAM"
    "AwEAAgADAAAAEJP/xAAYEQADAQEAAAAAAAAAAAAAAAABETEAIf/aAAgBAwEBPxAenOI3f//EABgRAAIDAAAAAAAAAAAAAAAAAAERAFHR"
    "/9oACAECAQE/EAByVZP/xAAdEAEBAAEEAwAAAAAAAAAAAAABEQAhMVFhcZHx/9oACAEBAAE/ECEYMa+YluvZa6mz7wmSAFL4esOkAjsc"
    "Of/Z"
)


def make_jpeg_pdf(path: Path | str, data: bytes = PROGRESSIVE_JPEG, pages: int = 1) -> Path:
    """Pages (85 x 55 mm) that draw one JPEG image (Im0, 16 x 16 RGB, DCTDecode): ``data``, as it is."""
    writer = PdfWriter()
    image = _encoded_stream(data, NameObject("/DCTDecode"))
    image.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Image"),
            NameObject("/Width"): NumberObject(16),
            NameObject("/Height"): NumberObject(16),
            NameObject("/ColorSpace"): NameObject("/DeviceRGB"),
            NameObject("/BitsPerComponent"): NumberObject(8),
        }
    )
    resources = writer._add_object(
        DictionaryObject({NameObject("/XObject"): DictionaryObject({NameObject("/Im0"): writer._add_object(image)})})
    )
    return _pages_drawing(writer, resources, b"q 100 0 0 100 0 0 cm /Im0 Do Q", pages, path)


def make_raw_pdf(
    path: Path | str, objects: Sequence[bytes], trailer: bytes = b"", streams: dict[int, bytes] | None = None
) -> Path:
    """A PDF of ``objects`` as written (object n is ``objects[n - 1]``; ``streams``: the data of
    the stream objects, by number), with a correct cross-reference table; ``trailer``: more keys
    for the trailer (``/Root 1 0 R`` is there)."""
    path = Path(path)
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body
        if streams and number in streams:
            out += b"\nstream\n" + streams[number] + b"\nendstream"
        out += b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, trailer, xref_at)
    path.write_bytes(bytes(out))
    return path


def lzw_encode(data: bytes) -> bytes:
    """LZW as PDF's LZWDecode reads it (ISO 32000 7.4.4: 9-12 bit codes, EarlyChange 1)."""
    table = {bytes([i]): i for i in range(256)}
    nxt, width = 258, 9
    out, acc, nbits = bytearray(), 0, 0

    def emit(code):
        nonlocal acc, nbits
        acc = (acc << width) | code
        nbits += width
        while nbits >= 8:
            nbits -= 8
            out.append((acc >> nbits) & 0xFF)

    emit(256)
    w = b""
    for byte in data:
        wc = w + bytes([byte])
        if wc in table:
            w = wc
            continue
        emit(table[w])
        table[wc] = nxt
        nxt += 1
        if nxt + 1 > (1 << width) and width < 12:
            width += 1
        if nxt >= 4094:
            emit(256)
            table = {bytes([i]): i for i in range(256)}
            nxt, width = 258, 9
        w = bytes([byte])
    if w:
        emit(table[w])
    emit(257)
    if nbits:
        out.append((acc << (8 - nbits)) & 0xFF)
    return bytes(out)
