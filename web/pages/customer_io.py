"""Pages: import customers from a spreadsheet (a dry run's report, then a confirm button) and export them.

Between the dry run and the confirmation the file waits under the vault's home encrypted with a fresh key
that only the confirm form holds (a hidden field, sent in the POST body): the server alone cannot read a
waiting file, and one left unconfirmed is deleted after a day.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from vault import policy
from vault.errors import Invalid, NotFound, VaultError
from vault.services import customer_export, customer_import, exports, relationship_io
from vault.services.sheet_reader import MAX_BYTES
from web.api.registers import file_response
from web.deps import actor, get_vault, unit_of_work
from web.pages import import_jobs
from web.pages.common import field_message
from web.pages.i18n import current_lang

bp = Blueprint("customer_io", __name__)
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_KEEP_S = 24 * 3600
SHEETS = ("customers", *relationship_io.SHEETS)
EXPORT_FILTERS = ("q", "grade", "customer_type", "status", "owner", "secrecy", "stage", "customer_kind", "industry",
                  "region", "review_due", "incomplete")


def _pending_dir() -> Path:
    path = Path(get_vault().settings.home) / "pending-imports"
    path.mkdir(mode=0o700, exist_ok=True)
    now = time.time()
    for old in path.glob("*.bin"):
        if now - old.stat().st_mtime > _KEEP_S:
            old.unlink(missing_ok=True)
    return path


def _park(user_id: int, data: bytes) -> tuple[str, str]:
    """Keep a checked file until it is confirmed, encrypted: (token, key) for the confirm form."""
    token, key, nonce = secrets.token_hex(16), AESGCM.generate_key(bit_length=256), os.urandom(12)
    blob = nonce + AESGCM(key).encrypt(nonce, data, f"{user_id}:{token}".encode())
    (_pending_dir() / f"{token}.bin").write_bytes(blob)
    return token, base64.urlsafe_b64encode(key).decode()


def _unpark(user_id: int, token: str, key: str) -> bytes:
    """The checked file back (and gone from the disk); Invalid when it is not there any more."""
    gone = Invalid("file", "the checked file is no longer waiting; choose it and check it again",
                   code="import_expired")
    if not _TOKEN.match(token):
        raise gone
    path = _pending_dir() / f"{token}.bin"
    try:
        blob = path.read_bytes()
        data = AESGCM(base64.urlsafe_b64decode(key.encode())).decrypt(blob[:12], blob[12:],
                                                                         f"{user_id}:{token}".encode())
    except (OSError, ValueError, InvalidTag):
        raise gone from None
    path.unlink(missing_ok=True)
    return data


def _report_rows(rows: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    from web.errors import translate  # web.errors imports the pages

    return [{"row": r["row"], "action": r["action"], "field": r["field"],
             "reason": None if r["template"] is None else translate(r["template"], r["params"], lang)}
            for r in rows]


def _outcome(ctx: dict[str, Any], state: dict[str, Any], key: str | None) -> None:
    """The page's context for a finished (or failed) import: the report, the confirm form after a check."""
    dry = bool(state["dry_run"])
    if state["state"] == "failed":
        ctx["error"] = (import_jobs.error_text(state, current_lang())
                        or _("The import failed; nothing was written."))
        return
    counts = state["counts"]
    ctx.update(report=_report_rows(state["rows"], current_lang()), filename=state["filename"], done=not dry,
               counts=counts)
    if dry and counts["create"] + counts["update"] and state.get("token") and key:
        ctx["token"], ctx["key"] = state["token"], key
    if not dry:
        flash(_("Import done: %(c)s created, %(u)s updated, %(r)s refused.", c=counts["create"],
                u=counts["update"], r=counts["refuse"]), "success")


def _keys() -> dict[str, str]:
    """The confirm forms' keys of this browser's checks still running (the signed session cookie: the server
    keeps no key of a parked file)."""
    return dict(session.get("import_keys") or {})


