"""PDF names kept byte for byte through pypdf, from the file read to the file written.

A PDF name is a sequence of bytes (ISO 32000 7.3.5), and a page refers to its resources by name:
``/Bild#E9 Do`` draws the image its resources list as ``/Bild#E9``; ``/OC /Stanz#FC BDC`` hides
what follows when the layer its ``/Properties`` list as ``/Stanz#FC`` is off; ``/Separation
/Wei#DF`` is the plate a RIP matches to its white ink. pypdf (7.1) decodes a name's bytes as
UTF-8, else as GBK, else as Latin-1, and writes every name back as UTF-8: a name in another
encoding (Windows-1252 "Weiß", "Stanzkontur für", GBK font names) comes out as other bytes in
every object it writes again, while the page content, copied as it is, still says the old ones
(audit: the hidden die line printed, an image went missing, a spot colour's plate was renamed).

``install()`` makes pypdf read a name's bytes as UTF-8 with the bytes that are not UTF-8 kept as
they are (``surrogateescape``: one lone surrogate per such byte), and write them back the same:
a name read and written again is the same bytes, and a name read from page content is the same
string as the resource key read from its dictionary. ``pdfreport.name_text`` says such a name as
a person reads it, for messages.
"""

from __future__ import annotations

from typing import Any

from pypdf._utils import read_until_regex
from pypdf.errors import PdfReadError
from pypdf.generic import NameObject

from spo_hotfolder.pdfreport import name_text


def _read(stream: Any, pdf: Any) -> NameObject:
    name = stream.read(1)
    if name != NameObject.prefix:
        raise PdfReadError("Name read error")
    name += read_until_regex(stream=stream, regex=NameObject.delimiter_pattern, length=NameObject._LENGTH_LIMIT)
    return NameObject(NameObject.unnumber(name).decode("utf-8", "surrogateescape"))


def _renumber(self: NameObject) -> bytes:
    raw = str(self).encode("utf-8", "surrogateescape")
    if raw[:1] != b"/":
        raise PdfReadError(f"Incorrect first char in NameObject, should start with '/': ({name_text(self)})")
    table = NameObject.renumber_table
    parts = [b"/"]
    for byte in raw[1:]:
        if byte > 0x7E:
            parts.append(b"#%02X" % byte)
        else:
            parts.append(table.get(chr(byte)) or bytes((byte,)))
    return b"".join(parts)


def install() -> None:
    """Makes pypdf keep names byte for byte in this process (idempotent)."""
    NameObject.read_from_stream = staticmethod(_read)  # type: ignore[method-assign]
    NameObject.renumber = _renumber  # type: ignore[method-assign]


def from_content(raw: bytes) -> str:
    """A name as written in content (``F#E91`` without its ``/``), as the resource key of that
    name reads once ``install()``-ed."""
    return NameObject.unnumber(raw).decode("utf-8", "surrogateescape")
