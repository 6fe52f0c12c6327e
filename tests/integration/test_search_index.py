"""Every `SearchIndex` engine on a real index directory: writing, purging, access scope, filters, paging.

Each test runs once per engine (Whoosh, SQLite FTS5, PostgreSQL tsvector on the session's one test
server, a fresh database per test): they must give the same answers.
"""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from indexer.pg_index import PgIndex
from indexer.query import parse_query
from indexer.search_index import SearchFilters, SearchIndex, SearchResult
from indexer.service import open_index
from tests.support.index_docs import doc
from vault.db import make_engine
from vault.errors import Invalid
from vault.policy import Scope

ENGINES = ("whoosh", "fts5", "pg")
FILE_ENGINES = ("whoosh", "fts5")  # those keeping files in an index directory
EVERY_LEVEL = ("public", "internal", "confidential", "secret")
FULL = Scope(all_dossiers_up_to=EVERY_LEVEL, dossier_ids=frozenset(), document_ids=frozenset())
NO_FILTERS = SearchFilters()




def ids(result: SearchResult) -> set[int]:
    return {hit.document_id for hit in result.hits}


def search(
    ix: SearchIndex, q: str, scope: Scope = FULL, filters: SearchFilters = NO_FILTERS
) -> SearchResult:
    """The first 50 hits for the query text."""
    return ix.search(parse_query(q), scope, filters, page=1, per_page=50)


def index_bytes(ix: SearchIndex, path: Path) -> bytes:
    """Everything the index stores: its files, or for pg every stored tsvector as text."""
    if isinstance(ix, PgIndex):
        with ix.engine.connect() as conn:
            return "\n".join(conn.execute(text("SELECT tsv::text FROM search_chunks")).scalars()).encode()
    return b"".join(p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file())


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database(engine: str, request: pytest.FixtureRequest) -> Iterator[Engine | None]:
    """For pg, a fresh migrated database on the session's PostgreSQL server; None for the others."""
    if engine != "pg":
        yield None
        return
    db = make_engine(request.getfixturevalue("pg_url"))
    yield db
    db.dispose()


@pytest.fixture
def ix(engine: str, tmp_path: Path, database: Engine | None) -> SearchIndex:
    return open_index(engine, tmp_path / "index", database)


@pytest.mark.parametrize("engine", FILE_ENGINES)
def test_the_index_directory_and_its_missing_parents_are_created_private(engine: str, tmp_path: Path) -> None:
    open_index(engine, tmp_path / "var" / "index")
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "var" / "index").stat().st_mode) == 0o700


def test_an_added_document_is_found_and_counted(ix: SearchIndex) -> None:
    ix.add([doc(7, "乙方：晋江市宇昌家具实业有限公司", dossier_id=3)])
    result = search(ix, "宇昌家具")
    assert result.total == 1
    assert [(h.document_id, h.dossier_id) for h in result.hits] == [(7, 3)]
    assert result.hits[0].score > 0
    assert not result.partial
    assert ix.doc_count() == 1
    assert ix.document_ids() == {7}


def test_adding_a_document_again_replaces_it(ix: SearchIndex) -> None:
    ix.add([doc(1, "旧版本 oldversion"), doc(2, "其他")])
    ix.add([doc(1, "新版本 newversion")])
    assert ids(search(ix, "newversion")) == {1}
    assert search(ix, "oldversion").total == 0
    assert ix.doc_count() == 2


def test_the_last_of_duplicates_in_one_batch_wins(ix: SearchIndex) -> None:
    ix.add([doc(1, "first"), doc(1, "second")])
    assert ix.doc_count() == 1
    assert ids(search(ix, "second")) == {1}


def test_the_index_reopens_with_its_documents(engine: str, tmp_path: Path, database: Engine | None) -> None:
    open_index(engine, tmp_path / "index", database).add([doc(1, "不可抗力")])
    assert ids(search(open_index(engine, tmp_path / "index", database), "不可抗力")) == {1}


