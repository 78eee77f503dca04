"""Output: the artwork files -> one print-ready PDF, published atomically.

One artwork file whose page boxes are fine is used as it is: the output is a hard link to the
artwork file (no copy, no second read: a 1 GiB file costs nothing here; a byte copy with sendfile
where the filesystem has no hard links). Several files, or a file whose pages need a
TrimBox/BleedBox so that the RIP positions them right, are merged/rewritten with pypdf's
``PdfWriter`` (which holds the objects in memory: run it in ``pdfwork.PdfWorker``). Streams are
copied as they are, never decoded.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from pypdf.generic import FloatObject, NameObject, RectangleObject

from spo_hotfolder.config import ProductSpec, ValidationConfig
from spo_hotfolder.fsutil import fsync_dir
from spo_hotfolder.preflight import (
    MM_PER_PT,
    ArtworkInput,
    ArtworkProblem,
    PreflightReport,
    count_pages,
    describe_exception,
    open_artwork,
    pdf_limits,
    preflight,
    quote_name,
    read_box_pt,
    user_unit,
)

#: Numbers the temp names of linked outputs within this process.
_TEMP_IDS = itertools.count(1)


@dataclass(frozen=True, slots=True)
class OutputResult:
    path: str
    pages: int
    size_bytes: int
    sha256: str | None  # of a rewritten output; None when it is the artwork unchanged (preflight has its digest)
    copied_unchanged: bool


class OutputError(Exception):
    """The output could not be made; the message says why in plain words."""


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


def _link_or_copy(src: str, tmp: str) -> None:
    """``tmp`` (a name not in use) becomes the same file as ``src``: a hard link, else a copy."""
    try:
        os.link(src, tmp)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        shutil.copyfile(src, tmp)  # sendfile on Linux


def _write_error(exc: OSError, folder: str) -> OutputError:
    if exc.errno == errno.ENOSPC:
        return OutputError(f"the output could not be written: the disk holding {folder} is full")
    if exc.errno == errno.ENOENT:
        return OutputError(f"the output could not be written: the folder {folder} does not exist")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(f"the output could not be written: no permission to write in {folder}")
    reason = exc.strerror or describe_exception(exc)
    return OutputError(f"the output could not be written to {folder}: {reason}")


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
                reader, _owner_protected = open_artwork(art.name, fh)
                pages += count_pages(art.name, reader)
                fixes.append(_box_fixes(reader, spec, float(validation.size_tolerance_mm)))
            except ArtworkProblem as problem:
                raise OutputError(str(problem)) from None
            except (MemoryError, OutputError):
                raise
            except Exception as exc:
                raise OutputError(
                    f"artwork {quote_name(art.name)} is damaged and cannot be read: {describe_exception(exc)}"
                ) from exc
            readers.append(reader)

        copy = len(artwork) == 1 and not fixes[0]
        if copy:
            size, digest = _publish(dest, artwork[0], None)
        else:
            size, digest = _publish(dest, None, lambda fd: _write_merged(readers, fixes, fd, artwork))
    return OutputResult(path=dest, pages=pages, size_bytes=size, sha256=digest, copied_unchanged=copy)


def link_unchanged(art: ArtworkInput, dest: str, pages: int) -> OutputResult:
    """The output of one artwork file that needs no change (``check`` said so): a hard link to it,
    published atomically. Reads no PDF, so the daemon does it itself, without a worker call."""
    size, _ = _publish(dest, art, None)
    return OutputResult(path=dest, pages=pages, size_bytes=size, sha256=None, copied_unchanged=True)


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
    return report, report.ok and is_print_ready_as_is(artwork, spec, validation)


def _publish(dest: str, same_as: ArtworkInput | None, write: Callable[[int], None] | None) -> tuple[int, str | None]:
    """Publishes ``dest`` by temp name + fsync + rename (+ directory fsync): either the same file as
    ``same_as`` (a hard link, or a copy where links are refused), or what ``write(fd)`` writes.
    Returns the size and, for written outputs, the sha256. The temp file never stays behind."""
    dest_path = Path(dest).absolute()
    folder = str(dest_path.parent)
    if same_as is not None:
        return _publish_same(dest_path, same_as), None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest_path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _write_error(exc, folder) from None
    digest: str | None = None
    try:
        assert write is not None
        try:
            write(fd)
            os.fsync(fd)
            os.fchmod(fd, 0o644)
            size = os.fstat(fd).st_size
            os.lseek(fd, 0, os.SEEK_SET)
            with open(fd, "rb", closefd=False) as check_fh:
                digest = hashlib.file_digest(check_fh, "sha256").hexdigest()
        finally:
            os.close(fd)
        Path(tmp).replace(dest)
        fsync_dir(Path(folder))
    except BaseException as exc:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        if isinstance(exc, OSError):
            raise _write_error(exc, folder) from None
        raise
    return size, digest


def _publish_same(dest: Path, art: ArtworkInput) -> int:
    """``dest`` becomes the artwork file itself (a hard link; a copy where links are refused), made
    under a temp name and renamed, then fsynced with its folder; returns the size.

    The fsyncs come after the rename: the file's fsync then commits the link, its mode and the
    rename in one journal commit, and the folder's fsync finds nothing left (one commit instead of
    two; ~0.3 ms a job here). That is safe because nothing records the output before this returns:
    a crash before the fsyncs leaves a ``dest`` that is the artwork or nothing, and the job (its
    ``OutputCreated`` not recorded) makes its output again. A failed fsync removes ``dest``.
    """
    folder = str(dest.parent)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}-{next(_TEMP_IDS)}.tmp")
    made = tmp  # what to remove on a failure: the temp name, then (renamed, not yet durable) dest
    try:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()  # left by an earlier process with our pid
        try:
            _link_or_copy(art.path, str(tmp))
        except FileNotFoundError as exc:
            raise OutputError(f"artwork {quote_name(art.name)} cannot be read: the file is missing") from exc
        out_fd = os.open(tmp, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fchmod(out_fd, 0o644)
            size = os.fstat(out_fd).st_size
            tmp.replace(dest)
            made = dest
            # A dest already linked to the artwork (made by a run a crash cut short before
            # OutputCreated) makes the rename a no-op (POSIX: same file), and the temp name stays.
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.fsync(out_fd)  # the artwork's own data, which nobody synced yet, and the rename
        finally:
            os.close(out_fd)
        fsync_dir(Path(folder))
    except BaseException as exc:
        with contextlib.suppress(OSError):
            made.unlink()
        if isinstance(exc, OSError):
            raise _write_error(exc, folder) from None
        raise
    return size


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
