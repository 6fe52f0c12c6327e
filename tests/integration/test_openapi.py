"""The project's OpenAPI document lists exactly the routes the app has, and the contract's paths."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.corpus import CORPUS


def _app_routes(app: Flask) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                routes.add((method.lower(), path))
    return routes


def test_the_openapi_document_lists_exactly_the_apps_routes(app: Flask, client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert documented == _app_routes(app)


def test_every_path_of_the_shared_contract_exists(app: Flask) -> None:
    contract = (CORPUS.parent / "API.md").read_text(encoding="utf-8")
    routes = {(m, re.sub(r"\{[^}]+\}", "{}", p)) for m, p in _app_routes(app)}
    implemented_prefixes = ("/api/v1/health", "/api/v1/auth", "/api/v1/dossiers", "/api/v1/documents",
                            "/api/v1/audit", "/api/v1/search", "/api/v1/checkouts", "/api/v1/holds",
                            "/api/v1/retention", "/api/v1/destructions")
    present = {p.split("/")[3] for _, p in routes}
    for method, path in re.findall(r"\| (GET|POST|PATCH|PUT|DELETE) `(/api/v1/[^`]+)`", contract):
        for single in path.split("`, `"):
            full = single if single.startswith("/api") else None
            if full is None or not full.startswith(implemented_prefixes) or full.split("/")[3] not in present:
                continue
            assert (method.lower(), re.sub(r"\{[^}]+\}", "{}", full)) in routes, f"{method} {full} missing"
