"""WhooshIndex specifics: what its files store, and how a search stops at its time limit.

What every engine must do alike is in test_search_index.py.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from whoosh import index as whoosh_index

from indexer.query import parse_query
from indexer.search_index import SearchFilters
from indexer.whoosh_index import WhooshIndex
from tests.support.index_docs import doc
from vault.policy import Scope

EVERY_LEVEL = ("public", "internal", "confidential", "secret")
FULL = Scope(all_dossiers_up_to=EVERY_LEVEL, dossier_ids=frozenset(), document_ids=frozenset())
NO_FILTERS = SearchFilters()


@pytest.fixture
def ix(tmp_path: Path) -> WhooshIndex:
    return WhooshIndex(tmp_path / "index")


def test_stored_fields_hold_the_ids_only(ix: WhooshIndex) -> None:
    ix.add([doc(1, "机密内容", title="机密标题")])
    with whoosh_index.open_dir(str(ix.path)).searcher() as searcher:
        assert list(searcher.reader().all_stored_fields()) == [{"document_id": "1", "dossier_id": "1"}]


# -- time limits ------------------------------------------------------------------------------


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
