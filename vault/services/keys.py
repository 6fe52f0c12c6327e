"""Master-key rotation: a new keyring version, every data key re-wrapped under it, blobs untouched.

A blob is encrypted with its version's own data key; only the small wrapped copy of that data key
in the database depends on the master key. Rotation therefore rewrites `wrapped_key` and `key_id`
of each live version, in short batches, and never reads or writes a blob. The blob header keeps the
key id that wrapped the data key at upload: it is informational (and authenticated), not checked
against `key_id` when decrypting.

Resumable: a run that stops half-way leaves rows on old key ids, which the next run (`resume=True`,
or another rotation) simply picks up. A master-key version is retired only when no live version uses
it any more; a retired version still unwraps, so a late writer on the old key loses nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, select, update

from vault import audit
from vault.core import Vault
from vault.crypto.keyring import ACTIVE
from vault.models import DocumentVersion, DossierKey, User
from vault.services import intake

DEFAULT_BATCH = 200


@dataclass
class RotationReport:
    key_id: int  # the current master-key version after the run
    rotated: bool  # a new version was created by this run
    rewrapped: int = 0
    skipped: int = 0  # rows changed by someone else mid-batch (e.g. destroyed): left alone
    retired: list[int] = field(default_factory=list)
    still_used: dict[int, int] = field(default_factory=dict)  # old key id -> live versions still on it


def _stale_filter(current: int) -> list[ColumnElement[bool]]:
    return [DocumentVersion.key_id != current, DocumentVersion.wrapped_key.is_not(None)]


def count_stale(v: Vault) -> int:
    """Live data keys (versions' and dossiers') wrapped by a master key other than the current one."""
    current = v.keyring.current_id
    with v.session() as s:
        versions = s.scalar(select(func.count()).select_from(DocumentVersion).where(*_stale_filter(current))) or 0
        dossier_keys = s.scalar(select(func.count()).select_from(DossierKey)
                                .where(DossierKey.key_id != current, DossierKey.wrapped_key.is_not(None))) or 0
    return versions + dossier_keys


def key_usage(v: Vault) -> dict[int, int]:
    """Master-key id -> number of live data keys it wraps (versions not destroyed, dossiers' card keys)."""
    usage: dict[int, int] = {}
    with v.session() as s:
        for model in (DocumentVersion, DossierKey):
            for k, n in s.execute(select(model.key_id, func.count()).where(model.wrapped_key.is_not(None))
                                  .group_by(model.key_id)).all():
                usage[int(k)] = usage.get(int(k), 0) + int(n)
    for key_id, n in intake.key_usage(v).items():  # the unfiled inbox and stacks waiting for the worker
        usage[key_id] = usage.get(key_id, 0) + n
    return usage


def _rewrap_table(v: Vault, model: type[DocumentVersion] | type[DossierKey], batch_size: int,
                  progress: Callable[[int], None] | None) -> tuple[int, int]:
    """Re-wrap one table's live data keys not on the current master key, in batches; (re-wrapped, skipped)."""
    row_id = DocumentVersion.id if model is DocumentVersion else DossierKey.dossier_id
    current = v.keyring.current_id
    rewrapped = skipped = 0
    after = 0
    while True:
        with v.session() as s:
            rows = s.execute(
                select(row_id, model.uid, model.key_id, model.wrapped_key)
                .where(model.key_id != current, model.wrapped_key.is_not(None), row_id > after)
                .order_by(row_id).limit(batch_size)
            ).all()
            if not rows:
                break
            for rid, uid, key_id, wrapped in rows:
                assert wrapped is not None  # the query selects live keys only
                new_id, new_wrapped = v.keyring.rewrap(key_id, wrapped, uuid.UUID(hex=uid).bytes)
                if new_id != current:  # another rotation happened meanwhile: follow the newest key
                    current = new_id
                result = s.execute(
                    update(model)
                    .where(row_id == rid, model.key_id == key_id, model.wrapped_key == wrapped)
                    .values(key_id=new_id, wrapped_key=new_wrapped)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    rewrapped += 1
                else:
                    skipped += 1
            after = rows[-1][0]
        if progress:
            progress(len(rows))
    return rewrapped, skipped


def rewrap_all(v: Vault, *, batch_size: int = DEFAULT_BATCH,
               progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Re-wrap every live data key not on the current master key (versions', then dossiers' card keys);
    returns (re-wrapped, skipped).

    Each batch is one short transaction. Every row is updated only if its key id and wrapped key are
    still the ones read (compare-and-set), so a destruction that erased a key meanwhile is never undone.
    """
    rewrapped, skipped = _rewrap_table(v, DocumentVersion, batch_size, progress)
    more, more_skipped = _rewrap_table(v, DossierKey, batch_size, progress)
    return rewrapped + more, skipped + more_skipped


def retire_unused(v: Vault, actor: User | None, *, only: int | None = None) -> tuple[list[int], dict[int, int]]:
    """Retire active non-current master keys that no live version uses; returns (retired, still used).

    Owns its transactions: one per key, each re-checking that no live version uses it."""
    usage = key_usage(v)
    retired: list[int] = []
    still_used: dict[int, int] = {}
    kr = v.keyring
    for key_id in kr.ids:
        if key_id == kr.current_id or kr.status(key_id) != ACTIVE or (only is not None and key_id != only):
            continue
        if usage.get(key_id):
            still_used[key_id] = usage[key_id]
            continue
        kr.retire(key_id)
        retired.append(key_id)
    if retired:
        with v.session() as s:
            audit.record(s, actor, "keys.retired", now=v.clock.now(), key_ids=retired)
    return retired, still_used


def rotate_master_key(
    v: Vault, actor: User | None, *, resume: bool = False, retire: bool = True, batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None, on_start: Callable[[int, int], None] | None = None,
) -> RotationReport:
    """Add a master-key version (unless `resume`), re-wrap every live data key, retire what is unused.

    A long operation: owns its transactions (the new key version first, then one per batch), so a run
    stopped half-way keeps what it did and `resume` picks up the rest.

    `on_start(key_id, rows_to_rewrap)` is called once the new version exists; `progress` with the
    number of rows handled after each batch.
    """
    previous = v.keyring.current_id
    new_id = previous if resume else v.keyring.rotate()
    if on_start:
        on_start(new_id, count_stale(v))
    report = RotationReport(key_id=new_id, rotated=not resume)
    report.rewrapped, report.skipped = rewrap_all(v, batch_size=batch_size, progress=progress)
    report.rewrapped += intake.rewrap_keys(v)  # the unfiled inbox and stacks waiting for the worker
    report.key_id = v.keyring.current_id
    if retire:
        report.retired, report.still_used = retire_unused(v, actor)
    with v.session() as s:
        audit.record(s, actor, "keys.rotated", now=v.clock.now(), previous_key_id=previous, key_id=report.key_id,
                     new_version=not resume, rewrapped=report.rewrapped, skipped=report.skipped,
                     retired=report.retired)
    return report
