"""YAML or JSON text -> plain Python values, remembering the source line of every key.

The config and the manifests are written by people, so every complaint about them must point at a
line. ``load()`` returns a :class:`Document`: the value (dicts, lists, scalars) plus, for each key
path (``hot_folders.indigo.path``, ``routes[0].to``, ``jobs[1].artwork[0].path``), the 1-based line
where that key or list item starts. Duplicate keys are reported in ``Document.problems`` (the last
value wins in ``Document.value``) so that callers can list them with their other errors. Text that
cannot be read at all (not UTF-8, a syntax error) raises :class:`SourceError` with line and column.

YAML is read with the safe loader (YAML 1.1): unquoted ``yes``/``no``/``on``/``off`` are booleans
and unquoted dates are ``date``/``datetime`` objects; callers check types accordingly.
"""

from __future__ import annotations

import bisect
import codecs
import contextlib
import difflib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

import yaml

Format = Literal["yaml", "json"]

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class SourceError(Exception):
    """The text cannot be read as a document at all.

    ``message`` says what is wrong in plain words, without the location; ``line`` and ``column``
    are 1-based when known. ``syntax`` is true for parser errors (the caller adds a hint about
    indentation and quoting). ``runs_to_the_end``: what the error is about runs on to the end of
    the text (a JSON string never closed), wherever it is said to start.
    """

    def __init__(
        self,
        message: str,
        line: int | None = None,
        column: int | None = None,
        *,
        syntax: bool = False,
        runs_to_the_end: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.syntax = syntax
        self.runs_to_the_end = runs_to_the_end

    def location(self) -> str:
        """``line 3, column 5`` (or just ``line 3``, or ``""`` when unknown)."""
        if self.line is None:
            return ""
        if self.column is None:
            return f"line {self.line}"
        return f"line {self.line}, column {self.column}"


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem found while reading an otherwise readable document (e.g. a duplicate key)."""

    path: str
    line: int
    message: str


@dataclass(slots=True)
class Document:
    value: object
    lines: Mapping[str, int] = field(default_factory=dict)  # key path -> 1-based line ("" is the top)
    # The source text of plain (unquoted) YAML numbers, booleans and dates, by key path: lets a caller spot
    # that ``order_id: 00123`` was read as the octal number 83 and ask for quotes, or keep
    # ``finish: no`` (YAML 1.1's false) as the text it was written as.
    number_texts: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # Where a YAML alias (``*A``) was used: its path -> the path of its anchor (``&A``), whose
    # values it shares; ``number_text`` looks there (the alias's values are not walked again).
    aliases: dict[str, str] = field(default_factory=dict)

    def number_text(self, path: str) -> str | None:
        """The source text of the plain YAML number or boolean at ``path`` (also when ``path``
        lies inside an alias), or None."""
        for _ in range(64):  # each round leaves one alias for its anchor: nested aliases are few
            text = self.number_texts.get(path)
            if text is not None or not self.aliases:
                return text
            prefix = path
            while prefix and prefix not in self.aliases:
                prefix = parent_path(prefix)
            if not prefix:
                return None
            path = self.aliases[prefix] + path[len(prefix) :]
        return None

    def line(self, path: str) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = parent_path(path)


# A document deeper than Python's parsers go (hundreds of brackets or levels inside each other):
# no manifest is, so it names no key path (there is none to give) but says what to look at.
_TOO_DEEP = (
    "the document is nested too deeply to be read (hundreds of lists or mappings inside each other, "
    "where a manifest has a few); check the program that wrote it"
)


def join_key(prefix: str, key: object) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def join_index(prefix: str, index: int) -> str:
    return f"{prefix}[{index}]"


def parent_path(path: str) -> str:
    """``a.b[2]`` -> ``a.b`` -> ``a`` -> ``""``."""
    if path.endswith("]"):
        return path[: path.rindex("[")]
    return path.rpartition(".")[0]


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to a mistyped ``word``, if one is close enough."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


#: Characters shown as nothing that are not format characters (category Cf): the combining
#: grapheme joiner, Hangul fillers, variation selectors (a product holding one is refused too).
IGNORABLE = frozenset("\u034f\u115f\u1160\u3164\uffa0") | frozenset(
    chr(c) for r in (range(0xFE00, 0xFE10), range(0xE0100, 0xE01F0)) for c in r
)
_INVISIBLE = re.compile(
    "[\x7f-\xa0\xad\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
    + "".join(re.escape(char) for char in sorted(IGNORABLE))
    + "]"
)


def describe(value: object) -> str:
    """A short rendering of a value for error messages: ``"five"``, ``2.5``, ``true``, ``a list``."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        # JSON escapes the C0 controls; invisible and direction-changing marks (U+202E turns the
        # rest of a line around) are escaped too, so that ERROR.txt shows what is there.
        return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime | date):
        return f"the date {value.isoformat()}"
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list | tuple):
        return "a list" if value else "an empty list"
    return f"a {type(value).__name__} value"


