"""config.load_config and config.summary: every rule, every error as `file:line: key.path: message`."""

from __future__ import annotations

import os
import tempfile
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from spo_hotfolder.config import (
    DEFAULT_IGNORE,
    DEFAULT_SEVERITY,
    Config,
    ConfigError,
    FolderLook,
    ProductSpec,
    RouteRule,
    Seen,
    filesystem_errors,
    glob_problem,
    load_config,
    look_here,
    summary,
    template_placeholders,
)
from spo_hotfolder.manifest import parse_manifest

REPO = Path(__file__).resolve().parents[2]

FULL = """\
paths:
  root: /srv/spo
  inbox: /srv/incoming
watch:
  mode: Polling
  poll_interval_seconds: 5
  settle_seconds: 0.5
  rescan_seconds: 30
  artwork_timeout_seconds: 600
  ignore: ["*.tmp"]
blocking:
  block_on_arrival: false
  products: ["poster-*"]
validation:
  require_embedded_fonts: false
  size_tolerance_mm: 0.5
  checks: {pages: warning, encryption: off}
products:
  "bc-*": {trim_mm: [85, 55], bleed_mm: 3, pages: 2}
  "bc-special*": {pages: 4}
  "*": {bleed_mm: 2}
hot_folders:
  indigo:
    path: /mnt/indigo
    filename: "{order_id}-{attributes.paper}.PDF"
    staging: /mnt/stage
    ticket: JSON
  large-format:
    path: /mnt/lf
routes:
  - when: {product: "bc-*", attributes.paper: 350}
    to: indigo
  - when: {customer: "ACME*"}
    to: large-format
  - to: skip
delivery:
  max_attempts: 3
  backoff_seconds: [1, 2.5]
retention:
  done_days: 7
metrics:
  listen: "127.0.0.1:9464"
logging:
  level: DEBUG
  format: Json
"""

MINIMAL = "paths:\n  root: /srv/spo\n"


def write(tmp_path: Path, text: str, name: str = "spo.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == "\n".join(info.value.errors)
    return info.value.errors


def only_error(path: Path) -> str:
    errors = errors_of(path)
    assert len(errors) == 1, errors
    return errors[0]


def with_root(body: str) -> str:
    return MINIMAL + textwrap.dedent(body)


# --- valid configs --------------------------------------------------------------------------------


def test_full_config_round_trip(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    config = load_config(path)

    assert isinstance(config, Config)
    assert config.source == path
    assert config.paths.root == Path("/srv/spo")
    assert config.paths.inbox == Path("/srv/incoming")
    assert config.paths.work == Path("/srv/spo/work")
    assert config.paths.state == Path("/srv/spo/state")
    assert config.watch.mode == "polling"
    assert config.watch.poll_interval_seconds == 5.0
    assert config.watch.settle_seconds == 0.5
    assert config.watch.rescan_seconds == 30.0
    assert config.watch.artwork_timeout_seconds == 600.0
    assert config.watch.ignore == ("*.tmp",)
    assert config.blocking.products == ("poster-*",)
    assert config.blocking.blocks("poster-a1")
    assert not config.blocking.blocks("bc-1")
    assert config.validation.require_embedded_fonts is False
    assert config.validation.size_tolerance_mm == 0.5
    assert config.validation.checks["pages"] == "warning"
    assert config.validation.checks["encryption"] == "off"  # unquoted `off` is YAML false
    assert config.validation.checks["trim"] == DEFAULT_SEVERITY["trim"]
    assert config.validation.severity("fonts") == "off"
    assert config.products == (
        ProductSpec("bc-*", trim_mm=(85.0, 55.0), bleed_mm=3.0, pages=2),
        ProductSpec("bc-special*", pages=4),
        ProductSpec("*", bleed_mm=2.0),
    )
    indigo = config.hot_folders["indigo"]
    assert indigo.path == Path("/mnt/indigo")
    assert indigo.filename == "{order_id}-{attributes.paper}.PDF"
    assert indigo.staging == Path("/mnt/stage")
    assert indigo.ticket == "json"
    large = config.hot_folders["large-format"]
    assert large.filename == "{order_id}_{job_id}_{product}_x{quantity}.pdf"
    assert large.staging is None
    assert large.ticket == "none"
    assert list(config.hot_folders) == ["indigo", "large-format"]
    assert config.routes == (
        RouteRule(number=1, when={"product": "bc-*", "attributes.paper": "350"}, to="indigo"),
        RouteRule(number=2, when={"customer": "ACME*"}, to="large-format"),
        RouteRule(number=3, when={}, to="skip"),
    )
    assert config.delivery.max_attempts == 3
    assert config.delivery.backoff_seconds == (1.0, 2.5)
    assert config.delivery.backoff(5) == 2.5
    assert config.retention.done_days == 7.0
    assert config.metrics.address() == ("127.0.0.1", 9464)
    assert config.logging.level == "debug"
    assert config.logging.format == "json"


def test_minimal_config_takes_every_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.paths.spool_folders() == {
        name: Path("/srv/spo") / name for name in ("inbox", "work", "quarantine", "failed", "done", "rejected", "state")
    }
    assert config.watch.mode == "auto"
    assert config.watch.ignore == DEFAULT_IGNORE
    assert config.watch.settle_seconds == 1.0
    assert config.blocking.block_on_arrival is False
    assert dict(config.validation.checks) == dict(DEFAULT_SEVERITY)
    assert config.products == ()
    assert dict(config.hot_folders) == {}
    assert config.routes == ()
    assert config.delivery.max_attempts == 5
    assert config.delivery.backoff_seconds == (10.0, 30.0, 120.0, 600.0, 1800.0)
    assert config.retention.done_days == 30.0
    assert config.metrics.listen is None
    assert config.metrics.address() is None
    assert config.logging.level == "info"
    assert config.logging.format == "auto"


def test_empty_sections_mean_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, with_root("watch:\nhot_folders:\nroutes:\nvalidation:\n  checks:\n")))
    assert config.watch.mode == "auto"
    assert config.routes == ()
    assert dict(config.validation.checks) == dict(DEFAULT_SEVERITY)


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    path = write(
        tmp_path,
        """\
        paths:
          root: ../var
          failed: ./elsewhere/failed
        hot_folders:
          indigo:
            path: ../var/hot/indigo
            staging: stage
        """,
        name="etc/spo.yaml",
    )
    config = load_config(path)
    assert config.paths.root == tmp_path / "var"
    assert config.paths.inbox == tmp_path / "var" / "inbox"
    assert config.paths.failed == tmp_path / "etc" / "elsewhere" / "failed"
    assert config.hot_folders["indigo"].path == tmp_path / "var" / "hot" / "indigo"
    assert config.hot_folders["indigo"].staging == tmp_path / "etc" / "stage"


def test_relative_config_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "paths: {root: var}\n")
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("spo.yaml"))
    assert config.source == tmp_path / "spo.yaml"
    assert config.paths.root == tmp_path / "var"


def test_product_spec_first_matching_glob_in_file_order(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    spec = config.product_spec("bc-special-1")
    assert spec is not None and spec.pattern == "bc-*"  # listed before "bc-special*"
    upper = config.product_spec("BC-Special-1")  # in any letter case, as routes and blocking
    assert upper is not None and upper.pattern == "bc-*"
    other = config.product_spec("flyer")
    assert other is not None and other.pattern == "*"

    reordered = load_config(
        write(tmp_path, with_root('products:\n  "bc-special*": {pages: 4}\n  "bc-*": {pages: 2}\n'), "b.yaml")
    )
    first = reordered.product_spec("bc-special-1")
    assert first is not None and first.pages == 4
    assert reordered.product_spec("flyer") is None


def test_json_config_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, '{"paths": {"root": "/srv/spo"}, "watch": {"mode": "native"}}', "spo.json")
    assert load_config(path).watch.mode == "native"


def test_single_numbers_for_lists(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, with_root("delivery:\n  backoff_seconds: 15\nblocking:\n  products: bc-*\n")))
    assert config.delivery.backoff_seconds == (15.0,)
    assert config.blocking.products == ("bc-*",)


def test_example_config_loads() -> None:
    config = load_config(REPO / "config" / "spo-hotfolder.yaml")
    assert config.paths.root == REPO / "var"
    assert set(config.hot_folders) == {"indigo", "large-format"}
    assert config.hot_folders["indigo"].path == REPO / "var" / "hot" / "indigo"
    assert config.hot_folders["large-format"].ticket == "json"
    assert [rule.to for rule in config.routes] == ["indigo", "large-format", "indigo", "skip"]
    assert config.routes[2].when == {"attributes.paper": "silk-*"}
    assert config.watch.settle_seconds == 1.0
    assert config.watch.rescan_seconds == 60.0
    assert config.logging.format == "auto"
    spec = config.product_spec("bc-85x55")
    assert spec == ProductSpec("bc-*", trim_mm=(85.0, 55.0), bleed_mm=3.0, pages=2)


def test_reference_config_loads_and_documents_every_key() -> None:
    path = REPO / "config" / "reference.yaml"
    config = load_config(path)
    assert config.paths.root == Path("/var/lib/spo-hotfolder")
    text = path.read_text(encoding="utf-8")
    keys = [
        "root", "inbox", "work", "quarantine", "failed", "done", "rejected", "state",
        "mode", "poll_interval_seconds", "settle_seconds", "rescan_seconds", "artwork_timeout_seconds",
        "ignore", "block_on_arrival", "products", "require_embedded_fonts", "size_tolerance_mm", "checks",
        "trim_mm", "bleed_mm", "pages", "path", "filename", "staging", "ticket", "when", "to",
        "max_attempts", "backoff_seconds", "done_days", "listen", "level", "format",
    ]  # fmt: skip
    for key in keys:
        assert f"{key}:" in text, key


# --- unreadable files -----------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert only_error(path) == f"{path}: the config file does not exist"


