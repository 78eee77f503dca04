"""End-to-end over the real-world PDF corpus: every file ends in a clear outcome."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.daemon import CORPUS, drop, statuses, wait_for

pytestmark = pytest.mark.e2e

FILES = sorted(CORPUS.glob("*.pdf")) if CORPUS.is_dir() else []


def expected_pages() -> dict[str, int]:
    meta = json.loads((CORPUS / "files.json").read_text())
    return {entry["path"].replace("/", "_"): entry["pages"] for entry in meta["data"] if "pages" in entry}


@pytest.mark.skipif(not FILES, reason="the shared PDF corpus is not beside the project")
@pytest.mark.parametrize("fonts", ["error", "off"])
def test_every_corpus_pdf_is_delivered_or_clearly_failed(make_daemon, tmp_path: Path, fonts: str) -> None:
    daemon = make_daemon(
        validation={"checks": {"fonts": fonts}},
        routes=[{"to": "indigo"}],
        hot_folders={"indigo": {"path": str(tmp_path / "hot" / "indigo"), "filename": "{job_id}.pdf"}},
    )
    pages = expected_pages()
    for n, pdf in enumerate(FILES, start=1):
        shutil.copyfile(pdf, daemon.inbox / f"c{n}.pdf")
        drop(daemon.inbox / f"c{n}.yaml", f'order_id: "C{n}"\nproduct: any\nquantity: 1\nartwork: [c{n}.pdf]\n')
    final = {"InHotFolder", "ValidationFailed", "OutputCreationFailed"}

    def all_done() -> list[dict] | None:
        jobs = json.loads(daemon.cli("jobs", "--json").stdout or "[]")
        settled = [j for j in jobs if j["status"] in final and j["stage"] in ("done", "failed")]
        return jobs if len(settled) == len(FILES) else None

    jobs = wait_for(all_done, timeout=120, interval=0.5, what="every corpus job settled")
    delivered = 0
    for n, pdf in enumerate(FILES, start=1):
        job = next(j for j in jobs if j["job_id"] == f"C{n}-1")
        if job["status"] == "InHotFolder":
            delivered += 1
            out = tmp_path / "hot" / "indigo" / f"C{n}-1.pdf"
            if pdf.name in pages:
                assert len(PdfReader(out).pages) == pages[pdf.name], pdf.name
        else:
            error = (daemon.root / "failed" / f"C{n}-1" / "ERROR.txt").read_text()
            assert "Traceback" not in error and len(error) > 40, (pdf.name, error)
            full = daemon.job(f"C{n}-1")
            assert full is not None
            assert {"ValidationFailed", "OutputCreationFailed"} & set(statuses(full)), full
    encrypted_n = next(n for n, pdf in enumerate(FILES, start=1) if "password" in pdf.name)
    encrypted = daemon.job(f"C{encrypted_n}-1")
    assert encrypted is not None and encrypted["status"] == "ValidationFailed"
    assert "encrypted" in json.dumps(encrypted["history"])
    assert delivered >= (20 if fonts == "error" else 28), delivered
    assert daemon.proc.poll() is None
