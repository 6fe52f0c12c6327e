"""The read and write matrix of contacts and records: role x clearance x owner / checkout.

Records and contacts are content: read (and the read audited) by the content roles within clearance, the
dossier's owner and backup owner (A/B 岗) and a checkout of the whole dossier; seen as kind, date and staff by
everyone else within clearance; not found above it. Only the owner, the backup owner and archivists add them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.conftest import Api, People
from tests.support.workflow_fixtures import upload
from vault.core import Vault
from vault.models import AuditEvent

SECRET_SUMMARY = "Vexmoor会谈要点"
CONTACT = "Ilsabet联系人"
ROLES = ("admin", "legal", "manager", "archivist", "employee")


def _checkout(api: Api, people: People, user: Any, dossier_id: int, **extra: Any) -> None:
    r = api.post(user, "/api/v1/checkouts", json={"dossier_id": dossier_id, "purpose": "核对往来记录",
                                                 "kind": "view", "days": 7, **extra})
    assert r.status_code == 201, r.get_json()
    r = api.post(people.archivist, f"/api/v1/checkouts/{r.get_json()['id']}/approve", json={"comment": "ok"})
    assert r.status_code == 200, r.get_json()


def test_who_reads_sees_adds_or_is_told_nothing_for_every_role_clearance_owner_and_checkout(
        api: Api, people: People, vault: Vault) -> None:
    owner = people.make("owner", "employee", clearance="confidential")
    d = api.new_dossier(people.archivist, owner="owner", secrecy="confidential")
    doc = upload(api, people.archivist, d["id"])
    assert api.post(owner, f"/api/v1/dossiers/{d['id']}/records", json={
        "kind": "meeting", "occurred_at": "2026-01-02", "summary": SECRET_SUMMARY}).status_code == 201
    assert api.post(owner, f"/api/v1/dossiers/{d['id']}/contacts", json={"name": CONTACT}).status_code == 201
    whole = people.make("whole", "employee", clearance="confidential")
    _checkout(api, people, whole, d["id"])
    one_doc = people.make("onedoc", "employee", clearance="confidential")
    _checkout(api, people, one_doc, d["id"], document_ids=[doc["id"]])

    backup = people.make("backup", "employee", clearance="confidential")
    assert api.patch(people.archivist, f"/api/v1/dossiers/{d['id']}/card", json={
        "fields": {"backup_owner": "backup"}, "reason": "A/B 岗"}).status_code == 200

    cases: list[tuple[Any, str]] = [(owner, "read+add"), (backup, "read+add"), (whole, "read"), (one_doc, "see")]
    for role in ROLES:
        at = people.make(f"{role}-conf", role, clearance="confidential")
        below = people.make(f"{role}-int", role, clearance="internal")
        cases.append((below, "none"))
        cases.append((at, {"admin": "see", "employee": "see", "archivist": "read+add"}.get(role, "read")))
    seen: dict[str, str] = {}
    for user, _expected in cases:
        rec = api.get(user, f"/api/v1/dossiers/{d['id']}/records")
        con = api.get(user, f"/api/v1/dossiers/{d['id']}/contacts")
        wrote = api.post(user, f"/api/v1/dossiers/{d['id']}/records", json={
            "kind": "call", "occurred_at": "2026-01-03", "summary": "电话"})
        if rec.status_code == 404:
            assert con.status_code == 404 and wrote.status_code == 404
            seen[user.username] = "none"
            continue
        text = str(rec.get_json()) + str(con.get_json())
        reads = SECRET_SUMMARY in text and CONTACT in text
        assert reads is (not rec.get_json()["masked"]) is (not con.get_json()["masked"])
        if not reads:
            assert SECRET_SUMMARY not in text and CONTACT not in text
            assert {i["kind"] for i in rec.get_json()["items"]} >= {"meeting"}
        seen[user.username] = ("read" if reads else "see") + ("+add" if wrote.status_code == 201 else "")
        assert wrote.status_code in (201, 403), wrote.get_json()
    assert seen == {u.username: e for u, e in cases}
    with vault.session() as s:
        readers = set(s.scalars(select(AuditEvent.actor_name).where(AuditEvent.action == "records.read")))
    assert readers == {u.username for u, e in cases if e.startswith("read")}
