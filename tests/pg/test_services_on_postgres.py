"""The remaining services and endpoints on PostgreSQL: search, reports, notifications, key rotation,
fixity, retention rules, hand-over on leaving, stamped copies, the audit list and the pages.

Most names below are test functions of the SQLite modules; collected here, they run with the `vault`
fixture of tests/pg/conftest.py (a fresh PostgreSQL database migrated from empty). The key-rotation
tests drive `dossier keys rotate` in-process through tests/ops' `run_cli`, which hands the command the
vault's database URL, so the command works on the same PostgreSQL database.

The tests written here stand in for SQLite ones that cannot be re-run: the search corpus module builds
its own SQLite vault once per module; `dossier user deactivate`, `dossier overdue` and `dossier verify`
are driven through `run_cli` of tests/support (or a subprocess) with only the home, whose settings name
SQLite. These call the same service functions the commands call, and check the same outcomes. The last
test holds a bug only PostgreSQL showed: its 32-bit integer columns refuse a larger id instead of finding
nothing. tests/pg/__init__.py has the table of where each service is covered.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from indexer.search_index import SearchIndex
from indexer.worker import run_pending
from tests.conftest import Api, People
from tests.integration import test_checkouts as checkouts_api
from tests.integration import test_destruction as destruction
from tests.integration import test_documents_api as documents_api
from tests.integration import test_pages as pages
from tests.integration import test_reports as reports
from tests.integration import test_worker as worker
from tests.ops import conftest as ops
from tests.ops import test_key_rotation as key_rotation
from tests.support.workflow_fixtures import PDF, PDF2, upload
from vault.clock import FixedClock
from vault.core import Vault
from vault.errors import Conflict
from vault.models import AuditEvent, Checkout, CheckoutStatus, DocumentVersion, Dossier, User
from vault.services import checkouts
from vault.services.fixity import verify_all
from vault.storage import new_blob_key


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365 * 50}  # as in the modules: tokens outlive the days the clock moves on


dossier = pages.dossier  # fixtures the imported tests ask for, from their own modules
stored = ops.stored

# search: the database has the last word on clearance, below what the index still holds
test_raising_a_dossiers_secrecy_hides_its_hits_from_lower_clearances = \
    worker.test_raising_a_dossiers_secrecy_hides_its_hits_from_lower_clearances

# reports: counts grouped in SQL (by grade, type, status), the lists needing attention, the clearance limit
test_the_summary_counts_and_lists_what_needs_attention = reports.test_the_summary_counts_and_lists_what_needs_attention
test_the_report_counts_only_dossiers_within_clearance = reports.test_the_report_counts_only_dossiers_within_clearance

# notifications: a rejection tells the requester
test_a_rejection_needs_a_reason_grants_nothing_and_tells_the_requester = \
    checkouts_api.test_a_rejection_needs_a_reason_grants_nothing_and_tells_the_requester

# key rotation: every data key re-wrapped, blobs untouched; an interrupted run resumes
test_rotation_rewraps_every_data_key_and_leaves_blobs_byte_for_byte = \
    key_rotation.test_rotation_rewraps_every_data_key_and_leaves_blobs_byte_for_byte
test_an_interrupted_rotation_resumes_and_retires_the_old_key_only_when_unused = \
    key_rotation.test_an_interrupted_rotation_resumes_and_retires_the_old_key_only_when_unused

# fixity: an upload that never committed is an orphan only after the grace period, and is swept
test_a_crash_between_blob_write_and_commit_leaves_an_orphan_that_verify_sweeps = \
    documents_api.test_a_crash_between_blob_write_and_commit_leaves_an_orphan_that_verify_sweeps

# retention: the rules an admin changes decide what is due, each change audited
test_an_admin_edits_retention_rules_and_each_change_is_audited = \
    destruction.test_an_admin_edits_retention_rules_and_each_change_is_audited
test_retention_due_lists_documents_past_retention_with_their_hold_status = \
    destruction.test_retention_due_lists_documents_past_retention_with_their_hold_status

# destruction certificate: drawn once at execution, stored in the database and served as stored
test_the_certificate_lists_documents_people_and_the_audit_head_in_chinese_and_english = \
    destruction.test_the_certificate_lists_documents_people_and_the_audit_head_in_chinese_and_english

# stamped copies: a copy checkout downloads a PDF stamped with reader, checkout and time
test_a_copy_checkout_downloads_a_pdf_stamped_with_reader_checkout_and_time = \
    checkouts_api.test_a_copy_checkout_downloads_a_pdf_stamped_with_reader_checkout_and_time

# audit list: filtered by document and action, with the checkout in the details
test_every_read_through_a_checkout_is_audited_with_the_checkout = \
    checkouts_api.test_every_read_through_a_checkout_is_audited_with_the_checkout

# pages: each role's pages render (home charts, lists, search, audit, admin), a checkout through the forms
test_each_role_sees_its_pages = pages.test_each_role_sees_its_pages
test_a_checkout_goes_from_request_to_return_through_the_pages = \
    pages.test_a_checkout_goes_from_request_to_return_through_the_pages


# -- written here: the SQLite tier reaches these through the corpus module or the command line ------------

def _search(api: Api, user: User, text: str, **params: Any) -> dict[str, Any]:
    r = api.get(user, "/api/v1/search", query_string={"q": text, "per_page": 100, **params})
    assert r.status_code == 200, r.get_json()
    return dict(r.get_json())


def _found(result: dict[str, Any]) -> list[int]:
    return sorted(item["document_id"] for item in result["items"])


def test_an_employee_finds_only_what_it_may_read_and_filters_narrow_it(api: Api, people: People,
                                                                       vault: Vault, index: SearchIndex) -> None:
    contract_no = "HYGL-JG-20220309-062"
    own = api.new_dossier(people.archivist, owner="employee")
    other = api.new_dossier(people.archivist)
    mine = upload(api, people.archivist, own["id"], PDF, doc_date="2022-03-09")
    theirs = upload(api, people.archivist, other["id"], PDF, doc_type="other", doc_date="2024-01-01")
    upload(api, people.archivist, other["id"], PDF2, doc_type="other")
    run_pending(vault, index)
    phrase = f'"{contract_no}"'
    assert _found(_search(api, people.legal, phrase)) == sorted([mine["id"], theirs["id"]])

    seen = _search(api, people.employee, phrase)
    assert seen["total"] == 1 and _found(seen) == [mine["id"]], "a hit or count from another's dossier"
    assert _search(api, people.make("emp2", "employee"), phrase)["total"] == 0
    item = seen["items"][0]
    assert "<mark>" in item["snippet"] and "<" not in re.sub(r"</?mark>", "", item["snippet"])
    events = api.get(people.legal, "/api/v1/audit?action=search.performed&actor=employee").get_json()["items"]
    assert events[0]["details"]["results"] == 1

    r = api.post(people.employee, "/api/v1/checkouts", json={"dossier_id": other["id"], "purpose": "核对",
                                                             "kind": "view", "document_ids": [theirs["id"]]})
    assert r.status_code == 201, r.get_json()
    assert api.post(people.archivist, f"/api/v1/checkouts/{r.get_json()['id']}/approve", json={}).status_code == 200
    assert _found(_search(api, people.employee, phrase)) == sorted([mine["id"], theirs["id"]])
    assert _found(_search(api, people.employee, phrase, doc_type="other")) == [theirs["id"]]
    assert _found(_search(api, people.employee, phrase, dossier_id=own["id"])) == [mine["id"]]
    assert _found(_search(api, people.employee, phrase, date_from="2023-01-01")) == [theirs["id"]]
    assert _search(api, people.employee, "期末余额")["total"] == 0, "the checkout grants one document, not its dossier"


def test_overdue_notices_reach_requester_and_approver_once_and_each_reads_only_its_own(
        api: Api, people: People, vault: Vault, clock: FixedClock) -> None:
    d = api.new_dossier(people.archivist)
    upload(api, people.archivist, d["id"], PDF)
    r = api.post(people.employee, "/api/v1/checkouts", json={"dossier_id": d["id"], "purpose": "复核",
                                                             "kind": "view", "days": 7})
    co = r.get_json()
    assert api.post(people.archivist, f"/api/v1/checkouts/{co['id']}/approve", json={}).status_code == 200
    clock.advance(days=8)
    assert checkouts.run_overdue(vault) == ([co["id"]], [co["id"]])  # what `dossier overdue` runs
    assert checkouts.run_overdue(vault) == ([], [co["id"]])
    notes = {}
    for user in (people.employee, people.archivist):
        unread = api.get(user, "/api/v1/notifications?unread=1").get_json()["items"]
        (notes[user.username],) = [n for n in unread if n["kind"] == "checkout.overdue"]
        assert notes[user.username]["checkout_id"] == co["id"]
    theirs = notes["archivist"]["id"]
    assert api.post(people.employee, f"/api/v1/notifications/{theirs}/read").status_code == 404
    assert api.post(people.archivist, f"/api/v1/notifications/{theirs}/read").status_code == 200
    assert theirs not in [n["id"] for n in api.get(people.archivist, "/api/v1/notifications?unread=1")
                          .get_json()["items"]]
    assert theirs in [n["id"] for n in api.get(people.archivist, "/api/v1/notifications").get_json()["items"]]
    assert notes["employee"]["id"] in [n["id"] for n in api.get(people.employee, "/api/v1/notifications?unread=1")
                                       .get_json()["items"]]


def test_verify_passes_a_clean_vault_and_names_a_tampered_a_missing_an_unreadable_and_an_orphan_blob(
        vault: Vault, stored: list[ops.Stored]) -> None:
    clean = verify_all(vault, deep=True)
    assert clean.ok, clean.findings
    assert clean.versions_checked == len(stored) and clean.audit_events > 0
    with vault.session() as s:
        versions = s.scalars(select(DocumentVersion).order_by(DocumentVersion.id)).all()
        tampered, missing, unreadable = [(v.id, str(v.blob_key), bytes(v.wrapped_key or b"")) for v in versions[:3]]
    data = bytearray(b"".join(vault.blobs.get(tampered[1])))
    data[-5] ^= 0xFF
    vault.blobs.put(tampered[1], [bytes(data)])
    vault.blobs.delete(missing[1])
    wrapped = bytearray(unreadable[2])
    wrapped[-1] ^= 0x01
    with vault.session() as s:  # a wrapped data key damaged in the database: bytea on PostgreSQL
        s.execute(update(DocumentVersion).where(DocumentVersion.id == unreadable[0]).values(wrapped_key=bytes(wrapped)))
    orphan = new_blob_key()
    vault.blobs.put(orphan, [b"stored by nobody"])

    report = verify_all(vault, deep=True)
    found = {(f.kind, f.subject) for f in report.findings}
    assert found == {("fixity_mismatch", f"version {tampered[0]} (blob {tampered[1]})"),
                     ("missing_blob", f"version {missing[0]} (blob {missing[1]})"),
                     ("decrypt_failed", f"version {unreadable[0]} (blob {unreadable[1]})"),
                     ("orphan_blob", orphan)}
    assert verify_all(vault).findings and not any(f.kind == "decrypt_failed" for f in verify_all(vault).findings)
    assert verify_all(vault, remove_orphans=True, grace=timedelta(0)).orphans_removed == 1
    assert not vault.blobs.exists(orphan)


def _deactivate(vault: Vault, people: People, username: str, *, handover_to: str) -> dict[str, Any]:
    """What `dossier user deactivate NAME --handover-to OTHER` runs, here by the admin, in one transaction."""
    with vault.session() as s:
        admin = s.get(User, people.admin.id)
        assert admin is not None
        return checkouts.deactivate_with_handover(vault, s, admin, username, handover_to=handover_to)


def test_leaving_closes_checkouts_hands_dossiers_over_and_ends_the_account_or_changes_nothing(
        api: Api, people: People, vault: Vault) -> None:
    leaving = people.make("leaver", "employee")
    people.make("successor", "employee")
    people.make("intern", "employee", "internal")
    owned = api.new_dossier(people.archivist, owner="leaver", secrecy="confidential")
    other = api.new_dossier(people.archivist)
    upload(api, people.archivist, other["id"], PDF)
    r = api.post(leaving, "/api/v1/checkouts", json={"dossier_id": other["id"], "purpose": "x", "kind": "view"})
    active = r.get_json()
    assert api.post(people.archivist, f"/api/v1/checkouts/{active['id']}/approve", json={}).status_code == 200
    pending = api.post(leaving, "/api/v1/checkouts", json={"dossier_id": other["id"], "purpose": "y",
                                                           "kind": "physical"}).get_json()
    assert api.get(leaving, "/api/v1/me").status_code == 200

    with pytest.raises(Conflict, match="cannot own"):
        _deactivate(vault, people, "leaver", handover_to="intern")
    with vault.session() as s:  # the refused hand-over was rolled back whole
        assert s.get(User, leaving.id).active is True  # type: ignore[union-attr]
        assert s.get(Checkout, active["id"]).status is CheckoutStatus.ACTIVE  # type: ignore[union-attr]

    result = _deactivate(vault, people, "leaver", handover_to="successor")
    assert result["checkouts_closed"] == [active["id"], pending["id"]]
    assert result["dossiers_moved"] == [owned["archive_no"]]
    with vault.session() as s:
        assert s.get(Dossier, owned["id"]).owner.username == "successor"  # type: ignore[union-attr]
        assert {c.status for c in s.scalars(select(Checkout).where(Checkout.requester_id == leaving.id))} \
            == {CheckoutStatus.CLOSED}
        assert s.get(User, leaving.id).active is False  # type: ignore[union-attr]
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.action.in_(
            ["checkout.closed", "dossier.owner_changed", "user.deactivated"]))).all()
    assert sorted(actions) == ["checkout.closed", "checkout.closed", "dossier.owner_changed", "user.deactivated"]
    assert api.get(leaving, "/api/v1/me").status_code == 401, "the token issued before leaving still works"
    assert api.client.post("/api/v1/auth/token", json={"username": "leaver", "password": "correct horse battery"}
                           ).status_code == 401


@pytest.mark.parametrize("big", [3_000_000_000, 2**63 - 1])
def test_an_id_that_is_not_there_is_not_found_rather_than_a_server_error(api: Api, people: People,
                                                                         app: Any, big: int) -> None:
    # found here: PostgreSQL's integer columns were 32 bits and refused 3000000000 as out of range (a 500),
    # where SQLite, with 64-bit integers, simply found nothing; ids are BIGINT now (migration 0006)
    d = api.new_dossier(people.archivist)
    for path in (f"/api/v1/dossiers/{big}", f"/api/v1/documents/{big}", f"/api/v1/documents/{big}/content",
                 f"/api/v1/checkouts/{big}", f"/api/v1/destructions/{big}", f"/api/v1/holds/{big}/release"):
        r = api.post(people.legal, path, json={"reason": "x"}) if path.endswith("release") \
            else api.get(people.legal, path)
        assert r.status_code == 404, (path, r.get_json())
    assert api.post(people.legal, f"/api/v1/notifications/{big}/read").status_code == 404
    assert pages.as_user(app, people.legal).get(f"/dossiers/{big}").status_code == 404
    for body in ({"dossier_id": big}, {"document_id": big}):
        assert api.post(people.legal, "/api/v1/holds", json={**body, "reason": "x"}).status_code == 404, body
    r = api.post(people.employee, "/api/v1/checkouts", json={"dossier_id": big, "purpose": "x", "kind": "view"})
    assert r.status_code == 404
    r = api.post(people.employee, "/api/v1/checkouts", json={"dossier_id": d["id"], "purpose": "x", "kind": "view",
                                                             "document_ids": [big]})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "document_ids"
    r = api.post(people.archivist, "/api/v1/destructions", json={"document_ids": [big], "reason": "x"})
    assert r.status_code == 404
    for query in (f"dossier_id={big}", f"document_id={big}", f"dossier_id=-{big}"):
        r = api.get(people.legal, f"/api/v1/audit?{query}")
        assert r.status_code == 200 and r.get_json()["total"] == 0, query
    r = api.get(people.archivist, f"/api/v1/checkouts?dossier_id={big}")
    assert r.status_code == 200 and r.get_json()["total"] == 0
