"""Archive numbers where people type them (holds, audit, search), and every message in the reader's language:
pages in their page language, the API by Accept-Language (English when none is asked for)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import Api, People
from tests.integration.test_pages import as_user, post_form
from tests.support.workflow_fixtures import PDF, upload
from vault.core import Vault
from vault.errors import NotFound
from vault.models import DocumentVersion, IndexStatus
from vault.services.common import resolve_archive_no


@pytest.fixture
def dossier(api: Api, people: People) -> dict[str, Any]:
    people.make("employee", "employee")
    d = api.new_dossier(people.archivist, owner="employee", secrecy="internal", customer_name="杭州明远贸易有限公司")
    d["document_id"] = upload(api, people.archivist, d["id"], PDF)["id"]
    return d


@pytest.fixture
def secret_dossier(api: Api, people: People) -> dict[str, Any]:
    chief = people.make("chief", "archivist", "secret")
    return api.new_dossier(chief, secrecy="secret", customer_name="绝密客户股份有限公司")


def _not_found_text(r: Any) -> str:
    """The error message with the number taken out, to compare two refusals' words."""
    return re.sub(r"KH-\d{4}-\d+", "N", r.get_json()["error"]["message"])


# -- archive numbers ---------------------------------------------------------------------------------------


def test_resolving_an_archive_number_applies_clearance_like_a_missing_number(vault: Vault, people: People,
                                                                             dossier: dict[str, Any],
                                                                             secret_dossier: dict[str, Any]) -> None:
    with vault.session() as s:
        legal = s.get(type(people.legal), people.legal.id)
        assert resolve_archive_no(s, legal, f" {dossier['archive_no'].lower()} ").id == dossier["id"]
        with pytest.raises(NotFound) as hidden:
            resolve_archive_no(s, legal, secret_dossier["archive_no"])
        with pytest.raises(NotFound) as missing:
            resolve_archive_no(s, legal, "KH-1999-999999")
    assert hidden.value.template == missing.value.template and hidden.value.code == missing.value.code


def test_legal_places_a_hold_by_archive_number_on_the_page_and_the_list_names_dossier_and_customer(
        app: Flask, people: People, dossier: dict[str, Any]) -> None:
    legal = as_user(app, people.legal)
    r = post_form(legal, "/holds", {"archive_no": dossier["archive_no"], "reason": "（2026）京01民初123号"})
    assert r.status_code == 302
    page = legal.get("/holds").get_data(as_text=True)
    assert dossier["archive_no"] in page and "杭州明远贸易有限公司" in page
    assert not re.search(r"档案 \d+<", page)
    r = post_form(legal, "/holds", {"reason": "x"})
    text = legal.get("/holds").get_data(as_text=True)
    assert "请说明保全对象" in text and "not both" not in text


def test_a_hold_on_a_dossier_above_clearance_is_refused_as_not_found(api: Api, people: People,
                                                                      dossier: dict[str, Any],
                                                                      secret_dossier: dict[str, Any]) -> None:
    hidden = api.post(people.legal, "/api/v1/holds", json={"archive_no": secret_dossier["archive_no"], "reason": "x"})
    missing = api.post(people.legal, "/api/v1/holds", json={"archive_no": "KH-1999-999999", "reason": "x"})
    assert hidden.status_code == missing.status_code == 404
    assert _not_found_text(hidden) == _not_found_text(missing)
    assert secret_dossier["customer_name"] not in hidden.get_data(as_text=True)
    r = api.post(people.legal, "/api/v1/holds", json={"archive_no": dossier["archive_no"], "reason": "x"})
    assert r.status_code == 201


def test_the_audit_filter_takes_an_archive_number_and_the_list_shows_number_and_customer(
        app: Flask, api: Api, people: People, dossier: dict[str, Any], secret_dossier: dict[str, Any]) -> None:
    legal = as_user(app, people.legal)
    page = legal.get(f"/audit?archive_no={dossier['archive_no']}").get_data(as_text=True)
    assert "dossier.created" in page and "杭州明远贸易有限公司" in page and 'aria-invalid' not in page
    refused = legal.get(f"/audit?archive_no={secret_dossier['archive_no']}").get_data(as_text=True)
    assert "没有档案号为" in refused and 'aria-invalid="true"' in refused
    listed = api.get(people.legal, f"/api/v1/audit?archive_no={dossier['archive_no']}").get_json()
    assert listed["total"] > 0 and {e["dossier_id"] for e in listed["items"]} == {dossier["id"]}
    hidden = api.get(people.legal, f"/api/v1/audit?archive_no={secret_dossier['archive_no']}")
    assert hidden.status_code == 404


