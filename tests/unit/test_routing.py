"""Routing, blocking decisions and output file names."""

from __future__ import annotations

from pathlib import Path

import pytest

from spo_hotfolder.config import load_config
from spo_hotfolder.delivery import RouteFacts, decide_blocking, decide_route, is_our_temp, render_filename


@pytest.fixture
def config(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "c.yaml"
    path.write_text(
        """
paths: {root: root}
blocking: {products: ["poster-*"]}
hot_folders:
  indigo: {path: hot/indigo, filename: "{order_id}_{job_id}_{attributes.paper}.pdf"}
  large: {path: hot/large}
routes:
  - when: {product: "bc-*"}
    to: indigo
  - when: {attributes.paper: "silk-*", customer: "ACME*"}
    to: large
  - to: skip
"""
    )
    return load_config(path)


def facts(**kw: object) -> RouteFacts:
    base: dict[str, object] = {
        "order_id": "1",
        "job_id": "1-1",
        "product": "flyer",
        "quantity": 5,
        "customer": None,
        "hot_folder": None,
        "attributes": {},
    }
    base.update(kw)
    return RouteFacts(**base)  # type: ignore[arg-type]


def test_first_matching_route_wins_and_says_why(config) -> None:  # type: ignore[no-untyped-def]
    decision = decide_route(facts(product="bc-85x55"), config)
    assert (decision.hot_folder, decision.reason) == ("indigo", "route 1: product bc-*")


def test_all_conditions_of_a_route_must_match(config) -> None:  # type: ignore[no-untyped-def]
    silk = {"paper": "silk-350"}
    assert decide_route(facts(attributes=silk, customer="ACME Ltd"), config).hot_folder == "large"
    skipped = decide_route(facts(attributes=silk, customer="Other"), config)
    assert (skipped.hot_folder, skipped.reason, skipped.target) == (None, "route 3", "skip")


def test_manifest_hot_folder_overrides_routes(config) -> None:  # type: ignore[no-untyped-def]
    decision = decide_route(facts(product="bc-1", hot_folder="large"), config)
    assert (decision.hot_folder, decision.reason) == ("large", "manifest hot_folder")


def test_blocking_manifest_then_arrival_then_products(config) -> None:  # type: ignore[no-untyped-def]
    assert decide_blocking(None, config, "poster-a1") == (True, "blocking.products: poster-*")
    assert decide_blocking(None, config, "bc-1") == (False, "no blocking rule matched")
    assert decide_blocking(False, config, "poster-a1") == (False, "manifest blocked: false")
    assert decide_blocking(True, config, "bc-1") == (True, "manifest blocked: true")


def test_product_and_route_globs_match_in_any_letter_case(config) -> None:  # type: ignore[no-untyped-def]
    """Audit AK 1: with blocking.products ["poster-*"], a job for "Poster-A1" printed unreviewed;
    a route on "bc-*" skipped "BC-85x55". Storefronts spell codes in varying case."""
    assert decide_blocking(None, config, "Poster-A1") == (True, "blocking.products: poster-*")
    assert config.blocking.blocks("POSTER-A1")
    assert decide_route(facts(product="BC-85x55"), config).hot_folder == "indigo"
    upper = facts(attributes={"paper": "SILK-350"}, customer="acme ltd")
    assert decide_route(upper, config).hot_folder == "large"


def test_globs_match_whatever_the_unicode_form(tmp_path: Path) -> None:
    """Audit AI 2: "café-menu" typed on a Mac (decomposed: e + U+0301) matched no "café-*" blocking
    rule, route or product spec written composed (nor the other way): printed unblocked, unchecked."""
    path = tmp_path / "c.yaml"
    path.write_text(
        'paths: {root: root}\nblocking: {products: ["café-*"]}\nproducts: {"cafe\u0301-*": {trim_mm: [85, 55]}}\n'
        'hot_folders: {proof: {path: hot/proof}}\nroutes:\n  - when: {customer: "Zoë*"}\n    to: proof\n'
        "  - to: skip\n"
    )
    config = load_config(path)
    decomposed = "cafe\u0301-menu"
    assert decide_blocking(None, config, decomposed) == (True, "blocking.products: café-*")
    assert config.product_spec("café-menu") is not None and config.product_spec(decomposed) is not None
    assert decide_route(facts(customer="Zoe\u0308 Ltd"), config).hot_folder == "proof"
    assert decide_route(facts(customer="Zoë Ltd"), config).hot_folder == "proof"


def test_a_question_mark_matches_a_letter_that_case_folding_makes_two(tmp_path: Path) -> None:
    """Audit FZ 2: case folding makes "ß" "ss": a route on "stra?e-*" did not take "Straße-Plan",
    nor a blocking rule "ma?e-*" hold "Maße-Poster" (printed unreviewed); "STRASSE" still matches
    "straße-*" as before."""
    path = tmp_path / "c.yaml"
    path.write_text(
        'paths: {root: root}\nblocking: {products: ["ma?e-*"]}\nhot_folders: {plans: {path: hot/plans}}\n'
        'routes:\n  - when: {product: "stra?e-*"}\n    to: plans\n  - when: {product: "straße-*"}\n'
        "    to: plans\n  - to: skip\n"
    )
    config = load_config(path)
    assert decide_route(facts(product="Straße-Plan"), config).reason == "route 1: product stra?e-*"
    assert decide_route(facts(product="STRASSE-PLAN"), config).reason == "route 2: product straße-*"
    assert decide_route(facts(product="Strasse-Plan"), config).reason == "route 2: product straße-*"
    assert decide_blocking(None, config, "Maße-Poster") == (True, "blocking.products: ma?e-*")
    assert decide_blocking(None, config, "Masse-Poster") == (False, "no blocking rule matched")


def test_filename_template_fills_fields_and_replaces_bad_characters() -> None:
    name = render_filename(
        "{order_id}_{customer}_{attributes.paper}_x{quantity}.pdf",
        facts(customer='A/B: "C"', attributes={"paper": "silk*350"}),
    )
    assert name == "1_A_B_ _C__silk_350_x5.pdf"
    assert render_filename("{job_id}-{attributes.missing}.pdf", facts()) == "1-1-.pdf"


@pytest.mark.parametrize(
    ("customer", "name"),
    [
        ("CON", "CON_.pdf"),
        ("nul", "nul_.pdf"),
        ("Com1", "Com1_.pdf"),
        ("LPT9.x", "LPT9_.x.pdf"),
        ("CONSOLE", "CONSOLE.pdf"),
    ],
)
def test_a_filename_windows_keeps_for_a_device_gets_an_underscore(customer: str, name: str) -> None:
    """Audit (2026-12-03, operator 4): customer "CON" made CON.pdf, a name a hot folder on a
    Windows share refuses (Windows keeps CON, NUL, COM1 ... for devices, whatever the extension)."""
    assert render_filename("{customer}.pdf", facts(customer=customer)) == name


def test_a_filename_that_would_be_hidden_gets_the_job_id_in_front() -> None:
    """A RIP never picks up a dot-name, and every job without a customer would share it."""
    assert render_filename("{customer}.pdf", facts(customer=None)) == "1-1.pdf"
    assert render_filename("{attributes.x}.{product}.pdf", facts()) == "1-1.flyer.pdf"
    assert render_filename("{customer}.pdf", facts(customer="ACME")) == "ACME.pdf"


def test_an_empty_placeholder_last_leaves_no_space_before_the_extension() -> None:
    """ "{order_id}_{job_id} {customer}.pdf" without a customer made "1_1-1 .pdf" (audit BR 6)."""
    assert render_filename("{order_id}_{job_id} {customer}.pdf", facts(customer=None)) == "1_1-1.pdf"
    assert render_filename("{order_id}_{job_id} {customer}.pdf", facts(customer="ACME")) == "1_1-1 ACME.pdf"
    assert render_filename("{job_id} {customer} .pdf", facts(customer="ACME")) == "1-1 ACME.pdf"


def test_a_nested_attribute_is_reached_by_its_dotted_name() -> None:
    """attributes: {paper: {kind: silk}} (audit BU 1): routes and file names say attributes.paper.kind;
    a map or a list is no single value: no route matches it, a file name leaves it empty."""
    nested = facts(attributes={"paper": {"kind": "silk-350", "gsm": 350}, "sizes": [1, 2], "a.b": "dotted"})
    assert nested.value("attributes.paper.kind") == "silk-350" and nested.value("attributes.paper.gsm") == "350"
    assert nested.value("attributes.paper") is None and nested.value("attributes.sizes") is None
    assert nested.value("attributes.a.b") == "dotted" and nested.value("attributes.paper.none") is None
    assert render_filename("{job_id}_{attributes.paper.kind}{attributes.paper}.pdf", nested) == "1-1_silk-350.pdf"


def test_our_temp_names() -> None:
    assert is_our_temp(".1_1-1.pdf.part")
    assert not is_our_temp("1_1-1.pdf") and not is_our_temp(".part")


def test_a_failure_in_the_staging_folder_names_the_staging_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit AY 2: a read-only staging folder read "no permission to write into hot folder large
    (<the hot folder>)": the operator was sent to a folder that was fine."""
    import errno
    import os

    from spo_hotfolder import delivery
    from spo_hotfolder.config import HotFolderConfig
    from spo_hotfolder.delivery import DeliveryError, publish, write_temp

    hot = HotFolderConfig(
        name="large", path=tmp_path / "hot", filename="{job_id}.pdf", staging=tmp_path / "stage", ticket="none"
    )
    hot.path.mkdir()
    hot.staging.mkdir()  # type: ignore[union-attr]
    src = tmp_path / "out.pdf"
    src.write_bytes(b"%PDF-1.7 output")

    def refused(*args: object, **kwargs: object) -> int:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(delivery, "copy_file", refused)  # as `chattr +i stage` makes it
    with pytest.raises(DeliveryError) as raised:
        write_temp(src, tmp_path / "stage" / ".j.pdf.part", hot)
    assert str(raised.value) == (
        f"writing into the staging folder of hot folder large ({tmp_path / 'stage'}) is not permitted (the system "
        "refused it, whatever the mode: an immutable folder, `chattr +i`, shows in `lsattr -d`; or a security "
        "policy); check its owner, mode and attributes"
    )

    def denied(*args: object, **kwargs: object) -> int:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(delivery, "copy_file", denied)  # the mode (audit BP 4: EPERM is not)
    with pytest.raises(DeliveryError) as raised:
        write_temp(src, tmp_path / "stage" / ".j.pdf.part", hot)
    assert str(raised.value) == (
        f"no permission to write into the staging folder of hot folder large ({tmp_path / 'stage'}); check its owner "
        "and mode"
    )
    # The rename out of a staging folder that cannot be written is about that folder too.
    temp = tmp_path / "stage" / ".j.pdf.part"
    temp.write_bytes(b"%PDF-1.7 output")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == hot.staging else real_access(p, mode))
    monkeypatch.setattr(os, "replace", refused)
    monkeypatch.setattr(delivery, "rename_noreplace", refused)
    with pytest.raises(DeliveryError) as raised:
        publish(temp, hot.path / "j.pdf", hot)
    assert f"the staging folder of hot folder large ({tmp_path / 'stage'})" in str(raised.value)
    monkeypatch.setattr(os, "access", real_access)
    with pytest.raises(DeliveryError) as raised:
        publish(temp, hot.path / "j.pdf", hot)  # the staging folder is writable: the hot folder refused
    assert str(raised.value).startswith(f"writing into hot folder large ({hot.path}) is not permitted")


