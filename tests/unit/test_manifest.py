"""manifest.parse_manifest: both forms, both formats, and every kind of bad manifest."""

from __future__ import annotations

import errno
import json
import os
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from spo_hotfolder.manifest import (
    MAX_PROBLEMS,
    ArtworkRef,
    JobSpec,
    Manifest,
    ManifestError,
    artwork_names,
    manifest_format,
    parse_manifest,
)

HOT_FOLDERS = ("indigo", "large-format")
SHA = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"

ORDER_YAML = f"""\
order_id: "100234"
customer: "ACME Ltd"
blocked: true
process_after: "2026-12-01T08:00:00+01:00"
reprint: false
jobs:
  - job_id: "100234-1"
    product: "bc-85x55"
    quantity: 500
    hot_folder: "indigo"
    artwork:
      - path: "100234-1.pdf"
        sha256: "{SHA}"
    attributes: {{paper: silk-350, weight: 350, matte: true, ratio: 1.5}}
  - product: "flyer-a5"
    quantity: 20
    artwork: ["front.pdf", "./art/back.pdf"]
"""


def parse(text: str | bytes, filename: str = "order.yaml") -> Manifest:
    data = text if isinstance(text, bytes) else textwrap.dedent(text).encode()
    return parse_manifest(data, filename, HOT_FOLDERS)


def problems(text: str | bytes, filename: str = "order.yaml") -> list[str]:
    with pytest.raises(ManifestError) as info:
        parse(text, filename)
    assert info.value.problems
    assert str(info.value) == "; ".join(info.value.problems)
    return info.value.problems


def only_problem(text: str | bytes, filename: str = "order.yaml") -> str:
    found = problems(text, filename)
    assert len(found) == 1, found
    return found[0]


def single(body: str) -> str:
    """A valid single-job manifest with ``body`` appended (starting on line 5)."""
    return 'order_id: "7"\nproduct: bc\nquantity: 1\nartwork: [a.pdf]\n' + textwrap.dedent(body)


# --- valid manifests ------------------------------------------------------------------------------


def test_order_form_yaml() -> None:
    manifest = parse(ORDER_YAML)
    assert manifest.order_id == "100234"
    assert manifest.format == "yaml"
    assert manifest.customer == "ACME Ltd"
    assert manifest.blocked is True
    assert manifest.reprint is False
    assert manifest.process_after == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    assert manifest.jobs == (
        JobSpec(
            job_id="100234-1",
            product="bc-85x55",
            quantity=500,
            artwork=(ArtworkRef("100234-1.pdf", SHA.lower()),),
            hot_folder="indigo",
            attributes={"paper": "silk-350", "weight": 350, "matte": True, "ratio": 1.5},
        ),
        JobSpec(
            job_id="100234-2",
            product="flyer-a5",
            quantity=20,
            artwork=(ArtworkRef("front.pdf"), ArtworkRef("art/back.pdf")),
            attributes={},
        ),
    )


def test_order_form_json_matches_yaml() -> None:
    import yaml

    data = json.dumps(yaml.safe_load(ORDER_YAML)).encode()
    manifest = parse_manifest(data, "order.json", HOT_FOLDERS)
    assert manifest.format == "json"
    assert manifest.jobs == parse(ORDER_YAML).jobs
    assert manifest.process_after == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


def test_single_job_form_yaml() -> None:
    manifest = parse(
        """\
        order_id: "100234"
        product: bc-85x55
        quantity: 500
        artwork:
          - 100234-1.pdf
        """
    )
    assert manifest.blocked is None
    assert manifest.customer is None
    assert manifest.process_after is None
    assert manifest.jobs == (JobSpec("100234-1", "bc-85x55", 500, (ArtworkRef("100234-1.pdf"),), attributes={}),)
    assert manifest.jobs[0].attributes == {}


def test_single_job_form_json_with_explicit_job_id() -> None:
    data = b'{"order_id": "A-1", "job_id": "A-1-front", "product": "poster", "quantity": 1,'
    data += b' "artwork": ["p.pdf"]}'
    manifest = parse_manifest(data, "A-1.json", HOT_FOLDERS)
    assert manifest.format == "json"
    assert [job.job_id for job in manifest.jobs] == ["A-1-front"]


def test_numeric_ids_from_storefronts_are_text() -> None:
    manifest = parse_manifest(
        b'{"order_id": 100234, "jobs": [{"job_id": 7, "product": 4711, "quantity": 1, "artwork": ["a.pdf"]}]}',
        "o.json",
        HOT_FOLDERS,
    )
    assert manifest.order_id == "100234"
    assert manifest.jobs[0].job_id == "7"
    assert manifest.jobs[0].product == "4711"


def test_format_by_extension() -> None:
    assert manifest_format("a.json") == "json"
    assert manifest_format("A.JSON") == "json"
    assert manifest_format("a.yaml") == "yaml"
    assert manifest_format("a.yml") == "yaml"
    assert manifest_format("manifest") == "yaml"
    # A JSON file named .yaml is read as YAML, which accepts this JSON too.
    assert parse('{"order_id": "1", "product": "p", "quantity": 1, "artwork": ["a.pdf"]}').format == "yaml"


def test_utf8_bom_and_unicode_are_accepted() -> None:
    manifest = parse(
        "\ufefforder_id: '1'\ncustomer: Müller & Søn\nproduct: p\nquantity: 1\nartwork: [ä.pdf]\n".encode()
    )
    assert manifest.customer == "Müller & Søn"
    assert manifest.jobs[0].artwork == (ArtworkRef("ä.pdf"),)


def test_artwork_paths_are_normalised() -> None:
    manifest = parse(single("").replace("[a.pdf]", '["./a.pdf", "sub//b.pdf", "sub/./c.pdf"]'))
    assert [ref.path for ref in manifest.jobs[0].artwork] == ["a.pdf", "sub/b.pdf", "sub/c.pdf"]


def test_artwork_order_is_kept() -> None:
    manifest = parse(single("").replace("[a.pdf]", "[z.pdf, a.pdf, m.pdf]"))
    assert [ref.path for ref in manifest.jobs[0].artwork] == ["z.pdf", "a.pdf", "m.pdf"]


def test_reprint_and_unblocked() -> None:
    manifest = parse(single("reprint: true\nblocked: false\n"))
    assert manifest.reprint is True
    assert manifest.blocked is False


def test_null_optionals_mean_absent() -> None:
    manifest = parse(single("customer: null\nblocked: null\nprocess_after: null\nhot_folder: ~\nattributes:\n"))
    assert manifest.customer is None
    assert manifest.blocked is None
    assert manifest.process_after is None
    assert manifest.jobs[0].hot_folder is None
    assert manifest.jobs[0].attributes == {}


# --- process_after --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"2026-12-01T08:00:00+00:00"', datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
        ('"2026-12-01T08:00:00Z"', datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
        ('"2026-12-01t08:00:00z"', datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),  # RFC 3339 (audit CB 7)
        ('"2026-12-01T08:00:00-05:00"', datetime(2026, 12, 1, 13, 0, tzinfo=UTC)),
        ('"2026-12-01T08:00:00"', datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),  # naive: UTC
        ('"2026-12-01"', datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01T08:00:00+02:00", datetime(2026, 12, 1, 6, 0, tzinfo=UTC)),  # a YAML timestamp
        ("2026-12-01 08:30:00", datetime(2026, 12, 1, 8, 30, tzinfo=UTC)),  # YAML, naive
        ("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC)),  # a YAML date
    ],
)
def test_process_after(value: str, expected: datetime) -> None:
    moment = parse(single(f"process_after: {value}\n")).process_after
    assert moment == expected
    assert moment is not None and moment.utcoffset() is not None and moment.tzinfo == UTC


@pytest.mark.parametrize(
    ("value", "zoned"),
    [
        ('"2026-12-01T08:00:00+00:00"', True),
        ('"2026-12-01T08:00:00Z"', True),
        ("2026-12-01T08:00:00+02:00", True),
        ('"2026-12-01T08:00:00"', False),
        ('"2026-12-01"', False),
        ("2026-12-01 08:30:00", False),
        ("2026-12-01", False),
    ],
)
def test_a_process_after_without_a_time_zone_is_known_as_such(value: str, zoned: bool) -> None:
    """Audit: a time without a zone was taken as UTC without a word (the history says so now)."""
    assert parse(single(f"process_after: {value}\n")).process_after_zoned is zoned
    assert parse(single("")).process_after_zoned is True


def test_process_after_json() -> None:
    data = b'{"order_id": "1", "process_after": "2026-12-01T08:00:00+01:00", "product": "p", "quantity": 1,'
    data += b' "artwork": ["a.pdf"]}'
    assert parse_manifest(data, "o.json", ()).process_after == datetime(2026, 12, 1, 7, tzinfo=UTC)


@pytest.mark.parametrize("value", ['"next monday"', "12", "true", '"2026-12-01 8 am"'])
def test_process_after_errors(value: str) -> None:
    problem = only_problem(single(f"process_after: {value}\n"))
    assert problem.startswith("line 5: process_after: must be an ISO 8601 date and time")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ('"2026-02-30T10:00:00Z"', "day is out of range for month"),
        ('"2026-13-01T00:00:00"', "month must be in 1..12"),
        ('"2026-12-01T25:00:00Z"', "hour must be in 0..23"),
        ('"2026-12-01T10:00:00+25:00"', "its UTC offset must be under 24 hours"),
    ],
)
def test_a_process_after_in_the_right_form_but_no_real_moment_says_what_is_wrong(value: str, why: str) -> None:
    """Audit BY 2: "must be an ISO 8601 date and time" of "2026-02-30T10:00:00Z", which is one."""
    problem = only_problem(single(f"process_after: {value}\n"))
    assert problem == f"line 5: process_after: is not a real date and time: {why} (got {value})"


