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


def test_filename_template_fills_fields_and_replaces_bad_characters() -> None:
    name = render_filename(
        "{order_id}_{customer}_{attributes.paper}_x{quantity}.pdf",
        facts(customer='A/B: "C"', attributes={"paper": "silk*350"}),
    )
    assert name == "1_A_B_ _C__silk_350_x5.pdf"
    assert render_filename("{job_id}-{attributes.missing}.pdf", facts()) == "1-1-.pdf"


def test_a_filename_that_would_be_hidden_gets_the_job_id_in_front() -> None:
    """A RIP never picks up a dot-name, and every job without a customer would share it."""
    assert render_filename("{customer}.pdf", facts(customer=None)) == "1-1.pdf"
    assert render_filename("{attributes.x}.{product}.pdf", facts()) == "1-1.flyer.pdf"
    assert render_filename("{customer}.pdf", facts(customer="ACME")) == "ACME.pdf"


def test_our_temp_names() -> None:
    assert is_our_temp(".1_1-1.pdf.part")
    assert not is_our_temp("1_1-1.pdf") and not is_our_temp(".part")
