"""Notification e-mail, sent to a real SMTP server on loopback, follows the clearance rule of the in-app list."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from tests.conftest import Api, People
from tests.integration.test_checkouts import _approve, _dossier_with_doc, _request
from tests.support.smtp_sink import SmtpSink, smtp_sink
from vault.core import Vault
from vault.models import Dossier, Secrecy, User
from vault.services.notifications import send_pending_email


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as s:
        yield s


@pytest.fixture
def settings_overrides(sink: SmtpSink) -> dict[str, Any]:
    return {"smtp_host": "127.0.0.1", "smtp_port": sink.port}


def _with_email(vault: Vault, user: User, email: str) -> None:
    with vault.session() as s:
        s.execute(update(User).where(User.id == user.id).values(email=email))


def test_a_notice_is_mailed_but_not_once_its_dossier_is_raised_above_the_addressee(
        vault: Vault, api: Api, people: People, sink: SmtpSink) -> None:
    employee = people.make("wang.fang", "employee", clearance="internal")
    _with_email(vault, employee, "wang.fang@example.test")
    kept, _ = _dossier_with_doc(api, people, customer_name="上海明远贸易有限公司", secrecy="internal")
    raised, _ = _dossier_with_doc(api, people, customer_name="杭州秘密机电有限公司", secrecy="internal")
    for d in (kept, raised):
        _approve(api, people.archivist, _request(api, employee, d["id"])["id"])
    with vault.session() as s:  # raised to secret after the notices were written, before they are mailed
        s.execute(update(Dossier).where(Dossier.id == raised["id"]).values(secrecy=Secrecy.SECRET))

    assert send_pending_email(vault) == 1
    assert len(sink.messages) == 1
    assert kept["archive_no"] in sink.messages[0]
    assert raised["archive_no"] not in sink.messages[0] and "杭州秘密机电" not in sink.messages[0]
    assert send_pending_email(vault) == 0, "the withheld notice is settled, not tried again"
    assert len(sink.messages) == 1