# --- unreadable manifests -------------------------------------------------------------------------


def test_empty_file() -> None:
    assert only_problem(b"") == ("the file is empty; a manifest needs at least order_id, product, quantity and artwork")
    assert only_problem(b"  \n\n").startswith("the file is empty")
    assert only_problem(b"", "o.json").startswith("the file is empty")


@pytest.mark.parametrize(("data", "name"), [(b"# nothing yet\n", "o.yaml"), (b"~\n", "o.yaml"), (b"null", "o.json")])
def test_a_file_of_comments_or_null_is_said_to_hold_no_keys(data: bytes, name: str) -> None:
    """Audit (2026-12-03, CLI 6): `null` and `~` were said to be "the file is empty"."""
    assert only_problem(data, name) == (
        "the file holds no keys (only comments, or a null value such as null or ~); a manifest needs at least "
        "order_id, product, quantity and artwork"
    )


@pytest.mark.parametrize("encoding", ["utf-32", "utf-32-le", "utf-32-be"])
def test_a_utf32_manifest_is_said_to_be_utf32(encoding: str) -> None:
    """It was "YAML syntax error: the character '\\x00' (#x0000) is not allowed in YAML"."""
    data = 'order_id: "1"\nproduct: a\nquantity: 1\nartwork: [a.pdf]\n'.encode(encoding)
    assert only_problem(data) == "line 1, column 1: the file is UTF-32 text, not UTF-8; save it as UTF-8"


def test_a_yaml_manifest_named_json_is_said_to_be_yaml() -> None:
    """It was only "JSON syntax error: Expecting value" at line 1, column 1."""
    data = b'order_id: "1"\nproduct: a\nquantity: 1\nartwork: [a.pdf]\n'
    assert only_problem(data, "order.json") == (
        "line 1, column 1: JSON syntax error: Expecting value; the file is YAML, not JSON: rename it to "
        "order.yaml (a file named .json is read as JSON)"
    )
    # Broken JSON that YAML would read (a trailing comma) is said as JSON, as before.
    assert "YAML" not in only_problem(b'{"order_id": "1",}', "order.json")


def test_too_large() -> None:
    data = b"# " + b"x" * (1024 * 1024)
    assert "larger than 1 MiB" in only_problem(data)


def test_not_utf8() -> None:
    problem = only_problem(b'order_id: "1"\ncustomer: M\xfcller\n')
    assert problem.startswith("line 2, column 12: the file is not UTF-8 text")
    assert "save it as UTF-8" in problem


def test_utf16_with_a_byte_order_mark_is_read() -> None:
    """Audit AC: Windows PowerShell 5 writes UTF-16 with a byte-order mark by default (Out-File, >):
    a storefront script's manifests were all refused. The mark says the encoding unambiguously."""
    text = 'order_id: "1"\ncustomer: "Jos\u00e9"\nproduct: bc-85x55\nquantity: 1\nartwork: [a.pdf]\n'
    for encoding in ("utf-16", "utf-16-le", "utf-16-be"):
        data = text.encode(encoding)
        if encoding != "utf-16":
            data = ("\ufeff" + text).encode(encoding)
        assert parse_manifest(data, "m.yaml", []).customer == "Jos\u00e9"
    data = '{"order_id": "1", "product": "bc", "quantity": 1, "artwork": ["a.pdf"]}'.encode("utf-16")
    assert parse_manifest(data, "m.json", []).order_id == "1"
    assert "UTF-16" in only_problem(b"\xff\xfe" + "order_id: '1'\n".encode("utf-16-le")[:-1])  # cut in a character


def test_utf16_without_a_byte_order_mark_is_named() -> None:
    text = 'order_id: "1"\nproduct: bc-85x55\nquantity: 1\nartwork: [{path: a.pdf}]\n'
    for encoding, name in (("utf-16-le", "m.yaml"), ("utf-16-be", "m.yaml"), ("utf-16-le", "m.json")):
        data = (text if name.endswith(".yaml") else '{"order_id": "1"}').encode(encoding)
        assert only_problem(data, name).startswith("line 1, column 1: the file is UTF-16 text (without a byte-order")


def test_zero_bytes_are_named_where_they_start() -> None:
    # A file some copy tools fill with zeros before the data arrives, or a binary file named .yaml.
    problem = only_problem(b'order_id: "1"\nproduct: bc-85x55\n' + bytes(64))
    assert problem.startswith("line 3, column 1: the file contains zero bytes (NUL)")
    assert "not completely written" in problem
    assert "zero bytes" in only_problem(b'{"order_id": "1",\x00\x00}', "m.json")


def test_yaml_syntax_error_has_line_and_column() -> None:
    problem = only_problem('order_id: "1"\nproduct: bc\n  quantity: 1\nartwork: [a.pdf]\n')
    assert problem.startswith("line 3, column 11: YAML syntax error: ")
    assert problem.endswith("check the indentation and quoting near that line")


def test_a_tab_after_a_key_is_not_called_indentation() -> None:
    """Audit AH R1: `order_id:<tab>"E05"` was told YAML does not allow tabs for indentation."""
    assert only_problem('order_id:\t"E05"\nproduct: bc\nquantity: 1\nartwork: [a.pdf]\n').startswith(
        "line 1, column 10: YAML syntax error: a tab character after a key or a dash: YAML wants a space there; "
        "replace the tab with a space"
    )
    assert "after a key or a dash" in only_problem('order_id: "1"\njobs:\n  -\tproduct: bc\n')
    assert "does not allow tabs for indentation" in only_problem('order_id: "1"\n\tproduct: bc\n')


def test_yaml_tags_are_refused_as_not_allowed_not_as_a_syntax_error() -> None:
    """Audit AH R2: `!!python/object/apply:...` and `!custom` were "YAML syntax error: could not
    determine a constructor ...; check the indentation and quoting" (never run: PyYAML's safe loader)."""
    for tag in ("!!python/object/apply:os.system", "!custom"):
        problem = only_problem(f'order_id: {tag} ["touch x"]\nproduct: bc\nquantity: 1\nartwork: [a.pdf]\n')
        assert problem == (
            f"line 1, column 11: YAML error: the tag {tag} is not allowed: only plain values are read (texts, "
            "numbers, lists, mappings); remove the tag (the word starting with '!')"
        ), problem


def test_yaml_unclosed_quote() -> None:
    """Audit V: the line named was where PyYAML noticed it (the end of the file), not the quote's."""
    problem = only_problem('order_id: "1\nproduct: bc\n')
    assert problem.startswith("line 1, column 11: YAML syntax error: ")
    assert "is not closed; noticed on line 3" in problem


def test_json_syntax_error_has_line_and_column() -> None:
    problem = only_problem(b'{\n  "order_id": "1",\n  "product": "bc"\n  "quantity": 1\n}\n', "o.json")
    # (where the comma is missing, at the end of line 3, not where the parser noticed it: helper FA 3)
    assert problem == (
        "line 3, column 18: JSON syntax error: Expecting ',' delimiter; "
        "a comma is missing here, at the end of this line: JSON separates the items of a list or object with commas"
    )


def test_json_a_comma_missing_inside_a_line_keeps_the_parsers_point() -> None:
    problem = only_problem(b'{"order_id": "1" "product": "bc"}\n', "o.json")
    assert problem.startswith("line 1, column 18: JSON syntax error: Expecting ',' delimiter; check for"), problem


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (b'{\n  // the order\n  "order_id": "1"\n}\n', "line 2, column 3: JSON syntax error: Expecting property name"),
        (b'/* order */ {"order_id": "1"}\n', "line 1, column 1: JSON syntax error: Expecting value"),
        # (the comma's place, not where the parser noticed it: helper FA 3)
        (b'{"order_id": "1",\n "product": "bc",\n}\n', "line 2, column 17: JSON syntax error: Expecting property name"),
        (b'{"order_id": "1", "artwork": ["a.pdf",]}\n', "line 1, column 38: JSON syntax error: Expecting value"),
    ],
)
def test_json_comments_and_a_comma_after_the_last_item_are_said_as_such(text: bytes, said: str) -> None:
    """Audit BN: a comment or a trailing comma got the parser's words only ("Expecting value";
    "check for a missing or extra comma ...")."""
    problem = only_problem(text, "o.json")
    assert problem.startswith(said), problem
    hint = "comments" if b"/" in text else "comma after the last item"
    assert f"JSON allows no {hint}" in problem, problem


def test_a_key_given_no_value_is_told_to_give_one() -> None:
    """Audit BN: "(got nothing); put it in quotes" for `product:` with no value."""
    problem = only_problem('order_id: "7"\nproduct:\nquantity: 1\nartwork: [a.pdf]\n')
    assert problem == "line 2: product: must be the product's name (got nothing); give it a value", problem


