"""The blob store interface, blob keys, and what the implementations share.

A blob store keeps opaque ciphertext under server-generated keys. Callers never name an
implementation; the composition root picks one with `make_blob_store(settings)`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, runtime_checkable

from vault.errors import StorageError

#: "3f/9a/3f9a<28 more hex>": two fan-out levels taken from the key itself, 128 random bits.
BLOB_KEY_RE = re.compile(r"(?P<a>[0-9a-f]{2})/(?P<b>[0-9a-f]{2})/(?P=a)(?P=b)[0-9a-f]{28}")

#: Name prefix of the local store's in-progress files; never a valid key, never listed.
TEMP_PREFIX = ".tmp-"


class StorageCredentialsRefused(StorageError):
    """The object store refused the configured credentials (wrong key/secret or no permission)."""

    code = "storage_credentials_refused"


class StorageFull(StorageError):
    """The store has no space left for the blob being written (507 Insufficient Storage)."""

    status = 507
    code = "storage_full"


@runtime_checkable
class BlobStore(Protocol):
    """Where ciphertext lives: put once under a fresh key, read back streamed, delete."""

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Consume `chunks` and store them atomically under `key`; return the bytes written.

        If `chunks` raises or the store fails, nothing remains under `key` (no partial object,
        no temporary file, no incomplete multipart upload) and the exception propagates: the
        caller's own exception unchanged, store failures as StorageError / StorageUnavailable.
        """
        ...

    def get(self, key: str, chunk_size: int = 65536) -> Iterator[bytes]:
        """Stream the blob; BlobNotFound (raised by this call, not on first read) if it is missing.

        The returned iterator releases its file or connection when exhausted or closed.
        """
        ...

    def size(self, key: str) -> int:
        """Stored size in bytes; BlobNotFound if missing."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the blob; deleting a missing blob is not an error."""
        ...

    def keys(self) -> Iterator[str]:
        """Every stored blob key (for orphan sweeps); never temporary or foreign entries."""
        ...

    def check(self) -> None:
        """Health probe: raise StorageUnavailable with a readable reason if the store cannot serve."""
        ...

    def describe(self) -> str:
        """Where the store is, for logs and the admin page, e.g. "local:/srv/blobs" (no secrets)."""
        ...


def new_blob_key() -> str:
    """A fresh server-generated key, "3f/9a/3f9a...": never derived from user input."""
    digest = secrets.token_hex(16)
    return f"{digest[:2]}/{digest[2:4]}/{digest}"


def is_blob_key(key: object) -> bool:
    return isinstance(key, str) and BLOB_KEY_RE.fullmatch(key) is not None


def validate_key(key: str) -> str:
    """Return `key` if it has the server-generated form; anything else raises ValueError.

    This is what keeps a key from escaping the store: no "..", no leading "/", no NUL, no
    backslash, no other characters at all.
    """
    if not is_blob_key(key):
        raise ValueError(f"not a blob key: {key!r} (expected the form 'xx/yy/<32 hex digits>')")
    return key


def check_chunks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Iterate the caller's chunks; a bare bytes object (which would iterate as ints) is refused."""
    if isinstance(chunks, bytes | bytearray | memoryview | str):
        raise TypeError("put() takes an iterable of bytes chunks, e.g. [data], not a bytes object")
    return iter(chunks)


class ClosingStream(Iterator[bytes]):
    """An iterator of chunks that releases its resource when exhausted, closed, or collected.

    A plain generator would not run its `finally` if it was never started, so a `get()` whose
    result is dropped unread would leak a file descriptor or a pooled connection.
    """

    def __init__(self, read: Callable[[], bytes], release: Callable[[], None]) -> None:
        self._read = read
        self._release: Callable[[], None] | None = release

    def __iter__(self) -> ClosingStream:
        return self

    def __next__(self) -> bytes:
        if self._release is None:
            raise StopIteration
        try:
            chunk = self._read()
        except BaseException:
            self.close()
            raise
        if not chunk:
            self.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        release = getattr(self, "_release", None)
        self._release = None
        if release is not None:
            release()

    def __enter__(self) -> ClosingStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
