"""Fault tests: things break on purpose mid-upload; afterwards nothing is half-stored and the service recovers.

Real components throughout: a child process killed with os._exit, a real SeaweedFS S3 server behind a
TCP proxy that refuses or resets connections (what a stopped or crashing server looks like to the
client), a real SQLite write lock held by another connection, a real size-limited tmpfs for the blobs.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from config import load_settings
from indexer.periodic import sweep_uploads
from tests.conftest import Api, People
from tests.corpus import SYNTHETIC, manifest
from tests.ops.conftest import run_cli, store_files
from tests.support.seaweed import SeaweedS3
from tests.support.tcp_proxy import TcpProxy
from vault.clock import FixedClock
from vault.core import Vault, ensure_home
from vault.db import make_engine, make_sessionmaker
from vault.models import Document, DocumentVersion, PendingBlob
from vault.storage import make_blob_store

FILE = SYNTHETIC / manifest(SYNTHETIC)["files"][1]["path"]  # a 74 KB PDF
OTHER = SYNTHETIC / manifest(SYNTHETIC)["files"][5]["path"]


def _rows(v: Vault) -> tuple[int, int, int]:
    with v.session() as s:
        return (s.scalar(select(func.count()).select_from(Document)) or 0,
                s.scalar(select(func.count()).select_from(DocumentVersion)) or 0,
                s.scalar(select(func.count()).select_from(PendingBlob)) or 0)


def _app(v: Vault) -> Flask:
    from web import create_app

    app = create_app(vault=v)
    app.config.update(TESTING=True)
    return app


# -- 1. the process dies between blob write and commit -------------------------------------------------

KILLED_UPLOAD = textwrap.dedent("""
    import os, sys
    from config import load_settings
    from vault.core import Vault
    from vault.services import documents
    v = Vault.open(load_settings())
    with open(sys.argv[1], "rb") as fh:
        staged = documents.stage_upload(v, iter(lambda: fh.read(65536), b""), "contract.pdf")
    print(staged.blob_key, flush=True)
    os._exit(1)  # killed after the blob is stored, before commit_upload
""")


def test_a_process_killed_between_blob_write_and_commit_leaves_an_orphan_that_verify_removes(
        vault: Vault, people: People) -> None:
    env = {**os.environ, "DOSSIER_HOME": str(vault.settings.home), "PYTHONPATH": str(Path.cwd())}
    proc = subprocess.run([sys.executable, "-c", KILLED_UPLOAD, str(FILE)], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    blob_key = proc.stdout.strip()
    assert list(vault.blobs.keys()) == [blob_key]
    assert _rows(vault)[:2] == (0, 0)  # nothing half-visible: no document, no version

    young = run_cli(vault, "verify")  # an upload this young may still be in flight: not an orphan yet
    assert young.exit_code == 0, young.output
    found = run_cli(vault, "verify", "--grace-minutes", "0")
    assert found.exit_code == 1 and f"orphan_blob: {blob_key}" in found.output
    swept = run_cli(vault, "verify", "--orphans", "--grace-minutes", "0")
    assert swept.exit_code == 0 and "orphans removed: 1" in swept.output, swept.output
    assert list(vault.blobs.keys()) == [] and _rows(vault) == (0, 0, 0)
    assert run_cli(vault, "verify", "--grace-minutes", "0").exit_code == 0


KILLED_MID_UPLOAD = textwrap.dedent("""
    import sys, time
    from config import load_settings
    from vault.core import Vault
    from vault.services import documents
    v = Vault.open(load_settings())

    def chunks():
        with open(sys.argv[1], "rb") as fh:
            yield fh.read(65536)
        print("mid-upload", flush=True)  # part of the file is in the blob's temp file
        time.sleep(600)  # until killed

    documents.stage_upload(v, chunks(), "contract.pdf")
