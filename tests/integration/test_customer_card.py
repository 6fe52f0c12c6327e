"""The customer card through the API: kinds and ID numbers, masking by who may read, edits with reasons,
history, lookup, clearance (404 above it), owner changes with a manager's approval."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, People
from tests.ops.conftest import run_cli
from vault.core import Vault

ID_A = "11010519491231002X"
ID_B = "110105199003078019"
ACCOUNT = "6222020200000123"
PHONE = "13800138000"


def individual(api: Api, people: People, id_number: str = ID_A, **fields: Any) -> dict[str, Any]:
    return api.new_dossier(people.archivist, **{"customer_name": "张三", "customer_kind": "individual",
                                                "id_number": id_number, "owner": "employee", **fields})


def fill(api: Api, people: People, dossier_id: int, **fields: Any) -> Any:
    return api.patch(people.archivist, f"/api/v1/dossiers/{dossier_id}/card",
                     json={"fields": fields, "reason": "客户提供资料"})


def test_an_individual_gets_birth_date_and_gender_from_a_valid_id_number(api: Api, people: People) -> None:
    d = individual(api, people)
    card = api.get(people.archivist, f"/api/v1/dossiers/{d['id']}/card").get_json()
    assert card["fields"]["customer_kind"] == "individual"
    assert card["fields"]["id_number"] == ID_A and card["masked"] is False
    assert card["fields"]["birth_date"] == "1949-12-31" and card["fields"]["gender"] == "female"


def test_a_wrong_id_number_is_refused_naming_the_field_and_creates_nothing(api: Api, people: People) -> None:
    r = api.post(people.archivist, "/api/v1/dossiers", json={"customer_name": "李四", "customer_type": "client",
                                                            "customer_kind": "individual",
                                                            "id_number": "110105194912310021"})
    assert r.status_code == 422
    body = r.get_json()["error"]
    assert body["field"] == "id_number" and "check digit" in body["message"]
    assert "110105194912310021" not in r.get_data(as_text=True)
    assert api.get(people.archivist, "/api/v1/dossiers").get_json()["total"] == 0


def test_an_individual_without_an_id_number_and_an_unknown_kind_are_refused(api: Api, people: People) -> None:
    base = {"customer_name": "王五", "customer_type": "client"}
    r = api.post(people.archivist, "/api/v1/dossiers", json={**base, "customer_kind": "individual"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "id_number"
    r = api.post(people.archivist, "/api/v1/dossiers", json={**base, "customer_kind": "robot"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "customer_kind"


def test_one_dossier_per_id_number_however_it_is_typed(api: Api, people: People) -> None:
    individual(api, people)
    r = api.post(people.archivist, "/api/v1/dossiers", json={"customer_name": "张三", "customer_type": "client",
                                                            "customer_kind": "individual",
                                                            "id_number": "11010519491231002x"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "duplicate_id_number"


def test_an_employee_who_is_not_the_owner_sees_sensitive_fields_masked(api: Api, people: People) -> None:
    d = individual(api, people, owner="archivist")
    assert fill(api, people, d["id"], phone=PHONE, bank_account=ACCOUNT, address="北京市朝阳区建国路88号",
                total_assets="1200000").status_code == 200
    card = api.get(people.employee, f"/api/v1/dossiers/{d['id']}/card").get_json()
    assert card["masked"] is True
    f = card["fields"]
    assert f["id_number"] == "110105********002X"
    assert f["bank_account"] == "6222 **** **** 0123"
    assert f["phone"] == "138****8000" and f["address"] == "北京市朝阳区****" and f["total_assets"] == "****"


def test_the_owner_and_content_roles_read_in_full_and_each_such_read_is_audited(api: Api, people: People) -> None:
    d = individual(api, people)
    fill(api, people, d["id"], bank_account=ACCOUNT)
    for who in (people.employee, people.manager, people.legal):
        card = api.get(who, f"/api/v1/dossiers/{d['id']}/card").get_json()
        assert card["masked"] is False and card["fields"]["bank_account"] == ACCOUNT
    events = api.get(people.legal, f"/api/v1/audit?dossier_id={d['id']}&action=card.read").get_json()["items"]
    assert {e["actor"] for e in events} >= {"employee", "manager", "legal"}
    assert ACCOUNT not in str(events) and ID_A not in str(events)


def test_an_organisations_phone_is_not_masked_but_its_bank_account_is(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist, owner="archivist")
    fill(api, people, d["id"], phone="010-65001234", bank_account=ACCOUNT, legal_representative="赵六")
    f = api.get(people.employee, f"/api/v1/dossiers/{d['id']}/card").get_json()["fields"]
    assert f["phone"] == "010-65001234" and f["bank_account"] == "6222 **** **** 0123"
    assert f["legal_representative"] == "赵六" and "id_number" not in f


def test_an_edit_without_a_reason_is_refused_and_changes_nothing(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist, owner="employee")
    r = api.patch(people.employee, f"/api/v1/dossiers/{d['id']}/card", json={"fields": {"stage": "customer"}})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "reason"
    card = api.get(people.employee, f"/api/v1/dossiers/{d['id']}/card").get_json()
    assert card["fields"]["stage"] == "prospect"
    assert api.get(people.employee, f"/api/v1/dossiers/{d['id']}/history").get_json()["items"] == []


def test_bad_card_values_are_refused_by_name(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist, owner="employee")
    url = f"/api/v1/dossiers/{d['id']}/card"
    for fields, name in (({"registered_capital": "lots"}, "registered_capital"),
                         ({"founded_on": "2999-01-01"}, "founded_on"), ({"stage": "friend"}, "stage"),
                         ({"email": "nobody"}, "email"), ({"bank_account": "12ab"}, "bank_account"),
                         ({"id_number": ID_B}, "id_number"), ({"business_scope": "x" * 2001}, "business_scope"),
                         ({"partner_kind": "spy"}, "partner_kind"), ({"currency": "yuan"}, "currency")):
        r = api.patch(people.employee, url, json={"fields": fields, "reason": "r"})
        assert r.status_code == 422 and r.get_json()["error"]["field"] == name, (fields, r.get_json())


def test_only_the_owner_backup_owner_or_an_archivist_edits(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist, owner="archivist")
    url = f"/api/v1/dossiers/{d['id']}/card"
    body = {"fields": {"website": "https://example.com"}, "reason": "r"}
    assert api.patch(people.employee, url, json=body).status_code == 403
    assert api.patch(people.manager, url, json=body).status_code == 403
    assert fill(api, people, d["id"], backup_owner="employee").status_code == 200
    assert api.patch(people.employee, url, json=body).status_code == 200
    card = api.get(people.employee, url).get_json()
    assert card["fields"]["backup_owner"] == "employee" and card["fields"]["website"] == "https://example.com"


def test_the_history_tells_who_when_what_and_why_and_never_a_sensitive_value(api: Api, people: People) -> None:
    d = individual(api, people)
    url = f"/api/v1/dossiers/{d['id']}/card"
    api.patch(people.employee, url, json={"fields": {"stage": "customer", "grade": "A", "phone": PHONE},
                                          "reason": "签约"})
    items = api.get(people.manager, f"/api/v1/dossiers/{d['id']}/history").get_json()["items"]
    by_field = {h["field"]: h for h in items}
    assert by_field["stage"]["old"] == "prospect" and by_field["stage"]["new"] == "customer"
    assert by_field["grade"]["old"] == "B" and by_field["grade"]["new"] == "A"
    assert by_field["phone"]["old"] is None and by_field["phone"]["new"] == "changed"
    assert {h["actor"] for h in items} == {"employee"} and {h["reason"] for h in items} == {"签约"}
    events = api.get(people.legal, f"/api/v1/audit?dossier_id={d['id']}&action=card.updated").get_json()["items"]
    assert events and PHONE not in str(events)


def test_lookup_finds_the_holder_of_a_value_within_clearance_only(api: Api, people: People) -> None:
    d = individual(api, people)
    fill(api, people, d["id"], phone=PHONE, bank_account=ACCOUNT)
    top = people.make("top_arch", "archivist", "secret")
    secret = api.new_dossier(top, secrecy="secret", owner="top_arch")
    api.patch(top, f"/api/v1/dossiers/{secret['id']}/card", json={"fields": {"phone": PHONE}, "reason": "r"})
    found = api.post(people.employee, "/api/v1/lookup", json={"phone": "+86 138 0013 8000"}).get_json()["items"]
    assert [x["id"] for x in found] == [d["id"]]
    found = api.post(top, "/api/v1/lookup", json={"phone": PHONE}).get_json()["items"]
    assert {x["id"] for x in found} == {d["id"], secret["id"]}
    assert [x["id"] for x in api.post(people.employee, "/api/v1/lookup",
                                      json={"id_number": "11010519491231002x"}).get_json()["items"]] == [d["id"]]
    assert api.post(people.employee, "/api/v1/lookup", json={"bank_account": "6222 0202 0000 0124"}
                    ).get_json()["items"] == []
    assert api.post(people.employee, "/api/v1/lookup", json={}).status_code == 422
    assert api.post(people.employee, "/api/v1/lookup", json={"phone": PHONE, "email": "x"}).status_code == 422


def test_card_and_history_above_clearance_are_not_found(api: Api, people: People) -> None:
    top = people.make("top_arch", "archivist", "secret")
    d = api.new_dossier(top, secrecy="secret", owner="top_arch")
    low = people.make("low_emp", "employee", "internal")
    for url in (f"/api/v1/dossiers/{d['id']}/card", f"/api/v1/dossiers/{d['id']}/history"):
        assert api.get(low, url).status_code == 404
    assert api.patch(low, f"/api/v1/dossiers/{d['id']}/card",
                     json={"fields": {"stage": "lost"}, "reason": "r"}).status_code == 404


def test_missing_card_fields_join_the_missing_document_types(api: Api, people: People) -> None:
    d = individual(api, people)
    card = api.get(people.employee, f"/api/v1/dossiers/{d['id']}/card").get_json()
    assert card["missing"] == ["phone", "address"]
    dossier = api.get(people.employee, f"/api/v1/dossiers/{d['id']}").get_json()
    assert dossier["completeness"]["missing_fields"] == ["phone", "address"]
    assert dossier["completeness"]["missing"] == ["license", "contract", "credit_report"]
    fill(api, people, d["id"], phone=PHONE, address="北京")
    assert api.get(people.employee, f"/api/v1/dossiers/{d['id']}").get_json()["completeness"]["missing_fields"] == []
    rep = api.get(people.manager, "/api/v1/reports/summary").get_json()
    assert [x["missing_fields"] for x in rep["incomplete_dossiers"]] == [[]]


def test_a_change_of_owner_waits_for_a_manager_who_did_not_ask(api: Api, people: People, vault: Vault) -> None:
    d = api.new_dossier(people.archivist, owner="employee")
    people.make("emp2", "employee")
    r = api.post(people.employee, f"/api/v1/dossiers/{d['id']}/owner-changes", json={"owner": "emp2"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "reason"
    r = api.post(people.employee, f"/api/v1/dossiers/{d['id']}/owner-changes",
                 json={"owner": "emp2", "reason": "调岗"})
    assert r.status_code == 201
    change = r.get_json()
    assert api.get(people.archivist, f"/api/v1/dossiers/{d['id']}").get_json()["owner"] == "employee"
    assert api.post(people.archivist, f"/api/v1/owner-changes/{change['id']}/approve").status_code == 403
    assert [c["id"] for c in api.get(people.manager, "/api/v1/owner-changes").get_json()["items"]] == [change["id"]]
    assert api.post(people.manager, f"/api/v1/owner-changes/{change['id']}/approve").status_code == 200
    assert api.get(people.archivist, f"/api/v1/dossiers/{d['id']}").get_json()["owner"] == "emp2"
    items = api.get(people.employee, f"/api/v1/dossiers/{d['id']}/history").get_json()["items"]
    assert [(h["field"], h["old"], h["new"], h["reason"]) for h in items] == [("owner", "employee", "emp2", "调岗")]
    assert api.post(people.manager, f"/api/v1/owner-changes/{change['id']}/approve").status_code == 409


def test_a_manager_does_not_approve_a_change_they_asked_for(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist, owner="employee")
    people.make("emp2", "employee")
    change = api.post(people.manager, f"/api/v1/dossiers/{d['id']}/owner-changes",
                      json={"owner": "emp2", "reason": "调岗"}).get_json()
    r = api.post(people.manager, f"/api/v1/owner-changes/{change['id']}/approve")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "own_request"


def test_the_clearance_and_read_matrix_of_card_history_and_lookup(api: Api, people: People) -> None:
    top = people.make("top_arch", "archivist", "secret")
    levels = ("public", "internal", "confidential", "secret")
    made = {}
    for level in levels:
        d = api.new_dossier(top, customer_name=f"{level} 客户", secrecy=level, owner="top_arch")
        assert api.patch(top, f"/api/v1/dossiers/{d['id']}/card",
                         json={"fields": {"bank_account": ACCOUNT}, "reason": "r"}).status_code == 200
        made[level] = d["id"]
    readers = {  # user -> (clearance, reads content by role)
        people.make("emp_int", "employee", "internal"): ("internal", False),
        people.make("emp_conf", "employee", "confidential"): ("confidential", False),
        people.make("mgr_conf", "manager", "confidential"): ("confidential", True),
        people.make("legal_secret", "legal", "secret"): ("secret", True),
        people.make("arch_int", "archivist", "internal"): ("internal", True),
        people.make("adm", "admin", "confidential"): ("confidential", False),
    }
    for user, (clearance, reads) in readers.items():
        visible = levels[:levels.index(clearance) + 1]
        for level, dossier_id in made.items():
            card = api.get(user, f"/api/v1/dossiers/{dossier_id}/card")
            history = api.get(user, f"/api/v1/dossiers/{dossier_id}/history")
            if level not in visible:
                assert (card.status_code, history.status_code) == (404, 404), (user.username, level)
                continue
            assert (card.status_code, history.status_code) == (200, 200), (user.username, level)
            assert card.get_json()["masked"] is not reads, (user.username, level)
            shown = card.get_json()["fields"]["bank_account"]
            assert shown == (ACCOUNT if reads else "6222 **** **** 0123"), (user.username, level)
            assert [h["new"] for h in history.get_json()["items"]] == ["changed"]
        found = api.post(user, "/api/v1/lookup", json={"bank_account": ACCOUNT})
        assert sorted(x["id"] for x in found.get_json()["items"]) == sorted(made[x] for x in visible), user.username


def test_grade_and_owner_changed_on_the_dossier_itself_join_the_history_with_their_reason(
        api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist, owner="employee", grade="B")
    people.make("emp2", "employee")
    r = api.patch(people.archivist, f"/api/v1/dossiers/{d['id']}",
                  json={"grade": "C", "owner": "emp2", "location": "A室", "reason": "年度调整"})
    assert r.status_code == 202, r.get_json()  # the grade now, the owner once a manager approves
    change = r.get_json()["owner_change"]["id"]
    assert api.post(people.manager, f"/api/v1/owner-changes/{change}/approve").status_code == 200
    items = api.get(people.employee, f"/api/v1/dossiers/{d['id']}/history").get_json()["items"]
    assert sorted((h["field"], h["old"], h["new"], h["reason"]) for h in items) == [
        ("grade", "B", "C", "年度调整"), ("owner", "employee", "emp2", "年度调整")]


def test_dossier_report_prints_the_missing_card_fields_beside_the_missing_types(api: Api, people: People,
                                                                               vault: Vault) -> None:
    d = individual(api, people)
    printed = run_cli(vault, "report").output
    assert f"{d['archive_no']} 张三: missing license, contract, credit_report; card fields phone, address" in printed


def test_a_dossier_older_than_the_card_reads_as_an_empty_organisations_card_without_writing(
        api: Api, people: People, vault: Vault) -> None:
    from sqlalchemy import func, select

    from vault.customer_models import CustomerCard
    from vault.services import dossiers

    with vault.session() as s:
        old = dossiers.create_dossier(vault, s, people.archivist,
                                      {"customer_name": "老客户", "customer_type": "client"})
        old_id = old.id
    card = api.get(people.employee, f"/api/v1/dossiers/{old_id}/card").get_json()
    assert card["fields"]["customer_kind"] == "organisation" and card["fields"]["stage"] == "prospect"
    with vault.session() as s:
        assert s.scalar(select(func.count()).select_from(CustomerCard)) == 0
    assert fill(api, people, old_id, stage="target").status_code == 200
    assert api.get(people.employee, f"/api/v1/dossiers/{old_id}/card").get_json()["fields"]["stage"] == "target"
