"""Start and stop a real PostgreSQL server (Debian's `postgresql` package) for integration tests.

    server = start_postgres()
    url = server.create_database("t1")      # postgresql+psycopg://postgres@127.0.0.1:<port>/t1
    ...
    server.stop()

The cluster lives in a fresh directory under the system temp dir (not pytest's, which is 0700 and
owned by root: the `postgres` user could not enter it). When the tests run as root, initdb and
pg_ctl run as the `postgres` OS user through `runuser`, since PostgreSQL refuses to run as root;
as any other user they run directly. The server listens on 127.0.0.1 on a port picked free at
start, its unix socket stays inside the cluster directory, and local connections are trusted
(a throwaway cluster that exists only while the tests run). Durability is switched off for speed.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

PG_USER = "postgres"
_NAME_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresStartError(RuntimeError):
    """The server could not be set up or did not come up; the message carries the log tail."""


def pg_bin_dir() -> Path:
    """The directory holding initdb/pg_ctl: $PG_BIN, else the newest /usr/lib/postgresql/*/bin."""
    override = os.environ.get("PG_BIN")
    if override:
        return Path(override)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if found:
        return Path(found[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresStartError(
        "no PostgreSQL server binaries found: run scripts/install-system-deps.sh test (Debian package "
        "`postgresql`) or point PG_BIN at the directory holding initdb and pg_ctl"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to `postgres` when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", PG_USER, "--", *cmd]
    return cmd


def _run(cmd: list[str], what: str, log_path: Path | None = None) -> None:
    proc = subprocess.run(_as_server_user(cmd), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        tail = ""
        if log_path is not None and log_path.exists():
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
        raise PostgresStartError(f"{what} failed with status {proc.returncode}:\n{proc.stdout}\n{proc.stderr}\n{tail}")


@dataclass
class PostgresServer:
    """A running throwaway cluster; `stop()` shuts it down and removes its directory."""

    base_dir: Path
    bin_dir: Path
    port: int
    startup_s: float = 0.0
    keep: bool = False  # stop() leaves the cluster directory in place (a benchmark's database kept between runs)
    _stopped: bool = False

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir / "sock"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "server.log"

    def url(self, dbname: str = "postgres") -> str:
        """A SQLAlchemy URL for the psycopg 3 driver over TCP on 127.0.0.1."""
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{dbname}"

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq connection string (for psycopg or pg_dump)."""
        return f"host=127.0.0.1 port={self.port} user={PG_USER} dbname={dbname}"

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        """Run one statement in autocommit mode (CREATE/DROP DATABASE cannot run in a transaction)."""
        with psycopg.connect(self.dsn(dbname), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.encode())

    def create_database(self, name: str, *, template: str = "template0") -> str:
        """Create an empty database (or a copy of `template`) and return its URL."""
        _check_name(name)
        _check_name(template)
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" ENCODING \'UTF8\'')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, ending any connection a test left open to it."""
        _check_name(name)
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def ready(self) -> bool:
        try:
            with psycopg.connect(self.dsn(), connect_timeout=2) as conn:
                conn.execute(b"SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def stop(self) -> None:
        """Immediate shutdown (a throwaway cluster needs no checkpoint), then remove the cluster directory; a
        kept cluster shuts down cleanly and stays."""
        if self._stopped:
            return
        self._stopped = True
        try:
            if (self.data_dir / "postmaster.pid").exists():
                _run([str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m",
                      "fast" if self.keep else "immediate", "-w", "-t", "60"], "pg_ctl stop")
        finally:
            if not self.keep:
                shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _check_name(name: str) -> None:
    if not _NAME_RE.fullmatch(name):
        raise ValueError(f"not a plain database name: {name!r}")


def _make_base_dir(keep: Path | None = None) -> Path:
    if keep is None:
        base = Path(tempfile.mkdtemp(prefix="dossier-pg-"))
    else:
        base = keep
        base.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        pw = pwd.getpwnam(PG_USER)
        os.chown(base, pw.pw_uid, pw.pw_gid)
    os.chmod(base, 0o700)
    return base


def start_postgres(*, startup_timeout_s: float = 60.0, attempts: int = 2, keep: Path | None = None) -> PostgresServer:
    """initdb a fresh cluster, start it on a free 127.0.0.1 port, return once it accepts connections.
    ``keep``: the cluster lives in that directory and stays there after `stop()`; a cluster already in it is
    started again instead of made (a benchmark's database reused between runs)."""
    bin_dir = pg_bin_dir()
    error: PostgresStartError | None = None
    for _ in range(attempts):
        started = time.monotonic()
        base = _make_base_dir(keep)
        server = PostgresServer(base_dir=base, bin_dir=bin_dir, port=_free_port(), keep=keep is not None)
        try:
            _run_as_server_user_mkdir(server.socket_dir)
            if not (server.data_dir / "PG_VERSION").exists():
                _run([str(bin_dir / "initdb"), "-D", str(server.data_dir), "-U", PG_USER, "--auth=trust",
                      "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"], "initdb")
            options = " ".join([
                f"-p {server.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={server.socket_dir}",
                "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
                "-c max_connections=300", "-c shared_buffers=64MB",
                # two cores: starting parallel workers costs a search more than they save (bench/scale.py)
                "-c max_parallel_workers_per_gather=0",
                "-c log_min_messages=warning", "-c logging_collector=off",
            ])
            _run([str(bin_dir / "pg_ctl"), "start", "-D", str(server.data_dir), "-l", str(server.log_path),
                  "-w", "-t", str(int(startup_timeout_s)), "-o", options], "pg_ctl start", server.log_path)
            deadline = started + startup_timeout_s
            while not server.ready():
                if time.monotonic() > deadline:
                    raise PostgresStartError(f"PostgreSQL on port {server.port} did not accept connections")
                time.sleep(0.05)
        except PostgresStartError as exc:  # e.g. the port was taken between picking and binding
            error = exc
            with contextlib.suppress(PostgresStartError):
                server.stop()
            continue
        except BaseException:
            with contextlib.suppress(PostgresStartError):
                server.stop()
            raise
        server.startup_s = time.monotonic() - started
        return server
    assert error is not None
    raise error


def _run_as_server_user_mkdir(path: Path) -> None:
    path.mkdir(mode=0o700, exist_ok=True)
    if os.geteuid() == 0:
        pw = pwd.getpwnam(PG_USER)
        os.chown(path, pw.pw_uid, pw.pw_gid)
