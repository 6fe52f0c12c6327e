"""Turning raw input values into domain values, with a 422 that names the field."""

from __future__ import annotations

from datetime import date
from typing import Any

from vault.errors import Invalid

#: The largest id a row can have: ids are 64-bit on both databases (BIGINT on PostgreSQL since migration
#: 0006, INTEGER on SQLite). A larger id exists nowhere, and is answered as not found before it reaches
#: the database, whose driver would refuse it as out of range (a 500) instead of finding nothing.
MAX_ID = 2**63 - 1


def may_exist(id_: int) -> bool:
    """Whether a row could have this id; when not, the caller answers as for an id that is not there."""
    return 0 < id_ <= MAX_ID


def clean_text(field: str, raw: Any, *, required: bool = False, max_len: int = 200) -> str:
    """Text with whitespace runs collapsed; Invalid when missing (if required), not text, or too long."""
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise Invalid(field, "{field} must be text")
    value = " ".join(raw.split())
    if required and not value:
        raise Invalid(field, "{field} is required")
    if len(value) > max_len:
        raise Invalid(field, "{field} is longer than {max_len} characters", params={"max_len": max_len})
    return value


def parse_date(field: str, raw: Any) -> date | None:
    """An ISO date (or None when empty); Invalid naming the field otherwise."""
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise Invalid(field, "{field} must be a date like 2024-03-09, got {raw!r}", params={"raw": raw}) from None
