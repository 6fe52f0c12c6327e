"""Legal holds: legal freezes a dossier or a document; a hold blocks destruction whatever else says so."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import Api, People
from tests.support.workflow_fixtures import PDF, PDF2, upload
from vault.core import Vault
from vault.errors import Conflict
from vault.models import AuditEvent, Document, DocumentVersion
from vault.services.holds import require_not_held


def _two_docs(api: Api, people: People) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    d = api.new_dossier(people.archivist)
    return d, upload(api, people.archivist, d["id"], PDF), upload(api, people.archivist, d["id"], PDF2,
                                                                  doc_type="other")


def _hold(api: Api, people: People, **target: Any) -> dict[str, Any]:
    r = api.post(people.legal, "/api/v1/holds", json={**target, "reason": "（2026）京01民初123号 litigation"})
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


def test_legal_places_a_dossier_hold_and_it_shows_on_the_dossier_and_every_document(api: Api,
                                                                                  people: People) -> None:
    d, first, second = _two_docs(api, people)
    hold = _hold(api, people, dossier_id=d["id"])
    assert hold["active"] is True and hold["placed_by"] == "legal"
    dossier = api.get(people.employee, f"/api/v1/dossiers/{d['id']}").get_json()
    assert [h["id"] for h in dossier["legal_holds"]] == [hold["id"]]
    assert all(doc["under_legal_hold"] for doc in dossier["documents"])
    for doc in (first, second):
        got = api.get(people.archivist, f"/api/v1/documents/{doc['id']}").get_json()
        assert got["under_legal_hold"] is True and got["legal_holds"][0]["id"] == hold["id"]


def test_a_document_hold_covers_only_that_document_and_shows_on_its_dossier(api: Api, people: People) -> None:
    d, first, second = _two_docs(api, people)
    hold = _hold(api, people, document_id=first["id"])
    assert api.get(people.archivist, f"/api/v1/documents/{first['id']}").get_json()["under_legal_hold"] is True
    assert api.get(people.archivist, f"/api/v1/documents/{second['id']}").get_json()["under_legal_hold"] is False
    assert [h["id"] for h in api.get(people.archivist, f"/api/v1/dossiers/{d['id']}").get_json()["legal_holds"]] \
        == [hold["id"]]


def test_only_legal_places_and_releases_holds(api: Api, people: People) -> None:
    d, _, _ = _two_docs(api, people)
    for user in (people.archivist, people.manager, people.employee, people.admin):
        r = api.post(user, "/api/v1/holds", json={"dossier_id": d["id"], "reason": "x"})
        assert r.status_code == 403
    hold = _hold(api, people, dossier_id=d["id"])
    assert api.post(people.manager, f"/api/v1/holds/{hold['id']}/release", json={"reason": "x"}).status_code == 403


def test_a_hold_needs_a_reason_and_exactly_one_target(api: Api, people: People) -> None:
    d, doc, _ = _two_docs(api, people)
    r = api.post(people.legal, "/api/v1/holds", json={"dossier_id": d["id"], "reason": " "})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "reason"
    r = api.post(people.legal, "/api/v1/holds", json={"dossier_id": d["id"], "document_id": doc["id"], "reason": "x"})
    assert r.status_code == 422


def test_releasing_needs_a_reason_and_both_steps_are_audited(api: Api, people: People, vault: Vault) -> None:
    d, _, _ = _two_docs(api, people)
    hold = _hold(api, people, dossier_id=d["id"])
    r = api.post(people.legal, f"/api/v1/holds/{hold['id']}/release", json={})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "reason"
    r = api.post(people.legal, f"/api/v1/holds/{hold['id']}/release", json={"reason": "case settled 和解"})
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert api.post(people.legal, f"/api/v1/holds/{hold['id']}/release", json={"reason": "again"}).status_code == 409
    assert api.get(people.archivist, f"/api/v1/dossiers/{d['id']}").get_json()["legal_holds"] == []
    with vault.session() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.dossier_id == d["id"],
                                                    AuditEvent.action.like("hold.%"))
                           .order_by(AuditEvent.seq)).all()
        assert [e.action for e in events] == ["hold.placed", "hold.released"]
        assert "case settled" in events[1].details
    assert api.get(people.legal, "/api/v1/holds?active=0").get_json()["total"] == 1
    assert api.get(people.legal, "/api/v1/holds").get_json()["total"] == 0


def test_a_dossier_hold_blocks_destruction_of_every_document_in_it(api: Api, people: People) -> None:
    d, first, second = _two_docs(api, people)
    _hold(api, people, dossier_id=d["id"])
    r = api.post(people.archivist, "/api/v1/destructions", json={"document_ids": [first["id"], second["id"]],
                                                                  "reason": "retention ended"})
    assert r.status_code == 409
    problems = r.get_json()["error"]["documents"]
    assert {(p["document_id"], p["problem"]) for p in problems} == {(first["id"], "legal_hold"),
                                                                   (second["id"], "legal_hold")}
    assert str(first["id"]) in r.get_json()["error"]["message"]


def test_a_hold_placed_after_approval_stops_the_execution_and_nothing_is_erased(api: Api, people: People,
                                                                                vault: Vault) -> None:
    d, doc, _ = _two_docs(api, people)
    batch = api.post(people.archivist, "/api/v1/destructions",
                     json={"document_ids": [doc["id"]], "reason": "retention ended"}).get_json()
    for approver in (people.manager, people.legal):
        assert api.post(approver, f"/api/v1/destructions/{batch['id']}/approve", json={}).status_code == 200
    _hold(api, people, document_id=doc["id"])
    r = api.post(people.archivist, f"/api/v1/destructions/{batch['id']}/execute")
    assert r.status_code == 409 and r.get_json()["error"]["documents"][0]["problem"] == "legal_hold"
    with vault.session() as s:
        version = s.scalar(select(DocumentVersion).where(DocumentVersion.document_id == doc["id"]))
        assert version is not None and version.wrapped_key is not None and version.blob_key is not None
        assert vault.blobs.exists(version.blob_key)
    assert api.get(people.legal, f"/api/v1/documents/{doc['id']}/content").status_code == 200


def test_other_services_ask_require_not_held_before_deleting_pruning_or_erasing_keys(api: Api, people: People,
                                                                                     vault: Vault) -> None:
    d, doc, other = _two_docs(api, people)
    _hold(api, people, document_id=doc["id"])
    with vault.session() as s:
        held, free = s.get(Document, doc["id"]), s.get(Document, other["id"])
        assert held is not None and free is not None
        require_not_held(s, [free], "version pruning")
        with pytest.raises(Conflict, match="legal hold"):
            require_not_held(s, [free, held], "version pruning")
