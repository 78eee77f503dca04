"""Preflight: PDFs made in the test -> the exact findings an operator reads."""

from __future__ import annotations

import hashlib
import re
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NullObject,
    NumberObject,
    RectangleObject,
)

from spo_hotfolder.config import ProductSpec, ValidationConfig
from spo_hotfolder.preflight import ArtworkInput, Finding, PreflightReport, preflight
from tests.pdfs import (
    PROGRESSIVE_JPEG,
    bomb_stream_data,
    lzw_encode,
    make_bomb_pdf,
    make_damaged_content_pdf,
    make_jpeg_pdf,
    make_pdf,
    make_raw_pdf,
    make_resource_pdf,
    pt,
)

BC = ProductSpec(pattern="bc-*", trim_mm=(85.0, 55.0), bleed_mm=3.0, pages=2)
V = ValidationConfig()


def run(*paths: Path, spec: ProductSpec | None = BC, validation: ValidationConfig = V) -> PreflightReport:
    return preflight([ArtworkInput(p.name, str(p)) for p in paths], "bc-85x55", spec, validation)


def messages(report: PreflightReport) -> list[tuple[str, str, str]]:
    return [(f.check, f.severity, f.message) for f in report.findings]


def assert_damaged(pdf: Path, damage: str) -> None:
    """``pdf`` (several pages) fails as damaged, saying ``damage``; a warning where the config
    relaxes the check ``repaired``."""
    assert messages(run(pdf, spec=None)) == [
        (
            "repaired",
            "error",
            f"artwork '{pdf.name}' is damaged: {damage}: those pages would print incomplete or blank, or the RIP "
            "refuse the file (a file damaged on the way, or cut off); ask for the PDF again",
        )
    ]
    relaxed = ValidationConfig(checks={**V.checks, "repaired": "warning"})
    assert [(f.check, f.severity) for f in run(pdf, spec=None, validation=relaxed).findings] == [
        ("repaired", "warning")
    ]


def test_right_size_with_trim_and_bleed_boxes_passes(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58), bleedbox=(0, 0, 91, 61))
    report = run(pdf)
    assert report.findings == ()
    assert report.ok
    assert report.pages == 2
    assert report.trim_mm == (85.0, 55.0)
    assert report.summary() == "passed"
    assert report.artwork_sha256 == (hashlib.sha256(pdf.read_bytes()).hexdigest(),)
    assert report.to_text() == "Preflight passed (2 pages, trim 85.0 x 55.0 mm).\n"


def test_mediabox_equal_to_trim_plus_bleed_is_accepted(tmp_path: Path) -> None:
    report = run(make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 2))
    assert report.findings == ()
    assert report.trim_mm == (85.0, 55.0)


def test_mediabox_within_tolerance_is_accepted(tmp_path: Path) -> None:
    report = run(make_pdf(tmp_path / "bc.pdf", [(91.9, 60.2)] * 2))
    assert report.findings == ()


def test_sizes_rounded_to_whole_points_pass_at_the_edge_of_the_tolerance(tmp_path: Path) -> None:
    """Audit U: producers write points with 2-4 decimals; an exact 85 x 55 card (240.94 x 155.91 pt)
    failed a 0 mm tolerance "0.00 mm off", and 1 mm off failed a 1 mm tolerance half the time."""
    exact = make_pdf(tmp_path / "exact.pdf", [(240.94 * 25.4 / 72, 155.91 * 25.4 / 72)] * 2)
    assert run(
        exact,
        spec=ProductSpec(pattern="bc-*", trim_mm=(85.0, 55.0), pages=2),
        validation=ValidationConfig(size_tolerance_mm=0.0),
    ).ok
    one_off = make_pdf(tmp_path / "off.pdf", [(243.78 * 25.4 / 72, 158.74 * 25.4 / 72)] * 2)  # 86.0 x 56.0 mm
    assert run(one_off, spec=ProductSpec(pattern="bc-*", trim_mm=(85.0, 55.0), pages=2)).ok
    beyond = make_pdf(tmp_path / "beyond.pdf", [(86.05, 56.0)] * 2)
    assert not run(beyond, spec=ProductSpec(pattern="bc-*", trim_mm=(85.0, 55.0), pages=2)).ok


def test_rotated_size_is_accepted(tmp_path: Path) -> None:
    portrait = make_pdf(tmp_path / "portrait.pdf", [(61, 91)] * 2, trimbox=(3, 3, 58, 88))
    assert run(portrait).findings == ()
    turned = make_pdf(tmp_path / "turned.pdf", [(91, 61)] * 2, rotate=90)
    report = run(turned)
    assert report.findings == ()
    assert report.trim_mm == (55.0, 85.0)  # as displayed


def test_wrong_trim(tmp_path: Path) -> None:
    report = run(make_pdf(tmp_path / "a4.pdf", [(210, 297)] * 2))
    assert messages(report) == [
        (
            "trim",
            "error",
            "pages 1-2: the page is 210.0 x 297.0 mm and has no TrimBox: product bc-"
            "85x55 expects the trim, 85.0 x 55.0 mm, or the trim with 3.0 mm bleed, 91.0 x 61.0 mm (tolerance 1.0 mm)",
        )
    ]
    assert not report.ok
    assert report.findings[0].page == 1
    assert report.findings[0].file == "a4.pdf"
    assert report.summary() == "1 problem: " + report.findings[0].message


def test_wrong_trimbox_on_one_page_and_mixed_sizes(tmp_path: Path) -> None:
    pdf = make_pdf(
        tmp_path / "bc.pdf",
        [(91, 61), (216, 303)],
        trimbox=[(3, 3, 88, 58), (3, 3, 213, 300)],
    )
    report = run(pdf)
    assert messages(report) == [
        (
            "trim",
            "error",
            "page 2: trim (its TrimBox) is 210.0 x 297.0 mm, product bc-85x55 expects 85.0 x 55.0 mm "
            "(tolerance 1.0 mm)",
        ),
        (
            "mixed_sizes",
            "warning",
            # the trims, each said to be one where the page is larger (audit, 2026-12-03 operator 3)
            "pages have different sizes: 85.0 x 55.0 mm trim of a 91.0 x 61.0 mm page (page 1), "
            "210.0 x 297.0 mm trim of a 216.0 x 303.0 mm page (page 2)",
        ),
    ]
    assert report.findings[0].page == 2


def test_mixed_sizes_names_each_page_size_of_a_trim(tmp_path: Path) -> None:
    """Audit AU: an 85 x 55 card with crop marks (111 x 81 mm page) and one with its bleed only
    (91 x 61 mm), beside an A4 page: "85.0 x 55.0 mm trim of a 111.0 x 81.0 mm page (pages 1-2)",
    the second page's size said wrong."""
    pdf = make_pdf(
        tmp_path / "bc.pdf",
        [(111, 81), (91, 61), (210, 297)],
        trimbox=[(13, 13, 98, 68), (3, 3, 88, 58), (0, 0, 210, 297)],
    )
    [mixed] = [message for check, _, message in messages(run(pdf, spec=None)) if check == "mixed_sizes"]
    assert mixed == (
        "pages have different sizes: 85.0 x 55.0 mm trim of 111.0 x 81.0 mm and 91.0 x 61.0 mm pages (pages 1-2), "
        "210.0 x 297.0 mm (page 3)"
    )


def test_mixed_sizes_without_product_spec(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "doc.pdf", [(210, 297), (297, 210), (148, 210), (210, 297)])
    report = run(pdf, spec=None)
    assert messages(report) == [
        (
            "mixed_sizes",
            "warning",
            "pages have different sizes: 210.0 x 297.0 mm (pages 1, 4), 297.0 x 210.0 mm (page 2), "
            "148.0 x 210.0 mm (page 3)",
        )
    ]
    assert report.ok
    assert report.summary().startswith("passed with 1 warning: pages have different sizes: 210.0 x 297.0 mm (pages 1")
    # One size in both orientations (audit BI 2: a brochure turning landscape half-way passed unsaid).
    turned = run(make_pdf(tmp_path / "turned.pdf", [(216, 303)] * 2 + [(303, 216)] * 2), spec=None)
    assert messages(turned) == [
        (
            "mixed_sizes",
            "warning",
            "pages are of one size but in both orientations: 216.0 x 303.0 mm (pages 1-2), 303.0 x 216.0 mm "
            "(pages 3-4)",
        )
    ]
    shown = run(make_pdf(tmp_path / "shown.pdf", [(216, 303), (303, 216)], rotate=90), spec=None)
    assert [f.check for f in shown.findings] == ["mixed_sizes"], "as shown: /Rotate applied"
    same = run(make_pdf(tmp_path / "same.pdf", [(303, 216), (303.4, 216)]), spec=None)
    assert same.findings == (), "within the tolerance: one size"


def test_no_bleed(tmp_path: Path) -> None:
    report = run(make_pdf(tmp_path / "bc.pdf", [(85, 55)] * 2))
    assert messages(report) == [
        (
            "bleed",
            "error",
            "pages 1-2: no bleed: the page is 85.0 x 55.0 mm, product bc-85x55 needs 3.0 mm bleed "
            "on each side of the trim (91.0 x 61.0 mm)",
        )
    ]


def test_not_enough_bleed_in_bleedbox(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58), bleedbox=(2, 2, 89, 59))
    report = run(pdf)
    assert messages(report) == [
        (
            "bleed",
            "error",
            "pages 1-2: not enough bleed: the page's BleedBox is 87.0 x 57.0 mm, product bc-85x55 needs 3.0 mm "
            "bleed on each side of the trim (91.0 x 61.0 mm)",
        )
    ]
    # 2.5 mm of 3.0 mm on each side is within the 1.0 mm tolerance of the page's size (90 x 60 of 91 x
    # 61); 2.0 mm on each side (89 x 59) is not, as a MediaBox of 89 x 59 without a TrimBox is not
    # (audit X 1: the tolerance was taken on each side, and 89 x 59 passed with a TrimBox).
    pdf = make_pdf(tmp_path / "ok.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58), bleedbox=(0.5, 0.5, 90.5, 60.5))
    assert run(pdf).findings == ()
    for name, size in (("trimbox", (89, 59)), ("mediabox", None)):
        if size is None:
            short = make_pdf(tmp_path / f"{name}.pdf", [(89, 59)] * 2)
        else:
            short = make_pdf(tmp_path / f"{name}.pdf", [size] * 2, trimbox=(2, 2, 87, 57))
        [finding] = run(short).findings
        assert finding.check in ("bleed", "trim") and finding.severity == "error", (name, finding)
    [finding] = run(tmp_path / "trimbox.pdf").findings
    assert finding.message == (
        "pages 1-2: not enough bleed: the page is 89.0 x 59.0 mm, product bc-85x55 needs 3.0 mm bleed on each side "
        "of the trim (91.0 x 61.0 mm)"
    )


def test_bleed_short_on_every_side_by_less_than_a_tenth_says_by_how_much(tmp_path: Path) -> None:
    """Audit X: with a tolerance of 0, 2.985 mm of bleed read "the page is 91.0 x 61.0 mm, ... needs
    3.0 mm bleed ... (91.0 x 61.0 mm)": the two sizes the same, what is wrong not said."""
    exact = ValidationConfig(checks=V.checks, size_tolerance_mm=0.0)
    pdf = make_pdf(tmp_path / "bc.pdf", [(90.97, 60.97)] * 2, trimbox=(2.985, 2.985, 87.985, 57.985))
    [finding] = run(pdf, validation=exact).findings
    assert finding.message == (
        "pages 1-2: not enough bleed (bleed 2.98 mm on each side): the page is 91.0 x 61.0 mm, product bc-85x55 "
        "needs 3.0 mm bleed on each side of the trim (91.0 x 61.0 mm)"
    ), finding.message


def test_bleed_cut_away_by_a_cropbox_is_no_bleed(tmp_path: Path) -> None:
    """Audit U: a 91 x 61 page cropped to its 85 x 55 trim in Acrobat passed the bleed check; a RIP
    and every viewer show the cropped page, without its bleed."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=pt(91), height=pt(61))
    page[NameObject("/CropBox")] = RectangleObject([pt(3), pt(3), pt(88), pt(58)])
    path = tmp_path / "cropped.pdf"
    with open(path, "wb") as fh:
        writer.write(fh)
    [finding] = [f for f in run(path).findings if f.check != "pages"]  # one page where bc-* wants two
    assert finding.check == "bleed" and "the page (its CropBox) is 85.0 x 55.0 mm" in finding.message


def test_a_trimbox_off_the_page_is_a_trim_error(tmp_path: Path) -> None:
    """Audit AZ 3: a TrimBox written as if the page started at 0 (the MediaBox at x 300 mm) passed
    for a product without bleed: viewers and RIPs clip it to the page, nothing is left to cut."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=pt(210), height=pt(297))
    page[NameObject("/MediaBox")] = RectangleObject([pt(300), 0, pt(510), pt(297)])
    page[NameObject("/TrimBox")] = RectangleObject([0, 0, pt(210), pt(297)])
    path = tmp_path / "off.pdf"
    with open(path, "wb") as fh:
        writer.write(fh)
    a4 = ProductSpec(pattern="a4-*", trim_mm=(210.0, 297.0))
    [finding] = run(path, spec=a4).findings
    assert (finding.check, finding.severity) == ("trim", "error")
    assert finding.message == (
        "page 1: its TrimBox lies outside the page: the TrimBox is 210.0 x 297.0 mm at 0.0, 0.0 mm, the page "
        "(its MediaBox) 210.0 x 297.0 mm at 300.0, 0.0 mm; a RIP that cuts at the TrimBox has nothing to cut. "
        "Ask for the PDF exported again with its trim on the page"
    )
    [finding] = [f for f in run(path, spec=BC).findings if f.check != "pages"]  # with bleed: the same, not "no bleed"
    assert finding.check == "trim" and "its TrimBox lies outside the page" in finding.message
    assert [f.check for f in run(path, spec=None).findings] == ["trim"]  # whatever the product expects
    from spo_hotfolder.engine.processing import _fix_kind, _preflight_fix

    assert "expectations" not in _preflight_fix({_fix_kind(f) for f in run(path, spec=a4).findings})


def test_a_trimbox_partly_off_the_page_is_measured_as_rips_cut_it(tmp_path: Path) -> None:
    """Audit AZ 3: an 85 x 55 TrimBox reaching 5 mm beyond a 91 x 61 page said "no bleed: the page
    is 91.0 x 61.0 mm, ... needs ... (91.0 x 61.0 mm)"; a RIP cuts the part on the page: 80 x 55."""
    pdf = make_pdf(tmp_path / "off.pdf", [(91, 61)] * 2, trimbox=(11, 3, 96, 58))
    [finding] = run(pdf).findings
    assert finding.check == "trim"
    assert finding.message.startswith("pages 1-2: trim (its TrimBox) is 80.0 x 55.0 mm, product bc-85x55 expects")
    assert finding.message.endswith("(the part of its TrimBox on the page: the TrimBox reaches beyond the page)")
    # The fix is a corrected PDF, not the product's expectations in the config (audit BB 8).
    from spo_hotfolder.engine.processing import _fix_kind, _preflight_fix

    fix = _preflight_fix({_fix_kind(finding)})
    assert fix == "Put a corrected PDF into replace/, or drop REJECT to stop the job."


def test_a_page_turned_by_45_degrees_is_refused(tmp_path: Path) -> None:
    """Audit AZ 6: /Rotate 45 (a PDF may turn a page only by multiples of 90) passed without a word."""
    pdf = make_pdf(tmp_path / "r.pdf", [(91, 61)] * 2, rotate=45)
    [finding] = run(pdf).findings
    assert finding.severity == "error"
    assert "page 1: artwork 'r.pdf' is turned by 45 degrees (/Rotate), which a PDF may not be" in finding.message
    assert [f.check for f in run(make_pdf(tmp_path / "r90.pdf", [(61, 91)] * 2, rotate=-90)).findings] == []


def test_wrong_sizes_on_pages_apart_are_one_finding(tmp_path: Path) -> None:
    """Audit AZ 5: a 2,000-page file with every other page A5 had 1,000 findings, one per page
    (ERROR.txt and STATUS.txt ~110 KB each)."""
    a4 = ProductSpec(pattern="a4-*", trim_mm=(210.0, 297.0))
    pdf = make_pdf(tmp_path / "alt.pdf", [(210, 297), (148, 210)] * 1000)
    report = run(pdf, spec=a4, validation=ValidationConfig(checks={"mixed_sizes": "off"}))
    [finding] = report.findings
    assert finding.page == 2
    assert finding.message == (
        "pages 2, 4, 6, 8, 10, 12, 14, 16 and 992 more (1000 pages): trim is 148.0 x 210.0 mm, product bc-85x55 "
        "expects 210.0 x 297.0 mm (tolerance 1.0 mm)"
    )
    pdf = make_pdf(tmp_path / "some.pdf", [(148, 210), (148, 210), (210, 297), (148, 210)])
    [finding] = run(pdf, spec=a4, validation=ValidationConfig(checks={"mixed_sizes": "off"})).findings
    assert finding.message.startswith("pages 1-2, 4: trim is 148.0 x 210.0 mm")


def test_bleed_missing_on_some_sides_names_them(tmp_path: Path) -> None:
    """Audit U: an off-centre TrimBox (6 mm bleed left, none right) was "no bleed: the page is 91.0 x
    61.0 mm, ... needs 3.0 mm bleed on each side (91.0 x 61.0 mm)": nothing to see what is wrong."""
    pdf = make_pdf(tmp_path / "off.pdf", [(91, 61)] * 2, trimbox=(6, 3, 91, 58))
    [finding] = run(pdf).findings
    assert finding.message.startswith("pages 1-2: no bleed (bleed right 0.0 mm): the page is 91.0 x 61.0 mm")


def test_too_many_pages(tmp_path: Path) -> None:
    report = run(make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 3))
    assert messages(report) == [("pages", "error", "the output has 3 pages, product bc-85x55 expects 2")]


