"""An archive with rows in every state for the ledger and report tests: dossiers of three grades (one
named like a spreadsheet formula, one secret), checkouts pending, overdue and returned, a grade change,
a closed dossier, an executed and a proposed destruction batch, and a secret dossier's own history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import load_settings
from tests.conftest import Api, People
from tests.support.workflow_fixtures import OLD, PDF, PDF2, PNG, upload
from vault.clock import FixedClock
from vault.core import Vault, ensure_home

SECRET_NAME = "绝密矿业集团"
FORMULA_NAME = '=HYPERLINK("http://evil.example/x","点我")'
FORMULA_PURPOSE = "@SUM(1+1)*cmd|' /C calc'!A0"


@dataclass
class Scene:
    huawei: dict[str, Any]
    alibaba: dict[str, Any]
    zeta: dict[str, Any]
    formula: dict[str, Any]
    secret: dict[str, Any]
    pending: int
    overdue: int
    returned: int
    batch: int
    proposed: int
    secret_batch: int


def build(api: Api, people: People, clock: FixedClock) -> Scene:
    """The scene, built through the API in January 2026 (the fixed clock's month), ending on 2026-01-20."""
    arch = people.archivist
    top = people.make("top_arch", "archivist", "secret")
    huawei = api.new_dossier(arch, customer_name="华为技术有限公司", industry="通信", region="深圳", grade="A",
                             owner="employee")
    alibaba = api.new_dossier(arch, customer_name="阿里巴巴网络技术有限公司", industry="互联网", region="杭州",
                              grade="B")
    zeta = api.new_dossier(arch, customer_name="Zeta Trading Ltd", industry="贸易", region="上海", grade="C")
    formula = api.new_dossier(arch, customer_name=FORMULA_NAME, industry="-2+3", region="+86", grade="D")
    secret = api.new_dossier(top, customer_name=SECRET_NAME, industry="通信", region="深圳", grade="A",
                             secrecy="secret")
    for d in (huawei, alibaba, zeta):
        upload(api, arch, d["id"], PNG, doc_type="license")
        upload(api, arch, d["id"], PDF2, doc_type="credit_report", doc_date="2025-12-01")
    upload(api, arch, huawei["id"], PDF, doc_type="contract", doc_date="2025-06-01")
    old = upload(api, arch, zeta["id"], PDF, doc_type="invoice", doc_date=OLD)
    old2 = upload(api, arch, alibaba["id"], PDF, doc_type="invoice", doc_date=OLD)
    secret_old = upload(api, top, secret["id"], PDF, doc_type="invoice", doc_date=OLD)

    emp = people.employee
    top_legal = people.make("top_legal", "legal", "secret")
    top_mgr = people.make("top_mgr", "manager", "secret")

    def checkout(user: Any, dossier: dict[str, Any], purpose: str, approver: Any = None) -> int:
        r = api.post(user, "/api/v1/checkouts", json={"dossier_id": dossier["id"], "purpose": purpose,
                                                      "kind": "view", "days": 3})
        assert r.status_code == 201, r.get_json()
        cid = int(r.get_json()["id"])
        if approver is not None:
            ok = api.post(approver, f"/api/v1/checkouts/{cid}/approve", json={})
            assert ok.status_code == 200, ok.get_json()
        return cid

    returned = checkout(emp, alibaba, "年度审计 annual audit", arch)
    assert api.post(emp, f"/api/v1/checkouts/{returned}/return").status_code == 200
    overdue = checkout(emp, huawei, FORMULA_PURPOSE, arch)
    pending = checkout(people.manager, zeta, "合同核对 contract check")
    checkout(top_legal, secret, "绝密借阅 secret purpose", top_mgr)
    assert api.patch(arch, f"/api/v1/dossiers/{huawei['id']}", json={"grade": "B"}).status_code == 200
    assert api.patch(arch, f"/api/v1/dossiers/{zeta['id']}", json={"status": "closed"}).status_code == 200
    assert api.patch(arch, f"/api/v1/dossiers/{alibaba['id']}",
                     json={"next_review_date": "2026-01-25"}).status_code == 200
    assert api.patch(top, f"/api/v1/dossiers/{secret['id']}", json={"grade": "C"}).status_code == 200

    def batch(user: Any, doc_ids: list[int], approve: bool, manager: Any, legal: Any) -> int:
        r = api.post(user, "/api/v1/destructions", json={"document_ids": doc_ids, "reason": "保管期限届满"})
        assert r.status_code == 201, r.get_json()
        bid = int(r.get_json()["id"])
        if approve:
            for approver in (manager, legal):
                ok = api.post(approver, f"/api/v1/destructions/{bid}/approve", json={"comment": "同意"})
                assert ok.status_code == 200, ok.get_json()
            ex = api.post(user, f"/api/v1/destructions/{bid}/execute")
            assert ex.status_code == 200, ex.get_json()
        return bid

    executed = batch(arch, [old["id"]], True, people.manager, people.legal)
    proposed = batch(arch, [old2["id"]], False, None, None)
    secret_batch = batch(top, [secret_old["id"]], True, top_mgr, top_legal)
    clock.advance(days=15)  # 2026-01-20: the approved view checkout (3 days) is overdue
    return Scene(huawei, alibaba, zeta, formula, secret, pending, overdue, returned, executed, proposed,
                 secret_batch)


@contextmanager
def shared_archive(home: Path) -> Iterator[tuple[Api, People, FixedClock, Scene]]:
    """The scene in a vault of its own, for a module of tests that only read it (built once: the users'
    password hashing makes it take seconds)."""
    from web import create_app

    clock = FixedClock()
    settings = load_settings({"home": str(home), "token_ttl_hours": 24 * 365 * 50}, environ={})
    ensure_home(settings)
    v = Vault.open(settings, clock=clock, migrate_schema=True)
    try:
        app = create_app(vault=v)
        app.config.update(TESTING=True)
        people = People(v)
        api = Api(app.test_client(), people)
        yield api, people, clock, build(api, people, clock)
    finally:
        v.close()