def test_json_messages_that_end_in_at_are_whole_sentences() -> None:
    """Audit Q: "JSON syntax error: Unterminated string starting at; check ..." (the parser's message
    without its position, which is said apart); a string never closed runs to the end of the file:
    a manifest cut off, said so (and waited for longer, as other cut-off manifests)."""
    with pytest.raises(ManifestError) as info:
        parse_manifest(b'{"order_id": "OFF3", "product": "x-m", "quan', "o.json", HOT_FOLDERS)
    assert info.value.problems == [
        "line 1, column 40: JSON syntax error: a text in quotes starts here and is never closed; the file ends "
        "before the manifest does: was it cut off, or is a closing bracket missing?"
    ]
    assert info.value.cut_off
    assert only_problem(b'{"order_id": "O\nX"}', "o.json") == (
        "line 1, column 16: JSON syntax error: a text in quotes holds a line break or another control character "
        "here; check for a missing or extra comma, quote or bracket near that point"
    )


def test_json_trailing_comma() -> None:
    problem = only_problem(b'{"order_id": "1",}', "o.json")
    assert problem.startswith("line 1, column 17: JSON syntax error: ")  # (the comma)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (b'order_id: "1"\nproduct bc-85x55\nquantity: 1\nartwork: [a.pdf]\n', 2),
        (b'order_id: "1"\njobs:\n  - product: bc\n    quantity 1\n    artwork: [a.pdf]\n', 4),
        (b'order_id: "1"\nproduct bc\n\n# a comment\n\nquantity: 1\n', 2),
        (b'order_id: "1"\nproduct: bc\nquantity: 1\nartwork: [a.pdf]\nblocked true\n', 5),
        (b'order_id: "1"\rproduct bc\rquantity: 1\r', 2),
    ],
)
def test_yaml_a_key_without_its_colon_is_said_on_its_own_line(text: bytes, line: int) -> None:
    """Helper FA 1: ``product bc-85x55`` (a key without its colon) was said on the line after it
    (PyYAML notices it there), and on the last line as "the file ends before the manifest does:
    was it cut off": its own line now, and what is likely wrong."""
    problem = only_problem(text)
    assert problem.startswith(f"line {line}, column "), problem
    assert "':' after the key missing?" in problem and "cut off" not in problem, problem


def test_json_with_cr_line_ends_names_its_lines() -> None:
    """Helper FA 2: a JSON manifest with CR line ends (a classic Mac editor) had every error on
    "line 1", its syntax errors at columns past 80."""
    good = b'{\r  "order_id": "1",\r  "product": "bc",\r  "artwork": ["a.pdf"],\r  "quantity": 0\r}\r'
    assert only_problem(good, "o.json").startswith("line 5: quantity: must be a whole number"), only_problem(
        good, "o.json"
    )
    bad = b'{\r  "order_id": "1",\r  "product": "bc"\r  "quantity": 1\r}\r'
    assert only_problem(bad, "o.json").startswith("line 3, column 18: JSON syntax error"), only_problem(bad, "o.json")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('order_id: "1"\nproduct:\u00a0bc\nquantity: 1\n', "line 2, column 9"),
        ('order_id: "1"\njobs:\n\u00a0 - product: bc\n    quantity: 1\n', "line 3, column 1"),
    ],
)
def test_yaml_a_no_break_space_is_named(text: str, where: str) -> None:
    """Helper FA 4: a no-break space (U+00A0, pasted from a web page) where YAML wants a space was
    said as "mapping values are not allowed here" a line further on, with no word of it."""
    problem = only_problem(text.encode())
    assert problem.startswith(f"{where}: YAML syntax error: a no-break space (U+00A0"), problem


def test_top_level_must_be_a_mapping() -> None:
    assert only_problem("- order_id: 1\n") == (
        "the manifest must be a mapping of keys (order_id: ..., jobs: ...), not a list"
    )
    assert only_problem(b'"hello"', "o.json").endswith('not "hello"')


def test_recursive_yaml_alias_is_refused() -> None:
    assert "recursive" in only_problem("order_id: &a [*a]\n")


