"""``python -m bench [--quick] [--scenarios 1,3,5] [--rounds N] [--jobs N] [--out PATH]``."""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from bench.harness import ROOT, Reaper, Trash, now
from bench.scenarios import SCENARIOS, Context


def machine() -> dict[str, Any]:
    def first(path: str, key: str) -> str:
        try:
            with open(path) as fh:
                for line in fh:
                    if line.startswith(key):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "?"

    def run(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False).stdout.strip()
        except OSError:
            return "?"

    disk = run("df", "-hT", "/tmp").splitlines()[-1:] or ["?"]
    return {
        "nproc": os.cpu_count(),
        "cpu": first("/proc/cpuinfo", "model name"),
        "mem_total": first("/proc/meminfo", "MemTotal"),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "disk_tmp": " ".join(disk[0].split()),
        "inotify_max_queued_events": Path("/proc/sys/fs/inotify/max_queued_events").read_text().strip(),
        "inotifywait": run("inotifywait", "--help").splitlines()[0] if run("inotifywait", "--help") else "?",
        "git": run("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer rounds, smaller sizes: a ~1 minute smoke run")
    p.add_argument("--scenarios", default="", help="comma-separated scenario numbers (default: all)")
    p.add_argument("--rounds", type=int, default=None, help="rounds per scenario (default 5; quick: 2)")
    p.add_argument("--jobs", type=int, default=None, help="job count for the stream/burst/backlog scenarios")
    p.add_argument("--out", type=Path, default=None, help="the JSON results file (default bench/results/<time>.json)")
    p.add_argument("--tmp", type=Path, default=None, help="folder for the temp folders (default: $TMPDIR)")
    p.add_argument("--keep", action="store_true", help="keep the temp folders")
    args = p.parse_args(argv)
    if args.rounds is None:
        args.rounds = 2 if args.quick else 5
    if args.rounds < 1:
        p.error("--rounds must be >= 1")
    try:
        args.selected = [int(s) for s in args.scenarios.split(",") if s.strip()] or sorted(SCENARIOS)
    except ValueError:
        p.error("--scenarios takes numbers, e.g. 1,3,5")
    unknown = [s for s in args.selected if s not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario(s): {unknown}; known: {sorted(SCENARIOS)}")
    return args


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _ratio_text(ratio: float | None) -> str:
    """Three decimals below 100x: a ratio of 2.0035 against a target of 2x reads "2.003x" and not
    "2.00x" beside a NO (the full run of 2026-12-04 20:46)."""
    if ratio is None:
        return "-"
    return f"{ratio:.3f}x" if ratio < 100 else f"{ratio:.1f}x"


def table(results: dict[str, Any]) -> str:
    rows = [("#", "figure", "unit", "daemon med [min..max]", "baseline med", "ratio", "target", "met")]
    for key, res in results["scenarios"].items():
        if "error" in res:
            rows.append((key, f"ERROR: {res['error'][:60]}", "", "", "", "", "", "no"))
            continue
        for m in res["metrics"]:
            d, b = m["daemon"], m["baseline"]
            drange = f"{_fmt(d['median'])} [{_fmt(d['min'])}..{_fmt(d['max'])}]" if d else "-"
            met = {True: "yes", False: "NO", None: ""}[m["met"]]
            ratio = _ratio_text(m["ratio"])
            rows.append((key, m["name"], m["unit"], drange, _fmt(b["median"]) if b else "-", ratio, m["target"], met))
    widths = [min(max(len(str(r[i])) for r in rows), 60) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(str(c)[:60].ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Byte-compiled as `pip install` leaves it (PYTHONDONTWRITEBYTECODE=1 in some shells would
    # otherwise make every daemon start compile the package from source, ~0.1 s).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "spo_hotfolder")], check=False)
    label = "QUICK (smaller sizes, fewer rounds: a smoke run, not the figures)" if args.quick else "FULL"
    started = datetime.now(UTC)
    out = (
        args.out
        or ROOT / "bench" / "results" / f"{started.strftime('%Y%m%dT%H%M%SZ')}{'-quick' if args.quick else ''}.json"
    )
    reaper = Reaper()

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)

    def log(msg: str) -> None:
        print(msg, flush=True)

    ctx = Context(
        reaper=reaper,
        quick=args.quick,
        rounds=args.rounds,
        jobs=args.jobs,
        log=log,
        tmp_base=args.tmp,
        keep=args.keep,
        trash=Trash(args.tmp),
    )
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "label": label,
        "started_at": started.isoformat(),
        "rounds": args.rounds,
        "machine": machine(),
        "method": {
            "clock": "time.perf_counter (CLOCK_MONOTONIC), one process",
            "t0": "just before the writer renames (or closes) the file that completes the job: the manifest for "
            "the daemon, the PDF for the baselines (they ignore manifests); both sides write both files",
            "t1": "a raw inotify watch (IN_MOVED_TO|IN_CLOSE_WRITE) on the hot folder, read by a thread in the bench",
            "daemon_logging": "logging.level warning (log output would skew the figures)",
            "ratio": "median of the per-round ratios daemon/baseline; rounds interleave daemon and baseline",
        },
        "scenarios": {},
    }
    interrupted = False
    log(f"spo-hotfolder bench: {label}; scenarios {args.selected}; rounds {args.rounds}")
    try:
        for number in args.selected:
            title, fn = SCENARIOS[number]
            log(f"[{number}] {title}")
            t = now()
            try:
                res = fn(ctx)
            except KeyboardInterrupt:
                raise
            except Exception as exc:
                res = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
                log(f"  ERROR {res['error']}")
            finally:
                reaper.close()
            res["title"] = title
            res["seconds"] = round(now() - t, 1)
            results["scenarios"][str(number)] = res
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: stopping every process the bench started")
    finally:
        reaper.close()
        if ctx.trash is not None:
            ctx.trash.empty()
    results["finished_at"] = datetime.now(UTC).isoformat()
    results["interrupted"] = interrupted
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print()
    print(table(results))
    print(f"\nresults: {out}")
    time.sleep(0)
    return 130 if interrupted else 0
