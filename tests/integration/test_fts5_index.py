"""Fts5Index specifics: tokens as FTS5 sees them, nothing stored, files, processes, time limits.

What every engine must do alike is in test_search_index.py.
"""

from __future__ import annotations

import random
import re
import shutil
import stat
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import apsw
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.analyzer import analyse, normalize, phrase_query, phrase_tokens, query_phrase
from indexer.fts5_index import FILE_NAME, RANKED_MATCHES, SAFE_CHARS, Fts5Index, fts_text, fts_token
from indexer.query import parse_query
from indexer.search_index import SearchFilters
from tests.support.index_docs import doc
from vault.core import Vault
from vault.errors import Unavailable
from vault.policy import Scope
from web.bootstrap import compose

ROOT = Path(__file__).resolve().parents[2]
FULL = Scope(all_dossiers_up_to=("internal",), dossier_ids=frozenset(), document_ids=frozenset())
NO_FILTERS = SearchFilters()


def found(ix: Fts5Index, term: str) -> bool:
    return ix.search(parse_query(f'"{term}"'), FULL, NO_FILTERS, page=1, per_page=10).total > 0


def unicode61_tokens(text: str) -> list[str]:
    """How the bundled SQLite's unicode61 tokenizer (as the index uses it) splits ``text``."""
    conn = apsw.Connection(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='unicode61 remove_diacritics 0')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    conn.execute("INSERT INTO t(x) VALUES (?)", (text,))
    return [str(row[0]) for row in conn.execute("SELECT term FROM v ORDER BY offset")]


@pytest.fixture
def ix(tmp_path: Path) -> Fts5Index:
    return Fts5Index(tmp_path / "index")


# -- tokens ---------------------------------------------------------------------------------------


def test_every_safe_character_is_one_unicode61_token_of_itself() -> None:
    chars = [chr(c) for c in range(0x30000) if re.fullmatch(f"[{SAFE_CHARS}]", chr(c))]
    tokens = unicode61_tokens(" ".join(chars))
    assert len(tokens) == len(chars)
    assert [t for c, t in zip(chars, tokens, strict=True) if c.casefold() == c and t != c] == []


def test_symbols_and_unsafe_characters_become_single_private_use_tokens() -> None:
    text = fts_text("合同编号：HYGL-CG。金额 ¥94,813.62 x_y ǆ")
    assert unicode61_tokens(text) == text.split()
    assert fts_token("-") == "\ue0002d\ue001"
    assert fts_token("x_y") == "x\ue0005f\ue001y"
    assert fts_token("\ue0002d") == "\ue000e000\ue0012d"  # a private-use character in the text is escaped too
    assert fts_token("2d") == "2d"  # a word that looks like an escape stays a word


def test_a_lone_character_is_found_inside_a_bigram_with_an_unsafe_character(scratch: Fts5Index) -> None:
    scratch.add([doc(1, "有限・")])  # ・ (U+30FB) is CJK to the analyser but not safe for unicode61
    assert found(scratch, "限") and found(scratch, "有限") and found(scratch, "限・")
    assert not found(scratch, "公")


def test_a_cjk_run_is_its_first_character_its_bigrams_and_its_last_character() -> None:
    assert list(phrase_tokens("任秋菊")) == ["任", "任秋", "秋菊", "菊"]
    assert list(phrase_tokens("2022年3月9日")) == ["2022", "年", "3", "月", "9", "日"]
    assert list(phrase_tokens("签订日期：2023")) == ["签", "签订", "订日", "日期", "期", ":", "2023"]


@pytest.mark.parametrize(
    ("term", "tokens"),
    [
        ("任秋菊", ("任秋", "秋菊")),
        ("2023年8月27日", ("2023", "年", "8", "月", "27", "日")),
        ("天河区131号", ("天河", "河区", "区", "131", "号")),
        ("131号楼", ("131", "号", "号楼")),
        ("菊", ()),
    ],
)
def test_a_query_term_becomes_the_tokens_a_document_holds_consecutively(term: str, tokens: tuple[str, ...]) -> None:
    assert phrase_query(term) == tokens


def whoosh_contains(text: str, term: str) -> bool:
    """Whether the Whoosh engine's analysis finds ``term`` in ``text`` (test_analyzer's rule)."""
    phrase = query_phrase(term)
    tokens = list(analyse(text))
    if phrase.lone_char:
        return any(t.text.startswith(phrase.lone_char) for t in tokens)
    at: dict[int, set[str]] = defaultdict(set)
    for t in tokens:
        at[t.pos].add(t.text)
    return any(all(word in at[start + i] for i, word in enumerate(phrase.tokens)) for start in list(at))