def test_a_yaml_billion_laughs_is_refused_at_once() -> None:
    """Audit (manifests) 1: 600 bytes of nested aliases under attributes held the daemon for minutes
    (and its memory grew to gigabytes), stopping every other intake, again after each restart."""
    lines = ['order_id: "B37"', 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{n}: &a{n} [{','.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 10)]
    lines += ["product: flyer-x", "quantity: 1", "artwork: [b37.pdf]", "attributes: {x: *a9}", ""]
    assert only_problem("\n".join(lines)) == (
        "line 2: YAML error: the aliases (*name) in this document expand it to more than 1,000,000 values (a "
        "document built to exhaust the reader?); write the values out, or use fewer aliases (the first anchor, "
        "&name, they use is on this line)"
    )
    # Aliases that expand to little, merge keys included, are read as always.
    text = (
        'order_id: "M1"\ndefaults: &d {product: bc-1, quantity: 5, artwork: [a.pdf]}\n'
        "jobs:\n  - {<<: *d, job_id: M1-1}\n  - {<<: *d, job_id: M1-2, attributes: {x: [*d, *d]}}\n"
    )
    assert only_problem(text).startswith("line 2: defaults: unknown key 'defaults'")


# --- schema errors --------------------------------------------------------------------------------

SCHEMA_CASES = [
    # (manifest body appended to a valid single-job manifest (line 5 on), expected problem)
    ("custmer: red\n", "line 5: custmer: unknown key 'custmer'; did you mean 'customer'?"),
    ("quantitty: 3\n", "line 5: quantitty: unknown key 'quantitty'; did you mean 'quantity'?"),
    (
        "zzz: 1\n",
        "line 5: zzz: unknown key 'zzz'; the keys allowed here are: order_id, customer, blocked, "
        "process_after, reprint, jobs, job_id, product, quantity, hot_folder, artwork, attributes",
    ),
    (
        "customer: [a]\n",
        "line 5: customer: must be the customer's name (got a list); give one value, not a list or a mapping",
    ),
    ("blocked: maybe\n", 'line 5: blocked: must be true or false (got "maybe")'),
    ("reprint: 1\n", "line 5: reprint: must be true or false (got 1)"),
    (
        "hot_folder: indgo\n",
        'line 5: hot_folder: no hot folder named "indgo" is configured; did you mean '
        "'indigo'? (hot folders: indigo, large-format); leave it out to use the routes",
    ),
    (
        # audit BA 8: "no hot folder named a list is configured"
        "hot_folder: [indigo]\n",
        "line 5: hot_folder: must be the name of one hot folder, as text, not a list (hot folders: indigo, "
        "large-format); leave it out to use the routes",
    ),
    (
        "hot_folder: skip\n",
        'line 5: hot_folder: no hot folder named "skip" is configured (hot folders: indigo, '
        "large-format); leave it out to use the routes",
    ),
    (
        'job_id: ".hidden"\n',
        "line 5: job_id: must be 1 to 64 letters A-Z or a-z (no accents), "
        "digits, '.', '_' or '-', not starting with '.' (got \".hidden\")",
    ),
    ("attributes: [a]\n", "line 5: attributes: must be a mapping of 'name: value' pairs (got a list)"),
    (
        "attributes:\n  paper:\n    7: x\n",
        "line 7: attributes.paper.7: an attribute's name must be text (got 7); put it in quotes",
    ),
    (
        "attributes:\n  7: x\n",
        "line 6: attributes.7: an attribute's name must be text (got 7); put it in quotes",
    ),
    (  # (audit 12-05 D 2: it was told to put "" in quotes)
        'attributes: {"": x}\n',
        "line 5: attributes.: an attribute's name must not be empty; give it a name, or remove it",
    ),
]


@pytest.mark.parametrize(("body", "expected"), SCHEMA_CASES, ids=[case[1][:30] for case in SCHEMA_CASES])
def test_schema_error_single_form(body: str, expected: str) -> None:
    assert only_problem(single(body)) == expected


def test_attributes_are_free_form_maps_and_lists_too() -> None:
    """SPEC 5: "attributes: ... optional free-form". A nested map, a list, an empty value were
    refused as "must be a single value" (audit BU 1). Kept as written, numbers too."""
    manifest = parse_manifest(
        single("attributes:\n  paper: {kind: silk, gsm: 0350}\n  sizes: [1, 2, {x: no}]\n  finish:\n").encode(),
        "m.yaml",
        HOT_FOLDERS,
    )
    assert manifest.jobs[0].attributes == {
        "paper": {"kind": "silk", "gsm": "0350"},
        "sizes": [1, 2, {"x": "no"}],
        "finish": None,
    }


def job_manifest(job_body: str) -> str:
    """A manifest whose only job (``jobs[0]``, keys from line 3) is ``job_body``."""
    return 'order_id: "9"\njobs:\n' + textwrap.indent(textwrap.dedent(job_body), "    ").replace("    ", "  - ", 1)


JOB_CASES = [
    (
        "product: bc\nquantity: five\nartwork: [a.pdf]\n",
        'line 4: jobs[0].quantity: must be a whole number of at least 1 (got "five")',
    ),
    (
        "product: bc\nquantity: 0\nartwork: [a.pdf]\n",
        "line 4: jobs[0].quantity: must be a whole number of at least 1 (got 0)",
    ),
    (
        "product: bc\nquantity: 2.5\nartwork: [a.pdf]\n",
        "line 4: jobs[0].quantity: must be a whole number of at least 1 (got 2.5)",
    ),
    (
        "product: bc\nquantity: true\nartwork: [a.pdf]\n",
        "line 4: jobs[0].quantity: must be a whole number of at least 1 (got true)",
    ),
    (
        'product: bc\nquantity: "500"\nartwork: [a.pdf]\n',
        'line 4: jobs[0].quantity: must be a whole number of at least 1 (got "500")',
    ),
    (
        "quantity: 1\nartwork: [a.pdf]\n",
        'line 3: jobs[0].product: missing; every job needs its product, e.g. product: "bc-85x55"',
    ),
    (
        "product: bc\nartwork: [a.pdf]\n",
        "line 3: jobs[0].quantity: missing; every job needs the number of copies, e.g. quantity: 500",
    ),
    (
        "product: bc\nquantity: 1\n",
        'line 3: jobs[0].artwork: missing; every job needs its artwork, e.g. artwork: ["100234-1.pdf"]',
    ),
    ('product: ""\nquantity: 1\nartwork: [a.pdf]\n', "line 3: jobs[0].product: must not be empty"),
    (
        'product: "a\\x01b"\nquantity: 1\nartwork: [a.pdf]\n',
        'line 3: jobs[0].product: must not contain control characters (got "a\\u0001b")',
    ),
    (  # audit Q: shown right to left from there on, "x\u202em" read "xm" backwards in STATUS.txt and show
        'product: "x\\u202em"\nquantity: 1\nartwork: [a.pdf]\n',
        'line 3: jobs[0].product: must not contain control characters (got "x\\u202em")',
    ),
    (  # audit AH 1: matched no "blk-*" of blocking.products nor "bc-*" of products: printed unchecked
        'product: " blk-a"\nquantity: 1\nartwork: [a.pdf]\n',
        'line 3: jobs[0].product: must not begin or end with a space (got " blk-a"); write the name alone',
    ),
    (
        'product: "bc-85x55\\u00a0"\nquantity: 1\nartwork: [a.pdf]\n',
        'line 3: jobs[0].product: must not begin or end with a space (got "bc-85x55\\u00a0"); write the name alone',
    ),
    *(
        (
            f'product: "{char}poster-a1"\nquantity: 1\nartwork: [a.pdf]\n',
            f'line 3: jobs[0].product: must not contain invisible characters (got "{shown}poster-a1", a zero-width '
            "space or the like, pasted with the name?); type the name again",
        )
        for char, shown in (("\\ufe0f", "\\ufe0f"), ("\\u3164", "\\u3164"), ("\\u0301", "\u0301"))
    ),
    (
        'product: "\\u200bblk-a"\nquantity: 1\nartwork: [a.pdf]\n',
        'line 3: jobs[0].product: must not contain invisible characters (got "\\u200bblk-a", a zero-width space or '
        "the like, pasted with the name?); type the name again",
    ),
    (
        'product: bc\nquantity: 1\nartwork: ["\\u202efdp.exe"]\n',
        'line 5: jobs[0].artwork[0]: must not contain control characters (got "\\u202efdp.exe")',
    ),
    (
        "product: [bc]\nquantity: 1\nartwork: [a.pdf]\n",
        "line 3: jobs[0].product: must be the product's name (got a list); give one value, not a list or a mapping",
    ),
    (
        "product: bc\nquantity: 1\nartwork: []\n",
        "line 5: jobs[0].artwork: must be a list of at least one artwork "
        "file, each starting with '- ' (got an empty list)",
    ),
    (
        "product: bc\nquantity: 1\nartwork: a.pdf\n",
        "line 5: jobs[0].artwork: must be a list of at least one artwork file, each starting with '- ' (got \"a.pdf\")",
    ),
    (
        "product: bc\nquantity: 1\nartwork:\n  - ../secret.pdf\n",
        "line 6: jobs[0].artwork[0]: must not contain "
        "'..': artwork must be inside the manifest's folder (got \"../secret.pdf\")",
    ),
    (
        "product: bc\nquantity: 1\nartwork:\n  - a/../../b.pdf\n",
        "line 6: jobs[0].artwork[0]: must not contain "
        "'..': artwork must be inside the manifest's folder (got \"a/../../b.pdf\")",
    ),
    (
        "product: bc\nquantity: 1\nartwork:\n  - path: /etc/passwd\n",
        "line 6: jobs[0].artwork[0].path: must be "
        "relative to the manifest's folder, not start with '/' (got \"/etc/passwd\")",
    ),
    (  # audit BU 2: read as a relative name, it waited an hour for a file that could never come
        'product: bc\nquantity: 1\nartwork:\n  - "https://shop.example.com/files/v4.pdf"\n',
        "line 6: jobs[0].artwork[0]: must be a file path relative to the manifest's folder, not a URL ('https:'; "
        'got "https://shop.example.com/files/v4.pdf"); put the PDF beside the manifest and give its name',
    ),
    (
        "product: bc\nquantity: 1\nartwork:\n  - path: C:w08.pdf\n",
        "line 6: jobs[0].artwork[0].path: must be a file path relative to the manifest's folder, not a drive "
        "('C:'; got \"C:w08.pdf\"); put the PDF beside the manifest and give its name",
    ),
    (  # audit BU 3: a manifest in inbox/ is never artwork; the job waited an hour for it
        "product: bc\nquantity: 1\nartwork: [p1.pdf, p-b.yaml]\n",
        'line 5: jobs[0].artwork[1]: names a manifest ("p-b.yaml"): a file there is taken as an order manifest, '
        "never as artwork; list the artwork files (the PDFs)",
    ),
    (  # audit BB 7: the same with "td.pdf."
        'product: bc\nquantity: 1\nartwork:\n  - "td.pdf."\n',
        'line 6: jobs[0].artwork[0]: "td.pdf.": a name in it ends with a dot, which Windows removes from file '
        "names; remove the dot",
    ),
    (  # audit BA 3: it waited for "v12.pdf " beside v12.pdf, then failed "missing: v12.pdf"
        'product: bc\nquantity: 1\nartwork:\n  - path: "art /v12.pdf "\n',
        'line 6: jobs[0].artwork[0].path: "art /v12.pdf ": a name in it ends with a space, which Windows removes '
        "from file names; remove the space",
    ),
    (
        "product: bc\nquantity: 1\nartwork:\n  - 'a\\b.pdf'\n",
        "line 6: jobs[0].artwork[0]: must use '/' between folders, not '\\' (got \"a\\\\b.pdf\")",
    ),
    (
        'product: bc\nquantity: 1\nartwork:\n  - "a\\x01.pdf"\n',
        'line 6: jobs[0].artwork[0]: must not contain control characters (got "a\\u0001.pdf")',
    ),
    (
        'product: bc\nquantity: 1\nartwork:\n  - "a\\0.pdf"\n',
        'line 6: jobs[0].artwork[0]: must not contain control characters (got "a\\u0000.pdf")',
    ),
    (
        'product: bc\nquantity: 1\nartwork:\n  - "sub/"\n',
        'line 6: jobs[0].artwork[0]: must name a file, not a folder (got "sub/")',
    ),
    (
        'product: bc\nquantity: 1\nartwork:\n  - "."\n',
        'line 6: jobs[0].artwork[0]: must name a file, not a folder (got ".")',
    ),
    (
        "product: bc\nquantity: 1\nartwork:\n  - 17\n",
        "line 6: jobs[0].artwork[0]: must be a file path or a mapping with path: and sha256: (got 17)",
    ),
    (
        "product: bc\nquantity: 1\nartwork:\n  - sha256: abc\n",
        'line 6: jobs[0].artwork[0].path: missing; give the artwork file\'s path, e.g. path: "front.pdf"',
    ),
    (
        "product: bc\nquantity: 1\nartwork:\n  - {path: a.pdf, sha256: abc}\n",
        "line 6: jobs[0].artwork[0].sha256: "
        'must be the file\'s SHA-256 as 64 hexadecimal characters, in quotes (got "abc")',
    ),
    (
        "product: bc\nquantity: 1\nartwork:\n  - {path: a.pdf, md5: abc}\n",
        "line 6: jobs[0].artwork[0].md5: unknown key 'md5'; the keys allowed here are: path, sha256",
    ),
    (
        "product: bc\nquantity: 1\nartwork:\n  - a.pdf\n  - ./a.pdf\n",
        'line 7: jobs[0].artwork[1]: the file "a.pdf" is listed twice (jobs[0].artwork[0] and jobs[0].artwork[1]); '
        "a job's artwork files are kept by name, so to print the same file twice (front and back), send it a "
        "second time under another name and list that name",
    ),
    (
        "product: bc\nquantity: 1\nartwork: [a.pdf]\nhot_folder: nowhere\n",
        "line 6: jobs[0].hot_folder: no hot "
        'folder named "nowhere" is configured (hot folders: indigo, large-format); leave it '
        "out to use the routes",
    ),
    (
        "product: bc\nquantity: 1\nartwork: [a.pdf]\nqty: 1\n",
        "line 6: jobs[0].qty: unknown key 'qty'; the keys "
        "allowed here are: job_id, product, quantity, hot_folder, artwork, attributes",
    ),
    (
        "product: bc\nquantity: 1\nartwork: [a.pdf]\ncustomer: ACME\n",
        "line 6: jobs[0].customer: 'customer' belongs at the top of the manifest, beside order_id",
    ),
    (
        'job_id: "a b"\nproduct: bc\nquantity: 1\nartwork: [a.pdf]\n',
        "line 3: jobs[0].job_id: must be 1 to 64 letters A-Z or a-z (no accents), "
        "digits, '.', '_' or '-', not starting with '.' (got \"a b\")",
    ),
    (
        'job_id: "' + "x" * 65 + '"\nproduct: bc\nquantity: 1\nartwork: [a.pdf]\n',
        "line 3: jobs[0].job_id: "
        "must be 1 to 64 letters A-Z or a-z (no accents), digits, '.', '_' or '-', not starting with '.' (got \""
        + "x" * 57
        + '...")',
    ),
]


@pytest.mark.parametrize(("job_body", "expected"), JOB_CASES, ids=[case[1][:40] for case in JOB_CASES])
def test_schema_error_in_jobs(job_body: str, expected: str) -> None:
    assert only_problem(job_manifest(job_body)) == expected


def test_job_manifest_helper_builds_a_valid_manifest() -> None:
    manifest = parse(job_manifest("product: bc\nquantity: 1\nartwork: [a.pdf]\n"))
    assert manifest.jobs[0].job_id == "9-1"


def test_order_id_rules() -> None:
    assert only_problem("product: p\nquantity: 1\nartwork: [a.pdf]\n") == (
        'order_id: missing; every manifest needs the order\'s id, e.g. order_id: "100234"'
    )
    assert only_problem(single("").replace('"7"', '"10 02"')) == (
        "line 1: order_id: must be 1 to 64 letters A-Z or a-z (no accents), "
        "digits, '.', '_' or '-', not starting with '.' (got \"10 02\")"
    )
    assert only_problem(single("").replace('"7"', '".7"')).startswith("line 1: order_id: must be 1 to 64")
    assert only_problem(single("").replace('"7"', '"7\\n"')).startswith("line 1: order_id: must be 1 to 64")
    assert only_problem(single("").replace('"7"', "1.5")) == (
        "line 1: order_id: must be the order's id (got 1.5); put it in quotes"
    )
    assert only_problem(single("").replace('"7"', "true")) == (
        "line 1: order_id: must be the order's id (got true); put it in quotes"
    )


@pytest.mark.parametrize(("written", "read"), [("0250", 168), ("1:30", 90), ("0x10", 16), ("1_000", 1000), ("+5", 5)])
def test_a_quantity_yaml_reads_otherwise_is_refused(written: str, read: int) -> None:
    # YAML 1.1 reads these as numbers other than the digits say: printing 168 copies of an order
    # for 250 must not happen.
    text = f'order_id: "7"\nproduct: bc\nquantity: {written}\nartwork: [a.pdf]\n'
    assert only_problem(text) == (
        "line 3: quantity: write the number of copies in plain digits, with no leading zero, sign, "
        f"separator or prefix (got {written}, which YAML reads as {read})"
    )
    assert only_problem(job_manifest(f"product: bc\nquantity: {written}\nartwork: [a.pdf]\n")).startswith(
        "line 4: jobs[0].quantity: write the number of copies in plain digits"
    )
    assert parse(text.replace(written, "250")).jobs[0].quantity == 250


def test_an_attribute_yaml_reads_otherwise_is_kept_as_written() -> None:
    attributes = parse(single("attributes: {code: 0250, time: 1:30, pages: 12, weight: 1.5}\n")).jobs[0].attributes
    assert attributes == {"code": "0250", "time": "1:30", "pages": 12, "weight": 1.5}
    # Audit AC: "finish: no" was read as false (routes on "no" missed it, file names said "false"),
    # "gsm: 1.50" as 1.5; YAML 1.1's yes/no/on/off and such numbers keep the text as written.
    text = "attributes: {finish: no, lam: On, proof: true, ok: False, gsm: 1.50, big: 1e3, half: .5, fine: 2.25}\n"
    assert parse(single(text)).jobs[0].attributes == {
        "finish": "no",
        "lam": "On",
        "proof": True,
        "ok": False,
        "gsm": "1.50",
        "big": "1e3",
        "half": ".5",
        "fine": 2.25,
    }
    # Quoted, or in JSON, a value is what it says.
    assert parse(single('attributes: {finish: "no", gsm: "1.50"}\n')).jobs[0].attributes == {
        "finish": "no",
        "gsm": "1.50",
    }
    # Audit AI 5: JSON's 1.50 read 1.5 (a route on "1.50" matched the YAML order, not the JSON one).
    data = b'{"order_id": "J", "product": "bc", "quantity": 1, "artwork": ["a.pdf"], "attributes": '
    data += b'{"gsm": 1.50, "big": 1e3, "fine": 2.25, "pages": 12, "no": false}}'
    attributes = parse_manifest(data, "o.json", HOT_FOLDERS).jobs[0].attributes
    assert attributes == {"gsm": "1.50", "big": "1e3", "fine": 2.25, "pages": 12, "no": False}
    assert type(attributes["fine"]) is float  # (a plain number where it reads as written)


@pytest.mark.parametrize(
    "value",
    ['"9999-12-31T23:59:59-05:00"', '"0001-01-01T00:00:00+05:00"', "9999-12-31 23:00:00 -05:00", '"9999-06-01"'],
)
def test_process_after_out_of_range(value: str) -> None:
    problem = only_problem(single(f"process_after: {value}\n"))  # was an OverflowError (a traceback)
    assert problem.startswith("line 5: process_after: is out of range (got ")
    # (audit C 7: year 1; 12-05 D 3: 9999-12-31 is in the year 9999, refused: the range said so)
    assert problem.endswith("; give a date from the year 1 to the year 9998 (in UTC)")


def test_a_json_number_too_long_to_read_is_said_where_it_is() -> None:
    """Audit C 6: a 5000-digit quantity gave Python's "use sys.set_int_max_str_digits()", no place."""
    data = b'{"order_id": "1",\n "product": "p", "quantity": ' + b"9" * 5000 + b', "artwork": ["a.pdf"]}'
    assert problems(data, "order.json") == [
        "line 2, column 30: a number of 5000 digits, far more than any quantity or id has: a value written "
        "without its quotes, or a damaged file?"
    ]


def test_artwork_naming_the_manifest_itself_is_refused() -> None:
    text = 'order_id: "7"\nproduct: bc\nquantity: 1\nartwork: [./order.yaml]\n'
    assert (
        only_problem(text)
        == 'line 4: artwork[0]: is this manifest itself ("./order.yaml"); list the artwork files (the PDFs)'
    )
    # Another manifest's name: never artwork either (audit BU 3).
    assert only_problem(text, "other.yaml") == (
        'line 4: artwork[0]: names a manifest ("./order.yaml"): a file there is taken as an order manifest, never '
        "as artwork; list the artwork files (the PDFs)"
    )
    # In a folder drop, only manifest.* is a manifest.
    assert parse(text.replace("./order.yaml", "order.yaml"), "manifest.yaml").jobs[0].artwork[0].path == "order.yaml"
    # inbox/manifest.yaml is at the top of inbox/ as order.yaml is: told by where it is (audit CX 3:
    # told by its name, it took art.yaml as artwork, and the job waited an hour for it).
    named = text.replace("./order.yaml", "art.yaml").encode()
    with pytest.raises(ManifestError, match=r'names a manifest \("art.yaml"\)'):
        parse_manifest(named, "manifest.yaml", HOT_FOLDERS, top_level=True)
    assert parse_manifest(named, "manifest.yaml", HOT_FOLDERS, top_level=False).jobs[0].artwork[0].path == "art.yaml"


def test_a_cut_off_json_manifest_is_called_so() -> None:
    [problem] = problems(
        b'{"order_id": "X", "jobs": [{"product": "p", "quantity": 1, "artwork": ["a.pdf"]}\n', "o.json"
    )
    assert problem.endswith(
        "; the file ends before the manifest does: was it cut off, or is a closing bracket missing?"
    )
    [middle] = problems(b'{"order_id": "X" "jobs": []}', "o.json")
    assert middle.endswith("; check for a missing or extra comma, quote or bracket near that point")


def test_order_id_with_leading_zeros_must_be_quoted() -> None:
    # YAML 1.1 reads 00123 as the octal number 83: refuse rather than lose the zeros.
    assert only_problem(single("").replace('"7"', "00123")) == (
        'line 1: order_id: write 00123 in quotes ("00123") so it is read as text'
    )
    assert parse(single("").replace('"7"', "123")).order_id == "123"


def test_jobs_must_be_a_non_empty_list() -> None:
    assert only_problem('order_id: "1"\njobs: []\n') == (
        "line 2: jobs: must be a list of at least one job, each starting with '- ' (got an empty list)"
    )
    assert only_problem('order_id: "1"\njobs:\n  product: x\n').startswith(
        "line 2: jobs: must be a list of at least one job"
    )
    assert only_problem('order_id: "1"\njobs:\n  - bc\n') == (
        'line 3: jobs[0]: must be a job: a mapping with product, quantity, artwork (got "bc")'
    )


def test_no_jobs_at_all() -> None:
    assert only_problem('order_id: "1"\ncustomer: x\n') == (
        "jobs: missing; list the order's jobs under 'jobs:', or give one job's product, quantity and artwork "
        "at the top beside order_id"
    )


def test_both_forms_at_once() -> None:
    text = 'order_id: "1"\nproduct: bc\njobs:\n  - product: bc\n    quantity: 1\n    artwork: [a.pdf]\n'
    assert only_problem(text) == (
        "line 2: product: 'product' belongs inside an entry of 'jobs:'; a manifest either "
        "lists its jobs under "
        "'jobs:' or gives one job's keys at the top, not both"
    )


def test_duplicate_job_ids_name_both_positions() -> None:
    text = """\
    order_id: "5"
    jobs:
      - job_id: "5-a"
        product: bc
        quantity: 1
        artwork: [a.pdf]
      - product: bc
        quantity: 1
        artwork: [b.pdf]
      - job_id: "5-a"
        product: bc
        quantity: 1
        artwork: [c.pdf]
      - job_id: "5-2"
        product: bc
        quantity: 1
        artwork: [d.pdf]
      - job_id: "5-A"
        product: bc
        quantity: 1
        artwork: [e.pdf]
    """
    assert problems(text) == [
        'line 10: jobs[2].job_id: job id "5-a" is used twice (jobs[0] and jobs[2]); every job needs its own id',
        'line 14: jobs[3].job_id: job id "5-2" is used twice (jobs[1] and jobs[3]); every job needs its own id',
        # Audit AH R4: "b35-1" and "B35-1" made two jobs whose folders a Windows share shows as one.
        'line 18: jobs[4].job_id: job id "5-A" is used twice (as "5-a": letter case aside, as a Windows share '
        "sees folders) (jobs[0] and jobs[4]); every job needs its own id",
    ]


def test_duplicate_job_id_by_default() -> None:
    text = """\
    order_id: "5"
    jobs:
      - job_id: "5-2"
        product: bc
        quantity: 1
        artwork: [a.pdf]
      - product: bc
        quantity: 1
        artwork: [b.pdf]
    """
    assert only_problem(text) == (
        'line 7: jobs[1]: job id "5-2" is used twice (jobs[0] and jobs[1], by default); every job needs its own id'
    )


def test_duplicate_keys_are_errors() -> None:
    assert only_problem(single('order_id: "8"\n')) == (
        "line 5: order_id: duplicate key 'order_id' (also on line 1); a key may appear only once here"
    )
    data = b'{"order_id": "1",\n "product": "p", "quantity": 1, "artwork": ["a.pdf"],\n "product": "q"}'
    assert only_problem(data, "o.json") == (
        "line 3: product: duplicate key 'product' (also on line 2); a key may appear only once here"
    )


def test_keys_python_holds_equal_are_not_said_to_be_duplicates() -> None:
    """Audit BZ 1: `1:` and `true:` (or `0:` and `false:`) were "duplicate key 'True'": one key to
    Python, two to YAML, and each refused for itself."""
    for first, second in (("1", "true"), ("0", "false"), ("1", "1.0")):
        found = problems(single(f"attributes:\n  {first}: one\n  {second}: two\n"))
        assert not [p for p in found if "duplicate" in p], found
        assert (
            found[0] == f"line 6: attributes.{first}: an attribute's name must be text (got {first}); put it in quotes"
        )
    assert "duplicate key 'x'" in only_problem(single("attributes:\n  x: one\n  x: two\n"))


def test_json_schema_errors_have_lines() -> None:
    data = b'{\n  "order_id": "1",\n  "jobs": [\n    {"product": "bc",\n     "quantity": "five",\n'
    data += b'     "artwork": ["../x.pdf"]}\n  ]\n}\n'
    assert problems(data, "o.json") == [
        'line 5: jobs[0].quantity: must be a whole number of at least 1 (got "five")',
        "line 6: jobs[0].artwork[0]: must not contain '..': artwork must be inside the manifest's folder "
        '(got "../x.pdf")',
    ]


def test_all_problems_are_reported_in_line_order() -> None:
    text = """\
    order_id: "1 2"
    customr: ACME
    jobs:
      - product: bc
        quantity: -1
        hot_folder: nope
        artwork:
          - /abs.pdf
      - product: [x]
        quantity: 1
    """
    found = problems(text)
    assert [problem.split(": ")[:2] for problem in found] == [
        ["line 1", "order_id"],
        ["line 2", "customr"],
        ["line 5", "jobs[0].quantity"],
        ["line 6", "jobs[0].hot_folder"],
        ["line 8", "jobs[0].artwork[0]"],
        ["line 9", "jobs[1].product"],
        ["line 9", "jobs[1].artwork"],
    ]
    assert "did you mean 'customer'?" in found[1]


def test_problem_list_is_capped() -> None:
    jobs = [{"product": "p", "quantity": 0, "artwork": ["a.pdf"]} for _ in range(MAX_PROBLEMS + 10)]
    data = json.dumps({"order_id": "1", "jobs": jobs}).encode()
    found = problems(data, "o.json")
    assert len(found) == MAX_PROBLEMS + 1
    assert found[-1] == "... and 10 more problems"


def test_no_hot_folders_configured() -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(single("hot_folder: indigo\n").encode(), "o.yaml", [])
    assert info.value.problems == [
        'line 5: hot_folder: no hot folder named "indigo" is configured (hot folders: none are configured); '
        "leave it out to use the routes"
    ]


def test_yaml_dates_in_attributes_become_text() -> None:
    manifest = parse(single("attributes:\n  due: 2026-12-01\n  at: 2026-12-01T10:00:00Z\n  time: 2026-12-01 10:00\n"))
    # As written (audit AD: the time stamp became "2026-12-01T10:00:00+00:00").
    assert manifest.jobs[0].attributes == {
        "due": "2026-12-01",
        "at": "2026-12-01T10:00:00Z",
        "time": "2026-12-01 10:00",
    }


def test_attributes_that_are_not_finite_numbers_are_schema_errors() -> None:
    """Audit T: NaN and Infinity were taken, and `show --json` then printed invalid JSON."""
    assert "attributes.w: must be a finite number (got nan)" in only_problem(single("attributes:\n  w: .nan\n"))
    assert "attributes.h: must be a finite number (got inf)" in only_problem(single("attributes:\n  h: .inf\n"))
    text = '{"order_id": "7", "product": "bc", "quantity": 1, "artwork": ["a.pdf"], "attributes": {"w": NaN}}'
    with pytest.raises(ManifestError) as info:
        parse_manifest(text.encode(), "o.json", [])
    assert any("attributes.w: must be a finite number" in p for p in info.value.problems)
    assert parse(single("attributes:\n  w: 1.5\n")).jobs[0].attributes == {"w": 1.5}


def test_quantity_beyond_what_the_ledger_stores_is_a_schema_error() -> None:
    """2**63 and more would make the ledger's insert fail: the manifest must go to failed/ instead."""
    for text in (
        'order_id: "7"\nproduct: bc\nquantity: 9223372036854775808\nartwork: [a.pdf]\n',
        'order_id: "7"\nproduct: bc\nquantity: 99999999999999999999999999\nartwork: [a.pdf]\n',
    ):
        assert "quantity: is too large: at most 9223372036854775807" in only_problem(text)
    assert parse('order_id: "7"\nproduct: bc\nquantity: 9223372036854775807\nartwork: [a.pdf]\n').jobs[0].quantity


def test_an_order_id_of_64_characters_gets_its_default_job_ids() -> None:
    """Audit (manifests) 2: SPEC 5 allows an order_id of 64 characters and job ids defaulting to
    "<order_id>-<n>"; such a manifest was refused (the default longer than 64). Only an id written
    in the manifest is held to 64 characters."""
    order_id = "O" * 64
    single = parse(f'order_id: "{order_id}"\nproduct: bc\nquantity: 1\nartwork: [a.pdf]\n')
    assert [job.job_id for job in single.jobs] == [f"{order_id}-1"]
    jobs = "".join("  - {product: bc, quantity: 1, artwork: [a.pdf]}\n" for _ in range(10))
    several = parse(f'order_id: "{order_id}"\njobs:\n{jobs}')
    assert [job.job_id for job in several.jobs] == [f"{order_id}-{n}" for n in range(1, 11)]
    ok = parse(f'order_id: "{order_id}"\njob_id: "J-1"\nproduct: bc\nquantity: 1\nartwork: [a.pdf]\n')
    assert ok.jobs[0].job_id == "J-1"
    problem = only_problem(f'order_id: "1"\njob_id: "{"J" * 65}"\nproduct: bc\nquantity: 1\nartwork: [a.pdf]\n')
    assert problem.startswith("line 2: job_id: must be 1 to 64 letters")


def test_a_manifest_over_the_size_limit_says_what_to_do() -> None:
    problem = only_problem(b'{"order_id": "1", "jobs": [' + b" " * (1024 * 1024) + b"]}", "big.json")
    assert "larger than 1 MiB" in problem and "split the order into several manifests" in problem


def test_a_list_is_asked_for_in_the_manifests_own_format() -> None:
    """Audit AC: a JSON manifest was told to start each item with '- ' (YAML's form)."""
    text = '{"order_id": "1", "product": "bc", "quantity": 1, "artwork": "a.pdf"}'
    assert 'must be a list of at least one artwork file, written ["a.pdf", ...]' in only_problem(
        text.encode(), "m.json"
    )
    assert "must be a list of at least one job, written [{...}, ...]" in only_problem(
        b'{"order_id": "1", "jobs": {}}', "m.json"
    )
    assert "each starting with '- '" in only_problem(b'order_id: "1"\njobs: {}\n', "m.yaml")


def test_a_duplicate_yaml_anchor_is_said_plainly() -> None:
    """Audit AC: PyYAML's "first occurrence: second occurrence" reached ERROR.txt."""
    assert only_problem(b'order_id: "1"\na: &c x\nb: &c y\n').startswith(
        "line 3, column 4: YAML syntax error: found duplicate anchor 'c' (first on line 2): each anchor (&name) "
        "may be defined once"
    )


def test_attributes_shared_through_a_yaml_alias_are_kept_as_written_too() -> None:
    """Audit AD: `attributes: *A` gave finish=false and gsm=1.5 where the anchor's job had "no" and
    "1.50": the second job went to another hot folder."""
    text = (
        'order_id: "F3"\njobs:\n'
        "  - {product: bc-1, quantity: 5, artwork: [a.pdf], attributes: &A {finish: no, gsm: 1.50, n: 0250}}\n"
        "  - {product: bc-1, quantity: 5, artwork: [a.pdf], attributes: *A}\n"
        "  - {product: bc-1, quantity: 5, artwork: [a.pdf], attributes: {finish: &G off, gsm: 2}}\n"
        "  - {product: bc-1, quantity: 5, artwork: [a.pdf], attributes: {finish: *G}}\n"
        "  - &J {product: bc-1, quantity: 5, artwork: [a.pdf], attributes: {lam: On}}\n"
    )
    assert [dict(job.attributes) for job in parse(text).jobs] == [
        {"finish": "no", "gsm": "1.50", "n": "0250"},
        {"finish": "no", "gsm": "1.50", "n": "0250"},
        {"finish": "off", "gsm": 2},
        {"finish": "off"},
        {"lam": "On"},
    ]
    # An alias inside an aliased value: each is followed to its anchor.
    text = (
        'order_id: "N"\njobs:\n'
        "  - {product: p, quantity: 1, artwork: [a.pdf], attributes: &A {finish: &F no}}\n"
        "  - &B {product: p, quantity: 1, artwork: [b.pdf], attributes: {finish: *F}}\n"
    )
    assert [dict(job.attributes) for job in parse(text).jobs] == [{"finish": "no"}, {"finish": "no"}]
    text = 'order_id: "W"\njobs:\n  - &J {product: p, quantity: 1, artwork: [a.pdf], attributes: {lam: On}}\n  - *J\n'
    assert [dict(job.attributes) for job in parse(text).jobs] == [{"lam": "On"}, {"lam": "On"}]


def test_only_a_last_line_that_may_have_been_cut_inside_its_value_is_refused() -> None:
    """A YAML manifest without a final line break whose last line ends in a plain value may be an
    upload cut short ("quantity: 5" of "quantity: 500"); a comment or a document marker after the
    value, a closed value, or a line break are not (audit AD 4: comments and "..." were refused)."""
    from spo_hotfolder.manifest import cut_yaml_line

    head = 'order_id: "1"\nproduct: bc\nartwork: [a.pdf]\n'
    for taken in (
        "quantity: 500\n",
        "quantity: 500\r\n",
        "quantity: 500 # copies",
        "quantity: 500\n...",
        "quantity: 500\n# end",
        'quantity: 500\ncustomer: "ACME"',
        "quantity: 500\nx: [1, 2]",
    ):
        assert cut_yaml_line((head + taken).encode(), "m.yaml") == [], taken
    # Audit AE: '#' in a text block is text, not a comment; a plain value may end in a quote (O'Brien).
    for cut in (
        "quantity: 5",
        "quantity: 500\ncustomer: ACM",
        "quantity: 500\nartwork:\n  - a.p",
        "quantity: 500\nattributes:\n  due: |-\n    Unit #4, 12 High Str",
        "quantity: 500\nattributes:\n  note: >-\n    see #4 and the",
        "quantity: 500\ncustomer: O'",
    ):
        [problem] = cut_yaml_line((head + cut).encode(), "m.yml")
        assert "may have been cut off by an interrupted upload" in problem
    assert cut_yaml_line(b'{"order_id": "1", "quantity": 5', "m.json") == []  # JSON: its closing } is checked


def test_artwork_that_is_a_folder_or_an_ignored_name_is_said_at_its_key_path_and_line(tmp_path) -> None:
    """Audit BU 4: these two refusals named the job and the file but no key path or line, unlike
    every other problem of a manifest (SPEC 5: ERROR.txt names the key path)."""
    (tmp_path / "art").mkdir()
    text = textwrap.dedent(
        """\
        order_id: "F"
        jobs:
          - product: bc
            quantity: 1
            artwork: [ok.pdf, art]
          - product: bc
            quantity: 1
            artwork:
              - path: "sub/.cache/b.pdf"
        """
    ).encode()
    with pytest.raises(ManifestError) as info:
        parse_manifest(text, "f.yaml", HOT_FOLDERS, base=tmp_path, ignore=(".*", "*.tmp"))
    assert info.value.problems == [
        'line 5: jobs[0].artwork[1]: "art" is a folder, not a file; list the PDF files in it (e.g. art/front.pdf)',
        'line 9: jobs[1].artwork[0].path: "sub/.cache/b.pdf": the name ".cache" matches watch.ignore (".*"), so '
        "the daemon never takes that file; rename the file and its path in the manifest (or ask the administrator "
        "to change watch.ignore)",
    ]
    # Without the folder to look in (a manifest read from the ledger), the same text parses.
    assert len(parse_manifest(text, "f.yaml", HOT_FOLDERS).jobs) == 2


@pytest.mark.parametrize("filename", ["deep.json", "deep.yaml"])
def test_a_document_deeper_than_the_parser_goes_is_refused_in_plain_words(filename: str) -> None:
    deep = b'{"order_id": "D", "product": "x", "quantity": 1, "artwork": ["a.pdf"], "attributes": {"a": '
    deep += b"[" * 5000 + b"]" * 5000 + b"}}"
    found = problems(deep, filename)
    assert found == [
        "the document is nested too deeply to be read (hundreds of lists or mappings inside each other, where a "
        "manifest has a few); check the program that wrote it"
    ]


SURROGATE_FIX = (
    "one half of a UTF-16 surrogate pair (an escape such as \\ud83d\\ude00 written without its other half), which "
    "is no character: write the character itself, or both halves of its escape"
)


def test_half_a_surrogate_pair_is_refused_at_its_key_path() -> None:
    """Audit: JSON's "\\ud800" (YAML's too) gave a string no file name, ledger or JSON output can
    hold: `route` said the job would go, the daemon failed on it as its own fault, and a key of
    `attributes` with one broke `show` and `jobs --json` for every job."""
    assert problems(single('customer: "x\\ud800y"\n')) == [f"line 5: customer: its text holds \\ud800, {SURROGATE_FIX}"]
    data = (
        b'{"order_id": "1", "product": "p", "quantity": 1, "artwork": ["a.pdf"],\n'
        b' "attributes": {"note\\ud83d": "v", "paper": "\\udfff", "smile": "\\ud83d\\ude00"}}'
    )
    assert problems(data, "order.json") == [
        f"line 2: attributes.note\\ud83d: this key holds \\ud83d, {SURROGATE_FIX}",
        f"line 2: attributes.paper: its text holds \\udfff, {SURROGATE_FIX}",
    ]
    # Both halves: the character itself.
    smile = parse(data.replace(b'"note\\ud83d": "v", "paper": "\\udfff", ', b""), "order.json")
    assert smile.jobs[0].attributes == {"smile": "\U0001f600"}


def test_direction_marks_and_c1_controls_never_reach_a_file_name() -> None:
    """Audit C 8: U+202E in a customer's name turned the rest of the hot folder's file name around."""
    from spo_hotfolder.fsutil import safe_name

    assert safe_name("ACME\u202eGmbH\u0085_x1.pdf") == "ACME_GmbH__x1.pdf"
    assert (
        safe_name("Caf\u00e9 \u05e9\u05dc\u05d5\u05dd.pdf") == "Caf\u00e9 \u05e9\u05dc\u05d5\u05dd.pdf"
    )  # letters stay


def test_an_artwork_name_or_path_longer_than_a_filesystem_allows_is_refused_in_plain_words(tmp_path) -> None:
    """Audit Q 1: a 300-byte name, or a path longer than PATH_MAX, made the look at the path fail
    (ENAMETOOLONG) on every try, and the manifest stayed in the inbox for ever, with a traceback
    in the log at each rescan."""
    deep = "/".join(["abcdefgh"] * 600) + "/x.pdf"
    text = f'order_id: "U"\njobs:\n  - product: bc\n    quantity: 1\n    artwork: ["{"x" * 300}.pdf", "{deep}"]\n'
    with pytest.raises(ManifestError) as info:
        parse_manifest(text.encode(), "u.yaml", HOT_FOLDERS, base=tmp_path)
    long_name, long_path = info.value.problems
    assert long_name.startswith("line 5: jobs[0].artwork[0]: ") and " is 304 bytes long" in long_name
    assert long_name.endswith("no file name can be longer than 255; give the PDF a shorter name")
    assert long_path.startswith("line 5: jobs[0].artwork[1]: ") and ": the whole path, from /, is " in long_path
    assert "no path can be longer than 4095" in long_path
    # 255 bytes (a name of accented letters counts its bytes) is the longest a name may be.
    fits = "é" * 125 + "x.pdf"
    assert (
        len(
            parse_manifest(
                f'order_id: "U"\nproduct: bc\nquantity: 1\nartwork: ["{fits}"]\n'.encode(),
                "u.yaml",
                HOT_FOLDERS,
                base=tmp_path,
            ).jobs
        )
        == 1
    )


def test_a_path_the_daemon_may_not_look_into_is_a_problem_of_the_manifest_not_a_fault(tmp_path, monkeypatch) -> None:
    """The look at an artwork path (is it a link, a folder?) failing, e.g. in a folder the daemon
    may not enter: said at the key path, where before the OSError left the manifest in the inbox."""

    def refused(self: Path) -> bool:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "is_symlink", refused)
    with pytest.raises(ManifestError) as info:
        parse_manifest(
            b'order_id: "U"\nproduct: bc\nquantity: 1\nartwork: ["closed/a.pdf"]\n',
            "u.yaml",
            HOT_FOLDERS,
            base=tmp_path,
        )
    assert info.value.problems == [
        'line 4: artwork[0]: "closed/a.pdf": the daemon cannot look at that path (Permission denied); check the name'
    ]


