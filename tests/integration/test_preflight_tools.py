"""The fonts check on PDFs that real tools make (skipped where the tool is not installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from spo_hotfolder.config import ValidationConfig
from spo_hotfolder.preflight import ArtworkInput, preflight

#: A business card filled with a tiling pattern whose cell shows "SALE" in Helvetica.
PATTERN_PS = """%!PS
<< /PageSize [258 173] >> setpagedevice
<< /PatternType 1 /PaintType 1 /TilingType 1 /BBox [0 0 40 20] /XStep 40 /YStep 20
   /PaintProc { pop /Helvetica findfont 8 scalefont setfont 2 6 moveto (SALE) show } >>
matrix makepattern setpattern
0 0 258 173 rectfill
showpage
"""

#: A "scanned" page (a grey area) with its OCR text layer: invisible text (3 Tr) in Times-Roman.
OCR_PAGE = """%%MediaBox 0 0 258 173
%%Font F1 Times-Roman
0.5 g 10 10 238 153 re f
BT 3 Tr /F1 12 Tf 20 80 Td (Scanned invoice 2026) Tj ET
"""


def fonts_findings(path: Path) -> list[str]:
    report = preflight([ArtworkInput(name=path.name, path=str(path))], "x", None, ValidationConfig())
    return [f.message for f in report.findings if f.check == "fonts"]


@pytest.mark.skipif(shutil.which("gs") is None, reason="Ghostscript (gs) is not installed")
def test_ghostscript_pattern_showing_text_in_a_font_not_embedded_fails(tmp_path: Path) -> None:
    """Ghostscript writes the pattern's cell with its own font resources: the fonts check did not
    look into patterns, and this card passed with Helvetica not embedded."""
    source = tmp_path / "pattern.ps"
    source.write_text(PATTERN_PS)
    pdf = tmp_path / "pattern.pdf"
    subprocess.run(
        [
            "gs",
            "-q",
            "-dNOPAUSE",
            "-dBATCH",
            "-sDEVICE=pdfwrite",
            "-dEmbedAllFonts=false",
            f"-sOutputFile={pdf}",
            str(source),
        ],
        check=True,
        timeout=60,
    )
    assert fonts_findings(pdf) == [
        "page 1: font Helvetica is not embedded; ask for a PDF with all fonts embedded (PDF/X)"
    ]


@pytest.mark.skipif(shutil.which("mutool") is None, reason="MuPDF's mutool is not installed")
def test_mutool_page_with_only_invisible_ocr_text_in_a_font_not_embedded_passes(tmp_path: Path) -> None:
    """OCR's invisible text layer prints nothing: its font need not be embedded. Made visible (the
    same text in mode 0), the same font fails."""
    for mode, expected in (
        ("3", []),
        ("0", ["page 1: font Times-Roman is not embedded; ask for a PDF with all fonts embedded (PDF/X)"]),
    ):
        source = tmp_path / f"ocr{mode}.txt"
        source.write_text(OCR_PAGE.replace("3 Tr", f"{mode} Tr"))
        pdf = tmp_path / f"ocr{mode}.pdf"
        subprocess.run(["mutool", "create", "-o", str(pdf), str(source)], check=True, timeout=60)
        assert fonts_findings(pdf) == expected, mode
