"""Extracted text, encrypted with the version's own data key (no OCR re-run for snippets, reindex or pages)."""

from __future__ import annotations

import hashlib
import uuid

from vault.core import Vault
from vault.crypto import decrypt_iter, encrypt_iter
from vault.models import DocumentVersion


def _text_uid(version_uid: str) -> bytes:
    # bound into the associated data: the text blob cannot pass for the file blob, nor for another version
    return hashlib.sha256(b"dossier-vault/v1/text" + uuid.UUID(hex=version_uid).bytes).digest()[:16]


def _data_key(v: Vault, version: DocumentVersion) -> bytes:
    assert version.wrapped_key is not None
    return v.keyring.unwrap(version.key_id, version.wrapped_key, uuid.UUID(hex=version.uid).bytes)


def seal_text(v: Vault, version: DocumentVersion, text: str) -> bytes:
    data_key = _data_key(v, version)
    stream = encrypt_iter([text.encode("utf-8")], data_key, version.key_id, _text_uid(version.uid))
    return b"".join(stream)


def open_text(v: Vault, version: DocumentVersion) -> str | None:
    """The stored extracted text of a version, or None when there is none (or its key was erased)."""
    if version.text_ciphertext is None or version.wrapped_key is None:
        return None
    data_key = _data_key(v, version)
    return b"".join(decrypt_iter([version.text_ciphertext], data_key, _text_uid(version.uid))).decode("utf-8")


PAGE_BREAK = "\f"  # the extractor puts it between the pages of a PDF or multi-page scan (indexer.extract)


def split_pages(text: str, pages: int | None) -> list[str] | None:
    """The text of each page, in order, or None when the stored text does not tell pages apart (extracted
    before page breaks were kept, or a DOCX, whose pages are made from its text)."""
    parts = text.split(PAGE_BREAK)
    if pages is None or len(parts) != pages:
        return None
    return [part.strip() for part in parts]
