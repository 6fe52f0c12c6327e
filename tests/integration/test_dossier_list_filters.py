"""The dossier list's filters and sort orders through the API (SQLite): stage, grade, customer kind,
industry, region, owner, review due, incomplete; name in pinyin order, archive number, last update; bad
values refused naming the field and the allowed values, in English and Chinese; clearance always applies."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import Api, People
from tests.corpus import SYNTHETIC
from tests.support.backups import destroy
from vault.clock import FixedClock
from vault.core import Vault
from vault.models import Dossier
from vault.services import dossiers

ID_A = "11010519491231002X"
CONTRACT = SYNTHETIC / next(p for p in sorted(SYNTHETIC.rglob("*.pdf")))


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"required_doc_types": ["contract"], "required_card_fields_individual": ["id_number", "address"]}


def _names(api: Api, user: Any, query: str) -> list[str]:
    r = api.get(user, "/api/v1/dossiers?per_page=200&" + query)
    assert r.status_code == 200, r.get_json()
    return [d["customer_name"] for d in r.get_json()["items"]]


def _card(api: Api, people: People, dossier_id: int, **fields: Any) -> None:
    r = api.patch(people.archivist, f"/api/v1/dossiers/{dossier_id}/card", json={"fields": fields, "reason": "登记"})
    assert r.status_code == 200, r.get_json()


@pytest.fixture
def seeded(api: Api, people: People, clock: FixedClock) -> dict[str, dict[str, Any]]:
    """Four visible dossiers in different stages, grades, kinds and places, and one secret one."""
    people.manager  # noqa: B018 - every role exists
    out = {"bj": api.new_dossier(people.archivist, customer_name="北京甲科技有限公司", grade="A", industry="制造",
                                 region="北京", owner="employee")}
    clock.advance(minutes=1)
    out["sh"] = api.new_dossier(people.archivist, customer_name="上海乙贸易有限公司", grade="C", industry="贸易",
                                region="上海", owner="archivist")
    clock.advance(minutes=1)
    out["apple"] = api.new_dossier(people.archivist, customer_name="Apple Trading Ltd", grade="B", industry="贸易",
                                   region="上海", owner="employee")
    clock.advance(minutes=1)
    out["zs"] = api.new_dossier(people.archivist, customer_name="张三", customer_kind="individual", id_number=ID_A,
                                grade="D", owner="employee")
    clock.advance(minutes=1)
    secret_arch = people.make("arch_secret", "archivist", "secret")
    out["secret"] = api.new_dossier(secret_arch, customer_name="安徽丙秘密客户", secrecy="secret", grade="A",
                                    region="北京", industry="制造", owner="arch_secret")
    _card(api, people, out["bj"]["id"], stage="customer")
    _card(api, people, out["sh"]["id"], stage="lost")
    _card(api, people, out["zs"]["id"], address="北京市朝阳区某路1号")
    r = api.upload(people.archivist, out["zs"]["id"], CONTRACT, doc_type="contract", title="合同")
    assert r.status_code == 201, r.get_json()
    out["zs"]["contract_id"] = r.get_json()["id"]
    return out


def test_each_filter_narrows_the_list_to_the_matching_dossiers(api: Api, people: People, seeded: Any) -> None:
    e = people.employee
    assert _names(api, e, "stage=customer") == ["北京甲科技有限公司"]
    assert _names(api, e, "stage=lost") == ["上海乙贸易有限公司"]
    assert sorted(_names(api, e, "stage=prospect")) == ["Apple Trading Ltd", "张三"]
    assert _names(api, e, "grade=D") == ["张三"]
    assert _names(api, e, "customer_kind=individual") == ["张三"]
    assert len(_names(api, e, "customer_kind=organisation")) == 3
    assert sorted(_names(api, e, "industry=贸易")) == ["Apple Trading Ltd", "上海乙贸易有限公司"]
    assert _names(api, e, "region=北京") == ["北京甲科技有限公司"]
    assert _names(api, e, "owner=archivist") == ["上海乙贸易有限公司"]
    assert _names(api, e, "region=上海&grade=B&owner=employee") == ["Apple Trading Ltd"]


def test_review_due_lists_reviews_due_within_n_days_and_overdue_ones(api: Api, people: People, seeded: Any,
                                                                      clock: FixedClock) -> None:
    today = clock.now().date()
    for key, days in (("bj", 5), ("sh", -1), ("apple", 40)):
        r = api.patch(people.archivist, f"/api/v1/dossiers/{seeded[key]['id']}",
                      json={"next_review_date": (today + timedelta(days=days)).isoformat()})
        assert r.status_code == 200, r.get_json()
    e = people.employee
    assert _names(api, e, "review_due=overdue") == ["上海乙贸易有限公司"]
    assert sorted(_names(api, e, "review_due=7")) == ["上海乙贸易有限公司", "北京甲科技有限公司"]
    assert len(_names(api, e, "review_due=60")) == 3
    assert _names(api, e, "review_due=0") == ["上海乙贸易有限公司"]


def test_incomplete_means_a_missing_required_document_type_or_card_field(api: Api, people: People,
                                                                         seeded: Any) -> None:
    e = people.employee
    assert _names(api, e, "incomplete=false") == ["张三"]
    assert len(_names(api, e, "incomplete=true")) == 3
    r = api.get(e, f"/api/v1/dossiers/{seeded['zs']['id']}").get_json()["completeness"]
    assert r["missing"] == [] and r["missing_fields"] == []
    _card(api, people, seeded["zs"]["id"], address="")
    assert _names(api, e, "incomplete=false") == []
    _card(api, people, seeded["zs"]["id"], address="北京市海淀区某路2号")
    assert _names(api, e, "incomplete=false") == ["张三"]


def test_incomplete_follows_the_destruction_and_the_upload_of_a_required_document(
        api: Api, people: People, seeded: Any, vault: Vault, clock: FixedClock) -> None:
    e = people.employee
    clock.advance(days=365 * 31)  # past the contract's retention
    destroy(vault, people, seeded["zs"]["contract_id"])
    api._tokens.clear()  # the tokens signed in 31 years ago have expired
    assert _names(api, e, "incomplete=false") == []
    assert len(_names(api, e, "incomplete=true")) == 4
    r = api.upload(people.archivist, seeded["zs"]["id"], CONTRACT, doc_type="contract", title="续签合同")
    assert r.status_code == 201, r.get_json()
    assert _names(api, e, "incomplete=false") == ["张三"]


def test_changed_required_fields_apply_to_every_dossier_from_the_next_start(api: Api, people: People, seeded: Any,
                                                                           vault: Vault, clock: FixedClock) -> None:
    e = people.employee
    relaxed = dataclasses.replace(vault.settings, required_doc_types=(), required_card_fields_organisation=(),
                                  required_card_fields_individual=("id_number",))
    restarted = Vault.open(relaxed, clock=clock)  # a start with the new settings recomputes every dossier
    try:
        with restarted.session() as s:
            listed = dossiers.list_dossiers(s, e, {"incomplete": "false", "sort": "name"}, v=restarted)
            assert [d.customer_name for d in listed.items] == ["Apple Trading Ltd", "北京甲科技有限公司",
                                                                "上海乙贸易有限公司", "张三"]
            assert list(s.scalars(select(Dossier.id).where(Dossier.incomplete))) == []
    finally:
        restarted.close()
    # a process still on the old settings answers by its own rules (not by the flags of the new ones)
    assert _names(api, e, "incomplete=false") == ["张三"]
    assert _names(api, e, "incomplete=true&stage=prospect") == ["Apple Trading Ltd"]


def test_sort_by_name_is_pinyin_order_with_latin_names_among_them(api: Api, people: People, seeded: Any) -> None:
    order = ["Apple Trading Ltd", "北京甲科技有限公司", "上海乙贸易有限公司", "张三"]
    assert _names(api, people.employee, "sort=name") == order
    assert _names(api, people.employee, "sort=-name") == order[::-1]
    r = api.patch(people.archivist, f"/api/v1/dossiers/{seeded['apple']['id']}", json={"customer_name": "安达公司"})
    assert r.status_code == 200
    assert _names(api, people.employee, "sort=name")[:2] == ["安达公司", "北京甲科技有限公司"]


def test_sort_by_archive_number_and_by_last_update_both_ways(api: Api, people: People, seeded: Any,
                                                             clock: FixedClock) -> None:
    e = people.employee
    created = ["北京甲科技有限公司", "上海乙贸易有限公司", "Apple Trading Ltd", "张三"]
    assert _names(api, e, "sort=archive_no") == created
    assert _names(api, e, "sort=-archive_no") == created[::-1]
    clock.advance(hours=1)
    api.patch(people.archivist, f"/api/v1/dossiers/{seeded['bj']['id']}", json={"location": "A-01-02"})
    assert _names(api, e, "sort=-updated")[0] == "北京甲科技有限公司"
    assert _names(api, e, "sort=updated")[-1] == "北京甲科技有限公司"


@pytest.mark.parametrize(("query", "field", "allowed"), [
    ("sort=colour", "sort", "-updated"), ("stage=vip", "stage", "prospect"),
    ("customer_kind=robot", "customer_kind", "individual"), ("incomplete=maybe", "incomplete", "true"),
    ("review_due=soon", "review_due", "overdue"), ("review_due=-3", "review_due", "overdue"),
])
def test_an_unknown_filter_value_or_sort_key_is_a_422_naming_the_field_and_the_allowed_values(
        api: Api, people: People, query: str, field: str, allowed: str) -> None:
    r = api.get(people.employee, "/api/v1/dossiers?" + query)
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["field"] == field and allowed in err["message"]
    zh = api.client.get("/api/v1/dossiers?" + query,
                        headers={**api.headers(people.employee), "Accept-Language": "zh-CN"})
    assert zh.status_code == 422
    message = zh.get_json()["error"]["message"]
    assert allowed in message and any("\u4e00" <= ch <= "\u9fff" for ch in message)


def test_nothing_above_clearance_is_listed_or_counted_whatever_the_filter(api: Api, people: People,
                                                                         seeded: Any) -> None:
    low = people.employee
    for query in ("region=北京", "grade=A&sort=name", "stage=prospect", "incomplete=true", "industry=制造",
                  "customer_kind=organisation&sort=-updated"):
        body = api.get(low, "/api/v1/dossiers?" + query).get_json()
        assert "安徽丙秘密客户" not in [d["customer_name"] for d in body["items"]]
        assert body["total"] == len(body["items"])
    high = people.make("arch_secret", "archivist", "secret")
    assert "安徽丙秘密客户" in _names(api, high, "region=北京&grade=A")
    assert api.get(high, "/api/v1/dossiers?stage=prospect&sort=name").get_json()["total"] == 3