def test_a_deleted_documents_unique_term_is_gone_from_every_file_of_the_index(
    ix: SearchIndex, tmp_path: Path
) -> None:
    unique = "zqxwvpurgecheck7781"
    ix.add([doc(1, f"destroyed {unique} 合同", title=f"title {unique}"), doc(2, "kept 合同")])
    ix.add([doc(3, "later segment 合同")])  # a second segment, untouched by the delete
    assert unique.encode() in index_bytes(ix, tmp_path / "index")

    ix.delete([1])

    assert unique.encode() not in index_bytes(ix, tmp_path / "index")
    assert search(ix, unique).total == 0
    assert ids(search(ix, "合同")) == {2, 3}
    assert ix.document_ids() == {2, 3}


def test_an_old_version_is_purged_too_when_its_document_is_deleted(ix: SearchIndex, tmp_path: Path) -> None:
    ix.add([doc(1, "draft oldversion4417"), doc(2, "kept")])
    ix.add([doc(1, "final text")])

    ix.delete([1])

    assert b"oldversion4417" not in index_bytes(ix, tmp_path / "index")
    assert ix.document_ids() == {2}


def test_deleting_every_document_leaves_an_empty_usable_index(ix: SearchIndex) -> None:
    ix.add([doc(1, "合同"), doc(2, "合同")])
    ix.delete([1, 2, 99])
    assert ix.doc_count() == 0
    assert search(ix, "合同").total == 0
    ix.add([doc(3, "合同")])
    assert ids(search(ix, "合同")) == {3}


def test_clear_removes_everything(ix: SearchIndex, tmp_path: Path) -> None:
    ix.add([doc(1, "clearedterm9912")])
    ix.clear()
    assert ix.doc_count() == 0
    assert b"clearedterm9912" not in index_bytes(ix, tmp_path / "index")


def test_check_passes_on_a_readable_index(ix: SearchIndex) -> None:
    ix.check()


# -- access scope -------------------------------------------------------------------------------


@pytest.fixture
def dossiers(ix: SearchIndex) -> SearchIndex:
    ix.add(
        [
            doc(1, "共同条款 internal", dossier_id=10, secrecy="internal"),
            doc(2, "共同条款 secret", dossier_id=20, secrecy="secret"),
            doc(3, "共同条款 secret too", dossier_id=20, secrecy="secret"),
            doc(4, "共同条款 confidential", dossier_id=30, secrecy="confidential"),
        ]
    )
    return ix


def scope(
    levels: tuple[str, ...] | None = None,
    dossiers: frozenset[int] = frozenset(),
    documents: frozenset[int] = frozenset(),
) -> Scope:
    return Scope(all_dossiers_up_to=levels, dossier_ids=dossiers, document_ids=documents)


def test_a_document_above_the_callers_levels_is_neither_returned_nor_counted(dossiers: SearchIndex) -> None:
    result = search(dossiers, "共同条款", scope(("public", "internal")))
    assert ids(result) == {1}
    assert result.total == 1


def test_an_owner_reads_whole_dossiers_and_a_checkout_grants_single_documents(dossiers: SearchIndex) -> None:
    assert ids(search(dossiers, "共同条款", scope(dossiers=frozenset({20})))) == {2, 3}
    assert ids(search(dossiers, "共同条款", scope(documents=frozenset({4})))) == {4}
    result = search(
        dossiers, "共同条款", scope(("public",), dossiers=frozenset({10}), documents=frozenset({3}))
    )
    assert ids(result) == {1, 3}
    assert result.total == 2


def test_a_scope_of_thousands_of_dossiers_and_documents_is_applied_exactly(dossiers: SearchIndex) -> None:
    many = frozenset(range(1000, 3000))
    owner = scope(dossiers=many | {20}, documents=many | {4})
    result = search(dossiers, "共同条款", owner)
    assert ids(result) == {2, 3, 4}
    assert result.total == 3
    assert search(dossiers, "共同条款", scope(("public",), dossiers=many, documents=many)).total == 0


