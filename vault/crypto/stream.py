"""Streaming blob encryption, format v1: a header, then 64 KiB AES-256-GCM segments.

Layout of a blob::

    header   = b"DVLT" | 0x01 | key_id (u32 BE) | segment_size (u32 BE) | salt (16 bytes)
    segments = AES-256-GCM(payload_key, nonce_i, plaintext_i, aad) for i = 0 .. n-1
    payload_key = HKDF-SHA256(data_key, salt=salt, info=b"dossier-vault/v1/payload")
    nonce_i  = i (11 bytes BE) | 0x01 if segment i is the last one else 0x00
    aad      = header | version_uid (16 bytes)

Every segment holds SEGMENT_SIZE plaintext bytes except the last, which holds 0..SEGMENT_SIZE
(an empty plaintext is one empty final segment). The nonce need not be random: the salt makes the
payload key unique per blob, and the counter makes the nonce unique per segment. The final flag
makes truncation and appended data detectable; the aad binds every segment to its header and to
its document version. This format is frozen: tests/unit/vectors/crypto_v1.json proves it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vault.errors import BlobIntegrityError

MAGIC = b"DVLT"
FORMAT_VERSION = 1
SEGMENT_SIZE = 64 * 1024
TAG_SIZE = 16
SALT_SIZE = 16
KEY_SIZE = 32
UID_SIZE = 16
PAYLOAD_INFO = b"dossier-vault/v1/payload"
MAX_KEY_ID = 2**32 - 1

_HEADER = struct.Struct(">4sBII16s")
HEADER_SIZE = _HEADER.size  # 29
_SEALED_SEGMENT = SEGMENT_SIZE + TAG_SIZE

VersionUid = bytes | UUID
BytesLike = bytes | bytearray | memoryview


@dataclass(frozen=True, slots=True)
class BlobHeader:
    """The authenticated, unencrypted prefix of a blob."""

    key_id: int
    salt: bytes
    segment_size: int = SEGMENT_SIZE
    format_version: int = FORMAT_VERSION

    def to_bytes(self) -> bytes:
        """Serialize the header exactly as it is stored in front of the segments."""
        return _HEADER.pack(MAGIC, self.format_version, self.key_id, self.segment_size, self.salt)


@dataclass(frozen=True, slots=True)
class EncryptStats:
    """What an encryption produced; sizes in bytes, digests as lowercase hex."""

    plaintext_size: int
    ciphertext_size: int
    ciphertext_sha256: str
    fingerprint: str | None


def new_data_key() -> bytes:
    """Return a fresh random 256-bit data key for one document version."""
    return os.urandom(KEY_SIZE)


def ciphertext_size(plaintext_size: int) -> int:
    """Return the exact blob size (header included) for a plaintext of this many bytes."""
    if plaintext_size < 0:
        raise ValueError("plaintext_size must not be negative")
    segments = max(1, -(-plaintext_size // SEGMENT_SIZE))
    return HEADER_SIZE + plaintext_size + segments * TAG_SIZE


def parse_header(data: BytesLike) -> BlobHeader:
    """Read and check the header at the start of `data` (extra bytes after it are ignored).

    Raises BlobIntegrityError for a short buffer, bad magic, an unsupported format version or
    segment size. The header is only *authenticated* once a segment decrypts.
    """
    view = memoryview(data).cast("B")
    if len(view) < HEADER_SIZE:
        raise BlobIntegrityError(f"truncated: header needs {HEADER_SIZE} bytes, got {len(view)}")
    magic, version, key_id, segment_size, salt = _HEADER.unpack_from(view)
    if magic != MAGIC:
        raise BlobIntegrityError("bad magic: not a Dossier Vault blob")
    if version != FORMAT_VERSION:
        raise BlobIntegrityError(f"unsupported format version {version}")
    if segment_size != SEGMENT_SIZE:
        raise BlobIntegrityError(f"unsupported segment size {segment_size}")
    return BlobHeader(key_id=key_id, salt=salt, segment_size=segment_size, format_version=version)


def uid_bytes(version_uid: VersionUid) -> bytes:
    """Return the 16 bytes that identify a document version in associated data."""
    if isinstance(version_uid, UUID):
        return version_uid.bytes
    uid = bytes(version_uid)
    if len(uid) != UID_SIZE:
        raise ValueError(f"version_uid must be {UID_SIZE} bytes or a UUID")
    return uid


def check_key(key: BytesLike, what: str) -> bytes:
    """Return `key` as bytes after checking it is 256 bits (the message never shows the key)."""
    raw = bytes(key)
    if len(raw) != KEY_SIZE:
        raise ValueError(f"{what} must be {KEY_SIZE} bytes")
    return raw


def _payload_cipher(data_key: bytes, salt: bytes) -> AESGCM:
    hkdf = HKDF(algorithm=SHA256(), length=KEY_SIZE, salt=salt, info=PAYLOAD_INFO)
    return AESGCM(hkdf.derive(data_key))


def _nonce(counter: int, last: bool) -> bytes:
    return ((counter << 8) | last).to_bytes(12, "big")


class Encryptor:
    """Push-based encryption of one blob: `header()`, then `update()`s, then `finalize()`.

    Keeps one segment of look-ahead so that the last segment can be flagged as such, which means
    `update()` may return less than it was given (or nothing) until `finalize()`.

    `salt` is for known-answer tests: leave it None. Reusing a (data key, salt) pair for two
    plaintexts reuses GCM nonces, which destroys confidentiality and authenticity.
    """

    def __init__(
        self,
        data_key: BytesLike,
        key_id: int,
        version_uid: VersionUid,
        *,
        fingerprint_key: BytesLike | None = None,
        salt: BytesLike | None = None,
    ) -> None:
        if not 0 <= key_id <= MAX_KEY_ID:
            raise ValueError("key_id must fit in an unsigned 32-bit integer")
        salt_bytes = os.urandom(SALT_SIZE) if salt is None else bytes(salt)
        if len(salt_bytes) != SALT_SIZE:
            raise ValueError(f"salt must be {SALT_SIZE} bytes")
        self._key_id = key_id
        self._header = BlobHeader(key_id=key_id, salt=salt_bytes).to_bytes()
        self._aad = self._header + uid_bytes(version_uid)
        self._aead = _payload_cipher(check_key(data_key, "data_key"), salt_bytes)
        self._mac = (
            None if fingerprint_key is None else hmac.new(bytes(fingerprint_key), digestmod=hashlib.sha256)
        )
        self._sha = hashlib.sha256()
        self._pending = bytearray()
        self._counter = 0
        self._plaintext_size = 0
        self._ciphertext_size = 0
        self._started = False
        self._stats: EncryptStats | None = None

    @property
    def key_id(self) -> int:
        """The master-key version that wraps this blob's data key, as written in the header."""
        return self._key_id

    def header(self) -> bytes:
        """Return the blob header; call it once, before any `update()`."""
        if self._started:
            raise RuntimeError("header() was already called")
        self._started = True
        self._sha.update(self._header)
        self._ciphertext_size += len(self._header)
        return self._header

    def update(self, chunk: BytesLike) -> bytes:
        """Take more plaintext; return the ciphertext of every segment that can be sealed yet."""
        self._check_open()
        return b"".join(self._segments(chunk))

    def _segments(self, chunk: BytesLike) -> Iterator[bytes]:
        # A generator, so that encrypt_iter can hand out one segment at a time: memory stays at
        # one segment beyond the caller's chunk. update() checks _check_open() before starting it.
        view = memoryview(chunk).cast("B")
        if self._mac is not None:
            self._mac.update(view)
        self._plaintext_size += len(view)
        pending, size = self._pending, SEGMENT_SIZE
        if pending:
            need = size - len(pending)
            if len(view) <= need:  # nothing proves yet that pending is not the last segment
                pending += view
                return
            pending += view[:need]
            view = view[need:]
            yield self._seal(pending, last=False)
            pending.clear()
        end, offset = len(view), 0
        while end - offset > size:  # strictly more: a byte follows, so this segment is not last
            yield self._seal(view[offset : offset + size], last=False)
            offset += size
        pending += view[offset:]

    def finalize(self) -> bytes:
        """Seal the last segment and return it; `stats` is available afterwards."""
        self._check_open()
        last = self._seal(self._pending, last=True)
        self._pending = bytearray()
        mac = self._mac
        self._stats = EncryptStats(
            plaintext_size=self._plaintext_size,
            ciphertext_size=self._ciphertext_size,
            ciphertext_sha256=self._sha.hexdigest(),
            fingerprint=None if mac is None else mac.hexdigest(),
        )
        return last

    @property
    def stats(self) -> EncryptStats:
        """Sizes, ciphertext SHA-256 and plaintext fingerprint; only after `finalize()`."""
        if self._stats is None:
            raise RuntimeError("stats are available after finalize()")
        return self._stats

    def __repr__(self) -> str:
        return (
            f"<Encryptor key_id={self.key_id} segments={self._counter} finalized={self._stats is not None}>"
        )

    def _check_open(self) -> None:
        if not self._started:
            raise RuntimeError("call header() first")
        if self._stats is not None:
            raise RuntimeError("the encryptor is already finalized")

    def _seal(self, segment: BytesLike, *, last: bool) -> bytes:
        sealed = self._aead.encrypt(_nonce(self._counter, last), segment, self._aad)
        self._counter += 1
        self._sha.update(sealed)
        self._ciphertext_size += len(sealed)
        return sealed