_ALPHABET = st.sampled_from(list("ab1２Ｃ甲乙方日年-.,， \n・ǆ\U00020000\U00020001") + ["有限", "公司", "HY", "20"])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Fts5Index:
    return Fts5Index(tmp_path_factory.mktemp("scratch") / "index")


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(_ALPHABET, min_size=1, max_size=20).map("".join),
    st.lists(_ALPHABET, min_size=1, max_size=5).map("".join),
    st.data(),
)
def test_fts5_finds_a_term_exactly_where_the_whoosh_analysis_does(
    scratch: Fts5Index, text: str, other: str, data: st.DataObject
) -> None:
    norm = normalize(text)
    start = data.draw(st.integers(0, len(norm) - 1))
    end = data.draw(st.integers(start + 1, len(norm)))
    scratch.add([doc(1, text)])
    for term in (norm[start:end].strip(), other.strip()):
        if '"' in term or not any(ch.isalnum() for ch in term):
            continue
        assert found(scratch, term) is whoosh_contains(text, term), (text, term)


# -- storage --------------------------------------------------------------------------------------


def test_no_text_is_stored_only_the_index_and_the_ids_and_metadata(ix: Fts5Index) -> None:
    ix.add([doc(1, "机密内容 secretword", title="机密标题")])
    conn = apsw.Connection(str(ix.file), flags=apsw.SQLITE_OPEN_READONLY)
    tables = {str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "fts_content" not in tables
    assert list(conn.execute("SELECT content, title FROM fts")) == [(None, None)]
    assert list(conn.execute("SELECT * FROM documents")) == [(1, 1, "internal", "contract", 20220309)]
    conn.close()


def test_a_deleted_documents_words_are_gone_even_where_the_index_kept_them_as_page_keys(ix: Fts5Index) -> None:
    rng = random.Random(3)

    def words(n: int) -> list[str]:
        return ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(12)) for _ in range(n)]

    secret = words(400)  # enough terms to fill many leaf pages, each page's first term a b-tree key
    ix.add([doc(i, " ".join(words(200))) for i in range(1, 60)] + [doc(60, " ".join(secret), title=secret[0])])
    ix.add([doc(i, " ".join(words(50))) for i in range(61, 80)])
    # terms are stored after the prefix they share with the term before: look for their ends
    ends = [w[-8:].encode() for w in secret]
    before = b"".join(p.read_bytes() for p in ix.path.iterdir())
    assert all(end in before for end in ends)

    ix.delete([60])

    after = b"".join(p.read_bytes() for p in ix.path.iterdir())
    assert [end for end in ends if end in after] == []
    assert ix.doc_count() == 78


def test_the_index_file_and_its_log_are_private(ix: Fts5Index) -> None:
    ix.add([doc(1, "合同")])
    files = [p for p in ix.path.iterdir() if p.name.startswith(FILE_NAME)]
    assert {p.name for p in files} >= {FILE_NAME, f"{FILE_NAME}-wal"}
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}


def test_a_rebuilt_index_file_is_read_without_reopening_and_a_missing_one_is_unavailable(tmp_path: Path) -> None:
    serving = Fts5Index(tmp_path / "index")
    serving.add([doc(1, "旧索引 oldindex")])
    assert found(serving, "oldindex")

    shutil.rmtree(tmp_path / "index")
    with pytest.raises(Unavailable):
        serving.check()
    Fts5Index(tmp_path / "index").add([doc(2, "新索引 newindex")])  # what `dossier reindex` does

    serving.check()
    assert found(serving, "newindex")
    assert not found(serving, "oldindex")
    assert serving.document_ids() == {2}


