"""`spo-hotfolder run` catches SIGTERM, SIGINT and SIGHUP first thing; any other command does not."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap


def run_probe(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=30, check=False
    )


def test_what_came_is_kept_for_the_daemon_and_a_sighup_before_the_config_read_is_only_noted() -> None:
    result = run_probe(
        """
        import signal
        from spo_hotfolder import earlysignals
        earlysignals.catch()
        signal.raise_signal(signal.SIGHUP)
        print(earlysignals.forget_reload())  # came before the config read: True, and forgotten
        signal.raise_signal(signal.SIGHUP)
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGTERM)
        came = earlysignals.take()
        print(came.stop == signal.SIGINT, came.reload)  # the first stop signal; a reload once started
        came = earlysignals.take()
        print(came.stop, came.reload)  # taken: nothing left
        """
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.split("\n") == ["True", "True True", "None False", ""]


def test_another_command_gets_the_usual_handling_back_and_what_came_meanwhile() -> None:
    # `spo-hotfolder show run`: "run" is a job id; cli caught the signals before it knew.
    result = run_probe(
        """
        import signal
        from spo_hotfolder import earlysignals
        earlysignals.catch()
        signal.raise_signal(signal.SIGTERM)
        print("still here", flush=True)
        earlysignals.release()  # the SIGTERM that came now does what it would have done
        print("not reached")
        """
    )
    assert result.returncode == -signal.SIGTERM
    assert result.stdout == "still here\n"


def test_the_command_line_catches_them_for_run_only() -> None:
    result = run_probe(
        """
        import signal, sys
        from spo_hotfolder import cli, commands, prestart
        commands.COMMANDS["run"] = commands.COMMANDS["show"] = lambda args: 0  # the parsing only
        prestart.start_fork_server = lambda: None
        caught = lambda: [signal.getsignal(s) is not signal.SIG_DFL for s in (signal.SIGTERM, signal.SIGHUP)]
        cli.main(["-c", "x.yaml", "show", "run"])
        print(caught(), signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        cli.main(["-c", "x.yaml", "run"])
        print(caught())
        """
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.split("\n") == ["[False, False] True", "[True, True]", ""]