def test_too_many_pages_over_several_files_says_each_file_s_count(tmp_path: Path) -> None:
    """Audit AU: "the output has 4 pages, product ... expects 2" did not say which file had more."""
    front = make_pdf(tmp_path / "front.pdf", [(91, 61)])
    back = make_pdf(tmp_path / "back.pdf", [(91, 61)] * 3)
    assert messages(run(front, back)) == [
        ("pages", "error", "the output has 4 pages (front.pdf: 1 page, back.pdf: 3 pages), product bc-85x55 expects 2")
    ]


def test_pages_are_counted_over_all_artwork_files(tmp_path: Path) -> None:
    front = make_pdf(tmp_path / "front.pdf", [(91, 61)])
    back = make_pdf(tmp_path / "back.pdf", [(210, 297)])
    report = run(front, back)
    assert report.pages == 2
    assert messages(report) == [
        (
            "trim",
            "error",
            # the output's page 2 is the first of back.pdf (audit BB 9)
            "page 2 (page 1 of its file): the page is 210.0 x 297.0 mm and has no TrimBox: product bc-85x55 "
            "expects the trim, 85.0 x 55.0 mm, or the trim with 3.0 mm bleed, 91.0 x 61.0 mm (tolerance 1.0 mm)",
        ),
        (
            "mixed_sizes",
            "warning",
            # which file each size is in (audit BC 4)
            "pages have different sizes: 85.0 x 55.0 mm trim of a 91.0 x 61.0 mm page (page 1: front.pdf page 1), "
            "210.0 x 297.0 mm (page 2: back.pdf page 1)",
        ),
    ]
    assert report.findings[0].file == "back.pdf"
    assert report.to_text().splitlines()[1] == f"ERROR: {report.findings[0].message} (artwork 'back.pdf')"
    # The one-line summary (ValidationFailed's detail in the history, `show`, `jobs`) names it too (audit Q).
    assert report.summary().startswith(f"1 problem (and 1 warning): {report.findings[0].message} (artwork 'back.pdf')")
    assert len(report.artwork_sha256) == 2


def test_mixed_sizes_over_several_files_name_each_file_s_own_pages(tmp_path: Path) -> None:
    cover = make_pdf(tmp_path / "cover.pdf", [(210, 297), (210, 297)])
    inner = make_pdf(tmp_path / "inner.pdf", [(148, 210), (210, 297), (148, 210)])
    report = run(cover, inner, spec=None)
    assert messages(report) == [
        (
            "mixed_sizes",
            "warning",
            "pages have different sizes: 210.0 x 297.0 mm (pages 1-2, 4: cover.pdf pages 1-2; inner.pdf page 2), "
            "148.0 x 210.0 mm (pages 3, 5: inner.pdf pages 1, 3)",
        )
    ]


def test_user_password_is_an_error(tmp_path: Path) -> None:
    report = run(make_pdf(tmp_path / "locked.pdf", [(91, 61)] * 2, encrypt_user="secret"))
    assert messages(report) == [
        (
            "open",
            "error",
            "artwork 'locked.pdf' is encrypted: a password is needed to open it; ask the customer for an "
            "unprotected PDF",
        )
    ]
    assert report.pages == 0
    assert report.trim_mm is None


def test_a_certificate_encrypted_pdf_is_said_to_be_encrypted_not_damaged(tmp_path: Path) -> None:
    """Audit U: /Adobe.PubSec (certificate security) was "damaged and cannot be read"."""
    pdf = make_pdf(tmp_path / "cert.pdf", [(91, 61)] * 2, encrypt_owner="x")
    data = pdf.read_bytes()
    pdf.write_bytes(data.replace(b"/Filter /Standard", b"/Filter /PubSecXX"))  # same length: offsets hold
    [finding] = run(pdf).findings
    assert "is encrypted with a certificate or another security handler" in finding.message
    assert "damaged" not in finding.message


def test_owner_password_only_is_a_warning(tmp_path: Path) -> None:
    report = run(make_pdf(tmp_path / "owner.pdf", [(91, 61)] * 2, encrypt_owner="secret"))
    assert messages(report) == [
        (
            "encryption",
            "warning",
            "artwork 'owner.pdf' is protected by an owner password (editing restrictions; printing is allowed); "
            "it was opened without one",
        )
    ]
    assert report.ok
    assert report.pages == 2


def test_an_owner_password_file_that_forbids_printing_fails(tmp_path: Path) -> None:
    """Audit U: a PDF whose permissions forbid printing went to the printer with the same warning
    as any owner-protected file."""
    from pypdf.constants import UserAccessPermissions as P

    everything = P.all()
    no_print = make_pdf(
        tmp_path / "np.pdf",
        [(91, 61)] * 2,
        encrypt_owner="x",
        permissions=everything & ~P.PRINT & ~P.PRINT_TO_REPRESENTATION,
    )
    report = run(no_print)
    assert not report.ok
    assert [(f.check, f.severity) for f in report.findings] == [("encryption", "error")]
    assert "forbids printing" in report.findings[0].message
    low = make_pdf(
        tmp_path / "low.pdf", [(91, 61)] * 2, encrypt_owner="x", permissions=everything & ~P.PRINT_TO_REPRESENTATION
    )
    report = run(low)
    assert report.ok and "only low-quality printing" in report.findings[0].message
    off = ValidationConfig(checks={**V.checks, "encryption": "off"})
    assert run(no_print, validation=off).ok