def test_a_reader_in_another_process_sees_what_the_writer_committed(ix: Fts5Index) -> None:
    ix.add([doc(1, "跨进程 crossprocess")])
    script = (
        "import sys; from pathlib import Path; from indexer.fts5_index import Fts5Index; "
        "from indexer.query import parse_query; from indexer.search_index import SearchFilters; "
        "from vault.policy import Scope; "
        "ix = Fts5Index(Path(sys.argv[1])); "
        "r = ix.search(parse_query('crossprocess'), Scope(('internal',), frozenset(), frozenset()), "
        "SearchFilters(), 1, 10); print(r.total, ix.doc_count())"
    )
    out = subprocess.run([sys.executable, "-c", script, str(ix.path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.split() == ["1", "1"]


# -- time limits ----------------------------------------------------------------------------------


COMMON = (
    "有限公司 合同 甲方 乙方 付款 违约责任 不可抗力 交货 验收 质量 标准 价格 数量 规格 型号 "
    "仲裁 争议 解决 签订 地点 日期 银行 账户 发票 税率 运输 保险 风险 通知 书面 方乙"
).split()


@pytest.fixture(scope="module")
def common_words_index(tmp_path_factory: pytest.TempPathFactory) -> Fts5Index:
    ix = Fts5Index(tmp_path_factory.mktemp("common") / "index")
    ix.add([doc(i, text) for i, text in common_texts().items()])
    return ix


def common_texts() -> dict[int, str]:
    rng = random.Random(1)
    return {i: "，".join(rng.choice(COMMON) for _ in range(150)) for i in range(1, 1201)}


def test_a_search_past_its_time_limit_is_interrupted_and_partial(common_words_index: Fts5Index) -> None:
    query = parse_query(" ".join(COMMON[:20]))
    start = time.monotonic()
    result = common_words_index.search(query, FULL, NO_FILTERS, page=1, per_page=10, time_limit_s=0.0)
    assert time.monotonic() - start < 1.0
    assert result.partial
    assert result.hits == []
    unhurried = common_words_index.search(query, FULL, NO_FILTERS, page=1, per_page=10, time_limit_s=30.0)
    assert not unhurried.partial
    assert len(unhurried.hits) == 10
    # more matches than it ranks: a lower bound, said so
    assert unhurried.total == RANKED_MATCHES and not unhurried.total_exact


def test_up_to_the_ranked_bound_totals_are_exact_and_beyond_it_the_newest_matches_are_ranked(
        common_words_index: Fts5Index) -> None:
    everything = common_words_index.search(parse_query(COMMON[0]), FULL, NO_FILTERS, page=1, per_page=100)
    assert everything.total == RANKED_MATCHES and not everything.total_exact
    ranked = [hit.document_id for page in range(1, RANKED_MATCHES // 100 + 1) for hit in
              common_words_index.search(parse_query(COMMON[0]), FULL, NO_FILTERS, page=page, per_page=100).hits]
    newest = sorted((i for i, text in common_texts().items() if COMMON[0] in text), reverse=True)[:RANKED_MATCHES]
    assert sorted(ranked) == sorted(newest)
    scores = [hit.score for hit in everything.hits]
    assert scores == sorted(scores, reverse=True)
    few = Scope(all_dossiers_up_to=None, dossier_ids=frozenset(), document_ids=frozenset({3, 5, 8}))
    narrowed = common_words_index.search(parse_query(COMMON[0]), few, NO_FILTERS, page=1, per_page=10)
    assert narrowed.total_exact and narrowed.total == 3 and {h.document_id for h in narrowed.hits} == {3, 5, 8}


def test_a_phrase_whose_tokens_never_meet_is_counted_as_nothing(common_words_index: Fts5Index) -> None:
    # 甲方 and 方乙 are in every document, never next to each other
    result = common_words_index.search(parse_query("甲方乙"), FULL, NO_FILTERS, page=1, per_page=10)
    assert not result.partial
    assert result.total == 0


# -- selection ------------------------------------------------------------------------------------


@pytest.mark.parametrize("settings_overrides", [{"search_engine": "fts5"}])
def test_the_search_engine_setting_chooses_the_index_the_vault_opens(vault: Vault) -> None:
    index = compose(vault).index
    assert isinstance(index, Fts5Index)
    assert index.file == vault.settings.index_path / FILE_NAME


def test_an_owner_of_many_dossiers_is_matched_by_the_owner_tag_with_the_cards_within_clearance(
        ix: Fts5Index) -> None:
    """The search service gives every employee the customer cards of every dossier within their clearance
    (card_scope). Before Scope.card_levels those were levels read everywhere, which took the employee for a
    reader of most of the archive: past MAX_SCOPE_TOKENS owned dossiers, every match in the archive was read
    and checked against the dossier list (json_each) instead of the owner's tag."""
    from indexer.customer_entries import card_scope, entry_key
    from indexer.fts5_index import MAX_SCOPE_TOKENS, _statement_parts
    from vault.models import Role, Secrecy, User

    mine = range(1, MAX_SCOPE_TOKENS + 11)
    others = range(MAX_SCOPE_TOKENS + 11, 2 * MAX_SCOPE_TOKENS + 21)
    ix.add([doc(d, "共同条款", dossier_id=d, secrecy="internal", owner_id=7 if d in mine else 8)
            for d in (*mine, *others)])
    cards = {d: entry_key("card", d) for d in range(1, 2 * MAX_SCOPE_TOKENS + 21, 10)}
    ix.add([doc(key, "共同条款 card", dossier_id=d, secrecy="card.secret" if d % 20 == 1 else "card.internal",
                owner_id=7 if d in mine else 8, doc_type="card") for d, key in cards.items()])
    scope = card_scope(Scope(None, frozenset(mine), frozenset(), 7, ("public", "internal")),
                       User(username="u", role=Role.EMPLOYEE, clearance=Secrecy.INTERNAL, active=True))
    match, where, _ = _statement_parts(parse_query("共同条款"), scope, NO_FILTERS)
    assert "json_each" not in where and "o7" in match, (match, where)
    result = ix.search(parse_query("共同条款"), scope, NO_FILTERS, page=1, per_page=10)
    readable_cards = {key for d, key in cards.items() if d % 20 != 1}
    assert (result.total, result.total_exact) == (len(mine) + len(readable_cards), True)
    assert {h.document_id for h in result.hits} <= set(mine) | readable_cards
