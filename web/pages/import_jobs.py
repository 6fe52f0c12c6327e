"""The import page's imports, run in the background so that the page shows how far a long one has come.

The request that brings the file (the check, or the confirmed import) starts the import in a thread of the
web process, in a unit of work of its own (it owns its transaction, like the CLI's import: all of the file or,
on an error, nothing), and waits `WAIT_S` seconds: a small file's report comes back in that request as it
always did. A longer one is answered with the import's own page, which shows the rows done of all rows and
then the report (`customer_io.import_job_page`).

Its state is a small JSON file under the vault's home (`import-jobs/`), so that any web process can answer
for it: whose import it is, rows done and total, then the outcomes (row, action, field, and a refusal's message
template and parameters, which never hold a sensitive cell's value) or the error. Files older than a day go.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from vault.core import Vault
from vault.errors import Phrase, VaultError
from vault.models import User
from vault.services import relationship_io
from vault.services.import_rows import ImportReport
from web.pages.common import own_field_message

log = logging.getLogger(__name__)
WAIT_S = 3.0  # a file done within this is answered in its own request (the app's IMPORT_WAIT_S overrides it)
_KEEP_S = 24 * 3600
_WRITE_EVERY_S = 0.3
_threads: dict[str, threading.Thread] = {}
_PHRASE = "__phrase__"


def _dir(v: Vault) -> Path:
    path = Path(v.settings.home) / "import-jobs"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def _encode(value: Any) -> Any:
    # a message's parameters may be phrases, translated when the page is shown: kept as such
    if isinstance(value, Phrase):
        return {_PHRASE: value.template, "params": {k: _encode(x) for k, x in value.params.items()}}
    if isinstance(value, list | tuple):
        return [_encode(x) for x in value]
    return str(value)


def _decode(obj: dict[str, Any]) -> Any:
    return Phrase(obj[_PHRASE], obj["params"]) if _PHRASE in obj else obj


def _write(v: Vault, job: str, state: dict[str, Any]) -> None:
    path = _dir(v) / f"{job}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False, default=_encode), encoding="utf-8")
    os.replace(tmp, path)  # a reader sees the old state or the new one, never half a file


def read(v: Vault, job: str, user_id: int) -> dict[str, Any] | None:
    """The import's state, or None when there is no such import of this user's (any more)."""
    if not (len(job) == 32 and all(c in "0123456789abcdef" for c in job)):
        return None
    try:
        state: dict[str, Any] = json.loads((_dir(v) / f"{job}.json").read_text(encoding="utf-8"),
                                           object_hook=_decode)
    except (OSError, ValueError):
        return None
    return state if state.get("user_id") == user_id else None


def _sweep(v: Vault) -> None:
    now = time.time()
    for old in _dir(v).glob("*.json"):
        if now - old.stat().st_mtime > _KEEP_S:
            old.unlink(missing_ok=True)


def _finished(state: dict[str, Any], report: ImportReport) -> None:
    state.update(state="finished", done=len(report.rows), total=len(report.rows),
                 counts={a: report.count(a) for a in ("create", "update", "refuse")},
                 rows=[{"row": r.row, "action": r.action, "field": r.field, "template": r.template,
                        "params": dict(r.params)} for r in report.rows])


def _run(v: Vault, job: str, state: dict[str, Any], data: bytes) -> None:
    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        state.update(done=done, total=total)
        now = time.monotonic()
        if now - last >= _WRITE_EVERY_S:
            last = now
            _write(v, job, state)

    try:
        with v.session() as session:
            me = session.get(User, state["user_id"])
            assert me is not None
            report = relationship_io.import_file(v, session, me, state["sheet"], state["filename"], data,
                                                 dry_run=state["dry_run"], progress=progress)
        _finished(state, report)
    except VaultError as exc:
        state.update(state="failed", error={"template": exc.template, "params": dict(exc.params),
                                            "code": exc.code, "status": exc.status,
                                            "field": exc.params.get("field")})
    except Exception:
        log.exception("import %s failed", job)
        state.update(state="failed", error=None)
    _write(v, job, state)
    _threads.pop(job, None)  # after the last state is written: `wait` then finds it on the disk


def start(v: Vault, user_id: int, sheet: str, filename: str, data: bytes, *, dry_run: bool,
          token: str | None = None) -> str:
    """Start importing (or checking) a file for this user; the import's id. ``token``: the parked file
    the check's confirm form will name."""
    _sweep(v)
    job = secrets.token_hex(16)
    state: dict[str, Any] = {"user_id": user_id, "sheet": sheet, "filename": filename, "dry_run": dry_run,
                             "token": token, "state": "running", "done": 0, "total": 0}
    _write(v, job, state)
    context = contextvars.copy_context()  # the request's client address, for the audit trail
    thread = threading.Thread(target=context.run, args=(_run, v, job, state, data), name=f"import-{job[:8]}",
                              daemon=True)
    _threads[job] = thread
    thread.start()
    return job


def wait(job: str, seconds: float) -> None:
    """Wait up to ``seconds`` for an import this process started."""
    thread = _threads.get(job)
    if thread is not None:
        thread.join(seconds)


def error_text(state: dict[str, Any], lang: str) -> str | None:
    """What the failed import's error says in ``lang``, as the page tells any error (None: an unexpected
    failure, logged)."""
    from web.errors import translate  # web.errors imports the pages

    err = state.get("error")
    if not err:
        return None
    own = own_field_message(err["code"], err.get("field"))
    return own if own is not None else translate(err["template"], err["params"], lang)