def test_a_folder_of_the_upload_the_daemon_may_not_look_into_is_named_with_its_owner_and_the_fix(
    tmp_path, monkeypatch
) -> None:
    """Audit BU 7: an order folder whose art/ was uploaded with umask 077: "check the name", of a
    right name; the folder, its owner and mode, and the fix are said."""
    import pwd
    import stat

    closed = tmp_path / "art"
    closed.mkdir(mode=0o700)

    def refused(self: Path) -> bool:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    real_access = os.access
    monkeypatch.setattr(Path, "is_symlink", refused)
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != closed and real_access(p, mode, **kw))
    with pytest.raises(ManifestError) as info:
        parse_manifest(
            b'order_id: "U"\nproduct: bc\nquantity: 1\nartwork: ["art/a.pdf"]\n', "u.yaml", HOT_FOLDERS, base=tmp_path
        )
    owner = pwd.getpwuid(closed.stat().st_uid).pw_name
    assert info.value.problems == [
        'line 4: artwork[0]: "art/a.pdf": the daemon cannot look at that path (Permission denied); its folder art/ '
        f"belongs to {owner}, mode {stat.filemode(closed.stat().st_mode)}, and the daemon may not look into it: let "
        "the daemon's group read and change it (chmod -R g+rwX; uploads with umask 0002), then put the order into "
        "inbox/ again"
    ]