def test_a_config_the_user_may_not_read_says_who_may(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review GS 3: a monitoring account outside the daemon's group running `health` (the config is
    0640 root:spo-hotfolder) got "Permission denied" and nothing about what to do."""
    path = tmp_path / "spo-hotfolder.yaml"
    path.write_text("paths:\n  root: /srv/spool\n")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert only_error(path) == (
        f"{path}: cannot read the config file: Permission denied: run this as a user who may read it (the "
        "daemon's user, or a member of its group)"
    )


def test_folder_instead_of_file(tmp_path: Path) -> None:
    assert only_error(tmp_path).startswith(f"{tmp_path}: ")


def test_an_unclosed_quote_or_bracket_is_reported_where_it_starts(tmp_path: Path) -> None:
    """Audit V: an unclosed quote on line 2 was reported on line 7, one past the end of the file."""
    quote = tmp_path / "quote.yaml"
    quote.write_text('paths:\n  root: "/tmp/x\nwatch:\n  mode: auto\nlogging:\n  level: info\n')
    assert only_error(quote).startswith(f"{quote}:2: YAML syntax error: ")
    bracket = tmp_path / "bracket.yaml"
    bracket.write_text('paths:\n  root: /tmp/x\nwatch:\n  ignore: [".*", "*.tmp"\nlogging:\n  level: info\n')
    error = only_error(bracket)
    assert error.startswith(f"{bracket}:4: YAML syntax error: ") and "noticed on line 5" in error


def test_a_wrong_root_does_not_hide_the_other_folder_errors(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text("paths:\n  root: 5\n  inbox: [a]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert [str(e) for e in info.value.errors] == [
        f"{path}:2: paths.root: must be a folder path (got 5)",
        f"{path}:3: paths.inbox: must be a folder path (got a list)",
    ]


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "# only a comment\n")
    assert only_error(path) == f"{path}:1: paths: missing; the config file is empty; it needs at least paths.root"


def test_a_yaml_tag_in_the_config_is_refused_without_words_about_a_manifest(tmp_path: Path) -> None:
    """Review DW 5: a tag in the config was refused saying "a manifest holds plain values only"."""
    path = write(tmp_path, "paths:\n  root: !!python/name:os.system /srv\n")
    error = only_error(path)
    assert error.startswith(f"{path}:2: YAML error: the tag !!python/name:os.system is not allowed: "), error
    assert "manifest" not in error and "remove the tag" in error


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "paths:\n  root: /srv\nwatch:\n  mode: auto\n   rescan_seconds: 5\n")
    error = only_error(path)
    assert error.startswith(f"{path}:5: YAML syntax error: ")
    assert "column" in error
    assert error.endswith("check the indentation and quoting near that line")


def test_a_json_config_s_syntax_error_is_not_told_to_check_its_indentation(tmp_path: Path) -> None:
    """Audit BG R7: a JSON config's missing comma was answered with YAML's advice."""
    path = tmp_path / "config.json"
    path.write_text('{\n  "paths": {"root": "/srv"}\n  "watch": {"mode": "auto"}\n}\n')
    error = only_error(path)
    assert error.startswith(f"{path}:3: JSON syntax error") and error.endswith(
        "check the commas, brackets and quoting near that line"
    ), error


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- paths\n- watch\n")
    assert only_error(path) == (
        f"{path}:1: the config must be a mapping of sections (paths:, watch:, hot_folders:, ...), not a list"
    )


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "spo.yaml"
    path.write_bytes(b"paths:\n  root: /srv/\xe9t\xe9\n")
    assert only_error(path).startswith(f"{path}:2: the file is not UTF-8 text")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "spo.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_config(path).paths.root == Path("/srv/spo")


# --- schema errors: one at a time, with file, line and key path -----------------------------------

CASES = [
    # (config text after MINIMAL (2 lines), line, key path + message)
    (
        "watch:\n  poll_intervall: 3\n",
        4,
        "watch.poll_intervall: unknown key 'poll_intervall'; did you mean 'poll_interval_seconds'?",
    ),
    ("wacth:\n  mode: auto\n", 3, "wacth: unknown key 'wacth'; did you mean 'watch'?"),
    ("watch:\n  mode: inotify\n", 4, 'watch.mode: must be one of auto | native | polling (got "inotify")'),
    (
        "watch:\n  poll_interval_seconds: 0\n",
        4,
        "watch.poll_interval_seconds: must be a number greater than 0 (got 0)",
    ),
    ("watch:\n  rescan_seconds: -1\n", 4, "watch.rescan_seconds: must be a number greater than 0 (got -1)"),
    # Audit (2026-12-03, CLI 8): 1e-9 was taken (polling without pause), .inf said "greater than 0".
    (
        "watch:\n  poll_interval_seconds: 1.0e-9\n",
        4,
        "watch.poll_interval_seconds: must be at least 0.1 (each poll lists the watched folders: more often costs "
        "CPU and gains nothing) (got 1e-09)",
    ),
    ("watch:\n  rescan_seconds: .inf\n", 4, "watch.rescan_seconds: must be at most 1e+09 (got inf)"),
    (
        "routes:\n  - when: {product: ''}\n    to: skip\n",
        4,
        "routes[0].when.product: must not be empty: no job has an empty product, so this route would never match",
    ),
    (
        "watch:\n  artwork_timeout_seconds: 0\n",
        4,
        "watch.artwork_timeout_seconds: must be a number greater than 0 (got 0)",
    ),
    ("watch:\n  settle_seconds: -0.5\n", 4, "watch.settle_seconds: must be a number 0 or more (got -0.5)"),
    ("watch:\n  settle_seconds: true\n", 4, "watch.settle_seconds: must be a number 0 or more (got true)"),
    ('watch:\n  settle_seconds: "1"\n', 4, 'watch.settle_seconds: must be a number 0 or more (got "1")'),
    ("watch:\n  settle_seconds: .inf\n", 4, "watch.settle_seconds: must be at most 1e+09 (got inf)"),
    ('watch:\n  ignore: ["*.tmp", 3]\n', 4, "watch.ignore[1]: must be a glob pattern in quotes (got 3)"),
    ("watch:\n  ignore: {a: b}\n", 4, "watch.ignore: must be a list, not a mapping"),
    ("watch: fast\n", 3, "watch: must be a mapping of 'key: value' lines, not \"fast\""),
    (
        "blocking:\n  block_on_arrival: maybe\n",
        4,
        'blocking.block_on_arrival: must be true or false (got "maybe")',
    ),
    (
        "validation:\n  checks:\n    font: off\n",
        5,
        "validation.checks.font: unknown key 'font'; did you mean 'fonts'?",
    ),
    (
        "validation:\n  checks:\n    fonts: fatal\n",
        5,
        'validation.checks.fonts: must be one of error | warning | off (got "fatal")',
    ),
    (
        "validation:\n  require_embedded_fonts: false\n  checks:\n    fonts: error\n",
        6,
        "validation.checks.fonts: is error, but validation.require_embedded_fonts is false (which turns the "
        "fonts check off); keep one of the two",
    ),
    (  # (not also "is error, but ...": the default kept for a wrong value is not what was written)
        "validation:\n  require_embedded_fonts: false\n  checks:\n    fonts: maybe\n",
        6,
        'validation.checks.fonts: must be one of error | warning | off (got "maybe")',
    ),
    (
        "validation:\n  size_tolerance_mm: -1\n",
        4,
        "validation.size_tolerance_mm: must be a number 0 or more (got -1)",
    ),
    (
        'products:\n  "bc-*": {trim_mm: [85]}\n',
        4,
        "products.bc-*.trim_mm: must be [width, height] in millimetres, two numbers greater than 0 and at most 1e+09 "
        "(got a list of 1 value: 85)",
    ),
    (
        'products:\n  "bc-*":\n    trim_mm: [85, 0]\n',
        5,
        "products.bc-*.trim_mm: must be [width, height] in millimetres, two numbers greater than 0 and at most "
        "1e+09 (got [85, 0])",
    ),
    (
        'products:\n  "bc-*":\n    trim_mm: [85, "55"]\n',
        5,
        "products.bc-*.trim_mm: must be [width, height] in millimetres, two numbers greater than 0 and at most 1e+09 "
        '(got [85, "55" (text: write it without quotes)])',
    ),
    (
        'products:\n  "bc-*":\n    bleed_mm: -3\n',
        5,
        "products.bc-*.bleed_mm: must be a number 0 or more (got -3)",
    ),
    (
        'products:\n  "bc-*":\n    pages: 0\n',
        5,
        "products.bc-*.pages: must be a whole number of at least 1 (got 0)",
    ),
    (
        'products:\n  "bc-*":\n    pages: 2.5\n',
        5,
        "products.bc-*.pages: must be a whole number of at least 1 (got 2.5)",
    ),
    (
        'products:\n  "bc-*":\n    page: 2\n',
        5,
        "products.bc-*.page: unknown key 'page'; did you mean 'pages'?",
    ),
    (
        "hot_folders:\n  indigo:\n    filename: x.pdf\n",
        4,
        "hot_folders.indigo.path: missing; every hot folder needs the path of its folder",
    ),
    (
        "hot_folders:\n  indigo:\n    path: /x\n    ticket: xml\n",
        6,
        'hot_folders.indigo.ticket: must be one of none | json (got "xml")',
    ),
    (
        "hot_folders:\n  indigo:\n    path: /x\n    pth: /y\n",
        6,
        "hot_folders.indigo.pth: unknown key 'pth'; did you mean 'path'?",
    ),
    (
        "hot_folders:\n  skip:\n    path: /x\n",
        4,
        "hot_folders.skip: 'skip' is reserved for routes ('to: skip'); choose another name",
    ),
    (
        'hot_folders:\n  "in digo":\n    path: /x\n',
        4,
        "hot_folders.in digo: a hot folder name may use only letters, digits, '.', '_' and '-'",
    ),
    (
        'hot_folders:\n  indigo:\n    path: /x\n    filename: "{order}.pdf"\n',
        6,
        "hot_folders.indigo.filename: "
        "unknown placeholder '{order}'; the placeholders allowed are {order_id}, {job_id}, "
        "{product}, {quantity}, "
        "{customer}, {attributes.<key>}",
    ),
    (
        'hot_folders:\n  indigo:\n    path: /x\n    filename: "{order_id}.ps"\n',
        6,
        "hot_folders.indigo.filename: must end with '.pdf'",
    ),
    (
        'hot_folders:\n  indigo:\n    path: /x\n    filename: "a/{order_id}.pdf"\n',
        6,
        "hot_folders.indigo.filename: must be a file name, without '/' or '\\'",
    ),
    (
        'hot_folders:\n  indigo:\n    path: /x\n    filename: "{order_id.pdf"\n',
        6,
        "hot_folders.indigo.filename: "
        "is not a valid template (a '{' or '}' without its partner); placeholders are written "
        "like {order_id}",
    ),
    (  # audit T 5: "without its partner" of a balanced pair
        'hot_folders:\n  indigo:\n    path: /x\n    filename: "{{job_id}}.pdf"\n',
        6,
        "hot_folders.indigo.filename: is not a valid template ('{{' and '}}' are not an escape here: a template puts "
        "no braces into a file name); placeholders are written like {order_id}",
    ),
    (
        'hot_folders:\n  indigo:\n    path: /x\n    filename: "{quantity:05d}.pdf"\n',
        6,
        "hot_folders.indigo."
        "filename: unknown placeholder '{quantity:05d}'; the placeholders allowed are "
        "{order_id}, {job_id}, {product}, "
        "{quantity}, {customer}, {attributes.<key>}",
    ),
    (  # audit CY 6: accepted, then rendered empty ("1001-1_.pdf")
        'hot_folders:\n  indigo:\n    path: /x\n    filename: "{job_id}_{attributes.paper:>5}.pdf"\n',
        6,
        "hot_folders.indigo.filename: unknown placeholder '{attributes.paper:>5}'; the placeholders allowed are "
        "{order_id}, {job_id}, {product}, {quantity}, {customer}, {attributes.<key>}",
    ),
    (
        "hot_folders:\n  indigo:\n    path: /x\n    staging: /x\n",
        6,
        "hot_folders.indigo.staging: must not be the hot "
        "folder itself: the printer would pick up half-written files; leave it out to use a "
        "hidden name inside the "
        "hot folder",
    ),
    ('hot_folders:\n  indigo:\n    path: ""\n', 5, 'hot_folders.indigo.path: must be a folder path (got "")'),
    (
        "hot_folders:\n  indigo:\n    path: /x\nroutes:\n  - to: indgo\n",
        7,
        "routes[0].to: no hot folder named "
        "\"indgo\"; did you mean 'indigo'? (hot folders: indigo); use 'skip' to deliver nowhere",
    ),
    (
        "routes:\n  - to: indigo\n",
        4,
        'routes[0].to: no hot folder named "indigo" (hot folders: none are '
        "configured); use 'skip' to deliver nowhere",
    ),
    (
        'routes:\n  - when: {product: "bc-*"}\n',
        4,
        "routes[0].to: missing; say which hot folder the matching jobs go to, or 'skip'",
    ),
    (
        'routes:\n  - when: {produkt: "bc-*"}\n    to: skip\n',
        4,
        "routes[0].when.produkt: unknown key 'produkt'; did you mean 'product'?",
    ),
    (
        "routes:\n  - when: {paper: silk}\n    to: skip\n",
        4,
        "routes[0].when.paper: unknown key 'paper'; did you mean 'attributes.paper'?",
    ),
    (
        # nested as in a manifest: the route key is one word with a dot
        "routes:\n  - when: {attributes: {paper: silk}}\n    to: skip\n",
        4,
        "routes[0].when.attributes: unknown key 'attributes'; did you mean 'attributes.paper'?",
    ),
    (
        "routes:\n  - when: {attributes: silk}\n    to: skip\n",
        4,
        "routes[0].when.attributes: unknown key 'attributes'; did you mean 'attributes.<key>'?",
    ),
    (
        "routes:\n  - when: {atributes.paper: silk}\n    to: skip\n",
        4,
        "routes[0].when.atributes.paper: unknown key 'atributes.paper'; did you mean 'attributes.paper'?",
    ),
    (
        "routes:\n  - when: {attributes_paper: silk}\n    to: skip\n",
        4,
        "routes[0].when.attributes_paper: unknown key 'attributes_paper'; did you mean 'attributes.paper'?",
    ),
    (
        "routes:\n  - when: {product: 1.5}\n    to: skip\n",
        4,
        "routes[0].when.product: must be a text or glob pattern (got 1.5); put it in quotes so it is compared as text",
    ),
    (
        "routes:\n  - when: {product: yes}\n    to: skip\n",
        4,
        "routes[0].when.product: must be a text or glob pattern (got true); put it in quotes so it is compared as text",
    ),
    (
        "routes:\n  - when: bc-*\n    to: skip\n",
        4,
        'routes[0].when: must be a mapping like {product: "bc-*"} (got "bc-*")',
    ),
    (
        # Audit BX 3: the advice was to quote the list.
        "routes:\n  - when: {product: [poster-*, flyer-*]}\n    to: skip\n",
        4,
        "routes[0].when.product: must be one text or glob pattern (got a list): a route compares each key with one "
        "pattern; for several, give each its own route with the same 'to' (the first match wins)",
    ),
    (
        # Audit BX 1: read as one pattern that matched no product, the products to hold went to the printer.
        "blocking:\n  products: poster-*, banner-*\n",
        4,
        'blocking.products: is one text with commas ("poster-*, banner-*"), which would be read as one pattern; '
        'write each pattern as an item of its own: ["poster-*", "banner-*"] (or one \'- pattern\' per line)',
    ),
    (
        # Audit CE 1: in a list item too.
        'blocking:\n  products: ["poster-*,banner-*"]\n',
        4,
        'blocking.products[0]: is one text with commas ("poster-*,banner-*"), which would be read as one pattern; '
        'write each pattern as an item of its own: ["poster-*", "banner-*"] (or one \'- pattern\' per line)',
    ),
    (
        # Audit BX 2: it replaced the whole default list with one pattern.
        "watch:\n  ignore: '*.tmp, *.part'\n",
        4,
        'watch.ignore: is one text with commas ("*.tmp, *.part"), which would be read as one pattern; write each '
        'pattern as an item of its own: ["*.tmp", "*.part"] (or one \'- pattern\' per line)',
    ),
    (
        # Audit CE 1: "bc-*, flyer-*" matched no product; every bc job was skipped.
        "routes:\n  - when:\n      product: bc-*, flyer-*\n    to: skip\n",
        5,
        'routes[0].when.product: is one text with commas ("bc-*, flyer-*"), which would be read as one pattern: a '
        "route compares each key with one pattern; for several, give each its own route with the same 'to'",
    ),
    (
        # Audit CE 4: "root:" at column 0 under "paths:" was answered "did you mean 'routes'?".
        "root: /tmp/x\n",
        3,
        "root: unknown key 'root' at the top level: it is a key of paths:, so indent it under the line 'paths:' "
        "(by two spaces)",
    ),
    ("routes:\n  - skip\n", 4, "routes[0]: must be a mapping with 'when:' and 'to:' (got \"skip\")"),
    (
        "routes:\n  - to: skip\n    if: {}\n",
        5,
        "routes[0].if: unknown key 'if'; the keys allowed here are: when, to",
    ),
    (
        "delivery:\n  max_attempts: 0\n",
        4,
        "delivery.max_attempts: must be a whole number of at least 1 (got 0)",
    ),
    (
        "delivery:\n  max_attempts: true\n",
        4,
        "delivery.max_attempts: must be a whole number of at least 1 (got true)",
    ),
    (
        "delivery:\n  backoff_seconds: []\n",
        4,
        "delivery.backoff_seconds: must be a number of seconds or a "
        "non-empty list of them, each 0 or more and at most 1e+09 (got an empty list)",
    ),
    (
        "delivery:\n  backoff_seconds:\n    - 10\n    - -5\n",
        6,
        "delivery.backoff_seconds[1]: must be a number of seconds or a non-empty list of them, "
        "each 0 or more and at most 1e+09 (got -5)",
    ),
    ("retention:\n  done_days: -1\n", 4, "retention.done_days: must be a number 0 or more (got -1)"),
    (
        'metrics:\n  listen: "localhost"\n',
        4,
        'metrics.listen: must be "host:port" with a port from 1 to 65535, '
        'e.g. "127.0.0.1:9464", or null (got "localhost")',
    ),
    (
        'metrics:\n  listen: "localhost:70000"\n',
        4,
        'metrics.listen: must be "host:port" with a port from 1 to '
        '65535, e.g. "127.0.0.1:9464", or null (got "localhost:70000")',
    ),
    (
        # (audit CY 5: "²" is a digit to str.isdigit, not to int(): a traceback)
        'metrics:\n  listen: "127.0.0.1:\u00b2"\n',
        4,
        'metrics.listen: must be "host:port" with a port from 1 to 65535, e.g. "127.0.0.1:9464", or null '
        '(got "127.0.0.1:\u00b2")',
    ),
    (
        'metrics:\n  listen: "999.1.1.1:9464"\n',
        4,
        'metrics.listen: 999.1.1.1 is not an IP address (got "999.1.1.1:9464"); must be "host:port" with a port '
        'from 1 to 65535, e.g. "127.0.0.1:9464", or null',
    ),
    (
        "metrics:\n  listen: 9464\n",
        4,
        'metrics.listen: must be "host:port" with a port from 1 to 65535, e.g. "127.0.0.1:9464", or null (got 9464)',
    ),
    (
        "logging:\n  level: verbose\n",
        4,
        'logging.level: must be one of debug | info | warning | error (got "verbose")',
    ),
    ("logging:\n  format: text\n", 4, 'logging.format: must be one of auto | json | console (got "text")'),
    (
        "paths:\n  root: /b\n",
        3,
        "paths: duplicate key 'paths' (also on line 1); a key may appear only once here",
    ),
]


@pytest.mark.parametrize(("body", "line", "message"), CASES, ids=[case[2].split(":")[0] for case in CASES])
def test_schema_error(tmp_path: Path, body: str, line: int, message: str) -> None:
    path = write(tmp_path, MINIMAL + body)
    if message.startswith("routes[0]"):
        message += " (route 1)"  # key paths count from 0, the routes from 1 everywhere else (audit V)
    assert only_error(path) == f"{path}:{line}: {message}"


def test_paths_root_is_required(tmp_path: Path) -> None:
    path = write(tmp_path, "watch:\n  mode: auto\n")
    assert only_error(path) == (
        f"{path}:1: paths: missing; the config needs paths.root, the folder that holds inbox/, work/, ..."
    )
    path = write(tmp_path, "watch: {}\npaths:\n  inbox: /x\n", "b.yaml")
    assert only_error(path) == f"{path}:2: paths.root: missing; set it to the folder that holds inbox/, work/, ..."


def test_paths_unknown_folder_and_clashes(tmp_path: Path) -> None:
    path = write(tmp_path, "paths:\n  root: /srv\n  inbx: /x\n  done: /srv/work\n")
    assert errors_of(path) == [
        f"{path}:3: paths.inbx: unknown key 'inbx'; did you mean 'inbox'?",
        f"{path}:4: paths.done: is the same folder as paths.work; each needs its own",
    ]


def test_hot_folder_may_not_be_a_spool_folder(tmp_path: Path) -> None:
    path = write(tmp_path, with_root("hot_folders:\n  indigo:\n    path: /srv/spo/done\n"))
    assert only_error(path) == (
        f"{path}:5: hot_folders.indigo.path: is the same folder as paths.done; a hot folder must be the printer's own"
    )


def test_a_hot_folder_may_not_hold_the_spool_folders(tmp_path: Path) -> None:
    """Audit CE 5: paths.root itself was accepted as a hot folder (a spool folder was not): a RIP
    that looks into subfolders would print the outputs in quarantine/ and done/."""
    path = write(tmp_path, with_root("hot_folders:\n  indigo:\n    path: /srv/spo\n"))
    assert only_error(path) == (
        f"{path}:5: hot_folders.indigo.path: holds the spool folders (inbox, work, quarantine, ...); a printer that "
        "looks into subfolders would print what waits there: a hot folder must be the printer's own, outside "
        "paths.root's folders"
    )


def test_a_staging_folder_may_not_be_a_spool_folder(tmp_path: Path) -> None:
    """Audit Z1: a staging folder that is the inbox itself was accepted (one inside it was not)."""
    path = write(tmp_path, with_root("hot_folders:\n  indigo:\n    path: /mnt/indigo\n    staging: /srv/spo/inbox\n"))
    assert only_error(path) == (
        f"{path}:6: hot_folders.indigo.staging: is the same folder as paths.inbox; the daemon would treat its own "
        "temporary copies as files of its own: put it outside the spool folders"
    )


def test_spool_and_hot_folders_may_not_nest_in_spool_folders(tmp_path: Path) -> None:
    """A state/ inside the inbox would have the daemon take its own ledger as an unclaimed file; a
    hot folder inside it, the deliveries."""
    path = write(
        tmp_path,
        "paths:\n  root: /srv/spo\n  state: /srv/spo/inbox/state\n"
        "hot_folders:\n  indigo:\n    path: /srv/spo/inbox/printer\n"
        "  large:\n    path: /mnt/large\n    staging: /srv/spo/work/stage\n",
    )
    assert errors_of(path) == [
        f"{path}:3: paths.state: is inside paths.inbox (/srv/spo/inbox); the spool folders must not nest (the "
        "daemon would take the files of state for those of inbox)",
        f"{path}:6: hot_folders.indigo.path: is inside paths.inbox (/srv/spo/inbox); the daemon would treat what "
        "it delivers as its own files: put it outside the spool folders",
        f"{path}:9: hot_folders.large.staging: is inside paths.work (/srv/spo/work); the daemon would treat what "
        "it delivers as its own files: put it outside the spool folders",
    ]


def test_unknown_key_without_close_match_lists_allowed_keys(tmp_path: Path) -> None:
    path = write(tmp_path, with_root("logging:\n  colour: red\n"))
    assert only_error(path) == (
        f"{path}:4: logging.colour: unknown key 'colour'; the keys allowed here are: level, format"
    )


def test_every_error_is_reported_at_once_in_line_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        paths:
          root: /srv/spo
        watch:
          poll_intervall: 3
          settle_seconds: -1
        hot_folders:
          indigo:
            path: /mnt/indigo
            filename: "{order}.tif"
        routes:
          - when: {product: "bc-*"}
            to: indgo
        logging:
          level: loud
        """,
    )
    errors = errors_of(path)
    assert [error.split(": ", 2)[:2] for error in errors] == [
        [f"{path}:4", "watch.poll_intervall"],
        [f"{path}:5", "watch.settle_seconds"],
        [f"{path}:9", "hot_folders.indigo.filename"],
        [f"{path}:9", "hot_folders.indigo.filename"],
        [f"{path}:12", "routes[0].to"],
        [f"{path}:14", "logging.level"],
    ]
    assert "did you mean 'indigo'?" in errors[4]


