"""How settings are read: defaults, then `$DOSSIER_HOME/config.toml`, then `DOSSIER_*` variables.

A wrong value stops start-up with a `SettingsError` that names the setting and where it came from.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.doctypes import DocType

SECRECY_LEVELS = ("public", "internal", "confidential", "secret")
SEARCH_ENGINES = ("whoosh", "fts5", "pg")
DOC_TYPES = tuple(t.value for t in DocType)
# the customer card's fields per customer kind (vault/services/card_fields.py has their rules)
_CARD_COMMON = ("customer_name", "relationship", "partner_kind", "stage", "grade", "backup_owner", "phone",
                "email", "bank_name", "bank_account", "total_assets", "annual_income", "total_debts",
                "credit_rating", "credit_rating_source", "credit_rating_on")
CARD_FIELDS: dict[str, tuple[str, ...]] = {
    "organisation": _CARD_COMMON + ("credit_code", "former_names", "legal_representative", "registered_address",
                                    "business_address", "registered_capital", "currency", "founded_on",
                                    "business_scope", "main_products", "staff_size", "website"),
    "individual": _CARD_COMMON + ("id_number", "gender", "birth_date", "address"),
}
DEFAULT_RETENTION_YEARS: dict[str, int | None] = {
    DocType.CONTRACT: 30,
    DocType.LICENSE: 30,
    DocType.CREDIT_REPORT: 10,
    DocType.CORRESPONDENCE: 10,
    DocType.ID_PROOF: 10,
    DocType.INVOICE: 30,
    DocType.OTHER: 10,
}


class SettingsError(ValueError):
    """A setting has a value the service cannot start with."""


@dataclass(frozen=True)
class Settings:
    home: Path = Path("var")
    database_url: str = ""  # default: sqlite under home
    blob_backend: str = "local"  # local | s3
    blob_dir: Path | None = None  # default: home/blobs
    s3_endpoint: str = "127.0.0.1:9000"
    s3_bucket: str = "dossier-vault"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    keyring_path: Path | None = None  # default: home/keyring.json
    index_dir: Path | None = None  # default: home/index
    # whoosh | fts5 (SQLite FTS5), each keeping its own files in index_dir, or pg (tables in the
    # PostgreSQL database: no shared disk between hosts); `dossier reindex` after a change
    search_engine: str = "whoosh"
    secret_key_path: Path | None = None  # default: home/secret_key
    max_upload_bytes: int = 200 * 1024 * 1024
    # every request body that is not an upload (JSON, forms) is refused (413) above this, before it is read
    max_body_bytes: int = 1024 * 1024
    # a file up to this size is decrypted and authenticated whole, in memory, before its first byte is sent;
    # a larger one is streamed, and a segment failing on the way cuts the transfer short (0: stream every file)
    verify_before_send_max_bytes: int = 64 * 1024 * 1024
    required_doc_types: tuple[str, ...] = ("license", "contract", "credit_report")
    credit_report_validity_days: int = 365
    # the customer card's fields that must be filled, per customer kind (missing ones join the missing
    # document types in the dossier's completeness); the months between periodic reviews, per grade;
    # how many days before a review is due its owner is reminded, and how often the worker looks
    required_card_fields_organisation: tuple[str, ...] = (
        "legal_representative", "registered_address", "phone", "bank_name", "bank_account")
    required_card_fields_individual: tuple[str, ...] = ("id_number", "phone", "address")
    review_months_a: int = 3
    review_months_b: int = 6
    review_months_c: int = 12
    review_months_d: int = 12
    review_reminder_days: int = 14
    review_check_interval_s: float = 3600.0
    token_ttl_hours: int = 12
    # failed sign-ins of one name from one address before that address must wait login_lock_base_s,
    # a wait that doubles with every further failure (up to login_failure_window_s); the right password
    # after the wait clears it, and the name's owner signing in from elsewhere is never held up
    login_max_failures: int = 5
    login_failure_window_s: int = 900
    login_lock_base_s: int = 60
    # failed sign-ins from one address, whatever the names, within login_failure_window_s (then 429)
    login_address_max_failures: int = 20
    extract_timeout_s: int = 120
    extract_memory_mb: int = 1024
    ocr_languages: str = "chi_sim+eng"
    worker_poll_interval_s: float = 1.0
    worker_max_attempts: int = 3
    # `dossier serve`: gunicorn processes, and threads in each (one index worker runs beside them)
    web_processes: int = 2
    web_threads: int = 4
    worker_extractions: int = 2  # extractions one worker runs side by side (each in its own sandbox)
    checkout_max_days: int = 30
    # papers are handed over to the archive (移交) within this many working days of the business date
    transfer_deadline_working_days: int = 5
    session_cookie_secure: bool = False
    # reverse proxies in front of the app that set X-Forwarded-For/-Proto (nginx in docker-compose: 1);
    # 0 trusts no header, so a client cannot pick the address that sign-in throttling and the audit see
    trusted_proxy_hops: int = 0
    session_idle_minutes: int = 30
    session_max_hours: int = 12  # a signed-in session ends this long after sign-in, however busy
    default_locale: str = "zh"
    log_level: str = "INFO"
    retention_years: Mapping[str, int | None] = field(
        default_factory=lambda: dict(DEFAULT_RETENTION_YEARS)
    )
    # e-mail copies of notifications (overdue checkouts); nothing is sent while smtp_host is empty
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "dossier-vault@localhost"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    # the worker marks overdue checkouts (and sends their notifications) this often
    overdue_check_interval_s: float = 60.0
    # the worker signs a checkpoint of the audit chain's head this often (and one follows every
    # destruction and backup); the checkpoints are appended to audit_checkpoint_file, outside the database
    audit_checkpoint_interval_s: float = 3600.0
    audit_checkpoint_file: Path | None = None  # default: home/audit-checkpoints.jsonl
    # the worker removes what uploads killed mid-way left behind (temp files, pending rows) this often,
    # once they are older than upload_grace_minutes
    upload_sweep_interval_s: float = 600.0
    upload_grace_minutes: int = 60
    # scanning intake: a stack up to intake_sync_max_bytes is split while the upload waits, a larger one is
    # stored and split by the worker (202 and a status URL); the sandboxed split may take intake_timeout_s
    intake_timeout_s: int = 600
    intake_sync_max_bytes: int = 20 * 1024 * 1024
    # a folder the scanner drops stacks into (empty: none); the worker files them as intake_folder_user
    # (an archivist's user name; empty: the operator's system account) every intake_poll_interval_s
    intake_folder: Path | None = None
    intake_folder_user: str = ""
    intake_poll_interval_s: float = 30.0

    # -- derived paths -------------------------------------------------------------------------
    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'dossier.db').resolve()}"

    @property
    def blob_path(self) -> Path:
        return self.blob_dir or self.home / "blobs"

    @property
    def keyring_file(self) -> Path:
        return self.keyring_path or self.home / "keyring.json"

    @property
    def audit_checkpoints_path(self) -> Path:
        return self.audit_checkpoint_file or self.home / "audit-checkpoints.jsonl"

    @property
    def index_path(self) -> Path:
        return self.index_dir or self.home / "index"

    @property
    def secret_key_file(self) -> Path:
        return self.secret_key_path or self.home / "secret_key"

    def with_changes(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_HINTS = typing.get_type_hints(Settings)


def _coerce(name: str, raw: Any, source: str) -> Any:
    """Turn a raw value (TOML value or environment string) into the field's type."""
    hint = _HINTS[name]
    text = raw if isinstance(raw, str) else None

    def fail(expected: str) -> SettingsError:
        return SettingsError(f"setting '{name}' from {source}: expected {expected}, got {raw!r}")

    if hint in (Path, Path | None):
        if not isinstance(raw, str | Path) or str(raw) == "":
            raise fail("a path")
        return Path(raw)
    if hint is bool:
        if isinstance(raw, bool):
            return raw
        if text is not None and text.lower() in ("1", "true", "yes", "on"):
            return True
        if text is not None and text.lower() in ("0", "false", "no", "off"):
            return False
        raise fail("true or false")
    if hint is int:
        if isinstance(raw, bool):
            raise fail("a whole number")
        if isinstance(raw, int):
            return raw
        try:
            return int(str(raw).replace("_", ""))
        except ValueError:
            raise fail("a whole number") from None
    if hint is float:
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise fail("a number") from None
    if hint == tuple[str, ...]:
        if isinstance(raw, str):
            return tuple(p.strip() for p in raw.split(",") if p.strip())
        if isinstance(raw, list | tuple) and all(isinstance(p, str) for p in raw):
            return tuple(raw)
        raise fail("a list of names")
    if name == "retention_years":
        if isinstance(raw, str):
            import json

            try:
                raw = json.loads(raw)
            except ValueError:
                raise fail('a JSON table like {"contract": 30, "other": "permanent"}') from None
        if not isinstance(raw, Mapping):
            raise fail("a table of document type -> years")
        merged: dict[str, int | None] = dict(DEFAULT_RETENTION_YEARS)
        for key, value in raw.items():
            if key not in DOC_TYPES:
                raise SettingsError(f"setting 'retention_years' from {source}: unknown document type {key!r}")
            if value in ("permanent", None):
                merged[key] = None
            elif isinstance(value, int) and not isinstance(value, bool) and value > 0:
                merged[key] = value
            else:
                raise SettingsError(
                    f"setting 'retention_years.{key}' from {source}: expected years > 0 or 'permanent'"
                )
        return merged
    if not isinstance(raw, str):
        raise fail("text")
    return raw


