"""Both blob stores against real backends: a temp directory, and a SeaweedFS S3 server."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import random
import socket
import stat
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import load_settings
from tests.support.s3_fixtures import make_s3_store
from tests.support.seaweed import SeaweedS3, start_seaweed_s3
from vault.errors import BlobNotFound, StorageError, StorageUnavailable
from vault.storage import (
    BlobStore,
    LocalBlobStore,
    S3BlobStore,
    StorageCredentialsRefused,
    StorageFull,
    make_blob_store,
    new_blob_key,
)

MiB = 1024 * 1024
TRAVERSAL_KEYS = [
    "../x",
    "/etc/passwd",
    "a/../../b",
    "3f/9a/../../../etc/passwd",
    "3f/9a/3f9a" + "0" * 27 + "\x00",
    "3f\\9a\\3f9a" + "0" * 28,
    "3F/9A/3F9A" + "0" * 28,
    "3f/9a/" + "0" * 32,  # fan-out does not match the key
    "",
]


class Boom(Exception):
    """The caller's own failure, e.g. the client disconnected mid-upload."""


def chunks_of(total: int, seed: int = 1, sizes: tuple[int, ...] = (65536, 1000, 300_007)) -> Iterator[bytes]:
    """`total` deterministic pseudo-random bytes in chunks of uneven sizes."""
    rng = random.Random(seed)
    sent = 0
    i = 0
    while sent < total:
        n = min(sizes[i % len(sizes)], total - sent)
        yield rng.randbytes(n)
        sent += n
        i += 1


def digest(chunks: Iterator[bytes]) -> tuple[int, str]:
    h = hashlib.sha256()
    n = 0
    for chunk in chunks:
        h.update(chunk)
        n += len(chunk)
    return n, h.hexdigest()


def failing_after(nbytes: int, error: BaseException) -> Iterator[bytes]:
    yield from chunks_of(nbytes)
    raise error


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(".tmp-")]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def local_store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, local_store: LocalBlobStore) -> BlobStore:
    if request.param == "local":
        return local_store
    s3: S3BlobStore = request.getfixturevalue("s3_store")
    return s3


# -- shared behaviour --------------------------------------------------------------------------------


@pytest.mark.parametrize("nbytes", [0, 1, 200_001], ids=["empty", "one-byte", "small"])
def test_a_blob_reads_back_exactly_as_it_was_written(store: BlobStore, nbytes: int) -> None:
    key = new_blob_key()
    assert store.put(key, chunks_of(nbytes)) == nbytes
    assert b"".join(store.get(key)) == b"".join(chunks_of(nbytes))
    assert store.size(key) == nbytes
    assert store.exists(key)


