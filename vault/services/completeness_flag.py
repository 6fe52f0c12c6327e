"""`dossiers.incomplete`, `card_stage`, `card_kind`: the list's card filters as columns of the dossier, kept exact
in the transaction of every change, so that a filtered list and its count read one table (one covering index).

`card_stage` and `card_kind` copy the card's stage and customer kind (prospect and organisation for a
dossier without a card).

A dossier is incomplete when it lacks an active document of a required type or a required card field of
its customer kind (the rule of `dossiers.completeness`, in SQL: `dossier_list.incomplete_clause`). Which
types and fields are required comes from the settings; the rules the flags were computed by are stored in
`completeness_rules`, and:

* every flush that adds, changes or removes a document, a card, a sealed card field or a dossier's
  card-visible columns recomputes the flags of the dossiers it touched, by the stored rules, in the same
  transaction (a session listener: no write path can forget it);
* a writer that bypasses the ORM (COPY, bulk `insert()`) calls `refresh_completeness(session, ids)`;
* `sync_rules(v)` (run by `Vault.open`) recomputes every flag when the settings' rules differ from the
  stored ones: a changed `required_*` setting takes effect at the next start of any process;
* the list uses these columns only while the stored rules are its own settings' rules (the rules row is
  written only by `sync_rules`, which computes every dossier's columns), and otherwise joins the cards and
  asks the slower question directly, so its answer is exact either way.

The rules row is read FOR SHARE by every refresh and taken FOR UPDATE by `sync_rules` (PostgreSQL), so a
recomputation and a write never cross with different rules. SQLite serialises writers anyway.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable
from functools import lru_cache
from itertools import chain
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, bindparam, case, event, func, inspect, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, aliased, attributes

from vault.customer_models import CardSealed, CustomerCard
from vault.models import CompletenessRules, Document, Dossier
from vault.services.card_fields import KINDS, ON_DOSSIER
from vault.services.dossier_list import incomplete_clause

if TYPE_CHECKING:
    from config.settings import Settings
    from vault.core import Vault

log = logging.getLogger(__name__)
DEFAULT_STAGE, DEFAULT_KIND = "prospect", "organisation"  # a dossier older than its card (dossier_list)
RULES_ID = 1
BATCH = 5000
_PENDING = "completeness_pending"
_DOSSIER_COLUMNS = tuple(ON_DOSSIER.values())  # a required field may live on the dossier row itself
_DOCUMENT_COLUMNS = ("dossier_id", "doc_type", "status")  # what of a document the flags depend on


def rules_of(settings: Settings) -> str:
    """The settings' completeness rules as the canonical JSON stored in `completeness_rules`."""
    return json.dumps({"doc_types": list(settings.required_doc_types),
                       **{kind: list(getattr(settings, f"required_card_fields_{kind}")) for kind in KINDS}},
                      sort_keys=True, ensure_ascii=False)


def flag_current(session: Session, settings: Settings) -> bool:
    """Whether the dossiers' list columns follow these settings' rules (else the list joins the cards and asks
    the question itself)."""
    return session.scalar(select(CompletenessRules.rules).where(CompletenessRules.id == RULES_ID)) == rules_of(settings)


def refresh_completeness(session: Session, dossier_ids: Iterable[int]) -> None:
    """Recompute `incomplete`, `card_stage` and `card_kind` of these dossiers (by the stored rules and their
    cards) in the session's transaction, rewriting only what differs. For writers that bypass the ORM (COPY,
    bulk `insert()`, a Core `delete()` of sealed fields); ORM changes are refreshed at each flush on their own."""
    session.flush()
    _refresh(session.connection(), set(dossier_ids))


def sync_rules(v: Vault) -> bool:
    """Bring every dossier's columns to the settings' rules if the stored ones differ (a changed `required_*`
    setting, or a database migrated to 0019); whether it recomputed. Owns its transaction.

    Processes starting together queue on the rules row (0019 creates it, empty) and the later ones find the
    work done. A recomputation that fails on a lock (a deadlock with a writer) is logged and given up: the
    list then asks its question directly, exact but slower, until the next start."""
    wanted = rules_of(v.settings)
    try:
        with v.session() as s:
            if s.scalar(select(CompletenessRules.rules).where(CompletenessRules.id == RULES_ID)) == wanted:
                return False
    except (OperationalError, ProgrammingError):  # a schema older than 0019 (before `dossier init` migrates)
        return False
    try:
        with v.session() as s:
            row = s.scalar(select(CompletenessRules).where(CompletenessRules.id == RULES_ID).with_for_update())
            if row is not None and row.rules == wanted:
                return False  # another process did it meanwhile
            if row is None:
                s.add(CompletenessRules(id=RULES_ID, rules=wanted))
            else:
                row.rules = wanted
            s.flush()
            conn, last = s.connection(), None
            while True:  # BATCH dossiers at a time, by id (ids may start anywhere: bigint sequences)
                q = select(Dossier.id).order_by(Dossier.id).limit(BATCH)
                ids = list(conn.scalars(q if last is None else q.where(Dossier.id > last)))
                if not ids:
                    break
                _write(conn, _computed(conn, wanted, Dossier.id.between(ids[0], ids[-1])))
                last = ids[-1]
    except (OperationalError, IntegrityError) as exc:
        log.warning("the dossier list's card columns were not recomputed for the new rules (%s); the list "
                    "reads the cards until the next start", type(exc).__name__)
        return False
    return True


