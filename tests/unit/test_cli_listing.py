"""`jobs` as printed: the JSON list written one job at a time, and the table with SPO's colours on
a terminal only."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spo_hotfolder.commands import ORANGE, RED, RESET, _print_json_list
from spo_hotfolder.ledger import Ledger, Stage
from spo_hotfolder.status import JobStatus
from tests.unit.test_ledger import T0, add


@pytest.mark.parametrize(
    "items",
    [[], [{"a": 1}], [{"job_id": "1-1", "note": "two\nlines", "name": "Jos\u00e9 \u2713", "h": []}, {"x": None}] * 3],
)
def test_the_json_list_is_written_as_json_dumps_writes_it(items, monkeypatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    _print_json_list(iter(items))
    assert out.getvalue() == json.dumps(items, indent=2, ensure_ascii=False) + "\n"


def _ledger_with_three_jobs(tmp_path: Path) -> Path:
    config = tmp_path / "c.yaml"
    (tmp_path / "hot").mkdir()
    config.write_text(
        f"paths: {{root: {tmp_path / 'root'}}}\n"
        f"hot_folders: {{hot: {{path: {tmp_path / 'hot'}}}}}\n"
        "routes: [{to: hot}]\n"
    )
    ledger = Ledger(tmp_path / "root" / "state" / "ledger.sqlite3")
    add(ledger, "1-1")  # waiting: no colour
    add(ledger, "2-1")  # blocked, output created: orange
    ledger.add_status("2-1", JobStatus.Blocked, "system", "", T0)
    ledger.update_job("2-1", T0, output="o.pdf", stage=Stage.HELD, folder="quarantine/2-1")
    add(ledger, "3-1", Stage.FAILED)  # failed: red
    ledger.update_job("3-1", T0, folder="failed/3-1")
    ledger.close()
    return config


def test_the_table_is_coloured_on_a_terminal_and_plain_in_a_pipe(tmp_path: Path) -> None:
    config = _ledger_with_three_jobs(tmp_path)
    command = [sys.executable, "-m", "spo_hotfolder.cli", "-c", str(config), "jobs"]
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")} | {"TERM": "xterm"}
    piped = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout.splitlines()
    assert [line.split()[0] for line in piped] == ["1-1", "2-1", "3-1"]
    assert not any("\033" in line for line in piped)
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(command, stdout=follower, stderr=subprocess.PIPE, env=env, timeout=60, check=True)
        os.close(follower)
        follower = -1
        text = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other side is closed and drained
                break
            if not chunk:
                break
            text += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert proc.returncode == 0
    header, first, second, third = text.decode().splitlines()
    assert header.split()[:3] == ["JOB", "ORDER", "STATUS"]
    assert first.startswith("1-1") and "\033" not in first
    assert second.startswith(f"{ORANGE}2-1") and second.endswith(RESET)
    assert third.startswith(f"{RED}3-1") and third.endswith(RESET)
    # Columns line up: the FOLDER column starts at the same place in every row.
    plain = [line.replace(ORANGE, "").replace(RED, "").replace(RESET, "") for line in (first, second, third)]
    assert (
        len({line.index(folder) for line, folder in zip(plain, ("work/", "quarantine/", "failed/"), strict=True)}) == 1
    )


def test_the_config_option_is_taken_after_the_command_too(tmp_path: Path) -> None:
    """Audit V: `spo-hotfolder jobs -c FILE` was a usage error; sysadmins write it that way."""
    config = _ledger_with_three_jobs(tmp_path)
    for argv in (
        ["-c", str(config), "jobs"],
        ["jobs", "-c", str(config)],
        ["-c", "/nowhere.yaml", "jobs", "-c", str(config)],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "spo_hotfolder.cli", *argv], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, (argv, result.stderr)
        assert [line.split()[0] for line in result.stdout.splitlines()] == ["1-1", "2-1", "3-1"]


def test_usage_errors_name_the_command_and_run_without_a_terminal_writes_json(tmp_path: Path) -> None:
    both = [sys.executable, "-m", "spo_hotfolder.cli", "jobs", "--status", "Blocked", "--released"]
    result = subprocess.run(both, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.startswith("usage: spo-hotfolder jobs ")
    bogus = subprocess.run(
        [sys.executable, "-m", "spo_hotfolder.cli", "run", "--bogus"], capture_output=True, text=True, timeout=60
    )
    assert bogus.returncode == 2
    [line] = bogus.stderr.splitlines()
    said = json.loads(line)
    assert said["message"] == "spo-hotfolder run: error: unrecognized arguments: --bogus"
    # ... with the log's fields, as every other line the daemon writes (its stderr copy of a refusal).
    assert (said["event"], said["level"], said["logger"]) == ("daemon.usage_error", "error", "spo_hotfolder")
    assert said["timestamp"].endswith("Z")
    # A word too many after a command is said with that command's usage (it was the top level's).
    extra = subprocess.run(
        [sys.executable, "-m", "spo_hotfolder.cli", "release", "1-1", "extra"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert extra.returncode == 2 and extra.stdout == ""
    assert extra.stderr.startswith("usage: spo-hotfolder release ")
    assert extra.stderr.splitlines()[-1] == "spo-hotfolder release: error: unrecognized arguments: extra"
    # `-c ""` (a script's variable not set) took the default config, /etc's (sysadmin audit).
    for argv in (["-c", "", "jobs"], ["jobs", "-c", ""]):
        empty = subprocess.run(
            [sys.executable, "-m", "spo_hotfolder.cli", *argv], capture_output=True, text=True, timeout=60
        )
        assert empty.returncode == 2 and empty.stdout == ""
        assert empty.stderr.splitlines()[-1].endswith(
            "error: argument -c/--config: an empty path: name the config file (or leave -c out for the default)"
        )


@pytest.mark.parametrize(
    ("by", "says"),
    [
        ("system", "'system' is the daemon's own name in the status history: give the operator's name"),
        (" SYSTEM ", "'SYSTEM' is the daemon's own name in the status history: give the operator's name"),
        ("n" * 65, "a name of 65 characters: at most 64"),
        ("  ", "an empty name: give the operator's name"),
    ],
)
def test_an_operator_name_the_history_cannot_show_as_given_is_a_usage_error(by: str, says: str) -> None:
    """(audit V 1) `release JOB --by system` was recorded as the daemon's own release ("removed by
    system"), and a name over 64 characters was cut where a drop file's is refused as a name."""
    for command in (["release", "1-1"], ["reject", "1-1"], ["retry", "1-1"], ["replace", "1-1", "x.pdf"]):
        result = subprocess.run(
            [sys.executable, "-m", "spo_hotfolder.cli", *command, "--by", by],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2 and result.stdout == "", (command, result.stderr)
        assert result.stderr.splitlines()[-1] == f"spo-hotfolder {command[0]}: error: argument --by: {says}"


def test_a_job_id_that_begins_with_a_dash_is_said_how_to_write(tmp_path: Path) -> None:
    """Audit (2026-12-03, CLI 3): order "-X" gives job "-X-1" (the charset allows a leading '-'),
    which argparse reads as an option: `show -X-1` said only "the following arguments are
    required: job". The error says to put it after '--', which works."""
    config = _ledger_with_three_jobs(tmp_path)
    cli = [sys.executable, "-m", "spo_hotfolder.cli", "-c", str(config)]
    result = subprocess.run([*cli, "show", "-X-1"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "spo-hotfolder show: error: the following arguments are required: job "
        "(a job id that begins with '-' goes after '--': spo-hotfolder show -- -X-1)"
    )
    after = subprocess.run([*cli, "show", "--", "-X-1"], capture_output=True, text=True, timeout=60)
    assert after.returncode == 1 and "-X-1" in after.stderr and "usage" not in after.stderr


@pytest.mark.parametrize("flags", [["--json"], []])
def test_a_listing_read_only_in_part_ends_quietly(tmp_path: Path, flags: list[str]) -> None:
    """Audit Z1: `jobs --json | head -2` printed a traceback (the listing's cursor closed at exit,
    on a closed ledger). A reader that goes away early is not an error: nothing on stderr, exit 0."""
    config = _ledger_with_three_jobs(tmp_path)
    ledger = Ledger(tmp_path / "root" / "state" / "ledger.sqlite3")
    for n in range(4, 400):  # more than a pipe buffer of JSON
        add(ledger, f"{n}-1")
    ledger.close()
    script = f"{sys.executable} -m spo_hotfolder.cli -c {config} jobs {' '.join(flags)} | head -2"
    result = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {script}; echo rc=${{PIPESTATUS[0]}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stderr == ""
    assert result.stdout.splitlines()[-1] == "rc=0"
    assert len(result.stdout.splitlines()) == 3


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["-V"]])
def test_help_and_version_print_and_exit_0(argv: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "spo_hotfolder.cli", *argv], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("usage: spo-hotfolder" if argv == ["--help"] else "spo-hotfolder ")


@pytest.mark.parametrize(
    "argv",
    [["jobs"], ["jobs", "--json"], ["show", "1-1"], ["check-config"], ["--help"], ["--version"], ["run", "--help"]],
)
def test_output_that_cannot_be_written_is_one_line_not_a_traceback(tmp_path: Path, argv: list[str]) -> None:
    """Audit AK 5: `jobs > /dev/full` printed a "daemon.crashed" critical JSON object with stack
    frames. SPEC 3: exit 1 and a clear one-line error on stderr. `--help` and `--version` exited
    0 saying nothing (argparse ignores a failed write)."""
    config = _ledger_with_three_jobs(tmp_path)
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "spo_hotfolder.cli", "-c", str(config), *argv],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert result.stderr == "spo-hotfolder: error: cannot write the output: No space left on device\n"


