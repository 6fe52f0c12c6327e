"""The scanning intake and stock-take pages, with real rows in every state, per role, in Chinese and English."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from tests.conftest import Api, People
from tests.integration.test_pages import as_user, post_form
from tests.support.multipart import post_file
from tests.support.paper_stack import content, separator, stack_pdf
from vault import paper_codes


def _text(r: Any) -> str:
    return re.sub(r"\s+", " ", r.get_data(as_text=True))


def _stack(api: Api, people: People) -> tuple[dict[str, Any], int]:
    a = people.archivist
    d1 = api.new_dossier(a, customer_name="扫描客户", location="A室/3柜/01")
    pdf = stack_pdf([separator(d1["archive_no"], "contract"), content("p1"), separator("KH-2099-000001"),
                     content("lost"), content("lost 2")])
    r = post_file(api.client, "/api/v1/intake", api.headers(a), {}, "批次.pdf", pdf)
    assert r.status_code == 200
    return d1, int(r.get_json()["stack_id"])


def test_the_intake_pages_show_the_result_and_the_inbox_in_both_languages(app: Flask, api: Api,
                                                                          people: People) -> None:
    d1, stack_id = _stack(api, people)
    c = as_user(app, people.archivist)
    zh = _text(c.get(f"/intake/{stack_id}?lang=zh"))
    assert d1["archive_no"] in zh and "未归档" in zh and "完成" in zh and "2–2" in zh and "4–5" in zh
    assert "合同" in zh  # the filed part's type, as its separator named it
    en = _text(c.get(f"/intake/{stack_id}?lang=en"))
    assert "Filed" in en and "The code names no dossier you may file into" in en
    inbox = _text(c.get("/intake?lang=en"))
    assert "Unfiled inbox" in inbox and "4–5" in inbox and "批次.pdf" in inbox
    part = int(re.search(r'/intake/unfiled/(\d+)/assign', inbox).group(1))  # type: ignore[union-attr]
    r = post_form(c, f"/intake/unfiled/{part}/assign", {"archive_no": "KH-2099-000001", "doc_type": "other"})
    assert r.status_code == 302
    assert "no dossier has the archive number" in _text(c.get("/intake?lang=en"))  # said, nothing filed
    c.get("/intake?lang=zh")  # the language chosen stays with the session
    post_form(c, f"/intake/unfiled/{part}/assign", {"archive_no": d1["archive_no"], "doc_type": "invoice"})
    after = _text(c.get("/intake"))
    assert f"已归入 {d1['archive_no']}" in after and "/intake/unfiled/" not in after


def test_only_archivists_reach_intake_and_only_stocktake_roles_reach_stocktakes(app: Flask, api: Api,
                                                                                people: People) -> None:
    for role in ("employee", "manager", "legal"):
        assert as_user(app, getattr(people, role)).get("/intake").status_code == 403
    assert as_user(app, people.employee).get("/stocktakes").status_code == 403
    assert as_user(app, people.manager).get("/stocktakes").status_code == 200
    nav = _text(as_user(app, people.archivist).get("/?lang=zh"))
    assert 'href="/intake"' in nav and 'href="/stocktakes"' in nav


def test_a_stocktake_through_its_pages_scans_ticks_and_closes(app: Flask, api: Api, people: People) -> None:
    a = people.archivist
    d1 = api.new_dossier(a, customer_name="在架客户", location="A室/3柜/01")
    d2 = api.new_dossier(a, customer_name="缺失客户", location="A室/3柜/02")
    c = as_user(app, a)
    r = post_form(c, "/stocktakes", {"scope": "A室/3柜"})
    assert r.status_code == 302
    url = r.headers["Location"].split("#")[0]
    post_form(c, f"{url}/marks", {"code": paper_codes.encode(d1["archive_no"])})
    page = _text(c.get(url + "?lang=zh"))
    assert f"{d1['archive_no']} 在架" in page and "缺失客户" in page
    post_form(c, f"{url}/marks", {"code": "DVA1:KH-2099-000009"})
    assert "KH-2099-000009" in _text(c.get(url + "?lang=en"))  # the unknown code is named, nothing marked
    post_form(c, f"{url}/marks", {"dossier_id": str(d2["id"])})  # a tick
    post_form(c, f"{url}/close")
    closed = _text(c.get(url + "?lang=en"))
    assert "closed" in closed and 'data-count="present">2<' in closed and "Mark present" not in closed
    assert "A室/3柜" in _text(as_user(app, people.manager).get("/stocktakes?lang=zh"))
