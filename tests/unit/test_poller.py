"""The folder poller (polling mode): reports new and changed files, lists only changed folders."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from spo_hotfolder.watcher import FRESH_SECONDS, FolderPoller


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _publish(path: Path, data: bytes = b"%PDF-1.4\n") -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Clock, list[Path], FolderPoller]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    clock = Clock()
    seen: list[Path] = []
    poller = FolderPoller(
        [inbox],
        1.0,
        lambda path, moved: seen.append(path),
        descend={inbox: lambda depth, name: depth < 1},
        ignored=lambda name: name.startswith(".") or name.endswith(".tmp"),
        clock=clock,
    )
    return inbox, clock, seen, poller


def test_new_files_are_reported_once_and_what_was_there_at_start_is_not(setup) -> None:  # type: ignore[no-untyped-def]
    inbox, clock, seen, poller = setup
    (inbox / "old.pdf").write_bytes(b"x")
    poller.poll(report=False)  # the baseline taken by start()
    _publish(inbox / "a.pdf")
    (inbox / "skip.tmp").write_bytes(b"x")
    clock.t += 1
    poller.poll()
    assert seen == [inbox / "a.pdf"]
    clock.t += 1
    poller.poll()
    assert seen == [inbox / "a.pdf"], "an unchanged file is not reported again"


def test_a_file_replaced_under_the_same_name_is_reported(setup) -> None:  # type: ignore[no-untyped-def]
    inbox, clock, seen, poller = setup
    _publish(inbox / "a.pdf", b"one")
    poller.poll(report=False)
    clock.t += 10
    _publish(inbox / "a.pdf", b"second version")
    poller.poll()
    assert seen == [inbox / "a.pdf"]


def test_an_unchanged_folder_is_not_listed_again(setup) -> None:  # type: ignore[no-untyped-def]
    inbox, clock, seen, poller = setup
    for i in range(50):
        (inbox / f"idle{i}.tmp").write_bytes(b"x")
    poller.poll(report=False)
    clock.t += FRESH_SECONDS + 1  # the folder's timestamp is no longer fresh
    poller.poll()
    listed = poller.listings
    for _ in range(5):
        clock.t += 1
        poller.poll()
    assert poller.listings == listed, "polls of an unchanged folder must not list it"
    _publish(inbox / "b.pdf")
    clock.t += 1
    poller.poll()
    assert poller.listings == listed + 1 and seen == [inbox / "b.pdf"]


def test_a_fresh_folder_is_listed_again_even_with_the_same_timestamp(tmp_path: Path) -> None:
    """On a file system with coarse timestamps, a file added in the same tick leaves the folder's
    mtime as it was: a folder whose timestamp is fresh is listed at every poll."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    frozen = os.stat(inbox)

    def coarse_stat(path: str) -> os.stat_result:
        st = os.stat(path)
        return frozen if path == str(inbox) else st

    clock = Clock()
    seen: list[Path] = []
    poller = FolderPoller([inbox], 1.0, lambda path, moved: seen.append(path), clock=clock, stat=coarse_stat)
    poller.poll(report=False)
    clock.t += FRESH_SECONDS / 2
    _publish(inbox / "same-tick.pdf")
    poller.poll()
    assert seen == [inbox / "same-tick.pdf"]


def test_new_sub_folders_are_listed_within_the_descend_rule(setup) -> None:  # type: ignore[no-untyped-def]
    inbox, clock, seen, poller = setup
    poller.poll(report=False)
    order = inbox / "order-7"
    (order / "deeper").mkdir(parents=True)
    (order / "deeper" / "x.pdf").write_bytes(b"x")  # depth 2: outside the rule
    (order / "manifest.json").write_text("{}")
    clock.t += 1
    poller.poll()
    assert seen == [order / "manifest.json"]
    (order / "manifest.json").unlink()
    order.joinpath("deeper", "x.pdf").unlink()
    (order / "deeper").rmdir()
    order.rmdir()
    clock.t += 1
    poller.poll()
    order.mkdir()  # the same name again: its files are new
    (order / "manifest.json").write_text("{}")
    clock.t += 1
    poller.poll()
    assert seen == [order / "manifest.json", order / "manifest.json"]


