"""The daemon's configuration: YAML -> validated, frozen Config.

Every error is reported as ``file:line: key.path: message``, all of them at once; unknown keys are
errors. Relative paths are resolved against the directory of the config file.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import ipaddress
import json
import math
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Literal, cast

import yaml

from spo_hotfolder.yamlsource import (
    Document,
    Format,
    SourceError,
    describe,
    did_you_mean,
    join_index,
    join_key,
    load,
)

Severity = Literal["error", "warning", "off"]
CHECK_NAMES: tuple[str, ...] = ("pages", "trim", "bleed", "fonts", "mixed_sizes", "encryption", "repaired")
DEFAULT_SEVERITY: Mapping[str, Severity] = {
    "pages": "error",
    "trim": "error",
    "bleed": "error",
    "fonts": "error",
    "mixed_sizes": "warning",
    "encryption": "warning",
    # A PDF pypdf could read only by repairing it: what it read may not be what was sent (a file
    # overwritten in place while it was taken, damaged on the way). An operator decides.
    "repaired": "error",
}
FOLDER_NAMES: tuple[str, ...] = ("inbox", "work", "quarantine", "failed", "done", "rejected", "state")
DEFAULT_IGNORE: tuple[str, ...] = (".*", "~$*", "*.tmp", "*.part", "*.crdownload", "Thumbs.db", "desktop.ini")


def _looks_like_an_address(host: str) -> bool:
    """An IPv4 address written out (digits and dots) or an IPv6 one (colons): not a host name."""
    return ":" in host or all(part.isascii() and part.isdigit() for part in host.split("."))


class ConfigError(Exception):
    """The config is invalid; ``errors`` holds every problem as ``file:line: key.path: message``."""

    def __init__(self, errors: list[str], *, unreadable: bool = False) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors
        #: The file itself could not be read (missing, a folder, no permission): not "invalid".
        self.unreadable = unreadable

    def one_line(self) -> str:
        """The first problem, as a command's one-line error or the daemon's refusal says it (a file
        missing or unreadable is no "invalid config": audit AW)."""
        more = f" (and {len(self.errors) - 1} more; see `spo-hotfolder check-config`)" if len(self.errors) > 1 else ""
        return f"{'' if self.unreadable else 'invalid config: '}{self.errors[0] if self.errors else 'invalid'}{more}"


@dataclass(frozen=True, slots=True)
class PathsConfig:
    root: Path
    inbox: Path
    work: Path
    quarantine: Path
    failed: Path
    done: Path
    rejected: Path
    state: Path

    def spool_folders(self) -> dict[str, Path]:
        return {name: getattr(self, name) for name in FOLDER_NAMES}

    def finished_folder(self, job_id: str) -> Path | None:
        """A folder of the job's name in done/ or rejected/ with its STATUS.txt (one a ledger that is
        gone finished: a manifest for it is refused without ``reprint: true``), if there is one."""
        for area in (self.done, self.rejected):
            if (area / job_id / "STATUS.txt").is_file():
                return area / job_id
        return None

    def find_job_folder(self, job_id: str, recorded: Path) -> Path | None:
        """A job's folder: ``recorded`` (where the ledger says), or, after a move a crash or a person
        cut short, wherever a folder of the job's name is; None when there is none."""
        if recorded.is_dir():
            return recorded
        for area in ("work", "quarantine", "failed", "done", "rejected"):
            candidate: Path = getattr(self, area) / job_id
            if candidate.is_dir():
                return candidate
        return None


@dataclass(frozen=True, slots=True)
class WatchConfig:
    mode: Literal["auto", "native", "polling"] = "auto"
    poll_interval_seconds: float = 2.0
    settle_seconds: float = 1.0
    rescan_seconds: float = 60.0
    artwork_timeout_seconds: float = 3600.0
    ignore: tuple[str, ...] = DEFAULT_IGNORE


def glob_match(value: str, pattern: str) -> bool:
    """A config glob (``blocking.products``, ``products`` keys, route conditions) against a
    manifest's value, whatever the letter case of either: storefronts spell product codes and
    attribute values in varying case ("Poster-A1"), and a rule meant to hold "poster-*" for review
    must not let one through. Nor whatever its Unicode form: "café" typed on a Mac comes
    decomposed (e + a combining accent), and looks the same as the composed one (audit AI 2: a
    "café-*" blocking rule let it through). Case folding makes some letters two ("ß" is "ss"), so
    a pattern matches too where each letter is only lowered: "stra?e" matches "Straße" (audit FZ 2)."""
    return fnmatch.fnmatchcase(_folded(value), _folded(pattern)) or fnmatch.fnmatchcase(
        _lowered(value), _lowered(pattern)
    )


#: A URL given for a folder ("smb://nas/spool", "file:///srv/spool").
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_TYPOGRAPHIC_QUOTES = "\u201c\u201d\u2018\u2019\u201e\u00ab\u00bb"


def _folded(text: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def _lowered(text: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).lower())


def product_glob_problem(pattern: str) -> str | None:
    """A product glob beginning or ending with a space never matches: a manifest's product with one
    is refused (audit AK R1: `blocking.products: ["poster-* "]` was "config OK", holding nothing)."""
    if pattern != pattern.strip():
        return (
            f"begins or ends with a space ({pattern!r}): no product does (a manifest's product with one is "
            f"refused), so it would never match; write {pattern.strip()!r}"
        )
    return None


def glob_problem(pattern: str) -> str | None:
    """What makes ``pattern`` other than its writer meant, in words; None when nothing does. A
    ``[`` never closed is read as the character itself (``"bc-[0-9*"`` matches only a product
    named so), and a range written backwards (``[z-a]``) matches no character, so the pattern never
    matches (audit 12-05 B 2: both accepted without a word, the rule silently doing nothing)."""
    i = 0
    while i < len(pattern):
        if pattern[i] != "[":
            i += 1
            continue
        # As fnmatch reads a set: an optional '!', then a ']' right after is a member, not the end.
        j = i + 1
        if j < len(pattern) and pattern[j] == "!":
            j += 1
        if j < len(pattern) and pattern[j] == "]":
            j += 1
        end = pattern.find("]", j)
        if end < 0:
            return (
                f"has a '[' that is never closed ({pattern!r}): a glob reads '[...]' as one of the characters "
                "inside, and an unclosed '[' as itself; to match a '[' itself write '[[]'"
            )
        members = pattern[i + 1 : end].removeprefix("!")
        k = 0
        while k < len(members):
            if k + 2 < len(members) and members[k + 1] == "-":
                if members[k] > members[k + 2]:
                    low, high = members[k], members[k + 2]
                    return (
                        f"has the range '{low}-{high}' backwards ({pattern!r}): it holds no character, so the "
                        f"pattern never matches; write '{high}-{low}'"
                    )
                k += 3
            else:
                k += 1
        i = end + 1
    return None


@dataclass(frozen=True, slots=True)
class BlockingConfig:
    block_on_arrival: bool = False
    products: tuple[str, ...] = ()

    def blocks(self, product: str) -> bool:
        """True when the config's rules block a job for ``product`` (the manifest may override)."""
        if self.block_on_arrival:
            return True
        return any(glob_match(product, pattern) for pattern in self.products)


@dataclass(frozen=True, slots=True)
class ValidationConfig:
    require_embedded_fonts: bool = True
    size_tolerance_mm: float = 1.0
    checks: Mapping[str, Severity] = field(default_factory=lambda: dict(DEFAULT_SEVERITY))

    def severity(self, check: str) -> Severity:
        if check == "fonts" and not self.require_embedded_fonts:
            return "off"
        return self.checks.get(check, DEFAULT_SEVERITY[check])


@dataclass(frozen=True, slots=True)
class ProductSpec:
    pattern: str
    trim_mm: tuple[float, float] | None = None
    bleed_mm: float | None = None
    pages: int | None = None


@dataclass(frozen=True, slots=True)
class HotFolderConfig:
    name: str
    path: Path
    filename: str = "{order_id}_{job_id}_{product}_x{quantity}.pdf"
    staging: Path | None = None
    ticket: Literal["none", "json"] = "none"


@dataclass(frozen=True, slots=True)
class RouteRule:
    number: int  # 1-based position in `routes`, as shown to people ("route 2")
    when: Mapping[str, str]  # key ("product", "customer", "order_id", "attributes.<k>") -> glob
    to: str  # a hot folder name, or "skip"


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    max_attempts: int = 5
    backoff_seconds: tuple[float, ...] = (10.0, 30.0, 120.0, 600.0, 1800.0)
    # A call into a hot folder (a look, a chunk of the copy, the rename) that has not returned in
    # this long fails the attempt: a share whose server is gone (shares.py).
    share_timeout_seconds: float = 10.0

    def backoff(self, failed_attempts: int) -> float:
        """Seconds to wait after the ``failed_attempts``-th failure (the last value repeats)."""
        index = max(0, min(failed_attempts - 1, len(self.backoff_seconds) - 1))
        return self.backoff_seconds[index]


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    done_days: float = 30.0


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    listen: str | None = None  # "host:port"

    def address(self) -> tuple[str, int] | None:
        if self.listen is None:
            return None
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


@dataclass(frozen=True, slots=True)
class Config:
    source: Path
    paths: PathsConfig
    watch: WatchConfig
    blocking: BlockingConfig
    validation: ValidationConfig
    products: tuple[ProductSpec, ...]
    hot_folders: Mapping[str, HotFolderConfig]
    routes: tuple[RouteRule, ...]
    delivery: DeliveryConfig
    retention: RetentionConfig
    metrics: MetricsConfig
    logging: LoggingConfig
    #: The file's bytes this config was read from (b"" for one not read from a file): what the
    #: daemon keeps as the config it ran on, not the file as it is later (review EK 1).
    text: bytes = field(default=b"", repr=False, compare=False)

    def product_spec(self, product: str) -> ProductSpec | None:
        """The first product spec whose glob matches ``product``, in config order."""
        for spec in self.products:
            if glob_match(product, spec.pattern):
                return spec
        return None


# --- reading and validating -------------------------------------------------------------------

