"""Build or check the known-answer vector of blob format v1 (crypto_v1.json, next to this file).

    .venv/bin/python tests/unit/vectors/crypto_v1.py           # check: exit 1 if it would change
    .venv/bin/python tests/unit/vectors/crypto_v1.py --write   # (re)write: only for a NEW format

Format v1 is frozen: a blob written today must decrypt forever. If --check fails, the code changed
the format; fix the code, do not rewrite the vector.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from vault.crypto import Encryptor, wrap_data_key  # noqa: E402

VECTOR = Path(__file__).with_name("crypto_v1.json")

INPUTS: dict[str, Any] = {
    "data_key": "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    "salt": "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
    "version_uid": "6f1c2a3e-4b5d-4e6f-8a9b-0c1d2e3f4a5b",
    "key_id": 7,
    "fingerprint_key": "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff" * 2,
    "master_key": "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
    "wrap_nonce": "c0c1c2c3c4c5c6c7c8c9cacb",
}
PATTERN = "byte i of the plaintext is i % 251"
SIZES = {"two_segments": 70000, "empty": 0}


def pattern_plaintext(size: int) -> bytes:
    """Return the vector's plaintext of `size` bytes (see PATTERN)."""
    return bytes(i % 251 for i in range(size))


def build() -> dict[str, Any]:
    """Encrypt the fixed inputs with the current code and return the vector document."""
    data_key = bytes.fromhex(INPUTS["data_key"])
    uid = UUID(INPUTS["version_uid"])
    cases = []
    for name, size in SIZES.items():
        plaintext = pattern_plaintext(size)
        encryptor = Encryptor(
            data_key,
            INPUTS["key_id"],
            uid,
            fingerprint_key=bytes.fromhex(INPUTS["fingerprint_key"]),
            salt=bytes.fromhex(INPUTS["salt"]),
        )
        blob = encryptor.header() + encryptor.update(plaintext) + encryptor.finalize()
        cases.append(
            {
                "name": name,
                "plaintext_size": size,
                "plaintext_sha256": hashlib.sha256(plaintext).hexdigest(),
                "ciphertext_size": len(blob),
                "ciphertext_sha256": hashlib.sha256(blob).hexdigest(),
                "fingerprint": encryptor.stats.fingerprint,
                "ciphertext": blob.hex(),
            }
        )
    wrapped = wrap_data_key(
        bytes.fromhex(INPUTS["master_key"]),
        INPUTS["key_id"],
        data_key,
        uid,
        _nonce=bytes.fromhex(INPUTS["wrap_nonce"]),
    )
    return {
        "format": "dossier-vault blob format v1",
        "plaintext_pattern": PATTERN,
        "inputs": INPUTS,
        "cases": cases,
        "wrapped_data_key": wrapped.hex(),
    }


def main(argv: list[str]) -> int:
    """Check the stored vector against the code, or write it with --write."""
    document = build()
    if "--write" in argv:
        VECTOR.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {VECTOR}")
        return 0
    if json.loads(VECTOR.read_text()) != document:
        print(f"{VECTOR} does not match what the code produces: format v1 changed", file=sys.stderr)
        return 1
    print(f"{VECTOR} matches")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