def test_an_owners_dossiers_within_their_levels_plus_granted_ones_are_read_however_many_they_own(
        ix: SearchIndex) -> None:
    ix.add([
        doc(1, "共同条款 mine", dossier_id=10, secrecy="internal", owner_id=7),
        doc(2, "共同条款 mine but secret", dossier_id=11, secrecy="secret", owner_id=7),
        doc(3, "共同条款 someone else's", dossier_id=20, secrecy="internal", owner_id=8),
        doc(4, "共同条款 granted dossier", dossier_id=30, secrecy="internal", owner_id=8),
        doc(5, "共同条款 granted document", dossier_id=40, secrecy="internal", owner_id=8),
    ])
    many = frozenset(range(1000, 3000))  # owned dossiers without documents: the scope is as wide as a real one
    owner = Scope(all_dossiers_up_to=None, dossier_ids=many | {10, 30}, document_ids=frozenset({5}),
                      owner_id=7, owned_levels=("public", "internal"), granted_dossier_ids=frozenset({30}))
    result = search(ix, "共同条款", owner)
    assert ids(result) == {1, 4, 5} and result.total == 3
    nothing_granted = Scope(None, many | {10}, frozenset(), 7, ("public", "internal"))
    assert ids(search(ix, "共同条款", nothing_granted)) == {1}
    no_levels = Scope(None, frozenset({30}), frozenset(), 7, (), frozenset({30}))
    assert ids(search(ix, "共同条款", no_levels)) == {4}
    also_granted_alone = Scope(None, many | {10, 30}, frozenset({1, 5}), 7, ("public", "internal"), frozenset({30}))
    result = search(ix, "共同条款", also_granted_alone)
    assert ids(result) == {1, 4, 5} and result.total == 3, "a checked-out document of an owned dossier, once"
    ix.add([doc(1, "共同条款 handed over", dossier_id=10, secrecy="internal", owner_id=8)])  # a change of owner
    handed_over = Scope(None, many | {30}, frozenset({5}), 7, ("public", "internal"), frozenset({30}))
    assert ids(search(ix, "共同条款", handed_over)) == {4, 5}
    new_owner = Scope(None, frozenset({10, 20, 30, 40}), frozenset(), 8, ("public", "internal"))
    assert ids(search(ix, "共同条款", new_owner)) == {1, 3, 4, 5}


def test_an_empty_scope_finds_nothing(dossiers: SearchIndex) -> None:
    assert search(dossiers, "共同条款", scope()) == SearchResult(total=0, hits=[], partial=False)
    assert search(dossiers, "共同条款", scope(levels=())).total == 0


def test_every_level_of_the_index_reads_everything_and_a_new_level_is_then_checked(dossiers: SearchIndex) -> None:
    three = ("internal", "confidential", "secret")
    assert search(dossiers, "共同条款", scope(three)).total == 4
    dossiers.add([doc(5, "共同条款 public", dossier_id=40, secrecy="public")])
    result = search(dossiers, "共同条款", scope(three))
    assert ids(result) == {1, 2, 3, 4}
    assert result.total == 4


# -- filters and paging -------------------------------------------------------------------------


def test_filters_narrow_by_type_dossier_and_date(ix: SearchIndex) -> None:
    ix.add(
        [
            doc(1, "付款方式", doc_type="contract", dossier_id=1, doc_date=date(2021, 1, 5)),
            doc(2, "付款方式", doc_type="invoice", dossier_id=1, doc_date=date(2022, 6, 30)),
            doc(3, "付款方式", doc_type="contract", dossier_id=2, doc_date=date(2023, 12, 31)),
            doc(4, "付款方式", doc_type="contract", dossier_id=2, doc_date=None),
            doc(5, "付款方式", doc_type="credit_report", dossier_id=12, doc_date=None),
        ]
    )
    assert ids(search(ix, "付款方式", filters=SearchFilters(doc_type="contract"))) == {1, 3, 4}
    assert ids(search(ix, "付款方式", filters=SearchFilters(doc_type="credit_report"))) == {5}
    assert ids(search(ix, "付款方式", filters=SearchFilters(dossier_id=2))) == {3, 4}
    in_2022 = SearchFilters(date_from=date(2022, 1, 1), date_to=date(2022, 12, 31))
    assert ids(search(ix, "付款方式", filters=in_2022)) == {2}
    assert ids(search(ix, "付款方式", filters=SearchFilters(date_from=date(2022, 6, 30)))) == {2, 3}
    assert ids(search(ix, "付款方式", filters=SearchFilters(date_to=date(2022, 6, 29)))) == {1}
    both = SearchFilters(doc_type="contract", dossier_id=2, date_to=date(2024, 1, 1))
    assert ids(search(ix, "付款方式", filters=both)) == {3}