def test_json_config_errors_have_lines(tmp_path: Path) -> None:
    path = write(tmp_path, '{\n  "paths": {"root": "/srv"},\n  "watch": {\n    "mode": "fast"\n  }\n}\n', "c.json")
    assert only_error(path) == f'{path}:4: watch.mode: must be one of auto | native | polling (got "fast")'


def test_template_placeholders() -> None:
    assert template_placeholders("{order_id}_{attributes.paper}.pdf") == ["order_id", "attributes.paper"]
    with pytest.raises(ValueError, match="partner"):
        template_placeholders("{order_id.pdf")


# --- filesystems (check-config) -------------------------------------------------------------------


@pytest.fixture
def other_fs(tmp_path: Path) -> Iterator[Path]:
    """A folder on another filesystem than ``tmp_path`` (in /dev/shm, a tmpfs)."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the test's tmp folder")
    folder = Path(tempfile.mkdtemp(prefix="spo-other-fs-", dir=shm))
    yield folder
    for path in sorted(folder.rglob("*"), reverse=True):
        path.rmdir()
    folder.rmdir()


def test_spool_folders_on_one_filesystem_and_missing_ones_are_fine(tmp_path: Path) -> None:
    path = write(tmp_path, "paths:\n  root: var\n  done: elsewhere/done\n")  # nothing created yet
    assert filesystem_errors(load_config(path)) == []
    (tmp_path / "var" / "inbox").mkdir(parents=True)
    assert filesystem_errors(load_config(path)) == []


def test_a_spool_folder_on_another_filesystem_is_an_error(tmp_path: Path, other_fs: Path) -> None:
    """`run` refuses to start then (moves between spool folders are renames): check-config says so."""
    path = write(tmp_path, f"paths:\n  root: var\n  inbox: var/in\n  done: {other_fs}\n")
    assert filesystem_errors(load_config(path)) == [
        f"{path}:4: paths.done: {other_fs} is on another filesystem or mount than paths.inbox "
        f"({tmp_path / 'var' / 'in'}; a bind mount of the same disk is another mount); the spool folders must all be "
        "under one mount of one filesystem (jobs move between them by rename), and the daemon refuses to start "
        "otherwise"
    ]
    # Not created yet, it would be made where its parent is: on the other filesystem too.
    path = write(tmp_path, f"paths:\n  root: var\n  failed: {other_fs / 'failed'}\n", "b.yaml")
    errors = filesystem_errors(load_config(path), "b.yaml")
    assert [e.split(": ", 2)[:2] for e in errors] == [["b.yaml:3", "paths.failed"]]


def test_a_spool_folder_under_another_mount_of_the_same_filesystem_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review EN 3: an inbox bound from an upload folder of the same disk (an FTP chroot, systemd's
    BindPaths=) passed check-config and `run`, and every artwork's move out of it failed
    "Invalid cross-device link" (a rename between two mounts), its job said to wait for a file
    "still being written". The same device, another mount: an error, and `run` refuses."""
    import spo_hotfolder.config as config_module
    from spo_hotfolder.service import StartupError, prepare_folders

    (tmp_path / "var" / "inbox").mkdir(parents=True)
    path = write(tmp_path, "paths:\n  root: var\n")
    assert filesystem_errors(load_config(path)) == []
    real = config_module.mount_points()
    bound = str((tmp_path / "var" / "inbox").resolve())
    monkeypatch.setattr(config_module, "mount_points", lambda: [*real, bound])
    errors = filesystem_errors(load_config(path))
    assert len(errors) == 1 and errors[0].startswith(f"{path}:1: paths.inbox: ")  # (not written: at paths)
    assert "is on another filesystem or mount than paths.work" in errors[0]
    with pytest.raises(StartupError, match="different filesystems or mounts"):
        prepare_folders(load_config(path))