FILENAME_FIELDS: tuple[str, ...] = ("order_id", "job_id", "product", "quantity", "customer")
ROUTE_KEYS: tuple[str, ...] = ("product", "customer", "order_id")
# Slotted dataclasses have no class-level defaults to read, so keep one default instance of each.
_DEFAULT_WATCH = WatchConfig()
_DEFAULT_BLOCKING = BlockingConfig()
_DEFAULT_VALIDATION = ValidationConfig()
_DEFAULT_DELIVERY = DeliveryConfig()
_DEFAULT_RETENTION = RetentionConfig()
#: The largest number a duration may be (seconds: ~31 years), and retention.done_days (100 years):
#: beyond them a date cannot be computed, and every job or purge using it would fail.
MAX_NUMBER = 1e9
MAX_DONE_DAYS = 36500.0
#: The longest a spool folder's path may be, in bytes: a job's files lie a job id, a folder and a
#: file name (255 bytes) below it, and an order's folder in inbox/ a few folders deep, all within
#: the system's 4,096 bytes a path (audit BX 3: a root of 3,850 bytes left jobs stuck, unsaid).
MAX_SPOOL_PATH = 1024
#: The longest paths.state may be: SQLite opens the ledger (state/ledger.sqlite3, and its -wal
#: and -shm files) only at a path of at most 504 bytes (audit BX 4: "unable to open database file").
MAX_STATE_PATH = 504 - len("/ledger.sqlite3")
_DEFAULT_LOGGING = LoggingConfig()
_DEFAULT_FILENAME = HotFolderConfig(name="", path=Path()).filename
_NAME_RE = re.compile(r"[A-Za-z0-9._-]+")
_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
_LEVELS = ("debug", "info", "warning", "error")

_SECTIONS: dict[str, tuple[str, ...]] = {
    "paths": ("root", *FOLDER_NAMES),
    "watch": (
        "mode",
        "poll_interval_seconds",
        "settle_seconds",
        "rescan_seconds",
        "artwork_timeout_seconds",
        "ignore",
    ),
    "blocking": ("block_on_arrival", "products"),
    "validation": ("require_embedded_fonts", "size_tolerance_mm", "checks"),
    "products": (),
    "hot_folders": (),
    "routes": (),
    "delivery": ("max_attempts", "backoff_seconds", "share_timeout_seconds"),
    "retention": ("done_days",),
    "metrics": ("listen",),
    "logging": ("level", "format"),
}
_PRODUCT_KEYS = ("trim_mm", "bleed_mm", "pages")
_HOT_FOLDER_KEYS = ("path", "filename", "staging", "ticket")
_ROUTE_ITEM_KEYS = ("when", "to")


def template_placeholders(template: str) -> list[str]:
    """The ``{name}`` placeholders of a file-name template, in order; ValueError for a stray brace."""
    names = _PLACEHOLDER_RE.findall(template)
    rest = _PLACEHOLDER_RE.sub("", template)
    if "{{" in template or "}}" in template:
        # (Python's escape for a brace: audit T 5 was told "without its partner" of a balanced pair)
        raise ValueError("'{{' and '}}' are not an escape here: a template puts no braces into a file name")
    if "{" in rest or "}" in rest:
        raise ValueError("a '{' or '}' without its partner")
    return names


def load_config(
    path: Path, *, filesystems: bool = False, probe: FolderProbe | None = None, read_as: Path | None = None
) -> Config:
    """Reads and validates ``path``; raises ConfigError listing every problem (``filesystems``:
    also what the folders it names make impossible now, as ``check-config`` lists them; hot and
    staging folders looked at through ``probe``, if given, within delivery.share_timeout_seconds;
    ``read_as``: a copy of that config file, its relative paths read from that file's folder)."""
    path = Path(path)
    shown = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{shown}: the config file does not exist"], unreadable=True) from None
    except IsADirectoryError:
        raise ConfigError([f"{shown}: is a folder, not a config file"], unreadable=True) from None
    except PermissionError as exc:
        # (review GS 3: a monitoring account outside the group running `health`)
        raise ConfigError(
            [
                f"{shown}: cannot read the config file: {exc.strerror or exc}: run this as a user who may read it "
                "(the daemon's user, or a member of its group)"
            ],
            unreadable=True,
        ) from None
    except OSError as exc:
        raise ConfigError([f"{shown}: cannot read the config file: {exc.strerror or exc}"], unreadable=True) from None
    fmt: Format = "json" if path.suffix.lower() == ".json" else "yaml"
    try:
        document = load(data, fmt)
    except SourceError as exc:
        message = exc.message
        if exc.column is not None:
            message = f"{message} (column {exc.column})"
        if exc.syntax:
            message += (
                "; check the commas, brackets and quoting near that line"
                if fmt == "json"
                else "; check the indentation and quoting near that line"
            )
        raise ConfigError([f"{shown}:{exc.line or 1}: {message}"]) from None
    if document.value is None:
        # (In SPEC 3's form "file:line: key.path: message", as every other error: the key missing.)
        raise ConfigError([f"{shown}:1: paths: missing; the config file is empty; it needs at least paths.root"])
    if not isinstance(document.value, dict):
        raise ConfigError(
            [
                f"{shown}:{document.line('') or 1}: the config must be a mapping of sections "
                f"(paths:, watch:, hot_folders:, ...), not {describe(document.value)}"
            ]
        )
    source = (read_as or path).absolute()
    config = _ConfigReader(shown, source, document).read(filesystems=filesystems, probe=probe)
    return dataclasses.replace(config, text=data)


def spool_only(source: Path, paths: PathsConfig) -> Config:
    """A config of ``paths`` alone, every other section as by default (no hot folders, no routes):
    what ``jobs`` and ``show`` read the ledger with while the file has an error elsewhere."""
    return Config(
        source=Path(source),
        paths=paths,
        watch=_DEFAULT_WATCH,
        blocking=_DEFAULT_BLOCKING,
        validation=_DEFAULT_VALIDATION,
        products=(),
        hot_folders={},
        routes=(),
        delivery=_DEFAULT_DELIVERY,
        retention=_DEFAULT_RETENTION,
        metrics=MetricsConfig(),
        logging=_DEFAULT_LOGGING,
    )


def load_paths(path: Path) -> PathsConfig | None:
    """Only the spool folders of the config at ``path`` (None if they cannot be read): for
    ``health``, ``jobs`` and ``show`` while the file has an error elsewhere, which the running
    daemon, keeping the config it read before, does not have."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    try:
        document = load(data, "json" if Path(path).suffix.lower() == ".json" else "yaml")
    except SourceError:
        # (a byte order mark kept, or a JSON config, and the root was not found: a config that
        # check-config passed, an error saved in it, and `jobs` or `release` refused: review EK 2)
        text = data.decode("utf-8-sig", "replace")
        base = Path(path).absolute().parent
        if Path(path).suffix.lower() == ".json":
            return _paths_from_json_text(text, base)
        return _paths_from_text(text, base)
    if not isinstance(document.value, dict):
        return None
    reader = _ConfigReader(str(path), Path(path).absolute(), document)
    reader.errors = []
    paths = reader.read_paths(document.value)
    return paths if not reader.errors else None


_BLOCK_PATHS = re.compile(r"^paths\s*:\s*(?:#.*)?$")
_BLOCK_KEY = re.compile(r"^\s+(\w+)\s*:\s*(.+?)\s*(?:\s#.*)?$")
_FLOW_PATHS = re.compile(r"^paths\s*:\s*\{(.*?)\}")
_FLOW_KEY = re.compile(r"(\w+)\s*:\s*([^,}]+)")


#: A Windows path (``C:\x``, ``C:/x``, ``\\server\share``), which is no path on this machine.
_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")


_JSON_PATHS = re.compile(r'"paths"\s*:\s*\{([^{}]*)\}')
_JSON_KEY = re.compile(r'"(\w+)"\s*:\s*("(?:[^"\\]|\\.)*")')


def _paths_from_json_text(text: str, base: Path) -> PathsConfig | None:
    """``paths`` read from a JSON config that no longer parses, as ``_paths_from_text`` does for
    YAML: its object found by its key, each folder a JSON string."""
    found = _JSON_PATHS.search(text)
    if not found:
        return None
    given: dict[str, str] = {}
    for key, quoted in _JSON_KEY.findall(found.group(1)):
        try:
            given.setdefault(key, json.loads(quoted))
        except ValueError:
            continue
    return _paths_given(given, base)


def _paths_from_text(text: str, base: Path) -> PathsConfig | None:
    """``paths`` read line by line from a config that no longer parses (a syntax error elsewhere
    in it): ``root`` and each folder given (review DW 4: a ``paths.state`` of its own was left out,
    and `health` said a running daemon was not running), the others under the root as by default.
    None when the root is not found plainly."""
    lines = text.splitlines()
    given: dict[str, str] = {}
    for index, line in enumerate(lines):
        flow = _FLOW_PATHS.match(line)
        if flow:
            given = {key: value for key, value in _FLOW_KEY.findall(flow.group(1))}
            break
        if _BLOCK_PATHS.match(line):
            for inner in lines[index + 1 :]:
                if inner.strip() and not inner[0].isspace():
                    break  # the next section
                found = _BLOCK_KEY.match(inner)
                if found:
                    given.setdefault(found.group(1), found.group(2))
            break
    return _paths_given({key: value.strip().strip("'\"") for key, value in given.items()}, base)


def _paths_given(given: Mapping[str, str], base: Path) -> PathsConfig | None:
    """The spool folders from the values found for ``paths``' keys (the root required)."""
    folders: dict[str, Path] = {}
    for name in ("root", *FOLDER_NAMES):
        value = given.get(name, "")
        if not value:
            continue
        try:
            resolved = Path(value).expanduser()
        except RuntimeError:  # ~name of a user this machine does not have: the config's check says so
            return None
        folders[name] = Path(os.path.normpath(resolved if resolved.is_absolute() else base / resolved))
    root = folders.pop("root", None)
    if root is None:
        return None
    return PathsConfig(root=root, **{name: folders.get(name, root / name) for name in FOLDER_NAMES})


class _Missing:
    pass


_MISSING = _Missing()