def test_results_are_paged_and_the_total_counts_them_all(ix: SearchIndex) -> None:
    ix.add([doc(i, "验收标准 " * (i % 5 + 1)) for i in range(1, 26)])
    pages = [ix.search(parse_query("验收标准"), FULL, NO_FILTERS, page=p, per_page=10) for p in (1, 2, 3, 4)]
    assert [len(p.hits) for p in pages] == [10, 10, 5, 0]
    assert {p.total for p in pages} == {25}
    assert len({h.document_id for p in pages for h in p.hits}) == 25
    scores = [h.score for p in pages for h in p.hits]
    assert scores == sorted(scores, reverse=True)


def test_a_chinese_phrase_matches_only_where_its_characters_are_contiguous(ix: SearchIndex) -> None:
    ix.add(
        [
            doc(1, "住所：广州市天河区中山大道西131号6栋"),
            doc(2, "广州市天河区中山大道，西131号6栋"),
            doc(3, "广州市天河区中山大道东131号6栋"),
            doc(4, "广州市天河\n区中山大道西131号6栋"),
        ]
    )
    assert ids(search(ix, "广州市天河区中山大道西131号6栋")) == {1, 4}


def test_a_single_chinese_character_finds_every_word_holding_it(ix: SearchIndex) -> None:
    ix.add([doc(1, "法定代表人：任秋菊"), doc(2, "菊花茶"), doc(3, "秋天")])
    assert ids(search(ix, "菊")) == {1, 2}


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("2023年8月27日", {1}),
        ("年8月", {1}),
        ("27日签", {1}),
        ("日签订", {1}),
        ("8月2", set()),
        ("签订日期", {1, 2}),
        ("期2023", set()),
        ("HYGL-CG", {2}),
        ("HYGL CG", set()),
        ("CG-20220309", {2}),
        ("CG-2022", set()),
        ("hygl-cg-20220309-062。", {2}),
        ("94,813.62", {2}),
        ("94.813", set()),
    ],
)
def test_a_term_mixing_chinese_digits_and_symbols_matches_exactly_where_it_occurs(
    ix: SearchIndex, term: str, found: set[int]
) -> None:
    ix.add(
        [
            doc(1, "于2023年8月27日签订日期", title=""),
            doc(2, "签订日期：2022年3月9日 合同编号：HYGL-CG-20220309-062。金额 94,813.62", title=""),
        ]
    )
    assert ids(search(ix, f'"{term}"')) == found


def test_a_quoted_masked_id_number_matches_exactly_where_it_occurs_and_unquoted_its_digits_anywhere(
    ix: SearchIndex,
) -> None:
    ix.add(
        [
            doc(1, "身份证号：330782********4099 住址：浙江省义乌市", title=""),
            doc(2, "身份证号：330782 4099", title=""),
            doc(3, "身份证号：330782*******4099", title=""),
            doc(4, "编号 a?b~c^d", title=""),
        ]
    )
    assert ids(search(ix, '"330782********4099"')) == {1}
    assert ids(search(ix, '"号：330782********4099 住址"')) == {1}
    assert ids(search(ix, '"330782 4099"')) == {2}
    # outside quotes * separates terms, as a wildcard typed out of habit: both digit runs, anywhere
    assert ids(search(ix, "330782********4099")) == {1, 2, 3}
    assert ids(search(ix, '"a?b~c^d"')) == {4}


def test_every_term_is_required_in_the_content_or_the_title(ix: SearchIndex) -> None:
    ix.add([doc(1, "违约责任 锂电池保护板"), doc(2, "违约责任")])
    ix.add([doc(3, "锂电池保护板", title="违约责任条款")])
    assert ids(search(ix, "违约责任 锂电池保护板")) == {1, 3}


