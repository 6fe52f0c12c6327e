"""What handlers need from the app: the vault, a unit of work, the acting user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from flask import current_app
from flask_login import current_user
from sqlalchemy.orm import Session

from vault.core import Vault
from vault.errors import NotAuthenticated
from vault.models import User


def get_vault() -> Vault:
    return cast(Vault, current_app.extensions["vault"])


@contextmanager
def unit_of_work() -> Iterator[Session]:
    with get_vault().session() as session:
        yield session


def actor() -> User:
    """The signed-in user (session cookie or bearer token)."""
    user = current_user._get_current_object() if current_user else None  # noqa: SLF001
    if user is None or not getattr(user, "is_authenticated", False):
        raise NotAuthenticated("sign in first: POST /api/v1/auth/token, then send Authorization: Bearer <token>")
    return cast(User, user)
