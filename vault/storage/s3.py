"""Blobs as objects in an S3 bucket (MinIO, SeaweedFS, AWS ...) through the `minio` client.

Uploads stream: `put_object(length=-1, part_size=...)` reads the caller's chunks through
`_ChunkReader`. Memory per upload is about 3 x part_size at its peak (the part being sent is still
referenced while the next one is assembled from chunks and joined), whatever the object size.
Behaviour of minio 7.2 this module relies on or works around (see minio/api.py):

- put_object aborts its multipart upload when an `Exception` escapes (the reader's or the
  server's), but not for other BaseExceptions (KeyboardInterrupt), and if that abort itself fails
  its error replaces the original one. `put` restores the caller's exception and aborts itself.
- Parallel part uploads (minio's default of 3 threads) are switched off: after a failure their
  worker threads would never be stopped, and a part could land after the abort.
- minio's default urllib3 pool waits 5 minutes to connect or read and retries 5 times; a dead
  server would hang a request for minutes. Ours uses short connect timeouts and few retries.
- There is no public API to list or abort incomplete multipart uploads; the maintenance methods
  here use minio's private `_list_multipart_uploads` / `_abort_multipart_upload`.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TypeVar

import certifi
import urllib3
from minio import Minio
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from vault.errors import BlobNotFound, StorageError, StorageUnavailable, VaultError
from vault.storage.base import (
    ClosingStream,
    StorageCredentialsRefused,
    check_chunks,
    is_blob_key,
    validate_key,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB  # S3's minimum for every part but the last
MAX_PART_SIZE = 5 * 1024 * MiB

_CREDENTIAL_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken",
     "AuthorizationHeaderMalformed", "InvalidSecurity"}
)
_UNAVAILABLE_CODES = frozenset({"SlowDown", "ServiceUnavailable", "RequestTimeout", "InternalError"})
_UNAVAILABLE_STATUS = frozenset({502, 503, 504})


class _ChunkReader:
    """A read()-able view of an iterator of chunks, for minio's put_object.

    Each read(n) returns exactly n bytes unless the iterator ends first: minio's read loop
    concatenates `bytes` per read, which is quadratic when reads are small. The caller's
    exception is recorded in `error` before it propagates.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending: memoryview | None = None
        self._eof = False
        self.total = 0
        self.error: BaseException | None = None

    def _next_chunk(self) -> memoryview | None:
        if self._pending is not None:
            chunk, self._pending = self._pending, None
            return chunk
        while not self._eof:
            try:
                data = next(self._chunks)
            except StopIteration:
                self._eof = True
                break
            except BaseException as exc:
                self.error = exc
                raise
            view = memoryview(data).cast("B")
            if len(view):
                self.total += len(view)
                return view
        return None

    def read(self, size: int = -1) -> bytes:
        parts: list[memoryview] = []
        want = size if size >= 0 else None
        have = 0
        while want is None or have < want:
            chunk = self._next_chunk()
            if chunk is None:
                break
            if want is not None and have + len(chunk) > want:
                take = want - have
                self._pending = chunk[take:]
                chunk = chunk[:take]
            parts.append(chunk)
            have += len(chunk)
        return b"".join(parts)


