"""Named domain errors. The web layer maps each to one HTTP status in one place."""

from __future__ import annotations

from typing import Any


class VaultError(Exception):
    """Base of every error a caller is meant to see; `code` is a stable snake_case name."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class Invalid(VaultError):
    """A field has a value that cannot be accepted (422, names the field)."""

    status = 422
    code = "invalid_field"

    def __init__(self, field: str, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message, code=code, field=field, **details)
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
