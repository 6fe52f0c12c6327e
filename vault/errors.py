"""Named domain errors. The web layer maps each to one HTTP status in one place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def render(template: str, params: Mapping[str, Any] | None = None) -> str:
    """The English text of a message template: ``{name}`` placeholders filled from params (str.format)."""
    if not params:
        return template
    try:
        return template.format_map({k: _plain(v) for k, v in params.items()})
    except (KeyError, IndexError, ValueError):  # a text with braces of its own: it is its own message
        return template


def _plain(value: Any) -> Any:
    """A parameter as English: a phrase as its text, a list of phrases joined with '; '."""
    if isinstance(value, Phrase):
        return str(value)
    if isinstance(value, list | tuple) and value and all(isinstance(x, Phrase) for x in value):
        return "; ".join(str(x) for x in value)
    return value


@dataclass(frozen=True)
class Phrase:
    """A sentence with a stable English template and its parameters, translatable by the web layer.

    ``str()`` is the English text (what logs, stored reasons and API clients without a language see)."""

    template: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return render(self.template, self.params)


def phrase(template: str, **params: Any) -> Phrase:
    """A translatable sentence (the template must be a literal: tests collect every one for the catalogue)."""
    return Phrase(template, params)


class VaultError(Exception):
    """Base of every error a caller is meant to see; `code` is a stable snake_case name.

    ``message`` is a template (a literal, collected by the catalogue test) with ``{name}`` placeholders
    filled from ``params``; ``self.message`` is the English text, ``template``/``params`` let the web
    layer say the same in the reader's language. ``details`` go to API clients as extra fields."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, params: Mapping[str, Any] | None = None,
                 **details: Any) -> None:
        self.template = message
        self.params: Mapping[str, Any] = dict(params or {})
        self.message = render(message, self.params)
        super().__init__(self.message)
        if code:
            self.code = code
        self.details = details


class Invalid(VaultError):
    """A field has a value that cannot be accepted (422, names the field)."""

    status = 422
    code = "invalid_field"

    def __init__(self, field: str, message: str, *, code: str | None = None,
                 params: Mapping[str, Any] | None = None, **details: Any) -> None:
        super().__init__(message, code=code, params={"field": field, **(params or {})}, field=field, **details)
        self.field = field


class NotAuthenticated(VaultError):
    status = 401
    code = "not_authenticated"


class Forbidden(VaultError):
    status = 403
    code = "forbidden"


class NotFound(VaultError):
    status = 404
    code = "not_found"


class Conflict(VaultError):
    status = 409
    code = "conflict"


class Gone(VaultError):
    status = 410
    code = "gone"


class TooLarge(VaultError):
    status = 413
    code = "file_too_large"


class UnsupportedFileType(VaultError):
    status = 415
    code = "unsupported_file_type"


class TooManyAttempts(VaultError):
    status = 429
    code = "too_many_attempts"


class Unavailable(VaultError):
    """A backing service (database, blob store, index) cannot be reached right now (503)."""

    status = 503
    code = "service_unavailable"


# -- storage and crypto ------------------------------------------------------------------------


class StorageError(VaultError):
    """The blob store failed in a way that is not the caller's fault."""

    status = 500
    code = "storage_error"


class StorageUnavailable(Unavailable):
    code = "storage_unavailable"


class BlobNotFound(StorageError):
    code = "blob_not_found"


class BlobIntegrityError(VaultError):
    """Ciphertext failed authentication or its header does not belong here; no plaintext released."""

    status = 500
    code = "blob_integrity_error"
