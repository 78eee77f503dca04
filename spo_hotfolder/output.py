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

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass

from pypdf import PdfReader, PdfWriter
from pypdf.generic import FloatObject, NameObject, RectangleObject

from spo_hotfolder.config import ProductSpec, ValidationConfig
from spo_hotfolder.outputfile import OutputError, OutputResult, publish_output
from spo_hotfolder.pdfreport import ArtworkInput, ArtworkProblem, PreflightReport, describe_exception, quote_name
from spo_hotfolder.preflight import (
    MM_PER_PT,
    REPAIRED,
    count_pages,
    open_artwork,
    pdf_limits,
    preflight,
    pypdf_warnings,
    read_box_pt,
    user_unit,
)


@dataclass(frozen=True, slots=True)
class _BoxFix:
    page_index: int  # within its artwork file
    trim: tuple[float, float, float, float]  # PDF units
    bleed: tuple[float, float, float, float] | None


def _matches(w: float, h: float, tw: float, th: float, tol: float) -> bool:
    tol += 1e-6
    return (abs(w - tw) <= tol and abs(h - th) <= tol) or (abs(w - th) <= tol and abs(h - tw) <= tol)


def _box_fixes(reader: PdfReader, spec: ProductSpec | None, tolerance_mm: float) -> list[_BoxFix]:
    """Pages without a TrimBox whose MediaBox is the product's trim (+ 2 x bleed): the boxes to add."""
    if spec is None or spec.trim_mm is None or not spec.bleed_mm or spec.bleed_mm <= 0:
        return []
    trim_w, trim_h = spec.trim_mm
    bleed_mm = float(spec.bleed_mm)
    fixes: list[_BoxFix] = []
    for index, page in enumerate(reader.pages):
        if "/TrimBox" in page or "/BleedBox" in page:
            continue
        media = read_box_pt(page, "/MediaBox")
        if media is None:
            continue
        to_mm = user_unit(page) * MM_PER_PT
        width, height = (media[2] - media[0]) * to_mm, (media[3] - media[1]) * to_mm
        if _matches(width, height, trim_w + 2 * bleed_mm, trim_h + 2 * bleed_mm, tolerance_mm):
            d = bleed_mm / to_mm
            fixes.append(_BoxFix(index, (media[0] + d, media[1] + d, media[2] - d, media[3] - d), media))
        elif _matches(width, height, trim_w, trim_h, tolerance_mm):
            fixes.append(_BoxFix(index, media, None))
    return fixes


def _rect(box: tuple[float, float, float, float]) -> RectangleObject:
    return RectangleObject([FloatObject(round(v, 4)) for v in box])


def build_output(
    artwork: Sequence[ArtworkInput],
    dest: str,
    spec: ProductSpec | None,
    validation: ValidationConfig,
) -> OutputResult:
    """Writes the print-ready PDF to ``dest`` atomically; raises OutputError with a plain message.

    The temp file (".<name>.<random>.tmp" in dest's folder) is removed on every error.
    """
    if not artwork:
        raise OutputError("there is no artwork to make the output from")
    with pdf_limits(), ExitStack() as stack:
        readers: list[PdfReader] = []
        fixes: list[list[_BoxFix]] = []
        pages = 0
        damaged = False  # mended by pypdf while read: written anew, never passed on as it is
        for art in artwork:
            try:
                fh = stack.enter_context(open(art.path, "rb"))
            except FileNotFoundError as exc:
                missing = f"artwork {quote_name(art.name)} cannot be read: the file is missing"
                raise OutputError(missing) from exc
            except OSError as exc:
                reason = exc.strerror or describe_exception(exc)
                raise OutputError(f"artwork {quote_name(art.name)} cannot be read: {reason}") from None
            try:
                with pypdf_warnings() as repairs:
                    reader, _owner_protected = open_artwork(art.name, fh)
                    pages += count_pages(art.name, reader)
                    fixes.append(_box_fixes(reader, spec, float(validation.size_tolerance_mm)))
                damaged = damaged or bool(repairs)
            except ArtworkProblem as problem:
                raise OutputError(str(problem)) from None
            except (MemoryError, OutputError):
                raise
            except Exception as exc:
                raise OutputError(
                    f"artwork {quote_name(art.name)} is damaged and cannot be read: {describe_exception(exc)}"
                ) from exc
            readers.append(reader)

        copy = len(artwork) == 1 and not fixes[0] and not damaged
        if copy:
            size, digest = publish_output(dest, artwork[0], None)
        else:
            size, digest = publish_output(dest, None, lambda fd: _write_merged(readers, fixes, fd, artwork))
    return OutputResult(path=dest, pages=pages, size_bytes=size, sha256=digest, copied_unchanged=copy)


def is_print_ready_as_is(
    artwork: Sequence[ArtworkInput], spec: ProductSpec | None, validation: ValidationConfig
) -> bool:
    """True when the output is the one artwork file as it is (its pages need no boxes added)."""
    if len(artwork) != 1:
        return False
    try:
        with pdf_limits(), open(artwork[0].path, "rb") as fh:
            reader, _owner_protected = open_artwork(artwork[0].name, fh)
            return not _box_fixes(reader, spec, float(validation.size_tolerance_mm))
    except Exception:  # noqa: BLE001 - then build_output decides, and explains any problem
        return False


def check(
    artwork: Sequence[ArtworkInput], product_name: str, spec: ProductSpec | None, validation: ValidationConfig
) -> tuple[PreflightReport, bool]:
    """Preflight, and whether the output is then the artwork as it is (see ``link_unchanged``): one
    worker call instead of two for the common job."""
    report = preflight(artwork, product_name, spec, validation)
    repaired = any(f.check == REPAIRED for f in report.findings)
    return report, report.ok and not repaired and is_print_ready_as_is(artwork, spec, validation)


def _write_merged(
    readers: Sequence[PdfReader], fixes: Sequence[Sequence[_BoxFix]], fd: int, artwork: Sequence[ArtworkInput]
) -> None:
    """Appends every reader to a PdfWriter, adds the boxes, writes to ``fd`` (left open)."""
    writer = PdfWriter()
    offset = 0
    for reader, art, file_fixes in zip(readers, artwork, fixes, strict=True):
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
    with open(fd, "wb", closefd=False) as out:
        try:
            writer.write(out)
        except (MemoryError, OSError):
            raise
        except Exception as exc:
            raise OutputError(f"the output PDF could not be written: {describe_exception(exc)}") from exc
        out.flush()
