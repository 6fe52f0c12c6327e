"""What the worker runs besides jobs, each at its own interval: overdue checkouts, signed audit
checkpoints, the sweep of uploads killed mid-way, and reminders of periodic reviews coming due.
Each task logs its failure and never raises into
the worker's loop; it is simply tried again at its next interval."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from vault import audit_checkpoints
from vault.core import Vault
from vault.services.checkouts import run_overdue
from vault.services.fixity import sweep_interrupted_uploads
from vault.services.reviews import send_reminders

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


def remind_reviews(v: Vault) -> None:
    """Remind owners of periodic reviews due within `review_reminder_days`; errors are logged, never raised."""
    try:
        send_reminders(v)
    except Exception:  # noqa: BLE001 - try again at the next interval
        log.exception("review reminders failed; trying again in %ss", v.settings.review_check_interval_s)


def periodic_tasks(v: Vault) -> list[tuple[Callable[[Vault], None], float]]:
    """What the worker runs besides jobs, and how often (seconds)."""
    s = v.settings
    return [(check_overdue, s.overdue_check_interval_s),
            (sign_audit_checkpoint, s.audit_checkpoint_interval_s),
            (sweep_uploads, s.upload_sweep_interval_s),
            (remind_reviews, s.review_check_interval_s)]
