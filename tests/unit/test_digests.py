"""digests.Ahead: a file's sha256 read ahead of its check, taken by the check only for the identity
it was read under; every other case reads the file at the check, as before."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from spo_hotfolder import digests
from spo_hotfolder.digests import Ahead
from tests.daemon import rewrite_keeping_time


class Hashes:
    """The hash function handed to Ahead: counts what it reads, and holds the first read until
    ``gate`` opens (``begun`` is set once that read has begun)."""

    def __init__(self, hold_first: bool = True) -> None:
        self.threads: list[str] = []
        self.begun = threading.Event()
        self.gate = threading.Event()
        if not hold_first:
            self.gate.set()
        self.during_first: list[Path] = []  # files to write to while the first read is held

    def __call__(self, fh: BinaryIO) -> str:
        first = not self.begun.is_set()
        self.begun.set()
        if first:
            assert self.gate.wait(10)
            for path in self.during_first:
                path.write_bytes(path.read_bytes() + b" more")
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
        self.threads.append(threading.current_thread().name)
        return digest


@pytest.fixture
def hashes() -> Iterator[Hashes]:
    h = Hashes()
    yield h
    h.gate.set()  # (never leave the thread held)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def moved(ahead: Ahead, src: Path, dest: Path) -> Path:
    """Moves ``src`` as the daemon takes a file into a job (link, then unlink), and vouches for it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    before = os.lstat(src)
    os.link(src, dest)
    os.unlink(src)
    after = os.stat(dest)
    ahead.vouch(digests.identity(before), before.st_ctime_ns, after.st_ctime_ns)
    return dest


def read_ahead(tmp_path: Path, data: bytes) -> tuple[Ahead, Hashes, Path]:
    """An Ahead that has read ``big.pdf`` (``data``) to its end."""
    hashes = Hashes(hold_first=False)
    big = tmp_path / "big.pdf"
    big.write_bytes(data)
    ahead = Ahead(hashes)
    ahead.submit(str(big))
    assert hashes.begun.wait(10)
    assert next(iter(ahead._entries.values())).done.wait(10)
    return ahead, hashes, big


def digest_of(ahead: Ahead, path: Path) -> str:
    with open(path, "rb") as fh:
        return ahead.digest(fh)


def test_a_file_read_ahead_is_not_read_again_by_its_check(tmp_path: Path, hashes: Hashes) -> None:
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.7 artwork")
    ahead = Ahead(hashes)
    ahead.submit(str(big))
    assert hashes.begun.wait(10)
    # The check comes while the read is under way: it waits for that read, it does not read too.
    taken = moved(ahead, big, big.with_name("taken.pdf"))  # (the daemon takes the file, and says so)
    answer: list[str] = []
    check = threading.Thread(target=lambda: answer.append(digest_of(ahead, taken)))
    check.start()
    hashes.gate.set()
    check.join(10)
    assert answer == [sha(b"%PDF-1.7 artwork")]
    assert hashes.threads == ["hash-ahead"]  # one read, on the worker's own thread
    assert len(ahead._entries) == 0  # taken


def test_a_finished_read_is_taken_once(tmp_path: Path) -> None:
    ahead, hashes, big = read_ahead(tmp_path, b"artwork")
    assert digest_of(ahead, big) == sha(b"artwork")
    assert hashes.threads == ["hash-ahead"]
    # Asked again (a second check of the same file): read again, nothing kept from before.
    assert digest_of(ahead, big) == sha(b"artwork")
    assert hashes.threads == ["hash-ahead", "MainThread"]


def test_a_file_written_to_after_it_was_handed_over_is_read_by_its_check(tmp_path: Path) -> None:
    ahead, _, big = read_ahead(tmp_path, b"first upload")
    big.write_bytes(b"second upload, longer")
    assert digest_of(ahead, big) == sha(b"second upload, longer")


def test_a_file_written_to_while_it_is_read_gets_no_digest_from_the_read(tmp_path: Path, hashes: Hashes) -> None:
    big = tmp_path / "big.pdf"
    big.write_bytes(b"being written")
    hashes.during_first.append(big)  # the read begins, then the writer appends (size and time change)
    ahead = Ahead(hashes)
    ahead.submit(str(big))
    assert hashes.begun.wait(10)
    entry = next(iter(ahead._entries.values()))
    hashes.gate.set()
    assert entry.done.wait(10)
    assert entry.digest is None  # the file was not the same at the end of the read
    assert digest_of(ahead, big) == sha(b"being written more")
    assert hashes.threads == ["hash-ahead", "MainThread"]  # the check read it again


def test_a_same_size_rewrite_with_its_time_put_back_is_read_again(tmp_path: Path) -> None:
    """``cp -p`` over the file (audit BB90 1): same inode, size and modification time, other bytes.
    Only the change time, which no one can set by hand, tells."""
    ahead, _, big = read_ahead(tmp_path, b"AAAA")
    st = big.stat()
    rewrite_keeping_time(big, b"BBBB")
    assert digests.identity(big.stat()) == digests.identity(st)
    assert digest_of(ahead, big) == sha(b"BBBB")


