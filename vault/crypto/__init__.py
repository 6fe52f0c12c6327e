"""Encryption at rest: streaming blob format v1, data-key wrapping and the master-key keyring.

Callers import from here; `stream` and `keyring` are implementation modules.
"""

from __future__ import annotations

from vault.crypto.keyring import (
    Keyring,
    KeyringError,
    UnknownKeyId,
    WrongPassphrase,
    unwrap_data_key,
    wrap_data_key,
)
from vault.crypto.stream import (
    FORMAT_VERSION,
    HEADER_SIZE,
    SEGMENT_SIZE,
    BlobHeader,
    EncryptingStream,
    Encryptor,
    EncryptStats,
    ciphertext_size,
    decrypt_iter,
    encrypt_iter,
    new_data_key,
    parse_header,
)

__all__ = [
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "SEGMENT_SIZE",
    "BlobHeader",
    "EncryptStats",
    "EncryptingStream",
    "Encryptor",
    "Keyring",
    "KeyringError",
    "UnknownKeyId",
    "WrongPassphrase",
    "ciphertext_size",
    "decrypt_iter",
    "encrypt_iter",
    "new_data_key",
    "parse_header",
    "unwrap_data_key",
    "wrap_data_key",
]
