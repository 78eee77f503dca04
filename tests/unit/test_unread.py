"""UnreadManifests: which file names the manifests not read yet mention."""

from __future__ import annotations

import os
from pathlib import Path

from spo_hotfolder.stability import signature
from spo_hotfolder.unread import UnreadManifests


def _noted(unread: UnreadManifests, path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    unread.note(path, signature(os.stat(path)))


def test_a_name_is_found_as_a_word_of_yaml_or_json_in_any_letter_case(tmp_path: Path) -> None:
    unread = UnreadManifests()
    _noted(unread, tmp_path / "a.yaml", 'order_id: "A"\nartwork: [Artwork.PDF, back.pdf]\n')
    _noted(unread, tmp_path / "b.json", '{"order_id": "B", "artwork": ["artwork.pdf"]}')
    _noted(unread, tmp_path / "c.yaml", "order_id: C\nartwork:\n  - path: my-artwork.pdf\n")
    assert unread.naming("artwork.pdf") == [tmp_path / "a.yaml", tmp_path / "b.json"]
    assert unread.naming("back.pdf") == [tmp_path / "a.yaml"]
    assert unread.naming("front.pdf") == []


def test_names_with_spaces_escapes_or_another_unicode_form(tmp_path: Path) -> None:
    unread = UnreadManifests()
    _noted(unread, tmp_path / "a.yaml", 'artwork: ["my card.pdf"]\n')
    _noted(unread, tmp_path / "b.json", '{"artwork": ["caf\\u00e9.pdf"]}')
    _noted(unread, tmp_path / "c.yaml", "artwork: [cafe\u0301-2.pdf]\n")  # (NFD, as from a Mac)
    assert unread.naming("my card.pdf") == [tmp_path / "a.yaml"]
    assert unread.naming("your card.pdf") == []
    assert unread.naming("café.pdf") == [tmp_path / "b.json"]
    assert unread.naming("caf\u00e9-2.pdf") == [tmp_path / "c.yaml"]


def test_a_manifest_read_changed_or_gone_names_what_it_says_now(tmp_path: Path) -> None:
    unread = UnreadManifests()
    path = tmp_path / "a.yaml"
    _noted(unread, path, "artwork: [one.pdf]\n")
    _noted(unread, path, "artwork: [two.pdf]\n")  # (written on: its words looked at again)
    assert unread.naming("one.pdf") == [] and unread.naming("two.pdf") == [path]
    unread.forget(path)
    assert unread.naming("two.pdf") == [] and len(unread) == 0
    _noted(unread, path, "artwork: [three.pdf]\n")
    path.unlink()  # (removed unread)
    assert unread.naming("three.pdf") == [] and len(unread) == 0


def test_a_name_written_with_its_folder_dots_or_json_slashes_is_found(tmp_path: Path) -> None:
    """Audit DA 1: the parser reads "./artwork.pdf" as artwork.pdf: a manifest on its way naming
    it so was not seen, and a waiting order took that order's PDF (a wrong print)."""
    unread = UnreadManifests()
    _noted(unread, tmp_path / "a.json", '{"artwork": ["./artwork.pdf", "./sub//./back.pdf"]}')
    _noted(unread, tmp_path / "b.json", '{"artwork": [".\\/Artwork.pdf"]}')
    _noted(unread, tmp_path / "c.yaml", "artwork:\n  - path: ./front.pdf\n")
    assert unread.naming("artwork.pdf") == [tmp_path / "a.json", tmp_path / "b.json"]
    assert unread.naming("sub/back.pdf") == [tmp_path / "a.json"]
    assert unread.naming("front.pdf") == [tmp_path / "c.yaml"]
    assert unread.naming("back.pdf") == []


def test_a_manifest_cut_short_in_a_name_counts_for_the_names_that_name_begins(tmp_path: Path) -> None:
    """Audit DA 1: a manifest written slowly read as far as '"./artwork.p': the file artwork.pdf
    was taken meanwhile by a waiting order (another order's PDF printed)."""
    unread = UnreadManifests()
    _noted(unread, tmp_path / "b.json", '{"order_id": "B", "artwork": ["./artwork.p')
    _noted(unread, tmp_path / "c.yaml", "order_id: C\nartwork: [front.pdf]\n")
    assert unread.naming("artwork.pdf") == [tmp_path / "b.json"]
    assert unread.naming("back.pdf") == []
    _noted(unread, tmp_path / "b.json", '{"order_id": "B", "artwork": ["./artwork.pdf"]}\n')
    assert unread.naming("artwork.pdf-2.pdf") == []


def test_a_utf16_manifest_a_json_escape_or_a_capital_beyond_ascii_names_its_files(tmp_path: Path) -> None:
    """Review DZ 2: a UTF-16 manifest (PowerShell 5's, which the reader takes) named nothing here (a
    zero byte beside each letter), nor did `\\u00dcber.pdf` (Python's json.dumps) or `Über.pdf`
    written as such: a waiting order took the PDF such a manifest on its way named."""
    unread = UnreadManifests()
    utf16 = tmp_path / "b.json"
    utf16.write_bytes('{"order_id": "B", "artwork": ["artwork.pdf"]}'.encode("utf-16"))
    unread.note(utf16, signature(os.stat(utf16)))
    _noted(unread, tmp_path / "c.json", '{"artwork": ["\\u00dcber.pdf", "\\ud83d\\ude00.pdf"]}')
    _noted(unread, tmp_path / "d.yaml", "artwork: [Øre.pdf]\n")
    assert unread.naming("artwork.pdf") == [utf16]
    assert unread.naming("über.pdf") == unread.naming("Über.pdf") == [tmp_path / "c.json"]
    assert unread.naming("\U0001f600.pdf") == [tmp_path / "c.json"]
    assert unread.naming("øre.pdf") == [tmp_path / "d.yaml"]
    cut = tmp_path / "e.yaml"
    cut.write_bytes("artwork: [Zoë.pdf]".encode("utf-16")[:-1])  # (half a character written yet)
    unread.note(cut, signature(os.stat(cut)))
    assert unread.naming("zoë.pdf") == [cut]
