"""What only the PostgreSQL engine does: quoting its own tsvector and tsquery text, chunking long
documents, and paging past the ranked matches with an exact total (on the session's one test server).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event, text

from indexer import pg_index
from indexer.pg_index import MAX_POSITIONS, OVERLAP, WINDOW, PgIndex, chunks
from indexer.query import parse_query
from indexer.search_index import SearchFilters
from tests.support.index_docs import doc
from vault.db import make_engine
from vault.policy import Scope

FULL = Scope(("public", "internal", "confidential", "secret"), frozenset(), frozenset())


@pytest.fixture
def ix(pg_url: str) -> Iterator[PgIndex]:
    engine = make_engine(pg_url)
    yield PgIndex(engine)
    engine.dispose()


def found(ix: PgIndex, q: str, page: int = 1, per_page: int = 50) -> tuple[int, list[int]]:
    result = ix.search(parse_query(q), FULL, SearchFilters(), page, per_page)
    return result.total, [h.document_id for h in result.hits]


def test_quotes_backslashes_and_operators_in_the_text_are_matched_as_text(ix: PgIndex) -> None:
    ix.add([doc(1, r"O'Brien paid via C:\payments\q3 <-> & | ! : done"), doc(2, "Brien paid")])
    assert found(ix, "\"O'Brien\"") == (1, [1])
    assert found(ix, r'"C:\payments\q3"') == (1, [1])
    assert found(ix, '"q3 <-> & | ! : done"') == (1, [1])
    assert found(ix, '"q3 & done"') == (0, [])


def test_chunks_overlap_and_keep_a_lexeme_under_the_tsvector_position_limit() -> None:
    tokens = [f"t{i}" for i in range(3000)]
    parts = list(chunks(tokens))
    assert all(len(p) <= WINDOW for p in parts) and parts[0][-OVERLAP:] == parts[1][:OVERLAP]
    assert [t for p in parts for t in p if t == "t2999"] == ["t2999"]
    dashes = list(chunks(["-"] * 1000 + ["end"]))
    assert all(p.count("-") <= MAX_POSITIONS for p in dashes) and dashes[-1][-1] == "end"


def test_pages_past_the_ranked_matches_list_the_older_ones_and_every_page_counts_them_all(
        ix: PgIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_index, "RANKED_MATCHES", 3)  # 1,000 in production
    ix.add([doc(i, "验收标准 " * i) for i in range(1, 9)])
    pages = [found(ix, "验收标准", page, 2) for page in (1, 2, 3, 4, 5)]
    assert {total for total, _ in pages} == {8}
    listed = [i for _, ids in pages for i in ids]
    assert sorted(listed) == list(range(1, 9)) and pages[-1][1] == []
    assert set(listed[:3]) == {6, 7, 8}, "the newest three are ranked first"
    assert listed[3:] == [5, 4, 3, 2, 1], "then the older ones, newest first"


def test_a_query_matching_more_than_are_counted_finds_the_newest_and_says_its_total_is_at_least(
        ix: PgIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_index, "COUNTED_MATCHES", 4)  # 1,000 in production
    ix.add([doc(i, "甲方 验收标准 乙方") for i in range(1, 8)] + [doc(8, "标准验收")])
    for q in ("验收标准", '"甲方 验收标准 乙方"', "甲方 乙方"):
        result = ix.search(parse_query(q), FULL, SearchFilters(), 1, 10)
        assert (result.total, result.total_exact) == (4, False), q
        assert sorted(h.document_id for h in result.hits) == [4, 5, 6, 7], f"{q}: the newest four"
    narrow = ix.search(parse_query("验收标准"), FULL, SearchFilters(dossier_id=1, doc_type="contract"), 1, 10)
    assert narrow.total_exact is False
    few = ix.search(parse_query('"标准 乙方"'), FULL, SearchFilters(), 1, 10)
    assert few.total == 4 and not few.total_exact
    one = ix.search(parse_query("标准验收"), FULL, SearchFilters(), 1, 10)
    assert (one.total, one.total_exact, [h.document_id for h in one.hits]) == (1, True, [8])


def test_a_document_too_big_for_one_tsvector_is_found_by_its_chunks(
        ix: PgIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_index, "TERMS_MAX_BYTES", 2_000)  # 600 KB in production
    filler = " ".join(f"词{i:04d}" for i in range(600))
    ix.add([doc(1, f"{filler} 青岛有限公司签约 letter of credit {filler} 仲裁"), doc(2, "青岛有限公司 仲裁")])
    with ix.engine.connect() as conn:
        terms = dict(conn.execute(text("SELECT document_id, terms IS NULL FROM search_documents")).all())
    assert terms == {1: True, 2: False}
    assert found(ix, "有限公司")[0] == 2
    assert found(ix, '"letter of credit"') == (1, [1])
    assert found(ix, "青岛有限公司签约") == (1, [1]), "a long phrase in a chunk's positions"
    assert found(ix, "有限公司 仲裁")[0] == 2, "two terms, in different chunks of the big one"
    assert found(ix, "签") == (1, [1]), "a lone character as a prefix"
    assert found(ix, "词0599 仲裁") == (1, [1])


def test_a_phrase_is_found_only_where_its_tokens_are_contiguous_whether_kept_whole_or_by_positions(
        ix: PgIndex) -> None:
    ix.add([doc(1, "青岛有限公司签约 letter of credit 法定代表人：张三 it's"),
            doc(2, "有限责任 限公 公司 credit letter of 法定代表 代表人 it s")])
    assert found(ix, "有限公司") == (1, [1]), "three bigrams: one lexeme of grams"
    assert found(ix, "限公司") == (1, [1])
    assert found(ix, '"letter of credit"') == (1, [1])
    assert found(ix, "法定代表人") == (1, [1]), "four bigrams: positions, in chunks holding both runs of three"
    assert found(ix, "\"it's\"") == (1, [1])
    assert found(ix, "有限")[0] == 2


def test_with_several_terms_the_rarer_one_weighs_more_in_the_ranking(ix: PgIndex) -> None:
    ix.add([doc(i, "付款 其他 条款") for i in range(1, 7)]
           + [doc(7, "付款 " * 6 + "仲裁"), doc(8, "付款 " + "仲裁 " * 3)])
    with ix.engine.begin() as conn:  # what autovacuum does: the ranking reads the lexemes' statistics
        conn.execute(text("ANALYZE search_chunks"))
    assert found(ix, "付款 仲裁") == (2, [8, 7]), "仲裁 is in 2 of 8 documents, 付款 in all"


def test_a_common_word_is_looked_for_among_the_newest_first_and_elsewhere_when_they_hold_too_few(
        ix: PgIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_index, "COUNTED_MATCHES", 3)  # 1,000 in production
    monkeypatch.setattr(pg_index, "RECENT_GROUP", 4)  # 1,024 in production
    ix.add([doc(i, "付款 条款", doc_type="invoice" if i <= 5 else "contract") for i in range(1, 61)]
           + [doc(i, "付款" if i % 5 == 0 else "条款") for i in range(61, 121)])
    newest = ix.search(parse_query("付款"), FULL, SearchFilters(), 1, 10)
    assert (sorted(h.document_id for h in newest.hits), newest.total, newest.total_exact) == ([110, 115, 120], 3, False)
    assert sorted(h.document_id for h in ix.search(parse_query("条款"), FULL, SearchFilters(), 1, 10).hits) == [
        117, 118, 119], "the newest four groups hold enough"
    older = ix.search(parse_query("付款"), FULL, SearchFilters(doc_type="invoice"), 1, 10)
    assert sorted(h.document_id for h in older.hits) == [3, 4, 5], "none among the newest: looked for everywhere"
    few = ix.search(parse_query("付款"), FULL, SearchFilters(date_from=date(2030, 1, 1)), 1, 10)
    assert (few.total, few.total_exact, few.hits) == (0, True, [])


def test_older_groups_are_asked_for_a_few_at_a_time_and_no_further_than_the_matches_wanted(
        ix: PgIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    """A filter matching few of the newest documents makes the search ask for many older groups: one GIN scan
    ORing 370 groups took 611 ms at 1,000,000 documents (the scan compares every group's list at each step),
    where scans of STEP_GROUPS take about a millisecond each and stop once enough are found."""
    monkeypatch.setattr(pg_index, "COUNTED_MATCHES", 3)  # 1,000 in production
    monkeypatch.setattr(pg_index, "RECENT_GROUP", 4)  # 1,024 in production
    monkeypatch.setattr(pg_index, "STEP_GROUPS", 2)  # 8 in production
    ix.add([doc(i, "付款 条款", doc_type="invoice" if i % 16 == 0 else "contract") for i in range(1, 201)])
    groups: list[int] = []

    def ored(conn: object, cursor: Any, statement: str, parameters: Any, context: object, many: bool) -> None:
        if statement.startswith("WITH candidates"):
            groups.append(parameters["dq"].count("|") + 1 if "|" in parameters["dq"] else 0)

    event.listen(ix.engine, "before_cursor_execute", ored)
    try:
        result = ix.search(parse_query("付款"), FULL, SearchFilters(doc_type="invoice"), 1, 10)
    finally:
        event.remove(ix.engine, "before_cursor_execute", ored)
    assert (sorted(h.document_id for h in result.hits), result.total, result.total_exact) == (
        [160, 176, 192], 3, False)
    # the newest 4 groups hold one invoice in 16 documents: 19 more groups should hold the 3 more wanted, asked
    # for 2 at a time until the 4th match (144, in group 36) is found, never everything older
    assert groups[0] == 4 and 0 not in groups and max(groups[1:]) == 2, groups
    assert len(groups) == 1 + 6, groups


def test_the_customer_files_negative_keys_are_found_by_a_broad_and_a_narrow_scope(
        ix: PgIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_index, "RECENT_GROUP", 4)  # 1,024 in production: -41 lies far below the newest groups
    ix.add([doc(i, "付款 条款") for i in (1, 2, 3)] + [doc(-41, "付款 客户卡片", dossier_id=7)])
    total, ids = found(ix, "付款")
    assert (total, sorted(ids)) == (4, [-41, 1, 2, 3]), "every dossier: the newest groups, then everything older"
    own = Scope(None, frozenset({7}), frozenset())
    assert [h.document_id for h in ix.search(parse_query("付款"), own, SearchFilters(), 1, 10).hits] == [-41]


def test_compacting_rebuilds_the_gin_indexes_and_search_goes_on_finding(ix: PgIndex) -> None:
    for start in range(1, 121, 20):  # as the worker and a reindex add them: batch by batch
        ix.add([doc(i, f"付款 条款 编号{i}") for i in range(start, start + 20)])
    files = "SELECT relname, pg_relation_filenode(oid) FROM pg_class WHERE relname LIKE 'ix_search_%grams' " \
            "OR relname = 'ix_search_documents_terms'"
    with ix.engine.connect() as conn:
        before = dict(conn.execute(text(files)).all())
    ix.compact()
    with ix.engine.connect() as conn:
        after = dict(conn.execute(text(files)).all())
        assert conn.execute(pg_index._HALF_BUILT).all() == []
        assert conn.execute(text("SELECT bool_and(indisvalid) FROM pg_index")).scalar() is True
        assert conn.execute(text("SHOW maintenance_work_mem")).scalar() == "64MB", "the pooled connection reset"
    assert set(after) == set(before) == set(pg_index._GIN_INDEXES)
    assert all(after[name] != before[name] for name in before), "each one written anew"
    assert found(ix, "编号77") == (1, [77]) and found(ix, "付款")[0] == 120


def test_the_newest_id_and_the_health_check_are_read_by_the_primary_key_not_the_whole_table(ix: PgIndex) -> None:
    """Plans, as the search and the health check run them: both once read every row, which only an archive of
    300,000 documents made visible (45 ms per search, 1.6 s per health check), not a test's handful of rows."""
    with ix.engine.begin() as conn:  # enough rows for the planner to tell a key lookup from a scan
        conn.execute(text("INSERT INTO search_documents (document_id, dossier_id, owner_id, secrecy, doc_type, "
                          "terms) SELECT i, i / 7, 1, 'public', 'contract', CAST('付款' AS tsvector) "
                          "FROM generate_series(1, 20000) AS i"))
        conn.execute(text("INSERT INTO search_chunks (document_id, part, tsv, grams) SELECT i, 0, "
                          "CAST('付款' AS tsvector), CAST('付款' AS tsvector) FROM generate_series(1, 20000) AS i"))
        conn.execute(text("ANALYZE search_documents, search_chunks"))
    plans: dict[str, str] = {}

    def explain(conn: object, cursor: Any, statement: str, parameters: Any, context: object, many: bool) -> None:
        for name, start in (("newest", "SELECT max(document_id)"), ("check", "SELECT 1 FROM search_chunks")):
            if statement.startswith(start):  # in the same transaction, under the settings in force then
                cursor.execute("EXPLAIN " + statement, parameters)
                plans[name] = "\n".join(row[0] for row in cursor.fetchall())

    event.listen(ix.engine, "before_cursor_execute", explain)
    try:
        assert found(ix, "付款")[0] >= 1000  # a broad scope: the search that sets its planner settings
        ix.check()
    finally:
        event.remove(ix.engine, "before_cursor_execute", explain)
    assert set(plans) == {"newest", "check"}
    for name, plan in plans.items():
        assert "Index" in plan and "pkey" in plan, (name, plan)
        assert "Seq Scan" not in plan and "Bitmap" not in plan, (name, plan)


@pytest.mark.parametrize("cards", [False, True], ids=["scope", "scope-and-cards"])
def test_an_owners_search_finds_their_documents_by_the_gin_index_without_reading_each_ones_terms(
        ix: PgIndex, cards: bool) -> None:
    """An employee's scope (the dossiers they own, those granted, single documents checked out, and as the search
    service widens it, the customer cards of every dossier within their clearance) is found with the terms by the
    GIN index: read one by one, a common word read 23 KB of terms per document in the scope, and with the card
    levels the search went over every document in the archive (p95 212-263 ms for a common word at 1,000,000).
    The cards (one per dossier within clearance) are looked for after the owner's documents, a few groups of
    keys at a time: found with them, every card holding a common word was sorted to keep the newest documents."""
    with ix.engine.begin() as conn:  # 100 owners of 20,000 documents, as the index writes them
        conn.execute(text(
            "INSERT INTO search_documents (document_id, dossier_id, owner_id, secrecy, doc_type, terms) "
            "SELECT i, i / 7, 1 + (i / 7) % 100, 'internal', 'contract', CAST('付款' AS tsvector) "
            "|| array_to_tsvector(ARRAY[' d' || i / 7, ' o' || 1 + (i / 7) % 100 || ' internal', ' ' || i / 1024]) "
            "FROM generate_series(1, 20000) AS i"))
        # customer cards (negative keys) of one dossier in four, one in three at a level above the employee's
        conn.execute(text(
            "INSERT INTO search_documents (document_id, dossier_id, owner_id, secrecy, doc_type, terms) "
            "SELECT -(d * 4 + 1), d, 1 + d % 100, l, 'card', CAST('付款' AS tsvector) "
            "|| array_to_tsvector(ARRAY[' d' || d, ' o' || 1 + d % 100 || ' ' || l, ' l' || l, "
            "' ' || CAST(floor(-(d * 4 + 1) / 1024.0) AS bigint)]) "
            "FROM generate_series(4, 2857, 4) AS d, LATERAL (SELECT CASE WHEN d % 3 = 0 THEN 'card.secret' "
            "ELSE 'card.internal' END AS l) AS level"))
        conn.execute(text("INSERT INTO search_chunks (document_id, part, tsv, grams) SELECT document_id, 0, "
                          "CAST('付款' AS tsvector), '' FROM search_documents"))
        conn.execute(text("ANALYZE search_documents, search_chunks"))
    owned = frozenset(d for d in range(2858) if d % 100 == 0)
    employee = Scope(None, owned | {7, 8}, frozenset({19999}), 1, ("public", "internal"), frozenset({7, 8}),
                     card_levels=("card.public", "card.internal") if cards else ())
    plans: list[str] = []

    def explain(conn: object, cursor: Any, statement: str, parameters: Any, context: object, many: bool) -> None:
        if statement.startswith("WITH candidates"):  # in the same transaction, under the settings in force then
            cursor.execute("EXPLAIN " + statement, parameters)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))

    event.listen(ix.engine, "before_cursor_execute", explain)
    try:
        result = ix.search(parse_query("付款"), employee, SearchFilters(), 1, 10)
    finally:
        event.remove(ix.engine, "before_cursor_execute", explain)
    card_keys = {d: -(d * 4 + 1) for d in range(4, 2858, 4)}
    # a dossier granted is read wholly, its card too
    expected = {i for i in range(1, 20001) if i // 7 in owned | {7, 8}} | {19999} | {card_keys[8]}
    if cards:
        expected |= {key for d, key in card_keys.items() if d % 3}
    assert (result.total, result.total_exact) == (len(expected), True) and 200 < len(expected) < 1000
    assert {h.document_id for h in result.hits} <= expected and len(result.hits) == 10
    documents, *cards_plans = plans  # the owner's documents first, then the customer files' entries (negative keys)
    assert "' o1 internal'" in documents and "' lcard." not in documents, documents
    assert len(cards_plans) == 2, "the newest groups below 0, then everything older"
    for plan in plans:
        assert "ix_search_documents_terms" in plan and "' o1 internal'" in plan, plan
        assert "' lcard.secret'" not in plan and ("' lcard.internal'" in plan) is (cards and plan != documents), plan
        assert "ix_search_documents_dossier" not in plan, plan
        assert "Seq Scan" not in plan, plan
    # the one document checked out alone is read by its id, and its terms checked: no other document's are
    assert documents.count("Filter: (terms @@") == documents.count("Bitmap Index Scan on search_documents_pkey") == 1
    assert all("search_documents_pkey" not in plan for plan in cards_plans), cards_plans