class _ConfigReader:
    """One pass over the document: every section is checked and every problem collected."""

    def __init__(self, shown: str, source: Path, document: Document) -> None:
        self.shown = shown
        self.source = source
        self.base = source.parent
        self.document = document
        self.errors: list[tuple[int, str]] = [
            (problem.line, f"{problem.path}: {problem.message}") for problem in document.problems
        ]
        for path, text in document.number_texts.items():
            if _GUESSED_NUMBER.fullmatch(text):
                # (audit, sysadmin F5) YAML 1.1 reads 1:30 as 90 (base 60), 0x10 as 16, 010 as 8: a
                # sysadmin's "1:30" never meant 90 seconds. The manifests refuse them too.
                self.error(
                    path,
                    f"write the number in plain digits, or in quotes if it is text (got {text}, which YAML reads as "
                    f"{describe(yaml.safe_load(text))})",
                )
        #: Every hot folder entry's (name, path, staging), valid or not: for the cross checks.
        self.checked_folders: list[tuple[str, Path | None, Path | None]] = []
        self.paths_given: set[str] = set()  # the paths.<folder> keys the file sets

    # -- reporting

    def error(self, key_path: str, message: str, *, line_of: str | None = None) -> None:
        """``line_of``: the key path whose line to give, when ``key_path`` shows it otherwise."""
        line = self.document.line(line_of or key_path) or 1
        route = _ROUTE_INDEX.match(key_path)
        if route is not None:
            # Key paths count from 0; route, show, STATUS.txt and the summary say "route 1" for the first.
            message += f" (route {int(route.group(1)) + 1})"
        self.errors.append((line, f"{key_path}: {message}"))

    def unknown_key(self, key_path: str, key: str, allowed: tuple[str, ...], extra: str = "") -> None:
        home = next((section for section, keys in _SECTIONS.items() if key in keys), None)
        if key_path == key and home is not None:
            # "root:" at column 0 under "paths:" was answered "did you mean 'routes'?" (audit CE 4).
            self.error(
                key_path,
                f"unknown key '{key}' at the top level: it is a key of {home}:, so indent it under the line "
                f"'{home}:' (by two spaces)",
            )
            return
        suggestion = did_you_mean(key, allowed)
        if suggestion is not None:
            self.error(key_path, f"unknown key '{key}'; did you mean '{suggestion}'?")
        elif allowed:
            self.error(key_path, f"unknown key '{key}'; the keys allowed here are: {', '.join(allowed)}{extra}")
        else:
            self.error(key_path, f"unknown key '{key}'")

    # -- shapes

    def mapping(self, value: object, key_path: str, allowed: tuple[str, ...] | None = None) -> dict[str, object]:
        """A mapping (None counts as empty); unknown keys are reported unless ``allowed`` is None."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(key_path, f"must be a mapping of 'key: value' lines, not {describe(value)}")
            return {}
        result: dict[str, object] = {}
        for key, item in value.items():
            if key is None or isinstance(key, bool | float | datetime):
                # (audit, sysadmin F3) `yes:` became a hot folder named "True", `null:` a key "None";
                # a date is a name as written, like a number (`2024-01-01:`, review DW 5: a hot
                # folder no route's `to:` could name), a time of day is not (its text is not kept).
                shown = "null" if key is None else str(key) if isinstance(key, datetime) else describe(key)
                self.error(join_key(key_path, shown), _not_a_name(key), line_of=join_key(key_path, key))
                continue
            name = str(key)
            if allowed is not None and name not in allowed:
                self.unknown_key(join_key(key_path, name), name, allowed)
                continue
            if name in result:
                # 7 and "7" (or a date and its text) are two keys to YAML and one name here: the
                # second entry silently replaced the first (review FW 2: a hot folder dropped)
                self.error(
                    join_key(key_path, name),
                    f"duplicate key '{name}' (written twice, once in quotes and once not); a key may appear only once "
                    "here",
                )
                continue
            result[name] = item
        return result

    def sequence(self, value: object, key_path: str) -> list[object]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(key_path, f"must be a list, not {describe(value)}")
            return []
        return value

    # -- scalars

    def number(
        self,
        section: dict[str, object],
        key_path: str,
        key: str,
        default: float,
        *,
        positive: bool = False,
        maximum: float = MAX_NUMBER,
        too_big: str = "",
        minimum: float = 0.0,
        too_small: str = "",
    ) -> float:
        value = _as_number(section.get(key, _MISSING))
        if value is _MISSING:
            return default
        full = join_key(key_path, key)
        bound = "greater than 0" if positive else "0 or more"
        if isinstance(value, float) and math.isinf(value) and value > 0:
            self.error(full, f"must be at most {maximum:g}{too_big} (got {describe(value)})")
            return default
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and 0 < value < minimum
        ):
            self.error(full, f"must be at least {minimum:g}{too_small} (got {describe(value)})")
            return default
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
            or (positive and value == 0)
        ):
            self.error(full, f"must be a number {bound} (got {describe(value)})")
            return default
        if value > maximum:
            # (a date that far away cannot be computed: every use of it would fail)
            self.error(full, f"must be at most {maximum:g}{too_big} (got {describe(value)})")
            return default
        return float(value)

    def integer(self, section: dict[str, object], key_path: str, key: str, default: int, *, minimum: int) -> int:
        value = section.get(key, _MISSING)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.error(
                join_key(key_path, key),
                f"must be a whole number of at least {minimum} (got {describe(value)})",
            )
            return default
        if value > MAX_NUMBER:  # (as reference.yaml says of every number: review DW 5)
            self.error(join_key(key_path, key), f"must be at most {MAX_NUMBER:g} (got {describe(value)})")
            return default
        return value

    def boolean(self, section: dict[str, object], key_path: str, key: str, default: bool) -> bool:
        value = section.get(key, _MISSING)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.error(join_key(key_path, key), f"must be true or false (got {describe(value)})")
            return default
        return value

    def choice(
        self,
        section: dict[str, object],
        key_path: str,
        key: str,
        choices: tuple[str, ...],
        default: str,
        *,
        fold_case: bool = True,
    ) -> str:
        value = section.get(key, _MISSING)
        if value is _MISSING:
            return default
        if isinstance(value, str):
            text = value.lower() if fold_case else value
            if text in choices:
                return text
        self.error(join_key(key_path, key), f"must be one of {' | '.join(choices)} (got {describe(value)})")
        return default

    def text(self, value: object, key_path: str, what: str = "a text") -> str | None:
        if isinstance(value, str) and value.strip():
            return value
        self.error(key_path, f"must be {what} (got {describe(value)})")
        return None

    def path(self, value: object, key_path: str) -> Path | None:
        text = self.text(value, key_path, "a folder path")
        if text is None:
            return None
        if "\0" in text:
            self.error(key_path, "must not contain a NUL character")
            return None
        # (audit, sysadmin F5: each was taken as written, a folder named "$HOME" or "root ")
        control = next((char for char in text if ord(char) < 32 or ord(char) == 127), None)
        if control is not None:
            self.error(
                key_path,
                f"contains a control character ({control!r}, a line break or tab?): write the path on one line",
            )
            return None
        if text != text.strip():
            self.error(
                key_path,
                f"{describe(text)} begins or ends with a space: remove it (a folder whose name does cannot be "
                "used here: rename it)",
            )
            return None
        variable = _ENV_VARIABLE.search(text)
        if variable is not None:
            self.error(
                key_path,
                f"{describe(text)} holds {variable.group()}, which is not expanded here (the config is read as it is "
                "written): write the folder out in full",
            )
            return None
        if _URL.match(text):
            # (review FW 3: smb://nas/spool was taken as a folder "smb:/nas/spool" beside the config)
            self.error(
                key_path,
                f"{describe(text)} is a URL: write the folder as this machine names it (a share mounted here: its "
                "mount point, e.g. /mnt/indigo)",
            )
            return None
        if text[0] in _TYPOGRAPHIC_QUOTES or text[-1] in _TYPOGRAPHIC_QUOTES:
            self.error(
                key_path,
                f"{describe(text)} is in typographic quotes (pasted from a document?): write it in plain quotes, "
                '"/srv/spool", or none',
            )
            return None
        if _WINDOWS_PATH.match(text):
            # (review DW 5: C:\spool\inbox was taken as a folder of that name beside the config, a
            # share's \\server\name as a hot folder "missing")
            self.error(
                key_path,
                f"{describe(text)} is a Windows path: write the folder as this machine names it (a share mounted "
                "here: its mount point, e.g. /mnt/indigo)",
            )
            return None
        try:
            resolved = Path(text).expanduser()
        except RuntimeError:  # "~name" of a user this machine does not have
            user = text[1:].split("/", 1)[0]
            self.error(key_path, f"{text!r} starts with ~{user}, but there is no user {user!r}: write the full path")
            return None
        if not resolved.is_absolute():
            resolved = self.base / resolved
        for part in resolved.parts:
            if len(os.fsencode(part)) > 255:
                self.error(key_path, f"has a name longer than 255 bytes ({part[:40]}...): no filesystem allows that")
                return None
        return Path(os.path.normpath(resolved))

    def globs(self, value: object, key_path: str, comma: str = ",", *, names: bool = False) -> tuple[str, ...]:
        """A list of glob patterns (one text is a list of one). A pattern holding ``comma`` (any
        comma for product codes; ", " for file names, which may hold a comma) is several written
        as one, read as one pattern that matches nothing: "poster-*, banner-*" let the products it
        meant to hold go to the printer (audits BX 1, 2; CE 1, in a list item too). ``names``:
        patterns matched against a file's name, never a path, so a '/' in one never matches."""
        if not names and (digits := self.digits(value, key_path)) is not None:
            value = digits  # one product code, 5, written without brackets or quotes (audit AP D3)
        if isinstance(value, int) and not isinstance(value, bool) and self.guessed(key_path):
            return ()  # 0750 alone: said once, as a number YAML guessed (audit AP D4)
        single = isinstance(value, str)
        items = [value] if single else self.sequence(value, key_path)
        result: list[str] = []
        for index, item in enumerate(items):
            where = key_path if single else join_index(key_path, index)
            if not names:  # a product code 5, as a route takes it (audit AM: refused here, taken there)
                item = self.digits(item, where) or item
            if isinstance(item, int) and not isinstance(item, bool) and self.guessed(where):
                continue  # 0750: said once, as a number YAML guessed
            if not isinstance(item, str) or not item:
                self.error(where, f"must be a glob pattern in quotes (got {describe(item)})")
            elif comma in item:
                parts = ", ".join(json.dumps(part.strip()) for part in item.split(",") if part.strip())
                self.error(
                    where,
                    f"is one text with commas ({describe(item)}), which would be read as one pattern; write "
                    f"each pattern as an item of its own: [{parts}] (or one '- pattern' per line)",
                )
            elif names and "/" in item:
                self.error(
                    where,
                    f"holds a '/' ({item!r}), but these patterns are matched against the name of a file or "
                    f"folder, never a path, so it would never match; write {item.rstrip('/').rpartition('/')[2]!r}",
                )
            elif (problem := glob_problem(item) or (None if names else product_glob_problem(item))) is not None:
                self.error(where, problem)
            else:
                result.append(item)
        return tuple(result)

    def digits(self, value: object, key_path: str) -> str | None:
        """A whole number written in plain digits (``350``), as the text of those digits."""
        if isinstance(value, int) and not isinstance(value, bool):
            text = self.document.number_text(key_path)
            if text is None or text == str(value):
                return str(value)
        return None

    def guessed(self, key_path: str) -> bool:
        """Whether the number at ``key_path`` is one YAML guessed (0750, 1:30), already an error."""
        text = self.document.number_text(key_path)
        return text is not None and _GUESSED_NUMBER.fullmatch(text) is not None

    def match_text(self, value: object, key_path: str) -> str | None:
        """A route value: text, or a whole number (``paper: 350``) taken as its digits."""
        if isinstance(value, str):
            return value
        if isinstance(value, list | dict):
            self.error(
                key_path,
                f"must be one text or glob pattern (got {describe(value)}): a route compares each key with one "
                "pattern; for several, give each its own route with the same 'to' (the first match wins)",
            )
            return None
        if (text := self.digits(value, key_path)) is not None:
            return text
        if isinstance(value, int) and not isinstance(value, bool) and self.guessed(key_path):
            return None  # 0750: said once, as a number YAML guessed
        self.error(
            key_path,
            f"must be a text or glob pattern (got {describe(value)}); put it in quotes so it is compared as text",
        )
        return None

    # -- sections

    def read(self, *, filesystems: bool = False, probe: FolderProbe | None = None) -> Config:
        """The config; raises ConfigError listing every problem, with ``filesystems`` also what
        the folders it names make impossible now (``_filesystem_problems``)."""
        top = self.mapping(self.document.value, "", tuple(_SECTIONS))
        paths = self.read_paths(top)
        watch = self.read_watch(self.mapping(top.get("watch"), "watch", _SECTIONS["watch"]))
        blocking = self.read_blocking(self.mapping(top.get("blocking"), "blocking", _SECTIONS["blocking"]))
        validation = self.read_validation(self.mapping(top.get("validation"), "validation", _SECTIONS["validation"]))
        products = self.read_products(self.mapping(top.get("products"), "products"))
        raw_hot_folders = self.mapping(top.get("hot_folders"), "hot_folders")
        hot_folders = self.read_hot_folders(raw_hot_folders)
        routes = self.read_routes(top.get("routes"), tuple(raw_hot_folders))
        delivery = self.read_delivery(self.mapping(top.get("delivery"), "delivery", _SECTIONS["delivery"]))
        retention = RetentionConfig(
            done_days=self.number(
                self.mapping(top.get("retention"), "retention", _SECTIONS["retention"]),
                "retention",
                "done_days",
                _DEFAULT_RETENTION.done_days,
                maximum=MAX_DONE_DAYS,
                too_big=", i.e. 100 years: enough to keep finished jobs for good",
            )
        )
        metrics = self.read_metrics(self.mapping(top.get("metrics"), "metrics", _SECTIONS["metrics"]))
        logging = self.read_logging(self.mapping(top.get("logging"), "logging", _SECTIONS["logging"]))
        self.cross_checks(paths)
        if filesystems:
            look: FolderLook = look_here
            if probe is not None:
                folders = [f for _, hot, staging in self.checked_folders for f in (hot, staging) if f is not None]
                look = probe(folders, delivery.share_timeout_seconds)
            self.errors.extend(_filesystem_problems(paths, self.checked_folders, self.document, look))
        if self.errors or paths is None:
            self.errors.sort(key=lambda error: error[0])
            raise ConfigError([f"{self.shown}:{line}: {message}" for line, message in self.errors])
        return Config(
            source=self.source,
            paths=paths,
            watch=watch,
            blocking=blocking,
            validation=validation,
            products=products,
            hot_folders=hot_folders,
            routes=routes,
            delivery=delivery,
            retention=retention,
            metrics=metrics,
            logging=logging,
        )

    def read_paths(self, top: dict[str, object]) -> PathsConfig | None:
        if "paths" not in top:
            self.error("paths", "missing; the config needs paths.root, the folder that holds inbox/, work/, ...")
            return None
        section = self.mapping(top["paths"], "paths", _SECTIONS["paths"])
        root: Path | None = None
        if "root" not in section:
            if isinstance(top["paths"], dict) or top["paths"] is None:
                self.error("paths.root", "missing; set it to the folder that holds inbox/, work/, ...")
        else:
            root = self.path(section["root"], "paths.root")
        # Every folder key is checked, also when root is wrong: check-config lists every error.
        folders: dict[str, Path | None] = {
            name: self.path(section[name], f"paths.{name}") if name in section else None for name in FOLDER_NAMES
        }
        self.paths_given = {name for name in FOLDER_NAMES if name in section}
        if root is None:
            return None
        paths = PathsConfig(
            root=root, **{name: folder if folder is not None else root / name for name, folder in folders.items()}
        )
        for name, folder in paths.spool_folders().items():
            key = f"paths.{name}" if name in self.paths_given else "paths.root"
            size = len(os.fsencode(str(folder)))
            if size > MAX_SPOOL_PATH:
                self.error(
                    key,
                    f"makes {name}/ a path of {size} bytes ({str(folder)[:60]}...); a spool folder's path may be at "
                    f"most {MAX_SPOOL_PATH} bytes, to leave room for the job folders and files under it within the "
                    "system's limit of 4,096 bytes a path: choose a shorter one",
                )
                break
            if name == "state" and size > MAX_STATE_PATH:
                self.error(
                    key,
                    f"makes state/ a path of {size} bytes; the ledger in it (SQLite) can be opened only at a path "
                    f"of at most 504 bytes, so state/ may be at most {MAX_STATE_PATH}: choose a shorter one (or "
                    "set paths.state alone to a shorter path)",
                )
        return paths

    def read_watch(self, section: dict[str, object]) -> WatchConfig:
        mode = self.choice(section, "watch", "mode", ("auto", "native", "polling"), _DEFAULT_WATCH.mode)
        ignore = (
            self.globs(section["ignore"], "watch.ignore", comma=", ", names=True)
            if "ignore" in section
            else DEFAULT_IGNORE
        )
        return WatchConfig(
            mode=cast(Literal["auto", "native", "polling"], mode),
            poll_interval_seconds=self.number(
                section,
                "watch",
                "poll_interval_seconds",
                _DEFAULT_WATCH.poll_interval_seconds,
                positive=True,
                minimum=0.1,
                too_small=" (each poll lists the watched folders: more often costs CPU and gains nothing)",
            ),
            settle_seconds=self.number(section, "watch", "settle_seconds", _DEFAULT_WATCH.settle_seconds),
            rescan_seconds=self.number(
                section, "watch", "rescan_seconds", _DEFAULT_WATCH.rescan_seconds, positive=True
            ),
            artwork_timeout_seconds=self.number(
                section,
                "watch",
                "artwork_timeout_seconds",
                _DEFAULT_WATCH.artwork_timeout_seconds,
                positive=True,
            ),
            ignore=ignore,
        )

    def read_blocking(self, section: dict[str, object]) -> BlockingConfig:
        return BlockingConfig(
            block_on_arrival=self.boolean(section, "blocking", "block_on_arrival", _DEFAULT_BLOCKING.block_on_arrival),
            products=self.globs(section.get("products"), "blocking.products"),
        )

    def read_validation(self, section: dict[str, object]) -> ValidationConfig:
        checks: dict[str, Severity] = dict(DEFAULT_SEVERITY)
        given: set[str] = set()  # the checks given a valid severity
        for name, value in self.mapping(section.get("checks"), "validation.checks", CHECK_NAMES).items():
            key_path = f"validation.checks.{name}"
            if value is False:  # YAML 1.1 reads an unquoted `off` as false
                checks[name] = "off"
            elif isinstance(value, str) and value.lower() in ("error", "warning", "off"):
                checks[name] = cast(Severity, value.lower())
            else:
                self.error(key_path, f"must be one of error | warning | off (got {describe(value)})")
                continue
            given.add(name)
        require_fonts = self.boolean(
            section, "validation", "require_embedded_fonts", _DEFAULT_VALIDATION.require_embedded_fonts
        )
        if not require_fonts and "fonts" in given and checks["fonts"] != "off":
            # Two settings that say opposite things: neither may silently win.
            self.error(
                "validation.checks.fonts",
                f"is {checks['fonts']}, but validation.require_embedded_fonts is false (which turns the fonts "
                "check off); keep one of the two",
            )
        return ValidationConfig(
            require_embedded_fonts=require_fonts,
            size_tolerance_mm=self.number(
                section, "validation", "size_tolerance_mm", _DEFAULT_VALIDATION.size_tolerance_mm
            ),
            checks=checks,
        )

    def read_products(self, section: dict[str, object]) -> tuple[ProductSpec, ...]:
        specs: list[ProductSpec] = []
        seen: dict[str, str] = {}  # folded pattern -> as first written
        for pattern, value in section.items():
            key_path = f"products.{pattern}"
            if not pattern:
                self.error(key_path, "the product pattern must not be empty: no job has an empty product")
            elif "," in str(pattern):
                # (review FW 1: "flyer-a5*, flyer-a4*" was one pattern matching no product: an A3
                # sheet printed for an A5 order, unchecked)
                parts = ", ".join(json.dumps(part.strip()) for part in str(pattern).split(",") if part.strip())
                self.error(
                    key_path,
                    f"is one text with commas, which would be read as one pattern matching no product; write an "
                    f"entry of its own for each pattern: {parts}",
                )
            elif (problem := glob_problem(str(pattern)) or product_glob_problem(str(pattern))) is not None:
                self.error(key_path, problem)
            elif (first := seen.setdefault(_folded(str(pattern)), str(pattern))) != str(pattern):
                # Patterns match in any letter case: the second one would never apply (review FW 2).
                self.error(
                    key_path,
                    f"is the pattern {first!r} in other letter case or Unicode form (products are matched in any "
                    "case): the second entry would never apply; write one entry",
                )
            spec = self.mapping(value, key_path, _PRODUCT_KEYS)
            trim: tuple[float, float] | None = None
            if "trim_mm" in spec:
                raw = spec["trim_mm"]
                if isinstance(raw, list):
                    raw = [_as_number(item) for item in raw]
                if (
                    isinstance(raw, list)
                    and len(raw) == 2
                    and all(_is_number(item) and 0 < float(item) <= MAX_NUMBER for item in raw)
                ):
                    trim = (float(raw[0]), float(raw[1]))
                else:
                    got = _describe_pair(raw)
                    self.error(
                        f"{key_path}.trim_mm",
                        f"must be [width, height] in millimetres, two numbers greater than 0 and at most "
                        f"{MAX_NUMBER:g} (got {got})",
                    )
            bleed: float | None = None
            if "bleed_mm" in spec:
                bleed = self.number(spec, key_path, "bleed_mm", 0.0)
            pages: int | None = None
            if "pages" in spec:
                pages = self.integer(spec, key_path, "pages", 1, minimum=1)
            specs.append(ProductSpec(pattern=pattern, trim_mm=trim, bleed_mm=bleed, pages=pages))
        return tuple(specs)

    def read_hot_folders(self, section: dict[str, object]) -> dict[str, HotFolderConfig]:
        """The valid hot folders. Every entry is checked in full, a bad name included (each of its
        errors is listed at once, not one per run of check-config); the folders of an entry that
        is not valid otherwise still go through the cross checks (``checked_folders``)."""
        result: dict[str, HotFolderConfig] = {}
        for name, value in section.items():
            key_path = f"hot_folders.{name}"
            valid = True
            if not _NAME_RE.fullmatch(name):
                self.error(key_path, "a hot folder name may use only letters, digits, '.', '_' and '-'")
                valid = False
            elif name == "skip":
                self.error(key_path, "'skip' is reserved for routes ('to: skip'); choose another name")
                valid = False
            spec = self.mapping(value, key_path, _HOT_FOLDER_KEYS)
            if not isinstance(value, dict):
                if value is None:
                    self.error(f"{key_path}.path", "missing; every hot folder needs the path of its folder")
                continue
            folder: Path | None = None
            if "path" not in spec:
                self.error(f"{key_path}.path", "missing; every hot folder needs the path of its folder")
            else:
                folder = self.path(spec["path"], f"{key_path}.path")
            filename = self.read_filename(spec, key_path)
            staging = None
            if spec.get("staging") is not None:
                staging = self.path(spec["staging"], f"{key_path}.staging")
            ticket = spec.get("ticket", "none")
            if ticket is None:
                ticket = "none"
            if isinstance(ticket, str):
                ticket = ticket.lower()
            if ticket not in ("none", "json"):
                self.error(f"{key_path}.ticket", f"must be one of none | json (got {describe(ticket)})")
                ticket = "none"
            self.checked_folders.append((name, folder, staging))
            if folder is None or filename is None or not valid:
                continue
            result[name] = HotFolderConfig(
                name=name,
                path=folder,
                filename=filename,
                staging=staging,
                ticket=cast(Literal["none", "json"], ticket),
            )
        return result

    def read_filename(self, spec: dict[str, object], key_path: str) -> str | None:
        default = _DEFAULT_FILENAME
        if "filename" not in spec:
            return default
        full = f"{key_path}.filename"
        template = self.text(spec["filename"], full, "a file-name template in quotes")
        if template is None:
            return None
        allowed = ", ".join(f"{{{name}}}" for name in FILENAME_FIELDS) + ", {attributes.<key>}"
        try:
            placeholders = template_placeholders(template)
        except ValueError as exc:
            self.error(full, f"is not a valid template ({exc}); placeholders are written like {{order_id}}")
            return None
        ok = True
        for placeholder in placeholders:
            if placeholder in FILENAME_FIELDS:
                continue
            if (
                placeholder.startswith("attributes.")
                and len(placeholder) > len("attributes.")
                and not any(mark in placeholder for mark in ":!")
            ):
                continue
            ok = False
            self.error(full, f"unknown placeholder '{{{placeholder}}}'; the placeholders allowed are {allowed}")
        if "/" in template or "\\" in template or "\0" in template:
            self.error(full, "must be a file name, without '/' or '\\'")
            ok = False
        elif template.startswith("."):
            self.error(full, "must not start with '.': printers ignore hidden files")
            ok = False
        if not template.lower().endswith(".pdf"):
            self.error(full, "must end with '.pdf'")
            ok = False
        return template if ok else None

    def read_routes(self, value: object, hot_folder_names: tuple[str, ...]) -> tuple[RouteRule, ...]:
        rules: list[RouteRule] = []
        for index, item in enumerate(self.sequence(value, "routes")):
            key_path = join_index("routes", index)
            if not isinstance(item, dict):
                self.error(key_path, f"must be a mapping with 'when:' and 'to:' (got {describe(item)})")
                continue
            spec = self.mapping(item, key_path, _ROUTE_ITEM_KEYS)
            when = self.read_when(spec.get("when"), f"{key_path}.when")
            to = spec.get("to", _MISSING)
            if (isinstance(to, int) and not isinstance(to, bool)) or (
                isinstance(to, date) and not isinstance(to, datetime)
            ):
                to = str(to)  # `to: 7` names the hot folder `7:` (a key YAML reads as a number too), as a date
            if to is _MISSING:
                self.error(f"{key_path}.to", "missing; say which hot folder the matching jobs go to, or 'skip'")
                continue
            if not isinstance(to, str) or (to != "skip" and to not in hot_folder_names):
                # (names refused themselves, "skip" or "bad name", are no hot folders to offer)
                named = [name for name in hot_folder_names if name != "skip" and _NAME_RE.fullmatch(name)]
                configured = ", ".join(named) if named else "none are configured"
                hint = did_you_mean(to, hot_folder_names) if isinstance(to, str) else None
                message = f"no hot folder named {describe(to)}"
                if hint is not None:
                    message += f"; did you mean '{hint}'?"
                self.error(
                    f"{key_path}.to",
                    f"{message} (hot folders: {configured}); use 'skip' to deliver nowhere",
                )
                continue
            if when is not None:
                rules.append(RouteRule(number=index + 1, when=when, to=to))
        return tuple(rules)

    def read_when(self, value: object, key_path: str) -> dict[str, str] | None:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(key_path, f'must be a mapping like {{product: "bc-*"}} (got {describe(value)})')
            return None
        conditions: dict[str, str] = {}
        ok = True
        for key, pattern in value.items():
            name = str(key)
            full = join_key(key_path, name)
            if name not in ROUTE_KEYS and not (name.startswith("attributes.") and len(name) > len("attributes.")):
                ok = False
                suggestion = _route_key_suggestion(name, pattern)
                if suggestion is not None:
                    self.error(full, f"unknown key '{name}'; did you mean '{suggestion}'?")
                else:
                    self.error(
                        full,
                        f"unknown key '{name}'; the keys allowed here are: {', '.join(ROUTE_KEYS)}, attributes.<key>",
                    )
                continue
            text = self.match_text(pattern, full)
            if text is None:
                ok = False
                continue
            if name in ("product", "order_id", "job_id") and not text:
                self.error(full, f"must not be empty: no job has an empty {name}, so this route would never match")
                ok = False
                continue
            if (
                problem := glob_problem(text) or (product_glob_problem(text) if name == "product" else None)
            ) is not None:
                self.error(full, problem)
                ok = False
                continue
            if name in ("product", "order_id", "job_id") and "," in text:
                # Codes hold no commas: "bc-*, flyer-*" matched no product (audit CE 1). A customer's
                # name or an attribute's value may hold one.
                self.error(
                    full,
                    f"is one text with commas ({describe(text)}), which would be read as one pattern: a route "
                    "compares each key with one pattern; for several, give each its own route with the same 'to'",
                )
                ok = False
                continue
            conditions[name] = text
        return conditions if ok else None

    def read_delivery(self, section: dict[str, object]) -> DeliveryConfig:
        max_attempts = self.integer(section, "delivery", "max_attempts", _DEFAULT_DELIVERY.max_attempts, minimum=1)
        backoff = _DEFAULT_DELIVERY.backoff_seconds
        if "backoff_seconds" in section:
            raw = section["backoff_seconds"]
            # (exponent texts, 5e-1, read as numbers here as for every other number key)
            items = [_as_number(item) for item in (raw if isinstance(raw, list) else [raw])]
            message = (
                f"must be a number of seconds or a non-empty list of them, each 0 or more and at most {MAX_NUMBER:g}"
            )
            if not items:
                self.error("delivery.backoff_seconds", f"{message} (got an empty list)")
            for index, item in enumerate(items):
                if not (_is_number(item) and 0 <= float(cast(float, item)) <= MAX_NUMBER):
                    where = join_index("delivery.backoff_seconds", index) if isinstance(raw, list) else ""
                    self.error(where or "delivery.backoff_seconds", f"{message} (got {describe(item)})")
                    items = []
            if items:
                backoff = tuple(float(cast(float, item)) for item in items)
        share_timeout = self.number(
            section,
            "delivery",
            "share_timeout_seconds",
            _DEFAULT_DELIVERY.share_timeout_seconds,
            positive=True,
            maximum=3600,
        )
        return DeliveryConfig(max_attempts=max_attempts, backoff_seconds=backoff, share_timeout_seconds=share_timeout)

    def read_metrics(self, section: dict[str, object]) -> MetricsConfig:
        listen = section.get("listen")
        if listen is None:
            return MetricsConfig()
        message = 'must be "host:port" with a port from 1 to 65535, e.g. "127.0.0.1:9464", or null'
        if not isinstance(listen, str):
            self.error("metrics.listen", f"{message} (got {describe(listen)})")
            return MetricsConfig()
        host, _, port = listen.rpartition(":")
        bare_host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        port_ok = port.isascii() and port.isdigit() and 1 <= int(port) <= 65535  # ("²" is a digit to isdigit)
        if not bare_host or (":" in host and bare_host == host) or not port_ok:
            self.error("metrics.listen", f"{message} (got {describe(listen)})")
            return MetricsConfig()
        if _looks_like_an_address(bare_host):
            try:
                ipaddress.ip_address(bare_host)
            except ValueError:
                # (audit D 3: 999.1.1.1 passed check-config and a reload; the next start refused it)
                self.error("metrics.listen", f"{bare_host} is not an IP address (got {describe(listen)}); {message}")
                return MetricsConfig()
        return MetricsConfig(listen=listen)

    def read_logging(self, section: dict[str, object]) -> LoggingConfig:
        level = self.choice(section, "logging", "level", _LEVELS, _DEFAULT_LOGGING.level)
        fmt = self.choice(section, "logging", "format", ("auto", "json", "console"), _DEFAULT_LOGGING.format)
        return LoggingConfig(
            level=cast(Literal["debug", "info", "warning", "error"], level),
            format=cast(Literal["auto", "json", "console"], fmt),
        )

    def cross_checks(self, paths: PathsConfig | None) -> None:
        for name, path, staging in self.checked_folders:
            if staging is not None and staging == path:
                self.error(
                    f"hot_folders.{name}.staging",
                    "must not be the hot folder itself: the printer would pick up half-written files; "
                    "leave it out to use a hidden name inside the hot folder",
                )
            if paths is not None:
                holds = [folder_name for folder_name, folder in paths.spool_folders().items() if path in folder.parents]
                if holds:
                    # paths.root itself was accepted: a RIP that looks into subfolders would print the
                    # outputs waiting in quarantine/ and done/ (audit CE 5).
                    self.error(
                        f"hot_folders.{name}.path",
                        f"holds the spool folders ({', '.join(holds[:3])}{', ...' if len(holds) > 3 else ''}); a "
                        "printer that looks into subfolders would print what waits there: a hot folder must be "
                        "the printer's own, outside paths.root's folders",
                    )
                for folder_name, folder in paths.spool_folders().items():
                    if path == folder:
                        self.error(
                            f"hot_folders.{name}.path",
                            f"is the same folder as paths.{folder_name}; a hot folder must be the printer's own",
                        )
                    if staging == folder:
                        self.error(
                            f"hot_folders.{name}.staging",
                            f"is the same folder as paths.{folder_name}; the daemon would treat its own temporary "
                            "copies as files of its own: put it outside the spool folders",
                        )
                    for key, inner in (("path", path), ("staging", staging)):
                        if inner is not None and folder in inner.parents:
                            self.error(
                                f"hot_folders.{name}.{key}",
                                f"is inside paths.{folder_name} ({folder}); the daemon would treat what it "
                                "delivers as its own files: put it outside the spool folders",
                            )
        if paths is not None:
            seen: dict[Path, str] = {}
            for folder_name, folder in paths.spool_folders().items():
                if folder in seen:
                    self.error(
                        f"paths.{folder_name}",
                        f"is the same folder as paths.{seen[folder]}; each needs its own",
                    )
                else:
                    seen[folder] = folder_name
            swallowed: dict[str, list[str]] = {}  # a folder set to contain the default places of others
            for folder_name, folder in paths.spool_folders().items():
                for outer_name, outer in paths.spool_folders().items():
                    if outer not in folder.parents:
                        continue
                    if outer_name in self.paths_given and folder_name not in self.paths_given:
                        swallowed.setdefault(outer_name, []).append(folder_name)
                        continue
                    self.error(
                        f"paths.{folder_name}",
                        f"is inside paths.{outer_name} ({outer}); the spool folders must not nest (the "
                        f"daemon would take the files of {folder_name} for those of {outer_name})",
                    )
            for outer_name, names in swallowed.items():
                self.error(
                    f"paths.{outer_name}",
                    f"contains the default places of {', '.join('paths.' + n for n in names)} (under paths.root, "
                    f"{paths.root}); the spool folders must not nest (the daemon would take their files for "
                    f"those of {outer_name}): put paths.{outer_name} outside paths.root, or leave it out",
                )
            self._linked_spool_problems(paths.spool_folders())

    def _linked_spool_problems(self, folders: dict[str, Path]) -> None:
        """The same rules for the spool folders where they are, their links followed (review DW 1,
        2: paths.done a link into inbox/ passed, and delivered jobs' folders went to failed/ as files
        nobody claimed; a link to another spool folder passed `check-config`, and `run` then blamed
        "another spo-hotfolder" for the lock it held itself). What the names as written tell is
        said above; only what a link hides is said here."""
        real = {name: Path(os.path.realpath(folder)) for name, folder in folders.items()}
        if all(real[name] == folder for name, folder in folders.items()):
            return
        for name, folder in folders.items():
            for other, other_folder in folders.items():
                if other == name:
                    continue
                link = name if real[name] != folder else other
                linked = f"through a link: {folders[link]} is {real[link]}"
                if real[name] == real[other]:
                    # (said once, of the one that is a link: of the first in order where both are)
                    if folder != other_folder and link == name and (real[other] == other_folder or name < other):
                        self.error(
                            f"paths.{name}", f"is the same folder as paths.{other} ({linked}); each needs its own"
                        )
                elif real[other] in real[name].parents and other_folder not in folder.parents:
                    self.error(
                        f"paths.{name}",
                        f"is inside paths.{other} ({linked}); the spool folders must not nest (the daemon would "
                        f"take the files of {name} for those of {other})",
                    )


