"""Search over the customer file (issue 12): card fields, contact names and record text are found like
documents, each hit saying where it came from, under the dossier's rules: a card by whoever sees the
dossier, contacts and records only by those who may read its content (others see neither hit nor count).

Every test runs on each engine (Whoosh, SQLite FTS5, PostgreSQL on the session's test server).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from indexer.customer_entries import entry_key
from indexer.search_index import SearchIndex
from indexer.worker import run_pending
from tests.conftest import Api, People
from tests.integration.test_pages import as_user, post_form
from tests.support.workflow_fixtures import upload
from vault.core import Vault
from vault.models import Job, JobKind, JobStatus

ENGINES = ("whoosh", "fts5", "pg")


@pytest.fixture(params=ENGINES)
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "pg":
        return {"database_url": request.getfixturevalue("pg_url"), "search_engine": "pg",
                "token_ttl_hours": 24 * 365 * 50}
    return {"search_engine": request.param}


def found(api: Api, user: Any, term: str) -> dict[str, Any]:
    r = api.get(user, "/api/v1/search", query_string={"q": f'"{term}"'})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["total"] == len(body["items"]), body
    return dict(body)


def edit_card(api: Api, user: Any, dossier_id: int, **fields: str) -> None:
    r = api.patch(user, f"/api/v1/dossiers/{dossier_id}/card", json={"fields": fields, "reason": "资料更新"})
    assert r.status_code == 200, r.get_json()


def test_a_card_term_is_found_by_an_employee_who_sees_the_dossier_and_says_it_came_from_the_card(
        api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    d = api.new_dossier(people.archivist, owner="employee")
    edit_card(api, people.archivist, d["id"], business_scope="精密齿轮箱研发与销售", legal_representative="欧阳峻")
    run_pending(vault, index)
    other = people.make("emp2", "employee", "internal")  # not the owner, no checkout: sees the dossier only
    for term in ("精密齿轮箱", "欧阳峻"):
        body = found(api, other, term)
        assert body["total"] == 1, body
        hit = body["items"][0]
        assert hit["source"] == "card" and hit["dossier_id"] == d["id"] and hit["document_id"] is None
        assert hit["record_id"] is None
    below = people.make("emp-public", "employee", "public")  # the dossier is above this clearance
    assert found(api, below, "精密齿轮箱")["total"] == 0


def queued_kinds(vault: Vault) -> list[str]:
    with vault.session() as s:
        return [str(k) for k in s.scalars(select(Job.kind).where(Job.status == JobStatus.QUEUED))]


def test_after_a_card_edit_the_new_term_is_found_and_the_old_one_is_not(
        api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    d = api.new_dossier(people.archivist, owner="employee")
    run_pending(vault, index)  # the new customer's card, queued at creation
    edit_card(api, people.employee, d["id"], main_products="铸铁阀门")
    # the card's entry alone is re-added, not the dossier's documents
    assert queued_kinds(vault) == [JobKind.REINDEX_CUSTOMER.value]
    run_pending(vault, index)
    assert found(api, people.legal, "铸铁阀门")["total"] == 1
    edit_card(api, people.employee, d["id"], main_products="不锈钢管件")
    run_pending(vault, index)
    assert found(api, people.legal, "铸铁阀门")["total"] == 0
    hit = found(api, people.legal, "不锈钢管件")["items"]
    assert [(h["source"], h["dossier_id"]) for h in hit] == [("card", d["id"])]


def test_a_record_term_is_found_by_the_owner_and_legal_but_not_by_another_employee(
        api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    d = api.new_dossier(people.archivist, owner="employee")
    r = api.post(people.employee, f"/api/v1/dossiers/{d['id']}/records", json={
        "kind": "visit", "occurred_at": "2026-01-04T10:00", "summary": "拜访采购部",
        "details": "客户提到液压扳手的预算", "outcome": "同意试用样机"})
    assert r.status_code == 201, r.get_json()
    record_id = r.get_json()["id"]
    c = api.post(people.employee, f"/api/v1/dossiers/{d['id']}/contacts", json={"name": "司马明远"})
    assert c.status_code == 201, c.get_json()
    run_pending(vault, index)
    for reader in (people.employee, people.legal):
        for term in ("液压扳手", "同意试用样机"):  # the sealed details and the outcome
            body = found(api, reader, term)
            assert [(h["source"], h["record_id"], h["dossier_id"]) for h in body["items"]] == \
                [("record", record_id, d["id"])], body
        contact = found(api, reader, "司马明远")["items"]
        assert [(h["source"], h["contact_id"]) for h in contact] == [("contact", c.get_json()["id"])]
    other = people.make("emp2", "employee", "confidential")
    for term in ("液压扳手", "同意试用样机", "司马明远"):
        body = found(api, other, term)
        assert body["total"] == 0 and body["items"] == [], body  # neither the hit nor its count


def test_the_search_page_labels_a_record_hit_and_links_to_the_record_in_both_languages(
        api: Api, people: People, app: Flask, vault: Vault, index: SearchIndex) -> None:
    d = api.new_dossier(people.archivist, owner="employee")
    r = api.post(people.employee, f"/api/v1/dossiers/{d['id']}/records", json={
        "kind": "call", "occurred_at": "2026-01-05T09:00", "summary": "电话回访", "outcome": "续签框架协议"})
    assert r.status_code == 201, r.get_json()
    run_pending(vault, index)
    client = as_user(app, people.legal)
    zh = client.get("/search?q=续签框架协议&lang=zh").get_data(as_text=True)
    assert "往来记录" in zh and f"/dossiers/{d['id']}#record-{r.get_json()['id']}" in zh
    en = client.get("/search?q=续签框架协议&lang=en").get_data(as_text=True)
    assert "Record of contact" in en


def test_once_a_dossiers_content_is_destroyed_its_records_and_contacts_are_no_longer_found(
        api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    d = api.new_dossier(people.archivist, owner="employee")
    edit_card(api, people.archivist, d["id"], former_names="旧称锦程贸易")
    rec = api.post(people.employee, f"/api/v1/dossiers/{d['id']}/records", json={
        "kind": "visit", "occurred_at": "2026-01-03T09:00", "summary": "上门检修", "details": "更换离心泵密封圈"})
    contact = api.post(people.employee, f"/api/v1/dossiers/{d['id']}/contacts", json={"name": "诸葛文静"})
    assert rec.status_code == contact.status_code == 201
    keys = {entry_key("record", rec.get_json()["id"]), entry_key("contact", contact.get_json()["id"])}
    doc = upload(api, people.archivist, d["id"], doc_type="id_proof")
    run_pending(vault, index)
    assert found(api, people.legal, "离心泵密封圈")["total"] == 1 and keys <= index.document_ids()
    assert api.patch(people.archivist, f"/api/v1/dossiers/{d['id']}", json={"status": "closed"}).status_code == 200
    batch = api.post(people.archivist, "/api/v1/destructions",
                     json={"document_ids": [doc["id"]], "reason": "保管期限届满"}).get_json()
    for approver in (people.manager, people.legal):
        assert api.post(approver, f"/api/v1/destructions/{batch['id']}/approve", json={}).status_code == 200
    assert api.post(people.make("arch2", "archivist"),
                    f"/api/v1/destructions/{batch['id']}/execute").status_code == 200
    run_pending(vault, index)
    assert not keys & index.document_ids(), "their entries are gone from the index itself"
    assert found(api, people.legal, "离心泵密封圈")["total"] == 0
    assert found(api, people.legal, "诸葛文静")["total"] == 0
    assert [h["source"] for h in found(api, people.legal, "旧称锦程贸易")["items"]] == ["card"]  # metadata stays


def test_a_customer_imported_with_card_fields_is_found_by_them_without_an_edit(
        api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    from tests.integration.test_customer_import_export import CODES, csv_bytes, do_import

    rows = [[f"导入客户{i}", CODES[i], "", "client", "A", "", "employee", f"端木{i}号", "", "", ""] for i in range(3)]
    rows[2][7] = ""  # no card field: found by its name all the same
    r = do_import(api, people, csv_bytes(rows), dry_run=False)
    assert r.get_json()["created"] == 3
    assert queued_kinds(vault) == [JobKind.REINDEX_CUSTOMER.value]  # one job for the import's batch
    run_pending(vault, index)
    hits = found(api, people.legal, "端木1号")["items"]
    assert [(h["source"], h["dossier_id"]) for h in hits] == [("card", r.get_json()["rows"][1]["dossier_id"])]
    hits = found(api, people.legal, "导入客户2")["items"]
    assert [(h["source"], h["dossier_id"]) for h in hits] == [("card", r.get_json()["rows"][2]["dossier_id"])]


@pytest.mark.parametrize("settings_overrides", ["whoosh", "pg"], indirect=True)
def test_a_new_customer_is_found_by_its_card_once_the_worker_ran_and_a_refused_one_queues_nothing(
        app: Flask, api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    body = {"customer_name": "Yrsolde个体经营户", "customer_type": "client", "customer_kind": "individual",
            "id_number": "11010519491231002X", "owner": "archivist"}
    r = api.post(people.archivist, "/api/v1/dossiers", json=body)
    assert r.status_code == 201, r.get_json()
    d = r.get_json()
    # the job was committed with the dossier (one transaction): nothing else is needed to make it searchable
    assert queued_kinds(vault) == [JobKind.REINDEX_CUSTOMER.value]
    again = api.post(people.archivist, "/api/v1/dossiers", json={**body, "customer_name": "同号另一户"})
    assert again.status_code == 409 and queued_kinds(vault) == [JobKind.REINDEX_CUSTOMER.value]
    assert found(api, people.employee, "Yrsolde")["total"] == 0  # not before the worker ran
    run_pending(vault, index)
    # the name is on the card only (no document, contact or record has it): seen by everyone who sees the dossier
    for user in (people.employee, people.legal):
        hits = found(api, user, "Yrsolde")["items"]
        assert [(h["source"], h["dossier_id"]) for h in hits] == [("card", d["id"])]
    assert found(api, people.make("emp-public", "employee", "public"), "Yrsolde")["total"] == 0
    # a dossier opened on the page is a customer with its card as well
    page = as_user(app, people.archivist)
    made = post_form(page, "/dossiers/new", {"customer_name": "Quennet精工有限公司", "customer_type": "client",
                                             "grade": "B", "secrecy": "internal", "owner": "archivist"})
    assert made.status_code == 302, made.get_data(as_text=True)
    run_pending(vault, index)
    assert [h["source"] for h in found(api, people.employee, "Quennet")["items"]] == ["card"]


def test_a_page_of_card_hits_reads_their_dossiers_and_cards_at_once_not_two_statements_per_hit(
        api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    from sqlalchemy import event

    dossiers = [api.new_dossier(people.archivist, owner="employee") for _ in range(12)]
    for d in dossiers:
        edit_card(api, people.archivist, d["id"], business_scope="精密齿轮箱研发与销售")
    run_pending(vault, index)
    other = people.make("emp2", "employee", "internal")
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(vault.engine, "before_cursor_execute", seen)
    try:
        body = found(api, other, "精密齿轮箱")
    finally:
        event.remove(vault.engine, "before_cursor_execute", seen)
    assert body["total"] == 12 and {hit["source"] for hit in body["items"]} == {"card"}
    rows = [s for s in statements if "FROM customer_cards" in s or "FROM dossiers" in s]
    assert len(rows) <= 4, f"{len(rows)} statements read the hits' dossiers and cards"


def test_a_page_of_record_hits_opens_their_sealed_details_with_one_read_of_the_dossiers_keys(
        api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    from sqlalchemy import event

    for n in range(8):
        d = api.new_dossier(people.archivist, owner="employee")
        r = api.post(people.employee, f"/api/v1/dossiers/{d['id']}/records", json={
            "kind": "visit", "occurred_at": f"2025-11-{n + 4:02d}T10:00", "summary": f"第{n}次拜访",
            "details": f"客户询问蜗轮减速机的交期，批次{n}"})
        assert r.status_code == 201, r.get_json()
    run_pending(vault, index)
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(vault.engine, "before_cursor_execute", seen)
    try:
        body = found(api, people.legal, "蜗轮减速机")
    finally:
        event.remove(vault.engine, "before_cursor_execute", seen)
    assert body["total"] == 8 and {hit["source"] for hit in body["items"]} == {"record"}
    assert all("蜗轮减速机" in hit["snippet"].replace("<mark>", "").replace("</mark>", "") for hit in body["items"]), \
        body["items"]  # each record's sealed details were opened for its snippet
    keys = [s for s in statements if "FROM dossier_keys" in s]
    assert len(keys) == 1, f"{len(keys)} statements read the hits' dossiers' keys"