@pytest.mark.parametrize("job_id", ["CON", "nul", "LPT1", "com1.x", "aux.pdf", "x.", "y.."])
def test_a_job_id_windows_cannot_open_as_a_folder_is_refused(job_id: str) -> None:
    """Audit S 1: quarantine/CON/ showed over SMB as CSHOFG~F, quarantine/x./ as WGB08M~D: the
    operator looked for the folder `show` and STATUS.txt name, and could not find it."""
    problem = only_problem(f'order_id: "W"\nproduct: bc\nquantity: 1\nartwork: [a.pdf]\njob_id: "{job_id}"\n')
    assert problem.startswith(f'line 5: job_id: "{job_id}" is a name ')
    assert problem.endswith(
        "the job's folder could not be opened from Windows (over a share it shows under a made-up short name); "
        "give the job another id"
    )


@pytest.mark.parametrize("job_id", ["CONT", "CON-1", "console", "nul1", "com10", "x.y", "LPT"])
def test_job_ids_that_only_look_like_device_names_are_taken(job_id: str) -> None:
    manifest = parse_manifest(
        f'order_id: "W"\nproduct: bc\nquantity: 1\nartwork: [a.pdf]\njob_id: "{job_id}"\n'.encode(),
        "w.yaml",
        HOT_FOLDERS,
    )
    assert manifest.jobs[0].job_id == job_id
    # An order id names no folder (its jobs' default ids end in -<n>): "CON" is a good one.
    assert (
        parse_manifest(b'order_id: "CON"\nproduct: bc\nquantity: 1\nartwork: [a.pdf]\n', "c.yaml", HOT_FOLDERS)
        .jobs[0]
        .job_id
        == "CON-1"
    )