def test_a_long_filename_is_shortened_and_stays_one_jobs_own() -> None:
    """Audit (operator) 2: "{customer}_{job_id}.pdf" with a 260-character customer was cut to the
    same 200 bytes for both jobs of the order (their ids cut off): the second failed every attempt
    on "a file of that name is already waiting", and would have printed under the first one's name."""
    customer = "Y" * 260
    first = render_filename("{customer}_{job_id}.pdf", facts(customer=customer, job_id="TR1-1"))
    second = render_filename("{customer}_{job_id}.pdf", facts(customer=customer, job_id="TR1-2"))
    assert first != second
    # The customer is shortened, the job id kept (audit AZ: the cut at 200 bytes took it away, and a
    # hash kept the names apart: a RIP's operator could not tell which job a file was).
    assert first == "Y" * 64 + "_TR1-1.pdf" and second == "Y" * 64 + "_TR1-2.pdf"
    assert first == render_filename("{customer}_{job_id}.pdf", facts(customer=customer, job_id="TR1-1"))
    accented = render_filename("{customer}.pdf", facts(customer="é" * 150))  # 300 bytes: cut between characters
    assert accented.startswith("é" * 32 + "~") and accented.endswith(".pdf")  # (no {job_id}: a hash, BX 8)
    # Where the ids alone are too long, the whole name is cut, a hash keeping it its own.
    ids = render_filename("{order_id}_{job_id}.pdf", facts(order_id="O" * 64, job_id="J" * 64))
    assert len(ids.encode()) <= 200 and ids.startswith("O" * 64 + "_" + "J" * 64)
    many = render_filename(
        "{customer}-{attributes.a}-{attributes.b}-{job_id}.pdf",
        facts(customer="C" * 100, job_id="TR1-1", attributes={"a": "A" * 100, "b": "B" * 100}),
    )
    assert many == "C" * 32 + "-" + "A" * 32 + "-" + "B" * 32 + "-TR1-1.pdf"  # (64 each: 204 bytes)
    # Without {job_id}, long values that differ only past the cut keep two names (audit BX 8), each
    # with the whole name's hash; a name that fits is as it was.
    one, two = (
        render_filename("{product}{attributes.t}.pdf", facts(attributes={"t": "T" * 250 + end})) for end in ("1", "2")
    )
    assert one != two and one.startswith("flyer" + "T" * 64 + "~") and one.endswith(".pdf"), (one, two)
    assert len(one.encode()) <= 200
    assert render_filename("{product}{attributes.t}.pdf", facts(attributes={"t": "T"})) == "flyerT.pdf"


def test_an_empty_customer_pattern_matches_an_order_without_a_customer(tmp_path: Path) -> None:
    """Review FZ 3: `when: {customer: ""}` matched `"customer": ""` and not an order without one,
    two storefront payloads that mean the same (its file name's {customer} is empty for both). A
    pattern that is not empty still needs a customer."""
    path = tmp_path / "c.yaml"
    path.write_text(
        "paths: {root: root}\nhot_folders:\n  walk-in: {path: hot/w}\n  shop: {path: hot/s}\n"
        'routes:\n  - when: {customer: ""}\n    to: walk-in\n  - when: {customer: "*"}\n    to: shop\n  - to: skip\n'
    )
    config = load_config(path)
    assert decide_route(facts(customer=None), config).hot_folder == "walk-in"
    assert decide_route(facts(customer=""), config).hot_folder == "walk-in"
    assert decide_route(facts(customer="ACME"), config).hot_folder == "shop"
