"""Extracted text, encrypted with the version's own data key (no OCR re-run for snippets, reindex or pages).

The sealed-text store of the whole system: the index worker seals what it extracted, search and the
pages open it; the key is unwrapped as for the file itself (`documents.version_data_key`).
"""

from __future__ import annotations

import hashlib
import uuid

from vault.core import Vault
from vault.crypto import decrypt_iter, encrypt_iter
from vault.models import DocumentVersion
from vault.services.documents import version_data_key


def _text_uid(version_uid: str) -> bytes:
    # bound into the associated data: the text blob cannot pass for the file blob, nor for another version
    return hashlib.sha256(b"dossier-vault/v1/text" + uuid.UUID(hex=version_uid).bytes).digest()[:16]


def seal_text(v: Vault, version: DocumentVersion, text: str) -> bytes:
    """The text encrypted with the version's data key, bound to that version (stored in text_ciphertext)."""
    data_key = version_data_key(v, version)
    stream = encrypt_iter([text.encode("utf-8")], data_key, version.key_id, _text_uid(version.uid))
    return b"".join(stream)


def open_text(v: Vault, version: DocumentVersion) -> str | None:
    """The stored extracted text of a version, or None when there is none (or its key was erased)."""
    if version.text_ciphertext is None or version.wrapped_key is None:
        return None
    data_key = version_data_key(v, version)
    return b"".join(decrypt_iter([version.text_ciphertext], data_key, _text_uid(version.uid))).decode("utf-8")


PAGE_BREAK = "\f"  # the extractor puts it between the pages of a PDF or multi-page scan (indexer.extraction)


def split_pages(text: str, pages: int | None) -> list[str] | None:
    """The text of each page, in order, or None when the stored text does not tell pages apart (extracted
    before page breaks were kept, or a DOCX, whose pages are made from its text)."""
    parts = text.split(PAGE_BREAK)
    if pages is None or len(parts) != pages:
        return None
    return [part.strip() for part in parts]