def _utf16_without_bom(head: bytes) -> bool:
    """Every other byte zero, the others not: Latin text saved as UTF-16 with no byte-order mark."""
    if len(head) < 4:
        return False
    for zeros, others in ((head[1::2], head[0::2]), (head[0::2], head[1::2])):
        if zeros.count(0) * 10 >= len(zeros) * 9 and 0 not in others:
            return True
    return False


def _utf32_without_bom(head: bytes) -> bool:
    """Three zero bytes of every four, the fourth not: Latin text saved as UTF-32."""
    if len(head) < 8:
        return False
    quads = len(head) // 4 * 4
    for low in (0, 3):  # little-endian: the character's byte first; big-endian: last
        chars = head[low:quads:4]
        zeros = b"".join(head[index:quads:4] for index in range(4) if index != low)
        if 0 not in chars and not zeros.strip(b"\0"):
            return True
    return False


def decode(data: bytes) -> str:
    """UTF-8 (a byte-order mark is accepted), or UTF-16 with its byte-order mark (what Windows
    PowerShell 5 writes by default) -> text; anything else (UTF-16 without the mark, zero bytes) is
    a SourceError."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)) or _utf32_without_bom(data[:200]):
        # (before UTF-16: UTF-32's little-endian mark begins with UTF-16's)
        raise SourceError("the file is UTF-32 text, not UTF-8; save it as UTF-8", 1, 1)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")  # the mark says which byte order, and is dropped
        except UnicodeDecodeError:
            raise SourceError(
                "the file is UTF-16 text (it starts with a UTF-16 byte-order mark) but cannot be read as such; "
                "save it as UTF-8",
                1,
                1,
            ) from None
    if _utf16_without_bom(data[:200]):
        raise SourceError("the file is UTF-16 text (without a byte-order mark), not UTF-8; save it as UTF-8", 1, 1)
    nul = data.find(0)
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        column = nul - (data.rfind(b"\n", 0, nul) + 1) + 1
        raise SourceError(
            "the file contains zero bytes (NUL): it is not a text file, or it was not completely written "
            "(some copy tools fill a file with zeros first); send it again",
            line,
            column,
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SourceError(
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be read); save it as UTF-8",
            line,
            column,
        ) from None


def open_value_at_end(text: str) -> str | None:
    """The last line of a YAML ``text`` when the document ends inside a value that could go on:
    a plain scalar (``quantity: 5`` of ``quantity: 500``, ``O'`` of ``O'Brien``) or a ``|``/``>``
    text block, ending where the text ends (no line break, comment or closing bracket or quote
    after it). None otherwise, or when the text is no single YAML document (the parser says so).
    Composes the node tree only, as the parser does: aliases are not expanded."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, ValueError, RecursionError):
        return None
    last: yaml.ScalarNode | None = None
    stack: list[yaml.Node] = [root] if root is not None else []
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if last is None or node.end_mark.index > last.end_mark.index:
                last = node
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
    if last is None or last.style not in (None, "|", ">"):
        return None
    if last.end_mark.index < len(text.rstrip(" \t")):
        return None  # something follows it: a comment, a closing bracket, a document marker
    return text.splitlines()[-1].strip() if text.strip() else None


