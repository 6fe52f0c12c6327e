"""Who may do what: the access table of ARCHITECTURE.md, checked in the service layer only.

Things a caller may not know exist raise NotFound (404), not Forbidden, so probing ids reveals nothing.

Clearance is decided once, by `within_clearance`; everything else derives from it: `can_see` for a
dossier, `levels_within_clearance` and `visible_dossier_ids` for queries, `batches_above_clearance`
for destruction batches. What names, numbers or tells the story of a dossier (its documents, checkouts,
holds, audit events, destruction batches and certificates, notifications, reports) is shown only
within clearance: a single object above it is 404, a list leaves it out and does not count it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from vault.customer_models import CustomerCard
from vault.errors import Forbidden, NotFound
from vault.grants import Grants, active_grants
from vault.models import (
    Checkout,
    CheckoutKind,
    CheckoutStatus,
    DestructionBatch,
    DestructionItem,
    DestructionStatus,
    Document,
    Dossier,
    Role,
    Secrecy,
    User,
)

CONTENT_ROLES = frozenset({Role.ARCHIVIST, Role.MANAGER, Role.LEGAL})

_ALLOWED: dict[str, frozenset[Role]] = {
    "dossier.create": frozenset({Role.ARCHIVIST, Role.SYSTEM}),
    "dossier.update": frozenset({Role.ARCHIVIST, Role.SYSTEM}),
    # whoever handled the business hands over the paper file of a customer the archive has not seen yet:
    # the transfer opens the customer's dossier (移交 of a new customer), owned by default by the sender
    "transfer.new_customer": frozenset({Role.ARCHIVIST, Role.EMPLOYEE, Role.MANAGER, Role.LEGAL}),
    "document.upload": frozenset({Role.ARCHIVIST, Role.SYSTEM}),
    "document.read_old_versions": frozenset({Role.ARCHIVIST}),
    "document.reextract": frozenset({Role.ARCHIVIST}),
    "user.manage": frozenset({Role.ADMIN, Role.SYSTEM}),
    "keys.manage": frozenset({Role.ADMIN, Role.SYSTEM}),
    "audit.list": frozenset({Role.ADMIN, Role.LEGAL, Role.MANAGER, Role.SYSTEM}),
    "audit.verify": frozenset({Role.ADMIN, Role.LEGAL, Role.SYSTEM}),
    "search": frozenset({Role.ADMIN, Role.ARCHIVIST, Role.EMPLOYEE, Role.LEGAL, Role.MANAGER}),
    # workflows (checkout, legal hold, retention, destruction, reports)
    "checkout.request": frozenset({Role.ARCHIVIST, Role.EMPLOYEE, Role.LEGAL, Role.MANAGER}),
    "checkout.handover": frozenset({Role.ARCHIVIST}),
    "checkout.receive": frozenset({Role.ARCHIVIST}),
    "checkout.list_all": frozenset({Role.ARCHIVIST, Role.LEGAL, Role.MANAGER, Role.SYSTEM}),
    "checkout.process_overdue": frozenset({Role.ARCHIVIST, Role.SYSTEM}),
    "hold.manage": frozenset({Role.LEGAL}),
    "hold.list": frozenset({Role.ARCHIVIST, Role.LEGAL, Role.MANAGER, Role.SYSTEM}),
    "retention.view": frozenset({Role.ARCHIVIST, Role.LEGAL, Role.MANAGER, Role.ADMIN, Role.SYSTEM}),
    "retention.due": frozenset({Role.ARCHIVIST, Role.LEGAL, Role.MANAGER, Role.SYSTEM}),
    "retention.edit": frozenset({Role.ADMIN, Role.SYSTEM}),
    "calendar.edit": frozenset({Role.ADMIN, Role.SYSTEM}),  # holidays and make-up working days (调休)
    "destruction.propose": frozenset({Role.ARCHIVIST}),
    "destruction.approve": frozenset({Role.MANAGER, Role.LEGAL}),
    "destruction.execute": frozenset({Role.ARCHIVIST}),
    "destruction.view": frozenset({Role.ARCHIVIST, Role.LEGAL, Role.MANAGER, Role.SYSTEM}),
    "report.view": frozenset({Role.ARCHIVIST, Role.LEGAL, Role.MANAGER, Role.SYSTEM}),
    "ledger.view": frozenset({Role.ARCHIVIST, Role.LEGAL, Role.MANAGER, Role.SYSTEM}),
    "report.periodic": frozenset({Role.ARCHIVIST, Role.MANAGER, Role.SYSTEM}),
    "stocktake.run": frozenset({Role.ARCHIVIST}),  # 盘点: start, mark dossiers present, close
    "stocktake.view": frozenset({Role.ARCHIVIST, Role.LEGAL, Role.MANAGER, Role.SYSTEM}),
}


def allowed(actor: User, action: str) -> bool:
    return actor.active and actor.role in _ALLOWED[action]


def require(actor: User, action: str) -> None:
    """Raise Forbidden unless the actor's role may perform `action`."""
    if not allowed(actor, action):
        raise Forbidden("your role ({role}) may not do this ({action})",
                        params={"role": actor.role.value, "action": action}, code="forbidden")


