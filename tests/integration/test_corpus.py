"""The real-world corpus: every file ends in a clear outcome, never a crash or a hang."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from spo_hotfolder.config import ProductSpec, ValidationConfig
from spo_hotfolder.output import build_output
from spo_hotfolder.outputfile import OutputError
from spo_hotfolder.pdfwork import PdfWorker
from spo_hotfolder.preflight import ArtworkInput, PreflightReport, preflight
from tests.daemon import CORPUS

pytestmark = pytest.mark.skipif(not (CORPUS / "files.json").exists(), reason="PDF corpus not available")

A4 = ProductSpec(pattern="a4-*", trim_mm=(210.0, 297.0), bleed_mm=3.0)
V = ValidationConfig()
ENCRYPTED = "005-libreoffice-writer-password_libreoffice-writer-password.pdf"
# Things a person must never read in a finding: Python reprs, tracebacks, class names.
UNREADABLE = re.compile(r"Traceback|Error\(|Exception\(|<class|0x[0-9a-f]{6,}|\\n")


def corpus() -> list[tuple[Path, int]]:
    if not (CORPUS / "files.json").exists():
        return []
    meta = json.loads((CORPUS / "files.json").read_text())["data"]
    pages = {entry["path"].replace("/", "_"): entry["pages"] for entry in meta}
    return [(path, pages[path.name]) for path in sorted(CORPUS.glob("*.pdf"))]


def check_report(report: PreflightReport, path: Path, pages: int) -> None:
    for finding in report.findings:
        assert not UNREADABLE.search(finding.message), finding.message
        assert finding.message == finding.message.strip()
    opened = not any(f.check == "open" for f in report.findings)
    if opened:
        assert report.pages == pages, path.name
    if path.name == ENCRYPTED:
        assert [f.message for f in report.errors()] == [
            f"artwork '{ENCRYPTED}' is encrypted: a password is needed to open it; ask the customer for an "
            "unprotected PDF"
        ]


def test_corpus_is_there() -> None:
    assert len(corpus()) >= 31  # 31 PDFs in the folder (files.json lists GeoTopo.pdf, not included)


@pytest.mark.parametrize(("path", "pages"), corpus(), ids=lambda v: v.name if isinstance(v, Path) else str(v))
def test_preflight_every_corpus_file(path: Path, pages: int) -> None:
    report = preflight([ArtworkInput(path.name, str(path))], "a4-flyer", A4, V)
    check_report(report, path, pages)
    assert report.to_text()
    assert report.summary()
    json.dumps(report.to_json())


def test_most_corpus_files_are_readable() -> None:
    unreadable = []
    for path, _pages in corpus():
        report = preflight([ArtworkInput(path.name, str(path))], "any", None, V)
        if any(f.check == "open" for f in report.findings):
            unreadable.append(path.name)
    # 005 needs a password; pypdf 7.1 cannot rebuild 017's broken page tree ("Invalid object in /Pages")
    assert unreadable == [ENCRYPTED, "017-unreadable-meta-data_unreadablemetadata.pdf"]


def test_corpus_through_the_worker(tmp_path: Path) -> None:
    with PdfWorker(timeout_seconds=60) as worker:
        for path, pages in corpus():
            report = worker.preflight([ArtworkInput(path.name, str(path))], "a4-flyer", A4, V)
            check_report(report, path, pages)


def test_build_output_of_every_corpus_file(tmp_path: Path) -> None:
    outcomes = {}
    for index, (path, pages) in enumerate(corpus()):
        dest = tmp_path / f"{index}.pdf"
        try:
            result = build_output([ArtworkInput(path.name, str(path))], str(dest), A4, V)
        except OutputError as exc:
            assert not UNREADABLE.search(str(exc)), str(exc)
            assert str(exc).startswith(f"artwork '{path.name}' ")
            assert not dest.exists()
            outcomes[path.name] = "error"
            continue
        assert result.pages == pages, path.name
        assert dest.stat().st_size == result.size_bytes
        outcomes[path.name] = "copied" if result.copied_unchanged else "rewritten"
    assert outcomes[ENCRYPTED] == "error"
    assert list(outcomes.values()).count("error") == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_merge_of_all_readable_corpus_files(tmp_path: Path) -> None:
    readable = [
        (path, pages)
        for path, pages in corpus()
        if path.name not in (ENCRYPTED, "017-unreadable-meta-data_unreadablemetadata.pdf")
    ]
    dest = tmp_path / "all.pdf"
    result = build_output([ArtworkInput(p.name, str(p)) for p, _ in readable], str(dest), A4, V)
    assert result.pages == sum(pages for _, pages in readable)
    report = preflight([ArtworkInput("all.pdf", str(dest))], "a4-flyer", A4, V)
    assert report.pages == result.pages
    assert not any(f.check == "open" for f in report.findings)
