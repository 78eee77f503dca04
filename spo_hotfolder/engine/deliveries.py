"""Delivery: the copy into a hot folder, its journal and its failures.

A part of the class ``Engine`` (``engine/core.py``), kept in a module of its own; its methods
run on the engine's thread, ``self`` being the Engine."""

from __future__ import annotations

import contextlib
import dataclasses
import filecmp
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from spo_hotfolder.clock import iso
from spo_hotfolder.config import (
    HotFolderConfig,
    filesystem_mount_points,
    links_followed_here,
    mount_table,
    share_points_above,
)
from spo_hotfolder.delivery import (
    DeliveryError,
    TempInTheWay,
    TempOfAnotherJob,
    check_hot_folder,
    check_name_free,
    decide_route,
    explain_os_error,
    publish,
    publish_sidecar,
    render_filename,
    reprint_name,
    temp_path_for,
    write_temp,
)
from spo_hotfolder.digests import identity
from spo_hotfolder.engine.base import (
    PRESTAGE_MIN_BYTES,
    JobFailed,
    _file_sig,
    _Prestage,
    _same_file,
    log,
)
from spo_hotfolder.engine.state import EngineState
from spo_hotfolder.fsutil import into_history
from spo_hotfolder.ledger import Job, Stage
from spo_hotfolder.operator import SYSTEM
from spo_hotfolder.pdfreport import ArtworkInput
from spo_hotfolder.status import JobStatus


def _as_it_was(pre: _Prestage) -> bool:
    """Whether the artwork is the file the copy begun with its check read: the same identity and
    change time (an edit in place that kept its size and time moved the latter: white-box audit
    CO 2, the copy of the file before it was printed)."""
    try:
        st = os.stat(pre.artwork)
    except OSError:
        return False
    return identity(st) == pre.key and st.st_ctime_ns == pre.ctime


def _resolved(temp: Path) -> Path:
    """``temp`` with the links in its folder's path resolved: where a file written there is."""
    return Path(os.path.realpath(temp.parent)) / temp.name


def _identity(st: os.stat_result) -> tuple[int, int, int]:
    """A file's identity in a hot folder: its inode, and its change time (an inode the printer's
    removal freed is soon another file's)."""
    return (st.st_dev, st.st_ino, st.st_ctime_ns)


def _may_still_arrive(final: str | Path, hot_folder: str) -> str:
    """Said of a PDF whose rename into a hot folder was given up on before it returned."""
    return (
        f"{Path(final).name} may still arrive in hot folder {hot_folder} (the daemon records it as soon as it can "
        "look there)"
    )


if TYPE_CHECKING:
    from spo_hotfolder.engine.core import Engine


