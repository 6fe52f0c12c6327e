"""Paging of every list (API, pages, search): the page object, the parsing of page/per_page, the caps.

The caps are the contract's (API.md: `?page=1&per_page=50`, at most 200 a page): the OpenAPI document's
limits and the search engines' check read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from vault.errors import Invalid

MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 50
MAX_PAGE = 100_000  # an OFFSET beyond this is no use to anyone and overflows SQLite's integers


@dataclass(frozen=True)
class Page:
    """One page of a list: its items, how many there are in all, which page and how long."""

    items: list[Any]
    total: int
    page: int
    per_page: int


def paging(page: Any, per_page: Any, default_per_page: int = DEFAULT_PER_PAGE) -> tuple[int, int]:
    """The page number and page length a caller asked for (raw query-string values accepted); Invalid
    naming the field when either is not a whole number in range."""
    try:
        p, k = int(page or 1), int(per_page or default_per_page)
    except (TypeError, ValueError):
        raise Invalid("page", "page and per_page must be whole numbers") from None
    if not 1 <= p <= MAX_PAGE:
        raise Invalid("page", "page must be between 1 and {max_page}", params={"max_page": MAX_PAGE})
    if not 1 <= k <= MAX_PER_PAGE:
        raise Invalid("per_page", "per_page must be between 1 and {max_per_page}",
                      params={"max_per_page": MAX_PER_PAGE})
    return p, k


def page_of(session: Session, query: Select[Any], page: int, per_page: int, *options: Any) -> Page:
    """The `page`-th page of an ordered query's rows (one entity a row), with the count of them all.

    The page is read first: when it is not full (and not past the end) it is the last one, and the total
    follows from it without the count, which would visit every matching row again. ``options``
    (loader options such as a many-to-one ``joinedload``) apply to the page's query only, never to the count.
    """
    offset = (page - 1) * per_page
    rows = list(session.scalars(query.options(*options).offset(offset).limit(per_page)).all())
    if 0 < len(rows) < per_page or (not rows and page == 1):
        return Page(rows, offset + len(rows), page, per_page)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    return Page(rows, total, page, per_page)
