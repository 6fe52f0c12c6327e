"""One place where errors become HTTP answers: JSON under /api, a page elsewhere."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.support import NullTranslations, Translations
from flask import Flask, Response, jsonify, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from vault.errors import Invalid, NotFound, Phrase, TooManyAttempts, VaultError, render
from vault.services.fields import MAX_ID
from web.pages.errors import render_error_page

log = logging.getLogger("dossier.web")

# -- messages in the reader's language --------------------------------------------------------------------

LANGS = {"zh": "zh_CN", "en": "en"}
INTERNAL_ERROR = ("something went wrong on our side; it was logged. Try again, and tell the administrator if it "
                  "keeps happening")
_PLACEHOLDER = re.compile(r"\{(\w+)(?:![rsa])?(?::[^{}]*)?\}")


@lru_cache(maxsize=4)
def _catalogue(lang: str) -> NullTranslations:
    from web.pages.i18n import COMPILED, compile_catalogs

    compile_catalogs()
    return Translations.load(str(COMPILED), [Locale.parse(LANGS[lang])])


def has_translation(template: str, lang: str) -> bool:
    """Whether the catalogue of ``lang`` says this template in its own words (English is its own)."""
    return lang == "en" or _catalogue(lang).ugettext(template) != template


def translate(template: str, params: Mapping[str, Any] | None, lang: str) -> str:
    """A domain message template in ``lang`` ('zh' or 'en'), its parameters filled in (field names and
    nested phrases translated too); English, the template's own words, where the catalogue has none."""
    cat = _catalogue(lang)
    filled: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if isinstance(value, Phrase):
            value = translate(value.template, value.params, lang)
        elif isinstance(value, list | tuple) and value and all(isinstance(x, Phrase) for x in value):
            value = ("；" if lang == "zh" else "; ").join(translate(x.template, x.params, lang) for x in value)
        elif key == "field" and isinstance(value, str):
            value = cat.upgettext("field", value)
        elif key in _VALUE_LABELS and isinstance(value, str):
            value = cat.ugettext(_value_msgid(key, value))
        filled[key] = value
    return render(cat.ugettext(template), filled)


#: Parameters that hold a domain value (an enum's value): said with the label the pages use for it.
_VALUE_LABELS = {"status": "status", "secrecy": "secrecy", "clearance": "secrecy", "role": "role",
                 "doc_type": "doc_type", "kind": "checkout_kind"}


def _value_msgid(key: str, value: str) -> str:
    """The catalogue msgid of a domain value's label (e.g. doc_type 'contract' -> 'Contract')."""
    from web.pages import common

    tables = {"status": {**common.DOSSIER_STATUS, **common.CHECKOUT_STATUS, **common.INDEX_STATUS},
              "secrecy": common.SECRECY, "role": common.ROLES, "doc_type": common.DOC_TYPES,
              "checkout_kind": common.CHECKOUT_KINDS}
    label = tables[_VALUE_LABELS[key]].get(value)
    args = getattr(label, "_args", None)
    return str(args[0]) if args else value


