"""The JSON log line: one object per line, that journald keeps whole (TECH-NOTES: LineMax 48K)."""

from __future__ import annotations

import json

from spo_hotfolder.logsetup import LINE_MAX_BYTES, _json_line


def test_a_short_event_is_written_as_it_is() -> None:
    event = {"event": "config.reload_failed", "errors": ["a", "b"], "level": "error"}
    assert json.loads(_json_line(event, ensure_ascii=False)) == event


def test_long_lists_and_texts_are_cut_and_say_so() -> None:
    event = {
        "event": "config.reload_failed",
        "level": "error",
        "errors": [f"spo.yaml:{n}: bogus_{n}: unknown key " + "x" * 200 for n in range(300)],
        "detail": "é" * 30_000,  # two bytes each in UTF-8
    }
    line = _json_line(event, ensure_ascii=False)
    assert len(line.encode()) <= LINE_MAX_BYTES
    short = json.loads(line)
    assert short["event"] == "config.reload_failed" and short["level"] == "error"
    assert len(short["errors"]) == 21 and short["errors"][0].startswith("spo.yaml:0: bogus_0")
    assert short["errors"][-1] == "... and 280 more (cut to fit a log line)"
    assert short["detail"].endswith("... (30000 characters, cut to fit a log line)")


def test_an_event_of_too_many_fields_keeps_its_name() -> None:
    event = {"event": "x.y", "level": "info", **{f"field_{n}": "v" * 1_900 for n in range(40)}}
    short = json.loads(_json_line(event))
    assert short["event"] == "x.y" and short["level"] == "info"
    assert "the event's 42 fields" in short["cut"] and "field_0" not in short