def test_truncated_file(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "cut.pdf", [(91, 61)] * 2)
    data = pdf.read_bytes()
    pdf.write_bytes(data[: len(data) // 2])
    assert messages(run(pdf)) == [
        (
            "incomplete",
            "error",
            "artwork 'cut.pdf' is damaged and cannot be read: EOF marker not found (the file is incomplete; "
            "the upload may have been cut off)",
        )
    ]


def test_bytes_appended_after_the_end_marker_are_named_as_such(tmp_path: Path) -> None:
    """Audit U: a whole PDF followed by 4 KiB of padding was "incomplete: the upload may have been
    cut off", which sent the customer to upload the same file again."""
    pdf = make_pdf(tmp_path / "padded.pdf", [(91, 61)] * 2)
    with open(pdf, "ab") as fh:
        fh.write(b"\x00" * 4096)
    [finding] = run(pdf).findings
    assert finding.severity == "error"
    assert "'padded.pdf' has 4097 bytes after its end marker (%%EOF)" in finding.message  # its line break + 4096
    assert "cut off" not in finding.message


def _saved_twice(path: Path, extra_page: bool) -> tuple[bytes, int]:
    """A card saved, then saved again incrementally (as Acrobat's Save does): the file, and where
    the first revision's end marker ends."""

    first = make_pdf(path, [(91, 61)] * 2)
    base = first.read_bytes()
    writer = PdfWriter(str(first), incremental=True)
    writer.add_metadata({"/Title": "corrected proof v2"})
    if extra_page:
        writer.pages[0][NameObject("/Contents")] = writer._add_object(_big_stream())
    with open(path, "wb") as fh:
        writer.write(fh)
    data = path.read_bytes()
    assert data.startswith(base)
    return data, base.rindex(b"%%EOF") + 5


def _big_stream() -> DecodedStreamObject:
    stream = DecodedStreamObject()
    stream.set_data(b"0 0 1 rg 0 0 10 10 re f\n" * 400)
    return stream


def test_an_incremental_save_cut_short_is_incomplete_not_its_earlier_version(tmp_path: Path) -> None:
    """Audit AZ 1: a PDF saved incrementally and cut off inside its second revision ends near the
    first revision's %%EOF: it passed and printed the earlier version."""
    path = tmp_path / "fix.pdf"
    data, first_end = _saved_twice(path, extra_page=False)
    path.write_bytes(data[: first_end + (len(data) - first_end) * 2 // 3])
    assert len(path.read_bytes()) - first_end < 1024  # the earlier marker is where readers look
    [finding] = run(path).findings
    assert (finding.check, finding.severity) == ("incomplete", "error")
    assert finding.message.startswith(
        "artwork 'fix.pdf' is incomplete: it ends inside a later revision of the PDF, after the end marker (%%EOF) "
        "of an earlier one"
    )
    # Cut anywhere in the later revision, even within the first bytes of its first object ("4 0 ob",
    # audit BB 2): never the earlier version. (Cut right after the earlier marker and its line break,
    # the file is the earlier version, whole: nothing tells it from that one.)
    from spo_hotfolder.pdfreport import ArtworkProblem
    from spo_hotfolder.preflight import open_artwork, pdf_limits

    opened = []
    for cut in range(first_end + 1, len(data)):
        path.write_bytes(data[:cut])
        with pdf_limits(), open(path, "rb") as fh:
            try:
                open_artwork("fix.pdf", fh)
                opened.append(cut)
            except ArtworkProblem as problem:
                assert "is incomplete" in str(problem), (cut, str(problem))
    whole = data.rstrip()
    assert all(not data[first_end:cut].strip() or data[:cut] == whole for cut in opened), opened
    # Cut further from the earlier marker: the same, not "something was appended".
    data, first_end = _saved_twice(path, extra_page=True)
    path.write_bytes(data[: first_end + (len(data) - first_end) * 2 // 3])
    assert len(path.read_bytes()) - first_end > 1024
    [finding] = run(path).findings
    assert finding.message.startswith("artwork 'fix.pdf' is incomplete: it ends inside a later revision")
    # Whole, it passes.
    path.write_bytes(data)
    assert run(path).findings == ()


def test_garbage_after_pdf_header(tmp_path: Path) -> None:
    pdf = tmp_path / "junk.pdf"
    pdf.write_bytes(b"%PDF-1.4\nthis is not a pdf body at all\n%%EOF\n")
    report = run(pdf)
    assert [(f.check, f.severity) for f in report.findings] == [("open", "error")]
    assert report.findings[0].message == (
        "artwork 'junk.pdf' is damaged and cannot be read: its index of objects (the cross-reference table) is "
        "missing or damaged (the PDF reader said: startxref not found)"
    )


def test_the_pdf_readers_errors_are_said_in_plain_words_without_raw_bytes(tmp_path: Path) -> None:
    """Audit C 10: "startxref not found", "Invalid Elementary Object starting with b'\\xe6' @15842:
    b'DuT\\xa4...'" and Python's "'NoneType' object is not subscriptable" reached ERROR.txt as the
    whole reason: an operator could not tell what was wrong."""
    from spo_hotfolder.pdfreport import describe_damage

    assert describe_damage(ValueError("Cannot find Root object in pdf")) == (
        "its catalog (the part that leads to its pages) is missing or damaged (the PDF reader said: Cannot find Root "
        "object in pdf)"
    )
    assert describe_damage(ValueError("Invalid Elementary Object starting with b'\\xe6' @15842: b'DuT\\xa4'")) == (
        "some of its data is malformed (the PDF reader said: Invalid Elementary Object)"
    )
    assert describe_damage(TypeError("'NoneType' object is not subscriptable")) == (
        "some of its data is malformed (the PDF reader said: 'NoneType' object is not subscriptable)"
    )
    # A catalog whose page list is not a reference, in a file read the real way.
    data = make_pdf(tmp_path / "card.pdf", [(91, 61)]).read_bytes()
    broken = tmp_path / "pages.pdf"
    broken.write_bytes(data.replace(b"/Pages 2 0 R", b"/Pages \xe6\xe6 0 R"))
    assert [f.message for f in run(broken).findings if f.severity == "error"] == [
        "artwork 'pages.pdf' is damaged and cannot be read: its list of pages is damaged (the PDF reader said: "
        "Invalid object in /Pages)"
    ]


def test_zero_bytes(tmp_path: Path) -> None:
    pdf = tmp_path / "empty.pdf"
    pdf.write_bytes(b"")
    report = run(pdf)
    assert messages(report) == [("empty", "error", "artwork 'empty.pdf' is an empty file (0 bytes)")]
    assert report.artwork_sha256 == (hashlib.sha256(b"").hexdigest(),)


def test_a_pdf_without_pages_or_with_a_zero_size_page_fails(tmp_path: Path) -> None:
    """Nothing to print: never delivered, even for a product without expectations."""
    empty = PdfWriter()
    empty.write(tmp_path / "nopages.pdf")
    report = run(tmp_path / "nopages.pdf", spec=None)
    assert not report.ok
    assert messages(report) == [("open", "error", "artwork 'nopages.pdf' has no pages: there is nothing to print")]
    flat = PdfWriter()
    flat.add_blank_page(width=100, height=100)
    flat.pages[0][NameObject("/MediaBox")] = ArrayObject([NumberObject(0)] * 4)
    flat.write(tmp_path / "flat.pdf")
    report = run(tmp_path / "flat.pdf", spec=None)
    assert not report.ok
    assert "page 1: artwork 'flat.pdf' has no page size (its MediaBox is 0 x 0 points)" in report.findings[0].message


def test_text_file_named_pdf(tmp_path: Path) -> None:
    pdf = tmp_path / "note.pdf"
    pdf.write_text("Hello world, this is not a PDF\n")
    assert messages(run(pdf)) == [
        ("open", "error", "artwork 'note.pdf' is not a PDF: the file starts with \"Hello worl\"")
    ]
    binary = tmp_path / "photo.pdf"
    binary.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(100))
    assert messages(run(binary)) == [
        ("open", "error", "artwork 'photo.pdf' is not a PDF: it is a JPEG image (it starts with \"??????JFIF\")")
    ]
    page = tmp_path / "page.pdf"
    page.write_text("\n<!DOCTYPE html><html>Not found</html>")
    assert messages(run(page))[0][2].startswith(
        "artwork 'page.pdf' is not a PDF: it looks like HTML or XML text, perhaps an error page saved instead"
    )
    lines = tmp_path / "lines.pdf"
    lines.write_bytes(b"a,b\r\n1,\t2\n")
    assert messages(run(lines)) == [
        ("open", "error", "artwork 'lines.pdf' is not a PDF: the file starts with \"a,b  1, 2 \"")
    ]


def test_a_zip_of_pdfs_stored_without_compression_is_not_a_pdf(tmp_path: Path) -> None:
    """Audit CD 1: a ZIP made with `zip -0` holds its PDFs' bytes as they are: it was read as a PDF
    "with bytes before its header", and with `repaired: warning` the last PDF in it printed."""
    import zipfile

    make_pdf(tmp_path / "a.pdf", pages=[(91.0, 61.0)] * 2)
    make_pdf(tmp_path / "b.pdf", pages=[(91.0, 61.0)] * 3)
    archive = tmp_path / "designs.pdf"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.write(tmp_path / "a.pdf", "design-A.pdf")
        zf.write(tmp_path / "b.pdf", "design-B.pdf")
    relaxed = ValidationConfig(checks={**V.checks, "repaired": "warning"})
    for validation in (V, relaxed):
        found = messages(run(archive, validation=validation))
        assert len(found) == 1 and found[0][:2] == ("open", "error"), found
        assert found[0][2].startswith(
            "artwork 'designs.pdf' is not a PDF: it is a ZIP file (also a Word, Excel or PowerPoint document)"
        ), found


def test_missing_file(tmp_path: Path) -> None:
    report = run(tmp_path / "gone.pdf")
    assert messages(report) == [("open", "error", "artwork 'gone.pdf' cannot be read: the file is missing")]
    assert report.artwork_sha256 == ("",)


def test_a_file_the_daemon_may_not_read_says_whose_it_is_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BS D6: a PDF uploaded with umask 077 by another account: "cannot be read: Permission
    denied", and the only fix offered was a corrected PDF, for a good one."""
    import errno
    import pwd
    import stat

    from spo_hotfolder import preflight as preflight_module

    path = tmp_path / "card.pdf"
    path.write_bytes(b"%PDF-1.4\n")
    path.chmod(0o600)

    def refused(_path: Any) -> str:
        raise PermissionError(errno.EACCES, "Permission denied", str(_path))

    monkeypatch.setattr(preflight_module, "_sha256", refused)
    [(_check, severity, message)] = messages(run(path))
    owner = pwd.getpwuid(path.stat().st_uid).pw_name
    assert severity == "error" and message == (
        f"artwork 'card.pdf' cannot be read: the daemon's user may not read it (Permission denied: it belongs to "
        f"{owner}, mode {stat.filemode(path.stat().st_mode)}, as an upload made with umask 077 is); have {owner} "
        "(or root) give the daemon's group read permission (chmod g+r) and drop RETRY, or put a readable copy into "
        "replace/"
    )


def test_unreadable_file_does_not_hide_findings_of_the_others(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"")
    good = make_pdf(tmp_path / "good.pdf", [(85, 55)], text_font="Helvetica")
    report = run(bad, good)
    assert [f.check for f in report.findings] == ["empty", "bleed", "fonts"]
    assert report.pages == 1  # the pages of the readable files; no page-count finding


def test_non_embedded_helvetica(tmp_path: Path) -> None:
    report = run(make_pdf(tmp_path / "text.pdf", [(91, 61)] * 2, text_font="Helvetica"))
    assert messages(report) == [
        (
            "fonts",
            "error",
            "pages 1-2: font Helvetica is not embedded; ask for a PDF with all fonts embedded (PDF/X)",
        )
    ]


def _font_pdf(path: Path, font: DictionaryObject, in_form: bool = False, use: bool = True) -> Path:
    """One 91 x 61 mm page using ``font`` directly or inside a Form XObject (``use=False``: the
    page lists the font but draws only a rectangle, as reportlab's pages list Helvetica)."""
    writer = PdfWriter()
    fonts = DictionaryObject({NameObject("/F1"): writer._add_object(font)})
    if in_form:
        form = _form_xobject(writer, b"BT /F1 12 Tf (x) Tj ET", DictionaryObject({NameObject("/Font"): fonts}))
        resources = DictionaryObject({NameObject("/XObject"): DictionaryObject({NameObject("/Fm1"): form})})
        content = b"q /Fm1 Do Q"
    else:
        resources = DictionaryObject({NameObject("/Font"): fonts})
        content = b"BT /F1 12 Tf (x) Tj ET" if use else b"0 0 10 10 re f"
    return _write_page(path, writer, resources, content)


def _form_xobject(writer: PdfWriter, data: bytes, resources: DictionaryObject | None = None) -> Any:
    """A 10 x 10 pt Form XObject drawing ``data``, added to ``writer``."""
    form = DecodedStreamObject()
    form.set_data(data)
    form.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Form"),
            NameObject("/BBox"): ArrayObject([NumberObject(0), NumberObject(0), NumberObject(10), NumberObject(10)]),
        }
    )
    if resources is not None:
        form[NameObject("/Resources")] = resources
    return writer._add_object(form)


def _write_page(path: Path, writer: PdfWriter, resources: DictionaryObject, content: bytes) -> Path:
    """``path``: one 91 x 61 mm page with ``resources`` and ``content``."""
    page = writer.add_blank_page(width=pt(91), height=pt(61))
    page[NameObject("/Resources")] = resources
    stream = DecodedStreamObject()
    stream.set_data(content)
    page[NameObject("/Contents")] = writer._add_object(stream)
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def _font(subtype: str, name: str, font_file: str | None) -> DictionaryObject:
    descriptor = DictionaryObject({NameObject("/Type"): NameObject("/FontDescriptor")})
    if font_file:
        file_stream = DecodedStreamObject()
        file_stream.set_data(b"\x00" * 16)
        descriptor[NameObject(font_file)] = file_stream
    return DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject(subtype),
            NameObject("/BaseFont"): NameObject(name),
            NameObject("/FontDescriptor"): descriptor,
        }
    )


def test_embedded_fonts_pass(tmp_path: Path) -> None:
    spec = ProductSpec(pattern="bc-*", trim_mm=(85, 55), bleed_mm=3)
    for kind in ("/FontFile", "/FontFile2", "/FontFile3"):
        pdf = _font_pdf(tmp_path / "f.pdf", _font("/TrueType", "/ABCDEF+Arial", kind))
        assert run(pdf, spec=spec).findings == ()
    type3 = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type3")})
    assert run(_font_pdf(tmp_path / "t3.pdf", type3), spec=spec).findings == ()


def test_type0_font_without_embedded_descendant_and_font_in_form(tmp_path: Path) -> None:
    spec = ProductSpec(pattern="bc-*", trim_mm=(85, 55), bleed_mm=3)
    type0 = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type0"),
            NameObject("/BaseFont"): NameObject("/ABCDEF+NotoSans"),
            NameObject("/DescendantFonts"): ArrayObject([_font("/CIDFontType2", "/ABCDEF+NotoSans", None)]),
        }
    )
    assert messages(run(_font_pdf(tmp_path / "t0.pdf", type0), spec=spec)) == [
        (
            "fonts",
            "error",
            "page 1: font NotoSans is not embedded; ask for a PDF with all fonts embedded (PDF/X)",
        )
    ]
    in_form = _font_pdf(tmp_path / "form.pdf", _font("/Type1", "/Times-Roman", None), in_form=True)
    assert messages(run(in_form, spec=spec)) == [
        (
            "fonts",
            "error",
            "page 1: font Times-Roman is not embedded; ask for a PDF with all fonts embedded (PDF/X)",
        )
    ]


def test_a_font_set_by_a_graphics_state_is_checked_as_one_set_by_tf(tmp_path: Path) -> None:
    """Audit CZ 2: `/GS1 gs` whose ExtGState has `/Font [ref 12]` sets the font as Tf does (ISO
    32000 8.4.5; mutool trace shows the text drawn in it): an unembedded Helvetica chosen so passed."""
    spec = ProductSpec(pattern="bc-*", trim_mm=(85, 55), bleed_mm=3)
    writer = PdfWriter()
    font = writer._add_object(_font("/Type1", "/Helvetica", None))
    state = DictionaryObject(
        {NameObject("/Type"): NameObject("/ExtGState"), NameObject("/Font"): ArrayObject([font, NumberObject(12)])}
    )
    resources = DictionaryObject({NameObject("/ExtGState"): DictionaryObject({NameObject("/GS1"): state})})
    pdf = _write_page(tmp_path / "gs.pdf", writer, resources, b"BT /GS1 gs 10 10 Td (Hello) Tj ET")
    assert messages(run(pdf, spec=spec)) == [
        ("fonts", "error", "page 1: font Helvetica is not embedded; ask for a PDF with all fonts embedded (PDF/X)")
    ]


def test_a_font_listed_but_never_used_is_not_counted(tmp_path: Path) -> None:
    """Audit U: a reportlab page drawing only a rectangle failed "font Helvetica is not embedded"."""
    spec = ProductSpec(pattern="bc-*", trim_mm=(85, 55), bleed_mm=3)
    listed = _font_pdf(tmp_path / "listed.pdf", _font("/Type1", "/Helvetica", None), use=False)
    assert run(listed, spec=spec).findings == ()
    used = _font_pdf(tmp_path / "used.pdf", _font("/Type1", "/Helvetica", None))
    assert [f.check for f in run(used, spec=spec).findings] == ["fonts"]


def _two_font_pdf(path: Path, content: bytes, form_content: bytes | None = None) -> Path:
    """One 91 x 61 mm page listing Helvetica (/F1, not embedded) and an embedded font (/F2), with
    ``content``; ``form_content``: a form /Fm1 it may draw, with no fonts of its own."""
    writer = PdfWriter()
    fonts = DictionaryObject(
        {
            NameObject("/F1"): writer._add_object(_font("/Type1", "/Helvetica", None)),
            NameObject("/F2"): writer._add_object(_font("/TrueType", "/ABCDEF+DejaVuSans", "/FontFile2")),
        }
    )
    resources = DictionaryObject({NameObject("/Font"): fonts})
    if form_content is not None:
        resources[NameObject("/XObject")] = DictionaryObject({NameObject("/Fm1"): _form_xobject(writer, form_content)})
    return _write_page(path, writer, resources, content)


#: How reportlab begins every page: Helvetica selected in a text object that shows nothing.
_REPORTLAB_START = b"1 0 0 1 0 0 cm  BT /F1 12 Tf 14.4 TL ET\n"


@pytest.mark.parametrize(
    ("content", "form", "counted"),
    [
        # reportlab's pages (corpus 013): the text in the embedded font, Helvetica never used
        (_REPORTLAB_START + b"BT 1 0 0 1 20 30 Tm /F2 9 Tf 10.8 TL (Name: Foo) Tj T* ET", None, False),
        (_REPORTLAB_START + b"0 0 10 10 re f BT /F2 9 Tf <4142> Tj ET /Fm1 Do", b"BT /F2 9 Tf (x) Tj ET", False),
        # text shown before a font of its own is selected: in Helvetica, still selected after ET
        (_REPORTLAB_START + b"BT 1 0 0 1 20 30 Tm (Name: Foo) Tj ET", None, True),
        (_REPORTLAB_START + b"BT /F2 9 Tf (a) Tj ET q /Fm1 Do Q", b"BT (x) Tj ET", True),
        # Helvetica also selected where text is shown
        (_REPORTLAB_START + b"BT /F2 9 Tf (a) Tj /F1 9 Tf (b) Tj ET", None, True),
    ],
    ids=["reportlab", "reportlab-form", "inherited", "inherited-in-form", "also-shown"],
)
def test_a_font_selected_only_where_nothing_is_shown_is_not_counted(
    tmp_path: Path, content: bytes, form: bytes | None, counted: bool
) -> None:
    """Real reportlab pages (corpus 013, a page drawing in an embedded TrueType font) failed "font
    Helvetica is not embedded": reportlab selects Helvetica at the start of every page, in a text
    object that shows nothing. Text shown without a font of its own (in the page, or in a form it
    draws) is in the font selected before it, which then counts."""
    spec = ProductSpec(pattern="bc-*", trim_mm=(85, 55), bleed_mm=3)
    findings = run(_two_font_pdf(tmp_path / "rl.pdf", content, form), spec=spec).findings
    expected = (
        [("fonts", "page 1: font Helvetica is not embedded; ask for a PDF with all fonts embedded (PDF/X)")]
        if counted
        else []
    )
    assert [(f.check, f.message) for f in findings] == expected


@pytest.mark.parametrize(
    ("content", "counted"),
    [
        (b"BT /F1 % the headline\n12 Tf 20 30 Td (Hello) Tj ET", True),  # a comment inside the selection
        (b"BT /F1 12 % size\nTf 20 30 Td (Hello) Tj ET", True),
        (_REPORTLAB_START + b"BT /F1 12 Tf % ET\n20 30 Td (Hello) Tj ET", True),  # ET in a comment
        (_REPORTLAB_START + b"BT /F1 12 Tf /ET BMC 20 30 Td (Hello) Tj EMC ET", True),  # ET as a name
        (_REPORTLAB_START + b"/BT BMC EMC BT /F1 12 Tf /BT BMC (Hello) Tj EMC ET", True),
        # read right, Helvetica shows nothing where the text is in the embedded font
        (_REPORTLAB_START + b"BT /F2 9 Tf 20 30 Td (100% recycled) Tj ET", False),
        (_REPORTLAB_START + b"BT /F2 9 Tf % not /F1 9 Tf (x) Tj\n(y) Tj ET", False),
        (_REPORTLAB_START + b"/ET BMC BT /F2 9 Tf (y) Tj ET EMC", False),
        (_REPORTLAB_START + b"q BI /W 2 /H 1 /BPC 8 /CS /G ID (%\xff EI Q BT /F2 9 Tf (y) Tj ET", False),
    ],
    ids=[
        "comment-in-tf",
        "comment-before-tf",
        "et-in-comment",
        "et-name",
        "bt-name",
        "percent-in-text",
        "tf-in-comment",
        "et-name-outside",
        "inline-image",
    ],
)
def test_comments_and_names_like_operators_do_not_hide_a_font_selection(
    tmp_path: Path, content: bytes, counted: bool
) -> None:
    """Audit DI 6: a comment between a font's name and its size (``/F1 % x``, newline, ``12 Tf``),
    or ``ET`` in a comment or as a name (``/ET BMC``) inside a text object, hid that the text is
    shown in the font selected: an unembedded Helvetica passed. Content holding a comment or such a
    name is read by its tokens (an inline image's data is no text)."""
    findings = _card_findings(_two_font_pdf(tmp_path / "c.pdf", content))
    assert findings == ([HELVETICA_ON_PAGE_1] if counted else [])


