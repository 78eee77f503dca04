"""End-to-end: the real daemon takes manifests and PDFs and fills the hot folders."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

from spo_hotfolder.engine import HASH_AHEAD_MIN_BYTES
from tests.daemon import drop, rewrite_keeping_time, run_cli, statuses, wait_for, write_config
from tests.pdfs import make_big_pdf, make_pdf, same_size_edit

pytestmark = pytest.mark.e2e

CARD = [(91.0, 61.0), (91.0, 61.0)]  # 85 x 55 mm + 3 mm bleed, two pages


def card(path: Path) -> Path:
    make_pdf(path, pages=CARD)
    return path


def test_yaml_single_job_reaches_its_hot_folder(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon()
    card(daemon.inbox / "card.pdf")
    drop(
        daemon.inbox / "order-1.yaml",
        'order_id: "100234"\nproduct: bc-85x55\nquantity: 500\nartwork: [{path: card.pdf}]\n',
    )
    job = daemon.wait_status("100234-1", "InHotFolder")
    delivered = tmp_path / "hot" / "indigo" / "100234_100234-1_bc-85x55_x500.pdf"
    assert delivered.is_file()
    assert len(PdfReader(delivered).pages) == 2
    assert statuses(job) == [
        "Ordered",
        "ValidationFinished",
        "OutputCreationStarted",
        "OutputCreated",
        "InHotFolder",
    ]
    assert job["folder"] == "done/100234-1"
    assert job["hot_folder"] == "indigo"
    assert job["output"] == "done/100234-1/output/100234_100234-1_bc-85x55_x500.pdf"
    folder = daemon.root / "done" / "100234-1"
    assert (folder / "manifest.yaml").read_bytes().startswith(b'order_id: "100234"')
    assert (folder / "artwork" / "card.pdf").is_file()
    assert "InHotFolder" in (folder / "STATUS.txt").read_text()
    # SPEC 4's layout of a job folder, history/ included (empty until something is superseded).
    assert sorted(p.name for p in folder.iterdir()) == ["STATUS.txt", "artwork", "history", "manifest.yaml", "output"]
    assert not list(daemon.inbox.iterdir())
    assert daemon.stop() == 0


def test_json_order_with_several_jobs_and_a_skip_route(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon()
    card(daemon.inbox / "a.pdf")
    make_pdf(daemon.inbox / "poster.pdf", pages=[(500, 700)])
    make_pdf(daemon.inbox / "letter.pdf", pages=[(210, 297)])
    manifest = {
        "order_id": "200",
        "customer": "ACME Ltd",
        "jobs": [
            {"job_id": "200-card", "product": "bc-85x55", "quantity": 250, "artwork": [{"path": "a.pdf"}]},
            {
                "product": "poster-a1",
                "quantity": 2,
                "artwork": ["poster.pdf"],
                "attributes": {"paper": "matt"},
            },
            {"product": "letter", "quantity": 1, "artwork": [{"path": "letter.pdf"}]},
        ],
    }
    drop(daemon.inbox / "order-200.json", json.dumps(manifest))
    daemon.wait_status("200-card", "InHotFolder")
    daemon.wait_status("200-2", "InHotFolder")
    skipped = daemon.wait_status("200-3", "CopyToHotFolderSkipped")
    assert skipped["history"][-1]["detail"] == "route 3"
    assert skipped["hot_folder"] is None and "Hot folder: none (route: skip)" in daemon.cli("show", "200-3").stdout
    assert (tmp_path / "hot" / "indigo" / "200_200-card_bc-85x55_x250.pdf").is_file()
    large = tmp_path / "hot" / "large"
    assert sorted(p.name for p in large.iterdir()) == [
        "200_200-2_poster-a1_x2.json",
        "200_200-2_poster-a1_x2.pdf",
    ]
    ticket = json.loads((large / "200_200-2_poster-a1_x2.json").read_text())
    assert ticket["quantity"] == 2 and ticket["pages"] == 1 and ticket["attributes"] == {"paper": "matt"}
    assert not list((tmp_path / "hot" / "indigo").glob(".*"))


def test_files_present_before_start_are_taken(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon(start=False)
    daemon.inbox.mkdir(parents=True)
    card(daemon.inbox / "early.pdf")
    (daemon.inbox / "early.yaml").write_text('order_id: "E1"\nproduct: bc-1\nquantity: 1\nartwork: [early.pdf]\n')
    daemon.start()
    daemon.wait_status("E1-1", "InHotFolder")


def test_missing_hot_folder_fails_with_reason_and_retries(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon(hot_folders={"indigo": {"path": str(tmp_path / "mnt" / "indigo"), "_missing": True}})
    card(daemon.inbox / "c.pdf")
    drop(daemon.inbox / "m.yaml", 'order_id: "M1"\nproduct: bc-1\nquantity: 1\nartwork: [c.pdf]\n')
    job = daemon.wait_status("M1-1", "CopyToHotFolderFailed")
    first = next(e for e in job["history"] if e["status"] == "CopyToHotFolderFailed")
    assert first["detail"].startswith("attempt 1 of 3, ")
    assert "does not exist" in first["detail"]
    wait_for(
        lambda: (daemon.root / "failed" / "M1-1" / "ERROR.txt").is_file(),
        timeout=20,
        what="failed/ after 3 attempts",
    )
    job = daemon.job("M1-1")
    assert statuses(job).count("CopyToHotFolderFailed") == 3
    error = (daemon.root / "failed" / "M1-1" / "ERROR.txt").read_text()
    assert "is the printer's share mounted" in error and "RETRY" in error
    assert not (tmp_path / "mnt" / "indigo").exists(), "the daemon must never create a missing hot folder"
    # The share comes back; the operator drops RETRY: delivered.
    (tmp_path / "mnt" / "indigo").mkdir(parents=True)
    drop(daemon.root / "failed" / "M1-1" / "RETRY", "alice\nshare mounted again\n")
    daemon.wait_status("M1-1", "InHotFolder")
    assert (tmp_path / "mnt" / "indigo" / "M1_M1-1_bc-1_x1.pdf").is_file()


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("broken.json", '{"order_id": "X", "jobs": [', "line 1"),
        ("broken.yaml", "order_id: X\n  jobs: [\n", "line 2"),
        ("types.yaml", 'order_id: "T"\nproduct: bc-1\nquantity: five\nartwork: [a.pdf]\n', "quantity"),
        ("missing.yaml", 'order_id: "T2"\nquantity: 1\nartwork: [a.pdf]\n', "product"),
        ("unsafe.yaml", 'order_id: "T3"\nproduct: x\nquantity: 1\nartwork: ["../etc/passwd"]\n', "artwork"),
        (
            "hot.yaml",
            'order_id: "T4"\nproduct: x\nquantity: 1\nhot_folder: nope\nartwork: [a.pdf]\n',
            "hot_folder",
        ),
        (
            "dup.yaml",
            'order_id: "T5"\njobs:\n - {job_id: A, product: x, quantity: 1, artwork: [a.pdf]}\n'
            " - {job_id: A, product: x, quantity: 1, artwork: [b.pdf]}\n",
            "A",
        ),
    ],
)
def test_bad_manifests_go_to_failed_and_the_daemon_goes_on(make_daemon, name: str, content: str, expected: str) -> None:
    daemon = make_daemon()
    drop(daemon.inbox / name, content)
    error = daemon.root / "failed" / name / "ERROR.txt"
    wait_for(error.is_file, what=f"failed/{name}/ERROR.txt")
    text = error.read_text()
    assert expected in text and "How to fix it" in text
    assert "Its artwork, if it came into inbox/ beside it, stays there for" in text  # where it is
    assert (daemon.root / "failed" / name / name).read_text() == content
    # A good manifest still goes through.
    card(daemon.inbox / "ok.pdf")
    drop(daemon.inbox / "ok.yaml", 'order_id: "OK"\nproduct: bc-1\nquantity: 1\nartwork: [ok.pdf]\n')
    daemon.wait_status("OK-1", "InHotFolder")


def test_slow_writer_is_not_taken_early(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon(watch={"settle_seconds": 1.0})
    pdf = tmp_path / "src.pdf"
    card(pdf)
    data = pdf.read_bytes()
    drop(daemon.inbox / "slow.yaml", 'order_id: "S"\nproduct: bc-1\nquantity: 1\nartwork: [slow.pdf]\n')
    daemon.wait_status("S-1", "AwaitingData")
    target = daemon.inbox / "slow.pdf"
    chunk = len(data) // 6 + 1
    for i in range(6):  # six bursts over ~3 s, each opened and closed again
        with open(target, "ab") as fh:
            fh.write(data[i * chunk : (i + 1) * chunk])
        time.sleep(0.5)
    job = daemon.wait_status("S-1", "InHotFolder")
    taken = next(e["at"] for e in job["history"] if e["status"] == "ValidationFinished")
    assert taken, job
    assert len(PdfReader(daemon.root / "done" / "S-1" / "artwork" / "slow.pdf").pages) == 2


def test_an_empty_artwork_file_fails_as_empty_even_with_a_short_artwork_timeout(make_daemon) -> None:
    """Audit BD 1 (SPEC 5: "a zero-byte file is taken like any other once stable, and fails
    preflight as empty"): with artwork_timeout_seconds shorter than the longer wait of an empty file
    (max(5 s, 5 x settle)), the job first failed "artwork missing ... it was still changing"."""
    daemon = make_daemon(watch={"settle_seconds": 0.3, "artwork_timeout_seconds": 2})
    (daemon.inbox / ".Z.pdf.tmp").write_bytes(b"")
    os.replace(daemon.inbox / ".Z.pdf.tmp", daemon.inbox / "Z.pdf")
    drop(daemon.inbox / "Z.yaml", 'order_id: "Z"\nproduct: bc-1\nquantity: 1\nartwork: [Z.pdf]\n')
    job = daemon.wait_status("Z-1", "ValidationFailed", timeout=30)
    statuses = [e["status"] for e in job["history"]]
    assert statuses.count("ValidationFailed") == 1, job["history"]
    assert "empty file (0 bytes)" in job["history"][-1]["detail"], job["history"]


def test_temp_names_are_ignored_until_renamed(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon()
    card(daemon.inbox / ".x.pdf.AbCd12")
    card(daemon.inbox / "~$x.pdf")
    (daemon.inbox / ".order.yaml.tmp").write_text('order_id: "R"\nproduct: bc-1\nquantity: 1\nartwork: [x.pdf]\n')
    time.sleep(1.5)
    assert sorted(p.name for p in daemon.inbox.iterdir()) == [".order.yaml.tmp", ".x.pdf.AbCd12", "~$x.pdf"]
    assert daemon.job("R-1") is None
    os.replace(daemon.inbox / ".x.pdf.AbCd12", daemon.inbox / "x.pdf")
    os.replace(daemon.inbox / ".order.yaml.tmp", daemon.inbox / "order.yaml")
    daemon.wait_status("R-1", "InHotFolder")
    assert (daemon.inbox / "~$x.pdf").exists()


def test_folder_manifest_dragged_in(make_daemon) -> None:
    daemon = make_daemon()
    folder = daemon.inbox / "order 300 (ACME)"
    staging = daemon.inbox.parent / "staging-300"
    (staging / "art").mkdir(parents=True)
    card(staging / "art" / "front back.pdf")
    (staging / "manifest.yaml").write_text(
        'order_id: "300"\nproduct: bc-1\nquantity: 3\nartwork: ["art/front back.pdf"]\n'
    )
    os.replace(staging, folder)
    daemon.wait_status("300-1", "InHotFolder")
    wait_for(lambda: not folder.exists(), what="the consumed inbox folder removed")


@pytest.mark.parametrize("mode", ["native", "polling"])
def test_a_folder_drop_renamed_while_its_pdf_is_copied_in_is_followed(make_daemon, tmp_path: Path, mode: str) -> None:
    """Audit E 3: an operator's "New folder" (manifest in, PDF still being copied) renamed to the
    order's name: the job waited for the PDF at the old path until its artwork timeout, and the PDF
    at the new one was set aside as nobody's."""
    daemon = make_daemon(watch={"settle_seconds": 0.5, "mode": mode, "poll_interval_seconds": 0.2})
    data = card(tmp_path / "src.pdf").read_bytes()
    folder = daemon.inbox / "New folder"
    folder.mkdir()
    (folder / "manifest.yaml").write_text('order_id: "E3"\nproduct: bc-1\nquantity: 1\nartwork: [card.pdf]\n')
    with open(folder / "card.pdf", "wb") as fh:
        fh.write(data[: len(data) // 2])
        fh.flush()
        daemon.wait_status("E3-1", "AwaitingData")
        renamed = daemon.inbox / "E3 order"
        folder.rename(renamed)
        said = "its folder inbox/New folder was renamed inbox/E3 order: its artwork is awaited there"
        wait_for(
            lambda: said in (daemon.root / "work" / "E3-1" / "STATUS.txt").read_text(),
            what="the rename noted in STATUS.txt",
        )
        fh.write(data[len(data) // 2 :])
    daemon.wait_status("E3-1", "InHotFolder")
    assert (daemon.root / "done" / "E3-1" / "artwork" / "card.pdf").read_bytes() == data
    wait_for(lambda: not renamed.exists(), what="the emptied folder removed")
    assert not list((daemon.root / "failed").iterdir())
    assert daemon.stop() == 0


def test_route_dry_run_of_a_manifest_file_and_of_a_folder_drop(tmp_path: Path) -> None:
    """`route` changes nothing and says, per job, where it would go and why, in lines and in JSON."""
    config = write_config(tmp_path, blocking={"products": ["poster-*"]})
    order = tmp_path / "drop" / "order"
    order.mkdir(parents=True)
    (order / "manifest.yaml").write_text(
        'order_id: "R1"\njobs:\n'
        "  - {product: bc-85x55, quantity: 1, artwork: [a.pdf]}\n"
        "  - {product: poster-a1, quantity: 2, artwork: [b.pdf]}\n"
        "  - {product: mug, quantity: 3, artwork: [c.pdf]}\n"
    )
    lines = run_cli(config, "route", str(order / "manifest.yaml"), check=True).stdout.splitlines()
    assert lines == [
        "R1-1: indigo (route 1: product bc-*); blocked: no; product: bc-85x55",
        "R1-2: large (route 2: product poster-*); blocked: yes (blocking.products: poster-*); product: poster-a1",
        "R1-3: skip (route 3); blocked: no; product: mug",
    ]
    from_folder = json.loads(run_cli(config, "route", str(order), "--json", check=True).stdout)
    assert [j["job_id"] for j in from_folder] == ["R1-1", "R1-2", "R1-3"]
    assert from_folder[1] == {
        "job_id": "R1-2",
        "product": "poster-a1",
        "hot_folder": "large",
        "skip": False,
        "reason": "route 2: product poster-*",
        "blocked": True,
        "blocked_reason": "blocking.products: poster-*",
        "filename": "R1_R1-2_poster-a1_x2.pdf",
        "known": None,
    }
    assert from_folder[2]["skip"] is True and from_folder[2]["hot_folder"] is None
    empty = tmp_path / "drop" / "empty"
    empty.mkdir()
    refused = run_cli(config, "route", str(empty))
    assert refused.returncode == 1 and "folder without a manifest" in refused.stderr
    # Artwork that names a folder is refused, as the daemon refuses it (it waited, then "missing").
    (order / "a.pdf").mkdir()
    refused = run_cli(config, "route", str(order))
    assert refused.returncode == 1 and 'artwork[0]: "a.pdf" is a folder, not a file' in refused.stderr
    art = tmp_path / "drop" / "art.pdf"
    art.write_bytes(b"%PDF-1.4\n%%EOF\n")
    refused = run_cli(config, "route", str(art))
    assert refused.returncode == 1 and "not a manifest: a manifest is a .json, .yaml or .yml file" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    refused = run_cli(config, "route", str(tmp_path / "drop" / "not-there"))  # audit (CLI) 3: said "not a manifest"
    assert refused.returncode == 1 and refused.stderr.strip().endswith("not-there: no such file or folder")
    # Read as the daemon reads manifests (audit BA 6, 7): not through a link (one to a secret file
    # printed its lines as "unknown key"), nor from a named pipe (it hung).
    secret = tmp_path / "secret.txt"
    secret.write_text("root:*:20228:0:99999:7:::\n")
    (tmp_path / "drop" / "link.yaml").symlink_to(secret)
    refused = run_cli(config, "route", str(tmp_path / "drop" / "link.yaml"))
    assert refused.returncode == 1 and "is a symbolic link" in refused.stderr
    assert "root:" not in refused.stderr + refused.stdout
    (tmp_path / "drop" / "linked-folder").symlink_to(order)  # a link to a folder drop (audit BB 6)
    refused = run_cli(config, "route", str(tmp_path / "drop" / "linked-folder"))
    assert refused.returncode == 1 and "is a symbolic link" in refused.stderr
    os.mkfifo(tmp_path / "drop" / "pipe.yaml")
    refused = run_cli(config, "route", str(tmp_path / "drop" / "pipe.yaml"), timeout=20)
    assert refused.returncode == 1 and "is not a file" in refused.stderr
    assert not (tmp_path / "root").exists()  # a dry run creates nothing


def test_route_tells_what_the_daemon_would_do_with_a_job_it_knows(make_daemon, tmp_path: Path) -> None:
    """Audit O: `route` promised a hot folder for jobs the daemon then refused."""
    daemon = make_daemon()
    card(daemon.inbox / "k.pdf")
    drop(daemon.inbox / "k.yaml", 'order_id: "K1"\nproduct: bc-1\nquantity: 1\nartwork: [k.pdf]\n')
    daemon.wait_status("K1-1", "InHotFolder")
    again = tmp_path / "again.yaml"
    again.write_text('order_id: "K1"\nproduct: bc-1\nquantity: 1\nartwork: [k.pdf]\n')
    line = daemon.cli("route", str(again)).stdout.strip()
    assert line.endswith("; already finished (InHotFolder): would be refused without reprint: true"), line
    other = tmp_path / "other.yaml"
    other.write_text('order_id: "K9"\njob_id: "K1-1"\nproduct: bc-1\nquantity: 1\nartwork: [k.pdf]\n')
    [job] = json.loads(daemon.cli("route", str(other), "--json").stdout)
    assert job["known"] == "job id already used by order K1: this job would be refused"


def test_the_read_only_commands_leave_no_file_behind_when_the_daemon_is_stopped(make_daemon, tmp_path: Path) -> None:
    """Audit BG 3: `route` ("changes nothing", SPEC 3), `jobs` and `show` with the daemon stopped
    left SQLite's ledger.sqlite3-wal and -shm files in state/. With the daemon running they read
    its WAL as before (what it has just written is seen)."""
    daemon = make_daemon()
    card(daemon.inbox / "r.pdf")
    drop(daemon.inbox / "r.yaml", 'order_id: "R1"\nproduct: bc-1\nquantity: 1\nartwork: [r.pdf]\n')
    daemon.wait_status("R1-1", "InHotFolder")  # read while it runs: through its WAL
    assert daemon.stop() == 0
    manifest = tmp_path / "m.yaml"
    manifest.write_text('order_id: "R2"\nproduct: bc-1\nquantity: 1\nartwork: [r.pdf]\n')

    def tree() -> list[str]:
        return sorted(str(p.relative_to(daemon.root)) for p in daemon.root.rglob("*"))

    before = tree()
    assert not [name for name in before if name.endswith(("-wal", "-shm"))], before
    assert daemon.cli("route", str(manifest)).returncode == 0
    assert daemon.cli("jobs", "--json").returncode == 0
    assert json.loads(daemon.cli("show", "R1-1", "--json").stdout)["status"] == "InHotFolder"
    assert tree() == before


def test_nested_attributes_route_and_name_the_file(make_daemon, tmp_path: Path) -> None:
    """SPEC 5: attributes are free-form (audit BU 1: a nested map was refused as a bad manifest);
    a value inside a map is reached by its dotted name in routes and file names, and `show`,
    `show --json` and the job ticket keep the attributes as they came."""
    hot = tmp_path / "hot"
    daemon = make_daemon(
        hot_folders={
            "indigo": {"path": str(hot / "indigo")},
            "large": {"path": str(hot / "large"), "ticket": "json", "filename": "{job_id}_{attributes.paper.kind}.pdf"},
        },
        routes=[{"when": {"attributes.paper.kind": "silk*"}, "to": "large"}, {"to": "skip"}],
    )
    make_pdf(daemon.inbox / "N1.pdf", pages=[(91.0, 61.0)] * 2)
    drop(
        daemon.inbox / "N1.yaml",
        'order_id: "N1"\nproduct: bc-85x55\nquantity: 5\nartwork: [N1.pdf]\n'
        "attributes:\n  paper: {kind: silk-350, gsm: 0350}\n  finishing: [round-corners, foil]\n  note:\n",
    )
    job = daemon.wait_status("N1-1", "InHotFolder")
    assert job["hot_folder"] == "large"
    expected = {"paper": {"kind": "silk-350", "gsm": "0350"}, "finishing": ["round-corners", "foil"], "note": None}
    assert job["attributes"] == expected
    assert sorted(p.name for p in (hot / "large").iterdir()) == ["N1-1_silk-350.json", "N1-1_silk-350.pdf"]
    assert json.loads((hot / "large" / "N1-1_silk-350.json").read_text())["attributes"] == expected
    shown = run_cli(daemon.config, "show", "N1-1").stdout
    [line] = [line for line in shown.splitlines() if line.startswith("Attributes: ")]
    assert line.startswith('Attributes: finishing=["round-corners", "foil"], note=, paper={')
    assert json.loads(line.split("paper=", 1)[1]) == expected["paper"]


def test_big_artwork_read_ahead_of_its_manifest_is_checked_as_it_is_when_taken(make_daemon, tmp_path: Path) -> None:
    """An artwork file of HASH_AHEAD_MIN_BYTES or more is read for its sha256 while it waits for its
    manifest. A file uploaded again under its name meanwhile (another file), or written over in
    place with its size and time kept (``cp -p``; audit BB90 1), is checked as it is when taken:
    the manifest's sha256 of the new content passes and that content is printed; the sha256 of
    the content read ahead fails."""
    half = HASH_AHEAD_MIN_BYTES // 2 + 1_000_000  # (the product has two pages)
    first = make_big_pdf(tmp_path / "first.pdf", pages=2, bytes_per_page=half, size_mm=(91, 61)).read_bytes()
    second = make_big_pdf(tmp_path / "second.pdf", pages=2, bytes_per_page=half + 50_000, size_mm=(91, 61)).read_bytes()
    same_size = same_size_edit(first)
    daemon = make_daemon(watch={"settle_seconds": 0.2})
    hot = tmp_path / "hot" / "indigo"

    def order(order_id: str, named: bytes, *uploads: bytes, in_place: bytes | None = None) -> str:
        for data in uploads:
            drop(daemon.inbox / f"{order_id}.pdf", data)
            time.sleep(1.0)  # settled, and read ahead (~30 ms for this size)
        if in_place is not None:
            rewrite_keeping_time(daemon.inbox / f"{order_id}.pdf", in_place)  # (cp -p)
            time.sleep(1.0)
        drop(
            daemon.inbox / f"{order_id}.yaml",
            f'order_id: "{order_id}"\nproduct: bc-85x55\nquantity: 1\n'
            f'artwork: [{{path: {order_id}.pdf, sha256: "{hashlib.sha256(named).hexdigest()}"}}]\n',
        )
        return f"{order_id}-1"

    for job_id, printed in (
        (order("B1", first, first), first),
        (order("B2", second, first, second), second),
        (order("B3", same_size, first, in_place=same_size), same_size),
    ):
        job = daemon.wait_status(job_id, "InHotFolder", timeout=60)
        assert statuses(job)[-1] == "InHotFolder"
        # (The output is the artwork with its boxes added: the same image, in another file.)
        assert _images(hot / f"{job['order_id']}_{job_id}_bc-85x55_x1.pdf") == _images(io.BytesIO(printed))
    for job_id in (order("B4", first, first, second), order("B5", first, first, in_place=same_size)):
        job = daemon.wait_status(job_id, "ValidationFailed", timeout=60)
        assert "sha256" in job["error"]
        assert not list(hot.glob(f"*{job_id}*"))
    assert len({tuple(_images(io.BytesIO(data))) for data in (first, second, same_size)}) == 3
    assert daemon.stop() == 0


def _images(source: Path | io.BytesIO) -> list[bytes]:
    """The raw data of each page's image XObjects."""
    found = []
    for page in PdfReader(source).pages:
        xobjects = page["/Resources"].get_object()["/XObject"].get_object()
        found += [xobjects[name].get_object().get_data() for name in sorted(xobjects)]
    return found