def test_a_40_mib_stream_round_trips_in_several_parts(store: BlobStore) -> None:
    key = new_blob_key()
    total = 40 * MiB
    assert store.put(key, chunks_of(total, seed=40)) == total
    assert digest(store.get(key, chunk_size=MiB)) == digest(chunks_of(total, seed=40))
    assert store.size(key) == total
    if isinstance(store, S3BlobStore):
        etag = store._client.stat_object(store.bucket, key).etag or ""
        assert etag.rsplit("-", 1)[-1] == str(-(-total // store.part_size))  # multipart ETag "<md5>-<parts>"


def test_reads_are_streamed_in_chunks_of_the_requested_size(store: BlobStore) -> None:
    key = new_blob_key()
    store.put(key, chunks_of(300_000))
    sizes = [len(c) for c in store.get(key, chunk_size=65536)]
    assert sum(sizes) == 300_000
    assert len(sizes) >= 5 and max(sizes) <= 65536


def test_a_read_abandoned_halfway_releases_its_file_or_connection(store: BlobStore) -> None:
    key = new_blob_key()
    store.put(key, chunks_of(1 * MiB))
    for _ in range(20):  # more than the connection pool holds
        stream = store.get(key, chunk_size=4096)
        assert len(next(stream)) == 4096
        stream.close()  # type: ignore[attr-defined]
    unread = store.get(key)
    del unread  # dropped without reading: released when collected, no ResourceWarning
    assert store.size(key) == 1 * MiB


def test_a_missing_blob_is_reported_as_not_found(store: BlobStore) -> None:
    key = new_blob_key()
    with pytest.raises(BlobNotFound):
        store.get(key)  # raised by the call itself, before any iteration
    with pytest.raises(BlobNotFound):
        store.size(key)
    assert not store.exists(key)


def test_deleting_a_blob_is_idempotent(store: BlobStore) -> None:
    key, other = new_blob_key(), new_blob_key()
    store.put(key, [b"secret"])
    store.put(other, [b"kept"])
    store.delete(key)
    store.delete(key)
    store.delete(new_blob_key())  # never existed
    assert not store.exists(key)
    assert b"".join(store.get(other)) == b"kept"


def test_keys_lists_exactly_the_stored_blobs(store: BlobStore) -> None:
    assert list(store.keys()) == []
    stored = {new_blob_key() for _ in range(5)}
    for key in stored:
        store.put(key, [key.encode()])
    with pytest.raises(Boom):
        store.put(new_blob_key(), failing_after(10_000, Boom()))
    deleted = stored.pop()
    store.delete(deleted)
    if isinstance(store, LocalBlobStore):  # a temp file left by a killed process, and a stranger
        key_dir = store.root / next(iter(stored)).rsplit("/", 1)[0]
        (key_dir / ".tmp-crashed").write_bytes(b"half")
        (store.root / "README").write_text("not a blob")
    else:
        assert isinstance(store, S3BlobStore)
        store._client.put_object(store.bucket, "README", io.BytesIO(b"not a blob"), 10)
    assert sorted(store.keys()) == sorted(stored)


@pytest.mark.parametrize("at", [0, 12 * MiB], ids=["before-any-data", "after-two-parts"])
def test_an_iterator_that_fails_midway_leaves_nothing_under_the_key(store: BlobStore, at: int) -> None:
    key = new_blob_key()
    error = Boom("client went away")

    def upload() -> Iterator[bytes]:
        yield from chunks_of(at)
        if at and isinstance(store, S3BlobStore):  # the failure really happens inside a multipart upload
            assert store.incomplete_uploads(key) == [key]
        raise error

    with pytest.raises(Boom) as raised:
        store.put(key, upload())
    assert raised.value is error  # the caller's exception, unchanged
    assert not store.exists(key)
    assert list(store.keys()) == []
    if isinstance(store, LocalBlobStore):
        assert temp_files(store.root) == []
    else:
        assert isinstance(store, S3BlobStore)
        assert store.incomplete_uploads() == []


@pytest.mark.parametrize("key", TRAVERSAL_KEYS)
def test_a_key_that_is_not_server_generated_is_refused(store: BlobStore, key: str) -> None:
    consumed: list[bytes] = []

    def chunks() -> Iterator[bytes]:
        consumed.append(b"x")
        yield b"payload"

    with pytest.raises(ValueError, match="not a blob key"):
        store.put(key, chunks())
    for call in (store.get, store.size, store.exists, store.delete):
        with pytest.raises(ValueError, match="not a blob key"):
            call(key)
    assert consumed == []


def test_a_bytes_object_is_refused_as_chunks(store: BlobStore) -> None:
    with pytest.raises(TypeError, match="iterable of bytes"):
        store.put(new_blob_key(), b"abc")  # type: ignore[arg-type]  # would iterate as ints


def test_the_health_probe_passes_on_a_working_store(store: BlobStore) -> None:
    store.check()
    assert "secret" not in store.describe().lower()


def test_new_blob_keys_are_random_and_fan_out_by_their_prefix() -> None:
    keys = {new_blob_key() for _ in range(1000)}
    assert len(keys) == 1000
    for key in keys:
        a, b, name = key.split("/")
        assert len(name) == 32 and name.startswith(a + b)


# -- local directory ---------------------------------------------------------------------------------


def test_the_local_store_writes_private_files_and_directories(local_store: LocalBlobStore) -> None:
    old_umask = os.umask(0o022)
    try:
        key = new_blob_key()
        local_store.put(key, [b"x"])
    finally:
        os.umask(old_umask)
    path = local_store.root / key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in (path.parent, path.parent.parent, local_store.root):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_a_full_disk_fails_the_put_with_a_clear_error_and_no_partial_file(
    local_store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A really full file system cannot be made cheaply here (it needs a small mounted volume), so
    # os.write accepts the first chunk and then fails the way the kernel does when space runs out.
    real_write = os.write
    calls = 0

    def write(fd: int, data: bytes | memoryview) -> int:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    key = new_blob_key()
    with pytest.raises(StorageError, match="blob store is full: .*free space") as raised:
        local_store.put(key, chunks_of(1 * MiB))
    monkeypatch.undo()
    assert isinstance(raised.value, StorageFull) and raised.value.code == "storage_full"
    assert calls == 2
    assert not local_store.exists(key)
    assert temp_files(local_store.root) == []


def test_other_write_errors_are_storage_errors_too(
    local_store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fsync(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", fsync)
    key = new_blob_key()
    with pytest.raises(StorageError, match="could not write blob .*Input/output error"):
        local_store.put(key, [b"data"])
    monkeypatch.undo()
    assert not local_store.exists(key)
    assert temp_files(local_store.root) == []


def test_the_caller_s_own_os_error_is_not_mistaken_for_a_store_failure(local_store: LocalBlobStore) -> None:
    error = OSError(errno.ENOSPC, "the upload's spool disk is full")
    with pytest.raises(OSError) as raised:
        local_store.put(new_blob_key(), failing_after(1000, error))
    assert raised.value is error
    assert temp_files(local_store.root) == []


def test_sweeping_removes_only_stale_temp_files(local_store: LocalBlobStore) -> None:
    key = new_blob_key()
    local_store.put(key, [b"kept"])
    directory = (local_store.root / key).parent
    stale, fresh = directory / ".tmp-stale", directory / ".tmp-fresh"
    stale.write_bytes(b"left by a killed process")
    fresh.write_bytes(b"an upload in progress")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    assert local_store.sweep_temp_files(older_than_s=600) == 1
    assert not stale.exists() and fresh.exists()
    assert b"".join(local_store.get(key)) == b"kept"
    assert LocalBlobStore(local_store.root / "never-created").sweep_temp_files(older_than_s=0) == 0


def test_an_unusable_blob_directory_fails_the_health_probe(tmp_path: Path) -> None:
    (tmp_path / "blobs").write_text("a file where the directory should be")
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(StorageUnavailable, match="blob directory .* is not usable"):
        store.check()
    assert store.describe() == f"local:{tmp_path / 'blobs'}"


# -- S3 ----------------------------------------------------------------------------------------------


def test_the_s3_store_creates_its_bucket_on_first_use(s3_server: SeaweedS3) -> None:
    store = make_s3_store(s3_server)
    client = s3_server.client()
    try:
        assert not client.bucket_exists(store.bucket)
        store.put(new_blob_key(), [b"first"])
        assert client.bucket_exists(store.bucket)
        assert store.describe() == f"s3://{s3_server.endpoint}/{store.bucket}"
    finally:
        store.close()
        client._http.clear()


def test_the_s3_store_does_not_hold_a_whole_object_in_memory(s3_store: S3BlobStore) -> None:
    total = 32 * MiB
    tracemalloc.start()
    try:
        s3_store.put(new_blob_key(), chunks_of(total, sizes=(65536,)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # a part being assembled, minio's copy of it, the request body: a few parts, not the object
    assert peak < 5 * s3_store.part_size < total, f"peak {peak / MiB:.1f} MiB"


def test_the_caller_s_exception_survives_a_failed_abort_and_the_upload_is_still_aborted(
    s3_store: S3BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = s3_store._client
    real_abort = client._abort_multipart_upload
    aborts: list[str] = []

    def abort_failing_once(bucket: str, name: str, upload_id: str) -> None:
        aborts.append(name)
        if len(aborts) == 1:  # minio's own abort hits a network blip
            raise ConnectionResetError(errno.ECONNRESET, "connection reset by peer")
        real_abort(bucket, name, upload_id)

    monkeypatch.setattr(client, "_abort_multipart_upload", abort_failing_once)
    key = new_blob_key()
    error = Boom("client went away")
    with pytest.raises(Boom) as raised:
        s3_store.put(key, failing_after(12 * MiB, error))
    assert raised.value is error
    assert aborts == [key, key]  # minio's attempt, then the store's own
    assert s3_store.incomplete_uploads() == []
    assert not s3_store.exists(key)


class Interrupted(BaseException):
    """Like KeyboardInterrupt: not an Exception, so minio's own cleanup does not run."""


def test_an_interrupt_during_a_multipart_upload_still_aborts_it(s3_store: S3BlobStore) -> None:
    key = new_blob_key()
    with pytest.raises(Interrupted):
        s3_store.put(key, failing_after(12 * MiB, Interrupted()))
    assert s3_store.incomplete_uploads() == []
    assert not s3_store.exists(key)


def test_sweeping_aborts_only_stale_incomplete_uploads(s3_store: S3BlobStore) -> None:
    key = new_blob_key()
    s3_store.ensure_bucket()
    s3_store._client._create_multipart_upload(s3_store.bucket, key, {})  # as if the process died
    assert s3_store.incomplete_uploads() == [key]
    assert s3_store.sweep_incomplete_uploads(older_than_s=3600) == 0
    assert s3_store.sweep_incomplete_uploads(older_than_s=0) == 1
    assert s3_store.incomplete_uploads() == []


def test_s3_with_a_wrong_secret_is_refused_by_the_server(s3_server: SeaweedS3) -> None:
    good = make_s3_store(s3_server)
    bad = make_s3_store(s3_server, bucket=good.bucket, secret_key="not-the-secret")
    try:
        key = new_blob_key()
        good.put(key, [b"data"])
        with pytest.raises(StorageCredentialsRefused, match="refused the credentials") as raised:
            bad.put(new_blob_key(), [b"x"])
        assert raised.value.code == "storage_credentials_refused"
        assert "not-the-secret" not in str(raised.value)
        with pytest.raises(StorageCredentialsRefused):
            bad.get(key)
        with pytest.raises(StorageCredentialsRefused):
            bad.exists(key)
        with pytest.raises(StorageUnavailable, match="refused the credentials") as probe:
            bad.check()
        assert probe.value.code == "storage_credentials_refused"
    finally:
        good.close()
        bad.close()


def test_s3_where_nothing_listens_is_unavailable_within_seconds() -> None:
    endpoint = f"127.0.0.1:{closed_port()}"
    store = S3BlobStore(endpoint, "access", "secret", "bucket")
    try:
        started = time.monotonic()
        with pytest.raises(StorageUnavailable, match=f"object store at {endpoint} is not reachable: "
                                                     "connection refused"):
            store.check()
        with pytest.raises(StorageUnavailable):
            store.put(new_blob_key(), [b"x"])
        with pytest.raises(StorageUnavailable):
            store.get(new_blob_key())
        with pytest.raises(StorageUnavailable):
            list(store.keys())
        assert time.monotonic() - started < 15  # sanity bound, not a performance target
    finally:
        store.close()


def test_an_s3_server_that_accepts_but_never_answers_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # the kernel completes connections; nobody ever reads or answers
        endpoint = f"127.0.0.1:{listener.getsockname()[1]}"
        store = S3BlobStore(endpoint, "access", "secret", "bucket")  # default timeouts
        try:
            started = time.monotonic()
            with pytest.raises(StorageUnavailable, match="no answer before the read timeout"):
                store.check()  # the probe gives up after 5 s, data requests after 20 s
            assert time.monotonic() - started < 15
        finally:
            store.close()


def test_an_s3_server_that_stops_mid_upload_fails_the_put_as_unavailable(tmp_path: Path) -> None:
    server = start_seaweed_s3(tmp_path / "doomed")  # its own server: this test kills it
    store = make_s3_store(server)
    try:
        store.ensure_bucket()

        def upload() -> Iterator[bytes]:
            yield from chunks_of(6 * MiB)  # more than a part: the multipart upload has begun
            server.stop()
            yield from chunks_of(6 * MiB)

        started = time.monotonic()
        with pytest.raises(StorageUnavailable, match="not reachable: connection refused"):
            store.put(new_blob_key(), upload())
        assert time.monotonic() - started < 15
    finally:
        store.close()
        server.stop()


def test_the_factory_builds_the_store_the_settings_name(tmp_path: Path) -> None:
    local = make_blob_store(load_settings({"home": str(tmp_path)}, environ={}))
    assert isinstance(local, LocalBlobStore) and local.root == (tmp_path / "blobs").absolute()
    s3 = make_blob_store(
        load_settings(
            {"home": str(tmp_path), "blob_backend": "s3", "s3_endpoint": "127.0.0.1:9",
             "s3_access_key": "ak", "s3_secret_key": "sk-very-secret", "s3_bucket": "dossiers"},
            environ={},
        )
    )
    try:
        assert isinstance(s3, S3BlobStore)
        assert s3.describe() == "s3://127.0.0.1:9/dossiers"
        assert "sk-very-secret" not in s3.describe()
    finally:
        assert isinstance(s3, S3BlobStore)
        s3.close()

