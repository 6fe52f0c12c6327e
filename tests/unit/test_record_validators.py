"""Amounts of transactions and phone numbers of contacts: what is accepted, exactly, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from vault.errors import Invalid
from vault.services.contacts import normalise_phone
from vault.services.customer_records import format_amount, parse_amount


@pytest.mark.parametrize(("raw", "minor"), [("12000.50", 1_200_050), ("0.10", 10), (0.2, 20), (7, 700),
                                            ("-3.5", -350), ("1E+2", 10_000), (" 99.99 ", 9_999)])
def test_an_amount_is_kept_exactly_in_hundredths(raw: Any, minor: int) -> None:
    assert parse_amount(raw) == minor
    assert parse_amount(format_amount(minor)) == minor


@pytest.mark.parametrize("raw", ["twelve", "12,000", "", "NaN", "sNaN", "Infinity", float("inf"), True, None,
                                 [1], "1.005", "0", 0, "1e999999999", 10**400, "1e15", "1e-999999999"])
def test_what_is_not_a_money_figure_is_refused_naming_the_amount(raw: Any) -> None:
    with pytest.raises(Invalid) as caught:
        parse_amount(raw)
    assert caught.value.field == "amount"


def test_a_phone_number_is_looked_up_by_its_digits_without_the_country_code() -> None:
    assert normalise_phone("+86 138-0013-8000") == normalise_phone("13800138000") == "13800138000"
    assert normalise_phone("010-6552 8888") == "01065528888"
