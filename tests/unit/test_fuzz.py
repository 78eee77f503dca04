"""Bad input never stops the daemon: the pure parsers, fuzzed.

``parse_manifest`` may raise nothing but ManifestError (with at least one problem in plain words);
``parse_drop`` and ``classify_drop`` never raise at all.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from spo_hotfolder.manifest import Manifest, ManifestError, parse_manifest
from spo_hotfolder.operator import DropNote, classify_drop, parse_drop

HOT = ("indigo", "large")
NAMES = st.sampled_from(["m.json", "m.yaml", "m.yml", "manifest.YAML", "order.JSON"])
FUZZ = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", "..", "../x.pdf", "/etc/passwd", "a/../../b.pdf", "x" * 300, "indigo", "2026-13-45"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
KEYS = ["order_id", "customer", "blocked", "process_after", "reprint", "jobs", "job_id", "product", "quantity",
        "hot_folder", "artwork", "attributes", "path", "sha256"]  # fmt: skip


def near_manifest() -> st.SearchStrategy[dict[str, Any]]:
    """Mappings with the real keys and values of any type: wrong in every way, nearly right."""
    artwork = st.one_of(values, st.lists(st.one_of(st.text(max_size=20), st.fixed_dictionaries(
        {"path": values}, optional={"sha256": values})), max_size=3))  # fmt: skip
    job = st.fixed_dictionaries(
        {},
        optional={
            "job_id": values,
            "product": values,
            "quantity": values,
            "hot_folder": st.one_of(values, st.sampled_from(HOT)),
            "artwork": artwork,
            "attributes": values,
            **{k: values for k in ("extra", "Product", "qty")},
        },
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "order_id": st.one_of(values, st.from_regex(r"[A-Za-z0-9._-]{1,70}", fullmatch=True)),
            "customer": values,
            "blocked": values,
            "process_after": values,
            "reprint": values,
            "jobs": st.one_of(values, st.lists(job, max_size=3)),
            "product": values,
            "quantity": values,
            "artwork": artwork,
        },
    )


def check(data: bytes, name: str) -> None:
    try:
        result = parse_manifest(data, name, HOT)
    except ManifestError as exc:
        assert exc.problems and all(isinstance(p, str) and p.strip() for p in exc.problems)
        return
    assert isinstance(result, Manifest)
    assert result.jobs


@FUZZ
@given(st.binary(max_size=2000), NAMES)
@example(b"\xff\xfe\x00{", "m.json")
@example(b"\xef\xbb\xbforder_id: x\n", "m.yaml")
@example(b"!!python/object/apply:os.system ['echo hi']", "m.yaml")
@example(b"a: &a [*a]", "m.yaml")
@example(b"{" * 5000, "m.json")
@example(b"[" * 5000, "m.yaml")
@example(b"order_id: 1e400\n", "m.yaml")
@example(b'{"order_id": 1e400, "jobs": NaN}', "m.json")
def test_parse_manifest_raw_bytes_only_raise_manifest_error(data: bytes, name: str) -> None:
    check(data, name)


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_manifest(), st.sampled_from(["json", "yaml"]))
def test_parse_manifest_near_manifests_only_raise_manifest_error(document: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        text = json.dumps(document, allow_nan=True)
        check(text.encode(), "m.json")
    else:
        text = yaml.safe_dump(document, allow_unicode=True)
        check(text.encode(), "m.yaml")


@FUZZ
@given(st.text(max_size=800), NAMES)
def test_parse_manifest_text_only_raises_manifest_error(text: str, name: str) -> None:
    check(text.encode("utf-8", "surrogatepass"), name)


@FUZZ
@given(st.lists(st.sampled_from([*KEYS, ":", " ", "\n", "  ", "- ", "[", "]", "{", "}", ",", '"', "'", "&a ", "*a",
                                 "!!str ", "1", "x.pdf", "#", "\t", "---\n", "...", "? "]), max_size=60),
       NAMES)  # fmt: skip
def test_parse_manifest_token_soup_only_raises_manifest_error(tokens: list[str], name: str) -> None:
    check("".join(tokens).encode(), name)


def test_yaml_alias_bomb_is_refused_quickly() -> None:
    bomb = "a: &a ['x','x','x','x','x','x','x','x','x']\n"
    for level in "bcdefghi":
        prev = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
    started = time.monotonic()
    with contextlib.suppress(ManifestError):
        parse_manifest(bomb.encode(), "bomb.yaml", HOT)
    assert time.monotonic() - started < 5


def test_huge_manifest_is_refused() -> None:
    try:
        parse_manifest(b"order_id: x\n" + b"#" * (2 * 1024 * 1024), "big.yaml", HOT)
    except ManifestError as exc:
        assert "larger than 1 MiB" in exc.problems[0]
    else:
        raise AssertionError("a 2 MiB manifest was accepted")


@FUZZ
@given(st.binary(max_size=70_000))
@example(b"\x00" * 10)
@example(b"\xef\xbb\xbfalice\r\nnote\rmore")
@example(b"artwork: " + b"f" * 64 + b"\n")
@example("\u202eevil\u0000\x1b[31m".encode())
def test_parse_drop_never_raises_on_bytes(data: bytes) -> None:
    note = parse_drop(data)
    assert isinstance(note, DropNote)
    assert note.by is None or (isinstance(note.by, str) and "\n" not in note.by)
    assert isinstance(note.note, str)


@FUZZ
@given(st.text(max_size=2000))
def test_parse_drop_never_raises_on_text(text: str) -> None:
    assert isinstance(parse_drop(text.encode("utf-8", "surrogatepass")), DropNote)


@FUZZ
@given(st.text(max_size=300))
def test_classify_drop_never_raises(name: str) -> None:
    assume("/" not in name)
    classify_drop(name)
