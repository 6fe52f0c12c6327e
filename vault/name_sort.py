"""The dossiers' name sort key: pinyin for Chinese names, so that 北京 sorts before 上海 and Latin names
sort among them by their letters.

The key is stored in `dossiers.name_sort` and kept current by an attribute listener on
`Dossier.customer_name` (every create and rename, through any service); the migration 0014 backfills it and
bulk loaders that bypass the ORM call `name_sort_key` themselves.
"""

from __future__ import annotations

import re
from typing import Any

from pypinyin import Style, lazy_pinyin
from sqlalchemy import event

from vault.models import Dossier

_SPACE = re.compile(r"\s+")
MAX_KEY = 400


def name_sort_key(name: str | None) -> str:
    """The sort key of a customer name: its pinyin syllables (toneless) run together, lower case; other
    characters kept as they are, so 张三 -> 'zhangsan' sorts next to 'Zhang Holdings' -> 'zhangholdings'."""
    if not name:
        return ""
    return _SPACE.sub("", "".join(lazy_pinyin(name, style=Style.NORMAL))).lower()[:MAX_KEY]


@event.listens_for(Dossier.customer_name, "set")
def _on_rename(target: Dossier, value: Any, _old: Any, _initiator: Any) -> None:
    target.name_sort = name_sort_key(value if isinstance(value, str) else None)