def load(data: bytes | str, fmt: Format) -> Document:
    """Parses ``data`` as ``fmt``; an empty document has the value None."""
    text = decode(data) if isinstance(data, bytes) else data
    if fmt == "json":
        # A line break may be CR alone (a classic Mac editor): whitespace to JSON, and a line to
        # the person reading the error's line (helper FA 2: every error said "line 1"). YAML
        # counts it as a line break itself.
        return load_json(lf_line_ends(text))
    return load_yaml(text)


def lf_line_ends(text: str) -> str:
    """``text`` with its line breaks (CR LF, or CR alone) written LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --- YAML -------------------------------------------------------------------------------------


def load_yaml(text: str) -> Document:
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, found up front
        raise _reader_error(text, exc) from None
    try:
        node = loader.get_single_node()
        builder = _YamlBuilder(loader)
        if node is None:
            return Document(None)
        builder.lines[""] = node.start_mark.line + 1
        value = builder.build(node, "")
        if builder.aliases and _expanded_size(node) > MAX_EXPANDED_VALUES:
            first = next(iter(builder.aliases))
            raise SourceError(
                f"YAML error: the aliases (*name) in this document expand it to more than {MAX_EXPANDED_VALUES:,} "
                "values (a document built to exhaust the reader?); write the values out, or use fewer aliases (the "
                "first anchor, &name, they use is on this line)",
                builder.lines.get(first),
            )
        return Document(value, builder.lines, builder.number_texts, builder.problems, builder.aliases)
    except yaml.MarkedYAMLError as exc:
        raise _marked_error(exc) from None
    except yaml.reader.ReaderError as exc:
        raise _reader_error(text, exc) from None
    except yaml.YAMLError as exc:
        raise SourceError(f"YAML syntax error: {exc}", syntax=True) from None
    except RecursionError:
        raise SourceError(_TOO_DEEP) from None
    finally:
        loader.dispose()


def _marked_error(exc: yaml.MarkedYAMLError) -> SourceError:
    mark = exc.problem_mark or exc.context_mark
    parts = [part for part in (exc.context, exc.problem) if part]
    problem = ": ".join(parts) if parts else "cannot be parsed"
    context = exc.context or ""
    nbsp = _no_break_space(exc.problem_mark or exc.context_mark)
    if nbsp is not None:
        # Invisible, pasted from a web page or an e-mail: YAML takes it for text, not for a space
        # (helper FA 4: "mapping values are not allowed here", a line further on, no word of it).
        line, column = nbsp
        return SourceError(
            "YAML syntax error: a no-break space (U+00A0, often pasted from a web page or an e-mail) where YAML "
            "wants a normal space, in the indentation or after a ':' or '-': replace it with a normal space",
            line,
            column,
            syntax=True,
        )
    if (
        exc.context_mark is not None
        and exc.problem_mark is not None
        and exc.context_mark.line != exc.problem_mark.line
        and context == "while scanning a simple key"
    ):
        # A key without its colon ("product bc-85x55"): noticed where the next line begins, which
        # is not where it is (helper FA 1: the line after, or "cut off" for the last line).
        mark = exc.context_mark
        problem = "this line is neither 'key: value' nor '- item': is the ':' after the key missing?"
    elif (
        exc.context_mark is not None
        and exc.problem_mark is not None
        and exc.context_mark.line != exc.problem_mark.line
        and ("quoted scalar" in context or "flow" in context)
    ):
        # An unclosed quote or bracket: where it was noticed (often the end of the file, or the next
        # key) is not where it is. The line to look at is where it starts.
        mark = exc.context_mark
        noticed = exc.problem_mark.line + 1
        problem += f" (the quote or bracket that starts here is not closed; noticed on line {noticed})"
    # Some of PyYAML's problems are "found character '\t' that cannot start any token" and the like.
    if "'\\t'" in problem and "cannot start any token" in problem:
        problem = (
            "a tab character where YAML wants spaces: YAML does not allow tabs for indentation; indent with "
            "spaces (set the editor to insert spaces)"
        )
        if mark is not None and _text_before(mark).strip():
            # (audit AH R1: "order_id:<tab>"A1"": no indentation there, a tab after the key)
            problem = "a tab character after a key or a dash: YAML wants a space there; replace the tab with a space"
    if "could not determine a constructor for the tag" in problem:
        # "!!python/object/apply:os.system [...]", "!custom": never made into anything (audit AH R2:
        # said as a syntax error, with advice about indentation and quoting).
        tag = re.search(r"tag '([^']*)'", problem)
        named = f" {tag.group(1).replace('tag:yaml.org,2002:', '!!')}" if tag else ""
        text = (
            f"YAML error: the tag{named} is not allowed: only plain values are read (texts, numbers, lists, "
            "mappings); remove the tag (the word starting with '!')"
        )
        return SourceError(text, mark.line + 1 if mark else None, mark.column + 1 if mark else None)
    if context.startswith("found duplicate anchor") and exc.context_mark is not None:
        # PyYAML's "found duplicate anchor 'c'; first occurrence: second occurrence".
        first = exc.context_mark.line + 1
        problem = f"{context.split(';')[0]} (first on line {first}): each anchor (&name) may be defined once"
    if mark is None:
        return SourceError(f"YAML syntax error: {problem}", syntax=True)
    return SourceError(f"YAML syntax error: {problem}", mark.line + 1, mark.column + 1, syntax=True)


#: How many no-break spaces before a YAML error are tried as spaces (a parse each), nearest first;
#: and the largest text they are tried in.
_NO_BREAK_SPACES_TRIED = 5
_NO_BREAK_SPACE_TEXT_MAX = 64 * 1024  # (each try a parse: ~0.1 s at 64 KiB; review FG 3)
#: YAML's line breaks (PyYAML counts each as one; CR LF as one).
_YAML_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _no_break_space(mark: yaml.Mark | None) -> tuple[int, int] | None:
    """(line, column) of the no-break space (U+00A0) the YAML error at ``mark`` is due to, if it is
    due to one: the nearest one before it that, read as a space, makes the error go away or move on
    past it. One in a quoted text, a value or a comment is never blamed for an error elsewhere
    (review FB 2: it was, for a tab or an unclosed quote further on)."""
    buffer = mark.buffer if mark is not None else None
    if mark is None or not isinstance(buffer, str) or "\u00a0" not in buffer:
        return None
    text = buffer.rstrip("\0")
    if len(text) > _NO_BREAK_SPACE_TEXT_MAX:
        return None
    at = text.rfind("\u00a0", 0, mark.pointer + 1)
    for _ in range(_NO_BREAK_SPACES_TRIED):
        if at < 0:
            return None
        if _parses_past(text[:at] + " " + text[at + 1 :], mark.pointer):
            breaks = list(_YAML_BREAK.finditer(text, 0, at))
            return len(breaks) + 1, at - (breaks[-1].end() if breaks else 0) + 1
        at = text.rfind("\u00a0", 0, at)
    return None


def _parses_past(text: str, pointer: int) -> bool:
    """Whether ``text`` reads as YAML (its events only: no alias is expanded) without an error at or
    before ``pointer``."""
    try:
        for _event in yaml.parse(text, Loader=yaml.SafeLoader):
            pass
        return True
    except yaml.MarkedYAMLError as exc:
        again = exc.problem_mark or exc.context_mark
        return again is not None and again.pointer > pointer
    except (yaml.YAMLError, RecursionError):
        return False


def _text_before(mark: yaml.Mark) -> str:
    """What the line holds before ``mark`` (its text, where the reader kept it)."""
    buffer = mark.buffer
    if not isinstance(buffer, str):
        return ""
    return buffer[buffer.rfind("\n", 0, mark.pointer) + 1 : mark.pointer]


def _reader_error(text: str, exc: yaml.reader.ReaderError) -> SourceError:
    position = max(0, min(exc.position, len(text)))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    character = exc.character if isinstance(exc.character, str) else chr(exc.character)
    return SourceError(
        f"YAML syntax error: the character {character!r} (#x{ord(character):04x}) is not allowed in YAML",
        line,
        column,
        syntax=True,
    )


#: At most this many values (scalars, lists, mappings) in a YAML document once its aliases are
#: expanded, as everything that reads the values later (JSON in the ledger, routes, templates) sees
#: them: a "billion laughs" of 600 bytes (an anchor of 9 aliases of an anchor of 9 ...) expands to
#: billions. A document without aliases stays far below it (a 1 MiB manifest holds < 600,000).
MAX_EXPANDED_VALUES = 1_000_000


def _expanded_size(root: yaml.Node) -> int:
    """How many values ``root`` holds with every alias expanded (each shared node counted each
    time it is used), stopping early above ``MAX_EXPANDED_VALUES``; linear in the nodes."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if not children_done:
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        # (a node that contains itself was refused by the builder before this is called)
        total = 1 + sum(sizes.get(id(child), 0) for child in children)
        sizes[id(node)] = min(total, MAX_EXPANDED_VALUES + 1)
    return sizes[id(root)]


