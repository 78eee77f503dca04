"""`spo-hotfolder run` starts the PDF worker's fork server before its own imports; cli stays light."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

PROBE = textwrap.dedent(
    """
    import json, os, sys, time
    from spo_hotfolder.prestart import start_fork_server
    start_fork_server()
    children = []
    deadline = time.monotonic() + 10
    while not children and time.monotonic() < deadline:
        for task in os.listdir(f"/proc/{os.getpid()}/task"):
            with open(f"/proc/{os.getpid()}/task/{task}/children") as fh:
                children += fh.read().split()
        time.sleep(0.01)
    cmdlines = []
    for pid in children:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdlines.append(fh.read().replace(b"\\0", b" ").decode())
    print(json.dumps({"pypdf": "pypdf" in sys.modules, "cmdlines": cmdlines}))
    """
)


def test_the_fork_server_runs_before_the_daemon_imports_pypdf() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=30, check=True)
    probe = json.loads(out.stdout)
    assert probe["pypdf"] is False  # the caller has not paid for pypdf...
    assert any("forkserver" in cmd and "spo_hotfolder.pdfwork" in cmd for cmd in probe["cmdlines"]), probe


def test_the_command_line_module_imports_nothing_heavy_before_it_knows_the_command() -> None:
    """`run` starts the fork server first thing in cli.main: the config, ledger and daemon modules
    (yaml, sqlite3, pypdf) must not be imported by cli itself, or they come before it."""
    probe = (
        "import json, sys, spo_hotfolder.cli; "
        "heavy = ('spo_hotfolder', 'yaml', 'sqlite3', 'pypdf'); "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(heavy))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=True)
    assert json.loads(out.stdout) == ["spo_hotfolder", "spo_hotfolder.cli"]


def test_every_command_the_parser_offers_has_its_implementation() -> None:
    """cli names the commands (argparse) and commands implements them: the two lists must agree."""
    import argparse

    from spo_hotfolder.cli import build_parser
    from spo_hotfolder.commands import COMMANDS

    subparsers = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(subparsers) == 1
    assert set(subparsers[0].choices) == set(COMMANDS)


def test_the_daemon_never_imports_the_pdf_library() -> None:
    """Only the PDF worker reads PDFs (the fork server preloads pypdf for it): the daemon's own
    modules, `run` and every command, must not import it (~0.17 s of CPU at each start, and its
    memory), nor the modules that use it."""
    probe = (
        "import json, sys, spo_hotfolder.service, spo_hotfolder.commands, spo_hotfolder.pdfwork; "
        "pdf = ('pypdf', 'spo_hotfolder.preflight', 'spo_hotfolder.output'); "
        "print(json.dumps(sorted(m for m in sys.modules if m in pdf or m.startswith('pypdf.'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=True)
    assert json.loads(out.stdout) == []
    from spo_hotfolder.prestart import PRELOAD

    assert {"spo_hotfolder.preflight", "spo_hotfolder.output"} <= set(PRELOAD)  # ...the worker's are warm


#: A module that takes 1.5 s to import, saying (a file in the fork server's working folder) that
#: its import has begun; and the wait for that, in the script that then sends the SIGINT. (A fixed
#: 0.8 s sent it before the fork server had got that far, its interpreter slow to start on a loaded
#: machine: a KeyboardInterrupt in a module before ours, which the tests are not about.)
SLOW_IMPORT = "import time\nopen('importing', 'w').close()\ntime.sleep(1.5)\n"
INTO_SLOW_IMPORT = (
    "import pathlib\n"
    "deadline = time.monotonic() + 30\n"
    "while not pathlib.Path('importing').exists() and time.monotonic() < deadline:\n"
    "    time.sleep(0.01)\n"
    "time.sleep(0.1)\n"  # into its second
)


def run_script(script: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``script`` in a Python of its own, with this checkout's package (in ``cwd``: the fork
    server finds a module written there, in its working folder)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=env,
        preexec_fn=_default_signals,  # (as from a terminal: not the "ignored" of `nohup` or a `&` job)
    )


def _default_signals() -> None:
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)


def test_a_ctrl_c_while_the_fork_server_imports_leaves_it_alone(tmp_path: Path) -> None:
    """Audit BG 1: a Ctrl-C (SIGINT to the whole process group) just after `run` started reached
    the fork server while it imported pypdf, before multiprocessing has it ignore SIGINT: a
    KeyboardInterrupt traceback on the daemon's stderr. PRELOAD's first module ignores it; here a
    module that takes a second to import stands for pypdf, and the SIGINT comes meanwhile."""
    from spo_hotfolder.prestart import PRELOAD

    assert PRELOAD[0] == "spo_hotfolder.forkserverfirst"
    (tmp_path / "slow_import.py").write_text(SLOW_IMPORT)
    script = (
        "import multiprocessing, os, signal, time\n"
        "from multiprocessing import forkserver\n"
        "from spo_hotfolder.prestart import PRELOAD\n"
        "multiprocessing.get_context('forkserver').set_forkserver_preload([PRELOAD[0], 'slow_import'])\n"
        "forkserver.ensure_running()\n"
        "pid = forkserver._forkserver._forkserver_pid\n"
        f"{INTO_SLOW_IMPORT}"
        "os.kill(pid, signal.SIGINT)\n"
        "time.sleep(1.5)\n"
        "print(open(f'/proc/{pid}/stat').read().split(')')[1].split()[0])\n"  # its state: not Z (exited)
    )
    result = run_script(script, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.strip() in ("S", "R"), result.stdout


def test_the_fork_server_starts_with_sigint_ignored(tmp_path: Path) -> None:
    """Audit BH 4: a Ctrl-C 0.1-0.25 s after `run` started reached the fork server (and the resource
    tracker) while their interpreters started, before any module of ours: KeyboardInterrupt
    tracebacks on stderr. They start with SIGINT ignored. Here no module of ours is preloaded at
    all, and the SIGINT comes while a slow one is imported."""
    (tmp_path / "slow_import.py").write_text(SLOW_IMPORT)
    script = (
        "import os, signal, time\n"
        # Python keeps SIGINT ignored when it was started so (a test run started with `&`)
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from multiprocessing import forkserver\n"
        "import spo_hotfolder.prestart as prestart\n"
        "prestart.PRELOAD[:] = ['slow_import']\n"
        "prestart.start_fork_server()\n"
        "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, 'the caller keeps its handler'\n"
        "pid = forkserver._forkserver._forkserver_pid\n"
        f"{INTO_SLOW_IMPORT}"
        "os.kill(pid, signal.SIGINT)\n"
        "time.sleep(1.5)\n"
        "print(open(f'/proc/{pid}/stat').read().split(')')[1].split()[0])\n"
    )
    result = run_script(script, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.strip() in ("S", "R"), result.stdout


def test_a_sigint_for_the_daemon_while_its_fork_server_starts_is_kept_for_it(tmp_path: Path) -> None:
    """Audit CA 1: SIGINT was ignored in the daemon while it started the fork server (so that the
    fork server would start ignoring it), and a `kill -INT` or Ctrl-C in those milliseconds was
    lost: the daemon started and ran on. It is blocked there instead, so it waits and is handled;
    the fork server, started with it blocked, ignores it and unblocks it (``forkserverfirst``)."""
    script = (
        "import json, os, signal, time\n"
        "got = []\n"
        "signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))\n"
        "from multiprocessing import forkserver\n"
        "real = forkserver.ensure_running\n"
        "def ensure_running():\n"
        "    os.kill(os.getpid(), signal.SIGINT)  # as the fork server starts\n"
        "    real()\n"
        "forkserver.ensure_running = ensure_running\n"
        "import spo_hotfolder.prestart as prestart\n"
        "prestart.start_fork_server()\n"
        "time.sleep(0.01)\n"
        "pid = forkserver._forkserver._forkserver_pid\n"
        "masks = {}\n"
        "deadline = time.monotonic() + 20\n"
        "while time.monotonic() < deadline:\n"
        "    lines = open(f'/proc/{pid}/status').read().splitlines()\n"
        "    status = dict(line.split(':\\t', 1) for line in lines if ':\\t' in line)\n"
        "    masks = {k: int(status[k], 16) & 2 for k in ('SigBlk', 'SigIgn')}\n"
        "    if masks == {'SigBlk': 0, 'SigIgn': 2}: break\n"
        "    time.sleep(0.02)\n"
        "print(json.dumps({'got': got, 'blocked_here': signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []),"
        " 'fork_server': masks}))\n"
    )
    result = run_script(script, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, ""), result
    probe = json.loads(result.stdout)
    assert probe["got"] == [2], probe  # the SIGINT reached the daemon's own handler
    assert probe["blocked_here"] is False, probe
    assert probe["fork_server"] == {"SigBlk": 0, "SigIgn": 2}, probe  # ignored there, not left blocked


def test_a_refused_start_ends_with_its_stop_signals_ignored(tmp_path: Path) -> None:
    """Audit CB: a daemon that refused to start (an invalid config) and got a SIGTERM, SIGINT or
    SIGHUP as it exited died by it (143, 130, 129) instead of exit 1: the interpreter sets its
    handlers back to the default as it exits. Once `run` has its exit, they are ignored."""
    config = tmp_path / "bad.yaml"
    config.write_text(f"paths: {{root: {tmp_path / 'root'}}}\nbogus: 1\n")
    script = (
        "import signal\n"
        "from spo_hotfolder import cli\n"
        f"code = cli.main(['-c', {str(config)!r}, 'run'])\n"
        "print(code, [signal.getsignal(s) == signal.SIG_IGN for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)])\n"
    )
    result = run_script(script)
    assert result.stdout.splitlines()[-1] == "1 [True, True, True]", result
    # Another command keeps Python's own handling of a Ctrl-C.
    other = script.replace("'run'", "'jobs'")
    result = run_script(other)
    assert result.stdout.splitlines()[-1] == "1 [False, False, False]", result
