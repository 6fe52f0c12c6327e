"""Large stacks left to the worker, and the scanner's watched folder: nothing lost, a crash resumes, a bad
file is put aside with its reason and the folder keeps working."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from indexer import intake_folder
from indexer.worker import run_pending
from tests.conftest import Api, People
from tests.support.multipart import post_file
from tests.support.paper_stack import content, separator, stack_pdf
from vault.core import Vault
from vault.intake_models import IntakeStack, StackStatus
from vault.models import Document
from vault.services import intake as intake_service
from web.deps import runtime_of


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "scans").mkdir()
    return {"intake_sync_max_bytes": 2000, "intake_folder": str(tmp_path / "scans"),
            "intake_folder_user": "archivist"}


def drop(folder: Path, name: str, data: bytes) -> Path:
    """A file as the scanner leaves it: written, and old enough to be complete."""
    path = folder / name
    path.write_bytes(data)
    past = time.time() - 60
    os.utime(path, (past, past))
    return path


def documents_in(vault: Vault, dossier_id: int) -> list[int]:
    with vault.session() as s:
        return list(s.scalars(select(Document.id).where(Document.dossier_id == dossier_id)).all())


def test_a_large_stack_is_queued_and_the_worker_files_it(api: Api, people: People, vault: Vault) -> None:
    a = people.archivist
    d1 = api.new_dossier(a)
    assert run_pending(vault, runtime_of(api.client.application).index) == 1  # the new customer's card
    data = stack_pdf([separator(d1["archive_no"], "invoice"), content("i1"), content("i2")])
    r = post_file(api.client, "/api/v1/intake", api.headers(a), {}, "big.pdf", data)
    assert r.status_code == 202
    url = r.get_json()["status_url"]
    assert api.get(a, url).get_json()["status"] == "queued"
    assert run_pending(vault, runtime_of(api.client.application).index, limit=1) == 1
    body = api.get(a, url).get_json()
    assert body["status"] == "done" and body["done_pages"] == 3
    assert [(f["dossier_id"], f["pages"]) for f in body["filed"]] == [(d1["id"], 2)]
    with vault.session() as s:  # the stored stack is gone once its parts are documents
        assert s.scalar(select(IntakeStack.blob_key)) is None


def test_the_folder_files_a_stack_then_removes_it(api: Api, people: People, vault: Vault) -> None:
    d1 = api.new_dossier(people.archivist)
    folder = vault.settings.intake_folder
    assert folder is not None
    drop(folder, "scan-001.pdf", stack_pdf([separator(d1["archive_no"]), content("a"), content("b")]))
    (folder / "scan-002.pdf").write_bytes(b"%PDF-1.4 still being written")  # too fresh: left alone
    done = intake_folder.poll_folder(vault)
    assert done["filed"] == ["scan-001.pdf"] and not (folder / "scan-001.pdf").exists()
    assert (folder / "scan-002.pdf").exists() and len(documents_in(vault, d1["id"])) == 1


def test_a_crash_in_the_middle_resumes_without_filing_twice(api: Api, people: People, vault: Vault,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    a = people.archivist
    d1, d2, d3 = (api.new_dossier(a) for _ in range(3))
    folder = vault.settings.intake_folder
    assert folder is not None
    drop(folder, "stack.pdf", stack_pdf([separator(d1["archive_no"]), content("1"), separator(d2["archive_no"]),
                                         content("2"), separator(d3["archive_no"]), content("3")]))
    real = intake_service.file_part
    calls: list[int] = []

    def dies_at_the_second_part(*args: Any, **kw: Any) -> Any:
        # fault injection (a killed process cannot be run inside this test): the second part never commits
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("power cut")
        return real(*args, **kw)

    monkeypatch.setattr(intake_service, "file_part", dies_at_the_second_part)
    done = intake_folder.poll_folder(vault)
    assert done["later"] == ["stack.pdf"] and (folder / "stack.pdf").exists()  # not lost
    assert [len(documents_in(vault, d["id"])) for d in (d1, d2, d3)] == [1, 0, 0]
    monkeypatch.setattr(intake_service, "file_part", real)
    done = intake_folder.poll_folder(vault)
    assert done["filed"] == ["stack.pdf"] and not (folder / "stack.pdf").exists()
    assert [len(documents_in(vault, d["id"])) for d in (d1, d2, d3)] == [1, 1, 1]
    with vault.session() as s:
        assert s.scalar(select(func.count()).select_from(IntakeStack)) == 1
        assert s.scalar(select(IntakeStack.status)) is StackStatus.DONE


def test_a_bad_file_moves_to_rejected_with_its_reason_and_the_next_stack_is_filed(api: Api, people: People,
                                                                                  vault: Vault) -> None:
    d1 = api.new_dossier(people.archivist)
    folder = vault.settings.intake_folder
    assert folder is not None
    drop(folder, "a-broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n")
    drop(folder, "b-photo.jpg", b"\xff\xd8\xff\xe0 not a pdf at all")
    drop(folder, "c-good.pdf", stack_pdf([separator(d1["archive_no"]), content("fine")]))
    done = intake_folder.poll_folder(vault)
    assert sorted(done["rejected"]) == ["a-broken.pdf", "b-photo.jpg"] and done["filed"] == ["c-good.pdf"]
    assert sorted(p.name for p in folder.iterdir()) == ["rejected"]
    reason = (folder / "rejected" / "b-photo.jpg.reason.txt").read_text(encoding="utf-8")
    assert "not a PDF" in reason
    assert "could not be read" in (folder / "rejected" / "a-broken.pdf.reason.txt").read_text(encoding="utf-8")
    assert len(documents_in(vault, d1["id"])) == 1


def test_the_worker_polls_the_folder_only_when_one_is_set(vault: Vault) -> None:
    from dataclasses import replace

    from indexer.periodic import periodic_tasks

    tasks = dict(periodic_tasks(vault))
    assert tasks[intake_folder.poll_intake_folder] == vault.settings.intake_poll_interval_s
    vault.settings = replace(vault.settings, intake_folder=None)
    assert intake_folder.poll_intake_folder not in dict(periodic_tasks(vault))
