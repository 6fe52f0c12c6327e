"""An archive with every state the pages show: for the page crawler and the narrow-screen check.

Checkouts pending, active, approved (paper), overdue, returned and rejected; destruction batches proposed,
approved and executed (so a destroyed document); active and released holds; indexed and failed documents;
a secret dossier whose checkout a manager approves. Names carry `&`, `<`, quotes so that escaping twice
shows. Built through the JSON API as the people would, with the real worker indexing the files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from indexer.search_index import SearchIndex
from tests.conftest import Api, People
from tests.corpus import BAD, SYNTHETIC
from tests.support.multipart import post_file
from vault.clock import FixedClock
from vault.core import Vault

# a name with every character HTML escapes: a page that escapes it twice shows "&amp;amp;" or "&amp;lt;"
TRICKY_NAME = "甲乙&丙 <测试> \"引号\" '单引' 有限公司"
TRICKY_TITLE = "合同 A&B <第1版> 'final'"
ROLES = ("archivist", "employee", "legal", "manager", "admin")
SECRET_NAME = "绝密客户有限公司"
OLD = "1990-01-01"


@dataclass
class Seeded:
    """Ids of what was built, by the state it is in."""

    dossiers: dict[str, int] = field(default_factory=dict)
    documents: dict[str, int] = field(default_factory=dict)
    checkouts: dict[str, int] = field(default_factory=dict)
    batches: dict[str, int] = field(default_factory=dict)
    holds: dict[str, int] = field(default_factory=dict)
    transfers: dict[str, int] = field(default_factory=dict)


def _ok(r: Any, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.get_json())
    return dict(r.get_json())


def _upload(api: Api, user: Any, dossier_id: int, path: Path, doc_type: str = "contract",
            doc_date: str | None = OLD, title: str | None = None) -> int:
    return int(_ok(api.upload(user, dossier_id, path, doc_type=doc_type, doc_date=doc_date, title=title), 201)["id"])


def seed_archive(vault: Vault, index: SearchIndex, api: Api, people: People, clock: FixedClock) -> Seeded:
    """Build the archive (needs a token lifetime longer than the days the clock is moved on)."""
    from indexer.worker import run_pending

    for role in ROLES:
        people.make(role, role, "secret")
    archivist, employee, legal, manager = people.archivist, people.employee, people.legal, people.manager
    arch2 = people.make("arch2", "archivist", "secret")
    people.make("legal_low", "legal", "internal")  # below the secret and confidential dossiers
    out = Seeded()

    main = api.new_dossier(archivist, customer_name=TRICKY_NAME, owner="archivist", secrecy="internal",
                           credit_code="913307828124158690")
    own = api.new_dossier(archivist, customer_name="员工自有客户有限公司", owner="employee", secrecy="confidential")
    secret = api.new_dossier(archivist, customer_name=SECRET_NAME, owner="archivist", secrecy="secret")
    out.dossiers.update(main=main["id"], own=own["id"], secret=secret["id"])

    docs = out.documents
    docs["indexed"] = _upload(api, archivist, main["id"], SYNTHETIC / "C01/02_contract_HYGL-JG-20220309-062.pdf",
                              doc_date="2022-03-09", title=TRICKY_TITLE)
    locked = post_file(api.client, f"/api/v1/dossiers/{main['id']}/documents", api.headers(archivist),
                       {"doc_type": "contract"}, "locked.pdf", (BAD / "encrypted-user-password.pdf").read_bytes())
    docs["failed"] = int(_ok(locked, 201)["id"])
    for name, path in (("proposed", "C02/02_contract_HYGL-JG-20231221-068.pdf"),
                       ("approved", "C03/02_contract_HYGL-JG-20210430-075.pdf"),
                       ("destroyed", "C04/02_contract_HYGL-KJ-20231221-083.pdf"),
                       ("held", "C05/02_contract_HYGL-KJ-20220514-086.pdf"),
                       ("due", "C06/02_contract_HYGL-KJ-20231024-087.pdf")):
        docs[name] = _upload(api, archivist, main["id"], SYNTHETIC / path, title=f"到期合同 {name} & <old>")
    # its text has "Import & Export": a search snippet around it shows whether "&" is escaped once
    docs["ampersand"] = _upload(api, archivist, main["id"], SYNTHETIC / "C06/03_credit_report_ZX2023683354.pdf",
                                doc_type="credit_report", doc_date="2025-06-01")
    docs["own"] = _upload(api, archivist, own["id"], SYNTHETIC / "C07/02_contract_HYGL-CG-20220115-096.pdf",
                          doc_date="2023-01-15")
    docs["secret"] = _upload(api, archivist, secret["id"], SYNTHETIC / "C08/02_contract_HYGL-JG-20220509-104.pdf",
                             doc_date="2022-05-09")
    run_pending(vault, index)

    holds = out.holds
    holds["document"] = _ok(api.post(legal, "/api/v1/holds", json={"document_id": docs["held"],
                                                                    "reason": "诉讼 dispute A&B <2026>"}), 201)["id"]
    holds["dossier"] = _ok(api.post(legal, "/api/v1/holds", json={"dossier_id": own["id"],
                                                                   "reason": "审计冻结"}), 201)["id"]
    holds["released"] = _ok(api.post(legal, "/api/v1/holds", json={"document_id": docs["indexed"],
                                                                    "reason": "旧争议"}), 201)["id"]
    _ok(api.post(legal, f"/api/v1/holds/{holds['released']}/release", json={"reason": "已和解"}))

    def batch(doc: str, approvers: tuple[Any, ...]) -> int:
        b = _ok(api.post(archivist, "/api/v1/destructions",
                         json={"document_ids": [docs[doc]], "reason": "保管期限届满 & 到期"}), 201)
        for who in approvers:
            _ok(api.post(who, f"/api/v1/destructions/{b['id']}/approve", json={"comment": "同意"}))
        return int(b["id"])

    out.batches["executed"] = batch("destroyed", (manager, legal))
    _ok(api.post(arch2, f"/api/v1/destructions/{out.batches['executed']}/execute"))
    out.batches["approved"] = batch("approved", (manager, legal))
    out.batches["proposed"] = batch("proposed", ())
    run_pending(vault, index)  # the index purge of the destroyed document

    co = out.checkouts

    def request(dossier: str, kind: str, days: int, purpose: str = "授信复核 & 对账") -> int:
        return int(_ok(api.post(employee, "/api/v1/checkouts", json={
            "dossier_id": out.dossiers[dossier], "purpose": purpose, "kind": kind, "days": days}), 201)["id"])

    co["overdue"] = request("main", "view", 1)
    _ok(api.post(archivist, f"/api/v1/checkouts/{co['overdue']}/approve", json={"comment": "ok"}))
    co["returned"] = request("main", "copy", 2)
    _ok(api.post(archivist, f"/api/v1/checkouts/{co['returned']}/approve", json={}))
    _ok(api.post(employee, f"/api/v1/checkouts/{co['returned']}/return"))
    co["rejected"] = request("main", "copy", 5)
    _ok(api.post(archivist, f"/api/v1/checkouts/{co['rejected']}/reject", json={"comment": "用途不明 <请补充>"}))
    clock.advance(days=2)
    co["active"] = request("main", "view", 3)
    _ok(api.post(archivist, f"/api/v1/checkouts/{co['active']}/approve", json={}))
    co["paper"] = request("main", "physical", 5)
    _ok(api.post(archivist, f"/api/v1/checkouts/{co['paper']}/approve", json={}))
    co["pending"] = request("main", "view", 7, "核对 <合同> & 发票")
    co["pending_secret"] = request("secret", "copy", 4)
    _seed_transfers(api, people, out, clock)
    clock.advance(hours=1)
    return out


def _seed_transfers(api: Api, people: People, out: Seeded, clock: FixedClock) -> None:
    """Transfers into the archive in every state, for a dossier of their own (its papers & <items>)."""
    paper = api.new_dossier(people.archivist, customer_name="纸质移交客户 & <Paper>", owner="employee",
                            secrecy="internal")
    out.dossiers["paper"] = paper["id"]
    items = [{"title": "采购合同 <原件> & 附件", "doc_type": "contract", "doc_date": "2026-01-05", "pages": 6},
             {"title": "营业执照复印件", "doc_type": "license", "pages": 1, "original": False, "remarks": "加盖公章"}]

    def send(**extra: Any) -> int:
        return int(_ok(api.post(people.employee, "/api/v1/transfers",
                                json={"dossier_id": paper["id"], "items": items, "note": "季度移交 & 补交", **extra}),
                       201)["id"])

    tr = out.transfers
    tr["sent"], tr["returned"], tr["checked"], tr["received"] = send(), send(), send(), send()
    tr["overdue"] = send(business_date=(clock.now().date() - timedelta(days=20)).isoformat())
    _ok(api.post(people.legal, f"/api/v1/transfers/{tr['returned']}/check",
                 json={"ok": False, "missing": "缺发票 <2张>"}))
    _ok(api.post(people.manager, f"/api/v1/transfers/{tr['checked']}/check", json={"ok": True}))
    _ok(api.post(people.archivist, f"/api/v1/transfers/{tr['received']}/receive", json={"items": [
        {"index": 1, "state": "differs", "note": "少一页 & 有涂改"}, {"index": 2, "state": "missing"}]}))