#: The finding of a card whose page 1 shows text in Helvetica, not embedded.
HELVETICA_ON_PAGE_1 = ("fonts", "page 1: font Helvetica is not embedded; ask for a PDF with all fonts embedded (PDF/X)")


def _card_findings(path: Path) -> list[tuple[str, str]]:
    """The (check, message) findings of ``path`` checked as an 85 x 55 mm card with 3 mm bleed."""
    spec = ProductSpec(pattern="bc-*", trim_mm=(85, 55), bleed_mm=3)
    return [(f.check, f.message) for f in run(path, spec=spec).findings]


@pytest.mark.parametrize(
    ("form", "counted"),
    [
        # ReportLab's doForm: the form begins as its pages do, Helvetica selected to show nothing
        (_REPORTLAB_START + b"BT 1 0 0 1 20 20 Tm /F2 10 Tf (TEXT IN FORM) Tj ET", False),
        (_REPORTLAB_START + b"BT 1 0 0 1 20 20 Tm (TEXT IN FORM) Tj ET", True),  # shown in Helvetica
        (b"BT /F2 10 Tf (a) Tj /F1 10 Tf (b) Tj ET", True),  # Helvetica shows text too
        (b"0 0 5 5 re f", False),  # listed, never selected
    ],
    ids=["reportlab-doform", "inherited", "also-shown", "listed-only"],
)
def test_a_form_s_own_font_selected_only_where_nothing_is_shown_is_not_counted(
    tmp_path: Path, form: bytes, counted: bool
) -> None:
    """Audit 12-05 C: a ReportLab PDF drawing its text in a form (``doForm``: logos, templates), all
    of it in an embedded font, failed "font Helvetica is not embedded": the rule for a font selected
    only where nothing is shown held for a page's content but not for a form's, with fonts of its
    own."""
    writer = PdfWriter()
    fonts = DictionaryObject(
        {
            NameObject("/F1"): writer._add_object(_font("/Type1", "/Helvetica", None)),
            NameObject("/F2"): writer._add_object(_font("/TrueType", "/ABCDEF+DejaVuSans", "/FontFile2")),
        }
    )
    form_ref = _form_xobject(writer, form, DictionaryObject({NameObject("/Font"): fonts}))
    resources = DictionaryObject({NameObject("/XObject"): DictionaryObject({NameObject("/Fm1"): form_ref})})
    path = _write_page(tmp_path / "rl-form.pdf", writer, resources, b"0 0 10 10 re f q /Fm1 Do Q")
    assert _card_findings(path) == ([HELVETICA_ON_PAGE_1] if counted else [])


@pytest.mark.parametrize(
    ("page", "outer", "counted"),
    [
        (b"q /Fm1 Do Q", None, True),  # the page draws the form
        (b"0 0 10 10 re f", None, False),  # it lists the form, never draws it (audit AU D2)
        (b"q /Fm#31 Do Q", None, True),  # a name written with an escape in the content
        (b"q /Fm2 Do Q", b"q /Fm1 Do Q", True),  # a form that draws the form
        (b"q /Fm2 Do Q", b"0 0 5 5 re f", False),  # a form that lists it only
    ],
    ids=["drawn", "listed-only", "escaped-name", "drawn-by-a-form", "listed-by-a-form"],
)
def test_a_font_in_a_form_counts_only_where_the_form_is_drawn(
    tmp_path: Path, page: bytes, outer: bytes | None, counted: bool
) -> None:
    """Audit AU D2: a form showing text in Helvetica (not embedded), listed in the resources of a
    page (or of two pages sharing one resource dictionary) that never draws it, failed "font
    Helvetica is not embedded", blamed on that page. README: a font counts in the forms a page
    draws; one only listed does not."""
    writer = PdfWriter()
    fonts = DictionaryObject({NameObject("/F1"): writer._add_object(_font("/Type1", "/Helvetica", None))})
    form = _form_xobject(writer, b"BT /F1 9 Tf (x) Tj ET", DictionaryObject({NameObject("/Font"): fonts}))
    xobjects = DictionaryObject({NameObject("/Fm1"): form})
    if outer is not None:
        outer_form = _form_xobject(writer, outer, DictionaryObject({NameObject("/XObject"): xobjects}))
        xobjects = DictionaryObject({NameObject("/Fm2"): outer_form})
    path = _write_page(tmp_path / "forms.pdf", writer, DictionaryObject({NameObject("/XObject"): xobjects}), page)
    assert _card_findings(path) == ([HELVETICA_ON_PAGE_1] if counted else [])


def test_a_font_inherited_by_a_form_counts_only_on_the_page_that_draws_the_form(tmp_path: Path) -> None:
    """Audit AX D5: two pages sharing resources (Helvetica, not embedded, and a form showing text
    in the font selected before it); page 1 draws the form, page 2 only selects Helvetica in a text
    object that shows nothing: "pages 1-2: font Helvetica is not embedded", page 2 wrongly."""
    writer = PdfWriter()
    fonts = DictionaryObject({NameObject("/F1"): writer._add_object(_font("/Type1", "/Helvetica", None))})
    form = _form_xobject(writer, b"BT (x) Tj ET")
    resources = writer._add_object(
        DictionaryObject(
            {NameObject("/Font"): fonts, NameObject("/XObject"): DictionaryObject({NameObject("/Fx"): form})}
        )
    )
    for content in (b"BT /F1 12 Tf ET q /Fx Do Q", b"BT /F1 12 Tf ET"):
        page = writer.add_blank_page(width=pt(91), height=pt(61))
        page[NameObject("/Resources")] = resources
        stream = DecodedStreamObject()
        stream.set_data(content)
        page[NameObject("/Contents")] = writer._add_object(stream)
    path = tmp_path / "inherit.pdf"
    with open(path, "wb") as fh:
        writer.write(fh)
    assert _card_findings(path) == [HELVETICA_ON_PAGE_1]


#: How Acrobat's "Recognize Text" lays its invisible text over a scanned page.
_OCR_LAYER = b"q 258 0 0 173 0 0 cm /Im0 Do Q BT 3 Tr /F1 9.5 Tf 1 0 0 1 20 30 Tm (Invoice 2026) Tj ET\n"


@pytest.mark.parametrize(
    ("content", "form", "counted"),
    [
        (_OCR_LAYER, None, False),
        (b"q 3 Tr BT /F1 9 Tf (a) Tj ET [(b) 120 (c)] TJ Q BT /F2 9 Tf (d) Tj ET", None, False),
        (_OCR_LAYER + b"BT /F1 9 Tf 0 Tr (seen) Tj ET", None, True),  # the same font, visible
        (b"q 3 Tr BT /F1 9 Tf (a) Tj ET Q BT (b) Tj ET", None, True),  # Q restores mode 0, font kept
        (b"BT /F1 9 Tf 3 Tr (a) Tj 1 Tr (b) Tj ET", None, True),  # 1: stroked, visible
        (b"BT /F1 9 Tf 3 Tr (a) Tj 0 Tr ET /Fm1 Do", b"BT (x) Tj ET", True),  # the form shows in F1
        (b"BT /F2 9 Tf (a) Tj ET /Fm1 Do", b"BT 3 Tr /F1 9 Tf (x) Tj ET", False),  # the OCR in a form
        (b"BT /F2 9 Tf (a) Tj ET /Fm1 Do", b"BT 3 Tr /F2 9 Tf (x) Tj 0 Tr /F1 9 Tf (y) Tj ET", True),
    ],
    ids=["ocr", "q-mode", "also-visible", "restored", "stroked", "form-inherits", "ocr-form", "form-visible"],
)
def test_a_font_showing_only_invisible_text_is_not_counted(
    tmp_path: Path, content: bytes, form: bytes | None, counted: bool
) -> None:
    """Audit (black-box PDFs): a scanned page with its OCR text layer (text rendering mode 3:
    invisible) in Helvetica, not embedded, failed "font Helvetica is not embedded", though that
    text prints nothing (PDF/A exempts such fonts too). Text the font shows in any other mode, or
    in a form drawn while it is selected, still counts."""
    spec = ProductSpec(pattern="bc-*", trim_mm=(85, 55), bleed_mm=3)
    if form is not None:
        writer = PdfWriter()
        helvetica = writer._add_object(_font("/Type1", "/Helvetica", None))
        embedded = writer._add_object(_font("/TrueType", "/ABCDEF+DejaVuSans", "/FontFile2"))
        fonts = DictionaryObject({NameObject("/F1"): helvetica, NameObject("/F2"): embedded})
        form_fonts = DictionaryObject({NameObject("/Font"): fonts}) if b"Tf" in form else None
        resources = DictionaryObject(
            {
                NameObject("/Font"): fonts,
                NameObject("/XObject"): DictionaryObject({NameObject("/Fm1"): _form_xobject(writer, form, form_fonts)}),
            }
        )
        path = _write_page(tmp_path / "ocr.pdf", writer, resources, content)
    else:
        path = _two_font_pdf(tmp_path / "ocr.pdf", content)
    findings = run(path, spec=spec).findings
    expected = (
        [("fonts", "page 1: font Helvetica is not embedded; ask for a PDF with all fonts embedded (PDF/X)")]
        if counted
        else []
    )
    assert [(f.check, f.message) for f in findings] == expected


@pytest.mark.parametrize(
    ("content", "visible"),
    [
        (b"BT /F1 9 Tf (no invisible text here) Tj ET", None),
        (b"BT 3 Tr /F1 9 Tf (0 Tr \\) /F2 9 Tf \\( Tj) Tj ET", set()),  # strings are text, not operators
        (b"BT 3 Tr /F1 9 Tf <30205472> Tj 0 Tr/F2 9 Tf[(a)]TJ ET", {"F2"}),  # no spaces around delimiters
        (b"BT 3 Tr /F1 9 Tf (a) Tj ET % 0 Tr /F2 9 Tf (b) Tj\nBT /F3 9 Tf 0 Tr (c) Tj ET", {"F3"}),
        (b"/Q 3 Tr BT /F1 9 Tf (a) Tj ET", set()),  # /Q is a name, not the operator Q
        (b"BT 3 Tr /F1 9 Tf (a (nested) b) Tj ET", None),  # not followed: every font counts
        (b"3 Tr BI /W 1 /H 1 /BPC 8 /CS /G ID \x00 EI BT /F1 9 Tf (a) Tj ET", None),
        (b"3 Tr BT (a) Tj ET 0 Tr BT (b) Tj ET", None),  # visible text before any font is selected
    ],
    ids=["none", "strings", "delimiters", "comment", "name", "nested", "inline-image", "no-font"],
)
def test_visible_text_is_told_from_invisible_in_content(content: bytes, visible: set[str] | None) -> None:
    from spo_hotfolder.preflight import _visibly_shown_fonts

    assert _visibly_shown_fonts(content, lambda: True) == visible


def _appearance(writer: PdfWriter, font: DictionaryObject) -> Any:
    form = DecodedStreamObject()
    form.set_data(b"BT /F1 9 Tf (note) Tj ET")
    form.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Form"),
            NameObject("/BBox"): ArrayObject([NumberObject(0), NumberObject(0), NumberObject(50), NumberObject(20)]),
            NameObject("/Resources"): DictionaryObject(
                {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
            ),
        }
    )
    return writer._add_object(form)


def test_fonts_in_printed_annotations_and_type3_glyphs_are_checked(tmp_path: Path) -> None:
    """Audit U: an unembedded font in a printed annotation's appearance, or in the resources of a
    Type3 font's glyphs, was not reported."""
    spec = ProductSpec(pattern="bc-*", trim_mm=(85, 55), bleed_mm=3)
    for flags, expected in ((4, ["fonts"]), (0, [])):  # 4: the annotation prints
        writer = PdfWriter()
        page = writer.add_blank_page(width=pt(91), height=pt(61))
        annot = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Annot"),
                NameObject("/Subtype"): NameObject("/FreeText"),
                NameObject("/Rect"): ArrayObject(
                    [NumberObject(0), NumberObject(0), NumberObject(50), NumberObject(20)]
                ),
                NameObject("/F"): NumberObject(flags),
                NameObject("/AP"): DictionaryObject(
                    {NameObject("/N"): _appearance(writer, _font("/TrueType", "/ComicSansMS", None))}
                ),
            }
        )
        page[NameObject("/Annots")] = ArrayObject([writer._add_object(annot)])
        path = tmp_path / f"annot{flags}.pdf"
        with open(path, "wb") as fh:
            writer.write(fh)
        assert [f.check for f in run(path, spec=spec).findings] == expected, flags
    glyph_font = _font("/TrueType", "/Arial-BoldMT", None)
    type3 = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type3"),
            NameObject("/Resources"): DictionaryObject(
                {NameObject("/Font"): DictionaryObject({NameObject("/G1"): glyph_font})}
            ),
        }
    )
    path = _font_pdf(tmp_path / "t3.pdf", type3)
    [finding] = run(path, spec=spec).findings
    assert "font Arial-BoldMT is not embedded" in finding.message


def _tiling_pattern(writer: PdfWriter, data: bytes, resources: DictionaryObject) -> Any:
    """A 10 x 10 pt coloured tiling pattern whose cell draws ``data``, added to ``writer``."""
    cell = DecodedStreamObject()
    cell.set_data(data)
    ten = ArrayObject([NumberObject(0), NumberObject(0), NumberObject(10), NumberObject(10)])
    cell.update(
        {
            NameObject("/Type"): NameObject("/Pattern"),
            NameObject("/PatternType"): NumberObject(1),
            NameObject("/PaintType"): NumberObject(1),
            NameObject("/TilingType"): NumberObject(1),
            NameObject("/BBox"): ten,
            NameObject("/XStep"): NumberObject(10),
            NameObject("/YStep"): NumberObject(10),
            NameObject("/Resources"): resources,
        }
    )
    return writer._add_object(cell)


