"""The destruction register: what keeps documents destroyed after a restore from an older backup.

`export_destruction_register` writes every executed destruction batch (keep a copy beside the backups
after every destruction); `replay_destructions` destroys again, in a restored vault, every document the
register lists that is still live there, through the same erasure and index purge as an execution.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from vault.core import Vault
from vault.errors import Conflict
from vault.models import DestructionBatch, DestructionStatus, Document, DocumentStatus, User
from vault.services.backup import BackupError
from vault.services.erasure import checkpoint, erase_documents, retry_blob_erasures

REGISTER_FORMAT = "dossier-vault-destruction-register"
REGISTER_FILE = "destruction-register.json"


def export_destruction_register(v: Vault) -> dict[str, Any]:
    """Every executed destruction batch with its documents and ciphertext digests (no content, no keys).

    The operator's export (the command line, holding the keyring): it lists every batch whatever its
    secrecy, since a restore must replay all of them. It has no user and no endpoint; a user reads the
    register through `destruction.list_batches`, within clearance."""
    with v.session() as s:
        batches = s.scalars(select(DestructionBatch).where(DestructionBatch.status == DestructionStatus.EXECUTED)
                            .order_by(DestructionBatch.id)).all()
        out = [{
            "batch_id": b.id,
            "executed_at": b.executed_at.isoformat() if b.executed_at else None,
            "certificate_sha256": b.certificate_sha256,
            "documents": [{"document_id": it.document_id, "archive_no": it.archive_no, "title": it.title,
                           "ciphertext_sha256": [h for h in it.ciphertext_sha256.split("\n") if h]}
                          for it in b.items],
        } for b in batches]
    return {"format": REGISTER_FORMAT, "version": 1, "exported_at": v.clock.now().isoformat(), "batches": out}


def load_register(path: Path) -> list[dict[str, Any]]:
    """The batches of a register file written by `export_destruction_register`."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read the destruction register {path}: {exc}", code="register_invalid") from None
    if not isinstance(data, dict) or data.get("format") != REGISTER_FORMAT:
        raise BackupError(f"{path} is not a Dossier Vault destruction register", code="register_invalid")
    batches = data.get("batches")
    if not isinstance(batches, list):
        raise BackupError(f"{path} has no list of batches", code="register_invalid")
    return batches


def register_beside(src: Path) -> Path | None:
    """A register kept next to the backup: SRC/../destruction-register.json, if it exists."""
    candidate = Path(src).resolve().parent / REGISTER_FILE
    return candidate if candidate.is_file() else None


def replay_destructions(v: Vault, register: list[dict[str, Any]], actor: User | None = None) -> list[int]:
    """Destroy again, in a restored vault, every document the register lists that is still live here.

    The same erasure as an execution (`erasure.erase_documents`: keys, extracted text and fingerprints
    erased, document a tombstone, the index purge queued for the worker; blobs deleted from the outbox
    after the commit), audited as `document.destroyed` with `replayed: true`. A document whose
    recorded ciphertext digests do not match is refused: the register belongs to another vault.
    The search index forgets them through a queued purge job (the worker runs it), as after an execution.
    Owns its transactions (one per document; blobs deleted once they are committed). Returns the ids of
    documents destroyed by this replay.
    """
    destroyed: list[int] = []
    for batch in register:
        executed_at = batch.get("executed_at")
        for item in batch.get("documents", []):
            with v.session() as s:
                doc = s.get(Document, int(item["document_id"]))
                if doc is None or doc.status is DocumentStatus.DESTROYED:
                    continue
                digests = [ver.ciphertext_sha256 for ver in doc.versions]
                if sorted(digests) != sorted(item.get("ciphertext_sha256", [])):
                    raise Conflict("document {id} in the register does not match this vault's document "
                                   "(ciphertext digests differ): is the register from another vault?",
                                   params={"id": doc.id},
                                   code="register_mismatch")
                erase_documents(s, actor, [doc], v.clock.now(),
                                destroyed_at=datetime.fromisoformat(executed_at) if executed_at else None,
                                batch_id=batch.get("batch_id"), replayed=True, executed_at=executed_at)
                destroyed.append(doc.id)
    retry_blob_erasures(v)
    checkpoint(v)
    return destroyed
