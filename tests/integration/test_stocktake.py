"""Stock-take (盘点) through the API: scan and tick dossiers of a cabinet, then the result lists present,
missing, checked out (to whom) and unexpected, within the reader's clearance, kept when closed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.conftest import Api, People
from vault import paper_codes
from vault.core import Vault
from vault.models import AuditEvent


def _physical_checkout(api: Api, people: People, dossier_id: int) -> None:
    r = api.post(people.employee, "/api/v1/checkouts", json={"dossier_id": dossier_id, "purpose": "审计 audit",
                                                             "kind": "physical", "days": 7})
    assert r.status_code == 201, r.get_json()
    co = r.get_json()["id"]
    assert api.post(people.archivist, f"/api/v1/checkouts/{co}/approve", json={"comment": "ok"}).status_code == 200
    assert api.post(people.make("arch2", "archivist"), f"/api/v1/checkouts/{co}/handover",
                    json={"note": "一册"}).status_code == 200


def _archive_nos(result: dict[str, Any], state: str) -> list[str]:
    return [row["archive_no"] for row in result[state]]


def test_a_cabinet_stocktake_sorts_every_dossier_and_keeps_the_record(api: Api, people: People, vault: Vault) -> None:
    a, chief = people.archivist, people.make("chief", "archivist", "secret")
    d1, d2, d3, d4 = (api.new_dossier(a, customer_name=f"客户{n}", location=f"A室/3柜/0{n}") for n in range(1, 5))
    elsewhere = api.new_dossier(a, customer_name="别处客户", location="B室/1柜/01")
    secret = api.new_dossier(chief, customer_name="机密客户", location="A室/3柜/09", secrecy="secret")
    _physical_checkout(api, people, d4["id"])

    r = api.post(a, "/api/v1/stocktakes", json={"scope": "A室/3柜"})
    assert r.status_code == 201, r.get_json()
    st = r.get_json()["id"]
    marks = f"/api/v1/stocktakes/{st}/marks"
    r = api.post(a, marks, json={"code": paper_codes.encode(d1["archive_no"])})  # a scanned cover code
    assert r.status_code == 201 and r.get_json()["state"] == "present"
    assert api.post(a, marks, json={"dossier_id": d2["id"]}).get_json()["state"] == "present"  # a tick
    r = api.post(a, marks, json={"code": elsewhere["archive_no"]})  # a bare archive number, wrong cabinet
    assert r.get_json()["state"] == "unexpected" and r.get_json()["location"] == "B室/1柜/01"
    assert api.post(a, marks, json={"code": paper_codes.encode(d1["archive_no"])}).get_json()["already"] is True

    r = api.post(a, marks, json={"code": "DVA1:KH-2099-000001"})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "stocktake_unknown_code"
    assert "KH-2099-000001" in r.get_json()["error"]["message"]
    r = api.post(a, marks, json={"code": paper_codes.encode(secret["archive_no"])})  # above clearance: same answer
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "stocktake_unknown_code"
    assert api.post(a, marks, json={"code": "DVA1:"}).status_code == 422
    assert api.post(a, marks, json={"code": ""}).status_code == 422
    assert api.post(people.employee, marks, json={"dossier_id": d3["id"]}).status_code == 403

    result = api.get(a, f"/api/v1/stocktakes/{st}").get_json()
    assert _archive_nos(result, "present") == [d1["archive_no"], d2["archive_no"]]
    assert _archive_nos(result, "missing") == [d3["archive_no"]]
    assert _archive_nos(result, "checked_out") == [d4["archive_no"]]
    assert result["checked_out"][0]["checked_out_to"]
    assert _archive_nos(result, "unexpected") == [elsewhere["archive_no"]]
    assert result["counts"] == {"present": 2, "missing": 1, "checked_out": 1, "unexpected": 1}
    assert "机密客户" not in str(result)  # above the archivist's clearance: neither listed nor counted
    assert api.get(chief, f"/api/v1/stocktakes/{st}").get_json()["counts"]["missing"] == 2

    closed = api.post(a, f"/api/v1/stocktakes/{st}/close")
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    assert closed.get_json()["counts"] == result["counts"]
    # the record stays as it was at closing, even when the paper comes back later
    kept = api.get(people.manager, f"/api/v1/stocktakes/{st}").get_json()
    assert _archive_nos(kept, "checked_out") == [d4["archive_no"]] and kept["checked_out"][0]["checked_out_to"]
    assert api.post(a, marks, json={"dossier_id": d3["id"]}).status_code == 409
    assert api.get(people.employee, f"/api/v1/stocktakes/{st}").status_code == 403
    assert [row["id"] for row in api.get(a, "/api/v1/stocktakes").get_json()["items"]] == [st]
    with vault.session() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("stocktake.%"))))
    assert actions.count("stocktake.marked") == 3 and "stocktake.started" in actions and "stocktake.closed" in actions


def test_a_whole_archive_stocktake_and_a_bad_scope(api: Api, people: People) -> None:
    a = people.archivist
    d1 = api.new_dossier(a, location="A室/1柜")
    d2 = api.new_dossier(a, location="")
    r = api.post(a, "/api/v1/stocktakes", json={})
    st = r.get_json()["id"]
    api.post(a, f"/api/v1/stocktakes/{st}/marks", json={"code": d1["archive_no"].lower()})
    result = api.get(a, f"/api/v1/stocktakes/{st}").get_json()
    assert _archive_nos(result, "present") == [d1["archive_no"]]
    assert _archive_nos(result, "missing") == [d2["archive_no"]]
    api.post(a, f"/api/v1/stocktakes/{st}/marks", json={"dossier_id": d2["id"]})
    r = api.client.delete(f"/api/v1/stocktakes/{st}/marks/{d2['id']}", headers=api.headers(a))  # a wrong tick
    assert r.status_code == 200 and _archive_nos(r.get_json(), "missing") == [d2["archive_no"]]
    r = api.client.post("/api/v1/stocktakes", json={"scope": 7}, headers={**api.headers(a), "Accept-Language": "zh"})
    assert r.status_code == 422 and "位置" in r.get_json()["error"]["message"]  # said in the reader's language
