"""The backup owner (A/B 岗) reads the dossier as its owner does: documents, search, records and contacts, and
adds records; within clearance only. A leaving user's backup roles go to the successor with the rest."""

from __future__ import annotations

from typing import Any

from flask import Flask

from indexer.search_index import SearchIndex
from indexer.worker import run_pending
from tests.conftest import Api, People
from tests.integration.test_pages import as_user, post_form
from tests.support.workflow_fixtures import DOCX, PDF, run_cli, search_ids, upload
from vault.core import Vault
from vault.customer_models import CardHistory, CustomerCard


def _name_backup(api: Api, people: People, dossier_id: int, username: str) -> None:
    r = api.patch(people.archivist, f"/api/v1/dossiers/{dossier_id}/card",
                  json={"fields": {"backup_owner": username}, "reason": "A/B 岗"})
    assert r.status_code == 200, r.get_json()


def _content(api: Api, user: Any, doc_id: int) -> Any:
    return api.get(user, f"/api/v1/documents/{doc_id}/content")


def test_the_backup_owner_reads_and_finds_the_documents_until_the_dossier_is_raised_above_clearance(
        api: Api, people: People, vault: Vault, index: SearchIndex) -> None:
    people.make("owner", "employee")
    backup = people.make("backup", "employee")
    stranger = people.make("stranger", "employee")
    d = api.new_dossier(people.archivist, owner="owner")
    pdf = upload(api, people.archivist, d["id"], PDF)
    docx = upload(api, people.archivist, d["id"], DOCX, doc_type="correspondence")
    run_pending(vault, index)
    assert _content(api, backup, pdf["id"]).status_code == 403, "not yet the backup: a checkout is needed"
    assert search_ids(api, backup, "信用额度") == []
    _name_backup(api, people, d["id"], "backup")
    r = _content(api, backup, pdf["id"])
    assert r.status_code == 200 and r.data == PDF.read_bytes(), "the original, as the owner reads it"
    assert search_ids(api, backup, "信用额度") == [docx["id"]]
    assert _content(api, stranger, pdf["id"]).status_code == 403 and search_ids(api, stranger, "信用额度") == []
    page = api.get(backup, f"/documents/{pdf['id']}").get_data(as_text=True)
    assert 'id="watermark-note"' not in page, "a backup owner reads unwatermarked, like the owner"
    r = api.patch(people.make("s-arch", "archivist", "secret"), f"/api/v1/dossiers/{d['id']}",
                  json={"secrecy": "secret"})
    assert r.status_code == 200, r.get_json()
    assert _content(api, backup, pdf["id"]).status_code == 404
    assert search_ids(api, backup, "信用额度") == []
    assert api.get(backup, f"/api/v1/dossiers/{d['id']}/records").status_code == 404


def test_a_leaving_backup_owner_hands_the_backup_role_to_the_successor(
        api: Api, people: People, vault: Vault) -> None:
    people.make("owner", "employee")
    people.make("leaver", "employee")
    successor = people.make("successor", "employee")
    backed = api.new_dossier(people.archivist, owner="owner")
    own_of_successor = api.new_dossier(people.archivist, owner="successor")
    _name_backup(api, people, backed["id"], "leaver")
    _name_backup(api, people, own_of_successor["id"], "leaver")
    out = run_cli(vault, "user", "deactivate", "leaver", "--handover-to", "successor")
    assert out.exit_code == 0, out.output
    with vault.session() as s:
        assert s.get(CustomerCard, backed["id"]).backup_owner_id == successor.id  # type: ignore[union-attr]
        # nobody backs up their own customer: the card keeps no backup rather than the one who left
        assert s.get(CustomerCard, own_of_successor["id"]).backup_owner_id is None  # type: ignore[union-attr]
        lines = s.query(CardHistory).filter(CardHistory.field == "backup_owner", CardHistory.reason == "handover")
        assert {(h.dossier_id, h.old, h.new) for h in lines} == {
            (backed["id"], "leaver", "successor"), (own_of_successor["id"], "leaver", None)}
    r = api.get(successor, f"/api/v1/dossiers/{backed['id']}/records")
    assert r.status_code == 200 and r.get_json()["masked"] is False


def test_the_admin_page_does_not_deactivate_a_backup_owner_without_a_successor(
        app: Flask, api: Api, people: People) -> None:
    people.make("owner", "employee")
    leaver = people.make("leaver", "employee")
    d = api.new_dossier(people.archivist, owner="owner")
    _name_backup(api, people, d["id"], "leaver")
    page = as_user(app, people.admin)
    assert post_form(page, "/admin/users/leaver/deactivate").status_code == 302
    assert "请选择交接人" in page.get("/admin/users").get_data(as_text=True)
    assert api.get(leaver, "/api/v1/me").status_code == 200, "still active"
