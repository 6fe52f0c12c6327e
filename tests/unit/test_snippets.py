"""Snippets: the best window of the plain text, matches marked, everything else escaped."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from indexer import snippets
from indexer.query import parse_query
from indexer.snippets import ELLIPSIS, make_snippet


def test_markup_in_the_text_comes_out_escaped() -> None:
    snippet = make_snippet('<script>alert("x")</script> 合同 & 甲方', parse_query("合同"))
    assert snippet == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; <mark>合同</mark> &amp; 甲方"


def test_a_match_that_looks_like_markup_is_escaped_inside_its_mark() -> None:
    assert make_snippet("a <b> c", parse_query('"<b>"')) == "a <mark>&lt;b&gt;</mark> c"


def test_every_term_is_marked() -> None:
    snippet = make_snippet(
        "甲方应于2021年10月28日前交货，违约责任见第六条。", parse_query("违约责任 2021年10月28日")
    )
    assert snippet == "甲方应于<mark>2021年10月28日</mark>前交货，<mark>违约责任</mark>见第六条。"


def test_a_match_across_a_line_break_between_chinese_characters_is_marked_and_joined() -> None:
    assert make_snippet("甲乙双方在平等、诚实信\n用的基础上", parse_query("诚实信用")) == (
        "甲乙双方在平等、<mark>诚实信用</mark>的基础上"
    )


def test_matching_ignores_case_and_full_width_forms() -> None:
    assert make_snippet("payable by LETTER OF CREDIT.", parse_query('"letter of credit"')) == (
        "payable by <mark>LETTER OF CREDIT</mark>."
    )
    assert make_snippet("编号：ＨＹＧＬ－ＣＧ", parse_query("hygl-cg")) == "编号：<mark>ＨＹＧＬ－ＣＧ</mark>"


def test_a_term_does_not_match_inside_a_longer_word_or_number() -> None:
    assert make_snippet("FOBX and FOB", parse_query("fob")) == "FOBX and <mark>FOB</mark>"
    assert make_snippet("120234 2023", parse_query("2023")) == "120234 <mark>2023</mark>"


def test_a_long_text_is_cut_around_the_matches_with_ellipses() -> None:
    text = "前" * 300 + "违约责任" + "后" * 300
    snippet = make_snippet(text, parse_query("违约责任"), width=40)
    assert snippet.startswith(ELLIPSIS) and snippet.endswith(ELLIPSIS)
    assert "<mark>违约责任</mark>" in snippet
    assert len(snippet.replace("<mark>", "").replace("</mark>", "")) == 40 + 2


def test_the_window_with_the_most_distinct_terms_wins() -> None:
    text = "合同 " + "x " * 100 + "合同 甲方 " + "y " * 100
    snippet = make_snippet(text, parse_query("合同 甲方"), width=30)
    assert "<mark>合同</mark> <mark>甲方</mark>" in snippet


def test_a_text_without_a_match_gives_its_beginning() -> None:
    snippet = make_snippet("a" * 10 + " " + "b" * 200, parse_query("合同"), width=20)
    assert snippet == "a" * 10 + " " + "b" * 9 + ELLIPSIS


def test_whitespace_runs_read_as_one_space() -> None:
    assert (
        make_snippet("terms\n\n  of\tpayment 合同", parse_query("合同"))
        == "terms of payment <mark>合同</mark>"
    )


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aZ9 \t\n\u3000\u00a0中文字ｱＡ１ﬁ㍿İß。,-：（")
                                         + ["\u200b", "\u00ad", "\x1c", "\u2028", "\uf900"]),
               max_size=40))
def test_the_fast_fold_gives_what_folding_each_character_gives(text: str) -> None:
    folded, origin = snippets._fold(text)
    expected, expected_origin = snippets._fold_per_char(text)
    assert folded == expected
    assert [origin[i] for i in range(len(folded))] == expected_origin


def test_folding_a_long_text_maps_every_character_back_to_its_place() -> None:
    text = "合同编号 HYGL-JG-20220309-062\n违约\n责任：ＡＢＣ  credit   limit。" * 50
    folded, origin = snippets._fold(text)
    assert "违约责任" in folded and "abc credit limit" in folded
    assert [text[origin[i]] for i in range(len(folded)) if folded[i] == "违"] == ["违"] * 50