@bp.route("/dossiers/import", methods=["GET", "POST"])
def import_page() -> ResponseReturnValue:
    me = actor()
    customer_import.import_customers_allowed(me)
    ctx: dict[str, Any] = {"report": None, "error": None, "done": False, "sheet": "customers", "sheets": SHEETS}
    if request.method == "POST":
        token, key = request.form.get("token", ""), request.form.get("key", "")
        filename = (request.form.get("filename") or "customers.csv")[:200]
        sheet = request.form.get("sheet", "customers")
        sheet = sheet if sheet in SHEETS else "customers"
        ctx["sheet"] = sheet
        try:
            if token:
                data = _unpark(me.id, token, key)
            else:
                upload = request.files.get("file")
                if upload is None or not upload.filename:
                    raise Invalid("file", "attach the spreadsheet (CSV or XLSX) as the multipart part named 'file'",
                                  code="file_missing")
                filename = upload.filename[:200]
                data = upload.stream.read(MAX_BYTES + 1)
        except VaultError as exc:
            ctx["error"] = field_message(exc)
        else:
            dry = not token
            parked, key = _park(me.id, data) if dry else (None, "")
            v = get_vault()
            job = import_jobs.start(v, me.id, sheet, filename, data, dry_run=dry, token=parked)
            import_jobs.wait(job, float(current_app.config.get("IMPORT_WAIT_S", import_jobs.WAIT_S)))
            state = import_jobs.read(v, job, me.id)
            assert state is not None
            if state["state"] == "running":  # a long one: its own page shows how far it has come
                if parked:
                    session["import_keys"] = dict([*_keys().items(), (job, key)][-5:])  # the latest few
                return redirect(url_for("customer_io.import_job_page", job=job), 303)
            _outcome(ctx, state, key)
            if parked and not ctx.get("token"):
                _unpark(me.id, parked, key)  # nothing to import: the parked copy goes
    status = 422 if ctx["error"] else 200
    return render_template("pages/customer_import.html", **ctx), status


def _job_state(job: str) -> dict[str, Any]:
    me = actor()
    customer_import.import_customers_allowed(me)
    state = import_jobs.read(get_vault(), job, me.id)
    if state is None:
        raise NotFound("no such import (an import's page is kept for a day)")
    return state


@bp.get("/dossiers/import/<job>")
def import_job_page(job: str) -> ResponseReturnValue:
    """A long import's page: how many of its rows are done (moving while it runs), then its report."""
    state = _job_state(job)
    ctx: dict[str, Any] = {"report": None, "error": None, "done": False, "sheet": state["sheet"], "sheets": SHEETS,
                           "job": job, "running": state["state"] == "running", "dry_run": state["dry_run"],
                           "filename": state["filename"], "rows_done": state["done"], "rows_total": state["total"]}
    if not ctx["running"]:
        _outcome(ctx, state, _keys().get(job))
    status = 422 if ctx["error"] else 200
    return render_template("pages/customer_import.html", **ctx), status


@bp.get("/dossiers/import/<job>/progress")
def import_job_progress(job: str) -> ResponseReturnValue:
    """How far the import has come, for its page's script: {state, done, total}."""
    state = _job_state(job)
    return jsonify({"state": state["state"], "done": state["done"], "total": state["total"]})


@bp.get("/dossiers/export")
def export_download() -> ResponseReturnValue:
    me = actor()
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k in EXPORT_FILTERS and v}
    fh = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - closed by the response
    try:
        fmt, sheet = request.args.get("format", "xlsx"), request.args.get("sheet", "customers")
        with unit_of_work() as s:
            if sheet == "customers":
                result = customer_export.export_customers(get_vault(), s, me, fmt, args, fh, current_lang())
                filename = result.filename
            else:
                filename = relationship_io.export_sheet(get_vault(), s, me, sheet, fmt, args, fh, current_lang())[1]
    except Invalid as exc:
        fh.close()
        flash(field_message(exc), "error")
        return redirect(url_for("dossiers.list_page", **args))
    except BaseException:
        fh.close()
        raise
    return file_response(fh, exports.MIME[fmt], filename)


def can_import(me: Any) -> bool:
    """Whether the dossier list shows the import form's link."""
    return policy.allowed(me, "dossier.create") and me.role.value != "system"
