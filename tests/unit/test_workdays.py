"""Working days: Monday to Friday, less listed holidays, plus listed make-up working days (调休)."""

from __future__ import annotations

from datetime import date

from vault.services.workdays import is_working, working_days_after

# 2026: 中秋 Friday 25 September, 国庆 1 to 7 October; Sunday 20 September and Saturday 10 October are worked
NATIONAL_DAY_2026 = {date(2026, 9, 20): True, date(2026, 9, 25): False, date(2026, 10, 10): True,
                     **{date(2026, 10, d): False for d in range(1, 8)}}


def test_weekends_are_not_working_days_unless_listed_as_make_up_days() -> None:
    assert not is_working(date(2026, 9, 19), NATIONAL_DAY_2026)  # an ordinary Saturday
    assert is_working(date(2026, 9, 20), NATIONAL_DAY_2026)  # the make-up Sunday
    assert not is_working(date(2026, 10, 1), NATIONAL_DAY_2026)  # a Thursday of the holiday
    assert is_working(date(2026, 10, 8), NATIONAL_DAY_2026)


def test_five_working_days_across_the_national_day_holidays() -> None:
    assert working_days_after(date(2026, 9, 29), 5) == date(2026, 10, 6)  # weekdays alone
    assert working_days_after(date(2026, 9, 29), 5, NATIONAL_DAY_2026) == date(2026, 10, 12)
    assert working_days_after(date(2026, 9, 18), 5, NATIONAL_DAY_2026) == date(2026, 9, 24)
    assert working_days_after(date(2026, 9, 30), 1, NATIONAL_DAY_2026) == date(2026, 10, 8)
    assert working_days_after(date(2026, 10, 9), 1, NATIONAL_DAY_2026) == date(2026, 10, 10)
    assert working_days_after(date(2026, 10, 9), 0, NATIONAL_DAY_2026) == date(2026, 10, 9)
