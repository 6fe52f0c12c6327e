"""WhooshIndex on a real index directory: writing, purging, access scope, filters, time limits."""

from __future__ import annotations

import random
import stat
import threading
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from whoosh import index as whoosh_index

from indexer.query import parse_query
from indexer.search_index import IndexDoc, ReadScope, SearchFilters, SearchResult
from indexer.whoosh_index import WhooshIndex

EVERY_LEVEL = ("public", "internal", "confidential", "secret")
FULL = ReadScope(all_dossiers_up_to=EVERY_LEVEL, dossier_ids=frozenset(), document_ids=frozenset())
NO_FILTERS = SearchFilters()


def doc(document_id: int, content: str, **fields: object) -> IndexDoc:
    base = IndexDoc(
        document_id=document_id,
        dossier_id=1,
        archive_no="KH-2026-000001",
        doc_type="contract",
        doc_date=date(2022, 3, 9),
        secrecy="internal",
        title="产品采购合同",
        content=content,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def ids(result: SearchResult) -> set[int]:
    return {hit.document_id for hit in result.hits}


def search(
    ix: WhooshIndex, q: str, scope: ReadScope = FULL, filters: SearchFilters = NO_FILTERS
) -> SearchResult:
    """The first 50 hits for the query text."""
    return ix.search(parse_query(q), scope, filters, page=1, per_page=50)


def index_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file())


@pytest.fixture
def ix(tmp_path: Path) -> WhooshIndex:
    return WhooshIndex(tmp_path / "index")


def test_the_index_directory_and_its_missing_parents_are_created_private(tmp_path: Path) -> None:
    WhooshIndex(tmp_path / "var" / "index")
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "var" / "index").stat().st_mode) == 0o700


def test_an_added_document_is_found_and_counted(ix: WhooshIndex) -> None:
    ix.add([doc(7, "乙方：晋江市宇昌家具实业有限公司", dossier_id=3)])
    result = search(ix, "宇昌家具")
    assert result.total == 1
    assert [(h.document_id, h.dossier_id) for h in result.hits] == [(7, 3)]
    assert result.hits[0].score > 0
    assert not result.partial
    assert ix.doc_count() == 1
    assert ix.document_ids() == {7}


def test_adding_a_document_again_replaces_it(ix: WhooshIndex) -> None:
    ix.add([doc(1, "旧版本 oldversion"), doc(2, "其他")])
    ix.add([doc(1, "新版本 newversion")])
    assert ids(search(ix, "newversion")) == {1}
    assert search(ix, "oldversion").total == 0
    assert ix.doc_count() == 2


def test_the_last_of_duplicates_in_one_batch_wins(ix: WhooshIndex) -> None:
    ix.add([doc(1, "first"), doc(1, "second")])
    assert ix.doc_count() == 1
    assert ids(search(ix, "second")) == {1}


def test_the_index_reopens_with_its_documents(tmp_path: Path) -> None:
    WhooshIndex(tmp_path / "index").add([doc(1, "不可抗力")])
    assert ids(search(WhooshIndex(tmp_path / "index"), "不可抗力")) == {1}


def test_a_deleted_documents_unique_term_is_gone_from_every_file_of_the_index(
    ix: WhooshIndex, tmp_path: Path
) -> None:
    unique = "zqxwvpurgecheck7781"
    ix.add([doc(1, f"destroyed {unique} 合同", title=f"title {unique}"), doc(2, "kept 合同")])
    ix.add([doc(3, "later segment 合同")])  # a second segment, untouched by the delete
    assert unique.encode() in index_bytes(tmp_path / "index")

    ix.delete([1])

    assert unique.encode() not in index_bytes(tmp_path / "index")
    assert search(ix, unique).total == 0
    assert ids(search(ix, "合同")) == {2, 3}
    assert ix.document_ids() == {2, 3}


def test_an_old_version_is_purged_too_when_its_document_is_deleted(ix: WhooshIndex, tmp_path: Path) -> None:
    ix.add([doc(1, "draft oldversion4417"), doc(2, "kept")])
    ix.add([doc(1, "final text")])

    ix.delete([1])

    assert b"oldversion4417" not in index_bytes(tmp_path / "index")
    assert ix.document_ids() == {2}


