"""Languages of the pages: zh_CN (default) and en, chosen by ?lang=, then the session, then Accept-Language."""

from __future__ import annotations

import os
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from babel import Locale
from flask import Flask, request, session
from flask_babel import Babel, format_date, format_datetime, format_decimal, get_locale

TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"
# compiled catalogs go under the canonical locale name flask-babel looks up (zh_CN is read as zh_Hans_CN)
COMPILED = TRANSLATIONS / "_compiled"
LOCALES = {"zh": "zh_CN", "en": "en"}


def compile_catalogs(root: Path = TRANSLATIONS, out: Path = COMPILED) -> None:
    """Compile every messages.po into out/<locale>/LC_MESSAGES/messages.mo when missing or older (atomic)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in root.glob("*/LC_MESSAGES/messages.po"):
        mo = out / str(Locale.parse(po.parts[-3])) / "LC_MESSAGES" / "messages.mo"
        mo.parent.mkdir(parents=True, exist_ok=True)
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=po.parts[-3])
        fd, tmp = tempfile.mkstemp(dir=mo.parent, prefix=".messages.", suffix=".mo")
        with os.fdopen(fd, "wb") as fh_out:
            write_mo(fh_out, catalog, use_fuzzy=False)
        os.chmod(tmp, 0o644)
        os.replace(tmp, mo)


def current_lang() -> str:
    """'zh' or 'en' for this request."""
    return "en" if str(get_locale()).startswith("en") else "zh"


def _select_locale() -> str:
    lang = session.get("lang")
    if lang in LOCALES:
        return LOCALES[lang]
    for value, _quality in request.accept_languages:
        tag = value.lower()
        if tag.startswith("zh"):
            return LOCALES["zh"]
        if tag.startswith("en"):
            return LOCALES["en"]
    from web.deps import get_vault

    return LOCALES[get_vault().settings.default_locale]


def remember_lang_choice() -> None:
    """?lang=en / ?lang=zh switches the language and remembers it for the session."""
    lang = request.args.get("lang")
    if lang in LOCALES:
        session["lang"] = lang


def _fmt_date(value: date | datetime | str | None, fmt: str = "medium") -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, fmt)


def _fmt_datetime(value: datetime | str | None, fmt: str = "medium") -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return format_datetime(value, fmt)


def _fmt_number(value: Any) -> str:
    return "" if value is None else format_decimal(value)


def _fmt_size(value: int | None) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{format_decimal(round(size, 1))} {unit}"
        size /= 1024
    return str(value)


def init_i18n(app: Flask) -> None:
    compile_catalogs()
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "zh_CN")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(COMPILED)
    Babel(app, locale_selector=_select_locale)
    app.jinja_env.filters.update(date=_fmt_date, datetime=_fmt_datetime, number=_fmt_number, size=_fmt_size)


def extract_messages() -> list[str]:
    """Every translatable string of the pages (Python and templates), for catalog upkeep and its test."""
    from babel.messages.extract import extract_from_dir

    web = TRANSLATIONS.parent
    found: set[str] = set()
    sources = [(web / "pages", [("**.py", "python")]),
               (web / "templates" / "pages", [("**.html", "jinja2.ext:babel_extract")])]
    for folder, method_map in sources:
        for _file, _line, message, _comments, _ctx in extract_from_dir(
                str(folder), method_map, keywords={"_": None, "gettext": None, "_l": None, "lazy_gettext": None,
                                                   "ngettext": (1, 2)}):
            found.add(message if isinstance(message, str) else message[0])
    return sorted(found)