""")


def _kill_mid_upload(vault: Vault) -> Path:
    """Run an upload in a real process, SIGKILL it halfway; the temp file it leaves."""
    env = {**os.environ, "DOSSIER_HOME": str(vault.settings.home), "PYTHONPATH": str(Path.cwd())}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_MID_UPLOAD, str(FILE)], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "mid-upload"
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    temps = list(vault.settings.blob_path.rglob(".tmp-*"))
    assert len(temps) == 1 and temps[0].stat().st_size > 0
    assert list(vault.blobs.keys()) == [] and _rows(vault) == (0, 0, 1)  # a pending row, nothing else
    return temps[0]


@pytest.mark.parametrize("cleaner", ["worker", "verify --orphans"])
def test_an_upload_killed_with_sigkill_leaves_a_temp_file_and_a_pending_row_that_the_sweep_removes(
        vault: Vault, people: People, clock: FixedClock, cleaner: str) -> None:
    temp = _kill_mid_upload(vault)
    young = run_cli(vault, "verify", "--orphans")  # an upload this young may still be in flight
    assert young.exit_code == 0 and "interrupted uploads cleaned: 0" in young.output, young.output
    assert temp.exists() and _rows(vault) == (0, 0, 1)
    if cleaner == "worker":  # two hours later, for the file and for the database
        later = time.time() - 2 * 3600
        os.utime(temp, (later, later))
        clock.set(datetime.now(UTC) + timedelta(hours=2))
        sweep_uploads(vault)
    else:
        swept = run_cli(vault, "verify", "--orphans", "--grace-minutes", "0")
        assert swept.exit_code == 0 and "interrupted uploads cleaned: 2" in swept.output, swept.output
    assert not temp.exists() and _rows(vault) == (0, 0, 0)
    assert list(vault.settings.blob_path.rglob(".tmp-*")) == []


# -- 2. the object store goes down or drops connections mid-upload --------------------------------------

@pytest.fixture
def s3_vault(s3_server: SeaweedS3, tmp_path: Path) -> Iterator[tuple[Vault, TcpProxy]]:
    host, port = s3_server.endpoint.split(":")
    with TcpProxy((host, int(port))) as proxy:
        settings = load_settings({
            "home": str(tmp_path / "home"), "blob_backend": "s3", "s3_endpoint": proxy.address,
            "s3_access_key": s3_server.access_key, "s3_secret_key": s3_server.secret_key,
            "s3_bucket": f"faults-{secrets.token_hex(4)}", "s3_region": s3_server.region}, environ={})
        ensure_home(settings)
        v = Vault.open(settings, migrate_schema=True)
        try:
            yield v, proxy
        finally:
            v.close()
            with contextlib.suppress(Exception):
                v.blobs.close()  # type: ignore[attr-defined]


def test_an_object_store_that_is_down_or_drops_the_upload_gets_503_and_a_retry_succeeds(
        s3_vault: tuple[Vault, TcpProxy]) -> None:
    v, proxy = s3_vault
    client = _app(v).test_client()
    api = Api(client, People(v))
    archivist = api.people.archivist
    d = api.new_dossier(archivist)
    assert api.upload(archivist, d["id"], OTHER).status_code == 201
    keys_before = sorted(v.blobs.keys())
    rows_before = _rows(v)

    proxy.go_down()  # the server is gone: connections refused
    r = api.upload(archivist, d["id"], FILE)
    assert r.status_code == 503, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "storage_unavailable" and "object store" in error["message"]
    assert _rows(v) == rows_before  # no row, no pending entry left
    assert api.get(archivist, f"/api/v1/dossiers/{d['id']}").status_code == 200  # still serving
    health = client.get("/api/v1/health")
    assert health.status_code == 503 and health.get_json()["storage"] != "ok"

    proxy.come_back()
    proxy.cut_after(20_000)  # up again, but the connection is reset part-way through the body
    r = api.upload(archivist, d["id"], FILE)
    assert r.status_code == 503, r.get_json()
    assert _rows(v) == rows_before

    proxy.cut_after(None)
    assert sorted(v.blobs.keys()) == keys_before  # no partial object from either failure
    r = api.upload(archivist, d["id"], FILE)
    assert r.status_code == 201, r.get_json()
    assert api.get(archivist, f"/api/v1/documents/{r.get_json()['id']}/content").data == FILE.read_bytes()
    assert len(list(v.blobs.keys())) == len(keys_before) + 1


# -- 3. the database is locked for longer than the busy timeout ------------------------------------------

def test_a_locked_database_answers_503_not_500_and_recovers_by_itself(vault: Vault, people: People) -> None:
    # the same vault with a short busy timeout (make_engine's parameter), so the test waits 0.3 s, not 10
    engine = make_engine(vault.settings.db_url, busy_timeout_ms=300)
    v = Vault(settings=vault.settings, engine=engine, session_factory=make_sessionmaker(engine),
              blobs=make_blob_store(vault.settings), keyring=vault.keyring, mailer=vault.mailer, clock=vault.clock)
    try:
        api = Api(_app(v).test_client(), people)
        archivist = people.archivist
        api.token(archivist)
        d = api.new_dossier(archivist)
        blocker = sqlite3.connect(vault.settings.db_url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            r = api.post(archivist, "/api/v1/dossiers", json={"customer_name": "锁", "customer_type": "client"})
            assert r.status_code == 503 and r.get_json()["error"]["code"] == "database_unavailable"
            assert r.headers["Retry-After"]
            assert api.upload(archivist, d["id"], FILE).status_code == 503
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert api.post(archivist, "/api/v1/dossiers",
                        json={"customer_name": "锁", "customer_type": "client"}).status_code == 201
        assert api.upload(archivist, d["id"], FILE).status_code == 201
        assert list(v.blobs.keys()) and len(list(v.blobs.keys())) == 1  # the refused upload stored nothing
    finally:
        engine.dispose()


# -- 4. the blob directory's disk is full -----------------------------------------------------------------

@pytest.fixture
def small_blob_dir(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(f"cannot mount a small tmpfs ({proc.stderr.strip()}): the test suite runs as root here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    if "small_blob_dir" in request.fixturenames:
        return {"blob_dir": str(request.getfixturevalue("small_blob_dir"))}
    return {}


def test_a_full_blob_disk_is_a_clear_507_with_nothing_half_stored(small_blob_dir: Path, vault: Vault,
                                                                    api: Api, people: People) -> None:
    assert vault.settings.blob_path == small_blob_dir
    archivist = people.archivist
    d = api.new_dossier(archivist)
    assert api.upload(archivist, d["id"], OTHER).status_code == 201
    filler = small_blob_dir / "filler"
    with filler.open("wb", buffering=0) as fh, contextlib.suppress(OSError):
        while True:  # fill the disk up to the last block (unbuffered: close has nothing left to write)
            fh.write(b"\0" * 4096)
    rows_before, keys_before = _rows(vault), sorted(vault.blobs.keys())
    r = api.upload(archivist, d["id"], FILE)
    assert r.status_code == 507, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "storage_full" and "no space left" in error["message"]
    assert _rows(vault) == rows_before and sorted(vault.blobs.keys()) == keys_before
    assert not [p for p in small_blob_dir.rglob(".tmp-*")], "a temp file was left behind"
    filler.unlink()
    assert api.upload(archivist, d["id"], FILE).status_code == 201


# -- 5. the worker dies in the middle of an extraction ----------------------------------------------------

SCAN = SYNTHETIC / "C01/01_营业执照副本.png"  # needs OCR: the extraction child runs Tesseract


def _process_table() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, state, start time) of every process on this machine, from /proc."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(stat.parent.name)] = (int(fields[1]), fields[0], int(fields[19]))
    return table


def _descendants(root: int) -> dict[int, int]:
    """pid -> start time of every live process below `root` (its zygote, the job's child, Tesseract)."""
    table = _process_table()
    found: dict[int, int] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, state, started) in table.items():
            if ppid == parent and state != "Z" and pid not in found:
                found[pid] = started
                frontier.append(pid)
    return found


