"""The production shape on this machine, for benchmarks: PostgreSQL, gunicorn `web.wsgi:app`, one `dossier worker`.

    with ProductionShape(gunicorn_workers=4) as shape:
        token = shape.token("bench-arch")
        status, body = shape.request("GET", "/api/v1/dossiers", token=token)

PostgreSQL is the throwaway cluster of tests/support/postgres.py (fsync off: durability is not what is
measured); ``postgres=False`` keeps the default SQLite database in the home instead. Everything listens on
127.0.0.1 only; everything is stopped and removed on exit.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.postgres import PostgresServer, start_postgres  # noqa: E402

BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
USERS = {"bench-arch": ("archivist", "secret"), "bench-legal": ("legal", "secret"),
         "bench-employee": ("employee", "internal")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100), nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


class ProductionShape:
    """Start PostgreSQL, `dossier init` a temporary home, add the bench users, then serve with gunicorn."""

    def __init__(self, *, gunicorn_workers: int = 4, threads: int = 4, worker: bool = True,
                 serve: bool = True, settings: dict[str, str] | None = None, postgres: bool = True,
                 keep: Path | None = None) -> None:
        self.serve = serve
        # ``keep``: the PostgreSQL cluster and the home (its keyring) live in this directory and stay after exit;
        # a later run with the same directory starts them again (`dossier init` migrates) instead of making them
        self.keep = keep
        self.reused = keep is not None and (keep / "password").exists()
        self.postgres = postgres
        # more settings for every process (`search_engine`: DOSSIER_SEARCH_ENGINE), as environment variables
        self.settings = dict(settings or {})
        self.gunicorn_workers = gunicorn_workers
        self.threads = threads
        self.with_worker = worker
        self.password = (keep / "password").read_text() if keep and self.reused else secrets.token_urlsafe(16)
        self._tmp = tempfile.TemporaryDirectory(prefix="dv-bench-")
        self.home = (keep if keep is not None else Path(self._tmp.name)) / "home"
        self.pg: PostgresServer | None = None
        self.port = free_port()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.env: dict[str, str] = {}
        self._tokens: dict[str, str] = {}

    # -- life cycle --------------------------------------------------------------------------------

    def __enter__(self) -> ProductionShape:
        try:
            if self.postgres:
                self.pg = start_postgres(keep=None if self.keep is None else self.keep / "pg")
                self.database_url = self.pg.url("bench") if self.reused else self.pg.create_database("bench")
            else:
                self.database_url = f"sqlite:///{self.home / 'dossier.db'}"
            self.env = {**os.environ, "DOSSIER_HOME": str(self.home), "DOSSIER_DATABASE_URL": self.database_url,
                        "DOSSIER_LOG_LEVEL": "WARNING", "DOSSIER_WORKER_POLL_INTERVAL_S": "0.5",
                        "PYTHONPATH": str(ROOT),
                        **{f"DOSSIER_{key.upper()}": value for key, value in self.settings.items()}}
            self.cli("init")
            if not self.reused:
                self._add_users()
                if self.keep is not None:
                    (self.keep / "password").write_text(self.password)
            if self.serve:
                self.start_server()
            if self.with_worker:
                self.start_worker()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for name in list(self.procs):
            self.stop(name)
        if self.pg is not None:
            self.pg.stop()
        self._tmp.cleanup()

    def _add_users(self) -> None:
        """The bench users, added in one process (one `dossier user add` each costs seconds of start-up)."""
        from config import load_settings
        from vault.core import Vault
        from vault.services.users import create_user, system_user

        environ = {k: v for k, v in self.env.items() if k.startswith("DOSSIER_")}
        v = Vault.open(load_settings(environ=environ))
        try:
            with v.session() as s:
                actor = system_user(s, v.clock.now())
                for name, (role, clearance) in USERS.items():
                    create_user(v, s, actor, name, role, self.password, clearance=clearance)
        finally:
            v.close()

    def cli(self, *args: str, stdin: str | None = None, timeout: float = 1800) -> str:
        """Run `dossier ARGS` against this home; its standard output."""
        proc = subprocess.run([str(BIN / "dossier"), *args], input=stdin, capture_output=True, text=True,
                              env=self.env, cwd=ROOT, timeout=timeout, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"dossier {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        return proc.stdout

    def start_server(self) -> None:
        log = (self.home / "gunicorn.log").open("wb")
        self.procs["gunicorn"] = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", str(self.gunicorn_workers), "--threads", str(self.threads),
             "--keep-alive", "30", "--timeout", "120", "--bind", f"{HOST}:{self.port}", "web.wsgi:app"],
            env=self.env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 120
        while True:
            try:
                status, _ = self.request("GET", "/api/v1/health")
                if status == 200:
                    return
            except OSError:
                pass
            if self.procs["gunicorn"].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not come up: " + self.log("gunicorn")[-2000:])
            time.sleep(0.2)

    def start_worker(self, name: str = "worker", *prefix: str) -> None:
        """Start a `dossier worker` (another one under another ``name``; ``prefix``: a command to run it under,
        e.g. a profiler)."""
        log = (self.home / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen([*prefix, str(BIN / "dossier"), "worker"], env=self.env, cwd=ROOT,
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def log(self, name: str) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- talking to it -----------------------------------------------------------------------------

    def connection(self, timeout: float = 120) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(HOST, self.port, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None, *, token: str | None = None,
                content_type: str | None = None, conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
        """One request (on `conn` when given, kept open); status and the whole body."""
        own = conn is None
        c = conn or self.connection()
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        try:
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            if own:
                c.close()

    def json(self, method: str, path: str, payload: Any = None, *, token: str | None = None) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        status, data = self.request(method, path, body, token=token,
                                    content_type="application/json" if body else None)
        if status >= 400:
            raise RuntimeError(f"{method} {path}: {status} {data[:500]!r}")
        return json.loads(data)

    def token(self, username: str) -> str:
        if username not in self._tokens:
            self._tokens[username] = self.json("POST", "/api/v1/auth/token",
                                               {"username": username, "password": self.password})["token"]
        return self._tokens[username]

    def scalar(self, sql: str) -> int:
        """One number read from the database directly (PostgreSQL or SQLite)."""
        if self.pg is None:
            import sqlite3

            with sqlite3.connect(self.home / "dossier.db", timeout=30) as lite:
                row = lite.execute(sql).fetchone()
        else:
            import psycopg

            with psycopg.connect(self.pg.dsn("bench")) as conn:
                row = conn.execute(sql.encode()).fetchone()
        return int(row[0]) if row else 0

    def pending_jobs(self) -> int:
        """Jobs queued or running."""
        return self.scalar("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")

    def wait_for_worker(self, timeout_s: float = 1800) -> float:
        """Block until the worker has drained the queue; seconds waited."""
        start = time.monotonic()
        while self.pending_jobs():
            if "worker" in self.procs and self.procs["worker"].poll() is not None:
                raise RuntimeError("the worker exited: " + self.log("worker")[-2000:])
            if time.monotonic() - start > timeout_s:
                raise RuntimeError(f"the worker did not drain the queue in {timeout_s:.0f} s")
            time.sleep(0.5)
        return time.monotonic() - start
