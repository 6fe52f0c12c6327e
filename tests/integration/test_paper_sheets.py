"""A dossier's printed sheets: the contents list's running page numbers match the documents' page counts,
and the QR code of each sheet reads back (also from a noisy, slightly rotated scan) as the archive number."""

from __future__ import annotations

import io
import random
import re
from typing import Any

import pypdfium2
import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from indexer.worker import run_pending
from tests.conftest import Api, People
from tests.support.workflow_fixtures import PDF, PDF2, upload
from vault import paper_codes
from vault.core import Vault
from web.deps import runtime_of


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"token_ttl_hours": 24 * 365 * 50}


def _received_dossier(api: Api, people: People, vault: Vault) -> tuple[dict[str, Any], list[int]]:
    """A dossier with two scans and three received paper items (one missing): returns it and the page counts
    in item order, as the documents themselves say."""
    d = api.new_dossier(people.archivist)
    scans = [upload(api, people.archivist, d["id"], PDF), upload(api, people.archivist, d["id"], PDF2)]
    items = [{"title": "采购合同", "doc_type": "contract", "pages": 7, "doc_date": "2026-02-01"},
             {"title": "对账函", "doc_type": "correspondence", "pages": 2, "original": False},
             {"title": "发票", "doc_type": "invoice", "pages": 4}]
    t = api.post(people.employee, "/api/v1/transfers", json={"dossier_id": d["id"], "items": items}).get_json()
    r = api.post(people.archivist, f"/api/v1/transfers/{t['id']}/receive", json={"items": [
        {"index": 1, "state": "present"}, {"index": 2, "state": "missing"}, {"index": 3, "state": "present"}]})
    assert r.status_code == 200, r.get_json()
    run_pending(vault, runtime_of(api.client.application).index)  # the worker counts the scans' pages
    scan_pages = [len(PdfReader(PDF).pages), len(PdfReader(PDF2).pages)]
    counted = [api.get(people.archivist, f"/api/v1/documents/{s['id']}").get_json()["pages"] for s in scans]
    assert counted == scan_pages
    return d, [*scan_pages, 7, 4]


def _codes(image: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image)]


def _raster(pdf: bytes, dpi: int = 150) -> Image.Image:
    return pypdfium2.PdfDocument(pdf)[0].render(scale=dpi / 72).to_pil().convert("L")


def _scanned(image: Image.Image, seed: int = 7) -> Image.Image:
    """What a scanner makes of a printed page: speckles of noise and a page fed 2 degrees askew."""
    rng = random.Random(seed)
    noisy = image.copy()
    px = noisy.load()
    assert px is not None
    w, h = noisy.size
    for _ in range(w * h // 40):
        x, y = rng.randrange(w), rng.randrange(h)
        px[x, y] = 0 if rng.random() < 0.5 else 255
    return noisy.rotate(2.0, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)


def test_the_contents_list_numbers_pages_running_through_the_documents_in_item_order(
        api: Api, people: People, vault: Vault) -> None:
    d, pages = _received_dossier(api, people, vault)
    r = api.get(people.archivist, f"/api/v1/dossiers/{d['id']}/contents.pdf?lang=en")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    titles = [doc["title"] for doc in sorted(api.get(people.archivist, f"/api/v1/dossiers/{d['id']}")
                                              .get_json()["documents"], key=lambda doc: doc["item_no"])
              if doc["title"] != "对账函"]
    printed = []
    for title in titles:  # the page range is the first number (or n-m) after the title on its row
        after = lines[lines.index(title) + 1:]
        printed.append(next(x for x in after if re.fullmatch(r"\d+(-\d+)?", x)))
    expected, start = [], 1
    for n in pages:
        expected.append(str(start) if n == 1 else f"{start}-{start + n - 1}")
        start += n
    assert printed == expected, text
    assert "Contents list" in text and d["archive_no"] in text and "copy" not in text  # the copy was missing
    zh = api.get(people.archivist, f"/api/v1/dossiers/{d['id']}/contents.pdf?lang=zh")
    assert "卷内文件目录" in PdfReader(io.BytesIO(zh.data)).pages[0].extract_text()


def test_the_cover_counts_items_and_pages_and_carries_the_archive_number_as_a_qr_code(
        api: Api, people: People, vault: Vault) -> None:
    d, pages = _received_dossier(api, people, vault)
    r = api.get(people.employee, f"/api/v1/dossiers/{d['id']}/cover.pdf?lang=en")
    assert r.status_code == 200
    text = PdfReader(io.BytesIO(r.data)).pages[0].extract_text()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[lines.index("Items:") + 1] == str(len(pages))
    assert lines[lines.index("Pages:") + 1] == str(sum(pages))
    page = _raster(r.data)
    assert _codes(page) == [paper_codes.encode(d["archive_no"])]
    assert _codes(_scanned(page)) == [paper_codes.encode(d["archive_no"])]


@pytest.mark.parametrize("query, expected_type", [("", None), ("?doc_type=contract", "contract")])
def test_a_separator_sheet_reads_back_from_a_noisy_askew_scan(
        api: Api, people: People, query: str, expected_type: str | None) -> None:
    d = api.new_dossier(people.archivist)
    r = api.get(people.archivist, f"/api/v1/dossiers/{d['id']}/separator.pdf{query}")
    assert r.status_code == 200
    scan = _scanned(_raster(r.data, dpi=200), seed=11)
    decoded = [paper_codes.decode(t) for t in _codes(scan)]
    assert decoded == [paper_codes.SheetCode(d["archive_no"], expected_type)]


def test_the_record_sheet_names_what_was_missing_at_receipt(api: Api, people: People, vault: Vault) -> None:
    d, _pages = _received_dossier(api, people, vault)
    r = api.get(people.archivist, f"/api/v1/dossiers/{d['id']}/record-sheet.pdf?lang=zh")
    assert r.status_code == 200
    text = PdfReader(io.BytesIO(r.data)).pages[0].extract_text()
    assert "卷内备考表" in text and "对账函: 缺失" in text
    assert _codes(_raster(r.data)) == [paper_codes.encode(d["archive_no"])]


def test_sheets_of_a_dossier_above_clearance_are_not_found_and_bad_input_is_refused(
        api: Api, people: People) -> None:
    secret = api.new_dossier(people.make("chief", "archivist", "secret"), secrecy="secret")
    for sheet in ("contents.pdf", "cover.pdf", "record-sheet.pdf", "separator.pdf"):
        assert api.get(people.employee, f"/api/v1/dossiers/{secret['id']}/{sheet}").status_code == 404
    d = api.new_dossier(people.archivist)
    bad = api.get(people.archivist, f"/api/v1/dossiers/{d['id']}/separator.pdf?doc_type=memo")
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "doc_type"
    assert api.get(people.archivist, f"/api/v1/dossiers/{d['id']}/cover.pdf?doc_type=contract").status_code == 422
