"""Report periods: a year (2026), a month (2026-11) or a quarter (2026-Q3), as UTC time ranges."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from vault.errors import Invalid

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class Period:
    """A named period: `start` inclusive, `end` exclusive, both midnight UTC."""

    name: str
    start: datetime
    end: datetime

    @property
    def kind(self) -> str:
        return "quarter" if "Q" in self.name else "month" if "-" in self.name else "year"

    @property
    def last_day(self) -> date:
        return date.fromordinal(self.end.date().toordinal() - 1)


def _month_start(year: int, month: int) -> datetime:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=UTC)


def parse_period(raw: object, field: str = "period") -> Period:
    """The period a text names; 422 saying the accepted forms otherwise."""
    text = str(raw or "").strip()
    if m := _MONTH.match(text):
        year, month = int(m.group(1)), int(m.group(2))
        if 1 <= month <= 12 and year >= 1900:
            return Period(f"{year:04d}-{month:02d}", _month_start(year, month), _month_start(year, month + 1))
    elif m := _QUARTER.match(text):
        year, q = int(m.group(1)), int(m.group(2))
        if year >= 1900:
            first = 3 * (q - 1) + 1
            return Period(f"{year:04d}-Q{q}", _month_start(year, first), _month_start(year, first + 3))
    elif m := _YEAR.match(text):
        year = int(m.group(1))
        if year >= 1900:
            return Period(f"{year:04d}", _month_start(year, 1), _month_start(year + 1, 1))
    raise Invalid(field, "{field} must be a month like 2026-11, a quarter like 2026-Q3 or a year like 2026")


def month_of(moment: datetime) -> Period:
    """The month a moment falls in."""
    return parse_period(moment.astimezone(UTC).strftime("%Y-%m"))


def quarter_of(moment: datetime) -> Period:
    """The quarter a moment falls in."""
    m = moment.astimezone(UTC)
    return parse_period(f"{m.year:04d}-Q{(m.month - 1) // 3 + 1}")


def previous(period: Period) -> Period:
    """The period of the same kind just before this one."""
    before = datetime.fromordinal(period.start.toordinal() - 1).replace(tzinfo=UTC)
    return quarter_of(before) if period.kind == "quarter" else month_of(before) if period.kind == "month" \
        else parse_period(str(before.year))
