"""Blob storage: one small facade over the local-directory and S3 implementations.

Callers use `BlobStore`, `new_blob_key()` and `make_blob_store(settings)`; only the composition
root and maintenance commands name an implementation.
"""

from __future__ import annotations

from config.settings import Settings
from vault.storage.base import (
    BlobStore,
    StorageCredentialsRefused,
    StorageFull,
    is_blob_key,
    new_blob_key,
    validate_key,
)
from vault.storage.local import LocalBlobStore
from vault.storage.s3 import S3BlobStore

__all__ = [
    "BlobStore",
    "LocalBlobStore",
    "S3BlobStore",
    "StorageCredentialsRefused",
    "StorageFull",
    "is_blob_key",
    "make_blob_store",
    "new_blob_key",
    "validate_key",
]


def make_blob_store(settings: Settings) -> BlobStore:
    """The store the settings name. Nothing is contacted here: the S3 bucket is checked (and
    created if missing) on the first put or `check()`."""
    if settings.blob_backend == "local":
        return LocalBlobStore(settings.blob_path)
    if settings.blob_backend == "s3":
        return S3BlobStore(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key,
            settings.s3_bucket,
            secure=settings.s3_secure,
            region=settings.s3_region,
        )
    raise ValueError(f"unknown blob_backend {settings.blob_backend!r}; expected 'local' or 's3'")
