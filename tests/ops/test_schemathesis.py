"""schemathesis against /api/v1/openapi.json, in-process over WSGI, as an archivist and as an employee.

Bounded for CI: a few generated cases per operation (SCHEMATHESIS_MAX_EXAMPLES to run longer). Checks:
no 5xx, and every answer matches the document: a documented status code, a documented content type, a
body valid against the documented schema.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from config import load_settings
from indexer.worker import run_pending
from tests.conftest import PASSWORD
from tests.corpus import SYNTHETIC, manifest
from vault.core import Vault, ensure_home
from vault.services import documents, dossiers, users
from web import create_app
from web.bootstrap import compose
from web.openapi import build_spec

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "8"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FILES = [SYNTHETIC / e["path"] for e in manifest(SYNTHETIC)["files"] if not e["needs_ocr"]][:2]


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, dict[str, str]]]:
    """One vault for the module: an archivist's and an employee's dossier, each with an indexed document."""
    home = tmp_path_factory.mktemp("schemathesis") / "home"
    cfg = load_settings({"home": str(home)}, environ={})
    ensure_home(cfg)
    v = Vault.open(cfg, migrate_schema=True)
    try:
        made = {}
        with v.session() as s:
            system = users.system_user(s, v.clock.now())
            for role in ("archivist", "employee", "legal"):
                made[role] = users.create_user(v, s, system, role, role, PASSWORD, clearance="confidential")
                s.flush()
                s.expunge(made[role])
        for owner, path in zip(("archivist", "employee"), FILES, strict=True):
            with v.session() as s:
                dossier_id = dossiers.create_dossier(v, s, made["archivist"], {
                    "customer_name": f"模糊测试客户 {owner}", "customer_type": "client", "owner": owner}).id
            with path.open("rb") as fh:
                staged = documents.stage_upload(v, iter(lambda: fh.read(65536), b""), path.name)  # noqa: B023
            with v.session() as s:
                documents.commit_upload(v, s, made["archivist"], dossier_id, staged, doc_type="contract")
        runtime = compose(v)
        app = create_app(runtime=runtime)
        app.config.update(TESTING=True)
        run_pending(v, runtime.index)
        client = app.test_client()
        tokens = {}
        for role in ("archivist", "employee"):
            r = client.post("/api/v1/auth/token", json={"username": role, "password": PASSWORD})
            assert r.status_code == 201, r.get_json()
            tokens[role] = r.get_json()["token"]
        yield app, tokens
    finally:
        v.close()


# the document the app serves at /api/v1/openapi.json, built the same way (schemathesis' fixture-based lazy
# loader does not work with pytest 9); requests still go to the app, through WSGI
schema = schemathesis.openapi.from_dict(build_spec())
bounded = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
                   suppress_health_check=list(HealthCheck))


def _call(case: Any, fuzzed_app: tuple[Flask, dict[str, str]], role: str) -> None:
    app, tokens = fuzzed_app
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {tokens[role]}"}, checks=CHECKS)


@schema.parametrize()
@bounded
def test_no_operation_fails_or_leaves_the_document_as_an_archivist(case: Any, fuzzed_app: Any) -> None:
    _call(case, fuzzed_app, "archivist")


@schema.parametrize()
@bounded
def test_no_operation_fails_or_leaves_the_document_as_an_employee(case: Any, fuzzed_app: Any) -> None:
    _call(case, fuzzed_app, "employee")


def _fresh_headers(app: Flask, role: str) -> dict[str, str]:
    # the fuzzed DELETE /api/v1/tokens/{id} may have revoked the module's tokens (its own included): ask anew
    r = app.test_client().post("/api/v1/auth/token", json={"username": role, "password": PASSWORD})
    assert r.status_code == 201, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


def test_ids_too_large_for_the_database_are_not_found_rather_than_a_server_error(fuzzed_app: Any) -> None:
    app, _tokens = fuzzed_app  # found by schemathesis: the driver raised OverflowError (a 500)
    headers = _fresh_headers(app, "archivist")
    client = app.test_client()
    for path in ("/api/v1/dossiers/27106934190263039257708729466880", "/api/v1/documents/9223372036854775808",
                 "/api/v1/documents/9223372036854775808/content", "/api/v1/checkouts/99999999999999999999"):
        r = client.get(path, headers=headers)
        assert r.status_code == 404, (path, r.get_json())


def test_a_page_number_beyond_the_limit_is_refused_rather_than_a_server_error(fuzzed_app: Any) -> None:
    app, _tokens = fuzzed_app  # found by schemathesis: OFFSET overflowed SQLite's integers (a 500)
    r = app.test_client().get("/api/v1/dossiers", query_string={"page": 917763261054820480, "per_page": 190},
                              headers=_fresh_headers(app, "archivist"))
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "page"
