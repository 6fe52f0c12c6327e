"""The `dossier` command line, run as a real process against a fresh home."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from tests.corpus import SYNTHETIC

DOSSIER = [sys.executable, "-m", "web.cli"]


def _run(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    env["DOSSIER_HOME"] = str(home)
    return subprocess.run([*DOSSIER, *args], input=stdin, capture_output=True, text=True, env=env, timeout=600,
                          cwd=Path(__file__).resolve().parents[2])


def test_init_is_idempotent_prints_the_admin_password_once_and_keeps_the_keyring_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = _run(home, "init")
    assert first.returncode == 0, first.stderr
    assert "one-time password" in first.stdout
    assert stat.S_IMODE((home / "keyring.json").stat().st_mode) == 0o600
    second = _run(home, "init")
    assert second.returncode == 0 and "one-time password" not in second.stdout


def test_import_uploads_a_manifest_with_a_progress_bar_and_the_audit_chain_verifies(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _run(home, "init").returncode == 0
    added = _run(home, "user", "add", "li.archivist", "--role", "archivist", "--password-stdin",
                 stdin="a-long-password-1\n")
    assert added.returncode == 0, added.stderr
    corpus = tmp_path / "corpus"
    shutil.copytree(SYNTHETIC / "C01", corpus / "C01")
    manifest = json.loads((SYNTHETIC / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"] = [f for f in manifest["files"] if f["customer_id"] == "C01"]
    (corpus / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    result = _run(home, "import", str(corpus), "--manifest", str(corpus / "manifest.json"))
    assert result.returncode == 0, result.stderr
    assert f"uploaded {len(manifest['files'])}" in result.stdout and "Importing" in result.stderr
    again = _run(home, "import", str(corpus), "--manifest", str(corpus / "manifest.json"))
    assert f"already present {len(manifest['files'])}" in again.stdout
    verified = _run(home, "audit", "verify")
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"] is True
    fixity = _run(home, "verify", "--deep")
    assert fixity.returncode == 0, fixity.stdout + fixity.stderr


def test_a_wrong_setting_stops_the_command_naming_it(tmp_path: Path) -> None:
    env_home = tmp_path / "home"
    env_home.mkdir()
    (env_home / "config.toml").write_text("max_upload_bytes = 'big'\n")
    result = _run(env_home, "init")
    assert result.returncode != 0 and "max_upload_bytes" in result.stderr


def test_user_add_refuses_a_short_password(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _run(home, "init")
    result = _run(home, "user", "add", "bob", "--role", "employee", "--password-stdin", stdin="short\n")
    assert result.returncode != 0 and "at least" in result.stderr


def test_verify_reports_a_tampered_blob_and_exits_non_zero(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _run(home, "init")
    _run(home, "user", "add", "arch", "--role", "archivist", "--password-stdin", stdin="a-long-password-1\n")
    corpus = tmp_path / "c"
    shutil.copytree(SYNTHETIC / "C02", corpus / "C02")
    manifest = json.loads((SYNTHETIC / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"] = [f for f in manifest["files"] if f["customer_id"] == "C02"][:1]
    (corpus / "m.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    assert _run(home, "import", str(corpus), "--manifest", str(corpus / "m.json")).returncode == 0
    blob = next(p for p in (home / "blobs").rglob("*") if p.is_file() and not p.name.startswith("."))
    data = bytearray(blob.read_bytes())
    data[-5] ^= 0xFF
    blob.write_bytes(bytes(data))
    result = _run(home, "verify")
    assert result.returncode == 1 and "fixity_mismatch" in result.stdout