_ROUTE_INDEX = re.compile(r"^routes\[(\d+)\]")


def _route_key_suggestion(name: str, value: object) -> str | None:
    """What an unknown route key ``name`` was probably meant to be: a near miss of ``product``,
    ``customer`` or ``order_id``; ``attributes.<key>`` for a misspelled or nested ``attributes``
    (``atributes.paper``, ``attributes_paper``, ``attributes: {paper: ...}`` as in a manifest);
    ``attributes.<name>`` for a bare attribute name (``paper``)."""
    suggestion = did_you_mean(name, ROUTE_KEYS)
    if suggestion is not None:
        return suggestion
    for separator in (".", "_"):
        head, found, rest = name.partition(separator)
        if found and rest and _looks_like_attributes(head):
            return f"attributes.{rest}"
    if _looks_like_attributes(name.rstrip(".")):
        if isinstance(value, dict) and len(value) == 1:
            return f"attributes.{next(iter(value))}"
        return "attributes.<key>"
    return None if "." in name else f"attributes.{name}"


def _looks_like_attributes(word: str) -> bool:
    return did_you_mean(word.lower(), ("attributes",)) is not None


def _describe_pair(raw: object) -> str:
    """What is wrong with a [width, height] list, in words: ``describe`` says only "a list"."""
    if not isinstance(raw, list):
        return describe(raw)
    if len(raw) != 2:
        return f"a list of {len(raw)} value{'s' if len(raw) != 1 else ''}" + (
            f": {', '.join(describe(v) for v in raw[:4])}" if raw else ""
        )
    return (
        "["
        + ", ".join(describe(v) + (" (text: write it without quotes)" if isinstance(v, str) else "") for v in raw)
        + "]"
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


#: ``$HOME``, ``${STATE_DIRECTORY}``: a shell's or systemd's variables, which a path here does not expand.
_ENV_VARIABLE = re.compile(r"\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)")
#: The YAML 1.1 number forms that do not mean what they show: base 60 (1:30, 1:30.5), hexadecimal,
#: octal (a leading 0, 0o) and binary.
_GUESSED_NUMBER = re.compile(
    r"[-+]?(0[0-7_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|0b[01_]+|[1-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?)"
)
#: A number with an exponent that YAML 1.1, which PyYAML reads, takes for text: no dot (``1e9``,
#: ``5e-1``), or a dot and an unsigned exponent (``1.0e1``, ``.5e1``; 1.1 reads only ``1.0e+1``); YAML
#: 1.2 and every person read a number (audit D 5: "got "5e-1"", no reason given; 12-05 B 1: ``1.0e1``).
_EXPONENT_NUMBER = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+")


def _as_number(value: object) -> object:
    """``value``, or the number a YAML 1.1 exponent text (``5e-1``) means."""
    if isinstance(value, str) and _EXPONENT_NUMBER.fullmatch(value.strip()):
        return float(value)
    return value


# --- filesystems ------------------------------------------------------------------------------


def _device(path: Path) -> int | None:
    """The filesystem ``path`` is on or, not created yet, would be created on (that of its nearest
    existing ancestor, where ``init`` or ``run`` make it); None when that cannot be told."""
    for candidate in (path, *path.parents):
        try:
            return candidate.stat().st_dev
        except FileNotFoundError:
            continue
        except OSError:
            return None
    return None


def _mount_here(path: Path, points: Sequence[str]) -> str | None:
    """The mount point ``path`` is under or, not created yet, would be created under (that of its
    nearest existing ancestor, its links followed); None when that cannot be told."""
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return mount_of(Path(os.path.realpath(candidate)), points)
    return None


def spool_filesystems(paths: PathsConfig, points: Sequence[str] | None = None) -> list[list[str]]:
    """The spool folders' names grouped by the filesystem and mount they are on (or would be
    created on), the largest group first (on a tie, the group of the first folder). One group is
    what ``run`` needs: jobs move between the spool folders by rename, which Linux refuses
    between two mounts, a bind mount of the same disk too (review EN 3: an inbox bound from an
    upload folder passed, and every artwork's move failed "Invalid cross-device link", its job
    said to wait for a file "still being written")."""
    if points is None:
        points = mount_points()
    groups: dict[tuple[int, str | None], list[str]] = {}
    for name, folder in paths.spool_folders().items():
        device = _device(folder)
        if device is not None:
            groups.setdefault((device, _mount_here(folder, points)), []).append(name)
    return sorted(groups.values(), key=len, reverse=True)


_MOUNTINFO_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True)
class Mount:
    """One line of ``/proc/self/mountinfo``: where, what file system type, which device
    (major:minor, as ``st_dev`` has it)."""

    point: str
    kind: str = ""
    device: str = ""
    root: str = "/"  # the folder of its file system mounted there (a bind mount's source)

    @property
    def remote(self) -> bool:
        """On another machine (NFS, SMB and the like) or served by a process (FUSE)."""
        return self.kind in _REMOTE_TYPES or self.kind.startswith("fuse")


