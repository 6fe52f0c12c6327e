"""Parsing the search box: our own small grammar, where nothing acts as an operator."""

from __future__ import annotations

import pytest

from indexer.query import MAX_TERMS, ParsedQuery, QueryTerm, parse_query
from vault.errors import Invalid


def texts(query: ParsedQuery) -> list[str]:
    return [t.text for t in query.terms]


def test_whitespace_separated_terms_are_all_required_terms() -> None:
    assert texts(parse_query("  违约责任   锂电池保护板 ")) == ["违约责任", "锂电池保护板"]


def test_a_double_quoted_part_is_one_term_with_its_spaces() -> None:
    query = parse_query('FOB "Letter   of Credit" 合同')
    assert query.terms == (QueryTerm("FOB"), QueryTerm("Letter of Credit", quoted=True), QueryTerm("合同"))


def test_chinese_and_full_width_quotes_quote_too() -> None:
    assert parse_query("“资信 调查”").terms == (QueryTerm("资信 调查", quoted=True),)
    assert parse_query("＂credit limit＂").terms == (QueryTerm("credit limit", quoted=True),)


def test_an_unclosed_quote_runs_to_the_end() -> None:
    assert parse_query('合同 "credit limit').terms == (
        QueryTerm("合同"),
        QueryTerm("credit limit", quoted=True),
    )


def test_an_identifier_stays_one_term_without_quotes() -> None:
    assert texts(parse_query("HYGL-CG-20220309-062 94,813.62")) == ["HYGL-CG-20220309-062", "94,813.62"]


def test_wildcard_fuzzy_and_boost_characters_separate_terms() -> None:
    assert texts(parse_query("合同* ab?c te~2 x^3")) == ["合同", "ab", "c", "te", "2", "x", "3"]


def test_inside_quotes_wildcard_fuzzy_and_boost_characters_are_text_to_find() -> None:
    # a masked ID number copied from a scanned document, next to a wildcard outside quotes
    assert parse_query('"330782********4099" 合同* "a?b ~c^"').terms == (
        QueryTerm("330782********4099", quoted=True),
        QueryTerm("合同"),
        QueryTerm("a?b ~c^", quoted=True),
    )


def test_control_characters_separate_words_inside_quotes_too() -> None:
    assert parse_query('"合同\x00甲方"').terms == (QueryTerm("合同 甲方", quoted=True),)


def test_field_syntax_boolean_words_and_brackets_are_plain_text() -> None:
    assert texts(parse_query("content:合同 OR NOT (a) [b TO c] /re.*/")) == [
        "content:合同",
        "OR",
        "NOT",
        "(a)",
        "[b",
        "TO",
        "c]",
        "/re.",
    ]


def test_full_width_letters_are_folded_to_ascii() -> None:
    assert texts(parse_query("ＦＯＢ")) == ["FOB"]


def test_a_repeated_term_counts_once_whatever_its_case() -> None:
    assert texts(parse_query("FOB fob 合同 合同")) == ["FOB", "合同"]


@pytest.mark.parametrize("text", ["", "   ", '""', "* ? ~", "- , 。 ¥"])
def test_a_query_with_nothing_to_search_for_is_invalid(text: str) -> None:
    with pytest.raises(Invalid) as raised:
        parse_query(text)
    assert raised.value.field == "q"


def test_a_query_longer_than_the_limit_is_invalid() -> None:
    parse_query("合" * 200)
    with pytest.raises(Invalid, match="longer than 200") as raised:
        parse_query("合" * 201)
    assert raised.value.field == "q"


def test_a_query_that_grows_past_the_limit_under_nfkc_is_invalid() -> None:
    with pytest.raises(Invalid):
        parse_query("㍿" * 60, max_length=200)  # each becomes 株式会社


def test_more_than_twenty_terms_is_invalid() -> None:
    parse_query(" ".join(f"t{i}" for i in range(MAX_TERMS)))
    with pytest.raises(Invalid, match="at most 20") as raised:
        parse_query(" ".join(f"t{i}" for i in range(MAX_TERMS + 1)))
    assert raised.value.field == "q"


def test_control_characters_separate_terms() -> None:
    assert texts(parse_query("合同\x00甲方\u200b乙方")) == ["合同", "甲方", "乙方"]