def test_deleting_every_document_leaves_an_empty_usable_index(ix: WhooshIndex) -> None:
    ix.add([doc(1, "合同"), doc(2, "合同")])
    ix.delete([1, 2, 99])
    assert ix.doc_count() == 0
    assert search(ix, "合同").total == 0
    ix.add([doc(3, "合同")])
    assert ids(search(ix, "合同")) == {3}


def test_clear_removes_everything(ix: WhooshIndex, tmp_path: Path) -> None:
    ix.add([doc(1, "clearedterm9912")])
    ix.clear()
    assert ix.doc_count() == 0
    assert b"clearedterm9912" not in index_bytes(tmp_path / "index")


def test_stored_fields_hold_the_ids_only(ix: WhooshIndex) -> None:
    ix.add([doc(1, "机密内容", title="机密标题")])
    with whoosh_index.open_dir(str(ix.path)).searcher() as searcher:
        assert list(searcher.reader().all_stored_fields()) == [{"document_id": "1", "dossier_id": "1"}]


def test_check_passes_on_a_readable_index(ix: WhooshIndex) -> None:
    ix.check()


# -- access scope -------------------------------------------------------------------------------


@pytest.fixture
def dossiers(ix: WhooshIndex) -> WhooshIndex:
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
) -> ReadScope:
    return ReadScope(all_dossiers_up_to=levels, dossier_ids=dossiers, document_ids=documents)


def test_a_document_above_the_callers_levels_is_neither_returned_nor_counted(dossiers: WhooshIndex) -> None:
    result = search(dossiers, "共同条款", scope(("public", "internal")))
    assert ids(result) == {1}
    assert result.total == 1


def test_an_owner_reads_whole_dossiers_and_a_checkout_grants_single_documents(dossiers: WhooshIndex) -> None:
    assert ids(search(dossiers, "共同条款", scope(dossiers=frozenset({20})))) == {2, 3}
    assert ids(search(dossiers, "共同条款", scope(documents=frozenset({4})))) == {4}
    result = search(
        dossiers, "共同条款", scope(("public",), dossiers=frozenset({10}), documents=frozenset({3}))
    )
    assert ids(result) == {1, 3}
    assert result.total == 2


def test_an_empty_scope_finds_nothing(dossiers: WhooshIndex) -> None:
    assert search(dossiers, "共同条款", scope()) == SearchResult(total=0, hits=[], partial=False)
    assert search(dossiers, "共同条款", scope(levels=())).total == 0


# -- filters and paging -------------------------------------------------------------------------


def test_filters_narrow_by_type_dossier_and_date(ix: WhooshIndex) -> None:
    ix.add(
        [
            doc(1, "付款方式", doc_type="contract", dossier_id=1, doc_date=date(2021, 1, 5)),
            doc(2, "付款方式", doc_type="invoice", dossier_id=1, doc_date=date(2022, 6, 30)),
            doc(3, "付款方式", doc_type="contract", dossier_id=2, doc_date=date(2023, 12, 31)),
            doc(4, "付款方式", doc_type="contract", dossier_id=2, doc_date=None),
        ]
    )
    assert ids(search(ix, "付款方式", filters=SearchFilters(doc_type="contract"))) == {1, 3, 4}
    assert ids(search(ix, "付款方式", filters=SearchFilters(dossier_id=2))) == {3, 4}
    in_2022 = SearchFilters(date_from=date(2022, 1, 1), date_to=date(2022, 12, 31))
    assert ids(search(ix, "付款方式", filters=in_2022)) == {2}
    assert ids(search(ix, "付款方式", filters=SearchFilters(date_from=date(2022, 6, 30)))) == {2, 3}
    assert ids(search(ix, "付款方式", filters=SearchFilters(date_to=date(2022, 6, 29)))) == {1}
    both = SearchFilters(doc_type="contract", dossier_id=2, date_to=date(2024, 1, 1))
    assert ids(search(ix, "付款方式", filters=both)) == {3}


def test_results_are_paged_and_the_total_counts_them_all(ix: WhooshIndex) -> None:
    ix.add([doc(i, "验收标准 " * (i % 5 + 1)) for i in range(1, 26)])
    pages = [ix.search(parse_query("验收标准"), FULL, NO_FILTERS, page=p, per_page=10) for p in (1, 2, 3, 4)]
    assert [len(p.hits) for p in pages] == [10, 10, 5, 0]
    assert {p.total for p in pages} == {25}
    assert len({h.document_id for p in pages for h in p.hits}) == 25
    scores = [h.score for p in pages for h in p.hits]
    assert scores == sorted(scores, reverse=True)


