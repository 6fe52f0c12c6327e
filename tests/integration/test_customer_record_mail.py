"""Notices of overdue complaints and follow-ups due go by e-mail when SMTP is configured (a real SMTP server on
loopback), and keep to the addressee's clearance like every notice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from tests.conftest import Api, People
from tests.integration.test_customer_records import add, owned_dossier
from tests.support.smtp_sink import SmtpSink, smtp_sink
from vault.clock import FixedClock
from vault.core import Vault
from vault.models import Dossier, Secrecy, User
from vault.services.follow_ups import send_due_notices


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as s:
        yield s


@pytest.fixture
def settings_overrides(sink: SmtpSink) -> dict[str, Any]:
    return {"smtp_host": "127.0.0.1", "smtp_port": sink.port, "token_ttl_hours": 24 * 365}


def test_an_overdue_complaint_is_mailed_to_its_handler_and_a_manager_without_what_it_says(
        vault: Vault, api: Api, people: People, clock: FixedClock, sink: SmtpSink) -> None:
    handler, manager = people.make("handler", "employee"), people.manager
    with vault.session() as s:
        s.execute(update(User).where(User.id == handler.id).values(email="handler@example.test"))
        s.execute(update(User).where(User.id == manager.id).values(email="boss@example.test"))
    d = owned_dossier(api, people)
    add(api, people.employee, d["id"], kind="complaint", summary="Plexwood质量投诉", handler="handler",
        deadline="2026-01-06")
    clock.advance(days=2)
    assert send_due_notices(vault) == (0, 1)
    assert len(sink.messages) == 2
    assert all(d["archive_no"] in m and "Plexwood" not in m for m in sink.messages)
    assert {"handler@example.test", "boss@example.test"} == {
        a for m in sink.messages for a in ("handler@example.test", "boss@example.test") if a in m}


def test_a_notice_about_a_dossier_raised_above_the_reader_leaves_their_list(
        vault: Vault, api: Api, people: People, clock: FixedClock) -> None:
    d = owned_dossier(api, people)
    add(api, people.employee, d["id"], kind="call", next_action="回电", next_action_due="2026-01-06")
    clock.advance(days=2)
    send_due_notices(vault)
    assert api.get(people.employee, "/api/v1/notifications").get_json()["total"] == 1
    with vault.session() as s:
        s.execute(update(Dossier).where(Dossier.id == d["id"]).values(secrecy=Secrecy.SECRET))
    assert api.get(people.employee, "/api/v1/notifications").get_json()["total"] == 0