def test_a_watched_folder_that_goes_away_and_comes_back_is_listed_afresh(setup) -> None:  # type: ignore[no-untyped-def]
    inbox, clock, seen, poller = setup
    _publish(inbox / "a.pdf")
    poller.poll(report=False)
    away = inbox.with_name("away")
    inbox.rename(away)
    clock.t += 1
    poller.poll()  # the share is unmounted: nothing to report, and no error
    _publish(away / "b.pdf")
    away.rename(inbox)
    clock.t += 1
    poller.poll()
    assert sorted(seen) == [inbox / "a.pdf", inbox / "b.pdf"]


def test_start_and_stop(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    seen: list[Path] = []
    poller = FolderPoller([inbox], 0.05, lambda path, moved: seen.append(path))
    poller.start()
    try:
        assert poller.is_alive()
        # Written beside the inbox, then renamed in: the poller's thread runs meanwhile, and a look
        # between the write and the rename in the inbox itself saw the temporary name first.
        (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4\n")
        os.replace(tmp_path / "a.pdf", inbox / "a.pdf")
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        assert seen == [inbox / "a.pdf"]
    finally:
        poller.stop()
    assert not poller.is_alive()


def _moves_seen(tmp_path: Path) -> tuple[Path, Clock, list[tuple[Path, Path, frozenset[str]]], FolderPoller]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    clock = Clock()
    moves: list[tuple[Path, Path, frozenset[str]]] = []
    poller = FolderPoller(
        [inbox],
        1.0,
        lambda path, moved: None,
        descend={inbox: lambda depth, name: depth < 1},
        clock=clock,
        moved_dir=lambda old, new, missing: moves.append((old, new, missing)),
    )
    return inbox, clock, moves, poller


def test_a_folder_renamed_is_told_from_its_inode_and_its_files(tmp_path: Path) -> None:
    """Audit E 3 in polling mode: a folder drop renamed ("New folder" -> the order's name) is said
    as a rename; a folder removed and another made in the same round with other files is not,
    whatever its inode."""
    inbox, clock, moves, poller = _moves_seen(tmp_path)
    (inbox / "New folder").mkdir()
    (inbox / "New folder" / "card.pdf").write_bytes(b"%PDF-1.4\n")
    poller.poll(report=False)
    (inbox / "New folder").rename(inbox / "order 7")
    (inbox / "order 7" / "back.pdf").write_bytes(b"%PDF-1.4\n")  # more may come meanwhile
    clock.t += 1
    poller.poll()
    assert moves == [(inbox / "New folder", inbox / "order 7", frozenset())]
    # The same inode under another name, but not the files it held (as a folder removed and a new
    # one made at once that got its inode would be): the files it lacks are named, for the engine
    # to tell its own takes (a manifest taken in: review DL 1) from a folder that is not this one.
    (inbox / "order 7").rename(inbox / "other")
    for name in ("card.pdf", "back.pdf"):
        (inbox / "other" / name).unlink()
    (inbox / "other" / "x.pdf").write_bytes(b"%PDF-1.4\n")
    clock.t += 1
    poller.poll()
    assert moves[1:] == [(inbox / "order 7", inbox / "other", frozenset({"card.pdf", "back.pdf"}))]


def test_a_folder_renamed_while_another_is_made_under_its_name_is_told(tmp_path: Path) -> None:
    """Review EN 2: "New folder" renamed to the order's name and the next "New folder" made at
    once (Explorer), within one interval: the name was still there, the rename not told, and
    its job waited for its artwork at the old name."""
    inbox, clock, moves, poller = _moves_seen(tmp_path)
    (inbox / "New folder").mkdir()
    (inbox / "New folder" / "card.pdf").write_bytes(b"%PDF-1.4\n")
    poller.poll(report=False)
    (inbox / "New folder").rename(inbox / "order1")
    (inbox / "New folder").mkdir()
    clock.t += 1
    poller.poll()
    assert moves == [(inbox / "New folder", inbox / "order1", frozenset())]
    (inbox / "New folder" / "next.pdf").write_bytes(b"%PDF-1.4\n")
    clock.t += 1
    poller.poll()
    assert len(moves) == 1


def test_a_folder_removed_and_another_made_on_its_inode_with_a_file_of_the_same_name_is_no_rename(
    tmp_path: Path,
) -> None:
    """Review EN 1: an order's folder removed and the next order's made within one interval got
    its inode (ext4 reuses it at once); both hold a manifest.json: taken for a rename, and the
    removed folder's job took the new order's artwork.pdf and printed it. Where the files are
    other files (other inodes) the poller tells it; where one got the old one's inode too, the
    engine does (a name it took out of the folder is there again: test_engine_faults)."""
    inbox, clock, moves, poller = _moves_seen(tmp_path)
    (inbox / "orderA").mkdir()
    (inbox / "orderA" / "manifest.json").write_text("{}")
    poller.poll(report=False)
    inode = (inbox / "orderA").stat().st_ino
    (tmp_path / "manifest.json").write_text('{"order_id": "B"}')  # (not on the freed file's inode)
    shutil.rmtree(inbox / "orderA")
    for n in range(50):  # a new folder on the freed inode (at once on ext4; tried a few times elsewhere)
        (inbox / f"orderB{n}").mkdir()
        if (inbox / f"orderB{n}").stat().st_ino == inode:
            break
        (inbox / f"orderB{n}").rmdir()
    else:
        pytest.skip("this filesystem did not reuse the inode")
    (tmp_path / "manifest.json").rename(inbox / f"orderB{n}" / "manifest.json")
    (inbox / f"orderB{n}" / "artwork.pdf").write_bytes(b"%PDF-1.4\n")
    clock.t += 1
    poller.poll()
    assert moves == []


def test_a_folder_that_may_not_be_listed_is_reported_once_until_it_changes(
    setup, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The engine says a folder it may not read (folder.unreadable) when told of it: the poller
    reports such a folder once, not at every poll, and its files once it may be listed."""
    inbox, clock, seen, poller = setup
    poller.poll(report=False)
    order = inbox / "order"
    order.mkdir()
    _publish(order / "card.pdf")
    real = os.scandir
    refused = [True]

    def scandir(path: str) -> object:
        if refused[0] and path == str(order):
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    for _ in range(3):
        clock.t += 1
        poller.poll()
    assert seen == [order]
    refused[0] = False
    order.chmod(0o750)  # (its owner lets the daemon's group in: a new ctime)
    clock.t += 1
    poller.poll()
    assert seen == [order, order / "card.pdf"]


def test_folders_are_looked_into_by_the_descend_rule_alone_files_by_ignored(tmp_path: Path) -> None:
    """Helper EU 1: a job folder named by an id watch.ignore matches (quarantine/100234-1.part/)
    was never listed, so its RELEASE never seen: ``descend`` decides for folders (the engine's
    rule leaves out the folders watch.ignore names that cannot be jobs), ``ignored`` for files."""
    area = tmp_path / "quarantine"
    (area / "J1.part").mkdir(parents=True)
    (area / ".Trash").mkdir()
    clock = Clock()
    seen: list[Path] = []
    poller = FolderPoller(
        [area],
        1.0,
        lambda path, moved: seen.append(path),
        descend={area: lambda depth, name: depth == 0 and not name.startswith(".")},
        ignored=lambda name: name.startswith(".") or name.endswith(".part"),
        clock=clock,
    )
    poller.poll(report=False)
    clock.t += 1
    (area / "J1.part" / "RELEASE").write_text("alice\n")
    (area / "J1.part" / "RELEASE.part").write_text("on its way")
    (area / ".Trash" / "RELEASE").write_text("x")
    poller.poll()
    assert seen == [area / "J1.part" / "RELEASE"]