class S3BlobStore:
    """Blobs in one bucket; the object name is the blob key."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = False,
        region: str = "us-east-1",
        part_size: int = 16 * MiB,
        *,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 20.0,
        probe_timeout_s: float = 5.0,
    ) -> None:
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be between 5 MiB and 5 GiB, got {part_size}")
        endpoint, secure = _split_endpoint(endpoint, secure)
        self.endpoint = endpoint
        self.bucket = bucket
        self.secure = secure
        self.region = region
        self.part_size = part_size
        self._http = _http_pool(connect_timeout_s, read_timeout_s)
        # The health probe waits less for an answer than data requests do (a big part may take a while).
        self._probe_http = _http_pool(connect_timeout_s, min(read_timeout_s, probe_timeout_s))
        self._client, self._probe = (
            Minio(
                endpoint,
                access_key=access_key,
                secret_key=secret_key,
                secure=secure,
                region=region,  # known region: no GetBucketLocation round trips
                http_client=http,
            )
            for http in (self._http, self._probe_http)
        )
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()

    # -- BlobStore ---------------------------------------------------------------------------------
    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        validate_key(key)
        reader = _ChunkReader(check_chunks(chunks))
        self.ensure_bucket()
        failure: BaseException | None = None
        try:
            self._client.put_object(
                self.bucket,
                key,
                reader,  # type: ignore[arg-type]  # minio only needs read()
                length=-1,
                part_size=self.part_size,
                num_parallel_uploads=1,
                content_type="application/octet-stream",
            )
        except BaseException as exc:
            failure = exc
        if failure is None:
            return reader.total

        caller_error = reader.error
        if caller_error is not None:
            # minio aborted the upload itself unless the error is no Exception or its abort failed.
            if failure is not caller_error:
                log.warning("aborting the failed upload of %s did not succeed: %s", key, failure)
            if failure is not caller_error or not isinstance(caller_error, Exception):
                self._abort_uploads_quietly(key)
            raise caller_error
        if not isinstance(failure, Exception):  # KeyboardInterrupt and friends, mid-request
            self._abort_uploads_quietly(key)
            raise failure
        if isinstance(failure, Urllib3HTTPError | OSError) and not _never_connected(failure):
            # The connection broke after the request went out: the server may have completed the
            # upload without our hearing of it, so make sure nothing is left under the key.
            self._remove_quietly(key)
        raise self._translate(failure, f"store blob {key}") from failure

    def get(self, key: str, chunk_size: int = 65536) -> Iterator[bytes]:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        validate_key(key)
        self.ensure_bucket()
        response = self._call(lambda: self._client.get_object(self.bucket, key), f"read blob {key}")
        pieces = response.stream(chunk_size, decode_content=False)

        def read() -> bytes:
            try:
                return next(pieces, b"")
            except (Urllib3HTTPError, OSError) as exc:
                raise self._translate(exc, f"read blob {key}") from exc

        def release() -> None:
            response.close()
            response.release_conn()

        return ClosingStream(read, release)

    def size(self, key: str) -> int:
        validate_key(key)
        self.ensure_bucket()
        stat = self._call(lambda: self._client.stat_object(self.bucket, key), f"stat blob {key}")
        return int(stat.size or 0)

    def exists(self, key: str) -> bool:
        validate_key(key)
        try:
            self.size(key)
        except BlobNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        validate_key(key)
        self.ensure_bucket()
        self._call(lambda: self._client.remove_object(self.bucket, key), f"delete blob {key}")

    def keys(self) -> Iterator[str]:
        self.ensure_bucket()
        objects = self._client.list_objects(self.bucket, recursive=True)
        while True:
            try:
                obj = next(objects)
            except StopIteration:
                return
            except S3Error as exc:
                if exc.code == "NoSuchBucket":
                    return  # no bucket, no blobs
                raise self._translate(exc, "list blobs") from exc
            except Exception as exc:
                raise self._translate(exc, "list blobs") from exc
            name = obj.object_name
            if not obj.is_dir and name is not None and is_blob_key(name):
                yield name

    def check(self) -> None:
        """Reach the server, prove the credentials, and create the bucket if it is missing."""
        try:
            self._ensure_bucket(self._probe, force=True)
        except StorageUnavailable:
            raise
        except StorageError as exc:
            raise StorageUnavailable(exc.message, code=exc.code, **exc.details) from exc

    def describe(self) -> str:
        return f"s3://{self.endpoint}/{self.bucket}" + (" (tls)" if self.secure else "")

    # -- bucket and maintenance --------------------------------------------------------------------
    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist. Every operation calls this; it contacts the
        server only the first time (`check()` asks again each time)."""
        if not self._bucket_ready:
            self._ensure_bucket(self._client, force=False)

    def _ensure_bucket(self, client: Minio, *, force: bool) -> None:
        with self._bucket_lock:
            if self._bucket_ready and not force:
                return
            what = f"check bucket {self.bucket}"
            if not self._call(lambda: client.bucket_exists(self.bucket), what):
                try:
                    client.make_bucket(self.bucket, location=self.region)
                except S3Error as exc:
                    if exc.code != "BucketAlreadyOwnedByYou":  # created meanwhile by another process
                        raise self._translate(exc, f"create bucket {self.bucket}") from exc
                except Exception as exc:
                    raise self._translate(exc, f"create bucket {self.bucket}") from exc
                log.info("created bucket %s at %s", self.bucket, self.endpoint)
            self._bucket_ready = True

    def incomplete_uploads(self, prefix: str = "") -> list[str]:
        """Object names with a multipart upload that was neither completed nor aborted."""
        return [name for name, _upload_id, _started in self._multipart_uploads(prefix)]

    def sweep_incomplete_uploads(self, older_than_s: float) -> int:
        """Abort multipart uploads started more than `older_than_s` ago (left by a killed process)."""
        cutoff = time.time() - older_than_s
        aborted = 0
        for name, upload_id, started in self._multipart_uploads(""):
            if started is not None and started > cutoff:
                continue
            self._call(
                partial(self._client._abort_multipart_upload, self.bucket, name, upload_id),
                f"abort upload of {name}",
            )
            aborted += 1
        return aborted

    def close(self) -> None:
        """Close pooled connections (also done when the store is garbage collected)."""
        self._http.clear()
        self._probe_http.clear()

    # -- helpers -----------------------------------------------------------------------------------
    def _multipart_uploads(self, prefix: str) -> list[tuple[str, str, float | None]]:
        found: list[tuple[str, str, float | None]] = []
        marker: str | None = None
        while True:
            result = self._call(
                partial(self._client._list_multipart_uploads, self.bucket, prefix=prefix, key_marker=marker),
                "list incomplete uploads",
            )
            for upload in result.uploads:
                started = upload.initiated_time.timestamp() if upload.initiated_time else None
                if upload.upload_id:
                    found.append((upload.object_name, upload.upload_id, started))
            next_marker = result.next_key_marker
            if not result.is_truncated or not next_marker or next_marker == marker:
                return found
            marker = next_marker

    def _abort_uploads_quietly(self, key: str) -> None:
        """Best effort after a failed put: abort any multipart upload still open for `key`."""
        try:
            for name, upload_id, _started in self._multipart_uploads(key):
                if name == key:
                    self._client._abort_multipart_upload(self.bucket, key, upload_id)
        except Exception as exc:
            log.warning("could not abort the incomplete upload of %s: %s", key, exc)

    def _remove_quietly(self, key: str) -> None:
        try:
            self._client.remove_object(self.bucket, key)
        except Exception as exc:
            log.warning("could not remove %s after a failed upload: %s", key, exc)

    def _call(self, op: Callable[[], T], what: str) -> T:
        try:
            return op()
        except (MinioException, Urllib3HTTPError, OSError) as exc:
            raise self._translate(exc, what) from exc

    def _translate(self, exc: BaseException, what: str) -> VaultError:
        """One storage error for a minio / urllib3 / socket failure, naming the server, never secrets."""
        where = f"object store at {self.endpoint}"
        if isinstance(exc, VaultError):
            return exc
        if isinstance(exc, S3Error):
            code = exc.code or "unknown"
            if code == "NoSuchKey":
                return BlobNotFound(f"blob {exc.object_name} does not exist", key=exc.object_name)
            if code == "NoSuchBucket":
                return StorageError(
                    f"could not {what}: bucket {self.bucket} does not exist at {where}",
                    code="storage_bucket_missing",
                )
            if code in _CREDENTIAL_CODES:
                return StorageCredentialsRefused(
                    f"{where} refused the credentials ({code}) when asked to {what}; check "
                    f"s3_access_key, s3_secret_key and the key's permissions on bucket {self.bucket}",
                    s3_code=code,
                )
            if code in _UNAVAILABLE_CODES:
                return StorageUnavailable(f"{where} could not {what} right now: {code}", s3_code=code)
            return StorageError(f"{where} could not {what}: {code}: {exc.message}", s3_code=code)
        if isinstance(exc, ServerError | InvalidResponseError):
            status = exc.status_code if isinstance(exc, ServerError) else exc._code
            if status in _UNAVAILABLE_STATUS:
                return StorageUnavailable(f"{where} could not {what}: HTTP {status}", http_status=status)
            return StorageError(f"{where} could not {what}: HTTP {status}", http_status=status)
        if isinstance(exc, Urllib3HTTPError | OSError):
            return StorageUnavailable(f"{where} is not reachable: {_reason(exc)} (while trying to {what})")
        return StorageError(f"{where} could not {what}: {exc}")


