"""The production shape: gunicorn serves `web.wsgi:app` with several processes; docker-compose.yml is
well-formed. (No Docker engine runs on the development machine: the compose file is parsed, not started.)"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from vault.core import Vault

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_gunicorn_serves_the_wsgi_app_from_several_processes(vault: Vault) -> None:
    port = _free_port()
    env = {**os.environ, "DOSSIER_HOME": str(vault.settings.home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "--workers", "3", "--bind",
                             f"127.0.0.1:{port}", "web.wsgi:app"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        body = b""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=5) as r:
                    body = r.read()
                    break
            except OSError:
                assert proc.poll() is None, "gunicorn exited during start-up"
                time.sleep(0.2)
        assert b'"database":"ok"' in body.replace(b" ", b"")
        workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False)
        assert len(workers.stdout.split()) == 3
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err


def test_docker_compose_has_its_services_pinned_images_health_checks_and_file_secrets() -> None:
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"init", "app", "worker", "proxy", "postgres", "minio"}
    for name in ("postgres", "minio", "proxy"):
        image = services[name]["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name} image tag is not pinned: {image}"
    for name, service in services.items():
        if name != "init":  # a one-shot job: it has finished before anything depends on it
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name in ("postgres", "minio"):
        assert services[name].get("volumes"), f"{name} keeps no data in a volume"
    assert services["init"]["command"] == ["init"]
    assert services["app"]["command"] == ["serve"] and services["worker"]["command"] == ["worker"]
    for name in ("app", "worker"):
        env = services[name]["environment"]
        assert env["DOSSIER_KEYRING_PATH"].startswith("/run/secrets/")
        assert not any("PASSWORD" in k or "SECRET_KEY" == k[-10:] for k in env), "a secret in the environment"
        assert {"keyring", "db_password"} <= set(services[name]["secrets"])
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/")
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "tesseract-ocr-chi-sim" in dockerfile and "FROM python:3.11-slim" in dockerfile
    assert "secrets" not in dockerfile.split("COPY")[-1], "the image must not copy secrets"


def test_docker_compose_runs_two_apps_and_two_workers_on_pg_with_no_shared_volume_behind_one_port() -> None:
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    for name in ("app", "worker"):
        assert services[name]["deploy"]["replicas"] == 2
        assert services[name]["environment"]["DOSSIER_SEARCH_ENGINE"] == "pg"
        assert services[name]["environment"]["DOSSIER_BLOB_BACKEND"] == "s3"
        # anonymous volumes only: one per container, never shared by two
        assert all(":" not in volume for volume in services[name].get("volumes", [])), services[name]["volumes"]
        assert services[name]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    published = [name for name, service in services.items() if service.get("ports")]
    assert published == ["proxy"] and services["proxy"]["ports"] == ["127.0.0.1:8080:8080"]
    nginx = (ROOT / "docker" / "nginx.conf").read_text()
    assert "proxy_pass $app" in nginx and "resolver 127.0.0.11" in nginx
    entrypoint = (ROOT / "docker" / "entrypoint.sh").read_text()
    assert "exec dossier serve --host 0.0.0.0 --port 8080 --no-worker" in entrypoint
