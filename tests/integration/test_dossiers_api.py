"""Dossiers through the HTTP API: creation rules, credit codes, visibility, audited changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from tests.conftest import Api, People
from tests.corpus import SYNTHETIC, manifest
from vault.core import Vault

CODES = [c["credit_code"] for c in manifest(SYNTHETIC)["customers"]]


def test_an_archivist_creates_a_dossier_with_an_archive_number(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist, credit_code=CODES[0], grade="A", owner="employee")
    assert d["archive_no"].startswith("KH-2026-") and len(d["archive_no"]) == len("KH-2026-000001")
    assert d["owner"] == "employee" and d["completeness"]["missing"] == ["license", "contract", "credit_report"]


def test_archive_numbers_are_sequential_and_never_reused(api: Api, people: People) -> None:
    first = api.new_dossier(people.archivist)["archive_no"]
    second = api.new_dossier(people.archivist)["archive_no"]
    assert int(second[-6:]) == int(first[-6:]) + 1


def test_a_wrong_check_digit_is_a_422_naming_the_field(api: Api, people: People) -> None:
    code = CODES[0][:17] + ("0" if CODES[0][17] != "0" else "1")
    r = api.post(people.archivist, "/api/v1/dossiers",
                 json={"customer_name": "X", "customer_type": "client", "credit_code": code})
    assert r.status_code == 422
    assert r.get_json()["error"]["field"] == "credit_code"
    assert "check digit" in r.get_json()["error"]["message"]


def test_one_customer_one_dossier_a_second_code_is_a_409(api: Api, people: People) -> None:
    api.new_dossier(people.archivist, credit_code=CODES[1])
    r = api.post(people.archivist, "/api/v1/dossiers",
                 json={"customer_name": "Other", "customer_type": "client", "credit_code": CODES[1]})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "duplicate_credit_code"


def test_an_employee_may_not_create_dossiers(api: Api, people: People) -> None:
    r = api.post(people.employee, "/api/v1/dossiers", json={"customer_name": "X", "customer_type": "client"})
    assert r.status_code == 403


def test_a_secret_dossier_is_invisible_below_its_clearance(api: Api, people: People) -> None:
    secret = api.new_dossier(people.make("arch2", "archivist", "secret"), secrecy="secret")
    low = people.make("low", "employee", "internal")
    assert api.get(low, f"/api/v1/dossiers/{secret['id']}").status_code == 404
    listed = api.get(low, "/api/v1/dossiers").get_json()
    assert secret["id"] not in [d["id"] for d in listed["items"]]


def test_list_filters_by_name_and_grade_with_paging(api: Api, people: People) -> None:
    api.new_dossier(people.archivist, customer_name="青岛市欧嘉精密机械有限公司", grade="A")
    api.new_dossier(people.archivist, customer_name="江门市新会区美博电子科技有限公司", grade="C")
    r = api.get(people.employee, "/api/v1/dossiers?q=欧嘉&per_page=1").get_json()
    assert r["total"] == 1 and r["items"][0]["grade"] == "A" and r["per_page"] == 1
    assert api.get(people.employee, "/api/v1/dossiers?grade=C").get_json()["total"] == 1
    assert api.get(people.employee, "/api/v1/dossiers?per_page=500").status_code == 422


def test_each_change_is_audited_with_old_and_new_value(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist, grade="B", location="A室/3柜/12盒")
    r = api.patch(people.archivist, f"/api/v1/dossiers/{d['id']}", json={"grade": "A", "location": "B室/1柜"})
    assert r.status_code == 200 and r.get_json()["grade"] == "A"
    events = api.get(people.legal, f"/api/v1/audit?dossier_id={d['id']}&action=dossier.updated").get_json()
    changes = events["items"][0]["details"]["changes"]
    assert changes["grade"] == {"old": "B", "new": "A"}
    assert changes["location"] == {"old": "A室/3柜/12盒", "new": "B室/1柜"}


def test_unknown_fields_are_refused_by_name(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist)
    r = api.patch(people.archivist, f"/api/v1/dossiers/{d['id']}", json={"grade": "A", "colour": "red"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "colour"


def test_requests_without_a_token_get_401_json(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/dossiers")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "not_authenticated"


def test_a_non_json_body_is_a_400_saying_what_to_send(api: Api, people: People) -> None:
    r = api.post(people.archivist, "/api/v1/dossiers", data="customer_name=x")
    assert r.status_code == 400 and "application/json" in r.get_json()["error"]["message"]


def test_a_dossier_with_its_documents_reads_their_holds_once_not_once_per_document(api: Api, people: People,
                                                                                    vault: Vault) -> None:
    """The dossier's documents are presented with the holds over them: one read for all of them, so a
    dossier of three documents costs the database no more hold queries than a dossier of one."""
    d = api.new_dossier(people.archivist)
    files = [SYNTHETIC / f["path"] for f in manifest(SYNTHETIC)["files"] if f["customer_id"] == "C01"][:3]
    hold_reads = []
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    for count, path in enumerate(files, 1):
        assert api.upload(people.archivist, d["id"], path).status_code == 201
        statements.clear()
        event.listen(vault.engine, "before_cursor_execute", seen)
        try:
            body = api.get(people.archivist, f"/api/v1/dossiers/{d['id']}").get_json()
        finally:
            event.remove(vault.engine, "before_cursor_execute", seen)
        assert len(body["documents"]) == count
        hold_reads.append(sum("legal_holds" in s for s in statements))
    assert hold_reads[0] == hold_reads[-1]
