"""Checkout (借阅) through the HTTP API: request, approval, reading, stamped copies, return, overdue, hand-over."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from indexer.search_index import SearchIndex
from indexer.worker import run_pending
from tests.conftest import Api, People
from tests.support.workflow_fixtures import DOCX, JPG, PDF, PDF2, PNG, run_cli, upload
from vault.clock import FixedClock
from vault.core import Vault
from vault.models import AuditEvent, Checkout, CheckoutStatus, Dossier, User


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365 * 50}  # tokens outlive the days the clock is moved on


def _dossier_with_doc(api: Api, people: People, path: Any = PDF, **fields: Any) -> tuple[dict[str, Any],
                                                                                       dict[str, Any]]:
    d = api.new_dossier(people.archivist, **fields)
    return d, upload(api, people.archivist, d["id"], path)


def _request(api: Api, user: User, dossier_id: int, kind: str = "view", **extra: Any) -> dict[str, Any]:
    r = api.post(user, "/api/v1/checkouts", json={"dossier_id": dossier_id, "purpose": "授信复核 credit review",
                                                 "kind": kind, "days": 7, **extra})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["status"] == "pending"
    return dict(r.get_json())


def _approve(api: Api, approver: User, checkout_id: int) -> dict[str, Any]:
    r = api.post(approver, f"/api/v1/checkouts/{checkout_id}/approve", json={"comment": "ok"})
    assert r.status_code == 200, r.get_json()
    return dict(r.get_json())


def _content(api: Api, user: User, doc_id: int, inline: bool = True) -> Any:
    return api.get(user, f"/api/v1/documents/{doc_id}/content" + ("?disposition=inline" if inline else ""))


def _page(api: Api, user: User, doc_id: int, page_no: int = 1) -> Any:
    """A page of the viewer, the only way a view checkout reads."""
    return api.get(user, f"/documents/{doc_id}/pages/{page_no}.png")


def test_the_whole_story_request_approve_read_return_and_access_ends(api: Api, people: People) -> None:
    d, doc = _dossier_with_doc(api, people)
    reader = people.employee
    assert _page(api, reader, doc["id"]).status_code == 403
    co = _request(api, reader, d["id"])
    assert _page(api, reader, doc["id"]).status_code == 403, "a pending request grants nothing"
    approved = _approve(api, people.archivist, co["id"])
    assert approved["status"] == "active" and approved["due_at"] is not None
    r = _page(api, reader, doc["id"])
    assert r.status_code == 200 and r.data.startswith(b"\x89PNG")
    returned = api.post(reader, f"/api/v1/checkouts/{co['id']}/return")
    assert returned.status_code == 200 and returned.get_json()["status"] == "returned"
    assert _page(api, reader, doc["id"]).status_code == 403
    r = _content(api, reader, doc["id"])
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "checkout_required"


def test_a_view_checkout_reads_pages_but_gets_no_file_inline_or_attached(api: Api, people: People) -> None:
    d, doc = _dossier_with_doc(api, people)
    co = _request(api, people.employee, d["id"], kind="view")
    _approve(api, people.archivist, co["id"])
    for inline in (False, True):
        r = _content(api, people.employee, doc["id"], inline=inline)
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "view_only"
        assert f"/documents/{doc['id']}" in r.get_json()["error"]["message"], "it says where to read instead"
    assert _page(api, people.employee, doc["id"]).status_code == 200


def test_every_read_through_a_checkout_is_audited_with_the_checkout(api: Api, people: People, vault: Vault) -> None:
    d, doc = _dossier_with_doc(api, people)
    co = _request(api, people.employee, d["id"])
    _approve(api, people.archivist, co["id"])
    assert _page(api, people.employee, doc["id"]).status_code == 200
    assert _page(api, people.employee, doc["id"]).status_code == 200
    events = api.get(people.legal, f"/api/v1/audit?document_id={doc['id']}&action=document.read").get_json()
    assert [e["details"]["checkout_id"] for e in events["items"]] == [co["id"], co["id"]]
    assert all(e["details"]["watermarked"] is True for e in events["items"])


def test_nobody_approves_their_own_request(api: Api, people: People) -> None:
    d, _ = _dossier_with_doc(api, people)
    co = _request(api, people.archivist, d["id"], kind="physical")
    r = api.post(people.archivist, f"/api/v1/checkouts/{co['id']}/approve", json={"comment": "mine"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "own_request"
    assert api.post(people.archivist, f"/api/v1/checkouts/{co['id']}/reject",
                    json={"comment": "x"}).status_code == 403
    _approve(api, people.make("arch2", "archivist"), co["id"])


def test_only_an_archivist_approves_an_ordinary_dossier(api: Api, people: People) -> None:
    d, _ = _dossier_with_doc(api, people)
    co = _request(api, people.employee, d["id"])
    for user in (people.make("colleague", "employee"), people.legal, people.admin, people.manager):
        assert api.post(user, f"/api/v1/checkouts/{co['id']}/approve", json={}).status_code in (403, 404)


def test_a_secret_dossier_needs_a_manager_to_approve(api: Api, people: People) -> None:
    arch = people.make("secret_arch", "archivist", "secret")
    d = api.new_dossier(arch, secrecy="secret")
    reader = people.make("secret_emp", "employee", "secret")
    co = _request(api, reader, d["id"])
    r = api.post(arch, f"/api/v1/checkouts/{co['id']}/approve", json={})
    assert r.status_code == 403 and "manager" in r.get_json()["error"]["message"]
    approved = _approve(api, people.make("secret_mgr", "manager", "secret"), co["id"])
    assert approved["status"] == "active" and approved["decided_by"] == "secret_mgr"


def test_a_rejection_needs_a_reason_grants_nothing_and_tells_the_requester(api: Api, people: People) -> None:
    d, doc = _dossier_with_doc(api, people)
    co = _request(api, people.employee, d["id"])
    r = api.post(people.archivist, f"/api/v1/checkouts/{co['id']}/reject", json={})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "comment"
    r = api.post(people.archivist, f"/api/v1/checkouts/{co['id']}/reject", json={"comment": "purpose unclear"})
    assert r.status_code == 200 and r.get_json()["status"] == "rejected"
    assert _content(api, people.employee, doc["id"]).status_code == 403
    again = api.post(people.archivist, f"/api/v1/checkouts/{co['id']}/approve", json={})
    assert again.status_code == 409
    notes = api.get(people.employee, "/api/v1/notifications").get_json()["items"]
    assert any(n["kind"] == "checkout.rejected" and n["body"] == "purpose unclear" for n in notes)


def test_a_checkout_of_chosen_documents_grants_exactly_those(api: Api, people: People) -> None:
    d, first = _dossier_with_doc(api, people)
    second = upload(api, people.archivist, d["id"], PDF2, doc_type="other")
    co = _request(api, people.employee, d["id"], document_ids=[second["id"]])
    _approve(api, people.archivist, co["id"])
    assert _page(api, people.employee, second["id"]).status_code == 200
    assert _page(api, people.employee, first["id"]).status_code == 403


def test_a_document_of_another_dossier_cannot_be_chosen(api: Api, people: People) -> None:
    d, _ = _dossier_with_doc(api, people)
    _, other_doc = _dossier_with_doc(api, people)
    r = api.post(people.employee, "/api/v1/checkouts", json={"dossier_id": d["id"], "purpose": "x", "kind": "view",
                                                             "document_ids": [other_doc["id"]]})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "document_ids"


def test_days_are_capped_by_the_setting(api: Api, people: People, vault: Vault) -> None:
    d, _ = _dossier_with_doc(api, people)
    cap = vault.settings.checkout_max_days
    r = api.post(people.employee, "/api/v1/checkouts",
                 json={"dossier_id": d["id"], "purpose": "x", "kind": "view", "days": cap + 1})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "days"
    r = api.post(people.employee, "/api/v1/checkouts", json={"dossier_id": d["id"], "purpose": "", "kind": "view"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "purpose"


def test_access_ends_automatically_at_the_due_date_and_the_checkout_shows_overdue(
        api: Api, people: People, clock: FixedClock, vault: Vault) -> None:
    d, doc = _dossier_with_doc(api, people)
    co = _request(api, people.employee, d["id"])
    _approve(api, people.archivist, co["id"])
    clock.advance(days=6, hours=23)
    assert _page(api, people.employee, doc["id"]).status_code == 200
    clock.advance(hours=1)
    assert _page(api, people.employee, doc["id"]).status_code == 403
    listed = api.get(people.archivist, "/api/v1/checkouts?status=overdue").get_json()
    assert [c["id"] for c in listed["items"]] == [co["id"]] and listed["items"][0]["overdue"] is True
    assert api.get(people.archivist, "/api/v1/checkouts?status=active").get_json()["total"] == 0


def test_overdue_checkouts_notify_the_requester_and_the_approver_once(api: Api, people: People, clock: FixedClock,
                                                                      vault: Vault) -> None:
    d, _ = _dossier_with_doc(api, people)
    co = _request(api, people.employee, d["id"])
    _approve(api, people.archivist, co["id"])
    clock.advance(days=8)
    out = run_cli(vault, "overdue")
    assert out.exit_code == 0 and "1 newly overdue" in out.output and f"#{co['id']}" in out.output
    assert "0 newly overdue" in run_cli(vault, "overdue").output
    for user in (people.employee, people.archivist):
        notes = api.get(user, "/api/v1/notifications?unread=1").get_json()["items"]
        overdue = [n for n in notes if n["kind"] == "checkout.overdue"]
        assert len(overdue) == 1 and overdue[0]["checkout_id"] == co["id"]
        assert api.post(user, f"/api/v1/notifications/{overdue[0]['id']}/read").status_code == 200
    with vault.session() as s:
        assert s.scalar(select(AuditEvent.seq)
                        .where(AuditEvent.action == "checkout.expired")) is not None
    late = api.post(people.employee, f"/api/v1/checkouts/{co['id']}/return")
    assert late.status_code == 200 and late.get_json()["status"] == "returned"


def test_a_copy_checkout_downloads_a_pdf_stamped_with_reader_checkout_and_time(api: Api, people: People,
                                                                               clock: FixedClock) -> None:
    d, doc = _dossier_with_doc(api, people)
    co = _request(api, people.employee, d["id"], kind="copy")
    _approve(api, people.archivist, co["id"])
    r = _content(api, people.employee, doc["id"], inline=False)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf"
    assert r.data != PDF.read_bytes()
    reader = PdfReader(io.BytesIO(r.data))
    assert len(reader.pages) == len(PdfReader(PDF).pages)
    stamp_time = clock.now().isoformat(timespec="seconds")
    for page in reader.pages:
        text = page.extract_text()
        assert "employee" in text and f"checkout #{co['id']}" in text and stamp_time in text
    assert f"_copy-{co['id']}.pdf" in r.headers["Content-Disposition"]


def test_an_image_copy_becomes_a_stamped_pdf(api: Api, people: People) -> None:
    d = api.new_dossier(people.archivist)
    png = upload(api, people.archivist, d["id"], PNG, doc_type="license")
    jpg = upload(api, people.archivist, d["id"], JPG, doc_type="id_proof")
    co = _request(api, people.employee, d["id"], kind="copy")
    _approve(api, people.archivist, co["id"])
    for doc in (png, jpg):
        r = _content(api, people.employee, doc["id"], inline=False)
        assert r.status_code == 200 and r.data.startswith(b"%PDF")
        (page,) = PdfReader(io.BytesIO(r.data)).pages
        assert f"checkout #{co['id']}" in page.extract_text() and "employee" in page.extract_text()
        assert page.images, "the image itself is on the page"


def test_a_docx_copy_is_refused_until_its_text_exists_then_is_a_stamped_pdf_of_it(
        api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    d = api.new_dossier(people.archivist)
    doc = upload(api, people.archivist, d["id"], DOCX, doc_type="correspondence")
    co = _request(api, people.employee, d["id"], kind="copy")
    _approve(api, people.archivist, co["id"])
    r = _content(api, people.employee, doc["id"], inline=False)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "copy_not_ready"
    assert 'id="pages-not-ready"' in api.get(people.employee, f"/documents/{doc['id']}").get_data(as_text=True)
    r = _page(api, people.employee, doc["id"])
    assert r.status_code == 409 and 'data-code="pages_not_ready"' in r.get_data(as_text=True)
    assert "文本尚未就绪" in r.get_data(as_text=True), "the page says why in the reader's language"
    # the worker extracts the text (a DOCX needs no OCR), and indexes the new customer's card
    assert run_pending(vault, index) == 2
    r = _content(api, people.employee, doc["id"], inline=False)
    assert r.status_code == 200 and r.data.startswith(b"%PDF") and r.data != DOCX.read_bytes()
    pages = PdfReader(io.BytesIO(r.data)).pages
    text = "".join(page.extract_text() for page in pages)
    assert all(f"checkout #{co['id']}" in page.extract_text() for page in pages)
    assert "信用额度" in text, "the copy carries the document's text"


def test_content_roles_read_the_original_not_a_stamped_copy(api: Api, people: People) -> None:
    d, doc = _dossier_with_doc(api, people)
    co = _request(api, people.legal, d["id"], kind="copy")
    _approve(api, people.archivist, co["id"])
    assert _content(api, people.legal, doc["id"], inline=False).data == PDF.read_bytes()


def test_a_physical_checkout_is_active_at_handover_and_closed_when_received(api: Api, people: People,
                                                                            vault: Vault) -> None:
    d, doc = _dossier_with_doc(api, people, location="A室/3柜/12盒")
    co = _request(api, people.employee, d["id"], kind="physical")
    approved = _approve(api, people.archivist, co["id"])
    assert approved["status"] == "approved" and approved["due_at"] is None
    assert api.get(people.employee, f"/api/v1/dossiers/{d['id']}").get_json()["paper_out"] is None
    handed = api.post(people.make("arch2", "archivist"), f"/api/v1/checkouts/{co['id']}/handover",
                      json={"note": "原件一册"})
    assert handed.status_code == 200 and handed.get_json()["status"] == "active"
    paper = api.get(people.employee, f"/api/v1/dossiers/{d['id']}").get_json()["paper_out"]
    assert paper["with"] == "employee" and paper["checkout_id"] == co["id"]
    assert _content(api, people.employee, doc["id"]).status_code == 403, "paper grants no electronic access"
    second = _request(api, people.make("emp2", "employee"), d["id"], kind="physical")
    _approve(api, people.archivist, second["id"])
    r = api.post(people.archivist, f"/api/v1/checkouts/{second['id']}/handover", json={})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "paper_out"
    assert api.post(people.employee, f"/api/v1/checkouts/{co['id']}/return").get_json()["status"] == "returned"
    r = api.post(people.archivist, f"/api/v1/checkouts/{co['id']}/receive", json={})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "condition"
    r = api.post(people.archivist, f"/api/v1/checkouts/{co['id']}/receive",
                 json={"condition": "第12页缺失 page 12 missing", "pages_complete": False})
    assert r.status_code == 200 and r.get_json()["status"] == "closed" and r.get_json()["pages_complete"] is False
    assert api.get(people.employee, f"/api/v1/dossiers/{d['id']}").get_json()["paper_out"] is None
    actions = [e["action"] for e in api.get(people.legal, f"/api/v1/audit?dossier_id={d['id']}&action=checkout.*")
               .get_json()["items"]]
    assert {"checkout.requested", "checkout.approved", "checkout.handed_over", "checkout.returned",
            "checkout.received"} <= set(actions)


def test_only_the_requester_returns_and_only_an_archivist_receives(api: Api, people: People) -> None:
    d, _ = _dossier_with_doc(api, people)
    co = _request(api, people.employee, d["id"])
    _approve(api, people.archivist, co["id"])
    assert api.post(people.archivist, f"/api/v1/checkouts/{co['id']}/return").status_code == 403
    assert api.post(people.make("emp2", "employee"), f"/api/v1/checkouts/{co['id']}/return").status_code == 404
    assert api.post(people.employee, f"/api/v1/checkouts/{co['id']}/receive",
                    json={"condition": "fine"}).status_code == 403


def test_employees_list_only_their_own_checkouts(api: Api, people: People) -> None:
    d, _ = _dossier_with_doc(api, people)
    mine = _request(api, people.employee, d["id"])
    _request(api, people.make("emp2", "employee"), d["id"])
    assert [c["id"] for c in api.get(people.employee, "/api/v1/checkouts").get_json()["items"]] == [mine["id"]]
    assert api.get(people.archivist, "/api/v1/checkouts").get_json()["total"] == 2
    assert api.get(people.archivist, "/api/v1/checkouts?mine=1").get_json()["total"] == 0


def test_an_employee_leaving_closes_checkouts_and_hands_dossiers_over(api: Api, people: People,
                                                                       vault: Vault) -> None:
    leaving = people.make("leaver", "employee")
    successor = people.make("successor", "employee")
    d = api.new_dossier(people.archivist, owner="leaver")
    other, _ = _dossier_with_doc(api, people)
    co = _request(api, leaving, other["id"])
    _approve(api, people.archivist, co["id"])
    pending = _request(api, leaving, other["id"], kind="physical")
    out = run_cli(vault, "user", "deactivate", "leaver", "--handover-to", "successor")
    assert out.exit_code == 0, out.output
    assert "2 checkout(s) closed" in out.output and d["archive_no"] in out.output
    with vault.session() as s:
        assert s.get(Dossier, d["id"]).owner_id == successor.id  # type: ignore[union-attr]
        assert {c.status for c in s.scalars(select(Checkout).where(Checkout.id.in_([co["id"], pending["id"]])))} \
            == {CheckoutStatus.CLOSED}
        assert s.get(User, leaving.id).active is False  # type: ignore[union-attr]
        actions = set(s.scalars(select(AuditEvent.action)).all())
    assert {"checkout.closed", "dossier.owner_changed", "user.deactivated"} <= actions
    r = api.client.post("/api/v1/auth/token", json={"username": "leaver", "password": "correct horse battery"})
    assert r.status_code == 401


def test_every_workflow_route_is_in_the_openapi_document(app: Any, client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()["paths"]
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((method.lower(), path))
    documented = {(m, p) for p, ops in spec.items() for m in ops}
    workflow = {r for r in routes if any(r[1].startswith(f"/api/v1/{x}") for x in (
        "checkouts", "holds", "retention", "destructions", "reports", "notifications"))}
    assert len(workflow) >= 25 and workflow <= documented, sorted(workflow - documented)  # 25: periodic reports too