#: File system types whose folders are on another machine (or served by a process of its own): a
#: symbolic link among them is not read by ``links_followed_here`` (a call into a share whose
#: server does not answer would hold the engine with it).
_REMOTE_TYPES = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "afs", "lustre", "gpfs", "ncpfs")


def mount_table(source: Path = Path("/proc/self/mountinfo")) -> list[Mount]:
    """The mounts of this process's mount namespace, in the table's order (a later one at a point
    lies over an earlier one); none where it cannot be read. Read, not asked of the folders: a
    share that does not answer is never touched."""
    try:
        text = source.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return []
    mounts = []
    for line in text.splitlines():
        fields = line.split(" ")
        if len(fields) > 4:
            try:
                kind = fields[fields.index("-", 5) + 1]
            except (ValueError, IndexError):
                kind = ""
            point, root = (_MOUNTINFO_ESCAPE.sub(lambda m: chr(int(m[1], 8)), fields[n]) for n in (4, 3))
            mounts.append(Mount(point, kind, fields[2], root))
    return mounts


def mount_points(source: Path = Path("/proc/self/mountinfo")) -> list[str]:
    """The mount points of ``mount_table``."""
    return [mount.point for mount in mount_table(source)]


def share_points_above(table: Sequence[Mount], folders: Collection[str]) -> list[str]:
    """For each of ``folders`` (hot and staging folders), the nearest mount point above it, but
    "/", where something else than a folder bound onto itself is mounted (``filesystem_mount_points``):
    a share mounted on a hot folder's parent (fstab's `//rip/hotfolders` on /mnt/indigo, the hot
    folder /mnt/indigo/in: review GZ 1, unmounted, it uncovered a local folder of that path, and
    the job went there, InHotFolder, never printed)."""
    points = [point for point in filesystem_mount_points(table) if os.path.normpath(point) != "/"]
    found = []
    for folder in folders:
        path = os.path.normpath(folder)
        above = [point for point in points if path.startswith(os.path.normpath(point).rstrip("/") + "/")]
        if above:
            found.append(max(above, key=len))
    return list(dict.fromkeys(found))


