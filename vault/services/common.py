"""What the services share: finding a dossier the actor may see, and asking the worker to reindex one.

Every service that starts from a dossier imports these from here (paging lives in `vault.paging`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import policy
from vault.errors import Invalid, NotFound
from vault.models import Dossier, Job, JobKind, JobStatus, User
from vault.services.fields import may_exist


def get_dossier(session: Session, actor: User, dossier_id: int) -> Dossier:
    """A dossier the actor may see, else NotFound (whether it exists or not)."""
    dossier = session.get(Dossier, dossier_id) if may_exist(dossier_id) else None
    if dossier is None or not policy.can_see(actor, dossier):
        raise NotFound("dossier {dossier_id} not found", params={"dossier_id": dossier_id}, code="dossier_not_found")
    return dossier


def resolve_archive_no(session: Session, actor: User, raw: Any, *, field: str = "archive_no") -> Dossier:
    """The dossier a person means by what they typed: its archive number (KH-2026-000006), or its plain id.

    Visibility applies: a dossier above the actor's clearance is not found, in the same words as one that
    does not exist. Empty or malformed input is Invalid naming ``field``."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return get_dossier(session, actor, raw)
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid(field, "enter an archive number like KH-2026-000006")
    text = unicodedata.normalize("NFKC", raw).strip().upper()
    if len(text) > 40:
        raise Invalid(field, "enter an archive number like KH-2026-000006")
    if text.isdigit():
        return get_dossier(session, actor, int(text))
    dossier = session.scalar(select(Dossier).where(Dossier.archive_no == text))
    if dossier is None or not policy.can_see(actor, dossier):
        raise NotFound("no dossier has the archive number {archive_no}", code="dossier_not_found",
                       params={"archive_no": text})
    return dossier


def queue_reindex(session: Session, dossier: Dossier, now: datetime) -> None:
    """The search index filters on a dossier's secrecy and owner: the worker re-adds its documents."""
    session.add(Job(kind=JobKind.REINDEX_DOSSIER, version_id=None, payload={"dossier_id": dossier.id},
                    status=JobStatus.QUEUED, attempts=0, run_after=now, created_at=now))


_DEFERRED = "customer_reindex_deferred"


def queue_customer_reindex(session: Session, dossier_ids: list[int], now: datetime) -> None:
    """A card, contact or record changed: the worker re-adds only these dossiers' customer-file entries
    (card, contacts, records), not their documents. Inside `defer_customer_reindex` the ids are gathered
    for one job instead (an import's batch)."""
    deferred = session.info.get(_DEFERRED)
    if deferred is not None:
        deferred.update(dossier_ids)
    else:
        _customer_job(session, dossier_ids, now)


def _customer_job(session: Session, dossier_ids: Iterable[int], now: datetime) -> None:
    ids = sorted(set(dossier_ids))
    if ids:
        session.add(Job(kind=JobKind.REINDEX_CUSTOMER, version_id=None, payload={"dossier_ids": ids},
                        status=JobStatus.QUEUED, attempts=0, run_after=now, created_at=now))



def defer_customer_reindex(session: Session) -> None:
    """From now on `queue_customer_reindex` gathers dossier ids in the session instead of queuing a job each."""
    session.info[_DEFERRED] = set()


def customer_reindex_mark(session: Session) -> frozenset[int]:
    """The dossier ids gathered so far, to go back to when a row's savepoint is rolled back."""
    return frozenset(session.info.get(_DEFERRED) or ())


def drop_customer_reindex(session: Session, mark: frozenset[int]) -> None:
    """Forget the ids gathered since ``mark`` (their rows were rolled back: a refused or a dry-run row)."""
    if session.info.get(_DEFERRED) is not None:
        session.info[_DEFERRED] = set(mark)


def flush_customer_reindex(session: Session, now: datetime, *, stop: bool = False, queue: bool = True) -> set[int]:
    """Queue one job for the dossier ids gathered since `defer_customer_reindex` (``stop``: and gather no
    more; ``queue=False``: forget them, e.g. a dry run's); the ids."""
    ids = session.info.pop(_DEFERRED, None) or set()
    if not stop:
        session.info[_DEFERRED] = set()
    if queue:
        _customer_job(session, ids, now)
    return ids