def test_the_search_filter_takes_an_archive_number(app: Flask, api: Api, people: People,
                                                   dossier: dict[str, Any]) -> None:
    archivist = as_user(app, people.archivist)
    r = archivist.get(f"/search?q=合同&archive_no={dossier['archive_no']}")
    assert r.status_code == 200 and 'aria-invalid' not in r.get_data(as_text=True)
    unknown = archivist.get("/search?q=合同&archive_no=KH-1999-999999").get_data(as_text=True)
    assert "没有档案号为 KH-1999-999999 的档案" in unknown and "must be a number" not in unknown
    r = api.get(people.archivist, "/api/v1/search?q=合同&archive_no=KH-1999-999999")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "dossier_not_found"


@pytest.mark.parametrize("path", ["/api/v1/search?q=合同", "/api/v1/dossiers?q=明远", "/api/v1/checkouts?mine=1"])
def test_search_pages_like_every_list_up_to_200_a_page_and_says_so_in_chinese_past_it(
        api: Api, people: People, dossier: dict[str, Any], path: str) -> None:
    r = api.get(people.employee, f"{path}&per_page=200")
    assert r.status_code == 200 and r.get_json()["per_page"] == 200
    r = api.get(people.employee, f"{path}&per_page=201")
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "per_page"
    assert "200" in r.get_json()["error"]["message"]
    zh = api.client.get(f"{path}&per_page=201", headers={**api.headers(people.employee), "Accept-Language": "zh-CN"})
    assert zh.get_json()["error"]["message"] == "每页条数必须在 1 到 200 之间"


# -- messages in the reader's language ---------------------------------------------------------------------


def test_a_checkout_form_error_is_in_chinese_on_a_chinese_page_and_english_on_an_english_one(
        app: Flask, people: People, dossier: dict[str, Any]) -> None:
    employee = as_user(app, people.employee)
    r = post_form(employee, f"/dossiers/{dossier['id']}/checkouts", {"purpose": "", "kind": "view", "days": "3"})
    assert r.status_code == 422 and "必须填写用途" in r.get_data(as_text=True)
    r = post_form(employee, f"/dossiers/{dossier['id']}/checkouts", {"purpose": "核对", "kind": "view", "days": "99"})
    page = r.get_data(as_text=True)
    assert "天数必须是 1 到" in page and "whole number" not in page
    employee.get("/?lang=en")
    r = post_form(employee, f"/dossiers/{dossier['id']}/checkouts", {"purpose": "", "kind": "view", "days": "3"})
    assert "purpose is required" in r.get_data(as_text=True)


def test_the_api_speaks_english_unless_the_client_asks_for_chinese(api: Api, people: People,
                                                                   dossier: dict[str, Any]) -> None:
    body = {"dossier_id": dossier["id"], "purpose": "", "kind": "view", "days": 3}
    plain = api.post(people.employee, "/api/v1/checkouts", json=body).get_json()["error"]
    assert plain["message"] == "purpose is required" and plain["field"] == "purpose"
    zh = api.client.post("/api/v1/checkouts", json=body, headers={
        **api.headers(people.employee), "Accept-Language": "zh-CN,zh;q=0.9"}).get_json()["error"]
    assert zh["message"] == "必须填写用途" and zh["code"] == plain["code"]


def test_an_upload_refusal_is_said_in_chinese_with_its_advice(api: Api, people: People,
                                                              dossier: dict[str, Any]) -> None:
    from tests.support.multipart import post_file

    headers = {**api.headers(people.archivist), "Accept-Language": "zh-CN"}
    r = post_file(api.client, f"/api/v1/dossiers/{dossier['id']}/documents", headers, {"doc_type": "contract"},
                  "empty.pdf", b"", file_first=True)
    assert r.status_code == 422
    assert r.get_json()["error"]["message"] == "文件为空（0 字节）。请上传 PDF、DOCX、PNG、JPEG 或 TIFF 文件。"


def test_an_index_error_and_a_retention_basis_stored_in_english_show_in_chinese(
        app: Flask, vault: Vault, people: People, dossier: dict[str, Any]) -> None:
    from indexer.extraction import memory_reason

    with vault.session() as s:
        version = s.scalars(select(DocumentVersion)).first()
        assert version is not None
        version.index_status, version.index_error = IndexStatus.FAILED, memory_reason(512)
    archivist = as_user(app, people.archivist)
    page = archivist.get(f"/documents/{dossier['document_id']}").get_data(as_text=True)
    assert "文字提取超过了 512 MiB 的内存上限" in page and "memory limit" not in page
    due = archivist.get("/destructions").get_data(as_text=True)
    assert "自文档日期 1990-01-01 起" in due and "years after" not in due


def test_the_500_page_is_in_the_readers_language(app: Flask, people: People) -> None:
    def broken() -> str:
        raise RuntimeError("boom")

    app.add_url_rule("/broken-for-test", "broken_for_test", broken)
    client = as_user(app, people.archivist)
    zh = client.get("/broken-for-test")
    assert zh.status_code == 500 and "服务器出错了" in zh.get_data(as_text=True)
    assert "something went wrong" not in zh.get_data(as_text=True)
    en = client.get("/broken-for-test?lang=en").get_data(as_text=True)
    assert "something went wrong on our side" in en
