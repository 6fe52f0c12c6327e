"""Pytest fixtures for a real S3 server (SeaweedFS `weed mini`).

Register with `pytest_plugins = ["tests.support.s3_fixtures"]` in tests/conftest.py.

- `s3_server` (session): one server for the whole run, started on first use (~1 s).
- `s3_store` (function): an `S3BlobStore` on a fresh, empty bucket of that server, with the
  smallest part size S3 allows (5 MiB) so multipart paths are reached with little data.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import pytest

from tests.support.seaweed import SeaweedS3, start_seaweed_s3
from vault.storage.s3 import MIN_PART_SIZE, S3BlobStore


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    server = start_seaweed_s3(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server
    finally:
        server.stop()


def make_s3_store(
    server: SeaweedS3,
    bucket: str | None = None,
    *,
    secret_key: str | None = None,
    part_size: int = MIN_PART_SIZE,
) -> S3BlobStore:
    """A store on `server`, on a fresh bucket unless one is named (another `secret_key` plays a
    misconfigured client); close() it when done."""
    return S3BlobStore(
        server.endpoint,
        server.access_key,
        server.secret_key if secret_key is None else secret_key,
        bucket or f"test-{secrets.token_hex(6)}",
        region=server.region,
        part_size=part_size,
    )


@pytest.fixture
def s3_store(s3_server: SeaweedS3) -> Iterator[S3BlobStore]:
    store = make_s3_store(s3_server)
    try:
        yield store
    finally:
        _drop_bucket(s3_server, store.bucket)
        store.close()


def _drop_bucket(server: SeaweedS3, bucket: str) -> None:
    """Remove what a test left behind, so the server's data stays small over a long run."""
    if not server.running:
        return
    client = server.client()
    try:
        if not client.bucket_exists(bucket):
            return
        for obj in client.list_objects(bucket, recursive=True):
            if obj.object_name is not None:
                client.remove_object(bucket, obj.object_name)
        with contextlib.suppress(Exception):
            client.remove_bucket(bucket)
    finally:
        client._http.clear()
