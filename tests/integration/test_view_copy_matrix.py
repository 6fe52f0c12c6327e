"""The view/copy matrix: for each checkout kind and file type, what every endpoint hands the checkout holder.

Endpoints: the API content (as a download and inline, with a bearer token and with a browser's session
cookie), the document page (the viewer) and its page images. Nothing but a stamped or watermarked
rendering may leave for a checkout holder: never the original bytes, never an unmarked file. The marks
are read back from what was returned: the text of the stamped PDF, and the watermark band of each page
image read by the real Tesseract.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image, ImageDraw
from pypdf import PdfReader
from sqlalchemy import select

from indexer import ocr
from indexer.search_index import SearchIndex
from indexer.worker import run_pending
from tests.conftest import Api, People
from tests.integration.test_pages import sign_in
from tests.support.workflow_fixtures import DOCX, JPG, PDF, PNG, upload
from vault.clock import FixedClock
from vault.core import Vault
from vault.models import AuditEvent, User

KINDS = ("view", "copy", "physical")
TYPES = ("pdf", "docx", "png", "jpeg", "tiff")
WATERMARK_BAND = 40  # pixels: the bottom band of a watermarked page holds the label on one line


def _tiff(path: Path) -> Path:
    """A two-page TIFF scan (no TIFF is in the corpus)."""
    frames = []
    for n in (1, 2):
        frame = Image.new("RGB", (620, 860), (250, 250, 245))
        ImageDraw.Draw(frame).text((40, 40), f"TIFF scan page {n}", fill=(0, 0, 0))
        frames.append(frame)
    frames[0].save(path, save_all=True, append_images=frames[1:])
    return path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Matrix:
    docs: dict[str, int]  # file type -> document id
    files: dict[str, bytes]  # file type -> the uploaded bytes
    holders: dict[str, tuple[User, int]]  # checkout kind -> (reader, checkout id)


@pytest.fixture
def matrix(api: Api, people: People, vault: Vault, index: SearchIndex, tmp_path: Path) -> Matrix:
    d = api.new_dossier(people.archivist)
    assert run_pending(vault, index) == 1  # the new customer's card
    paths = {"docx": DOCX, "pdf": PDF, "png": PNG, "jpeg": JPG, "tiff": _tiff(tmp_path / "scan.tif")}
    docs = {"docx": upload(api, people.archivist, d["id"], DOCX, doc_type="correspondence")["id"]}
    assert run_pending(vault, index, limit=1) == 1  # the DOCX's text (no OCR needed): its pages are made from it
    for kind in ("pdf", "png", "jpeg", "tiff"):
        docs[kind] = upload(api, people.archivist, d["id"], paths[kind], doc_type="other")["id"]
    holders = {}
    for kind in KINDS:
        reader = people.make(f"reader_{kind}", "employee")
        r = api.post(reader, "/api/v1/checkouts", json={"dossier_id": d["id"], "purpose": "授信复核", "kind": kind,
                                                        "days": 7})
        assert r.status_code == 201, r.get_json()
        assert api.post(people.archivist, f"/api/v1/checkouts/{r.get_json()['id']}/approve",
                        json={"comment": "ok"}).status_code == 200
        holders[kind] = (reader, r.get_json()["id"])
    return Matrix(docs, {k: p.read_bytes() for k, p in paths.items()}, holders)


def _browser(app: Flask, user: User) -> FlaskClient:
    c = app.test_client()
    assert sign_in(c, user.username).status_code == 302
    return c


def _label(kind: str, reader: User, checkout_id: int, clock: FixedClock) -> str:
    prefix = "借阅复制件 COPY" if kind == "copy" else "借阅查看 VIEW"
    return f"{prefix} · {reader.username} ({reader.username}) · checkout #{checkout_id} · " \
           f"{clock.now().isoformat(timespec='seconds')}"


def _ocr_band(png: bytes) -> str:
    image = Image.open(io.BytesIO(png))
    band = image.crop((0, image.height - WATERMARK_BAND, image.width, image.height))
    return ocr.run_tesseract(ocr.prepare(band, None), "eng", psm=7, timeout_s=60)


def _viewer_pages(api: Api, reader: User, doc_id: int) -> list[str]:
    html = api.get(reader, f"/documents/{doc_id}").get_data(as_text=True)
    return re.findall(rf'src="(/documents/{doc_id}/pages/\d+\.png)"', html)


def _assert_watermarked_pages(api: Api, reader: User, checkout_id: int, doc_id: int, upload_bytes: bytes,
                              label: str) -> None:
    pages = _viewer_pages(api, reader, doc_id)
    assert pages, f"document {doc_id}: the viewer shows no page"
    for n, url in enumerate(pages, start=1):
        r = api.get(reader, url)
        assert r.status_code == 200 and r.mimetype == "image/png", (url, r.status_code)
        assert _sha(r.data) != _sha(upload_bytes)
        assert Image.open(io.BytesIO(r.data)).info.get("Watermark") == label
        if n == 1:  # the mark is in the pixels, where a screenshot or a saved image keeps it
            seen = _ocr_band(r.data)
            assert reader.username in seen and f"checkout #{checkout_id}" in seen, (url, seen)
    assert api.get(reader, f"/documents/{doc_id}/pages/{len(pages) + 1}.png").status_code == 404


def test_a_view_checkout_gets_watermarked_pages_and_never_a_file(app: Flask, api: Api, matrix: Matrix,
                                                                 clock: FixedClock, vault: Vault) -> None:
    reader, checkout_id = matrix.holders["view"]
    cookie = _browser(app, reader)
    label = _label("view", reader, checkout_id, clock)
    for kind in TYPES:
        doc_id = matrix.docs[kind]
        for url in (f"/api/v1/documents/{doc_id}/content", f"/api/v1/documents/{doc_id}/content?disposition=inline",
                    f"/api/v1/documents/{doc_id}/content?version=1"):
            for r in (api.get(reader, url), cookie.get(url)):
                assert r.status_code == 403 and r.get_json()["error"]["code"] == "view_only", (kind, url)
        html = api.get(reader, f"/documents/{doc_id}").get_data(as_text=True)
        assert "/content" not in html and 'id="watermark-note"' in html, kind
        _assert_watermarked_pages(api, reader, checkout_id, doc_id, matrix.files[kind], label)
    _assert_only_marked_reads_were_audited(vault, reader, checkout_id)


def test_a_copy_checkout_gets_stamped_pdfs_and_watermarked_pages_for_every_type(
        app: Flask, api: Api, matrix: Matrix, clock: FixedClock, vault: Vault) -> None:
    reader, checkout_id = matrix.holders["copy"]
    cookie = _browser(app, reader)
    stamp = f"checkout #{checkout_id}"
    for kind in TYPES:
        doc_id = matrix.docs[kind]
        for url in (f"/api/v1/documents/{doc_id}/content", f"/api/v1/documents/{doc_id}/content?disposition=inline"):
            for by_cookie in (False, True):  # one streamed response at a time: each is read to its end
                r = cookie.get(url) if by_cookie else api.get(reader, url)
                assert r.status_code == 200 and r.mimetype == "application/pdf", (kind, url, r.status_code)
                assert _sha(r.data) != _sha(matrix.files[kind])
                pages = PdfReader(io.BytesIO(r.data)).pages
                expected = {"pdf": 2, "tiff": 2}.get(kind)
                assert expected is None or len(pages) == expected, (kind, len(pages))
                for page in pages:
                    text = page.extract_text()
                    assert reader.username in text and stamp in text, (kind, text[:200])
                assert f"_copy-{checkout_id}.pdf" in r.headers["Content-Disposition"]
        html = api.get(reader, f"/documents/{doc_id}").get_data(as_text=True)
        assert f'href="/api/v1/documents/{doc_id}/content"' in html, "the download is the stamped copy"
        _assert_watermarked_pages(api, reader, checkout_id, doc_id, matrix.files[kind],
                                  _label("copy", reader, checkout_id, clock))
    _assert_only_marked_reads_were_audited(vault, reader, checkout_id)


def test_a_physical_checkout_gets_no_electronic_content_of_any_type(app: Flask, api: Api, matrix: Matrix) -> None:
    reader, _ = matrix.holders["physical"]
    cookie = _browser(app, reader)
    for kind in TYPES:
        doc_id = matrix.docs[kind]
        for url in (f"/api/v1/documents/{doc_id}/content", f"/api/v1/documents/{doc_id}/content?disposition=inline",
                    f"/documents/{doc_id}/pages/1.png"):
            assert api.get(reader, url).status_code == 403 and cookie.get(url).status_code == 403, (kind, url)
        html = api.get(reader, f"/documents/{doc_id}").get_data(as_text=True)
        assert 'id="no-access"' in html and "/pages/1.png" not in html and "/content" not in html


def test_content_roles_keep_reading_originals_and_unmarked_pages(api: Api, people: People, matrix: Matrix) -> None:
    for kind in TYPES:
        doc_id = matrix.docs[kind]
        r = api.get(people.legal, f"/api/v1/documents/{doc_id}/content?disposition=inline")
        assert r.status_code == 200 and _sha(r.data) == _sha(matrix.files[kind]), kind
        page = api.get(people.legal, f"/documents/{doc_id}/pages/1.png")
        assert page.status_code == 200 and "Watermark" not in Image.open(io.BytesIO(page.data)).info, kind
        html = api.get(people.legal, f"/documents/{doc_id}").get_data(as_text=True)
        assert 'id="watermark-note"' not in html


def _assert_only_marked_reads_were_audited(vault: Vault, reader: User, checkout_id: int) -> None:
    """Every read the holder made is audited with the checkout and says it was stamped or watermarked."""
    with vault.session() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.actor_id == reader.id,
                                                    AuditEvent.action.like("document.read%"))).all()
        details: list[dict[str, Any]] = [json.loads(e.details) for e in events]
    assert details and all(e.action == "document.read" for e in events)
    assert all(d["checkout_id"] == checkout_id and (d.get("stamped") or d.get("watermarked")) for d in details)
