"""The working-day calendar: Monday to Friday, less the public holidays, plus the make-up working days
(调休) an administrator lists (the State Council publishes them each year). Deadlines counted in working
days (a transfer's five working days) follow it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vault import audit, policy
from vault.core import Vault
from vault.errors import Invalid
from vault.models import User
from vault.paper_models import CalendarDay
from vault.services.fields import clean_text, parse_date

DAY_TYPES = ("holiday", "workday", "normal")  # normal: the weekday's own rule again (the entry is removed)
MAX_DAYS = 400  # one request sets at most this many days (a year and a bit)


def is_working(day: date, overrides: Mapping[date, bool]) -> bool:
    """Whether `day` is a working day: its listed kind, else Monday to Friday."""
    listed = overrides.get(day)
    return day.weekday() < 5 if listed is None else listed


def working_days_after(start: date, days: int, overrides: Mapping[date, bool] | None = None) -> date:
    """The date `days` working days after `start` (weekends, and the listed holidays and make-up days)."""
    overrides = overrides or {}
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if is_working(current, overrides):
            left -= 1
    return current


def overrides_between(session: Session, first: date, last: date) -> dict[date, bool]:
    """The listed days from `first` to `last` (inclusive): date -> working."""
    rows = session.execute(select(CalendarDay.day, CalendarDay.working)
                           .where(CalendarDay.day >= first, CalendarDay.day <= last)).all()
    return {r.day: r.working for r in rows}


def deadline_after(session: Session, start: date, days: int) -> date:
    """`days` working days after `start` by the stored calendar (read in windows, however long the holidays)."""
    window = days * 2 + 31
    overrides = overrides_between(session, start, start + timedelta(days=window))
    end = working_days_after(start, days, overrides)
    while end > start + timedelta(days=window):  # a calendar full of holidays: read on and count again
        window *= 2
        overrides = overrides_between(session, start, start + timedelta(days=window))
        end = working_days_after(start, days, overrides)
    return end


def list_days(session: Session, year: Any) -> list[CalendarDay]:
    """The listed days of a year, in date order (anyone signed in may read the calendar)."""
    try:
        y = int(year)
    except (TypeError, ValueError):
        raise Invalid("year", "year must be a year like 2026") from None
    if not 1900 <= y <= 2999:
        raise Invalid("year", "year must be a year like 2026")
    return list(session.scalars(select(CalendarDay).where(CalendarDay.day >= date(y, 1, 1),
                                                          CalendarDay.day <= date(y, 12, 31))
                                .order_by(CalendarDay.day)).all())


def _day(raw: Any, field: str) -> date:
    day = parse_date(field, raw)
    if day is None:
        raise Invalid(field, "{field} is required")
    return day


def _clean_entry(raw: Any) -> tuple[list[date], str, str]:
    if not isinstance(raw, Mapping):
        raise Invalid("entries", "each entry needs date (or from and to) and day_type")
    unknown = set(raw) - {"date", "from", "to", "day_type", "name"}
    if unknown:
        name = sorted(unknown)[0]
        raise Invalid(name, "unknown field {name!r}", params={"name": name})
    kind = raw.get("day_type")
    if kind not in DAY_TYPES:
        raise Invalid("day_type", "day_type must be one of {allowed}, got {raw!r}",
                      params={"allowed": ", ".join(DAY_TYPES), "raw": kind})
    if "date" in raw:
        first = last = _day(raw["date"], "date")
    else:
        first, last = _day(raw.get("from"), "from"), _day(raw.get("to"), "to")
        if last < first:
            raise Invalid("to", "to must not be before from")
    span = (last - first).days + 1
    if span > MAX_DAYS:
        raise Invalid("to", "one entry spans at most {max_days} days", params={"max_days": MAX_DAYS})
    name = clean_text("name", raw.get("name"), max_len=100)
    return [first + timedelta(days=n) for n in range(span)], kind, name


def set_days(v: Vault, session: Session, actor: User, entries: Any) -> list[date]:
    """List days as holidays or make-up working days, or back to normal (administrators); validated whole
    before anything is written, audited once. Returns the days set."""
    policy.require(actor, "calendar.edit")
    if not isinstance(entries, list) or not entries:
        raise Invalid("entries", "entries must be a non-empty list of days (date, or from and to; day_type; name)")
    cleaned = [_clean_entry(e) for e in entries]
    if sum(len(days) for days, _k, _n in cleaned) > MAX_DAYS:
        raise Invalid("entries", "one request sets at most {max_days} days", params={"max_days": MAX_DAYS})
    now = v.clock.now()
    changed: list[date] = []
    summary: dict[str, list[str]] = {k: [] for k in DAY_TYPES}
    for days, kind, name in cleaned:
        session.execute(delete(CalendarDay).where(CalendarDay.day.in_(days)))
        if kind != "normal":
            session.add_all(CalendarDay(day=d, working=kind == "workday", name=name, updated_by_id=actor.id,
                                        updated_at=now) for d in days)
        session.flush()
        changed.extend(days)
        summary[kind].append(days[0].isoformat() if len(days) == 1
                             else f"{days[0].isoformat()}..{days[-1].isoformat()}")
    audit.record(session, actor, "calendar.changed", None, now=now,
                 days={k: ", ".join(spans) for k, spans in summary.items() if spans})
    return changed
