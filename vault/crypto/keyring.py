"""Versioned master keys that wrap data keys, the fingerprint key, and the keyring file itself.

The keyring is a JSON file, mode 0600 from the moment it exists, replaced atomically on change::

    {"format": 1, "current": 2,
     "keys": {"1": {"key": b64, "created": iso, "status": "retired"},
              "2": {"key": b64, "created": iso, "status": "active"}},
     "fingerprint_key": b64,
     "audit_signing_key": b64}

`audit_signing_key` is the Ed25519 private key (32-byte seed) that signs checkpoints of the audit chain
(see vault.audit_checkpoints). It lives here, outside the database, so that whoever can write the
database cannot sign a rewritten chain; it travels with the keyring into every backup. Keyrings written
before it existed get one the first time a checkpoint is signed.

Key material never appears in a repr, a log line or an exception message.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import secrets
import stat
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from vault.crypto.stream import KEY_SIZE, MAX_KEY_ID, BytesLike, VersionUid, check_key, uid_bytes
from vault.errors import BlobIntegrityError, Conflict, Invalid, VaultError

WRAP_INFO = b"dossier-vault/v1/wrap"
WRAP_NONCE_SIZE = 12
WRAPPED_SIZE = WRAP_NONCE_SIZE + KEY_SIZE + 16
KEYRING_FORMAT = 1
EXPORT_FORMAT = "dossier-vault-keyring-export"
EXPORT_AAD = b"dossier-vault/v1/keyring-export"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
ACTIVE, RETIRED = "active", "retired"


class KeyringError(VaultError):
    """The keyring file is missing, unreadable, malformed or unsafe, or a key is unusable."""

    status = 500
    code = "keyring_error"


class UnknownKeyId(KeyringError, KeyError):
    """No master key with this id is in the keyring."""

    code = "unknown_key_id"

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class WrongPassphrase(KeyringError):
    """A keyring export could not be decrypted: wrong passphrase or damaged export."""

    status = 400
    code = "wrong_passphrase"


# -- data-key wrapping ---------------------------------------------------------------------------


def _wrap_aad(key_id: int, version_uid: VersionUid) -> bytes:
    if not 0 <= key_id <= MAX_KEY_ID:
        raise ValueError("key_id must fit in an unsigned 32-bit integer")
    return WRAP_INFO + uid_bytes(version_uid) + struct.pack(">I", key_id)


def wrap_data_key(
    master_key: BytesLike,
    key_id: int,
    data_key: BytesLike,
    version_uid: VersionUid,
    *,
    _nonce: bytes | None = None,
) -> bytes:
    """Encrypt a data key under a master key, bound to its document version and key id.

    Returns nonce || ciphertext || tag (60 bytes). `_nonce` exists for known-answer tests only.
    """
    nonce = os.urandom(WRAP_NONCE_SIZE) if _nonce is None else _nonce
    if len(nonce) != WRAP_NONCE_SIZE:
        raise ValueError(f"wrap nonce must be {WRAP_NONCE_SIZE} bytes")
    aead = AESGCM(check_key(master_key, "master_key"))
    return nonce + aead.encrypt(nonce, check_key(data_key, "data_key"), _wrap_aad(key_id, version_uid))


def unwrap_data_key(master_key: BytesLike, key_id: int, wrapped: BytesLike, version_uid: VersionUid) -> bytes:
    """Recover a data key wrapped by `wrap_data_key`; BlobIntegrityError if anything does not match."""
    raw = bytes(wrapped)
    if len(raw) != WRAPPED_SIZE:
        raise BlobIntegrityError(f"wrapped data key must be {WRAPPED_SIZE} bytes, got {len(raw)}")
    aead = AESGCM(check_key(master_key, "master_key"))
    try:
        return aead.decrypt(raw[:WRAP_NONCE_SIZE], raw[WRAP_NONCE_SIZE:], _wrap_aad(key_id, version_uid))
    except InvalidTag:
        pass
    raise BlobIntegrityError(f"wrapped data key failed authentication under master key {key_id}")


# -- the keyring ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _MasterKey:
    key: bytes
    created: str
    status: str

    def __repr__(self) -> str:
        return f"_MasterKey(created={self.created!r}, status={self.status!r})"


class Keyring:
    """Master keys by version (one current), plus the never-rotated fingerprint key."""

    def __init__(
        self, path: Path, current: int, keys: Mapping[int, _MasterKey], fingerprint_key: bytes,
        audit_signing_key: bytes | None = None,
    ) -> None:
        self._path = Path(path)
        self._current = current
        self._keys = dict(keys)
        self._fingerprint_key = fingerprint_key
        self._audit_signing_key = audit_signing_key
        self._loaded_stat = _stat_signature(self._path)

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> Keyring:
        """Create a new keyring file with master key 1; refuses if the file already exists."""
        keyring = cls(Path(path), 1, {1: _new_master_key()}, os.urandom(KEY_SIZE))
        keyring._write(exclusive=True)
        return keyring

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Keyring:
        """Read a keyring file; KeyringError naming the path if missing, unsafe, unreadable or malformed."""
        path = Path(path)
        return cls(path, *_parse(_read_private(path), str(path)))

    @classmethod
    def load_or_create(cls, path: str | os.PathLike[str]) -> tuple[Keyring, bool]:
        """Load the keyring, or create it if there is no file yet; the flag says it was created."""
        path = Path(path)
        if path.exists() or path.is_symlink():
            return cls.load(path), False
        try:
            return cls.create(path), True
        except KeyringError:
            if path.exists():  # another process created it between the check and our create
                return cls.load(path), False
            raise

    @classmethod
    def import_encrypted(cls, data: bytes, passphrase: str, path: str | os.PathLike[str]) -> Keyring:
        """Restore a keyring from `export_encrypted()` output into a new file at `path`."""
        plaintext = _open_export(data, passphrase)
        path = Path(path)
        keyring = cls(path, *_parse(plaintext, "keyring export"))
        keyring._write(exclusive=True)
        return keyring

    # -- reading ---------------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """Where the keyring file lives."""
        return self._path

    @property
    def current_id(self) -> int:
        """The master-key version new data keys are wrapped with."""
        return self._current

    @property
    def ids(self) -> tuple[int, ...]:
        """Every master-key version, active or retired, in ascending order."""
        return tuple(sorted(self._keys))

    def status(self, key_id: int) -> str:
        """Return "active" or "retired" for a master-key version."""
        return self._entry(key_id).status

    def master_key(self, key_id: int) -> bytes:
        """Return the master key of a version; UnknownKeyId if the keyring has no such version."""
        return self._entry(key_id).key

    @property
    def fingerprint_key(self) -> bytes:
        """The dedicated HMAC key for plaintext fingerprints (never rotated)."""
        return self._fingerprint_key

    def existing_audit_signing_key(self) -> bytes | None:
        """The audit signing key if the keyring has one yet (never creates it: for verifying)."""
        if self._audit_signing_key is None:
            self._refresh()
        return self._audit_signing_key

    def audit_signing_key(self) -> bytes:
        """The Ed25519 seed that signs audit checkpoints; created and saved the first time it is needed."""
        if self._audit_signing_key is None:
            self._refresh()
        if self._audit_signing_key is None:
            lock_path = self._path.with_name(f".{self._path.name}.lock")
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # two processes must not each create a different key
                self._reload()
                if self._audit_signing_key is None:
                    self._audit_signing_key = os.urandom(KEY_SIZE)
                    self._write(exclusive=False)
            finally:
                os.close(fd)
        assert self._audit_signing_key is not None
        return self._audit_signing_key

    # -- wrapping --------------------------------------------------------------------------------

    def wrap(self, data_key: BytesLike, version_uid: VersionUid) -> tuple[int, bytes]:
        """Wrap a data key with the current master key; returns (key id, wrapped key)."""
        key_id = self._current
        return key_id, wrap_data_key(self.master_key(key_id), key_id, data_key, version_uid)

    def unwrap(self, key_id: int, wrapped: BytesLike, version_uid: VersionUid) -> bytes:
        """Recover a data key wrapped under any known version, retired ones included."""
        return unwrap_data_key(self.master_key(key_id), key_id, wrapped, version_uid)

    def rewrap(self, key_id: int, wrapped: BytesLike, version_uid: VersionUid) -> tuple[int, bytes]:
        """Re-wrap a data key under the current master key (after a rotation); blobs stay as they are."""
        return self.wrap(self.unwrap(key_id, wrapped, version_uid), version_uid)

    # -- changing --------------------------------------------------------------------------------

    def rotate(self) -> int:
        """Add a new active master-key version, make it current, save; returns its id."""
        self._refresh()
        new_id = max(self._keys) + 1
        if new_id > MAX_KEY_ID:
            raise KeyringError("no master-key ids left")
        self._keys[new_id] = _new_master_key()
        self._current = new_id
        self._write(exclusive=False)
        return new_id

    def retire(self, key_id: int) -> None:
        """Mark a version retired (it still unwraps, no longer the current); refuses the current one."""
        self._refresh()
        entry = self._entry(key_id)
        if key_id == self._current:
            raise Conflict("master key {key_id} is the current one; rotate before retiring it",
                           params={"key_id": key_id})
        self._keys[key_id] = _MasterKey(entry.key, entry.created, RETIRED)
        self._write(exclusive=False)

    def export_encrypted(self, passphrase: str) -> bytes:
        """Return the whole keyring encrypted under a passphrase (scrypt + AES-256-GCM), as JSON."""
        salt, nonce = os.urandom(16), os.urandom(12)
        aead = AESGCM(_passphrase_key(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P))
        envelope = {
            "format": EXPORT_FORMAT,
            "version": 1,
            "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": _b64(salt)},
            "nonce": _b64(nonce),
            "ciphertext": _b64(aead.encrypt(nonce, self._serialize(), EXPORT_AAD)),
        }
        return json.dumps(envelope, indent=2).encode() + b"\n"

    def __repr__(self) -> str:
        return f"Keyring(path={str(self._path)!r}, current_id={self._current}, ids={list(self.ids)})"

    # -- internals -------------------------------------------------------------------------------

    def _entry(self, key_id: int) -> _MasterKey:
        entry = self._keys.get(key_id)
        if entry is None:
            self._refresh()  # e.g. `dossier keys rotate` ran while this process was serving
            entry = self._keys.get(key_id)
        if entry is None:
            raise UnknownKeyId(f"master key {key_id} is not in keyring {self._path}", key_id=key_id)
        return entry

    def _changed_on_disk(self) -> bool:
        return _stat_signature(self._path) not in (None, self._loaded_stat)

    def _refresh(self) -> None:
        if self._changed_on_disk():  # another process rotated or retired: do not undo its change
            self._reload()

    def _reload(self) -> None:
        fresh = Keyring.load(self._path)
        self._current, self._keys = fresh._current, fresh._keys
        self._fingerprint_key, self._loaded_stat = fresh._fingerprint_key, fresh._loaded_stat
        self._audit_signing_key = fresh._audit_signing_key

    def _serialize(self) -> bytes:
        document: dict[str, Any] = {
            "format": KEYRING_FORMAT,
            "current": self._current,
            "keys": {
                str(key_id): {"key": _b64(entry.key), "created": entry.created, "status": entry.status}
                for key_id, entry in sorted(self._keys.items())
            },
            "fingerprint_key": _b64(self._fingerprint_key),
        }
        if self._audit_signing_key is not None:
            document["audit_signing_key"] = _b64(self._audit_signing_key)
        return json.dumps(document, indent=2).encode() + b"\n"

    def _write(self, *, exclusive: bool) -> None:
        _write_private(self._path, self._serialize(), exclusive=exclusive)
        self._loaded_stat = _stat_signature(self._path)


def _new_master_key() -> _MasterKey:
    created = datetime.now(UTC).isoformat(timespec="seconds")
    return _MasterKey(os.urandom(KEY_SIZE), created, ACTIVE)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: object, what: str, source: str, size: int | None = KEY_SIZE) -> bytes:
    raw: bytes | None = None
    if isinstance(text, str):
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or (size is not None and len(raw) != size):
        expected = "base64" if size is None else f"base64 of {size} bytes"
        raise KeyringError(f"{source} is malformed: {what} is not {expected}")
    return raw


def _parse(data: bytes, source: str) -> tuple[int, dict[int, _MasterKey], bytes, bytes | None]:
    """Check and decode a serialized keyring; error messages name the field, never its value."""
    document: Any = None
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        pass  # raised below, outside the handler, so the file's text is not chained to the error
    if not isinstance(document, dict):
        raise KeyringError(f"{source} is malformed: not a JSON object")
    if document.get("format") != KEYRING_FORMAT:
        raise KeyringError(f"{source} is malformed: unsupported format {document.get('format')!r}")
    raw_keys = document.get("keys")
    if not isinstance(raw_keys, dict) or not raw_keys:
        raise KeyringError(f"{source} is malformed: no keys")
    keys: dict[int, _MasterKey] = {}
    for raw_id, entry in raw_keys.items():
        if not (isinstance(raw_id, str) and raw_id.isdigit() and 1 <= int(raw_id) <= MAX_KEY_ID):
            raise KeyringError(f"{source} is malformed: key id {raw_id!r} is not a positive integer")
        if not isinstance(entry, dict) or entry.get("status") not in (ACTIVE, RETIRED):
            raise KeyringError(f"{source} is malformed: key {raw_id} has no valid status")
        created = entry.get("created")
        if not isinstance(created, str):
            raise KeyringError(f"{source} is malformed: key {raw_id} has no creation time")
        keys[int(raw_id)] = _MasterKey(
            _unb64(entry.get("key"), f"key {raw_id}", source), created, entry["status"]
        )
    current = document.get("current")
    if not isinstance(current, int) or current not in keys:
        raise KeyringError(f"{source} is malformed: current key {current!r} is not among the keys")
    if keys[current].status != ACTIVE:
        raise KeyringError(f"{source} is malformed: current key {current} is retired")
    fingerprint_key = _unb64(document.get("fingerprint_key"), "fingerprint_key", source)
    signing_key = document.get("audit_signing_key")
    if signing_key is not None:
        signing_key = _unb64(signing_key, "audit_signing_key", source)
    return current, keys, fingerprint_key, signing_key


# -- files ---------------------------------------------------------------------------------------


def _stat_signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _read_private(path: Path) -> bytes:
    """Read the keyring file after checking that only its owner can read or write it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise KeyringError(f"keyring file {path} does not exist", code="keyring_missing") from None
    except OSError as exc:
        raise KeyringError(f"cannot open keyring file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise KeyringError(f"keyring {path} is not a regular file")
        if mode & 0o077:
            raise KeyringError(
                f"keyring {path} has mode {stat.S_IMODE(mode):04o}: group/others may access it; "
                f"run `chmod 600 {path}` after checking who may have read it",
                code="keyring_unsafe_mode",
            )
        try:
            return handle.read()
        except OSError as exc:
            raise KeyringError(f"cannot read keyring file {path}: {exc.strerror}") from None


def _write_private(path: Path, data: bytes, *, exclusive: bool) -> None:
    """Write `data` to `path` atomically; the file is 0600 from creation, never readable by others."""
    directory = path.parent
    temp = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise KeyringError(f"cannot write keyring file in {directory}: {exc.strerror}") from None
    try:
        try:
            os.fchmod(fd, 0o600)  # a umask can only remove bits; make it exactly 0600
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if exclusive:
            try:
                os.link(temp, path)  # fails if `path` exists, with no window for a race
            except FileExistsError:
                raise KeyringError(f"keyring {path} already exists; refusing to overwrite it") from None
        else:
            os.replace(temp, path)
    except OSError as exc:
        raise KeyringError(f"cannot write keyring file {path}: {exc.strerror}") from None
    finally:
        temp.unlink(missing_ok=True)
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- passphrase export ---------------------------------------------------------------------------


def _passphrase_key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    if not passphrase:
        raise Invalid("passphrase", "the passphrase must not be empty")
    return Scrypt(salt=salt, length=KEY_SIZE, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _open_export(data: bytes, passphrase: str) -> bytes:
    envelope: Any = None
    try:
        envelope = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        pass
    if not isinstance(envelope, dict) or envelope.get("format") != EXPORT_FORMAT:
        raise KeyringError("not a Dossier Vault keyring export")
    if envelope.get("version") != 1:
        raise KeyringError(f"unsupported keyring export version {envelope.get('version')!r}")
    kdf = envelope.get("kdf")
    if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
        raise KeyringError("keyring export is malformed: unknown key derivation")
    n, r, p = kdf.get("n"), kdf.get("r"), kdf.get("p")
    # Bounds keep a doctored export from asking for gigabytes of scrypt memory.
    if not (isinstance(n, int) and isinstance(r, int) and isinstance(p, int)) or not (
        2 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16
    ):
        raise KeyringError("keyring export is malformed: scrypt parameters out of range")
    source = "keyring export"
    salt = _unb64(kdf.get("salt"), "salt", source, size=None)
    nonce = _unb64(envelope.get("nonce"), "nonce", source, size=12)
    ciphertext = _unb64(envelope.get("ciphertext"), "ciphertext", source, size=None)
    aead = AESGCM(_passphrase_key(passphrase, salt, n, r, p))
    try:
        return aead.decrypt(nonce, ciphertext, EXPORT_AAD)
    except InvalidTag:
        pass
    raise WrongPassphrase("cannot decrypt the keyring export: wrong passphrase, or the export is damaged")