def within_clearance(actor: User, secrecy: Secrecy) -> bool:
    """Whether the actor may know of something at this secrecy level: the one clearance rule.

    Active users up to their clearance; the system account (the operator's command line) everything;
    an inactive account nothing."""
    if not actor.active:
        return False
    if actor.role is Role.SYSTEM:
        return True
    return secrecy.rank <= actor.clearance.rank


def levels_within_clearance(actor: User) -> tuple[Secrecy, ...]:
    """The secrecy levels `within_clearance` lets the actor see, for `Dossier.secrecy.in_(...)` in queries."""
    return tuple(level for level in Secrecy if within_clearance(actor, level))


def visible_dossier_ids(actor: User) -> Select[int]:
    """A subquery of the ids of the dossiers within the actor's clearance."""
    return select(Dossier.id).where(Dossier.secrecy.in_(levels_within_clearance(actor)))


def batches_above_clearance(actor: User) -> Select[int]:
    """A subquery of the ids of destruction batches holding any document of a dossier above clearance.

    Such a batch is 404 to the actor, and lists (the register, the audit trail) leave it out."""
    return (select(DestructionItem.batch_id).join(Document, Document.id == DestructionItem.document_id)
            .where(Document.dossier_id.not_in(visible_dossier_ids(actor))))


def can_see(actor: User, dossier: Dossier) -> bool:
    """Dossier metadata is visible within clearance, to every role."""
    return within_clearance(actor, dossier.secrecy)


def can_see_batch(actor: User, batch: DestructionBatch) -> bool:
    """A destruction batch is visible when every document in it is: the row form of `batches_above_clearance`."""
    return all(can_see(actor, item.document.dossier) for item in batch.items)


def require_see(actor: User, dossier: Dossier) -> None:
    if not can_see(actor, dossier):
        raise NotFound("dossier {id} not found", params={"id": dossier.id}, code="dossier_not_found")


def is_keeper(session: Session, actor: User, dossier: Dossier) -> bool:
    """Whether the actor keeps this dossier's customer: its owner or the backup owner on its card (A/B 岗).

    Keepers read the dossier's documents, records and contacts as the owner does (within clearance)."""
    if dossier.owner_id == actor.id:
        return True
    card = session.get(CustomerCard, dossier.id)
    return card is not None and card.backup_owner_id == actor.id


def backed_up_dossier_ids(actor: User) -> Select[int]:
    """A subquery of the ids of the dossiers whose card names the actor as backup owner."""
    return select(CustomerCard.dossier_id).where(CustomerCard.backup_owner_id == actor.id)


def can_read(session: Session, actor: User, document: Document, now: datetime, grants: Grants | None = None) -> bool:
    """Document content: content roles within clearance, owners and backup owners, what active checkouts grant.

    ``grants``: the actor's `active_grants` at ``now``, when the caller checks many documents at once."""
    dossier = document.dossier
    if not can_see(actor, dossier) or actor.role in (Role.ADMIN, Role.SYSTEM):
        return False
    if actor.role in CONTENT_ROLES:
        return True
    if is_keeper(session, actor, dossier):
        return True
    if grants is None:
        grants = active_grants(session, actor, now)
    return dossier.id in grants.dossier_ids or document.id in grants.document_ids


def require_read(session: Session, actor: User, document: Document, now: datetime) -> None:
    """NotFound when the dossier is invisible; Forbidden when visible but content is not granted."""
    require_see(actor, document.dossier)
    if not can_read(session, actor, document, now):
        raise Forbidden(
            "you may see this document's metadata but not its content; request a checkout (借阅) first",
            code="checkout_required",
        )


@dataclass(frozen=True)
class Scope:
    """What content the actor may read everywhere: the shape every search engine filters by, inside its query."""

    # secrecy levels the caller may read in every dossier (archivist, legal, manager), or None
    all_dossiers_up_to: tuple[str, ...] | None
    # dossiers readable wholly (the owner's, those backed up, and those a checkout grants)
    dossier_ids: frozenset[int]
    # single documents readable (checkout grants)
    document_ids: frozenset[int]
    # dossier_ids again, for an engine that indexes owners: those owner_id owns at owned_levels,
    # plus granted_dossier_ids (what checkouts grant and the dossiers the caller backs up)
    owner_id: int | None = None
    owned_levels: tuple[str, ...] = ()
    granted_dossier_ids: frozenset[int] = frozenset()
    # the levels of the customer cards readable in every dossier ("card.<level>", indexer.customer_entries):
    # apart from all_dossiers_up_to, so that a caller reading every card is not taken for one reading everything
    card_levels: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        """Whether the caller may read nothing at all."""
        return not self.levels_everywhere() and not self.dossier_ids and not self.document_ids

    def levels_everywhere(self) -> tuple[str, ...]:
        """The levels read in every dossier: all_dossiers_up_to, then card_levels."""
        return (*(self.all_dossiers_up_to or ()), *self.card_levels)