@pytest.mark.parametrize("order_id", ["aux.77", "nul.txt", "Com1.x"])
def test_an_order_id_whose_default_job_id_is_a_device_name_is_refused(order_id: str) -> None:
    """Audit BN D2: order "aux.77" made the job id "aux.77-1" (AUX with an extension), refused when
    written as a job_id, taken as a default one: its folder made and delivered."""
    problem = only_problem(f'order_id: "{order_id}"\nproduct: bc\nquantity: 1\nartwork: [a.pdf]\n')
    assert problem == (
        f'line 1: order_id: "{order_id}" makes the job id "{order_id}-1", a name Windows keeps for a device (CON, '
        "PRN, AUX, NUL, COM1-9, LPT1-9, with any extension): the job's folder could not be opened from Windows; "
        "give the job a job_id of its own"
    ), problem
    given = parse_manifest(
        f'order_id: "{order_id}"\nproduct: bc\nquantity: 1\nartwork: [a.pdf]\njob_id: "J1"\n'.encode(),
        "w.yaml",
        HOT_FOLDERS,
    )
    assert given.jobs[0].job_id == "J1"


@pytest.mark.parametrize(
    ("paths", "stored"),
    [
        (["front.pdf", "back.pdf"], ["front.pdf", "back.pdf"]),
        (["a/x.pdf", "b/x.pdf", "c.pdf"], ["1-x.pdf", "2-x.pdf", "c.pdf"]),
        (["X.pdf", "y.pdf", "x.pdf"], ["1-X.pdf", "y.pdf", "3-x.pdf"]),
        (["2-x.pdf", "x.pdf", "x.pdf"], ["2-x.pdf", "2-2-x.pdf", "3-x.pdf"]),
        (["x.pdf", "x.pdf", "2-x.pdf"], ["1-x.pdf", "2-x.pdf", "3-2-x.pdf"]),
    ],
)
def test_artwork_files_of_one_name_are_all_stored_with_their_position(paths: list[str], stored: list[str]) -> None:
    """Audit AM D1: the first of two files named alike kept the name both had, so a replacement
    of that name, meant for the second, replaced the first. Every stored name is unique."""
    spec = JobSpec("J-1", "p", 1, tuple(ArtworkRef(p) for p in paths))
    assert artwork_names(spec) == stored


