"""The summary report through the API and `dossier report`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Api, People
from tests.support.workflow_fixtures import PDF, PDF2, run_cli, upload
from vault.clock import FixedClock
from vault.core import Vault


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365 * 50}


def _scene(api: Api, people: People, clock: FixedClock) -> dict[str, Any]:
    a = api.new_dossier(people.archivist, grade="A", customer_type="supplier")
    b = api.new_dossier(people.archivist, grade="C", customer_type="client")
    contract = upload(api, people.archivist, a["id"], PDF, doc_date="1996-03-01")  # due 2026-03-01
    credit = upload(api, people.archivist, b["id"], PDF2, doc_type="credit_report", doc_date="2024-01-01")
    r = api.post(people.employee, "/api/v1/checkouts", json={"dossier_id": a["id"], "purpose": "review",
                                                             "kind": "view", "days": 3})
    co = r.get_json()
    api.post(people.archivist, f"/api/v1/checkouts/{co['id']}/approve", json={})
    api.post(people.employee, "/api/v1/checkouts", json={"dossier_id": b["id"], "purpose": "x", "kind": "copy"})
    clock.advance(days=5)
    return {"a": a, "b": b, "contract": contract, "credit": credit, "checkout": co}


def test_the_summary_counts_and_lists_what_needs_attention(api: Api, people: People, clock: FixedClock) -> None:
    scene = _scene(api, people, clock)
    r = api.get(people.manager, "/api/v1/reports/summary")
    assert r.status_code == 200
    rep = r.get_json()
    assert rep["dossiers"]["total"] == 2 and rep["dossiers"]["by_grade"] == {"A": 1, "C": 1}
    assert rep["dossiers"]["by_customer_type"] == {"supplier": 1, "client": 1}
    assert rep["dossiers"]["by_status"] == {"active": 2}
    assert rep["documents"]["by_type"] == {"contract": 1, "credit_report": 1}
    assert rep["checkouts"]["by_status"] == {"overdue": 1, "pending": 1}
    assert rep["checkouts"]["by_month"] == {"2026-01": 2}
    assert [o["checkout_id"] for o in rep["overdue"]] == [scene["checkout"]["id"]]
    assert [x["document_id"] for x in rep["retention_due_90_days"]] == [scene["contract"]["id"]]
    assert rep["retention_due_90_days"][0]["due_on"] == "2026-03-01"
    assert [x["document_id"] for x in rep["stale_credit_reports"]] == [scene["credit"]["id"]]
    incomplete = {x["dossier_id"]: x["missing"] for x in rep["incomplete_dossiers"]}
    assert incomplete[scene["a"]["id"]] == ["license", "credit_report"]
    assert incomplete[scene["b"]["id"]] == ["license", "contract"]


def test_employees_and_admins_do_not_see_reports(api: Api, people: People) -> None:
    assert api.get(people.employee, "/api/v1/reports/summary").status_code == 403
    assert api.get(people.admin, "/api/v1/reports/summary").status_code == 403


def test_the_report_counts_only_dossiers_within_clearance(api: Api, people: People) -> None:
    api.new_dossier(people.make("top_arch", "archivist", "secret"), secrecy="secret")
    low = people.make("low_mgr", "manager", "internal")
    assert api.get(low, "/api/v1/reports/summary").get_json()["dossiers"]["total"] == 0


def test_dossier_report_prints_the_summary(api: Api, people: People, clock: FixedClock, vault: Vault) -> None:
    scene = _scene(api, people, clock)
    # the CLI reads the wall clock: the 2026-01 scene is in the past for it, the fields are what matter
    out = run_cli(vault, "report", "--json")
    assert out.exit_code == 0, out.output
    rep = json.loads(out.output)
    assert rep["dossiers"]["total"] == 2 and rep["documents"]["total"] == 2
    text = run_cli(vault, "report").output
    assert "Dossiers: 2" in text and scene["a"]["archive_no"] in text