@pytest.mark.parametrize("where", ["tiling pattern", "soft mask"])
def test_fonts_in_a_tiling_pattern_or_a_soft_mask_are_checked(tmp_path: Path, where: str) -> None:
    """Audit (black-box PDFs): a page filled with a tiling pattern whose cell shows a word in a
    non-embedded font passed preflight and was delivered: patterns were not looked into (nor soft
    masks, whose group may draw text too). The RIP substitutes the font in every tile."""
    spec = ProductSpec(pattern="bc-*", trim_mm=(85, 55), bleed_mm=3)
    for font, expected in (
        (_font("/TrueType", "/ComicSansMS", None), ["fonts"]),
        (_font("/TrueType", "/ABCDEF+Arial", "/FontFile2"), []),
    ):
        writer = PdfWriter()
        cell_resources = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
        )
        text = b"BT /F1 4 Tf 1 1 Td (SALE) Tj ET"
        if where == "tiling pattern":
            pattern = _tiling_pattern(writer, text, cell_resources)
            resources = DictionaryObject({NameObject("/Pattern"): DictionaryObject({NameObject("/P1"): pattern})})
            content = b"/Pattern cs /P1 scn 0 0 258 173 re f"
        else:
            group = _form_xobject(writer, text, cell_resources)
            mask = DictionaryObject({NameObject("/S"): NameObject("/Luminosity"), NameObject("/G"): group})
            state = DictionaryObject({NameObject("/Type"): NameObject("/ExtGState"), NameObject("/SMask"): mask})
            resources = DictionaryObject({NameObject("/ExtGState"): DictionaryObject({NameObject("/GS1"): state})})
            content = b"/GS1 gs 0 0 258 173 re f"
        path = _write_page(tmp_path / "p.pdf", writer, resources, content)
        findings = run(path, spec=spec).findings
        assert [f.check for f in findings] == expected, font
        if expected:
            assert findings[0].message.startswith("page 1: font ComicSansMS is not embedded"), findings[0].message


def test_decompression_bomb_is_not_decoded(tmp_path: Path) -> None:
    bomb = make_bomb_pdf(tmp_path / "bomb.pdf", inflated_bytes=4 * 1024**3)
    assert bomb.stat().st_size < 8 * 1024**2
    # The CPU time this process spent (~0.2 s; inflating the 4 GiB takes many seconds), not the
    # time on the clock: on a loaded machine that was 2-3 s for the same 0.2 s of work.
    started = time.process_time()
    report = run(bomb, spec=ProductSpec(pattern="bc-*", trim_mm=(85, 55)))
    assert time.process_time() - started < 2.0
    assert report.findings == ()
    assert report.pages == 1


def test_a_page_whose_content_does_not_decode_fails_and_says_which(tmp_path: Path) -> None:
    """Audit: a PDF whose page content stream was damaged (bytes changed on the way) passed
    preflight and was printed: pypdf decodes what it can of such a stream, and nothing else read it."""
    two = [(91.0, 61.0)] * 2
    corrupt = make_damaged_content_pdf(tmp_path / "corrupt.pdf", "corrupt", two, damaged_page=2)
    assert messages(run(corrupt)) == [
        (
            "repaired",
            "error",
            "artwork 'corrupt.pdf' is damaged: the content of page 2 (what is drawn on it) cannot be decoded (its "
            "compressed data is corrupt: invalid bit length repeat): the page would print incomplete or blank, or "
            "the RIP refuse the file (a file damaged on the way, or cut off); ask for the PDF again",
        )
    ]
    assert run(corrupt).findings[0].page == 2
    # Cut off: pypdf decodes the first half without a word.
    cut = make_damaged_content_pdf(tmp_path / "cut.pdf", "cut", two)
    assert messages(run(cut)) == [
        (
            "repaired",
            "error",
            "artwork 'cut.pdf' is damaged: the content of page 1 (what is drawn on it) is cut off (its compressed "
            "data ends before the content does): the page would print incomplete or blank, or the RIP refuse the "
            "file (a file damaged on the way, or cut off); ask for the PDF again",
        )
    ]
    # Complete data without its checksum: read by every reader, not damage.
    assert run(make_damaged_content_pdf(tmp_path / "nosum.pdf", "no-checksum", two)).findings == ()
    # validation.checks.repaired: warning lets it through, said as a warning.
    relaxed = ValidationConfig(checks={**V.checks, "repaired": "warning"})
    assert messages(run(corrupt, validation=relaxed)) == [
        (
            "repaired",
            "warning",
            "artwork 'corrupt.pdf' is damaged: the content of page 2 (what is drawn on it) cannot be decoded (its "
            "compressed data is corrupt: invalid bit length repeat): the page may print incomplete or blank; check "
            "the output before it prints",
        )
    ]


def test_content_that_decodes_to_garbage_with_a_wrong_checksum_fails(tmp_path: Path) -> None:
    """Audit C 9: data overwritten in the middle of a page's content may still decode, to garbage;
    only its checksum says so. A wrong checksum on content that reads as content passes (a
    producer's slip, which readers ignore)."""
    two = [(91.0, 61.0)] * 2
    garbled = make_damaged_content_pdf(tmp_path / "garbled.pdf", "garbled", two, damaged_page=2)
    assert messages(run(garbled)) == [
        (
            "repaired",
            "error",
            "artwork 'garbled.pdf' is damaged: the content of page 2 (what is drawn on it) cannot be decoded (its "
            "compressed data is corrupt: its checksum is wrong, and it decodes to no valid content): the page would "
            "print incomplete or blank, or the RIP refuse the file (a file damaged on the way, or cut off); ask for "
            "the PDF again",
        )
    ]
    assert run(make_damaged_content_pdf(tmp_path / "sum.pdf", "bad-sum", two, damaged_page=2)).findings == ()


@pytest.mark.parametrize("encoding", ["a85", "ahx"])
def test_content_damage_under_ascii_text_is_found_too(tmp_path: Path, encoding: str) -> None:
    """Audit C 1: ReportLab writes its content as ASCII85 text around Flate data; damaged, it was
    delivered with most of its text gone (only Flate on its own was checked)."""
    two = [(91.0, 61.0)] * 2
    for damage, said in (("cut", "is cut off (its compressed data ends"), ("corrupt", "cannot be decoded (its")):
        pdf = make_damaged_content_pdf(tmp_path / f"{damage}.pdf", damage, two, damaged_page=2, encoding=encoding)
        [finding] = run(pdf).findings
        assert (finding.check, finding.severity, finding.page) == ("repaired", "error", 2)
        assert f"the content of page 2 (what is drawn on it) {said}" in finding.message, finding.message
    whole = make_damaged_content_pdf(tmp_path / "ok.pdf", "no-checksum", two, encoding=encoding)
    assert run(whole).findings == ()
    # The text itself cut off (no end marker) or spoilt (a character no such text has).
    data = whole.read_bytes()
    end, blank = (b"~>", b"  ") if encoding == "a85" else (b">\nendstream", b" \nendstream")  # same length
    cut = tmp_path / "cut-text.pdf"
    cut.write_bytes(data.replace(end, blank, 1))
    [finding] = run(cut).findings
    assert "the content of page 1 (what is drawn on it) is cut off (its" in finding.message, finding.message


@pytest.mark.parametrize(
    ("what", "said"),
    [
        ({"image": "cut"}, "its image Im0 is cut off (its compressed data ends before the content does)"),
        (
            {"image": "short-bad-sum"},
            "its image Im0 cannot be decoded (its compressed data is corrupt: it decodes to 2,496 bytes where 3,120 "
            "are needed, and its checksum is wrong)",
        ),
        (
            {"font": "cut"},
            "its embedded font Arial-BoldMT is cut off (its compressed data ends before the content does)",
        ),
        (
            {"font": "short-bad-sum"},
            "its embedded font Arial-BoldMT cannot be decoded (its compressed data is corrupt: it decodes to 8,192 "
            "bytes where 10,240 are needed, and its checksum is wrong)",
        ),
        ({"form": "cut"}, "its form Fm0 is cut off (its compressed data ends before the content does)"),
        ({"pattern": "cut"}, "its pattern P0 is cut off (its compressed data ends before the content does)"),
        (
            {"profile": "cut"},
            "its image Im0 (its colour profile) is cut off (its compressed data ends before the content does)",
        ),
    ],
)
def test_a_damaged_image_font_or_form_fails_and_says_which(tmp_path: Path, what: dict[str, str], said: str) -> None:
    """Audit C 9: a PDF whose font or image was overwritten in the middle (or cut off) passed
    preflight and printed wrong: only page content was checked. A font shared by three pages is
    one finding for the three."""
    pdf = make_resource_pdf(tmp_path / "art.pdf", pages=3, **what)
    assert_damaged(pdf, f"pages 1-3: {said}")
    off = ValidationConfig(checks={**V.checks, "repaired": "off"})
    assert run(pdf, spec=None, validation=off).findings == ()


@pytest.mark.parametrize("damage", ["", "bad-sum", "adobe-sum", "short"])
def test_data_readers_take_is_not_damage(tmp_path: Path, damage: str) -> None:
    """A wrong or cut checksum after data of the right size (some producers write it so; Adobe's
    drops a last 0x00 byte), or complete data of a wrong size with its right checksum, passes: what
    a reader decodes is what was written."""
    pdf = make_resource_pdf(
        tmp_path / "art.pdf", image=damage, font=damage, form=damage if damage != "short" else "", profile=damage
    )
    assert run(pdf, spec=None).findings == ()


_JPEG_CUT = "is cut short (its JPEG data ends before its end marker: it prints with a grey or missing part)"


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (PROGRESSIVE_JPEG[:-40], _JPEG_CUT),  # cut in its last scan
        (PROGRESSIVE_JPEG[:300], _JPEG_CUT),  # cut in its first scans
        (PROGRESSIVE_JPEG[:-2], _JPEG_CUT),  # all but its end marker
        (PROGRESSIVE_JPEG[:150], "cannot be decoded (its JPEG data is cut short before the image data begins)"),
        (
            bytes(len(PROGRESSIVE_JPEG)),  # overwritten with zeros, as a file never written there
            "cannot be decoded (its data is not JPEG data, which its filter DCTDecode says it is)",
        ),
    ],
)
def test_a_jpeg_image_cut_short_fails_and_says_so(tmp_path: Path, data: bytes, said: str) -> None:
    """Audit C 9: JPEG images were never looked at, and a photo cut short (an upload cut off on its
    way into the PDF) printed with a grey or missing part. Ghostscript draws such a file without a
    word; mutool warns. The page's image is now followed to its end marker."""
    assert_damaged(make_jpeg_pdf(tmp_path / "photo.pdf", data, pages=2), f"pages 1-2: its image Im0 {said}")


@pytest.mark.parametrize(
    "data",
    [
        PROGRESSIVE_JPEG,
        PROGRESSIVE_JPEG + b"\r\n",  # an end of line after the data, inside the stream's length
        PROGRESSIVE_JPEG + b"ftypmp42" + bytes(5000),  # a "motion photo": a video after the image
        b"\n" + PROGRESSIVE_JPEG,  # an end of line before it (readers skip it)
    ],
)
def test_whole_jpeg_images_pass(tmp_path: Path, data: bytes) -> None:
    assert run(make_jpeg_pdf(tmp_path / "photo.pdf", data), spec=None).findings == ()


def test_jpeg_markers_are_told_from_the_bytes_of_image_data() -> None:
    """In a scan's data, 0xFF is followed by a stuffed 0x00, or is a restart marker (RST0-7), or is
    fill before a marker: none of these ends the scan; the end marker after fill bytes does."""
    from spo_hotfolder.preflight import _jpeg_damage

    head = b"\xff\xd8" + b"\xff\xdb\x00\x04\x01\x02" + b"\xff\xda\x00\x03\x01"  # SOI, a table, SOS
    scan = b"\x12\xff\x00\x34\xff\xd0\x56\xff\xd7\xff\x00"
    assert _jpeg_damage(head + scan + b"\xff\xff\xff\xd9") is None
    assert _jpeg_damage(head + scan + b"\xff\xff") is not None  # fill, then nothing
    assert _jpeg_damage(head + scan + b"\xff\xc4\x00\x03\x00" + b"\xff\xda\x00\x03\x02" + scan + b"\xff\xd9") is None
    assert _jpeg_damage(head[:-3]) == "cannot be decoded (its JPEG data is cut short before the image data begins)"


def test_uncompressed_images_are_not_loaded_to_be_checked(tmp_path: Path) -> None:
    from pypdf import PdfReader

    from spo_hotfolder.preflight import _ResourceChecker

    pdf = make_resource_pdf(tmp_path / "art.pdf", raw_image_bytes=4 * 1024 * 1024)
    reader = PdfReader(pdf)
    page = reader.pages[0]
    xobjects = page["/Resources"]["/XObject"]  # type: ignore[index]
    raw, flate = xobjects.raw_get("/Im1"), xobjects.raw_get("/Im0")
    assert _ResourceChecker(reader).page(page) is None
    loaded = set(reader.resolved_objects)
    assert (raw.generation, raw.idnum) not in loaded
    assert (flate.generation, flate.idnum) not in loaded  # checked, then let go of


def test_a_structure_the_damage_check_cannot_follow_is_not_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check of images, fonts and forms is one of data: where it cannot follow the file (here:
    it raises), it finds nothing, and the file is not refused as unreadable for it."""
    from spo_hotfolder import preflight as module

    def cannot(self: object, resources: object, depth: int) -> None:
        raise KeyError("/Unexpected")

    pdf = make_resource_pdf(tmp_path / "art.pdf", font="cut")
    assert run(pdf, spec=None).findings != ()
    monkeypatch.setattr(module._ResourceChecker, "_resources", cannot)
    assert run(pdf, spec=None).findings == ()


def test_a_damaged_font_in_a_real_pdf_is_found(tmp_path: Path) -> None:
    """LibreOffice's PDF with 1 KiB in the middle overwritten (in its embedded font): delivered
    before, now failed."""
    from tests.daemon import CORPUS

    source = CORPUS / "002-trivial-libre-office-writer_002-trivial-libre-office-writer.pdf"
    if not source.exists():
        pytest.skip("the shared PDF corpus is not beside the project")
    data = source.read_bytes()
    at = len(data) * 3 // 10
    pdf = tmp_path / "lo.pdf"
    pdf.write_bytes(data[:at] + bytes((i * 97 + 13) % 256 for i in range(1024)) + data[at + 1024 :])
    [finding] = run(pdf, spec=None).findings
    assert (finding.check, finding.severity, finding.page) == ("repaired", "error", 1)
    assert finding.message.startswith("artwork 'lo.pdf' is damaged: page 1: its embedded font DejaVuSans "), (
        finding.message
    )


def test_a_content_stream_written_inside_the_pages_contents_list_fails(tmp_path: Path) -> None:
    """Audit C 4: a page whose /Contents array held a stream itself (not a reference: a PDF may not)
    was delivered on its own (Ghostscript: "page not found") and failed with Python's words merged."""
    writer = PdfWriter()
    for _ in range(2):
        page = writer.add_blank_page(width=pt(91), height=pt(61))
        stream = DecodedStreamObject()
        stream.set_data(b"0 0 1 rg 10 10 50 50 re f")
        page[NameObject("/Contents")] = ArrayObject([stream])  # not added as an object of its own
    pdf = tmp_path / "inline.pdf"
    writer.write(pdf)
    assert b"[<<" in pdf.read_bytes().replace(b" ", b"")  # written inside the list, as the audit's file
    assert messages(run(pdf)) == [
        (
            "open",
            "error",
            "pages 1-2: artwork 'inline.pdf' is damaged: its content is a stream written inside the page's /Contents "
            "list, where a PDF may only refer to one (the program that saved it wrote it wrong): RIPs and viewers "
            "do not find the page; ask for the PDF exported again",
        )
    ]


