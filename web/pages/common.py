"""What every page blueprint shares: labels for domain values, paging, form errors."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from vault.core import Vault
from vault.errors import VaultError
from vault.models import Checkout, DocType
from vault.paging import MAX_PER_PAGE
from web.serialize import checkout_json

DOC_TYPES: dict[str, Any] = {
    DocType.CONTRACT: _l("Contract"), DocType.LICENSE: _l("Business license"),
    DocType.CREDIT_REPORT: _l("Credit report"), DocType.CORRESPONDENCE: _l("Correspondence"),
    DocType.ID_PROOF: _l("ID proof"), DocType.INVOICE: _l("Invoice"), DocType.OTHER: _l("Other"),
}
INDEX_STATUS = {"queued": _l("queued"), "extracting": _l("extracting"), "indexed": _l("indexed"),
                "failed": _l("failed")}
SECRECY = {"public": _l("public"), "internal": _l("internal"), "confidential": _l("confidential"),
           "secret": _l("secret")}
CUSTOMER_TYPES = {"supplier": _l("supplier"), "client": _l("client"), "partner": _l("partner")}
DOSSIER_STATUS = {"active": _l("active"), "closed": _l("closed"), "destroyed": _l("destroyed")}
ROLES = {"admin": _l("administrator"), "archivist": _l("archivist"), "employee": _l("employee"),
         "legal": _l("legal"), "manager": _l("manager"), "system": _l("system")}
CHECKOUT_STATUS = {"pending": _l("pending"), "approved": _l("approved"), "rejected": _l("rejected"),
                   "active": _l("active"), "returned": _l("returned"), "closed": _l("closed"),
                   "overdue": _l("overdue"), "cancelled": _l("cancelled")}
CHECKOUT_KINDS = {"view": _l("view"), "copy": _l("copy"), "physical": _l("physical (paper)")}
GRADES = ("A", "B", "C", "D")

# service messages are English; these say the same for the fields a person fills in, in their language
FIELD_MESSAGES = {
    "invalid_credit_code": _l("Invalid unified social credit code (check digit does not match)."),
    "duplicate_credit_code": _l("A dossier for this credit code exists already: one customer, one dossier."),
    "old_password": _l("The current password is wrong."),
    "password": _l("A password needs at least 10 characters."),
    "customer_name": _l("Enter the customer's name."),
    "owner": _l("No active employee with this username can own a dossier."),
    "secrecy": _l("You cannot set a secrecy level above your own clearance."),
    "username": _l("Use 2-64 letters, digits, '.', '_' or '-'."),
}


def label(table: dict[str, Any], value: Any) -> str:
    key = getattr(value, "value", value)
    return str(table.get(key, key)) if key is not None else ""


def field_message(exc: VaultError) -> str:
    """What a domain error says, in the reader's language (a field's own sentence where there is one)."""
    from web.errors import message_for

    own = own_field_message(exc.code, getattr(exc, "field", None))
    return own if own is not None else message_for(exc)


def own_field_message(code: str | None, field: str | None) -> str | None:
    """A field's or an error code's own sentence, in the reader's language, where there is one."""
    for key in (code, field):
        if key in FIELD_MESSAGES:
            return str(FIELD_MESSAGES[key])
    return None


def page_args(default_per_page: int = 20) -> tuple[int, int]:
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    try:
        per_page = min(MAX_PER_PAGE, max(1, int(request.args.get("per_page", default_per_page))))
    except ValueError:
        per_page = default_per_page
    return page, per_page


def highlight(snippet: str | None) -> Markup:
    """A search snippet as page markup: its text escaped exactly once, its <mark> hit markers kept.

    The search service hands snippets over escaped for HTML (the API's contract); their text is read
    back and escaped anew here, so nothing but <mark> can ever be markup on the page.
    """
    parts = re.split(r"(</?mark>)", snippet or "")
    return Markup("".join(p if p in ("<mark>", "</mark>") else str(escape(html.unescape(p))) for p in parts))


def checkout_rows(v: Vault, checkouts: Sequence[Checkout]) -> list[dict[str, Any]]:
    """Checkouts as the pages list them: their JSON (`web.serialize.checkout_json`) and the time left."""
    now = v.clock.now()
    rows = []
    for c in checkouts:
        # time left counts started units: a 3-day checkout an hour old has 3 days left (2 d 23 h), not 2
        seconds = (c.due_at - now).total_seconds() if c.due_at is not None else 0.0
        rows.append({**checkout_json(v, c), "hours_left": math.ceil(seconds / 3600) if seconds > 0 else 0,
                     "days_left": math.ceil(seconds / 86400) if seconds > 0 else 0})
    return rows