@pytest.mark.parametrize(
    "body",
    [
        'attributes:\n  "a.b": 0250\n  a: {b: 7}\n',
        'attributes:\n  a: {b: 7}\n  "a.b": 0250\n',
        'attributes:\n  paper: {"kind.gsm": 1}\n  "paper.kind": {gsm: 2}\n',
    ],
)
def test_two_attributes_of_one_dotted_name_are_refused(body: str) -> None:
    """Audit CX 1: ``"a.b": 0250`` beside ``a: {b: 7}``: both are ``{attributes.a.b}`` to routes
    and file names, and the number written for one was kept for the other (the file name said 7
    for the attribute written 0250)."""
    said = only_problem(single(body))
    assert said.startswith("line 5: attributes: ") and "are one name to routes and file names" in said
    assert "rename one of them" in said


def test_dotted_attribute_names_that_do_not_meet_are_kept() -> None:
    manifest = parse(single('attributes:\n  "a.b": 0250\n  a: {c: 7}\n  "a.c.d": x\n'))
    assert manifest.jobs[0].attributes == {"a.b": "0250", "a": {"c": 7}, "a.c.d": "x"}


@pytest.mark.parametrize("key", ["attributes:\n  x", "order_id", "quantity"])
@pytest.mark.parametrize("number", ["0x" + "f" * 3600, "0b" + "1" * 14_000, "0" + "7" * 5_000])
def test_a_number_in_another_base_too_long_to_show_is_refused_in_words(key: str, number: str) -> None:
    """Audit CX 2: YAML builds 0x..., 0b... and 0o... past Python's 4,300-digit limit for text,
    and showing the value raised: the order was filed as "a fault in the daemon", `route` crashed."""
    body = 'order_id: "7"\nproduct: bc\nquantity: 1\nartwork: [a.pdf]\n'
    text = (
        body.replace(f"{key}: ", f"{key}: {number}\n#", 1) if key != "attributes:\n  x" else body + f"{key}: {number}\n"
    )
    said = only_problem(text)
    assert f"a number of {len(number)} characters ({number[:12]}...), far more than any quantity or id has" in said


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('order_id: "1"\ncustomer: "ACME:\u00a0Ltd"\nproduct:\tbc\n', "line 3, column 9: YAML syntax error: a tab"),
        (
            'order_id: "1"\ncustomer: ACME -\u00a0Ltd\nproduct: "bc\nquantity: 1\n',
            "line 3, column 10: YAML syntax error",
        ),
        ('# note:\u00a0x\norder_id: "1"\nproduct bc\n', "line 3, column 1: YAML syntax error: this line is neither"),
        ('order_id: "1"\rproduct:\u00a0bc\rquantity: 1\r', "line 2, column 9: YAML syntax error: a no-break space"),
    ],
)
def test_yaml_a_no_break_space_in_a_value_is_not_blamed_for_an_error_elsewhere(text: str, said: str) -> None:
    """Review FB 2 (of FA 4's mend): a harmless no-break space (in a quoted name, a value, a
    comment) was blamed for any YAML error of the file, a tab or an unclosed quote further on; and
    a CR-only file's was said on line 1."""
    problem = only_problem(text.encode())
    assert problem.startswith(said), problem
    if "no-break" not in said:
        assert "no-break" not in problem, problem


@pytest.mark.parametrize("written", ["010", "0x8", "1_0"])
def test_a_hot_folder_written_as_a_number_yaml_reads_otherwise_is_refused(written: str) -> None:
    """Review FZ 1: `hot_folder: 010` (unquoted) is 8 to YAML (octal): with hot folders "8" and
    "010" configured, the job went to "8", another printer; the config refuses `to: 010` so."""
    with pytest.raises(ManifestError) as info:
        parse_manifest(single(f"hot_folder: {written}\n").encode(), "o.yaml", ["8", "010"])
    assert info.value.problems == [
        f'line 5: hot_folder: write {written} in quotes ("{written}") so it is read as the hot folder\'s name'
    ]
    assert parse_manifest(single("hot_folder: 8\n").encode(), "o.yaml", ["8"]).jobs[0].hot_folder == "8"
