"""Contacts and the register of contact (issue 12): who adds and reads them, append-only corrections,
complaints through their states, transactions and their yearly totals, follow-ups and their notices."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from indexer.periodic import notify_follow_ups, periodic_tasks
from tests.conftest import Api, People
from tests.support.workflow_fixtures import run_cli, upload
from vault.clock import FixedClock
from vault.core import Vault
from vault.models import AuditEvent, Notification
from vault.relationship_models import Contact, CustomerRecord
from vault.services.follow_ups import send_due_notices

VISIT = {"kind": "visit", "occurred_at": "2026-01-04T10:00", "channel": "上门", "summary": "拜访采购部王经理",
         "details": "客户提到明年预算增加三成", "outcome": "同意试用"}


def add(api: Api, user: Any, dossier_id: int, **body: Any) -> Any:
    return api.post(user, f"/api/v1/dossiers/{dossier_id}/records", json={**VISIT, **body})


def records(api: Api, user: Any, dossier_id: int) -> Any:
    r = api.get(user, f"/api/v1/dossiers/{dossier_id}/records")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def owned_dossier(api: Api, people: People, owner: str = "employee") -> dict[str, Any]:
    getattr(people, owner)
    return api.new_dossier(people.archivist, owner=owner)


def test_the_owner_adds_a_contact_whose_phone_and_email_only_content_readers_see(api: Api, people: People) -> None:
    d = owned_dossier(api, people)
    r = api.post(people.employee, f"/api/v1/dossiers/{d['id']}/contacts", json={
        "name": "王建国", "position": "采购经理", "department": "采购部", "phone": "138 0013 8000",
        "email": "wang@example.com", "decision_role": "purchasing", "primary": True, "since": "2024-03-01"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["phone"] == "138 0013 8000"
    mine = api.get(people.employee, f"/api/v1/dossiers/{d['id']}/contacts").get_json()
    assert mine["masked"] is False and mine["items"][0]["email"] == "wang@example.com"
    other = api.get(people.make("emp2", "employee"), f"/api/v1/dossiers/{d['id']}/contacts").get_json()
    assert other["masked"] is True and other["total"] == 1
    assert other["items"][0]["name"] is None and other["items"][0]["phone"] is None
    assert "王建国" not in str(other) and "wang@" not in str(other)


def test_only_the_owner_and_archivists_add_contacts_and_records(api: Api, people: People) -> None:
    d = owned_dossier(api, people)
    for user in (people.make("emp2", "employee"), people.manager, people.legal):
        assert add(api, user, d["id"]).status_code == 403
        assert api.post(user, f"/api/v1/dossiers/{d['id']}/contacts", json={"name": "x"}).status_code == 403
    assert add(api, people.admin, d["id"]).status_code in (403, 404)
    assert add(api, people.employee, d["id"]).status_code == 201
    assert add(api, people.archivist, d["id"]).status_code == 201


def test_a_record_is_never_edited_a_correction_points_at_it_and_the_original_stays(api: Api,
                                                                                     people: People) -> None:
    d = owned_dossier(api, people)
    first = add(api, people.employee, d["id"]).get_json()
    assert api.client.patch(f"/api/v1/dossiers/{d['id']}/records/{first['id']}",
                            headers=api.headers(people.employee), json={"summary": "x"}).status_code in (404, 405)
    assert api.client.delete(f"/api/v1/records/{first['id']}",
                             headers=api.headers(people.employee)).status_code in (404, 405)
    fix = add(api, people.employee, d["id"], summary="拜访采购部王总监（更正职务）", corrects=first["id"])
    assert fix.status_code == 201 and fix.get_json()["corrects"] == first["id"]
    listed = records(api, people.employee, d["id"])["items"]
    original = next(x for x in listed if x["id"] == first["id"])
    assert original["summary"] == "拜访采购部王经理" and original["corrected_by"] == [fix.get_json()["id"]]


def test_others_who_see_the_dossier_learn_only_kind_date_and_staff(api: Api, people: People) -> None:
    d = owned_dossier(api, people)
    add(api, people.employee, d["id"])
    seen = records(api, people.make("emp2", "employee"), d["id"])
    assert seen["masked"] is True and seen["transaction_totals"] is None
    assert seen["items"] == [{"id": seen["items"][0]["id"], "dossier_id": d["id"], "kind": "visit",
                              "occurred_at": "2026-01-04T10:00:00+00:00", "staff": "employee", "masked": True,
                              "corrected_by": []}]


def test_every_read_of_records_and_contacts_is_audited(api: Api, people: People, vault: Vault) -> None:
    d = owned_dossier(api, people)
    add(api, people.employee, d["id"])
    api.post(people.employee, f"/api/v1/dossiers/{d['id']}/contacts", json={"name": "李四"})
    records(api, people.legal, d["id"])
    api.get(people.legal, f"/api/v1/dossiers/{d['id']}/contacts")
    records(api, people.make("emp2", "employee"), d["id"])  # masked: nothing read, nothing audited
    with vault.session() as s:
        rows = s.execute(select(AuditEvent.action, AuditEvent.actor_name).where(
            AuditEvent.action.in_(("records.read", "contacts.read")))).all()
    assert sorted(rows) == [("contacts.read", "legal"), ("records.read", "legal")]


def test_a_complaint_goes_received_handling_resolved_closed_with_result_and_satisfaction(
        api: Api, people: People) -> None:
    d = owned_dossier(api, people)
    handler = people.make("handler", "employee")
    c = add(api, people.employee, d["id"], kind="complaint", summary="交货延迟投诉", handler="handler",
            deadline="2026-01-10").get_json()
    assert c["status"] == "received" and c["handler"] == "handler"
    url = f"/api/v1/records/{c['id']}/status"
    assert api.post(handler, url, json={"status": "resolved", "result": "x"}).status_code == 409
    assert api.post(people.make("emp2", "employee"), url, json={"status": "handling"}).status_code == 403
    assert api.post(handler, url, json={"status": "handling"}).get_json()["status"] == "handling"
    r = api.post(handler, url, json={"status": "resolved"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "result"
    r = api.post(people.manager, url, json={"status": "resolved", "result": "补发货物并致歉", "satisfaction": 6})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "satisfaction"
    r = api.post(people.manager, url, json={"status": "resolved", "result": "补发货物并致歉", "satisfaction": 4})
    assert r.get_json()["status"] == "resolved" and r.get_json()["satisfaction"] == 4
    assert api.post(people.employee, url, json={"status": "closed"}).get_json()["status"] == "closed"
    visit = add(api, people.employee, d["id"]).get_json()
    assert api.post(people.employee, f"/api/v1/records/{visit['id']}/status",
                    json={"status": "handling"}).status_code == 409


def test_transactions_keep_exact_amounts_and_total_per_year_without_corrected_ones(api: Api,
                                                                                   people: People) -> None:
    d = owned_dossier(api, people)
    contract = upload(api, people.archivist, d["id"])
    t = dict(kind="transaction", summary="销售", currency="CNY", item="钢材", payment_terms="月结30天")
    a = add(api, people.employee, d["id"], **t, amount="0.10", occurred_at="2025-05-01",
            contract_document_id=contract["id"]).get_json()
    assert a["amount"] == "0.10" and a["document_ids"] == [contract["id"]]
    b = add(api, people.employee, d["id"], **t, amount=0.2, occurred_at="2025-06-01").get_json()
    add(api, people.employee, d["id"], **t, amount="1000", occurred_at="2026-01-02")
    add(api, people.employee, d["id"], **t, amount="0.25", occurred_at="2025-06-01", corrects=b["id"])
    totals = records(api, people.employee, d["id"])["transaction_totals"]
    assert totals == [{"year": 2026, "currency": "CNY", "total": "1000.00", "count": 1},
                      {"year": 2025, "currency": "CNY", "total": "0.35", "count": 2}]


def test_a_follow_up_is_the_assignees_until_a_record_follows_it_up(api: Api, people: People, clock: FixedClock,
                                                                    vault: Vault) -> None:
    d = owned_dossier(api, people)
    people.make("emp2", "employee")
    call = add(api, people.employee, d["id"], kind="call", next_action="寄送报价单", next_action_due="2026-01-07",
               assignee="emp2").get_json()
    mine = api.get(people.make("emp2", "employee"), "/api/v1/follow-ups").get_json()["items"]
    assert [(f["record_id"], f["what"], f["due"], f["overdue"]) for f in mine] == \
        [(call["id"], "寄送报价单", "2026-01-07", False)]
    assert send_due_notices(vault) == (0, 0)
    clock.advance(days=2)
    api._tokens.clear()  # noqa: SLF001 - the tokens issued two days ago have expired
    assert send_due_notices(vault) == (1, 0)
    assert send_due_notices(vault) == (0, 0)  # once
    with vault.session() as s:
        note = s.scalars(select(Notification).where(Notification.kind == "follow_up.due")).one()
    assert note.user_id == people.make("emp2", "employee").id and d["archive_no"] in note.subject
    assert "报价" not in note.subject + note.body
    add(api, people.employee, d["id"], kind="follow_up", summary="已寄送报价", follow_up_of=call["id"])
    assert api.get(people.make("emp2", "employee"), "/api/v1/follow-ups").get_json()["items"] == []


def test_an_overdue_complaint_notifies_its_handler_and_the_managers_once(api: Api, people: People,
                                                                          clock: FixedClock, vault: Vault) -> None:
    d = owned_dossier(api, people)
    assert people.manager.role.value == "manager"
    low = people.make("lowmanager", "manager", clearance="public")
    c = add(api, people.employee, d["id"], kind="complaint", summary="质量投诉", deadline="2026-01-06").get_json()
    clock.advance(days=2)
    api._tokens.clear()  # noqa: SLF001 - the tokens issued two days ago have expired
    notify_follow_ups(vault)  # what the worker runs at its overdue-check interval
    assert send_due_notices(vault) == (0, 0)
    with vault.session() as s:
        notified = set(s.scalars(select(Notification.user_id).where(Notification.kind == "complaint.overdue")))
    assert notified == {people.employee.id, people.manager.id}  # the handler (the owner) and the cleared manager
    assert low.id not in notified
    assert notify_follow_ups in [task for task, _interval in periodic_tasks(vault)]
    item = api.get(people.employee, "/api/v1/follow-ups").get_json()["items"][0]
    assert item["record_id"] == c["id"] and item["overdue"] is True and item["complaint_status"] == "received"


def test_deactivating_with_handover_moves_open_follow_ups_and_complaints(api: Api, people: People,
                                                                         vault: Vault) -> None:
    d = owned_dossier(api, people)
    people.make("successor", "employee")
    people.make("leaver", "employee")
    f = add(api, people.employee, d["id"], next_action="回访", next_action_due="2026-02-01", assignee="leaver")
    c = add(api, people.employee, d["id"], kind="complaint", summary="投诉", handler="leaver")
    out = run_cli(vault, "user", "deactivate", "leaver", "--handover-to", "successor")
    assert out.exit_code == 0 and "2 follow-up(s) and complaint(s) handed over" in out.output, out.output
    with vault.session() as s:
        assert s.get(CustomerRecord, f.get_json()["id"]).assignee_id == people.make("successor", "employee").id  # type: ignore[union-attr]
        assert s.get(CustomerRecord, c.get_json()["id"]).handler_id == people.make("successor", "employee").id  # type: ignore[union-attr]


BAD = [
    ({"kind": "lunch"}, "kind"),
    ({"occurred_at": "2026-02-01"}, "occurred_at"),
    ({"occurred_at": "yesterday"}, "occurred_at"),
    ({"kind": "transaction", "amount": "twelve", "currency": "CNY"}, "amount"),
    ({"kind": "transaction", "amount": "1.005", "currency": "CNY"}, "amount"),
    ({"kind": "transaction", "amount": "NaN", "currency": "CNY"}, "amount"),
    ({"kind": "transaction", "amount": "12", "currency": "XXX"}, "currency"),
    ({"amount": "12"}, "amount"),
    ({"summary": "长" * 301}, "summary"),
    ({"summary": ""}, "summary"),
    ({"details": "x" * 20_001}, "details"),
    ({"assignee": "nobody", "next_action_due": "2026-02-01"}, "assignee"),
    ({"contact_ids": [999]}, "contact_ids"),
    ({"corrects": 999}, "corrects"),
]


def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(api: Api, people: People,
                                                                     vault: Vault) -> None:
    d = owned_dossier(api, people)
    for body, field in BAD:
        r = add(api, people.employee, d["id"], **body)
        assert r.status_code == 422 and r.get_json()["error"]["field"] == field, (body, r.get_json())
    with vault.session() as s:
        assert s.scalar(select(func.count()).select_from(CustomerRecord)) == 0


def test_a_document_of_another_dossier_is_refused_in_chinese_too(api: Api, people: People, vault: Vault) -> None:
    d = owned_dossier(api, people)
    other = api.new_dossier(people.archivist, customer_name="别家公司")
    doc = upload(api, people.archivist, other["id"])
    r = api.client.post(f"/api/v1/dossiers/{d['id']}/records", json={**VISIT, "document_ids": [doc["id"]]},
                        headers={**api.headers(people.employee), "Accept-Language": "zh-CN"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "document_ids"
    assert f"文档 {doc['id']} 不属于本档案" in r.get_json()["error"]["message"]
    r = api.post(people.employee, f"/api/v1/dossiers/{d['id']}/contacts", json={"name": "x", "phone": "call me"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "phone"
    with vault.session() as s:
        assert s.scalar(select(func.count()).select_from(CustomerRecord)) == 0
        assert s.scalar(select(func.count()).select_from(Contact)) == 0


def test_sealed_details_and_phones_are_nowhere_in_plain_in_the_sqlite_file_or_its_wal(api: Api, people: People,
                                                                                      vault: Vault) -> None:
    d = owned_dossier(api, people)
    secret_detail, phone, email = "Quorblex机密细节7731", "139 7731 4242", "zorvath@example.com"
    add(api, people.employee, d["id"], details=secret_detail)
    api.post(people.employee, f"/api/v1/dossiers/{d['id']}/contacts", json={"name": "赵六", "phone": phone,
                                                                          "email": email})
    assert secret_detail in str(records(api, people.employee, d["id"]))  # stored, and readable by the owner
    db = vault.settings.home / "dossier.db"
    files = [p for p in (db, db.with_name("dossier.db-wal")) if p.exists()]
    assert db.with_name("dossier.db-wal") in files
    blob = b"".join(p.read_bytes() for p in files)
    for plain in (secret_detail, phone, phone.replace(" ", ""), email):
        assert plain.encode("utf-8") not in blob


CONTACT_BAD = [
    ({"name": ""}, "name"),
    ({"name": "名" * 101}, "name"),
    ({"name": "x", "email": "not-an-address"}, "email"),
    ({"name": "x", "decision_role": "ceo"}, "decision_role"),
    ({"name": "x", "since": "2027-01-01"}, "since"),
    ({"name": "x", "since": "2025-01-01", "left_on": "2024-01-01"}, "left_on"),
    ({"name": "x", "phones": ["1"] * 6}, "phone"),
    ({"name": "x", "birthday": "1990-01-01"}, "birthday"),
    ({"name": "x\x00y"}, "name"),
]


def test_a_bad_contact_is_refused_naming_the_field_and_nothing_is_written(api: Api, people: People,
                                                                          vault: Vault) -> None:
    d = owned_dossier(api, people)
    for body, field in CONTACT_BAD:
        r = api.post(people.employee, f"/api/v1/dossiers/{d['id']}/contacts", json=body)
        assert r.status_code == 422 and r.get_json()["error"]["field"] == field, (body, r.get_json())
    with vault.session() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 0


def test_the_contract_rows_for_contacts_records_and_complaint_status_are_served_and_documented(
        app: Any, client: Any) -> None:
    from tests.corpus import CORPUS

    contract = (CORPUS.parent / "API-next.md").read_text(encoding="utf-8")
    rows = re.findall(r"\| ((?:GET|POST|PATCH)(?:, (?:GET|POST|PATCH))*) `(/api/v1/[^`]+)`", contract)
    mine = [(m, p) for m, p in rows if p.endswith(("/contacts", "/records", "/records/{id}/status"))]
    assert len(mine) == 3
    spec = client.get("/api/v1/openapi.json").get_json()["paths"]
    documented = {(m, re.sub(r"\{[^}]+\}", "{}", p)) for p, ops in spec.items() for m in ops}
    for methods, path in mine:
        for method in methods.split(", "):
            assert (method.lower(), re.sub(r"\{[^}]+\}", "{}", path)) in documented, (method, path)
