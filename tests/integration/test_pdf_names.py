"""PDF names whose bytes are not UTF-8 (Windows-1252 "Weiß", GBK font names) reach the output as
the page content names them: pypdf wrote every name it wrote again as UTF-8 (audit: output
fidelity), and the page then drew a missing image, showed a hidden die line, and sent a white ink
to a plate of another name."""

from __future__ import annotations

import re
from pathlib import Path

from spo_hotfolder.config import ProductSpec, ValidationConfig
from spo_hotfolder.output import build_output
from spo_hotfolder.preflight import ArtworkInput, preflight
from tests.pdfs import pt

BC = ProductSpec(pattern="bc-*", trim_mm=(85.0, 55.0), bleed_mm=3.0)
V = ValidationConfig()
#: The names, as written in the file: an image, a layer (off), a spot colour, a font.
NAMES = (b"/Bild#E9", b"/Stanz#FC", b"/Wei#DF", b"/F#E9")


def raw_pdf(path: Path, font_embedded: bool = True) -> Path:
    """One 91 x 61 mm page (trim + bleed, no TrimBox) whose resources and content use ``NAMES``."""
    width, height = pt(91), pt(61)
    content = (
        b"/OC /Stanz#FC BDC 0 0 0 RG 6 w 0 0 m 50 50 l S EMC\n"
        b"q 20 0 0 20 10 10 cm /Bild#E9 Do Q\n"
        b"/CS0 cs 1 scn 100 10 40 40 re f\n"
        b"BT /F#E9 9 Tf 10 120 Td (Weiss) Tj ET\n"
    )
    descriptor = b" /FontDescriptor 9 0 R" if font_embedded else b""
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R /OCProperties << /OCGs [6 0 R] /D << /Order [6 0 R] /OFF [6 0 R] >> >> >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.3f %.3f] /Contents 4 0 R /Resources << "
        b"/XObject << /Bild#E9 5 0 R >> /Properties << /Stanz#FC 6 0 R >> "
        b"/ColorSpace << /CS0 [/Separation /Wei#DF /DeviceCMYK 7 0 R] >> /Font << /F#E9 8 0 R >> >> >>"
        % (width, height),
        4: b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        5: b"<< /Type /XObject /Subtype /Form /BBox [0 0 1 1] /Length 21 >>\nstream\n1 0 0 rg 0 0 1 1 re f\nendstream",
        6: b"<< /Type /OCG /Name (Stanzlinie) >>",
        7: b"<< /FunctionType 2 /Domain [0 1] /C0 [0 0 0 0] /C1 [0.1 0 0 0] /N 1 >>",
        # (the font's own name in GBK where it is not embedded: SimSun, as Chinese Windows names it)
        8: b"<< /Type /Font /Subtype /TrueType /BaseFont "
        + (b"/ABCDEF+Arial" + descriptor if font_embedded else b"/#CB#CE#CC#E5")
        + b" >>",
        9: b"<< /Type /FontDescriptor /FontName /ABCDEF+Arial /FontFile2 10 0 R >>",
        10: b"<< /Length 16 >>\nstream\n" + bytes(16) + b"\nendstream",
    }
    out = bytearray(b"%PDF-1.6\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number, body in objects.items():
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for number in range(1, len(objects) + 1):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def written_names(data: bytes) -> list[bytes]:
    """Every name in ``data`` that holds one of NAMES's words ("Bild", "Stanz", "Wei", "F#")."""
    return sorted(set(re.findall(rb"/(?:Bild|Stanz|Wei|F#)[^\s/\[\]()<>{}%]*", data)))


def test_boxes_added_by_an_update_keep_the_pages_names(tmp_path: Path) -> None:
    """The incremental update writes the page dictionary again (with its TrimBox): its
    resources' names are the ones the content uses."""
    src = raw_pdf(tmp_path / "card.pdf")
    dest = tmp_path / "out.pdf"
    result = build_output([ArtworkInput(name="card.pdf", path=str(src))], str(dest), BC, V)
    assert not result.copied_unchanged
    data = dest.read_bytes()
    appended = data[len(src.read_bytes()) :]
    assert b"/TrimBox" in appended
    assert written_names(appended) == sorted(NAMES)


def test_merged_files_keep_their_names(tmp_path: Path) -> None:
    front, back = raw_pdf(tmp_path / "front.pdf"), raw_pdf(tmp_path / "back.pdf")
    dest = tmp_path / "out.pdf"
    build_output(
        [ArtworkInput(name="front.pdf", path=str(front)), ArtworkInput(name="back.pdf", path=str(back))],
        str(dest),
        BC,
        V,
    )
    assert written_names(dest.read_bytes()) == sorted(NAMES)


def test_a_font_named_in_windows_1252_is_found_where_the_page_uses_it(tmp_path: Path) -> None:
    """The content's "/F#E9 9 Tf" and the resources' key /F#E9 were read as two names (the content's
    as "F#E9", the key as "Fé"), and the font, not embedded, passed as never used. Its name in the
    message reads as a person reads it."""
    src = raw_pdf(tmp_path / "card.pdf", font_embedded=False)
    report = preflight([ArtworkInput(name="card.pdf", path=str(src))], "bc-85x55", BC, V)
    assert [(f.check, f.message) for f in report.findings] == [
        ("fonts", "page 1: font \u5b8b\u4f53 is not embedded; ask for a PDF with all fonts embedded (PDF/X)")
    ]


def test_a_name_in_an_error_message_is_said_as_a_person_reads_it() -> None:
    """A name kept with its bytes (a lone surrogate for each byte that is not UTF-8) in a message
    would make the ERROR.txt that says it impossible to write."""
    from spo_hotfolder.pdfreport import describe_exception, name_text

    said = describe_exception(ValueError("no resource /Bild\udce9"))
    assert said == "no resource /Bild\u00e9" and said.encode("utf-8")
    assert name_text("font /\udccb\udcce\udccc\udce5 and /Wei\udcdf") == "font /\u5b8b\u4f53 and /Wei\u00df"
