"""The pipeline: intake, preflight, output, hold, delivery, operator actions, and crash recovery.

One engine thread does all the work, one step at a time, so a job is never handled twice at once.
Other threads only give it hints (the watcher: "this path changed"; the scheduler: "wake up").
Every change of status goes through ``_record`` (records.py), which writes the ledger, logs the event and
rewrites the job's STATUS.txt. Stages raise a few named exceptions; ``_run_job`` is the one place
where an unexpected exception becomes a failed, recoverable job instead of a dead daemon.

Order of writes (what a crash can interrupt, and how ``reconcile`` finishes it):
- a manifest: job folders and manifest copies, then one ledger transaction, then the inbox file
  is removed (an intake row tells a re-read manifest from a new one);
- a move between spool folders: the ledger's stage first, then the rename, then the folder column;
- a delivery: journal "intent", copy to the temp name + fsync, journal "written", rename, record.

The class ``Engine`` (core.py) is built from parts, one module each, read in a job's order:
scans.py (hints, rescans, stability), intake.py (manifests), artwork.py (files claimed and waited
for), timers.py (time-driven work), processing.py (the queue, the check, the output),
deliveries.py (the copy into a hot folder), records.py (job folders and statuses), actions.py
(operator actions), recovery.py (crash recovery), retention.py; base.py holds what they share.
"""

from __future__ import annotations

from spo_hotfolder.engine.base import (
    HASH_AHEAD_MIN_BYTES,
    PRESTAGE_MIN_BYTES,
    ActionResult,
    EarlyCheckService,
    HashAheadService,
    JobFailed,
    Metrics,
    NoMetrics,
    PdfService,
)
from spo_hotfolder.engine.core import Engine

__all__ = [
    "HASH_AHEAD_MIN_BYTES",
    "PRESTAGE_MIN_BYTES",
    "ActionResult",
    "EarlyCheckService",
    "Engine",
    "HashAheadService",
    "JobFailed",
    "Metrics",
    "NoMetrics",
    "PdfService",
]
