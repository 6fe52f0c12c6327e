"""Sensitive customer values (ID numbers, bank accounts, phones, financial figures) sealed per dossier.

Each dossier gets its own data key the first time a sensitive value is stored (`dossier_keys`), wrapped
by the keyring like a document version's key, so key rotation and destruction treat both alike: the
database holds only ciphertext, and erasing the wrapped key erases every value sealed with it.

Exact lookups ("whose ID number is this?") use `lookup_digest`: a keyed HMAC of the normalised value,
stored beside the ciphertext, so equal values can be found without any plaintext in the database.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault.core import Vault
from vault.crypto import decrypt_iter, encrypt_iter, new_data_key
from vault.models import DossierKey


def _value_uid(key_uid: str, purpose: str) -> bytes:
    # bound into the associated data: a sealed ID number cannot pass for the bank account, nor move to another dossier
    raw = b"dossier-vault/v1/field/" + uuid.UUID(hex=key_uid).bytes + b"/" + purpose.encode("utf-8")
    return hashlib.sha256(raw).digest()[:16]


_KEYS = "dossier_data_keys"  # session.info: dossier id -> its unwrapped data key, for this unit of work
_NEW = "dossiers_without_key"  # session.info: dossiers created in this unit of work, no key yet


def mark_new(s: Session, dossier_id: int) -> None:
    """The dossier was created in this unit of work: it has no key yet (no query needed to find none)."""
    s.info.setdefault(_NEW, set()).add(dossier_id)


def _key_row(v: Vault, s: Session, dossier_id: int, *, create: bool) -> DossierKey | None:
    new = s.info.get(_NEW, set())
    row = s.get(DossierKey, dossier_id) if dossier_id not in new else None
    if row is None and create:
        uid = uuid.uuid4().hex
        data_key = new_data_key()
        key_id, wrapped = v.keyring.wrap(data_key, uuid.UUID(hex=uid).bytes)
        row = DossierKey(dossier_id=dossier_id, uid=uid, key_id=key_id, wrapped_key=wrapped,
                         created_at=v.clock.now())
        s.add(row)
        s.flush()
        new.discard(dossier_id)  # found by `get` from now on (the identity map)
        s.info.setdefault(_KEYS, {})[dossier_id] = (key_id, data_key)
    return row


def _data_key(v: Vault, s: Session, row: DossierKey) -> bytes:
    """The row's data key, unwrapped once per unit of work (a bulk import seals many values per dossier)."""
    assert row.wrapped_key is not None
    cache: dict[int, tuple[int, bytes]] = s.info.setdefault(_KEYS, {})
    known = cache.get(row.dossier_id)
    if known is not None and known[0] == row.key_id:
        return known[1]
    data_key = v.keyring.unwrap(row.key_id, row.wrapped_key, uuid.UUID(hex=row.uid).bytes)
    cache[row.dossier_id] = (row.key_id, data_key)
    return data_key


def seal_value(v: Vault, s: Session, dossier_id: int, purpose: str, value: str) -> bytes:
    """Encrypt one sensitive value of a dossier (`purpose` names the field, e.g. "card.id_number").

    Creates the dossier's key in the caller's transaction when it has none yet. Raises
    `ValueError` when the dossier's key was erased by a destruction: nothing sensitive may be stored then.
    """
    row = _key_row(v, s, dossier_id, create=True)
    assert row is not None
    if row.wrapped_key is None:
        raise ValueError(f"dossier {dossier_id}'s key was erased: its sensitive values cannot be stored again")
    data_key = _data_key(v, s, row)
    return seal_with_key(data_key, row.key_id, row.uid, purpose, value)


def seal_with_key(data_key: bytes, key_id: int, key_uid: str, purpose: str, value: str) -> bytes:
    """`seal_value` with the dossier's data key already unwrapped (`key_id`, `key_uid`: its `dossier_keys`
    row): for sealing many values of one dossier at once (bulk loads) without unwrapping the key each time."""
    return b"".join(encrypt_iter([value.encode("utf-8")], data_key, key_id, _value_uid(key_uid, purpose)))


def open_value(v: Vault, s: Session, dossier_id: int, purpose: str, sealed: bytes | None) -> str | None:
    """The plaintext of a sealed value, or None when there is none or the dossier's key was erased."""
    if sealed is None:
        return None
    row = _key_row(v, s, dossier_id, create=False)
    if row is None or row.wrapped_key is None:
        return None
    data_key = _data_key(v, s, row)
    return b"".join(decrypt_iter([sealed], data_key, _value_uid(row.uid, purpose))).decode("utf-8")


def read_keys(s: Session, dossier_ids: Iterable[int]) -> list[DossierKey]:
    """The key rows of these dossiers in one statement (a page of search hits opens values of many dossiers).
    While the caller holds the list, `open_value` finds them in the session and reads no row per dossier."""
    ids = set(dossier_ids) - s.info.get(_NEW, set())
    return list(s.scalars(select(DossierKey).where(DossierKey.dossier_id.in_(ids)))) if ids else []


def erase_dossier_key(s: Session, dossier_id: int) -> bool:
    """Forget the dossier's key (destruction): every value sealed with it becomes unreadable. True if one existed."""
    row = s.get(DossierKey, dossier_id)
    if row is None or row.wrapped_key is None:
        return False
    row.wrapped_key = None
    s.info.get(_KEYS, {}).pop(dossier_id, None)
    return True


def lookup_digest(v: Vault, kind: str, normalised: str) -> str:
    """A keyed HMAC of a normalised value (`kind` e.g. "id_number", "phone", "bank_account") for exact lookup.

    The key is derived from the keyring's never-rotated fingerprint key, separately per kind, so a
    digest of a phone number cannot be matched against an ID number's, nor computed without the keyring.
    """
    kind_key = hmac.new(v.keyring.fingerprint_key, b"dossier-vault/v1/lookup/" + kind.encode("utf-8"),
                        hashlib.sha256).digest()
    return hmac.new(kind_key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()