class EncryptingStream(Iterator[bytes]):
    """Ciphertext chunks of one blob (header first); `stats` is filled once it is exhausted."""

    def __init__(self, chunks: Iterable[bytes], encryptor: Encryptor) -> None:
        self._encryptor = encryptor
        self._chunks = self._generate(chunks)

    def __next__(self) -> bytes:
        return next(self._chunks)

    @property
    def stats(self) -> EncryptStats:
        """What was encrypted; raises RuntimeError until the stream has been consumed."""
        return self._encryptor.stats

    def _generate(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        encryptor = self._encryptor
        yield encryptor.header()
        for chunk in chunks:
            yield from encryptor._segments(chunk)
        yield encryptor.finalize()


def encrypt_iter(
    chunks: Iterable[bytes],
    data_key: BytesLike,
    key_id: int,
    version_uid: VersionUid,
    *,
    fingerprint_key: BytesLike | None = None,
) -> EncryptingStream:
    """Encrypt a plaintext stream lazily; yields the header, then one item per sealed segment."""
    encryptor = Encryptor(data_key, key_id, version_uid, fingerprint_key=fingerprint_key)
    return EncryptingStream(chunks, encryptor)


def decrypt_iter(
    chunks: Iterable[BytesLike],
    data_key: BytesLike,
    version_uid: VersionUid,
    *,
    expected_key_id: int | None = None,
) -> Iterator[bytes]:
    """Decrypt a blob stream; yields each segment's plaintext only once that segment authenticated.

    Input chunks may have any sizes. Raises BlobIntegrityError (naming what failed) on a bad
    header, a key id other than `expected_key_id`, a segment that fails authentication, a
    truncated blob or data after the final segment; earlier, authentic segments may already have
    been yielded, never a byte of the failing one.
    """
    key = check_key(data_key, "data_key")
    return _decrypt(iter(chunks), key, uid_bytes(version_uid), expected_key_id)


def _decrypt(
    chunks: Iterator[BytesLike], data_key: bytes, uid: bytes, expected_key_id: int | None
) -> Iterator[bytes]:
    header = bytearray()
    view = memoryview(b"")
    for chunk in chunks:
        view = memoryview(chunk).cast("B")
        take = HEADER_SIZE - len(header)
        header += view[:take]
        view = view[take:]
        if len(header) == HEADER_SIZE:
            break
    parsed = parse_header(header)  # raises "truncated" if the stream ended inside the header
    if expected_key_id is not None and parsed.key_id != expected_key_id:
        raise BlobIntegrityError(f"key id mismatch: blob has {parsed.key_id}, expected {expected_key_id}")
    opener = _SegmentOpener(_payload_cipher(data_key, parsed.salt), bytes(header) + uid)

    # `carry` holds at most one sealed segment; a segment is known not to be the last only once
    # at least one more byte has arrived, so segments are opened while *more* than one is available.
    carry, size = bytearray(), _SEALED_SEGMENT
    while True:
        if carry:
            need = size - len(carry)
            if len(view) <= need:
                carry += view
            else:
                carry += view[:need]
                view = view[need:]
                yield opener.open(carry, last=False)
                carry.clear()
        if not carry:
            end, offset = len(view), 0
            while end - offset > size:
                yield opener.open(view[offset : offset + size], last=False)
                offset += size
            carry += view[offset:]
        following = next(chunks, None)
        if following is None:
            break
        view = memoryview(following).cast("B")
    yield opener.open_final(carry)


class _SegmentOpener:
    def __init__(self, aead: AESGCM, aad: bytes) -> None:
        self._aead = aead
        self._aad = aad
        self._counter = 0

    def open(self, sealed: BytesLike, *, last: bool) -> bytes:
        """Authenticate and decrypt the next segment; a failure names the segment and the cause."""
        index = self._counter
        try:
            plaintext = self._aead.decrypt(_nonce(index, last), sealed, self._aad)
        except InvalidTag:
            plaintext = None
        if plaintext is None:
            # Failure path only: find out whether the segment is authentic but in the wrong place.
            if not last and self._opens(sealed, index, last=True):
                raise BlobIntegrityError(f"trailing data after final segment {index}")
            raise BlobIntegrityError(f"segment {index} failed authentication")
        self._counter += 1
        return plaintext

    def open_final(self, sealed: BytesLike) -> bytes:
        """Open what remains at the end of the stream, which must be a segment flagged last."""
        index = self._counter
        if len(sealed) < TAG_SIZE:
            raise BlobIntegrityError(f"truncated: no final segment (stream ends at segment {index})")
        try:
            return self._aead.decrypt(_nonce(index, True), sealed, self._aad)
        except InvalidTag:
            pass
        if self._opens(sealed, index, last=False):
            raise BlobIntegrityError(f"truncated: no final segment (stream ends after segment {index})")
        raise BlobIntegrityError(f"segment {index} failed authentication")

    def _opens(self, sealed: BytesLike, index: int, *, last: bool) -> bool:
        try:
            self._aead.decrypt(_nonce(index, last), sealed, self._aad)
        except InvalidTag:
            return False
        return True
