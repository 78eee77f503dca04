"""The ``spo-hotfolder`` command: argument handling, output and exit codes, nothing more (the
commands are in ``commands``).

Exit codes: 0 success, 1 a clear one-line error on stderr, 2 usage error.

This module imports little: for ``run``, SIGTERM, SIGINT and SIGHUP are caught before anything
else, even the parsing of the arguments (``earlysignals``: one that comes while the daemon starts is
acted on once it has started, never a silent death or a traceback); then the PDF worker's fork
server is started before the commands, the config and the daemon are imported (``prestart``), so
that its imports run on the other core meanwhile.
"""

from __future__ import annotations

import sys

if "run" in sys.argv[1:] and sys.argv[0].rsplit("/", 1)[-1] in ("spo-hotfolder", "cli.py"):
    # `spo-hotfolder run` (or `python -m spo_hotfolder.cli run`): its signals are caught before
    # this module's other imports (~20 ms); main() decides, once the arguments are parsed.
    from spo_hotfolder import earlysignals as _earlysignals

    _earlysignals.catch()

import argparse  # (after the signals of `run` are caught)
import contextlib
import errno
import functools
import os
import re
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from spo_hotfolder import __version__

DEFAULT_CONFIG = "/etc/spo-hotfolder/spo-hotfolder.yaml"
PROG = "spo-hotfolder"


