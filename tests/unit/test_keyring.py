"""The keyring file and data-key wrapping: private from creation, rotation, retirement, export."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from vault.crypto import (
    Keyring,
    KeyringError,
    UnknownKeyId,
    WrongPassphrase,
    new_data_key,
    unwrap_data_key,
    wrap_data_key,
)
from vault.errors import BlobIntegrityError, Conflict, Invalid

UID = UUID("12345678-1234-5678-1234-567812345678")
MASTER = bytes(range(32))


@pytest.fixture
def keyring_path(tmp_path: Path) -> Path:
    return tmp_path / "keyring.json"


@pytest.fixture
def keyring(keyring_path: Path) -> Keyring:
    return Keyring.create(keyring_path)


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def secrets_of(keyring: Keyring) -> list[str]:
    """Every key of the keyring as it could leak: raw repr, hex and base64."""
    raw = [keyring.master_key(i) for i in keyring.ids] + [keyring.fingerprint_key]
    return [f for key in raw for f in (repr(key), key.hex(), base64.b64encode(key).decode())]


# -- wrapping ------------------------------------------------------------------------------------


def test_a_wrapped_data_key_unwraps_with_the_same_master_key_id_and_version() -> None:
    data_key = new_data_key()
    wrapped = wrap_data_key(MASTER, 1, data_key, UID)
    assert len(wrapped) == 12 + 32 + 16
    assert unwrap_data_key(MASTER, 1, wrapped, UID) == data_key


def test_wrapping_twice_gives_different_bytes() -> None:
    data_key = new_data_key()
    assert wrap_data_key(MASTER, 1, data_key, UID) != wrap_data_key(MASTER, 1, data_key, UID)


@pytest.mark.parametrize("change", ["version", "key id", "master key", "flipped bit", "short"])
def test_a_wrapped_key_refuses_to_unwrap_anywhere_else(change: str) -> None:
    wrapped = wrap_data_key(MASTER, 1, new_data_key(), UID)
    master, key_id, uid = MASTER, 1, UID
    if change == "version":
        uid = uuid4()
    elif change == "key id":
        key_id = 2
    elif change == "master key":
        master = new_data_key()
    elif change == "flipped bit":
        wrapped = wrapped[:20] + bytes([wrapped[20] ^ 1]) + wrapped[21:]
    else:
        wrapped = wrapped[:-1]
    with pytest.raises(BlobIntegrityError, match="wrapped data key"):
        unwrap_data_key(master, key_id, wrapped, uid)


# -- the file ------------------------------------------------------------------------------------


def test_a_new_keyring_file_is_private_even_under_an_open_umask(keyring_path: Path, open_umask: None) -> None:
    Keyring.create(keyring_path)
    assert mode(keyring_path) == 0o600
    assert [p.name for p in keyring_path.parent.iterdir()] == ["keyring.json"]  # no temp file left


def test_the_file_holds_format_current_keys_and_fingerprint_key(keyring: Keyring, keyring_path: Path) -> None:
    document = json.loads(keyring_path.read_text())
    assert set(document) == {"format", "current", "keys", "fingerprint_key"}
    assert (document["format"], document["current"]) == (1, 1)
    assert document["keys"]["1"]["status"] == "active"
    assert base64.b64decode(document["keys"]["1"]["key"]) == keyring.master_key(1)
    assert base64.b64decode(document["fingerprint_key"]) == keyring.fingerprint_key


def test_create_refuses_to_overwrite_an_existing_keyring(keyring: Keyring, keyring_path: Path) -> None:
    before = keyring_path.read_bytes()
    with pytest.raises(KeyringError, match="already exists"):
        Keyring.create(keyring_path)
    assert keyring_path.read_bytes() == before


def test_a_loaded_keyring_has_the_same_keys(keyring: Keyring, keyring_path: Path) -> None:
    loaded = Keyring.load(keyring_path)
    assert (loaded.current_id, loaded.ids) == (1, (1,))
    assert loaded.master_key(1) == keyring.master_key(1)
    assert loaded.fingerprint_key == keyring.fingerprint_key
    assert loaded.fingerprint_key != loaded.master_key(1)


def test_load_refuses_a_file_others_can_read_and_says_how_to_fix_it(
    keyring: Keyring, keyring_path: Path
) -> None:
    keyring_path.chmod(0o644)
    with pytest.raises(KeyringError, match=f"chmod 600 {keyring_path}"):
        Keyring.load(keyring_path)
    keyring_path.chmod(0o600)
    Keyring.load(keyring_path)


def test_load_names_the_path_of_a_missing_keyring(keyring_path: Path) -> None:
    with pytest.raises(KeyringError, match=f"{keyring_path} does not exist"):
        Keyring.load(keyring_path)


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[]", b'{"format": 2}', b'{"format": 1, "current": 1, "keys": {"1": {"key": "eHh4"}}}'],
)
def test_load_names_the_path_of_a_malformed_keyring(keyring_path: Path, content: bytes) -> None:
    keyring_path.write_bytes(content)
    keyring_path.chmod(0o600)
    with pytest.raises(KeyringError, match=f"{keyring_path} is malformed"):
        Keyring.load(keyring_path)


def test_a_malformed_key_is_named_but_never_shown(keyring: Keyring, keyring_path: Path) -> None:
    document = json.loads(keyring_path.read_text())
    document["keys"]["1"]["key"] = document["keys"]["1"]["key"][:-4]  # 29 bytes instead of 32
    keyring_path.write_text(json.dumps(document))
    with pytest.raises(KeyringError, match="key 1 is not base64 of 32 bytes") as failure:
        Keyring.load(keyring_path)
    assert document["keys"]["1"]["key"] not in str(failure.value)


def test_load_or_create_creates_once_then_loads(keyring_path: Path) -> None:
    created, was_created = Keyring.load_or_create(keyring_path)
    loaded, again = Keyring.load_or_create(keyring_path)
    assert (was_created, again) == (True, False)
    assert loaded.master_key(1) == created.master_key(1)


def test_an_unknown_key_id_is_a_key_error_naming_the_id(keyring: Keyring) -> None:
    with pytest.raises(UnknownKeyId, match="master key 9 is not in keyring") as failure:
        keyring.master_key(9)
    assert isinstance(failure.value, KeyError)
    assert str(failure.value).startswith("master key 9")


# -- rotation and retirement ---------------------------------------------------------------------


def test_after_rotation_new_wraps_use_the_new_key_and_old_wraps_still_unwrap(
    keyring: Keyring, keyring_path: Path
) -> None:
    data_key = new_data_key()
    old_id, old_wrapped = keyring.wrap(data_key, UID)
    new_id = keyring.rotate()
    assert (old_id, new_id, keyring.current_id, keyring.ids) == (1, 2, 2, (1, 2))
    assert keyring.wrap(data_key, UID)[0] == 2
    assert keyring.unwrap(old_id, old_wrapped, UID) == data_key
    reloaded = Keyring.load(keyring_path)
    assert (reloaded.current_id, reloaded.ids) == (2, (1, 2))
    assert reloaded.unwrap(old_id, old_wrapped, UID) == data_key
    assert mode(keyring_path) == 0o600


def test_rewrapping_moves_a_data_key_to_the_current_master_key(keyring: Keyring) -> None:
    data_key = new_data_key()
    old_id, old_wrapped = keyring.wrap(data_key, UID)
    keyring.rotate()
    new_id, new_wrapped = keyring.rewrap(old_id, old_wrapped, UID)
    assert new_id == 2
    assert keyring.unwrap(new_id, new_wrapped, UID) == data_key
    with pytest.raises(BlobIntegrityError):
        keyring.unwrap(old_id, new_wrapped, UID)


def test_the_current_master_key_cannot_be_retired(keyring: Keyring) -> None:
    with pytest.raises(Conflict, match="current"):
        keyring.retire(1)
    assert keyring.status(1) == "active"


def test_a_retired_key_still_unwraps_and_stays_retired_on_reload(
    keyring: Keyring, keyring_path: Path
) -> None:
    data_key = new_data_key()
    _, wrapped = keyring.wrap(data_key, UID)
    keyring.rotate()
    keyring.retire(1)
    reloaded = Keyring.load(keyring_path)
    assert reloaded.status(1) == "retired"
    assert reloaded.unwrap(1, wrapped, UID) == data_key


def test_a_rotation_by_another_process_is_picked_up_when_its_key_is_needed(keyring_path: Path) -> None:
    serving = Keyring.create(keyring_path)
    operator = Keyring.load(keyring_path)
    operator.rotate()
    key_id, wrapped = operator.wrap(b"k" * 32, UID)
    assert serving.unwrap(key_id, wrapped, UID) == b"k" * 32
    assert serving.current_id == 2


def test_a_stale_keyring_does_not_undo_a_rotation_made_elsewhere(keyring_path: Path) -> None:
    first = Keyring.create(keyring_path)
    Keyring.load(keyring_path).rotate()
    assert first.rotate() == 3
    assert Keyring.load(keyring_path).ids == (1, 2, 3)


# -- passphrase export ---------------------------------------------------------------------------


def test_an_exported_keyring_imports_with_the_same_keys_into_a_private_file(
    keyring: Keyring, tmp_path: Path, open_umask: None
) -> None:
    keyring.rotate()
    exported = keyring.export_encrypted("correct horse battery staple")
    restored = Keyring.import_encrypted(exported, "correct horse battery staple", tmp_path / "restored.json")
    assert (restored.current_id, restored.ids) == (2, (1, 2))
    assert [restored.master_key(i) for i in restored.ids] == [keyring.master_key(i) for i in keyring.ids]
    assert restored.fingerprint_key == keyring.fingerprint_key
    assert mode(tmp_path / "restored.json") == 0o600
    assert not any(secret in exported.decode() for secret in secrets_of(keyring))


def test_a_wrong_passphrase_is_refused_clearly_and_writes_nothing(keyring: Keyring, tmp_path: Path) -> None:
    exported = keyring.export_encrypted("right passphrase")
    with pytest.raises(WrongPassphrase, match="wrong passphrase"):
        Keyring.import_encrypted(exported, "wrong passphrase", tmp_path / "restored.json")
    assert not (tmp_path / "restored.json").exists()


def test_import_refuses_to_overwrite_an_existing_keyring(keyring: Keyring, keyring_path: Path) -> None:
    exported = keyring.export_encrypted("pass")
    with pytest.raises(KeyringError, match="already exists"):
        Keyring.import_encrypted(exported, "pass", keyring_path)


def test_an_empty_passphrase_is_refused(keyring: Keyring) -> None:
    with pytest.raises(Invalid, match="passphrase"):
        keyring.export_encrypted("")


def test_something_that_is_not_an_export_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="not a Dossier Vault keyring export"):
        Keyring.import_encrypted(b'{"hello": 1}', "pass", tmp_path / "restored.json")


# -- no key material in reprs or errors ----------------------------------------------------------


def test_the_repr_shows_ids_but_no_key_material(keyring: Keyring) -> None:
    keyring.rotate()
    text = repr(keyring)
    assert "current_id=2" in text and "ids=[1, 2]" in text
    assert not any(secret in text for secret in secrets_of(keyring))
    assert not any(secret in repr(keyring._keys) for secret in secrets_of(keyring))