def test_content_damaged_on_several_pages_is_one_finding(tmp_path: Path) -> None:
    a = make_damaged_content_pdf(tmp_path / "a.pdf", "cut", [(91.0, 61.0)] * 3, damaged_page=1)
    b = make_damaged_content_pdf(tmp_path / "b.pdf", "cut", [(91.0, 61.0)] * 3, damaged_page=3)
    report = run(a, b, spec=None)
    assert [(f.file, f.page) for f in report.findings] == [("a.pdf", 1), ("b.pdf", 6)]
    # The output's page and the file's own (audit AY D1: "page 6" of a 3-page b.pdf sent the
    # operator to the wrong page, or to none).
    assert "the content of page 1 (what is drawn on it) is cut off" in report.findings[0].message
    assert "the content of page 6 (page 3 of its file; what is drawn on it) is cut off" in report.findings[1].message
    both = run(make_damaged_content_pdf(tmp_path / "c.pdf", "cut", [(91.0, 61.0)] * 3, damaged_page=0), spec=None)
    assert both.findings == ()  # (page 0: none damaged)


def test_sha256_mismatch(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 2)
    actual = hashlib.sha256(pdf.read_bytes()).hexdigest()
    wrong = actual[:10] + ("0" if actual[10] != "0" else "1") + actual[11:]  # alike in their first 8 characters
    report = preflight([ArtworkInput("bc.pdf", str(pdf), wrong)], "bc-85x55", BC, V)
    assert messages(report) == [
        (
            "sha256",
            "error",
            f"artwork 'bc.pdf': its sha256 is {actual}, but the manifest says {wrong}: the file is not the one the "
            "order describes (a different or damaged upload)",
        )
    ]
    report = preflight([ArtworkInput("bc.pdf", str(pdf), actual.upper())], "bc-85x55", BC, V)
    assert report.findings == ()


@pytest.mark.parametrize("severity", ["warning", "off"])
def test_configured_severities_are_honoured(tmp_path: Path, severity: str) -> None:
    pdf = make_pdf(tmp_path / "a4.pdf", [(210, 297)] * 3, text_font="Helvetica", encrypt_owner="x")
    checks = {name: severity for name in ("pages", "trim", "bleed", "fonts", "mixed_sizes", "encryption")}
    report = run(pdf, validation=ValidationConfig(checks=checks))  # type: ignore[arg-type]
    assert report.ok
    if severity == "off":
        assert report.findings == ()
        assert report.summary() == "passed"
    else:
        assert [(f.check, f.severity) for f in report.findings] == [
            ("encryption", "warning"),
            ("pages", "warning"),
            ("trim", "warning"),
            ("fonts", "warning"),
        ]
        assert report.summary().startswith("passed with 4 warnings: artwork 'a4.pdf' is protected")


def test_require_embedded_fonts_false_turns_the_font_check_off(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "text.pdf", [(91, 61)] * 2, text_font="Helvetica")
    assert run(pdf, validation=ValidationConfig(require_embedded_fonts=False)).findings == ()


def test_tolerance_is_configurable(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "bc.pdf", [(93, 63)] * 2)
    assert run(pdf).findings[0].message == (
        "pages 1-2: the page is 93.0 x 63.0 mm and has no TrimBox: product bc-85x55 expects the trim, "
        "85.0 x 55.0 mm, or the trim with 3.0 mm bleed, 91.0 x 61.0 mm (tolerance 1.0 mm)"
    )
    assert run(pdf, validation=ValidationConfig(size_tolerance_mm=2.0)).findings == ()


def test_user_unit_is_applied(tmp_path: Path) -> None:
    assert run(make_pdf(tmp_path / "uu.pdf", [(91, 61)] * 2, user_unit=2.0)).findings == ()


@pytest.mark.parametrize("unit", [0.0, -2.0])
def test_an_invalid_user_unit_fails_the_file(tmp_path: Path, unit: float) -> None:
    """Audit C 3: /UserUnit 0 was measured as 1 and delivered; Ghostscript cannot size such a page."""
    pdf = make_pdf(tmp_path / "uu.pdf", [(91, 61)] * 2, user_unit=unit)
    assert messages(run(pdf)) == [
        (
            "open",
            "error",
            f"page 1: artwork 'uu.pdf' has an invalid /UserUnit ({unit:g}): the unit of a page's sizes must be a "
            "positive number, and RIPs (Ghostscript among them) cannot size or print this page; ask for the PDF "
            "exported again",
        )
    ]