def filesystem_mount_points(table: Sequence[Mount], among: Collection[str] | None = None) -> list[str]:
    """The mount points of ``table`` (those ``among``, if given: the hot and staging folders) where
    something else than the folder itself is mounted: another file system, or another folder bound
    there; not a folder bound onto itself, as systemd's ReadWritePaths= binds each hot folder in the
    service (audit DC 1: every delivery refused as "not mounted"), which no unmount leaves empty
    behind. A folder bound from elsewhere on the same disk is one (audit DH 2): unmounted, it
    uncovers the folder under it, which the printer does not watch."""
    wanted = None if among is None else {os.path.normpath(point) for point in among}
    found = []
    for mount in table:
        if mount.point == "/" or (wanted is not None and os.path.normpath(mount.point) not in wanted):
            continue
        parent = str(Path(os.path.normpath(mount.point)).parent)
        holding = [
            other
            for other in table
            if other.point != mount.point
            and (parent == other.point or parent.startswith(other.point.rstrip("/") + "/"))
        ]
        # (the mount the parent folder is on: the last one listed at the longest point above it)
        below = max(reversed(holding), key=lambda other: len(other.point), default=None)
        if below is None or below.device != mount.device:
            found.append(mount.point)
            continue
        # The same file system: the folder itself (bound onto itself) where its root is the path the
        # mount point has in that file system.
        inside = os.path.relpath(os.path.normpath(mount.point), os.path.normpath(below.point))
        if os.path.normpath(Path(below.root) / inside) != os.path.normpath(mount.root):
            found.append(mount.point)
    return found


