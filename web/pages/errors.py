"""Error pages for people (the API answers JSON from the same handler in web/errors.py)."""

from __future__ import annotations

import logging

from flask import render_template
from flask_babel import lazy_gettext as _l

log = logging.getLogger("dossier.web")

TITLES = {
    400: _l("The request could not be used"),
    401: _l("Please sign in"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    409: _l("This conflicts with the current state"),
    410: _l("This was destroyed"),
    413: _l("The file is too large"),
    415: _l("This file type is not supported"),
    422: _l("Some fields need attention"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong on our side"),
    503: _l("A service is unavailable"),
}
HINTS = {
    "csrf_failed": _l("The form expired or did not come from this site. Reload the page and try again."),
    "checkout_required": _l("You may see this document's details but not its content. Request a checkout first."),
    "view_only": _l("Your checkout is for reading in the page viewer, where every page carries your name. "
                    "Request a copy checkout for a stamped copy."),
    "stamping_failed": _l("This file cannot be stamped, so no copy is handed out. Read it in the viewer or ask an "
                          "archivist."),
    "copy_not_ready": _l("A stamped copy of this DOCX is made from its extracted text, which is not ready yet. "
                         "Try again once indexing has finished."),
    "pages_not_ready": _l("The pages of this DOCX are made from its extracted text, which is not ready yet. "
                          "Try again once indexing has finished."),
    "blob_integrity_error": _l("The stored file failed its integrity check: nothing was sent, and the failed read "
                               "was recorded. Tell an administrator."),
}


def render_error_page(status: int, code: str, message: str) -> str:
    """The HTML error page in the reader's language; falls back to plain HTML if rendering itself fails."""
    try:
        title = TITLES.get(status, TITLES[500] if status >= 500 else TITLES[400])
        hint = HINTS.get(code)
        return render_template("pages/error.html", status=status, code=code, title=title, hint=hint,
                               message=message)
    except Exception:  # noqa: BLE001 - the error page must never fail
        log.exception("error page could not be rendered")
        from markupsafe import escape

        return (f'<!doctype html><html><head><meta charset="utf-8"><title>{status}</title></head>'
                f"<body><h1>{status}</h1><p>{escape(message)}</p><p><a href=\"/\">Home</a></p></body></html>")
