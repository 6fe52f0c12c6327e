"""Search: one box, filters, highlighted snippets, paging; the query lives in the URL."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from indexer import service as svc
from vault.errors import Invalid, NotFound, Unavailable
from vault.models import DocType
from vault.services.common import resolve_archive_no
from web.deps import actor, get_index, get_vault, unit_of_work
from web.pages.common import field_message, highlight, page_args

bp = Blueprint("search", __name__)
FILTERS = ("doc_type", "archive_no", "date_from", "date_to")


@bp.get("/search")
def search_page() -> ResponseReturnValue:
    q = request.args.get("q", "").strip()
    filters = {k: request.args.get(k, "").strip() for k in FILTERS}
    filters["archive_no"] = filters["archive_no"] or request.args.get("dossier_id", "").strip()  # older links
    page, per_page = page_args()
    errors: dict[str, str] = {}
    result = None
    unavailable = False
    if q:
        v = get_vault()
        try:
            wanted = {k: val for k, val in filters.items() if val and k != "archive_no"}
            with unit_of_work() as s:
                if filters["archive_no"]:
                    wanted["dossier_id"] = str(resolve_archive_no(s, actor(), filters["archive_no"]).id)
                parsed = svc.parse_filters(wanted)
                result = svc.search(v, get_index(), s, actor(), q, parsed, page, per_page)
        except (Invalid, NotFound) as exc:
            errors[getattr(exc, "field", "archive_no")] = field_message(exc)
        except Unavailable:
            unavailable = True
    items = []
    if result is not None:
        items = [{"document_id": i.document_id, "dossier_id": i.dossier_id, "archive_no": i.archive_no,
                  "title": i.title, "doc_type": i.doc_type, "doc_date": i.doc_date, "snippet": highlight(i.snippet),
                  "source": i.source, "record_id": i.record_id, "paper_only": i.paper_only}
                 for i in result.items]
    total = result.total if result is not None else 0
    pages = max(1, -(-total // per_page))
    return render_template("pages/search.html", q=q, filters=filters, items=items, total=total, page=page,
                           pages=pages, errors=errors, searched=result is not None, unavailable=unavailable,
                           partial=bool(result and result.partial), doc_types=list(DocType),
                           exact=result is None or result.total_exact,
                           ranked=result.ranked if result is not None else None)