Row = tuple[bool, str, str]  # (incomplete, stage, kind): the columns this module keeps on `dossiers`


def _computed(conn: Connection, rules: str, where: Any) -> list[tuple[int, Row, Row]]:
    """(id, stored columns, columns by `rules` (their JSON) and the card) of the dossiers matching `where`."""
    return _rows(conn.execute(_query(rules).where(where)))


def _of_ids(conn: Connection, rules: str, ids: Collection[int]) -> list[tuple[int, Row, Row]]:
    """`_computed` for these dossiers, by a statement built once per rules (every upload's flush runs it)."""
    return _rows(conn.execute(_query_of_ids(rules), {"ids": sorted(ids)}))


def _rows(result: Iterable[Any]) -> list[tuple[int, Row, Row]]:
    return [(r[0], (bool(r[1]), r[2], r[3]), (bool(r[4]), r[5], r[6])) for r in result]


@lru_cache(maxsize=8)
def _query(rules: str) -> Select[Any]:
    """The columns' query by these rules (their JSON), without its WHERE: built once, it is immutable."""
    parsed = json.loads(rules)
    card = aliased(CustomerCard)
    clause = incomplete_clause(card, tuple(parsed["doc_types"]), {k: tuple(parsed[k]) for k in KINDS},
                               correlated=True)
    return (select(Dossier.id, Dossier.incomplete, Dossier.card_stage, Dossier.card_kind,
                   case((clause, True), else_=False), func.coalesce(card.stage, DEFAULT_STAGE),
                   func.coalesce(card.customer_kind, DEFAULT_KIND))
            .outerjoin(card, card.dossier_id == Dossier.id))


@lru_cache(maxsize=8)
def _query_of_ids(rules: str) -> Select[Any]:
    return _query(rules).where(Dossier.id.in_(bindparam("ids", expanding=True)))


def _write(conn: Connection, computed: list[tuple[int, Row, Row]]) -> dict[int, Row]:
    """Store the columns that changed, one UPDATE per distinct value; {id: columns} of those."""
    changed = {i: new for i, old, new in computed if old != new}
    groups: dict[Row, list[int]] = {}
    for i, row in changed.items():
        groups.setdefault(row, []).append(i)
    for (incomplete, stage, kind), ids in groups.items():
        for start in range(0, len(ids), BATCH):
            conn.execute(update(Dossier).where(Dossier.id.in_(ids[start:start + BATCH]))
                         .values(incomplete=incomplete, card_stage=stage, card_kind=kind))
    return changed


def _refresh(conn: Connection, ids: Collection[int]) -> dict[int, Row]:
    if not ids:
        return {}
    rules_q = select(CompletenessRules.rules).where(CompletenessRules.id == RULES_ID)
    if conn.dialect.name == "postgresql":
        rules_q = rules_q.with_for_update(read=True)
    stored = conn.scalar(rules_q)
    if not stored:  # no rules yet: the list asks the question itself until sync_rules runs
        return {}
    return _write(conn, _of_ids(conn, stored, ids))


# -- the session listener: every ORM change refreshes the flags of the dossiers it touched ------------------

def _touches(session: Session) -> Iterable[Any]:
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, Document) and obj in session.dirty and obj not in session.deleted and not any(
                inspect(obj).attrs[c].history.has_changes() for c in _DOCUMENT_COLUMNS):
            continue  # a title, an item number, a current version: nothing the flags depend on
        if isinstance(obj, Document | CustomerCard | CardSealed):
            yield obj
        elif isinstance(obj, Dossier) and obj not in session.deleted and (
                obj in session.new or any(inspect(obj).attrs[c].history.has_changes() for c in _DOSSIER_COLUMNS)):
            yield obj


@event.listens_for(Session, "before_flush")
def _collect(session: Session, _ctx: Any, _instances: Any) -> None:
    touched = list(_touches(session))
    if touched:
        session.info.setdefault(_PENDING, []).extend(touched)


@event.listens_for(Session, "after_flush_postexec")
def _refresh_touched(session: Session, _ctx: Any) -> None:
    touched = session.info.pop(_PENDING, None)
    if not touched:
        return
    ids = {obj.id if isinstance(obj, Dossier) else obj.dossier_id for obj in touched}
    changed = _refresh(session.connection(), {i for i in ids if i is not None})
    for dossier_id, row in changed.items():  # a loaded dossier shows its new columns without a reload
        obj = session.identity_map.get(inspect(Dossier).identity_key_from_primary_key((dossier_id,)))
        if obj is not None:
            for name, value in zip(("incomplete", "card_stage", "card_kind"), row, strict=True):
                attributes.set_committed_value(obj, name, value)