def test_a_crop_box_that_cuts_into_the_trim_is_said_as_such(tmp_path: Path) -> None:
    """Audit C 5: a file with its bleed, cropped into its trim by a CropBox, was told "no bleed"."""
    pdf = make_pdf(tmp_path / "crop.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58), bleedbox=(0, 0, 91, 61))
    writer = PdfWriter(clone_from=pdf)
    for page in writer.pages:
        page[NameObject("/CropBox")] = RectangleObject([pt(10), pt(3), pt(81), pt(58)])
    writer.write(pdf)
    [finding] = run(pdf).findings
    assert (finding.check, finding.severity) == ("bleed", "error")
    assert finding.message == (
        "pages 1-2: the page (its CropBox) cuts into the trim (at the left, right): it is 71.0 x 55.0 mm, the "
        "trim (TrimBox) 85.0 x 55.0 mm, so a RIP prints part of the page cut away; ask for the PDF exported "
        "again without that crop (product bc-85x55 needs 3.0 mm bleed on each side of the trim, 91.0 x 61.0 mm)"
    )


def test_a_crop_box_that_cuts_into_the_trim_fails_a_product_without_bleed_too(tmp_path: Path) -> None:
    """Audit CZ 3: the same crop, for a product without bleed: it passed (and printed cut), the
    cut being said only where the bleed was checked."""
    pdf = make_pdf(tmp_path / "crop.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58))
    writer = PdfWriter(clone_from=pdf)
    for page in writer.pages:
        page[NameObject("/CropBox")] = RectangleObject([pt(10), pt(10), pt(81), pt(51)])
    writer.write(pdf)
    no_bleed = ProductSpec(pattern="bc-*", trim_mm=(85, 55), pages=2)
    [finding] = run(pdf, spec=no_bleed).findings
    assert (finding.check, finding.severity) == ("trim", "error")
    assert finding.message == (
        "pages 1-2: the page (its CropBox) cuts into the trim (on every side): it is 71.0 x 41.0 mm, the trim "
        "(TrimBox) 85.0 x 55.0 mm, so a RIP prints part of the page cut away; ask for the PDF exported again "
        "without that crop"
    )
    whole = make_pdf(tmp_path / "whole.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58))
    assert run(whole, spec=no_bleed).findings == ()


def test_report_text_and_json(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "a4.pdf", [(210, 297)] * 3, text_font="Helvetica", encrypt_owner="x")
    report = run(pdf)
    assert report.to_text() == (
        "Preflight failed: 3 problems and 1 warning (3 pages, trim 210.0 x 297.0 mm).\n"
        "ERROR: the output has 3 pages, product bc-85x55 expects 2\n"
        "ERROR: pages 1-3: the page is 210.0 x 297.0 mm and has no TrimBox: product bc-85x55 expects the "
        "trim, 85.0 x 55.0 mm, or the trim with 3.0 mm bleed, 91.0 x 61.0 mm (tolerance 1.0 mm)\n"
        "ERROR: pages 1-3: font Helvetica is not embedded; ask for a PDF with all fonts embedded (PDF/X)\n"
        "WARNING: artwork 'a4.pdf' is protected by an owner password (editing restrictions; printing is "
        "allowed); it was opened without one\n"
    )
    assert report.summary().startswith("3 problems (and 1 warning): the output has 3 pages")
    data = report.to_json()
    assert data["ok"] is False
    assert data["pages"] == 3
    assert data["trim_mm"] == [210.0, 297.0]
    assert data["findings"][0] == {
        "check": "pages",
        "severity": "error",
        "message": "the output has 3 pages, product bc-85x55 expects 2",
        "file": None,
        "page": None,
    }
    assert len(report.errors()) == 3
    assert len(report.warnings()) == 1


def test_summary_is_one_bounded_line() -> None:
    findings = tuple(Finding("trim", "error", f"page {n}: trim is wrong") for n in range(1, 200))
    report = PreflightReport(findings=findings, pages=199, artwork_sha256=("x",), trim_mm=None)
    line = report.summary()
    assert "\n" not in line
    assert len(line) <= 500
    assert line.startswith("199 problems: page 1: trim is wrong; page 2:")


def test_the_fix_in_error_txt_fits_the_checks_that_failed() -> None:
    """Only a failure of the product's expectations can be fixed by changing them in the config."""
    from spo_hotfolder.engine.processing import _preflight_fix

    assert "change the product's expectations" in _preflight_fix({"trim", "bleed"})
    for failed in ({"sha256"}, {"open"}, {"empty"}, {"trim", "open"}):
        assert "expectations" not in _preflight_fix(failed), failed
        assert _preflight_fix(failed).startswith("Put a corrected PDF into replace/")
    assert "validation.checks.fonts" in _preflight_fix({"fonts"})
    assert "without a password" in _preflight_fix({"encryption"})
    assert "set validation.checks.repaired to warning" in _preflight_fix({"repaired"})
    assert all(_preflight_fix(f).endswith("or drop REJECT to stop the job.") for f in ({"pages"}, {"fonts"}, set()))


def test_mixed_sizes_alone_points_at_its_check_not_at_product_expectations() -> None:
    from spo_hotfolder.engine.processing import _preflight_fix

    fix = _preflight_fix({"mixed_sizes"})
    assert "validation.checks.mixed_sizes to warning" in fix and "expectations" not in fix
    assert "change the product's expectations" in _preflight_fix({"trim", "mixed_sizes"})
    # A check that did not finish (a killed worker; audit AF): RETRY is offered beside a corrected PDF.
    assert _preflight_fix({"open"}, check_again=True) == (
        "Put a corrected PDF into replace/, or drop RETRY here to check it again, or drop REJECT to stop the job."
    )
    # Not for a file that could not be read: it fails the same way again, and STATUS.txt says RETRY
    # is not for a bad PDF (audit AZ 8).
    assert _preflight_fix({"open"}) == "Put a corrected PDF into replace/, or drop REJECT to stop the job."


def test_retry_is_offered_for_a_check_that_did_not_finish_only(tmp_path: Path) -> None:
    from spo_hotfolder.engine.processing import _check_cut_short

    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Pages /Kids [5 0 R] >> endobj\ntrailer << >>\n%%EOF\n")
    [finding] = [f for f in run(damaged).findings if f.check == "open"]
    assert not _check_cut_short(finding.message), finding.message
    # What the worker says (pinned by tests/integration/test_output.py's worker tests).
    for message in (
        "the PDF check did not finish within 0.5 s (the file may be damaged or extremely complex)",
        "the PDF check ran out of memory (more than 1.0 GiB); the file may be damaged or extremely complex",
        "the PDF checker crashed: its process ended unexpectedly (exit code 3)",
        "the PDF check crashed: its process was killed (signal 9), by the system when the machine ran short",
    ):
        assert _check_cut_short(message), message


def test_a_size_just_beyond_the_tolerance_says_by_how_much(tmp_path: Path) -> None:
    """86.01 mm shown as "86.0" with a 1.0 mm tolerance reads as inside it: the message says how far off."""
    pdf = make_pdf(tmp_path / "bc.pdf", [(92.01, 61)] * 2, trimbox=(3, 3, 89.01, 58))
    assert run(pdf).findings[0].message == (
        "pages 1-2: trim (its TrimBox) is 86.0 x 55.0 mm, product bc-85x55 expects 85.0 x 55.0 mm: 1.01 mm off, "
        "more than the tolerance of 1.0 mm"
    )


def test_a_page_without_trimbox_just_beyond_the_tolerance_says_by_how_much(tmp_path: Path) -> None:
    """Audit AU D1: a 92.02 x 61 mm page (no TrimBox) read "the page is 92.0 x 61.0 mm ... expects
    ... 91.0 x 61.0 mm (tolerance 1.0 mm)": 1.0 mm off with a 1.0 mm tolerance, and a 92.01 mm
    page, shown alike, passed."""
    pdf = make_pdf(tmp_path / "bc.pdf", [(92.02, 61)] * 2)
    assert run(pdf).findings[0].message == (
        "pages 1-2: the page is 92.0 x 61.0 mm and has no TrimBox: product bc-85x55 expects the trim, 85.0 x 55.0 "
        "mm, or the trim with 3.0 mm bleed, 91.0 x 61.0 mm: 1.02 mm off the nearer of the two, more than the "
        "tolerance of 1.0 mm"
    )
    far = make_pdf(tmp_path / "a4.pdf", [(210, 297)] * 2)
    assert run(far).findings[0].message.endswith("91.0 x 61.0 mm (tolerance 1.0 mm)")


def test_a_trimbox_that_holds_the_bleed_is_said_as_such(tmp_path: Path) -> None:
    """Audit AC: ghostscript's -dPDFX sets TrimBox = MediaBox = trim + bleed; the message gave the
    sizes only, not where the size came from or the likely cause. Audit BI 3: it named a
    ghostscript option that does not mend it."""
    pdf = make_pdf(tmp_path / "bc.pdf", [(91, 61)] * 2, trimbox=(0, 0, 91, 61))
    assert run(pdf).findings[0].message == (
        "pages 1-2: trim (its TrimBox) is 91.0 x 61.0 mm, product bc-85x55 expects 85.0 x 55.0 mm: the TrimBox is "
        "the trim with its 3.0 mm bleed; it must be the trim itself (set the trim and the bleed in the PDF export's "
        "bleed settings, e.g. InDesign's Marks and Bleeds; ghostscript's -dPDFX makes the TrimBox the whole page)"
    )


def test_a_finding_names_its_artwork_file_when_the_job_has_several(tmp_path: Path) -> None:
    front = make_pdf(tmp_path / "front.pdf", [(91, 61)])
    back = make_pdf(tmp_path / "back.pdf", [(210, 297)])
    report = run(front, back)
    assert report.described(report.findings[0]).endswith("(artwork 'back.pdf')")
    single = run(back)
    assert "artwork" not in single.described(single.findings[0])


def test_a_repaired_pdf_is_described_in_plain_words(tmp_path: Path) -> None:
    """Audit AC: pypdf's own texts ("incorrect startxref pointer(1)", "invalid pdf header:
    b'JUNKJ'") reached ERROR.txt."""
    data = make_pdf(tmp_path / "ok.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58)).read_bytes()
    (tmp_path / "junk.pdf").write_bytes(b"JUNKJUNK" + data)
    cut = data.rindex(b"startxref")
    (tmp_path / "sx.pdf").write_bytes(data[:cut] + b"startxref\n1\n%%EOF\n")
    assert messages(run(tmp_path / "junk.pdf"))[0][2].startswith(
        "artwork 'junk.pdf' is damaged (there are bytes before its PDF header): it could be read only by repairing"
    )
    assert messages(run(tmp_path / "sx.pdf"))[0][2].startswith(
        "artwork 'sx.pdf' is damaged (its pointer to the cross-reference table (startxref) is wrong): it could"
    )


def test_a_page_tree_that_miscounts_its_pages_is_damage(tmp_path: Path) -> None:
    """Audit Q: /Count 1000000000 over one page passed, and the file was delivered as it was: a
    RIP that believes /Count may print blank pages, stop, or refuse it. Said as damage (the check
    `repaired`): an error by default; relaxed, a warning, and the output is written anew."""
    data = make_pdf(tmp_path / "ok.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58)).read_bytes()
    assert data.count(b"/Count 2") == 1
    (tmp_path / "lie.pdf").write_bytes(data.replace(b"/Count 2", b"/Count 9"))  # (same length: offsets hold)
    report = run(tmp_path / "lie.pdf")
    assert report.pages == 2
    assert messages(report) == [
        (
            "repaired",
            "error",
            "artwork 'lie.pdf' is damaged (its page tree says it has 9 pages (/Count), and it holds 2): it could "
            "be read only by repairing it, so what was read may not be what was sent (a file still being written "
            "when it was taken, or damaged on the way)",
        )
    ]
    relaxed = ValidationConfig(checks={**V.checks, "repaired": "warning"})
    assert [(f.check, f.severity) for f in run(tmp_path / "lie.pdf", validation=relaxed).findings] == [
        ("repaired", "warning")
    ]
    assert run(tmp_path / "ok.pdf").findings == ()


@pytest.mark.parametrize("tail", [b"\n%%EOF\n", b"\r\n%%EOF\r\n%%EOF\r\n", b"%%EOF"])
def test_further_eof_markers_after_the_last_revision_are_not_damage(tmp_path: Path, tail: bytes) -> None:
    """Audit BC 6: some producers end a PDF with more than one %%EOF marker (pypdf #4008: it skips
    them, the file read is the whole file). That failed preflight as "damaged (its end marker
    (%%EOF) is missing or misplaced)"; a marker that is really missing still fails."""
    data = make_pdf(tmp_path / "ok.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58)).read_bytes()
    (tmp_path / "twice.pdf").write_bytes(data + tail)
    report = run(tmp_path / "twice.pdf")
    assert (report.ok, messages(report), report.pages) == (True, [], 2)
    (tmp_path / "none.pdf").write_bytes(data[: data.rindex(b"%%EOF")])
    assert messages(run(tmp_path / "none.pdf"))[0][2].startswith("artwork 'none.pdf' is damaged and cannot be read")


def test_a_linearized_pdf_cut_after_its_first_page_and_a_file_of_zeros_say_they_are_unfinished(
    tmp_path: Path,
) -> None:
    """Audit BF 1, 2: "damaged and cannot be read: Cannot find Root object" (after 3,728 warnings of
    the PDF reader) and "not a PDF: the file starts with '??????'" said nothing of an upload that
    was not finished."""
    whole = make_pdf(tmp_path / "card.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58)).read_bytes()
    linearized = b"%PDF-1.5\n1 0 obj\n<< /Linearized 1 /L 98765 /H [ 9 9 ] /O 3 /E 400 /N 1 /T 900 >>\nendobj\n"
    cut = linearized + b"trailer\n<< >>\nstartxref\n9\n%%EOF\n"
    (tmp_path / "cut.pdf").write_bytes(cut)
    (tmp_path / "zeros.pdf").write_bytes(bytes(len(whole)))
    assert messages(run(tmp_path / "cut.pdf")) == [
        (
            "incomplete",
            "error",
            f"artwork 'cut.pdf' is incomplete: it is {len(cut)} bytes, and its first bytes say the whole "
            "file is 98,765 bytes (a linearized PDF, cut off at the end marker after its first page: an upload that "
            "stopped, or paused and went on as another file). Ask for the file again",
        )
    ]
    assert messages(run(tmp_path / "zeros.pdf")) == [
        (
            "incomplete",
            "error",
            "artwork 'zeros.pdf' is not a PDF: it starts with zero bytes, where a PDF has its header: most likely "
            "an upload that was not finished (a copy sets the file's size first and writes its data after), ask "
            "for the file again",
        )
    ]


def test_the_fix_for_a_pdf_failing_both_its_size_and_its_fonts_names_both() -> None:
    """Audit DF 3: wrong size and a font not embedded: "How to fix it" spoke of the fonts only
    (embed them, or set validation.checks.fonts to warning), which leaves the size failing."""
    from spo_hotfolder.engine.processing import _preflight_fix

    fix = _preflight_fix({"trim", "fonts"})
    assert "meets the product's expectations with its fonts embedded" in fix
    assert "change the product's expectations in the config (products:)" in fix
    assert "validation.checks.fonts to warning" in fix
    assert "expectations" not in _preflight_fix({"fonts"})


def _helvetica_page(
    tmp_path: Path, name: str, build: Callable[[PdfWriter, Any], tuple[DictionaryObject, bytes]]
) -> Path:
    """A 91 x 61 mm page whose resources and content ``build`` makes, given the writer and an
    unembedded Helvetica (added to it)."""
    writer = PdfWriter()
    helvetica = writer._add_object(_font("/Type1", "/Helvetica", None))
    resources, content = build(writer, helvetica)
    return _write_page(tmp_path / name, writer, resources, content)


def _stream(data: bytes, **entries: Any) -> DecodedStreamObject:
    made = DecodedStreamObject()
    made.set_data(data)
    made.update({NameObject(f"/{key}"): value for key, value in entries.items()})
    return made


def test_a_form_without_resources_of_its_own_shows_text_in_the_page_s_font(tmp_path: Path) -> None:
    """Audit DI 1: a form without /Resources draws with its page's: the page's content selected no
    font, the form did (`/F1 14 Tf`), and the unembedded F1 passed as "listed, never used"."""

    def build(writer: PdfWriter, font: Any) -> tuple[DictionaryObject, bytes]:
        form = _form_xobject(writer, b"BT /F1 14 Tf 10 10 Td (Hello) Tj ET")
        resources = DictionaryObject(
            {
                NameObject("/Font"): DictionaryObject({NameObject("/F1"): font}),
                NameObject("/XObject"): DictionaryObject({NameObject("/Fm1"): form}),
            }
        )
        return resources, b"q 1 0 0 1 0 0 cm /Fm1 Do Q"

    assert _card_findings(_helvetica_page(tmp_path, "form.pdf", build)) == [HELVETICA_ON_PAGE_1]


def test_a_type3_font_without_resources_whose_glyph_shows_text_in_the_page_s_font(tmp_path: Path) -> None:
    """Audit DI 2: a Type3 glyph's procedure showing text in the page's F1, the font having no
    /Resources of its own: it passed."""

    def build(writer: PdfWriter, font: Any) -> tuple[DictionaryObject, bytes]:
        glyph = writer._add_object(_stream(b"1000 0 d0 BT /F1 400 Tf (Hello) Tj ET"))
        type3 = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type3"),
                NameObject("/FontMatrix"): ArrayObject(
                    [
                        FloatObject(0.001),
                        NumberObject(0),
                        NumberObject(0),
                        FloatObject(0.001),
                        NumberObject(0),
                        NumberObject(0),
                    ]
                ),
                NameObject("/FontBBox"): ArrayObject([NumberObject(0)] * 4),
                NameObject("/CharProcs"): DictionaryObject({NameObject("/a"): glyph}),
                NameObject("/Encoding"): DictionaryObject(
                    {NameObject("/Differences"): ArrayObject([NumberObject(97), NameObject("/a")])}
                ),
                NameObject("/FirstChar"): NumberObject(97),
                NameObject("/LastChar"): NumberObject(97),
                NameObject("/Widths"): ArrayObject([NumberObject(1000)]),
            }
        )
        fonts = DictionaryObject({NameObject("/T3"): writer._add_object(type3), NameObject("/F1"): font})
        return DictionaryObject({NameObject("/Font"): fonts}), b"BT /T3 12 Tf 10 10 Td (a) Tj ET"

    assert _card_findings(_helvetica_page(tmp_path, "t3.pdf", build)) == [HELVETICA_ON_PAGE_1]


def test_a_font_in_forms_nested_ten_deep_is_found(tmp_path: Path) -> None:
    """Audit DI 3: forms nested more than 8 deep were not searched: their unembedded font passed."""

    def build(writer: PdfWriter, font: Any) -> tuple[DictionaryObject, bytes]:
        inner = _form_xobject(
            writer,
            b"BT /F1 14 Tf (Hello) Tj ET",
            DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}),
        )
        for _ in range(9):
            inner = _form_xobject(
                writer,
                b"/Fm1 Do",
                DictionaryObject({NameObject("/XObject"): DictionaryObject({NameObject("/Fm1"): inner})}),
            )
        return DictionaryObject({NameObject("/XObject"): DictionaryObject({NameObject("/Fm1"): inner})}), b"/Fm1 Do"

    assert _card_findings(_helvetica_page(tmp_path, "deep.pdf", build)) == [HELVETICA_ON_PAGE_1]


def test_a_font_whose_program_is_empty_or_missing_is_not_embedded(tmp_path: Path) -> None:
    """Audit DI 4: a /FontFile2 of 0 bytes, or naming an object the file does not have, counted as
    embedded (mutool and gs then substitute another font)."""
    font = _font("/TrueType", "/ABCDEF+Frutiger-Bold", "/FontFile2")
    font["/FontDescriptor"][NameObject("/FontFile2")].set_data(b"")
    assert _card_findings(_font_pdf(tmp_path / "empty.pdf", font)) == [
        ("fonts", "page 1: font Frutiger-Bold is not embedded; ask for a PDF with all fonts embedded (PDF/X)")
    ]
    missing = _font("/TrueType", "/ABCDEF+Frutiger-Bold", None)
    missing["/FontDescriptor"][NameObject("/FontFile2")] = IndirectObject(9999, 0, PdfWriter())
    assert (  # (beside what else pypdf says of the reference to nothing)
        "fonts",
        "page 1: font Frutiger-Bold is not embedded; ask for a PDF with all fonts embedded (PDF/X)",
    ) in _card_findings(_font_pdf(tmp_path / "missing.pdf", missing))


def test_a_printed_annotation_whose_appearance_has_no_subtype_is_searched(tmp_path: Path) -> None:
    """Audit DI 5: an appearance stream (/AP /N) without /Subtype /Form was taken for a dictionary
    of states, and its unembedded font passed."""

    def build(writer: PdfWriter, font: Any) -> tuple[DictionaryObject, bytes]:
        return DictionaryObject(), b"0 0 10 10 re f"

    path = _helvetica_page(tmp_path, "annot.pdf", build)
    writer = PdfWriter(clone_from=path)
    helvetica = writer._add_object(_font("/Type1", "/Helvetica", None))
    appearance = _stream(
        b"BT /F1 10 Tf 2 2 Td (Annot text) Tj ET",
        BBox=ArrayObject([NumberObject(0), NumberObject(0), NumberObject(100), NumberObject(20)]),
        Resources=DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): helvetica})}),
    )
    annot = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/FreeText"),
            NameObject("/Rect"): ArrayObject([NumberObject(10), NumberObject(10), NumberObject(110), NumberObject(30)]),
            NameObject("/F"): NumberObject(4),
            NameObject("/AP"): DictionaryObject({NameObject("/N"): writer._add_object(appearance)}),
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(annot)])
    writer.write(path)
    assert _card_findings(path) == [HELVETICA_ON_PAGE_1]


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        (
            "/TrimBox",
            ArrayObject([NumberObject(0), NumberObject(0), NameObject("/A"), NumberObject(5)]),
            "[0 0 /A 5]",
        ),
        ("/BleedBox", ArrayObject([NumberObject(0)] * 5), "[0 0 0 0 0]"),
    ],
)
def test_a_box_that_is_not_four_numbers_is_refused(tmp_path: Path, key: str, value: Any, shown: str) -> None:
    """Audit DI 7: `/TrimBox null` (or not four numbers) was taken as no TrimBox, and the output,
    which adds boxes only where there are none, kept it: the page went to the printer uncut."""
    pdf = make_pdf(tmp_path / "box.pdf", [(91, 61)] * 2)
    writer = PdfWriter(clone_from=pdf)
    writer.pages[0][NameObject(key)] = value
    writer.write(pdf)
    [finding] = run(pdf).findings
    assert finding.severity == "error"
    assert f"page 1: artwork 'box.pdf' has a {key[1:]} that is not four numbers (it is {shown})" in finding.message


def test_a_crop_box_off_the_page_is_refused(tmp_path: Path) -> None:
    """Audit DI 9: a CropBox entirely off the MediaBox was taken as no CropBox; viewers and RIPs
    showed nothing, or another size."""
    pdf = make_pdf(tmp_path / "crop.pdf", [(91, 61)] * 2)
    writer = PdfWriter(clone_from=pdf)
    writer.pages[0][NameObject("/CropBox")] = RectangleObject([1000, 1000, 1258, 1173])
    writer.write(pdf)
    [finding] = run(pdf).findings
    assert (
        finding.severity == "error" and "has its CropBox" in finding.message and "outside the page" in finding.message
    )


def test_the_side_short_of_bleed_is_named_as_the_turned_page_shows_it(tmp_path: Path) -> None:
    """Audit CZ 4: a page turned by /Rotate 90, short of bleed on its MediaBox's right side, was
    said "bleed right 2.0 mm"; a viewer shows that edge at the bottom, where the operator looks."""
    pdf = make_pdf(tmp_path / "turned.pdf", [(60, 91)] * 2, trimbox=(3, 3, 58, 88), rotate=90)
    [finding] = run(pdf).findings
    assert finding.check == "bleed" and "(bleed bottom 2.0 mm)" in finding.message


def test_a_type3_font_without_resources_lends_nothing_its_glyphs_do_not_select(tmp_path: Path) -> None:
    """Audit DJ 4 (of DI 2's mend): a Type3 font without /Resources (embedded by definition, and
    often so) made every font its page lists count: ReportLab's idle Helvetica was refused."""

    def build(writer: PdfWriter, font: Any) -> tuple[DictionaryObject, bytes]:
        glyph = writer._add_object(_stream(b"1000 0 d0 0 0 500 500 re f"))
        type3 = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type3"),
                NameObject("/CharProcs"): DictionaryObject({NameObject("/a"): glyph}),
            }
        )
        fonts = DictionaryObject({NameObject("/T3"): writer._add_object(type3), NameObject("/F1"): font})
        return DictionaryObject({NameObject("/Font"): fonts}), b"BT /F1 12 Tf 14.4 TL ET BT /T3 12 Tf (a) Tj ET"

    assert _card_findings(_helvetica_page(tmp_path, "t3idle.pdf", build)) == []


