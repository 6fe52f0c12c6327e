"""The repairs applied to Tesseract's text so phrase search finds what the scan says."""

from __future__ import annotations

import pytest

from indexer.ocr import clean_ocr_text, fix_credit_code, merge_passes


def test_spaces_tesseract_puts_between_chinese_characters_are_removed() -> None:
    assert clean_ocr_text("青 岛 市 信 鑫 家 具 有 限 公 司") == "青岛市信鑫家具有限公司"


@pytest.mark.parametrize(("read", "meant"), [
    ("大写：人民币壹什万元整", "大写：人民币壹仟万元整"),
    ("注册资本人民币会仟万元", "注册资本人民币叁仟万元"),
    ("人民币拥佰万元", "人民币捌佰万元"),
    ("注册资本人民币拥值万元", "注册资本人民币捌佰万元"),
    ("注册资本人民币人参从万元", "注册资本人民币叁佰万元"),
    ("注册资本人民币下什万元", "注册资本人民币贰仟万元"),
    ("注册资本人民币喜个万元", "注册资本人民币壹佰万元"),
])
def test_a_daxie_amount_read_with_lookalike_characters_is_put_right(read: str, meant: str) -> None:
    assert clean_ocr_text(read) == meant


def test_lookalikes_outside_an_amount_are_left_alone() -> None:
    assert clean_ocr_text("信用代码什么会议") == "信用代码什么会议"


@pytest.mark.parametrize(("read", "meant"), [
    ("成立日期2013年01月24目", "成立日期2013年01月24日"),
    ("延长至2024年5月11月。", "延长至2024年5月11日。"),
    ("期限延长至2022年1月20H,", "期限延长至2022年1月20日,"),
    ("甲乙双方于2021年9月18朋签订", "甲乙双方于2021年9月18日签订"),
])
def test_the_day_character_of_a_date_read_as_a_lookalike_is_put_right(read: str, meant: str) -> None:
    assert clean_ocr_text(read) == meant


@pytest.mark.parametrize(("read", "meant"), [
    ("货款人民币254.204.14元无法按期支付", "货款人民币254,204.14元无法按期支付"),
    ("人民币10.022.54元/吨", "人民币10,022.54元/吨"),
    ("人民币1,932.73元/组", "人民币1,932.73元/组"),
    ("人民币350.45元/套", "人民币350.45元/套"),
])
def test_thousands_commas_read_as_full_stops_in_an_amount_are_put_back(read: str, meant: str) -> None:
    assert clean_ocr_text(read) == meant


def test_a_company_name_read_with_ying_for_gu_in_its_legal_form_is_put_right() -> None:
    assert clean_ocr_text("名称义乌市昌嘉照明电器映份有限公司") == "名称义乌市昌嘉照明电器股份有限公司"


def test_a_version_number_that_is_not_an_amount_keeps_its_full_stops() -> None:
    assert clean_ocr_text("版本1.204.14发布") == "版本1.204.14发布"


def test_a_credit_code_misread_with_letters_for_digits_is_repaired_only_when_its_check_digit_agrees() -> None:
    assert fix_credit_code("9137O211MABYUJBE8A") == "91370211MABYUJBE8A"
    assert fix_credit_code("91370211MABYUJBE8B") == "91370211MABYUJBE8B"  # wrong check digit: left as read


def test_a_line_both_passes_read_is_kept_once() -> None:
    assert merge_passes(["营业执照\n名 称", "营业执照\n住 所"]).splitlines() == ["营业执照", "名称", "住所"]
