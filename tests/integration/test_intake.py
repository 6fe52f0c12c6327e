"""Scanning intake through the API: a scanned stack split at its separator sheets and filed into the right
dossiers, duplicates, the unfiled inbox, bad input, and large stacks left to the worker."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pypdf
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from tests.conftest import Api, People
from tests.support.multipart import post_file
from tests.support.paper_stack import content, damage_qr, scanned, separator, stack_pdf
from vault.core import Vault
from vault.intake_models import IntakePart
from vault.models import AuditEvent, Document
from web.cli import main

BAD = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "bad"


def send(api: Api, user: Any, data: bytes, name: str = "stack.pdf") -> Any:
    return post_file(api.client, "/api/v1/intake", api.headers(user), {}, name, data)


def pdf_pages(api: Api, user: Any, document_id: int) -> list[str]:
    r = api.get(user, f"/api/v1/documents/{document_id}/content")
    assert r.status_code == 200
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(r.data)).pages]


def documents_count(vault: Vault) -> int:
    with vault.session() as s:
        return int(s.scalar(select(func.count()).select_from(Document)) or 0)


def test_a_three_dossier_stack_is_split_and_filed_into_the_right_dossiers(api: Api, people: People) -> None:
    a = people.archivist
    d1, d2, d3 = (api.new_dossier(a, customer_name=f"客户{n}") for n in range(3))
    pdf = stack_pdf([separator(d1["archive_no"], "contract"), content("d1 contract p1"), content("d1 contract p2"),
                     separator(d2["archive_no"], "license"), content("d2 licence"),
                     separator(d3["archive_no"]), content("d3 a"), content("d3 b"), content("d3 c")])
    r = send(api, a, scanned(pdf, noise=0.01, max_angle=1.5))
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert [(f["dossier_id"], f["pages"], f["doc_type"]) for f in body["filed"]] == [
        (d1["id"], 2, "contract"), (d2["id"], 1, "license"), (d3["id"], 3, "other")]
    assert body["unfiled"] == [] and body["duplicates"] == []
    for filed, doc_type in zip(body["filed"], ["contract", "license", "other"], strict=True):
        doc = api.get(a, f"/api/v1/documents/{filed['document_id']}").get_json()
        assert doc["dossier_id"] == filed["dossier_id"] and doc["doc_type"] == doc_type
    # separators removed: the filed PDFs hold only the content pages (the printed stack keeps its text)
    r = send(api, a, pdf, "printed.pdf")
    texts = [pdf_pages(api, a, f["document_id"]) for f in r.get_json()["filed"]]
    assert [len(t) for t in texts] == [2, 1, 3]
    assert [[t.strip() for t in pages] for pages in texts] == [
        ["d1 contract p1", "d1 contract p2"], ["d2 licence"], ["d3 a", "d3 b", "d3 c"]]


def test_the_same_stack_again_files_nothing_twice(api: Api, people: People, vault: Vault) -> None:
    a = people.archivist
    d1 = api.new_dossier(a)
    pdf = stack_pdf([separator(d1["archive_no"]), content("only page")])
    first = send(api, a, pdf).get_json()
    again = send(api, a, pdf).get_json()
    assert again["already_processed"] is True and again["filed"] == first["filed"]
    # the same part inside another stack (a rescan with an extra sheet) is a duplicate, not a second document
    bigger = stack_pdf([separator(d1["archive_no"]), content("only page"), separator(d1["archive_no"], "invoice"),
                        content("new invoice")])
    r = send(api, a, bigger)
    body = r.get_json()
    assert r.status_code == 200, body
    assert [d["document_id"] for d in body["duplicates"]] == [first["filed"][0]["document_id"]]
    assert [f["pages"] for f in body["filed"]] == [1]
    assert documents_count(vault) == 2


def test_codes_naming_unknown_or_forbidden_dossiers_go_unfiled_with_the_same_reason(api: Api, people: People,
                                                                                     vault: Vault) -> None:
    chief = people.make("chief", "archivist", "secret")
    junior = people.make("junior", "archivist", "internal")
    secret = api.new_dossier(chief, secrecy="secret")
    mine = api.new_dossier(junior)
    pdf = stack_pdf([content("loose page"), separator(secret["archive_no"]), content("secret page"),
                     separator("KH-2099-999999"), content("nobody's"), separator(mine["archive_no"], "nonsense"),
                     content("bad type"), separator(mine["archive_no"]), content("fine")])
    body = send(api, junior, pdf).get_json()
    assert [(f["dossier_id"], f["pages"]) for f in body["filed"]] == [(mine["id"], 1)]
    reasons = [(u["first_page"], u["reason_code"]) for u in body["unfiled"]]
    assert reasons == [(1, "before_first_separator"), (3, "unknown_dossier"), (5, "unknown_dossier"),
                       (7, "unknown_doc_type")]
    assert secret["archive_no"] not in json.dumps(body)  # nothing says the secret dossier exists
    assert api.get(chief, f"/api/v1/dossiers/{secret['id']}/documents").get_json().get("items", []) == []


def test_a_damaged_code_and_a_stack_without_codes_file_nothing(api: Api, people: People, vault: Vault) -> None:
    a = people.archivist
    d1, d2 = api.new_dossier(a), api.new_dossier(a)
    pdf = stack_pdf([separator(d1["archive_no"]), content("a"), separator(d2["archive_no"]), content("b")])
    body = send(api, a, damage_qr(pdf, 2)).get_json()
    assert [f["dossier_id"] for f in body["filed"]] == [d1["id"]]
    assert [(u["reason_code"], u["pages"]) for u in body["unfiled"]] == [("damaged_code", 2)]  # page kept
    body = send(api, a, stack_pdf([content("x"), content("y")])).get_json()
    assert body["filed"] == [] and [(u["reason_code"], u["pages"]) for u in body["unfiled"]] == [("no_codes", 2)]
    assert documents_count(vault) == 1


def test_a_file_that_is_not_a_pdf_is_refused_and_nothing_is_stored(api: Api, people: People, vault: Vault) -> None:
    a = people.archivist
    r = send(api, a, b"PK\x03\x04 this is a zip, not a scan", "stack.pdf")
    assert r.status_code == 415 and "PDF" in r.get_json()["error"]["message"]
    r = api.client.post("/api/v1/intake", headers={**api.headers(a), "Accept-Language": "zh"},
                        json={"file": "x"})
    assert r.status_code == 400
    assert send(api, people.employee, stack_pdf([content("x")])).status_code == 403
    with vault.session() as s:
        assert s.scalar(select(func.count()).select_from(IntakePart)) == 0


@pytest.mark.parametrize("name", ["empty.pdf", "truncated.pdf", "pdf-header-only.pdf", "xref-prev-loop.pdf",
                                  "deep-nesting.pdf", "encrypted-user-password.pdf", "elf-binary.jpg",
                                  "png-bomb-30000x30000.png", "really-a-pdf.docx", "zip-bomb.docx"])
def test_files_from_the_bad_corpus_get_a_clear_answer_and_file_nothing(api: Api, people: People, vault: Vault,
                                                                       name: str) -> None:
    r = send(api, people.archivist, (BAD / name).read_bytes(), name)
    assert r.status_code in (200, 413, 415, 422), r.get_data(as_text=True)[:300]
    body = r.get_json()
    if r.status_code == 200:  # a readable PDF without our codes: everything unfiled, nothing filed
        assert body["filed"] == [] and all(u["reason_code"] == "no_codes" for u in body["unfiled"])
    else:
        assert body["error"]["message"]
    assert documents_count(vault) == 0


def test_an_unfiled_part_is_seen_assigned_and_then_leaves_the_inbox(api: Api, people: People, vault: Vault) -> None:
    a = people.archivist
    d1 = api.new_dossier(a)
    send(api, a, stack_pdf([content("where do I go"), content("page two")]))
    inbox = api.get(a, "/api/v1/intake/unfiled").get_json()["items"]
    assert [(i["pages"], i["reason_code"]) for i in inbox] == [(2, "no_codes")]
    part = inbox[0]["part_id"]
    r = api.get(a, f"/api/v1/intake/unfiled/{part}/content")
    assert r.status_code == 200 and len(pypdf.PdfReader(io.BytesIO(r.data)).pages) == 2
    assert api.get(people.employee, "/api/v1/intake/unfiled").status_code == 403
    r = api.post(a, f"/api/v1/intake/unfiled/{part}/assign", json={"archive_no": d1["archive_no"],
                                                                   "doc_type": "correspondence"})
    assert r.status_code == 201, r.get_json()
    document = r.get_json()["document"]
    assert document["dossier_id"] == d1["id"] and document["doc_type"] == "correspondence"
    assert [t.strip() for t in pdf_pages(api, a, document["id"])] == ["where do I go", "page two"]
    assert api.get(a, "/api/v1/intake/unfiled").get_json()["items"] == []
    assert api.post(a, f"/api/v1/intake/unfiled/{part}/assign", json={"dossier_id": d1["id"]}).status_code == 404
    with vault.session() as s:
        actions = set(s.scalars(select(AuditEvent.action)).all())
    assert {"intake.started", "intake.unfiled", "intake.unfiled_read", "intake.assigned"} <= actions


def test_assigning_a_part_already_in_the_dossier_is_a_409_and_it_can_be_discarded(api: Api, people: People,
                                                                                   vault: Vault) -> None:
    a = people.archivist
    d1 = api.new_dossier(a)
    send(api, a, scanned(stack_pdf([separator(d1["archive_no"]), content("same")])))
    send(api, a, scanned(stack_pdf([content("same")])))  # the identical scanned page, without its separator
    part = api.get(a, "/api/v1/intake/unfiled").get_json()["items"][0]["part_id"]
    r = api.post(a, f"/api/v1/intake/unfiled/{part}/assign", json={"dossier_id": d1["id"]})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "duplicate_document"
    assert api.post(a, f"/api/v1/intake/unfiled/{part}/discard").status_code == 200
    assert api.get(a, "/api/v1/intake/unfiled").get_json()["items"] == []
    assert documents_count(vault) == 1


def test_the_command_line_files_a_stack_with_a_progress_bar(api: Api, people: People, vault: Vault,
                                                            tmp_path: Path) -> None:
    from tests.support.workflow_fixtures import run_cli

    d1 = api.new_dossier(people.archivist)
    stack = tmp_path / "scan.pdf"
    stack.write_bytes(stack_pdf([separator(d1["archive_no"], "contract"), content("a"), content("b"),
                                 separator("KH-2099-000001"), content("c")]))
    result = run_cli(vault, "intake", str(stack), "--as", "archivist")
    assert result.exit_code == 0, result.output
    assert "Splitting and filing" in result.stderr
    assert f"filed      {d1['archive_no']}" in result.stdout and "pages 2-3" in result.stdout
    assert "1 filed, 0 duplicate(s), 1 unfiled" in result.stdout
    again = run_cli(vault, "intake", str(stack), "--as", "archivist")
    assert "filed before" in again.stdout and documents_count(vault) == 1
    bad = tmp_path / "photo.pdf"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not a pdf")
    refused = CliRunner().invoke(main, ["intake", str(bad)], env={"DOSSIER_HOME": str(vault.settings.home)})
    assert refused.exit_code == 1 and "not a PDF" in refused.output


def test_the_unfiled_inbox_stays_readable_after_a_master_key_rotation(api: Api, people: People,
                                                                      vault: Vault) -> None:
    from vault.services.keys import rotate_master_key

    a = people.archivist
    send(api, a, stack_pdf([content("kept across rotations")]))
    part = api.get(a, "/api/v1/intake/unfiled").get_json()["items"][0]["part_id"]
    old_key = vault.keyring.current_id
    report = rotate_master_key(vault, None)
    assert report.rewrapped == 1 and old_key in report.retired  # the inbox's key moved, the old one is unused
    r = api.get(a, f"/api/v1/intake/unfiled/{part}/content")
    assert r.status_code == 200
    assert pypdf.PdfReader(io.BytesIO(r.data)).pages[0].extract_text().strip() == "kept across rotations"


def test_a_code_naming_a_closed_dossier_sends_its_part_to_the_inbox(api: Api, people: People) -> None:
    a = people.archivist
    closed = api.new_dossier(a)
    r = api.patch(a, f"/api/v1/dossiers/{closed['id']}", json={"status": "closed"})
    assert r.status_code == 200, r.get_json()
    body = send(api, a, stack_pdf([separator(closed["archive_no"]), content("too late")])).get_json()
    assert body["filed"] == [] and [u["reason_code"] for u in body["unfiled"]] == ["dossier_not_active"]
    r = post_file(api.client, "/api/v1/intake", {**api.headers(a), "Accept-Language": "zh"}, {}, "s.pdf",
                  stack_pdf([content("无码页")]))
    assert r.get_json()["unfiled"][0]["reason"].startswith("该批次中没有可识别的分隔页二维码")


def test_the_inbox_blobs_are_owned_not_orphans_and_a_discarded_part_leaves_none(api: Api, people: People,
                                                                                 vault: Vault) -> None:
    from datetime import timedelta

    from vault.services.fixity import find_orphans

    a = people.archivist
    send(api, a, stack_pdf([content("waiting")]))
    assert len(list(vault.blobs.keys())) == 1 and find_orphans(vault, timedelta(0)) == []  # the sweep keeps it
    part = api.get(a, "/api/v1/intake/unfiled").get_json()["items"][0]["part_id"]
    api.post(a, f"/api/v1/intake/unfiled/{part}/discard")
    assert list(vault.blobs.keys()) == []
