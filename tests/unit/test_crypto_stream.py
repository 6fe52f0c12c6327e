"""Blob format v1: round trips, tamper evidence, flat memory and the frozen known-answer vector."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import resource
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tests.unit.vectors import crypto_v1
from vault.crypto import (
    HEADER_SIZE,
    SEGMENT_SIZE,
    Encryptor,
    ciphertext_size,
    decrypt_iter,
    encrypt_iter,
    new_data_key,
    parse_header,
    unwrap_data_key,
    wrap_data_key,
)
from vault.errors import BlobIntegrityError

SEALED = SEGMENT_SIZE + 16
KEY = bytes(range(32))
UID = UUID("12345678-1234-5678-1234-567812345678")
FINGERPRINT_KEY = b"\x42" * 32
VECTOR = json.loads((Path(__file__).parent / "vectors" / "crypto_v1.json").read_text())


def chunked(data: bytes, sizes: Iterable[int]) -> Iterator[bytes]:
    """Cut `data` into consecutive pieces of the given sizes, cycling them."""
    sizes = list(sizes)
    offset, index = 0, 0
    while offset < len(data):
        size = sizes[index % len(sizes)]
        yield data[offset : offset + size]
        offset += size
        index += 1


def encrypt(plaintext: bytes, *, chunk: int = 10_000, key: bytes = KEY, uid: UUID = UID) -> bytes:
    return b"".join(encrypt_iter(chunked(plaintext, [chunk]), key, 1, uid))


def decrypt(blob: bytes, *, key: bytes = KEY, uid: UUID = UID, chunk: int = 8192) -> bytes:
    return b"".join(decrypt_iter(chunked(blob, [chunk]), key, uid))


def released_before_failure(blob: bytes) -> bytes:
    """Decrypt, expecting failure; return the plaintext that was yielded before it."""
    released = bytearray()
    with pytest.raises(BlobIntegrityError):
        for piece in decrypt_iter([blob], KEY, UID):
            released += piece
    return bytes(released)


def flip(blob: bytes, position: int, bit: int = 0) -> bytes:
    damaged = bytearray(blob)
    damaged[position] ^= 1 << bit
    return bytes(damaged)


# -- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 3 * 65536])
@pytest.mark.parametrize("chunk", [1000, 65536, 65537, 1 << 20])
def test_a_plaintext_round_trips_at_segment_boundaries(size: int, chunk: int) -> None:
    plaintext = random.Random(size).randbytes(size)
    blob = encrypt(plaintext, chunk=chunk)
    assert len(blob) == ciphertext_size(size)
    assert decrypt(blob, chunk=chunk + 7) == plaintext


@pytest.mark.parametrize("seed", range(12))
def test_random_sizes_round_trip_whatever_the_chunking_on_either_side(seed: int) -> None:
    rng = random.Random(seed)
    plaintext = rng.randbytes(rng.randrange(0, 5 * SEGMENT_SIZE))
    sizes_in = [rng.choice([1, 3, 4095, 65535, 65536, 70001, 200_000]) for _ in range(7)]
    sizes_out = [rng.choice([1, 17, 29, 30, 65552, 65553, 131_104, 1 << 20]) for _ in range(7)]
    blob = b"".join(encrypt_iter(chunked(plaintext, sizes_in), KEY, 1, UID))
    assert b"".join(decrypt_iter(chunked(blob, sizes_out), KEY, UID)) == plaintext


def test_byte_by_byte_input_round_trips_both_ways() -> None:
    plaintext = random.Random(1).randbytes(SEGMENT_SIZE + 100)
    blob = b"".join(encrypt_iter(chunked(plaintext, [1]), KEY, 1, UID))
    assert b"".join(decrypt_iter(chunked(blob, [1]), KEY, UID)) == plaintext


def test_decryption_yields_one_piece_per_authenticated_segment() -> None:
    plaintext = bytes(3 * SEGMENT_SIZE + 5)
    pieces = list(decrypt_iter([encrypt(plaintext)], KEY, UID))
    assert [len(p) for p in pieces] == [SEGMENT_SIZE, SEGMENT_SIZE, SEGMENT_SIZE, 5]


def test_the_encryptor_holds_back_a_full_segment_until_it_knows_more_follows() -> None:
    encryptor = Encryptor(KEY, 1, UID)
    header = encryptor.header()
    assert encryptor.update(bytes(SEGMENT_SIZE)) == b""
    first = encryptor.update(b"x")
    assert len(first) == SEALED
    last = encryptor.finalize()
    assert len(last) == 1 + 16
    assert decrypt(header + first + last) == bytes(SEGMENT_SIZE) + b"x"


def test_an_exact_multiple_of_the_segment_size_ends_with_a_full_segment_flagged_last() -> None:
    blob = encrypt(bytes(2 * SEGMENT_SIZE))
    assert len(blob) == HEADER_SIZE + 2 * SEALED
    aead = AESGCM(_payload_key(KEY, parse_header(blob).salt))
    aad = blob[:HEADER_SIZE] + UID.bytes
    last = blob[HEADER_SIZE + SEALED :]
    assert aead.decrypt((1 << 8 | 1).to_bytes(12, "big"), last, aad) == bytes(SEGMENT_SIZE)


def test_an_empty_plaintext_is_one_empty_final_segment() -> None:
    blob = encrypt(b"")
    assert len(blob) == HEADER_SIZE + 16 == ciphertext_size(0)
    assert list(decrypt_iter([blob], KEY, UID)) == [b""]


def test_stats_describe_sizes_ciphertext_digest_and_plaintext_fingerprint() -> None:
    plaintext = random.Random(2).randbytes(100_000)
    stream = encrypt_iter(chunked(plaintext, [333]), KEY, 5, UID, fingerprint_key=FINGERPRINT_KEY)
    with pytest.raises(RuntimeError):
        _ = stream.stats
    blob = b"".join(stream)
    assert stream.stats.plaintext_size == len(plaintext)
    assert stream.stats.ciphertext_size == len(blob) == ciphertext_size(len(plaintext))
    assert stream.stats.ciphertext_sha256 == hashlib.sha256(blob).hexdigest()
    assert stream.stats.fingerprint == hmac.new(FINGERPRINT_KEY, plaintext, hashlib.sha256).hexdigest()


def test_without_a_fingerprint_key_there_is_no_fingerprint() -> None:
    stream = encrypt_iter([b"abc"], KEY, 1, UID)
    list(stream)
    assert stream.stats.fingerprint is None


def test_the_encryptor_refuses_calls_out_of_order() -> None:
    encryptor = Encryptor(KEY, 1, UID)
    with pytest.raises(RuntimeError, match="header"):
        encryptor.update(b"x")
    encryptor.header()
    with pytest.raises(RuntimeError):
        encryptor.header()
    encryptor.finalize()
    with pytest.raises(RuntimeError, match="finalized"):
        encryptor.update(b"x")


def test_every_blob_gets_its_own_salt_so_equal_plaintexts_differ() -> None:
    assert encrypt(b"same") != encrypt(b"same")
    assert parse_header(encrypt(b"same")).salt != parse_header(encrypt(b"same")).salt


def test_the_header_carries_magic_version_key_id_segment_size_and_salt() -> None:
    salt = bytes(range(16))
    encryptor = Encryptor(KEY, 0xDEADBEEF, UID, salt=salt)
    raw = encryptor.header()
    assert raw == b"DVLT\x01" + struct.pack(">II", 0xDEADBEEF, SEGMENT_SIZE) + salt
    header = parse_header(raw + b"rest of the blob")
    assert (header.key_id, header.segment_size, header.salt, header.format_version) == (
        0xDEADBEEF,
        SEGMENT_SIZE,
        salt,
        1,
    )
    assert header.to_bytes() == raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"XVLT\x01" + bytes(24), "bad magic"),
        (b"DVLT\x02" + bytes(24), "unsupported format version 2"),
        (b"DVLT\x01" + struct.pack(">II", 1, 1 << 30) + bytes(16), "unsupported segment size"),
    ],
)
def test_a_header_that_is_not_v1_is_refused_by_name(raw: bytes, message: str) -> None:
    with pytest.raises(BlobIntegrityError, match=message):
        parse_header(raw)
    with pytest.raises(BlobIntegrityError, match=message):
        list(decrypt_iter([raw + bytes(100)], KEY, UID))


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 10 * 65536 + 3])
def test_ciphertext_size_predicts_the_blob_size(size: int) -> None:
    assert ciphertext_size(size) == len(encrypt(bytes(size), chunk=1 << 20))


# -- tamper evidence -----------------------------------------------------------------------------


def test_a_flipped_bit_anywhere_in_the_header_releases_no_plaintext() -> None:
    blob = encrypt(b"attorney-client privileged")
    for position in range(HEADER_SIZE):
        for bit in range(8):
            assert released_before_failure(flip(blob, position, bit)) == b""


@pytest.mark.parametrize("where", ["first body byte", "middle of the body", "last body byte"])
def test_a_flipped_bit_in_a_segment_body_releases_no_plaintext(where: str) -> None:
    blob = encrypt(bytes(1000))
    position = {"first body byte": HEADER_SIZE, "middle of the body": HEADER_SIZE + 500}.get(
        where, len(blob) - 17
    )
    assert released_before_failure(flip(blob, position, 3)) == b""


@pytest.mark.parametrize("offset_in_tag", [0, 7, 15])
def test_a_flipped_bit_in_a_tag_releases_no_plaintext(offset_in_tag: int) -> None:
    blob = encrypt(bytes(1000))
    assert released_before_failure(flip(blob, len(blob) - 16 + offset_in_tag, 7)) == b""


def test_damage_in_a_later_segment_releases_only_the_authentic_segments_before_it() -> None:
    plaintext = random.Random(3).randbytes(3 * SEGMENT_SIZE)
    blob = flip(encrypt(plaintext), HEADER_SIZE + SEALED + 10)
    with pytest.raises(BlobIntegrityError, match="segment 1 failed authentication"):
        list(decrypt_iter([blob], KEY, UID))
    assert released_before_failure(blob) == plaintext[:SEGMENT_SIZE]


def test_a_blob_cut_inside_a_segment_fails() -> None:
    blob = encrypt(bytes(2 * SEGMENT_SIZE + 100))
    for cut in (len(blob) - 1, len(blob) - 50, HEADER_SIZE + SEALED + 5, HEADER_SIZE + 10):
        with pytest.raises(BlobIntegrityError):
            decrypt(blob[:cut])


def test_a_blob_cut_at_a_segment_boundary_fails_as_missing_its_final_segment() -> None:
    blob = encrypt(bytes(3 * SEGMENT_SIZE))
    for segments in (1, 2):
        with pytest.raises(BlobIntegrityError, match="truncated: no final segment"):
            decrypt(blob[: HEADER_SIZE + segments * SEALED])


@pytest.mark.parametrize("kept", [0, 1, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 15])
def test_a_blob_cut_in_or_right_after_its_header_fails_as_truncated(kept: int) -> None:
    with pytest.raises(BlobIntegrityError, match="truncated"):
        decrypt(encrypt(b"some text")[:kept])


def test_bytes_after_a_full_final_segment_fail_as_trailing_data() -> None:
    blob = encrypt(bytes(2 * SEGMENT_SIZE))
    for extra in (b"\x00", bytes(SEALED), bytes(SEALED + 1)):
        with pytest.raises(BlobIntegrityError, match="trailing data after final segment 1"):
            decrypt(blob + extra)


@pytest.mark.parametrize("size", [0, 1, SEGMENT_SIZE + 1])
def test_bytes_after_a_short_final_segment_fail(size: int) -> None:
    blob = encrypt(bytes(size))
    for extra in (b"\x00", bytes(16), bytes(SEALED)):
        with pytest.raises(BlobIntegrityError):
            decrypt(blob + extra)


def test_swapping_two_segments_fails() -> None:
    plaintext = random.Random(4).randbytes(3 * SEGMENT_SIZE)
    blob = encrypt(plaintext)
    first = slice(HEADER_SIZE, HEADER_SIZE + SEALED)
    second = slice(HEADER_SIZE + SEALED, HEADER_SIZE + 2 * SEALED)
    swapped = blob[: first.start] + blob[second] + blob[first] + blob[second.stop :]
    assert released_before_failure(swapped) == b""


def test_dropping_a_middle_segment_fails() -> None:
    blob = encrypt(bytes(3 * SEGMENT_SIZE))
    dropped = blob[: HEADER_SIZE + SEALED] + blob[HEADER_SIZE + 2 * SEALED :]
    with pytest.raises(BlobIntegrityError, match="segment 1"):
        decrypt(dropped)


def test_a_segment_spliced_from_another_blob_under_the_same_key_fails() -> None:
    one, other = encrypt(bytes(2 * SEGMENT_SIZE)), encrypt(bytes(2 * SEGMENT_SIZE))
    with pytest.raises(BlobIntegrityError):
        decrypt(one[: HEADER_SIZE + SEALED] + other[HEADER_SIZE + SEALED :])


def test_a_blob_moved_to_another_document_version_fails() -> None:
    blob = encrypt(b"belongs to version A")
    with pytest.raises(BlobIntegrityError, match="segment 0 failed authentication"):
        decrypt(blob, uid=uuid4())


def test_a_wrong_data_key_fails() -> None:
    with pytest.raises(BlobIntegrityError, match="segment 0 failed authentication"):
        decrypt(encrypt(b"secret"), key=new_data_key())


def test_a_key_id_other_than_the_expected_one_fails_before_any_decryption() -> None:
    blob = b"".join(encrypt_iter([b"x"], KEY, 3, UID))
    assert b"".join(decrypt_iter([blob], KEY, UID, expected_key_id=3)) == b"x"
    with pytest.raises(BlobIntegrityError, match="key id mismatch: blob has 3, expected 4"):
        list(decrypt_iter([blob], KEY, UID, expected_key_id=4))


def test_bad_arguments_are_refused_before_any_work() -> None:
    with pytest.raises(ValueError, match="data_key"):
        decrypt_iter([], b"short", UID)
    with pytest.raises(ValueError, match="version_uid"):
        Encryptor(KEY, 1, b"not 16 bytes")
    with pytest.raises(ValueError, match="key_id"):
        Encryptor(KEY, 2**32, UID)


# -- flat memory ---------------------------------------------------------------------------------


def counter_pattern(total: int, chunk: int = 1 << 20) -> Iterator[bytes]:
    """Yield `total` deterministic bytes lazily; every chunk starts with its own index."""
    body = bytes(range(256)) * (chunk // 256)
    for index in range(total // chunk):
        yield index.to_bytes(8, "big") + body[8:]


def hashed(chunks: Iterable[bytes], digest: hashlib._Hash) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


@pytest.mark.slow
def test_a_3_gib_stream_round_trips_in_flat_memory() -> None:
    total = 3 << 30
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    sent, received = hashlib.sha256(), hashlib.sha256()
    size = 0
    blob = encrypt_iter(hashed(counter_pattern(total), sent), KEY, 1, UID)
    for piece in decrypt_iter(blob, KEY, UID, expected_key_id=1):
        received.update(piece)
        size += len(piece)
    growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert size == total
    assert received.hexdigest() == sent.hexdigest()
    assert blob.stats.ciphertext_size == ciphertext_size(total)
    assert growth_mb < 100, f"peak RSS grew by {growth_mb:.0f} MB"


# -- the frozen format: known-answer vector ------------------------------------------------------


def _payload_key(data_key: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=salt, info=b"dossier-vault/v1/payload").derive(data_key)


def _decrypt_by_the_spec(blob: bytes, data_key: bytes, uid: bytes) -> bytes:
    """Decrypt with nothing but the written format description and the primitives."""
    magic, version, _key_id, segment_size, salt = struct.unpack(">4sBII16s", blob[:29])
    assert (magic, version, segment_size) == (b"DVLT", 1, 65536)
    aead = AESGCM(_payload_key(data_key, salt))
    body = blob[29:]
    sealed = [body[i : i + segment_size + 16] for i in range(0, len(body), segment_size + 16)] or [b""]
    plaintext = b""
    for counter, segment in enumerate(sealed):
        nonce = counter.to_bytes(11, "big") + (b"\x01" if counter == len(sealed) - 1 else b"\x00")
        plaintext += aead.decrypt(nonce, segment, blob[:29] + uid)
    return plaintext


@pytest.mark.parametrize("case", VECTOR["cases"], ids=lambda case: case["name"])
def test_encryption_still_produces_the_frozen_v1_vector_byte_for_byte(case: dict[str, object]) -> None:
    inputs = VECTOR["inputs"]
    plaintext = crypto_v1.pattern_plaintext(int(str(case["plaintext_size"])))
    assert hashlib.sha256(plaintext).hexdigest() == case["plaintext_sha256"]
    encryptor = Encryptor(
        bytes.fromhex(inputs["data_key"]),
        inputs["key_id"],
        UUID(inputs["version_uid"]),
        fingerprint_key=bytes.fromhex(inputs["fingerprint_key"]),
        salt=bytes.fromhex(inputs["salt"]),
    )
    blob = encryptor.header()
    for piece in chunked(plaintext, [4097]):
        blob += encryptor.update(piece)
    blob += encryptor.finalize()
    assert blob.hex() == case["ciphertext"]
    assert hashlib.sha256(blob).hexdigest() == case["ciphertext_sha256"] == encryptor.stats.ciphertext_sha256
    assert encryptor.stats.fingerprint == case["fingerprint"]


@pytest.mark.parametrize("case", VECTOR["cases"], ids=lambda case: case["name"])
def test_the_stored_v1_vector_decrypts_with_the_code_and_with_the_written_spec(case: dict[str, str]) -> None:
    inputs = VECTOR["inputs"]
    blob = bytes.fromhex(case["ciphertext"])
    data_key, uid = bytes.fromhex(inputs["data_key"]), UUID(inputs["version_uid"])
    plaintext = b"".join(decrypt_iter(chunked(blob, [1000]), data_key, uid, expected_key_id=inputs["key_id"]))
    assert hashlib.sha256(plaintext).hexdigest() == case["plaintext_sha256"]
    assert _decrypt_by_the_spec(blob, data_key, uid.bytes) == plaintext


def test_the_v1_wrapped_data_key_vector_is_reproduced_and_unwraps() -> None:
    inputs = VECTOR["inputs"]
    master_key, data_key = bytes.fromhex(inputs["master_key"]), bytes.fromhex(inputs["data_key"])
    uid = UUID(inputs["version_uid"])
    wrapped = wrap_data_key(
        master_key, inputs["key_id"], data_key, uid, _nonce=bytes.fromhex(inputs["wrap_nonce"])
    )
    assert wrapped.hex() == VECTOR["wrapped_data_key"]
    assert unwrap_data_key(master_key, inputs["key_id"], wrapped, uid) == data_key
    aad = b"dossier-vault/v1/wrap" + uid.bytes + struct.pack(">I", inputs["key_id"])
    assert AESGCM(master_key).decrypt(wrapped[:12], wrapped[12:], aad) == data_key


def test_the_vector_file_is_what_the_regeneration_script_builds() -> None:
    assert crypto_v1.build() == VECTOR
