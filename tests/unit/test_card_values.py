"""The card's value rules: GB 11643 ID numbers, the lookup forms, the masks shown without content access."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from config import SettingsError, load_settings
from vault.card_values import add_months, id_number_problem, mask, normalise, parse_id_number

TODAY = date(2026, 12, 2)


def test_a_valid_id_number_gives_its_birth_date_and_gender() -> None:
    rid = parse_id_number("11010519491231002x", TODAY)
    assert rid.number == "11010519491231002X"
    assert rid.birth_date == date(1949, 12, 31)
    assert rid.gender == "female"
    assert parse_id_number("110105199003078019", TODAY).gender == "male"


def test_full_width_digits_and_spaces_are_folded_before_checking() -> None:
    assert parse_id_number("１１０１０５ １９４９１２３１００２Ｘ", TODAY).number == "11010519491231002X"


@pytest.mark.parametrize(("raw", "problem"), [
    ("11010519491231002", "18 characters"),
    ("1101051949123100X2", "only digits"),
    ("110105194913310028", "birth date"),
    ("110105203001010025", "not possible"),
    ("110105194912310021", "check digit"),
])
def test_a_wrong_id_number_is_refused_with_what_is_wrong(raw: str, problem: str) -> None:
    found = id_number_problem(raw, TODAY)
    assert found is not None and problem in found
    with pytest.raises(ValueError, match=problem):
        parse_id_number(raw, TODAY)


def test_values_typed_differently_normalise_to_the_same_lookup_form() -> None:
    assert normalise("phone", "+86 138-0013-8000") == normalise("phone", "13800138000") == "13800138000"
    assert normalise("bank_account", "6222 0202 0000 0123") == "6222020200000123"
    assert normalise("id_number", "11010519491231002x") == "11010519491231002X"


def test_masks_keep_only_the_ends_of_a_value() -> None:
    assert mask("id_number", "110105194912311234") == "110105********1234"
    assert mask("bank_account", "6222020200000123") == "6222 **** **** 0123"
    assert mask("bank_account", "6222020200000000123") == "6222 **** **** **** 0123"
    assert mask("phone", "13800138000") == "138****8000"
    assert mask("address", "北京市朝阳区建国路88号") == "北京市朝阳区****"
    assert mask("total_assets", "1200000.00") == "****"


def test_a_required_card_field_that_does_not_exist_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="unknown card field 'fax'"):
        load_settings({"home": str(tmp_path), "required_card_fields_individual": ["phone", "fax"]}, environ={})
    settings = load_settings({"home": str(tmp_path), "required_card_fields_organisation": "website, email",
                              "review_months_a": "2"}, environ={})
    assert settings.required_card_fields_organisation == ("website", "email") and settings.review_months_a == 2


def test_a_review_month_later_keeps_the_day_or_takes_the_months_last() -> None:
    assert add_months(date(2026, 1, 5), 3) == date(2026, 4, 5)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)
