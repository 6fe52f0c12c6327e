"""Transfers into the archive (移交/接收) through the HTTP API: send, check and send back, receive item by
item, the receipt register, documents with item numbers, the deadline and its notifications."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import Api, People
from tests.support.workflow_fixtures import PDF, run_cli, upload
from vault.clock import FixedClock
from vault.core import Vault
from vault.models import AuditEvent, Document, Dossier, Notification, User
from vault.paper_models import Transfer, TransferItem
from vault.services.transfer_register import list_receipts, run_overdue_transfers
from vault.services.transfers import working_days_after


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365 * 50}  # tokens outlive the days the clock is moved on


ITEMS = [
    {"title": "采购合同 HT-2026-001", "doc_type": "contract", "doc_date": "2026-03-01", "pages": 12, "original": True,
     "responsible": "华东供应链有限公司"},
    {"title": "营业执照副本", "doc_type": "license", "doc_date": "2025-01-10", "pages": 1, "original": False},
    {"title": "往来函件", "doc_type": "correspondence", "pages": 3, "remarks": "含回执"},
]


def _send(api: Api, user: Any, dossier_id: int, items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    r = api.post(user, "/api/v1/transfers", json={"dossier_id": dossier_id, "items": items or ITEMS,
                                                  "note": "季度移交"})
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


def _counts(vault: Vault) -> tuple[int, int, int]:
    with vault.session() as s:
        return (s.scalar(select(func.count()).select_from(Transfer)) or 0,
                s.scalar(select(func.count()).select_from(TransferItem)) or 0,
                s.scalar(select(func.count()).select_from(Document)) or 0)


def test_a_transfer_is_sent_sent_back_completed_received_and_registered_as_numbered_documents(
        api: Api, people: People, vault: Vault) -> None:
    d = api.new_dossier(people.archivist, owner="employee")
    existing = upload(api, people.archivist, d["id"], PDF)
    assert existing["item_no"] == 1 and existing["item_code"] == f"{d['archive_no']}-001"

    sent = _send(api, people.employee, d["id"], ITEMS[:2])
    assert sent["status"] == "sent" and sent["sender"] == "employee" and len(sent["items"]) == 2

    # the sender cannot check their own list; a colleague sends it back with what is missing
    own = api.post(people.employee, f"/api/v1/transfers/{sent['id']}/check", json={"ok": True})
    assert own.status_code == 403
    back = api.post(people.make("colleague", "employee"), f"/api/v1/transfers/{sent['id']}/check",
                    json={"ok": False, "missing": "往来函件未列入"})
    assert back.status_code == 200 and back.get_json()["status"] == "returned"
    assert back.get_json()["missing"] == "往来函件未列入"
    # a returned transfer is not received until the sender sends it again
    early = api.post(people.archivist, f"/api/v1/transfers/{sent['id']}/receive",
                     json={"items": [{"index": 1, "state": "present"}]})
    assert early.status_code == 409
    again = api.post(people.employee, f"/api/v1/transfers/{sent['id']}/resend", json={"items": ITEMS})
    assert again.status_code == 200 and again.get_json()["status"] == "sent" and len(again.get_json()["items"]) == 3

    received = api.post(people.archivist, f"/api/v1/transfers/{sent['id']}/receive", json={"items": [
        {"index": 1, "state": "present"},
        {"index": 2, "state": "differs", "note": "实为复印件两页"},
        {"index": 3, "state": "missing", "note": "未见"}]})
    assert received.status_code == 200, received.get_json()
    t = received.get_json()
    assert t["status"] == "received" and t["received_by"] == "archivist"
    assert t["receipt_no"] == f"JS-{vault.clock.now().year}-000001"
    states = {i["index"]: (i["state"], i["item_code"]) for i in t["items"]}
    assert states == {1: ("present", f"{d['archive_no']}-002"), 2: ("differs", f"{d['archive_no']}-003"),
                      3: ("missing", None)}

    # the received items are documents of the dossier: paper originals without a file yet
    dossier = api.get(people.archivist, f"/api/v1/dossiers/{d['id']}").get_json()
    docs = {doc["item_no"]: doc for doc in dossier["documents"]}
    assert sorted(docs) == [1, 2, 3]
    assert docs[2]["title"] == "采购合同 HT-2026-001" and docs[2]["version"] is None and docs[2]["pages"] == 12
    assert docs[2]["paper"] == {"original": True, "transfer_id": sent["id"]} and "paper" not in docs[1]
    assert docs[3]["doc_type"] == "license"
    paper_doc = api.get(people.archivist, f"/api/v1/documents/{docs[2]['id']}")
    assert paper_doc.status_code == 200 and paper_doc.get_json()["item_code"] == f"{d['archive_no']}-002"
    no_content = api.get(people.archivist, f"/api/v1/documents/{docs[2]['id']}/content")
    assert no_content.status_code == 404

    # both sides sign: the receiver by receiving, the sender by confirming
    assert api.post(people.archivist, f"/api/v1/transfers/{sent['id']}/confirm").status_code == 403
    confirmed = api.post(people.employee, f"/api/v1/transfers/{sent['id']}/confirm")
    assert confirmed.status_code == 200 and confirmed.get_json()["sender_confirmed_at"]

    # the receipt register lists it, for the ledgers
    with vault.session() as s:
        rows = list_receipts(s, s.get(User, people.manager.id), {"dossier_id": d["id"]})
        assert [r.receipt_no for r in rows] == [t["receipt_no"]]
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "transfer")).all()
    assert actions == ["transfer.sent", "transfer.returned", "transfer.resent", "transfer.received",
                       "transfer.confirmed"]
    reg = api.get(people.manager, "/api/v1/receipts").get_json()
    assert [r["receipt_no"] for r in reg["items"]] == [t["receipt_no"]]
    assert api.get(people.employee, "/api/v1/receipts").status_code == 403


def test_item_numbers_run_on_across_received_papers_and_uploads_per_dossier(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist)
    other = api.new_dossier(people.archivist, customer_name="另一客户有限公司")
    t = _send(api, people.employee, d["id"], ITEMS[:1])
    r = api.post(people.archivist, f"/api/v1/transfers/{t['id']}/receive",
                 json={"items": [{"index": 1, "state": "present"}]})
    assert r.get_json()["items"][0]["item_no"] == 1
    assert upload(api, people.archivist, d["id"], PDF)["item_no"] == 2
    assert upload(api, people.archivist, other["id"], PDF)["item_no"] == 1


def test_only_an_archivist_other_than_the_sender_receives_and_every_item_needs_a_state(
        api: Api, people: People, vault: Vault) -> None:
    d = api.new_dossier(people.archivist)
    t = _send(api, people.archivist, d["id"])
    url = f"/api/v1/transfers/{t['id']}/receive"
    every = {"items": [{"index": i, "state": "present"} for i in (1, 2, 3)]}
    assert api.post(people.archivist, url, json=every).status_code == 403  # own transfer
    assert api.post(people.manager, url, json=every).status_code == 403
    other = people.make("archivist2", "archivist")
    before = _counts(vault)
    for body, field_text in [({"items": [{"index": 1, "state": "present"}]}, "items not received yet"),
                             ({"items": [{"index": 9, "state": "present"}]}, "not an item"),
                             ({"items": [*every["items"][:2], {"index": 3, "state": "lost"}]}, "state must be"),
                             ({"items": [*every["items"][:2], {"index": 3, "state": "differs"}]}, "how it differs")]:
        r = api.post(other, url, json=body)
        assert r.status_code == 422 and field_text in r.get_json()["error"]["message"], r.get_json()
    assert _counts(vault) == before
    assert api.post(other, url, json=every).status_code == 200


@pytest.mark.parametrize("items, message", [
    ([{**ITEMS[0], "pages": -3}], "pages must be a whole number"),
    ([{**ITEMS[0], "pages": 0}], "pages must be a whole number"),
    ([{**ITEMS[0], "doc_type": "memo"}], "doc_type must be one of"),
    ([{**ITEMS[0], "title": "  "}], "title is required"),
    ([{**ITEMS[0], "doc_date": "yesterday"}], "doc_date must be a date"),
    ([], "non-empty list"),
])
def test_bad_items_are_refused_with_what_is_wrong_and_nothing_is_written(
        api: Api, people: People, vault: Vault, items: list[dict[str, Any]], message: str) -> None:
    d = api.new_dossier(people.archivist)
    before = _counts(vault)
    r = api.post(people.employee, "/api/v1/transfers", json={"dossier_id": d["id"], "items": items})
    assert r.status_code == 422 and message in r.get_json()["error"]["message"], r.get_json()
    assert r.get_json()["error"]["field"] == "items"
    assert _counts(vault) == before


def test_bad_items_are_refused_in_chinese_for_a_chinese_reader(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist)
    r = api.client.post("/api/v1/transfers", headers={**api.headers(people.employee), "Accept-Language": "zh-CN"},
                        json={"dossier_id": d["id"], "items": [{**ITEMS[0], "pages": -1}]})
    assert r.status_code == 422
    assert "页数" in r.get_json()["error"]["message"], r.get_json()


def test_a_transfer_for_a_dossier_above_the_senders_clearance_is_not_found_and_nothing_is_written(
        api: Api, people: People, vault: Vault) -> None:
    secret = api.new_dossier(people.make("chief", "archivist", "secret"), secrecy="secret")
    before = _counts(vault)
    r = api.post(people.employee, "/api/v1/transfers", json={"dossier_id": secret["id"], "items": ITEMS})
    assert r.status_code == 404
    assert _counts(vault) == before
    t = _send(api, people.make("chief", "archivist", "secret"), secret["id"])
    assert api.get(people.employee, f"/api/v1/transfers/{t['id']}").status_code == 404
    assert api.get(people.manager, "/api/v1/transfers").get_json()["total"] == 0


def test_the_deadline_counts_working_days_and_overdue_transfers_notify_the_sender_and_managers(
        api: Api, people: People, vault: Vault, clock: FixedClock) -> None:
    d = api.new_dossier(people.archivist)
    people.manager  # noqa: B018 - a manager exists to be told
    t = _send(api, people.employee, d["id"])
    business = vault.clock.now().date()
    assert t["deadline"] == working_days_after(business, 5).isoformat()
    assert (working_days_after(business, 5) - business).days >= 7  # a weekend in between
    assert run_overdue_transfers(vault) == []
    clock.advance(days=8)
    assert api.get(people.employee, f"/api/v1/transfers/{t['id']}").get_json()["status"] == "overdue"
    listed = api.get(people.archivist, "/api/v1/transfers?status=overdue").get_json()
    assert [x["id"] for x in listed["items"]] == [t["id"]]
    assert run_overdue_transfers(vault) == [t["id"]]
    assert run_overdue_transfers(vault) == []  # once
    with vault.session() as s:
        told = sorted(s.scalars(select(Notification.user_id).where(Notification.kind == "transfer.overdue")).all())
    assert told == sorted([people.employee.id, people.manager.id])


def test_the_command_line_lists_overdue_transfers_and_receipts_and_writes_the_sheets(
        api: Api, people: People, vault: Vault, clock: FixedClock, tmp_path: Path) -> None:
    d = api.new_dossier(people.archivist)
    late = _send(api, people.employee, d["id"])
    done = _send(api, people.employee, d["id"], ITEMS[:1])
    api.post(people.archivist, f"/api/v1/transfers/{done['id']}/receive",
             json={"items": [{"index": 1, "state": "present"}]})
    clock.advance(days=10)
    overdue = run_cli(vault, "transfers", "overdue")
    assert overdue.exit_code == 0, overdue.output
    assert f"#{late['id']} {d['archive_no']}" in overdue.output and "1 newly notified" in overdue.output
    receipts = run_cli(vault, "transfers", "receipts")
    assert receipts.exit_code == 0 and f"JS-{vault.clock.now().year}-000001" in receipts.output
    assert "1 present" in receipts.output
    sheets = run_cli(vault, "sheets", d["archive_no"], "--out", str(tmp_path), "--lang", "en",
                     "--doc-type", "contract")
    assert sheets.exit_code == 0, sheets.output
    written = sorted(p.name for p in tmp_path.glob("*.pdf"))
    assert written == sorted(f"{d['archive_no']}-{n}.pdf" for n in
                             ("contents", "cover", "record-sheet", "separator", "separator-contract"))
    assert all(p.read_bytes().startswith(b"%PDF") for p in tmp_path.glob("*.pdf"))


NEW_CUSTOMER = {"customer_name": "滨江新材料有限公司", "customer_type": "supplier", "credit_code": "91330106MA2H1Y0X1W",
                "industry": "制造业", "region": "杭州"}


def _dossier_count(vault: Vault) -> int:
    with vault.session() as s:
        return s.scalar(select(func.count()).select_from(Dossier)) or 0


def test_a_transfer_for_a_new_customer_opens_its_dossier_with_the_transfer_and_a_refusal_opens_none(
        api: Api, people: People, vault: Vault) -> None:
    before, dossiers_before = _counts(vault), _dossier_count(vault)
    taken = api.new_dossier(people.archivist, customer_name="已有客户", credit_code="91110108551385082Q")
    dossiers_before += 1
    # refused: bad fields of the new dossier name the field, in the reader's language; nothing is written
    for customer, field, status in [({**NEW_CUSTOMER, "customer_name": " "}, "customer_name", 422),
                                    ({**NEW_CUSTOMER, "customer_type": "vendor"}, "customer_type", 422),
                                    ({**NEW_CUSTOMER, "credit_code": "91330106MA2H1Y0X1B"}, "credit_code", 422),
                                    ({**NEW_CUSTOMER, "secrecy": "secret"}, "secrecy", 422),  # above clearance
                                    ({**NEW_CUSTOMER, "owner": "nobody"}, "owner", 422),
                                    ({**NEW_CUSTOMER, "colour": "red"}, "colour", 422),
                                    ({**NEW_CUSTOMER, "credit_code": "91110108551385082Q"}, None, 409)]:
        r = api.post(people.employee, "/api/v1/transfers", json={"customer": customer, "items": ITEMS})
        assert r.status_code == status and r.get_json()["error"].get("field") == field, (customer, r.get_json())
    both = api.post(people.employee, "/api/v1/transfers",
                    json={"customer": NEW_CUSTOMER, "dossier_id": taken["id"], "items": ITEMS})
    assert both.status_code == 422 and both.get_json()["error"]["field"] == "customer"
    bad_items = api.post(people.employee, "/api/v1/transfers",
                         json={"customer": NEW_CUSTOMER, "items": [{**ITEMS[0], "pages": -1}]})
    assert bad_items.status_code == 422 and bad_items.get_json()["error"]["field"] == "items"
    zh = api.client.post("/api/v1/transfers", headers={**api.headers(people.employee), "Accept-Language": "zh-CN"},
                         json={"customer": {**NEW_CUSTOMER, "customer_name": ""}, "items": ITEMS})
    assert zh.status_code == 422 and "客户名称" in zh.get_json()["error"]["message"], zh.get_json()
    assert api.post(people.admin, "/api/v1/transfers", json={"customer": NEW_CUSTOMER, "items": ITEMS}).status_code \
        == 403
    assert _counts(vault) == before and _dossier_count(vault) == dossiers_before
    with vault.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action.in_(("dossier.created", "transfer.sent")))) == 1  # `taken` only

    # accepted: the dossier exists, owned by the sender, with the transfer; received like any other
    t = _send_new(api, people.employee)
    d = api.get(people.employee, f"/api/v1/dossiers/{t['dossier_id']}").get_json()
    assert d["customer_name"] == NEW_CUSTOMER["customer_name"] and d["owner"] == "employee"
    assert d["credit_code"] == NEW_CUSTOMER["credit_code"] and t["archive_no"] == d["archive_no"]
    got = api.post(people.archivist, f"/api/v1/transfers/{t['id']}/receive",
                   json={"items": [{"index": i, "state": "present"} for i in (1, 2, 3)]})
    assert got.status_code == 200 and got.get_json()["items"][0]["item_code"] == f"{d['archive_no']}-001"
    with vault.session() as s:
        sent = s.scalars(select(AuditEvent).where(AuditEvent.action == "transfer.sent")).one()
        assert json.loads(sent.details)["new_dossier"] == d["archive_no"]
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "dossier.created")) == 2


def _send_new(api: Api, user: Any, **customer: Any) -> dict[str, Any]:
    r = api.post(user, "/api/v1/transfers", json={"customer": {**NEW_CUSTOMER, **customer}, "items": ITEMS})
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


NATIONAL_DAY_2026 = [  # 国务院办公厅 2026 holiday arrangement around 国庆 (as configured by an administrator)
    {"date": "2026-09-20", "day_type": "workday", "name": "国庆调休"},  # a Sunday worked
    {"date": "2026-09-25", "day_type": "holiday", "name": "中秋节"},
    {"from": "2026-10-01", "to": "2026-10-07", "day_type": "holiday", "name": "国庆节"},
    {"date": "2026-10-10", "day_type": "workday", "name": "国庆调休"},  # a Saturday worked
]


def test_the_deadline_skips_the_national_day_holidays_and_counts_the_make_up_working_days(
        api: Api, people: People, vault: Vault, clock: FixedClock) -> None:
    from datetime import UTC, datetime

    d = api.new_dossier(people.archivist)
    before = api.get(people.employee, "/api/v1/calendar?year=2026").get_json()
    # only an administrator edits the calendar; bad entries name the field and change nothing
    assert api.post(people.archivist, "/api/v1/calendar", json={"entries": NATIONAL_DAY_2026}).status_code == 403
    for days, field in [([{"date": "2026-10-32", "day_type": "holiday"}], "date"),
                        ([*NATIONAL_DAY_2026, {"date": "2026-10-08", "day_type": "party"}], "day_type"),
                        ([{"from": "2026-10-07", "to": "2026-10-01", "day_type": "holiday"}], "to"),
                        ([{"from": "2026-01-01", "to": "2027-12-31", "day_type": "holiday"}], "to"),
                        ([], "entries")]:
        r = api.post(people.admin, "/api/v1/calendar", json={"entries": days})
        assert r.status_code == 422 and r.get_json()["error"]["field"] == field, r.get_json()
    zh = api.client.post("/api/v1/calendar", headers={**api.headers(people.admin), "Accept-Language": "zh-CN"},
                         json={"entries": [{"date": "2026-10-08", "day_type": "party"}]})
    assert zh.status_code == 422 and "日期类型" in zh.get_json()["error"]["message"], zh.get_json()
    assert api.get(people.employee, "/api/v1/calendar?year=2026").get_json() == before == {"year": 2026, "days": []}
    assert api.post(people.admin, "/api/v1/calendar", json={"entries": NATIONAL_DAY_2026}).get_json() == {"changed": 10}
    listed = api.get(people.employee, "/api/v1/calendar?year=2026").get_json()["days"]
    assert [x["date"] for x in listed if x["day_type"] == "workday"] == ["2026-09-20", "2026-10-10"]
    assert len([x for x in listed if x["day_type"] == "holiday"]) == 8

    # handed over on Tuesday 29 September: Wednesday 30, then (holidays) Thursday 8, Friday 9, the make-up
    # Saturday 10, Monday 12 October; by weekdays alone it would have been Tuesday 6 October
    clock.set(datetime(2026, 9, 29, 9, 0, tzinfo=UTC))
    t = _send(api, people.employee, d["id"])
    assert t["deadline"] == "2026-10-12"
    # handed over on Friday 18 September: the make-up Sunday 20 counts, so Thursday 24 (not Friday 25)
    early = api.post(people.employee, "/api/v1/transfers", json={"dossier_id": d["id"], "items": ITEMS[:1],
                                                                 "business_date": "2026-09-18"}).get_json()
    assert early["deadline"] == "2026-09-24"
    clock.set(datetime(2026, 10, 12, 18, 0, tzinfo=UTC))
    assert api.get(people.employee, f"/api/v1/transfers/{t['id']}").get_json()["status"] == "sent"
    clock.set(datetime(2026, 10, 13, 9, 0, tzinfo=UTC))
    assert api.get(people.employee, f"/api/v1/transfers/{t['id']}").get_json()["status"] == "overdue"

    # the command line lists and sets days too (a day back to normal: the weekday's own rule)
    out = run_cli(vault, "calendar", "set", "2026-10-10", "normal")
    assert out.exit_code == 0 and "1 day(s) set to normal" in out.output, out.output
    bad = run_cli(vault, "calendar", "set", "2026-10-01..2026-09-01", "holiday")
    assert bad.exit_code != 0 and "to must not be before from" in bad.output
    shown = run_cli(vault, "calendar", "list", "--year", "2026")
    assert "2026-10-01\tholiday\t国庆节" in shown.output and "2026-10-10" not in shown.output
    with vault.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "calendar.changed")) == 2