def _http_pool(connect_timeout_s: float, read_timeout_s: float) -> urllib3.PoolManager:
    """minio's own pool would wait 5 minutes and retry 5 times; a dead server must fail fast."""
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=connect_timeout_s, read=read_timeout_s),
        maxsize=10,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=urllib3.Retry(
            total=2,
            connect=1,  # a refused connection is retried once at once; a timeout costs 2x connect
            read=0,  # a hung server fails after one read timeout (urllib3 drops stale pooled sockets)
            redirect=0,
            status=2,
            other=0,
            backoff_factor=0.2,
            status_forcelist=(500, 502, 503, 504),
            raise_on_status=False,  # hand the last answer to minio, which names the S3 error
            respect_retry_after_header=False,  # never sleep as long as the server asks
        ),
    )


def _split_endpoint(endpoint: str, secure: bool) -> tuple[str, bool]:
    """Accept "host:port" or "http(s)://host:port"; a scheme must agree with `secure`."""
    for scheme, is_tls in (("http://", False), ("https://", True)):
        if endpoint.startswith(scheme):
            if secure and not is_tls:
                raise ValueError(f"s3 endpoint {endpoint!r} is http:// but s3_secure is on")
            return endpoint[len(scheme):].rstrip("/"), is_tls
    return endpoint, secure