@pytest.mark.parametrize("key", ["/CropBox", "/TrimBox"])
def test_a_box_that_is_null_is_no_box(tmp_path: Path, key: str) -> None:
    """Audit DJ 6: a box of null is no entry at all (ISO 32000 7.3.9), as viewers and RIPs take it:
    `/CropBox null` was refused as "not four numbers" by DI 7's mend; a TrimBox of null is replaced
    in the output by the trim the page has (DI 7: kept, the page went out uncut)."""
    from spo_hotfolder.output import check

    pdf = make_pdf(tmp_path / "null.pdf", [(91, 61)] * 2)
    writer = PdfWriter(clone_from=pdf)
    writer.pages[0][NameObject(key)] = NullObject()
    writer.write(pdf)
    assert run(pdf).findings == ()
    report, as_is = check([ArtworkInput(pdf.name, str(pdf))], "bc-85x55", BC, V)
    assert report.findings == () and not as_is  # (the boxes added: a TrimBox on each page)


def test_a_percent_sign_in_text_has_no_content_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """White-box audit DR 1 (of DI 6's mend): every '%' in a page's content, in a string too
    ("(Save 50%) Tj"), had the whole content parsed again with pypdf's content parser: a map's pages
    of a few MiB of line drawing took 20 times as long to check. Only a comment outside strings (or
    a string it cannot follow) has it parsed, and a page's content once for both checks."""
    import spo_hotfolder.preflight as preflight_module

    parsed: list[int] = []
    real = preflight_module.ContentStream

    def content_stream(stream: Any, pdf: Any) -> Any:
        parsed.append(len(stream.get_data()))
        return real(stream, pdf)

    monkeypatch.setattr(preflight_module, "ContentStream", content_stream)
    drawing = b"0 0 m 100 100 l 50 20 l h S\n" * 2000
    text = _two_font_pdf(tmp_path / "t.pdf", _REPORTLAB_START + drawing + b"BT /F2 9 Tf 20 30 Td (Save 50%) Tj ET")
    assert _card_findings(text) == [] and parsed == []
    comment = _two_font_pdf(tmp_path / "c.pdf", _REPORTLAB_START + drawing + b"BT /F1 % x\n9 Tf 20 30 Td (a) Tj ET")
    assert _card_findings(comment) == [HELVETICA_ON_PAGE_1] and len(parsed) == 1


def _one_page(page: bytes = b"/Type /Page", pages: bytes = b"/Type /Pages", length: bytes = b"") -> list[bytes]:
    """A one-page 91 x 61 mm PDF's objects: catalog, page tree, page, its content (a blue square)."""
    draw = b"0 0 1 rg 10 10 100 100 re f"
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< %s /Count 1 /Kids [3 0 R] >>" % pages,
        b"<< %s /Parent 2 0 R /MediaBox [0 0 257.95 172.91] /Contents 4 0 R >>" % page,
        b"<< /Length %s >>" % (length or str(len(draw)).encode()),
    ]


def test_startxref_and_its_offset_on_one_line_is_no_damage(tmp_path: Path) -> None:
    """Review ED D1: "startxref 303" on one line (pypdf warns, and reads the offset as written; gs
    and mutool open the file) was refused as "damaged (its pointer to the cross-reference table
    (startxref) is wrong)"."""
    pdf = make_pdf(tmp_path / "card.pdf", [(91, 61)] * 2, trimbox=(3, 3, 88, 58), bleedbox=(0, 0, 91, 61))
    pdf.write_bytes(re.sub(rb"startxref\s+(\d+)", rb"startxref \1", pdf.read_bytes()))
    assert b"startxref " in pdf.read_bytes()
    assert run(pdf).findings == ()


@pytest.mark.parametrize(
    ("objects", "damage"),
    [
        ({"page": b"/Typ_ /Page"}, "a page of its page tree has no /Type /Page: a RIP may find no page there"),
        ({"pages": b"/Typ_ /Pages"}, "a node of its page tree has no /Type /Pages: a RIP may find no page in it"),
        ({"length": b"9 0 R"}, "some of its objects are not where its cross-reference table says"),
    ],
)
def test_a_page_tree_without_its_types_or_a_length_in_no_object_is_damage(
    tmp_path: Path, objects: dict[str, bytes], damage: str
) -> None:
    """Review ED D2, D3: a page (or a node of pages) without its /Type passed, and Ghostscript found no
    page and printed nothing (exit 0); uncompressed content whose /Length is a reference to an object
    that is not there passed (never looked up), and Ghostscript printed the page blank."""
    draw = b"0 0 1 rg 10 10 100 100 re f"
    pdf = make_raw_pdf(tmp_path / "x.pdf", _one_page(**objects), streams={4: draw})
    [finding] = run(pdf, spec=None).findings
    assert (finding.check, finding.severity) == ("repaired", "error")
    assert finding.message.startswith(f"artwork 'x.pdf' is damaged ({damage}): it could be read only by repairing"), (
        finding.message
    )
    sound = make_raw_pdf(tmp_path / "sound.pdf", _one_page(), streams={4: draw})
    assert run(sound, spec=None).findings == ()


_DRAW = b"0 0 1 rg 10 10 100 100 re f"


def _page_with(page: bytes = b"", pages: bytes = b"/Count 1", content: bytes = b"", media: bytes = b"") -> list[bytes]:
    """``_one_page``'s objects, its page's MediaBox (``media``), extra keys, page tree's /Count and
    content stream's dictionary as given."""
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages %s /Kids [3 0 R] >>" % pages,
        b"<< /Type /Page /Parent 2 0 R /MediaBox %s /Contents 4 0 R %s >>" % (media or b"[0 0 257.95 172.91]", page),
        b"<< /Length %d %s >>" % (len(_DRAW), content),
    ]


@pytest.mark.parametrize(
    ("objects", "says"),
    [
        # FQ 1: numbers written as strings (Python's float() takes "(595)", RIPs take no number)
        (_page_with(media=b"[(0) (0) (257.95) (172.91)]"), "has no page size (MediaBox missing or invalid)"),
        (_page_with(media=b"[0 0 (257.95) 172.91]"), "has no page size (MediaBox missing or invalid)"),
        (_page_with(page=b"/TrimBox [(8.5) (8.5) (249.45) (164.41)]"), "has a TrimBox that is not four numbers"),
        # FQ 2: a page count that is no integer: Ghostscript opens no page
        (_page_with(pages=b"/Count 2.5"), "its page tree says it has 2.5 pages (/Count), and it holds 1"),
        (_page_with(pages=b"/Count /One"), "its page tree's page count (/Count) is not a number (it is /One)"),
        (_page_with(pages=b""), "its page tree does not say how many pages it has (no /Count)"),
        # FQ 4: content no reader decodes, or no content stream at all
        (_page_with(content=b"/Filter /NoSuchDecode"), "it is encoded with /NoSuchDecode, which is no PDF filter"),
        (_page_with(content=b"/Filter /LZWDecode"), "cannot be decoded (its LZW data"),
        # FQ 5: a page no RIP sets up (352 m)
        (_page_with(media=b"[0 0 1000000 842]"), "has a page size no RIP prints: 352.8 x 0.3 m"),
    ],
)
def test_page_numbers_counts_and_content_readers_do_not_take_are_refused(
    tmp_path: Path, objects: list[bytes], says: str
) -> None:
    """Review FQ 1, 2, 4, 5: each of these passed and was copied into the hot folder as it was,
    while Ghostscript printed the page at another size (a TrimBox of strings: an A4 sheet for an A5
    order), nothing, or a blank page; pypdf read them (as numbers, by walking the tree, or by not
    decoding the content)."""
    pdf = make_raw_pdf(tmp_path / "x.pdf", objects, streams={4: _DRAW})
    report = run(pdf, spec=None)
    assert not report.ok and any(says in f.message for f in report.findings), messages(report)


def test_a_page_whose_contents_is_no_stream_is_damaged(tmp_path: Path) -> None:
    """Review FQ 4: /Contents 42 (a number where the content stream goes) passed; Ghostscript
    draws nothing of the page. A page without /Contents (or null) is a blank page, and passes."""
    objects = _page_with()
    objects[2] = objects[2].replace(b"/Contents 4 0 R", b"/Contents 42")
    report = run(make_raw_pdf(tmp_path / "x.pdf", objects, streams={4: _DRAW}), spec=None)
    assert [(f.check, f.severity) for f in report.findings] == [("repaired", "error")], messages(report)
    assert "its /Contents is no content stream but 42" in report.findings[0].message
    for blank in (b"", b"/Contents null"):
        objects[2] = _page_with()[2].replace(b"/Contents 4 0 R", blank)
        assert run(make_raw_pdf(tmp_path / "blank.pdf", objects, streams={4: _DRAW}), spec=None).findings == ()


def test_page_numbers_written_as_numbers_pass(tmp_path: Path) -> None:
    """(the other side of FQ 1, 2, 4, 5: reals and integers, a /Count of 1.0, a page of 5 m, content
    encoded with LZW pass)"""
    objects = _page_with(page=b"/TrimBox [8.5 8.5 249.45 164.41] /Rotate 90.0", pages=b"/Count 1.0")
    assert run(make_raw_pdf(tmp_path / "x.pdf", objects, streams={4: _DRAW}), spec=None).findings == ()
    wide = _page_with(media=b"[0 0 14173.2 2834.6]")
    assert run(make_raw_pdf(tmp_path / "wide.pdf", wide, streams={4: _DRAW}), spec=None).findings == ()
    lzw = lzw_encode((_DRAW + b"\n") * 200)
    old = _page_with(content=b"/Filter /LZWDecode")
    old[3] = old[3].replace(b"/Length %d" % len(_DRAW), b"/Length %d" % len(lzw))
    assert run(make_raw_pdf(tmp_path / "lzw.pdf", old, streams={4: lzw}), spec=None).findings == ()


def test_an_encryption_revision_no_reader_knows_is_refused(tmp_path: Path) -> None:
    """Review FQ 3: an owner-password AES-256 file (/R 6) with its /R made 7-9 passed with the owner
    password's warning (pypdf opens it as 6); Ghostscript and qpdf know no such revision, and open
    no page."""
    writer = PdfWriter()
    writer.add_blank_page(width=pt(91), height=pt(61))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-256")  # noqa: S106 - a test file's
    with open(tmp_path / "r6.pdf", "wb") as fh:
        writer.write(fh)
    data = (tmp_path / "r6.pdf").read_bytes()
    assert data.count(b"/R 6") == 1
    assert [f.check for f in run(tmp_path / "r6.pdf", spec=None).findings] == ["encryption"]  # (a warning)
    (tmp_path / "r9.pdf").write_bytes(data.replace(b"/R 6", b"/R 9"))
    report = run(tmp_path / "r9.pdf", spec=None)
    assert not report.ok and any(
        "a revision of password security no PDF reader knows (/R 9)" in f.message for f in report.findings
    ), messages(report)


def test_an_embedded_font_that_decompresses_far_past_its_size_is_a_bomb(tmp_path: Path) -> None:
    """Review FQ 6: a TrueType program of /Length1 100 that inflates to 1 GiB of zeros passed (the
    check stops at its limit and took that as complete); Ghostscript loads a font whole, and took
    1 GB to print the page."""
    bomb = bomb_stream_data(16 * 1024 * 1024)
    show = b"BT /F1 12 Tf 10 10 Td (x) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 257.95 172.91] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>" % len(show),
        b"<< /Type /Font /Subtype /TrueType /BaseFont /ABCDEF+Bomb /FontDescriptor 6 0 R >>",
        b"<< /Type /FontDescriptor /FontName /ABCDEF+Bomb /FontFile2 7 0 R >>",
        b"<< /Length %d /Length1 100 /Filter /FlateDecode >>" % len(bomb),
    ]
    report = run(make_raw_pdf(tmp_path / "bomb.pdf", objects, streams={4: show, 7: bomb}), spec=None)
    damaged = [f for f in report.findings if f.check == "repaired"]
    assert (
        damaged and "decompresses to more than 1,048,676 bytes where its dictionary says 100" in damaged[0].message
    ), messages(report)


@pytest.mark.parametrize("filters", [b"/LZW", b"[/AHx /LZW]", b"/Fl"])
def test_content_under_abbreviated_filter_names_is_read_as_readers_read_it(tmp_path: Path, filters: bytes) -> None:
    """Review GL 1: content whose /Filter abbreviates its names (/LZW; /Fl with a wrong checksum),
    which Ghostscript draws, was said corrupt: pypdf 7 refuses to decode abbreviations in a stream.
    Data corrupt under them is still found."""
    good = (_DRAW + b"\n") * 40
    if filters == b"/Fl":
        packed = zlib.compress(good)
        data, bad = packed[:-4] + b"\x11" * 4, packed[: len(packed) // 2]  # a wrong checksum; cut off
    else:
        data = lzw_encode(good)
        bad = data[:20] + bytes(b ^ 0x5A for b in data[20:60]) + data[60:]
        if filters.startswith(b"[/AHx"):
            data, bad = data.hex().encode() + b">", bad.hex().encode() + b">"
    for name, stream, passes in (("good", data, True), ("bad", bad, False)):
        objects = _page_with(content=b"/Filter " + filters)
        objects[3] = objects[3].replace(b"/Length %d" % len(_DRAW), b"/Length %d" % len(stream))
        report = run(make_raw_pdf(tmp_path / f"{name}.pdf", objects, streams={4: stream}), spec=None)
        assert report.ok is passes and (report.findings == ()) is passes, messages(report)


def test_lzw_content_with_decode_parameters_is_taken_as_it_is(tmp_path: Path) -> None:
    """Review FS 1 (of FQ 4's mend): LZW content with /DecodeParms (a PNG predictor, or EarlyChange
    0), which ISO 32000 7.4.4 allows and qpdf and Ghostscript decode, was said corrupt: pypdf's LZW
    decoder applies neither. Such a stream is not decoded by the check: taken as it is."""
    columns = 64
    raw = (_DRAW + b"\n") * 40
    raw += b" " * (-len(raw) % columns)
    rows, previous = [], bytes(columns)
    for at in range(0, len(raw), columns):
        row = raw[at : at + columns]
        rows.append(b"\x02" + bytes((a - b) % 256 for a, b in zip(row, previous, strict=True)))  # PNG "Up"
        previous = row
    data = lzw_encode(b"".join(rows))
    objects = _page_with(content=b"/Filter /LZWDecode /DecodeParms << /Predictor 12 /Columns %d >>" % columns)
    objects[3] = objects[3].replace(b"/Length %d" % len(_DRAW), b"/Length %d" % len(data))
    assert run(make_raw_pdf(tmp_path / "up.pdf", objects, streams={4: data}), spec=None).findings == ()
    early = _page_with(content=b"/Filter /LZWDecode /DecodeParms << /EarlyChange 0 >>")
    plain = lzw_encode((_DRAW + b"\n") * 40)
    early[3] = early[3].replace(b"/Length %d" % len(_DRAW), b"/Length %d" % len(plain))
    assert run(make_raw_pdf(tmp_path / "early.pdf", early, streams={4: plain}), spec=None).findings == ()
