"""Periodic reviews (queue, record, reminder), the card key's rotation and destruction, and a grep of the
database files and the server's log for the plaintext of sensitive card values."""

from __future__ import annotations

import http.client
import json
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from indexer.periodic import remind_reviews
from tests.conftest import PASSWORD, Api, People
from tests.ops.conftest import run_cli
from tests.support.serve import dossier_serve
from tests.support.workflow_fixtures import upload
from vault.clock import FixedClock
from vault.core import Vault
from vault.customer_models import CardSealed
from vault.models import DossierKey
from vault.services.destruction import checkpoint
from vault.services.reviews import send_reminders

ROOT = Path(__file__).resolve().parents[2]
ID_A = "11010519491231002X"
ACCOUNT = "6222020200000123"
PHONE = "13800138000"
ADDRESS = "北京市朝阳区建国路88号院"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365 * 50}  # tokens outlive the months the clock moves on


def customer(api: Api, people: People, **fields: Any) -> dict[str, Any]:
    d = api.new_dossier(people.archivist, **{"customer_name": "张三", "customer_kind": "individual",
                                             "id_number": ID_A, "owner": "employee", **fields})
    r = api.patch(people.archivist, f"/api/v1/dossiers/{d['id']}/card",
                  json={"fields": {"phone": PHONE, "bank_account": ACCOUNT, "address": ADDRESS,
                                   "annual_income": "350000"}, "reason": "客户提供资料"})
    assert r.status_code == 200, r.get_json()
    return d


def due_ids(api: Api, user: Any) -> list[int]:
    r = api.get(user, "/api/v1/reviews/due")
    assert r.status_code == 200, r.get_json()
    return [x["dossier_id"] for x in r.get_json()["items"]]


def test_a_review_falls_due_after_its_grades_interval_and_is_queued_for_the_right_people(
        api: Api, people: People, clock: FixedClock) -> None:
    a = api.new_dossier(people.archivist, grade="A", owner="employee")
    c = api.new_dossier(people.archivist, customer_name="丙公司", grade="C", owner="employee")
    assert a["next_review_date"] == "2026-04-05" and c["next_review_date"] == "2027-01-05"  # 3 and 12 months
    assert due_ids(api, people.employee) == []
    clock.advance(days=93)
    assert due_ids(api, people.employee) == [a["id"]]
    assert due_ids(api, people.manager) == [a["id"]] and due_ids(api, people.archivist) == [a["id"]]
    assert due_ids(api, people.make("emp2", "employee")) == []
    assert api.get(people.admin, "/api/v1/reviews/due").status_code == 403
    ahead = api.get(people.employee, "/api/v1/reviews/due?within_days=300").get_json()["items"]
    assert [x["dossier_id"] for x in ahead] == [a["id"], c["id"]]


