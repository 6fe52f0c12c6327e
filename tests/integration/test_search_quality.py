"""Search quality on the synthetic corpus: every query returns exactly its expected text-layer files.

The expected sets in queries.json come from a substring rule (see its "matching" entry); this test
indexes the text layer of every PDF and DOCX and asserts each engine (Whoosh, SQLite FTS5, PostgreSQL)
gives the same answers. The
text is read with pypdf and python-docx right here, deliberately small and independent of the real
extractor, so that a change there cannot hide a change in search.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from indexer.query import parse_query
from indexer.search_index import IndexDoc, SearchFilters, SearchIndex
from indexer.service import open_index
from tests.corpus import SYNTHETIC, manifest, text_layer
from vault.db import make_engine
from vault.policy import Scope

FULL = Scope(
    all_dossiers_up_to=("public", "internal", "confidential", "secret"),
    dossier_ids=frozenset(),
    document_ids=frozenset(),
)
QUERIES: list[dict[str, Any]] = json.loads((SYNTHETIC / "queries.json").read_text(encoding="utf-8"))[
    "queries"
]


@pytest.fixture(scope="module")
def documents() -> tuple[list[IndexDoc], dict[int, str]]:
    """The text-layer files as documents to index, with the corpus path of each document id."""
    files = [f for f in manifest(SYNTHETIC)["files"] if f["has_text_layer"]]
    paths = {i: f["path"] for i, f in enumerate(files, start=1)}
    docs = [
        IndexDoc(
            document_id=i,
            dossier_id=int(f["customer_id"].removeprefix("C")),
            archive_no=f"KH-2026-{f['customer_id']}",
            doc_type=f["doc_type"],
            doc_date=None,
            secrecy="internal",
            title=f["title"],
            content=text_layer(SYNTHETIC / f["path"]),
        )
        for i, f in enumerate(files, start=1)
    ]
    return docs, paths


@pytest.fixture(scope="module", params=["whoosh", "fts5", "pg"])
def corpus(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    documents: tuple[list[IndexDoc], dict[int, str]],
) -> Iterator[tuple[SearchIndex, dict[int, str]]]:
    """The text-layer files indexed by one engine, with the corpus path of each document id."""
    docs, paths = documents
    database = make_engine(request.getfixturevalue("pg_fresh_database")()) if request.param == "pg" else None
    ix = open_index(str(request.param), tmp_path_factory.mktemp("quality") / "index", database)
    ix.add(docs)
    yield ix, paths
    if database is not None:
        database.dispose()


def as_typed(query: dict[str, Any]) -> str:
    """What a user types: a phrase in quotes, all-terms mode as the words themselves."""
    return f'"{query["query"]}"' if query["mode"] == "phrase" else str(query["query"])


def test_the_corpus_has_the_text_layer_files_the_queries_expect(
    corpus: tuple[SearchIndex, dict[int, str]],
) -> None:
    ix, paths = corpus
    assert ix.doc_count() == 50
    expected = {p for q in QUERIES for p in q["expected_text_layer"]}
    assert expected <= set(paths.values())


@pytest.mark.parametrize("query", QUERIES, ids=[f"{q['id']}-{q['kind']}" for q in QUERIES])
def test_a_corpus_query_returns_exactly_its_expected_text_layer_files(
    corpus: tuple[SearchIndex, dict[int, str]], query: dict[str, Any]
) -> None:
    ix, paths = corpus
    result = ix.search(parse_query(as_typed(query)), FULL, SearchFilters(), page=1, per_page=100)
    assert not result.partial
    assert sorted(paths[h.document_id] for h in result.hits) == sorted(query["expected_text_layer"])
    assert result.total == len(query["expected_text_layer"])


@pytest.mark.parametrize("query", [q for q in QUERIES if q["mode"] == "phrase" and " " not in q["query"]])
def test_a_phrase_without_spaces_needs_no_quotes(
    corpus: tuple[SearchIndex, dict[int, str]], query: dict[str, Any]
) -> None:
    ix, paths = corpus
    result = ix.search(parse_query(query["query"]), FULL, SearchFilters(), page=1, per_page=100)
    assert sorted(paths[h.document_id] for h in result.hits) == sorted(query["expected_text_layer"])


def test_the_negative_queries_find_nothing(corpus: tuple[SearchIndex, dict[int, str]]) -> None:
    ix, _ = corpus
    negatives = [q for q in QUERIES if q["kind"].startswith("negative")]
    assert len(negatives) == 3
    for q in negatives:
        assert ix.search(parse_query(as_typed(q)), FULL, SearchFilters(), page=1, per_page=10).total == 0


def test_a_dossier_filter_keeps_one_customers_files(corpus: tuple[SearchIndex, dict[int, str]]) -> None:
    ix, paths = corpus
    c06 = ix.search(parse_query("违约责任"), FULL, SearchFilters(dossier_id=6), page=1, per_page=100)
    assert sorted(paths[h.document_id] for h in c06.hits) == [
        "C06/02_contract_HYGL-KJ-20231024-087.pdf",
        "C06/04_催款函.docx",
    ]
