"""The whole story on the S3 blob store (a real SeaweedFS): upload -> index -> search -> download -> destroy.

The destruction and checkout tests are imported and run again with `blob_backend = "s3"`: every blob
the story writes, reads, verifies and deletes goes through the minio client to the S3 server.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.integration.test_checkouts import (  # noqa: F401
    test_a_copy_checkout_downloads_a_pdf_stamped_with_reader_checkout_and_time as test_a_stamped_copy_on_s3,
)
from tests.integration.test_destruction import (  # noqa: F401
    test_execution_crypto_shreds_deletes_blobs_purges_the_index_and_leaves_a_tombstone as test_the_whole_story_on_s3,
)
from tests.support.seaweed import SeaweedS3


@pytest.fixture
def settings_overrides(s3_server: SeaweedS3) -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365 * 50, "blob_backend": "s3", "s3_endpoint": s3_server.endpoint,
            "s3_access_key": s3_server.access_key, "s3_secret_key": s3_server.secret_key,
            "s3_region": s3_server.region, "s3_bucket": f"story-{secrets.token_hex(6)}"}


def test_the_vault_really_stores_on_s3(vault: Any, s3_server: SeaweedS3) -> None:
    assert vault.blobs.describe().startswith("s3://") and s3_server.endpoint in vault.blobs.describe()
