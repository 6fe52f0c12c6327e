"""Ids past 2**31 on PostgreSQL: an archive that has counted that far keeps working (migration 0006).

The sequences are moved on rather than 2**31 rows written: what matters is that every id column, every
reference to one and every sequence takes the value.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from indexer.search_index import SearchIndex
from indexer.worker import run_pending
from tests.conftest import Api, People
from tests.support.workflow_fixtures import PDF, upload
from vault.core import Vault

PAST_32_BITS = 2**31 + 1000


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"search_engine": "pg"}


def test_every_id_column_reference_and_sequence_is_64_bits(vault: Vault) -> None:
    with vault.engine.connect() as conn:
        narrow = conn.execute(text(
            "SELECT table_name || '.' || column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type = 'integer' "
            "AND (column_name = 'id' OR column_name LIKE '%\\_id')")).scalars().all()
        sequences = conn.execute(text("SELECT sequencename, data_type::text FROM pg_sequences")).all()
    # the audit head is one row; key_id (versions, dossier keys, intake blobs) numbers master keys, not rows
    assert sorted(narrow) == ["audit_head.id", "document_versions.key_id", "dossier_keys.key_id",
                            "intake_parts.key_id", "intake_stacks.key_id"]
    assert sequences and {row[1] for row in sequences} == {"bigint"}


def test_dossiers_documents_versions_and_jobs_numbered_past_2_to_the_31_are_uploaded_indexed_and_found(
        api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    with vault.engine.begin() as conn:
        for seq in ("dossiers_id_seq", "documents_id_seq", "document_versions_id_seq", "jobs_id_seq"):
            conn.execute(text("SELECT setval(CAST(:s AS regclass), :v)"), {"s": seq, "v": PAST_32_BITS})
    d = api.new_dossier(people.archivist)
    assert d["id"] > 2**31
    doc = upload(api, people.archivist, d["id"], PDF)
    assert doc["id"] > 2**31
    assert run_pending(vault, index) == 2  # the document and the new customer's card
    assert api.get(people.legal, f"/api/v1/dossiers/{d['id']}").status_code == 200
    assert api.get(people.legal, f"/api/v1/documents/{doc['id']}").get_json()["index_status"] == "indexed"
    assert api.get(people.legal, f"/api/v1/documents/{doc['id']}/content").status_code == 200
    found = api.get(people.legal, "/api/v1/search", query_string={"q": '"HYGL-JG-20220309-062"'}).get_json()
    assert [i["document_id"] for i in found["items"]] == [doc["id"]]
    audit = api.get(people.legal, f"/api/v1/audit?document_id={doc['id']}").get_json()
    assert audit["total"] >= 1
    assert api.get(people.legal, f"/api/v1/documents/{2**63}").status_code == 404
