"""What the worker runs besides jobs, each at its own interval: overdue checkouts, signed audit
checkpoints, the sweep of uploads killed mid-way, the notices of follow-ups due and complaints overdue,
reminders of periodic reviews coming due, overdue transfers, the scanner's watched folder, and the
periodic reports once a month or quarter ends. Each task logs its failure and never raises into
the worker's loop; it is simply tried again at its next interval."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from indexer.intake_folder import poll_intake_folder
from vault import audit_checkpoints
from vault.core import Vault
from vault.services.checkouts import run_overdue
from vault.services.fixity import sweep_interrupted_uploads
from vault.services.follow_ups import send_due_notices
from vault.services.periodic_reports import run_scheduled
from vault.services.reviews import send_reminders
from vault.services.transfer_register import run_overdue_transfers

log = logging.getLogger("dossier.worker")


def check_overdue(v: Vault) -> None:
    """Mark overdue checkouts and notify their people; an error is logged, never raised into the loop."""
    try:
        newly, _ = run_overdue(v)
    except Exception:  # noqa: BLE001 - the jobs matter more: log, try again at the next interval
        log.exception("overdue check failed; trying again in %ss", v.settings.overdue_check_interval_s)
        return
    if newly:
        log.info("%s checkout(s) newly overdue: %s", len(newly), newly)


def check_overdue_transfers(v: Vault) -> None:
    """Tell senders and managers about transfers past their deadline; an error is logged, never raised."""
    try:
        newly = run_overdue_transfers(v)
    except Exception:  # noqa: BLE001 - try again at the next interval
        log.exception("overdue transfer check failed; trying again in %ss", v.settings.overdue_check_interval_s)
        return
    if newly:
        log.info("%s transfer(s) newly overdue: %s", len(newly), newly)


def sign_audit_checkpoint(v: Vault) -> None:
    """Sign a checkpoint of the audit chain's head if it moved; an error is logged, never raised."""
    try:
        audit_checkpoints.sign_head(v)
    except Exception:  # noqa: BLE001 - try again at the next interval
        log.exception("audit checkpoint failed; trying again in %ss", v.settings.audit_checkpoint_interval_s)


def sweep_uploads(v: Vault) -> None:
    """Remove what uploads killed mid-way left (older than `upload_grace_minutes`); errors are logged."""
    try:
        removed = sweep_interrupted_uploads(v, timedelta(minutes=v.settings.upload_grace_minutes))
    except Exception:  # noqa: BLE001 - try again at the next interval
        log.exception("upload sweep failed; trying again in %ss", v.settings.upload_sweep_interval_s)
        return
    if removed:
        log.info("removed %s temp file(s) and pending row(s) of interrupted uploads", removed)


def notify_follow_ups(v: Vault) -> None:
    """Notify follow-ups that fell due and complaints past their deadline (each once); errors are logged."""
    try:
        follow, complaints = send_due_notices(v)
    except Exception:  # noqa: BLE001 - try again at the next interval
        log.exception("follow-up notices failed; trying again in %ss", v.settings.overdue_check_interval_s)
        return
    if follow or complaints:
        log.info("%s follow-up(s) due and %s complaint(s) overdue notified", follow, complaints)


def generate_periodic_reports(v: Vault) -> None:
    """Generate the monthly and quarterly reports just due and notify the managers; errors are logged."""
    try:
        done = run_scheduled(v)
    except Exception:  # noqa: BLE001 - try again at the next interval
        log.exception("periodic reports failed; trying again in %ss", v.settings.overdue_check_interval_s)
        return
    if done:
        log.info("periodic report(s) generated: %s", ", ".join(done))


def remind_reviews(v: Vault) -> None:
    """Remind owners of periodic reviews due within `review_reminder_days`; errors are logged, never raised."""
    try:
        send_reminders(v)
    except Exception:  # noqa: BLE001 - try again at the next interval
        log.exception("review reminders failed; trying again in %ss", v.settings.review_check_interval_s)


def periodic_tasks(v: Vault) -> list[tuple[Callable[[Vault], None], float]]:
    """What the worker runs besides jobs, and how often (seconds)."""
    s = v.settings
    tasks: list[tuple[Callable[[Vault], None], float]] = [
        (check_overdue, s.overdue_check_interval_s),
        (check_overdue_transfers, s.overdue_check_interval_s),
        (sign_audit_checkpoint, s.audit_checkpoint_interval_s),
        (sweep_uploads, s.upload_sweep_interval_s),
        (notify_follow_ups, s.overdue_check_interval_s),
        (generate_periodic_reports, s.overdue_check_interval_s),
        (remind_reviews, s.review_check_interval_s)]
    if s.intake_folder is not None:  # the scanner's watched folder
        tasks.append((poll_intake_folder, s.intake_poll_interval_s))
    return tasks


class Schedule:
    """The periodic tasks of one worker loop and when each is next due (all due at the start)."""

    def __init__(self, v: Vault) -> None:
        self._v = v
        self._tasks = periodic_tasks(v)
        self._due = [time.monotonic()] * len(self._tasks)

    def run_due(self) -> None:
        """Run every task whose interval has passed."""
        for i, (task, every) in enumerate(self._tasks):
            if time.monotonic() >= self._due[i]:
                task(self._v)
                self._due[i] = time.monotonic() + every

    def seconds_to_next(self) -> float:
        return max(min(self._due) - time.monotonic(), 0)