def read_scope(session: Session, actor: User, now: datetime) -> Scope:
    """Everything the actor may read, for search: never wider than can_read."""
    if not actor.active or actor.role in (Role.ADMIN, Role.SYSTEM):
        return Scope(None, frozenset(), frozenset())
    levels = tuple(s.value for s in levels_within_clearance(actor))
    if actor.role in CONTENT_ROLES:
        return Scope(levels, frozenset(), frozenset())
    owned = session.scalars(
        select(Dossier.id).where(Dossier.owner_id == actor.id, Dossier.secrecy.in_(levels))
    ).all()
    grants = active_grants(session, actor, now)
    # backed-up dossiers are read by id (the index knows owners, not backups), like granted ones
    visible_granted = set(session.scalars(
        select(Dossier.id).where(Dossier.id.in_(backed_up_dossier_ids(actor)), Dossier.secrecy.in_(levels))
    ).all())
    if grants.dossier_ids:
        visible_granted |= set(session.scalars(
            select(Dossier.id).where(Dossier.id.in_(grants.dossier_ids), Dossier.secrecy.in_(levels))
        ).all())
    doc_ids: set[int] = set()
    if grants.document_ids:
        doc_ids = set(session.scalars(
            select(Document.id).join(Dossier, Document.dossier_id == Dossier.id)
            .where(Document.id.in_(grants.document_ids), Dossier.secrecy.in_(levels))
        ).all())
    return Scope(None, frozenset(owned) | frozenset(visible_granted), frozenset(doc_ids), actor.id, levels,
                 frozenset(visible_granted))


def checkout_approver_role(dossier: Dossier) -> Role:
    """Who approves a checkout of this dossier: an archivist; a manager for a secret dossier."""
    return Role.MANAGER if dossier.secrecy is Secrecy.SECRET else Role.ARCHIVIST


def require_checkout_approver(actor: User, requester_id: int, dossier: Dossier) -> None:
    """Forbidden for the requester (nobody approves their own request) and for the wrong role."""
    require_see(actor, dossier)
    if actor.id == requester_id:
        raise Forbidden("nobody approves or rejects their own request; ask a colleague", code="own_request")
    needed = checkout_approver_role(dossier)
    if not actor.active or actor.role is not needed:
        raise Forbidden("a checkout of a {secrecy} dossier is decided by a {role}",
                        params={"secrecy": dossier.secrecy.value, "role": needed.value},
                        code="forbidden")


@dataclass(frozen=True)
class CheckoutActions:
    """What the actor may do with a checkout now: the buttons a page shows are the calls the API accepts."""

    approver_role: Role  # who decides it ("needs a manager" is shown, not guessed)
    may_decide: bool  # approve or reject
    may_return: bool
    may_hand_over: bool  # the paper file, to the requester
    may_receive: bool  # the paper file, back


def checkout_actions(actor: User, checkout: Checkout) -> CheckoutActions:
    """The actions of `CheckoutActions` open to the actor on this checkout in its present state."""
    status, physical = checkout.status, checkout.kind is CheckoutKind.PHYSICAL
    approver = checkout_approver_role(checkout.dossier)
    own = checkout.requester_id == actor.id
    return CheckoutActions(
        approver_role=approver,
        may_decide=status is CheckoutStatus.PENDING and not own and actor.role is approver,
        may_return=own and status is CheckoutStatus.ACTIVE,
        may_hand_over=allowed(actor, "checkout.handover") and status is CheckoutStatus.APPROVED and physical
        and not own,
        may_receive=allowed(actor, "checkout.receive") and physical
        and status in (CheckoutStatus.ACTIVE, CheckoutStatus.RETURNED),
    )


@dataclass(frozen=True)
class BatchActions:
    """What the actor may do with a destruction batch now."""

    may_approve: bool  # a second approver, not the proposer, not the first approver
    may_execute: bool
    awaits_me: bool  # proposed, and my role's approval is still missing


def batch_actions(actor: User, batch: DestructionBatch) -> BatchActions:
    """The actions of `BatchActions` open to the actor on this batch in its present state."""
    proposed = batch.status is DestructionStatus.PROPOSED
    may_approve = allowed(actor, "destruction.approve")
    mine = batch.manager_approver_id if actor.role is Role.MANAGER else batch.legal_approver_id
    return BatchActions(
        may_approve=may_approve and proposed
        and actor.id not in (batch.proposed_by_id, batch.manager_approver_id, batch.legal_approver_id),
        may_execute=allowed(actor, "destruction.execute") and batch.status is DestructionStatus.APPROVED,
        awaits_me=may_approve and proposed and mine is None and actor.id != batch.proposed_by_id,
    )
