"""Two hosts' worth of Dossier Vault with no shared disk: two app processes and two index workers, each
with its own home directory, against one PostgreSQL (search engine ``pg``) and one S3 store (SeaweedFS).

What a deployment behind a load balancer relies on: an upload through one app is indexed by whichever
worker takes it and found through the other app; a destruction through the first is gone from both at
once; and no job is taken by both workers. The homes share only what a secret store would hand every
host: the keyring and the session secret.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import text

from tests.support.postgres import PostgresServer
from tests.support.seaweed import SeaweedS3
from tests.support.workflow_fixtures import DOCX, PDF, PDF2
from vault.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a-long-password-1"
USERS = {"archivist": "archivist", "arch2": "archivist", "manager": "manager", "legal": "legal"}
TERM = "HYGL-JG-20220309-062"  # the contract number: in PDF, and cited in DOCX


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dossier(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    done = subprocess.run([sys.executable, "-m", "web.cli", *args], env=env, cwd=ROOT, input=stdin, text=True,
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr


class Host:
    """One host's environment: its own home, the shared database and bucket."""

    def __init__(self, home: Path, shared: dict[str, str]) -> None:
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
        self.env.update(shared, DOSSIER_HOME=str(home))


@pytest.fixture
def hosts(tmp_path: Path, pg_server: PostgresServer, s3_server: SeaweedS3,
          pg_empty_database: Callable[[], str]) -> Iterator[tuple[list[str], str]]:
    """Two app URLs (processes running) and the database URL; two workers running beside them."""
    database_url = pg_empty_database()
    shared = {"DOSSIER_DATABASE_URL": database_url, "DOSSIER_SEARCH_ENGINE": "pg", "DOSSIER_BLOB_BACKEND": "s3",
              "DOSSIER_S3_ENDPOINT": s3_server.endpoint, "DOSSIER_S3_ACCESS_KEY": s3_server.access_key,
              "DOSSIER_S3_SECRET_KEY": s3_server.secret_key, "DOSSIER_S3_REGION": s3_server.region,
              "DOSSIER_S3_BUCKET": f"replicas-{os.getpid()}-{time.monotonic_ns() % 10**6}",
              "DOSSIER_TOKEN_TTL_HOURS": str(24 * 365 * 50)}
    first = Host(tmp_path / "app1", shared)
    _dossier(first.env, "init")
    for name, role in USERS.items():
        _dossier(first.env, "user", "add", name, "--role", role, "--clearance", "secret", "--password-stdin",
                 stdin=PASSWORD + "\n")
    others = [Host(tmp_path / name, shared) for name in ("app2", "worker1", "worker2")]
    for host in others:  # what a secret store hands every host; nothing else is shared
        host.home.mkdir(mode=0o700)
        for secret in ("keyring.json", "secret_key"):
            shutil.copy2(first.home / secret, host.home / secret)
    procs: list[subprocess.Popen[bytes]] = []
    urls = []
    try:
        for host in (first, others[0]):
            port = _free_port()
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "web.cli", "serve", "--port", str(port), "--processes", "1", "--threads",
                 "2", "--no-worker"], env=host.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}")
        for host in others[1:]:
            procs.append(subprocess.Popen([sys.executable, "-m", "web.cli", "worker"], env=host.env, cwd=ROOT,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 120
        for url in urls:
            while True:
                try:
                    if requests.get(f"{url}/api/v1/health", timeout=2).ok:
                        break
                except requests.ConnectionError:
                    pass
                assert all(p.poll() is None for p in procs) and time.monotonic() < deadline, "a host did not start"
                time.sleep(0.2)
        yield urls, database_url
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


class Client:
    def __init__(self, url: str) -> None:
        self.url = url
        self.tokens: dict[str, str] = {}

    def _h(self, user: str) -> dict[str, str]:
        if user not in self.tokens:
            r = requests.post(f"{self.url}/api/v1/auth/token", json={"username": user, "password": PASSWORD},
                              timeout=10)
            assert r.status_code == 201, r.text
            self.tokens[user] = r.json()["token"]
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def get(self, user: str, path: str, **params: Any) -> Any:
        r = requests.get(f"{self.url}{path}", params=params, headers=self._h(user), timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, user: str, path: str, expect: int = 200, **kw: Any) -> Any:
        r = requests.post(f"{self.url}{path}", headers=self._h(user), timeout=60, **kw)
        assert r.status_code == expect, r.text
        return r.json()

    def found(self, user: str, q: str) -> list[int]:
        body = self.get(user, "/api/v1/search", q=q, per_page=100)
        assert body["total"] == len(body["items"])
        return sorted(i["document_id"] for i in body["items"] if i["source"] == "document")

    def hits(self, user: str, q: str) -> list[tuple[str, int, int]]:
        """Every hit, documents and the customer file's entries (a card is found from its dossier's creation)."""
        body = self.get(user, "/api/v1/search", q=q, per_page=100)
        return sorted((i["source"], i["dossier_id"], i["document_id"] or 0) for i in body["items"])


@pytest.mark.slow
def test_two_apps_and_two_workers_without_shared_disk_see_one_archive(hosts: tuple[list[str], str]) -> None:
    (url_a, url_b), database_url = hosts
    a, b = Client(url_a), Client(url_b)
    d = a.post("archivist", "/api/v1/dossiers", 201, json={"customer_name": "两台主机有限公司",
                                                           "customer_type": "client"})
    uploaded = []
    for n, path in enumerate([PDF, PDF2, DOCX]):
        with path.open("rb") as f:
            uploaded.append(a.post("archivist", f"/api/v1/dossiers/{d['id']}/documents", 201,
                                   data={"doc_type": "contract", "doc_date": "1990-01-01", "title": f"文件 {n}"},
                                   files={"file": (path.name, f)})["id"])
    deadline = time.monotonic() + 180
    while {b.get("legal", f"/api/v1/documents/{i}")["index_status"] for i in uploaded} != {"indexed"}:
        assert time.monotonic() < deadline, "the workers did not index the uploads"
        time.sleep(0.5)
    first = uploaded[0]
    before = b.found("legal", f'"{TERM}"')
    assert first in before and before == a.found("legal", f'"{TERM}"')
    broad = b.hits("legal", "有限公司")
    assert broad == a.hits("legal", "有限公司") and ("card", d["id"], 0) in broad

    batch = a.post("archivist", "/api/v1/destructions", 201, json={"document_ids": [first], "reason": "期限届满"})
    for approver in ("manager", "legal"):
        a.post(approver, f"/api/v1/destructions/{batch['id']}/approve", json={"comment": "同意"})
    a.post("arch2", f"/api/v1/destructions/{batch['id']}/execute")
    after = [i for i in before if i != first]
    assert b.found("legal", f'"{TERM}"') == after == a.found("legal", f'"{TERM}"')

    engine = make_engine(database_url)
    try:
        while True:  # the purge job too
            with engine.connect() as conn:
                jobs = conn.execute(text("SELECT kind, status, attempts, locked_by FROM jobs")).all()
            if all(job.status == "done" for job in jobs) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        engine.dispose()
    assert {job.kind for job in jobs} == {"reindex_customer", "index", "purge_index"}  # card, uploads, purge
    assert [(job.kind, job.status, job.attempts) for job in jobs if job.status != "done" or job.attempts != 1] == []