class EngineDelivery(EngineState):
    """The Engine's methods for delivery (this module's docstring says what they do)."""

    def _deliver(self: Engine, job: Job) -> None:
        # The output's copy begun with its check (_prestage), if any: renamed into place instead of
        # a copy made now where it is the copy this delivery makes (one not taken is given up by
        # _run_job).
        pre = self._prestaged.get(job.job_id)
        if pre is not None:
            self._prestage_copied(pre)  # (first: its hot folder's thread makes one call at a time)
        try:
            if self._published_before(job, prestaged=pre):
                return
            undecided = self.ledger.undecided_delivery(job.job_id)
            if undecided is not None:
                # (audit CM 2) Its hot folder cannot be looked into (not there, not mounted): whether
                # the PDF is in it cannot be told, and the job is copied nowhere (not to another hot
                # folder a reload or a new manifest names) until it can.
                raise DeliveryError(
                    f"whether {Path(undecided.final_path).name} arrived in hot folder {undecided.hot_folder} cannot be "
                    f"told: {Path(undecided.temp_path).parent} is not there or not mounted",
                    transient=True,
                )
        except DeliveryError as exc:  # (the hot folder of an attempt cut short does not answer)
            undecided = self.ledger.undecided_delivery(job.job_id)
            if undecided is not None:
                exc = DeliveryError(
                    f"{exc}; {_may_still_arrive(undecided.final_path, undecided.hot_folder)}", transient=exc.transient
                )
            self._delivery_failed(job, undecided.hot_folder if undecided else job.route or "", exc)
            return
        facts = self.facts(job)
        decision = decide_route(facts, self.config)
        now = self.clock.now()
        if job.route is not None and job.route != decision.target and job.job_id not in self._rerouted:
            # The routes changed while the daemon was stopped (a reload updates the recorded route
            # and says so then): said now, when it takes effect (audit AT 6: a job waiting to retry
            # a hot folder removed from the config went to another one without a word).
            (log.warning if decision.hot_folder is None else log.info)(
                "job.route_changed",
                job_id=job.job_id,
                order_id=job.order_id,
                old=job.route,
                new=decision.target,
                reason=f"the config's routes changed since this job's route was decided: {decision.reason}",
            )
        if decision.hot_folder is None:
            was = self._rerouted.pop(job.job_id, None)
            if was is None and job.route not in (None, "skip"):
                was = job.route  # (a route recorded before the config changed, not refreshed since)
            detail = decision.reason + (f" (the config was changed: it was going to {was})" if was else "")
            with self.ledger.transaction():
                self.ledger.update_job(job.job_id, now, route="skip", attempts=0, next_attempt_at=None, error=None)
                if was is not None:
                    self.ledger.set_rerouted(job.job_id, None)
                self._record(job.job_id, JobStatus.CopyToHotFolderSkipped, SYSTEM, detail, now, write=False)
                self._record_stage(job.job_id, Stage.DONE, now)
            return
        hot = self.config.hot_folders.get(decision.hot_folder)
        if hot is None:
            # (its manifest names it, and a reload took it out of the config) An attempt like any
            # other, "attempt n of max" (audit BP 1), and the last: it cannot work until the config
            # has it again.
            name = decision.hot_folder
            missing = DeliveryError(
                f"hot folder {name!r}, which this job's manifest names, is not in the config (any more); add it "
                "again and reload",
                transient=False,
            )
            self._delivery_failed(
                job,
                name,
                missing,
                fix=f"Have hot folder {name} added to the config again (hot_folders) and the config reloaded, then "
                "drop a file named RETRY here. Drop REJECT to stop the job.",
            )
            return
        src = self.job_dir(job) / "output" / (job.output or "")
        if not job.output or (self.job_dir(job) / "output").is_symlink() or not src.is_file():
            # (output/ a link an operator made: what it leads to was never checked, and is neither
            # read nor sent: the output is made again, as for one gone; review HB 2)
            # Made again from it, the output would go out unchecked by anyone (audit AV 1: the
            # output deleted, a PDF dragged over artwork/, then RELEASE: the new PDF printed).
            gone = self._artwork_changed_failure(job, output_gone=True)
            if gone is not None:
                raise gone
            self.ledger.update_job(job.job_id, now, stage=Stage.PROCESS)
            return
        self._output_unchanged(job, src)
        final = hot.path / render_filename(hot.filename, facts)
        # A reprint while its job's earlier PDF still waits there goes in beside it (reprint_name).
        earlier = self.ledger.earlier_finals(job.job_id, job.generation) if job.generation > 1 else frozenset()
        shares = self.shares
        spool = self._spool_identities()
        try:

            def look() -> Path:
                check_hot_folder(hot, self.mount_points, spool)
                chosen = reprint_name(final, hot, earlier, job.generation) if earlier else final
                check_name_free(chosen, hot)
                self._ticket_in_the_way(job, hot, chosen)
                return chosen

            final = shares.call(hot, "a look into it", look)
            temp = temp_path_for(hot, final.name)
            taken = self._take_prestage(pre, job, hot.name, final, temp) if pre is not None else None
            delivery_id = (
                taken
                if taken is not None
                else self.ledger.delivery_intent(job.job_id, job.generation, hot.name, str(final), str(temp), now)
            )
            started = time.monotonic()
            written = False
            folder: str | None
            real_temp: Path | None = None  # where the copy went, links resolved then
            try:
                if taken is None:
                    _size, folder, real_temp = self._copy_to_temp(src, temp, hot, delivery_id)
                else:
                    assert pre is not None
                    folder = pre.folder
                if src.parent.is_symlink():
                    raise _linked_while_copied()
                self._output_unchanged(job, src)  # not overwritten while it was copied
                self.ledger.delivery_state(delivery_id, "written", self.clock.now(), temp_folder=folder)
                written = True
                shares.call(hot, f"the rename to {final.name}", lambda: publish(temp, final, hot))
            except BaseException as exc:
                if written and shares.silent_since(hot.name) is not None:
                    # The rename was asked for and has not returned: it may still happen. The journal
                    # keeps "written", and once the hot folder answers the files tell what happened,
                    # as after a crash (a temp file gone was renamed: published, never copied again).
                    if isinstance(exc, DeliveryError):
                        raise DeliveryError(f"{exc}; {_may_still_arrive(final, hot.name)}", transient=True) from exc
                    raise
                if isinstance(exc, TempInTheWay):
                    # Nothing written, and the file there is not ours: left alone, and the journal
                    # does not name it as ours (the sweep leaves it too).
                    self.ledger.delivery_state(delivery_id, "in_the_way", self.clock.now())
                    raise
                # Journal first: a "written" delivery whose temp file is gone counts as published.
                self.ledger.delivery_state(delivery_id, "aborted", self.clock.now())
                if shares.silent_since(hot.name) is None:
                    self._remove_given_up(hot, temp, delivery_id)
                    if real_temp is not None and real_temp != temp:
                        # A hot or staging folder named by a link pointed elsewhere since the copy: the
                        # temp file is where the link pointed then (white-box audit CS 4: left there).
                        with contextlib.suppress(OSError, DeliveryError):
                            shares.call(hot, f"the removal of {real_temp}", lambda: real_temp.unlink(missing_ok=True))
                raise
            if taken is None:
                self.metrics.observe("copy", time.monotonic() - started, hot.name)
        except DeliveryError as exc:
            self._delivery_failed(job, hot.name, exc)
            return
        self._delivered(job, hot.name, final, delivery_id)

    def _copy_to_temp(
        self: Engine, src: Path, temp: Path, hot: HotFolderConfig, delivery_id: int
    ) -> tuple[int, str, Path]:
        """The delivery's copy to its temp name, on the hot folder's thread: its size, its folder's
        identity, and where it went (the links in the folder's path resolved then). A file already
        there under that name is replaced only where the journal says a copy of ours may have left
        it (audit 12-05 E: another sender's upload of that name was overwritten); the journal is
        read only then."""

        def copy(stale_is_ours: bool) -> tuple[int, str, Path]:
            if stale_is_ours:
                size, folder = write_temp(src, temp, hot, cancelled=self._copy_goes_on, stale_is_ours=True)
            else:
                size, folder = write_temp(src, temp, hot, cancelled=self._copy_goes_on)
            # (a folder named by a link: where it points now, one look; links higher up are left)
            return size, folder, _resolved(temp) if temp.parent.is_symlink() else temp

        try:
            return self.shares.call(hot, f"the copy to {temp}", lambda: copy(False))
        except TempInTheWay:
            if not self.ledger.temp_written_before(str(temp), delivery_id):
                raise
            # Another job's copy whose rename is not settled (white-box audit DP 1: two jobs of one
            # file name, the first's rename hung then failed; the second's copy replaced its temp
            # file, which then counted as renamed: the first recorded InHotFolder, never printed).
            other = self.ledger.temp_of_another_job(str(temp), delivery_id)
            if other is not None:
                raise TempOfAnotherJob(temp, hot, other) from None
        return self.shares.call(hot, f"the copy to {temp}", lambda: copy(True))

    def _prestage(self: Engine, job: Job, inputs: list[ArtworkInput]) -> None:
        """Begins the copy of the job's one big artwork file into its hot folder's temp name, on the
        hot folder's thread, while the check runs (``PRESTAGE_MIN_BYTES``): the copy a delivery
        would make of it, begun early. Nothing is begun where the delivery would not copy that file
        now: several files, a blocked job, no hot folder, one that does not answer, a file of the
        output's name waiting there, an attempt cut short before. Journalled first, like any copy."""
        if len(inputs) != 1 or job.blocked:
            return
        artwork = Path(inputs[0].path)
        try:
            st = os.stat(artwork)
        except OSError:
            return
        key = identity(st)
        if key[2] < PRESTAGE_MIN_BYTES:
            return
        facts = self.facts(job)
        hot = self.config.hot_folders.get(decide_route(facts, self.config).hot_folder or "")
        if hot is None or self.shares.silent_since(hot.name) is not None:
            return
        if any(d.job_id == job.job_id for d in self.ledger.open_deliveries()) or self.ledger.published_delivery(
            job.job_id, job.generation
        ):
            return
        final_name = render_filename(hot.filename, facts)
        final, temp = hot.path / final_name, temp_path_for(hot, final_name)
        spool = self._spool_identities()

        def look() -> None:
            check_hot_folder(hot, self.mount_points, spool)
            check_name_free(final, hot)
            if os.path.lexists(temp):  # (ours or another sender's: the delivery tells which)
                raise TempInTheWay(temp, hot)

        try:
            self.shares.call(hot, "a look into it", look)
        except DeliveryError:
            return  # (the delivery says why, once the check has passed)
        pre = _Prestage(
            delivery_id=self.ledger.delivery_intent(
                job.job_id, job.generation, hot.name, str(final), str(temp), self.clock.now()
            ),
            generation=job.generation,
            hot_folder=hot.name,
            final=final,
            temp=temp,
            artwork=artwork,
            key=key,
            ctime=st.st_ctime_ns,
            started=time.monotonic(),
        )
        self._prestaged[job.job_id] = pre

        def copy() -> tuple[int, str]:
            return write_temp(artwork, temp, hot, cancelled=lambda: pre.cancel or self._copy_goes_on())

        try:
            pre.pending = self.shares.start(hot, f"the copy to {temp}", copy)
        except DeliveryError:
            self._drop_prestage(job.job_id)

    def _prestage_copied(self: Engine, pre: _Prestage) -> None:
        """Waits for the copy begun with the check; one that failed is given up (the delivery then
        copies as usual, and says why where it fails again)."""
        if pre.pending is None:
            return
        pending, pre.pending = pre.pending, None
        try:
            _size, pre.folder = self.shares.finish(pending)
        except Exception as exc:  # noqa: BLE001 - an early copy that failed is one not made
            log.debug("delivery.early_copy_failed", file=str(pre.temp), error=str(exc))
            if isinstance(exc, TempInTheWay):  # (came since the look) not ours: never removed
                pre.settled = True
                self.ledger.delivery_state(pre.delivery_id, "in_the_way", self.clock.now())
            self._abort_prestage(pre)
            return
        pre.copied = True
        pre.seconds = time.monotonic() - pre.started

    def _take_prestage(self: Engine, pre: _Prestage, job: Job, hot_name: str, final: Path, temp: Path) -> int | None:
        """The journal id of the copy begun with the check, taken by this delivery where it is the
        copy the delivery makes: complete, into this hot folder under this name, of this
        generation, of the artwork as it still is (the output, recorded as that same file, is
        compared with its record as for any copy). Else None, and it is given up first: its temp
        name is the one the delivery copies to."""
        if (
            pre.copied
            and not pre.settled
            and (pre.hot_folder, pre.final, pre.temp, pre.generation) == (hot_name, final, temp, job.generation)
            and _as_it_was(pre)
        ):
            pre.settled = True
            self.metrics.observe("copy", pre.seconds, hot_name)
            return pre.delivery_id
        self._abort_prestage(pre)
        return None

    def _drop_prestage(self: Engine, job_id: str) -> None:
        pre = self._prestaged.pop(job_id, None)
        if pre is not None:
            self._abort_prestage(pre)

    def _abort_prestage(self: Engine, pre: _Prestage) -> None:
        """Gives up the copy begun with the check: stopped, journalled "aborted", its temp file
        removed (by the sweep once the hot folder answers again, where it does not now)."""
        if pre.settled:
            return
        pre.settled = True
        if pre.pending is not None:
            pending, pre.pending, pre.cancel = pre.pending, None, True
            with contextlib.suppress(Exception):
                self.shares.finish(pending)
        self.ledger.delivery_state(pre.delivery_id, "aborted", self.clock.now())
        hot = self.config.hot_folders.get(pre.hot_folder)
        if hot is not None and self.shares.silent_since(hot.name) is None:
            self._remove_given_up(hot, pre.temp, pre.delivery_id)

    def _remove_given_up(self: Engine, hot: HotFolderConfig, temp: Path, delivery_id: int) -> None:
        """Removes the temp file of attempt ``delivery_id``, given up (journalled "aborted"); the
        attempt is cleared only where its folder is the one it was written in, mounted: a share
        gone meanwhile leaves its empty mount point, where the file is not, and cleared then the
        file, back with the share, counted as another sender's (review GZ 2: the job's every copy
        refused, our file left for good). Else the sweep removes it once the share is back."""

        def remove() -> None:
            self.mount_points.check(f"hot folder {hot.name}", temp.parent, os.stat(temp.parent))
            temp.unlink(missing_ok=True)

        with contextlib.suppress(OSError, DeliveryError):
            self.shares.call(hot, f"the removal of {temp}", remove)
            self.ledger.temps_cleared([delivery_id], self.clock.now())

    def _output_unchanged(self: Engine, job: Job, src: Path) -> None:
        """Raises JobFailed when the output file is not the one recorded with ``OutputCreated``: a
        file overwritten in place (an operator dragging a corrected PDF over artwork/ or output/; in
        a single-file job the two are one file) was never checked, and is never sent."""
        failure = self._output_changed(job, src)
        if failure is not None:
            raise failure

    def _output_changed(self: Engine, job: Job, src: Path) -> JobFailed | None:
        """``_output_unchanged``'s finding; the changed file is moved into history/ (kept, not sent).
        Also an artwork file changed since its check: the output then is no longer what artwork/
        holds, and a release may approve one while the printer gets the other (audit BT 1: an
        output copied from an operator's own artwork file, which stays writable by them)."""
        if src.parent.is_symlink():
            return None  # (nothing read nor moved through it: review HB 2; the delivery makes it again)
        recorded = self.ledger.output_sig(job.job_id)
        try:
            current = _file_sig(src)
        except OSError:
            return None  # gone: the copy (or the next step) says so
        recorded_sig, _, recorded_digest = (recorded or "").partition("#")
        if recorded is None or _same_file(current, recorded_sig, has_digest=bool(recorded_digest)):
            return self._artwork_changed_failure(job)
        if recorded_digest and self._digest(src, cached=False) == recorded_digest:
            # Only its time stamp changed (touch, a backup tool restoring it): still the checked file.
            self.ledger.set_output_sig(job.job_id, f"{current}#{recorded_digest}")
            return self._artwork_changed_failure(job)
        now = self.clock.now()
        kept = into_history(self.job_dir(job), src, now, f"changed-output-{src.name}")
        # No output now: `show`, `jobs --json` and STATUS.txt must not name the file moved away.
        self.ledger.update_job(job.job_id, now, output=None, output_pages=None, output_size=None)
        self._dirty.add(job.job_id)
        again = " (the job is still blocked: it then waits in quarantine/ for RELEASE again)" if job.blocked else ""
        # ValidationFailed: the file to send is not the checked one. (Not OutputCreationFailed: no
        # output was being made, and SPEC 6 has that follow OutputCreationStarted: audit.)
        return JobFailed(
            JobStatus.ValidationFailed,
            f"its output file was changed after it was checked, so it was not sent (kept as history/{kept.name})",
            [
                f"output/{src.name} is not the file that was checked and recorded as OutputCreated: it was "
                "overwritten or edited in place (in a job with one artwork file, output/ and artwork/ are mostly "
                "the same file, so overwriting artwork/ changes the output too); only a checked file is sent"
            ],
            "Put the corrected PDF into replace/ (never overwrite the files in artwork/ or output/): it is checked "
            "and the output made again. Or drop a file named RETRY here to check the files in artwork/ as they are "
            f"now and make the output from them{again}.",
        )

    def _artwork_changed_failure(self: Engine, job: Job, *, output_gone: bool = False) -> JobFailed | None:
        """ValidationFailed "artwork changed in its folder after it was checked", for the job's
        artwork files that are not what its last check read; None when they all are.
        ``output_gone``: the output made from the checked files is not there any more either."""
        changed = self._artwork_changed_since_check(job)
        if not changed:
            return None
        reason = "artwork changed in its folder after it was checked: " + ", ".join(changed)
        what = "it was replaced or edited in place, not put into replace/"
        if output_gone:
            return JobFailed(
                JobStatus.ValidationFailed,
                reason,
                [
                    f"artwork/{name} is not the file that was checked ({what}), and the output made from the "
                    "checked one is gone"
                    for name in changed
                ],
                "Put the PDF to print into replace/ (same file name): it is checked and, for a blocked job, "
                "shown to you again before it prints. Or drop REJECT here.",
            )
        again = " (the job is still blocked: it then waits in quarantine/ for RELEASE again)" if job.blocked else ""
        return JobFailed(
            JobStatus.ValidationFailed,
            reason + "; its output was not sent",
            [
                f"artwork/{name} is not the file that was checked ({what}): the output made from the checked one "
                "no longer matches it, and is not sent"
                for name in changed
            ],
            "Put the PDF to print into replace/ (same file name; never overwrite the files in artwork/ or output/): "
            "it is checked and the output made again. Or drop a file named RETRY here to check the files in artwork/ "
            f"as they are now and make the output from them{again}.",
        )

    def _copy_goes_on(self: Engine) -> bool:
        """Asked between two chunks of a copy: a sign of life; True when the daemon is stopping."""
        self.progress_at = self.clock.monotonic()
        self.shares.alive()
        return self.stop_event.is_set()

    def _published_before(self: Engine, job: Job, prestaged: _Prestage | None = None) -> bool:
        """True when this job's output already reached the hot folder in an attempt that a crash or
        a ledger error cut short after the rename: the job is then done, never copied again.
        (``prestaged``: the copy begun with the check, open and not cut short by anything.)"""
        now = self.clock.now()
        reconciled = False
        for open_one in self.ledger.open_deliveries():
            if open_one.job_id == job.job_id and (prestaged is None or open_one.id != prestaged.delivery_id):
                self._reconcile_delivery(open_one, now)
                reconciled = True
        delivery = self.ledger.published_delivery(job.job_id, job.generation)
        fresh = self.ledger.get_job(job.job_id, history=False)
        if delivery is None:
            # An attempt whose rename cannot be told (its hot folder taken out of the config, or
            # another folder in its place) fails the job: never copied anywhere else meanwhile
            # (audit CL 1: this delivery went on, and the late rename made a second print).
            return reconciled and (fresh is None or (fresh.stage, fresh.folder) != (job.stage, job.folder))
        if fresh is None:
            return False
        if fresh.stage is not Stage.DONE:
            # The PDF is in the hot folder; what is left is its job ticket, which failed to be
            # written (the PDF is never copied again for it).
            log.info("delivery.ticket_again", job_id=job.job_id, order_id=job.order_id)
            self._delivered(fresh, delivery.hot_folder, Path(delivery.final_path), delivery.id, again=True)
        return True

    def _note_mounts(self: Engine) -> None:
        """The hot and staging folders that are mount points now, remembered (MountPoints.note_mounted:
        from /proc/self/mountinfo, no call into the shares): at the start and at each rescan."""
        folders = [f for hot in self.config.hot_folders.values() for f in (hot.path, hot.staging) if f is not None]
        if folders:
            table = mount_table()
            points = [mount.point for mount in table]
            remote = [mount.point for mount in table if mount.remote]
            # (A folder named through a symbolic link is the folder it leads to: audit CS 3.)
            followed = [links_followed_here(folder, points, remote) for folder in folders]
            candidates = list(dict.fromkeys([*folders, *followed]))
            self.mount_points.note_mounted(
                candidates, filesystem_mount_points(table, [str(folder) for folder in candidates])
            )
            above = share_points_above(table, [str(folder) for folder in candidates])
            self.mount_points.note_mounted([Path(point) for point in above], above)

    def _spool_identities(self: Engine) -> dict[tuple[int, int], tuple[str, Path]]:
        """The spool folders by (device, inode), looked at once for the config's paths, not at each
        delivery: a hot folder that is one of them under another name is refused (check_hot_folder)."""
        paths, identities = self._spool_ids
        if paths is not self.config.paths:
            identities = {}
            for name, folder in self.config.paths.spool_folders().items():
                with contextlib.suppress(OSError):
                    st = os.stat(folder)
                    identities[(st.st_dev, st.st_ino)] = (name, folder)
            self._spool_ids = (self.config.paths, identities)
        return identities

    def _ticket_in_the_way(self: Engine, job: Job, hot: HotFolderConfig, final: Path) -> bytes | None:
        """The job ticket to write next to ``final`` (None: the hot folder takes no tickets, or
        ours is there already). Raises DeliveryError while another ticket of that name waits: a
        PDF beside another job's ticket would print with that job's quantity."""
        if hot.ticket != "json":
            return None
        ticket = final.with_suffix(".json")
        payload = self._ticket(job, hot.name, final)
        try:
            existing = ticket.read_bytes()
        except FileNotFoundError:
            return payload
        except IsADirectoryError:
            raise DeliveryError(
                f"a folder named {ticket.name} is in hot folder {hot.name}, where this job's ticket goes; "
                f"{final.name} and its ticket are not written until it is moved away",
                transient=True,
            ) from None
        except OSError as exc:
            raise explain_os_error(exc, hot) from exc
        if existing == payload:
            return None  # ours: written before a crash or an earlier failure
        try:
            owner = json.loads(existing).get("job_id")
        except (ValueError, AttributeError):
            owner = None
        if owner == job.job_id and not os.path.lexists(final):
            # The printer took this job's earlier PDF and left its ticket (audit AO: "not yet taken by
            # the printer" read as if another job waited).
            raise DeliveryError(
                f"the job ticket {ticket.name} of this job's earlier delivery is still in hot folder {hot.name}: the "
                f"printer took that PDF but not its ticket (a printer that reads no tickets leaves them all: set "
                f"ticket: none for {hot.name}); {final.name} and its new ticket are not written until the old "
                "ticket is moved away",
                transient=True,
            )
        whose = f" (job {owner}'s)" if isinstance(owner, str) and owner != job.job_id else ""
        raise DeliveryError(
            f"a job ticket named {ticket.name}{whose} is already waiting in hot folder {hot.name} (not yet taken by "
            f"the printer); {final.name} and its ticket are not written until it is gone",
            transient=True,
        )

    def _delivered(
        self: Engine,
        job: Job,
        hot_name: str,
        final: Path,
        delivery_id: int,
        *,
        ticket_published: bool = False,
        note: str = "",
        again: bool = False,
    ) -> None:
        """Records the job delivered, its job ticket written first where the hot folder takes them.
        ``again``: only the ticket is left, the PDF published in an earlier step (a ticket that
        failed, tried again)."""
        hot = self.config.hot_folders.get(hot_name)
        if again and not ticket_published:
            hot = self._ticket_hot_folder(job, hot_name, final)
            if hot is None:
                note += f"; no job ticket was written beside it: hot folder {hot_name} is no longer in the config"
        if hot is not None and hot.ticket == "json" and not ticket_published:
            hot_folder = hot
            attempt = object()
            again = again and job.output is not None
            output = self.job_dir(job) / "output" / (job.output or "")

            def marked() -> None:
                # The journal's mark, from the hot folder's thread: not for a call given up on, whose
                # job waits to try again (white-box audit CL 2: its mark reopened the closed
                # attempt, and its failed rename then read as a ticket published).
                with self._ticket_lock:
                    if self._ticket_attempts.get(delivery_id) is not attempt:
                        raise DeliveryError("the attempt was given up on", transient=True)
                    self.ledger.delivery_state(delivery_id, "ticket", self.clock.now())

            def ticket() -> bool:
                if again and self._another_file_there(delivery_id, output, final):
                    return False  # (see below)
                if not again:
                    with contextlib.suppress(OSError):  # (the PDF this delivery has just put there)
                        seen = _identity(os.lstat(final))
                        with self._ticket_lock:  # (not by a call given up on, returning late)
                            if self._ticket_attempts.get(delivery_id) is attempt:
                                self._published_ids[delivery_id] = seen
                payload = self._ticket_in_the_way(job, hot_folder, final)
                if payload is not None:
                    publish_sidecar(final, payload, hot_folder, before_rename=marked)
                return True

            self._ticket_attempts[delivery_id] = attempt
            try:
                written = self.shares.call(hot, f"the job ticket {final.with_suffix('.json').name}", ticket)
            except DeliveryError as exc:
                with self._ticket_lock:
                    self._ticket_attempts.pop(delivery_id, None)
                    self._ticket_failed(job, hot_name, final, delivery_id, exc)
                return
            self._ticket_attempts.pop(delivery_id, None)
            self._published_ids.pop(delivery_id, None)
            if not written:
                # The printer took the PDF this delivery put there, and another job's PDF of that
                # name is there now: this job's ticket is never written beside it (white-box audit
                # CL 3: the other PDF printed with this job's quantity). Said: the printer had this
                # job's PDF without its ticket.
                _ticket_not_written(
                    job,
                    final,
                    f"the printer took {final.name} before its job ticket could be written, and another file of that "
                    "name is there now: the ticket is not written beside it (check the quantity printed)",
                )
                note += (
                    f"; its job ticket was not written: the printer took {final.name} first, another file is there now"
                )
        now = self.clock.now()
        with self.ledger.transaction():
            self.ledger.delivery_state(delivery_id, "published", now)
            self.ledger.update_job(job.job_id, now, route=hot_name, attempts=0, next_attempt_at=None, error=None)
            self._record(job.job_id, JobStatus.InHotFolder, SYSTEM, f"{hot_name}: {final.name}{note}", now, write=False)
            self._record_stage(job.job_id, Stage.DONE, now)

    def _ticket_hot_folder(self: Engine, job: Job, hot_name: str, final: Path) -> HotFolderConfig | None:
        """Where the job ticket of a PDF an earlier step put at ``final`` is written, and how: the
        hot folder of the config that is that folder (renamed by a reload: another name, the same
        path); where the config moved the hot folder's path since, that folder as it was, beside
        the PDF (review FP 3: the ticket's temporary file was made in the new folder, on another
        filesystem, and every try failed "Invalid cross-device link"); None where no hot folder of
        that name or path is left (review FP 2: the job was recorded InHotFolder without its
        ticket, without a word), said."""
        named = self.config.hot_folders.get(hot_name)
        # (by the path as it was made, no look into it; its own name first where two share a folder)
        if named is not None and named.path == final.parent:
            return named
        here = next((hot for hot in self.config.hot_folders.values() if hot.path == final.parent), None)
        if here is not None:
            return here
        if named is not None:
            return dataclasses.replace(named, path=final.parent, staging=None)
        _ticket_not_written(
            job,
            final,
            f"hot folder {hot_name} was taken out of the config (or renamed, with another path) before the job "
            f"ticket of {final.name} could be written: no ticket is written beside it (check the quantity printed)",
        )
        return None

    def _another_file_there(self: Engine, delivery_id: int, output: Path, final: Path) -> bool:
        """Whether ``final`` in the hot folder is another file than the PDF delivery ``delivery_id``
        put there (the printer took that one, and another job's of that name came): not the same
        file as then; after a restart, which forgot it, not a copy of ``output``. False when
        nothing is there, or when it cannot be told."""
        known = self._published_ids.get(delivery_id)
        try:
            if known is not None:
                return _identity(os.lstat(final)) != known
            return not filecmp.cmp(output, final, shallow=False)
        except OSError:
            return False

    def _ticket(self: Engine, job: Job, hot_name: str, final: Path) -> bytes:
        report = job.preflight or {}
        ticket = {
            "order_id": job.order_id,
            "job_id": job.job_id,
            "customer": job.customer,
            "product": job.product,
            "quantity": job.quantity,
            "attributes": job.attributes,
            "pages": job.output_pages,
            "trim_mm": report.get("trim_mm"),
            "file": final.name,
            "hot_folder": hot_name,
        }
        return (json.dumps(ticket, indent=2, sort_keys=True) + "\n").encode()

    def _ticket_failed(
        self: Engine, job: Job, hot_name: str, final: Path, delivery_id: int, exc: DeliveryError
    ) -> None:
        """The PDF is published, its job ticket is not: the job is not InHotFolder yet. The ticket
        alone is tried again (delivery.max_attempts, backoff_seconds); the PDF is never copied again."""
        self.ledger.delivery_state(delivery_id, "published", self.clock.now())
        if getattr(exc, "temp_left", True):  # (not where nothing of ours was written: review GW 1)
            self.ledger.ticket_left(delivery_id)
        self.ledger.update_job(job.job_id, self.clock.now(), route=hot_name)
        ticket = final.with_suffix(".json").name
        self._copy_failed(
            job,
            hot_name,
            exc,
            event="delivery.ticket_failed",
            what=f"{final.name} is in hot folder {hot_name}, but its job ticket {ticket} could not be written: {exc}",
            again="the ticket's next attempt at",
            title=lambda why: (
                f"{final.name} was delivered into hot folder {hot_name}, but its job ticket {ticket} could not be "
                f"written ({why}): {exc}"
            ),
            fix="Fix the cause (free disk space, fix permissions, or let the printer take the other ticket), then "
            "drop a file named RETRY here: only the ticket is written, the PDF is not copied again. Drop "
            "REJECT to leave the PDF without its ticket.",
        )

    def _delivery_failed(self: Engine, job: Job, hot_name: str, exc: DeliveryError, *, fix: str | None = None) -> None:
        self._copy_failed(
            job,
            hot_name,
            exc,
            event="delivery.failed",
            what=str(exc),
            again="next attempt at",
            title=lambda why: f"the copy into hot folder {hot_name} failed ({why}): {exc}",
            fix=fix
            or (
                f"Wait: {_may_still_arrive(undecided.final_path, undecided.hot_folder)}: its rename into it had not "
                "returned. "
                "If it does not arrive, fix the cause (is the share's server up, the share mounted?), then drop a "
                "file named RETRY here; REJECT is refused until it is known whether the PDF arrived."
                if (undecided := self.ledger.undecided_delivery(job.job_id)) is not None
                else "Fix the cause (mount the share, free disk space, fix permissions or the config, or let the "
                "printer take the file waiting under the same name), then drop a file named RETRY here. Drop "
                "REJECT to stop the job."
            ),
        )

    def _copy_failed(
        self: Engine,
        job: Job,
        hot_name: str,
        exc: DeliveryError,
        *,
        event: str,
        what: str,
        again: str,
        title: Callable[[str], str],
        fix: str,
    ) -> None:
        """A failed attempt: CopyToHotFolderFailed "attempt n of max, <what>"; tried again after
        backoff_seconds, or, after the last attempt (or a failure no retry can mend), failed/."""
        now = self.clock.now()
        attempts = job.attempts + 1
        limit = self.config.delivery.max_attempts
        final = not exc.transient or attempts >= limit
        when = self._due_in(self.config.delivery.backoff(attempts))
        # (more attempts than the limit: it was lowered by a reload meanwhile; this was the last)
        of = f"of {limit}" if attempts <= limit else f"(delivery.max_attempts is now {limit})"
        detail = f"attempt {attempts} {of}, {what}"  # (SPEC 6: "attempt n of max, reason")
        if not final:
            detail += f"; {again} {iso(when)}"
        elif attempts < limit:
            # A failure no retry can mend: no "2 of 3" follows (audit BP 5).
            detail += "; not tried again: this cannot work without a change"
        self._record(job.job_id, JobStatus.CopyToHotFolderFailed, SYSTEM, detail, now)
        log.warning(
            event,
            job_id=job.job_id,
            order_id=job.order_id,
            hot_folder=hot_name,
            attempt=attempts,
            max_attempts=limit,
            transient=exc.transient,
            reason=str(exc),
        )
        if final:
            # (the count made: more than the limit when a reload lowered it meanwhile)
            why = (
                "this cannot work without a change"
                if not exc.transient
                else f"all {attempts} attempts failed"
                if attempts > 1
                else "the only attempt failed (delivery.max_attempts: 1)"
            )
            self.ledger.update_job(job.job_id, now, attempts=attempts)
            self._fail(job.job_id, JobFailed(None, title(why), [detail], fix), now)
            return
        self.ledger.update_job(job.job_id, now, stage=Stage.RETRY, attempts=attempts, next_attempt_at=iso(when))
        self._write_status(job.job_id)
        self._schedule_wakeup(when)


def _ticket_not_written(job: Job, final: Path, reason: str) -> None:
    """Said where a delivered PDF's job ticket is never written beside it."""
    log.warning("delivery.ticket_not_written", job_id=job.job_id, order_id=job.order_id, file=str(final), reason=reason)


def _linked_while_copied() -> JobFailed:
    """output/ swapped for a link since the look before the copy: the copy may be of the file the
    link leads to, never checked (review HD, of HB 2's mend: the look after the copy answered
    "nothing to say" for a link, and the copy was published)."""
    return JobFailed(
        JobStatus.ValidationFailed,
        "output/ was replaced by a link while the output was copied, so nothing was sent",
        [
            "output/ is now a symbolic link: what it leads to was never checked, and the copy made meanwhile may be "
            "of it; nothing is read or moved through it"
        ],
        "Drop a file named RETRY here: the output is made again from the checked artwork (the link is left as it "
        "is; remove it if it is not yours).",
    )