@lru_cache(maxsize=1)
def _stored_patterns() -> list[tuple[re.Pattern[str], str]]:
    """A pattern per catalogue template with placeholders, to recognise texts stored already rendered."""
    from babel.messages.pofile import read_po

    from web.pages.i18n import TRANSLATIONS

    with (TRANSLATIONS / "zh_CN/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = read_po(fh)
    out = []
    for message in catalog:
        template = message.id if isinstance(message.id, str) else ""
        if not template or message.context or not _PLACEHOLDER.search(template) or "%(" in template:
            continue
        parts, pos, names = [], 0, set()
        for m in _PLACEHOLDER.finditer(template):
            parts.append(re.escape(template[pos:m.start()]))
            name = m.group(1)
            parts.append(f"(?P={name})" if name in names else f"(?P<{name}>.+?)")
            names.add(name)
            pos = m.end()
        parts.append(re.escape(template[pos:]))
        out.append((re.compile("".join(parts), re.DOTALL), template))
    out.sort(key=lambda pt: -len(pt[1]))  # the most specific template first
    return out


def translate_text(text: str | None, lang: str, _depth: int = 0) -> str:
    """A message stored as English text (index errors, retention bases) in ``lang``, when it is one of
    the catalogue's templates; otherwise the text unchanged."""
    if not text or lang == "en":
        return text or ""
    cat = _catalogue(lang)
    own = cat.ugettext(text)
    if own != text or _depth > 3:
        return own
    for pattern, template in _stored_patterns():
        m = pattern.fullmatch(text)
        if m:
            params = {k: cat.ugettext(_value_msgid(k, v)) if k in _VALUE_LABELS else translate_text(v, lang, _depth + 1)
                      for k, v in m.groupdict().items()}
            # the values are text already formatted: drop conversions and format specs ({x!r}, {t:g})
            plain = _PLACEHOLDER.sub(lambda p: "{" + p.group(1) + "}", cat.ugettext(template))
            return render(plain, params)
    return text


#: What a page says for an error whose own words are not in the reader's language (library texts, faults).
GENERIC = {
    400: "the request could not be used; go back and try again",
    401: "sign in first",
    403: "you may not do this",
    404: "this does not exist, or you may not see it",
    405: "this address does not take this kind of request",
    409: "this conflicts with the current state; reload the page and try again",
    410: "this was destroyed",
    413: "what was sent is too large",
    415: "this file type is not supported",
    422: "some values need attention",
    429: "too many attempts; wait a moment and try again",
    500: INTERNAL_ERROR,
    503: "a service is unavailable right now; try again in a moment",
}


def generic_message(status: int, lang: str) -> str:
    """A plain sentence for an HTTP status, in ``lang``."""
    template = GENERIC.get(status) or (INTERNAL_ERROR if status >= 500 else GENERIC[400])
    return translate(template, None, lang)


def api_lang() -> str:
    """The language of an API answer: the Accept-Language header's first of zh/en, else English."""
    for value, _quality in request.accept_languages:
        tag = value.lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _page_lang() -> str:
    try:
        from web.pages.i18n import current_lang

        return current_lang()
    except Exception:  # noqa: BLE001 - the error answer must not fail over its language
        return "en" if request.args.get("lang") == "en" else "zh"


def message_for(exc: VaultError, lang: str | None = None) -> str:
    """What a domain error says to this request's reader (the page language, or the API's)."""
    if lang is None:
        lang = api_lang() if _wants_json() else _page_lang()
    return translate(exc.template, exc.params, lang)


def error_response(status: int, code: str, message: str, *, template: str | None = None,
                   params: Mapping[str, Any] | None = None, **extra: Any) -> Response:
    """The answer for an error: JSON for API clients, an HTML page for people, each in its language.

    ``message`` is the English text; ``template``/``params`` (when the message is a catalogue template)
    let it be said in the reader's language."""
    template = template or message
    if _wants_json():
        lang = api_lang()
        if lang != "en" and has_translation(template, lang):
            message = translate(template, params, lang)
        body: dict[str, Any] = {"code": code, "message": message}
        body.update({k: v for k, v in extra.items() if v is not None})
        resp = jsonify({"error": body})
    else:
        lang = _page_lang()
        if has_translation(template, lang):
            message = translate(template, params, lang)
        else:  # words of a library (werkzeug) or of an operator-level fault: the reader gets the plain words
            message = generic_message(status, lang)
        html = render_error_page(status, code, message)
        resp = Response(html, mimetype="text/html")
    resp.status_code = status
    return resp


def init_errors(app: Flask) -> None:
    # a stored English message (index error, retention basis) in the page's language: {{ text|said }}
    app.jinja_env.filters["said"] = lambda text: translate_text(text, _page_lang())

    @app.url_value_preprocessor
    def _ids_in_range(endpoint: str | None, values: dict[str, Any] | None) -> None:
        """An id too large for the database is simply not found (the database would refuse it: a 500)."""
        for name, value in (values or {}).items():
            if isinstance(value, int) and value > MAX_ID:
                raise NotFound("{field} {value} not found", params={"field": name.removesuffix("_id"), "value": value})

    @app.errorhandler(VaultError)
    def _vault_error(exc: VaultError) -> Response:
        extra = dict(exc.details)
        if isinstance(exc, Invalid):
            extra["field"] = exc.field
        resp = error_response(exc.status, exc.code, exc.message, template=exc.template, params=exc.params, **extra)
        if isinstance(exc, TooManyAttempts) and "retry_after" in exc.details:
            resp.headers["Retry-After"] = str(exc.details["retry_after"])
        if exc.status >= 500:
            log.warning("%s: %s", exc.code, exc.message)
        return resp

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Response:
        return error_response(400, "csrf_failed", "the form expired or was not sent from this site; reload the "
                              "page and try again")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        description = exc.description or exc.name  # werkzeug's English: pages say GENERIC instead
        return error_response(exc.code or 500, code, description)

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def _db_down(exc: Exception) -> Response:
        log.warning("database unavailable: %s", type(exc).__name__)
        resp = error_response(503, "database_unavailable",
                              "the database is busy or unreachable; try again in a moment")
        resp.headers["Retry-After"] = "5"
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", INTERNAL_ERROR)