def test_a_customer_and_attributes_with_control_characters_are_shown_without_them(tmp_path: Path) -> None:
    """Audit AK 4: `show` and STATUS.txt printed a manifest's customer and attribute values as they
    came: ESC sequences cleared or retitled the operator's terminal, U+202E turned text around.
    Each run of such characters is one space there; `show --json` keeps the text (JSON escapes it)."""
    from spo_hotfolder.reports import Extra, status_text

    config = _ledger_with_three_jobs(tmp_path)
    ledger = Ledger(tmp_path / "root" / "state" / "ledger.sqlite3")
    evil = "Evil\x1b[2J\x1b]0;pwned\x07Corp\rFAKE"
    ledger.insert_job(
        job_id="9-1",
        order_id="9",
        customer=evil,
        product="bc",
        quantity=1,
        hot_folder=None,
        attributes={"note": "a\x1b[5mblink\u202eevil"},
        manifest_name="manifest.yaml",
        process_after=None,
        stage=Stage.PROCESS,
        folder="work/9-1",
        awaiting_until=None,
        now=T0,
    )
    ledger.add_status("9-1", JobStatus.Ordered, "system", "", T0)
    job = ledger.get_job("9-1")
    ledger.close()
    assert job is not None
    shown = subprocess.run(
        [sys.executable, "-m", "spo_hotfolder.cli", "-c", str(config), "show", "9-1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "Order:     9  (Evil [2J ]0;pwned Corp FAKE)" in shown
    assert "Attributes: note=a [5mblink evil" in shown
    assert "\x1b" not in shown and "\u202e" not in shown and "\r" not in shown and "\x07" not in shown
    assert status_text(job, Extra()).splitlines()[0] == "Job 9-1  (order 9, Evil [2J ]0;pwned Corp FAKE)"
    as_json = subprocess.run(
        [sys.executable, "-m", "spo_hotfolder.cli", "-c", str(config), "show", "9-1", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert json.loads(as_json)["customer"] == evil


def test_show_names_the_folder_a_job_is_in_when_a_crash_cut_its_move_short(tmp_path: Path) -> None:
    """Audit AU 2: the ledger records a job's new folder with its status a moment before the folder
    moves; with the daemon killed in between (and not restarted yet), `show` named a folder that
    did not exist."""
    config = _ledger_with_three_jobs(tmp_path)
    ledger = Ledger(tmp_path / "root" / "state" / "ledger.sqlite3")
    ledger.update_job("2-1", T0, stage=Stage.REJECTED, folder="rejected/2-1")
    ledger.close()
    (tmp_path / "root" / "quarantine" / "2-1").mkdir(parents=True)
    command = [sys.executable, "-m", "spo_hotfolder.cli", "-c", str(config), "show", "2-1"]
    shown = json.loads(subprocess.run([*command, "--json"], capture_output=True, text=True, check=True).stdout)
    assert (shown["folder"], shown["output"]) == ("quarantine/2-1", "quarantine/2-1/output/o.pdf")
    text = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    assert (
        "Folder:    quarantine/2-1  (recorded as rejected/2-1: drop files and replace/ are read only there; moved by "
        "hand? move it back. A move a crash cut short is finished when the daemon starts)\n"
    ) in text  # (audit BY 4: it named the folder with no word that the daemon acts elsewhere)
    # Its output file is not there either (audit BH 5: named as if it were).
    assert "Output:    quarantine/2-1/output/o.pdf  (not there)\n" in text
    # `jobs` gives the same folder (audit BF 5: it gave the ledger's, `show` the real one).
    listing = [sys.executable, "-m", "spo_hotfolder.cli", "-c", str(config), "jobs"]
    listed = json.loads(subprocess.run([*listing, "--json"], capture_output=True, text=True, check=True).stdout)
    assert {j["job_id"]: j["folder"] for j in listed}["2-1"] == "quarantine/2-1"
    rows = subprocess.run(listing, capture_output=True, text=True, check=True).stdout.splitlines()
    assert [row.split()[4] for row in rows if row.startswith("2-1 ")] == ["quarantine/2-1"]
    # A folder deleted (or renamed) by hand is named, and said not to be there (audit BF 4).
    shown = subprocess.run([*command[:-1], "1-1"], capture_output=True, text=True, check=True).stdout
    assert "Folder:    work/1-1  (not there: deleted, moved or renamed by hand?)\n" in shown


@pytest.mark.parametrize("command", [["jobs", "--json"], ["jobs"], ["show", "2-1", "--json"]])
def test_a_listing_read_between_a_folders_move_and_its_record_waits_for_the_record(
    tmp_path: Path, command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review GU 1: the daemon moves a job's folder in the transaction that records its new status
    and folder; `jobs --json` read in between gave the record before ("OutputCreated", held) with
    the folder where it now is (done/): an object no state of the job was. The record is read
    again, a moment, until it names the folder where it is."""
    from spo_hotfolder import commands
    from spo_hotfolder.cli import main

    config = _ledger_with_three_jobs(tmp_path)
    (tmp_path / "root" / "done" / "2-1").mkdir(parents=True)  # moved; its record not committed yet
    daemon = Ledger(tmp_path / "root" / "state" / "ledger.sqlite3")  # (the daemon has it open)
    waits: list[float] = []

    def commit_comes(seconds: float) -> None:
        if not waits:  # the daemon's commit comes while the CLI waits
            daemon.add_status("2-1", JobStatus.InHotFolder, "system", "hot: o.pdf", T0)
            daemon.update_job("2-1", T0, stage=Stage.DONE, folder="done/2-1")
        waits.append(seconds)

    monkeypatch.setattr(commands.time, "sleep", commit_comes)
    try:
        assert main(["-c", str(config), *command]) == 0
    finally:
        daemon.close()
    out = capsys.readouterr().out
    if command == ["jobs"]:
        assert [line.split()[2:5] for line in out.splitlines() if line.startswith("2-1 ")] == [
            ["InHotFolder", "yes", "done/2-1"]
        ]
    else:
        shown = json.loads(out)
        [job] = [j for j in shown if j["job_id"] == "2-1"] if isinstance(shown, list) else [shown]
        assert (job["status"], job["folder"], job["output"]) == ("InHotFolder", "done/2-1", "done/2-1/output/o.pdf")
    assert len(waits) == 1


def test_an_order_id_given_for_a_job_id_is_answered_with_the_order_s_jobs(tmp_path: Path) -> None:
    """Audit AY 5e: `show 100234` (the order id an operator reads on the storefront) said only
    "no job '100234' in the ledger". It names the order's jobs; an id that is neither says so."""
    config = _ledger_with_three_jobs(tmp_path)
    ledger = Ledger(tmp_path / "root" / "state" / "ledger.sqlite3")
    add(ledger, "2-2")
    add(ledger, "ab-1")
    ledger.close()

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "spo_hotfolder.cli", "-c", str(config), *argv]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    for argv in (["show", "2"], ["release", "2"]):
        result = run(*argv)
        assert (result.returncode, result.stdout) == (1, ""), argv
        assert (
            result.stderr == "spo-hotfolder: error: no job '2' in the ledger; '2' is an order id: its jobs 2-1, 2-2\n"
        )
    assert run("show", "3").stderr.endswith("'3' is an order id: its job 3-1\n")
    assert run("show", "7").stderr == "spo-hotfolder: error: no job '7' in the ledger\n"
    # Audit AK: `release RT1-1` for job rt1-1 said nothing more.
    assert run("release", "AB-1").stderr == (
        "spo-hotfolder: error: no job 'AB-1' in the ledger; did you mean 'ab-1'? (job ids are written as given)\n"
    )


@pytest.mark.parametrize(
    ("days", "said"),
    [
        (30, "30 days"),
        (1, "1 day"),
        (1.5, "1.5 days"),
        (0.5, "0.5 days (12 hours)"),
        (0.0025, "0.0025 days (3.6 minutes)"),  # audit, soak 2: "(4 minutes)"
        (0.00004, "0.00004 days (3.456 seconds)"),  # audit BG 4: "4e-05 days"
        (30.123456, "30.123456 days"),  # audit BH 6: "30.1235 days"
        (0, "0 days"),  # not "0 days (0 seconds)"
    ],
)
def test_retention_days_are_written_as_an_operator_reads_them(days: float, said: str) -> None:
    from spo_hotfolder.reports import human_days

    assert human_days(days) == said


@pytest.mark.parametrize("command", [["jobs"], ["release", "2-1"]])
def test_a_file_this_user_may_not_use_is_one_line_not_a_traceback(
    tmp_path: Path, command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Audit BT 2: an operator not (yet) in the daemon's group got a `daemon.crashed` traceback from
    `jobs` and `release`; SPEC 3: one clear line on stderr, exit 1."""
    from spo_hotfolder import commands
    from spo_hotfolder.cli import main

    config = _ledger_with_three_jobs(tmp_path)
    ledger_file = tmp_path / "root" / "state" / "ledger.sqlite3"

    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(ledger_file))

    monkeypatch.setattr(commands, "open_ledger", refused)  # as state/ (2770) is to a user outside the group
    assert main(["-c", str(config), *command]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1, err
    assert err.startswith(f"spo-hotfolder: error: {ledger_file}: Permission denied (this user, ")
    assert "may not use it: operators must be in the daemon's group" in err


def test_a_replacement_this_user_may_not_read_is_said_plainly_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Audit BV 4, 5: `replace JOB secret.pdf` (the operator's own 0600 file, run as another user)
    was told to join the daemon's group, and left an empty staging folder in state/commands/."""
    import shutil

    from spo_hotfolder import commands
    from spo_hotfolder.cli import main

    config = _ledger_with_three_jobs(tmp_path)
    secret = tmp_path / "secret.pdf"
    secret.write_bytes(b"%PDF-1.7\n%%EOF\n")
    real_access = os.access
    monkeypatch.setattr(commands.os, "access", lambda p, mode: Path(p) != secret and real_access(p, mode))
    assert main(["-c", str(config), "replace", "2-1", str(secret)]) == 1
    err = capsys.readouterr().err
    assert err == f"spo-hotfolder: error: {secret}: this user may not read it; give it read permission (chmod) first\n"
    monkeypatch.setattr(commands.os, "access", real_access)

    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(secret))

    monkeypatch.setattr(shutil, "copyfile", refused)  # unreadable after all (a share's own rules)
    assert main(["-c", str(config), "replace", "2-1", str(secret)]) == 1
    assert len(capsys.readouterr().err.splitlines()) == 1
    assert list((tmp_path / "root" / "state" / "commands").iterdir()) == [], "no staging folder left"


def test_artwork_listing_says_which_files_have_arrived_and_which_not() -> None:
    """Audit CB 2: "mn1.pdf, mn2.pdf (not arrived yet)" with mn1.pdf there read as if neither had."""
    from spo_hotfolder.reports import artwork_listing

    assert artwork_listing([("a.pdf", True), ("b.pdf", True)]) == "a.pdf, b.pdf"
    assert artwork_listing([("a.pdf", False)]) == "a.pdf (not arrived yet)"
    assert artwork_listing([("a.pdf", False), ("b.pdf", False)]) == "a.pdf, b.pdf (none arrived yet)"
    assert artwork_listing([("a.pdf", True), ("b.pdf", False), ("c.pdf", True)]) == (
        "a.pdf, c.pdf (arrived); not arrived yet: b.pdf"
    )


def test_a_replacement_that_is_not_a_regular_file_is_said_plainly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Audit (CLI) 3: `replace JOB pipe.pdf` (a named pipe) said "no such file" of a file that is there."""
    from spo_hotfolder.cli import main

    config = _ledger_with_three_jobs(tmp_path)
    pipe = tmp_path / "pipe.pdf"
    os.mkfifo(pipe)
    assert main(["-c", str(config), "replace", "2-1", str(pipe)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"spo-hotfolder: error: {pipe} is not a regular file (a named pipe, a device, a broken link); "
        "name the PDF file itself\n"
    )
    assert main(["-c", str(config), "replace", "2-1", str(tmp_path / "gone.pdf")]) == 1
    assert capsys.readouterr().err == f"spo-hotfolder: error: {tmp_path / 'gone.pdf'}: no such file\n"


@pytest.mark.parametrize("damage", [b"", b"SQLite format 3\x00" + os.urandom(5000), os.urandom(8192)])
def test_a_damaged_ledger_is_a_one_line_error(tmp_path: Path, damage: bytes) -> None:
    """Audit D 1: `jobs` and `show` on a damaged, cut-off or emptied ledger ended in a traceback
    logged as "daemon.crashed"; SPEC 3 wants a clear one-line error."""
    from tests.daemon import run_cli, write_config

    config = write_config(tmp_path)
    assert run_cli(config, "init").returncode == 0
    (tmp_path / "root" / "state" / "ledger.sqlite3").write_bytes(damage)
    for args in (["jobs"], ["jobs", "--json"], ["show", "X-1"]):
        result = run_cli(config, *args)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.startswith(
            "spo-hotfolder: error: the ledger (state/ledger.sqlite3 under paths.root) cannot"
        )
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    # The operator commands, with no daemon running, say it too and change nothing (audit,
    # sysadmin F1: `retry` on the emptied ledger made a new one and answered "no job").
    ledger = tmp_path / "root" / "state" / "ledger.sqlite3"
    for args in (["retry", "X-1"], ["release", "X-1"], ["reject", "X-1"]):
        result = run_cli(config, *args)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.startswith(f"spo-hotfolder: error: {'the ledger file' if not damage else 'cannot open'}")
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
        assert ledger.read_bytes() == damage


def test_check_config_notes_a_metrics_host_that_does_not_resolve(tmp_path: Path) -> None:
    """Audit D 3: such a name passed check-config and a reload, and the next start refused it."""
    from tests.daemon import run_cli, write_config

    config = write_config(tmp_path, metrics={"listen": "nosuchhost.invalid:9464"})
    result = run_cli(config, "check-config")
    assert result.returncode == 0 and result.stdout.endswith("config OK\n")
    assert "note: metrics.listen nosuchhost.invalid:9464: the name nosuchhost.invalid cannot be resolved here" in (
        result.stderr
    )


def test_check_config_notes_a_metrics_address_this_machine_does_not_have(tmp_path: Path) -> None:
    """(sysadmin audit F4) An address of another machine passed check-config without a word; `run`
    then refused "Cannot assign requested address". A port in use is no note: the daemon running
    on it is the likely user."""
    import socket

    from tests.daemon import run_cli, write_config

    config = write_config(tmp_path, metrics={"listen": "192.0.2.1:9464"})  # (TEST-NET-1: nobody's)
    result = run_cli(config, "check-config")
    assert result.returncode == 0 and result.stdout.endswith("config OK\n")
    assert (
        "note: metrics.listen 192.0.2.1:9464: cannot be served here (Cannot assign requested address): the daemon "
        "would serve no metrics (it says so in its log and tries again every minute)"
    ) in result.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = write_config(tmp_path / "busy", metrics={"listen": f"127.0.0.1:{port}"})
        result = run_cli(config, "check-config")
    assert result.returncode == 0 and "metrics" not in result.stderr, result.stderr


def test_check_config_notes_a_file_name_template_without_the_job_id(tmp_path: Path) -> None:
    """Audit F4: "{customer}.pdf" gave two jobs one name; the second waited and failed after its
    attempts (never an overwrite), and neither check-config nor route had said it could."""
    from tests.daemon import run_cli, write_config

    config = write_config(tmp_path)
    result = run_cli(config, "check-config")
    assert result.returncode == 0 and "filename" not in result.stderr, result.stderr
    hot = tmp_path / "hot" / "indigo"
    config = write_config(tmp_path, hot_folders={"indigo": {"path": str(hot), "filename": "{customer}.pdf"}})
    result = run_cli(config, "check-config")
    assert result.returncode == 0 and result.stdout.endswith("config OK\n")
    assert (
        "note: hot_folders.indigo.filename '{customer}.pdf' has no {job_id}: two jobs can get the same file name"
        in result.stderr
    ), result.stderr


def test_check_config_notes_hot_folders_inside_each_other_and_an_ignore_that_takes_no_order(tmp_path: Path) -> None:
    """Audit T 3, 4: two hot folders in one folder, a hot folder or a staging folder inside another
    hot folder, `watch.ignore: ["*.pdf"]`, and a route after one that takes every job passed
    check-config without a word."""
    from tests.daemon import run_cli, write_config

    hot = tmp_path / "hot"
    for folder in ("indigo", "indigo/big", "large", "stage"):
        (hot / folder).mkdir(parents=True, exist_ok=True)
    (hot / "to-indigo").symlink_to(hot / "indigo")
    config = write_config(
        tmp_path,
        hot_folders={
            "indigo": {"path": str(hot / "indigo")},
            "big": {"path": str(hot / "indigo" / "big")},
            "twin": {"path": str(hot / "indigo")},
            "linked": {"path": str(hot / "to-indigo")},  # (audit AO D2: a link to it was no note)
            "large": {"path": str(hot / "large"), "staging": str(hot / "indigo")},
        },
        routes=[{"when": {"product": "bc-*"}, "to": "big"}, {"to": "indigo"}, {"to": "large"}],
        watch={"ignore": ["*.PDF", ".*"]},
    )
    result = run_cli(config, "check-config")
    assert result.returncode == 0 and result.stdout.endswith("config OK\n"), result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    indigo = hot / "indigo"
    assert (
        f"note: hot_folders.indigo and hot_folders.twin are the same folder ({indigo}): the jobs of both go to the "
        "one printer that watches it"
    ) in notes
    assert (
        f"note: hot_folders.indigo and hot_folders.linked are the same folder ({indigo}): the jobs of both go to the "
        "one printer that watches it"
    ) in notes
    assert (
        f"note: hot_folders.big ({indigo / 'big'}) is inside hot_folders.indigo: a printer that looks into "
        f"subfolders of {indigo} prints big's jobs too"
    ) in notes
    assert any(n.startswith(f"note: hot_folders.large.staging ({indigo}) is in hot folder indigo:") for n in notes)
    assert (
        "note: watch.ignore ['*.PDF', '.*'] matches artwork.pdf: files named like these are never taken from the "
        "inbox (no order would be)"
    ) in notes
    assert "note: route 2 has no 'when' (or an empty one) and takes every job: route 3 after it is never used" in notes
    plain = run_cli(write_config(tmp_path / "plain"), "check-config")
    assert not [line for line in plain.stderr.splitlines() if "note:" in line], plain.stderr


@pytest.mark.parametrize(
    ("command", "code", "says"),
    [
        (["jobs"], 0, "2-1"),
        (["jobs", "--json"], 0, '"job_id": "2-1"'),
        (["show", "2-1"], 0, "Job:       2-1"),
        (["show", "2-1", "--json"], 0, '"job_id": "2-1"'),
        (["health", "--json"], 1, '"blocked": 1'),  # (no daemon: exit 1, the ledger's counts)
    ],
)
def test_the_reading_commands_do_not_load_the_daemon(tmp_path: Path, command: list[str], code: int, says: str) -> None:
    """`jobs`, `show` and `health` are what operators, scripts and monitoring run most (a probe every
    few seconds, a wait for a status): they import neither the daemon (engine, watcher, scheduler)
    nor the logging library, which was half of their time."""
    config = _ledger_with_three_jobs(tmp_path)
    script = (
        "import sys\n"
        "from spo_hotfolder.cli import main\n"
        f"code = main({['-c', str(config), *command]!r})\n"
        "sys.stdout.flush()\n"
        "heavy = sorted(m for m in ('spo_hotfolder.engine', 'spo_hotfolder.service', 'spo_hotfolder.watcher',\n"
        "    'watchdog', 'apscheduler', 'structlog', 'pypdf') if m in sys.modules)\n"
        "print('EXIT', code, 'LOADED', ','.join(heavy), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.stderr.strip().splitlines()[-1] == f"EXIT {code} LOADED", done.stderr
    assert says in done.stdout


def test_check_config_notes_a_hot_folder_this_user_may_not_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(audit, sysadmin F8) check-config run as the service's user said nothing of a hot folder it
    may not write; every delivery then failed "no permission" after all its attempts."""
    from spo_hotfolder import commands
    from spo_hotfolder.config import Seen, load_config
    from tests.daemon import write_config

    config = load_config(write_config(tmp_path))
    monkeypatch.setattr(commands, "this_user", lambda: "spo-hotfolder, uid 999")
    kinds = ("missing", "unreadable", "unwritable")

    def look(writable: bool) -> Callable[[Path], Seen]:
        return lambda path: Seen("dir", 1, real=str(path), writable=writable)

    assert len(config.hot_folders) > 1
    assert commands._hot_folder_notes(config, look(False), 10, kinds) == [
        f"note: hot folder {hot.name} ({hot.path}) is not writable by this user (spo-hotfolder, uid 999): the "
        "daemon, run as this user, could deliver nothing there"
        for hot in config.hot_folders.values()
    ]
    assert commands._hot_folder_notes(config, look(True), 10, kinds) == []
    assert commands._hot_folder_notes(config, look(False), 10, ("missing",)) == []


def test_check_config_and_init_note_a_hot_folder_whose_share_is_known_unmounted(tmp_path: Path) -> None:
    """Review GZ 3: a hot folder seen as a share's mount point (state/mount-points.txt), now a folder
    of the local disk: every delivery there is refused "not mounted", and check-config and init
    said nothing of it."""
    from spo_hotfolder.config import load_config
    from tests.daemon import run_cli, write_config

    path = write_config(tmp_path)
    assert run_cli(path, "init").returncode == 0
    config = load_config(path)
    hot = next(iter(config.hot_folders.values()))
    assert hot.path.is_dir()
    (config.paths.state / "mount-points.txt").write_text(f"# seen mounted\n{hot.path}\n")
    for command in ("check-config", "init"):
        result = run_cli(path, command)
        assert result.returncode == 0, result.stderr
        assert (
            f"note: hot folder {hot.name} ({hot.path}) is not mounted: it was seen as the mount point of a share, "
            "and is now a folder of the local disk, where the printer would never see a file; mount the share "
            "again (the daemon delivers nothing there until then)"
        ) in result.stderr.splitlines(), (command, result.stderr)
    (config.paths.state / "mount-points.txt").write_text("# meant to be local now\n")
    assert "not mounted" not in run_cli(path, "check-config").stderr


def test_a_full_disk_is_said_so_by_the_cli() -> None:
    """Audit U: `release` on a full spool disk said only "error: No space left on device"."""
    import errno

    from spo_hotfolder.cli import _os_error_text

    text = _os_error_text(OSError(errno.ENOSPC, "No space left on device"))
    assert text == (
        "No space left on device (a disk is full, most likely the spool's, where commands are handed to the "
        "daemon: free some space, then give the command again)"
    )


def test_a_ledger_on_a_full_disk_is_not_called_damaged(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    """Audit U2 2: a CLI command on a full spool disk said the ledger was "damaged, empty or not a
    ledger: stop the daemon and put back a copy from a backup": the ledger was fine."""
    import sqlite3

    from spo_hotfolder import cli, commands

    def full(args: Any) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    def damaged(args: Any) -> int:
        raise sqlite3.DatabaseError("file is not a database")

    monkeypatch.setitem(commands.COMMANDS, "jobs", full)
    assert cli.main(["-c", "/nonexistent.yaml", "jobs"]) == 1
    said = capsys.readouterr().err
    assert "cannot be used now: database or disk is full: free some space on the spool's disk" in said, said
    assert "backup" not in said
    monkeypatch.setitem(commands.COMMANDS, "jobs", damaged)
    assert cli.main(["-c", "/nonexistent.yaml", "jobs"]) == 1
    assert "it is damaged, empty or not a ledger" in capsys.readouterr().err


def test_show_of_a_job_that_moved_just_after_its_read_reads_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`show` reads the ledger, then looks where the job's folder is. The daemon commits a job's new
    status and folder before it moves the folder: a read just before that commit found the folder
    moved (quarantine/) and the history of a moment before (no OutputCreated; e2e, loaded machine).
    Found moved, the job is read again."""
    import dataclasses

    from spo_hotfolder import commands
    from spo_hotfolder.cli import main

    config = _ledger_with_three_jobs(tmp_path)
    ledger = Ledger(tmp_path / "root" / "state" / "ledger.sqlite3")
    ledger.add_status("2-1", JobStatus.OutputCreated, "system", "o.pdf (1 page)", T0)
    ledger.close()
    (tmp_path / "root" / "quarantine" / "2-1").mkdir(parents=True)
    real = Ledger.get_job
    reads: list[str] = []

    def stale_first(ledger: Ledger, job_id: str, *, history: bool = True) -> Any:
        job = real(ledger, job_id, history=history)
        reads.append(job_id)
        if len(reads) > 1 or job is None:
            return job
        # as read just before the daemon's commit: still in work/, its OutputCreated not there yet
        return dataclasses.replace(job, folder="work/2-1", stage=Stage.PROCESS, history=job.history[:-1])

    monkeypatch.setattr(commands.Ledger, "get_job", stale_first)
    monkeypatch.setattr(commands.time, "sleep", lambda seconds: None)
    assert main(["-c", str(config), "show", "2-1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["folder"] == "quarantine/2-1" and shown["status"] == "OutputCreated"
    assert [e["status"] for e in shown["history"]][-1] == "OutputCreated" and len(reads) == 2


def test_the_version_said_is_the_installed_ones() -> None:
    """Audit AE: `--version` said 0.1.0 where pip had installed 0.1.1 (the version was written in
    pyproject.toml and in the package): pyproject.toml takes the package's."""
    import importlib.metadata

    from spo_hotfolder import __version__

    assert importlib.metadata.version("spo-hotfolder") == __version__
    shown = subprocess.run([sys.executable, "-m", "spo_hotfolder.cli", "--version"], capture_output=True, text=True)
    assert shown.stdout.strip() == f"spo-hotfolder {__version__}"


def test_a_hot_folder_that_is_a_dangling_link_is_said_as_such_by_check_config(tmp_path: Path) -> None:
    """Audit AR D7: check-config and init said "does not exist" of a hot folder that is a symbolic
    link to a folder that is gone (`ls -l` shows the link); only a delivery's history said it."""
    from tests.daemon import run_cli, write_config

    config = write_config(tmp_path, hot_folders={"indigo": {"path": str(tmp_path / "link")}})
    (tmp_path / "link").rmdir()  # (made by write_config)
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    for command in ("check-config", "init"):
        result = run_cli(config, command)
        assert result.returncode == 0, result.stderr
        assert (
            f"note: hot folder indigo ({tmp_path / 'link'}) is a symbolic link to {tmp_path / 'gone'}, which does not "
            "exist; the daemon never creates it"
        ) in result.stderr, result.stderr


def test_a_missing_or_unreadable_config_is_not_called_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit AW: `jobs` with a config path that does not exist said "invalid config: ...: the config
    file does not exist"; a config with an error is still "invalid config"."""
    from spo_hotfolder import cli

    missing = tmp_path / "nonexist.yaml"
    assert cli.main(["-c", str(missing), "jobs"]) == 1
    assert capsys.readouterr().err == f"spo-hotfolder: error: {missing}: the config file does not exist\n"
    assert cli.main(["-c", str(tmp_path), "jobs"]) == 1
    assert capsys.readouterr().err == f"spo-hotfolder: error: {tmp_path}: is a folder, not a config file\n"
    # The default path, nothing given: how to give another is said (audit BB R4).
    monkeypatch.delenv("SPO_HOTFOLDER_CONFIG", raising=False)
    monkeypatch.setattr("spo_hotfolder.commands.DEFAULT_CONFIG", str(missing))
    assert cli.main(["jobs"]) == 1
    assert capsys.readouterr().err == (
        f"spo-hotfolder: error: {missing}: the config file does not exist (give the config with -c CONFIG, or in "
        "$SPO_HOTFOLDER_CONFIG)\n"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("paths: [\n")
    assert cli.main(["-c", str(bad), "jobs"]) == 1
    assert capsys.readouterr().err.startswith(f"spo-hotfolder: error: invalid config: {bad}:")


def test_an_empty_no_color_does_not_turn_colours_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit AW: NO_COLOR set to an empty string turned the colours off; no-color.org: only a
    NO_COLOR that is not empty does."""
    from spo_hotfolder import commands

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("NO_COLOR", "")
    assert commands._use_color()
    monkeypatch.setenv("NO_COLOR", "1")
    assert not commands._use_color()
    monkeypatch.delenv("NO_COLOR")
    assert commands._use_color()
    monkeypatch.setenv("TERM", "dumb")
    assert not commands._use_color()


def test_jobs_status_given_twice_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """Audit AW: the last of two --status counted, silently."""
    from spo_hotfolder import cli

    with pytest.raises(SystemExit) as info:
        cli.main(["-c", "/nonexistent.yaml", "jobs", "--status", "InHotFolder", "--status", "Rejected"])
    assert info.value.code == 2
    assert "--status given twice: give one" in capsys.readouterr().err


def test_a_job_id_that_is_not_utf8_is_a_one_line_error(tmp_path: Path) -> None:
    """White-box audit DK 2: `show $'N1-\\xff'` printed a traceback, `release` a "daemon.crashed"
    log line: SQLite cannot look up text that is not UTF-8."""
    config = _ledger_with_three_jobs(tmp_path)
    for command in (["show"], ["show", "--json"], ["reject"]):
        result = subprocess.run(
            [sys.executable, "-m", "spo_hotfolder.cli", "-c", str(config), *command, b"N1-\xff"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1, result.stderr
        assert result.stderr == (
            "spo-hotfolder: error: no job 'N1-ÿ' in the ledger (its id is not UTF-8 text, as every job id is)\n"
        )


def test_health_names_the_folders_the_daemon_may_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Audit BH 6: an order folder uploaded with umask 077 by another account waited in inbox/ for
    ever, said once in the log; `health` said "ok ... 0 jobs". Still ok (the daemon is well), and
    the line names them."""
    import argparse

    from spo_hotfolder import commands, health

    report = {
        "ok": True,
        "pid": 7,
        "watcher": "native",
        "statuses": {},
        "age_seconds": 1.2,
        "unreadable_folders": ["inbox/7100"],
        "unreadable_folders_count": 1,
    }
    monkeypatch.setattr(health, "health_report", lambda config: report)
    monkeypatch.setattr(commands, "config_or_spool", lambda args, logs: (None, None))
    assert commands.cmd_health(argparse.Namespace(json=False)) == 0
    assert capsys.readouterr().out == (
        "ok: daemon pid 7, watcher native, 0 jobs, 0 blocked, 0 failed, 1 folder the daemon may not read "
        "(inbox/7100: see the log's folder.unreadable) (as of 1 s ago)\n"
    )
