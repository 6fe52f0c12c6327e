"""Pure rules for the customer card's values: resident ID numbers (GB 11643), normalising, masking.

No database and no keys here: what a value must look like, what it normalises to for the lookup digest,
and how it is shown to someone who may see the dossier but not read its content.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_RE = re.compile(r"^[1-9]\d{16}[\dX]$")


@dataclass(frozen=True)
class ResidentId:
    """A valid 18-character resident ID number and what it tells: birth date and gender."""

    number: str
    birth_date: date
    gender: str  # "male" | "female" (the 17th digit: odd for men)


def normalise_id_number(raw: str) -> str:
    """Full-width digits and spaces folded away, the check letter upper-case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", raw)).upper()


def id_number_problem(raw: str, today: date) -> str | None:
    """What is wrong with an ID number (an English phrase), or None when it is valid."""
    number = normalise_id_number(raw)
    if len(number) != 18:
        return "it must have 18 characters"
    if not _ID_RE.match(number):
        return "only digits, with X allowed as the last character"
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "characters 7 to 14 are not a real birth date"
    if born > today or born.year < 1900:
        return "the birth date in it is not possible"
    total = sum(int(c) * w for c, w in zip(number[:17], _WEIGHTS, strict=True))
    if _CHECK[total % 11] != number[17]:
        return "the check digit does not match (a character was mistyped)"
    return None


def parse_id_number(raw: str, today: date) -> ResidentId:
    """The validated ID number with its birth date and gender; ValueError naming the problem."""
    problem = id_number_problem(raw, today)
    if problem is not None:
        raise ValueError(problem)
    number = normalise_id_number(raw)
    born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    return ResidentId(number, born, "male" if int(number[16]) % 2 else "female")


def digits_only(raw: str) -> str:
    """The digits of a phone or account number (full-width folded), dropping spaces, dashes and a + sign."""
    return "".join(c for c in unicodedata.normalize("NFKC", raw) if c.isdigit())


def normalise(kind: str, raw: str) -> str:
    """The form a value is digested in for exact lookup, so that typed variants find each other."""
    if kind == "id_number":
        return normalise_id_number(raw)
    if kind == "phone":
        digits = digits_only(raw)
        return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits
    if kind == "bank_account":
        return digits_only(raw)
    return unicodedata.normalize("NFKC", raw).strip()


def mask(kind: str, value: str) -> str:
    """The value as shown to someone who may not read it: 110105********1234, 6222 **** **** 0123."""
    if kind == "id_number":
        v = normalise_id_number(value)
        return v[:6] + "*" * max(len(v) - 10, 4) + v[-4:] if len(v) > 10 else "*" * len(v)
    if kind == "bank_account":
        v = digits_only(value)
        if len(v) <= 8:
            return "*" * len(v)
        groups = -(-(len(v) - 8) // 4)
        return " ".join([v[:4], *["****"] * groups, v[-4:]])
    if kind == "phone":
        v = digits_only(value)
        return v[:3] + "****" + v[-4:] if len(v) >= 11 else "*" * max(len(v) - 2, 1) + v[-2:]
    if kind == "address":
        text = value.strip()
        return text[:6] + "****" if text else ""
    return "****" if value else ""


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it has fewer days)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
