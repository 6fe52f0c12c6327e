"""A snippet is escaped exactly once: markup-looking text reads as typed on the page, in the API as
HTML with <mark> hits, and in `dossier search` as plain text; on every search engine (pg on the
session's PostgreSQL test server).
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import docx
import pytest
from flask import Flask

from indexer.search_index import SearchIndex
from indexer.worker import run_pending
from tests.conftest import Api, People
from tests.integration.test_pages import as_user
from vault.core import Vault

TEXT = "Terms & conditions: the buyer's <b>bold</b> clause, called \"Sonderklausel\", applies."
ENGINES = ["whoosh", "fts5", "pg"]


def write_docx(path: Path, text: str) -> Path:
    """A one-paragraph Word document holding ``text``."""
    document = docx.Document()
    document.add_paragraph(text)
    document.save(str(path))
    return path


@pytest.fixture(params=ENGINES)
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "pg":
        return {"search_engine": "pg", "database_url": request.getfixturevalue("pg_url")}
    return {"search_engine": request.param}


def test_the_page_shows_the_snippet_text_as_typed_with_only_the_hit_marked(
        api: Api, people: People, app: Flask, vault: Vault, index: SearchIndex, tmp_path: Path) -> None:
    d = api.new_dossier(people.archivist)
    assert api.upload(people.archivist, d["id"], write_docx(tmp_path / "terms.docx", TEXT)).status_code == 201
    assert run_pending(vault, index) == 2  # the document and the new customer's card
    item = api.get(people.legal, "/api/v1/search", query_string={"q": "Sonderklausel"}).get_json()["items"][0]
    # the API hands over HTML: the text escaped once, the hit in <mark>
    assert "<mark>Sonderklausel</mark>" in item["snippet"]
    assert html.unescape(re.sub(r"</?mark>", "", item["snippet"])) == TEXT
    assert "<b>" not in item["snippet"] and "&amp;amp;" not in item["snippet"]
    page = as_user(app, people.legal).get("/search?q=Sonderklausel&lang=en").get_data(as_text=True)
    snippet = re.search(r'<p class="snippet">(.*?)</p>', page, re.S)
    assert snippet is not None
    assert snippet.group(1).count("<mark>") == 1 and "<mark>Sonderklausel</mark>" in snippet.group(1)
    shown = html.unescape(re.sub(r"</?mark>", "", snippet.group(1)))  # what the browser displays
    assert shown == TEXT
    assert "&amp;amp;" not in page and "&amp;#" not in page and "<b>bold" not in page


def _cli(home: Path, engine: str, *args: str, stdin: str | None = None, database_url: str = ""
         ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    env.update(DOSSIER_HOME=str(home), DOSSIER_SEARCH_ENGINE=engine)
    if database_url:
        env["DOSSIER_DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, "-m", "web.cli", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=300, cwd=Path(__file__).resolve().parents[2])


@pytest.mark.parametrize("engine", ENGINES)
def test_dossier_search_prints_the_snippet_as_plain_text(
        tmp_path: Path, engine: str, request: pytest.FixtureRequest) -> None:
    database_url = str(request.getfixturevalue("pg_url")) if engine == "pg" else ""
    home, corpus = tmp_path / "home", tmp_path / "corpus"
    corpus.mkdir()
    write_docx(corpus / "terms.docx", TEXT)
    (corpus / "manifest.json").write_text(json.dumps({"files": [
        {"path": "terms.docx", "customer": "Snippet GmbH", "doc_type": "contract", "title": "Terms"}]}))
    assert _cli(home, engine, "init", database_url=database_url).returncode == 0
    assert _cli(home, engine, "user", "add", "arch", "--role", "archivist", "--password-stdin",
                stdin="a-long-password-1\n", database_url=database_url).returncode == 0
    imported = _cli(home, engine, "import", str(corpus), "--manifest", str(corpus / "manifest.json"), "--wait",
                    database_url=database_url)
    assert imported.returncode == 0, imported.stderr
    found = _cli(home, engine, "search", "Sonderklausel", "--as", "arch", database_url=database_url)
    assert found.returncode == 0, found.stderr
    assert "1 documents match" in found.stdout
    assert TEXT.replace("Sonderklausel", "*Sonderklausel*") in found.stdout
    assert "&amp;" not in found.stdout and "&#x27;" not in found.stdout and "&lt;" not in found.stdout
