"""The analyzer: what text is indexed as, and that a query term's tokens line up with it."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from indexer.analyzer import AnalysedToken, DossierTokenizer, analyse, normalize, query_phrase


def texts(text: str) -> list[str]:
    return [t.text for t in analyse(text)]


def by_position(tokens: list[AnalysedToken]) -> dict[int, set[str]]:
    at: dict[int, set[str]] = defaultdict(set)
    for t in tokens:
        at[t.pos].add(t.text)
    return at


def contains(text: str, term: str) -> bool:
    """Whether the index of ``text`` answers the phrase query for ``term`` with a match.

    Checks both the full token sequence and the sparser anchors the engine uses: they must agree.
    """
    phrase = query_phrase(term)
    tokens = list(analyse(text))
    if phrase.lone_char:
        return any(t.text.startswith(phrase.lone_char) for t in tokens)
    at = by_position(tokens)
    full = any(all(word in at[start + i] for i, word in enumerate(phrase.tokens)) for start in list(at))
    sparse = any(all(word in at[start + offset] for word, offset in phrase.anchors) for start in list(at))
    assert full == sparse
    return full


def test_full_width_forms_and_capitals_are_folded() -> None:
    assert texts("ＡＢＣ１２３ Ｌetter") == ["abc123", "letter"]
    assert normalize("（ＨＹＧＬ）") == "(hygl)"


def test_a_contract_number_is_indexed_whole_and_in_parts() -> None:
    tokens = texts("合同编号：HYGL-CG-20220309-062")
    assert "hygl-cg-20220309-062" in tokens
    assert {"hygl", "cg", "20220309", "062"} <= set(tokens)


@pytest.mark.parametrize(
    ("text", "whole", "parts"),
    [
        ("代码：91370211MARK5B925N", "91370211mark5b925n", {"91370211mark5b925n"}),
        ("金额 94,813.62 元", "94,813.62", {"94", "813", "62"}),
        ("（¥388,558.00）", "388,558.00", {"¥", "388", "558", "00"}),
        ("日期 2022-03-09 起", "2022-03-09", {"2022", "03", "09"}),
    ],
)
def test_codes_amounts_and_dates_are_indexed_whole_and_in_parts(
    text: str, whole: str, parts: set[str]
) -> None:
    tokens = texts(text)
    assert whole in tokens
    assert parts <= set(tokens)


def test_a_cjk_run_is_overlapping_bigrams_with_its_first_and_last_character_alone() -> None:
    tokens = list(analyse("任秋菊"))
    positional = [(t.text, t.pos) for t in tokens if t.text != "任秋菊"]
    assert positional == [("任", 0), ("任秋", 0), ("秋菊", 1), ("菊", 2)]


def test_a_single_cjk_character_between_digits_takes_one_position() -> None:
    tokens = [(t.text, t.pos) for t in analyse("2022年3月9日")]
    assert tokens == [("2022", 0), ("年", 1), ("3", 2), ("月", 3), ("9", 4), ("日", 5)]


def test_jieba_words_of_three_characters_or_more_are_extra_tokens_at_their_first_character() -> None:
    tokens = list(analyse("青岛市黄岛区昌越照明电器有限公司"))
    words = {t.text: t.pos for t in tokens if len(t.text) >= 3}
    assert words["青岛市"] == 0
    assert words["有限公司"] == 12
    assert max(t.pos for t in tokens) == 15  # extras do not take positions of their own


def test_punctuation_takes_a_position_of_its_own() -> None:
    assert [(t.text, t.pos) for t in analyse("日，甲方") if t.text != "甲"] == [
        ("日", 0),
        (",", 1),
        ("甲方", 2),
        ("方", 3),
    ]


def test_whitespace_between_chinese_characters_is_nothing_and_between_words_a_separator() -> None:
    assert texts("营业\n执照") == texts("营业执照")
    assert texts("Letter of\nCredit") == ["letter", "of", "credit"]


def test_the_positions_of_each_term_ascend_as_whoosh_delta_encodes_them() -> None:
    seen: dict[str, int] = {}
    for t in analyse("日期：2022年3月9日，日方同意。日本 HYGL-CG-1 HYGL-CG-2 有限公司与有限公司"):
        assert t.pos >= seen.get(t.text, -1)
        seen[t.text] = t.pos


def test_the_whoosh_tokenizer_yields_the_same_tokens_with_positions() -> None:
    stream = DossierTokenizer()("合同 HYGL-CG", positions=True)
    assert [(t.text, t.pos) for t in stream] == [(t.text, t.pos) for t in analyse("合同 HYGL-CG")]


@pytest.mark.parametrize(
    ("term", "tokens"),
    [
        ("任秋菊", ("任秋", "秋菊")),
        ("HYGL-CG-20220309-062", ("hygl", "-", "cg", "-", "20220309", "-", "062")),
        ("2023年8月27日", ("2023", "年", "8", "月", "27", "日")),
        ("天河区131号", ("天河", "河区", "区", "131", "号")),
        ("LETTER OF CREDIT", ("letter", "of", "credit")),
    ],
)
def test_a_query_term_becomes_the_tokens_a_document_holds_at_consecutive_positions(
    term: str, tokens: tuple[str, ...]
) -> None:
    assert query_phrase(term).tokens == tokens


def test_anchors_skip_every_other_bigram_and_keep_the_ends() -> None:
    assert query_phrase("资信调查报告").anchors == (("资信", 0), ("调查", 2), ("报告", 4))
    assert query_phrase("违约责任书").anchors == (("违约", 0), ("责任", 2), ("任书", 3))
    assert query_phrase("天河区131号").anchors == (("天河", 0), ("区", 2), ("131", 3), ("号", 4))


def test_a_lone_chinese_character_is_looked_up_as_a_prefix() -> None:
    phrase = query_phrase("菊")
    assert phrase.lone_char == "菊"
    assert phrase.tokens == ()


@pytest.mark.parametrize(
    ("text", "term", "found"),
    [
        ("广州市天河区中山大道西131号6栋", "天河区中山", True),
        ("广州市天河区中山大道西131号6栋", "西131号6", True),
        ("广州市天河区中山大道西131号楼", "131号", True),
        ("合同编号：HYGL-CG-20220309-062。", "20220309", True),
        ("合同编号：HYGL-CG-20220309-062。", "HYGL-CG-2022", False),
        ("terms FOBX Qingdao", "FOB", False),
        ("account 120234", "2023", False),
        ("总额 8,000,000.00 元", "8,000,000", True),
        ("总额 8.000.000 元", "8,000,000", False),
        ("签订日期：2023年8月27日", "2023年8月2", False),
        ("日，甲方", "日甲方", False),
        ("资信调查\n报告", "调查报告", True),
        ("任秋菊", "菊", True),
        ("任秋菊", "秋", True),
        ("甲乙丁丙丁戊", "甲乙丙丁戊", False),
        ("甲乙x丙丁戊", "甲乙丙丁戊", False),
        ("甲乙丙丁戊", "甲乙丙丁戊", True),
        ("身份证号：330782********4099", "330782********4099", True),
        ("身份证号：330782 4099", "330782********4099", False),
        ("身份证号：330782*******4099", "330782********4099", False),
    ],
)
def test_the_phrase_tokens_match_exactly_where_the_term_occurs(text: str, term: str, found: bool) -> None:
    assert contains(text, term) is found


_ALPHABET = st.sampled_from(list("ab1２Ｃ甲乙方日年-.,， \n") + ["有限", "公司", "HY", "20"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALPHABET, min_size=1, max_size=25).map("".join), st.data())
def test_any_substring_of_a_text_is_found_in_its_tokens(text: str, data: st.DataObject) -> None:
    norm = " ".join(normalize(text).split())
    assume(norm)
    start = data.draw(st.integers(0, len(norm) - 1))
    end = data.draw(st.integers(start + 1, len(norm)))
    term = norm[start:end].strip()
    ascii_alnum = str.isascii, str.isalnum
    touches_start = start > 0 and all(f(norm[start - 1]) and f(norm[start]) for f in ascii_alnum)
    touches_end = end < len(norm) and all(f(norm[end - 1]) and f(norm[end]) for f in ascii_alnum)
    if not any(ch.isalnum() for ch in term) or touches_start or touches_end:
        return  # not a match under the corpus rule (or nothing to look for)
    assert contains(text, term)
