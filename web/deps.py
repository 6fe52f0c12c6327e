"""What handlers need from the app: the runtime (vault, search index), a unit of work, the acting user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from flask import Flask, current_app
from flask_login import current_user
from sqlalchemy.orm import Session

from indexer.search_index import SearchIndex
from vault.core import Vault
from vault.errors import NotAuthenticated
from vault.models import User
from web.bootstrap import Runtime

RUNTIME_KEY = "dossier_runtime"  # the one entry create_app puts in app.extensions


def runtime_of(app: Flask) -> Runtime:
    """The runtime the app was built with (web.bootstrap); no request needed."""
    return cast(Runtime, app.extensions[RUNTIME_KEY])


def get_runtime() -> Runtime:
    """The runtime of the app serving this request."""
    return runtime_of(current_app)


def get_vault() -> Vault:
    return get_runtime().vault


def get_index() -> SearchIndex:
    """The search index, for the handlers that search."""
    return get_runtime().index


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