def links_followed_here(path: Path, points: Sequence[str], remote: Sequence[str]) -> Path:
    """``path`` with the symbolic links among its folders followed, as far as that can be done
    without a call into a share: a mount point (``points``) is taken as it is, never asked (it is
    no link), and nothing under a ``remote`` mount point is read. What is left from there is kept
    as written. For MountPoints.note_mounted: a hot folder named through a link to a share's mount
    point is that mount point (audit CS 3: it was not noted as mounted at the start)."""
    mounts = {Path(os.path.normpath(point)) for point in points}
    far = [os.path.normpath(point).rstrip("/") + "/" for point in remote]
    done = Path("/")
    rest = [part for part in str(path.absolute()).split("/") if part not in ("", ".")]
    hops = 0
    while rest:
        part = rest.pop(0)
        if part == "..":
            done = done.parent  # (of a folder whose links are followed already)
            continue
        here = done / part
        if here in mounts:
            done = here  # (a mount point is no link; a share's would be asked)
            continue
        if any(str(here).startswith(point) for point in far):
            return here.joinpath(*rest)  # (inside a share: not read)
        try:
            target = str(here.readlink())
        except OSError:
            done = here  # (not a link, or nothing there: kept as written)
            continue
        hops += 1
        if hops > 40:  # (a loop of links, as the kernel counts)
            return here.joinpath(*rest)
        rest = [p for p in target.split("/") if p not in ("", ".")] + rest
        if target.startswith("/"):
            done = Path("/")
    return done


def mount_of(path: Path, points: Sequence[str]) -> str | None:
    """The mount ``path`` (symbolic links followed already: ``Seen.real``) is under: the longest
    mount point it starts with."""
    text = os.path.normpath(path.absolute())
    best = None
    for point in points:
        if (text == point or text.startswith(point.rstrip("/") + "/")) and (best is None or len(point) > len(best)):
            best = point
    return best


@dataclass(frozen=True)
class Seen:
    """What a look at a hot or staging folder found: ``kind`` is "dir", "file" (something else
    than a folder), "missing", "unreadable" (``error`` says why) or "silent" (the look did not
    return in time: a share whose server does not answer)."""

    kind: Literal["dir", "file", "missing", "unreadable", "silent"]
    device: int | None = None
    error: str = ""
    real: str | None = None  # (a folder's path with its symbolic links followed)
    writable: bool = True  # (by this user: check-config run as the service's user says it)


#: A look at one folder (``look_here``, or the answers of ``shares.look_at``).
FolderLook = Callable[[Path], Seen]
#: Looks at folders with a time limit, in seconds (``shares.look_at``).
FolderProbe = Callable[[Sequence[Path], float], FolderLook]