def test_a_staging_folder_on_another_filesystem_than_its_hot_folder_is_an_error(tmp_path: Path, other_fs: Path) -> None:
    (tmp_path / "hot" / "indigo").mkdir(parents=True)
    (tmp_path / "hot" / "large").mkdir(parents=True)
    (tmp_path / "stage").mkdir()
    path = write(
        tmp_path,
        f"""\
        paths: {{root: var}}
        hot_folders:
          indigo:
            path: hot/indigo
            staging: {other_fs}
          large:
            path: hot/large
            staging: stage
          offline:
            path: /nonexistent/share
            staging: {other_fs}
          later:
            path: hot/large
            staging: {other_fs / "not-yet"}
        """,
    )
    assert filesystem_errors(load_config(path)) == [
        f"{path}:5: hot_folders.indigo.staging: {other_fs} is on another filesystem than the hot folder "
        f"({tmp_path / 'hot' / 'indigo'}); the temporary copy cannot be renamed into the hot folder, so every "
        "delivery to indigo would fail: use a folder on the hot folder's filesystem, or leave staging out"
    ]


def test_a_staging_folder_under_another_mount_of_the_same_disk_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit F2: a staging folder on a bind mount (or a container's second volume) of the hot
    folder's disk passed check-config ("config OK": the same device), and every delivery then
    failed: Linux renames only within one mount. The mounts are read from /proc/self/mountinfo."""
    import spo_hotfolder.config as config_module

    for sub in ("hot/indigo", "stage/bind", "hot/large/.stage"):
        (tmp_path / sub).mkdir(parents=True)
    path = write(
        tmp_path,
        """\
        paths: {root: var}
        hot_folders:
          indigo:
            path: hot/indigo
            staging: stage/bind
          large:
            path: hot/large
            staging: hot/large/.stage
        """,
    )
    real = config_module.mount_points()
    assert "/" in real and "/proc" in real  # (read from this machine's /proc/self/mountinfo)
    monkeypatch.setattr(config_module, "mount_points", lambda: [*real, str(tmp_path / "stage" / "bind")])
    assert filesystem_errors(load_config(path)) == [
        f"{path}:5: hot_folders.indigo.staging: {tmp_path / 'stage' / 'bind'} is on the hot folder's filesystem "
        f"but under another mount ({tmp_path / 'stage' / 'bind'}, the hot folder {tmp_path / 'hot' / 'indigo'} "
        f"under {config_module.mount_of(tmp_path, real)}: a bind mount, or two volumes of a container); a rename "
        "between two mounts fails, so every delivery to indigo would fail: use a folder under the hot folder's "
        "mount, or leave staging out"
    ]
    # A hot folder named through a symbolic link into the staging folder's mount: one mount.
    (tmp_path / "stage" / "bind" / "hot").mkdir()
    (tmp_path / "stage" / "bind" / ".stage").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "stage" / "bind")
    linked = write(
        tmp_path,
        "paths: {root: var}\nhot_folders:\n  x: {path: link/hot, staging: stage/bind/.stage}\n",
        "linked.yaml",
    )
    assert filesystem_errors(load_config(linked)) == []
    monkeypatch.setattr(config_module, "mount_points", lambda: real)
    assert filesystem_errors(load_config(path)) == []


def test_mount_points_are_read_with_their_escapes(tmp_path: Path) -> None:
    import spo_hotfolder.config as config_module

    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 254:0 / / rw - ext4 /dev/vda rw\n30 22 254:0 /srv/in /mnt/hot\\040folder rw - ext4 /dev/vda rw\n"
    )
    points = config_module.mount_points(info)
    assert points == ["/", "/mnt/hot folder"]
    assert config_module.mount_of(Path("/mnt/hot folder/in/../x"), points) == "/mnt/hot folder"
    assert config_module.mount_of(Path("/mnt/hot folderx"), points) == "/"
    assert config_module.mount_points(tmp_path / "none") == []


def test_a_file_where_a_hot_or_staging_folder_should_be_is_a_check_config_error(tmp_path: Path) -> None:
    """Audit P: `check-config` said "(not a folder!)" and "config OK", exit 0."""
    (tmp_path / "afile").write_text("x")
    (tmp_path / "hot").mkdir()
    path = write(
        tmp_path,
        """\
        paths: {root: var}
        hot_folders:
          a: {path: afile}
          b: {path: hot, staging: afile}
          c: {path: /nonexistent/share}
        """,
    )
    assert filesystem_errors(load_config(path)) == [
        f"{path}:3: hot_folders.a.path: {tmp_path / 'afile'} is a file, not a folder; every delivery to a would "
        "fail: name the folder",
        f"{path}:4: hot_folders.b.staging: {tmp_path / 'afile'} is a file, not a folder; every delivery to b "
        "would fail: name the folder",
    ]


def test_check_config_lists_filesystem_problems_with_the_files_own_errors(tmp_path: Path) -> None:
    """Audit AT 5: a hot folder that is a file was only said once the file had no other error (one
    more round of check-config for the sysadmin). ``load_config(filesystems=True)`` lists them all."""
    (tmp_path / "afile").write_text("x")
    path = write(
        tmp_path,
        """\
        paths: {root: var}
        watch: {settle_seconds: -1}
        hot_folders:
          a: {path: afile}
          b: {path: afile, filename: "{nosuch}.pdf"}
        """,
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path, filesystems=True)
    assert [error.split(": ", 2)[:2] for error in raised.value.errors] == [
        [f"{path}:2", "watch.settle_seconds"],
        [f"{path}:4", "hot_folders.a.path"],
        [f"{path}:5", "hot_folders.b.filename"],
        [f"{path}:5", "hot_folders.b.path"],  # an entry with an error of its own is still looked at
    ]
    assert f"{tmp_path / 'afile'} is a file, not a folder" in raised.value.errors[1]
    with pytest.raises(ConfigError) as plain:
        load_config(path)  # what run and the operator commands read: the file's own errors
    assert [error.split(": ", 2)[1] for error in plain.value.errors] == [
        "watch.settle_seconds",
        "hot_folders.b.filename",
    ]


# --- summary --------------------------------------------------------------------------------------


def test_summary(tmp_path: Path) -> None:
    (tmp_path / "hot" / "indigo").mkdir(parents=True)
    path = write(
        tmp_path,
        """\
        paths: {root: var}
        blocking: {products: ["poster-*"]}
        products: {"bc-*": {trim_mm: [85, 55], bleed_mm: 3, pages: 2}}
        hot_folders:
          indigo: {path: hot/indigo, ticket: json}
          large-format: {path: hot/large-format, staging: stage}
        routes:
          - when: {product: "bc-*"}
            to: indigo
          - when: {product: "poster-*", attributes.paper: "silk-*"}
            to: large-format
          - to: skip
        """,
    )
    text = summary(load_config(path))
    lines = text.splitlines()
    assert f"config: {path}" in lines
    assert f"root: {tmp_path / 'var'}" in lines
    assert any(line.strip().startswith(f"inbox: {tmp_path / 'var' / 'inbox'}") for line in lines)
    assert f"hot folder indigo: {tmp_path / 'hot' / 'indigo'}" in lines
    assert f"hot folder large-format: {tmp_path / 'hot' / 'large-format'}  (missing!)" in lines
    (tmp_path / "hot" / "large-format").write_text("a file where the share should be mounted")
    assert (
        f"hot folder large-format: {tmp_path / 'hot' / 'large-format'}  (not a folder!)"
        in summary(load_config(path)).splitlines()
    )
    assert "  ticket: json" in lines
    assert "  filename: {order_id}_{job_id}_{product}_x{quantity}.pdf" in lines
    assert "route 1: when product=bc-* -> indigo" in lines
    assert "route 2: when product=poster-*, attributes.paper=silk-* -> large-format" in lines
    assert "route 3: any job -> skip" in lines
    assert 'blocking: products "poster-*"' in lines
    assert (
        "retention: 30 days in done/ and rejected/ (purged at start, at a reload that changes it, then hourly)" in lines
    )
    assert "product bc-*: trim 85 x 55 mm, bleed 3 mm, 2 pages" in lines
    assert '  ignore: ".*", "~$*", "*.tmp", "*.part", "*.crdownload", "Thumbs.db", "desktop.ini"' in lines
    assert (
        "validation: size tolerance 1 mm; pages error, trim error, bleed error, fonts error, "
        "mixed_sizes warning, encryption warning, repaired error"
    ) in lines
    relaxed = write(tmp_path, "paths: {root: var}\nvalidation: {require_embedded_fonts: false, checks: {bleed: off}}\n")
    assert "validation: size tolerance 1 mm; pages error, trim error, bleed off, fonts off, mixed_sizes warning, " in (
        summary(load_config(relaxed))
    )


def test_summary_without_routes_says_jobs_are_skipped(tmp_path: Path) -> None:
    text = summary(load_config(write(tmp_path, MINIMAL)))
    assert "routes: none (jobs without a hot_folder in their manifest are skipped)" in text.splitlines()


def test_a_file_where_a_spool_folder_should_be_is_said_plainly(tmp_path: Path) -> None:
    """Audit P: check-config said "not created yet; run init", and init "File exists"."""
    from spo_hotfolder.service import StartupError, prepare_folders

    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "done").write_text("x")
    path = write(tmp_path, "paths: {root: var}\n")
    config = load_config(path)
    assert filesystem_errors(config) == [
        f"{path}:1: paths.done: {tmp_path / 'var' / 'done'} is a file, not a folder; init and run cannot make "
        "the folder there"
    ]
    assert f"done: {tmp_path / 'var' / 'done'}  (a file, not a folder!)" in summary(config)
    with pytest.raises(StartupError) as info:
        prepare_folders(config)
    assert str(info.value) == (
        f"cannot create folder {tmp_path / 'var' / 'done'}: {tmp_path / 'var' / 'done'} is a file, not a folder; "
        "move it away or point the config elsewhere"
    )


def test_a_spool_folder_this_user_may_not_create_says_whose_folder_refused_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit BW 4: "cannot create folder .../rejected: Permission denied" alone, where a folder not
    writable names its owner, mode and the fix."""
    import errno
    import pwd

    from spo_hotfolder.service import StartupError, prepare_folders

    (tmp_path / "var").mkdir()
    (tmp_path / "var").chmod(0o755)
    config = load_config(write(tmp_path, "paths: {root: var}\n"))
    real = Path.mkdir

    def mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        if self.name == "rejected":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    with pytest.raises(StartupError) as info:
        prepare_folders(config)
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert str(info.value).startswith(
        f"cannot create folder {tmp_path / 'var' / 'rejected'}: Permission denied: this user ({me}, uid "
        f"{os.geteuid()}) may not create "
        f"folders in {tmp_path / 'var'}, which belongs to {me}, group "
    ), info.value
    assert str(info.value).endswith(
        "mode 755; create it as root with its owner and mode (step 3 of docs/service.md: systemd-tmpfiles --create "
        "/etc/tmpfiles.d/spo-hotfolder.conf), or give this user the right to write there"
    ), info.value


def test_spool_folders_too_long_for_the_job_files_or_the_ledger_are_refused(tmp_path: Path) -> None:
    """Audits BX 3, 4: a paths.root of 3,850 bytes left jobs stuck with ENAMETOOLONG, unsaid; one of
    490 bytes made the start fail with SQLite's "unable to open database file"."""
    deep = "/srv/" + "/".join(["x" * 200] * 6)
    root = "/srv/" + "r" * 200 + "/" + "s" * 200 + "/" + "t" * 100
    for given, said in (
        (
            deep,
            f"makes inbox/ a path of {len(deep) + 6} bytes ({(deep + '/inbox')[:60]}...); a spool folder's path may be "
            "at most 1024 bytes, to leave room for the job folders and files under it within the system's limit of "
            "4,096 bytes a path: choose a shorter one",
        ),
        (
            root,
            f"makes state/ a path of {len(root) + 6} bytes; the ledger in it (SQLite) can be opened only at a path of "
            "at most 504 bytes, so state/ may be at most 489: choose a shorter one (or set paths.state alone to a "
            "shorter path)",
        ),
    ):
        path = write(tmp_path, f"paths: {{root: {given}}}\n")
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert info.value.errors == [f"{path}:1: paths.root: {said}"]
    load_config(write(tmp_path, f"paths: {{root: {root}, state: /srv/state}}\n"))  # (as the error says)


def test_numbers_too_big_to_make_a_date_are_refused(tmp_path: Path) -> None:
    """done_days: 1000000 ("keep for ever") passed check-config, then every retention run failed
    with OverflowError; a timeout of 1e300 seconds failed every job that waited for artwork."""
    path = tmp_path / "c.yaml"
    path.write_text(
        f"paths: {{root: {tmp_path}/r}}\nhot_folders: {{a: {{path: {tmp_path}/h}}}}\nroutes: [{{to: a}}]\n"
        "retention: {done_days: 1000000}\nwatch: {artwork_timeout_seconds: 1.0e+300}\n"
        "delivery: {backoff_seconds: [10, 1.0e+300]}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert "retention.done_days: must be at most 36500, i.e. 100 years" in text
    assert "watch.artwork_timeout_seconds: must be at most 1e+09" in text
    assert "delivery.backoff_seconds[1]:" in text


def test_a_tab_in_the_indentation_is_named_as_such(tmp_path: Path) -> None:
    """Audit Z1: a tab gave PyYAML's "found character '\\t' that cannot start any token"."""
    path = write(tmp_path, "paths:\n\troot: /srv/spo\n")
    error = only_error(path)
    assert error.startswith(f"{path}:2: YAML syntax error: a tab character where YAML wants spaces")
    assert "indent with spaces" in error


def test_every_error_of_a_hot_folder_entry_is_listed_at_once(tmp_path: Path) -> None:
    """Audit AA: a bad name hid the entry's other errors, a bad filename the staging check; each
    run of check-config showed one more."""
    path = write(
        tmp_path,
        """\
        paths: {root: var}
        hot_folders:
          "bad name":
            path: /tmp/hot
            filename: "x/{job_id}.pdf"
            ticket: xml
          good:
            path: /tmp/hot2
            filename: "{order_id}{nope}.pdf"
            staging: /tmp/hot2
        """,
    )
    errors = [error.split(": ", 1)[1] for error in errors_of(path)]
    assert [error.split(":")[0] for error in errors] == [
        "hot_folders.bad name",
        "hot_folders.bad name.filename",
        "hot_folders.bad name.ticket",
        "hot_folders.good.filename",
        "hot_folders.good.staging",
    ]


def test_health_of_a_daemon_that_cannot_report_for_a_full_disk_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit AB: a full spool disk read as "has not reported for 37 s (hung?)": the daemon could not
    rewrite health.json."""
    import json
    import os
    from types import SimpleNamespace

    import spo_hotfolder.health as health

    config = load_config(write(tmp_path, "paths: {root: var}\n"))
    config.paths.state.mkdir(parents=True)
    stale = {"ok": True, "pid": os.getpid(), "heartbeat": "2026-01-01T00:00:00.000Z", "heartbeat_interval_seconds": 5}
    (config.paths.state / "health.json").write_text(json.dumps(stale))
    monkeypatch.setattr(health, "daemon_alive", lambda pid: True)
    assert health.health_report(config)["reason"].endswith(
        f"s (hung? or it cannot write its report {config.paths.state / 'health.json'}: see its log)"
    )
    # A read-only filesystem (review FR 2: "hung?" of a daemon that could record nothing)
    monkeypatch.setattr(
        health.os, "statvfs", lambda path: SimpleNamespace(f_bavail=900, f_files=100, f_favail=5, f_flag=os.ST_RDONLY)
    )
    assert health.health_report(config)["reason"].endswith(
        f"s (the filesystem of {config.paths.state} is read-only: it can record nothing)"
    )
    monkeypatch.setattr(
        health.os, "statvfs", lambda path: SimpleNamespace(f_bavail=0, f_files=100, f_favail=5, f_flag=0)
    )
    reason = health.health_report(config)["reason"]
    assert reason.endswith(f"s (the disk holding {config.paths.state} is full: free some space)"), reason
    # No inode left: as full (audit U: a spool of many small files).
    monkeypatch.setattr(
        health.os, "statvfs", lambda path: SimpleNamespace(f_bavail=900, f_files=100, f_favail=0, f_flag=0)
    )
    assert health.health_report(config)["reason"].endswith("is full: free some space)")


def _spool_of_a_restarted_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    """A spool whose health.json is the report of pid 1111, gone, and whose instance lock names pid
    2222, alive (a daemon started again that has not reported yet)."""
    import json

    import spo_hotfolder.health as health

    config = load_config(write(tmp_path, "paths: {root: var}\n"))
    config.paths.state.mkdir(parents=True)
    old = {"ok": True, "pid": 1111, "heartbeat": "2026-01-01T00:00:00.000Z", "heartbeat_interval_seconds": 5}
    (config.paths.state / "health.json").write_text(json.dumps(old))
    (config.paths.state / health.LOCK_NAME).write_text("2222\n")
    monkeypatch.setattr(health, "daemon_alive", lambda pid: pid == 2222)
    return config


def test_health_of_a_daemon_restarted_on_a_full_disk_names_it_not_the_one_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit U 4: killed, then started again on a full spool disk, the new daemon could not write
    health.json: `health` said "the daemon is not running (pid <the killed one> ended without
    stopping)" of a running daemon. The instance lock names the one that runs."""
    from types import SimpleNamespace

    import spo_hotfolder.health as health

    config = _spool_of_a_restarted_daemon(tmp_path, monkeypatch)
    monkeypatch.setattr(
        health.os, "statvfs", lambda path: SimpleNamespace(f_bavail=0, f_files=100, f_favail=5, f_flag=0)
    )
    report = health.health_report(config)
    assert report["ok"] is False and report["pid"] == 2222
    assert report["reason"] == (
        f"the daemon (pid 2222) is starting: no health report yet: the disk holding {config.paths.state} is full, "
        "free some space"
    )
    monkeypatch.setattr(health, "daemon_alive", lambda pid: False)  # (and when none runs: as before)
    assert health.health_report(config)["reason"] == "the daemon is not running (pid 1111 ended without stopping)"


@pytest.mark.parametrize("unreadable", ["health.json", "daemon.lock"])
def test_health_that_cannot_read_the_report_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unreadable: str
) -> None:
    """Audit GC 1: `health` run by a monitoring account that may not read the daemon's report
    (state/ not open to it) said "the daemon (pid ...) is starting" of a daemon running well, or
    "not running" where the instance lock could not be read either."""
    import errno

    import spo_hotfolder.health as health

    config = _spool_of_a_restarted_daemon(tmp_path, monkeypatch)
    real_read_text = Path.read_text

    def read_text(self: Path, *args: object, **kwargs: object) -> str:
        if self.name == unreadable:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_read_text(self)

    real_stat = Path.stat

    def stat(self: Path, *args: Any, **kwargs: Any) -> os.stat_result:
        if self.name == "ledger.sqlite3":  # (state/ not open to this user: review GN 4)
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    monkeypatch.setattr(Path, "stat", stat)
    report = health.health_report(config)
    assert report["ok"] is False
    assert report["reason"] == (
        f"cannot tell whether the daemon runs: cannot read {config.paths.state / unreadable}: Permission denied: "
        "run it as the daemon's user, or as a member of its group"
    )
    assert report["pid"] is None and report["age_seconds"] is None  # the keys of a report as ever


@pytest.mark.parametrize(
    ("text", "root"),
    [
        ("paths:\n  # the spool\n  root: /srv/spool   # here\nwatch: [\n", "/srv/spool"),
        ('paths: {root: "/srv/spool", inbox: /x}\nroutes: [\n', "/srv/spool"),
        ("paths:\n  root: 'spool'\nhot_folders: {\n", "BASE/spool"),
        ("watch: [\n", None),
        ("paths:\nroot: /srv\n", None),  # root not under paths: not guessed
    ],
)
def test_health_finds_the_spool_of_a_config_that_no_longer_parses(tmp_path: Path, text: str, root: str | None) -> None:
    """Audit AO 1: a YAML syntax error saved in the config made `health` report an error (exit 1)
    for a daemon running fine on the config it read before: paths.root is read by its line."""
    from spo_hotfolder.config import load_paths

    path = tmp_path / "c.yaml"
    path.write_text(text)
    paths = load_paths(path)
    if root is None:
        assert paths is None
    else:
        assert paths is not None and paths.root == Path(root.replace("BASE", str(tmp_path)))
        assert paths.state == paths.root / "state"


def test_a_path_of_an_unknown_users_home_or_with_an_overlong_name_is_a_config_error(tmp_path: Path) -> None:
    """Audit AT 2, 3: `~nosuchuser/...` raised RuntimeError out of the config check (a traceback
    from check-config and run, a reload that killed the daemon's main thread); a 300-character
    folder name passed the check and crashed the daemon's start with ENAMETOOLONG."""
    path = write(tmp_path, "paths:\n  root: ~nosuchuser-spo/spool\n")
    assert only_error(path) == (
        f"{path}:2: paths.root: '~nosuchuser-spo/spool' starts with ~nosuchuser-spo, but there is no user "
        "'nosuchuser-spo': write the full path"
    )
    long = "x" * 300
    path = write(tmp_path, MINIMAL + f"hot_folders:\n  a:\n    path: /srv/hot/{long}/in\n", "b.yaml")
    assert only_error(path) == (
        f"{path}:5: hot_folders.a.path: has a name longer than 255 bytes ({'x' * 40}...): no filesystem allows that"
    )


def test_a_spool_folder_set_to_the_root_is_named_once_as_the_culprit(tmp_path: Path) -> None:
    """Audit AT 7: `paths.inbox` set to paths.root gave six errors, one for each folder at its
    default place (work, quarantine, ...), none naming the key written: paths.inbox."""
    path = write(tmp_path, "paths:\n  root: /srv/spo\n  inbox: /srv/spo\n")
    assert only_error(path) == (
        f"{path}:3: paths.inbox: contains the default places of paths.work, paths.quarantine, paths.failed, "
        "paths.done, paths.rejected, paths.state (under paths.root, /srv/spo); the spool folders must not nest "
        "(the daemon would take their files for those of inbox): put paths.inbox outside paths.root, or leave it out"
    )


def test_a_root_that_is_a_file_is_a_check_config_error(tmp_path: Path) -> None:
    """Audit BB 5: paths.root naming a file was "config OK"; init and run then failed."""
    (tmp_path / "rootfile").write_text("x")
    path = write(tmp_path, "paths:\n  root: rootfile\n")
    assert filesystem_errors(load_config(path)) == [
        f"{path}:2: paths.root: {tmp_path / 'rootfile'} is a file, not a folder; init and run cannot make the "
        "spool folders under it"
    ]
    (tmp_path / "rootfile").unlink()
    (tmp_path / "rootfile").mkdir()
    assert filesystem_errors(load_config(path)) == []


def test_check_config_notes_spool_folders_this_user_may_not_write_or_create(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """check-config said "config OK" for a paths.root the service user could not create, or a
    spool folder it could not write, which `run` then refused (audit BR 4): notes, since it depends
    on who runs it."""
    import os

    from spo_hotfolder import service

    root = tmp_path / "root"
    (root / "inbox").mkdir(parents=True)
    (root / "done").mkdir()
    config = load_config(write(tmp_path, f"paths:\n  root: {root}\n  failed: {tmp_path / 'locked' / 'failed'}\n"))
    (tmp_path / "locked").mkdir()
    denied = {root / "done", tmp_path / "locked"}
    real = os.access
    monkeypatch.setattr(service.os, "access", lambda p, mode: Path(p) not in denied and real(p, mode))
    monkeypatch.setattr(service, "this_user", lambda: "spo-hotfolder, uid 999")
    assert service.folder_access_notes(config) == [
        f"spool folder failed ({tmp_path / 'locked' / 'failed'}) does not exist, and this user (spo-hotfolder, "
        f"uid 999) may not create it in {tmp_path / 'locked'}: init and run, as this user, would fail; make the "
        "folders first (docs/service.md, the tmpfiles step) or give this user the right to",
        f"spool folder done ({root / 'done'}) is not writable by this user (spo-hotfolder, uid 999): the daemon, "
        "run as this user, would refuse to start",
    ]
    denied.clear()
    assert service.folder_access_notes(config) == []
    # On a filesystem mounted read-only, no user may: said once per mount, with the mend that helps
    # (audit, sysadmin F2: "give this user the right to"); `run` refuses in the same words.
    read_only = {root, tmp_path / "locked"}
    real_statvfs = os.statvfs

    class ReadOnly:
        f_flag = os.ST_RDONLY

    monkeypatch.setattr(
        service.os, "access", lambda p, mode: not any(Path(p) == f or f in Path(p).parents for f in read_only)
    )
    monkeypatch.setattr(
        service.os, "statvfs", lambda p: ReadOnly() if not service.os.access(p, os.W_OK) else real_statvfs(p)
    )
    from spo_hotfolder.config import mount_of, mount_points

    mount = mount_of(root.resolve(), mount_points())
    assert mount is not None and mount == mount_of((tmp_path / "locked").resolve(), mount_points())
    assert service.folder_access_notes(config) == [
        f"spool folder inbox ({root / 'inbox'}) is on a filesystem mounted read-only (mount point {mount}): init "
        "and run would fail, whoever runs them; mount it read-write",
    ]
    with pytest.raises(
        service.StartupError,
        match=r"spool folder inbox \(.*\) is on a filesystem mounted read-only; mount it read-write",
    ):
        service.check_folders(config)


def test_run_refuses_a_spool_folder_it_may_not_write_saying_whose_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run` as a user who may not write a spool folder said "not writable by this user (uid 65534)":
    it names the user, the folder's owner, group and mode, and what to do."""
    from spo_hotfolder import service

    root = tmp_path / "root"
    config = load_config(write(tmp_path, f"paths:\n  root: {root}\n"))
    service.prepare_folders(config)
    (root / "done").chmod(0o750)
    real = os.access
    monkeypatch.setattr(service.os, "access", lambda p, mode: Path(p) != root / "done" and real(p, mode))
    monkeypatch.setattr(service, "this_user", lambda: "alice, uid 1001")
    monkeypatch.setattr(service, "user_name", lambda uid: "spo-hotfolder")
    monkeypatch.setattr(service, "group_name", lambda gid: "spool")
    with pytest.raises(service.StartupError) as refused:
        service.check_folders(config)
    assert str(refused.value) == (
        f"spool folder done ({root / 'done'}) is not writable by this user (alice, uid 1001): it belongs to "
        "spo-hotfolder, group spool, mode 750; run the daemon as the user the spool is for (the service's "
        "User=, docs/service.md), or give this user the right to write there"
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may give folders away")
def test_init_as_root_makes_folders_and_ledger_the_service_users_own(tmp_path: Path) -> None:
    """Audit BT 3: `init` run as root (its umask 022) under a spool root the service user owns made
    root-owned 0755 folders (inbox/, state/commands/) and a 0644 ledger that locked the service or
    the operators out. They get the owner, group and mode of the folder they are made in."""
    import stat

    from spo_hotfolder.ledger import Ledger, ledger_path
    from spo_hotfolder.service import prepare_folders

    root = tmp_path / "root"
    (root / "state").mkdir(parents=True)
    for folder, mode in ((root, 0o2775), (root / "state", 0o2770)):
        os.chown(folder, 12345, 12346)
        folder.chmod(mode)
    config = load_config(write(tmp_path, f"paths:\n  root: {root}\n"))
    old = os.umask(0o022)
    try:
        created = prepare_folders(config)
        Ledger(ledger_path(config)).close()
    finally:
        os.umask(old)
    assert root / "inbox" in created and root / "state" / "commands" in created
    for folder in created:
        st = folder.stat()
        parent = folder.parent.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (12345, 12346, stat.S_IMODE(parent.st_mode)), folder
    ledger = ledger_path(config).stat()
    assert (ledger.st_uid, stat.S_IMODE(ledger.st_mode)) == (12345, 0o664)


def test_check_config_looks_at_hot_folders_through_its_probe_and_a_silent_one_is_no_error(tmp_path: Path) -> None:
    """check-config looks at hot and staging folders in another process (a share that does not
    answer must not hold it up): what that look says is what the checks and the summary use."""
    (tmp_path / "afile").write_text("x")
    path = write(
        tmp_path,
        """\
        paths: {root: var}
        delivery: {share_timeout_seconds: 3}
        hot_folders:
          a: {path: /mnt/hung/in}
          b: {path: afile}
        """,
    )
    asked: list[tuple[list[Path], float]] = []

    def probe(folders: Sequence[Path], seconds: float) -> FolderLook:
        asked.append((list(folders), seconds))
        return lambda folder: Seen("silent") if folder == Path("/mnt/hung/in") else look_here(folder)

    with pytest.raises(ConfigError) as raised:
        load_config(path, filesystems=True, probe=probe)
    assert asked == [([Path("/mnt/hung/in"), tmp_path / "afile"], 3.0)]
    assert [error.split(": ", 2)[1] for error in raised.value.errors] == ["hot_folders.b.path"]
    path.write_text(path.read_text().replace("b: {path: afile}", "b: {path: /mnt/other}"))
    config = load_config(path, filesystems=True, probe=probe)
    text = summary(config, probe([], 0))
    assert "hot folder a: /mnt/hung/in  (does not answer!)" in text
    assert "hot folder b: /mnt/other  (missing!)" in text


def test_check_config_says_a_missing_hot_folder_on_stderr_as_init_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Audit (CLI) 5: a missing hot folder was marked only in check-config's summary on stdout (no
    error: a share not mounted yet), so a script reading its stderr never saw it; init says it there."""
    from spo_hotfolder.cli import main

    (tmp_path / "hot" / "indigo").mkdir(parents=True)
    path = write(
        tmp_path,
        """\
        paths: {root: var}
        hot_folders:
          indigo: {path: hot/indigo, staging: hot/.staging}
          gone: {path: hot/gone}
        routes:
          - to: indigo
        """,
    )
    assert main(["-c", str(path), "check-config"]) == 0
    out, err = capsys.readouterr()
    assert out.endswith("config OK\n")
    # A staging folder missing too (audit D: it was marked only in the summary): deliveries fail.
    notes = [
        f"note: staging folder of hot folder indigo ({tmp_path / 'hot' / '.staging'}) does not exist; the daemon "
        "never creates it: deliveries into indigo fail and are retried until it exists",
        f"note: hot folder gone ({tmp_path / 'hot' / 'gone'}) does not exist; the daemon never creates it",
    ]
    assert err.splitlines() == notes
    assert main(["-c", str(path), "init"]) == 0
    assert capsys.readouterr().err.splitlines() == notes


def test_init_that_cannot_make_a_folder_makes_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Audit (CLI) 4: with paths.work naming a file, init said so, but only after making root/ and
    inbox/: a half-made layout, which `jobs` then asked to `init`."""
    from spo_hotfolder.cli import main

    (tmp_path / "afile").write_text("not a folder")
    path = write(tmp_path, f"paths:\n  root: {tmp_path / 'deep' / 'r6'}\n  work: {tmp_path / 'afile'}\n")
    assert main(["-c", str(path), "init"]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"spo-hotfolder: error: cannot create folder {tmp_path / 'afile'}: {tmp_path / 'afile'} is a file, not a "
        "folder; move it away or point the config elsewhere\n"
    )
    assert not (tmp_path / "deep").exists()


def test_numbers_written_with_an_exponent_are_numbers(tmp_path: Path) -> None:
    """Audit D 5: YAML 1.1 reads 2e2 and 5e-1 (no dot) as text: trim_mm [2e2, 1e2] was told
    "write it without quotes" (there were none) and settle_seconds 5e-1 "must be a number"."""
    path = tmp_path / "c.yaml"
    path.write_text(
        f"paths:\n  root: {tmp_path / 'root'}\nwatch:\n  settle_seconds: 5e-1\n"
        'products:\n  "a-*": {trim_mm: [2e2, 1e2], bleed_mm: 3e0}\n'
        # (audit, config reference: the backoff list alone refused them)
        "delivery:\n  backoff_seconds: [5e-1, 1e2]\n"
    )
    config = load_config(path)
    assert config.watch.settle_seconds == 0.5
    assert config.delivery.backoff_seconds == (0.5, 100.0)
    [product] = config.products
    assert product.trim_mm == (200.0, 100.0) and product.bleed_mm == 3.0


def test_numbers_with_a_dot_and_an_unsigned_exponent_are_numbers(tmp_path: Path) -> None:
    """Audit 12-05 B 1: YAML 1.1 reads 1.0e+1 as a number but 1.0e1 and .5e1 as text: settle_seconds
    1.0e1 was "must be a number 0 or more (got "1.0e1")" while 1e1 passed."""
    path = tmp_path / "c.yaml"
    path.write_text(
        f"paths:\n  root: {tmp_path / 'root'}\nwatch:\n  settle_seconds: 1.0e1\n  rescan_seconds: 2.5E1\n"
        'products:\n  "a-*": {trim_mm: [8.5e1, .55e2]}\n'
        "delivery:\n  backoff_seconds: [1.5e2, 1.e1]\n"
    )
    config = load_config(path)
    assert (config.watch.settle_seconds, config.watch.rescan_seconds) == (10.0, 25.0)
    assert config.delivery.backoff_seconds == (150.0, 10.0)
    [product] = config.products
    assert product.trim_mm == (85.0, 55.0)


def test_a_hot_folder_named_by_a_number_is_routed_to_by_that_number(tmp_path: Path) -> None:
    """A shop that numbers its printers: `7:` (a key YAML reads as a number) and `to: 7` are one
    name, as is a manifest's `hot_folder: 7` (audit, sysadmin F3: "no hot folder named 7 (hot
    folders: 7)")."""
    config = load_config(write(tmp_path, with_root("hot_folders:\n  7: {path: /mnt/seven}\nroutes:\n  - to: 7\n")))
    assert list(config.hot_folders) == ["7"]
    assert config.routes[0].to == "7"
    manifest = parse_manifest(
        b'order_id: "1"\nproduct: bc\nquantity: 1\nartwork: [a.pdf]\nhot_folder: 7\n', "1.yaml", ("7",)
    )
    assert manifest.jobs[0].hot_folder == "7"


def test_a_key_yaml_reads_as_a_boolean_or_null_is_refused_in_words(tmp_path: Path) -> None:
    """`yes:` was taken as a hot folder named "True", a top-level `null:` reported as key `None`."""
    errors = errors_of(
        write(tmp_path, with_root("null: 1\nhot_folders:\n  yes: {path: /mnt/y}\n  1.50: {path: /mnt/f}\n"))
    )
    assert errors == [
        f"{tmp_path / 'spo.yaml'}:3: null: this key is read as nothing (null, ~ or an empty key), not as a name; "
        "put it in quotes as written (e.g. 'null':) if it is a name",
        f"{tmp_path / 'spo.yaml'}:5: hot_folders.true: this key is read as the boolean true (yes, no, on, off, true "
        "and false are booleans in YAML), not as a name; put it in quotes as written (e.g. 'yes':) if it is a name",
        f"{tmp_path / 'spo.yaml'}:6: hot_folders.1.5: this key is read as the number 1.5, not as a name; put it in "
        "quotes as written (e.g. '1.50':) if it is a name",
    ]
    config = load_config(write(tmp_path, with_root("hot_folders:\n  'yes': {path: /mnt/y}\n"), "quoted.yaml"))
    assert list(config.hot_folders) == ["yes"]


def test_a_hot_folder_named_by_a_date_is_the_name_as_written_and_routes_name_it(tmp_path: Path) -> None:
    """Review DW 5: `2024-01-01:` (a date to YAML) was a hot folder that `to: 2024-01-01` could not name
    ("no hot folder named the date 2024-01-01 (hot folders: 2024-01-01)"); a time of day, whose text
    YAML does not keep, is refused in words."""
    text = with_root(
        "hot_folders:\n  2024-01-01: {path: /mnt/d}\n  '2024-01-02': {path: /mnt/e}\n"
        "routes:\n  - {when: {product: a}, to: 2024-01-01}\n  - {when: {product: b}, to: 2024-01-02}\n"
    )
    config = load_config(write(tmp_path, text))
    assert list(config.hot_folders) == ["2024-01-01", "2024-01-02"]
    assert [rule.to for rule in config.routes] == ["2024-01-01", "2024-01-02"]
    errors = errors_of(write(tmp_path, with_root("hot_folders:\n  2024-01-01 10:00:00: {path: /mnt/t}\n"), "t.yaml"))
    assert errors == [
        f"{tmp_path / 't.yaml'}:4: hot_folders.2024-01-01 10:00:00: this key is read as a time (2024-01-01 "
        "10:00:00), not as a name; put it in quotes as written (e.g. '2024-01-01 10:00':) if it is a name"
    ]


def test_a_key_yaml_reads_as_another_number_than_written_is_refused(tmp_path: Path) -> None:
    """Audit CY 3: `products: {0750: ...}` was the pattern "488" (YAML 1.1's octal), `010:` under
    hot_folders a hot folder "8", `1_000:` "1000": check-config said "config OK", and a job of
    product "0750" got no product expectations (a wrong-size PDF printed unchecked)."""
    path = write(
        tmp_path,
        with_root(
            "products:\n  0750: {pages: 2}\n  1_000: {pages: 1}\n  750: {pages: 3}\n"
            "hot_folders:\n  010: {path: /mnt/e}\n"
        ),
    )
    assert errors_of(path) == [
        f"{path}:4: products.0750: this key is read as the number 488, not as written (0750); put it in quotes as "
        "written ('0750':) if it is a name",
        f"{path}:5: products.1_000: this key is read as the number 1000, not as written (1_000); put it in quotes as "
        "written ('1_000':) if it is a name",
        f"{path}:8: hot_folders.010: this key is read as the number 8, not as written (010); put it in quotes as "
        "written ('010':) if it is a name",
    ]


def test_yaml_number_forms_that_do_not_mean_what_they_show_are_refused(tmp_path: Path) -> None:
    """(audit, sysadmin F5) `poll_interval_seconds: 1:30` was taken as 90 s (YAML 1.1's base 60),
    `size_tolerance_mm: 0x10` as 16, `done_days: 010` as 8, with "config OK"."""
    path = write(
        tmp_path,
        with_root(
            "watch:\n  poll_interval_seconds: 1:30\n  settle_seconds: 0.5\nvalidation:\n  size_tolerance_mm: 0x10\n"
            "retention:\n  done_days: 010\ndelivery:\n  backoff_seconds: [10, 0b11]\n"
        ),
    )
    assert errors_of(path) == [
        f"{path}:4: watch.poll_interval_seconds: write the number in plain digits, or in quotes if it is text (got "
        "1:30, which YAML reads as 90)",
        f"{path}:7: validation.size_tolerance_mm: write the number in plain digits, or in quotes if it is text "
        "(got 0x10, which YAML reads as 16)",
        f"{path}:9: retention.done_days: write the number in plain digits, or in quotes if it is text (got 010, "
        "which YAML reads as 8)",
        f"{path}:11: delivery.backoff_seconds[1]: write the number in plain digits, or in quotes if it is text "
        "(got 0b11, which YAML reads as 3)",
    ]
    plain = write(tmp_path, with_root("watch:\n  poll_interval_seconds: 90\n  settle_seconds: 0\n"), "plain.yaml")
    assert load_config(plain).watch.poll_interval_seconds == 90


def test_paths_with_variables_spaces_or_line_breaks_are_refused(tmp_path: Path) -> None:
    """(audit, sysadmin F5) `root: $HOME/spool` made a folder named "$HOME"; a trailing space and a
    line break were taken into the folder names too, with "config OK"."""
    path = write(
        tmp_path,
        'paths:\n  root: $HOME/spool\n  done: "/srv/done "\n  failed: "/srv/fa\\niled"\n'
        "hot_folders:\n  a: {path: '${PRINTERS}/a'}\n",
    )
    assert errors_of(path) == [
        f'{path}:2: paths.root: "$HOME/spool" holds $HOME, which is not expanded here (the config is read as it '
        "is written): write the folder out in full",
        f'{path}:3: paths.done: "/srv/done " begins or ends with a space: remove it (a folder whose name '
        "does cannot be used here: rename it)",
        f"{path}:4: paths.failed: contains a control character ('\\n', a line break or tab?): write the path on one "
        "line",
        f'{path}:6: hot_folders.a.path: "${{PRINTERS}}/a" holds ${{PRINTERS}}, which is not expanded here (the '
        "config is read as it is written): write the folder out in full",
    ]
    assert (
        load_config(write(tmp_path, "paths:\n  root: ~/spool$\n", "ok.yaml")).paths.root
        == Path("~/spool$").expanduser()
    )


def test_glob_patterns_that_never_match_what_they_show_are_errors(tmp_path: Path) -> None:
    """Audit 12-05 B 2: an empty product pattern, a range written backwards, a '[' never closed
    (read as itself) and a '/' in an ignore pattern (matched against names) were all "config OK":
    the rule they were written for silently did nothing, and a job meant to be held could print."""
    path = write(
        tmp_path,
        with_root(
            """\
            watch:
              ignore: ["inbox/*.tmp", "*.part"]
            blocking:
              products: ["[z-a]*", "poster-*", "banner-* "]
            products:
              "": {pages: 1}
              "poster-[": {pages: 1}
            hot_folders:
              indigo: {path: /mnt/indigo}
            routes:
              - when: {product: "bc-[0-9*"}
                to: indigo
              - when: {attributes.paper: "silk-[9-1]"}
                to: indigo
            """
        ),
    )
    assert errors_of(path) == [
        f"{path}:4: watch.ignore[0]: holds a '/' ('inbox/*.tmp'), but these patterns are matched against the name "
        "of a file or folder, never a path, so it would never match; write '*.tmp'",
        f"{path}:6: blocking.products[0]: has the range 'z-a' backwards ('[z-a]*'): it holds no character, so the "
        "pattern never matches; write 'a-z'",
        # Audit AK R1: a product with a space at either end is refused in a manifest: this held nothing.
        f"{path}:6: blocking.products[2]: begins or ends with a space ('banner-* '): no product does (a manifest's "
        "product with one is refused), so it would never match; write 'banner-*'",
        f"{path}:8: products.: the product pattern must not be empty: no job has an empty product",
        f"{path}:9: products.poster-[: has a '[' that is never closed ('poster-['): a glob reads '[...]' as one of "
        "the characters inside, and an unclosed '[' as itself; to match a '[' itself write '[[]'",
        f"{path}:13: routes[0].when.product: has a '[' that is never closed ('bc-[0-9*'): a glob reads '[...]' as "
        "one of the characters inside, and an unclosed '[' as itself; to match a '[' itself write '[[]' (route 1)",
        f"{path}:15: routes[1].when.attributes.paper: has the range '9-1' backwards ('silk-[9-1]'): it holds no "
        "character, so the pattern never matches; write '1-9' (route 2)",
    ]


@pytest.mark.parametrize("pattern", ["[[]x]", "a[!a-c]*", "[]]x", "[!]]x", "x-[a-]", "[-z]", "*[0-9]", "~$*"])
def test_glob_patterns_with_sets_written_well_are_taken(pattern: str) -> None:
    assert glob_problem(pattern) is None


def test_a_route_to_an_unknown_hot_folder_does_not_list_skip_among_the_hot_folders(tmp_path: Path) -> None:
    """Audit T 7: with a hot folder wrongly named "skip" (refused: the word routes use for no hot
    folder), "no hot folder named 'nowhere' (hot folders: skip, a)" offered it as one."""
    path = tmp_path / "c.yaml"
    path.write_text(
        f"paths: {{root: {tmp_path / 'r'}}}\nhot_folders:\n  skip: {{path: /x}}\n  a: {{path: /y}}\n"
        "routes:\n  - to: nowhere\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    [route] = [e for e in raised.value.errors if "routes[0].to" in e]
    assert route.endswith(
        "no hot folder named \"nowhere\" (hot folders: a); use 'skip' to deliver nowhere (route 1)"
    ), route


def test_a_product_code_written_as_a_number_is_taken_alike_by_routes_and_blocking(tmp_path: Path) -> None:
    """Audit AM: `routes[].when.product: 5` was taken as "5" but `blocking.products: [5]` refused,
    and `product: 0750` was said wrong twice for the one key."""
    path = write(
        tmp_path,
        with_root(
            'hot_folders:\n  indigo: {path: "/tmp"}\nblocking:\n  products: [5, "bc-*"]\n'
            "routes:\n  - when: {product: 5}\n    to: indigo\n"
        ),
    )
    config = load_config(path)
    assert config.blocking.products == ("5", "bc-*")
    assert config.routes[0].when["product"] == "5"
    one = write(tmp_path, with_root("blocking:\n  products: 5\n"), "one.yaml")  # (audit AP D3: "must be a list")
    assert load_config(one).blocking.products == ("5",)
    guessed = write(tmp_path, with_root("blocking:\n  products: 0750\n"), "guessed.yaml")
    assert errors_of(guessed) == [
        f"{guessed}:4: blocking.products: write the number in plain digits, or in quotes if it is text (got 0750, "
        "which YAML reads as 488)"
    ]
    bad = write(
        tmp_path,
        with_root(
            'hot_folders:\n  indigo: {path: "/tmp"}\nblocking:\n  products: [0750]\n'
            "routes:\n  - when: {product: 0750}\n    to: indigo\n"
        ),
        "bad.yaml",
    )
    assert errors_of(bad) == [
        f"{bad}:6: blocking.products[0]: write the number in plain digits, or in quotes if it is text (got 0750, "
        "which YAML reads as 488)",
        f"{bad}:8: routes[0].when.product: write the number in plain digits, or in quotes if it is text (got 0750, "
        "which YAML reads as 488) (route 1)",
    ]


def test_folders_named_through_symbolic_links_are_checked_as_the_folders_they_are(tmp_path: Path) -> None:
    """Audit AO D1, D2: a hot folder configured as a symbolic link to the daemon's inbox (or done/)
    passed check-config: each delivery landed in the inbox as an unclaimed file while the job was
    recorded InHotFolder. A staging folder that is a link to its hot folder passed too. Where the
    folders are looked at (check-config, init, a start, a reload), links are followed."""
    root = tmp_path / "root"
    (root / "inbox").mkdir(parents=True)
    (root / "done").mkdir()
    (tmp_path / "hot").mkdir()
    (tmp_path / "to-inbox").symlink_to(root / "inbox")
    (tmp_path / "to-done").symlink_to(root / "done")
    (tmp_path / "to-hot").symlink_to(tmp_path / "hot")
    (tmp_path / "to-root").symlink_to(root)
    path = write(
        tmp_path,
        f"paths:\n  root: {root}\nhot_folders:\n  a: {{path: {tmp_path / 'to-inbox'}}}\n"
        f"  b: {{path: {tmp_path / 'to-done'}}}\n"
        f"  c: {{path: {tmp_path / 'hot'}, staging: {tmp_path / 'to-hot'}}}\n"
        f"  d: {{path: {tmp_path / 'to-root'}}}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, filesystems=True)
    assert info.value.errors == [
        f"{path}:4: hot_folders.a.path: {tmp_path / 'to-inbox'} is a symbolic link to {root / 'inbox'}, which is "
        "paths.inbox; a hot folder must be the printer's own",
        f"{path}:5: hot_folders.b.path: {tmp_path / 'to-done'} is a symbolic link to {root / 'done'}, which is "
        "paths.done; a hot folder must be the printer's own",
        f"{path}:6: hot_folders.c.staging: {tmp_path / 'to-hot'} is a symbolic link to {tmp_path / 'hot'}, which is "
        "the hot folder itself: the printer would pick up half-written files; leave it out to use a hidden name "
        "inside the hot folder",
        f"{path}:7: hot_folders.d.path: {tmp_path / 'to-root'} is a symbolic link to {root}, which holds paths.inbox; "
        "a printer that looks into subfolders would print what waits there: a hot folder must be the printer's own, "
        "outside paths.root's folders",
    ]
    assert load_config(path).hot_folders["a"].path == tmp_path / "to-inbox"  # (the file as written is fine)
    fine = write(tmp_path, f"paths:\n  root: {root}\nhot_folders:\n  c: {{path: {tmp_path / 'to-hot'}}}\n", "ok.yaml")
    assert load_config(fine, filesystems=True).hot_folders["c"].path == tmp_path / "to-hot"


def test_spool_folders_that_are_links_are_checked_where_they_lead(tmp_path: Path) -> None:
    """Review DW 1, 2: paths.done a link into inbox/ passed `check-config` and `run` (delivered
    jobs' folders went to failed/ as files nobody claimed), and a link to another spool folder
    passed `check-config` while `run` blamed "another spo-hotfolder" for its own lock. Links are
    followed now; a whole spool behind one link (root a link) is fine."""
    spool = tmp_path / "spool"
    (spool / "inbox" / "archive").mkdir(parents=True)
    (tmp_path / "into-inbox").symlink_to(spool / "inbox" / "archive")
    (tmp_path / "to-inbox").symlink_to(spool / "inbox")
    path = write(
        tmp_path, f"paths:\n  root: {spool}\n  done: {tmp_path / 'into-inbox'}\n  rejected: {tmp_path / 'to-inbox'}\n"
    )
    into, to = tmp_path / "into-inbox", tmp_path / "to-inbox"
    assert errors_of(path) == [
        f"{path}:3: paths.done: is inside paths.inbox (through a link: {into} is {spool / 'inbox' / 'archive'}); "
        "the spool folders must not nest (the daemon would take the files of done for those of inbox)",
        f"{path}:3: paths.done: is inside paths.rejected (through a link: {into} is {spool / 'inbox' / 'archive'}); "
        "the spool folders must not nest (the daemon would take the files of done for those of rejected)",
        f"{path}:4: paths.rejected: is the same folder as paths.inbox (through a link: {to} is {spool / 'inbox'}); "
        "each needs its own",
    ]
    (tmp_path / "elsewhere").symlink_to(spool)
    assert load_config(write(tmp_path, f"paths:\n  root: {tmp_path / 'elsewhere'}\n")).paths.inbox.is_dir()


@pytest.mark.parametrize(
    "text",
    [
        "paths:\n  root: /srv/spool\n  state: /var/lib/spo/state   # its own disk\n  inbox: '/srv/in'\nwatch: [\n",
        "paths: {root: /srv/spool, state: /var/lib/spo/state, inbox: '/srv/in'}\nroutes: [\n",
    ],
    ids=["block", "flow"],
)
def test_a_config_that_no_longer_parses_keeps_the_folders_it_gives_of_its_own(tmp_path: Path, text: str) -> None:
    """Review DW 4: with a YAML syntax error saved in the config, `health`, `jobs` and `show` read
    paths.root alone and every folder under it: a paths.state of its own was left out, and `health`
    said a daemon running fine was not running, `jobs` to run init."""
    from spo_hotfolder.config import load_paths

    path = tmp_path / "c.yaml"
    path.write_text(text)
    paths = load_paths(path)
    assert paths is not None and paths.root == Path("/srv/spool")
    assert (paths.state, paths.inbox, paths.done) == (
        Path("/var/lib/spo/state"),
        Path("/srv/in"),
        Path("/srv/spool/done"),
    )


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("c.yaml", b"\xef\xbb\xbfpaths:\n  root: ./spool\n  state: /var/lib/spo/state\nwatch:\n  mode: [auto\n"),
        ("c.json", b'{\n  "paths": {"root": "./spool", "state": "/var/lib/spo/state"},\n  "routes": [],\n}\n'),
        ("c.json", b'\xef\xbb\xbf{"routes": [], "paths": {\n "state": "/var/lib/spo/state",\n "root": "spool"} ]\n'),
    ],
    ids=["yaml-bom", "json", "json-bom"],
)
def test_a_config_with_a_bom_or_in_json_that_no_longer_parses_keeps_its_folders(
    tmp_path: Path, name: str, data: bytes
) -> None:
    """Review EK 2: with a syntax error saved in a config that has a byte order mark, or is JSON
    (both valid configs), `jobs`, `show`, `health` and the operator's commands refused ("invalid
    config") where a plain YAML file's spool folders were still read."""
    from spo_hotfolder.config import load_paths

    path = tmp_path / name
    path.write_bytes(data)
    paths = load_paths(path)
    assert paths is not None and paths.root == tmp_path / "spool"
    assert (paths.state, paths.inbox) == (Path("/var/lib/spo/state"), tmp_path / "spool" / "inbox")


def test_whole_numbers_and_trim_sizes_are_at_most_1e9(tmp_path: Path) -> None:
    """Review DW 5: reference.yaml says every number is at most 1e9, and delivery.max_attempts,
    a product's pages and trim_mm took 10^23 and 1e300."""
    path = write(
        tmp_path,
        "paths: {root: /srv/spo}\ndelivery: {max_attempts: 100000000000000000000000}\n"
        "products:\n  bc-*: {trim_mm: [85, 1e300], pages: 100000000000000000000000}\n",
    )
    assert [error.split(": ", 1)[1] for error in errors_of(path)] == [
        "delivery.max_attempts: must be at most 1e+09 (got 100000000000000000000000)",
        "products.bc-*.trim_mm: must be [width, height] in millimetres, two numbers greater than 0 and at most "
        "1e+09 (got [85, 1e+300])",
        "products.bc-*.pages: must be at most 1e+09 (got 100000000000000000000000)",
    ]


def test_a_windows_path_for_a_folder_is_a_config_error(tmp_path: Path) -> None:
    """Review DW 5: `inbox: 'C:\\spool\\inbox'` became a folder of that name beside the config, and a
    share's `\\\\printsrv\\indigo` a hot folder "missing"; both passed check-config."""
    path = write(
        tmp_path,
        "paths: {root: /srv/spo, inbox: 'C:\\spool\\inbox'}\n"
        "hot_folders:\n  indigo: {path: '\\\\printsrv\\indigo\\in'}\n",
    )
    assert [error.split(": ", 1)[1] for error in errors_of(path)] == [
        'paths.inbox: "C:\\\\spool\\\\inbox" is a Windows path: write the folder as this machine names it (a share '
        "mounted here: its mount point, e.g. /mnt/indigo)",
        'hot_folders.indigo.path: "\\\\\\\\printsrv\\\\indigo\\\\in" is a Windows path: write the folder as this '
        "machine names it (a share mounted here: its mount point, e.g. /mnt/indigo)",
    ]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        # FW 1: one pattern of two, matching no product: an A3 sheet printed for an A5 order, unchecked
        (
            'products:\n  "flyer-a5*, flyer-a4*": {trim_mm: [148, 210]}\n',
            "spo.yaml:3: products.flyer-a5*, flyer-a4*: is one text with commas, which would be read as one pattern "
            'matching no product; write an entry of its own for each pattern: "flyer-a5*", "flyer-a4*"',
        ),
        # FW 2: 7 and "7" are one name here: the second entry replaced the first without a word
        (
            'hot_folders:\n  7: {path: /tmp/a}\n  "7": {path: /tmp/b}\n',
            "hot_folders.7: duplicate key '7' (written twice, once in quotes and once not); a key may appear only "
            "once here",
        ),
        (
            'products:\n  "BC-*": {pages: 1}\n  "bc-*": {pages: 2}\n',
            "spo.yaml:4: products.bc-*: is the pattern 'BC-*' in other letter case or Unicode form (products are "
            "matched in any case): the second entry would never apply; write one entry",
        ),
        # FW 3: a URL, typographic quotes: taken as folders beside the config
        ("paths: {root: 'smb://nas/spool'}\n", 'paths.root: "smb://nas/spool" is a URL'),
        ("paths: {root: '\u201c/srv/spool\u201d'}\n", "is in typographic quotes (pasted from a document?)"),
    ],
)
def test_config_keys_and_paths_a_sysadmin_mistypes_are_refused(tmp_path: Path, text: str, said: str) -> None:
    """Reviews FW 1-3: each of these was "config OK"."""
    errors = errors_of(write(tmp_path, "paths: {root: var}\n" + text if not text.startswith("paths") else text))
    assert any(said in error for error in errors), errors
