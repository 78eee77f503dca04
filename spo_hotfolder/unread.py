"""Which file names the manifests not read yet at the top of ``inbox/`` mention: UnreadManifests.

At the top of ``inbox/`` orders may share file names (a storefront that names every order's PDF
``artwork.pdf``). A job waiting for such a name must not take a file while a manifest that names
it too is still on its way (written in place and settling, or waiting its turn in a backlog): that
manifest may be the file's order, and the waiting job would print another order's PDF (audit BA
D1). The engine asks ``naming(name)`` before it gives a file; a manifest is looked at as its
events come, by its words, not parsed (it may be half written): a name that is one of its words,
in any letter case, counts. A wrong "yes" only makes the file wait until that manifest is read.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import unicodedata
from pathlib import Path

from spo_hotfolder.stability import Signature

#: What separates the words of a manifest (YAML or JSON): white space, quotes, brackets, commas.
_SEPARATORS = re.compile(rb"[\s\"'\[\]{},]+")
#: A manifest's bytes looked at, at most: the rest of a longer one is not (it is refused anyway).
_READ_AT_MOST = 256 * 1024
#: Manifests kept at most (a burst of thousands is looked at; beyond this, the oldest go).
_KEPT_AT_MOST = 20_000
#: A JSON escape of one UTF-16 unit (``\u00dc``).
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _words_text(data: bytes) -> bytes:
    r"""A manifest's bytes as the lower-case UTF-8 text its words are looked for in: UTF-16 with its
    byte-order mark (what PowerShell 5 writes, which the manifest's reader takes) decoded, JSON's
    ``\u`` escapes (Python's json.dumps writes ``\u00dcber.pdf``) read, and every letter in lower
    case, not only ASCII's (review DZ 2: none of a UTF-16 manifest's words was seen, nor
    ``Über.pdf``, and a waiting order took the PDF such a manifest on its way named)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not data.startswith(codecs.BOM_UTF32_LE):
        text = data[: len(data) // 2 * 2].decode("utf-16", "replace")  # (cut short: half a character)
    else:
        text = data.decode("utf-8", "surrogateescape")
    if "\\u" in text:
        text = _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")  # (pairs: one character)
    return text.lower().encode("utf-8", "surrogateescape")


def _spellings(name: str) -> set[bytes]:
    """How a manifest may write ``name``: as it is, in either Unicode form, JSON-escaped; lower case."""
    forms = {name, unicodedata.normalize("NFC", name), unicodedata.normalize("NFD", name)}
    spelled: set[bytes] = set()
    for form in forms:
        spelled.add(form.lower().encode("utf-8", "surrogateescape"))
        spelled.add(json.dumps(form.lower())[1:-1].encode("ascii"))
    return spelled


def _as_named(word: bytes) -> bytes:
    """A word as the file it may name: ``./artwork.pdf``, ``a//b.pdf`` and JSON's ``a\\/b.pdf``
    name ``artwork.pdf`` and ``a/b.pdf`` to the manifest's parser (audit DA 1: "./artwork.pdf" in
    a manifest on its way was not seen, and a waiting order took that order's PDF)."""
    if b"/" not in word:
        return word
    parts = [part for part in word.replace(b"\\/", b"/").split(b"/") if part not in (b"", b".")]
    return b"/".join(parts) or word


def _unindex(index: dict[bytes, set[Path]], key: bytes, path: Path) -> None:
    paths = index.get(key)
    if paths is not None:
        paths.discard(path)
        if not paths:
            del index[key]


class UnreadManifests:
    """The manifests at the top of ``inbox/`` seen but not read yet, by the words they contain."""

    def __init__(self) -> None:
        # Each manifest: its signature, text, words, and the word its text ends in, where it may be
        # cut short (still being written: a name it begins counts; audit DA 1, "./artwork.p" then,
        # and the file was taken meanwhile), b"" where it ends between words.
        self._manifests: dict[Path, tuple[Signature, bytes, frozenset[bytes], bytes]] = {}
        self._by_word: dict[bytes, set[Path]] = {}
        self._by_last_word: dict[bytes, set[Path]] = {}  # (a name's beginnings looked up, not every manifest walked)

    def __len__(self) -> int:
        return len(self._manifests)

    def note(self, path: Path, sig: Signature) -> None:
        """``path`` (a manifest, ``sig`` as last seen) is there and not read yet: its words are
        looked at again if it changed since."""
        known = self._manifests.get(path)
        if known is not None and known[0] == sig:
            return
        try:
            with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as fh:
                text = _words_text(fh.read(_READ_AT_MOST))
        except OSError:
            self.forget(path)
            return
        self.forget(path)
        split = _SEPARATORS.split(text)
        words = frozenset(_as_named(word) for word in split if word)
        last = _as_named(split[-1]).lstrip(b"./") if split else b""
        self._manifests[path] = (sig, text, words, last)
        if last:
            self._by_last_word.setdefault(last, set()).add(path)
        for word in words:
            self._by_word.setdefault(word, set()).add(path)
        if len(self._manifests) > _KEPT_AT_MOST:
            self.forget(next(iter(self._manifests)))

    def forget(self, path: Path) -> None:
        """``path`` is read (or gone): it names nothing any more."""
        known = self._manifests.pop(path, None)
        if known is None:
            return
        for word in known[2]:
            _unindex(self._by_word, word, path)
        if known[3]:
            _unindex(self._by_last_word, known[3], path)

    def naming(self, name: str) -> list[Path]:
        """The manifests not read yet that mention a file called ``name`` (any letter case or
        Unicode form) and are still there."""
        found: set[Path] = set()
        for spelled in _spellings(name):
            if _SEPARATORS.search(spelled):
                # A name with a space, a quote, a comma or a bracket: not one word; looked for in
                # the whole text (rare: a storefront's names are plain).
                found.update(path for path, (_, text, _w, _l) in self._manifests.items() if spelled in text)
            else:
                found.update(self._by_word.get(spelled, ()))
            if self._by_last_word:
                for end in range(1, len(spelled) + 1):
                    found.update(self._by_last_word.get(spelled[:end], ()))
        there = []
        for path in sorted(found):
            if os.path.lexists(path):
                there.append(path)
            else:
                self.forget(path)  # removed unread (its events said nothing more)
        return there