def look_here(path: Path) -> Seen:
    """A look at ``path`` by this thread (it waits as long as the filesystem does)."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return Seen("missing")
    except OSError as exc:
        return Seen("unreadable", error=exc.strerror or str(exc))
    return Seen(
        "dir" if stat.S_ISDIR(st.st_mode) else "file",
        st.st_dev,
        real=os.path.realpath(path),
        writable=os.access(path, os.W_OK | os.X_OK),
    )


def filesystem_errors(config: Config, shown: str | None = None) -> list[str]:
    """What the config says that the filesystems make impossible right now (see
    ``_filesystem_problems``), as ``file:line: key.path: message`` (``shown``: the config file as
    the user named it): for a start (logged) and a reload (refused)."""
    shown = shown or str(config.source)
    document = _document(config)
    hot_folders = [(hot.name, hot.path, hot.staging) for hot in config.hot_folders.values()]
    problems = sorted(_filesystem_problems(config.paths, hot_folders, document), key=lambda item: item[0])
    return [f"{shown}:{line}: {message}" for line, message in problems]


def _document(config: Config) -> Document:
    """The config file as read again now, for the lines of its keys (empty when it cannot be)."""
    try:
        fmt: Format = "json" if config.source.suffix.lower() == ".json" else "yaml"
        return load(config.source.read_bytes(), fmt)
    except (OSError, SourceError):
        return Document(None)


def key_line(config: Config, key_path: str) -> int:
    """The line of ``key_path`` (or of its nearest ancestor) in the config file; 1 when it is in
    none (a key left to its default): for ``file:line: key.path: message``."""
    return _document(config).line(key_path) or 1


def _filesystem_problems(
    paths: PathsConfig | None,
    hot_folders: Sequence[tuple[str, Path | None, Path | None]],
    document: Document,
    look: FolderLook = look_here,
) -> list[tuple[int, str]]:
    """What the config says that the filesystems make impossible right now, as (line, message);
    ``check-config`` lists them with the file's other errors:

    - a spool folder that is a file, spool folders on different filesystems: ``run`` (and
      ``init``) refuse to start, since jobs move between them by rename;
    - a hot folder or staging folder that is a file, a hot folder's staging folder on another
      filesystem than the hot folder: every delivery there would fail (the temporary copy cannot
      be renamed into the hot folder). Only folders that exist are compared: the daemon never
      creates either (a share may not be mounted yet).

    Hot and staging folders are looked at through ``look`` (``check-config`` and ``init`` look in
    another process, which a share that does not answer cannot hold up).
    """
    errors: list[tuple[int, str]] = []

    def error(key_path: str, message: str) -> None:
        errors.append((document.line(key_path) or 1, f"{key_path}: {message}"))

    if paths is not None:
        folders = paths.spool_folders()
        in_the_way: set[Path] = set()
        for name, spool in folders.items():
            if spool.exists() and not spool.is_dir():
                error(f"paths.{name}", f"{spool} is a file, not a folder; init and run cannot make the folder there")
                continue
            # Not made yet, under a file (paths.root naming a file: audit BB 5): said once, at the
            # key that names it.
            blocker = next((p for p in spool.parents if p.exists()), None)
            if blocker is None or blocker.is_dir() or blocker in in_the_way:
                continue
            in_the_way.add(blocker)
            key = "paths.root" if blocker in (paths.root, *paths.root.parents) else f"paths.{name}"
            error(key, f"{blocker} is a file, not a folder; init and run cannot make the spool folders under it")
        groups = spool_filesystems(paths)
        if len(groups) > 1:
            # The filesystem most spool folders are on (the first folder's, on a tie) is the one meant.
            main = groups[0]
            for names in groups[1:]:
                for name in names:
                    error(
                        f"paths.{name}",
                        f"{folders[name]} is on another filesystem or mount than paths.{main[0]} "
                        f"({folders[main[0]]}; a bind mount of the same disk is another mount); the spool folders "
                        "must all be under one mount of one filesystem (jobs move between them by rename), and "
                        "the daemon refuses to start otherwise",
                    )
    errors += _linked_folder_problems(paths, hot_folders, document, look)
    points: list[str] | None = None  # (the mounts, read once: where a staging folder is on its hot folder's device)
    for name, path, staging in hot_folders:
        for key, folder in (("path", path), ("staging", staging)):
            # Missing is fine (a share not mounted yet); a file where the folder should be is not.
            if folder is not None and look(folder).kind == "file":
                error(
                    f"hot_folders.{name}.{key}",
                    f"{folder} is a file, not a folder; every delivery to {name} would fail: name the folder",
                )
        if path is None or staging is None:
            continue
        staging_seen, hot_seen = look(staging), look(path)
        if staging_seen.kind != "dir" or hot_seen.kind != "dir":
            continue
        staging_device, hot_device = staging_seen.device, hot_seen.device
        if staging_device is not None and hot_device is not None and staging_device != hot_device:
            error(
                f"hot_folders.{name}.staging",
                f"{staging} is on another filesystem than the hot folder ({path}); the temporary "
                "copy cannot be renamed into the hot folder, so every delivery to "
                f"{name} would fail: use a folder on the hot folder's filesystem, or leave staging out",
            )
            continue
        if staging_seen.real is None or hot_seen.real is None:
            continue
        if points is None:
            points = mount_points()
        staging_mount = mount_of(Path(staging_seen.real), points)
        hot_mount = mount_of(Path(hot_seen.real), points)
        if staging_mount is not None and hot_mount is not None and staging_mount != hot_mount:
            # (Linux renames only within one mount: a bind mount or a container's second volume
            # of the same disk is another one, though the device is the same; audit F2)
            error(
                f"hot_folders.{name}.staging",
                f"{staging} is on the hot folder's filesystem but under another mount ({staging_mount}, the hot "
                f"folder {path} under {hot_mount}: a bind mount, or two volumes of a container); a rename "
                f"between two mounts fails, so every delivery to {name} would fail: use a folder under the hot "
                "folder's mount, or leave staging out",
            )
    return errors


def _spool_relation(key: str, real: Path, spool: Mapping[str, Path]) -> str | None:
    """What a hot folder (``key`` "path") or staging folder whose real path is ``real`` is to the
    spool folders (their real paths), in words; None when it is outside them all."""
    for name, own in spool.items():
        if real == own:
            harm = (
                "a hot folder must be the printer's own"
                if key == "path"
                else "the daemon would treat its own temporary copies as files of its own"
            )
            return f"is paths.{name}; {harm}"
    for name, own in spool.items():
        if own in real.parents:
            return (
                f"is inside paths.{name} ({own}); the daemon would treat what it delivers as its own files: put it "
                "outside the spool folders"
            )
    for name, own in spool.items():
        if key == "path" and real in own.parents:
            return (
                f"holds paths.{name}; a printer that looks into subfolders would print what waits there: a hot "
                "folder must be the printer's own, outside paths.root's folders"
            )
    return None


def _linked_folder_problems(
    paths: PathsConfig | None,
    hot_folders: Sequence[tuple[str, Path | None, Path | None]],
    document: Document,
    look: FolderLook,
) -> list[tuple[int, str]]:
    """Hot and staging folders named through a symbolic link, compared as the folders they are (the
    config reader compares the paths as written): a hot folder that was a link to the inbox passed,
    each delivery was taken for an unclaimed file while its job was recorded InHotFolder; a
    staging folder that was a link to its hot folder passed (audit AO D1, D2). Through ``look``
    (a share that does not answer holds nothing up: it is not compared)."""
    errors: list[tuple[int, str]] = []
    spool = {name: Path(os.path.realpath(folder)) for name, folder in paths.spool_folders().items()} if paths else {}

    def real(folder: Path | None) -> Path | None:
        seen = look(folder) if folder is not None else None
        return Path(seen.real) if seen is not None and seen.kind == "dir" and seen.real else None

    for name, path, staging in hot_folders:
        hot_real = real(path)
        for key, folder, folder_real in (("path", path, hot_real), ("staging", staging, real(staging))):
            if folder is None or folder_real is None or folder_real == folder:
                continue  # (not through a link: the reader's own checks)
            if paths is not None and any(
                folder == own or own in folder.parents or folder in own.parents
                for own in paths.spool_folders().values()
            ):
                continue  # (said by the reader already, as written)
            through = f"{folder} is a symbolic link to {folder_real}, which"
            message = _spool_relation(key, folder_real, spool)
            message = f"{through} {message}" if message is not None else None
            if message is None and key == "staging" and folder_real == hot_real and staging != path:
                message = (
                    f"{through} is the hot folder itself: the printer would pick up half-written files; leave it "
                    "out to use a hidden name inside the hot folder"
                )
            if message is not None:
                errors.append((document.line(f"hot_folders.{name}.{key}") or 1, f"hot_folders.{name}.{key}: {message}"))
    return errors


# --- summary ----------------------------------------------------------------------------------


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _route_text(rule: RouteRule) -> str:
    if rule.when:
        condition = "when " + ", ".join(f"{key}={pattern}" for key, pattern in rule.when.items())
    else:
        condition = "any job"
    return f"route {rule.number}: {condition} -> {rule.to}"


def _folder_note(seen: Seen) -> str:
    """What ``check-config`` says after a hot or staging folder that is not a folder now."""
    return {
        "dir": "",
        "file": "  (not a folder!)",
        "missing": "  (missing!)",
        "unreadable": f"  (cannot be looked at: {seen.error})",
        "silent": "  (does not answer!)",
    }[seen.kind]


def summary(config: Config, look: FolderLook = look_here) -> str:
    """A short human summary for ``check-config``: folders, hot folders (looked at through
    ``look``), routes."""
    lines = [f"config: {config.source}", f"root: {config.paths.root}"]
    for name, folder in config.paths.spool_folders().items():
        if folder.is_dir():
            note = ""
        elif folder.exists():
            note = "  (a file, not a folder!)"
        else:
            note = "  (not created yet; run 'spo-hotfolder init')"
        lines.append(f"  {name}: {folder}{note}")
    watch = config.watch
    lines.append(
        f"watch: mode {watch.mode}, settle {_seconds(watch.settle_seconds)}, "
        f"poll every {_seconds(watch.poll_interval_seconds)}, rescan every {_seconds(watch.rescan_seconds)}, "
        f"artwork timeout {_seconds(watch.artwork_timeout_seconds)}"
    )
    ignored = ", ".join(f'"{pattern}"' for pattern in watch.ignore)
    lines.append(f"  ignore: {ignored or 'nothing (every file in the inbox is taken)'}")
    if not config.hot_folders:
        lines.append("hot folders: none configured (every job is skipped)")
    for name, hot_folder in config.hot_folders.items():
        lines.append(f"hot folder {name}: {hot_folder.path}{_folder_note(look(hot_folder.path))}")
        lines.append(f"  filename: {hot_folder.filename}")
        if hot_folder.staging is None:
            lines.append("  staging: a hidden temporary name inside the hot folder")
        else:
            lines.append(f"  staging: {hot_folder.staging}{_folder_note(look(hot_folder.staging))}")
        lines.append(f"  ticket: {hot_folder.ticket}")
    if not config.routes:
        lines.append("routes: none (jobs without a hot_folder in their manifest are skipped)")
    lines.extend(_route_text(rule) for rule in config.routes)
    blocking = config.blocking
    if blocking.block_on_arrival:
        lines.append("blocking: every job is blocked on arrival")
    elif blocking.products:
        lines.append(f"blocking: products {', '.join(json.dumps(p) for p in blocking.products)}")
    else:
        lines.append("blocking: off (only manifests with 'blocked: true')")
    validation = config.validation
    lines.append(
        f"validation: size tolerance {validation.size_tolerance_mm:g} mm; "
        + ", ".join(f"{check} {validation.severity(check)}" for check in DEFAULT_SEVERITY)
    )
    for spec in config.products:
        parts = []
        if spec.trim_mm is not None:
            parts.append(f"trim {spec.trim_mm[0]:g} x {spec.trim_mm[1]:g} mm")
        if spec.bleed_mm is not None:
            parts.append(f"bleed {spec.bleed_mm:g} mm")
        if spec.pages is not None:
            parts.append(f"{spec.pages} page{'s' if spec.pages != 1 else ''}")
        lines.append(f"product {spec.pattern}: {', '.join(parts) or 'no expectations'}")
    delivery = config.delivery
    lines.append(
        f"delivery: up to {delivery.max_attempts} attempts, backoff "
        + ", ".join(f"{value:g}" for value in delivery.backoff_seconds)
        + f" s; a hot folder that does not answer for {delivery.share_timeout_seconds:g} s fails the attempt"
    )
    from spo_hotfolder.reports import human_days  # (reports reads the ledger's jobs, which read this module)

    # (0 days was summarised "at once", and jobs stayed until the next hourly purge: audit CB 5)
    lines.append(
        f"retention: {human_days(config.retention.done_days)} in done/ and rejected/ (purged at start, at a "
        "reload that changes it, then hourly)"
    )
    lines.append(f"metrics: {config.metrics.listen or 'off'}")
    lines.append(f"logging: level {config.logging.level}, format {config.logging.format}")
    return "\n".join(lines)


def _not_a_name(key: object) -> str:
    """Why a mapping key that YAML reads as no text (``yes:``, ``null:``, ``1.50:``, ``2024-01-01
    10:00:``) is refused."""
    if isinstance(key, bool):
        kind = f"the boolean {describe(key)} (yes, no, on, off, true and false are booleans in YAML)"
        quoted = "'yes':"
    elif key is None:
        kind = "nothing (null, ~ or an empty key)"
        quoted = "'null':"
    elif isinstance(key, datetime):
        kind = f"a time ({key})"
        quoted = "'2024-01-01 10:00':"
    else:  # (a float: 1.50, which is 1.5)
        kind = f"the number {describe(key)}"
        quoted = "'1.50':"
    return f"this key is read as {kind}, not as a name; put it in quotes as written (e.g. {quoted}) if it is a name"
