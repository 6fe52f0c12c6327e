"""Fixity and orphans: every blob present with the ciphertext it had; nothing stored that no row owns."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import delete, select

from vault import audit_checkpoints
from vault.core import Vault
from vault.errors import VaultError
from vault.intake_models import IntakePart, IntakeStack
from vault.models import DocumentVersion, PendingBlob
from vault.services.documents import decrypt_version

# an upload that has not committed within this long is taken for dead
DEFAULT_GRACE = timedelta(hours=1)


@dataclass
class Finding:
    kind: str  # missing_blob | fixity_mismatch | decrypt_failed | orphan_blob | audit_chain
    subject: str
    detail: str


#: 四性检测: each finding kind belongs to one of the four properties an archive must keep.
CATEGORIES: dict[str, tuple[str, str]] = {
    "authenticity": ("真实性", "content is what was stored: ciphertext SHA-256 as at upload, audit chain intact"),
    "integrity": ("完整性", "nothing missing, nothing extra: every version's blob present, no orphan blobs"),
    "usability": ("可用性", "content can be read: every data key unwraps and every blob decrypts and authenticates"),
    "security": ("安全性", "what must be gone is gone: destroyed versions keep no key, text or blob"),
}
KIND_CATEGORY = {
    "fixity_mismatch": "authenticity", "audit_chain": "authenticity",
    "missing_blob": "integrity", "orphan_blob": "integrity",
    "decrypt_failed": "usability",
    "destroyed_residue": "security",
}


@dataclass
class FixityReport:
    versions_checked: int = 0
    bytes_checked: int = 0
    orphans_removed: int = 0
    findings: list[Finding] = field(default_factory=list)
    audit_events: int = 0
    interrupted_uploads_removed: int = 0  # temp files and pending rows of uploads killed mid-way

    @property
    def ok(self) -> bool:
        return not self.findings

    def by_category(self) -> dict[str, list[Finding]]:
        """Findings grouped by the four properties (四性), every category present even when clean."""
        out: dict[str, list[Finding]] = {c: [] for c in CATEGORIES}
        for f in self.findings:
            out[KIND_CATEGORY.get(f.kind, "integrity")].append(f)
        return out

    def lines(self, *, deep: bool = False) -> list[str]:
        """The report as printed by `dossier verify`: one block per category, then OK or the count."""
        out = []
        for category, findings in self.by_category().items():
            zh, what = CATEGORIES[category]
            state = "OK" if not findings else f"{len(findings)} finding(s)"
            note = " (decryption not checked: use --deep)" if category == "usability" and not deep else ""
            out.append(f"{category} {zh}: {state} - {what}{note}")
            out.extend(f"  FINDING {f.kind}: {f.subject}: {f.detail}" for f in findings)
        return out


def referenced_blob_keys(v: Vault) -> set[str]:
    with v.session() as s:
        keys = {k for k in s.scalars(select(DocumentVersion.blob_key)).all() if k}
        keys.update(k for k in s.scalars(select(IntakePart.blob_key)).all() if k)  # the unfiled inbox
        keys.update(k for k in s.scalars(select(IntakeStack.blob_key)).all() if k)  # stacks waiting
        return keys


def find_orphans(v: Vault, grace: timedelta = DEFAULT_GRACE) -> list[str]:
    """Blob keys no version row owns, except uploads still in flight (pending and younger than `grace`)."""
    referenced = referenced_blob_keys(v)
    cutoff = v.clock.now() - grace
    with v.session() as s:
        in_flight = set(s.scalars(select(PendingBlob.blob_key).where(PendingBlob.created_at > cutoff)).all())
    return [k for k in v.blobs.keys() if k not in referenced and k not in in_flight]


def sweep_orphans(v: Vault, orphans: list[str]) -> int:
    """Delete orphans, re-checking each against the database right before (an upload may just commit).

    Owns its transactions: one per blob, so the check and the deletion see the same committed state."""
    removed = 0
    for key in orphans:
        with v.session() as s:
            if s.scalar(select(DocumentVersion.id).where(DocumentVersion.blob_key == key)) is not None:
                continue
            s.execute(delete(PendingBlob).where(PendingBlob.blob_key == key))
        v.blobs.delete(key)
        removed += 1
    return removed


def sweep_interrupted_uploads(v: Vault, grace: timedelta = DEFAULT_GRACE) -> int:
    """Remove what uploads killed mid-way left behind, once older than `grace`: the store's temp files and
    the pending rows whose blob never arrived (a stored blob no version owns is an orphan: `sweep_orphans`).
    Returns how many temp files and rows were removed. Owns its transactions (a worker task, not a request)."""
    removed = 0
    sweep_temp = getattr(v.blobs, "sweep_temp_files", None)
    if callable(sweep_temp):
        removed += int(sweep_temp(older_than_s=grace.total_seconds()))
    cutoff = v.clock.now() - grace
    with v.session() as s:
        stale = list(s.scalars(select(PendingBlob.blob_key).where(PendingBlob.created_at <= cutoff)).all())
    for key in stale:
        if v.blobs.exists(key):
            continue  # the whole blob arrived: an orphan for sweep_orphans, or about to be committed
        with v.session() as s:
            removed += s.execute(delete(PendingBlob).where(PendingBlob.blob_key == key)).rowcount or 0  # type: ignore[attr-defined]
    return removed


def verify_all(
    v: Vault, *, deep: bool = False, remove_orphans: bool = False,
    progress: Callable[[int, int], None] | None = None, grace: timedelta = DEFAULT_GRACE,
) -> FixityReport:
    """Check every live version's blob (exists, SHA-256; `deep`: decrypts and authenticates), orphans, chain.

    A long operation: owns its (read) transactions, holding none while it reads the blobs."""
    report = FixityReport()
    with v.session() as s:
        versions = s.scalars(select(DocumentVersion).where(DocumentVersion.blob_key.is_not(None))
                             .order_by(DocumentVersion.id)).all()
        rows = [(x.id, x.blob_key, x.ciphertext_sha256, x.wrapped_key is not None) for x in versions]
    total = len(rows)
    for i, (vid, blob_key, sha, has_key) in enumerate(rows, 1):
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
            elif deep and has_key:
                try:
                    # the one read path: unwrap the data key in a short read, then stream outside it
                    with v.session() as s:
                        plaintext = decrypt_version(v, s.get_one(DocumentVersion, vid))
                    for _ in plaintext:
                        pass
                except VaultError as exc:
                    report.findings.append(Finding("decrypt_failed", subject, exc.message))
        report.versions_checked += 1
        if progress:
            progress(i, total)
    orphans = find_orphans(v, grace)
    if remove_orphans:
        report.orphans_removed = sweep_orphans(v, orphans)
        report.interrupted_uploads_removed = sweep_interrupted_uploads(v, grace)
    else:
        report.findings.extend(Finding("orphan_blob", k, "no document version owns this blob") for k in orphans)
    report.findings.extend(_destroyed_residue(v))
    with v.session() as s:
        chain = audit_checkpoints.verify(v, s)
    report.audit_events = chain.events
    if not chain.ok:
        report.findings.append(Finding("audit_chain", f"event {chain.first_bad_seq}",
                                       f"{chain.kind}: {chain.problem}"))
    return report


def _destroyed_residue(v: Vault) -> list[Finding]:
    """Versions of destroyed documents that still hold a wrapped key, extracted text or a blob key."""
    from vault.models import Document, DocumentStatus

    with v.session() as s:
        rows = s.execute(
            select(DocumentVersion.id, DocumentVersion.wrapped_key.is_not(None), DocumentVersion.blob_key)
            .join(Document, DocumentVersion.document_id == Document.id)
            .where(Document.status == DocumentStatus.DESTROYED,
                   DocumentVersion.wrapped_key.is_not(None) | DocumentVersion.text_ciphertext.is_not(None)
                   | DocumentVersion.blob_key.is_not(None))
        ).all()
    why = "the document was destroyed but this version still holds its key, text or blob"
    return [Finding("destroyed_residue", f"version {vid}", why) for vid, *_ in rows]
