"""Workflow test helpers: documents with chosen dates, the real search index and probes of it, the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from indexer.analyzer import normalize
from indexer.search_index import SearchIndex
from tests.corpus import SYNTHETIC
from vault.core import Vault
from web.bootstrap import Runtime

PDF = SYNTHETIC / "C01/02_contract_HYGL-JG-20220309-062.pdf"
PDF2 = SYNTHETIC / "C01/06_bank_statement.pdf"
PNG = SYNTHETIC / "C01/01_营业执照副本.png"
JPG = SYNTHETIC / "C01/05_法定代表人身份证明书.jpg"
DOCX = SYNTHETIC / "C01/04_关于调整信用额度的函.docx"
OLD = "1990-01-01"  # every retention period has ended for a document this old


@pytest.fixture
def index(runtime: Runtime) -> SearchIndex:
    """The real index of the runtime the app is built on (Whoosh at `vault.settings.index_path` unless the test
    chose another engine); empty until the worker runs."""
    return runtime.index


def index_files_hold(vault: Vault, term: str) -> bool:
    """Whether `term` (as the analyzer indexes it: casefolded) is anywhere in the bytes of the index's files."""
    needle = normalize(term).encode("utf-8")
    return any(needle in p.read_bytes() for p in vault.settings.index_path.rglob("*") if p.is_file())


def search_ids(api: Any, user: Any, text: str) -> list[int]:
    """The document ids a search through the API finds for `user` (every page is one page here)."""
    r = api.get(user, "/api/v1/search", query_string={"q": text, "per_page": 100})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["total"] == len(body["items"]), body
    return [item["document_id"] for item in body["items"]]


def upload(api: Any, user: Any, dossier_id: int, path: Path = PDF, *, doc_type: str = "contract",
           doc_date: str | None = OLD, title: str | None = None) -> dict[str, Any]:
    r = api.upload(user, dossier_id, path, doc_type=doc_type, doc_date=doc_date, title=title)
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


def run_cli(vault: Vault, *args: str, input: str | None = None) -> Result:
    """Run `dossier ...` against the test vault's home."""
    from web.cli import main

    result = CliRunner().invoke(main, list(args), input=input, env={"DOSSIER_HOME": str(vault.settings.home)},
                                catch_exceptions=False)
    return result
