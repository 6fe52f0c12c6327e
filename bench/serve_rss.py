"""Peak memory of `dossier serve` while a large file is uploaded and downloaded over HTTP.

    .venv/bin/python bench/serve_rss.py [--size-mib 2048] [--quick]

Starts a real `dossier serve --no-worker` in a temporary home, uploads a generated file (never on
disk in plaintext here: the body is generated while it is sent), downloads it and checks its
SHA-256, and reads the server's peak resident memory (VmHWM) from /proc. Target: < 200 MB.
`--quick`: 8 MiB, a smoke run of seconds (the round trip and the memory bound are still checked).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 1024 * 1024
TARGET_MB = 200
QUICK_MIB = 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _pdf_stream(size: int) -> Iterator[bytes]:
    """A 'PDF' of `size` bytes: a real header and object so the type check accepts it, then filler."""
    head = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    yield head
    left = size - len(head) - 6
    block = bytes(range(256)) * (CHUNK // 256)
    while left > 0:
        n = min(left, CHUNK)
        yield block[:n]
        left -= n
    yield b"%%EOF\n"


def _cli(home: Path, *args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "DOSSIER_HOME": str(home)}
    out = subprocess.run([sys.executable, "-m", "web.cli", *args], input=stdin, capture_output=True, text=True,
                         env=env, cwd=ROOT, check=True)
    return out.stdout


def run(size_mib: int = 2048) -> dict[str, Any]:
    size = size_mib * CHUNK
    with tempfile.TemporaryDirectory(prefix="dv-rss-") as tmp:
        home = Path(tmp) / "home"
        _cli(home, "init")
        password = secrets.token_urlsafe(16)
        _cli(home, "user", "add", "bench", "--role", "archivist", "--password-stdin", stdin=password + "\n")
        port = _free_port()
        env = {**os.environ, "DOSSIER_HOME": str(home), "DOSSIER_MAX_UPLOAD_BYTES": str(size + CHUNK),
               "DOSSIER_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen([sys.executable, "-m", "web.cli", "serve", "--no-worker", "--port", str(port)],
                                  env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120  # a loaded machine starts it slowly: wait, but not forever
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"dossier serve did not come up (exit {server.poll()})") from None
                    time.sleep(0.1)
            idle_mb = _peak_rss_mb(server.pid)

            def call(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                conn.request(method, path, body=body, headers=headers or {})
                return conn, conn.getresponse()

            conn, r = call("POST", "/api/v1/auth/token", json.dumps({"username": "bench", "password": password}),
                           {"Content-Type": "application/json"})
            token = json.loads(r.read())["token"]
            conn.close()
            auth = {"Authorization": f"Bearer {token}"}
            conn, r = call("POST", "/api/v1/dossiers",
                           json.dumps({"customer_name": "Bench", "customer_type": "client"}),
                           {**auth, "Content-Type": "application/json"})
            dossier_id = json.loads(r.read())["id"]
            conn.close()

            boundary = "benchboundary" + secrets.token_hex(8)
            pre = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"doc_type\"\r\n\r\nother\r\n"
                   f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\n"
                   "Content-Type: application/pdf\r\n\r\n").encode()
            post = f"\r\n--{boundary}--\r\n".encode()
            sent = hashlib.sha256()

            def body() -> Iterator[bytes]:
                yield pre
                for chunk in _pdf_stream(size):
                    sent.update(chunk)
                    yield chunk
                yield post

            t0 = time.perf_counter()
            conn, r = call("POST", f"/api/v1/dossiers/{dossier_id}/documents", body(),
                           {**auth, "Content-Type": f"multipart/form-data; boundary={boundary}",
                            "Content-Length": str(len(pre) + size + len(post))})
            answer = json.loads(r.read())
            conn.close()
            upload_s = time.perf_counter() - t0
            if r.status != 201:
                raise RuntimeError(f"upload failed: {r.status} {answer}")
            after_upload_mb = _peak_rss_mb(server.pid)

            t0 = time.perf_counter()
            conn, r = call("GET", f"/api/v1/documents/{answer['id']}/content", headers=auth)
            got = hashlib.sha256()
            while block := r.read(CHUNK):
                got.update(block)
            conn.close()
            download_s = time.perf_counter() - t0
            peak_mb = _peak_rss_mb(server.pid)
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:  # a loaded machine can outlast gunicorn's graceful stop
                server.kill()
                server.wait()
    return {"size_mib": size_mib, "idle_rss_mb": idle_mb, "peak_after_upload_mb": after_upload_mb,
            "peak_rss_mb": peak_mb, "upload_mb_s": size / upload_s / 1e6, "download_mb_s": size / download_s / 1e6,
            "roundtrip_ok": got.hexdigest() == sent.hexdigest(), "target_mb": TARGET_MB}


def report(f: dict[str, Any]) -> str:
    verdict = "PASS" if f["peak_rss_mb"] < f["target_mb"] and f["roundtrip_ok"] else "FAIL"
    return "\n".join([
        f"dossier serve, {f['size_mib']} MiB over HTTP (upload then download):",
        f"  upload {f['upload_mb_s']:.0f} MB/s, download {f['download_mb_s']:.0f} MB/s, "
        f"bytes identical: {f['roundtrip_ok']}",
        f"  server RSS: idle {f['idle_rss_mb']:.0f} MB, peak {f['peak_rss_mb']:.0f} MB "
        f"(target < {f['target_mb']} MB) {verdict}",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--quick", action="store_true", help="8 MiB: a smoke run of seconds")
    args = parser.parse_args(argv)
    figures = run(QUICK_MIB if args.quick else args.size_mib)
    print(report(figures))
    return 0 if figures["peak_rss_mb"] < TARGET_MB and figures["roundtrip_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