def _standard_streams() -> None:
    """File descriptors 0-2 closed at start (`run >&-`, a careless init script; audit Y 2): /dev/null
    is opened on them, so that no file the daemon opens (its ledger) gets one of their numbers and
    a stray write to it; Python's stream of a closed stdout is then stderr's (the daemon's log goes
    there), of a closed stderr stdout's."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if sys.stdout is None:
        sys.stdout = sys.stderr
    if sys.stderr is None:
        sys.stderr = sys.stdout
    if sys.stdout is None:
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the process's life


def main(argv: Sequence[str] | None = None) -> int:
    """The ``spo-hotfolder`` command. Once ``run`` has decided how it ends (a graceful stop, a
    refusal to start, a crash), a SIGTERM, SIGINT or SIGHUP must not make a death by signal (129,
    130, 143) of its exit: the interpreter sets the handlers back to the default as it exits
    (audit BE 1: a supervisor's second SIGTERM after the stop; audit CB: one after a refusal)."""
    try:
        return _main(argv)
    finally:
        handler = signal.getsignal(signal.SIGTERM)
        if callable(handler):  # (run's own handlers; another command's SIGTERM is the default)
            from spo_hotfolder import earlysignals

            earlysignals.ignore()


def _main(argv: Sequence[str] | None) -> int:
    _standard_streams()
    argv = sys.argv[1:] if argv is None else list(argv)
    caught = "run" in argv  # maybe `run`: its signals are caught before the parser is even built (~10 ms)
    if caught:
        from spo_hotfolder import earlysignals

        earlysignals.catch()
    parser = build_parser()
    _Parser.daemon_output = caught and not sys.stderr.isatty()
    plain_stdout = sys.stdout
    sys.stdout = _GuardedStdout(plain_stdout)  # argparse ignores a failed write of --help, we do not
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # said with the command's own usage (argparse gives the top level's: audit D)
            where = _subparser(parser, args.command) if args.command else parser
            where.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as done:
        if done.code in (0, None):  # --help, --version
            return _flush_printed()
        raise
    except _OutputError as exc:
        _discard_stdout()
        print(f"{PROG}: error: cannot write the output: {exc.error.strerror or exc.error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `--help | head -1`: not an error
        _discard_stdout()
        return 0
    if args.command == "jobs" and args.released and args.status == "Blocked":
        # --status Blocked is --blocked (SPEC 3), which --released excludes
        _subparser(parser, "jobs").error(
            "argument --released: not allowed with --status Blocked (the same as --blocked)"
        )
    if caught and args.command != "run":  # "run" was an argument of another command
        earlysignals.release()
    if args.command is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: a command is required", file=sys.stderr)
        return 2
    if args.command == "run":
        from spo_hotfolder.prestart import start_fork_server

        start_fork_server()
    from sqlite3 import DatabaseError  # (ledger imports it anyway; never before the fork server)

    from spo_hotfolder import commands
    from spo_hotfolder.config import ConfigError
    from spo_hotfolder.ledger import LedgerError, changed_while_read, is_disk_full

    if args.command == "run":
        sys.stdout = plain_stdout  # the daemon's log handles its own write errors
    try:
        code = commands.COMMANDS[args.command](args)
        if args.command != "run":
            sys.stdout.flush()  # a write that fails (a full disk, a closed pipe) fails here, said below
        return code
    except commands.CliError as exc:
        if args.command == "run" and not sys.stderr.isatty():
            if getattr(exc.__cause__, "logged", False) and (sys.stdout is sys.stderr or _one_stream()):
                # The daemon.refused log line said it on stdout, where stderr goes too (journald under
                # the unit, a shell's 2>&1), or on stderr itself (stdout closed, `run >&-`): once is
                # enough (audits 12-05 G 2, BB 1).
                return 1
            # A daemon's output without a terminal is JSON lines only (log shippers, journald).
            # The same line as the log's (a time stamp, the logger, the reason), with the one-line
            # error a person reads (helper EX 2: no time stamp, no logger, no reason).
            from spo_hotfolder.logsetup import error_line

            refused = f"{PROG}: error: {exc}"
            print(
                error_line("daemon.refused", refused, logger="spo_hotfolder.service", reason=str(exc)), file=sys.stderr
            )
        else:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        if args.command == "check-config":
            for line in exc.errors:  # every problem, each as file:line: key.path: message
                print(line, file=sys.stderr)
        else:
            hint = ""
            if exc.unreadable and not getattr(args, "config", None) and not os.environ.get("SPO_HOTFOLDER_CONFIG"):
                # (audit BB R4: the default path, with nothing said of how to give another)
                hint = " (give the config with -c CONFIG, or in $SPO_HOTFOLDER_CONFIG)"
            print(f"{PROG}: error: {exc.one_line()}{hint}", file=sys.stderr)
        return 1
    except LedgerError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except DatabaseError as exc:
        # (audit D 1: `jobs` on a damaged or emptied ledger ended in a traceback, "daemon.crashed")
        if is_disk_full(exc):
            # Not damage (audit U2 2: "put back a copy from a backup" of a ledger that was fine).
            print(
                f"{PROG}: error: the ledger (state/ledger.sqlite3 under paths.root) cannot be used now: {exc}: free "
                "some space on the spool's disk, then give the command again (a command the daemon took in before "
                f"is done or refused by itself: `{PROG} show JOB` says which)",
                file=sys.stderr,
            )
            return 1
        if changed_while_read():
            # (a daemon started while this read the ledger as it was: not damage, review ES 3)
            print(
                f"{PROG}: error: the ledger (state/ledger.sqlite3 under paths.root) changed while this command read "
                f"it ({exc}): a daemon started meanwhile; give the command again",
                file=sys.stderr,
            )
            return 1
        print(
            f"{PROG}: error: the ledger (state/ledger.sqlite3 under paths.root) cannot be read: {exc}; it is damaged, "
            "empty or not a ledger: stop the daemon and put back a copy from a backup (remove its -wal and -shm files "
            "first: docs/service.md, Backups and restores)",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`jobs | head`): not an error. What is left in stdout's buffer goes
        # nowhere, so that flushing it at exit does not raise (and print) the same error again.
        _discard_stdout()
        return 0
    except _OutputError as exc:
        # `jobs > /dev/full`, a file on a full disk: one line, not a traceback (SPEC 3).
        _discard_stdout()
        why = exc.error.strerror or exc.error
        if args.command in ("release", "reject", "replace", "retry"):
            # The answer is printed once the command was given (and mostly done): exit 1 would make
            # a script give it again ("already released").
            print(
                f"{PROG}: {args.command} given, but its answer could not be written ({why}); "
                f"`{PROG} show {args.job}` says what became of it",
                file=sys.stderr,
            )
            return 0
        print(f"{PROG}: error: cannot write the output: {why}", file=sys.stderr)
        return 1
    except OSError as exc:
        if args.command == "run":
            raise
        # A file or folder this user may not use (an operator not in the daemon's group yet, or
        # not logged in again since being added; state/commands/ made by root): one line, never
        # a traceback (SPEC 3; audit BT 2).
        print(f"{PROG}: error: {_os_error_text(exc)}", file=sys.stderr)
        return 1


def _one_stream() -> bool:
    """Whether stdout and stderr are one file, socket or pipe (the journal's stream under the unit,
    whose stderr inherits stdout; a shell's ``2>&1``)."""
    try:
        out, err = os.fstat(1), os.fstat(2)
    except OSError:
        return False
    return (out.st_dev, out.st_ino) == (err.st_dev, err.st_ino)


def _os_error_text(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    text = f"{where}{exc.strerror or exc}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        # (audit U: "error: No space left on device", which disk left to guess)
        text += " (a disk is full, most likely the spool's, where commands are handed to the daemon: free some space"
        text += ", then give the command again)"
    if isinstance(exc, PermissionError):
        from spo_hotfolder.fsutil import user_name
        from spo_hotfolder.ledger import not_writable_why

        # A file of state/ made by root, say (audit BH 3: an operator in the group was told to join it).
        why = not_writable_why(Path(os.fsdecode(exc.filename))) if exc.filename and os.path.isfile(exc.filename) else ""
        if why:
            return text + why
        text += (
            f" (this user, {user_name(os.geteuid())}, may not use it: operators must be in the daemon's group, and "
            "log in again after being added to it)"
        )
    return text


def _flush_printed() -> int:
    """Exit code of ``--help`` / ``--version``: 0 once their text is written; 1 with one line on
    stderr when it cannot be (``--help > /dev/full``); 0 for a reader gone (``--help | head -1``)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _discard_stdout()
    except _OutputError as exc:
        _discard_stdout()
        print(f"{PROG}: error: cannot write the output: {exc.error.strerror or exc.error}", file=sys.stderr)
        return 1
    return 0


def _discard_stdout() -> None:
    """What is left in stdout's buffer goes nowhere: flushing it at exit must not fail again."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


class _OutputError(Exception):
    """Writing a command's output (stdout) failed; ``error`` says why."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class _GuardedStdout:
    """stdout for the commands other than ``run``: a failed write (not a closed pipe, which is
    no error) becomes an ``_OutputError``, told apart from the command's own file errors."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _OutputError(exc) from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _OutputError(exc) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _status_name(text: str) -> str:
    """``--status``: an SPO status name (any case); a wrong one is a usage error (exit 2)."""
    from spo_hotfolder.status import JobStatus

    try:
        return JobStatus.parse(text).value
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _operator(text: str) -> str:
    """``--by``: an operator's name; "system" (the daemon's own in the history), an empty name and
    one longer than a drop file's name line may be are usage errors (exit 2), not cut or taken."""
    from spo_hotfolder.operator import name_problem

    problem = name_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def _fingerprint(text: str) -> str:
    """``release --artwork``: the fingerprint of the artwork approved (STATUS.txt's "Artwork
    fingerprint", `show`'s "Fingerprint"), or its start; anything else is a usage error."""
    from spo_hotfolder.operator import is_fingerprint

    given = text.strip()
    if not is_fingerprint(given):
        raise argparse.ArgumentTypeError(
            f"{text!r} is no artwork fingerprint: give the 4 to 64 hex digits STATUS.txt shows as 'Artwork fingerprint'"
        )
    return given.lower()


class _Once(argparse.Action):
    """An option given once: a second one is a usage error, not silently the one that counts
    (audit AW: `jobs --status InHotFolder --status Rejected` listed the Rejected jobs only)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if getattr(namespace, self.dest, None) is not None:
            parser.error(f"{option_string} given twice: give one")
        setattr(namespace, self.dest, values)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error of ``run`` without a terminal is one JSON line, as everything
    the daemon writes there is (journald, log shippers); exit code 2 all the same."""

    daemon_output = False

    def error(self, message: str) -> NoReturn:
        message += _dash_hint(self.prog, sys.argv[1:])
        if _Parser.daemon_output:
            from spo_hotfolder.logsetup import error_line

            print(error_line("daemon.usage_error", f"{self.prog}: error: {message}"), file=sys.stderr)
            sys.exit(2)
        super().error(message)


def _dash_hint(prog: str, words: list[str]) -> str:
    """For a job id that begins with '-' (order "-X" gives job "-X-1"), which argparse reads as an
    option: how to write it, beside argparse's "the following arguments are required: job"."""
    for word in words:
        if word == "--":
            return ""
        if len(word) > 2 and word[0] == "-" and word[1] not in "-ch" and _JOB_ID_LIKE.fullmatch(word):
            return f" (a job id that begins with '-' goes after '--': {prog} -- {word})"
    return ""


_JOB_ID_LIKE = re.compile(r"[A-Za-z0-9._-]{1,80}")


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:  # argparse keeps its subparsers only there
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]  # type: ignore[no-any-return]
    return parser


def _config_argument(text: str) -> str:
    """``-c ""`` (a variable that was not set, in a script) is a usage error, not the default config."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path: name the config file (or leave -c out for the default)")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Print-server hot folder daemon: order manifests in, print-ready PDFs out.",
    )
    config_help = f"the config file (default: $SPO_HOTFOLDER_CONFIG, then {DEFAULT_CONFIG})"
    parser.add_argument("-c", "--config", type=_config_argument, help=config_help)
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    # `-c` is taken after the command too (`spo-hotfolder jobs -c FILE`), as sysadmins write it.
    common = _Parser(add_help=False)
    common.add_argument("-c", "--config", type=_config_argument, default=argparse.SUPPRESS, help=config_help)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add = functools.partial(sub.add_parser, parents=[common])

    p = add("run", help="run the daemon in the foreground until SIGTERM/SIGINT")
    p = add("check-config", help="validate the config and print a summary")
    p = add("init", help="create the folder layout for the config (idempotent)")

    p = add("jobs", help="list jobs, one line each")
    p.add_argument(
        "--status",
        type=_status_name,
        action=_Once,
        help="only jobs with this current status (Blocked: jobs whose block is active)",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--blocked",
        action="store_true",
        help="only jobs whose Blocked status is active, whatever their current status",
    )
    group.add_argument(
        "--released",
        action="store_true",
        help="only jobs whose Blocked status was removed (and that are not blocked again)",
    )
    p.add_argument("--json", action="store_true", help="a JSON list (stable format, see README)")

    p = add("show", help="one job with its whole status history")
    p.add_argument("job")
    p.add_argument("--json", action="store_true", help="one JSON object (stable format, see README)")

    p = add("release", help="remove a job's Blocked status (like dropping RELEASE)")
    p.add_argument("job")
    p.add_argument("--by", type=_operator, help="who releases it (default: $USER)")
    p.add_argument("--note", default="", help="a note for the status history")
    p.add_argument(
        "--artwork",
        type=_fingerprint,
        metavar="FINGERPRINT",
        help="approve exactly this artwork (its fingerprint, shown in STATUS.txt and by `show`): refused if the "
        "job's artwork is other now (like a line 'artwork: FINGERPRINT' in RELEASE)",
    )
    p.set_defaults(action="RELEASE")

    p = add("reject", help="reject a blocked or failed job (like dropping REJECT)")
    p.add_argument("job")
    p.add_argument("--by", type=_operator, help="who rejects it (default: $USER)")
    p.add_argument("--reason", dest="note", default="", help="why, for the status history")
    p.set_defaults(action="REJECT")

    p = add("replace", help="replacement artwork (like dropping the PDF into replace/)")
    p.add_argument("job")
    p.add_argument("file", type=Path)
    p.add_argument("--by", type=_operator, help="who replaces it (default: $USER)")
    p.set_defaults(action="REPLACE", note="")

    p = add("retry", help="try a failed job again (like dropping RETRY)")
    p.add_argument("job")
    p.add_argument("--by", type=_operator, help="who asks (default: $USER)")
    p.add_argument("--note", default="", help="a note for the status history")
    p.set_defaults(action="RETRY")

    p = add("route", help="dry run: where each job of a manifest would go, and why")
    p.add_argument("manifest", type=Path)
    p.add_argument("--json", action="store_true", help="a JSON list, one object per job (see README)")

    p = add("health", help="exit 0 when the daemon runs and its watcher is alive")
    p.add_argument("--json", action="store_true", help="counts per status for scripts")
    return parser


if __name__ == "__main__":
    sys.exit(main())