def test_a_review_changes_the_grade_with_a_reason_and_the_history_shows_it(
        api: Api, people: People, clock: FixedClock) -> None:
    d = api.new_dossier(people.archivist, grade="B", owner="employee")
    clock.advance(days=190)
    url = f"/api/v1/dossiers/{d['id']}/reviews"
    r = api.post(people.employee, url, json={"result": "confirmed", "grade": "A"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "reason"
    assert api.post(people.make("emp2", "employee"), url,
                    json={"result": "confirmed", "reason": "r"}).status_code == 403
    r = api.post(people.employee, url, json={"result": "corrected", "grade": "A", "stage": "customer",
                                            "reason": "年采购额上升"})
    assert r.status_code == 201, r.get_json()
    review = r.get_json()
    today = clock.now().date()
    assert review["grade"] == "A" and review["reviewer"] == "employee"
    assert review["checked"]["missing"] == ["license", "contract", "credit_report"]
    after = api.get(people.employee, f"/api/v1/dossiers/{d['id']}").get_json()
    assert after["grade"] == "A" and after["next_review_date"] == review["next_review_on"]
    assert today + timedelta(days=89) <= date.fromisoformat(review["next_review_on"]) \
        <= today + timedelta(days=92)
    history = api.get(people.make("emp3", "employee"), f"/api/v1/dossiers/{d['id']}/history").get_json()["items"]
    assert [(h["field"], h["old"], h["new"]) for h in history][:2] == [("grade", "B", "A"),
                                                                      ("stage", "prospect", "customer")]
    assert history[2]["field"] == "review" and history[2]["reason"] == "年采购额上升"
    assert due_ids(api, people.employee) == []
    events = api.get(people.legal, f"/api/v1/audit?dossier_id={d['id']}&action=card.reviewed").get_json()["items"]
    assert len(events) == 1


def test_a_review_date_in_the_past_is_refused(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist, owner="employee")
    r = api.post(people.employee, f"/api/v1/dossiers/{d['id']}/reviews",
                 json={"result": "confirmed", "reason": "r", "next_review_on": "2000-01-01"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "next_review_on"


def test_the_owner_is_reminded_once_before_a_review_falls_due(api: Api, people: People, vault: Vault,
                                                            clock: FixedClock) -> None:
    d = api.new_dossier(people.archivist, grade="A", owner="employee")
    people.manager  # noqa: B018 - the backup owner exists
    assert api.patch(people.archivist, f"/api/v1/dossiers/{d['id']}/card",
                     json={"fields": {"backup_owner": "manager"}, "reason": "A/B 岗"}).status_code == 200
    remind_reviews(vault)
    assert api.get(people.employee, "/api/v1/notifications").get_json()["items"] == []
    clock.advance(days=80)  # the review is due in about ten days
    remind_reviews(vault)  # the worker's task
    assert send_reminders(vault) == 0  # once per due date
    for who in (people.employee, people.manager):
        notes = api.get(who, "/api/v1/notifications").get_json()["items"]
        assert len(notes) == 1 and d["archive_no"] in notes[0]["subject"], notes


def test_key_rotation_rewraps_the_card_keys_and_the_values_still_read(api: Api, people: People,
                                                                     vault: Vault) -> None:
    d = customer(api, people)
    with vault.session() as s:
        before = s.get(DossierKey, d["id"])
        assert before is not None and before.key_id == 1
        old_wrapped = bytes(before.wrapped_key or b"")
    result = run_cli(vault, "keys", "rotate")
    assert result.exit_code == 0, result.output
    with vault.session() as s:
        after = s.get(DossierKey, d["id"])
        assert after is not None and after.key_id == 2 and after.wrapped_key != old_wrapped
    card = api.get(people.legal, f"/api/v1/dossiers/{d['id']}/card").get_json()["fields"]
    assert card["bank_account"] == ACCOUNT and card["id_number"] == ID_A


def test_destroying_a_closed_dossiers_last_documents_erases_its_card_values(api: Api, people: People,
                                                                           vault: Vault) -> None:
    d = customer(api, people)
    doc = upload(api, people.archivist, d["id"], doc_type="id_proof")
    assert api.patch(people.archivist, f"/api/v1/dossiers/{d['id']}", json={"status": "closed"}).status_code == 200
    batch = api.post(people.archivist, "/api/v1/destructions",
                     json={"document_ids": [doc["id"]], "reason": "保管期限届满"}).get_json()
    for approver in (people.manager, people.legal):
        assert api.post(approver, f"/api/v1/destructions/{batch['id']}/approve", json={}).status_code == 200
    assert api.post(people.make("arch2", "archivist"),
                    f"/api/v1/destructions/{batch['id']}/execute").status_code == 200
    assert api.get(people.legal, f"/api/v1/dossiers/{d['id']}").get_json()["status"] == "destroyed"
    card = api.get(people.legal, f"/api/v1/dossiers/{d['id']}/card").get_json()["fields"]
    assert card["id_number"] is None and card["bank_account"] is None and card["phone"] is None
    assert api.post(people.legal, "/api/v1/lookup", json={"id_number": ID_A}).get_json()["items"] == []
    with vault.session() as s:
        key = s.get(DossierKey, d["id"])
        assert key is not None and key.wrapped_key is None
        assert s.scalars(select(CardSealed).where(CardSealed.dossier_id == d["id"])).all() == []
    r = api.patch(people.archivist, f"/api/v1/dossiers/{d['id']}/card",
                  json={"fields": {"phone": PHONE}, "reason": "r"})
    assert r.status_code == 409


def _plaintexts() -> list[bytes]:
    values = [ID_A, ACCOUNT, PHONE, ADDRESS, "350000", "6222 0202 0000 0123"]
    return [x.encode("utf-8") for x in values] + [x.encode("utf-16-le") for x in values]


def test_no_sensitive_value_is_in_the_database_files_or_the_server_log(api: Api, people: People,
                                                                       vault: Vault) -> None:
    people.employee  # noqa: B018 - the users exist in the served vault's database
    people.archivist  # noqa: B018
    env = {**os.environ, "DOSSIER_HOME": str(vault.settings.home), "DOSSIER_LOG_LEVEL": "DEBUG",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    home = Path(vault.settings.home)
    with dossier_serve(env, home, "--no-worker") as (port, _):
        def call(method: str, path: str, token: str | None, body: Any) -> tuple[int, Any]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            resp = conn.getresponse()
            out = resp.status, json.loads(resp.read() or b"null")
            conn.close()
            return out

        tokens = {u: call("POST", "/api/v1/auth/token", None, {"username": u, "password": PASSWORD})[1]["token"]
                  for u in ("archivist", "employee")}
        status, d = call("POST", "/api/v1/dossiers", tokens["archivist"],
                         {"customer_name": "张三", "customer_type": "client", "customer_kind": "individual",
                          "id_number": ID_A, "owner": "employee"})
        assert status == 201, d
        status, out = call("PATCH", f"/api/v1/dossiers/{d['id']}/card", tokens["employee"],
                           {"fields": {"phone": PHONE, "bank_account": "6222 0202 0000 0123", "address": ADDRESS,
                                       "annual_income": "350000"}, "reason": "客户提供资料"})
        assert status == 200 and out["fields"]["bank_account"] == ACCOUNT, out
        assert call("POST", "/api/v1/lookup", tokens["employee"], {"bank_account": ACCOUNT})[0] == 200
        assert call("PATCH", f"/api/v1/dossiers/{d['id']}/card", tokens["employee"],
                    {"fields": {"bank_account": ACCOUNT + "x"}, "reason": "r"})[0] == 422
        assert call("GET", f"/api/v1/dossiers/{d['id']}/history", tokens["employee"], None)[0] == 200
    with vault.session():
        pass
    files = [p for p in home.rglob("*") if p.is_file() and (".db" in p.name or p.name == "serve.log")]
    assert any(p.name.endswith("-wal") for p in files) or any(p.name.endswith(".db") for p in files)
    assert any(p.name == "serve.log" for p in files) and (home / "serve.log").stat().st_size > 0
    for path in files:
        raw = path.read_bytes()
        for secret in _plaintexts():
            assert secret not in raw, f"{secret!r} in {path.name}"
    checkpoint(vault)  # the WAL moved into the main file: still nothing
    for path in home.rglob("*.db"):
        raw = path.read_bytes()
        assert all(secret not in raw for secret in _plaintexts())
