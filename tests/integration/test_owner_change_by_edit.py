"""Editing a dossier does not hand it to another owner: a new owner in the edit (API or page) is asked for,
with its reason, and takes over only when a manager approves (客户信息归属); the other fields change at once."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from tests.conftest import Api, People
from tests.integration.test_pages import as_user, csrf_of


def _dossier(api: Api, people: People) -> dict[str, Any]:
    people.make("employee", "employee")
    people.make("successor", "employee")
    return api.new_dossier(people.archivist, owner="employee", grade="B")


def test_an_archivists_patch_with_a_new_owner_asks_for_it_and_a_manager_applies_it(api: Api, people: People) -> None:
    d = _dossier(api, people)
    url = f"/api/v1/dossiers/{d['id']}"
    r = api.patch(people.archivist, url, json={"owner": "successor", "grade": "A", "reason": "调岗"})
    assert r.status_code == 202, r.get_json()
    body = r.get_json()
    assert body["owner"] == "employee" and body["grade"] == "A", "the grade changed, the owner waits"
    assert body["owner_change"]["status"] == "pending" and body["owner_change"]["to_owner"] == "successor"
    pending = api.get(people.manager, "/api/v1/owner-changes").get_json()["items"]
    assert [p["id"] for p in pending] == [body["owner_change"]["id"]]
    again = api.patch(people.archivist, url, json={"owner": "successor", "reason": "调岗"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "owner_change_pending"
    assert api.post(people.manager, f"/api/v1/owner-changes/{body['owner_change']['id']}/approve").status_code == 200
    assert api.get(people.archivist, url).get_json()["owner"] == "successor"


def test_a_new_owner_without_a_reason_is_refused_and_nothing_changes(api: Api, people: People) -> None:
    d = _dossier(api, people)
    url = f"/api/v1/dossiers/{d['id']}"
    r = api.patch(people.archivist, url, json={"owner": "successor", "grade": "A"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "reason"
    after = api.get(people.archivist, url).get_json()
    assert after["owner"] == "employee" and after["grade"] == "B"
    assert api.get(people.manager, "/api/v1/owner-changes").get_json()["items"] == []
    same = api.patch(people.archivist, url, json={"owner": "employee", "grade": "A"})
    assert same.status_code == 200, "the current owner again is no change of owner and needs no reason"


def test_the_edit_page_says_the_new_owner_waits_for_a_manager_in_the_readers_language(
        app: Flask, api: Api, people: People) -> None:
    d = _dossier(api, people)
    page = as_user(app, people.archivist)
    for lang, hint, said in (("zh", "经理批准后生效", "须经经理批准后接手"),
                             ("en", "takes over when a manager approves", "approves the change (request #")):
        form_html = page.get(f"/dossiers/{d['id']}/edit?lang={lang}").get_data(as_text=True)
        assert 'id="owner-hint"' in form_html and hint in form_html
        fields = _form_fields(form_html)
        fields.update(owner="successor", reason="调岗", csrf_token=csrf_of(form_html))
        r = page.post(f"/dossiers/{d['id']}/edit", data=fields)
        assert r.status_code == 302, r.get_data(as_text=True)
        assert said in page.get(r.headers["Location"]).get_data(as_text=True)
        assert api.get(people.archivist, f"/api/v1/dossiers/{d['id']}").get_json()["owner"] == "employee"
        change = api.get(people.manager, "/api/v1/owner-changes").get_json()["items"][0]["id"]
        assert api.post(people.manager, f"/api/v1/owner-changes/{change}/reject").status_code == 200


def _form_fields(html: str) -> dict[str, str]:
    """What the edit form would send unchanged: its inputs' values and its selects' chosen options."""
    fields = dict(re.findall(r'<input id="(\w+)" name="\1"[^>]*? value="([^"]*)"', html))
    for name, options in re.findall(r'<select[^>]*name="(\w+)"[^>]*>(.*?)</select>', html, flags=re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', options)
        if chosen:
            fields[name] = chosen.group(1)
    return fields
