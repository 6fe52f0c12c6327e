"""The audit trail: append-only, gap-free, each event hashed with the previous event's hash.

Details never carry document text, keys, tokens or passwords: callers pass ids, names, values.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from vault.models import AuditEvent, AuditHead, Document, Dossier, User

GENESIS = "0" * 64
_FORBIDDEN_KEYS = {"password", "token", "key", "secret", "text", "content", "wrapped_key", "data_key"}

client_addr_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("client_addr", default=None)


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + "\n" + canonical_json(fields)).encode("utf-8")).hexdigest()


def _fields(e: AuditEvent) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": e.at.isoformat(),
        "actor_id": e.actor_id,
        "actor_name": e.actor_name,
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "dossier_id": e.dossier_id,
        "document_id": e.document_id,
        "client_addr": e.client_addr,
        "details": e.details,
    }


@dataclass(frozen=True)
class DossierRef:
    """A dossier by its id, for events about dossiers written without loading them (a bulk import's rows)."""

    id: int


def _describe(obj: object | None) -> tuple[str | None, str | None, int | None, int | None]:
    if obj is None:
        return None, None, None, None
    if isinstance(obj, Dossier | DossierRef):
        return "dossier", str(obj.id), obj.id, None
    if isinstance(obj, Document):
        return "document", str(obj.id), obj.dossier_id, obj.id
    if isinstance(obj, User):
        return "user", str(obj.id), None, None
    name = type(obj).__name__.lower()
    obj_id = getattr(obj, "id", None)
    dossier_id = getattr(obj, "dossier_id", None)
    document_id = getattr(obj, "document_id", None)
    return name, None if obj_id is None else str(obj_id), dossier_id, document_id


def record(
    session: Session,
    actor: User | None,
    action: str,
    obj: object | None = None,
    *,
    now: datetime,
    dossier_id: int | None = None,
    document_id: int | None = None,
    **details: Any,
) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction (or, after `defer`, hold it for
    `write_pending`)."""
    leaked = _FORBIDDEN_KEYS.intersection(details)
    if leaked:
        raise ValueError(f"audit details may not carry {sorted(leaked)}")
    event = AuditEvent(
        at=now.replace(microsecond=(now.microsecond // 1000) * 1000),
        actor_id=None if actor is None else actor.id,
        actor_name="system" if actor is None else actor.username,
        action=action,
        client_addr=client_addr_var.get(),
        details=canonical_json(details),
        prev_hash="",
        hash="",
    )
    pending = session.info.get(_PENDING)
    if pending is not None:
        pending.append((event, obj, dossier_id, document_id))
        return event
    _chain(session, [(event, obj, dossier_id, document_id)])
    return event


_PENDING = "audit_pending"
_Pending = tuple[AuditEvent, object | None, int | None, int | None]


def _chain(session: Session, pending: list[_Pending]) -> None:
    session.flush()  # ids of new objects are known before they are described
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    for event, obj, dossier_id, document_id in pending:
        object_type, object_id, obj_dossier, obj_document = _describe(obj)
        event.object_type, event.object_id = object_type, object_id
        event.dossier_id = dossier_id if dossier_id is not None else obj_dossier
        event.document_id = document_id if document_id is not None else obj_document
        event.seq, event.prev_hash = head.seq + 1, head.hash
        event.hash = _event_hash(head.hash, _fields(event))
        head.seq, head.hash = event.seq, event.hash
    if len(pending) == 1:
        session.add(pending[0][0])
    else:  # a batch (`write_pending`): one executemany, not an ORM object per event
        table = cast(Table, AuditEvent.__table__)
        session.execute(insert(table), [{c.key: getattr(e, c.key) for c in table.columns} for e, _, _, _ in pending])
    session.flush()


def defer(session: Session) -> None:
    """From now on `record` holds this session's events until `write_pending` chains them all at once
    (one head lock and one flush for many events: a bulk import)."""
    session.info[_PENDING] = []


def pending_mark(session: Session) -> int:
    """How many events are held (to drop those of a step that was rolled back: `drop_pending`)."""
    return len(session.info.get(_PENDING) or [])


def drop_pending(session: Session, mark: int) -> None:
    """Forget the held events recorded after `pending_mark` returned ``mark`` (their step was rolled back)."""
    pending = session.info.get(_PENDING)
    if pending is not None:
        del pending[mark:]


def write_pending(session: Session, *, stop: bool = False) -> None:
    """Chain the held events in the order they were recorded (``stop``: and hold no more)."""
    pending: list[_Pending] = session.info.pop(_PENDING, None) or []
    if not stop:
        session.info[_PENDING] = []
    if pending:
        _chain(session, pending)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    head: str
    first_bad_seq: int | None = None
    problem: str | None = None
    kind: str | None = None  # edited | deleted | inserted | reordered | truncated | forged
    checkpoints: int | None = None  # signed checkpoints checked (None: not checked against any)
    last_checkpoint_seq: int | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "events": self.events, "head": self.head}
        if self.checkpoints is not None:
            out["checkpoints"] = {"count": self.checkpoints, "last_seq": self.last_checkpoint_seq}
        if not self.ok:
            out["first_bad"] = {"seq": self.first_bad_seq, "problem": self.problem, "kind": self.kind}
        return out


def _iter_events(session: Session, batch: int = 2000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify_chain(session: Session) -> ChainReport:
    """Recompute the chain; name the first event that was edited, deleted, reordered or cut off."""
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for e in _iter_events(session):
        if e.seq != expected_seq:
            return ChainReport(False, count, prev_hash, expected_seq,
                               f"event {expected_seq} is missing (next present is {e.seq})", "deleted")
        if e.prev_hash != prev_hash:
            return ChainReport(False, count, prev_hash, e.seq,
                               f"event {e.seq} does not follow event {e.seq - 1} (chain link broken)", "reordered")
        if _event_hash(prev_hash, _fields(e)) != e.hash:
            return ChainReport(False, count, prev_hash, e.seq, f"event {e.seq} was altered after it was written",
                               "edited")
        prev_hash, expected_seq, count = e.hash, expected_seq + 1, count + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or head.hash != prev_hash):
        return ChainReport(False, count, prev_hash, count + 1,
                           f"the chain ends at event {count} but {head.seq} were written (events removed from the end)",
                           "truncated")
    return ChainReport(True, count, prev_hash)
