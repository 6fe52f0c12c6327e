"""Stock-takes (盘点): check the paper files on the shelves against the register.

A stock-take covers a location (a room, a cabinet: a prefix of the dossiers' `location`, such as
"A室/3柜") or the whole archive. The archivist ticks dossiers as present, or scans their cover codes one
after another (`DVA1:<archive_no>` or a bare archive number). The result sorts every dossier of the scope
into present, missing and checked out (to whom), and names the dossiers found here that belong elsewhere
(unexpected). Closing it keeps a snapshot of that result as the record; every step is in the audit trail.

Clearance: a dossier above the reader's clearance is neither listed nor counted, in the open result and in
the kept record alike; scanning its code answers as for a code that names no dossier.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import audit, paper_codes, policy
from vault.core import Vault
from vault.errors import Conflict, Invalid, NotFound
from vault.intake_models import Stocktake, StocktakeEntry, StocktakeMark, StocktakeStatus
from vault.models import Dossier, DossierStatus, User
from vault.services.checkouts import paper_holders
from vault.services.common import get_dossier, resolve_archive_no
from vault.services.fields import may_exist

STATES = ("present", "missing", "checked_out", "unexpected")


def _scope(raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str) or len(raw) > 200:
        raise Invalid("scope", "scope must be a location prefix (a room or cabinet, as in the dossiers' location), "
                      "up to 200 characters; leave it empty for the whole archive")
    return " ".join(unicodedata.normalize("NFKC", raw).split())


def in_scope(stocktake: Stocktake, dossier: Dossier) -> bool:
    """Whether the dossier's place is inside the stock-take's room or cabinet."""
    return dossier.location.strip().startswith(stocktake.scope)


def start(v: Vault, session: Session, actor: User, scope: Any) -> Stocktake:
    """Open a stock-take of a location (prefix of `location`) or, with an empty scope, of the whole archive."""
    policy.require(actor, "stocktake.run")
    now = v.clock.now()
    stocktake = Stocktake(scope=_scope(scope), status=StocktakeStatus.OPEN, started_by_id=actor.id, started_at=now)
    session.add(stocktake)
    session.flush()
    audit.record(session, actor, "stocktake.started", None, now=now, stocktake_id=stocktake.id, scope=stocktake.scope)
    return stocktake


def get(session: Session, actor: User, stocktake_id: int) -> Stocktake:
    """A stock-take, to the roles that may see them."""
    policy.require(actor, "stocktake.view")
    stocktake = session.get(Stocktake, stocktake_id) if may_exist(stocktake_id) else None
    if stocktake is None:
        raise NotFound("stock-take {stocktake_id} not found", params={"stocktake_id": stocktake_id},
                       code="stocktake_not_found")
    return stocktake


def list_stocktakes(session: Session, actor: User, limit: int = 50) -> list[Stocktake]:
    policy.require(actor, "stocktake.view")
    return list(session.scalars(select(Stocktake).order_by(Stocktake.id.desc()).limit(limit)))


def _open(session: Session, actor: User, stocktake_id: int) -> Stocktake:
    stocktake = get(session, actor, stocktake_id)
    policy.require(actor, "stocktake.run")
    if stocktake.status is not StocktakeStatus.OPEN:
        raise Conflict("stock-take {stocktake_id} is closed; start a new one to check again",
                       params={"stocktake_id": stocktake_id}, code="stocktake_closed")
    return stocktake


def _dossier_of(session: Session, actor: User, code: Any, dossier_id: Any) -> Dossier:
    """The dossier a tick (its id) or a scanned code names; a clear message for a code that names none."""
    if dossier_id is not None:
        if not isinstance(dossier_id, int) or isinstance(dossier_id, bool):
            raise Invalid("dossier_id", "dossier_id must be a number")
        return get_dossier(session, actor, dossier_id)
    if not isinstance(code, str) or not code.strip():
        raise Invalid("code", "scan a cover code (DVA1:…) or type an archive number like KH-2026-000006")
    text = code.strip()
    decoded = paper_codes.decode(text)
    if decoded is None and text.upper().startswith(paper_codes.PREFIX):
        raise Invalid("code", "this code is damaged or of a newer layout; type the archive number printed under it",
                      code="stocktake_unknown_code")
    try:
        return resolve_archive_no(session, actor, decoded.archive_no if decoded else text, field="code")
    except (NotFound, Invalid):
        raise NotFound("the code {code} names no dossier in the register (or none you may see); put the file "
                       "aside for the archivist and go on scanning", params={"code": text[:60]},
                       code="stocktake_unknown_code") from None


def mark(v: Vault, session: Session, actor: User, stocktake_id: int, *, code: Any = None,
         dossier_id: Any = None) -> dict[str, Any]:
    """Mark a dossier as found on the shelf (ticked or scanned); says whether it belongs here."""
    stocktake = _open(session, actor, stocktake_id)
    dossier = _dossier_of(session, actor, code, dossier_id)
    existing = session.scalar(select(StocktakeMark).where(StocktakeMark.stocktake_id == stocktake.id,
                                                          StocktakeMark.dossier_id == dossier.id))
    if existing is None:
        now = v.clock.now()
        session.add(StocktakeMark(stocktake_id=stocktake.id, dossier_id=dossier.id,
                                  method="tick" if dossier_id is not None else "scan", marked_by_id=actor.id,
                                  marked_at=now))
        audit.record(session, actor, "stocktake.marked", dossier, now=now, stocktake_id=stocktake.id,
                     method="tick" if dossier_id is not None else "scan")
    return {**_row(dossier, None), "state": "present" if in_scope(stocktake, dossier) else "unexpected",
            "already": existing is not None}


def unmark(v: Vault, session: Session, actor: User, stocktake_id: int, dossier_id: int) -> None:
    """Take back a tick given by mistake."""
    stocktake = _open(session, actor, stocktake_id)
    dossier = get_dossier(session, actor, dossier_id)
    row = session.scalar(select(StocktakeMark).where(StocktakeMark.stocktake_id == stocktake.id,
                                                     StocktakeMark.dossier_id == dossier.id))
    if row is not None:
        session.delete(row)
        audit.record(session, actor, "stocktake.unmarked", dossier, now=v.clock.now(), stocktake_id=stocktake.id)


def _row(dossier: Dossier, holder: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"dossier_id": dossier.id, "archive_no": dossier.archive_no,
                           "customer_name": dossier.customer_name, "location": dossier.location}
    if holder is not None:
        out["checked_out_to"] = holder.requester.display_name or holder.requester.username
        out["checkout_id"] = holder.id
        out["due_at"] = holder.due_at.isoformat() if holder.due_at else None
    return out


def _live(session: Session, stocktake: Stocktake) -> list[tuple[Dossier, str, Any]]:
    """Every dossier's state now, whatever the reader's clearance (the caller filters)."""
    marked = {m.dossier_id for m in stocktake.marks}
    dossiers = list(session.scalars(select(Dossier).where(Dossier.status != DossierStatus.DESTROYED)
                                    .order_by(Dossier.archive_no)))
    expected = [d for d in dossiers if in_scope(stocktake, d)]
    holders = paper_holders(session, [d.id for d in expected if d.id not in marked])
    out: list[tuple[Dossier, str, Any]] = []
    for d in expected:
        if d.id in marked:
            out.append((d, "present", None))
        elif d.id in holders:
            out.append((d, "checked_out", holders[d.id]))
        else:
            out.append((d, "missing", None))
    out.extend((d, "unexpected", None) for d in dossiers if d.id in marked and not in_scope(stocktake, d))
    return out


def result(session: Session, actor: User, stocktake: Stocktake) -> dict[str, Any]:
    """The stock-take's lists and counts, as the reader may see them (open: live; closed: the kept record)."""
    lists: dict[str, list[dict[str, Any]]] = {state: [] for state in STATES}
    if stocktake.status is StocktakeStatus.OPEN:
        for dossier, state, holder in _live(session, stocktake):
            if policy.can_see(actor, dossier):
                lists[state].append(_row(dossier, holder))
    else:
        for entry in stocktake.entries:
            if policy.can_see(actor, entry.dossier):
                row = _row(entry.dossier, None)
                if entry.holder is not None:
                    row["checked_out_to"] = entry.holder.display_name or entry.holder.username
                    row["checkout_id"] = entry.checkout_id
                lists[entry.state].append(row)
    return {"id": stocktake.id, "scope": stocktake.scope, "status": stocktake.status.value,
            "started_by": stocktake.started_by.username, "started_at": stocktake.started_at.isoformat(),
            "closed_at": stocktake.closed_at.isoformat() if stocktake.closed_at else None,
            "counts": {state: len(rows) for state, rows in lists.items()}, **lists}


def close(v: Vault, session: Session, actor: User, stocktake_id: int) -> Stocktake:
    """Close the stock-take and keep its result as it is now (the record the register is checked against)."""
    stocktake = _open(session, actor, stocktake_id)
    for dossier, state, holder in _live(session, stocktake):
        session.add(StocktakeEntry(stocktake_id=stocktake.id, dossier_id=dossier.id, state=state,
                                   holder_id=holder.requester_id if holder is not None else None,
                                   checkout_id=holder.id if holder is not None else None))
    now = v.clock.now()
    stocktake.status, stocktake.closed_by_id, stocktake.closed_at = StocktakeStatus.CLOSED, actor.id, now
    session.flush()
    session.refresh(stocktake)
    audit.record(session, actor, "stocktake.closed", None, now=now, stocktake_id=stocktake.id, scope=stocktake.scope)
    return stocktake
