"""The first administrator, created once by the service `dossier init` calls."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import func, select

from vault.core import Vault
from vault.models import AuditEvent, Role, User
from vault.services.users import ensure_first_admin


def test_the_first_admin_is_created_once_and_signs_in_with_the_one_time_password(
        vault: Vault, client: FlaskClient) -> None:
    with vault.session() as s:
        password = ensure_first_admin(vault, s)
    with vault.session() as s:
        again = ensure_first_admin(vault, s)
    assert password and again is None
    with vault.session() as s:
        assert s.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN)) == 1
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "user.created")) == 1
    r = client.post("/api/v1/auth/token", json={"username": "admin", "password": password})
    assert r.status_code == 201, r.get_json()