def test_a_phrase_deep_in_a_long_document_is_found_exactly(ix: SearchIndex) -> None:
    # past 16383 positions (where a tsvector stops counting) and after a run of one symbol repeated
    # more often than a tsvector keeps positions of one lexeme
    filler = "甲方乙方 alpha beta, " * 5000 + "-" * 600 + " "
    ix.add([doc(1, filler + "合同编号：HYGL-CG-20220309-062 深圳市宝安区"), doc(2, filler + "HYGL CG 20220309")])
    assert ids(search(ix, '"HYGL-CG-20220309-062"')) == {1}
    assert ids(search(ix, "深圳市宝安区 HYGL-CG")) == {1}
    assert ids(search(ix, '"---- alpha"')) == set()
    assert ids(search(ix, '"---合同编号"')) == {1}
    assert ids(search(ix, '"beta, 甲方乙方"')) == {1, 2}


def test_a_match_in_the_title_ranks_higher(ix: SearchIndex) -> None:
    text = "本合同为资信调查报告附件"
    ix.add([doc(1, text, title="附件"), doc(2, text, title="资信调查报告")])
    assert [h.document_id for h in search(ix, "资信调查报告").hits] == [2, 1]


@pytest.mark.parametrize(("page", "per_page"), [(0, 10), (1, 0), (1, 201), (1000, 100)])
def test_out_of_range_paging_is_invalid(ix: SearchIndex, page: int, per_page: int) -> None:
    with pytest.raises(Invalid):
        ix.search(parse_query("合同"), FULL, NO_FILTERS, page=page, per_page=per_page)


# -- concurrency --------------------------------------------------------------------------------


def test_concurrent_adds_and_deletes_from_threads_are_all_applied(ix: SearchIndex) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            ix.add([doc(n * 100 + i, f"线程 t{n}") for i in range(5)])
            ix.delete([n * 100])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert ix.document_ids() == {n * 100 + i for n in range(1, 7) for i in range(1, 5)}


def test_customer_file_entries_reach_card_viewers_and_content_readers_only(ix: SearchIndex) -> None:
    from indexer.customer_entries import card_scope, decode_key, entry_key
    from vault.models import Role, Secrecy, User

    card, record = entry_key("card", 10), entry_key("record", 5)
    ix.add([
        doc(card, "齿轮箱 card text", dossier_id=10, secrecy="card.internal", owner_id=7, doc_type="card"),
        doc(record, "齿轮箱 record text", dossier_id=10, secrecy="internal", owner_id=7, doc_type="record"),
        doc(5, "齿轮箱 a document checked out alone", dossier_id=20, secrecy="internal", owner_id=8),
    ])
    assert decode_key(card) == ("card", 10) and decode_key(record) == ("record", 5) and decode_key(5) == ("document", 5)

    def widened(scope: Scope, role: Role, clearance: Secrecy) -> Scope:
        return card_scope(scope, User(username="u", role=role, clearance=clearance, active=True))

    other = widened(Scope(None, frozenset(), frozenset({5}), 8, ("public", "internal")),
                    Role.EMPLOYEE, Secrecy.INTERNAL)
    assert ids(search(ix, "齿轮箱", other)) == {card, 5}, "the card by clearance; a record is content"
    assert search(ix, "齿轮箱", other).total == 2
    owner = widened(Scope(None, frozenset({10}), frozenset(), 7, ("public", "internal")), Role.EMPLOYEE,
                    Secrecy.INTERNAL)
    assert ids(search(ix, "齿轮箱", owner)) == {card, record}
    legal = widened(Scope(("public", "internal"), frozenset(), frozenset()), Role.LEGAL, Secrecy.INTERNAL)
    assert ids(search(ix, "齿轮箱", legal)) == {card, record, 5}
    low = widened(Scope(None, frozenset(), frozenset(), 9, ("public",)), Role.EMPLOYEE, Secrecy.PUBLIC)
    assert search(ix, "齿轮箱", low).total == 0, "above clearance: not even the card"
    ix.delete([record])
    assert ids(search(ix, "齿轮箱", legal)) == {card, 5}
