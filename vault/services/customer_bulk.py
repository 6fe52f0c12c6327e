"""New customers of an import, checked one row at a time and written a batch at a time.

`NewCustomers.check` applies to one row every rule that creating the customer through `cards.create_customer`
and `cards.edit_card` applies (the dossier's fields, the owner, clearance, the card's fields, the ID number)
and keeps the row's values; nothing is written, so a refused row leaves nothing behind and a dry run only
checks. `NewCustomers.write` then writes the batch's customers with one statement per table (SQLAlchemy
executemany): the dossiers with consecutive archive numbers from one step of the year's counter, their
cards, a data key per dossier that has sensitive values (made and wrapped by the keyring here, in memory),
the sealed values with their lookup digests, the card history lines, and the same audit events the
one-by-one path records (`dossier.created`, `card.updated` with changes, sensitive ones only as "changed"),
held for the batch's chaining (`import_rows.end_batch`). The caller's unit of work commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from vault import audit, policy
from vault.card_values import add_months, normalise, parse_id_number
from vault.core import Vault
from vault.crypto import new_data_key
from vault.customer_models import CardHistory, CardSealed, CustomerCard
from vault.errors import Invalid, VaultError
from vault.models import Dossier, DossierKey, Grade, Secrecy, User
from vault.name_sort import name_sort_key
from vault.services import dossiers, sealed_fields
from vault.services.card_fields import LOOKUP, SEALED, clean_card_fields, history_row, interval_months, sensitive
from vault.services.cards import BLANK_CARD, clean_reason
from vault.services.common import queue_customer_reindex
from vault.services.import_rows import RowOutcome

_DOSSIER_DEFAULTS: dict[str, Any] = {"credit_code": None, "industry": "", "region": "", "location": ""}


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


@dataclass
class _New:
    outcome: RowOutcome
    dossier: dict[str, Any]  # the dossier's columns (no id, no archive number yet)
    card: dict[str, Any]  # the card's columns (no dossier id yet)
    sealed: dict[str, str]  # field -> plaintext, sealed at write time with the dossier's new key
    history: list[tuple[str, Any, Any, bool]]  # field, old, new, sensitive
    changes: dict[str, Any]  # the `card.updated` event's details (empty: no event)


@dataclass
class NewCustomers:
    """The new customers of the current batch of an import (see the module's docstring)."""

    v: Vault
    actor: User
    reason: str
    rows: list[_New] = field(default_factory=list)
    _owners: dict[str, int | VaultError] = field(default_factory=dict)

    def _owner_id(self, session: Session, username: Any) -> int:
        """`dossiers.owner_id`, asked once per user name of the file (not a query per row)."""
        key = str(username)
        if key not in self._owners:
            try:
                self._owners[key] = dossiers.owner_id(session, username)
            except VaultError as exc:
                self._owners[key] = exc
        found = self._owners[key]
        if isinstance(found, VaultError):
            raise found
        return found

    def check(self, session: Session, outcome: RowOutcome, kind: str, data: dict[str, Any],
              card_fields: dict[str, str]) -> None:
        """Check one new customer (`data`: the dossier's fields, `customer_kind` and an individual's
        `id_number`; `card_fields`: the card's other cells) and keep it for `write`; Invalid names the field."""
        v, now = self.v, self.v.clock.now()
        today = now.date()
        rest = {k: val for k, val in data.items() if k not in ("customer_kind", "id_number", "owner")}
        columns = dossiers.clean_new(session, rest)
        columns["owner_id"] = self._owner_id(session, data["owner"]) if "owner" in data else self.actor.id
        secrecy = columns.get("secrecy", Secrecy.INTERNAL)
        if not policy.within_clearance(self.actor, secrecy):
            raise Invalid("secrecy", "you cannot create a dossier above your own clearance")
        grade = columns.get("grade", Grade.B)
        columns = {**_DOSSIER_DEFAULTS, **columns}  # one shape for every row: one executemany per batch
        columns.update(name_sort=name_sort_key(columns["customer_name"]), created_at=now, updated_at=now,
                       created_by_id=self.actor.id, grade=grade, secrecy=secrecy,
                       next_review_date=add_months(today, interval_months(v.settings, grade)))
        card = {**BLANK_CARD, "customer_kind": kind}
        sealed: dict[str, str] = {}
        if kind == "individual":
            number = clean_card_fields(session, kind, {"id_number": data["id_number"]}, today)["id_number"]
            rid = parse_id_number(number, today)
            card.update(id_number_digest=sealed_fields.lookup_digest(v, "id_number", rid.number),
                        birth_date=rid.birth_date, gender=rid.gender)
            sealed["id_number"] = number
        history: list[tuple[str, Any, Any, bool]] = []
        changes: dict[str, Any] = {}
        # `cards.edit_card` on the new card, with the import's reason (its `may_edit` holds: only archivists and
        # the system account create dossiers, and this one is within the actor's clearance)
        if card_fields:
            clean_reason(self.reason)
            for name, new in clean_card_fields(session, kind, card_fields, today).items():
                if name in SEALED:
                    if new == "":
                        continue
                    sealed[name] = new
                    secret = sensitive(kind, name)
                    history.append((name, None, new, secret))
                    changes[name] = {"changed": True} if secret else {"old": None, "new": new}
                    continue
                old = card[name] if name != "backup_owner" else None
                old = old.isoformat() if isinstance(old, date) else old
                shown = getattr(new, "value", new)
                shown = shown.isoformat() if isinstance(shown, date) else shown
                if name == "backup_owner":
                    user = session.get(User, new) if new else None
                    shown = None if user is None else user.username
                    if new is not None and new == columns["owner_id"]:
                        raise Invalid("backup_owner", "the backup owner must be someone other than the owner")
                if old == shown or (old in (None, "") and shown in (None, "")):
                    continue
                card["backup_owner_id" if name == "backup_owner" else name] = new
                history.append((name, old, shown, False))
                changes[name] = {"old": old, "new": shown}
            if changes:
                card["updated_at"] = now
        self.rows.append(_New(outcome, columns, card, sealed, history, changes))

    def discard(self) -> None:
        """Forget the batch's customers (a dry run's)."""
        self.rows.clear()

    def write(self, session: Session) -> list[int]:
        """Write the batch's customers (see the module's docstring); their ids, also set on their outcomes."""
        if not self.rows:
            return []
        v, actor, now = self.v, self.actor, self.v.clock.now()
        batch, self.rows = self.rows, []
        numbers = dossiers.next_archive_numbers(session, now.year, len(batch))
        # Core executemany (the ORM's bulk insert splits rows whose None cells differ into many statements);
        # the new ids found by their archive numbers, which are unique (RETURNING in parameter order would be
        # a statement per row on SQLite)
        session.execute(insert(_table(Dossier)),
                        [{**new.dossier, "archive_no": no} for new, no in zip(batch, numbers, strict=True)])
        by_no = dict(session.execute(select(Dossier.archive_no, Dossier.id)
                                     .where(Dossier.archive_no.in_(numbers))).all())
        ids = [by_no[no] for no in numbers]
        cards: list[dict[str, Any]] = []
        keys: list[dict[str, Any]] = []
        sealed: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        for new, dossier_id, no in zip(batch, ids, numbers, strict=True):
            new.outcome.dossier_id = dossier_id
            cards.append({**new.card, "dossier_id": dossier_id})
            if new.sealed:
                uid, data_key = uuid.uuid4().hex, new_data_key()
                key_id, wrapped = v.keyring.wrap(data_key, uuid.UUID(hex=uid).bytes)
                keys.append({"dossier_id": dossier_id, "uid": uid, "key_id": key_id, "wrapped_key": wrapped,
                             "created_at": now})
                for name, value in new.sealed.items():
                    digest = sealed_fields.lookup_digest(v, name, normalise(name, value)) if name in LOOKUP else None
                    sealed.append({"dossier_id": dossier_id, "field": name, "digest": digest, "sealed":
                                   sealed_fields.seal_with_key(data_key, key_id, uid, f"card.{name}", value)})
            history.extend(history_row(actor, dossier_id, name, old, shown, self.reason, now, secret=secret)
                           for name, old, shown, secret in new.history)
            ref = audit.DossierRef(dossier_id)
            audit.record(session, actor, "dossier.created", ref, now=now, archive_no=no,
                         customer_name=new.dossier["customer_name"], credit_code=new.dossier.get("credit_code"),
                         secrecy=new.dossier["secrecy"].value)
            if new.changes:
                audit.record(session, actor, "card.updated", ref, now=now, changes=new.changes, reason=self.reason)
        for model, rows in ((CustomerCard, cards), (DossierKey, keys), (CardSealed, sealed), (CardHistory, history)):
            if rows:
                session.execute(insert(_table(model)), rows)
        queue_customer_reindex(session, ids, now)  # their cards are searchable at once: the batch's one job
        return ids