def _validate(s: Settings) -> None:
    def bad(name: str, why: str) -> SettingsError:
        return SettingsError(f"setting '{name}': {why}")

    if s.blob_backend not in ("local", "s3"):
        raise bad("blob_backend", f"must be 'local' or 's3', got {s.blob_backend!r}")
    if s.blob_backend == "s3" and not (s.s3_access_key and s.s3_secret_key):
        raise bad("s3_access_key", "the s3 blob backend needs s3_access_key and s3_secret_key")
    if s.search_engine not in SEARCH_ENGINES:
        raise bad("search_engine", f"must be 'whoosh', 'fts5' or 'pg', got {s.search_engine!r}")
    if s.search_engine == "pg" and not s.db_url.startswith("postgresql"):
        raise bad("search_engine", "'pg' keeps the index in the PostgreSQL database: set database_url to a "
                  "postgresql+psycopg:// URL, or choose 'whoosh' or 'fts5'")
    if s.max_upload_bytes <= 0:
        raise bad("max_upload_bytes", "must be positive")
    if not 0 <= s.trusted_proxy_hops <= 5:
        raise bad("trusted_proxy_hops", "must be the number of reverse proxies in front of the app, 0 to 5")
    if s.verify_before_send_max_bytes < 0:
        raise bad("verify_before_send_max_bytes", "must be 0 (stream every file) or a size in bytes")
    for t in s.required_doc_types:
        if t not in DOC_TYPES:
            raise bad("required_doc_types", f"unknown document type {t!r}; known: {', '.join(DOC_TYPES)}")
    for name in ("credit_report_validity_days", "token_ttl_hours", "login_max_failures",
                 "extract_timeout_s", "extract_memory_mb", "worker_max_attempts", "worker_extractions",
                 "checkout_max_days", "transfer_deadline_working_days", "session_idle_minutes",
                 "login_failure_window_s",
                 "login_lock_base_s", "login_address_max_failures", "session_max_hours", "max_body_bytes",
                 "web_processes", "web_threads", "review_months_a", "review_months_b", "review_months_c",
                 "review_months_d"):
        if getattr(s, name) <= 0:
            raise bad(name, "must be positive")
    for kind in ("organisation", "individual"):
        name = f"required_card_fields_{kind}"
        for f in getattr(s, name):
            if f not in CARD_FIELDS[kind]:
                raise bad(name, f"unknown card field {f!r}; known: {', '.join(CARD_FIELDS[kind])}")
    if s.review_reminder_days < 0:
        raise bad("review_reminder_days", "must be zero or more")
    for name in ("overdue_check_interval_s", "audit_checkpoint_interval_s", "upload_sweep_interval_s",
                 "intake_poll_interval_s", "intake_timeout_s", "intake_sync_max_bytes", "review_check_interval_s"):
        if getattr(s, name) <= 0:
            raise bad(name, "must be positive")
    if s.upload_grace_minutes < 0:
        raise bad("upload_grace_minutes", "must be zero or more")
    if s.default_locale not in ("zh", "en"):
        raise bad("default_locale", "must be 'zh' or 'en'")
    if not (s.db_url.startswith("sqlite") or s.db_url.startswith("postgresql")):
        raise bad("database_url", "must be a sqlite:/// or postgresql+psycopg:// URL")


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read settings in order: defaults, config.toml in the home, DOSSIER_* variables, overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    overrides = dict(overrides or {})
    home_raw = overrides.get("home") or env.get("DOSSIER_HOME") or "var"
    home = Path(home_raw)
    values["home"] = home

    config_file = home / "config.toml"
    if config_file.exists():
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{config_file}: not valid TOML ({exc})") from None
        for key, raw in data.items():
            if key not in _FIELDS or key == "home":
                raise SettingsError(f"{config_file}: unknown setting {key!r}")
            values[key] = _coerce(key, raw, str(config_file))

    for key in _FIELDS:
        if key == "home":
            continue
        env_name = f"DOSSIER_{key.upper()}"
        if env_name in env:
            values[key] = _coerce(key, env[env_name], f"environment variable {env_name}")

    for key, raw in overrides.items():
        if key not in _FIELDS:
            raise SettingsError(f"unknown setting {key!r} in overrides")
        if key == "home":
            continue
        values[key] = raw if not isinstance(raw, str) else _coerce(key, raw, "overrides")

    settings = Settings(**values)
    _validate(settings)
    return settings