def test_only_the_daemon_s_own_moves_keep_a_digest(tmp_path: Path) -> None:
    hashes = Hashes(hold_first=False)
    ahead = Ahead(hashes)
    files = {}
    for name in ("vouched", "not-vouched", "edited-first"):
        files[name] = tmp_path / f"{name}.pdf"
        files[name].write_bytes(name.encode())
        ahead.submit(str(files[name]))
    for entry in list(ahead._entries.values()):
        assert entry.done.wait(10)
    assert len(hashes.threads) == 3
    # Moved by the daemon, which says so: the digest read ahead.
    taken = moved(ahead, files["vouched"], tmp_path / "job-a" / "vouched.pdf")
    assert digest_of(ahead, taken) == sha(b"vouched")
    assert hashes.threads.count("MainThread") == 0
    # Moved by someone else (a new ctime nobody vouched for): read again.
    other = tmp_path / "elsewhere.pdf"
    os.replace(files["not-vouched"], other)
    assert digest_of(ahead, other) == sha(b"not-vouched")
    assert hashes.threads.count("MainThread") == 1
    # Edited in place (size and time put back) before the daemon moved it: the move's "before" is
    # not a ctime the file may have, so its "after" does not count either.
    rewrite_keeping_time(files["edited-first"], b"edited-firsT")  # (same size)
    taken = moved(ahead, files["edited-first"], tmp_path / "job-b" / "edited-first.pdf")
    assert digest_of(ahead, taken) == sha(b"edited-firsT")
    assert hashes.threads.count("MainThread") == 2


def test_a_file_whose_read_has_not_begun_is_read_by_its_check_at_once(tmp_path: Path, hashes: Hashes) -> None:
    first, second = tmp_path / "first.pdf", tmp_path / "second.pdf"
    first.write_bytes(b"first")
    second.write_bytes(b"second")
    ahead = Ahead(hashes)
    ahead.submit(str(first))
    assert hashes.begun.wait(10)  # the thread holds on the first file
    ahead.submit(str(second))
    assert digest_of(ahead, second) == sha(b"second")  # not behind the first one's read
    assert hashes.threads == ["MainThread"]
    assert [e.path for e in ahead._entries.values()] == [str(first)]  # the second's read is off
    hashes.gate.set()
    entry = next(iter(ahead._entries.values()))
    assert entry.done.wait(10)
    assert hashes.threads == ["MainThread", "hash-ahead"]


def test_what_cannot_be_read_ahead_is_left_to_the_check(tmp_path: Path) -> None:
    hashes = Hashes(hold_first=False)
    ahead = Ahead(hashes)
    ahead.submit(str(tmp_path / "gone.pdf"))
    ahead.submit(str(tmp_path))  # a folder
    (tmp_path / "target.pdf").write_bytes(b"elsewhere")
    (tmp_path / "link.pdf").symlink_to(tmp_path / "target.pdf")
    ahead.submit(str(tmp_path / "link.pdf"))  # a symbolic link (never taken as artwork)
    assert ahead._entries == {} and ahead._thread is None
    vanishing = tmp_path / "vanishing.pdf"
    vanishing.write_bytes(b"x")
    entry = digests._Entry(str(tmp_path / "moved-away.pdf"), vanishing.stat().st_ctime_ns)
    ahead._read(entry, digests.identity(vanishing.stat()))  # (the file gone before its read began)
    assert entry.digest is None and not hashes.threads


def test_at_most_keep_files_are_kept(tmp_path: Path, hashes: Hashes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digests, "KEEP", 3)
    ahead = Ahead(hashes)
    files = []
    for n in range(6):
        f = tmp_path / f"f{n}.pdf"
        f.write_bytes(b"x" * (n + 1))
        files.append(f)
        ahead.submit(str(f))
        if n == 0:
            assert hashes.begun.wait(10)
    # The one being read stays; of the others, the newest.
    assert [Path(e.path).name for e in ahead._entries.values()] == ["f0.pdf", "f4.pdf", "f5.pdf"]
    hashes.gate.set()
    assert digest_of(ahead, files[2]) == sha(b"xxx")  # dropped: read by its check


def test_a_check_waits_for_the_daemon_s_word_on_a_move_made_while_it_waited(
    tmp_path: Path, hashes: Hashes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon's word on its own move comes on another pipe than the check: a check that sees
    the new change time first waits for it (VOUCH_WAIT_SECONDS), and then takes the digest."""
    monkeypatch.setattr(digests, "VOUCH_WAIT_SECONDS", 30.0)
    big = tmp_path / "big.pdf"
    big.write_bytes(b"artwork")
    ahead = Ahead(hashes)
    ahead.submit(str(big))
    assert hashes.begun.wait(10)
    hashes.gate.set()
    next(iter(ahead._entries.values())).done.wait(10)
    taken = tmp_path / "taken.pdf"
    before = os.lstat(big)
    os.link(big, taken)
    os.unlink(big)
    after = os.stat(taken)
    answer: list[str] = []
    check = threading.Thread(target=lambda: answer.append(digest_of(ahead, taken)))
    check.start()
    check.join(0.2)
    assert check.is_alive(), "the check waits for the word on the new change time"
    ahead.vouch(digests.identity(before), before.st_ctime_ns, after.st_ctime_ns)
    check.join(10)
    assert answer == [sha(b"artwork")]
    assert hashes.threads == ["hash-ahead"]  # not read again


def test_a_change_nobody_vouches_for_is_read_again_after_the_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(digests, "VOUCH_WAIT_SECONDS", 0.05)
    ahead, hashes, big = read_ahead(tmp_path, b"artwork")
    big.chmod(0o600)  # (a change of the inode that is not the daemon's)
    assert digest_of(ahead, big) == sha(b"artwork")
    assert hashes.threads == ["hash-ahead", "MainThread"]