def _still_running(processes: dict[int, int]) -> list[int]:
    table = _process_table()
    return [pid for pid, started in processes.items()
            if pid in table and table[pid][2] == started and table[pid][1] != "Z"]


def test_extraction_processes_die_within_seconds_of_a_worker_killed_with_sigkill(
        vault: Vault, people: People) -> None:
    store_files(vault, people, [SCAN])  # queues its index job
    env = {**os.environ, "DOSSIER_HOME": str(vault.settings.home), "PYTHONPATH": str(Path.cwd()),
           "DOSSIER_EXTRACT_TIMEOUT_S": "600", "DOSSIER_WORKER_EXTRACTIONS": "1"}
    worker = subprocess.Popen([sys.executable, "-m", "web.cli", "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        child = None
        for _ in range(600):  # the zygote is the worker's child; the extraction is the zygote's child
            tree = _descendants(worker.pid)
            table = _process_table()
            child = next((pid for pid in tree if table.get(pid, (0,))[0] in tree), None)
            if child is not None:
                break
            time.sleep(0.05)
        assert child is not None, "the worker never started an extraction"
        # hold the extraction: left alone it would live on until its 600 s time limit
        os.kill(child, signal.SIGSTOP)
        before = _descendants(worker.pid)
        assert len(before) >= 2
        worker.kill()
        worker.wait(10)
        deadline = time.monotonic() + 3
        while _still_running(before) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _still_running(before) == [], "extraction processes outlived their killed worker"
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
