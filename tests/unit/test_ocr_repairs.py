"""The repairs applied to Tesseract's text so phrase search finds what the scan says."""

from __future__ import annotations

import pytest

from indexer import ocr_repair
from indexer.ocr import clean_ocr_text, fix_credit_code, merge_passes


def test_spaces_tesseract_puts_between_chinese_characters_are_removed() -> None:
    assert clean_ocr_text("青 岛 市 信 鑫 家 具 有 限 公 司") == "青岛市信鑫家具有限公司"


@pytest.mark.parametrize(("read", "meant"), [
    ("大写：人民币伍什元整", "大写：人民币伍仟元整"),  # 什 looks like 仟, which chi_sim cannot output
    ("人民币染拾陆万元", "人民币柒拾陆万元"),  # 染 looks like 柒, also missing from the model
    ("人民币拥万元", "人民币捌万元"),
    ("合计人民币玖信元", "合计人民币玖佰元"),
    ("人民币陆作伍佰元", "人民币陆仟伍佰元"),
])
def test_a_daxie_character_read_as_a_lookalike_is_put_right(read: str, meant: str) -> None:
    assert clean_ocr_text(read) == meant


@pytest.mark.parametrize(("read", "meant"), [
    ("人民币沫拾抽万元", "人民币柒拾捌万元"),
    ("合计人民币索什过佰元", "合计人民币壹仟壹佰元"),
    ("大写：人民币人参拾伍元整", "大写：人民币叁拾伍元整"),  # 叁 read as two characters
    ("人民币融亿起仟万元", "人民币贰亿贰仟万元"),
])
def test_what_chi_sim_reads_in_place_of_a_daxie_character_is_read_back(read: str, meant: str) -> None:
    assert clean_ocr_text(read) == meant


def test_the_confusion_table_maps_only_onto_daxie_characters_and_never_from_one() -> None:
    assert set(ocr_repair.CONFUSIONS.values()) <= set(ocr_repair.DIGITS + ocr_repair.UNITS)
    assert not set(ocr_repair.CONFUSIONS) & set("零" + ocr_repair.DIGITS + ocr_repair.UNITS + "万亿元")


def test_a_unit_the_grammar_leaves_no_choice_for_is_put_right_whatever_it_was_read_as() -> None:
    # a digit follows without 零, so the unit between 伍 and 陆拾 can only be 佰
    assert clean_ocr_text("人民币伍口陆拾万元") == "人民币伍佰陆拾万元"


def test_a_unit_that_looks_like_nothing_is_taken_for_the_one_the_model_cannot_read() -> None:
    # after 肆 and before 万 the unit may be 拾, 佰 or 仟; chi_sim reads 拾 and 佰 but has no 仟
    assert clean_ocr_text("大写：人民币肆口万元整") == "大写：人民币肆仟万元整"


@pytest.mark.parametrize("read", [
    "人民币口佰元",  # the digit looks like none: which one it was cannot be told
    "人民币壹拾佰元",  # 拾 then 佰 does not parse: not repaired into something else
    "人民币结算的货款元",  # ordinary words between 人民币 and 元
])
def test_an_amount_that_cannot_be_told_is_left_as_read(read: str) -> None:
    assert clean_ocr_text(read) == read


def test_lookalikes_outside_an_amount_are_left_alone() -> None:
    assert clean_ocr_text("信用代码什么会议") == "信用代码什么会议"


@pytest.mark.parametrize(("read", "meant"), [
    ("签署日期2019年3月7目", "签署日期2019年3月7日"),
    ("于2016年11月3O日起", "于2016年11月30日起"),  # a letter O for the day's 0
    ("截至2021年6月15号", "截至2021年6月15号"),
    ("开业日期2015年9月22晴", "开业日期2015年9月22日"),  # 日 merged with a mark beside it
    ("生效日期2020年4月9H。", "生效日期2020年4月9日。"),
    ("日期2018年6月 O4日", "日期2018年6月04日"),  # a space read between the month and the day
])
def test_the_day_of_a_full_date_is_put_right(read: str, meant: str) -> None:
    assert clean_ocr_text(read) == meant


def test_a_date_running_on_into_a_range_is_left_alone() -> None:
    assert clean_ocr_text("2019年3月7至9日") == "2019年3月7至9日"


def test_the_masking_stars_of_an_id_number_read_as_a_plus_are_stars_again() -> None:
    assert clean_ocr_text("身份证号110105****+***123X") == "身份证号110105********123X"


@pytest.mark.parametrize(("read", "meant"), [
    ("货款人民币254.204.14元无法按期支付", "货款人民币254,204.14元无法按期支付"),
    ("人民币10.022.54元/吨", "人民币10,022.54元/吨"),
    ("人民币1,932.73元/组", "人民币1,932.73元/组"),
    ("人民币350.45元/套", "人民币350.45元/套"),
])
def test_thousands_commas_read_as_full_stops_in_an_amount_are_put_back(read: str, meant: str) -> None:
    assert clean_ocr_text(read) == meant


def test_a_legal_form_ending_in_fen_youxian_gongsi_gets_its_gu_back() -> None:
    assert clean_ocr_text("深圳市南山区华远科技胶份有限公司") == "深圳市南山区华远科技股份有限公司"


def test_a_version_number_that_is_not_an_amount_keeps_its_full_stops() -> None:
    assert clean_ocr_text("版本1.204.14发布") == "版本1.204.14发布"


def test_a_credit_code_misread_with_letters_for_digits_is_repaired_only_when_its_check_digit_agrees() -> None:
    assert fix_credit_code("91110108MAO1C4XK25") == "91110108MA01C4XK25"  # O is never in a code
    assert fix_credit_code("91110108MA01C4XK26") == "91110108MA01C4XK26"  # wrong check digit: left as read


def test_a_letter_among_the_administrative_division_digits_of_a_credit_code_is_read_as_a_digit() -> None:
    assert fix_credit_code("925I01D4MA6CGTY8UA") == "92510104MA6CGTY8UA"
    assert fix_credit_code("925I01D4MA6CGTY8UB") == "925I01D4MA6CGTY8UB"  # the check digit disagrees


def test_a_credit_code_read_with_a_stray_letter_no_code_holds_is_put_right_when_its_check_digit_agrees() -> None:
    assert clean_ocr_text("代码91110108MA01C4XSK25") == "代码91110108MA01C4XK25"
    assert clean_ocr_text("代码91110108MA01C4XSK26") == "代码91110108MA01C4XSK26"  # the check disagrees


def test_a_lower_case_credit_code_read_from_a_scan_is_put_in_capitals_when_it_checks() -> None:
    assert clean_ocr_text("代码12100000400001234y") == "代码12100000400001234Y"


def test_a_line_both_passes_read_is_kept_once() -> None:
    assert merge_passes(["营业执照\n名 称", "营业执照\n住 所"]).splitlines() == ["营业执照", "名称", "住所"]
