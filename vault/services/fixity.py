"""Fixity and orphans: every blob present with the ciphertext it had; nothing stored that no row owns."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from vault import audit
from vault.core import Vault
from vault.crypto import decrypt_iter
from vault.errors import VaultError
from vault.models import DocumentVersion


@dataclass
class Finding:
    kind: str  # missing_blob | fixity_mismatch | decrypt_failed | orphan_blob | audit_chain
    subject: str
    detail: str


@dataclass
class FixityReport:
    versions_checked: int = 0
    bytes_checked: int = 0
    orphans_removed: int = 0
    findings: list[Finding] = field(default_factory=list)
    audit_events: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings


def referenced_blob_keys(v: Vault) -> set[str]:
    with v.session() as s:
        return {k for k in s.scalars(select(DocumentVersion.blob_key)).all() if k}


def find_orphans(v: Vault) -> list[str]:
    """Blob keys no version row points at (a crash between blob write and commit leaves these)."""
    referenced = referenced_blob_keys(v)
    return [k for k in v.blobs.keys() if k not in referenced]


def sweep_orphans(v: Vault, orphans: list[str]) -> int:
    """Delete orphans, re-checking each against the database right before (an upload may just commit)."""
    removed = 0
    for key in orphans:
        with v.session() as s:
            if s.scalar(select(DocumentVersion.id).where(DocumentVersion.blob_key == key)) is not None:
                continue
        v.blobs.delete(key)
        removed += 1
    return removed


def verify_all(
    v: Vault, *, deep: bool = False, remove_orphans: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> FixityReport:
    """Check every live version's blob (exists, SHA-256; `deep`: decrypts and authenticates), orphans, chain."""
    report = FixityReport()
    with v.session() as s:
        versions = s.scalars(select(DocumentVersion).where(DocumentVersion.blob_key.is_not(None))
                             .order_by(DocumentVersion.id)).all()
        rows = [(x.id, x.uid, x.blob_key, x.ciphertext_sha256, x.key_id, x.wrapped_key) for x in versions]
    total = len(rows)
    for i, (vid, uid, blob_key, sha, key_id, wrapped) in enumerate(rows, 1):
        assert blob_key is not None
        subject = f"version {vid} (blob {blob_key})"
        if not v.blobs.exists(blob_key):
            report.findings.append(Finding("missing_blob", subject, "the blob is missing from the store"))
        else:
            digest = hashlib.sha256()
            size = 0
            for chunk in v.blobs.get(blob_key):
                digest.update(chunk)
                size += len(chunk)
            report.bytes_checked += size
            if digest.hexdigest() != sha:
                report.findings.append(Finding("fixity_mismatch", subject,
                                               "ciphertext SHA-256 differs from the one recorded at upload"))
            elif deep and wrapped is not None:
                try:
                    vuid = uuid.UUID(hex=uid).bytes
                    data_key = v.keyring.unwrap(key_id, wrapped, vuid)
                    for _ in decrypt_iter(v.blobs.get(blob_key), data_key, vuid, expected_key_id=key_id):
                        pass
                except VaultError as exc:
                    report.findings.append(Finding("decrypt_failed", subject, exc.message))
        report.versions_checked += 1
        if progress:
            progress(i, total)
    orphans = find_orphans(v)
    if remove_orphans:
        report.orphans_removed = sweep_orphans(v, orphans)
    else:
        report.findings.extend(Finding("orphan_blob", k, "no document version owns this blob") for k in orphans)
    with v.session() as s:
        chain = audit.verify_chain(s)
    report.audit_events = chain.events
    if not chain.ok:
        report.findings.append(Finding("audit_chain", f"event {chain.first_bad_seq}", chain.problem or ""))
    return report