class _YamlBuilder:
    """Walks the composed node tree, building values and recording the line of each key path."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.lines: dict[str, int] = {}
        self.number_texts: dict[str, str] = {}
        self.problems: list[Problem] = []
        # An alias is the same node object as its anchor: build it once (this also keeps a
        # "billion laughs" document linear), and refuse a node that contains itself.
        self._built: dict[int, object] = {}
        self._active: set[int] = set()
        self._first_path: dict[int, str] = {}  # where each node was built
        self.aliases: dict[str, str] = {}

    def build(self, node: yaml.Node, path: str) -> object:
        key = id(node)
        if key in self._built:
            first = self._first_path.get(key)
            if first is not None and first != path:
                self.aliases[path] = first
            return self._built[key]
        if key in self._active:
            raise SourceError(
                "an alias refers to a node that contains it (a recursive structure)",
                node.start_mark.line + 1,
                node.start_mark.column + 1,
                syntax=True,
            )
        self._active.add(key)
        self._first_path[key] = path
        try:
            if isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
                value: object = self._mapping(node, path)
            elif isinstance(node, yaml.SequenceNode) and node.tag == _SEQ_TAG:
                value = self._sequence(node, path)
            else:
                value = self._scalar(node, path)
        finally:
            self._active.discard(key)
        self._built[key] = value
        return value

    def _scalar(self, node: yaml.Node, path: str | None) -> object:
        try:
            value: object = self.loader.construct_object(node, deep=True)
        except ValueError as exc:  # e.g. an unquoted "2026-13-45" is resolved as a date
            raise SourceError(
                f"YAML error: the value {node.value!r} cannot be read ({exc}); put it in quotes if it is meant as text",
                node.start_mark.line + 1,
                node.start_mark.column + 1,
                syntax=True,
            ) from None
        if isinstance(value, int) and value.bit_length() > _LONGEST_INT_BITS:
            # (0x..., 0b..., 0o... and 1:30:... are built past Python's 4,300-digit limit for
            # text: its str() raised where the value was shown: audit CX 2)
            raise SourceError(
                f"a number of {len(node.value)} characters ({node.value[:12]}...), far more than any quantity or id "
                "has: a value written without its quotes, or a damaged file?",
                node.start_mark.line + 1,
                node.start_mark.column + 1,
            )
        if (
            path is not None
            and isinstance(node, yaml.ScalarNode)
            and node.style is None
            and isinstance(value, int | float | date)
        ):
            self.number_texts[path] = node.value
        return value

    def _sequence(self, node: yaml.SequenceNode, path: str) -> list[object]:
        items: list[object] = []
        for index, child in enumerate(node.value):
            child_path = join_index(path, index)
            self.lines.setdefault(child_path, child.start_mark.line + 1)
            items.append(self.build(child, child_path))
        return items

    def _mapping(self, node: yaml.MappingNode, path: str) -> dict[object, object]:
        # By type too: 1, 1.0 and true are one key to Python, not to YAML (audit BZ 1: "duplicate key
        # 'True'" of `1:` and `true:`, each refused anyway as a name that is no text).
        first_line: dict[tuple[type, object], int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self._key(key_node)
            line = key_node.start_mark.line + 1
            if (
                isinstance(key, int)
                and not isinstance(key, bool)
                and key_node.style is None
                and key_node.value.lstrip("+") != str(key)
            ):
                # `0750:` is the number 488 to YAML 1.1 (octal), `1_000:` 1000: a product code or a
                # hot folder's name taken as another one (audit CY 3), as a value written so is refused.
                self.problems.append(
                    Problem(
                        join_key(path, key_node.value),
                        line,
                        f"this key is read as the number {key}, not as written ({key_node.value}); put it in quotes "
                        f"as written ('{key_node.value}':) if it is a name",
                    )
                )
            if (type(key), key) in first_line:
                self.problems.append(
                    Problem(
                        join_key(path, key),
                        line,
                        f"duplicate key '{key}' (also on line {first_line[type(key), key]}); a key may appear only "
                        "once here",
                    )
                )
            else:
                first_line[type(key), key] = line
        self.loader.flatten_mapping(node)  # resolves "<<: *anchor" merge keys
        result: dict[object, object] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node)
            key_path = join_key(path, key)
            self.lines[key_path] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, key_path)
        return result

    def _key(self, node: yaml.Node) -> object:
        if not isinstance(node, yaml.ScalarNode):
            raise SourceError(
                "a key must be a plain value (a name), not a list or mapping",
                node.start_mark.line + 1,
                node.start_mark.column + 1,
                syntax=True,
            )
        key = self._scalar(node, None)
        try:
            hash(key)
        except TypeError:  # pragma: no cover - scalars are hashable; guard for odd tags
            raise SourceError(
                "a key must be a plain value", node.start_mark.line + 1, node.start_mark.column + 1
            ) from None
        return key


# --- JSON -------------------------------------------------------------------------------------

_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_ATOM = re.compile(r"-?Infinity|NaN|true|false|null|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


#: An integer YAML reads in another base (0x..., 0b..., 1:30) beyond this size has more decimal
#: digits than Python turns into text (4,300): refused as the JSON one is.
_LONGEST_INT_BITS = 13_000

#: A number with more digits than Python converts (``sys.get_int_max_str_digits``, 4300).
_LONG_NUMBER = re.compile(r"(?<![\d.\w\"])-?\d{4000,}")


#: The JSON parser's messages that end in "at" (its position follows apart, as line and column):
#: said as a whole sentence (audit Q: "Unterminated string starting at; check ...").
_JSON_WORDS = {
    "Unterminated string starting at": "a text in quotes starts here and is never closed",
    "Invalid control character at": "a text in quotes holds a line break or another control character here",
}


class JsonFloat(float):
    """A JSON number with a fraction or an exponent, with its text as written (``1.50`` reads 1.5):
    a free-form attribute keeps it as written, as YAML's numbers are (audit AI 5: a route on
    ``weight: "1.50"`` matched the YAML order, not the same order as JSON)."""

    text: str

    def __new__(cls, text: str) -> JsonFloat:
        number = super().__new__(cls, text)
        number.text = text
        return number


def load_json(text: str) -> Document:
    """``json.loads`` reads the value; the key lines are found only when they are first asked for
    (a valid manifest never asks: they are for error messages), unless a key is given twice."""
    if not text.strip():
        return Document(None)
    duplicates = False

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        nonlocal duplicates
        mapping = dict(items)  # the last value of a duplicate key wins, as json.loads does
        if len(mapping) != len(items):
            duplicates = True
        return mapping

    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_float=JsonFloat)
    except json.JSONDecodeError as exc:
        message = _JSON_WORDS.get(exc.msg, exc.msg)
        # (json.loads says "Unterminated string" only when the file ends inside the string)
        raise SourceError(
            f"JSON syntax error: {message}",
            exc.lineno,
            exc.colno,
            syntax=True,
            runs_to_the_end=exc.msg.startswith("Unterminated string"),
        ) from None
    except RecursionError:
        raise SourceError(_TOO_DEEP) from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        long = _LONG_NUMBER.search(text)
        if long is None:
            raise SourceError(f"JSON error: {exc}") from None
        line = text.count("\n", 0, long.start()) + 1
        column = long.start() - (text.rfind("\n", 0, long.start()) + 1) + 1
        digits = len(long.group().lstrip("-"))
        raise SourceError(
            f"a number of {digits} digits, far more than any quantity or id has: a value written without its "
            "quotes, or a damaged file?",
            line,
            column,
        ) from None
    if not duplicates:
        return Document(value, _JsonLines(text))
    scanner = _scan_json(text)
    return Document(value, scanner.lines, {}, scanner.problems)


def _scan_json(text: str) -> _JsonScanner:
    scanner = _JsonScanner(text)
    try:
        scanner.scan()
    except RecursionError:
        raise SourceError(_TOO_DEEP) from None
    return scanner


class _JsonLines(Mapping[str, int]):
    """The key lines of a JSON text that ``json.loads`` accepted, found on first use."""

    def __init__(self, text: str) -> None:
        self._text: str | None = text
        self._lines: dict[str, int] = {}

    def _found(self) -> dict[str, int]:
        if self._text is not None:
            text, self._text = self._text, None
            with contextlib.suppress(SourceError):  # too deep to walk: messages without lines
                self._lines = _scan_json(text).lines
        return self._lines

    def __getitem__(self, path: str) -> int:
        return self._found()[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._found())

    def __len__(self) -> int:
        return len(self._found())


class _JsonScanner:
    """Walks text that ``json.loads`` accepted, recording key lines and duplicate keys."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.newlines = [match.start() for match in re.finditer("\n", text)]
        self.lines: dict[str, int] = {}
        self.problems: list[Problem] = []

    def line_at(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def scan(self) -> None:
        self._skip_ws()
        self.lines[""] = self.line_at(self.pos)
        self._value("")

    def _skip_ws(self) -> None:
        match = _JSON_WS.match(self.text, self.pos)
        if match:
            self.pos = match.end()

    def _string(self) -> str:
        match = _JSON_STRING.match(self.text, self.pos)
        if match is None:  # pragma: no cover - json.loads accepted the text
            raise SourceError("JSON syntax error: expected a string", self.line_at(self.pos), syntax=True)
        self.pos = match.end()
        decoded: str = json.loads(match.group(0))
        return decoded

    def _value(self, path: str) -> None:
        self._skip_ws()
        char = self.text[self.pos]
        if char == "{":
            self._object(path)
        elif char == "[":
            self._array(path)
        elif char == '"':
            self._string()
        else:
            match = _JSON_ATOM.match(self.text, self.pos)
            if match is None:  # pragma: no cover - json.loads accepted the text
                raise SourceError("JSON syntax error", self.line_at(self.pos), syntax=True)
            self.pos = match.end()

    def _object(self, path: str) -> None:
        self.pos += 1
        self._skip_ws()
        if self.text[self.pos] == "}":
            self.pos += 1
            return
        first_line: dict[str, int] = {}
        while True:
            self._skip_ws()
            line = self.line_at(self.pos)
            key = self._string()
            key_path = join_key(path, key)
            if key in first_line:
                self.problems.append(
                    Problem(
                        key_path,
                        line,
                        f"duplicate key '{key}' (also on line {first_line[key]}); a key may appear only once here",
                    )
                )
            else:
                first_line[key] = line
            self.lines[key_path] = line
            self._skip_ws()
            self.pos += 1  # ':'
            self._value(key_path)
            self._skip_ws()
            char = self.text[self.pos]
            self.pos += 1
            if char == "}":
                return

    def _array(self, path: str) -> None:
        self.pos += 1
        self._skip_ws()
        if self.text[self.pos] == "]":
            self.pos += 1
            return
        index = 0
        while True:
            self._skip_ws()
            item_path = join_index(path, index)
            self.lines.setdefault(item_path, self.line_at(self.pos))
            self._value(item_path)
            self._skip_ws()
            char = self.text[self.pos]
            self.pos += 1
            if char == "]":
                return
            index += 1
