"""A bit flipped in a stored blob after its first segment: nothing that looks like a file leaves, and the
audit trail records a failed read, not a success.

Up to `verify_before_send_max_bytes` the whole file is authenticated before the first byte goes out
(API, stamped copy, page viewer). Above it the file streams; the test serves it from a real
`dossier serve` and reads it with http.client, as any client would, to see the transfer break.
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, Api, People
from tests.support.serve import dossier_serve
from tests.support.workflow_fixtures import JPG, PDF, upload
from vault.core import Vault
from vault.crypto import HEADER_SIZE, SEGMENT_SIZE
from vault.models import AuditEvent, DocumentVersion

SEALED_SEGMENT = SEGMENT_SIZE + 16
ROOT = Path(__file__).resolve().parents[2]


def _flip_in_second_segment(vault: Vault, document_id: int) -> None:
    """Flip one bit in the blob of the document's current version, inside its second segment."""
    with vault.session() as s:
        key = s.scalars(select(DocumentVersion.blob_key).where(DocumentVersion.document_id == document_id)).one()
    data = bytearray(b"".join(vault.blobs.get(key)))
    assert len(data) > HEADER_SIZE + SEALED_SEGMENT + 100, "the file must have a second segment"
    data[HEADER_SIZE + SEALED_SEGMENT + 100] ^= 0x04
    vault.blobs.put(key, [bytes(data)])


def _reads(vault: Vault, document_id: int) -> list[tuple[str, dict[str, Any], int]]:
    with vault.session() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.document_id == document_id,
                                                    AuditEvent.action.like("document.read%"))
                           .order_by(AuditEvent.seq)).all()
        return [(e.action, json.loads(e.details), e.seq) for e in events]


def test_a_flipped_bit_after_the_first_segment_sends_nothing_and_is_audited_as_a_failed_read(
        api: Api, people: People, vault: Vault) -> None:
    d = api.new_dossier(people.archivist)
    doc = upload(api, people.archivist, d["id"], PDF)
    assert PDF.stat().st_size > SEGMENT_SIZE
    _flip_in_second_segment(vault, doc["id"])
    r = api.get(people.legal, f"/api/v1/documents/{doc['id']}/content")
    assert r.status_code == 500 and r.mimetype == "application/json"
    error = r.get_json()["error"]
    assert error["code"] == "blob_integrity_error" and "nothing was sent" in error["message"]
    assert b"%PDF" not in r.data and PDF.read_bytes()[:SEGMENT_SIZE] not in r.data
    page = api.get(people.archivist, f"/documents/{doc['id']}/pages/1.png")
    assert page.status_code == 500 and not page.data.startswith(b"\x89PNG")
    reads = _reads(vault, doc["id"])
    assert [action for action, _, _ in reads] == ["document.read_failed", "document.read_failed"]
    assert all(details["bytes_sent"] == 0 and "segment 1" in details["reason"] for _, details, _ in reads)


def test_a_copy_checkout_of_a_damaged_file_gets_no_copy_and_the_failure_is_audited(
        api: Api, people: People, vault: Vault) -> None:
    d = api.new_dossier(people.archivist)
    doc = upload(api, people.archivist, d["id"], PDF)
    co = api.post(people.employee, "/api/v1/checkouts",
                  json={"dossier_id": d["id"], "purpose": "复核", "kind": "copy", "days": 3}).get_json()
    assert api.post(people.archivist, f"/api/v1/checkouts/{co['id']}/approve", json={}).status_code == 200
    _flip_in_second_segment(vault, doc["id"])
    r = api.get(people.employee, f"/api/v1/documents/{doc['id']}/content")
    assert r.status_code == 500 and r.get_json()["error"]["code"] == "blob_integrity_error"
    ((action, details, _),) = _reads(vault, doc["id"])
    assert action == "document.read_failed" and details["checkout_id"] == co["id"]


@pytest.fixture
def served(vault: Vault) -> Iterator[int]:
    """`dossier serve --no-worker` on the test vault's home, streaming every file (no whole-file check)."""
    env = {**os.environ, "DOSSIER_HOME": str(vault.settings.home), "DOSSIER_VERIFY_BEFORE_SEND_MAX_BYTES": "0",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with dossier_serve(env, vault.settings.home, "--no-worker") as (port, _):
        yield port


def _get(port: int, path: str, headers: dict[str, str]) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers=headers)
    return conn.getresponse(), conn


def test_a_large_file_that_fails_mid_stream_is_a_broken_transfer_and_a_failed_read(
        api: Api, people: People, vault: Vault, served: int) -> None:
    d = api.new_dossier(people.archivist)
    damaged = upload(api, people.archivist, d["id"], PDF)
    intact = upload(api, people.archivist, d["id"], JPG, doc_type="id_proof")  # five segments
    people.legal  # noqa: B018 - the reader exists in the served vault's database
    conn = http.client.HTTPConnection("127.0.0.1", served, timeout=30)
    conn.request("POST", "/api/v1/auth/token", body=json.dumps({"username": "legal", "password": PASSWORD}),
                 headers={"Content-Type": "application/json"})
    token = json.loads(conn.getresponse().read())["token"]
    conn.close()
    auth = {"Authorization": f"Bearer {token}"}
    _flip_in_second_segment(vault, damaged["id"])

    resp, conn = _get(served, f"/api/v1/documents/{damaged['id']}/content", auth)
    assert resp.status == 200 and int(resp.headers["Content-Length"]) == PDF.stat().st_size
    with pytest.raises(http.client.IncompleteRead) as broken:
        resp.read()
    assert len(broken.value.partial) == SEGMENT_SIZE, "only the authentic first segment went out"
    conn.close()
    (started, s_details, s_seq), (failed, f_details, _) = _reads(vault, damaged["id"])
    assert (started, failed) == ("document.read", "document.read_failed") and s_details["streamed"] is True
    assert f_details["read_seq"] == s_seq and f_details["bytes_sent"] == SEGMENT_SIZE
    assert "segment 1" in f_details["reason"]

    resp, conn = _get(served, f"/api/v1/documents/{intact['id']}/content", auth)
    assert resp.status == 200 and resp.read() == JPG.read_bytes()
    conn.close()
    assert [action for action, _, _ in _reads(vault, intact["id"])] == ["document.read"]
