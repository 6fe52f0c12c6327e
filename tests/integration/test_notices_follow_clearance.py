"""Notices that name a dossier follow its clearance after the fact: review reminders and overdue transfers
leave the list of whoever the dossier is raised above, and their e-mail is withheld, while a reader cleared
for the new level keeps them (a real SMTP server on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import Api, People
from tests.support.smtp_sink import SmtpSink, smtp_sink
from vault.clock import FixedClock
from vault.core import Vault
from vault.models import Notification, User
from vault.services.notifications import send_pending_email
from vault.services.reviews import send_reminders
from vault.services.transfer_register import run_overdue_transfers


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as s:
        yield s


@pytest.fixture
def settings_overrides(sink: SmtpSink) -> dict[str, Any]:
    return {"smtp_host": "127.0.0.1", "smtp_port": sink.port, "token_ttl_hours": 24 * 365}


def _set_email(vault: Vault, user: User, email: str) -> None:
    with vault.session() as s:
        s.execute(update(User).where(User.id == user.id).values(email=email))


def _raise_to_secret(api: Api, people: People, dossier_id: int) -> None:
    r = api.patch(people.make("s-arch", "archivist", "secret"), f"/api/v1/dossiers/{dossier_id}",
                  json={"secrecy": "secret"})
    assert r.status_code == 200, r.get_json()


def _subjects(api: Api, user: User) -> list[str]:
    body = api.get(user, "/api/v1/notifications").get_json()
    assert body["total"] == len(body["items"])
    return [n["subject"] for n in body["items"]]


def test_a_review_reminder_leaves_the_list_and_the_mail_of_an_owner_the_dossier_is_raised_above(
        api: Api, people: People, vault: Vault, clock: FixedClock, sink: SmtpSink) -> None:
    owner, backup = people.employee, people.make("s-emp", "employee", "secret")
    d = api.new_dossier(people.archivist, grade="A", owner=owner.username)
    assert api.patch(people.archivist, f"/api/v1/dossiers/{d['id']}/card",
                     json={"fields": {"backup_owner": "s-emp"}, "reason": "A/B 岗"}).status_code == 200
    clock.advance(days=80)  # the review is due within the reminder window
    assert send_reminders(vault) == 2
    with vault.session() as s:
        assert set(s.scalars(select(Notification.dossier_id).where(Notification.kind == "review_due"))) == {d["id"]}
    assert [d["archive_no"] in x for x in _subjects(api, owner)] == [True]
    _raise_to_secret(api, people, d["id"])
    assert _subjects(api, owner) == [], "the reminder names a dossier now above the owner's clearance"
    assert [d["archive_no"] in x for x in _subjects(api, backup)] == [True], "cleared for secret: kept"
    # their addresses become known only now: the mail goes out after the raise, and only where it may
    _set_email(vault, owner, "owner@example.test")
    _set_email(vault, backup, "backup@example.test")
    assert send_pending_email(vault) == 1
    assert len(sink.messages) == 1 and "backup@example.test" in sink.messages[0]
    assert "owner@example.test" not in sink.messages[0] and d["archive_no"] in sink.messages[0]


def test_an_overdue_transfer_notice_leaves_the_list_and_the_mail_of_a_manager_below_the_new_secrecy(
        api: Api, people: People, vault: Vault, clock: FixedClock, sink: SmtpSink) -> None:
    d = api.new_dossier(people.archivist)
    manager, cleared = people.manager, people.make("s-mgr", "manager", "secret")
    r = api.post(people.employee, "/api/v1/transfers", json={"dossier_id": d["id"], "note": "季度移交", "items": [
        {"title": "采购合同", "doc_type": "contract", "doc_date": "2026-01-02", "pages": 3, "original": True}]})
    assert r.status_code == 201, r.get_json()
    clock.advance(days=10)
    assert run_overdue_transfers(vault) == [r.get_json()["id"]]
    with vault.session() as s:
        assert set(s.scalars(select(Notification.dossier_id)
                             .where(Notification.kind == "transfer.overdue"))) == {d["id"]}
    assert len(_subjects(api, manager)) == 1 and len(_subjects(api, cleared)) == 1
    _raise_to_secret(api, people, d["id"])
    assert _subjects(api, manager) == [] and _subjects(api, people.employee) == []
    assert len(_subjects(api, cleared)) == 1
    _set_email(vault, manager, "boss@example.test")
    _set_email(vault, cleared, "cleared@example.test")
    assert send_pending_email(vault) == 1
    assert len(sink.messages) == 1 and "cleared@example.test" in sink.messages[0]
    assert "boss@example.test" not in sink.messages[0]