def test_a_chinese_phrase_matches_only_where_its_characters_are_contiguous(ix: WhooshIndex) -> None:
    ix.add(
        [
            doc(1, "住所：广州市天河区中山大道西131号6栋"),
            doc(2, "广州市天河区中山大道，西131号6栋"),
            doc(3, "广州市天河区中山大道东131号6栋"),
            doc(4, "广州市天河\n区中山大道西131号6栋"),
        ]
    )
    assert ids(search(ix, "广州市天河区中山大道西131号6栋")) == {1, 4}


def test_a_single_chinese_character_finds_every_word_holding_it(ix: WhooshIndex) -> None:
    ix.add([doc(1, "法定代表人：任秋菊"), doc(2, "菊花茶"), doc(3, "秋天")])
    assert ids(search(ix, "菊")) == {1, 2}


def test_every_term_is_required_in_the_content_or_the_title(ix: WhooshIndex) -> None:
    ix.add([doc(1, "违约责任 锂电池保护板"), doc(2, "违约责任")])
    ix.add([doc(3, "锂电池保护板", title="违约责任条款")])
    assert ids(search(ix, "违约责任 锂电池保护板")) == {1, 3}


def test_a_match_in_the_title_ranks_higher(ix: WhooshIndex) -> None:
    text = "本合同为资信调查报告附件"
    ix.add([doc(1, text, title="附件"), doc(2, text, title="资信调查报告")])
    assert [h.document_id for h in search(ix, "资信调查报告").hits] == [2, 1]


@pytest.mark.parametrize(("page", "per_page"), [(0, 10), (1, 0), (1, 101), (1000, 100)])
def test_out_of_range_paging_is_invalid(ix: WhooshIndex, page: int, per_page: int) -> None:
    from vault.errors import Invalid

    with pytest.raises(Invalid):
        ix.search(parse_query("合同"), FULL, NO_FILTERS, page=page, per_page=per_page)


# -- concurrency and time limits ----------------------------------------------------------------


def test_concurrent_adds_and_deletes_from_threads_are_all_applied(ix: WhooshIndex) -> None:
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


COMMON = (
    "有限公司 合同 甲方 乙方 付款 违约责任 不可抗力 交货 验收 质量 标准 价格 数量 规格 型号 "
    "仲裁 争议 解决 签订 地点 日期 银行 账户 发票 税率 运输 保险 风险 通知 书面 方乙"
).split()


@pytest.fixture(scope="module")
def common_words_index(tmp_path_factory: pytest.TempPathFactory) -> WhooshIndex:
    rng = random.Random(1)
    ix = WhooshIndex(tmp_path_factory.mktemp("common") / "index")
    ix.add([doc(i, "，".join(rng.choice(COMMON) for _ in range(150)), title="") for i in range(1, 1201)])
    return ix


def test_twenty_very_common_terms_stop_at_the_time_limit_with_a_partial_result(
    common_words_index: WhooshIndex,
) -> None:
    query = parse_query(" ".join(COMMON[:20]))
    start = time.monotonic()
    result = common_words_index.search(query, FULL, NO_FILTERS, page=1, per_page=10, time_limit_s=0.05)
    elapsed = time.monotonic() - start
    assert result.partial
    assert elapsed < 1.0
    assert result.total < 1200


def test_a_phrase_scanning_many_documents_without_a_hit_stops_at_the_time_limit(
    common_words_index: WhooshIndex,
) -> None:
    # 甲方 and 方乙 are in every document, never next to each other: a scan with no hit to collect
    query = parse_query("甲方乙")
    result = common_words_index.search(query, FULL, NO_FILTERS, page=1, per_page=10, time_limit_s=0.0)
    assert result.partial
    assert result.total == 0
    unhurried = common_words_index.search(query, FULL, NO_FILTERS, page=1, per_page=10, time_limit_s=30.0)
    assert not unhurried.partial
    assert unhurried.total == 0


def test_a_query_within_its_time_limit_is_complete(common_words_index: WhooshIndex) -> None:
    result = common_words_index.search(parse_query("违约责任"), FULL, NO_FILTERS, page=1, per_page=10)
    assert not result.partial
    assert result.total > 1000