def _never_connected(exc: BaseException) -> bool:
    """True if the request failed before a connection existed, so the server saw nothing."""
    reason = exc.reason if isinstance(exc, MaxRetryError) else exc
    return isinstance(reason, ConnectTimeoutError)  # NewConnectionError is one too


def _reason(exc: BaseException) -> str:
    """A short human reason for a connection failure: "connection refused", "timed out" ..."""
    if isinstance(exc, MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, NameResolutionError):
        return "its host name could not be resolved"
    if isinstance(exc, ReadTimeoutError):
        return "no answer before the read timeout"
    if isinstance(exc, NewConnectionError | ProtocolError):
        os_error = _find_os_error(exc)
        if os_error is not None:
            return _describe_os_error(os_error)
        return "connection failed" if isinstance(exc, NewConnectionError) else "connection lost"
    if isinstance(exc, ConnectTimeoutError):
        return "connecting timed out"
    if isinstance(exc, OSError):
        return _describe_os_error(exc)
    return str(exc)


def _find_os_error(exc: BaseException) -> OSError | None:
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and not isinstance(e, Urllib3HTTPError):
            return e
        stack.extend([e.__cause__, e.__context__])
        stack.extend(a for a in e.args if isinstance(a, BaseException))
    return None


def _describe_os_error(exc: OSError) -> str:
    names = {
        errno.ECONNREFUSED: "connection refused",
        errno.ECONNRESET: "connection reset",
        errno.ECONNABORTED: "connection aborted",
        errno.ETIMEDOUT: "connection timed out",
        errno.EHOSTUNREACH: "host unreachable",
        errno.ENETUNREACH: "network unreachable",
    }
    if exc.errno in names:
        return names[exc.errno]
    if isinstance(exc, TimeoutError):
        return "timed out"
    return exc.strerror or str(exc) or type(exc).__name__
